//! Who is calling and from where, for the request being served. The API frame opens the
//! scope with the client's address and user agent; the security checkers add the actor
//! once its credential is verified (a user, a manager, an API key, a platform key).
//! Recording an event reads it, so every audit row says who acted and from where without
//! every service passing it along. Outside a request (the workers) there is none: the
//! actor is `system`. Setting it costs the hot path no allocation: the actor is kept as
//! a [`Caller`] and named only when an event is written.
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A verified caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    User(Uuid),
    Manager(Uuid),
    ApiKey(Uuid),
    /// A platform key (`None`: the key from the configuration).
    Platform(Option<Uuid>),
}

impl Caller {
    /// As the audit log names it: `user:<id>`, `manager:<id>`, `api_key:<id>`,
    /// `platform:<id>` (or `platform:configured`).
    pub fn name(self) -> String {
        match self {
            Caller::User(id) => format!("user:{id}"),
            Caller::Manager(id) => format!("manager:{id}"),
            Caller::ApiKey(id) => format!("api_key:{id}"),
            Caller::Platform(Some(id)) => format!("platform:{id}"),
            Caller::Platform(None) => "platform:configured".to_owned(),
        }
    }

    /// A flock API key, a manager or a platform key: a back-office caller.
    pub fn is_back_office(self) -> bool {
        !matches!(self, Caller::User(_))
    }
}

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub actor: Option<Caller>,
}

tokio::task_local! {
    static CURRENT: Arc<Mutex<RequestContext>>;
}

/// The longest user agent kept (the column's width).
const UA_MAX: usize = 256;

impl RequestContext {
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(UA_MAX);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        Self {
            ip,
            user_agent,
            actor: None,
        }
    }

    /// The actor to record: the one verified, `anonymous` in a request without one,
    /// `system` outside requests.
    pub fn actor_or_default(ctx: Option<&RequestContext>) -> String {
        match ctx {
            Some(c) => c.actor.map_or_else(|| "anonymous".to_owned(), Caller::name),
            None => "system".to_owned(),
        }
    }
}

/// Runs `f` with `ctx` as the request's context; answers its output and the context as
/// `f` left it (with the actor found on the way).
pub async fn scope<F: Future>(ctx: RequestContext, f: F) -> (F::Output, RequestContext) {
    let cell = Arc::new(Mutex::new(ctx));
    let out = CURRENT.scope(cell.clone(), f).await;
    let ctx = cell.lock().map(|c| c.clone()).unwrap_or_default();
    (out, ctx)
}

/// The current request's context, if any.
pub fn current() -> Option<RequestContext> {
    CURRENT
        .try_with(|c| c.lock().ok().map(|c| c.clone()))
        .ok()
        .flatten()
}

fn update(f: impl FnOnce(&mut RequestContext)) {
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut g) = c.lock() {
            f(&mut g);
        }
    });
}

/// Records who is calling (a verified credential).
pub fn set_actor(actor: Caller) {
    update(|c| c.actor = Some(actor));
}
