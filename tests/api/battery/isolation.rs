//! Flocks are isolated: a token, key or user of one flock is unknown in another.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn a_token_of_flock_a_is_rejected_in_flock_b() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("flock-a").await;
    let b = app.create_flock("flock-b").await;
    let token_a = app.user_token(&a.slug, "ann@example.com").await;
    let (s, body) = app.me(&b.slug, &token_a).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&body, "invalid_token");
    assert_eq!(app.me(&a.slug, &token_a).await.0, StatusCode::OK);
    println!("cross-flock token: 1 attempted / 0 violations");
}

#[tokio::test]
async fn the_same_email_is_two_accounts_in_two_flocks() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("flock-a").await;
    let b = app.create_flock("flock-b").await;
    app.register(&a.slug, "ann@example.com", PASSWORD).await;
    // Unknown in B until registered there; then B's password is B's.
    assert_eq!(
        app.sign_in(&b.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.register(&b.slug, "ann@example.com", "another long passphrase")
        .await;
    assert_eq!(
        app.sign_in(&b.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, ga) = app.sign_in(&a.slug, "ann@example.com", PASSWORD).await;
    let (_, gb) = app
        .sign_in(&b.slug, "ann@example.com", "another long passphrase")
        .await;
    assert_ne!(ga["user"]["id"], gb["user"]["id"]);
}

#[tokio::test]
async fn jwks_of_each_flock_lists_only_its_own_keys() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("flock-a").await;
    let b = app.create_flock("flock-b").await;
    let ka: serde_json::Value = app
        .req(
            Method::GET,
            &format!("/api/v1/{}/.well-known/jwks.json", a.slug),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kb: serde_json::Value = app
        .req(
            Method::GET,
            &format!("/api/v1/{}/.well-known/jwks.json", b.slug),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ka["keys"].as_array().unwrap().len(), 1);
    assert_ne!(ka["keys"][0]["kid"], kb["keys"][0]["kid"]);
    assert_ne!(ka["keys"][0]["x"], kb["keys"][0]["x"]);
}
