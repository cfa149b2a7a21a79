//! Accounts: the mail outbox, mailed links, user operations, crash and restart.
use super::{spawn_state, TestApp};
use fold::app::AppState;
use reqwest::{Method, StatusCode};
use serde_json::Value;

impl TestApp {
    /// Runs the mail worker once (delivers every due outbox row), then returns every mail
    /// delivered so far, oldest first.
    pub async fn mails(&self) -> Vec<fold::infra::mail::OutgoingMail> {
        self.state
            .mail_worker
            .run_once()
            .await
            .expect("mail worker");
        self.outbox()
    }

    /// The last delivered mail to `to`.
    pub async fn last_mail_to(&self, to: &str) -> fold::infra::mail::OutgoingMail {
        self.mails()
            .await
            .into_iter()
            .rev()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// POST a JSON body to `/api/v1/{flock}/user/{op}`.
    pub async fn user_post(&self, flock: &str, op: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, &format!("/api/v1/{flock}/user/{op}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Simulates a crash and restart: stops the server, drops every service, and builds a
    /// new app on the same database, KV store and outbox directory.
    pub async fn restart(mut self) -> TestApp {
        let config = self.state.config.clone();
        let clock = self.clock.clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        drop(self);
        let state = AppState::build(config, clock.clone())
            .await
            .expect("rebuild app");
        spawn_state(state, clock, dir).await
    }
}

/// The token in a mailed link (`…?token=…`).
pub fn token_in(mail: &fold::infra::mail::OutgoingMail) -> String {
    let i = mail.text.find("token=").expect("a token link in the mail") + 6;
    mail.text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '_')
        .collect()
}
