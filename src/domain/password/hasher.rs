//! argon2id hashing on a bounded pool: `workers` dedicated threads (not the async
//! runtime's), at most `queue` jobs waiting; past that, new jobs are refused (503) rather
//! than letting a login flood eat memory or starve other requests. Unknown users are checked
//! against a dummy hash so both paths cost the same.
use crate::infra::secret::ct_eq;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::cell::RefCell;
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

thread_local! {
    /// This pool thread's argon2 working memory (m_cost KiB), reused hash after hash so a
    /// login flood neither allocates 19 MiB per attempt nor grows the heap.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Memory kept per thread at most; a larger imported hash gets a one-off allocation.
const KEEP_BLOCKS: usize = 64 * 1024;

/// argon2 of `pwd` into `out`, using this thread's reusable memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let argon = Argon2::new(algorithm, version, params.clone());
    let need = params.block_count();
    if need > KEEP_BLOCKS {
        let mut blocks = vec![Block::default(); need];
        return argon.hash_password_into_with_memory(pwd, salt, out, &mut blocks[..]);
    }
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() < need {
            m.resize(need, Block::default());
        }
        argon.hash_password_into_with_memory(pwd, salt, out, &mut m[..need])
    })
}

fn hash_sync(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let internal = |e: &dyn std::fmt::Display| HashError::Internal(e.to_string());
    // A fresh random 16-byte salt per hash.
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password,
        &salt,
        &mut out,
    )
    .map_err(|e| internal(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| internal(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| internal(&e))?),
        hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
    };
    Ok(phc.to_string())
}

/// Verifies an argon2 PHC hash of any variant and parameters (they are in the string).
fn verify_argon2(parsed: &PasswordHash, password: &[u8]) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    argon2_into(
        algorithm,
        version,
        &params,
        password,
        salt.as_ref(),
        &mut out,
    )
    .is_ok()
        && ct_eq(&out, expected.as_bytes())
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
    Verified {
        ok: verify_argon2(&parsed, password),
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
        // On a short-lived thread: its argon2 memory goes with it instead of staying
        // with the caller's thread.
        let dummy = {
            let p = params.clone();
            std::thread::spawn(move || hash_sync(&p, b"fold-dummy-password-for-unknown-users"))
                .join()
                .map_err(|_| HashError::Internal("dummy hash thread panicked".into()))??
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn small() -> Params {
        Params::new(256, 1, 1, None).unwrap_or_default()
    }

    #[test]
    fn our_hashes_and_the_argon2_crates_verify_each_other() {
        let p = small();
        let ours = hash_sync(&p, b"a long passphrase").unwrap_or_default();
        assert!(ours.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours);
        assert!(parsed.is_ok_and(|h| Argon2::default()
            .verify_password(b"a long passphrase", &h)
            .is_ok()));
        assert!(verify_sync(&p, b"a long passphrase", &ours).ok);
        assert!(!verify_sync(&p, b"a long passphrasE", &ours).ok);

        let theirs = Argon2::new(Algorithm::Argon2i, Version::V0x13, small())
            .hash_password_with_salt(b"imported", b"0123456789abcdef")
            .map(|h| h.to_string())
            .unwrap_or_default();
        let v = verify_sync(&p, b"imported", &theirs);
        assert!(v.ok && v.needs_rehash, "argon2i verifies and is upgraded");
        assert!(!verify_sync(&p, b"imported!", &theirs).ok);
    }
}
