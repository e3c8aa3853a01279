//! ipc-conform's engine. It knows claims, cases, worker processes, deadlines, journals and
//! reports; it knows nothing of pipes, queues or sockets. Those live in the `cases` crate.

pub mod case;
pub mod catalogue;
pub mod clean;
pub mod cli;
pub mod ctx;
pub mod files;
pub mod fingerprint;
pub mod gate;
pub mod journal;
pub mod kconfig;
pub mod matrix;
pub mod obs;
pub mod privilege;
pub mod proc;
pub mod report;
pub mod rundir;
pub mod runner;
pub mod site;
pub mod snapshot;
pub mod stop;
pub mod style;
pub mod verdict;
pub mod worker;

pub use case::{Case, Needs, Registry};
pub use ctx::{Ctx, Depth};
pub use verdict::{Decision, Verdict};
