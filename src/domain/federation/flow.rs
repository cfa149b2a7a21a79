//! Signing in (or linking) with a provider: an ID token from a native SDK, or the
//! authorization-code flow for the web.
//!
//! Code flow: `start` stores a state in the KV store — single use, `state_ttl`, bound to
//! the flock (in its key), the provider, the redirect URI, a PKCE verifier (S256) and a
//! nonce — and sends the browser to the provider. `callback` takes the state (a second use
//! finds nothing), exchanges the code, verifies the ID token (or reads userinfo for plain
//! OAuth 2), decides who the user is (`linking`) and sends the browser to the portal's
//! redirect URI with a one-time exchange code (never a token in a URL); the portal trades
//! it with a POST for the session (`exchange`), or, for a link the signed-in user asked,
//! confirms it with that user's token (`confirm_link`) — so nobody can attach their
//! identity to an account by getting its owner to open a link.
use super::providers::{Provider, ProviderKind};
use super::verify::{flag, sha256_hex, Claims, NonceRule};
use super::{printable, FederationError, FederationService, Identity};
use crate::domain::flocks::Flock;
use crate::domain::signin::{SignInOptions, SignedIn};
use crate::domain::user::AccountFields;
use crate::domain::Invalid;
use crate::ids::UserId;
use crate::infra::secret::{digest_hex, encode_b64url, random_token};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The portal's side of a code flow.
#[derive(Debug, Clone, Default)]
pub struct StartInput {
    pub redirect_uri: String,
    /// The portal's own state, echoed back on the redirect (its CSRF check).
    pub state: Option<String>,
    /// PKCE for the exchange code: the portal's S256 challenge; the exchange then needs
    /// the verifier.
    pub code_challenge: Option<String>,
    /// Passed on to the provider (which account to preselect).
    pub login_hint: Option<String>,
}

/// What the provider sent back to the callback (query or Apple's `form_post`), and the
/// browser's binding cookie. (No `Debug`: it holds the authorization code.)
#[derive(Clone, Default)]
pub struct CallbackInput {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// Apple, first authorization only: `{"name":{"firstName":…,"lastName":…}}`.
    pub user: Option<String>,
    /// The value of the cookie [`binding_cookie`] names for this state, if the browser
    /// sent it.
    pub binding: Option<String>,
}

/// The cookie binding a code flow to the browser that started it.
pub struct BrowserBinding {
    /// `Set-Cookie` for the start's answer.
    pub set_cookie: String,
}

/// Where `start` sends the browser, and the cookie it sets there (web sign-in only).
pub struct Started {
    pub url: String,
    pub binding: Option<BrowserBinding>,
}

/// The name of the binding cookie of a flow's `state` (several flows may run at once).
pub fn binding_cookie(state: &str) -> String {
    format!("fold_fed_{}", &digest_hex(state)[..16])
}

/// Where the callback sends the browser, and the `Set-Cookie` clearing the binding.
pub enum CallbackOutcome {
    Redirect(String, Option<String>),
}

/// An ID token from a native SDK. (No `Debug`: it holds the token.)
#[derive(Clone, Default)]
pub struct IdTokenInput {
    pub id_token: String,
    pub nonce: Option<String>,
    /// Apple gives the name to the app once, never in the token.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct FlowState {
    provider: String,
    redirect_uri: String,
    portal_state: Option<String>,
    portal_challenge: Option<String>,
    verifier: String,
    nonce: String,
    /// A link asked by this signed-in user.
    link_user: Option<uuid::Uuid>,
    /// SHA-256 of the binding cookie's value (web sign-in): the callback must come from
    /// the browser that started.
    #[serde(default)]
    binding: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Exchange {
    SignIn {
        provider: String,
        user: uuid::Uuid,
        created: bool,
        challenge: Option<String>,
    },
    Link {
        provider: String,
        user: uuid::Uuid,
        subject: String,
        email: Option<String>,
        email_verified: bool,
        challenge: Option<String>,
    },
}

fn s256(verifier: &str) -> String {
    encode_b64url(&Sha256::digest(verifier.as_bytes()))
}

fn invalid_code() -> FederationError {
    FederationError::Expired(
        "invalid_exchange_code",
        "this exchange code is unknown, used or expired; sign in again",
    )
}

fn bad(code: &'static str, field: &'static str, m: &str) -> FederationError {
    FederationError::Invalid(Invalid::new(code, field, m))
}

impl FederationService {
    fn callback_url(&self, flock: &Flock, provider: &str) -> String {
        format!(
            "{}/api/v1/{}/user/federated/{provider}/callback",
            self.times.public_url.trim_end_matches('/'),
            flock.slug
        )
    }

