//! Session list and revocation; last-seen tracking.
use crate::helpers::{assert_error, tokens_of, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};

fn path(flock: &str, rest: &str) -> String {
    format!("/api/v1/{flock}/user/{rest}")
}

#[tokio::test]
async fn a_user_lists_their_sessions_and_revokes_one() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g1 = app.grant(&f.slug, "ann@example.com").await;
    let (_, g2) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (at1, _) = tokens_of(&g1);
    let (at2, _) = tokens_of(&g2);
    let (s, list) = app
        .user_call(Method::GET, &path(&f.slug, "sessions"), &at1)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], g1["session_id"]);
    assert_eq!(current[0]["role"], "client");
    assert!(current[0]["ip"].as_str().is_some());
    let sid2 = g2["session_id"].as_str().unwrap();
    let (s, _) = app
        .user_call(
            Method::DELETE,
            &path(&f.slug, &format!("sessions/{sid2}")),
            &at1,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&f.slug, &at2).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&f.slug, &at1).await.0, StatusCode::OK);
    // Again: gone.
    let (s, b) = app
        .user_call(
            Method::DELETE,
            &path(&f.slug, &format!("sessions/{sid2}")),
            &at1,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "session_not_found");
}

#[tokio::test]
async fn another_users_session_is_not_found_in_the_same_flock_and_across_flocks() {
    let app = TestApp::spawn().await;
    let a = app.create_flock("acme").await;
    let b = app.create_flock("bravo").await;
    let ann = app.grant(&a.slug, "ann@example.com").await;
    let bob = app.grant(&a.slug, "bob@example.com").await;
    let other = app.grant(&b.slug, "bob@example.com").await;
    let (bob_at, _) = tokens_of(&bob);
    let (other_at, _) = tokens_of(&other);
    let ann_sid = ann["session_id"].as_str().unwrap();
    let (s1, b1) = app
        .user_call(
            Method::DELETE,
            &path(&a.slug, &format!("sessions/{ann_sid}")),
            &bob_at,
        )
        .await;
    let (s2, b2) = app
        .user_call(
            Method::DELETE,
            &path(&b.slug, &format!("sessions/{ann_sid}")),
            &other_at,
        )
        .await;
    let unknown = uuid::Uuid::now_v7();
    let (s3, b3) = app
        .user_call(
            Method::DELETE,
            &path(&a.slug, &format!("sessions/{unknown}")),
            &bob_at,
        )
        .await;
    for (s, b) in [(s1, &b1), (s2, &b2), (s3, &b3)] {
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        assert_error(b, "session_not_found");
    }
    assert_eq!(b1["code"], b3["code"]);
    assert_eq!(b1["message"], b3["message"]);
    assert_eq!(app.me(&a.slug, &tokens_of(&ann).0).await.0, StatusCode::OK);
    // A token of flock A does not list sessions in flock B.
    let (s, _) = app
        .user_call(Method::GET, &path(&b.slug, "sessions"), &tokens_of(&ann).0)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoke_others_keeps_only_the_current_session_and_sign_out_everywhere_ends_all() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let g1 = app.grant(&f.slug, "ann@example.com").await;
    let (_, g2) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (_, g3) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (at1, _) = tokens_of(&g1);
    let (s, b) = app
        .user_call(Method::POST, &path(&f.slug, "sessions/revoke-others"), &at1)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["revoked"], 2);
    assert_eq!(
        app.me(&f.slug, &tokens_of(&g2).0).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.me(&f.slug, &tokens_of(&g3).0).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.me(&f.slug, &at1).await.0, StatusCode::OK);
    let (_, g4) = app.sign_in(&f.slug, "ann@example.com", PASSWORD).await;
    let (s, b) = app
        .user_call(Method::POST, &path(&f.slug, "sign-out-everywhere"), &at1)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["revoked"], 2);
    assert_eq!(app.me(&f.slug, &at1).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me(&f.slug, &tokens_of(&g4).0).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&f.slug, &tokens_of(&g4).1).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn using_a_session_moves_last_seen_and_the_idle_deadline_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let f = app
        .create_flock_with("acme", serde_json::json!({"session_idle_ttl_secs": 600}))
        .await;
    let (at, _) = tokens_of(&app.grant(&f.slug, "ann@example.com").await);
    let p = path(&f.slug, "sessions");
    let s0 = app.user_call(Method::GET, &p, &at).await.1["sessions"][0].clone();
    app.clock.advance(chrono::Duration::seconds(30));
    let s1 = app.user_call(Method::GET, &p, &at).await.1["sessions"][0].clone();
    assert_eq!(
        s0["last_seen_at"], s1["last_seen_at"],
        "no write within a minute"
    );
    app.clock.advance(chrono::Duration::seconds(40));
    let s2 = app.user_call(Method::GET, &p, &at).await.1["sessions"][0].clone();
    assert_ne!(s0["last_seen_at"], s2["last_seen_at"]);
    assert_ne!(s0["idle_expires_at"], s2["idle_expires_at"]);
    // Kept alive by use past the original idle deadline (600 s after sign-in).
    app.clock.advance(chrono::Duration::seconds(500));
    assert_eq!(app.me(&f.slug, &at).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(300));
    assert_eq!(
        app.me(&f.slug, &at).await.0,
        StatusCode::OK,
        "alive past first idle deadline"
    );
}
