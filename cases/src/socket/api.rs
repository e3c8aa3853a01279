//! socket(): domains, types and their default protocols, what the ordinary descriptor calls do on
//! a socket, the names note 000 uses, and shutdown/close. All traffic is on loopback.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use harness::case::KernelModule;
use harness::obs::{call, errno_name};
use harness::privilege::is_root;
use harness::proc::poll_readable;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;

use crate::socket::{
    self, bind_v4, int_option, local_port, name_bytes, recv, send, socket, tcp_pair, LOOPBACK, NOT_RECEIVED_WITHIN,
};
use crate::util::libc_symbol;

pub const CASES: &[Case] = &[
    Case::new(
        "socket.api.domains",
        &["socket.api.address_format_per_domain", "socket.api.af_unspec_any_domain"],
        domains,
    ),
    Case::new(
        "socket.api.default_protocols",
        &[
            "socket.api.seqpacket_keeps_boundaries",
            "socket.api.seqpacket_fixed_length",
            "socket.api.stream_default_tcp",
            "socket.api.dgram_default_udp",
            "socket.api.dgram_fixed_length",
            "socket.api.raw_ip_and_superuser",
            "socket.api.protocol_zero_default",
            "socket.api.returns_descriptor",
        ],
        default_protocols,
    ),
    // Debian builds SCTP as a module: a kernel without it, or a guest not given it, cannot say.
    Case::new("socket.api.seqpacket_sctp", &["socket.api.seqpacket_default_sctp"], seqpacket_sctp)
        .needs_modules(&[KernelModule { name: "sctp", option: "IP_SCTP" }]),
    Case::new(
        "socket.api.descriptor_calls",
        &[
            "socket.api.close_releases",
            "socket.api.dup_copies",
            "socket.api.fcntl_commands",
            "socket.api.fstat_some_fields",
            "socket.api.ioctl_some_commands",
            "socket.api.poll_works",
            "socket.api.read_is_recv",
            "socket.api.select_works",
            "socket.api.write_is_send",
        ],
        descriptor_calls,
    ),
    Case::new(
        "socket.api.seqpacket_connection",
        &["socket.api.seqpacket_ordered_reliable_connected"],
        seqpacket_connection,
    ),
    Case::new("socket.api.names_in_note_000", &["socket.api.names_in_note_000"], names_in_note_000),
    Case::new("socket.api.calls_a_socket_refuses", &["socket.api.some_fd_calls_refused"], calls_a_socket_refuses),
    Case::new(
        "socket.api.raw_packets",
        &["socket.api.raw_receives_icmp_to_host", "socket.api.raw_own_ip_header", "socket.api.raw_builds_own_header"],
        raw_packets,
    )
    .needs_root("raw sockets need CAP_NET_RAW in the initial network namespace"),
    Case::new(
        "socket.api.shutdown_each_how",
        &[
            "socket.api.shutdown_rd",
            "socket.api.shutdown_wr",
            "socket.api.shutdown_rdwr",
            "socket.api.shutdown_returns",
            "socket.api.shutdown_close_at_last_descriptor",
        ],
        shutdown_each_how,
    ),
];

fn text(r: &Result<Vec<u8>, Errno>) -> String {
    match r {
        Ok(d) if d.is_empty() => "0 (end of file)".to_string(),
        Ok(d) => format!("{:?}", String::from_utf8_lossy(d)),
        Err(e) => format!("-1 {}", errno_name(*e)),
    }
}

fn domains(ctx: &mut Ctx) -> anyhow::Result<()> {
    let v4 = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    bind_v4(&v4, LOOPBACK, 0)?;
    let len4 = name_bytes(&v4, 128)?.1;
    let len6 = socket(libc::AF_INET6, libc::SOCK_STREAM, 0).and_then(|s| {
        crate::socket::bind_v6(&s, std::net::Ipv6Addr::LOCALHOST, 0)?;
        name_bytes(&s, 128).map(|(_, l)| l)
    });
    let path = ctx.temp_path("unix-socket");
    let unix = std::os::unix::net::UnixListener::bind(&path)?;
    let len_unix = name_bytes(&unix, 128)?.1;
    ctx.observe("getsockname length: AF_INET, AF_INET6", (len4, call(&len6)));
    ctx.observe(
        "AF_UNIX bound to a path: length is 2 (family) + the path + its NUL",
        len_unix == 2 + path.as_os_str().len() + 1,
    );
    ctx.check(
        "socket.api.address_format_per_domain",
        len4 == 16 && len6.is_ok_and(|l| l == 28) && len_unix == 2 + path.as_os_str().len() + 1,
        "each domain had its own address: 16 bytes (sockaddr_in), 28 (sockaddr_in6), and a family plus a path for AF_UNIX",
        "the address formats did not differ by domain (see observation)",
    );

    let unspec = socket(libc::AF_UNSPEC, libc::SOCK_STREAM, 0).map(drop);
    let families = ["127.0.0.1", "::1"].map(numeric_family);
    ctx.observe("socket(AF_UNSPEC, SOCK_STREAM, 0)", call(&unspec));
    ctx.observe("getaddrinfo(numeric host, hints AF_UNSPEC): family of 127.0.0.1, ::1", &families);
    let decision = if unspec == Err(Errno::EAFNOSUPPORT) && families == ["AF_INET", "AF_INET6"] {
        Decision::partial(
            "AF_UNSPEC stands for any family in getaddrinfo's hints (it returned AF_INET and AF_INET6 addresses), but it is no domain of its own: socket(AF_UNSPEC, ...) fails with EAFNOSUPPORT",
        )
    } else {
        Decision::holds("AF_UNSPEC was accepted where a family is asked for (see observation)")
    };
    ctx.decide("socket.api.af_unspec_any_domain", decision);
    Ok(())
}

