//! Revocation latency per credential type (docs/SECURITY.md battery item 15): after each
//! revoking event, how many calls still succeed and how long until the first refusal.
use crate::helpers::{token_in, tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
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

/// Calls with both credentials of a grant until each is refused; a row per credential.
async fn both_refused(
    app: &TestApp,
    slug: &str,
    grant: &Value,
    event: &str,
    t: Instant,
    rows: &mut Vec<(String, usize, Duration, Duration)>,
) {
    let (at, rt) = tokens_of(grant);
    let (n, d) = until_refused(|| async { app.me(slug, &at).await.0 }).await;
    rows.push((format!("access token after {event}"), n, d, t.elapsed()));
    let (n, d) = until_refused(|| async { app.refresh(slug, &rt).await.0 }).await;
    rows.push((format!("refresh token after {event}"), n, d, t.elapsed()));
}

#[tokio::test]
async fn every_credential_is_refused_on_the_first_call_after_its_revocation() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let slug = f.slug.as_str();
    let mut rows = Vec::new();
    let g = app.grant(slug, "ann@example.com").await;

    // 1. Sign-out (`DELETE /user/auth`).
    let t = Instant::now();
    let (s, _) = app
        .user_call(Method::DELETE, "/api/v1/acme/user/auth", &tokens_of(&g).0)
        .await;
    assert_eq!(s, StatusCode::OK);
    both_refused(&app, slug, &g, "sign-out", t, &mut rows).await;

    // 2. Password change (`PUT /user/password`) from another session: this one ends.
    let (_, g) = app.sign_in(slug, "ann@example.com", PASSWORD).await;
    let (_, other) = app.sign_in(slug, "ann@example.com", PASSWORD).await;
    let t = Instant::now();
    let new_password = "another passphrase, long enough";
    let s = app
        .change_password(slug, &tokens_of(&other).0, new_password)
        .await;
    assert_eq!(s, StatusCode::OK);
    both_refused(&app, slug, &g, "password change", t, &mut rows).await;

    // 3. Password reset by mail (`POST /user/reset`, then `POST /user/password`).
    let (_, g) = app.sign_in(slug, "ann@example.com", new_password).await;
    let (s, _) = app
        .user_post(slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let t = Instant::now();
    let body = json!({"token": token, "password": PASSWORD});
    let (s, b) = app.user_post(slug, "password", body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    both_refused(&app, slug, &g, "password reset", t, &mut rows).await;

    // 4. Disable: the back office makes the account inactive
    //    (`POST /directory/users/{id}/status`).
    let (_, g) = app.sign_in(slug, "ann@example.com", PASSWORD).await;
    let path = format!(
        "/api/v1/acme/directory/users/{}/status",
        g["user"]["id"].as_str().unwrap()
    );
    let t = Instant::now();
    let body = Some(json!({"status": "inactive"}));
    let (s, _) = app.bo(Method::POST, &path, &f.admin_key, body).await;
    assert_eq!(s, StatusCode::OK);
    both_refused(&app, slug, &g, "disable", t, &mut rows).await;

    // 5. Deletion (`DELETE /user`, GDPR erasure).
    let g = app.grant(slug, "bob@example.com").await;
    let (_, g2) = app.sign_in(slug, "bob@example.com", PASSWORD).await;
    let t = Instant::now();
    let (s, _) = app
        .user_call(Method::DELETE, "/api/v1/acme/user", &tokens_of(&g2).0)
        .await;
    assert_eq!(s, StatusCode::OK);
    both_refused(&app, slug, &g, "deletion", t, &mut rows).await;

    // 6. API key revocation (`DELETE /api-keys/{id}`).
    let r = app
        .req(Method::POST, "/api/v1/acme/api-keys")
        .header("X-Api-Key", &f.admin_key)
        .json(&json!({"name": "b", "scopes": ["list_api_keys"]}))
        .send()
        .await
        .unwrap();
    let k: Value = r.json().await.unwrap();
    let key = k["key"].as_str().unwrap().to_owned();
    let t = Instant::now();
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/acme/api-keys/{}", k["id"].as_str().unwrap()),
        )
        .header("X-Api-Key", &f.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (n, d) = until_refused(|| async {
        app.req(Method::GET, "/api/v1/acme/api-keys")
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    rows.push(("API key after revoke".into(), n, d, t.elapsed()));

    // 7. Flock disabled by the platform: every credential of the flock.
    let g = app.grant(slug, "cy@example.com").await;
    let t = Instant::now();
    let r = app
        .platform(Method::POST, "/platform/v1/flocks/acme/disable")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    both_refused(&app, slug, &g, "flock disable", t, &mut rows).await;
    let (n, d) = until_refused(|| async {
        app.req(Method::GET, "/api/v1/acme/api-keys")
            .header("X-Api-Key", &f.admin_key)
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    rows.push((
        "admin API key after flock disable".into(),
        n,
        d,
        t.elapsed(),
    ));

    for (what, n, d, _) in &rows {
        println!(
            "revocation latency: {what}: {n} calls accepted, refused after {:.1} ms",
            d.as_secs_f64() * 1000.0
        );
    }
    assert_eq!(rows.len(), 14);
    assert!(rows.iter().all(|(_, n, _, _)| *n == 0), "{rows:?}");
}
