//! The worker's event log: observations, decisions and every resource it created, one JSON object
//! per line, each written with a single `write(2)` on an `O_APPEND` file. The runner reads it after
//! the worker is gone, however it went, and removes what was created and not released.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// Something a worker made that must not outlive the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A file, FIFO, socket file or directory (removed recursively).
    Path {
        path: PathBuf,
    },
    /// A process outside the worker's process group (e.g. one that called setsid).
    Process {
        pid: i32,
        start_time: u64,
    },
    SysvMsg {
        id: i32,
        key: i32,
    },
    /// A message queue a child is about to create with `key` (of a file in the worker's own
    /// directory, so no other object has it) as `cuid`: journaled before the call, so a child
    /// killed between msgget and any report still leaves a queue cleanup can find by its key.
    SysvMsgByKey {
        key: i32,
        cuid: u32,
    },
    SysvSem {
        id: i32,
        key: i32,
    },
    SysvShm {
        id: i32,
        key: i32,
    },
    /// A POSIX message queue, by its name ("/…").
    PosixMq {
        name: String,
    },
    /// A mount point the worker mounted (lazily unmounted).
    Mount {
        path: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Observe {
        key: String,
        value: serde_json::Value,
    },
    Decide {
        claim: String,
        verdict: Verdict,
        explanation: String,
    },
    /// About to make an object whose identity only the call's result gives (a System V id):
    /// until the matching `Created` or `NotCreated`, the watchdog holds its kill (briefly), so
    /// a kill cannot fall between the object's birth and its journal line.
    Creating,
    NotCreated,
    Created {
        resource: Resource,
    },
    Released {
        resource: Resource,
    },
    /// A wait (`wait`) had to stop early because the case's time was running out, so what it
    /// would have seen is unknown: the runner makes every decision after this line `skipped`.
    /// Written by the worker or any child it forked.
    OutOfTime {
        wait: String,
    },
    /// The harness could not see a state it needed (`what`): the kernel refused it the file
    /// that shows it (/proc/<pid>/syscall under Yama's ptrace_scope 2, say). As with
    /// `OutOfTime`, every decision after this line becomes `skipped`, naming it.
    Unobservable {
        what: String,
    },
    /// The case function returned; `error` is set when it returned an error or panicked.
    Finished {
        error: Option<String>,
    },
}

/// Writer side, held by the worker.
#[derive(Debug)]
pub struct EventLog {
    file: File,
}

impl EventLog {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().append(true).create(true).custom_flags(libc::O_CLOEXEC).open(path)?;
        Ok(EventLog { file })
    }

    /// A second writer on the same log (a duplicated descriptor), for a forked child that creates
    /// something the parent cannot journal in time.
    pub fn try_clone(&self) -> std::io::Result<Self> {
        Ok(EventLog { file: self.file.try_clone()? })
    }

    pub fn write(&self, event: &Event) {
        let mut line = serde_json::to_vec(event).expect("events serialise");
        line.push(b'\n');
        // One write call: an O_APPEND write of a line is not torn by a kill between lines.
        if let Err(e) = (&self.file).write_all(&line) {
            eprintln!("ipc-conform worker: cannot write the event log: {e}");
        }
    }
}

/// Reads a log, ignoring a last line cut short by a kill.
pub fn read_events(path: &Path) -> Vec<Event> {
    let Ok(file) = File::open(path) else { return Vec::new() };
    BufReader::new(file).lines().map_while(Result::ok).filter_map(|line| serde_json::from_str(&line).ok()).collect()
}

/// Whether a `Creating` is still waiting for its `Created` or `NotCreated`.
pub fn creation_in_flight(events: &[Event]) -> bool {
    let mut open = 0usize;
    for e in events {
        match e {
            Event::Creating => open += 1,
            Event::Created { .. } | Event::NotCreated => open = open.saturating_sub(1),
            _ => {}
        }
    }
    open > 0
}

/// Resources created and not released, in creation order.
pub fn outstanding(events: &[Event]) -> Vec<Resource> {
    let mut live: Vec<Resource> = Vec::new();
    for e in events {
        match e {
            Event::Created { resource } => live.push(resource.clone()),
            Event::Released { resource } => {
                if let Some(i) = live.iter().rposition(|r| r == resource) {
                    live.remove(i);
                }
            }
            _ => {}
        }
    }
    live
}

