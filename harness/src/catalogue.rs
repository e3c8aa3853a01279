//! The claim catalogue: every checkable statement of the notes, traced to file, line and quote.
//!
//! Validation happens at load, so a wrong line number or a quote that drifted from the note is a
//! clear error naming the entry instead of a silently untraceable verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The text of the notes, by file name.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    files: BTreeMap<String, String>,
}

impl Notes {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Notes { files: pairs.into_iter().map(|(name, text)| (name.to_string(), text.to_string())).collect() }
    }

    /// Reads every `*.txt` file of a directory.
    pub fn from_dir(dir: &Path) -> Result<Self, CatalogueError> {
        let unreadable = |e: std::io::Error| CatalogueError::single(format!("notes directory {}: {e}", dir.display()));
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.extension().is_some_and(|e| e == "txt") {
                let text = crate::files::read_limited(&path, crate::files::NOTE_LIMIT, "note")
                    .map_err(|e| CatalogueError::single(format!("{e:#}")))?;
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                files.insert(name, text);
            }
        }
        if files.is_empty() {
            return Err(CatalogueError::single(format!("notes directory {} holds no .txt note", dir.display())));
        }
        Ok(Notes { files })
    }

    /// Line `line` (1-based) of note `name`.
    pub fn line(&self, name: &str, line: usize) -> Option<&str> {
        self.files.get(name)?.lines().nth(line.checked_sub(1)?)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }
}

/// One checkable statement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    pub area: String,
    pub note: String,
    pub line: usize,
    pub quote: String,
    pub statement: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_in: Vec<String>,
}

/// An `also_in` place, "<note>:<line>", as (note, line).
pub fn parse_place(place: &str) -> Option<(&str, usize)> {
    let (note, line) = place.rsplit_once(':')?;
    Some((note, line.parse().ok()?))
}

/// Lines of a note that state nothing a program could observe, read and set aside together: a
/// heading, a function's signature, an `#include`, a numbered step of a recipe, a link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SetAside {
    pub note: String,
    pub lines: Vec<usize>,
    pub what: SetAsideKind,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SetAsideKind {
    /// A title or a label that introduces what follows ("匿名管道：").
    Heading,
    /// A prototype, a header line or a bare function name: the API's shape, checked where the
    /// notes say what the call does.
    Signature,
    /// A step of a how-to ("1.取得socket"): an order of calls, not a behaviour.
    Step,
    /// A link or a reference to other reading.
    Link,
}

/// A statement of the notes that was read and judged not checkable, with the reason. Kept so that
/// a reader can see the notes were covered, not skimmed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NotCheckable {
    pub area: String,
    pub note: String,
    pub line: usize,
    pub quote: String,
    pub kind: NotCheckableKind,
    pub reason: String,
}

/// Why a statement cannot be checked, in a word; the reason says it in a sentence.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NotCheckableKind {
    /// History or popularity.
    History,
    /// A judgement with no measure.
    Opinion,
    /// Advice to programmers.
    Advice,
    /// The shape of an API (a declaration, a return type, a definition).
    ApiShape,
    /// About another operating system.
    AnotherOs,
    /// Behaviour no program on a running system can observe or provoke.
    NotObservable,
    /// Decided by the environment or by other programs, not by the kernel.
    NotKernel,
    /// The sentence stops before it says anything to check.
    Incomplete,
    /// A pointer to a book or another text.
    Reference,
}

