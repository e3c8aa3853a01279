//! The runner: one worker process per case, parallel, each under a watchdog that kills the
//! worker's whole process group at its deadline; afterwards, whatever happened, the worker's
//! journal is replayed to remove what it created.

use std::fs::File;
use std::io::Read;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::case::{Case, UnmetNeed};
use crate::ctx::Depth;
use crate::journal::{self, Event};
use crate::rundir::{self, RunDir};
use crate::verdict::Decision;
use crate::worker;

/// How to start a worker: the program (normally this executable) and leading arguments.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Launcher {
    /// This very executable, with no arguments: its `main` calls `serve_if_worker` first.
    pub fn current_exe() -> anyhow::Result<Self> {
        Ok(Launcher { program: std::env::current_exe().context("locating this executable")?, args: Vec::new() })
    }

    /// The same worker started through `wrapper` ("COMMAND ARGS...", split at white space), which
    /// is given the program and its arguments and must exec them (keeping the pid).
    pub fn wrapped_in(self, wrapper: &str) -> anyhow::Result<Self> {
        let mut words = wrapper.split_whitespace().map(str::to_string);
        let program = words.next().ok_or_else(|| crate::files::usage("--wrap-workers needs a command"))?;
        let mut args: Vec<String> = words.collect();
        args.push(self.program.to_string_lossy().into_owned());
        args.extend(self.args);
        Ok(Launcher { program: PathBuf::from(program), args })
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub jobs: usize,
    pub depth: Depth,
    pub launcher: Launcher,
    /// Scales every case's deadline (slow emulated kernels want more).
    pub timeout_scale: f64,
}

impl RunOptions {
    pub fn new(launcher: Launcher) -> Self {
        RunOptions { jobs: default_jobs(), depth: Depth::Quick, launcher, timeout_scale: 1.0 }
    }
}

pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// One claim's outcome from one case.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimOutcome {
    pub claim: String,
    pub decision: Decision,
}

/// What running one case produced.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub case: &'static str,
    /// The case's stress marker: why it may take over a second.
    pub stress: Option<&'static str>,
    pub outcomes: Vec<ClaimOutcome>,
    /// Everything the case observed, in the order it was recorded.
    pub observation: serde_json::Map<String, serde_json::Value>,
    pub duration_ms: u64,
    /// What the runner had to remove after the worker (non-empty only after a kill or a bug).
    pub cleanup: Vec<String>,
    /// The worker's stderr (panic messages), trimmed to its last lines.
    pub stderr_tail: String,
    /// The run was stopped by a signal while this case ran.
    pub interrupted: bool,
    /// The declared need this machine lacks, when the case was skipped for it without running.
    pub unmet_need: Option<String>,
}

/// Runs `cases`, calling `on_done` as each finishes. Exclusive cases run alone, after the rest.
pub fn run(
    cases: &[Case],
    options: &RunOptions,
    on_done: &(dyn Fn(&CaseReport) + Sync),
) -> anyhow::Result<Vec<CaseReport>> {
    // Orphans of a worker's tree become our children, so killing a worker's process group can be
    // followed by reaping every member: when `run` returns, none of them is still alive. Where
    // the facility is missing (qemu-user answers EINVAL) orphans go to init instead: the group is
    // still killed whole, and its members' ends are observed in /proc (see kill_and_reap_group).
    if let Err(e) = crate::proc::become_subreaper() {
        let _ = NO_SUBREAPER.set(format!("{e:#}"));
    }
    crate::stop::install()?;
    // What a killed run left (its runner is gone) goes before this run makes anything.
    for (dir, done) in crate::clean::clean_stale(&std::env::temp_dir()) {
        eprintln!("ipc-conform: cleaned up after a run that was killed ({}): {}", dir.display(), done.join("; "));
    }
    let active = ActiveRun::start();
    let run_dir = RunDir::create()?;
    type Indexed<'a> = Vec<(usize, &'a Case)>;
    let (parallel, exclusive): (Indexed, Indexed) = cases.iter().enumerate().partition(|(_, c)| !c.exclusive);
    let slots: Mutex<Vec<Option<CaseReport>>> = Mutex::new(vec![None; cases.len()]);
    let run_one = |(i, case): (usize, &Case)| {
        let report = run_case(case, options, run_dir.path());
        on_done(&report);
        slots.lock().expect("no worker thread panics while holding the lock")[i] = Some(report);
    };
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1).min(parallel.len().max(1)) {
            scope.spawn(|| loop {
                if crate::stop::requested().is_some() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&item) = parallel.get(i) else { break };
                run_one(item);
            });
        }
    });
    for item in exclusive {
        if crate::stop::requested().is_some() {
            break;
        }
        run_one(item);
    }
    drop(active);
    Ok(slots.into_inner().expect("lock not poisoned").into_iter().flatten().collect())
}

