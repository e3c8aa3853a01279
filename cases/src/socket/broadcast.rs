//! Broadcast (SO_BROADCAST) and choosing the interface, checked in a network namespace the
//! suite makes: its only interface is that namespace's `lo`.

use harness::obs::call;
use harness::{Case, Ctx, Decision};

use crate::socket::netns::{datagrams, header_defining, in_private_netns, membership, skip_all, udp_on_any};
use crate::socket::{connect_v4, local_port, sendto_v4, set_int_option, socket, LOOPBACK};

pub const CASES: &[Case] = &[Case::new(
    "socket.broadcast.on_private_lo",
    &[
        "socket.broadcast.off_by_default",
        "socket.broadcast.datagram_only",
        "socket.broadcast.o_broadcast",
        "socket.broadcast.options_choose_interface",
    ],
    broadcast,
)];

fn broadcast(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let report = in_private_netns(ctx, move |ns| {
        let receiver = udp_on_any(0)?;
        let port = local_port(&receiver)?;
        let sender = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let subnet = [127, 255, 255, 255];
        ns.note(
            "SO_BROADCAST of a new UDP socket",
            call(&crate::socket::int_option(&sender, libc::SOL_SOCKET, libc::SO_BROADCAST)),
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
        "socket.broadcast.options_choose_interface",
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
    ctx.observe("headers defining O_BROADCAST; SO_BROADCAST", (&o_broadcast, &so_broadcast));
    ctx.decide(
        "socket.broadcast.o_broadcast",
        match (o_broadcast.as_deref(), so_broadcast.as_deref(), sent_with_flag) {
            (None, Some(_), true) => Decision::partial("broadcasting works as described once the socket allows it, but the option is SO_BROADCAST (socket level); no header defines O_BROADCAST"),
            (None, None, true) => Decision::partial("broadcasting works once SO_BROADCAST is set; the C headers are not installed, so O_BROADCAST could not be looked for"),
            (Some(_), _, true) => Decision::holds("O_BROADCAST is defined and broadcasting works once allowed"),
            _ => Decision::refuted("a broadcast did not go even with SO_BROADCAST (see observation)"),
        },
    );
    let limited_unbound = ns.get("sendto 255.255.255.255 with SO_BROADCAST, no interface chosen");
    let limited_bound = ns.get("sendto 255.255.255.255 again, bound to lo");
    ctx.check(
        "socket.broadcast.options_choose_interface",
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