/// getaddrinfo with AI_NUMERICHOST and an AF_UNSPEC hint (no name service is consulted): the
/// family of the first result.
fn numeric_family(host: &str) -> String {
    let c = std::ffi::CString::new(host).unwrap_or_default();
    // SAFETY: an all-zero addrinfo is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_flags = libc::AI_NUMERICHOST;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid strings and hints; res is freed below.
    let r = unsafe { libc::getaddrinfo(c.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if r != 0 || res.is_null() {
        return format!("getaddrinfo error {r}");
    }
    // SAFETY: res is a valid list from getaddrinfo.
    let family = unsafe { (*res).ai_family };
    // SAFETY: res came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    match family {
        libc::AF_INET => "AF_INET".into(),
        libc::AF_INET6 => "AF_INET6".into(),
        f => format!("family {f}"),
    }
}

fn protocol_of(domain: i32, ty: i32, protocol: i32) -> Result<i32, Errno> {
    let s = socket(domain, ty, protocol)?;
    int_option(&s, libc::SOL_SOCKET, libc::SO_PROTOCOL)
}

fn seqpacket_sctp(ctx: &mut Ctx) -> anyhow::Result<()> {
    let seqpacket = protocol_of(libc::AF_INET, libc::SOCK_SEQPACKET, 0);
    let sctp_loaded =
        std::fs::read_to_string("/proc/net/protocols").is_ok_and(|p| p.lines().any(|l| l.starts_with("SCTP ")));
    ctx.observe("SO_PROTOCOL of AF_INET SOCK_SEQPACKET with protocol 0", call(&seqpacket));
    ctx.observe("SCTP in /proc/net/protocols", sctp_loaded);
    let decision = match (&seqpacket, sctp_loaded) {
        (Ok(p), _) if *p == libc::IPPROTO_SCTP => Decision::holds("protocol 0 gave IPPROTO_SCTP (132)"),
        (Ok(p), _) => Decision::refuted(format!("protocol 0 gave protocol {p}")),
        (Err(e), false) => Decision::skipped(format!(
            "the sctp module is installed but did not load (not in /proc/net/protocols), so AF_INET SOCK_SEQPACKET has no protocol at all: socket() gave {}",
            errno_name(*e)
        )),
        (Err(e), true) => Decision::refuted(format!("SCTP is loaded, yet socket() gave {}", errno_name(*e))),
    };
    ctx.decide("socket.api.seqpacket_default_sctp", decision);
    Ok(())
}

fn default_protocols(ctx: &mut Ctx) -> anyhow::Result<()> {
    let stream = protocol_of(libc::AF_INET, libc::SOCK_STREAM, 0);
    let dgram = protocol_of(libc::AF_INET, libc::SOCK_DGRAM, 0);
    ctx.observe("SO_PROTOCOL of AF_INET SOCK_STREAM, SOCK_DGRAM with protocol 0", (call(&stream), call(&dgram)));
    ctx.check(
        "socket.api.stream_default_tcp",
        stream == Ok(libc::IPPROTO_TCP),
        "protocol 0 gave IPPROTO_TCP (6)",
        "protocol 0 gave another protocol",
    );
    ctx.check(
        "socket.api.dgram_default_udp",
        dgram == Ok(libc::IPPROTO_UDP),
        "protocol 0 gave IPPROTO_UDP (17)",
        "protocol 0 gave another protocol",
    );

    // Record boundaries on a SOCK_SEQPACKET pair (AF_UNIX, which needs no SCTP).
    let (a, b) = crate::socket::unix_pair(nix::sys::socket::SockType::SeqPacket)?;
    for len in [3usize, 5, 7] {
        send(&a, &vec![b'r'; len], 0)?;
    }
    let sizes: Vec<String> =
        (0..3).map(|_| call(&recv(&b, 100, libc::MSG_DONTWAIT).map(|d| d.len())).to_string()).collect();
    send(&a, b"0123456789", 0)?;
    let short = recv(&b, 4, libc::MSG_DONTWAIT);
    let after = recv(&b, 100, libc::MSG_DONTWAIT);
    ctx.observe("AF_UNIX SOCK_SEQPACKET: sends of 3, 5, 7 bytes; receives with room for 100", &sizes);
    ctx.observe("a 10-byte record read with room for 4; the next receive", (text(&short), text(&after)));
    ctx.check(
        "socket.api.seqpacket_keeps_boundaries",
        sizes == ["3", "5", "7"] && short.as_deref() == Ok(b"0123") && after == Err(Errno::EAGAIN),
        "each receive returned exactly one send's bytes (3, 5, 7); a record read short lost its rest",
        "records were merged or split (see observation)",
    );
    let decision = if sizes == ["3", "5", "7"] {
        Decision::refuted(
            "records of 3, 5 and 7 bytes each arrived with their own size: a record's length is not fixed, its boundaries are",
        )
    } else if sizes.iter().all(|s| *s == sizes[0]) {
        Decision::holds("every record arrived with the same size")
    } else {
        Decision::skipped("the records did not arrive one per receive (see observation), so their lengths say nothing")
    };
    ctx.decide("socket.api.seqpacket_fixed_length", decision);

    // Datagrams of very different sizes over loopback UDP: the largest IPv4 allows (65507 bytes).
    let receiver = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    bind_v4(&receiver, LOOPBACK, 0)?;
    let port = local_port(&receiver)?;
    let sender = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let lengths = [1usize, 1000, 65507];
    let sent: Vec<String> = lengths
        .iter()
        .map(|len| call(&crate::socket::sendto_v4(&sender, &vec![b'd'; *len], 0, LOOPBACK, port)).to_string())
        .collect();
    let limit = ctx.wait_limit();
    let received: Vec<String> = lengths
        .iter()
        .map(|_| {
            let _ = harness::proc::poll_readable_within_budget(receiver.as_fd(), limit, "a datagram on loopback");
            call(&recv(&receiver, 65536, libc::MSG_DONTWAIT).map(|d| d.len())).to_string()
        })
        .collect();
    ctx.observe("AF_INET SOCK_DGRAM on loopback: sendto of 1, 1000, 65507 bytes", &sent);
    ctx.observe("received with room for 65536, one datagram each", &received);
    let all_sent = sent.iter().zip(lengths).all(|(s, len)| *s == len.to_string());
    let decision = if !all_sent {
        Decision::skipped("the datagrams could not all be sent on loopback (see observation)")
    } else if received.iter().all(|r| *r == received[0]) {
        Decision::holds("every datagram arrived with the same size")
    } else if received == lengths.map(|l| l.to_string()) {
        Decision::refuted(
            "datagrams of 1, 1000 and 65507 bytes each arrived whole with their own size: a datagram's length is not fixed (what is fixed is its boundaries, and a maximum)",
        )
    } else {
        Decision::skipped("not every datagram was received on loopback (see observation)")
    };
    ctx.decide("socket.api.dgram_fixed_length", decision);

    let raw_zero = protocol_of(libc::AF_INET, libc::SOCK_RAW, 0);
    let raw_icmp = protocol_of(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP);
    let (raw_nobody, _) =
        ctx.in_child_as_nobody(|| call(&protocol_of(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)).to_string())?;
    ctx.observe("SOCK_RAW with protocol 0", call(&raw_zero));
    ctx.observe(format!("SOCK_RAW with IPPROTO_ICMP as this user (euid {})", nix::unistd::geteuid()), call(&raw_icmp));
    ctx.observe("SOCK_RAW with IPPROTO_ICMP as uid 65534", &raw_nobody);
    let nobody_refused = raw_nobody.as_deref() == Some("\"-1 EPERM\"");
    let decision = match (&raw_zero, raw_icmp.is_ok(), nobody_refused) {
        (Err(Errno::EPROTONOSUPPORT), true, true) => Decision::partial(
            "privilege holds (root could, uid 65534 got EPERM: it is CAP_NET_RAW that counts), but there is no default protocol straight on IP: protocol 0 gives EPROTONOSUPPORT, so a raw socket must name one (IPPROTO_ICMP worked)",
        ),
        (_, false, true) if !is_root() => Decision::skipped("not root: only the refusal (EPERM) could be seen"),
        _ => Decision::refuted("raw sockets did not need privilege or behaved otherwise (see observation)"),
    };
    ctx.decide("socket.api.raw_ip_and_superuser", decision);

    let explicit = protocol_of(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_TCP);
    let mismatch = protocol_of(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_UDP);
    ctx.observe("SOCK_STREAM with IPPROTO_TCP named; with IPPROTO_UDP", (call(&explicit), call(&mismatch)));
    ctx.check(
        "socket.api.protocol_zero_default",
        stream == explicit && mismatch == Err(Errno::EPROTONOSUPPORT),
        "protocol 0 chose what naming IPPROTO_TCP chooses; a protocol that does not fit the type was refused (EPROTONOSUPPORT)",
        "protocol 0 or a named protocol behaved otherwise (see observation)",
    );

    let lowest = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let bad_domain = socket(12345, libc::SOCK_STREAM, 0).map(drop);
    ctx.observe("socket(): a descriptor >= 0; with domain 12345", (lowest.as_raw_fd() >= 0, call(&bad_domain)));
    ctx.check(
        "socket.api.returns_descriptor",
        lowest.as_raw_fd() >= 0 && bad_domain == Err(Errno::EAFNOSUPPORT),
        "socket returned a descriptor, and -1 with EAFNOSUPPORT for an unknown domain",
        "socket's return values differ (see observation)",
    );
    Ok(())
}

fn descriptor_calls(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // close: the port is free again once the socket is closed.
    let udp = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    bind_v4(&udp, LOOPBACK, 0)?;
    let port = local_port(&udp)?;
    let other = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let while_open = bind_v4(&other, LOOPBACK, port);
    drop(udp);
    let after_close = bind_v4(&other, LOOPBACK, port);
    ctx.observe(
        "binding the same UDP port while the socket is open; after close",
        (call(&while_open), call(&after_close)),
    );
    ctx.check(
        "socket.api.close_releases",
        while_open == Err(Errno::EADDRINUSE) && after_close.is_ok(),
        "the port was in use (EADDRINUSE) until close released the socket, then free",
        "close did not release the socket (see observation)",
    );

    let (client, server, _listener) = tcp_pair()?;
    let dup = nix::unistd::dup(&client)?;
    let ino = |fd: std::os::fd::BorrowedFd| nix::sys::stat::fstat(fd).map(|st| st.st_ino);
    let same = ino(client.as_fd()) == ino(dup.as_fd());
    send(&dup, b"via dup", 0)?;
    let got = recv(&server, 64, 0);
    ctx.observe("dup: same socket (st_ino); data sent through the copy arrived", (same, text(&got)));
    ctx.check(
        "socket.api.dup_copies",
        same && got.as_deref() == Ok(b"via dup"),
        "the duplicate named the same socket and carried data",
        "dup did not copy the socket descriptor (see observation)",
    );

    let fd = client.as_raw_fd();
    // SAFETY: fcntl with integer arguments on a descriptor we own; F_DUPFD's result is closed.
    let fcntl = |cmd: i32, arg: libc::c_long| Errno::result(unsafe { libc::fcntl(fd, cmd, arg) });
    let dupfd = fcntl(libc::F_DUPFD_CLOEXEC, 100);
    if let Ok(n) = dupfd {
        // SAFETY: a descriptor F_DUPFD just made for us.
        unsafe { libc::close(n) };
    }
    let me = nix::unistd::getpid().as_raw();
    let results = serde_json::json!({
        "F_DUPFD(100) >= 100": dupfd.is_ok_and(|n| n >= 100),
        "F_GETFD has FD_CLOEXEC": fcntl(libc::F_GETFD, 0).is_ok_and(|f| f & libc::FD_CLOEXEC != 0),
        "F_SETFD 0 then F_GETFD": fcntl(libc::F_SETFD, 0).and_then(|_| fcntl(libc::F_GETFD, 0)).ok(),
        "F_SETFL O_NONBLOCK then F_GETFL has it": fcntl(libc::F_SETFL, libc::O_NONBLOCK as libc::c_long).and_then(|_| fcntl(libc::F_GETFL, 0)).is_ok_and(|f| f & libc::O_NONBLOCK != 0),
        "F_SETOWN self then F_GETOWN is self": fcntl(libc::F_SETOWN, me as libc::c_long).and_then(|_| fcntl(libc::F_GETOWN, 0)).is_ok_and(|p| p == me),
    });
    fcntl(libc::F_SETFL, 0)?;
    ctx.observe("fcntl on a TCP socket", &results);
    ctx.check(
        "socket.api.fcntl_commands",
        results
            .as_object()
            .is_some_and(|o| o.values().all(|v| v == &serde_json::json!(true) || v == &serde_json::json!(0))),
        "F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETOWN and F_SETOWN all worked on the socket",
        "an fcntl command failed on the socket (see observation)",
    );

    let st = nix::sys::stat::fstat(client.as_fd())?;
    let is_socket = st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
    ctx.observe("fstat: S_IFSOCK, st_size, st_nlink, st_blksize", (is_socket, st.st_size, st.st_nlink, st.st_blksize));
    ctx.check(
        "socket.api.fstat_some_fields",
        is_socket,
        "fstat succeeded: st_mode says socket (S_IFSOCK); size 0 and the other fields are the socket file system's",
        "fstat did not describe a socket (see observation)",
    );

    send(&server, b"12345", 0)?;
    poll_readable(&client, limit)?;
    let mut pending: libc::c_int = 0;
    // SAFETY: FIONREAD writes an int.
    let fionread = Errno::result(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut pending) }).map(|_| pending);
    // SAFETY: TCGETS writes a termios, which a socket has none of.
    let mut tio: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let tcgets = Errno::result(unsafe { libc::ioctl(fd, libc::TCGETS, &mut tio) }).map(drop);
    ctx.observe("ioctl FIONREAD with 5 bytes queued; TCGETS", (call(&fionread), call(&tcgets)));
    ctx.check(
        "socket.api.ioctl_some_commands",
        fionread == Ok(5) && tcgets == Err(Errno::ENOTTY),
        "FIONREAD worked (5 bytes) while a terminal command gave ENOTTY: only some ioctls apply",
        "ioctl on the socket behaved otherwise (see observation)",
    );

    let polled = poll_readable(&client, Duration::ZERO)?;
    let selected = select_readable(fd)?;
    let idle = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    bind_v4(&idle, LOOPBACK, 0)?;
    let idle_polled = poll_readable(&idle, Duration::ZERO)?;
    let idle_selected = select_readable(idle.as_raw_fd())?;
    ctx.observe(
        "poll and select readable: socket with data; idle socket",
        ((polled, selected), (idle_polled, idle_selected)),
    );
    ctx.check(
        "socket.api.poll_works",
        polled && !idle_polled,
        "poll reported the socket with data readable and the idle one not",
        "poll misreported (see observation)",
    );
    ctx.check(
        "socket.api.select_works",
        selected && !idle_selected,
        "select reported the socket with data readable and the idle one not",
        "select misreported (see observation)",
    );

    let mut first = [0u8; 2];
    let read = nix::unistd::read(&client, &mut first);
    let mut rest = [0u8; 3];
    let readv = nix::sys::uio::readv(&client, &mut [std::io::IoSliceMut::new(&mut rest)]);
    ctx.observe(
        "read 2 then readv 3 of \"12345\"",
        (call(&read), String::from_utf8_lossy(&first), call(&readv), String::from_utf8_lossy(&rest)),
    );
    nix::unistd::write(&server, b"x")?;
    poll_readable(&client, limit)?;
    let mut one = [0u8; 1];
    let peeked = socket::recv(&client, 1, libc::MSG_PEEK);
    let read_after_peek = nix::unistd::read(&client, &mut one);
    ctx.check(
        "socket.api.read_is_recv",
        read == Ok(2)
            && &first == b"12"
            && readv == Ok(3)
            && &rest == b"345"
            && peeked.as_deref() == Ok(b"x")
            && read_after_peek == Ok(1),
        "read and readv took the bytes in order as recv(…, 0) does (and read what a MSG_PEEK had left)",
        "read/readv differed from recv (see observation)",
    );
    let written = nix::unistd::write(&client, b"ab");
    let writev = nix::sys::uio::writev(&client, &[std::io::IoSlice::new(b"cd"), std::io::IoSlice::new(b"ef")]);
    poll_readable(&server, limit)?;
    let arrived = recv_all(&server, 6, limit);
    ctx.observe(
        "write \"ab\", writev \"cd\"+\"ef\"; the peer received",
        (call(&written), call(&writev), text(&arrived)),
    );
    ctx.check(
        "socket.api.write_is_send",
        written == Ok(2) && writev == Ok(4) && arrived.as_deref() == Ok(b"abcdef"),
        "write and writev sent the bytes as send(…, 0) does",
        "write/writev differed from send (see observation)",
    );
    Ok(())
}