/// Why this process could not become a child subreaper, when it could not.
static NO_SUBREAPER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Runs in progress in this process; the last to end sweeps up orphans (see [`ActiveRun`]).
static ACTIVE_RUNS: Mutex<usize> = Mutex::new(0);

/// While it lives, a run is in progress. When the last run of the process ends, every process
/// still a child of this one is an orphan a case left (a job of a pty session whose leader was
/// killed before the worker could journal it, say): reparented to us, the subreaper, and in no
/// worker's process group. They are killed and reaped, with their own orphans, until none is left.
struct ActiveRun;

impl ActiveRun {
    fn start() -> Self {
        *ACTIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        ActiveRun
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        let mut active = ACTIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner());
        *active -= 1;
        if *active == 0 {
            let swept = sweep_orphans();
            if !swept.is_empty() {
                eprintln!(
                    "ipc-conform: killed {} process(es) that cases left behind: {}",
                    swept.len(),
                    swept.join(", ")
                );
            }
        }
    }
}

/// Kills and reaps this process's children until none is left; returns "pid (comm)" of each.
fn sweep_orphans() -> Vec<String> {
    let me = std::process::id() as i32;
    let mut swept = Vec::new();
    for _ in 0..64 {
        let children = crate::proc::processes_where(crate::proc::STAT_PPID, me);
        if children.is_empty() {
            break;
        }
        for pid in children {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            // SAFETY: kill has no memory effects; the pid is our child, so it cannot be reused
            // before we reap it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            swept.push(format!("{pid} ({})", comm.trim()));
        }
    }
    swept
}

fn missing_needs(case: &Case) -> Option<UnmetNeed> {
    if let Some(why) = case.needs.root {
        if !crate::privilege::is_root() {
            return Some(UnmetNeed {
                what: "root".into(),
                why: format!("needs root ({why}); running as {}", crate::privilege::describe_user()),
            });
        }
    }
    let options: Vec<&str> = case.needs.module_kernel.iter().chain(case.needs.kernel).copied().collect();
    if let Some(unmet) = crate::kconfig::unmet(&options) {
        return Some(unmet);
    }
    if let Some(unmet) = case.needs.modules.iter().find_map(crate::kconfig::module_unmet) {
        return Some(unmet);
    }
    let missing: Vec<&str> = case.needs.commands.iter().copied().filter(|c| find_on_path(c).is_none()).collect();
    (!missing.is_empty()).then(|| UnmetNeed {
        what: format!("command {}", missing.join(", ")),
        why: format!("needs the command(s) {} on PATH, not found", missing.join(", ")),
    })
}

pub fn find_on_path(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(command)).find(|p| p.is_file())
}

