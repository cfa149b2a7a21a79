//! Schema migrations. Tests and `fold migrate` run exactly these; the schema is never
//! derived from the entities.
// Migrations are schema changes written in SQL where the builder has no word for them;
// the rule that queries live in `src/db/` (clippy.toml) is for the server crate.
#![allow(clippy::disallowed_methods)]
pub use sea_orm_migration::prelude::*;

pub mod lookalike;
mod m0001_foundation;
mod m0002_accounts;
mod m0003_directory;
mod m0004_profile;
mod m0005_addresses;
mod m0006_files;
mod m0007_federation;
mod m0008_admin;
mod m0009_webhooks;
mod m0010_audit;
mod m0011_email_keys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_accounts::Migration),
            Box::new(m0003_directory::Migration),
            Box::new(m0004_profile::Migration),
            Box::new(m0005_addresses::Migration),
            Box::new(m0006_files::Migration),
            Box::new(m0007_federation::Migration),
            Box::new(m0008_admin::Migration),
            Box::new(m0009_webhooks::Migration),
            Box::new(m0010_audit::Migration),
            Box::new(m0011_email_keys::Migration),
        ]
    }
}
