//! Small descriptor helpers shared by the mechanism modules.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use anyhow::Context as _;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::{read, write};

/// Bytes queued for reading (FIONREAD).
pub fn fionread(fd: &impl AsFd) -> anyhow::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::FIONREAD, &mut n) };
    if r < 0 {
        return Err(Errno::last()).context("ioctl(FIONREAD)");
    }
    Ok(n as usize)
}

/// The pipe's capacity (F_GETPIPE_SZ).
pub fn pipe_size(fd: &impl AsFd) -> anyhow::Result<usize> {
    Ok(fcntl(fd, FcntlArg::F_GETPIPE_SZ).context("fcntl(F_GETPIPE_SZ)")? as usize)
}

pub fn set_nonblocking(fd: &impl AsFd) -> anyhow::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL).context("F_GETFL")?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).context("F_SETFL")?;
    Ok(())
}

pub fn clear_nonblocking(fd: &impl AsFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
}

/// In a forked child: replaces the process with `argv` (searched on PATH); returns 127 if exec
/// failed, as a shell would.
pub fn exec(argv: &[&str]) -> i32 {
    let Ok(args) = argv.iter().map(|a| std::ffi::CString::new(*a)).collect::<Result<Vec<_>, _>>() else {
        return 127;
    };
    let _ = nix::unistd::execvp(&args[0], &args);
    127
}

/// Writes `chunk`-sized blocks, then single bytes, until EAGAIN; returns the bytes written.
pub fn fill_nonblocking(fd: &impl AsFd, chunk: usize) -> anyhow::Result<usize> {
    let block = vec![b'f'; chunk];
    let mut total = 0;
    for size in [chunk, 1] {
        loop {
            match write(fd, &block[..size]) {
                Ok(n) => total += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(e).context("write while filling"),
            }
        }
    }
    Ok(total)
}

/// Reads until EAGAIN (or EOF); returns the bytes read.
pub fn drain_nonblocking(fd: &impl AsFd) -> anyhow::Result<usize> {
    let mut buf = vec![0u8; 65536];
    let mut total = 0;
    loop {
        match read(fd, &mut buf) {
            Ok(0) | Err(Errno::EAGAIN) => return Ok(total),
            Ok(n) => total += n,
            Err(e) => return Err(e).context("read while draining"),
        }
    }
}

/// Writes everything; false on any error.
pub fn write_all_fd(fd: &impl AsFd, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

/// One read of whatever arrives first (at most `max` bytes), waiting at most `within`.
pub fn read_some(fd: &impl AsFd, max: usize, within: Duration) -> anyhow::Result<Vec<u8>> {
    if !harness::proc::poll_readable_within_budget(fd.as_fd(), within, "data to read")? {
        return Err(harness::proc::unanswered(format!("nothing to read within {within:?}")));
    }
    let mut buf = vec![0u8; max];
    let n = read(fd, &mut buf).context("read")?;
    buf.truncate(n);
    Ok(buf)
}

/// Like [`read_some`], as text (a child's report).
pub fn read_text(fd: &impl AsFd, max: usize, within: Duration) -> anyhow::Result<String> {
    Ok(String::from_utf8_lossy(&read_some(fd, max, within)?).into_owned())
}

/// Closes this process's copy of a descriptor in a forked child, where the parent's owner lives on.
pub fn close_in_child(fd: &impl AsRawFd) {
    // SAFETY: in a forked child, closing the inherited number affects only the child.
    unsafe { libc::close(fd.as_raw_fd()) };
}

/// An observation of a blocking check: where the process slept, or why it was not seen asleep.
pub fn blocked_obs(blocked: &anyhow::Result<harness::proc::Blocked>) -> serde_json::Value {
    match blocked {
        Ok(b) => serde_json::json!(format!("blocked in {} (state {})", b.syscall, b.state)),
        Err(e) => serde_json::json!(format!("not seen blocked: {e}")),
    }
}

/// A sysctl's value from /proc/sys (dots become slashes), trimmed.
pub fn sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/"))).ok().map(|v| v.trim().to_string())
}

extern "C" fn do_nothing(_: libc::c_int) {}

/// Catches `signal` with a handler that does nothing, so a blocked call is interrupted rather
/// than the process killed; `restart` sets SA_RESTART.
pub fn catch_with_noop(signal: nix::sys::signal::Signal, restart: bool) -> nix::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let flags = if restart { SaFlags::SA_RESTART } else { SaFlags::empty() };
    let act = SigAction::new(SigHandler::Handler(do_nothing), flags, SigSet::empty());
    // SAFETY: the handler does nothing at all.
    unsafe { sigaction(signal, &act) }.map(drop)
}

/// The clock the kernel stamps IPC times with (its coarse realtime clock, which may lag the
/// precise one by a tick), as seconds and nanoseconds.
pub fn kernel_now() -> (i64, i64) {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_REALTIME_COARSE).map(|t| (t.tv_sec(), t.tv_nsec())).unwrap_or((0, 0))
}

/// Seconds since the epoch, as the kernel stamps IPC times.
pub fn now_secs() -> i64 {
    kernel_now().0
}

/// Whether an IPC time stamp `t` is the current second (give or take one).
pub fn within_a_second(t: i64) -> bool {
    (t - now_secs()).abs() <= 1
}

/// Bytes as spaced hex, lowest address first.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// A symbol's address in the C library, if it exports that name. The library is opened by its
/// soname: in a dynamic binary that is the loaded libc itself; a static runner (the kernel-matrix
/// guests) has no dynamic symbols of its own and loads the shared libc of the same glibc build.
pub fn libc_symbol(name: &str) -> Option<*mut libc::c_void> {
    static LIBC: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let handle = *LIBC.get_or_init(|| {
        // SAFETY: dlopen of the C library by its soname; the handle is kept for the process.
        unsafe { libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY) as usize }
    });
    if handle == 0 {
        return None;
    }
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: dlsym looks a name up in that library's exports.
    let p = unsafe { libc::dlsym(handle as *mut libc::c_void, c.as_ptr()) };
    (!p.is_null()).then_some(p)
}

/// Polls observable state until `reached` holds or `within` passes (1 ms between looks), within
/// what is left of the case's time (a `harness::proc::BoundedWait`).
pub fn wait_until(within: std::time::Duration, mut reached: impl FnMut() -> bool) -> bool {
    let wait = harness::proc::BoundedWait::new(within);
    loop {
        if reached() {
            return true;
        }
        if wait.left().is_zero() {
            wait.ran_out("a state to be reached");
            return false;
        }
        // A pause between looks, not a synchronisation: only `reached` ends the wait early,
        // and states like SIOCOUTQ have no descriptor event to sleep on.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
