//! Load measurements (not a test): the OTP request+verify round trip, and the latency of
//! other endpoints while 500 connections hammer password sign-in.
//!
//! `cargo run --example otp_login_bench [-- SECONDS]` (debug build by default; add
//! `--release` on a machine of your own for production-like figures). It spawns the
//! server in-process on a loopback port with a temp SQLite database and the embedded KV
//! (set `TEST_REDIS_URL` to use Redis), and prints its figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use fold::app::AppState;
use fold::config::Config;
use fold::db::Db;
use fold::infra::clock::Clock;
use fold::infra::kv::{EmbeddedKv, Kv, RedisKv};
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PLATFORM_KEY: &str = "bench-platform-key-0123456789abcdef0123456789";

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.platform.key = Some(PLATFORM_KEY.to_owned().into());
    config.log.filter = "error".into();
    // A botnet: many IPs, so the per-IP and per-flock caps do not short-circuit the flood
    // (the per-account throttle still applies; every request uses a fresh email).
    config.security.login_ip_per_hour = 10_000_000;
    config.security.login_flock_per_hour = 10_000_000;
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("fold.db").display());
    config.database.url = db_url.clone().into();
    config.kv.path = dir.path().join("kv.redb");
    config.mail.outbox_dir = dir.path().join("outbox");
    config.sms.outbox_dir = dir.path().join("sms-outbox");
    let db = Db::connect(&db_url, 16).await.unwrap();
    db.migrate().await.unwrap();
    let kv = match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Kv::Redis(
            RedisKv::connect(
                &url,
                &format!("bench:{}:", uuid::Uuid::new_v4()),
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
        ),
        _ => Kv::Embedded(EmbeddedKv::open(&config.kv.path).unwrap()),
    };
    let sms_dir = config.sms.outbox_dir.clone();
    let clock = Clock::system();
    let state = AppState::with_parts(config, clock, db, kv).unwrap();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .unwrap()
        .to_string();
    tokio::spawn(fold::app::serve_on(state, acceptor, std::future::pending()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}/platform/v1/flocks"))
        .header("X-Platform-Key", PLATFORM_KEY)
        .json(&json!({"slug": "acme", "settings": {"otp": {"sends_per_ip_hour": 100000, "sms_per_flock_day": 1000000}}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "create flock: {}", r.status());

    // 1. OTP request + verify round trip (sequential, distinct numbers).
    let n = 200;
    let mut round = Vec::with_capacity(n);
    for i in 0..n {
        let phone = format!("+3579{i:07}");
        let t = Instant::now();
        let r = client
            .post(format!("{base}/api/v1/acme/user/otp"))
            .json(&json!({"channel": "sms", "identifier": phone, "purpose": "sign_in"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let sms = fold::infra::sms::read_outbox(&sms_dir);
        let text = &sms.iter().rev().find(|m| m.to == phone).unwrap().text;
        let code: String = text
            .split("code is ")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let r = client
            .post(format!("{base}/api/v1/acme/user/otp/verify"))
            .json(
                &json!({"channel": "sms", "identifier": phone, "purpose": "sign_in", "code": code}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        round.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "OTP request+verify round trip ({n} new accounts, includes reading the SMS outbox): p50 {:.1} ms, p99 {:.1} ms",
        pct(&mut round.clone(), 0.5),
        pct(&mut round, 0.99)
    );

    // 2. Login flood: 500 connections for `secs` seconds; a probe measures other endpoints.
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default()); // 401, 429, 503, other
    let mut flood = Vec::new();
    for w in 0..500 {
        let (client, base, stop, counts) =
            (client.clone(), base.clone(), stop.clone(), counts.clone());
        flood.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = client
                    .post(format!("{base}/api/v1/acme/user/auth"))
                    .json(&json!({"email": format!("w{w}-{i}@example.com"), "password": "wrong password guess"}))
                    .send()
                    .await;
                let slot = match r.map(|r| r.status().as_u16()) {
                    Ok(401) => 0,
                    Ok(429) => 1,
                    Ok(503) => 2,
                    _ => 3,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut probe = Vec::new();
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        for path in ["/healthz", "/api/v1/acme/.well-known/jwks.json"] {
            let t = Instant::now();
            let r: Value = client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(r.is_object());
            probe.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        let _ = f.await;
    }
    let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    println!(
        "login flood, 500 connections, {secs} s: sign-ins 401 {} / 429 {} / 503 busy {} / other {} ({:.0} req/s); \
         other endpoints during the flood: {} probes, p50 {:.1} ms, p99 {:.1} ms (target < 50 ms)",
        c[0],
        c[1],
        c[2],
        c[3],
        c.iter().sum::<u64>() as f64 / secs as f64,
        probe.len(),
        pct(&mut probe.clone(), 0.5),
        pct(&mut probe, 0.99)
    );
}
