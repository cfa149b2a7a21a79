//! The sign-in area (`domain/signin`): the one owner of every session granted or renewed,
//! and the account rules it applies once, whatever the path.
//! - `rules` — who gets or keeps a session, with which role; device and visitor ties.
mod rules;
