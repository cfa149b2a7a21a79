//! The one integration-test binary. Every test spawns its own app (fresh database, fresh
//! KV namespace) on the backends the environment names: temp SQLite + embedded KV by
//! default, PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod process;

mod accounts_flows;
mod accounts_mail;
mod accounts_security;
mod crash;
mod errors;
mod flocks;
mod isolation;
mod isolation_matrix;
mod limits_counters;
mod limits_login;
mod logs;
mod otp_codes;
mod otp_limits;
mod otp_races;
mod otp_sms;
mod redis_outage;
mod spec;
mod tokens_cookies;
mod tokens_devices;
mod tokens_forged;
mod tokens_keys;
mod tokens_refresh;
mod tokens_revocation;
mod tokens_sessions;
mod user;
