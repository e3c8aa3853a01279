//! What needs a network of its own: broadcast, multicast membership, the packets of a TCP
//! connection, and the host name. Each case runs in a child that first enters a network (or
//! UTS) namespace the suite makes; the only interface there is that namespace's `lo`, so
//! nothing sent reaches a real network.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use harness::obs::call;
use harness::privilege::is_root;
use harness::proc::poll_readable;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::net::{
    bind_v4, connect_v4, enter_private_netns, in_initial_netns, local_port, recvfrom, sendto_v4, set_int_option,
    socket, tcp_info, LOOPBACK, NOT_RECEIVED_WITHIN,
};
use crate::util::wait_until;

pub const CASES: &[Case] = &[
    Case::new(
        "netns.broadcast",
        &[
            "socket.broadcast.off_by_default",
            "socket.broadcast.datagram_only",
            "socket.broadcast.o_broadcast",
            "socket.options.choose_interface",
        ],
        broadcast,
    ),
    Case::new(
        "netns.multicast",
        &[
            "socket.multicast.group_delivery",
            "socket.multicast.all_hosts_member",
            "socket.multicast.all_hosts_like_broadcast",
        ],
        multicast,
    )
    .timeout_ms(8000),
    Case::new("netns.tcp_packets", &["socket.tcp.handshake_packets"], tcp_packets).timeout_ms(8000),
    Case::new("netns.hostname", &["socket.hostname.get_and_set", "socket.hostname.returns"], hostname),
];

/// What a child in its own network namespace reports: how it got there, or why it could not,
/// and the observations made there.
#[derive(Serialize, Deserialize)]
pub struct InNamespace {
    entered: Result<String, String>,
    seen: Vec<(String, serde_json::Value)>,
}

impl InNamespace {
    pub fn note(&mut self, key: &str, value: impl Serialize) {
        self.seen.push((key.to_string(), serde_json::to_value(value).unwrap_or_default()));
    }

    pub fn get(&self, key: &str) -> serde_json::Value {
        self.seen.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

/// Runs `body` in a child inside a private network namespace; the observations come back to
/// the case. Returns None (after recording why) when no namespace could be made.
fn in_private_netns(
    ctx: &mut Ctx,
    body: impl FnOnce(&mut InNamespace) -> anyhow::Result<()>,
) -> anyhow::Result<Option<InNamespace>> {
    in_namespaces(ctx, || Ok(()), body)
}

/// Like [`in_private_netns`], with `prepare` run first in the child, inside the namespaces
/// (e.g. to enter more of them); its error is reported like a failed unshare.
pub fn in_namespaces(
    ctx: &mut Ctx,
    prepare: impl FnOnce() -> Result<(), String>,
    body: impl FnOnce(&mut InNamespace) -> anyhow::Result<()>,
) -> anyhow::Result<Option<InNamespace>> {
    let (report, exit) = ctx.in_child(move || {
        let entered = enter_private_netns().map(str::to_string).and_then(|how| prepare().map(|()| how));
        let mut out = InNamespace { entered, seen: Vec::new() };
        // Never experiment in the machine's own namespace.
        if out.entered.is_ok() && in_initial_netns() {
            out.entered = Err("still in the initial network namespace after unshare".into());
        }
        if out.entered.is_ok() {
            if let Err(e) = body(&mut out) {
                out.note("failed", e.to_string());
            }
        }
        out
    })?;
    let report = report.ok_or_else(|| anyhow::anyhow!("the namespace child reported nothing ({exit})"))?;
    match &report.entered {
        Ok(how) => ctx.observe("ran in", how),
        Err(why) => {
            ctx.observe("no private network namespace", why);
            return Ok(None);
        }
    }
    for (k, v) in &report.seen {
        ctx.observe(k.clone(), v);
    }
    if let Some(failed) = report.seen.iter().find(|(k, _)| k == "failed") {
        // The child's step failed with the kernel's answer (an errno): an observation.
        return Err(harness::proc::unanswered(format!("the experiment in the namespace failed: {}", failed.1)));
    }
    Ok(Some(report))
}

fn skip_all(ctx: &mut Ctx, claims: &[&str]) {
    for c in claims {
        ctx.decide(c, Decision::skipped("no private network namespace could be made here (see observation); broadcast and multicast are never tried on the machine's own network"));
    }
}

/// Receives what the sockets have queued, up to `max` datagrams each, until none of them gets
/// anything more within one bounded "nothing more" wait (shared, not one per socket).
fn datagrams_each<const N: usize>(fds: [&std::os::fd::OwnedFd; N], max: usize) -> [Vec<String>; N] {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut out: [Vec<String>; N] = std::array::from_fn(|_| Vec::new());
    loop {
        for (got, fd) in out.iter_mut().zip(fds) {
            while got.len() < max {
                match recvfrom(fd, 100, libc::MSG_DONTWAIT) {
                    Ok(r) => got.push(String::from_utf8_lossy(&r.data).into_owned()),
                    Err(_) => break,
                }
            }
        }
        let mut polls: Vec<PollFd> = fds.iter().map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN)).collect();
        let timeout = PollTimeout::try_from(NOT_RECEIVED_WITHIN.as_millis() as i32).unwrap_or(PollTimeout::ZERO);
        if !matches!(poll(&mut polls, timeout), Ok(n) if n > 0) {
            return out;
        }
    }
}

