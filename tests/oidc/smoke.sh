#!/usr/bin/env bash
# Smoke test for tests/oidc/provider.mjs: full authorization code flow (PKCE S256,
# state, nonce, login_hint) with curl, ID token / userinfo checks, key rotation.
#
#   bash tests/oidc/smoke.sh            (needs: node, npm install done, curl, python3)
#
# Prints PASS/FAIL lines; exits non-zero if any check fails.
set -u

HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oidc-smoke.XXXXXX")"
REDIRECT_URI="http://127.0.0.1:9/cb"
FAILS=0
PROVIDER_PID=""

cleanup() {
  exec 3>&- 2>/dev/null || true  # closing the provider's stdin makes it exit
  if [ -n "$PROVIDER_PID" ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$PROVIDER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$PROVIDER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { # check <description> <expected> <actual>
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
die() { fail "$*"; echo "provider stderr:"; cat "$WORK/stderr" 2>/dev/null; exit 1; }

# json <file> <python expression over `d`>
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2"; }
b64url_json() { # decode one JWT segment to JSON
  python3 -c 'import base64,json,sys; s=sys.argv[1]; s+="="*(-len(s)%4); print(json.dumps(json.loads(base64.urlsafe_b64decode(s))))' "$1"
}
rand() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
challenge() { python3 -c 'import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$1"; }
urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
query_param() { # query_param <url> <name>
  python3 -c 'import sys,urllib.parse; q=urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query); print(q.get(sys.argv[2],[""])[0])' "$1" "$2"
}

# ---------------------------------------------------------------------------
# start provider

[ -d "$HERE/node_modules/oidc-provider" ] || die "run 'npm ci' in $HERE first"
mkfifo "$WORK/stdin"
node "$HERE/provider.mjs" 0 <"$WORK/stdin" >"$WORK/stdout" 2>"$WORK/stderr" &
PROVIDER_PID=$!
exec 3>"$WORK/stdin"

for _ in $(seq 1 100); do
  [ -s "$WORK/stdout" ] && break
  kill -0 "$PROVIDER_PID" 2>/dev/null || die "provider exited early"
  sleep 0.1
done
FIRST_LINE="$(head -n1 "$WORK/stdout")"
case "$FIRST_LINE" in
  "listening http://127.0.0.1:"[0-9]*) pass "stdout line: $FIRST_LINE" ;;
  *) die "unexpected first stdout line: '$FIRST_LINE'" ;;
esac
ISSUER="${FIRST_LINE#listening }"

check "health" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$ISSUER/test/health")"

# ---------------------------------------------------------------------------
# discovery + registration

curl -sf "$ISSUER/.well-known/openid-configuration" -o "$WORK/disco.json" || die "discovery"
check "discovery issuer" "$ISSUER" "$(json "$WORK/disco.json" 'd["issuer"]')"
AUTH_EP="$(json "$WORK/disco.json" 'd["authorization_endpoint"]')"
TOKEN_EP="$(json "$WORK/disco.json" 'd["token_endpoint"]')"
USERINFO_EP="$(json "$WORK/disco.json" 'd["userinfo_endpoint"]')"
JWKS_URI="$(json "$WORK/disco.json" 'd["jwks_uri"]')"
REG_EP="$(json "$WORK/disco.json" 'd["registration_endpoint"]')"
check "registration_endpoint" "$ISSUER/reg" "$REG_EP"

register() { # register <out-file> <token_endpoint_auth_method>
  curl -s -o "$1" -w '%{http_code}' -X POST "$REG_EP" \
    -H 'content-type: application/json' \
    -d "{\"redirect_uris\":[\"$REDIRECT_URI\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"],\"token_endpoint_auth_method\":\"$2\",\"client_name\":\"smoke\"}"
}
check "register client (basic)" "201" "$(register "$WORK/client.json" client_secret_basic)"
CLIENT_ID="$(json "$WORK/client.json" 'd["client_id"]')"
CLIENT_SECRET="$(json "$WORK/client.json" 'd["client_secret"]')"
[ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ] && pass "client_id/client_secret issued" || die "no client credentials: $(cat "$WORK/client.json")"

# ---------------------------------------------------------------------------
# code flow

# flow <jar> <login_hint|""> -> sets FLOW_LOCATION (final redirect to the client),
# FLOW_STATE, FLOW_NONCE, FLOW_VERIFIER, FLOW_HOPS ("status path" per hop)
flow() {
  local jar="$1" hint="$2" client_id="${3:-$CLIENT_ID}"
  FLOW_STATE="$(rand)"; FLOW_NONCE="$(rand)"; FLOW_VERIFIER="$(rand)"
  local url="$AUTH_EP?response_type=code&client_id=$(urlenc "$client_id")&redirect_uri=$(urlenc "$REDIRECT_URI")"
  url+="&scope=$(urlenc 'openid email profile')&state=$FLOW_STATE&nonce=$FLOW_NONCE"
  url+="&code_challenge=$(challenge "$FLOW_VERIFIER")&code_challenge_method=S256"
  [ -n "$hint" ] && url+="&login_hint=$(urlenc "$hint")"
  FLOW_HOPS=""
  FLOW_HOP_COUNT=0
  FLOW_LOCATION=""
  local i status loc
  for i in 1 2 3 4 5 6 7 8 9 10; do
    read -r status loc < <(curl -s -o /dev/null -b "$jar" -c "$jar" -w '%{http_code} %{redirect_url}\n' "$url")
    FLOW_HOPS+="$status ${url%%\?*}; "
    FLOW_HOP_COUNT=$((FLOW_HOP_COUNT + 1))
    case "$status" in 30[1237]) ;; *) return 1 ;; esac
    case "$loc" in
      "$REDIRECT_URI"*) FLOW_LOCATION="$loc"; return 0 ;;
    esac
    url="$loc"
  done
  return 1
}

