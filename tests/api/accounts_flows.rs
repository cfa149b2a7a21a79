//! The self-service account lifecycle end to end: every flow, following the mailed links.
use crate::helpers::{assert_error, token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
    let r = app
        .req(method, path)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn registration_with_activation_mails_a_link_that_activates_and_signs_in() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    let (s, b) = app
        .user_post(
            &f.slug,
            "register",
            json!({"email": "Ann@Example.com", "password": PASSWORD, "terms_accepted": true,
                   "first_name": "Ann", "locale": "en-GB", "opt_outs": {"newsletter": true}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "activation_required");
    // Not active yet: the password is right but the account cannot sign in.
    let (s, b) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "account_not_active");

    let mail = app.last_mail_to("ann@example.com").await;
    assert!(mail.subject.contains("Activate"), "{}", mail.subject);
    assert!(
        mail.text.contains("https://fold.test/acme/activate?token="),
        "{}",
        mail.text
    );
    assert!(mail.html.as_deref().unwrap().contains("Ann"));
    let token = token_in(&mail);
    let r = app
        .req(Method::POST, "/api/v1/acme/user/activate")
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let grant: Value = r.json().await.unwrap();
    assert_eq!(grant["user"]["status"], "active");
    assert_eq!(grant["user"]["email_verified"], true);
    let (s, me) = app
        .me(&f.slug, grant["access_token"].as_str().unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["opt_outs"]["newsletter"], true);
    assert_eq!(me["locale"], "en-GB");
    // Single use.
    let (s, b) = app
        .user_post(&f.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "invalid_token");
    let (s, _) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn terms_must_be_accepted_and_an_identifier_given() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, b) = app
        .user_post(
            &f.slug,
            "register",
            json!({"email": "a@example.com", "password": PASSWORD, "terms_accepted": false}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "terms_not_accepted");
    let (s, b) = app
        .user_post(
            &f.slug,
            "register",
            json!({"password": PASSWORD, "terms_accepted": true}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "identifier_required");
}

#[tokio::test]
async fn activation_tokens_do_not_work_in_another_flock() {
    let app = TestApp::spawn().await;
    let a = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    let b = app
        .create_flock_with("beta", json!({"require_activation": true}))
        .await;
    app.register(&a.slug, "ann@example.com", PASSWORD).await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, body) = app
        .user_post(&b.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_token");
    let (s, _) = app
        .user_post(&a.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn approval_flocks_confirm_the_email_but_keep_the_account_pending() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"require_activation": true, "require_approval": true}),
        )
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, b) = app
        .user_post(&f.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["status"], "pending_approval");
    assert_eq!(b["email_verified"], true);
    let (s, b) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(b["message"].as_str().unwrap().contains("pending_approval"));
}

#[tokio::test]
async fn activate_single_confirms_the_email_without_changing_the_status() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, b) = app
        .user_post(&f.slug, "activate_single", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "activation_required");
    assert_eq!(b["email_verified"], true);
    let (s, _) = app
        .user_post(&f.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the token was destroyed");
}

