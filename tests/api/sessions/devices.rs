//! Device, autologin and visitor tokens; session check / mark active / mark online.
use crate::helpers::{assert_error, tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn device(app: &TestApp, slug: &str) -> String {
    let (s, b) = post(
        app,
        &format!("/api/v1/{slug}/device-tokens"),
        json!({"device_id": "phone-1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["device_id"], "phone-1");
    b["device_token"].as_str().unwrap().to_owned()
}

async fn pair(app: &TestApp, slug: &str, at: &str, dt: &str) -> StatusCode {
    app.req(Method::POST, &format!("/api/v1/{slug}/user/device"))
        .bearer_auth(at)
        .json(&json!({"device_token": dt}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signing_out_with_a_device_token_ends_every_session_paired_with_it() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let dt = device(&app, &f.slug).await;
    let g1 = app.grant(&f.slug, "ann@example.com").await;
    let (_, g2) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (_, g3) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (at1, rt1) = tokens_of(&g1);
    let (at2, _) = tokens_of(&g2);
    let (at3, _) = tokens_of(&g3);
    assert_eq!(pair(&app, &f.slug, &at1, &dt).await, StatusCode::NO_CONTENT);
    assert_eq!(pair(&app, &f.slug, &at2, &dt).await, StatusCode::NO_CONTENT);
    assert_eq!(
        pair(&app, &f.slug, &at3, "fold_dt_nope").await,
        StatusCode::BAD_REQUEST
    );
    let (_, list) = app
        .user_call(
            Method::GET,
            &format!("/api/v1/{}/user/sessions", f.slug),
            &at1,
        )
        .await;
    let devices: Vec<&Value> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["device"])
        .collect();
    assert_eq!(
        devices.iter().filter(|d| **d == "phone-1").count(),
        2,
        "{list}"
    );
    let (s, b) = post(
        &app,
        &format!("/api/v1/{}/device-tokens/sign-out", f.slug),
        json!({"device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["revoked"], 2);
    assert_eq!(app.me(&f.slug, &at1).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&f.slug, &at2).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&f.slug, &rt1).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me(&f.slug, &at3).await.0,
        StatusCode::OK,
        "unpaired survives"
    );
    // Password sign-in pairs a device token directly; an unknown one opens nothing.
    let dt2 = device(&app, &f.slug).await;
    let (s, g4) = post(
        &app,
        &format!("/api/v1/{}/user/auth", f.slug),
        json!({"email": "ann@example.com", "password": PASSWORD, "device_token": dt2}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g4}");
    let (s, b) = post(
        &app,
        &format!("/api/v1/{}/user/auth", f.slug),
        json!({"email": "ann@example.com", "password": PASSWORD, "device_token": "fold_dt_nope"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "invalid_device_token");
    let (s, b) = post(
        &app,
        &format!("/api/v1/{}/device-tokens/sign-out", f.slug),
        json!({"device_token": dt2}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["revoked"], 1);
    assert_eq!(
        app.me(&f.slug, g4["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // A device token of another flock is unknown here.
    let other = app.create_flock("bravo").await;
    let (s, b) = post(
        &app,
        &format!("/api/v1/{}/device-tokens/sign-out", other.slug),
        json!({"device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_device_token");
}

#[tokio::test]
async fn an_autologin_token_is_single_use_short_lived_and_needs_a_device_token() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (at, _) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let dt = device(&app, &f.slug).await;
    let mint = || async {
        let (s, b) = app
            .user_call(
                Method::POST,
                &format!("/api/v1/{}/user/autologin-tokens", f.slug),
                &at,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["autologin_token"].as_str().unwrap().to_owned()
    };
    let redeem_path = format!("/api/v1/{}/token/autologin", f.slug);
    // Without a valid device token: refused, and the autologin token is not consumed.
    let al = mint().await;
    let (s, b) = post(
        &app,
        &redeem_path,
        json!({"autologin_token": al, "device_token": "fold_dt_x"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_device_token");
    let (s, g) = post(
        &app,
        &redeem_path,
        json!({"autologin_token": al, "device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["email"], "ann@example.com");
    let (new_at, _) = tokens_of(&g);
    assert_eq!(app.me(&f.slug, &new_at).await.0, StatusCode::OK);
    // Single use.
    let (s, b) = post(
        &app,
        &redeem_path,
        json!({"autologin_token": al, "device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_autologin_token");
    // Short-lived.
    let al = mint().await;
    app.clock.advance(chrono::Duration::seconds(121));
    let (s, _) = post(
        &app,
        &redeem_path,
        json!({"autologin_token": al, "device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The new session is paired with the device.
    let (s, b) = post(
        &app,
        &format!("/api/v1/{}/device-tokens/sign-out", f.slug),
        json!({"device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["revoked"], 1);
    assert_eq!(app.me(&f.slug, &new_at).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_back_office_issues_autologin_tokens_with_the_scope_only_and_only_for_its_flock() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let other = app.create_flock("bravo").await;
    let g = app.grant(&f.slug, "ann@example.com").await;
    let user_id = g["user"]["id"].as_str().unwrap();
    let path = format!("/api/v1/{}/autologin-tokens", f.slug);
    let call = |key: String, slug: String, uid: String| {
        let app = &app;
        async move {
            let r = app
                .req(Method::POST, &format!("/api/v1/{slug}/autologin-tokens"))
                .header("X-Api-Key", key)
                .json(&json!({"user_id": uid}))
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, b) = call(f.admin_key.clone(), f.slug.clone(), user_id.into()).await;
    assert_eq!(s, StatusCode::OK, "{path}: {b}");
    let dt = device(&app, &f.slug).await;
    let (s, g) = post(
        &app,
        &format!("/api/v1/{}/token/autologin", f.slug),
        json!({"autologin_token": b["autologin_token"], "device_token": dt}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    // A user of another flock: not found, like an unknown id.
    let (s1, b1) = call(other.admin_key.clone(), other.slug.clone(), user_id.into()).await;
    let (s2, b2) = call(
        f.admin_key.clone(),
        f.slug.clone(),
        uuid::Uuid::now_v7().to_string(),
    )
    .await;
    assert_eq!(s1, StatusCode::NOT_FOUND, "{b1}");
    assert_eq!(s2, StatusCode::NOT_FOUND, "{b2}");
    assert_eq!(b1["code"], b2["code"]);
}

#[tokio::test]
async fn a_visitor_is_checked_marked_and_attached_to_the_user_on_sign_in() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, v) = post(
        &app,
        &format!("/api/v1/{}/visitor-tokens", f.slug),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let vt = v["visitor_token"].as_str().unwrap().to_owned();
    assert_eq!(v["visitor"]["attached"], false);
    let vcall = |m: Method, p: &str| {
        app.req(m, &format!("/api/v1/{}/visitor{p}", f.slug))
            .header("X-Visitor-Token", &vt)
    };
    let r = vcall(Method::POST, "/online").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["online"], true);
    app.clock.advance(chrono::Duration::seconds(61));
    let r = vcall(Method::GET, "").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["online"], false);
    let r = vcall(Method::POST, "/active").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Attached on refresh (a sign-in path that accepts visitor_token).
    let (_, rt) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let (s, _) = post(
        &app,
        &format!("/api/v1/{}/token/refresh", f.slug),
        json!({"refresh_token": rt, "visitor_token": vt}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = vcall(Method::GET, "").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["attached"], true);
    // Attached on password sign-in too.
    let (s, v2) = post(
        &app,
        &format!("/api/v1/{}/visitor-tokens", f.slug),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let vt2 = v2["visitor_token"].as_str().unwrap().to_owned();
    let (s, _) = post(
        &app,
        &format!("/api/v1/{}/user/auth", f.slug),
        json!({"email": "ann@example.com", "password": crate::helpers::PASSWORD, "visitor_token": vt2}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = app
        .req(Method::GET, &format!("/api/v1/{}/visitor", f.slug))
        .header("X-Visitor-Token", &vt2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["attached"], true);
    // Unknown / other flock's visitor token.
    let other = app.create_flock("bravo").await;
    let r = app
        .req(Method::GET, &format!("/api/v1/{}/visitor", other.slug))
        .header("X-Visitor-Token", &vt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_error(&r.json().await.unwrap(), "invalid_visitor_token");
}

#[tokio::test]
async fn a_session_is_checked_and_marked_active_and_online() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g = app.grant(&f.slug, "ann@example.com").await;
    let (at, _) = tokens_of(&g);
    let p = |rest: &str| format!("/api/v1/{}/user/session{rest}", f.slug);
    let (s, b) = app.user_call(Method::GET, &p(""), &at).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["id"], g["session_id"]);
    assert_eq!(b["online"], false);
    app.clock.advance(chrono::Duration::seconds(5));
    let (s, b2) = app.user_call(Method::POST, &p("/active"), &at).await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(b["last_seen_at"], b2["last_seen_at"]);
    let (s, b3) = app.user_call(Method::POST, &p("/online"), &at).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b3["online"], true);
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        app.user_call(Method::GET, &p(""), &at).await.1["online"],
        false
    );
}
