//! PID 1 of a kernel-matrix guest (booted by `ci/kernel-matrix` under QEMU).
//!
//! The kernel passes everything after `--` on its command line as our arguments: first our own
//! options (`--profiles A,B`, `--privileges root,uid65534,userns-root`, `--abis i386`), then the
//! suite's. An ABI is a second build of the suite for another program architecture the kernel
//! runs (`/ipc-conform-i386`, 32-bit x86 on x86_64: the compat system calls), run as root in the
//! default profile as one more column, named after it. We mount
//! what the suite needs, bring `lo` up, load the modules the initramfs carries for this kernel,
//! and for each profile (a set of sysctls, `/profiles/<name>.conf`) and each privilege run
//! `/ipc-conform run <args> -o FILE`, printing that file between a column's markers on the
//! console; then we power off. The host reads the console, so every failure here is printed with
//! the end marker too: a guest never hangs silently (and QEMU runs under a host timeout besides).

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

const END: &str = "===== ipc-conform results end";
const RESULTS: &str = "/tmp/ipc-conform-results.json";
const KERNEL_CONFIG: &str = "/kernel.config";
const NOBODY: u32 = 65534;

fn main() {
    let status = match run() {
        Ok(code) => code,
        Err(e) => {
            println!("guest-init: {e}");
            // The host treats a missing column as an error for this kernel.
            125
        }
    };
    println!("{END} status={status} =====");
    let _ = std::io::stdout().flush();
    nix::unistd::sync();
    let _ = reboot(RebootMode::RB_POWER_OFF);
}

/// Who runs the suite in a column.
#[derive(Clone, Copy, PartialEq)]
enum Privilege {
    Root,
    /// uid/gid 65534, no supplementary groups.
    Nobody,
    /// uid 65534 that made a user namespace of its own and is uid 0 there (`unshare -r`).
    UsernsRoot,
}

impl Privilege {
    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "root" => Ok(Privilege::Root),
            "uid65534" => Ok(Privilege::Nobody),
            "userns-root" => Ok(Privilege::UsernsRoot),
            other => Err(format!("unknown privilege {other:?} (root, uid65534, userns-root)")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Privilege::Root => "root",
            Privilege::Nobody => "uid65534",
            Privilege::UsernsRoot => "userns-root",
        }
    }
}

struct Plan {
    profiles: Vec<String>,
    privileges: Vec<Privilege>,
    abis: Vec<String>,
    suite_args: Vec<String>,
}

fn plan(mut args: Vec<String>) -> Result<Plan, String> {
    let mut plan = Plan {
        profiles: vec!["default".into()],
        privileges: vec![Privilege::Root],
        abis: Vec::new(),
        suite_args: Vec::new(),
    };
    loop {
        match args.first().map(String::as_str) {
            Some("--profiles") if args.len() > 1 => {
                plan.profiles = args[1].split(',').map(str::to_string).collect();
                args.drain(..2);
            }
            Some("--privileges") if args.len() > 1 => {
                plan.privileges = args[1].split(',').map(Privilege::parse).collect::<Result<_, _>>()?;
                args.drain(..2);
            }
            Some("--abis") if args.len() > 1 => {
                plan.abis = args[1].split(',').filter(|a| !a.is_empty()).map(str::to_string).collect();
                args.drain(..2);
            }
            _ => break,
        }
    }
    plan.suite_args = args;
    Ok(plan)
}

