//! The web code flow: stand-ins for Google (query callback) and Apple (form_post, the
//! client secret JWT), and a real OpenID Connect provider (oidc-provider from npm): PKCE,
//! state, nonce, the one-time exchange code, userinfo for plain OAuth 2, key rotation.
use crate::helpers::federation::*;
use crate::helpers::oidc::{browser, OidcProvider};
use crate::helpers::{assert_error, TestApp, TestFlock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const PORTAL: &str = "https://app.acme-corp.com/signed-in";

pub async fn acme_flock(app: &TestApp, slug: &str) -> TestFlock {
    app.create_flock_with(
        slug,
        json!({"public_url": "https://portal.acme-corp.com", "federation": {"public_url_domain": true}}),
    )
    .await
}

fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

const VERIFIER: &str = "portal-verifier-0123456789-0123456789-0123456789";

#[tokio::test]
async fn the_google_code_flow_returns_a_one_time_exchange_code_that_the_portal_trades_for_the_session(
) {
    let (app, idp) = spawn_with_idp().await;
    let f = acme_flock(&app, "fed-c1").await;
    add_google(&app, &f, json!({})).await;
    let challenge = s256(VERIFIER);
    let (s, loc, b) = start(
        &app,
        &f.slug,
        "google",
        &[
            ("redirect_uri", PORTAL),
            ("state", "portal-xyz"),
            ("code_challenge", &challenge),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FOUND, "{b}");
    assert!(
        loc.starts_with(&format!("{}/google-accounts/o/oauth2/v2/auth?", idp.base)),
        "{loc}"
    );
    assert_eq!(param(&loc, "client_id").as_deref(), Some(GOOGLE_CLIENT));
    assert_eq!(
        param(&loc, "scope").as_deref(),
        Some("openid email profile")
    );
    assert!(param(&loc, "nonce").is_some_and(|n| n.len() >= 20));
    assert_eq!(
        param(&loc, "redirect_uri").as_deref(),
        Some("https://fold.test/api/v1/fed-c1/user/federated/google/callback")
    );
    let (code, state) = idp.authorize(
        &loc,
        google_claims(&app, "gc-1", "flow@example.com", true, None),
    );
    let (s, back, b) = callback(
        &app,
        &f.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    assert_eq!(s, StatusCode::FOUND, "{b}");
    assert!(back.starts_with(PORTAL), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("portal-xyz"));
    assert!(
        param(&back, "access_token").is_none() && param(&back, "error").is_none(),
        "{back}"
    );
    let x = param(&back, "code").unwrap();
    // The code is worthless without the portal's verifier…
    let (s, b) = exchange(
        &app,
        &f.slug,
        json!({"code": x, "code_verifier": "wrong-verifier-0123456789-0123456789-0123456789"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_error(&b, "invalid_code_verifier");
    // …and single use, even after a wrong verifier: start again.
    let (s, b) = exchange(&app, &f.slug, json!({"code": x, "code_verifier": VERIFIER})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_error(&b, "invalid_exchange_code");
    let (_, loc, _) = start(
        &app,
        &f.slug,
        "google",
        &[("redirect_uri", PORTAL), ("code_challenge", &challenge)],
    )
    .await;
    let (code, state) = idp.authorize(
        &loc,
        google_claims(&app, "gc-1", "flow@example.com", true, None),
    );
    let (_, back, _) = callback(
        &app,
        &f.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    let x = param(&back, "code").unwrap();
    let (s, b) = exchange(&app, &f.slug, json!({"code": x, "code_verifier": VERIFIER})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "flow@example.com");
    assert!(b["refresh_token"].is_string());
    // The state was spent by the callback: the provider's redirect replayed is refused.
    let (s, _, b) = callback(
        &app,
        &f.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "invalid_state");
    // Fold authenticated to Google's token endpoint with the client secret and the PKCE
    // verifier.
    let forms = idp.token_forms();
    assert!(forms
        .iter()
        .all(|f| f["client_secret"] == GOOGLE_SECRET && f["code_verifier"].len() >= 43));
}

#[tokio::test]
async fn a_provider_refusal_or_a_bad_id_token_goes_back_to_the_portal_as_an_error_code() {
    let (app, idp) = spawn_with_idp().await;
    let f = acme_flock(&app, "fed-c2").await;
    add_google(&app, &f, json!({})).await;
    let (_, loc, _) = start(
        &app,
        &f.slug,
        "google",
        &[("redirect_uri", PORTAL), ("state", "s1")],
    )
    .await;
    let state = param(&loc, "state").unwrap();
    let (s, back, _) = callback(
        &app,
        &f.slug,
        "google",
        &[("error", "access_denied"), ("state", &state)],
    )
    .await;
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(param(&back, "error").as_deref(), Some("provider_error"));
    assert_eq!(param(&back, "state").as_deref(), Some("s1"));
    // An ID token for another client.
    let (_, loc, _) = start(&app, &f.slug, "google", &[("redirect_uri", PORTAL)]).await;
    let mut c = google_claims(&app, "gc-2", "c2@example.com", true, None);
    c["aud"] = json!("someone-else.apps.googleusercontent.com");
    c["azp"] = json!("someone-else.apps.googleusercontent.com");
    let (code, state) = idp.authorize(&loc, c);
    let (_, back, _) = callback(
        &app,
        &f.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("audience_mismatch"),
        "{back}"
    );
    assert!(param(&back, "code").is_none());
}

#[tokio::test]
async fn the_apple_code_flow_posts_the_form_and_fold_signs_its_client_secret_with_the_team_key() {
    let (app, idp) = spawn_with_idp().await;
    let f = acme_flock(&app, "fed-c3").await;
    add_apple(&app, &f, json!({})).await;
    let (s, loc, _) = start(&app, &f.slug, "apple", &[("redirect_uri", PORTAL)]).await;
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(param(&loc, "response_mode").as_deref(), Some("form_post"));
    assert_eq!(param(&loc, "scope").as_deref(), Some("name email"));
    let relay = "q8w7e6r5t4@privaterelay.appleid.com";
    let (code, state) = idp.authorize(
        &loc,
        apple_claims(&app, "000111.apple.222", relay, true, None),
    );
    let user =
        json!({"name": {"firstName": "Ada", "lastName": "Lovelace"}, "email": relay}).to_string();
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{}/user/federated/apple/callback", f.slug),
        )
        .header("Cookie", binding_for(&state).unwrap())
        .form(&[
            ("code", code.as_str()),
            ("state", state.as_str()),
            ("user", user.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let x = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (s, b) = exchange(&app, &f.slug, json!({"code": x})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], relay);
    assert_eq!(b["user"]["first_name"], "Ada");
    // The stand-in checked the client secret (ES256 by the team key, kid, iss, sub, aud).
    let secret = idp.token_forms()[0]["client_secret"].clone();
    let h = jsonwebtoken::decode_header(&secret).unwrap();
    assert_eq!(h.alg, jsonwebtoken::Algorithm::ES256);
    println!("apple client secret header: {h:?}");
}

/// Registers the real provider as the flock's `corp` provider.
async fn add_corp(app: &TestApp, f: &TestFlock, op: &OidcProvider) {
    let cb = format!(
        "https://fold.test/api/v1/{}/user/federated/corp/callback",
        f.slug
    );
    let (id, secret) = op.register(&cb).await;
    put_provider(
        app,
        f,
        "corp",
        json!({"kind": "oidc", "issuer": op.issuer, "client_id": id, "client_secret": secret}),
    )
    .await;
}

/// Browser → Fold start → the provider (logs `hint` in) → Fold's callback → the portal.
async fn browse_sign_in(
    app: &TestApp,
    f: &TestFlock,
    op: &OidcProvider,
    provider: &str,
    hint: &str,
) -> String {
    let (s, loc, b) = start(
        app,
        &f.slug,
        provider,
        &[("redirect_uri", PORTAL), ("login_hint", hint)],
    )
    .await;
    assert_eq!(s, StatusCode::FOUND, "{b}");
    assert!(loc.starts_with(&op.issuer), "{loc}");
    let at_fold = op.browse(&browser(), &loc, "https://fold.test/").await;
    let path = at_fold.strip_prefix("https://fold.test").unwrap();
    let cookie = binding_for(&param(&loc, "state").unwrap()).unwrap();
    let r = app
        .req(Method::GET, path)
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    r.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_real_openid_connect_provider_signs_users_in_through_the_code_flow_across_a_key_rotation()
{
    let op = OidcProvider::start().await;
    let app = TestApp::builder()
        .config(|c| c.federation.allow_private_networks = true)
        .spawn()
        .await;
    let f = acme_flock(&app, "fed-o1").await;
    add_corp(&app, &f, &op).await;
    let back = browse_sign_in(&app, &f, &op, "corp", "alice@example.com").await;
    let x = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let (s, b) = exchange(&app, &f.slug, json!({"code": x})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "alice@example.com");
    assert_eq!(b["user"]["email_verified"], true);
    let alice = b["user"]["id"].clone();
    // The provider rotates its signing key; the next sign-in is verified with the new one.
    let kid = op.rotate().await;
    println!("provider rotated to key {kid}");
    let back = browse_sign_in(&app, &f, &op, "corp", "carol@example.com").await;
    let (s, b) = exchange(
        &app,
        &f.slug,
        json!({"code": param(&back, "code").unwrap()}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "carol@example.com");
    // Alice again: the same account.
    let back = browse_sign_in(&app, &f, &op, "corp", "alice@example.com").await;
    let (_, b) = exchange(
        &app,
        &f.slug,
        json!({"code": param(&back, "code").unwrap()}),
    )
    .await;
    assert_eq!(b["user"]["id"], alice);
    // An unverified email at the provider creates nothing.
    let back = browse_sign_in(&app, &f, &op, "corp", "unverified:dave@example.com").await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("identity_email_unverified"),
        "{back}"
    );
}

#[tokio::test]
async fn a_plain_oauth2_provider_is_read_through_userinfo_and_the_claim_map() {
    let op = OidcProvider::start().await;
    let app = TestApp::builder()
        .config(|c| c.federation.allow_private_networks = true)
        .spawn()
        .await;
    let f = acme_flock(&app, "fed-o2").await;
    let cb = format!(
        "https://fold.test/api/v1/{}/user/federated/social/callback",
        f.slug
    );
    let r: Value = reqwest::Client::new()
        .post(format!("{}/reg", op.issuer))
        .json(&json!({"redirect_uris": [cb], "grant_types": ["authorization_code"], "response_types": ["code"], "token_endpoint_auth_method": "client_secret_post"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v = put_provider(&app, &f, "social", json!({
        "kind": "oauth2", "client_id": r["client_id"], "client_secret": r["client_secret"],
        "authorize_url": format!("{}/auth", op.issuer), "token_url": format!("{}/token", op.issuer),
        "userinfo_url": format!("{}/me", op.issuer), "scopes": ["openid", "email", "profile"],
        "claims": {"subject": "sub", "email": "email", "email_verified": "email_verified"},
    })).await;
    assert_eq!(v["claims"]["subject"], "sub");
    let back = browse_sign_in(&app, &f, &op, "social", "olga@example.com").await;
    let (s, b) = exchange(
        &app,
        &f.slug,
        json!({"code": param(&back, "code").unwrap_or_else(|| panic!("{back}"))}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "olga@example.com");
    assert_eq!(b["user"]["first_name"], "olga");
}
