//! Socket address structures and the text/binary conversions (inet_pton, inet_ntop, inet_addr,
//! inet_ntoa). Layouts are read from what the kernel writes, not only from the bindings.

use std::mem::{offset_of, size_of};

use harness::obs::errno_name;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::socket::{self, bind_v4, local_port, name_bytes, ntop, pton, socket, LOOPBACK};
use crate::util::hex;

pub const CASES: &[Case] = &[
    Case::new(
        "socket.addr.layouts",
        &[
            "socket.addr.generic_sockaddr",
            "socket.addr.port_and_addr_types",
            "socket.addr.sockaddr_in_layout",
            "socket.addr.sockaddr_in6_layout",
        ],
        layouts,
    ),
    Case::new(
        "socket.addr.conversions",
        &[
            "socket.addr.ntop_pton_both_families",
            "socket.addr.ntop_from_network_order",
            "socket.addr.only_af_inet_and_inet6",
            "socket.addr.addrstrlen_is_enough",
            "socket.addr.ntop_returns_dst_or_null",
            "socket.addr.pton_to_network_order",
            "socket.addr.pton_returns",
        ],
        conversions,
    ),
];

fn layouts(ctx: &mut Ctx) -> anyhow::Result<()> {
    let sockaddr =
        (size_of::<libc::sockaddr>(), size_of::<libc::sa_family_t>(), size_of_val(&unsafe_zeroed_sockaddr().sa_data));
    ctx.observe("sizeof sockaddr, sa_family_t, sa_data", sockaddr);
    // An IPv4 socket's name as the kernel writes it into a generous buffer.
    let v4 = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    bind_v4(&v4, LOOPBACK, 0)?;
    let port = local_port(&v4)?;
    let (raw4, len4) = name_bytes(&v4, 128)?;
    let family4 = u16::from_ne_bytes([raw4[0], raw4[1]]);
    let v4_fields = serde_json::json!({
        "length written": len4,
        "family at 0 is AF_INET": i32::from(family4) == libc::AF_INET,
        "port at 2 (big-endian)": u16::from_be_bytes([raw4[2], raw4[3]]) == port,
        "address at 4": hex(&raw4[4..8]),
        "bytes 8..16": hex(&raw4[8..16]),
    });
    ctx.observe("getsockname of 127.0.0.1 (UDP), as the kernel wrote it", &v4_fields);
    let bindings4 = (
        size_of::<libc::sockaddr_in>(),
        offset_of!(libc::sockaddr_in, sin_port),
        offset_of!(libc::sockaddr_in, sin_addr),
        offset_of!(libc::sockaddr_in, sin_zero),
    );
    ctx.observe("sockaddr_in in the C headers' layout: size, offsets of port, addr, zero", bindings4);
    ctx.check(
        "socket.addr.generic_sockaddr",
        sockaddr == (16, 2, 14) && len4 == 16 && i32::from(family4) == libc::AF_INET,
        "struct sockaddr is a 2-byte sa_family and 14 bytes of sa_data, 16 bytes; the kernel's IPv4 names are that size, family first",
        "the generic sockaddr differs (see observation)",
    );
    let types = (size_of::<libc::in_port_t>(), size_of::<libc::in_addr_t>());
    ctx.observe("sizeof in_port_t, in_addr_t", types);
    ctx.check(
        "socket.addr.port_and_addr_types",
        types == (2, 4),
        "in_port_t is 2 bytes (uint16_t) and in_addr_t 4 bytes (uint32_t)",
        "the types have other sizes (see observation)",
    );
    ctx.check(
        "socket.addr.sockaddr_in_layout",
        len4 == 16 && raw4[4..8] == LOOPBACK && raw4[8..16] == [0; 8] && bindings4 == (16, 2, 4, 8),
        "16 bytes: family at 0, port at 2, address at 4, and 8 zero bytes (sin_zero) at 8, in the kernel's copy as in the headers",
        "the kernel's sockaddr_in differs (see observation)",
    );

    let decision = match socket(libc::AF_INET6, libc::SOCK_DGRAM, 0) {
        Err(e) => Decision::skipped(format!("no IPv6 here (socket: {})", errno_name(e))),
        Ok(v6) => {
            let bound = crate::socket::bind_v6(&v6, std::net::Ipv6Addr::LOCALHOST, 0);
            match bound {
                Err(e) => Decision::skipped(format!("::1 is not available here (bind: {})", errno_name(e))),
                Ok(_) => {
                    let (raw6, len6) = name_bytes(&v6, 128)?;
                    let port6 = u16::from_be_bytes([raw6[2], raw6[3]]);
                    let fields = serde_json::json!({
                        "length written": len6,
                        "family at 0 is AF_INET6": i32::from(u16::from_ne_bytes([raw6[0], raw6[1]])) == libc::AF_INET6,
                        "port at 2 is non-zero": port6 != 0,
                        "flowinfo at 4": hex(&raw6[4..8]),
                        "address at 8": hex(&raw6[8..24]),
                        "scope_id at 24": hex(&raw6[24..28]),
                    });
                    let bindings6 = (
                        size_of::<libc::sockaddr_in6>(),
                        offset_of!(libc::sockaddr_in6, sin6_port),
                        offset_of!(libc::sockaddr_in6, sin6_flowinfo),
                        offset_of!(libc::sockaddr_in6, sin6_addr),
                        offset_of!(libc::sockaddr_in6, sin6_scope_id),
                    );
                    ctx.observe("getsockname of [::1] (UDP), as the kernel wrote it", &fields);
                    ctx.observe(
                        "sockaddr_in6 in the headers' layout: size, offsets of port, flowinfo, addr, scope_id",
                        bindings6,
                    );
                    let ok = len6 == 28
                        && raw6[8..24] == std::net::Ipv6Addr::LOCALHOST.octets()
                        && port6 != 0
                        && bindings6 == (28, 2, 4, 8, 24);
                    Decision::from_check(
                        ok,
                        "28 bytes: family, port at 2, flowinfo at 4, the 16-byte address at 8 and scope_id at 24, in the kernel's copy as in the headers",
                        "the kernel's sockaddr_in6 differs (see observation)",
                    )
                }
            }
        }
    };
    ctx.decide("socket.addr.sockaddr_in6_layout", decision);
    Ok(())
}

