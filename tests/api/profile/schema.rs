//! The field schema: well formed or refused by field, versioned, and changes that would
//! orphan or invalidate stored values refused with a count (or applied on request).
use crate::helpers::profile::{card_value, every_type};
use crate::helpers::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn text_age(version: i64) -> Value {
    json!({"version": version,
           "groups": [{"name": "g", "label": "G"}],
           "fields": [{"name": "age", "label": "Age", "type": "text", "group": "g",
                       "searchable": true},
                      {"name": "team", "label": "Team", "type": "text", "group": "g"}]})
}

#[tokio::test]
async fn malformed_schemas_are_refused_by_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.put_schema(&f, every_type()).await;
    assert_eq!(s, StatusCode::OK);
    let field = |extra: Value| {
        let mut fd = json!({"name": "x", "label": "X", "type": "text", "group": "about"});
        for (k, v) in extra.as_object().unwrap() {
            fd[k] = v.clone();
        }
        json!({"version": 1, "groups": [{"name": "about", "label": "About"}], "fields": [fd]})
    };
    let cases = [
        (
            field(json!({"name": "Bad Name"})),
            "invalid_name",
            "fields[0].name",
        ),
        (
            field(json!({"group": "nowhere"})),
            "unknown_group",
            "fields[0].group",
        ),
        (
            field(json!({"options": [{"value": "a", "label": "A"}]})),
            "unexpected_options",
            "fields[0].options",
        ),
        (
            field(json!({"type": "select"})),
            "invalid_options",
            "fields[0].options",
        ),
        (
            field(
                json!({"type": "radio", "options": [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]}),
            ),
            "invalid_options",
            "fields[0].options",
        ),
        (
            field(json!({"validators": {"pattern": "("}})),
            "invalid_pattern",
            "fields[0].validators.pattern",
        ),
        (
            field(json!({"validators": {"min_length": 5, "max_length": 2}})),
            "invalid_validators",
            "fields[0].validators",
        ),
        (
            field(json!({"validators": {"min": 1}})),
            "invalid_validators",
            "fields[0].validators",
        ),
        (
            field(json!({"type": "number", "validators": {"date_min": "2000-01-01"}})),
            "invalid_validators",
            "fields[0].validators",
        ),
        (
            field(json!({"public": true, "user_access": "hidden"})),
            "invalid_visibility",
            "fields[0].public",
        ),
        (
            field(
                json!({"type": "multiselect", "searchable": true, "options": [{"value": "a", "label": "A"}]}),
            ),
            "invalid_searchable",
            "fields[0].searchable",
        ),
        (
            field(json!({"type": "static", "at_registration": true})),
            "invalid_registration",
            "fields[0].at_registration",
        ),
        (
            field(json!({"label": ""})),
            "invalid_label",
            "fields[0].label",
        ),
        (
            field(json!({"type": "colour"})),
            "invalid_request",
            "fields[0].type",
        ),
        (
            json!({"version": 1, "groups": [{"name": "a", "label": "A"}, {"name": "a", "label": "B"}], "fields": []}),
            "duplicate_name",
            "groups[1].name",
        ),
        (
            json!({"version": 1, "groups": [{"name": "a", "label": "A"}], "fields": [
            {"name": "x", "label": "X", "type": "text", "group": "a"},
            {"name": "x", "label": "Y", "type": "text", "group": "a"}]}),
            "duplicate_name",
            "fields[1].name",
        ),
    ];
    let n = cases.len();
    for (body, code, at) in cases {
        let (s, b) = app.put_schema(&f, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{code}: {b}");
        assert_error(&b, code);
        assert_eq!(b["field"], at, "{b}");
    }
    let (_, now) = app
        .bo(
            Method::GET,
            "/api/v1/acme/profile/schema",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(now["version"], 1, "nothing changed");
    assert_eq!(now["fields"].as_array().unwrap().len(), 12);
    println!("malformed schemas: {n} refused with their field, version unchanged");
}

#[tokio::test]
async fn changes_that_would_invalidate_values_are_refused_with_counts_or_applied_on_request() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let key = f.admin_key.clone();
    let (s, _) = app.put_schema(&f, text_age(0)).await;
    assert_eq!(s, StatusCode::OK);
    // Three users: ages "12", "abc", "40.0".
    let mut ids = Vec::new();
    for (i, age) in ["12", "abc", "40.0"].iter().enumerate() {
        let u = app
            .bo_create_user(
                &f,
                json!({"email": format!("u{i}@example.com"), "send_email": false,
                       "fields": {"age": age, "team": "red"}}),
            )
            .await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let card = |i: usize| {
        let (app, key, id) = (&app, &key, ids[i].clone());
        async move {
            let (s, c) = app
                .bo(
                    Method::GET,
                    &format!("/api/v1/acme/directory/users/{id}/card"),
                    key,
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{c}");
            c
        }
    };
    // A stale version is refused.
    let (s, b) = app.put_schema(&f, text_age(0)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "schema_version_conflict");
    // Age becomes a number: "abc" blocks it, with a count.
    let mut to_number = text_age(1);
    to_number["fields"][0]["type"] = json!("number");
    let (s, b) = app.put_schema(&f, to_number.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_error(&b, "schema_change_blocked");
    assert_eq!(b["details"], json!([{"field": "age", "count": 1}]));
    assert_eq!(b["field"], "fields.age");
    assert_eq!(
        card_value(&card(1).await, "age"),
        json!("abc"),
        "nothing changed"
    );
    // On request: the invalid value is dropped, the others become numbers.
    to_number["drop_invalid"] = json!(true);
    let (s, b) = app.put_schema(&f, to_number).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["schema"]["version"], 2);
    assert_eq!(b["dropped"], json!([{"field": "age", "values": 1}]));
    assert_eq!(b["rewritten"], json!([{"field": "age", "values": 2}]));
    assert_eq!(card_value(&card(0).await, "age"), json!(12));
    assert_eq!(card_value(&card(1).await, "age"), Value::Null);
    // Search by the new number: 40 finds "40.0".
    let (_, found) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users?field=age&field_value=40",
            &key,
            None,
        )
        .await;
    let found: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [ids[2].as_str()]);
    // Removing `team` keeps its values, hidden; defining it again brings them back.
    let mut without_team = text_age(2);
    without_team["fields"] =
        json!([{"name": "age", "label": "Age", "type": "number", "group": "g"}]);
    let (s, _) = app.put_schema(&f, without_team).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(card_value(&card(0).await, "team"), Value::Null);
    // Purging a defined field is refused; the retired one can be purged.
    let (s, b) = app
        .bo(
            Method::DELETE,
            "/api/v1/acme/profile/fields/age/values",
            &key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "field_still_defined");
    let mut again = text_age(3);
    again["fields"][0]["type"] = json!("number");
    let (s, b) = app.put_schema(&f, again.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        card_value(&card(0).await, "team"),
        json!("red"),
        "kept while retired"
    );
    // A retired field whose values the new definition refuses is blocked like any.
    let mut numeric_team = again.clone();
    numeric_team["version"] = json!(4);
    numeric_team["fields"][1]["type"] = json!("number");
    let mut no_team = numeric_team.clone();
    no_team["fields"] = json!([numeric_team["fields"][0]]);
    let (s, _) = app.put_schema(&f, no_team).await;
    assert_eq!(s, StatusCode::OK);
    numeric_team["version"] = json!(5);
    let (s, b) = app.put_schema(&f, numeric_team).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["details"], json!([{"field": "team", "count": 3}]));
    let (s, b) = app
        .bo(
            Method::DELETE,
            "/api/v1/acme/profile/fields/team/values",
            &key,
            None,
        )
        .await;
    assert_eq!((s, b["deleted"].as_u64()), (StatusCode::OK, Some(3)));
    println!("schema change: 1 value blocked the type change (counted), 1 dropped and 2 rewritten on request; 3 retired values kept, then blocked (3), then purged");
}
