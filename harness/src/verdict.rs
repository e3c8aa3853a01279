//! What a run concludes about a claim.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The kernel did what the note says.
    Holds,
    /// The kernel did otherwise: a documented result, not a failure.
    Refuted,
    /// Holds only in part or under a condition, which the explanation names.
    Partial,
    /// Could not be checked here (privilege, missing command, ...): the explanation says why.
    Skipped,
    /// The harness broke or timed out: no conclusion about the kernel.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 5] =
        [Verdict::Holds, Verdict::Refuted, Verdict::Partial, Verdict::Skipped, Verdict::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Refuted => "refuted",
            Verdict::Partial => "partial",
            Verdict::Skipped => "skipped",
            Verdict::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict with the one line a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub explanation: String,
}

impl Decision {
    pub fn new(verdict: Verdict, explanation: impl Into<String>) -> Self {
        Decision { verdict, explanation: explanation.into() }
    }

    pub fn holds(explanation: impl Into<String>) -> Self {
        Self::new(Verdict::Holds, explanation)
    }

    pub fn refuted(explanation: impl Into<String>) -> Self {
        Self::new(Verdict::Refuted, explanation)
    }

    pub fn partial(explanation: impl Into<String>) -> Self {
        Self::new(Verdict::Partial, explanation)
    }

    pub fn skipped(explanation: impl Into<String>) -> Self {
        Self::new(Verdict::Skipped, explanation)
    }

    pub fn error(explanation: impl Into<String>) -> Self {
        Self::new(Verdict::Error, explanation)
    }

    /// `holds` when `ok`, else `refuted`: the common two-way decision.
    pub fn from_check(ok: bool, if_holds: impl Into<String>, if_refuted: impl Into<String>) -> Self {
        if ok {
            Self::holds(if_holds)
        } else {
            Self::refuted(if_refuted)
        }
    }
}
