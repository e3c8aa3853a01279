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

/// What a column is, from its id: the kernel, and how it was run there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub kernel: String,
    pub emulator: Option<String>,
    pub profile: String,
    pub privilege: String,
}

impl Setting {
    pub fn of(id: &str) -> Setting {
        let (kernel, rest) = crate::fingerprint::split_column(id);
        let mut setting =
            Setting { kernel: kernel.into(), emulator: None, profile: "default".into(), privilege: "root".into() };
        for part in rest.split(',').filter(|p| !p.is_empty()) {
            if part == "userns-root" || (part.starts_with("uid") && part[3..].chars().all(|c| c.is_ascii_digit())) {
                setting.privilege = part.into();
            } else if part.starts_with("qemu-") {
                setting.emulator = Some(part.into());
            } else {
                setting.profile = part.into();
            }
        }
        setting
    }

    fn value(&self, dimension: Dimension) -> String {
        match dimension {
            Dimension::Privilege => self.privilege.clone(),
            Dimension::Profile => self.profile.clone(),
            Dimension::Emulator => self.emulator.clone().unwrap_or_else(|| "none".into()),
            Dimension::Kernel => self.kernel.clone(),
        }
    }
}

/// What can decide a claim's outcome in the matrix, in the order a reader would suspect it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Privilege,
    Profile,
    Emulator,
    Kernel,
}

const DIMENSIONS: [Dimension; 4] = [Dimension::Privilege, Dimension::Profile, Dimension::Emulator, Dimension::Kernel];

impl Dimension {
    fn name(self) -> &'static str {
        match self {
            Dimension::Privilege => "privilege",
            Dimension::Profile => "profile",
            Dimension::Emulator => "emulator",
            Dimension::Kernel => "kernel",
        }
    }
}

/// A privilege value as a reader says it.
fn privilege_words(value: &str) -> String {
    match value {
        "root" => "root".into(),
        "userns-root" => "root of a user namespace".into(),
        uid => format!("uid {}", uid.trim_start_matches("uid")),
    }
}

/// The fewest dimensions whose values alone decide which class a column's outcome falls in.
fn deciding(settings: &[Setting], class_of: &[usize]) -> Vec<Dimension> {
    let decides = |dims: &[Dimension]| {
        let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        settings.iter().zip(class_of).all(|(s, &class)| {
            let key: Vec<String> = dims.iter().map(|&d| s.value(d)).collect();
            *seen.entry(key).or_insert(class) == class
        })
    };
    for d in DIMENSIONS {
        if decides(&[d]) {
            return vec![d];
        }
    }
    for (i, &a) in DIMENSIONS.iter().enumerate() {
        for &b in &DIMENSIONS[i + 1..] {
            if decides(&[a, b]) {
                return vec![a, b];
            }
        }
    }
    DIMENSIONS.to_vec()
}

