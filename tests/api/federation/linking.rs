//! The linking rules (docs/FEDERATION.md), explicit linking, unlinking, the back office's
//! view, and the secured admin login.
use crate::helpers::federation::*;
use crate::helpers::{assert_error, TestApp, TestFlock, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn google_sign_in(
    app: &TestApp,
    idp: &FakeIdp,
    f: &TestFlock,
    sub: &str,
    email: &str,
    verified: bool,
) -> (StatusCode, Value) {
    let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
    let t = idp.sign(&google_claims(app, sub, email, verified, Some(&nonce)));
    id_token_sign_in(
        app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": nonce}),
    )
    .await
}

async fn verify_email(app: &TestApp, email: &str) {
    app.sql()
        .await
        .exec(&format!(
            "UPDATE users SET email_verified = true WHERE email = '{email}'"
        ))
        .await;
}

#[tokio::test]
async fn a_verified_provider_email_links_to_the_account_whose_email_is_verified() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l1").await;
    add_google(&app, &f, json!({})).await;
    let (_, reg) = app.register(&f.slug, "vera@example.com", PASSWORD).await;
    verify_email(&app, "vera@example.com").await;
    let (s, b) = google_sign_in(&app, &idp, &f, "g-vera", "vera@example.com", true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["id"], reg["user_id"]);
    // The password still works: nothing was taken from a proven account.
    assert_eq!(
        app.sign_in(&f.slug, "vera@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unverified_provider_email_creates_nothing_and_links_nothing_with_the_same_answer_either_way(
) {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l2").await;
    add_google(&app, &f, json!({})).await;
    app.user_token(&f.slug, "uma@example.com").await;
    verify_email(&app, "uma@example.com").await;
    let before = app.user_rows().await;
    let (s1, b1) = google_sign_in(&app, &idp, &f, "g-uma", "uma@example.com", false).await;
    let (s2, b2) = google_sign_in(&app, &idp, &f, "g-new", "nobody@example.com", false).await;
    assert_eq!((s1, s2), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    assert_error(&b1, "identity_email_unverified");
    assert_eq!(b1["code"], b2["code"]);
    assert_eq!(b1["message"], b2["message"]);
    assert_eq!(app.user_rows().await, before);
    let n: i64 = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM identities")
        .await;
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_provider_that_may_not_create_accounts_signs_in_linked_users_only() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l3").await;
    add_google(&app, &f, json!({"allow_signup": false})).await;
    let (s, b) = google_sign_in(&app, &idp, &f, "g-x", "new@example.com", true).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "signup_disabled");
    // An existing verified account still links and signs in.
    app.user_token(&f.slug, "old@example.com").await;
    verify_email(&app, "old@example.com").await;
    let (s, b) = google_sign_in(&app, &idp, &f, "g-old", "old@example.com", true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn an_unverified_local_account_with_a_verified_phone_must_be_linked_explicitly() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l4").await;
    add_google(&app, &f, json!({})).await;
    let (_, reg) = app.register(&f.slug, "pia@example.com", PASSWORD).await;
    app.sql()
        .await
        .exec("UPDATE users SET phone = '+447700900123', phone_verified = true WHERE email = 'pia@example.com'")
        .await;
    let (s, b) = google_sign_in(&app, &idp, &f, "g-pia", "pia@example.com", true).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_error(&b, "account_exists_link_required");
    // Its owner signs in and links the identity explicitly.
    let (_, g) = app.sign_in(&f.slug, "pia@example.com", PASSWORD).await;
    let at = g["access_token"].as_str().unwrap();
    let nonce = "link-pia";
    let t = idp.sign(&google_claims(
        &app,
        "g-pia",
        "pia@example.com",
        true,
        Some(nonce),
    ));
    let r = link_id_token(
        &app,
        &f.slug,
        at,
        "google",
        json!({"id_token": t, "nonce": nonce}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (s, b) = google_sign_in(&app, &idp, &f, "g-pia", "pia@example.com", true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["id"], reg["user_id"]);
}

#[tokio::test]
async fn a_signed_in_user_links_identities_with_other_emails_and_unlinks_all_but_the_last_way_in() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l5").await;
    add_google(&app, &f, json!({})).await;
    add_apple(&app, &f, json!({})).await;
    // A Google-only account…
    let (s, g) = google_sign_in(&app, &idp, &f, "g-multi", "multi@example.com", true).await;
    assert_eq!(s, StatusCode::OK);
    let at = g["access_token"].as_str().unwrap().to_owned();
    // …links an Apple identity with a relay address (another email).
    let c = apple_claims(
        &app,
        "apple-multi",
        "relay1@privaterelay.appleid.com",
        true,
        Some("an"),
    );
    let r = link_id_token(
        &app,
        &f.slug,
        &at,
        "apple",
        json!({"id_token": idp.sign(&c), "nonce": "an"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = my_identities(&app, &f.slug, &at).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // The export lists them.
    let export: Value = app
        .req(Method::GET, &format!("/api/v1/{}/user/export", f.slug))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        export["identities"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    // Apple now signs in the same user.
    let c = apple_claims(
        &app,
        "apple-multi",
        "relay1@privaterelay.appleid.com",
        true,
        Some("an2"),
    );
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "apple",
        json!({"id_token": idp.sign(&c), "nonce": "an2"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["id"], g["user"]["id"]);
    // Suppose the account's email is no longer verified (changed): the identities are
    // its only ways in. One may go, not the last.
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = false WHERE email = 'multi@example.com'")
        .await;
    let ids: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let del = |id: String| {
        app.req(
            Method::DELETE,
            &format!("/api/v1/{}/user/identities/{id}", f.slug),
        )
        .bearer_auth(&at)
        .send()
    };
    assert_eq!(
        del(ids[1].clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let r = del(ids[0].clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_error(&r.json().await.unwrap(), "last_sign_in_method");
    // Another user's identity id is not found.
    let (_, other) = google_sign_in(&app, &idp, &f, "g-other", "other@example.com", true).await;
    let theirs = my_identities(&app, &f.slug, other["access_token"].as_str().unwrap()).await;
    let r = del(theirs["items"][0]["id"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_back_office_lists_and_removes_a_users_identities() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l6").await;
    add_google(&app, &f, json!({})).await;
    let (_, g) = google_sign_in(&app, &idp, &f, "g-bo", "bo@example.com", true).await;
    let path = format!(
        "/api/v1/{}/directory/users/{}/identities",
        f.slug,
        g["user"]["id"].as_str().unwrap()
    );
    let (s, b) = app.bo(Method::GET, &path, &f.admin_key, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["items"][0]["subject"], "g-bo");
    let id = b["items"][0]["id"].as_str().unwrap();
    let (s, _) = app
        .bo(Method::DELETE, &format!("{path}/{id}"), &f.admin_key, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, b) = app.bo(Method::GET, &path, &f.admin_key, None).await;
    assert_eq!(b["items"], json!([]));
    let (s, b) = app
        .bo(
            Method::GET,
            &format!(
                "/api/v1/{}/directory/users/{}/identities",
                f.slug,
                uuid::Uuid::new_v4()
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "user_not_found");
}

#[tokio::test]
async fn secured_admin_login_lets_managers_in_only_through_the_named_provider() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-l7").await;
    add_google(&app, &f, json!({})).await;
    let m = app
        .bo_create_user(
            &f,
            json!({"email": "boss@example.com", "password": PASSWORD, "role": "manager"}),
        )
        .await;
    verify_email(&app, "boss@example.com").await;
    app.user_token(&f.slug, "client@example.com").await;
    let (s, _) = app.sign_in(&f.slug, "boss@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "before the setting, the password works");
    let (s, b) = app
        .req(Method::PATCH, &format!("/platform/v1/flocks/{}", f.slug))
        .header("X-Platform-Key", crate::helpers::PLATFORM_KEY)
        .json(&json!({"settings": {"federation": {"manager_provider": "google"}}}))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(s, StatusCode::OK, "{:?}", b.text().await);
    let (s, b) = app.sign_in(&f.slug, "boss@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "federated_login_required");
    // A wrong password still says only that.
    let (s, b) = app
        .sign_in(&f.slug, "boss@example.com", "wrong password!!")
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_credentials");
    // Clients are not concerned.
    assert_eq!(
        app.sign_in(&f.slug, "client@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    // Through Google the manager signs in, as a manager.
    let (s, b) = google_sign_in(&app, &idp, &f, "g-boss", "boss@example.com", true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["id"], m["id"]);
    assert_eq!(b["role"], "manager");
}
