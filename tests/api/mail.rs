//! The durable mail outbox: written with the change that caused it, delivered by the
//! worker with retries, surviving a crash, and over real SMTP to a sink on loopback.
use crate::helpers::{token_in, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A minimal SMTP server on loopback that accepts every message and keeps its DATA.
struct SmtpSink {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    w.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(buf) = data.as_mut() {
                            if line == "." {
                                store.lock().unwrap().push(std::mem::take(buf));
                                data = None;
                                w.write_all(b"250 OK queued\r\n").await.ok();
                            } else {
                                buf.push_str(&line);
                                buf.push('\n');
                            }
                            continue;
                        }
                        let cmd = line.to_ascii_uppercase();
                        let reply: &[u8] = if cmd.starts_with("EHLO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if cmd.starts_with("DATA") {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        } else if cmd.starts_with("QUIT") {
                            w.write_all(b"221 bye\r\n").await.ok();
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        w.write_all(reply).await.ok();
                    }
                });
            }
        });
        SmtpSink { port, messages }
    }

    fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn activation_mail_is_delivered_over_smtp_to_a_loopback_server() {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = TestApp::builder()
        .config(|c| c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into()))
        .spawn()
        .await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"require_activation": true, "mail_from": "Acme <hello@acme.test>"}),
        )
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    let pass = app.state.mail_worker.run_once().await.unwrap();
    assert_eq!(pass.sent, 1);
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert!(m.contains("To: ann@example.com"), "{m}");
    assert!(m.contains("From: Acme <hello@acme.test>"), "{m}");
    assert!(m.contains("Activate your"), "{m}");
    assert!(m.contains("text/html"), "multipart text + HTML: {m}");
    // Follow the link from the SMTP copy (quoted-printable may wrap lines: undo soft breaks).
    let unwrapped = m.replace("=\n", "").replace("=3D", "=");
    let i = unwrapped.find("token=").unwrap() + 6;
    let token: String = unwrapped[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let (s, b) = app
        .user_post(&f.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn smtp_being_down_never_fails_a_registration_and_the_worker_retries_later() {
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let app = TestApp::builder()
        .config(|c| c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into()))
        .spawn()
        .await;
    let f = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    let (s, b) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let pass = app.state.mail_worker.run_once().await.unwrap();
    assert_eq!((pass.sent, pass.failed), (0, 1));
    // Backoff: not retried at once.
    let pass = app.state.mail_worker.run_once().await.unwrap();
    assert_eq!((pass.sent, pass.failed), (0, 0));
    let row = app
        .sql()
        .await
        .row("SELECT attempts, last_error, sent_at FROM mail_outbox")
        .await;
    assert_eq!(row.try_get::<i32>("", "attempts").unwrap(), 1);
    assert!(row
        .try_get::<Option<String>>("", "last_error")
        .unwrap()
        .is_some());
    // After the backoff the worker tries again (still down: a second failure).
    app.clock.advance(chrono::Duration::seconds(31));
    let pass = app.state.mail_worker.run_once().await.unwrap();
    assert_eq!((pass.sent, pass.failed), (0, 1));
}

#[tokio::test]
async fn a_crash_between_commit_and_delivery_loses_no_mail() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    let (s, _) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // The worker never ran: nothing delivered yet. Crash and restart on the same storage.
    assert!(app.outbox().is_empty());
    let app = app.restart().await;
    let mails = app.mails().await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    println!("mails delivered after restart: {}", mails.len());
    assert_eq!(mails.len(), 2, "{subjects:?}");
    assert!(subjects[0].starts_with("Activate"));
    assert!(subjects[1].starts_with("Reset"));
    // And the links still work in the new process.
    let token = token_in(&mails[0]);
    let (s, _) = app
        .user_post(&f.slug, "activate", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::OK);
    // Delivered once: another pass sends nothing more.
    assert_eq!(app.mails().await.len(), 2);
    // Delivered rows keep no plaintext secret.
    let rows = app
        .sql()
        .await
        .rows("SELECT text_body, html_body, sent_at FROM mail_outbox")
        .await;
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r.try_get::<String>("", "text_body").unwrap(), "");
        assert_eq!(r.try_get::<Option<String>>("", "html_body").unwrap(), None);
    }
}

