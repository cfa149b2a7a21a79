//! The `fold` command line as an operator uses it: operator commands beside a running
//! server on the embedded defaults, the pid file and `fold stop`, `fold doctor`, and
//! errors that name the setting, where and why.
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fold(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    fold_with_stdin(dir, args, env, "")
}

fn fold_with_stdin(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fold"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("FOLD_SECURITY__ARGON2_M_KIB", "1024")
        .env("FOLD_SECURITY__ARGON2_T", "1")
        .env("FOLD_LOG__FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn operator_commands_run_beside_a_server_and_fold_stop_stops_exactly_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let env = [("FOLD_HTTP__BIND", bind.as_str())];
    let mut server = Command::new(env!("CARGO_BIN_EXE_fold"))
        .arg("serve")
        .current_dir(dir.path())
        .env("FOLD_HTTP__BIND", &bind)
        .env("FOLD_SECURITY__ARGON2_M_KIB", "1024")
        .env("FOLD_SECURITY__ARGON2_T", "1")
        .env("FOLD_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://{bind}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");
    let pid_file = dir.path().join("fold.pid");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, server.id(), "the pid file names the server");

    // The embedded KV store is the server's; these need only the database.
    let o = fold(dir.path(), &["flock", "create", "acme"], &env);
    assert!(o.status.success(), "flock create: {}", text(&o));
    assert!(text(&o).contains("fold_fk_"), "{}", text(&o));
    let o = fold_with_stdin(
        dir.path(),
        &[
            "user",
            "create",
            "acme",
            "--email",
            "op@example.com",
            "--password-stdin",
            "--no-mail",
        ],
        &env,
        "an operator's long password\n",
    );
    assert!(o.status.success(), "user create: {}", text(&o));
    let o = fold(
        dir.path(),
        &["user", "find", "acme", "--email", "OP@example.com"],
        &env,
    );
    assert!(o.status.success(), "user find: {}", text(&o));
    let found: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(found["email"], "op@example.com");
    assert_eq!(found["status"], "active");
    let o = fold(
        dir.path(),
        &["user", "find", "acme", "--email", "nobody@example.com"],
        &env,
    );
    assert!(!o.status.success(), "an unknown user is an error");
    assert!(
        text(&o).contains("no user with that identifier"),
        "{}",
        text(&o)
    );
    for args in [&["migrate"][..], &["flock", "rotate-key", "acme"][..]] {
        let o = fold(dir.path(), args, &env);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    // The running server sees what the operator created: the user signs in through it.
    let r = http
        .post(format!("{base}/api/v1/acme/user/auth"))
        .json(&serde_json::json!({"email": "op@example.com", "password": "an operator's long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in through the running server");

    // A second server from the same directory names the pid file and the process; one
    // with another pid file names the port in use. Neither touched the first.
    let o = fold(dir.path(), &["serve"], &env);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("names a running Fold server (pid {pid})")),
        "{}",
        text(&o)
    );
    let o = fold(dir.path(), &["serve", "--pid-file", "other.pid"], &env);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("http.bind") && t.contains(&bind) && t.contains("in use"),
        "{t}"
    );
    assert!(
        !t.contains("Platform key"),
        "failed before printing anything: {t}"
    );
    assert!(
        !dir.path().join("other.pid").exists(),
        "its pid file is gone"
    );
    // Another port and pid file, the same data directory: the KV file is named.
    let other = format!("127.0.0.1:{}", free_port());
    let o = fold(
        dir.path(),
        &["serve", "--pid-file", "third.pid"],
        &[("FOLD_HTTP__BIND", other.as_str())],
    );
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("kv.path") && t.contains("kv.redb") && t.contains("in use by another process"),
        "{t}"
    );

    let o = fold(dir.path(), &["doctor"], &env);
    assert!(o.status.success(), "doctor: {}", text(&o));
    assert!(
        text(&o).contains("held by a running server"),
        "{}",
        text(&o)
    );

    let started = Instant::now();
    let o = fold(dir.path(), &["stop"], &env);
    assert!(o.status.success(), "stop: {}", text(&o));
    let status = server.wait().unwrap();
    println!(
        "fold stop: pid {pid} drained and exited in {} ms ({status})",
        started.elapsed().as_millis()
    );
    assert!(status.success(), "a clean exit on SIGTERM");
    assert!(!pid_file.exists(), "the pid file is removed on exit");
    let o = fold(dir.path(), &["stop"], &env);
    assert!(!o.status.success(), "nothing left to stop");
    assert!(text(&o).contains("does not exist"), "{}", text(&o));
}

#[test]
fn an_unreachable_database_or_redis_is_named_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("postgres://fold@127.0.0.1:{port}/folddb");
    let started = Instant::now();
    let o = fold(dir.path(), &["migrate"], &[("FOLD_DATABASE__URL", &url)]);
    let t = text(&o);
    println!(
        "unreachable PostgreSQL reported in {} ms: {}",
        started.elapsed().as_millis(),
        t.trim()
    );
    assert!(!o.status.success());
    assert!(
        t.contains("database.url") && t.contains(&format!("127.0.0.1:{port}/folddb")),
        "{t}"
    );
    assert!(t.to_lowercase().contains("refused"), "the cause: {t}");

    let redis = format!("redis://127.0.0.1:{}", free_port());
    let o = fold(
        dir.path(),
        &["doctor"],
        &[
            ("FOLD_KV__URL", redis.as_str()),
            ("FOLD_SMS__PROVIDER", "webhook"),
        ],
    );
    let t = text(&o);
    println!("{t}");
    assert!(!o.status.success(), "doctor fails when something is wrong");
    assert!(t.contains("ok       database"), "{t}");
    assert!(
        t.contains("PROBLEM  key-value store") && t.contains(redis.trim_start_matches("redis://")),
        "{t}"
    );
    assert!(
        t.contains("PROBLEM  sms: sms.provider is webhook but sms.webhook_url is not set"),
        "{t}"
    );
    assert!(t.contains("2 problem(s) found"), "{t}");
}
