//! Creating accounts: [`UserService::create_account`] is the one place a user row is made.
//! Every path that makes an account — registration, preregistration, one-time-code
//! sign-up, and later the back office and federation — builds a [`NewAccount`] and calls
//! it, so the initial status, the password policy, the verified flags and the activation
//! mail are decided once.
use super::activation::Mailed;
use super::{AccountFields, Email, Phone, Role, User, UserError, UserService, UserStatus};
use crate::db::user::NewUser;
use crate::db::DbError;
use crate::domain::flocks::Flock;
use crate::domain::password::check_policy;
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::{ExposeSecret, SecretString};

/// How an account came to be; it decides the initial status (see `UserStatus::initial`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Self-registration with a password: activation or approval as the flock requires.
    Registration,
    /// An email alone: `preregistered` (a limited session) until activated.
    Preregistration,
    /// Sign-up with a one-time code: the identifier it was sent to is proven (verified).
    Code,
}

/// An account to create. Identifiers and fields are already parsed by their rules.
pub struct NewAccount {
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// Checked against the flock's policy, then hashed; None for an account without one.
    pub password: Option<SecretString>,
    pub fields: AccountFields,
    pub origin: Origin,
    pub terms_accepted: bool,
    /// Where the account came from (`otp`, an app name…), kept on the account.
    pub source: Option<String>,
    /// Queue an activation mail when the account starts out waiting for one.
    pub send_activation: bool,
}

impl UserService {
    /// Creates the account and, when it waits for activation, its activation mail, in one
    /// transaction. An email or phone number that already has an account answers
    /// `EmailTaken` / `PhoneTaken` and changes nothing.
    pub async fn create_account(&self, flock: &Flock, a: NewAccount) -> Result<User, UserError> {
        if a.email.is_none() && a.phone.is_none() {
            return Err(UserError::Invalid(Invalid::new(
                "identifier_required",
                "email",
                "an email or a phone number is required",
            )));
        }
        let hash = match a.password {
            Some(p) => {
                let personal: Vec<&str> = [
                    a.email.as_ref().map(Email::as_str),
                    a.phone.as_ref().map(Phone::as_str),
                    a.fields.first_name.as_deref(),
                    a.fields.last_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect();
                check_policy(
                    p.expose_secret(),
                    flock.settings.password_min_length,
                    &personal,
                )
                .map_err(UserError::Invalid)?;
                Some(self.hasher.hash(p).await?)
            }
            None => None,
        };
        let status = UserStatus::initial(flock, a.origin);
        let now = self.clock.now();
        let id = UserId::new();
        let proven = a.origin == Origin::Code;
        let row = NewUser {
            id,
            email: a.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: a.phone.as_ref().map(|p| p.as_str().to_owned()),
            password_hash: hash,
            status: status.as_str().to_owned(),
            role: Role::Client.as_str().to_owned(),
            first_name: a.fields.first_name,
            last_name: a.fields.last_name,
            locale: a.fields.locale,
            email_verified: proven && a.email.is_some(),
            phone_verified: proven && a.phone.is_some(),
            opt_outs: a.fields.opt_outs,
            terms_accepted_at: a.terms_accepted.then_some(now),
            source: a.source,
            created_at: now,
        };
        let waits = matches!(
            status,
            UserStatus::ActivationRequired | UserStatus::Preregistered
        );
        let (token, mail) = match (&a.email, a.send_activation && waits) {
            (Some(e), true) => {
                let first_name = row.first_name.as_deref();
                let what = Mailed::Activation;
                let (t, m) = self.token_mail(flock, what, id, e.as_str(), first_name, now)?;
                (Some(t), Some(m))
            }
            _ => (None, None),
        };
        let db = self.scoped(flock.id);
        match db.user_insert(row.clone(), token, mail).await {
            Ok(()) => Ok(User {
                id,
                flock: flock.id,
                email: row.email,
                phone: row.phone,
                status,
                role: Role::Client,
                first_name: row.first_name,
                last_name: row.last_name,
                locale: row.locale,
                email_verified: row.email_verified,
                phone_verified: row.phone_verified,
                opt_outs: row.opt_outs,
                created_at: now,
                updated_at: now,
            }),
            Err(DbError::Conflict(_)) => {
                let email_taken = match &a.email {
                    Some(e) => db.user_by_email(e.as_str()).await?.is_some(),
                    None => false,
                };
                Err(if email_taken {
                    UserError::EmailTaken
                } else {
                    UserError::PhoneTaken
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
