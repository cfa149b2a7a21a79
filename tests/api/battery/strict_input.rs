//! Strict input (docs/SECURITY.md battery item 28): NUL and control characters, duplicate
//! JSON keys, values of the wrong JSON type, look-alike content types, oversized chunked
//! bodies, out-of-range settings and wrong methods each get one clear answer in the error
//! shape, the same on SQLite and PostgreSQL, and change nothing.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = rb.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A JSON body sent as raw text (so it may hold what `json!` cannot: duplicate keys).
fn raw(rb: reqwest::RequestBuilder, body: &str) -> reqwest::RequestBuilder {
    rb.header("content-type", "application/json")
        .body(body.to_owned())
}

fn assert_refused(s: StatusCode, b: &Value, code: &str, field: &str, what: &str) {
    assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {b}");
    assert_error(b, code);
    assert_eq!(b["field"], field, "{what}: {b}");
}

#[tokio::test]
async fn nul_and_control_characters_are_refused_by_field_on_every_kind_of_text() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let keys = format!("/api/v1/{}/api-keys", f.slug);
    let count_keys = || async {
        let (_, b) = send(
            app.req(Method::GET, &keys)
                .header("X-Api-Key", &f.admin_key),
        )
        .await;
        b["keys"].as_array().map_or(0, Vec::len)
    };
    let keys_before = count_keys().await;
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        (
            app.platform(Method::POST, "/platform/v1/flocks")
                .json(&json!({"slug": "nulname", "name": "a\u{0}b"})),
            "name",
        ),
        (
            app.platform(Method::PATCH, &format!("/platform/v1/flocks/{}", f.slug))
                .json(&json!({"name": "a\u{0}b"})),
            "name",
        ),
        (
            app.platform(Method::PATCH, &format!("/platform/v1/flocks/{}", f.slug))
                .json(&json!({"name": "two\nlines"})),
            "name",
        ),
        (
            app.platform(Method::PATCH, &format!("/platform/v1/flocks/{}", f.slug))
                .json(&json!({"settings": {"mail_templates": {"welcome": "a\u{0}b"}}})),
            "settings.mail_templates.welcome",
        ),
        (
            app.req(Method::POST, &keys)
                .header("X-Api-Key", &f.admin_key)
                .json(&json!({"name": "k\u{0}", "scopes": ["list_api_keys"]})),
            "name",
        ),
        (
            app.req(Method::POST, &format!("/api/v1/{}/user/register", f.slug))
                .json(&json!({"email": "nul@example.com", "password": "correct\u{0}horse battery", "terms_accepted": true})),
            "password",
        ),
        (
            app.req(Method::POST, &format!("/api/v1/{}/user/register", f.slug))
                .json(&json!({"email": "bell@example.com", "password": PASSWORD, "first_name": "a\u{7}", "terms_accepted": true})),
            "first_name",
        ),
        (
            app.req(Method::POST, &format!("/api/v1/{}/device-tokens", f.slug))
                .json(&json!({"device_id": "phone\u{0}"})),
            "device_id",
        ),
        (
            app.req(Method::POST, &format!("/api/v1/{}/user/auth", f.slug))
                .json(&json!({"email": "nul@example.com", "password": PASSWORD, "source": "web\u{0}"})),
            "source",
        ),
    ];
    let n = cases.len();
    for (rb, field) in cases {
        let (s, b) = send(rb).await;
        assert_refused(s, &b, "invalid_request", field, field);
        assert!(b["request_id"].is_string());
    }
    // Nothing was written: no flock, no renamed flock, no key, no user.
    let (s, _) = send(app.platform(Method::GET, "/platform/v1/flocks/nulname")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, flock) =
        send(app.platform(Method::GET, &format!("/platform/v1/flocks/{}", f.slug))).await;
    assert!(!flock["name"].as_str().unwrap_or_default().contains('\u{0}'));
    assert_eq!(count_keys().await, keys_before);
    assert_eq!(app.user_rows().await, 0);
    // Text that may span lines still does where the field says so (a mail template).
    let (s, b) = send(
        app.platform(Method::PATCH, &format!("/platform/v1/flocks/{}", f.slug))
            .json(&json!({"settings": {"mail_templates": {"welcome.txt": "Hello\n\tworld"}}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    println!("NUL and control characters: {n} inputs refused with their field, 0 rows written");
}

#[tokio::test]
async fn duplicate_keys_and_wrongly_typed_values_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let keys = format!("/api/v1/{}/api-keys", f.slug);
    let (s, b) = send(raw(
        app.req(Method::POST, &keys)
            .header("X-Api-Key", &f.admin_key),
        r#"{"name":"d","scopes":["list_api_keys"],"scopes":["*"]}"#,
    ))
    .await;
    assert_refused(s, &b, "invalid_request", "scopes", "duplicate scopes");
    let (s, b) = send(raw(
        app.platform(Method::PATCH, &format!("/platform/v1/flocks/{}", f.slug)),
        r#"{"settings":{"otp":{"length":6,"length":4}}}"#,
    ))
    .await;
    assert_refused(
        s,
        &b,
        "invalid_request",
        "settings.otp.length",
        "nested duplicate",
    );
    let (_, list) = send(
        app.req(Method::GET, &keys)
            .header("X-Api-Key", &f.admin_key),
    )
    .await;
    let wildcard = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "d")
        .count();
    assert_eq!(wildcard, 0, "no key made from a body with duplicate keys");

    let slug = &f.slug;
    for (path, body, field) in [
        (
            format!("/api/v1/{slug}/device-tokens"),
            json!({"device_id": false}),
            "device_id",
        ),
        (
            format!("/api/v1/{slug}/user/register"),
            json!({"email": "t@example.com", "password": PASSWORD, "first_name": 42, "terms_accepted": true}),
            "first_name",
        ),
        (
            format!("/api/v1/{slug}/user/reset"),
            json!({"email": false}),
            "email",
        ),
    ] {
        let (s, b) = send(app.req(Method::POST, &path).json(&body)).await;
        assert_refused(s, &b, "invalid_request", field, &path);
    }
    assert_eq!(app.user_rows().await, 0);
    println!("duplicate keys: 2 bodies refused naming the key; wrong JSON types: 3 refused naming the field");
}

#[tokio::test]
async fn settings_out_of_range_name_their_field() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let path = format!("/platform/v1/flocks/{}", f.slug);
    for (settings, field) in [
        (
            json!({"password_min_length": -1}),
            "settings.password_min_length",
        ),
        (json!({"otp": {"length": 256}}), "settings.otp.length"),
        (
            json!({"access_token_ttl_secs": 1e12}),
            "settings.access_token_ttl_secs",
        ),
    ] {
        let (s, b) = send(
            app.platform(Method::PATCH, &path)
                .json(&json!({"settings": settings})),
        )
        .await;
        assert_refused(s, &b, "invalid_request", field, field);
    }
}

