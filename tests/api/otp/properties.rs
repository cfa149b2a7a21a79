//! Code properties (battery item 9): digits, uniformity, TTL edges, single use, binding,
//! configured length.
use super::PHONE;
use crate::helpers::{assert_error, TestApp};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn code_properties_digits_uniformity_ttl_edges_single_use_and_binding() {
    // Digits and uniform distribution through the domain function.
    let n = 2000;
    let mut counts = [0u64; 10];
    for _ in 0..n {
        let c = fold::domain::otp::generate_code(6);
        assert_eq!(c.len(), 6);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        for b in c.bytes() {
            counts[(b - b'0') as usize] += 1;
        }
    }
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / 10.0;
    let chi2: f64 = counts
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    println!("code digits: {n} codes, {total} digits, chi-square {chi2:.2} (9 dof, p=0.001 critical 27.88)");
    assert!(chi2 < 27.88, "digits not uniform: {counts:?}");
    assert_eq!(fold::domain::otp::generate_code(8).len(), 8);

    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g = app.create_flock("globex").await;

    // TTL edges on the injected clock (default 300 s).
    let (s, _) = app.request_otp(&f.slug, "+35799000001", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let c1 = app.last_code("+35799000001").unwrap();
    app.clock.advance(Duration::seconds(299));
    let (s, b) = app
        .verify_otp(&f.slug, "+35799000001", "sign_in", &c1, json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "valid at 299 s: {b}");
    // Single use.
    let (s, b) = app
        .verify_otp(&f.slug, "+35799000001", "sign_in", &c1, json!({}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_code");

    let (s, _) = app.request_otp(&f.slug, "+35799000002", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let c2 = app.last_code("+35799000002").unwrap();
    app.clock.advance(Duration::seconds(300));
    let (s, b) = app
        .verify_otp(&f.slug, "+35799000002", "sign_in", &c2, json!({}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "expired at 300 s");
    assert_error(&b, "invalid_code");

    // Bound to flock, purpose and identifier: the right digits elsewhere are wrong.
    let (s, _) = app.request_otp(&f.slug, "+35799000003", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let c3 = app.last_code("+35799000003").unwrap();
    let (s, _) = app
        .verify_otp(&g.slug, "+35799000003", "sign_in", &c3, json!({}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "other flock");
    let (s, _) = app
        .verify_otp(&f.slug, "+35799000003", "registration", &c3, json!({}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "other purpose");
    let (s, _) = app
        .verify_otp(&f.slug, "+35799000004", "sign_in", &c3, json!({}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "other identifier");
    let (s, b) = app
        .verify_otp(&f.slug, "+35799000003", "sign_in", &c3, json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "still valid where it belongs: {b}");

    // Only the keyed hash is stored: no KV value holds the code's digits in clear.
    let (s, _) = app.request_otp(&f.slug, "+35799000005", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let c5 = app.last_code("+35799000005").unwrap();
    let flock = app.state.flocks.get(&f.slug).await.unwrap();
    let id = fold::domain::otp::Identifier::parse(fold::domain::otp::Channel::Sms, "+35799000005")
        .unwrap();
    let _ = id;
    let stored = app
        .state
        .kv
        .get(&format!(
            "otp:{}:sign_in:{}",
            flock.id,
            fold::domain::limits::key_digest("p:+35799000005")
        ))
        .await
        .unwrap()
        .expect("the code record");
    let stored = String::from_utf8(stored).unwrap();
    assert!(!stored.contains(&c5), "code in clear: {stored}");
    assert!(stored.contains("\"mac\""));
}

#[tokio::test]
async fn configured_length_eight_sends_eight_digit_codes() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"otp": {"length": 8, "ttl_secs": 600}}))
        .await;
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.last_code(PHONE).unwrap().len(), 8);
    let r = app
        .platform(Method::GET, "/platform/v1/flocks/acme")
        .send()
        .await
        .unwrap();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["settings"]["otp"]["length"], 8, "{b}");
    let r = app
        .platform(Method::POST, "/platform/v1/flocks")
        .json(&json!({"slug": "bad", "settings": {"otp": {"ttl_secs": 601}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "ttl above 10 min refused"
    );
}
