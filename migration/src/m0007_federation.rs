//! Federation: the sign-in providers a flock trusts (Google, Apple, any OpenID Connect
//! or OAuth 2 provider), with their client secrets sealed, and the identities users hold
//! at them — unique per (flock, provider, subject), several per user.
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
enum FederationProviders {
    Table,
    Id,
    FlockId,
    Name,
    Kind,
    ClientId,
    SecretSealed,
    Config,
    Enabled,
    AllowSignup,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Identities {
    Table,
    Id,
    FlockId,
    UserId,
    Provider,
    Subject,
    Email,
    EmailVerified,
    CreatedAt,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FederationProviders::Table)
                .col(uuid(FederationProviders::Id).primary_key())
                .col(uuid(FederationProviders::FlockId))
                .col(string_len(FederationProviders::Name, 32))
                .col(string_len(FederationProviders::Kind, 16))
                .col(string_len(FederationProviders::ClientId, 255))
                .col(text_null(FederationProviders::SecretSealed))
                .col(json(FederationProviders::Config))
                .col(boolean(FederationProviders::Enabled))
                .col(boolean(FederationProviders::AllowSignup))
                .col(timestamp_with_time_zone(FederationProviders::CreatedAt))
                .col(timestamp_with_time_zone(FederationProviders::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(FederationProviders::Table, FederationProviders::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_federation_providers_flock_name")
                .table(FederationProviders::Table)
                .col(FederationProviders::FlockId)
                .col(FederationProviders::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Identities::Table)
                .col(uuid(Identities::Id).primary_key())
                .col(uuid(Identities::FlockId))
                .col(uuid(Identities::UserId))
                .col(string_len(Identities::Provider, 32))
                .col(string_len(Identities::Subject, 255))
                .col(string_len_null(Identities::Email, 320))
                .col(boolean(Identities::EmailVerified))
                .col(timestamp_with_time_zone(Identities::CreatedAt))
                .col(timestamp_with_time_zone(Identities::LastUsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Identities::Table, Identities::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Identities::Table, Identities::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_identities_flock_provider_subject")
                .table(Identities::Table)
                .col(Identities::FlockId)
                .col(Identities::Provider)
                .col(Identities::Subject)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_identities_flock_user")
                .table(Identities::Table)
                .col(Identities::FlockId)
                .col(Identities::UserId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Identities::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(FederationProviders::Table).to_owned())
            .await
    }
}
