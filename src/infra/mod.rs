//! Infrastructure we own or wrap: clock, the request's context (who, from where), secrets (and sealing them), the KV store, mail,
//! metrics, outbound HTTP to identity providers.
pub mod clock;
pub mod context;
pub mod counts;
pub mod files;
pub mod invalidate;
pub mod ip_limit;
pub mod kv;
pub mod mail;
pub mod metrics;
pub mod outbound;
pub mod sealed;
pub mod secret;
pub mod sms;

/// Wall-clock nanoseconds, only to order local outbox files by name.
#[allow(clippy::disallowed_methods)]
pub(crate) fn outbox_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Every JSON message in a local outbox directory (mail or SMS), oldest first: for tests
/// and local development.
pub fn read_json_dir<T: serde::de::DeserializeOwned>(dir: &std::path::Path) -> Vec<T> {
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect()
}
