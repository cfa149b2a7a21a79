//! Creating users and contacts from the back office.
use super::DirectoryService;
use crate::domain::flocks::Flock;
use crate::domain::user::{
    fields, AccountFields, DirectoryFields, Email, FirstMail, Kind, NewAccount, Origin, Phone,
    Role, User, UserError, UserStatus,
};
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::SecretString;
use std::collections::BTreeMap;

/// A user (or contact) to create, as the back office sent it.
#[derive(Default)]
pub struct CreateUser {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: Option<SecretString>,
    /// Generate a strong password and mail it to the user.
    pub generate_password: bool,
    /// Send the first mail (activation link, claim link or welcome); default true.
    pub send_email: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub opt_outs: Option<BTreeMap<String, bool>>,
    pub source: Option<String>,
    pub referer: Option<String>,
    pub note: Option<String>,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub company: Option<String>,
    pub picture_url: Option<String>,
    /// The initial status (default `active`).
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
    pub bo_access: Option<bool>,
    pub api_access: Option<bool>,
    pub kind: Option<Kind>,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    /// The business contact a person belongs to.
    pub business_id: Option<UserId>,
    /// Profile field values (name → value), checked against the flock's schema.
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The statuses the back office may create an account in.
const INITIAL: [UserStatus; 5] = [
    UserStatus::Active,
    UserStatus::Inactive,
    UserStatus::PendingApproval,
    UserStatus::ActivationRequired,
    UserStatus::Unclaimed,
];

fn invalid(code: &'static str, field: &'static str, message: &str) -> UserError {
    UserError::Invalid(Invalid::new(code, field, message))
}

/// The directory fields of a new account, each by its rule.
pub(super) fn directory_fields(c: &mut CreateUser) -> Result<DirectoryFields, Invalid> {
    let kind = c.kind.unwrap_or_default();
    let company = fields::optional_text(c.company.take(), "company", 200)?;
    if kind == Kind::Business && company.is_none() {
        return Err(Invalid::new(
            "company_required",
            "company",
            "a business contact needs its company name",
        ));
    }
    if kind == Kind::Business && c.business_id.is_some() {
        return Err(Invalid::new(
            "invalid_business",
            "business_id",
            "only a person can belong to a business",
        ));
    }
    Ok(DirectoryFields {
        username: fields::username(c.username.take())?,
        company,
        picture_url: fields::web_url(c.picture_url.take(), "picture_url")?,
        external_id: fields::external_id(c.external_id.take())?,
        referer: fields::optional_text(c.referer.take(), "referer", 2048)?,
        note: fields::multiline_text(c.note.take(), "note", 2000)?,
        kind,
        registration_number: fields::optional_text(
            c.registration_number.take(),
            "registration_number",
            64,
        )?,
        vat_number: fields::optional_text(c.vat_number.take(), "vat_number", 64)?,
        business: c.business_id,
        bo_access: c.bo_access.unwrap_or(false),
        api_access: c.api_access.unwrap_or(true),
    })
}

impl DirectoryService {
    /// Creates a user or a contact. A contact (`unclaimed`) may come without any
    /// identifier; its owner claims it later (a one-time code, a claim link).
    pub async fn create(&self, flock: &Flock, mut c: CreateUser) -> Result<User, UserError> {
        let email = match c.email.take().filter(|e| !e.trim().is_empty()) {
            Some(e) => Some(Email::parse(&e).map_err(UserError::Invalid)?),
            None => None,
        };
        let phone = match c.phone.take().filter(|p| !p.trim().is_empty()) {
            Some(p) => Some(Phone::parse(&p).map_err(UserError::Invalid)?),
            None => None,
        };
        let fields = AccountFields::parse(
            c.first_name.take(),
            c.last_name.take(),
            c.locale.take(),
            c.opt_outs.take(),
        )
        .map_err(UserError::Invalid)?;
        let directory = directory_fields(&mut c).map_err(UserError::Invalid)?;
        let source =
            fields::optional_text(c.source.take(), "source", 100).map_err(UserError::Invalid)?;
        let status = c.status.unwrap_or(UserStatus::Active);
        if !INITIAL.contains(&status) {
            return Err(invalid(
                "invalid_status",
                "status",
                "a new account starts as active, inactive, pending_approval, activation_required or unclaimed",
            ));
        }
        let role = c.role.unwrap_or(Role::Client);
        if role == Role::Limited {
            return Err(invalid("invalid_role", "role", "role is client or manager"));
        }
        let send = c.send_email.unwrap_or(true);
        let (password, mail) =
            match (c.password.take(), c.generate_password) {
                (Some(_), true) => {
                    return Err(invalid(
                        "password_conflict",
                        "generate_password",
                        "give a password or generate_password, not both",
                    ))
                }
                (None, true) if email.is_none() || !send => return Err(invalid(
                    "cannot_mail_password",
                    "generate_password",
                    "a generated password is mailed: it needs an email and send_email not false",
                )),
                (None, true) => {
                    let generated = crate::infra::secret::random_alnum(20);
                    (
                        Some(SecretString::from(generated)),
                        FirstMail::GeneratedPassword,
                    )
                }
                (p, false) if send => (p, FirstMail::Welcome),
                (p, false) => (p, FirstMail::None),
            };
        let account = NewAccount {
            email,
            phone,
            password,
            fields,
            directory,
            role,
            origin: Origin::BackOffice(status),
            terms_accepted: false,
            source,
            mail,
            profile: c.fields,
            identity: None,
        };
        self.users.create_account(flock, account).await
    }
}
