//! Flocks, their signing keys and API keys, platform keys, and users.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Flocks {
    Table,
    Id,
    Slug,
    Name,
    Status,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SigningKeys {
    Table,
    Id,
    FlockId,
    Kid,
    Algorithm,
    PrivateDer,
    PublicRaw,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    FlockId,
    Prefix,
    SecretHash,
    Name,
    Scopes,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PlatformKeys {
    Table,
    Id,
    Prefix,
    SecretHash,
    Name,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    FlockId,
    Email,
    Phone,
    PasswordHash,
    Status,
    Role,
    FirstName,
    LastName,
    Locale,
    EmailVerified,
    PhoneVerified,
    OptOuts,
    TermsAcceptedAt,
    Source,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

fn flock_fk(table: impl IntoIden + Clone, col: impl IntoIden + Clone) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Flocks::Table, Flocks::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Flocks::Table)
                .col(uuid(Flocks::Id).primary_key())
                .col(string_len_uniq(Flocks::Slug, 63))
                .col(string_len(Flocks::Name, 200))
                .col(string_len(Flocks::Status, 16))
                .col(json(Flocks::Settings))
                .col(timestamp_with_time_zone(Flocks::CreatedAt))
                .col(timestamp_with_time_zone(Flocks::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(uuid(SigningKeys::Id).primary_key())
                .col(uuid(SigningKeys::FlockId))
                .col(string_len_uniq(SigningKeys::Kid, 64))
                .col(string_len(SigningKeys::Algorithm, 16))
                .col(blob(SigningKeys::PrivateDer))
                .col(blob(SigningKeys::PublicRaw))
                .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                .foreign_key(&mut flock_fk(SigningKeys::Table, SigningKeys::FlockId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_signing_keys_flock")
                .table(SigningKeys::Table)
                .col(SigningKeys::FlockId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(uuid(ApiKeys::Id).primary_key())
                .col(uuid(ApiKeys::FlockId))
                .col(string_len_uniq(ApiKeys::Prefix, 32))
                .col(blob(ApiKeys::SecretHash))
                .col(string_len(ApiKeys::Name, 200))
                .col(json(ApiKeys::Scopes))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .foreign_key(&mut flock_fk(ApiKeys::Table, ApiKeys::FlockId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_keys_flock")
                .table(ApiKeys::Table)
                .col(ApiKeys::FlockId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PlatformKeys::Table)
                .col(uuid(PlatformKeys::Id).primary_key())
                .col(string_len_uniq(PlatformKeys::Prefix, 32))
                .col(blob(PlatformKeys::SecretHash))
                .col(string_len(PlatformKeys::Name, 200))
                .col(timestamp_with_time_zone(PlatformKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(PlatformKeys::RevokedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid(Users::Id).primary_key())
                .col(uuid(Users::FlockId))
                .col(string_len_null(Users::Email, 320))
                .col(string_len_null(Users::Phone, 20))
                .col(text_null(Users::PasswordHash))
                .col(string_len(Users::Status, 32))
                .col(string_len(Users::Role, 16))
                .col(string_len_null(Users::FirstName, 200))
                .col(string_len_null(Users::LastName, 200))
                .col(string_len_null(Users::Locale, 35))
                .col(boolean(Users::EmailVerified))
                .col(boolean(Users::PhoneVerified))
                .col(json(Users::OptOuts))
                .col(timestamp_with_time_zone_null(Users::TermsAcceptedAt))
                .col(string_len_null(Users::Source, 100))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .col(timestamp_with_time_zone_null(Users::DeletedAt))
                .foreign_key(&mut flock_fk(Users::Table, Users::FlockId))
                .to_owned(),
        )
        .await?;
        // Uniqueness is per flock. NULLs are distinct in both PostgreSQL and SQLite, so
        // users without an email (phone-only) do not collide.
        m.create_index(
            Index::create()
                .name("ux_users_flock_email")
                .table(Users::Table)
                .col(Users::FlockId)
                .col(Users::Email)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_users_flock_phone")
                .table(Users::Table)
                .col(Users::FlockId)
                .col(Users::Phone)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Users::Table.into_iden(),
            PlatformKeys::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            Flocks::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
