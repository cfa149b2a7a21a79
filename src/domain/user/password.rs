//! Password reset (by mail), change (signed in), and set after a one-time code. Each
//! ends every other session.
use super::activation::Mailed;
use super::{Contact, Email, User, UserError, UserService, UserStatus};
use crate::db::user::tokens::TokenEffect;
use crate::domain::flocks::Flock;
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
        let Some(user) = self.find(flock.id, &Contact::Email(email.clone())).await? else {
            return Ok(());
        };
        if matches!(user.status, UserStatus::Inactive | UserStatus::Deleted) {
            return Ok(());
        }
        // Voids older reset tokens of the user in the same transaction.
        self.mail_token(flock, Mailed::Reset, &user, email.as_str())
            .await
    }

    /// Sets a new password with a reset token; every session of the user ends. The mail
    /// proved the address, so an account waiting for activation (or unclaimed) moves on.
    pub async fn reset_password(
        &self,
        flock: &Flock,
        raw: &str,
        password: SecretString,
    ) -> Result<(), UserError> {
        let (row, user) = self.token_user(flock, raw, &["reset", "claim"]).await?;
        check_policy(
            password.expose_secret(),
            flock.settings.password_min_length,
            &personal(&user),
        )
        .map_err(UserError::Invalid)?;
        let hash = self.hasher.hash(password).await?;
        let effect = TokenEffect::SetPassword {
            hash,
            status: user
                .status
                .after_proof(flock)
                .map(|s| s.as_str().to_owned()),
        };
        self.redeem(flock, &row, effect).await?;
        self.sessions.end_all(flock.id, user.id, None).await?;
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
        let db = self.scoped(flock.id);
        let row = db.user(id).await?.ok_or(UserError::NotFound)?;
        let stored = row.password_hash.clone();
        let user = User::from_row(flock.id, row);
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
        db.user_change_password(id, &hash, "change", self.clock.now())
            .await?;
        Ok(self.sessions.end_all(flock.id, id, Some(keep)).await?)
    }

    /// Sets a new password after a one-time code sent to `contact` proved the account's
    /// owner (the policy was checked before the code was spent): the identifier is
    /// verified and every session ends.
    pub async fn set_password_after_code(
        &self,
        flock: &Flock,
        user: &User,
        contact: &Contact,
        password: SecretString,
    ) -> Result<(), UserError> {
        let hash = self.hasher.hash(password).await?;
        let now = self.clock.now();
        self.scoped(flock.id)
            .user_change_password(user.id, &hash, "code", now)
            .await?;
        self.mark_verified(flock.id, user.id, contact).await?;
        self.sessions.end_all(flock.id, user.id, None).await?;
        Ok(())
    }
}
