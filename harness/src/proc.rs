//! Child processes for experiments: fork with a kill-on-drop guard, waits with deadlines, and
//! proof that a process is blocked in a given system call (from /proc, never from a sleep).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use serde::Serialize;

/// A process or the kernel did not do what an experiment waited for (exit, block, stop, an
/// end of file, a report) within its deadline, or a child could only report a refused step as
/// text. An observation about the kernel, not a fault of the harness: a case that stops on it
/// leaves its undecided claims `skipped`, naming what did not happen.
#[derive(Debug)]
pub struct Unanswered(pub String);

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unanswered {}

/// What leaves a case's decisions after it without ground: the worker journals each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inconclusive {
    /// A wait (for what is named) that the case's deadline cut short.
    CutShort(String),
    /// A state the harness needed but the kernel would not show (named, with why).
    Unobservable(String),
}

/// The end of the case's time, minus a margin for reporting (past it the watchdog would kill the
/// worker and every claim would be `error`), and the journal to note what was inconclusive in.
type OnInconclusive = Box<dyn Fn(Inconclusive) + Send + Sync>;
static CASE_DEADLINE: std::sync::OnceLock<(Instant, OnInconclusive)> = std::sync::OnceLock::new();

/// Sets the case's deadline (the worker does, once, before the case runs; forked children
/// inherit it). `on_inconclusive` is told of each wait the deadline cut short and each state
/// the kernel would not show (the worker journals them).
pub fn set_case_deadline(at: Instant, on_inconclusive: impl Fn(Inconclusive) + Send + Sync + 'static) {
    let _ = CASE_WORKER.set(std::process::id());
    let _ = CASE_DEADLINE.set((at, Box::new(on_inconclusive)));
}

/// A state the case needed that the kernel (or an emulator) would not show: the case's decisions
/// from here on are `skipped`, naming `why`. In the worker itself this also ends the case at
/// once (unwinding, so its handles still remove what they made): a case that went on would act on
/// a state it only assumed (write to a FIFO its readers have not opened yet, and die of SIGPIPE).
/// In a forked child it returns, and the child's caller sees the error that follows.
pub fn note_unobservable(why: String) {
    note_inconclusive(Inconclusive::Unobservable(why.clone()));
    if CASE_WORKER.get() == Some(&std::process::id()) {
        std::panic::panic_any(CaseEnded(why));
    }
}

/// The payload of the unwinding [`note_unobservable`] starts in the worker.
#[derive(Debug)]
pub struct CaseEnded(pub String);

/// The worker's pid, so a forked child is told from the worker.
static CASE_WORKER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn note_inconclusive(what: Inconclusive) {
    if let Some((_, note)) = CASE_DEADLINE.get() {
        note(what);
    }
}

/// A wait of up to `within`, shortened to what is left of the case's time, so a wait for
/// something that never comes ends before the watchdog's kill. A wait that runs out calls
/// [`BoundedWait::ran_out`]: if the case's deadline, not `within`, ended it, its "not within" is
/// no observation, and the journal's `OutOfTime` makes the decisions after it `skipped`.
pub struct BoundedWait {
    within: Duration,
    given: Duration,
    until: Instant,
}

impl BoundedWait {
    pub fn new(within: Duration) -> Self {
        let now = Instant::now();
        let given = match CASE_DEADLINE.get() {
            Some((deadline, _)) => within.min(deadline.saturating_duration_since(now)),
            None => within,
        };
        BoundedWait { within, given, until: now + given }
    }

    /// What is left of the wait; zero once it ran out.
    pub fn left(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }

    /// The wait for `what` ended without it: notes a wait the case's deadline cut short.
    pub fn ran_out(&self, what: &str) {
        if self.given < self.within {
            note_inconclusive(Inconclusive::CutShort(format!("{what} (up to {:?})", self.within)));
        }
    }
}

