//! Battery item 23: account takeover through federation. Each case prints what it got;
//! none may succeed.
use super::code_flow::{acme_flock, PORTAL};
use crate::helpers::federation::*;
use crate::helpers::{assert_error, TestApp, TestFlock, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn report(case: &str, s: StatusCode, b: &Value) {
    println!(
        "takeover: {case:<58} -> {} {}",
        s.as_u16(),
        b["code"].as_str().unwrap_or("-")
    );
}

async fn sign(
    app: &TestApp,
    idp: &FakeIdp,
    f: &TestFlock,
    claims: Value,
    nonce: &str,
) -> (StatusCode, Value) {
    id_token_sign_in(
        app,
        &f.slug,
        "google",
        json!({"id_token": idp.sign(&claims), "nonce": nonce}),
    )
    .await
}

#[tokio::test]
async fn pre_hijacking_an_email_with_a_password_gives_the_attacker_nothing_once_the_owner_arrives()
{
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("tk-1").await;
    add_google(&app, &f, json!({})).await;
    // The attacker registers the victim's address (never verified) and keeps a session.
    let attacker_at = app.user_token(&f.slug, "victim@example.com").await;
    // The victim signs in with Google, which asserts the address.
    let (s, b) = sign(
        &app,
        &idp,
        &f,
        google_claims(&app, "g-victim", "victim@example.com", true, Some("v1")),
        "v1",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email_verified"], true);
    // The attacker's password and session are gone.
    let (s1, b1) = app.sign_in(&f.slug, "victim@example.com", PASSWORD).await;
    report(
        "pre-hijack: attacker's password after the owner's Google sign-in",
        s1,
        &b1,
    );
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    let (s2, b2) = app.me(&f.slug, &attacker_at).await;
    report(
        "pre-hijack: attacker's session after the owner's Google sign-in",
        s2,
        &b2,
    );
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forged_and_replayed_id_tokens_are_refused() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("tk-2").await;
    add_google(&app, &f, json!({})).await;
    app.user_token(&f.slug, "target@example.com").await;
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = true WHERE email = 'target@example.com'")
        .await;
    let base = |n: &str| google_claims(&app, "g-attacker", "target@example.com", true, Some(n));
    let mut cases: Vec<(&str, Value, &str, &str)> = vec![];
    let mut c = base("t1");
    c["email_verified"] = json!(false);
    cases.push((
        "an unverified provider email naming the target",
        c,
        "t1",
        "identity_email_unverified",
    ));
    let mut c = base("t2");
    c["aud"] = json!("attacker-app.apps.googleusercontent.com");
    c["azp"] = json!("attacker-app.apps.googleusercontent.com");
    cases.push((
        "an ID token issued to another client",
        c,
        "t2",
        "audience_mismatch",
    ));
    let mut c = base("t3");
    c["aud"] = json!([GOOGLE_CLIENT, "attacker-app"]);
    c["azp"] = json!("attacker-app");
    cases.push((
        "several audiences, azp another client",
        c,
        "t3",
        "audience_mismatch",
    ));
    let mut c = base("t3b");
    c["aud"] = json!([GOOGLE_CLIENT, "untrusted-other-client"]);
    c["azp"] = json!(GOOGLE_CLIENT);
    cases.push((
        "several audiences, one of them untrusted",
        c,
        "t3b",
        "audience_mismatch",
    ));
    let mut c = base("t3c");
    c["exp"] = json!(app.clock.unix() + 30 * 86_400);
    cases.push((
        "an ID token meant to live a month",
        c,
        "t3c",
        "invalid_id_token",
    ));
    let mut c = base("t4");
    c["iss"] = json!("https://evil.example");
    cases.push(("an attacker-controlled issuer", c, "t4", "issuer_mismatch"));
    let mut c = base("t5");
    c["iss"] = json!(APPLE_ISS);
    cases.push((
        "Apple's issuer on the Google provider",
        c,
        "t5",
        "issuer_mismatch",
    ));
    let mut c = base("t6");
    c["exp"] = json!(app.clock.unix() - 3600);
    c["iat"] = json!(app.clock.unix() - 7200);
    cases.push(("an expired ID token", c, "t6", "id_token_expired"));
    let mut c = base("t7");
    c["iat"] = json!(app.clock.unix() + 3600);
    cases.push((
        "an ID token issued in the future",
        c,
        "t7",
        "invalid_id_token",
    ));
    let mut c = base("t8");
    c["nbf"] = json!(app.clock.unix() + 3600);
    cases.push(("an ID token not valid yet", c, "t8", "invalid_id_token"));
    let mut c = base("t9");
    c["nonce"] = json!(sha256_hex("another-nonce"));
    cases.push(("another sign-in's nonce", c, "t9", "nonce_mismatch"));
    for (case, claims, nonce, code) in cases {
        let (s, b) = sign(&app, &idp, &f, claims, nonce).await;
        report(case, s, &b);
        assert!(
            s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN,
            "{case}: {s} {b}"
        );
        assert_error(&b, code);
    }
    // A key the provider does not publish (same key id), a tampered payload, `alg: none`
    // and an HMAC "signed" with the published modulus.
    let t = idp.sign_with_unpublished_key(&base("u1"));
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": "u1"}),
    )
    .await;
    report("a token signed with an unpublished key", s, &b);
    assert_error(&b, "invalid_id_token");
    let good = idp.sign(&base("u2"));
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = base("u2");
    evil["sub"] = json!("g-someone-else");
    let forged = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": forged, "nonce": "u2"}),
    )
    .await;
    report("a tampered payload", s, &b);
    assert_error(&b, "invalid_id_token");
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "google-a"})),
        b64(&base("u3"))
    );
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": none, "nonce": "u3"}),
    )
    .await;
    report("alg none", s, &b);
    assert_error(&b, "invalid_id_token");
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("google-a".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &base("u4"),
        &jsonwebtoken::EncodingKey::from_secret(b"the published modulus"),
    )
    .unwrap();
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": hs, "nonce": "u4"}),
    )
    .await;
    report("HS256 with a public value as the secret", s, &b);
    assert_error(&b, "invalid_id_token");
    // A good token, replayed.
    let t = idp.sign(&google_claims(
        &app,
        "g-rep",
        "rep@example.com",
        true,
        Some("once"),
    ));
    let (s, _) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": "once"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = id_token_sign_in(
        &app,
        &f.slug,
        "google",
        json!({"id_token": t, "nonce": "once"}),
    )
    .await;
    report("a replayed nonce", s, &b);
    assert_error(&b, "nonce_replayed");
    // Nobody got into the target's account.
    let n: i64 = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM identities WHERE subject = 'g-attacker'")
        .await;
    assert_eq!(n, 0);
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn states_codes_and_identities_do_not_cross_flocks_and_are_single_use() {
    let (app, idp) = spawn_with_idp().await;
    let a = acme_flock(&app, "tk-a").await;
    let b = acme_flock(&app, "tk-b").await;
    add_google(&app, &a, json!({})).await;
    add_google(
        &app,
        &b,
        json!({"client_id": "flock-b.apps.googleusercontent.com", "trusted_audiences": []}),
    )
    .await;
    // A state of flock A at flock B's callback.
    let (_, loc, _) = start(&app, &a.slug, "google", &[("redirect_uri", PORTAL)]).await;
    let (code, state) = idp.authorize(
        &loc,
        google_claims(&app, "g-x", "x@example.com", true, None),
    );
    let (s, _, body) = callback(
        &app,
        &b.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    report("a state of flock A at flock B's callback", s, &body);
    assert_error(&body, "invalid_state");
    // …and at flock A it still works once, then never again.
    let (s, back, _) = callback(
        &app,
        &a.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    assert_eq!(s, StatusCode::FOUND);
    let (s, _, body) = callback(
        &app,
        &a.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    report("a replayed state", s, &body);
    assert_error(&body, "invalid_state");
    // Flock A's exchange code at flock B.
    let x = param(&back, "code").unwrap();
    let (s, body) = exchange(&app, &b.slug, json!({"code": x})).await;
    report("flock A's exchange code at flock B", s, &body);
    assert_error(&body, "invalid_exchange_code");
    // At flock A it works once, then never again.
    let (s, _) = exchange(&app, &a.slug, json!({"code": x})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = exchange(&app, &a.slug, json!({"code": x})).await;
    report("an exchange code already used", s, &body);
    assert_error(&body, "invalid_exchange_code");
    // A state for another provider of the same flock.
    add_apple(&app, &a, json!({})).await;
    let (_, loc, _) = start(&app, &a.slug, "google", &[("redirect_uri", PORTAL)]).await;
    let state = param(&loc, "state").unwrap();
    let (s, _, body) = callback(&app, &a.slug, "apple", &[("code", "c"), ("state", &state)]).await;
    report("a google state at the apple callback", s, &body);
    assert_error(&body, "invalid_state");
    // Flock A's ID token (its client id) at flock B: another audience.
    let t = idp.sign(&google_claims(
        &app,
        "g-x",
        "x@example.com",
        true,
        Some("xa"),
    ));
    let (s, body) = id_token_sign_in(
        &app,
        &b.slug,
        "google",
        json!({"id_token": t, "nonce": "xa"}),
    )
    .await;
    report("flock A's ID token at flock B", s, &body);
    assert_error(&body, "audience_mismatch");
}

#[tokio::test]
async fn identities_cannot_be_moved_between_accounts_nor_the_last_way_in_removed() {
    let (app, idp) = spawn_with_idp().await;
    let f = acme_flock(&app, "tk-3").await;
    add_google(&app, &f, json!({})).await;
    let (_, victim) = sign(
        &app,
        &idp,
        &f,
        google_claims(&app, "g-vic", "vic@example.com", true, Some("a")),
        "a",
    )
    .await;
    let attacker_at = app.user_token(&f.slug, "att@example.com").await;
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = true WHERE email = 'att@example.com'")
        .await;
    // Linking the victim's Google identity (a fresh token for it) to the attacker.
    let t = idp.sign(&google_claims(
        &app,
        "g-vic",
        "vic@example.com",
        true,
        Some("b"),
    ));
    let r = link_id_token(
        &app,
        &f.slug,
        &attacker_at,
        "google",
        json!({"id_token": t, "nonce": "b"}),
    )
    .await;
    let (s, b): (StatusCode, Value) = (r.status(), r.json().await.unwrap());
    report("linking an identity that belongs to another user", s, &b);
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "identity_already_linked");
    // Login CSRF on a link: the attacker starts a link for their account and gets the
    // victim to finish it; the victim's portal confirms with the victim's token.
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{}/user/identities/google/start", f.slug),
        )
        .bearer_auth(&attacker_at)
        .json(&json!({"redirect_uri": PORTAL}))
        .send()
        .await
        .unwrap();
    let url = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, state) = idp.authorize(
        &url,
        google_claims(&app, "g-vic2", "vic2@example.com", true, None),
    );
    let (_, back, _) = callback(
        &app,
        &f.slug,
        "google",
        &[("code", &code), ("state", &state)],
    )
    .await;
    let x = param(&back, "code").unwrap();
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{}/user/identities/confirm", f.slug),
        )
        .bearer_auth(victim["access_token"].as_str().unwrap())
        .json(&json!({"code": x}))
        .send()
        .await
        .unwrap();
    let (s, b): (StatusCode, Value) = (r.status(), r.json().await.unwrap());
    report(
        "a link started by another account, confirmed by the victim",
        s,
        &b,
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "link_user_mismatch");
    // The last way in: an account whose email is not verified and whose only credential
    // is its Google identity.
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = false WHERE email = 'vic@example.com'")
        .await;
    let vat = victim["access_token"].as_str().unwrap();
    let list: Value = my_identities(&app, &f.slug, vat).await;
    let id = list["items"][0]["id"].as_str().unwrap();
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/{}/user/identities/{id}", f.slug),
        )
        .bearer_auth(vat)
        .send()
        .await
        .unwrap();
    let (s, b): (StatusCode, Value) = (r.status(), r.json().await.unwrap());
    report("unlinking the last way to sign in", s, &b);
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "last_sign_in_method");
}