token_request() { # token_request <code> <verifier> <out> -> http status
  curl -s -o "$3" -w '%{http_code}' -X POST "$TOKEN_EP" \
    -u "$(urlenc "$CLIENT_ID"):$(urlenc "$CLIENT_SECRET")" \
    --data-urlencode grant_type=authorization_code \
    --data-urlencode "code=$1" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" \
    --data-urlencode "code_verifier=$2"
}

verify_sig() { # verify_sig <jwt> <jwks-file> -> prints ok / error
  node -e '
    const crypto = require("node:crypto");
    const [jwt, jwksFile] = process.argv.slice(1);
    const [h, p, s] = jwt.split(".");
    const header = JSON.parse(Buffer.from(h, "base64url"));
    const jwk = JSON.parse(require("node:fs").readFileSync(jwksFile, "utf8")).keys.find((k) => k.kid === header.kid);
    if (!jwk) { console.log("no key for kid " + header.kid); process.exit(0); }
    if (jwk.d) { console.log("private key published!"); process.exit(0); }
    const ok = crypto.verify("sha256", Buffer.from(h + "." + p), crypto.createPublicKey({ key: jwk, format: "jwk" }), Buffer.from(s, "base64url"));
    console.log(ok ? "ok" : "bad signature");
  ' "$1" "$2"
}

