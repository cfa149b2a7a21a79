//! Item 16: reset links and the life of reset tokens.
use crate::helpers::{token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn reset(app: &TestApp) -> String {
    app.user_post("acme", "reset", json!({"email": "bob@example.com"}))
        .await;
    token_in(&app.last_mail_to("bob@example.com").await)
}

async fn set(app: &TestApp, token: String, pw: &str) -> StatusCode {
    app.user_post("acme", "password", json!({"token": token, "password": pw}))
        .await
        .0
}

/// Item 16: links never come from request headers; reset tokens are single use, live 1 h,
/// and die with a newer reset or a password change.
#[tokio::test]
async fn reset_links_ignore_host_headers_and_tokens_die_as_they_should() {
    let app = TestApp::builder()
        .config(|c| c.security.uniform_response_ms = 0)
        .spawn()
        .await;
    let f = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    let variants: [(&str, &str); 5] = [
        ("Host", "evil.test"),
        ("X-Forwarded-Host", "evil.test"),
        ("Forwarded", "host=evil.test;proto=https"),
        ("X-Forwarded-Proto", "http"),
        ("X-Original-Host", "evil.test"),
    ];
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    for (h, v) in variants {
        app.req(Method::POST, "/api/v1/acme/user/reset")
            .header(h, v)
            .json(&json!({"email": "ann@example.com"}))
            .send()
            .await
            .unwrap();
        app.req(Method::POST, "/api/v1/acme/user/register")
            .header(h, v)
            .json(&json!({"email": format!("{}@example.com", h.to_lowercase()), "password": PASSWORD, "terms_accepted": true}))
            .send()
            .await
            .unwrap();
    }
    let mails = app.mails().await;
    let foreign = mails
        .iter()
        .filter(|m| {
            m.text.contains("evil")
                || m.html.as_deref().unwrap_or("").contains("evil")
                || m.text.contains("http://")
        })
        .count();
    println!(
        "host header variants: {} mails / {foreign} with a foreign host",
        mails.len()
    );
    assert_eq!(mails.len(), 2 * variants.len() + 1);
    assert_eq!(foreign, 0);
    assert!(mails
        .iter()
        .all(|m| m.text.contains("https://fold.test/acme/")));

    // Fresh account for the token rules.
    let app = TestApp::builder()
        .config(|c| c.security.uniform_response_ms = 0)
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let user_token = app.user_token(&f.slug, "bob@example.com").await;
    let mut checks = 0;
    // Single use.
    let t = reset(&app).await;
    assert_eq!(
        set(&app, t.clone(), "first new passphrase").await,
        StatusCode::OK
    );
    assert_eq!(
        set(&app, t, "second new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    checks += 1;
    // Expires after 1 h on the injected clock (alive at 59 min).
    let t = reset(&app).await;
    app.clock.advance(chrono::Duration::minutes(59));
    let t2 = reset(&app).await;
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        set(&app, t, "third new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    checks += 1;
    // (t2 is 2 minutes old: still valid; after 1 h it is not.)
    app.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(
        set(&app, t2, "third new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    checks += 1;
    // A newer reset voids the older one.
    let old = reset(&app).await;
    let new = reset(&app).await;
    assert_eq!(
        set(&app, old, "fourth new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    checks += 1;
    assert_eq!(
        set(&app, new, "fourth new passphrase").await,
        StatusCode::OK
    );
    // A password change voids outstanding reset tokens.
    let (_, g) = app
        .sign_in(&f.slug, "bob@example.com", "fourth new passphrase")
        .await;
    let signed = g["access_token"].as_str().unwrap().to_owned();
    let t = reset(&app).await;
    let r = app
        .req(Method::PUT, "/api/v1/acme/user/password")
        .bearer_auth(&signed)
        .json(&json!({"current_password": "fourth new passphrase", "new_password": "fifth new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        set(&app, t, "sixth new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    checks += 1;
    // Garbage and tampered tokens.
    assert_eq!(
        set(&app, "nonsense".into(), "sixth new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    let t = reset(&app).await;
    let tampered = format!("{}x", &t[..t.len() - 1]);
    assert_eq!(
        set(&app, tampered, "sixth new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(set(&app, t, "sixth new passphrase").await, StatusCode::OK);
    checks += 2;
    println!("reset token rules: {checks} refusals checked / {checks} refused");
    let _ = user_token;
}
