//! Field values: typed JSON checked against a field's type and validators, normalised
//! the way the rest of Fold normalises (emails lowercase, phones E.164), with the key an
//! exact search compares.
use super::schema::{compile, Field, FieldType, MAX_TEXT};
use crate::domain::user::{Email, Phone};
use chrono::NaiveDate;
use serde_json::Value;

/// A value as stored: its JSON and its search key (None where it has none: a list).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub value: Value,
    pub key: Option<String>,
}

/// Why a value was refused: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> ValueError {
    ValueError {
        code,
        message: message.into(),
    }
}

/// The longest search key; a longer text value is stored but not searchable by value.
const MAX_KEY: usize = 255;

fn key_of(s: &str) -> Option<String> {
    (s.len() <= MAX_KEY).then(|| s.to_owned())
}

/// `value` for `field`: `Ok(None)` clears it (refused when required).
pub fn check(field: &Field, value: &Value) -> Result<Option<Checked>, ValueError> {
    let v = &field.validators;
    if value.is_null() {
        if v.required {
            return Err(refuse(
                "field_required",
                format!("`{}` is required", field.name),
            ));
        }
        return Ok(None);
    }
    let text = |what: &str| {
        value
            .as_str()
            .ok_or_else(|| refuse("invalid_type", format!("`{}` takes {what}", field.name)))
    };
    let checked = match field.kind {
        FieldType::Text | FieldType::Static => {
            let s = text("a string")?;
            if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(refuse("invalid_text", "control characters are not allowed"));
            }
            lengths(field, s.chars().count())?;
            pattern(field, s)?;
            if s.is_empty() && v.required {
                return Err(refuse(
                    "field_required",
                    format!("`{}` is required", field.name),
                ));
            }
            Checked {
                value: Value::String(s.to_owned()),
                key: key_of(s),
            }
        }
        FieldType::Email => {
            let e = Email::parse(text("an email address")?)
                .map_err(|_| refuse("invalid_email", "not a valid email address"))?;
            pattern(field, e.as_str())?;
            lengths(field, e.as_str().chars().count())?;
            Checked {
                value: Value::String(e.as_str().to_owned()),
                key: key_of(e.as_str()),
            }
        }
        FieldType::Phone => {
            let p = Phone::parse(text("a phone number")?)
                .map_err(|_| refuse("invalid_phone", "not a phone number in E.164 (+…)"))?;
            pattern(field, p.as_str())?;
            lengths(field, p.as_str().chars().count())?;
            Checked {
                value: Value::String(p.as_str().to_owned()),
                key: key_of(p.as_str()),
            }
        }
        FieldType::Url => {
            let s = text("a URL")?;
            let ok = s.len() <= 2048
                && url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(refuse(
                    "invalid_url",
                    "an http(s) URL of at most 2,048 characters",
                ));
            }
            pattern(field, s)?;
            lengths(field, s.chars().count())?;
            Checked {
                value: Value::String(s.to_owned()),
                key: key_of(s),
            }
        }
        FieldType::Number => {
            let n = value.as_f64().filter(|n| n.is_finite()).ok_or_else(|| {
                refuse("invalid_type", format!("`{}` takes a number", field.name))
            })?;
            if v.min.is_some_and(|m| n < m) || v.max.is_some_and(|m| n > m) {
                return Err(refuse(
                    "out_of_range",
                    format!("between {} and {}", show(v.min), show(v.max)),
                ));
            }
            Checked {
                value: number_value(n),
                key: Some(number_key(n)),
            }
        }
        FieldType::Date => {
            let s = text("a date (YYYY-MM-DD)")?;
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| refuse("invalid_date", "a date is YYYY-MM-DD"))?;
            if v.date_min.is_some_and(|m| d < m) || v.date_max.is_some_and(|m| d > m) {
                return Err(refuse(
                    "out_of_range",
                    "the date is outside the allowed range",
                ));
            }
            let s = d.format("%Y-%m-%d").to_string();
            Checked {
                value: Value::String(s.clone()),
                key: Some(s),
            }
        }
        FieldType::Checkbox => {
            let b = value.as_bool().ok_or_else(|| {
                refuse(
                    "invalid_type",
                    format!("`{}` takes true or false", field.name),
                )
            })?;
            if v.required && !b {
                return Err(refuse(
                    "field_required",
                    format!("`{}` must be checked", field.name),
                ));
            }
            Checked {
                value: Value::Bool(b),
                key: Some(b.to_string()),
            }
        }
        FieldType::Radio | FieldType::Select => {
            let s = text("one of its options")?;
            option(field, s)?;
            Checked {
                value: Value::String(s.to_owned()),
                key: key_of(s),
            }
        }
        FieldType::Multiselect => {
            let list = value.as_array().ok_or_else(|| {
                refuse(
                    "invalid_type",
                    format!("`{}` takes a list of options", field.name),
                )
            })?;
            let mut picked: Vec<&str> = Vec::with_capacity(list.len());
            for item in list {
                let s = item
                    .as_str()
                    .ok_or_else(|| refuse("invalid_type", "each selected option is a string"))?;
                option(field, s)?;
                if picked.contains(&s) {
                    return Err(refuse(
                        "duplicate_option",
                        format!("`{s}` is selected twice"),
                    ));
                }
                picked.push(s);
            }
            lengths(field, picked.len())?;
            if picked.is_empty() && v.required {
                return Err(refuse(
                    "field_required",
                    format!("`{}` is required", field.name),
                ));
            }
            Checked {
                value: Value::Array(picked.iter().map(|s| Value::String((*s).into())).collect()),
                key: None,
            }
        }
    };
    Ok(Some(checked))
}

