//! Revocation latency per credential type (SECURITY.md battery item 15): after each
//! revoking event, how many calls still succeed and how long until the first refusal.
use crate::helpers::{tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

/// Calls `probe` until it is refused (at most 50 times); returns (accepted, latency).
async fn until_refused<F, Fut>(mut probe: F) -> (usize, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let started = Instant::now();
    for accepted in 0..50 {
        if !probe().await.is_success() {
            return (accepted, started.elapsed());
        }
    }
    (50, started.elapsed())
}

#[tokio::test]
async fn every_credential_is_refused_on_the_first_call_after_its_revocation() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let flock = app.flock_id(&f.slug).await;
    let mut rows = Vec::new();
    let g = app.grant(&f.slug, "ann@example.com").await;
    let user = fold::ids::UserId(g["user"]["id"].as_str().unwrap().parse().unwrap());

    // 1. Sign-out: access and refresh token of the session.
    let (at, rt) = tokens_of(&g);
    let t = Instant::now();
    let (s, _) = app
        .user_call(
            Method::DELETE,
            &format!("/api/v1/{}/user/auth", f.slug),
            &at,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (n, d) = until_refused(|| async { app.me(&f.slug, &at).await.0 }).await;
    rows.push(("access token after sign-out", n, d, t.elapsed()));
    let (n, d) = until_refused(|| async { app.refresh(&f.slug, &rt).await.0 }).await;
    rows.push(("refresh token after sign-out", n, d, t.elapsed()));

    // 2. Password change / reset (what those paths call: SessionStore::revoke_all).
    let (_, g) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (at, rt) = tokens_of(&g);
    let t = Instant::now();
    app.state
        .sessions
        .revoke_all(flock, user, None)
        .await
        .unwrap();
    let (n, d) = until_refused(|| async { app.me(&f.slug, &at).await.0 }).await;
    rows.push(("access token after password change", n, d, t.elapsed()));
    let (n, d) = until_refused(|| async { app.refresh(&f.slug, &rt).await.0 }).await;
    rows.push(("refresh token after password change", n, d, t.elapsed()));

    // 3. Disable: the user's status changes and its sessions end (the accounts path).
    let (_, g) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (at, rt) = tokens_of(&g);
    let t = Instant::now();
    {
        use sea_orm::{ConnectionTrait, Statement};
        let conn = app.state.db_conn();
        let backend = conn.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => "UPDATE users SET status = 'inactive' WHERE id = $1",
            _ => "UPDATE users SET status = 'inactive' WHERE id = ?",
        };
        let id: sea_orm::Value = user.0.into();
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, [id]))
            .await
            .unwrap();
    }
    app.state
        .sessions
        .revoke_all(flock, user, None)
        .await
        .unwrap();
    let (n, d) = until_refused(|| async { app.me(&f.slug, &at).await.0 }).await;
    rows.push(("access token after disable", n, d, t.elapsed()));
    let (n, d) = until_refused(|| async { app.refresh(&f.slug, &rt).await.0 }).await;
    rows.push(("refresh token after disable", n, d, t.elapsed()));

    // 4. API key revocation.
    let r = app
        .req(Method::POST, &format!("/api/v1/{}/api-keys", f.slug))
        .header("X-Api-Key", &f.admin_key)
        .json(&json!({"name": "b", "scopes": ["list_api_keys"]}))
        .send()
        .await
        .unwrap();
    let k: serde_json::Value = r.json().await.unwrap();
    let key = k["key"].as_str().unwrap().to_owned();
    let t = Instant::now();
    app.state
        .api_keys
        .revoke(flock, k["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    let (n, d) = until_refused(|| async {
        app.req(Method::GET, &format!("/api/v1/{}/api-keys", f.slug))
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    rows.push(("API key after revoke", n, d, t.elapsed()));

    for (what, n, d, _) in &rows {
        println!(
            "revocation latency: {what}: {n} calls accepted, refused after {:.1} ms",
            d.as_secs_f64() * 1000.0
        );
    }
    assert!(rows.iter().all(|(_, n, _, _)| *n == 0), "{rows:?}");
}
