//! Finding users: by a unique field, by filters (keyset pages, no offsets, no counts on
//! the way), by ids, and a capped count. Inputs are normalised by the same rules as the
//! stored values, and reach the database only as bound values.
use super::DirectoryService;
use crate::db::directory::{After, Lookup, Sort, UserQuery};
use crate::domain::flocks::Flock;
use crate::domain::pages::{self, Page};
use crate::domain::user::{fields, Email, Kind, Phone, Role, User, UserError, UserStatus};
use crate::domain::Invalid;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A unique field to look a user up by (as given; normalised here).
#[derive(Debug, Clone)]
pub enum LookupBy {
    Email(String),
    Phone(String),
    Username(String),
    ExternalId(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Oldest first (the default).
    #[default]
    Created,
    /// Newest first.
    CreatedDesc,
    /// By name (lowercase "first last", or the company of a business), then id.
    Name,
}

/// Filters, order and page of a search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub email: Option<String>,
    pub email_prefix: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub name_prefix: Option<String>,
    /// Empty: every status but `deleted`.
    pub statuses: Vec<UserStatus>,
    pub role: Option<Role>,
    pub kind: Option<Kind>,
    pub business_id: Option<UserId>,
    pub group_id: Option<Uuid>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub meta_key: Option<String>,
    pub meta_value: Option<String>,
    /// A profile field marked searchable, and the value it must hold (exact).
    pub field: Option<String>,
    pub field_value: Option<String>,
    pub sort: SortBy,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// A list of users by id.
#[derive(Debug, Clone, Default)]
pub struct ByIds {
    pub ids: Vec<UserId>,
    /// Include `inactive` users (anonymised ones never appear).
    pub include_deactivated: bool,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Where a page ended, as sealed in its cursor.
#[derive(Debug, Serialize, Deserialize)]
struct Mark {
    t: Option<DateTime<Utc>>,
    n: Option<String>,
    id: Uuid,
}

fn prefix(v: Option<String>, field: &'static str, max: usize) -> Result<Option<String>, Invalid> {
    Ok(fields::optional_text(v, field, max)?.map(|p| p.to_lowercase()))
}

/// A meta key: 1 to 64 of lowercase letters, digits, `_`, `.`, `:` and `-` (`field` names
/// where it came from).
pub fn meta_key(v: &str, field: &'static str) -> Result<String, Invalid> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b':' | b'-')
        });
    if !ok {
        return Err(Invalid::new(
            "invalid_meta_key",
            field,
            "a meta key is 1 to 64 lowercase letters, digits, `_`, `.`, `:` or `-`",
        ));
    }
    Ok(v.to_owned())
}

impl Search {
    /// The database query, every value normalised (or the first invalid filter).
    fn query(self) -> Result<(UserQuery, Sort, Option<String>, Option<u64>), Invalid> {
        let email = self
            .email
            .map(|e| Email::parse(&e).map(|e| e.as_str().to_owned()))
            .transpose()?;
        let phone = self
            .phone
            .map(|p| Phone::parse(&p).map(|p| p.as_str().to_owned()))
            .transpose()?;
        let meta = match (self.meta_key, self.meta_value) {
            (Some(k), v) => {
                let v = fields::optional_text(v, "meta_value", 1024)?;
                Some((meta_key(&k, "meta_key")?, v))
            }
            (None, Some(_)) => {
                return Err(Invalid::new(
                    "meta_key_required",
                    "meta_key",
                    "meta_value filters need a meta_key",
                ))
            }
            (None, None) => None,
        };
        let q = UserQuery {
            email,
            email_prefix: prefix(self.email_prefix, "email_prefix", 254)?,
            phone,
            external_id: fields::external_id(self.external_id)?,
            username: fields::username(self.username)?,
            name_prefix: prefix(self.name_prefix, "name_prefix", 401)?,
            statuses: self
                .statuses
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            role: self.role.map(|r| r.as_str().to_owned()),
            kind: self.kind.map(|k| k.as_str().to_owned()),
            business: self.business_id,
            group: self.group_id,
            created_from: self.created_from,
            created_to: self.created_to,
            meta,
            profile: None,
        };
        let sort = match self.sort {
            SortBy::Created => Sort::Created,
            SortBy::CreatedDesc => Sort::CreatedDesc,
            SortBy::Name => Sort::Name,
        };
        Ok((q, sort, self.cursor, self.limit))
    }
}