/// Receives up to `max` datagrams: the first within `within`, each further one within a short
/// bounded "nothing more" wait; their texts.
fn datagrams(fd: &(impl AsFd + AsRawFd), max: usize, within: Duration) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < max
        && poll_readable(fd.as_fd(), if out.is_empty() { within } else { NOT_RECEIVED_WITHIN }).unwrap_or(false)
    {
        match recvfrom(fd, 100, libc::MSG_DONTWAIT) {
            Ok(r) => out.push(String::from_utf8_lossy(&r.data).into_owned()),
            Err(_) => break,
        }
    }
    out
}

fn udp_on_any(port: u16) -> Result<std::os::fd::OwnedFd, Errno> {
    let s = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    set_int_option(&s, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    bind_v4(&s, [0, 0, 0, 0], port)?;
    Ok(s)
}

/// A header of /usr/include that defines `name`, if any of the usual ones does.
fn header_defining(name: &str) -> Option<&'static str> {
    [
        "/usr/include/asm-generic/socket.h",
        "/usr/include/x86_64-linux-gnu/asm/socket.h",
        "/usr/include/fcntl.h",
        "/usr/include/x86_64-linux-gnu/bits/fcntl-linux.h",
        "/usr/include/asm-generic/fcntl.h",
        "/usr/include/x86_64-linux-gnu/sys/socket.h",
        "/usr/include/x86_64-linux-gnu/bits/socket.h",
    ]
    .into_iter()
    .find(|h| crate::net::header_define(h, name).is_some())
}

