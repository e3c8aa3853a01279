//! The catalogue loader rejects every kind of untraceable entry, naming it.

use std::path::PathBuf;

use harness::catalogue::{Catalogue, Notes};
use rstest::rstest;

fn notes() -> Notes {
    Notes::from_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/notes")).expect("fixture notes")
}

const NOTE: &str = "004_e097bafd742a43f3.txt";

fn entry(id: &str, area: &str, note: &str, line: usize, quote: &str, statement: &str) -> String {
    format!(
        "[[claim]]\nid = {id:?}\narea = {area:?}\nnote = {note:?}\nline = {line}\nquote = {quote:?}\nstatement = {statement:?}\n"
    )
}

fn good() -> String {
    entry("pipe.capacity.is_64k", "pipe", NOTE, 70, "管道容量为64KB", "A pipe holds 64 KiB.")
}

fn parse(body: &str) -> Result<Catalogue, Vec<String>> {
    Catalogue::parse(&format!("areas = [\"pipe\"]\n{body}"), &notes()).map_err(|e| e.problems)
}

#[test]
fn a_traced_claim_loads() {
    let cat = parse(&good()).expect("valid");
    assert_eq!(cat.claims.len(), 1);
    assert_eq!(cat.claims[0].line, 70);
}

#[rstest]
#[case::wrong_quote(entry("pipe.x.y", "pipe", NOTE, 70, "管道容量为32KB", "s"), "is not on line 70")]
#[case::wrong_line(entry("pipe.x.y", "pipe", NOTE, 71, "管道容量为64KB", "s"), "is not on line 71")]
#[case::line_past_end(entry("pipe.x.y", "pipe", NOTE, 99999, "管道容量为64KB", "s"), "has no line 99999")]
#[case::missing_note(entry("pipe.x.y", "pipe", "999_missing.txt", 1, "x", "s"), "does not exist")]
#[case::empty_quote(entry("pipe.x.y", "pipe", NOTE, 70, "  ", "s"), "the quote is empty")]
#[case::unknown_area(entry("pipe.x.y", "sockets", NOTE, 70, "管道容量为64KB", "s"), "unknown area \"sockets\"")]
#[case::bad_id(entry("Pipe X", "pipe", NOTE, 70, "管道容量为64KB", "s"), "must be dotted lower-case")]
#[case::empty_statement(entry("pipe.x.y", "pipe", NOTE, 70, "管道容量为64KB", " "), "the statement is empty")]
#[case::duplicate_id(good() + &good(), "duplicate id")]
#[case::bad_also_in(good().replace("statement", "also_in = [\"004\"]\nstatement"), "is not <note>:<line>")]
#[case::unknown_field(good().replace("statement", "verdict = \"holds\"\nstatement"), "not a valid catalogue file")]
fn an_untraceable_entry_is_rejected_by_name(#[case] body: String, #[case] expected: &str) {
    let problems = parse(&body).expect_err("must be rejected");
    assert!(problems.iter().any(|p| p.contains(expected)), "expected {expected:?} in {problems:?}");
    assert!(
        problems.iter().all(|p| p.contains("claim") || p.contains("catalogue")),
        "each problem names its entry: {problems:?}"
    );
}

#[test]
fn a_quote_may_fold_white_space() {
    let body = entry("pipe.x.y", "pipe", NOTE, 79, "+   常量`PIPE_BUF`规定了内核缓冲区的大小", "s");
    parse(&body).expect("white space is folded");
}

#[test]
fn the_project_catalogue_is_valid() {
    let text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/claims.toml")).unwrap();
    let cat = Catalogue::parse(&text, &notes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!cat.claims.is_empty());
}