fn run_case(case: &Case, options: &RunOptions, run_dir: &Path) -> CaseReport {
    let started = Instant::now();
    let mut report = CaseReport {
        case: case.name,
        stress: case.stress,
        outcomes: Vec::new(),
        observation: serde_json::Map::new(),
        duration_ms: 0,
        cleanup: Vec::new(),
        stderr_tail: String::new(),
        interrupted: false,
        unmet_need: None,
    };
    if let Some(unmet) = missing_needs(case) {
        report.outcomes = case
            .claims
            .iter()
            .map(|c| ClaimOutcome { claim: c.to_string(), decision: Decision::skipped(unmet.why.clone()) })
            .collect();
        // What was looked at is the observation: the need, by its stable name.
        report.observation.insert("harness.unmet_need".into(), serde_json::json!(unmet.what));
        report.unmet_need = Some(unmet.what);
        return report;
    }
    let workdir = rundir::work_dir(run_dir, case.name);
    let log_path = rundir::journal_file(run_dir, case.name);
    let stderr_path = rundir::stderr_file(run_dir, case.name);
    let timeout = Duration::from_millis((case.timeout_ms as f64 * options.timeout_scale) as u64);
    let ended = std::fs::create_dir(&workdir).context("creating the worker directory").and_then(|()| {
        let worker_file = rundir::worker_file(run_dir, case.name);
        supervise(case, options, &workdir, &log_path, &stderr_path, &worker_file, timeout)
    });

    let events = journal::read_events(&log_path);
    for resource in journal::outstanding(&events).iter().rev() {
        report.cleanup.extend(journal::remove(resource));
    }
    let _ = std::fs::remove_dir_all(&workdir);
    report.stderr_tail = tail(&stderr_path, 12);
    report.duration_ms = started.elapsed().as_millis() as u64;

    let mut decided: Vec<(String, Decision)> = Vec::new();
    let mut finished: Option<Option<String>> = None;
    let mut inconclusive: Option<String> = None;
    for event in events {
        match event {
            Event::Observe { key, value } => {
                report.observation.insert(key, value);
            }
            Event::OutOfTime { wait } => {
                report.observation.insert("harness.out_of_time".into(), serde_json::json!(wait));
                inconclusive.get_or_insert(format!(
                    "the case's time ran out during a wait for {wait}, so what it would have seen is unknown"
                ));
            }
            Event::Unobservable { what } => {
                report.observation.entry("harness.unobservable").or_insert_with(|| serde_json::json!(what));
                inconclusive.get_or_insert(what);
            }
            Event::Decide { claim, verdict, explanation } => {
                decided.retain(|(c, _)| *c != claim);
                // A wait cut short by the case's deadline saw nothing it could vouch for: a
                // decision after it may rest on a "not within" that was only "not yet". Nor can
                // one after a state the kernel would not show.
                let decision = match &inconclusive {
                    Some(why) if verdict != crate::verdict::Verdict::Skipped => Decision::skipped(format!(
                        "could not be checked: {why} (it had concluded {verdict}: {explanation})"
                    )),
                    _ => Decision::new(verdict, explanation),
                };
                decided.push((claim, decision));
            }
            Event::Finished { error } => finished = Some(error),
            Event::Created { .. } | Event::Released { .. } | Event::Creating | Event::NotCreated => {}
        }
    }
    let failure: Option<String> = match (&ended, &finished) {
        (Err(e), _) => Some(format!("{e:#}")),
        (Ok(WorkerEnd::TimedOut { whereabouts }), _) => Some(format!(
            "timed out after {} ms; the watchdog killed the worker's process group; {whereabouts}",
            timeout.as_millis()
        )),
        (Ok(WorkerEnd::Stopped { signal, whereabouts }), _) => {
            Some(format!("the run was stopped by {}; {whereabouts}", crate::stop::signal_name(*signal)))
        }
        (Ok(WorkerEnd::Exited(status)), None) => Some(format!("the worker died before finishing ({status})")),
        (Ok(WorkerEnd::Exited(_)), Some(error)) => error.clone(),
    };
    let abandoned = matches!(ended, Ok(WorkerEnd::TimedOut { .. } | WorkerEnd::Stopped { .. })) || finished.is_none();
    report.interrupted = matches!(ended, Ok(WorkerEnd::Stopped { .. }));
    report.outcomes = case
        .claims
        .iter()
        .map(|claim| {
            let decision = match decided.iter().find(|(c, _)| c == claim) {
                // A hung or dead worker decides nothing: what it had decided may be half an experiment.
                Some((_, d)) if !abandoned => d.clone(),
                Some((_, d)) => Decision::error(format!(
                    "{}; before that it had decided {}",
                    failure.clone().unwrap_or_default(),
                    d.verdict
                )),
                None => Decision::error(failure.clone().unwrap_or_else(|| "the case did not decide this claim".into())),
            };
            ClaimOutcome { claim: claim.to_string(), decision }
        })
        .collect();
    if !report.cleanup.is_empty() && !abandoned {
        // A worker that finished yet left resources behind is a harness defect worth seeing.
        report.observation.insert("harness.cleanup".into(), serde_json::json!(report.cleanup));
    }
    report
}

