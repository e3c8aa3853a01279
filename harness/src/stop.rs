//! A clean stop. Once a run starts, SIGINT, SIGTERM and SIGHUP no longer kill the runner
//! outright (which would leave its workers' objects to `clean`): they write to a pipe every
//! watchdog polls, so each running worker is killed and its journal replayed as at a deadline,
//! no further case starts, and the command exits 128 + the signal's number.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;

pub const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

struct Stop {
    /// Readable once a stop signal came: never drained, so every poller sees it.
    read: OwnedFd,
    _write: OwnedFd,
    signal: Arc<AtomicUsize>,
}

static STOP: OnceLock<Stop> = OnceLock::new();

/// Installs the handlers (once per process).
pub fn install() -> anyhow::Result<()> {
    if STOP.get().is_some() {
        return Ok(());
    }
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
        .context("pipe2 for the stop signal")?;
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in SIGNALS {
        // The flag first, so a poller woken by the pipe finds the signal's number set.
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
            .with_context(|| format!("a handler for signal {sig}"))?;
        signal_hook::low_level::pipe::register_raw(sig, write.as_raw_fd())
            .with_context(|| format!("a handler for signal {sig}"))?;
    }
    let _ = STOP.set(Stop { read, _write: write, signal });
    Ok(())
}

/// The stop signal received, if any.
pub fn requested() -> Option<i32> {
    STOP.get().map(|s| s.signal.load(Ordering::SeqCst) as i32).filter(|&s| s != 0)
}

/// A descriptor that becomes readable when a stop is requested (None before `install`).
pub fn fd() -> Option<BorrowedFd<'static>> {
    STOP.get().map(|s| s.read.as_fd())
}

/// The shell's convention: 128 + the signal's number (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
pub fn exit_code(signal: i32) -> u8 {
    (128 + signal).clamp(0, 255) as u8
}

pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map(|s| s.as_str().to_string()).unwrap_or_else(|_| signal.to_string())
}
