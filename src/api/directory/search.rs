//! Finding users from the back office: search with filters and cursor pages, lookup by a
//! unique field, list by ids, a capped count.
use super::views::{DirectoryUser, KindWire, RoleWire, StatusWire, UserPage};
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::BackOfficeAuth;
use crate::api::ApiTags;
use crate::domain::directory::{ByIds, DirectoryService, LookupBy, Search, SortBy};
use crate::domain::Invalid;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

pub struct DirectorySearchApi {
    pub directory: DirectoryService,
}

/// How a search is ordered.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum SortWire {
    /// Oldest first (default).
    Created,
    /// Newest first.
    CreatedDesc,
    /// By name ("first last", or the company of a business), then id.
    Name,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ByIdsRequest {
    /// 1 to 1,000 user ids; unknown ids and anonymised users are left out.
    #[oai(validator(min_items = 1, max_items = 1000))]
    ids: Vec<Uuid>,
    /// Include `inactive` users (default false).
    include_deactivated: Option<bool>,
    /// Page size, 1 to 1,000 (default 1,000).
    limit: Option<u64>,
    /// `next` of the previous page (same ids and flag).
    #[oai(validator(max_length = 4096))]
    cursor: Option<String>,
}

/// How many users match, counted up to a cap.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CountView {
    count: u64,
    /// True when the count stopped at the cap (there may be more).
    capped: bool,
}

/// Counting stops here: a count is for dashboards, not for paging.
const COUNT_CAP: u64 = 10_000;

#[allow(clippy::too_many_arguments)]
fn search(
    email: Option<String>,
    email_prefix: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
    username: Option<String>,
    name_prefix: Option<String>,
    status: Vec<StatusWire>,
    role: Option<RoleWire>,
    kind: Option<KindWire>,
    business_id: Option<Uuid>,
    group_id: Option<Uuid>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
    meta_key: Option<String>,
    meta_value: Option<String>,
    field: Option<String>,
    field_value: Option<String>,
) -> Search {
    Search {
        email,
        email_prefix,
        phone,
        external_id,
        username,
        name_prefix,
        statuses: status.into_iter().map(Into::into).collect(),
        role: role.map(Into::into),
        kind: kind.map(Into::into),
        business_id: business_id.map(UserId),
        group_id,
        created_from,
        created_to,
        meta_key,
        meta_value,
        field,
        field_value,
        ..Search::default()
    }
}

#[OpenApi(tag = "ApiTags::Directory")]
impl DirectorySearchApi {
    /// Search users (scope `users_search`): every filter narrows; pages follow a cursor
    /// (`next`), 50 rows by default and at most 1,000. Anonymised users appear only when
    /// `status=deleted` is asked for.
    #[oai(
        path = "/api/v1/:flock/directory/users",
        method = "get",
        operation_id = "users_search"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// Exact email.
        #[oai(validator(max_length = 320))]
        email: Query<Option<String>>,
        /// Emails starting with this (case-insensitive).
        #[oai(validator(max_length = 254))]
        email_prefix: Query<Option<String>>,
        /// Exact phone (E.164).
        #[oai(validator(max_length = 32))]
        phone: Query<Option<String>>,
        #[oai(validator(max_length = 36))] external_id: Query<Option<String>>,
        #[oai(validator(max_length = 100))] username: Query<Option<String>>,
        /// Names ("first last", or a business's company) starting with this
        /// (case-insensitive).
        #[oai(validator(max_length = 401))]
        name_prefix: Query<Option<String>>,
        /// Statuses to include (repeat the parameter); default every one but `deleted`.
        status: Query<Vec<StatusWire>>,
        role: Query<Option<RoleWire>>,
        kind: Query<Option<KindWire>>,
        /// Persons of this business contact.
        business_id: Query<Option<Uuid>>,
        /// Members of this group.
        group_id: Query<Option<Uuid>>,
        /// Created at or after.
        created_from: Query<Option<DateTime<Utc>>>,
        /// Created before.
        created_to: Query<Option<DateTime<Utc>>>,
        /// Users holding this meta key…
        #[oai(validator(max_length = 64))]
        meta_key: Query<Option<String>>,
        /// …with this value.
        #[oai(validator(max_length = 1024))]
        meta_value: Query<Option<String>>,
        /// Users whose profile field (one marked searchable) holds…
        #[oai(validator(max_length = 64))]
        field: Query<Option<String>>,
        /// …exactly this value (numbers, dates, booleans, emails and phones are compared
        /// as the field normalises them).
        #[oai(validator(max_length = 255))]
        field_value: Query<Option<String>>,
        /// `created` (default), `created_desc` or `name`.
        sort: Query<Option<SortWire>>,
        /// Page size, 1 to 1,000 (default 50).
        limit: Query<Option<u64>>,
        /// `next` of the previous page (with the same filters and sort).
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<UserPage>> {
        auth.allow("users_search")?;
        let mut s = search(
            email.0,
            email_prefix.0,
            phone.0,
            external_id.0,
            username.0,
            name_prefix.0,
            status.0,
            role.0,
            kind.0,
            business_id.0,
            group_id.0,
            created_from.0,
            created_to.0,
            meta_key.0,
            meta_value.0,
            field.0,
            field_value.0,
        );
        s.sort = match sort.0 {
            None | Some(SortWire::Created) => SortBy::Created,
            Some(SortWire::CreatedDesc) => SortBy::CreatedDesc,
            Some(SortWire::Name) => SortBy::Name,
        };
        s.limit = limit.0;
        s.cursor = cursor.0;
        Ok(Json(self.directory.search(&flock, s).await?.into()))
    }

