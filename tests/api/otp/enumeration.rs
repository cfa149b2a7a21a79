//! Requesting a code under the protected policy: the same answer and timing whether or
//! not the account exists.
use crate::helpers::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Inserts an active account straight into the database (closed-registration flocks).
pub async fn insert_user(app: &TestApp, slug: &str, email: Option<&str>, phone: Option<&str>) {
    let flock = app.state.flocks.get(slug).await.unwrap();
    let now = app.clock.now();
    app.sql()
        .await
        .insert_user(entity::user::Model {
            id: uuid::Uuid::now_v7(),
            flock_id: flock.id.as_uuid(),
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
            username: None,
            company: None,
            picture_url: None,
            external_id: None,
            referer: None,
            note: None,
            kind: "person".into(),
            registration_number: None,
            vat_number: None,
            business_id: None,
            confirmed_at: None,
            email_invalid_at: None,
            bo_access: false,
            api_access: true,
            name_key: String::new(),
            email_key: email.map(migration::lookalike::email_key),
            registered_at: Some(now),
            last_sign_in_at: None,
        })
        .await;
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
