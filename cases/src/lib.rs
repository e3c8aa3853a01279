//! The checks: one module per IPC mechanism. A case performs an experiment, records what the
//! kernel did, and decides the claims it names; the harness does everything else.

pub mod fifo;
pub mod mmap;
pub mod pipe;
pub mod signal;
pub mod socket;
pub mod sysv;
pub mod toolchain;
pub mod util;

use harness::cli::Embedded;
use harness::Registry;

/// Every case, by mechanism.
pub fn registry() -> Registry {
    Registry::new()
        .with(pipe::CASES)
        .with(pipe::popen::CASES)
        .with(fifo::CASES)
        .with(signal::CASES)
        .with(mmap::CASES)
        .with_kernel(&["SYSVIPC"], sysv::CASES)
        .with_kernel(&["SYSVIPC"], sysv::key::CASES)
        .with_kernel(&["SYSVIPC"], sysv::msg::CASES)
        .with_kernel(&["SYSVIPC"], sysv::sem::CASES)
        .with_kernel(&["SYSVIPC"], sysv::shm::CASES)
        .with(socket::order::CASES)
        .with_kernel(&["NET", "INET", "IPV6"], socket::addr::CASES)
        .with_kernel(&["NET", "INET", "UNIX"], socket::api::CASES)
        .with_kernel(&["NET", "INET"], socket::udp::CASES)
        .with_kernel(&["NET", "INET"], socket::tcp::CASES)
        .with_kernel(&["NET", "INET", "NET_NS", "NETDEVICES"], socket::broadcast::CASES)
        .with_kernel(&["NET", "INET", "NET_NS", "IP_MULTICAST", "NETDEVICES"], socket::multicast::CASES)
        .with_kernel(&["UTS_NS"], socket::hostname::CASES)
        .with_kernel(&["NET", "UNIX"], socket::unix::CASES)
        .with_kernel(&["NET", "INET", "NET_NS"], socket::netdb::CASES)
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
