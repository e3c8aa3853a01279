//! What kernel and machine a run observed: the identity of a snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::FingerprintSpec;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    pub release: String,
    pub arch: String,
    pub version: String,
    /// `<release>-<arch>`: the name of the kernel's snapshot directory.
    pub id: String,
    pub euid: u32,
    pub cap_eff: Option<String>,
    pub page_size: u64,
    /// sysctl name -> value (or "unavailable").
    pub sysctls: BTreeMap<String, String>,
}

pub fn sysctl(name: &str) -> Option<String> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path).ok().map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub fn probe(spec: &FingerprintSpec) -> Kernel {
    let uts = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uts.as_ref().map(|u| f(u).to_string_lossy().into_owned()).unwrap_or_else(|| "unknown".into())
    };
    let release = field(|u| u.release());
    let arch = field(|u| u.machine());
    let sysctls =
        spec.sysctls.iter().map(|name| (name.clone(), sysctl(name).unwrap_or_else(|| "unavailable".into()))).collect();
    Kernel {
        id: format!("{release}-{arch}"),
        version: field(|u| u.version()),
        release,
        arch,
        euid: nix::unistd::Uid::effective().as_raw(),
        cap_eff: crate::privilege::effective_capabilities(),
        // SAFETY: sysconf has no memory effects.
        page_size: unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64,
        sysctls,
    }
}
