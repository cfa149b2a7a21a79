//! Self-registration and preregistration: the enumeration policy around
//! [`UserService::create_account`].
use super::activation::Mailed;
use super::create::FirstMail;
use super::{
    AccountFields, Email, NewAccount, Origin, Phone, Registered, User, UserError, UserService,
    UserStatus,
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
    /// Optional where the flock allows passwordless registration (the account then signs
    /// in with one-time codes, or sets a password through the reset path).
    pub password: Option<SecretString>,
    pub terms_accepted: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub opt_outs: Option<BTreeMap<String, bool>>,
    /// Profile field values (the fields the flock asks at registration).
    pub fields: BTreeMap<String, serde_json::Value>,
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
        if email.is_none() && phone.is_none() {
            return Err(UserError::Invalid(super::create::identifier_required()));
        }
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
        if input.password.is_none() && !flock.settings.passwordless_registration {
            return Err(UserError::Invalid(Invalid::new(
                "password_required",
                "password",
                "a password is required in this flock",
            )));
        }
        // The password is hashed before the email is looked up (by the insert), so both
        // outcomes cost the same.
        let mut account =
            NewAccount::self_service(email.clone(), phone, fields, Origin::Registration);
        account.password = input.password;
        account.profile = input.fields;
        account.terms_accepted = true;
        account.mail = FirstMail::ActivationIfWaiting;
        let created = self.create_account(flock, account).await;
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

    /// The email or phone already has an account. An unclaimed one (made by the back
    /// office) gets a claim link: following it proves the mailbox, sets a password and
    /// makes it a registered account (no second account is made, and the password given
    /// here is not applied: the caller does not own the address yet). Otherwise the open
    /// policy says the email is taken; the protected policy answers as for a new account
    /// and tells the owner instead. At most one such mail an hour per account, so this
    /// cannot flood an inbox.
    async fn existing_registration(
        &self,
        flock: &Flock,
        email: Option<Email>,
        taken: UserError,
    ) -> Result<Registered, UserError> {
        let db = self.scoped(flock.id);
        // The account holding this address or one that looks the same; mail goes to the
        // address it holds, never to the look-alike typed here.
        let existing = match &email {
            Some(e) => db.user_by_email_key(e.as_str()).await?,
            None => None,
        };
        let existing = existing.map(|r| User::from_row(flock.id, r));
        let unclaimed = existing
            .as_ref()
            .is_some_and(|u| u.status == UserStatus::Unclaimed);
        let open = flock.settings.enumeration == EnumerationPolicy::Open;
        if open && !unclaimed {
            return Err(taken);
        }
        let held = existing
            .as_ref()
            .and_then(|u| u.email.as_deref())
            .and_then(|e| Email::parse(e).ok());
        if let (Some(owner), Some(e)) = (&existing, &held) {
            let kind = if unclaimed {
                MailKind::Claim
            } else {
                MailKind::ExistingAccount
            };
            let since = self.clock.now() - chrono::Duration::hours(1);
            if !db.mail_recent_exists(owner.id, kind.name(), since).await? {
                self.notify_owner(flock, owner, e, unclaimed).await?;
            }
        }
        Ok(match (open, existing) {
            (true, Some(u)) => Registered {
                user_id: u.id,
                status: u.status,
            },
            // The status the account would have had; the id leads nowhere.
            _ => Registered {
                user_id: UserId::new(),
                status: UserStatus::initial(flock, Origin::Registration),
            },
        })
    }

    /// The mail to the owner of an address someone registered with: a claim link for an
    /// unclaimed account, a notice otherwise.
    async fn notify_owner(
        &self,
        flock: &Flock,
        owner: &User,
        to: &Email,
        unclaimed: bool,
    ) -> Result<(), UserError> {
        if unclaimed {
            return self
                .mail_token(flock, Mailed::Claim, owner, to.as_str())
                .await;
        }
        if owner.email_invalid_at.is_some() {
            return Ok(());
        }
        let input = MailInput {
            to: to.as_str(),
            user: Some(owner.id),
            first_name: None,
            link: None,
            ttl_hours: 0,
            secret: None,
        };
        let now = self.clock.now();
        let mail = self
            .mail
            .compose(flock, MailKind::ExistingAccount, input, now)?;
        self.scoped(flock.id).mail_enqueue(mail).await?;
        Ok(())
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
        let fields = AccountFields::default();
        let mut account =
            NewAccount::self_service(Some(email), None, fields, Origin::Preregistration);
        if input.send_activation {
            account.mail = FirstMail::ActivationIfWaiting;
        }
        self.create_account(flock, account).await
    }
}
