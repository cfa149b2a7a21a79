//! Account discovery (preauth, availability) under both enumeration policies, and the
//! profile: read, patch, export, erase.
use crate::helpers::{assert_error, token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn preauth_under_the_open_policy_says_404_or_exists_and_mails_pending_accounts() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"enumeration": "open", "require_activation": true}),
        )
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let before = app.mails().await.len();
    let (s, b) = app
        .user_post(&f.slug, "preauth", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "user_not_found");
    let (s, b) = app
        .user_post(&f.slug, "preauth", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["result"], "exists");
    assert_eq!(b["status"], "activation_required");
    let mails = app.mails().await;
    assert_eq!(mails.len(), before + 1);
    // The new link works; the first one was superseded.
    let first = token_in(&mails[before - 1]);
    let second = token_in(&mails[before]);
    assert_eq!(
        app.user_post(&f.slug, "activate", json!({"token": first}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.user_post(&f.slug, "activate", json!({"token": second}))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn preauth_under_the_protected_policy_answers_the_same_for_everyone() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let (s1, b1) = app
        .user_post(&f.slug, "preauth", json!({"email": "ann@example.com"}))
        .await;
    let (s2, b2) = app
        .user_post(&f.slug, "preauth", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(s1, StatusCode::OK);
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(b1, json!({"result": "accepted"}));
}

#[tokio::test]
async fn availability_follows_the_enumeration_policy() {
    let app = TestApp::spawn().await;
    let open = app
        .create_flock_with("open", json!({"enumeration": "open"}))
        .await;
    let prot = app.create_flock("prot").await;
    for f in [&open, &prot] {
        app.register(&f.slug, "ann@example.com", PASSWORD).await;
    }
    let ask = |flock: &'static str, body: Value| {
        let app = &app;
        async move { app.user_post(flock, "available", body).await.1 }
    };
    assert_eq!(
        ask("open", json!({"email": "ann@example.com"})).await["result"],
        "taken"
    );
    assert_eq!(
        ask("open", json!({"email": "new@example.com"})).await["result"],
        "available"
    );
    let b = ask(
        "open",
        json!({"email": "ann@example.com", "password": "wrong password!"}),
    )
    .await;
    assert_eq!(b["password_valid"], false);
    assert_eq!(
        ask("prot", json!({"email": "ann@example.com"})).await["result"],
        "available"
    );
    assert_eq!(
        ask("prot", json!({"email": "new@example.com"})).await["result"],
        "available"
    );
    let b = ask(
        "prot",
        json!({"email": "ann@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        b["result"], "taken",
        "the owner proves the account with its password"
    );
}

#[tokio::test]
async fn the_profile_can_be_read_patched_exported_and_erased() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let t = app.user_token(&f.slug, "ann@example.com").await;
    let r = app
        .req(Method::PATCH, "/api/v1/acme/user")
        .bearer_auth(&t)
        .json(&json!({"first_name": "Ann", "last_name": "Lee", "locale": "fr-CA", "opt_outs": {"sms": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["first_name"], "Ann");
    assert_eq!(me["opt_outs"], json!({"sms": true}));
    // Status, role and verified flags are not the user's to change.
    for field in [
        json!({"status": "active"}),
        json!({"role": "manager"}),
        json!({"email_verified": true}),
    ] {
        let r = app
            .req(Method::PATCH, "/api/v1/acme/user")
            .bearer_auth(&t)
            .json(&field)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}");
    }
    let (s, export) = app
        .user_call(Method::GET, "/api/v1/acme/user/export", &t)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(export["account"]["email"], "ann@example.com");
    assert_eq!(export["account"]["last_name"], "Lee");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert!(
        !export.to_string().contains("argon2"),
        "no hashes in the export"
    );

    let (s, _) = app.user_call(Method::DELETE, "/api/v1/acme/user", &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.me(&f.slug, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The personal data is gone from the database, and the email can register again.
    let row = app
        .sql()
        .await
        .row("SELECT email, first_name, status, password_hash FROM users")
        .await;
    assert_eq!(row.try_get::<Option<String>>("", "email").unwrap(), None);
    assert_eq!(
        row.try_get::<Option<String>>("", "first_name").unwrap(),
        None
    );
    assert_eq!(
        row.try_get::<Option<String>>("", "password_hash").unwrap(),
        None
    );
    assert_eq!(row.try_get::<String>("", "status").unwrap(), "deleted");
    assert_eq!(
        app.register(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_manager_cannot_delete_itself() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let t = app.user_token(&f.slug, "boss@example.com").await;
    app.sql()
        .await
        .exec("UPDATE users SET role = 'manager'")
        .await;
    let (s, b) = app.user_call(Method::DELETE, "/api/v1/acme/user", &t).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "account_protected");
    assert_eq!(app.me(&f.slug, &t).await.0, StatusCode::OK);
}
