//! User files: one row per file (its metadata and which renditions exist); the bytes
//! live in the file store under `{flock}/{user}/{file}/{original|s|m|l}`.
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
enum UserFiles {
    Table,
    Id,
    FlockId,
    UserId,
    Position,
    Name,
    ContentType,
    Size,
    Width,
    Height,
    Renditions,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UserFiles::Table)
                .col(uuid(UserFiles::Id).primary_key())
                .col(uuid(UserFiles::FlockId))
                .col(uuid(UserFiles::UserId))
                .col(integer(UserFiles::Position))
                .col(string_len(UserFiles::Name, 255))
                .col(string_len(UserFiles::ContentType, 100))
                .col(big_integer(UserFiles::Size))
                .col(integer_null(UserFiles::Width))
                .col(integer_null(UserFiles::Height))
                .col(json(UserFiles::Renditions))
                .col(uuid(UserFiles::Version))
                .col(timestamp_with_time_zone(UserFiles::CreatedAt))
                .col(timestamp_with_time_zone(UserFiles::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UserFiles::Table, UserFiles::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(UserFiles::Table, UserFiles::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_user_files_flock_user_position")
                .table(UserFiles::Table)
                .col(UserFiles::FlockId)
                .col(UserFiles::UserId)
                .col(UserFiles::Position)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UserFiles::Table).to_owned())
            .await
    }
}