/// Waits up to `within` (a [`BoundedWait`]) for `fd` to become readable. Once the case's time
/// is up it does not look at all: a loop that keeps finding a little data (a kernel that returns
/// reads short) ends at the case's deadline, not at the watchdog's.
pub fn poll_readable_within_budget(fd: impl AsFd, within: Duration, what: &str) -> anyhow::Result<bool> {
    let wait = BoundedWait::new(within);
    if wait.given.is_zero() && !within.is_zero() {
        wait.ran_out(what);
        return Ok(false);
    }
    let ready = poll_readable(fd.as_fd(), wait.left())?;
    if !ready {
        wait.ran_out(what);
    }
    Ok(ready)
}

/// An [`Unanswered`] error, for a case to return with `?`.
pub fn unanswered(what: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Unanswered(what.into()))
}

/// Returns an [`Unanswered`] error from the enclosing function.
macro_rules! unanswered {
    ($($arg:tt)*) => {
        return Err(unanswered(format!($($arg)*)))
    };
}

/// How a child ended, in the words a report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    Signal { signal: &'static str, core_dumped: bool },
}

impl Exit {
    fn from_status(status: WaitStatus) -> Option<Exit> {
        match status {
            WaitStatus::Exited(_, code) => Some(Exit::Code(code)),
            WaitStatus::Signaled(_, sig, core_dumped) => Some(Exit::Signal { signal: sig.as_str(), core_dumped }),
            _ => None,
        }
    }

    pub fn signal(&self) -> Option<&'static str> {
        match self {
            Exit::Signal { signal, .. } => Some(signal),
            Exit::Code(_) => None,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal { signal, core_dumped: true } => write!(f, "killed by {signal} (core dumped)"),
            Exit::Signal { signal, .. } => write!(f, "killed by {signal}"),
        }
    }
}

/// A forked child, killed and reaped when dropped so no experiment leaves a process behind.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    exit: Option<Exit>,
}

/// Exit code a child uses when its closure panicked.
pub const CHILD_PANICKED: i32 = 101;

/// Forks; the child runs `body` and `_exit`s with its return value, never unwinding into the
/// parent's code. Call only from a single-threaded process (every worker is one). The child
/// starts with SIGPIPE at its default action, as a C program does (the worker ignores it).
pub fn spawn(body: impl FnOnce() -> i32) -> anyhow::Result<Child> {
    // SAFETY: workers are single-threaded, so the child may run arbitrary code after fork.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            // SAFETY: setting a disposition to its default runs no code.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(CHILD_PANICKED);
            // SAFETY: _exit skips the parent's atexit handlers and buffered state.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(Child { pid: child, pidfd: pidfd_open(child), exit: None }),
    }
}

/// Runs `start` (a libc call that starts a program, such as popen) with SIGPIPE at its default
/// action, so the program it starts inherits the default and not the worker's SIG_IGN.
pub fn with_default_sigpipe<T>(start: impl FnOnce() -> T) -> T {
    // SAFETY: setting dispositions runs no code; the worker is single-threaded, so nothing else
    // writes while the default is in place.
    let before = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let result = start();
    // SAFETY: as above; `before` came from signal().
    unsafe { libc::signal(libc::SIGPIPE, before) };
    result
}

/// A descriptor that becomes readable when `pid` exits, or None (gone already, or no pidfd_open).
pub fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative return is a descriptor we now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits up to `timeout` for `fd` to become readable. Returns whether it did.
pub fn poll_readable(fd: impl AsFd, timeout: Duration) -> anyhow::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
            Ok(n) => return Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
    }
}

