//! Every error answers with `{code, message, field?, request_id}` and changes nothing.
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Users stored, of every flock (an invariant check: straight from the database).
async fn user_count(app: &TestApp) -> i64 {
    app.sql().await.scalar("SELECT COUNT(*) FROM users").await
}

#[tokio::test]
async fn unknown_flock_is_a_json_404() {
    let app = TestApp::spawn().await;
    let r = app
        .req(Method::GET, "/api/v1/no-such-flock/user")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get("x-request-id").is_some());
    let body: Value = r.json().await.unwrap();
    assert_error(&body, "flock_not_found");
}

#[tokio::test]
async fn malformed_json_missing_field_and_wrong_content_type_change_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let path = format!("/api/v1/{}/user/register", f.slug);

    let r = app
        .req(Method::POST, &path)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_error(&r.json().await.unwrap(), "invalid_request");

    let r = app
        .req(Method::POST, &path)
        // (email is optional since phone sign-up; a password is required unless the
        // flock allows passwordless registration)
        .json(&json!({"email": "a@example.com", "terms_accepted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_error(&b, "password_required");
    assert_eq!(b["field"], "password", "{b}");

    let r = app
        .req(Method::POST, &path)
        .json(&json!({"email": 7, "password": "correct horse battery staple", "terms_accepted": true}))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["field"], "email", "wrong type: {b}");

    let r = app
        .req(Method::POST, &path)
        .header("content-type", "text/plain")
        .body("email=a@b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&r.json().await.unwrap(), "unsupported_content_type");

    let r = app
        .req(Method::POST, &path)
        .json(&json!({"email": "a@example.com", "password": "correct horse battery staple", "terms_accepted": true, "status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );

    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn unknown_route_and_wrong_method_answer_json() {
    let app = TestApp::spawn().await;
    let r = app.req(Method::GET, "/nowhere").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_error(&r.json().await.unwrap(), "not_found");

    let r = app.req(Method::PUT, "/healthz").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&r.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, b) = app
        .register(&f.slug, "not-an-email", "correct horse battery staple")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "invalid_email");
    assert_eq!(b["field"], "email");

    let r = app
        .req(Method::POST, &format!("/api/v1/{}/user/register", f.slug))
        .json(&json!({"email": "a@example.com", "password": "correct horse battery staple", "terms_accepted": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_error(&b, "terms_not_accepted");
    assert_eq!(b["field"], "terms_accepted");
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let big = "x".repeat(2 * 1024 * 1024);
    let r = app
        .req(Method::POST, &format!("/api/v1/{}/user/register", f.slug))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&r.json().await.unwrap(), "payload_too_large");
}

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let r = app.req(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.req(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["database"], true);
    assert_eq!(b["kv"], true);
    let m = app
        .req(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("fold_http_requests_total{operation=\"readyz\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(m.contains("fold_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn a_dead_kv_store_gives_503_never_an_open_door() {
    // Nothing listens on port 1: every KV call fails.
    let app = TestApp::builder()
        .redis("redis://127.0.0.1:1")
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let (s, _) = app
        .register(&f.slug, "ann@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(s, StatusCode::CREATED, "registration needs no KV");
    let (s, b) = app
        .sign_in(&f.slug, "ann@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, "kv_unavailable");

    // A token signed by the flock's real key is still refused while its session cannot be checked.
    let (user, sid) = (fold::ids::UserId::new(), fold::ids::SessionId::new());
    let token = app.mint_access_token(&f.slug, user, sid, "client").await;
    let (s, b) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_error(&b, "kv_unavailable");
    let r = app.req(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn one_address_past_its_quota_gets_429_with_retry_after() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.ip_per_second = 1;
            c.limits.ip_burst = 5;
        })
        .spawn()
        .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = app.req(Method::GET, "/healthz").send().await.unwrap();
        statuses.push((r.status(), r.headers().get("retry-after").cloned()));
    }
    let ok = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    let limited: Vec<_> = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        (5..=6).contains(&ok),
        "burst of 5 (+1 refill at most): {ok} passed"
    );
    assert!(!limited.is_empty());
    assert!(
        limited.iter().all(|(_, h)| h.is_some()),
        "Retry-After on every 429"
    );
    // A spoofed X-Forwarded-For from an untrusted peer is not a new address.
    let r = app
        .req(Method::GET, "/healthz")
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_error(&r.json().await.unwrap(), "rate_limited");
}
