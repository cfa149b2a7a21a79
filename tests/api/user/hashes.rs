//! Items 5 and 6 (the password policy, the hash audit) and legacy hashes (bcrypt, weaker
//! argon2) upgraded at sign-in.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use reqwest::StatusCode;

async fn hashes(app: &TestApp) -> Vec<String> {
    app.sql()
        .await
        .rows("SELECT password_hash FROM users WHERE password_hash IS NOT NULL")
        .await
        .iter()
        .map(|r| r.try_get::<String>("", "password_hash").unwrap())
        .collect()
}

async fn hash_of(app: &TestApp, email: &str) -> String {
    let row = app
        .sql()
        .await
        .row(&format!(
            "SELECT password_hash FROM users WHERE email = '{email}'"
        ))
        .await;
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
        ("x".repeat(257), Some("invalid_request")), // the spec's maxLength
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
    app.sql()
        .await
        .exec(&format!(
            "UPDATE users SET password_hash = '{bcrypt_hash}' WHERE email = 'old@example.com'"
        ))
        .await;
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
    app.sql()
        .await
        .exec(&format!(
            "UPDATE users SET password_hash = '{weak}' WHERE email = 'old@example.com'"
        ))
        .await;
    assert_eq!(
        app.sign_in(&f.slug, "old@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    let h = hash_of(&app, "old@example.com").await;
    assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
}
