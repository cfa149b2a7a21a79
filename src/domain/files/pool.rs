//! The image workers: a few dedicated threads, off the async runtime, fed through a
//! bounded queue. Dedicated (not `spawn_blocking`) so each decode reuses its thread's
//! memory instead of leaving a few megabytes in every blocking thread it lands on; bounded
//! so a burst of uploads waits (or is refused with 503) instead of taking every core from
//! sign-ins.
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Pool {
    jobs: SyncSender<Job>,
}

#[derive(Debug)]
pub enum PoolError {
    /// Every worker is busy and the queue holds as many as it may.
    Full,
    /// The job panicked (a decoder choking on a hostile file); the worker lives on.
    Crashed,
}

impl Pool {
    /// `workers` threads; up to `queue` jobs wait for one.
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("fold-image-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A decoder that panics on a hostile file costs that upload
                        // (its caller sees the pool error), never the worker.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a worker; `Err(Full)` at once when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| PoolError::Crashed),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(PoolError::Full),
        }
    }
}
