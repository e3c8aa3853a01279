//! PID 1 of a kernel-matrix guest (booted by `ci/kernel-matrix` under QEMU).
//!
//! The kernel passes everything after `--` on its command line as our arguments: they are the
//! suite's. We mount what the suite needs, bring `lo` up, run `/ipc-conform run <args> -o FILE`,
//! print that file between the markers below on the console, and power off. The host reads the
//! console, so every failure here is printed with the end marker too: a guest never hangs silently
//! (and QEMU runs under a host timeout besides).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

const BEGIN: &str = "===== ipc-conform results begin =====";
const END: &str = "===== ipc-conform results end";
const RESULTS: &str = "/tmp/ipc-conform-results.json";
const KERNEL_CONFIG: &str = "/kernel.config";

fn main() {
    let status = match run() {
        Ok(code) => code,
        Err(e) => {
            println!("guest-init: {e}");
            // The host treats a missing begin marker as an error for this kernel.
            125
        }
    };
    println!("{END} status={status} =====");
    let _ = std::io::stdout().flush();
    nix::unistd::sync();
    let _ = reboot(RebootMode::RB_POWER_OFF);
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
    eprintln!("guest-init: kernel {}, running ipc-conform run {}", kernel_release(), args.join(" "));
    let mut suite = Command::new("/ipc-conform");
    suite
        .arg("run")
        .args(&args)
        .args(["--format", "json", "-o", RESULTS])
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", "/root")
        .env("TMPDIR", "/tmp");
    // ci/vm puts the kernel's configuration here when it knows it: cases that need an option the
    // kernel lacks are then skipped naming it.
    if std::path::Path::new(KERNEL_CONFIG).is_file() {
        suite.env("IPC_CONFORM_KERNEL_CONFIG", KERNEL_CONFIG);
    }
    let child = suite.spawn().map_err(|e| format!("starting /ipc-conform: {e}"))?;
    let status = reap_until(Pid::from_raw(child.id() as i32));
    let results =
        std::fs::read_to_string(RESULTS).map_err(|e| format!("suite gave status {status}, reading {RESULTS}: {e}"))?;
    println!("{BEGIN}");
    print!("{results}");
    if !results.ends_with('\n') {
        println!();
    }
    Ok(status)
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
