//! Wire types of the directory: the back office's view of a user, pages, and the enums
//! of statuses, roles and kinds.
use crate::domain::pages::Page;
use crate::domain::user::{Kind, Role, User, UserStatus};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use std::collections::BTreeMap;
use uuid::Uuid;

/// An account's status. Seed 001's numbers: 0 `inactive`, 1 `active`, 2 `deleted`,
/// 3 `pending_approval`; seed 004's `activation-required` is `activation_required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StatusWire {
    Preregistered,
    ActivationRequired,
    PendingApproval,
    Active,
    Inactive,
    Deleted,
    Unclaimed,
}

impl From<StatusWire> for UserStatus {
    fn from(s: StatusWire) -> Self {
        match s {
            StatusWire::Preregistered => UserStatus::Preregistered,
            StatusWire::ActivationRequired => UserStatus::ActivationRequired,
            StatusWire::PendingApproval => UserStatus::PendingApproval,
            StatusWire::Active => UserStatus::Active,
            StatusWire::Inactive => UserStatus::Inactive,
            StatusWire::Deleted => UserStatus::Deleted,
            StatusWire::Unclaimed => UserStatus::Unclaimed,
        }
    }
}

impl From<UserStatus> for StatusWire {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Preregistered => StatusWire::Preregistered,
            UserStatus::ActivationRequired => StatusWire::ActivationRequired,
            UserStatus::PendingApproval => StatusWire::PendingApproval,
            UserStatus::Active => StatusWire::Active,
            UserStatus::Inactive => StatusWire::Inactive,
            UserStatus::Deleted => StatusWire::Deleted,
            UserStatus::Unclaimed => StatusWire::Unclaimed,
        }
    }
}

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RoleWire {
    Client,
    Manager,
}

impl From<RoleWire> for Role {
    fn from(r: RoleWire) -> Self {
        match r {
            RoleWire::Client => Role::Client,
            RoleWire::Manager => Role::Manager,
        }
    }
}

impl From<Role> for RoleWire {
    fn from(r: Role) -> Self {
        match r {
            Role::Manager => RoleWire::Manager,
            Role::Client | Role::Limited => RoleWire::Client,
        }
    }
}

/// A person (B2C) or a business (B2B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum KindWire {
    Person,
    Business,
}

impl From<KindWire> for Kind {
    fn from(k: KindWire) -> Self {
        match k {
            KindWire::Person => Kind::Person,
            KindWire::Business => Kind::Business,
        }
    }
}

impl From<Kind> for KindWire {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Person => KindWire::Person,
            Kind::Business => KindWire::Business,
        }
    }
}

/// A user as the back office sees it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DirectoryUser {
    id: Uuid,
    email: Option<String>,
    phone: Option<String>,
    status: StatusWire,
    role: RoleWire,
    kind: KindWire,
    first_name: Option<String>,
    last_name: Option<String>,
    locale: Option<String>,
    email_verified: bool,
    phone_verified: bool,
    /// The back office marked the email invalid: no mail goes to it.
    email_invalid: bool,
    email_invalid_at: Option<DateTime<Utc>>,
    /// Set by `users_confirm`.
    confirmed_at: Option<DateTime<Utc>>,
    username: Option<String>,
    company: Option<String>,
    picture_url: Option<String>,
    /// The user's id in the flock's own systems.
    external_id: Option<String>,
    referer: Option<String>,
    /// Visible to the back office only.
    note: Option<String>,
    registration_number: Option<String>,
    vat_number: Option<String>,
    /// The business contact this person belongs to.
    business_id: Option<Uuid>,
    /// May use the flock's back office.
    bo_access: bool,
    /// May use the flock's apps.
    api_access: bool,
    source: Option<String>,
    opt_outs: BTreeMap<String, bool>,
    has_password: bool,
    /// Registered (a "registered user"); false while it waits to be claimed: a new user,
    /// not yet a registered one.
    registered: bool,
    registered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for DirectoryUser {
    fn from(u: User) -> Self {
        let d = u.directory;
        Self {
            id: u.id.0,
            email: u.email,
            phone: u.phone,
            status: u.status.into(),
            role: u.role.into(),
            kind: d.kind.into(),
            first_name: u.first_name,
            last_name: u.last_name,
            locale: u.locale,
            email_verified: u.email_verified,
            phone_verified: u.phone_verified,
            email_invalid: u.email_invalid_at.is_some(),
            email_invalid_at: u.email_invalid_at,
            confirmed_at: u.confirmed_at,
            username: d.username,
            company: d.company,
            picture_url: d.picture_url,
            external_id: d.external_id,
            referer: d.referer,
            note: d.note,
            registration_number: d.registration_number,
            vat_number: d.vat_number,
            business_id: d.business.map(|b| b.0),
            bo_access: d.bo_access,
            api_access: d.api_access,
            source: u.source,
            opt_outs: serde_json::from_value(u.opt_outs).unwrap_or_default(),
            has_password: u.has_password,
            registered: u.registered_at.is_some(),
            registered_at: u.registered_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A page of users.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserPage {
    users: Vec<DirectoryUser>,
    /// Whether another page follows.
    has_more: bool,
    /// Pass as `cursor` (with the same filters) for the next page.
    next: Option<String>,
}

impl From<Page<User>> for UserPage {
    fn from(p: Page<User>) -> Self {
        Self {
            users: p.items.into_iter().map(DirectoryUser::from).collect(),
            has_more: p.next.is_some(),
            next: p.next,
        }
    }
}
