//! The `ipc-conform` command line. Exit codes: 0 ok, 1 harness error (an `error` verdict or a
//! failed run), 2 bad usage or unreadable input; every failure says what is wrong.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::case::{Case, Registry};
use crate::catalogue::{Catalogue, Claim, Notes};
use crate::ctx::Depth;
use crate::gate;
use crate::report::RunReport;
use crate::runner::{self, Launcher, RunOptions};
use crate::snapshot::{self, Snapshot};
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
    /// Colour the verdicts: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the checks and report a verdict per claim.
    Run(RunArgs),
    /// List the catalogue's claims.
    List(ListArgs),
    /// Show a claim's quote and statement, then check it on this kernel.
    Explain(ExplainArgs),
    /// Compare this kernel's results with its approved snapshot (without one: the nearest approved
    /// kernel of the same architecture, or --baseline); exit 1 on any change or `error`.
    Gate(GateArgs),
    /// Compare two snapshots, snapshot directories or `run --format json` result files.
    Diff(DiffArgs),
    /// The claims x kernels table of the approved snapshots.
    Matrix(MatrixArgs),
    /// Build a static site (works offline, from file://) of the notes, the verdicts and every
    /// approved kernel: DIR/index.html.
    Site(SiteArgs),
    /// Remove what runs that were killed left behind (their run directories under $TMPDIR, the
    /// processes and IPC objects their journals name); live runs and other programs' objects are
    /// not touched.
    Clean(CleanArgs),
}

#[derive(Parser, Debug)]
struct CleanArgs {
    /// Where runs keep their directories (default: $TMPDIR, else /tmp).
    #[arg(long, value_name = "DIR")]
    tmpdir: Option<PathBuf>,
}

#[derive(Parser, Debug)]
struct GateArgs {
    /// Gate only these claim ids or globs (`sysv.msg.*`); all claims when none is given.
    claims: Vec<String>,
    /// Directory laid out like reports/: <kernel-id>/snapshot.snap.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    snapshots: PathBuf,
    /// Compare with this approved kernel (a directory name in --snapshots) instead of this
    /// kernel's own snapshot or, without one, the nearest approved kernel of the architecture.
    #[arg(long, value_name = "KERNEL-ID", conflicts_with = "accept")]
    baseline: Option<String>,
    /// Compare with this approved kernel only when this kernel has no approved snapshot of its own.
    #[arg(long, value_name = "KERNEL-ID", conflicts_with_all = ["accept", "baseline"])]
    fallback_baseline: Option<String>,
    /// Fail when this kernel has no approved snapshot of its own (no baseline is used).
    #[arg(long, conflicts_with_all = ["accept", "baseline", "fallback_baseline"])]
    require_snapshot: bool,
    /// Count claims "not checked here" (skipped for a declared need this run lacks: a kernel
    /// option, a module, root, a command) as changes.
    #[arg(long, conflicts_with = "accept")]
    strict: bool,
    /// Approve today's results as this kernel's snapshot (also writes report.md and the annotated notes).
    #[arg(long)]
    accept: bool,
    /// Gate a saved `run --format json` result instead of running the suite.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["jobs", "timeout_scale"])]
    results: Option<PathBuf>,
    #[arg(long, short)]
    jobs: Option<usize>,
    #[arg(long, default_value_t = 1.0)]
    timeout_scale: f64,
}

#[derive(Parser, Debug)]
struct DiffArgs {
    before: PathBuf,
    after: PathBuf,
}

#[derive(Parser, Debug)]
struct SiteArgs {
    /// Directory laid out like reports/: <kernel-id>/snapshot.snap.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    snapshots: PathBuf,
    /// Where to write the site (created if needed).
    #[arg(long, short, value_name = "DIR")]
    output: PathBuf,
}

