//! OTP limits: guessing across resends (docs/SECURITY.md battery item 10), send abuse (item
//! 12), spoofed X-Forwarded-For against the per-IP cap (item 4), SMS country prefixes.
use crate::helpers::{assert_error, TestApp};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PHONE: &str = "+35799123456";

fn retry_after(r: &reqwest::Response) -> i64 {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After")
}

async fn post_otp(app: &TestApp, slug: &str, body: Value, xff: Option<&str>) -> reqwest::Response {
    let mut r = app
        .req(Method::POST, &format!("/api/v1/{slug}/user/otp"))
        .json(&body);
    if let Some(x) = xff {
        r = r.header("X-Forwarded-For", x);
    }
    r.send().await.unwrap()
}

/// The attempt counter key of the live sign-in code of `phone`.
async fn attempts_key(app: &TestApp, slug: &str, phone: &str) -> String {
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
    format!("otpatt:{}:{}", flock.id, rec["id"].as_str().unwrap())
}

async fn counter(app: &TestApp, key: &str) -> u64 {
    app.state
        .kv
        .get(key)
        .await
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn otp_limits_guessing_across_resends_is_capped_per_identifier_and_resends_never_reset_it() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let start = app.clock.unix();
    let wrong = |i: u64| format!("{:06}", (i * 7919 + 13) % 1_000_000);
    // Failures charged to the identifier and codes actually compared, by elapsed time.
    let (mut f10m, mut f1h, mut f24h) = (0u64, 0u64, 0u64);
    let (mut c10m, mut c1h, mut c24h) = (0u64, 0u64, 0u64);
    let mut i = 0u64;
    let mut codes = 0;
    let mut refused_after_resend = 0;
    while app.clock.unix() - start < 86_400 {
        let r = post_otp(
            &app,
            &f.slug,
            json!({"channel": "sms", "identifier": PHONE, "purpose": "sign_in"}),
            None,
        )
        .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            // The attacker waits exactly as long as told.
            let wait = retry_after(&r);
            app.clock.advance(Duration::seconds(wait));
            continue;
        }
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        codes += 1;
        let right = app.last_code(PHONE).unwrap();
        let att = attempts_key(&app, &f.slug, PHONE).await;
        let t = app.clock.unix() - start;
        // The best attacker spends exactly the 5 guesses a code allows (more only burn the
        // daily budget on a dead code). 401 = charged as a failure, 429 = refused.
        let mut charged = 0;
        for _ in 0..5 {
            i += 1;
            let mut g = wrong(i);
            if g == right {
                g = wrong(i + 1_000_000);
            }
            let (s, b) = app
                .verify_otp(&f.slug, PHONE, "sign_in", &g, json!({}))
                .await;
            match s {
                StatusCode::UNAUTHORIZED => {
                    charged += 1;
                    f10m += u64::from(t < 600);
                    f1h += u64::from(t < 3600);
                    f24h += 1;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    assert_error(&b, "otp_too_many_failures");
                    refused_after_resend += 1;
                }
                other => panic!("unexpected {other}: {b}"),
            }
        }
        // Every charged guess, and no refused one, was compared with the code.
        let compared = counter(&app, &att).await;
        assert_eq!(
            compared, charged,
            "compared {compared} of {charged} charged guesses"
        );
        c10m += if t < 600 { compared } else { 0 };
        c1h += if t < 3600 { compared } else { 0 };
        c24h += compared;
        // A resend after the cooldown must not reset the identifier's failure count.
        app.clock.advance(Duration::seconds(60));
    }
    let p = |n: u64| 1.0 - (1.0 - 1e-6f64).powi(n as i32);
    println!(
        "guessing across resends (6-digit codes, defaults): {codes} codes sent in 24 h; \
         failures charged per identifier: 10 min {f10m}, 1 h {f1h}, 24 h {f24h}; \
         guesses compared with a live code: 10 min {c10m}, 1 h {c1h}, 24 h {c24h}; \
         P(success): 10 min {:.1e}, 1 h {:.1e}, 24 h {:.1e}; guesses refused after resends {refused_after_resend}",
        p(c10m),
        p(c1h),
        p(c24h)
    );
    // The cap from both sides: the attacker tries far more than 100 guesses in the day
    // ({codes} codes × 5) and gets exactly the 100 the daily budget allows.
    assert!(
        codes * 5 > 100,
        "the attack must outrun the cap: {codes} codes"
    );
    assert_eq!(f24h, 100, "daily failure cap");
    assert_eq!(c24h, 100);
    assert!(refused_after_resend > 0, "resends reset the count");
}

