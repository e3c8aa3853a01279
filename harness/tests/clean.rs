//! `clean`: what a killed runner left is removed, and nothing else is touched. Run directories
//! are made by hand here, as a runner killed at a random moment would leave them.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serial_test::file_parallel;

use harness::clean;
use harness::journal::{Event, EventLog, Resource};
use harness::proc::process_start_time;
use harness::rundir::{RUNNER_FILE, RUN_DIR_PREFIX, WORKER_SUFFIX};

fn identity(pid: i32) -> String {
    format!("{pid} {}\n", process_start_time(pid).unwrap())
}

/// The identity of a process that has exited and been reaped.
fn dead_identity() -> String {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    let start = process_start_time(pid).unwrap_or(1);
    child.wait().unwrap();
    format!("{pid} {start}\n")
}

fn private_semaphore() -> i32 {
    // SAFETY: semget with IPC_PRIVATE creates a new set.
    let id = unsafe { libc::semget(libc::IPC_PRIVATE, 1, 0o600) };
    assert!(id >= 0);
    id
}

fn semaphore_exists(id: i32) -> bool {
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT into a valid semid_ds.
    unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds as *mut libc::semid_ds) == 0 }
}

fn remove_semaphore(id: i32) {
    // SAFETY: IPC_RMID ignores the fourth argument.
    unsafe { libc::semctl(id, 0, libc::IPC_RMID, 0) };
}

fn run_dir(tmp: &Path, name: &str, runner: Option<&str>) -> std::path::PathBuf {
    let dir = tmp.join(format!("{RUN_DIR_PREFIX}{name}"));
    std::fs::create_dir(&dir).unwrap();
    if let Some(runner) = runner {
        std::fs::write(dir.join(RUNNER_FILE), runner).unwrap();
    }
    dir
}

#[test]
#[file_parallel(machine_wide)]
fn clean_removes_a_dead_runs_leftovers_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();

    // A killed run: its runner is gone; a worker group still has a process; a journal lists a
    // semaphore set created and never released, and a FIFO inside the directory.
    let dead = run_dir(tmp.path(), "dead", Some(&dead_identity()));
    let mut straggler =
        Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).process_group(0).spawn().unwrap();
    let straggler_pid = straggler.id() as i32;
    std::fs::write(dead.join(format!("case.one{WORKER_SUFFIX}")), identity(straggler_pid)).unwrap();
    let leaked = private_semaphore();
    let key = 0; // IPC_PRIVATE
    let log = EventLog::create(&dead.join("case.one.log")).unwrap();
    log.write(&Event::Created { resource: Resource::SysvSem { id: leaked, key } });

    // A live run (this process is its runner), with a set it has not released yet.
    let live = run_dir(tmp.path(), "live", Some(&identity(std::process::id() as i32)));
    let in_use = private_semaphore();
    EventLog::create(&live.join("case.two.log"))
        .unwrap()
        .write(&Event::Created { resource: Resource::SysvSem { id: in_use, key } });

    // A directory with no runner file yet (a run that is just starting), and one not of ours.
    let starting = run_dir(tmp.path(), "starting", None);
    let foreign = tmp.path().join("someone-elses-dir");
    std::fs::create_dir(&foreign).unwrap();

    assert_eq!(clean::stale_run_dirs(tmp.path()), vec![dead.clone()]);
    let cleaned = clean::clean_stale(tmp.path());
    let done = &cleaned[0].1;

    let status = straggler.wait().unwrap();
    assert!(std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGKILL), "{status:?}");
    assert!(!semaphore_exists(leaked), "the dead run's semaphore set survived: {done:?}");
    assert!(!dead.exists(), "{done:?}");
    assert!(done.iter().any(|d| d.contains("killed process group")), "{done:?}");
    assert!(semaphore_exists(in_use), "a live run's object was removed");
    assert!(live.join("case.two.log").exists() && starting.exists() && foreign.exists());
    remove_semaphore(in_use);
}

#[test]
#[file_parallel(machine_wide)]
fn clean_never_kills_a_reused_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let dead = run_dir(tmp.path(), "dead", Some(&dead_identity()));
    // The worker file names a live process (this one) but with another start time: the pid was
    // reused, the worker's group is gone, and this process must not be touched.
    let me = std::process::id() as i32;
    let wrong_start = process_start_time(me).unwrap() + 1;
    std::fs::write(dead.join(format!("case{WORKER_SUFFIX}")), format!("{me} {wrong_start}\n")).unwrap();
    let done = clean::clean_run_dir(&dead);
    assert!(!done.iter().any(|d| d.contains("killed")), "{done:?}");
    assert!(!dead.exists());
}
