#!/usr/bin/env bash
# Administration at scale, per backend in BENCH_BACKENDS (sqlite postgres): flock `acme`
# with BENCH_USERS (1000000) seeded users and BENCH_EVENTS (1000000) audit events 400 days
# old, beside 10 other flocks of BENCH_OTHERS (10000) users. Measures
#   - GET /stats and the first pages of the audit log (p50/max over BENCH_SAMPLES calls),
#   - password sign-ins at BENCH_CONNECTIONS (4) for BENCH_DURATION (10) s: alone, then
#     while the retention job purges the old events (`fold-bench --scenario retention`).
# PostgreSQL needs BENCH_DATABASE_URL (an admin URL: a database is created per run).
#
# bash bench/admin.sh                                                  # about 15 minutes
# BENCH_USERS=10000 BENCH_EVENTS=10000 BENCH_BACKENDS=sqlite bash bench/admin.sh  # smoke
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
USERS="${BENCH_USERS:-1000000}"
EVENTS="${BENCH_EVENTS:-1000000}"
OTHERS="${BENCH_OTHERS:-10000}"
SAMPLES="${BENCH_SAMPLES:-20}"
CONNS="${BENCH_CONNECTIONS:-4}"
DURATION="${BENCH_DURATION:-10}"
PORT="${BENCH_PORT:-18091}"

cargo build --release -p fold -p fold-bench
BIN="$ROOT/target/release"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export FOLD_PLATFORM_KEY="bench-platform-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FOLD_PLATFORM__KEY="$FOLD_PLATFORM_KEY"
export FOLD_HTTP__BIND="127.0.0.1:$PORT" FOLD_LOG__FILTER=warn FOLD_LIMITS__IP_PER_SECOND=0
export FOLD_KV__PATH="$WORK/kv.redb"
# The job runs when the scenario asks, not on its own timer.
export FOLD_RETENTION__INTERVAL_SECS=86400

# p50 and max of SAMPLES calls of GET $1 (seconds → ms).
timed() {
    local path="$1" t
    for _ in $(seq 1 "$SAMPLES"); do
        t=$(curl -fsS -o /dev/null -w '%{time_total}' -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT$path")
        echo "$t"
    done | sort -n | awk -v p="$path" '{a[NR]=$1} END {printf "%-60s p50=%.1fms max=%.1fms (%d calls)\n", p, a[int((NR+1)/2)]*1000, a[NR]*1000, NR}'
}

for backend in $BACKENDS; do
    rm -rf "${WORK:?}"/*
    if [[ "$backend" == sqlite ]]; then
        export FOLD_DATABASE__URL="sqlite://$WORK/fold.db?mode=rwc"
    else
        admin="${BENCH_DATABASE_URL:?BENCH_DATABASE_URL (postgres://…/postgres) for the postgres backend}"
        name="fold_admin_bench"
        psql -q -X "$admin" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
        export FOLD_DATABASE__URL="${admin%/*}/$name"
    fi
    echo "== $backend: acme with $USERS users and $EVENTS old events, 10 other flocks of $OTHERS"
    "$BIN/fold" migrate >/dev/null 2>&1
    "$BIN/fold" flock create acme >/dev/null
    for i in $(seq 0 9); do
        "$BIN/fold" flock create "other$i" >/dev/null
        "$BIN/fold" users seed "other$i" --count "$OTHERS" 2>/dev/null | tail -1
    done
    "$BIN/fold" users seed acme --count "$USERS" 2>/dev/null | tail -1
    "$BIN/fold" events seed acme --count "$EVENTS" --age-days 400 | tail -1
    if [[ "$backend" == postgres ]]; then psql -q -X "$FOLD_DATABASE__URL" -c "VACUUM (ANALYZE)"; fi
    (cd "$WORK" && exec "$BIN/fold" serve --no-migrate >"$WORK/server.log" 2>&1) &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    KEY=$(curl -fsS -X POST "http://127.0.0.1:$PORT/platform/v1/flocks/acme/api-keys" \
        -H "X-Platform-Key: $FOLD_PLATFORM__KEY" -H 'content-type: application/json' \
        -d '{"name": "bench", "scopes": ["get_stats", "list_audit_events"]}' \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
    timed "/api/v1/acme/stats"
    timed "/api/v1/acme/audit/events?limit=100"
    timed "/api/v1/acme/audit/events?type=user.signed_in&limit=100"
    timed "/api/v1/acme/audit/events?actor=system&limit=100"
    "$BIN/fold-bench" --url "http://127.0.0.1:$PORT" --scenario retention --flock acme \
        --connections "$CONNS" --duration "$DURATION" --server-pid "$SERVER_PID"
    timed "/api/v1/acme/stats"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done
