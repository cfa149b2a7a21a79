//! Process-wide operation counters: every KV call by kind, every SQL statement and every
//! write transaction. `/metrics` exposes them and `fold-bench` divides their growth by
//! the requests of a scenario, so the cost of a request is a number, not a guess.
use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of KV call, in the order of [`KV_OP_NAMES`].
#[derive(Debug, Clone, Copy)]
pub enum KvOp {
    Get,
    Set,
    SetNx,
    Del,
    Take,
    Incr,
    IncrCapped,
    Cas,
    Sadd,
    Srem,
    Smembers,
    Batch,
}

pub const KV_OP_NAMES: [&str; 12] = [
    "get",
    "set",
    "set_nx",
    "del",
    "take",
    "incr",
    "incr_capped",
    "cas",
    "sadd",
    "srem",
    "smembers",
    "batch",
];

static KV_OPS: [AtomicU64; 12] = [const { AtomicU64::new(0) }; 12];
static DB_STATEMENTS: AtomicU64 = AtomicU64::new(0);
static DB_WRITE_TRANSACTIONS: AtomicU64 = AtomicU64::new(0);
/// Durable commits of the embedded KV store (one per group of writers).
static KV_COMMITS: AtomicU64 = AtomicU64::new(0);

pub fn kv_op(op: KvOp) {
    KV_OPS[op as usize].fetch_add(1, Ordering::Relaxed);
}

pub fn db_statement() {
    DB_STATEMENTS.fetch_add(1, Ordering::Relaxed);
}

pub fn db_write_transaction() {
    DB_WRITE_TRANSACTIONS.fetch_add(1, Ordering::Relaxed);
}

pub fn kv_commit() {
    KV_COMMITS.fetch_add(1, Ordering::Relaxed);
}

/// The counters in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str("# HELP fold_kv_operations_total KV store calls by kind\n");
    out.push_str("# TYPE fold_kv_operations_total counter\n");
    for (name, n) in KV_OP_NAMES.iter().zip(KV_OPS.iter()) {
        out.push_str(&format!(
            "fold_kv_operations_total{{op=\"{name}\"}} {}\n",
            n.load(Ordering::Relaxed)
        ));
    }
    for (name, help, n) in [
        (
            "fold_kv_commits_total",
            "Durable commits of the embedded KV store (one per group of writers)",
            &KV_COMMITS,
        ),
        (
            "fold_db_statements_total",
            "SQL statements executed",
            &DB_STATEMENTS,
        ),
        (
            "fold_db_write_transactions_total",
            "Write transactions begun",
            &DB_WRITE_TRANSACTIONS,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            n.load(Ordering::Relaxed)
        ));
    }
    out
}
