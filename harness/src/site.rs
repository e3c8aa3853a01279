//! `ipc-conform site -o DIR`: a static site of the notes, the verdicts and the kernels, built
//! from the approved snapshots. It works from `file://` (no server, no CDN): every page is plain
//! HTML with one shared stylesheet and script, the charts are inline SVG, and the templates
//! (askama, `harness/templates/`) escape every value they are given.
//!
//! ```text
//! index.html              overview: counts and charts per kernel, surprises, every claim (filter, search)
//! notes/<note>.html       a note's text; each claim line marked with its verdict, #L<line> and #<claim id>
//! claims/<claim id>.html  quote, statement, place in the notes, and every kernel's verdict and observation
//! site.css, site.js
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use askama::Template;

use crate::catalogue::{parse_place, Catalogue, Claim, Notes};
use crate::matrix::KernelColumn;
use crate::snapshot::SnapClaim;
use crate::verdict::Verdict;

const STYLE: &str = include_str!("../templates/site.css");
const SCRIPT: &str = include_str!("../templates/site.js");

/// What was written.
#[derive(Debug)]
pub struct Built {
    pub pages: usize,
    pub bytes: u64,
}

/// One kernel's result for one claim.
struct Cell<'a> {
    kernel: &'a str,
    verdict: &'static str,
    explanation: &'a str,
    observation: String,
}

struct ClaimView<'a> {
    claim: &'a Claim,
    note_short: &'a str,
    note_page: String,
    cells: Vec<Cell<'a>>,
    /// The verdict every kernel gave, or "differs".
    mark: &'static str,
    /// The kernels gave different verdicts.
    verdicts_differ: bool,
    /// Same verdicts, but what the kernels did (the normalised observation) differs.
    observations_differ: bool,
    /// `kernel=verdict` words, for the filter.
    verdict_words: String,
    /// What the search box matches: id, statement and quote, lower case.
    search_text: String,
    also_in: Vec<Place>,
}

struct Place {
    label: String,
    href: String,
}

/// Kernels that gave the same verdict, explanation and observation: shown once.
struct CellGroup<'a> {
    kernels: Vec<&'a str>,
    verdict: &'static str,
    explanation: &'a str,
    observation: &'a str,
}

impl<'a> ClaimView<'a> {
    fn groups(&self) -> Vec<CellGroup<'_>> {
        let mut groups: Vec<CellGroup> = Vec::new();
        for c in &self.cells {
            let same = |g: &&mut CellGroup| {
                g.verdict == c.verdict && g.explanation == c.explanation && g.observation == c.observation
            };
            match groups.iter_mut().find(|g| same(g)) {
                Some(g) => g.kernels.push(c.kernel),
                None => groups.push(CellGroup {
                    kernels: vec![c.kernel],
                    verdict: c.verdict,
                    explanation: c.explanation,
                    observation: &c.observation,
                }),
            }
        }
        groups
    }

    /// "holds on 5, refuted on 6.1" for the lists: the kernels grouped by verdict.
    fn verdict_summary(&self) -> String {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for cell in &self.cells {
            match groups.iter_mut().find(|(v, _)| *v == cell.verdict) {
                Some((_, kernels)) => kernels.push(cell.kernel),
                None => groups.push((cell.verdict, vec![cell.kernel])),
            }
        }
        if groups.len() == 1 {
            return format!("{} on every kernel", groups[0].0);
        }
        groups.iter().map(|(v, ks)| format!("{v} on {}", ks.join(", "))).collect::<Vec<_>>().join("; ")
    }
}

struct Segment {
    x: f64,
    width: f64,
    verdict: &'static str,
    count: usize,
}

struct Bar {
    label: String,
    y: usize,
    segments: Vec<Segment>,
    total: usize,
}

struct KernelSummary<'a> {
    id: &'a str,
    described: String,
    counts: Vec<(&'static str, usize)>,
    bars: Vec<Bar>,
    chart_height: usize,
}

const BAR_WIDTH: f64 = 360.0;
const BAR_ROW: usize = 22;

/// A link of the top bar, relative to the site's root.
struct NavLink {
    label: String,
    href: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    root: &'static str,
    nav: &'a [NavLink],
    kernels: &'a [KernelSummary<'a>],
    claims: &'a [ClaimView<'a>],
    surprises: Vec<&'a ClaimView<'a>>,
    differing: Vec<&'a ClaimView<'a>>,
    areas: &'a [String],
    notes: &'a [NoteLink],
    verdicts: [&'static str; 5],
    not_checkable: usize,
}

struct NoteLink {
    name: String,
    href: String,
    claims: usize,
}

struct LineMark<'a> {
    id: &'a str,
    mark: &'static str,
    title: String,
    also: bool,
}

