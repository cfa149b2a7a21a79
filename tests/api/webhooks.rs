//! Webhooks: events written with their changes and delivered to a receiver that checks
//! Standard Webhooks signatures with the reference library; a receiver down for hours
//! gets every event once after it comes back; 410 disables; private addresses refused.
use crate::helpers::webhooks::{Received, Receiver};
use crate::helpers::{assert_error, TestApp, TestFlock, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;

async fn spawn() -> TestApp {
    TestApp::builder()
        .config(|c| c.webhooks.allow_private_networks = true)
        .spawn()
        .await
}

async fn endpoint(app: &TestApp, f: &TestFlock, url: &str, types: Value) -> (String, String) {
    let (s, b) = app
        .bo(
            Method::POST,
            &format!("/api/v1/{}/webhooks", f.slug),
            &f.admin_key,
            Some(json!({"url": url, "event_types": types})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (
        b["endpoint"]["id"].as_str().unwrap().to_owned(),
        b["secret"].as_str().unwrap().to_owned(),
    )
}

async fn round(app: &TestApp) -> fold::domain::webhooks::worker::Round {
    app.state.webhook_worker.run_once().await.unwrap()
}

fn verify(secret: &str, r: &Received) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(&r.body, &r.headers)
        .unwrap_or_else(|e| panic!("signature of {}: {e:?}", r.json()));
}

#[tokio::test]
async fn events_reach_the_receiver_signed_as_standard_webhooks_require() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let f = app.create_flock("wh-1").await;
    let (_, secret) = endpoint(&app, &f, &hook.url, json!([])).await;
    assert!(secret.starts_with("whsec_"));
    let token = app.user_token(&f.slug, "ann@example.com").await;
    app.bo_create_user(&f, json!({"email": "contact@example.com"}))
        .await;
    let (_, me) = app.me(&f.slug, &token).await;
    let ann = me["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .bo(
            Method::POST,
            &format!("/api/v1/{}/directory/users/{ann}/status", f.slug),
            &f.admin_key,
            Some(json!({"status": "inactive"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = round(&app).await;
    println!("webhook round: {r:?}");
    let got = hook.got();
    for g in &got {
        verify(&secret, g);
    }
    let types: Vec<String> = got
        .iter()
        .map(|g| g.json()["type"].as_str().unwrap().to_owned())
        .collect();
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("user.created"), 2, "{types:?}");
    assert_eq!(
        count("user.registered"),
        1,
        "the back office's contact is not registered: {types:?}"
    );
    assert_eq!(count("user.signed_in"), 1, "{types:?}");
    assert_eq!(count("user.status_changed"), 1, "{types:?}");
    let changed = got
        .iter()
        .find(|g| g.json()["type"] == "user.status_changed")
        .unwrap()
        .json();
    assert_eq!(
        changed["data"],
        json!({"user_id": ann, "from": "active", "to": "inactive"})
    );
    let created = got
        .iter()
        .find(|g| g.json()["type"] == "user.created")
        .unwrap()
        .json();
    assert!(
        created["id"].is_string()
            && created["occurred_at"].is_string()
            && created["flock"].is_string()
    );
    // No secret in any event.
    let all = got
        .iter()
        .map(|g| String::from_utf8_lossy(&g.body).to_string())
        .collect::<String>();
    assert!(!all.contains(PASSWORD) && !all.contains(&token), "{all}");
    // A second round has nothing left to send.
    let r = round(&app).await;
    assert_eq!((r.delivered, r.fanned_out), (0, 0));
    // The deliveries are listed as succeeded.
    let (_, list) = app
        .bo(
            Method::GET,
            &format!("/api/v1/{}/webhooks", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    let ep = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, d) = app
        .bo(
            Method::GET,
            &format!(
                "/api/v1/{}/webhooks/{ep}/deliveries?status=succeeded",
                f.slug
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(d["items"].as_array().unwrap().len(), got.len());
}

#[tokio::test]
async fn a_receiver_down_for_six_hours_gets_every_event_exactly_once_after_it_comes_back() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let f = app.create_flock("wh-2").await;
    let (_, secret) = endpoint(&app, &f, &hook.url, json!(["user.created"])).await;
    hook.answer(503);
    for i in 0..20 {
        app.register(&f.slug, &format!("u{i}@example.com"), PASSWORD)
            .await;
    }
    // Six hours of a receiver answering 503, the worker running every ten minutes.
    let mut attempts_while_down = 0;
    for _ in 0..36 {
        round(&app).await;
        attempts_while_down = hook.got().len();
        app.clock.advance(chrono::Duration::minutes(10));
    }
    assert!(hook.accepted().is_empty());
    hook.answer(200);
    // Back: within the next retry step (at most ten hours) everything arrives.
    for _ in 0..70 {
        round(&app).await;
        app.clock.advance(chrono::Duration::minutes(10));
    }
    let ok = hook.accepted();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for r in &ok {
        *by_id.entry(r.id()).or_default() += 1;
        // The timestamp is the sender's (moved) clock: the signature is checked with the
        // reference library's signing function.
        let ts: i64 = r.headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let wh = standardwebhooks::Webhook::new(&secret).unwrap();
        let expected = wh.sign(&r.id(), ts, &r.body).unwrap();
        assert!(r.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .any(|s| s == expected));
    }
    println!(
        "receiver down 6 h: {attempts_while_down} attempts refused, then {} events delivered, {} distinct ids, max copies of one id {}",
        ok.len(),
        by_id.len(),
        by_id.values().max().copied().unwrap_or(0)
    );
    assert_eq!(by_id.len(), 20, "every event once");
    assert!(by_id.values().all(|n| *n == 1), "none twice");
    // Every attempt of one event carried the same id.
    let ids: std::collections::HashSet<String> = hook.got().iter().map(Received::id).collect();
    assert_eq!(ids.len(), 20);
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_a_private_address_is_refused() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let f = app.create_flock("wh-3").await;
    let (ep, _) = endpoint(&app, &f, &hook.url, json!([])).await;
    hook.answer(410);
    app.register(&f.slug, "a@example.com", PASSWORD).await;
    round(&app).await;
    let (_, e) = app
        .bo(
            Method::GET,
            &format!("/api/v1/{}/webhooks/{ep}", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(
        (e["enabled"].clone(), e["disabled_reason"].clone()),
        (json!(false), json!("gone"))
    );
    let before = hook.got().len();
    app.register(&f.slug, "b@example.com", PASSWORD).await;
    round(&app).await;
    assert_eq!(hook.got().len(), before, "nothing more after 410");
    println!("410: endpoint disabled after {before} request(s)");

    // Without allow_private_networks: refused at creation…
    let strict = TestApp::spawn().await;
    let g = strict.create_flock("wh-4").await;
    for url in [
        hook.url.as_str(),
        "http://169.254.169.254/latest",
        "https://10.0.0.5/hook",
        "https://[::1]/hook",
        "ftp://example.com/x",
    ] {
        let (s, b) = strict
            .bo(
                Method::POST,
                &format!("/api/v1/{}/webhooks", g.slug),
                &g.admin_key,
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {b}");
        assert_error(&b, "webhook_url_refused");
    }
    // …and at delivery time: an endpoint whose address became a private one after it
    // was created (written here straight into the table) is refused when delivering.
    let (s, b) = strict
        .bo(
            Method::POST,
            &format!("/api/v1/{}/webhooks", g.slug),
            &g.admin_key,
            Some(json!({"url": "https://hooks.example.com/x"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    strict
        .sql()
        .await
        .exec(&format!(
            "UPDATE webhook_endpoints SET url = '{}'",
            hook.url.replace("http://", "https://")
        ))
        .await;
    strict.register(&g.slug, "c@example.com", PASSWORD).await;
    let r = strict.state.webhook_worker.run_once().await.unwrap();
    assert_eq!(r.delivered, 0);
    let ep = b["endpoint"]["id"].as_str().unwrap();
    let (_, d) = strict
        .bo(
            Method::GET,
            &format!("/api/v1/{}/webhooks/{ep}/deliveries", g.slug),
            &g.admin_key,
            None,
        )
        .await;
    println!(
        "a private address at delivery time: {}",
        d["items"][0]["last_error"]
    );
    assert_eq!(d["items"][0]["status"], "pending");
    assert!(
        d["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("private address"),
        "{d}"
    );
    assert_eq!(hook.got().len(), before, "the receiver got nothing");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_replays_resend_the_same_event() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let f = app.create_flock("wh-5").await;
    let (ep, old) = endpoint(&app, &f, &hook.url, json!([])).await;
    let (s, b) = app
        .bo(
            Method::POST,
            &format!("/api/v1/{}/webhooks/{ep}/rotate-secret", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let new = b["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (s, b) = app
        .bo(
            Method::POST,
            &format!("/api/v1/{}/webhooks/{ep}/test", f.slug),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let delivery = b["delivery_id"].as_str().unwrap().to_owned();
    round(&app).await;
    let got = hook.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "webhook.test");
    verify(&old, &got[0]);
    verify(&new, &got[0]);
    assert_eq!(
        got[0].headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    // Replay: the same event (same webhook-id) again.
    let (s, _) = app
        .bo(
            Method::POST,
            &format!(
                "/api/v1/{}/webhooks/{ep}/deliveries/{delivery}/replay",
                f.slug
            ),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    round(&app).await;
    let got = hook.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id(), got[1].id());
    // A day later only the new secret signs.
    app.clock.advance(chrono::Duration::hours(25));
    app.bo(
        Method::POST,
        &format!("/api/v1/{}/webhooks/{ep}/test", f.slug),
        &f.admin_key,
        None,
    )
    .await;
    round(&app).await;
    let last = hook.got().pop().unwrap();
    assert_eq!(
        last.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    // Replay of a time range makes new deliveries of the events in it.
    let from = (app.clock.now() - chrono::Duration::days(2)).to_rfc3339();
    let to = (app.clock.now() + chrono::Duration::minutes(1)).to_rfc3339();
    let (s, b) = app
        .bo(
            Method::POST,
            &format!("/api/v1/{}/webhooks/{ep}/replay", f.slug),
            &f.admin_key,
            Some(json!({"from": from, "to": to})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert!(b["queued"].as_u64().unwrap() >= 2, "{b}");
}

#[tokio::test]
async fn a_worker_that_dies_mid_delivery_loses_nothing() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let f = app.create_flock("wh-6").await;
    endpoint(&app, &f, &hook.url, json!(["user.created"])).await;
    app.register(&f.slug, "z@example.com", PASSWORD).await;
    // A worker that claims the delivery and dies before recording anything: the lease
    // expires and the next round sends it, with the same id.
    hook.delay(3_000);
    let w = app.state.webhook_worker.clone();
    let dying = tokio::spawn(async move { w.run_once().await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    dying.abort();
    assert_eq!(hook.got().len(), 1, "the request was in flight");
    hook.delay(0);
    let r = round(&app).await;
    assert_eq!(r.delivered, 0, "leased: not sent twice at once");
    app.clock.advance(chrono::Duration::minutes(2));
    let r = round(&app).await;
    assert_eq!(r.delivered, 1);
    let got = hook.got();
    println!(
        "worker killed mid-delivery: {} requests, ids {:?}",
        got.len(),
        got.iter().map(Received::id).collect::<Vec<_>>()
    );
    assert_eq!(got[0].id(), got[1].id());
}

/// The server itself killed with SIGKILL while the receiver holds a delivery: after a
/// restart the event is sent again under the same id and ends delivered.
#[tokio::test]
async fn kill_9_of_the_server_mid_delivery_loses_no_event() {
    use crate::helpers::process::{self, Server};
    let hook = Receiver::start().await;
    hook.delay(2_000);
    let dir = tempfile::tempdir().unwrap();
    let db_url = process::database_url(dir.path()).await;
    let env = [
        ("FOLD_WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ("FOLD_WEBHOOKS__TIMEOUT_SECS", "3".to_owned()),
        ("FOLD_WEBHOOKS__INTERVAL_MS", "200".to_owned()),
    ];
    let mut server = Server::start(dir.path(), &db_url, &env).await;
    let key = process::create_flock(&server.base, "acme").await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/api/v1/acme/webhooks", server.base))
        .header("X-Api-Key", &key)
        .json(&json!({"url": hook.url, "event_types": ["user.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ep = r.json::<Value>().await.unwrap()["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        process::register(&server.base, "acme", "k9@example.com").await,
        Some(StatusCode::CREATED)
    );
    for _ in 0..100 {
        if !hook.got().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(hook.got().len(), 1, "the delivery is in flight");
    server.kill9();
    hook.delay(0);
    let server = Server::start(dir.path(), &db_url, &env).await;
    let mut status = Value::Null;
    for _ in 0..200 {
        let d: Value = c
            .get(format!(
                "{}/api/v1/acme/webhooks/{ep}/deliveries",
                server.base
            ))
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        status = d["items"][0]["status"].clone();
        if status == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = hook.got();
    println!(
        "kill -9 mid-delivery: delivery {status} after restart, {} requests, all with the same id: {}",
        got.len(),
        got.iter().all(|g| g.id() == got[0].id())
    );
    assert_eq!(status, "succeeded");
    assert!(got.len() >= 2 && got.iter().all(|g| g.id() == got[0].id()));
}
