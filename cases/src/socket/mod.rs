//! Socket helpers shared by the socket cases: loopback-only endpoints and raw views of what the
//! kernel returns. Every address used here is in 127.0.0.0/8 or ::1.

pub mod addr;
pub mod api;
pub mod broadcast;
pub mod hostname;
pub mod multicast;
pub mod netdb;
pub mod netns;
pub mod order;
pub mod tcp;
pub mod udp;
pub mod unix;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

pub const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

/// A "nothing arrived" check: how long to wait before concluding so.
pub const NOT_RECEIVED_WITHIN: std::time::Duration = std::time::Duration::from_millis(50);

/// socket(2) with CLOEXEC.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: socket takes integers and returns a new descriptor or -1.
    let fd = Errno::result(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An IPv4 socket address, port in host order.
pub fn sockaddr_v4(ip: [u8; 4], port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(ip) },
        sin_zero: [0; 8],
    }
}

/// bind(2) to an IPv4 address.
pub fn bind_v4(fd: &impl AsRawFd, ip: [u8; 4], port: u16) -> Result<(), Errno> {
    let sa = sockaddr_v4(ip, port);
    // SAFETY: sa is a valid sockaddr_in of the length given.
    Errno::result(unsafe {
        libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as u32)
    })
    .map(drop)
}

/// connect(2) to an IPv4 address.
pub fn connect_v4(fd: &impl AsRawFd, ip: [u8; 4], port: u16) -> Result<(), Errno> {
    let sa = sockaddr_v4(ip, port);
    // SAFETY: sa is a valid sockaddr_in of the length given.
    Errno::result(unsafe {
        libc::connect(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as u32)
    })
    .map(drop)
}

/// getsockname(2) as the raw bytes the kernel wrote (up to `room`) and the length it reported.
pub fn name_bytes(fd: &impl AsRawFd, room: usize) -> Result<(Vec<u8>, usize), Errno> {
    let mut buf = vec![0u8; room.max(1)];
    let mut len = room as libc::socklen_t;
    // SAFETY: buf has room bytes; len says so.
    Errno::result(unsafe { libc::getsockname(fd.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) })?;
    buf.truncate(room);
    Ok((buf, len as usize))
}

/// The local port of a bound IPv4 or IPv6 socket, host order.
pub fn local_port(fd: &impl AsRawFd) -> Result<u16, Errno> {
    let (bytes, _) = name_bytes(fd, 128)?;
    Ok(u16::from_be_bytes([bytes[2], bytes[3]]))
}

/// getsockopt(2) of an int option.
pub fn int_option(fd: &impl AsRawFd, level: i32, name: i32) -> Result<i32, Errno> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value is an int and len says so.
    Errno::result(unsafe {
        libc::getsockopt(fd.as_raw_fd(), level, name, (&mut value as *mut libc::c_int).cast(), &mut len)
    })?;
    Ok(value)
}

/// A connected TCP pair on 127.0.0.1: (client, the accepted socket, the listener).
pub fn tcp_pair() -> Result<(OwnedFd, OwnedFd, OwnedFd), Errno> {
    let listener = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    bind_v4(&listener, LOOPBACK, 0)?;
    // SAFETY: listen takes integers.
    Errno::result(unsafe { libc::listen(listener.as_raw_fd(), 8) })?;
    let client = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    connect_v4(&client, LOOPBACK, local_port(&listener)?)?;
    let accepted = accept(&listener)?;
    Ok((client, accepted, listener))
}

/// accept4(2) with CLOEXEC, not asking for the address.
pub fn accept(listener: &impl AsRawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: null address pointers mean "not wanted".
    let fd = Errno::result(unsafe {
        libc::accept4(listener.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
    })?;
    // SAFETY: a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// send(2); the raw return value.
pub fn send(fd: &impl AsRawFd, data: &[u8], flags: i32) -> Result<usize, Errno> {
    // SAFETY: data is valid for its length.
    Errno::result(unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), flags) }).map(|n| n as usize)
}

/// recv(2) into room for `max` bytes; what arrived.
pub fn recv(fd: &impl AsRawFd, max: usize, flags: i32) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; max];
    // SAFETY: buf has max bytes.
    let n = Errno::result(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), max, flags) })?;
    buf.truncate(n as usize);
    Ok(buf)
}

// arpa/inet.h, which the libc crate does not bind for Linux.
extern "C" {
    pub fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
    pub fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
    pub fn inet_addr(cp: *const libc::c_char) -> libc::in_addr_t;
    pub fn inet_ntoa(addr: libc::in_addr) -> *mut libc::c_char;
}

