#!/usr/bin/env bash
# The directory at scale: for each size in BENCH_SIZES (1000 100000 1000000) and each
# backend in BENCH_BACKENDS (sqlite postgres), a fresh database with 10 other flocks of
# BENCH_OTHERS users each beside flock `acme`, seeded with `fold users seed`; the release
# server on it; `fold-bench --scenario directory` (p50/p99 over BENCH_SAMPLES calls per
# operation); and the query plans of bench/plans.sql. PostgreSQL needs
# BENCH_DATABASE_URL (an admin URL: a database is created per run).
#
# bash bench/directory.sh                       # everything (about 20 minutes here)
# BENCH_SIZES=1000 BENCH_BACKENDS=sqlite bash bench/directory.sh   # a smoke run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
SIZES="${BENCH_SIZES:-1000 100000 1000000}"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
OTHERS="${BENCH_OTHERS:-10000}"
SAMPLES="${BENCH_SAMPLES:-200}"
PORT="${BENCH_PORT:-18090}"

cargo build --release -p fold -p fold-bench
BIN="$ROOT/target/release"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export FOLD_PLATFORM__KEY="bench-platform-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FOLD_HTTP__BIND="127.0.0.1:$PORT" FOLD_LOG__FILTER=warn FOLD_LIMITS__IP_PER_SECOND=0
export FOLD_KV__PATH="$WORK/kv.redb"

plans() {
    BACKEND="$1" URL="$2" python3 - bench/plans.sql <<'PY'
import os, sqlite3, subprocess, sys
backend, url = os.environ["BACKEND"], os.environ["URL"]
if backend == "sqlite":
    db = sqlite3.connect(url)
    one = lambda q: db.execute(q).fetchone()[0]
    lit = "quote(id)"
else:
    one = lambda q: subprocess.run(["psql", "-qAtX", url, "-c", q], check=True,
                                   capture_output=True, text=True).stdout.strip()
    lit = "quote_literal(id::text) || '::uuid'"
flock = one(f"SELECT {lit} FROM flocks WHERE slug = 'acme'")
row = f"FROM users WHERE flock_id = {flock} ORDER BY name_key, id LIMIT 1 OFFSET 100"
values = {
    "FLOCK": flock,
    "AFTER_NAME": one(f"SELECT quote_literal(name_key) {row}" if backend != "sqlite" else f"SELECT quote(name_key) {row}"),
    "AFTER_ID": one(f"SELECT {lit} {row}"),
    "AFTER_TIME": one(f"SELECT quote_literal(created_at::text) || '::timestamptz' {row}" if backend != "sqlite" else f"SELECT quote(created_at) {row}"),
    "IDS": one(f"SELECT string_agg(x, ', ') FROM (SELECT {lit} AS x FROM users WHERE flock_id = {flock} ORDER BY created_at DESC LIMIT 1000) t" if backend != "sqlite"
               else f"SELECT group_concat(x, ', ') FROM (SELECT {lit} AS x FROM users WHERE flock_id = {flock} ORDER BY created_at DESC LIMIT 1000)"),
}
for line in open(sys.argv[1]):
    if not line.strip() or line.startswith("--"):
        continue
    q = line.strip().rstrip(";")
    for k, v in values.items():
        q = q.replace("{" + k + "}", v)
    print("--", line.strip()[:120] + "…", flush=True)
    if backend == "sqlite":
        lines = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + q)]
    else:
        lines = subprocess.run(["psql", "-qAtX", url, "-c", "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + q],
                               check=True, capture_output=True, text=True).stdout.splitlines()
    for l in lines:
        print("   ", l if len(l) < 200 else l[:200] + "…")
PY
}

for backend in $BACKENDS; do
    for n in $SIZES; do
        rm -rf "$WORK"/*
        if [[ "$backend" == sqlite ]]; then
            export FOLD_DATABASE__URL="sqlite://$WORK/fold.db?mode=rwc"
            PLAN_URL="$WORK/fold.db"
        else
            admin="${BENCH_DATABASE_URL:?BENCH_DATABASE_URL (postgres://…/postgres) for the postgres backend}"
            name="fold_dir_bench_$n"
            psql -q -X "$admin" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
            export FOLD_DATABASE__URL="${admin%/*}/$name"
            PLAN_URL="$FOLD_DATABASE__URL"
        fi
        echo "== $backend, $n users in acme, 10 other flocks of $OTHERS"
        "$BIN/fold" migrate >/dev/null
        "$BIN/fold" flock create acme >/dev/null
        for i in $(seq 0 9); do
            "$BIN/fold" flock create "other$i" >/dev/null
            "$BIN/fold" users seed "other$i" --count "$OTHERS" 2>/dev/null | tail -1
        done
        "$BIN/fold" users seed acme --count "$n" 2>/dev/null | tail -1
        # Measure a settled database: the bulk load's vacuum done, not racing the calls.
        if [[ "$backend" == postgres ]]; then psql -q -X "$PLAN_URL" -c "VACUUM (ANALYZE)"; fi
        (cd "$WORK" && exec "$BIN/fold" serve --no-migrate >"$WORK/server.log" 2>&1) &
        SERVER_PID=$!
        for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
        KEY=$(curl -fsS -X POST "http://127.0.0.1:$PORT/platform/v1/flocks/acme/api-keys" \
            -H "X-Platform-Key: $FOLD_PLATFORM__KEY" -H 'content-type: application/json' \
            -d '{"name": "bench", "scopes": ["users_*", "user_meta_*", "groups_*"]}' \
            | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
        "$BIN/fold-bench" --url "http://127.0.0.1:$PORT" --scenario directory --flock acme \
            --api-key "$KEY" --count "$n" --samples "$SAMPLES"
        kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
        echo "-- query plans ($backend, $n users)"
        plans "$backend" "$PLAN_URL"
    done
done
