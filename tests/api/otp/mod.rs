//! The one-time-code area (`domain/otp`, `api/otp`).
//! - `flows` — the portal flow, register-or-sign-in, identifier verification, reset;
//! - `properties` — battery 9 (digits, uniformity, TTL edges, single use, binding);
//! - `enumeration` — requesting a code under the protected policy;
//! - `limits` — battery 10 (guessing across resends), 12 (send abuse), 4 (spoofed IPs);
//! - `races` — battery 11 (races on verification);
//! - `sms` — SMS providers against a local HTTP server.
mod enumeration;
mod flows;
mod limits;
mod properties;
mod races;
mod sms;

const PHONE: &str = "+35799123456";