/// Receives until `want` bytes arrived or `within` passed (a stream may split them).
fn recv_all(fd: &impl AsFd, want: usize, within: Duration) -> Result<Vec<u8>, Errno> {
    let deadline = std::time::Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || !poll_readable(fd, left).unwrap_or(false) {
            break;
        }
        let chunk = recv(&fd.as_fd(), want - got.len(), libc::MSG_DONTWAIT)?;
        if chunk.is_empty() {
            break;
        }
        got.extend(chunk);
    }
    Ok(got)
}

/// select(2) with a zero timeout: is `fd` readable now?
fn select_readable(fd: i32) -> anyhow::Result<bool> {
    // SAFETY: an fd_set is plain data; FD_ZERO/FD_SET/FD_ISSET work on it; fd < FD_SETSIZE.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut set);
        libc::FD_SET(fd, &mut set);
        let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
        Errno::result(libc::select(fd + 1, &mut set, std::ptr::null_mut(), std::ptr::null_mut(), &mut tv))?;
        Ok(libc::FD_ISSET(fd, &set))
    }
}

fn names_in_note_000(ctx: &mut Ctx) -> anyhow::Result<()> {
    if libc_symbol("socket").is_none() {
        ctx.decide("socket.api.names_in_note_000", Decision::skipped("no dynamic symbol table to look names up in"));
        return Ok(());
    }
    let as_written: Vec<(&str, bool)> =
        ["rcvfrom", "setsockeopt", "getsocketopt"].iter().map(|n| (*n, libc_symbol(n).is_some())).collect();
    let real: Vec<(&str, bool)> =
        ["recvfrom", "setsockopt", "getsockopt"].iter().map(|n| (*n, libc_symbol(n).is_some())).collect();
    ctx.observe("in libc (dlsym): the names as note 000 writes them", &as_written);
    ctx.observe("  and the calls they stand for", &real);
    let decision = if as_written.iter().all(|(_, f)| !f) && real.iter().all(|(_, f)| *f) {
        Decision::refuted(
            "none of rcvfrom, setsockeopt, getsocketopt exists: the calls are recvfrom, setsockopt and getsockopt",
        )
    } else if as_written.iter().all(|(_, f)| *f) {
        Decision::holds("all three names exist")
    } else {
        Decision::partial("some of the names exist (see observation)")
    };
    ctx.decide("socket.api.names_in_note_000", decision);
    Ok(())
}

