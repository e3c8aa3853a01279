//! Datagram sockets (UDP on 127.0.0.1): boundaries, truncation and the receive flags, the size
//! limit, connect as a filter, auto-binding, and loss when the receiver's buffer is full.

use std::os::fd::{AsFd, AsRawFd};

use harness::obs::{call, errno_name};
use harness::proc::poll_readable;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use proptest::prelude::*;

use crate::socket::{
    bound_v4, connect_v4, local_port, name_bytes, peer_bytes, recv, recvfrom, send, sendto_v4, set_int_option, shown,
    socket, v4_text, Received, LOOPBACK, NOT_RECEIVED_WITHIN,
};

pub const CASES: &[Case] = &[
    Case::new("socket.udp.boundaries_property", &["socket.udp.boundaries_kept"], boundaries_property),
    Case::new(
        "socket.udp.client_auto_bind",
        &["socket.udp.client_bind_optional", "socket.udp.recvfrom_reports_source", "socket.udp.no_connection"],
        client_auto_bind,
    ),
    Case::new("socket.udp.passive_side_first", &["socket.udp.passive_side_first"], passive_side_first),
    Case::new(
        "socket.udp.truncation_and_flags",
        &[
            "socket.udp.recv_message_whole_rest_discarded",
            "socket.udp.recv_msg_peek",
            "socket.udp.recv_msg_trunc",
            "socket.udp.recvfrom_flags_like_recv",
        ],
        truncation_and_flags,
    ),
    Case::new("socket.udp.size_limit", &["socket.udp.length_limited", "socket.udp.send_too_long_fails"], size_limit),
    Case::new(
        "socket.udp.connect_and_sendto",
        &["socket.udp.connect_sets_peer_and_filters", "socket.udp.sendto_address_must_be_connected"],
        connect_and_sendto,
    ),
    Case::new("socket.udp.loss", &["socket.udp.loss_unavoidable", "socket.udp.lost_duplicated_reordered"], loss),
    Case::new("socket.udp.icmp_error", &["socket.udp.icmp_error_reaches_sender"], icmp_error),
];

/// An IPv4 source: address and port.
type Source = ([u8; 4], u16);

fn received_text(r: &Result<Received, Errno>) -> String {
    match r {
        Ok(r) => format!("returned {}, buffer {:?}", r.returned, String::from_utf8_lossy(&r.data)),
        Err(e) => format!("-1 {}", errno_name(*e)),
    }
}

/// Receives one datagram, waiting for it up to `within` (loopback delivery runs in softirq
/// context, which may lag the sender's return).
fn recv_within(
    fd: &(impl AsFd + AsRawFd),
    max: usize,
    flags: i32,
    within: std::time::Duration,
) -> Result<Received, Errno> {
    if !harness::proc::poll_readable_within_budget(fd.as_fd(), within, "a datagram").unwrap_or(false) {
        return Err(Errno::EAGAIN);
    }
    recvfrom(fd, max, flags | libc::MSG_DONTWAIT)
}

fn boundaries_property(ctx: &mut Ctx) -> anyhow::Result<()> {
    let receiver = bound_v4(libc::SOCK_DGRAM)?;
    let sender = bound_v4(libc::SOCK_DGRAM)?;
    let port = local_port(&receiver)?;
    let limit = ctx.wait_limit();
    let datagrams = prop::collection::vec(0usize..=2000, 1..=8);
    let outcome = ctx.property(datagrams, 64, 1024, |sizes| {
        for (i, len) in sizes.iter().enumerate() {
            let data = vec![b'a' + i as u8; *len];
            prop_assert_eq!(sendto_v4(&sender, &data, 0, LOOPBACK, port), Ok(*len));
        }
        for (i, len) in sizes.iter().enumerate() {
            let got = recv_within(&receiver, 4096, 0, limit).map_err(|e| TestCaseError::fail(format!("recv: {e}")))?;
            prop_assert_eq!(got.returned, *len, "datagram {} of {:?}", i, sizes);
            prop_assert!(got.data.iter().all(|b| *b == b'a' + i as u8), "datagram {} mixed with another", i);
        }
        Ok(())
    });
    ctx.observe("property: random runs of 1-8 datagrams of 0-2000 bytes, each received with room for 4096", &outcome);
    ctx.check(
        "socket.udp.boundaries_kept",
        outcome.passed(),
        format!(
            "in {} random runs every receive returned exactly one datagram, with its own size (0 included)",
            outcome.cases
        ),
        format!("a receive did not match one datagram: {:?} ({:?})", outcome.counterexample, outcome.reason),
    );
    Ok(())
}

