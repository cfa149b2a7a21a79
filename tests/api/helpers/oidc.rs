//! A real OpenID Connect provider on loopback: `oidc-provider` (npm), started from
//! `tests/oidc/provider.mjs` as its own process for one test (it exits when its stdin,
//! held here, closes). `login_hint` chooses the user: `alice@example.com` (verified) or
//! `unverified:bob@example.com`; `POST /test/rotate` rotates its signing key.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

pub struct OidcProvider {
    pub issuer: String,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static INSTALL: Mutex<bool> = Mutex::new(false);

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// `npm ci` once, when `node_modules` is missing (the test command runs it first).
fn ensure_installed() {
    let mut done = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if *done || dir().join("node_modules/oidc-provider").exists() {
        *done = true;
        return;
    }
    let ok = Command::new("npm")
        .args(["ci", "--silent", "--no-audit", "--no-fund"])
        .current_dir(dir())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "npm ci in tests/oidc failed (is Node.js installed?)");
    *done = true;
}

impl OidcProvider {
    pub async fn start() -> OidcProvider {
        tokio::task::spawn_blocking(|| {
            ensure_installed();
            let mut child = Command::new("node")
                .arg(dir().join("provider.mjs"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start node tests/oidc/provider.mjs");
            let stdin = child.stdin.take().unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let issuer = line
                .trim()
                .strip_prefix("listening ")
                .unwrap_or_else(|| panic!("provider said {line:?}"))
                .to_owned();
            OidcProvider {
                issuer,
                child,
                _stdin: stdin,
            }
        })
        .await
        .unwrap()
    }

    /// Registers a client (dynamic registration) for `redirect_uri`: (id, secret).
    pub async fn register(&self, redirect_uri: &str) -> (String, String) {
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/reg", self.issuer))
            .json(&serde_json::json!({
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            r["client_id"].as_str().unwrap().to_owned(),
            r["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Rotates the signing key; the new key id.
    pub async fn rotate(&self) -> String {
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/test/rotate", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["kid"].as_str().unwrap().to_owned()
    }

    /// A browser: follows the provider's redirects from `location` (with cookies) until
    /// one leaves for a URL starting with `stop`; that URL.
    pub async fn browse(&self, browser: &reqwest::Client, location: &str, stop: &str) -> String {
        let mut at = location.to_owned();
        for _ in 0..10 {
            if at.starts_with(stop) {
                return at;
            }
            let r = browser.get(&at).send().await.unwrap();
            let Some(next) = r.headers().get("location") else {
                panic!(
                    "provider stopped at {at}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
            };
            let next = next.to_str().unwrap().to_owned();
            at = if next.starts_with('/') {
                format!("{}{next}", self.issuer)
            } else {
                next
            };
        }
        panic!("too many redirects from {location}");
    }
}

/// A browser-like client: a cookie jar, no automatic redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
