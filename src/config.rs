//! Typed configuration: defaults, then an optional TOML file, then `FOLD_*` environment
//! variables (nested keys joined by `__`, e.g. `FOLD_DATABASE__URL`). Secrets are wrapped
//! in `SecretString` so they print as `[REDACTED]` when the config is logged.
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub kv: KvConfig,
    pub mail: MailConfig,
    pub platform: PlatformConfig,
    pub security: SecurityConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Address the server listens on.
    pub bind: String,
    /// Public base URL of the deployment; links in mail are built from it (or from the
    /// flock's own `public_url` setting), never from request headers.
    pub public_url: String,
    /// Peers whose `X-Forwarded-For` is believed (exact IPs). Empty: the socket address only.
    pub trusted_proxies: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            trusted_proxies: Vec::new(),
            body_limit: 1024 * 1024,
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` (embedded default) or `postgres://…`.
    pub url: SecretString,
    pub max_connections: u32,
    /// Apply pending migrations when `serve` starts.
    pub auto_migrate: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("sqlite://./data/fold.db?mode=rwc"),
            max_connections: 32,
            auto_migrate: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KvConfig {
    /// `redis://…` for Redis; empty for the embedded store at `path`.
    pub url: Option<SecretString>,
    /// File of the embedded store (kept across restarts).
    pub path: PathBuf,
    /// Prefix of every key (lets several deployments or test runs share one Redis).
    pub prefix: String,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            url: None,
            path: PathBuf::from("./data/kv.redb"),
            prefix: "fold:".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// `smtp://user:pass@host:port` or `smtps://…`; empty writes mail to `outbox_dir`.
    pub smtp_url: Option<SecretString>,
    pub outbox_dir: PathBuf,
    /// Default sender when a flock has none.
    pub from: String,
    /// How often the mail worker polls the outbox (milliseconds).
    pub worker_interval_ms: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            outbox_dir: PathBuf::from("./data/outbox"),
            from: "Fold <no-reply@localhost>".into(),
            worker_interval_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PlatformConfig {
    /// A platform key accepted in addition to the ones stored in the database.
    pub key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SecurityConfig {
    /// argon2id memory cost in KiB (OWASP: 19 MiB).
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
    /// Password hashes computed at once (the bounded pool); 0 = number of CPUs.
    pub hash_workers: usize,
    /// Hash jobs allowed to wait for a worker before new ones are refused with 503.
    pub hash_queue: usize,
    /// Seconds a verified access token stays in the verification cache.
    pub token_cache_secs: u64,
    /// Under the protected enumeration policy, answers of register, reset and preauth
    /// take at least this many milliseconds, so existing and unknown accounts look alike.
    pub uniform_response_ms: u64,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            argon2_m_kib: 19 * 1024,
            argon2_t: 2,
            argon2_p: 1,
            hash_workers: 0,
            hash_queue: 256,
            token_cache_secs: 30,
            uniform_response_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,fold=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (if it exists), then `FOLD_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let path = file.unwrap_or(Path::new("fold.toml"));
        Figment::new()
            .merge(Toml::file(path))
            .merge(Env::prefixed("FOLD_").split("__"))
            .extract()
            .map_err(Box::new)
    }
}
