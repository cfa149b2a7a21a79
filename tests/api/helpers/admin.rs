//! Managers and admin groups, made through the API.
use super::{TestApp, TestFlock, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

impl TestApp {
    /// A manager of `flock` (role `manager`, `bo_access` as given) and a token of theirs:
    /// (access token, user id).
    pub async fn manager(
        &self,
        flock: &TestFlock,
        email: &str,
        bo_access: bool,
    ) -> (String, String) {
        let u = self
            .bo_create_user(
                flock,
                json!({"email": email, "password": PASSWORD, "role": "manager", "bo_access": bo_access}),
            )
            .await;
        let (s, b) = self.sign_in(&flock.slug, email, PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "manager sign-in: {b}");
        assert_eq!(b["role"], "manager");
        (
            b["access_token"].as_str().unwrap().to_owned(),
            u["id"].as_str().unwrap().to_owned(),
        )
    }

    /// An admin group with `grants` (`[[operation, level], …]`); its id.
    pub async fn admin_group(
        &self,
        flock: &TestFlock,
        name: &str,
        grants: &[(&str, &str)],
    ) -> String {
        let grants: Vec<Value> = grants
            .iter()
            .map(|(o, l)| json!({"operation": o, "level": l}))
            .collect();
        let (s, b) = self
            .bo(
                Method::POST,
                &format!("/api/v1/{}/admin/groups", flock.slug),
                &flock.admin_key,
                Some(json!({"name": name, "grants": grants})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "admin group: {b}");
        b["id"].as_str().unwrap().to_owned()
    }

    /// Puts `user` in the group `group` (by id, or `superadmin` by name).
    pub async fn join(&self, flock: &TestFlock, group: &str, user: &str) {
        let id = if group == "superadmin" {
            let (_, list) = self
                .bo(
                    Method::GET,
                    &format!("/api/v1/{}/admin/groups", flock.slug),
                    &flock.admin_key,
                    None,
                )
                .await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["name"] == "superadmin")
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        } else {
            group.to_owned()
        };
        let (s, b) = self
            .bo(
                Method::PUT,
                &format!("/api/v1/{}/admin/groups/{id}/members/{user}", flock.slug),
                &flock.admin_key,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "join {group}: {b}");
    }
}
