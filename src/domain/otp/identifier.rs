//! Identifiers a code is sent to: a normalised email or E.164 phone number.
use super::Channel;
use crate::domain::user::Email;
use crate::domain::Invalid;

/// A normalised identifier: a lowercase email or an E.164 phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub channel: Channel,
    pub value: String,
}

/// `+` then 8–15 digits, the first not 0; spaces, dashes, dots and brackets are dropped.
pub fn parse_phone(raw: &str) -> Result<String, Invalid> {
    let bad = || {
        Invalid::new(
            "invalid_phone",
            "identifier",
            "phone must be an E.164 number such as +35799123456",
        )
    };
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = s.strip_prefix('+').ok_or_else(bad)?;
    if !(8..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(bad());
    }
    Ok(s)
}

impl Identifier {
    pub fn parse(channel: Channel, raw: &str) -> Result<Self, Invalid> {
        let value = match channel {
            Channel::Email => Email::parse(raw)
                .map_err(|_| {
                    Invalid::new(
                        "invalid_email",
                        "identifier",
                        "email must be a valid address",
                    )
                })?
                .as_str()
                .to_owned(),
            Channel::Sms => parse_phone(raw)?,
        };
        Ok(Self { channel, value })
    }

    pub(super) fn kind(&self) -> &'static str {
        match self.channel {
            Channel::Email => "e",
            Channel::Sms => "p",
        }
    }

    /// Key part for limits: channel + value (the limits digest it).
    pub(super) fn limit_key(&self) -> String {
        format!("{}:{}", self.kind(), self.value)
    }
}
