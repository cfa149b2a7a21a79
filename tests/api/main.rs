//! The one integration-test binary. Every test spawns its own app (fresh database, fresh
//! KV namespace) on the backends the environment names: temp SQLite + embedded KV by
//! default, PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod accounts_flows;
mod accounts_mail;
mod accounts_security;
mod errors;
mod flocks;
mod isolation;
mod spec;
mod user;