# full_flow <label> <jar> <hint> <expected email> <expected verified> [reuse]
#   -> sets ID_HEADER_KID. With "reuse", also checks that the code is single use
#   (note: replaying a code revokes the whole grant, so the next authorization in
#   that session needs consent again - handled automatically by the provider).
full_flow() {
  local label="$1" jar="$2" hint="$3" email="$4" verified="$5" reuse="${6:-}"
  if flow "$jar" "$hint"; then pass "[$label] redirected to client ($FLOW_HOPS)"; else die "[$label] flow did not reach redirect_uri: $FLOW_HOPS"; fi
  check "[$label] state echoed" "$FLOW_STATE" "$(query_param "$FLOW_LOCATION" state)"
  check "[$label] iss in authorization response (RFC 9207)" "$ISSUER" "$(query_param "$FLOW_LOCATION" iss)"
  local code; code="$(query_param "$FLOW_LOCATION" code)"
  [ -n "$code" ] && pass "[$label] got code" || die "[$label] no code in $FLOW_LOCATION"

  check "[$label] token endpoint" "200" "$(token_request "$code" "$FLOW_VERIFIER" "$WORK/token.json")"
  local idt at; idt="$(json "$WORK/token.json" 'd["id_token"]')"; at="$(json "$WORK/token.json" 'd["access_token"]')"
  b64url_json "$(echo "$idt" | cut -d. -f1)" >"$WORK/idh.json"
  b64url_json "$(echo "$idt" | cut -d. -f2)" >"$WORK/idp.json"
  check "[$label] id_token alg" "RS256" "$(json "$WORK/idh.json" 'd["alg"]')"
  check "[$label] id_token iss" "$ISSUER" "$(json "$WORK/idp.json" 'd["iss"]')"
  check "[$label] id_token aud" "$CLIENT_ID" "$(json "$WORK/idp.json" 'd["aud"]')"
  check "[$label] id_token nonce" "$FLOW_NONCE" "$(json "$WORK/idp.json" 'd.get("nonce")')"
  check "[$label] id_token sub" "sub-$email" "$(json "$WORK/idp.json" 'd.get("sub")')"
  check "[$label] id_token email" "$email" "$(json "$WORK/idp.json" 'd.get("email")')"
  check "[$label] id_token email_verified" "$verified" "$(json "$WORK/idp.json" 'd.get("email_verified")')"
  check "[$label] id_token name" "${email%%@*}" "$(json "$WORK/idp.json" 'd.get("name")')"
  curl -sf "$JWKS_URI" -o "$WORK/jwks.json" || fail "[$label] fetch jwks"
  check "[$label] id_token signature verifies against jwks_uri" "ok" "$(verify_sig "$idt" "$WORK/jwks.json")"
  ID_HEADER_KID="$(json "$WORK/idh.json" 'd.get("kid")')"

  check "[$label] userinfo" "200" "$(curl -s -o "$WORK/ui.json" -w '%{http_code}' -H "authorization: Bearer $at" "$USERINFO_EP")"
  check "[$label] userinfo sub" "sub-$email" "$(json "$WORK/ui.json" 'd.get("sub")')"
  check "[$label] userinfo email" "$email" "$(json "$WORK/ui.json" 'd.get("email")')"
  check "[$label] userinfo email_verified" "$verified" "$(json "$WORK/ui.json" 'd.get("email_verified")')"
  check "[$label] userinfo name" "${email%%@*}" "$(json "$WORK/ui.json" 'd.get("name")')"

  if [ "$reuse" = reuse ]; then
    check "[$label] code is single use" "400" "$(token_request "$code" "$FLOW_VERIFIER" "$WORK/token2.json")"
  fi
}

full_flow "alice" "$WORK/jar1" "alice@example.com" "alice@example.com" "true"
KID1="$ID_HEADER_KID"
check "jwks has 1 key before rotation" "1" "$(json "$WORK/jwks.json" 'len(d["keys"])')"

full_flow "unverified" "$WORK/jar2" "unverified:bob@example.com" "bob@example.com" "false" reuse

# no login_hint -> login_required error back at the client
if flow "$WORK/jar3" ""; then
  check "no login_hint -> error=login_required" "login_required" "$(query_param "$FLOW_LOCATION" error)"
  check "no login_hint -> state echoed" "$FLOW_STATE" "$(query_param "$FLOW_LOCATION" state)"
else
  fail "no login_hint flow did not reach redirect_uri: $FLOW_HOPS"
fi

