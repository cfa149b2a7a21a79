//! `fold users seed`: the bulk loader behind the benchmarks inserts exactly the users it
//! says, in batches, into one flock only, and they are real: searchable, counted, able
//! to sign in with the seeded password.
use crate::helpers::{TestApp, PASSWORD};
use fold::domain::directory::seed::seed_users;
use reqwest::{Method, StatusCode};

async fn count(app: &TestApp, slug: &str, key: &str, q: &str) -> u64 {
    let path = format!("/api/v1/{slug}/directory/users/count?{q}");
    let (s, b) = app.bo(Method::GET, &path, key, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["count"].as_u64().unwrap()
}

#[tokio::test]
async fn seeding_fills_one_flock_in_batches_with_users_that_work() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let other = app.create_flock("other").await;
    let flock = app.flock_id("acme").await;
    let hash = app.state.hasher.hash(PASSWORD.into()).await.unwrap();
    let mut batches = Vec::new();
    let done = seed_users(
        &app.state.db,
        flock,
        "acme.test",
        1234,
        &hash,
        app.clock.now(),
        chrono::Duration::seconds(1),
        |n| batches.push(n),
    )
    .await
    .unwrap();
    app.state.db.refresh_stats().await.unwrap();
    assert_eq!((done.users, batches), (1234, vec![500, 1000, 1234]));
    let key = f.admin_key.as_str();
    // Every 20th inactive (i = 19, 39, … 1219), a third of each tier.
    assert_eq!(
        count(&app, "acme", key, "status=active&status=inactive").await,
        1234
    );
    assert_eq!(count(&app, "acme", key, "status=inactive").await, 61);
    assert_eq!(
        count(&app, "acme", key, "meta_key=tier&meta_value=gold").await,
        412
    );
    let other_key = other.admin_key.as_str();
    assert_eq!(count(&app, "other", other_key, "status=active").await, 0);
    // Emails u0…u1233, and they sign in with the seeded password.
    let (s, _) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users/lookup?email=u1233@acme.test",
            key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .bo(
            Method::GET,
            "/api/v1/acme/directory/users/lookup?email=u1234@acme.test",
            key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app.sign_in("acme", "u7@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["first_name"], "Carla");
    let (s, _) = app.sign_in("acme", "u19@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "u19 is inactive");
    println!("seeded 1234 users in 3 batches: 61 inactive, 412 gold, 0 in the other flock");
}
