//! The self-service account lifecycle end to end: every flow, following the mailed links.
//! Flows by group: `signup`, `passwords`, `profile`.
mod passwords;
mod profile;
mod signup;

use crate::helpers::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
    let r = app
        .req(method, path)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}
