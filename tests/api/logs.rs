//! Battery 20: canary secrets seeded in every flow never appear in the logs, even at the
//! most verbose level.
use crate::process::{self, Server};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn canary_secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = process::database_url(dir.path()).await;
    let mut server = Server::start(
        dir.path(),
        &db_url,
        &[("FOLD_LOG__FILTER", "trace".to_owned())],
    )
    .await;
    let base = server.base.clone();
    let admin_key = process::create_flock(&base, "acme").await;
    let client = reqwest::Client::new();
    let pw = "canary-password-7f3a9c1e";
    let mut seeded = vec![pw.to_owned(), admin_key.clone(), process::PK.to_owned()];

    let r = client
        .post(format!("{base}/api/v1/acme/user/register"))
        .json(&json!({"email": "ann@example.com", "password": pw, "terms_accepted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let wrong = "canary-wrong-password-5b2d";
    seeded.push(wrong.to_owned());
    process::sign_in(&base, "acme", "ann@example.com", wrong).await;
    let r = process::sign_in(&base, "acme", "ann@example.com", pw).await;
    let b: serde_json::Value = r.json().await.unwrap();
    let token = b["access_token"].as_str().unwrap().to_owned();
    seeded.push(token.clone());
    client
        .get(format!("{base}/api/v1/acme/user"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    // Secrets in places they do not belong: a query string, a bad header, a bad body.
    let fake_key = "fold_fk_canaryprefix_canarysecretcanarysecretcanarysecret";
    seeded.push(fake_key.to_owned());
    client
        .get(format!(
            "{base}/api/v1/acme/user?token={token}&api_key={fake_key}"
        ))
        .header("X-Api-Key", fake_key)
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/api/v1/acme/user/auth"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"email\": \"ann@example.com\", \"password\": \"{pw}\", \"extra\": "
        ))
        .send()
        .await
        .unwrap();
    // SIGTERM: a graceful stop flushes everything it logged.
    server.term();
    let logs = std::fs::read_to_string(&server.log).unwrap();
    let stdout = std::fs::read_to_string(dir.path().join("stdout.log")).unwrap_or_default();
    let found: Vec<&String> = seeded
        .iter()
        .filter(|s| logs.contains(s.as_str()) || stdout.contains(s.as_str()))
        .collect();
    println!(
        "canary secrets: {} seeded across {} log bytes / {} found",
        seeded.len(),
        logs.len(),
        found.len()
    );
    assert!(logs.len() > 1000, "the server logged at trace level");
    assert!(found.is_empty(), "secrets in logs: {found:?}");
}
