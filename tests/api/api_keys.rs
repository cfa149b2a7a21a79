//! API keys: management, scopes, revocation, query-string refusal, and the auth matrix
//! over every key-protected and platform operation (docs/SECURITY.md battery item 2).
use crate::helpers::{assert_error, tokens_of, TestApp, PLATFORM_KEY};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

/// (what, headers, credential query parameter).
type Attempt<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);

async fn send(rb: RequestBuilder) -> (StatusCode, Value) {
    let r = rb.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn keys_path(slug: &str) -> String {
    format!("/api/v1/{slug}/api-keys")
}

async fn create_key(app: &TestApp, slug: &str, with: &str, scopes: Value) -> (StatusCode, Value) {
    send(
        app.req(Method::POST, &keys_path(slug))
            .header("X-Api-Key", with)
            .json(&json!({"name": "backend", "scopes": scopes})),
    )
    .await
}

#[tokio::test]
async fn a_key_is_shown_once_listed_without_its_secret_and_limited_to_its_scopes() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, k) = create_key(&app, &f.slug, &f.admin_key, json!(["list_api_keys"])).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("fold_fk_{}_", k["prefix"].as_str().unwrap())));
    assert!(key.len() >= 8 + 12 + 1 + 43, "at least 256 bits of secret");
    let (s, list) = send(
        app.req(Method::GET, &keys_path(&f.slug))
            .header("X-Api-Key", &key),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let text = list.to_string();
    assert!(!text.contains(&key[20..]), "no secrets in the list");
    assert!(list["keys"][0].get("key").is_none());
    let me = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == k["id"])
        .unwrap();
    assert!(
        me["last_used_at"].as_str().is_some(),
        "last_used_at set on use"
    );
    // Its scope does not include creating keys.
    let (s, b) = create_key(&app, &f.slug, &key, json!(["list_api_keys"])).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "scope_missing");
}

