//! Administration: managers call back-office operations with their own token, limited by
//! their admin groups' grants (levels from the spec); `superadmin` holds everything;
//! cleanup removes grants of operations that no longer exist.
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = app.req(m, path).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_manager_with_a_read_grant_lists_users_but_may_not_update_them() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-1").await;
    let target = app
        .bo_create_user(&f, json!({"email": "cli@example.com"}))
        .await;
    let (token, me) = app.manager(&f, "reader@example.com", true).await;
    let g = app
        .admin_group(
            &f,
            "support",
            &[("users_search", "read"), ("users_get", "read")],
        )
        .await;
    // In no group yet: nothing.
    let (s, b) = call(
        &app,
        Method::GET,
        "/api/v1/adm-1/directory/users",
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "forbidden_operation");
    app.join(&f, &g, &me).await;
    let (s, b) = call(
        &app,
        Method::GET,
        "/api/v1/adm-1/directory/users",
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let path = format!(
        "/api/v1/adm-1/directory/users/{}",
        target["id"].as_str().unwrap()
    );
    let (s, b) = call(&app, Method::GET, &path, &token, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // users_update is a write operation: a read grant does not cover it.
    let (s, b) = call(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({"first_name": "X"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "forbidden_operation");
    assert!(
        b["message"].as_str().unwrap().contains("users_update"),
        "{b}"
    );
    // Nor any operation not granted.
    let (s, b) = call(
        &app,
        Method::GET,
        "/api/v1/adm-1/directory/groups",
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    // A write grant does.
    let (s, _) = app
        .bo(
            Method::PUT,
            &format!("/api/v1/adm-1/admin/groups/{g}/grants"),
            &f.admin_key,
            Some(json!({"grants": [{"operation": "users_update", "level": "write"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = call(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({"first_name": "X"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/adm-1/directory/users",
        &token,
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "grants replaced: the search is gone"
    );
}

#[tokio::test]
async fn superadmin_holds_every_back_office_operation_and_nothing_else_grants_group_management() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-2").await;
    let (token, me) = app.manager(&f, "boss@example.com", true).await;
    app.join(&f, "superadmin", &me).await;
    let (_, ops) = app
        .bo(
            Method::GET,
            "/api/v1/adm-2/admin/operations",
            &f.admin_key,
            None,
        )
        .await;
    let ops = ops["items"].as_array().unwrap().clone();
    let (s, mine) = call(&app, Method::GET, "/api/v1/adm-2/admin/me", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["superadmin"], true);
    assert_eq!(mine["operations"].as_array().unwrap().len(), ops.len());
    println!(
        "back-office operations a manager may be granted: {}",
        ops.len()
    );
    // The levels come from the spec's methods.
    let level = |op: &str| {
        ops.iter()
            .find(|o| o["operation"] == op)
            .map(|o| o["level"].clone())
    };
    assert_eq!(level("users_search"), Some(json!("read")));
    assert_eq!(level("users_update"), Some(json!("write")));
    assert_eq!(level("providers_put"), Some(json!("write")));
    // Key and group management stay with the flock API key.
    assert_eq!(level("create_api_key"), None);
    assert_eq!(level("admin_groups_create"), None);
    assert_eq!(
        level("create_autologin_token"),
        None,
        "impersonation stays with the API key"
    );
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/adm-2/directory/groups",
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/adm-2/admin/groups",
        &token,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a manager's token is not an API key"
    );
    // superadmin cannot be changed or removed.
    let (_, list) = app
        .bo(
            Method::GET,
            "/api/v1/adm-2/admin/groups",
            &f.admin_key,
            None,
        )
        .await;
    let sa = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .bo(
            Method::PUT,
            &format!("/api/v1/adm-2/admin/groups/{sa}/grants"),
            &f.admin_key,
            Some(json!({"grants": []})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "admin_group_builtin");
    let (s, _) = app
        .bo(
            Method::DELETE,
            &format!("/api/v1/adm-2/admin/groups/{sa}"),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_managers_with_back_office_access_use_their_token_on_the_back_office() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-3").await;
    let client = app.user_token(&f.slug, "client@example.com").await;
    let (no_bo, no_bo_id) = app.manager(&f, "nobo@example.com", false).await;
    app.join(&f, "superadmin", &no_bo_id).await;
    for (who, token) in [
        ("a client", client.as_str()),
        ("a manager without bo_access", no_bo.as_str()),
    ] {
        let (s, b) = call(
            &app,
            Method::GET,
            "/api/v1/adm-3/directory/users",
            token,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}: {b}");
        assert_error(&b, "manager_required");
    }
    // Members are managers only.
    let c = app
        .bo_create_user(&f, json!({"email": "c2@example.com"}))
        .await;
    let g = app.admin_group(&f, "g", &[]).await;
    let (s, b) = app
        .bo(
            Method::PUT,
            &format!(
                "/api/v1/adm-3/admin/groups/{g}/members/{}",
                c["id"].as_str().unwrap()
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "not_a_manager");
}

#[tokio::test]
async fn grants_name_real_back_office_operations_and_cleanup_removes_the_ones_gone() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-4").await;
    let k = f.admin_key.clone();
    let cases = [
        (
            json!({"name": "a", "grants": [{"operation": "no_such_op", "level": "read"}]}),
            "unknown_operation",
            "grants[0].operation",
        ),
        (
            json!({"name": "a", "grants": [{"operation": "create_api_key", "level": "write"}]}),
            "unknown_operation",
            "grants[0].operation",
        ),
        (
            json!({"name": "a", "grants": [{"operation": "users_get", "level": "read"}, {"operation": "users_get", "level": "write"}]}),
            "duplicate_grant",
            "grants[1].operation",
        ),
        (json!({"name": "Bad Name"}), "invalid_group_name", "name"),
        (
            json!({"name": "superadmin"}),
            "admin_group_name_taken",
            "name",
        ),
    ];
    for (body, code, field) in cases {
        let (s, b) = app
            .bo(
                Method::POST,
                "/api/v1/adm-4/admin/groups",
                &k,
                Some(body.clone()),
            )
            .await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::CONFLICT,
            "{body}: {s} {b}"
        );
        assert_error(&b, code);
        assert_eq!(b["field"], field, "{b}");
    }
    let g = app.admin_group(&f, "ops", &[("users_get", "read")]).await;
    // An operation removed by an upgrade (a grant written by an older version).
    app.sql()
        .await
        .exec("INSERT INTO admin_grants (flock_id, group_id, operation, level) SELECT flock_id, id, 'users_retired_op', 'read' FROM admin_groups WHERE name = 'ops'")
        .await;
    let (s, b) = app
        .bo(Method::POST, "/api/v1/adm-4/admin/cleanup", &k, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["removed"],
        json!([{"group": "ops", "operation": "users_retired_op"}])
    );
    println!("cleanup removed: {}", b["removed"]);
    let (_, g) = app
        .bo(
            Method::GET,
            &format!("/api/v1/adm-4/admin/groups/{g}"),
            &k,
            None,
        )
        .await;
    assert_eq!(
        g["grants"],
        json!([{"operation": "users_get", "level": "read"}])
    );
    // A second cleanup has nothing to do.
    let (_, b) = app
        .bo(Method::POST, "/api/v1/adm-4/admin/cleanup", &k, None)
        .await;
    assert_eq!(b["removed"], json!([]));
}

/// Battery item 25: generated from the spec, every back-office operation called by a
/// manager holding every operation at `read`: each write operation is refused with 403
/// `forbidden_operation` naming it, each read operation gets past the grant.
#[tokio::test]
async fn a_read_grant_never_writes_on_any_back_office_operation() {
    use crate::helpers::spec::{example_body, with_body};
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-5").await;
    let (token, me) = app.manager(&f, "reader@example.com", true).await;
    let (_, ops) = app
        .bo(
            Method::GET,
            "/api/v1/adm-5/admin/operations",
            &f.admin_key,
            None,
        )
        .await;
    let ops: Vec<(String, String)> = ops["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["operation"].as_str().unwrap().to_owned(),
                o["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // A read grant on a write operation is refused outright…
    let (s, b) = app
        .bo(
            Method::POST,
            "/api/v1/adm-5/admin/groups",
            &f.admin_key,
            Some(json!({"name": "x", "grants": [{"operation": "users_update", "level": "read"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "level_too_low");
    // …so the reader holds every read operation.
    let all_read: Vec<(&str, &str)> = ops
        .iter()
        .filter(|(_, l)| l == "read")
        .map(|(o, _)| (o.as_str(), "read"))
        .collect();
    let g = app.admin_group(&f, "readers", &all_read).await;
    app.join(&f, &g, &me).await;
    let spec: Value = serde_json::from_str(&app.state.spec_json()).unwrap();
    let (mut writes, mut reads, mut wrong) = (0, 0, Vec::new());
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            let Some((_, level)) = ops.iter().find(|(o, _)| o == id) else {
                continue;
            };
            let m: Method = method.to_uppercase().parse().unwrap();
            let url = path
                .replace("{flock}", "adm-5")
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        uuid::Uuid::now_v7().to_string()
                    } else {
                        s.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let mut rb = app.req(m.clone(), &url).bearer_auth(&token);
            if let Some(body) = example_body(&spec, path, &m) {
                rb = with_body(rb, &spec, path, &m, &body);
            }
            let r = rb.send().await.unwrap();
            let s = r.status();
            let b: Value = r.json().await.unwrap_or(Value::Null);
            let refused = s == StatusCode::FORBIDDEN && b["code"] == "forbidden_operation";
            if level == "write" {
                writes += 1;
                if !refused || !b["message"].as_str().unwrap_or_default().contains(id) {
                    wrong.push(format!("write {id}: {s} {b}"));
                }
            } else {
                reads += 1;
                if refused || s.is_server_error() {
                    wrong.push(format!("read {id}: {s} {b}"));
                }
            }
        }
    }
    println!("manager grants: {writes} write operations refused to a read grant, {reads} read operations allowed, {} wrong", wrong.len());
    assert!(writes >= 20 && reads >= 15, "{writes} {reads}");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn only_a_superadmin_acts_on_other_managers() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-6").await;
    let (token, me) = app.manager(&f, "support@example.com", true).await;
    let (_, boss) = app.manager(&f, "boss@example.com", true).await;
    app.join(&f, "superadmin", &boss).await;
    let client = app
        .bo_create_user(&f, json!({"email": "c@example.com"}))
        .await;
    let g = app
        .admin_group(
            &f,
            "support",
            &[
                ("users_update", "write"),
                ("users_set_status", "write"),
                ("users_get", "read"),
            ],
        )
        .await;
    app.join(&f, &g, &me).await;
    let on = |id: &str| format!("/api/v1/adm-6/directory/users/{id}");
    // A client: yes.
    let (s, b) = call(
        &app,
        Method::PATCH,
        &on(client["id"].as_str().unwrap()),
        &token,
        Some(json!({"first_name": "C"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The superadmin (taking their email would take their account): no.
    for (m, path, body) in [
        (
            Method::PATCH,
            on(&boss),
            Some(json!({"email": "mine@evil.example"})),
        ),
        (
            Method::POST,
            format!("{}/status", on(&boss)),
            Some(json!({"status": "inactive"})),
        ),
        (Method::GET, on(&boss), None),
    ] {
        let (s, b) = call(&app, m.clone(), &path, &token, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {path}: {b}");
        assert_error(&b, "manager_target_forbidden");
    }
    // Impersonation (an autologin token for a user) stays with the API key.
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/adm-6/autologin-tokens",
        &token,
        Some(json!({"user_id": boss, "device_token": "x"})),
    )
    .await;
    assert!(
        matches!(s.as_u16(), 400 | 401),
        "a manager token is no API key: {s}"
    );
}

#[tokio::test]
async fn a_manager_made_a_client_leaves_their_admin_groups() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("adm-7").await;
    let (_, m) = app.manager(&f, "gone@example.com", true).await;
    app.join(&f, "superadmin", &m).await;
    let access = format!("/api/v1/adm-7/directory/users/{m}/access");
    let (s, _) = app
        .bo(
            Method::POST,
            &access,
            &f.admin_key,
            Some(json!({"role": "client"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .bo(
            Method::POST,
            &access,
            &f.admin_key,
            Some(json!({"role": "manager"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, groups) = app
        .bo(
            Method::GET,
            "/api/v1/adm-7/admin/groups",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(
        groups["items"][0]["members"],
        json!([]),
        "promoted again, in no group: {groups}"
    );
}