/// inet_pton: its return value, the errno when it is -1, and the 16 bytes it may have written.
pub fn pton(af: i32, text: &str) -> (i32, Option<Errno>, [u8; 16]) {
    let c = std::ffi::CString::new(text).unwrap_or_default();
    let mut dst = [0u8; 16];
    // SAFETY: c is NUL-terminated and dst has room for an in6_addr.
    let r = unsafe { inet_pton(af, c.as_ptr(), dst.as_mut_ptr().cast()) };
    (r, (r == -1).then(Errno::last), dst)
}

/// inet_ntop into a buffer of `size` bytes: the text and whether the pointer returned was the
/// buffer, or the errno of a null return.
pub fn ntop(af: i32, src: &[u8], size: usize) -> Result<(String, bool), Errno> {
    let mut input = [0u8; 16];
    input[..src.len().min(16)].copy_from_slice(&src[..src.len().min(16)]);
    let mut dst = vec![0 as libc::c_char; size.max(1)];
    // SAFETY: input holds 16 bytes (enough for either family) and dst has size bytes.
    let r = unsafe { inet_ntop(af, input.as_ptr().cast(), dst.as_mut_ptr(), size as libc::socklen_t) };
    if r.is_null() {
        return Err(Errno::last());
    }
    // SAFETY: on success dst holds a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(dst.as_ptr()) }.to_string_lossy().into_owned();
    Ok((text, r == dst.as_ptr()))
}

/// A `#define NAME value` from a system header, if the header was installed at build time.
pub fn header_define(header: &str, name: &str) -> Option<i64> {
    let text = crate::toolchain::header(header)?;
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("#define") && w.next() == Some(name)).then(|| w.next()?.parse().ok()).flatten()
    })
}

/// Bytes sent on a stream socket and not yet acknowledged by the peer (SIOCOUTQ).
pub fn unacked(fd: &impl AsRawFd) -> Result<i32, Errno> {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes an int.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut n) })?;
    Ok(n)
}

/// Bytes queued on a stream socket that were never sent (SIOCOUTQNSD).
pub fn unsent(fd: &impl AsRawFd) -> Result<i32, Errno> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQNSD writes an int.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCOUTQNSD, &mut n) })?;
    Ok(n)
}

/// More than any loopback socket buffer: a sender that takes this much never fills.
const NEVER_FULL_BYTES: usize = 256 << 20;

