//! One-time codes: the SMS outbox, codes in messages, requesting and verifying codes.
use super::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The code in a message text ("… code is 123456. …").
pub fn code_in(text: &str) -> String {
    let rest = text
        .split("code is ")
        .nth(1)
        .expect("a code in the message");
    rest.chars().take_while(char::is_ascii_digit).collect()
}

impl TestApp {
    /// Every SMS written to this app's SMS outbox, oldest first.
    pub fn sms_outbox(&self) -> Vec<fold::infra::sms::OutgoingSms> {
        fold::infra::sms::read_outbox(&self.state.config.sms.outbox_dir)
    }

    /// The latest code sent to `to` (by SMS or mail), if any.
    pub fn last_code(&self, to: &str) -> Option<String> {
        if to.starts_with('+') {
            self.sms_outbox()
                .iter()
                .rev()
                .find(|m| m.to == to)
                .map(|m| code_in(&m.text))
        } else {
            self.outbox()
                .iter()
                .rev()
                .find(|m| m.to == to)
                .map(|m| code_in(&m.text))
        }
    }

    /// `POST /user/otp`; `channel` from the identifier's shape.
    pub async fn request_otp(
        &self,
        flock: &str,
        identifier: &str,
        purpose: &str,
    ) -> (StatusCode, Value) {
        let channel = if identifier.starts_with('+') {
            "sms"
        } else {
            "email"
        };
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/otp"))
            .json(&json!({"channel": channel, "identifier": identifier, "purpose": purpose}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST /user/otp/verify` with extra body fields merged in.
    pub async fn verify_otp(
        &self,
        flock: &str,
        identifier: &str,
        purpose: &str,
        code: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let channel = if identifier.starts_with('+') {
            "sms"
        } else {
            "email"
        };
        let mut body =
            json!({"channel": channel, "identifier": identifier, "purpose": purpose, "code": code});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/otp/verify"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}
