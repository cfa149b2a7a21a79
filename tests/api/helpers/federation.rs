//! Federation helpers: a local stand-in for Google's and Apple's endpoints (key sets,
//! token endpoints) with their real claim and wire shapes, signing ID tokens with the
//! test keys in `tests/fixtures/federation/`; and a real OpenID Connect provider
//! (`oidc-provider` from npm, `tests/oidc/provider.mjs`) as its own process.
use super::{TestApp, TestFlock};
use poem::web::{Data, Form, Json};
use poem::{get, handler, post, EndpointExt, Route};
use reqwest::Method;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const GOOGLE_ISS: &str = "https://accounts.google.com";
pub const APPLE_ISS: &str = "https://appleid.apple.com";
pub const GOOGLE_CLIENT: &str = "web-1234.apps.googleusercontent.com";
pub const GOOGLE_IOS_CLIENT: &str = "ios-1234.apps.googleusercontent.com";
pub const GOOGLE_SECRET: &str = "GOCSPX-canary-google-secret-5e1f";
pub const APPLE_CLIENT: &str = "com.acme.app";
pub const APPLE_TEAM: &str = "TEAM123456";
pub const APPLE_KEY_ID: &str = "KEY1234567";

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/federation")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

pub fn apple_team_key() -> String {
    fixture("apple-team.p8")
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A signing key of the stand-in: its kid, PEM and public JWK.
#[derive(Clone)]
struct Key {
    kid: String,
    pem: String,
    jwk: Value,
}

fn key(kid: &str, file: &str) -> Key {
    let pem = fixture(file);
    let k = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let jwk = json!({
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
        "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()),
    });
    Key {
        kid: kid.to_owned(),
        pem,
        jwk,
    }
}

/// A code the stand-in's authorization step handed out.
#[derive(Clone)]
struct Grant {
    claims: Value,
    challenge: String,
    client_id: String,
    redirect_uri: String,
}

#[derive(Default)]
struct IdpState {
    keys: Mutex<Vec<Key>>,
    codes: Mutex<HashMap<String, Grant>>,
    jwks_hits: AtomicUsize,
    max_age: AtomicU64,
    /// Every form the token endpoints received (to check client authentication).
    token_forms: Mutex<Vec<HashMap<String, String>>>,
}

/// Google and Apple, played locally.
pub struct FakeIdp {
    pub base: String,
    state: Arc<IdpState>,
}

#[handler]
fn jwks(Data(s): Data<&Arc<IdpState>>) -> poem::Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = s
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    poem::Response::builder()
        .header("Content-Type", "application/json")
        .header(
            "Cache-Control",
            format!(
                "public, max-age={}, must-revalidate",
                s.max_age.load(Ordering::SeqCst)
            ),
        )
        .body(json!({ "keys": keys }).to_string())
}

