//! Searching the directory: filters, both sorts, keyset pages that return every row once,
//! cursors that refuse tampering and reuse elsewhere, list by ids, the capped count.
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

/// Every page of `path` (a search), following `next`; the users in order.
async fn all_pages(app: &TestApp, path: &str, key: &str) -> (Vec<Value>, usize) {
    let (mut users, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let p = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let (s, b) = app.bo(Method::GET, &p, key, None).await;
        assert_eq!(s, StatusCode::OK, "{p}: {b}");
        pages += 1;
        users.extend(b["users"].as_array().unwrap().iter().cloned());
        assert_eq!(b["has_more"].as_bool(), Some(b["next"].is_string()));
        match b["next"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => return (users, pages),
        }
    }
}

async fn seed(app: &TestApp, f: &crate::helpers::TestFlock) -> Vec<Value> {
    let mut made = Vec::new();
    for (i, (first, last)) in [
        ("Anna", "Berg"),
        ("anton", "Cole"),
        ("Bea", "Diaz"),
        ("Ben", "Ek"),
        ("Cleo", "Fox"),
        ("Ann", "Gray"),
        ("Dan", "Hill"),
        ("Anika", "Ito"),
        ("Eve", "Jung"),
        ("Anne", "Kim"),
    ]
    .iter()
    .enumerate()
    {
        let u = app
            .bo_create_user(
                f,
                json!({"email": format!("{}{i}@example.com", first.to_lowercase()),
                "first_name": first, "last_name": last, "send_email": false,
                "status": if i % 3 == 0 { "inactive" } else { "active" }}),
            )
            .await;
        made.push(u);
    }
    made
}

#[tokio::test]
async fn keyset_pages_return_every_match_once_in_order() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let other = app.create_flock("other").await;
    let made = seed(&app, &f).await;
    seed(&app, &other).await; // the same names in another flock never show up
    let key = &f.admin_key;
    // By creation, pages of 3: all 10, each once, in creation order.
    let (users, pages) = all_pages(&app, "/api/v1/acme/directory/users?limit=3", key).await;
    let ids: Vec<_> = users.iter().map(|u| u["id"].clone()).collect();
    let want: Vec<_> = made.iter().map(|u| u["id"].clone()).collect();
    assert_eq!((ids, pages), (want.clone(), 4));
    // Newest first.
    let (users, _) = all_pages(
        &app,
        "/api/v1/acme/directory/users?limit=4&sort=created_desc",
        key,
    )
    .await;
    let ids: Vec<_> = users.iter().map(|u| u["id"].clone()).collect();
    assert_eq!(ids, want.into_iter().rev().collect::<Vec<_>>());
    // Name prefix, by name, case-insensitive, pages of 2.
    let (users, _) = all_pages(
        &app,
        "/api/v1/acme/directory/users?name_prefix=AN&sort=name&limit=2",
        key,
    )
    .await;
    let names: Vec<_> = users
        .iter()
        .map(|u| u["first_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Anika", "Ann", "Anna", "Anne", "anton"]);
    // Status and email prefix.
    let (users, _) = all_pages(&app, "/api/v1/acme/directory/users?status=inactive", key).await;
    assert_eq!(users.len(), 4);
    assert!(users.iter().all(|u| u["status"] == "inactive"));
    let (users, _) = all_pages(&app, "/api/v1/acme/directory/users?email_prefix=BE", key).await;
    let emails: HashSet<_> = users
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        emails,
        HashSet::from(["bea2@example.com".to_owned(), "ben3@example.com".to_owned()])
    );
    println!("directory search: 10 users, pages of 3 → 4 pages, every row once; 5 filters checked");
}

#[tokio::test]
async fn cursors_refuse_tampering_other_filters_and_other_flocks() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g = app.create_flock("bravo").await;
    seed(&app, &f).await;
    seed(&app, &g).await;
    let (_, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users?limit=2",
            &f.admin_key,
            None,
        )
        .await;
    let next = b["next"].as_str().unwrap().to_owned();
    let mut tampered = next.clone().into_bytes();
    let i = tampered.len() / 3;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let mut attempted = 0;
    for (path, key) in [
        (
            format!("/api/v1/acme/directory/users?limit=2&cursor={tampered}"),
            &f.admin_key,
        ),
        (
            "/api/v1/acme/directory/users?limit=2&cursor=garbage".to_owned(),
            &f.admin_key,
        ),
        (
            format!("/api/v1/acme/directory/users?limit=2&status=inactive&cursor={next}"),
            &f.admin_key,
        ),
        (
            format!("/api/v1/acme/directory/users?limit=2&sort=name&cursor={next}"),
            &f.admin_key,
        ),
        (
            format!("/api/v1/bravo/directory/users?limit=2&cursor={next}"),
            &g.admin_key,
        ),
    ] {
        let (s, b) = app.bo(Method::GET, &path, key, None).await;
        attempted += 1;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {b}");
        assert_error(&b, "invalid_cursor");
        assert_eq!(b["field"], "cursor");
    }
    for (q, code, field) in [
        ("limit=0", "invalid_limit", "limit"),
        ("limit=1001", "invalid_limit", "limit"),
        ("email=nope", "invalid_email", "email"),
        ("meta_value=x", "meta_key_required", "meta_key"),
        ("meta_key=Bad%20Key", "invalid_meta_key", "meta_key"),
        ("status=bogus", "invalid_parameter", "status"),
        (
            "created_from=yesterday",
            "invalid_parameter",
            "created_from",
        ),
    ] {
        let path = format!("/api/v1/acme/directory/users?{q}");
        let (s, b) = app.bo(Method::GET, &path, &f.admin_key, None).await;
        attempted += 1;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], field, "{q}: {b}");
    }
    println!(
        "tampered or misplaced cursors and bad filters: {attempted} attempted / 0 rows served"
    );
}

