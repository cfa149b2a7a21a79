//! A file's bytes as an answer: the sniffed type, a safe `Content-Disposition`, and
//! `nosniff` (a browser never second-guesses the type).
use crate::domain::files::Download;
use poem::IntoResponse;
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::ApiResponse;

pub struct FileBytes(pub Download);

/// `filename*` per RFC 5987: UTF-8, percent-encoded outside the unreserved set.
fn encoded(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl IntoResponse for FileBytes {
    fn into_response(self) -> poem::Response {
        let d = self.0;
        let inline = d.content_type.starts_with("image/");
        let ascii: String = d
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let disposition = format!(
            "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
            if inline { "inline" } else { "attachment" },
            encoded(&d.name)
        );
        poem::Response::builder()
            .content_type(d.content_type)
            .header("Content-Disposition", disposition)
            .header("X-Content-Type-Options", "nosniff")
            .header("Cache-Control", "private, max-age=300")
            .body(d.bytes)
    }
}

impl ApiResponse for FileBytes {
    fn meta() -> MetaResponses {
        let binary =
            || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The bytes, of the type sniffed at upload (a rendition is JPEG, or PNG where the image has transparency).",
                status: Some(200),
                status_range: None,
                content: crate::domain::flocks::FILE_TYPES
                    .iter()
                    .map(|t| MetaMediaType {
                        content_type: t,
                        schema: binary(),
                    })
                    .collect(),
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}