#[tokio::test]
async fn sign_out_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let token = app.user_token(&f.slug, "ann@example.com").await;
    let (s, b) = bearer(&app, Method::DELETE, "/api/v1/acme/user/auth", &token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn phone_accounts_register_and_sign_in_in_e164() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, b) = app
        .user_post(
            &f.slug,
            "register",
            json!({"phone": "+44 7700 900123", "password": PASSWORD, "terms_accepted": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app
        .user_post(&f.slug, "auth", json!({"phone": "+447700900123", "password": PASSWORD, "source": "ios", "device_token": "dev-1"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["phone"], "+447700900123");
    let (s, b) = app
        .user_post(
            &f.slug,
            "register",
            json!({"phone": "07700 900123", "password": PASSWORD, "terms_accepted": true}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "invalid_phone");
}

#[tokio::test]
async fn a_reset_mail_sets_a_new_password_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let old = app.user_token(&f.slug, "ann@example.com").await;
    let r = app
        .req(Method::POST, "/api/v1/acme/user/reset")
        .json(&json!({"email": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let mail = app.last_mail_to("ann@example.com").await;
    assert!(mail
        .text
        .contains("https://fold.test/acme/reset-password?token="));
    let token = token_in(&mail);
    let new_password = "a brand new passphrase";
    let r = app
        .req(Method::POST, "/api/v1/acme/user/password")
        .json(&json!({"token": token, "password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(app.me(&f.slug, &old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", new_password)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let a = app.user_token(&f.slug, "ann@example.com").await;
    let (_, g) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let b = g["access_token"].as_str().unwrap().to_owned();
    let r = app
        .req(Method::PUT, "/api/v1/acme/user/password")
        .bearer_auth(&a)
        .json(&json!({"current_password": "not the password", "new_password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .req(Method::PUT, "/api/v1/acme/user/password")
        .bearer_auth(&a)
        .json(&json!({"current_password": PASSWORD, "new_password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["sessions_ended"], 1);
    assert_eq!(app.me(&f.slug, &a).await.0, StatusCode::OK);
    assert_eq!(app.me(&f.slug, &b).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn preregistration_gives_a_limited_session_until_activation() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, g) = app
        .user_post(&f.slug, "preregister", json!({"email": "pre@example.com"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["status"], "preregistered");
    let t = g["access_token"].as_str().unwrap().to_owned();
    // Own profile: read and update.
    assert_eq!(app.me(&f.slug, &t).await.0, StatusCode::OK);
    let r = app
        .req(Method::PATCH, "/api/v1/acme/user")
        .bearer_auth(&t)
        .json(&json!({"first_name": "Pre"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Nothing else.
    let (s, b) = bearer(&app, Method::GET, "/api/v1/acme/user/export", &t).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "limited_session");
    let (s, _) = bearer(&app, Method::DELETE, "/api/v1/acme/user", &t).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An existing email is never answered with a session.
    let (s, _) = app
        .user_post(&f.slug, "preregister", json!({"email": "pre@example.com"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // The activation mail makes it a full account.
    let token = token_in(&app.last_mail_to("pre@example.com").await);
    let (s, g) = app
        .user_post(&f.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["status"], "active");
    let full = g["access_token"].as_str().unwrap();
    assert_eq!(
        bearer(&app, Method::GET, "/api/v1/acme/user/export", full)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn preregistration_can_skip_the_activation_mail() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app
        .user_post(
            &f.slug,
            "preregister",
            json!({"email": "quiet@example.com", "send_activation": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(app.mails().await.is_empty());
}

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
    let (s, export) = bearer(&app, Method::GET, "/api/v1/acme/user/export", &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(export["account"]["email"], "ann@example.com");
    assert_eq!(export["account"]["last_name"], "Lee");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert!(
        !export.to_string().contains("argon2"),
        "no hashes in the export"
    );

    let (s, _) = bearer(&app, Method::DELETE, "/api/v1/acme/user", &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.me(&f.slug, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The personal data is gone from the database, and the email can register again.
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.state.db_conn();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT email, first_name, status, password_hash FROM users".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
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
    use sea_orm::ConnectionTrait;
    let db = app.state.db_conn();
    db.execute_unprepared("UPDATE users SET role = 'manager'")
        .await
        .unwrap();
    let (s, b) = bearer(&app, Method::DELETE, "/api/v1/acme/user", &t).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "account_protected");
    assert_eq!(app.me(&f.slug, &t).await.0, StatusCode::OK);
}

async fn set_status(app: &TestApp, email: &str, status: &str) {
    use sea_orm::ConnectionTrait;
    let db = app.state.db_conn();
    db.execute_unprepared(&format!(
        "UPDATE users SET status = '{status}' WHERE email = '{email}'"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unclaimed_account_is_claimed_through_a_reset_mail() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    set_status(&app, "ann@example.com", "unclaimed").await;
    assert_eq!(
        app.sign_in(&f.slug, "ann@example.com", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
    app.user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, _) = app
        .user_post(
            &f.slug,
            "password",
            json!({"token": token, "password": "claimed at last, baa"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, g) = app
        .sign_in(&f.slug, "ann@example.com", "claimed at last, baa")
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["status"], "active");
    assert_eq!(g["user"]["email_verified"], true);
}

#[tokio::test]
async fn an_inactive_account_cannot_sign_in_nor_get_a_reset_mail() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    set_status(&app, "ann@example.com", "inactive").await;
    let (s, b) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "account_not_active");
    let (s, _) = app
        .user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(app.mails().await.is_empty());
}
