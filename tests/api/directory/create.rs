//! Creating users from the back office: every field, the uniqueness rules, generated
//! passwords, the first mail, and bad input that changes nothing.
use crate::helpers::directory::{user_path, with};
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn a_user_created_with_every_field_reads_back_and_is_found_by_each_unique_field() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let u = app
        .bo_create_user(
            &f,
            json!({
                "email": " Ann@Example.COM ", "phone": "+357 99 123456", "first_name": "Ann",
                "last_name": "Lee", "locale": "en-GB", "opt_outs": {"newsletter": true},
                "source": "crm-import", "referer": "https://partner.example/landing",
                "note": "VIP\ncalls on Mondays", "external_id": "crm-000123",
                "username": "Ann.Lee", "company": "Acme Ltd",
                "picture_url": "https://cdn.example/ann.png", "role": "manager",
                "bo_access": true, "api_access": false, "send_email": false
            }),
        )
        .await;
    assert_eq!(u["email"], "ann@example.com");
    assert_eq!(u["phone"], "+35799123456");
    assert_eq!(u["username"], "ann.lee");
    assert_eq!(u["status"], "active");
    assert_eq!(u["role"], "manager");
    assert_eq!(u["kind"], "person");
    assert_eq!(u["note"], "VIP\ncalls on Mondays");
    assert_eq!(
        (u["bo_access"].as_bool(), u["api_access"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(u["opt_outs"]["newsletter"], true);
    assert_eq!(u["registered"], true);
    assert_eq!(u["has_password"], false);
    let (s, got) = app
        .bo(
            Method::GET,
            &user_path("acme", &u["id"], ""),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["external_id"], "crm-000123");
    for q in [
        "email=ANN@example.com",
        "phone=%2B35799123456",
        "username=ann.lee",
        "external_id=crm-000123",
    ] {
        let path = format!("/api/v1/acme/directory/users/lookup?{q}");
        let (s, b) = app.bo(Method::GET, &path, &f.admin_key, None).await;
        assert_eq!(
            (s, b["id"].clone()),
            (StatusCode::OK, u["id"].clone()),
            "{q}"
        );
    }
    let path = "/api/v1/acme/directory/users/lookup?email=a@example.com&phone=%2B35799123456";
    let (s, b) = app.bo(Method::GET, path, &f.admin_key, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "one_lookup_field");
    let path = "/api/v1/acme/directory/users/lookup?email=nobody@example.com";
    assert_eq!(
        app.bo(Method::GET, path, &f.admin_key, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn each_unique_field_refuses_a_second_account_with_409_naming_it() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let base = json!({"email": "ann@example.com", "phone": "+35799123456",
        "username": "ann", "external_id": "x-1", "send_email": false});
    app.bo_create_user(&f, base.clone()).await;
    let before = app.user_rows().await;
    let other = json!({"email": "bob@example.com", "send_email": false});
    let path = "/api/v1/acme/directory/users";
    for (field, value, code) in [
        ("email", json!("ANN@example.com"), "email_taken"),
        ("phone", json!("+357 99 123456"), "phone_taken"),
        ("username", json!("ANN"), "username_taken"),
        ("external_id", json!("x-1"), "external_id_taken"),
    ] {
        let body = with(&other, field, value);
        let (s, b) = app.bo(Method::POST, path, &f.admin_key, Some(body)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{field}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], field);
    }
    assert_eq!(app.user_rows().await, before, "nothing created");
}

#[tokio::test]
async fn a_generated_password_is_mailed_and_signs_in() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let u = app
        .bo_create_user(
            &f,
            json!({"email": "gen@example.com", "generate_password": true}),
        )
        .await;
    assert_eq!(u["has_password"], true);
    let mail = app.last_mail_to("gen@example.com").await;
    let password = mail
        .text
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 20 && l.chars().all(|c| c.is_ascii_alphanumeric()))
        .expect("the password in the mail")
        .to_owned();
    let (s, b) = app.sign_in(&f.slug, "gen@example.com", &password).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Delivered mail keeps no plaintext: the body is gone from the outbox table.
    let rows = app
        .sql()
        .await
        .rows("SELECT text_body FROM mail_outbox")
        .await;
    assert!(rows.iter().all(|r| !r
        .try_get::<String>("", "text_body")
        .unwrap()
        .contains(&password)));
}

#[tokio::test]
async fn the_first_mail_follows_the_status_and_send_email() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    for (email, extra, subject) in [
        ("w@example.com", json!({}), Some("Welcome to")),
        (
            "a@example.com",
            json!({"status": "activation_required"}),
            Some("Activate your"),
        ),
        (
            "c@example.com",
            json!({"status": "unclaimed"}),
            Some("is waiting for you"),
        ),
        ("n@example.com", json!({"send_email": false}), None),
    ] {
        let mut body = with(&extra, "email", json!(email));
        body["first_name"] = json!("Zed");
        app.bo_create_user(&f, body).await;
        let mails: Vec<_> = app
            .mails()
            .await
            .into_iter()
            .filter(|m| m.to == email)
            .collect();
        match subject {
            Some(s) => {
                assert_eq!(mails.len(), 1, "{email}");
                assert!(
                    mails[0].subject.contains(s),
                    "{email}: {}",
                    mails[0].subject
                );
            }
            None => assert!(mails.is_empty(), "{email}"),
        }
    }
}

