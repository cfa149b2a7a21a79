//! Registration and preregistration.
use super::activation::{new_token, ACTIVATION_TTL_HOURS};
use super::{
    optional_text, validate_locale, Email, Phone, Registered, SignedIn, User, UserError,
    UserService, UserStatus,
};
use crate::db::DbError;
use crate::domain::flocks::{EnumerationPolicy, Flock};
use crate::domain::mail::{MailInput, MailKind};
use crate::domain::password::check_policy;
use crate::domain::sessions::SessionMeta;
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;

pub struct RegisterInput {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: SecretString,
    pub terms_accepted: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub opt_outs: Option<BTreeMap<String, bool>>,
}

pub struct PreregisterInput {
    pub email: String,
    /// Send the activation mail (default true).
    pub send_activation: bool,
}

pub(super) fn validate_opt_outs(
    v: Option<BTreeMap<String, bool>>,
) -> Result<serde_json::Value, Invalid> {
    let v = v.unwrap_or_default();
    if v.len() > 20
        || v.keys().any(|k| {
            k.is_empty()
                || k.len() > 50
                || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    {
        return Err(Invalid::new(
            "invalid_opt_outs",
            "opt_outs",
            "opt_outs is at most 20 names (letters, digits, underscores) mapped to true or false",
        ));
    }
    serde_json::to_value(v).map_err(|e| Invalid::new("invalid_opt_outs", "opt_outs", e.to_string()))
}

fn new_row(
    flock: &Flock,
    id: UserId,
    email: Option<&Email>,
    phone: Option<&Phone>,
    status: UserStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> entity::user::Model {
    entity::user::Model {
        id: id.0,
        flock_id: flock.id.0,
        email: email.map(|e| e.as_str().to_owned()),
        phone: phone.map(|p| p.as_str().to_owned()),
        password_hash: None,
        status: status.as_str().to_owned(),
        role: "client".to_owned(),
        first_name: None,
        last_name: None,
        locale: None,
        email_verified: false,
        phone_verified: false,
        opt_outs: serde_json::json!({}),
        terms_accepted_at: None,
        source: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

impl UserService {
    pub async fn register(
        &self,
        flock: &Flock,
        input: RegisterInput,
    ) -> Result<Registered, UserError> {
        let start = tokio::time::Instant::now();
        let r = self.register_inner(flock, input).await;
        if !matches!(
            r,
            Err(UserError::Invalid(_)) | Err(UserError::RegistrationClosed)
        ) {
            self.pad(flock, start).await;
        }
        r
    }

    async fn register_inner(
        &self,
        flock: &Flock,
        input: RegisterInput,
    ) -> Result<Registered, UserError> {
        if !flock.settings.self_registration {
            return Err(UserError::RegistrationClosed);
        }
        let email = match input.email.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => Some(Email::parse(e).map_err(UserError::Invalid)?),
            _ => None,
        };
        let phone = match input.phone.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => Some(Phone::parse(p).map_err(UserError::Invalid)?),
            _ => None,
        };
        if email.is_none() && phone.is_none() {
            return Err(UserError::Invalid(Invalid::new(
                "identifier_required",
                "email",
                "an email or a phone number is required",
            )));
        }
        let first_name =
            optional_text(input.first_name, "first_name", 200).map_err(UserError::Invalid)?;
        let last_name =
            optional_text(input.last_name, "last_name", 200).map_err(UserError::Invalid)?;
        let locale = validate_locale(input.locale).map_err(UserError::Invalid)?;
        let opt_outs = validate_opt_outs(input.opt_outs).map_err(UserError::Invalid)?;
        if !input.terms_accepted {
            return Err(UserError::Invalid(Invalid::new(
                "terms_not_accepted",
                "terms_accepted",
                "the terms must be accepted",
            )));
        }
        let personal: Vec<&str> = [
            email.as_ref().map(Email::as_str),
            phone.as_ref().map(Phone::as_str),
            first_name.as_deref(),
            last_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        check_policy(
            input.password.expose_secret(),
            flock.settings.password_min_length,
            &personal,
        )
        .map_err(UserError::Invalid)?;

        let status = if flock.settings.require_activation {
            UserStatus::ActivationRequired
        } else if flock.settings.require_approval {
            UserStatus::PendingApproval
        } else {
            UserStatus::Active
        };
        // Hash before looking the email up, so both outcomes cost the same.
        let hash = self.hasher.hash(input.password).await?;
        let now = self.clock.now();
        let id = UserId::new();
        let mut row = new_row(flock, id, email.as_ref(), phone.as_ref(), status, now);
        row.password_hash = Some(hash);
        row.first_name = first_name.clone();
        row.last_name = last_name;
        row.locale = locale;
        row.opt_outs = opt_outs;
        row.terms_accepted_at = Some(now);

        let (token, mail) = match (&email, status) {
            (Some(e), UserStatus::ActivationRequired) => {
                let secret = new_token(flock, id, "activation", ACTIVATION_TTL_HOURS, now);
                let mail = self.mail.compose(
                    flock,
                    MailKind::Activation,
                    MailInput {
                        to: e.as_str(),
                        user: Some(id),
                        first_name: first_name.as_deref(),
                        link: Some(("activate", &secret.token)),
                        ttl_hours: ACTIVATION_TTL_HOURS,
                    },
                    now,
                )?;
                (Some(secret.row), Some(mail))
            }
            _ => (None, None),
        };
        match self.db.user_insert_with_mail(row, token, mail).await {
            Ok(()) => Ok(Registered {
                user_id: id,
                status,
            }),
            Err(DbError::Conflict(_)) => {
                self.existing_registration(flock, email, phone, status)
                    .await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The email or phone already has an account.
    async fn existing_registration(
        &self,
        flock: &Flock,
        email: Option<Email>,
        phone: Option<Phone>,
        status: UserStatus,
    ) -> Result<Registered, UserError> {
        let existing = match &email {
            Some(e) => self.db.user_by_email(flock.id, e.as_str()).await?,
            None => None,
        };
        match flock.settings.enumeration {
            EnumerationPolicy::Open => Err(if existing.is_some() {
                UserError::EmailTaken
            } else {
                UserError::PhoneTaken
            }),
            EnumerationPolicy::Protected => {
                // Tell the owner instead of the caller (at most one notice an hour, so
                // this cannot be used to flood an inbox); the id leads nowhere.
                let now = self.clock.now();
                let recent = match &existing {
                    Some(row) => {
                        self.db
                            .mail_recent_exists(
                                flock.id,
                                UserId(row.id),
                                MailKind::ExistingAccount.name(),
                                now - chrono::Duration::hours(1),
                            )
                            .await?
                    }
                    None => false,
                };
                if let (Some(row), Some(e), false) = (existing, &email, recent) {
                    let mail = self.mail.compose(
                        flock,
                        MailKind::ExistingAccount,
                        MailInput {
                            to: e.as_str(),
                            user: Some(UserId(row.id)),
                            first_name: None,
                            link: None,
                            ttl_hours: 0,
                        },
                        self.clock.now(),
                    )?;
                    self.db.mail_enqueue(mail).await?;
                }
                let _ = phone;
                Ok(Registered {
                    user_id: UserId::new(),
                    status,
                })
            }
        }
    }

    /// Creates a `preregistered` account from an email alone and opens a limited session
    /// (own profile only). An existing email is refused: answering it with a session
    /// would hand out someone else's account.
    pub async fn preregister(
        &self,
        flock: &Flock,
        input: PreregisterInput,
        meta: SessionMeta,
    ) -> Result<SignedIn, UserError> {
        if !flock.settings.self_registration {
            return Err(UserError::RegistrationClosed);
        }
        let email = Email::parse(&input.email).map_err(UserError::Invalid)?;
        let now = self.clock.now();
        let id = UserId::new();
        let row = new_row(
            flock,
            id,
            Some(&email),
            None,
            UserStatus::Preregistered,
            now,
        );
        let (token, mail) = if input.send_activation {
            let secret = new_token(flock, id, "activation", ACTIVATION_TTL_HOURS, now);
            let mail = self.mail.compose(
                flock,
                MailKind::Activation,
                MailInput {
                    to: email.as_str(),
                    user: Some(id),
                    first_name: None,
                    link: Some(("activate", &secret.token)),
                    ttl_hours: ACTIVATION_TTL_HOURS,
                },
                now,
            )?;
            (Some(secret.row), Some(mail))
        } else {
            (None, None)
        };
        match self
            .db
            .user_insert_with_mail(row.clone(), token, mail)
            .await
        {
            Ok(()) => {}
            Err(DbError::Conflict(_)) => return Err(UserError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        let user = User::from(row);
        let grant = self
            .sessions
            .open(flock, user.id, Self::role_for_session(&user), meta)
            .await?;
        Ok(SignedIn { user, grant })
    }
}
