//! Renewing a session with a refresh token, and autologin tokens: issued for an account
//! that may sign in, redeemed (with a device token) for a new session.
use super::{SignInError, SignInOptions, SignInService, SignedIn};
use crate::domain::flocks::Flock;
use crate::domain::sessions::{Credential, Issuer, SessionError};
use crate::domain::user::{Admission, UserError};
use crate::ids::UserId;
use chrono::{DateTime, Utc};

impl SignInService {
    /// A refresh token for the next access token. The account must still be allowed the
    /// session's role; when it is not, the session ends and the answer is the same as
    /// for an unknown token.
    pub async fn refresh(
        &self,
        flock: &Flock,
        refresh_token: &str,
        visitor_token: Option<&str>,
    ) -> Result<SignedIn, SignInError> {
        let grant = self.sessions.rotate(flock, refresh_token).await?;
        let s = &grant.session;
        // Read as stored now: a renewal re-decides the session, so it must not lag.
        let user = match self.users.get_fresh(flock.id, s.user).await {
            Ok(u) if u.session_role(Admission::Renewal(s.role)).is_ok() => u,
            Ok(_) | Err(UserError::NotFound) => {
                self.sessions.end(flock.id, s.user, s.id).await?;
                return Err(SessionError::InvalidRefreshToken.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.sessions
            .attach_visitor(flock.id, visitor_token, user.id)
            .await?;
        let public = self.users.public_data(flock, user.id).await?;
        Ok(SignedIn {
            user,
            grant,
            created: false,
            public,
        })
    }

    /// An autologin token (single use, two minutes) for an account that may sign in.
    pub async fn issue_autologin(
        &self,
        flock: &Flock,
        user: UserId,
        by: Issuer,
    ) -> Result<(String, DateTime<Utc>), SignInError> {
        let user = self.users.get_fresh(flock.id, user).await?;
        if let Err(refused) = user.session_role(Admission::SignIn) {
            return Err(UserError::from(refused).into());
        }
        Ok(self.sessions.issue_autologin(flock.id, user.id, by).await?)
    }

    /// An autologin token and a device token for a new session paired with the device.
    /// The autologin token is consumed whatever the outcome; every refusal answers alike.
    pub async fn autologin(
        &self,
        flock: &Flock,
        autologin_token: &str,
        mut opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        let device = SessionError::InvalidCredential(Credential::Device);
        let Some(device_token) = opts.device_token.clone() else {
            return Err(device.into());
        };
        self.check_device(flock, Some(&device_token), device)
            .await?;
        let invalid = || SessionError::InvalidCredential(Credential::Autologin).into();
        let user_id = self
            .sessions
            .redeem_autologin(flock.id, autologin_token)
            .await?;
        let user = match self.users.get_fresh(flock.id, user_id).await {
            Ok(u) => u,
            Err(UserError::NotFound) => return Err(invalid()),
            Err(e) => return Err(e.into()),
        };
        opts.meta.source.get_or_insert_with(|| "autologin".into());
        match self
            .grant(flock, user, Admission::SignIn, opts, |_| invalid())
            .await
        {
            // Here the device token is a credential, not a field: the same 401 as above.
            Err(SignInError::Session(SessionError::UnknownDevice)) => {
                Err(SessionError::InvalidCredential(Credential::Device).into())
            }
            r => r,
        }
    }
}
