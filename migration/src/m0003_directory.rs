//! The back office's user directory: the users' directory columns (back-office fields,
//! contacts, access flags, search keys), user meta, groups, and the indexes every search
//! filter needs — each starts with `flock_id`.
//!
//! On PostgreSQL the search-key columns are collated "C": prefix searches are byte ranges
//! (`>= prefix AND < prefix || U+10FFFF`), which only match a B-tree's order under a
//! bytewise collation. SQLite compares bytewise (BINARY) already.
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
    FlockId,
    Status,
    Role,
    CreatedAt,
    Username,
    Company,
    PictureUrl,
    ExternalId,
    Referer,
    Note,
    Kind,
    RegistrationNumber,
    VatNumber,
    BusinessId,
    ConfirmedAt,
    EmailInvalidAt,
    BoAccess,
    ApiAccess,
    NameKey,
    RegisteredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserMeta {
    Table,
    FlockId,
    UserId,
    Key,
    Value,
    Public,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserGroups {
    Table,
    Id,
    FlockId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum GroupMembers {
    Table,
    FlockId,
    GroupId,
    UserId,
    AddedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one ADD COLUMN per ALTER TABLE.
        let columns = [
            string_len_null(Users::Username, 100),
            string_len_null(Users::Company, 200),
            string_len_null(Users::PictureUrl, 2048),
            string_len_null(Users::ExternalId, 36),
            string_len_null(Users::Referer, 2048),
            string_len_null(Users::Note, 2000),
            string_len(Users::Kind, 16).default("person").to_owned(),
            string_len_null(Users::RegistrationNumber, 64),
            string_len_null(Users::VatNumber, 64),
            uuid_null(Users::BusinessId),
            timestamp_with_time_zone_null(Users::ConfirmedAt),
            timestamp_with_time_zone_null(Users::EmailInvalidAt),
            boolean(Users::BoAccess).default(false).to_owned(),
            boolean(Users::ApiAccess).default(true).to_owned(),
            string_len(Users::NameKey, 401).default("").to_owned(),
            timestamp_with_time_zone_null(Users::RegisteredAt),
        ];
        for mut c in columns {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(&mut c)
                    .to_owned(),
            )
            .await?;
        }
        let db = m.get_connection();
        // Existing accounts: a registered one is every one not waiting to be claimed;
        // the name key is the lowercase "first last".
        db.execute_unprepared(
            "UPDATE users SET registered_at = created_at WHERE status <> 'unclaimed'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE users SET name_key = LOWER(TRIM(COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')))",
        )
        .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            for (col, ty) in [
                ("email", "varchar(320)"),
                ("phone", "varchar(20)"),
                ("username", "varchar(100)"),
                ("external_id", "varchar(36)"),
                ("name_key", "varchar(401)"),
            ] {
                db.execute_unprepared(&format!(
                    "ALTER TABLE users ALTER COLUMN {col} TYPE {ty} COLLATE \"C\""
                ))
                .await?;
            }
        }

        let indexes: [(&str, &[Users], bool); 9] = [
            // Lists by id (`users/by-ids`) seek each id inside the flock, in id order.
            ("ux_users_flock_id", &[Users::FlockId, Users::Id], true),
            (
                "ux_users_flock_external_id",
                &[Users::FlockId, Users::ExternalId],
                true,
            ),
            (
                "ux_users_flock_username",
                &[Users::FlockId, Users::Username],
                true,
            ),
            (
                "ix_users_flock_created",
                &[Users::FlockId, Users::CreatedAt, Users::Id],
                false,
            ),
            (
                "ix_users_flock_name",
                &[Users::FlockId, Users::NameKey, Users::Id],
                false,
            ),
            (
                "ix_users_flock_status_created",
                &[Users::FlockId, Users::Status, Users::CreatedAt, Users::Id],
                false,
            ),
            (
                "ix_users_flock_business",
                &[Users::FlockId, Users::BusinessId],
                false,
            ),
            // Probed by searches filtering on them (few managers, few businesses).
            ("ix_users_flock_role", &[Users::FlockId, Users::Role], false),
            ("ix_users_flock_kind", &[Users::FlockId, Users::Kind], false),
        ];
        for (name, cols, unique) in indexes {
            let mut ix = Index::create();
            ix.name(name).table(Users::Table);
            for c in cols {
                ix.col(*c);
            }
            if unique {
                ix.unique();
            }
            m.create_index(ix.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(UserMeta::Table)
                .col(uuid(UserMeta::FlockId))
                .col(uuid(UserMeta::UserId))
                .col(string_len(UserMeta::Key, 64))
                .col(string_len(UserMeta::Value, 1024))
                .col(boolean(UserMeta::Public))
                .col(timestamp_with_time_zone(UserMeta::UpdatedAt))
                .primary_key(Index::create().col(UserMeta::UserId).col(UserMeta::Key))
                .foreign_key(
                    ForeignKey::create()
                        .from(UserMeta::Table, UserMeta::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(UserMeta::Table, UserMeta::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_user_meta_flock_key_value")
                .table(UserMeta::Table)
                .col(UserMeta::FlockId)
                .col(UserMeta::Key)
                .col(UserMeta::Value)
                .col(UserMeta::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(UserGroups::Table)
                .col(uuid(UserGroups::Id).primary_key())
                .col(uuid(UserGroups::FlockId))
                .col(string_len(UserGroups::Name, 100))
                .col(timestamp_with_time_zone(UserGroups::CreatedAt))
                .col(timestamp_with_time_zone(UserGroups::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UserGroups::Table, UserGroups::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_user_groups_flock_name")
                .table(UserGroups::Table)
                .col(UserGroups::FlockId)
                .col(UserGroups::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(GroupMembers::Table)
                .col(uuid(GroupMembers::FlockId))
                .col(uuid(GroupMembers::GroupId))
                .col(uuid(GroupMembers::UserId))
                .col(timestamp_with_time_zone(GroupMembers::AddedAt))
                .primary_key(
                    Index::create()
                        .col(GroupMembers::GroupId)
                        .col(GroupMembers::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(GroupMembers::Table, GroupMembers::FlockId)
                        .to(Flocks::Table, Flocks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(GroupMembers::Table, GroupMembers::GroupId)
                        .to(UserGroups::Table, UserGroups::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(GroupMembers::Table, GroupMembers::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "ix_group_members_flock_group_user",
                [
                    GroupMembers::FlockId,
                    GroupMembers::GroupId,
                    GroupMembers::UserId,
                ],
            ),
            (
                "ix_group_members_flock_user_group",
                [
                    GroupMembers::FlockId,
                    GroupMembers::UserId,
                    GroupMembers::GroupId,
                ],
            ),
        ] {
            let mut ix = Index::create();
            ix.name(name).table(GroupMembers::Table);
            for c in cols {
                ix.col(c);
            }
            m.create_index(ix.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            GroupMembers::Table.into_iden(),
            UserGroups::Table.into_iden(),
            UserMeta::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        for name in [
            "ux_users_flock_external_id",
            "ux_users_flock_username",
            "ux_users_flock_id",
            "ix_users_flock_created",
            "ix_users_flock_name",
            "ix_users_flock_status_created",
            "ix_users_flock_business",
            "ix_users_flock_role",
            "ix_users_flock_kind",
        ] {
            m.drop_index(Index::drop().name(name).table(Users::Table).to_owned())
                .await?;
        }
        for c in [
            Users::Username,
            Users::Company,
            Users::PictureUrl,
            Users::ExternalId,
            Users::Referer,
            Users::Note,
            Users::Kind,
            Users::RegistrationNumber,
            Users::VatNumber,
            Users::BusinessId,
            Users::ConfirmedAt,
            Users::EmailInvalidAt,
            Users::BoAccess,
            Users::ApiAccess,
            Users::NameKey,
            Users::RegisteredAt,
        ] {
            m.alter_table(Table::alter().table(Users::Table).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}
