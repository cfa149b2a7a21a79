//! The password check (with the sign-in throttle), preauth and the email availability
//! check. Opening the session is sign-in's work (`domain::signin`).
use super::{Admission, Email, Phone, User, UserError, UserService, UserStatus};
use crate::domain::flocks::{EnumerationPolicy, Flock};
use crate::domain::limits::LoginThrottle;
use crate::domain::Invalid;
use secrecy::SecretString;

/// What `preauth` tells the caller.
#[derive(Debug, Clone)]
pub enum Preauth {
    /// Open policy: the account exists; its status and first name.
    Exists {
        status: UserStatus,
        first_name: Option<String>,
    },
    /// Open policy: no such account.
    Unknown,
    /// Protected policy: the same answer whatever the account.
    Accepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Available,
    Taken,
}

/// Sign in with an email, or a phone number, and a password.
#[derive(Clone, Copy)]
pub enum Identifier<'a> {
    Email(&'a str),
    Phone(&'a str),
}

impl<'a> Identifier<'a> {
    /// Exactly one of the two, as given (a malformed one is checked like an unknown
    /// account, so it is not parsed here).
    pub fn one_of(email: Option<&'a str>, phone: Option<&'a str>) -> Result<Self, Invalid> {
        match (email, phone) {
            (Some(e), None) => Ok(Identifier::Email(e)),
            (None, Some(p)) => Ok(Identifier::Phone(p)),
            _ => Err(Invalid::new(
                "identifier_required",
                "email",
                "give exactly one of email or phone",
            )),
        }
    }
}

impl UserService {
    /// The account whose password this is, or `InvalidCredentials` (a wrong password
    /// and an unknown account answer alike, at the uniform time under the protected
    /// policy). `ip` keys the per-IP throttle.
    pub async fn check_password(
        &self,
        flock: &Flock,
        id: Identifier<'_>,
        password: SecretString,
        ip: Option<&str>,
    ) -> Result<User, UserError> {
        let start = tokio::time::Instant::now();
        let r = async {
            // A malformed identifier is just an unknown account: same cost, same answer.
            let db = self.scoped(flock.id);
            let row = match id {
                Identifier::Email(e) => match Email::parse(e) {
                    Ok(e) => db.user_by_email(e.as_str()).await?,
                    Err(_) => None,
                },
                Identifier::Phone(p) => match Phone::parse(p) {
                    Ok(p) => db.user_by_phone(p.as_str()).await?,
                    Err(_) => None,
                },
            };
            let stored = row.as_ref().and_then(|r| r.password_hash.clone());
            // The throttle reserves this attempt in every counter before the password is
            // checked, so parallel guesses cannot exceed the limits.
            let account = match id {
                Identifier::Email(e) => LoginThrottle::account_key("email", e),
                Identifier::Phone(p) => LoginThrottle::account_key("phone", p),
            };
            let attempt = match &self.throttle {
                Some(t) => match t.begin(flock.id, &account, ip).await? {
                    Ok(a) => Some((t, a)),
                    Err(retry) => return Err(UserError::Throttled(retry)),
                },
                None => None,
            };
            let verified = self.hasher.verify(password.clone(), stored).await;
            if let Some((t, a)) = attempt {
                match &verified {
                    Ok(v) => t.finish(a, row.is_some() && v.ok).await?,
                    // Never checked (hash pool busy): not a failure.
                    Err(_) => t.cancel(a).await?,
                }
            }
            let verified = verified?;
            let (Some(row), true) = (row, verified.ok) else {
                return Err(UserError::InvalidCredentials);
            };
            let user = User::from_row(flock.id, row);
            // Only an account that may sign in gets its hash upgraded (a refused one costs
            // no write and no second hash).
            let may = user.session_role(Admission::SignIn).is_ok();
            if verified.needs_rehash && may {
                let hash = self.hasher.hash(password).await?;
                db.user_set_password_hash(user.id, &hash, self.clock.now())
                    .await?;
            }
            Ok(user)
        }
        .await;
        if matches!(r, Err(UserError::InvalidCredentials)) {
            self.pad(flock, start).await;
        }
        r
    }

    /// The account an identifier names, if any (for the audit log of a refused sign-in).
    pub async fn find_by_identifier(
        &self,
        flock: &Flock,
        id: Identifier<'_>,
    ) -> Option<crate::ids::UserId> {
        let db = self.scoped(flock.id);
        let row = match id {
            Identifier::Email(e) => match Email::parse(e) {
                Ok(e) => db.user_by_email(e.as_str()).await.ok().flatten(),
                Err(_) => None,
            },
            Identifier::Phone(p) => match Phone::parse(p) {
                Ok(p) => db.user_by_phone(p.as_str()).await.ok().flatten(),
                Err(_) => None,
            },
        };
        row.map(|r| crate::ids::UserId(r.id))
    }

    /// Whether an account exists (open policy) and, when `send_mail`, an activation mail
    /// for an account still waiting for it.
    pub async fn preauth(
        &self,
        flock: &Flock,
        email: &str,
        send_mail: bool,
    ) -> Result<Preauth, UserError> {
        let start = tokio::time::Instant::now();
        let r = self.preauth_inner(flock, email, send_mail).await;
        self.pad(flock, start).await;
        r
    }

    async fn preauth_inner(
        &self,
        flock: &Flock,
        email: &str,
        send_mail: bool,
    ) -> Result<Preauth, UserError> {
        let email = Email::parse(email).map_err(UserError::Invalid)?;
        let user = self
            .find(flock.id, &super::Contact::Email(email))
            .await?
            .filter(|u| u.status != UserStatus::Deleted);
        if let Some(u) = &user {
            if send_mail
                && matches!(
                    u.status,
                    UserStatus::ActivationRequired
                        | UserStatus::Preregistered
                        | UserStatus::Unclaimed
                )
            {
                self.send_activation(flock, u).await?;
            }
        }
        Ok(match (flock.settings.enumeration, user) {
            (EnumerationPolicy::Protected, _) => Preauth::Accepted,
            (EnumerationPolicy::Open, Some(u)) => Preauth::Exists {
                status: u.status,
                first_name: u.first_name,
            },
            (EnumerationPolicy::Open, None) => Preauth::Unknown,
        })
    }

    /// Whether an email can register. Open policy: `taken` for an existing account.
    /// Protected policy: `taken` only when `password` is the account's password (proof of
    /// ownership); otherwise always `available`. With a password both paths cost one hash.
    pub async fn availability(
        &self,
        flock: &Flock,
        email: &str,
        password: Option<SecretString>,
    ) -> Result<(Availability, Option<bool>), UserError> {
        let email = Email::parse(email).map_err(UserError::Invalid)?;
        let row = self.scoped(flock.id).user_by_email(email.as_str()).await?;
        let password_ok = match password {
            Some(p) => {
                let stored = row.as_ref().and_then(|r| r.password_hash.clone());
                Some(self.hasher.verify(p, stored).await?.ok && row.is_some())
            }
            None => None,
        };
        let taken = match flock.settings.enumeration {
            EnumerationPolicy::Open => row.is_some(),
            EnumerationPolicy::Protected => password_ok == Some(true),
        };
        let a = if taken {
            Availability::Taken
        } else {
            Availability::Available
        };
        let shown = match flock.settings.enumeration {
            EnumerationPolicy::Open => password_ok,
            EnumerationPolicy::Protected => None,
        };
        Ok((a, shown))
    }
}
