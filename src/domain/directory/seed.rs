//! Seeding a large directory quickly (`fold users seed`, the benchmarks): users with
//! plausible names, one password hash computed once for all of them, a `tier` meta pair
//! each, batched inserts. Not a way to create real accounts: no mail, no per-row checks.
use crate::db::user::{DirectoryRow, NewUser};
use crate::db::Db;
use crate::domain::InfraError;
use crate::ids::{FlockId, UserId};
use chrono::{DateTime, Duration, Utc};

const FIRST: [&str; 24] = [
    "Ada", "Ahmed", "Alice", "Ana", "Anton", "Bea", "Ben", "Carla", "Chen", "Dana", "David",
    "Elena", "Emil", "Fatima", "Gus", "Hana", "Ivan", "Jana", "Kofi", "Lena", "Marco", "Nora",
    "Omar", "Zoe",
];
const LAST: [&str; 24] = [
    "Abbott", "Berg", "Costa", "Diaz", "Ek", "Fox", "Garcia", "Hill", "Ito", "Jung", "Khan",
    "Lopez", "Meyer", "Novak", "Olsen", "Park", "Quinn", "Rossi", "Samir", "Tan", "Ueda", "Varga",
    "Wu", "Young",
];
/// The meta values, as evenly spread as the users.
pub const TIERS: [&str; 3] = ["gold", "silver", "bronze"];

/// What was seeded.
pub struct Seeded {
    pub users: u64,
}

/// Inserts `count` users into `flock`: email `u{n}@{domain}`, a name from 24 × 24 pairs,
/// one user in 20 `inactive`, created (and registered) `spacing` apart ending `now`, three
/// in four with a last sign-in up to 1,000 hours after their creation (never after
/// `now`), all with the password whose hash is `password_hash`, and meta `tier`.
/// `progress` is told each batch.
#[allow(clippy::too_many_arguments)]
pub async fn seed_users(
    db: &Db,
    flock: FlockId,
    domain: &str,
    count: u64,
    password_hash: &str,
    now: DateTime<Utc>,
    spacing: Duration,
    mut progress: impl FnMut(u64),
) -> Result<Seeded, InfraError> {
    const BATCH: u64 = 500;
    let scoped = db.scoped(flock);
    let mut done = 0;
    while done < count {
        let n = BATCH.min(count - done);
        let mut users = Vec::with_capacity(n as usize);
        let mut meta = Vec::with_capacity(n as usize);
        for i in done..done + n {
            let id = UserId::new();
            let first = FIRST[(i % 24) as usize];
            let last = LAST[((i / 24) % 24) as usize];
            let created = now - spacing * ((count - i) as i32);
            let last_sign_in =
                (i % 4 != 0).then(|| (created + Duration::hours((i % 1000) as i64)).min(now));
            users.push(NewUser {
                id,
                email: Some(format!("u{i}@{domain}")),
                phone: None,
                password_hash: Some(password_hash.to_owned()),
                status: if i % 20 == 19 { "inactive" } else { "active" }.to_owned(),
                role: "client".to_owned(),
                first_name: Some(first.to_owned()),
                last_name: Some(format!("{last}{}", i % 997)),
                locale: None,
                email_verified: true,
                phone_verified: false,
                opt_outs: serde_json::json!({}),
                terms_accepted_at: Some(created),
                source: Some("seed".to_owned()),
                directory: DirectoryRow {
                    kind: "person".to_owned(),
                    api_access: true,
                    ..DirectoryRow::default()
                },
                registered_at: Some(created),
                created_at: created,
                last_sign_in_at: last_sign_in,
            });
            meta.push((
                id,
                "tier".to_owned(),
                TIERS[(i % 3) as usize].to_owned(),
                false,
            ));
        }
        scoped.users_insert_many(users).await?;
        scoped.meta_insert_many(meta, now).await?;
        done += n;
        progress(done);
    }
    Ok(Seeded { users: done })
}
