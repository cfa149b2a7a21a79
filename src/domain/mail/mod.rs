//! Account mail: the default templates (text + HTML, rendered with minijinja), the links
//! they carry, and the outbox rows the account flows write in their own transactions.
//! Delivery is the worker's job ([`worker::MailWorker`]).
pub mod worker;

use super::flocks::Flock;
use super::InfraError;
use crate::db::mail::NewMail;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use minijinja::{context, Environment};
use std::sync::Arc;

/// The kinds of mail the account flows send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Activation,
    Reset,
    /// Someone tried to register with an address that already has an account.
    ExistingAccount,
    /// The back office created the account: a welcome note.
    Welcome,
    /// The back office created the account with a generated password: the password.
    Password,
    /// An account made for its owner (unclaimed): a link to choose a password.
    Claim,
}

impl MailKind {
    pub fn name(self) -> &'static str {
        match self {
            MailKind::Activation => "activation",
            MailKind::Reset => "reset",
            MailKind::ExistingAccount => "existing_account",
            MailKind::Welcome => "welcome",
            MailKind::Password => "password",
            MailKind::Claim => "claim",
        }
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    ("activation.subject", "Activate your {{ flock_name }} account"),
    (
        "activation.txt",
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n\nActivate your {{ flock_name }} account by opening this link:\n\n{{ link }}\n\nThe link works once and expires in {{ ttl_hours }} hours. If you did not sign up, ignore this mail.\n",
    ),
    (
        "activation.html",
        "<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p><p>Activate your {{ flock_name }} account:</p><p><a href=\"{{ link }}\">Activate my account</a></p><p>The link works once and expires in {{ ttl_hours }} hours. If you did not sign up, ignore this mail.</p>",
    ),
    ("reset.subject", "Reset your {{ flock_name }} password"),
    (
        "reset.txt",
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n\nSomeone asked to reset the password of your {{ flock_name }} account. To choose a new password open this link:\n\n{{ link }}\n\nThe link works once and expires in {{ ttl_hours }} hour(s). If you did not ask for this, ignore this mail: your password is unchanged.\n",
    ),
    (
        "reset.html",
        "<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p><p>Someone asked to reset the password of your {{ flock_name }} account.</p><p><a href=\"{{ link }}\">Choose a new password</a></p><p>The link works once and expires in {{ ttl_hours }} hour(s). If you did not ask for this, ignore this mail: your password is unchanged.</p>",
    ),
    ("existing_account.subject", "Your {{ flock_name }} account"),
    (
        "existing_account.txt",
        "Hello,\n\nSomeone tried to register a new {{ flock_name }} account with this address, but you already have one. If it was you, sign in or reset your password here:\n\n{{ link }}\n\nIf it was not you, ignore this mail.\n",
    ),
    ("welcome.subject", "Welcome to {{ flock_name }}"),
    (
        "welcome.txt",
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n\nAn account was created for you at {{ flock_name }}. Sign in here:\n\n{{ link }}\n",
    ),
    (
        "welcome.html",
        "<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p><p>An account was created for you at {{ flock_name }}.</p><p><a href=\"{{ link }}\">Sign in</a></p>",
    ),
    ("password.subject", "Your {{ flock_name }} account"),
    (
        "password.txt",
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n\nAn account was created for you at {{ flock_name }}. Your password is:\n\n{{ secret }}\n\nSign in here and change it: {{ link }}\n",
    ),
    (
        "password.html",
        "<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p><p>An account was created for you at {{ flock_name }}. Your password is:</p><p><code>{{ secret }}</code></p><p><a href=\"{{ link }}\">Sign in</a> and change it.</p>",
    ),
    ("claim.subject", "Your {{ flock_name }} account is waiting for you"),
    (
        "claim.txt",
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n\nAn account was made for you at {{ flock_name }}. Choose a password to start using it:\n\n{{ link }}\n\nThe link works once and expires in {{ ttl_hours }} hours. If you did not expect this, ignore this mail.\n",
    ),
    (
        "claim.html",
        "<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p><p>An account was made for you at {{ flock_name }}.</p><p><a href=\"{{ link }}\">Choose a password</a></p><p>The link works once and expires in {{ ttl_hours }} hours. If you did not expect this, ignore this mail.</p>",
    ),
    (
        "existing_account.html",
        "<p>Hello,</p><p>Someone tried to register a new {{ flock_name }} account with this address, but you already have one. If it was you, sign in or <a href=\"{{ link }}\">reset your password</a>.</p><p>If it was not you, ignore this mail.</p>",
    ),
];

