//! Deviations a return value cannot express: the call is handed by a seccomp user notification
//! to a supervisor process outside the filter, which does it otherwise on the caller's behalf
//! (a FIFO read that ends early or comes back short, a blocking FIFO open that does not wait)
//! or lets the kernel go on with the call unchanged (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) when
//! it is not the kind the deviation bends. The caller waits killably while the supervisor works
//! (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`), so a signal cannot cut a read in half.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use seccompiler::BpfProgram;

/// What the supervisor does with a notified call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bend {
    /// read() on a named FIFO returns 0, as if every writer had gone.
    EarlyEof,
    /// read() on a named FIFO with data waiting returns at most this many bytes.
    ShortRead(usize),
    /// A blocking open(O_RDONLY) of a FIFO returns at once, as if a writer were there.
    OpenNoWait,
}

impl Bend {
    pub fn parse(name: &str, max: Option<usize>) -> Result<Bend, String> {
        match (name, max) {
            ("early-eof", None) => Ok(Bend::EarlyEof),
            ("short-read", Some(n)) if n > 0 => Ok(Bend::ShortRead(n)),
            ("open-no-wait", None) => Ok(Bend::OpenNoWait),
            _ => Err(format!("unknown notify {name:?} (early-eof, short-read with max > 0, open-no-wait)")),
        }
    }
}

/// Turns a filter built with `SeccompAction::Trace(0)` as its match action into one that
/// notifies the listener instead.
pub fn trace_to_notify(mut program: BpfProgram) -> BpfProgram {
    const RET_K: u16 = 0x06;
    for insn in &mut program {
        if insn.code == RET_K && insn.k & libc::SECCOMP_RET_ACTION_FULL == libc::SECCOMP_RET_TRACE {
            insn.k = libc::SECCOMP_RET_USER_NOTIF;
        }
    }
    program
}

/// Forks the supervisor (reparented away from the caller, so the caller's waits for its own
/// children never meet it), installs `program` in this process with a listener, and hands the
/// listener over. Afterwards this process may exec the program under the filter.
pub fn install_with_supervisor(program: &BpfProgram, bend: Bend) -> Result<(), String> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (here, there) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| format!("socketpair: {e}"))?;
    // SAFETY: single-threaded here; the children run only the code below.
    match unsafe { libc::fork() } {
        -1 => return Err(format!("fork: {}", Errno::last())),
        0 => {
            drop(here);
            // SAFETY: as above; the middle process exits at once so the supervisor is reparented.
            if unsafe { libc::fork() } != 0 {
                // SAFETY: leaving the middle process without running any destructor.
                unsafe { libc::_exit(0) };
            }
            let code = match receive_fd(&there) {
                Ok(listener) => {
                    supervise(&listener, bend);
                    0
                }
                Err(_) => 1,
            };
            // SAFETY: the supervisor ends here.
            unsafe { libc::_exit(code) };
        }
        middle => {
            drop(there);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(middle), None);
        }
    }
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut libc::sock_filter };
    let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    // SAFETY: fprog points at `program`, alive for the call.
    let listener = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &fprog) };
    if listener < 0 {
        return Err(format!("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): {}", Errno::last()));
    }
    // SAFETY: a new descriptor that this process owns.
    let listener = unsafe { OwnedFd::from_raw_fd(listener as RawFd) };
    send_fd(&here, &listener).map_err(|e| format!("handing the listener to the supervisor: {e}"))
}

fn send_fd(socket: &OwnedFd, fd: &OwnedFd) -> nix::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[std::io::IoSlice::new(b"l")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map(|_| ())
}

fn receive_fd(socket: &OwnedFd) -> Result<OwnedFd, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| e.to_string())?;
    for cmsg in msg.cmsgs().map_err(|e| e.to_string())? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: received with SCM_RIGHTS: ours now.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err("no descriptor received".into())
}

