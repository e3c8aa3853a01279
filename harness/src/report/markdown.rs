//! The per-kernel report a person reads: counts, then per area the claims, refuted and partial
//! first, each with its quote, statement, verdict and what the kernel did.

use std::fmt::Write as _;

use super::{ClaimResult, RunReport};
use crate::verdict::Verdict;

fn order(v: Verdict) -> u8 {
    match v {
        Verdict::Error => 0,
        Verdict::Refuted => 1,
        Verdict::Partial => 2,
        Verdict::Skipped => 3,
        Verdict::Holds => 4,
    }
}

fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let k = &report.kernel;
    let _ = writeln!(out, "# ipc-conform: kernel {} ({})\n", k.release, k.arch);
    let _ = writeln!(
        out,
        "Depth `{}`, effective uid {}, {} claims.\n",
        report.depth.as_str(),
        k.euid,
        report.results.len()
    );
    let _ = writeln!(out, "| verdict | claims |\n|---|---|");
    for (v, n) in &report.summary {
        let _ = writeln!(out, "| {v} | {n} |");
    }
    let mut areas: Vec<&str> = report.results.iter().map(|r| r.area.as_str()).collect();
    areas.dedup();
    let mut seen = std::collections::BTreeSet::new();
    for area in areas.into_iter().filter(|a| seen.insert(*a)) {
        let mut rows: Vec<&ClaimResult> = report.results.iter().filter(|r| r.area == area).collect();
        rows.sort_by_key(|r| order(r.verdict));
        let _ = writeln!(out, "\n## {area}\n");
        for r in rows {
            let _ = writeln!(out, "<a id=\"{}\"></a>\n", r.claim);
            let _ = writeln!(
                out,
                "### {} `{}`: {}\n",
                super::annotated::mark(r.verdict),
                r.claim,
                r.verdict.as_str().to_uppercase()
            );
            let _ = writeln!(out, "- **Note** {} line {}: 「{}」", r.note, r.line, r.quote.trim());
            if !r.also_in.is_empty() {
                let _ = writeln!(out, "- **Also in** {}", r.also_in.join(", "));
            }
            let _ = writeln!(out, "- **Claim** {}", r.statement);
            let _ = writeln!(out, "- **Kernel** {}", escape_cell(&r.explanation));
            if !r.observation.is_empty() {
                let _ = writeln!(out, "- **Observed** (case `{}`):\n", r.case);
                let _ = writeln!(out, "  | what | value |\n  |---|---|");
                for (key, value) in &r.observation {
                    let _ = writeln!(out, "  | {} | `{}` |", escape_cell(key), escape_cell(&super::compact(value)));
                }
            }
            out.push('\n');
        }
    }
    out
}
