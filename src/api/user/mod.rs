//! Self-service accounts under `/api/v1/{flock}/user…` (one file per group of
//! operations).
mod auth;
mod export;
mod profile;
mod recovery;

pub use auth::UserApi;
pub use profile::UserProfileApi;
pub use recovery::UserRecoveryApi;

use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object};

/// A plain acknowledgement.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Ack {
    pub status: AckStatus,
}

/// `ok`: done; `accepted`: taken, and a mail may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AckStatus {
    Ok,
    Accepted,
}

impl Ack {
    pub fn ok() -> Json<Self> {
        Json(Self {
            status: AckStatus::Ok,
        })
    }

    pub fn accepted() -> Json<Self> {
        Json(Self {
            status: AckStatus::Accepted,
        })
    }
}
