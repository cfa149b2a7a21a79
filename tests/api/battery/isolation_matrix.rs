//! Battery 1, generated from the spec: every tenant operation that takes a credential is
//! called on flock B with flock A's user token and API key (and A's ids in the path), and
//! every operation with an id in its path is called with B's own credentials and A's id.
//! Nothing of A may work in B, and an id of A must read as "not found" in B.
use crate::helpers::federation::{add_google, google_claims, link_id_token, spawn_with_idp_and};
use crate::helpers::files::{png, Credential};
use crate::helpers::spec::{example_body, with_body};
use crate::helpers::tokens_of;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every `(method, path template, security schemes, has body)` under `/api/v1/{flock}`.
fn tenant_operations(spec: &Value) -> Vec<(Method, String, Vec<String>, bool)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/{flock}") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let schemes: Vec<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_object())
                .flat_map(|s| s.keys().cloned())
                .collect();
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            ops.push((method, path.clone(), schemes, op["requestBody"].is_object()));
        }
    }
    ops
}

#[tokio::test]
async fn credentials_and_ids_of_one_flock_do_nothing_in_another() {
    // Thousands of calls from one address: the per-IP quota would answer instead.
    let (app, idp) = spawn_with_idp_and(|c| c.limits.ip_per_second = 0).await;
    let a = app.create_flock("flock-a").await;
    let b = app.create_flock("flock-b").await;
    add_google(&app, &a, json!({})).await;
    add_google(&app, &b, json!({})).await;
    let (token_a, refresh_a) = tokens_of(&app.grant(&a.slug, "ann@example.com").await);
    let (token_b, _) = tokens_of(&app.grant(&b.slug, "bob@example.com").await);
    // Ids of A: a session of Ann and an API key of A.
    let (_, sessions) = app
        .user_call(
            Method::GET,
            &format!("/api/v1/{}/user/sessions", a.slug),
            &token_a,
        )
        .await;
    let session_a = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .req(Method::POST, &format!("/api/v1/{}/api-keys", a.slug))
        .header("X-Api-Key", &a.admin_key)
        .json(&json!({"name": "a-backend", "scopes": ["list_api_keys"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let key_a: Value = r.json().await.unwrap();
    let key_a_id = key_a["id"].as_str().unwrap().to_owned();
    // A user and a group of A (back-office ids).
    let (_, me_a) = app.me(&a.slug, &token_a).await;
    let user_a = me_a["id"].as_str().unwrap().to_owned();
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{}/directory/groups", a.slug),
        )
        .header("X-Api-Key", &a.admin_key)
        .json(&json!({"name": "a-group"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let group_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An address of Ann and a change request for it (back-office ids under the user).
    let r = app
        .req(Method::POST, &format!("/api/v1/{}/user/addresses", a.slug))
        .bearer_auth(&token_a)
        .json(&json!({"type": "billing", "city": "Paris"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let address_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .req(
            Method::POST,
            &format!(
                "/api/v1/{}/directory/users/{user_a}/address-requests",
                a.slug
            ),
        )
        .header("X-Api-Key", &a.admin_key)
        .json(&json!({"address_id": address_a, "city": "Lyon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let request_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A file of Ann.
    let (s, file) = app
        .upload(
            Method::POST,
            &format!("/api/v1/{}/user/files", a.slug),
            Credential::Bearer(&token_a),
            png(4, 4),
            "a.png",
            "image/png",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    let file_a = file["id"].as_str().unwrap().to_owned();
    // An identity of Ann at Google (linked explicitly, once her email is verified).
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = true WHERE email = 'ann@example.com'")
        .await;
    let t = idp.sign(&google_claims(
        &app,
        "g-ann",
        "ann@example.com",
        true,
        Some("m"),
    ));
    let r = link_id_token(
        &app,
        &a.slug,
        &token_a,
        "google",
        json!({"id_token": t, "nonce": "m"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let identity_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A superadmin manager of A, and an admin group of A.
    let (manager_a, manager_a_id) = app.manager(&a, "boss@example.com", true).await;
    app.join(&a, "superadmin", &manager_a_id).await;
    let admin_group_a = app
        .admin_group(&a, "a-admins", &[("users_get", "read")])
        .await;
    // A webhook endpoint of A and a delivery to it.
    let r = app
        .req(Method::POST, &format!("/api/v1/{}/webhooks", a.slug))
        .header("X-Api-Key", &a.admin_key)
        .json(&json!({"url": "https://hooks.example.com/a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let endpoint_a = r.json::<Value>().await.unwrap()["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{}/webhooks/{endpoint_a}/test", a.slug),
        )
        .header("X-Api-Key", &a.admin_key)
        .send()
        .await
        .unwrap();
    let delivery_a = r.json::<Value>().await.unwrap()["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A's signed URL, asked of B.
    let signed_a = file["paths"]["s"].as_str().unwrap().replace(
        &format!("/api/v1/{}/", a.slug),
        &format!("/api/v1/{}/", b.slug),
    );

    let spec: Value = serde_json::from_str(&app.state.spec_json()).unwrap();
    let ops = tenant_operations(&spec);
    let fill = |path: &str| {
        // Admin groups and directory groups both take `{group_id}`: each gets A's own.
        let group = if path.contains("/admin/groups/") {
            &admin_group_a
        } else {
            &group_a
        };
        let path = path.replace("{group_id}", group);
        path.replace("{flock}", &b.slug)
            .replace("{session_id}", &session_a)
            .replace("{key_id}", &key_a_id)
            .replace("{user_id}", &user_a)
            .replace("{group_id}", &group_a)
            .replace("{address_id}", &address_a)
            .replace("{request_id}", &request_a)
            .replace("{file_id}", &file_a)
            .replace("{identity_id}", &identity_a)
            .replace("{endpoint_id}", &endpoint_a)
            .replace("{delivery_id}", &delivery_a)
            .replace("{provider}", "google")
            .replace("{part}", "original")
            .replace("{key}", "x")
            .replace("{name}", "x")
    };

    // 1. A's credentials on B: every protected operation refuses.
    let (mut attempted, mut violations) = (0, Vec::new());
    // Each with A's user token, A's API key and A's superadmin manager's token, one at a
    // time (a back-office operation takes the key when one is sent, else the bearer).
    let creds = [
        (
            "A's user token",
            "Authorization",
            format!("Bearer {token_a}"),
        ),
        ("A's API key", "X-Api-Key", a.admin_key.clone()),
        (
            "A's superadmin token",
            "Authorization",
            format!("Bearer {manager_a}"),
        ),
    ];
    for (method, path, schemes, has_body) in ops.iter().filter(|o| !o.2.is_empty()) {
        for (who, header, value) in &creds {
            let mut req = app.req(method.clone(), &fill(path)).header(*header, value);
            if *has_body {
                req = with_body(req, &spec, path, method, &json!({}));
            }
            let r = req.send().await.unwrap();
            attempted += 1;
            let s = r.status();
            if s.is_success() || !matches!(s.as_u16(), 400 | 401 | 403 | 404) {
                violations.push(format!("{method} {path} {schemes:?} with {who} -> {s}"));
            }
        }
    }

    // 2. B's own credentials with A's ids: "not found", exactly as for an unknown id.
    let mut id_cases = 0;
    // (The signed file URL takes its signature in the query: it is tried whole below.)
    for (method, path, schemes, _) in ops
        .iter()
        .filter(|o| o.1.contains("_id}") && !o.1.ends_with("/{part}"))
    {
        let mut req = app.req(method.clone(), &fill(path));
        if schemes.iter().any(|s| s == "UserAuth") {
            req = req.bearer_auth(&token_b);
        }
        if schemes.iter().any(|s| s == "ServerAuth") {
            req = req.header("X-Api-Key", &b.admin_key);
        }
        if let Some(body) = example_body(&spec, path, method) {
            req = with_body(req, &spec, path, method, &body);
        }
        let r = req.send().await.unwrap();
        id_cases += 1;
        attempted += 1;
        if r.status() != StatusCode::NOT_FOUND {
            violations.push(format!(
                "{method} {path} with A's id in B -> {}",
                r.status()
            ));
        }
    }

    // A signed URL of A's file, in B.
    let (s, _, _) = app.fetch(&signed_a, None).await;
    attempted += 1;
    if s != StatusCode::NOT_FOUND {
        violations.push(format!("A's signed file URL in B -> {s}"));
    }

    // 3. A credential carried in a body: A's refresh token in B.
    let (s, _) = app.refresh(&b.slug, &refresh_a).await;
    attempted += 1;
    if s != StatusCode::UNAUTHORIZED {
        violations.push(format!("refresh with A's token in B -> {s}"));
    }

    // A's things still work in A (the matrix did not just break everything).
    let r = app
        .req(Method::GET, &format!("/api/v1/{}/directory/users", a.slug))
        .bearer_auth(&manager_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "A's superadmin in A");
    let (s, _) = app
        .user_call(Method::GET, &format!("/api/v1/{}/user", a.slug), &token_a)
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = app
        .req(Method::GET, &format!("/api/v1/{}/api-keys", a.slug))
        .header("X-Api-Key", key_a["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    println!(
        "cross-flock matrix: {} protected operations x 3 credentials + {id_cases} id operations + 1 refresh, \
         {attempted} attempted / {} violations",
        (attempted - id_cases - 2) / 3,
        violations.len()
    );
    assert!(attempted >= 20, "the matrix covers the spec: {attempted}");
    // Every operation with an id in its path is in part 2 (sessions, API keys, the
    // directory's users, meta, groups, profile cards, addresses, files, identities).
    assert!(id_cases >= 40, "{id_cases}");
    for path in ops.iter().map(|o| &o.1) {
        assert!(
            !fill(path).contains('{'),
            "the matrix fills every id of {path}"
        );
    }
    assert!(violations.is_empty(), "{violations:#?}");
}