fn token_answer(s: &IdpState, form: &HashMap<String, String>) -> poem::Response {
    s.token_forms.lock().unwrap().push(form.clone());
    let err = |m: &str| {
        poem::Response::builder()
            .status(poem::http::StatusCode::BAD_REQUEST)
            .header("Content-Type", "application/json")
            .body(json!({"error": "invalid_grant", "error_description": m}).to_string())
    };
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(g) = s.codes.lock().unwrap().remove(&code) else {
        return err("unknown code");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if b64(&Sha256::digest(verifier.as_bytes())) != g.challenge {
        return err("PKCE verification failed");
    }
    if form.get("client_id") != Some(&g.client_id)
        || form.get("redirect_uri") != Some(&g.redirect_uri)
    {
        return err("client or redirect_uri mismatch");
    }
    let id_token = sign_with(&s.keys.lock().unwrap()[0], &g.claims);
    poem::Response::builder()
        .header("Content-Type", "application/json")
        .body(json!({"access_token": "ya29.a0", "token_type": "Bearer", "expires_in": 3599, "id_token": id_token}).to_string())
}

#[handler]
fn google_token(
    Data(s): Data<&Arc<IdpState>>,
    Form(form): Form<HashMap<String, String>>,
) -> poem::Response {
    if form.get("client_secret").map(String::as_str) != Some(GOOGLE_SECRET) {
        return poem::Response::builder()
            .status(poem::http::StatusCode::UNAUTHORIZED)
            .body(json!({"error": "invalid_client"}).to_string());
    }
    token_answer(s, &form)
}

/// Apple's token endpoint checks the client secret: an ES256 JWT by the team's key.
#[handler]
fn apple_token(
    Data(s): Data<&Arc<IdpState>>,
    Form(form): Form<HashMap<String, String>>,
) -> poem::Response {
    let secret = form.get("client_secret").cloned().unwrap_or_default();
    let key =
        jsonwebtoken::DecodingKey::from_ec_pem(fixture("apple-team.pub.pem").as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[APPLE_ISS]);
    v.set_issuer(&[APPLE_TEAM]);
    v.sub = Some(APPLE_CLIENT.to_owned());
    let header_ok = jsonwebtoken::decode_header(&secret)
        .map(|h| h.kid.as_deref() == Some(APPLE_KEY_ID))
        .unwrap_or(false);
    if !header_ok || jsonwebtoken::decode::<Value>(&secret, &key, &v).is_err() {
        return poem::Response::builder()
            .status(poem::http::StatusCode::BAD_REQUEST)
            .body(json!({"error": "invalid_client"}).to_string());
    }
    token_answer(s, &form)
}

#[handler]
fn nothing() -> Json<Value> {
    Json(json!({}))
}

fn sign_with(k: &Key, claims: &Value) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(k.kid.clone());
    let ek = jsonwebtoken::EncodingKey::from_rsa_pem(k.pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&h, claims, &ek).unwrap()
}