impl NotCheckableKind {
    /// The word the catalogue uses.
    pub fn as_str(self) -> &'static str {
        match self {
            NotCheckableKind::History => "history",
            NotCheckableKind::Opinion => "opinion",
            NotCheckableKind::Advice => "advice",
            NotCheckableKind::ApiShape => "api_shape",
            NotCheckableKind::AnotherOs => "another_os",
            NotCheckableKind::NotObservable => "not_observable",
            NotCheckableKind::NotKernel => "not_kernel",
            NotCheckableKind::Incomplete => "incomplete",
            NotCheckableKind::Reference => "reference",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintSpec {
    /// sysctls whose values decide verdicts; recorded with every run.
    #[serde(default)]
    pub sysctls: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    areas: Vec<String>,
    #[serde(default)]
    fingerprint: FingerprintSpec,
    #[serde(default, rename = "claim")]
    claims: Vec<Claim>,
    #[serde(default, rename = "not_checkable")]
    not_checkable: Vec<NotCheckable>,
    #[serde(default)]
    set_aside: Vec<SetAside>,
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub areas: Vec<String>,
    pub fingerprint: FingerprintSpec,
    pub claims: Vec<Claim>,
    pub not_checkable: Vec<NotCheckable>,
    pub set_aside: Vec<SetAside>,
}

/// Everything wrong with a catalogue, each problem naming its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueError {
    pub problems: Vec<String>,
}

impl CatalogueError {
    pub fn single(problem: String) -> Self {
        CatalogueError { problems: vec![problem] }
    }
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid catalogue ({} problem(s)):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogueError {}

/// Folds white space so a quote may span what the note wraps or indents differently.
fn fold_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('.').count() >= 2
        && id.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

impl Catalogue {
    /// Parses and validates a catalogue against the notes.
    pub fn parse(toml_text: &str, notes: &Notes) -> Result<Self, CatalogueError> {
        let raw: RawCatalogue = toml::from_str(toml_text)
            .map_err(|e| CatalogueError::single(format!("not a valid catalogue file: {e}")))?;
        let mut problems = Vec::new();
        let areas: BTreeSet<&str> = raw.areas.iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();

        let check_location =
            |what: &str, note: &str, line: usize, quote: Option<&str>, problems: &mut Vec<String>| match notes
                .line(note, line)
            {
                None if notes.text(note).is_none() => problems.push(format!("{what}: note {note:?} does not exist")),
                None => problems.push(format!("{what}: note {note} has no line {line}")),
                Some(text) => {
                    if let Some(quote) = quote {
                        if quote.trim().is_empty() {
                            problems.push(format!("{what}: the quote is empty"));
                        } else if !fold_ws(text).contains(&fold_ws(quote)) {
                            problems.push(format!(
                                "{what}: the quote {quote:?} is not on line {line} of {note} (that line reads {:?})",
                                text.trim()
                            ));
                        }
                    }
                }
            };

        for (i, c) in raw.claims.iter().enumerate() {
            let what = if c.id.is_empty() { format!("claim #{}", i + 1) } else { format!("claim {}", c.id) };
            if !is_valid_id(&c.id) {
                problems.push(format!("{what}: id {:?} must be dotted lower-case words (area.topic.detail)", c.id));
            }
            if !seen.insert(c.id.as_str()) {
                problems.push(format!("{what}: duplicate id"));
            }
            if !areas.contains(c.area.as_str()) {
                problems.push(format!("{what}: unknown area {:?} (known: {})", c.area, raw.areas.join(", ")));
            }
            if c.statement.trim().is_empty() {
                problems.push(format!("{what}: the statement is empty"));
            }
            check_location(&what, &c.note, c.line, Some(&c.quote), &mut problems);
            for place in &c.also_in {
                match parse_place(place) {
                    Some((note, line)) => {
                        check_location(&format!("{what} also_in {place}"), note, line, None, &mut problems)
                    }
                    None => problems.push(format!("{what}: also_in {place:?} is not <note>:<line>")),
                }
            }
        }
        for (i, n) in raw.not_checkable.iter().enumerate() {
            let what = format!("not_checkable #{} ({}:{})", i + 1, n.note, n.line);
            if !areas.contains(n.area.as_str()) {
                problems.push(format!("{what}: unknown area {:?}", n.area));
            }
            if n.reason.trim().is_empty() {
                problems.push(format!("{what}: the reason is empty"));
            }
            check_location(&what, &n.note, n.line, Some(&n.quote), &mut problems);
        }
        for s in &raw.set_aside {
            for &line in &s.lines {
                check_location(&format!("set_aside {}:{line}", s.note), &s.note, line, None, &mut problems);
                if raw.claims.iter().any(|c| c.note == s.note && c.line == line) {
                    problems.push(format!("set_aside {}:{line}: the line is a claim's", s.note));
                }
            }
        }
        if problems.is_empty() {
            Ok(Catalogue {
                areas: raw.areas,
                fingerprint: raw.fingerprint,
                claims: raw.claims,
                not_checkable: raw.not_checkable,
                set_aside: raw.set_aside,
            })
        } else {
            Err(CatalogueError { problems })
        }
    }

    pub fn claim(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.id == id)
    }

    /// The lines no entry has decided yet: non-blank lines outside ``` blocks, and the lines of
    /// the notes' example programs whose comment is in the notes' own words (Chinese), named by no
    /// claim, `also_in`, `[[not_checkable]]` or `[[set_aside]]`. (note, line, text), in note order.
    pub fn undecided_lines<'n>(&self, notes: &'n Notes) -> Vec<(&'n str, usize, &'n str)> {
        let mut decided: BTreeSet<(&str, usize)> = BTreeSet::new();
        for c in &self.claims {
            decided.insert((c.note.as_str(), c.line));
            decided.extend(c.also_in.iter().filter_map(|p| parse_place(p)));
        }
        decided.extend(self.not_checkable.iter().map(|n| (n.note.as_str(), n.line)));
        for s in &self.set_aside {
            decided.extend(s.lines.iter().map(|&l| (s.note.as_str(), l)));
        }
        let mut undecided = Vec::new();
        for name in notes.names() {
            let mut in_code = false;
            for (i, text) in notes.text(name).unwrap_or_default().lines().enumerate() {
                let trimmed = text.trim();
                // A fence opens or closes a block; ```code``` on one line is inline code.
                if trimmed.starts_with("```") && !trimmed[3..].contains("```") {
                    in_code = !in_code;
                    continue;
                }
                let prose = if in_code { commented_in_prose(text) } else { !trimmed.is_empty() };
                if prose && !decided.contains(&(name, i + 1)) {
                    undecided.push((name, i + 1, text));
                }
            }
        }
        undecided
    }
}

/// A line of code whose comment says something in the notes' language: `// 说明` or `/* 说明 */`.
fn commented_in_prose(line: &str) -> bool {
    let comment = match (line.find("//"), line.find("/*")) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return false,
    };
    line[comment..].chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::commented_in_prose;

    #[test]
    fn a_code_line_counts_as_prose_only_by_a_comment_in_the_notes_words() {
        assert!(commented_in_prose("    key_t   __key ;          /* 此IPC对象的key键 */"));
        assert!(commented_in_prose("//由于管道是全缓冲，如果不刷新"));
        assert!(!commented_in_prose("    printf(\"读到 %d\\n\", n);"), "Chinese outside a comment");
        assert!(!commented_in_prose("    int fd[2]; /* the two ends */"));
        assert!(!commented_in_prose("    close(fd[0]);"));
    }
}
