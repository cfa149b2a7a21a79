//! Sign-out, password reset and change, and the statuses a reset mail may move on
//! (unclaimed) or not (inactive).
use crate::helpers::{assert_error, token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn sign_out_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let token = app.user_token(&f.slug, "ann@example.com").await;
    let (s, b) = app
        .user_call(Method::DELETE, "/api/v1/acme/user/auth", &token)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_reset_mail_sets_a_new_password_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let old = app.user_token(&f.slug, "ann@example.com").await;
    let r = app
        .req(Method::POST, "/api/v1/acme/user/reset")
        .json(&json!({"email": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let mail = app.last_mail_to("ann@example.com").await;
    assert!(mail
        .text
        .contains("https://fold.test/acme/reset-password?token="));
    let token = token_in(&mail);
    let new_password = "a brand new passphrase";
    let r = app
        .req(Method::POST, "/api/v1/acme/user/password")
        .json(&json!({"token": token, "password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(app.me(&f.slug, &old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", new_password)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let a = app.user_token(&f.slug, "ann@example.com").await;
    let (_, g) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let b = g["access_token"].as_str().unwrap().to_owned();
    let r = app
        .req(Method::PUT, "/api/v1/acme/user/password")
        .bearer_auth(&a)
        .json(&json!({"current_password": "not the password", "new_password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .req(Method::PUT, "/api/v1/acme/user/password")
        .bearer_auth(&a)
        .json(&json!({"current_password": PASSWORD, "new_password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["sessions_ended"], 1);
    assert_eq!(app.me(&f.slug, &a).await.0, StatusCode::OK);
    assert_eq!(app.me(&f.slug, &b).await.0, StatusCode::UNAUTHORIZED);
}

/// Plants a status no self-service path makes (an unclaimed or inactive account).
async fn set_status(app: &TestApp, email: &str, status: &str) {
    app.sql()
        .await
        .exec(&format!(
            "UPDATE users SET status = '{status}' WHERE email = '{email}'"
        ))
        .await;
}

#[tokio::test]
async fn an_unclaimed_account_is_claimed_through_a_reset_mail() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    set_status(&app, "ann@example.com", "unclaimed").await;
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
    app.user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, _) = app
        .user_post(
            &f.slug,
            "password",
            json!({"token": token, "password": "claimed at last, baa"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, g) = app
        .sign_in(&f.slug, "ann@example.com", "claimed at last, baa")
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["status"], "active");
    assert_eq!(g["user"]["email_verified"], true);
}

#[tokio::test]
async fn an_inactive_account_cannot_sign_in_nor_get_a_reset_mail() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    set_status(&app, "ann@example.com", "inactive").await;
    let (s, b) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "account_not_active");
    let (s, _) = app
        .user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(app.mails().await.is_empty());
}
