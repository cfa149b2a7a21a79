//! The `fold` command line: serve and stop, migrate, doctor, flock and user management,
//! the OpenAPI spec. Every command but `serve` needs only the database (and Redis when
//! configured), so it runs beside a server on the embedded defaults.
mod cli;

use clap::{Parser, Subcommand};
use fold::app::{self, AppState};
use fold::config::Config;
use fold::infra::clock::Clock;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "fold",
    version,
    about = "Fold: a multi-tenant identity platform"
)]
struct Cli {
    /// Configuration file (TOML); `fold.toml` when present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies migrations unless --no-migrate).
    Serve {
        /// Start without applying pending migrations (they must have been applied with
        /// `fold migrate`).
        #[arg(long)]
        no_migrate: bool,
        /// Where to write this server's process id (`fold stop` reads it); the server
        /// refuses to start while the file names another running Fold.
        #[arg(long, default_value = "fold.pid")]
        pid_file: PathBuf,
    },
    /// Stop the server started with the same --pid-file (SIGTERM: it finishes in-flight
    /// requests first), and wait until it has exited.
    Stop {
        /// The pid file `fold serve` wrote.
        #[arg(long, default_value = "fold.pid")]
        pid_file: PathBuf,
        /// Seconds to wait for the server to exit.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Apply pending database migrations (the database only: runs beside a server).
    Migrate,
    /// Check the configuration, the database, the KV store, mail, SMS, files and the
    /// listening address; print what is wrong in plain words (exit 1 if anything is).
    Doctor,
    /// Manage flocks.
    Flock {
        #[command(subcommand)]
        command: FlockCommand,
    },
    /// Users of a flock: create, find, seed for benchmarks.
    #[command(alias = "users")]
    User {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Events of a flock (the audit log).
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Write the OpenAPI spec (to stdout, or to --out).
    Openapi {
        /// File to write the spec to (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum FlockCommand {
    /// Create a flock; prints its first admin API key once.
    Create {
        /// The flock's slug: 2–63 lowercase letters, digits and dashes (its URLs are
        /// `/api/v1/{slug}/…`).
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// Rotate a flock's signing key.
    RotateKey {
        /// The flock's slug.
        slug: String,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user as the back office would; prints the user as one JSON line. The
    /// flock's first mail (unless --no-mail) is queued: the server sends it.
    Create(cli::users::NewUser),
    /// Find one user by an exact identifier; prints it as one JSON line (exit 1 if none).
    Find(cli::users::Find),
    /// Insert many users into a flock quickly, for benchmarks (batched inserts, one
    /// password hash for all; no mail). Emails `u{n}@{domain}`; every user gets meta
    /// `tier` = gold | silver | bronze. Needs only the database (the server may run).
    Seed {
        /// The flock (it must exist).
        slug: String,
        /// How many users.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// The domain of their emails (default `{slug}.test`).
        #[arg(long)]
        domain: Option<String>,
        /// Their password.
        #[arg(long, default_value = "seeded password 0123456789")]
        password: String,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Insert many old audit events into a flock quickly, for the retention benchmark
    /// (`user.signed_in` rows already delivered, one millisecond apart). Needs only the
    /// database (the server may run).
    Seed {
        /// The flock (it must exist).
        slug: String,
        /// How many events.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// How old the newest of them is, in days.
        #[arg(long, default_value_t = 400)]
        age_days: u32,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, warnings) = match Config::load(cli.config.as_deref()) {
        Ok((c, warnings)) => {
            for w in &warnings {
                eprintln!("configuration warning: {w}");
            }
            (c, warnings)
        }
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    fold::telemetry::init(&config.log);
    match cli.command {
        Command::Doctor => {
            let failed = cli::doctor::run(&config, &warnings).await;
            return if failed == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("{failed} problem(s) found");
                ExitCode::FAILURE
            };
        }
        Command::Stop { pid_file, wait } => {
            return match cli::pidfile::stop(&pid_file, std::time::Duration::from_secs(wait)) {
                Ok(pid) => {
                    eprintln!("stopped Fold (pid {pid})");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Doctor | Command::Stop { .. } => {}
        Command::User {
            command: UsersCommand::Create(new),
        } => {
            let op = operator(config).await?;
            cli::users::create(&op.state, new).await?;
        }
        Command::User {
            command: UsersCommand::Find(f),
        } => {
            let op = operator(config).await?;
            cli::users::find(&op.state, f).await?;
        }
        Command::User {
            command:
                UsersCommand::Seed {
                    slug,
                    count,
                    domain,
                    password,
                },
        } => seed(config, &slug, count, domain, password).await?,
        Command::Events {
            command:
                EventsCommand::Seed {
                    slug,
                    count,
                    age_days,
                },
        } => seed_events(config, &slug, count, age_days).await?,
        Command::Openapi { out } => {
            // The spec needs no database: build the services on throwaway parts.
            let spec = spec_without_storage(config).await?;
            match out {
                Some(path) => std::fs::write(path, spec)?,
                None => print!("{spec}"),
            }
        }
        Command::Migrate => {
            let db = fold::app::connect_db(&config).await?;
            db.migrate().await?;
            eprintln!("migrations applied");
        }
        Command::Serve {
            no_migrate,
            pid_file,
        } => {
            // The pid file and the port first: a second server, or a port in use, is
            // reported before anything is migrated or printed.
            let _pid = cli::pidfile::PidFile::claim(&pid_file)?;
            let acceptor = app::listen(&config.http.bind).await?;
            tracing::info!(config = ?config, "starting");
            let migrate = config.database.auto_migrate && !no_migrate;
            use secrecy::ExposeSecret;
            let redis_at = config.kv.url.as_ref().and_then(|u| {
                let u = url::Url::parse(u.expose_secret()).ok()?;
                Some(format!(
                    "{}:{}",
                    u.host_str()?,
                    u.port_or_known_default().unwrap_or(6379)
                ))
            });
            let state = AppState::build(config, Clock::system()).await?;
            // Without its session store the server could register users but sign no one
            // in: it does not start (an outage later answers 503 until Redis is back).
            if let (Some(at), Err(e)) = (&redis_at, state.kv.ping().await) {
                return Err(format!(
                    "kv.url: Redis at {at} cannot be reached ({e}); Fold does not start without it"
                )
                .into());
            }
            if migrate {
                state.db.migrate().await?;
            }
            if let Some(key) = state.api_keys.ensure_platform_key().await? {
                println!("Platform key (shown once, store it now): {key}");
            }
            tracing::info!(bind = %state.config.http.bind, kv = state.kv.backend_name(), "listening");
            app::serve_bound(state, acceptor, app::shutdown_signal()).await?;
        }
        Command::Flock { command } => {
            let op = operator(config).await?;
            let state = &op.state;
            match command {
                FlockCommand::Create { slug, name } => {
                    let (flock, key) = state
                        .flocks
                        .create(&slug, name.as_deref(), Default::default())
                        .await?;
                    println!("Flock {} created (id {}).", flock.slug, flock.id);
                    println!("Admin API key (shown once, store it now): {key}");
                }
                FlockCommand::RotateKey { slug } => {
                    let flock = state.flocks.get(&slug).await?;
                    let kid = state.signing.rotate(flock.id).await?;
                    println!("New signing key {kid} for flock {slug}.");
                }
            }
        }
    }
    Ok(())
}

/// The services of an operator command beside a running server (see
/// `AppState::for_operator`); its scratch directory goes when it is dropped.
struct Operator {
    state: AppState,
    scratch: PathBuf,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// The operator's services, the database migrated.
async fn operator(config: Config) -> Result<Operator, Box<dyn std::error::Error>> {
    let scratch = std::env::temp_dir().join(format!("fold-operator-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let state = AppState::for_operator(config, Clock::system(), &scratch).await?;
    state.db.migrate().await?;
    Ok(Operator { state, scratch })
}

/// The database alone (migrated), for the bulk loaders that run beside a server, and the
/// flock `slug`, which must exist.
async fn open_flock(
    config: &Config,
    slug: &str,
) -> Result<(fold::db::Db, fold::db::flocks::FlockRecord), Box<dyn std::error::Error>> {
    use secrecy::ExposeSecret;
    let db = fold::db::Db::connect(config.database.url.expose_secret(), 4).await?;
    db.migrate().await?;
    let flock = db
        .flock_by_slug(slug)
        .await?
        .ok_or_else(|| format!("no flock {slug:?} (create it first: fold flock create {slug})"))?;
    Ok((db, flock))
}

async fn seed_events(
    config: Config,
    slug: &str,
    count: u64,
    age_days: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let (db, flock) = open_flock(&config, slug).await?;
    let started = std::time::Instant::now();
    let newest = Clock::system().now() - chrono::Duration::days(i64::from(age_days));
    let n = fold::domain::retention::seed_old_events(&db, flock.id, count, newest).await?;
    println!(
        "seeded {n} events into {slug} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn seed(
    config: Config,
    slug: &str,
    count: u64,
    domain: Option<String>,
    password: String,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    let (db, flock) = open_flock(&config, slug).await?;
    let sec = &config.security;
    let hasher =
        fold::domain::password::Hasher::new(sec.argon2_m_kib, sec.argon2_t, sec.argon2_p, 1, 4)?;
    let hash = hasher.hash(password.into()).await?;
    let domain = domain.unwrap_or_else(|| format!("{slug}.test"));
    let started = std::time::Instant::now();
    let now = Clock::system().now();
    let mut shown = 0;
    let progress = |n: u64| {
        // A progress line at most every 1 % (and at the end).
        let pct = n * 100 / count.max(1);
        if pct == shown && n < count {
            return;
        }
        shown = pct;
        let rate = n as f64 / started.elapsed().as_secs_f64().max(0.001);
        eprint!("\rseeding {slug}: {n}/{count} ({pct}%), {rate:.0} users/s   ");
        let _ = std::io::stderr().flush();
    };
    let done = fold::domain::directory::seed::seed_users(
        &db,
        flock.id,
        &domain,
        count,
        &hash,
        now,
        chrono::Duration::seconds(1),
        progress,
    )
    .await?;
    eprintln!();
    db.refresh_stats().await?;
    println!(
        "seeded {} users into {slug} in {:.1} s",
        done.users,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn spec_without_storage(mut config: Config) -> Result<String, Box<dyn std::error::Error>> {
    let dir = tempdir()?;
    config.database.url = format!("sqlite://{}/spec.db?mode=rwc", dir.display()).into();
    config.kv.url = None;
    config.kv.path = dir.join("kv.redb");
    // Nothing of the configured storage is created: outboxes and files go to the
    // temporary directory too.
    config.mail.smtp_url = None;
    config.mail.outbox_dir = dir.join("outbox");
    config.sms.provider = "outbox".into();
    config.sms.outbox_dir = dir.join("sms-outbox");
    config.files.store = "local".into();
    config.files.dir = dir.join("files");
    let state = AppState::build(config, Clock::system()).await?;
    let spec = state.spec_json();
    drop(state);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(spec)
}

fn tempdir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("fold-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
