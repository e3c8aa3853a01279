//! Stream sockets (TCP on 127.0.0.1): the byte stream, listen and accept, connect (blocking,
//! interrupted, non-blocking), bind's rules, getsockname/getpeername, and send/recv with their
//! flags and when they block.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use harness::obs::{call, errno_name};
use harness::privilege::is_root;
use harness::proc::poll_readable;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use proptest::prelude::*;

use crate::socket::netns::in_private_netns;
use crate::socket::{
    bind_v4, bound_v4, connect_v4, fill_until_window_closed, int_option, listen, local_port, name_bytes, peer_bytes,
    poll_events, recv, send, shown, sockaddr_v4, socket, tcp_info, tcp_listener, tcp_pair, v4_text, LOOPBACK,
    NOT_RECEIVED_WITHIN,
};
use crate::util::{blocked_obs, catch_with_noop, drain_nonblocking, fionread, set_nonblocking, sysctl, wait_until};

pub const CASES: &[Case] = &[
    Case::new(
        "socket.tcp.call_returns",
        &[
            "socket.tcp.getsockname_bound_address",
            "socket.tcp.getpeername_peer_address",
            "socket.tcp.connection_before_data",
            "socket.tcp.connect_returns",
            "socket.tcp.listen_returns",
            "socket.tcp.accept_failure_minus_one",
            "socket.tcp.send_failure_minus_one",
            "socket.tcp.recv_returns",
        ],
        call_returns,
    ),
    Case::new(
        "socket.tcp.byte_stream",
        &["socket.tcp.byte_stream", "socket.tcp.recv_stream_ignores_boundaries", "socket.tcp.ordered_reliable_duplex"],
        byte_stream,
    ),
    Case::new(
        "socket.tcp.listen_and_accept",
        &[
            "socket.tcp.listener_is_not_the_connection",
            "socket.tcp.accept_returns_new_descriptor",
            "socket.tcp.accept_returns_peer_address",
            "socket.tcp.accept_address_optional",
            "socket.tcp.accept_address_truncated",
            "socket.tcp.client_bind_optional",
        ],
        listen_and_accept,
    ),
    Case::new(
        "socket.tcp.accept_waits",
        &["socket.tcp.accept_blocks", "socket.tcp.accept_nonblocking_eagain", "socket.tcp.accept_needs_bind_and_listen"],
        accept_waits,
    ),
    Case::new(
        "socket.tcp.listen_backlog",
        &[
            "socket.tcp.listen_backlog_limits_queue",
            "socket.tcp.listen_somaxconn_is_max",
            "socket.tcp.listen_above_max_clamped",
            "socket.tcp.listen_zero_minimum",
            "socket.tcp.listen_negative_like_zero",
        ],
        listen_backlog,
    ),
    Case::new(
        "socket.tcp.connect",
        &[
            "socket.tcp.connect_nonblocking_einprogress",
            "socket.tcp.connect_interrupted_continues",
            "socket.tcp.connect_fails_when_not_made",
        ],
        connect,
    )
    .timeout_ms(8000)
    .stress("waits for TCP's first SYN retransmission (TCP_TIMEOUT_INIT, 1 s) to show an interrupted connect completing in the background"),
    Case::new(
        "socket.tcp.bind_rules",
        &[
            "socket.tcp.bind_address_must_be_local",
            "socket.tcp.bind_family_must_match",
            "socket.tcp.bind_one_socket_per_address",
            "socket.tcp.bind_returns",
            "socket.tcp.bind_inaddr_any_all_interfaces",
            "socket.tcp.bind_only_when_unbound",
        ],
        bind_rules,
    ),
    Case::new(
        "socket.tcp.privileged_ports",
        &["socket.tcp.bind_low_ports_need_root", "socket.tcp.port_sixteen_bit_unsigned", "socket.tcp.port_below_256_reserved"],
        privileged_ports,
    ),
    Case::new(
        "socket.tcp.names",
        &[
            "socket.tcp.name_getsockname_unbound",
            "socket.tcp.name_getsockname_truncates",
            "socket.tcp.name_getpeername_unconnected",
            "socket.tcp.name_getpeername_truncates",
        ],
        names,
    ),
    Case::new(
        "socket.tcp.send_buffer_full",
        &[
            "socket.tcp.send_blocks_when_full",
            "socket.tcp.send_nonblocking_fails_when_full",
            "socket.tcp.send_poll_tells_writable",
            "socket.tcp.send_returns_bytes",
        ],
        send_buffer_full,
    ),
    Case::new(
        "socket.tcp.recv_waits",
        &[
            "socket.tcp.recv_blocks_without_data",
            "socket.tcp.recv_nonblocking_fails",
            "socket.tcp.recv_msg_dontwait",
            "socket.tcp.send_msg_dontwait",
            "socket.tcp.recv_msg_waitall",
        ],
        recv_waits,
    ),
    Case::new(
        "socket.tcp.send_flags",
        &["socket.tcp.send_msg_oob", "socket.tcp.recv_msg_oob", "socket.tcp.send_msg_eor", "socket.tcp.send_msg_dontroute"],
        send_flags,
    ),
    Case::new("socket.tcp.failures_are_not_only_local", &["socket.tcp.send_success_is_local"], failures_are_not_only_local),
    Case::new(
        "socket.tcp.addresses_on_connected_sockets",
        &["socket.tcp.sendto_connected_ignores_address", "socket.tcp.sendmsg_address_use", "socket.tcp.msghdr_fields"],
        addresses_on_connected_sockets,
    ),
    Case::new("socket.tcp.handshake_packets", &["socket.tcp.handshake_packets"], tcp_packets)
        .needs_kernel(&["NET_NS", "PACKET"])
        .timeout_ms(8000),
];

