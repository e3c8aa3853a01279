//! The running kernel's build configuration, when it can be known, so a case that needs an option
//! the kernel was built without is `skipped` naming the option instead of failing in some way the
//! option explains. Sources, in order: `$IPC_CONFORM_KERNEL_CONFIG` (ci/vm puts the guest kernel's
//! `.config` there), `/boot/config-<release>`. Without one, every case runs.

use std::collections::BTreeMap;
use std::sync::OnceLock;

pub const ENV: &str = "IPC_CONFORM_KERNEL_CONFIG";

#[derive(Debug, Clone)]
pub struct KernelConfig {
    /// Where it was read from, for the skip reasons.
    pub source: String,
    options: BTreeMap<String, String>,
}

impl KernelConfig {
    pub fn parse(source: &str, text: &str) -> Self {
        let options = text
            .lines()
            .filter_map(|l| l.strip_prefix("CONFIG_")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        KernelConfig { source: source.to_string(), options }
    }

    /// Built in or as a module (a module may be loaded; a missing one is the case's to find).
    pub fn has(&self, option: &str) -> bool {
        matches!(self.options.get(option).map(String::as_str), Some("y" | "m"))
    }
}

/// This kernel's configuration, read once.
pub fn this_kernel() -> Option<&'static KernelConfig> {
    static CONFIG: OnceLock<Option<KernelConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let release = nix::sys::utsname::uname().ok()?.release().to_string_lossy().into_owned();
            let candidates = std::env::var(ENV).ok().into_iter().chain([format!("/boot/config-{release}")]);
            candidates.into_iter().find_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                Some(KernelConfig::parse(&path, &text))
            })
        })
        .as_ref()
}

/// Why a case that needs `needed` cannot run here: the options this kernel's configuration does
/// not set. None when all are set, or the configuration is unknown.
pub fn unmet(needed: &[&str]) -> Option<String> {
    let config = this_kernel()?;
    let unset: Vec<String> = needed.iter().filter(|o| !config.has(o)).map(|o| format!("CONFIG_{o}")).collect();
    (!unset.is_empty()).then(|| {
        format!("needs {}, which this kernel's configuration ({}) does not set", unset.join(", "), config.source)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_modules_count_unset_does_not() {
        let c = KernelConfig::parse("x", "CONFIG_SYSVIPC=y\nCONFIG_SCTP=m\n# CONFIG_POSIX_TIMERS is not set\n");
        assert!(c.has("SYSVIPC") && c.has("SCTP"));
        assert!(!c.has("POSIX_TIMERS") && !c.has("IPV6"));
    }
}
