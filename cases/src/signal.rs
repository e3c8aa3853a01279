//! Signals: note 002's list of common signals (default actions, what produces each), where
//! signals come from, and that they reach a process in any state.
//!
//! Crashes happen in forked children and come back as wait statuses. Terminal signals come from
//! a real pseudo-terminal the case opens, with the child as session leader: the case types the
//! key into the master side, never calls kill for them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use anyhow::Context as _;
use harness::obs::errno_name;
use harness::proc::{self, Exit};
use harness::{Case, Ctx, Decision};
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{pause, pipe2, write, Pid};
use serde::{Deserialize, Serialize};

use crate::util::{blocked_obs, exec, read_some, read_text, wait_until};

pub const CASES: &[Case] = &[
    Case::new(
        "signal.default_actions",
        &["signal.sighup.default_terminates", "signal.sigint.default_terminates", "signal.sigterm.default_terminates"],
        default_actions,
    ),
    // Without CONFIG_COREDUMP no process dumps core, whatever the signal.
    Case::new("signal.default_core", &["signal.sigquit.default_core"], default_core).needs_kernel(&["COREDUMP"]),
    Case::new("signal.terminal_keys", &["signal.sigint.ctrl_c", "signal.sigquit.ctrl_backslash"], terminal_keys)
        .needs_kernel(&["UNIX98_PTYS"]),
    Case::new("signal.terminal_hangup", &["signal.sighup.on_terminal_hangup"], terminal_hangup)
        .needs_kernel(&["UNIX98_PTYS"]),
    Case::new("signal.invalid_address", &["signal.invalid_address.sigsegv_sigbus"], invalid_address),
    Case::new("signal.arithmetic", &["signal.sigfpe.division_by_zero", "signal.sigfpe.overflow"], arithmetic),
    Case::new(
        "signal.shell_kill",
        &["signal.sigkill.kill_dash_9", "signal.sigkill.cannot_be_stopped", "signal.sigterm.kill_pid"],
        shell_kill,
    )
    .needs_commands(&["sh"]),
    Case::new("signal.alarm_timer", &["signal.sigalrm.timer"], alarm_timer).needs_kernel(&["POSIX_TIMERS"]),
    Case::new(
        "signal.child_exit",
        &["signal.sigchld.sent_on_child_exit", "signal.sigchld.zombie_unless_ignored"],
        child_exit,
    ),
    Case::new("signal.sources", &["signal.sources.hardware", "signal.sources.software"], sources),
    Case::new(
        "signal.delivery_in_any_state",
        &["signal.delivery.any_time_any_state", "signal.nature.asynchronous"],
        delivery_in_any_state,
    ),
    Case::new("signal.little_information", &["signal.nature.least_information"], little_information),
];

// ---------------------------------------------------------------------------------------------
// Helpers: crash children, core dumps, siginfo records, pseudo-terminal sessions
// ---------------------------------------------------------------------------------------------

/// Whether this machine's core_pattern writes a file in the crashing process's directory, so a
/// child may dump core into the worker's own directory. A pipe or an absolute path would hand
/// the dump to something outside the suite: then no core is attempted.
fn local_core_pattern() -> Option<String> {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok()?.trim().to_string();
    (!pattern.is_empty() && !pattern.starts_with('|') && !pattern.contains('/')).then_some(pattern)
}

/// In a child about to crash: allow a small core dump in `dir` (a directory of its own, so
/// dumps never meet an existing file), when the core pattern is local.
fn allow_core_in(dir: &Path) {
    if local_core_pattern().is_none()
        || std::fs::create_dir_all(dir).is_err()
        || std::env::set_current_dir(dir).is_err()
    {
        return;
    }
    // Only the ELF headers and notes: no memory contents, a few kilobytes.
    let _ = std::fs::write("/proc/self/coredump_filter", "0");
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write one rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max.min(64 << 20);
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
}

/// A child that sleeps in pause() until a signal ends it.
fn pausing_child(ctx: &mut Ctx, setup: impl FnOnce()) -> anyhow::Result<proc::Child> {
    let mut child = ctx.spawn(|| {
        setup();
        loop {
            pause();
        }
    })?;
    child.wait_blocked(libc::SYS_pause, ctx.wait_limit())?;
    Ok(child)
}

/// What a SA_SIGINFO handler saw, sent through a pipe as four numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SigRecord {
    pub signo: i32,
    pub code: i32,
    pub pid: i32,
    pub addr: u64,
}

static RECORD_FD: AtomicI32 = AtomicI32::new(-1);

/// A field of a Linux x86-64 siginfo by byte offset: the union starts at 16 (si_pid, or si_addr
/// for faults); si_status and si_value's int sit at 24.
///
/// # Safety
/// `info` must point at a siginfo the kernel filled.
unsafe fn siginfo_field<T: Copy>(info: *const libc::siginfo_t, offset: usize) -> T {
    // SAFETY: the caller's siginfo is 128 bytes; every offset used here is well inside it.
    unsafe { info.cast::<u8>().add(offset).cast::<T>().read_unaligned() }
}

extern "C" fn record_siginfo(signo: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; the reads stay inside its 128 bytes.
    let (code, pid, addr) =
        unsafe { ((*info).si_code, siginfo_field::<i32>(info, 16), siginfo_field::<u64>(info, 16)) };
    let mut bytes = [0u8; 20];
    bytes[..4].copy_from_slice(&signo.to_ne_bytes());
    bytes[4..8].copy_from_slice(&code.to_ne_bytes());
    bytes[8..12].copy_from_slice(&pid.to_ne_bytes());
    bytes[12..].copy_from_slice(&addr.to_ne_bytes());
    let fd = RECORD_FD.load(Ordering::SeqCst);
    // SAFETY: write(2) is async-signal-safe; the record is below PIPE_BUF, so it arrives whole.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if signo == libc::SIGSEGV || signo == libc::SIGBUS {
        // Returning would repeat the faulting access.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) };
    }
}