fn shutdown(fd: &impl AsRawFd, how: i32) -> Result<i32, Errno> {
    // SAFETY: shutdown takes integers.
    Errno::result(unsafe { libc::shutdown(fd.as_raw_fd(), how) })
}

fn shutdown_each_how(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let nosignal = libc::MSG_NOSIGNAL;

    // SHUT_RD on one end.
    let (client, server, _l1) = tcp_pair()?;
    let rd = shutdown(&server, libc::SHUT_RD);
    let read_now = recv(&server, 64, libc::MSG_DONTWAIT);
    send(&client, b"late data", 0)?;
    // The peer acknowledging the bytes proves they reached the shut-down side.
    let acknowledged = crate::util::wait_until(limit, || socket::unacked(&client) == Ok(0));
    let read_after = recv(&server, 64, libc::MSG_DONTWAIT);
    ctx.observe("the peer's data was acknowledged by the shut-down side", acknowledged);
    let can_still_send = send(&server, b"reply", nosignal);
    ctx.observe(
        "SHUT_RD: returned; recv at once; recv after the peer sent \"late data\"; send",
        (call(&rd), text(&read_now), text(&read_after), call(&can_still_send)),
    );
    let decision = match (&read_now, &read_after) {
        (Ok(a), Ok(b)) if a.is_empty() && b.is_empty() => Decision::holds("after SHUT_RD every recv returned 0 (end of file), even with data sent afterwards; sending still worked"),
        (Ok(a), Ok(b)) if a.is_empty() && !b.is_empty() => Decision::partial(
            "recv returned 0 (end of file) at once, but data the peer sent afterwards was still delivered and read: Linux's SHUT_RD does not stop the reading side from receiving",
        ),
        _ => Decision::refuted("reading went on as before after SHUT_RD (see observation)"),
    };
    ctx.decide("socket.api.shutdown_rd", decision);

    // SHUT_WR.
    let (client, server, _l2) = tcp_pair()?;
    let wr = shutdown(&client, libc::SHUT_WR);
    let send_after = send(&client, b"x", nosignal);
    poll_readable(&server, limit)?;
    let peer_reads = recv(&server, 64, libc::MSG_DONTWAIT);
    send(&server, b"still readable", 0)?;
    poll_readable(&client, limit)?;
    let reverse = recv(&client, 64, libc::MSG_DONTWAIT);
    ctx.observe(
        "SHUT_WR: returned; send afterwards (MSG_NOSIGNAL); the peer's recv; data the other way",
        (call(&wr), call(&send_after), text(&peer_reads), text(&reverse)),
    );
    ctx.check(
        "socket.api.shutdown_wr",
        send_after == Err(Errno::EPIPE)
            && peer_reads.as_deref() == Ok(b"")
            && reverse.as_deref() == Ok(b"still readable"),
        "after SHUT_WR send failed with EPIPE and the peer read end of file, while data still came the other way",
        "SHUT_WR did not close only the writing side (see observation)",
    );

    // SHUT_RDWR.
    let (client, server, _l3) = tcp_pair()?;
    let rdwr = shutdown(&client, libc::SHUT_RDWR);
    let send_rdwr = send(&client, b"x", nosignal);
    let recv_rdwr = recv(&client, 64, libc::MSG_DONTWAIT);
    poll_readable(&server, limit)?;
    let peer_rdwr = recv(&server, 64, libc::MSG_DONTWAIT);
    ctx.observe(
        "SHUT_RDWR: returned; send; recv; the peer's recv",
        (call(&rdwr), call(&send_rdwr), text(&recv_rdwr), text(&peer_rdwr)),
    );
    ctx.check(
        "socket.api.shutdown_rdwr",
        send_rdwr == Err(Errno::EPIPE) && recv_rdwr.as_deref() == Ok(b"") && peer_rdwr.as_deref() == Ok(b""),
        "after SHUT_RDWR send gave EPIPE, recv end of file, and the peer saw end of file",
        "SHUT_RDWR left a direction open (see observation)",
    );

    let unconnected = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let not_connected = shutdown(&unconnected, libc::SHUT_RDWR);
    let bad_how = shutdown(&client, 99);
    ctx.observe("shutdown of an unconnected TCP socket; with how = 99", (call(&not_connected), call(&bad_how)));
    ctx.check(
        "socket.api.shutdown_returns",
        rd == Ok(0)
            && wr == Ok(0)
            && rdwr == Ok(0)
            && not_connected == Err(Errno::ENOTCONN)
            && bad_how == Err(Errno::EINVAL),
        "0 on success; -1 with ENOTCONN (not connected) or EINVAL (bad how) on failure",
        "shutdown's return values differ (see observation)",
    );

    // close releases the endpoint only at the last descriptor.
    let (client, server, _l4) = tcp_pair()?;
    let copy = nix::unistd::dup(&client)?;
    drop(client);
    let eof_after_first = poll_readable(&server, NOT_RECEIVED_WITHIN)?;
    drop(copy);
    let eof_after_last = poll_readable(&server, limit)? && recv(&server, 64, libc::MSG_DONTWAIT).as_deref() == Ok(b"");
    ctx.observe(format!("the peer readable within {NOT_RECEIVED_WITHIN:?} after closing one of two descriptors (a bounded \"not received\" wait)"), eof_after_first);
    ctx.observe("the peer read end of file after closing the last", eof_after_last);
    ctx.check(
        "socket.api.shutdown_close_at_last_descriptor",
        !eof_after_first && eof_after_last,
        "closing one of two descriptors left the connection up; closing the last ended it (the peer read end of file)",
        "the endpoint was released before the last close, or not at all (see observation)",
    );
    Ok(())
}

