//! Battery 20: canary secrets seeded in every flow never appear in the logs, even at the
//! most verbose level.
use crate::helpers::process::{self, Server};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn canary_secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = process::database_url(dir.path()).await;
    let mut server = Server::start(
        dir.path(),
        &db_url,
        &[
            ("FOLD_LOG__FILTER", "trace".to_owned()),
            ("FOLD_FEDERATION__ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ],
    )
    .await;
    let base = server.base.clone();
    let admin_key = process::create_flock(&base, "acme").await;
    let client = reqwest::Client::new();
    let pw = "canary-password-7f3a9c1e";
    let mut seeded = vec![pw.to_owned(), admin_key.clone(), process::PK.to_owned()];

    let r = client
        .post(format!("{base}/api/v1/acme/user/register"))
        .json(&json!({"email": "ann@example.com", "password": pw, "terms_accepted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let wrong = "canary-wrong-password-5b2d";
    seeded.push(wrong.to_owned());
    process::sign_in(&base, "acme", "ann@example.com", wrong).await;
    let r = process::sign_in(&base, "acme", "ann@example.com", pw).await;
    let b: serde_json::Value = r.json().await.unwrap();
    let token = b["access_token"].as_str().unwrap().to_owned();
    seeded.push(token.clone());
    let refresh = b["refresh_token"].as_str().unwrap().to_owned();
    seeded.push(refresh.clone());
    // A refresh (its successor is a secret too).
    let r = client
        .post(format!("{base}/api/v1/acme/token/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: serde_json::Value = r.json().await.unwrap();
    seeded.push(b["refresh_token"].as_str().unwrap().to_owned());
    seeded.push(b["access_token"].as_str().unwrap().to_owned());

    // A one-time code by SMS (outbox in the server's ./data), a wrong one, then the right one.
    let phone = "+35799123456";
    let r = client
        .post(format!("{base}/api/v1/acme/user/otp"))
        .json(&json!({"channel": "sms", "identifier": phone, "purpose": "sign_in"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let sms_dir = dir.path().join("data/sms-outbox");
    let code = newest_json(&sms_dir)
        .and_then(|m| m["text"].as_str().map(crate::helpers::code_in))
        .expect("an SMS with a code");
    // Quoted, as it would appear in a logged body (a bare 6-digit number could be a timing).
    seeded.push(format!("\"{code}\""));
    for c in ["000000", code.as_str()] {
        client
            .post(format!("{base}/api/v1/acme/user/otp/verify"))
            .json(&json!({"channel": "sms", "identifier": phone, "purpose": "sign_in", "code": c}))
            .send()
            .await
            .unwrap();
    }

    // A reset token from the mail outbox, then used.
    client
        .post(format!("{base}/api/v1/acme/user/reset"))
        .json(&json!({"email": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    let mail_dir = dir.path().join("data/outbox");
    let mut reset = None;
    for _ in 0..100 {
        if let Some(m) = newest_json(&mail_dir) {
            let text = m["text"].as_str().unwrap_or_default().to_owned();
            if let Some(i) = text.find("token=") {
                reset = Some(
                    text[i + 6..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                        .collect::<String>(),
                );
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let reset = reset.expect("a reset mail delivered by the worker");
    seeded.push(reset.clone());
    let r = client
        .post(format!("{base}/api/v1/acme/user/password"))
        .json(&json!({"token": reset, "password": "canary-new-password-91c2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    seeded.push("canary-new-password-91c2".to_owned());
    let (s, b) = {
        let r =
            process::sign_in(&base, "acme", "ann@example.com", "canary-new-password-91c2").await;
        let s = r.status();
        (s, r.json::<serde_json::Value>().await.unwrap_or_default())
    };
    assert_eq!(s, StatusCode::OK, "{b}");
    let token = b["access_token"].as_str().unwrap().to_owned();
    seeded.push(token.clone());
    client
        .get(format!("{base}/api/v1/acme/user"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    // Secrets in places they do not belong: a query string, a bad header, a bad body.
    let fake_key = "fold_fk_canaryprefix_canarysecretcanarysecretcanarysecret";
    seeded.push(fake_key.to_owned());
    client
        .get(format!(
            "{base}/api/v1/acme/user?token={token}&api_key={fake_key}"
        ))
        .header("X-Api-Key", fake_key)
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/api/v1/acme/user/auth"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"email\": \"ann@example.com\", \"password\": \"{pw}\", \"extra\": "
        ))
        .send()
        .await
        .unwrap();
    // Provider secrets: a client secret used in a real code flow (a real OpenID Connect
    // provider), a wrong one, an Apple team key, and an ID token.
    seeded.extend(federation_canaries(&base, &admin_key).await);
    // The audit log holds every one of these flows: it must hold none of their secrets.
    let r = client
        .get(format!("{base}/api/v1/acme/audit/events/export"))
        .header("X-Api-Key", &admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let audit = r.text().await.unwrap();
    let in_audit: Vec<&String> = seeded
        .iter()
        .filter(|s| audit.contains(s.as_str()))
        .collect();
    let kinds: std::collections::BTreeSet<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["type"].as_str().map(str::to_owned))
        .collect();
    println!(
        "canary secrets in the audit log: {} events ({kinds:?}) / {} found",
        audit.lines().count(),
        in_audit.len()
    );
    for k in [
        "user.signed_in",
        "user.sign_in_failed",
        "user.password_changed",
        "session.revoked",
        "admin.request",
    ] {
        assert!(kinds.contains(k), "the audit log records {k}: {kinds:?}");
    }
    assert!(
        in_audit.is_empty(),
        "secrets in the audit log: {in_audit:?}"
    );
    // SIGTERM: a graceful stop flushes everything it logged.
    server.term();
    let logs = std::fs::read_to_string(&server.log).unwrap();
    let stdout = std::fs::read_to_string(dir.path().join("stdout.log")).unwrap_or_default();
    let found: Vec<&String> = seeded
        .iter()
        .filter(|s| logs.contains(s.as_str()) || stdout.contains(s.as_str()))
        .collect();
    println!(
        "canary secrets: {} seeded across {} log bytes / {} found",
        seeded.len(),
        logs.len(),
        found.len()
    );
    assert!(logs.len() > 1000, "the server logged at trace level");
    assert!(found.is_empty(), "secrets in logs: {found:?}");
}

/// The newest JSON file of an outbox directory.
fn newest_json(dir: &std::path::Path) -> Option<serde_json::Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    serde_json::from_slice(&std::fs::read(names.last()?).ok()?).ok()
}

/// Configures providers with canary secrets and signs in through them; the secrets.
async fn federation_canaries(base: &str, key: &str) -> Vec<String> {
    use crate::helpers::oidc::{browser, OidcProvider};
    let op = OidcProvider::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let put = |name: &str, body: serde_json::Value| {
        client
            .put(format!("{base}/api/v1/acme/providers/{name}"))
            .header("X-Api-Key", key)
            .json(&body)
            .send()
    };
    let r = client
        .patch(format!("{base}/platform/v1/flocks/acme"))
        .header("X-Platform-Key", process::PK)
        .json(
            &json!({"settings": {"federation": {"redirect_origins": ["https://portal.example"]}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let first = json!({"kind": "oidc", "issuer": op.issuer, "client_id": "tbd"});
    let v: serde_json::Value = put("corp", first).await.unwrap().json().await.unwrap();
    let callback = v["callback_url"].as_str().unwrap().to_owned();
    let (id, secret) = op.register(&callback).await;
    let r = put(
        "corp",
        json!({"kind": "oidc", "issuer": op.issuer, "client_id": id, "client_secret": secret}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let apple_key = crate::helpers::federation::apple_team_key();
    let r = put("apple", json!({"kind": "apple", "client_id": "com.acme.app", "team_id": "T", "key_id": "K", "private_key": apple_key}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let wrong = "canary-wrong-client-secret-44aa";
    let (id2, _) = op.register(&callback.replace("/corp/", "/corp2/")).await;
    let r = put(
        "corp2",
        json!({"kind": "oidc", "issuer": op.issuer, "client_id": id2, "client_secret": wrong}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let origin = callback.split("/api/").next().unwrap().to_owned();
    let mut exchanged = false;
    for provider in ["corp", "corp2"] {
        let r = client
            .get(format!(
                "{base}/api/v1/acme/user/federated/{provider}/start"
            ))
            .query(&[
                ("redirect_uri", "https://portal.example/cb"),
                ("login_hint", "ada@example.com"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let at_fold = op.browse(&browser(), &loc, &origin).await;
        let r = client
            .get(format!("{base}{}", at_fold.strip_prefix(&origin).unwrap()))
            .header(
                "Cookie",
                crate::helpers::federation::cookie_pair(&set_cookie),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        let back = r.headers()["location"].to_str().unwrap().to_owned();
        if let Some(code) = crate::helpers::federation::param(&back, "code") {
            let r = client
                .post(format!("{base}/api/v1/acme/user/federated/exchange"))
                .json(&json!({"code": code}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            exchanged = true;
        }
    }
    assert!(exchanged, "the flow with the right secret signed in");
    let id_token = "eyJhbGciOiJSUzI1NiJ9.eyJjYW5hcnkiOiJpZC10b2tlbiJ9.Y2FuYXJ5LXNpZ25hdHVyZQ";
    client
        .post(format!("{base}/api/v1/acme/user/federated/corp/id-token"))
        .json(&json!({"id_token": id_token, "nonce": "canary-nonce-1b"}))
        .send()
        .await
        .unwrap();
    let key_line = apple_key.lines().nth(2).unwrap().to_owned();
    vec![secret, wrong.to_owned(), key_line, id_token.to_owned()]
}
