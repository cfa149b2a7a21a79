//! Events and webhooks: every event is a row written in the transaction of its change
//! (`events`, the outbox); the worker fans each out to the flock's endpoints
//! (`webhook_deliveries`, one per endpoint and event, retried on a schedule).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Flocks {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoints {
    Table,
    Id,
    FlockId,
    Url,
    EventTypes,
    SecretSealed,
    PreviousSecretSealed,
    PreviousUntil,
    Enabled,
    DisabledReason,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Id,
    FlockId,
    Type,
    OccurredAt,
    Data,
    FannedOut,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    FlockId,
    EndpointId,
    EventId,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatus,
    LastError,
    CreatedAt,
    UpdatedAt,
}

fn to_flock<T: IntoIden>(t: T, c: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(t, c)
        .to(Flocks::Table, Flocks::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookEndpoints::Table)
                .col(uuid(WebhookEndpoints::Id).primary_key())
                .col(uuid(WebhookEndpoints::FlockId))
                .col(text(WebhookEndpoints::Url))
                .col(json(WebhookEndpoints::EventTypes))
                .col(text(WebhookEndpoints::SecretSealed))
                .col(text_null(WebhookEndpoints::PreviousSecretSealed))
                .col(timestamp_with_time_zone_null(
                    WebhookEndpoints::PreviousUntil,
                ))
                .col(boolean(WebhookEndpoints::Enabled))
                .col(string_len_null(WebhookEndpoints::DisabledReason, 64))
                .col(timestamp_with_time_zone_null(
                    WebhookEndpoints::FailingSince,
                ))
                .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                .foreign_key(&mut to_flock(
                    WebhookEndpoints::Table,
                    WebhookEndpoints::FlockId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_endpoints_flock")
                .table(WebhookEndpoints::Table)
                .col(WebhookEndpoints::FlockId)
                .col(WebhookEndpoints::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(uuid(Events::Id).primary_key())
                .col(uuid(Events::FlockId))
                .col(string_len(Events::Type, 64))
                .col(timestamp_with_time_zone(Events::OccurredAt))
                .col(json(Events::Data))
                .col(boolean(Events::FannedOut))
                .foreign_key(&mut to_flock(Events::Table, Events::FlockId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_events_flock_occurred")
                .table(Events::Table)
                .col(Events::FlockId)
                .col(Events::OccurredAt)
                .to_owned(),
        )
        .await?;
        // Retention by type.
        m.create_index(
            Index::create()
                .name("ix_events_flock_type_occurred")
                .table(Events::Table)
                .col(Events::FlockId)
                .col(Events::Type)
                .col(Events::OccurredAt)
                .to_owned(),
        )
        .await?;
        // The worker's queue of events not yet fanned out (across flocks, like mail).
        m.create_index(
            Index::create()
                .name("ix_events_fanned_out")
                .table(Events::Table)
                .col(Events::FannedOut)
                .col(Events::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(uuid(WebhookDeliveries::Id).primary_key())
                .col(uuid(WebhookDeliveries::FlockId))
                .col(uuid(WebhookDeliveries::EndpointId))
                .col(uuid(WebhookDeliveries::EventId))
                .col(string_len(WebhookDeliveries::Status, 16))
                .col(integer(WebhookDeliveries::Attempts))
                .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                .col(integer_null(WebhookDeliveries::LastStatus))
                .col(text_null(WebhookDeliveries::LastError))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                .foreign_key(&mut to_flock(
                    WebhookDeliveries::Table,
                    WebhookDeliveries::FlockId,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                        .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                        .to(Events::Table, Events::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        // Deliveries go with their event (the cascade looks them up by event).
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_event")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EventId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_flock_endpoint")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::FlockId)
                .col(WebhookDeliveries::EndpointId)
                .col(WebhookDeliveries::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WebhookDeliveries::Table.into_iden(),
            Events::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