fn client_auto_bind(ctx: &mut Ctx) -> anyhow::Result<()> {
    let server = bound_v4(libc::SOCK_DGRAM)?;
    let server_port = local_port(&server)?;
    let client = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let before = name_bytes(&client, 16)?.0;
    let peer_before = peer_bytes(&client, 16).map(drop);
    let sent = sendto_v4(&client, b"hello", 0, LOOPBACK, server_port);
    let after = name_bytes(&client, 16)?.0;
    let client_port = u16::from_be_bytes([after[2], after[3]]);
    let got = recv_within(&server, 100, 0, ctx.wait_limit());
    let reply =
        got.as_ref().ok().and_then(|g| g.from).map(|(ip, port)| sendto_v4(&server, b"back", 0, ip, port).map(drop));
    let back = recv_within(&client, 100, 0, ctx.wait_limit());
    ctx.observe("unbound client: getsockname before its first send", v4_text(&before));
    ctx.observe("unbound client: getpeername (never connected)", call(&peer_before));
    ctx.observe("client sendto the server", call(&sent));
    ctx.observe(
        "client getsockname after the send (port normalised); the port is non-zero",
        (v4_text(&after).replace(&format!(":{client_port}"), ":<port>"), client_port != 0),
    );
    ctx.observe(
        "server recvfrom: data, source is the client's address and port",
        match &got {
            Ok(g) => format!(
                "{:?}, from 127.0.0.1: {}, from the client's port: {}",
                String::from_utf8_lossy(&g.data),
                g.from.map(|f| f.0) == Some(LOOPBACK),
                g.from.map(|f| f.1) == Some(client_port)
            ),
            Err(e) => format!("-1 {}", errno_name(*e)),
        },
    );
    ctx.observe(
        "server replies to that source; the client receives",
        (reply.map(|r| call(&r)), received_text(&back).replace(&server_port.to_string(), "<port>")),
    );
    let source_ok = got.as_ref().is_ok_and(|g| g.from == Some((LOOPBACK, client_port)));
    ctx.check(
        "socket.udp.client_bind_optional",
        before[2..4] == [0, 0] && sent == Ok(5) && client_port != 0 && source_ok,
        "an unbound client had port 0; its first sendto bound it to a port the kernel chose, which the server saw as the source",
        "the unbound client was not bound on its first send (see observation)",
    );
    ctx.check(
        "socket.udp.recvfrom_reports_source",
        source_ok && back.is_ok_and(|b| b.data == b"back" && b.from == Some((LOOPBACK, server_port))),
        "recvfrom filled src_addr with the sender's address and port, on both sides, and a reply to it arrived",
        "recvfrom's source address was missing or wrong (see observation)",
    );
    ctx.check(
        "socket.udp.no_connection",
        peer_before == Err(Errno::ENOTCONN) && sent == Ok(5) && source_ok,
        "datagrams went both ways without connect or listen: the client had no peer (getpeername ENOTCONN) and sendto delivered at once",
        "a datagram socket needed a connection (see observation)",
    );
    Ok(())
}

