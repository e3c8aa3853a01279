//! Each area run for real through the binary: every claim of the area gets a verdict that is not
//! `error` (a crash signal in a worker is an observation), and the run leaves no run directory,
//! FIFO, pty, IPC object or process.
//! No expected verdict is written here: which claims hold is the kernel's business.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use rstest::rstest;
use serde_json::Value;
use serial_test::file_serial;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-conform");

/// A temp directory of the test's own for the runs, so run directories of anything else on the
/// machine (another suite run, another checkout's tests) cannot be mistaken for ours.
fn private_tmp() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("areas-test-").tempdir().expect("a temp dir")
}

/// The binary, with `tmp` as its temp directory.
fn ipc_conform(tmp: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("TMPDIR", tmp);
    cmd
}

fn json(tmp: &Path, args: &[&str]) -> Value {
    let out = ipc_conform(tmp).args(args).output().expect("run ipc-conform");
    assert!(out.status.success(), "ipc-conform {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn run_dirs(tmp: &Path) -> BTreeSet<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ipc-conform-run-"))
        .collect()
}

fn ipcs() -> String {
    Command::new("ipcs").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Our own descendants still alive (the binary's workers would be children of its runner, which
/// has exited, so they would be reparented: look for any process running our binary instead).
fn processes_running_the_binary() -> Vec<String> {
    let exe = std::fs::canonicalize(BIN).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| std::fs::read_link(e.path().join("exe")).is_ok_and(|p| p == exe))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// POSIX message queues, where their file system is mounted (the sysv area makes one).
fn posix_queues() -> BTreeSet<String> {
    std::fs::read_dir("/dev/mqueue")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Pseudo-terminals open on this machine (the signal area opens its own).
fn ptys() -> usize {
    std::fs::read_dir("/dev/pts").map(|d| d.count()).unwrap_or(0)
}

#[rstest]
#[case::pipe("pipe", 40)]
#[case::fifo("fifo", 35)]
#[case::signal("signal", 20)]
#[case::mmap("mmap", 20)]
#[case::sysv("sysv", 80)]
#[case::socket("socket", 160)]
#[file_serial(machine_wide)]
fn every_claim_of_the_area_gets_a_verdict_that_is_not_error(#[case] area: &str, #[case] at_least: usize) {
    let tmp = private_tmp();
    let tmp = tmp.path();
    let listed = json(tmp, &["list", "--area", area, "--format", "json"]);
    let claims: BTreeSet<String> =
        listed.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert!(claims.len() >= at_least, "only {} {area} claims", claims.len());

    let (dirs, ipc, pts, mqs) = (run_dirs(tmp), ipcs(), ptys(), posix_queues());
    let report = json(tmp, &["run", "--area", area, "--format", "json", "--no-progress"]);
    assert_eq!(ptys(), pts, "a pseudo-terminal was left open");
    assert_eq!(run_dirs(tmp), dirs, "a run directory was left behind");
    assert_eq!(ipcs(), ipc, "System V objects changed");
    assert_eq!(posix_queues(), mqs, "a POSIX message queue was left behind");
    assert!(processes_running_the_binary().is_empty(), "worker processes left: {:?}", processes_running_the_binary());

    let results = report["results"].as_array().unwrap();
    let decided: BTreeSet<String> = results.iter().map(|r| r["claim"].as_str().unwrap().to_string()).collect();
    assert_eq!(decided, claims, "every {area} claim has exactly one result");
    for r in results {
        let verdict = r["verdict"].as_str().unwrap();
        assert!(
            ["holds", "refuted", "partial", "skipped"].contains(&verdict),
            "{} ended in {verdict}: {}",
            r["claim"],
            r["explanation"]
        );
        assert!(!r["explanation"].as_str().unwrap().is_empty());
        assert!(r["observation"].as_object().is_some_and(|o| !o.is_empty()), "{} has no observation", r["claim"]);
        for field in ["area", "note", "line", "also_in", "duration_ms"] {
            assert!(r.get(field).is_some(), "{} lacks {field}", r["claim"]);
        }
    }
    for field in ["release", "arch"] {
        assert!(report["kernel"][field].is_string());
    }
    let total: u64 = report["summary"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total as usize, results.len());
}

/// Workers killed at their deadline, wherever they are in a case (deadlines scaled down to a few
/// milliseconds), still leave no System V object, POSIX queue, run directory or process: the
/// runner removes what their journals list.
#[rstest]
#[case::sysv("sysv")]
#[file_serial(machine_wide)]
fn workers_killed_mid_case_leave_nothing(#[case] area: &str) {
    let tmp = private_tmp();
    let tmp = tmp.path();
    let (dirs, ipc, mqs) = (run_dirs(tmp), ipcs(), posix_queues());
    for scale in ["0.001", "0.002", "0.004"] {
        let out = ipc_conform(tmp)
            .args(["run", "--area", area, "--no-progress", "--timeout-scale", scale, "--format", "json"])
            .output()
            .expect("run ipc-conform");
        // Exit 1 means some claims ended in `error` (their worker was killed): expected here.
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "ipc-conform failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(ipcs(), ipc, "System V objects changed after killed workers (scale {scale})");
        assert_eq!(posix_queues(), mqs, "a POSIX message queue was left (scale {scale})");
        assert_eq!(run_dirs(tmp), dirs, "a run directory was left (scale {scale})");
        assert!(processes_running_the_binary().is_empty(), "worker processes left (scale {scale})");
    }
}
