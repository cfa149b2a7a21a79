//! Device tokens (issue, pair, sign out a device), autologin tokens (issue, redeem) and
//! visitor tokens (issue, check, mark, attach). Issuing an autologin token and redeeming
//! one are `pub(in crate::domain)`: `domain::signin` checks the account first.
use super::{Credential, DeviceRecord, SessionError, SessionService, Visitor};
use crate::domain::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
use chrono::{DateTime, Utc};

use super::autologin::Issuer;

impl SessionService {
    /// A device token for a device id (grants nothing until a session is paired).
    pub async fn issue_device_token(
        &self,
        flock: FlockId,
        device_id: &str,
    ) -> Result<(String, DeviceRecord), InfraError> {
        self.devices.issue(flock, device_id).await
    }

    /// Whether a device token is live (checked before a sign-in opens anything).
    pub(in crate::domain) async fn device_is_live(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<bool, InfraError> {
        Ok(self.devices.get(flock, token).await?.is_some())
    }

    /// Pairs a session with a device; false when the device token is not live.
    pub(in crate::domain) async fn try_pair(
        &self,
        flock: FlockId,
        token: &str,
        sid: SessionId,
    ) -> Result<bool, InfraError> {
        self.devices.pair(flock, token, sid).await
    }

    /// Pairs a session with a device: signing out with the device token ends it.
    pub async fn pair_device(
        &self,
        flock: FlockId,
        token: &str,
        sid: SessionId,
    ) -> Result<(), SessionError> {
        if self.devices.pair(flock, token, sid).await? {
            Ok(())
        } else {
            Err(SessionError::UnknownDevice)
        }
    }

    /// Ends every session paired with the device; how many.
    pub async fn device_sign_out(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<usize, SessionError> {
        self.devices
            .sign_out(flock, token)
            .await?
            .ok_or(SessionError::InvalidCredential(Credential::Device))
    }

    pub(in crate::domain) async fn issue_autologin(
        &self,
        flock: FlockId,
        user: UserId,
        by: Issuer,
    ) -> Result<(String, DateTime<Utc>), InfraError> {
        self.autologin.issue(flock, user, by).await
    }

    /// Consumes an autologin token: its user, once.
    pub(in crate::domain) async fn redeem_autologin(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<UserId, SessionError> {
        self.autologin
            .redeem(flock, token)
            .await?
            .ok_or(SessionError::InvalidCredential(Credential::Autologin))
    }

    /// A visitor token for an anonymous visitor.
    pub async fn issue_visitor(&self, flock: FlockId) -> Result<(String, Visitor), InfraError> {
        self.visitors.issue(flock).await
    }

    pub async fn check_visitor(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Visitor, SessionError> {
        let v = self.visitors.check(flock, token).await?;
        v.ok_or(SessionError::InvalidCredential(Credential::Visitor))
    }

    pub async fn mark_visitor_active(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Visitor, SessionError> {
        let v = self.visitors.mark_active(flock, token).await?;
        v.ok_or(SessionError::InvalidCredential(Credential::Visitor))
    }

    pub async fn mark_visitor_online(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Visitor, SessionError> {
        let v = self.visitors.mark_online(flock, token).await?;
        v.ok_or(SessionError::InvalidCredential(Credential::Visitor))
    }

    /// Attaches an anonymous visitor to the user who just signed in. An unknown or
    /// expired visitor token is ignored (it must never block a sign-in).
    pub(in crate::domain) async fn attach_visitor(
        &self,
        flock: FlockId,
        visitor_token: Option<&str>,
        user: UserId,
    ) -> Result<(), InfraError> {
        if let Some(t) = visitor_token.filter(|t| !t.is_empty()) {
            self.visitors.attach(flock, t, user).await?;
        }
        Ok(())
    }
}
