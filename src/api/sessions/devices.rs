//! Device tokens (issue, pair with the current session, sign out the device) and
//! autologin tokens (issue for oneself or from the back office, redeem).
use super::{invalid, Revoked};
use crate::api::client_ip::ClientIp;
use crate::api::error::{ApiError, ApiResult};
use crate::api::frame::Tenant;
use crate::api::security::{ServerAuth, UserAuth};
use crate::api::views::{meta, SessionView};
use crate::api::ApiTags;
use crate::app::AppState;
use crate::domain::sessions::session_id;
use crate::domain::user::UserStatus;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path};
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
    pub state: AppState,
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
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        body: Json<DeviceRequest>,
    ) -> ApiResult<Json<DeviceTokenView>> {
        let (token, rec) = self
            .state
            .session_service
            .devices
            .issue(tenant.0.id, &body.0.device_id)
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
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
        body: Json<DeviceTokenRequest>,
    ) -> ApiResult<Paired> {
        let c = auth.0;
        let ok = self
            .state
            .session_service
            .devices
            .pair(c.flock.id, &body.0.device_token, c.claims.session)
            .await?;
        if !ok {
            return Err(ApiError::bad_request(
                "invalid_device_token",
                "invalid or expired device token",
                Some("device_token"),
            ));
        }
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
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        body: Json<DeviceTokenRequest>,
    ) -> ApiResult<Json<Revoked>> {
        let n = self
            .state
            .session_service
            .devices
            .sign_out(tenant.0.id, &body.0.device_token)
            .await?
            .ok_or_else(|| invalid("invalid_device_token", "device token"))?;
        Ok(Json(Revoked {
            revoked: u32::try_from(n).unwrap_or(u32::MAX),
        }))
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
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<AutologinTokenView>> {
        let c = auth.0;
        let (token, expires_at) = self
            .state
            .session_service
            .autologin
            .issue(c.flock.id, c.claims.user, "user")
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
        #[oai(name = "flock")]
        _flock: Path<String>,
        body: Json<AutologinForUser>,
    ) -> ApiResult<Json<AutologinTokenView>> {
        let caller = auth.0.allow("create_autologin_token")?;
        let user = self
            .state
            .users
            .get(caller.flock, UserId(body.0.user_id))
            .await?;
        if user.status != UserStatus::Active {
            return Err(ApiError::forbidden(
                "account_not_active",
                "this account is not active",
            ));
        }
        let (token, expires_at) = self
            .state
            .session_service
            .autologin
            .issue(caller.flock, user.id, "back_office")
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
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        ip: ClientIp,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        user_agent: Header<Option<String>>,
        body: Json<AutologinRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let flock = tenant.0;
        let b = body.0;
        let svc = &self.state.session_service;
        if svc.devices.get(flock.id, &b.device_token).await?.is_none() {
            return Err(invalid("invalid_device_token", "device token"));
        }
        let user_id = svc
            .autologin
            .redeem(flock.id, &b.autologin_token)
            .await?
            .ok_or_else(|| invalid("invalid_autologin_token", "autologin token"))?;
        let user = self.state.users.get(flock.id, user_id).await?;
        if user.status != UserStatus::Active {
            return Err(invalid("invalid_autologin_token", "autologin token"));
        }
        let now = self.state.clock.unix();
        let source = b.source.or_else(|| Some("autologin".into()));
        let grant = svc
            .open(&flock, user_id, &user.role, meta(ip, source, user_agent.0))
            .await?;
        let sid = session_id(&grant.session)?;
        svc.devices.pair(flock.id, &b.device_token, sid).await?;
        svc.attach_visitor(flock.id, b.visitor_token.as_deref(), user_id)
            .await?;
        Ok(Json(SessionView::new(grant, user, now)))
    }
}
