//! Field rules, written once for every flow that takes them (registration, one-time-code
//! sign-up, profile edits, and later the back office): email and phone shapes, optional
//! free text, locale tags, opt-outs, and [`AccountFields`] that bundles the profile ones.
use crate::domain::Invalid;
use std::collections::BTreeMap;

/// An email address: trimmed, NFKC-normalised and lowercased (full-width letters and
/// composed or decomposed accents become one form), its domain checked by IDNA and kept in
/// Unicode (an `xn--` domain and its Unicode form are one address). Refused: quoted local
/// parts, IP-literal domains, invisible and control characters (zero-width joiners, bidi
/// overrides), characters outside the UTS #39 identifier profile, and a local part or
/// domain label that mixes scripts beyond what one language writes (Latin with Cyrillic
/// or Greek). Look-alikes that pass (a whole-script Cyrillic twin) are caught by the
/// per-flock look-alike key (`migration::lookalike`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        use unicode_normalization::UnicodeNormalization;
        let bad = || Invalid::new("invalid_email", "email", "email must be a valid address");
        let e: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || !local.chars().all(local_char)
        {
            return Err(bad());
        }
        let domain = Self::domain(domain).ok_or_else(bad)?;
        let lookalike = || {
            Invalid::new(
                "invalid_email",
                "email",
                "email must not mix scripts (such as Latin with Cyrillic or Greek letters) \
                 or hold invisible characters",
            )
        };
        if !one_script(local) || !domain.split('.').all(one_script) {
            return Err(lookalike());
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// A domain as stored: valid under IDNA (UTS #46), at least two labels, a top-level
    /// label that is not a number (no IP addresses), shown in Unicode.
    fn domain(domain: &str) -> Option<String> {
        if domain.is_empty() || domain.starts_with('[') {
            return None;
        }
        let ascii = idna::domain_to_ascii_strict(domain).ok()?;
        let labels: Vec<&str> = ascii.split('.').collect();
        let ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && !labels
                .last()
                .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return None;
        }
        let (unicode, result) = idna::domain_to_unicode(&ascii);
        result.ok()?;
        let unicode =
            unicode_normalization::UnicodeNormalization::nfc(unicode.as_str()).collect::<String>();
        // Every character of the Unicode form must be one people can see and tell apart.
        unicode
            .chars()
            .all(|c| c == '.' || c == '-' || c.is_ascii_alphanumeric() || visible(c))
            .then_some(unicode)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A character allowed in the local part: RFC 5322 `atext` and dots in ASCII, and
/// beyond ASCII only what the UTS #39 identifier profile allows.
fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || visible(c)
}

/// A non-ASCII character allowed in identifiers by UTS #39 (no invisible, format,
/// control or symbol characters).
fn visible(c: char) -> bool {
    use unicode_security::GeneralSecurityProfile;
    !c.is_ascii() && c.identifier_allowed()
}

/// Whether a local part or label writes one language's script (UTS #39 "highly
/// restrictive": one script, or Latin with Han and Japanese or Korean scripts).
fn one_script(part: &str) -> bool {
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
    if part.is_ascii() {
        return true;
    }
    let letters: String = part.chars().filter(|c| c.is_alphanumeric()).collect();
    letters
        .as_str()
        .check_restriction_level(RestrictionLevel::HighlyRestrictive)
}

/// An email or a phone number, each normalised: what an account is found by and what a
/// one-time code proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Email(Email),
    Phone(Phone),
}

impl Contact {
    pub fn as_str(&self) -> &str {
        match self {
            Contact::Email(e) => e.as_str(),
            Contact::Phone(p) => p.as_str(),
        }
    }
}

/// The profile fields a new account may carry, validated.
#[derive(Debug, Clone)]
pub struct AccountFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    /// A JSON object of names to booleans.
    pub opt_outs: serde_json::Value,
}

impl Default for AccountFields {
    fn default() -> Self {
        Self {
            first_name: None,
            last_name: None,
            locale: None,
            opt_outs: serde_json::json!({}),
        }
    }
}

impl AccountFields {
    /// Checks each field by its rule (in this order, so the first error is stable).
    pub fn parse(
        first_name: Option<String>,
        last_name: Option<String>,
        locale: Option<String>,
        opt_outs: Option<BTreeMap<String, bool>>,
    ) -> Result<Self, Invalid> {
        Ok(Self {
            first_name: optional_text(first_name, "first_name", 200)?,
            last_name: optional_text(last_name, "last_name", 200)?,
            locale: validate_locale(locale)?,
            opt_outs: validate_opt_outs(opt_outs)?,
        })
    }
}

