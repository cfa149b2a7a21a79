//! Configuring a flock's providers: checks, secrets that never come back, refused URLs.
use crate::helpers::federation::*;
use crate::helpers::oidc::OidcProvider;
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn put(app: &TestApp, slug: &str, key: &str, name: &str, body: Value) -> (StatusCode, Value) {
    app.bo(
        Method::PUT,
        &format!("/api/v1/{slug}/providers/{name}"),
        key,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn providers_are_created_replaced_listed_and_removed_and_their_secrets_never_come_back() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("prov-1").await;
    let body =
        json!({"kind": "google", "client_id": GOOGLE_CLIENT, "client_secret": GOOGLE_SECRET});
    let (s, v) = put(&app, &f.slug, &f.admin_key, "google", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["callback_url"],
        "https://fold.test/api/v1/prov-1/user/federated/google/callback"
    );
    // Replaced without a secret: the stored one is kept.
    let (s, v) = put(
        &app,
        &f.slug,
        &f.admin_key,
        "google",
        json!({"kind": "google", "client_id": GOOGLE_CLIENT, "enabled": false}),
    )
    .await;
    assert_eq!(
        (s, v["has_secret"].clone(), v["enabled"].clone()),
        (StatusCode::OK, json!(true), json!(false))
    );
    let (s, v) = put(&app, &f.slug, &f.admin_key, "apple", json!({
        "kind": "apple", "client_id": APPLE_CLIENT, "team_id": APPLE_TEAM, "key_id": APPLE_KEY_ID,
        "private_key": apple_team_key(), "trusted_audiences": ["com.acme.app.ios"],
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, list) = app
        .bo(
            Method::GET,
            &format!("/api/v1/{}/providers", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = list.to_string();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(
        !text.contains(GOOGLE_SECRET) && !text.contains("PRIVATE KEY"),
        "{text}"
    );
    // Stored sealed: not even the database holds the secret in clear.
    let sealed: Vec<String> = app
        .sql()
        .await
        .rows("SELECT secret_sealed FROM federation_providers")
        .await
        .iter()
        .map(|r| r.try_get::<String>("", "secret_sealed").unwrap())
        .collect();
    assert!(sealed
        .iter()
        .all(|s| s.starts_with("v1.") && !s.contains("GOCSPX") && !s.contains("PRIVATE")));
    // A disabled provider signs nobody in.
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": "x.y.z", "nonce": "n"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "provider_not_found");
    let (s, _) = app
        .bo(
            Method::DELETE,
            &format!("/api/v1/{}/providers/google", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = app
        .bo(
            Method::GET,
            &format!("/api/v1/{}/providers/google", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "provider_not_found");
}

#[tokio::test]
async fn a_provider_configuration_is_checked_whole_and_each_mistake_is_named() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("prov-2").await;
    let k = f.admin_key.clone();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "Bad_Name",
            json!({"kind": "google", "client_id": "x"}),
            "invalid_provider_name",
            "provider",
        ),
        (
            "apple",
            json!({"kind": "apple", "client_id": "x", "key_id": "K"}),
            "invalid_provider_setting",
            "team_id",
        ),
        (
            "apple",
            json!({"kind": "apple", "client_id": "x", "team_id": "T", "key_id": "K", "client_secret": "s"}),
            "invalid_provider_setting",
            "client_secret",
        ),
        (
            "apple",
            json!({"kind": "apple", "client_id": "x", "team_id": "T", "key_id": "K", "private_key": "not a key"}),
            "invalid_provider_setting",
            "private_key",
        ),
        (
            "google",
            json!({"kind": "google", "client_id": "x", "private_key": "k"}),
            "invalid_provider_setting",
            "private_key",
        ),
        (
            "corp",
            json!({"kind": "oidc", "client_id": "x"}),
            "invalid_provider_setting",
            "issuer",
        ),
        (
            "fb",
            json!({"kind": "oauth2", "client_id": "x", "authorize_url": "https://fb.example/auth"}),
            "invalid_provider_setting",
            "token_url",
        ),
        (
            "google",
            json!({"kind": "google", "client_id": "x", "scopes": ["a b"]}),
            "invalid_provider_setting",
            "scopes",
        ),
        // Fold may not be pointed at itself, the metadata service or a private network.
        (
            "corp",
            json!({"kind": "oidc", "client_id": "x", "issuer": "http://127.0.0.1:9"}),
            "provider_url_refused",
            "issuer",
        ),
        (
            "corp",
            json!({"kind": "oidc", "client_id": "x", "issuer": "https://169.254.169.254"}),
            "provider_url_refused",
            "issuer",
        ),
        (
            "corp",
            json!({"kind": "oidc", "client_id": "x", "issuer": "https://localhost"}),
            "provider_url_refused",
            "issuer",
        ),
        (
            "corp",
            json!({"kind": "oidc", "client_id": "x", "issuer": "https://user:pw@idp.example"}),
            "provider_url_refused",
            "issuer",
        ),
        (
            "fb",
            json!({"kind": "oauth2", "client_id": "x", "authorize_url": "https://10.0.0.1/a", "token_url": "https://fb.example/t", "userinfo_url": "https://fb.example/u"}),
            "provider_url_refused",
            "authorize_url",
        ),
        (
            "fb",
            json!({"kind": "oauth2", "client_id": "x", "authorize_url": "https://fb.example/a", "token_url": "https://[::1]/t", "userinfo_url": "https://fb.example/u"}),
            "provider_url_refused",
            "token_url",
        ),
    ];
    for (name, body, code, field) in cases {
        let (s, b) = put(&app, &f.slug, &k, name, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name} {body}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], field, "{body}: {b}");
    }
    let n: i64 = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM federation_providers")
        .await;
    assert_eq!(n, 0, "nothing stored");
}

#[tokio::test]
async fn an_oidc_issuer_must_be_exactly_the_one_its_discovery_document_names() {
    let op = OidcProvider::start().await;
    let app = TestApp::builder()
        .config(|c| c.federation.allow_private_networks = true)
        .spawn()
        .await;
    let f = app.create_flock("prov-3").await;
    let (s, b) = put(
        &app,
        &f.slug,
        &f.admin_key,
        "corp",
        json!({"kind": "oidc", "client_id": "x", "issuer": format!("{}/", op.issuer)}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_error(&b, "issuer_mismatch");
    let (s, b) = put(
        &app,
        &f.slug,
        &f.admin_key,
        "corp",
        json!({"kind": "oidc", "client_id": "x", "issuer": "http://127.0.0.1:9"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_error(&b, "provider_discovery_failed");
    let (s, b) = put(
        &app,
        &f.slug,
        &f.admin_key,
        "corp",
        json!({"kind": "oidc", "client_id": "x", "issuer": op.issuer}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn moving_a_provider_drops_its_secret_and_is_refused_while_users_hold_identities_there() {
    let (app, idp) = spawn_with_idp().await;
    let op = OidcProvider::start().await;
    let f = app.create_flock("prov-4").await;
    let k = f.admin_key.clone();
    add_google(&app, &f, json!({})).await;
    // Another client id without a new secret: the old secret is not kept for it.
    let (s, v) = put(
        &app,
        &f.slug,
        &k,
        "google",
        json!({"kind": "google", "client_id": "other.apps.googleusercontent.com"}),
    )
    .await;
    assert_eq!(
        (s, v["has_secret"].clone()),
        (StatusCode::OK, json!(false)),
        "{v}"
    );
    add_google(&app, &f, json!({})).await;
    let t = idp.sign(&google_claims(
        &app,
        "g-p4",
        "p4@example.com",
        true,
        Some("n"),
    ));
    let (s, _) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": "n"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Users hold identities there: the provider cannot become another one.
    let (s, b) = put(
        &app,
        &f.slug,
        &k,
        "google",
        json!({"kind": "oidc", "issuer": op.issuer, "client_id": "x", "client_secret": "y"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_error(&b, "provider_has_identities");
    // The same place with a new secret or flags is fine.
    let (s, v) = put(&app, &f.slug, &k, "google", json!({"kind": "google", "client_id": GOOGLE_CLIENT, "client_secret": "rotated-secret", "allow_signup": false})).await;
    assert_eq!(
        (s, v["has_secret"].clone()),
        (StatusCode::OK, json!(true)),
        "{v}"
    );
    // Deleting the provider deletes the identities held there.
    let (s, _) = app
        .bo(
            Method::DELETE,
            &format!("/api/v1/{}/providers/google", f.slug),
            &k,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let n: i64 = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM identities")
        .await;
    assert_eq!(n, 0);
}
