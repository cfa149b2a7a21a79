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
