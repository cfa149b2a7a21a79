//! Self-service accounts under `/api/v1/{flock}/user…` (one file per group of
//! operations).
mod auth;
mod profile;
mod recovery;

pub use auth::UserApi;
pub use profile::UserProfileApi;
pub use recovery::UserRecoveryApi;

use poem_openapi::payload::Json;
use poem_openapi::Object;

/// A plain acknowledgement.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Ack {
    /// `ok`, or `accepted` when a mail may follow.
    pub status: String,
}

impl Ack {
    pub fn new(s: &str) -> Json<Self> {
        Json(Self { status: s.into() })
    }
}
