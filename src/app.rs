//! The composition root: config → services → routes, and the server's lifecycle.
use crate::api::{self, frame::FrameConfig, ApiServices};
use crate::config::Config;
use crate::db::Db;
use crate::domain::addresses::AddressService;
use crate::domain::admin::AdminService;
use crate::domain::api_keys::ApiKeyService;
use crate::domain::directory::DirectoryService;
use crate::domain::federation::{FederationService, FederationTimes, ProviderKeys};
use crate::domain::files::{FileService, FileUrls};
use crate::domain::flocks::FlockService;
use crate::domain::groups::GroupService;
use crate::domain::limits::{Limits, LoginThrottle, LoginThrottleConfig};
use crate::domain::mail::worker::MailWorker;
use crate::domain::mail::MailComposer;
use crate::domain::meta::MetaService;
use crate::domain::otp::OtpService;
use crate::domain::pages::Cursors;
use crate::domain::password::Hasher;
use crate::domain::profile::{ProfileService, Schemas};
use crate::domain::retention::RetentionService;
use crate::domain::sessions::access::TokenService;
use crate::domain::sessions::SessionService;
use crate::domain::signin::SignInService;
use crate::domain::signing::SigningKeys;
use crate::domain::user::UserService;
use crate::domain::webhooks::worker::WebhookWorker;
use crate::domain::webhooks::WebhookService;
use crate::infra::clock::Clock;
use crate::infra::invalidate::{Invalidations, Topic};
use crate::infra::ip_limit::IpLimiter;
use crate::infra::kv::{EmbeddedKv, Kv, RedisKv};
use crate::infra::mail::Mailer;
use crate::infra::metrics::Metrics;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::Endpoint;
use secrecy::ExposeSecret;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

pub struct Services {
    pub config: Config,
    /// `http.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub clock: Clock,
    pub db: Db,
    pub kv: Kv,
    pub metrics: Metrics,
    pub ip_limiter: IpLimiter,
    pub mailer: Mailer,
    pub hasher: Hasher,
    pub flocks: FlockService,
    pub signing: SigningKeys,
    pub sessions: SessionService,
    pub signin: SignInService,
    pub api_keys: ApiKeyService,
    pub users: UserService,
    pub limits: Limits,
    pub otp: OtpService,
    pub directory: DirectoryService,
    pub meta: MetaService,
    pub groups: GroupService,
    pub profile: ProfileService,
    pub addresses: AddressService,
    pub files: FileService,
    pub federation: FederationService,
    pub admin: AdminService,
    pub webhooks: WebhookService,
    pub webhook_worker: WebhookWorker,
    pub retention: RetentionService,
    pub audit: crate::domain::audit::AuditService,
    pub stats: crate::domain::stats::StatsService,
    /// Delivers the durable mail outbox (`start_workers` runs it in the background).
    pub mail_worker: MailWorker,
    /// The flocks' profile schemas (cached; dropped when another replica changes one).
    pub schemas: Schemas,
}

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("key-value store: {0}")]
    Kv(#[from] crate::infra::kv::KvError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The configured database, migrations not applied; an error names the setting, where the
/// database is, and the cause (for example "connection refused").
pub async fn connect_db(config: &Config) -> Result<Db, StartError> {
    let url = config.database.url.expose_secret();
    match Db::connect(url, config.database.max_connections).await {
        Ok(db) => Ok(db.with_probe_cap(config.database.search_probe_cap)),
        Err(e) => Err(StartError::Config(format!(
            "database.url: cannot open the database at {}: {}",
            where_is(url),
            cause(url, &e.to_string()).await
        ))),
    }
}

/// `host:port/name` of a server URL, or the file of a SQLite URL (never the password).
fn where_is(url: &str) -> String {
    if let Some(file) = url.strip_prefix("sqlite://") {
        return file.split('?').next().unwrap_or(file).to_owned();
    }
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("?"),
            u.port_or_known_default().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "(an unreadable URL)".into(),
    }
}

