//! The card round trip, end to end.
use crate::helpers::profile::{card_fields, card_value, every_type};
use crate::helpers::{tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn register(app: &TestApp, email: &str, fields: Value) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, "/api/v1/acme/user/register")
        .json(
            &json!({"email": email, "password": PASSWORD, "terms_accepted": true,
                      "fields": fields}),
        )
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_card_of_every_field_type_round_trips_and_saves_valid_fields_only() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, b) = app.put_schema(&f, every_type()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["schema"]["version"], 1);
    assert_eq!(b["schema"]["fields"].as_array().unwrap().len(), 12);

    // Register with the registration fields.
    let (s, b) = register(
        &app,
        "ann@example.com",
        json!({"nickname": "Ace", "newsletter": true, "country": "cy"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, signed) = app.sign_in("acme", "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    // Public fields in the sign-in answer and GET /user; not the others.
    assert_eq!(
        signed["user"]["flock_data"],
        json!({"nickname": "Ace", "country": "cy"})
    );
    let (token, _) = tokens_of(&signed);
    let (_, me) = app.me("acme", &token).await;
    assert_eq!(
        me["flock_data"],
        json!({"nickname": "Ace", "country": "cy"})
    );

    // The card: two groups in order, the user's fields (not vip_note), labels in French.
    let (s, card) = app
        .as_user(
            Method::GET,
            "/api/v1/acme/user/card?locale=fr-CA",
            &token,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{card}");
    assert_eq!(card["version"], 1);
    let groups: Vec<&str> = card["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["about", "contact"]);
    assert_eq!(card["groups"][0]["label"], "Vous");
    let fields = card_fields(&card);
    assert_eq!(fields.len(), 11, "every field but the hidden one");
    assert!(fields.iter().all(|f| f.0 != "vip_note"));
    assert_eq!(card["groups"][0]["fields"][0]["label"], "Surnom");
    assert_eq!(card["groups"][0]["fields"][0]["placeholder"], "e.g. Ace");
    let country = &card["groups"][1]["fields"][0];
    assert_eq!(
        country["options"][0],
        json!({"value": "cy", "label": "Cyprus", "selected": true})
    );
    assert_eq!(country["options"][1]["label"], "La France");
    assert_eq!(country["options"][1]["selected"], false);
    let editable: Vec<&str> = fields
        .iter()
        .filter(|f| !f.2)
        .map(|f| f.0.as_str())
        .collect();
    assert_eq!(
        editable,
        ["member_id"],
        "a static field is read-only for the user"
    );

    // Edit five fields, two of them invalid: three saved, two answered, nothing else.
    let edit = json!({"fields": [
        {"name": "age", "type": "number", "value": 41},
        {"name": "birthday", "value": "1985-02-30"},
        {"name": "hobbies", "value": ["chess", "yoga"]},
        {"name": "size", "value": "xl"},
        {"name": "work_email", "value": "  Ann@Work.Example "}
    ]});
    let (s, b) = app
        .as_user(Method::PATCH, "/api/v1/acme/user/card", &token, Some(edit))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "partial");
    let results: Vec<(String, String, Value)> = b["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["code"].clone(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("age".into(), "ok".into(), Value::Null),
            ("birthday".into(), "error".into(), json!("invalid_date")),
            ("hobbies".into(), "ok".into(), Value::Null),
            ("size".into(), "error".into(), json!("unknown_option")),
            ("work_email".into(), "ok".into(), Value::Null),
        ]
    );
    let card = &b["card"];
    assert_eq!(card_value(card, "age"), json!(41));
    assert_eq!(card_value(card, "birthday"), Value::Null);
    assert_eq!(card_value(card, "hobbies"), json!(["chess", "yoga"]));
    assert_eq!(card_value(card, "size"), Value::Null);
    assert_eq!(card_value(card, "work_email"), json!("ann@work.example"));
    // Untouched fields kept their values.
    assert_eq!(card_value(card, "nickname"), json!("Ace"));
    assert_eq!(card_value(card, "country"), json!("cy"));
    assert_eq!(card_value(card, "newsletter"), json!(true));
    // The card read again says the same.
    let (_, again) = app
        .as_user(Method::GET, "/api/v1/acme/user/card", &token, None)
        .await;
    assert_eq!(card_fields(&again), card_fields(card));

    // Per-field refusals of every kind, none saved.
    let edit = json!({"fields": [
        {"name": "member_id", "value": "M-0001"},
        {"name": "vip_note", "value": "x"},
        {"name": "nope", "value": 1},
        {"name": "age", "type": "text", "value": "41"},
        {"name": "age", "value": 200},
        {"name": "hobbies", "value": ["chess", "golf", "yoga"]},
        {"name": "newsletter", "value": null},
        {"name": "mobile", "value": "12"}
    ]});
    let (s, b) = app
        .as_user(Method::PATCH, "/api/v1/acme/user/card", &token, Some(edit))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "failed");
    let codes: Vec<&str> = b["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "not_editable",
            "unknown_field",
            "unknown_field",
            "type_mismatch",
            "duplicate_field",
            "invalid_length",
            "field_required",
            "invalid_phone"
        ]
    );
    assert_eq!(card_fields(&b["card"]), card_fields(card));
    // Clearing works: null clears an optional field.
    let (_, b) = app
        .as_user(
            Method::PATCH,
            "/api/v1/acme/user/card",
            &token,
            Some(json!({"fields": [{"name": "age", "value": null}]})),
        )
        .await;
    assert_eq!(
        (b["status"].as_str(), card_value(&b["card"], "age")),
        (Some("ok"), Value::Null)
    );

    // The back office sees every field and edits the static and hidden ones.
    let (_, me) = app.me("acme", &token).await;
    let path = format!(
        "/api/v1/acme/directory/users/{}/card",
        me["id"].as_str().unwrap()
    );
    let (s, b) = app
        .bo(
            Method::PATCH,
            &path,
            &f.admin_key,
            Some(json!({"fields": [{"name": "member_id", "value": "M-0042"},
                                   {"name": "vip_note", "value": "met at the fair"}]})),
        )
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("ok")),
        "{b}"
    );
    assert_eq!(card_fields(&b["card"]).len(), 12);
    let (_, mine) = app
        .as_user(Method::GET, "/api/v1/acme/user/card", &token, None)
        .await;
    assert_eq!(card_value(&mine, "member_id"), json!("M-0042"));
    assert_eq!(
        card_value(&mine, "vip_note"),
        Value::Null,
        "hidden from the user"
    );
    println!(
        "card round trip: 12 field types, 5 edited (3 saved, 2 refused), 8 refusals of every kind"
    );
}

