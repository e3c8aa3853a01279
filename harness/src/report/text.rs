//! The terminal table: a verdict per claim, then a summary per area and in all. Verdicts carry
//! their colour; `style::emit` strips it where colour is not wanted.

use std::fmt::Write as _;

use super::RunReport;
use crate::style::{self, paint};
use crate::verdict::Verdict;

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let k = &report.kernel;
    let _ = writeln!(out, "ipc-conform on {} {} (euid {}, depth {})", k.release, k.arch, k.euid, report.depth.as_str());
    let width = report.results.iter().map(|r| r.claim.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out, "{}", paint(style::heading(), format!("{:<8} {:<width$} EXPLANATION", "VERDICT", "CLAIM")));
    for r in &report.results {
        let _ = writeln!(out, "{} {:<width$} {}", style::verdict_word(r.verdict, 8), r.claim, r.explanation);
    }
    let mut areas: Vec<&str> = Vec::new();
    for r in &report.results {
        if !areas.contains(&r.area.as_str()) {
            areas.push(&r.area);
        }
    }
    let _ = writeln!(out, "\n{}", paint(style::heading(), "Summary"));
    let area_width = areas.iter().map(|a| a.len()).max().unwrap_or(4).max(4);
    for area in &areas {
        let in_area: Vec<_> = report.results.iter().filter(|r| r.area == *area).collect();
        let counts = counts(Verdict::ALL.iter().map(|v| (*v, in_area.iter().filter(|r| r.verdict == *v).count())));
        let _ = writeln!(out, "  {area:<area_width$} {:>4} claims: {counts}", in_area.len());
    }
    let _ = writeln!(
        out,
        "{} claims: {} in {:.2} s",
        report.results.len(),
        counts(Verdict::ALL.iter().map(|v| (*v, report.count(*v)))),
        report.duration_ms as f64 / 1000.0
    );
    out
}

/// "40 holds, 3 refuted": the verdicts that occur, each in its colour.
fn counts(counts: impl Iterator<Item = (Verdict, usize)>) -> String {
    counts
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| paint(style::verdict(v), format!("{n} {v}")))
        .collect::<Vec<_>>()
        .join(", ")
}
