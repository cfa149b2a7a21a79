//! Register-or-sign-in with a code, and the profile fields of an account it creates.
use super::{Channel, Identifier, OtpError, OtpService, OtpSignedIn, Profile, Purpose};
use crate::db::DbError;
use crate::domain::flocks::Flock;
use crate::domain::sessions::SessionMeta;
use crate::domain::user::{User, UserStatus};
use crate::domain::Invalid;
use crate::ids::UserId;

fn text(v: Option<String>, field: &'static str, max: usize) -> Result<Option<String>, Invalid> {
    match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => Err(Invalid::new(
            "invalid_field",
            field,
            format!("{field} must be at most {max} printable characters"),
        )),
        Some(s) => Ok(Some(s)),
    }
}

fn locale(v: Option<String>) -> Result<Option<String>, Invalid> {
    let v = text(v, "locale", 35)?;
    if let Some(l) = &v {
        let ok = l
            .split(['-', '_'])
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(Invalid::new(
                "invalid_locale",
                "locale",
                "locale must be a language tag such as en or fr-CA",
            ));
        }
    }
    Ok(v)
}

impl OtpService {
    /// Register-or-sign-in: a valid code for a known identifier signs in; for an unknown
    /// one it creates the account (where self-registration is on) with `profile` and the
    /// identifier verified, then signs in.
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_in(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        purpose: Purpose,
        code: &str,
        profile: Profile,
        meta: SessionMeta,
    ) -> Result<OtpSignedIn, OtpError> {
        let id = Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        let first_name = text(profile.first_name, "first_name", 200).map_err(OtpError::Invalid)?;
        let last_name = text(profile.last_name, "last_name", 200).map_err(OtpError::Invalid)?;
        let locale = locale(profile.locale).map_err(OtpError::Invalid)?;
        self.verify(flock, &id, purpose, code).await?;

        let (user, created) = match self.find_user(flock.id, &id).await? {
            Some(u) => {
                self.mark_verified(flock.id, u.id, id.channel).await?;
                (u, false)
            }
            None => {
                if !flock.settings.self_registration {
                    return Err(OtpError::RegistrationClosed);
                }
                let now = self.clock.now();
                let status = if flock.settings.require_approval {
                    UserStatus::PendingApproval
                } else {
                    UserStatus::Active
                };
                let row = entity::user::Model {
                    id: UserId::new().0,
                    flock_id: flock.id.0,
                    email: (id.channel == Channel::Email).then(|| id.value.clone()),
                    phone: (id.channel == Channel::Sms).then(|| id.value.clone()),
                    password_hash: None,
                    status: status.as_str().to_owned(),
                    role: "client".to_owned(),
                    first_name,
                    last_name,
                    locale,
                    email_verified: id.channel == Channel::Email,
                    phone_verified: id.channel == Channel::Sms,
                    opt_outs: serde_json::json!({
                        "email": profile.email_opt_out,
                        "sms": profile.sms_opt_out,
                    }),
                    terms_accepted_at: profile.terms_accepted.then_some(now),
                    source: Some("otp".to_owned()),
                    created_at: now,
                    updated_at: now,
                    deleted_at: None,
                };
                match self.db.user_insert(row.clone()).await {
                    Ok(()) => (User::from(row), true),
                    // Created in parallel by another code: sign that account in.
                    Err(DbError::Conflict(_)) => match self.find_user(flock.id, &id).await? {
                        Some(u) => (u, false),
                        None => return Err(OtpError::InvalidCode),
                    },
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let user = if created {
            user
        } else {
            self.db
                .user_by_id(flock.id, user.id)
                .await?
                .map(User::from)
                .unwrap_or(user)
        };
        if user.status != UserStatus::Active {
            return Err(OtpError::NotActive);
        }
        let grant = self.sessions.open(flock, user.id, &user.role, meta).await?;
        Ok(OtpSignedIn {
            user,
            grant,
            created,
        })
    }
}