/// Serves notifications until every process under the filter has gone (the listener hangs up).
fn supervise(listener: &OwnedFd, bend: Bend) {
    // Signals meant for the caller's process group (kill(0, ...)) are not the supervisor's.
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::all()),
        None,
    );
    let listener_fd = listener.as_raw_fd();
    loop {
        let mut pfd = libc::pollfd { fd: listener_fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 && Errno::last() == Errno::EINTR {
            continue;
        }
        if n < 0 || pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            return;
        }
        // SAFETY: zeroed, as the kernel requires of the receive buffer.
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `notif`.
        if unsafe { libc::ioctl(listener_fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut notif) } != 0 {
            match Errno::last() {
                // The caller was killed before we took it, or a signal: go on.
                Errno::ENOENT | Errno::EINTR => continue,
                _ => return,
            }
        }
        // A blocking open may take a while on behalf of one caller: never hold up the others.
        std::thread::spawn(move || {
            let response = handle(listener_fd, &notif, bend);
            let mut resp = libc::seccomp_notif_resp { id: notif.id, val: 0, error: 0, flags: 0 };
            match response {
                Answer::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
                Answer::Value(v) => resp.val = v,
                Answer::Error(e) => resp.error = -(e as i32),
                Answer::Sent => return,
            }
            // SAFETY: SEND reads `resp`; an id that is gone (the caller died) gives ENOENT.
            unsafe { libc::ioctl(listener_fd, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &resp) };
        });
    }
}

enum Answer {
    /// Let the kernel do the call as asked.
    Continue,
    Value(i64),
    Error(Errno),
    /// Already answered (a descriptor installed with SECCOMP_ADDFD_FLAG_SEND).
    Sent,
}

fn handle(listener: RawFd, notif: &libc::seccomp_notif, bend: Bend) -> Answer {
    let pid = notif.pid as i32;
    let args = notif.data.args;
    match bend {
        Bend::EarlyEof | Bend::ShortRead(_) => {
            let fd = args[0] as i32;
            // An anonymous pipe links to "pipe:[inode]", a FIFO to its path.
            let named_fifo = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .is_ok_and(|target| target.is_absolute())
                && std::fs::metadata(format!("/proc/{pid}/fd/{fd}"))
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
            if !named_fifo {
                return Answer::Continue;
            }
            match bend {
                Bend::EarlyEof => Answer::Value(0),
                Bend::ShortRead(max) => short_read(pid, fd, args[1], args[2] as usize, max),
                Bend::OpenNoWait => unreachable!(),
            }
        }
        Bend::OpenNoWait => open_no_wait(listener, notif),
    }
}

/// The caller's descriptor, duplicated into this process.
fn their_fd(pid: i32, fd: i32) -> Option<OwnedFd> {
    let pidfd = harness::proc::pidfd_open(nix::unistd::Pid::from_raw(pid))?;
    // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags; it returns a new descriptor.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    // SAFETY: a non-negative return is a descriptor we now own.
    (got >= 0).then(|| unsafe { OwnedFd::from_raw_fd(got as RawFd) })
}

/// At most `max` of the bytes waiting, when more were asked for; otherwise the kernel's read.
fn short_read(pid: i32, fd: i32, buf: u64, count: usize, max: usize) -> Answer {
    if count <= max {
        return Answer::Continue;
    }
    let Some(ours) = their_fd(pid, fd) else { return Answer::Continue };
    let mut pfd = libc::pollfd { fd: ours.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, no wait.
    if unsafe { libc::poll(&mut pfd, 1, 0) } != 1 || pfd.revents & libc::POLLIN == 0 {
        return Answer::Continue;
    }
    let mut data = vec![0u8; max];
    let iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: max };
    // SAFETY: one iovec over `data`; RWF_NOWAIT so a reader that raced us cannot block this thread.
    let mut n = unsafe { libc::preadv2(ours.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT) };
    if n < 0 && Errno::last() == Errno::EOPNOTSUPP {
        // A FIFO opened by name takes no RWF_NOWAIT: data was waiting a moment ago, so a plain
        // read returns at once unless another reader took it first.
        // SAFETY: reads at most `max` bytes into `data`.
        n = unsafe { libc::read(ours.as_raw_fd(), data.as_mut_ptr().cast(), max) };
    }
    if n < 0 {
        return match Errno::last() {
            Errno::EAGAIN => Answer::Continue,
            e => Answer::Error(e),
        };
    }
    let n = n as usize;
    let local = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: n };
    let remote = libc::iovec { iov_base: buf as *mut libc::c_void, iov_len: n };
    // SAFETY: copies n bytes of `data` into the caller's buffer, which it passed for `count` bytes.
    if n > 0 && unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) } != n as isize {
        return Answer::Error(Errno::EFAULT);
    }
    Answer::Value(n as i64)
}

