//! One-time secrets and activation. A secret is `{id}.{secret}`: the id finds the row, the
//! 256-bit CSPRNG secret is compared in constant time against its stored SHA-256 digest.
//! Rows are single use (consumed atomically with the change they authorise), expire on the
//! injected clock, and a newer secret of the same purpose voids the older ones.
use super::{User, UserError, UserService, UserStatus};
use crate::db::user::tokens::{NewToken as NewTokenRow, TokenEffect, TokenRow};
use crate::domain::flocks::Flock;
use crate::domain::mail::{MailInput, MailKind};
use crate::ids::UserId;
use crate::infra::secret;
use chrono::{DateTime, Duration, Utc};

pub const ACTIVATION_TTL_HOURS: i64 = 72;
pub const RESET_TTL_HOURS: i64 = 1;

pub(super) struct NewToken {
    /// What goes into the link (never stored).
    pub token: String,
    pub row: NewTokenRow,
}

pub(super) fn new_token(
    user: UserId,
    purpose: &str,
    ttl_hours: i64,
    now: DateTime<Utc>,
) -> NewToken {
    let id = uuid::Uuid::new_v4();
    let secret = secret::random_token(32);
    NewToken {
        token: format!("{}.{secret}", id.simple()),
        row: NewTokenRow {
            id,
            user,
            purpose: purpose.to_owned(),
            token_hash: secret::digest(&secret),
            expires_at: now + Duration::hours(ttl_hours),
            created_at: now,
        },
    }
}

impl UserService {
    /// A live token of `purpose` in this flock, or `InvalidToken` (unknown, wrong flock,
    /// wrong purpose, used, expired: all the same answer).
    pub(super) async fn check_token(
        &self,
        flock: &Flock,
        raw: &str,
        purpose: &str,
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
            || row.purpose != purpose
            || row.used_at.is_some()
            || row.expires_at <= self.clock.now()
        {
            return Err(UserError::InvalidToken);
        }
        Ok(row)
    }

    /// `activate`: the mailed token confirms the email and moves the account on (to
    /// `active`, or `pending_approval` where the flock requires approval). Returns the
    /// account as it now is (whether it gets a session is for sign-in to decide).
    pub async fn activate(&self, flock: &Flock, raw: &str) -> Result<User, UserError> {
        let row = self.check_token(flock, raw, "activation").await?;
        let user = self
            .get(flock.id, UserId(row.user_id))
            .await
            .map_err(|e| match e {
                UserError::NotFound => UserError::InvalidToken,
                e => e,
            })?;
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
        let row = self.check_token(flock, raw, "activation").await?;
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
        let Some(email) = &user.email else {
            return Ok(());
        };
        let now = self.clock.now();
        let t = new_token(user.id, "activation", ACTIVATION_TTL_HOURS, now);
        let mail = self.mail.compose(
            flock,
            MailKind::Activation,
            MailInput {
                to: email,
                user: Some(user.id),
                first_name: user.first_name.as_deref(),
                link: Some(("activate", &t.token)),
                ttl_hours: ACTIVATION_TTL_HOURS,
            },
            now,
        )?;
        self.scoped(flock.id)
            .token_issue_with_mail(t.row, mail)
            .await?;
        Ok(())
    }
}
