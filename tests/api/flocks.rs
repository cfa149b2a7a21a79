//! The platform API: flocks are created, read, listed, updated, disabled and deleted with
//! the platform key only.
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn platform_creates_lists_updates_and_deletes_flocks() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    assert!(f.admin_key.starts_with("fold_fk_"));
    app.create_flock("beta").await;

    let r = app
        .platform(Method::POST, "/platform/v1/flocks")
        .json(&json!({"slug": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_error(&r.json().await.unwrap(), "slug_taken");

    let page: Value = app
        .platform(Method::GET, "/platform/v1/flocks?limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["slug"], "acme");
    assert_eq!(page["next_cursor"], "acme");
    let page: Value = app
        .platform(Method::GET, "/platform/v1/flocks?limit=1&after=acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["slug"], "beta");

    let r = app
        .platform(Method::PATCH, "/platform/v1/flocks/acme")
        .json(&json!({"name": "Acme Inc", "settings": {"password_min_length": 12, "enumeration": "open"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["name"], "Acme Inc");
    assert_eq!(b["settings"]["password_min_length"], 12);
    assert_eq!(b["settings"]["enumeration"], "open");
    assert_eq!(
        b["settings"]["access_token_ttl_secs"], 900,
        "untouched settings keep their value"
    );

    let r = app
        .platform(Method::PATCH, "/platform/v1/flocks/acme")
        .json(&json!({"settings": {"password_min_length": 4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["field"], "settings.password_min_length");

    let r = app
        .platform(Method::DELETE, "/platform/v1/flocks/beta")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .platform(Method::GET, "/platform/v1/flocks/beta")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn slugs_are_validated() {
    let app = TestApp::spawn().await;
    for bad in [
        "A",
        "Acme",
        "-acme",
        "acme-",
        "ac_me",
        "api",
        "platform",
        "x",
        &"a".repeat(64),
    ] {
        let r = app
            .platform(Method::POST, "/platform/v1/flocks")
            .json(&json!({"slug": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "slug {bad:?}");
    }
}

#[tokio::test]
async fn platform_routes_refuse_missing_wrong_and_flock_keys() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let attempts: Vec<Option<&str>> = vec![None, Some("nope"), Some(f.admin_key.as_str())];
    let mut successes = 0;
    for key in &attempts {
        let mut r = app.req(Method::GET, "/platform/v1/flocks");
        if let Some(k) = key {
            r = r.header("X-Platform-Key", *k);
        }
        let r = r.send().await.unwrap();
        if r.status().is_success() {
            successes += 1;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    println!(
        "platform auth: {} attempted / {successes} violations",
        attempts.len()
    );
}

#[tokio::test]
async fn disabled_flock_answers_403_and_enable_restores_it() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let token = app.user_token(&f.slug, "ann@example.com").await;
    let r = app
        .platform(Method::POST, "/platform/v1/flocks/acme/disable")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, b) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "flock_disabled");
    app.platform(Method::POST, "/platform/v1/flocks/acme/enable")
        .send()
        .await
        .unwrap();
    let (s, _) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_first_platform_key_is_created_once() {
    let app = TestApp::builder()
        .config(|c| c.platform.key = None)
        .spawn()
        .await;
    let first = app.state.api_keys.ensure_platform_key().await.unwrap();
    let key = first.expect("a key on first start");
    assert!(key.starts_with("fold_pk_"));
    assert!(app
        .state
        .api_keys
        .ensure_platform_key()
        .await
        .unwrap()
        .is_none());
    let r = app
        .req(Method::GET, "/platform/v1/flocks")
        .header("X-Platform-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