#[tokio::test]
async fn a_limited_session_edits_its_card_and_another_flock_reads_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g = app.create_flock("bravo").await;
    app.put_schema(&f, every_type()).await;
    // A preregistered account's limited session reads and edits its own card.
    let r = app
        .req(Method::POST, "/api/v1/acme/user/preregister")
        .json(&json!({"email": "pre@example.com", "send_activation": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let pre: Value = r.json().await.unwrap();
    let token = pre["access_token"].as_str().unwrap();
    let (s, _) = app
        .as_user(Method::GET, "/api/v1/acme/user/card", token, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app
        .as_user(
            Method::PATCH,
            "/api/v1/acme/user/card",
            token,
            Some(json!({"fields": [{"name": "nickname", "value": "Pre"}]})),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
    // The other flock's key reads nothing of this user, and its schema is its own.
    let id = pre["user"]["id"].as_str().unwrap();
    let (s, _) = app
        .bo(
            Method::GET,
            &format!("/api/v1/bravo/directory/users/{id}/card"),
            &g.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, schema) = app
        .bo(
            Method::GET,
            "/api/v1/bravo/profile/schema",
            &g.admin_key,
            None,
        )
        .await;
    assert_eq!(
        (
            schema["version"].as_i64(),
            schema["fields"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}
