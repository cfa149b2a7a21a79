//! The back office: calls with a flock API key, users and groups made through it.
use super::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

impl TestApp {
    /// A back-office call with `key` (`X-Api-Key`) and an optional JSON body.
    pub async fn bo(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(method, path).header("X-Api-Key", key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST /directory/users` with the admin key; the created user.
    pub async fn bo_create_user(&self, flock: &super::TestFlock, body: Value) -> Value {
        let path = format!("/api/v1/{}/directory/users", flock.slug);
        let (s, b) = self
            .bo(Method::POST, &path, &flock.admin_key, Some(body))
            .await;
        assert_eq!(s, StatusCode::CREATED, "create user: {b}");
        b
    }

    /// How many users the database holds, of every flock (an invariant check).
    pub async fn user_rows(&self) -> i64 {
        self.sql().await.scalar("SELECT COUNT(*) FROM users").await
    }
}

/// `/api/v1/{flock}/directory/users/{id}{rest}`.
pub fn user_path(flock: &str, id: &Value, rest: &str) -> String {
    format!(
        "/api/v1/{flock}/directory/users/{}{rest}",
        id.as_str().unwrap()
    )
}

/// A body with `key` set to `value` on top of `base`.
pub fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut b = base.clone();
    b[key] = value;
    b
}

pub fn empty() -> Value {
    json!({})
}