fn passive_side_first(ctx: &mut Ctx) -> anyhow::Result<()> {
    let port = crate::socket::free_port(libc::SOCK_DGRAM)?;
    let client = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let early = sendto_v4(&client, b"early", 0, LOOPBACK, port);
    let server = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    crate::socket::bind_v4(&server, LOOPBACK, port)?;
    let early_arrived = poll_readable(&server, NOT_RECEIVED_WITHIN)?;
    let late = sendto_v4(&client, b"late", 0, LOOPBACK, port);
    let got = recv_within(&server, 100, 0, ctx.wait_limit());
    ctx.observe("sendto a port nobody has bound yet", call(&early));
    ctx.observe(format!("after the receiver binds: anything readable within {NOT_RECEIVED_WITHIN:?} (a bounded \"not received\" wait)"), early_arrived);
    ctx.observe(
        "a second sendto, now that the receiver runs; what it receives",
        (call(&late), received_text(&got).split(", from").next().unwrap_or_default().to_string()),
    );
    ctx.check(
        "socket.udp.passive_side_first",
        early == Ok(5) && !early_arrived && got.is_ok_and(|g| g.data == b"late"),
        "a datagram sent before the receiver bound its port was lost (the send still returned 5); only what was sent after arrived, so the passive side must run first",
        "a datagram sent before the receiver existed was delivered, or the later one was not (see observation)",
    );
    Ok(())
}

fn truncation_and_flags(ctx: &mut Ctx) -> anyhow::Result<()> {
    let receiver = bound_v4(libc::SOCK_DGRAM)?;
    let sender = bound_v4(libc::SOCK_DGRAM)?;
    let port = local_port(&receiver)?;
    let limit = ctx.wait_limit();
    let round = |first: &[u8], flags: i32, room: usize| -> anyhow::Result<(String, String)> {
        sendto_v4(&sender, first, 0, LOOPBACK, port)?;
        sendto_v4(&sender, b"next", 0, LOOPBACK, port)?;
        let a = recv_within(&receiver, room, flags, limit);
        let b = recv_within(&receiver, 100, 0, limit);
        let c = if b.as_ref().is_ok_and(|b| b.data != b"next") {
            recv_within(&receiver, 100, 0, limit)
        } else {
            Err(Errno::EAGAIN)
        };
        let strip = |r: &Result<Received, Errno>| received_text(r);
        Ok((strip(&a), if c.is_ok() { format!("{}; then {}", strip(&b), strip(&c)) } else { strip(&b) }))
    };
    let short = round(b"0123456789", 0, 4)?;
    let peeked = round(b"0123456789", libc::MSG_PEEK, 100)?;
    let trunc = round(b"0123456789", libc::MSG_TRUNC, 4)?;
    let peek_from = {
        sendto_v4(&sender, b"abc", 0, LOOPBACK, port)?;
        let p = recv_within(&receiver, 100, libc::MSG_PEEK, limit);
        let r = recv_within(&receiver, 100, 0, limit);
        (p.map(|p| (p.data, p.from)).ok(), r.map(|r| (r.data, r.from)).ok())
    };
    let sender_port = local_port(&sender)?;
    let peek_text = |x: &Option<(Vec<u8>, Option<Source>)>| match x {
        Some((data, from)) => {
            format!("{:?} from the sender: {}", String::from_utf8_lossy(data), *from == Some((LOOPBACK, sender_port)))
        }
        None => "nothing".to_string(),
    };
    // A SOCK_SEQPACKET record, the other message-based type 004 names.
    let (a, b) = crate::socket::unix_pair(nix::sys::socket::SockType::SeqPacket)?;
    send(&a, b"0123456789", 0)?;
    send(&a, b"next", 0)?;
    let seq = (recv(&b, 4, libc::MSG_DONTWAIT), recv(&b, 100, libc::MSG_DONTWAIT));
    ctx.observe("UDP: 10 bytes then \"next\"; receive with room for 4; the next receive", &short);
    ctx.observe("UDP: the same with MSG_PEEK and room for 100; the next receive", &peeked);
    ctx.observe("UDP: the same with MSG_TRUNC and room for 4; the next receive", &trunc);
    ctx.observe(
        "AF_UNIX SOCK_SEQPACKET: 10 bytes then \"next\"; room for 4; the next receive",
        (shown(&seq.0), shown(&seq.1)),
    );
    let whole = "returned 4, buffer \"0123\"";
    ctx.check(
        "socket.udp.recv_message_whole_rest_discarded",
        short.0 == whole && short.1.contains("\"next\"") && !short.1.contains("456789") && seq.0.as_deref() == Ok(b"0123") && seq.1.as_deref() == Ok(b"next"),
        "a datagram (and a SOCK_SEQPACKET record) longer than the buffer gave its first 4 bytes and the rest was gone: the next receive got the next message",
        "the rest of a too-long message was kept or returned (see observation)",
    );
    ctx.check(
        "socket.udp.recv_msg_peek",
        peeked.0.contains("\"0123456789\"")
            && peeked.1.starts_with("returned 10, buffer \"0123456789\"; then returned 4, buffer \"next\""),
        "MSG_PEEK returned the datagram and left it queued: the next receive got the same datagram, then the one after",
        "MSG_PEEK consumed the datagram or returned something else (see observation)",
    );
    ctx.check(
        "socket.udp.recv_msg_trunc",
        trunc.0 == "returned 10, buffer \"0123\"" && trunc.1.contains("\"next\""),
        "with MSG_TRUNC and room for 4, recv copied 4 bytes and returned 10, the datagram's real length",
        "MSG_TRUNC did not return the real length (see observation)",
    );
    ctx.observe(
        "UDP recvfrom with MSG_PEEK, then without: data and source",
        (peek_text(&peek_from.0), peek_text(&peek_from.1)),
    );
    ctx.check(
        "socket.udp.recvfrom_flags_like_recv",
        peek_from.0 == Some((b"abc".to_vec(), Some((LOOPBACK, sender_port)))) && peek_from.0 == peek_from.1,
        "recvfrom took recv's flags: MSG_PEEK left the datagram for the next recvfrom, and both gave the sender's address",
        "recvfrom treated the flags differently (see observation)",
    );
    Ok(())
}

