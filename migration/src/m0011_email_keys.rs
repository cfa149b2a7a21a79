//! Look-alike email keys (see [`crate::lookalike`]): `users.email_key`, unique per flock,
//! so `аnn@example.com` (Cyrillic а) cannot sit beside `ann@example.com`. Existing
//! accounts get their keys here; where two existing accounts already look alike, the
//! later one keeps its plain address as its key (nothing is merged or lost) and the
//! migration says so in its output.
use crate::lookalike::email_key;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    FlockId,
    EmailKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(string_len_null(Users::EmailKey, 400))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let backend = m.get_database_backend();
        if backend == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE users ALTER COLUMN email_key TYPE varchar(400) COLLATE \"C\"",
            )
            .await?;
        }
        // An ASCII address is its own key.
        db.execute_unprepared("UPDATE users SET email_key = email WHERE email IS NOT NULL")
            .await?;
        m.create_index(
            Index::create()
                .name("ux_users_flock_email_key")
                .table(Users::Table)
                .col(Users::FlockId)
                .col(Users::EmailKey)
                .unique()
                .to_owned(),
        )
        .await?;
        // The others, oldest first, each keyed unless an older account looks the same.
        let others = match backend {
            DbBackend::Postgres => "email ~ '[^\\x01-\\x7F]' OR email LIKE '%xn--%'",
            _ => "email GLOB '*[^\u{1}-\u{7F}]*' OR email LIKE '%xn--%'",
        };
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT DISTINCT email FROM users WHERE email IS NOT NULL AND ({others})"),
            ))
            .await?;
        let (mut keyed, mut kept) = (0u64, 0u64);
        for row in rows {
            let email: String = row.try_get("", "email")?;
            let key = email_key(&email);
            if key == email {
                continue;
            }
            // Per flock: keyed unless an account of that flock holds the key already.
            let sql = match backend {
                DbBackend::Postgres => {
                    "UPDATE users SET email_key = $1 WHERE email = $2 AND NOT EXISTS \
                     (SELECT 1 FROM users o WHERE o.flock_id = users.flock_id AND o.email_key = $1)"
                }
                _ => {
                    "UPDATE users SET email_key = ?1 WHERE email = ?2 AND NOT EXISTS \
                     (SELECT 1 FROM users o WHERE o.flock_id = users.flock_id AND o.email_key = ?1)"
                }
            };
            let r = db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [key.into(), email.into()],
                ))
                .await?;
            if r.rows_affected() > 0 {
                keyed += r.rows_affected();
            } else {
                kept += 1;
            }
        }
        if keyed + kept > 0 {
            println!(
                "migration 0011: {keyed} non-ASCII address(es) keyed; {kept} kept their own \
                 address as key (an older account of their flock looks the same)"
            );
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ux_users_flock_email_key")
                .table(Users::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::EmailKey)
                .to_owned(),
        )
        .await
    }
}
