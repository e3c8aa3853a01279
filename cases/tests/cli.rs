//! The command line: exit codes, messages that name the problem, and the JSON shapes.

use std::process::{Command, Output};

use rstest::rstest;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-conform");

fn ipc_conform(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run ipc-conform")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
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
fn bad_usage_exits_2_naming_the_problem(#[case] args: &[&str], #[case] expected: &str) {
    let out = ipc_conform(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing partial on stdout");
}

#[test]
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
fn run_output_to_an_unwritable_place_exits_2_and_writes_nothing() {
    let out = ipc_conform(&["run", "pipe.capacity.is_64k", "--output", "/nonexistent/dir/report.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/dir"));
}

#[test]
fn markdown_report_has_counts_and_quotes() {
    let out = ipc_conform(&["run", "pipe.pipe_buf.*", "--format", "markdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| verdict | claims |"));
    assert!(md.contains("常量`PIPE_BUF`规定了内核缓冲区的大小"));
}
