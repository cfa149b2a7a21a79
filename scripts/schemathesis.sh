#!/usr/bin/env bash
# docs/SECURITY.md battery item 17: Schemathesis against the running server and the committed
# spec. Starts `fold serve` on the embedded backends in a temp dir, creates a flock, a
# user (the one the spec's sign-in example names), a token and an API key so authenticated
# operations are reached, then fuzzes every operation with schema-valid and schema-breaking
# data: 0 server errors, 0 answers outside the spec, 0 schema-breaking requests accepted,
# 405s that name the allowed methods; and register, sign-in, create-key, create-flock and
# request-code must each reach a 2xx (their examples in the spec are valid requests).
#   FOLD_BIN        the server binary (default: target/debug/fold; built if missing)
#   ST_MAX_EXAMPLES examples per operation (default 40)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BIN="${FOLD_BIN:-$ROOT/target/debug/fold}"
[[ -x "$BIN" ]] || cargo build --locked --bin fold
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fold-st.XXXXXX")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PK="st-platform-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
SERVER_PID=""
cleanup() {
    local rc=$?
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    if [[ $rc -ne 0 && -f "$WORK/server.log" ]]; then
        echo "==> The server's warnings and errors (last 60):"
        grep -E 'WARN|ERROR' "$WORK/server.log" | tail -60 || true
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT INT TERM

(cd "$WORK" && FOLD_HTTP__BIND="127.0.0.1:$PORT" FOLD_PLATFORM__KEY="$PK" \
    FOLD_LIMITS__IP_PER_SECOND=0 FOLD_LOG__FILTER=warn \
    FOLD_SECURITY__ARGON2_M_KIB=1024 FOLD_SECURITY__ARGON2_T=1 \
    exec "$BIN" serve >"$WORK/server.log" 2>&1) &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
FK=$(curl -sf -X POST "$BASE/platform/v1/flocks" -H "X-Platform-Key: $PK" \
    -H 'content-type: application/json' -d '{"slug":"acme"}' | json '["admin_api_key"]')
ANN=$(curl -sf -X POST "$BASE/api/v1/acme/user/register" -H 'content-type: application/json' \
    -d '{"email":"ann@example.com","password":"correct horse battery staple","terms_accepted":true}' \
    | json '["user_id"]')
# Ann is a manager with back-office access, so the manager-only operations (admin/me) are
# reached with her token too; the user operations work for managers alike.
curl -sf -X POST "$BASE/api/v1/acme/directory/users/$ANN/access" -H "X-Api-Key: $FK" \
    -H 'content-type: application/json' -d '{"role":"manager","bo_access":true}' >/dev/null
sign_in() {
    curl -sf -X POST "$BASE/api/v1/acme/user/auth" -H 'content-type: application/json' \
        -d '{"email":"ann@example.com","password":"correct horse battery staple"}' | json '["access_token"]'
}

# Operations that end the fuzzing user's session (or the user) would turn every later
# bearer call into a 401: they run in a second pass, where every call gets a live token
# (a new user's once the last one ended; scripts/schemathesis_hooks.py).
ENDERS=(sign_out sign_out_everywhere revoke_session delete_current_user end_cookie_session change_password users_update
        users_set_status users_set_access)

CHECKS="${ST_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,unsupported_method,allow_header_conformance,missing_required_header}"

# One worker: with two, Schemathesis (its threads parsing generated code at once) now
# and then dies with CPython 3.11's "AST constructor recursion depth mismatch", a
# runtime error of the fuzzer, not a finding.
run() { # $1: token, or "fresh" for a new user's token on every call; the rest: st options
    local token=$1; shift
    local bearer="Authorization = \"Bearer $token\""
    [[ "$token" == fresh ]] && bearer=""
    cat >"$WORK/schemathesis.toml" <<TOML
[parameters]
"path.flock" = "acme"

[headers]
$bearer
X-Api-Key = "$FK"
X-Platform-Key = "$PK"

# The checks are set here, not with --checks, which would override the per-operation
# settings below.
[checks]
enabled = false
TOML
    tr ',' '\n' <<<"$CHECKS" | sed 's/$/.enabled = true/' >>"$WORK/schemathesis.toml"
    # Form and multipart bodies carry text only: a JSON null or number the fuzzer means
    # as "wrong type" arrives as the text "null" or "5", which is a valid value there. The
    # negative-data check is off for those operations alone (listed from the spec).
    python3 - "$ROOT/openapi/openapi.json" >>"$WORK/schemathesis.toml" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
for path, ops in spec["paths"].items():
    for method, op in ops.items():
        content = op.get("requestBody", {}).get("content", {})
        if any(not t.startswith("application/json") for t in content):
            print(f'\n[[operations]]\ninclude-name = "{method.upper()} {path}"')
            print("checks.negative_data_rejection.enabled = false")
PY
    local hooks=()
    [[ "$token" == fresh ]] && hooks=(env PYTHONPATH="$ROOT/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks \
        FOLD_ST_BASE="$BASE")
    (cd "$WORK" && "${hooks[@]}" st --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json" \
        --url "$BASE" \
        --max-examples "${ST_MAX_EXAMPLES:-40}" --workers 1 ${ST_SEED:+--seed "$ST_SEED"} \
        --suppress-health-check all --no-color --report har --report-dir "$WORK/reports" \
        ${ST_EXTRA:-} "$@")
}

# Destructive platform operations would remove the flock the rest of the run uses.
SKIP=(--exclude-operation-id delete_flock --exclude-operation-id disable_flock
      --exclude-operation-id rotate_signing_key)
for op in "${ENDERS[@]}"; do SKIP+=(--exclude-operation-id "$op"); done
ONLY=()
for op in "${ENDERS[@]}"; do ONLY+=(--include-operation-id "$op"); done
echo "==> pass 1: every operation but those that end the session"
run "$(sign_in)" "${SKIP[@]}"
echo "==> pass 2: the operations that end the session (a new user for every call)"
run fresh "${ONLY[@]}"

echo "==> 2xx reached on the operations a new integration starts with"
python3 - "$WORK/reports" <<'PY'
import glob, json, re, sys
want = {
    ("POST", "/api/v1/acme/user/register"): "register",
    ("POST", "/api/v1/acme/user/auth"): "sign_in",
    ("POST", "/api/v1/acme/api-keys"): "create_api_key",
    ("POST", "/platform/v1/flocks"): "create_flock",
    ("POST", "/api/v1/acme/user/otp"): "request_otp",
}
ok = {op: 0 for op in want.values()}
for f in glob.glob(sys.argv[1] + "/*.json"):
    for e in json.load(open(f))["log"]["entries"]:
        path = re.sub(r"^https?://[^/]+", "", e["request"]["url"]).split("?")[0]
        op = want.get((e["request"]["method"], path))
        if op and 200 <= e["response"]["status"] < 300:
            ok[op] += 1
print("    " + ", ".join(f"{op}: {n} × 2xx" for op, n in ok.items()))
missing = [op for op, n in ok.items() if n == 0]
if missing:
    sys.exit(f"no 2xx reached on: {', '.join(missing)}")
PY
