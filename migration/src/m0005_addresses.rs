//! Addresses by type, and change requests for the types a flock approves.
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
enum Addresses {
    Table,
    Id,
    FlockId,
    UserId,
    Kind,
    Fields,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AddressRequests {
    Table,
    Id,
    FlockId,
    UserId,
    AddressId,
    Status,
    OldFields,
    NewFields,
    CreatedAt,
    DecidedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Addresses::Table)
                .col(uuid(Addresses::Id).primary_key())
                .col(uuid(Addresses::FlockId))
                .col(uuid(Addresses::UserId))
                .col(string_len(Addresses::Kind, 32))
                .col(json(Addresses::Fields))
                .col(timestamp_with_time_zone(Addresses::CreatedAt))
                .col(timestamp_with_time_zone(Addresses::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Addresses::Table, Addresses::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Addresses::Table, Addresses::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_addresses_flock_user_kind")
                .table(Addresses::Table)
                .col(Addresses::FlockId)
                .col(Addresses::UserId)
                .col(Addresses::Kind)
                .col(Addresses::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AddressRequests::Table)
                .col(uuid(AddressRequests::Id).primary_key())
                .col(uuid(AddressRequests::FlockId))
                .col(uuid(AddressRequests::UserId))
                .col(uuid(AddressRequests::AddressId))
                .col(string_len(AddressRequests::Status, 16))
                .col(json(AddressRequests::OldFields))
                .col(json(AddressRequests::NewFields))
                .col(timestamp_with_time_zone(AddressRequests::CreatedAt))
                .col(timestamp_with_time_zone_null(AddressRequests::DecidedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(AddressRequests::Table, AddressRequests::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AddressRequests::Table, AddressRequests::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The back office's queue (by status, oldest first) and a user's requests.
        m.create_index(
            Index::create()
                .name("ix_address_requests_flock_status_created")
                .table(AddressRequests::Table)
                .col(AddressRequests::FlockId)
                .col(AddressRequests::Status)
                .col(AddressRequests::CreatedAt)
                .col(AddressRequests::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_address_requests_flock_user")
                .table(AddressRequests::Table)
                .col(AddressRequests::FlockId)
                .col(AddressRequests::UserId)
                .col(AddressRequests::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AddressRequests::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Addresses::Table).to_owned())
            .await?;
        Ok(())
    }
}