fn unsafe_zeroed_sockaddr() -> libc::sockaddr {
    // SAFETY: all-zero bytes are a valid sockaddr.
    unsafe { std::mem::zeroed() }
}

fn conversions(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r4, _, b4) = pton(libc::AF_INET, "1.2.3.4");
    let (r6, _, b6) = pton(libc::AF_INET6, "2001:db8::8:1");
    let bad = pton(libc::AF_INET, "1.2.3.256");
    let bad6 = pton(libc::AF_INET6, "1::2::3");
    let wrong_family = pton(libc::AF_UNIX, "1.2.3.4");
    let back4 = ntop(libc::AF_INET, &b4[..4], 16);
    let back6 = ntop(libc::AF_INET6, &b6, 46);
    let ntop_unix = ntop(libc::AF_UNIX, &b4, 64);
    let text = |r: &Result<(String, bool), Errno>| match r {
        Ok((t, _)) => t.clone(),
        Err(e) => format!("NULL {}", errno_name(*e)),
    };
    ctx.observe("inet_pton(AF_INET, \"1.2.3.4\"): return, bytes", (r4, hex(&b4[..4])));
    ctx.observe("inet_pton(AF_INET6, \"2001:db8::8:1\"): return, bytes", (r6, hex(&b6)));
    ctx.observe("inet_pton of \"1.2.3.256\" (AF_INET), \"1::2::3\" (AF_INET6): return", (bad.0, bad6.0));
    ctx.observe("inet_pton(AF_UNIX, ...): return, errno", (wrong_family.0, wrong_family.1.map(errno_name)));
    ctx.observe("inet_ntop of those bytes back", (text(&back4), text(&back6)));
    ctx.observe("inet_ntop(AF_UNIX, ...)", text(&ntop_unix));

    let c = std::ffi::CString::new("1.2.3.4")?;
    let c6 = std::ffi::CString::new("::1")?;
    // SAFETY: NUL-terminated strings; inet_addr only reads them.
    let (addr4, addr6) = unsafe { (socket::inet_addr(c.as_ptr()), socket::inet_addr(c6.as_ptr())) };
    // SAFETY: inet_ntoa returns a pointer to a static NUL-terminated buffer.
    let ntoa = unsafe { std::ffi::CStr::from_ptr(socket::inet_ntoa(libc::in_addr { s_addr: addr4 })) }
        .to_string_lossy()
        .into_owned();
    ctx.observe(
        "inet_addr(\"1.2.3.4\") bytes; inet_addr(\"::1\") is INADDR_NONE",
        (hex(&addr4.to_ne_bytes()), addr6 == u32::MAX),
    );
    ctx.observe("inet_ntoa of it", &ntoa);
    ctx.check(
        "socket.addr.ntop_pton_both_families",
        r4 == 1 && r6 == 1 && text(&back4) == "1.2.3.4" && text(&back6) == "2001:db8::8:1" && ntoa == "1.2.3.4" && addr6 == u32::MAX,
        "inet_pton/inet_ntop converted an IPv4 and an IPv6 address both ways; inet_addr/inet_ntoa handled 1.2.3.4 but inet_addr refused \"::1\" (INADDR_NONE): IPv4 only",
        "a conversion did not behave as described (see observation)",
    );
    ctx.check(
        "socket.addr.ntop_from_network_order",
        text(&ntop(libc::AF_INET, &[0x7f, 0, 0, 1], 16)) == "127.0.0.1",
        "the bytes 7f 00 00 01 (network order, most significant first) came out as \"127.0.0.1\"",
        "inet_ntop did not read network order (see observation)",
    );
    ctx.check(
        "socket.addr.only_af_inet_and_inet6",
        wrong_family == (-1, Some(Errno::EAFNOSUPPORT), wrong_family.2) && ntop_unix == Err(Errno::EAFNOSUPPORT),
        "AF_UNIX was refused by both: inet_pton -1 and inet_ntop NULL, errno EAFNOSUPPORT",
        "another family was accepted (see observation)",
    );

    let strlen4 = socket::header_define("/usr/include/netinet/in.h", "INET_ADDRSTRLEN").unwrap_or(16) as usize;
    let strlen6 = socket::header_define("/usr/include/netinet/in.h", "INET6_ADDRSTRLEN").unwrap_or(46) as usize;
    let longest4 = [255u8, 255, 255, 255];
    let (_, _, longest6) = pton(libc::AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    let (_, _, longest6_plain) = pton(libc::AF_INET6, "ffff:fffe:ffff:ffff:ffff:ffff:ffff:ffff");
    let fits = [
        text(&ntop(libc::AF_INET, &longest4, strlen4)),
        text(&ntop(libc::AF_INET6, &longest6, strlen6)),
        text(&ntop(libc::AF_INET6, &longest6_plain, strlen6)),
    ];
    let short = [text(&ntop(libc::AF_INET, &longest4, strlen4 - 2)), text(&ntop(libc::AF_INET, &longest4, 15))];
    ctx.observe("INET_ADDRSTRLEN, INET6_ADDRSTRLEN (from netinet/in.h when installed)", (strlen4, strlen6));
    ctx.observe("longest strings into buffers of exactly those sizes", &fits);
    ctx.observe("255.255.255.255 into 14 and 15 bytes", &short);
    ctx.check(
        "socket.addr.addrstrlen_is_enough",
        fits.iter().all(|t| !t.starts_with("NULL")) && short.iter().all(|t| t == "NULL ENOSPC"),
        format!("the longest IPv4 (15 characters) and IPv6 strings fit in {strlen4} and {strlen6} bytes; one byte less than the IPv4 string needs gave NULL with ENOSPC"),
        "a constant was too small, or a short buffer did not fail (see observation)",
    );
    let returned_dst = matches!(back4, Ok((_, true))) && matches!(back6, Ok((_, true)));
    ctx.observe("inet_ntop returned the dst pointer it was given", returned_dst);
    ctx.check(
        "socket.addr.ntop_returns_dst_or_null",
        returned_dst && ntop_unix == Err(Errno::EAFNOSUPPORT),
        "success returned dst itself; failure a null pointer with errno set",
        "inet_ntop returned something else (see observation)",
    );

    let outcome = ctx.property((any::<[u8; 4]>(), any::<[u8; 16]>()), 256, 4096, |(a4, a6)| {
        let t4 = std::net::Ipv4Addr::from(a4).to_string();
        let (r, _, bytes) = pton(libc::AF_INET, &t4);
        prop_assert_eq!((r, &bytes[..4]), (1, &a4[..]), "inet_pton({})", t4);
        let back = ntop(libc::AF_INET, &a4, 16).map(|(t, _)| t);
        prop_assert_eq!(back, Ok(t4));
        let (_, _, from_text) = match ntop(libc::AF_INET6, &a6, 46) {
            Ok((t, _)) => pton(libc::AF_INET6, &t),
            Err(e) => return Err(TestCaseError::fail(format!("inet_ntop: {e}"))),
        };
        prop_assert_eq!(from_text, a6, "IPv6 round trip");
        Ok(())
    });
    ctx.observe("property: random IPv4 and IPv6 addresses, text and back", &outcome);
    ctx.check(
        "socket.addr.pton_to_network_order",
        b4[..4] == [1, 2, 3, 4] && outcome.passed(),
        format!("\"1.2.3.4\" became the bytes 01 02 03 04 (network order), and {} random IPv4 and IPv6 addresses survived text and back", outcome.cases),
        format!("inet_pton's bytes or a round trip differed: {:?}", outcome.counterexample),
    );
    ctx.check(
        "socket.addr.pton_returns",
        r4 == 1
            && r6 == 1
            && bad.0 == 0
            && bad6.0 == 0
            && wrong_family.0 == -1
            && wrong_family.1 == Some(Errno::EAFNOSUPPORT),
        "1 for valid addresses, 0 for invalid strings (1.2.3.256, 1::2::3), -1 with EAFNOSUPPORT for AF_UNIX",
        "inet_pton's return values differ (see observation)",
    );
    Ok(())
}
