//! The run directory: what a run keeps under `$TMPDIR` while it lives, and what `clean` reads
//! after a run was killed. One module, so the runner that writes the layout and `clean` that
//! reads it cannot drift apart.
//!
//! ```text
//! $TMPDIR/ipc-conform-run-XXXXXX/
//!     runner              "<pid> <start time>" of the runner
//!     <case>.worker       "<pid> <start time>" of the case's worker (its process group leader)
//!     <case>.log          the worker's journal (see `journal`)
//!     <case>.stderr       the worker's standard error
//!     <case>/             the worker's working directory (its temporary files)
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context as _;

pub const RUN_DIR_PREFIX: &str = "ipc-conform-run-";
pub const RUNNER_FILE: &str = "runner";
pub const WORKER_SUFFIX: &str = ".worker";

/// The run's private directory, removed when the run ends.
pub struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    pub fn create() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix(RUN_DIR_PREFIX).tempdir().context("creating the run directory")?;
        let me = std::process::id() as i32;
        write_identity(&dir.path().join(RUNNER_FILE), me)?;
        Ok(RunDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn worker_file(run_dir: &Path, case: &str) -> PathBuf {
    run_dir.join(format!("{case}{WORKER_SUFFIX}"))
}

pub fn journal_file(run_dir: &Path, case: &str) -> PathBuf {
    run_dir.join(format!("{case}.log"))
}

pub fn stderr_file(run_dir: &Path, case: &str) -> PathBuf {
    run_dir.join(format!("{case}.stderr"))
}

pub fn work_dir(run_dir: &Path, case: &str) -> PathBuf {
    run_dir.join(case)
}

/// Writes "<pid> <start time>": the pair names one process even after its pid is reused.
pub fn write_identity(path: &Path, pid: i32) -> anyhow::Result<()> {
    let start = crate::proc::process_start_time(pid).unwrap_or(0);
    std::fs::write(path, format!("{pid} {start}\n")).with_context(|| format!("writing {}", path.display()))
}

pub fn read_identity(path: &Path) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut words = text.split_whitespace();
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

pub fn is_run_dir(name: &str) -> bool {
    name.starts_with(RUN_DIR_PREFIX)
}

pub fn is_worker_file(path: &Path) -> bool {
    path.to_string_lossy().ends_with(WORKER_SUFFIX)
}