/// Removes one resource if it is still the one that was created. Returns what was done, for the
/// run's record; never touches an object whose identity no longer matches.
pub fn remove(resource: &Resource) -> Option<String> {
    match resource {
        Resource::Path { path } => {
            let meta = std::fs::symlink_metadata(path).ok()?;
            let removed = if meta.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
            removed.ok().map(|_| format!("removed {}", path.display()))
        }
        Resource::Process { pid, start_time } => {
            if crate::proc::process_start_time(*pid) != Some(*start_time) {
                return None;
            }
            // Opened before the kill, so the pid cannot be reused in between.
            let pidfd = crate::proc::pidfd_open(nix::unistd::Pid::from_raw(*pid));
            // SAFETY: kill has no memory effects; the start time check makes the pid ours.
            let r = unsafe { libc::kill(*pid, libc::SIGKILL) };
            if let Some(fd) = pidfd {
                let _ = crate::proc::poll_readable(&fd, std::time::Duration::from_secs(2));
            }
            // The runner is a subreaper, so an orphan that escaped the group is now its child.
            // SAFETY: waitpid on a pid; WNOHANG never blocks.
            unsafe { libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG) };
            (r == 0).then(|| format!("killed process {pid}"))
        }
        Resource::SysvMsg { id, key } => {
            let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: ds is a valid msqid_ds for IPC_STAT to fill.
            let ok = unsafe { libc::msgctl(*id, libc::IPC_STAT, &mut ds) } == 0 && ds.msg_perm.__key == *key;
            // SAFETY: IPC_RMID takes no buffer.
            (ok && unsafe { libc::msgctl(*id, libc::IPC_RMID, std::ptr::null_mut()) } == 0)
                .then(|| format!("removed message queue {id}"))
        }
        Resource::SysvMsgByKey { key, cuid } => {
            // SAFETY: msgget without IPC_CREAT only looks the key up.
            let id = unsafe { libc::msgget(*key, 0) };
            let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: ds is a valid msqid_ds for IPC_STAT to fill.
            let ok = id >= 0
                && unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } == 0
                && ds.msg_perm.__key == *key
                && ds.msg_perm.cuid == *cuid;
            // SAFETY: IPC_RMID takes no buffer.
            (ok && unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) } == 0)
                .then(|| format!("removed message queue {id} (key {key:#x})"))
        }
        Resource::SysvSem { id, key } => {
            let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: IPC_STAT with a pointer to a semid_ds (the union's buf member, passed as a pointer).
            let ok = unsafe { libc::semctl(*id, 0, libc::IPC_STAT, &mut ds as *mut libc::semid_ds) } == 0
                && ds.sem_perm.__key == *key;
            // SAFETY: IPC_RMID ignores the fourth argument.
            (ok && unsafe { libc::semctl(*id, 0, libc::IPC_RMID, 0) } == 0)
                .then(|| format!("removed semaphore set {id}"))
        }
        Resource::SysvShm { id, key } => {
            let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: ds is a valid shmid_ds for IPC_STAT to fill.
            let ok = unsafe { libc::shmctl(*id, libc::IPC_STAT, &mut ds) } == 0 && ds.shm_perm.__key == *key;
            // SAFETY: IPC_RMID takes no buffer.
            (ok && unsafe { libc::shmctl(*id, libc::IPC_RMID, std::ptr::null_mut()) } == 0)
                .then(|| format!("removed shared memory segment {id}"))
        }
        Resource::PosixMq { name } => {
            let c = std::ffi::CString::new(name.as_str()).ok()?;
            // SAFETY: c is a valid NUL-terminated name.
            (unsafe { libc::mq_unlink(c.as_ptr()) } == 0).then(|| format!("removed POSIX message queue {name}"))
        }
        Resource::Mount { path } => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
            // SAFETY: c is a valid NUL-terminated path.
            (unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0)
                .then(|| format!("unmounted {}", path.display()))
        }
    }
}
