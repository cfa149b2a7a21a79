//! The `directory` scenario: latency of the back office's reads on a seeded directory
//! (`fold users seed`), one call at a time on one connection, `--samples` calls each:
//! the first page of a search by name prefix, the 20th page of a name-sorted search,
//! an exact email lookup, a list of 1,000 ids, the first page of users by meta
//! key=value; then searches whose filters match few users among many (a group of 20,
//! a meta value 20 users hold, 20 managers) and one matching a third of the flock, each
//! sorted by another index than the filter's.
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::Instant;

/// Two-letter name prefixes of the seeded first names (`fold users seed`).
const PREFIXES: [&str; 12] = [
    "ad", "ah", "al", "an", "be", "ca", "da", "el", "ha", "ma", "no", "zo",
];
/// One-letter prefixes, for the deep pages.
const LETTERS: [&str; 3] = ["a", "d", "e"];
const TIERS: [&str; 3] = ["gold", "silver", "bronze"];

pub struct Target {
    pub url: String,
    pub flock: String,
    pub key: String,
    /// Users in the flock (emails `u0..u{count-1}@{domain}`).
    pub count: u64,
    pub domain: String,
    pub samples: usize,
}

async fn get(c: &reqwest::Client, t: &Target, path: &str) -> Result<Value> {
    let url = format!("{}/api/v1/{}/directory/{path}", t.url, t.flock);
    let r = c.get(&url).header("X-Api-Key", &t.key).send().await?;
    let s = r.status();
    let b: Value = r.json().await.unwrap_or(Value::Null);
    if !s.is_success() {
        bail!("GET {path}: {s} {b}");
    }
    Ok(b)
}

fn line(name: &str, mut lat_us: Vec<u64>, rows: usize) {
    lat_us.sort_unstable();
    let n = lat_us.len();
    let pct = |p: f64| {
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n.max(1)) - 1;
        lat_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "{name:22} calls={n:<5} p50={:.2}ms p99={:.2}ms max={:.2}ms rows/call={rows}",
        pct(0.50),
        pct(0.99),
        lat_us.last().copied().unwrap_or(0) as f64 / 1000.0
    );
}

/// A page's users and its `next` cursor.
fn page(v: &Value) -> (usize, Option<String>) {
    let n = v["users"].as_array().map_or(0, Vec::len);
    (n, v["next"].as_str().map(str::to_owned))
}