/// The driver's error, and when it only says the pool gave up waiting, what a plain TCP
/// connection to the server says (refused, unreachable, timed out).
async fn cause(url: &str, error: &str) -> String {
    if !error.contains("timed out") {
        return error.to_owned();
    }
    let Some((host, port)) = url::Url::parse(url)
        .ok()
        .and_then(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default()?)))
    else {
        return error.to_owned();
    };
    let probe = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    match probe {
        Ok(Ok(_)) => format!("{error} (the server accepts TCP connections: check the credentials, the database name and max_connections)"),
        Ok(Err(io)) => format!("{io}"),
        Err(_) => "no answer within 2 s (host down or port filtered)".into(),
    }
}

/// The embedded KV store; a store another process holds is named with what to do.
fn open_embedded_kv(path: &std::path::Path) -> Result<EmbeddedKv, StartError> {
    EmbeddedKv::open(path).map_err(|e| {
        if held_by_another_process(&e) {
            StartError::Config(format!(
                "kv.path: {} is in use by another process (a `fold serve` on this data \
                 directory?). Stop it with `fold stop`, or point kv.path elsewhere",
                path.display()
            ))
        } else {
            StartError::Kv(e)
        }
    })
}

/// Whether opening the embedded KV store failed because another process holds its file.
pub fn held_by_another_process(e: &crate::infra::kv::KvError) -> bool {
    let text = e.to_string();
    text.contains("already open") || text.contains("lock")
}

impl AppState {
    /// Connects to the database and the KV store and wires every service.
    pub async fn build(config: Config, clock: Clock) -> Result<Self, StartError> {
        let db = connect_db(&config).await?;
        let kv = match &config.kv.url {
            Some(url) if !url.expose_secret().is_empty() => {
                let timeout = std::time::Duration::from_millis(config.kv.timeout_ms.max(1));
                let redis = RedisKv::connect(url.expose_secret(), &config.kv.prefix, timeout)?;
                redis.warn_without_persistence().await;
                Kv::Redis(redis)
            }
            _ => Kv::Embedded(open_embedded_kv(&config.kv.path)?),
        };
        Self::with_parts(config, clock, db, kv)
    }

    /// The services for operator commands (`fold flock …`, `fold user …`): the database
    /// and, with Redis, the shared Redis. The embedded KV store belongs to the running
    /// server (one process holds its file): here it is a private scratch store in
    /// `scratch`, so these commands run beside `fold serve`. What they call must not rely
    /// on sessions, codes or counters (creating flocks, keys and users does not).
    pub async fn for_operator(
        mut config: Config,
        clock: Clock,
        scratch: &std::path::Path,
    ) -> Result<Self, StartError> {
        if config
            .kv
            .url
            .as_ref()
            .is_none_or(|u| u.expose_secret().is_empty())
        {
            config.kv.path = scratch.join("operator.redb");
        }
        Self::build(config, clock).await
    }