fn parse_record(bytes: &[u8]) -> Option<SigRecord> {
    let int = |at: usize| Some(i32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some(SigRecord {
        signo: int(0)?,
        code: int(4)?,
        pid: int(8)?,
        addr: u64::from_ne_bytes(bytes.get(12..20)?.try_into().ok()?),
    })
}

/// In a child: route `signals` to the recording handler, which writes to `fd`.
fn record_signals(fd: &impl AsRawFd, signals: &[Signal]) {
    RECORD_FD.store(fd.as_raw_fd(), Ordering::SeqCst);
    let act = SigAction::new(SigHandler::SigAction(record_siginfo), SaFlags::SA_SIGINFO, SigSet::empty());
    for &sig in signals {
        // SAFETY: the handler only uses async-signal-safe calls.
        let _ = unsafe { sigaction(sig, &act) };
    }
}

fn si_code_name(signo: i32, code: i32) -> String {
    let generic = match code {
        libc::SI_USER => Some("SI_USER"),
        libc::SI_KERNEL => Some("SI_KERNEL"),
        libc::SI_QUEUE => Some("SI_QUEUE"),
        libc::SI_TIMER => Some("SI_TIMER"),
        libc::SI_TKILL => Some("SI_TKILL"),
        _ => None,
    };
    let specific = match (signo, code) {
        (libc::SIGSEGV, 1) => Some("SEGV_MAPERR"),
        (libc::SIGSEGV, 2) => Some("SEGV_ACCERR"),
        (libc::SIGBUS, 2) => Some("BUS_ADRERR"),
        (libc::SIGCHLD, 1) => Some("CLD_EXITED"),
        (libc::SIGCHLD, 2) => Some("CLD_KILLED"),
        _ => None,
    };
    generic.or(specific).map(String::from).unwrap_or_else(|| format!("si_code {code}"))
}

fn signal_name(signo: i32) -> &'static str {
    Signal::try_from(signo).map(Signal::as_str).unwrap_or("unknown signal")
}

/// A fresh page-sized address that is no longer mapped.
fn unmapped_address() -> Option<*mut u8> {
    // SAFETY: an anonymous mapping is made and removed; the address is only compared or touched
    // in a child that is meant to fault on it.
    unsafe {
        let p = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        if p == libc::MAP_FAILED || libc::munmap(p, 4096) != 0 {
            return None;
        }
        Some(p.cast())
    }
}

/// Touches an unmapped address, in a child that is meant to die of it.
fn write_unmapped() -> i32 {
    match unmapped_address() {
        // SAFETY: not safe by design: the write faults, which is the experiment.
        Some(p) => unsafe {
            std::ptr::write_volatile(p, 1);
            0
        },
        None => 2,
    }
}

/// A session with a fresh pseudo-terminal as its controlling terminal: a leader (a shell's
/// place), a foreground job and a background job, each in its own process group. The leader
/// waits for the foreground job and reports how it ended.
struct PtySession {
    master: OwnedFd,
    leader: proc::Child,
    foreground: proc::Child,
    background: proc::Child,
    reports: OwnedFd,
    groups_apart: bool,
}

fn pty_session(ctx: &mut Ctx) -> anyhow::Result<PtySession> {
    let limit = ctx.wait_limit();
    // The jobs are the leader's children; when the leader goes, this worker inherits and reaps them.
    proc::become_subreaper()?;
    let pty = nix::pty::openpty(None, None).context("openpty")?;
    let (reports, report_w) = pipe2(OFlag::O_CLOEXEC)?;
    let master_raw = pty.master.as_raw_fd();
    let leader = ctx.spawn(|| {
        // SAFETY: the child's copy of the master goes; the parent keeps its own.
        unsafe { libc::close(master_raw) };
        if nix::unistd::setsid().is_err() {
            return 2;
        }
        // SAFETY: TIOCSCTTY takes an int argument; the slave is open.
        if unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
            return 3;
        }
        let fork_job = |own_group: bool| -> i32 {
            // SAFETY: this process is single-threaded; the job only calls setpgid and pause.
            match unsafe { libc::fork() } {
                0 => {
                    if own_group {
                        // SAFETY: setpgid on itself.
                        unsafe { libc::setpgid(0, 0) };
                    }
                    loop {
                        pause();
                    }
                }
                pid => {
                    if own_group && pid > 0 {
                        // SAFETY: both sides set the group, so neither depends on who runs first.
                        unsafe { libc::setpgid(pid, pid) };
                    }
                    pid
                }
            }
        };
        let foreground = fork_job(true);
        let background = fork_job(true);
        if foreground <= 0 || background <= 0 || nix::unistd::tcsetpgrp(&pty.slave, Pid::from_raw(foreground)).is_err()
        {
            return 4;
        }
        let _ = write(&report_w, format!("{foreground} {background}\n").as_bytes());
        let ended = match nix::sys::wait::waitpid(Pid::from_raw(foreground), None) {
            Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, core)) => {
                format!("killed by {}{}", sig.as_str(), if core { " (core dumped)" } else { "" })
            }
            Ok(other) => format!("{other:?}"),
            Err(e) => errno_name(e),
        };
        let _ = write(&report_w, ended.as_bytes());
        loop {
            pause();
        }
    })?;
    drop(report_w);
    let pids = read_some(&reports, 64, limit)?;
    let pids: Vec<i32> = String::from_utf8_lossy(&pids).split_whitespace().filter_map(|p| p.parse().ok()).collect();
    let [fg, bg] = pids[..] else { anyhow::bail!("the session leader did not report its jobs") };
    let (foreground, background) = (ctx.adopt(fg), ctx.adopt(bg));
    let mut session = PtySession { master: pty.master, leader, foreground, background, reports, groups_apart: false };
    session.leader.wait_blocked(libc::SYS_wait4, limit)?;
    for job in [fg, bg] {
        proc::wait_blocked_pid(job, libc::SYS_pause, limit)?;
    }
    let group = |pid: i32| nix::unistd::getpgid(Some(Pid::from_raw(pid))).ok();
    let (gl, gf, gb) = (group(session.leader.raw_pid()), group(fg), group(bg));
    session.groups_apart = gl.is_some() && gl != gf && gf != gb && gl != gb;
    Ok(session)
}

