//! Typed configuration: defaults, then an optional TOML file, then `FOLD_*` environment
//! variables (nested keys joined by `__`, e.g. `FOLD_DATABASE__URL`). Secrets are wrapped
//! in `SecretString` so they print as `[REDACTED]` when the config is logged.
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the server answers when nothing is configured (`http.public_url`).
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8080";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub kv: KvConfig,
    pub mail: MailConfig,
    pub sms: SmsConfig,
    pub platform: PlatformConfig,
    pub security: SecurityConfig,
    pub limits: LimitsConfig,
    pub files: FilesConfig,
    pub federation: FederationConfig,
    pub webhooks: WebhooksConfig,
    pub retention: RetentionConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// `local` (files under `dir`) or `s3` (an S3-compatible object store).
    pub store: String,
    pub dir: PathBuf,
    pub s3_bucket: String,
    pub s3_region: String,
    /// Endpoint of an S3-compatible server (MinIO, Ceph, moto); unset for AWS itself.
    pub s3_endpoint: Option<String>,
    /// Unset: the usual AWS sources (environment, instance metadata).
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<SecretString>,
    /// Largest upload any flock may allow, in bytes (the request body limit of upload
    /// routes; each flock sets its own `files.max_bytes` under it).
    pub max_upload_bytes: usize,
    /// Images decoded and resized at once (a bounded pool off the async runtime);
    /// 0 = half the CPUs, at least 1.
    pub workers: usize,
    /// Images waiting for a worker before new uploads are refused with 503.
    pub queue: usize,
    /// Seconds a signed download URL stays valid.
    pub url_ttl_secs: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            store: "local".into(),
            dir: PathBuf::from("./data/files"),
            s3_bucket: "fold".into(),
            s3_region: "us-east-1".into(),
            s3_endpoint: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_upload_bytes: 25 * 1024 * 1024,
            workers: 0,
            queue: 16,
            url_ttl_secs: 3600,
        }
    }
}

/// The retention job (per-flock periods are in the flock's `settings.retention`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// How often it runs, in seconds.
    pub interval_secs: u64,
    /// Rows deleted per statement.
    pub batch: u64,
    /// Pause between batches, in milliseconds.
    pub pause_ms: u64,
    /// One-time tokens used or expired, and mails delivered, this many days ago go.
    pub tokens_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3600,
            batch: 1000,
            pause_ms: 10,
            tokens_days: 30,
        }
    }
}

/// Webhook delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Let endpoints be on loopback and private networks (and plain http); off, such
    /// endpoints are refused at creation and at every delivery (SSRF).
    pub allow_private_networks: bool,
    /// Timeout of one delivery, in seconds.
    pub timeout_secs: u64,
    /// How often the worker looks for events and due deliveries, in milliseconds.
    pub interval_ms: u64,
    /// An endpoint failing this many days in a row is disabled.
    pub disable_after_days: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            timeout_secs: 15,
            interval_ms: 1000,
            disable_after_days: 5,
        }
    }
}

