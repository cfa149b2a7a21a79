//! Contacts without credentials (seed 002) and claiming them: by a one-time code, by a
//! claim link, by registering with the contact's email — one account each time.
use crate::helpers::directory::user_path;
use crate::helpers::{assert_error, token_in, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_contact_gets_credentials_later_and_its_owner_claims_it_with_a_code() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    // A contact with no identifier at all: a new user, not a registered one.
    let c = app
        .bo_create_user(
            &f,
            json!({"status": "unclaimed", "first_name": "Ahmed", "last_name": "Samir"}),
        )
        .await;
    assert_eq!(
        (c["status"].as_str(), c["registered"].as_bool()),
        (Some("unclaimed"), Some(false))
    );
    assert!(c["email"].is_null() && c["phone"].is_null());
    // The back office adds a phone identity.
    let path = user_path("acme", &c["id"], "");
    let (s, b) = app
        .bo(
            Method::PATCH,
            &path,
            key,
            Some(json!({"phone": "+35799123456"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let before = app.user_rows().await;
    // The owner signs in with a code: the same account, claimed and active.
    let (s, _) = app.request_otp("acme", "+35799123456", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let code = app.last_code("+35799123456").unwrap();
    let (s, g) = app
        .verify_otp("acme", "+35799123456", "sign_in", &code, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "signed in, not registered: {g}");
    assert_eq!(g["user"]["id"], c["id"]);
    assert_eq!(g["user"]["status"], "active");
    assert_eq!(app.user_rows().await, before, "no second account");
    let (_, b) = app.bo(Method::GET, &path, key, None).await;
    assert_eq!(
        (b["registered"].as_bool(), b["phone_verified"].as_bool()),
        (Some(true), Some(true))
    );
}

#[tokio::test]
async fn a_claim_link_sets_a_password_and_registering_with_the_email_sends_one() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let c = app
        .bo_create_user(
            &f,
            json!({"email": "zoe@example.com", "status": "unclaimed", "send_email": false}),
        )
        .await;
    // Registering with the contact's email makes no second account; a claim link goes out.
    let before = app.user_rows().await;
    let (s, b) = app
        .register("acme", "zoe@example.com", "someone else's guess")
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "same answer as a new registration: {b}"
    );
    assert_eq!(app.user_rows().await, before, "no second account");
    let mail = app.last_mail_to("zoe@example.com").await;
    assert!(mail.subject.contains("waiting for you"), "{}", mail.subject);
    // The password given at registration was not applied: the caller does not own the box.
    let (s, _) = app
        .sign_in("acme", "zoe@example.com", "someone else's guess")
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The back office can send the link too (a newer link voids the older one).
    let path = user_path("acme", &c["id"], "/claim-link");
    let (s, _) = app.bo(Method::POST, &path, key, None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let token = token_in(&app.last_mail_to("zoe@example.com").await);
    let (s, b) = app
        .user_post(
            "acme",
            "password",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, g) = app.sign_in("acme", "zoe@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["id"], c["id"]);
    assert_eq!(g["user"]["status"], "active");
    // A claimed account gets no more claim links.
    let (s, b) = app.bo(Method::POST, &path, key, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "not_unclaimed");
}

#[tokio::test]
async fn business_contacts_hold_their_people() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = &f.admin_key;
    let biz = app
        .bo_create_user(
            &f,
            json!({"kind": "business", "company": "Samir Trading",
            "registration_number": "HE123456", "vat_number": "CY10123456X", "status": "unclaimed"}),
        )
        .await;
    assert_eq!(biz["kind"], "business");
    for name in ["Ahmed", "Lina"] {
        let p = app
            .bo_create_user(
                &f,
                json!({"status": "unclaimed", "first_name": name,
                "business_id": biz["id"]}),
            )
            .await;
        assert_eq!(p["business_id"], biz["id"]);
    }
    let path = format!(
        "/api/v1/acme/directory/users?business_id={}&sort=name",
        biz["id"].as_str().unwrap()
    );
    let (s, b) = app.bo(Method::GET, &path, key, None).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<_> = b["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["first_name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Ahmed"), json!("Lina")]);
    // A person cannot hold people; a business needs its name.
    let person = b["users"][0]["id"].clone();
    let body = json!({"status": "unclaimed", "business_id": person});
    let (s, e) = app
        .bo(
            Method::POST,
            "/api/v1/acme/directory/users",
            key,
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&e, "invalid_business");
    let (s, e) = app
        .bo(
            Method::PATCH,
            &user_path("acme", &biz["id"], ""),
            key,
            Some(json!({"company": null})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&e, "company_required");
}

#[tokio::test]
async fn registration_without_a_password_is_for_flocks_that_allow_it() {
    let app = TestApp::spawn().await;
    let closed = app.create_flock("acme").await;
    let open = app
        .create_flock_with("open", json!({"passwordless_registration": true}))
        .await;
    let body = json!({"email": "ann@example.com", "terms_accepted": true});
    let (s, b) = app.user_post(&closed.slug, "register", body.clone()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "password_required");
    let (s, b) = app.user_post(&open.slug, "register", body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // The account signs in with a code.
    app.request_otp(&open.slug, "ann@example.com", "sign_in")
        .await;
    let code = app.last_code("ann@example.com").unwrap();
    let (s, g) = app
        .verify_otp(&open.slug, "ann@example.com", "sign_in", &code, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["user"]["id"], b["user_id"]);
}
