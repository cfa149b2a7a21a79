//! The retention job: events by type, finished deliveries, used or expired tokens and
//! delivered mail go after their period, in small batches; the last run is reported by
//! the API and in /metrics; what is younger stays.
use crate::helpers::webhooks::Receiver;
use crate::helpers::{TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn run(app: &TestApp) -> Value {
    let r = app
        .platform(Method::POST, "/platform/v1/maintenance/retention")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.sql()
        .await
        .scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .await
}

#[tokio::test]
async fn retention_deletes_old_rows_in_small_batches_and_keeps_young_ones() {
    let app = TestApp::builder()
        .config(|c| {
            c.webhooks.allow_private_networks = true;
            c.retention.batch = 3;
            c.retention.pause_ms = 0;
        })
        .spawn()
        .await;
    let hook = Receiver::start().await;
    let f = app.create_flock("ret-1").await;
    let (s, _) = app
        .bo(
            Method::POST,
            "/api/v1/ret-1/webhooks",
            &f.admin_key,
            Some(json!({"url": hook.url})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for i in 0..5 {
        app.register(&f.slug, &format!("r{i}@example.com"), PASSWORD)
            .await;
    }
    app.sign_in(&f.slug, "r0@example.com", PASSWORD).await;
    // A reset link (a one-time token) and its mail.
    app.user_post(&f.slug, "reset", json!({"email": "r1@example.com"}))
        .await;
    let _ = app.state.mail_worker.run_once().await;
    app.state.webhook_worker.run_once().await.unwrap();
    let (events, deliveries, tokens) = (
        count(&app, "events").await,
        count(&app, "webhook_deliveries").await,
        count(&app, "user_tokens").await,
    );
    assert_eq!(
        events, 12,
        "5 created, 5 registered, 1 signed in, 1 admin.request (the endpoint's creation)"
    );
    assert_eq!(deliveries, 11);
    assert!(tokens >= 1);
    // Nothing is old yet.
    let r = run(&app).await;
    assert_eq!(
        r["removed"],
        json!({"events": 0, "deliveries": 0, "tokens": 0, "mail": 0})
    );
    // 100 days on: deliveries (30 days), the sign-in event (90), the token and mail (30).
    app.clock.advance(chrono::Duration::days(100));
    app.register(&f.slug, "young@example.com", PASSWORD).await;
    let r = run(&app).await;
    println!("retention after 100 days: {r}");
    // (The sign-in event's delivery goes with its event.)
    assert_eq!(r["removed"]["deliveries"], 10);
    assert_eq!(count(&app, "webhook_deliveries").await, 0);
    assert_eq!(
        r["removed"]["events"], 1,
        "only user.signed_in is past its 90 days"
    );
    assert!(r["removed"]["tokens"].as_u64().unwrap() >= 1);
    assert!(r["removed"]["mail"].as_u64().unwrap() >= 1);
    assert!(
        r["batches"].as_u64().unwrap() >= 11 / 3,
        "batches of 3: {r}"
    );
    // 400 days: the year-old events go; the young account's stay.
    app.clock.advance(chrono::Duration::days(300));
    let r = run(&app).await;
    println!("retention after 400 days: {r}");
    assert_eq!(r["removed"]["events"], 11);
    assert_eq!(
        count(&app, "events").await,
        2,
        "the young account's two events stay"
    );
    // The last run is reported and exported.
    let s: Value = app
        .platform(Method::GET, "/platform/v1/maintenance/retention")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["last_run"]["removed"]["events"], 11);
    let m = app
        .req(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("fold_retention_removed_total{kind=\"events\"} 12"),
        "{m}"
    );
    assert!(m.contains("fold_retention_last_run_timestamp_seconds"));
    // Periods are per flock and checked.
    let r = app
        .platform(Method::PATCH, "/platform/v1/flocks/ret-1")
        .json(&json!({"settings": {"retention": {"event_days": {"user.nope": 30}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["field"], "settings.retention.event_days");
}

#[tokio::test]
async fn a_backlog_of_old_events_goes_in_many_batches_and_leaves_the_young_ones() {
    let app = TestApp::builder()
        .config(|c| {
            c.retention.batch = 500;
            c.retention.pause_ms = 0;
        })
        .spawn()
        .await;
    app.create_flock("ret-big").await;
    let flock = app.flock_id("ret-big").await;
    let now = app.clock.now();
    let old = fold::domain::retention::seed_old_events(
        &app.state.db,
        flock,
        5_000,
        now - chrono::Duration::days(400),
    )
    .await
    .unwrap();
    assert_eq!(old, 5_000);
    app.register("ret-big", "young@example.com", PASSWORD).await;
    let before = count(&app, "events").await;
    let r = run(&app).await;
    println!("retention of a 5,000-event backlog: {r}");
    assert_eq!(r["removed"]["events"], 5_000, "{r}");
    assert!(r["batches"].as_u64().unwrap() >= 10, "{r}");
    assert_eq!(count(&app, "events").await, before - 5_000);
}
