//! Profile data (`domain/profile`, `api/profile`): the field schema, the card.
//! - `card` — the round trip: a schema of every type, registration with fields, the
//!   card, a per-field edit; `flock_data`; the back office's card;
//! - `schema` — schema checks, versions, changes that would orphan or invalidate values
//!   (refused with counts, or dropped on request), removal, purge;
//! - `files` — uploads (sniffed, limited), renditions without metadata, signed URLs,
//!   order, replace, delete, erasure, a store that is down;
//! - `addresses` — addresses by type, change requests, the back office's queue;
//! - `values` — values at registration, one-time-code sign-up and in the back office,
//!   search by value, export and erasure.
mod addresses;
mod card;
mod files;
mod schema;
mod values;
