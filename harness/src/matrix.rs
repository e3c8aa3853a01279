//! Claims x kernels: what each kernel's approved snapshot says, and above all where they differ
//! (in verdict or in normalised observation). `ci/kernel-matrix` regenerates reports/MATRIX.md
//! with this.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::files::{read_limited, usage, SNAPSHOT_LIMIT};
use crate::fingerprint::Kernel;
use crate::snapshot::{self, SnapClaim, Snapshot};
use crate::Verdict;

/// One kernel of the matrix: its approved snapshot and, when recorded, its fingerprint and the
/// explanations of its verdicts.
pub struct KernelColumn {
    pub id: String,
    pub snapshot: Snapshot,
    pub fingerprint: Option<Kernel>,
    /// Claim id -> the explanation of its verdict (normalised), from `explanations.json`.
    pub explanations: BTreeMap<String, String>,
}

/// Every approved kernel under `dir` (laid out like reports/), in version order; none is the
/// user's error.
pub fn load_columns(dir: &Path) -> anyhow::Result<Vec<KernelColumn>> {
    let columns: Vec<KernelColumn> = snapshot::approved_in(dir)
        .into_iter()
        .map(|(id, path)| {
            let snapshot = Snapshot::load(&path).map_err(|e| usage(format!("{e:#}")))?;
            // Both are optional: snapshots approved before they existed have neither.
            let optional = |file: &str, what: &str| read_limited(&path.with_file_name(file), SNAPSHOT_LIMIT, what).ok();
            let fingerprint =
                optional(snapshot::KERNEL_FILE, "kernel fingerprint").and_then(|text| serde_json::from_str(&text).ok());
            let explanations = optional(snapshot::EXPLANATIONS_FILE, "explanations")
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default();
            Ok(KernelColumn { id, snapshot, fingerprint, explanations })
        })
        .collect::<anyhow::Result<_>>()?;
    if columns.is_empty() {
        return Err(usage(format!("{} holds no approved snapshot", dir.display())));
    }
    Ok(columns)
}

pub struct Row<'a> {
    pub claim: &'a str,
    /// Per kernel: its result for the claim, if its snapshot has the claim.
    pub cells: Vec<Option<&'a SnapClaim>>,
}

impl Row<'_> {
    fn differs(&self) -> bool {
        let first = self.cells.first().copied().flatten();
        self.cells.iter().any(|c| c.is_none() || *c != first)
    }

    fn verdicts_differ(&self) -> bool {
        let mut verdicts = self.cells.iter().map(|c| c.map(|c| c.verdict));
        let first = verdicts.next().flatten();
        verdicts.any(|v| v != first)
    }

    /// Kernels (by column) that behaved alike, in column order of their first member.
    fn classes(&self) -> Vec<(Option<&SnapClaim>, Vec<usize>)> {
        let mut classes: Vec<(Option<&SnapClaim>, Vec<usize>)> = Vec::new();
        for (i, cell) in self.cells.iter().enumerate() {
            match classes.iter_mut().find(|(c, _)| c == cell) {
                Some((_, members)) => members.push(i),
                None => classes.push((*cell, vec![i])),
            }
        }
        classes
    }
}

pub fn rows(kernels: &[KernelColumn], all: bool) -> Vec<Row<'_>> {
    let mut ids: Vec<&str> = Vec::new();
    for k in kernels {
        for c in &k.snapshot.claims {
            if !ids.contains(&c.claim.as_str()) {
                ids.push(&c.claim);
            }
        }
    }
    ids.into_iter()
        .map(|id| Row { claim: id, cells: kernels.iter().map(|k| k.snapshot.claim(id)).collect() })
        .filter(|row| all || row.differs())
        .collect()
}

fn cell_text(cell: Option<&SnapClaim>, first: Option<&SnapClaim>) -> String {
    match cell {
        None => "—".into(),
        Some(c) if first.is_some_and(|f| f.observation != c.observation) => format!("{} *", c.verdict),
        Some(c) => c.verdict.to_string(),
    }
}

