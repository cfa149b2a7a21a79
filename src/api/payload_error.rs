//! Names the field at fault when poem-openapi refuses a JSON body. Its messages say which
//! *type* failed to parse ("… occurred while parsing \"RegisterRequest\"") but not which
//! field, so the frame keeps the body and this module checks it against that type's schema
//! in the generated spec: the first missing required field, or the first field of the wrong
//! JSON type, is the one reported.
use super::spec_rules;
use serde_json::{Map, Value};

/// The schemas of a spec (`components.schemas`), by name.
pub fn schemas_of(spec_json: &str) -> Map<String, Value> {
    serde_json::from_str::<Value>(spec_json)
        .ok()
        .and_then(|v| v.pointer("/components/schemas").cloned())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Operation id → the names of its path parameters, in path order (poem-openapi reports a
/// bad path parameter by position, `param1`; this gives it its name back).
pub fn path_params_of(spec_json: &str) -> std::collections::HashMap<String, Vec<String>> {
    let mut out = std::collections::HashMap::new();
    let Ok(spec) = serde_json::from_str::<Value>(spec_json) else {
        return out;
    };
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (template, ops) in paths {
        let names: Vec<String> = template
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                out.insert(id.to_owned(), names.clone());
            }
        }
    }
    out
}

/// The JSON request bodies of the spec's operations: which schema a (method, path) takes,
/// so a body is checked against the spec's types before any handler runs (poem-openapi
/// would read `5` or `true` into a string field).
pub struct BodyRoutes {
    /// (method, path segments — `None` for a parameter, schema name), most literal first.
    routes: Vec<(String, Vec<Option<String>>, String)>,
    /// The segments of every path template, with or without a body.
    all: Vec<Vec<Option<String>>>,
}

impl BodyRoutes {
    pub fn of(spec_json: &str) -> Self {
        let (mut routes, mut all) = (Vec::new(), Vec::new());
        let spec = serde_json::from_str::<Value>(spec_json).unwrap_or_default();
        for (template, ops) in spec
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let segments: Vec<Option<String>> = template
                .split('/')
                .map(|seg| (!seg.starts_with('{')).then(|| seg.to_owned()))
                .collect();
            all.push(segments.clone());
            for (method, op) in ops.as_object().into_iter().flatten() {
                let schema = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .and_then(|c| {
                        c.iter()
                            .find(|(k, _)| k.starts_with("application/json"))
                            .map(|(_, v)| v)
                    })
                    .and_then(|c| c.pointer("/schema/$ref"))
                    .and_then(Value::as_str)
                    .and_then(|r| r.rsplit('/').next());
                if let Some(name) = schema {
                    routes.push((method.to_uppercase(), segments.clone(), name.to_owned()));
                }
            }
        }
        // A literal segment wins over a parameter (`users/by-ids` before `users/{id}`).
        routes.sort_by_key(|r| std::cmp::Reverse(r.1.iter().filter(|s| s.is_some()).count()));
        Self { routes, all }
    }

    /// The schema of the JSON body `method path` takes, if any: on the most literal
    /// template the path matches, as the router picks it (`users/by-ids` is never
    /// `users/{user_id}`, whatever the method).
    pub fn schema(&self, method: &str, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').collect();
        let matches = |segs: &Vec<Option<String>>| {
            segs.len() == parts.len()
                && segs.iter().zip(&parts).all(|(s, p)| match s {
                    Some(lit) => lit == p,
                    None => !p.is_empty(),
                })
        };
        let literal = |segs: &Vec<Option<String>>| segs.iter().filter(|s| s.is_some()).count();
        let best = self
            .all
            .iter()
            .filter(|segs| matches(segs))
            .map(literal)
            .max()?;
        self.routes
            .iter()
            .find(|(m, segs, _)| m == method && literal(segs) == best && matches(segs))
            .map(|r| r.2.as_str())
    }
}

/// The type named in a poem-openapi parse message.
pub fn type_name(reason: &str) -> Option<&str> {
    let start = reason.rfind("occurred while parsing \"")? + "occurred while parsing \"".len();
    let rest = &reason[start..];
    Some(&rest[..rest.find('"')?])
}

/// (field, message) for `body` against schema `name`.
pub fn locate(schemas: &Map<String, Value>, name: &str, body: &Value) -> Option<(String, String)> {
    check_object(schemas, schemas.get(name)?, body, "", 0)
}

