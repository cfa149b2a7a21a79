//! Every back-office operation (directory, meta, groups) given bad input: a structured
//! 4xx with its stable code and the field at fault, and nothing changed — the users, their
//! meta, the groups and their members, the mail queue and the user's session read the
//! same before and after.
use crate::helpers::{tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A call: method, path under `/directory/`, body.
type Call = (Method, String, Option<Value>);

/// What the back office and the user can see of the flock.
async fn snapshot(app: &TestApp, key: &str, ids: &[&str], group: &str, token: &str) -> Value {
    let mut seen = Vec::new();
    for path in [
        format!("users/{}", ids[0]),
        format!("users/{}", ids[1]),
        format!("users/{}/meta", ids[0]),
        format!("users/{}/groups", ids[0]),
        "groups".to_owned(),
        format!("groups/{group}/members"),
        "users/count?status=active&status=inactive&status=unclaimed".to_owned(),
    ] {
        let (s, b) = app
            .bo(
                Method::GET,
                &format!("/api/v1/acme/directory/{path}"),
                key,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        seen.push(b);
    }
    seen.push(json!(app.mails().await.len()));
    seen.push(json!(app.me("acme", token).await.0.as_u16()));
    Value::Array(seen)
}

#[tokio::test]
async fn every_back_office_operation_refuses_bad_input_with_its_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = f.admin_key.as_str();
    let g = app.grant("acme", "ann@example.com").await;
    let (token, _) = tokens_of(&g);
    let u = g["user"]["id"].as_str().unwrap().to_owned();
    let c = app
        .bo_create_user(
            &f,
            json!({"status": "unclaimed", "first_name": "Sam", "send_email": false}),
        )
        .await;
    let c = c["id"].as_str().unwrap().to_owned();
    let gone = app
        .bo_create_user(
            &f,
            json!({"email": "gone@example.com", "send_email": false}),
        )
        .await;
    let gone = gone["id"].as_str().unwrap().to_owned();
    let d = |m: Method, p: String, b: Option<Value>| (m, p, b);
    let (_, _) = app
        .bo(
            Method::POST,
            &format!("/api/v1/acme/directory/users/{gone}/status"),
            key,
            Some(json!({"status": "deleted"})),
        )
        .await;
    let (_, grp) = app
        .bo(
            Method::POST,
            "/api/v1/acme/directory/groups",
            key,
            Some(json!({"name": "beta"})),
        )
        .await;
    let grp = grp["id"].as_str().unwrap().to_owned();
    app.bo(
        Method::PUT,
        &format!("/api/v1/acme/directory/groups/{grp}/members/{u}"),
        key,
        None,
    )
    .await;
    app.bo(
        Method::PUT,
        &format!("/api/v1/acme/directory/users/{u}/meta"),
        key,
        Some(json!({"meta": [{"key": "tier", "value": "gold"}]})),
    )
    .await;
    let before = snapshot(&app, key, &[&u, &c], &grp, &token).await;

    let long = "x".repeat(1025);
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    use Method as M;
    let cases: Vec<(Call, u16, &str, Option<&str>)> = vec![
        // Directory.
        (
            d(M::POST, "users".into(), Some(json!({"email": "nope"}))),
            400,
            "invalid_email",
            Some("email"),
        ),
        (
            d(M::GET, "users/not-a-uuid".into(), None),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
        (
            d(
                M::PATCH,
                format!("users/{u}"),
                Some(json!({"email": "nope"})),
            ),
            400,
            "invalid_email",
            Some("email"),
        ),
        (
            d(
                M::PATCH,
                format!("users/{u}"),
                Some(json!({"first_name": 5})),
            ),
            400,
            "invalid_request",
            Some("first_name"),
        ),
        (
            d(
                M::PATCH,
                format!("users/{u}"),
                Some(json!({"password": "short"})),
            ),
            400,
            "password_too_short",
            Some("password"),
        ),
        (
            d(M::PATCH, "users/not-a-uuid".into(), Some(json!({}))),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
        (
            d(
                M::POST,
                format!("users/{u}/status"),
                Some(json!({"status": "bogus"})),
            ),
            400,
            "invalid_request",
            Some("status"),
        ),
        (
            d(M::POST, format!("users/{u}/status"), Some(json!({}))),
            400,
            "invalid_request",
            Some("status"),
        ),
        (
            d(
                M::POST,
                format!("users/{u}/status"),
                Some(json!({"status": "unclaimed"})),
            ),
            403,
            "status_transition_not_allowed",
            None,
        ),
        (
            d(M::POST, "users/not-a-uuid/confirm".into(), None),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
        (
            d(M::POST, format!("users/{c}/email-validated"), None),
            400,
            "no_email",
            Some("email"),
        ),
        (
            d(M::POST, format!("users/{c}/email-invalidated"), None),
            400,
            "no_email",
            Some("email"),
        ),
        (
            d(
                M::POST,
                format!("users/{u}/access"),
                Some(json!({"role": "admin"})),
            ),
            400,
            "invalid_request",
            Some("role"),
        ),
        (
            d(
                M::POST,
                format!("users/{u}/access"),
                Some(json!({"status": "active"})),
            ),
            400,
            "invalid_request",
            Some("status"),
        ),
        (
            d(M::POST, "users/not-a-uuid/claim-link".into(), None),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
        (
            d(M::POST, format!("users/{u}/claim-link"), None),
            403,
            "not_unclaimed",
            None,
        ),
        (
            d(M::GET, "users?limit=0".into(), None),
            400,
            "invalid_limit",
            Some("limit"),
        ),
        (
            d(M::GET, "users?sort=sideways".into(), None),
            400,
            "invalid_parameter",
            Some("sort"),
        ),
        (
            d(M::GET, "users/count?email=nope".into(), None),
            400,
            "invalid_email",
            Some("email"),
        ),
        (
            d(M::GET, "users/count?meta_value=x".into(), None),
            400,
            "meta_key_required",
            Some("meta_key"),
        ),
        (
            d(M::GET, "users/count?status=bogus".into(), None),
            400,
            "invalid_parameter",
            Some("status"),
        ),
        (
            d(M::GET, "users/lookup".into(), None),
            400,
            "one_lookup_field",
            Some("email"),
        ),
        (
            d(M::GET, "users/lookup?email=nope".into(), None),
            400,
            "invalid_email",
            Some("email"),
        ),
        (
            d(M::POST, "users/by-ids".into(), Some(json!({"ids": []}))),
            400,
            "invalid_request",
            Some("ids"),
        ),
        (
            d(M::POST, "users/by-ids".into(), Some(json!({"ids": many}))),
            400,
            "invalid_request",
            Some("ids"),
        ),
        (
            d(M::POST, "users/by-ids".into(), Some(json!({"ids": ["x"]}))),
            400,
            "invalid_request",
            Some("ids"),
        ),
        (
            d(
                M::POST,
                "users/by-ids".into(),
                Some(json!({"ids": [u], "limit": 0})),
            ),
            400,
            "invalid_limit",
            Some("limit"),
        ),
        (
            d(
                M::POST,
                "users/by-ids".into(),
                Some(json!({"ids": [u], "cursor": "garbage"})),
            ),
            400,
            "invalid_cursor",
            Some("cursor"),
        ),
        // Meta.
        (
            d(
                M::PUT,
                format!("users/{u}/meta"),
                Some(json!({"meta": [{"key": "Bad Key", "value": "x"}]})),
            ),
            400,
            "invalid_meta_key",
            Some("key"),
        ),
        (
            d(
                M::PUT,
                format!("users/{u}/meta"),
                Some(json!({"meta": [{"key": "k", "value": "a\u{7}b"}]})),
            ),
            400,
            "invalid_request",
            Some("meta[0].value"),
        ),
        (
            d(
                M::PUT,
                format!("users/{u}/meta"),
                Some(json!({"meta": [{"key": "k", "value": long}]})),
            ),
            400,
            "invalid_request",
            Some("meta[0].value"),
        ),
        (
            d(M::PUT, format!("users/{u}/meta"), Some(json!({"meta": []}))),
            400,
            "invalid_request",
            Some("meta"),
        ),
        (
            d(
                M::PUT,
                format!("users/{u}/meta"),
                Some(
                    json!({"meta": [{"key": "tier", "value": "x"}, {"key": "tier", "value": "y"}]}),
                ),
            ),
            400,
            "duplicate_meta_key",
            Some("key"),
        ),
        (
            d(M::GET, "users/not-a-uuid/meta".into(), None),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
        (
            d(M::DELETE, format!("users/{u}/meta/Bad%20Key"), None),
            400,
            "invalid_meta_key",
            Some("key"),
        ),
        (
            d(M::DELETE, format!("users/{u}/meta/tier?value={long}"), None),
            400,
            "invalid_parameter",
            Some("value"),
        ),
        (
            d(M::GET, "meta".into(), None),
            400,
            "invalid_parameter",
            Some("meta_key"),
        ),
        (
            d(M::GET, "meta?meta_key=Bad%20Key".into(), None),
            400,
            "invalid_meta_key",
            Some("meta_key"),
        ),
        (
            d(M::GET, "meta?meta_key=tier&limit=0".into(), None),
            400,
            "invalid_limit",
            Some("limit"),
        ),
        (
            d(M::GET, "meta?meta_key=tier&cursor=garbage".into(), None),
            400,
            "invalid_cursor",
            Some("cursor"),
        ),
        (
            d(M::GET, "meta?meta_key=tier&meta_value=a%07b".into(), None),
            400,
            "invalid_meta_value",
            Some("meta_value"),
        ),
        // Groups.
        (
            d(M::POST, "groups".into(), Some(json!({"name": ""}))),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            d(M::POST, "groups".into(), Some(json!({"name": "   "}))),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            d(
                M::POST,
                "groups".into(),
                Some(json!({"name": "x".repeat(101)})),
            ),
            400,
            "invalid_request",
            Some("name"),
        ),
        (
            d(M::POST, "groups".into(), Some(json!({}))),
            400,
            "invalid_request",
            Some("name"),
        ),
        (
            d(M::POST, "groups".into(), Some(json!({"name": "beta"}))),
            409,
            "group_name_taken",
            Some("name"),
        ),
        (
            d(M::GET, "groups?limit=0".into(), None),
            400,
            "invalid_limit",
            Some("limit"),
        ),
        (
            d(M::GET, "groups?cursor=garbage".into(), None),
            400,
            "invalid_cursor",
            Some("cursor"),
        ),
        (
            d(M::PATCH, format!("groups/{grp}"), Some(json!({"name": ""}))),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            d(
                M::PATCH,
                format!("groups/{grp}"),
                Some(json!({"name": "x", "extra": 1})),
            ),
            400,
            "invalid_request",
            Some("extra"),
        ),
        (
            d(
                M::PATCH,
                "groups/not-a-uuid".into(),
                Some(json!({"name": "x"})),
            ),
            400,
            "invalid_parameter",
            Some("group_id"),
        ),
        (
            d(M::DELETE, "groups/not-a-uuid".into(), None),
            400,
            "invalid_parameter",
            Some("group_id"),
        ),
        (
            d(M::GET, format!("groups/{grp}/members?limit=1001"), None),
            400,
            "invalid_limit",
            Some("limit"),
        ),
        (
            d(M::GET, format!("groups/{grp}/members?cursor=garbage"), None),
            400,
            "invalid_cursor",
            Some("cursor"),
        ),
        (
            d(M::PUT, format!("groups/{grp}/members/not-a-uuid"), None),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
        (
            d(M::PUT, format!("groups/{grp}/members/{gone}"), None),
            404,
            "user_not_found",
            None,
        ),
        (
            d(M::DELETE, format!("groups/not-a-uuid/members/{u}"), None),
            400,
            "invalid_parameter",
            Some("group_id"),
        ),
        (
            d(M::GET, "users/not-a-uuid/groups".into(), None),
            400,
            "invalid_parameter",
            Some("user_id"),
        ),
    ];
    let n = cases.len();
    let mut wrong = Vec::new();
    for ((method, path, body), status, code, field) in cases {
        let full = format!("/api/v1/acme/directory/{path}");
        let (s, b) = app.bo(method.clone(), &full, key, body).await;
        let shown = format!("{method} {}", &path[..path.len().min(80)]);
        let message_ok = b["message"].as_str().is_some_and(|m| !m.is_empty());
        let field_ok = field.is_none_or(|fd| b["field"] == fd);
        if s.as_u16() != status || b["code"] != code || !message_ok || !field_ok {
            wrong.push(format!(
                "{shown}: want {status} {code} {field:?}, got {s} {b}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let after = snapshot(&app, key, &[&u, &c], &grp, &token).await;
    assert_eq!(before, after, "a refused call changed something");
    // The snapshot sees changes (so the comparison above can fail).
    app.bo(
        Method::PATCH,
        &format!("/api/v1/acme/directory/users/{u}"),
        key,
        Some(json!({"last_name": "Changed"})),
    )
    .await;
    assert_ne!(after, snapshot(&app, key, &[&u, &c], &grp, &token).await);
    let _ = PASSWORD;
    println!("back-office bad input: {n} cases, each a 4xx with its code and field, 0 changes");
}
