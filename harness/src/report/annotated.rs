//! The notes as a reader wants them after a run: every line, with a verdict mark beside each line
//! that holds a claim (or repeats one), linking to the claim's entry in the kernel's report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RunReport;
use crate::catalogue::{parse_place, Notes};
use crate::verdict::Verdict;

pub fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "✅",
        Verdict::Refuted => "❌",
        Verdict::Partial => "🔶",
        Verdict::Skipped => "⏭️",
        Verdict::Error => "⚠️",
    }
}

fn cell(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;");
    escaped.replace('`', "\\`").replace('*', "\\*").replace('_', "\\_").replace('#', "\\#").replace('[', "\\[")
}

/// One note rendered as Markdown; `report_link` is the path of report.md relative to the output.
pub fn render(report: &RunReport, notes: &Notes, note: &str, report_link: &str) -> Option<String> {
    let text = notes.text(note)?;
    let mut marks: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for r in &report.results {
        let link = format!("[{} `{}`]({report_link}#{})", mark(r.verdict), r.claim, r.claim);
        if r.note == note {
            marks.entry(r.line).or_default().push(link.clone());
        }
        for (_, line) in r.also_in.iter().filter_map(|p| parse_place(p)).filter(|(n, _)| *n == note) {
            marks.entry(line).or_default().push(format!("{link} (also)"));
        }
    }
    let k = &report.kernel;
    let mut out = String::new();
    let _ = writeln!(out, "# {note}, checked on {} {}\n", k.release, k.arch);
    let _ = writeln!(
        out,
        "Marks: ✅ holds · ❌ refuted · 🔶 partial · ⏭️ skipped · ⚠️ error. Each links to the claim in [the report]({report_link}); \"(also)\" marks a line that repeats a claim made elsewhere.\n"
    );
    let _ = writeln!(out, "| line | verdict | text |\n|---:|---|---|");
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let verdicts = marks.get(&n).map(|m| m.join("<br>")).unwrap_or_default();
        let _ = writeln!(out, "| {n} | {verdicts} | {} |", cell(line.trim_end()));
    }
    Some(out)
}
