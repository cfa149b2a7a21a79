//! Battery item 24: the redirect allow-list. A code flow returns only to an origin the
//! flock lists, an app scheme it lists, or (when the flock turns the rule on) https on the
//! registrable domain of its public_url; every hostile URL is refused before anything is
//! stored.
use super::code_flow::PORTAL;
use crate::helpers::assert_error;
use crate::helpers::federation::*;
use reqwest::StatusCode;
use serde_json::json;

const HOSTILE: &[&str] = &[
    "https://evil.example/cb",
    "https://acme-corp.com.evil.example/cb",
    "https://evilacme-corp.com/cb",
    "https://app.acme-corp.com@evil.example/cb",
    "https://user:pw@app.acme-corp.com/cb",
    "https://app.acme-corp.com:443@evil.example/",
    "https://evil.example#@app.acme-corp.com/",
    "https://evil.example\\@app.acme-corp.com/",
    "https://evil.example?next=https://app.acme-corp.com/",
    "http://app.acme-corp.com/cb",
    "//evil.example/cb",
    "/relative/path",
    "javascript:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://app.acme-corp.com/cb",
    "https://127.0.0.1/cb",
    "https://[::1]/cb",
    "https://app.acme-corp.com./cb",
    "https://app.аcme-corp.com/cb",
    "https://app.acme-corp.com/cb#fragment",
    " https://app.acme-corp.com/cb",
    "https://app.acme-corp.com/cb\r\nLocation: https://evil.example",
    "http://localhost:3001/cb",
    "https://localhost:3000/cb",
    "com.evil.app:/cb",
    "com.acme.app://evil.example/cb",
    "https://portal.acme-corp.com%2eevil.example/",
    "https://app.acme-corp.com/cb?code=attacker-code",
    "https://app.acme-corp.com/cb?state=forged",
];

const ALLOWED: &[&str] = &[
    PORTAL,
    "https://acme-corp.com/cb?x=1",
    "https://portal.acme-corp.com/a/b",
    "http://localhost:3000/callback",
    "com.acme.app:/oauth2redirect",
];

#[tokio::test]
async fn hostile_redirect_uris_are_refused_and_allowed_ones_pass() {
    let (app, _idp) = spawn_with_idp().await;
    let f = app
        .create_flock_with(
            "fed-r1",
            json!({
                "public_url": "https://portal.acme-corp.com",
                "federation": {
                    "redirect_origins": ["http://localhost:3000", "com.acme.app:"],
                    "public_url_domain": true,
                },
            }),
        )
        .await;
    add_google(&app, &f, json!({})).await;
    let mut refused = 0;
    for url in HOSTILE {
        let (s, loc, b) = start(&app, &f.slug, "google", &[("redirect_uri", url)]).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{url:?} must be refused: {loc} {b}"
        );
        assert_error(&b, "redirect_uri_not_allowed");
        assert_eq!(b["field"], "redirect_uri");
        refused += 1;
    }
    let mut passed = 0;
    for url in ALLOWED {
        let (s, loc, b) = start(&app, &f.slug, "google", &[("redirect_uri", url)]).await;
        assert_eq!(s, StatusCode::FOUND, "{url} must pass: {b}");
        assert!(loc.contains("/google-accounts/"));
        passed += 1;
    }
    println!(
        "hostile redirect URIs refused: {refused}/{}; allowed ones passed: {passed}/{}",
        HOSTILE.len(),
        ALLOWED.len()
    );
    assert!(refused >= 20);
}

#[tokio::test]
async fn the_public_url_domain_rule_is_off_until_the_flock_turns_it_on() {
    let (app, _idp) = spawn_with_idp().await;
    let f = app.create_flock("fed-r2").await;
    add_google(&app, &f, json!({})).await;
    let (s, _, b) = start(&app, &f.slug, "google", &[("redirect_uri", PORTAL)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "redirect_uri_not_allowed");
    let g = app
        .create_flock_with(
            "fed-r3",
            json!({"public_url": "https://portal.acme-corp.com"}),
        )
        .await;
    add_google(&app, &g, json!({})).await;
    let (s, _, _) = start(&app, &g.slug, "google", &[("redirect_uri", PORTAL)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "off by default");
    let r = app
        .platform(reqwest::Method::PATCH, "/platform/v1/flocks/fed-r3")
        .json(&json!({"settings": {"federation": {"public_url_domain": true}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _, b) = start(&app, &g.slug, "google", &[("redirect_uri", PORTAL)]).await;
    assert_eq!(s, StatusCode::FOUND, "{b}");
    // Bad entries in the allow-list itself are refused by name.
    let r = app
        .platform(reqwest::Method::PATCH, "/platform/v1/flocks/fed-r3")
        .json(
            &json!({"settings": {"federation": {"redirect_origins": ["https://ok.example/path"]}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["field"], "settings.federation.redirect_origins");
}
