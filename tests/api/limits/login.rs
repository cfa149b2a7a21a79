//! The password sign-in throttle (docs/SECURITY.md battery item 7): brute force on one
//! account, sequential and 200 in parallel; the real user still gets in by OTP.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn login(app: &TestApp, slug: &str, email: &str, pw: &str) -> reqwest::Response {
    app.req(Method::POST, &format!("/api/v1/{slug}/user/auth"))
        .json(&json!({"email": email, "password": pw}))
        .send()
        .await
        .unwrap()
}

fn retry_after(r: &reqwest::Response) -> i64 {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After")
}

#[tokio::test]
async fn limits_login_sequential_brute_force_gets_10_free_failures_then_a_growing_delay() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    let start = app.clock.unix();
    let mut evaluated = 0;
    let mut refused = 0;
    let mut delays = Vec::new();
    while app.clock.unix() - start < 3600 {
        let r = login(&app, &f.slug, "ann@example.com", "wrong password guess").await;
        match r.status() {
            StatusCode::UNAUTHORIZED => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                let wait = retry_after(&r);
                delays.push(wait);
                let b: Value = r.json().await.unwrap();
                assert_error(&b, "rate_limited");
                app.clock.advance(Duration::seconds(wait));
            }
            s => panic!("{s}"),
        }
        if evaluated == 10 {
            // The 11th is evaluated only after the first delay.
            let r = login(&app, &f.slug, "ann@example.com", "wrong password guess").await;
            assert!(matches!(
                r.status(),
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ));
            if r.status() == StatusCode::UNAUTHORIZED {
                evaluated += 1;
            }
        }
    }
    println!(
        "password brute force, sequential, 1 h on the injected clock: {evaluated} passwords evaluated (cap 100/h, 10 before delays), {refused} refused; delays {delays:?}"
    );
    // Both sides: the 10 free failures and some delayed ones were evaluated, and the
    // growing delay kept the hour far under the hourly cap.
    assert!(
        evaluated > 10 && refused > 0,
        "{evaluated} evaluated, {refused} refused"
    );
    assert!(evaluated <= 100);
    assert!(evaluated < 40, "growing delay: {evaluated}");
    assert!(delays.windows(2).any(|w| w[1] > w[0]), "delay grows");
    // Not a permanent lock: after the delay the right password works and resets the count.
    let r = login(&app, &f.slug, "ann@example.com", PASSWORD).await;
    let r = if r.status() == StatusCode::TOO_MANY_REQUESTS {
        app.clock.advance(Duration::seconds(retry_after(&r)));
        login(&app, &f.slug, "ann@example.com", PASSWORD).await
    } else {
        r
    };
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..10 {
        let r = login(&app, &f.slug, "ann@example.com", "wrong password guess").await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "count reset by success"
        );
    }
}

#[tokio::test]
async fn limits_login_200_parallel_guesses_evaluate_at_most_11_and_the_owner_gets_in_by_otp() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/{}/user/auth", f.slug));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "ann@example.com", "password": format!("guess number {i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let (mut evaluated, mut limited, mut busy) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            StatusCode::SERVICE_UNAVAILABLE => busy += 1,
            s => panic!("{s}"),
        }
    }
    // The attack runs on the real clock: 10 free failures, then one attempt per delay
    // of 2, 4, 8 … s, so a burst lasting `elapsed` seconds may see a few delayed slots.
    let elapsed = started.elapsed().as_secs_f64();
    let slots = 1 + (elapsed / 2.0 + 1.0).log2().floor() as usize;
    println!(
        "password brute force, 200 parallel: {evaluated} evaluated (limit 10 free + {slots} delayed slot(s) in {elapsed:.1} s), {limited} refused 429, {busy} refused 503 busy"
    );
    assert!(evaluated <= 10 + slots, "evaluated {evaluated}");
    assert!(
        evaluated > 0 && limited > 0,
        "the throttle, not an outage, stopped the burst"
    );
    assert_eq!(evaluated + limited + busy, 200);

    // The real user still gets in, with a one-time code by email.
    let (s, b) = app.request_otp(&f.slug, "ann@example.com", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let code = app.last_code("ann@example.com").unwrap();
    let (s, b) = app
        .verify_otp(&f.slug, "ann@example.com", "sign_in", &code, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "owner signs in by OTP: {b}");
    println!("password brute force: the owner signed in by OTP during the attack: yes");
}

#[tokio::test]
async fn limits_login_per_ip_cap_holds_across_accounts_and_ignores_spoofed_forwarded_for() {
    let app = TestApp::builder()
        .config(|c| c.security.login_ip_per_hour = 5)
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let mut accepted = 0;
    for n in 0..8 {
        let r = app
            .req(Method::POST, &format!("/api/v1/{}/user/auth", f.slug))
            .header("X-Forwarded-For", format!("198.51.100.{n}"))
            .json(&json!({"email": format!("u{n}@example.com"), "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        match r.status() {
            StatusCode::UNAUTHORIZED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => assert!(retry_after(&r) > 0),
            s => panic!("{s}"),
        }
    }
    println!("password sign-in per IP: 8 accounts, 8 forged X-Forwarded-For, {accepted} evaluated (cap 5/h)");
    assert_eq!(accepted, 5);
}

#[tokio::test]
async fn limits_login_64_parallel_correct_sign_ins_of_one_account_all_succeed() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/{}/user/auth", f.slug));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut by_status = std::collections::BTreeMap::new();
    for t in tasks {
        *by_status.entry(t.await.unwrap().as_u16()).or_insert(0) += 1;
    }
    println!("64 parallel correct sign-ins of one account: {by_status:?} (by status)");
    assert_eq!(by_status.get(&200), Some(&64), "{by_status:?}");
    // The slots were given back: 10 free wrong passwords and the first delayed one are
    // still evaluated, then the delay holds.
    for _ in 0..11 {
        let r = login(&app, &f.slug, "ann@example.com", "wrong password guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login(&app, &f.slug, "ann@example.com", "wrong password guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn limits_login_a_flock_wide_flood_answers_a_correct_password_503_busy_never_429() {
    let app = TestApp::builder()
        .config(|c| c.security.login_flock_per_hour = 3)
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.register(&f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    for n in 0..3 {
        let r = login(
            &app,
            &f.slug,
            &format!("bot{n}@example.com"),
            "wrong password",
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login(&app, &f.slug, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&r) > 0);
    let b: Value = r.json().await.unwrap();
    assert_error(&b, "server_busy");
    println!("flock-wide flood (cap 3/h spent by 3 bots): the owner's correct password answered 503 server_busy with Retry-After, not 429");
}
