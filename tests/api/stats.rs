//! Statistics match a brute-force count over the rows: 100,000 seeded users (one flock
//! beside another), registrations in the flock's time zone, users by status, active users
//! by last sign-in, sign-ins by method.
use crate::helpers::{assert_error, TestApp, PASSWORD};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use fold::domain::directory::seed::seed_users;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const USERS: u64 = 100_000;

/// Local midnight of the day `t` falls on in `tz`, `days_back` days earlier.
fn local_midnight(tz: chrono_tz::Tz, day: chrono::NaiveDate) -> DateTime<Utc> {
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn stats_match_a_brute_force_count_on_100k_users() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("st-1").await;
    app.create_flock("st-other").await;
    let tz_name = "Pacific/Kiritimati"; // UTC+14: "today" differs from UTC's most hours
    let r = app
        .platform(Method::PATCH, "/platform/v1/flocks/st-1")
        .json(&json!({"settings": {"timezone": tz_name}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let hash = app.state.hasher.hash(PASSWORD.into()).await.unwrap();
    let now = app.clock.now();
    let started = std::time::Instant::now();
    // 100k users a minute apart (69 days), 2k in the other flock.
    let flock = app.flock_id("st-1").await;
    seed_users(
        &app.state.db,
        flock,
        "st.test",
        USERS,
        &hash,
        now,
        Duration::seconds(60),
        |_| {},
    )
    .await
    .unwrap();
    let other = app.flock_id("st-other").await;
    seed_users(
        &app.state.db,
        other,
        "o.test",
        2_000,
        &hash,
        now,
        Duration::seconds(30),
        |_| {},
    )
    .await
    .unwrap();
    app.state.db.refresh_stats().await.unwrap();
    println!(
        "seeded {USERS} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Sign-ins by method: three passwords, one code.
    app.clock.advance(Duration::minutes(5));
    for i in [1, 2, 3] {
        let (s, b) = app
            .sign_in("st-1", &format!("u{i}@st.test"), PASSWORD)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, _) = app.request_otp("st-1", "u5@st.test", "sign_in").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let code = app.last_code("u5@st.test").unwrap();
    let (s, b) = app
        .verify_otp("st-1", "u5@st.test", "sign_in", &code, json!({}))
        .await;
    assert!(s.is_success(), "{b}");

    let t = std::time::Instant::now();
    let (s, stats) = app
        .bo(Method::GET, "/api/v1/st-1/stats", &f.admin_key, None)
        .await;
    let took = t.elapsed();
    assert_eq!(s, StatusCode::OK, "{stats}");

    // Brute force: every row, counted here.
    let now = app.clock.now();
    let rows: Vec<_> = app
        .sql()
        .await
        .users()
        .await
        .into_iter()
        .filter(|u| u.flock_id == flock.as_uuid())
        .collect();
    assert_eq!(rows.len() as u64, USERS);
    let tz: chrono_tz::Tz = tz_name.parse().unwrap();
    let today = now.with_timezone(&tz).date_naive();
    let week = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let month = today.with_day(1).unwrap();
    let since = |d| {
        let start = local_midnight(tz, d);
        rows.iter()
            .filter(|u| u.registered_at.is_some_and(|r| r >= start))
            .count() as u64
    };
    let active = |days: i64| {
        rows.iter()
            .filter(|u| {
                u.last_sign_in_at
                    .is_some_and(|t| t >= now - Duration::days(days))
            })
            .count() as u64
    };
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for u in &rows {
        *by_status.entry(u.status.clone()).or_default() += 1;
    }
    let want = json!({
        "registrations": {"today": since(today), "this_week": since(week), "this_month": since(month)},
        "users_by_status": by_status,
        "users_total": USERS,
        "active_users": {"last_1_day": active(1), "last_7_days": active(7), "last_30_days": active(30)},
    });
    println!(
        "stats of {USERS} users in {:.1} ms: {}",
        took.as_secs_f64() * 1000.0,
        json!({"registrations": stats["registrations"], "active_users": stats["active_users"], "users_by_status": stats["users_by_status"]})
    );
    for k in [
        "registrations",
        "users_by_status",
        "users_total",
        "active_users",
    ] {
        assert_eq!(stats[k], want[k], "{k}");
    }
    // Not trivially equal: the periods and windows really cut.
    let r = &stats["registrations"];
    assert!(r["today"].as_u64().unwrap() < r["this_month"].as_u64().unwrap());
    assert!(r["this_month"].as_u64().unwrap() < USERS);
    let a = &stats["active_users"];
    assert!(a["last_1_day"].as_u64().unwrap() < a["last_30_days"].as_u64().unwrap());
    assert_eq!(stats["timezone"], tz_name);
    assert_eq!(
        stats["sign_ins"]["by_method"],
        json!({"otp": 1, "password": 3})
    );
    assert_eq!(stats["sign_ins"]["total"], 4);
    // A period before the sign-ins counts none; a bad period is a clear 400.
    let before = (now - Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (s, old) = app
        .bo(
            Method::GET,
            &format!("/api/v1/st-1/stats?to={before}"),
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(old["sign_ins"]["total"], 0);
    let (s, e) = app
        .bo(
            Method::GET,
            "/api/v1/st-1/stats?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &f.admin_key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&e, "invalid_range");
}

#[tokio::test]
async fn a_time_zone_that_does_not_exist_is_refused() {
    let app = TestApp::spawn().await;
    app.create_flock("st-tz").await;
    for bad in ["Mars/Olympus", "", "utc+2"] {
        let r = app
            .platform(Method::PATCH, "/platform/v1/flocks/st-tz")
            .json(&json!({"settings": {"timezone": bad}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["field"], "settings.timezone");
    }
}
