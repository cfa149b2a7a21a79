#!/usr/bin/env bash
# Clients generated from the committed spec (openapi/openapi.json), built and run against
# a real server, and the spec linted:
#   1. Redocly CLI lints the spec (recommended rules): 0 errors.
#   2. Python: openapi-python-client generates a package (0 warnings), mypy type-checks
#      it with tests/clients/python/flow.py, and the flow runs.
#   3. TypeScript: openapi-typescript generates the types (0 warnings), tsc (strict)
#      compiles tests/clients/typescript/flow.ts against them and openapi-fetch, and the
#      password and SMS one-time-code flows run.
#   4. Rust: progenitor generates a client (tests/clients/rust/build.rs), cargo builds it
#      (its own lock file, target/clients) and the flow runs.
# The server is `fold serve` on the embedded backends in a temp dir, SMS to an outbox.
#   FOLD_BIN  the server binary (default: target/debug/fold; built if missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BIN="${FOLD_BIN:-$ROOT/target/debug/fold}"
SPEC="$ROOT/openapi/openapi.json"
PY_GEN_VERSION=0.29.1
[[ -x "$BIN" ]] || cargo build --locked --bin fold

step() { printf '\n==> clients: %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fold-clients.XXXXXX")"
SERVER_PID=""
cleanup() {
    local rc=$?
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    if [[ $rc -ne 0 && -f "$WORK/server.log" ]]; then
        echo "==> The server's warnings and errors (last 40):"
        grep -E 'WARN|ERROR' "$WORK/server.log" | tail -40 || true
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT INT TERM

# A generator's output must hold no warning: these words in it fail the run.
no_warnings() { # $1: tool name, $2: its output file
    if grep -niE 'warn|unable|cannot|could not|error|skipp' "$2"; then
        die "$1 printed the warnings above"
    fi
}

step "installing the generators (npm ci in tests/clients/typescript; pip)"
(cd tests/clients/typescript && npm ci --silent --no-audit --no-fund) || die "npm ci failed"
if [[ "$(openapi-python-client --version 2>/dev/null)" != *"$PY_GEN_VERSION"* ]]; then
    python3 -m pip install --quiet --disable-pip-version-check "openapi-python-client==$PY_GEN_VERSION"
fi
python3 -c 'import mypy, httpx, attrs, dateutil' 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check mypy httpx attrs python-dateutil

step "Redocly lint of openapi/openapi.json (0 errors)"
(cd tests/clients/typescript && NO_UPDATE_NOTIFIER=1 npx --no-install redocly lint "$SPEC" \
    --format=summary) >"$WORK/lint.log" 2>&1 || { cat "$WORK/lint.log"; die "Redocly lint found errors"; }
grep -E 'error|warning' "$WORK/lint.log" | grep -v '^\s*$' || true
echo "lint: 0 errors"

step "generating the Python, TypeScript and Rust clients"
openapi-python-client generate --path "$SPEC" --output-path "$WORK/py" \
    --config tests/clients/python/config.yaml --fail-on-warning >"$WORK/py-gen.log" 2>&1 \
    || { cat "$WORK/py-gen.log"; die "openapi-python-client failed"; }
no_warnings openapi-python-client "$WORK/py-gen.log"
echo "python: generated $(find "$WORK/py/fold_client/api" -name '*.py' ! -name '__init__.py' | wc -l) operations"
mkdir -p tests/clients/typescript/generated
(cd tests/clients/typescript && npx --no-install openapi-typescript "$SPEC" -o generated/schema.d.ts) \
    >"$WORK/ts-gen.log" 2>&1 || { cat "$WORK/ts-gen.log"; die "openapi-typescript failed"; }
no_warnings openapi-typescript "$WORK/ts-gen.log"
echo "typescript: generated $(grep -c 'operationId\|^    "/' tests/clients/typescript/generated/schema.d.ts || true) path entries"

step "type-checking and building the clients"
(cd "$WORK/py" && python3 -m mypy --strict --no-error-summary fold_client "$ROOT/tests/clients/python/flow.py") \
    || die "mypy found errors in the Python client or its flow"
echo "python: mypy --strict clean"
(cd tests/clients/typescript && npx --no-install tsc -p tsconfig.json) || die "tsc found errors"
echo "typescript: tsc --strict clean"
CARGO_TARGET_DIR="$ROOT/target/clients" cargo build --quiet --locked \
    --manifest-path tests/clients/rust/Cargo.toml 2>&1 | tee "$WORK/rust-build.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || die "the Rust client does not build"
no_warnings "cargo build (Rust client)" "$WORK/rust-build.log"
echo "rust: built"

step "running the flows against a server"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PK="clients-platform-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
mkdir -p "$WORK/server"
(cd "$WORK/server" && FOLD_HTTP__BIND="127.0.0.1:$PORT" FOLD_PLATFORM__KEY="$PK" \
    FOLD_LOG__FILTER=warn FOLD_SMS__OUTBOX_DIR="$WORK/server/sms" \
    FOLD_SECURITY__ARGON2_M_KIB=1024 FOLD_SECURITY__ARGON2_T=1 \
    exec "$BIN" serve >"$WORK/server.log" 2>&1) &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/healthz" >/dev/null || die "the server did not start"
FK=$(curl -sf -X POST "$BASE/platform/v1/flocks" -H "X-Platform-Key: $PK" \
    -H 'content-type: application/json' -d '{"slug":"acme"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["admin_api_key"])')

PYTHONPATH="$WORK/py" python3 tests/clients/python/flow.py "$BASE" acme "$FK"
(cd tests/clients/typescript && node dist/flow.js "$BASE" acme "$WORK/server/sms")
"$ROOT/target/clients/debug/fold-client-flow" "$BASE" acme
echo
echo "==> clients: Python, TypeScript and Rust clients generated without warnings, built and run; spec lint 0 errors"
