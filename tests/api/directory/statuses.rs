//! Changing users from the back office: the status transition table through the API,
//! confirmation, the email's validity, role and access, updates.
use crate::helpers::directory::user_path;
use crate::helpers::{assert_error, tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn statuses_move_along_the_transition_table_and_sessions_follow() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let u = app
        .bo_create_user(
            &f,
            json!({"email": "ann@example.com", "password": PASSWORD,
            "status": "pending_approval", "send_email": false}),
        )
        .await;
    let status = |s: &str| json!({"status": s});
    let path = user_path("acme", &u["id"], "/status");
    // Pending: no sign-in until approved.
    let (s, b) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, b) = app
        .bo(Method::POST, &path, key, Some(status("active")))
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("active")),
        "{b}"
    );
    let (s, g) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    let (at, rt) = tokens_of(&g);
    // Deactivate: the session dies at once, refresh too; sign-in refused.
    let (s, _) = app
        .bo(Method::POST, &path, key, Some(status("inactive")))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.me("acme", &at).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh("acme", &rt).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.sign_in("acme", "ann@example.com", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
    // An edge the table lacks.
    let (s, b) = app
        .bo(Method::POST, &path, key, Some(status("unclaimed")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "status_transition_not_allowed");
    // Reactivate, then delete = anonymise.
    let (s, _) = app
        .bo(Method::POST, &path, key, Some(status("active")))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.sign_in("acme", "ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    let (s, b) = app
        .bo(Method::POST, &path, key, Some(status("deleted")))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "deleted");
    assert!(
        b["email"].is_null() && b["first_name"].is_null(),
        "anonymised: {b}"
    );
    // Deleted is final; the email is free again.
    let (s, _) = app
        .bo(Method::POST, &path, key, Some(status("active")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.register("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn confirm_and_email_validity_are_recorded_and_invalid_addresses_get_no_mail() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let u = app
        .bo_create_user(
            &f,
            json!({"email": "ann@example.com", "password": PASSWORD, "send_email": false}),
        )
        .await;
    let (s, b) = app
        .bo(
            Method::POST,
            &user_path("acme", &u["id"], "/confirm"),
            key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let first = b["confirmed_at"].clone();
    assert!(first.is_string());
    let (_, b) = app
        .bo(
            Method::POST,
            &user_path("acme", &u["id"], "/confirm"),
            key,
            None,
        )
        .await;
    assert_eq!(b["confirmed_at"], first, "confirmed once");
    // Invalidated: visible, and a reset mail is not sent.
    let (s, b) = app
        .bo(
            Method::POST,
            &user_path("acme", &u["id"], "/email-invalidated"),
            key,
            None,
        )
        .await;
    assert_eq!(
        (s, b["email_invalid"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (s, _) = app
        .user_post("acme", "reset", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(
        app.mails().await.is_empty(),
        "no mail to an invalidated address"
    );
    // Validated: verified, and mail flows again.
    let (s, b) = app
        .bo(
            Method::POST,
            &user_path("acme", &u["id"], "/email-validated"),
            key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (b["email_invalid"].as_bool(), b["email_verified"].as_bool()),
        (Some(false), Some(true))
    );
    app.user_post("acme", "reset", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(app.mails().await.len(), 1);
    // A contact without an email has nothing to validate.
    let c = app.bo_create_user(&f, json!({"status": "unclaimed"})).await;
    let (s, b) = app
        .bo(
            Method::POST,
            &user_path("acme", &c["id"], "/email-validated"),
            key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "no_email");
}

#[tokio::test]
async fn a_new_role_or_no_app_access_ends_the_users_sessions() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let g = app.grant("acme", "ann@example.com").await;
    let (at, _) = tokens_of(&g);
    let path = user_path("acme", &g["user"]["id"], "/access");
    let (s, b) = app
        .bo(Method::POST, &path, key, Some(json!({"bo_access": true})))
        .await;
    assert_eq!((s, b["bo_access"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(
        app.me("acme", &at).await.0,
        StatusCode::OK,
        "flags keep sessions"
    );
    let (s, b) = app
        .bo(Method::POST, &path, key, Some(json!({"role": "manager"})))
        .await;
    assert_eq!((s, b["role"].as_str()), (StatusCode::OK, Some("manager")));
    assert_eq!(
        app.me("acme", &at).await.0,
        StatusCode::UNAUTHORIZED,
        "role change ends sessions"
    );
    let (_, g) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(g["role"], "manager");
    // Without app access: the sessions end, sign-in and refresh are refused.
    let (at, rt) = tokens_of(&g);
    let (s, b) = app
        .bo(Method::POST, &path, key, Some(json!({"api_access": false})))
        .await;
    assert_eq!(
        (s, b["api_access"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(app.me("acme", &at).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh("acme", &rt).await.0, StatusCode::UNAUTHORIZED);
    let (s, b) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "app_access_denied");
    // Back on: sign-in works again.
    app.bo(Method::POST, &path, key, Some(json!({"api_access": true})))
        .await;
    assert_eq!(
        app.sign_in("acme", "ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    // Created without it: no session either.
    app.bo_create_user(
        &f,
        json!({"email": "bo@example.com", "password": PASSWORD, "api_access": false,
               "bo_access": true, "send_email": false}),
    )
    .await;
    let (s, b) = app.sign_in("acme", "bo@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "app_access_denied");
}

#[tokio::test]
async fn update_is_a_patch_refuses_unknown_fields_and_keeps_identifiers_unique() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let u = app
        .bo_create_user(
            &f,
            json!({"email": "ann@example.com", "first_name": "Ann",
            "note": "keep", "external_id": "e-1", "send_email": false}),
        )
        .await;
    app.bo_create_user(&f, json!({"email": "bob@example.com", "send_email": false}))
        .await;
    let path = user_path("acme", &u["id"], "");
    let (s, b) = app
        .bo(
            Method::PATCH,
            &path,
            key,
            Some(json!({"last_name": "Lee", "external_id": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["first_name"].as_str(), b["last_name"].as_str()),
        (Some("Ann"), Some("Lee"))
    );
    assert!(b["external_id"].is_null(), "null clears");
    assert_eq!(b["note"], "keep", "absent keeps");
    for (body, status, code) in [
        (json!({"email": "BOB@example.com"}), 409, "email_taken"),
        (json!({"status": "inactive"}), 400, "invalid_request"),
        (json!({"role": "manager"}), 400, "invalid_request"),
        (json!({"email_verified": true}), 400, "invalid_request"),
        (json!({"email": null}), 400, "identifier_required"),
        (json!({"password": "short"}), 400, "password_too_short"),
    ] {
        let (s, b) = app.bo(Method::PATCH, &path, key, Some(body.clone())).await;
        assert_eq!(s.as_u16(), status, "{body}: {b}");
        assert_error(&b, code);
    }
    let (_, b) = app.bo(Method::GET, &path, key, None).await;
    assert_eq!(b["email"], "ann@example.com", "nothing changed");
    // A new email is not verified; a new password ends sessions and signs in.
    let (s, b) = app
        .bo(
            Method::PATCH,
            &path,
            key,
            Some(json!({"email": "ann2@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["email_verified"], false);
    assert_eq!(
        app.sign_in("acme", "ann2@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

/// Writes that read first (update, access, email validity, meta) race each other: on
/// SQLite a transaction that only takes the write lock at its first write fails at once
/// ("database is locked") when another writer went first. Every call must succeed.
#[tokio::test]
async fn concurrent_back_office_writes_all_succeed() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let u = app
            .bo_create_user(
                &f,
                json!({"email": format!("w{i}@example.com"), "send_email": false}),
            )
            .await;
        ids.push(u["id"].clone());
    }
    let mut calls = Vec::new();
    for round in 0..12 {
        for id in &ids {
            let (app, key) = (&app, &f.admin_key);
            let (method, rest, body) = match round % 4 {
                0 => (
                    Method::PATCH,
                    "",
                    Some(json!({"last_name": format!("R{round}")})),
                ),
                1 => (
                    Method::POST,
                    "/access",
                    Some(json!({"bo_access": round % 8 == 1})),
                ),
                2 => (Method::POST, "/email-validated", None),
                _ => (
                    Method::PUT,
                    "/meta",
                    Some(json!({"meta": [{"key": "round", "value": round.to_string()}]})),
                ),
            };
            let path = user_path("acme", id, rest);
            calls.push(async move { app.bo(method, &path, key, body).await });
        }
    }
    let n = calls.len();
    let answers = futures::future::join_all(calls).await;
    let failed: Vec<_> = answers.iter().filter(|(s, _)| !s.is_success()).collect();
    println!(
        "concurrent back-office writes: {n} sent, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{failed:?}");
}
