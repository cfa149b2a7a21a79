//! Signing in with a native SDK's ID token: Google and Apple shapes, nonce forms, the
//! key cache.
use crate::helpers::federation::*;
use crate::helpers::{assert_error, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn a_google_id_token_creates_the_account_then_signs_it_in_with_the_same_grant_as_a_password()
{
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-g1").await;
    let v = add_google(&app, &f, json!({})).await;
    assert_eq!(v["has_secret"], true);
    assert!(
        v.get("client_secret").is_none(),
        "secret never returned: {v}"
    );
    let token = idp.sign(&google_claims(
        &app,
        "g-100",
        "Gina@Example.com",
        true,
        Some("n-1"),
    ));
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": token, "nonce": "n-1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "gina@example.com");
    assert_eq!(b["user"]["email_verified"], true);
    assert_eq!(b["user"]["first_name"], "Gina");
    let (me, _) = app.me(&f.slug, b["access_token"].as_str().unwrap()).await;
    assert_eq!(me, StatusCode::OK);
    // The same identity again: the same user.
    let token = idp.sign(&google_claims(
        &app,
        "g-100",
        "gina@example.com",
        true,
        Some("n-2"),
    ));
    let (s, b2) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": token, "nonce": "n-2"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b2}");
    assert_eq!(b2["user"]["id"], b["user"]["id"]);
    // The grant has the shape of a password sign-in's.
    app.user_token(&f.slug, "pw@example.com").await;
    let (_, pw) = app.sign_in(&f.slug, "pw@example.com", PASSWORD).await;
    assert_eq!(keys(&b2), keys(&pw));
    // The identity is listed for the user.
    let r: Value = app
        .req(Method::GET, &format!("/api/v1/{}/user/identities", f.slug))
        .bearer_auth(b2["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["items"][0]["provider"], "google");
    assert_eq!(r["items"][0]["subject"], "g-100");
}

#[tokio::test]
async fn a_token_for_the_trusted_ios_client_is_accepted_and_the_raw_or_hashed_nonce_both_match() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-g2").await;
    add_google(&app, &f, json!({})).await;
    let mut c = google_claims(&app, "g-200", "ios@example.com", true, None);
    c["aud"] = json!(GOOGLE_IOS_CLIENT);
    c["azp"] = json!(GOOGLE_IOS_CLIENT);
    c["nonce"] = json!("raw-nonce-1");
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": idp.sign(&c), "nonce": "raw-nonce-1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "raw nonce: {b}");
    c["nonce"] = json!(sha256_hex("raw-nonce-2"));
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": idp.sign(&c), "nonce": "raw-nonce-2"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "hashed nonce: {b}");
    // Neither form of another nonce.
    c["nonce"] = json!(sha256_hex("raw-nonce-3"));
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": idp.sign(&c), "nonce": "raw-nonce-4"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "nonce_mismatch");
}

