//! Profile data: each flock's field schema (one versioned JSON document) and the users'
//! values, typed JSON, with a search key for exact searches (indexed flock first) and a
//! `public` flag kept in step with the schema (the values shown as `flock_data`).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Flocks {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProfileSchemas {
    Table,
    FlockId,
    Version,
    Doc,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProfileValues {
    Table,
    FlockId,
    UserId,
    Field,
    Value,
    SearchKey,
    Public,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ProfileSchemas::Table)
                .col(uuid(ProfileSchemas::FlockId).primary_key())
                .col(big_integer(ProfileSchemas::Version))
                .col(json(ProfileSchemas::Doc))
                .col(timestamp_with_time_zone(ProfileSchemas::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProfileSchemas::Table, ProfileSchemas::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ProfileValues::Table)
                .col(uuid(ProfileValues::FlockId))
                .col(uuid(ProfileValues::UserId))
                .col(string_len(ProfileValues::Field, 64))
                .col(json(ProfileValues::Value))
                .col(string_len_null(ProfileValues::SearchKey, 255))
                .col(boolean(ProfileValues::Public))
                .col(timestamp_with_time_zone(ProfileValues::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ProfileValues::UserId)
                        .col(ProfileValues::Field),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProfileValues::Table, ProfileValues::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProfileValues::Table, ProfileValues::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "ALTER TABLE profile_values ALTER COLUMN search_key TYPE varchar(255) COLLATE \"C\"",
                )
                .await?;
        }
        // Exact searches by field value, and a field's values a page at a time (schema
        // checks, purges).
        m.create_index(
            Index::create()
                .name("ix_profile_values_flock_field_key")
                .table(ProfileValues::Table)
                .col(ProfileValues::FlockId)
                .col(ProfileValues::Field)
                .col(ProfileValues::SearchKey)
                .col(ProfileValues::UserId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_profile_values_flock_field_user")
                .table(ProfileValues::Table)
                .col(ProfileValues::FlockId)
                .col(ProfileValues::Field)
                .col(ProfileValues::UserId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ProfileValues::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ProfileSchemas::Table).to_owned())
            .await?;
        Ok(())
    }
}
