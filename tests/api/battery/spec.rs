//! The committed spec matches the code. `FOLD_UPDATE_SPEC=1 cargo test --test api spec`
//! rewrites it.
use crate::helpers::{spec_path, TestApp};

#[tokio::test]
async fn committed_openapi_spec_matches_the_code() {
    let app = TestApp::spawn().await;
    let generated = app.state.spec_json();
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