    pub fn with_parts(config: Config, clock: Clock, db: Db, kv: Kv) -> Result<Self, StartError> {
        // With Redis, several replicas may run: a cache entry changed on one is dropped on
        // every other (`start_invalidations` applies what the others announce).
        let db = match config.kv.url.as_ref().map(|u| u.expose_secret()) {
            Some(url) if !url.is_empty() => {
                let timeout = Duration::from_millis(config.kv.timeout_ms.max(1));
                let announce = Invalidations::redis(url, &config.kv.prefix, timeout)
                    .map_err(|e| StartError::Config(format!("kv.url: {e}")))?;
                db.with_invalidations(announce)
            }
            _ => db,
        };
        let sec = &config.security;
        let hasher = Hasher::new(
            sec.argon2_m_kib,
            sec.argon2_t,
            sec.argon2_p,
            sec.hash_workers,
            sec.hash_queue,
        )
        .map_err(|e| StartError::Config(e.to_string()))?;
        let mailer =
            Mailer::from_config(&config.mail).map_err(|e| StartError::Config(e.to_string()))?;
        let metrics = Metrics::new().map_err(|e| StartError::Config(e.to_string()))?;
        let signing = SigningKeys::new(db.clone(), clock.clone());
        let tokens = TokenService::new(
            clock.clone(),
            &config.http.public_url,
            signing.clone(),
            sec.token_cache_secs,
        );
        let sessions = SessionService::new(kv.clone(), clock.clone(), tokens, db.clone());
        let file_store = crate::infra::files::FileStore::from_config(&config.files)
            .map_err(StartError::Config)?;
        let flocks = FlockService::new(db.clone(), clock.clone(), signing.clone())
            .with_file_store(file_store.clone(), config.files.max_upload_bytes as u64);
        let api_keys = ApiKeyService::new(db.clone(), clock.clone(), config.platform.key.clone());
        let limits = Limits::new(kv.clone(), clock.clone());
        let login_throttle = LoginThrottle::new(
            limits.clone(),
            LoginThrottleConfig {
                ip_per_hour: sec.login_ip_per_hour,
                flock_per_hour: sec.login_flock_per_hour,
                ..LoginThrottleConfig::default()
            },
        );
        let composer = MailComposer::new(&config.http.public_url)
            .map_err(|e| StartError::Config(e.to_string()))?;
        let schemas = Schemas::new(db.clone());
        let file_workers = match config.files.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        let files = FileService::new(
            db.clone(),
            clock.clone(),
            file_store,
            FileUrls::new(signing.clone(), clock.clone(), config.files.url_ttl_secs),
            file_workers,
            config.files.queue,
        )
        .map_err(|e| StartError::Config(format!("files: cannot start the image workers: {e}")))?;
        let profile = ProfileService::new(db.clone(), clock.clone(), schemas.clone())
            .with_files(files.clone());
        let users = UserService::new(
            db.clone(),
            clock.clone(),
            hasher.clone(),
            sessions.clone(),
            composer,
            Duration::from_millis(sec.uniform_response_ms),
        )
        .with_throttle(login_throttle)
        .with_schemas(schemas.clone())
        .with_files(files.clone());
        let sms = crate::infra::sms::from_config(&config.sms).map_err(StartError::Config)?;
        let otp = OtpService::new(
            kv.clone(),
            clock.clone(),
            limits.clone(),
            mailer.clone(),
            sms,
            users.clone(),
            sec.otp_secret.clone(),
        );
        let signin = SignInService::new(users.clone(), otp.clone(), sessions.clone());
        let fed = &config.federation;
        let outbound = crate::infra::outbound::Outbound::new(
            fed.allow_private_networks,
            Duration::from_secs(fed.http_timeout_secs.clamp(1, 60)),
            fed.rewrite.clone(),
        )
        .map_err(|e| StartError::Config(format!("federation: {e}")))?;
        let federation = FederationService::new(
            db.clone(),
            kv.clone(),
            clock.clone(),
            crate::infra::sealed::Sealer::new(kv.clone(), sec.secret_key.clone()),
            outbound.clone(),
            ProviderKeys::new(
                outbound,
                clock.clone(),
                fed.jwks_refetch_secs,
                fed.jwks_default_ttl_secs,
            ),
            users.clone(),
            signin.clone(),
            FederationTimes {
                public_url: config.http.public_url.clone(),
                state_ttl: Duration::from_secs(fed.state_ttl_secs.clamp(60, 3600)),
                exchange_ttl: Duration::from_secs(fed.exchange_ttl_secs.clamp(10, 600)),
                leeway_secs: fed.leeway_secs.min(600) as i64,
            },
        );
        let wh = &config.webhooks;
        let hook_out = crate::infra::outbound::Outbound::new(
            wh.allow_private_networks,
            Duration::from_secs(wh.timeout_secs.clamp(1, 60)),
            Default::default(),
        )
        .map_err(|e| StartError::Config(format!("webhooks: {e}")))?;
        let webhooks = WebhookService::new(
            db.clone(),
            clock.clone(),
            crate::infra::sealed::Sealer::new(kv.clone(), sec.secret_key.clone()),
            hook_out.clone(),
        );
        let webhook_worker = WebhookWorker::new(
            db.clone(),
            clock.clone(),
            webhooks.clone(),
            hook_out,
            wh.disable_after_days.max(1),
            wh.timeout_secs.clamp(1, 60),
        );
        let rc = &config.retention;
        let retention = RetentionService::new(
            db.clone(),
            kv.clone(),
            clock.clone(),
            flocks.clone(),
            metrics.clone(),
            rc.batch,
            rc.pause_ms,
            rc.tokens_days,
        );
        let admin = AdminService::new(
            db.clone(),
            clock.clone(),
            users.clone(),
            api::manager_operations(),
        );
        let cursors = Cursors::new(signing.clone());
        let directory =
            DirectoryService::new(db.clone(), clock.clone(), users.clone(), cursors.clone());
        let meta = MetaService::new(db.clone(), clock.clone(), cursors.clone());
        let addresses = AddressService::new(db.clone(), clock.clone(), cursors.clone());
        let audit =
            crate::domain::audit::AuditService::new(db.clone(), clock.clone(), cursors.clone());
        let stats = crate::domain::stats::StatsService::new(db.clone(), clock.clone());
        let groups = GroupService::new(db.clone(), clock.clone(), cursors);
        let mail_worker = MailWorker::new(db.clone(), mailer.clone(), clock.clone());
        let trusted_proxies = config
            .http
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|_| StartError::Config(format!("http.trusted_proxies: bad IP {p:?}")))
            })
            .collect::<Result<Vec<std::net::IpAddr>, _>>()?;
        let ip_limiter = IpLimiter::new(config.limits.ip_per_second, config.limits.ip_burst);
        Ok(Self(Arc::new(Services {
            config,
            trusted_proxies,
            clock,
            db,
            kv,
            metrics,
            ip_limiter,
            mailer,
            hasher,
            flocks,
            signing,
            sessions,
            signin,
            api_keys,
            users,
            limits,
            otp,
            directory,
            meta,
            groups,
            profile,
            addresses,
            files,
            federation,
            admin,
            webhooks,
            webhook_worker,
            retention,
            audit,
            stats,
            mail_worker,
            schemas,
        })))
    }

    /// Starts the background workers (mail delivery; the planner's statistics at start
    /// and hourly). The server calls it; tests drive the mail worker with
    /// `mail_worker.run_once()` instead, deterministically.
    pub fn start_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let db = self.db.clone();
        let stats = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(e) = db.refresh_stats().await {
                    tracing::warn!(error = %e, "refreshing the planner's statistics failed");
                }
            }
        });
        let mut workers = vec![
            self.mail_worker.start(Duration::from_millis(
                self.config.mail.worker_interval_ms.max(100),
            )),
            stats,
            self.webhook_worker.start(Duration::from_millis(
                self.config.webhooks.interval_ms.max(100),
            )),
            self.retention.start(Duration::from_secs(
                self.config.retention.interval_secs.max(60),
            )),
        ];
        workers.extend(self.start_invalidations());
        workers
    }

    /// With Redis: applies what other replicas announce (a flock, its signing keys, a
    /// user or a profile schema changed there) to this replica's caches, from the moment
    /// the subscription is up (`infra/invalidate.rs`). None on the embedded default.
    pub fn start_invalidations(&self) -> Option<tokio::task::JoinHandle<()>> {
        let (flocks, signing, schemas, db) = (
            self.flocks.clone(),
            self.signing.clone(),
            self.schemas.clone(),
            self.db.clone(),
        );
        self.db
            .invalidations()
            .spawn_subscriber(move |topic| match topic {
                Topic::Flock(slug) => flocks.forget_here(slug),
                Topic::SigningKeys(flock) => signing.forget_here(*flock),
                Topic::User(flock, user) => db.forget_user_here(*flock, *user),
                Topic::Schema(flock) => {
                    schemas.forget_here(*flock);
                    db.forget_profiles_here();
                }
                Topic::All => {
                    flocks.forget_all_here();
                    signing.forget_all_here();
                    schemas.forget_all_here();
                    db.forget_users_here();
                }
            })
    }

    /// The services the API calls.
    pub fn api_services(&self) -> ApiServices {
        ApiServices {
            clock: self.clock.clone(),
            flocks: self.flocks.clone(),
            signing: self.signing.clone(),
            users: self.users.clone(),
            sessions: self.sessions.clone(),
            signin: self.signin.clone(),
            otp: self.otp.clone(),
            api_keys: self.api_keys.clone(),
            directory: self.directory.clone(),
            meta: self.meta.clone(),
            groups: self.groups.clone(),
            profile: self.profile.clone(),
            addresses: self.addresses.clone(),
            files: self.files.clone(),
            federation: self.federation.clone(),
            admin: self.admin.clone(),
            webhooks: self.webhooks.clone(),
            retention: self.retention.clone(),
            audit: self.audit.clone(),
            stats: self.stats.clone(),
            probes: api::ops::Probes {
                db: self.db.clone(),
                kv: self.kv.clone(),
                metrics: self.metrics.clone(),
            },
            public_url: self.config.http.public_url.clone(),
        }
    }

    /// The spec for this deployment (`servers` is its `http.public_url`).
    pub fn spec_json(&self) -> String {
        api::spec_json(&self.api_services(), &self.config.http.public_url)
    }

    /// The spec as committed under `openapi/`: `servers` is the default
    /// `http://localhost:8080` whatever this deployment's URL.
    pub fn committed_spec(&self) -> String {
        api::spec_json(&self.api_services(), crate::config::DEFAULT_PUBLIC_URL)
    }

    /// Every route: the API, `/openapi.json`, interactive docs at `/docs`.
    pub fn routes(&self) -> impl Endpoint + 'static {
        let frame = FrameConfig {
            trusted_proxies: self.trusted_proxies.clone(),
            body_limit: self.config.http.body_limit,
            upload_limit: self
                .config
                .files
                .max_upload_bytes
                .max(self.config.http.body_limit),
            ip_limiter: self.ip_limiter.clone(),
            metrics: self.metrics.clone(),
        };
        api::routes(&self.api_services(), frame)
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests and flushes the KV.
pub async fn serve(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let acceptor = listen(&state.config.http.bind).await?;
    serve_bound(state, acceptor, shutdown).await
}

