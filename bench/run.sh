#!/usr/bin/env bash
# Builds Fold and fold-bench in release mode, starts the server on the embedded defaults
# (SQLite + embedded KV) in a temp dir — or on PostgreSQL + Redis with BENCH_PG=1 —
# runs each scenario for ~10 s at 64 connections, prints the figures, stops the server.
#
# Environment: BENCH_CONNECTIONS (64), BENCH_DURATION (10),
#              BENCH_SCENARIOS ("healthz me refresh login otp"; also otp-signin, which waits
#              out the 60 s resend cooldown), BENCH_SMS_PORT (18099),
#              BENCH_PORT (18080), BENCH_PROFILE (release; "debug" for a smoke run),
#              BENCH_PG=1 with BENCH_DATABASE_URL / BENCH_REDIS_URL pointing at running servers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PROFILE="${BENCH_PROFILE:-release}"
CONNS="${BENCH_CONNECTIONS:-64}"
DURATION="${BENCH_DURATION:-10}"
PORT="${BENCH_PORT:-18080}"
SCENARIOS="${BENCH_SCENARIOS:-healthz me refresh login otp}"
SMS_PORT="${BENCH_SMS_PORT:-18099}"

if [[ "$PROFILE" == release ]]; then
    cargo build --release -p fold -p fold-bench
    BIN="$ROOT/target/release"
else
    cargo build -p fold -p fold-bench
    BIN="$ROOT/target/debug"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export FOLD_PLATFORM_KEY="bench-platform-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FOLD_PLATFORM__KEY="$FOLD_PLATFORM_KEY"
export FOLD_HTTP__BIND="127.0.0.1:$PORT"
export FOLD_HTTP__PUBLIC_URL="http://127.0.0.1:$PORT"
export FOLD_LOG__FILTER="${FOLD_LOG__FILTER:-warn}"
# One load generator is one client IP: the per-IP limiter would measure itself, not Fold.
export FOLD_LIMITS__IP_PER_SECOND="${FOLD_LIMITS__IP_PER_SECOND:-0}"
# The `federated` scenario plays an OpenID Connect provider on loopback.
export FOLD_FEDERATION__ALLOW_PRIVATE_NETWORKS=true
# The `otp` scenarios receive the codes: SMS go by the webhook provider to fold-bench.
export FOLD_SMS__PROVIDER=webhook
export FOLD_SMS__WEBHOOK_URL="http://127.0.0.1:$SMS_PORT/sms"
if [[ -n "${BENCH_PG:-}" ]]; then
    export FOLD_DATABASE__URL="${BENCH_DATABASE_URL:?BENCH_DATABASE_URL}"
    export FOLD_KV__URL="${BENCH_REDIS_URL:?BENCH_REDIS_URL}"
    export FOLD_KV__PREFIX="bench:$$:"
fi

(cd "$WORK" && mkdir -p data && exec "$BIN/fold" serve >"$WORK/server.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/server.log"; exit 1; }
# The subshell execs the server, so its pid is the server's.
echo "server pid $SERVER_PID ($PROFILE), $(nproc) cores"

# The raw argon2 rate first, on the idle machine: login throughput is compared with it.
"$BIN/fold-bench" --scenario argon2 --duration 5

for s in $SCENARIOS; do
    "$BIN/fold-bench" --url "http://127.0.0.1:$PORT" --scenario "$s" \
        --connections "$CONNS" --duration "$DURATION" --server-pid "$SERVER_PID" \
        --sms-port "$SMS_PORT"
done
