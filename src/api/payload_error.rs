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
        let ok = match want {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("array") => value.is_array(),
            Some("object") => {
                if prop.get("properties").is_some() {
                    if let Some(found) = check_object(schemas, prop, value, &path(key), depth + 1) {
                        return Some(found);
                    }
                }
                value.is_object()
            }
            _ => true,
        };
        if !ok {
            let what = want.unwrap_or("value");
            return Some((path(key), format!("`{}` must be a {what}", path(key))));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> Map<String, Value> {
        json!({
            "Req": {"type": "object", "required": ["email", "n"], "properties": {
                "email": {"type": "string"}, "n": {"type": "integer"},
                "s": {"allOf": [{"$ref": "#/components/schemas/Sub"}]}}},
            "Sub": {"type": "object", "properties": {"k": {"type": "boolean"}}}
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
        assert_eq!(
            type_name(r#"x (occurred while parsing "Req")"#),
            Some("Req")
        );
    }
}
