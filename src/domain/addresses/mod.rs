//! Addresses by type (`billing`, `shipping`, and the types a flock names) and change
//! requests: where the flock approves a type, a user's change of an address of it
//! becomes a request (old and new fields) that the back office accepts — the address
//! changes then — or rejects. The back office changes addresses directly, or files a
//! request on a user's behalf.
use crate::db::addresses::{AddressRow, Decided, RequestRow};
use crate::db::Db;
use crate::domain::flocks::Flock;
use crate::domain::pages::{self, Cursors, Page};
use crate::domain::profile::Viewer;
use crate::domain::{InfraError, Invalid};
use crate::ids::UserId;
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A user holds at most this many addresses.
pub const MAX_ADDRESSES: u64 = 20;

mod fields;
pub use fields::{AddressFields, AddressPatch};

#[derive(Debug, Clone)]
pub struct Address {
    pub id: Uuid,
    pub user: UserId,
    pub kind: String,
    pub fields: AddressFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "accepted" => RequestStatus::Accepted,
            "rejected" => RequestStatus::Rejected,
            _ => RequestStatus::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChangeRequest {
    pub id: Uuid,
    pub user: UserId,
    pub address: Uuid,
    pub status: RequestStatus,
    pub old: AddressFields,
    pub new: AddressFields,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// What an update did.
#[derive(Debug, Clone)]
pub enum Updated {
    /// The address changed.
    Done(Box<Address>),
    /// The type needs approval: the change waits as this request.
    Pending(Box<ChangeRequest>),
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("user not found")]
    UserNotFound,
    #[error("address not found")]
    NotFound,
    /// A request for a type of address the user does not hold (seed 000's "parent
    /// address not found").
    #[error("parent address not found")]
    ParentNotFound,
    #[error("request not found")]
    RequestNotFound,
    #[error("the request was already decided")]
    AlreadyDecided,
    #[error("the address was deleted; the request is rejected")]
    AddressGone,
    #[error("too many addresses")]
    TooMany,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Invalid> for AddressError {
    fn from(i: Invalid) -> Self {
        AddressError::Invalid(i)
    }
}

impl From<crate::db::DbError> for AddressError {
    fn from(e: crate::db::DbError) -> Self {
        AddressError::Infra(e.into())
    }
}

impl From<AddressRow> for Address {
    fn from(r: AddressRow) -> Self {
        Self {
            id: r.id,
            user: UserId(r.user_id),
            kind: r.kind,
            fields: AddressFields::from_json(r.fields),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl From<RequestRow> for ChangeRequest {
    fn from(r: RequestRow) -> Self {
        Self {
            id: r.id,
            user: UserId(r.user_id),
            address: r.address_id,
            status: RequestStatus::parse(&r.status),
            old: AddressFields::from_json(r.old_fields),
            new: AddressFields::from_json(r.new_fields),
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

#[derive(Clone)]
pub struct AddressService {
    db: Db,
    clock: Clock,
    cursors: Cursors,
}

impl AddressService {
    pub fn new(db: Db, clock: Clock, cursors: Cursors) -> Self {
        Self { db, clock, cursors }
    }

    /// An account of this flock that is not anonymised.
    async fn holder(&self, flock: &Flock, user: UserId) -> Result<(), AddressError> {
        if self.db.scoped(flock.id).user_is_live(user).await? {
            Ok(())
        } else {
            Err(AddressError::UserNotFound)
        }
    }

    fn kind<'a>(
        &self,
        flock: &'a Flock,
        kind: &str,
    ) -> Result<&'a crate::domain::flocks::AddressType, AddressError> {
        flock.settings.address_type(kind).ok_or_else(|| {
            Invalid::new(
                "unknown_address_type",
                "type",
                "this flock has no address type by this name",
            )
            .into()
        })
    }

    pub async fn list(
        &self,
        flock: &Flock,
        user: UserId,
        kind: Option<&str>,
    ) -> Result<Vec<Address>, AddressError> {
        self.holder(flock, user).await?;
        let rows = self.db.scoped(flock.id).addresses_of(user, kind).await?;
        Ok(rows.into_iter().map(Address::from).collect())
    }

    pub async fn create(
        &self,
        flock: &Flock,
        user: UserId,
        kind: &str,
        fields: AddressFields,
    ) -> Result<Address, AddressError> {
        self.holder(flock, user).await?;
        self.kind(flock, kind)?;
        let fields = fields.checked()?;
        let db = self.db.scoped(flock.id);
        if db.address_count(user).await? >= MAX_ADDRESSES {
            return Err(AddressError::TooMany);
        }
        let row = db
            .address_create(user, kind, fields.json(), self.clock.now())
            .await?;
        Ok(row.into())
    }

    /// Changes an address: at once, or — a user's change of a type the flock approves —
    /// as a pending request.
    pub async fn update(
        &self,
        flock: &Flock,
        user: UserId,
        id: Uuid,
        patch: AddressPatch,
        by: Viewer,
    ) -> Result<Updated, AddressError> {
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        let current: Address = db
            .address(user, id)
            .await?
            .ok_or(AddressError::NotFound)?
            .into();
        let new = current.fields.clone().patched(patch).checked()?;
        let approval = flock
            .settings
            .address_type(&current.kind)
            .is_some_and(|t| t.approval);
        let now = self.clock.now();
        if by == Viewer::User && approval {
            let req = db
                .request_create(user, id, current.fields.json(), new.json(), now)
                .await?;
            return Ok(Updated::Pending(Box::new(req.into())));
        }
        if !db.address_update(user, id, new.json(), now).await? {
            return Err(AddressError::NotFound);
        }
        Ok(Updated::Done(Box::new(Address {
            fields: new,
            updated_at: now,
            ..current
        })))
    }

    pub async fn delete(&self, flock: &Flock, user: UserId, id: Uuid) -> Result<(), AddressError> {
        self.holder(flock, user).await?;
        if self
            .db
            .scoped(flock.id)
            .address_delete(user, id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(AddressError::NotFound)
        }
    }

    /// The back office files a change request for a user's address (by id, or the
    /// oldest of a type): 404 `parent_address_not_found` when there is none to change.
    pub async fn request(
        &self,
        flock: &Flock,
        user: UserId,
        target: RequestTarget,
        patch: AddressPatch,
    ) -> Result<ChangeRequest, AddressError> {
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        let parent = match target {
            RequestTarget {
                address: Some(id),
                kind: None,
            } => db.address(user, id).await?,
            RequestTarget {
                address: None,
                kind: Some(kind),
            } => {
                self.kind(flock, &kind)?;
                db.addresses_of(user, Some(&kind)).await?.into_iter().next()
            }
            _ => {
                return Err(Invalid::new(
                    "one_target",
                    "address_id",
                    "give either address_id or type",
                )
                .into())
            }
        };
        let current: Address = parent.ok_or(AddressError::ParentNotFound)?.into();
        let new = current.fields.clone().patched(patch).checked()?;
        let req = db
            .request_create(
                user,
                current.id,
                current.fields.json(),
                new.json(),
                self.clock.now(),
            )
            .await?;
        Ok(req.into())
    }

    /// A user's change requests, newest first.
    pub async fn requests_of(
        &self,
        flock: &Flock,
        user: UserId,
    ) -> Result<Vec<ChangeRequest>, AddressError> {
        self.holder(flock, user).await?;
        let rows = self.db.scoped(flock.id).requests_of(user).await?;
        Ok(rows.into_iter().map(ChangeRequest::from).collect())
    }

    /// The flock's requests in `status`, oldest first, a page at a time.
    pub async fn queue(
        &self,
        flock: &Flock,
        status: RequestStatus,
        limit: Option<u64>,
        cursor: Option<String>,
    ) -> Result<Page<ChangeRequest>, AddressError> {
        let limit = pages::limit(limit)?;
        let list = format!("address-requests|{}", status.as_str());
        let after: Option<(DateTime<Utc>, Uuid)> = match cursor {
            Some(c) => Some(self.cursors.open(flock.id, &list, &c).await??),
            None => None,
        };
        let mut rows = self
            .db
            .scoped(flock.id)
            .requests_page(status.as_str(), after, limit + 1)
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(
                self.cursors
                    .seal(flock.id, &list, &(last.created_at, last.id))
                    .await?,
            ),
            _ => None,
        };
        Ok(Page {
            items: rows.into_iter().map(ChangeRequest::from).collect(),
            next,
        })
    }

    /// Accepts (the address takes the new fields) or rejects a pending request.
    pub async fn decide(
        &self,
        flock: &Flock,
        id: Uuid,
        accept: bool,
    ) -> Result<ChangeRequest, AddressError> {
        match self
            .db
            .scoped(flock.id)
            .request_decide(id, accept, self.clock.now())
            .await?
        {
            Decided::Done(r) => Ok(r.into()),
            Decided::Unknown => Err(AddressError::RequestNotFound),
            Decided::NotPending(_) => Err(AddressError::AlreadyDecided),
            Decided::AddressGone(_) => Err(AddressError::AddressGone),
        }
    }
}

/// Which address a back-office request changes: by id, or the user's oldest of a type
/// (exactly one of the two).
#[derive(Debug, Clone)]
pub struct RequestTarget {
    pub address: Option<Uuid>,
    pub kind: Option<String>,
}
