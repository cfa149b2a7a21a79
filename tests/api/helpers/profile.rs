//! Profile data: a schema with every field type, calls on cards.
use super::{TestApp, TestFlock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Two groups and one field of every type: `nickname` (text, public, asked at
/// registration), `age` (number 0–150), `birthday` (date), `newsletter` (checkbox,
/// required at registration), `size` (radio), `country` (select, searchable, public),
/// `hobbies` (multiselect, at most 2), `work_email`, `mobile`, `site`, `member_id`
/// (static), and `vip_note` (text the user never sees).
pub fn every_type() -> Value {
    json!({
        "version": 0,
        "groups": [
            {"name": "about", "label": "About you", "labels": {"fr": "Vous"}, "order": 1},
            {"name": "contact", "label": "Contact", "order": 2}
        ],
        "fields": [
            {"name": "nickname", "label": "Nickname", "labels": {"fr": "Surnom"}, "type": "text",
             "group": "about", "order": 1, "placeholder": "e.g. Ace",
             "validators": {"max_length": 20}, "public": true, "at_registration": true},
            {"name": "age", "label": "Age", "type": "number", "group": "about", "order": 2,
             "validators": {"min": 0, "max": 150}, "searchable": true},
            {"name": "birthday", "label": "Birthday", "type": "date", "group": "about", "order": 3,
             "validators": {"date_min": "1900-01-01"}},
            {"name": "newsletter", "label": "Newsletter", "type": "checkbox", "group": "about",
             "order": 4, "at_registration": true, "validators": {"required": true}},
            {"name": "size", "label": "Size", "type": "radio", "group": "about", "order": 5,
             "options": [{"value": "s", "label": "Small"}, {"value": "l", "label": "Large"}]},
            {"name": "country", "label": "Country", "type": "select", "group": "contact",
             "order": 1, "searchable": true, "public": true, "at_registration": true,
             "options": [{"value": "cy", "label": "Cyprus"}, {"value": "fr", "label": "France",
                          "labels": {"fr": "La France"}}]},
            {"name": "hobbies", "label": "Hobbies", "type": "multiselect", "group": "about",
             "order": 6, "validators": {"max_length": 2},
             "options": [{"value": "chess", "label": "Chess"}, {"value": "golf", "label": "Golf"},
                         {"value": "yoga", "label": "Yoga"}]},
            {"name": "work_email", "label": "Work email", "type": "email", "group": "contact",
             "order": 2, "searchable": true},
            {"name": "mobile", "label": "Mobile", "type": "phone", "group": "contact", "order": 3},
            {"name": "site", "label": "Web site", "type": "url", "group": "contact", "order": 4},
            {"name": "member_id", "label": "Member", "type": "static", "group": "contact",
             "order": 5, "validators": {"pattern": "M-[0-9]{4}"}},
            {"name": "vip_note", "label": "VIP note", "type": "text", "group": "contact",
             "order": 6, "user_access": "hidden"}
        ]
    })
}

impl TestApp {
    /// `PUT …/profile/schema` with the flock's admin key.
    pub async fn put_schema(&self, f: &TestFlock, body: Value) -> (StatusCode, Value) {
        self.bo(
            Method::PUT,
            &format!("/api/v1/{}/profile/schema", f.slug),
            &f.admin_key,
            Some(body),
        )
        .await
    }

    /// A call with a user's bearer token and an optional JSON body.
    pub async fn as_user(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(method, path).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }
}

/// The card's fields by name (value, editable).
pub fn card_fields(card: &Value) -> Vec<(String, Value, bool)> {
    card["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["fields"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].clone(),
                f["editable"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// A field's value on a card (null when absent or not shown).
pub fn card_value(card: &Value, name: &str) -> Value {
    card_fields(card)
        .into_iter()
        .find(|f| f.0 == name)
        .map_or(Value::Null, |f| f.1)
}
