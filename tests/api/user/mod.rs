//! The user area (`domain/user`, `api/user`): the self-service account lifecycle end to
//! end, following the mailed links, and the password battery items.
//! - `basics` — register, sign in, read the current user;
//! - `signup` — registration and activation, approval, phone accounts, preregistration;
//! - `passwords` — sign-out, reset and change, statuses a reset may move on;
//! - `profile` — preauth, availability, read, patch, export, erase;
//! - `hashes` — battery 5 and 6 (policy table, hash audit), legacy hashes upgraded;
//! - `guessing` — battery 7 (password part) and 8 (timing);
//! - `reset_links` — battery 16 (reset links and the life of reset tokens).
mod basics;
mod guessing;
mod hashes;
mod passwords;
mod profile;
mod reset_links;
mod signup;