    /// How many users match the filters (scope `users_count`; the filters of
    /// `users_search`), counted up to 10,000.
    #[oai(
        path = "/api/v1/:flock/directory/users/count",
        method = "get",
        operation_id = "users_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn count(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// Exact email.
        #[oai(validator(max_length = 320))]
        email: Query<Option<String>>,
        /// Emails starting with this (case-insensitive).
        #[oai(validator(max_length = 254))]
        email_prefix: Query<Option<String>>,
        /// Exact phone (E.164).
        #[oai(validator(max_length = 32))]
        phone: Query<Option<String>>,
        #[oai(validator(max_length = 36))] external_id: Query<Option<String>>,
        #[oai(validator(max_length = 100))] username: Query<Option<String>>,
        /// Names starting with this (case-insensitive).
        #[oai(validator(max_length = 401))]
        name_prefix: Query<Option<String>>,
        /// Statuses to include (repeat the parameter); default every one but `deleted`.
        status: Query<Vec<StatusWire>>,
        role: Query<Option<RoleWire>>,
        kind: Query<Option<KindWire>>,
        /// Persons of this business contact.
        business_id: Query<Option<Uuid>>,
        /// Members of this group.
        group_id: Query<Option<Uuid>>,
        /// Created at or after.
        created_from: Query<Option<DateTime<Utc>>>,
        /// Created before.
        created_to: Query<Option<DateTime<Utc>>>,
        /// Users holding this meta key…
        #[oai(validator(max_length = 64))]
        meta_key: Query<Option<String>>,
        /// …with this value.
        #[oai(validator(max_length = 1024))]
        meta_value: Query<Option<String>>,
        /// Users whose profile field (one marked searchable) holds…
        #[oai(validator(max_length = 64))]
        field: Query<Option<String>>,
        /// …exactly this value (numbers, dates, booleans, emails and phones are compared
        /// as the field normalises them).
        #[oai(validator(max_length = 255))]
        field_value: Query<Option<String>>,
    ) -> ApiResult<Json<CountView>> {
        auth.allow("users_count")?;
        let s = search(
            email.0,
            email_prefix.0,
            phone.0,
            external_id.0,
            username.0,
            name_prefix.0,
            status.0,
            role.0,
            kind.0,
            business_id.0,
            group_id.0,
            created_from.0,
            created_to.0,
            meta_key.0,
            meta_value.0,
            field.0,
            field_value.0,
        );
        let (count, capped) = self.directory.count(&flock, s, COUNT_CAP).await?;
        Ok(Json(CountView { count, capped }))
    }

    /// A user by a unique field (scope `users_lookup`): give exactly one of `email`,
    /// `phone`, `username`, `external_id`.
    #[oai(
        path = "/api/v1/:flock/directory/users/lookup",
        method = "get",
        operation_id = "users_lookup"
    )]
    async fn lookup(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        #[oai(validator(max_length = 320))] email: Query<Option<String>>,
        #[oai(validator(max_length = 32))] phone: Query<Option<String>>,
        #[oai(validator(max_length = 100))] username: Query<Option<String>>,
        #[oai(validator(max_length = 36))] external_id: Query<Option<String>>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_lookup")?;
        let by = match (email.0, phone.0, username.0, external_id.0) {
            (Some(e), None, None, None) => LookupBy::Email(e),
            (None, Some(p), None, None) => LookupBy::Phone(p),
            (None, None, Some(u), None) => LookupBy::Username(u),
            (None, None, None, Some(x)) => LookupBy::ExternalId(x),
            _ => {
                return Err(Invalid::new(
                    "one_lookup_field",
                    "email",
                    "give exactly one of email, phone, username, external_id",
                )
                .into())
            }
        };
        Ok(Json(self.directory.lookup(&flock, by).await?.into()))
    }

    /// Users by id (scope `users_list_by_ids`): up to 1,000 ids, by id, a page at a time;
    /// anonymised users never, deactivated ones when asked.
    #[oai(
        path = "/api/v1/:flock/directory/users/by-ids",
        method = "post",
        operation_id = "users_list_by_ids"
    )]
    async fn by_ids(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<ByIdsRequest>,
    ) -> ApiResult<Json<UserPage>> {
        auth.allow("users_list_by_ids")?;
        let b = body.0;
        let q = ByIds {
            ids: b.ids.into_iter().map(UserId).collect(),
            include_deactivated: b.include_deactivated.unwrap_or(false),
            limit: b.limit,
            cursor: b.cursor,
        };
        Ok(Json(self.directory.by_ids(&flock, q).await?.into()))
    }
}
