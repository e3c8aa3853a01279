//! The `ipc-conform` command line. Exit codes: 0 ok, 1 harness error (an `error` verdict or a
//! failed run), 2 bad usage or unreadable input; every failure says what is wrong.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::case::{Case, Registry};
use crate::catalogue::{Catalogue, Claim, Notes};
use crate::ctx::Depth;
use crate::report::RunReport;
use crate::runner::{self, Launcher, RunOptions};
use crate::verdict::Verdict;

/// The catalogue and notes compiled into the binary, so it runs anywhere (also in a VM).
pub struct Embedded {
    pub catalogue: &'static str,
    pub notes: &'static [(&'static str, &'static str)],
}

#[derive(Parser, Debug)]
#[command(
    name = "ipc-conform",
    version,
    about = "Checks every claim of the IPC study notes against the running Linux kernel"
)]
struct Cli {
    /// Use this catalogue file instead of the built-in one.
    #[arg(long, global = true, value_name = "FILE")]
    catalogue: Option<PathBuf>,
    /// Use the notes in this directory instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    notes: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the checks and report a verdict per claim.
    Run(RunArgs),
    /// List the catalogue's claims.
    List(ListArgs),
    /// Show a claim's quote and statement, then check it on this kernel.
    Explain(ExplainArgs),
}

#[derive(Parser, Debug)]
struct RunArgs {
    /// Claim ids or globs (`pipe.*`); all claims when none is given.
    claims: Vec<String>,
    /// Only claims of this area (repeatable).
    #[arg(long)]
    area: Vec<String>,
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    format: RunFormat,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Parallel worker processes (default: CPU count).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Property-test depth: quick for every run, deep for nightly.
    #[arg(long, value_enum, default_value_t = Depth::Quick)]
    depth: Depth,
    /// Multiply every case's deadline (emulated kernels are slower).
    #[arg(long, default_value_t = 1.0)]
    timeout_scale: f64,
    /// No progress line, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum RunFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Parser, Debug)]
struct ListArgs {
    /// Only claims of this area (repeatable).
    #[arg(long)]
    area: Vec<String>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    format: ListFormat,
    /// List the statements judged not checkable instead, with the reasons.
    #[arg(long)]
    not_checkable: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ListFormat {
    Text,
    Json,
}

#[derive(Parser, Debug)]
struct ExplainArgs {
    claim: String,
    /// Only show the catalogue entry; do not run the check.
    #[arg(long)]
    no_run: bool,
}

/// A failure that is the user's input, not the harness: exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// The binary's `main`: the worker check first, then the command line.
pub fn main(registry: Registry, embedded: &Embedded) -> ExitCode {
    crate::worker::serve_if_worker(&registry);
    let cli = Cli::parse();
    match dispatch(cli, &registry, embedded) {
        Ok(code) => code,
        Err(e) => {
            let is_usage = e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<crate::catalogue::CatalogueError>().is_some();
            eprintln!("ipc-conform: {e:#}");
            ExitCode::from(if is_usage { 2 } else { 1 })
        }
    }
}

fn load(cli: &Cli, registry: &Registry, embedded: &Embedded) -> anyhow::Result<Catalogue> {
    let notes = match &cli.notes {
        Some(dir) => Notes::from_dir(dir)?,
        None => Notes::from_pairs(embedded.notes.iter().copied()),
    };
    let text = match &cli.catalogue {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read catalogue {}: {e}", path.display())))?,
        None => embedded.catalogue.to_string(),
    };
    let catalogue = Catalogue::parse(&text, &notes)?;
    registry.check_against(&catalogue).map_err(|problems| crate::catalogue::CatalogueError { problems })?;
    Ok(catalogue)
}

fn dispatch(cli: Cli, registry: &Registry, embedded: &Embedded) -> anyhow::Result<ExitCode> {
    let catalogue = load(&cli, registry, embedded)?;
    match cli.command {
        Command::Run(args) => cmd_run(&catalogue, registry, args),
        Command::List(args) => cmd_list(&catalogue, args),
        Command::Explain(args) => cmd_explain(&catalogue, registry, args),
    }
}

/// The claims a set of filters selects; an unknown area or a pattern that matches nothing is a
/// usage error, never an empty green run.
pub fn select<'a>(catalogue: &'a Catalogue, areas: &[String], patterns: &[String]) -> anyhow::Result<Vec<&'a Claim>> {
    for area in areas {
        if !catalogue.areas.contains(area) {
            return Err(usage(format!("unknown area {area:?}; the areas are {}", catalogue.areas.join(", "))));
        }
    }
    let mut globs = Vec::new();
    for p in patterns {
        let glob = glob::Pattern::new(p).map_err(|e| usage(format!("bad claim pattern {p:?}: {e}")))?;
        if !catalogue.claims.iter().any(|c| glob.matches(&c.id)) {
            return Err(usage(format!("no claim matches {p:?} (see `ipc-conform list`)")));
        }
        globs.push(glob);
    }
    Ok(catalogue
        .claims
        .iter()
        .filter(|c| areas.is_empty() || areas.contains(&c.area))
        .filter(|c| globs.is_empty() || globs.iter().any(|g| g.matches(&c.id)))
        .collect())
}

