//! Privilege as a dimension: as root, claims about unprivileged users run in a child that drops to
//! the unprivileged uid/gid; without root, root-only variants are skipped, never passed.

use anyhow::Context as _;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

/// uid/gid 65534 (`nobody`/`nogroup` on Debian).
pub const NOBODY: u32 = 65534;

/// Root of the initial user namespace. Root of a user namespace of its own (`unshare -r`) owns
/// nothing outside it (System V objects, ports, raw sockets are the initial namespace's) and has
/// no uid 65534 to drop to: for the suite it is an unprivileged user.
pub fn is_root() -> bool {
    Uid::effective().is_root() && in_initial_user_namespace()
}

/// The initial user namespace maps every id to itself: "0 0 4294967295".
pub fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(true)
}

/// Who runs the suite, as a skip reason says it.
pub fn describe_user() -> String {
    match (Uid::effective().as_raw(), in_initial_user_namespace()) {
        (0, false) => "uid 0 of a user namespace, not the initial one".into(),
        (uid, _) => format!("uid {uid}"),
    }
}

/// Drops all privilege for good: supplementary groups, then gid, then uid. For a forked child.
pub fn drop_to(uid: u32, gid: u32) -> anyhow::Result<()> {
    setgroups(&[]).context("setgroups([])")?;
    setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid)).context("setresgid")?;
    setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid)).context("setresuid")?;
    Ok(())
}

/// Clears the effective, permitted and inheritable capability sets (for root of a user namespace,
/// whose uid 0 is all it has); for a forked child.
pub fn drop_capabilities() -> anyhow::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: capset reads a v3 header and two data structs, as laid out above.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    nix::errno::Errno::result(r).context("capset(0)")?;
    Ok(())
}

/// Effective capabilities (CapEff of /proc/self/status), as hex.
pub fn effective_capabilities() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(|v| v.trim().to_string())
}
