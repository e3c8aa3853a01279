//! Machine formats for CI systems: JUnit XML, KTAP v1 and KernelCI's KCIDB v5 JSON.
//!
//! Mapping of verdicts: `holds` passes; `refuted` and `partial` are documented results, so they
//! pass too, with the verdict and explanation attached; `skipped` is skipped; only `error` fails
//! (as an error: the harness, not the kernel, broke).

use std::fmt::Write as _;

use serde_json::json;

use super::{ClaimResult, RunReport};
use crate::verdict::Verdict;

pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn areas(report: &RunReport) -> Vec<&str> {
    let mut areas: Vec<&str> = Vec::new();
    for r in &report.results {
        if !areas.contains(&r.area.as_str()) {
            areas.push(&r.area);
        }
    }
    areas
}

fn observation_text(r: &ClaimResult) -> String {
    serde_json::to_string_pretty(&r.observation).unwrap_or_default()
}

pub fn junit(report: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let count = |rs: &[&ClaimResult], v: Verdict| rs.iter().filter(|r| r.verdict == v).count();
    let all: Vec<&ClaimResult> = report.results.iter().collect();
    let _ = writeln!(
        out,
        "<testsuites name=\"ipc-conform\" tests=\"{}\" failures=\"0\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        all.len(),
        count(&all, Verdict::Error),
        count(&all, Verdict::Skipped),
        report.duration_ms as f64 / 1000.0
    );
    for area in areas(report) {
        let rs: Vec<&ClaimResult> = report.results.iter().filter(|r| r.area == area).collect();
        let time: u64 = rs.iter().map(|r| r.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"0\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" hostname=\"localhost\">",
            xml_escape(area),
            rs.len(),
            count(&rs, Verdict::Error),
            count(&rs, Verdict::Skipped),
            time as f64 / 1000.0
        );
        let _ = writeln!(out, "    <properties>");
        let k = &report.kernel;
        for (name, value) in [("kernel.release", &k.release), ("kernel.arch", &k.arch), ("kernel.id", &k.id)] {
            let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", xml_escape(value));
        }
        let _ = writeln!(out, "    </properties>");
        for r in rs {
            let _ = writeln!(
                out,
                "    <testcase classname=\"ipc-conform.{}\" name=\"{}\" time=\"{:.3}\">",
                xml_escape(&r.area),
                xml_escape(&r.claim),
                r.duration_ms as f64 / 1000.0
            );
            match r.verdict {
                Verdict::Skipped => {
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml_escape(&r.explanation));
                }
                Verdict::Error => {
                    let _ = writeln!(
                        out,
                        "      <error type=\"harness-error\" message=\"{}\">{}</error>",
                        xml_escape(&r.explanation),
                        xml_escape(&observation_text(r))
                    );
                }
                _ => {}
            }
            let _ = writeln!(
                out,
                "      <system-out>verdict: {}\nexplanation: {}\nnote: {} line {}\nobservation: {}</system-out>",
                r.verdict,
                xml_escape(&r.explanation),
                xml_escape(&r.note),
                r.line,
                xml_escape(&observation_text(r))
            );
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A KTAP test name may not contain '#'; a diagnostic is one line.
fn ktap_safe(s: &str) -> String {
    s.replace('#', "no.").replace('\n', " ")
}

pub fn ktap(report: &RunReport) -> String {
    let mut out = String::from("KTAP version 1\n");
    let k = &report.kernel;
    let _ = writeln!(out, "# ipc-conform on {} {}", k.release, k.arch);
    let areas = areas(report);
    let _ = writeln!(out, "1..{}", areas.len());
    for (i, area) in areas.iter().enumerate() {
        let rs: Vec<&ClaimResult> = report.results.iter().filter(|r| r.area == *area).collect();
        let _ = writeln!(out, "    KTAP version 1");
        let _ = writeln!(out, "    # Subtest: {area}");
        let _ = writeln!(out, "    1..{}", rs.len());
        for (j, r) in rs.iter().enumerate() {
            let _ = writeln!(out, "    # {}: {}", r.verdict, ktap_safe(&r.explanation));
            match r.verdict {
                Verdict::Error => {
                    let _ = writeln!(out, "    not ok {} {}", j + 1, ktap_safe(&r.claim));
                }
                Verdict::Skipped => {
                    let _ =
                        writeln!(out, "    ok {} {} # SKIP {}", j + 1, ktap_safe(&r.claim), ktap_safe(&r.explanation));
                }
                _ => {
                    let _ = writeln!(out, "    ok {} {}", j + 1, ktap_safe(&r.claim));
                }
            }
        }
        let failed = rs.iter().any(|r| r.verdict == Verdict::Error);
        let _ = writeln!(out, "{} {} {area}", if failed { "not ok" } else { "ok" }, i + 1);
    }
    out
}

/// KCIDB v5.3: one checkout and build for the kernel, one test per claim, path `ipc_conform.<claim>`.
pub fn kcidb(report: &RunReport) -> serde_json::Value {
    const ORIGIN: &str = "ipc_conform";
    let k = &report.kernel;
    let kid: String = k.id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    let checkout_id = format!("{ORIGIN}:{kid}");
    let build_id = format!("{ORIGIN}:{kid}");
    let tests: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|r| {
            let status = match r.verdict {
                Verdict::Holds => "PASS",
                Verdict::Refuted | Verdict::Partial => "DONE",
                Verdict::Skipped => "SKIP",
                Verdict::Error => "ERROR",
            };
            json!({
                "id": format!("{ORIGIN}:{kid}:{}", r.claim),
                "build_id": build_id,
                "origin": ORIGIN,
                "path": format!("{ORIGIN}.{}", r.claim),
                "status": status,
                "comment": format!("{}: {}", r.verdict, r.explanation.replace('\0', "")),
                "duration": r.duration_ms as f64 / 1000.0,
                "environment": {"comment": format!("{} {}", k.release, k.arch)},
                "misc": {
                    "verdict": r.verdict,
                    "note": r.note,
                    "line": r.line,
                    "statement": r.statement,
                    "observation": r.observation,
                },
            })
        })
        .collect();
    json!({
        "version": {"major": 5, "minor": 3},
        "checkouts": [{"id": checkout_id, "origin": ORIGIN, "comment": format!("kernel {} ({})", k.release, k.version)}],
        "builds": [{"id": build_id, "checkout_id": checkout_id, "origin": ORIGIN, "architecture": k.arch}],
        "tests": tests,
    })
}
