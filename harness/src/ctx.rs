//! What a case sees: record observations, decide claims, make journaled resources, fork children,
//! and run property tests with the run's fixed seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde::{Deserialize, Serialize};

use crate::journal::{Event, EventLog, Resource};
use crate::verdict::{Decision, Verdict};

/// How hard property cases search: `quick` for every run and snapshot, `deep` for nightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Depth {
    #[default]
    Quick,
    Deep,
}

impl Depth {
    pub fn as_str(self) -> &'static str {
        match self {
            Depth::Quick => "quick",
            Depth::Deep => "deep",
        }
    }

    pub fn parse(s: &str) -> Option<Depth> {
        match s {
            "quick" => Some(Depth::Quick),
            "deep" => Some(Depth::Deep),
            _ => None,
        }
    }
}

/// The result of a property run: how many cases ran and, on failure, the shrunk counterexample.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyOutcome {
    pub cases: u32,
    pub seed: u64,
    pub counterexample: Option<String>,
    pub reason: Option<String>,
}

impl PropertyOutcome {
    pub fn passed(&self) -> bool {
        self.counterexample.is_none() && self.reason.is_none()
    }
}

/// The worker's journal, for use in a forked child (see [`Ctx::child_journal`]).
#[derive(Debug)]
pub struct ChildJournal {
    log: EventLog,
}

impl ChildJournal {
    pub fn created(&self, resource: Resource) {
        self.log.write(&Event::Created { resource });
    }

    /// As [`Ctx::create_journaled`], from a forked child.
    pub fn create_journaled<T, E>(
        &self,
        make: impl FnOnce() -> Result<T, E>,
        resource: impl FnOnce(&T) -> Resource,
    ) -> Result<T, E> {
        journal_creation(&self.log, make, resource)
    }
}

fn journal_creation<T, E>(
    log: &EventLog,
    make: impl FnOnce() -> Result<T, E>,
    resource: impl FnOnce(&T) -> Resource,
) -> Result<T, E> {
    log.write(&Event::Creating);
    let made = make();
    match &made {
        Ok(value) => log.write(&Event::Created { resource: resource(value) }),
        Err(_) => log.write(&Event::NotCreated),
    }
    made
}

pub struct Ctx {
    log: EventLog,
    claims: &'static [&'static str],
    workdir: PathBuf,
    depth: Depth,
    decided: BTreeMap<String, Verdict>,
    observed: std::collections::BTreeSet<String>,
    timeout: Duration,
}

