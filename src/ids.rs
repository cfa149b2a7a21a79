//! Typed ids shared by the domain and storage layers, so a flock id can never be passed
//! where a user id is expected. [`FlockId`] lives in `db` (only storage makes one from a
//! stored row); the others are plain newtypes.
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

pub use crate::db::FlockId;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user of one flock.
    UserId
);
id_type!(
    /// A session (in the KV store), carried as `sid` in access tokens.
    SessionId
);