fn broadcast(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let report = in_private_netns(ctx, move |ns| {
        let receiver = udp_on_any(0)?;
        let port = local_port(&receiver)?;
        let sender = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let subnet = [127, 255, 255, 255];
        ns.note(
            "SO_BROADCAST of a new UDP socket",
            call(&crate::net::int_option(&sender, libc::SOL_SOCKET, libc::SO_BROADCAST)),
        );
        ns.note(
            "sendto 127.255.255.255 (lo's subnet broadcast) without SO_BROADCAST",
            call(&sendto_v4(&sender, b"off", 0, subnet, port)),
        );
        set_int_option(&sender, libc::SOL_SOCKET, libc::SO_BROADCAST, 1)?;
        ns.note("the same with SO_BROADCAST set", call(&sendto_v4(&sender, b"on", 0, subnet, port)));
        ns.note("received on 0.0.0.0 (bounded wait for more)", datagrams(&receiver, 3, limit));
        let limited = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        set_int_option(&limited, libc::SOL_SOCKET, libc::SO_BROADCAST, 1)?;
        ns.note(
            "sendto 255.255.255.255 with SO_BROADCAST, no interface chosen",
            call(&sendto_v4(&limited, b"all", 0, [255; 4], port)),
        );
        let bound = nix::sys::socket::setsockopt(
            &limited,
            nix::sys::socket::sockopt::BindToDevice,
            &std::ffi::OsString::from("lo"),
        );
        ns.note("SO_BINDTODEVICE \"lo\"", call(&bound));
        ns.note(
            "getsockopt SO_BINDTODEVICE",
            call(
                &nix::sys::socket::getsockopt(&limited, nix::sys::socket::sockopt::BindToDevice)
                    .map(|d| d.to_string_lossy().into_owned()),
            ),
        );
        ns.note("sendto 255.255.255.255 again, bound to lo", call(&sendto_v4(&limited, b"all", 0, [255; 4], port)));
        ns.note("received", datagrams(&receiver, 3, limit));
        let nowhere = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        ns.note(
            "SO_BINDTODEVICE to an interface that does not exist",
            call(&nix::sys::socket::setsockopt(
                &nowhere,
                nix::sys::socket::sockopt::BindToDevice,
                &std::ffi::OsString::from("nosuch0"),
            )),
        );
        let tcp = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
        ns.note("TCP: setsockopt SO_BROADCAST", call(&set_int_option(&tcp, libc::SOL_SOCKET, libc::SO_BROADCAST, 1)));
        ns.note("TCP: connect to 127.255.255.255", call(&connect_v4(&tcp, subnet, port)));
        let tcp2 = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: u32::from_ne_bytes([239, 1, 2, 3]) },
            imr_address: libc::in_addr { s_addr: u32::from_ne_bytes(LOOPBACK) },
            imr_ifindex: 0,
        };
        ns.note("TCP: IP_ADD_MEMBERSHIP 239.1.2.3", call(&membership(&tcp2, libc::IP_ADD_MEMBERSHIP, &mreq)));
        Ok(())
    })?;
    let claims = [
        "socket.broadcast.off_by_default",
        "socket.broadcast.datagram_only",
        "socket.broadcast.o_broadcast",
        "socket.options.choose_interface",
    ];
    let Some(ns) = report else {
        skip_all(ctx, &claims);
        return Ok(());
    };
    let off = ns.get("sendto 127.255.255.255 (lo's subnet broadcast) without SO_BROADCAST");
    let on = ns.get("the same with SO_BROADCAST set");
    let got = ns.get("received on 0.0.0.0 (bounded wait for more)");
    let sent_with_flag = on == 2 && got == serde_json::json!(["on"]);
    ctx.check(
        "socket.broadcast.off_by_default",
        ns.get("SO_BROADCAST of a new UDP socket") == 0 && off == "-1 EACCES" && sent_with_flag,
        "a new socket had SO_BROADCAST 0 and its sendto to the broadcast address failed with EACCES; after setsockopt(SO_BROADCAST, 1) the same send went and was received",
        "broadcast was not off by default, or setting SO_BROADCAST did not enable it (see observation)",
    );
    let tcp_connect = ns.get("TCP: connect to 127.255.255.255");
    let tcp_join = ns.get("TCP: IP_ADD_MEMBERSHIP 239.1.2.3");
    ctx.check(
        "socket.broadcast.datagram_only",
        sent_with_flag && tcp_connect == "-1 ENETUNREACH" && tcp_join == "-1 EPROTO",
        "a datagram socket could broadcast; a TCP socket, even with SO_BROADCAST set, could not connect to the broadcast address (ENETUNREACH) nor join a group (EPROTO)",
        "a stream socket could broadcast or join a group, or a datagram socket could not (see observation)",
    );
    let o_broadcast = header_defining("O_BROADCAST");
    let so_broadcast = header_defining("SO_BROADCAST");
    ctx.observe("headers defining O_BROADCAST; SO_BROADCAST", (o_broadcast, so_broadcast));
    ctx.decide(
        "socket.broadcast.o_broadcast",
        match (o_broadcast, so_broadcast, sent_with_flag) {
            (None, Some(_), true) => Decision::partial("broadcasting works as described once the socket allows it, but the option is SO_BROADCAST (socket level); no header defines O_BROADCAST"),
            (None, None, true) => Decision::partial("broadcasting works once SO_BROADCAST is set; the C headers are not installed, so O_BROADCAST could not be looked for"),
            (Some(_), _, true) => Decision::holds("O_BROADCAST is defined and broadcasting works once allowed"),
            _ => Decision::refuted("a broadcast did not go even with SO_BROADCAST (see observation)"),
        },
    );
    let limited_unbound = ns.get("sendto 255.255.255.255 with SO_BROADCAST, no interface chosen");
    let limited_bound = ns.get("sendto 255.255.255.255 again, bound to lo");
    ctx.check(
        "socket.options.choose_interface",
        ns.get("SO_BINDTODEVICE \"lo\"") == serde_json::Value::Null
            && ns.get("getsockopt SO_BINDTODEVICE") == "lo"
            && limited_unbound == "-1 ENETUNREACH"
            && limited_bound == 3
            && ns.get("SO_BINDTODEVICE to an interface that does not exist") == "-1 ENODEV",
        "SO_BINDTODEVICE chose the interface: 255.255.255.255 had no route (ENETUNREACH) until the socket was bound to lo, then it went; an unknown interface gave ENODEV",
        "choosing the interface with a socket option did not work as expected (see observation)",
    );
    Ok(())
}