#[tokio::test]
async fn scopes_must_name_real_operations_and_cannot_exceed_the_creators() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    for bad in [
        json!(["no_such_operation"]),
        json!(["zz*"]),
        json!([]),
        json!(["List_api_keys"]),
    ] {
        let (s, b) = create_key(&app, &f.slug, &f.admin_key, bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
        assert_error(&b, "invalid_scopes");
    }
    let (s, k) = create_key(
        &app,
        &f.slug,
        &f.admin_key,
        json!(["create_api_key", "list_*"]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let limited = k["key"].as_str().unwrap();
    for wider in [json!(["*"]), json!(["revoke_api_key"]), json!(["l*"])] {
        let (s, b) = create_key(&app, &f.slug, limited, wider.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{wider}: {b}");
        assert_error(&b, "scope_escalation");
    }
    let (s, b) = create_key(&app, &f.slug, limited, json!(["list_api_keys"])).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_very_next_call() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (_, k) = create_key(&app, &f.slug, &f.admin_key, json!(["list_api_keys"])).await;
    let key = k["key"].as_str().unwrap();
    let id = k["id"].as_str().unwrap();
    let list = || {
        app.req(Method::GET, &keys_path(&f.slug))
            .header("X-Api-Key", key)
    };
    assert_eq!(send(list()).await.0, StatusCode::OK);
    let (s, dbg) = send(
        app.req(Method::DELETE, &format!("{}/{id}", keys_path(&f.slug)))
            .header("X-Api-Key", &f.admin_key),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{dbg}");
    let (s, b) = send(list()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_api_key");
}

#[tokio::test]
async fn a_key_of_another_flock_cannot_be_revoked_or_used_here() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("acme").await;
    let b = app.create_flock("bravo").await;
    let (_, kb) = create_key(&app, &b.slug, &b.admin_key, json!(["list_api_keys"])).await;
    let (s, body) = send(
        app.req(
            Method::DELETE,
            &format!("{}/{}", keys_path(&a.slug), kb["id"].as_str().unwrap()),
        )
        .header("X-Api-Key", &a.admin_key),
    )
    .await;
    let (s2, body2) = send(
        app.req(
            Method::DELETE,
            &format!("{}/{}", keys_path(&a.slug), uuid::Uuid::now_v7()),
        )
        .header("X-Api-Key", &a.admin_key),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(s2, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], body2["code"]);
    assert_error(&body, "api_key_not_found");
    let (s, _) = send(
        app.req(Method::GET, &keys_path(&b.slug))
            .header("X-Api-Key", kb["key"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "still alive in its own flock");
    let (s, _) = send(
        app.req(Method::GET, &keys_path(&a.slug))
            .header("X-Api-Key", kb["key"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_platform_creates_lists_and_revokes_flock_keys() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, k) = send(
        app.platform(
            Method::POST,
            &format!("/platform/v1/flocks/{}/api-keys", f.slug),
        )
        .json(&json!({"name": "ops", "scopes": ["list_api_keys"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap();
    let (s, list) = send(app.platform(
        Method::GET,
        &format!("/platform/v1/flocks/{}/api-keys", f.slug),
    ))
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        list["keys"].as_array().unwrap().len(),
        2,
        "admin key + this one"
    );
    let (s, _) = send(app.platform(
        Method::DELETE,
        &format!(
            "/platform/v1/flocks/{}/api-keys/{}",
            f.slug,
            k["id"].as_str().unwrap()
        ),
    ))
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = send(
        app.req(Method::GET, &keys_path(&f.slug))
            .header("X-Api-Key", key),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_in_the_query_string_is_refused() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let base = keys_path(&f.slug);
    for q in ["api_key", "key", "API_KEY", "access_token"] {
        // Alone: no header, so no credential at all.
        let (s, _) = send(app.req(Method::GET, &format!("{base}?{q}={}", f.admin_key))).await;
        assert!(
            s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST,
            "{q}: {s}"
        );
        // Even with a valid header the request is refused.
        let (s, b) = send(
            app.req(Method::GET, &format!("{base}?{q}={}", f.admin_key))
                .header("X-Api-Key", &f.admin_key),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_error(&b, "credentials_in_query");
    }
    let (s, _) = send(app.req(
        Method::GET,
        &format!("/platform/v1/flocks?key={PLATFORM_KEY}"),
    ))
    .await;
    assert!(s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST);
}

/// Every operation whose spec entry requires `ServerAuth` or `PlatformAuth`, called with
/// every wrong credential: none may succeed. New operations are covered automatically.
#[tokio::test]
async fn no_key_protected_or_platform_operation_accepts_a_wrong_credential() {
    // Thousands of calls from one address: the per-IP quota would answer instead.
    let app = TestApp::builder()
        .config(|c| c.limits.ip_per_second = 0)
        .spawn()
        .await;
    let a = app.create_flock("acme").await;
    let b = app.create_flock("bravo").await;
    let (user_token, _) = tokens_of(&app.grant(&a.slug, "ann@example.com").await);
    let (_, revoked) = send(
        app.platform(
            Method::POST,
            &format!("/platform/v1/flocks/{}/api-keys", a.slug),
        )
        .json(&json!({"name": "gone", "scopes": ["*"]})),
    )
    .await;
    send(app.platform(
        Method::DELETE,
        &format!(
            "/platform/v1/flocks/{}/api-keys/{}",
            a.slug,
            revoked["id"].as_str().unwrap()
        ),
    ))
    .await;
    let revoked = revoked["key"].as_str().unwrap().to_owned();
    let (_, unscoped) = create_key(&app, &a.slug, &a.admin_key, json!(["get_jwks"])).await;
    let unscoped = unscoped["key"].as_str().unwrap().to_owned();
    // Managers: one in no admin group, one without back-office access (in superadmin),
    // and another flock's superadmin.
    let (lone_manager, _) = app.manager(&a, "lone@example.com", true).await;
    let (no_bo, no_bo_id) = app.manager(&a, "nobo@example.com", false).await;
    app.join(&a, "superadmin", &no_bo_id).await;
    let (b_boss, b_boss_id) = app.manager(&b, "boss@example.com", true).await;
    app.join(&b, "superadmin", &b_boss_id).await;

    let spec: Value = serde_json::from_str(&app.state.spec_json()).unwrap();
    let mut attempted = 0;
    let mut violations = Vec::new();
    let mut ops = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let schemes: Vec<String> = op["security"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .flat_map(|o| o.as_object().unwrap().keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let server = schemes.iter().any(|s| s == "ServerAuth");
            let platform = schemes.iter().any(|s| s == "PlatformAuth");
            if !server && !platform {
                continue;
            }
            ops += 1;
            let url = path
                .replace("{flock}", &a.slug)
                .replace("{slug}", &a.slug)
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        uuid::Uuid::now_v7().to_string()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let m: Method = method.to_uppercase().parse().unwrap();
            let bearer = format!("Bearer {user_token}");
            let mut creds: Vec<Attempt> = vec![
                ("no credential", vec![], ""),
                (
                    "user token as bearer",
                    vec![("Authorization", bearer.clone())],
                    "",
                ),
            ];
            if server {
                creds.extend([
                    (
                        "user token as key",
                        vec![("X-Api-Key", user_token.clone())],
                        "",
                    ),
                    ("revoked key", vec![("X-Api-Key", revoked.clone())], ""),
                    (
                        "other flock's key",
                        vec![("X-Api-Key", b.admin_key.clone())],
                        "",
                    ),
                    (
                        "key without the scope",
                        vec![("X-Api-Key", unscoped.clone())],
                        "",
                    ),
                    (
                        "platform key as flock key",
                        vec![("X-Api-Key", PLATFORM_KEY.into())],
                        "",
                    ),
                    ("key in the query string", vec![], "api_key"),
                    (
                        "manager in no admin group",
                        vec![("Authorization", format!("Bearer {lone_manager}"))],
                        "",
                    ),
                    (
                        "manager without back-office access",
                        vec![("Authorization", format!("Bearer {no_bo}"))],
                        "",
                    ),
                    (
                        "other flock's superadmin",
                        vec![("Authorization", format!("Bearer {b_boss}"))],
                        "",
                    ),
                ]);
            }
            if platform {
                creds.extend([
                    (
                        "flock key as platform key",
                        vec![("X-Platform-Key", a.admin_key.clone())],
                        "",
                    ),
                    (
                        "wrong platform key",
                        vec![("X-Platform-Key", format!("{PLATFORM_KEY}x"))],
                        "",
                    ),
                    (
                        "platform key as flock key",
                        vec![("X-Api-Key", PLATFORM_KEY.into())],
                        "",
                    ),
                    ("platform key in the query string", vec![], "key"),
                ]);
            }
            for (name, headers, query) in creds {
                let u = if query.is_empty() {
                    url.clone()
                } else if server {
                    format!("{url}?{query}={}", a.admin_key)
                } else {
                    format!("{url}?{query}={PLATFORM_KEY}")
                };
                let mut rb = app.req(m.clone(), &u);
                for (h, v) in headers {
                    rb = rb.header(h, v);
                }
                if m != Method::GET && m != Method::DELETE {
                    rb = crate::helpers::spec::with_body(rb, &spec, path, &m, &json!({}));
                }
                let (s, body) = send(rb).await;
                attempted += 1;
                if s.is_success() || !matches!(s.as_u16(), 400 | 401 | 403) {
                    violations.push(format!("{method} {path} with {name}: {s} {body}"));
                }
            }
        }
    }
    println!(
        "auth matrix: {ops} operations, {attempted} attempted / {} violations",
        violations.len()
    );
    assert!(ops >= 10, "the spec lists the protected operations");
    assert!(violations.is_empty(), "{violations:#?}");
}
