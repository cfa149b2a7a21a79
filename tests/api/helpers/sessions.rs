//! Tokens and sessions: grants, refresh, calls with a bearer token.
use super::{TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

impl TestApp {
    /// Registers and signs in; returns the whole session grant.
    pub async fn grant(&self, flock: &str, email: &str) -> Value {
        let (s, b) = self.register(flock, email, PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "register {email}: {b}");
        let (s, b) = self.sign_in(flock, email, PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "sign in {email}: {b}");
        b
    }

    /// `POST /api/v1/{flock}/token/refresh`.
    pub async fn refresh(&self, flock: &str, refresh_token: &str) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/token/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A user-authenticated call; returns the status and the JSON body (or Null).
    pub async fn user_call(&self, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .req(method, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The flock's id, straight from the flock service.
    pub async fn flock_id(&self, slug: &str) -> fold::ids::FlockId {
        self.state.flocks.get(slug).await.unwrap().id
    }
}

/// The `access_token` and `refresh_token` of a grant.
pub fn tokens_of(grant: &Value) -> (String, String) {
    (
        grant["access_token"].as_str().unwrap().to_owned(),
        grant["refresh_token"].as_str().unwrap().to_owned(),
    )
}

impl TestApp {
    /// An access token for any user and session, signed with the flock's real key (what
    /// an attacker holding the key, or a bug, could mint): only the session check stands
    /// between it and the API.
    pub async fn mint_access_token(
        &self,
        slug: &str,
        user: fold::ids::UserId,
        session: fold::ids::SessionId,
        role: &str,
    ) -> String {
        let flock = self.flock_id(slug).await;
        let keys = self.state.signing.for_flock(flock).await.unwrap();
        let now = self.clock.unix();
        let claims = json!({
            "iss": format!("https://fold.test/api/v1/{slug}"),
            "aud": format!("fold:{flock}"),
            "sub": user.to_string(),
            "sid": session.to_string(),
            "flock": flock.to_string(),
            "role": role,
            "iat": now, "nbf": now, "exp": now + 600,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(keys.signing_kid.clone());
        jsonwebtoken::encode(&header, &claims, &keys.signing).unwrap()
    }
}

impl TestApp {
    /// The stored record of a refresh token, read straight from the KV store under its
    /// documented key (`rt:{flock}:{sha256 hex of the token}`), as JSON.
    pub async fn refresh_record(&self, slug: &str, token: &str) -> Option<Value> {
        let flock = self.flock_id(slug).await;
        let key = format!("rt:{flock}:{}", fold::infra::secret::digest_hex(token));
        let raw = self.state.kv.get(&key).await.unwrap()?;
        Some(serde_json::from_slice(&raw).unwrap())
    }

    /// `PUT /api/v1/{flock}/user/password`: ends every other session of the user.
    pub async fn change_password(&self, flock: &str, token: &str, new: &str) -> StatusCode {
        self.req(Method::PUT, &format!("/api/v1/{flock}/user/password"))
            .bearer_auth(token)
            .json(&json!({"current_password": PASSWORD, "new_password": new}))
            .send()
            .await
            .unwrap()
            .status()
    }
}
