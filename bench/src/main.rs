//! `fold-bench`: N concurrent keep-alive connections against a running Fold server.
//!
//! Scenarios: `healthz` (the HTTP ceiling: `GET /healthz`), `me` (authenticated
//! `GET /api/v1/{flock}/user`), `otp` and `otp-signin` (one-time-code round trips with
//! the SMS received in-process, see `otp.rs`), `refresh` (each
//! connection refreshes its own chain, one call after the other), `login`
//! (`POST /api/v1/{flock}/user/auth` over a pool of users), `directory` (latency of the
//! back office's reads on a seeded directory, see `directory.rs`), `card`, `upload` and
//! `upload-me` (profile data, see `profile.rs`), `retention` (sign-in latency while the
//! retention job purges a backlog, see `retention.rs`). Setup goes through the API
//! only: a flock is created with the platform key (or `--flock` names an existing one
//! whose self-registration is open) and users register themselves. Prints requests/s,
//! p50/p99/max latency, errors, the server's peak RSS (`--server-pid`), and what one
//! request cost in KV calls, KV commits, SQL statements and write transactions (read
//! from the server's `/metrics` before and after).
mod directory;
mod federation;
mod ops;
mod otp;
mod profile;
mod retention;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
#[command(about = "Load generator for Fold")]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// `healthz`, `me`, `refresh`, `login`, `all`, `otp`, `otp-signin`, `card`, `upload`,
    /// `upload-me`, `federated`, `directory`, `retention` (sign-ins while a purge runs),
    /// or `argon2` (the raw hash rate, no server).
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Concurrent connections (one task and one keep-alive connection each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Users registered for the `login` scenario.
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// An existing flock; otherwise one is created with the platform key.
    #[arg(long)]
    flock: Option<String>,
    /// Platform key for creating the flock.
    #[arg(long, env = "FOLD_PLATFORM_KEY")]
    platform_key: Option<String>,
    /// The server's pid, to report its peak RSS (VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,
    /// `directory`: an API key of `--flock` (scopes `users_*`, `user_meta_*`).
    #[arg(long, env = "FOLD_API_KEY")]
    api_key: Option<String>,
    /// `directory`: how many users the flock holds (as seeded).
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// `directory`: the domain of the seeded emails (default `{flock}.test`).
    #[arg(long)]
    domain: Option<String>,
    /// `directory`: calls per measured operation.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// `otp`, `otp-signin`: the port of the SMS receiver the server's webhook provider
    /// posts to (`sms.webhook_url = http://127.0.0.1:PORT/sms`).
    #[arg(long, default_value_t = 18099)]
    sms_port: u16,
}

const PASSWORD: &str = "bench password 0123456789";

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn post(c: &reqwest::Client, url: &str, body: Value) -> Result<(u16, Value)> {
    let r = c.post(url).json(&body).send().await?;
    let s = r.status().as_u16();
    Ok((s, r.json().await.unwrap_or(Value::Null)))
}

async fn setup_flock(a: &Args, c: &reqwest::Client) -> Result<String> {
    create_flock(a, c, "bench", json!({})).await
}

