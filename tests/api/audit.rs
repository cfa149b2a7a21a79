//! The audit log: every listed action leaves an event saying whom it is about, who acted
//! and from where; a refused change leaves no event; the log is read by user, actor, type
//! and time in keyset pages and exported as NDJSON; it is the flock's own; managers read
//! it only with a grant; bad queries are clear 400s.
use crate::helpers::{assert_error, TestApp, TestFlock, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const UA: &str = "audit-test/1.0";

async fn page(app: &TestApp, f: &TestFlock, query: &str) -> (StatusCode, Value) {
    app.bo(
        Method::GET,
        &format!("/api/v1/{}/audit/events?{query}", f.slug),
        &f.admin_key,
        None,
    )
    .await
}

/// Every event the query selects, page by page (`limit` per page).
async fn all(app: &TestApp, f: &TestFlock, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{query}&limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let (s, b) = page(app, f, &q).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        out.extend(b["items"].as_array().unwrap().iter().cloned());
        match b["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn types(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

#[tokio::test]
async fn every_listed_action_leaves_an_event_with_its_actor_and_origin() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("aud-1").await;
    let (s, reg) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED, "{reg}");
    let ann = reg["user_id"].as_str().unwrap().to_owned();
    // A wrong password, then the right one, from a known user agent.
    let r = app
        .req(Method::POST, "/api/v1/aud-1/user/auth")
        .header("User-Agent", UA)
        .json(&json!({"email": "ann@example.com", "password": "wrong-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .req(Method::POST, "/api/v1/aud-1/user/auth")
        .header("User-Agent", UA)
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    let token = b["access_token"].as_str().unwrap().to_owned();
    let (_, me) = app.me(&f.slug, &token).await;
    assert_eq!(me["id"], ann.as_str());
    // A profile change and a password change by the user.
    let r = app
        .req(Method::PATCH, "/api/v1/aud-1/user")
        .bearer_auth(&token)
        .json(&json!({"first_name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .req(Method::PUT, "/api/v1/aud-1/user/password")
        .bearer_auth(&token)
        .json(&json!({"current_password": PASSWORD, "new_password": "a-new-password-42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    // Sign-out.
    let r = app
        .req(Method::DELETE, "/api/v1/aud-1/user/auth")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // The back office deactivates her (API key), a manager reactivates her.
    let status_path = format!("/api/v1/aud-1/directory/users/{ann}/status");
    let (s, b) = app
        .bo(
            Method::POST,
            &status_path,
            &f.admin_key,
            Some(json!({"status": "inactive"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (mtoken, manager) = app.manager(&f, "boss@example.com", true).await;
    app.join(&f, "superadmin", &manager).await;
    let r = app
        .req(Method::POST, &status_path)
        .bearer_auth(&mtoken)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    // A one-time code tried wrong until it dies.
    let (s, _) = app.request_otp(&f.slug, "ann@example.com", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    for _ in 0..5 {
        app.verify_otp(&f.slug, "ann@example.com", "sign_in", "000000", json!({}))
            .await;
    }

    let events = all(&app, &f, "", 3).await;
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "keyset pages repeat nothing");
    let seen = types(&events);
    println!(
        "audit: {} events of {} types: {seen:?}",
        events.len(),
        seen.len()
    );
    for t in [
        "user.created",
        "user.registered",
        "user.sign_in_failed",
        "user.signed_in",
        "user.updated",
        "user.password_changed",
        "session.revoked",
        "user.status_changed",
        "admin.request",
        "otp.locked",
    ] {
        assert!(seen.contains(t), "{t} recorded: {seen:?}");
    }
    // Newest first.
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let failed = of_type(&events, "user.sign_in_failed");
    let bad = failed
        .iter()
        .find(|e| e["detail"] == "invalid_credentials")
        .expect("the wrong password");
    assert_eq!(bad["user_id"], ann.as_str());
    assert_eq!(bad["data"]["method"], "password");
    assert_eq!(bad["user_agent"], UA);
    assert_eq!(bad["ip"], "127.0.0.1");
    let ok = of_type(&events, "user.signed_in");
    let pw = ok
        .iter()
        .find(|e| e["user_id"] == ann.as_str())
        .expect("ann's sign-in");
    assert_eq!(pw["detail"], "password");
    assert_eq!(pw["actor"], format!("user:{ann}"));
    assert_eq!(pw["user_agent"], UA);
    let upd = of_type(&events, "user.updated");
    assert!(
        upd.iter()
            .any(|e| e["data"]["fields"] == json!(["first_name"])
                && e["actor"] == format!("user:{ann}")),
        "the profile change names its field: {upd:?}"
    );
    let pwc = of_type(&events, "user.password_changed");
    assert_eq!(pwc[0]["detail"], "change");
    let revoked = of_type(&events, "session.revoked");
    assert!(revoked.iter().any(|e| e["actor"] == format!("user:{ann}")));
    assert_eq!(bad["actor"], "anonymous", "a refused caller proved nothing");
    let statuses = of_type(&events, "user.status_changed");
    let actors: BTreeSet<String> = statuses
        .iter()
        .map(|e| {
            e["actor"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        actors.contains("api_key") && actors.contains("manager"),
        "{actors:?}"
    );
    let by_manager = statuses
        .iter()
        .find(|e| e["actor"] == format!("manager:{manager}"))
        .expect("the manager's change");
    assert_eq!(by_manager["data"]["to"], "active");
    let reqs = of_type(&events, "admin.request");
    assert!(reqs.iter().any(|e| e["detail"] == "users_set_status"
        && e["data"]["status"] == 200
        && e["actor"] == format!("manager:{manager}")
        && e["ip"] == "127.0.0.1"
        && e["user_id"] == ann.as_str()));
    let locked = of_type(&events, "otp.locked");
    assert_eq!(locked.len(), 1, "one code died: one event");
    assert_eq!(locked[0]["user_id"], ann.as_str());

    // Filters: by user, by actor, by type, by time.
    let mine = all(&app, &f, &format!("user_id={ann}"), 50).await;
    assert!(mine.iter().all(|e| e["user_id"] == ann.as_str()));
    assert!(mine.len() >= 10, "{}", mine.len());
    let by = all(&app, &f, &format!("actor=manager:{manager}"), 50).await;
    assert!(
        !by.is_empty()
            && by
                .iter()
                .all(|e| e["actor"] == format!("manager:{manager}"))
    );
    let failures = all(&app, &f, "type=user.sign_in_failed,otp.locked", 50).await;
    assert_eq!(
        types(&failures),
        BTreeSet::from(["user.sign_in_failed".to_owned(), "otp.locked".to_owned()])
    );
    let later = app.clock.now() + chrono::Duration::seconds(1);
    let none = all(
        &app,
        &f,
        &format!(
            "from={}",
            later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        50,
    )
    .await;
    assert!(none.is_empty(), "nothing after now");

    // The export is the same selection, one object per line.
    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/aud-1/audit/events/export?user_id={ann}"),
        )
        .header("X-Api-Key", &f.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, mine, "export = the pages, in the same order");
}

#[tokio::test]
async fn a_refused_change_leaves_no_event_and_the_log_is_the_flocks_own() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("aud-a").await;
    let b = app.create_flock("aud-b").await;
    let ann = app
        .bo_create_user(&a, json!({"email": "ann@example.com"}))
        .await;
    app.bo_create_user(&a, json!({"email": "bob@example.com"}))
        .await;
    let id = ann["id"].as_str().unwrap();
    let updated = |app: &TestApp| {
        let path = format!("/api/v1/aud-a/audit/events?type=user.updated&user_id={id}");
        let key = a.admin_key.clone();
        let app_req = app.req(Method::GET, &path).header("X-Api-Key", key);
        async move {
            let v: Value = app_req.send().await.unwrap().json().await.unwrap();
            v["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(updated(&app).await, 0);
    // Taking bob's email fails (409): neither the change nor its event.
    let path = format!("/api/v1/aud-a/directory/users/{id}");
    let (s, body) = app
        .bo(
            Method::PATCH,
            &path,
            &a.admin_key,
            Some(json!({"email": "bob@example.com", "first_name": "X"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(updated(&app).await, 0, "no event without its change");
    let (_, u) = app.bo(Method::GET, &path, &a.admin_key, None).await;
    assert_eq!(u["email"], "ann@example.com");
    // A change that succeeds: one event naming its fields, never their values.
    let (s, _) = app
        .bo(
            Method::PATCH,
            &path,
            &a.admin_key,
            Some(json!({"first_name": "Ann", "password": "a-secret-password-9"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(updated(&app).await, 1, "no change without its event");
    let (_, all_a) = page(&app, &a, "limit=1000").await;
    let text = all_a.to_string();
    assert!(!text.contains("a-secret-password-9"), "no secret in events");
    let pwc: Vec<&Value> = all_a["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "user.password_changed")
        .collect();
    assert_eq!(pwc.len(), 1);
    assert_eq!(pwc[0]["detail"], "back_office");
    // Flock B sees none of A's events, even asking for A's user.
    let (s, other) = page(&app, &b, &format!("user_id={id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(other["items"], json!([]));
    let (_, b_all) = page(&app, &b, "limit=1000").await;
    assert!(
        !b_all.to_string().contains(id),
        "B's log never names A's user"
    );
    // A's cursor is not B's.
    let (_, p1) = page(&app, &a, "limit=1").await;
    let cursor = p1["next"].as_str().unwrap();
    let (s, e) = page(&app, &b, &format!("limit=1&cursor={cursor}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&e, "invalid_cursor");
}

#[tokio::test]
async fn bad_queries_are_clear_400s_and_managers_need_a_grant() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("aud-q").await;
    for (q, code, field) in [
        ("type=user.nope", "unknown_event_type", "type"),
        ("actor=root", "invalid_actor", "actor"),
        ("actor=user:", "invalid_actor", "actor"),
        (
            "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "invalid_range",
            "from",
        ),
        ("limit=0", "invalid_limit", "limit"),
        ("limit=1001", "invalid_limit", "limit"),
        ("cursor=abc.def", "invalid_cursor", "cursor"),
    ] {
        let (s, b) = page(&app, &f, q).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], field, "{q}: {b}");
    }
    let (s, b) = page(&app, &f, "from=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    // A manager without a grant is refused, with one the log opens.
    let (token, me) = app.manager(&f, "m@example.com", true).await;
    let call = |path: &str| app.req(Method::GET, path).bearer_auth(&token).send();
    let r = call("/api/v1/aud-q/audit/events").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let b: Value = r.json().await.unwrap();
    assert_error(&b, "forbidden_operation");
    let g = app
        .admin_group(&f, "auditors", &[("list_audit_events", "read")])
        .await;
    app.join(&f, &g, &me).await;
    let r = call("/api/v1/aud-q/audit/events").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = call("/api/v1/aud-q/audit/events/export").await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the export is its own grant"
    );
    // A user's own token is no back-office credential.
    let (_, _) = app.register(&f.slug, "u@example.com", PASSWORD).await;
    let user = app.user_token(&f.slug, "u@example.com").await;
    let r = app
        .req(Method::GET, "/api/v1/aud-q/audit/events")
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
