//! The back office's user directory under `/api/v1/{flock}/directory/users…` (flock API
//! key; each operation is its own scope, all named `users_*`): create, get, update,
//! status, confirm, the email's validity, role and access, claim links. Search, lookup,
//! list by ids and count are in `search`; the wire types in `views`.
mod search;
pub mod views;

pub use search::DirectorySearchApi;

use super::error::ApiResult;
use super::frame::tenant;
use super::security::BackOfficeAuth;
use super::ApiTags;
use crate::domain::directory::{AccessChange, CreateUser, DirectoryService, UserPatch};
use crate::ids::UserId;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use secrecy::SecretString;
use std::collections::BTreeMap;
use uuid::Uuid;
use views::{DirectoryUser, KindWire, RoleWire, StatusWire};

pub struct DirectoryApi {
    pub directory: DirectoryService,
}

/// A user or contact to create.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct CreateUserRequest {
    /// Email (normalised to lowercase; unique in the flock).
    #[oai(validator(max_length = 320))]
    email: Option<String>,
    /// Phone in E.164 (unique in the flock).
    #[oai(validator(max_length = 32))]
    phone: Option<String>,
    /// A password (the flock's policy applies). Or `generate_password`, or none: the
    /// user signs in with one-time codes or sets one through a reset or claim link.
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    password: Option<String>,
    /// Generate a strong password and mail it to the user (needs an email).
    generate_password: Option<bool>,
    /// Send the first mail (default true): the activation link when the status is
    /// `activation_required`, a claim link when `unclaimed`, a welcome otherwise.
    send_email: Option<bool>,
    #[oai(validator(max_length = 200))]
    first_name: Option<String>,
    #[oai(validator(max_length = 200))]
    last_name: Option<String>,
    #[oai(validator(max_length = 35))]
    locale: Option<String>,
    /// Opt-outs by name, e.g. `{"newsletter": true}`.
    opt_outs: Option<BTreeMap<String, bool>>,
    /// A label grouping users that came the same way.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
    /// Where the user came from (a URL).
    #[oai(validator(max_length = 2048))]
    referer: Option<String>,
    /// Visible to the back office only; may span lines.
    #[oai(validator(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$"
    ))]
    note: Option<String>,
    /// The user's id in your systems (at most 36 characters, unique in the flock).
    #[oai(validator(max_length = 36))]
    external_id: Option<String>,
    /// Unique in the flock; letters, digits, `.`, `_`, `-`.
    #[oai(validator(max_length = 100))]
    username: Option<String>,
    /// The company (for a business contact: its name, required).
    #[oai(validator(max_length = 200))]
    company: Option<String>,
    /// An http(s) URL of the user's picture.
    #[oai(validator(max_length = 2048))]
    picture_url: Option<String>,
    /// `active` (default), `inactive`, `pending_approval`, `activation_required`, or
    /// `unclaimed` (a contact without credentials: it may have no email or phone yet).
    status: Option<StatusWire>,
    /// `client` (default) or `manager`.
    role: Option<RoleWire>,
    /// May use the back office (default false).
    bo_access: Option<bool>,
    /// May use the apps (default true); without it the account gets no session (403
    /// `app_access_denied`).
    api_access: Option<bool>,
    /// `person` (default) or `business`.
    kind: Option<KindWire>,
    #[oai(validator(max_length = 64))]
    registration_number: Option<String>,
    #[oai(validator(max_length = 64))]
    vat_number: Option<String>,
    /// For a person: the business contact it belongs to.
    business_id: Option<Uuid>,
    /// Profile field values by name (typed as the flock's schema says), all or nothing.
    fields: Option<BTreeMap<String, serde_json::Value>>,
}