impl Child {
    /// Takes charge of a process this one did not fork: a grandchild that will be reparented
    /// to this (subreaper) process. It is killed when dropped; it can be waited for once it is
    /// this process's child.
    pub fn adopt(pid: i32) -> Child {
        let pid = Pid::from_raw(pid);
        Child { pid, pidfd: pidfd_open(pid), exit: None }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    pub fn raw_pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Non-blocking: the exit, if the child has ended.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<Exit>> {
        if self.exit.is_none() {
            let status = waitpid(self.pid, Some(WaitPidFlag::WNOHANG)).context("waitpid")?;
            self.exit = Exit::from_status(status);
        }
        Ok(self.exit)
    }

    /// Waits for the child to end, at most `within`. An error names the deadline that passed.
    pub fn wait_exit(&mut self, within: Duration) -> anyhow::Result<Exit> {
        let wait = BoundedWait::new(within);
        loop {
            if let Some(exit) = self.try_exit()? {
                return Ok(exit);
            }
            let left = wait.left();
            if left.is_zero() {
                wait.ran_out("a child's exit");
                unanswered!("child {} did not exit within {:?}", self.pid, within);
            }
            self.sleep_until_exit_or(left.min(Duration::from_millis(50)))?;
        }
    }

    /// Blocks until the child exits or `at_most` passes, whichever is first: a wait on the child's
    /// own state (its pidfd), used both to wait for exits and as the pause between /proc samples.
    fn sleep_until_exit_or(&self, at_most: Duration) -> anyhow::Result<()> {
        match &self.pidfd {
            Some(fd) => {
                poll_readable(fd, at_most)?;
            }
            // Kernels before 5.3 have no pidfd: a zero-timeout wait keeps the loop live.
            None => std::thread::yield_now(),
        }
        Ok(())
    }

    pub fn signal(&self, sig: Signal) -> anyhow::Result<()> {
        kill(self.pid, sig).with_context(|| format!("kill({}, {})", self.pid, sig.as_str()))
    }

    /// Waits until the child sleeps inside `syscall` (a `libc::SYS_*` number); see [`wait_blocked_pid`].
    pub fn wait_blocked(&mut self, syscall: i64, within: Duration) -> anyhow::Result<Blocked> {
        if let Some(exit) = self.try_exit()? {
            unanswered!("child {} ended ({exit}) instead of blocking in {}", self.pid, syscall_name(syscall));
        }
        wait_blocked_pid(self.raw_pid(), syscall, within)
    }

    /// Waits until the child is stopped (state `T`), e.g. after SIGSTOP.
    pub fn wait_stopped(&mut self, within: Duration) -> anyhow::Result<()> {
        if let Some(exit) = self.try_exit()? {
            unanswered!("child {} ended ({exit}) instead of stopping", self.pid);
        }
        wait_for_state(self.raw_pid(), "stopped (state T)", within, |s| s.state == 'T').map(|_| ())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// Waits until one of `children` ends, at most `within`; returns the index of one that did.
/// Sleeps on all their pidfds at once, so no child's exit is missed or waited for late.
pub fn wait_any_exit(children: &mut [&mut Child], within: Duration) -> anyhow::Result<usize> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let wait = BoundedWait::new(within);
    loop {
        for (i, child) in children.iter_mut().enumerate() {
            if child.try_exit()?.is_some() {
                return Ok(i);
            }
        }
        let left = wait.left();
        if left.is_zero() {
            wait.ran_out("one of several children's exits");
            unanswered!("none of {} children exited within {within:?}", children.len());
        }
        let mut fds: Vec<PollFd> = children
            .iter()
            .filter_map(|c| c.pidfd.as_ref())
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if fds.len() < children.len() {
            // Kernels before 5.3 have no pidfd: a zero-timeout wait keeps the loop live.
            std::thread::yield_now();
            continue;
        }
        let ms = left.as_millis().min(50) as i32;
        match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
    }
}

/// Waits until process `pid` (a child or not) sleeps inside `syscall`, proven by
/// `/proc/<pid>/stat` state `S` (or `D`) and `/proc/<pid>/syscall` naming that call. Between
/// samples it waits on the process's pidfd, so an exit ends the wait at once (as an error: the
/// process did not block).
pub fn wait_blocked_pid(pid: i32, syscall: i64, within: Duration) -> anyhow::Result<Blocked> {
    let name = syscall_name(syscall);
    let s = wait_in_call(pid, &format!("blocked in {name}"), within, |seen| same_call(syscall, seen))?;
    Ok(Blocked { syscall: name, state: s.state, wchan: s.wchan })
}

/// Waits until process `pid` sleeps (state S or D) in a system call `accepts`. Where the kernel
/// will not show this process /proc/<pid>/syscall, the case cannot know and says so at once:
/// its decisions from here on are `skipped` naming why (see [`Inconclusive::Unobservable`]).
pub fn wait_in_call(pid: i32, what: &str, within: Duration, accepts: impl Fn(i64) -> bool) -> anyhow::Result<Sample> {
    // A refusal can be brief (a process in the middle of execve): only one that lasts
    // REFUSAL_LASTS ends the wait, as a state that cannot be shown.
    let refused_since = std::cell::Cell::new(None::<Instant>);
    let s = wait_for_state(pid, what, within, |s| {
        if !s.syscall_refused {
            refused_since.set(None);
            return matches!(s.state, 'S' | 'D') && s.syscall.is_some_and(&accepts);
        }
        let since = refused_since.get().unwrap_or_else(Instant::now);
        refused_since.set(Some(since));
        since.elapsed() >= REFUSAL_LASTS
    })?;
    if s.syscall_refused {
        // One text whatever the call and the errno (EACCES or EPERM, by where the check falls),
        // so the observation is the same in every run.
        let why = format!(
            "the kernel refuses this process /proc/<pid>/syscall (no ptrace access{}), so where a process sleeps cannot be shown",
            yama_setting()
        );
        note_unobservable(why.clone());
        unanswered!("{why}");
    }
    Ok(s)
}

/// How long /proc/<pid>/syscall must stay refused before the harness calls it unobservable.
const REFUSAL_LASTS: Duration = Duration::from_millis(250);

/// Whether the kernel seeing `seen` means the process is in the call `expected`: a libc or an
/// emulator may make one call through another (qemu-user sleeps in rt_sigsuspend for pause, in
/// semtimedop for semop, in ppoll for poll).
pub fn same_call(expected: i64, seen: i64) -> bool {
    const ALIKE: &[(i64, i64)] = &[
        (libc::SYS_pause, libc::SYS_rt_sigsuspend),
        (libc::SYS_semop, libc::SYS_semtimedop),
        (libc::SYS_accept, libc::SYS_accept4),
        (libc::SYS_poll, libc::SYS_ppoll),
        (libc::SYS_select, libc::SYS_pselect6),
        (libc::SYS_nanosleep, libc::SYS_clock_nanosleep),
        (libc::SYS_open, libc::SYS_openat),
    ];
    expected == seen || ALIKE.iter().any(|&(a, b)| (a, b) == (expected, seen) || (b, a) == (expected, seen))
}

/// Samples /proc/<pid> until `reached` holds, the process ends (an error: it never got there), or
/// `within` passes. Between samples it waits up to 1 ms on the process's pidfd, which an exit
/// ends at once.
pub fn wait_for_state(
    pid: i32,
    what: &str,
    within: Duration,
    reached: impl Fn(&Sample) -> bool,
) -> anyhow::Result<Sample> {
    let wait = BoundedWait::new(within);
    let pidfd = pidfd_open(Pid::from_raw(pid));
    loop {
        let last = match sample(pid) {
            None => unanswered!("process {pid} ended instead of being {what}"),
            Some(s) if reached(&s) => return Ok(s),
            Some(s) if s.state == 'Z' => unanswered!("process {pid} exited instead of being {what}"),
            Some(s) => s,
        };
        if wait.left().is_zero() {
            wait.ran_out(&format!("a process to be {what}"));
            unanswered!(
                "process {pid} not {what} within {within:?}; last seen state {} in syscall {:?}",
                last.state,
                last.syscall
            );
        }
        match &pidfd {
            Some(fd) => {
                poll_readable(fd, Duration::from_millis(1))?;
            }
            None => std::thread::yield_now(),
        }
    }
}

/// Signals pending for a process, its own and its thread group's (SigPnd | ShdPnd of
/// /proc/<pid>/status), as a mask with bit n-1 for signal n.
pub fn pending_signals(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    Some(mask("SigPnd:")? | mask("ShdPnd:")?)
}

/// Proof that a process was asleep in a system call.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    pub syscall: &'static str,
    pub state: char,
    pub wchan: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub state: char,
    pub syscall: Option<i64>,
    /// /proc/<pid>/syscall was refused (EACCES, EPERM): the caller may not ptrace the process.
    pub syscall_refused: bool,
    pub wchan: Option<String>,
}

/// "; kernel.yama.ptrace_scope = N" where Yama decides who may read another's /proc/<pid>/syscall.
fn yama_setting() -> String {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .map(|v| format!("; kernel.yama.ptrace_scope = {}", v.trim()))
        .unwrap_or_default()
}

/// The fields of /proc/<pid>/stat after "(comm)": index 0 is field 3 (state), 2 is pgrp,
/// 19 is starttime (field 22).
pub fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat[stat.rfind(')')? + 1..].split_whitespace().map(str::to_string).collect())
}

