//! argon2id hashing on a bounded pool: `workers` dedicated threads (not the async
//! runtime's), at most `queue` jobs waiting; past that, new jobs are refused (503) rather
//! than letting a login flood eat memory or starve other requests. Unknown users are checked
//! against a dummy hash so both paths cost the same.
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks in progress")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash is weaker than the current policy (or not argon2id): rehash it.
    pub needs_rehash: bool,
}

/// A hash job, run on one of the pool's threads.
type Job = Box<dyn FnOnce(&Params) + Send + 'static>;

struct Inner {
    params: Params,
    /// Bounded: a full queue refuses new jobs (`HashError::Busy`) instead of growing.
    jobs: SyncSender<Job>,
    dummy: String,
}

#[derive(Clone)]
pub struct Hasher(Arc<Inner>);

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_sync(params: &Params, password: &[u8]) -> Result<String, HashError> {
    // A fresh random 16-byte salt per hash.
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    argon(params)
        .hash_password_with_salt(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Internal(e.to_string()))
}

fn verify_sync(params: &Params, password: &[u8], stored: &str) -> Verified {
    if stored.starts_with("$2") {
        // bcrypt imported from another system: verify, then upgrade to argon2id.
        let ok = bcrypt::verify(password, stored).unwrap_or(false);
        return Verified {
            ok,
            needs_rehash: true,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified {
            ok: false,
            needs_rehash: false,
        };
    };
    let weaker = parsed.algorithm.as_str() != "argon2id"
        || Params::try_from(&parsed)
            .map(|p| {
                p.m_cost() < params.m_cost()
                    || p.t_cost() < params.t_cost()
                    || p.p_cost() < params.p_cost()
            })
            .unwrap_or(true);
    // Argon2 (any variant, any params) verifies with the params in the PHC string.
    let ok = Argon2::default().verify_password(password, &parsed).is_ok();
    Verified {
        ok,
        needs_rehash: weaker,
    }
}

impl Hasher {
    pub fn new(
        m_kib: u32,
        t: u32,
        p: u32,
        workers: usize,
        queue: usize,
    ) -> Result<Self, HashError> {
        let params =
            Params::new(m_kib, t, p, None).map_err(|e| HashError::Internal(e.to_string()))?;
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let dummy = hash_sync(&params, b"fold-dummy-password-for-unknown-users")?;
        // A fixed set of threads: argon2's 19 MiB working memory is reused by the same
        // few threads instead of being spread over the runtime's blocking pool, so memory
        // stays at about `workers` × m_cost under any login flood.
        let (tx, rx) = sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            let params = params.clone();
            std::thread::Builder::new()
                .name(format!("fold-hash-{i}"))
                .spawn(move || loop {
                    let job = {
                        let Ok(guard) = rx.lock() else { return };
                        match guard.recv() {
                            Ok(job) => job,
                            // Every Hasher handle is gone: the pool ends.
                            Err(_) => return,
                        }
                    };
                    job(&params);
                })
                .map_err(|e| HashError::Internal(e.to_string()))?;
        }
        Ok(Self(Arc::new(Inner {
            params,
            jobs: tx,
            dummy,
        })))
    }

    /// Runs `f` on a pool thread; refuses at once when the queue is full.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Params) -> R + Send + 'static,
    ) -> Result<R, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |p| {
            let _ = tx.send(f(p));
        });
        match self.0.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(HashError::Internal("hash pool stopped".into()))
            }
        }
        rx.await
            .map_err(|_| HashError::Internal("hash worker stopped".into()))
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        self.run(move |p| hash_sync(p, password.expose_secret().as_bytes()))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// stored hash (unknown user, or an account without a password): same cost either way.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.0.dummy.clone());
        let v = self
            .run(move |p| verify_sync(p, password.expose_secret().as_bytes(), &stored))
            .await?;
        Ok(Verified {
            ok: v.ok && known,
            needs_rehash: v.needs_rehash && known,
        })
    }

    pub fn params(&self) -> (u32, u32, u32) {
        (
            self.0.params.m_cost(),
            self.0.params.t_cost(),
            self.0.params.p_cost(),
        )
    }
}
