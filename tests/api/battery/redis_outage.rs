//! Battery 19: Redis killed and restarted during a sign-in / authenticated-read mix. While
//! it is down every answer that needs a session is 503, never a 200; afterwards the server
//! recovers by itself and sessions persisted by Redis (AOF) are still valid.
use crate::helpers::process::{self, Server};
use crate::helpers::PASSWORD;
use reqwest::StatusCode;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on `port` keeping its files in `dir`, with `appendonly` as given (the
/// append-only file synced on every write when on).
fn start_redis(dir: &Path, port: u16, appendonly: &str) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            appendonly,
            "--appendfsync",
            "always",
            "--dir",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[tokio::test]
async fn redis_killed_and_restarted_gives_only_503s_and_loses_no_session() {
    // Runs in the PostgreSQL + Redis pass of scripts/test.sh, which installs redis-server.
    if std::env::var("TEST_REDIS_URL").map_or(true, |v| v.is_empty()) {
        println!("redis outage: skipped in the embedded pass (runs with TEST_REDIS_URL)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let port = process::free_port();
    let mut redis = start_redis(&redis_dir, port, "yes");
    let db_url = process::database_url(dir.path()).await;
    let server = Server::start(
        dir.path(),
        &db_url,
        &[("FOLD_KV__URL", format!("redis://127.0.0.1:{port}"))],
    )
    .await;
    let base = server.base.clone();
    process::create_flock(&base, "acme").await;
    let mut tokens = Vec::new();
    for i in 0..4 {
        let email = format!("u{i}@example.com");
        process::register(&base, "acme", &email).await;
        let r = process::sign_in(&base, "acme", &email, PASSWORD).await;
        let b: serde_json::Value = r.json().await.unwrap();
        tokens.push(b["access_token"].as_str().unwrap().to_owned());
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut log: Vec<(Duration, Duration, StatusCode)> = Vec::new();
    let mut killed_at = None;
    let mut restarted_at = None;
    let mut i = 0usize;
    loop {
        let t0 = started.elapsed();
        if killed_at.is_none() && t0 > Duration::from_millis(500) {
            redis.kill().ok();
            redis.wait().ok();
            killed_at = Some(started.elapsed());
        }
        if restarted_at.is_none() && t0 > Duration::from_millis(2500) {
            redis = start_redis(&redis_dir, port, "yes");
            restarted_at = Some(started.elapsed());
        }
        let status = if i % 5 == 4 {
            let email = format!("u{}@example.com", i % 4);
            match client
                .post(format!("{base}/api/v1/acme/user/auth"))
                .json(&serde_json::json!({"email": email, "password": PASSWORD}))
                .send()
                .await
            {
                Ok(r) => r.status(),
                Err(_) => StatusCode::GATEWAY_TIMEOUT,
            }
        } else {
            match client
                .get(format!("{base}/api/v1/acme/user"))
                .bearer_auth(&tokens[i % tokens.len()])
                .send()
                .await
            {
                Ok(r) => r.status(),
                Err(_) => StatusCode::GATEWAY_TIMEOUT,
            }
        };
        let t1 = started.elapsed();
        log.push((t0, t1, status));
        i += 1;
        if let Some(r) = restarted_at {
            let recovered = log.iter().any(|(s, _, st)| *s > r && *st == StatusCode::OK);
            if recovered && t0 > r + Duration::from_secs(1) || t0 > Duration::from_secs(20) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (down, up) = (killed_at.unwrap(), restarted_at.unwrap());
    // Requests entirely inside the outage.
    let during: Vec<_> = log
        .iter()
        .filter(|(s, e, _)| *s > down && *e < up)
        .collect();
    let ok_during = during.iter().filter(|(_, _, s)| s.is_success()).count();
    let non_503 = during
        .iter()
        .filter(|(_, _, s)| *s != StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let recovery = log
        .iter()
        .find(|(s, _, st)| *s > up && *st == StatusCode::OK)
        .map(|(s, _, _)| *s - up);
    // Every pre-outage session still works (AOF with fsync always keeps them).
    let mut lost = 0;
    for t in &tokens {
        let r = client
            .get(format!("{base}/api/v1/acme/user"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            lost += 1;
        }
    }
    println!(
        "redis outage: {} requests while down, {ok_during} authorised, {non_503} not 503; \
         recovery after restart {:?}; sessions lost {lost}/{}",
        during.len(),
        recovery,
        tokens.len()
    );
    assert!(!during.is_empty());
    assert_eq!(
        ok_during, 0,
        "nothing authorised while the session store is down"
    );
    assert_eq!(non_503, 0, "only 503s while down");
    assert!(recovery.is_some(), "the server recovers by itself");
    assert_eq!(lost, 0);
    redis.kill().ok();
    redis.wait().ok();
    drop(server);
}

#[tokio::test]
async fn redis_without_persistence_is_warned_about_and_with_it_is_not() {
    if std::env::var("TEST_REDIS_URL").map_or(true, |v| v.is_empty()) {
        println!(
            "redis persistence warning: skipped in the embedded pass (runs with TEST_REDIS_URL)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = process::free_port();
    let mut redis = start_redis(dir.path(), port, "no");
    let url = format!("redis://127.0.0.1:{port}");
    let kv = fold::infra::kv::RedisKv::connect(&url, "warn:", Duration::from_secs(1)).unwrap();
    let off = kv.warn_without_persistence().await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query_async(&mut c)
        .await
        .unwrap();
    let on = kv.warn_without_persistence().await;
    redis.kill().ok();
    redis.wait().ok();
    println!(
        "redis persistence warning: appendonly no → warned {off}; appendonly yes → warned {on}"
    );
    assert!(off && !on);
}

#[tokio::test]
async fn a_frozen_redis_answers_503_and_later_requests_fail_fast() {
    // A "Redis" that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let app = crate::helpers::TestApp::builder()
        .config(|c| c.kv.timeout_ms = 200)
        .redis(&url)
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    // The first request finds out (it waits for the connection attempts); the breaker
    // then answers at once until a probe after one timeout finds Redis again.
    let mut waits = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (s, b) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
        waits.push(started.elapsed().as_millis());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    println!("frozen Redis, kv.timeout_ms = 200: 5 sign-ins answered 503 after {waits:?} ms");
    assert!(waits[1..].iter().all(|w| *w < 1000), "{waits:?}");
}