/// Whether `src` may override the default template `name` (known name, at most 20,000
/// characters, valid syntax); the error is a sentence for the flock's operator.
pub fn check_template(name: &str, src: &str) -> Result<(), String> {
    if !TEMPLATES.iter().any(|(n, _)| *n == name) {
        let names: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown mail template {name:?}; known: {}",
            names.join(", ")
        ));
    }
    if src.len() > 20_000 {
        return Err(format!(
            "mail template {name} is longer than 20000 characters"
        ));
    }
    let env = Environment::new();
    env.template_from_named_str(name, src)
        .map(|_| ())
        .map_err(|e| format!("mail template {name}: {e}"))
}

/// Renders account mail into outbox rows.
#[derive(Clone)]
pub struct MailComposer {
    env: Arc<Environment<'static>>,
    /// `http.public_url`: the base of links when the flock has no `public_url`.
    default_base: Arc<str>,
}

/// What a mail is about: the recipient and the secret link, if any.
pub struct MailInput<'a> {
    pub to: &'a str,
    pub user: Option<UserId>,
    pub first_name: Option<&'a str>,
    /// `(path, token)`: the link is `{base}/{flock}/{path}?token={token}`.
    pub link: Option<(&'a str, &'a str)>,
    pub ttl_hours: i64,
    /// A secret to show in the mail itself (a generated password); the outbox drops the
    /// body once delivered.
    pub secret: Option<&'a str>,
}

