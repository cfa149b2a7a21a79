//! The field schema of a flock: groups, typed fields, their validators and who may see
//! and edit each. Stored as one versioned document; [`Schema::check`] is the one place a
//! document is judged well formed.
use crate::domain::Invalid;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// At most this many fields, groups and options per choice field.
pub const MAX_FIELDS: usize = 200;
pub const MAX_GROUPS: usize = 50;
pub const MAX_OPTIONS: usize = 200;
/// The longest text value a field may hold.
pub const MAX_TEXT: usize = 10_000;

/// The schema of a flock. `version` counts the changes (0: never defined).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Kept in its own column; not part of the stored document.
    #[serde(default, skip_serializing)]
    pub version: i64,
    pub groups: Vec<Group>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub label: String,
    /// Label translations by locale (`fr`, `pt-BR`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub order: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Checkbox,
    Radio,
    Select,
    Multiselect,
    Email,
    Phone,
    Url,
    /// Shown to the user, never editable by them (the back office sets it).
    Static,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Checkbox => "checkbox",
            FieldType::Radio => "radio",
            FieldType::Select => "select",
            FieldType::Multiselect => "multiselect",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Static => "static",
        }
    }

    /// Radio, select and multiselect take their values from `options`.
    pub fn has_options(self) -> bool {
        matches!(
            self,
            FieldType::Radio | FieldType::Select | FieldType::Multiselect
        )
    }

    fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::Static | FieldType::Email | FieldType::Url
        )
    }
}

/// What the user may do with a field (the back office always sees every field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UserAccess {
    /// Not on the user's card, never in `flock_data`.
    Hidden,
    /// On the card, read-only.
    Read,
    /// On the card, editable (a `static` field is read-only whatever this says).
    #[default]
    Edit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Rules a value must meet. Which ones apply depends on the type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validators {
    /// A value must be given where the field is asked (registration) and can never be
    /// cleared.
    #[serde(default)]
    pub required: bool,
    /// Characters (text types), or selected options (multiselect).
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    /// Number bounds.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// A regular expression the whole text must match (text, email, phone, url, static).
    pub pattern: Option<String>,
    /// Date bounds (inclusive).
    pub date_min: Option<NaiveDate>,
    pub date_max: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub group: String,
    #[serde(default)]
    pub order: i32,
    pub placeholder: Option<String>,
    #[serde(default)]
    pub options: Vec<Choice>,
    #[serde(default)]
    pub validators: Validators,
    #[serde(default)]
    pub user_access: UserAccess,
    /// The back office may edit it (default true).
    #[serde(default = "yes")]
    pub back_office_edit: bool,
    /// Asked (accepted) at registration and one-time-code sign-up.
    #[serde(default)]
    pub at_registration: bool,
    /// In `flock_data` (the sign-in answer and `GET /user`); needs user access.
    #[serde(default)]
    pub public: bool,
    /// Exact searches by value in the back office.
    #[serde(default)]
    pub searchable: bool,
}

fn yes() -> bool {
    true
}

impl Field {
    /// The user may change it.
    pub fn user_editable(&self) -> bool {
        self.user_access == UserAccess::Edit && self.kind != FieldType::Static
    }

    /// The user sees it.
    pub fn user_visible(&self) -> bool {
        self.user_access != UserAccess::Hidden
    }

    /// Its values appear in `flock_data`.
    pub fn shown_publicly(&self) -> bool {
        self.public && self.user_visible()
    }

    /// The label in `locale` (exact, then its language), else the default.
    pub fn label_in(&self, locale: Option<&str>) -> &str {
        localised(&self.label, &self.labels, locale)
    }
}

/// `labels[locale]`, or `labels[language of locale]`, or `default`.
pub fn localised<'a>(
    default: &'a str,
    labels: &'a BTreeMap<String, String>,
    locale: Option<&str>,
) -> &'a str {
    let Some(locale) = locale else {
        return default;
    };
    let lang = locale.split(['-', '_']).next().unwrap_or(locale);
    labels
        .get(locale)
        .or_else(|| labels.get(lang))
        .map_or(default, String::as_str)
}