fn membership(fd: &impl AsRawFd, op: i32, mreq: &libc::ip_mreqn) -> Result<(), Errno> {
    // SAFETY: mreq is a valid ip_mreqn of the length given.
    Errno::result(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            op,
            (mreq as *const libc::ip_mreqn).cast(),
            size_of::<libc::ip_mreqn>() as u32,
        )
    })
    .map(drop)
}

/// Groups /proc/net/igmp lists for lo, as dotted quads.
fn lo_groups() -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/igmp").unwrap_or_default();
    let mut groups = Vec::new();
    let mut on_lo = false;
    for line in table.lines().skip(1) {
        if !line.starts_with('\t') {
            on_lo = line.split_whitespace().nth(1) == Some("lo");
        } else if on_lo {
            if let Some(hex) = line.split_whitespace().next() {
                if let Ok(v) = u32::from_str_radix(hex, 16) {
                    groups.push(std::net::Ipv4Addr::from(v.to_le_bytes()).to_string());
                }
            }
        }
    }
    groups
}

fn multicast(ctx: &mut Ctx) -> anyhow::Result<()> {
    let patience = ctx.wait_limit();
    let report = in_private_netns(ctx, move |ns| {
        let group = [239, 1, 2, 3];
        let mreq = |g: [u8; 4]| libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: u32::from_ne_bytes(g) },
            imr_address: libc::in_addr { s_addr: u32::from_ne_bytes(LOOPBACK) },
            imr_ifindex: 0,
        };
        ns.note("lo's groups before any join (/proc/net/igmp)", lo_groups());
        let member = udp_on_any(0)?;
        let port = local_port(&member)?;
        // A socket that never joins, and one that also opts out of IP_MULTICAST_ALL.
        let bystander = udp_on_any(port)?;
        let strict = udp_on_any(port)?;
        set_int_option(&strict, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 0)?;
        let sender = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let via_lo = libc::in_addr { s_addr: u32::from_ne_bytes(LOOPBACK) };
        // SAFETY: an in_addr of the length given.
        Errno::result(unsafe {
            libc::setsockopt(
                sender.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_IF,
                (&via_lo as *const libc::in_addr).cast(),
                4,
            )
        })?;
        let round = |ns: &mut InNamespace, label: &str, to: [u8; 4]| {
            let before = ip_in_receives();
            let sent = sendto_v4(&sender, label.as_bytes(), 0, to, port);
            // The namespace is ours alone: once its IP layer has taken the datagram in, it has
            // been delivered or dropped in the same pass, so the reads below wait only briefly.
            let _ = sent.is_ok() && wait_until(patience, || ip_in_receives() > before);
            ns.note(&format!("{label}: sendto"), call(&sent));
            ns.note(
                &format!("{label}: received by the member, a socket that never joined, one with IP_MULTICAST_ALL 0"),
                datagrams_each([&member, &bystander, &strict], 3),
            );
        };
        round(ns, "239.1.2.3 before any join", group);
        ns.note("IP_ADD_MEMBERSHIP 239.1.2.3 on lo", call(&membership(&member, libc::IP_ADD_MEMBERSHIP, &mreq(group))));
        ns.note("lo's groups after the join", lo_groups());
        round(ns, "239.1.2.3 after the join", group);
        ns.note("IP_ADD_MEMBERSHIP 239.1.2.3 again", call(&membership(&member, libc::IP_ADD_MEMBERSHIP, &mreq(group))));
        ns.note("IP_DROP_MEMBERSHIP 239.1.2.3", call(&membership(&member, libc::IP_DROP_MEMBERSHIP, &mreq(group))));
        ns.note(
            "IP_DROP_MEMBERSHIP 239.1.2.3 again (no longer joined)",
            call(&membership(&member, libc::IP_DROP_MEMBERSHIP, &mreq(group))),
        );
        round(ns, "239.1.2.3 after the drop", group);
        ns.note("lo's groups after the drop", lo_groups());
        round(ns, "224.0.0.1", [224, 0, 0, 1]);
        ns.note(
            "IP_DROP_MEMBERSHIP 224.0.0.1 (never joined)",
            call(&membership(&bystander, libc::IP_DROP_MEMBERSHIP, &mreq([224, 0, 0, 1]))),
        );
        ns.note(
            "IP_ADD_MEMBERSHIP 224.0.0.1, then IP_DROP_MEMBERSHIP",
            (
                call(&membership(&bystander, libc::IP_ADD_MEMBERSHIP, &mreq([224, 0, 0, 1]))),
                call(&membership(&bystander, libc::IP_DROP_MEMBERSHIP, &mreq([224, 0, 0, 1]))),
            ),
        );
        ns.note("lo's groups at the end", lo_groups());
        // 255.255.255.255 for comparison: needs SO_BROADCAST, and an interface.
        let b = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        nix::sys::socket::setsockopt(&b, nix::sys::socket::sockopt::BindToDevice, &std::ffi::OsString::from("lo"))?;
        let without = sendto_v4(&b, b"x", 0, [255; 4], port);
        set_int_option(&b, libc::SOL_SOCKET, libc::SO_BROADCAST, 1)?;
        let before = ip_in_receives();
        let with = sendto_v4(&b, b"255.255.255.255", 0, [255; 4], port);
        let _ = with.is_ok() && wait_until(patience, || ip_in_receives() > before);
        ns.note("255.255.255.255 (bound to lo): sendto without SO_BROADCAST, with it", (call(&without), call(&with)));
        ns.note(
            "255.255.255.255: received by the member, the one that never joined, the IP_MULTICAST_ALL 0 one",
            datagrams_each([&member, &bystander, &strict], 3),
        );
        // IPv6: ff02::1 (all nodes) and a joined group, through lo.
        ns.note("IPv6", ipv6_multicast(patience));
        Ok(())
    })?;
    let claims = [
        "socket.multicast.group_delivery",
        "socket.multicast.all_hosts_member",
        "socket.multicast.all_hosts_like_broadcast",
    ];
    let Some(ns) = report else {
        skip_all(ctx, &claims);
        return Ok(());
    };
    let who = |label: &str| {
        ns.get(&format!("{label}: received by the member, a socket that never joined, one with IP_MULTICAST_ALL 0"))
    };
    use serde_json::json;
    let joined = who("239.1.2.3 after the join");
    let before = who("239.1.2.3 before any join");
    let after_drop = who("239.1.2.3 after the drop");
    let group_ok = before == json!([[], [], []])
        && joined[0] == json!(["239.1.2.3 after the join"])
        && joined[2] == json!([])
        && ns.get("IP_ADD_MEMBERSHIP 239.1.2.3 again") == "-1 EADDRINUSE"
        && ns.get("IP_DROP_MEMBERSHIP 239.1.2.3 again (no longer joined)") == "-1 EADDRNOTAVAIL"
        && after_drop == json!([[], [], []]);
    ctx.decide(
        "socket.multicast.group_delivery",
        if group_ok && joined[1] == json!(["239.1.2.3 after the join"]) {
            Decision::partial("a datagram to a group reached the socket that joined it (nothing before the join or after the drop; joining twice EADDRINUSE, dropping twice EADDRNOTAVAIL), but also a socket on the same port that never joined: with IP_MULTICAST_ALL (on by default) delivery follows the host's memberships; only with it off did the socket need its own join")
        } else if group_ok {
            Decision::holds("a datagram to a group reached exactly the sockets that joined it, from the join until the drop")
        } else {
            Decision::refuted("group delivery did not follow membership (see observation)")
        },
    );
    let groups_before = ns.get("lo's groups before any join (/proc/net/igmp)");
    let all = who("224.0.0.1");
    let cannot_leave = ns.get("IP_DROP_MEMBERSHIP 224.0.0.1 (never joined)") == "-1 EADDRNOTAVAIL"
        && ns.get("lo's groups at the end").as_array().is_some_and(|g| g.contains(&json!("224.0.0.1")));
    let member_without_join = groups_before.as_array().is_some_and(|g| g.contains(&json!("224.0.0.1")));
    ctx.check(
        "socket.multicast.all_hosts_member",
        member_without_join && cannot_leave && all[1] == json!(["224.0.0.1"]),
        "lo was in 224.0.0.1 before any socket joined (/proc/net/igmp), a socket that never joined received datagrams sent there, and leaving was impossible: dropping it gave EADDRNOTAVAIL, and after a join and a drop lo was still a member",
        "224.0.0.1 membership differs (see observation)",
    );
    let bcast =
        ns.get("255.255.255.255: received by the member, the one that never joined, the IP_MULTICAST_ALL 0 one");
    let sends = ns.get("255.255.255.255 (bound to lo): sendto without SO_BROADCAST, with it");
    ctx.decide(
        "socket.multicast.all_hosts_like_broadcast",
        if all == json!([["224.0.0.1"], ["224.0.0.1"], []]) && bcast == json!([["255.255.255.255"], ["255.255.255.255"], ["255.255.255.255"]]) && sends[0] == "-1 EACCES" {
            Decision::partial("a datagram to 224.0.0.1 reached the sockets on the port that follow the host's memberships (IP_MULTICAST_ALL, the default), joined or not, as 255.255.255.255 did; but a socket with IP_MULTICAST_ALL 0 got the broadcast and not 224.0.0.1, and 224.0.0.1 needed no SO_BROADCAST (255.255.255.255 without it: EACCES)")
        } else if all == bcast {
            Decision::holds("224.0.0.1 and 255.255.255.255 reached the same sockets")
        } else {
            Decision::refuted("224.0.0.1 and 255.255.255.255 reached different sockets (see observation)")
        },
    );
    Ok(())
}

