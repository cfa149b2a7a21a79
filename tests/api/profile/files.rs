//! User files, against the store the run uses (a local directory on the embedded run, the
//! S3-compatible server on the PostgreSQL run): uploads sniffed and checked, renditions
//! without metadata, signed URLs, order, replace, delete, erasure.
use crate::helpers::files::{carries_exif, jpeg_with_gps, png, png_bomb, Credential};
use crate::helpers::{assert_error, TestApp, TestFlock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn setup(app: &TestApp) -> (TestFlock, String, String) {
    let f = app.create_flock("acme").await;
    let token = app.user_token("acme", "ann@example.com").await;
    let (_, me) = app.me("acme", &token).await;
    (f, token, me["id"].as_str().unwrap().to_owned())
}

const MINE: &str = "/api/v1/acme/user/files";

async fn set_files(app: &TestApp, files: Value) -> (StatusCode, Value) {
    let r = app
        .platform(Method::PATCH, "/platform/v1/flocks/acme")
        .json(&json!({"settings": {"files": files}}))
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn a_jpeg_with_gps_yields_renditions_without_it_turned_upright() {
    let app = TestApp::spawn().await;
    let (f, token, user) = setup(&app).await;
    let me = Credential::Bearer(&token);
    // 2000×1000 as stored; EXIF orientation 6 says: turn it to stand 1000×2000.
    let photo = jpeg_with_gps(2000, 1000);
    assert!(carries_exif(&photo), "the test photo carries EXIF");
    let (s, file) = app
        .upload(
            Method::POST,
            MINE,
            me,
            photo,
            "../holiday.JPEG",
            "image/jpeg",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    assert_eq!(file["name"], "holiday.jpg");
    assert_eq!(file["content_type"], "image/jpeg");
    assert_eq!(
        (file["width"].clone(), file["height"].clone()),
        (json!(1000), json!(2000))
    );
    let sizes: Vec<(String, u64, u64)> = file["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["width"].as_u64().unwrap(),
                r["height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("s".to_owned(), 64, 128),
            ("m".to_owned(), 256, 512),
            ("l".to_owned(), 800, 1600)
        ]
    );

    // Every part by its signed URL (no credential), and the original with the token:
    // none carries EXIF (so no GPS).
    let mut with_exif = 0;
    for part in ["original", "s", "m", "l"] {
        let path = file["paths"][part].as_str().unwrap();
        let (s, ct, bytes) = app.fetch(path, None).await;
        assert_eq!(s, StatusCode::OK, "{part}");
        assert_eq!(ct, "image/jpeg");
        let img = image::load_from_memory(&bytes).unwrap();
        if part == "l" {
            assert_eq!((img.width(), img.height()), (800, 1600));
        }
        with_exif += usize::from(carries_exif(&bytes));
    }
    let id = file["id"].as_str().unwrap();
    let (s, _, original) = app.fetch(&format!("{MINE}/{id}/content"), Some(me)).await;
    assert_eq!(s, StatusCode::OK);
    with_exif += usize::from(carries_exif(&original));
    println!("EXIF/GPS after upload: {with_exif} of 5 downloads carry it");
    assert_eq!(with_exif, 0);

    // The user answer and the card carry the files and their paths.
    let (_, me_view) = app.me("acme", &token).await;
    assert_eq!(me_view["files"][0]["id"], id);
    assert!(me_view["files"][0]["paths"]["m"].is_string());
    let (_, card) = app
        .as_user(Method::GET, "/api/v1/acme/user/card", &token, None)
        .await;
    assert_eq!(card["files"][0]["id"], id);
    // The back office sees and downloads it.
    let (s, list) = app
        .bo(
            Method::GET,
            &format!("/api/v1/acme/directory/users/{user}/files"),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["files"][0]["id"], id);
    let (s, _, bytes) = app
        .fetch(
            &format!("/api/v1/acme/directory/users/{user}/files/{id}/content?part=s"),
            Some(Credential::Key(&f.admin_key)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(image::load_from_memory(&bytes).unwrap().height(), 128);
}

#[tokio::test]
async fn bombs_lies_and_files_over_the_limits_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (_f, token, _) = setup(&app).await;
    let me = Credential::Bearer(&token);
    let cases: Vec<(Vec<u8>, &str, &str, StatusCode, &str)> = vec![
        (
            png_bomb(),
            "bomb.png",
            "image/png",
            StatusCode::BAD_REQUEST,
            "image_too_large",
        ),
        (
            png(8, 8),
            "x.jpg",
            "image/jpeg",
            StatusCode::BAD_REQUEST,
            "content_type_mismatch",
        ),
        (
            b"<html><script>alert(1)</script></html>".to_vec(),
            "x.png",
            "image/png",
            StatusCode::BAD_REQUEST,
            "unsupported_file_type",
        ),
        (
            Vec::new(),
            "empty.png",
            "image/png",
            StatusCode::BAD_REQUEST,
            "empty_file",
        ),
    ];
    for (bytes, name, mime, status, code) in cases {
        let (s, b) = app.upload(Method::POST, MINE, me, bytes, name, mime).await;
        assert_eq!(s, status, "{name}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], "file", "{b}");
    }
    // A bomb is refused from its header: before any pixel is decoded (the answer is
    // quick, and the server did not allocate 10 GB).
    let started = std::time::Instant::now();
    let (s, _) = app
        .upload(Method::POST, MINE, me, png_bomb(), "b.png", "image/png")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    println!("50,000x50,000 PNG bomb refused in {:?}", started.elapsed());

    // The flock's own limits: types and size.
    let (s, b) = set_files(
        &app,
        json!({"content_types": ["application/pdf"], "max_bytes": 5000}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .upload(Method::POST, MINE, me, png(8, 8), "x.png", "image/png")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "file_type_not_allowed");
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let (s, b) = app
        .upload(
            Method::POST,
            MINE,
            me,
            pdf.clone(),
            "cv.pdf",
            "application/pdf",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["renditions"], json!([]));
    let mut big = pdf.clone();
    big.resize(5001, b' ');
    let (s, b) = app
        .upload(Method::POST, MINE, me, big, "big.pdf", "application/pdf")
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_error(&b, "file_too_large");

    // Only the PDF was stored.
    let (_, list) = app.as_user(Method::GET, MINE, &token, None).await;
    assert_eq!(list["files"].as_array().unwrap().len(), 1);

    // Bad settings are named; a flock's limit stays under the deployment's (25 MiB).
    let (s, _) = set_files(&app, json!({"max_bytes": 25 * 1024 * 1024})).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the deployment's limit itself is allowed"
    );
    for (files, field) in [
        (
            json!({"max_bytes": 25 * 1024 * 1024 + 1}),
            "settings.files.max_bytes",
        ),
        (
            json!({"content_types": ["text/html"]}),
            "settings.files.content_types",
        ),
        (
            json!({"rendition_s": 900, "rendition_m": 500}),
            "settings.files.rendition_s",
        ),
    ] {
        let (s, b) = set_files(&app, files.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{files}");
        assert_eq!(b["field"], field, "{b}");
    }
}

#[tokio::test]
async fn a_user_holds_at_most_the_flocks_count() {
    let app = TestApp::spawn().await;
    let (_f, token, _) = setup(&app).await;
    let (s, _) = set_files(&app, json!({"max_count": 3})).await;
    assert_eq!(s, StatusCode::OK);
    let mut stored = 0;
    let mut refused = None;
    for i in 0..4 {
        let (s, b) = app
            .upload(
                Method::POST,
                MINE,
                Credential::Bearer(&token),
                png(4 + i, 4),
                "p.png",
                "image/png",
            )
            .await;
        if s == StatusCode::CREATED {
            stored += 1;
        } else {
            refused = Some((s, b));
            break;
        }
    }
    println!("files cap 3: {stored} stored, the next refused");
    assert_eq!(stored, 3);
    let (s, b) = refused.expect("the 4th is refused");
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "too_many_files");
}

#[tokio::test]
async fn files_are_ordered_replaced_and_deleted_and_their_old_urls_stop_working() {
    let app = TestApp::spawn().await;
    let (f, token, user) = setup(&app).await;
    let me = Credential::Bearer(&token);
    let mut ids = Vec::new();
    for w in [10, 20, 30] {
        let (s, b) = app
            .upload(Method::POST, MINE, me, png(w, 10), "p.png", "image/png")
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["content_type"], "image/png");
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    // A new order: every id once.
    let order = json!({"order": [ids[2], ids[0], ids[1]]});
    let (s, list) = app
        .as_user(Method::PUT, &format!("{MINE}/order"), &token, Some(order))
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let got: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[0].as_str(), ids[1].as_str()]);
    assert_eq!(list["files"][0]["position"], 0);
    for bad in [
        json!({"order": [ids[0], ids[1]]}),
        json!({"order": [ids[0], ids[0], ids[1]]}),
    ] {
        let (s, b) = app
            .as_user(Method::PUT, &format!("{MINE}/order"), &token, Some(bad))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_error(&b, "invalid_order");
    }

    // Replace: same id and place, new bytes; the old URL is gone.
    let (_, list) = app.as_user(Method::GET, MINE, &token, None).await;
    let old_path = list["files"][1]["paths"]["original"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = app
        .upload(
            Method::PUT,
            &format!("{MINE}/{}", ids[0]),
            me,
            jpeg_with_gps(40, 40),
            "new.jpg",
            "image/jpeg",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["id"], ids[0].as_str());
    assert_eq!(b["position"], 1);
    assert_eq!(b["content_type"], "image/jpeg");
    let (s, _, _) = app.fetch(&old_path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a replaced file's old URL");
    let (s, ct, _) = app
        .fetch(b["paths"]["original"].as_str().unwrap(), None)
        .await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "image/jpeg"));

    // Tampered and foreign URLs read as not found.
    let good = b["paths"]["s"].as_str().unwrap().to_owned();
    let tampered = good.replace("/s?", "/m?");
    let (s, _, _) = app.fetch(&tampered, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a signature is for one part");
    let sig_at = good.find("signature=").unwrap() + "signature=".len();
    let mut forged = good.clone();
    forged.replace_range(sig_at..sig_at + 4, "AAAA");
    let (s, _, _) = app.fetch(&forged, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.create_flock("other").await;
    let (s, _, _) = app.fetch(&good.replace("/acme/", "/other/"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another flock's URL");
    // An expired URL.
    app.clock.advance(chrono::Duration::hours(3));
    let (s, _, _) = app.fetch(&good, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "expired");
    app.clock.advance(chrono::Duration::hours(-3));
    let (s, _, _) = app.fetch(&good, None).await;
    assert_eq!(s, StatusCode::OK);

    // Delete (the back office this time): gone, and so are its URLs.
    let (s, _) = app
        .bo(
            Method::DELETE,
            &format!("/api/v1/acme/directory/users/{user}/files/{}", ids[0]),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = app.fetch(&good, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app
        .as_user(Method::DELETE, &format!("{MINE}/{}", ids[0]), &token, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "file_not_found");
    let (_, list) = app.as_user(Method::GET, MINE, &token, None).await;
    assert_eq!(list["files"].as_array().unwrap().len(), 2);
    // A part that does not exist.
    let (s, _, _) = app
        .fetch(&format!("{MINE}/{}/content?part=xl", ids[1]), Some(me))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn erasure_deletes_the_bytes_and_the_export_lists_the_files() {
    let app = TestApp::spawn().await;
    let (_f, token, user) = setup(&app).await;
    let me = Credential::Bearer(&token);
    let (s, file) = app
        .upload(
            Method::POST,
            MINE,
            me,
            jpeg_with_gps(300, 200),
            "a.jpg",
            "image/jpeg",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, export) = app
        .as_user(Method::GET, "/api/v1/acme/user/export", &token, None)
        .await;
    assert_eq!(export["files"][0]["id"], file["id"]);
    let url = export["files"][0]["paths"]["original"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _, _) = app.fetch(&url, None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, _) = app
        .as_user(Method::DELETE, "/api/v1/acme/user", &token, None)
        .await;
    assert!(s.is_success(), "{s}");
    let (s, _, _) = app.fetch(&url, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let rows = app
        .sql()
        .await
        .scalar("SELECT COUNT(*) FROM user_files")
        .await;
    assert_eq!(rows, 0);
    // Nothing of the user is left in the store.
    let flock = app.state.flocks.get("acme").await.unwrap();
    let listed = app
        .state
        .files
        .store()
        .count_under(&format!("{}/{user}", flock.id))
        .await
        .unwrap();
    println!("objects left in the store after erasure: {listed}");
    assert_eq!(listed, 0);
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_and_changes_nothing() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::builder()
        .config(|c| {
            c.files.store = "s3".into();
            c.files.s3_endpoint = Some(format!("http://127.0.0.1:{dead}"));
            c.files.s3_access_key_id = Some("test".into());
            c.files.s3_secret_access_key = Some("test".to_owned().into());
        })
        .spawn()
        .await;
    let (_f, token, _) = setup(&app).await;
    let (s, b) = app
        .upload(
            Method::POST,
            MINE,
            Credential::Bearer(&token),
            png(8, 8),
            "p.png",
            "image/png",
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, "file_store_unavailable");
    let (s, list) = app.as_user(Method::GET, MINE, &token, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["files"], json!([]));
    // Erasure waits for the store: the account is not half-erased.
    let (s, b) = app
        .as_user(Method::DELETE, "/api/v1/acme/user", &token, None)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    let (s, _) = app.me("acme", &token).await;
    assert_eq!(s, StatusCode::OK, "the account is still there, signed in");
}

#[tokio::test]
async fn deleting_a_flock_deletes_its_files_and_no_other_flocks() {
    let app = TestApp::spawn().await;
    let (_f, token, _) = setup(&app).await;
    app.create_flock("other").await;
    let other = app.user_token("other", "bob@example.com").await;
    for (flock, t) in [("acme", &token), ("other", &other)] {
        let (s, _) = app
            .upload(
                Method::POST,
                &format!("/api/v1/{flock}/user/files"),
                Credential::Bearer(t),
                png(6, 6),
                "p.png",
                "image/png",
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let acme = app.state.flocks.get("acme").await.unwrap();
    let other_flock = app.state.flocks.get("other").await.unwrap();
    let store = app.state.files.store();
    assert!(store.count_under(&acme.id.to_string()).await.unwrap() > 0);
    let r = app
        .platform(Method::DELETE, "/platform/v1/flocks/acme")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let left = store.count_under(&acme.id.to_string()).await.unwrap();
    let kept = store
        .count_under(&other_flock.id.to_string())
        .await
        .unwrap();
    println!("after deleting a flock: {left} of its objects left, {kept} of another kept");
    assert_eq!(left, 0);
    assert_eq!(kept, 4, "the other flock's original and three renditions");
}

#[tokio::test]
async fn metadata_hidden_after_the_image_does_not_survive_either() {
    let app = TestApp::spawn().await;
    let (_f, token, _) = setup(&app).await;
    // A JPEG with a second EXIF block (GPS) appended after its end marker, as some
    // cameras append a second image.
    let mut photo = jpeg_with_gps(64, 48);
    photo.extend_from_slice(b"\xFF\xD8\xFF\xE1\x00\x40Exif\x00\x00");
    photo.extend_from_slice(&crate::helpers::files::exif_with_gps());
    let (s, file) = app
        .upload(
            Method::POST,
            MINE,
            Credential::Bearer(&token),
            photo,
            "a.jpg",
            "image/jpeg",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    let (s, _, original) = app
        .fetch(file["paths"]["original"].as_str().unwrap(), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !carries_exif(&original),
        "no EXIF block anywhere in the stored bytes"
    );
}