/// A path in the caller's memory, up to its NUL.
fn their_string(pid: i32, at: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    while out.len() < libc::PATH_MAX as usize {
        let local = libc::iovec { iov_base: chunk.as_mut_ptr().cast(), iov_len: chunk.len() };
        let remote = libc::iovec { iov_base: (at as usize + out.len()) as *mut libc::c_void, iov_len: chunk.len() };
        // SAFETY: reads at most chunk.len() bytes into `chunk`.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        if n <= 0 {
            return None;
        }
        let got = &chunk[..n as usize];
        if let Some(end) = got.iter().position(|&b| b == 0) {
            out.extend_from_slice(&got[..end]);
            return Some(out);
        }
        out.extend_from_slice(got);
    }
    None
}

/// The caller's fsuid and fsgid (the fourth field of Uid: and Gid: in /proc/<pid>/status).
fn their_fs_ids(pid: i32) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u32> {
        status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().nth(3)?.parse().ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

/// A blocking read open of a FIFO made without waiting (O_NONBLOCK, then cleared, so the caller
/// gets a blocking descriptor as from a kernel that does not wait), as the caller's fsuid/fsgid
/// and through its root, working directory or directory descriptor. Anything that is not a FIFO
/// is the kernel's to open.
fn open_no_wait(listener: RawFd, notif: &libc::seccomp_notif) -> Answer {
    let pid = notif.pid as i32;
    let args = notif.data.args;
    let (dirfd, flags) = (args[0] as i32, args[2] as i32);
    let Some(path) = their_string(pid, args[1]) else { return Answer::Continue };
    let through = if path.first() == Some(&b'/') {
        format!("/proc/{pid}/root")
    } else if dirfd == libc::AT_FDCWD {
        format!("/proc/{pid}/cwd/")
    } else {
        format!("/proc/{pid}/fd/{dirfd}/")
    };
    let mut full = through.into_bytes();
    full.extend_from_slice(&path);
    let Ok(full) = CString::new(full) else { return Answer::Continue };
    let Some((fsuid, fsgid)) = their_fs_ids(pid) else { return Answer::Continue };
    // SAFETY: setfsgid/setfsuid change this thread's file-system identity only (raw system
    // calls, not glibc's process-wide wrappers).
    unsafe {
        libc::syscall(libc::SYS_setfsgid, fsgid);
        libc::syscall(libc::SYS_setfsuid, fsuid);
    }
    // SAFETY: a zeroed stat filled by stat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: full is a C string; st is valid.
    if unsafe { libc::stat(full.as_ptr(), &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Answer::Continue;
    }
    // SAFETY: open of a C string.
    let fd = unsafe { libc::open(full.as_ptr(), flags | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if fd < 0 {
        return Answer::Error(Errno::last());
    }
    // SAFETY: ours.
    let ours = unsafe { OwnedFd::from_raw_fd(fd) };
    // The status flags belong to the open file, which the caller's copy shares.
    // SAFETY: F_SETFL on our descriptor.
    unsafe { libc::fcntl(ours.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK & !libc::O_ACCMODE) };
    let addfd = libc::seccomp_notif_addfd {
        id: notif.id,
        flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
        srcfd: ours.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: (flags & libc::O_CLOEXEC) as u32,
    };
    // SAFETY: ADDFD reads `addfd`; with SEND it also answers the call with the new number.
    if unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD as _, &addfd) } < 0 {
        return Answer::Error(Errno::last());
    }
    Answer::Sent
}
