//! What a runner that was killed (SIGKILL, power loss) left behind, and its removal.
//!
//! Every run works in `$TMPDIR/ipc-conform-run-*`, which holds a `runner` file ("<pid> <start
//! time>"), one `<case>.worker` file per worker started ("<pid> <start time>"; the worker leads
//! its own process group) and one `<case>.log` journal per worker, listing every object it
//! created and released. A directory whose runner is no longer that process is stale. Cleaning it
//! kills what is left of each worker's process group, removes what the journals list as created
//! and not released (each object only if its identity still matches), and removes the directory.
//! Nothing that is not named there is touched: not a live run's directory, not another program's
//! objects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::journal;
use crate::rundir::{is_run_dir, is_worker_file, read_identity, RUNNER_FILE};

/// A directory without a runner file is left alone for this long: its runner may be starting (it
/// writes the file right after making the directory).
const UNNAMED_GRACE: Duration = Duration::from_secs(60);

/// "<pid> <start time>" as the runner and worker files hold it.
fn alive(pid: i32, start_time: u64) -> bool {
    crate::proc::process_start_time(pid) == Some(start_time)
}

/// Run directories in `tmp` whose runner is gone.
pub fn stale_run_dirs(tmp: &Path) -> Vec<PathBuf> {
    let mut stale: Vec<PathBuf> = std::fs::read_dir(tmp)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| is_run_dir(&e.file_name().to_string_lossy()))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|dir| match read_identity(&dir.join(RUNNER_FILE)) {
            Some((pid, start)) => !alive(pid, start),
            None => std::fs::metadata(dir)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > UNNAMED_GRACE)),
        })
        .collect();
    stale.sort();
    stale
}

/// Members of process group `pgid`, from /proc.
fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| crate::proc::stat_fields(pid).and_then(|f| f.get(2)?.parse::<i32>().ok()) == Some(pgid))
        .collect()
}

/// Kills what is left of a dead runner's worker group and waits (bounded) until it is gone.
fn kill_worker_group(pid: i32, start_time: u64) -> Option<String> {
    match crate::proc::process_start_time(pid) {
        // A pid number is not reused while it names a live process group, so when the worker
        // itself is gone, any group of that number is still the worker's; when a different
        // process has the number, the worker's group is gone.
        Some(start) if start != start_time => return None,
        _ => {}
    }
    let members = group_members(pid);
    if members.is_empty() {
        return None;
    }
    // SAFETY: kill has no memory effects; the group is the worker's (see above).
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    crate::proc::wait_gone(&members, Duration::from_secs(5));
    Some(format!("killed process group {pid} ({} process(es))", members.len()))
}

/// Removes everything a stale run directory names, then the directory. Returns what was done.
pub fn clean_run_dir(dir: &Path) -> Vec<String> {
    let mut done = Vec::new();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    // Processes first, so nothing creates objects while the journals are replayed.
    for worker in files.iter().filter(|p| is_worker_file(p)) {
        if let Some((pid, start)) = read_identity(worker) {
            done.extend(kill_worker_group(pid, start));
        }
    }
    for log in files.iter().filter(|p| p.extension().is_some_and(|e| e == "log")) {
        let events = journal::read_events(log);
        for resource in journal::outstanding(&events).iter().rev() {
            done.extend(journal::remove(resource));
        }
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => done.push(format!("removed {}", dir.display())),
        Err(e) => done.push(format!("could not remove {}: {e}", dir.display())),
    }
    done
}

/// Cleans every stale run directory in `tmp`; returns what was done, per directory.
pub fn clean_stale(tmp: &Path) -> Vec<(PathBuf, Vec<String>)> {
    stale_run_dirs(tmp).into_iter().map(|dir| (dir.clone(), clean_run_dir(&dir))).collect()
}
