//! SECURITY.md battery items 5, 6, 7 (password part), 8 and 16, plus imported bcrypt and
//! weaker argon2 hashes being upgraded at sign-in. Each test prints its figure.
//! Items by group: `hashes`, `guessing`, `reset_links`.
mod guessing;
mod hashes;
mod reset_links;
