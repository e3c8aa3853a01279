//! Snapshots: per kernel, every claim's verdict and normalised observation. The approved snapshot
//! of a kernel is the contract a run is gated against; it changes only when behaviour changes,
//! so everything that varies between runs (pids, ports, times, addresses, inode numbers, temp
//! paths) is normalised away first.
//!
//! Files are insta snapshots (`reports/<kernel-id>/snapshot.snap`, pending ones `.snap.new`), so
//! `cargo insta review` works on them as well as `ipc-conform gate --accept`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::RunReport;
use crate::verdict::Verdict;

pub const FILE: &str = "snapshot.snap";
pub const PENDING: &str = "snapshot.snap.new";
/// Beside an approved snapshot: the fingerprint of the run it came from (uname, capabilities,
/// the sysctls that decide verdicts), so the kernel matrix can say how the kernels' set-ups differ.
pub const KERNEL_FILE: &str = "kernel.json";
/// Beside the snapshot: claim id -> the explanation of its verdict, normalised like the
/// observations. For readers (the site); not part of the contract the gate compares.
pub const EXPLANATIONS_FILE: &str = "explanations.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub kernel: String,
    pub claims: Vec<SnapClaim>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapClaim {
    pub claim: String,
    pub verdict: Verdict,
    pub observation: Value,
    /// The declared need this column lacks, for a claim skipped without running (see
    /// `ClaimResult::unmet_need`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmet_need: Option<String>,
}

impl SnapClaim {
    /// Skipped, without running, for a declared need: the claim was not checked here.
    pub fn not_checked(&self) -> bool {
        self.verdict == Verdict::Skipped && self.unmet_need.is_some()
    }
}

/// Replaces what varies inside a string: temp paths, /proc/<pid>, pipe/socket inodes, ports.
pub fn normalise_text(s: &str) -> String {
    use std::sync::OnceLock;
    static RULES: OnceLock<Vec<(regex::Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (r"/[\w/.-]*ipc-conform-run-[\w]+(/[\w.-]+)*", "<run-dir>"),
            (r"/tmp/\.tmp[\w]+(/[\w.-]+)*", "<tmp>"),
            (r"/proc/\d+/", "/proc/<pid>/"),
            (r"\b(pipe|socket|anon_inode):\[\d+\]", "$1:[<inode>]"),
            (r"\b(127\.\d+\.\d+\.\d+|0\.0\.0\.0):\d+\b", "$1:<port>"),
            (r"\[::1?\]:\d+\b", "[::]:<port>"),
            (r"\bpid \d+\b", "pid <pid>"),
            (r"\bprocess \d+\b", "process <pid>"),
            // A failed property's reason names the assertion's source line, which moves with edits.
            (r"\bat [\w/.-]+\.rs:\d+(:\d+)?", "at <source>"),
        ]
        .into_iter()
        .map(|(re, to)| (regex::Regex::new(re).expect("valid rule"), to))
        .collect()
    });
    let mut out = s.to_string();
    for (re, to) in rules {
        out = re.replace_all(&out, *to).into_owned();
    }
    out
}

/// Normalises an observation value (recursively): strings lose what varies in them
/// ([`normalise_text`]); numbers, booleans and the shape are kept. Values are never replaced
/// because of the key they sit under: a key that says "port" or "id" also labels sizes, offsets,
/// exit codes and counts, which are behaviour. A case that observes a value that varies from run
/// to run (an ephemeral port, a pid) observes it as text ("127.0.0.1:40123", "pid 4242") or as
/// a fact about it (non-zero, the child's).
pub fn normalise_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (normalise_text(k), normalise_value(v))).collect(),
        Value::Array(items) => Value::Array(items.iter().map(normalise_value).collect()),
        Value::String(s) => Value::String(normalise_text(s)),
        other => other.clone(),
    }
}

impl Snapshot {
    pub fn of(report: &RunReport) -> Self {
        Snapshot {
            kernel: report.kernel.id.clone(),
            claims: report
                .results
                .iter()
                .map(|r| SnapClaim {
                    claim: r.claim.clone(),
                    verdict: r.verdict,
                    observation: normalise_value(&Value::Object(r.observation.clone())),
                    unmet_need: r.unmet_need.clone(),
                })
                .collect(),
        }
    }

