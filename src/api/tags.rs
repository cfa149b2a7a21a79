//! The tags that group operations in the spec (one per area of the API).
use poem_openapi::Tags;

#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and metrics.
    Ops,
    /// Platform operators: create and configure flocks (platform key).
    Platform,
    /// Self-service accounts: register, sign in, the current user.
    User,
    /// Public signing keys of a flock.
    Keys,
    /// One-time codes by email and SMS: sign in or register, verify an identifier,
    /// reset a password.
    Otp,
    /// The current user's sessions, sign-out and refresh tokens.
    Sessions,
    /// Flock API keys for servers (key-management scopes or the platform key).
    ApiKeys,
    /// The back office's user directory (flock API key): create, update, statuses,
    /// search, contacts, user meta.
    Directory,
    /// Groups of users (flock API key).
    Groups,
    /// Profile data: the flock's field schema and the users' cards.
    Profile,
    /// Addresses by type, and change requests for the types a flock approves.
    Addresses,
    /// User files: uploads, image renditions, signed download URLs.
    Files,
    /// Sign-in through providers (Google, Apple, OpenID Connect, OAuth 2): ID tokens,
    /// the code flow, the user's identities and linking.
    Federation,
    /// A flock's identity providers (flock API key).
    Providers,
    /// Administration: admin groups, their grants and members (flock API key); a
    /// manager's own grants.
    Admin,
    /// Webhook endpoints, deliveries and replays (Standard Webhooks).
    Webhooks,
    /// The audit log: query and NDJSON export.
    Audit,
    /// A flock's statistics.
    Stats,
}
