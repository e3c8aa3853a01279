//! The regression gate: today's results on this kernel against its approved snapshot in
//! `reports/<kernel-id>/snapshot.snap` (an insta snapshot). A changed verdict or observation fails
//! with a per-claim diff; `cargo insta review` or `ipc-conform gate --accept` approves. A kernel
//! without a snapshot of its own is gated against a baseline (the nearest approved kernel of the
//! same architecture): any change fails, and a pending `snapshot.snap.new` is left for review.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::report::RunReport;
use harness::snapshot::{self, Snapshot};
use serial_test::file_parallel;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-conform");

fn reports() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports")
}

fn run_suite() -> (RunReport, Vec<u8>) {
    let out = Command::new(BIN).args(["run", "--format", "json", "--no-progress"]).output().expect("run ipc-conform");
    assert!(out.status.success(), "the suite failed: {}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).expect("JSON results"), out.stdout)
}

/// The gate itself: this kernel's approved snapshot, or (a kernel build without one) the
/// nearest approved kernel of the same architecture as its baseline. Any change fails.
/// A run of the suite saved as a result file in a directory of its own.
fn saved_run() -> (RunReport, tempfile::TempDir, std::path::PathBuf) {
    let (report, raw) = run_suite();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("results.json");
    std::fs::write(&saved, raw).unwrap();
    (report, dir, saved)
}

#[test]
#[file_parallel(machine_wide)]
fn this_kernel_matches_its_approved_snapshot_or_baseline() {
    let (report, raw) = run_suite();
    let today = Snapshot::of(&report);
    let kernel_dir = reports().join(&report.kernel.id);
    let approved = kernel_dir.join(snapshot::FILE);
    if !approved.is_file() {
        let saved = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(saved.path(), raw).unwrap();
        let out = Command::new(BIN)
            .args(["gate", "--results", saved.path().to_str().unwrap(), "--snapshots", reports().to_str().unwrap()])
            .output()
            .unwrap();
        println!("{}", String::from_utf8_lossy(&out.stdout));
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let before = Snapshot::load(&approved).expect("the approved snapshot parses");
    let diffs = snapshot::diff(&before, &today);
    if !diffs.is_empty() {
        eprintln!(
            "{} claim(s) changed on {}:\n{}",
            diffs.len(),
            report.kernel.id,
            snapshot::render_diff(&diffs, "approved", "today")
        );
    }
    insta::with_settings!({
        snapshot_path => kernel_dir,
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("snapshot", today.render());
    });
}

#[test]
#[file_parallel(machine_wide)]
fn two_runs_give_the_same_snapshot() {
    let (first, _) = run_suite();
    let (second, _) = run_suite();
    let (a, b) = (Snapshot::of(&first), Snapshot::of(&second));
    let diffs = snapshot::diff(&a, &b);
    assert!(diffs.is_empty(), "unstable claims:\n{}", snapshot::render_diff(&diffs, "run 1", "run 2"));
}

#[test]
#[file_parallel(machine_wide)]
fn a_flipped_verdict_in_a_copy_fails_the_gate_naming_the_claim() {
    let (report, copy, saved) = saved_run();
    let gate = |dir: &Path| {
        Command::new(BIN)
            .args(["gate", "--results", saved.to_str().unwrap(), "--snapshots", dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let accept = Command::new(BIN)
        .args(["gate", "--accept", "--results", saved.to_str().unwrap(), "--snapshots", copy.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(accept.status.success(), "{}", String::from_utf8_lossy(&accept.stderr));
    assert!(gate(copy.path()).status.success(), "the unmodified snapshot passes");

    let file = copy.path().join(&report.kernel.id).join(snapshot::FILE);
    let mut snap = Snapshot::load(&file).unwrap();
    let victim = snap.claims[0].claim.clone();
    snap.claims[0].verdict = match snap.claims[0].verdict {
        harness::Verdict::Holds => harness::Verdict::Refuted,
        _ => harness::Verdict::Holds,
    };
    std::fs::write(&file, snap.to_insta_file()).unwrap();
    let out = gate(copy.path());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("~ {victim}: verdict")), "{text}");
}

/// A reports directory with this kernel's results approved under another kernel id, one claim's
/// verdict changed, so the two kernels differ in exactly that claim.
fn two_kernels() -> (tempfile::TempDir, String, String) {
    let (report, dir, saved) = saved_run();
    let mut other = Snapshot::of(&report);
    other.kernel = "6.1.0-28-amd64-x86_64".into();
    other.claims[1].verdict = harness::Verdict::Skipped;
    let changed = other.claims[1].claim.clone();
    std::fs::create_dir_all(dir.path().join(&other.kernel)).unwrap();
    std::fs::write(dir.path().join(&other.kernel).join(snapshot::FILE), other.to_insta_file()).unwrap();
    (dir, saved.to_string_lossy().into_owned(), changed)
}

fn gate_results(saved: &str, snapshots: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["gate", "--results", saved, "--snapshots", snapshots.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
#[file_parallel(machine_wide)]
fn a_kernel_without_a_snapshot_fails_against_its_nearest_baseline_naming_the_changed_claim() {
    let (dir, saved, changed) = two_kernels();
    let out = gate_results(&saved, dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the baseline 6.1.0-28-amd64-x86_64") && text.contains("in 1 claim(s)"), "{text}");
    assert!(text.contains(&format!("~ {changed}: verdict skipped -> ")), "{text}");
    let (report, _) = run_suite();
    assert!(dir.path().join(&report.kernel.id).join(snapshot::PENDING).is_file(), "a pending snapshot for --accept");
    assert!(!dir.path().join(&report.kernel.id).join(snapshot::FILE).exists(), "nothing approved by itself");
}

#[test]
#[file_parallel(machine_wide)]
fn a_kernel_without_a_snapshot_passes_when_it_behaves_like_its_baseline() {
    let (report, dir, saved) = saved_run();
    let mut same = Snapshot::of(&report);
    same.kernel = "6.1.0-28-amd64-x86_64".into();
    std::fs::create_dir_all(dir.path().join(&same.kernel)).unwrap();
    std::fs::write(dir.path().join(&same.kernel).join(snapshot::FILE), same.to_insta_file()).unwrap();
    let out = gate_results(saved.to_str().unwrap(), dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("matches the baseline 6.1.0-28-amd64-x86_64"), "{text}");
    assert!(dir.path().join(&report.kernel.id).join(snapshot::PENDING).is_file());
    // Asked for an exact snapshot, the same results fail: there is none.
    let strict = gate_results(saved.to_str().unwrap(), dir.path(), &["--require-snapshot"]);
    assert_eq!(strict.status.code(), Some(2), "{}", String::from_utf8_lossy(&strict.stdout));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("has no approved snapshot"));
    // A baseline that is not there is named in the message.
    let unknown = gate_results(saved.to_str().unwrap(), dir.path(), &["--baseline", "4.19.0-x86_64"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--baseline 4.19.0-x86_64"));
}

/// Today's results with claim 0 skipped: for a declared need (`unmet_need`) or, without one, for
/// a step that failed; this run approved as the snapshot. Returns (dir, saved results, claim, its
/// approved verdict).
fn skipped_today(unmet_need: Option<&str>) -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let (report, raw) = run_suite();
    let dir = tempfile::tempdir().unwrap();
    let mut results: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let victim = results["results"][0]["claim"].as_str().unwrap().to_string();
    let was = results["results"][0]["verdict"].as_str().unwrap().to_string();
    results["results"][0]["verdict"] = "skipped".into();
    results["results"][0]["observation"] = serde_json::json!({});
    results["results"][0]["explanation"] =
        "needs CONFIG_TEST_OPTION, which this kernel's configuration does not set".into();
    if let Some(need) = unmet_need {
        results["results"][0]["unmet_need"] = need.into();
    }
    let saved = dir.path().join("results.json");
    std::fs::write(&saved, results.to_string()).unwrap();
    let approved = Snapshot::of(&report);
    std::fs::create_dir_all(dir.path().join(&approved.kernel)).unwrap();
    std::fs::write(dir.path().join(&approved.kernel).join(snapshot::FILE), approved.to_insta_file()).unwrap();
    (dir, saved, victim, was)
}

#[test]
#[file_parallel(machine_wide)]
fn a_claim_not_checked_for_a_declared_need_is_listed_apart_and_fails_only_with_strict() {
    let (dir, saved, victim, was) = skipped_today(Some("CONFIG_TEST_OPTION"));
    let out = gate_results(saved.to_str().unwrap(), dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("matches its approved snapshot") && text.contains("1 not checked here"), "{text}");
    assert!(text.contains(&format!("  {victim}: {was} in the reference; needs CONFIG_TEST_OPTION")), "{text}");
    assert!(!text.contains(&format!("~ {victim}")), "not in the diff: {text}");
    let strict = gate_results(saved.to_str().unwrap(), dir.path(), &["--strict"]);
    let text = String::from_utf8_lossy(&strict.stdout);
    assert_eq!(strict.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("~ {victim}: verdict {was} -> skipped")), "{text}");
}

#[test]
#[file_parallel(machine_wide)]
fn a_skip_from_a_failed_step_is_a_change() {
    let (dir, saved, victim, was) = skipped_today(None);
    let out = gate_results(saved.to_str().unwrap(), dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("~ {victim}: verdict {was} -> skipped")) && !text.contains("not checked here"),
        "{text}"
    );
}

#[test]
#[file_parallel(machine_wide)]
fn a_fallback_baseline_is_used_only_without_an_exact_snapshot() {
    let (dir, saved, changed) = two_kernels();
    // No exact snapshot: the fallback is the reference, and its changed claim fails the gate.
    let out = gate_results(&saved, dir.path(), &["--fallback-baseline", "6.1.0-28-amd64-x86_64"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("~ {changed}: verdict skipped -> ")), "{text}");
    // With this kernel's own snapshot approved, the fallback is not used and nothing is pending.
    let accept = gate_results(&saved, dir.path(), &["--accept"]);
    assert!(accept.status.success(), "{}", String::from_utf8_lossy(&accept.stderr));
    let (report, _) = run_suite();
    let _ = std::fs::remove_file(dir.path().join(&report.kernel.id).join(snapshot::PENDING));
    let out = gate_results(&saved, dir.path(), &["--fallback-baseline", "6.1.0-28-amd64-x86_64"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("matches its approved snapshot"), "{text}");
    assert!(!dir.path().join(&report.kernel.id).join(snapshot::PENDING).exists(), "no pending snapshot: {text}");
}

#[test]
#[file_parallel(machine_wide)]
fn an_error_verdict_is_a_change_in_the_diff() {
    let (report, raw) = run_suite();
    let dir = tempfile::tempdir().unwrap();
    let mut results: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let victim = results["results"][0]["claim"].as_str().unwrap().to_string();
    let was = results["results"][0]["verdict"].as_str().unwrap().to_string();
    results["results"][0]["verdict"] = "error".into();
    results["results"][0]["explanation"] = "timed out; the worker was in state S in read".into();
    let saved = dir.path().join("results.json");
    std::fs::write(&saved, results.to_string()).unwrap();
    let approved = Snapshot::of(&report);
    std::fs::create_dir_all(dir.path().join(&approved.kernel)).unwrap();
    std::fs::write(dir.path().join(&approved.kernel).join(snapshot::FILE), approved.to_insta_file()).unwrap();
    let out = gate_results(saved.to_str().unwrap(), dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("~ {victim}: verdict {was} -> error")), "{text}");
    assert!(text.contains("the worker was in state S in read"), "{text}");
}

#[test]
#[file_parallel(machine_wide)]
fn matrix_and_diff_show_only_the_claim_that_differs() {
    let (dir, saved, changed) = two_kernels();
    let accept = Command::new(BIN)
        .args(["gate", "--accept", "--results", &saved, "--snapshots", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(accept.status.success());
    let matrix = Command::new(BIN).args(["matrix", "--snapshots", dir.path().to_str().unwrap()]).output().unwrap();
    let md = String::from_utf8_lossy(&matrix.stdout);
    assert!(matrix.status.success(), "{}", String::from_utf8_lossy(&matrix.stderr));
    assert!(
        md.contains("2 columns (2 kernels; ") && md.contains("**1 claims differ** between them: 1 in verdict"),
        "{md}"
    );
    // One line on what decides it: here the kernel, the only thing the two columns differ in.
    let line = md.lines().find(|l| l.starts_with(&format!("- [`{changed}`]"))).unwrap_or_else(|| panic!("{md}"));
    assert!(line.contains("decided by **kernel**") && line.contains("skipped on 6.1.0-28-amd64-x86_64"), "{line}");
    // What each column did: the two verdicts, each with the columns that gave it.
    assert!(md.contains(&format!("### {changed}")), "{md}");
    assert!(md.contains("- **skipped** on 6.1.0-28-amd64-x86_64 (`6.1.0-28-amd64-x86_64`)"), "{md}");
    let html = Command::new(BIN)
        .args(["matrix", "--snapshots", dir.path().to_str().unwrap(), "--format", "html", "--all"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&html.stdout).contains("<table>"));

    let kernels: Vec<_> = snapshot::approved_in(dir.path()).into_iter().map(|(_, p)| p).collect();
    let diff =
        Command::new(BIN).args(["diff", kernels[0].to_str().unwrap(), kernels[1].to_str().unwrap()]).output().unwrap();
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.contains("1 claim(s) differ") && text.contains(&changed), "{text}");
}
