//! The limits area (`domain/limits`): KV-backed counters and the password sign-in
//! throttle.
//! - `counters` — caps hold under parallel calls and across a window boundary;
//! - `login` — battery 7 (brute force on one account, sequential and parallel).
mod counters;
mod login;
