//! Schema migrations. Tests and `fold migrate` run exactly these; the schema is never
//! derived from the entities.
pub use sea_orm_migration::prelude::*;

mod m0001_foundation;
mod m0002_accounts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_accounts::Migration),
        ]
    }
}
