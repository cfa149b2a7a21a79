//! Tests that need the real `fold` binary as its own process: kill -9 during load
//! (battery 18), Redis killed and restarted (19), secrets never in logs (20).
use crate::helpers::PASSWORD;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PK: &str = "process-test-platform-key-0123456789abcdef";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts `fold serve` in `dir` with `env` on a fresh port and waits until it answers.
    pub async fn start(dir: &Path, db_url: &str, env: &[(&str, String)]) -> Server {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fold"));
        cmd.arg("serve")
            .current_dir(dir)
            .env("FOLD_HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("FOLD_PLATFORM__KEY", PK)
            .env("FOLD_DATABASE__URL", db_url)
            .env("FOLD_LIMITS__IP_PER_SECOND", "0")
            .env("FOLD_LOG__FORMAT", "json")
            .stdout(Stdio::from(
                std::fs::File::create(dir.join("stdout.log")).unwrap(),
            ))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        #[allow(clippy::zombie_processes)] // Drop kills and waits
        let child = cmd.spawn().expect("spawn fold");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                return Server { child, base, log };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fold did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    pub fn term(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database URL for a process test: a fresh PostgreSQL database when
/// `TEST_DATABASE_URL` is set, else a SQLite file in `dir`.
pub async fn database_url(dir: &Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => crate::helpers::sql::fresh_postgres(&admin).await,
        _ => format!("sqlite://{}?mode=rwc", dir.join("fold.db").display()),
    }
}

pub async fn create_flock(base: &str, slug: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/platform/v1/flocks"))
        .header("X-Platform-Key", PK)
        .json(&json!({"slug": slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let b: Value = r.json().await.unwrap();
    b["admin_api_key"].as_str().unwrap().to_owned()
}

pub async fn sign_in(base: &str, slug: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/{slug}/user/auth"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn register(base: &str, slug: &str, email: &str) -> Option<StatusCode> {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/{slug}/user/register"))
        .json(&json!({"email": email, "password": PASSWORD, "terms_accepted": true}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}
