//! Every JSON body property of every operation, given a value of the wrong type (a number
//! for a string, text for a number, a boolean or a list; a malformed id or date): 400
//! `invalid_request` naming that property, before any handler runs, and nothing changed.
//! (poem-openapi alone would read `5` or `true` into a string field.)
use crate::helpers::spec::example_body;
use crate::helpers::{tokens_of, TestApp, PLATFORM_KEY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A value `schema` does not allow by type or format.
fn wrong(spec: &Value, schema: &Value) -> Value {
    let r = schema.get("$ref").or_else(|| {
        schema
            .get("allOf")
            .and_then(|a| a.get(0))
            .and_then(|f| f.get("$ref"))
    });
    let schema = match r.and_then(Value::as_str) {
        Some(r) => &spec["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("string"), Some("uuid" | "date-time" | "date")) => json!("not-a-valid-value"),
        (Some("string"), _) => json!(5),
        (Some("integer" | "number"), _) => json!("5"),
        (Some("boolean"), _) => json!("true"),
        (Some("array"), _) => json!({"not": "a list"}),
        (Some("object"), _) => json!([1]),
        _ => json!(null),
    }
}

#[tokio::test]
async fn a_wrongly_typed_property_is_refused_by_name_on_every_operation() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (token, _) = tokens_of(&app.grant("acme", "ann@example.com").await);
    let spec: Value = serde_json::from_str(&app.state.spec_json()).unwrap();
    let users_before = app.user_rows().await;
    let (mut ops, mut tried, mut wrong_answers) = (0, 0, Vec::new());
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let Some(base) = example_body(&spec, template, &method) else {
                continue;
            };
            let content = op["requestBody"]["content"].as_object().unwrap();
            // Form posts (a provider's callback) and uploads carry text, not JSON types.
            if !content.keys().any(|k| k.starts_with("application/json")) {
                continue;
            }
            let schema_ref = content.values().next().unwrap()["schema"]["$ref"]
                .as_str()
                .unwrap_or_default();
            let schema = &spec["components"]["schemas"][schema_ref.rsplit('/').next().unwrap()];
            let Some(props) = schema["properties"].as_object() else {
                continue;
            };
            ops += 1;
            let path = template
                .replace("{flock}", "acme")
                .replace("{slug}", "acme")
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        uuid::Uuid::nil().to_string()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            for (name, prop) in props {
                let bad = wrong(&spec, prop);
                if bad.is_null() {
                    continue;
                }
                let mut body = base.clone();
                body[name.as_str()] = bad.clone();
                let r = app
                    .req(method.clone(), &path)
                    .header("Authorization", format!("Bearer {token}"))
                    .header("X-Api-Key", &f.admin_key)
                    .header("X-Platform-Key", PLATFORM_KEY)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let b: Value = r.json().await.unwrap_or(Value::Null);
                tried += 1;
                if status != StatusCode::BAD_REQUEST
                    || b["code"] != "invalid_request"
                    || b["field"] != name.as_str()
                {
                    wrong_answers.push(format!("{method} {template} {name}={bad}: {status} {b}"));
                }
            }
        }
    }
    assert!(ops > 30, "only {ops} operations with a body found");
    assert_eq!(
        app.user_rows().await,
        users_before,
        "a refused call changed users"
    );
    println!(
        "wrongly typed properties: {ops} operations, {tried} properties tried, {} answered otherwise",
        wrong_answers.len()
    );
    assert!(wrong_answers.is_empty(), "{}", wrong_answers.join("\n"));
}