impl MailComposer {
    pub fn new(default_base: &str) -> Result<Self, InfraError> {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .map_err(|e| InfraError::Internal(format!("mail template {name}: {e}")))?;
        }
        Ok(Self {
            env: Arc::new(env),
            default_base: default_base.trim_end_matches('/').into(),
        })
    }

    /// The base of every link in the flock's mail: its `public_url` setting, else the
    /// deployment's `http.public_url`. Never a request header.
    pub fn base_url(&self, flock: &Flock) -> String {
        flock
            .settings
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| self.default_base.to_string())
    }

    pub fn link(&self, flock: &Flock, path: &str, token: &str) -> String {
        format!(
            "{}/{}/{}?token={}",
            self.base_url(flock),
            flock.slug,
            path,
            token
        )
    }

    pub fn compose(
        &self,
        flock: &Flock,
        kind: MailKind,
        input: MailInput<'_>,
        now: DateTime<Utc>,
    ) -> Result<NewMail, InfraError> {
        let page = match kind {
            MailKind::ExistingAccount => "reset-password",
            _ => "sign-in",
        };
        let link = match input.link {
            Some((path, token)) => self.link(flock, path, token),
            None => format!("{}/{}/{page}", self.base_url(flock), flock.slug),
        };
        let ctx = context! {
            flock_name => flock.name.clone(),
            first_name => input.first_name,
            link => link,
            ttl_hours => input.ttl_hours,
            secret => input.secret,
        };
        let render = |suffix: &str| -> Result<String, InfraError> {
            let name = format!("{}.{suffix}", kind.name());
            // The flock's override when it has one (HTML auto-escaped by its name too).
            let r = match flock.settings.mail_templates.get(&name) {
                Some(src) => self.env.render_named_str(&name, src, &ctx),
                None => self.env.get_template(&name).and_then(|t| t.render(&ctx)),
            };
            r.map_err(|e| InfraError::Internal(format!("mail template {name}: {e}")))
        };
        Ok(NewMail {
            id: uuid::Uuid::new_v4(),
            user: input.user,
            kind: kind.name().to_owned(),
            to_addr: input.to.to_owned(),
            from_addr: flock.settings.mail_from.clone(),
            subject: render("subject")?,
            text_body: render("txt")?,
            html_body: Some(render("html")?),
            created_at: now,
        })
    }
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::flocks::{FlockSettings, FlockStatus};
    use crate::ids::FlockId;

    fn flock(public_url: Option<&str>) -> Flock {
        Flock {
            id: FlockId::new(),
            slug: "acme".into(),
            name: "Acme & Co".into(),
            status: FlockStatus::Active,
            settings: FlockSettings {
                public_url: public_url.map(str::to_owned),
                ..FlockSettings::default()
            },
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn every_kind_renders_text_and_escaped_html_with_the_link() {
        let c = MailComposer::new("https://fold.test/").unwrap();
        let f = flock(None);
        for kind in [
            MailKind::Activation,
            MailKind::Reset,
            MailKind::ExistingAccount,
        ] {
            let m = c
                .compose(
                    &f,
                    kind,
                    MailInput {
                        to: "a@example.com",
                        user: None,
                        first_name: Some("<b>Ann</b>"),
                        link: Some(("activate", "tok.en")),
                        ttl_hours: 1,
                        secret: None,
                    },
                    chrono::DateTime::UNIX_EPOCH,
                )
                .unwrap();
            let html = m.html_body.unwrap_or_default();
            assert!(m.subject.contains("Acme & Co"), "{kind:?}");
            assert!(
                m.text_body
                    .contains("https://fold.test/acme/activate?token=tok.en"),
                "{kind:?}"
            );
            assert!(!html.contains("<b>Ann</b>"), "HTML is escaped: {html}");
            assert!(html.contains("Acme &amp; Co"), "{html}");
        }
    }

    #[test]
    fn a_flock_template_overrides_the_default_and_bad_ones_are_refused() {
        let c = MailComposer::new("https://fold.test").unwrap();
        let mut f = flock(None);
        f.settings.mail_templates.insert(
            "reset.subject".into(),
            "{{ flock_name }}: new password".into(),
        );
        f.settings.mail_templates.insert(
            "reset.html".into(),
            "<a href=\"{{ link }}\">{{ first_name }}</a>".into(),
        );
        let m = c
            .compose(
                &f,
                MailKind::Reset,
                MailInput {
                    to: "a@example.com",
                    user: None,
                    first_name: Some("<i>"),
                    link: Some(("reset-password", "t")),
                    ttl_hours: 1,
                    secret: None,
                },
                chrono::DateTime::UNIX_EPOCH,
            )
            .unwrap();
        assert_eq!(m.subject, "Acme & Co: new password");
        // HTML-escaped (minijinja also escapes `/` as `&#x2f;`, which browsers decode).
        let html = m.html_body.unwrap_or_default();
        assert!(
            html.starts_with(
                "<a href=\"https:&#x2f;&#x2f;fold.test&#x2f;acme&#x2f;reset-password?token=t\">"
            ),
            "{html}"
        );
        assert!(html.ends_with(">&lt;i&gt;</a>"), "{html}");
        assert!(
            m.text_body.contains("Someone asked"),
            "the text keeps the default"
        );
        assert!(check_template("reset.txt", "{% if %}").is_err());
        assert!(check_template("goodbye.txt", "hi").is_err());
        assert!(check_template("welcome.txt", "hi").is_ok());
        assert!(check_template("reset.txt", "hi {{ link }}").is_ok());
    }

    #[test]
    fn the_flock_public_url_wins_over_the_deployment_one() {
        let c = MailComposer::new("https://fold.test").unwrap();
        assert_eq!(c.base_url(&flock(None)), "https://fold.test");
        assert_eq!(
            c.base_url(&flock(Some("https://portal.acme.test/"))),
            "https://portal.acme.test"
        );
    }
}