#[tokio::test]
async fn registering_an_existing_email_under_the_protected_policy_mails_its_owner_a_notice() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert!(
        app.mails().await.is_empty(),
        "no activation required: no mail"
    );
    let (s, _) = app
        .register(&f.slug, "ann@example.com", "someone else's pass")
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let m = app.last_mail_to("ann@example.com").await;
    assert!(m.text.contains("already have one"), "{}", m.text);
    assert!(m.text.contains("https://fold.test/acme/reset-password"));
    // At most one notice an hour.
    for _ in 0..3 {
        app.register(&f.slug, "ann@example.com", "someone else's pass")
            .await;
    }
    assert_eq!(app.mails().await.len(), 1);
    app.clock.advance(chrono::Duration::minutes(61));
    app.register(&f.slug, "ann@example.com", "someone else's pass")
        .await;
    assert_eq!(app.mails().await.len(), 2);
}

#[tokio::test]
async fn links_use_the_flock_public_url_when_it_has_one() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"public_url": "https://portal.acme.test/"}))
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    app.user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    let m = app.last_mail_to("ann@example.com").await;
    assert!(
        m.text
            .contains("https://portal.acme.test/acme/reset-password?token="),
        "{}",
        m.text
    );
}

#[tokio::test]
async fn two_workers_racing_deliver_each_mail_exactly_once() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", json!({"require_activation": true}))
        .await;
    for i in 0..6 {
        app.register(&f.slug, &format!("u{i}@example.com"), PASSWORD)
            .await;
    }
    let w1 = app.state.mail_worker.clone();
    let w2 = app.state.mail_worker.clone();
    let (a, b) = tokio::join!(w1.run_once(), w2.run_once());
    let (a, b) = (a.unwrap(), b.unwrap());
    println!("racing workers: {} + {} sent for 6 mails", a.sent, b.sent);
    assert_eq!(a.sent + b.sent, 6);
    assert_eq!(app.outbox().len(), 6);
}

#[tokio::test]
async fn reset_tokens_do_not_work_in_another_flock() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("acme").await;
    let b = app.create_flock("beta").await;
    app.register(&a.slug, "ann@example.com", PASSWORD).await;
    app.user_post(&a.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    let token = token_in(&app.last_mail_to("ann@example.com").await);
    let (s, body) = app
        .user_post(
            &b.slug,
            "password",
            json!({"token": token, "password": "a cross flock attempt"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_token");
    let (s, _) = app
        .user_post(
            &a.slug,
            "password",
            json!({"token": token, "password": "the right flock this time"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_flock_can_override_its_mail_templates_and_bad_ones_are_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .platform(reqwest::Method::POST, "/platform/v1/flocks")
        .json(&json!({"slug": "bad", "settings": {"mail_templates": {"reset.txt": "{% if %}"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let f = app
        .create_flock_with(
            "acme",
            json!({"mail_templates": {"reset.subject": "Baa! {{ flock_name }} password",
                                      "reset.txt": "Go to {{ link }} within {{ ttl_hours }}h"}}),
        )
        .await;
    app.register(&f.slug, "ann@example.com", PASSWORD).await;
    app.user_post(&f.slug, "reset", json!({"email": "ann@example.com"}))
        .await;
    let m = app.last_mail_to("ann@example.com").await;
    assert!(m.subject.starts_with("Baa! "), "{}", m.subject);
    assert!(m
        .text
        .starts_with("Go to https://fold.test/acme/reset-password?token="));
    assert!(m.text.ends_with("within 1h"));
    let token = token_in(&m);
    let (s, _) = app
        .user_post(
            &f.slug,
            "password",
            json!({"token": token, "password": "templated passphrase"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}