/// `--flock`, or a new flock `{prefix}{random}` with `settings`, created with the
/// platform key.
async fn create_flock(
    a: &Args,
    c: &reqwest::Client,
    prefix: &str,
    settings: Value,
) -> Result<String> {
    if let Some(f) = &a.flock {
        return Ok(f.clone());
    }
    let key = a
        .platform_key
        .as_deref()
        .context("--flock or --platform-key (FOLD_PLATFORM_KEY) is required")?;
    let slug = format!("{prefix}{}", rand::random::<u32>());
    let r = c
        .post(format!("{}/platform/v1/flocks", a.url))
        .header("X-Platform-Key", key)
        .json(&json!({"slug": slug, "settings": settings}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create flock: {} {}", r.status(), r.text().await?);
    }
    Ok(slug)
}

/// Serves `app` on `127.0.0.1:{port}` in the background, once it accepts connections.
async fn serve_local(port: u16, app: impl poem::Endpoint + 'static) -> Result<()> {
    let addr = format!("127.0.0.1:{port}");
    let listen = addr.clone();
    tokio::spawn(async move {
        let _ = poem::Server::new(poem::listener::TcpListener::bind(listen))
            .run(app)
            .await;
    });
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("nothing answers on {addr}")
}

async fn register(a: &Args, c: &reqwest::Client, flock: &str, email: &str) -> Result<()> {
    let (s, b) = post(
        c,
        &format!("{}/api/v1/{flock}/user/register", a.url),
        json!({"email": email, "password": PASSWORD, "terms_accepted": true}),
    )
    .await?;
    if s != 201 {
        bail!("register {email}: {s} {b}");
    }
    Ok(())
}

async fn sign_in(a: &Args, c: &reqwest::Client, flock: &str, email: &str) -> Result<Value> {
    let (s, b) = post(
        c,
        &format!("{}/api/v1/{flock}/user/auth", a.url),
        json!({"email": email, "password": PASSWORD}),
    )
    .await?;
    if s != 200 {
        bail!("sign in {email}: {s} {b}");
    }
    Ok(b)
}

fn field(v: &Value, k: &str) -> Result<String> {
    v[k].as_str()
        .map(str::to_owned)
        .with_context(|| format!("{k} missing in {v}"))
}

#[derive(Default)]
struct Tally {
    lat_us: Vec<u32>,
    errors: u64,
}

/// Runs `step` in a loop on one connection until the deadline.
async fn drive<S, F, Fut>(deadline: Instant, mut state: S, mut step: F) -> Tally
where
    F: FnMut(S) -> Fut,
    Fut: std::future::Future<Output = (S, bool)>,
{
    let mut t = Tally::default();
    while Instant::now() < deadline {
        let started = Instant::now();
        let (s, ok) = step(state).await;
        state = s;
        t.lat_us
            .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !ok {
            t.errors += 1;
        }
    }
    t
}

fn peak_rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn report(name: &str, a: &Args, tallies: Vec<Tally>, elapsed: Duration) {
    let mut lat: Vec<u32> = tallies
        .iter()
        .flat_map(|t| t.lat_us.iter().copied())
        .collect();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    lat.sort_unstable();
    let n = lat.len();
    let pct = |p: f64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let rss = peak_rss_kib(a.server_pid).map_or("n/a".to_owned(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    });
    println!(
        "{name:8} conns={:<3} requests={n:<8} errors={errors:<6} req/s={:<9.0} p50={:.2}ms p99={:.2}ms max={:.2}ms server_peak_rss={rss}",
        a.connections,
        n as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        lat.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
    );
}

/// `GET url` in a loop on every connection until the deadline, with the bearer token
/// `tokens[i % len]` on connection i (none when `tokens` is empty).
async fn get_loop(a: &Args, url: &str, tokens: &[String]) -> Result<(Vec<Tally>, Duration)> {
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.connections {
        let c = client()?;
        let token = (!tokens.is_empty()).then(|| tokens[i % tokens.len()].clone());
        let url = url.to_owned();
        tasks.push(tokio::spawn(drive(deadline, (), move |()| {
            let req = match &token {
                Some(t) => c.get(&url).bearer_auth(t),
                None => c.get(&url),
            };
            async move {
                let ok = match req.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                ((), ok)
            }
        })));
    }
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await?);
    }
    Ok((tallies, started.elapsed()))
}

/// The HTTP ceiling: `GET /healthz` (no store touched), measured beside `me`.
async fn scenario_healthz(a: &Args) -> Result<()> {
    let (tallies, elapsed) = get_loop(a, &format!("{}/healthz", a.url), &[]).await?;
    report("healthz", a, tallies, elapsed);
    Ok(())
}

async fn scenario_me(a: &Args, flock: &str) -> Result<()> {
    let setup = client()?;
    let email = format!("me{}@bench.test", rand::random::<u32>());
    register(a, &setup, flock, &email).await?;
    let mut tokens = Vec::new();
    for _ in 0..a.connections.min(8) {
        tokens.push(field(
            &sign_in(a, &setup, flock, &email).await?,
            "access_token",
        )?);
    }
    let url = format!("{}/api/v1/{flock}/user", a.url);
    let before = ops::snapshot(&setup, &a.url, a.server_pid).await?;
    let (tallies, elapsed) = get_loop(a, &url, &tokens).await?;
    let n = tallies.iter().map(|t| t.lat_us.len()).sum();
    report("me", a, tallies, elapsed);
    ops::snapshot(&client()?, &a.url, a.server_pid)
        .await?
        .print_since(&before, "request", n);
    Ok(())
}

