//! `federated`: signing in with an OpenID Connect ID token. This process plays the
//! provider on loopback (discovery and a key set, with an ES256 key), configures it as
//! the flock's `corp` provider, signs the tokens before the clock starts (each with its
//! own nonce; subjects cycle over 1,000 users, so the first round creates the accounts and
//! the rest sign in), then posts them at `--connections` for `--duration`. The server
//! must run with `FOLD_FEDERATION__ALLOW_PRIVATE_NETWORKS=true` (bench/run.sh sets it).
use super::{client, drive, report, Args, Tally};
use anyhow::{bail, Result};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::web::{Data, Json};
use poem::{get, handler, EndpointExt, Route};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A test-only P-256 key (the repository's federation test fixture).
const KEY: &str = include_str!("../../tests/fixtures/federation/apple-team.p8");
const CLIENT: &str = "bench-client";

#[handler]
fn document(Data(doc): Data<&Arc<(Value, Value)>>) -> Json<Value> {
    Json(doc.0.clone())
}

#[handler]
fn keys(Data(doc): Data<&Arc<(Value, Value)>>) -> poem::Response {
    poem::Response::builder()
        .header("Content-Type", "application/json")
        .header("Cache-Control", "public, max-age=3600")
        .body(doc.1.to_string())
}

/// Serves discovery and the key set; the issuer URL.
async fn provider(jwk: &Jwk) -> Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let discovery = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
    });
    let set = json!({ "keys": [jwk] });
    let app = Route::new()
        .at("/.well-known/openid-configuration", get(document))
        .at("/jwks", get(keys))
        .data(Arc::new((discovery, set)));
    super::serve_local(port, app).await?;
    Ok(base)
}

pub async fn federated(a: &Args) -> Result<()> {
    let setup = client()?;
    let (slug, admin) = super::profile::flock(a, &setup).await?;
    let enc = EncodingKey::from_ec_pem(KEY.as_bytes())?;
    let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256)?;
    jwk.common.key_id = Some("bench-1".into());
    let issuer = provider(&jwk).await?;
    let r = setup
        .put(format!("{}/api/v1/{slug}/providers/corp", a.url))
        .header("X-Api-Key", &admin)
        .json(&json!({"kind": "oidc", "issuer": issuer, "client_id": CLIENT, "client_secret": "bench-secret"}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("configure the provider: {} {}", r.status(), r.text().await?);
    }
    // Tokens for the whole run, signed before the clock starts.
    let count = ((a.duration * 2500.0) as usize).max(2000);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("bench-1".into());
    let signing = Instant::now();
    let run = rand::random::<u32>();
    let mut bodies = Vec::with_capacity(count);
    for i in 0..count {
        let user = i % 1000;
        let nonce = format!("n-{run}-{i}");
        let claims = json!({
            "iss": issuer, "aud": CLIENT, "sub": format!("sub-{run}-{user}"),
            "email": format!("fed{user}-{run}@bench.test"), "email_verified": true,
            "iat": now, "exp": now + 3600, "nonce": nonce,
        });
        let token = jsonwebtoken::encode(&header, &claims, &enc)?;
        bodies.push(json!({"id_token": token, "nonce": nonce}).to_string());
    }
    println!(
        "federated: {count} ID tokens signed in {:.1} s (1,000 subjects: the first 1,000 sign-ins create the accounts)",
        signing.elapsed().as_secs_f64()
    );
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/api/v1/{slug}/user/federated/corp/id-token", a.url);
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let c = client()?;
        let (bodies, next, url) = (bodies.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(drive(deadline, (), move |()| {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let req = bodies.get(i).map(|b| {
                c.post(&url)
                    .header("Content-Type", "application/json")
                    .body(b.clone())
            });
            async move {
                let ok = match req {
                    Some(r) => match r.send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    },
                    None => false,
                };
                ((), ok)
            }
        })));
    }
    let mut tallies: Vec<Tally> = Vec::new();
    for t in tasks {
        tallies.push(t.await?);
    }
    if next.load(Ordering::Relaxed) > count {
        println!("federated: ran out of tokens (errors past {count} requests are that)");
    }
    report("federated", a, tallies, started.elapsed());
    Ok(())
}
