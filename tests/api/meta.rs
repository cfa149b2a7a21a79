//! User meta (`domain/meta`, `api/meta`): set, list, delete, find users by key and value;
//! public pairs reach the user, private ones never do; limits answer clearly.
use crate::helpers::directory::user_path;
use crate::helpers::{assert_error, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn public_meta_reaches_the_user_and_private_meta_stays_in_the_back_office() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let g = app.grant("acme", "ann@example.com").await;
    let path = user_path("acme", &g["user"]["id"], "/meta");
    let body = json!({"meta": [
        {"key": "tier", "value": "gold", "public": true},
        {"key": "crm.segment", "value": "b2c-churn-risk"}
    ]});
    let (s, b) = app.bo(Method::PUT, &path, key, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["meta"].as_array().unwrap().len(), 2);
    // The sign-in answer and GET /user show the public pair only.
    let (_, g2) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(g2["user"]["meta"], json!({"tier": "gold"}));
    let (_, me) = app.me("acme", g2["access_token"].as_str().unwrap()).await;
    assert_eq!(me["meta"], json!({"tier": "gold"}));
    // Replace a value, flip visibility, delete.
    let body = json!({"meta": [{"key": "tier", "value": "platinum", "public": false}]});
    app.bo(Method::PUT, &path, key, Some(body)).await;
    let (_, me) = app.me("acme", g2["access_token"].as_str().unwrap()).await;
    assert_eq!(me["meta"], json!({}), "no longer public");
    let (s, b) = app.bo(Method::GET, &path, key, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["meta"][1]["value"], "platinum");
    let del = format!("{path}/crm.segment?value=other");
    assert_eq!(
        app.bo(Method::DELETE, &del, key, None).await.0,
        StatusCode::NOT_FOUND
    );
    let del = format!("{path}/crm.segment");
    assert_eq!(
        app.bo(Method::DELETE, &del, key, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.bo(Method::DELETE, &del, key, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn users_are_found_by_key_and_value_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let mut gold = 0;
    for i in 0..7 {
        let u = app
            .bo_create_user(
                &f,
                json!({"email": format!("u{i}@example.com"), "send_email": false}),
            )
            .await;
        let tier = if i % 2 == 0 { "gold" } else { "silver" };
        gold += usize::from(tier == "gold");
        let body = json!({"meta": [{"key": "tier", "value": tier}]});
        let (s, _) = app
            .bo(
                Method::PUT,
                &user_path("acme", &u["id"], "/meta"),
                key,
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let path =
            format!("/api/v1/acme/directory/meta?meta_key=tier&meta_value=gold&limit=2{cursor}");
        let (s, b) = app.bo(Method::GET, &path, key, None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        seen.extend(
            b["meta"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["user_id"].clone()),
        );
        match b["next"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), gold);
    let (_, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/meta?meta_key=tier",
            key,
            None,
        )
        .await;
    assert_eq!(
        b["meta"].as_array().unwrap().len(),
        7,
        "key only: every holder"
    );
    // The search filter says the same.
    let (_, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users?meta_key=tier&meta_value=silver",
            key,
            None,
        )
        .await;
    assert_eq!(b["users"].as_array().unwrap().len(), 7 - gold);
}

#[tokio::test]
async fn meta_limits_answer_with_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let u = app
        .bo_create_user(&f, json!({"email": "ann@example.com", "send_email": false}))
        .await;
    let path = user_path("acme", &u["id"], "/meta");
    for (body, status, code) in [
        (json!({"meta": []}), 400, "invalid_request"),
        (
            json!({"meta": [{"key": "Bad Key", "value": "x"}]}),
            400,
            "invalid_meta_key",
        ),
        (
            json!({"meta": [{"key": "k", "value": "x".repeat(1025)}]}),
            400,
            "invalid_request",
        ),
        (
            json!({"meta": [{"key": "k", "value": "a\u{0007}b"}]}),
            400,
            "invalid_request",
        ),
        (
            json!({"meta": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}),
            400,
            "duplicate_meta_key",
        ),
        (
            json!({"meta": [{"key": "k", "value": "1", "secret": true}]}),
            400,
            "invalid_request",
        ),
    ] {
        let (s, b) = app.bo(Method::PUT, &path, key, Some(body.clone())).await;
        assert_eq!(s.as_u16(), status, "{body}: {b}");
        assert_error(&b, code);
    }
    // 100 keys fit; the 101st is refused and the write that carried it changes nothing.
    let hundred: Vec<_> = (0..100)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let (s, _) = app
        .bo(Method::PUT, &path, key, Some(json!({"meta": hundred})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let body =
        json!({"meta": [{"key": "k0", "value": "changed"}, {"key": "one-more", "value": "v"}]});
    let (s, b) = app.bo(Method::PUT, &path, key, Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_error(&b, "too_many_meta_keys");
    let (_, b) = app.bo(Method::GET, &path, key, None).await;
    assert_eq!(b["meta"].as_array().unwrap().len(), 100);
    assert!(
        b["meta"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["value"] == "v"),
        "all or nothing"
    );
    // An unknown user, and a user of another flock.
    let other = app.create_flock("other").await;
    let o = app
        .bo_create_user(
            &other,
            json!({"email": "o@example.com", "send_email": false}),
        )
        .await;
    let body = json!({"meta": [{"key": "k", "value": "v"}]});
    let (s, b) = app
        .bo(
            Method::PUT,
            &user_path("acme", &o["id"], "/meta"),
            key,
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "user_not_found");
}
