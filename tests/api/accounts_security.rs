//! SECURITY.md battery items 5, 6, 7 (password part), 8 and 16, plus imported bcrypt and
//! weaker argon2 hashes being upgraded at sign-in. Each test prints its figure.
use crate::helpers::{assert_error, token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn hashes(app: &TestApp) -> Vec<String> {
    let db = app.state.db_conn();
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT password_hash FROM users WHERE password_hash IS NOT NULL".to_owned(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String>("", "password_hash").unwrap())
    .collect()
}

async fn hash_of(app: &TestApp, email: &str) -> String {
    let db = app.state.db_conn();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT password_hash FROM users WHERE email = '{email}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "password_hash").unwrap()
}

/// Item 5: the policy table, over the API.
#[tokio::test]
async fn the_password_policy_table_holds_over_the_api() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let long: String = "a sheep called dolly ".repeat(5); // 105 code points
    let cases: Vec<(String, Option<&str>)> = vec![
        ("seven77".into(), Some("password_too_short")),
        ("ééééééé".into(), Some("password_too_short")), // 7 code points, 14 bytes
        ("éééééééé".into(), None),                      // 8 code points
        ("🐑🐑🐑🐑🐑🐑🐑🐑".into(), None),
        ("пароль-овцы".into(), None),
        (long.clone(), None),
        ("x".repeat(256), None),
        ("x".repeat(257), Some("password_too_long")),
        ("password".into(), Some("password_too_common")),
        ("12345678".into(), Some("password_too_common")),
        ("PASSWORD".into(), Some("password_too_common")),
    ];
    let mut ok = 0;
    for (i, (pw, want)) in cases.iter().enumerate() {
        let email = format!("u{i}@example.com");
        let (s, b) = app.register(&f.slug, &email, pw).await;
        match want {
            None => assert_eq!(s, StatusCode::CREATED, "{pw:?}: {b}"),
            Some(code) => {
                assert_eq!(s, StatusCode::BAD_REQUEST, "{pw:?}: {b}");
                assert_error(&b, code);
            }
        }
        ok += 1;
    }
    // The user's own email is refused.
    let (s, b) = app
        .register(
            &f.slug,
            "sheep.farmer@example.com",
            "sheep.farmer@example.com",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    // No truncation: a long password and its first 72 bytes are different passwords.
    let long2: String = "correct horse battery staple, then ".repeat(3); // 105 bytes
    app.register(&f.slug, "long@example.com", &long2).await;
    let first72 = &long2[..72];
    assert_eq!(
        app.sign_in(&f.slug, "long@example.com", first72).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in(&f.slug, "long@example.com", &long2).await.0,
        StatusCode::OK
    );
    println!(
        "password policy: {} cases / {ok} as expected; 72-byte prefix of a {}-byte password: refused",
        cases.len(),
        long2.len()
    );
}

/// Item 6: algorithm, parameters and unique salts.
#[tokio::test]
async fn hash_audit_finds_argon2id_with_policy_params_and_no_repeated_salt() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let n = 50;
    for i in 0..n {
        let (s, _) = app
            .register(&f.slug, &format!("u{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let hs = hashes(&app).await;
    assert_eq!(hs.len(), n);
    let mut salts = std::collections::HashSet::new();
    for h in &hs {
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        salts.insert(h.split('$').nth(4).unwrap().to_owned());
    }
    println!(
        "hash audit: {} hashes, all argon2id m=19456 t=2 p=1; {} distinct salts ({} repeated)",
        hs.len(),
        salts.len(),
        hs.len() - salts.len()
    );
    assert_eq!(salts.len(), n);
}

#[tokio::test]
async fn an_imported_bcrypt_hash_signs_in_and_is_rehashed_to_argon2id() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "old@example.com", PASSWORD).await;
    let bcrypt_hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let db = app.state.db_conn();
    db.execute_unprepared(&format!(
        "UPDATE users SET password_hash = '{bcrypt_hash}' WHERE email = 'old@example.com'"
    ))
    .await
    .unwrap();
    assert_eq!(
        app.sign_in(&f.slug, "old@example.com", "wrong password!")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        hash_of(&app, "old@example.com").await.starts_with("$2"),
        "no rehash on failure"
    );
    assert_eq!(
        app.sign_in(&f.slug, "old@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    let h = hash_of(&app, "old@example.com").await;
    assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    assert_eq!(
        app.sign_in(&f.slug, "old@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn weaker_argon2_parameters_are_upgraded_at_the_next_sign_in() {
    use argon2::password_hash::PasswordHasher;
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "old@example.com", PASSWORD).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8192, 1, 1, None).unwrap(),
    )
    .hash_password_with_salt(PASSWORD.as_bytes(), b"0123456789abcdef")
    .unwrap()
    .to_string();
    assert!(weak.contains("m=8192,t=1"), "{weak}");
    let db = app.state.db_conn();
    db.execute_unprepared(&format!(
        "UPDATE users SET password_hash = '{weak}' WHERE email = 'old@example.com'"
    ))
    .await
    .unwrap();
    assert_eq!(
        app.sign_in(&f.slug, "old@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    let h = hash_of(&app, "old@example.com").await;
    assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
}

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