    /// The snapshot's content: one pretty JSON document, claims in catalogue order.
    pub fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("snapshots serialise") + "\n"
    }

    /// The insta file: its header, then the content.
    pub fn to_insta_file(&self) -> String {
        format!("---\nsource: cases/tests/gate.rs\nexpression: snapshot\n---\n{}", self.render())
    }

    /// Parses an insta file (header optional), naming the file in any error.
    pub fn parse(text: &str, origin: &Path) -> anyhow::Result<Snapshot> {
        let body = match text.strip_prefix("---\n") {
            Some(rest) => rest.split_once("\n---\n").map(|(_, body)| body).unwrap_or(rest),
            None => text,
        };
        serde_json::from_str(body)
            .map_err(|e| anyhow::anyhow!("{} is not a valid snapshot (corrupt or truncated?): {e}", origin.display()))
    }

    pub fn load(path: &Path) -> anyhow::Result<Snapshot> {
        let text = crate::files::read_limited(path, crate::files::SNAPSHOT_LIMIT, "snapshot")?;
        Self::parse(&text, path)
    }

    pub fn claim(&self, id: &str) -> Option<&SnapClaim> {
        self.claims.iter().find(|c| c.claim == id)
    }
}

/// One claim that differs between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimDiff {
    pub claim: String,
    pub before: Option<SnapClaim>,
    pub after: Option<SnapClaim>,
}

pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<ClaimDiff> {
    let mut ids: Vec<&str> = before.claims.iter().map(|c| c.claim.as_str()).collect();
    for c in &after.claims {
        if !ids.contains(&c.claim.as_str()) {
            ids.push(&c.claim);
        }
    }
    ids.into_iter()
        .filter_map(|id| {
            let (b, a) = (before.claim(id), after.claim(id));
            (b != a).then(|| ClaimDiff { claim: id.to_string(), before: b.cloned(), after: a.cloned() })
        })
        .collect()
}