    /// The provider's authorization URL for a new code flow (sign-in, or a link asked by
    /// `link_user`).
    pub async fn start(
        &self,
        flock: &Flock,
        provider: &str,
        input: StartInput,
        link_user: Option<UserId>,
    ) -> Result<Started, FederationError> {
        let p = self.enabled(flock.id, provider).await?;
        let redirect = super::check_redirect(&flock.settings, &input.redirect_uri)?;
        if let Some(s) = &input.state {
            if !printable(s, 512) {
                return Err(bad(
                    "invalid_state",
                    "state",
                    "state is 1 to 512 printable characters",
                ));
            }
        }
        if let Some(c) = &input.code_challenge {
            let ok = (43..=128).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(bad(
                    "invalid_code_challenge",
                    "code_challenge",
                    "code_challenge is the base64url S256 hash of a verifier (43 to 128 characters)",
                ));
            }
        }
        if let Some(h) = &input.login_hint {
            if !printable(h, 320) {
                return Err(bad(
                    "invalid_login_hint",
                    "login_hint",
                    "login_hint is 1 to 320 printable characters",
                ));
            }
        }
        let ep = self.endpoints(&p).await?;
        let state = random_token(32);
        // A web sign-in is bound to the browser that starts it (a link is bound to the
        // user instead, who confirms it with their token).
        let binding = link_user.is_none().then(|| random_token(24));
        let st = FlowState {
            binding: binding.as_deref().map(digest_hex),
            provider: p.name.clone(),
            redirect_uri: redirect.to_string(),
            portal_state: input.state,
            portal_challenge: input.code_challenge,
            verifier: random_token(48),
            nonce: random_token(24),
            link_user: link_user.map(|u| u.0),
        };
        let mut url = url::Url::parse(&self.outbound.effective(&ep.authorize))
            .map_err(|_| FederationError::ProviderDown("bad authorization endpoint".into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &p.client_id)
                .append_pair("redirect_uri", &self.callback_url(flock, &p.name))
                .append_pair("scope", &p.scopes())
                .append_pair("state", &state)
                .append_pair("code_challenge", &s256(&st.verifier))
                .append_pair("code_challenge_method", "S256");
            if p.kind.has_id_tokens() {
                q.append_pair("nonce", &st.nonce);
            }
            if p.kind == ProviderKind::Apple {
                q.append_pair("response_mode", "form_post");
            }
            if let Some(h) = &input.login_hint {
                q.append_pair("login_hint", h);
            }
        }
        let body =
            serde_json::to_vec(&st).map_err(|e| super::InfraError::Internal(e.to_string()))?;
        self.kv
            .set(&state_key(flock, &state), &body, self.times.state_ttl)
            .await?;
        let binding = binding.map(|value| BrowserBinding {
            set_cookie: self.binding_set_cookie(
                flock,
                &state,
                &value,
                self.times.state_ttl.as_secs(),
            ),
        });
        Ok(Started {
            url: url.to_string(),
            binding,
        })
    }

