//! The rules every JSON request body follows, written into the spec once so the spec says
//! what the server enforces (the frame checks bodies against the spec itself):
//!
//! - every free-text string refuses control characters: [`SINGLE_LINE`] unless its field
//!   declares its own pattern ([`MULTI_LINE`] for text that may span lines, [`PASSWORD`]
//!   for secrets, which refuse only NUL); the string values of a free map (mail
//!   templates) are [`MULTI_LINE`];
//! - every object refuses unknown fields (`additionalProperties: false`);
//! - an operation that takes no credential has `security: []`;
//! - an optional property of a plain type may be `null` (`nullable: true`): read as
//!   absent, or as "clear" where a PATCH says so; an optional property that names another
//!   schema (an enum, an object) is left out rather than null (OpenAPI 3.0 has no nullable
//!   reference that generators agree on), and the frame refuses null there.
//!
//! The shapes client generators need (servers, the cookie scheme, plain references) are
//! in [`super::spec_shape`].
//!
//! Applied to the schemas reachable from a JSON request body (response-only schemas are
//! left as they are; a schema shared by both gets the rules, which its values already
//! meet since they were accepted by them).
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One line of text: no C0 control character (tab and newlines included) and no DEL.
pub const SINGLE_LINE: &str = r"^[^\u0000-\u001F\u007F]*$";
/// Text that may span lines: tab, line feed and carriage return allowed; other C0
/// controls and DEL refused.
pub const MULTI_LINE: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$";
/// A password or another secret the user types: anything but NUL.
pub const PASSWORD: &str = r"^[^\u0000]*$";

/// Formats whose values are checked by their format, not by a pattern.
const FORMATTED: &[&str] = &["uuid", "date-time", "date", "naive-date", "binary", "bytes"];

/// The spec with the request-body rules and the generator shapes applied (pretty JSON, as
/// committed), for a deployment at `server` (`http.public_url`).
pub fn apply(spec: &str, server: &str) -> String {
    // poem-openapi writes a path twice when two API groups share it (a GET in one, a
    // POST in another); read as JSON the second would hide the first, so merge them.
    let Ok(Merged(mut doc)) = serde_json::from_str::<Merged>(spec) else {
        return spec.to_owned();
    };
    // An operation that takes no credential says so (`security: []`), so linters and
    // generators need not guess whether it inherits a scheme.
    for op in super::spec_shape::operations(&mut doc) {
        op.entry("security")
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    let mut names = BTreeSet::new();
    for op in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
        .filter_map(Value::as_object)
        .flat_map(|ops| ops.values())
    {
        let content = op
            .pointer("/requestBody/content")
            .and_then(Value::as_object);
        for (ty, media) in content.into_iter().flatten() {
            if ty.starts_with("application/json") {
                if let Some(schema) = media.get("schema") {
                    refs_of(schema, &mut names);
                }
            }
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        // Close over the schemas a request schema refers to.
        let mut todo: Vec<String> = names.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            let mut found = BTreeSet::new();
            if let Some(s) = schemas.get(&name) {
                refs_of(s, &mut found);
            }
            for f in found {
                if names.insert(f.clone()) {
                    todo.push(f);
                }
            }
        }
        for name in &names {
            if let Some(s) = schemas.get_mut(name) {
                harden(s);
            }
        }
    }
    super::spec_shape::apply(&mut doc, server);
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned());
    out.push('\n');
    out
}

/// A JSON value whose objects merge repeated keys (deeply) instead of keeping the last.
struct Merged(Value);

impl<'de> serde::Deserialize<'de> for Merged {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MergedVisitor).map(Merged)
    }
}

struct MergedVisitor;

impl<'de> serde::de::Visitor<'de> for MergedVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Merged(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some((k, Merged(v))) = map.next_entry::<String, Merged>()? {
            match (out.get_mut(&k), v) {
                (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                (_, v) => {
                    out.insert(k, v);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// The component names `schema` refers to (at any depth).
fn refs_of(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                if let Some(n) = r.strip_prefix("#/components/schemas/") {
                    out.insert(n.to_owned());
                }
            }
            m.values().for_each(|v| refs_of(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs_of(v, out)),
        _ => {}
    }
}

/// The rules on one schema and the inline schemas inside it.
fn harden(schema: &mut Value) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    if m.contains_key("$ref") {
        return;
    }
    match m.get("type").and_then(Value::as_str) {
        Some("string") => text_rule(m),
        Some("object") if m.contains_key("properties") => {
            if !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            // A property of a plain type that may be left out may also be null: the server
            // reads null as absent (and, where a PATCH says so, as "clear"). A reference
            // stays a plain reference (no `nullable` beside `$ref` or `allOf`).
            let required: BTreeSet<String> = m
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if let Some(props) = m.get_mut("properties").and_then(Value::as_object_mut) {
                for (name, prop) in props.iter_mut() {
                    if let (false, Some(p)) = (required.contains(name), prop.as_object_mut()) {
                        if p.contains_key("type") {
                            p.insert("nullable".into(), Value::Bool(true));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    for key in ["properties"] {
        if let Some(props) = m.get_mut(key).and_then(Value::as_object_mut) {
            props.values_mut().for_each(harden);
        }
    }
    if let Some(v) = m.get_mut("items") {
        harden(v);
    }
    if let Some(v) = m.get_mut("additionalProperties") {
        // The values of a free map (mail templates by name) are text that may span lines.
        if let Some(values) = v.as_object_mut() {
            if values.get("type").and_then(Value::as_str) == Some("string")
                && !values.contains_key("pattern")
            {
                values.insert("pattern".into(), Value::String(MULTI_LINE.into()));
            }
        }
        harden(v);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(harden);
        }
    }
}

fn text_rule(m: &mut Map<String, Value>) {
    let formatted = m
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| FORMATTED.contains(&f));
    if formatted || m.contains_key("enum") || m.contains_key("pattern") {
        return;
    }
    m.insert("pattern".into(), Value::String(SINGLE_LINE.into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn patterns_compile_and_mean_what_they_say() {
        let single = regex::Regex::new(SINGLE_LINE).unwrap();
        let multi = regex::Regex::new(MULTI_LINE).unwrap();
        let password = regex::Regex::new(PASSWORD).unwrap();
        assert!(single.is_match("Ann Lee — café"));
        assert!(!single.is_match("a\u{0}b") && !single.is_match("a\nb"));
        assert!(multi.is_match("line one\nline two\r\n\tend"));
        assert!(!multi.is_match("a\u{0}b") && !multi.is_match("a\u{7}b"));
        assert!(password.is_match("tab\tand\nnewline ok"));
        assert!(!password.is_match("nul\u{0}byte"));
    }
}
