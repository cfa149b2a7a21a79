//! Refresh tokens: rotation, the grace window, family revocation on replay, the race
//! (docs/SECURITY.md battery item 14).
use crate::helpers::{assert_error, tokens_of, TestApp};
use reqwest::{Method, StatusCode};
use std::collections::HashSet;

#[tokio::test]
async fn a_refresh_token_rotates_on_every_use_and_the_new_access_token_works() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g = app.grant(&f.slug, "ann@example.com").await;
    let (_, rt1) = tokens_of(&g);
    assert!(rt1.starts_with("fold_rt_") && rt1.len() >= 8 + 43, "{rt1}");
    let (s, g2) = app.refresh(&f.slug, &rt1).await;
    assert_eq!(s, StatusCode::OK, "{g2}");
    let (at2, rt2) = tokens_of(&g2);
    assert_ne!(rt1, rt2);
    assert_eq!(g2["session_id"], g["session_id"]);
    assert_eq!(g2["user"]["email"], "ann@example.com");
    assert_eq!(app.me(&f.slug, &at2).await.0, StatusCode::OK);
    let (s, g3) = app.refresh(&f.slug, &rt2).await;
    assert_eq!(s, StatusCode::OK, "{g3}");
    assert_ne!(tokens_of(&g3).1, rt2);
    // Stored hashed: the KV never holds the plaintext under its own name.
    let rec = app.refresh_record(&f.slug, &rt2).await.unwrap();
    let stored = rec.to_string();
    assert!(!stored.contains(&tokens_of(&g3).1["fold_rt_".len()..]));
}

#[tokio::test]
async fn reuse_within_the_grace_window_returns_the_same_successor() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (_, rt1) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let (s, a) = app.refresh(&f.slug, &rt1).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(9));
    let (s, b) = app.refresh(&f.slug, &rt1).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(tokens_of(&a).1, tokens_of(&b).1);
    // The successor still works and the session is alive.
    let (s, c) = app.refresh(&f.slug, &tokens_of(&b).1).await;
    assert_eq!(s, StatusCode::OK, "{c}");
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (_, rt1) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let (s, g2) = app.refresh(&f.slug, &rt1).await;
    assert_eq!(s, StatusCode::OK);
    let (at2, rt2) = tokens_of(&g2);
    app.clock.advance(chrono::Duration::seconds(11));
    let (s, b) = app.refresh(&f.slug, &rt1).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_refresh_token");
    let succ = app.refresh(&f.slug, &rt2).await.0;
    let access = app.me(&f.slug, &at2).await.0;
    assert_eq!(succ, StatusCode::UNAUTHORIZED, "successor after replay");
    assert_eq!(
        access,
        StatusCode::UNAUTHORIZED,
        "access token after replay"
    );
    let survivors = [succ, access].iter().filter(|s| s.is_success()).count();
    println!("refresh replay after grace: family credentials still accepted {survivors} / 2");
}

#[tokio::test]
async fn a_grace_window_of_zero_makes_any_reuse_end_the_family() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", serde_json::json!({"refresh_grace_secs": 0}))
        .await;
    let (_, rt1) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let (_, rt2) = tokens_of(&app.refresh(&f.slug, &rt1).await.1);
    assert_eq!(app.refresh(&f.slug, &rt1).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&f.slug, &rt2).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn fifty_parallel_refreshes_of_one_token_yield_exactly_one_live_successor() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let (_, rt1) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/{}/token/refresh", f.slug));
        let rt = rt1.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&serde_json::json!({ "refresh_token": rt }))
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut successors = HashSet::new();
    let mut ok = 0;
    for t in tasks {
        let (s, b) = t.await.unwrap();
        if s == StatusCode::OK {
            ok += 1;
            successors.insert(tokens_of(&b).1);
        }
    }
    // Every successor handed out must be live; count those the store holds as live.
    let mut live = 0;
    for t in &successors {
        let rec = app.refresh_record(&f.slug, t).await;
        if rec.is_some_and(|r| r["state"] == "live") {
            live += 1;
        }
    }
    let old = app.refresh_record(&f.slug, &rt1).await.unwrap();
    println!(
        "parallel refresh ({}): 50 attempted / {ok} answered / {} distinct successors / {live} live",
        app.state.kv.backend_name(),
        successors.len()
    );
    assert_eq!(ok, 50, "all within the grace window");
    assert_eq!(successors.len(), 1);
    assert_eq!(live, 1);
    let only = successors.into_iter().next().unwrap();
    assert_eq!(old["state"], "rotated");
    assert_eq!(
        old["successor"].as_str(),
        Some(fold::infra::secret::digest_hex(&only).as_str())
    );
    assert_eq!(app.refresh(&f.slug, &only).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_die_with_their_session() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    // Sign-out.
    let (at, rt) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let (s, _) = app
        .user_call(
            Method::DELETE,
            &format!("/api/v1/{}/user/auth", f.slug),
            &at,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.refresh(&f.slug, &rt).await.0, StatusCode::UNAUTHORIZED);
    // A password change from another session ends this one, refresh token included.
    let (s, g) = app
        .sign_in(&f.slug, "ann@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, rt) = tokens_of(&g);
    let (_, other) = app
        .sign_in(&f.slug, "ann@example.com", crate::helpers::PASSWORD)
        .await;
    let (other_at, _) = tokens_of(&other);
    let s = app
        .change_password(&f.slug, &other_at, "a new passphrase, long enough")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.refresh(&f.slug, &rt).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_token_ends_with_the_idle_and_absolute_lifetimes_of_its_session() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with(
            "acme",
            serde_json::json!({"session_idle_ttl_secs": 600, "session_absolute_ttl_secs": 1200}),
        )
        .await;
    let (_, rt) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    // Used every 8 minutes it stays alive past the idle limit…
    app.clock.advance(chrono::Duration::seconds(480));
    let (s, g) = app.refresh(&f.slug, &rt).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(480));
    let (s, g) = app.refresh(&f.slug, &tokens_of(&g).1).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    // …but not past the absolute one.
    app.clock.advance(chrono::Duration::seconds(300));
    assert_eq!(
        app.refresh(&f.slug, &tokens_of(&g).1).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Idle: unused past the limit.
    let (s, g) = app
        .sign_in(&f.slug, "ann@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(601));
    assert_eq!(
        app.refresh(&f.slug, &tokens_of(&g).1).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_refresh_token_of_one_flock_is_unknown_in_another() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("acme").await;
    let b = app.create_flock("bravo").await;
    let (_, rt) = tokens_of(&app.grant(&a.slug, "ann@example.com").await);
    let (s, body) = app.refresh(&b.slug, &rt).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&body, "invalid_refresh_token");
    let (s, body) = app.refresh(&a.slug, "fold_rt_garbage").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&body, "invalid_refresh_token");
    // Still usable in its own flock.
    assert_eq!(app.refresh(&a.slug, &rt).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_dead_kv_store_makes_refresh_and_device_calls_answer_503_never_a_token() {
    let app = TestApp::builder()
        .redis("redis://127.0.0.1:1")
        .spawn()
        .await;
    let f = app.create_flock("acme").await;
    let (s, b) = app
        .refresh(
            &f.slug,
            "fold_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, "kv_unavailable");
    let r = app
        .req(Method::POST, &format!("/api/v1/{}/device-tokens/sign-out", f.slug))
        .json(&serde_json::json!({"device_token": "fold_dt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
}
