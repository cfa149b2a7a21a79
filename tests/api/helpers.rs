//! `TestApp::spawn()`: a real server on a loopback port with real migrations, and helpers
//! to drive it over HTTP.
#![allow(dead_code)]
use fold::app::AppState;
use fold::config::Config;
use fold::db::Db;
use fold::infra::clock::Clock;
use fold::infra::kv::{EmbeddedKv, Kv, RedisKv};
use poem::listener::{Acceptor, Listener, TcpListener};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const PLATFORM_KEY: &str = "test-platform-key-0123456789abcdef0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub addr: String,
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

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A fresh PostgreSQL database on the server `admin_url` names.
pub async fn fresh_postgres(admin_url: &str) -> String {
    use sea_orm::{ConnectionTrait, Database};
    let name = unique("fold_test_");
    let admin = Database::connect(admin_url)
        .await
        .expect("connect TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
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
            Ok(admin) if !admin.is_empty() => fresh_postgres(&admin).await,
            _ => format!("sqlite://{}?mode=rwc", dir.path().join("fold.db").display()),
        };
        config.database.url = db_url.clone().into();
        config.database.max_connections = 8;
        config.kv.path = dir.path().join("kv.redb");
        config.mail.outbox_dir = dir.path().join("outbox");
        config.sms.outbox_dir = dir.path().join("sms-outbox");
        let clock = Clock::system();
        let db = Db::connect(&db_url, 8).await.expect("connect database");
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
                Kv::Redis(RedisKv::connect(&url, &prefix).unwrap())
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
    TestApp {
        addr,
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

// --- One-time codes (feat/otp) ---

/// The code in a message text ("… code is 123456. …").
pub fn code_in(text: &str) -> String {
    let rest = text
        .split("code is ")
        .nth(1)
        .expect("a code in the message");
    rest.chars().take_while(char::is_ascii_digit).collect()
}

impl TestApp {
    /// Every SMS written to this app's SMS outbox, oldest first.
    pub fn sms_outbox(&self) -> Vec<fold::infra::sms::OutgoingSms> {
        fold::infra::sms::read_outbox(&self.state.config.sms.outbox_dir)
    }

    /// The latest code sent to `to` (by SMS or mail), if any.
    pub fn last_code(&self, to: &str) -> Option<String> {
        if to.starts_with('+') {
            self.sms_outbox()
                .iter()
                .rev()
                .find(|m| m.to == to)
                .map(|m| code_in(&m.text))
        } else {
            self.outbox()
                .iter()
                .rev()
                .find(|m| m.to == to)
                .map(|m| code_in(&m.text))
        }
    }

    /// `POST /user/otp`; `channel` from the identifier's shape.
    pub async fn request_otp(
        &self,
        flock: &str,
        identifier: &str,
        purpose: &str,
    ) -> (StatusCode, Value) {
        let channel = if identifier.starts_with('+') {
            "sms"
        } else {
            "email"
        };
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/otp"))
            .json(&json!({"channel": channel, "identifier": identifier, "purpose": purpose}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST /user/otp/verify` with extra body fields merged in.
    pub async fn verify_otp(
        &self,
        flock: &str,
        identifier: &str,
        purpose: &str,
        code: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let channel = if identifier.starts_with('+') {
            "sms"
        } else {
            "email"
        };
        let mut body =
            json!({"channel": channel, "identifier": identifier, "purpose": purpose, "code": code});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/otp/verify"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

// ---- tokens and sessions (tokens_* modules) ----

impl TestApp {
    /// Registers and signs in; returns the whole session grant.
    pub async fn grant(&self, flock: &str, email: &str) -> Value {
        let (s, b) = self.register(flock, email, PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "register {email}: {b}");
        let (s, b) = self.sign_in(flock, email, PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "sign in {email}: {b}");
        b
    }

    /// `POST /api/v1/{flock}/token/refresh`.
    pub async fn refresh(&self, flock: &str, refresh_token: &str) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/token/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A user-authenticated call; returns the status and the JSON body (or Null).
    pub async fn user_call(&self, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .req(method, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The flock's id, straight from the flock service.
    pub async fn flock_id(&self, slug: &str) -> fold::ids::FlockId {
        self.state.flocks.get(slug).await.unwrap().id
    }
}

/// The `access_token` and `refresh_token` of a grant.
pub fn tokens_of(grant: &Value) -> (String, String) {
    (
        grant["access_token"].as_str().unwrap().to_owned(),
        grant["refresh_token"].as_str().unwrap().to_owned(),
    )
}

// ---- Accounts (issue 3) ----

impl TestApp {
    /// Runs the mail worker once (delivers every due outbox row), then returns every mail
    /// delivered so far, oldest first.
    pub async fn mails(&self) -> Vec<fold::infra::mail::OutgoingMail> {
        self.state
            .mail_worker
            .run_once()
            .await
            .expect("mail worker");
        self.outbox()
    }

    /// The last delivered mail to `to`.
    pub async fn last_mail_to(&self, to: &str) -> fold::infra::mail::OutgoingMail {
        self.mails()
            .await
            .into_iter()
            .rev()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// POST a JSON body to `/api/v1/{flock}/user/{op}`.
    pub async fn user_post(&self, flock: &str, op: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/{op}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Simulates a crash and restart: stops the server, drops every service, and builds a
    /// new app on the same database, KV store and outbox directory.
    pub async fn restart(mut self) -> TestApp {
        let config = self.state.config.clone();
        let clock = self.clock.clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        drop(self);
        let state = AppState::build(config, clock.clone())
            .await
            .expect("rebuild app");
        spawn_state(state, clock, dir).await
    }
}

/// The token in a mailed link (`…?token=…`).
pub fn token_in(mail: &fold::infra::mail::OutgoingMail) -> String {
    let i = mail.text.find("token=").expect("a token link in the mail") + 6;
    mail.text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '_')
        .collect()
}