# PKCE is mandatory
status="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$AUTH_EP?response_type=code&client_id=$(urlenc "$CLIENT_ID")&redirect_uri=$(urlenc "$REDIRECT_URI")&scope=openid&state=s&login_hint=x@example.com")"
check "authorization request without PKCE rejected" "invalid_request" "$(query_param "${status#* }" error)"

# ---------------------------------------------------------------------------
# rotation

check "rotate" "200" "$(curl -s -o "$WORK/rotate.json" -w '%{http_code}' -X POST "$ISSUER/test/rotate")"
KID2="$(json "$WORK/rotate.json" 'd["kid"]')"
[ -n "$KID2" ] && [ "$KID2" != "$KID1" ] && pass "new kid $KID2 differs from $KID1" || fail "rotate kid: '$KID2'"

curl -sf "$ISSUER/.well-known/openid-configuration" -o "$WORK/disco2.json" || fail "discovery after rotate"
check "issuer unchanged after rotate" "$ISSUER" "$(json "$WORK/disco2.json" 'd["issuer"]')"
curl -sf "$(json "$WORK/disco2.json" 'd["jwks_uri"]')" -o "$WORK/jwks2.json" || fail "jwks after rotate"
check "jwks has 2 keys after rotation" "2" "$(json "$WORK/jwks2.json" 'len(d["keys"])')"
check "jwks first key is the new kid" "$KID2" "$(json "$WORK/jwks2.json" 'd["keys"][0]["kid"]')"
check "jwks still has the old kid" "True" "$(json "$WORK/jwks2.json" 'str(any(k["kid"]=="'"$KID1"'" for k in d["keys"]))')"

# same client (registered before the rotation), fresh cookie jar
full_flow "after-rotate" "$WORK/jar4" "alice@example.com" "alice@example.com" "true"
check "new id_token signed with new kid" "$KID2" "$ID_HEADER_KID"

# session from before the rotation survives (jar1 already logged in as alice)
full_flow "old-session" "$WORK/jar1" "alice@example.com" "alice@example.com" "true"
check "old-session: no interaction needed (session + grant survived rotation)" "1" "$FLOW_HOP_COUNT"
check "old-session id_token signed with new kid" "$KID2" "$ID_HEADER_KID"

# same jar, different login_hint -> must log in as the hinted user, not reuse alice
full_flow "hint-switch" "$WORK/jar1" "carol@example.com" "carol@example.com" "true"

# client_secret_post client
check "register client (post)" "201" "$(register "$WORK/client_post.json" client_secret_post)"
PCID="$(json "$WORK/client_post.json" 'd["client_id"]')"; PSEC="$(json "$WORK/client_post.json" 'd["client_secret"]')"
if flow "$WORK/jar5" "dave@example.com" "$PCID"; then
  st="$(curl -s -o "$WORK/tp.json" -w '%{http_code}' -X POST "$TOKEN_EP" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$(query_param "$FLOW_LOCATION" code)" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$FLOW_VERIFIER" \
    --data-urlencode "client_id=$PCID" --data-urlencode "client_secret=$PSEC")"
  check "client_secret_post token exchange" "200" "$st"
else
  fail "client_secret_post flow: $FLOW_HOPS"
fi

# stdout must contain exactly the one line
check "stdout has exactly one line" "1" "$(wc -l <"$WORK/stdout" | tr -d ' ')"

# provider exits when stdin closes
exec 3>&-
for _ in $(seq 1 50); do kill -0 "$PROVIDER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PROVIDER_PID" 2>/dev/null; then fail "provider still running after stdin closed"; else pass "provider exited on stdin close"; PROVIDER_PID=""; fi

if [ -s "$WORK/stderr" ]; then echo "--- provider stderr ---"; cat "$WORK/stderr"; fi

if [ "$FAILS" -eq 0 ]; then echo "ALL PASS"; exit 0; fi
echo "$FAILS FAILURE(S)"; exit 1