#[tokio::test]
async fn bad_input_answers_with_the_field_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let before = app.user_rows().await;
    let path = "/api/v1/acme/directory/users";
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"email": "not-an-email"}),
            400,
            "invalid_email",
            "email",
        ),
        (json!({"phone": "12"}), 400, "invalid_phone", "phone"),
        (
            json!({"first_name": "x"}),
            400,
            "identifier_required",
            "email",
        ),
        (
            json!({"email": "a@x.io", "status": "deleted"}),
            400,
            "invalid_status",
            "status",
        ),
        (
            json!({"email": "a@x.io", "status": "nope"}),
            400,
            "invalid_request",
            "status",
        ),
        (
            json!({"email": "a@x.io", "external_id": "has space"}),
            400,
            "invalid_external_id",
            "external_id",
        ),
        (
            json!({"email": "a@x.io", "external_id": "x".repeat(37)}),
            400,
            "invalid_request",
            "external_id",
        ),
        (
            json!({"email": "a@x.io", "username": "no way!"}),
            400,
            "invalid_username",
            "username",
        ),
        (
            json!({"email": "a@x.io", "picture_url": "javascript:alert(1)"}),
            400,
            "invalid_url",
            "picture_url",
        ),
        (
            json!({"email": "a@x.io", "password": "short"}),
            400,
            "password_too_short",
            "password",
        ),
        (
            json!({"email": "a@x.io", "password": "a long enough one", "generate_password": true}),
            400,
            "password_conflict",
            "generate_password",
        ),
        (
            json!({"phone": "+35799123456", "generate_password": true}),
            400,
            "cannot_mail_password",
            "generate_password",
        ),
        (
            json!({"email": "a@x.io", "kind": "business"}),
            400,
            "company_required",
            "company",
        ),
        (
            json!({"email": "a@x.io", "business_id": uuid::Uuid::new_v4()}),
            400,
            "invalid_business",
            "business_id",
        ),
        (
            json!({"email": "a@x.io", "role": "preregistered"}),
            400,
            "invalid_request",
            "role",
        ),
        (
            json!({"email": "a@x.io", "status": "active", "is_admin": true}),
            400,
            "invalid_request",
            "is_admin",
        ),
    ];
    for (body, status, code, field) in &cases {
        let (s, b) = app
            .bo(Method::POST, path, &f.admin_key, Some(body.clone()))
            .await;
        assert_eq!(s.as_u16(), *status, "{body}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], *field, "{body}: {b}");
    }
    println!(
        "directory create, bad input: {} cases, 0 users created",
        cases.len()
    );
    assert_eq!(app.user_rows().await, before, "nothing created");
    assert!(app.mails().await.is_empty(), "no mail");
}