fn resolve<'a>(schemas: &'a Map<String, Value>, schema: &'a Value) -> &'a Value {
    // A property may be a bare `$ref` or `allOf: [{$ref}]` (poem-openapi adds docs that way).
    let r = schema.get("$ref").or_else(|| {
        schema
            .get("allOf")
            .and_then(|a| a.get(0))
            .and_then(|f| f.get("$ref"))
    });
    r.and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .and_then(|n| schemas.get(n))
        .unwrap_or(schema)
}

fn check_object(
    schemas: &Map<String, Value>,
    schema: &Value,
    body: &Value,
    prefix: &str,
    depth: usize,
) -> Option<(String, String)> {
    if depth > 4 {
        return None;
    }
    let schema = resolve(schemas, schema);
    let Some(obj) = body.as_object() else {
        let at = if prefix.is_empty() {
            "the body"
        } else {
            prefix
        };
        return Some((prefix.to_owned(), format!("{at} must be a JSON object")));
    };
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let path = |f: &str| {
        if prefix.is_empty() {
            f.to_owned()
        } else {
            format!("{prefix}.{f}")
        }
    };
    for req in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if obj.get(req).is_none_or(Value::is_null) {
            return Some((path(req), format!("`{}` is required", path(req))));
        }
    }
    for (key, value) in obj {
        let Some(prop) = props.get(key) else {
            return Some((path(key), format!("unknown field `{}`", path(key))));
        };
        if value.is_null() {
            // Null stands for "absent" only where the spec says the field is nullable; a
            // field naming another schema (an enum, an object) is left out instead.
            let names_a_schema = prop.get("$ref").is_some() || prop.get("allOf").is_some();
            if !names_a_schema || prop.get("nullable").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            return Some((
                path(key),
                format!("`{}` must not be null (leave it out instead)", path(key)),
            ));
        }
        let prop = resolve(schemas, prop);
        let want = prop.get("type").and_then(Value::as_str);
        if want == Some("object") && prop.get("properties").is_some() {
            if let Some(found) = check_object(schemas, prop, value, &path(key), depth + 1) {
                return Some(found);
            }
        }
        if let Some(what) = mismatch(prop, value) {
            return Some((path(key), format!("`{}` must be {what}", path(key))));
        }
        if let Some(what) = constraint(prop, value) {
            return Some((path(key), format!("`{}` {what}", path(key))));
        }
        if let (Some("object"), None, Some(values), Some(map)) = (
            want,
            prop.get("properties"),
            prop.get("additionalProperties").filter(|v| v.is_object()),
            value.as_object(),
        ) {
            let values = resolve(schemas, values);
            for (k, v) in map {
                let at = format!("{}.{k}", path(key));
                if let Some(what) = mismatch(values, v) {
                    return Some((at.clone(), format!("`{at}` must be {what}")));
                }
                if let Some(what) = constraint(values, v) {
                    return Some((at.clone(), format!("`{at}` {what}")));
                }
            }
        }
        if let (Some("array"), Some(items), Some(list)) =
            (want, prop.get("items"), value.as_array())
        {
            let items = resolve(schemas, items);
            for (i, item) in list.iter().enumerate() {
                if items.get("properties").is_some() {
                    let at = format!("{}[{i}]", path(key));
                    if let Some(found) = check_object(schemas, items, item, &at, depth + 1) {
                        return Some(found);
                    }
                }
                if let Some(what) = mismatch(items, item) {
                    let at = format!("{}[{i}]", path(key));
                    return Some((path(key), format!("`{at}` must be {what}")));
                }
                if let Some(what) = constraint(items, item) {
                    let at = format!("{}[{i}]", path(key));
                    return Some((path(key), format!("`{at}` {what}")));
                }
            }
        }
        if let Some(allowed) = prop.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                return Some((
                    path(key),
                    format!("`{}` has a value that is not allowed", path(key)),
                ));
            }
        }
    }
    None
}

