//! Accounts: one-time secrets (activation, reset) and the durable mail outbox.
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
enum UserTokens {
    Table,
    Id,
    FlockId,
    UserId,
    Purpose,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MailOutbox {
    Table,
    Id,
    FlockId,
    UserId,
    Kind,
    ToAddr,
    FromAddr,
    Subject,
    TextBody,
    HtmlBody,
    Attempts,
    NextAttemptAt,
    SentAt,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UserTokens::Table)
                .col(uuid(UserTokens::Id).primary_key())
                .col(uuid(UserTokens::FlockId))
                .col(uuid(UserTokens::UserId))
                .col(string_len(UserTokens::Purpose, 16))
                .col(blob(UserTokens::TokenHash))
                .col(timestamp_with_time_zone(UserTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(UserTokens::UsedAt))
                .col(timestamp_with_time_zone(UserTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UserTokens::Table, UserTokens::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(UserTokens::Table, UserTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_user_tokens_flock_user")
                .table(UserTokens::Table)
                .col(UserTokens::FlockId)
                .col(UserTokens::UserId)
                .col(UserTokens::Purpose)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MailOutbox::Table)
                .col(uuid(MailOutbox::Id).primary_key())
                .col(uuid(MailOutbox::FlockId))
                .col(uuid_null(MailOutbox::UserId))
                .col(string_len(MailOutbox::Kind, 32))
                .col(string_len(MailOutbox::ToAddr, 320))
                .col(string_len_null(MailOutbox::FromAddr, 320))
                .col(string_len(MailOutbox::Subject, 300))
                .col(text(MailOutbox::TextBody))
                .col(text_null(MailOutbox::HtmlBody))
                .col(integer(MailOutbox::Attempts))
                .col(timestamp_with_time_zone(MailOutbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(MailOutbox::SentAt))
                .col(text_null(MailOutbox::LastError))
                .col(timestamp_with_time_zone(MailOutbox::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MailOutbox::Table, MailOutbox::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_mail_outbox_due")
                .table(MailOutbox::Table)
                .col(MailOutbox::SentAt)
                .col(MailOutbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_mail_outbox_flock_user")
                .table(MailOutbox::Table)
                .col(MailOutbox::FlockId)
                .col(MailOutbox::UserId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [MailOutbox::Table.into_iden(), UserTokens::Table.into_iden()] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
