//! The account rules on every session grant and renewal (`User::session_role` applied by
//! `SignInService::grant` and `SignInService::refresh`), seen through each path: only an
//! active account gets a full session, with its own role; a renewal needs the same role
//! and a status that still allows it; a preregistered account's limited session renews
//! as limited; a bad device token opens nothing.
use crate::helpers::{assert_error, tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn issue_autologin(app: &TestApp, slug: &str, key: &str, user: &str) -> String {
    let r = app
        .req(Method::POST, &format!("/api/v1/{slug}/autologin-tokens"))
        .header("X-Api-Key", key)
        .json(&json!({"user_id": user}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: serde_json::Value = r.json().await.unwrap();
    b["autologin_token"].as_str().unwrap().to_owned()
}

async fn redeem(app: &TestApp, slug: &str, autologin: &str) -> StatusCode {
    let r = app
        .req(Method::POST, &format!("/api/v1/{slug}/device-tokens"))
        .json(&json!({"device_id": "phone"}))
        .send()
        .await
        .unwrap();
    let dt: serde_json::Value = r.json().await.unwrap();
    app.req(Method::POST, &format!("/api/v1/{slug}/token/autologin"))
        .json(&json!({"autologin_token": autologin, "device_token": dt["device_token"]}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Every status but `active` is refused by password sign-in, one-time-code sign-in, a
/// back-office autologin token and the redemption of one issued before; `active` is let
/// in by all four.
#[tokio::test]
async fn only_an_active_account_gets_a_session_on_every_path() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let (s, me) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    let id = me["user"]["id"].as_str().unwrap().to_owned();
    let sql = app.sql().await;
    let mut refused = 0;
    let mut held = issue_autologin(&app, &f.slug, &f.admin_key, &id).await;
    for status in [
        "inactive",
        "pending_approval",
        "activation_required",
        // (`unclaimed` is claimed by a code, see `directory`: not refused)
        "preregistered",
        "active",
    ] {
        sql.exec(&format!("UPDATE users SET status = '{status}'"))
            .await;
        let (s, b) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
        app.clock.advance(chrono::Duration::seconds(61)); // past the resend cooldown
        let (sent, _) = app.request_otp(&f.slug, "ann@example.com", "sign_in").await;
        assert_eq!(sent, StatusCode::ACCEPTED);
        let code = app.last_code("ann@example.com").unwrap();
        let (otp_s, otp_b) = app
            .verify_otp(&f.slug, "ann@example.com", "sign_in", &code, json!({}))
            .await;
        let r = app
            .req(Method::POST, "/api/v1/acme/autologin-tokens")
            .header("X-Api-Key", &f.admin_key)
            .json(&json!({"user_id": id}))
            .send()
            .await
            .unwrap();
        let al = r.status();
        // An autologin token issued while active, redeemed after the status changed.
        let redeemed = redeem(&app, &f.slug, &held).await;
        if status == "active" {
            for got in [s, otp_s, al, redeemed] {
                assert_eq!(got, StatusCode::OK);
            }
            continue;
        }
        refused += [s, otp_s, al, redeemed]
            .iter()
            .filter(|s| s.is_client_error())
            .count();
        assert_eq!(s, StatusCode::FORBIDDEN, "{status}: {b}");
        assert_error(&b, "account_not_active");
        assert_eq!(otp_s, StatusCode::FORBIDDEN, "{status}: {otp_b}");
        assert_error(&otp_b, "account_not_active");
        assert_eq!(al, StatusCode::FORBIDDEN, "{status}");
        assert_eq!(redeemed, StatusCode::UNAUTHORIZED, "{status}: redeemed");
        sql.exec("UPDATE users SET status = 'active'").await;
        held = issue_autologin(&app, &f.slug, &f.admin_key, &id).await;
    }
    println!("session grant by status: 20 attempted (4 paths × 5 statuses) / {refused} refused for the 4 statuses that may not sign in");
    assert_eq!(refused, 16);
}

/// A renewal checks the account again: an account made inactive, or a manager made a
/// client, behind the session's back, loses the session at its next refresh.
#[tokio::test]
async fn a_refresh_is_refused_and_the_session_ended_when_the_account_no_longer_qualifies() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let sql = app.sql().await;
    // Still fine: the same status and role.
    let (at, rt) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let (s, g) = app.refresh(&f.slug, &rt).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    // Status changed underneath (no session ended by it): the refresh refuses.
    sql.exec("UPDATE users SET status = 'inactive'").await;
    let (s, b) = app.refresh(&f.slug, &tokens_of(&g).1).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_refresh_token");
    assert_eq!(
        app.me(&f.slug, &at).await.0,
        StatusCode::UNAUTHORIZED,
        "session ended"
    );
    // A manager's session does not outlive the manager role (another account, read
    // fresh by the refresh: no cached row can be what refuses it).
    app.register(&f.slug, "boss@example.com", PASSWORD).await;
    sql.exec("UPDATE users SET role = 'manager' WHERE email = 'boss@example.com'")
        .await;
    let (s, g) = app.sign_in(&f.slug, "boss@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(g["role"], "manager");
    let (boss_at, boss_rt) = tokens_of(&g);
    let (s, g) = app.refresh(&f.slug, &boss_rt).await;
    assert_eq!((s, g["role"].as_str()), (StatusCode::OK, Some("manager")));
    sql.exec("UPDATE users SET role = 'client' WHERE email = 'boss@example.com'")
        .await;
    let (s, b) = app.refresh(&f.slug, &tokens_of(&g).1).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_refresh_token");
    let ended = app.me(&f.slug, &boss_at).await.0;
    assert_eq!(ended, StatusCode::UNAUTHORIZED, "the manager session ended");
    let (s, g) = app.sign_in(&f.slug, "boss@example.com", PASSWORD).await;
    assert_eq!((s, g["role"].as_str()), (StatusCode::OK, Some("client")));
}

/// A preregistered account's limited session renews, and stays limited.
#[tokio::test]
async fn a_limited_session_renews_as_limited() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, g) = app
        .user_post(&f.slug, "preregister", json!({"email": "pre@example.com"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["role"], "preregistered");
    let (s, g) = app.refresh(&f.slug, &tokens_of(&g).1).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["role"], "preregistered");
    let (at, _) = tokens_of(&g);
    assert_eq!(app.me(&f.slug, &at).await.0, StatusCode::OK);
    let (s, b) = app
        .user_call(Method::GET, "/api/v1/acme/user/sessions", &at)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "limited_session");
}

/// A sign-in with a device token that is not live is refused before the password is
/// checked: no session is opened.
#[tokio::test]
async fn a_bad_device_token_opens_no_session() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let at = app.user_token(&f.slug, "ann@example.com").await;
    let sessions = || async {
        let (_, b) = app
            .user_call(Method::GET, "/api/v1/acme/user/sessions", &at)
            .await;
        b["sessions"].as_array().unwrap().len()
    };
    assert_eq!(sessions().await, 1);
    for token in ["fold_dt_nope", "not-even-a-token", ""] {
        let r = app
            .req(Method::POST, "/api/v1/acme/user/auth")
            .json(&json!({"email": "ann@example.com", "password": PASSWORD, "device_token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{token:?}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_error(&b, "invalid_device_token");
        assert_eq!(b["field"], "device_token");
    }
    assert_eq!(
        sessions().await,
        1,
        "no session opened by a refused sign-in"
    );
}
