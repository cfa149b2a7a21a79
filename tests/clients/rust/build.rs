//! Generates the client from the committed spec with progenitor. Progenitor has no
//! multipart/form-data bodies: the four file-upload operations (`*_files_upload`,
//! `*_files_replace`) are left out of this client and listed in `SKIPPED`; any other
//! operation it cannot generate fails the build.
use std::path::Path;

fn main() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../openapi/openapi.json");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let text = std::fs::read_to_string(&spec_path).expect("openapi/openapi.json");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("the spec is JSON");
    let mut skipped = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
            item.retain(|_, op| {
                let multipart = op
                    .pointer("/requestBody/content/multipart~1form-data")
                    .is_some();
                if multipart {
                    skipped.push(op["operationId"].as_str().unwrap_or("?").to_owned());
                }
                !multipart
            });
        }
    }
    skipped.sort();
    let spec: openapiv3::OpenAPI = serde_json::from_value(doc).expect("an OpenAPI 3.0 document");
    let mut settings = progenitor::GenerationSettings::default();
    settings.with_interface(progenitor::InterfaceStyle::Builder);
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor could not generate the client: {e}"));
    let ast = syn::parse2(tokens).expect("generated code parses");
    let code = prettyplease::unparse(&ast);
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("fold.rs");
    std::fs::write(&out, code).expect("write the client");
    let list = format!("pub const SKIPPED: &[&str] = &{skipped:?};\n");
    std::fs::write(out.with_file_name("skipped.rs"), list).expect("write the list");
}
