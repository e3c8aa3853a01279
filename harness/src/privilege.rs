//! Privilege as a dimension: as root, claims about unprivileged users run in a child that drops to
//! the unprivileged uid/gid; without root, root-only variants are skipped, never passed.

use anyhow::Context as _;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

/// uid/gid 65534 (`nobody`/`nogroup` on Debian).
pub const NOBODY: u32 = 65534;

pub fn is_root() -> bool {
    Uid::effective().is_root()
}

/// Drops all privilege for good: supplementary groups, then gid, then uid. For a forked child.
pub fn drop_to(uid: u32, gid: u32) -> anyhow::Result<()> {
    setgroups(&[]).context("setgroups([])")?;
    setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid)).context("setresgid")?;
    setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid)).context("setresuid")?;
    Ok(())
}

/// Effective capabilities (CapEff of /proc/self/status), as hex.
pub fn effective_capabilities() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(|v| v.trim().to_string())
}
