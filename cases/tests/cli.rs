//! The command line: exit codes, messages that name the problem, and the JSON shapes.

use std::process::{Command, Output};

use rstest::rstest;
use serial_test::file_parallel;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-conform");

fn ipc_conform(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run ipc-conform")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
#[file_parallel(machine_wide)]
fn list_json_has_the_claim_fields() {
    let out = ipc_conform(&["list", "--format", "json"]);
    assert!(out.status.success());
    let claims: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in claims.as_array().unwrap() {
        for field in ["id", "area", "note", "line", "quote", "statement"] {
            assert!(c.get(field).is_some(), "{c} lacks {field}");
        }
    }
}

#[test]
#[file_parallel(machine_wide)]
fn explain_shows_the_trace_and_what_the_kernel_did() {
    let out = ipc_conform(&["explain", "pipe.capacity.is_64k"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in ["004_e097bafd742a43f3.txt line 70", "管道容量为64KB", "statement", "F_GETPIPE_SZ"] {
        assert!(text.contains(expected), "explain lacks {expected:?}:\n{text}");
    }
}

#[rstest]
#[case::unknown_area(&["run", "--area", "sockets-of-mars"], "unknown area")]
#[case::unknown_claim(&["run", "pipe.no.such.claim"], "no claim matches")]
#[case::unknown_explain(&["explain", "pipe.no.such.claim"], "no claim")]
#[case::zero_jobs(&["run", "--jobs", "0"], "--jobs must be at least 1")]
#[case::bad_format(&["run", "--format", "yaml"], "invalid value 'yaml'")]
#[case::missing_catalogue(&["--catalogue", "/nonexistent/claims.toml", "list"], "cannot read catalogue")]
#[case::missing_notes(&["--notes", "/nonexistent", "list"], "notes directory")]
#[case::endless_catalogue(&["--catalogue", "/dev/zero", "list"], "longer than the limit")]
#[case::endless_results(&["gate", "--results", "/dev/zero"], "longer than the limit")]
#[case::directory_as_catalogue(&["--catalogue", "/tmp", "list"], "is a directory")]
#[case::unknown_baseline(&["gate", "--baseline", "no-such-kernel"], "--baseline no-such-kernel")]
#[case::unwritable_site(&["site", "--snapshots", "../reports", "-o", "/proc/nope"], "creating /proc/nope")]
#[file_parallel(machine_wide)]
fn bad_usage_exits_2_naming_the_problem(#[case] args: &[&str], #[case] expected: &str) {
    let out = ipc_conform(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing partial on stdout");
}

#[test]
#[file_parallel(machine_wide)]
fn a_catalogue_with_a_wrong_quote_exits_2_naming_the_claim() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/claims.toml")).unwrap();
    let broken = text.replacen("管道容量为64KB", "管道容量为32KB", 1);
    let path = dir.path().join("claims.toml");
    std::fs::write(&path, broken).unwrap();
    let out = ipc_conform(&["--catalogue", path.to_str().unwrap(), "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("claim pipe.capacity.is_64k: the quote"), "{}", stderr(&out));
}

#[test]
#[file_parallel(machine_wide)]
fn run_output_to_an_unwritable_place_exits_2_and_writes_nothing() {
    let out = ipc_conform(&["run", "pipe.capacity.is_64k", "--output", "/nonexistent/dir/report.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/dir"));
}

#[test]
#[file_parallel(machine_wide)]
fn markdown_report_has_counts_and_quotes() {
    let out = ipc_conform(&["run", "pipe.pipe_buf.*", "--format", "markdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| verdict | claims |"));
    assert!(md.contains("常量`PIPE_BUF`规定了内核缓冲区的大小"));
}

/// The fixture catalogue with one edit applied.
fn broken_catalogue(dir: &std::path::Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/claims.toml")).unwrap();
    assert!(text.contains(from), "the fixture no longer contains {from:?}");
    let path = dir.join("claims.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.to_string_lossy().into_owned()
}

const CAPACITY_CLAIM: &str = "id = \"pipe.capacity.is_64k\"\narea = \"pipe\"\nnote = \"004_e097bafd742a43f3.txt\"\nline = 70\nquote = \"管道容量为64KB\"\n";

#[rstest]
#[case::duplicate_id("id = \"pipe.capacity.is_64k\"", "id = \"pipe.create.returns_two_fds\"", "duplicate id")]
#[case::wrong_line(
    "line = 70\nquote = \"管道容量为64KB\"",
    "line = 71\nquote = \"管道容量为64KB\"",
    "claim pipe.capacity.is_64k: the quote"
)]
#[case::line_past_the_end(
    "line = 70\nquote = \"管道容量为64KB\"",
    "line = 99999\nquote = \"管道容量为64KB\"",
    "has no line 99999"
)]
#[case::missing_quote("quote = \"管道容量为64KB\"\n", "", "not a valid catalogue file")]
#[case::empty_quote("quote = \"管道容量为64KB\"", "quote = \"\"", "claim pipe.capacity.is_64k: the quote is empty")]
#[case::unknown_area(CAPACITY_CLAIM, &CAPACITY_CLAIM.replace("area = \"pipe\"", "area = \"pipes\""), "unknown area \"pipes\"")]
#[case::not_toml("[[claim]]\nid = \"pipe.capacity.is_64k\"", "[[claim]\nid = ", "not a valid catalogue file")]
fn a_malformed_catalogue_exits_2_naming_the_problem(#[case] from: &str, #[case] to: &str, #[case] expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = broken_catalogue(dir.path(), from, to);
    for args in [vec!["list"], vec!["run", "pipe.capacity.*"]] {
        let out = ipc_conform(&[&["--catalogue", catalogue.as_str()], args.as_slice()].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "nothing is reported from a broken catalogue");
    }
}

#[rstest]
#[case::filters_select_nothing(&["run", "--area", "fifo", "pipe.capacity.*"], "the filters contradict each other")]
#[case::results_with_jobs(&["gate", "--results", "x.json", "--jobs", "2"], "cannot be used with")]
#[case::results_with_timeout_scale(&["gate", "--results", "x.json", "--timeout-scale", "2"], "cannot be used with")]
#[case::zero_timeout_scale(&["run", "--timeout-scale", "0"], "--timeout-scale must be a positive number")]
#[case::unknown_subcommand(&["sweep"], "unrecognized subcommand")]
#[case::clean_in_a_file(&["clean", "--tmpdir", "/dev/null"], "is not a directory")]
#[file_parallel(machine_wide)]
fn contradictory_or_impossible_flags_exit_2(#[case] args: &[&str], #[case] expected: &str) {
    let out = ipc_conform(args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
}

/// A snapshot directory whose only kernel's approved snapshot is `text`.
fn snapshots_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("6.1.0-28-amd64-x86_64");
    std::fs::create_dir(&kernel).unwrap();
    let file = kernel.join("snapshot.snap");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

const REPORTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports");

fn approved_text() -> String {
    let (_, path) = harness::snapshot::approved_in(std::path::Path::new(REPORTS)).into_iter().next().unwrap();
    std::fs::read_to_string(path).unwrap()
}

#[rstest]
#[case::truncated(|t: &str| t[..t.len() / 2].to_string())]
#[case::unknown_verdict(|t: &str| t.replacen("\"verdict\": \"holds\"", "\"verdict\": \"maybe\"", 1))]
#[case::not_json(|t: &str| t.replace("\"claims\": [", "\"claims\": <"))]
#[case::empty(|_: &str| String::new())]
#[file_parallel(machine_wide)]
fn a_corrupt_snapshot_exits_2_naming_the_file(#[case] corrupt: fn(&str) -> String) {
    let (dir, file) = snapshots_with(&corrupt(&approved_text()));
    let snapshots = dir.path().to_str().unwrap();
    for args in [vec!["matrix", "--snapshots", snapshots], vec!["diff", file.to_str().unwrap(), file.to_str().unwrap()]]
    {
        let out = ipc_conform(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("snapshot.snap"), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: nothing partial on stdout");
    }
}

#[test]
#[file_parallel(machine_wide)]
fn an_unwritable_report_directory_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    let run = ipc_conform(&["run", "--format", "json", "-o", results.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    // Root may write anywhere permissions allow; a path through a regular file is unwritable to all.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let reports = blocker.join("reports");
    for args in [
        vec!["gate", "--accept", "--results", results.to_str().unwrap(), "--snapshots", reports.to_str().unwrap()],
        vec!["matrix", "--snapshots", REPORTS, "-o", reports.join("MATRIX.md").to_str().unwrap()],
    ] {
        let out = ipc_conform(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("a-file"), "{args:?}: {}", stderr(&out));
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "only the results and the blocking file: {left:?}");
}

#[rstest]
#[case::never(&["--color", "never"], &[], false)]
#[case::auto_off_a_terminal(&["--color", "auto"], &[], false)]
#[case::always(&["--color", "always"], &[], true)]
#[case::always_beats_no_color(&["--color", "always"], &[("NO_COLOR", "1")], true)]
#[file_parallel(machine_wide)]
fn verdicts_are_coloured_only_when_asked(#[case] flags: &[&str], #[case] env: &[(&str, &str)], #[case] coloured: bool) {
    let out = Command::new(BIN)
        .args(["run", "--no-progress", "pipe.create.returns_two_fds"])
        .args(flags)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.contains("\x1b["), coloured, "{text}");
    assert!(text.contains("Summary") && text.contains("pipe"), "no per-area summary: {text}");
}