/// Ip InReceives of this network namespace (/proc/net/snmp).
fn ip_in_receives() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut ip = snmp.lines().filter(|l| l.starts_with("Ip:"));
    let (Some(names), Some(values)) = (ip.next(), ip.next()) else { return 0 };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "InReceives")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Ip6 InReceives of this network namespace (/proc/net/snmp6).
fn ip6_in_receives() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp6").unwrap_or_default();
    snmp.lines().find_map(|l| l.strip_prefix("Ip6InReceives")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// IPv6 multicast through lo: ff02::1 without a join, and a joined group, then a double join.
fn ipv6_multicast(patience: Duration) -> serde_json::Value {
    let within = NOT_RECEIVED_WITHIN;
    let run = || -> Result<serde_json::Value, Errno> {
        let lo = nix::net::if_::if_nametoindex("lo")?;
        let s = socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)?;
        crate::net::bind_v6(&s, std::net::Ipv6Addr::UNSPECIFIED, 0)?;
        let port = local_port(&s)?;
        let group: std::net::Ipv6Addr = "ff02::1:3".parse().unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
        let mreq =
            libc::ipv6_mreq { ipv6mr_multiaddr: libc::in6_addr { s6_addr: group.octets() }, ipv6mr_interface: lo };
        let join = || {
            // SAFETY: a valid ipv6_mreq.
            Errno::result(unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_ADD_MEMBERSHIP,
                    (&mreq as *const libc::ipv6_mreq).cast(),
                    size_of::<libc::ipv6_mreq>() as u32,
                )
            })
            .map(drop)
        };
        let sender = socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)?;
        set_int_option(&sender, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, lo as i32)?;
        let send_to = |addr: std::net::Ipv6Addr, text: &[u8]| {
            let to = crate::net::sockaddr_v6(addr, port, lo);
            let before = ip6_in_receives();
            // SAFETY: valid buffer and address.
            let sent = Errno::result(unsafe {
                libc::sendto(
                    sender.as_raw_fd(),
                    text.as_ptr().cast(),
                    text.len(),
                    0,
                    (&to as *const libc::sockaddr_in6).cast(),
                    28,
                )
            })
            .map(|n| n as usize);
            let _ = sent.is_ok() && wait_until(patience, || ip6_in_receives() > before);
            sent
        };
        let all_nodes = send_to("ff02::1".parse().unwrap_or(std::net::Ipv6Addr::UNSPECIFIED), b"ff02::1");
        let got_all = datagrams(&s, 3, within);
        let before = send_to(group, b"before");
        let got_before = datagrams(&s, 3, within);
        let joined = join();
        let after = send_to(group, b"after");
        let got_after = datagrams(&s, 3, within);
        Ok(serde_json::json!({
            "sendto ff02::1 (never joined); received": (call(&all_nodes), got_all),
            "sendto ff02::1:3 before joining; received": (call(&before), got_before),
            "IPV6_ADD_MEMBERSHIP ff02::1:3 on lo; again": (call(&joined), call(&join())),
            "sendto ff02::1:3 after joining; received": (call(&after), got_after),
        }))
    };
    run().unwrap_or_else(|e| serde_json::json!(format!("failed: {e}")))
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
        let listener = crate::net::tcp_listener(4)?;
        let port = local_port(&listener)?;
        let client = socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
        connect_v4(&client, LOOPBACK, port)?;
        let server = crate::net::accept(&listener)?;
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

