//! One-time codes: the portal flow, register-or-sign-in, code properties (SECURITY.md
//! battery item 9), identifier verification and password reset by code.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

const PHONE: &str = "+35799123456";

#[tokio::test]
async fn portal_flow_registers_a_new_phone_by_sms_then_signs_in_again_with_a_new_code() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, b) = app.request_otp(&f.slug, "+357 99 123-456", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["status"], "sent");
    let sms = app.sms_outbox();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].to, PHONE, "stored in E.164");
    let code = app.last_code(PHONE).unwrap();
    assert_eq!(code.len(), 6);
    let (s, grant) = app
        .verify_otp(
            &f.slug,
            PHONE,
            "sign_in",
            &code,
            json!({"first_name": "Ahmed", "last_name": "Samir", "locale": "el",
                   "terms_accepted": true, "email_opt_out": true, "sms_opt_out": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "a new account: {grant}");
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["user"]["phone"], PHONE);
    assert_eq!(grant["user"]["phone_verified"], true);
    assert_eq!(grant["user"]["first_name"], "Ahmed");
    assert_eq!(grant["user"]["status"], "active");
    let token = grant["access_token"].as_str().unwrap();
    let (s, me) = app.me(&f.slug, token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["last_name"], "Samir");
    assert_eq!(me["locale"], "el");

    // Later: a new sign-in code (after the cooldown) signs into the same account.
    app.clock.advance(Duration::seconds(61));
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let code2 = app.last_code(PHONE).unwrap();
    let (s, again) = app
        .verify_otp(&f.slug, PHONE, "sign_in", &code2, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["user"]["id"], grant["user"]["id"]);
    assert_ne!(again["session_id"], grant["session_id"]);
}

#[tokio::test]
async fn email_code_signs_in_an_existing_password_account_and_verifies_its_email() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, reg) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.request_otp(&f.slug, "Ann@Example.com", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let code = app.last_code("ann@example.com").unwrap();
    let (s, g) = app
        .verify_otp(&f.slug, "ann@example.com", "sign_in", &code, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["id"], reg["user_id"]);
    assert_eq!(g["user"]["email_verified"], true);
}

#[tokio::test]
async fn closed_registration_refuses_unknown_identifiers_but_signs_in_known_ones() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"self_registration": false, "enumeration": "open"}),
        )
        .await;
    let (s, b) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "registration_closed");
    assert!(app.sms_outbox().is_empty());
}

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