/// Whether a process sleeps in `syscall` with nothing pending: no signal reached it. (A fatal
/// signal shows as pending until the process has died, so a sleeping sample is not enough.)
fn untouched(pid: i32, syscall: i64, within: std::time::Duration) -> bool {
    proc::wait_blocked_pid(pid, syscall, within).is_ok() && proc::pending_signals(pid) == Some(0)
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/// Kills a child asleep in pause() with `sig` (its core, if any, in a directory of its own).
fn killed_in_pause(ctx: &mut Ctx, sig: Signal) -> anyhow::Result<Exit> {
    let limit = ctx.wait_limit();
    let dir = ctx.temp_path(&format!("core-{}", sig.as_str()));
    let mut child = pausing_child(ctx, || allow_core_in(&dir))?;
    child.signal(sig)?;
    let exit = child.wait_exit(limit)?;
    ctx.observe(format!("kill({}) on a process in pause(), default action", sig.as_str()), exit);
    Ok(exit)
}

fn default_actions(ctx: &mut Ctx) -> anyhow::Result<()> {
    for (claim, sig) in [
        ("signal.sighup.default_terminates", Signal::SIGHUP),
        ("signal.sigint.default_terminates", Signal::SIGINT),
        ("signal.sigterm.default_terminates", Signal::SIGTERM),
    ] {
        let exit = killed_in_pause(ctx, sig)?;
        let name = sig.as_str();
        ctx.check(
            claim,
            matches!(exit, Exit::Signal { signal, .. } if signal == name),
            format!("the process was terminated by {name}"),
            format!("{name} ended the process with {exit}"),
        );
    }
    Ok(())
}

fn default_core(ctx: &mut Ctx) -> anyhow::Result<()> {
    let core_pattern = local_core_pattern();
    ctx.observe("core dumps attempted (core_pattern local to the process)", core_pattern.is_some());
    let exit = killed_in_pause(ctx, Signal::SIGQUIT)?;
    let decision = match (exit, core_pattern) {
        (Exit::Signal { signal: "SIGQUIT", core_dumped: true }, _) => {
            Decision::holds("the process was terminated by SIGQUIT and the wait status says core dumped")
        }
        (Exit::Signal { signal: "SIGQUIT", core_dumped: false }, None) => Decision::partial(
            "terminated by SIGQUIT; whether it dumps core was not tried, because this machine's core_pattern hands dumps outside the suite",
        ),
        (exit, _) => Decision::refuted(format!("SIGQUIT ended the process with {exit}, no core dump")),
    };
    ctx.decide("signal.sigquit.default_core", decision);
    Ok(())
}

fn terminal_keys(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let mut outcomes = Vec::new();
    for (key, name) in [(0x03u8, "Ctrl+C"), (0x1c, "Ctrl+\\")] {
        let mut session = pty_session(ctx)?;
        write(&session.master, &[key])?;
        let foreground = read_text(&session.reports, 128, limit);
        let foreground = foreground.unwrap_or_else(|e| format!("no report: {e}"));
        // Having reported, the leader goes back to pause().
        let leader_untouched = untouched(session.leader.raw_pid(), libc::SYS_pause, limit);
        let background_untouched = untouched(session.background.raw_pid(), libc::SYS_pause, limit);
        ctx.observe(format!("{name} typed into the pty: foreground job"), &foreground);
        ctx.observe(
            format!("{name}: background job and session leader got nothing"),
            (background_untouched, leader_untouched),
        );
        ctx.observe(format!("{name}: leader, foreground and background in three process groups"), session.groups_apart);
        outcomes.push((foreground, background_untouched && leader_untouched && session.groups_apart));
        session.foreground.try_exit().ok();
    }
    for ((claim, sig), (foreground, others_untouched)) in
        [("signal.sigint.ctrl_c", "SIGINT"), ("signal.sigquit.ctrl_backslash", "SIGQUIT")].into_iter().zip(outcomes)
    {
        ctx.check(
            claim,
            foreground.starts_with(&format!("killed by {sig}")) && others_untouched,
            format!("the key sent {sig} to the terminal's foreground process group only: that job was {foreground}; the background job and the leader got nothing"),
            format!("the key did not deliver {sig} to the foreground job (it was: {foreground})"),
        );
    }
    Ok(())
}

fn terminal_hangup(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let PtySession { master, mut leader, mut foreground, background, .. } = pty_session(ctx)?;
    // Closing the master side is the hangup: the terminal is gone, as at logout.
    drop(master);
    let leader = leader.wait_exit(limit)?;
    let foreground = foreground.wait_exit(limit)?;
    let background_untouched = untouched(background.raw_pid(), libc::SYS_pause, limit);
    ctx.observe("terminal hung up: session leader", leader);
    ctx.observe("  foreground job", foreground);
    ctx.observe("  background job still asleep, nothing pending", background_untouched);
    let hup = |e: Exit| e.signal() == Some("SIGHUP");
    let decision = match (hup(leader), hup(foreground), background_untouched) {
        (true, true, false) => Decision::holds("the leader and both jobs received SIGHUP"),
        (true, true, true) => Decision::partial(
            "only some of them: the hangup sent SIGHUP to the session leader, and the leader's death sent it to the foreground job; the background job received nothing and lives on (the kernel signals a background group only if it is orphaned with a stopped member; shells forward SIGHUP to their jobs themselves)",
        ),
        _ => Decision::refuted(format!("after the hangup the leader ended with {leader} and the foreground job with {foreground}")),
    };
    ctx.decide("signal.sighup.on_terminal_hangup", decision);
    Ok(())
}

fn invalid_address(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let empty = ctx.temp_path("empty-file");
    std::fs::write(&empty, b"")?;
    let dirs: Vec<_> = (0..3).map(|i| ctx.temp_path(&format!("core-{i}"))).collect();
    let mut unmapped = ctx.spawn(|| {
        allow_core_in(&dirs[0]);
        write_unmapped()
    })?;
    let mut read_only = ctx.spawn(|| {
        allow_core_in(&dirs[1]);
        // SAFETY: a read-only anonymous page; the write faults, which is the experiment.
        unsafe {
            let p =
                libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            if p == libc::MAP_FAILED {
                return 2;
            }
            std::ptr::write_volatile(p.cast::<u8>(), 1);
        }
        0
    })?;
    let mut past_eof = ctx.spawn(|| {
        allow_core_in(&dirs[2]);
        let Ok(file) = std::fs::File::open(&empty) else { return 2 };
        // SAFETY: a shared mapping of an empty file; the read faults, which is the experiment.
        unsafe {
            let p = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0);
            if p == libc::MAP_FAILED {
                return 3;
            }
            std::ptr::read_volatile(p.cast::<u8>());
        }
        0
    })?;
    let exits = [unmapped.wait_exit(limit)?, read_only.wait_exit(limit)?, past_eof.wait_exit(limit)?];
    ctx.observe("write to an address just unmapped", exits[0]);
    ctx.observe("write to a read-only page", exits[1]);
    ctx.observe("read of a mapped page of an empty file (past end of file)", exits[2]);
    let signals: Vec<_> = exits.iter().map(Exit::signal).collect();
    ctx.check(
        "signal.invalid_address.sigsegv_sigbus",
        signals == [Some("SIGSEGV"), Some("SIGSEGV"), Some("SIGBUS")],
        "unmapped and read-only accesses raised SIGSEGV, the page past end of file SIGBUS; each ended the process",
        format!("the invalid accesses ended with {}, {}, {}", exits[0], exits[1], exits[2]),
    );
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn idiv(dividend: i32, divisor: i32) -> i32 {
    let quotient: i32;
    // SAFETY: a plain idiv; the CPU raises #DE for a zero divisor or INT_MIN / -1, which the
    // kernel turns into SIGFPE, the experiment. (Rust's own `/` would panic before dividing.)
    unsafe {
        std::arch::asm!("cdq", "idiv {d:e}", d = in(reg) divisor, inout("eax") dividend => quotient, out("edx") _);
    }
    quotient
}

#[cfg(not(target_arch = "x86_64"))]
fn idiv(dividend: i32, divisor: i32) -> i32 {
    dividend.wrapping_div(divisor)
}

fn arithmetic(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let dir = ctx.temp_path("core-div");
    use std::hint::black_box as bb;
    let mut outcomes = Vec::new();
    for (what, a, b) in [("1 / 0", 1, 0), ("INT_MIN / -1 (the quotient overflows)", i32::MIN, -1)] {
        let dir = dir.join(if b == 0 { "zero" } else { "overflow" });
        let mut child = ctx.spawn_reporting(|| {
            allow_core_in(&dir);
            idiv(bb(a), bb(b))
        })?;
        let exit = child.child().wait_exit(limit)?;
        let (value, _) = child.finish(limit)?;
        let shown = match value {
            Some(v) => format!("returned {v}"),
            None => exit.to_string(),
        };
        ctx.observe(format!("integer division {what}"), &shown);
        outcomes.push(exit.signal() == Some("SIGFPE"));
    }
    let (sum, _) = ctx.in_child(|| bb(i32::MAX).wrapping_add(bb(1)))?;
    let (product, exit) = ctx.in_child(|| (bb(f64::MAX) * bb(2.0)).to_string())?;
    ctx.observe("integer addition INT_MAX + 1 (add instruction)", format!("returned {sum:?}, no signal"));
    ctx.observe("floating point DBL_MAX * 2", format!("returned {product:?}, {exit}"));
    let others_silent = sum == Some(i32::MIN) && product.as_deref() == Some("inf");
    ctx.check(
        "signal.sigfpe.division_by_zero",
        outcomes[0],
        "1 / 0 (idiv) raised SIGFPE, which ended the process",
        "an integer division by zero did not raise SIGFPE (see observation)",
    );
    let decision = match (outcomes[1], others_silent) {
        (true, true) => Decision::partial(
            "only the division overflow INT_MIN / -1 raised SIGFPE; an integer addition overflow wrapped to INT_MIN and a floating-point overflow gave inf, both without a signal",
        ),
        (true, false) => Decision::holds("every overflow tried raised SIGFPE"),
        (false, _) => Decision::refuted("no overflow tried raised SIGFPE (see observation)"),
    };
    ctx.decide("signal.sigfpe.overflow", decision);
    Ok(())
}

fn shell_kill(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC)?;
    let mut target = ctx.spawn(|| {
        let handler = SigAction::new(SigHandler::Handler(ignore_signal), SaFlags::empty(), SigSet::empty());
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: both calls are expected to fail; the handler would do nothing.
        let (h, i) = unsafe { (sigaction(Signal::SIGKILL, &handler), sigaction(Signal::SIGKILL, &ignore)) };
        let mut block = SigSet::empty();
        block.add(Signal::SIGKILL);
        let blocked = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&block), None);
        let mask = SigSet::thread_get_mask().map(|m| m.contains(Signal::SIGKILL)).unwrap_or(false);
        let report = serde_json::json!({
            "sigaction(SIGKILL, handler)": harness::obs::call(&h.map(|_| 0)),
            "sigaction(SIGKILL, SIG_IGN)": harness::obs::call(&i.map(|_| 0)),
            "sigprocmask(SIG_BLOCK, {SIGKILL})": harness::obs::call(&blocked.map(|_| 0)),
            "SIGKILL in the mask afterwards": mask,
        });
        proc::send_frame(&report_w, &report);
        loop {
            pause();
        }
    })?;
    drop(report_w);
    let attempts: serde_json::Value = proc::recv_frame(&report_r, limit)?
        .ok_or_else(|| proc::unanswered("the target ended before reporting its attempts"))?;
    target.wait_blocked(libc::SYS_pause, limit)?;
    let pid = target.raw_pid().to_string();
    let mut shell = ctx.spawn(|| exec(&["sh", "-c", "kill -9 \"$1\"", "sh", &pid]))?;
    let shell_exit = shell.wait_exit(limit)?;
    let killed = target.wait_exit(limit)?;
    ctx.observe("the target tried to catch, ignore and block SIGKILL", &attempts);
    ctx.observe("sh -c 'kill -9 <pid>'", shell_exit);
    ctx.observe("the target", killed);
    let refused = attempts["sigaction(SIGKILL, handler)"] == "-1 EINVAL"
        && attempts["sigaction(SIGKILL, SIG_IGN)"] == "-1 EINVAL"
        && attempts["SIGKILL in the mask afterwards"] == false;
    ctx.check(
        "signal.sigkill.kill_dash_9",
        killed.signal() == Some("SIGKILL"),
        "kill -9 from the shell killed the target with SIGKILL",
        format!("after kill -9 the target ended with {killed}"),
    );
    ctx.check(
        "signal.sigkill.cannot_be_stopped",
        refused && killed.signal() == Some("SIGKILL"),
        "a handler and SIG_IGN were refused with EINVAL, sigprocmask left SIGKILL out of the mask, and SIGKILL killed the process",
        "SIGKILL could be caught, ignored or blocked (see observation)",
    );

    let mut target = pausing_child(ctx, || {})?;
    let pid = target.raw_pid().to_string();
    let mut shell = ctx.spawn(|| exec(&["sh", "-c", "kill \"$1\"", "sh", &pid]))?;
    let shell_exit = shell.wait_exit(limit)?;
    // A target still alive when the limit passes is the answer: kill did not end it.
    let ended = target.wait_exit(limit).map_err(|e| e.to_string());
    ctx.observe("sh -c 'kill <pid>'", shell_exit);
    ctx.observe("its target", ended.as_ref().map(ToString::to_string).unwrap_or_else(|_| "still alive".into()));
    ctx.check(
        "signal.sigterm.kill_pid",
        ended.as_ref().is_ok_and(|e| e.signal() == Some("SIGTERM")),
        "kill with no signal named sent SIGTERM: the target died by SIGTERM",
        match &ended {
            Ok(e) => format!("after kill <pid> the target ended with {e}"),
            Err(_) => format!("after kill <pid> (the shell: {shell_exit}) the target was still alive at the limit"),
        },
    );
    Ok(())
}