    /// `Set-Cookie` of a flow's binding cookie: host-only, HttpOnly, under the flock's
    /// federated paths. Over https it is `SameSite=None; Secure` (Apple's callback is a
    /// cross-site POST); a plain-http deployment (development) gets `SameSite=Lax`.
    fn binding_set_cookie(&self, flock: &Flock, state: &str, value: &str, max_age: u64) -> String {
        let site = if self.times.public_url.starts_with("https://") {
            "SameSite=None; Secure"
        } else {
            "SameSite=Lax"
        };
        format!(
            "{}={value}; Path=/api/v1/{}/user/federated/; Max-Age={max_age}; HttpOnly; {site}",
            binding_cookie(state),
            flock.slug
        )
    }

    /// The provider's answer: where to send the browser. An unknown, used, expired or
    /// foreign state is an error (there is nowhere safe to send the browser); after a
    /// valid state every failure goes back to the portal as `error=<code>`.
    pub async fn callback(
        &self,
        flock: &Flock,
        provider: &str,
        input: CallbackInput,
    ) -> Result<CallbackOutcome, FederationError> {
        let Some(state) = input.state.as_deref().filter(|s| printable(s, 512)) else {
            return Err(bad_state_err());
        };
        let Some(raw) = self.kv.take(&state_key(flock, state)).await? else {
            return Err(bad_state_err());
        };
        let st: FlowState = serde_json::from_slice(&raw).map_err(|_| bad_state_err())?;
        if st.provider != provider {
            return Err(bad_state_err());
        }
        let mut back = url::Url::parse(&st.redirect_uri).map_err(|_| bad_state_err())?;
        let result = self.finish(flock, &st, &input).await;
        if let Err(e) = &result {
            self.record_refusal(flock, e).await;
        }
        {
            let mut q = back.query_pairs_mut();
            match result {
                Ok(code) => {
                    q.append_pair("code", &code);
                }
                Err(e) => {
                    tracing::info!(provider, error = %e, "federated sign-in refused");
                    q.append_pair("error", error_code(&e));
                }
            }
            if let Some(s) = &st.portal_state {
                q.append_pair("state", s);
            }
        }
        let clear = st
            .binding
            .is_some()
            .then(|| self.binding_set_cookie(flock, state, "", 0));
        Ok(CallbackOutcome::Redirect(back.to_string(), clear))
    }