/// Fills a non-blocking TCP sender whose peer does not read until the kernel shows that it is
/// full and stays so: nothing in flight (every byte sent was acknowledged, SIOCOUTQ equals
/// SIOCOUTQNSD), bytes still waiting to be sent (the peer's window is closed), and a top-up after
/// that takes nothing. One EAGAIN alone proves little: acknowledgements still in flight and the
/// send buffer's growth free room afterwards, and on a slow or one-CPU machine they arrive late.
/// Returns the bytes taken, or what the kernel showed instead of a full, stable queue.
pub fn fill_until_window_closed(
    sender: &(impl std::os::fd::AsFd + AsRawFd),
    within: std::time::Duration,
) -> Result<usize, String> {
    let deadline = std::time::Instant::now() + within;
    // Without these counters (qemu-user 7.2 has no SIOCOUTQNSD: ENOSYS) fullness cannot be shown.
    if let Err(e) = unacked(sender).and_then(|_| unsent(sender)) {
        return Err(format!(
            "the socket's queue cannot be read (SIOCOUTQ/SIOCOUTQNSD: {e}), so it cannot be shown full"
        ));
    }
    let mut taken = 0;
    let mut topped_up = false;
    loop {
        let added = crate::util::fill_nonblocking(sender, 65536).map_err(|e| format!("{e:#}"))?;
        taken += added;
        if taken > NEVER_FULL_BYTES {
            return Err(format!("took {taken} bytes without EAGAIN"));
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let settled =
            crate::util::wait_until(left, || matches!((unacked(sender), unsent(sender)), (Ok(q), Ok(u)) if q == u));
        if !settled {
            let (q, u) = (unacked(sender), unsent(sender));
            return Err(format!("bytes still in flight after {within:?} (SIOCOUTQ {q:?}, SIOCOUTQNSD {u:?})"));
        }
        if topped_up && added == 0 && unsent(sender).is_ok_and(|u| u > 0) {
            return Ok(taken);
        }
        topped_up = true;
        if std::time::Instant::now() >= deadline {
            return Err(format!("not full and stable within {within:?} (took {taken} bytes)"));
        }
    }
}

/// A socket of `ty` bound to 127.0.0.1 on a port the kernel picks.
pub fn bound_v4(ty: i32) -> Result<OwnedFd, Errno> {
    let s = socket(libc::AF_INET, ty, 0)?;
    bind_v4(&s, LOOPBACK, 0)?;
    Ok(s)
}

/// listen(2).
pub fn listen(fd: &impl AsRawFd, backlog: i32) -> Result<(), Errno> {
    // SAFETY: listen takes integers.
    Errno::result(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// A TCP listener on 127.0.0.1 with the given backlog.
pub fn tcp_listener(backlog: i32) -> Result<OwnedFd, Errno> {
    let s = bound_v4(libc::SOCK_STREAM)?;
    listen(&s, backlog)?;
    Ok(s)
}

/// setsockopt(2) of an int option.
pub fn set_int_option(fd: &impl AsRawFd, level: i32, name: i32, value: i32) -> Result<(), Errno> {
    // SAFETY: value is an int and the length says so.
    Errno::result(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// sendto(2) an IPv4 address.
pub fn sendto_v4(fd: &impl AsRawFd, data: &[u8], flags: i32, ip: [u8; 4], port: u16) -> Result<usize, Errno> {
    let sa = sockaddr_v4(ip, port);
    // SAFETY: data is valid for its length; sa is a valid sockaddr_in.
    Errno::result(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            (&sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as u32,
        )
    })
    .map(|n| n as usize)
}

/// What recvfrom(2) gave: the bytes in the buffer, the value it returned (with MSG_TRUNC it
/// may exceed the buffer) and the IPv4 source, when there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub data: Vec<u8>,
    pub returned: usize,
    pub from: Option<([u8; 4], u16)>,
}

/// recvfrom(2) into room for `max` bytes.
pub fn recvfrom(fd: &impl AsRawFd, max: usize, flags: i32) -> Result<Received, Errno> {
    let mut buf = vec![0u8; max];
    // SAFETY: an all-zero sockaddr_in is valid storage.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: buf has max bytes; sa has len bytes.
    let n = Errno::result(unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            max,
            flags,
            (&mut sa as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    })? as usize;
    buf.truncate(n.min(max));
    let from = (len > 0 && sa.sin_family == libc::AF_INET as u16)
        .then(|| (sa.sin_addr.s_addr.to_ne_bytes(), u16::from_be(sa.sin_port)));
    Ok(Received { data: buf, returned: n, from })
}

/// getpeername(2) as the raw bytes the kernel wrote (up to `room`) and the length it reported.
pub fn peer_bytes(fd: &impl AsRawFd, room: usize) -> Result<(Vec<u8>, usize), Errno> {
    let mut buf = vec![0u8; room.max(1)];
    let mut len = room as libc::socklen_t;
    // SAFETY: buf has room bytes; len says so.
    Errno::result(unsafe { libc::getpeername(fd.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) })?;
    buf.truncate(room);
    Ok((buf, len as usize))
}

/// "ip:port" of the IPv4 address in the first bytes of a sockaddr_in.
pub fn v4_text(bytes: &[u8]) -> String {
    if bytes.len() < 8 {
        return format!("{} bytes", bytes.len());
    }
    format!("{}.{}.{}.{}:{}", bytes[4], bytes[5], bytes[6], bytes[7], u16::from_be_bytes([bytes[2], bytes[3]]))
}

/// The TCP state of a socket (TCP_INFO), by its name in the kernel's tcp_states.h, with the
/// two counters a listener reports there: (state, tcpi_unacked, tcpi_sacked). For a listener
/// these are the accept queue's length and its limit.
pub fn tcp_info(fd: &impl AsRawFd) -> Result<(&'static str, u32, u32), Errno> {
    // SAFETY: an all-zero tcp_info is valid storage.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info has len bytes.
    Errno::result(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    })?;
    // qemu-user 7.2 copies TCP_INFO as if it were an int option: 4 bytes, the counters left
    // zero. Zeros read as "an empty queue" would decide claims; the case cannot know instead.
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_sacked) + size_of::<u32>();
    if (len as usize) < needed {
        harness::proc::note_unobservable(format!(
            "getsockopt(TCP_INFO) filled {len} of the {} bytes of struct tcp_info, so a socket's TCP state and queue counters cannot be read",
            size_of::<libc::tcp_info>()
        ));
        // No errno says "short": ENODATA stands for it in the observations.
        return Err(Errno::ENODATA);
    }
    const STATES: [&str; 13] = [
        "?",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];
    Ok((STATES.get(info.tcpi_state as usize).copied().unwrap_or("?"), info.tcpi_unacked, info.tcpi_sacked))
}

/// poll(2) for `events` up to `within`: the revents seen, empty if none.
pub fn poll_events(
    fd: &impl std::os::fd::AsFd,
    events: nix::poll::PollFlags,
    within: std::time::Duration,
) -> nix::poll::PollFlags {
    use nix::poll::{poll, PollFd, PollTimeout};
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), events)];
        match poll(&mut fds, ms) {
            Ok(_) => return fds[0].revents().unwrap_or(nix::poll::PollFlags::empty()),
            Err(Errno::EINTR) => continue,
            Err(_) => return nix::poll::PollFlags::empty(),
        }
    }
}

