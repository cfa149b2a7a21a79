//! argon2id hashing on a bounded pool: at most `workers` hashes run at once on blocking
//! threads, at most `queue` wait; past that, new jobs are refused (503) rather than
//! letting a login flood eat memory or starve other requests. Unknown users are checked
//! against a dummy hash so both paths cost the same.
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

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

struct Inner {
    params: Params,
    permits: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
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
        Ok(Self(Arc::new(Inner {
            params,
            permits: Semaphore::new(workers),
            waiting: AtomicUsize::new(0),
            queue,
            dummy,
        })))
    }

    /// Runs `f` on a blocking thread once a worker is free.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Params) -> R + Send + 'static,
    ) -> Result<R, HashError> {
        if self.0.waiting.fetch_add(1, Ordering::AcqRel) >= self.0.queue {
            self.0.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        let permit = self.0.permits.acquire().await;
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(|e| HashError::Internal(e.to_string()))?;
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || f(&inner.params))
            .await
            .map_err(|e| HashError::Internal(e.to_string()))
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