pub async fn run(c: &reqwest::Client, t: &Target) -> Result<()> {
    println!(
        "directory: flock={} users={} samples={}",
        t.flock, t.count, t.samples
    );
    // 1. First page of a search by name prefix, sorted by name.
    let (mut lat, mut rows) = (Vec::new(), 0);
    for i in 0..t.samples {
        let p = PREFIXES[i % PREFIXES.len()];
        let started = Instant::now();
        let b = get(c, t, &format!("users?name_prefix={p}&sort=name&limit=50")).await?;
        lat.push(started.elapsed().as_micros() as u64);
        rows = rows.max(page(&b).0);
    }
    line("search name p1", lat, rows);

    // 2. The 20th page of a name-sorted search (a one-letter prefix where it matches
    //    1,000 users or more, else the whole directory).
    let deep = t.count >= 50_000;
    let (mut lat, mut rows) = (Vec::new(), 0);
    for i in 0..t.samples {
        let filter = if deep {
            format!("name_prefix={}&", LETTERS[i % LETTERS.len()])
        } else {
            String::new()
        };
        let mut cursor: Option<String> = None;
        for n in 1..=20 {
            let c_q = cursor
                .as_deref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let path = format!("users?{filter}sort=name&limit=50{c_q}");
            let started = Instant::now();
            let b = get(c, t, &path).await?;
            let took = started.elapsed().as_micros() as u64;
            let (got, next) = page(&b);
            if n == 20 {
                lat.push(took);
                rows = rows.max(got);
            }
            match next {
                Some(nx) => cursor = Some(nx),
                None if n < 20 => bail!("fewer than 20 pages for {filter:?}"),
                None => {}
            }
        }
    }
    let label = if deep {
        "search name p20"
    } else {
        "search all p20"
    };
    line(label, lat, rows);

    // 3. Exact email lookup.
    let mut lat = Vec::new();
    for i in 0..t.samples {
        let n = (i as u64 * 7919 + 13) % t.count.max(1);
        let started = Instant::now();
        get(c, t, &format!("users/lookup?email=u{n}@{}", t.domain)).await?;
        lat.push(started.elapsed().as_micros() as u64);
    }
    line("lookup email", lat, 1);

    // 4. List by 1,000 ids (ids gathered from pages of 1,000, shuffled per call).
    let mut pool: Vec<String> = Vec::new();
    for sort in ["created", "created_desc", "name"] {
        let b = get(c, t, &format!("users?sort={sort}&limit=1000")).await?;
        for u in b["users"].as_array().context("users")? {
            pool.push(u["id"].as_str().context("id")?.to_owned());
        }
    }
    pool.sort();
    pool.dedup();
    let url = format!("{}/api/v1/{}/directory/users/by-ids", t.url, t.flock);
    let (mut lat, mut rows) = (Vec::new(), 0);
    for i in 0..t.samples {
        let take: Vec<&String> = pool
            .iter()
            .cycle()
            .skip(i * 97)
            .take(1000.min(pool.len()))
            .collect();
        let started = Instant::now();
        let r = c
            .post(&url)
            .header("X-Api-Key", &t.key)
            .json(&json!({"ids": take, "include_deactivated": true}))
            .send()
            .await?;
        let s = r.status();
        let b: Value = r.json().await.unwrap_or(Value::Null);
        lat.push(started.elapsed().as_micros() as u64);
        if !s.is_success() {
            bail!("by-ids: {s} {b}");
        }
        rows = rows.max(page(&b).0);
    }
    line("list by 1000 ids", lat, rows);

    // 5. Users by meta key=value, first page.
    let (mut lat, mut rows) = (Vec::new(), 0);
    for i in 0..t.samples {
        let v = TIERS[i % TIERS.len()];
        let started = Instant::now();
        let b = get(c, t, &format!("meta?meta_key=tier&meta_value={v}&limit=50")).await?;
        lat.push(started.elapsed().as_micros() as u64);
        rows = rows.max(b["meta"].as_array().map_or(0, Vec::len));
    }
    line("users by meta k=v", lat, rows);

    // 6. Rare and common filters under another sort. 20 users of the pool get a group, a
    //    meta value and the manager role.
    let tag = format!("bench{}", std::process::id());
    let few: Vec<&String> = pool
        .iter()
        .step_by((pool.len() / 20).max(1))
        .take(20)
        .collect();
    let group = send(c, t, "POST", "groups", Some(json!({"name": tag}))).await?;
    let group = group["id"].as_str().context("group id")?.to_owned();
    for id in &few {
        send(c, t, "PUT", &format!("groups/{group}/members/{id}"), None).await?;
        let meta = json!({"meta": [{"key": "rare", "value": tag}]});
        send(c, t, "PUT", &format!("users/{id}/meta"), Some(meta)).await?;
        let role = json!({"role": "manager"});
        send(c, t, "POST", &format!("users/{id}/access"), Some(role)).await?;
    }
    for (label, path) in [
        (
            "search group of 20",
            format!("users?group_id={group}&sort=name"),
        ),
        (
            "search rare meta",
            format!("users?meta_key=rare&meta_value={tag}&sort=created_desc"),
        ),
        (
            "search 20 managers",
            "users?role=manager&sort=name".to_owned(),
        ),
        (
            "search third, by name",
            "users?meta_key=tier&meta_value=gold&sort=name".to_owned(),
        ),
        ("count 20 managers", "users/count?role=manager".to_owned()),
    ] {
        let (mut lat, mut rows) = (Vec::new(), 0);
        for _ in 0..t.samples {
            let started = Instant::now();
            let b = get(c, t, &path).await?;
            lat.push(started.elapsed().as_micros() as u64);
            rows = rows.max(page(&b).0.max(b["count"].as_u64().unwrap_or(0) as usize));
        }
        line(label, lat, rows);
    }
    Ok(())
}

/// A back-office write; the answer's body (or `Null`).
async fn send(
    c: &reqwest::Client,
    t: &Target,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value> {
    let url = format!("{}/api/v1/{}/directory/{path}", t.url, t.flock);
    let m = reqwest::Method::from_bytes(method.as_bytes())?;
    let mut r = c.request(m, &url).header("X-Api-Key", &t.key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await?;
    let s = r.status();
    let b: Value = r.json().await.unwrap_or(Value::Null);
    if !s.is_success() {
        bail!("{method} {path}: {s} {b}");
    }
    Ok(b)
}
