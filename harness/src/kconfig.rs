//! The running kernel's build configuration, when it can be known, so a case that needs an option
//! the kernel was built without is `skipped` naming the option instead of failing in some way the
//! option explains. Sources, in order: `$IPC_CONFORM_KERNEL_CONFIG` (ci/vm puts the guest kernel's
//! `.config` there), `/boot/config-<release>`. Without one, every case runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::case::{KernelModule, UnmetNeed};

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
pub fn unmet(needed: &[&str]) -> Option<UnmetNeed> {
    let config = this_kernel()?;
    let unset: Vec<String> = needed.iter().filter(|o| !config.has(o)).map(|o| format!("CONFIG_{o}")).collect();
    (!unset.is_empty()).then(|| UnmetNeed {
        what: unset.join(", "),
        why: format!("needs {}, which this kernel's configuration ({}) does not set", unset.join(", "), config.source),
    })
}

/// Why a case that needs `module` cannot run here, from what the kernel shows before the case
/// runs (never from the call under test, so a refusal of that call is not mistaken for a missing
/// module): the option unset in a known configuration; or neither built in nor loaded
/// (/sys/module/<name>) nor installed for loading on first use (/lib/modules/<release>).
pub fn module_unmet(module: &KernelModule) -> Option<UnmetNeed> {
    module_unmet_in(module, this_kernel(), Path::new("/sys/module"), &modules_dir())
}

fn modules_dir() -> PathBuf {
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    Path::new("/lib/modules").join(release)
}

fn module_unmet_in(
    module: &KernelModule,
    config: Option<&KernelConfig>,
    sys_module: &Path,
    modules_dir: &Path,
) -> Option<UnmetNeed> {
    let option = format!("CONFIG_{}", module.option);
    match config.map(|c| c.options.get(module.option).map(String::as_str)) {
        Some(Some("y")) => return None,
        Some(Some("m")) => {}
        Some(_) => {
            let source = config.map(|c| c.source.as_str()).unwrap_or_default();
            return Some(UnmetNeed {
                what: option.clone(),
                why: format!(
                    "needs {option} (the {} module), which this kernel's configuration ({source}) does not set",
                    module.name
                ),
            });
        }
        None => {}
    }
    if sys_module.join(module.name).is_dir() || installed(module.name, modules_dir) {
        return None;
    }
    Some(UnmetNeed {
        what: format!("module {}", module.name),
        why: format!(
            "needs the {} module ({option}), which is neither built in nor loaded (no {}) nor installed in {}",
            module.name,
            sys_module.join(module.name).display(),
            modules_dir.display()
        ),
    })
}

/// Whether modules.dep (what modprobe loads from) or modules.builtin lists `<name>.ko`.
fn installed(name: &str, modules_dir: &Path) -> bool {
    let file_names = [format!("/{name}.ko"), format!("/{}.ko", name.replace('_', "-"))];
    ["modules.dep", "modules.builtin"].iter().any(|list| {
        std::fs::read_to_string(modules_dir.join(list)).is_ok_and(|text| {
            text.lines().any(|l| {
                let path = l.split(':').next().unwrap_or_default();
                let path = path.trim_end_matches(".xz").trim_end_matches(".zst").trim_end_matches(".gz");
                file_names.iter().any(|f| path.ends_with(f.as_str()) || path == &f[1..])
            })
        })
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

    const SCTP: KernelModule = KernelModule { name: "sctp", option: "IP_SCTP" };

    fn unmet_with(config: Option<&str>, loaded: bool, dep_line: Option<&str>) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let (sys, lib) = (dir.path().join("sys"), dir.path().join("lib"));
        std::fs::create_dir_all(&lib).unwrap();
        if loaded {
            std::fs::create_dir_all(sys.join("sctp")).unwrap();
        }
        if let Some(line) = dep_line {
            std::fs::write(lib.join("modules.dep"), format!("{line}\n")).unwrap();
        }
        let config = config.map(|text| KernelConfig::parse("/kernel.config", text));
        module_unmet_in(&SCTP, config.as_ref(), &sys, &lib).map(|u| u.what)
    }

    #[test]
    fn a_module_is_met_built_in_loaded_or_installed() {
        assert_eq!(unmet_with(Some("CONFIG_IP_SCTP=y\n"), false, None), None);
        assert_eq!(unmet_with(Some("CONFIG_IP_SCTP=m\n"), true, None), None);
        assert_eq!(unmet_with(None, true, None), None);
        assert_eq!(unmet_with(None, false, Some("kernel/net/sctp/sctp.ko.xz: kernel/lib/libcrc32c.ko.xz")), None);
    }

    #[test]
    fn a_module_is_unmet_when_unset_or_nowhere() {
        assert_eq!(unmet_with(Some("# CONFIG_IP_SCTP is not set\n"), true, None).as_deref(), Some("CONFIG_IP_SCTP"));
        assert_eq!(unmet_with(Some("CONFIG_IP_SCTP=m\n"), false, None).as_deref(), Some("module sctp"));
        assert_eq!(
            unmet_with(None, false, Some("kernel/net/sctp/sctp_diag.ko: kernel/net/sctp/x.ko")).as_deref(),
            Some("module sctp")
        );
    }
}
