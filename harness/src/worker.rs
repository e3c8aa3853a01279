//! The worker side: one process per case. The runner starts the worker executable with the case
//! named in the environment; `serve_if_worker` is the first thing that executable's `main` calls.

use std::path::PathBuf;
use std::time::Duration;

use crate::case::Registry;
use crate::ctx::{Ctx, Depth};
use crate::journal::{Event, EventLog};
use crate::verdict::Decision;

pub const ENV_CASE: &str = "IPC_CONFORM_WORKER_CASE";
pub const ENV_LOG: &str = "IPC_CONFORM_WORKER_LOG";
pub const ENV_DEPTH: &str = "IPC_CONFORM_WORKER_DEPTH";
pub const ENV_TIMEOUT_MS: &str = "IPC_CONFORM_WORKER_TIMEOUT_MS";

/// If this process was started as a worker, runs the case and exits; otherwise returns.
pub fn serve_if_worker(registry: &Registry) {
    let Ok(case_name) = std::env::var(ENV_CASE) else { return };
    let code = serve(registry, &case_name);
    std::process::exit(code);
}

fn serve(registry: &Registry, case_name: &str) -> i32 {
    let log_path = std::env::var_os(ENV_LOG).map(PathBuf::from);
    let depth = std::env::var(ENV_DEPTH).ok().and_then(|d| Depth::parse(&d)).unwrap_or_default();
    let timeout_ms =
        std::env::var(ENV_TIMEOUT_MS).ok().and_then(|t| t.parse().ok()).unwrap_or(crate::case::DEFAULT_TIMEOUT_MS);
    for var in [ENV_CASE, ENV_LOG, ENV_DEPTH, ENV_TIMEOUT_MS] {
        // Children the case spawns (shells, re-execs) must not mistake themselves for workers.
        // SAFETY: the worker is single-threaded at this point.
        unsafe { std::env::remove_var(var) };
    }
    let Some(log_path) = log_path else {
        eprintln!("ipc-conform worker: {ENV_LOG} is not set");
        return 2;
    };
    let log = match EventLog::create(&log_path) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("ipc-conform worker: cannot open {}: {e}", log_path.display());
            return 2;
        }
    };
    let Some(case) = registry.case(case_name) else {
        log.write(&Event::Finished { error: Some(format!("no case named {case_name}")) });
        return 2;
    };
    c_like_signals();
    let workdir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let timeout = Duration::from_millis(timeout_ms);
    // A tenth of the time is left for the case to conclude after its last wait.
    if let Ok(journal) = log.try_clone() {
        crate::proc::set_case_deadline(std::time::Instant::now() + timeout.mul_f64(0.9), move |what| {
            journal.write(&match what {
                crate::proc::Inconclusive::CutShort(wait) => Event::OutOfTime { wait },
                crate::proc::Inconclusive::Unobservable(what) => Event::Unobservable { what },
            })
        });
    }
    let mut ctx = Ctx::new(log, case.claims, workdir, depth, timeout);
    let run = case.run;
    // A case ended because a state it needs cannot be seen is not a panic to print.
    let print_panic = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<crate::proc::CaseEnded>().is_none() {
            print_panic(info)
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut ctx)));
    let error = match outcome {
        Ok(Ok(())) => {
            let undecided = ctx.undecided();
            (!undecided.is_empty()).then(|| format!("the case returned without deciding {}", undecided.join(", ")))
        }
        Ok(Err(e)) if is_the_kernels_answer(&e) => {
            // The kernel refused a step of the experiment, or did not do in time what the case
            // waited for: an observation. Claims decided before it stand; the rest could not be
            // checked, and say which step failed.
            let step = format!("{e:#}");
            ctx.observe("the experiment stopped", &step);
            for claim in ctx.undecided() {
                ctx.decide(
                    claim,
                    Decision::skipped(format!("could not be checked: a step the check needs failed: {step}")),
                );
            }
            None
        }
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(panic) if panic.downcast_ref::<crate::proc::CaseEnded>().is_some() => {
            let why = &panic.downcast_ref::<crate::proc::CaseEnded>().expect("checked above").0;
            for claim in ctx.undecided() {
                ctx.decide(claim, Decision::skipped(format!("could not be checked: {why}")));
            }
            None
        }
        Err(panic) => Some(format!(
            "the case panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("<non-string panic>")
        )),
    };
    ctx.log().write(&Event::Finished { error });
    0
}

/// Whether an error a case returned is the kernel's answer (an errno from a system call, a
/// deadline passed waiting for a process) rather than a fault of the harness.
fn is_the_kernels_answer(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<nix::errno::Errno>()
            || cause.is::<crate::proc::Unanswered>()
            || cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.raw_os_error().is_some())
    })
}

/// A worker's children behave like freshly started C programs: every signal at its default
/// disposition and nothing blocked. The Rust runtime ignores SIGPIPE and catches SIGSEGV/SIGBUS
/// (which would swallow a raised crash signal), and whoever started the suite may have left
/// signals ignored (a shell's `&` ignores SIGINT and SIGQUIT, nohup SIGHUP): a case must see the
/// kernel's defaults, not its launcher's. The worker itself ignores SIGPIPE: a reader that went
/// away early (a kernel that ends a read too soon) is an EPIPE the case observes, never the
/// worker's death; `proc::spawn` gives every child the default back.
fn c_like_signals() {
    use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        let disposition = if sig == Signal::SIGPIPE { SigHandler::SigIgn } else { SigHandler::SigDfl };
        // SAFETY: installing SIG_DFL or SIG_IGN runs no code of ours.
        unsafe {
            let _ = signal(sig, disposition);
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}
