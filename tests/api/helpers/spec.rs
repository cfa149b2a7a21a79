//! Reading the committed spec in tests: example bodies that pass validation.
use reqwest::Method;
use serde_json::{json, Value};

/// A minimal valid JSON value of `schema` (its required fields, the first enum value, one
/// item of a non-empty array), so an operation gets past body validation and answers
/// for the ids in its path.
pub fn example(spec: &Value, schema: &Value) -> Value {
    let resolve = |s: &Value| -> Value {
        let r = s.get("$ref").or_else(|| {
            s.get("allOf")
                .and_then(|a| a.get(0))
                .and_then(|f| f.get("$ref"))
        });
        match r.and_then(Value::as_str) {
            Some(r) => spec["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
            None => s.clone(),
        }
    };
    let schema = resolve(schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut out = serde_json::Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                out.insert(name.into(), example(spec, &schema["properties"][name]));
            }
            Value::Object(out)
        }
        Some("array") => json!([example(spec, &schema["items"])]),
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(false),
        Some("string") if schema["format"] == "uuid" => json!(uuid::Uuid::nil()),
        Some("string") if schema["format"] == "date-time" => json!("2026-01-01T00:00:00Z"),
        Some("string") if schema["format"] == "date" => json!("2026-01-01"),
        // Long enough for the schema's minLength (every pattern of the spec takes letters).
        Some("string") => {
            json!("x".repeat(schema["minLength"].as_u64().unwrap_or(1).max(1) as usize))
        }
        _ => Value::Null,
    }
}

/// The example body of an operation, if it takes one.
pub fn example_body(spec: &Value, path: &str, method: &Method) -> Option<Value> {
    let op = &spec["paths"][path][method.as_str().to_lowercase()];
    let content = op["requestBody"]["content"].as_object()?;
    let schema = content.values().next()?["schema"].clone();
    (!schema.is_null()).then(|| example(spec, &schema))
}

/// Whether the operation takes a multipart form (a file upload).
pub fn is_multipart(spec: &Value, path: &str, method: &Method) -> bool {
    spec["paths"][path][method.as_str().to_lowercase()]["requestBody"]["content"]
        .get("multipart/form-data")
        .is_some()
}

/// `rb` with the body the operation takes: `json` for a JSON operation, a form with a
/// small PNG as `file` for an upload (so a check before the body is what answers).
pub fn with_body(
    rb: reqwest::RequestBuilder,
    spec: &Value,
    path: &str,
    method: &Method,
    json: &Value,
) -> reqwest::RequestBuilder {
    if is_multipart(spec, path, method) {
        let part = reqwest::multipart::Part::bytes(super::files::png(2, 2))
            .file_name("p.png")
            .mime_str("image/png")
            .unwrap();
        rb.multipart(reqwest::multipart::Form::new().part("file", part))
    } else {
        rb.json(json)
    }
}
