//! SMS providers against a local HTTP server the test starts: the webhook and the
//! Twilio-compatible provider send the right payload; a provider failure answers
//! 502/503 and burns neither the cooldown nor the send budget.
use crate::helpers::{assert_error, TestApp};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response};
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

/// A local HTTP server recording every request; the first `fail_first` answer 500.
pub struct FakeProvider {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Captured>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn fake_provider(fail_first: usize) -> FakeProvider {
    let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .unwrap()
        .to_string();
    let s2 = seen.clone();
    let ep = poem::endpoint::make(move |mut req: Request| {
        let seen = s2.clone();
        let calls = calls.clone();
        async move {
            let header = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let c = Captured {
                path: req.uri().path().to_owned(),
                authorization: header("authorization"),
                content_type: header("content-type"),
                body: req.take_body().into_string().await.unwrap_or_default(),
            };
            seen.lock().unwrap().push(c);
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < fail_first {
                Response::builder()
                    .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
                    .body("boom")
            } else {
                Response::builder()
                    .status(poem::http::StatusCode::CREATED)
                    .body("{\"sid\":\"SM1\"}")
            }
        }
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                ep,
                async {
                    let _ = rx.await;
                },
                None,
            )
            .await;
    });
    FakeProvider {
        url: format!("http://{addr}"),
        seen,
        _stop: tx,
    }
}

fn code_of(text: &str) -> String {
    crate::helpers::code_in(text)
}

#[tokio::test]
async fn otp_sms_webhook_provider_posts_json_with_the_bearer_token_and_the_code_works() {
    let fake = fake_provider(0).await;
    let url = format!("{}/sms", fake.url);
    let app = TestApp::builder()
        .config(|c| {
            c.sms.provider = "webhook".into();
            c.sms.webhook_url = Some(url);
            c.sms.webhook_token = Some("hook-secret".to_owned().into());
        })
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let (s, b) = app.request_otp(&f.slug, "+35799123456", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/sms");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer hook-secret"));
    assert!(seen[0]
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json")));
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["to"], "+35799123456");
    let code = code_of(body["text"].as_str().unwrap());
    assert_eq!(code.len(), 6);
    assert!(app.sms_outbox().is_empty(), "not written to the outbox");
    let (s, b) = app
        .verify_otp(
            &f.slug,
            "+35799123456",
            "sign_in",
            &code,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn otp_sms_twilio_provider_posts_the_form_with_basic_auth_to_the_configured_base_url() {
    let fake = fake_provider(0).await;
    let base = fake.url.clone();
    let app = TestApp::builder()
        .config(|c| {
            c.sms.provider = "twilio".into();
            c.sms.twilio_base_url = base;
            c.sms.twilio_account_sid = Some("AC123".into());
            c.sms.twilio_auth_token = Some("tok".to_owned().into());
            c.sms.twilio_from = Some("+15550001111".into());
        })
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let (s, b) = app.request_otp(&f.slug, "+447700900123", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/2010-04-01/Accounts/AC123/Messages.json");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("AC123:tok");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(seen[0].body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("To").as_deref(), Some("+447700900123"));
    assert_eq!(get("From").as_deref(), Some("+15550001111"));
    assert_eq!(code_of(&get("Body").unwrap()).len(), 6);
}

#[tokio::test]
async fn otp_sms_provider_failure_answers_502_and_burns_neither_cooldown_nor_budget() {
    let fake = fake_provider(1).await;
    let url = format!("{}/sms", fake.url);
    let app = TestApp::builder()
        .config(|c| {
            c.sms.provider = "webhook".into();
            c.sms.webhook_url = Some(url);
        })
        .spawn()
        .await;
    let f = app
        .create_flock_with(
            "acme",
            serde_json::json!({"otp": {"sends_per_identifier_hour": 1}}),
        )
        .await;
    let (s, b) = app.request_otp(&f.slug, "+35799123456", "sign_in").await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{b}");
    assert_error(&b, "sms_provider_failed");
    assert!(!b.to_string().contains("boom"), "provider body not leaked");
    // Immediately again: no cooldown burned, and the hourly cap of 1 is still free.
    let (s, b) = app.request_otp(&f.slug, "+35799123456", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    // The failed send left no live code behind; the second one works.
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let first: Value = serde_json::from_str(&seen[0].body).unwrap();
    let second: Value = serde_json::from_str(&seen[1].body).unwrap();
    let (c1, c2) = (
        code_of(first["text"].as_str().unwrap()),
        code_of(second["text"].as_str().unwrap()),
    );
    if c1 != c2 {
        let (s, _) = app
            .verify_otp(
                &f.slug,
                "+35799123456",
                "sign_in",
                &c1,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "the unsent code is dead");
    }
    let (s, b) = app
        .verify_otp(
            &f.slug,
            "+35799123456",
            "sign_in",
            &c2,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Now the cap of 1 per hour holds (after the cooldown).
    app.clock.advance(chrono::Duration::seconds(61));
    let (s, b) = app.request_otp(&f.slug, "+35799123456", "sign_in").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert_error(&b, "rate_limited");
}

#[tokio::test]
async fn otp_sms_unreachable_provider_answers_503_with_a_clear_code() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms", dead.local_addr().unwrap());
    drop(dead);
    let app = TestApp::builder()
        .config(|c| {
            c.sms.provider = "webhook".into();
            c.sms.webhook_url = Some(url);
            c.sms.timeout_secs = 2;
        })
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let (s, b) = app.request_otp(&f.slug, "+35799123456", "sign_in").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, "sms_provider_unavailable");
    let (s, b) = app.request_otp(&f.slug, "+35799123456", "sign_in").await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "not 429: no cooldown burned: {b}"
    );
}
