#!/usr/bin/env bash
# Fold test runner: installs what is missing (PostgreSQL, Redis, moto, Node.js and the
# oidc-provider package the federation tests start), starts a throwaway PostgreSQL,
# Redis and S3-compatible server (moto) on free loopback ports, builds, runs the
# test suite against the embedded backends (files in a local directory) and
# against PostgreSQL + Redis + S3, then validates the committed OpenAPI spec and
# fuzzes the server with Schemathesis, then generates Python, TypeScript and Rust clients
# from the spec, builds them and runs their flows (scripts/clients.sh) and lints the spec
# with Redocly. Exits non-zero if any step fails.
#
# Environment:
#   FOLD_TEST_ARGS  extra args appended after `--` to both `cargo test` runs
#                   (e.g. a test-name filter). Empty by default.
#   FOLD_TEST_DRY=1 start both servers, check them with psql / redis-cli,
#                   then stop and clean up; no cargo or validator steps.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 1. Dependencies (idempotent; apt-get update only when something is missing)
# ---------------------------------------------------------------------------
step "Checking dependencies"
PG_BINDIR="$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
apt_pkgs=()
[[ -x "$PG_BINDIR/initdb" ]] || apt_pkgs+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || apt_pkgs+=(redis-server)

if ((${#apt_pkgs[@]})); then
    echo "installing: ${apt_pkgs[*]}"
    apt_log="$(mktemp)"
    if ! { apt-get update -qq && apt-get install -y -qq "${apt_pkgs[@]}"; } >"$apt_log" 2>&1; then
        tail -n 50 "$apt_log" >&2
        rm -f "$apt_log"
        die "apt-get install ${apt_pkgs[*]} failed"
    fi
    rm -f "$apt_log"
fi
[[ -x "$PG_BINDIR/initdb" ]] || die "initdb still missing at $PG_BINDIR/initdb"
command -v redis-server >/dev/null 2>&1 || die "redis-server still missing"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli missing"
id postgres >/dev/null 2>&1 || die "system user 'postgres' does not exist"

if [[ -z "${FOLD_TEST_DRY:-}" ]] && ! python3 -c 'import openapi_spec_validator' >/dev/null 2>&1; then
    echo "installing: openapi-spec-validator (pip)"
    python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi
# An S3-compatible server for the file store (moto, in server mode).
if ! python3 -c 'import moto.server, flask' >/dev/null 2>&1; then
    echo "installing: moto[server] (pip)"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi
# A real OpenID Connect provider for the federation tests (oidc-provider from npm,
# tests/oidc/provider.mjs; the tests start it themselves).
if [[ -z "${FOLD_TEST_DRY:-}" ]]; then
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "installing: nodejs npm (apt-get)"
        apt_log="$(mktemp)"
        { apt-get update -qq && apt-get install -y -qq nodejs npm; } >"$apt_log" 2>&1 \
            || { tail -n 50 "$apt_log" >&2; die "apt-get install nodejs npm failed"; }
        rm -f "$apt_log"
    fi
    if [[ ! -d tests/oidc/node_modules/oidc-provider ]]; then
        echo "installing: oidc-provider (npm ci in tests/oidc)"
        (cd tests/oidc && npm ci --silent --no-audit --no-fund) || die "npm ci in tests/oidc failed"
    fi
fi
echo "ok"

# ---------------------------------------------------------------------------
# 2-4. Throwaway PostgreSQL + Redis, torn down by the EXIT trap
# ---------------------------------------------------------------------------
TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/fold-test.XXXXXX")"
PGDATA="$TMP_DIR/pgdata"
PG_SOCK="$TMP_DIR/sock"
PG_STARTED=""
REDIS_PID=""
S3_PID=""

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n "$S3_PID" ]]; then
        kill "$S3_PID" 2>/dev/null
        wait "$S3_PID" 2>/dev/null
    fi
    if [[ -n "$PG_STARTED" ]]; then
        (cd "$TMP_DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PGDATA" stop -m immediate -w -t 30) >/dev/null 2>&1
        # Belt and braces: if the postmaster is still there, kill it.
        if [[ -f "$PGDATA/postmaster.pid" ]]; then
            local pm_pid
            pm_pid="$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null)"
            [[ -n "$pm_pid" ]] && kill -9 "$pm_pid" 2>/dev/null
        fi
    fi
    if [[ -n "$REDIS_PID" ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill "$REDIS_PID" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    rm -rf "$TMP_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port the kernel reports free on 127.0.0.1 right now.
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

chown postgres:postgres "$TMP_DIR"
chmod 700 "$TMP_DIR"

step "Starting PostgreSQL"
(cd "$TMP_DIR" && runuser -u postgres -- "$PG_BINDIR/initdb" -D "$PGDATA" -A trust -U postgres \
    -E UTF8 --locale=C --no-sync) >"$TMP_DIR/initdb.log" 2>&1 \
    || { cat "$TMP_DIR/initdb.log" >&2; die "initdb failed"; }
runuser -u postgres -- mkdir -p "$PG_SOCK"

pg_opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_SOCK -c fsync=off"
pg_opts+=" -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
PG_PORT=""
PG_STARTED=1   # from here on the EXIT trap always tries pg_ctl stop
for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    # Settings go on the command line so each retry can use a new port.
    if (cd "$TMP_DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PGDATA" \
            -l "$TMP_DIR/postgres.log" -w -t 60 start \
            -o "$pg_opts -p $port") >/dev/null 2>&1; then
        PG_PORT="$port"
        break
    fi
    warn "PostgreSQL did not start on port $port (attempt $attempt)"
    tail -n 20 "$TMP_DIR/postgres.log" >&2 2>/dev/null || true
    (cd "$TMP_DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PGDATA" stop -m immediate -w) >/dev/null 2>&1 || true
done
[[ -n "$PG_PORT" ]] || die "could not start PostgreSQL"

for _ in $(seq 1 300); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres && break
    sleep 0.1
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres \
    || { tail -n 50 "$TMP_DIR/postgres.log" >&2; die "PostgreSQL not ready on port $PG_PORT"; }
echo "PostgreSQL ready on 127.0.0.1:$PG_PORT (data in $PGDATA)"

step "Starting Redis"
REDIS_PORT=""
for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$TMP_DIR" --daemonize no >"$TMP_DIR/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]] && { REDIS_PORT="$port"; break; }
        sleep 0.1
    done
    [[ -n "$REDIS_PORT" ]] && break
    warn "Redis did not start on port $port (attempt $attempt)"
    tail -n 20 "$TMP_DIR/redis.log" >&2 || true
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
done
[[ -n "$REDIS_PORT" ]] || die "could not start Redis"
echo "Redis ready on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"

step "Starting the S3-compatible server (moto)"
S3_PORT=""
for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    python3 -m moto.server -H 127.0.0.1 -p "$port" >"$TMP_DIR/moto.log" 2>&1 &
    S3_PID=$!
    for _ in $(seq 1 100); do
        kill -0 "$S3_PID" 2>/dev/null || break
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && { S3_PORT="$port"; break; }
        sleep 0.1
    done
    [[ -n "$S3_PORT" ]] && break
    warn "moto did not start on port $port (attempt $attempt)"
    tail -n 20 "$TMP_DIR/moto.log" >&2 || true
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    S3_PID=""
done
[[ -n "$S3_PORT" ]] || die "could not start moto"
echo "S3-compatible server ready on 127.0.0.1:$S3_PORT (pid $S3_PID)"

PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
S3_URL="http://127.0.0.1:$S3_PORT"

if [[ -n "${FOLD_TEST_DRY:-}" ]]; then
    step "Dry run: checking both servers"
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'select 1'
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
    echo
    echo "==> Dry run OK (PostgreSQL $PG_URL, Redis $REDIS_URL); cleaning up"
    exit 0
fi

# ---------------------------------------------------------------------------
# 5. Build, test, validate
# ---------------------------------------------------------------------------
extra_args=()
read -r -a extra_args <<<"${FOLD_TEST_ARGS:-}" || true

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)

