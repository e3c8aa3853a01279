//! Multicast group membership, checked in a network namespace the suite makes: its only
//! interface is that namespace's `lo`, so no datagram reaches a real network.

use std::os::fd::AsRawFd;
use std::time::Duration;

use harness::obs::call;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;

use crate::socket::netns::{
    datagrams, datagrams_each, in_private_netns, membership, skip_all, udp_on_any, InNamespace,
};
use crate::socket::{local_port, sendto_v4, set_int_option, socket, LOOPBACK, NOT_RECEIVED_WITHIN};
use crate::util::wait_until;

pub const CASES: &[Case] = &[Case::new(
    "socket.multicast.on_private_lo",
    &[
        "socket.multicast.group_delivery",
        "socket.multicast.all_hosts_member",
        "socket.multicast.all_hosts_like_broadcast",
    ],
    multicast,
)
.timeout_ms(8000)];

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
        crate::socket::bind_v6(&s, std::net::Ipv6Addr::UNSPECIFIED, 0)?;
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
            let to = crate::socket::sockaddr_v6(addr, port, lo);
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
