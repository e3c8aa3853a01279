//! Proof that the gate catches a kernel that deviates: the suite runs once as it is (that run,
//! approved in a scratch reports directory, is the reference), then once under each deviation of
//! `cases/deviations.toml`, a seccomp filter that bends one system call in the workers only
//! (`run --wrap-workers "ipc-conform-deviate NAME --"`). Under every deviation the gate must exit
//! 1 naming at least one claim the deviation is tied to, and no claim may end in `error`: a kernel
//! that says no is an observation. The detection table per area is printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::Value;
use serial_test::file_parallel;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-conform");
const DEVIATE: &str = env!("CARGO_BIN_EXE_ipc-conform-deviate");
const TABLE: &str = include_str!("../deviations.toml");

#[derive(Deserialize)]
struct Table {
    deviation: Vec<Deviation>,
}

#[derive(Deserialize, Clone)]
struct Deviation {
    name: String,
    area: String,
    bends: String,
    claims: Vec<String>,
}

/// Runs the whole suite (under `deviation`, if any) into `out`; returns the results.
fn run_suite(out: &Path, deviation: Option<&str>) -> Value {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--no-progress", "--format", "json", "-o", out.to_str().unwrap()]);
    if let Some(name) = deviation {
        cmd.args(["--wrap-workers", &format!("{DEVIATE} {name} --")]);
    }
    let status = cmd.output().expect("run ipc-conform");
    assert!(out.is_file(), "{deviation:?}: no results: {}", String::from_utf8_lossy(&status.stderr));
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

struct Caught {
    area: String,
    caught: bool,
    named: Vec<String>,
    problems: Vec<String>,
}

fn check(deviation: &Deviation, reports: &Path, scratch: &Path) -> Caught {
    let results = scratch.join(format!("{}.json", deviation.name));
    let report = run_suite(&results, Some(&deviation.name));
    let mut problems = Vec::new();
    for r in report["results"].as_array().unwrap() {
        if r["verdict"] == "error" {
            problems.push(format!("{} ended in error: {}", r["claim"], r["explanation"]));
        }
    }
    let gate = Command::new(BIN)
        .args(["gate", "--results", results.to_str().unwrap(), "--snapshots", reports.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&gate.stdout);
    if gate.status.code() != Some(1) {
        problems.push(format!("the gate exited {:?}, not 1", gate.status.code()));
    }
    let named: Vec<String> = deviation.claims.iter().filter(|c| text.contains(&format!("~ {c}: "))).cloned().collect();
    if named.is_empty() {
        problems.push(format!("the gate named none of {:?}", deviation.claims));
    }
    Caught { area: deviation.area.clone(), caught: problems.is_empty(), named, problems }
}

#[test]
#[file_parallel(machine_wide)]
fn every_deviation_fails_the_gate_naming_a_claim_it_bends_and_no_claim_ends_in_error() {
    let table: Table = toml::from_str(TABLE).expect("deviations.toml parses");
    assert!(table.deviation.len() >= 40, "only {} deviations", table.deviation.len());
    for d in &table.deviation {
        assert!(!d.claims.is_empty() && !d.bends.is_empty(), "{}: no claims or description", d.name);
    }
    let scratch = tempfile::tempdir().unwrap();
    let reports = scratch.path().join("reports");
    // The reference: this kernel unbent, approved as its own snapshot in the scratch directory.
    let unbent = scratch.path().join("unbent.json");
    run_suite(&unbent, None);
    let accept = Command::new(BIN)
        .args(["gate", "--accept", "--results", unbent.to_str().unwrap(), "--snapshots", reports.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(accept.status.success(), "{}", String::from_utf8_lossy(&accept.stderr));

    let started = std::time::Instant::now();
    let outcomes: Mutex<BTreeMap<String, Caught>> = Mutex::new(BTreeMap::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(d) = table.deviation.get(i) else { break };
                let caught = check(d, &reports, scratch.path());
                outcomes.lock().unwrap().insert(d.name.clone(), caught);
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let mut per_area: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in outcomes.values() {
        let e = per_area.entry(&c.area).or_default();
        e.0 += usize::from(c.caught);
        e.1 += 1;
    }
    println!("deviation sweep: {} deviations in {:.0} s", outcomes.len(), started.elapsed().as_secs_f64());
    for (area, (caught, all)) in &per_area {
        println!("  {area:<18} {caught}/{all} caught");
    }
    for (name, c) in &outcomes {
        println!(
            "  {name}: {}",
            if c.caught { format!("caught, named {}", c.named.join(", ")) } else { c.problems.join("; ") }
        );
    }
    let missed: Vec<String> =
        outcomes.iter().filter(|(_, c)| !c.caught).map(|(n, c)| format!("{n}: {}", c.problems.join("; "))).collect();
    assert!(missed.is_empty(), "deviations not caught cleanly:\n{}", missed.join("\n"));
}
