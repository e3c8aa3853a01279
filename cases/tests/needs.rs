//! Every kernel option a case declares (needs_kernel, with_kernel, needs_modules) is a "suite"
//! line of ci/kernel-options, which ci/vm checks a kernel against, and every "suite" line is
//! declared by some case: a need only one of them knows is how a kernel without it got a red
//! that was only a missing option. Every module a case needs is one the guests load
//! (ci/guest-modules), with the same option.

use std::collections::BTreeSet;
use std::path::Path;

fn workspace_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first two words of every non-comment line.
fn table(name: &str) -> Vec<(String, String)> {
    workspace_file(name)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut words = l.split_whitespace();
            (words.next().unwrap().to_string(), words.next().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn every_declared_kernel_option_is_checked_by_ci_vm_and_every_checked_one_is_declared() {
    let registry = cases::registry();
    let mut declared = BTreeSet::new();
    for case in registry.cases() {
        declared.extend(case.needs.kernel.iter().chain(case.needs.module_kernel).map(|o| o.to_string()));
        declared.extend(case.needs.modules.iter().map(|m| m.option.to_string()));
    }
    let listed: BTreeSet<String> =
        table("ci/kernel-options").into_iter().filter(|(_, kind)| kind == "suite").map(|(o, _)| o).collect();
    let undeclared: Vec<&String> = listed.difference(&declared).collect();
    let unlisted: Vec<&String> = declared.difference(&listed).collect();
    assert!(unlisted.is_empty(), "options cases need that ci/kernel-options does not list as suite: {unlisted:?}");
    assert!(undeclared.is_empty(), "suite options of ci/kernel-options no case declares: {undeclared:?}");
}

#[test]
fn every_module_a_case_needs_is_loaded_by_the_guests() {
    let guest: BTreeSet<(String, String)> = table("ci/guest-modules").into_iter().collect();
    for case in cases::registry().cases() {
        for m in case.needs.modules {
            assert!(
                guest.contains(&(m.name.to_string(), m.option.to_string())),
                "{}: needs module {} ({}), which ci/guest-modules does not list with that option",
                case.name,
                m.name,
                m.option
            );
        }
    }
}