/// Sign-in through identity providers (Google, Apple, OpenID Connect, OAuth 2).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Let provider URLs reach loopback and private networks (and plain http). Off by
    /// default: a flock administrator must not make Fold call the cloud metadata service
    /// or an internal admin port.
    pub allow_private_networks: bool,
    /// Timeout of one call to a provider, in seconds.
    pub http_timeout_secs: u64,
    /// URL prefixes rewritten before Fold calls them or sends a browser there (an egress
    /// proxy; the tests' stand-ins for Google and Apple). Issuers are never rewritten.
    pub rewrite: std::collections::BTreeMap<String, String>,
    /// An unknown key id in a token refetches the provider's keys at most this often.
    pub jwks_refetch_secs: u64,
    /// Key sets without a cache lifetime are kept this long (seconds).
    pub jwks_default_ttl_secs: u64,
    /// Lifetime of a code flow's state (the user's time at the provider), in seconds.
    pub state_ttl_secs: u64,
    /// Lifetime of the one-time exchange code handed to the portal, in seconds.
    pub exchange_ttl_secs: u64,
    /// Clock skew allowed on `exp`, `iat` and `nbf` of ID tokens, in seconds.
    pub leeway_secs: u64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            http_timeout_secs: 5,
            rewrite: Default::default(),
            jwks_refetch_secs: 60,
            jwks_default_ttl_secs: 3600,
            state_ttl_secs: 600,
            exchange_ttl_secs: 120,
            leeway_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per second one client IP may make to any route (0 disables the limiter).
    pub ip_per_second: u32,
    /// Requests one client IP may make in a burst.
    pub ip_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            ip_per_second: 300,
            ip_burst: 600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
            public_url: DEFAULT_PUBLIC_URL.into(),
            trusted_proxies: Vec::new(),
            body_limit: 1024 * 1024,
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` (embedded default) or `postgres://…`.
    pub url: SecretString,
    pub max_connections: u32,
    /// Apply pending migrations when `serve` starts.
    pub auto_migrate: bool,
    /// A directory search filter matching at most this many users is answered from its
    /// own index, the rows sorted in memory (see `db/directory/search.rs`).
    pub search_probe_cap: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("sqlite://./data/fold.db?mode=rwc"),
            max_connections: 32,
            auto_migrate: true,
            search_probe_cap: crate::db::directory::PROBE_CAP,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    /// `redis://…` for Redis; empty for the embedded store at `path`.
    pub url: Option<SecretString>,
    /// File of the embedded store (kept across restarts).
    pub path: PathBuf,
    /// Prefix of every key (lets several deployments or test runs share one Redis).
    pub prefix: String,
    /// How long a Redis call (and a connection attempt) may take before the request it
    /// serves answers 503 (milliseconds).
    pub timeout_ms: u64,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            url: None,
            path: PathBuf::from("./data/kv.redb"),
            prefix: "fold:".into(),
            timeout_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// `outbox` (default: JSON files in `outbox_dir`), `webhook` or `twilio`.
    pub provider: String,
    pub outbox_dir: PathBuf,
    /// Webhook provider: URL that receives `POST {"to": "+…", "text": "…"}`.
    pub webhook_url: Option<String>,
    /// Webhook provider: sent as `Authorization: Bearer …` when set.
    pub webhook_token: Option<SecretString>,
    /// Twilio-compatible provider: API base URL.
    pub twilio_base_url: String,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<SecretString>,
    /// Twilio-compatible provider: the sender number or messaging service.
    pub twilio_from: Option<String>,
    /// Seconds to wait for the provider before answering 503.
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: "outbox".into(),
            outbox_dir: PathBuf::from("./data/sms-outbox"),
            webhook_url: None,
            webhook_token: None,
            twilio_base_url: "https://api.twilio.com".into(),
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PlatformConfig {
    /// A platform key accepted in addition to the ones stored in the database.
    pub key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Key of the HMAC that one-time codes are stored under. Unset: a random secret is
    /// created once in the KV store (shared by every replica through Redis) and read
    /// from there; set it explicitly to keep codes valid across a KV wipe.
    pub otp_secret: Option<SecretString>,
    /// Key that provider secrets are sealed with (32 bytes, base64url). Unset: a random
    /// key created once in the KV store; set it in production so a KV wipe cannot make
    /// stored provider secrets unreadable.
    pub secret_key: Option<SecretString>,
    /// Password sign-in throttle: failed attempts per client IP per hour.
    pub login_ip_per_hour: u32,
    /// Password sign-in throttle: failed attempts per flock per hour.
    pub login_flock_per_hour: u32,
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
            otp_secret: None,
            secret_key: None,
            login_ip_per_hour: 1000,
            login_flock_per_hour: 100_000,
            uniform_response_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Defaults, then `file`, then `FOLD_*` environment variables; then every setting
    /// checked. A `file` that was asked for must exist (`fold.toml` is read when present);
    /// an unknown key in the file is an error; an unknown `FOLD_*` variable is ignored
    /// with a warning naming the closest setting (returned with the configuration).
    pub fn load(file: Option<&Path>) -> Result<(Self, Vec<String>), String> {
        let path = match file {
            Some(p) if !p.exists() => {
                return Err(format!(
                    "the configuration file `{}` does not exist",
                    p.display()
                ))
            }
            Some(p) => p,
            None => Path::new("fold.toml"),
        };
        let mut warnings = Vec::new();
        let mut unknown = Vec::new();
        for (name, _) in std::env::vars() {
            let Some(key) = name.strip_prefix("FOLD_").map(str::to_owned) else {
                continue;
            };
            let only = key.clone();
            let probe = Figment::new()
                .merge(
                    Env::prefixed("FOLD_")
                        .filter(move |k| k.as_str().eq_ignore_ascii_case(&only))
                        .split("__"),
                )
                .extract::<Config>();
            if let Err(e) = probe {
                if let figment::error::Kind::UnknownField(_, expected) = &e.kind {
                    warnings.push(format!(
                        "ignoring the environment variable {name}: no such setting{}",
                        suggest(&key, expected)
                    ));
                    unknown.push(key);
                }
            }
        }
        let config: Config = Figment::new()
            .merge(Toml::file(path))
            .merge(
                Env::prefixed("FOLD_")
                    .filter(move |k| !unknown.iter().any(|u| k.as_str().eq_ignore_ascii_case(u)))
                    .split("__"),
            )
            .extract()
            .map_err(|e| e.to_string())?;
        config.validate()?;
        Ok((config, warnings))
    }

    /// The settings a type cannot check: closed sets, addresses, URLs.
    pub fn validate(&self) -> Result<(), String> {
        let one_of = |name: &str, value: &str, allowed: &[&str]| {
            if allowed.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{name} = `{value}` is not allowed; use one of: {}",
                    allowed.join(", ")
                ))
            }
        };
        one_of("log.format", &self.log.format, &["text", "json"])?;
        one_of(
            "sms.provider",
            &self.sms.provider,
            &["outbox", "webhook", "twilio"],
        )?;
        use std::net::ToSocketAddrs;
        let bind = &self.http.bind;
        match bind.to_socket_addrs().map(|mut a| a.next().is_some()) {
            Ok(true) => {}
            Ok(false) => return Err(format!("http.bind = `{bind}` names no address")),
            Err(e) => {
                return Err(format!(
                    "http.bind = `{bind}` is not an address to listen on, such as \
                     127.0.0.1:8080 ({e})"
                ))
            }
        }
        let url = &self.http.public_url;
        if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return Err(format!(
                "http.public_url = `{url}` is not an http(s) URL such as https://id.example.com"
            ));
        }
        Ok(())
    }
}

