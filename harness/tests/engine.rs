//! The engine on cases made to misbehave: a hang, a crash, a panic, a case that decides nothing,
//! and a killed worker that leaves a SysV queue, a file and an escaped process for the journal.
//!
//! The workers are this test binary itself: the runner starts it with `worker_entry_point --exact`
//! and the worker environment, and that test serves the case (the rusty-fork technique).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::journal::Resource;
use harness::runner::{self, CaseReport, Launcher, RunOptions};
use harness::{Case, Ctx, Decision, Registry, Verdict};
use rstest::rstest;
use serial_test::{file_parallel, file_serial, serial};

fn decides(ctx: &mut Ctx) -> anyhow::Result<()> {
    ctx.observe("answer", 42);
    ctx.decide("selftest.decides", Decision::holds("observed 42"));
    Ok(())
}

fn hangs(ctx: &mut Ctx) -> anyhow::Result<()> {
    // A grandchild in the same process group hangs too: the watchdog must take both.
    let child = ctx.spawn(|| loop {
        nix::unistd::pause();
    })?;
    ctx.observe("worker pid", std::process::id());
    ctx.observe("child pid", child.raw_pid());
    std::mem::forget(child);
    loop {
        nix::unistd::pause();
    }
}

fn crashes(_: &mut Ctx) -> anyhow::Result<()> {
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGSEGV)?;
    Ok(())
}

fn panics(_: &mut Ctx) -> anyhow::Result<()> {
    panic!("deliberate panic in a case");
}

fn observes_twice(ctx: &mut Ctx) -> anyhow::Result<()> {
    ctx.observe("bytes", 1);
    ctx.observe("bytes", 2);
    ctx.decide("selftest.observes_twice", Decision::holds("saw only the second value"));
    Ok(())
}

fn decides_nothing(_: &mut Ctx) -> anyhow::Result<()> {
    Ok(())
}

fn leaks_then_hangs(ctx: &mut Ctx) -> anyhow::Result<()> {
    // SAFETY: msgget with IPC_PRIVATE creates a new queue.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    anyhow::ensure!(id >= 0, "msgget failed");
    ctx.created(Resource::SysvMsg { id, key: 0 });
    let outside = std::env::var("SELFTEST_OUTSIDE_FILE")?;
    ctx.created(Resource::Path { path: outside.clone().into() });
    std::fs::write(&outside, "left behind")?;
    // A process that leaves the worker's group, so only the journal can find it.
    let escaped = ctx.spawn(|| {
        let _ = nix::unistd::setsid();
        loop {
            nix::unistd::pause();
        }
    })?;
    ctx.observe("queue id", id);
    ctx.observe("escaped pid", escaped.raw_pid());
    std::mem::forget(escaped);
    loop {
        nix::unistd::pause();
    }
}

fn refutes_unseen(ctx: &mut Ctx) -> anyhow::Result<()> {
    // A process that may not ptrace its child is refused the child's /proc/<pid>/syscall: here
    // because the child is not dumpable and the worker (as uid 65534) lacks CAP_SYS_PTRACE.
    if nix::unistd::Uid::effective().is_root() {
        harness::privilege::drop_to(harness::privilege::NOBODY, harness::privilege::NOBODY)?;
    }
    let child = ctx.spawn(|| {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        loop {
            nix::unistd::pause();
        }
    })?;
    let blocked = harness::proc::wait_blocked_pid(child.raw_pid(), libc::SYS_pause, Duration::from_secs(5));
    ctx.observe("blocked", blocked.is_ok());
    // What a careless case would do: take "could not show it blocked" for "it did not block".
    ctx.decide("selftest.refutes_unseen", Decision::refuted("the child did not block"));
    Ok(())
}

const CASES: &[Case] = &[
    Case::new("selftest.decides", &["selftest.decides"], decides),
    Case::new("selftest.hangs", &["selftest.hangs"], hangs).timeout_ms(400),
    Case::new("selftest.crashes", &["selftest.crashes"], crashes),
    Case::new("selftest.panics", &["selftest.panics"], panics),
    Case::new("selftest.decides_nothing", &["selftest.decides_nothing"], decides_nothing),
    Case::new("selftest.observes_twice", &["selftest.observes_twice"], observes_twice),
    Case::new("selftest.leaks_then_hangs", &["selftest.leaks_then_hangs"], leaks_then_hangs).timeout_ms(400),
    Case::new("selftest.refutes_unseen", &["selftest.refutes_unseen"], refutes_unseen),
    Case::new("selftest.needs_missing_command", &["selftest.needs_missing_command"], decides_nothing)
        .needs_commands(&["ipc-conform-no-such-command"]),
];