/// The start time field of /proc/<pid>/stat, which tells a pid from a reused one.
pub fn process_start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(22 - 3)?.parse().ok()
}

/// Indexes into [`stat_fields`]: the parent's pid and the process group.
pub const STAT_PPID: usize = 1;
pub const STAT_PGRP: usize = 2;

/// Every process whose /proc/<pid>/stat field `field` (an index into [`stat_fields`]) is `value`.
pub fn processes_where(field: usize, value: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat_fields(pid).is_some_and(|f| f.get(field).and_then(|v| v.parse().ok()) == Some(value)))
        .collect()
}

/// Waits (up to `within`) for each of `pids` that still exists to exit.
pub fn wait_gone(pids: &[i32], within: Duration) {
    let deadline = std::time::Instant::now() + within;
    for fd in pids.iter().filter_map(|&p| pidfd_open(Pid::from_raw(p))) {
        let _ = poll_readable(&fd, deadline.saturating_duration_since(std::time::Instant::now()));
    }
}

/// One reading of a process's scheduler state and current system call.
pub fn sample(pid: i32) -> Option<Sample> {
    let state = stat_fields(pid)?.first()?.chars().next()?;
    let read = std::fs::read_to_string(format!("/proc/{pid}/syscall"));
    let syscall_refused = read.as_ref().is_err_and(|e| matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)));
    let syscall = read.ok().and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok());
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok().filter(|w| !w.is_empty() && w != "0");
    Some(Sample { state, syscall, syscall_refused, wchan })
}

