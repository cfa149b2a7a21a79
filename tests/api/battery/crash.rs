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

/// A one-time-code round trip in the crash test: the code is read from the server's
/// SMS outbox (one JSON file per message, in its working directory).
async fn otp_round_trip(
    c: &reqwest::Client,
    base: &str,
    outbox: &std::path::Path,
    phone: &str,
) -> Option<(String, String)> {
    let r = c
        .post(format!("{base}/api/v1/acme/user/otp"))
        .json(&serde_json::json!({"channel": "sms", "identifier": phone, "purpose": "sign_in"}))
        .send()
        .await
        .ok()?;
    if r.status() != reqwest::StatusCode::ACCEPTED {
        return None;
    }
    let code = (0..100).find_map(|_| {
        let found = fold::infra::read_json_dir::<fold::infra::sms::OutgoingSms>(outbox)
            .into_iter()
            .find(|m| m.to == phone)?;
        found.text.split_once("code is ").map(|(_, rest)| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
    })?;
    let r = c
        .post(format!("{base}/api/v1/acme/user/otp/verify"))
        .json(
            &serde_json::json!({"channel": "sms", "identifier": phone, "purpose": "sign_in",
            "code": code, "terms_accepted": true}),
        )
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let b: serde_json::Value = r.json().await.ok()?;
    Some((code, b["refresh_token"].as_str()?.to_owned()))
}

async fn refresh(c: &reqwest::Client, base: &str, token: &str) -> Option<String> {
    let r = c
        .post(format!("{base}/api/v1/acme/token/refresh"))
        .json(&serde_json::json!({ "refresh_token": token }))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let b: serde_json::Value = r.json().await.ok()?;
    b["refresh_token"].as_str().map(str::to_owned)
}

/// kill -9 during one-time-code sign-ups and refresh chains on the embedded KV store
/// (group commit): after a restart, everything a client saw acknowledged is there.
#[tokio::test]
async fn kill_9_during_code_and_refresh_load_loses_no_acknowledged_write() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let db_url = process::database_url(dir.path()).await;
    let mut server = Server::start(dir.path(), &db_url, &[]).await;
    let r = reqwest::Client::new()
        .post(format!("{}/platform/v1/flocks", server.base))
        .header("X-Platform-Key", process::PK)
        .json(&serde_json::json!({"slug": "acme", "settings": {"otp": {
            "sends_per_ip_hour": 100_000, "sms_per_flock_day": 1_000_000}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let outbox = dir.path().join("data/sms-outbox");
    let c = reqwest::Client::new();
    // Refresh chains: 8 accounts signed up by code first.
    let mut chains = Vec::new();
    for i in 0..8 {
        let (_, rt) = otp_round_trip(&c, &server.base, &outbox, &format!("+35798{i:06}"))
            .await
            .expect("sign-up before the load");
        chains.push(rt);
    }

    // Acknowledged by the server before it died: (phone, code, refresh token) of code
    // sign-ups, and the newest refresh token of each chain.
    let signed_up: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let newest: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(chains.clone()));
    let mut load = Vec::new();
    for w in 0..8usize {
        let (base, outbox, signed_up) = (server.base.clone(), outbox.clone(), signed_up.clone());
        load.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            for i in 0..10_000 {
                let phone = format!("+35797{w:02}{i:04}");
                match otp_round_trip(&c, &base, &outbox, &phone).await {
                    Some((code, rt)) => signed_up.lock().unwrap().push((phone, code, rt)),
                    None => return,
                }
            }
        }));
        let (base, newest) = (server.base.clone(), newest.clone());
        load.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            loop {
                let current = newest.lock().unwrap()[w].clone();
                match refresh(&c, &base, &current).await {
                    Some(next) => newest.lock().unwrap()[w] = next,
                    None => return,
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill9();
    for l in load {
        let _ = l.await;
    }

    let server = Server::start(dir.path(), &db_url, &[]).await;
    let signed_up = signed_up.lock().unwrap().clone();
    let newest = newest.lock().unwrap().clone();
    let (mut lost_accounts, mut lost_sessions, mut codes_reusable, mut lost_successors) =
        (0, 0, 0, 0);
    let db = Sql::connect(&db_url).await;
    for (phone, code, rt) in &signed_up {
        let n = db
            .scalar(&format!(
                "SELECT COUNT(*) FROM users WHERE phone = '{phone}'"
            ))
            .await;
        lost_accounts += usize::from(n != 1);
        // The session and its first refresh token are there: the token refreshes.
        lost_sessions += usize::from(refresh(&c, &server.base, rt).await.is_none());
        // The code was consumed and stays consumed.
        let r = c
            .post(format!("{}/api/v1/acme/user/otp/verify", server.base))
            .json(&serde_json::json!({"channel": "sms", "identifier": phone,
                "purpose": "sign_in", "code": code}))
            .send()
            .await
            .unwrap();
        codes_reusable += usize::from(r.status().is_success());
    }
    for rt in &newest {
        lost_successors += usize::from(refresh(&c, &server.base, rt).await.is_none());
    }
    println!(
        "kill -9 during code and refresh load: {} code sign-ups and {} refresh chains acknowledged; \
         accounts lost {lost_accounts}, sessions lost {lost_sessions}, codes usable again {codes_reusable}, \
         newest refresh tokens lost {lost_successors}",
        signed_up.len(),
        newest.len()
    );
    assert!(
        signed_up.len() >= 8,
        "the load did not run: {}",
        signed_up.len()
    );
    assert_eq!(lost_accounts, 0);
    assert_eq!(lost_sessions, 0);
    assert_eq!(codes_reusable, 0);
    assert_eq!(lost_successors, 0);
}