impl Ctx {
    pub(crate) fn new(
        log: EventLog,
        claims: &'static [&'static str],
        workdir: PathBuf,
        depth: Depth,
        timeout: Duration,
    ) -> Self {
        Ctx { log, claims, workdir, depth, decided: BTreeMap::new(), observed: Default::default(), timeout }
    }

    /// Records a fact the kernel showed, as-is. Keys are shown in the report in recording order.
    /// A key recorded twice is a harness bug (the report would keep only the second value, and
    /// a verdict would stand beside an observation nobody sees), so it panics: the case ends in
    /// `error`.
    pub fn observe(&mut self, key: impl Into<String>, value: impl Serialize) {
        let key = key.into();
        assert!(self.observed.insert(key.clone()), "the case observed {key:?} twice: the first value would be lost");
        let value =
            serde_json::to_value(value).unwrap_or_else(|e| serde_json::Value::String(format!("<unserialisable: {e}>")));
        self.log.write(&Event::Observe { key, value });
    }

    /// Decides one of this case's claims.
    pub fn decide(&mut self, claim: &str, decision: Decision) {
        assert!(self.claims.contains(&claim), "case decided {claim}, which it does not name in its claims");
        self.decided.insert(claim.to_string(), decision.verdict);
        self.log.write(&Event::Decide {
            claim: claim.to_string(),
            verdict: decision.verdict,
            explanation: decision.explanation,
        });
    }

    /// `holds` if `ok`, else `refuted`.
    pub fn check(&mut self, claim: &str, ok: bool, if_holds: impl Into<String>, if_refuted: impl Into<String>) {
        self.decide(claim, Decision::from_check(ok, if_holds, if_refuted));
    }

    /// A directory of this worker's own, removed by the runner whatever happens.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// A path in the work directory. The runner removes the whole directory after the worker,
    /// however it ended, so nothing made here needs a journal entry; paths elsewhere do
    /// (`created(Resource::Path { .. })`).
    pub fn temp_path(&self, name: &str) -> PathBuf {
        self.workdir.join(name)
    }

    pub fn depth(&self) -> Depth {
        self.depth
    }

    /// A deadline for one wait inside the case: a quarter of the case's limit.
    pub fn wait_limit(&self) -> Duration {
        self.timeout / 4
    }

    pub fn created(&mut self, resource: Resource) {
        self.log.write(&Event::Created { resource });
    }

    /// Makes an object whose identity only the call's result gives (a System V id), journaling
    /// it so that a watchdog kill cannot fall between its birth and its journal line.
    pub fn create_journaled<T, E>(
        &mut self,
        make: impl FnOnce() -> Result<T, E>,
        resource: impl FnOnce(&T) -> Resource,
    ) -> Result<T, E> {
        journal_creation(&self.log, make, resource)
    }

    /// A journal a forked child may write to: what it creates is removed after the run even if
    /// child and worker are killed before the parent hears of it.
    pub fn child_journal(&self) -> anyhow::Result<ChildJournal> {
        Ok(ChildJournal { log: self.log.try_clone()? })
    }

    pub fn released(&mut self, resource: Resource) {
        self.log.write(&Event::Released { resource });
    }

    /// Forks a child (see [`crate::proc::spawn`]) and journals it, so it cannot outlive the run
    /// even if it leaves the worker's process group.
    pub fn spawn(&mut self, body: impl FnOnce() -> i32) -> anyhow::Result<crate::proc::Child> {
        let child = crate::proc::spawn(body)?;
        self.journal_process(child.raw_pid());
        Ok(child)
    }

    /// Journals a process another child forked (see [`crate::proc::Child::adopt`]), so it is
    /// killed even if it leaves the worker's process group or session.
    pub fn adopt(&mut self, pid: i32) -> crate::proc::Child {
        self.journal_process(pid);
        crate::proc::Child::adopt(pid)
    }

    /// Like [`Ctx::spawn`], for a child that reports a value back (see [`crate::proc::spawn_reporting`]).
    pub fn spawn_reporting<T: Serialize>(
        &mut self,
        body: impl FnOnce() -> T,
    ) -> anyhow::Result<crate::proc::Reporting<T>> {
        let mut child = crate::proc::spawn_reporting(body)?;
        self.journal_process(child.child().raw_pid());
        Ok(child)
    }

    /// Runs `body` in a child and returns its value and exit, within what is left of the case's time.
    pub fn in_child<T: Serialize + serde::de::DeserializeOwned>(
        &mut self,
        body: impl FnOnce() -> T,
    ) -> anyhow::Result<(Option<T>, crate::proc::Exit)> {
        // The child may wait several times itself: its report may take what is left of the case
        // (finish's waits are bounded by the case's deadline).
        self.spawn_reporting(body)?.finish(self.timeout)
    }

    /// Like [`Ctx::in_child`], as uid/gid 65534: the child drops root's privileges first; root
    /// of a user namespace of its own (which has no 65534) drops its capabilities instead; any
    /// other process runs the body as it is. A child that cannot drop them panics, so it reports
    /// no value rather than running privileged.
    pub fn in_child_as_nobody<T: Serialize + serde::de::DeserializeOwned>(
        &mut self,
        body: impl FnOnce() -> T,
    ) -> anyhow::Result<(Option<T>, crate::proc::Exit)> {
        self.in_child(|| {
            use crate::privilege::{drop_capabilities, drop_to, is_root, NOBODY};
            if is_root() {
                drop_to(NOBODY, NOBODY).expect("dropping to uid/gid 65534");
            } else if nix::unistd::Uid::effective().is_root() {
                drop_capabilities().expect("dropping the user namespace's capabilities");
            }
            body()
        })
    }

    /// Runs a property with the run's fixed seed: `quick` or `deep` case counts. A failure comes
    /// back shrunk, as the minimal counterexample proptest found.
    pub fn property<S>(
        &self,
        strategy: S,
        quick_cases: u32,
        deep_cases: u32,
        test: impl Fn(S::Value) -> Result<(), TestCaseError>,
    ) -> PropertyOutcome
    where
        S: Strategy,
        S::Value: std::fmt::Debug,
    {
        let cases = match self.depth {
            Depth::Quick => quick_cases,
            Depth::Deep => deep_cases,
        };
        let seed = match self.depth {
            Depth::Quick => 0x1bc_c0f0,
            Depth::Deep => 0xdee9_5eed,
        };
        let config = Config {
            cases,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(seed),
            max_shrink_iters: 256,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        match runner.run(&strategy, test) {
            Ok(()) => PropertyOutcome { cases, seed, counterexample: None, reason: None },
            Err(TestError::Fail(reason, value)) => PropertyOutcome {
                cases,
                seed,
                counterexample: Some(format!("{value:?}")),
                reason: Some(reason.to_string()),
            },
            Err(TestError::Abort(reason)) => {
                PropertyOutcome { cases, seed, counterexample: None, reason: Some(format!("aborted: {reason}")) }
            }
        }
    }

    /// Journals a child with its start time, so it cannot outlive the run even if it leaves the
    /// worker's process group, and a reused pid is never mistaken for it.
    fn journal_process(&mut self, pid: i32) {
        if let Some(start_time) = crate::proc::process_start_time(pid) {
            self.created(Resource::Process { pid, start_time });
        }
    }

    pub(crate) fn undecided(&self) -> Vec<&'static str> {
        self.claims.iter().copied().filter(|c| !self.decided.contains_key(*c)).collect()
    }

    pub(crate) fn log(&self) -> &EventLog {
        &self.log
    }
}
