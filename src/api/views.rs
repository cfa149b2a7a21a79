//! Wire types shared by every area that signs users in: the user and the session grant.
use super::directory::views::StatusWire;
use crate::domain::signin::SignedIn;
use crate::domain::user::{PublicData, Role, User};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The current user.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserView {
    id: Uuid,
    email: Option<String>,
    phone: Option<String>,
    status: StatusWire,
    role: RoleView,
    first_name: Option<String>,
    last_name: Option<String>,
    locale: Option<String>,
    email_verified: bool,
    phone_verified: bool,
    username: Option<String>,
    company: Option<String>,
    picture_url: Option<String>,
    /// The user's public meta (key → value); private meta is for the back office only.
    meta: Option<BTreeMap<String, String>>,
    /// The user's public profile values (field → typed value), as the flock's schema
    /// marks them public.
    flock_data: Option<BTreeMap<String, serde_json::Value>>,
    /// The user's files in order, with signed paths to the original and the renditions.
    files: Option<Vec<super::files::FileView>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl UserView {
    /// The view with the user's public meta and profile values.
    pub fn with_public(user: User, public: PublicData) -> Self {
        let mut v = Self::from(user);
        v.meta = Some(public.meta);
        v.flock_data = Some(public.flock_data);
        v.files = Some(public.files.into_iter().map(Into::into).collect());
        v
    }
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            email: u.email,
            phone: u.phone,
            status: u.status.into(),
            role: u.role.into(),
            first_name: u.first_name,
            last_name: u.last_name,
            locale: u.locale,
            email_verified: u.email_verified,
            phone_verified: u.phone_verified,
            username: u.directory.username,
            company: u.directory.company,
            picture_url: u.directory.picture_url,
            meta: None,
            flock_data: None,
            files: None,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The role an account or a session acts in: `client` (the flock's apps), `manager` (the
/// back office as well), or `preregistered` (the limited session of an account created
/// by the back office that its owner has not completed yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RoleView {
    Client,
    Manager,
    Preregistered,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        match r {
            Role::Client => RoleView::Client,
            Role::Manager => RoleView::Manager,
            Role::Limited => RoleView::Preregistered,
        }
    }
}

/// How to send the access token: always `Bearer` (`Authorization: Bearer …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TokenType {
    Bearer,
}

/// A new session: what every sign-in path (password, activation, one-time code…) returns.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SessionView {
    /// The access token (JWT); send as `Authorization: Bearer …`.
    access_token: String,
    token_type: TokenType,
    /// When the access token expires (unix seconds).
    expires_at: i64,
    /// How many seconds the access token lives (from its issue).
    expires_in: i64,
    /// The session's id (`sid` in the token).
    session_id: String,
    /// When the session itself ends, whatever its use.
    session_expires_at: DateTime<Utc>,
    /// Opaque refresh token: exchange it at `POST /api/v1/{flock}/token/refresh` for a
    /// new access token and the next refresh token (each is single use; it lives as long
    /// as the session). Store it like a password.
    refresh_token: String,
    /// As carried in the session and the access token.
    role: RoleView,
    user: UserView,
}

impl SessionView {
    pub fn new(signed_in: SignedIn) -> Self {
        let SignedIn {
            user,
            grant,
            public,
            ..
        } = signed_in;
        Self {
            access_token: grant.access_token,
            token_type: TokenType::Bearer,
            expires_at: grant.access_expires_at,
            expires_in: grant.access_expires_at - grant.access_issued_at,
            role: grant.session.role.into(),
            session_id: grant.session.id.to_string(),
            session_expires_at: grant.session.expires_at,
            refresh_token: grant.refresh_token,
            user: UserView::with_public(user, public),
        }
    }
}