/// A name: 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter.
fn name_ok(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && n.len() <= 64
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn label_ok(l: &str) -> bool {
    let n = l.chars().count();
    (1..=200).contains(&n) && !l.chars().any(char::is_control)
}

/// A compiled `pattern`, anchored to the whole value, with a size limit (the regex crate
/// runs in linear time; the limit bounds its memory).
pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

impl Schema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The document is well formed: unique names, known groups, options exactly where
    /// the type takes them, validators that fit the type, bounded sizes.
    pub fn check(&self) -> Result<(), Invalid> {
        let bad = |code, field: String, message: String| Err(Invalid::at(code, field, message));
        if self.groups.len() > MAX_GROUPS {
            return bad(
                "too_many_groups",
                "groups".into(),
                format!("at most {MAX_GROUPS} groups"),
            );
        }
        if self.fields.len() > MAX_FIELDS {
            return bad(
                "too_many_fields",
                "fields".into(),
                format!("at most {MAX_FIELDS} fields"),
            );
        }
        let mut groups = HashSet::new();
        for (i, g) in self.groups.iter().enumerate() {
            let at = |f: &str| format!("groups[{i}].{f}");
            if !name_ok(&g.name) {
                return bad(
                    "invalid_name",
                    at("name"),
                    "a name is 1 to 64 of a-z, 0-9 and _, starting with a letter".into(),
                );
            }
            if !groups.insert(g.name.as_str()) {
                return bad(
                    "duplicate_name",
                    at("name"),
                    format!("group `{}` twice", g.name),
                );
            }
            if !label_ok(&g.label) || !g.labels.values().all(|l| label_ok(l)) {
                return bad(
                    "invalid_label",
                    at("label"),
                    "a label is 1 to 200 printable characters".into(),
                );
            }
        }
        let mut names = HashSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            let at = |x: &str| format!("fields[{i}].{x}");
            if !name_ok(&f.name) {
                return bad(
                    "invalid_name",
                    at("name"),
                    "a name is 1 to 64 of a-z, 0-9 and _, starting with a letter".into(),
                );
            }
            if !names.insert(f.name.as_str()) {
                return bad(
                    "duplicate_name",
                    at("name"),
                    format!("field `{}` twice", f.name),
                );
            }
            if !label_ok(&f.label) || !f.labels.values().all(|l| label_ok(l)) {
                return bad(
                    "invalid_label",
                    at("label"),
                    "a label is 1 to 200 printable characters".into(),
                );
            }
            if !groups.contains(f.group.as_str()) {
                return bad(
                    "unknown_group",
                    at("group"),
                    format!("no group `{}` in this schema", f.group),
                );
            }
            if f.placeholder
                .as_ref()
                .is_some_and(|p| p.chars().count() > 200)
            {
                return bad(
                    "invalid_placeholder",
                    at("placeholder"),
                    "a placeholder is at most 200 characters".into(),
                );
            }
            check_options(f, &at)?;
            check_validators(f, &at)?;
            if f.public && !f.user_visible() {
                return bad(
                    "invalid_visibility",
                    at("public"),
                    "a public field must be visible to the user".into(),
                );
            }
            if f.searchable && f.kind == FieldType::Multiselect {
                return bad(
                    "invalid_searchable",
                    at("searchable"),
                    "a multiselect field cannot be searched by value".into(),
                );
            }
            if f.at_registration && !f.user_editable() {
                return bad(
                    "invalid_registration",
                    at("at_registration"),
                    "only a field the user may edit is asked at registration".into(),
                );
            }
        }
        Ok(())
    }
}

fn check_options(f: &Field, at: &dyn Fn(&str) -> String) -> Result<(), Invalid> {
    if !f.kind.has_options() {
        if !f.options.is_empty() {
            return Err(Invalid::at(
                "unexpected_options",
                at("options"),
                format!("a {} field has no options", f.kind.as_str()),
            ));
        }
        return Ok(());
    }
    if f.options.is_empty() || f.options.len() > MAX_OPTIONS {
        return Err(Invalid::at(
            "invalid_options",
            at("options"),
            format!("a {} field has 1 to {MAX_OPTIONS} options", f.kind.as_str()),
        ));
    }
    let mut seen = HashSet::new();
    for o in &f.options {
        let ok = (1..=200).contains(&o.value.chars().count())
            && !o.value.chars().any(char::is_control)
            && label_ok(&o.label)
            && o.labels.values().all(|l| label_ok(l));
        if !ok || !seen.insert(o.value.as_str()) {
            return Err(Invalid::at(
                "invalid_options",
                at("options"),
                "option values are 1 to 200 printable characters, unique, each with a label",
            ));
        }
    }
    Ok(())
}

fn check_validators(f: &Field, at: &dyn Fn(&str) -> String) -> Result<(), Invalid> {
    let v = &f.validators;
    let wrong = |what: &str| {
        Err(Invalid::at(
            "invalid_validators",
            at("validators"),
            format!("{what} does not apply to a {} field", f.kind.as_str()),
        ))
    };
    let lengths =
        f.kind.is_text() || f.kind == FieldType::Phone || f.kind == FieldType::Multiselect;
    if (v.min_length.is_some() || v.max_length.is_some()) && !lengths {
        return wrong("min_length/max_length");
    }
    if (v.min.is_some() || v.max.is_some()) && f.kind != FieldType::Number {
        return wrong("min/max");
    }
    if (v.date_min.is_some() || v.date_max.is_some()) && f.kind != FieldType::Date {
        return wrong("date_min/date_max");
    }
    if v.pattern.is_some() && !(f.kind.is_text() || f.kind == FieldType::Phone) {
        return wrong("pattern");
    }
    let ordered = v.min_length.zip(v.max_length).is_none_or(|(a, b)| a <= b)
        && v.min.zip(v.max).is_none_or(|(a, b)| a <= b)
        && v.date_min.zip(v.date_max).is_none_or(|(a, b)| a <= b)
        && v.min.is_none_or(f64::is_finite)
        && v.max.is_none_or(f64::is_finite)
        && v.max_length.is_none_or(|m| m as usize <= MAX_TEXT);
    if !ordered {
        return Err(Invalid::at(
            "invalid_validators",
            at("validators"),
            format!("bounds must be finite, ordered, and lengths at most {MAX_TEXT}"),
        ));
    }
    if let Some(p) = &v.pattern {
        if p.len() > 1000 || compile(p).is_err() {
            return Err(Invalid::at(
                "invalid_pattern",
                at("validators.pattern"),
                "the pattern is not a valid regular expression (at most 1,000 characters)",
            ));
        }
    }
    Ok(())
}