step "Building: cargo build ${locked[*]} --all-targets"
cargo build "${locked[@]}" --all-targets

step "Tests, embedded backends: cargo test --all-targets -- --test-threads=4 ${extra_args[*]}"
env -u TEST_DATABASE_URL -u TEST_REDIS_URL -u TEST_S3_URL \
    cargo test "${locked[@]}" --all-targets -- --test-threads=4 "${extra_args[@]}"

step "Tests, PostgreSQL + Redis + S3 (moto): cargo test --test api -- --test-threads=4 ${extra_args[*]}"
echo "TEST_DATABASE_URL=$PG_URL TEST_REDIS_URL=$REDIS_URL TEST_S3_URL=$S3_URL"
TEST_DATABASE_URL="$PG_URL" TEST_REDIS_URL="$REDIS_URL" TEST_S3_URL="$S3_URL" \
    cargo test "${locked[@]}" --test api -- --test-threads=4 "${extra_args[@]}"

step "Validating openapi/openapi.json"
spec_status="validated"
if [[ -f openapi/openapi.json ]]; then
    python3 -m openapi_spec_validator openapi/openapi.json
else
    warn "openapi/openapi.json does not exist yet; skipping validation"
    spec_status="SKIPPED (no openapi/openapi.json)"
fi

step "Schemathesis against the running server and the committed spec (battery item 17)"
bash scripts/schemathesis.sh

step "Generated clients (Python, TypeScript, Rust) and the spec lint (Redocly)"
bash scripts/clients.sh

echo
echo "==> All steps passed: build, embedded-backend tests, PostgreSQL+Redis tests, OpenAPI spec $spec_status, Schemathesis, generated clients"
