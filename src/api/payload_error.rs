//! Names the field at fault when poem-openapi refuses a JSON body. Its messages say which
//! *type* failed to parse ("… occurred while parsing \"RegisterRequest\"") but not which
//! field, so the frame keeps the body and this module checks it against that type's schema
//! in the generated spec: the first missing required field, or the first field of the wrong
//! JSON type, is the one reported.
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
}

impl BodyRoutes {
    pub fn of(spec_json: &str) -> Self {
        let mut routes = Vec::new();
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
        Self { routes }
    }

    /// The schema of the JSON body `method path` takes, if any.
    pub fn schema(&self, method: &str, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .find(|(m, segs, _)| {
                m == method
                    && segs.len() == parts.len()
                    && segs.iter().zip(&parts).all(|(s, p)| match s {
                        Some(lit) => lit == p,
                        None => !p.is_empty(),
                    })
            })
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
        let prop = resolve(schemas, prop);
        if value.is_null() {
            continue;
        }
        let want = prop.get("type").and_then(Value::as_str);
        if want == Some("object") && prop.get("properties").is_some() {
            if let Some(found) = check_object(schemas, prop, value, &path(key), depth + 1) {
                return Some(found);
            }
        }
        if let Some(what) = mismatch(prop, value) {
            return Some((path(key), format!("`{}` must be {what}", path(key))));
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
