//! Claims x kernels: by default only the rows where kernels differ (in verdict or observation).

use std::fmt::Write as _;

use crate::snapshot::Snapshot;

pub struct Row<'a> {
    pub claim: &'a str,
    /// Per kernel: the verdict, and whether its observation differs from the first kernel's.
    pub cells: Vec<Option<(crate::Verdict, bool)>>,
}

pub fn rows<'a>(kernels: &'a [(String, Snapshot)], all: bool) -> Vec<Row<'a>> {
    let mut ids: Vec<&str> = Vec::new();
    for (_, s) in kernels {
        for c in &s.claims {
            if !ids.contains(&c.claim.as_str()) {
                ids.push(&c.claim);
            }
        }
    }
    ids.into_iter()
        .filter_map(|id| {
            let found: Vec<Option<&crate::snapshot::SnapClaim>> = kernels.iter().map(|(_, s)| s.claim(id)).collect();
            let first = found.iter().flatten().next().copied();
            let cells: Vec<Option<(crate::Verdict, bool)>> = found
                .iter()
                .map(|c| c.map(|c| (c.verdict, first.is_some_and(|f| f.observation != c.observation))))
                .collect();
            let same = found.iter().all(|c| *c == first) && found.iter().all(Option::is_some);
            (all || !same).then_some(Row { claim: id, cells })
        })
        .collect()
}

fn cell_text(cell: &Option<(crate::Verdict, bool)>) -> String {
    match cell {
        None => "—".into(),
        Some((v, false)) => v.to_string(),
        Some((v, true)) => format!("{v} *"),
    }
}

pub fn markdown(kernels: &[(String, Snapshot)], all: bool) -> String {
    let rows = rows(kernels, all);
    let mut out = String::from("# Claims across kernels\n\n");
    let _ = writeln!(
        out,
        "{} kernels; {} {} shown. `*`: the observation differs from the first kernel's.\n",
        kernels.len(),
        rows.len(),
        if all { "claims" } else { "claims that differ" }
    );
    let _ = write!(out, "| claim |");
    for (id, _) in kernels {
        let _ = write!(out, " {id} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in kernels {
        out.push_str("---|");
    }
    out.push('\n');
    for row in rows {
        let _ = write!(out, "| `{}` |", row.claim);
        for c in &row.cells {
            let _ = write!(out, " {} |", cell_text(c));
        }
        out.push('\n');
    }
    out
}

pub fn html(kernels: &[(String, Snapshot)], all: bool) -> String {
    let esc = super::formats::xml_escape;
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ipc-conform: claims across kernels</title>\n<style>td,th{border:1px solid #ccc;padding:2px 6px}.holds{background:#dfd}.refuted{background:#fdd}.partial{background:#ffd}.skipped{background:#eee}.error{background:#f99}</style></head><body>\n<table>\n<tr><th>claim</th>",
    );
    for (id, _) in kernels {
        let _ = write!(out, "<th>{}</th>", esc(id));
    }
    out.push_str("</tr>\n");
    for row in rows(kernels, all) {
        let _ = write!(out, "<tr><td><code>{}</code></td>", esc(row.claim));
        for c in &row.cells {
            let class = c.map(|(v, _)| v.as_str()).unwrap_or("");
            let _ = write!(out, "<td class=\"{class}\">{}</td>", esc(&cell_text(c)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</body></html>\n");
    out
}
