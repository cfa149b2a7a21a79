//! User files: test images (a JPEG with GPS in its EXIF, a PNG bomb), uploads, and the
//! S3-compatible store of the test command.
use super::TestApp;
use fold::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Points `config` at the S3-compatible server at `url` (moto), in bucket `fold-test`.
pub async fn use_s3(config: &mut Config, url: &str) {
    config.files.store = "s3".into();
    config.files.s3_endpoint = Some(url.to_owned());
    config.files.s3_bucket = "fold-test".into();
    config.files.s3_access_key_id = Some("test".into());
    config.files.s3_secret_access_key = Some("test".to_owned().into());
    // Creating it again is harmless (moto answers 409 "already owned by you").
    let _ = reqwest::Client::new()
        .put(format!("{url}/fold-test"))
        .send()
        .await;
}

/// A little-endian TIFF (EXIF) block: orientation 6 (turn 90° clockwise to view) and a
/// GPS position (N 34° 41' 0").
pub fn exif_with_gps() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"II*\0");
    t.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: two entries.
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, 6); // Orientation = 6
    let gps_ifd = 8 + 2 + 2 * 12 + 4;
    entry(&mut t, 0x8825, 4, 1, gps_ifd); // GPSInfo → the GPS IFD
    t.extend_from_slice(&0u32.to_le_bytes());
    // GPS IFD: latitude ref "N" and latitude (three rationals after the IFD).
    assert_eq!(t.len() as u32, gps_ifd);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes([b'N', 0, 0, 0]));
    let rationals = gps_ifd + 2 + 2 * 12 + 4;
    entry(&mut t, 0x0002, 5, 3, rationals);
    t.extend_from_slice(&0u32.to_le_bytes());
    for (n, d) in [(34u32, 1u32), (41, 1), (0, 1)] {
        t.extend_from_slice(&n.to_le_bytes());
        t.extend_from_slice(&d.to_le_bytes());
    }
    t
}

/// A `w`×`h` JPEG (a gradient) carrying [`exif_with_gps`].
pub fn jpeg_with_gps(w: u32, h: u32) -> Vec<u8> {
    use img_parts::ImageEXIF;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    let mut j = img_parts::jpeg::Jpeg::from_bytes(out.into()).unwrap();
    j.set_exif(Some(exif_with_gps().into()));
    j.encoder().bytes().to_vec()
}

/// A `w`×`h` PNG.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, _| image::Rgba([x as u8, 0, 0, 200]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header says 50,000×50,000 (10 GB of pixels once decoded) in a few bytes.
pub fn png_bomb() -> Vec<u8> {
    let mut p = png(1, 1);
    // IHDR data starts after the 8-byte signature, the length and the type.
    p[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    p[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&p[12..29]);
    p[29..33].copy_from_slice(&crc.to_be_bytes());
    p
}

/// Whether `bytes` (a JPEG) carries an EXIF block or the GPS position's bytes.
pub fn carries_exif(bytes: &[u8]) -> bool {
    use img_parts::ImageEXIF;
    let exif = img_parts::jpeg::Jpeg::from_bytes(bytes.to_vec().into())
        .map(|j| j.exif().is_some())
        .unwrap_or(false);
    exif || bytes.windows(4).any(|w| w == b"Exif")
}

impl TestApp {
    /// A multipart upload (`POST`, or `PUT` to replace) with a bearer token or an API key.
    pub async fn upload(
        &self,
        method: Method,
        path: &str,
        credential: Credential<'_>,
        bytes: Vec<u8>,
        name: &str,
        mime: &str,
    ) -> (StatusCode, Value) {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap();
        let form = reqwest::multipart::Form::new().part("file", part);
        let mut r = self.req(method, path).multipart(form);
        r = match credential {
            Credential::Bearer(t) => r.bearer_auth(t),
            Credential::Key(k) => r.header("X-Api-Key", k),
        };
        let r = r.send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// A GET of raw bytes: status, content type, body.
    pub async fn fetch(
        &self,
        path: &str,
        credential: Option<Credential<'_>>,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut r = self.req(Method::GET, path);
        r = match credential {
            Some(Credential::Bearer(t)) => r.bearer_auth(t),
            Some(Credential::Key(k)) => r.header("X-Api-Key", k),
            None => r,
        };
        let r = r.send().await.unwrap();
        let s = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (s, ct, r.bytes().await.unwrap().to_vec())
    }
}

#[derive(Clone, Copy)]
pub enum Credential<'a> {
    Bearer(&'a str),
    Key(&'a str),
}
