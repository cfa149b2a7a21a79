//! The first slice: register, sign in, read the current user.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn register_sign_in_and_read_the_current_user() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, b) = app.register(&f.slug, "  Ann@Example.COM ", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "active");
    let (s, grant) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{grant}");
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 900);
    let token = grant["access_token"].as_str().unwrap();
    let (s, me) = app.me(&f.slug, token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["email"], "ann@example.com");
    assert_eq!(me["id"], b["user_id"]);
    assert_eq!(me["role"], "client");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let (s1, b1) = app
        .sign_in(&f.slug, "ann@example.com", "wrong password here")
        .await;
    let (s2, b2) = app.sign_in(&f.slug, "nobody@example.com", PASSWORD).await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_error(&b1, "invalid_credentials");
    assert_eq!(b1["code"], b2["code"]);
    assert_eq!(b1["message"], b2["message"]);
}

#[tokio::test]
async fn protected_flock_answers_a_duplicate_registration_like_a_new_one() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s1, b1) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let (s2, b2) = app.register(&f.slug, "ANN@example.com", PASSWORD).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(s2, StatusCode::CREATED);
    assert_eq!(b1["status"], b2["status"]);
    assert_ne!(b1["user_id"], b2["user_id"]);
}

#[tokio::test]
async fn open_flock_says_the_email_is_taken() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", serde_json::json!({"enumeration": "open"}))
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let (s, b) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "email_taken");
}

#[tokio::test]
async fn stored_passwords_are_argon2id_with_the_policy_parameters() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let users = app.sql().await.users().await;
    let hash = users[0].password_hash.as_deref().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[tokio::test]
async fn a_revoked_session_kills_its_access_token_at_once() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (_, _) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let (_, grant) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let token = grant["access_token"].as_str().unwrap();
    let sid = grant["session_id"].as_str().unwrap();
    let (s, _) = app
        .user_call(
            Method::DELETE,
            &format!("/api/v1/{}/user/sessions/{sid}", f.slug),
            token,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = app.me(&f.slug, token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_token");
}

#[tokio::test]
async fn access_tokens_expire_on_the_injected_clock() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let token = app.user_token(&f.slug, "ann@example.com").await;
    app.clock.advance(chrono::Duration::seconds(899));
    assert_eq!(app.me(&f.slug, &token).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(app.me(&f.slug, &token).await.0, StatusCode::UNAUTHORIZED);
}
