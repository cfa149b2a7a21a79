//! Password reset (by mail) and change (signed in). Both end every other session.
use super::activation::{new_token, RESET_TTL_HOURS};
use super::{Email, User, UserError, UserService, UserStatus};
use crate::db::user::tokens::TokenEffect;
use crate::domain::flocks::Flock;
use crate::domain::mail::{MailInput, MailKind};
use crate::domain::password::check_policy;
use crate::ids::{SessionId, UserId};
use secrecy::{ExposeSecret, SecretString};

fn personal(user: &User) -> Vec<&str> {
    [
        user.email.as_deref(),
        user.phone.as_deref(),
        user.first_name.as_deref(),
        user.last_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

impl UserService {
    /// Queues a reset mail when the account exists and may reset; the answer never says.
    pub async fn request_reset(&self, flock: &Flock, email: &str) -> Result<(), UserError> {
        let start = tokio::time::Instant::now();
        let r = self.request_reset_inner(flock, email).await;
        self.pad(flock, start).await;
        r
    }

    async fn request_reset_inner(&self, flock: &Flock, email: &str) -> Result<(), UserError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(row) = self.db.user_by_email(flock.id, email.as_str()).await? else {
            return Ok(());
        };
        let user = User::from(row);
        if matches!(user.status, UserStatus::Inactive | UserStatus::Deleted) {
            return Ok(());
        }
        let now = self.clock.now();
        let t = new_token(flock, user.id, "reset", RESET_TTL_HOURS, now);
        let mail = self.mail.compose(
            flock,
            MailKind::Reset,
            MailInput {
                to: email.as_str(),
                user: Some(user.id),
                first_name: user.first_name.as_deref(),
                link: Some(("reset-password", &t.token)),
                ttl_hours: RESET_TTL_HOURS,
            },
            now,
        )?;
        // Voids older reset tokens of the user in the same transaction.
        self.db.token_issue_with_mail(t.row, mail).await?;
        Ok(())
    }

    /// Sets a new password with a reset token; every session of the user ends. The mail
    /// proved the address, so an account waiting for activation (or unclaimed) moves on.
    pub async fn reset_password(
        &self,
        flock: &Flock,
        raw: &str,
        password: SecretString,
    ) -> Result<(), UserError> {
        let row = self.check_token(flock, raw, "reset").await?;
        let user = self
            .get(flock.id, UserId(row.user_id))
            .await
            .map_err(|e| match e {
                UserError::NotFound => UserError::InvalidToken,
                e => e,
            })?;
        check_policy(
            password.expose_secret(),
            flock.settings.password_min_length,
            &personal(&user),
        )
        .map_err(UserError::Invalid)?;
        let hash = self.hasher.hash(password).await?;
        let ok = self
            .db
            .token_redeem(
                flock.id,
                row.id,
                user.id,
                TokenEffect::SetPassword {
                    hash,
                    status: user
                        .status
                        .after_proof(flock)
                        .map(|s| s.as_str().to_owned()),
                },
                self.clock.now(),
            )
            .await?;
        if !ok {
            return Err(UserError::InvalidToken);
        }
        self.sessions
            .store
            .revoke_all(flock.id, user.id, None)
            .await?;
        // The owner proved the mailbox: sign-in delays from guessing end now.
        self.clear_throttle(flock, &user).await?;
        Ok(())
    }

    /// Changes the password of a signed-in user who knows the current one; every other
    /// session ends and outstanding reset/activation tokens become void.
    pub async fn change_password(
        &self,
        flock: &Flock,
        id: UserId,
        keep: SessionId,
        current: SecretString,
        new: SecretString,
    ) -> Result<usize, UserError> {
        let row = self
            .db
            .user_by_id(flock.id, id)
            .await?
            .ok_or(UserError::NotFound)?;
        let stored = row.password_hash.clone();
        let user = User::from(row);
        check_policy(
            new.expose_secret(),
            flock.settings.password_min_length,
            &personal(&user),
        )
        .map_err(UserError::Invalid)?;
        let verified = self.hasher.verify(current, stored).await?;
        if !verified.ok {
            return Err(UserError::InvalidCredentials);
        }
        let hash = self.hasher.hash(new).await?;
        self.db
            .user_change_password(flock.id, id, &hash, self.clock.now())
            .await?;
        Ok(self
            .sessions
            .store
            .revoke_all(flock.id, id, Some(keep))
            .await?)
    }
}
