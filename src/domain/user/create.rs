//! Creating accounts: [`UserService::create_account`] is the one place a user row is made.
//! Every path that makes an account — registration, preregistration, one-time-code
//! sign-up, the back office, and later federation — builds a [`NewAccount`] and calls it,
//! so the initial status, the password policy, the verified flags, the uniqueness rules
//! and the first mail are decided once.
use super::activation::Mailed;
use super::{
    AccountFields, DirectoryFields, Email, Phone, Role, User, UserError, UserService, UserStatus,
};
use crate::db::user::{DirectoryRow, NewUser};
use crate::db::DbError;
use crate::domain::flocks::Flock;
use crate::domain::mail::{MailInput, MailKind};
use crate::domain::password::check_policy;
use crate::domain::profile::Viewer;
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::{ExposeSecret, SecretString};

/// How an account came to be; it decides the initial status (see `UserStatus::initial`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Self-registration: activation or approval as the flock requires.
    Registration,
    /// An email alone: `preregistered` (a limited session) until activated.
    Preregistration,
    /// Sign-up with a one-time code: the identifier it was sent to is proven (verified).
    Code,
    /// First sign-in through a provider that asserts the email (verified); the identity
    /// is attached in the same transaction. Required profile fields are filled later.
    Federated,
    /// Created by the back office in this status (`unclaimed` for a contact without
    /// credentials, claimed later by its owner).
    BackOffice(UserStatus),
}

/// The first mail of a new account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstMail {
    None,
    /// An activation link when the account starts out waiting for one (`activation_required`
    /// or `preregistered`); nothing otherwise.
    ActivationIfWaiting,
    /// The back office's welcome: the activation link when the account waits for one, a
    /// claim link (choose a password) when it is unclaimed, a welcome note otherwise.
    Welcome,
    /// The generated password itself (the back office's `generate_password`).
    GeneratedPassword,
}

/// An account to create. Identifiers and fields are already parsed by their rules.
pub struct NewAccount {
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// Checked against the flock's policy, then hashed; None for an account without one.
    pub password: Option<SecretString>,
    pub fields: AccountFields,
    pub directory: DirectoryFields,
    pub role: Role,
    pub origin: Origin,
    pub terms_accepted: bool,
    /// Where the account came from (`otp`, an app name…), kept on the account.
    pub source: Option<String>,
    pub mail: FirstMail,
    /// Profile field values (name → value), checked against the flock's schema.
    pub profile: std::collections::BTreeMap<String, serde_json::Value>,
    /// A provider identity to attach (federated sign-up), in the same transaction.
    pub identity: Option<crate::db::federation::NewIdentity>,
}

impl NewAccount {
    /// A self-service account (client, default directory fields).
    pub fn self_service(
        email: Option<Email>,
        phone: Option<Phone>,
        fields: AccountFields,
        origin: Origin,
    ) -> Self {
        Self {
            email,
            phone,
            password: None,
            fields,
            directory: DirectoryFields::default(),
            role: Role::Client,
            origin,
            terms_accepted: false,
            source: None,
            mail: FirstMail::None,
            profile: Default::default(),
            identity: None,
        }
    }
}

pub(super) fn identifier_required() -> Invalid {
    Invalid::new(
        "identifier_required",
        "email",
        "an email or a phone number is required",
    )
}

impl UserService {
    /// Creates the account and its first mail in one transaction. An email, phone number,
    /// username or external id that already belongs to an account answers its `…Taken`
    /// error and changes nothing.
    pub async fn create_account(&self, flock: &Flock, a: NewAccount) -> Result<User, UserError> {
        let status = UserStatus::initial(flock, a.origin);
        // Only a contact waiting to be claimed may come without an identifier.
        if a.email.is_none() && a.phone.is_none() && status != UserStatus::Unclaimed {
            return Err(UserError::Invalid(identifier_required()));
        }
        if let Some(b) = a.directory.business {
            self.check_business(flock, b).await?;
        }
        let (viewer, require) = match a.origin {
            Origin::BackOffice(_) => (Viewer::BackOffice, false),
            Origin::Preregistration | Origin::Federated => (Viewer::User, false),
            Origin::Registration | Origin::Code => (Viewer::User, true),
        };
        let values = self
            .schemas
            .account_values(flock.id, &a.profile, viewer, require)
            .await?;
        let generated = match (a.mail, &a.password) {
            (FirstMail::GeneratedPassword, Some(p)) => Some(p.clone()),
            _ => None,
        };
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
        let now = self.clock.now();
        let id = UserId::new();
        let proven = matches!(a.origin, Origin::Code | Origin::Federated);
        let d = a.directory;
        let row = NewUser {
            id,
            email: a.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: a.phone.as_ref().map(|p| p.as_str().to_owned()),
            password_hash: hash,
            status: status.as_str().to_owned(),
            role: a.role.as_str().to_owned(),
            first_name: a.fields.first_name,
            last_name: a.fields.last_name,
            locale: a.fields.locale,
            email_verified: proven && a.email.is_some(),
            phone_verified: proven && a.phone.is_some(),
            opt_outs: a.fields.opt_outs,
            terms_accepted_at: a.terms_accepted.then_some(now),
            source: a.source,
            directory: DirectoryRow {
                username: d.username,
                company: d.company,
                picture_url: d.picture_url,
                external_id: d.external_id,
                referer: d.referer,
                note: d.note,
                kind: d.kind.as_str().to_owned(),
                registration_number: d.registration_number,
                vat_number: d.vat_number,
                business: d.business,
                bo_access: d.bo_access,
                api_access: d.api_access,
            },
            registered_at: (status != UserStatus::Unclaimed).then_some(now),
            created_at: now,
            last_sign_in_at: None,
        };
        let (token, mail) = self.first_mail(flock, &a.mail, status, &row, generated)?;
        let events = new_user_events(&row, a.origin);
        let db = self.scoped(flock.id);
        match db
            .user_insert(row.clone(), token, mail, values, a.identity, events)
            .await
        {
            Ok(()) => {}
            Err(DbError::Conflict(_)) => return Err(self.which_taken(flock, &row).await?),
            Err(e) => return Err(e.into()),
        }
        self.get_fresh(flock.id, id).await
    }

