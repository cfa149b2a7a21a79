//! The back office's user directory: what the organisation running a flock does with its
//! users through an API key. By file (each an `impl DirectoryService`):
//! - `create` — create a user or a contact ([`UserService::create_account`] does the
//!   making: statuses, policy, uniqueness, first mail);
//! - `update` — patch fields, set the status (through the transition table), confirm,
//!   mark the email validated or invalidated, set role and access, send a claim link;
//! - `search` — get, look up by a unique field, search with filters and keyset pages,
//!   list by ids, a capped count;
//! - `seed` — batched inserts of many users for benchmarks (`fold users seed`).
//!
//! Every rule about accounts stays with `domain::user`; this area validates the back
//! office's inputs and turns them into those calls.
mod create;
mod search;
pub mod seed;
mod update;

pub use create::CreateUser;
pub use search::{meta_key, ByIds, LookupBy, Search, SortBy};
pub use update::{AccessChange, UserPatch};

use super::flocks::Flock;
use super::pages::Cursors;
use super::user::{User, UserError, UserService};
use crate::db::Db;
use crate::ids::UserId;
use crate::infra::clock::Clock;

#[derive(Clone)]
pub struct DirectoryService {
    db: Db,
    clock: Clock,
    users: UserService,
    cursors: Cursors,
}

impl DirectoryService {
    pub fn new(db: Db, clock: Clock, users: UserService, cursors: Cursors) -> Self {
        Self {
            db,
            clock,
            users,
            cursors,
        }
    }

    /// A user of this flock, deleted (anonymised) ones included: the back office sees
    /// what is left of them.
    pub async fn get(&self, flock: &Flock, id: UserId) -> Result<User, UserError> {
        let row = self.db.scoped(flock.id).user(id).await?;
        let row = row.ok_or(UserError::NotFound)?;
        Ok(User::from_row(flock.id, row))
    }
}
