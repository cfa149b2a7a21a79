//! `retention`: sign-in latency while the retention job purges a backlog. The flock
//! (`--flock`) holds old events (`fold events seed`); the scenario registers users, then
//! measures password sign-ins at `--connections` for `--duration` seconds with nothing
//! else running (the baseline), then again while `POST /platform/v1/maintenance/retention`
//! runs (the load goes on until the purge has answered), and prints both with the purge's
//! time and what it removed.
use super::{client, drive, register, report, Args, Tally, PASSWORD};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn sign_ins(a: &Args, flock: &str, emails: &[String], until: Until) -> Result<Vec<Tally>> {
    let url = format!("{}/api/v1/{flock}/user/auth", a.url);
    let mut tasks = Vec::new();
    for i in 0..a.connections {
        let c = client()?;
        let url = url.clone();
        let emails = emails.to_vec();
        let until = until.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let mut n = i;
            loop {
                let deadline = Instant::now() + Duration::from_millis(250);
                let part = drive(deadline, n, |n: usize| {
                    let email = &emails[n % emails.len()];
                    let req = c
                        .post(&url)
                        .json(&json!({"email": email, "password": PASSWORD}));
                    async move {
                        let ok = match req.send().await {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        (n + 1, ok)
                    }
                })
                .await;
                n += part.lat_us.len();
                t.lat_us.extend(part.lat_us);
                t.errors += part.errors;
                if until.done() {
                    return t;
                }
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    Ok(out)
}

/// When a phase ends: a deadline, and (for the purge phase) the purge having answered.
#[derive(Clone)]
struct Until {
    deadline: Instant,
    purge: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Until {
    fn done(&self) -> bool {
        Instant::now() >= self.deadline
            && self
                .purge
                .as_ref()
                .is_none_or(|p| p.load(std::sync::atomic::Ordering::SeqCst))
    }
}

pub async fn retention(a: &Args) -> Result<()> {
    let flock = a
        .flock
        .clone()
        .context("--flock (with seeded events) is required")?;
    let key = a
        .platform_key
        .clone()
        .context("--platform-key (FOLD_PLATFORM_KEY) is required")?;
    let setup = client()?;
    let tag = rand::random::<u32>();
    let emails: Vec<String> = (0..a.users.max(1))
        .map(|i| format!("ret{tag}-{i}@bench.test"))
        .collect();
    for e in &emails {
        register(a, &setup, &flock, e).await?;
    }
    println!("fold-bench: {} flock={flock} retention", a.url);
    let phase = Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let until = Until {
        deadline: Instant::now() + phase,
        purge: None,
    };
    let base = sign_ins(a, &flock, &emails, until).await?;
    report("sign-in (baseline)", a, base, started.elapsed());

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let purge = {
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(3600))
            .build()?;
        let url = format!("{}/platform/v1/maintenance/retention", a.url);
        let done = done.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let r = c.post(&url).header("X-Platform-Key", key).send().await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            let r = r?;
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                bail!("retention: {status} {v}");
            }
            Ok::<_, anyhow::Error>((t.elapsed(), v))
        })
    };
    let started = Instant::now();
    let until = Until {
        deadline: Instant::now() + phase,
        purge: Some(done),
    };
    let during = sign_ins(a, &flock, &emails, until).await?;
    report("sign-in (during purge)", a, during, started.elapsed());
    let (took, v) = purge.await??;
    let removed = &v["removed"];
    println!(
        "purge    took={:.1}s removed_events={} batches={} run={v}",
        took.as_secs_f64(),
        removed["events"],
        v["batches"],
    );
    Ok(())
}
