//! Signing up: registration and activation, approval, phone accounts, preregistration.
use crate::helpers::{assert_error, token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

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
    let activation: Value = r.json().await.unwrap();
    assert_eq!(activation["result"], "signed_in", "{activation}");
    assert_eq!(activation["user"]["status"], "active");
    let grant = &activation["session"];
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
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["result"], "pending_approval");
    assert!(
        b.get("session").is_none(),
        "no session before approval: {b}"
    );
    assert_eq!(b["user"]["status"], "pending_approval");
    assert_eq!(b["user"]["email_verified"], true);
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
        .user_post(
            &f.slug,
            "auth",
            json!({"phone": "+447700900123", "password": PASSWORD, "source": "ios"}),
        )
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
    let (s, b) = app
        .user_call(Method::GET, "/api/v1/acme/user/export", &t)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "limited_session");
    let (s, _) = app.user_call(Method::DELETE, "/api/v1/acme/user", &t).await;
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
    let full = g["session"]["access_token"].as_str().unwrap();
    assert_eq!(
        app.user_call(Method::GET, "/api/v1/acme/user/export", full)
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
