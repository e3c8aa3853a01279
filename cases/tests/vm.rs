//! `ci/vm`'s answers to bad input, which come before anything is installed or booted: exit 2
//! naming the problem, and 125 (what `git bisect run` reads as "cannot test") when claims are
//! given. Booting real kernels is `ci/vm`'s own business (see ci/patched-kernels).

use std::path::Path;
use std::process::{Command, Output};

use rstest::rstest;

fn vm(args: &[&str], work: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/vm");
    Command::new("bash").arg(script).args(args).env("VM_WORK", work).output().expect("run ci/vm")
}

#[rstest]
#[case::no_kernel(&[], 2, "--kernel PATH is required")]
#[case::missing_file(&["--kernel", "/nonexistent/bzImage"], 2, "does not exist")]
#[case::not_a_kernel(&["--kernel", "NOT_A_KERNEL"], 2, "is not a kernel")]
#[case::not_a_build_dir(&["--kernel", "/etc"], 2, "not a kernel build directory")]
#[case::not_a_kernel_while_bisecting(&["--kernel", "NOT_A_KERNEL", "pipe.*"], 125, "is not a kernel")]
#[case::unknown_option(&["--kernel", "NOT_A_KERNEL", "--frobnicate"], 2, "unknown option")]
fn bad_input_is_named_and_exits_as_documented(#[case] args: &[&str], #[case] code: i32, #[case] says: &str) {
    let work = tempfile::tempdir().unwrap();
    let text = work.path().join("not-a-kernel.txt");
    std::fs::write(&text, "plain text, no setup header\n").unwrap();
    let args: Vec<&str> = args.iter().map(|a| if *a == "NOT_A_KERNEL" { text.to_str().unwrap() } else { a }).collect();
    let out = vm(&args, work.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
}