enum WorkerEnd {
    Exited(String),
    /// Killed at its deadline; where its processes were then.
    TimedOut {
        whereabouts: String,
    },
    /// Killed because the runner was asked to stop.
    Stopped {
        signal: i32,
        whereabouts: String,
    },
}

fn supervise(
    case: &Case,
    options: &RunOptions,
    workdir: &Path,
    log: &Path,
    stderr: &Path,
    worker_file: &Path,
    timeout: Duration,
) -> anyhow::Result<WorkerEnd> {
    let err_file = File::create(stderr).context("creating the worker's stderr file")?;
    let runner = std::process::id() as libc::pid_t;
    let mut command = Command::new(&options.launcher.program);
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            // A runner killed outright takes its workers with it; `clean` (or the next run)
            // then kills what is left of their groups and replays their journals.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != runner {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = command
        .args(&options.launcher.args)
        .env(worker::ENV_CASE, case.name)
        .env(worker::ENV_LOG, log)
        .env(worker::ENV_DEPTH, options.depth.as_str())
        .env(worker::ENV_TIMEOUT_MS, timeout.as_millis().to_string())
        .env("TMPDIR", workdir)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(err_file.try_clone()?)
        .stderr(err_file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting the worker {}", options.launcher.program.display()))?;
    let pid = child.id() as i32;
    // Best effort: without it `clean` still replays the journal, and the worker dies with us.
    let _ = rundir::write_identity(worker_file, pid);
    let mut exited_in_time = match crate::proc::pidfd_open(nix::unistd::Pid::from_raw(pid)) {
        Some(pidfd) => wait_or_stop(&pidfd, timeout)?,
        None => wait_without_pidfd(&child, timeout)?,
    };
    // A worker that ended just as its time ran out has finished: it is not a hang.
    if !exited_in_time && crate::proc::sample(pid).is_none_or(|s| s.state == 'Z') {
        exited_in_time = true;
    }
    // Where the group was when its time ran out (or the run was stopped), before the kill.
    let whereabouts = (!exited_in_time).then(|| describe_group(pid));
    if !exited_in_time {
        hold_kill_while_creating(log);
    }
    // The worker is a zombie or still running: either way its pid still names its group. Kill
    // the group, then reap it whole: the worker, and every member reparented to us on the way.
    let status = kill_and_reap_group(pid)?;
    Ok(match (whereabouts, crate::stop::requested()) {
        (None, _) => WorkerEnd::Exited(status),
        (Some(whereabouts), Some(signal)) => WorkerEnd::Stopped { signal, whereabouts },
        (Some(whereabouts), None) => WorkerEnd::TimedOut { whereabouts },
    })
}

/// Waits for the worker's pidfd up to `timeout`; false when time ran out or a stop was asked.
fn wait_or_stop(pidfd: &impl std::os::fd::AsFd, timeout: Duration) -> anyhow::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(stop) = crate::stop::fd() {
            fds.push(PollFd::new(stop, PollFlags::POLLIN));
        }
        match poll(&mut fds, ms) {
            Ok(_) if fds[0].any().unwrap_or(false) => return Ok(true),
            Ok(_) if crate::stop::requested().is_some() => return Ok(false),
            Ok(0) => return Ok(false),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll on the worker's pidfd"),
        }
    }
}

