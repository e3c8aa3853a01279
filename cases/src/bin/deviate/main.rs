//! `ipc-conform-deviate NAME -- PROGRAM ARGS...`: runs PROGRAM with one kernel behaviour bent on
//! purpose, for proving that the suite sees it. The deviations are the table
//! `cases/deviations.toml`: each names a system call, conditions on its arguments and what the
//! call does instead: fail with an errno, return 0 without doing anything, or (`notify`) what a
//! supervisor outside the filter makes of it (see `notify`). A seccomp filter does the bending,
//! so it holds in PROGRAM and every process PROGRAM forks or executes, and in nothing else. Used as `ipc-conform run --wrap-workers "ipc-conform-deviate NAME --"`, so only
//! the workers are bent, never the runner. `ipc-conform-deviate --list` prints the table.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::process::ExitCode;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use serde::Deserialize;

mod notify;

const TABLE: &str = include_str!("../../../deviations.toml");

#[derive(Debug, Deserialize)]
struct Table {
    deviation: Vec<Deviation>,
}

#[derive(Debug, Deserialize)]
struct Deviation {
    name: String,
    syscall: String,
    #[serde(default)]
    when: Vec<Condition>,
    /// An errno name, or "success" for a return of 0 without the call's effect.
    #[serde(default)]
    result: Option<String>,
    /// Instead of `result`: what a supervisor makes of the call (`notify::Bend`).
    #[serde(default)]
    notify: Option<String>,
    /// For notify = "short-read": the most bytes a read returns.
    #[serde(default)]
    max: Option<usize>,
}

