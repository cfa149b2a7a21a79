//! Items 7 (password part) and 8: sequential guessing is throttled and never accepted;
//! existing and unknown accounts cost and answer the same.
use crate::helpers::{token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Item 7 (password part, sequential): after 10 free failures the account is throttled
/// (429, growing delay), nothing is ever accepted, and the owner gets in by a reset mail,
/// which also ends the delay.
#[tokio::test]
async fn sequential_guessing_on_one_account_is_reported_and_never_accepted() {
    let app = TestApp::builder()
        .config(|c| c.security.uniform_response_ms = 0)
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let n = 40;
    let (mut refused, mut accepted, mut limited) = (0, 0, 0);
    for i in 0..n {
        match app
            .sign_in(&f.slug, "ann@example.com", &format!("guess number {i}"))
            .await
            .0
        {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            _ => accepted += 1,
        }
    }
    println!(
        "brute force (sequential, one account): {n} attempted / {refused} evaluated and refused / {limited} throttled / {accepted} accepted"
    );
    assert_eq!(accepted, 0);
    assert!(
        refused <= 11,
        "at most the free failures (+1 delay slot) are evaluated: {refused}"
    );
    assert!(limited >= n - 11);
    // The owner can still recover the account by mail.
    app.user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, _) = app
        .user_post(
            &f.slug,
            "password",
            json!({"token": token, "password": "the owner is back again"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", "the owner is back again")
            .await
            .0,
        StatusCode::OK
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Status, headers that matter, and body with the per-request fields removed.
async fn timed(app: &TestApp, path: &str, body: Value) -> (f64, StatusCode, Value) {
    let t = Instant::now();
    let r = app
        .req(Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    let mut b: Value = r.json().await.unwrap_or(Value::Null);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if let Some(o) = b.as_object_mut() {
        o.remove("request_id");
        o.remove("user_id"); // register: a fresh random id either way
    }
    (ms, s, b)
}

/// Item 8: existing vs unknown accounts under the protected policy.
#[tokio::test]
async fn existing_and_unknown_accounts_cost_the_same_and_answer_the_same() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let samples = 30;
    for i in 0..samples {
        app.register(&f.slug, &format!("ann{i}@example.com"), PASSWORD)
            .await;
    }
    let mut worst: f64 = 0.0;
    for flow in ["auth", "register", "reset", "preauth"] {
        let path = format!("/api/v1/{}/user/{flow}", f.slug);
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for i in 0..samples {
            let body = |email: &str| match flow {
                "auth" => json!({"email": email, "password": "wrong password here"}),
                "register" => {
                    json!({"email": email, "password": "a fine sheep password", "terms_accepted": true})
                }
                _ => json!({"email": email}),
            };
            let fresh = format!("nobody{i}@example.com");
            // Sign-in failures are throttled per identifier (known or not), so each auth
            // sample uses its own account: every sample measures a first failure.
            let existing = if flow == "auth" {
                format!("ann{i}@example.com")
            } else {
                "ann@example.com".to_owned()
            };
            // Interleave, alternating which goes first.
            let (a, b) = if i % 2 == 0 {
                let a = timed(&app, &path, body(&existing)).await;
                (a, timed(&app, &path, body(&fresh)).await)
            } else {
                let b = timed(&app, &path, body(&fresh)).await;
                (timed(&app, &path, body(&existing)).await, b)
            };
            assert_eq!(a.1, b.1, "{flow}: status");
            assert_eq!(a.2, b.2, "{flow}: body");
            known.push(a.0);
            unknown.push(b.0);
        }
        let (mk, mu) = (median(known), median(unknown));
        let d = (mk - mu).abs();
        worst = worst.max(d);
        println!(
            "timing {flow}: median existing {mk:.1} ms / unknown {mu:.1} ms / |Δ| {d:.2} ms over {samples} interleaved pairs; bodies identical"
        );
    }
    assert!(worst < 5.0, "worst |Δ median| {worst:.2} ms");
    let _ = Duration::ZERO;
}