/// Serves on a socket [`listen`] opened (`fold serve` opens it before migrating, so a
/// port in use is reported before anything changes).
pub async fn serve_bound(
    state: AppState,
    acceptor: poem::listener::TcpAcceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let workers = state.start_workers();
    let r = serve_on(state, acceptor, shutdown).await;
    for w in workers {
        w.abort();
    }
    r
}

/// The listening socket for `http.bind`; an error names the setting, the address and
/// what to do.
pub async fn listen(bind: &str) -> Result<poem::listener::TcpAcceptor, StartError> {
    let bind = bind.to_owned();
    TcpListener::bind(bind.clone())
        .into_acceptor()
        .await
        .map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    " (another process listens there: `ss -ltnp` names it; stop it or set \
                     http.bind / FOLD_HTTP__BIND to another port)"
                }
                std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
                _ => "",
            };
            StartError::Config(format!("http.bind: cannot listen on {bind}: {e}{hint}"))
        })
}

pub async fn serve_on(
    state: AppState,
    acceptor: impl Acceptor + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let grace = Duration::from_secs(state.config.http.shutdown_grace_secs);
    let limiter = state.ip_limiter.clone();
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.sweep();
        }
    });
    let routes = state.routes();
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(routes, shutdown, Some(grace))
        .await?;
    sweeper.abort();
    state.kv.flush().await?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