impl Deviation {
    fn bend(&self) -> Result<Option<notify::Bend>, String> {
        match (&self.result, &self.notify) {
            (Some(_), None) => Ok(None),
            (None, Some(n)) => notify::Bend::parse(n, self.max).map(Some).map_err(|e| format!("{}: {e}", self.name)),
            _ => Err(format!("{}: give exactly one of result and notify", self.name)),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Condition {
    arg: u8,
    /// eq, ne, lt, le, gt, ge, or masked (the bits of `mask` equal those of `value`).
    op: String,
    value: i64,
    #[serde(default)]
    mask: Option<i64>,
    /// Compare the low 32 bits only (an int argument).
    #[serde(default)]
    int: bool,
}

fn syscall_number(name: &str) -> Option<i64> {
    Some(match name {
        "fcntl" => libc::SYS_fcntl,
        "lseek" => libc::SYS_lseek,
        "pipe2" => libc::SYS_pipe2,
        "mknodat" => libc::SYS_mknodat,
        "openat" => libc::SYS_openat,
        "unlinkat" => libc::SYS_unlinkat,
        "unlink" => libc::SYS_unlink,
        "rt_sigaction" => libc::SYS_rt_sigaction,
        "rt_sigprocmask" => libc::SYS_rt_sigprocmask,
        "kill" => libc::SYS_kill,
        "alarm" => libc::SYS_alarm,
        "setitimer" => libc::SYS_setitimer,
        "pause" => libc::SYS_pause,
        "mmap" => libc::SYS_mmap,
        "munmap" => libc::SYS_munmap,
        "mprotect" => libc::SYS_mprotect,
        "msync" => libc::SYS_msync,
        "ftruncate" => libc::SYS_ftruncate,
        "msgget" => libc::SYS_msgget,
        "msgsnd" => libc::SYS_msgsnd,
        "msgrcv" => libc::SYS_msgrcv,
        "msgctl" => libc::SYS_msgctl,
        "semget" => libc::SYS_semget,
        "semop" => libc::SYS_semop,
        "semtimedop" => libc::SYS_semtimedop,
        "semctl" => libc::SYS_semctl,
        "shmget" => libc::SYS_shmget,
        "shmdt" => libc::SYS_shmdt,
        "shmctl" => libc::SYS_shmctl,
        "socket" => libc::SYS_socket,
        "bind" => libc::SYS_bind,
        "listen" => libc::SYS_listen,
        "connect" => libc::SYS_connect,
        "accept4" => libc::SYS_accept4,
        "shutdown" => libc::SYS_shutdown,
        "sendto" => libc::SYS_sendto,
        "recvfrom" => libc::SYS_recvfrom,
        "setsockopt" => libc::SYS_setsockopt,
        "getsockname" => libc::SYS_getsockname,
        "getpeername" => libc::SYS_getpeername,
        "sethostname" => libc::SYS_sethostname,
        "uname" => libc::SYS_uname,
        "unshare" => libc::SYS_unshare,
        "mount" => libc::SYS_mount,
        "ioctl" => libc::SYS_ioctl,
        "write" => libc::SYS_write,
        "read" => libc::SYS_read,
        "dup2" => libc::SYS_dup2,
        "dup3" => libc::SYS_dup3,
        _ => return None,
    })
}

fn errno_number(name: &str) -> Option<u32> {
    (1..200).find(|&n| format!("{:?}", nix::errno::Errno::from_raw(n)) == name).map(|n| n as u32)
}

fn filter(d: &Deviation) -> Result<BpfProgram, String> {
    let nr = syscall_number(&d.syscall).ok_or_else(|| format!("{}: unknown system call {}", d.name, d.syscall))?;
    let action = match (d.result.as_deref(), d.bend()?) {
        // Trace(0) is only a marker here: notify::trace_to_notify makes it a user notification.
        (_, Some(_)) => SeccompAction::Trace(0),
        (Some("success"), None) => SeccompAction::Errno(0),
        (Some(errno), None) => {
            SeccompAction::Errno(errno_number(errno).ok_or_else(|| format!("{}: unknown errno {errno}", d.name))?)
        }
        (None, None) => unreachable!("bend() refuses a deviation without result or notify"),
    };
    let conditions = d
        .when
        .iter()
        .map(|c| {
            let op = match (c.op.as_str(), c.mask) {
                ("eq", _) => SeccompCmpOp::Eq,
                ("ne", _) => SeccompCmpOp::Ne,
                ("lt", _) => SeccompCmpOp::Lt,
                ("le", _) => SeccompCmpOp::Le,
                ("gt", _) => SeccompCmpOp::Gt,
                ("ge", _) => SeccompCmpOp::Ge,
                ("masked", Some(mask)) => SeccompCmpOp::MaskedEq(mask as u64),
                (other, _) => return Err(format!("{}: bad condition op {other} (masked needs a mask)", d.name)),
            };
            let (len, value) = if c.int {
                (SeccompCmpArgLen::Dword, c.value as u32 as u64)
            } else {
                (SeccompCmpArgLen::Qword, c.value as u64)
            };
            SeccompCondition::new(c.arg, len, op, value).map_err(|e| format!("{}: {e}", d.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rules = if conditions.is_empty() {
        vec![]
    } else {
        vec![SeccompRule::new(conditions).map_err(|e| format!("{}: {e}", d.name))?]
    };
    let filter = SeccompFilter::new(
        BTreeMap::from([(nr, rules)]),
        SeccompAction::Allow,
        action,
        TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", d.name))?;
    let program = BpfProgram::try_from(filter).map_err(|e| format!("{}: {e}", d.name))?;
    Ok(if d.notify.is_some() { notify::trace_to_notify(program) } else { program })
}

fn main() -> ExitCode {
    let table: Table = match toml::from_str(TABLE) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ipc-conform-deviate: deviations.toml: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for d in &table.deviation {
            println!("{}", d.name);
        }
        return ExitCode::SUCCESS;
    }
    let (Some(name), Some("--")) = (args.first(), args.get(1).map(String::as_str)) else {
        eprintln!("usage: ipc-conform-deviate NAME -- PROGRAM [ARGS...]   |   ipc-conform-deviate --list");
        return ExitCode::from(2);
    };
    let Some(deviation) = table.deviation.iter().find(|d| &d.name == name) else {
        eprintln!("ipc-conform-deviate: no deviation {name} (see --list)");
        return ExitCode::from(2);
    };
    let program = match filter(deviation) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ipc-conform-deviate: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(argv) = args[2..].iter().map(|a| CString::new(a.as_str())).collect::<Result<Vec<_>, _>>() else {
        eprintln!("ipc-conform-deviate: an argument holds a NUL byte");
        return ExitCode::from(2);
    };
    if argv.is_empty() {
        eprintln!("ipc-conform-deviate: no program to run after --");
        return ExitCode::from(2);
    }
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers; seccomp needs it without CAP_SYS_ADMIN.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    let installed = match deviation.bend() {
        Ok(Some(bend)) => notify::install_with_supervisor(&program, bend),
        Ok(None) => seccompiler::apply_filter(&program).map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = installed {
        eprintln!("ipc-conform-deviate: installing the filter: {e}");
        return ExitCode::from(2);
    }
    let e = nix::unistd::execvp(&argv[0], &argv).unwrap_err();
    eprintln!("ipc-conform-deviate: exec {}: {e}", args[2]);
    ExitCode::from(127)
}
