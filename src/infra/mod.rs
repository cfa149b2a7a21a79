//! Infrastructure we own or wrap: clock, secrets, the KV store, mail, metrics.
pub mod clock;
pub mod ip_limit;
pub mod kv;
pub mod mail;
pub mod metrics;
pub mod secret;
pub mod sms;
