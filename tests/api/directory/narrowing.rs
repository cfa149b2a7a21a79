//! A search is answered two ways (`db/directory/search.rs`): along the sort's index, or,
//! when a filter matches at most `database.search_probe_cap` users, by sorting those few.
//! The same directory is searched with the cap at 0 (always the index walk) and at its
//! default (here, always the few): every page of every query must be the same.
use crate::helpers::{TestApp, TestFlock};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// 30 users: every 7th a manager, the 6th of every 10 a business (the first one, u05,
/// owning persons 11–20 but the business u15), every 3rd in group "beta", every 4th `tier=gold` (the others `silver`), every
/// 5th inactive.
async fn directory(app: &TestApp) -> TestFlock {
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let (_, g) = app
        .bo(
            Method::POST,
            "/api/v1/acme/directory/groups",
            key,
            Some(json!({"name": "beta"})),
        )
        .await;
    let group = g["id"].as_str().unwrap().to_owned();
    let names = [
        "Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ida", "Jo",
    ];
    let mut business = None::<String>;
    for i in 0..30usize {
        let mut body = json!({
            "email": format!("u{i:02}@example.com"),
            "first_name": names[i % 10],
            "last_name": format!("L{}", 29 - i),
            "send_email": false,
            "role": if i % 7 == 0 { "manager" } else { "client" },
            "status": if i % 5 == 4 { "inactive" } else { "active" },
        });
        if i % 10 == 5 {
            body["kind"] = json!("business");
            body["company"] = json!(format!("Co {i}"));
        }
        if (11..=20).contains(&i) && i != 15 {
            body["business_id"] = json!(business.clone().unwrap());
        }
        let u = app.bo_create_user(&f, body).await;
        let id = u["id"].as_str().unwrap().to_owned();
        if i == 5 {
            business = Some(id.clone());
        }
        if i % 3 == 0 {
            let p = format!("/api/v1/acme/directory/groups/{group}/members/{id}");
            app.bo(Method::PUT, &p, key, None).await;
        }
        let tier = if i % 4 == 0 { "gold" } else { "silver" };
        let p = format!("/api/v1/acme/directory/users/{id}/meta");
        let (s, b) = app
            .bo(
                Method::PUT,
                &p,
                key,
                Some(json!({"meta": [{"key": "tier", "value": tier}]})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    f
}

/// The queries, with `{group}` and `{business}` filled per app.
const QUERIES: &[&str] = &[
    "group_id={group}",
    "group_id={group}&sort=name",
    "group_id={group}&sort=created_desc&status=active",
    "meta_key=tier&meta_value=gold",
    "meta_key=tier&meta_value=gold&sort=name",
    "meta_key=tier&sort=created_desc",
    "business_id={business}",
    "business_id={business}&sort=name",
    "role=manager",
    "role=manager&sort=name&status=active&status=inactive",
    "kind=business&sort=created_desc",
    "status=inactive&sort=name",
    "status=active&status=inactive&sort=created_desc",
    "name_prefix=a",
    "name_prefix=co&sort=created_desc",
    "email_prefix=u1",
    "email_prefix=u2&sort=name",
    "created_from=2000-01-01T00:00:00Z&sort=name",
    "group_id={group}&meta_key=tier&meta_value=gold",
    "group_id={group}&role=client&name_prefix=a&sort=name",
    "meta_key=tier&meta_value=none",
];

/// Every page of a query (pages of 4), as emails; and its count.
async fn run(app: &TestApp, f: &TestFlock, q: &str) -> (Vec<String>, u64) {
    let (mut emails, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut path = format!("/api/v1/acme/directory/users?limit=4&{q}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, b) = app.bo(Method::GET, &path, &f.admin_key, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        for u in b["users"].as_array().unwrap() {
            emails.push(u["email"].as_str().unwrap_or_default().to_owned());
        }
        match b["next"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    let path = format!("/api/v1/acme/directory/users/count?{q}")
        .replace("&sort=name", "")
        .replace("&sort=created_desc", "")
        .replace("sort=name&", "");
    let (s, b) = app.bo(Method::GET, &path, &f.admin_key, None).await;
    assert_eq!(s, StatusCode::OK, "{path}: {b}");
    (emails, b["count"].as_u64().unwrap())
}

async fn ids_of(app: &TestApp, f: &TestFlock) -> (String, String) {
    let key = &f.admin_key;
    let (_, g) = app
        .bo(Method::GET, "/api/v1/acme/directory/groups", key, None)
        .await;
    let group = g["groups"][0]["id"].as_str().unwrap().to_owned();
    let (_, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users/lookup?email=u05@example.com",
            key,
            None,
        )
        .await;
    (group, b["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn both_ways_of_answering_a_search_give_the_same_pages() {
    let few = TestApp::spawn().await;
    let walk = TestApp::builder()
        .config(|c| c.database.search_probe_cap = 0)
        .spawn()
        .await;
    let (fa, fb) = (directory(&few).await, directory(&walk).await);
    let (ga, ba) = ids_of(&few, &fa).await;
    let (gb, bb) = ids_of(&walk, &fb).await;
    let mut rows = 0;
    for q in QUERIES {
        let qa = q.replace("{group}", &ga).replace("{business}", &ba);
        let qb = q.replace("{group}", &gb).replace("{business}", &bb);
        let (a, b) = (run(&few, &fa, &qa).await, run(&walk, &fb, &qb).await);
        assert_eq!(a, b, "{q}");
        assert_eq!(a.0.len() as u64, a.1, "{q}: pages and count disagree");
        rows += a.0.len();
    }
    // The directory is what the queries assume (so the comparison is not of empties).
    let count = |q: &str| {
        let q = q.replace("{group}", &ga).replace("{business}", &ba);
        let (app, f) = (&few, &fa);
        async move { run(app, f, &q).await.1 }
    };
    assert_eq!(count("group_id={group}").await, 10);
    assert_eq!(count("meta_key=tier&meta_value=gold").await, 8);
    assert_eq!(count("business_id={business}").await, 9);
    assert_eq!(count("role=manager&status=active&status=inactive").await, 5);
    let (names, _) = run(&few, &fa, "name_prefix=a&sort=name").await;
    // "ann l19" < "ann l29" < "ann l9": bytes, not numbers.
    assert_eq!(
        names,
        ["u10@example.com", "u00@example.com", "u20@example.com"]
    );
    println!(
        "search paths: {} queries, {rows} rows, the same pages and counts both ways",
        QUERIES.len()
    );
}