/// The Internet checksum (RFC 1071) of `bytes`.
fn inet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Reads packets from raw socket `fd` until one satisfies `wanted` or `within` passes; every
/// packet read is an IP datagram (header included).
fn raw_packet_within(fd: &impl AsFd, within: Duration, wanted: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero()
            || !harness::proc::poll_readable_within_budget(fd.as_fd(), left, "a raw packet on loopback")
                .unwrap_or(false)
        {
            return None;
        }
        if let Ok(packet) = recv(&fd.as_fd(), 65536, libc::MSG_DONTWAIT) {
            if wanted(&packet) {
                return Some(packet);
            }
        }
    }
}

/// The payload of an IPv4 datagram (after its header of IHL words).
fn ip_payload(packet: &[u8]) -> &[u8] {
    let ihl = usize::from(packet.first().map_or(5, |b| b & 0x0f)) * 4;
    packet.get(ihl..).unwrap_or_default()
}

fn raw_packets(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // An ICMP echo request of our own (id = pid, a marker payload) to 127.0.0.1: a raw ICMP
    // socket sees the packet addressed to this host, and the kernel's echo reply.
    let receiver = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let sender = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let id = (std::process::id() & 0xffff) as u16;
    let marker = b"ipc-conform raw";
    let mut echo = vec![8u8, 0, 0, 0];
    echo.extend_from_slice(&id.to_be_bytes());
    echo.extend_from_slice(&1u16.to_be_bytes());
    echo.extend_from_slice(marker);
    let sum = inet_checksum(&echo);
    echo[2..4].copy_from_slice(&sum.to_be_bytes());
    let sent = crate::socket::sendto_v4(&sender, &echo, 0, LOOPBACK, 0);
    let ours = |kind: u8| {
        move |p: &[u8]| {
            let icmp = ip_payload(p);
            icmp.first() == Some(&kind) && icmp.get(4..6) == Some(&id.to_be_bytes()) && icmp.ends_with(marker)
        }
    };
    let request = raw_packet_within(&receiver, limit, ours(8));
    let reply = raw_packet_within(&receiver, limit, ours(0));
    let echo_ignored = crate::util::sysctl("net.ipv4.icmp_echo_ignore_all");
    ctx.observe("raw ICMP socket: sendto(127.0.0.1) of an echo request (id = pid, marker payload)", call(&sent));
    ctx.observe("the raw ICMP receiver read the echo request (an IP datagram to 127.0.0.1)", request.is_some());
    ctx.observe("the raw ICMP receiver read the kernel's echo reply", reply.is_some());
    ctx.observe("net.ipv4.icmp_echo_ignore_all", &echo_ignored);
    let to_host = request.as_deref().is_some_and(|p| p.get(16..20) == Some(&LOOPBACK[..]));
    ctx.decide(
        "socket.api.raw_receives_icmp_to_host",
        match (&sent, to_host) {
            (Ok(_), true) => Decision::holds(format!(
                "a raw ICMP socket read, IP header included, the echo request sent to 127.0.0.1{}",
                if reply.is_some() { ", and the kernel's reply to it" } else { "" }
            )),
            (Ok(_), false) => Decision::refuted("the echo request sent to this host never reached the raw ICMP socket"),
            (Err(e), _) => Decision::skipped(format!("the echo request could not be sent: {}", errno_name(*e))),
        },
    );

    // An IP datagram whose header we wrote (IPPROTO_RAW implies IP_HDRINCL), of protocol 253 (RFC
    // 3692, for experiments: the stack has no handler for it), read back by a raw socket of 253.
    const EXPERIMENT: i32 = 253;
    let taker = socket(libc::AF_INET, libc::SOCK_RAW, EXPERIMENT)?;
    let maker = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    let body = b"ipc-conform own header";
    let total = (20 + body.len()) as u16;
    let mut datagram = vec![0x45u8, 0];
    datagram.extend_from_slice(&total.to_be_bytes());
    datagram.extend_from_slice(&0x1234u16.to_be_bytes());
    datagram.extend_from_slice(&[0, 0, 77, EXPERIMENT as u8, 0, 0]);
    datagram.extend_from_slice(&LOOPBACK);
    datagram.extend_from_slice(&LOOPBACK);
    let sum = inet_checksum(&datagram);
    datagram[10..12].copy_from_slice(&sum.to_be_bytes());
    datagram.extend_from_slice(body);
    let made = crate::socket::sendto_v4(&maker, &datagram, 0, LOOPBACK, 0);
    let taken = raw_packet_within(&taker, limit, |p| ip_payload(p) == body);
    let kept = taken.as_deref().map(|p| (p[8], u16::from_be_bytes([p[4], p[5]]), p[9]));
    ctx.observe("IPPROTO_RAW: sendto of a whole IP datagram we built (TTL 77, id 0x1234, protocol 253)", call(&made));
    ctx.observe("a raw socket of protocol 253 read it: (TTL, id, protocol)", kept);
    ctx.decide(
        "socket.api.raw_own_ip_header",
        match (&made, kept) {
            (Ok(_), Some((77, 0x1234, 253))) => Decision::holds(
                "a datagram with a header of our own (TTL 77, id 0x1234) and a protocol the stack has no handler for (253) was sent through IPPROTO_RAW and read by a raw socket of that protocol, header as written",
            ),
            (Ok(_), Some(other)) => {
                Decision::refuted(format!("the datagram arrived, but its header was not ours: (TTL, id, protocol) {other:?}"))
            }
            (Ok(_), None) => Decision::refuted("the datagram with our own header never reached the raw socket of its protocol"),
            (Err(e), _) => Decision::skipped(format!("the datagram could not be sent: {}", errno_name(*e))),
        },
    );

    // The same protocol sent without IP_HDRINCL: the kernel writes the IP header and nothing
    // else, so whatever header protocol 253 would need is the program's to build.
    let plain = socket(libc::AF_INET, libc::SOCK_RAW, EXPERIMENT)?;
    let bare = b"ipc-conform no header of ours";
    let sent_bare = crate::socket::sendto_v4(&plain, bare, 0, LOOPBACK, 0);
    let arrived = raw_packet_within(&taker, limit, |p| ip_payload(p) == bare);
    let default_ttl = crate::util::sysctl("net.ipv4.ip_default_ttl");
    let kernel_header = arrived
        .as_deref()
        .map(|p| (p.len() == 20 + bare.len(), p[9] == EXPERIMENT as u8, Some(p[8].to_string()) == default_ttl));
    ctx.observe("a protocol-253 raw socket without IP_HDRINCL: sendto of bare bytes", call(&sent_bare));
    ctx.observe(
        "  what arrived: a 20-byte IP header, then exactly those bytes; protocol 253; TTL the default",
        kernel_header,
    );
    ctx.decide(
        "socket.api.raw_builds_own_header",
        match (&sent_bare, kernel_header, kept) {
            (Ok(_), Some((true, true, true)), Some((77, 0x1234, 253))) => Decision::holds(
                "above IP the kernel adds nothing: bytes sent on a raw socket arrived exactly as given behind an IP header the kernel wrote (protocol 253, the default TTL), so a protocol's header is the program's to build; the IP header too with IP_HDRINCL (IPPROTO_RAW), where ours arrived as written",
            ),
            (Ok(_), Some(seen), _) => Decision::refuted(format!(
                "the kernel changed what a raw socket sent: (IP header only, protocol 253, default TTL) = {seen:?}"
            )),
            (Ok(_), None, _) => Decision::refuted("the bytes sent on the raw socket never reached the raw socket of its protocol"),
            (Err(e), _, _) => Decision::skipped(format!("the bytes could not be sent: {}", errno_name(*e))),
        },
    );
    Ok(())
}

