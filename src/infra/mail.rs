//! Sending mail: SMTP through lettre in production, a local outbox directory by default
//! (one JSON file per message; tests read codes and links from it).
use crate::config::MailConfig;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    /// Sender; the configured default when absent.
    pub from: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The transport failed; the caller may retry later.
    #[error("mail transport unavailable: {0}")]
    Unavailable(String),
    /// The message cannot be built (bad address); retrying will not help.
    #[error("invalid mail: {0}")]
    Invalid(String),
}

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Arc<str>,
    },
    Outbox {
        dir: PathBuf,
        from: Arc<str>,
        seq: Arc<AtomicU64>,
    },
}

impl Mailer {
    pub fn from_config(cfg: &MailConfig) -> Result<Self, MailError> {
        match &cfg.smtp_url {
            Some(url) if !url.expose_secret().is_empty() => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| MailError::Invalid(format!("mail.smtp_url: {e}")))?
                    .timeout(Some(std::time::Duration::from_secs(10)))
                    .build();
                Ok(Mailer::Smtp {
                    transport,
                    from: cfg.from.as_str().into(),
                })
            }
            _ => {
                std::fs::create_dir_all(&cfg.outbox_dir)
                    .map_err(|e| MailError::Unavailable(e.to_string()))?;
                Ok(Mailer::Outbox {
                    dir: cfg.outbox_dir.clone(),
                    from: cfg.from.as_str().into(),
                    seq: Arc::new(AtomicU64::new(0)),
                })
            }
        }
    }

    pub fn default_from(&self) -> &str {
        match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from,
        }
    }

    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        match self {
            Mailer::Smtp { transport, from } => {
                let msg = build(mail, from)?;
                transport
                    .send(msg)
                    .await
                    .map(|_| ())
                    .map_err(|e| MailError::Unavailable(e.to_string()))
            }
            Mailer::Outbox { dir, from, seq } => {
                // Validate exactly as SMTP would, so the outbox never accepts what SMTP refuses.
                build(mail, from)?;
                let mut stored = mail.clone();
                stored.from = Some(mail.from.clone().unwrap_or_else(|| from.to_string()));
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let name = format!(
                    "{:020}-{:06}-{}.json",
                    crate::infra::outbox_nanos(),
                    n,
                    uuid::Uuid::new_v4().simple()
                );
                let body = serde_json::to_vec_pretty(&stored)
                    .map_err(|e| MailError::Invalid(e.to_string()))?;
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, body)
                    .await
                    .map_err(|e| MailError::Unavailable(e.to_string()))?;
                tokio::fs::rename(&tmp, dir.join(name))
                    .await
                    .map_err(|e| MailError::Unavailable(e.to_string()))
            }
        }
    }
}

fn build(mail: &OutgoingMail, default_from: &str) -> Result<Message, MailError> {
    let from: Mailbox = mail
        .from
        .as_deref()
        .unwrap_or(default_from)
        .parse()
        .map_err(|e| MailError::Invalid(format!("from: {e}")))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| MailError::Invalid(format!("to: {e}")))?;
    let builder = Message::builder().from(from).to(to).subject(&mail.subject);
    let msg = match &mail.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone()),
        ),
    };
    msg.map_err(|e| MailError::Invalid(e.to_string()))
}

/// Every message in an outbox directory, oldest first (for tests and local development).
pub fn read_outbox(dir: &std::path::Path) -> Vec<OutgoingMail> {
    super::read_json_dir(dir)
}
