//! Values outside the card: at registration (all or nothing, the required ones asked),
//! at one-time-code sign-up (checked before the code is spent), in the back office's
//! create and update; search by value; the export; erasure.
use crate::helpers::profile::{card_value, every_type};
use crate::helpers::{assert_error, tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn register(app: &TestApp, email: &str, fields: Value) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, "/api/v1/acme/user/register")
        .json(
            &json!({"email": email, "password": PASSWORD, "terms_accepted": true,
                      "fields": fields}),
        )
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn registration_takes_the_asked_fields_all_or_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.put_schema(&f, every_type()).await;
    let users = app.user_rows().await;
    for (fields, code, at) in [
        (
            json!({"nickname": "Ace"}),
            "field_required",
            "fields.newsletter",
        ),
        (
            json!({"newsletter": false}),
            "field_required",
            "fields.newsletter",
        ),
        (
            json!({"newsletter": true, "age": 30}),
            "field_not_editable",
            "fields.age",
        ),
        (
            json!({"newsletter": true, "nope": 1}),
            "unknown_field",
            "fields.nope",
        ),
        (
            json!({"newsletter": true, "nickname": "x".repeat(21)}),
            "invalid_length",
            "fields.nickname",
        ),
        (
            json!({"newsletter": true, "country": "de"}),
            "unknown_option",
            "fields.country",
        ),
        (
            json!({"newsletter": "yes"}),
            "invalid_type",
            "fields.newsletter",
        ),
    ] {
        let (s, b) = register(&app, "ann@example.com", fields.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{fields}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], at, "{b}");
    }
    assert_eq!(app.user_rows().await, users, "no account half made");
    let (s, b) = register(&app, "ann@example.com", json!({"newsletter": true})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn a_code_sign_up_checks_its_fields_before_spending_the_code() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.put_schema(&f, every_type()).await;
    let (s, _) = app.request_otp("acme", "+35799000001", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let code = app.last_code("+35799000001").unwrap();
    let (s, b) = app
        .verify_otp(
            "acme",
            "+35799000001",
            "sign_in",
            &code,
            json!({"fields": {"newsletter": true, "country": "de"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "fields.country");
    // The code still works, and the account is made with its fields.
    let (s, b) = app
        .verify_otp(
            "acme",
            "+35799000001",
            "sign_in",
            &code,
            json!({"fields": {"newsletter": true, "country": "fr", "nickname": "Zed"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        b["user"]["flock_data"],
        json!({"country": "fr", "nickname": "Zed"})
    );
}

#[tokio::test]
async fn the_back_office_sets_values_all_or_nothing_and_searches_by_them() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = f.admin_key.as_str();
    app.put_schema(&f, every_type()).await;
    // Create with values (the back office may set static and hidden fields).
    let u = app
        .bo_create_user(
            &f,
            json!({"email": "bo@example.com", "send_email": false,
                   "fields": {"member_id": "M-0007", "vip_note": "x", "age": 33,
                              "work_email": "Bo@Work.Example"}}),
        )
        .await;
    let id = u["id"].as_str().unwrap().to_owned();
    let card_path = format!("/api/v1/acme/directory/users/{id}/card");
    let (_, card) = app.bo(Method::GET, &card_path, key, None).await;
    assert_eq!(card_value(&card, "member_id"), json!("M-0007"));
    // A bad value refuses the whole create or update, naming it.
    let users = app.user_rows().await;
    let r = app
        .bo(
            Method::POST,
            "/api/v1/acme/directory/users",
            key,
            Some(json!({"email": "x@example.com", "fields": {"member_id": "7"}})),
        )
        .await;
    assert_eq!(
        (r.0, r.1["code"].as_str(), r.1["field"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("pattern_mismatch"),
            Some("fields.member_id")
        )
    );
    assert_eq!(app.user_rows().await, users);
    let (s, b) = app
        .bo(
            Method::PATCH,
            &format!("/api/v1/acme/directory/users/{id}"),
            key,
            Some(json!({"last_name": "Changed", "fields": {"age": 34, "birthday": "1800-01-01"}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "fields.birthday");
    let (_, user) = app
        .bo(
            Method::GET,
            &format!("/api/v1/acme/directory/users/{id}"),
            key,
            None,
        )
        .await;
    assert_eq!(user["last_name"], Value::Null, "nothing changed");
    let (_, card) = app.bo(Method::GET, &card_path, key, None).await;
    assert_eq!(card_value(&card, "age"), json!(33));
    let (s, _) = app
        .bo(
            Method::PATCH,
            &format!("/api/v1/acme/directory/users/{id}"),
            key,
            Some(json!({"fields": {"age": 34, "vip_note": null}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, card) = app.bo(Method::GET, &card_path, key, None).await;
    assert_eq!(
        (card_value(&card, "age"), card_value(&card, "vip_note")),
        (json!(34), Value::Null)
    );
    // Search by searchable fields, as each normalises; others refused.
    let other = app
        .bo_create_user(
            &f,
            json!({"email": "o@example.com", "send_email": false,
                                   "fields": {"age": 34.5}}),
        )
        .await;
    let search = |q: &'static str| {
        let app = &app;
        async move {
            let (s, b) = app
                .bo(
                    Method::GET,
                    &format!("/api/v1/acme/directory/users?{q}"),
                    key,
                    None,
                )
                .await;
            (s, b)
        }
    };
    let ids = |b: &Value| -> Vec<String> {
        b["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, b) = search("field=age&field_value=34.0").await;
    assert_eq!(ids(&b), std::slice::from_ref(&id));
    let (_, b) = search("field=age&field_value=34.5").await;
    assert_eq!(ids(&b), [other["id"].as_str().unwrap().to_owned()]);
    let (_, b) = search("field=work_email&field_value=BO%40work.example").await;
    assert_eq!(ids(&b), std::slice::from_ref(&id));
    let (_, b) = search("field=age&field_value=not-a-number").await;
    assert_eq!(ids(&b), Vec::<String>::new());
    let (s, b) = search("field=vip_note&field_value=x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "field_not_searchable");
    let (s, b) = search("field_value=34").await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("field"))
    );
    let (_, b) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users/count?field=age&field_value=34",
            key,
            None,
        )
        .await;
    assert_eq!(b["count"], 1);
}

#[tokio::test]
async fn the_export_holds_the_values_and_erasure_removes_them() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.put_schema(&f, every_type()).await;
    let (s, _) = register(
        &app,
        "ann@example.com",
        json!({"newsletter": true, "nickname": "Ace"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, g) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    let (token, _) = tokens_of(&g);
    let (s, export) = app
        .as_user(Method::GET, "/api/v1/acme/user/export", &token, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        export["profile"],
        json!({"newsletter": true, "nickname": "Ace"})
    );
    let (s, _) = app
        .as_user(Method::DELETE, "/api/v1/acme/user", &token, None)
        .await;
    assert!(s.is_success(), "{s}");
    let left = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM profile_values")
        .await;
    assert_eq!(left, 0);
}
