//! The audit log: every event row says whom it is about (`user_id`), who acted (`actor`:
//! `user:…`, `manager:…`, `api_key:…`, `platform:…`, `system`), from where (`ip`,
//! `user_agent`) and a short `detail` (a sign-in's method, a failure's reason); indexes for
//! the queries by user, actor and type, each ending in `(occurred_at, id)` for keyset
//! pages. Users get `last_sign_in_at` (active-user statistics) and an index on
//! `registered_at` (registration statistics).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Id,
    FlockId,
    Type,
    OccurredAt,
    UserId,
    Actor,
    Ip,
    UserAgent,
    Detail,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    FlockId,
    LastSignInAt,
    RegisteredAt,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        let cols = [
            ColumnDef::new(Events::UserId).uuid().null().to_owned(),
            string_len_null(Events::Actor, 80),
            string_len_null(Events::Ip, 64),
            string_len_null(Events::UserAgent, 256),
            string_len_null(Events::Detail, 64),
        ];
        for mut c in cols {
            m.alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(&mut c)
                    .to_owned(),
            )
            .await?;
        }
        for old in ["ix_events_flock_occurred", "ix_events_flock_type_occurred"] {
            m.drop_index(Index::drop().name(old).table(Events::Table).to_owned())
                .await?;
        }
        let indexes: [(&str, &[Events]); 4] = [
            (
                "ix_events_flock_occurred_id",
                &[Events::FlockId, Events::OccurredAt, Events::Id],
            ),
            (
                "ix_events_flock_type_occurred_id",
                &[
                    Events::FlockId,
                    Events::Type,
                    Events::OccurredAt,
                    Events::Id,
                ],
            ),
            (
                "ix_events_flock_user_occurred_id",
                &[
                    Events::FlockId,
                    Events::UserId,
                    Events::OccurredAt,
                    Events::Id,
                ],
            ),
            (
                "ix_events_flock_actor_occurred_id",
                &[
                    Events::FlockId,
                    Events::Actor,
                    Events::OccurredAt,
                    Events::Id,
                ],
            ),
        ];
        for (name, cols) in indexes {
            let mut ix = Index::create();
            ix.name(name).table(Events::Table);
            for c in cols {
                ix.col(*c);
            }
            m.create_index(ix.to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(timestamp_with_time_zone_null(Users::LastSignInAt))
                .to_owned(),
        )
        .await?;
        let indexes: [(&str, &[Users]); 2] = [
            (
                "ix_users_flock_last_sign_in",
                &[Users::FlockId, Users::LastSignInAt],
            ),
            (
                "ix_users_flock_registered",
                &[Users::FlockId, Users::RegisteredAt, Users::Id],
            ),
        ];
        for (name, cols) in indexes {
            let mut ix = Index::create();
            ix.name(name).table(Users::Table);
            for c in cols {
                ix.col(*c);
            }
            m.create_index(ix.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_users_flock_last_sign_in", "ix_users_flock_registered"] {
            m.drop_index(Index::drop().name(name).table(Users::Table).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::LastSignInAt)
                .to_owned(),
        )
        .await?;
        for name in [
            "ix_events_flock_occurred_id",
            "ix_events_flock_type_occurred_id",
            "ix_events_flock_user_occurred_id",
            "ix_events_flock_actor_occurred_id",
        ] {
            m.drop_index(Index::drop().name(name).table(Events::Table).to_owned())
                .await?;
        }
        for c in [
            Events::UserId,
            Events::Actor,
            Events::Ip,
            Events::UserAgent,
            Events::Detail,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("ix_events_flock_occurred")
                .table(Events::Table)
                .col(Events::FlockId)
                .col(Events::OccurredAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_events_flock_type_occurred")
                .table(Events::Table)
                .col(Events::FlockId)
                .col(Events::Type)
                .col(Events::OccurredAt)
                .to_owned(),
        )
        .await
    }
}