/// The cases that decide any of `claims`, in registry order.
pub fn cases_for(registry: &Registry, claims: &[&Claim]) -> Vec<Case> {
    registry
        .cases()
        .iter()
        .filter(|case| claims.iter().any(|c| case.claims.contains(&c.id.as_str())))
        .copied()
        .collect()
}

/// Runs the selected claims and builds the report.
pub fn execute(
    catalogue: &Catalogue,
    registry: &Registry,
    claims: &[&Claim],
    options: &RunOptions,
    progress: bool,
) -> anyhow::Result<RunReport> {
    let cases = cases_for(registry, claims);
    let total = cases.len();
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let on_done = |report: &runner::CaseReport| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K[{n}/{total}] {}", report.case);
            let _ = err.flush();
        }
    };
    let reports = runner::run(&cases, options, &on_done)?;
    if progress {
        eprint!("\r\x1b[2K");
    }
    let kernel = crate::fingerprint::probe(&catalogue.fingerprint);
    Ok(RunReport::build(catalogue, claims, &reports, kernel, options.depth, started.elapsed().as_millis() as u64))
}

fn cmd_run(catalogue: &Catalogue, registry: &Registry, args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.jobs == Some(0) {
        return Err(usage("--jobs must be at least 1"));
    }
    if !(args.timeout_scale.is_finite() && args.timeout_scale > 0.0) {
        return Err(usage("--timeout-scale must be a positive number"));
    }
    let claims = select(catalogue, &args.area, &args.claims)?;
    let mut options = RunOptions::new(Launcher::current_exe()?);
    options.jobs = args.jobs.unwrap_or_else(runner::default_jobs);
    options.depth = args.depth;
    options.timeout_scale = args.timeout_scale;
    let progress = !args.no_progress && std::io::stderr().is_terminal();
    let report = execute(catalogue, registry, &claims, &options, progress)?;
    let rendered = match args.format {
        RunFormat::Text => crate::report::text::render(&report),
        RunFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        RunFormat::Markdown => crate::report::markdown::render(&report),
    };
    emit(args.output.as_deref(), &rendered)?;
    let errors = report.count(Verdict::Error);
    if errors > 0 {
        eprintln!(
            "ipc-conform: {errors} claim(s) ended in `error`: the harness could not conclude (see their explanations)"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to a file atomically (temp file + rename in the same directory), or to stdout.
pub fn emit(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    let Some(path) = path else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).context("writing to standard output")?;
        return Ok(());
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path).map_err(|e| usage(format!("cannot write {}: {}", path.display(), e.error)))?;
    Ok(())
}

fn cmd_list(catalogue: &Catalogue, args: ListArgs) -> anyhow::Result<ExitCode> {
    let claims = select(catalogue, &args.area, &[])?;
    let text = match (args.not_checkable, args.format) {
        (false, ListFormat::Json) => serde_json::to_string_pretty(&claims)? + "\n",
        (true, ListFormat::Json) => {
            let rows: Vec<_> = catalogue
                .not_checkable
                .iter()
                .filter(|n| args.area.is_empty() || args.area.contains(&n.area))
                .collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        (false, ListFormat::Text) => {
            let width = claims.iter().map(|c| c.id.len()).max().unwrap_or(0);
            let mut out = String::new();
            for c in &claims {
                out += &format!("{:<width$}  {}:{}  {}\n", c.id, short_note(&c.note), c.line, c.statement);
            }
            out + &format!("{} claims\n", claims.len())
        }
        (true, ListFormat::Text) => {
            let mut out = String::new();
            for n in catalogue.not_checkable.iter().filter(|n| args.area.is_empty() || args.area.contains(&n.area)) {
                out += &format!("{}:{}  「{}」\n    {}\n", short_note(&n.note), n.line, n.quote.trim(), n.reason);
            }
            out
        }
    };
    emit(None, &text)?;
    Ok(ExitCode::SUCCESS)
}

fn short_note(note: &str) -> &str {
    note.split('_').next().unwrap_or(note)
}

fn cmd_explain(catalogue: &Catalogue, registry: &Registry, args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let claim = catalogue
        .claim(&args.claim)
        .ok_or_else(|| usage(format!("no claim {:?} (see `ipc-conform list`)", args.claim)))?;
    let mut out = String::new();
    out += &format!("{}  [{}]\n", claim.id, claim.area);
    out += &format!("  note      {} line {}\n", claim.note, claim.line);
    out += &format!("  quote     「{}」\n", claim.quote.trim());
    for place in &claim.also_in {
        out += &format!("  also in   {place}\n");
    }
    out += &format!("  statement {}\n", claim.statement);
    let cases: Vec<&str> = registry.cases_for(&claim.id).map(|c| c.name).collect();
    out += &format!("  checked by {}\n", cases.join(", "));
    if !args.no_run {
        let options = RunOptions::new(Launcher::current_exe()?);
        let report = execute(catalogue, registry, &[claim], &options, false)?;
        if let Some(r) = report.results.first() {
            out += &format!(
                "\nOn {} {}: {}\n  {}\n",
                report.kernel.release,
                report.kernel.arch,
                r.verdict.as_str().to_uppercase(),
                r.explanation
            );
            out += &format!("  observed ({} ms):\n", r.duration_ms);
            for (key, value) in &r.observation {
                out += &format!("    {key}: {}\n", crate::report::compact(value));
            }
        }
    }
    emit(None, &out)?;
    Ok(ExitCode::SUCCESS)
}
