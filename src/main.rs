//! The `fold` command line: serve, migrate, flock management, the OpenAPI spec.
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
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Manage flocks.
    Flock {
        #[command(subcommand)]
        command: FlockCommand,
    },
    /// Write the OpenAPI spec (to stdout, or to --out).
    Openapi {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum FlockCommand {
    /// Create a flock; prints its first admin API key once.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Rotate a flock's signing key.
    RotateKey { slug: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    fold::telemetry::init(&config.log);
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
        Command::Openapi { out } => {
            // The spec needs no database: build the services on throwaway parts.
            let spec = spec_without_storage(config).await?;
            match out {
                Some(path) => std::fs::write(path, spec)?,
                None => print!("{spec}"),
            }
        }
        Command::Migrate => {
            let state = AppState::build(config, Clock::system()).await?;
            state.db.migrate().await?;
            eprintln!("migrations applied");
        }
        Command::Serve { no_migrate } => {
            tracing::info!(config = ?config, "starting");
            let migrate = config.database.auto_migrate && !no_migrate;
            let state = AppState::build(config, Clock::system()).await?;
            if migrate {
                state.db.migrate().await?;
            }
            if let Some(key) = state.api_keys.ensure_platform_key().await? {
                println!("Platform key (shown once, store it now): {key}");
            }
            tracing::info!(bind = %state.config.http.bind, kv = state.kv.backend_name(), "listening");
            app::serve(state, app::shutdown_signal()).await?;
        }
        Command::Flock { command } => {
            let state = AppState::build(config, Clock::system()).await?;
            state.db.migrate().await?;
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

async fn spec_without_storage(mut config: Config) -> Result<String, Box<dyn std::error::Error>> {
    let dir = tempdir()?;
    config.database.url = format!("sqlite://{}/spec.db?mode=rwc", dir.display()).into();
    config.kv.url = None;
    config.kv.path = dir.join("kv.redb");
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
