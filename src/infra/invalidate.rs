//! Cross-replica cache invalidation. Replicas keep short-lived caches on the hot path
//! (flocks, signing keys, user rows, profile schemas); a change made on one replica
//! drops its own copy at once and is announced on a Redis channel, so every other replica
//! drops its copy within milliseconds instead of waiting for the entry to expire. The
//! embedded default runs one process and announces nothing.
//!
//! A message lost while a replica's subscription is down cannot be replayed: whenever
//! the subscription (re)starts, the replica drops every cached entry ([`Topic::All`]),
//! and each entry still expires on its own (flocks 10 s, keys 60 s, users 2 s).
use crate::ids::{FlockId, UserId};
use futures::StreamExt;
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// A flock (by slug): created, changed, disabled, enabled, deleted.
    Flock(String),
    /// A flock's signing keys: rotated, or the flock deleted.
    SigningKeys(FlockId),
    /// A user's row, meta, profile values or files.
    User(FlockId, UserId),
    /// A flock's profile schema (and so every user's public profile values).
    Schema(FlockId),
    /// Anything: the subscription (re)started and messages may have been missed.
    All,
}

impl Topic {
    fn encode(&self) -> String {
        match self {
            Topic::Flock(slug) => format!("flock|{slug}"),
            Topic::SigningKeys(f) => format!("keys|{f}"),
            Topic::User(f, u) => format!("user|{f}|{}", u.0),
            Topic::Schema(f) => format!("schema|{f}"),
            Topic::All => "all".into(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('|');
        let uuid = |p: Option<&str>| p.and_then(|s| Uuid::parse_str(s).ok());
        Some(match parts.next()? {
            "flock" => Topic::Flock(parts.next()?.to_owned()),
            "keys" => Topic::SigningKeys(FlockId::announced(uuid(parts.next())?)),
            "user" => Topic::User(
                FlockId::announced(uuid(parts.next())?),
                UserId(uuid(parts.next())?),
            ),
            "schema" => Topic::Schema(FlockId::announced(uuid(parts.next())?)),
            "all" => Topic::All,
            _ => return None,
        })
    }
}

/// The announcer (held by the database layer, which every cache owner reaches) and the
/// subscription (a worker `app.rs` starts with the function that drops what a topic
/// names; it holds the services, so the announcer does not).
#[derive(Clone, Default)]
pub struct Invalidations {
    /// `None`: one process (the embedded default), nothing to announce.
    redis: Option<Arc<Redis>>,
}

struct Redis {
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
    channel: String,
    /// This replica's id: its own announcements are not applied twice.
    origin: String,
}

impl Invalidations {
    /// Announces on `{prefix}invalidate` of the Redis at `url`.
    pub fn redis(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            redis: Some(Arc::new(Redis {
                client,
                conn,
                channel: format!("{prefix}invalidate"),
                origin: Uuid::new_v4().simple().to_string(),
            })),
        })
    }

    /// Tells the other replicas (the caller has dropped its own copy). Does not wait:
    /// the change is committed already, and a lost announcement costs at most the
    /// entry's lifetime.
    pub fn publish(&self, topic: Topic) {
        let Some(r) = &self.redis else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut conn = r.conn.clone();
        let channel = r.channel.clone();
        let message = format!("{}|{}", r.origin, topic.encode());
        rt.spawn(async move {
            if let Err(e) = conn.publish::<_, _, ()>(&channel, &message).await {
                tracing::warn!(error = %e, "cache invalidation not announced; other replicas see the change when their entry expires");
            }
        });
    }

    /// Applies the other replicas' announcements with `apply` until aborted (Redis
    /// only); reconnects after a second when the subscription drops.
    pub fn spawn_subscriber(
        &self,
        apply: impl Fn(&Topic) + Send + Sync + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let r = self.redis.clone()?;
        Some(tokio::spawn(async move {
            loop {
                if let Err(e) = subscribe_once(&r, &apply).await {
                    tracing::warn!(error = %e, "cache invalidation subscription lost; retrying in 1 s");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    }
}

/// One subscription: applies messages until the connection ends.
async fn subscribe_once(r: &Redis, apply: &impl Fn(&Topic)) -> redis::RedisResult<()> {
    let mut pubsub = r.client.get_async_pubsub().await?;
    pubsub.subscribe(&r.channel).await?;
    // Whatever was announced while not subscribed is unknown: drop everything.
    apply(&Topic::All);
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let Ok(text) = msg.get_payload::<String>() else {
            continue;
        };
        let Some((origin, rest)) = text.split_once('|') else {
            continue;
        };
        if origin == r.origin {
            continue;
        }
        if let Some(topic) = Topic::decode(rest) {
            apply(&topic);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_survive_the_wire() {
        let f = FlockId::new();
        let u = UserId(Uuid::new_v4());
        for t in [
            Topic::Flock("acme-2".into()),
            Topic::SigningKeys(f),
            Topic::User(f, u),
            Topic::Schema(f),
            Topic::All,
        ] {
            assert_eq!(Topic::decode(&t.encode()), Some(t));
        }
        assert_eq!(Topic::decode("nonsense|x"), None);
    }
}