struct NoteLine<'a> {
    number: usize,
    text: &'a str,
    marks: Vec<LineMark<'a>>,
    not_checkable: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "note.html")]
struct NotePage<'a> {
    root: &'static str,
    nav: &'a [NavLink],
    name: &'a str,
    lines: Vec<NoteLine<'a>>,
    claims: usize,
}

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage<'a> {
    root: &'static str,
    nav: &'a [NavLink],
    view: &'a ClaimView<'a>,
}

fn short_note(note: &str) -> &str {
    note.split('_').next().unwrap_or(note)
}

fn note_page(note: &str) -> String {
    format!("{}.html", note.trim_end_matches(".txt"))
}

fn claim_views<'a>(catalogue: &'a Catalogue, columns: &'a [KernelColumn]) -> Vec<ClaimView<'a>> {
    catalogue
        .claims
        .iter()
        .map(|claim| {
            let results: Vec<(&KernelColumn, Option<&SnapClaim>)> =
                columns.iter().map(|k| (k, k.snapshot.claim(&claim.id))).collect();
            let cells: Vec<Cell> = results
                .iter()
                .map(|(k, r)| Cell {
                    kernel: &k.id,
                    verdict: r.map_or("absent", |r| r.verdict.as_str()),
                    explanation: k.explanations.get(&claim.id).map_or("", String::as_str),
                    observation: r
                        .map(|r| serde_json::to_string_pretty(&r.observation).unwrap_or_default())
                        .unwrap_or_default(),
                })
                .collect();
            let first = cells.first().map_or("absent", |c| c.verdict);
            let verdicts_differ = cells.iter().any(|c| c.verdict != first);
            let first_observation = results.first().and_then(|(_, r)| r.map(|r| &r.observation));
            let observations_differ =
                !verdicts_differ && results.iter().any(|(_, r)| r.map(|r| &r.observation) != first_observation);
            let verdict_words =
                cells.iter().map(|c| format!("{}={}", c.kernel, c.verdict)).collect::<Vec<_>>().join(" ");
            let also_in = claim
                .also_in
                .iter()
                .filter_map(|place| parse_place(place))
                .map(|(note, line)| Place {
                    label: format!("{} line {line}", short_note(note)),
                    href: format!("../notes/{}#L{line}", note_page(note)),
                })
                .collect();
            ClaimView {
                claim,
                note_short: short_note(&claim.note),
                note_page: note_page(&claim.note),
                mark: if verdicts_differ { "differs" } else { first },
                verdicts_differ,
                observations_differ,
                verdict_words,
                search_text: format!("{} {} {}", claim.id, claim.statement, claim.quote).to_lowercase(),
                also_in,
                cells,
            }
        })
        .collect()
}

fn kernel_summaries<'a>(catalogue: &'a Catalogue, columns: &'a [KernelColumn]) -> Vec<KernelSummary<'a>> {
    let area_of: BTreeMap<&str, &str> = catalogue.claims.iter().map(|c| (c.id.as_str(), c.area.as_str())).collect();
    let largest_area = catalogue
        .areas
        .iter()
        .map(|a| catalogue.claims.iter().filter(|c| &c.area == a).count())
        .max()
        .unwrap_or(1)
        .max(1);
    columns
        .iter()
        .map(|k| {
            let counts = Verdict::ALL
                .iter()
                .map(|v| (v.as_str(), k.snapshot.claims.iter().filter(|c| c.verdict == *v).count()))
                .collect();
            let bars = catalogue
                .areas
                .iter()
                .enumerate()
                .map(|(row, area)| {
                    let in_area: Vec<&SnapClaim> = k
                        .snapshot
                        .claims
                        .iter()
                        .filter(|c| area_of.get(c.claim.as_str()) == Some(&area.as_str()))
                        .collect();
                    let mut x = 0.0;
                    let segments = Verdict::ALL
                        .iter()
                        .filter_map(|v| {
                            let count = in_area.iter().filter(|c| c.verdict == *v).count();
                            (count > 0).then(|| {
                                let width = BAR_WIDTH * count as f64 / largest_area as f64;
                                let segment = Segment { x, width, verdict: v.as_str(), count };
                                x += width;
                                segment
                            })
                        })
                        .collect();
                    Bar { label: area.clone(), y: row * BAR_ROW, segments, total: in_area.len() }
                })
                .collect();
            let described = match &k.fingerprint {
                Some(f) => format!("{} {}, euid {}", f.release, f.arch, f.euid),
                None => k.id.clone(),
            };
            KernelSummary { id: &k.id, described, counts, bars, chart_height: catalogue.areas.len() * BAR_ROW }
        })
        .collect()
}