/// ", did you mean FOLD_X__Y?" for a mistyped variable (`key`: the name after `FOLD_`).
fn suggest(key: &str, expected: &[&str]) -> String {
    let lower = key.to_ascii_lowercase();
    // A single underscore where the section ends: FOLD_HTTP_BIND for FOLD_HTTP__BIND.
    for section in expected {
        if let Some(rest) = lower.strip_prefix(&format!("{section}_")) {
            if !rest.is_empty() && !rest.starts_with('_') {
                return format!(
                    "; did you mean FOLD_{}__{}?",
                    section.to_ascii_uppercase(),
                    rest.to_ascii_uppercase()
                );
            }
        }
    }
    let close = expected
        .iter()
        .min_by_key(|e| strsim::levenshtein(e, lower.rsplit("__").next().unwrap_or(&lower)));
    match close {
        Some(c) => format!(" (the closest known key here is `{c}`)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_example_file_parses_and_secrets_stay_redacted() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fold.example.toml");
        let cfg = Config::load(Some(&path)).map_err(|e| e.to_string());
        let Ok((cfg, _)) = cfg else {
            unreachable!("example config: {cfg:?}")
        };
        assert_eq!(cfg.http.public_url, "https://id.example.com");
        let url = cfg.database.url.expose_secret().to_owned();
        assert!(url.starts_with("postgres://"));
        let printed = format!("{cfg:?}");
        assert!(!printed.contains("secret@"), "secrets redacted: {printed}");
    }

    fn load_text(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("fold.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Config::load(Some(&path)).map(|(c, _)| c)
    }

    #[test]
    fn mistakes_are_refused_by_name() {
        let missing = Config::load(Some(Path::new("/nonexistent/nope.toml")));
        assert!(missing.is_err_and(|e| e.contains("nope.toml") && e.contains("does not exist")));
        let unknown = load_text("[http]\nbnd = \"127.0.0.1:1\"\n");
        assert!(unknown.is_err_and(|e| e.contains("bnd")), "unknown key");
        let format = load_text("[log]\nformat = \"xml\"\n");
        assert!(format.is_err_and(|e| e.contains("log.format") && e.contains("xml")));
        let bind = load_text("[http]\nbind = \"nonsense\"\n");
        assert!(bind.is_err_and(|e| e.contains("http.bind") && e.contains("nonsense")));
        let url = load_text("[http]\npublic_url = \"id.example.com\"\n");
        assert!(url.is_err_and(|e| e.contains("http.public_url")));
        assert!(load_text("[http]\nbind = \"127.0.0.1:8181\"\n").is_ok());
    }

    #[test]
    fn a_misspelt_variable_is_named_with_the_setting_meant() {
        let s = suggest("HTTP_BIND", &["http", "database", "kv"]);
        assert_eq!(s, "; did you mean FOLD_HTTP__BIND?");
        let s = suggest("HTTP__BIDN", &["bind", "public_url"]);
        assert!(s.contains("`bind`"), "{s}");
    }
}
