//! The identities a user holds at providers: the user's own (list, link, unlink) and the
//! back office's view of a user's.
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::{BackOfficeAuth, UserAuth};
use crate::api::ApiTags;
use crate::domain::federation::{FederationService, IdTokenInput, Identity, StartInput};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

pub struct IdentitiesApi {
    pub federation: FederationService,
}

pub struct IdentitiesBackOfficeApi {
    pub federation: FederationService,
}

/// An identity at a provider.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct IdentityView {
    id: Uuid,
    /// The provider's name in this flock.
    provider: String,
    /// The user's id at the provider (`sub`).
    subject: String,
    /// The email the provider gave last time.
    email: Option<String>,
    /// Whether the provider asserted that email.
    email_verified: bool,
    created_at: DateTime<Utc>,
    /// When it last signed in (recorded at most hourly, or when the email changes).
    last_used_at: DateTime<Utc>,
}

impl From<Identity> for IdentityView {
    fn from(i: Identity) -> Self {
        Self {
            id: i.id,
            provider: i.provider,
            subject: i.subject,
            email: i.email,
            email_verified: i.email_verified,
            created_at: i.created_at,
            last_used_at: i.last_used_at,
        }
    }
}

#[derive(Object)]
struct IdentityList {
    items: Vec<IdentityView>,
}

fn list(items: Vec<Identity>) -> Json<IdentityList> {
    Json(IdentityList {
        items: items.into_iter().map(Into::into).collect(),
    })
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct LinkIdTokenRequest {
    #[oai(validator(min_length = 1, max_length = 16384))]
    id_token: String,
    /// The raw nonce (see `federated_id_token`).
    #[oai(validator(min_length = 1, max_length = 512))]
    nonce: Option<String>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct LinkStartRequest {
    /// Where the browser returns after the provider (allow-listed by the flock), with
    /// `?code=` to confirm, or `?error=`.
    #[oai(validator(min_length = 1, max_length = 2048))]
    redirect_uri: String,
    /// The portal's own state, returned unchanged.
    #[oai(validator(min_length = 1, max_length = 512))]
    state: Option<String>,
    /// PKCE for the confirmation: base64url(SHA-256(verifier)).
    #[oai(validator(min_length = 43, max_length = 128))]
    code_challenge: Option<String>,
    #[oai(validator(min_length = 1, max_length = 320))]
    login_hint: Option<String>,
}

/// Where to send the browser.
#[derive(Object)]
struct LinkStart {
    /// The provider's authorization URL.
    url: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct LinkConfirmRequest {
    /// The code the browser brought back to the redirect URI.
    #[oai(validator(min_length = 1, max_length = 256))]
    code: String,
    #[oai(validator(min_length = 43, max_length = 128))]
    code_verifier: Option<String>,
}

#[derive(ApiResponse)]
enum Linked {
    /// Linked (or already linked to this user).
    #[oai(status = 200)]
    Ok(Json<IdentityView>),
}

#[derive(ApiResponse)]
enum Unlinked {
    /// Unlinked.
    #[oai(status = 204)]
    Done,
}

#[OpenApi(tag = "ApiTags::Federation")]
impl IdentitiesApi {
    /// The signed-in user's identities at providers.
    #[oai(
        path = "/api/v1/:flock/user/identities",
        method = "get",
        operation_id = "list_identities"
    )]
    async fn list(&self, flock: tenant::Path, auth: UserAuth) -> ApiResult<Json<IdentityList>> {
        Ok(list(
            self.federation.identities(flock.id, auth.0.user).await?,
        ))
    }

    /// Unlink one of the user's identities. Refused (409 `last_sign_in_method`) when it is
    /// the account's only way in (no password, no other identity, no verified email or
    /// phone).
    #[oai(
        path = "/api/v1/:flock/user/identities/:identity_id",
        method = "delete",
        operation_id = "unlink_identity"
    )]
    async fn unlink(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        identity_id: Path<Uuid>,
    ) -> ApiResult<Unlinked> {
        self.federation
            .unlink(flock.id, auth.0.user, identity_id.0)
            .await?;
        Ok(Unlinked::Done)
    }

    /// Link a provider's ID token (from a native SDK) to the signed-in user. An identity
    /// that belongs to another account is 409 `identity_already_linked`.
    #[oai(
        path = "/api/v1/:flock/user/identities/:provider/id-token",
        method = "post",
        operation_id = "link_identity_id_token"
    )]
    async fn link_id_token(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        /// The provider's name in this flock.
        provider: Path<String>,
        body: Json<LinkIdTokenRequest>,
    ) -> ApiResult<Linked> {
        let b = body.0;
        let input = IdTokenInput {
            id_token: b.id_token,
            nonce: b.nonce,
            ..IdTokenInput::default()
        };
        let i = self
            .federation
            .link_id_token(&flock, auth.0.user, &provider.0, input)
            .await?;
        Ok(Linked::Ok(Json(i.into())))
    }

    /// Start linking a provider through the web code flow: the URL to send the browser
    /// to. It returns to `redirect_uri` with `?code=`, which this same user confirms with
    /// `link_identity_confirm`.
    #[oai(
        path = "/api/v1/:flock/user/identities/:provider/start",
        method = "post",
        operation_id = "link_identity_start"
    )]
    async fn link_start(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        provider: Path<String>,
        body: Json<LinkStartRequest>,
    ) -> ApiResult<Json<LinkStart>> {
        let b = body.0;
        let input = StartInput {
            redirect_uri: b.redirect_uri,
            state: b.state,
            code_challenge: b.code_challenge,
            login_hint: b.login_hint,
        };
        let started = self
            .federation
            .start(&flock, &provider.0, input, Some(auth.0.user))
            .await?;
        Ok(Json(LinkStart { url: started.url }))
    }

    /// Confirm a link with the code the browser brought back: only the user who started
    /// it may (403 `link_user_mismatch` otherwise).
    #[oai(
        path = "/api/v1/:flock/user/identities/confirm",
        method = "post",
        operation_id = "link_identity_confirm"
    )]
    async fn confirm(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<LinkConfirmRequest>,
    ) -> ApiResult<Linked> {
        let b = body.0;
        let i = self
            .federation
            .confirm_link(&flock, auth.0.user, &b.code, b.code_verifier.as_deref())
            .await?;
        Ok(Linked::Ok(Json(i.into())))
    }
}

#[OpenApi(tag = "ApiTags::Federation")]
impl IdentitiesBackOfficeApi {
    /// A user's identities (scope `users_identities_list`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/identities",
        method = "get",
        operation_id = "users_identities_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<IdentityList>> {
        auth.allow("users_identities_list")?;
        let u = UserId(user_id.0);
        Ok(list(self.federation.identities_of_user(flock.id, u).await?))
    }

    /// Unlink one of a user's identities (scope `users_identities_delete`), under the
    /// same rule as the user's own unlink.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/identities/:identity_id",
        method = "delete",
        operation_id = "users_identities_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        user_id: Path<Uuid>,
        identity_id: Path<Uuid>,
    ) -> ApiResult<Unlinked> {
        auth.allow("users_identities_delete")?;
        self.federation
            .unlink(flock.id, UserId(user_id.0), identity_id.0)
            .await?;
        Ok(Unlinked::Done)
    }
}
