//! The portal flow, register-or-sign-in, identifier verification and password reset by code.
use super::PHONE;
use crate::helpers::{assert_error, TestApp, PASSWORD};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

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
    // A reset code is not a sign-in code: verify_otp refuses the purpose.
    let (s, b) = app
        .verify_otp(
            &f.slug,
            "ann@example.com",
            "password_reset",
            &code,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "purpose", "{b}");
    let reset = |password: &'static str| {
        app.req(Method::POST, "/api/v1/acme/user/otp/reset")
            .json(&json!({"channel": "email", "identifier": "ann@example.com",
                "code": code, "new_password": password}))
            .send()
    };
    let r = reset("short").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "policy checked first");
    let r = reset("a brand new passphrase").await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, _) = app.me(&f.slug, &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "old session ended");
    let (s, _) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .sign_in(&f.slug, "ann@example.com", "a brand new passphrase")
        .await;
    assert_eq!(s, StatusCode::OK);
}
