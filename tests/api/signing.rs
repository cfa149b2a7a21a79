//! Access tokens: a stock JWT library verifies them from the JWKS alone; rotation keeps
//! old tokens valid; a corpus of forged tokens is refused (docs/SECURITY.md battery item 13).
use crate::helpers::{tokens_of, TestApp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn jwks(app: &TestApp, slug: &str) -> JwkSet {
    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/{slug}/.well-known/jwks.json"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Verifies `token` with nothing but the JWKS document and jsonwebtoken's own checks.
fn stock_verify(set: &JwkSet, token: &str, iss: &str, aud: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("kid not in JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[iss]);
    v.set_audience(&[aud]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn a_fold_token_verifies_with_a_stock_jwt_library_from_the_jwks_alone() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (at, _) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let set = jwks(&app, &f.slug).await;
    let flock = app.flock_id(&f.slug).await;
    let iss = "https://fold.test/api/v1/acme";
    let aud = format!("fold:{flock}");
    let claims = stock_verify(&set, &at, iss, &aud).unwrap();
    assert_eq!(claims["role"], "client");
    assert!(claims["sid"].as_str().is_some());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    // And with a wrong audience the stock library refuses it too.
    assert!(stock_verify(&set, &at, iss, "fold:other").is_err());
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_old_tokens_keep_verifying() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (old, rt) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let r = app
        .platform(
            Method::POST,
            &format!("/platform/v1/flocks/{}/signing-keys/rotate", f.slug),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let new_kid = r.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(kid_of(&old), new_kid);
    // Old token: still accepted by Fold and by a stock verifier using the new JWKS.
    assert_eq!(app.me(&f.slug, &old).await.0, StatusCode::OK);
    let set = jwks(&app, &f.slug).await;
    assert_eq!(set.keys.len(), 2);
    let flock = app.flock_id(&f.slug).await;
    let (iss, aud) = ("https://fold.test/api/v1/acme", format!("fold:{flock}"));
    stock_verify(&set, &old, iss, &aud).unwrap();
    // New tokens (sign-in and refresh) carry the new kid.
    let (_, g) = app
        .sign_in(&f.slug, "ann@example.com", crate::helpers::PASSWORD)
        .await;
    let (fresh, _) = tokens_of(&g);
    assert_eq!(kid_of(&fresh), new_kid);
    stock_verify(&set, &fresh, iss, &aud).unwrap();
    let (s, g) = app.refresh(&f.slug, &rt).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(kid_of(&tokens_of(&g).0), new_kid);
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn raw_token(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

#[tokio::test]
async fn forged_access_tokens_are_all_refused() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("acme").await;
    let b = app.create_flock("bravo").await;
    let (genuine, _) = tokens_of(&app.grant(&a.slug, "ann@example.com").await);
    let (b_token, _) = tokens_of(&app.grant(&b.slug, "ann@example.com").await);
    assert_eq!(app.me(&a.slug, &genuine).await.0, StatusCode::OK);
    let fa = app.flock_id(&a.slug).await;
    let fb = app.flock_id(&b.slug).await;
    let keys_a = app.state.signing.for_flock(fa).await.unwrap();
    let keys_b = app.state.signing.for_flock(fb).await.unwrap();
    let kid = keys_a.signing_kid.clone();
    let base = claims_of(&genuine);
    let now = app.clock.unix();
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let mut hdr = Header::new(Algorithm::EdDSA);
    hdr.kid = Some(kid.clone());
    let real = &keys_a.signing;
    let public_raw = URL_SAFE_NO_PAD.decode(&keys_a.jwks[0].x).unwrap();
    let wrong_key = {
        let k = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        EncodingKey::from_ed_der(k.to_pkcs8_der().unwrap().as_bytes())
    };
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let mut no_kid = Header::new(Algorithm::EdDSA);
    no_kid.kid = None;
    let mut unknown_kid = Header::new(Algorithm::EdDSA);
    unknown_kid.kid = Some("nosuchkid0000000".into());
    let mut b_hdr = Header::new(Algorithm::EdDSA);
    b_hdr.kid = Some(keys_b.signing_kid.clone());
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(with("role", json!("manager")).to_string()),
        parts[2]
    );
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let tampered_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    let sig_bytes = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();

    let corpus: Vec<(&str, String)> = vec![
        (
            "alg none",
            raw_token(&json!({"alg":"none","typ":"JWT","kid":kid}), &base, b""),
        ),
        (
            "alg None",
            raw_token(&json!({"alg":"None","typ":"JWT","kid":kid}), &base, b""),
        ),
        (
            "HS256 with the public key bytes",
            sign(&hs, &base, &EncodingKey::from_secret(&public_raw)),
        ),
        (
            "HS256 with the public key base64",
            sign(
                &hs,
                &base,
                &EncodingKey::from_secret(keys_a.jwks[0].x.as_bytes()),
            ),
        ),
        (
            "RS256 header",
            raw_token(
                &json!({"alg":"RS256","typ":"JWT","kid":kid}),
                &base,
                &sig_bytes,
            ),
        ),
        (
            "ES256 header",
            raw_token(
                &json!({"alg":"ES256","typ":"JWT","kid":kid}),
                &base,
                &sig_bytes,
            ),
        ),
        (
            "PS256 header",
            raw_token(
                &json!({"alg":"PS256","typ":"JWT","kid":kid}),
                &base,
                &sig_bytes,
            ),
        ),
        ("wrong key, right kid", sign(&hdr, &base, &wrong_key)),
        (
            "other flock's key and kid",
            sign(&b_hdr, &base, &keys_b.signing),
        ),
        (
            "other flock's key, this kid",
            sign(&hdr, &base, &keys_b.signing),
        ),
        ("other flock's genuine token", b_token.clone()),
        ("expired", sign(&hdr, &with("exp", json!(now - 1)), real)),
        (
            "not yet valid",
            sign(&hdr, &with("nbf", json!(now + 300)), real),
        ),
        ("tampered payload", tampered_payload),
        ("tampered signature", tampered_sig),
        (
            "wrong iss",
            sign(
                &hdr,
                &with("iss", json!("https://evil.test/api/v1/acme")),
                real,
            ),
        ),
        (
            "other flock's iss",
            sign(
                &hdr,
                &with("iss", json!("https://fold.test/api/v1/bravo")),
                real,
            ),
        ),
        (
            "wrong aud",
            sign(&hdr, &with("aud", json!(format!("fold:{fb}"))), real),
        ),
        (
            "other flock id claim",
            sign(&hdr, &with("flock", json!(fb.to_string())), real),
        ),
        ("missing exp", sign(&hdr, &without("exp"), real)),
        ("missing aud", sign(&hdr, &without("aud"), real)),
        ("missing kid", sign(&no_kid, &base, real)),
        ("unknown kid", sign(&unknown_kid, &base, real)),
        (
            "unknown session",
            sign(
                &hdr,
                &with("sid", json!(uuid::Uuid::now_v7().to_string())),
                real,
            ),
        ),
        (
            "other user, same session",
            sign(
                &hdr,
                &with("sub", json!(uuid::Uuid::now_v7().to_string())),
                real,
            ),
        ),
        (
            "role raised, re-signed with the flock's own key",
            sign(&hdr, &with("role", json!("manager")), real),
        ),
        ("garbage", "not.a.jwt".into()),
        ("empty", String::new()),
        ("oversized", format!("{}{}", genuine, "A".repeat(5000))),
    ];
    let mut accepted = Vec::new();
    for (name, token) in &corpus {
        let (s, _) = app.me(&a.slug, token).await;
        if s.is_success() {
            accepted.push(*name);
        }
        assert!(
            s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST,
            "{name}: {s}"
        );
    }
    // The genuine token, once its exp has passed on the injected clock.
    app.clock.advance(chrono::Duration::seconds(901));
    let (s, _) = app.me(&a.slug, &genuine).await;
    if s.is_success() {
        accepted.push("genuine after expiry");
    }
    println!(
        "forged tokens: {} attempted / {} accepted {:?}",
        corpus.len() + 1,
        accepted.len(),
        accepted
    );
    assert!(accepted.is_empty());
}
