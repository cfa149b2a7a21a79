//! Opening a session and renewing it with a refresh token: the mechanics only. Both are
//! `pub(in crate::domain)`: `domain::signin` decides who gets a session and with which
//! role (the account rules), then calls these.
use super::{Session, SessionError, SessionGrant, SessionMeta, SessionService};
use crate::domain::flocks::Flock;
use crate::domain::user::Role;
use crate::ids::UserId;

impl SessionService {
    /// Opens a session with `role` and hands out its access and refresh tokens.
    pub(in crate::domain) async fn open(
        &self,
        flock: &Flock,
        user: UserId,
        role: Role,
        meta: SessionMeta,
    ) -> Result<SessionGrant, SessionError> {
        let s = &flock.settings;
        let mut refresh_token = String::new();
        let session = self
            .store
            .create(
                flock.id,
                user,
                role,
                s.session_idle_ttl_secs,
                s.session_absolute_ttl_secs,
                meta,
                |session| {
                    let (token, step) = self.refresh.first(flock.id, session)?;
                    refresh_token = token;
                    Ok(vec![step])
                },
            )
            .await?;
        self.credentials(flock, session, refresh_token).await
    }

    /// Exchanges a refresh token for a new access token and the next refresh token of the
    /// chain (see `refresh`). The account is not checked here: the caller does.
    pub(in crate::domain) async fn rotate(
        &self,
        flock: &Flock,
        refresh_token: &str,
    ) -> Result<SessionGrant, SessionError> {
        let (session, refresh_token) = self
            .refresh
            .rotate(flock.id, refresh_token, flock.settings.refresh_grace_secs)
            .await?;
        self.credentials(flock, session, refresh_token).await
    }

    async fn credentials(
        &self,
        flock: &Flock,
        session: Session,
        refresh_token: String,
    ) -> Result<SessionGrant, SessionError> {
        let (access_token, access_issued_at, access_expires_at) = self
            .access
            .issue(flock, session.user, session.id, session.role)
            .await?;
        Ok(SessionGrant {
            session,
            access_token,
            access_issued_at,
            access_expires_at,
            refresh_token,
        })
    }
}
