//! The regression gate: what today's results are held against (this kernel's approved snapshot,
//! else a baseline kernel's), the comparison, and approval. A gate that finds nothing to compare
//! with fails: a kernel build without a snapshot of its own is gated against its nearest
//! approved relative, never waved through.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use crate::catalogue::{Catalogue, Notes};
use crate::files::{emit, usage};
use crate::report::RunReport;
use crate::snapshot::{self, Snapshot};
use crate::verdict::Verdict;

/// What `ipc-conform gate` was asked.
pub struct Request<'a> {
    pub snapshots: &'a Path,
    pub policy: Policy,
    /// Approve the results as this kernel's snapshot instead of comparing.
    pub accept: bool,
}

/// The gate from start to end: the reference is chosen before anything runs (a missing or
/// corrupt one costs no run), `results` runs the suite or reads a saved result (`Err(code)`:
/// a stop signal cut the run short), then approval or the comparison. Exit 0 the same, 1 changed.
pub fn gate(
    request: &Request,
    catalogue: &Catalogue,
    notes: &Notes,
    kernel_id: &str,
    results: impl FnOnce() -> anyhow::Result<Result<RunReport, ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let reference = match request.accept {
        true => None,
        false => Some(choose_reference(request.snapshots, kernel_id, &request.policy)?),
    };
    let report = match results()? {
        Ok(report) => report,
        Err(interrupted) => return Ok(interrupted),
    };
    let whole_catalogue = report.results.len() == catalogue.claims.len();
    let Some(reference) = reference else {
        if !whole_catalogue {
            return Err(usage(format!(
                "--accept approves a whole run, and these results hold {} of the catalogue's {} claims",
                report.results.len(),
                catalogue.claims.len()
            )));
        }
        println!("{}", approve(request.snapshots, &report, notes)?);
        return Ok(ExitCode::SUCCESS);
    };
    let outcome = compare(&reference, &report, whole_catalogue, request.policy.strict);
    print!("{}", outcome.text);
    if whole_catalogue && reference.kind != ReferenceKind::Approved {
        let pending = write_pending(request.snapshots, &report)?;
        println!("gate: wrote {} (approve with `ipc-conform gate --accept`)", pending.display());
    }
    println!("gate: {:.2} s", started.elapsed().as_secs_f64());
    Ok(if outcome.changed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// How the gate chooses what to compare with.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Compare with this approved kernel, whatever else exists.
    pub baseline: Option<String>,
    /// Compare with this approved kernel only when this kernel has no approved snapshot of its
    /// own (what `ci/vm --baseline` means).
    pub fallback_baseline: Option<String>,
    /// Fail unless this kernel has an approved snapshot of its own.
    pub require_snapshot: bool,
    /// A claim not checked here (a declared need missing) counts as a change.
    pub strict: bool,
}

/// What today's results are held against.
#[derive(Debug, Clone)]
pub struct Reference {
    pub kernel: String,
    pub snapshot: Snapshot,
    pub kind: ReferenceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// This kernel's own approved snapshot.
    Approved,
    /// Named with `--baseline`.
    NamedBaseline,
    /// The approved kernel of the same architecture nearest in version.
    NearestBaseline,
}

impl Reference {
    fn describe(&self) -> String {
        match self.kind {
            ReferenceKind::Approved => "its approved snapshot".into(),
            ReferenceKind::NamedBaseline => format!("the baseline {} (named with --baseline)", self.kernel),
            ReferenceKind::NearestBaseline => format!(
                "the baseline {} (no approved snapshot of its own; the nearest approved kernel of the same architecture, privilege and profile)",
                self.kernel
            ),
        }
    }
}

/// Chooses the reference for `kernel_id` before anything runs, so a bad choice costs no run.
/// Errors are the user's: an unknown baseline, a missing snapshot under `--require-snapshot`,
/// nothing approved of this architecture, a corrupt snapshot.
pub fn choose_reference(snapshots: &Path, kernel_id: &str, policy: &Policy) -> anyhow::Result<Reference> {
    let load = |path: &Path| Snapshot::load(path).map_err(|e| usage(format!("{e:#}")));
    let own = snapshots.join(kernel_id).join(snapshot::FILE);
    let named = |id: &String, kind| {
        let path = snapshots.join(id).join(snapshot::FILE);
        if !path.is_file() {
            let known: Vec<String> = snapshot::approved_in(snapshots).into_iter().map(|(id, _)| id).collect();
            return Err(usage(format!(
                "--baseline {id}: no approved snapshot {} (approved: {})",
                path.display(),
                if known.is_empty() { "none".into() } else { known.join(", ") }
            )));
        }
        Ok(Reference { kernel: id.clone(), snapshot: load(&path)?, kind })
    };
    if let Some(id) = &policy.baseline {
        return named(id, ReferenceKind::NamedBaseline);
    }
    if own.is_file() {
        return Ok(Reference { kernel: kernel_id.into(), snapshot: load(&own)?, kind: ReferenceKind::Approved });
    }
    if let Some(id) = &policy.fallback_baseline {
        return named(id, ReferenceKind::NamedBaseline);
    }
    if policy.require_snapshot {
        return Err(usage(format!(
            "{kernel_id} has no approved snapshot ({} is missing) and --require-snapshot was given",
            own.display()
        )));
    }
    match snapshot::nearest(snapshots, kernel_id) {
        Some((id, path)) => Ok(Reference { kernel: id, snapshot: load(&path)?, kind: ReferenceKind::NearestBaseline }),
        None => Err(usage(format!(
            "nothing to gate {kernel_id} against: {} holds no approved snapshot of its architecture{} \
             (approve this kernel's results with `ipc-conform gate --accept`, or name one with --baseline)",
            snapshots.display(),
            match crate::fingerprint::split_column(kernel_id).1 {
                "" => String::new(),
                setting => format!(" run as {setting}"),
            }
        ))),
    }
}

/// What a gate concluded, and the text that says so.
#[derive(Debug)]
pub struct Outcome {
    pub changed: bool,
    pub text: String,
}

/// Today's results against `reference`. With `whole_catalogue` false (a run of selected claims)
/// only the claims today has are compared. `error` is a changed verdict like any other; the
/// explanation of every error (where the worker was) follows the diff. A claim the reference
/// decided and today skipped, without running it, for a declared need this run lacks (a kernel
/// option, a module, root, a command) is "not checked here": listed apart, and a change only
/// when `strict`. Any other skip (a step that failed) is a change.
pub fn compare(reference: &Reference, report: &RunReport, whole_catalogue: bool, strict: bool) -> Outcome {
    let today = Snapshot::of(report);
    let mut against = reference.snapshot.clone();
    if !whole_catalogue {
        against.claims.retain(|c| today.claim(&c.claim).is_some());
    }
    let (not_checked, diffs): (Vec<_>, Vec<_>) = snapshot::diff(&against, &today)
        .into_iter()
        .partition(|d| d.after.as_ref().is_some_and(|a| a.not_checked()) && d.before.is_some());
    let (not_checked, diffs) = if strict { (Vec::new(), [diffs, not_checked].concat()) } else { (not_checked, diffs) };
    let id = &report.kernel.id;
    let mut text = String::new();
    let compared = if whole_catalogue {
        format!("{} claims", today.claims.len())
    } else {
        format!("{} selected claims", today.claims.len())
    };
    let unchecked = match not_checked.len() {
        0 => String::new(),
        n => format!("; {n} not checked here"),
    };
    if diffs.is_empty() {
        let _ = writeln!(text, "gate: {id} matches {} ({compared}{unchecked})", reference.describe());
    } else {
        let _ =
            writeln!(text, "gate: {id} differs from {} in {} claim(s){unchecked}:", reference.describe(), diffs.len());
        let before = if reference.kind == ReferenceKind::Approved { "approved" } else { &reference.kernel };
        text += &snapshot::render_diff(&diffs, before, "today");
    }
    if !not_checked.is_empty() {
        let _ = writeln!(
            text,
            "gate: not checked here: {} claim(s) the reference decided were skipped for a need this run lacks \
             (not a behaviour change; `--strict` counts them as changes):",
            not_checked.len()
        );
        for d in &not_checked {
            let (Some(before), Some(after)) = (&d.before, &d.after) else { continue };
            let why = report.results.iter().find(|r| r.claim == d.claim).map(|r| r.explanation.as_str()).unwrap_or("");
            let _ = writeln!(
                text,
                "  {}: {} in the reference; needs {}: {why}",
                d.claim,
                before.verdict,
                after.unmet_need.as_deref().unwrap_or_default()
            );
        }
    }
    let errors: Vec<_> = report.results.iter().filter(|r| r.verdict == Verdict::Error).collect();
    if !errors.is_empty() {
        let _ = writeln!(text, "gate: {} claim(s) ended in `error` (the harness could not conclude):", errors.len());
        for r in &errors {
            let _ = writeln!(text, "  {}: {}", r.claim, r.explanation);
        }
    }
    if !diffs.is_empty() {
        let _ = writeln!(
            text,
            "(if the change is intended: `ipc-conform gate --accept` approves today's results as {id}'s snapshot)"
        );
    }
    Outcome { changed: !diffs.is_empty() || !errors.is_empty(), text }
}

/// Writes today's results as the pending snapshot of this kernel, for `--accept` or
/// `cargo insta review`. Returns the path written.
pub fn write_pending(snapshots: &Path, report: &RunReport) -> anyhow::Result<PathBuf> {
    let kernel_dir = snapshots.join(&report.kernel.id);
    std::fs::create_dir_all(&kernel_dir).map_err(|e| usage(format!("cannot create {}: {e}", kernel_dir.display())))?;
    let pending = kernel_dir.join(snapshot::PENDING);
    emit(Some(&pending), &Snapshot::of(report).to_insta_file())?;
    Ok(pending)
}

/// Approves today's results as this kernel's snapshot. Refuses results with `error` in them: a
/// broken check must not become part of the contract.
pub fn approve(snapshots: &Path, report: &RunReport, notes: &Notes) -> anyhow::Result<String> {
    let errors: Vec<&str> =
        report.results.iter().filter(|r| r.verdict == Verdict::Error).map(|r| r.claim.as_str()).collect();
    if !errors.is_empty() {
        anyhow::bail!(
            "refusing to approve a snapshot with {} claim(s) in `error`: {}",
            errors.len(),
            errors.join(", ")
        );
    }
    write_kernel_reports(snapshots, report, notes)?;
    Ok(format!(
        "gate: approved {} claims as the snapshot of {} in {}",
        report.results.len(),
        report.kernel.id,
        snapshots.join(&report.kernel.id).display()
    ))
}

fn explanations_json(report: &RunReport) -> anyhow::Result<String> {
    let explanations: serde_json::Map<String, serde_json::Value> =
        report.results.iter().map(|r| (r.claim.clone(), snapshot::normalise_text(&r.explanation).into())).collect();
    Ok(serde_json::to_string_pretty(&explanations)? + "\n")
}

/// Writes the approved snapshot and the human documents of one kernel. All or nothing: the files
/// are written into a staging directory beside the kernel's, which then replaces it.
pub fn write_kernel_reports(dir: &Path, report: &RunReport, notes: &Notes) -> anyhow::Result<()> {
    let mut files: Vec<(PathBuf, String)> = vec![
        (PathBuf::from(snapshot::FILE), Snapshot::of(report).to_insta_file()),
        (PathBuf::from(snapshot::KERNEL_FILE), serde_json::to_string_pretty(&report.kernel)? + "\n"),
        (PathBuf::from(snapshot::EXPLANATIONS_FILE), explanations_json(report)?),
        (PathBuf::from("report.md"), crate::report::markdown::render(report)),
    ];
    for note in notes.names() {
        if let Some(md) = crate::report::annotated::render(report, notes, note, "../report.md") {
            files.push((Path::new("notes").join(format!("{}.md", note.trim_end_matches(".txt"))), md));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| usage(format!("cannot create {}: {e}", dir.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(dir)
        .map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
    std::fs::create_dir(staging.path().join("notes")).context("creating the staging notes directory")?;
    for (relative, text) in &files {
        emit(Some(&staging.path().join(relative)), text)?;
    }
    let kernel_dir = dir.join(&report.kernel.id);
    let retired = dir.join(format!(".retired-{}", report.kernel.id));
    let _ = std::fs::remove_dir_all(&retired);
    if kernel_dir.exists() {
        std::fs::rename(&kernel_dir, &retired)
            .map_err(|e| usage(format!("cannot replace {}: {e}", kernel_dir.display())))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &kernel_dir) {
        // Put the previous reports back: a failed approval leaves what was there.
        let _ = std::fs::rename(&retired, &kernel_dir);
        let _ = std::fs::remove_dir_all(&staged);
        return Err(usage(format!("cannot write {}: {e}", kernel_dir.display())));
    }
    let _ = std::fs::remove_dir_all(&retired);
    Ok(())
}
