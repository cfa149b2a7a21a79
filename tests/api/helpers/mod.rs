//! `TestApp::spawn()`: a real server on a loopback port with real migrations, and helpers
//! to drive it over HTTP.
//! Area helpers are in submodules named like the areas: `user` (mails, restart),
//! `directory` (back-office calls with an API key),
//! `sessions` (grants, refresh), `otp` (codes); `sql` (raw SQL for invariant checks) and
//! `process` (the real binary as its own process). New helpers go at the end of the
//! submodule of their area.
#![allow(dead_code)]
pub mod admin;
pub mod directory;
pub mod federation;
pub mod files;
pub mod oidc;
mod otp;
pub mod process;
pub mod profile;
mod sessions;
pub mod spec;
pub mod sql;
mod user;
pub mod webhooks;

pub use otp::code_in;
pub use sessions::tokens_of;
pub use user::token_in;

use fold::app::AppState;
use fold::config::Config;
use fold::db::Db;
use fold::infra::clock::Clock;
use fold::infra::kv::{EmbeddedKv, Kv, RedisKv};
use poem::listener::{Acceptor, Listener, TcpListener};
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const PLATFORM_KEY: &str = "test-platform-key-0123456789abcdef0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub addr: String,
    /// The database this app runs on (for `sql()`).
    pub db_url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Clock,
    pub dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A flock created for a test, with its admin API key.
pub struct TestFlock {
    pub slug: String,
    pub admin_key: String,
}

pub struct Builder {
    config: Config,
    redis_override: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    pub fn builder() -> Builder {
        let mut config = Config::default();
        config.platform.key = Some(PLATFORM_KEY.to_owned().into());
        config.http.public_url = "https://fold.test".into();
        config.log.filter = "warn".into();
        Builder {
            config,
            redis_override: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn platform(&self, method: Method, path: &str) -> RequestBuilder {
        self.req(method, path)
            .header("X-Platform-Key", PLATFORM_KEY)
    }

    pub async fn create_flock(&self, slug: &str) -> TestFlock {
        self.create_flock_with(slug, json!({})).await
    }

    pub async fn create_flock_with(&self, slug: &str, settings: Value) -> TestFlock {
        let r = self
            .platform(Method::POST, "/platform/v1/flocks")
            .json(&json!({"slug": slug, "settings": settings}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "create flock {slug}");
        let body: Value = r.json().await.unwrap();
        TestFlock {
            slug: slug.to_owned(),
            admin_key: body["admin_api_key"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn register(&self, flock: &str, email: &str, password: &str) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/register"))
            .json(&json!({"email": email, "password": password, "terms_accepted": true}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn sign_in(&self, flock: &str, email: &str, password: &str) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/auth"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers and signs in; returns the access token.
    pub async fn user_token(&self, flock: &str, email: &str) -> String {
        let (s, b) = self.register(flock, email, PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "register {email}: {b}");
        let (s, b) = self.sign_in(flock, email, PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "sign in {email}: {b}");
        b["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn me(&self, flock: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .req(Method::GET, &format!("/api/v1/{flock}/user"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Every mail written to this app's outbox, oldest first.
    pub fn outbox(&self) -> Vec<fold::infra::mail::OutgoingMail> {
        fold::infra::mail::read_outbox(&self.state.config.mail.outbox_dir)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Use Redis at `url` whatever the environment says (e.g. a dead port).
    pub fn redis(mut self, url: &str) -> Self {
        self.redis_override = Some(url.to_owned());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = self.config;
        let db_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => sql::fresh_postgres(&admin).await,
            _ => format!("sqlite://{}?mode=rwc", dir.path().join("fold.db").display()),
        };
        config.database.url = db_url.clone().into();
        config.database.max_connections = 8;
        config.kv.path = dir.path().join("kv.redb");
        config.mail.outbox_dir = dir.path().join("outbox");
        config.sms.outbox_dir = dir.path().join("sms-outbox");
        config.files.dir = dir.path().join("files");
        // TEST_S3_URL: an S3-compatible server (the test command starts moto); files go
        // there, in a bucket of this run, unless the test chose its own store.
        if config.files.store == "local" {
            if let Ok(url) = std::env::var("TEST_S3_URL") {
                if !url.is_empty() {
                    files::use_s3(&mut config, &url).await;
                }
            }
        }
        let clock = Clock::system();
        let db = Db::connect(&db_url, 8)
            .await
            .expect("connect database")
            .with_probe_cap(config.database.search_probe_cap);
        db.migrate().await.expect("migrate");
        let redis = self
            .redis_override
            .clone()
            .or_else(|| std::env::var("TEST_REDIS_URL").ok());
        let kv = match redis {
            Some(url) if !url.is_empty() => {
                let prefix = unique("test:") + ":";
                config.kv.url = Some(url.clone().into());
                config.kv.prefix = prefix.clone();
                Kv::Redis(
                    RedisKv::connect(&url, &prefix, std::time::Duration::from_secs(1)).unwrap(),
                )
            }
            _ => Kv::Embedded(EmbeddedKv::open(&config.kv.path).unwrap()),
        };
        let state = AppState::with_parts(config, clock.clone(), db, kv).expect("build app");
        spawn_state(state, clock, dir).await
    }
}

/// Serves `state` on a fresh loopback port.
pub async fn spawn_state(state: AppState, clock: Clock, dir: TempDir) -> TestApp {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("socket address")
        .to_string();
    let (tx, rx) = oneshot::channel::<()>();
    let st = state.clone();
    let server = tokio::spawn(async move {
        let _ = fold::app::serve_on(st, acceptor, async {
            let _ = rx.await;
        })
        .await;
    });
    let db_url = state.config.database.url.expose_secret().to_owned();
    TestApp {
        addr,
        db_url,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        clock,
        dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// The path of the committed spec.
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json")
}

/// Asserts the body is the API's error shape with `code`.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "error code in {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    assert!(
        body["request_id"].as_str().is_some_and(|m| !m.is_empty()),
        "request_id in {body}"
    );
}
