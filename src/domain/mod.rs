//! Business rules: one service and one error enum per area. Nothing here knows HTTP.
pub mod addresses;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod directory;
pub mod federation;
pub mod files;
pub mod flocks;
pub mod groups;
pub mod limits;
pub mod mail;
pub mod meta;
pub mod otp;
pub mod pages;
pub mod password;
pub mod profile;
pub mod retention;
pub mod sessions;
pub mod signin;
pub mod signing;
pub mod stats;
pub mod user;
pub mod webhooks;

use crate::db::DbError;
use crate::infra::kv::KvError;

/// Failures of the parts we depend on, shared by every area's error enum.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The file store (local directory or object store) failed.
    #[error(transparent)]
    Store(#[from] crate::infra::files::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A rule broken by an input: a stable code, a message a person can read, and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
    pub field: Option<std::borrow::Cow<'static, str>>,
}

impl Invalid {
    pub fn new(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// An input whose field is named at run time (`fields.birthdate`).
    pub fn at(code: &'static str, field: String, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
