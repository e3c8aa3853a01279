//! What kernel and machine a run observed: the identity of a snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::FingerprintSpec;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    pub release: String,
    pub arch: String,
    pub version: String,
    /// The column: `<release>-<arch>`, then after `@` what else decides behaviour (see
    /// [`column_id`]). The name of the snapshot directory.
    pub id: String,
    /// Who ran the suite: `root`, `uid <n>`, or `root of a user namespace`.
    #[serde(default)]
    pub privilege: String,
    /// The sysctl profile the machine was set to ($IPC_CONFORM_PROFILE); none means as booted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The emulator the suite ran under ($IPC_CONFORM_EMULATOR, say `qemu-user-7.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
    /// The program's architecture when it is not the machine's (`i386` on x86_64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<String>,
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

/// Names the sysctl profile a run was made under (set by whoever applied it, as `ci/` does).
pub const ENV_PROFILE: &str = "IPC_CONFORM_PROFILE";
/// Names the emulator a run is made under (a Linux ABI that is not a Linux kernel).
pub const ENV_EMULATOR: &str = "IPC_CONFORM_EMULATOR";

/// The privilege part of a column: none for root of the initial user namespace.
fn privilege_part(euid: u32, initial_namespace: bool) -> (String, Option<String>) {
    match (euid, initial_namespace) {
        (0, true) => ("root".into(), None),
        (0, false) => ("root of a user namespace".into(), Some("userns-root".into())),
        (uid, _) => (format!("uid {uid}"), Some(format!("uid{uid}"))),
    }
}

/// The program's own architecture, when it is not the machine's: a 32-bit x86 build on an x86_64
/// kernel goes through the compat system calls, another column (`i386`, Debian's name for it).
pub fn program_abi(machine: &str) -> Option<&'static str> {
    let machine_family = match machine {
        "i386" | "i486" | "i586" | "i686" => "x86",
        "ppc64le" | "ppc64" => "powerpc64",
        "armv7l" | "armv8l" => "arm",
        other => other,
    };
    let program = std::env::consts::ARCH;
    (program != machine_family).then_some(match program {
        "x86" => "i386",
        "arm" => "armhf",
        other => other,
    })
}

/// `<kernel>` for root on a kernel as booted; otherwise `<kernel>@<parts>`, the parts (program
/// ABI, emulator, profile, privilege, in that order) joined by `,`:
/// `6.12.107+deb13-amd64-x86_64@container,uid65534`, `7.2.13+deb14-amd64-x86_64@i386`.
pub fn column_id(
    kernel: &str,
    abi: Option<&str>,
    emulator: Option<&str>,
    profile: Option<&str>,
    privilege: Option<&str>,
) -> String {
    let parts: Vec<&str> = [abi, emulator, profile, privilege].into_iter().flatten().collect();
    if parts.is_empty() {
        kernel.to_string()
    } else {
        format!("{kernel}@{}", parts.join(","))
    }
}

/// A column id split into its kernel and the part after `@` (empty for a plain kernel).
pub fn split_column(id: &str) -> (&str, &str) {
    id.split_once('@').unwrap_or((id, ""))
}

fn named_by(var: &str) -> Option<String> {
    std::env::var(var).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty() && v != "default")
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
    let euid = nix::unistd::Uid::effective().as_raw();
    let (privilege, privilege_part) = privilege_part(euid, crate::privilege::in_initial_user_namespace());
    let (profile, emulator) = (named_by(ENV_PROFILE), named_by(ENV_EMULATOR));
    let abi = program_abi(&arch);
    Kernel {
        id: column_id(
            &format!("{release}-{arch}"),
            abi,
            emulator.as_deref(),
            profile.as_deref(),
            privilege_part.as_deref(),
        ),
        privilege,
        profile,
        emulator,
        abi: abi.map(str::to_string),
        version: field(|u| u.version()),
        release,
        arch,
        euid,
        cap_eff: crate::privilege::effective_capabilities(),
        // SAFETY: sysconf has no memory effects.
        page_size: unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64,
        sysctls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_root_run_keeps_the_kernel_id() {
        assert_eq!(column_id("6.1.0-56-amd64-x86_64", None, None, None, None), "6.1.0-56-amd64-x86_64");
    }

    #[test]
    fn the_parts_come_in_a_fixed_order_after_the_kernel() {
        let id =
            column_id("6.12.107+deb13-amd64-x86_64", None, Some("qemu-user-7.2"), Some("container"), Some("uid65534"));
        assert_eq!(id, "6.12.107+deb13-amd64-x86_64@qemu-user-7.2,container,uid65534");
        assert_eq!(split_column(&id), ("6.12.107+deb13-amd64-x86_64", "qemu-user-7.2,container,uid65534"));
        assert_eq!(split_column("7.3-amd64-x86_64"), ("7.3-amd64-x86_64", ""));
    }

    #[test]
    fn a_program_of_another_abi_is_a_column_of_its_own() {
        assert_eq!(
            column_id("7.2.13+deb14-amd64-x86_64", Some("i386"), None, None, None),
            "7.2.13+deb14-amd64-x86_64@i386"
        );
        // This test program is built for the machine it runs on.
        let machine = nix::sys::utsname::uname().unwrap().machine().to_string_lossy().into_owned();
        assert_eq!(program_abi(&machine), None);
    }

    #[test]
    fn privilege_is_part_of_the_column_unless_root() {
        assert_eq!(privilege_part(0, true), ("root".into(), None));
        assert_eq!(privilege_part(65534, true).1.as_deref(), Some("uid65534"));
        assert_eq!(privilege_part(0, false).1.as_deref(), Some("userns-root"));
    }
}