/// The columns of one class described by the deciding dimensions' values: "uid 65534, root of
/// a user namespace" or "container as uid 65534".
fn describe_members(settings: &[Setting], members: &[usize], dims: &[Dimension], all: usize) -> String {
    if members.len() == all {
        return "every column".into();
    }
    let mut values: Vec<Vec<String>> = Vec::new();
    for &i in members {
        let v: Vec<String> = dims.iter().map(|&d| settings[i].value(d)).collect();
        if !values.contains(&v) {
            values.push(v);
        }
    }
    let word = |d: Dimension, v: &str| match d {
        Dimension::Privilege => privilege_words(v),
        Dimension::Emulator if v == "none" => "a kernel (no emulator)".into(),
        Dimension::Profile => format!("profile {v}"),
        _ => v.to_string(),
    };
    if dims.len() == 1 {
        return values.iter().map(|v| word(dims[0], &v[0])).collect::<Vec<_>>().join(", ");
    }
    values
        .iter()
        .map(|v| dims.iter().zip(v).map(|(&d, v)| word(d, v)).collect::<Vec<_>>().join(" with "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The sysctls whose values differ between the profiles of `columns`, narrowed to those the
/// claim's explanations or observations name when they name any.
fn deciding_sysctls(kernels: &[KernelColumn], claim: &str, columns: &[usize]) -> Vec<String> {
    let fingerprints: Vec<&Kernel> = columns.iter().filter_map(|&i| kernels[i].fingerprint.as_ref()).collect();
    let names: std::collections::BTreeSet<&String> = fingerprints.iter().flat_map(|f| f.sysctls.keys()).collect();
    let differing: Vec<&String> = names
        .into_iter()
        .filter(|n| fingerprints.windows(2).any(|w| w[0].sysctls.get(*n) != w[1].sysctls.get(*n)))
        .collect();
    let text: String = columns
        .iter()
        .map(|&i| {
            let k = &kernels[i];
            let obs = k.snapshot.claim(claim).map(|c| c.observation.to_string()).unwrap_or_default();
            format!("{} {obs}", k.explanations.get(claim).map_or("", String::as_str))
        })
        .collect();
    let named: Vec<&String> = differing
        .iter()
        .copied()
        .filter(|n| {
            let leaf = n.rsplit('.').next().unwrap_or(n);
            text.contains(n.as_str()) || text.contains(leaf) || text.contains(&leaf.replace('-', "_"))
        })
        .collect();
    let chosen = if named.is_empty() { differing } else { named };
    chosen
        .into_iter()
        .map(|n| {
            let mut values: Vec<String> = Vec::new();
            for &i in columns {
                if let Some(f) = &kernels[i].fingerprint {
                    let v = format!("{} {}", Setting::of(&kernels[i].id).profile, f.sysctls.get(n).map_or("—", |v| v));
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
            }
            format!("`{n}` ({})", values.join(", "))
        })
        .collect()
}

/// The first clause of an explanation, short enough for one line.
fn gist(text: &str) -> String {
    let text = text.trim();
    let cut = text.char_indices().nth(160).map_or(text.len(), |(i, _)| i);
    let gist = &text[..cut];
    let gist = gist.replace('|', "\\|").replace('`', "'");
    if cut < text.len() {
        format!("{gist}…")
    } else {
        gist
    }
}

/// For each column, the index of the class it falls in.
fn class_of(classes: &[(Option<&SnapClaim>, Vec<usize>)], columns: usize) -> Vec<usize> {
    let mut class_of = vec![0; columns];
    for (n, (_, members)) in classes.iter().enumerate() {
        for &i in members {
            class_of[i] = n;
        }
    }
    class_of
}

/// The columns of a group for one line: by the deciding dimensions' values when one or two
/// decide, else by id (a few) or by count.
fn name_group(kernels: &[KernelColumn], settings: &[Setting], members: &[usize], dims: &[Dimension]) -> String {
    if dims.len() <= 2 {
        return describe_members(settings, members, dims, kernels.len());
    }
    let ids: Vec<String> = members.iter().map(|&i| format!("`{}`", kernels[i].id)).collect();
    if ids.len() <= 4 {
        ids.join(", ")
    } else {
        format!("{} columns ({}, …)", ids.len(), ids[..3].join(", "))
    }
}

/// One line on a differing claim: what decides it and what each side did. Verdicts first (what
/// a reader weighs); a claim whose verdict is the same everywhere by its observations.
fn difference_line(kernels: &[KernelColumn], settings: &[Setting], row: &Row) -> String {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let by_verdict = row.verdicts_differ();
    for (cell, members) in row.classes() {
        let label = cell.map_or("not in the snapshot".to_string(), |c| c.verdict.to_string());
        match groups.iter_mut().find(|(l, _)| by_verdict && *l == label) {
            Some((_, m)) => m.extend(members),
            None => groups.push((label, members)),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
    let mut class_of = vec![0; settings.len()];
    for (n, (_, members)) in groups.iter().enumerate() {
        for &i in members {
            class_of[i] = n;
        }
    }
    let dims = deciding(settings, &class_of);
    let mut decided_by = dims.iter().map(|d| d.name()).collect::<Vec<_>>().join(" and ");
    if dims.contains(&Dimension::Profile) {
        let sysctls = deciding_sysctls(kernels, row.claim, &(0..kernels.len()).collect::<Vec<_>>());
        if !sysctls.is_empty() {
            decided_by = format!("{decided_by}: {}", sysctls.join(", "));
        }
    }
    let what = if by_verdict {
        String::new()
    } else {
        let keys = differing_keys(&row.classes());
        let named: Vec<String> = keys.iter().take(2).map(|k| format!("`{}`", k.replace('`', "'"))).collect();
        let more = if keys.len() > 2 { format!(" and {} more", keys.len() - 2) } else { String::new() };
        format!(" (observations differ: {}{more})", named.join(", "))
    };
    let sides: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(n, (label, members))| {
            let why =
                kernels[members[0]].explanations.get(row.claim).map(|e| format!(" ({})", gist(e))).unwrap_or_default();
            let on = match n {
                0 if groups.len() > 1 && members.len() > 3 => "every other column".to_string(),
                _ => name_group(kernels, settings, members, &dims),
            };
            format!("{label}{what} on {on}{why}")
        })
        .rev()
        .collect();
    format!("- [`{}`](#{}) — decided by **{decided_by}**: {}", row.claim, anchor(row.claim), sides.join("; "))
}

pub fn markdown(kernels: &[KernelColumn], all: bool) -> String {
    let rows = rows(kernels, all);
    let differing: Vec<&Row> = rows.iter().filter(|r| r.differs()).collect();
    let settings: Vec<Setting> = kernels.iter().map(|k| Setting::of(&k.id)).collect();
    let claims = kernels.iter().map(|k| k.snapshot.claims.len()).max().unwrap_or(0);
    let distinct = |f: fn(&Setting) -> String| {
        settings.iter().map(f).collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>()
    };
    let mut out = String::from("# Claims across kernels, privileges, profiles and an emulator\n\n");
    out += "Generated by `ci/kernel-matrix` (`ipc-conform matrix`) from the approved snapshots in this\n";
    out += "directory; do not edit. A column is a kernel run one way: `<kernel>[@<emulator>,<profile>,<privilege>]`\n";
    out += "(privilege: root, `uid65534`, `userns-root` = root of a user namespace made by uid 65534; profiles: the\n";
    out += "sysctl sets in `ci/profiles/`, `default` = as booted). Each column's own results are in `<column>/report.md`.\n\n";

    out += "## Summary\n\n";
    let _ = writeln!(
        out,
        "{} columns ({} kernels; privileges {}; profiles {}; emulators {}), {claims} claims. **{} claims differ** between them: {} in verdict, {} in observation only.\n",
        kernels.len(),
        distinct(|s| s.kernel.clone()).len(),
        distinct(|s| privilege_words(&s.privilege)).join(", "),
        distinct(|s| s.profile.clone()).join(", "),
        match distinct(|s| s.emulator.clone().unwrap_or_default()).into_iter().filter(|e| !e.is_empty()).collect::<Vec<_>>() {
            e if e.is_empty() => "none".to_string(),
            e => e.join(", "),
        },
        differing.len(),
        differing.iter().filter(|r| r.verdicts_differ()).count(),
        differing.iter().filter(|r| !r.verdicts_differ()).count(),
    );
    out += "| column | uname -v | privilege | holds | refuted | partial | skipped | error |\n|---|---|---|---|---|---|---|---|\n";
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
        out += "\nSysctls that differ between columns (they can decide verdicts), with the columns that have each value:\n\n";
        for name in differing_sysctls {
            let mut by_value: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for k in kernels {
                if let Some(f) = &k.fingerprint {
                    by_value.entry(f.sysctls.get(name).map_or("—", |v| v)).or_default().push(&k.id);
                }
            }
            let values: Vec<String> = by_value
                .iter()
                .map(|(v, ids)| {
                    let members: Vec<usize> = kernels
                        .iter()
                        .enumerate()
                        .filter(|(_, k)| ids.contains(&k.id.as_str()))
                        .map(|(i, _)| i)
                        .collect();
                    let class_of: Vec<usize> = (0..kernels.len()).map(|i| usize::from(members.contains(&i))).collect();
                    let dims = deciding(&settings, &class_of);
                    format!("`{v}` on {}", describe_members(&settings, &members, &dims, kernels.len()))
                })
                .collect();
            let _ = writeln!(out, "- `{name}`: {}", values.join("; "));
        }
    }

    if !differing.is_empty() {
        out += "\n## What decides each difference\n\n";
        out += "For each claim whose verdict or observation is not the same in every column: the fewest of\n";
        out += "privilege, profile (and the sysctls in it), emulator and kernel that decide it, and what each\n";
        out += "side did, with the first words of its explanation. Details per claim below.\n\n";
        let mut lines: Vec<(usize, String)> = differing
            .iter()
            .map(|row| {
                let line = difference_line(kernels, &settings, row);
                let order = DIMENSIONS
                    .iter()
                    .position(|d| line.contains(&format!("decided by **{}", d.name())))
                    .unwrap_or(DIMENSIONS.len());
                (order, line)
            })
            .collect();
        lines.sort_by_key(|(order, _)| *order);
        for (_, line) in lines {
            out += &line;
            out.push('\n');
        }
    }

    if all {
        out += "\n## Verdicts\n\n| claim | verdicts |\n|---|---|\n";
        for row in &rows {
            let classes = row.classes();
            let text: Vec<String> = classes
                .iter()
                .map(|(c, m)| {
                    format!(
                        "{} on {}",
                        c.map_or("—".to_string(), |c| c.verdict.to_string()),
                        describe_members(&settings, m, &DIMENSIONS, kernels.len())
                    )
                })
                .collect();
            let _ = writeln!(out, "| `{}` | {} |", row.claim, text.join("; "));
        }
    }

    if !differing.is_empty() {
        out += "\n## What each column did\n\nFor each claim that differs: the columns that behaved alike, their verdict, and the\nobservations whose values differ between them.\n";
    }
    for row in &differing {
        let _ = write!(out, "\n### {}\n\n", row.claim);
        let classes = row.classes();
        let keys = differing_keys(&classes);
        let dims = deciding(&settings, &class_of(&classes, kernels.len()));
        let on = |members: &[usize]| {
            let columns = members.iter().map(|&i| format!("`{}`", kernels[i].id)).collect::<Vec<_>>();
            let columns = if columns.len() > 6 { format!("{} columns", columns.len()) } else { columns.join(", ") };
            format!("{} ({columns})", describe_members(&settings, members, &dims, kernels.len()))
        };
        for (cell, members) in &classes {
            match cell {
                None => {
                    let _ = writeln!(out, "- **not in the snapshot** on {}", on(members));
                }
                Some(c) => {
                    let _ = writeln!(out, "- **{}** on {}", c.verdict, on(members));
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

/// Beside each approved snapshot, written by `matrix --per-column`.
pub const DIFFERENCES_FILE: &str = "differences.md";

/// The column `i` is compared with: the same kernel as root with the default profile and no
/// emulator; for that column itself, none (kernels are compared in MATRIX.md).
fn reference_column(kernels: &[KernelColumn], i: usize) -> Option<usize> {
    let own = Setting::of(&kernels[i].id);
    let plain =
        Setting { kernel: own.kernel.clone(), emulator: None, profile: "default".into(), privilege: "root".into() };
    (own != plain).then(|| kernels.iter().position(|k| Setting::of(&k.id) == plain)).flatten()
}

/// `<column>/differences.md`: each claim where column `i` differs from its reference column, in
/// one line (verdicts, and the explanation here).
pub fn column_differences(kernels: &[KernelColumn], i: usize) -> String {
    let column = &kernels[i];
    let mut out = format!(
        "# `{}`: how it differs\n\nGenerated by `ipc-conform matrix --per-column`; do not edit.\n\n",
        column.id
    );
    let Some(r) = reference_column(kernels, i) else {
        out += "This is a kernel as booted, run as root: the reference of its other columns. How kernels differ \
                from each other is in `../MATRIX.md`.\n";
        return out;
    };
    let reference = &kernels[r];
    let setting = Setting::of(&column.id);
    let _ = writeln!(
        out,
        "Compared with `{}` (the same kernel as root, as booted). This column: {}, profile {}{}.\n",
        reference.id,
        privilege_words(&setting.privilege),
        setting.profile,
        setting.emulator.as_deref().map(|e| format!(", under {e}")).unwrap_or_default()
    );
    let mut lines = Vec::new();
    for c in &column.snapshot.claims {
        let theirs = reference.snapshot.claim(&c.claim);
        if theirs == Some(c) {
            continue;
        }
        let why = column.explanations.get(&c.claim).map(|e| gist(e)).unwrap_or_default();
        let line = match theirs {
            Some(t) if t.verdict != c.verdict => {
                format!("- `{}`: **{}** here, {} there: {why}", c.claim, c.verdict, t.verdict)
            }
            Some(_) => format!("- `{}`: {} in both, other observations: {why}", c.claim, c.verdict),
            None => format!("- `{}`: {} here, not in the reference: {why}", c.claim, c.verdict),
        };
        lines.push(line);
    }
    if lines.is_empty() {
        out += "No claim differs.\n";
    } else {
        let _ = writeln!(out, "{} claim(s) differ:\n", lines.len());
        out += &lines.join("\n");
        out.push('\n');
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_id_says_how_the_kernel_was_run() {
        let s = Setting::of("6.12.107+deb13-amd64-x86_64@qemu-user-7.2,container,uid65534");
        assert_eq!(s.kernel, "6.12.107+deb13-amd64-x86_64");
        assert_eq!(s.emulator.as_deref(), Some("qemu-user-7.2"));
        assert_eq!((s.profile.as_str(), s.privilege.as_str()), ("container", "uid65534"));
        let plain = Setting::of("7.3-amd64-x86_64");
        assert_eq!((plain.profile.as_str(), plain.privilege.as_str(), plain.emulator), ("default", "root", None));
        assert_eq!(Setting::of("5.10.0-46-amd64-x86_64@userns-root").privilege, "userns-root");
    }

    fn grid() -> Vec<Setting> {
        let mut settings = Vec::new();
        for kernel in ["5.10-x86_64", "6.12-x86_64"] {
            for profile in ["", "container", "ptrace-admin-only"] {
                for privilege in ["", "uid65534", "userns-root"] {
                    let parts: Vec<&str> = [profile, privilege].into_iter().filter(|p| !p.is_empty()).collect();
                    let id =
                        if parts.is_empty() { kernel.to_string() } else { format!("{kernel}@{}", parts.join(",")) };
                    settings.push(Setting::of(&id));
                }
            }
        }
        settings
    }

    #[test]
    fn the_fewest_dimensions_that_decide_are_named() {
        let settings = grid();
        let by = |f: &dyn Fn(&Setting) -> bool| settings.iter().map(|s| usize::from(f(s))).collect::<Vec<_>>();
        assert_eq!(deciding(&settings, &by(&|s| s.privilege == "root")), vec![Dimension::Privilege]);
        assert_eq!(deciding(&settings, &by(&|s| s.profile == "container")), vec![Dimension::Profile]);
        assert_eq!(deciding(&settings, &by(&|s| s.kernel.starts_with("5.10"))), vec![Dimension::Kernel]);
        let both = by(&|s| s.privilege == "uid65534" && s.profile == "ptrace-admin-only");
        assert_eq!(deciding(&settings, &both), vec![Dimension::Privilege, Dimension::Profile]);
        let members: Vec<usize> = both.iter().enumerate().filter(|(_, &c)| c == 1).map(|(i, _)| i).collect();
        assert_eq!(
            describe_members(&settings, &members, &[Dimension::Privilege, Dimension::Profile], settings.len()),
            "uid 65534 with profile ptrace-admin-only"
        );
    }
}
