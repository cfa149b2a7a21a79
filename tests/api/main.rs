//! The one integration-test binary. Every test spawns its own app (fresh database, fresh
//! KV namespace) on the backends the environment names: temp SQLite + embedded KV by
//! default, PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.
//!
//! The tree mirrors the source areas (`src/api`, `src/domain`, `src/db`): `flocks`,
//! `api_keys`, `signing`, `mail`, `user/`, `sessions/`, `signin/`, `otp/`, `limits/`,
//! `directory/`, `meta`, `groups`, `profile/`;
//! `battery/` holds the security battery items that cross every area. Helpers are in
//! `helpers/`. Battery item numbers refer to `docs/SECURITY.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod admin;
mod api_keys;
mod audit;
mod battery;
mod cli;
mod directory;
mod federation;
mod flocks;
mod groups;
mod kv;
mod limits;
mod mail;
mod meta;
mod otp;
mod profile;
mod replicas;
mod retention;
mod sessions;
mod signin;
mod signing;
mod stats;
mod user;
mod webhooks;