extern "C" fn ignore_signal(_: libc::c_int) {}

fn set_real_timer(value: std::time::Duration) -> i32 {
    let timer = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: libc::timeval { tv_sec: value.as_secs() as _, tv_usec: value.subsec_micros() as _ },
    };
    // SAFETY: setitimer reads one itimerval; the old value is not wanted.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) }
}

fn alarm_timer(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC)?;
    let mut child = ctx.spawn(|| {
        // alarm() and setitimer(ITIMER_REAL) share one timer: alarm(0) cancels the 5 s set by
        // setitimer and returns what was left of it.
        set_real_timer(std::time::Duration::from_secs(5));
        // SAFETY: alarm only sets the process's timer.
        let left = unsafe { libc::alarm(0) };
        let _ = write(&report_w, left.to_string().as_bytes());
        set_real_timer(std::time::Duration::from_millis(20));
        loop {
            pause();
        }
    })?;
    drop(report_w);
    let left = read_text(&report_r, 16, limit)?;
    let exit = child.wait_exit(limit)?;
    ctx.observe("setitimer(ITIMER_REAL, 5 s), then alarm(0) returned", &left);
    ctx.observe("setitimer(ITIMER_REAL, 20 ms), then pause(): the process", exit);
    ctx.check(
        "signal.sigalrm.timer",
        exit.signal() == Some("SIGALRM") && left == "5",
        "the expired real-time timer sent SIGALRM, which ended the process; alarm() reported the setitimer timer as its own",
        format!("the timer's expiry ended the process with {exit} (alarm(0) returned {left})"),
    );
    Ok(())
}

