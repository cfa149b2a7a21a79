//! The sessions area (`domain/sessions`, `api/sessions`): sessions and the credentials
//! that carry them.
//! - `list` — session list and revocation, last-seen tracking;
//! - `refresh` — battery 14 (rotation, grace window, family revocation, the race);
//! - `devices` — device, autologin and visitor tokens; check / mark active / online;
//! - `cookies` — cookie mode for browser portals;
//! - `revocation` — battery 15 (revocation latency per credential type).
mod cookies;
mod devices;
mod list;
mod refresh;
mod revocation;
