//! Sign-in: the one owner of every way a session is granted or renewed. Each path proves
//! who the caller is (with the area that knows: a password or an activation link with
//! `user`, a one-time code with `otp`, an autologin or refresh token with `sessions`),
//! then [`SignInService::grant`] applies the account rules once — the status and role
//! ([`User::session_role`](super::user::User::session_role)), limited sessions, device
//! pairing, visitor attachment — and opens the session.
//!
//! By file (each an `impl SignInService`): here the service, its error and `grant`;
//! `flows` — password, one-time code, activation, preregistration, a provider's verified
//! identity (`federated`); `renew` — refresh, autologin (issue and redeem).
mod flows;
mod renew;

pub use flows::CodeProfile;

use super::flocks::Flock;
use super::otp::{OtpError, OtpService};
use super::sessions::{SessionError, SessionGrant, SessionMeta, SessionService};
use super::user::{Admission, NotAdmitted, Role, User, UserError, UserService};
use super::InfraError;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl SignInError {
    /// The reason a refused sign-in is recorded with in the audit log, or `None` for what
    /// is not a refusal of the credentials (a malformed request, a limit, a busy hash
    /// pool, a dependency down: those are answered, counted in `/metrics` and not
    /// written, so a flood cannot turn each rejected request into a database write).
    pub fn audit_reason(&self) -> Option<&'static str> {
        match self {
            SignInError::User(e) => match e {
                UserError::InvalidCredentials => Some("invalid_credentials"),
                UserError::NotActive(_) => Some("account_not_active"),
                UserError::NoAppAccess => Some("no_app_access"),
                UserError::InvalidToken => Some("invalid_token"),
                UserError::Forbidden(code, _) => Some(code),
                UserError::RegistrationClosed => Some("registration_closed"),
                _ => None,
            },
            SignInError::Otp(e) => match e {
                OtpError::InvalidCode => Some("invalid_code"),
                OtpError::NotActive => Some("account_not_active"),
                OtpError::UnknownAccount => Some("unknown_account"),
                OtpError::RegistrationClosed => Some("registration_closed"),
                _ => None,
            },
            SignInError::Session(e) => match e {
                SessionError::UnknownDevice => Some("unknown_device"),
                SessionError::InvalidCredential(_) => Some("invalid_token"),
                _ => None,
            },
        }
    }
}

impl From<InfraError> for SignInError {
    fn from(e: InfraError) -> Self {
        SignInError::Session(SessionError::Infra(e))
    }
}

/// What a sign-in brings besides the proof: where it comes from, and the device and
/// visitor tokens to tie to the new session.
#[derive(Debug, Clone, Default)]
pub struct SignInOptions {
    pub meta: SessionMeta,
    /// A device token: the session is paired with it (a bad one refuses the sign-in
    /// before anything is opened).
    pub device_token: Option<String>,
    /// An anonymous visitor's token: the visitor is attached to the user.
    pub visitor_token: Option<String>,
    /// The provider that proved who the user is (federated sign-in), if any: the flock's
    /// secured admin login lets managers in only through `federation.manager_provider`.
    pub provider: Option<String>,
    /// How the user proved who they are (`password`, `otp`, `federated`, …), for the
    /// `user.signed_in` event.
    pub method: Option<&'static str>,
}

/// A signed-in user and the session opened (or renewed) for them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub grant: SessionGrant,
    /// True when this sign-in created the account (one-time-code sign-up).
    pub created: bool,
    /// The user's public meta and profile values.
    pub public: crate::domain::user::PublicData,
}

/// The outcome of an activation.
pub enum Activated {
    /// The account may sign in; here is its session.
    SignedIn(Box<SignedIn>),
    /// The email is confirmed; the account waits for approval (or kept its status).
    Confirmed(Box<User>),
}

#[derive(Clone)]
pub struct SignInService {
    users: UserService,
    otp: OtpService,
    sessions: SessionService,
}

impl SignInService {
    pub fn new(users: UserService, otp: OtpService, sessions: SessionService) -> Self {
        Self {
            users,
            otp,
            sessions,
        }
    }

    /// Refuses a device token that is not live, before anything is checked or opened.
    async fn check_device(
        &self,
        flock: &Flock,
        token: Option<&str>,
        refusal: SessionError,
    ) -> Result<(), SignInError> {
        match token {
            Some(t) if !self.sessions.device_is_live(flock.id, t).await? => Err(refusal.into()),
            _ => Ok(()),
        }
    }

    /// Writes a refused sign-in to the audit log when `e` is a refusal of the
    /// credentials (see [`SignInError::audit_reason`]); `user` finds whose account it was.
    async fn record_failure<F, Fut>(&self, flock: &Flock, e: &SignInError, method: &str, user: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<crate::ids::UserId>>,
    {
        if let Some(reason) = e.audit_reason() {
            let user = user().await;
            self.users
                .record_sign_in_failure(flock, user, method, reason)
                .await;
        }
    }

    /// The one place a session is granted: the account rules decide whether and with
    /// which role; then the session opens, is paired with the device and gets the
    /// visitor. A refusal becomes `refused(…)`: each path says as much as it may.
    async fn grant(
        &self,
        flock: &Flock,
        user: User,
        why: Admission,
        opts: SignInOptions,
        refused: impl FnOnce(NotAdmitted) -> SignInError,
    ) -> Result<SignedIn, SignInError> {
        let role = user.session_role(why).map_err(refused)?;
        if let (Some(required), Role::Manager, Admission::SignIn) =
            (&flock.settings.federation.manager_provider, role, why)
        {
            if opts.provider.as_deref() != Some(required.as_str()) {
                return Err(UserError::Forbidden(
                    "federated_login_required",
                    format!("managers of this flock sign in through {required}"),
                )
                .into());
            }
        }
        let grant = self.sessions.open(flock, user.id, role, opts.meta).await?;
        if let Some(device) = &opts.device_token {
            // Checked live before anything was opened; should it have expired since, the
            // new session ends again: a bad device token opens nothing.
            let sid = grant.session.id;
            if !self.sessions.try_pair(flock.id, device, sid).await? {
                self.sessions.end(flock.id, user.id, sid).await?;
                return Err(SessionError::UnknownDevice.into());
            }
        }
        self.sessions
            .attach_visitor(flock.id, opts.visitor_token.as_deref(), user.id)
            .await?;
        let method = opts.method.unwrap_or("sign_in");
        self.users
            .record_sign_in(
                flock,
                user.id,
                grant.session.id.0,
                method,
                opts.provider.as_deref(),
            )
            .await;
        let public = self.users.public_data(flock, user.id).await?;
        Ok(SignedIn {
            user,
            grant,
            created: false,
            public,
        })
    }
}
