//! The flock as a type the database cannot be called without.
//!
//! [`FlockId`] can be read by anyone but made only here (from a stored row) or fresh
//! ([`FlockId::new`], for a flock being created): a handler cannot turn a uuid from a
//! request into one. Every flock-owned query goes through [`FlockDb`], which
//! [`Db::scoped`](super::Db::scoped) hands out for one flock: its methods take no flock
//! argument, and its three query builders ([`FlockDb::find`], [`FlockDb::update`],
//! [`FlockDb::delete`]) add the flock filter themselves, so no query of an area file
//! can forget it. Rows a flock owns are built here too ([`FlockDb::own`] sets their
//! flock column), so the domain never handles a raw flock id.
use super::Db;
use entity::{
    address, address_request, admin_grant, admin_group, admin_member, api_key, event,
    federation_provider, group_member, identity, mail_outbox, profile_schema, profile_value,
    signing_key, user, user_file, user_group, user_meta, user_token, webhook_delivery,
    webhook_endpoint,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany,
};
use std::fmt;
use uuid::Uuid;

/// A flock (tenant). Every flock-owned row and KV key carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlockId(Uuid);

impl FlockId {
    /// A fresh id, for a flock being created.
    #[allow(clippy::new_without_default)] // a default flock id would be a random one
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id as a uuid, for the wire (`GET /platform/v1/flocks/…`).
    pub fn as_uuid(self) -> Uuid {
        self.0
    }

    /// Only for ids read back from storage.
    pub(super) fn from_stored(id: Uuid) -> Self {
        Self(id)
    }

    /// An id another replica announced in a cache invalidation (it read the id from the
    /// shared storage): only for dropping cached entries, never for a query.
    pub(crate) fn announced(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for FlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A table whose rows belong to one flock: the column that says which.
pub trait FlockOwned: EntityTrait {
    fn flock_column() -> Self::Column;
}

macro_rules! flock_owned {
    ($($m:ident),*) => {$(
        impl FlockOwned for $m::Entity {
            fn flock_column() -> Self::Column {
                $m::Column::FlockId
            }
        }
    )*};
}
flock_owned!(
    user,
    user_token,
    mail_outbox,
    api_key,
    signing_key,
    user_meta,
    user_group,
    group_member,
    profile_schema,
    profile_value,
    address,
    address_request,
    user_file,
    federation_provider,
    identity,
    admin_group,
    admin_member,
    admin_grant,
    event,
    webhook_endpoint,
    webhook_delivery
);

/// The database seen by one flock. Made only by [`Db::scoped`](super::Db::scoped).
#[derive(Clone, Copy)]
pub struct FlockDb<'a> {
    pub(super) db: &'a Db,
    pub(super) flock: FlockId,
}

impl<'a> FlockDb<'a> {
    pub fn flock(&self) -> FlockId {
        self.flock
    }

    /// `SELECT … WHERE flock_id = <this flock>`.
    pub(super) fn find<E: FlockOwned>(&self) -> Select<E> {
        E::find().filter(E::flock_column().eq(self.flock.0))
    }

    /// `UPDATE … WHERE flock_id = <this flock>`.
    pub(super) fn update<E: FlockOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::flock_column().eq(self.flock.0))
    }

    /// `DELETE … WHERE flock_id = <this flock>`.
    pub(super) fn delete<E: FlockOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::flock_column().eq(self.flock.0))
    }

    /// A new row of this flock: whatever the caller built, its flock column is ours.
    pub(super) fn own<A>(&self, mut row: A) -> A
    where
        A: ActiveModelTrait,
        A::Entity: FlockOwned,
    {
        row.set(
            <A::Entity as FlockOwned>::flock_column(),
            self.flock.0.into(),
        );
        row
    }
}
