//! The KV store's atomic operations on the backend under test (Redis when
//! `TEST_REDIS_URL` is set, the embedded store otherwise): `apply` is all or nothing,
//! and the embedded store's group commit keeps every concurrent operation atomic.
use crate::helpers::unique;
use fold::infra::kv::{EmbeddedKv, Kv, RedisKv, Step};
use std::time::Duration;

const TTL: Duration = Duration::from_secs(60);

fn store(dir: &tempfile::TempDir) -> Kv {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Kv::Redis(
            RedisKv::connect(
                &url,
                &(unique("kvtest:") + ":"),
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
        ),
        _ => Kv::Embedded(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap()),
    }
}

fn capped(key: &str, cap: i64) -> Step {
    Step::IncrCapped {
        key: key.into(),
        also: None,
        by: 1,
        cap,
        ttl: TTL,
    }
}

#[tokio::test]
async fn apply_writes_every_step_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let kv = store(&dir);
    kv.set("cd", b"old", TTL).await.unwrap();
    let steps = |expected: &[u8]| {
        vec![
            capped("a", 1),
            Step::Cas {
                key: "cd".into(),
                expected: Some(expected.to_vec()),
                new: Some(b"new".to_vec()),
                ttl: TTL,
            },
            Step::Set {
                key: "code".into(),
                value: b"123".to_vec(),
                ttl: TTL,
            },
            Step::Sadd {
                key: "set".into(),
                member: "m1".into(),
                ttl: TTL,
            },
        ]
    };
    // A refused compare-and-swap (step 1): nothing written, not even the counter.
    assert_eq!(kv.apply(steps(b"stale")).await.unwrap(), Some(1));
    assert_eq!(kv.get("a").await.unwrap(), None);
    assert_eq!(kv.get("code").await.unwrap(), None);
    assert!(kv.smembers("set").await.unwrap().is_empty());
    // Every step passes: all written.
    assert_eq!(kv.apply(steps(b"old")).await.unwrap(), None);
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(kv.get("cd").await.unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(kv.get("code").await.unwrap().as_deref(), Some(&b"123"[..]));
    assert_eq!(kv.smembers("set").await.unwrap(), vec!["m1".to_owned()]);
    // A counter at its cap (step 0) refuses the whole apply: the cas stays unapplied.
    assert_eq!(kv.apply(steps(b"new")).await.unwrap(), Some(0));
    assert_eq!(kv.get("cd").await.unwrap().as_deref(), Some(&b"new"[..]));
    // Steps see the ones before them: two hits of a counter capped at 1 refuse.
    assert_eq!(
        kv.apply(vec![capped("b", 1), capped("b", 1)])
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(kv.get("b").await.unwrap(), None);
    // A cas expecting absence after a set of the same key in the same apply refuses.
    let absent = Step::Cas {
        key: "fresh".into(),
        expected: None,
        new: Some(b"x".to_vec()),
        ttl: TTL,
    };
    assert_eq!(kv.apply(vec![absent.clone()]).await.unwrap(), None);
    assert_eq!(kv.apply(vec![absent]).await.unwrap(), Some(0));
}

#[tokio::test]
async fn concurrent_writers_stay_atomic_under_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let kv = store(&dir);
    // 400 parallel increments: every one counted once.
    let mut tasks = Vec::new();
    for _ in 0..400 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(
            async move { kv.incr("n", 1, TTL).await.unwrap() },
        ));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=400).collect::<Vec<i64>>());
    // 200 parallel capped hits against a cap of 50: exactly 50 admitted.
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            kv.apply(vec![capped("cap", 50)]).await.unwrap().is_none()
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    // 100 parallel swaps from the same value: one winner.
    kv.set("tok", b"live", TTL).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            let new = format!("rotated-{i}");
            kv.cas("tok", Some(b"live"), Some(new.as_bytes()), TTL)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    println!(
        "kv ({}): 400 parallel increments counted 400, {admitted} of 200 capped hits admitted (cap 50), {winners} of 100 swaps won",
        kv.backend_name()
    );
    assert_eq!(admitted, 50);
    assert_eq!(winners, 1);
}
