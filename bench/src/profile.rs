//! Profile data scenarios: `card` (the card read and a two-field card edit, each for
//! `--duration` at `--connections`), `upload` (a 2 MB JPEG, renditions included, at
//! `--connections` parallel uploads), and `upload-me` (`GET /user` alone, then the same
//! while 16 uploads run in parallel: the image pool must not starve the token check).
use super::{client, drive, field, register, report, sign_in, Args, Tally};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A flock made for the scenario: its slug and admin API key.
pub(crate) async fn flock(a: &Args, c: &reqwest::Client) -> Result<(String, String)> {
    let key = a
        .platform_key
        .as_deref()
        .context("--platform-key (FOLD_PLATFORM_KEY) is required")?;
    let slug = format!("bench{}", rand::random::<u32>());
    let r = c
        .post(format!("{}/platform/v1/flocks", a.url))
        .header("X-Platform-Key", key)
        .json(&json!({"slug": slug, "settings": {"files": {"max_count": 1000, "max_bytes": 10_000_000}}}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create flock: {} {}", r.status(), r.text().await?);
    }
    let b: Value = r.json().await?;
    Ok((slug, field(&b, "admin_api_key")?))
}

async fn user_token(a: &Args, c: &reqwest::Client, flock: &str) -> Result<String> {
    let email = format!("p{}@bench.test", rand::random::<u32>());
    register(a, c, flock, &email).await?;
    field(&sign_in(a, c, flock, &email).await?, "access_token")
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Result<Vec<Tally>> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    Ok(out)
}

pub async fn card(a: &Args) -> Result<()> {
    let c = client()?;
    let (slug, key) = flock(a, &c).await?;
    let r = c
        .put(format!("{}/api/v1/{slug}/profile/schema", a.url))
        .header("X-Api-Key", &key)
        .json(&json!({"version": 0,
            "groups": [{"name": "about", "label": "About", "order": 1}],
            "fields": [
                {"name": "nickname", "label": "Nickname", "type": "text", "group": "about",
                 "validators": {"max_length": 40}},
                {"name": "age", "label": "Age", "type": "number", "group": "about",
                 "validators": {"min": 0, "max": 150}},
                {"name": "size", "label": "Size", "type": "select", "group": "about",
                 "options": [{"value": "s", "label": "S"}, {"value": "l", "label": "L"}]}]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("schema: {} {}", r.status(), r.text().await?);
    }
    let mut tokens = Vec::new();
    for _ in 0..a.connections.min(16) {
        tokens.push(user_token(a, &c, &slug).await?);
    }
    let url = format!("{}/api/v1/{slug}/user/card", a.url);
    for write in [false, true] {
        let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..a.connections {
            let c = client()?;
            let token = tokens[i % tokens.len()].clone();
            let url = url.clone();
            tasks.push(tokio::spawn(drive(deadline, 0u64, move |n: u64| {
                let req = if write {
                    c.patch(&url).bearer_auth(&token).json(&json!({"fields": [
                        {"name": "nickname", "value": format!("n{n}")},
                        {"name": "age", "value": n % 100}]}))
                } else {
                    c.get(&url).bearer_auth(&token)
                };
                async move {
                    let ok = match req.send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    (n + 1, ok)
                }
            })));
        }
        let name = if write { "card-put" } else { "card-get" };
        report(name, a, collect(tasks).await?, started.elapsed());
    }
    Ok(())
}

/// A noisy 1,600×1,200 photo as JPEG (quality 80), about 2 MB: noise does not compress.
fn photo() -> Vec<u8> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let img = image::RgbImage::from_fn(1600, 1200, |x, y| {
        let n: u8 = rng.gen();
        image::Rgb([(x % 256) as u8 ^ n, (y % 256) as u8, n / 2])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .expect("encode the bench photo");
    out
}

fn upload_req(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    bytes: Vec<u8>,
) -> reqwest::RequestBuilder {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("photo.jpg")
        .mime_str("image/jpeg")
        .expect("mime");
    c.post(url)
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
}

/// Uploads on `conns` connections until `deadline`; each file is deleted after upload
/// so the user never reaches the flock's count.
fn uploaders(
    conns: usize,
    deadline: Instant,
    url: &str,
    tokens: &[String],
    bytes: &[u8],
) -> Result<Vec<tokio::task::JoinHandle<Tally>>> {
    let mut tasks = Vec::new();
    for i in 0..conns {
        let c = client()?;
        let token = tokens[i % tokens.len()].clone();
        let url = url.to_owned();
        let bytes = bytes.to_vec();
        tasks.push(tokio::spawn(drive(deadline, (), move |()| {
            let req = upload_req(&c, &url, &token, bytes.clone());
            let (c, url, token) = (c.clone(), url.clone(), token.clone());
            async move {
                let ok = match req.send().await {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        if let Some(id) = v["id"].as_str() {
                            let _ = c
                                .delete(format!("{url}/{id}"))
                                .bearer_auth(&token)
                                .send()
                                .await;
                        }
                        true
                    }
                    _ => false,
                };
                ((), ok)
            }
        })));
    }
    Ok(tasks)
}

pub async fn upload(a: &Args) -> Result<()> {
    let c = client()?;
    let (slug, _) = flock(a, &c).await?;
    let bytes = photo();
    println!(
        "upload: a {:.2} MB JPEG, 1600x1200, renditions s/m/l",
        bytes.len() as f64 / 1e6
    );
    let mut tokens = Vec::new();
    for _ in 0..a.connections.min(16) {
        tokens.push(user_token(a, &c, &slug).await?);
    }
    let url = format!("{}/api/v1/{slug}/user/files", a.url);
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let tasks = uploaders(a.connections, deadline, &url, &tokens, &bytes)?;
    report("upload", a, collect(tasks).await?, started.elapsed());
    Ok(())
}

pub async fn upload_me(a: &Args) -> Result<()> {
    let c = client()?;
    let (slug, _) = flock(a, &c).await?;
    let bytes = photo();
    let mut tokens = Vec::new();
    for _ in 0..16 {
        tokens.push(user_token(a, &c, &slug).await?);
    }
    let me = format!("{}/api/v1/{slug}/user", a.url);
    let files = format!("{}/api/v1/{slug}/user/files", a.url);
    for with_uploads in [false, true] {
        let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
        let started = Instant::now();
        let background = if with_uploads {
            uploaders(16, deadline, &files, &tokens, &bytes)?
        } else {
            Vec::new()
        };
        let mut tasks = Vec::new();
        for i in 0..a.connections {
            let c = client()?;
            let token = tokens[i % tokens.len()].clone();
            let me = me.clone();
            tasks.push(tokio::spawn(drive(deadline, (), move |()| {
                let req = c.get(&me).bearer_auth(&token);
                async move {
                    let ok = match req.send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    ((), ok)
                }
            })));
        }
        let name = if with_uploads { "me+upl" } else { "me-alone" };
        report(name, a, collect(tasks).await?, started.elapsed());
        if with_uploads {
            let up = collect(background).await?;
            let n: usize = up.iter().map(|t| t.lat_us.len()).sum();
            let errors: u64 = up.iter().map(|t| t.errors).sum();
            println!(
                "         meanwhile: {n} uploads by 16 connections ({:.1}/s), {errors} errors",
                n as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