/// The spec's limits `value` breaks (lengths, pattern, bounds, the range of an integer
/// format, the number of items), as the end of a sentence about the field.
fn constraint(schema: &Value, value: &Value) -> Option<String> {
    let num = |k: &str| schema.get(k).and_then(Value::as_f64);
    match value {
        Value::String(text) => {
            let n = text.chars().count() as f64;
            if let Some(max) = num("maxLength").filter(|m| n > *m) {
                return Some(format!("must be at most {max} characters"));
            }
            if let Some(min) = num("minLength").filter(|m| n < *m) {
                return Some(format!("must be at least {min} characters"));
            }
            let pattern = schema.get("pattern").and_then(Value::as_str)?;
            if matches_pattern(pattern, text) {
                return None;
            }
            Some(match pattern {
                spec_rules::SINGLE_LINE => {
                    "must not contain control characters (NUL, tab, line breaks …)".to_owned()
                }
                spec_rules::MULTI_LINE => {
                    "must not contain control characters other than tab and line breaks".to_owned()
                }
                spec_rules::PASSWORD => "must not contain NUL".to_owned(),
                p => format!("must match the pattern `{p}`"),
            })
        }
        Value::Number(n) => {
            let (min, max) = format_range(schema.get("format").and_then(Value::as_str));
            let low = [num("minimum"), min].into_iter().flatten().reduce(f64::max);
            let high = [num("maximum"), max].into_iter().flatten().reduce(f64::min);
            let v = n.as_f64()?;
            match (low, high) {
                (Some(l), Some(h)) if v < l || v > h => Some(format!("must be from {l} to {h}")),
                (Some(l), None) if v < l => Some(format!("must be at least {l}")),
                (None, Some(h)) if v > h => Some(format!("must be at most {h}")),
                _ => None,
            }
        }
        Value::Array(list) => {
            let n = list.len() as f64;
            if let Some(max) = num("maxItems").filter(|m| n > *m) {
                return Some(format!("must have at most {max} items"));
            }
            if let Some(min) = num("minItems").filter(|m| n < *m) {
                return Some(format!("must have at least {min} items"));
            }
            None
        }
        _ => None,
    }
}

/// The values an integer format holds.
fn format_range(format: Option<&str>) -> (Option<f64>, Option<f64>) {
    match format {
        Some("uint8") => (Some(0.0), Some(255.0)),
        Some("uint16") => (Some(0.0), Some(65_535.0)),
        Some("uint32") => (Some(0.0), Some(4_294_967_295.0)),
        Some("uint64") => (Some(0.0), None),
        Some("int8") => (Some(-128.0), Some(127.0)),
        Some("int16") => (Some(-32_768.0), Some(32_767.0)),
        Some("int32") => (Some(-2_147_483_648.0), Some(2_147_483_647.0)),
        _ => (None, None),
    }
}

/// Whether `text` matches the spec's `pattern` (compiled once per pattern; a pattern that
/// does not compile matches everything, and the spec test catches it).
fn matches_pattern(pattern: &str, text: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{Arc, OnceLock, RwLock};
    static CACHE: OnceLock<RwLock<HashMap<String, Option<Arc<regex::Regex>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let known = cache
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(pattern)
        .cloned();
    let re = known.unwrap_or_else(|| {
        let re = regex::Regex::new(pattern).ok().map(Arc::new);
        cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pattern.to_owned(), re.clone());
        re
    });
    re.is_none_or(|r| r.is_match(text))
}

/// A JSON body read once: its value, or `Err(Some(path))` for the first key that appears
/// twice in one object (serde would keep the last one, while a proxy or firewall may read
/// the first), or `Err(None)` when it is not JSON at all.
pub fn read_body(body: &[u8]) -> Result<Value, Option<String>> {
    use serde::de::DeserializeSeed;
    let dup = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    match Strict(&dup)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
    {
        Ok(v) => Ok(v),
        Err(_) => Err(dup.into_inner()),
    }
}

/// Builds a value; on a repeated key it fails, leaving the key's path in the cell (each
/// enclosing object or list prefixes its part as the error unwinds, so no path is built
/// unless one is needed).
#[derive(Clone, Copy)]
struct Strict<'a>(&'a std::cell::RefCell<Option<String>>);