#[tokio::test]
async fn content_types_are_exact_chunked_bodies_over_the_limit_are_413_and_405_says_allow() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let register = format!("/api/v1/{}/user/register", f.slug);
    let body = |email: &str| {
        json!({"email": email, "password": PASSWORD, "terms_accepted": true}).to_string()
    };
    for (ct, want) in [
        (
            "application/json; charset=latin1",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "application/json; boundary=x",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("application/jsonx", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("application/json; charset=UTF-8", StatusCode::CREATED),
        ("application/json", StatusCode::CREATED),
    ] {
        let email = format!("ct{}@example.com", ct.len());
        let (s, b) = send(
            app.req(Method::POST, &register)
                .header("content-type", ct)
                .body(body(&email)),
        )
        .await;
        assert_eq!(s, want, "{ct}: {b}");
        if want == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            assert_error(&b, "unsupported_content_type");
        }
    }
    assert_eq!(app.user_rows().await, 2);

    // A 2 MB body without a length (chunked) is refused as too large, not as bad JSON.
    let big = format!(r#"{{"email":"{}@example.com"}}"#, "a".repeat(2 << 20));
    let stream = futures::stream::iter(
        big.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let (s, b) = send(
        app.req(Method::POST, &register)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream)),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(b["code"].is_string() && b["request_id"].is_string(), "{b}");

    // A wrong method: 405 in the error shape, with the methods the path has.
    let r = app.req(Method::DELETE, &register).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = r
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(allow.as_deref(), Some("POST"));
    let b: Value = r.json().await.unwrap();
    assert_error(&b, "method_not_allowed");
    println!("content types: 4 look-alikes refused 415, 2 exact ones accepted; 2 MB chunked body 413; 405 with Allow: POST");
}