/// A per-claim diff a person reads: verdict change, then each observation key that changed.
pub fn render_diff(diffs: &[ClaimDiff], before_name: &str, after_name: &str) -> String {
    let mut out = String::new();
    for d in diffs {
        match (&d.before, &d.after) {
            (None, Some(a)) => {
                let _ = writeln!(out, "+ {}: {} (only in {after_name})", d.claim, a.verdict);
            }
            (Some(b), None) => {
                let _ = writeln!(out, "- {}: {} (only in {before_name})", d.claim, b.verdict);
            }
            (Some(b), Some(a)) => {
                if b.verdict != a.verdict {
                    let _ = writeln!(out, "~ {}: verdict {} -> {}", d.claim, b.verdict, a.verdict);
                } else {
                    let _ = writeln!(out, "~ {}: {} (observation changed)", d.claim, a.verdict);
                }
                let empty = serde_json::Map::new();
                let (bo, ao) =
                    (b.observation.as_object().unwrap_or(&empty), a.observation.as_object().unwrap_or(&empty));
                let mut keys: Vec<&String> = bo.keys().collect();
                keys.extend(ao.keys().filter(|k| !bo.contains_key(*k)));
                for k in keys {
                    if bo.get(k) != ao.get(k) {
                        let show =
                            |v: Option<&Value>| v.map(crate::report::compact).unwrap_or_else(|| "(absent)".into());
                        let _ = writeln!(out, "    {k}: {} -> {}", show(bo.get(k)), show(ao.get(k)));
                    }
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Approved snapshots in a reports directory: (kernel id, path), sorted by id.
pub fn approved_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().join(FILE)))
        .filter(|(_, p)| p.is_file())
        .collect();
    found.sort_by(|a, b| version_numbers(&a.0).cmp(&version_numbers(&b.0)).then_with(|| a.0.cmp(&b.0)));
    found
}

/// The numeric version of a release string: "6.1.0-28-amd64" -> [6, 1, 0, 28].
fn version_numbers(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .take(4)
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The approved column closest in kernel version to `column_id`, among those with the same
/// privilege, profile and emulator (the part after `@`); the same architecture preferred.
pub fn nearest(dir: &Path, column_id: &str) -> Option<(String, PathBuf)> {
    let (kernel, setting) = crate::fingerprint::split_column(column_id);
    let arch = kernel.rsplit('-').next().unwrap_or("");
    let target = version_numbers(kernel);
    approved_in(dir)
        .into_iter()
        .filter(|(id, _)| id != column_id && crate::fingerprint::split_column(id).1 == setting)
        .min_by_key(|(id, _)| {
            let other = crate::fingerprint::split_column(id).0;
            let v = version_numbers(other);
            let distance: u64 = (0..4)
                .map(|i| {
                    let (a, b) = (target.get(i).copied().unwrap_or(0), v.get(i).copied().unwrap_or(0));
                    a.abs_diff(b).min(999) * 1000u64.pow(3 - i as u32)
                })
                .sum();
            (!other.ends_with(arch), distance)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_varies_in_text_is_replaced_by_placeholders() {
        let obs = json!({
            "link": "pipe:[123456]",
            "path": "/tmp/ipc-conform-run-AbC123/pipe.case/fifo",
            "proc": "/proc/4242/fd/3",
            "peer": "127.0.0.1:40123",
            "child": "pid 4242 exited",
            "bytes": 65536,
            "errno": "-1 EPIPE",
        });
        let n = normalise_value(&obs);
        assert_eq!(n["link"], "pipe:[<inode>]");
        assert_eq!(n["path"], "<run-dir>");
        assert_eq!(n["proc"], "/proc/<pid>/fd/3");
        assert_eq!(n["peer"], "127.0.0.1:<port>");
        assert_eq!(n["child"], "pid <pid> exited");
        assert_eq!(n["bytes"], 65536, "behaviour is kept");
        assert_eq!(n["errno"], "-1 EPIPE");
    }

    #[test]
    fn values_under_keys_that_name_ports_or_ids_are_kept() {
        // These are behaviour: an offset, a size, an exit status, a count.
        let obs = json!({
            "offset of sin_port": 2,
            "sizeof in_port_t, in_addr_t": [2, 4],
            "ipcrm -q <id> exit status": 0,
            "a raw socket read it: (TTL, id, protocol)": [77, 4660, 253],
        });
        assert_eq!(normalise_value(&obs), obs);
    }

    #[test]
    fn two_runs_that_differ_only_in_volatile_text_normalise_equal() {
        let a = json!({"msg": "pid 17 exited", "at": "127.0.0.1:1111", "nested": [{"peer": "[::1]:1"}]});
        let b = json!({"msg": "pid 99 exited", "at": "127.0.0.1:2222", "nested": [{"peer": "[::1]:2"}]});
        assert_eq!(normalise_value(&a), normalise_value(&b));
    }

    #[test]
    fn a_behaviour_change_survives_normalisation() {
        let a = json!({"write": "-1 EPIPE", "bytes": 4096});
        let b = json!({"write": "-1 EAGAIN", "bytes": 4096});
        assert_ne!(normalise_value(&a), normalise_value(&b));
    }

    fn snap(verdict: Verdict, bytes: u64) -> Snapshot {
        Snapshot {
            kernel: "6.1.0-x86_64".into(),
            claims: vec![SnapClaim {
                claim: "pipe.a.b".into(),
                verdict,
                observation: json!({"bytes": bytes}),
                unmet_need: None,
            }],
        }
    }

    #[test]
    fn the_diff_names_the_claim_and_what_changed() {
        let d = diff(&snap(Verdict::Holds, 1), &snap(Verdict::Refuted, 2));
        let text = render_diff(&d, "approved", "today");
        assert!(text.contains("~ pipe.a.b: verdict holds -> refuted"), "{text}");
        assert!(text.contains("bytes: 1 -> 2"), "{text}");
        assert!(diff(&snap(Verdict::Holds, 1), &snap(Verdict::Holds, 1)).is_empty());
    }

    #[test]
    fn the_insta_file_round_trips() {
        let s = snap(Verdict::Partial, 3);
        assert_eq!(Snapshot::parse(&s.to_insta_file(), Path::new("x")).unwrap(), s);
        assert!(Snapshot::parse("---\nsource: x\n---\n{\"kernel\": ", Path::new("cut.snap"))
            .unwrap_err()
            .to_string()
            .contains("cut.snap"));
    }

    #[test]
    fn version_distance_picks_the_closest_release() {
        assert_eq!(version_numbers("6.1.0-28-amd64-x86_64"), vec![6, 1, 0, 28]);
    }

    #[test]
    fn the_nearest_baseline_has_the_same_privilege_and_profile() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["6.1.0-56-amd64-x86_64", "6.12.107+deb13-amd64-x86_64@uid65534", "5.10.0-46-amd64-x86_64@uid65534"] {
            std::fs::create_dir(dir.path().join(id)).unwrap();
            std::fs::write(dir.path().join(id).join(FILE), "").unwrap();
        }
        let pick = |id: &str| nearest(dir.path(), id).map(|(id, _)| id);
        assert_eq!(pick("6.2.0-1-amd64-x86_64").as_deref(), Some("6.1.0-56-amd64-x86_64"));
        assert_eq!(pick("6.2.0-1-amd64-x86_64@uid65534").as_deref(), Some("6.12.107+deb13-amd64-x86_64@uid65534"));
        assert_eq!(pick("6.2.0-1-amd64-x86_64@userns-root"), None);
    }
}