/// The part of `struct ifreq` that SIOCGIFFLAGS/SIOCSIFFLAGS use (the kernel's is 40 bytes).
#[repr(C)]
struct IfreqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _rest: [u8; 22],
}

/// In a forked child: moves this process into a network namespace of its own (with a user
/// namespace first when not root), brings its loopback interface up with IFF_MULTICAST, and
/// says how. Nothing sent there can reach a real interface: the namespace has only `lo`.
pub fn enter_private_netns() -> Result<&'static str, String> {
    use nix::sched::{unshare, CloneFlags};
    let how = if harness::privilege::is_root() {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
        "a network namespace (unshare CLONE_NEWNET as root)"
    } else {
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("unshare(CLONE_NEWUSER|CLONE_NEWNET) without root: {e}"))?;
        std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).map_err(|e| format!("uid_map: {e}"))?;
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")).map_err(|e| format!("gid_map: {e}"))?;
        "a user and network namespace (unshare CLONE_NEWUSER|CLONE_NEWNET)"
    };
    let s = socket(libc::AF_INET, libc::SOCK_DGRAM, 0).map_err(|e| format!("socket: {e}"))?;
    let mut req = IfreqFlags { name: [0; 16], flags: 0, _rest: [0; 22] };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: req is an ifreq-sized buffer with the interface name set.
    Errno::result(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })
        .map_err(|e| format!("SIOCGIFFLAGS lo: {e}"))?;
    req.flags |= (libc::IFF_UP | libc::IFF_MULTICAST) as libc::c_short;
    // SAFETY: as above.
    Errno::result(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req) })
        .map_err(|e| format!("SIOCSIFFLAGS lo up: {e}"))?;
    Ok(how)
}

/// Whether this process is in the network namespace it started in (pid 1's), by inode.
pub fn in_initial_netns() -> bool {
    let ino = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok();
    ino("/proc/self/ns/net").is_some() && ino("/proc/self/ns/net") == ino("/proc/1/ns/net")
}

/// An IPv6 socket address, port in host order.
pub fn sockaddr_v6(ip: std::net::Ipv6Addr, port: u16, scope_id: u32) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: ip.octets() },
        sin6_scope_id: scope_id,
    }
}

/// bind(2) to an IPv6 address.
pub fn bind_v6(fd: &impl AsRawFd, ip: std::net::Ipv6Addr, port: u16) -> Result<(), Errno> {
    let sa = sockaddr_v6(ip, port, 0);
    // SAFETY: sa is a valid sockaddr_in6 of the length given.
    Errno::result(unsafe {
        libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in6).cast(), size_of::<libc::sockaddr_in6>() as u32)
    })
    .map(drop)
}

/// An AF_UNIX socketpair of `ty`, with CLOEXEC.
pub fn unix_pair(ty: nix::sys::socket::SockType) -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        ty,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
}

/// A port nobody is bound to right now (of `ty`, on 127.0.0.1): bound once, then released.
pub fn free_port(ty: i32) -> Result<u16, Errno> {
    let probe = bound_v4(ty)?;
    local_port(&probe)
}

/// What a receive gave, for an observation: the bytes as text, or "-1 ERRNO".
pub fn shown(r: &Result<Vec<u8>, Errno>) -> serde_json::Value {
    harness::obs::call(&r.as_ref().map(|d| String::from_utf8_lossy(d).into_owned()).map_err(|e| *e))
}
