//! Passwords: the policy (length in code points, blocklist, not the user's own email or
//! name) and argon2id hashing on a bounded pool, off the async runtime.
mod hasher;
mod policy;

pub use hasher::{HashError, Hasher, Verified};
pub use policy::check_policy;