async fn scenario_refresh(a: &Args, flock: &str) -> Result<()> {
    let setup = client()?;
    let email = format!("rt{}@bench.test", rand::random::<u32>());
    register(a, &setup, flock, &email).await?;
    let mut chains = Vec::new();
    for _ in 0..a.connections {
        chains.push(field(
            &sign_in(a, &setup, flock, &email).await?,
            "refresh_token",
        )?);
    }
    let url = format!("{}/api/v1/{flock}/token/refresh", a.url);
    let before = ops::snapshot(&setup, &a.url, a.server_pid).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for rt in chains {
        let c = client()?;
        let url = url.clone();
        tasks.push(tokio::spawn(drive(deadline, rt, move |rt: String| {
            let req = c.post(&url).json(&json!({ "refresh_token": rt }));
            async move {
                match req.send().await {
                    Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                        Ok(v) => match v["refresh_token"].as_str() {
                            Some(next) => (next.to_owned(), true),
                            None => (rt, false),
                        },
                        Err(_) => (rt, false),
                    },
                    _ => (rt, false),
                }
            }
        })));
    }
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await?);
    }
    let n = tallies.iter().map(|t| t.lat_us.len()).sum();
    report("refresh", a, tallies, started.elapsed());
    ops::snapshot(&client()?, &a.url, a.server_pid)
        .await?
        .print_since(&before, "request", n);
    Ok(())
}

async fn scenario_login(a: &Args, flock: &str) -> Result<()> {
    let setup = client()?;
    let tag = rand::random::<u32>();
    let emails: Vec<String> = (0..a.users.max(1))
        .map(|i| format!("login{tag}-{i}@bench.test"))
        .collect();
    for e in &emails {
        register(a, &setup, flock, e).await?;
    }
    let url = format!("{}/api/v1/{flock}/user/auth", a.url);
    let before = ops::snapshot(&setup, &a.url, a.server_pid).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.connections {
        let c = client()?;
        let url = url.clone();
        let emails = emails.clone();
        tasks.push(tokio::spawn(drive(deadline, i, move |i: usize| {
            let email = &emails[i % emails.len()];
            let req = c
                .post(&url)
                .json(&json!({"email": email, "password": PASSWORD}));
            async move {
                let ok = match req.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (i + 1, ok)
            }
        })));
    }
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await?);
    }
    let n = tallies.iter().map(|t| t.lat_us.len()).sum();
    report("login", a, tallies, started.elapsed());
    ops::snapshot(&client()?, &a.url, a.server_pid)
        .await?
        .print_since(&before, "request", n);
    Ok(())
}

/// The raw argon2id rate at the server's default cost (m = 19 MiB, t = 2, p = 1) on one
/// thread per core, no server involved: the ceiling password sign-in is measured against.
fn raw_argon2(duration: f64) -> Result<()> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs_f64(duration);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                let mut out = [0u8; 32];
                let mut n = 0u64;
                while Instant::now() < deadline {
                    if argon
                        .hash_password_into(b"bench password", b"0123456789abcdef", &mut out)
                        .is_ok()
                    {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    println!(
        "argon2   threads={threads}  hashes={total:<8} hashes/s={:.1} (m=19456 KiB, t=2, p=1)",
        total as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    if a.scenario == "argon2" {
        return raw_argon2(a.duration);
    }
    let setup = client()?;
    if a.scenario == "directory" {
        let flock = a
            .flock
            .clone()
            .context("--flock (a seeded flock) is required")?;
        let t = directory::Target {
            url: a.url.clone(),
            domain: a.domain.clone().unwrap_or_else(|| format!("{flock}.test")),
            flock,
            key: a
                .api_key
                .clone()
                .context("--api-key (FOLD_API_KEY) is required")?,
            count: a.count,
            samples: a.samples,
        };
        return directory::run(&setup, &t).await;
    }
    match a.scenario.as_str() {
        "card" => return profile::card(&a).await,
        "upload" => return profile::upload(&a).await,
        "upload-me" => return profile::upload_me(&a).await,
        "federated" => return federation::federated(&a).await,
        "retention" => return retention::retention(&a).await,
        "otp" => return otp::otp(&a, false).await,
        "otp-signin" => return otp::otp(&a, true).await,
        "healthz" => return scenario_healthz(&a).await,
        _ => {}
    }
    let flock = setup_flock(&a, &setup).await?;
    println!(
        "fold-bench: {} flock={flock} duration={}s",
        a.url, a.duration
    );
    let all = a.scenario == "all";
    if all || a.scenario == "me" {
        scenario_me(&a, &flock).await?;
    }
    if all || a.scenario == "refresh" {
        scenario_refresh(&a, &flock).await?;
    }
    if all || a.scenario == "login" {
        scenario_login(&a, &flock).await?;
    }
    if !all && !matches!(a.scenario.as_str(), "me" | "refresh" | "login") {
        bail!("unknown scenario {:?}", a.scenario);
    }
    Ok(())
}