#[tokio::test]
async fn list_by_ids_leaves_out_anonymised_and_optionally_deactivated_users() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let other = app.create_flock("other").await;
    let made = seed(&app, &f).await;
    let foreign = seed(&app, &other).await;
    let key = &f.admin_key;
    let deleted = &made[1]["id"];
    let path = format!(
        "/api/v1/acme/directory/users/{}/status",
        deleted.as_str().unwrap()
    );
    app.bo(Method::POST, &path, key, Some(json!({"status": "deleted"})))
        .await;
    let mut ids: Vec<_> = made.iter().map(|u| u["id"].clone()).collect();
    ids.push(foreign[0]["id"].clone()); // another flock's id: unknown here
    ids.push(json!(uuid::Uuid::new_v4()));
    let path = "/api/v1/acme/directory/users/by-ids";
    let (s, b) = app
        .bo(Method::POST, path, key, Some(json!({"ids": ids})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["users"].as_array().unwrap().len(),
        5,
        "active only: 10 - 4 inactive - 1 deleted"
    );
    let body = json!({"ids": ids, "include_deactivated": true, "limit": 4});
    let (s, b) = app.bo(Method::POST, path, key, Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["users"].as_array().unwrap().len(), 4);
    let mut second = body.clone();
    second["cursor"] = b["next"].clone();
    let (_, b2) = app.bo(Method::POST, path, key, Some(second.clone())).await;
    assert_eq!(b2["users"].as_array().unwrap().len(), 4);
    let mut third = second;
    third["cursor"] = b2["next"].clone();
    let (_, b3) = app.bo(Method::POST, path, key, Some(third)).await;
    assert_eq!(
        b3["users"].as_array().unwrap().len(),
        1,
        "9 in all: 4 + 4 + 1"
    );
    assert!(b3["next"].is_null());
}

#[tokio::test]
async fn the_count_is_capped_and_never_crosses_flocks() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let other = app.create_flock("other").await;
    seed(&app, &f).await;
    seed(&app, &other).await;
    let (s, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users/count",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (b["count"].as_u64(), b["capped"].as_bool()),
        (Some(10), Some(false))
    );
    let (_, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users/count?name_prefix=an",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(b["count"], 5);
}

/// Battery 21: hostile text in every filter of every finding operation is a bound value:
/// it matches nothing (no wildcard, no injected clause), or is refused with a structured
/// 400; never a 5xx, never a changed row.
#[tokio::test]
async fn hostile_filter_values_match_nothing_and_change_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    seed(&app, &f).await;
    let (app, key) = (&app, &f.admin_key);
    let count = |q: &'static str| async move {
        let (s, b) = app
            .bo(
                Method::GET,
                &format!("/api/v1/acme/directory/users/count?{q}"),
                key,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["count"].as_u64().unwrap()
    };
    let before = count("status=active&status=inactive").await;
    assert_eq!(before, 10);
    let hostile = [
        "' OR '1'='1",
        "a' OR 1=1 --",
        "%",
        "a%",
        "_",
        "%_%",
        "\\",
        "*",
        ".*",
        "\"; DROP TABLE users; --",
        "'); DELETE FROM users WHERE ('1'='1",
        "a\u{0}b",
        "\u{FF41}",
        "{\"$ne\": null}",
        "$1",
        "?",
    ];
    let text_filters = [
        "users?email_prefix=",
        "users?name_prefix=",
        "users?sort=name&name_prefix=",
        "users?username=",
        "users?external_id=",
        "users?meta_key=tier&meta_value=",
        "users/count?name_prefix=",
        "users/count?email_prefix=",
        "users/lookup?username=",
        "users/lookup?external_id=",
        "users/lookup?email=",
        "users/lookup?phone=",
        "meta?meta_key=tier&meta_value=",
        "users?meta_key=",
        "users?email=",
        "users?phone=",
        "users?sort=",
        "users?status=",
        "users?cursor=",
    ];
    let (mut attempted, mut served, mut refused) = (0, 0, 0);
    for filter in text_filters {
        for v in hostile {
            let enc: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            let path = format!("/api/v1/acme/directory/{filter}{enc}");
            let (s, b) = app.bo(Method::GET, &path, key, None).await;
            attempted += 1;
            assert!(s.as_u16() < 500, "{path}: {s} {b}");
            match s {
                StatusCode::OK => {
                    // Nothing in the directory starts with, or equals, any of these.
                    let rows = b["users"]
                        .as_array()
                        .or(b["meta"].as_array())
                        .map_or(0, Vec::len);
                    let n = b["count"].as_u64().unwrap_or(0) as usize + rows;
                    assert_eq!(n, 0, "{path} matched: {b}");
                    served += n;
                }
                StatusCode::NOT_FOUND if filter.contains("lookup") => {
                    assert_error(&b, "user_not_found");
                }
                StatusCode::BAD_REQUEST => {
                    refused += 1;
                    assert!(b["code"].is_string() && b["message"].is_string(), "{b}");
                    assert!(b["field"].is_string(), "{path}: no field in {b}");
                }
                other => panic!("{path}: {other} {b}"),
            }
        }
    }
    assert_eq!(count("status=active&status=inactive").await, before);
    // And the same filters still find what is there (the check above can fail).
    assert_eq!(count("name_prefix=an").await, 5);
    println!(
        "hostile filter values: {attempted} attempted / {served} rows matched / \
         {refused} refused with a field / 0 server errors / users unchanged ({before})"
    );
}