/// Capability numbers a suite run's verdicts may depend on (capability(7)).
const CAPABILITIES: &[(u32, &str)] = &[
    (0, "CAP_CHOWN"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (10, "CAP_NET_BIND_SERVICE"),
    (11, "CAP_NET_BROADCAST"),
    (12, "CAP_NET_ADMIN"),
    (13, "CAP_NET_RAW"),
    (14, "CAP_IPC_LOCK"),
    (15, "CAP_IPC_OWNER"),
    (19, "CAP_SYS_PTRACE"),
    (21, "CAP_SYS_ADMIN"),
    (24, "CAP_SYS_RESOURCE"),
];

fn privilege_text(k: &Kernel) -> String {
    let user = if k.euid == 0 { "root".to_string() } else { format!("uid {}", k.euid) };
    let Some(mask) = k.cap_eff.as_deref().and_then(|c| u64::from_str_radix(c, 16).ok()) else {
        return user;
    };
    let missing: Vec<&str> = CAPABILITIES.iter().filter(|(bit, _)| mask & (1 << bit) == 0).map(|(_, n)| *n).collect();
    match (k.euid, missing.is_empty()) {
        (0, true) => "root, all capabilities".into(),
        (0, false) => format!("root without {}", missing.join(", ")),
        _ => user,
    }
}

fn short(value: &Value) -> String {
    let text = crate::report::compact(value);
    let text =
        if text.chars().count() > 300 { format!("{}…", text.chars().take(300).collect::<String>()) } else { text };
    text.replace('|', "\\|").replace('`', "'")
}

fn kernel_list(kernels: &[KernelColumn], members: &[usize]) -> String {
    if members.len() == kernels.len() {
        return "all".into();
    }
    members.iter().map(|&i| kernels[i].id.as_str()).collect::<Vec<_>>().join(", ")
}

pub fn markdown(kernels: &[KernelColumn], all: bool) -> String {
    let rows = rows(kernels, all);
    let differing: Vec<&Row> = rows.iter().filter(|r| r.differs()).collect();
    let claims = kernels.iter().map(|k| k.snapshot.claims.len()).max().unwrap_or(0);
    let mut out = String::from("# Claims across kernels\n\n");
    out += "Generated by `ci/kernel-matrix` (`ipc-conform matrix`) from the approved snapshots in this\n";
    out += "directory; do not edit. Each kernel's own results are in `<kernel-id>/report.md`.\n\n";

    out += "## Summary\n\n";
    let _ = writeln!(
        out,
        "{} kernels, {claims} claims. **{} claims differ** between them: {} in verdict, {} in observation only.\n",
        kernels.len(),
        differing.len(),
        differing.iter().filter(|r| r.verdicts_differ()).count(),
        differing.iter().filter(|r| !r.verdicts_differ()).count(),
    );
    out += "| kernel | uname -v | privilege | holds | refuted | partial | skipped | error |\n|---|---|---|---|---|---|---|---|\n";
    for k in kernels {
        let count = |v: Verdict| k.snapshot.claims.iter().filter(|c| c.verdict == v).count();
        let (version, privilege) = match &k.fingerprint {
            Some(f) => (f.version.clone(), privilege_text(f)),
            None => ("?".into(), "?".into()),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            k.id,
            version,
            privilege,
            count(Verdict::Holds),
            count(Verdict::Refuted),
            count(Verdict::Partial),
            count(Verdict::Skipped),
            count(Verdict::Error)
        );
    }
    let fingerprints: Vec<&Kernel> = kernels.iter().filter_map(|k| k.fingerprint.as_ref()).collect();
    let sysctl_names: Vec<&String> = fingerprints
        .iter()
        .flat_map(|f| f.sysctls.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let differing_sysctls: Vec<&String> = sysctl_names
        .into_iter()
        .filter(|name| fingerprints.windows(2).any(|w| w[0].sysctls.get(*name) != w[1].sysctls.get(*name)))
        .collect();
    if !differing_sysctls.is_empty() {
        out += "\nSysctls that differ (they can decide verdicts):\n\n";
        for name in differing_sysctls {
            let values: Vec<String> = kernels
                .iter()
                .filter_map(|k| {
                    k.fingerprint.as_ref().map(|f| format!("{}: {}", k.id, f.sysctls.get(name).map_or("—", |v| v)))
                })
                .collect();
            let _ = writeln!(out, "- `{name}`: {}", values.join("; "));
        }
    }

    // Claims grouped by which kernels agree: the shape of each difference at a glance.
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for row in &differing {
        let shape = row.classes().iter().map(|(_, m)| kernel_list(kernels, m)).collect::<Vec<_>>().join(" | ");
        groups.entry(shape).or_default().push(row.claim);
    }
    if !groups.is_empty() {
        out += "\nWhich kernels agree (kernels separated by `|` behaved differently):\n\n";
        let mut groups: Vec<(String, Vec<&str>)> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        for (shape, claims) in groups {
            let names: Vec<String> = claims.iter().map(|c| format!("[`{c}`](#{})", anchor(c))).collect();
            let _ = writeln!(out, "- {shape} — {} claim(s): {}", claims.len(), names.join(", "));
        }
    }

    out += "\n## Verdicts\n\n";
    let _ = writeln!(
        out,
        "{} {} shown. `*`: the observation differs from the first kernel's.\n",
        rows.len(),
        if all { "claims" } else { "claims that differ" }
    );
    out += "| claim |";
    for k in kernels {
        let _ = write!(out, " {} |", k.id);
    }
    out += "\n|---|";
    for _ in kernels {
        out += "---|";
    }
    out.push('\n');
    for row in &rows {
        let _ = write!(out, "| `{}` |", row.claim);
        let first = row.cells.first().copied().flatten();
        for c in &row.cells {
            let _ = write!(out, " {} |", cell_text(*c, first));
        }
        out.push('\n');
    }

    if !differing.is_empty() {
        out += "\n## What each kernel did\n\nFor each claim that differs: the kernels that behaved alike, their verdict, and the\nobservations whose values differ between them.\n";
    }
    for row in &differing {
        let _ = write!(out, "\n### {}\n\n", row.claim);
        let classes = row.classes();
        let keys = differing_keys(&classes);
        for (cell, members) in &classes {
            match cell {
                None => {
                    let _ = writeln!(out, "- **not in the snapshot** on {}", kernel_list(kernels, members));
                }
                Some(c) => {
                    let _ = writeln!(out, "- **{}** on {}", c.verdict, kernel_list(kernels, members));
                    for key in &keys {
                        let value = c.observation.get(key.as_str()).map_or("(absent)".to_string(), short);
                        let _ = writeln!(out, "  - {key}: `{value}`");
                    }
                }
            }
        }
    }
    out
}

/// The observation keys whose values are not the same in every class.
fn differing_keys(classes: &[(Option<&SnapClaim>, Vec<usize>)]) -> Vec<String> {
    let observations: Vec<&Value> = classes.iter().filter_map(|(c, _)| c.map(|c| &c.observation)).collect();
    let mut keys: Vec<String> = Vec::new();
    for obs in &observations {
        for key in obs.as_object().into_iter().flat_map(|m| m.keys()) {
            if !keys.contains(key) && observations.iter().any(|o| o.get(key) != obs.get(key)) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// GitHub's heading anchor for a claim id heading.
fn anchor(claim: &str) -> String {
    claim.chars().filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect::<String>().to_lowercase()
}

pub fn html(kernels: &[KernelColumn], all: bool) -> String {
    let esc = crate::report::formats::xml_escape;
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ipc-conform: claims across kernels</title>\n<style>td,th{border:1px solid #ccc;padding:2px 6px}.holds{background:#dfd}.refuted{background:#fdd}.partial{background:#ffd}.skipped{background:#eee}.error{background:#f99}</style></head><body>\n<table>\n<tr><th>claim</th>",
    );
    for k in kernels {
        let _ = write!(out, "<th>{}</th>", esc(&k.id));
    }
    out.push_str("</tr>\n");
    for row in rows(kernels, all) {
        let _ = write!(out, "<tr><td><code>{}</code></td>", esc(row.claim));
        let first = row.cells.first().copied().flatten();
        for c in &row.cells {
            let class = c.map(|c| c.verdict.as_str()).unwrap_or("");
            let _ = write!(out, "<td class=\"{class}\">{}</td>", esc(&cell_text(*c, first)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</body></html>\n");
    out
}
