//! What the back office (`domain::directory`) needs from the owner of accounts, beyond
//! creating them and changing their status: a password hashed by the flock's policy, a
//! claim link, sessions ended when the role or access changed.
use super::activation::Mailed;
use super::{User, UserError, UserService, UserStatus};
use crate::domain::flocks::Flock;
use crate::domain::password::check_policy;
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::{ExposeSecret, SecretString};

impl UserService {
    /// The hash of a password set for `user` by the back office, after the flock's
    /// policy (length, blocklist, not the account's own email, phone or names).
    pub async fn hash_for(
        &self,
        flock: &Flock,
        personal: &[&str],
        password: SecretString,
    ) -> Result<String, UserError> {
        check_policy(
            password.expose_secret(),
            flock.settings.password_min_length,
            personal,
        )
        .map_err(UserError::Invalid)?;
        Ok(self.hasher.hash(password).await?)
    }

    /// Mails the owner of an unclaimed account a link to choose a password (and so claim
    /// it). Only an unclaimed account with an email that is not marked invalid gets one.
    pub async fn send_claim_link(&self, flock: &Flock, user: &User) -> Result<(), UserError> {
        if user.status != UserStatus::Unclaimed {
            return Err(UserError::Forbidden(
                "not_unclaimed",
                format!(
                    "only an unclaimed account can be claimed (this one is {})",
                    user.status.as_str()
                ),
            ));
        }
        let to = match (&user.email, user.email_invalid_at) {
            (Some(e), None) => e.clone(),
            _ => {
                return Err(UserError::Invalid(Invalid::new(
                    "no_valid_email",
                    "email",
                    "the account has no email that mail can go to",
                )))
            }
        };
        self.mail_token(flock, Mailed::Claim, user, &to).await
    }

    /// Ends every session of the user (its role or access changed: sessions carry them).
    pub async fn end_sessions(&self, flock: &Flock, id: UserId) -> Result<usize, UserError> {
        Ok(self.sessions.end_all(flock.id, id, None).await?)
    }
}
