//! A run's results per claim, joined with the catalogue, and the formats people and CI read.

pub mod annotated;
pub mod formats;
pub mod markdown;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::catalogue::Claim;
use crate::ctx::Depth;
use crate::fingerprint::Kernel;
use crate::runner::CaseReport;
use crate::verdict::Verdict;

/// One claim's result: the catalogue entry's trace plus what this kernel did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimResult {
    pub claim: String,
    pub area: String,
    pub note: String,
    pub line: usize,
    #[serde(default)]
    pub also_in: Vec<String>,
    pub quote: String,
    pub statement: String,
    pub verdict: Verdict,
    pub explanation: String,
    pub observation: serde_json::Map<String, serde_json::Value>,
    pub case: String,
    pub duration_ms: u64,
    /// Set for a case marked as a stress case: why it may take over a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stress: Option<String>,
    /// Set when the claim was skipped, without running, for a declared need this machine lacks
    /// (`root`, `CONFIG_IP_SCTP`, `module sctp`, `command ls`): "not checked here" to the gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmet_need: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub tool: String,
    pub depth: Depth,
    pub kernel: Kernel,
    /// Count per verdict, every verdict present, in the order holds, refuted, partial, skipped, error.
    pub summary: serde_json::Map<String, serde_json::Value>,
    pub results: Vec<ClaimResult>,
    pub duration_ms: u64,
}

impl RunReport {
    /// Joins case reports with the catalogue, keeping only `selected` claims, in catalogue order.
    pub fn build(selected: &[&Claim], reports: &[CaseReport], kernel: Kernel, depth: Depth, duration_ms: u64) -> Self {
        let mut results = Vec::new();
        for claim in selected {
            // A claim decided by several cases gets the least favourable verdict: error over
            // refuted over partial over holds, so no case can hide another's finding.
            let mut found: Vec<(&CaseReport, &crate::runner::ClaimOutcome)> = reports
                .iter()
                .flat_map(|r| r.outcomes.iter().filter(|o| o.claim == claim.id).map(move |o| (r, o)))
                .collect();
            found.sort_by_key(|(_, o)| severity(o.decision.verdict));
            let Some((report, outcome)) = found.last() else { continue };
            results.push(ClaimResult {
                claim: claim.id.clone(),
                area: claim.area.clone(),
                note: claim.note.clone(),
                line: claim.line,
                also_in: claim.also_in.clone(),
                quote: claim.quote.clone(),
                statement: claim.statement.clone(),
                verdict: outcome.decision.verdict,
                explanation: outcome.decision.explanation.clone(),
                observation: report.observation.clone(),
                case: report.case.to_string(),
                duration_ms: report.duration_ms,
                stress: report.stress.map(str::to_string),
                unmet_need: report.unmet_need.clone().filter(|_| outcome.decision.verdict == Verdict::Skipped),
            });
        }
        let summary = summarise(results.iter().map(|r| r.verdict));
        RunReport {
            tool: format!("ipc-conform {}", env!("CARGO_PKG_VERSION")),
            depth,
            kernel,
            summary,
            results,
            duration_ms,
        }
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.results.iter().filter(|r| r.verdict == verdict).count()
    }
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Skipped => 0,
        Verdict::Holds => 1,
        Verdict::Partial => 2,
        Verdict::Refuted => 3,
        Verdict::Error => 4,
    }
}

pub fn summarise(verdicts: impl Iterator<Item = Verdict>) -> serde_json::Map<String, serde_json::Value> {
    let all: Vec<Verdict> = verdicts.collect();
    Verdict::ALL
        .iter()
        .map(|v| (v.as_str().to_string(), serde_json::json!(all.iter().filter(|x| *x == v).count())))
        .collect()
}

/// A compact one-line rendering of an observation value for tables.
pub fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