fn size_limit(ctx: &mut Ctx) -> anyhow::Result<()> {
    let receiver = bound_v4(libc::SOCK_DGRAM)?;
    let sender = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let port = local_port(&receiver)?;
    // 65535 (the IPv4 total length field) - 20 (IP header) - 8 (UDP header).
    let largest = sendto_v4(&sender, &vec![7u8; 65507], 0, LOOPBACK, port);
    let too_large = sendto_v4(&sender, &vec![8u8; 65508], 0, LOOPBACK, port);
    let first = recv_within(&receiver, 70000, 0, ctx.wait_limit());
    let more = poll_readable(&receiver, NOT_RECEIVED_WITHIN)?;
    let v6 = socket(libc::AF_INET6, libc::SOCK_DGRAM, 0).map(|s| {
        let sa = crate::socket::sockaddr_v6(std::net::Ipv6Addr::LOCALHOST, 9u16, 0);
        let attempt = |len: usize| {
            // SAFETY: the buffer and sa are valid for the lengths given.
            Errno::result(unsafe {
                libc::sendto(
                    s.as_raw_fd(),
                    vec![0u8; len].as_ptr().cast(),
                    len,
                    libc::MSG_DONTWAIT,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    28,
                )
            })
            .map(|n| n as usize)
        };
        (call(&attempt(65527)), call(&attempt(65528)))
    });
    ctx.observe("sendto 127.0.0.1 with 65507 bytes, then 65508", (call(&largest), call(&too_large)));
    ctx.observe(
        "received: bytes of the first datagram",
        first.as_ref().map(|f| f.returned).map_err(|e| errno_name(*e)),
    );
    ctx.observe(
        format!("anything more readable within {NOT_RECEIVED_WITHIN:?} (a bounded \"not received\" wait)"),
        more,
    );
    ctx.observe("IPv6 (::1 port 9, nobody bound): sendto 65527 bytes, then 65528", call(&v6));
    let limited = largest == Ok(65507) && too_large == Err(Errno::EMSGSIZE);
    ctx.check(
        "socket.udp.length_limited",
        limited,
        "a datagram's length is limited: 65507 bytes of payload went, 65508 failed with EMSGSIZE (IPv4's 16-bit total length)",
        "no length limit was met where IPv4 puts it (see observation)",
    );
    ctx.check(
        "socket.udp.send_too_long_fails",
        limited && first.is_ok_and(|f| f.returned == 65507) && !more,
        "the too-long send failed with EMSGSIZE and nothing of it arrived: the receiver got only the 65507-byte datagram",
        "a too-long send succeeded or part of it arrived (see observation)",
    );
    Ok(())
}

