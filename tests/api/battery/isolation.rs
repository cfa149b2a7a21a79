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

/// Battery 4: headers a proxy or a confused client might send to name a tenant or a user
/// change nothing: the flock is the path's, the user is the token's, the key is the
/// key's flock.
#[tokio::test]
async fn spoofed_tenant_and_user_headers_change_no_identity() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("flock-a").await;
    let b = app.create_flock("flock-b").await;
    let ann = app.user_token(&a.slug, "ann@example.com").await;
    let (_, bob) = app.register(&b.slug, "bob@example.com", PASSWORD).await;
    let bob_id = bob["user_id"].as_str().unwrap_or_default().to_owned();
    let spoofs = [
        ("X-Tenant", b.slug.as_str()),
        ("X-Flock", b.slug.as_str()),
        ("X-Flock-Id", b.slug.as_str()),
        ("X-User", bob_id.as_str()),
        ("X-User-Id", bob_id.as_str()),
        ("X-Forwarded-User", "bob@example.com"),
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "host=evil.example;for=203.0.113.9"),
    ];
    let (mut attempted, mut violations) = (0, 0);
    for (h, v) in spoofs {
        // Ann's token on A, with a header naming B or Bob: still Ann on A.
        let r = app
            .req(Method::GET, &format!("/api/v1/{}/user", a.slug))
            .bearer_auth(&ann)
            .header(h, v)
            .send()
            .await
            .unwrap();
        attempted += 1;
        let body: serde_json::Value = r.json().await.unwrap();
        violations += usize::from(body["email"] != "ann@example.com");
        // Ann's token on B's path with a header naming A: refused.
        let r = app
            .req(Method::GET, &format!("/api/v1/{}/user", b.slug))
            .bearer_auth(&ann)
            .header(h, a.slug.as_str())
            .send()
            .await
            .unwrap();
        attempted += 1;
        violations += usize::from(r.status() != StatusCode::UNAUTHORIZED);
        // A's key on B's path with a header naming A: refused.
        let r = app
            .req(Method::GET, &format!("/api/v1/{}/api-keys", b.slug))
            .header("X-Api-Key", &a.admin_key)
            .header(h, a.slug.as_str())
            .send()
            .await
            .unwrap();
        attempted += 1;
        violations += usize::from(r.status() != StatusCode::UNAUTHORIZED);
    }
    println!("spoofed tenant/user headers: {attempted} attempted / {violations} violations");
    assert_eq!(violations, 0);
}
