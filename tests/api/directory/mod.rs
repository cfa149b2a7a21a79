//! The directory area (`domain/directory`, `api/directory`): the back office's users.
//! - `create` — every field, uniqueness, generated passwords, the first mail, bad input;
//! - `statuses` — transitions through the API, confirm, email validity, role and access,
//!   PATCH updates;
//! - `claim` — contacts without credentials, B2B contacts, claiming (code, link,
//!   registration), passwordless registration;
//! - `search` — filters, sorts, keyset pages, cursors, list by ids, the capped count,
//!   hostile filter values;
//! - `narrowing` — the two ways a search is answered give the same pages;
//! - `seed` — the bulk loader of the benchmarks;
//! - `bad_input` — every operation's refusals, with their codes and fields, change nothing.
mod bad_input;
mod claim;
mod create;
mod narrowing;
mod search;
mod seed;
mod statuses;