impl Strict<'_> {
    fn prefix(&self, part: &str) {
        if let Some(p) = self.0.borrow_mut().as_mut() {
            let sep = if p.starts_with('[') { "" } else { "." };
            *p = format!("{part}{sep}{p}");
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict<'_> {
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
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    self.prefix(&format!("[{}]", out.len()));
                    return Err(e);
                }
            }
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                *self.0.borrow_mut() = Some(key);
                return Err(serde::de::Error::custom("duplicate key"));
            }
            match map.next_value_seed(self) {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(e) => {
                    self.prefix(&key);
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Which methods the spec has for a concrete path (for `Allow` on a 405).
pub struct PathMethods {
    routes: Vec<(Vec<Option<String>>, Vec<String>)>,
}

impl PathMethods {
    pub fn of(spec_json: &str) -> Self {
        let spec = serde_json::from_str::<Value>(spec_json).unwrap_or_default();
        let routes = spec
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(template, ops)| {
                let segments = template
                    .split('/')
                    .map(|seg| (!seg.starts_with('{')).then(|| seg.to_owned()))
                    .collect();
                let methods = ops
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .map(|m| m.to_uppercase())
                    .collect();
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods of the template `path` is routed to (the most literal one it matches:
    /// `files/order` before `files/{file_id}`), sorted.
    pub fn allowed(&self, path: &str) -> Vec<String> {
        let parts: Vec<&str> = path.split('/').collect();
        let matching: Vec<_> = self
            .routes
            .iter()
            .filter(|(segs, _)| {
                segs.len() == parts.len()
                    && segs.iter().zip(&parts).all(|(s, p)| match s {
                        Some(lit) => lit == p,
                        None => !p.is_empty(),
                    })
            })
            .map(|(segs, m)| (segs.iter().filter(|s| s.is_some()).count(), m))
            .collect();
        let best = matching.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let mut out: Vec<String> = matching
            .into_iter()
            .filter(|(n, _)| *n == best)
            .flat_map(|(_, m)| m.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What `value` should have been under `schema` (its type and format), if it is not.
fn mismatch(schema: &Value, value: &Value) -> Option<String> {
    let want = schema.get("type").and_then(Value::as_str)?;
    let ok = match want {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !ok {
        return Some(format!("a {want}"));
    }
    let (Some(format), Some(text)) = (schema.get("format").and_then(Value::as_str), value.as_str())
    else {
        return None;
    };
    let ok = match format {
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        _ => true,
    };
    (!ok).then(|| format!("a {format}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> Map<String, Value> {
        json!({
            "Req": {"type": "object", "required": ["email", "n"], "properties": {
                "email": {"type": "string"}, "n": {"type": "integer"},
                "s": {"allOf": [{"$ref": "#/components/schemas/Sub"}]}}},
            "Sub": {"type": "object", "properties": {"k": {"type": "boolean"}}},
            "Ids": {"type": "object", "properties": {
                "ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                "pairs": {"type": "array", "items": {"$ref": "#/components/schemas/Sub"}}}}
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn a_repeated_key_is_named_by_its_path_and_a_clean_body_reads_whole() {
        let dup = |b: &str| read_body(b.as_bytes()).err().flatten();
        assert_eq!(dup(r#"{"a":1,"a":2}"#), Some("a".into()));
        assert_eq!(
            dup(r#"{"s":{"otp":{"length":6,"length":4}}}"#),
            Some("s.otp.length".into())
        );
        assert_eq!(
            dup(r#"{"l":[{"k":1},{"k":1,"k":2}]}"#),
            Some("l[1].k".into())
        );
        assert_eq!(read_body(b"not json"), Err(None));
        assert_eq!(read_body(b"{} trailing"), Err(None));
        let body = r#"{"a":[1,"x",{"b":null}],"c":true}"#;
        assert_eq!(
            read_body(body.as_bytes()).ok(),
            serde_json::from_str(body).ok()
        );
    }

    #[test]
    fn finds_missing_wrong_typed_and_nested_fields() {
        let s = schemas();
        assert_eq!(
            locate(&s, "Req", &json!({"n": 1})).map(|f| f.0),
            Some("email".into())
        );
        assert_eq!(
            locate(&s, "Req", &json!({"email": "a", "n": "x"})).map(|f| f.0),
            Some("n".into())
        );
        assert_eq!(
            locate(&s, "Req", &json!({"email": "a", "n": 1, "s": {"k": 3}})).map(|f| f.0),
            Some("s.k".into())
        );
        let bad_id = locate(&s, "Ids", &json!({"ids": [uuid::Uuid::nil(), "x"]}));
        assert_eq!(bad_id.map(|f| f.0), Some("ids".into()));
        let bad_pair = locate(&s, "Ids", &json!({"pairs": [{"k": true}, {"k": "no"}]}));
        assert_eq!(bad_pair.map(|f| f.0), Some("pairs[1].k".into()));
        assert_eq!(
            locate(&s, "Ids", &json!({"ids": [uuid::Uuid::nil()]})),
            None
        );
        assert_eq!(
            type_name(r#"x (occurred while parsing "Req")"#),
            Some("Req")
        );
    }
}
