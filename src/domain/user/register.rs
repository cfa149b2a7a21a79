//! Self-registration and preregistration: the enumeration policy around
//! [`UserService::create_account`].
use super::{
    AccountFields, Email, NewAccount, Origin, Phone, Registered, User, UserError, UserService,
};
use crate::domain::flocks::{EnumerationPolicy, Flock};
use crate::domain::mail::{MailInput, MailKind};
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::SecretString;
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

/// An optional identifier: blank is absent, anything else must parse.
fn optional<T>(
    v: Option<&str>,
    parse: fn(&str) -> Result<T, Invalid>,
) -> Result<Option<T>, UserError> {
    match v.map(str::trim) {
        Some(s) if !s.is_empty() => parse(s).map(Some).map_err(UserError::Invalid),
        _ => Ok(None),
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
        let email = optional(input.email.as_deref(), Email::parse)?;
        let phone = optional(input.phone.as_deref(), Phone::parse)?;
        let fields = AccountFields::parse(
            input.first_name,
            input.last_name,
            input.locale,
            input.opt_outs,
        )
        .map_err(UserError::Invalid)?;
        if !input.terms_accepted {
            return Err(UserError::Invalid(Invalid::new(
                "terms_not_accepted",
                "terms_accepted",
                "the terms must be accepted",
            )));
        }
        // The password is hashed before the email is looked up (by the insert), so both
        // outcomes cost the same.
        let created = self
            .create_account(
                flock,
                NewAccount {
                    email: email.clone(),
                    phone,
                    password: Some(input.password),
                    fields,
                    origin: Origin::Registration,
                    terms_accepted: true,
                    source: None,
                    send_activation: true,
                },
            )
            .await;
        match created {
            Ok(u) => Ok(Registered {
                user_id: u.id,
                status: u.status,
            }),
            Err(e @ (UserError::EmailTaken | UserError::PhoneTaken)) => {
                self.existing_registration(flock, email, e).await
            }
            Err(e) => Err(e),
        }
    }

    /// The email or phone already has an account: open policy says so; protected policy
    /// answers as for a new account and tells the owner instead (at most one notice an
    /// hour, so this cannot be used to flood an inbox).
    async fn existing_registration(
        &self,
        flock: &Flock,
        email: Option<Email>,
        taken: UserError,
    ) -> Result<Registered, UserError> {
        if flock.settings.enumeration == EnumerationPolicy::Open {
            return Err(taken);
        }
        let db = self.scoped(flock.id);
        let existing = match &email {
            Some(e) => db.user_by_email(e.as_str()).await?,
            None => None,
        };
        let now = self.clock.now();
        if let (Some(row), Some(e)) = (existing, &email) {
            let owner = UserId(row.id);
            let kind = MailKind::ExistingAccount;
            let since = now - chrono::Duration::hours(1);
            if !db.mail_recent_exists(owner, kind.name(), since).await? {
                let input = MailInput {
                    to: e.as_str(),
                    user: Some(owner),
                    first_name: None,
                    link: None,
                    ttl_hours: 0,
                };
                db.mail_enqueue(self.mail.compose(flock, kind, input, now)?)
                    .await?;
            }
        }
        // The status the account would have had; the id leads nowhere.
        Ok(Registered {
            user_id: UserId::new(),
            status: super::UserStatus::initial(flock, Origin::Registration),
        })
    }

    /// Creates a `preregistered` account from an email alone (the caller opens its
    /// limited session). An existing email is refused whatever the enumeration policy:
    /// answering it with a session would hand out someone else's account.
    pub async fn preregister(
        &self,
        flock: &Flock,
        input: PreregisterInput,
    ) -> Result<User, UserError> {
        if !flock.settings.self_registration {
            return Err(UserError::RegistrationClosed);
        }
        let email = Email::parse(&input.email).map_err(UserError::Invalid)?;
        let account = NewAccount {
            email: Some(email),
            phone: None,
            password: None,
            fields: AccountFields::default(),
            origin: Origin::Preregistration,
            terms_accepted: false,
            source: None,
            send_activation: input.send_activation,
        };
        self.create_account(flock, account).await
    }
}
