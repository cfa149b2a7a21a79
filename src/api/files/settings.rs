//! The `files` part of flock settings on the wire.
use crate::domain::flocks::FileSettings;
use poem_openapi::Object;

/// What the flock's users may upload.
#[derive(Debug, Object)]
pub(in crate::api) struct FileSettingsView {
    /// Largest file, in bytes.
    max_bytes: u64,
    /// Files one user may hold.
    max_count: u32,
    /// Accepted types, as sniffed from the bytes.
    content_types: Vec<String>,
    /// Long edge of the `s`, `m`, `l` renditions of an image (pixels).
    rendition_s: u32,
    rendition_m: u32,
    rendition_l: u32,
}

impl From<&FileSettings> for FileSettingsView {
    fn from(s: &FileSettings) -> Self {
        Self {
            max_bytes: s.max_bytes,
            max_count: s.max_count,
            content_types: s.content_types.clone(),
            rendition_s: s.rendition_s,
            rendition_m: s.rendition_m,
            rendition_l: s.rendition_l,
        }
    }
}

/// File settings to change; absent fields keep their value.
#[derive(Debug, Object, Default)]
#[oai(deny_unknown_fields)]
pub(in crate::api) struct FileSettingsPatch {
    /// 1 byte to 1 GiB (and under the deployment's `files.max_upload_bytes`).
    #[oai(validator(minimum(value = "1"), maximum(value = "1073741824")))]
    max_bytes: Option<u64>,
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    max_count: Option<u32>,
    /// One or more of `image/jpeg`, `image/png`, `image/webp`, `image/gif`,
    /// `application/pdf`.
    #[oai(validator(min_items = 1, max_items = 5))]
    content_types: Option<Vec<String>>,
    #[oai(validator(minimum(value = "16"), maximum(value = "4096")))]
    rendition_s: Option<u32>,
    #[oai(validator(minimum(value = "16"), maximum(value = "4096")))]
    rendition_m: Option<u32>,
    #[oai(validator(minimum(value = "16"), maximum(value = "4096")))]
    rendition_l: Option<u32>,
}

impl FileSettingsPatch {
    pub(in crate::api) fn apply(self, mut s: FileSettings) -> FileSettings {
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = self.$f { s.$f = v; })* };
        }
        set!(
            max_bytes,
            max_count,
            content_types,
            rendition_s,
            rendition_m,
            rendition_l
        );
        s
    }
}