fn note_lines<'a>(
    catalogue: &'a Catalogue,
    views: &'a [ClaimView<'a>],
    note: &str,
    text: &'a str,
) -> Vec<NoteLine<'a>> {
    let mut marks: BTreeMap<usize, Vec<LineMark>> = BTreeMap::new();
    for view in views {
        let title = format!("{}: {} ({})", view.claim.id, view.claim.statement, view.verdict_summary());
        let mark = |also| LineMark { id: &view.claim.id, mark: view.mark, title: title.clone(), also };
        if view.claim.note == note {
            marks.entry(view.claim.line).or_default().push(mark(false));
        }
        for (_, line) in view.claim.also_in.iter().filter_map(|p| parse_place(p)).filter(|(n, _)| *n == note) {
            marks.entry(line).or_default().push(mark(true));
        }
    }
    let reasons: BTreeMap<usize, &str> =
        catalogue.not_checkable.iter().filter(|n| n.note == note).map(|n| (n.line, n.reason.as_str())).collect();
    text.lines()
        .enumerate()
        .map(|(i, line)| NoteLine {
            number: i + 1,
            text: line.trim_end(),
            marks: marks.remove(&(i + 1)).unwrap_or_default(),
            not_checkable: reasons.get(&(i + 1)).copied(),
        })
        .collect()
}

fn write(out: &Path, relative: &str, text: &str, built: &mut Built) -> anyhow::Result<()> {
    let path = out.join(relative);
    std::fs::write(&path, text).map_err(|e| crate::files::usage(format!("writing {}: {e}", path.display())))?;
    built.pages += relative.ends_with(".html") as usize;
    built.bytes += text.len() as u64;
    Ok(())
}

/// Builds the site into `out` (created if needed; the site's own files are overwritten).
pub fn build(catalogue: &Catalogue, notes: &Notes, columns: &[KernelColumn], out: &Path) -> anyhow::Result<Built> {
    for dir in [out.to_path_buf(), out.join("notes"), out.join("claims")] {
        // An output directory that cannot be made is the user's to fix: exit 2, as for `-o` elsewhere.
        std::fs::create_dir_all(&dir).map_err(|e| crate::files::usage(format!("creating {}: {e}", dir.display())))?;
    }
    let views = claim_views(catalogue, columns);
    let kernels = kernel_summaries(catalogue, columns);
    let mut built = Built { pages: 0, bytes: 0 };
    write(out, "site.css", STYLE, &mut built)?;
    write(out, "site.js", SCRIPT, &mut built)?;

    let on_some_kernel = |v: &ClaimView, verdict: &str| v.cells.iter().any(|c| c.verdict == verdict);
    let mut surprises: Vec<&ClaimView> =
        views.iter().filter(|v| on_some_kernel(v, "refuted") || on_some_kernel(v, "partial")).collect();
    // Refuted first; the sort is stable, so catalogue order within each.
    surprises.sort_by_key(|v| !on_some_kernel(v, "refuted"));
    let differing: Vec<&ClaimView> = views.iter().filter(|v| v.verdicts_differ || v.observations_differ).collect();
    let note_links: Vec<NoteLink> = notes
        .names()
        .map(|n| NoteLink {
            name: n.to_string(),
            href: format!("notes/{}", note_page(n)),
            claims: catalogue.claims.iter().filter(|c| c.note == n).count(),
        })
        .collect();
    let mut nav = vec![NavLink { label: "overview".into(), href: "index.html".into() }];
    nav.extend(
        note_links.iter().map(|n| NavLink { label: format!("note {}", short_note(&n.name)), href: n.href.clone() }),
    );
    let index = IndexPage {
        root: "",
        nav: &nav,
        kernels: &kernels,
        claims: &views,
        surprises,
        differing,
        areas: &catalogue.areas,
        notes: &note_links,
        verdicts: Verdict::ALL.map(Verdict::as_str),
        not_checkable: catalogue.not_checkable.len(),
    };
    write(out, "index.html", &index.render()?, &mut built)?;

    for name in notes.names() {
        let Some(text) = notes.text(name) else { continue };
        let page = NotePage {
            root: "../",
            nav: &nav,
            name,
            lines: note_lines(catalogue, &views, name, text),
            claims: catalogue.claims.iter().filter(|c| c.note == name).count(),
        };
        write(out, &format!("notes/{}", note_page(name)), &page.render()?, &mut built)?;
    }
    for view in &views {
        // Ids are file names here: the catalogue's ids are [a-z0-9_.], keep it so.
        anyhow::ensure!(
            view.claim.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'),
            "claim id {:?} cannot be a file name",
            view.claim.id
        );
        write(
            out,
            &format!("claims/{}.html", view.claim.id),
            &ClaimPage { root: "../", nav: &nav, view }.render()?,
            &mut built,
        )?;
    }
    Ok(built)
}