/// Fields to change: an absent field keeps its value, `null` clears it. A new password
/// ends every session of the user.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct UpdateUserRequest {
    #[oai(validator(max_length = 320))]
    email: MaybeUndefined<String>,
    #[oai(validator(max_length = 32))]
    phone: MaybeUndefined<String>,
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    password: Option<String>,
    #[oai(validator(max_length = 200))]
    first_name: MaybeUndefined<String>,
    #[oai(validator(max_length = 200))]
    last_name: MaybeUndefined<String>,
    #[oai(validator(max_length = 35))]
    locale: MaybeUndefined<String>,
    /// Replaces the opt-outs.
    opt_outs: Option<BTreeMap<String, bool>>,
    #[oai(validator(max_length = 100))]
    source: MaybeUndefined<String>,
    #[oai(validator(max_length = 2048))]
    referer: MaybeUndefined<String>,
    #[oai(validator(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$"
    ))]
    note: MaybeUndefined<String>,
    #[oai(validator(max_length = 36))]
    external_id: MaybeUndefined<String>,
    #[oai(validator(max_length = 100))]
    username: MaybeUndefined<String>,
    #[oai(validator(max_length = 200))]
    company: MaybeUndefined<String>,
    #[oai(validator(max_length = 2048))]
    picture_url: MaybeUndefined<String>,
    kind: Option<KindWire>,
    #[oai(validator(max_length = 64))]
    registration_number: MaybeUndefined<String>,
    #[oai(validator(max_length = 64))]
    vat_number: MaybeUndefined<String>,
    business_id: MaybeUndefined<Uuid>,
    /// Profile field values to set by name (null clears one), all or nothing.
    fields: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct StatusRequest {
    /// The new status; the transition table decides (e.g. `pending_approval` → `active`
    /// approves, `active` → `inactive` deactivates and ends every session, `deleted`
    /// anonymises).
    status: StatusWire,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AccessRequest {
    /// A new role ends every session of the user (sessions carry the role).
    role: Option<RoleWire>,
    /// May use the back office.
    bo_access: Option<bool>,
    /// May use the apps: turned off, every session of the user ends and sign-ins answer
    /// 403 `app_access_denied`.
    api_access: Option<bool>,
}

#[derive(ApiResponse)]
enum Created {
    /// Created.
    #[oai(status = 201)]
    Created(Json<DirectoryUser>),
}

#[derive(ApiResponse)]
enum Sent {
    /// The claim mail is queued.
    #[oai(status = 202)]
    Accepted,
}

fn clearable(m: MaybeUndefined<String>) -> Option<Option<String>> {
    m.into()
}

#[OpenApi(tag = "ApiTags::Directory")]
impl DirectoryApi {
    /// Create a user or a contact (scope `users_create`). Unique fields (email, phone,
    /// username, external id) answer 409 `{field}_taken` when another account holds them.
    #[oai(
        path = "/api/v1/:flock/directory/users",
        method = "post",
        operation_id = "users_create"
    )]
    async fn create(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<CreateUserRequest>,
    ) -> ApiResult<Created> {
        auth.allow("users_create")?;
        let b = body.0;
        let c = CreateUser {
            email: b.email,
            phone: b.phone,
            password: b.password.map(SecretString::from),
            generate_password: b.generate_password.unwrap_or(false),
            send_email: b.send_email,
            first_name: b.first_name,
            last_name: b.last_name,
            locale: b.locale,
            opt_outs: b.opt_outs,
            source: b.source,
            referer: b.referer,
            note: b.note,
            external_id: b.external_id,
            username: b.username,
            company: b.company,
            picture_url: b.picture_url,
            status: b.status.map(Into::into),
            role: b.role.map(Into::into),
            bo_access: b.bo_access,
            api_access: b.api_access,
            kind: b.kind.map(Into::into),
            registration_number: b.registration_number,
            vat_number: b.vat_number,
            business_id: b.business_id.map(UserId),
            fields: b.fields.unwrap_or_default(),
        };
        let user = self.directory.create(&flock, c).await?;
        Ok(Created::Created(Json(user.into())))
    }

    /// A user by id (scope `users_get`); anonymised users show what is left of them.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id",
        method = "get",
        operation_id = "users_get"
    )]
    async fn get(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_get")?;
        let user = self.directory.get(&flock, UserId(user_id.0)).await?;
        Ok(Json(user.into()))
    }

    /// Change a user's fields (scope `users_update`): PATCH semantics, unknown fields
    /// refused; status, role, access and email validity have their own operations.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id",
        method = "patch",
        operation_id = "users_update"
    )]
    async fn update(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<UpdateUserRequest>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_update")?;
        let b = body.0;
        let p = UserPatch {
            email: clearable(b.email),
            phone: clearable(b.phone),
            password: b.password.map(SecretString::from),
            first_name: clearable(b.first_name),
            last_name: clearable(b.last_name),
            locale: clearable(b.locale),
            opt_outs: b.opt_outs,
            source: clearable(b.source),
            referer: clearable(b.referer),
            note: clearable(b.note),
            external_id: clearable(b.external_id),
            username: clearable(b.username),
            company: clearable(b.company),
            picture_url: clearable(b.picture_url),
            kind: b.kind.map(Into::into),
            registration_number: clearable(b.registration_number),
            vat_number: clearable(b.vat_number),
            business_id: Option::<Option<Uuid>>::from(b.business_id).map(|b| b.map(UserId)),
            fields: b.fields,
        };
        let user = self.directory.update(&flock, UserId(user_id.0), p).await?;
        Ok(Json(user.into()))
    }

    /// Move a user along the status transition table (scope `users_set_status`); an
    /// edge the table lacks answers 403 `status_transition_not_allowed`.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/status",
        method = "post",
        operation_id = "users_set_status"
    )]
    async fn set_status(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<StatusRequest>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_set_status")?;
        let id = UserId(user_id.0);
        let user = self
            .directory
            .set_status(&flock, id, body.0.status.into())
            .await?;
        Ok(Json(user.into()))
    }

    /// Confirm a user (scope `users_confirm`): sets `confirmed_at` once.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/confirm",
        method = "post",
        operation_id = "users_confirm"
    )]
    async fn confirm(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_confirm")?;
        let user = self.directory.confirm(&flock, UserId(user_id.0)).await?;
        Ok(Json(user.into()))
    }

    /// Mark the user's email validated (scope `users_set_email_validated`): verified, and
    /// mail to it flows again.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/email-validated",
        method = "post",
        operation_id = "users_set_email_validated"
    )]
    async fn email_validated(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_set_email_validated")?;
        let id = UserId(user_id.0);
        let user = self.directory.set_email_valid(&flock, id, true).await?;
        Ok(Json(user.into()))
    }

    /// Mark the user's email invalidated (scope `users_set_email_invalidated`): no mail
    /// goes to it any more (activation, reset, notices, claim links).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/email-invalidated",
        method = "post",
        operation_id = "users_set_email_invalidated"
    )]
    async fn email_invalidated(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_set_email_invalidated")?;
        let id = UserId(user_id.0);
        let user = self.directory.set_email_valid(&flock, id, false).await?;
        Ok(Json(user.into()))
    }

    /// Set the role and the access flags (scope `users_set_access`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/access",
        method = "post",
        operation_id = "users_set_access"
    )]
    async fn set_access(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<AccessRequest>,
    ) -> ApiResult<Json<DirectoryUser>> {
        auth.allow("users_set_access")?;
        let b = body.0;
        let a = AccessChange {
            role: b.role.map(Into::into),
            bo_access: b.bo_access,
            api_access: b.api_access,
        };
        let user = self
            .directory
            .set_access(&flock, UserId(user_id.0), a)
            .await?;
        Ok(Json(user.into()))
    }

    /// Mail an unclaimed user's owner a link to choose a password and claim the account
    /// (scope `users_send_claim_link`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/claim-link",
        method = "post",
        operation_id = "users_send_claim_link"
    )]
    async fn claim_link(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Sent> {
        auth.allow("users_send_claim_link")?;
        self.directory
            .send_claim_link(&flock, UserId(user_id.0))
            .await?;
        Ok(Sent::Accepted)
    }
}
