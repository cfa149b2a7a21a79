//! Fold: a multi-tenant identity platform. Layers: `api/` (HTTP) → `domain/` (rules) →
//! `db/` (SeaORM, always scoped by flock) + `infra/` (KV, clock, secrets, metrics).
pub mod api;
pub mod app;
pub mod config;
// The one place SeaORM queries may be built (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod db;
pub mod domain;
pub mod ids;
pub mod infra;
pub mod telemetry;
