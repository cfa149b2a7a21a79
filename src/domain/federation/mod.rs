//! Federation: signing in with an identity held at another provider (Google, Apple, any
//! OpenID Connect or OAuth 2 provider a flock configures), and the identities a user
//! holds there.
//!
//! By file (each an `impl FederationService` unless said otherwise):
//! - `providers` — a flock's providers: configure (secrets sealed, never returned), list,
//!   remove; where each kind's endpoints are (`Endpoints`).
//! - `keys` — `ProviderKeys`: discovery documents and key sets (JWKS), cached for their
//!   HTTP lifetime, refetched on an unknown key id at most once a minute.
//! - `verify` — checking an ID token (signature, issuer, audience, times on the injected
//!   clock, nonce) into `Claims`; `apple` — Apple's client secret (an ES256 JWT).
//! - `flow` — the authorization-code flow: start (state, PKCE, nonce in the KV store),
//!   callback (code exchange, ID token or userinfo), the one-time exchange code.
//! - `linking` — who a verified identity is: the linking rules (see `docs/FEDERATION.md`),
//!   explicit linking, listing and unlinking identities.
//! - `redirects` — the flock's redirect allow-list.
//!
//! Sessions are granted only by [`SignInService::federated`]; accounts are created only by
//! `UserService::create_account` (with the identity in the same transaction).
mod apple;
mod flow;
mod keys;
mod linking;
mod providers;
mod redirects;
mod verify;

pub use flow::{binding_cookie, CallbackInput, CallbackOutcome, IdTokenInput, StartInput, Started};
pub use keys::ProviderKeys;
pub use linking::Identity;
pub use providers::{ClaimMap, Provider, ProviderConfig, ProviderInput, ProviderKind};
pub(crate) use redirects::check_origin_entry;
pub use redirects::check_redirect;
pub use verify::Claims;

use super::signin::{SignInError, SignInService};
use super::user::{UserError, UserService};
use super::{InfraError, Invalid};
use crate::db::{Db, DbError};
use crate::infra::clock::Clock;
use crate::infra::kv::{Kv, KvError};
use crate::infra::outbound::{Outbound, OutboundError};
use crate::infra::sealed::{SealError, Sealer};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0}")]
    Invalid(Invalid),
    /// No enabled provider of that name in the flock.
    #[error("no such provider")]
    UnknownProvider,
    /// The ID token (or the provider's answer) failed a check; the code says which.
    #[error("{1}")]
    Rejected(&'static str, String),
    /// A state, exchange code or nonce that is unknown, used, expired or of another flock.
    #[error("{1}")]
    Expired(&'static str, &'static str),
    /// The identity cannot be attached or used as asked (linking rules).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The linking rules or the flock refuse this sign-in.
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("no such identity")]
    IdentityNotFound,
    /// The provider could not be reached or answered garbage.
    #[error("identity provider unavailable: {0}")]
    ProviderDown(String),
    /// A provider secret cannot be opened (sealing key changed or lost).
    #[error("provider secret unreadable")]
    SecretUnreadable,
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    SignIn(#[from] SignInError),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Invalid> for FederationError {
    fn from(i: Invalid) -> Self {
        FederationError::Invalid(i)
    }
}

impl From<DbError> for FederationError {
    fn from(e: DbError) -> Self {
        FederationError::Infra(e.into())
    }
}

impl From<KvError> for FederationError {
    fn from(e: KvError) -> Self {
        FederationError::Infra(e.into())
    }
}

impl From<SealError> for FederationError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Kv(k) => k.into(),
            SealError::BadKey | SealError::Unreadable => FederationError::SecretUnreadable,
        }
    }
}

impl From<OutboundError> for FederationError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Refused(m) => FederationError::Invalid(Invalid::new(
                "provider_url_refused",
                "issuer",
                format!("Fold may not call this provider URL: {m}"),
            )),
            OutboundError::Failed(m) => FederationError::ProviderDown(m),
        }
    }
}

/// Non-empty, at most `max` bytes, no control characters.
pub(super) fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

/// A provider name: 1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter.
pub(crate) fn is_provider_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= 32
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// Lifetimes and allowances of the flows (from `[federation]`).
#[derive(Debug, Clone)]
pub struct FederationTimes {
    /// The deployment's public URL (`http.public_url`): callbacks are under it.
    pub public_url: String,
    pub state_ttl: Duration,
    pub exchange_ttl: Duration,
    pub leeway_secs: i64,
}

#[derive(Clone)]
pub struct FederationService {
    db: Db,
    kv: Kv,
    clock: Clock,
    sealer: Sealer,
    outbound: Outbound,
    keys: ProviderKeys,
    users: UserService,
    signin: SignInService,
    times: FederationTimes,
    apple_secrets: apple::AppleSecrets,
}

impl FederationService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        kv: Kv,
        clock: Clock,
        sealer: Sealer,
        outbound: Outbound,
        keys: ProviderKeys,
        users: UserService,
        signin: SignInService,
        times: FederationTimes,
    ) -> Self {
        Self {
            db,
            kv,
            clock,
            sealer,
            outbound,
            keys,
            users,
            signin,
            times,
            apple_secrets: apple::AppleSecrets::default(),
        }
    }
}