#[tokio::test]
async fn otp_limits_send_abuse_caps_hold_for_one_number_one_prefix_one_ip_and_one_flock() {
    let price = 0.10f64; // assumed USD per SMS (international premium routes)
    let app = TestApp::builder()
        .config(|c| c.http.trusted_proxies = vec!["127.0.0.1".into()])
        .spawn()
        .await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"otp": {"sms_per_flock_day": 60, "sms_blocked_prefixes": ["+88"]}}),
        )
        .await;

    // One number, one hour, one IP, hammering (and waiting out the cooldown).
    let mut one_number = 0;
    let start = app.clock.unix();
    for _ in 0..200 {
        if app.clock.unix() - start >= 3600 {
            break;
        }
        let r = post_otp(
            &app,
            &f.slug,
            json!({"channel": "sms", "identifier": "+35799000001", "purpose": "sign_in"}),
            Some("10.0.0.1"),
        )
        .await;
        match r.status() {
            StatusCode::ACCEPTED => one_number += 1,
            StatusCode::TOO_MANY_REQUESTS => app
                .clock
                .advance(Duration::seconds(retry_after(&r).min(60))),
            s => panic!("{s}"),
        }
    }
    println!(
        "send abuse, one number for 1 h: {one_number} SMS sent (cap 5/h), cost ${:.2}/h",
        one_number as f64 * price
    );
    // Exactly the cap: the attacker kept asking for the whole hour.
    assert_eq!(one_number, 5);

    // One IP, many numbers of one prefix, within one hour.
    let mut one_ip = 0;
    for n in 0..100 {
        let r = post_otp(
            &app,
            &f.slug,
            json!({"channel": "sms", "identifier": format!("+3579910{n:04}"), "purpose": "sign_in"}),
            Some("10.0.0.2"),
        )
        .await;
        if r.status() == StatusCode::ACCEPTED {
            one_ip += 1;
        } else {
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        }
    }
    println!(
        "send abuse, one IP, 100 numbers of prefix +357 in 1 h: {one_ip} SMS sent (cap 20/h), cost ${:.2}/h",
        one_ip as f64 * price
    );
    assert_eq!(
        one_ip, 20,
        "100 numbers asked for, the per-IP cap let 20 through"
    );

    // A blocked prefix: nothing sent at all.
    let mut blocked = 0;
    for n in 0..20 {
        let r = post_otp(
            &app,
            &f.slug,
            json!({"channel": "sms", "identifier": format!("+8821{n:07}"), "purpose": "sign_in"}),
            Some(&format!("10.1.0.{n}")),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert_error(&b, "phone_prefix_not_allowed");
        blocked += 1;
    }
    let sent_to_88 = app
        .sms_outbox()
        .iter()
        .filter(|m| m.to.starts_with("+88"))
        .count();
    println!("send abuse, blocked prefix +88: {blocked} requests, {sent_to_88} SMS sent");
    assert_eq!(sent_to_88, 0);

    // Many IPs (a botnet) and many numbers: the flock's daily SMS budget holds.
    let mut flock_sends = 0;
    for n in 0..200 {
        let r = post_otp(
            &app,
            &f.slug,
            json!({"channel": "sms", "identifier": format!("+4477009{n:05}"), "purpose": "sign_in"}),
            Some(&format!("10.2.{}.{}", n / 250, n % 250)),
        )
        .await;
        match r.status() {
            StatusCode::ACCEPTED => flock_sends += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let b: Value = r.json().await.unwrap();
                assert_error(&b, "sms_budget_exhausted");
            }
            s => panic!("{s}"),
        }
    }
    let total = app.sms_outbox().len();
    println!(
        "send abuse, 200 IPs x 200 numbers: {flock_sends} more SMS, {total} SMS in the flock's day (budget 60), worst-case cost ${:.2}/day",
        60.0 * price
    );
    assert!(flock_sends > 0 && flock_sends < 200);
    assert_eq!(total, 60, "the flock budget, spent exactly");
}

#[tokio::test]
async fn otp_limits_spoofed_x_forwarded_for_does_not_change_the_per_ip_key() {
    // No trusted proxy: X-Forwarded-For from the peer is ignored.
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let mut accepted = 0;
    for n in 0..30 {
        let r = post_otp(
            &app,
            &f.slug,
            json!({"channel": "email", "identifier": format!("u{n}@example.com"), "purpose": "sign_in"}),
            Some(&format!("203.0.113.{n}")),
        )
        .await;
        if r.status() == StatusCode::ACCEPTED {
            accepted += 1;
        } else {
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        }
    }
    println!("spoofed X-Forwarded-For: 30 requests with 30 forged IPs, {accepted} accepted (per-IP cap 20)");
    assert_eq!(accepted, 20);
}

#[tokio::test]
async fn otp_limits_cooldown_answers_429_with_retry_after_and_a_stable_code() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    app.clock.advance(Duration::seconds(20));
    let r = post_otp(
        &app,
        &f.slug,
        json!({"channel": "sms", "identifier": PHONE, "purpose": "sign_in"}),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&r);
    assert!((39..=41).contains(&wait), "Retry-After {wait}");
    let b: Value = r.json().await.unwrap();
    assert_error(&b, "otp_cooldown");
    app.clock.advance(Duration::seconds(wait));
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn otp_limits_five_wrong_guesses_kill_a_code() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (s, _) = app.request_otp(&f.slug, PHONE, "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let right = app.last_code(PHONE).unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let (s, _) = app
            .verify_otp(&f.slug, PHONE, "sign_in", wrong, json!({}))
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, b) = app
        .verify_otp(&f.slug, PHONE, "sign_in", &right, json!({}))
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "dead after 5 wrong guesses: {b}"
    );
    assert_error(&b, "invalid_code");
}

#[tokio::test]
async fn otp_limits_allow_list_of_prefixes_refuses_other_countries() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with(
            "acme",
            json!({"otp": {"sms_allowed_prefixes": ["+357", "30"]}}),
        )
        .await;
    let (s, _) = app.request_otp(&f.slug, "+35799000001", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = app.request_otp(&f.slug, "+306900000001", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, b) = app.request_otp(&f.slug, "+447700900123", "sign_in").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "phone_prefix_not_allowed");
}
