//! `ipc-conform site`: the pages it writes, and the site in a real browser (headless Chromium,
//! from `file://`, as a reader opens it). `.ci/run` installs Chromium; under `CI` a missing
//! browser fails the test instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use harness::catalogue::{Catalogue, Notes};
use serial_test::file_parallel;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-conform");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn catalogue() -> Catalogue {
    let notes = Notes::from_pairs(cases::EMBEDDED.notes.iter().copied());
    Catalogue::parse(cases::EMBEDDED.catalogue, &notes).unwrap()
}

fn build_site(out: &Path) {
    let reports = workspace().join("reports");
    let status = Command::new(BIN)
        .args(["site", "--snapshots"])
        .arg(&reports)
        .arg("-o")
        .arg(out)
        .status()
        .expect("run ipc-conform site");
    assert!(status.success(), "ipc-conform site failed");
}

#[test]
#[file_parallel(machine_wide)]
fn every_claim_has_a_page_an_anchor_and_a_mark_in_its_note() {
    let dir = tempfile::tempdir().unwrap();
    build_site(dir.path());
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    for claim in &catalogue().claims {
        assert!(index.contains(&format!("<tr id=\"{}\"", claim.id)), "index.html has no row for {}", claim.id);
        let page = std::fs::read_to_string(dir.path().join(format!("claims/{}.html", claim.id)))
            .unwrap_or_else(|e| panic!("{}: no claim page: {e}", claim.id));
        assert!(page.contains(&format!("#L{}\"", claim.line)), "{}: the page does not link to its line", claim.id);
        let note = std::fs::read_to_string(
            dir.path().join("notes").join(format!("{}.html", claim.note.trim_end_matches(".txt"))),
        )
        .unwrap();
        assert!(note.contains(&format!("id=\"{}\"", claim.id)), "{}: not marked in its note", claim.id);
    }
}

#[test]
#[file_parallel(machine_wide)]
fn text_is_escaped_and_nothing_is_fetched_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    build_site(dir.path());
    // 004's line 27 holds `#include <unistd.h>`: it must reach the page as text, not as a tag.
    let note = std::fs::read_to_string(dir.path().join("notes/004_e097bafd742a43f3.html")).unwrap();
    assert!(note.contains("#include &#60;unistd.h&#62;") || note.contains("#include &lt;unistd.h&gt;"));
    assert!(!note.contains("<unistd.h>"));
    for entry in walk(dir.path()) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for remote in ["http://", "https://", "//cdn"] {
            let offending = text.match_indices(remote).any(|(i, _)| {
                let before = &text[..i];
                // Links in the notes' own text are text, not something the page loads.
                before.ends_with("src=\"") || before.ends_with("href=\"")
            });
            assert!(!offending, "{} loads or links {remote}", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    harness::runner::find_on_path("chromium").or_else(|| harness::runner::find_on_path("chromium-browser"))
}

/// The self-test page: loads the site into an iframe and checks it the way a reader uses it.
/// Written by the test next to the site (never by `ipc-conform site`).
const SELFTEST: &str = include_str!("site-selftest.html");

#[test]
#[file_parallel(machine_wide)]
fn the_site_works_in_a_real_browser() {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have chromium (.ci/run installs it)");
        eprintln!("skipped: no chromium on PATH (set CHROMIUM=/path or install Debian's chromium)");
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    build_site(dir.path());

    let catalogue = catalogue();
    let columns = harness::matrix::load_columns(&workspace().join("reports")).unwrap();
    let kernel = &columns[0];
    let refuted_on = |k: &harness::matrix::KernelColumn, id: &str| {
        k.snapshot.claim(id).is_some_and(|c| c.verdict == harness::Verdict::Refuted)
    };
    let expected = serde_json::json!({
        "claims": catalogue.claims.iter().map(|c| serde_json::json!({"id": c.id})).collect::<Vec<_>>(),
        "sysv": catalogue.claims.iter().filter(|c| c.area == "sysv").count(),
        "refuted_anywhere": catalogue.claims.iter().filter(|c| columns.iter().any(|k| refuted_on(k, &c.id))).count(),
        "refuted_on_kernel": catalogue.claims.iter().filter(|c| refuted_on(kernel, &c.id)).count(),
        "kernel": kernel.id,
        "every": 23,
    });
    std::fs::write(dir.path().join("selftest.html"), SELFTEST.replace("EXPECTED", &expected.to_string())).unwrap();

    let chrome = |extra: &[&str], url: &str| {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new(&browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--allow-file-access-from-files"])
            .args(["--enable-logging=stderr", "--v=0", "--window-size=1280,1800"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("run chromium");
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let root = format!("file://{}", dir.path().display());
    let (dom, log) = chrome(&["--virtual-time-budget=30000", "--dump-dom"], &format!("{root}/selftest.html"));
    let result = dom.split("<pre id=\"result\">").nth(1).and_then(|r| r.split("</pre>").next()).unwrap_or("no result");
    eprintln!("browser self-test: {result}");
    assert!(result.starts_with("PASS"), "the site failed in the browser:\n{result}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE") && !l.contains("selftest.html")).collect();
    assert!(console.is_empty(), "the site wrote to the console:\n{}", console.join("\n"));

    let shots = workspace().join("target/site-test");
    std::fs::create_dir_all(&shots).unwrap();
    for (name, page) in [
        ("index", "index.html"),
        ("note-004", "notes/004_e097bafd742a43f3.html"),
        ("claim", "claims/sysv.sem.getpid_last_operation.html"),
    ] {
        let file = shots.join(format!("{name}.png"));
        let (_, log) = chrome(&[&format!("--screenshot={}", file.display())], &format!("{root}/{page}"));
        assert!(file.is_file(), "no screenshot of {page}: {log}");
    }
    eprintln!("browser test: {:.1} s; screenshots in {}", started.elapsed().as_secs_f64(), shots.display());
}