fn calls_a_socket_refuses(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (a, _b, _listener) = tcp_pair()?;
    let lseek = nix::unistd::lseek(&a, 0, nix::unistd::Whence::SeekSet);
    ctx.observe("lseek(connected TCP socket, 0, SEEK_SET)", call(&lseek));
    ctx.decide(
        "socket.api.some_fd_calls_refused",
        match lseek {
            Err(e) => Decision::holds(format!(
                "lseek, a call that takes any file descriptor, failed on a socket with {}",
                errno_name(e)
            )),
            Ok(at) => Decision::refuted(format!("lseek on a socket succeeded (offset {at})")),
        },
    );
    Ok(())
}

/// SOCK_SEQPACKET's other three words, on AF_UNIX (which needs no SCTP): connection-oriented
/// (an unconnected socket cannot send), ordered (numbered records come back in order) and
/// reliable (a full receiver makes the sender wait, EAGAIN without blocking, and drops nothing).
fn seqpacket_connection(ctx: &mut Ctx) -> anyhow::Result<()> {
    const CLAIM: &str = "socket.api.seqpacket_ordered_reliable_connected";
    let unconnected = socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0);
    let (unconnected, (a, b)) = match (unconnected, crate::socket::unix_pair(nix::sys::socket::SockType::SeqPacket)) {
        (Ok(u), Ok(pair)) => (u, pair),
        (Err(e), _) | (_, Err(e)) => {
            ctx.observe("socket(AF_UNIX, SOCK_SEQPACKET)", errno_name(e));
            ctx.decide(CLAIM, Decision::skipped(format!("no AF_UNIX SOCK_SEQPACKET socket: {}", errno_name(e))));
            return Ok(());
        }
    };
    let send_unconnected = send(&unconnected, b"x", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
    // Fill the connection with numbered 8-byte records until the kernel says wait; the bound
    // only keeps a kernel that never says so from looping for ever.
    let mut sent = 0u64;
    let refusal = loop {
        match send(&a, &sent.to_le_bytes(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) {
            Ok(8) if sent < 1_000_000 => sent += 1,
            Ok(n) => break format!("send returned {n} after {sent} records"),
            Err(e) => break format!("-1 {}", errno_name(e)),
        }
    };
    let mut received = Vec::new();
    while let Ok(record) = recv(&b, 64, libc::MSG_DONTWAIT) {
        received.push(record);
    }
    let in_order = received.iter().enumerate().all(|(i, r)| r.as_slice() == (i as u64).to_le_bytes());
    let again = send(&a, b"after", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
    ctx.observe("send on an unconnected SOCK_SEQPACKET socket", call(&send_unconnected.map(|n| n as i64)));
    ctx.observe("socketpair: non-blocking sends of numbered records until refused: the refusal", &refusal);
    ctx.observe(
        "  records sent before it, received, received in order",
        (sent > 0, received.len() as u64 == sent, in_order),
    );
    ctx.observe("  a send once the receiver had drained them", call(&again.map(|n| n as i64)));
    let connected_only = send_unconnected == Err(Errno::ENOTCONN);
    let waits_when_full = refusal == "-1 EAGAIN";
    let lossless = sent > 0 && received.len() as u64 == sent && in_order && again == Ok(5);
    let decision = match (connected_only, waits_when_full, lossless) {
        (true, true, true) => Decision::holds(format!(
            "connection-oriented (an unconnected socket's send: -1 ENOTCONN), ordered and reliable: all {sent} records sent until the full receiver made the sender wait (EAGAIN) arrived once each and in order"
        )),
        (false, _, _) => Decision::refuted(format!(
            "an unconnected SOCK_SEQPACKET socket's send gave {}, not ENOTCONN",
            call(&send_unconnected.map(|n| n as i64))
        )),
        (true, false, _) => Decision::refuted(format!(
            "a full connection did not make the non-blocking sender wait: {refusal}"
        )),
        (true, true, false) => Decision::refuted(format!(
            "records were lost or reordered: {sent} sent, {} received (see observation)",
            received.len()
        )),
    };
    ctx.decide(CLAIM, decision);
    Ok(())
}
