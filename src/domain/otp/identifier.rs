//! Identifiers a code is sent to: a normalised email or E.164 phone number, by the user
//! area's own rules ([`Contact`]).
use super::Channel;
use crate::domain::user::{Contact, Email, Phone};
use crate::domain::Invalid;

/// A normalised identifier and the channel that reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub channel: Channel,
    pub contact: Contact,
}

impl Identifier {
    /// Parses `raw` by the channel's rule; errors name the `identifier` field.
    pub fn parse(channel: Channel, raw: &str) -> Result<Self, Invalid> {
        let contact = match channel {
            Channel::Email => Contact::Email(Email::parse(raw).map_err(|_| {
                Invalid::new(
                    "invalid_email",
                    "identifier",
                    "email must be a valid address",
                )
            })?),
            Channel::Sms => Contact::Phone(Phone::parse(raw).map_err(|_| {
                Invalid::new(
                    "invalid_phone",
                    "identifier",
                    "phone must be an E.164 number such as +35799123456",
                )
            })?),
        };
        Ok(Self { channel, contact })
    }

    /// The normalised email or phone number.
    pub fn value(&self) -> &str {
        self.contact.as_str()
    }

    pub(super) fn kind(&self) -> &'static str {
        match self.channel {
            Channel::Email => "e",
            Channel::Sms => "p",
        }
    }

    /// Key part for limits: channel + value (the limits digest it).
    pub(super) fn limit_key(&self) -> String {
        format!("{}:{}", self.kind(), self.value())
    }
}
