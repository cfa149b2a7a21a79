//! Administration: a flock's admin groups (`superadmin` built in), their members (the
//! flock's managers) and their grants (an operation id of the spec with a level, `read`
//! or `write`).
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
enum AdminGroups {
    Table,
    Id,
    FlockId,
    Name,
    Builtin,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AdminMembers {
    Table,
    FlockId,
    GroupId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AdminGrants {
    Table,
    FlockId,
    GroupId,
    Operation,
    Level,
}

fn flock_fk(from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(Flocks::Table, Flocks::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AdminGroups::Table)
                .col(uuid(AdminGroups::Id).primary_key())
                .col(uuid(AdminGroups::FlockId))
                .col(string_len(AdminGroups::Name, 64))
                .col(boolean(AdminGroups::Builtin))
                .col(timestamp_with_time_zone(AdminGroups::CreatedAt))
                .col(timestamp_with_time_zone(AdminGroups::UpdatedAt))
                .foreign_key(&mut flock_fk((AdminGroups::Table, AdminGroups::FlockId)))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_admin_groups_flock_name")
                .table(AdminGroups::Table)
                .col(AdminGroups::FlockId)
                .col(AdminGroups::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AdminMembers::Table)
                .col(uuid(AdminMembers::FlockId))
                .col(uuid(AdminMembers::GroupId))
                .col(uuid(AdminMembers::UserId))
                .col(timestamp_with_time_zone(AdminMembers::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(AdminMembers::FlockId)
                        .col(AdminMembers::GroupId)
                        .col(AdminMembers::UserId),
                )
                .foreign_key(&mut flock_fk((AdminMembers::Table, AdminMembers::FlockId)))
                .foreign_key(
                    ForeignKey::create()
                        .from(AdminMembers::Table, AdminMembers::GroupId)
                        .to(AdminGroups::Table, AdminGroups::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AdminMembers::Table, AdminMembers::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_admin_members_flock_user")
                .table(AdminMembers::Table)
                .col(AdminMembers::FlockId)
                .col(AdminMembers::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AdminGrants::Table)
                .col(uuid(AdminGrants::FlockId))
                .col(uuid(AdminGrants::GroupId))
                .col(string_len(AdminGrants::Operation, 100))
                .col(string_len(AdminGrants::Level, 8))
                .primary_key(
                    Index::create()
                        .col(AdminGrants::FlockId)
                        .col(AdminGrants::GroupId)
                        .col(AdminGrants::Operation),
                )
                .foreign_key(&mut flock_fk((AdminGrants::Table, AdminGrants::FlockId)))
                .foreign_key(
                    ForeignKey::create()
                        .from(AdminGrants::Table, AdminGrants::GroupId)
                        .to(AdminGroups::Table, AdminGroups::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AdminGrants::Table.into_iden(),
            AdminMembers::Table.into_iden(),
            AdminGroups::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
