//! Several replicas on one PostgreSQL and one Redis (the test command's second pass):
//! a change made through one replica reaches the caches of another within 100 ms,
//! announced on Redis (`infra/invalidate.rs`). The embedded default is one process and
//! has nothing to announce: there the test says so and checks nothing.
use crate::helpers::{spawn_state, TestApp, PASSWORD};
use fold::app::AppState;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

/// A second replica: the same configuration (database, Redis and its prefix), its own
/// services and caches, its own port.
async fn replica_of(app: &TestApp) -> TestApp {
    let state = AppState::build(app.state.config.clone(), app.clock.clone())
        .await
        .expect("second replica");
    spawn_state(state, app.clock.clone(), tempfile::tempdir().unwrap()).await
}

/// Polls `check` every 2 ms until it holds; the time it took (or panics after 2 s).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{what}: not seen by the other replica within 2 s");
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_the_others_caches_within_100_ms() {
    let a = TestApp::spawn().await;
    if a.state.config.kv.url.is_none() {
        println!("replicas: the embedded default runs one process (no Redis): nothing to announce");
        return;
    }
    let b = replica_of(&a).await;
    let listening = [a.state.start_invalidations(), b.state.start_invalidations()];
    assert!(
        listening.iter().all(Option::is_some),
        "both replicas subscribe"
    );
    // The subscription is up once an announcement arrives: wait for one round trip.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let f = a.create_flock("acme").await;
    let token = a.user_token(&f.slug, "ann@example.com").await;

    // B caches the user and the flock.
    let (s, me) = b.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["first_name"], serde_json::Value::Null);

    // A user changed through A: B's cached row (2 s) is dropped.
    let r = a
        .req(Method::PATCH, "/api/v1/acme/user")
        .bearer_auth(&token)
        .json(&json!({"first_name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let user = until("a user's new name", async || {
        b.me(&f.slug, &token).await.1["first_name"] == "Ann"
    })
    .await;

    // A flock disabled through A: B's cached flock (10 s) is dropped.
    let r = a
        .platform(Method::POST, "/platform/v1/flocks/acme/disable")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let flock = until("a disabled flock", async || {
        b.me(&f.slug, &token).await.0 == StatusCode::FORBIDDEN
    })
    .await;
    let (s, body) = b.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "flock_disabled");
    let r = a
        .platform(Method::POST, "/platform/v1/flocks/acme/enable")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let enabled = until("an enabled flock", async || {
        b.me(&f.slug, &token).await.0 == StatusCode::OK
    })
    .await;

    // A signing key rotated through A: a token A signs with the new key verifies on B
    // at once (B's key cache, 60 s, is dropped).
    let r = a
        .platform(Method::POST, "/platform/v1/flocks/acme/signing-keys/rotate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, grant) = a.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    let fresh = grant["access_token"].as_str().unwrap().to_owned();
    let keys = until("a rotated signing key", async || {
        b.me(&f.slug, &fresh).await.0 == StatusCode::OK
    })
    .await;

    println!(
        "replicas: seen on the other replica after a user change {} ms, a flock disabled {} ms, enabled {} ms, a key rotated {} ms",
        user.as_millis(),
        flock.as_millis(),
        enabled.as_millis(),
        keys.as_millis()
    );
    for (what, t) in [
        ("user", user),
        ("disable", flock),
        ("enable", enabled),
        ("keys", keys),
    ] {
        assert!(t < Duration::from_millis(100), "{what}: {t:?}");
    }
}
