//! Addresses and change requests: the user's own (bearer) under `/user/addresses`, any
//! user's from the back office (flock API key, scopes `users_addresses_*`,
//! `users_address_requests_*`), and the back office's queue of requests
//! (`address_requests_*`).
use super::error::ApiResult;
use super::frame::tenant;
use super::ApiTags;
use crate::domain::addresses::{
    Address, AddressFields, AddressPatch, AddressService, ChangeRequest, RequestStatus,
    RequestTarget, Updated,
};
use crate::domain::pages::Page;
use crate::domain::profile::Viewer;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

pub use back_office::AddressesApi;
pub use mine::MyAddressesApi;

/// Declares a body or view struct with the thirteen address fields (each `$wrap<String>`,
/// bounded as the domain bounds them) after its own fields.
macro_rules! address_struct {
    ($(#[$attr:meta])* struct $name:ident<$wrap:ident> { $($(#[$fattr:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        struct $name {
            $($(#[$fattr])* $field: $ty,)*
            #[oai(validator(max_length = 200))]
            first_name: $wrap<String>,
            #[oai(validator(max_length = 200))]
            last_name: $wrap<String>,
            #[oai(validator(max_length = 200))]
            company_name: $wrap<String>,
            #[oai(validator(max_length = 200))]
            street: $wrap<String>,
            #[oai(validator(max_length = 32))]
            number: $wrap<String>,
            #[oai(validator(max_length = 100))]
            city: $wrap<String>,
            #[oai(validator(max_length = 20))]
            zip: $wrap<String>,
            #[oai(validator(max_length = 100))]
            region: $wrap<String>,
            /// ISO 3166-1 alpha-2 (`CY`, `FR`).
            #[oai(validator(max_length = 2))]
            country: $wrap<String>,
            /// E.164.
            #[oai(validator(max_length = 32))]
            phone: $wrap<String>,
            #[oai(validator(max_length = 64))]
            company_id: $wrap<String>,
            #[oai(validator(max_length = 64))]
            tax_id: $wrap<String>,
            #[oai(validator(max_length = 64))]
            vat_id: $wrap<String>,
        }
    };
}

address_struct! {
    /// The fields of an address (each optional).
    #[derive(Object, Clone, Default)]
    #[oai(skip_serializing_if_is_none)]
    struct AddressFieldsView<Option> {}
}

impl From<AddressFieldsView> for AddressFields {
    fn from(v: AddressFieldsView) -> Self {
        Self {
            first_name: v.first_name,
            last_name: v.last_name,
            company_name: v.company_name,
            street: v.street,
            number: v.number,
            city: v.city,
            zip: v.zip,
            region: v.region,
            country: v.country,
            phone: v.phone,
            company_id: v.company_id,
            tax_id: v.tax_id,
            vat_id: v.vat_id,
        }
    }
}

impl From<AddressFields> for AddressFieldsView {
    fn from(v: AddressFields) -> Self {
        Self {
            first_name: v.first_name,
            last_name: v.last_name,
            company_name: v.company_name,
            street: v.street,
            number: v.number,
            city: v.city,
            zip: v.zip,
            region: v.region,
            country: v.country,
            phone: v.phone,
            company_id: v.company_id,
            tax_id: v.tax_id,
            vat_id: v.vat_id,
        }
    }
}

address_struct! {
    /// A new address.
    #[derive(Object)]
    #[oai(deny_unknown_fields)]
    struct NewAddress<Option> {
        /// One of the flock's address types (`billing`, `shipping` by default).
        #[oai(rename = "type", validator(max_length = 32))]
        kind: String,
    }
}

address_struct! {
    /// Address fields to change: absent keeps, null clears.
    #[derive(Object)]
    #[oai(deny_unknown_fields)]
    struct AddressPatchBody<MaybeUndefined> {}
}

address_struct! {
    /// A change request filed by the back office: the address (by id, or the user's
    /// oldest of a type) and the fields to change.
    #[derive(Object)]
    #[oai(deny_unknown_fields)]
    struct NewRequestBody<MaybeUndefined> {
        /// The address to change…
        address_id: Option<Uuid>,
        /// …or the user's (oldest) address of this type.
        #[oai(rename = "type", validator(max_length = 32))]
        kind: Option<String>,
    }
}

macro_rules! patch_of {
    ($b:expr) => {{
        let b = $b;
        AddressPatch {
            first_name: b.first_name.into(),
            last_name: b.last_name.into(),
            company_name: b.company_name.into(),
            street: b.street.into(),
            number: b.number.into(),
            city: b.city.into(),
            zip: b.zip.into(),
            region: b.region.into(),
            country: b.country.into(),
            phone: b.phone.into(),
            company_id: b.company_id.into(),
            tax_id: b.tax_id.into(),
            vat_id: b.vat_id.into(),
        }
    }};
}

/// An address.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AddressView {
    id: Uuid,
    user_id: Uuid,
    #[oai(rename = "type")]
    kind: String,
    #[oai(flatten)]
    fields: AddressFieldsView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Address> for AddressView {
    fn from(a: Address) -> Self {
        Self {
            id: a.id,
            user_id: a.user.0,
            kind: a.kind,
            fields: a.fields.into(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Object)]
struct AddressList {
    addresses: Vec<AddressView>,
}

/// `pending`, `accepted` or `rejected`.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum RequestStatusWire {
    Pending,
    Accepted,
    Rejected,
}

impl From<RequestStatus> for RequestStatusWire {
    fn from(s: RequestStatus) -> Self {
        match s {
            RequestStatus::Pending => Self::Pending,
            RequestStatus::Accepted => Self::Accepted,
            RequestStatus::Rejected => Self::Rejected,
        }
    }
}

/// A change request: the address's fields before and as requested.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RequestView {
    id: Uuid,
    user_id: Uuid,
    address_id: Uuid,
    status: RequestStatusWire,
    old: AddressFieldsView,
    new: AddressFieldsView,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl From<ChangeRequest> for RequestView {
    fn from(r: ChangeRequest) -> Self {
        Self {
            id: r.id,
            user_id: r.user.0,
            address_id: r.address,
            status: r.status.into(),
            old: r.old.into(),
            new: r.new.into(),
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

#[derive(Object)]
struct RequestList {
    requests: Vec<RequestView>,
}

/// A page of the queue.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RequestPage {
    requests: Vec<RequestView>,
    has_more: bool,
    /// The cursor of the next page.
    next: Option<String>,
}

impl From<Page<ChangeRequest>> for RequestPage {
    fn from(p: Page<ChangeRequest>) -> Self {
        Self {
            has_more: p.next.is_some(),
            next: p.next,
            requests: p.items.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(ApiResponse)]
enum CreatedAddress {
    /// Created.
    #[oai(status = 201)]
    Created(Json<AddressView>),
}

/// What a change of an address did: one shape for both outcomes.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AddressUpdate {
    result: AddressUpdateResult,
    /// `applied`: the address as changed.
    address: Option<AddressView>,
    /// `pending`: the change request waiting for the back office.
    request: Option<RequestView>,
}

/// `applied`: changed at once. `pending`: the flock approves changes of this type, so
/// the change waits as a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum AddressUpdateResult {
    Applied,
    Pending,
}

#[derive(ApiResponse)]
enum UpdatedAddress {
    /// Changed (`result` is `applied`).
    #[oai(status = 200)]
    Done(Json<Box<AddressUpdate>>),
    /// The change waits for approval (`result` is `pending`).
    #[oai(status = 202)]
    Pending(Json<Box<AddressUpdate>>),
}

impl From<Updated> for UpdatedAddress {
    fn from(u: Updated) -> Self {
        match u {
            Updated::Done(a) => Self::Done(Json(Box::new(AddressUpdate {
                result: AddressUpdateResult::Applied,
                address: Some((*a).into()),
                request: None,
            }))),
            Updated::Pending(r) => Self::Pending(Json(Box::new(AddressUpdate {
                result: AddressUpdateResult::Pending,
                address: None,
                request: Some((*r).into()),
            }))),
        }
    }
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted (its pending requests are rejected).
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
enum CreatedRequest {
    /// The request waits for a decision.
    #[oai(status = 201)]
    Created(Json<RequestView>),
}

fn new_address(b: NewAddress) -> (String, AddressFields) {
    let fields = AddressFields {
        first_name: b.first_name,
        last_name: b.last_name,
        company_name: b.company_name,
        street: b.street,
        number: b.number,
        city: b.city,
        zip: b.zip,
        region: b.region,
        country: b.country,
        phone: b.phone,
        company_id: b.company_id,
        tax_id: b.tax_id,
        vat_id: b.vat_id,
    };
    (b.kind, fields)
}

// After `patch_of!`, which they use (a macro is seen from where it is defined on).
mod back_office;
mod mine;