/// The name of a system call number, for observations.
pub fn syscall_name(nr: i64) -> &'static str {
    match nr {
        libc::SYS_read => "read",
        libc::SYS_write => "write",
        libc::SYS_openat => "openat",
        libc::SYS_msgsnd => "msgsnd",
        libc::SYS_msgrcv => "msgrcv",
        libc::SYS_semop => "semop",
        libc::SYS_semtimedop => "semtimedop",
        libc::SYS_accept => "accept",
        libc::SYS_accept4 => "accept4",
        libc::SYS_recvfrom => "recvfrom",
        libc::SYS_sendto => "sendto",
        libc::SYS_connect => "connect",
        libc::SYS_wait4 => "wait4",
        libc::SYS_pause => "pause",
        libc::SYS_rt_sigsuspend => "rt_sigsuspend",
        libc::SYS_poll => "poll",
        libc::SYS_ppoll => "ppoll",
        libc::SYS_clock_nanosleep => "clock_nanosleep",
        libc::SYS_nanosleep => "nanosleep",
        libc::SYS_select => "select",
        libc::SYS_pselect6 => "pselect6",
        libc::SYS_epoll_wait => "epoll_wait",
        libc::SYS_futex => "futex",
        libc::SYS_waitid => "waitid",
        libc::SYS_rt_sigtimedwait => "rt_sigtimedwait",
        libc::SYS_mq_timedsend => "mq_timedsend",
        libc::SYS_mq_timedreceive => "mq_timedreceive",
        libc::SYS_recvmsg => "recvmsg",
        libc::SYS_sendmsg => "sendmsg",
        libc::SYS_open => "open",
        _ => "syscall",
    }
}

/// A child that reports one serialisable value to its parent through a pipe.
pub struct Reporting<T> {
    child: Child,
    report: OwnedFd,
    _value: std::marker::PhantomData<T>,
}

