//! Addresses by type and change requests: the user's own, the back office's, the queue.
use crate::helpers::{assert_error, TestApp, TestFlock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn flock_with_user(app: &TestApp) -> (TestFlock, String, String) {
    let f = app.create_flock("acme").await;
    let token = app.user_token("acme", "ann@example.com").await;
    let (_, me) = app.me("acme", &token).await;
    let id = me["id"].as_str().unwrap().to_owned();
    (f, token, id)
}

async fn set_types(app: &TestApp, types: Value) -> (StatusCode, Value) {
    let r = app
        .platform(Method::PATCH, "/platform/v1/flocks/acme")
        .json(&json!({"settings": {"address_types": types}}))
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

fn mine(path: &str) -> String {
    format!("/api/v1/acme/user/{path}")
}

#[tokio::test]
async fn a_user_keeps_addresses_by_type_checked_field_by_field() {
    let app = TestApp::spawn().await;
    let (_f, token, user) = flock_with_user(&app).await;

    let (s, a) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(
                json!({"type": "billing", "first_name": "Ann", "street": "Rue de Rivoli",
                        "number": "1", "city": "Paris", "zip": "75001", "country": "FR",
                        "phone": "+33123456789", "vat_id": "FR123"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["type"], "billing");
    assert_eq!(a["user_id"], user.as_str());
    assert_eq!(a["country"], "FR");
    let id = a["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(json!({"type": "shipping", "city": "Lyon", "country": "fr"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // Lists: all, and by type.
    let (s, l) = app
        .as_user(Method::GET, &mine("addresses"), &token, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["addresses"].as_array().unwrap().len(), 2);
    assert_eq!(
        l["addresses"][1]["country"], "FR",
        "country codes are upper-cased"
    );
    let (_, l) = app
        .as_user(Method::GET, &mine("addresses?type=billing"), &token, None)
        .await;
    assert_eq!(l["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(l["addresses"][0]["id"], id.as_str());

    // Bad input is named and changes nothing.
    for (body, code, field) in [
        (json!({"type": "home"}), "unknown_address_type", "type"),
        (
            json!({"type": "billing", "country": "XX"}),
            "invalid_country",
            "country",
        ),
        (
            json!({"type": "billing", "phone": "12"}),
            "invalid_phone",
            "phone",
        ),
        (
            json!({"type": "billing", "city": "a\u{7}b"}),
            "invalid_request",
            "city",
        ),
        (
            json!({"type": "billing", "nope": 1}),
            "invalid_request",
            "nope",
        ),
    ] {
        let (s, b) = app
            .as_user(Method::POST, &mine("addresses"), &token, Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], field, "{body} {b}");
    }
    let (_, l) = app
        .as_user(Method::GET, &mine("addresses"), &token, None)
        .await;
    assert_eq!(l["addresses"].as_array().unwrap().len(), 2);

    // A change: absent keeps, null (or blank) clears; bad values refused.
    let (s, a) = app
        .as_user(
            Method::PATCH,
            &mine(&format!("addresses/{id}")),
            &token,
            Some(json!({"city": "Nice", "vat_id": null, "first_name": "  "})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["result"], "applied", "{a}");
    let a = &a["address"];
    assert_eq!(a["city"], "Nice");
    assert_eq!(a["street"], "Rue de Rivoli");
    assert!(a["vat_id"].is_null() && a["first_name"].is_null(), "{a}");
    let (s, b) = app
        .as_user(
            Method::PATCH,
            &mine(&format!("addresses/{id}")),
            &token,
            Some(json!({"country": "ZZ"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["field"], "country");

    // Delete; then it is gone, and an unknown id reads as not found.
    let (s, _) = app
        .as_user(
            Method::DELETE,
            &mine(&format!("addresses/{id}")),
            &token,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for m in [Method::DELETE, Method::PATCH] {
        let body = (m == Method::PATCH).then(|| json!({"city": "X"}));
        let (s, b) = app
            .as_user(m, &mine(&format!("addresses/{id}")), &token, body)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_error(&b, "address_not_found");
    }
}

#[tokio::test]
async fn a_user_holds_at_most_twenty_addresses() {
    let app = TestApp::spawn().await;
    let (_f, token, _) = flock_with_user(&app).await;
    let mut created = 0;
    let mut refused = None;
    for i in 0..21 {
        let (s, b) = app
            .as_user(
                Method::POST,
                &mine("addresses"),
                &token,
                Some(json!({"type": "shipping", "city": format!("Town {i}")})),
            )
            .await;
        if s == StatusCode::CREATED {
            created += 1;
        } else {
            refused = Some((s, b));
            break;
        }
    }
    println!("addresses cap: {created} created, the next refused");
    assert_eq!(created, 20, "all 20 allowed");
    let (s, b) = refused.expect("the 21st is refused");
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "too_many_addresses");
}

#[tokio::test]
async fn changes_to_an_approved_type_wait_for_the_back_office() {
    let app = TestApp::spawn().await;
    let (f, token, user) = flock_with_user(&app).await;
    let (s, b) = set_types(
        &app,
        json!([{"name": "billing", "approval": true}, {"name": "shipping"}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["settings"]["address_types"][0]["approval"], true);

    let (_, a) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(json!({"type": "billing", "city": "Paris", "zip": "75001"})),
        )
        .await;
    let id = a["id"].as_str().unwrap().to_owned();

    // The user's change waits as a request; the address is unchanged.
    let (s, r) = app
        .as_user(
            Method::PATCH,
            &mine(&format!("addresses/{id}")),
            &token,
            Some(json!({"city": "Lyon", "zip": "69001"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["result"], "pending", "{r}");
    assert!(r.get("address").is_none(), "{r}");
    let r = &r["request"];
    assert_eq!(r["status"], "pending");
    assert_eq!(r["old"]["city"], "Paris");
    assert_eq!(r["new"]["city"], "Lyon");
    let first = r["id"].as_str().unwrap().to_owned();
    let (_, l) = app
        .as_user(Method::GET, &mine("addresses"), &token, None)
        .await;
    assert_eq!(l["addresses"][0]["city"], "Paris");
    let (_, mine_reqs) = app
        .as_user(Method::GET, &mine("address-requests"), &token, None)
        .await;
    assert_eq!(mine_reqs["requests"][0]["id"], first.as_str());

    // The back office sees it in the queue, and meanwhile sets the phone itself.
    let (s, q) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/address-requests",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["requests"].as_array().unwrap().len(), 1);
    assert_eq!(q["requests"][0]["user_id"], user.as_str());
    let (s, a) = app
        .bo(
            Method::PATCH,
            &format!("/api/v1/acme/directory/users/{user}/addresses/{id}"),
            &f.admin_key,
            Some(json!({"phone": "+33123456789"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "the back office changes at once: {a}");

    // Accept: the address takes the requested fields and keeps the phone.
    let accept = format!("/api/v1/acme/directory/address-requests/{first}/accept");
    let (s, r) = app.bo(Method::POST, &accept, &f.admin_key, None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "accepted");
    assert!(r["decided_at"].is_string());
    let (_, l) = app
        .as_user(Method::GET, &mine("addresses"), &token, None)
        .await;
    assert_eq!(l["addresses"][0]["city"], "Lyon");
    assert_eq!(l["addresses"][0]["zip"], "69001");
    assert_eq!(l["addresses"][0]["phone"], "+33123456789");
    let (s, b) = app.bo(Method::POST, &accept, &f.admin_key, None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "request_already_decided");

    // Reject: the address stays.
    let (s, r) = app
        .as_user(
            Method::PATCH,
            &mine(&format!("addresses/{id}")),
            &token,
            Some(json!({"city": "Marseille"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let second = r["request"]["id"].as_str().unwrap().to_owned();
    let (s, r) = app
        .bo(
            Method::POST,
            &format!("/api/v1/acme/directory/address-requests/{second}/reject"),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["status"], "rejected");
    let (_, l) = app
        .as_user(Method::GET, &mine("addresses"), &token, None)
        .await;
    assert_eq!(l["addresses"][0]["city"], "Lyon");

    // The queue by status; an unknown request.
    let (_, q) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/address-requests?status=accepted",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(q["requests"].as_array().unwrap().len(), 1);
    assert_eq!(q["requests"][0]["id"], first.as_str());
    let (_, q) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/address-requests",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(q["requests"].as_array().unwrap().len(), 0);
    let (s, b) = app
        .bo(
            Method::POST,
            &format!(
                "/api/v1/acme/directory/address-requests/{}/accept",
                uuid::Uuid::now_v7()
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "request_not_found");

    // Shipping needs no approval: the user's change lands at once.
    let (_, a) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(json!({"type": "shipping", "city": "Paris"})),
        )
        .await;
    let (s, a) = app
        .as_user(
            Method::PATCH,
            &mine(&format!("addresses/{}", a["id"].as_str().unwrap())),
            &token,
            Some(json!({"city": "Brest"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["address"]["city"], "Brest");
}

#[tokio::test]
async fn the_back_office_files_requests_against_an_existing_address_only() {
    let app = TestApp::spawn().await;
    let (f, token, user) = flock_with_user(&app).await;
    let path = format!("/api/v1/acme/directory/users/{user}/address-requests");

    // No billing address yet: there is nothing to change.
    for body in [
        json!({"type": "billing", "city": "Lyon"}),
        json!({"address_id": uuid::Uuid::now_v7(), "city": "Lyon"}),
    ] {
        let (s, b) = app.bo(Method::POST, &path, &f.admin_key, Some(body)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        assert_error(&b, "parent_address_not_found");
    }
    let (s, b) = app
        .bo(
            Method::POST,
            &format!("/api/v1/acme/directory/users/{user}/addresses"),
            &f.admin_key,
            Some(json!({"type": "billing", "city": "Paris"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();

    // Exactly one of address_id and type.
    for body in [
        json!({"city": "Lyon"}),
        json!({"type": "billing", "address_id": id, "city": "Lyon"}),
    ] {
        let (s, b) = app.bo(Method::POST, &path, &f.admin_key, Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_error(&b, "one_target");
    }
    let (s, b) = app
        .bo(
            Method::POST,
            &path,
            &f.admin_key,
            Some(json!({"type": "billing", "country": "QQ"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["field"], "country");

    // By type; a second request supersedes the first (rejected).
    let (s, r1) = app
        .bo(
            Method::POST,
            &path,
            &f.admin_key,
            Some(json!({"type": "billing", "city": "Lyon"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r1}");
    assert_eq!(r1["address_id"], id.as_str());
    let (s, r2) = app
        .bo(
            Method::POST,
            &path,
            &f.admin_key,
            Some(json!({"address_id": id, "city": "Nantes"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = app.bo(Method::GET, &path, &f.admin_key, None).await;
    let list = list["requests"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], r2["id"], "newest first");
    assert_eq!(list[0]["status"], "pending");
    assert_eq!(list[1]["status"], "rejected");
    // The user sees the same requests.
    let (_, theirs) = app
        .as_user(Method::GET, &mine("address-requests"), &token, None)
        .await;
    assert_eq!(theirs["requests"].as_array().unwrap().len(), 2);

    // Deleting the address rejects its pending request.
    let (s, _) = app
        .bo(
            Method::DELETE,
            &format!("/api/v1/acme/directory/users/{user}/addresses/{id}"),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = app
        .bo(
            Method::POST,
            &format!(
                "/api/v1/acme/directory/address-requests/{}/accept",
                r2["id"].as_str().unwrap()
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "request_already_decided");

    // An unknown user.
    let (s, b) = app
        .bo(
            Method::GET,
            &format!(
                "/api/v1/acme/directory/users/{}/addresses",
                uuid::Uuid::now_v7()
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "user_not_found");
}

#[tokio::test]
async fn the_queue_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let email = format!("u{i}@example.com");
        let token = app.user_token("acme", &email).await;
        let (_, me) = app.me("acme", &token).await;
        let user = me["id"].as_str().unwrap();
        let (s, _) = app
            .as_user(
                Method::POST,
                &mine("addresses"),
                &token,
                Some(json!({"type": "billing", "city": "Paris"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, r) = app
            .bo(
                Method::POST,
                &format!("/api/v1/acme/directory/users/{user}/address-requests"),
                &f.admin_key,
                Some(json!({"type": "billing", "city": format!("City {i}")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/acme/directory/address-requests?limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, p) = app.bo(Method::GET, &path, &f.admin_key, None).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        pages += 1;
        for r in p["requests"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match p["next"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "oldest first, each once");
    let (s, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/address-requests?cursor=garbage",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["field"], "cursor");
    let (s, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/address-requests?limit=0",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["field"], "limit");
}

#[tokio::test]
async fn address_types_are_the_flocks_own() {
    let app = TestApp::spawn().await;
    let (_f, token, _) = flock_with_user(&app).await;
    for types in [
        json!([]),
        json!([{"name": "home"}, {"name": "home"}]),
        json!([{"name": "Home"}]),
        json!([{"name": ""}]),
    ] {
        let (s, b) = set_types(&app, types.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{types} {b}");
        assert_eq!(b["field"], "settings.address_types", "{types} {b}");
    }
    let (s, _) = set_types(&app, json!([{"name": "home"}, {"name": "office_2"}])).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(json!({"type": "office_2", "city": "Paris"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(json!({"type": "billing", "city": "Paris"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "unknown_address_type");
}

#[tokio::test]
async fn addresses_are_exported_and_erased_with_the_account() {
    let app = TestApp::spawn().await;
    let (f, token, user) = flock_with_user(&app).await;
    let (_, a) = app
        .as_user(
            Method::POST,
            &mine("addresses"),
            &token,
            Some(json!({"type": "billing", "street": "Rue X", "city": "Paris"})),
        )
        .await;
    let (s, _) = app
        .bo(
            Method::POST,
            &format!("/api/v1/acme/directory/users/{user}/address-requests"),
            &f.admin_key,
            Some(json!({"address_id": a["id"], "city": "Lyon"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, export) = app
        .as_user(Method::GET, &mine("export"), &token, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{export}");
    assert_eq!(
        export["addresses"][0]["fields"]["street"], "Rue X",
        "{export}"
    );
    assert_eq!(export["address_requests"].as_array().unwrap().len(), 1);

    let (s, b) = app
        .bo(
            Method::POST,
            &format!("/api/v1/acme/directory/users/{user}/status"),
            &f.admin_key,
            Some(json!({"status": "deleted"})),
        )
        .await;
    assert!(s.is_success(), "{s} {b}");
    let sql = app.sql().await;
    let rows = sql.scalar("SELECT COUNT(*) FROM addresses").await
        + sql.scalar("SELECT COUNT(*) FROM address_requests").await;
    assert_eq!(rows, 0, "no address or request outlives the erasure");
}