impl DirectoryService {
    pub async fn lookup(&self, flock: &Flock, by: LookupBy) -> Result<User, UserError> {
        let key = match by {
            LookupBy::Email(e) => Lookup::Email(Email::parse(&e)?.as_str().to_owned()),
            LookupBy::Phone(p) => Lookup::Phone(Phone::parse(&p)?.as_str().to_owned()),
            LookupBy::Username(u) => match fields::username(Some(u))? {
                Some(u) => Lookup::Username(u),
                None => return Err(UserError::NotFound),
            },
            LookupBy::ExternalId(x) => match fields::external_id(Some(x))? {
                Some(x) => Lookup::ExternalId(x),
                None => return Err(UserError::NotFound),
            },
        };
        let row = self.db.scoped(flock.id).user_lookup(&key).await?;
        Ok(User::from_row(flock.id, row.ok_or(UserError::NotFound)?))
    }

    /// One page of users matching the filters.
    pub async fn search(&self, flock: &Flock, s: Search) -> Result<Page<User>, UserError> {
        let field = (s.field.clone(), s.field_value.clone());
        let (mut q, sort, cursor, limit) = s.query()?;
        if !self.profile_filter(flock, field, &mut q).await? {
            pages::limit(limit)?;
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let limit = pages::limit(limit)?;
        let list = format!("users|{sort:?}|{q:?}");
        let after = match cursor {
            Some(c) => {
                let m: Mark = self.cursors.open(flock.id, &list, &c).await??;
                Some(match (sort, m.t, m.n) {
                    (Sort::Name, _, Some(n)) => After::Name(n, m.id),
                    (Sort::Created | Sort::CreatedDesc, Some(t), _) => After::Created(t, m.id),
                    _ => return Err(UserError::Invalid(bad_mark())),
                })
            }
            None => None,
        };
        let db = self.db.scoped(flock.id);
        let mut rows = db.user_search(&q, sort, after.as_ref(), limit + 1).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => {
                let mark = Mark {
                    t: (sort != Sort::Name).then_some(last.created_at),
                    n: (sort == Sort::Name).then(|| last.name_key.clone()),
                    id: last.id,
                };
                Some(self.cursors.seal(flock.id, &list, &mark).await?)
            }
            _ => None,
        };
        let items = rows
            .into_iter()
            .map(|r| User::from_row(flock.id, r))
            .collect();
        Ok(Page { items, next })
    }

    /// How many users match the filters, counting at most `cap`: `(n, n == cap)`.
    pub async fn count(
        &self,
        flock: &Flock,
        s: Search,
        cap: u64,
    ) -> Result<(u64, bool), UserError> {
        let field = (s.field.clone(), s.field_value.clone());
        let (mut q, ..) = s.query()?;
        if !self.profile_filter(flock, field, &mut q).await? {
            return Ok((0, false));
        }
        let n = self.db.scoped(flock.id).user_count(&q, cap).await?;
        Ok((n, n >= cap))
    }

    /// The users among up to 1,000 ids, by id, a page at a time.
    pub async fn by_ids(&self, flock: &Flock, b: ByIds) -> Result<Page<User>, UserError> {
        if b.ids.is_empty() || b.ids.len() > 1000 {
            return Err(UserError::Invalid(Invalid::new(
                "invalid_ids",
                "ids",
                "give between 1 and 1000 user ids",
            )));
        }
        let limit = pages::limit(b.limit.or(Some(1000)))?;
        let mut sorted: Vec<String> = b.ids.iter().map(ToString::to_string).collect();
        sorted.sort();
        let list = format!("ids|{}|{}", b.include_deactivated, sorted.join(","));
        let after = match b.cursor {
            Some(c) => Some(self.cursors.open::<Uuid>(flock.id, &list, &c).await??),
            None => None,
        };
        let db = self.db.scoped(flock.id);
        let mut rows = db
            .users_by_ids(&b.ids, b.include_deactivated, after, limit + 1)
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(self.cursors.seal(flock.id, &list, &last.id).await?),
            _ => None,
        };
        let items = rows
            .into_iter()
            .map(|r| User::from_row(flock.id, r))
            .collect();
        Ok(Page { items, next })
    }
}

impl DirectoryService {
    /// Adds the profile-field filter to `q`; false when its value can never match (the
    /// search then finds nothing without asking the database).
    async fn profile_filter(
        &self,
        flock: &Flock,
        (field, value): (Option<String>, Option<String>),
        q: &mut UserQuery,
    ) -> Result<bool, UserError> {
        match (field, value) {
            (None, None) => Ok(true),
            (None, Some(_)) => Err(UserError::Invalid(Invalid::new(
                "field_required",
                "field",
                "field_value filters need a field",
            ))),
            (Some(_), None) => Err(UserError::Invalid(Invalid::new(
                "field_value_required",
                "field_value",
                "a field filter needs field_value",
            ))),
            (Some(f), Some(v)) => match self.users.profile_search_key(flock.id, &f, &v).await? {
                Some(key) => {
                    q.profile = Some((f, key));
                    Ok(true)
                }
                None => Ok(false),
            },
        }
    }
}

fn bad_mark() -> Invalid {
    Invalid::new(
        "invalid_cursor",
        "cursor",
        "this cursor is not valid for this list",
    )
}