fn connect_and_sendto(ctx: &mut Ctx) -> anyhow::Result<()> {
    let a = bound_v4(libc::SOCK_DGRAM)?;
    let b = bound_v4(libc::SOCK_DGRAM)?;
    let c = bound_v4(libc::SOCK_DGRAM)?;
    let (pa, pb, pc) = (local_port(&a)?, local_port(&b)?, local_port(&c)?);
    let limit = ctx.wait_limit();
    let unconnected_to_c = sendto_v4(&a, b"direct", 0, LOOPBACK, pc);
    let c_got_direct = recv_within(&c, 100, 0, limit).map(|r| r.data);
    let connected = connect_v4(&a, LOOPBACK, pb);
    let peer = peer_bytes(&a, 16).map(|(bytes, _)| u16::from_be_bytes([bytes[2], bytes[3]]) == pb);
    let from_c = sendto_v4(&c, b"from c", 0, LOOPBACK, pa);
    let c_filtered = !poll_readable(&a, NOT_RECEIVED_WITHIN)?;
    let from_b = sendto_v4(&b, b"from b", 0, LOOPBACK, pa);
    let a_got = recv_within(&a, 100, 0, limit)
        .map(|r| (String::from_utf8_lossy(&r.data).into_owned(), r.from == Some((LOOPBACK, pb))));
    let plain_send = send(&a, b"to b", 0);
    let b_got = recv_within(&b, 100, 0, limit).map(|r| r.data);
    let connected_to_c = sendto_v4(&a, b"elsewhere", 0, LOOPBACK, pc);
    let c_got_elsewhere = recv_within(&c, 100, 0, limit).map(|r| r.data);
    ctx.observe("unconnected A: sendto C; C receives", (call(&unconnected_to_c), shown(&c_got_direct)));
    ctx.observe("A connects to B; getpeername names B", (call(&connected), call(&peer)));
    ctx.observe(
        "C sends to A: sendto's result; A had nothing readable within the bounded wait",
        (call(&from_c), c_filtered),
    );
    ctx.observe("B sends to A: A receives it, from B", (call(&from_b), call(&a_got)));
    ctx.observe("A send() without an address; B receives", (call(&plain_send), shown(&b_got)));
    ctx.observe("connected A: sendto C's address; C receives", (call(&connected_to_c), shown(&c_got_elsewhere)));
    ctx.check(
        "socket.udp.connect_sets_peer_and_filters",
        connected.is_ok()
            && peer == Ok(true)
            && from_c == Ok(6)
            && c_filtered
            && a_got == Ok(("from b".to_string(), true))
            && b_got.as_deref() == Ok(b"to b"),
        "connect set B as A's peer without any exchange: send() went to B, B's datagrams arrived, and C's (sent successfully) were dropped",
        "connect on a datagram socket did not set and filter by the peer (see observation)",
    );
    let unconnected_ok = unconnected_to_c == Ok(6) && c_got_direct.as_deref() == Ok(b"direct");
    let decision = if unconnected_ok {
        Decision::refuted(format!(
            "sendto on a socket that never called connect sent straight to the address it was given (C received it){}",
            if c_got_elsewhere.as_deref() == Ok(b"elsewhere") {
                "; even a connected UDP socket may sendto another address (C received that too)"
            } else {
                ""
            }
        ))
    } else {
        Decision::holds("sendto without a prior connect did not deliver (see observation)")
    };
    ctx.decide("socket.udp.sendto_address_must_be_connected", decision);
    Ok(())
}

/// The "drops" column of /proc/net/udp for the socket with this inode.
fn udp_drops(inode: u64) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(9)?.parse::<u64>().ok()? == inode).then(|| f.last()?.parse().ok()).flatten()
    })
}