/// Forks a child that runs `body` and sends its value back (as JSON) before exiting 0.
pub fn spawn_reporting<T: serde::Serialize>(body: impl FnOnce() -> T) -> anyhow::Result<Reporting<T>> {
    let (read_end, write_end) = report_pipe()?;
    let (read_raw, write_raw) = (read_end.as_raw_fd(), write_end.as_raw_fd());
    let child = spawn(move || {
        // SAFETY: the child's copy of the read end is closed once; the parent keeps its own.
        unsafe { libc::close(read_raw) };
        // SAFETY: the write end stays open in the child until it exits.
        let out = unsafe { std::os::fd::BorrowedFd::borrow_raw(write_raw) };
        if send_frame(out, &body()) {
            0
        } else {
            3
        }
    })?;
    drop(write_end);
    Ok(Reporting { child, report: read_end, _value: std::marker::PhantomData })
}

impl<T> Reporting<T> {
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl<T: serde::de::DeserializeOwned> Reporting<T> {
    /// The reported value (None if the child died before reporting) and how the child ended.
    pub fn finish(mut self, within: Duration) -> anyhow::Result<(Option<T>, Exit)> {
        let value = recv_frame(&self.report, within)?;
        let exit = self.child.wait_exit(within)?;
        Ok((value, exit))
    }
}

/// Sends one value as a frame: its JSON length (8 bytes, little-endian), then the JSON. The
/// reader needs no end of file (a grandchild may hold the write end, the sender may go on) and
/// does not care how the kernel splits the bytes. False if the channel failed.
pub fn send_frame<T: Serialize + ?Sized>(fd: impl AsFd, value: &T) -> bool {
    let Ok(json) = serde_json::to_vec(value) else { return false };
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    let mut sent = 0;
    while sent < bytes.len() {
        match nix::unistd::write(fd.as_fd(), &bytes[sent..]) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Receives one frame of [`send_frame`] within `within`. `None` when the sender closed the
/// channel before a whole frame (it died), or sent something that does not parse as a `T`.
pub fn recv_frame<T: serde::de::DeserializeOwned>(fd: impl AsFd, within: Duration) -> anyhow::Result<Option<T>> {
    let wait = BoundedWait::new(within);
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let wanted = match got.get(..8) {
            Some(len) => 8 + u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize,
            None => 8,
        };
        if got.len() >= 8 && got.len() >= wanted {
            return Ok(serde_json::from_slice(&got[8..wanted]).ok());
        }
        let left = wait.left();
        if left.is_zero() || !poll_readable(fd.as_fd(), left)? {
            wait.ran_out("a child's report");
            unanswered!("no whole report within {within:?} (got {} bytes)", got.len());
        }
        let room = (wanted - got.len()).min(buf.len());
        match nix::unistd::read(fd.as_fd(), &mut buf[..room]) {
            Ok(0) => return Ok(None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("reading a child's report"),
        }
    }
}

/// A pipe for a child to report a value to its parent.
pub fn report_pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2 for a report channel")
}

/// Reads everything until EOF, at most `within` in all.
pub fn read_to_end_within(fd: impl AsFd, within: Duration) -> anyhow::Result<Vec<u8>> {
    let wait = BoundedWait::new(within);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = wait.left();
        if left.is_zero() || !poll_readable(fd.as_fd(), left)? {
            wait.ran_out("an end of file");
            unanswered!("no EOF within {within:?} (read {} bytes)", out.len());
        }
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("read"),
        }
    }
}

/// Makes this process a child subreaper: orphans among its descendants become its children, so
/// it can wait for (and must reap) them.
pub fn become_subreaper() -> anyhow::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    nix::errno::Errno::result(r).context("prctl(PR_SET_CHILD_SUBREAPER)")?;
    Ok(())
}

/// Closes every descriptor from `lowest` up, as a freshly exec'd C program would have them.
pub fn close_from(lowest: i32) {
    // SAFETY: close_range only closes descriptors; the caller owns the process (a fresh child).
    let r = unsafe { libc::syscall(libc::SYS_close_range, lowest as libc::c_uint, libc::c_uint::MAX, 0) };
    if r != 0 {
        for fd in lowest..1024 {
            // SAFETY: closing an unused number is harmless (EBADF).
            unsafe { libc::close(fd) };
        }
    }
}
