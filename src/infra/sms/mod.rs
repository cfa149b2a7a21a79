//! Sending SMS: a provider trait and three providers — a generic HTTP JSON webhook, a
//! Twilio-compatible REST API (configurable base URL), and the local outbox default
//! (one JSON file per message, like the mail outbox; tests and local development read
//! codes from it).
use crate::config::SmsConfig;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One text message. `to` is an E.164 number (`+35799123456`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutgoingSms {
    pub to: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider answered with an error (the API answers 502 `sms_provider_failed`).
    #[error("SMS provider refused the message: {0}")]
    Failed(String),
    /// The provider could not be reached in time (503 `sms_provider_unavailable`).
    #[error("SMS provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SmsProvider: Send + Sync {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), SmsError>;
    fn name(&self) -> &'static str;
}

/// The configured provider, shared.
pub type Sms = Arc<dyn SmsProvider>;

pub fn from_config(cfg: &SmsConfig) -> Result<Sms, String> {
    let timeout = Duration::from_secs(cfg.timeout_secs.clamp(1, 60));
    let client = || {
        reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())
    };
    match cfg.provider.as_str() {
        "" | "outbox" => {
            std::fs::create_dir_all(&cfg.outbox_dir).map_err(|e| e.to_string())?;
            Ok(Arc::new(OutboxSms::new(cfg.outbox_dir.clone())))
        }
        "webhook" => {
            let url = cfg
                .webhook_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or("sms.webhook_url is required for the webhook provider")?;
            Ok(Arc::new(WebhookSms {
                client: client()?,
                url,
                token: cfg.webhook_token.clone(),
            }))
        }
        "twilio" => {
            let sid = cfg
                .twilio_account_sid
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or("sms.twilio_account_sid is required for the twilio provider")?;
            let token = cfg
                .twilio_auth_token
                .clone()
                .ok_or("sms.twilio_auth_token is required for the twilio provider")?;
            let from = cfg
                .twilio_from
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or("sms.twilio_from is required for the twilio provider")?;
            Ok(Arc::new(TwilioSms {
                client: client()?,
                base_url: cfg.twilio_base_url.trim_end_matches('/').to_owned(),
                account_sid: sid,
                auth_token: token,
                from,
            }))
        }
        other => Err(format!(
            "sms.provider must be outbox, webhook or twilio (got {other:?})"
        )),
    }
}

fn transport_error(e: &reqwest::Error) -> SmsError {
    if e.is_timeout() || e.is_connect() {
        SmsError::Unavailable(e.to_string())
    } else {
        SmsError::Failed(e.to_string())
    }
}

/// `POST {url}` with `{"to": "+…", "text": "…"}` and an optional bearer token; any
/// 2xx is success.
pub struct WebhookSms {
    client: reqwest::Client,
    url: String,
    token: Option<SecretString>,
}

#[async_trait]
impl SmsProvider for WebhookSms {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), SmsError> {
        let mut req = self.client.post(&self.url).json(sms);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose_secret());
        }
        let r = req.send().await.map_err(|e| transport_error(&e))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(SmsError::Failed(format!("webhook answered {}", r.status())))
        }
    }
    fn name(&self) -> &'static str {
        "webhook"
    }
}

/// Twilio's Messages API (or a compatible one): `POST
/// {base}/2010-04-01/Accounts/{sid}/Messages.json`, form fields `To`, `From`, `Body`,
/// HTTP basic auth with the account SID and auth token.
pub struct TwilioSms {
    client: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: SecretString,
    from: String,
}

#[async_trait]
impl SmsProvider for TwilioSms {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), SmsError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, self.account_sid
        );
        let r = self
            .client
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&[
                ("To", sms.to.as_str()),
                ("From", self.from.as_str()),
                ("Body", sms.text.as_str()),
            ])
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(SmsError::Failed(format!("twilio answered {}", r.status())))
        }
    }
    fn name(&self) -> &'static str {
        "twilio"
    }
}

/// Writes each message as a JSON file in a directory (the default).
pub struct OutboxSms {
    dir: PathBuf,
    seq: AtomicU64,
}

impl OutboxSms {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            seq: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl SmsProvider for OutboxSms {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), SmsError> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{:020}-{:06}-{}.json",
            crate::infra::outbox_nanos(),
            n,
            uuid::Uuid::new_v4().simple()
        );
        let body = serde_json::to_vec_pretty(sms).map_err(|e| SmsError::Failed(e.to_string()))?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, body)
            .await
            .map_err(|e| SmsError::Unavailable(e.to_string()))?;
        tokio::fs::rename(&tmp, self.dir.join(name))
            .await
            .map_err(|e| SmsError::Unavailable(e.to_string()))
    }
    fn name(&self) -> &'static str {
        "outbox"
    }
}

/// Every message in an SMS outbox directory, oldest first (tests, local development).
pub fn read_outbox(dir: &std::path::Path) -> Vec<OutgoingSms> {
    crate::infra::read_json_dir(dir)
}
