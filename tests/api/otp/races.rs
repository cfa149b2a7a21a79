//! docs/SECURITY.md battery item 11: races on code verification (run on Redis by
//! `FOLD_TEST_ARGS='otp_' bash scripts/test.sh`).
use crate::helpers::TestApp;
use fold::ids::{FlockId, UserId};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PHONE: &str = "+35799123456";

/// The attempt counter of the live code of `phone` (sign_in).
async fn attempts_key(app: &TestApp, slug: &str, phone: &str) -> (FlockId, String) {
    let flock = app.state.flocks.get(slug).await.unwrap();
    let raw = app
        .state
        .kv
        .get(&format!(
            "otp:{}:sign_in:{}",
            flock.id,
            fold::domain::limits::key_digest(&format!("p:{phone}"))
        ))
        .await
        .unwrap()
        .expect("a live code");
    let rec: Value = serde_json::from_slice(&raw).unwrap();
    (
        flock.id,
        format!("otpatt:{}:{}", flock.id, rec["id"].as_str().unwrap()),
    )
}

async fn counter(app: &TestApp, key: &str) -> i64 {
    app.state
        .kv
        .get(key)
        .await
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap().parse().unwrap())
        .unwrap_or(0)
}

fn wrong_code(right: &str, i: usize) -> String {
    let mut c = format!("{:06}", (i * 7919) % 1_000_000);
    if c == right {
        c = format!("{:06}", (i * 7919 + 1) % 1_000_000);
    }
    c
}

#[tokio::test]
async fn otp_races_100_parallel_wrong_guesses_and_1_right_compare_at_most_5_and_open_at_most_one_session(
) {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let right = app.last_code(PHONE).unwrap();
    let (_, att) = attempts_key(&app, &f.slug, PHONE).await;

    let mut tasks = Vec::new();
    for i in 0..101 {
        let code = if i == 50 {
            right.clone()
        } else {
            wrong_code(&right, i)
        };
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/{}/user/otp/verify", f.slug));
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"channel": "sms", "identifier": PHONE, "purpose": "sign_in", "code": code}))
                .send()
                .await
                .unwrap();
            (i, r.status())
        }));
    }
    let mut ok = 0;
    let mut wrong_accepted = 0;
    let mut right_accepted = 0;
    for t in tasks {
        let (i, s) = t.await.unwrap();
        if s.is_success() {
            ok += 1;
            if i == 50 {
                right_accepted += 1;
            } else {
                wrong_accepted += 1;
            }
        } else {
            assert!(
                s == StatusCode::UNAUTHORIZED || s == StatusCode::TOO_MANY_REQUESTS,
                "{s}"
            );
        }
    }
    let compared = counter(&app, &att).await;
    println!(
        "race 100 wrong + 1 right: codes compared {compared} (limit 5), wrong accepted {wrong_accepted}, right accepted {right_accepted}, sessions created {ok}"
    );
    assert_eq!(wrong_accepted, 0);
    assert!(ok <= 1);
    assert!((1..=5).contains(&compared), "compared {compared}");
    // Either the right code won the race, or five wrong guesses killed it first.
    assert!(ok == 1 || compared == 5, "ok {ok}, compared {compared}");
}

#[tokio::test]
async fn otp_races_20_parallel_submissions_of_the_right_code_create_exactly_one_account_and_one_session(
) {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let right = app.last_code(PHONE).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/{}/user/otp/verify", f.slug));
        let code = right.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"channel": "sms", "identifier": PHONE, "purpose": "sign_in", "code": code}))
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut sessions = 0;
    let mut user = None;
    for t in tasks {
        let (s, b) = t.await.unwrap();
        if s.is_success() {
            sessions += 1;
            user = b["user"]["id"].as_str().map(str::to_owned);
        } else {
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        }
    }
    let flock = app.state.flocks.get(&f.slug).await.unwrap();
    let user = UserId(user.expect("one winner").parse().unwrap());
    let stored = app.state.sessions.list(flock.id, user).await.unwrap().len();
    let accounts = app
        .sql()
        .await
        .scalar(&format!(
            "SELECT COUNT(*) FROM users WHERE phone = '{PHONE}'"
        ))
        .await;
    println!("race 20 right submissions: sessions created {sessions}, sessions stored {stored}, accounts {accounts}");
    assert_eq!(sessions, 1);
    assert_eq!(stored, 1);
    assert_eq!(accounts, 1);
}
