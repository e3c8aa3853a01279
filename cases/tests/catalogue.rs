//! What a machine can keep true of the catalogue: every quote is on its line of the note (the
//! loader checks it; this test makes the built-in catalogue pass the loader), no two claims say the
//! same thing of the same text, every statement is a sentence, and every `[[not_checkable]]` has a
//! kind (the loader accepts only the known ones) and a reason that is a sentence.

use std::collections::BTreeMap;

use harness::catalogue::{Catalogue, Notes};

fn catalogue() -> Catalogue {
    let notes = Notes::from_pairs(cases::EMBEDDED.notes.iter().copied());
    Catalogue::parse(cases::EMBEDDED.catalogue, &notes).expect("the built-in catalogue passes the loader")
}

fn is_sentence(text: &str) -> bool {
    let text = text.trim();
    text.len() >= 20 && (text.ends_with('.') || text.ends_with(".)") || text.ends_with('?'))
}

#[test]
fn no_two_claims_say_the_same_of_the_same_text() {
    let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
    for c in &catalogue().claims {
        let key = (c.quote.split_whitespace().collect::<Vec<_>>().join(" "), c.statement.trim().to_string());
        if let Some(other) = seen.insert(key, &c.id) {
            panic!("{} and {other} quote the same text with the same statement", c.id);
        }
    }
}

#[test]
fn statements_and_reasons_are_sentences() {
    let catalogue = catalogue();
    for c in &catalogue.claims {
        assert!(is_sentence(&c.statement), "{}: the statement is not a sentence: {:?}", c.id, c.statement);
    }
    for n in &catalogue.not_checkable {
        assert!(is_sentence(&n.reason), "{}:{}: the reason is not a sentence: {:?}", n.note, n.line, n.reason);
    }
}

#[test]
fn a_not_checkable_line_is_no_claim_line_for_the_same_quote() {
    let catalogue = catalogue();
    for n in &catalogue.not_checkable {
        let clash = catalogue.claims.iter().find(|c| c.note == n.note && c.line == n.line && c.quote == n.quote);
        assert!(clash.is_none(), "{}:{} {:?} is both a claim and not checkable", n.note, n.line, n.quote);
    }
}

#[test]
fn a_not_checkable_kind_outside_the_set_is_refused() {
    let notes = Notes::from_pairs([("n.txt", "a line that says little\n")]);
    let entry = |kind: &str| {
        format!(
            "areas = [\"pipe\"]\n[[not_checkable]]\narea = \"pipe\"\nnote = \"n.txt\"\nline = 1\nquote = \"says little\"\nkind = \"{kind}\"\nreason = \"An opinion on the line, with nothing to observe.\"\n"
        )
    };
    assert!(Catalogue::parse(&entry("opinion"), &notes).is_ok());
    let refused = Catalogue::parse(&entry("gossip"), &notes).map(|_| ()).unwrap_err();
    assert!(format!("{refused:?}").contains("gossip"), "{refused:?}");
}

#[test]
fn a_kind_is_named_as_the_catalogue_writes_it() {
    for n in &catalogue().not_checkable {
        assert_eq!(serde_json::to_value(n.kind).unwrap(), n.kind.as_str(), "{}:{}", n.note, n.line);
    }
}

/// The second reading (issue 20): every line of every note outside code blocks is decided: a
/// claim, an `also_in`, `[[not_checkable]]` with its reason, or `[[set_aside]]` as a heading,
/// signature, step or link. A line added to a note, or an entry removed, shows up here (and in
/// docs/reading-20.md, rewritten by `write_the_worklist`).
#[test]
fn every_line_of_the_notes_is_decided() {
    let notes = Notes::from_pairs(cases::EMBEDDED.notes.iter().copied());
    let undecided: Vec<String> = catalogue()
        .undecided_lines(&notes)
        .iter()
        .map(|(note, line, text)| format!("{note}:{line}: {}", text.trim()))
        .collect();
    assert!(undecided.is_empty(), "lines of the notes that nothing decides:\n{}", undecided.join("\n"));
}

/// Rewrites docs/reading-20.md, the worklist of undecided lines:
/// `cargo test -p ipc-conform --test catalogue -- --ignored write_the_worklist`.
#[test]
#[ignore = "writes docs/reading-20.md; run by hand after a reading session"]
fn write_the_worklist() {
    let notes = Notes::from_pairs(cases::EMBEDDED.notes.iter().copied());
    let undecided = catalogue().undecided_lines(&notes);
    let mut out = String::from(
        "# Issue 20: lines no entry decides yet\n\nWritten by `cargo test -p ipc-conform --test catalogue -- --ignored write_the_worklist`\nfrom fixtures/claims.toml: every non-blank line of each note outside code blocks that no claim,\n`also_in`, `[[not_checkable]]` or `[[set_aside]]` names. Each needs a reader's decision.\n",
    );
    out += &format!("{} lines in all.\n", undecided.len());
    let mut current = "";
    for (note, line, text) in &undecided {
        if *note != current {
            let count = undecided.iter().filter(|(n, _, _)| n == note).count();
            out += &format!("\n## {note}: {count} lines\n\n");
            current = note;
        }
        out += &format!("- {line}: {}\n", text.trim());
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reading-20.md");
    std::fs::write(&path, out).unwrap();
}
