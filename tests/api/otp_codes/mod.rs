//! One-time codes: the portal flow, register-or-sign-in, code properties (SECURITY.md
//! battery item 9), identifier verification and password reset by code.
//! Tests by group: `flows`, `properties`, `enumeration`.
mod enumeration;
mod flows;
mod properties;

const PHONE: &str = "+35799123456";
