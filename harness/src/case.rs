//! Cases and the registry: what a check declares about itself (claims, needs, deadline).

use std::collections::BTreeSet;

use crate::catalogue::Catalogue;
use crate::ctx::Ctx;

/// A case performs one experiment and decides the claims it names.
pub type CaseFn = fn(&mut Ctx) -> anyhow::Result<()>;

/// What a case needs from the machine; a case whose needs are not met is `skipped` with the
/// reason, never run and never passed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// Effective uid 0, with the reason it matters.
    pub root: Option<&'static str>,
    /// Programs that must be on PATH.
    pub commands: &'static [&'static str],
    /// Kernel options (without `CONFIG_`) the case needs; checked when the kernel's configuration
    /// is known (see `kconfig`).
    pub kernel: &'static [&'static str],
    /// The same for every case of a module, from `Registry::with_kernel`.
    pub module_kernel: &'static [&'static str],
    /// Kernel modules the case needs, each with the option that builds it: met when built in,
    /// loaded, or installed where the kernel can load it on first use (see `kconfig::module_unmet`).
    pub modules: &'static [KernelModule],
}

/// A kernel module a case needs: its name (as in /sys/module) and the option that builds it.
#[derive(Debug, Clone, Copy)]
pub struct KernelModule {
    pub name: &'static str,
    pub option: &'static str,
}

/// A declared need this machine does not meet: `what` names it stably (`root`, `CONFIG_IP_SCTP`,
/// `module sctp`, `command ls`), for the snapshot and the gate; `why` is the sentence a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmetNeed {
    pub what: String,
    pub why: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Unique, `<module path>.<what it does>`: `sysv.msg.type_selection` is in
    /// `cases/src/sysv/msg.rs`.
    pub name: &'static str,
    pub claims: &'static [&'static str],
    pub run: CaseFn,
    pub needs: Needs,
    /// The watchdog kills the worker's process group after this long.
    pub timeout_ms: u64,
    /// Runs alone, after the parallel cases (system-wide limits, timing-sensitive experiments).
    pub exclusive: bool,
    /// Why this case may take longer than a second (`ci/bench` holds every other case to 1 s).
    pub stress: Option<&'static str>,
    /// Where the case is declared (its entry in the `CASES` table), for `explain` and the
    /// layout test.
    pub file: &'static str,
    pub line: u32,
}

pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

impl Case {
    #[track_caller]
    pub const fn new(name: &'static str, claims: &'static [&'static str], run: CaseFn) -> Self {
        let declared = std::panic::Location::caller();
        Case {
            name,
            claims,
            run,
            needs: Needs { root: None, commands: &[], kernel: &[], module_kernel: &[], modules: &[] },
            timeout_ms: DEFAULT_TIMEOUT_MS,
            exclusive: false,
            stress: None,
            file: declared.file(),
            line: declared.line(),
        }
    }

    pub const fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = ms;
        self
    }

    pub const fn needs_root(mut self, why: &'static str) -> Self {
        self.needs.root = Some(why);
        self
    }

    pub const fn needs_commands(mut self, commands: &'static [&'static str]) -> Self {
        self.needs.commands = commands;
        self
    }

    /// Kernel options the case needs (`&["POSIX_TIMERS"]`): without them it is skipped, naming them.
    pub const fn needs_kernel(mut self, options: &'static [&'static str]) -> Self {
        self.needs.kernel = options;
        self
    }

    /// Kernel modules the case needs (`&[KernelModule { name: "sctp", option: "IP_SCTP" }]`):
    /// without them it is skipped, naming them.
    pub const fn needs_modules(mut self, modules: &'static [KernelModule]) -> Self {
        self.needs.modules = modules;
        self
    }

    pub const fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// Marks a case allowed to take over a second, saying what it waits for.
    pub const fn stress(mut self, why: &'static str) -> Self {
        self.stress = Some(why);
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    cases: Vec<Case>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn with(mut self, cases: &[Case]) -> Self {
        self.cases.extend_from_slice(cases);
        self
    }

    /// Adds cases that all need these kernel options (`&["SYSVIPC"]` for the SysV modules).
    pub fn with_kernel(mut self, options: &'static [&'static str], cases: &[Case]) -> Self {
        self.cases.extend(cases.iter().map(|c| {
            let mut c = *c;
            c.needs.module_kernel = options;
            c
        }));
        self
    }

    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    pub fn case(&self, name: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.name == name)
    }

    /// The cases that decide `claim`.
    pub fn cases_for<'a>(&'a self, claim: &'a str) -> impl Iterator<Item = &'a Case> + 'a {
        self.cases.iter().filter(move |c| c.claims.contains(&claim))
    }

    /// Every claim has a case, every case's claims exist, names are unique.
    pub fn check_against(&self, catalogue: &Catalogue) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        for case in &self.cases {
            if !names.insert(case.name) {
                problems.push(format!("case {}: duplicate case name", case.name));
            }
            if case.claims.is_empty() {
                problems.push(format!("case {}: names no claim", case.name));
            }
            for claim in case.claims {
                if catalogue.claim(claim).is_none() {
                    problems.push(format!("case {}: claim {claim} is not in the catalogue", case.name));
                }
            }
        }
        for claim in &catalogue.claims {
            if self.cases_for(&claim.id).next().is_none() {
                problems.push(format!("claim {}: no case checks it", claim.id));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}
