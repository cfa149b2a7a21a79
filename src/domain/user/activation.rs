//! One-time secrets and activation. A secret is `{id}.{secret}`: the id finds the row, the
//! 256-bit CSPRNG secret is compared in constant time against its stored SHA-256 digest.
//! Rows are single use (consumed atomically with the change they authorise), expire on the
//! injected clock, and a newer secret of the same purpose voids the older ones.
use super::{User, UserError, UserService, UserStatus};
use crate::db::mail::NewMail;
use crate::db::user::tokens::{NewToken as NewTokenRow, TokenEffect, TokenRow};
use crate::domain::flocks::Flock;
use crate::domain::mail::{MailInput, MailKind};
use crate::ids::UserId;
use crate::infra::secret;
use chrono::{DateTime, Duration, Utc};

pub const ACTIVATION_TTL_HOURS: i64 = 72;
pub const RESET_TTL_HOURS: i64 = 1;

/// What a mailed one-time secret is for: its purpose, the page its link opens, its life.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mailed {
    Activation,
    Reset,
    /// A link for the owner of an unclaimed account to choose a password (and claim it).
    Claim,
}

impl Mailed {
    fn parts(self) -> (&'static str, MailKind, &'static str, i64) {
        match self {
            Mailed::Activation => (
                "activation",
                MailKind::Activation,
                "activate",
                ACTIVATION_TTL_HOURS,
            ),
            Mailed::Reset => ("reset", MailKind::Reset, "reset-password", RESET_TTL_HOURS),
            Mailed::Claim => (
                "claim",
                MailKind::Claim,
                "reset-password",
                ACTIVATION_TTL_HOURS,
            ),
        }
    }
}

impl UserService {
    /// A new one-time secret for `user` (as a row to store) and the mail carrying its
    /// link to `to`; both are written together by the caller's transaction.
    pub(super) fn token_mail(
        &self,
        flock: &Flock,
        what: Mailed,
        user: UserId,
        to: &str,
        first_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(NewTokenRow, NewMail), UserError> {
        let (purpose, kind, page, ttl_hours) = what.parts();
        let id = uuid::Uuid::new_v4();
        let secret = secret::random_token(32);
        let token = format!("{}.{secret}", id.simple());
        let row = NewTokenRow {
            id,
            user,
            purpose: purpose.to_owned(),
            token_hash: secret::digest(&secret),
            expires_at: now + Duration::hours(ttl_hours),
            created_at: now,
        };
        let input = MailInput {
            to,
            user: Some(user),
            first_name,
            link: Some((page, &token)),
            ttl_hours,
            secret: None,
        };
        Ok((row, self.mail.compose(flock, kind, input, now)?))
    }

    /// Issues a secret and queues its mail (voiding older secrets of the same purpose).
    pub(super) async fn mail_token(
        &self,
        flock: &Flock,
        what: Mailed,
        user: &User,
        to: &str,
    ) -> Result<(), UserError> {
        if user.email_invalid_at.is_some() {
            // The back office marked the address invalid: mail to it has stopped.
            return Ok(());
        }
        let now = self.clock.now();
        let first_name = user.first_name.as_deref();
        let (row, mail) = self.token_mail(flock, what, user.id, to, first_name, now)?;
        self.scoped(flock.id)
            .token_issue_with_mail(row, mail)
            .await?;
        Ok(())
    }
}

impl UserService {
    /// A live token of `purpose` in this flock, or `InvalidToken` (unknown, wrong flock,
    /// wrong purpose, used, expired: all the same answer).
    pub(super) async fn check_token(
        &self,
        flock: &Flock,
        raw: &str,
        purposes: &[&str],
    ) -> Result<TokenRow, UserError> {
        let (id, secret) = raw.trim().split_once('.').ok_or(UserError::InvalidToken)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| UserError::InvalidToken)?;
        let row = self
            .scoped(flock.id)
            .token(id)
            .await?
            .ok_or(UserError::InvalidToken)?;
        let digest_ok = secret::ct_eq(&secret::digest(secret), &row.token_hash);
        if !digest_ok
            || !purposes.contains(&row.purpose.as_str())
            || row.used_at.is_some()
            || row.expires_at <= self.clock.now()
        {
            return Err(UserError::InvalidToken);
        }
        Ok(row)
    }

    /// A live token of `purpose` and its account; an account that is gone makes the
    /// token invalid too.
    pub(super) async fn token_user(
        &self,
        flock: &Flock,
        raw: &str,
        purposes: &[&str],
    ) -> Result<(TokenRow, User), UserError> {
        let row = self.check_token(flock, raw, purposes).await?;
        match self.get(flock.id, UserId(row.user_id)).await {
            Ok(user) => Ok((row, user)),
            Err(UserError::NotFound) => Err(UserError::InvalidToken),
            Err(e) => Err(e),
        }
    }

    /// `activate`: the mailed token confirms the email and moves the account on (to
    /// `active`, or `pending_approval` where the flock requires approval). Returns the
    /// account as it now is (whether it gets a session is for sign-in to decide).
    pub async fn activate(&self, flock: &Flock, raw: &str) -> Result<User, UserError> {
        let (row, user) = self.token_user(flock, raw, &["activation"]).await?;
        let target = match user.status {
            UserStatus::Active => None,
            s => Some(s.after_proof(flock).ok_or(UserError::InvalidToken)?),
        };
        let effect = TokenEffect::Activate {
            status: target.map(|s| s.as_str().to_owned()),
        };
        self.redeem(flock, &row, effect).await?;
        self.get(flock.id, user.id).await
    }

    /// Consumes a checked token and applies its effect, or `InvalidToken` when another
    /// use got there first.
    pub(super) async fn redeem(
        &self,
        flock: &Flock,
        row: &TokenRow,
        effect: TokenEffect,
    ) -> Result<(), UserError> {
        let now = self.clock.now();
        let db = self.scoped(flock.id);
        if !db
            .token_redeem(row.id, UserId(row.user_id), effect, now)
            .await?
        {
            return Err(UserError::InvalidToken);
        }
        Ok(())
    }

    /// `activate_single`: the token confirms the email; the status does not change.
    pub async fn activate_single(&self, flock: &Flock, raw: &str) -> Result<User, UserError> {
        let row = self.check_token(flock, raw, &["activation"]).await?;
        let effect = TokenEffect::Activate { status: None };
        self.redeem(flock, &row, effect).await?;
        self.get(flock.id, UserId(row.user_id)).await
    }

    /// Queues a fresh activation mail (voiding older activation tokens).
    pub(super) async fn send_activation(
        &self,
        flock: &Flock,
        user: &User,
    ) -> Result<(), UserError> {
        match &user.email {
            Some(email) => {
                self.mail_token(flock, Mailed::Activation, user, email)
                    .await
            }
            None => Ok(()),
        }
    }
}
