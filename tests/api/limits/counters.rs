//! KV-backed counters (`domain::limits`) on the backend the environment names: the cap
//! holds under parallel calls, and across a window boundary (a sliding bound).
use crate::helpers::TestApp;
use chrono::Duration;
use fold::domain::limits::Limit;

const LIMIT: Limit = Limit {
    kind: "test",
    cap: 50,
    window_secs: 3600,
    code: "rate_limited",
};

#[tokio::test]
async fn limits_counters_200_parallel_hits_on_a_cap_of_50_admit_exactly_50() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let flock = app.state.flocks.get(&f.slug).await.unwrap().id;
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let limits = app.state.limits.clone();
        tasks.push(tokio::spawn(async move {
            limits.hit(flock, &LIMIT, "k").await.unwrap().is_ok()
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    let stored = app.state.limits.count(flock, &LIMIT, "k").await.unwrap();
    println!(
        "counters on {}: 200 parallel hits, cap 50: {admitted} admitted, counter {stored}",
        app.state.kv.backend_name()
    );
    assert_eq!(admitted, 50);
    assert_eq!(stored, 50, "a refused hit never counts");
}

#[tokio::test]
async fn limits_counters_never_admit_more_than_the_cap_in_any_window_length_interval() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    let flock = app.state.flocks.get(&f.slug).await.unwrap().id;
    let limits = &app.state.limits;
    // Move to 10 s before a window boundary, spend the cap, cross the boundary.
    let now = app.clock.unix();
    let edge = (now / 3600 + 1) * 3600;
    app.clock.advance(Duration::seconds(edge - now - 10));
    let mut before = 0;
    for _ in 0..60 {
        before += usize::from(limits.hit(flock, &LIMIT, "k").await.unwrap().is_ok());
    }
    app.clock.advance(Duration::seconds(20));
    let mut after = 0;
    for _ in 0..60 {
        after += usize::from(limits.hit(flock, &LIMIT, "k").await.unwrap().is_ok());
    }
    println!("counters across a window boundary (20 s apart): {before} + {after} admitted, cap 50");
    assert_eq!(before, 50);
    assert_eq!(after, 0, "fixed windows alone would admit 50 more");
    // Two windows later the cap is free again; an undone hit is given back.
    app.clock.advance(Duration::seconds(3600));
    let hit = limits.hit(flock, &LIMIT, "k").await.unwrap().unwrap();
    limits.undo(&hit).await.unwrap();
    assert_eq!(limits.count(flock, &LIMIT, "k").await.unwrap(), 0);
    // Other keys and other flocks have their own counters.
    let g = app.create_flock("globex").await;
    let other = app.state.flocks.get(&g.slug).await.unwrap().id;
    assert!(limits.hit(other, &LIMIT, "k").await.unwrap().is_ok());
}