impl FakeIdp {
    pub async fn start() -> FakeIdp {
        let state = Arc::new(IdpState::default());
        state
            .keys
            .lock()
            .unwrap()
            .push(key("google-a", "rsa-a.pem"));
        state.max_age.store(21600, Ordering::SeqCst);
        let app = Route::new()
            .at("/google-www/oauth2/v3/certs", get(jwks))
            .at("/google-oauth2/token", post(google_token))
            .at("/google-oidc/v1/userinfo", get(nothing))
            .at("/apple/auth/keys", get(jwks))
            .at("/apple/auth/token", post(apple_token))
            .data(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let addr = format!("127.0.0.1:{port}");
        let a2 = addr.clone();
        tokio::spawn(async move {
            let _ = poem::Server::new(poem::listener::TcpListener::bind(a2))
                .run(app)
                .await;
        });
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        FakeIdp {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// `federation.rewrite` sending Google's and Apple's URLs here.
    pub fn rewrite(&self) -> BTreeMap<String, String> {
        let b = &self.base;
        BTreeMap::from([
            (
                "https://accounts.google.com".into(),
                format!("{b}/google-accounts"),
            ),
            (
                "https://oauth2.googleapis.com".into(),
                format!("{b}/google-oauth2"),
            ),
            (
                "https://www.googleapis.com".into(),
                format!("{b}/google-www"),
            ),
            (
                "https://openidconnect.googleapis.com".into(),
                format!("{b}/google-oidc"),
            ),
            ("https://appleid.apple.com".into(), format!("{b}/apple")),
        ])
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &Value) -> String {
        sign_with(&self.state.keys.lock().unwrap()[0], claims)
    }

    /// Signs with a key the stand-in does not publish (same kid as the current one).
    pub fn sign_with_unpublished_key(&self, claims: &Value) -> String {
        let current = self.state.keys.lock().unwrap()[0].kid.clone();
        let mut k = key(&current, "rsa-b.pem");
        k.kid = current;
        sign_with(&k, claims)
    }

    /// A new key first in the set (the old one stays published).
    pub fn rotate(&self) {
        let mut keys = self.state.keys.lock().unwrap();
        let n = keys.len();
        keys.insert(0, key(&format!("rotated-{n}"), "rsa-b.pem"));
    }

    pub fn set_max_age(&self, secs: u64) {
        self.state.max_age.store(secs, Ordering::SeqCst);
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn token_forms(&self) -> Vec<HashMap<String, String>> {
        self.state.token_forms.lock().unwrap().clone()
    }

    /// Plays the provider's authorization step for Fold's redirect `location`: the code
    /// it would hand the browser, and Fold's state; the ID token will carry `claims`
    /// plus the nonce and audience of the request.
    pub fn authorize(&self, location: &str, mut claims: Value) -> (String, String) {
        let u = url::Url::parse(location).unwrap();
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(
            q["code_challenge_method"], "S256",
            "PKCE S256 in {location}"
        );
        assert_eq!(q["response_type"], "code");
        if let Some(n) = q.get("nonce") {
            claims["nonce"] = json!(n);
        }
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.state.codes.lock().unwrap().insert(
            code.clone(),
            Grant {
                claims,
                challenge: q["code_challenge"].clone(),
                client_id: q["client_id"].clone(),
                redirect_uri: q["redirect_uri"].clone(),
            },
        );
        (code, q["state"].clone())
    }
}

/// Claims of a Google ID token for `aud`, valid now on the app's clock.
pub fn google_claims(
    app: &TestApp,
    sub: &str,
    email: &str,
    verified: bool,
    nonce: Option<&str>,
) -> Value {
    let now = app.clock.unix();
    let mut c = json!({
        "iss": GOOGLE_ISS, "azp": GOOGLE_CLIENT, "aud": GOOGLE_CLIENT, "sub": sub,
        "email": email, "email_verified": verified, "iat": now, "exp": now + 3600,
        "given_name": "Gina", "family_name": "Google", "name": "Gina Google",
    });
    if let Some(n) = nonce {
        c["nonce"] = json!(sha256_hex(n));
    }
    c
}

/// Claims of an Apple ID token: string booleans, a relay address when `private`.
pub fn apple_claims(
    app: &TestApp,
    sub: &str,
    email: &str,
    private: bool,
    nonce: Option<&str>,
) -> Value {
    let now = app.clock.unix();
    let mut c = json!({
        "iss": APPLE_ISS, "aud": APPLE_CLIENT, "sub": sub, "email": email,
        "email_verified": "true", "is_private_email": if private { "true" } else { "false" },
        "auth_time": now, "nonce_supported": true, "iat": now, "exp": now + 600,
        "real_user_status": 2,
    });
    if let Some(n) = nonce {
        c["nonce"] = json!(sha256_hex(n));
    }
    c
}

/// An app whose Google and Apple calls go to `idp`, with private networks allowed.
pub async fn spawn_with_idp() -> (TestApp, FakeIdp) {
    spawn_with_idp_and(|_| {}).await
}

/// [`spawn_with_idp`], with more configuration.
pub async fn spawn_with_idp_and(
    more: impl FnOnce(&mut fold::config::Config),
) -> (TestApp, FakeIdp) {
    let idp = FakeIdp::start().await;
    let rewrite = idp.rewrite();
    let app = TestApp::builder()
        .config(|c| {
            c.federation.allow_private_networks = true;
            c.federation.rewrite = rewrite;
            more(c);
        })
        .spawn()
        .await;
    (app, idp)
}

/// Configures the flock's `google` provider (web client, the iOS app trusted).
pub async fn add_google(app: &TestApp, f: &TestFlock, extra: Value) -> Value {
    let mut body = json!({
        "kind": "google", "client_id": GOOGLE_CLIENT, "client_secret": GOOGLE_SECRET,
        "trusted_audiences": [GOOGLE_IOS_CLIENT],
    });
    merge(&mut body, extra);
    put_provider(app, f, "google", body).await
}

/// Configures the flock's `apple` provider from the team key.
pub async fn add_apple(app: &TestApp, f: &TestFlock, extra: Value) -> Value {
    let mut body = json!({
        "kind": "apple", "client_id": APPLE_CLIENT, "team_id": APPLE_TEAM,
        "key_id": APPLE_KEY_ID, "private_key": apple_team_key(),
    });
    merge(&mut body, extra);
    put_provider(app, f, "apple", body).await
}

fn merge(a: &mut Value, b: Value) {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

pub async fn put_provider(app: &TestApp, f: &TestFlock, name: &str, body: Value) -> Value {
    let r = app
        .req(Method::PUT, &format!("/api/v1/{}/providers/{name}", f.slug))
        .header("X-Api-Key", &f.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "put provider {name}: {status} {v}");
    v
}

/// `POST …/user/federated/{provider}/id-token`.
pub async fn id_token_sign_in(
    app: &TestApp,
    flock: &str,
    provider: &str,
    body: Value,
) -> (reqwest::StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{flock}/user/federated/{provider}/id-token"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The binding cookies `start` set, by the flow's state: the test's "browser".
static BINDINGS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// The `Cookie` header the browser that started the flow `state` sends back.
pub fn binding_for(state: &str) -> Option<String> {
    BINDINGS
        .lock()
        .unwrap()
        .iter()
        .find(|(s, _)| s == state)
        .map(|(_, c)| c.clone())
}

/// `name=value` of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Starts a code flow: the provider URL Fold redirects to. The browser keeps the binding
/// cookie (see [`binding_for`]).
pub async fn start(
    app: &TestApp,
    flock: &str,
    provider: &str,
    query: &[(&str, &str)],
) -> (reqwest::StatusCode, String, Value) {
    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/{flock}/user/federated/{provider}/start"),
        )
        .query(query)
        .send()
        .await
        .unwrap();
    let s = r.status();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if let (Some(c), Some(state)) = (r.headers().get("set-cookie"), param(&loc, "state")) {
        let c = c.to_str().unwrap();
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=None; Secure"),
            "{c}"
        );
        BINDINGS.lock().unwrap().push((state, cookie_pair(c)));
    }
    (s, loc, r.json().await.unwrap_or(Value::Null))
}

/// Calls Fold's callback as the provider's redirect would, from the browser that started
/// (its binding cookie); where Fold sends the browser.
pub async fn callback(
    app: &TestApp,
    flock: &str,
    provider: &str,
    query: &[(&str, &str)],
) -> (reqwest::StatusCode, String, Value) {
    let state = query.iter().find(|(k, _)| *k == "state").map(|(_, v)| *v);
    let mut rb = app
        .req(
            Method::GET,
            &format!("/api/v1/{flock}/user/federated/{provider}/callback"),
        )
        .query(query);
    if let Some(c) = state.and_then(binding_for) {
        rb = rb.header("Cookie", c);
    }
    let r = rb.send().await.unwrap();
    let s = r.status();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (s, loc, r.json().await.unwrap_or(Value::Null))
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `POST …/user/federated/exchange`.
pub async fn exchange(app: &TestApp, flock: &str, body: Value) -> (reqwest::StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/{flock}/user/federated/exchange"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// `POST …/user/identities/{provider}/id-token` with the user's token.
pub async fn link_id_token(
    app: &TestApp,
    flock: &str,
    bearer: &str,
    provider: &str,
    body: Value,
) -> reqwest::Response {
    app.req(
        Method::POST,
        &format!("/api/v1/{flock}/user/identities/{provider}/id-token"),
    )
    .bearer_auth(bearer)
    .json(&body)
    .send()
    .await
    .unwrap()
}

/// `GET …/user/identities` with the user's token.
pub async fn my_identities(app: &TestApp, flock: &str, bearer: &str) -> Value {
    app.req(Method::GET, &format!("/api/v1/{flock}/user/identities"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