/// One line on each live member of process group `pgid`: its state and the system call it is in
/// (from /proc/<pid>/stat, /syscall and /wchan), the worker first. Says where a killed case hung.
fn describe_group(pgid: i32) -> String {
    let mut members = crate::proc::processes_where(crate::proc::STAT_PGRP, pgid);
    members.sort_by_key(|&pid| (pid != pgid, pid));
    let described: Vec<String> = members
        .iter()
        .filter_map(|&pid| {
            let s = crate::proc::sample(pid)?;
            let who = if pid == pgid { "the worker".to_string() } else { format!("its process {pid}") };
            let call = match s.syscall {
                _ if s.state == 'Z' => "(exited, not yet reaped)".into(),
                Some(nr) if nr >= 0 => format!("in {} (syscall {nr})", crate::proc::syscall_name(nr)),
                _ => "running".into(),
            };
            let wchan = s.wchan.map(|w| format!(", waiting in {w}")).unwrap_or_default();
            Some(format!("{who} was in state {} {call}{wchan}", s.state))
        })
        .collect();
    if described.is_empty() {
        "no process of its group was left to look at".into()
    } else {
        described.join("; ")
    }
}

/// A worker at its deadline may be between making a System V object and journaling its id (a
/// few microseconds): let that finish, for at most CREATION_GRACE, so the object can be removed.
const CREATION_GRACE: Duration = Duration::from_millis(50);

fn hold_kill_while_creating(log: &Path) {
    let until = Instant::now() + CREATION_GRACE;
    while journal::creation_in_flight(&journal::read_events(log)) && Instant::now() < until {
        std::thread::yield_now();
    }
}

/// SIGKILLs process group `pgid` and reaps its members until none is left; returns how the
/// leader (the worker) ended. Each member is our child by the time it can be reaped: the worker
/// directly, its descendants through the subreaper.
fn kill_and_reap_group(pgid: i32) -> anyhow::Result<String> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
    let mut leader = None;
    loop {
        // SAFETY: kill has no memory effects. Repeated: a member may have been mid-fork.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        match waitid(Id::PGid(nix::unistd::Pid::from_raw(pgid)), WaitPidFlag::WEXITED) {
            Ok(status) if status.pid().map(|p| p.as_raw()) == Some(pgid) => leader = Some(status),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::ECHILD) => break,
            Err(e) => return Err(e).context("reaping the worker's process group"),
        }
    }
    if NO_SUBREAPER.get().is_some() {
        // Members reparented to init are not ours to reap: they are gone once /proc lists none
        // alive in the group (init reaps the zombies).
        let wait = crate::proc::BoundedWait::new(GROUP_EXIT_WITHOUT_SUBREAPER);
        loop {
            let alive: Vec<i32> = crate::proc::processes_where(crate::proc::STAT_PGRP, pgid)
                .into_iter()
                .filter(|&pid| crate::proc::sample(pid).is_some_and(|s| s.state != 'Z'))
                .collect();
            if alive.is_empty() {
                break;
            }
            if wait.left().is_zero() {
                anyhow::bail!(
                    "{} process(es) of the killed group {pgid} still alive after {GROUP_EXIT_WITHOUT_SUBREAPER:?}",
                    alive.len()
                );
            }
            // SAFETY: kill has no memory effects.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            crate::proc::wait_gone(&alive, wait.left());
        }
    }
    Ok(match leader {
        Some(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Some(WaitStatus::Signaled(_, sig, _)) => format!("killed by {}", sig.as_str()),
        Some(other) => format!("{other:?}"),
        None => "reaped elsewhere".to_string(),
    })
}

/// How long SIGKILLed members reparented to init may take to die.
const GROUP_EXIT_WITHOUT_SUBREAPER: Duration = Duration::from_secs(10);

/// For kernels without pidfd_open (< 5.3): short waits on the child's status.
fn wait_without_pidfd(child: &std::process::Child, timeout: Duration) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = nix::sys::wait::waitid(
            nix::sys::wait::Id::Pid(nix::unistd::Pid::from_raw(child.id() as i32)),
            nix::sys::wait::WaitPidFlag::WEXITED
                | nix::sys::wait::WaitPidFlag::WNOHANG
                | nix::sys::wait::WaitPidFlag::WNOWAIT,
        )
        .context("waitid")?;
        if status != nix::sys::wait::WaitStatus::StillAlive {
            return Ok(true);
        }
        if Instant::now() >= deadline || crate::stop::requested().is_some() {
            return Ok(false);
        }
        std::thread::yield_now();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
