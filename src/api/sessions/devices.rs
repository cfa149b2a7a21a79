//! Device tokens (issue, pair with the current session, sign out the device) and
//! autologin tokens (issue for oneself or from the back office, redeem).
use super::{revoked, Revoked};
use crate::api::client_ip::Client;
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::{ServerAuth, UserAuth};
use crate::api::views::SessionView;
use crate::api::ApiTags;
use crate::domain::sessions::{Issuer, SessionService};
use crate::domain::signin::{SignInOptions, SignInService};
use crate::ids::UserId;
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct DeviceRequest {
    /// A stable id of the device (app install id, hardware id…).
    #[oai(validator(min_length = 1, max_length = 200))]
    device_id: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeviceTokenView {
    /// Opaque device token (`fold_dt_…`); keep it on the device.
    device_token: String,
    device_id: String,
    expires_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct DeviceTokenRequest {
    #[oai(validator(max_length = 256))]
    device_token: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AutologinForUser {
    /// The user the token signs in.
    user_id: uuid::Uuid,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AutologinTokenView {
    /// Single-use token (`fold_al_…`), redeemable once before `expires_at`.
    autologin_token: String,
    expires_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AutologinRequest {
    #[oai(validator(max_length = 256))]
    autologin_token: String,
    /// The device the new session is opened on; the session is paired with it.
    #[oai(validator(max_length = 256))]
    device_token: String,
    /// A visitor token to attach to the user.
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
}

#[derive(ApiResponse)]
enum Paired {
    /// The current session is paired with the device.
    #[oai(status = 204)]
    Paired,
}

pub struct DevicesApi {
    pub sessions: SessionService,
    pub signin: SignInService,
    pub clock: Clock,
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl DevicesApi {
    /// Get a device token for a device id (no credentials needed: a device token
    /// grants nothing until a session is paired with it).
    #[oai(
        path = "/api/v1/:flock/device-tokens",
        method = "post",
        operation_id = "create_device_token"
    )]
    async fn create_device_token(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<DeviceRequest>,
    ) -> ApiResult<Json<DeviceTokenView>> {
        let (token, rec) = self
            .sessions
            .issue_device_token(flock.id, &body.0.device_id)
            .await?;
        Ok(Json(DeviceTokenView {
            device_token: token,
            device_id: rec.device_id,
            expires_at: rec.expires_at,
        }))
    }

    /// Pair the current session with a device: signing out with the device token
    /// will end it.
    #[oai(
        path = "/api/v1/:flock/user/device",
        method = "post",
        operation_id = "pair_device"
    )]
    async fn pair_device(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<DeviceTokenRequest>,
    ) -> ApiResult<Paired> {
        let c = auth.0;
        self.sessions
            .pair_device(flock.id, &body.0.device_token, c.session)
            .await?;
        Ok(Paired::Paired)
    }

    /// Sign out with a device token: end every session paired with the device.
    #[oai(
        path = "/api/v1/:flock/device-tokens/sign-out",
        method = "post",
        operation_id = "device_sign_out"
    )]
    async fn device_sign_out(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<DeviceTokenRequest>,
    ) -> ApiResult<Json<Revoked>> {
        let n = self
            .sessions
            .device_sign_out(flock.id, &body.0.device_token)
            .await?;
        Ok(revoked(n))
    }

    /// An autologin token for the signed-in user (single use, two minutes), e.g. to
    /// hand the session over to another app on the same device.
    #[oai(
        path = "/api/v1/:flock/user/autologin-tokens",
        method = "post",
        operation_id = "create_my_autologin_token"
    )]
    async fn create_my_autologin_token(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<AutologinTokenView>> {
        let c = auth.0;
        let (token, expires_at) = self
            .signin
            .issue_autologin(&flock, c.user, Issuer::User)
            .await?;
        Ok(Json(AutologinTokenView {
            autologin_token: token,
            expires_at,
        }))
    }

    /// An autologin token for a user of the flock, from the back office (API key with
    /// scope `create_autologin_token`).
    #[oai(
        path = "/api/v1/:flock/autologin-tokens",
        method = "post",
        operation_id = "create_autologin_token"
    )]
    async fn create_autologin_token(
        &self,
        auth: ServerAuth,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<AutologinForUser>,
    ) -> ApiResult<Json<AutologinTokenView>> {
        auth.0.allow("create_autologin_token")?;
        let user = UserId(body.0.user_id);
        let (token, expires_at) = self
            .signin
            .issue_autologin(&flock, user, Issuer::BackOffice)
            .await?;
        Ok(Json(AutologinTokenView {
            autologin_token: token,
            expires_at,
        }))
    }

    /// Exchange an autologin token and a device token for a new session (paired with
    /// the device). The autologin token is consumed whatever the outcome.
    #[oai(
        path = "/api/v1/:flock/token/autologin",
        method = "post",
        operation_id = "redeem_autologin_token"
    )]
    async fn redeem_autologin_token(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        client: Client,
        body: Json<AutologinRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let opts = SignInOptions {
            meta: client.meta(b.source),
            device_token: Some(b.device_token),
            visitor_token: b.visitor_token,
            provider: None,
            method: None,
        };
        let s = self
            .signin
            .autologin(&flock, &b.autologin_token, opts)
            .await?;
        Ok(Json(SessionView::new(s)))
    }
}
