//! The audit log: the flock's event rows (`events`), read by user, actor, type and time
//! in keyset pages, or exported whole as NDJSON a page at a time. The rows are written
//! where their changes are (in the same transaction where there is one); this service
//! adds one kind itself: `admin.request`, a back-office or platform write that reached
//! its handler (operation, method, answer status), written after the answer.
use super::pages::{self, Cursors, Page};
use super::{InfraError, Invalid};
use crate::db::audit::{AuditFilter, AuditRow};
use crate::db::Db;
use crate::ids::FlockId;
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<crate::db::DbError> for AuditError {
    fn from(e: crate::db::DbError) -> Self {
        AuditError::Infra(e.into())
    }
}

/// A query of the log, as the caller gave it.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<Uuid>,
    pub actor: Option<String>,
    /// Comma-separated event types.
    pub types: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct After {
    at: DateTime<Utc>,
    id: Uuid,
}

/// How many rows an export reads per query.
const EXPORT_PAGE: u64 = 500;

#[derive(Clone)]
pub struct AuditService {
    db: Db,
    clock: Clock,
    cursors: Cursors,
}

impl AuditService {
    pub fn new(db: Db, clock: Clock, cursors: Cursors) -> Self {
        Self { db, clock, cursors }
    }

    fn filter(q: &AuditQuery) -> Result<AuditFilter, Invalid> {
        let known = |t: &str| super::webhooks::all_types().any(|k| k == t);
        let kinds: Vec<String> = match &q.types {
            None => Vec::new(),
            Some(s) => s.split(',').map(|t| t.trim().to_owned()).collect(),
        };
        if kinds.len() > 20 || kinds.iter().any(|t| !known(t)) {
            let all: Vec<&str> = super::webhooks::all_types().collect();
            return Err(Invalid::new(
                "unknown_event_type",
                "type",
                format!("event types are {}", all.join(", ")),
            ));
        }
        if let Some(a) = &q.actor {
            let ok = a == "system"
                || a == "anonymous"
                || a.split_once(':').is_some_and(|(k, id)| {
                    matches!(k, "user" | "manager" | "api_key" | "platform") && !id.is_empty()
                });
            if !ok || a.len() > 80 {
                return Err(Invalid::new(
                    "invalid_actor",
                    "actor",
                    "an actor is user:<id>, manager:<id>, api_key:<id>, platform:<id>, system or anonymous",
                ));
            }
        }
        if let (Some(f), Some(t)) = (q.from, q.to) {
            if f > t {
                return Err(Invalid::new(
                    "invalid_range",
                    "from",
                    "from must not be after to",
                ));
            }
        }
        Ok(AuditFilter {
            user: q.user,
            actor: q.actor.clone(),
            kinds,
            from: q.from,
            to: q.to,
        })
    }

    /// The list name a cursor is bound to: the filters, canonically.
    fn list_name(f: &AuditFilter) -> String {
        format!(
            "audit?user={:?}&actor={:?}&types={:?}&from={:?}&to={:?}",
            f.user, f.actor, f.kinds, f.from, f.to
        )
    }

    /// One page of the log, newest first.
    pub async fn list(
        &self,
        flock: FlockId,
        q: &AuditQuery,
        cursor: Option<&str>,
        limit: Option<u64>,
    ) -> Result<Page<AuditRow>, AuditError> {
        let f = Self::filter(q).map_err(AuditError::Invalid)?;
        let limit = pages::limit(limit).map_err(AuditError::Invalid)?;
        let list = Self::list_name(&f);
        let after = match cursor {
            None => None,
            Some(c) => Some(
                self.cursors
                    .open::<After>(flock, &list, c)
                    .await?
                    .map_err(AuditError::Invalid)?,
            ),
        };
        let mut rows = self
            .db
            .scoped(flock)
            .audit_page(&f, after.map(|a| (a.at, a.id)), limit + 1)
            .await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            match rows.last() {
                Some(r) => {
                    let a = After {
                        at: r.occurred_at,
                        id: r.id,
                    };
                    Some(self.cursors.seal(flock, &list, &a).await?)
                }
                None => None,
            }
        } else {
            None
        };
        Ok(Page { items: rows, next })
    }

    /// Checks an export's filters before the answer starts (a bad one is a 400, not a
    /// broken stream).
    pub fn export_filter(&self, q: &AuditQuery) -> Result<AuditFilter, AuditError> {
        Self::filter(q).map_err(AuditError::Invalid)
    }

    /// The next chunk of an export after `after`: up to 500 rows, newest first (empty at
    /// the end).
    pub async fn export_chunk(
        &self,
        flock: FlockId,
        f: &AuditFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<AuditRow>, AuditError> {
        Ok(self
            .db
            .scoped(flock)
            .audit_page(f, after, EXPORT_PAGE)
            .await?)
    }

    /// Records `admin.request` (audit only): a back-office or platform write reached its
    /// handler. The actor, address and user agent come from the request's context. A
    /// failure is logged (the answer has gone).
    pub async fn record_request(
        &self,
        flock: FlockId,
        operation: &str,
        method: &str,
        path: &str,
        status: u16,
    ) {
        let user = path_user(path);
        let e = crate::db::webhooks::NewEvent {
            kind: "admin.request",
            data: serde_json::json!({
                "operation": operation, "method": method, "path": path, "status": status,
                "user_id": user,
            }),
            at: self.clock.now(),
            user,
            detail: Some(operation.chars().take(64).collect()),
            audit_only: true,
            ..Default::default()
        };
        if let Err(e) = self.db.scoped(flock).event_insert(e).await {
            tracing::warn!(error = %e, "admin.request not recorded");
        }
    }
}

/// The user a back-office path is about (`…/directory/users/{id}…`, `…/users/{id}/…`).
fn path_user(path: &str) -> Option<Uuid> {
    let mut it = path.split('/');
    while let Some(seg) = it.next() {
        if seg == "users" {
            return it.next().and_then(|id| id.parse().ok());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_of_a_path_is_the_segment_after_users() {
        let id = Uuid::nil();
        assert_eq!(
            path_user(&format!("/api/v1/a/directory/users/{id}/status")),
            Some(id)
        );
        assert_eq!(path_user("/api/v1/a/directory/users/count"), None);
        assert_eq!(path_user("/api/v1/a/admin/groups"), None);
    }
}
