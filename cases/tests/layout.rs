//! The layout of `cases/src/` mirrors the claim ids: the first two words of a claim id name
//! the file whose case decides it, so a reader goes from a report to the code in one hop.
//!
//! `sysv.msg.*` is in `cases/src/sysv/msg.rs`; a group without a file of its own in an area
//! that is a directory (`sysv.model.*`, `pipe.read.*`) is in that area's `mod.rs`; an area that
//! is one file (`fifo.*`) is in `cases/src/fifo.rs`.

use std::path::{Path, PathBuf};

use harness::catalogue::{Catalogue, Notes};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The file a claim id names, relative to the workspace.
fn file_named_by(claim: &str) -> String {
    let mut words = claim.split('.');
    let (area, group) = (words.next().unwrap(), words.next().unwrap());
    let src = workspace().join("cases/src");
    if src.join(area).is_dir() {
        if src.join(area).join(format!("{group}.rs")).is_file() {
            format!("cases/src/{area}/{group}.rs")
        } else {
            format!("cases/src/{area}/mod.rs")
        }
    } else {
        format!("cases/src/{area}.rs")
    }
}

/// `sysv.msg` for `cases/src/sysv/msg.rs`, `pipe` for `cases/src/pipe/mod.rs`.
fn module_path(file: &str) -> String {
    let inner = file.strip_prefix("cases/src/").and_then(|f| f.strip_suffix(".rs")).unwrap_or(file);
    inner.strip_suffix("/mod").unwrap_or(inner).replace('/', ".")
}

fn catalogue() -> Catalogue {
    let notes = Notes::from_pairs(cases::EMBEDDED.notes.iter().copied());
    Catalogue::parse(cases::EMBEDDED.catalogue, &notes).expect("the built-in catalogue parses")
}

#[test]
fn every_claim_is_decided_in_the_file_its_id_names() {
    let registry = cases::registry();
    let mut wrong = Vec::new();
    let catalogue = catalogue();
    for claim in &catalogue.claims {
        let want = file_named_by(&claim.id);
        assert!(workspace().join(&want).is_file(), "{}: {want} does not exist", claim.id);
        let cases: Vec<_> = registry.cases_for(&claim.id).collect();
        assert!(!cases.is_empty(), "{}: no case decides it", claim.id);
        for case in cases {
            if case.file != want {
                wrong.push(format!("{} is decided by {} in {}, not in {want}", claim.id, case.name, case.file));
            }
        }
    }
    assert!(wrong.is_empty(), "{} claims decided elsewhere:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn every_case_is_named_after_its_module() {
    let registry = cases::registry();
    let misnamed: Vec<String> = registry
        .cases()
        .iter()
        .filter(|case| case.name.rsplit_once('.').map(|(prefix, _)| prefix) != Some(&module_path(case.file)))
        .map(|case| format!("{} in {}", case.name, case.file))
        .collect();
    assert!(misnamed.is_empty(), "cases not named after their module:\n{}", misnamed.join("\n"));
    for case in registry.cases() {
        let (_, what) = case.name.rsplit_once('.').unwrap();
        assert!(!what.is_empty() && what.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        let source = std::fs::read_to_string(workspace().join(case.file)).expect("the case's file");
        let line = source.lines().nth(case.line as usize - 1).unwrap_or_default();
        assert!(
            line.contains("Case::new"),
            "{}: {}:{} is not its declaration: {line:?}",
            case.name,
            case.file,
            case.line
        );
    }
}

#[test]
fn the_rule_names_the_expected_files() {
    assert_eq!(file_named_by("sysv.msg.type_negative_lowest_type"), "cases/src/sysv/msg.rs");
    assert_eq!(file_named_by("sysv.model.three_mechanisms"), "cases/src/sysv/mod.rs");
    assert_eq!(file_named_by("socket.tcp.accept_blocks"), "cases/src/socket/tcp.rs");
    assert_eq!(file_named_by("pipe.popen.runs_sh_c"), "cases/src/pipe/popen.rs");
    assert_eq!(file_named_by("pipe.read.empty_blocks"), "cases/src/pipe/mod.rs");
    assert_eq!(file_named_by("fifo.open.rules"), "cases/src/fifo.rs");
    assert_eq!(module_path("cases/src/pipe/mod.rs"), "pipe");
    assert_eq!(module_path("cases/src/socket/tcp.rs"), "socket.tcp");
}
