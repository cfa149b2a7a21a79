//! Groups (`domain/groups`, `api/groups`): create, rename, delete; members added and
//! removed idempotently; a group's members a page at a time; a user's groups; the search
//! filter by group; another flock's users and groups unknown.
use crate::helpers::directory::user_path;
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn group(app: &TestApp, f: &crate::helpers::TestFlock, name: &str) -> Value {
    let path = format!("/api/v1/{}/directory/groups", f.slug);
    let (s, b) = app
        .bo(
            Method::POST,
            &path,
            &f.admin_key,
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

#[tokio::test]
async fn groups_hold_members_idempotently_and_list_them_by_pages() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let vip = group(&app, &f, "VIP").await;
    let news = group(&app, &f, "Newsletter").await;
    let gid = vip["id"].as_str().unwrap();
    let mut members = Vec::new();
    for i in 0..5 {
        let u = app
            .bo_create_user(
                &f,
                json!({"email": format!("u{i}@example.com"), "send_email": false}),
            )
            .await;
        let path = format!(
            "/api/v1/acme/directory/groups/{gid}/members/{}",
            u["id"].as_str().unwrap()
        );
        for _ in 0..2 {
            let (s, b) = app.bo(Method::PUT, &path, key, None).await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        }
        members.push(u["id"].clone());
    }
    let first = &members[0].clone();
    let add_news = format!(
        "/api/v1/acme/directory/groups/{}/members/{}",
        news["id"].as_str().unwrap(),
        first.as_str().unwrap()
    );
    app.bo(Method::PUT, &add_news, key, None).await;
    // Members, pages of 2: 5, each once.
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let path = format!("/api/v1/acme/directory/groups/{gid}/members?limit=2{cursor}");
        let (s, b) = app.bo(Method::GET, &path, key, None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        seen.extend(
            b["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].clone()),
        );
        match b["next"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    seen.sort_by_key(|v| v.as_str().unwrap().to_owned());
    members.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(seen, members);
    // A user's groups, by name; the search filter.
    let (_, b) = app
        .bo(Method::GET, &user_path("acme", first, "/groups"), key, None)
        .await;
    let names: Vec<_> = b["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Newsletter"), json!("VIP")]);
    let (_, b) = app
        .bo(
            Method::GET,
            &format!(
                "/api/v1/acme/directory/users?group_id={}",
                news["id"].as_str().unwrap()
            ),
            key,
            None,
        )
        .await;
    assert_eq!(b["users"].as_array().unwrap().len(), 1);
    // Remove (twice: idempotent), rename, delete.
    let path = format!(
        "/api/v1/acme/directory/groups/{gid}/members/{}",
        first.as_str().unwrap()
    );
    for _ in 0..2 {
        assert_eq!(
            app.bo(Method::DELETE, &path, key, None).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let gpath = format!("/api/v1/acme/directory/groups/{gid}");
    let (s, b) = app
        .bo(Method::PATCH, &gpath, key, Some(json!({"name": "Gold"})))
        .await;
    assert_eq!((s, b["name"].as_str()), (StatusCode::OK, Some("Gold")));
    assert_eq!(
        app.bo(Method::DELETE, &gpath, key, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.bo(Method::DELETE, &gpath, key, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, b) = app
        .bo(Method::GET, "/api/v1/acme/directory/groups", key, None)
        .await;
    assert_eq!(b["groups"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn names_are_unique_and_other_flocks_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let other = app.create_flock("other").await;
    let key = &f.admin_key;
    let g = group(&app, &f, "VIP").await;
    group(&app, &other, "VIP").await; // the same name in another flock is fine
    let path = "/api/v1/acme/directory/groups";
    let (s, b) = app
        .bo(Method::POST, path, key, Some(json!({"name": "VIP"})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "group_name_taken");
    for body in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({}),
    ] {
        let (s, _) = app.bo(Method::POST, path, key, Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    }
    // Another flock's user cannot join this flock's group.
    let o = app
        .bo_create_user(
            &other,
            json!({"email": "o@example.com", "send_email": false}),
        )
        .await;
    let path = format!(
        "/api/v1/acme/directory/groups/{}/members/{}",
        g["id"].as_str().unwrap(),
        o["id"].as_str().unwrap()
    );
    let (s, b) = app.bo(Method::PUT, &path, key, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "user_not_found");
    let rows = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM group_members")
        .await;
    assert_eq!(rows, 0);
}
