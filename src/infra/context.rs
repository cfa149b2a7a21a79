//! Who is calling and from where, for the request being served. The API frame opens the
//! scope with the client's address and user agent; the security checkers add the actor
//! once its credential is verified (a user, a manager, an API key, a platform key). Recording an event reads it, so every audit row
//! says who acted and from where without every service passing it along. Outside a
//! request (the workers) there is none: the actor is `system`.
use std::future::Future;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `user:<id>`, `manager:<id>`, `api_key:<id>`, `platform:<id>`.
    pub actor: Option<String>,
}

tokio::task_local! {
    static CURRENT: Arc<Mutex<RequestContext>>;
}

/// The longest user agent kept (the column's width).
const UA_MAX: usize = 256;

impl RequestContext {
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
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
            Some(c) => c.actor.clone().unwrap_or_else(|| "anonymous".to_owned()),
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
pub fn set_actor(actor: String) {
    update(|c| c.actor = Some(actor));
}
