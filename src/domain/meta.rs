//! User meta (seed 000): key/value pairs per user, `public` (shown to the user in the
//! sign-in answer and `GET /user`) or private (the back office only). Keys are short
//! names, values short text; a user holds at most [`MAX_KEYS`] keys.
use super::flocks::Flock;
use super::pages::{self, Cursors, Page};
use super::{InfraError, Invalid};
use crate::db::meta::{MetaPair, MetaRow};
use crate::db::{Db, DbError};
use crate::ids::UserId;
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};

/// Most keys one user may hold.
pub const MAX_KEYS: u64 = 100;
/// Most pairs one write may carry.
pub const MAX_PAIRS: usize = 100;
/// Longest value, in characters.
pub const MAX_VALUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("no such user")]
    UserNotFound,
    #[error("no such meta key on this user")]
    NotFound,
    #[error("a user holds at most {MAX_KEYS} meta keys")]
    TooManyKeys,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<DbError> for MetaError {
    fn from(e: DbError) -> Self {
        MetaError::Infra(e.into())
    }
}

impl From<Invalid> for MetaError {
    fn from(i: Invalid) -> Self {
        MetaError::Invalid(i)
    }
}

/// One pair.
#[derive(Debug, Clone)]
pub struct Meta {
    pub user: UserId,
    pub key: String,
    pub value: String,
    pub public: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<MetaRow> for Meta {
    fn from(r: MetaRow) -> Self {
        Self {
            user: UserId(r.user_id),
            key: r.key,
            value: r.value,
            public: r.public,
            updated_at: r.updated_at,
        }
    }
}

/// A meta value (`field` names where it came from).
fn value(v: String, field: &'static str) -> Result<String, Invalid> {
    if v.chars().count() > MAX_VALUE || v.chars().any(char::is_control) {
        return Err(Invalid::new(
            "invalid_meta_value",
            field,
            format!("a meta value is at most {MAX_VALUE} printable characters"),
        ));
    }
    Ok(v)
}

#[derive(Clone)]
pub struct MetaService {
    db: Db,
    clock: Clock,
    cursors: Cursors,
}

impl MetaService {
    pub fn new(db: Db, clock: Clock, cursors: Cursors) -> Self {
        Self { db, clock, cursors }
    }

    /// A user of this flock that may hold meta (not deleted).
    async fn holder(&self, flock: &Flock, user: UserId) -> Result<(), MetaError> {
        if self.db.scoped(flock.id).user_is_live(user).await? {
            Ok(())
        } else {
            Err(MetaError::UserNotFound)
        }
    }

    /// Sets `pairs` (key, value, public) on the user, all or none; the user's pairs.
    pub async fn upsert(
        &self,
        flock: &Flock,
        user: UserId,
        pairs: Vec<(String, String, bool)>,
    ) -> Result<Vec<Meta>, MetaError> {
        if pairs.is_empty() || pairs.len() > MAX_PAIRS {
            return Err(Invalid::new(
                "invalid_meta",
                "meta",
                format!("give between 1 and {MAX_PAIRS} pairs"),
            )
            .into());
        }
        let mut checked = Vec::with_capacity(pairs.len());
        for (k, v, public) in pairs {
            let key = crate::domain::directory::meta_key(&k, "key")?;
            if checked.iter().any(|p: &MetaPair| p.key == key) {
                return Err(
                    Invalid::new("duplicate_meta_key", "key", "a key appears twice").into(),
                );
            }
            checked.push(MetaPair {
                key,
                value: value(v, "value")?,
                public,
            });
        }
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        if !db
            .meta_upsert(user, checked, MAX_KEYS, self.clock.now())
            .await?
        {
            return Err(MetaError::TooManyKeys);
        }
        self.list(flock, user).await
    }

    /// Every pair of the user, by key.
    pub async fn list(&self, flock: &Flock, user: UserId) -> Result<Vec<Meta>, MetaError> {
        self.holder(flock, user).await?;
        let rows = self.db.scoped(flock.id).meta_of(user, false).await?;
        Ok(rows.into_iter().map(Meta::from).collect())
    }

    /// Deletes a key of the user (only when it holds `value`, if given).
    pub async fn delete(
        &self,
        flock: &Flock,
        user: UserId,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), MetaError> {
        let key = crate::domain::directory::meta_key(key, "key")?;
        self.holder(flock, user).await?;
        if self
            .db
            .scoped(flock.id)
            .meta_delete(user, &key, value)
            .await?
        {
            Ok(())
        } else {
            Err(MetaError::NotFound)
        }
    }

    /// The pairs holding `key` (with `value`, if given) across the flock's users, a page
    /// at a time.
    pub async fn holders(
        &self,
        flock: &Flock,
        key: &str,
        value: Option<String>,
        limit: Option<u64>,
        cursor: Option<String>,
    ) -> Result<Page<Meta>, MetaError> {
        let key = crate::domain::directory::meta_key(key, "meta_key")?;
        let value = value.map(|v| self::value(v, "meta_value")).transpose()?;
        let limit = pages::limit(limit)?;
        let list = format!("meta|{key}|{value:?}");
        let after: Option<(String, uuid::Uuid)> = match cursor {
            Some(c) => Some(self.cursors.open(flock.id, &list, &c).await??),
            None => None,
        };
        let db = self.db.scoped(flock.id);
        let mut rows = db
            .meta_holders(&key, value.as_deref(), after.as_ref(), limit + 1)
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => {
                let mark = (last.value.clone(), last.user_id);
                Some(self.cursors.seal(flock.id, &list, &mark).await?)
            }
            _ => None,
        };
        Ok(Page {
            items: rows.into_iter().map(Meta::from).collect(),
            next,
        })
    }
}