/// At most 20 opt-out names (letters, digits, underscores), each mapped to a boolean.
pub(crate) fn validate_opt_outs(
    v: Option<BTreeMap<String, bool>>,
) -> Result<serde_json::Value, Invalid> {
    let v = v.unwrap_or_default();
    if v.len() > 20
        || v.keys().any(|k| {
            k.is_empty()
                || k.len() > 50
                || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    {
        return Err(Invalid::new(
            "invalid_opt_outs",
            "opt_outs",
            "opt_outs is at most 20 names (letters, digits, underscores) mapped to true or false",
        ));
    }
    serde_json::to_value(v).map_err(|e| Invalid::new("invalid_opt_outs", "opt_outs", e.to_string()))
}

pub(crate) fn optional_text(
    v: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => Err(Invalid::new(
            "invalid_field",
            field,
            format!("{field} must be at most {max} printable characters"),
        )),
        Some(s) => Ok(Some(s)),
    }
}

pub(crate) fn validate_locale(v: Option<String>) -> Result<Option<String>, Invalid> {
    let v = optional_text(v, "locale", 35)?;
    if let Some(l) = &v {
        let ok = l
            .split(['-', '_'])
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(Invalid::new(
                "invalid_locale",
                "locale",
                "locale must be a language tag such as en or fr-CA",
            ));
        }
    }
    Ok(v)
}

/// A phone number in E.164: `+` then 8 to 15 digits (spaces, dots, dashes and brackets
/// are dropped first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let p: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(Invalid::new(
                "invalid_phone",
                "phone",
                "phone must be in international format, e.g. +447700900123",
            ));
        }
        Ok(Self(p))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person or a business (seed 002's B2C and B2B contacts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Person,
    Business,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Business => "business",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "business" {
            Kind::Business
        } else {
            Kind::Person
        }
    }
}

/// The directory fields of an account: what the back office keeps about it besides its
/// identifiers and profile. Self-service accounts get the defaults.
#[derive(Debug, Clone)]
pub struct DirectoryFields {
    pub username: Option<String>,
    pub company: Option<String>,
    pub picture_url: Option<String>,
    pub external_id: Option<String>,
    pub referer: Option<String>,
    pub note: Option<String>,
    pub kind: Kind,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    /// The business contact a person belongs to.
    pub business: Option<crate::ids::UserId>,
    pub bo_access: bool,
    pub api_access: bool,
}

impl Default for DirectoryFields {
    fn default() -> Self {
        Self {
            username: None,
            company: None,
            picture_url: None,
            external_id: None,
            referer: None,
            note: None,
            kind: Kind::Person,
            registration_number: None,
            vat_number: None,
            business: None,
            bo_access: false,
            api_access: true,
        }
    }
}

/// A username: 1 to 100 of lowercase letters, digits, `.`, `_` and `-` (lowercased).
pub(crate) fn username(v: Option<String>) -> Result<Option<String>, Invalid> {
    let v = optional_text(v, "username", 100)?.map(|u| u.to_lowercase());
    if let Some(u) = &v {
        let ok = u
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(Invalid::new(
                "invalid_username",
                "username",
                "username may hold only letters, digits, dots, underscores and dashes",
            ));
        }
    }
    Ok(v)
}

/// An id from the flock's own systems: 1 to 36 printable characters without spaces.
pub(crate) fn external_id(v: Option<String>) -> Result<Option<String>, Invalid> {
    let v = optional_text(v, "external_id", 36)?;
    if v.as_deref()
        .is_some_and(|e| e.chars().any(char::is_whitespace))
    {
        return Err(Invalid::new(
            "invalid_external_id",
            "external_id",
            "external_id is 1 to 36 printable characters without spaces",
        ));
    }
    Ok(v)
}

/// An absolute `http` or `https` URL of at most 2048 characters.
pub(crate) fn web_url(v: Option<String>, field: &'static str) -> Result<Option<String>, Invalid> {
    let v = optional_text(v, field, 2048)?;
    if let Some(u) = &v {
        let ok = url::Url::parse(u)
            .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.has_host());
        if !ok {
            return Err(Invalid::new(
                "invalid_url",
                field,
                format!("{field} must be an http or https URL"),
            ));
        }
    }
    Ok(v)
}

/// Free text that may span lines (a note): at most `max` characters, no other control
/// characters.
pub(crate) fn multiline_text(
    v: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s)
            if s.chars().count() > max
                || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            Err(Invalid::new(
                "invalid_field",
                field,
                format!("{field} must be at most {max} characters"),
            ))
        }
        Some(s) => Ok(Some(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            Phone::parse(" +44 7700 900-123 ").map(|p| p.0),
            Ok("+447700900123".into())
        );
        for bad in [
            "447700900123",
            "+4477",
            "+1234567890123456",
            "+44abc00900123",
            "+0123456789",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