#[tokio::test]
async fn a_signed_in_user_verifies_their_own_email_with_a_code() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let token = app.user_token(&f.slug, "ann@example.com").await;
    let r = app
        .req(Method::POST, "/api/v1/acme/user/identity/otp")
        .bearer_auth(&token)
        .json(&json!({"channel": "email", "identifier": "bob@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not their own email");
    let r = app
        .req(Method::POST, "/api/v1/acme/user/identity/otp")
        .bearer_auth(&token)
        .json(&json!({"channel": "email", "identifier": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let code = app.last_code("ann@example.com").unwrap();
    let r = app
        .req(Method::POST, "/api/v1/acme/user/identity/verify")
        .bearer_auth(&token)
        .json(&json!({"channel": "email", "identifier": "ann@example.com", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
    let r = app
        .req(Method::POST, "/api/v1/acme/user/identity/otp")
        .json(&json!({"channel": "email", "identifier": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "needs a bearer");
}

#[tokio::test]
async fn password_reset_by_code_sets_the_new_password_and_ends_sessions() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let token = app.user_token(&f.slug, "ann@example.com").await;
    let (s, _) = app
        .request_otp(&f.slug, "ann@example.com", "password_reset")
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // The protected policy sends in the background.
    let mut code = None;
    for _ in 0..100 {
        code = app.last_code("ann@example.com");
        if code.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let code = code.expect("reset code sent");
    let (s, b) = app
        .verify_otp(
            &f.slug,
            "ann@example.com",
            "password_reset",
            &code,
            json!({"new_password": "short"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "policy checked first: {b}");
    let (s, b) = app
        .verify_otp(
            &f.slug,
            "ann@example.com",
            "password_reset",
            &code,
            json!({"new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, _) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "old session ended");
    let (s, _) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .sign_in(&f.slug, "ann@example.com", "a brand new passphrase")
        .await;
    assert_eq!(s, StatusCode::OK);
}

/// Inserts an active account straight into the database (closed-registration flocks).
pub async fn insert_user(app: &TestApp, slug: &str, email: Option<&str>, phone: Option<&str>) {
    let flock = app.state.flocks.get(slug).await.unwrap();
    let now = app.clock.now();
    app.state
        .db
        .user_insert(entity::user::Model {
            id: uuid::Uuid::now_v7(),
            flock_id: flock.id.0,
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            password_hash: None,
            status: "active".into(),
            role: "client".into(),
            first_name: None,
            last_name: None,
            locale: None,
            email_verified: false,
            phone_verified: false,
            opt_outs: json!({}),
            terms_accepted_at: None,
            source: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn otp_request_answers_identically_for_existing_and_unknown_accounts_when_protected() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"self_registration": false}))
        .await;
    insert_user(&app, &f.slug, Some("known@example.com"), None).await;
    insert_user(&app, &f.slug, None, Some("+35799111111")).await;
    let mut answers = Vec::new();
    for (channel, who, purpose) in [
        ("email", "known@example.com", "password_reset"),
        ("email", "unknown@example.com", "password_reset"),
        ("sms", "+35799111111", "sign_in"),
        ("sms", "+35799222222", "sign_in"),
    ] {
        let r = app
            .req(Method::POST, &format!("/api/v1/{}/user/otp", f.slug))
            .json(&json!({"channel": channel, "identifier": who, "purpose": purpose}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        answers.push((who, status, text));
    }
    for (who, s, b) in &answers {
        assert_eq!(*s, StatusCode::ACCEPTED, "{who}");
        assert_eq!(b, &answers[0].2, "identical bytes for {who}");
    }
    // Only the existing accounts actually got a code.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.last_code("known@example.com").is_some());
    assert!(app.last_code("unknown@example.com").is_none());
    assert!(app.last_code("+35799111111").is_some());
    assert!(app.last_code("+35799222222").is_none());
    // The known phone signs in with its code even though registration is closed.
    let code = app.last_code("+35799111111").unwrap();
    let (s, b) = app
        .verify_otp(&f.slug, "+35799111111", "sign_in", &code, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn otp_request_timing_does_not_reveal_whether_the_account_exists_when_protected() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"self_registration": false, "otp": {"sends_per_ip_hour": 1000}}),
        )
        .await;
    let n = 30;
    for i in 0..n {
        insert_user(&app, &f.slug, Some(&format!("known{i}@example.com")), None).await;
    }
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    let mut bodies = std::collections::BTreeSet::new();
    for i in 0..n {
        for (who, out) in [
            (format!("known{i}@example.com"), &mut known),
            (format!("unknown{i}@example.com"), &mut unknown),
        ] {
            let t = std::time::Instant::now();
            let r = app
                .req(Method::POST, &format!("/api/v1/{}/user/otp", f.slug))
                .json(&json!({"channel": "email", "identifier": who, "purpose": "password_reset"}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap();
            out.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, StatusCode::ACCEPTED);
            bodies.insert(body);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (mk, mu) = (median(&mut known), median(&mut unknown));
    println!(
        "OTP request timing (protected, password_reset, {n} each): median existing {mk:.2} ms, unknown {mu:.2} ms, |Δ| {:.2} ms; distinct bodies {}",
        (mk - mu).abs(),
        bodies.len()
    );
    assert_eq!(bodies.len(), 1, "identical bytes");
    assert!((mk - mu).abs() < 5.0, "timing differs");
}