/// Reads until `want` bytes arrived or `within` passed.
fn read_exactly(fd: &(impl AsFd + AsRawFd), want: usize, chunk: usize, within: std::time::Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + within;
    while got.len() < want {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || !poll_readable(fd.as_fd(), left).unwrap_or(false) {
            break;
        }
        match recv(fd, chunk.min(want - got.len()).max(1), libc::MSG_DONTWAIT) {
            Ok(d) if d.is_empty() => break,
            Ok(d) => got.extend(d),
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    got
}

fn byte_stream(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (client, server, _listener) = tcp_pair()?;
    let limit = ctx.wait_limit();
    send(&client, b"abc", 0)?;
    send(&client, b"defgh", 0)?;
    let both_queued = wait_until(limit, || fionread(&server).is_ok_and(|n| n == 8));
    let merged = recv(&server, 100, libc::MSG_DONTWAIT);
    ctx.observe(
        "sends of 3 and 5 bytes; once 8 bytes are queued, one recv with room for 100",
        (both_queued, shown(&merged)),
    );

    let chunks =
        (prop::collection::vec(any::<u8>(), 1..20000), prop::collection::vec(1usize..4000, 1..8), 1usize..5000);
    let outcome = ctx.property(chunks, 32, 512, |(data, send_sizes, recv_size)| {
        let mut at = 0;
        for size in send_sizes.iter().cycle() {
            if at >= data.len() {
                break;
            }
            let end = (at + size).min(data.len());
            prop_assert_eq!(send(&client, &data[at..end], 0), Ok(end - at));
            at = end;
        }
        let got = read_exactly(&server, data.len(), recv_size, limit);
        prop_assert!(got == data, "received {} of {} bytes, or different bytes", got.len(), data.len());
        Ok(())
    });
    ctx.observe("property: random data sent in random chunk sizes, read in another random size", &outcome);

    // Both directions at once: each side sends before either reads.
    send(&client, b"to server", 0)?;
    send(&server, b"to client", 0)?;
    let at_server = read_exactly(&server, 9, 100, limit);
    let at_client = read_exactly(&client, 9, 100, limit);
    ctx.observe(
        "both sides send before either reads; what each then reads",
        (String::from_utf8_lossy(&at_server), String::from_utf8_lossy(&at_client)),
    );
    let no_boundaries = both_queued && merged.as_deref() == Ok(b"abcdefgh");
    ctx.check(
        "socket.tcp.byte_stream",
        no_boundaries && outcome.passed(),
        format!("the two sends came back as one 8-byte read, and in {} random chunkings the bytes read equalled the bytes sent", outcome.cases),
        format!("boundaries were kept or bytes differed: {:?}", outcome.counterexample),
    );
    ctx.check(
        "socket.tcp.recv_stream_ignores_boundaries",
        no_boundaries && outcome.passed(),
        "a recv returned what was queued across send boundaries, and no byte was dropped whatever the read size",
        "a stream recv kept boundaries or lost bytes (see observation)",
    );
    ctx.check(
        "socket.tcp.ordered_reliable_duplex",
        outcome.passed() && at_server == b"to server" && at_client == b"to client",
        "the bytes arrived complete and in order, and both directions carried data at the same time",
        "order, completeness or the two directions failed (see observation)",
    );
    Ok(())
}

/// accept4 asking for the peer's address with room for `room` bytes: the descriptor, the raw
/// address bytes and the length the kernel reported.
fn accept_with_address(listener: &impl AsRawFd, room: usize) -> Result<(OwnedFd, Vec<u8>, usize), Errno> {
    let mut buf = vec![0u8; room.max(1)];
    let mut len = room as libc::socklen_t;
    // SAFETY: buf has room bytes and len says so.
    let fd = Errno::result(unsafe {
        libc::accept4(listener.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len, libc::SOCK_CLOEXEC)
    })?;
    buf.truncate(room);
    // SAFETY: a new descriptor we own.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, buf, len as usize))
}

fn listen_and_accept(ctx: &mut Ctx) -> anyhow::Result<()> {
    let listener = tcp_listener(8)?;
    let port = local_port(&listener)?;
    let client = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let unbound = name_bytes(&client, 16)?.0;
    connect_v4(&client, LOOPBACK, port)?;
    let client_name = name_bytes(&client, 16)?.0;
    let (accepted, peer, peer_len) = accept_with_address(&listener, 16)?;
    // A second client, accepted with a buffer of 8 bytes: truncated, the length says 16.
    let client2 = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    connect_v4(&client2, LOOPBACK, port)?;
    let (_accepted2, short, short_len) = accept_with_address(&listener, 8)?;
    let client2_name = name_bytes(&client2, 16)?.0;
    // A third, accepted without asking for the address.
    let client3 = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    connect_v4(&client3, LOOPBACK, port)?;
    let accepted3 = crate::socket::accept(&listener);

    let listening = (
        int_option(&listener, libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
        int_option(&accepted, libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
    );
    let listener_peer = peer_bytes(&listener, 16).map(drop);
    let accepted_peer = peer_bytes(&accepted, 16).map(|(b, _)| b == client_name);
    send(&client, b"x", 0)?;
    let on_listener = recv(&listener, 10, libc::MSG_DONTWAIT);
    let on_accepted = read_exactly(&accepted, 1, 10, ctx.wait_limit());
    let norm = |b: &[u8]| v4_text(b).replace(&format!(":{}", u16::from_be_bytes([b[2], b[3]])), ":<port>");
    ctx.observe("client before connect (never bound): getsockname", v4_text(&unbound));
    ctx.observe("client after connect: getsockname", norm(&client_name));
    ctx.observe("accept's descriptor differs from the listener's", accepted.as_raw_fd() != listener.as_raw_fd());
    ctx.observe("SO_ACCEPTCONN on the listener, on the accepted socket", (call(&listening.0), call(&listening.1)));
    ctx.observe(
        "getpeername: on the listener; on the accepted socket equals the client's name",
        (call(&listener_peer), call(&accepted_peer)),
    );
    ctx.observe(
        "recv on the listener; on the accepted socket after the client sent \"x\"",
        (shown(&on_listener), String::from_utf8_lossy(&on_accepted)),
    );
    ctx.observe(
        "accept's address (16 bytes of room): the client's getsockname; length",
        (peer == client_name, peer_len),
    );
    ctx.observe(
        "accept with 8 bytes of room: the first 8 bytes of the client's name; length reported",
        (short[..] == client2_name[..8], short_len),
    );
    ctx.observe("accept with a null address and length", call(&accepted3.as_ref().map(drop).map_err(|e| *e)));
    ctx.check(
        "socket.tcp.listener_is_not_the_connection",
        listening == (Ok(1), Ok(0)) && listener_peer == Err(Errno::ENOTCONN) && on_accepted == b"x" && on_listener.is_err(),
        "the listening socket stayed a listener with no peer (getpeername ENOTCONN, recv failed); the data came on the socket accept returned",
        "the listening and connected sockets were not distinct (see observation)",
    );
    ctx.check(
        "socket.tcp.accept_returns_new_descriptor",
        accepted.as_raw_fd() != listener.as_raw_fd() && accepted_peer == Ok(true),
        "accept returned a new descriptor, connected to the client",
        "accept did not return a new connected descriptor",
    );
    ctx.check(
        "socket.tcp.accept_returns_peer_address",
        peer == client_name && peer_len == 16,
        "the address accept wrote is the client's own address and port (16 bytes)",
        "accept's address differs from the client's (see observation)",
    );
    ctx.check(
        "socket.tcp.accept_address_optional",
        accepted3.is_ok(),
        "accept with a null address and length accepted the connection",
        "accept failed without an address buffer",
    );
    ctx.check(
        "socket.tcp.accept_address_truncated",
        short[..] == client2_name[..8] && short_len == 16,
        "with 8 bytes of room accept wrote the first 8 bytes of the address, succeeded, and set the length to the full 16",
        "accept's truncation differs (see observation)",
    );
    ctx.check(
        "socket.tcp.client_bind_optional",
        unbound[2..8] == [0; 6] && client_name[4..8] == LOOPBACK && client_name[2..4] != [0, 0],
        "a client that never called bind was given a local address and a free port by connect",
        "connect did not bind the client (see observation)",
    );
    Ok(())
}

fn accept_waits(ctx: &mut Ctx) -> anyhow::Result<()> {
    let listener = tcp_listener(8)?;
    let port = local_port(&listener)?;
    let raw = listener.as_raw_fd();
    let mut child = ctx.spawn(move || {
        // SAFETY: a plain accept4 on the inherited listener.
        let fd = unsafe { libc::accept4(raw, std::ptr::null_mut(), std::ptr::null_mut(), 0) };
        if fd >= 0 {
            0
        } else {
            1
        }
    })?;
    let blocked = child.wait_blocked(libc::SYS_accept4, ctx.wait_limit());
    let client = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    connect_v4(&client, LOOPBACK, port)?;
    let woke = child.wait_exit(ctx.wait_limit());
    ctx.observe("accept on a blocking listener with no pending connection", blocked_obs(&blocked));
    ctx.observe(
        "after a client connects, the blocked accept returned a descriptor (exit 0)",
        woke.as_ref().map(|e| e.to_string()).map_err(|e| e.to_string()),
    );
    ctx.check(
        "socket.tcp.accept_blocks",
        blocked.is_ok() && woke.is_ok_and(|e| e == harness::proc::Exit::Code(0)),
        "accept slept in accept4 until a connection came, then returned it",
        "accept did not block, or did not return when a client connected (see observation)",
    );

    let nonblocking = tcp_listener(8)?;
    set_nonblocking(&nonblocking)?;
    let empty = crate::socket::accept(&nonblocking).map(drop);
    ctx.observe("accept on a non-blocking listener with no pending connection", call(&empty));
    ctx.check(
        "socket.tcp.accept_nonblocking_eagain",
        empty == Err(Errno::EAGAIN),
        "it failed at once with EAGAIN (EWOULDBLOCK is the same number on Linux)",
        "accept on a non-blocking listener did something else",
    );

    let not_listening = bound_v4(libc::SOCK_STREAM)?;
    let unlistened = crate::socket::accept(&not_listening).map(drop);
    let unbound = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let listened = listen(&unbound, 4);
    let auto = name_bytes(&unbound, 16)?.0;
    let auto_port = u16::from_be_bytes([auto[2], auto[3]]);
    let c = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let reached = connect_v4(&c, LOOPBACK, auto_port);
    let taken = crate::socket::accept(&unbound).map(drop);
    ctx.observe("accept on a bound socket that never called listen", call(&unlistened));
    ctx.observe(
        "listen on a socket never bound; its address afterwards (port normalised)",
        (call(&listened), v4_text(&auto).replace(&format!(":{auto_port}"), ":<port>")),
    );
    ctx.observe("a client connects to that port; accept", (call(&reached), call(&taken)));
    let decision = match (unlistened, listened, auto_port != 0 && reached.is_ok() && taken.is_ok()) {
        (Err(Errno::EINVAL), Ok(()), true) => Decision::partial(
            "listen is required (accept without it: EINVAL), but bind is not: listen on an unbound socket bound it to 0.0.0.0 and a free port, and accept then worked",
        ),
        (Err(Errno::EINVAL), Err(_), _) => Decision::holds("accept needs listen (EINVAL without), and listen refused an unbound socket"),
        _ => Decision::refuted("accept worked without listen (see observation)"),
    };
    ctx.decide("socket.tcp.accept_needs_bind_and_listen", decision);
    Ok(())
}

/// The accept queue's limit (TCP_INFO of a listener) after listen(backlog).
fn queue_limit(backlog: i32) -> Result<u32, Errno> {
    let s = tcp_listener(backlog)?;
    tcp_info(&s).map(|(_, _, limit)| limit)
}

fn listen_backlog(ctx: &mut Ctx) -> anyhow::Result<()> {
    let somaxconn = sysctl("net.core.somaxconn").and_then(|s| s.parse::<u32>().ok());
    let header = crate::socket::header_define(&crate::toolchain::arch_header("bits/socket.h"), "SOMAXCONN")
        .or_else(|| crate::socket::header_define("/usr/include/bits/socket.h", "SOMAXCONN"));
    let limits: Vec<(i32, Result<u32, Errno>)> =
        [0, 1, 5, -1, -100, 65535, i32::MAX].into_iter().map(|b| (b, queue_limit(b))).collect();
    let limit_of = |b: i32| limits.iter().find(|(x, _)| *x == b).map(|(_, l)| *l);
    ctx.observe(
        "net.core.somaxconn; SOMAXCONN in bits/socket.h; libc crate's SOMAXCONN",
        (somaxconn, header, libc::SOMAXCONN),
    );
    ctx.observe(
        "listen(backlog) -> the accept queue's limit (TCP_INFO tcpi_sacked of the listener)",
        limits.iter().map(|(b, l)| format!("{b} -> {}", call(l))).collect::<Vec<_>>(),
    );

    // How many connections a backlog of 0 and of 2 queue before SYNs are dropped: clients are
    // non-blocking, so a dropped SYN leaves one in SYN_SENT instead of blocking this process.
    let mut queued = Vec::new();
    let mut refused = Vec::new();
    for backlog in [0, 2] {
        // A listen the kernel refuses is an observation about the backlog, not a broken step.
        let listener = match tcp_listener(backlog) {
            Ok(l) => l,
            Err(e) => {
                refused.push((backlog, errno_name(e)));
                continue;
            }
        };
        let port = local_port(&listener)?;
        let clients: Vec<OwnedFd> = (0..5)
            .map(|_| {
                let c = socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
                let _ = connect_v4(&c, LOOPBACK, port);
                Ok(c)
            })
            .collect::<Result<_, Errno>>()?;
        // The queue fills as the handshakes finish in softirq context; then nothing changes
        // until the dropped clients retransmit (after a second), so a short bounded wait ends it.
        let settled = wait_until(ctx.wait_limit(), || tcp_info(&listener).is_ok_and(|(_, q, _)| q as i32 > backlog));
        let _ = wait_until(NOT_RECEIVED_WITHIN, || false);
        let in_queue = tcp_info(&listener).map(|(_, q, _)| q)?;
        let established = clients.iter().filter(|c| tcp_info(*c).is_ok_and(|(s, _, _)| s == "ESTABLISHED")).count();
        let waiting = clients.iter().filter(|c| tcp_info(*c).is_ok_and(|(s, _, _)| s == "SYN_SENT")).count();
        queued.push((backlog, settled, in_queue, established, waiting));
    }
    ctx.observe(
        "backlog, queue filled, connections in the accept queue, clients ESTABLISHED, clients still SYN_SENT (of 5 non-blocking connects)",
        &queued,
    );
    if !refused.is_empty() {
        ctx.observe("listen refused for backlog", &refused);
    }
    let sized = refused.is_empty()
        && queued.iter().all(|(b, s, q, e, w)| *s && *q as i32 == b + 1 && *e == *q as usize && *w == 5 - *q as usize);
    ctx.decide(
        "socket.tcp.listen_backlog_limits_queue",
        if sized {
            Decision::partial("the backlog bounds the queue of completed connections, but Linux queues backlog + 1 (0 -> 1, 2 -> 3); the other clients' SYNs were dropped and they stayed in SYN_SENT")
        } else if refused.is_empty() && queued.iter().all(|(b, _, q, _, _)| *q as i32 == *b) {
            Decision::holds("the queue held exactly backlog connections")
        } else {
            Decision::refuted("the queue length did not follow the backlog (see observation)")
        },
    );
    let max = somaxconn.unwrap_or(0);
    let clamps = limit_of(65535) == Some(Ok(max)) && limit_of(i32::MAX) == Some(Ok(max));
    ctx.decide(
        "socket.tcp.listen_somaxconn_is_max",
        match header {
            Some(h) if clamps && h as u32 == max => Decision::partial(format!(
                "SOMAXCONN is {h} in <bits/socket.h> (included by <sys/socket.h>), but the ceiling applied is the sysctl net.core.somaxconn ({max}), which only equals it by default"
            )),
            Some(h) if clamps => Decision::refuted(format!("the ceiling is net.core.somaxconn ({max}), not SOMAXCONN ({h})")),
            None => Decision::skipped("the C headers (bits/socket.h) are not installed, so SOMAXCONN cannot be read"),
            Some(_) => Decision::refuted("large backlogs were not clamped to one maximum (see observation)"),
        },
    );
    ctx.check(
        "socket.tcp.listen_above_max_clamped",
        clamps,
        format!("backlogs of 65535 and INT_MAX were set to the maximum, {max}"),
        "a backlog above the maximum was not clamped to it (see observation)",
    );
    let zero_min = limit_of(0) == Some(Ok(0)) && queued.first().is_some_and(|(b, _, q, _, _)| *b == 0 && *q == 1);
    ctx.check(
        "socket.tcp.listen_zero_minimum",
        zero_min,
        "listen(0) succeeded with the smallest queue there is: a limit of 0, which on Linux still admits one connection",
        "listen(0) did not give the smallest queue (see observation)",
    );
    let negative = limit_of(-1);
    ctx.decide(
        "socket.tcp.listen_negative_like_zero",
        if negative == limit_of(0) {
            Decision::holds("a negative backlog gave the same queue as 0")
        } else if negative == Some(Ok(max)) && limit_of(-100) == Some(Ok(max)) {
            Decision::refuted(format!(
                "a negative backlog is not like 0: listen compares it as unsigned, so -1 and -100 gave the maximum queue ({max}), 0 gave 0"
            ))
        } else {
            Decision::refuted("a negative backlog differed from 0 (see observation)")
        },
    );
    Ok(())
}

fn connect(ctx: &mut Ctx) -> anyhow::Result<()> {
    // Non-blocking connect to a listener with room: EINPROGRESS, then writable with SO_ERROR 0.
    let listener = tcp_listener(8)?;
    let port = local_port(&listener)?;
    let c = socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
    let first = connect_v4(&c, LOOPBACK, port);
    let writable = poll_events(&c, PollFlags::POLLOUT, ctx.wait_limit()).contains(PollFlags::POLLOUT);
    let so_error = int_option(&c, libc::SOL_SOCKET, libc::SO_ERROR);
    let again = connect_v4(&c, LOOPBACK, port);
    // A listener whose queue (backlog 0: one connection) is full drops further SYNs, so
    // connects to it stay in progress until a retransmission after about a second.
    let full = tcp_listener(0)?;
    let full_port = local_port(&full)?;
    let filler = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    connect_v4(&filler, LOOPBACK, full_port)?;
    let queue_full = wait_until(ctx.wait_limit(), || tcp_info(&full).is_ok_and(|(_, q, _)| q == 1));
    let pending = socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
    let p1 = connect_v4(&pending, LOOPBACK, full_port);
    let p2 = connect_v4(&pending, LOOPBACK, full_port);
    let p_state = tcp_info(&pending).map(|(s, _, _)| s);
    ctx.observe(
        "non-blocking connect to a listener with room: first call, poll writable, SO_ERROR, connect again",
        (call(&first), writable, call(&so_error), call(&again)),
    );
    ctx.observe(
        "non-blocking connect to a listener whose queue is full: first call, second call, state",
        (queue_full, call(&p1), call(&p2), call(&p_state)),
    );
    ctx.check(
        "socket.tcp.connect_nonblocking_einprogress",
        first == Err(Errno::EINPROGRESS)
            && writable
            && so_error == Ok(0)
            && (again.is_ok() || again == Err(Errno::EISCONN))
            && p1 == Err(Errno::EINPROGRESS)
            && p2 == Err(Errno::EALREADY)
            && p_state == Ok("SYN_SENT"),
        "a non-blocking connect failed with EINPROGRESS; while still in progress a second connect gave EALREADY; a completed one polled writable with SO_ERROR 0 (and a further connect reported success)",
        "the non-blocking connect sequence differs (see observation)",
    );

    // Only the interrupted connect below may retry on this listener once it has room.
    drop(pending);

    // A blocking connect to the full listener, interrupted by a signal without SA_RESTART.
    let mut reporting = ctx.spawn_reporting(move || {
        let _ = catch_with_noop(Signal::SIGUSR1, false);
        let Ok(s) = socket(libc::AF_INET, libc::SOCK_STREAM, 0) else { return Vec::new() };
        let interrupted = call(&connect_v4(&s, LOOPBACK, full_port));
        let state = call(&tcp_info(&s).map(|(st, _, _)| st));
        // Asked again without blocking: is the attempt still going on?
        let _ = set_nonblocking(&s);
        let again = call(&connect_v4(&s, LOOPBACK, full_port));
        // Waits (bounded) for the connection to complete in the background.
        let done = poll_events(&s, PollFlags::POLLOUT, std::time::Duration::from_secs(4)).contains(PollFlags::POLLOUT);
        vec![
            interrupted,
            state,
            again,
            serde_json::json!(done),
            call(&int_option(&s, libc::SOL_SOCKET, libc::SO_ERROR)),
            call(&tcp_info(&s).map(|(st, _, _)| st)),
        ]
    })?;
    let blocked = reporting.child().wait_blocked(libc::SYS_connect, ctx.wait_limit());
    reporting.child().signal(Signal::SIGUSR1)?;
    // Once the child waits in poll, make room in the queue so its retransmitted SYN is taken.
    let polling = harness::proc::wait_in_call(reporting.child().raw_pid(), "waiting in poll", ctx.wait_limit(), |n| {
        harness::proc::same_call(libc::SYS_poll, n)
    });
    let made_room = crate::socket::accept(&full).map(drop);
    let (report, _) = reporting.finish(std::time::Duration::from_secs(6).max(ctx.wait_limit()))?;
    let report = report.unwrap_or_default();
    ctx.observe("blocking connect to the full listener", blocked_obs(&blocked));
    ctx.observe(
        "the child went on to poll after the signal; the parent then accepted the queued connection",
        (polling.is_ok(), call(&made_room)),
    );
    ctx.observe("child: connect after SIGUSR1, state, connect again (non-blocking), poll writable (bounded 4 s), SO_ERROR, final state", &report);
    let r = |i: usize| report.get(i).cloned().unwrap_or_default();
    let eintr = r(0) == "-1 EINTR";
    ctx.check(
        "socket.tcp.connect_interrupted_continues",
        blocked.is_ok() && eintr && r(1) == "SYN_SENT" && r(2) == "-1 EALREADY" && r(3) == true && r(4) == 0 && r(5) == "ESTABLISHED",
        "the interrupted connect failed with EINTR, yet the attempt went on (EALREADY, SYN_SENT) and the connection was established asynchronously once the queue had room",
        "an interrupted connect did not continue in the background (see observation)",
    );

    // A port nobody listens on.
    let closed_port = crate::socket::free_port(libc::SOCK_STREAM)?;
    let refused_socket = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let refused = connect_v4(&refused_socket, LOOPBACK, closed_port);
    ctx.observe("blocking connect to a port nobody listens on", call(&refused));
    ctx.decide(
        "socket.tcp.connect_fails_when_not_made",
        match refused {
            Err(Errno::ECONNREFUSED) => Decision::partial(
                "a connection that cannot be made fails: here at once with ECONNREFUSED (the peer's RST), not after a time; the timeout path (ETIMEDOUT after minutes of SYN retries) was not waited for",
            ),
            Err(e) => Decision::holds(format!("the connect failed with {}", errno_name(e))),
            Ok(()) => Decision::refuted("a connect to a port nobody listens on succeeded"),
        },
    );
    Ok(())
}

fn bind_rules(ctx: &mut Ctx) -> anyhow::Result<()> {
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface here; bind sends nothing.
    let foreign = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let not_local = bind_v4(&foreign, [192, 0, 2, 1], 0);
    let freebind = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    crate::socket::set_int_option(&freebind, libc::SOL_IP, libc::IP_FREEBIND, 1)?;
    let with_freebind = bind_v4(&freebind, [192, 0, 2, 1], 0);
    let nonlocal_sysctl = sysctl("net.ipv4.ip_nonlocal_bind");
    ctx.observe(
        "bind 192.0.2.1 (no interface has it); with IP_FREEBIND; net.ipv4.ip_nonlocal_bind",
        (call(&not_local), call(&with_freebind), nonlocal_sysctl.clone()),
    );
    ctx.decide(
        "socket.tcp.bind_address_must_be_local",
        match (not_local, with_freebind) {
            (Err(Errno::EADDRNOTAVAIL), Ok(())) => Decision::partial(
                "another machine's address is refused (EADDRNOTAVAIL), unless the socket sets IP_FREEBIND (then bind succeeded) or net.ipv4.ip_nonlocal_bind is 1",
            ),
            (Err(Errno::EADDRNOTAVAIL), _) => Decision::holds("another machine's address is refused with EADDRNOTAVAIL"),
            _ => Decision::refuted("a non-local address was bound without IP_FREEBIND (see observation)"),
        },
    );

    let v4 = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let six = crate::socket::sockaddr_v6(std::net::Ipv6Addr::UNSPECIFIED, 0, 0);
    // SAFETY: six is a valid sockaddr_in6 of the length given.
    let v6_on_v4 =
        Errno::result(unsafe { libc::bind(v4.as_raw_fd(), (&six as *const libc::sockaddr_in6).cast(), 28) }).map(drop);
    let mut unspec = sockaddr_v4([0, 0, 0, 0], 0);
    unspec.sin_family = libc::AF_UNSPEC as u16;
    // SAFETY: a valid sockaddr_in-sized address.
    let unspec_any =
        Errno::result(unsafe { libc::bind(v4.as_raw_fd(), (&unspec as *const libc::sockaddr_in).cast(), 16) })
            .map(drop);
    let short = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let sa = sockaddr_v4(LOOPBACK, 0);
    // SAFETY: a valid address, with a length shorter than it.
    let too_short =
        Errno::result(unsafe { libc::bind(short.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), 8) }).map(drop);
    ctx.observe(
        "AF_INET socket: bind an AF_INET6 address; an AF_UNSPEC address 0.0.0.0; an AF_INET address of 8 bytes",
        (call(&v6_on_v4), call(&unspec_any), call(&too_short)),
    );
    ctx.decide(
        "socket.tcp.bind_family_must_match",
        match (v6_on_v4, unspec_any) {
            (Err(Errno::EAFNOSUPPORT), Ok(())) => Decision::partial(
                "another family's address is refused (EAFNOSUPPORT), but an AF_INET socket accepts AF_UNSPEC with INADDR_ANY, a compatibility exception",
            ),
            (Err(Errno::EAFNOSUPPORT), _) => Decision::holds("another family's address is refused with EAFNOSUPPORT"),
            _ => Decision::refuted("an address of another family was accepted (see observation)"),
        },
    );

    let mut rows = Vec::new();
    let mut exclusive = true;
    let mut reuseport = true;
    for ty in [libc::SOCK_STREAM, libc::SOCK_DGRAM] {
        let first = bound_v4(ty)?;
        let port = local_port(&first)?;
        let second = socket(libc::AF_INET, ty, 0)?;
        let taken = bind_v4(&second, LOOPBACK, port);
        let a = socket(libc::AF_INET, ty, 0)?;
        let b = socket(libc::AF_INET, ty, 0)?;
        crate::socket::set_int_option(&a, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        crate::socket::set_int_option(&b, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        bind_v4(&a, LOOPBACK, 0)?;
        let shared = bind_v4(&b, LOOPBACK, local_port(&a)?);
        exclusive &= taken == Err(Errno::EADDRINUSE);
        reuseport &= shared.is_ok();
        rows.push((if ty == libc::SOCK_STREAM { "TCP" } else { "UDP" }, call(&taken), call(&shared)));
    }
    ctx.observe("a second bind to a bound address; two sockets with SO_REUSEPORT on one address", &rows);
    ctx.check(
        "socket.tcp.bind_one_socket_per_address",
        exclusive && reuseport,
        "a second bind to an address in use failed with EADDRINUSE (TCP and UDP), and with SO_REUSEPORT on both sockets two could share it",
        "binding one address twice behaved otherwise (see observation)",
    );
    ctx.check(
        "socket.tcp.bind_returns",
        exclusive && not_local == Err(Errno::EADDRNOTAVAIL) && reuseport,
        "bind returned 0 on success and -1 with errno (EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT) on failure",
        "bind's return values differ (see observation)",
    );

    // bind names a socket that has no address: one that has one already, by bind or by connect.
    let once = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let first_bind = bind_v4(&once, LOOPBACK, 0);
    let again = bind_v4(&once, LOOPBACK, 0);
    let listener = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    bind_v4(&listener, LOOPBACK, 0)?;
    listen(&listener, 1)?;
    let client = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    connect_v4(&client, LOOPBACK, local_port(&listener)?)?;
    let after_connect = bind_v4(&client, LOOPBACK, 0);
    ctx.observe(
        "bind an unbound socket; bind it again; bind a socket connect gave an address",
        (call(&first_bind), call(&again), call(&after_connect)),
    );
    ctx.decide(
        "socket.tcp.bind_only_when_unbound",
        match (&first_bind, &again, &after_connect) {
            (Ok(()), Err(Errno::EINVAL), Err(Errno::EINVAL)) => Decision::holds(
                "bind gave the unbound socket an address; a second bind, and a bind after connect had chosen one, failed with EINVAL",
            ),
            (Ok(()), Ok(()), _) | (Ok(()), _, Ok(())) => {
                Decision::refuted("a socket that had an address was bound again (see observation)")
            }
            _ => Decision::refuted("bind behaved otherwise (see observation)"),
        },
    );

    // INADDR_ANY: reachable through every local address of lo (127.0.0.0/8).
    let any = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    bind_v4(&any, [0, 0, 0, 0], 0)?;
    listen(&any, 8)?;
    let port = local_port(&any)?;
    let mut locals = Vec::new();
    for ip in [[127, 0, 0, 1], [127, 0, 0, 2], [127, 1, 2, 3]] {
        let c = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
        let r = connect_v4(&c, ip, port).and_then(|_| crate::socket::accept(&any)).and_then(|a| name_bytes(&a, 16));
        locals.push(r.map(|(b, _)| v4_text(&b[..8]).replace(&format!(":{port}"), "")).map_err(errno_name));
    }
    ctx.observe(
        "a listener on 0.0.0.0; connections to 127.0.0.1, 127.0.0.2, 127.1.2.3: the accepted socket's local address",
        &locals,
    );
    ctx.check(
        "socket.tcp.bind_inaddr_any_all_interfaces",
        locals == vec![Ok("127.0.0.1".to_string()), Ok("127.0.0.2".to_string()), Ok("127.1.2.3".to_string())],
        "a socket bound to INADDR_ANY accepted connections to every local address tried, each keeping the address it was reached at (this run only has lo's 127.0.0.0/8)",
        "INADDR_ANY did not cover every local address (see observation)",
    );
    Ok(())
}

/// "0" or "-1 ERRNO".
fn plain(r: &Result<(), Errno>) -> String {
    match r {
        Ok(()) => "0".to_string(),
        Err(e) => format!("-1 {}", errno_name(*e)),
    }
}

/// A free port at or below `at_most`, found by binding as this (privileged) process.
fn free_port_at_or_below(at_most: u16) -> Option<u16> {
    (at_most.saturating_sub(64)..=at_most)
        .rev()
        .find(|p| socket(libc::AF_INET, libc::SOCK_STREAM, 0).is_ok_and(|s| bind_v4(&s, LOOPBACK, *p).is_ok()))
}

fn privileged_ports(ctx: &mut Ctx) -> anyhow::Result<()> {
    let start = sysctl("net.ipv4.ip_unprivileged_port_start");
    ctx.observe("net.ipv4.ip_unprivileged_port_start", &start);
    let max_port = socket(libc::AF_INET, libc::SOCK_STREAM, 0)
        .and_then(|s| bind_v4(&s, LOOPBACK, 65535).and_then(|_| local_port(&s)));
    let zero = bound_v4(libc::SOCK_STREAM).and_then(|s| local_port(&s).map(|p| p != 0));
    ctx.observe(
        "sizeof(sin_port); bind port 65535 (gets 65535 unless in use); bind port 0 gives a non-zero port",
        (size_of::<libc::in_port_t>(), call(&max_port.map(|p| p == 65535)), call(&zero)),
    );
    ctx.decide(
        "socket.tcp.port_sixteen_bit_unsigned",
        if size_of::<libc::in_port_t>() == 2 && zero == Ok(true) && max_port.map_or(true, |p| p == 65535) {
            Decision::partial("ports are 16-bit unsigned (in_port_t has 2 bytes, 65535 binds), but 0 is no port a socket keeps: binding 0 asks the kernel for a free one")
        } else {
            Decision::refuted("the port range differs (see observation)")
        },
    );
    if !is_root() {
        for claim in ["socket.tcp.bind_low_ports_need_root", "socket.tcp.port_below_256_reserved"] {
            ctx.decide(claim, Decision::skipped("needs root, to compare a privileged bind with uid 65534's"));
        }
        return Ok(());
    }
    let probes: Vec<u16> = [255u16, 256, 1023].into_iter().filter_map(free_port_at_or_below).collect();
    let (as_nobody, _) = ctx.in_child_as_nobody({
        let probes = probes.clone();
        move || {
            let mut out: Vec<(u16, String)> = probes
                .iter()
                .map(|p| {
                    (*p, plain(&socket(libc::AF_INET, libc::SOCK_STREAM, 0).and_then(|s| bind_v4(&s, LOOPBACK, *p))))
                })
                .collect();
            let high = bound_v4(libc::SOCK_STREAM).and_then(|s| local_port(&s)).map(|p| p >= 1024);
            out.push((0, if high == Ok(true) { "true".to_string() } else { format!("{high:?}") }));
            out
        }
    })?;
    let as_nobody = as_nobody.unwrap_or_default();
    let root_binds: Vec<bool> = probes.clone().into_iter().map(|_| true).collect();
    let label = |p: u16| match p {
        0 => "an ephemeral port (>= 1024)".to_string(),
        p if p <= 255 => "a free port <= 255".to_string(),
        p if p <= 256 => "a free port in 193..256".to_string(),
        _ => "a free port in 960..1023".to_string(),
    };
    ctx.observe("as root: free ports found by binding near 255, 256 and 1023", root_binds.len() == 3);
    ctx.observe(
        "as uid 65534: bind to each of them, then an ephemeral port",
        as_nobody.iter().map(|(p, r)| (label(*p), r.clone())).collect::<Vec<_>>(),
    );
    let refused = |r: &str| r == "-1 EACCES";
    let all_low_refused =
        as_nobody.len() == 4 && as_nobody[..3].iter().all(|(_, r)| refused(r)) && as_nobody[3].1 == "true";
    ctx.check(
        "socket.tcp.bind_low_ports_need_root",
        probes.len() == 3 && all_low_refused && start.as_deref() == Some("1024"),
        "root bound ports below 1024; uid 65534 got EACCES for each of them and was given ports >= 1024 (net.ipv4.ip_unprivileged_port_start is 1024)",
        format!("the privilege line is elsewhere (ip_unprivileged_port_start {start:?}; see observation)"),
    );
    // The line at 256 shows only as a difference between the port below it and those above.
    let results: Vec<&str> = as_nobody.iter().take(3).map(|(_, r)| r.as_str()).collect();
    ctx.decide(
        "socket.tcp.port_below_256_reserved",
        match results[..] {
            _ if probes.len() != 3 => Decision::skipped("free ports near 255, 256 and 1023 could not all be found"),
            [low, mid, high] if low == mid && mid == high => Decision::refuted(format!(
                "nothing changes at 256: uid 65534 got {} for a port below 256 and for 256 and 1023 alike, and root could bind them all; the kernel's line is net.ipv4.ip_unprivileged_port_start ({})",
                if refused(low) { "EACCES" } else { "the port" },
                start.as_deref().unwrap_or("unknown")
            )),
            [low, mid, high] if mid == high && low != mid => {
                Decision::holds(format!("uid 65534 got {low} below 256 and {mid} for 256 and 1023: the line is at 256"))
            }
            _ => Decision::skipped(format!("uid 65534's binds gave {results:?}: no line at 256 or at one place")),
        },
    );
    Ok(())
}

fn names(ctx: &mut Ctx) -> anyhow::Result<()> {
    let unbound = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let (unbound_name, unbound_len) = name_bytes(&unbound, 16)?;
    let peer_unconnected = peer_bytes(&unbound, 16).map(drop);
    let (client, accepted, _listener) = tcp_pair()?;
    let full = name_bytes(&client, 16)?.0;
    let short = name_bytes(&client, 6)?;
    let peer_full = peer_bytes(&accepted, 16)?.0;
    let peer_short = peer_bytes(&accepted, 6)?;
    ctx.observe(
        "getsockname of a socket never bound: return, address, length",
        (0, v4_text(&unbound_name), unbound_len),
    );
    ctx.observe("getpeername of a socket never connected", call(&peer_unconnected));
    ctx.observe(
        "getsockname with 6 bytes of room: the first 6 bytes of the full name; the length reported",
        (short.0[..] == full[..6], short.1),
    );
    ctx.observe(
        "getpeername with 6 bytes of room: the first 6 bytes of the full name; the length reported",
        (peer_short.0[..] == peer_full[..6], peer_short.1),
    );
    ctx.decide(
        "socket.tcp.name_getsockname_unbound",
        if unbound_name[..8] == [2, 0, 0, 0, 0, 0, 0, 0] && unbound_len == 16 {
            Decision::partial("Linux defines the result: getsockname succeeded with AF_INET, 0.0.0.0, port 0")
        } else {
            Decision::holds("getsockname of an unbound socket gave no usable address (see observation)")
        },
    );
    ctx.check(
        "socket.tcp.name_getsockname_truncates",
        short.0[..] == full[..6] && short.1 == 16,
        "with 6 bytes of room getsockname succeeded, wrote the first 6 bytes and set the length to 16: truncated without an error",
        "getsockname's truncation differs (see observation)",
    );
    ctx.decide(
        "socket.tcp.name_getpeername_unconnected",
        match peer_unconnected {
            Err(Errno::ENOTCONN) => {
                Decision::partial("not undefined on Linux: getpeername of a socket without a peer fails with ENOTCONN")
            }
            Err(e) => Decision::holds(format!("getpeername failed with {}", errno_name(e))),
            Ok(()) => Decision::holds("getpeername succeeded with some address (see observation)"),
        },
    );
    ctx.check(
        "socket.tcp.name_getpeername_truncates",
        peer_short.0[..] == peer_full[..6] && peer_short.1 == 16,
        "with 6 bytes of room getpeername succeeded, wrote the first 6 bytes and set the length to 16: truncated without an error",
        "getpeername's truncation differs (see observation)",
    );
    Ok(())
}

/// What a fill showed, for the observation (the byte count depends on timing and stays out).
fn fullness(fill: &Result<usize, String>) -> &str {
    fill.as_ref().map_or_else(String::as_str, |_| "full and stable")
}

/// A claim about a full socket cannot be decided when the socket could not be shown full.
fn unreached(fill: &Result<usize, String>) -> Option<Decision> {
    fill.as_ref().err().map(|e| Decision::skipped(format!("the socket could not be shown full: {e}")))
}

fn send_buffer_full(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (client, server, _listener) = tcp_pair()?;
    set_nonblocking(&client)?;
    let writable_before =
        poll_events(&client, PollFlags::POLLOUT, std::time::Duration::ZERO).contains(PollFlags::POLLOUT);
    // "Full" is the state the kernel can show: the reader's window closed, nothing in flight,
    // a top-up refused; from there nothing frees room until the reader reads.
    let full = fill_until_window_closed(&client, ctx.wait_limit());
    let again = send(&client, b"more", 0);
    let writable_full =
        poll_events(&client, PollFlags::POLLOUT, std::time::Duration::ZERO).contains(PollFlags::POLLOUT);
    // The reader drains; POLLOUT returns once enough of the send buffer is free again.
    set_nonblocking(&server)?;
    let mut drained = 0;
    let writable_again = wait_until(ctx.wait_limit(), || {
        drained += drain_nonblocking(&server).unwrap_or(0);
        poll_events(&client, PollFlags::POLLOUT, std::time::Duration::ZERO).contains(PollFlags::POLLOUT)
    });
    // A large non-blocking send returns the part that fitted.
    let partial_send = send(&client, &vec![0u8; 1 << 24], 0);
    let full_again = fill_until_window_closed(&client, ctx.wait_limit());
    crate::util::clear_nonblocking(&client)?;
    let raw = client.as_raw_fd();
    let mut reporting = ctx.spawn_reporting(move || {
        // SAFETY: the inherited socket, proven full; a blocking send of 1000 bytes.
        unsafe { libc::send(raw, [1u8; 1000].as_ptr().cast(), 1000, 0) }
    })?;
    let blocked = reporting.child().wait_blocked(libc::SYS_sendto, ctx.wait_limit());
    // Make room: read everything queued so far.
    let _ = wait_until(ctx.wait_limit(), || {
        drained += drain_nonblocking(&server).unwrap_or(0);
        reporting.child().try_exit().ok().flatten().is_some()
    });
    let (sent_after, exit) = reporting.finish(ctx.wait_limit())?;
    ctx.observe(
        "non-blocking: writable before; filled until the reader's window closed and a top-up took nothing",
        (writable_before, fullness(&full)),
    );
    ctx.observe("then: one more send, writable when full", (call(&again), writable_full));
    ctx.observe(
        "as the reader drained: writable again; a 16 MiB non-blocking send returned fewer bytes than asked",
        (writable_again, partial_send.is_ok_and(|n| n > 0 && n < 1 << 24)),
    );
    ctx.observe("before the blocking send: filled again until full and stable", fullness(&full_again));
    ctx.observe("blocking send of 1000 bytes into the full buffer", blocked_obs(&blocked));
    ctx.observe("after the reader drained the socket: the blocked send returned; exit", (sent_after, exit.to_string()));
    ctx.decide(
        "socket.tcp.send_blocks_when_full",
        unreached(&full_again).unwrap_or_else(|| {
            Decision::from_check(
                blocked.is_ok() && sent_after == Some(1000),
                "a blocking send into a full socket slept in sendto and returned 1000 once the reader made room",
                "the blocking send did not wait for room although the socket was shown full (see observation)",
            )
        }),
    );
    ctx.decide(
        "socket.tcp.send_nonblocking_fails_when_full",
        unreached(&full).unwrap_or_else(|| {
            Decision::from_check(
                again == Err(Errno::EAGAIN),
                "a non-blocking send into a full socket failed at once with EAGAIN",
                "the non-blocking send into a full socket did something else",
            )
        }),
    );
    ctx.decide(
        "socket.tcp.send_poll_tells_writable",
        unreached(&full).unwrap_or_else(|| {
            Decision::from_check(
                writable_before && !writable_full && writable_again,
                "poll showed POLLOUT with room, none when full, and POLLOUT again once the reader had drained the data",
                "poll's writability did not follow the buffer (see observation)",
            )
        }),
    );
    ctx.decide(
        "socket.tcp.send_returns_bytes",
        if partial_send.is_ok_and(|n| n > 0 && n < 1 << 24) && sent_after == Some(1000) {
            Decision::holds("send returned the bytes it took: all 1000 when blocking, and on a non-blocking socket only the part that fitted of 16 MiB (a short count, not an error)")
        } else {
            Decision::refuted("send's return value did not count the bytes taken (see observation)")
        },
    );
    Ok(())
}

fn recv_waits(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (client, server, _listener) = tcp_pair()?;
    let raw = server.as_raw_fd();
    let mut reporting = ctx.spawn_reporting(move || {
        let mut buf = [0u8; 100];
        // SAFETY: buf has 100 bytes.
        unsafe { libc::recv(raw, buf.as_mut_ptr().cast(), 100, 0) }
    })?;
    let blocked = reporting.child().wait_blocked(libc::SYS_recvfrom, ctx.wait_limit());
    send(&client, b"wake", 0)?;
    let (woke, _) = reporting.finish(ctx.wait_limit())?;
    ctx.observe(
        "blocking recv with nothing queued; after the peer sends 4 bytes it returned",
        (blocked_obs(&blocked), woke),
    );
    ctx.check(
        "socket.tcp.recv_blocks_without_data",
        blocked.is_ok() && woke == Some(4),
        "recv slept in recvfrom until data came, then returned it",
        "recv did not wait for data (see observation)",
    );
    let (c2, s2, _l2) = tcp_pair()?;
    set_nonblocking(&s2)?;
    let nonblocking = recv(&s2, 100, 0);
    let dontwait = recv(&server, 100, libc::MSG_DONTWAIT);
    let still_blocking =
        !nix::fcntl::OFlag::from_bits_truncate(nix::fcntl::fcntl(&server, nix::fcntl::FcntlArg::F_GETFL)?)
            .contains(nix::fcntl::OFlag::O_NONBLOCK);
    ctx.observe("recv on an empty O_NONBLOCK socket; recv(MSG_DONTWAIT) on an empty blocking socket; that socket still blocking", (shown(&nonblocking), shown(&dontwait), still_blocking));
    ctx.check(
        "socket.tcp.recv_nonblocking_fails",
        nonblocking == Err(Errno::EAGAIN),
        "recv on an empty non-blocking socket failed at once with EAGAIN",
        "recv on an empty non-blocking socket did something else",
    );
    ctx.check(
        "socket.tcp.recv_msg_dontwait",
        dontwait == Err(Errno::EAGAIN) && still_blocking,
        "MSG_DONTWAIT made one recv on a blocking socket fail with EAGAIN, like O_NONBLOCK, without changing the socket",
        "MSG_DONTWAIT did not act as O_NONBLOCK for the call (see observation)",
    );
    // MSG_DONTWAIT on send: a blocking socket whose buffer is full.
    set_nonblocking(&c2)?;
    let c2_full = fill_until_window_closed(&c2, ctx.wait_limit());
    crate::util::clear_nonblocking(&c2)?;
    let send_dontwait = send(&c2, b"x", libc::MSG_DONTWAIT);
    ctx.observe(
        "send(MSG_DONTWAIT) on a blocking socket filled until full and stable",
        (fullness(&c2_full), shown(&send_dontwait.map(|n| vec![b'?'; n]))),
    );
    ctx.decide(
        "socket.tcp.send_msg_dontwait",
        unreached(&c2_full).unwrap_or_else(|| {
            Decision::from_check(
                send_dontwait == Err(Errno::EAGAIN),
                "send with MSG_DONTWAIT on a full blocking socket failed at once with EAGAIN instead of blocking",
                "send(MSG_DONTWAIT) did something else",
            )
        }),
    );
    // MSG_WAITALL: a recv for 10 bytes returns only when all 10 came.
    let (c3, s3, _l3) = tcp_pair()?;
    let raw3 = s3.as_raw_fd();
    let mut waitall = ctx.spawn_reporting(move || {
        let mut buf = [0u8; 10];
        // SAFETY: buf has 10 bytes.
        let n = unsafe { libc::recv(raw3, buf.as_mut_ptr().cast(), 10, libc::MSG_WAITALL) };
        (n, String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned())
    })?;
    send(&c3, b"0123", 0)?;
    // Delivered means acknowledged to the sender: the receiver may already have copied the 4
    // bytes out of the queue (whether it runs before the sender is the scheduler's choice).
    let delivered_4 = wait_until(ctx.wait_limit(), || crate::socket::unacked(&c3) == Ok(0));
    let still_waiting = waitall.child().wait_blocked(libc::SYS_recvfrom, ctx.wait_limit());
    send(&c3, b"456789", 0)?;
    let (all, _) = waitall.finish(ctx.wait_limit())?;
    ctx.observe(
        "recv(10, MSG_WAITALL): 4 bytes delivered (acknowledged), the receiver still asleep; after 6 more it returned",
        (delivered_4, blocked_obs(&still_waiting), &all),
    );
    ctx.check(
        "socket.tcp.recv_msg_waitall",
        delivered_4 && still_waiting.is_ok() && all == Some((10, "0123456789".to_string())),
        "with MSG_WAITALL recv kept sleeping with 4 of 10 bytes delivered, and returned all 10 once they came",
        "MSG_WAITALL returned early or not at all (see observation)",
    );
    Ok(())
}

fn send_flags(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (client, server, _listener) = tcp_pair()?;
    let limit = ctx.wait_limit();
    send(&client, b"ab", 0)?;
    let oob = send(&client, b"!", libc::MSG_OOB);
    // Urgent data is marked once it arrives: POLLPRI.
    let pri = poll_events(&server, PollFlags::POLLPRI, limit).contains(PollFlags::POLLPRI);
    let urgent = recv(&server, 10, libc::MSG_OOB | libc::MSG_DONTWAIT);
    let inline = read_exactly(&server, 2, 10, limit);
    let again = recv(&server, 10, libc::MSG_OOB | libc::MSG_DONTWAIT);
    ctx.observe("send(\"!\", MSG_OOB) after \"ab\"; POLLPRI at the receiver; recv(MSG_OOB); the normal stream; recv(MSG_OOB) again", (call(&oob), pri, shown(&urgent), String::from_utf8_lossy(&inline), shown(&again)));
    let udp = bound_v4(libc::SOCK_DGRAM)?;
    let udp_port = local_port(&udp)?;
    let udp_client = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    connect_v4(&udp_client, LOOPBACK, udp_port)?;
    let udp_oob = send(&udp_client, b"!", libc::MSG_OOB);
    let udp_eor = send(&udp_client, b"!", libc::MSG_EOR);
    let tcp_eor = send(&client, b"rec", libc::MSG_EOR);
    let dontroute = send(&client, b"dr", libc::MSG_DONTROUTE);
    let udp_dontroute = send(&udp_client, b"dr", libc::MSG_DONTROUTE);
    let after = read_exactly(&server, 5, 10, limit);
    let mut datagrams = Vec::new();
    while datagrams.len() < 2 && poll_readable(&udp, limit)? {
        match crate::socket::recvfrom(&udp, 10, libc::MSG_DONTWAIT) {
            Ok(r) => datagrams.push(String::from_utf8_lossy(&r.data).into_owned()),
            Err(_) => break,
        }
    }
    ctx.observe("UDP send with MSG_OOB; with MSG_EOR", (call(&udp_oob), call(&udp_eor)));
    ctx.observe(
        "TCP send with MSG_EOR; with MSG_DONTROUTE; what the peer read",
        (call(&tcp_eor), call(&dontroute), String::from_utf8_lossy(&after)),
    );
    ctx.observe(
        "UDP send with MSG_DONTROUTE; the datagrams received (after the MSG_EOR one)",
        (call(&udp_dontroute), &datagrams),
    );
    let oob_ok = oob == Ok(1) && urgent.as_deref() == Ok(b"!") && inline == b"ab";
    ctx.decide(
        "socket.tcp.send_msg_oob",
        if oob_ok && udp_oob == Err(Errno::EOPNOTSUPP) {
            Decision::holds("TCP supports it: the byte went as urgent data (the peer saw POLLPRI); UDP, which does not, failed with EOPNOTSUPP")
        } else {
            Decision::refuted("MSG_OOB did not follow protocol support (see observation)")
        },
    );
    ctx.decide(
        "socket.tcp.recv_msg_oob",
        if oob_ok && again == Err(Errno::EINVAL) {
            Decision::partial("recv(MSG_OOB) returned the urgent byte, outside the normal stream, but TCP keeps only one such byte: the urgent mark is the last byte of the send, and asking again gave EINVAL")
        } else if oob_ok {
            Decision::holds("recv(MSG_OOB) returned the urgent byte, outside the normal stream")
        } else {
            Decision::refuted("the urgent byte was not received with MSG_OOB (see observation)")
        },
    );
    ctx.decide(
        "socket.tcp.send_msg_eor",
        match (tcp_eor, udp_eor) {
            (Ok(3), Ok(1)) if after == b"recdr" => Decision::partial(
                "TCP and UDP both accepted MSG_EOR, but neither has records: TCP's reader saw \"rec\" and the next send as one stream (the flag only keeps later data out of that segment); a record end a reader can see exists on SOCK_SEQPACKET",
            ),
            (Ok(3), Err(Errno::EOPNOTSUPP)) => Decision::partial(
                "TCP accepts MSG_EOR without a visible record end, and UDP refuses it with EOPNOTSUPP",
            ),
            _ => Decision::refuted("MSG_EOR was refused where the note expects it (see observation)"),
        },
    );
    ctx.check(
        "socket.tcp.send_msg_dontroute",
        dontroute == Ok(2) && udp_dontroute == Ok(2) && after == b"recdr" && datagrams.last().is_some_and(|d| d == "dr"),
        "with MSG_DONTROUTE data to a directly reachable (local) destination went and arrived, on TCP and UDP (a destination behind a gateway would need a route, which this run never uses)",
        "MSG_DONTROUTE failed even for a local destination (see observation)",
    );
    Ok(())
}

fn failures_are_not_only_local(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let closed_port = crate::socket::free_port(libc::SOCK_DGRAM)?;
    let udp = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let to_nobody = crate::socket::sendto_v4(&udp, b"x", 0, LOOPBACK, closed_port);
    connect_v4(&udp, LOOPBACK, closed_port)?;
    let first = send(&udp, b"x", 0);
    // The peer's ICMP port unreachable comes back as a pending socket error.
    let error_seen = poll_events(&udp, PollFlags::POLLIN, limit).contains(PollFlags::POLLERR);
    let second = send(&udp, b"x", 0);
    ctx.observe(
        "UDP: unconnected sendto a port nobody has; connected send there; POLLERR arrived; the next send",
        (call(&to_nobody), call(&first), error_seen, call(&second)),
    );

    let (client, server, listener) = tcp_pair()?;
    drop(server);
    drop(listener);
    let into_closed = send(&client, b"data", libc::MSG_NOSIGNAL);
    // The peer answers data for a closed socket with RST.
    let reset = poll_events(&client, PollFlags::POLLIN, limit).intersects(PollFlags::POLLERR | PollFlags::POLLHUP);
    let after_reset = send(&client, b"x", libc::MSG_NOSIGNAL);
    let after_that = send(&client, b"x", libc::MSG_NOSIGNAL);
    let raw = client.as_raw_fd();
    let mut child = ctx.spawn(move || {
        // SAFETY: a send on the inherited socket, SIGPIPE at its default action.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        // SAFETY: a plain send.
        unsafe { libc::send(raw, b"x".as_ptr().cast(), 1, 0) };
        0
    })?;
    let exit = child.wait_exit(limit)?;
    ctx.observe(
        "TCP after the peer closed: first send; RST seen (POLLERR/POLLHUP); the next two sends (MSG_NOSIGNAL)",
        (call(&into_closed), reset, call(&after_reset), call(&after_that)),
    );
    ctx.observe("a child's send on that socket without MSG_NOSIGNAL", exit.to_string());
    ctx.decide(
        "socket.tcp.send_success_is_local",
        if to_nobody == Ok(1) && first == Ok(1) && second == Err(Errno::ECONNREFUSED) && into_closed == Ok(4) && after_that == Err(Errno::EPIPE) && exit.signal() == Some("SIGPIPE") {
            Decision::partial(format!(
                "success only means handed to the kernel (sends to a port nobody has, and into a closed connection, returned their length), but failures are not only local: a connected UDP socket got ECONNREFUSED from the peer's ICMP, and after the peer's RST TCP gave {} then EPIPE (SIGPIPE without MSG_NOSIGNAL)",
                call(&after_reset)
            ))
        } else {
            Decision::holds("success and failure were local only (see observation)")
        },
    );
    Ok(())
}

/// sendmsg with one buffer and, when given, a destination address.
fn sendmsg_to(fd: &impl AsRawFd, data: &[u8], to: Option<libc::sockaddr_in>) -> Result<usize, Errno> {
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut name = to;
    // SAFETY: an all-zero msghdr is valid; the fields set below point at live values.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(n) = name.as_mut() {
        msg.msg_name = (n as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = 16;
    }
    // SAFETY: msg describes valid memory.
    Errno::result(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, 0) }).map(|n| n as usize)
}

fn addresses_on_connected_sockets(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (client, server, _listener) = tcp_pair()?;
    let elsewhere = bound_v4(libc::SOCK_DGRAM)?;
    let elsewhere_port = local_port(&elsewhere)?;
    let tcp_sendto = crate::socket::sendto_v4(&client, b"one", 0, LOOPBACK, elsewhere_port);
    let tcp_sendmsg = sendmsg_to(&client, b"two", Some(sockaddr_v4(LOOPBACK, elsewhere_port)));
    let at_peer = read_exactly(&server, 6, 10, limit);
    let (ua, ub) = crate::socket::unix_pair(nix::sys::socket::SockType::Stream)?;
    let unix_path = ctx.temp_path("unused.sock");
    let unix_addr = nix::sys::socket::UnixAddr::new(&unix_path)?;
    let unix_sendto = nix::sys::socket::sendto(ua.as_raw_fd(), b"u", &unix_addr, nix::sys::socket::MsgFlags::empty());
    drop(ub);
    ctx.observe(
        "connected TCP: sendto another address; sendmsg with msg_name set to it; what the peer read",
        (call(&tcp_sendto), call(&tcp_sendmsg), String::from_utf8_lossy(&at_peer)),
    );
    ctx.observe("connected AF_UNIX stream: sendto with an address", call(&unix_sendto));
    ctx.decide(
        "socket.tcp.sendto_connected_ignores_address",
        if tcp_sendto == Ok(3) && at_peer == b"onetwo" && unix_sendto == Err(Errno::EISCONN) {
            Decision::partial("TCP ignored the address (the data went to the connected peer), but a connected AF_UNIX stream socket refused an address with EISCONN")
        } else if tcp_sendto == Ok(3) && at_peer == b"onetwo" {
            Decision::holds("the address was ignored: the data went to the connected peer")
        } else {
            Decision::refuted("sendto's address on a connected socket was not ignored (see observation)")
        },
    );
    let udp = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let udp_msg = sendmsg_to(&udp, b"dgram", Some(sockaddr_v4(LOOPBACK, elsewhere_port)));
    let got = {
        let ready = poll_readable(&elsewhere, limit)?;
        (ready, crate::socket::recvfrom(&elsewhere, 100, libc::MSG_DONTWAIT).map(|r| r.data))
    };
    ctx.observe("unconnected UDP: sendmsg with msg_name; what that address received", (call(&udp_msg), shown(&got.1)));
    ctx.check(
        "socket.tcp.sendmsg_address_use",
        tcp_sendmsg == Ok(3) && at_peer == b"onetwo" && udp_msg == Ok(5) && got.1.as_deref() == Ok(b"dgram"),
        "sendmsg ignored msg_name on connected TCP (the peer got the data) and sent to msg_name on unconnected UDP",
        "sendmsg's use of msg_name differs (see observation)",
    );
    let sizes = crate::toolchain::probe("msghdr").map(str::to_string).unwrap_or_else(|| {
        format!(
            "{} {} {} (from the libc crate: no C compiler)",
            size_of::<usize>(),
            size_of::<usize>(),
            size_of::<libc::c_int>()
        )
    });
    ctx.observe("sizeof msg_iovlen, msg_controllen, msg_flags (C compiler, glibc headers)", &sizes);
    ctx.decide(
        "socket.tcp.msghdr_fields",
        if sizes.starts_with("8 8 4") {
            Decision::partial("the fields are there and in that order, but on Linux/glibc msg_iovlen and msg_controllen are size_t (8 bytes), not int and socklen_t")
        } else if sizes.starts_with("4 4 4") {
            Decision::holds("msg_iovlen is an int and msg_controllen a socklen_t")
        } else {
            Decision::refuted(format!("unexpected field sizes: {sizes}"))
        },
    );
    Ok(())
}

/// TCP packets seen leaving on lo (PACKET_OUTGOING: on lo each packet is also seen arriving),
/// by their flags.
fn tcp_flags_sent(packets: &impl AsRawFd, port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: an all-zero sockaddr_ll is valid storage.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: buf and from are valid for their lengths.
        let n = unsafe {
            libc::recvfrom(
                packets.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        if n < 0 {
            return out;
        }
        let ip = &buf[..n as usize];
        if from.sll_pkttype != libc::PACKET_OUTGOING || ip.len() < 40 || ip[0] >> 4 != 4 || ip[9] != 6 {
            continue;
        }
        let tcp = &ip[((ip[0] & 0x0f) as usize) * 4..];
        let (src, dst) = (u16::from_be_bytes([tcp[0], tcp[1]]), u16::from_be_bytes([tcp[2], tcp[3]]));
        if src != port && dst != port {
            continue;
        }
        let flags = tcp[13];
        let names: Vec<&str> = [(0x02, "SYN"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK")]
            .into_iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, n)| n)
            .collect();
        out.push(format!("{} {}", if dst == port { "client->server" } else { "server->client" }, names.join("+")));
    }
}

fn tcp_packets(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let report = in_private_netns(ctx, move |ns| {
        let lo = nix::net::if_::if_nametoindex("lo")? as i32;
        let packets = socket(libc::AF_PACKET, libc::SOCK_DGRAM, (libc::ETH_P_ALL as u16).to_be() as i32)?;
        // SAFETY: an all-zero sockaddr_ll, then the fields bind needs.
        let mut at: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        at.sll_family = libc::AF_PACKET as u16;
        at.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        at.sll_ifindex = lo;
        // SAFETY: a valid sockaddr_ll.
        Errno::result(unsafe {
            libc::bind(
                packets.as_raw_fd(),
                (&at as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        })?;
        let listener = crate::socket::tcp_listener(4)?;
        let port = local_port(&listener)?;
        let client = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
        connect_v4(&client, LOOPBACK, port)?;
        let server = crate::socket::accept(&listener)?;
        // Both ends established: the handshake's packets have all been sent.
        ns.note("connect returned and accept returned: the packets sent", tcp_flags_sent(&packets, port));
        // Close in turn: the client first, and the server only once its ACK of that FIN went
        // (the kernel may delay that ACK), so the two FINs are not merged with an ACK.
        nix::sys::socket::shutdown(client.as_raw_fd(), nix::sys::socket::Shutdown::Write)?;
        let acked = wait_until(limit, || tcp_info(&client).is_ok_and(|(s, _, _)| s == "FIN_WAIT2"));
        nix::sys::socket::shutdown(server.as_raw_fd(), nix::sys::socket::Shutdown::Write)?;
        let closed = wait_until(limit, || {
            tcp_info(&server).is_ok_and(|(s, _, _)| s == "CLOSE")
                && tcp_info(&client).is_ok_and(|(s, _, _)| s == "CLOSE")
        });
        ns.note(
            "client FIN acknowledged (FIN_WAIT2); both closed (the client's end now lives on as a TIME_WAIT entry)",
            (acked, closed),
        );
        ns.note("the packets sent to close", tcp_flags_sent(&packets, port));
        Ok(())
    })?;
    let Some(ns) = report else {
        ctx.decide("socket.tcp.handshake_packets", Decision::skipped("no private network namespace (and AF_PACKET socket) could be made here; packets are only counted inside the suite's own namespace"));
        return Ok(());
    };
    let open = ns.get("connect returned and accept returned: the packets sent");
    let close = ns.get("the packets sent to close");
    let n_open = open.as_array().map_or(0, Vec::len);
    let n_close = close.as_array().map_or(0, Vec::len);
    ctx.decide(
        "socket.tcp.handshake_packets",
        if n_open >= 7 {
            Decision::holds(format!("establishing the connection took {n_open} packets"))
        } else if n_open == 3 && n_open + n_close == 7 {
            Decision::refuted("establishing a connection took 3 packets (SYN, SYN+ACK, ACK); 7 is the handshake plus the 4 packets of closing it (FIN, ACK from each side)")
        } else {
            Decision::refuted(format!("establishing the connection took {n_open} packets, closing it {n_close}"))
        },
    );
    Ok(())
}

/// 127.0.0.1:port of a getsockname/getpeername result, or its error.
fn v4_name(r: Result<(Vec<u8>, usize), Errno>) -> Result<String, Errno> {
    r.map(|(bytes, _)| v4_text(&bytes))
}

fn call_returns(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (client, accepted, listener) = tcp_pair()?;
    let port = local_port(&listener)?;
    let client_port = local_port(&client)?;
    let not_a_socket = std::fs::File::open("/dev/null")?;

    // getsockname / getpeername: what they give, and -1 with errno when they cannot.
    let own = v4_name(name_bytes(&listener, 128));
    let own_fails = v4_name(name_bytes(&not_a_socket, 128));
    let peer = v4_name(peer_bytes(&accepted, 128));
    let lone = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let peer_fails = v4_name(peer_bytes(&lone, 128));
    ctx.observe("getsockname(listener bound to 127.0.0.1:<port>)", call(&own));
    ctx.observe("getsockname(/dev/null)", call(&own_fails));
    ctx.observe("getpeername(the accepted socket)", call(&peer));
    ctx.observe("getpeername(a socket that never connected)", call(&peer_fails));
    let listener_name = format!("127.0.0.1:{port}");
    ctx.check(
        "socket.tcp.getsockname_bound_address",
        own.as_deref() == Ok(listener_name.as_str()) && own_fails == Err(Errno::ENOTSOCK),
        "getsockname gave the listener's bound address (127.0.0.1 and its port) with 0, and -1 with ENOTSOCK for a descriptor that is no socket",
        "getsockname's results differ (see observation)",
    );
    ctx.check(
        "socket.tcp.getpeername_peer_address",
        peer.as_deref() == Ok(format!("127.0.0.1:{client_port}").as_str()) && peer_fails == Err(Errno::ENOTCONN),
        "getpeername on the accepted socket gave the client's address (its port included) with 0, and -1 with ENOTCONN on a socket without a peer",
        "getpeername's results differ (see observation)",
    );

    // A stream socket that never connected cannot send; MSG_NOSIGNAL keeps SIGPIPE from the worker.
    let unconnected_send = send(&lone, b"early", libc::MSG_NOSIGNAL);
    let unconnected_recv = recv(&lone, 16, libc::MSG_DONTWAIT);
    ctx.observe(
        "send(MSG_NOSIGNAL) on a stream socket that never connected",
        call(&unconnected_send.map(|n| n as i64)),
    );
    ctx.observe("recv on it", shown(&unconnected_recv));
    ctx.decide(
        "socket.tcp.connection_before_data",
        match unconnected_send {
            Err(e) => {
                Decision::holds(format!("send on a stream socket without a connection failed with {}", errno_name(e)))
            }
            Ok(n) => Decision::refuted(format!("send on a stream socket that never connected took {n} bytes")),
        },
    );

    // connect: 0, and -1 with errno for a port nobody listens on.
    let closed_port = crate::socket::free_port(libc::SOCK_STREAM)?;
    let to_listener = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let connected = connect_v4(&to_listener, LOOPBACK, port);
    let to_nobody = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    let refused = connect_v4(&to_nobody, LOOPBACK, closed_port);
    ctx.observe("connect to the listener", call(&connected));
    ctx.observe("connect to 127.0.0.1:<a port nobody listens on>", call(&refused));
    ctx.check(
        "socket.tcp.connect_returns",
        connected.is_ok() && refused == Err(Errno::ECONNREFUSED),
        "connect returned 0 to a listener, and -1 with ECONNREFUSED to a port nobody listens on",
        "connect's return values differ (see observation)",
    );

    // listen: 0, and -1 with errno on a socket type that has no listening.
    let listens = listen(&socket(libc::AF_INET, libc::SOCK_STREAM, 0)?, 4);
    let udp = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let udp_listens = listen(&udp, 4);
    ctx.observe("listen on a new stream socket", call(&listens));
    ctx.observe("listen on a datagram socket", call(&udp_listens));
    ctx.check(
        "socket.tcp.listen_returns",
        listens.is_ok() && udp_listens.is_err(),
        "listen returned 0 on a stream socket, and -1 with errno (EOPNOTSUPP) on a datagram socket",
        "listen's return values differ (see observation)",
    );

    // accept on a socket that is not listening.
    let not_listening = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    set_nonblocking(&not_listening)?;
    let accept_fails = crate::socket::accept(&not_listening).map(drop);
    ctx.observe("accept on a stream socket that is not listening", call(&accept_fails));
    ctx.decide(
        "socket.tcp.accept_failure_minus_one",
        match accept_fails {
            Err(e) => Decision::holds(format!(
                "accept on a socket that does not listen returned -1 with errno {}",
                errno_name(e)
            )),
            Ok(()) => Decision::refuted("accept on a socket that does not listen returned a descriptor"),
        },
    );

    // send after SHUT_WR; recv's byte count, and -1 with errno.
    let sent = send(&client, b"seven b", 0);
    let _ = poll_events(&accepted, PollFlags::POLLIN, ctx.wait_limit());
    let received = recv(&accepted, 64, libc::MSG_DONTWAIT);
    // SAFETY: shutdown takes integers.
    let shut = Errno::result(unsafe { libc::shutdown(client.as_raw_fd(), libc::SHUT_WR) });
    let after_shutdown = send(&client, b"late", libc::MSG_NOSIGNAL);
    ctx.observe("send of 7 bytes, then recv on the peer", (call(&sent.map(|n| n as i64)), shown(&received)));
    ctx.observe(
        "send(MSG_NOSIGNAL) after shutdown(SHUT_WR)",
        (call(&shut.map(drop)), call(&after_shutdown.map(|n| n as i64))),
    );
    ctx.decide(
        "socket.tcp.send_failure_minus_one",
        match after_shutdown {
            Err(e) => Decision::holds(format!("send after shutdown(SHUT_WR) returned -1 with errno {}", errno_name(e))),
            Ok(n) => Decision::refuted(format!("send after shutdown(SHUT_WR) took {n} bytes")),
        },
    );
    ctx.check(
        "socket.tcp.recv_returns",
        received.as_ref().map(Vec::len) == Ok(7) && unconnected_recv == Err(Errno::ENOTCONN),
        "recv returned the 7 bytes it received, and -1 with ENOTCONN on a socket that never connected",
        "recv's return values differ (see observation)",
    );
    Ok(())
}
