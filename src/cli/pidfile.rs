//! The pid file of `fold serve` (default `./fold.pid`): `fold stop` stops exactly that
//! server, and a second `fold serve` with the same pid file says which process runs.
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The pid file of this process; removed when dropped (if it still names this process).
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`, unless a running Fold already holds it.
    pub fn claim(path: &Path) -> Result<Self, String> {
        if let Some(pid) = read(path)? {
            if pid != std::process::id() as i32 && is_fold(pid) {
                return Err(format!(
                    "{} names a running Fold server (pid {pid}). Stop it with `fold stop \
                     --pid-file {}`, or give this one another --pid-file",
                    path.display(),
                    path.display()
                ));
            }
        }
        let tmp = path.with_extension("pid.tmp");
        std::fs::write(&tmp, format!("{}\n", std::process::id()))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("--pid-file {}: cannot write it: {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read(&self.path).ok().flatten() == Some(std::process::id() as i32) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The pid in `path`, if the file exists.
fn read(path: &Path) -> Result<Option<i32>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse::<i32>()
            .map(Some)
            .map_err(|_| format!("{} does not hold a process id", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Whether `pid` is a live process running Fold (its command line names `fold`, where
/// the system shows command lines), so a recycled pid is never signalled.
fn is_fold(pid: i32) -> bool {
    if !running(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains("fold"),
        Err(_) => true,
    }
}

/// Whether `pid` is a live process (an exited child its parent has not reaped yet, a
/// zombie, counts as gone).
fn running(pid: i32) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    let state = state
        .as_deref()
        .and_then(|s| s.rsplit_once(") "))
        .and_then(|(_, rest)| rest.chars().next());
    state != Some('Z')
}

/// Sends SIGTERM to the server named by `path` and waits until it has drained and exited
/// (at most `wait`). Returns its pid.
pub fn stop(path: &Path, wait: Duration) -> Result<i32, String> {
    let pid = read(path)?.ok_or_else(|| {
        format!(
            "{} does not exist: no server started with this pid file is running",
            path.display()
        )
    })?;
    if !is_fold(pid) {
        let _ = std::fs::remove_file(path);
        return Err(format!(
            "{} named pid {pid}, which is not a running Fold (a stale file, now removed)",
            path.display()
        ));
    }
    kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| format!("pid {pid}: {e}"))?;
    let started = Instant::now();
    while started.elapsed() < wait {
        if !running(pid) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "pid {pid} got SIGTERM but is still running after {} s (draining long requests?)",
        wait.as_secs()
    ))
}