fn hostname(ctx: &mut Ctx) -> anyhow::Result<()> {
    let uname = nix::sys::utsname::uname()?.nodename().to_string_lossy().into_owned();
    let got = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned());
    let mut small = [0 as libc::c_char; 1];
    // SAFETY: small has 1 byte and the call is told so.
    let r = unsafe { libc::gethostname(small.as_mut_ptr(), 1) };
    let too_small = if r == 0 { Ok(()) } else { Err(Errno::last()) };
    ctx.observe("gethostname equals uname's nodename", got.as_ref().is_ok_and(|h| *h == uname));
    ctx.observe("gethostname with a 1-byte buffer (the name is longer)", (call(&too_small), uname.len() > 1));
    // Tried in a UTS namespace of the suite's own, so the machine's name is safe whatever happens.
    let (as_nobody, _) = ctx.in_child(|| {
        if !is_root() {
            return serde_json::json!("not tried: needs root to make a UTS namespace and then drop to 65534");
        }
        if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS).is_err() {
            return serde_json::json!("not tried: unshare(CLONE_NEWUTS) failed");
        }
        harness::privilege::drop_to(harness::privilege::NOBODY, harness::privilege::NOBODY).expect("dropping to 65534");
        call(&nix::unistd::sethostname("ipc-conform-nobody"))
    })?;
    ctx.observe("sethostname as uid 65534 (in a private UTS namespace made by root)", &as_nobody);
    let (in_ns, _) = ctx.in_child(|| {
        use nix::sched::{unshare, CloneFlags};
        let flags =
            if is_root() { CloneFlags::CLONE_NEWUTS } else { CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWUTS };
        if let Err(e) = unshare(flags) {
            return Err(format!("unshare: {e}"));
        }
        let set = call(&nix::unistd::sethostname("ipc-conform-test"));
        let now = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((set, now))
    })?;
    ctx.observe("in a private UTS namespace: sethostname(\"ipc-conform-test\"), then gethostname", &in_ns);
    let host_unchanged = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()) == got;
    ctx.observe("the machine's host name unchanged afterwards", host_unchanged);
    ctx.check(
        "socket.hostname.get_and_set",
        got.is_ok_and(|h| h == uname) && matches!(&in_ns, Some(Ok((s, n))) if *s == serde_json::Value::Null && n == "ipc-conform-test") && host_unchanged,
        "gethostname gave the machine's name (uname's nodename); sethostname changed it (tried in a UTS namespace of the suite's own, leaving the machine's name alone)",
        "gethostname/sethostname did not behave as described (see observation)",
    );
    ctx.check(
        "socket.hostname.returns",
        too_small == Err(Errno::ENAMETOOLONG) && as_nobody.as_ref().is_some_and(|v| v == "-1 EPERM"),
        "both return 0 on success and -1 with errno on failure: gethostname with a short buffer ENAMETOOLONG, sethostname without privilege EPERM",
        "the return values differ (see observation)",
    );
    Ok(())
}
