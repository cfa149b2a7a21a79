//! The committed spec matches the code. `FOLD_UPDATE_SPEC=1 cargo test --test api spec`
//! rewrites it.
use crate::helpers::{spec_path, TestApp};

#[tokio::test]
async fn committed_openapi_spec_matches_the_code() {
    let app = TestApp::spawn().await;
    let generated = app.state.committed_spec();
    let path = spec_path();
    if std::env::var("FOLD_UPDATE_SPEC").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi --out openapi/openapi.json` \
         (or FOLD_UPDATE_SPEC=1 cargo test --test api spec) and commit it"
    );
}

#[tokio::test]
async fn every_operation_has_an_operation_id_a_tag_and_a_description() {
    let app = TestApp::spawn().await;
    let spec: serde_json::Value = serde_json::from_str(&app.state.spec_json()).unwrap();
    let mut n = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            n += 1;
            assert!(op["operationId"].is_string(), "{method} {path} operationId");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} tags"
            );
            assert!(op["summary"].is_string(), "{method} {path} summary");
        }
    }
    assert!(n >= 10);
}

#[tokio::test]
async fn every_path_template_parameter_is_declared_and_every_declared_one_is_in_the_path() {
    let app = TestApp::spawn().await;
    let spec: serde_json::Value = serde_json::from_str(&app.state.spec_json()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let in_template: std::collections::BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let declared: std::collections::BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, in_template, "{method} {path}: path parameters");
            checked += 1;
        }
    }
    println!("path parameters checked on {checked} operations");
    assert!(checked > 100);
}