#[derive(Parser, Debug)]
struct MatrixArgs {
    #[arg(long, default_value = "reports", value_name = "DIR")]
    snapshots: PathBuf,
    /// Every claim, not only those that differ between kernels.
    #[arg(long)]
    all: bool,
    #[arg(long, value_enum, default_value_t = MatrixFormat::Markdown)]
    format: MatrixFormat,
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write `<DIR>/<column>/differences.md`: each claim where the column differs from
    /// its reference column, in one line.
    #[arg(long)]
    per_column: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum MatrixFormat {
    Markdown,
    Html,
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
    /// Start every worker under this command (split at white space; it must exec the program
    /// it is given), e.g. `strace -f -o trace` or the deviation injector `ipc-conform-deviate NAME --`.
    #[arg(long, value_name = "COMMAND")]
    wrap_workers: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum RunFormat {
    Text,
    Json,
    Markdown,
    Junit,
    Ktap,
    Kcidb,
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

pub use crate::files::{emit, usage, UsageError};

/// The binary's `main`: the worker check first, then the command line.
pub fn main(registry: Registry, embedded: &Embedded) -> ExitCode {
    crate::worker::serve_if_worker(&registry);
    // A reader that goes away (`| head`) ends the command quietly, as for any Unix tool, instead
    // of a panic in println!. Output is written only after a run has finished and cleaned up.
    // SAFETY: setting a signal's disposition to its default runs no code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
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

fn load(cli: &Cli, registry: &Registry, embedded: &Embedded) -> anyhow::Result<(Catalogue, Notes)> {
    let notes = match &cli.notes {
        Some(dir) => Notes::from_dir(dir)?,
        None => Notes::from_pairs(embedded.notes.iter().copied()),
    };
    let text = match &cli.catalogue {
        Some(path) => crate::files::read_limited(path, crate::files::CATALOGUE_LIMIT, "catalogue")?,
        None => embedded.catalogue.to_string(),
    };
    let catalogue = Catalogue::parse(&text, &notes)?;
    registry.check_against(&catalogue).map_err(|problems| crate::catalogue::CatalogueError { problems })?;
    Ok((catalogue, notes))
}

fn dispatch(cli: Cli, registry: &Registry, embedded: &Embedded) -> anyhow::Result<ExitCode> {
    crate::style::choose(match cli.color {
        ColorWhen::Auto => crate::style::ColorChoice::Auto,
        ColorWhen::Always => crate::style::ColorChoice::Always,
        ColorWhen::Never => crate::style::ColorChoice::Never,
    });
    let (catalogue, notes) = load(&cli, registry, embedded)?;
    match cli.command {
        Command::Run(args) => cmd_run(&catalogue, registry, args),
        Command::List(args) => cmd_list(&catalogue, args),
        Command::Explain(args) => cmd_explain(&catalogue, registry, args),
        Command::Gate(args) => cmd_gate(&catalogue, &notes, registry, args),
        Command::Site(args) => cmd_site(&catalogue, &notes, args),
        Command::Diff(args) => cmd_diff(args),
        Command::Matrix(args) => cmd_matrix(args),
        Command::Clean(args) => cmd_clean(args),
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
    let selected: Vec<&Claim> = catalogue
        .claims
        .iter()
        .filter(|c| areas.is_empty() || areas.contains(&c.area))
        .filter(|c| globs.is_empty() || globs.iter().any(|g| g.matches(&c.id)))
        .collect();
    if selected.is_empty() {
        return Err(usage(format!(
            "the filters contradict each other: no claim of area {} matches {}",
            areas.join(" or "),
            patterns.join(" or ")
        )));
    }
    Ok(selected)
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
    if let Some(signal) = crate::stop::requested() {
        let interrupted: Vec<&str> = reports.iter().filter(|r| r.interrupted).map(|r| r.case).collect();
        eprintln!(
            "ipc-conform: stopped by {}: {} case(s) interrupted ({}), {} finished, {} never started; \
             everything the interrupted cases had made was removed",
            crate::stop::signal_name(signal),
            interrupted.len(),
            if interrupted.is_empty() { "none".to_string() } else { interrupted.join(", ") },
            reports.len() - interrupted.len(),
            total - reports.len()
        );
    }
    let kernel = crate::fingerprint::probe(&catalogue.fingerprint);
    Ok(RunReport::build(claims, &reports, kernel, options.depth, started.elapsed().as_millis() as u64))
}

fn cmd_run(catalogue: &Catalogue, registry: &Registry, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut options = run_options(args.jobs, args.timeout_scale)?;
    options.depth = args.depth;
    if let Some(wrapper) = &args.wrap_workers {
        options.launcher = options.launcher.wrapped_in(wrapper)?;
    }
    let claims = select(catalogue, &args.area, &args.claims)?;
    let progress = !args.no_progress && std::io::stderr().is_terminal();
    let report = execute(catalogue, registry, &claims, &options, progress)?;
    if let Some(code) = interrupted_exit() {
        return Ok(code);
    }
    let rendered = match args.format {
        RunFormat::Text => crate::report::text::render(&report),
        RunFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        RunFormat::Markdown => crate::report::markdown::render(&report),
        RunFormat::Junit => crate::report::formats::junit(&report),
        RunFormat::Ktap => crate::report::formats::ktap(&report),
        RunFormat::Kcidb => serde_json::to_string_pretty(&crate::report::formats::kcidb(&report))? + "\n",
    };
    // Only the text table carries colour; the machine formats are written as they are.
    match args.format {
        RunFormat::Text => crate::style::emit(args.output.as_deref(), &rendered)?,
        _ => emit(args.output.as_deref(), &rendered)?,
    }
    let errors = report.count(Verdict::Error);
    if errors > 0 {
        eprintln!(
            "ipc-conform: {errors} claim(s) ended in `error`: the harness could not conclude (see their explanations)"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
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
                out += &format!(
                    "{}:{}  「{}」\n    {}: {}\n",
                    short_note(&n.note),
                    n.line,
                    n.quote.trim(),
                    n.kind.as_str(),
                    n.reason
                );
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
    for case in registry.cases_for(&claim.id) {
        out += &format!("  checked by {} ({}:{})\n", case.name, case.file, case.line);
    }
    if !args.no_run {
        let options = RunOptions::new(Launcher::current_exe()?);
        let report = execute(catalogue, registry, &[claim], &options, false)?;
        if let Some(code) = interrupted_exit() {
            return Ok(code);
        }
        if let Some(r) = report.results.first() {
            out += &format!(
                "\nOn {} {}: {}\n  {}\n",
                report.kernel.release,
                report.kernel.arch,
                crate::style::paint(crate::style::verdict(r.verdict), r.verdict.as_str().to_uppercase()),
                r.explanation
            );
            out += &format!("  observed ({} ms):\n", r.duration_ms);
            for (key, value) in &r.observation {
                out += &format!("    {key}: {}\n", crate::report::compact(value));
            }
        }
    }
    crate::style::emit(None, &out)?;
    Ok(ExitCode::SUCCESS)
}

/// After a run a stop signal cut short: exit 128 + the signal, writing no report.
fn interrupted_exit() -> Option<ExitCode> {
    crate::stop::requested().map(|signal| ExitCode::from(crate::stop::exit_code(signal)))
}

fn run_options(jobs: Option<usize>, timeout_scale: f64) -> anyhow::Result<RunOptions> {
    if jobs == Some(0) {
        return Err(usage("--jobs must be at least 1"));
    }
    if !(timeout_scale.is_finite() && timeout_scale > 0.0) {
        return Err(usage("--timeout-scale must be a positive number"));
    }
    let mut options = RunOptions::new(Launcher::current_exe()?);
    options.jobs = jobs.unwrap_or_else(runner::default_jobs);
    options.timeout_scale = timeout_scale;
    Ok(options)
}

/// Reads a `run --format json` result file.
fn load_results(path: &Path) -> anyhow::Result<RunReport> {
    let text = crate::files::read_limited(path, crate::files::RESULTS_LIMIT, "results")?;
    serde_json::from_str(&text)
        .map_err(|e| usage(format!("{} is not a `run --format json` result: {e}", path.display())))
}

/// A snapshot from a snapshot file, a kernel directory (approved, else pending) or a result file.
fn load_snapshot_any(path: &Path) -> anyhow::Result<Snapshot> {
    let file = if path.is_dir() {
        [snapshot::FILE, snapshot::PENDING]
            .iter()
            .map(|f| path.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| usage(format!("{} holds no snapshot", path.display())))?
    } else {
        path.to_path_buf()
    };
    if file.extension().is_some_and(|e| e == "json") {
        return Ok(Snapshot::of(&load_results(&file)?));
    }
    Snapshot::load(&file).map_err(|e| usage(format!("{e:#}")))
}

fn cmd_gate(catalogue: &Catalogue, notes: &Notes, registry: &Registry, args: GateArgs) -> anyhow::Result<ExitCode> {
    let saved = args.results.as_deref().map(load_results).transpose()?;
    let kernel_id =
        saved.as_ref().map_or_else(|| crate::fingerprint::probe(&catalogue.fingerprint).id, |r| r.kernel.id.clone());
    let request = gate::Request {
        snapshots: &args.snapshots,
        policy: gate::Policy {
            baseline: args.baseline.clone(),
            fallback_baseline: args.fallback_baseline.clone(),
            require_snapshot: args.require_snapshot,
            strict: args.strict,
        },
        accept: args.accept,
    };
    gate::gate(&request, catalogue, notes, &kernel_id, || match saved {
        Some(report) => Ok(Ok(report)),
        None => {
            let options = run_options(args.jobs, args.timeout_scale)?;
            let claims = select(catalogue, &[], &args.claims)?;
            let report = execute(catalogue, registry, &claims, &options, std::io::stderr().is_terminal())?;
            Ok(match interrupted_exit() {
                Some(code) => Err(code),
                None => Ok(report),
            })
        }
    })
}

fn cmd_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let (before, after) = (load_snapshot_any(&args.before)?, load_snapshot_any(&args.after)?);
    let diffs = snapshot::diff(&before, &after);
    if diffs.is_empty() {
        println!("no difference in {} claims", after.claims.len());
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} claim(s) differ between {} and {}:", diffs.len(), before.kernel, after.kernel);
    print!("{}", snapshot::render_diff(&diffs, &before.kernel, &after.kernel));
    Ok(ExitCode::from(1))
}

fn cmd_clean(args: CleanArgs) -> anyhow::Result<ExitCode> {
    let tmp = args.tmpdir.unwrap_or_else(std::env::temp_dir);
    if !tmp.is_dir() {
        return Err(usage(format!("{} is not a directory", tmp.display())));
    }
    let cleaned = crate::clean::clean_stale(&tmp);
    if cleaned.is_empty() {
        println!("clean: nothing to clean in {} (no run directory of a killed run)", tmp.display());
    }
    for (dir, done) in &cleaned {
        println!("clean: {}", dir.display());
        for action in done {
            println!("  {action}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_site(catalogue: &Catalogue, notes: &Notes, args: SiteArgs) -> anyhow::Result<ExitCode> {
    let kernels = crate::matrix::load_columns(&args.snapshots)?;
    let built = crate::site::build(catalogue, notes, &kernels, &args.output)?;
    println!(
        "site: {} pages ({:.1} MB) of {} claims on {} kernels in {}; open {}",
        built.pages,
        built.bytes as f64 / 1e6,
        catalogue.claims.len(),
        kernels.len(),
        args.output.display(),
        args.output.join("index.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn cmd_matrix(args: MatrixArgs) -> anyhow::Result<ExitCode> {
    let kernels = crate::matrix::load_columns(&args.snapshots)?;
    let text = match args.format {
        MatrixFormat::Markdown => crate::matrix::markdown(&kernels, args.all),
        MatrixFormat::Html => crate::matrix::html(&kernels, args.all),
    };
    emit(args.output.as_deref(), &text)?;
    if args.per_column {
        for (i, column) in kernels.iter().enumerate() {
            let path = args.snapshots.join(&column.id).join(crate::matrix::DIFFERENCES_FILE);
            std::fs::write(&path, crate::matrix::column_differences(&kernels, i))
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