    /// Exchanges the code, verifies who it is, and makes the exchange code.
    async fn finish(
        &self,
        flock: &Flock,
        st: &FlowState,
        input: &CallbackInput,
    ) -> Result<String, FederationError> {
        if let Some(expected) = &st.binding {
            let sent = input.binding.as_deref().map(digest_hex).unwrap_or_default();
            if !crate::infra::secret::ct_eq(expected.as_bytes(), sent.as_bytes()) {
                return Err(FederationError::Forbidden(
                    "browser_mismatch",
                    "this sign-in was started in another browser".into(),
                ));
            }
        }
        if let Some(e) = &input.error {
            return Err(FederationError::Rejected(
                "provider_error",
                format!(
                    "the provider answered {}",
                    e.chars().take(64).collect::<String>()
                ),
            ));
        }
        let Some(code) = input.code.as_deref().filter(|c| printable(c, 2048)) else {
            return Err(FederationError::Rejected(
                "provider_error",
                "no code".into(),
            ));
        };
        let p = self.enabled(flock.id, &st.provider).await?;
        let ep = self.endpoints(&p).await?;
        let redirect = self.callback_url(flock, &p.name);
        let secret = match p.kind {
            ProviderKind::Apple => Some(self.apple_client_secret(&p).await?),
            _ => self.secret(&p).await?,
        };
        let secret_text = secret.as_ref().map(secrecy::ExposeSecret::expose_secret);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", st.verifier.as_str()),
        ];
        // OpenID Connect's default client authentication is HTTP Basic; Google, Apple and
        // most OAuth 2 providers take the secret in the form.
        let basic = p.kind == ProviderKind::Oidc && secret_text.is_some();
        if !basic {
            form.push(("client_id", p.client_id.as_str()));
            if let Some(s) = secret_text {
                form.push(("client_secret", s));
            }
        }
        let auth = match (secret_text, basic) {
            (Some(s), true) => Some((p.client_id.as_str(), s)),
            _ => None,
        };
        let a = self.outbound.post_form(&ep.token, &form, auth).await?;
        if a.status != 200 {
            return Err(FederationError::Rejected(
                "provider_error",
                format!("the token endpoint answered {}", a.status),
            ));
        }
        let tokens: Value = a.json()?;
        let mut claims = if p.kind.has_id_tokens() {
            let Some(id_token) = tokens.get("id_token").and_then(Value::as_str) else {
                return Err(FederationError::Rejected(
                    "provider_error",
                    "no ID token".into(),
                ));
            };
            let (c, _, _) = self
                .verify_id_token(&p, &ep, id_token, NonceRule::Exact(&st.nonce))
                .await?;
            c
        } else {
            let Some(access) = tokens.get("access_token").and_then(Value::as_str) else {
                return Err(FederationError::Rejected(
                    "provider_error",
                    "no access token".into(),
                ));
            };
            self.userinfo(&p, ep.userinfo.as_deref(), access).await?
        };
        if p.kind == ProviderKind::Apple {
            let (f, l) = apple_name(input.user.as_deref());
            claims.first_name = f;
            claims.last_name = l;
        }
        let record = match st.link_user {
            Some(user) => Exchange::Link {
                provider: p.name.clone(),
                user,
                subject: claims.subject.clone(),
                email: claims.email.clone(),
                email_verified: claims.email_verified,
                challenge: st.portal_challenge.clone(),
            },
            None => {
                let (user, created) = self.resolve(flock, &p, &claims).await?;
                Exchange::SignIn {
                    provider: p.name.clone(),
                    user: user.id.0,
                    created,
                    challenge: st.portal_challenge.clone(),
                }
            }
        };
        let code = random_token(32);
        let body =
            serde_json::to_vec(&record).map_err(|e| super::InfraError::Internal(e.to_string()))?;
        self.kv
            .set(&exchange_key(flock, &code), &body, self.times.exchange_ttl)
            .await?;
        Ok(code)
    }

    /// A plain OAuth 2 provider's userinfo, read through the claim map.
    async fn userinfo(
        &self,
        p: &Provider,
        url: Option<&str>,
        access: &str,
    ) -> Result<Claims, FederationError> {
        let Some(url) = url else {
            return Err(FederationError::Rejected(
                "provider_error",
                "no userinfo endpoint".into(),
            ));
        };
        let a = self.outbound.get(url, Some(access)).await?;
        if a.status != 200 {
            return Err(FederationError::Rejected(
                "provider_error",
                format!("userinfo answered {}", a.status),
            ));
        }
        let info: Value = a.json()?;
        let map = p.config.claims.clone().unwrap_or_default();
        let at =
            |path: &str| -> Option<&Value> { path.split('.').try_fold(&info, |v, k| v.get(k)) };
        let subject = match at(&map.subject) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if !printable(&subject, 255) {
            return Err(FederationError::Rejected(
                "provider_error",
                "userinfo has no subject".into(),
            ));
        }
        let email = at(&map.email)
            .and_then(Value::as_str)
            .filter(|e| printable(e, 320))
            .map(str::to_owned);
        let verified = match &map.email_verified {
            Some(path) => flag(at(path)),
            None => p.config.trust_email,
        };
        let name = map.name.as_deref().and_then(at).and_then(Value::as_str);
        Ok(Claims {
            email_verified: email.is_some() && verified,
            subject,
            email,
            first_name: name.filter(|n| printable(n, 200)).map(str::to_owned),
            last_name: None,
            private_email: false,
        })
    }

    /// Trades an exchange code for the session (the same grant as a password sign-in).
    pub async fn exchange(
        &self,
        flock: &Flock,
        code: &str,
        verifier: Option<&str>,
        opts: SignInOptions,
    ) -> Result<SignedIn, FederationError> {
        if !printable(code, 256) {
            return Err(invalid_code());
        }
        let raw = self
            .kv
            .take(&exchange_key(flock, code))
            .await?
            .ok_or_else(invalid_code)?;
        let Ok(Exchange::SignIn {
            provider,
            user,
            created,
            challenge,
        }) = serde_json::from_slice(&raw)
        else {
            return Err(invalid_code());
        };
        check_verifier(challenge.as_deref(), verifier)?;
        let user = self.users.get(flock.id, UserId(user)).await?;
        Ok(self
            .signin
            .federated(flock, user, &provider, created, opts)
            .await?)
    }

    /// Completes a link the signed-in `user` started: the exchange code must be theirs.
    pub async fn confirm_link(
        &self,
        flock: &Flock,
        user: UserId,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Identity, FederationError> {
        if !printable(code, 256) {
            return Err(invalid_code());
        }
        let raw = self
            .kv
            .take(&exchange_key(flock, code))
            .await?
            .ok_or_else(invalid_code)?;
        let Ok(Exchange::Link {
            provider,
            user: owner,
            subject,
            email,
            email_verified,
            challenge,
        }) = serde_json::from_slice(&raw)
        else {
            return Err(invalid_code());
        };
        check_verifier(challenge.as_deref(), verifier)?;
        if owner != user.0 {
            return Err(FederationError::Forbidden(
                "link_user_mismatch",
                "this link was started by another account".into(),
            ));
        }
        let p = self.enabled(flock.id, &provider).await?;
        let claims = Claims {
            subject,
            email,
            email_verified,
            first_name: None,
            last_name: None,
            private_email: false,
        };
        self.attach(flock.id, user, &p, &claims).await
    }

    /// Verifies a native SDK's ID token and spends its nonce (or, without one, the
    /// token itself): a token is good for one sign-in.
    async fn verified_once(
        &self,
        flock: &Flock,
        p: &Provider,
        input: &IdTokenInput,
    ) -> Result<Claims, FederationError> {
        if !p.kind.has_id_tokens() {
            return Err(bad(
                "id_token_not_supported",
                "provider",
                "this provider issues no ID tokens; use the code flow",
            ));
        }
        if let Some(n) = &input.nonce {
            if !printable(n, 512) {
                return Err(bad(
                    "invalid_nonce",
                    "nonce",
                    "nonce is 1 to 512 printable characters",
                ));
            }
        }
        let ep = self.endpoints(p).await?;
        let (mut claims, carried, exp) = self
            .verify_id_token(
                p,
                &ep,
                &input.id_token,
                NonceRule::Raw(input.nonce.as_deref()),
            )
            .await?;
        let spent = carried.unwrap_or_else(|| input.id_token.clone());
        let now = self.clock.unix();
        let ttl = exp
            .saturating_add(self.times.leeway_secs)
            .saturating_sub(now)
            .clamp(60, 86_400) as u64;
        let key = format!("fed:n:{}:{}:{}", flock.id, p.name, sha256_hex(&spent));
        if !self.kv.set_nx(&key, b"1", Duration::from_secs(ttl)).await? {
            return Err(FederationError::Rejected(
                "nonce_replayed",
                "this ID token (or its nonce) was used already".into(),
            ));
        }
        if p.kind == ProviderKind::Apple {
            let fields = AccountFields::parse(
                input.first_name.clone(),
                input.last_name.clone(),
                None,
                None,
            )
            .map_err(FederationError::Invalid)?;
            claims.first_name = fields.first_name;
            claims.last_name = fields.last_name;
        }
        Ok(claims)
    }

    /// Signs in with a native SDK's ID token.
    pub async fn sign_in_id_token(
        &self,
        flock: &Flock,
        provider: &str,
        input: IdTokenInput,
        opts: SignInOptions,
    ) -> Result<SignedIn, FederationError> {
        let r = async {
            let p = self.enabled(flock.id, provider).await?;
            let claims = self.verified_once(flock, &p, &input).await?;
            let (user, created) = self.resolve(flock, &p, &claims).await?;
            Ok(self
                .signin
                .federated(flock, user, &p.name, created, opts)
                .await?)
        }
        .await;
        if let Err(e) = &r {
            self.record_refusal(flock, e).await;
        }
        r
    }

    /// Writes a refused federated sign-in to the audit log (method `federated`, the
    /// stable code as the reason); not for a dependency that is down or a malformed
    /// request, which are not refusals of the identity.
    async fn record_refusal(&self, flock: &Flock, e: &FederationError) {
        let reason = match e {
            FederationError::Infra(_)
            | FederationError::ProviderDown(_)
            | FederationError::Invalid(_)
            | FederationError::UnknownProvider => return,
            FederationError::SignIn(s) => match s.audit_reason() {
                Some(r) => r,
                None => return,
            },
            e => error_code(e),
        };
        self.users
            .record_sign_in_failure(flock, None, "federated", reason)
            .await;
    }

    /// Links a native SDK's ID token to the signed-in user.
    pub async fn link_id_token(
        &self,
        flock: &Flock,
        user: UserId,
        provider: &str,
        input: IdTokenInput,
    ) -> Result<Identity, FederationError> {
        let p = self.enabled(flock.id, provider).await?;
        let claims = self.verified_once(flock, &p, &input).await?;
        self.attach(flock.id, user, &p, &claims).await
    }
}

