//! Battery items that cross every area (see `docs/SECURITY.md`).
//! - `isolation`, `isolation_matrix` — battery 1 (cross-flock) and 4 (spoofed headers);
//! - `errors` — every error in the error shape, changing nothing;
//! - `spec` — the committed spec matches the code;
//! - `crash` — battery 18 (kill -9 during registration load);
//! - `redis_outage` — battery 19 (Redis killed and restarted);
//! - `logs` — battery 20 (canary secrets never in logs);
//! - `lookalikes` — battery 29 (look-alike email addresses);
//! - `strict_input` — battery 28 (control characters, duplicate keys, content types, 413, 405);
//! - `wrong_types` — every body property of every operation refused by name when wrongly typed.
mod crash;
mod errors;
mod isolation;
mod isolation_matrix;
mod logs;
mod lookalikes;
mod redis_outage;
mod spec;
mod strict_input;
mod wrong_types;