fn loss(ctx: &mut Ctx) -> anyhow::Result<()> {
    const SENT: u32 = 64;
    let receiver = bound_v4(libc::SOCK_DGRAM)?;
    // The smallest receive buffer the kernel allows, so a burst overflows it.
    set_int_option(&receiver, libc::SOL_SOCKET, libc::SO_RCVBUF, 0)?;
    let inode = nix::sys::stat::fstat(&receiver)?.st_ino;
    let sender = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let port = local_port(&receiver)?;
    let sends: Vec<Result<usize, Errno>> = (0..SENT)
        .map(|i| {
            let mut d = vec![0u8; 1024];
            d[..4].copy_from_slice(&i.to_be_bytes());
            sendto_v4(&sender, &d, 0, LOOPBACK, port)
        })
        .collect();
    let mut sequence = Vec::new();
    // Drain until every datagram is accounted for: received, or counted as dropped.
    let accounted = crate::util::wait_until(ctx.wait_limit(), || {
        while let Ok(r) = recvfrom(&receiver, 2048, libc::MSG_DONTWAIT) {
            sequence.push(u32::from_be_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]));
        }
        udp_drops(inode).is_some_and(|d| d + sequence.len() as u64 == SENT as u64)
    });
    let drops = udp_drops(inode);
    let all_sent = sends.iter().all(|s| *s == Ok(1024));
    let in_order = sequence.windows(2).all(|w| w[0] < w[1]);
    ctx.observe("64 sendto calls of 1024 bytes to a receiver with the smallest SO_RCVBUF: all returned 1024", all_sent);
    ctx.observe("received + dropped (/proc/net/udp drops) accounted for all 64", accounted);
    ctx.observe(
        "some were dropped; fewer than 64 received",
        (drops.is_some_and(|d| d > 0), (sequence.len() as u32) < SENT),
    );
    ctx.observe("received ones in send order, none twice", in_order);
    let lost = all_sent && accounted && drops.is_some_and(|d| d > 0);
    ctx.check(
        "socket.udp.loss_unavoidable",
        lost,
        "UDP delivered no guarantee: every send succeeded, yet datagrams that found the receiver's buffer full were dropped (counted in /proc/net/udp), with no error to anyone",
        "no datagram was lost even with an overflowing receive buffer (see observation)",
    );
    let decision = if lost && in_order {
        Decision::partial("loss seen (receive-buffer overflow), but on loopback the datagrams that arrived came once each and in order: duplication and reordering need a real network path")
    } else if lost {
        Decision::holds("loss seen, and arrivals out of order or repeated (see observation)")
    } else {
        Decision::refuted("nothing was lost, duplicated or reordered (see observation)")
    };
    ctx.decide("socket.udp.lost_duplicated_reordered", decision);
    Ok(())
}

fn icmp_error(ctx: &mut Ctx) -> anyhow::Result<()> {
    // A port nobody listens on: the kernel picks a free one, and we let it go.
    let port = crate::socket::free_port(libc::SOCK_DGRAM)?;
    let sender = crate::socket::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    crate::socket::connect_v4(&sender, crate::socket::LOOPBACK, port)?;
    let sent = crate::socket::send(&sender, b"to nobody", 0);
    // The ICMP port unreachable comes back asynchronously: the socket shows it as an error.
    let events = crate::socket::poll_events(&sender, nix::poll::PollFlags::POLLIN, ctx.wait_limit());
    let next = crate::socket::recv(&sender, 64, libc::MSG_DONTWAIT);
    ctx.observe(
        "send on a UDP socket connected to 127.0.0.1:<a port nobody listens on>",
        call(&sent.map(|n| n as i64)),
    );
    ctx.observe("poll for input afterwards: revents", format!("{events:?}"));
    ctx.observe("the next recv", crate::socket::shown(&next));
    ctx.decide(
        "socket.udp.icmp_error_reaches_sender",
        match (&sent, next) {
            (Ok(_), Err(Errno::ECONNREFUSED)) => Decision::holds(
                "the datagram went out (send succeeded); the ICMP port unreachable that came back made the socket's next recv fail with ECONNREFUSED",
            ),
            (Ok(_), Err(Errno::EAGAIN)) => Decision::refuted("no error reached the sender: the next recv found nothing (EAGAIN)"),
            (Ok(_), other) => Decision::refuted(format!("the sender saw {} instead of an error", crate::socket::shown(&other))),
            (Err(e), _) => Decision::skipped(format!("the datagram could not be sent: {}", errno_name(*e))),
        },
    );
    Ok(())
}