fn bad_state_err() -> FederationError {
    FederationError::Expired(
        "invalid_state",
        "this sign-in is unknown, used or expired; start again",
    )
}

fn state_key(flock: &Flock, state: &str) -> String {
    format!("fed:st:{}:{}", flock.id, digest_hex(state))
}

fn exchange_key(flock: &Flock, code: &str) -> String {
    format!("fed:x:{}:{}", flock.id, digest_hex(code))
}

fn check_verifier(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), FederationError> {
    match (challenge, verifier) {
        (None, _) => Ok(()),
        (Some(c), Some(v)) if crate::infra::secret::ct_eq(c.as_bytes(), s256(v).as_bytes()) => {
            Ok(())
        }
        _ => Err(FederationError::Forbidden(
            "invalid_code_verifier",
            "the code_verifier does not match the code_challenge of this sign-in".into(),
        )),
    }
}

/// The first and last name Apple posts once, in `user`.
fn apple_name(user: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(v) = user.and_then(|u| serde_json::from_str::<Value>(u).ok()) else {
        return (None, None);
    };
    let part = |k: &str| {
        v.get("name")
            .and_then(|n| n.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match AccountFields::parse(part("firstName"), part("lastName"), None, None) {
        Ok(f) => (f.first_name, f.last_name),
        Err(_) => (None, None),
    }
}

/// The `error=` a portal gets back: the stable code of the failure.
fn error_code(e: &FederationError) -> &'static str {
    match e {
        FederationError::Invalid(i) => i.code,
        FederationError::UnknownProvider => "provider_not_found",
        FederationError::Rejected(c, _)
        | FederationError::Expired(c, _)
        | FederationError::Conflict(c, _)
        | FederationError::Forbidden(c, _) => c,
        FederationError::IdentityNotFound => "identity_not_found",
        FederationError::ProviderDown(_) => "provider_unavailable",
        FederationError::SecretUnreadable => "provider_secret_unreadable",
        FederationError::User(crate::domain::user::UserError::Forbidden(c, _)) => c,
        FederationError::User(crate::domain::user::UserError::NotActive(_)) => "account_not_active",
        FederationError::User(_) | FederationError::SignIn(_) => "sign_in_refused",
        FederationError::Infra(_) => "temporarily_unavailable",
    }
}