fn registry() -> Registry {
    Registry::new().with(CASES)
}

/// Not a test of its own: the entry point the runner starts as a worker.
#[test]
fn worker_entry_point() {
    harness::worker::serve_if_worker(&registry());
}

fn run(name: &str) -> CaseReport {
    let launcher = Launcher {
        program: std::env::current_exe().unwrap(),
        args: ["worker_entry_point", "--exact", "--nocapture", "--test-threads=1"].map(String::from).to_vec(),
    };
    let case = *registry().case(name).unwrap();
    let mut reports = runner::run(&[case], &RunOptions::new(launcher), &|_| {}).unwrap();
    reports.pop().unwrap()
}

fn only(report: &CaseReport) -> &Decision {
    assert_eq!(report.outcomes.len(), 1);
    &report.outcomes[0].decision
}

fn alive(pid: u64) -> bool {
    // A zombie is not a leak of ours once it has no parent left to reap it; treat only live states.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
        .unwrap_or(false)
}

#[test]
#[file_parallel(machine_wide)]
fn a_deciding_case_reports_its_verdict_and_observation() {
    let report = run("selftest.decides");
    assert_eq!(only(&report).verdict, Verdict::Holds);
    assert_eq!(report.observation["answer"], 42);
}

#[test]
#[serial]
#[file_parallel(machine_wide)]
fn a_hung_case_becomes_error_within_its_deadline_and_leaves_no_process() {
    let started = Instant::now();
    let report = run("selftest.hangs");
    let took = started.elapsed();
    let d = only(&report);
    assert_eq!(d.verdict, Verdict::Error);
    assert!(d.explanation.contains("timed out after 400 ms"), "{}", d.explanation);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    for key in ["worker pid", "child pid"] {
        let pid = report.observation[key].as_u64().unwrap();
        assert!(!alive(pid), "{key} {pid} still alive");
    }
}

/// A crash, a panic, an undecided claim and an observation recorded twice are the harness's `error`; an unmet need is `skipped`;
/// each explanation names what happened.
#[rstest]
#[case::crash_names_the_signal("selftest.crashes", Verdict::Error, "killed by SIGSEGV")]
#[case::panic_gives_the_message("selftest.panics", Verdict::Error, "deliberate panic in a case")]
#[case::undecided_claim("selftest.decides_nothing", Verdict::Error, "without deciding")]
#[case::an_observation_recorded_twice("selftest.observes_twice", Verdict::Error, "observed \"bytes\" twice")]
#[case::a_state_the_kernel_hides_decides_nothing(
    "selftest.refutes_unseen",
    Verdict::Skipped,
    "refuses this process /proc/<pid>/syscall"
)]
#[case::unmet_need_is_skipped("selftest.needs_missing_command", Verdict::Skipped, "ipc-conform-no-such-command")]
#[file_parallel(machine_wide)]
fn a_misbehaving_case_gets_the_right_verdict(#[case] case: &str, #[case] verdict: Verdict, #[case] needle: &str) {
    let d = only(&run(case)).clone();
    assert_eq!(d.verdict, verdict, "{case}: {}", d.explanation);
    assert!(d.explanation.contains(needle), "{case}: expected {needle:?} in {}", d.explanation);
}

#[test]
#[serial]
#[file_parallel(machine_wide)]
fn the_journal_cleans_up_after_a_killed_worker() {
    let dir = tempfile::tempdir().unwrap();
    let outside: PathBuf = dir.path().join("outside-the-workdir");
    // SAFETY: tests that read this variable run serially.
    unsafe { std::env::set_var("SELFTEST_OUTSIDE_FILE", &outside) };
    let report = run("selftest.leaks_then_hangs");
    assert_eq!(only(&report).verdict, Verdict::Error);
    let id = report.observation["queue id"].as_i64().unwrap() as i32;
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT into a valid buffer.
    let r = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    assert_eq!(r, -1, "queue {id} survived the killed worker");
    assert!(!outside.exists(), "the journaled file survived");
    let escaped = report.observation["escaped pid"].as_u64().unwrap();
    assert!(!alive(escaped), "the escaped process {escaped} survived");
    assert!(report.cleanup.len() >= 3, "cleanup did {:?}", report.cleanup);
}

#[test]
#[serial]
#[file_serial(machine_wide)]
fn a_run_leaves_no_run_directory() {
    let tmp = std::env::temp_dir();
    let count = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(harness::rundir::RUN_DIR_PREFIX))
            .count()
    };
    let before = count();
    run("selftest.decides");
    run("selftest.hangs");
    assert_eq!(count(), before);
}
