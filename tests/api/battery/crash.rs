//! Battery 18: kill -9 of the server during registration load, then SQL invariants.
use crate::helpers::process::{self, Server};
use crate::helpers::sql::Sql;

#[tokio::test]
async fn kill_9_during_registration_load_leaves_no_half_created_users() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = process::database_url(dir.path()).await;
    let mut server = Server::start(dir.path(), &db_url, &[]).await;
    process::create_flock(&server.base, "acme").await;

    // 200 registrations from 16 workers; the server dies in the middle.
    let base = server.base.clone();
    let load = tokio::spawn(async move {
        let mut handles = Vec::new();
        for w in 0..16 {
            let base = base.clone();
            handles.push(tokio::spawn(async move {
                let mut ok = 0;
                for i in 0..13 {
                    // Some emails repeat across workers: duplicates must stay impossible.
                    let email = format!("user{}@example.com", (w * 13 + i) % 150);
                    if process::register(&base, "acme", &email).await.is_some() {
                        ok += 1;
                    }
                }
                ok
            }));
        }
        let mut answered = 0;
        for h in handles {
            answered += h.await.unwrap_or(0);
        }
        answered
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    server.kill9();
    let answered = load.await.unwrap();

    // Restart on the same database: it must come up and serve.
    let server = Server::start(dir.path(), &db_url, &[]).await;
    let r = process::sign_in(
        &server.base,
        "acme",
        "nobody@example.com",
        "x-wrong-password",
    )
    .await;
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);

    let db = Sql::connect(&db_url).await;
    let users = db.scalar("SELECT COUNT(*) FROM users").await;
    let dup = db.scalar(
        "SELECT COUNT(*) FROM (SELECT flock_id, email FROM users GROUP BY flock_id, email HAVING COUNT(*) > 1) d",
    )
    .await;
    let orphans = db.scalar(
        "SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM flocks f WHERE f.id = u.flock_id)",
    )
    .await;
    let no_hash = db
        .scalar("SELECT COUNT(*) FROM users WHERE password_hash IS NULL OR password_hash = ''")
        .await;
    println!(
        "kill -9 during registration: {answered} answered before the kill, {users} users stored; \
         duplicates {dup}, orphans {orphans}, users without their password hash {no_hash}"
    );
    assert_eq!(dup, 0);
    assert_eq!(orphans, 0);
    assert_eq!(no_hash, 0);
}