#[tokio::test]
async fn pre_hijacking_with_an_identity_linked_in_advance_is_refused() {
    let (app, idp) = spawn_with_idp().await;
    let f = app.create_flock("tk-1b").await;
    add_google(&app, &f, json!({})).await;
    // The attacker registers the victim's address and links their own Google account to
    // it, to come back through it once the owner has verified the address.
    let attacker_at = app.user_token(&f.slug, "victim2@example.com").await;
    let t = idp.sign(&google_claims(
        &app,
        "g-attacker2",
        "attacker@evil.example",
        true,
        Some("p1"),
    ));
    let r = link_id_token(
        &app,
        &f.slug,
        &attacker_at,
        "google",
        json!({"id_token": t, "nonce": "p1"}),
    )
    .await;
    let (s, b): (StatusCode, Value) = (r.status(), r.json().await.unwrap());
    report(
        "pre-hijack: linking an identity to an unproven account",
        s,
        &b,
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, "account_unverified");
    // Had one been linked (an account verified, then its email changed back), the
    // owner's first Google sign-in removes it: the attacker's identity signs nobody in.
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = true WHERE email = 'victim2@example.com'")
        .await;
    let t = idp.sign(&google_claims(
        &app,
        "g-attacker2",
        "attacker@evil.example",
        true,
        Some("p2"),
    ));
    let r = link_id_token(
        &app,
        &f.slug,
        &attacker_at,
        "google",
        json!({"id_token": t, "nonce": "p2"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.sql()
        .await
        .exec("UPDATE users SET email_verified = false WHERE email = 'victim2@example.com'")
        .await;
    let (s, b) = sign(
        &app,
        &idp,
        &f,
        google_claims(&app, "g-victim2", "victim2@example.com", true, Some("p3")),
        "p3",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = sign(
        &app,
        &idp,
        &f,
        google_claims(
            &app,
            "g-attacker2",
            "attacker@evil.example",
            true,
            Some("p4"),
        ),
        "p4",
    )
    .await;
    report(
        "pre-hijack: the attacker's linked identity after the owner's sign-in",
        s,
        &b,
    );
    assert_ne!(b["user"]["email"], "victim2@example.com", "{b}");
    let n: i64 = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM identities i JOIN users u ON u.id = i.user_id WHERE i.subject = 'g-attacker2' AND u.email = 'victim2@example.com'")
        .await;
    assert_eq!(
        n, 0,
        "the attacker's identity was removed with the unproven credentials"
    );
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_signs_nobody_in() {
    let (app, idp) = spawn_with_idp().await;
    let f = acme_flock(&app, "tk-1c").await;
    add_google(&app, &f, json!({})).await;
    // The attacker starts a flow, signs in at the provider as themselves and sends the
    // callback URL to the victim (login CSRF): the victim's browser lacks the binding.
    let (_, loc, _) = start(&app, &f.slug, "google", &[("redirect_uri", PORTAL)]).await;
    let (code, state) = idp.authorize(
        &loc,
        google_claims(&app, "g-csrf", "csrf@evil.example", true, None),
    );
    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/{}/user/federated/google/callback", f.slug),
        )
        .query(&[("code", code.as_str()), ("state", state.as_str())])
        .header(
            "Cookie",
            format!(
                "{}=someone-elses-value",
                fold::domain::federation::binding_cookie(&state)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    report(
        "a callback URL opened in another browser",
        r.status(),
        &json!({"code": param(&back, "error")}),
    );
    assert_eq!(param(&back, "error").as_deref(), Some("browser_mismatch"));
    assert!(param(&back, "code").is_none());
    let n: i64 = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM identities")
        .await;
    assert_eq!(n, 0);
}
