//! The shapes client generators need, written into the spec after poem-openapi:
//!
//! - `servers` is the deployment's `http.public_url`; `info.contact` is set;
//! - a documented reference is `allOf: [{$ref}]` with the description beside it (poem
//!   writes `allOf: [{$ref}, {description}]`, which generators read as an intersection
//!   with an empty object and then fail on enums: "Cannot take allOf a non-object");
//! - a `$ref` has no siblings (a `nullable` beside a `$ref` means nothing in OpenAPI 3.0);
//! - a repeated query parameter is optional (an absent one is an empty list);
//! - response header names are in their usual case (`Retry-After`, not `RETRY-AFTER`);
//! - cookie mode is a security scheme (`CookieAuth`): every operation a bearer token opens
//!   also opens with the session cookie (and `X-CSRF-Token` on state-changing requests).
use super::security::{CSRF_HEADER, SESSION_COOKIE};
use serde_json::{json, Map, Value};

/// Applies every shape rule to the parsed spec.
pub fn apply(doc: &mut Value, server: &str) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    root.insert(
        "servers".into(),
        json!([{"url": server, "description": "This deployment (`http.public_url`)."}]),
    );
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        info.insert(
            "contact".into(),
            json!({"name": "Fold maintainers", "url": format!("{server}/docs")}),
        );
    }
    plain_references(doc);
    optional_lists(doc);
    header_case(doc);
    cookie_scheme(doc);
}

/// `allOf: [{$ref}, {description}]` → `allOf: [{$ref}]` (the description is already beside
/// it, or moves there), and no keyword beside a bare `$ref` but the reference.
fn plain_references(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(parts)) = m.get_mut("allOf") {
                let mut described = None;
                parts.retain(|p| match p.as_object() {
                    Some(o) if o.len() == 1 && o.contains_key("description") => {
                        described = o.get("description").cloned();
                        false
                    }
                    _ => true,
                });
                if let Some(d) = described {
                    m.entry("description").or_insert(d);
                }
            }
            if m.contains_key("$ref") {
                m.retain(|k, _| k == "$ref");
            }
            m.values_mut().for_each(plain_references);
        }
        Value::Array(a) => a.iter_mut().for_each(plain_references),
        _ => {}
    }
}

/// A repeated query parameter (`?status=a&status=b`) may be left out: the server reads
/// no value as an empty list (poem-openapi marks it required).
fn optional_lists(doc: &mut Value) {
    for param in operations(doc)
        .filter_map(|op| op.get_mut("parameters"))
        .filter_map(Value::as_array_mut)
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        let list = param.get("in").and_then(Value::as_str) == Some("query")
            && param
                .get("schema")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                == Some("array");
        if list {
            param.insert("required".into(), Value::Bool(false));
        }
    }
}

/// `RETRY-AFTER` → `Retry-After` in every response's `headers`.
fn header_case(doc: &mut Value) {
    for response in operations(doc)
        .filter_map(|op| op.get_mut("responses"))
        .filter_map(Value::as_object_mut)
        .flat_map(|r| r.values_mut())
    {
        if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
            let renamed: Map<String, Value> = std::mem::take(headers)
                .into_iter()
                .map(|(k, v)| (canonical(&k), v))
                .collect();
            *headers = renamed;
        }
    }
}

/// `RETRY-AFTER` → `Retry-After`; `X-CSRF-TOKEN` → `X-Csrf-Token`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Declares `CookieAuth` and offers it wherever a bearer scheme (`UserAuth`,
/// `ManagerAuth`) is offered.
fn cookie_scheme(doc: &mut Value) {
    if let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut)
    {
        schemes.insert(
            "CookieAuth".into(),
            json!({
                "type": "apiKey",
                "in": "cookie",
                "name": SESSION_COOKIE,
                "description": format!(
                    "Cookie mode for browser portals: the session cookie set by \
                     `POST /api/v1/{{flock}}/token/cookie` stands for the bearer token. A \
                     state-changing request must also send the CSRF cookie's value in \
                     `{CSRF_HEADER}`."
                ),
            }),
        );
    }
    for op in operations(doc) {
        let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) else {
            continue;
        };
        let bearer = security
            .iter()
            .any(|r| r.get("UserAuth").is_some() || r.get("ManagerAuth").is_some());
        if bearer && !security.iter().any(|r| r.get("CookieAuth").is_some()) {
            security.push(json!({"CookieAuth": []}));
        }
    }
}

/// Every operation object of the spec.
pub(super) fn operations(doc: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|p| p.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_take_their_usual_case() {
        assert_eq!(canonical("RETRY-AFTER"), "Retry-After");
        assert_eq!(canonical("SET-COOKIE"), "Set-Cookie");
        assert_eq!(canonical("x-request-id"), "X-Request-Id");
    }

    #[test]
    fn a_documented_reference_becomes_a_plain_one() {
        let mut v = json!({"properties": {"status": {
            "description": "d",
            "allOf": [{"$ref": "#/components/schemas/S"}, {"description": "d"}],
        }, "kind": {"$ref": "#/components/schemas/K", "nullable": true}}});
        plain_references(&mut v);
        assert_eq!(
            v,
            json!({"properties": {"status": {
                "description": "d", "allOf": [{"$ref": "#/components/schemas/S"}],
            }, "kind": {"$ref": "#/components/schemas/K"}}})
        );
    }
}
