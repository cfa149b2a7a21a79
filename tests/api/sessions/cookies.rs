//! Cookie mode for browser portals: `__Host-` cookies, CSRF on state-changing requests.
use crate::helpers::{assert_error, tokens_of, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;

/// name → (value, full Set-Cookie line).
fn set_cookies(r: &reqwest::Response) -> HashMap<String, (String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let line = v.to_str().unwrap().to_owned();
            let first = line.split(';').next().unwrap();
            let (k, val) = first.split_once('=').unwrap();
            (k.to_owned(), (val.to_owned(), line))
        })
        .collect()
}

fn jar(c: &HashMap<String, (String, String)>) -> String {
    c.iter()
        .map(|(k, (v, _))| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn a_cookie_session_uses_host_cookies_and_needs_the_csrf_token_to_change_state() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (_, rt) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let cookie_path = format!("/api/v1/{}/token/cookie", f.slug);
    let r = app
        .req(Method::POST, &cookie_path)
        .json(&json!({"refresh_token": rt}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c = set_cookies(&r);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    for name in [
        "__Host-fold_session",
        "__Host-fold_refresh",
        "__Host-fold_csrf",
    ] {
        let (_, line) = c.get(name).unwrap_or_else(|| panic!("{name} in {c:?}"));
        for attr in ["Path=/", "Secure", "SameSite=Lax"] {
            assert!(line.contains(attr), "{name}: {line}");
        }
        assert!(!line.contains("Domain"), "{line}");
        assert_eq!(
            line.contains("HttpOnly"),
            name != "__Host-fold_csrf",
            "{line}"
        );
    }
    assert_eq!(c["__Host-fold_csrf"].0, csrf);
    let cookies = jar(&c);
    // Reading needs only the cookie.
    let me = app
        .req(Method::GET, &format!("/api/v1/{}/user", f.slug))
        .header("Cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Changing state needs the CSRF header, and the right one.
    let active = format!("/api/v1/{}/user/session/active", f.slug);
    for hdr in [None, Some("wrong"), Some("")] {
        let mut rb = app.req(Method::POST, &active).header("Cookie", &cookies);
        if let Some(h) = hdr {
            rb = rb.header("X-CSRF-Token", h);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{hdr:?}");
        assert_error(&r.json().await.unwrap(), "csrf_failed");
    }
    let r = app
        .req(Method::POST, &active)
        .header("Cookie", &cookies)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Renewing from the refresh cookie alone (access cookie gone) also needs the header.
    let refresh_only = format!(
        "__Host-fold_refresh={}; __Host-fold_csrf={csrf}",
        c["__Host-fold_refresh"].0
    );
    let r = app
        .req(Method::POST, &cookie_path)
        .header("Cookie", &refresh_only)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .req(Method::POST, &cookie_path)
        .header("Cookie", &refresh_only)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c2 = set_cookies(&r);
    assert_ne!(
        c2["__Host-fold_refresh"].0, c["__Host-fold_refresh"].0,
        "rotated"
    );
    let csrf2 = r.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // End it: cookies cleared, session over.
    let r = app
        .req(Method::DELETE, &cookie_path)
        .header("Cookie", jar(&c2))
        .header("X-CSRF-Token", &csrf2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cleared = set_cookies(&r);
    assert!(cleared
        .values()
        .all(|(v, line)| v.is_empty() && line.contains("Max-Age=0")));
    let me = app
        .req(Method::GET, &format!("/api/v1/{}/user", f.slug))
        .header("Cookie", jar(&c2))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bearer_token_needs_no_csrf_header_even_with_cookies_present() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (at, _) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{}/user/session/active", f.slug),
        )
        .bearer_auth(&at)
        .header("Cookie", "__Host-fold_session=whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