    /// The first mail of a new account (and the secret its link carries), per `mail`.
    fn first_mail(
        &self,
        flock: &Flock,
        mail: &FirstMail,
        status: UserStatus,
        row: &NewUser,
        generated: Option<SecretString>,
    ) -> Result<
        (
            Option<crate::db::user::tokens::NewToken>,
            Option<crate::db::mail::NewMail>,
        ),
        UserError,
    > {
        let Some(to) = row.email.as_deref() else {
            return Ok((None, None));
        };
        let waits = matches!(
            status,
            UserStatus::ActivationRequired | UserStatus::Preregistered
        );
        let first_name = row.first_name.as_deref();
        let now = row.created_at;
        let linked = |what| {
            self.token_mail(flock, what, row.id, to, first_name, now)
                .map(|(t, m)| (Some(t), Some(m)))
        };
        let plain = |kind, secret: Option<&str>| -> Result<_, UserError> {
            let input = MailInput {
                to,
                user: Some(row.id),
                first_name,
                link: None,
                ttl_hours: 0,
                secret,
            };
            Ok((None, Some(self.mail.compose(flock, kind, input, now)?)))
        };
        match mail {
            FirstMail::None => Ok((None, None)),
            FirstMail::ActivationIfWaiting | FirstMail::Welcome if waits => {
                linked(Mailed::Activation)
            }
            FirstMail::ActivationIfWaiting => Ok((None, None)),
            FirstMail::Welcome if status == UserStatus::Unclaimed => linked(Mailed::Claim),
            FirstMail::Welcome => plain(MailKind::Welcome, None),
            FirstMail::GeneratedPassword => {
                let p = generated.as_ref().map(|p| p.expose_secret().to_owned());
                plain(MailKind::Password, p.as_deref())
            }
        }
    }

    /// Which unique field another account already holds.
    async fn which_taken(&self, flock: &Flock, row: &NewUser) -> Result<UserError, UserError> {
        let db = self.scoped(flock.id);
        if let Some(e) = &row.email {
            // The same address, or one that looks the same.
            if db.user_by_email_key(e).await?.is_some() {
                return Ok(UserError::EmailTaken);
            }
        }
        if let Some(p) = &row.phone {
            if db.user_by_phone(p).await?.is_some() {
                return Ok(UserError::PhoneTaken);
            }
        }
        if let Some(u) = &row.directory.username {
            if db.user_by_username(u).await?.is_some() {
                return Ok(UserError::Taken("username"));
            }
        }
        Ok(UserError::Taken("external_id"))
    }

    /// A business contact of this flock that a person may be attached to.
    pub(super) async fn check_business(&self, flock: &Flock, id: UserId) -> Result<(), UserError> {
        match self.get(flock.id, id).await {
            Ok(b) if b.directory.kind == super::Kind::Business => Ok(()),
            Ok(_) | Err(UserError::NotFound) => Err(UserError::Invalid(Invalid::new(
                "invalid_business",
                "business_id",
                "business_id must name a business contact of this flock",
            ))),
            Err(e) => Err(e),
        }
    }
}

/// The events of a new account: `user.created` for every one (claimed or not), and
/// `user.registered` for the self-service ones (a back-office contact registers when its
/// owner claims it).
fn new_user_events(row: &NewUser, origin: Origin) -> Vec<crate::db::webhooks::NewEvent> {
    // Ids and states only: no personal data that would outlive the account's erasure in
    // the event log (receivers read the user through the API).
    let data = serde_json::json!({
        "user_id": row.id.0,
        "status": row.status,
        "role": row.role,
        "has_email": row.email.is_some(),
        "has_phone": row.phone.is_some(),
    });
    let mut events = vec![crate::db::webhooks::NewEvent {
        kind: "user.created",
        data: data.clone(),
        at: row.created_at,
        user: Some(row.id.0),
        ..Default::default()
    }];
    if !matches!(origin, Origin::BackOffice(_)) {
        events.push(crate::db::webhooks::NewEvent {
            kind: "user.registered",
            data,
            at: row.created_at,
            user: Some(row.id.0),
            ..Default::default()
        });
    }
    events
}
