//! The checks: one module per IPC mechanism. A case performs an experiment, records what the
//! kernel did, and decides the claims it names; the harness does everything else.

pub mod fifo;
pub mod inetaddr;
pub mod mmap;
pub mod msgqueue;
pub mod net;
pub mod netdb;
pub mod netns;
pub mod netorder;
pub mod pipe;
pub mod popen;
pub mod semaphore;
pub mod shmem;
pub mod signal;
pub mod sockapi;
pub mod sys;
pub mod sysv;
pub mod tcp;
pub mod toolchain;
pub mod udp;
pub mod unixsock;
pub mod util;

use harness::cli::Embedded;
use harness::Registry;

/// Every case, by mechanism.
pub fn registry() -> Registry {
    Registry::new()
        .with(pipe::CASES)
        .with(popen::CASES)
        .with(fifo::CASES)
        .with(signal::CASES)
        .with(mmap::CASES)
        .with(sysv::CASES)
        .with(msgqueue::CASES)
        .with(semaphore::CASES)
        .with(shmem::CASES)
        .with(netorder::CASES)
        .with(inetaddr::CASES)
        .with(sockapi::CASES)
        .with(udp::CASES)
        .with(tcp::CASES)
        .with(netns::CASES)
        .with(unixsock::CASES)
        .with(netdb::CASES)
}

/// The catalogue and the notes, compiled in so the binary is complete on its own.
pub const EMBEDDED: Embedded = Embedded {
    catalogue: include_str!("../../fixtures/claims.toml"),
    notes: &[
        ("000_15ac0d1b88005bc4.txt", include_str!("../../fixtures/notes/000_15ac0d1b88005bc4.txt")),
        ("001_6b4205e630d55caa.txt", include_str!("../../fixtures/notes/001_6b4205e630d55caa.txt")),
        ("002_d152cd24abf68284.txt", include_str!("../../fixtures/notes/002_d152cd24abf68284.txt")),
        ("003_85e53047331d6126.txt", include_str!("../../fixtures/notes/003_85e53047331d6126.txt")),
        ("004_e097bafd742a43f3.txt", include_str!("../../fixtures/notes/004_e097bafd742a43f3.txt")),
    ],
};
