//! Facts of the C compiler and headers the suite was built with (see `cases/build.rs`): they are
//! library facts, the same under every kernel, so they are gathered where the suite is built.

include!(concat!(env!("OUT_DIR"), "/toolchain.rs"));

/// The standard output of `cases/toolchain/<name>.c`, or None when it did not compile or run.
pub fn probe(name: &str) -> Option<&'static str> {
    PROBES.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no toolchain probe {name}")).1
}

/// The path of a header in the target's multiarch include directory, as on a native Debian
/// system of the target: `arch_header("bits/socket.h")` is
/// `/usr/include/x86_64-linux-gnu/bits/socket.h` on x86_64.
pub fn arch_header(relative: &str) -> String {
    format!("/usr/include/{MULTIARCH}/{relative}")
}

/// The text of a header of `cases/toolchain/headers.list`, or None when it was not installed.
pub fn header(path: &str) -> Option<&'static str> {
    HEADERS.iter().find(|(h, _)| *h == path).unwrap_or_else(|| panic!("{path} is not in toolchain/headers.list")).1
}
