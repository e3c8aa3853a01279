//! The terminal table.

use std::fmt::Write as _;

use super::RunReport;

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let k = &report.kernel;
    let _ = writeln!(out, "ipc-conform on {} {} (euid {}, depth {})", k.release, k.arch, k.euid, report.depth.as_str());
    let width = report.results.iter().map(|r| r.claim.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out, "{:<8} {:<width$} EXPLANATION", "VERDICT", "CLAIM");
    for r in &report.results {
        let _ = writeln!(out, "{:<8} {:<width$} {}", r.verdict.as_str(), r.claim, r.explanation);
    }
    let counts: Vec<String> = report.summary.iter().map(|(v, n)| format!("{n} {v}")).collect();
    let _ = writeln!(
        out,
        "{} claims: {} in {:.2} s",
        report.results.len(),
        counts.join(", "),
        report.duration_ms as f64 / 1000.0
    );
    out
}