#[tokio::test]
async fn a_token_without_a_nonce_is_refused_unless_the_provider_allows_it() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-g3").await;
    add_google(&app, &f, json!({})).await;
    let c = google_claims(&app, "g-300", "nononce@example.com", true, None);
    let (s, b) = id_token_sign_in(&app, &f.slug, "google", json!({"id_token": idp.sign(&c)})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    assert_error(&b, "nonce_required");
    // A nonce sent for a token that carries none does not match either.
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": idp.sign(&c), "nonce": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "nonce_mismatch");
    add_google(&app, &f, json!({"allow_missing_nonce": true})).await;
    let (s, b) = id_token_sign_in(&app, &f.slug, "google", json!({"id_token": idp.sign(&c)})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Without a nonce the token itself is spent: the same token again is refused.
    let (s, b) = id_token_sign_in(&app, &f.slug, "google", json!({"id_token": idp.sign(&c)})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "nonce_replayed");
    // Each refusal is in the audit log (method and reason); the success too.
    let (s, log) = app
        .bo(
            reqwest::Method::GET,
            "/api/v1/fed-g3/audit/events?type=user.sign_in_failed,user.signed_in",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let seen: Vec<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("user.sign_in_failed", "nonce_required"),
        ("user.sign_in_failed", "nonce_mismatch"),
        ("user.signed_in", "federated"),
        ("user.sign_in_failed", "nonce_replayed"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn an_apple_token_with_string_booleans_and_a_relay_address_signs_up_with_the_name_the_app_sends(
) {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-a1").await;
    let v = add_apple(&app, &f, json!({})).await;
    assert_eq!(v["has_secret"], true);
    assert!(v.get("private_key").is_none());
    let relay = "x7pq2k9d4@privaterelay.appleid.com";
    let mut c = apple_claims(&app, "001234.abcdef.1234", relay, true, Some("apple-n1"));
    // A name in the token is never used (Apple puts none there).
    c["given_name"] = json!("Mallory");
    let body = json!({"id_token": idp.sign(&c), "nonce": "apple-n1", "first_name": "Ann", "last_name": "Apple"});
    let (s, b) = id_token_sign_in(&app, &f.slug, "apple", body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], relay);
    assert_eq!(b["user"]["email_verified"], true);
    assert_eq!(b["user"]["first_name"], "Ann");
    assert_eq!(b["user"]["last_name"], "Apple");
    // `email_verified: "false"` is false: no account from it.
    let mut c = apple_claims(
        &app,
        "001234.other",
        "other@example.com",
        false,
        Some("apple-n2"),
    );
    c["email_verified"] = json!("false");
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "apple",
        json!({"id_token": idp.sign(&c), "nonce": "apple-n2"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "identity_email_unverified");
}

#[tokio::test]
async fn provider_keys_are_fetched_once_kept_for_their_cache_lifetime_and_refetched_on_a_new_key_id(
) {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-k1").await;
    add_google(&app, &f, json!({})).await;
    idp.set_max_age(3600);
    for i in 0..5 {
        let n = format!("cache-{i}");
        let t = idp.sign(&google_claims(
            &app,
            &format!("k-{i}"),
            &format!("k{i}@example.com"),
            true,
            Some(&n),
        ));
        let (s, b) =
            id_token_sign_in(&app, &f.slug, "google", json!({"id_token": t, "nonce": n})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    println!("key set fetches for 5 sign-ins: {}", idp.jwks_hits());
    assert_eq!(idp.jwks_hits(), 1, "the key set is cached");
    // A rotated key: its unknown kid refetches the set once, then works.
    idp.rotate();
    let t = idp.sign(&google_claims(
        &app,
        "k-r",
        "kr@example.com",
        true,
        Some("rot"),
    ));
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": "rot"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(idp.jwks_hits(), 2);
    // Made-up key ids: at most one refetch a minute, however many arrive.
    let mut c = google_claims(&app, "k-x", "kx@example.com", true, None);
    for i in 0..10 {
        c["nonce"] = json!(sha256_hex(&format!("x{i}")));
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(format!("made-up-{i}"));
        let ek = jsonwebtoken::EncodingKey::from_rsa_pem(
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/federation/rsa-a.pem"
            ))
            .unwrap()
            .as_slice(),
        )
        .unwrap();
        let t = jsonwebtoken::encode(&h, &c, &ek).unwrap();
        let (s, b) = id_token_sign_in(
            &app,
            &f.slug,
            "google",
            json!({"id_token": t, "nonce": format!("x{i}")}),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_error(&b, "unknown_signing_key");
    }
    println!(
        "key set fetches after 10 unknown key ids within a minute: {}",
        idp.jwks_hits()
    );
    assert_eq!(idp.jwks_hits(), 2, "refetches are rate-limited");
    // Past the cache lifetime (on the injected clock) the set is fetched again.
    app.clock.advance(chrono::Duration::seconds(3601));
    let t = idp.sign(&google_claims(
        &app,
        "k-late",
        "klate@example.com",
        true,
        Some("late"),
    ));
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": "late"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(idp.jwks_hits(), 3);
}
