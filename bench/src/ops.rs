//! The server's operation counters (`/metrics`: KV calls by kind, embedded KV commits,
//! SQL statements, write transactions) read before and after a measured phase, divided
//! by the requests of the phase: what one request costs in store round trips.
use anyhow::Result;
use std::collections::BTreeMap;

pub struct Snapshot(BTreeMap<String, f64>, Option<u64>, std::time::Instant);

/// The server's CPU time so far (user + system, in clock ticks of 1/100 s).
fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after_name.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub async fn snapshot(c: &reqwest::Client, url: &str, pid: Option<u32>) -> Result<Snapshot> {
    let text = c.get(format!("{url}/metrics")).send().await?.text().await?;
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some(name) = [
            "fold_kv_operations_total",
            "fold_kv_commits_total",
            "fold_db_statements_total",
            "fold_db_write_transactions_total",
        ]
        .into_iter()
        .find(|n| line.starts_with(n)) else {
            continue;
        };
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let key = match series.split_once("op=\"") {
            Some((_, rest)) => format!("kv.{}", rest.trim_end_matches("\"}")),
            None => name.to_owned(),
        };
        m.insert(key, value.parse().unwrap_or(0.0));
    }
    Ok(Snapshot(m, cpu_ticks(pid), std::time::Instant::now()))
}

impl Snapshot {
    /// One line: KV calls per request (total and by kind), KV commits, SQL statements and
    /// write transactions per request.
    pub fn print_since(&self, before: &Snapshot, per: &str, n: usize) {
        if n == 0 {
            return;
        }
        let d = |k: &str| {
            (self.0.get(k).copied().unwrap_or(0.0) - before.0.get(k).copied().unwrap_or(0.0))
                / n as f64
        };
        let mut kinds = Vec::new();
        let mut kv_total = 0.0;
        for k in self.0.keys().filter(|k| k.starts_with("kv.")) {
            let v = d(k);
            kv_total += v;
            if v >= 0.005 {
                kinds.push(format!("{} {v:.2}", &k[3..]));
            }
        }
        println!(
            "         per {per}: kv calls {kv_total:.2} ({}), kv commits {:.2}, sql statements {:.2}, write transactions {:.2}",
            kinds.join(", "),
            d("fold_kv_commits_total"),
            d("fold_db_statements_total"),
            d("fold_db_write_transactions_total"),
        );
        if let (Some(a), Some(b)) = (self.1, before.1) {
            let secs = self.2.duration_since(before.2).as_secs_f64();
            println!(
                "         server CPU {:.2} cores",
                a.saturating_sub(b) as f64 / 100.0 / secs.max(0.001)
            );
        }
    }
}