static CHLD_RECORD: [AtomicI32; 4] = [AtomicI32::new(0), AtomicI32::new(0), AtomicI32::new(0), AtomicI32::new(0)];

/// Records SIGCHLD's siginfo (signo, code, pid, status at byte 24) and does not wait.
extern "C" fn note_sigchld(signo: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; the reads stay inside its 128 bytes.
    let (code, pid, status) =
        unsafe { ((*info).si_code, siginfo_field::<i32>(info, 16), siginfo_field::<i32>(info, 24)) };
    for (slot, v) in CHLD_RECORD.iter().zip([signo, code, pid, status]) {
        slot.store(v, Ordering::SeqCst);
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ChildExitReport {
    default_zombie: bool,
    default_reaped: String,
    handler_siginfo: String,
    handler_pid_matches: bool,
    handler_zombie: bool,
    ignored_waitpid: String,
    ignored_zombie_left: bool,
}

fn child_exit(ctx: &mut Ctx) -> anyhow::Result<()> {
    use nix::sys::wait::waitpid;
    let limit = ctx.wait_limit();
    let exit_7 = || proc::spawn(|| 7);
    let zombie = |pid: i32| proc::wait_for_state(pid, "a zombie", limit, |s| s.state == 'Z').is_ok();
    // In a child: the case changes SIGCHLD's disposition, which the worker must keep.
    let (report, parent_exit) = ctx.in_child(|| -> Option<ChildExitReport> {
        let mut c = exit_7().ok()?;
        let default_zombie = zombie(c.raw_pid());
        let default_reaped = c.wait_exit(limit).map(|e| e.to_string()).unwrap_or_else(|e| e.to_string());

        let act = SigAction::new(SigHandler::SigAction(note_sigchld), SaFlags::SA_SIGINFO, SigSet::empty());
        let mut chld = SigSet::empty();
        chld.add(Signal::SIGCHLD);
        // SAFETY: the handler only stores to atomics.
        unsafe { sigaction(Signal::SIGCHLD, &act) }.ok()?;
        let old = chld.thread_swap_mask(SigmaskHow::SIG_BLOCK).ok()?;
        let mut c2 = exit_7().ok()?;
        // Waits for the signal itself (sigsuspend returns once the handler has run).
        let mut unblocked = old;
        unblocked.remove(Signal::SIGCHLD);
        let _ = unblocked.suspend();
        let [signo, code, pid, status] = CHLD_RECORD.each_ref().map(|a| a.load(Ordering::SeqCst));
        let handler_siginfo = format!("{} {} status {status}", signal_name(signo), si_code_name(signo, code));
        let handler_pid_matches = pid == c2.raw_pid();
        let handler_zombie = zombie(c2.raw_pid());
        c2.wait_exit(limit).ok()?;

        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN runs no code.
        unsafe { sigaction(Signal::SIGCHLD, &ignore) }.ok()?;
        let c3 = exit_7().ok()?;
        let c3_pid = c3.raw_pid();
        let c3_start = proc::stat_fields(c3_pid).and_then(|f| f.get(19).cloned());
        std::mem::forget(c3);
        // Blocks until the child has ended, then fails: nothing is left to wait for.
        let ignored_waitpid = match waitpid(Pid::from_raw(c3_pid), None) {
            Ok(s) => format!("{s:?}"),
            Err(e) => format!("-1 {}", errno_name(e)),
        };
        // waitpid can return while the kernel is still releasing the child (state X), so one
        // look at /proc proves nothing: a zombie is a process that stays in state Z. Reaped
        // means its /proc entry goes away (or the pid names a newer process) within the limit.
        let gone = || match proc::stat_fields(c3_pid) {
            None => true,
            Some(f) => c3_start.is_some() && f.get(19) != c3_start.as_ref(),
        };
        let ignored_zombie_left = !wait_until(limit, gone);
        Some(ChildExitReport {
            default_zombie,
            default_reaped,
            handler_siginfo,
            handler_pid_matches,
            handler_zombie,
            ignored_waitpid,
            ignored_zombie_left,
        })
    })?;
    let Some(r) = report.flatten() else {
        ctx.decide(
            "signal.sigchld.sent_on_child_exit",
            Decision::skipped(format!(
                "could not be checked: the parent process ended with {parent_exit} before reporting"
            )),
        );
        ctx.decide("signal.sigchld.zombie_unless_ignored", Decision::skipped("could not be checked: no report"));
        return Ok(());
    };
    ctx.observe("SIGCHLD default: exited child seen as a zombie (state Z) before waitpid", r.default_zombie);
    ctx.observe("SIGCHLD default: waitpid then got", &r.default_reaped);
    ctx.observe("SIGCHLD handler (no wait): siginfo", &r.handler_siginfo);
    ctx.observe("  si_pid is the child's", r.handler_pid_matches);
    ctx.observe("  the child still a zombie after the handler ran", r.handler_zombie);
    ctx.observe("SIGCHLD = SIG_IGN: waitpid for the exited child", &r.ignored_waitpid);
    ctx.observe("  a zombie left in /proc", r.ignored_zombie_left);
    ctx.observe("the parent itself after all three", parent_exit);
    ctx.check(
        "signal.sigchld.sent_on_child_exit",
        r.handler_siginfo == "SIGCHLD CLD_EXITED status 7" && r.handler_pid_matches && parent_exit == Exit::Code(0),
        "the parent received SIGCHLD (SIGCLD) with CLD_EXITED, the child's pid and status 7; under the default action it was not harmed",
        "the parent did not receive SIGCHLD as described (see observation)",
    );
    // The note names two ways out, ignoring and handling: the handler case weighs as much as
    // the other two.
    let default_and_ignore = r.default_zombie && !r.ignored_zombie_left && r.ignored_waitpid == "-1 ECHILD";
    let decision = match (default_and_ignore, r.handler_zombie) {
        (true, false) => Decision::holds(
            "with the default action the exited child stayed a zombie until waitpid; with SIG_IGN (waitpid: -1 ECHILD) and with a handler it left none",
        ),
        (true, true) => Decision::partial(
            "holds for the default action (a zombie until waitpid) and for SIG_IGN (the kernel reaped it: waitpid -1 ECHILD, no zombie); but handling SIGCHLD does not prevent a zombie: after a handler that does not call wait ran, the child was still a zombie. Only a handler that waits reaps it",
        ),
        (false, _) => Decision::refuted("zombies did not follow SIGCHLD's disposition as described (see observation)"),
    };
    ctx.decide("signal.sigchld.zombie_unless_ignored", decision);
    Ok(())
}

/// Runs `body` in a child whose `signals` go to the recording handler; returns the first record
/// and how the child ended.
pub(crate) fn record_from_child(
    ctx: &mut Ctx,
    signals: &[Signal],
    body: impl FnOnce() -> i32,
    trigger: impl FnOnce(&mut proc::Child) -> anyhow::Result<()>,
) -> anyhow::Result<(Option<SigRecord>, Exit)> {
    let limit = ctx.wait_limit();
    let (rec_r, rec_w) = pipe2(OFlag::O_CLOEXEC)?;
    let mut child = ctx.spawn(|| {
        record_signals(&rec_w, signals);
        body()
    })?;
    drop(rec_w);
    trigger(&mut child)?;
    let record = read_some(&rec_r, 20, limit).ok().and_then(|b| parse_record(&b));
    let exit = child.wait_exit(limit)?;
    Ok((record, exit))
}

pub(crate) fn describe(record: &Option<SigRecord>) -> String {
    match record {
        Some(r) => format!("{} {}", signal_name(r.signo), si_code_name(r.signo, r.code)),
        None => "no signal recorded".to_string(),
    }
}

fn sources(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let me = std::process::id() as i32;

    // Hardware: a fault, with the address that faulted.
    let (fault_r, fault_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (fault, _) = record_from_child(
        ctx,
        &[Signal::SIGSEGV],
        || {
            let Some(p) = unmapped_address() else { return 2 };
            let _ = write(&fault_w, &(p as u64).to_ne_bytes());
            // SAFETY: not safe by design: the write faults, which is the experiment.
            unsafe { std::ptr::write_volatile(p, 1) };
            0
        },
        |_| Ok(()),
    )?;
    let touched = read_some(&fault_r, 8, limit).ok().and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes);
    let addr_matches = fault.is_some_and(|r| Some(r.addr) == touched);
    ctx.observe("hardware fault (write to an unmapped page)", describe(&fault));
    ctx.observe("  si_addr is the address written", addr_matches);

    // The keyboard: Ctrl+C on a terminal this child controls.
    let pty = nix::pty::openpty(None, None).context("openpty")?;
    let master_raw = pty.master.as_raw_fd();
    let (keyboard, _) = record_from_child(
        ctx,
        &[Signal::SIGINT],
        || {
            // SAFETY: the child's copy of the master goes; the parent keeps its own.
            unsafe { libc::close(master_raw) };
            // SAFETY: TIOCSCTTY takes an int; the slave is open.
            if nix::unistd::setsid().is_err() || unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0
            {
                return 2;
            }
            pause();
            0
        },
        |child| {
            child.wait_blocked(libc::SYS_pause, limit)?;
            write(&pty.master, &[0x03])?;
            Ok(())
        },
    )?;
    ctx.observe("keyboard (Ctrl+C typed into the controlling pty)", describe(&keyboard));

    // Another process calling kill.
    let (killed, _) = record_from_child(
        ctx,
        &[Signal::SIGUSR1],
        || {
            pause();
            0
        },
        |child| {
            child.wait_blocked(libc::SYS_pause, limit)?;
            child.signal(Signal::SIGUSR1)
        },
    )?;
    ctx.observe("kill(pid, SIGUSR1) from another process", describe(&killed));
    ctx.observe("  si_pid is the sender's", killed.is_some_and(|r| r.pid == me));

    // Software conditions: a broken pipe, an expired timer.
    let (broken, _) = record_from_child(
        ctx,
        &[Signal::SIGPIPE],
        || {
            let Ok((r, w)) = nix::unistd::pipe() else { return 2 };
            drop(r);
            let _ = write(&w, b"x");
            0
        },
        |_| Ok(()),
    )?;
    ctx.observe("write to a pipe with no reader", describe(&broken));
    let (timer, _) = record_from_child(
        ctx,
        &[Signal::SIGALRM],
        || {
            set_real_timer(std::time::Duration::from_millis(10));
            pause();
            0
        },
        |_| Ok(()),
    )?;
    ctx.observe("real-time timer expired", describe(&timer));

    let is = |r: &Option<SigRecord>, sig: i32| r.is_some_and(|r| r.signo == sig);
    ctx.check(
        "signal.sources.hardware",
        is(&fault, libc::SIGSEGV) && addr_matches && is(&keyboard, libc::SIGINT),
        format!(
            "the fault raised {} at the faulting address; the key raised {} (the terminal driver, in the kernel, sends it)",
            describe(&fault),
            describe(&keyboard)
        ),
        "a hardware or keyboard source did not produce its signal (see observation)",
    );
    ctx.check(
        "signal.sources.software",
        is(&killed, libc::SIGUSR1)
            && killed.is_some_and(|r| r.code == libc::SI_USER && r.pid == me)
            && is(&broken, libc::SIGPIPE)
            && is(&timer, libc::SIGALRM),
        format!(
            "kill from another process arrived as SI_USER with the sender's pid; the broken pipe raised {}, the timer {}",
            describe(&broken),
            describe(&timer)
        ),
        "a software source did not produce its signal (see observation)",
    );
    Ok(())
}

static USR1_COUNT: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_usr1(_: libc::c_int) {
    USR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

fn delivery_in_any_state(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (ctl_r, _ctl_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (rep_r, rep_w) = pipe2(OFlag::O_CLOEXEC)?;
    let mut child = ctx.spawn(|| {
        // No SA_RESTART: an interrupted read returns EINTR.
        let act = SigAction::new(SigHandler::Handler(count_usr1), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler only increments an atomic.
        if unsafe { sigaction(Signal::SIGUSR1, &act) }.is_err() {
            return 2;
        }
        let mut b = [0u8; 1];
        let asleep = harness::obs::call(&nix::unistd::read(&ctl_r, &mut b));
        let _ = write(
            &rep_w,
            format!("read returned {asleep}, handler runs {}", USR1_COUNT.load(Ordering::SeqCst)).as_bytes(),
        );
        // A loop with no system call: only an asynchronous handler can end it.
        while USR1_COUNT.load(Ordering::SeqCst) < 2 {
            std::hint::spin_loop();
        }
        let _ = write(&rep_w, b"the spinning loop saw the handler run");
        pause();
        let _ = write(&rep_w, format!("pause returned, handler runs {}", USR1_COUNT.load(Ordering::SeqCst)).as_bytes());
        0
    })?;
    let report = |fd: &OwnedFd| read_text(fd, 256, limit);

    let in_read = child.wait_blocked(libc::SYS_read, limit);
    let sent_asleep = child.signal(Signal::SIGUSR1).is_ok();
    let asleep = report(&rep_r)?;
    let running = proc::wait_for_state(child.raw_pid(), "running", limit, |s| {
        s.state == 'R' && s.syscall != Some(libc::SYS_read)
    });
    let sent_running = child.signal(Signal::SIGUSR1).is_ok();
    let spun = report(&rep_r)?;
    let in_pause = child.wait_blocked(libc::SYS_pause, limit);
    child.signal(Signal::SIGSTOP)?;
    let stopped = child.wait_stopped(limit);
    let sent_stopped = child.signal(Signal::SIGUSR1).is_ok();
    let pending_while_stopped = proc::pending_signals(child.raw_pid()).map(|m| m & (1 << (libc::SIGUSR1 - 1)) != 0);
    child.signal(Signal::SIGCONT)?;
    let resumed = report(&rep_r)?;
    let exit = child.wait_exit(limit)?;
    ctx.observe("asleep in read", blocked_obs(&in_read));
    ctx.observe("  kill(SIGUSR1) succeeded; then", (sent_asleep, &asleep));
    ctx.observe("running a loop with no system call (state R)", running.is_ok());
    ctx.observe("  kill(SIGUSR1) on it succeeded; then", (sent_running, &spun));
    ctx.observe("stopped by SIGSTOP", stopped.is_ok() && in_pause.is_ok());
    ctx.observe(
        "  kill(SIGUSR1) on it succeeded; SIGUSR1 pending while stopped",
        (sent_stopped, pending_while_stopped),
    );
    ctx.observe("  after SIGCONT", &resumed);
    ctx.observe("the process", exit);
    let delivered = sent_asleep
        && sent_running
        && sent_stopped
        && in_read.is_ok()
        && asleep == "read returned \"-1 EINTR\", handler runs 1"
        && pending_while_stopped == Some(true)
        && resumed == "pause returned, handler runs 3";
    ctx.check(
        "signal.delivery.any_time_any_state",
        delivered && spun.starts_with("the spinning loop"),
        "kill succeeded in all three states with no knowledge of them: the sleeping read failed with EINTR after the handler ran, the running loop saw the handler, and the stopped process held the signal pending until SIGCONT",
        "a signal was not delivered in some state (see observation)",
    );
    ctx.check(
        "signal.nature.asynchronous",
        running.is_ok() && spun == "the spinning loop saw the handler run",
        "the handler ran in the middle of a loop that made no system call and never asked for a signal",
        "the handler did not interrupt the running loop (see observation)",
    );
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct InformationReport {
    handler_runs_after_three_kills: u32,
    sigqueue_value: Option<i32>,
    realtime_values: Vec<i32>,
}

/// Takes one pending signal of `set` without waiting: its number and its int value.
fn take_pending(set: &libc::sigset_t) -> Option<(i32, i32)> {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: sigtimedwait fills one siginfo; set is a valid sigset.
    let signo = unsafe { libc::sigtimedwait(set, info.as_mut_ptr(), &zero) };
    if signo < 0 {
        return None;
    }
    // SAFETY: filled by the kernel.
    let value = unsafe { siginfo_field::<i32>(info.as_ptr(), 24) };
    Some((signo, value))
}

fn sigqueue_self(signo: i32, value: i32) {
    let sv = libc::sigval { sival_ptr: value as usize as *mut libc::c_void };
    // SAFETY: sigqueue to this process with a plain integer payload.
    unsafe { libc::sigqueue(libc::getpid(), signo, sv) };
}

fn little_information(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (report, _) = ctx.in_child(|| {
        let act = SigAction::new(SigHandler::Handler(count_usr1), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler only increments an atomic.
        unsafe { sigaction(Signal::SIGUSR1, &act) }.ok()?;
        let mut usr1 = SigSet::empty();
        usr1.add(Signal::SIGUSR1);
        usr1.thread_block().ok()?;
        for _ in 0..3 {
            kill(nix::unistd::getpid(), Signal::SIGUSR1).ok()?;
        }
        usr1.thread_unblock().ok()?;
        let handler_runs_after_three_kills = USR1_COUNT.load(Ordering::SeqCst);

        usr1.thread_block().ok()?;
        sigqueue_self(libc::SIGUSR1, 42);
        let sigqueue_value = take_pending(usr1.as_ref()).map(|(_, v)| v);

        let rt = libc::SIGRTMIN();
        let mut rt_set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: the set is initialised by sigemptyset before use; then it blocks one signal.
        let rt_set = unsafe {
            libc::sigemptyset(rt_set.as_mut_ptr());
            libc::sigaddset(rt_set.as_mut_ptr(), rt);
            libc::pthread_sigmask(libc::SIG_BLOCK, rt_set.as_ptr(), std::ptr::null_mut());
            rt_set.assume_init()
        };
        for v in 1..=3 {
            sigqueue_self(rt, v);
        }
        let realtime_values = std::iter::from_fn(|| take_pending(&rt_set).map(|(_, v)| v)).collect();
        Some(InformationReport { handler_runs_after_three_kills, sigqueue_value, realtime_values })
    })?;
    let Some(r) = report.flatten() else {
        ctx.decide(
            "signal.nature.least_information",
            Decision::skipped("could not be checked: the child did not report"),
        );
        return Ok(());
    };
    ctx.observe("SIGUSR1 blocked, kill x3, unblocked: handler runs", r.handler_runs_after_three_kills);
    ctx.observe("sigqueue(SIGUSR1, value 42): value received", r.sigqueue_value);
    ctx.observe("SIGRTMIN blocked, sigqueue values 1, 2, 3: received", &r.realtime_values);
    let decision = match (r.handler_runs_after_three_kills, r.sigqueue_value, r.realtime_values.as_slice()) {
        (1, Some(42), [1, 2, 3]) => Decision::partial(
            "holds for standard signals sent with kill: three sends arrived as one, carrying only the number and sender; but sigqueue attaches a value (42 arrived) and real-time signals queue every instance (1, 2, 3)",
        ),
        (1, None, _) => Decision::holds("three sends arrived as one and no value could be attached"),
        _ => Decision::refuted("signals carried more than the claim allows (see observation)"),
    };
    ctx.decide("signal.nature.least_information", decision);
    Ok(())
}
