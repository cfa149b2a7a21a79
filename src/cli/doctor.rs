//! `fold doctor`: checks the configuration, the database, the KV store, mail, SMS, the
//! file store and the listening address, and says in plain words what is wrong. It
//! applies no migration and writes no data; like the server it creates what is missing
//! (the SQLite file, the embedded store's file, the outbox and file directories, where it
//! leaves no probe file behind).
use fold::config::Config;
use secrecy::ExposeSecret;
use std::path::Path;
use std::time::Duration;

/// One line per check; returns how many failed.
pub async fn run(config: &Config, warnings: &[String]) -> usize {
    let mut failed = 0;
    let mut report = |name: &str, r: Result<String, String>| match r {
        Ok(ok) => println!("ok       {name}: {ok}"),
        Err(problem) => {
            failed += 1;
            println!("PROBLEM  {name}: {problem}");
        }
    };
    report(
        "configuration",
        if warnings.is_empty() {
            Ok("no unknown keys or variables".into())
        } else {
            Err(warnings.join("; "))
        },
    );
    report("database", database(config).await);
    report("key-value store", kv(config).await);
    report("mail", mail(config).await);
    report("sms", sms(config).await);
    report("files", files(config).await);
    report("http.bind", bind(config).await);
    failed
}

async fn database(config: &Config) -> Result<String, String> {
    let db = fold::app::connect_db(config)
        .await
        .map_err(|e| e.to_string())?;
    db.ping()
        .await
        .map_err(|e| format!("connected, but a query failed: {e}"))?;
    let url = config.database.url.expose_secret();
    let kind = if url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    Ok(format!("{kind} answers"))
}

async fn kv(config: &Config) -> Result<String, String> {
    match config.kv.url.as_ref().map(|u| u.expose_secret().to_owned()) {
        Some(url) if !url.is_empty() => {
            let at = host_port(&url, 6379).unwrap_or_else(|| "(unreadable kv.url)".into());
            let timeout = Duration::from_millis(config.kv.timeout_ms.max(1));
            let redis = fold::infra::kv::RedisKv::connect(&url, &config.kv.prefix, timeout)
                .map_err(|e| format!("kv.url: Redis at {at}: {e}"))?;
            redis
                .ping()
                .await
                .map_err(|e| format!("kv.url: Redis at {at} does not answer: {e}"))?;
            Ok(format!("Redis at {at} answers"))
        }
        _ => {
            let path = &config.kv.path;
            match fold::infra::kv::EmbeddedKv::open(path) {
                Ok(_) => Ok(format!("embedded store {} opens", path.display())),
                Err(e) if fold::app::held_by_another_process(&e) => Ok(format!(
                    "embedded store {} is held by a running server (as it should be)",
                    path.display()
                )),
                Err(e) => Err(format!("kv.path {}: {e}", path.display())),
            }
        }
    }
}

async fn mail(config: &Config) -> Result<String, String> {
    match config
        .mail
        .smtp_url
        .as_ref()
        .map(|u| u.expose_secret().to_owned())
    {
        Some(url) if !url.is_empty() => {
            let default = if url.starts_with("smtps:") { 465 } else { 587 };
            let at = host_port(&url, default).ok_or("mail.smtp_url is not a URL")?;
            reach(&at)
                .await
                .map(|()| format!("SMTP server {at} accepts connections"))
                .map_err(|e| format!("mail.smtp_url: SMTP server {at}: {e}"))
        }
        _ => writable(&config.mail.outbox_dir)
            .map(|()| format!("no SMTP: mail goes to {}", config.mail.outbox_dir.display()))
            .map_err(|e| format!("mail.outbox_dir: {e}")),
    }
}

async fn sms(config: &Config) -> Result<String, String> {
    let sms = &config.sms;
    match sms.provider.as_str() {
        "" | "outbox" => writable(&sms.outbox_dir)
            .map(|()| format!("SMS go to {}", sms.outbox_dir.display()))
            .map_err(|e| format!("sms.outbox_dir: {e}")),
        "webhook" => {
            let url = sms
                .webhook_url
                .as_deref()
                .ok_or("sms.provider is webhook but sms.webhook_url is not set")?;
            let at = host_port(url, 443).ok_or("sms.webhook_url is not a URL")?;
            reach(&at)
                .await
                .map(|()| format!("SMS webhook {at} accepts connections"))
                .map_err(|e| format!("sms.webhook_url: {at}: {e}"))
        }
        "twilio" => {
            if sms.twilio_account_sid.is_none() || sms.twilio_auth_token.is_none() {
                return Err("sms.provider is twilio but sms.twilio_account_sid or \
                            sms.twilio_auth_token is not set"
                    .into());
            }
            let at = host_port(&sms.twilio_base_url, 443).ok_or("sms.twilio_base_url")?;
            reach(&at)
                .await
                .map(|()| format!("Twilio API {at} accepts connections"))
                .map_err(|e| format!("sms.twilio_base_url: {at}: {e}"))
        }
        other => Err(format!(
            "sms.provider = {other:?}: must be outbox, webhook or twilio"
        )),
    }
}

async fn files(config: &Config) -> Result<String, String> {
    let f = &config.files;
    match f.store.as_str() {
        "s3" => {
            let Some(endpoint) = f.s3_endpoint.as_deref() else {
                return Ok(format!(
                    "S3 bucket {} on AWS ({}); not probed",
                    f.s3_bucket, f.s3_region
                ));
            };
            let at = host_port(endpoint, 443).ok_or("files.s3_endpoint is not a URL")?;
            reach(&at)
                .await
                .map(|()| format!("S3 endpoint {at} accepts connections"))
                .map_err(|e| format!("files.s3_endpoint: {at}: {e}"))
        }
        _ => writable(&f.dir)
            .map(|()| format!("files go to {}", f.dir.display()))
            .map_err(|e| format!("files.dir: {e}")),
    }
}

async fn bind(config: &Config) -> Result<String, String> {
    let at = &config.http.bind;
    match tokio::net::TcpListener::bind(at).await {
        Ok(_) => Ok(format!("{at} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(format!(
            "{at} is in use (by a running server, if this is the one you meant)"
        )),
        Err(e) => Err(format!("cannot listen on {at}: {e}")),
    }
}

/// `host:port` of a URL.
fn host_port(url: &str, default_port: u16) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        u.host_str()?,
        u.port_or_known_default().unwrap_or(default_port)
    ))
}

/// A TCP connection to `at` within 3 s.
async fn reach(at: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(at)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 3 s".into()),
    }
}

/// The directory exists (or can be made) and takes a file.
fn writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(format!(".fold-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