fn run() -> Result<i32, String> {
    mount_all()?;
    console_as_stdio();
    bring_lo_up().map_err(|e| format!("bringing lo up: {e}"))?;
    let _ = nix::unistd::sethostname("guest");

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        // ci/kernel-matrix's accelerator probe: reaching user space is all it asks.
        println!("guest-init: probe ok");
        return Ok(0);
    }
    let plan = plan(args)?;
    let release = kernel_release();
    load_modules(&release);
    let originals = profile_originals(&plan.profiles)?;
    let mut worst = 0;
    let mut column = |name: &str, suite: &str, profile: &str, privilege: Privilege, settings: &str| {
        eprintln!(
            "guest-init: kernel {release}, column {name} ({settings}), running {suite} run {}",
            plan.suite_args.join(" ")
        );
        let status = match run_column(suite, profile, privilege, &plan.suite_args) {
            Ok((status, results)) => {
                println!("===== ipc-conform column {name} begin =====");
                print!("{results}");
                if !results.ends_with('\n') {
                    println!();
                }
                println!("===== ipc-conform column {name} end status={status} =====");
                status
            }
            Err(e) => {
                println!("guest-init: column {name}: {e}");
                125
            }
        };
        worst = worst.max(status);
    };
    for profile in &plan.profiles {
        restore(&originals);
        let settings = apply_profile(profile)?;
        for &privilege in &plan.privileges {
            column(&format!("{profile},{}", privilege.name()), "/ipc-conform", profile, privilege, &settings);
        }
    }
    restore(&originals);
    for abi in &plan.abis {
        column(abi, &format!("/ipc-conform-{abi}"), "default", Privilege::Root, "as booted");
    }
    Ok(worst)
}

fn run_column(
    program: &str,
    profile: &str,
    privilege: Privilege,
    suite_args: &[String],
) -> Result<(i32, String), String> {
    let _ = std::fs::remove_file(RESULTS);
    let mut suite = Command::new(program);
    suite
        .arg("run")
        .args(suite_args)
        .args(["--format", "json", "-o", RESULTS])
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", if privilege == Privilege::Root { "/root" } else { "/nonexistent" })
        .env("TMPDIR", "/tmp");
    if profile != "default" {
        suite.env("IPC_CONFORM_PROFILE", profile);
    }
    // The kernel's configuration, when the initramfs carries it (ci/vm's /kernel.config, or the
    // matrix's /configs/<release>): cases that need an option the kernel lacks are then skipped
    // naming it.
    if let Some(config) = kernel_config() {
        suite.env("IPC_CONFORM_KERNEL_CONFIG", config);
    }
    if privilege != Privilege::Root {
        // Command drops the supplementary groups (setgroups(0)) before setgid/setuid.
        suite.uid(NOBODY).gid(NOBODY);
    }
    if privilege == Privilege::UsernsRoot {
        // SAFETY: runs in the forked child before exec, after the uid change; unshare, open and
        // write are async-signal-safe system calls.
        unsafe {
            suite.pre_exec(|| {
                // The uid change made us undumpable, which makes /proc/self root's: writing our
                // own maps needs it back.
                libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)?;
                std::fs::write("/proc/self/setgroups", "deny")?;
                std::fs::write("/proc/self/uid_map", format!("0 {NOBODY} 1"))?;
                std::fs::write("/proc/self/gid_map", format!("0 {NOBODY} 1"))?;
                Ok(())
            });
        }
    }
    let child = suite.spawn().map_err(|e| format!("starting {program} as {}: {e}", privilege.name()))?;
    let status = reap_until(Pid::from_raw(child.id() as i32));
    let results =
        std::fs::read_to_string(RESULTS).map_err(|e| format!("suite gave status {status}, reading {RESULTS}: {e}"))?;
    Ok((status, results))
}

fn kernel_config() -> Option<String> {
    let per_release = format!("/configs/{}", kernel_release());
    [KERNEL_CONFIG.to_string(), per_release].into_iter().find(|p| std::path::Path::new(p).is_file())
}

// --- Modules ---------------------------------------------------------------------------------------
// ci/lib/guest.sh puts, for each kernel it boots, the modules the suite's areas need (sctp and
// what it depends on) in /modules/<release>/, uncompressed, with `load-order` listing them
// dependencies first. A module that does not load is reported; the cases then observe its absence.

fn load_modules(release: &str) {
    let dir = format!("/modules/{release}");
    let Ok(order) = std::fs::read_to_string(format!("{dir}/load-order")) else { return };
    for name in order.split_whitespace() {
        let path = format!("{dir}/{name}");
        let loaded = std::fs::File::open(&path)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))
            .and_then(|f| {
                use std::os::fd::AsRawFd;
                // SAFETY: finit_module reads the module from the open descriptor; no parameters.
                let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), c"".as_ptr(), 0) };
                nix::errno::Errno::result(r).map(drop)
            });
        match loaded {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => eprintln!("guest-init: loaded module {name}"),
            Err(e) => eprintln!("guest-init: module {name} did not load: {e}"),
        }
    }
}

