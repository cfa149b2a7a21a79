//! The current user: read, patch, delete (GDPR), export.
use super::export::UserExport;
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::UserAuth;
use crate::api::views::UserView;
use crate::api::ApiTags;
use crate::domain::user::{ProfilePatch, UserService};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::collections::BTreeMap;

pub struct UserProfileApi {
    pub users: UserService,
}

/// The current user and their preferences.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ProfileView {
    #[oai(flatten)]
    user: UserView,
    /// Opt-outs by name (`true`: the user opted out): `email` and `sms` from registration
    /// (marketing mail and SMS), and any name the flock's apps use.
    opt_outs: BTreeMap<String, bool>,
}

impl ProfileView {
    fn new(user: crate::domain::user::User, public: crate::domain::user::PublicData) -> Self {
        // Stored as written by `validate_opt_outs`: names mapped to booleans.
        let opt_outs = serde_json::from_value(user.opt_outs.clone()).unwrap_or_default();
        Self {
            user: UserView::with_public(user, public),
            opt_outs,
        }
    }
}

/// Profile fields to change; absent fields keep their value, an empty string clears a name
/// or the locale. Status, role, flock, email and verified flags cannot be changed here.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ProfilePatchRequest {
    #[oai(validator(max_length = 200))]
    first_name: Option<String>,
    #[oai(validator(max_length = 200))]
    last_name: Option<String>,
    #[oai(validator(max_length = 35))]
    locale: Option<String>,
    /// Replaces the opt-outs, e.g. `{"newsletter": true}`.
    opt_outs: Option<BTreeMap<String, bool>>,
}

#[OpenApi(tag = "ApiTags::User")]
impl UserProfileApi {
    /// The signed-in user: profile, status, verified flags and opt-outs.
    #[oai(
        path = "/api/v1/:flock/user",
        method = "get",
        operation_id = "get_current_user"
    )]
    async fn me(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<ProfileView>> {
        let c = auth.0;
        let (user, public) = self.users.profile(&flock, c.user).await?;
        Ok(Json(ProfileView::new(user, public)))
    }

    /// Update the signed-in user's names, locale and opt-outs.
    #[oai(
        path = "/api/v1/:flock/user",
        method = "patch",
        operation_id = "update_current_user"
    )]
    async fn patch(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<ProfilePatchRequest>,
    ) -> ApiResult<Json<ProfileView>> {
        let c = auth.0;
        let b = body.0;
        let (user, public) = self
            .users
            .patch_profile(
                &flock,
                c.user,
                ProfilePatch {
                    first_name: b.first_name,
                    last_name: b.last_name,
                    locale: b.locale,
                    opt_outs: b.opt_outs,
                },
            )
            .await?;
        Ok(Json(ProfileView::new(user, public)))
    }

    /// Delete the signed-in user's account (GDPR erasure): personal data is anonymised and
    /// every session and token ends. A protected account (a manager) answers 403.
    #[oai(
        path = "/api/v1/:flock/user",
        method = "delete",
        operation_id = "delete_current_user"
    )]
    async fn delete(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<super::Ack>> {
        let c = auth.0;
        self.users.delete_self(&flock, c.user).await?;
        Ok(super::Ack::ok())
    }

    /// Everything Fold holds about the signed-in user, as JSON (GDPR access/portability).
    #[oai(
        path = "/api/v1/:flock/user/export",
        method = "get",
        operation_id = "export_current_user"
    )]
    async fn export(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<UserExport>> {
        let c = auth.0;
        let archive = self.users.export(&flock, c.user).await?;
        let typed = serde_json::from_value(archive).map_err(|e| {
            tracing::error!(error = %e, "the export does not match its schema");
            crate::api::error::ApiError::internal()
        })?;
        Ok(Json(typed))
    }
}
