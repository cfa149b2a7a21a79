//! `otp` and `otp-signin`: one-time-code round trips (request a code by SMS, receive it,
//! verify it) at `--connections`. The server sends its SMS through the webhook provider
//! to a receiver inside this process (`--sms-port`; `bench/run.sh` points
//! `sms.webhook_url` at it), which hands each code to the connection waiting for that
//! number, so the load generator is not the bottleneck.
//!
//! `otp`: a fresh number per round trip; the verify signs the number up.
//! `otp-signin`: existing accounts. The numbers are signed up first (untimed, the same
//! round trip), then, once the flock's resend cooldown (60 s) has passed for all of
//! them, each is signed in once by code.
use super::{client, report, Args, Tally};
use anyhow::{Context, Result};
use poem::web::{Data, Json};
use poem::{handler, post, EndpointExt, Route};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<String>>>>;

#[handler]
fn receive(Data(w): Data<&Waiters>, Json(sms): Json<Value>) -> poem::http::StatusCode {
    let to = sms["to"].as_str().unwrap_or_default();
    let text = sms["text"].as_str().unwrap_or_default();
    let code: String = text
        .split_once("code is ")
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default();
    let waiter = w.lock().ok().and_then(|mut m| m.remove(to));
    if let Some(tx) = waiter {
        let _ = tx.send(code);
    }
    poem::http::StatusCode::OK
}

async fn receiver(port: u16) -> Result<Waiters> {
    let waiters: Waiters = Arc::default();
    let app = Route::new().at("/sms", post(receive)).data(waiters.clone());
    super::serve_local(port, app)
        .await
        .context("the SMS receiver did not start")?;
    Ok(waiters)
}

/// A flock whose caps let one load generator (one IP) send thousands of codes.
async fn flock(a: &Args, c: &reqwest::Client) -> Result<String> {
    let settings = json!({"otp": {
        "sends_per_ip_hour": 100_000,
        "sms_per_flock_day": 10_000_000,
    }});
    super::create_flock(a, c, "otp", settings).await
}

struct Trip {
    c: reqwest::Client,
    request: String,
    verify: String,
    waiters: Waiters,
}

impl Trip {
    /// Request a code for `phone`, wait for its SMS, verify it; true when signed in.
    async fn run(&self, phone: &str) -> bool {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.waiters.lock() {
            m.insert(phone.to_owned(), tx);
        }
        let body = json!({"channel": "sms", "identifier": phone, "purpose": "sign_in"});
        let sent = match self.c.post(&self.request).json(&body).send().await {
            Ok(r) => r.status().as_u16() == 202 && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        let code = match (
            sent,
            tokio::time::timeout(Duration::from_secs(10), rx).await,
        ) {
            (true, Ok(Ok(code))) => code,
            _ => {
                if let Ok(mut m) = self.waiters.lock() {
                    m.remove(phone);
                }
                return false;
            }
        };
        let body = json!({"channel": "sms", "identifier": phone, "purpose": "sign_in",
            "code": code, "terms_accepted": true});
        match self.c.post(&self.verify).json(&body).send().await {
            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
            Err(_) => false,
        }
    }
}

/// Round trips on every connection until `deadline`, numbers from `next`; the numbers
/// that ended signed in, and the tallies.
async fn trips(
    a: &Args,
    flock: &str,
    waiters: &Waiters,
    deadline: Instant,
    next: Arc<dyn Fn() -> Option<String> + Send + Sync>,
) -> Result<(Vec<Tally>, Vec<String>)> {
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let trip = Trip {
            c: client()?,
            request: format!("{}/api/v1/{flock}/user/otp", a.url),
            verify: format!("{}/api/v1/{flock}/user/otp/verify", a.url),
            waiters: waiters.clone(),
        };
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let mut done = Vec::new();
            while Instant::now() < deadline {
                let Some(phone) = next() else { break };
                let started = Instant::now();
                let ok = trip.run(&phone).await;
                t.lat_us
                    .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                if ok {
                    done.push(phone);
                } else {
                    t.errors += 1;
                }
            }
            (t, done)
        }));
    }
    let (mut tallies, mut numbers) = (Vec::new(), Vec::new());
    for task in tasks {
        let (t, d) = task.await?;
        tallies.push(t);
        numbers.extend(d);
    }
    Ok((tallies, numbers))
}

/// Fresh Cyprus mobile numbers (+357 9xxxxxxx), from a random start.
fn fresh_numbers() -> Arc<dyn Fn() -> Option<String> + Send + Sync> {
    let n = Arc::new(AtomicU64::new(rand::random::<u64>() % 5_000_000));
    Arc::new(move || {
        let i = n.fetch_add(1, Ordering::Relaxed) % 10_000_000;
        Some(format!("+3579{i:07}"))
    })
}

pub async fn otp(a: &Args, signin: bool) -> Result<()> {
    let setup = client()?;
    let flock = flock(a, &setup).await?;
    let waiters = receiver(a.sms_port).await?;
    println!(
        "fold-bench: {} flock={flock} duration={}s",
        a.url, a.duration
    );
    let phase = Duration::from_secs_f64(a.duration);
    if !signin {
        let before = super::ops::snapshot(&setup, &a.url, a.server_pid).await?;
        let started = Instant::now();
        let (tallies, _) = trips(a, &flock, &waiters, started + phase, fresh_numbers()).await?;
        let n = tallies.iter().map(|t| t.lat_us.len()).sum();
        report("otp", a, tallies, started.elapsed());
        let after = super::ops::snapshot(&setup, &a.url, a.server_pid).await?;
        after.print_since(&before, "round trip (sign-up)", n);
        return Ok(());
    }
    // Sign the numbers up first, then wait out the resend cooldown.
    let (_, numbers) = trips(a, &flock, &waiters, Instant::now() + phase, fresh_numbers()).await?;
    let ready = Instant::now() + Duration::from_secs(61);
    println!(
        "otp-signin: {} accounts signed up; waiting 61 s for the resend cooldown",
        numbers.len()
    );
    tokio::time::sleep_until(ready.into()).await;
    let pool = Arc::new(Mutex::new(numbers));
    let next: Arc<dyn Fn() -> Option<String> + Send + Sync> =
        Arc::new(move || pool.lock().ok().and_then(|mut p| p.pop()));
    let before = super::ops::snapshot(&setup, &a.url, a.server_pid).await?;
    let started = Instant::now();
    let (tallies, _) = trips(a, &flock, &waiters, started + phase, next).await?;
    let n = tallies.iter().map(|t| t.lat_us.len()).sum();
    report("otp-signin", a, tallies, started.elapsed());
    let after = super::ops::snapshot(&setup, &a.url, a.server_pid).await?;
    after.print_since(&before, "round trip (sign-in)", n);
    Ok(())
}