// --- Profiles --------------------------------------------------------------------------------------
// A profile is `/profiles/<name>.conf`: `key = value` lines of sysctls, `#` comments. `default`
// changes nothing. Before each profile every sysctl any profile names is put back as booted.

fn profile_settings(profile: &str) -> Result<Vec<(String, String)>, String> {
    if profile == "default" {
        return Ok(Vec::new());
    }
    let path = format!("/profiles/{profile}.conf");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("profile {profile}: reading {path}: {e}"))?;
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (key, value) = l.split_once('=').ok_or_else(|| format!("{path}: not `key = value`: {l}"))?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

fn profile_originals(profiles: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut originals = Vec::new();
    for profile in profiles {
        for (key, _) in profile_settings(profile)? {
            if let Ok(value) = std::fs::read_to_string(sysctl_path(&key)) {
                if !originals.iter().any(|(k, _)| *k == key) {
                    originals.push((key, value.trim().to_string()));
                }
            }
        }
    }
    Ok(originals)
}

fn restore(originals: &[(String, String)]) {
    for (key, value) in originals {
        let _ = std::fs::write(sysctl_path(key), value);
    }
}

/// Applies a profile; says what it set and what this kernel lacks ("kernel.yama.ptrace_scope
/// absent"). A setting the kernel refuses stops the guest: the column would not be the profile.
fn apply_profile(profile: &str) -> Result<String, String> {
    let mut said = Vec::new();
    for (key, value) in profile_settings(profile)? {
        let path = sysctl_path(&key);
        if !std::path::Path::new(&path).exists() {
            said.push(format!("{key} absent"));
            continue;
        }
        std::fs::write(&path, &value).map_err(|e| format!("profile {profile}: {key} = {value}: {e}"))?;
        said.push(format!("{key}={value}"));
    }
    Ok(if said.is_empty() { "as booted".into() } else { said.join(" ") })
}

/// As PID 1 we inherit every orphan: reap them all while waiting for the suite itself.
fn reap_until(suite: Pid) -> i32 {
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == suite => return code,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == suite => {
                return std::process::ExitStatus::from_raw(sig as i32).code().unwrap_or(128 + sig as i32)
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                eprintln!("guest-init: waitpid: {e}");
                return 125;
            }
        }
    }
}

fn mount_all() -> Result<(), String> {
    let mounts: [(&str, &str, &str, Option<&str>); 7] = [
        ("proc", "/proc", "proc", None),
        ("sysfs", "/sys", "sysfs", None),
        ("devtmpfs", "/dev", "devtmpfs", None),
        ("devpts", "/dev/pts", "devpts", Some("ptmxmode=0666,mode=0620")),
        ("tmpfs", "/dev/shm", "tmpfs", Some("mode=1777")),
        ("tmpfs", "/tmp", "tmpfs", Some("mode=1777")),
        ("tmpfs", "/run", "tmpfs", Some("mode=0755")),
    ];
    for (source, target, fstype, data) in mounts {
        std::fs::create_dir_all(target).map_err(|e| format!("mkdir {target}: {e}"))?;
        mount(Some(source), target, Some(fstype), MsFlags::MS_NOSUID, data)
            .map_err(|e| format!("mount {fstype} on {target}: {e}"))?;
    }
    Ok(())
}

/// The kernel starts us on /dev/console only when the initramfs has that node; devtmpfs has it.
fn console_as_stdio() {
    use std::os::fd::AsRawFd;
    if let Ok(console) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/console") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors; the console stays open through them.
            unsafe { libc::dup2(console.as_raw_fd(), fd) };
        }
    }
}

fn bring_lo_up() -> std::io::Result<()> {
    // SAFETY: plain socket(2); closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let result = set_lo_flags(fd);
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    result
}

fn set_lo_flags(fd: i32) -> std::io::Result<()> {
    // SAFETY: ifreq is plain old data; the ioctls read and write only it.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}