/// A number as stored: an integer when it is whole (`12`, not `12.0`).
fn number_value(n: f64) -> Value {
    if n == n.trunc() && n.abs() < 1e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// A stored value carried over to a field's new type where nothing is lost: text that
/// reads as a number becomes the number, a number or boolean becomes its text, `"true"`
/// and `"false"` become booleans, one option becomes a list of one and back. Anything
/// else is left as it is (and the new definition's check decides).
pub fn coerce(field: &Field, value: &Value) -> Value {
    match (field.kind, value) {
        (FieldType::Number, Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => number_value(n),
            _ => value.clone(),
        },
        (FieldType::Checkbox, Value::String(s)) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value.clone(),
        },
        (FieldType::Multiselect, Value::String(_)) => Value::Array(vec![value.clone()]),
        (FieldType::Multiselect | FieldType::Number | FieldType::Checkbox, _) => value.clone(),
        (_, Value::Number(n)) => n
            .as_f64()
            .map_or(value.clone(), |f| Value::String(number_key(f))),
        (_, Value::Bool(b)) => Value::String(b.to_string()),
        (_, Value::Array(a)) if a.len() == 1 && a[0].is_string() => a[0].clone(),
        _ => value.clone(),
    }
}

/// The search key of a number: the shortest text that reads back as the same number
/// (`3`, `3.5`, `-0.25`), so `3` and `3.0` find each other.
pub fn number_key(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// The key a search for `raw` compares, by the field's type; None when `raw` could
/// never be a value of it (so nothing matches).
pub fn search_key(field: &Field, raw: &str) -> Option<String> {
    match field.kind {
        FieldType::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(number_key),
        FieldType::Checkbox => match raw {
            "true" | "false" => Some(raw.to_owned()),
            _ => None,
        },
        FieldType::Email => Email::parse(raw).ok().map(|e| e.as_str().to_owned()),
        FieldType::Phone => Phone::parse(raw).ok().map(|p| p.as_str().to_owned()),
        FieldType::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .map(|d| d.format("%Y-%m-%d").to_string()),
        _ => key_of(raw),
    }
}

fn show(b: Option<f64>) -> String {
    b.map_or("any".into(), |v| v.to_string())
}

fn lengths(field: &Field, n: usize) -> Result<(), ValueError> {
    let v = &field.validators;
    let max = v.max_length.map_or(MAX_TEXT, |m| m as usize);
    if v.min_length.is_some_and(|m| n < m as usize) || n > max {
        let unit = if field.kind == FieldType::Multiselect {
            "options"
        } else {
            "characters"
        };
        return Err(refuse(
            "invalid_length",
            format!("between {} and {max} {unit}", v.min_length.unwrap_or(0)),
        ));
    }
    Ok(())
}

fn pattern(field: &Field, s: &str) -> Result<(), ValueError> {
    match field.validators.pattern.as_deref().map(compile) {
        Some(Ok(re)) if !re.is_match(s) => Err(refuse(
            "pattern_mismatch",
            format!("`{}` does not have the expected form", field.name),
        )),
        _ => Ok(()),
    }
}

fn option(field: &Field, s: &str) -> Result<(), ValueError> {
    if field.options.iter().any(|o| o.value == s) {
        Ok(())
    } else {
        Err(refuse(
            "unknown_option",
            format!("`{s}` is not an option of `{}`", field.name),
        ))
    }
}
