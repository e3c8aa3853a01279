//! netdb: the host, network, protocol and service databases, getaddrinfo and getnameinfo.
//!
//! Hermetic: the queries run in a child with a mount namespace of its own where /etc is a
//! tmpfs holding only the fixture files (fixtures/netdb/: hosts, networks, protocols, services,
//! and an nsswitch.conf that says "files" for all four), inside a network namespace with only
//! `lo`. No query can reach DNS or depend on the machine's own files.

use std::ffi::{CStr, CString};

use harness::{Case, Ctx, Decision};
use serde_json::{json, Value};

use crate::socket::netns::{in_namespaces, InNamespace};

pub const CASES: &[Case] = &[
    Case::new(
        "socket.netdb.databases",
        &[
            "socket.netdb.hosts_file",
            "socket.netdb.hostent_fields",
            "socket.netdb.gethostent_end",
            "socket.netdb.sethostent_stayopen",
            "socket.netdb.endhostent_closes",
            "socket.netdb.networks_file",
            "socket.netdb.n_net_network_order",
            "socket.netdb.n_net_host_order_comment",
            "socket.netdb.getnetbyaddr_host_order",
            "socket.netdb.getnet_failure_errno",
            "socket.netdb.setnetent_rewinds",
            "socket.netdb.set_stayopen_keeps_open",
            "socket.netdb.protocols_file",
            "socket.netdb.getprotobyname",
            "socket.netdb.getprotobynumber",
            "socket.netdb.proto_set_end_names",
            "socket.netdb.services_file",
            "socket.netdb.getservent",
            "socket.netdb.s_port",
            "socket.netdb.getservbyname",
            "socket.netdb.getservbyport",
            "socket.netdb.serv_set_end_names",
            "socket.netdb.getproto_failure_null",
            "socket.netdb.getserv_failure_null",
            "socket.netdb.pop3_is_port_110",
        ],
        databases,
    )
    .timeout_ms(8000),
    Case::new(
        "socket.netdb.getaddrinfo",
        &[
            "socket.netdb.getaddrinfo_node_or_service",
            "socket.netdb.ai_passive_any",
            "socket.netdb.hints_zero_is_any",
            "socket.netdb.ai_addrconfig",
            "socket.netdb.ai_all",
            "socket.netdb.ai_canonname",
            "socket.netdb.ai_numerichost",
            "socket.netdb.ai_numericserv",
            "socket.netdb.ai_v4mapped",
            "socket.netdb.node_from_hosts",
            "socket.netdb.service_from_services",
            "socket.netdb.hints_other_fields_zero",
            "socket.netdb.getaddrinfo_returns",
            "socket.netdb.gai_strerror",
        ],
        getaddrinfo_case,
    )
    .timeout_ms(8000),
    Case::new(
        "socket.netdb.getnameinfo",
        &[
            "socket.netdb.ni_dgram",
            "socket.netdb.ni_namereqd",
            "socket.netdb.ni_nofqdn",
            "socket.netdb.ni_numerichost",
            "socket.netdb.ni_numericserv",
            "socket.netdb.getnameinfo_returns",
        ],
        getnameinfo_case,
    )
    .timeout_ms(8000),
];

const FIXTURES: &[(&str, &str)] = &[
    ("hosts", include_str!("../../../fixtures/netdb/hosts")),
    ("networks", include_str!("../../../fixtures/netdb/networks")),
    ("protocols", include_str!("../../../fixtures/netdb/protocols")),
    ("services", include_str!("../../../fixtures/netdb/services")),
    ("nsswitch.conf", include_str!("../../../fixtures/netdb/nsswitch.conf")),
];

/// The host name set in the child's UTS namespace: its domain is what NI_NOFQDN strips.
const HOST_NAME: &str = "node.example.org";

#[repr(C)]
struct NetEnt {
    n_name: *mut libc::c_char,
    n_aliases: *mut *mut libc::c_char,
    n_addrtype: libc::c_int,
    n_net: u32,
}

extern "C" {
    fn gethostent() -> *mut libc::hostent;
    fn sethostent(stayopen: libc::c_int);
    fn endhostent();
    fn getnetent() -> *mut NetEnt;
    fn getnetbyname(name: *const libc::c_char) -> *mut NetEnt;
    fn getnetbyaddr(net: u32, family: libc::c_int) -> *mut NetEnt;
    fn setnetent(stayopen: libc::c_int);
    fn getprotoent() -> *mut libc::protoent;
    fn setprotoent(stayopen: libc::c_int);
    fn endprotoent();
    fn getprotobynumber(proto: libc::c_int) -> *mut libc::protoent;
    fn __h_errno_location() -> *mut libc::c_int;
    fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
}

/// netdb.h's h_errno value for "no such host" (the libc crate does not bind it).
const HOST_NOT_FOUND: libc::c_int = 1;

/// In a child: a private mount and UTS namespace (inside the private network namespace)
/// whose /etc holds only the fixture files.
fn hermetic_etc() -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS)
        .map_err(|e| format!("unshare(CLONE_NEWNS|CLONE_NEWUTS): {e}"))?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("making / private: {e}"))?;
    mount(Some("tmpfs"), "/etc", Some("tmpfs"), MsFlags::empty(), Some("mode=0755"))
        .map_err(|e| format!("tmpfs on /etc: {e}"))?;
    for (name, text) in FIXTURES {
        std::fs::write(format!("/etc/{name}"), text).map_err(|e| format!("writing /etc/{name}: {e}"))?;
    }
    // A name service cache daemon would answer instead of the files: hide its socket.
    for dir in ["/run/nscd", "/var/run/nscd"] {
        if std::path::Path::new(dir).is_dir() {
            mount(Some("tmpfs"), dir, Some("tmpfs"), MsFlags::empty(), None::<&str>)
                .map_err(|e| format!("tmpfs on {dir}: {e}"))?;
        }
    }
    nix::unistd::sethostname(HOST_NAME).map_err(|e| format!("sethostname: {e}"))?;
    Ok(())
}

fn skip(ctx: &mut Ctx, claims: &[&str]) {
    for c in claims {
        ctx.decide(c, Decision::skipped("no private mount and network namespace could be made here (see observation), so the databases cannot be replaced by the fixture files; the machine's own files are never used"));
    }
}

fn text(p: *const libc::c_char) -> String {
    if p.is_null() {
        return "(null)".into();
    }
    // SAFETY: a NUL-terminated string from the C library.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn list(mut p: *mut *mut libc::c_char) -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: a NULL-terminated array of strings from the C library.
    unsafe {
        while !p.is_null() && !(*p).is_null() {
            out.push(text(*p));
            p = p.add(1);
        }
    }
    out
}

fn hostent(h: *mut libc::hostent) -> Value {
    if h.is_null() {
        return Value::Null;
    }
    // SAFETY: a valid hostent from the C library.
    let h = unsafe { &*h };
    let mut addrs = Vec::new();
    let mut p = h.h_addr_list;
    // SAFETY: h_addr_list is a NULL-terminated array of h_length-byte addresses.
    unsafe {
        while !p.is_null() && !(*p).is_null() {
            let bytes = std::slice::from_raw_parts(*p as *const u8, h.h_length as usize);
            addrs.push(match bytes.len() {
                4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
                16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or([0; 16])).to_string(),
                n => format!("{n} bytes"),
            });
            p = p.add(1);
        }
    }
    let family = match h.h_addrtype {
        libc::AF_INET => "AF_INET".to_string(),
        libc::AF_INET6 => "AF_INET6".to_string(),
        f => f.to_string(),
    };
    json!({"h_name": text(h.h_name), "h_aliases": list(h.h_aliases), "h_addrtype": family, "h_length": h.h_length, "h_addr_list": addrs})
}

fn netent(n: *mut NetEnt) -> Value {
    if n.is_null() {
        return Value::Null;
    }
    // SAFETY: a valid netent from the C library.
    let n = unsafe { &*n };
    json!({"n_name": text(n.n_name), "n_addrtype": n.n_addrtype, "n_net": format!("{:#010x}", n.n_net)})
}

fn protoent(p: *mut libc::protoent) -> Value {
    if p.is_null() {
        return Value::Null;
    }
    // SAFETY: a valid protoent from the C library.
    let p = unsafe { &*p };
    json!({"p_name": text(p.p_name), "p_aliases": list(p.p_aliases), "p_proto": p.p_proto})
}

fn servent(s: *mut libc::servent) -> Value {
    if s.is_null() {
        return Value::Null;
    }
    // SAFETY: a valid servent from the C library.
    let s = unsafe { &*s };
    json!({"s_name": text(s.s_name), "s_aliases": list(s.s_aliases), "s_port": s.s_port, "s_proto": text(s.s_proto)})
}

/// Descriptors of this process open on `path`.
fn open_on(path: &str) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten().filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == std::path::Path::new(path))).count()
        })
        .unwrap_or(0)
}

fn errno_now() -> i32 {
    nix::errno::Errno::last_raw()
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn databases(ctx: &mut Ctx) -> anyhow::Result<()> {
    let report = in_namespaces(ctx, hermetic_etc, |ns: &mut InNamespace| {
        // SAFETY (whole block): the netdb calls take valid C strings and return pointers into
        // static storage that are read before the next call.
        unsafe {
            sethostent(0);
            let mut hosts = Vec::new();
            loop {
                let h = gethostent();
                if h.is_null() {
                    break;
                }
                hosts.push(hostent(h));
            }
            ns.note("gethostent until NULL, after sethostent(0)", &hosts);
            ns.note("h_errno at the end", *__h_errno_location());
            endhostent();
            ns.note("descriptors on /etc/hosts after endhostent", open_on("/etc/hosts"));
            sethostent(1);
            let _ = gethostbyname(c("localhost").as_ptr());
            ns.note("after sethostent(1) and gethostbyname: descriptors on /etc/hosts", open_on("/etc/hosts"));
            endhostent();
            ns.note("after endhostent: descriptors on /etc/hosts", open_on("/etc/hosts"));
            sethostent(0);
            let _ = gethostbyname(c("localhost").as_ptr());
            ns.note("after sethostent(0) and gethostbyname: descriptors on /etc/hosts", open_on("/etc/hosts"));
            endhostent();

            // stayopen for the other three databases, the way sethostent's is probed: is the
            // file still open after a lookup, with the flag set and with it clear?
            for stayopen in [1, 0] {
                setnetent(stayopen);
                let _ = getnetbyname(c("loopnet").as_ptr());
                let net = open_on("/etc/networks");
                libc::endnetent();
                setprotoent(stayopen);
                let _ = libc::getprotobyname(c("tcp").as_ptr());
                let proto = open_on("/etc/protocols");
                endprotoent();
                libc::setservent(stayopen);
                let _ = libc::getservbyname(c("pop3").as_ptr(), c("tcp").as_ptr());
                let serv = open_on("/etc/services");
                libc::endservent();
                ns.note(
                    &format!(
                        "after set*ent({stayopen}) and a lookup: descriptors on /etc/networks, protocols, services"
                    ),
                    [net, proto, serv],
                );
            }

            setnetent(0);
            let first = netent(getnetent());
            let second = netent(getnetent());
            setnetent(0);
            let rewound = netent(getnetent());
            ns.note("getnetent twice; after setnetent(0) getnetent again", (&first, &second, &rewound));
            ns.note(
                "getnetbyname(\"loopnet\") (127.0.0.0 in /etc/networks)",
                netent(getnetbyname(c("loopnet").as_ptr())),
            );
            ns.note("getnetbyaddr(0x7f000000, AF_INET): host order", netent(getnetbyaddr(0x7f00_0000, libc::AF_INET)));
            ns.note(
                "getnetbyaddr(htonl(0x7f000000), AF_INET): network order",
                netent(getnetbyaddr(0x7f00_0000u32.to_be(), libc::AF_INET)),
            );
            nix::errno::Errno::set_raw(0);
            let missing = netent(getnetbyname(c("nosuchnet").as_ptr()));
            ns.note("getnetbyname(\"nosuchnet\") with errno 0 before: result, errno after", (missing, errno_now()));

            setprotoent(0);
            let p1 = protoent(getprotoent());
            let p2 = protoent(getprotoent());
            setnetent(0);
            let p3 = protoent(getprotoent());
            setprotoent(0);
            let p_rewound = protoent(getprotoent());
            ns.note(
                "getprotoent twice; after setnetent(0) getprotoent; after setprotoent(0) getprotoent",
                (&p1, &p2, &p3, &p_rewound),
            );
            ns.note("getprotobyname(\"tcp\")", protoent(libc::getprotobyname(c("tcp").as_ptr())));
            ns.note("getprotobynumber(17)", protoent(getprotobynumber(17)));
            nix::errno::Errno::set_raw(0);
            let none = protoent(libc::getprotobyname(c("nosuchproto").as_ptr()));
            ns.note("getprotobyname(\"nosuchproto\") with errno 0 before: result, errno after", (none, errno_now()));

            libc::setservent(0);
            let mut services = Vec::new();
            loop {
                let s = libc::getservent();
                if s.is_null() {
                    break;
                }
                services.push(servent(s));
            }
            ns.note("getservent until NULL", &services);
            ns.note(
                "getservbyname(\"pop3\", \"tcp\")",
                servent(libc::getservbyname(c("pop3").as_ptr(), c("tcp").as_ptr())),
            );
            ns.note(
                "getservbyname(\"conform-alias\", \"tcp\") (an alias this suite added)",
                servent(libc::getservbyname(c("conform-alias").as_ptr(), c("tcp").as_ptr())),
            );
            ns.note(
                "getservbyport(htons(110), \"tcp\")",
                servent(libc::getservbyport(110u16.to_be() as i32, c("tcp").as_ptr())),
            );
            ns.note("getservbyport(110, \"tcp\") (host order)", servent(libc::getservbyport(110, c("tcp").as_ptr())));
            nix::errno::Errno::set_raw(0);
            let none = servent(libc::getservbyname(c("nosuchservice").as_ptr(), c("tcp").as_ptr()));
            ns.note(
                "getservbyname(\"nosuchservice\", \"tcp\") with errno 0 before: result, errno after",
                (none, errno_now()),
            );
        }
        Ok(())
    })?;
    let claims = CASES[0].claims;
    let Some(ns) = report else {
        skip(ctx, claims);
        return Ok(());
    };
    let symbols: Vec<(&str, bool)> = [
        "setservnet",
        "endservnet",
        "setservent",
        "endservent",
        "setprotoent",
        "endprotoent",
        "setnetent",
        "endnetent",
    ]
    .into_iter()
    .map(|n| (n, crate::util::libc_symbol(n).is_some()))
    .collect();
    let has = |n: &str| symbols.iter().any(|(s, ok)| *s == n && *ok);
    ctx.observe("names in the C library (dlsym)", &symbols);
    ctx.observe(
        "/usr/include/neydb.h exists (note 004's spelling); /usr/include/netdb.h exists",
        (
            crate::toolchain::header("/usr/include/neydb.h").is_some(),
            crate::toolchain::header("/usr/include/netdb.h").is_some(),
        ),
    );

    let hosts = ns.get("gethostent until NULL, after sethostent(0)");
    let names: Vec<String> = hosts
        .as_array()
        .map(|a| a.iter().map(|h| h["h_name"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default();
    let expected_names: Vec<String> = FIXTURES[0]
        .1
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    // The entries whose address is IPv4, and ::1 (which glibc's files backend returns as 127.0.0.1).
    let v4_names: Vec<String> = FIXTURES[0]
        .1
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let addr = w.next()?;
            (addr.parse::<std::net::Ipv4Addr>().is_ok() || addr == "::1")
                .then(|| w.next().map(str::to_string))
                .flatten()
        })
        .collect();
    ctx.decide(
        "socket.netdb.hosts_file",
        if !names.is_empty() && names == expected_names {
            Decision::holds("gethostent returned every entry of /etc/hosts (the fixture), in order, then NULL")
        } else if !names.is_empty() && names == v4_names {
            Decision::partial("gethostent read /etc/hosts in order, but only its IPv4 entries: the IPv6 lines were skipped, except ::1, which came back as 127.0.0.1 (AF_INET)")
        } else {
            Decision::refuted("gethostent did not follow /etc/hosts (see observation)")
        },
    );
    let first = &hosts[0];
    ctx.check(
        "socket.netdb.hostent_fields",
        first["h_name"] == "localhost"
            && first["h_addrtype"] == "AF_INET"
            && first["h_length"] == 4
            && first["h_addr_list"] == json!(["127.0.0.1"])
            && hosts[1]["h_aliases"] == json!(["u14"]),
        "each entry filled h_name, h_aliases, h_addrtype (AF_INET/AF_INET6), h_length (4/16) and h_addr_list",
        "the hostent fields differ (see observation)",
    );
    let h_errno = ns.get("h_errno at the end");
    ctx.decide(
        "socket.netdb.gethostent_end",
        if h_errno == HOST_NOT_FOUND {
            Decision::holds("at the end of the file gethostent returned NULL with h_errno HOST_NOT_FOUND (1)")
        } else {
            Decision::partial(format!("gethostent returned NULL at the end, but h_errno was {h_errno}"))
        },
    );
    let stay = ns.get("after sethostent(1) and gethostbyname: descriptors on /etc/hosts");
    let no_stay = ns.get("after sethostent(0) and gethostbyname: descriptors on /etc/hosts");
    ctx.decide(
        "socket.netdb.sethostent_stayopen",
        if stay == 1 && no_stay == 0 {
            Decision::holds("after sethostent(1) /etc/hosts stayed open across a lookup; after sethostent(0) it was closed")
        } else if stay == 1 && no_stay == 1 {
            Decision::refuted("stayopen made no difference: after sethostent(0) as after sethostent(1), /etc/hosts stayed open across a gethostbyname until endhostent (glibc ignores the flag)")
        } else {
            Decision::refuted("sethostent(1) did not keep /etc/hosts open (see observation)")
        },
    );
    let stay: Vec<usize> = serde_json::from_value(
        ns.get("after set*ent(1) and a lookup: descriptors on /etc/networks, protocols, services"),
    )
    .unwrap_or_default();
    let no_stay: Vec<usize> = serde_json::from_value(
        ns.get("after set*ent(0) and a lookup: descriptors on /etc/networks, protocols, services"),
    )
    .unwrap_or_default();
    let honoured = stay.iter().zip(&no_stay).filter(|(s, n)| **s >= 1 && **n == 0).count();
    let kept_anyway = stay.iter().zip(&no_stay).filter(|(s, n)| **s >= 1 && **n >= 1).count();
    ctx.decide(
        "socket.netdb.set_stayopen_keeps_open",
        match (stay.len(), honoured, kept_anyway) {
            (3, 3, _) => Decision::holds("with stayopen 1 each file stayed open across a lookup; with 0 it was closed"),
            (3, 0, 3) => Decision::refuted("stayopen made no difference: /etc/networks, /etc/protocols and /etc/services stayed open across a lookup after set*ent(0) as after set*ent(1), until end*ent"),
            (3, h, _) if h > 0 => Decision::partial(format!("stayopen was honoured by {h} of the 3 databases (see observation)")),
            (3, _, _) => Decision::refuted("set*ent(1) did not keep the files open across a lookup (see observation)"),
            _ => Decision::skipped("could not be checked: the namespace child did not report the descriptors"),
        },
    );
    ctx.check(
        "socket.netdb.endhostent_closes",
        ns.get("after endhostent: descriptors on /etc/hosts") == 0
            && ns.get("descriptors on /etc/hosts after endhostent") == 0,
        "after endhostent no descriptor was left on /etc/hosts",
        "endhostent left /etc/hosts open",
    );
    let walk = ns.get("getnetent twice; after setnetent(0) getnetent again");
    ctx.check(
        "socket.netdb.networks_file",
        walk[0]["n_name"] == "default" && walk[1]["n_name"] == "loopnet",
        "getnetent walked /etc/networks (the fixture) entry by entry",
        "getnetent did not follow /etc/networks (see observation)",
    );
    let loopnet = ns.get("getnetbyname(\"loopnet\") (127.0.0.0 in /etc/networks)");
    let host_order = loopnet["n_net"] == "0x7f000000";
    ctx.decide(
        "socket.netdb.n_net_network_order",
        if host_order { Decision::refuted("n_net came back in host byte order: 127.0.0.0 read as 0x7f000000 on this little-endian machine (network order would be 0x0000007f)") } else { Decision::holds(format!("n_net was {}", loopnet["n_net"])) },
    );
    ctx.check(
        "socket.netdb.n_net_host_order_comment",
        host_order && loopnet["n_addrtype"] == libc::AF_INET,
        "n_net held the network number in host byte order (0x7f000000 for 127.0.0.0) and n_addrtype was AF_INET",
        "n_net was not in host order (see observation)",
    );
    let by_host = ns.get("getnetbyaddr(0x7f000000, AF_INET): host order");
    let by_net = ns.get("getnetbyaddr(htonl(0x7f000000), AF_INET): network order");
    ctx.check(
        "socket.netdb.getnetbyaddr_host_order",
        by_host["n_name"] == "loopnet" && by_net.is_null(),
        "getnetbyaddr found loopnet given 0x7f000000 in host order, and nothing given it in network order",
        "getnetbyaddr's byte order differs (see observation)",
    );
    let missing = ns.get("getnetbyname(\"nosuchnet\") with errno 0 before: result, errno after");
    ctx.decide(
        "socket.netdb.getnet_failure_errno",
        match missing[1].as_i64() {
            Some(0) if missing[0].is_null() => {
                Decision::partial("a failed lookup returned NULL, but errno stayed 0: nothing was set")
            }
            Some(e) if missing[0].is_null() => {
                Decision::holds(format!("a failed lookup returned NULL and set errno to {e}"))
            }
            _ => Decision::refuted("a lookup of an unknown network did not return NULL"),
        },
    );
    ctx.check(
        "socket.netdb.setnetent_rewinds",
        walk[2] == walk[0] && !walk[0].is_null(),
        "after two getnetent calls, setnetent(0) made the next getnetent return the first entry again",
        "setnetent did not rewind (see observation)",
    );
    let protos = ns.get("getprotoent twice; after setnetent(0) getprotoent; after setprotoent(0) getprotoent");
    ctx.check(
        "socket.netdb.protocols_file",
        protos[0]["p_name"] == "ip"
            && protos[1]["p_name"] == "icmp"
            && protos[1]["p_aliases"] == json!(["ICMP"])
            && protos[1]["p_proto"] == 1,
        "getprotoent read /etc/protocols entry by entry, with p_name, p_aliases and p_proto",
        "getprotoent did not follow /etc/protocols (see observation)",
    );
    ctx.check(
        "socket.netdb.getprotobyname",
        ns.get("getprotobyname(\"tcp\")")["p_proto"] == 6
            && ns.get("getprotobyname(\"nosuchproto\") with errno 0 before: result, errno after")[0].is_null(),
        "getprotobyname(\"tcp\") gave protocol 6; an unknown name gave NULL",
        "getprotobyname differs (see observation)",
    );
    for (claim, key, what) in [
        (
            "socket.netdb.getproto_failure_null",
            "getprotobyname(\"nosuchproto\") with errno 0 before: result, errno after",
            "an unknown protocol name",
        ),
        (
            "socket.netdb.getserv_failure_null",
            "getservbyname(\"nosuchservice\", \"tcp\") with errno 0 before: result, errno after",
            "an unknown service name",
        ),
    ] {
        let failed = ns.get(key);
        ctx.decide(
            claim,
            match failed[1].as_i64() {
                _ if !failed[0].is_null() => Decision::refuted(format!("the lookup of {what} did not return NULL")),
                Some(0) => Decision::partial(format!(
                    "the lookup of {what} returned NULL (as the walk returns NULL at the end of the file), but errno stayed 0: no error number was set"
                )),
                Some(e) => Decision::holds(format!("the lookup of {what} returned NULL and set errno to {e}")),
                None => Decision::skipped("errno after the lookup was not recorded"),
            },
        );
    }
    ctx.check(
        "socket.netdb.getprotobynumber",
        ns.get("getprotobynumber(17)")["p_name"] == "udp",
        "getprotobynumber(17) gave \"udp\"",
        "getprotobynumber differs (see observation)",
    );
    ctx.decide(
        "socket.netdb.proto_set_end_names",
        if has("setprotoent") && has("endprotoent") && protos[2]["p_name"] == "tcp" && protos[3] == protos[0] {
            Decision::refuted("the protocol database is opened and closed by setprotoent/endprotoent (as the text below the block says); setnetent, which the block declares, rewinds /etc/networks and left the protocol walk where it was (the third getprotoent gave tcp); the block's header is also spelled <neydb.h>")
        } else {
            Decision::holds("setnetent acted on the protocol database (see observation)")
        },
    );
    let services = ns.get("getservent until NULL");
    let pop3 = ns.get("getservbyname(\"pop3\", \"tcp\")");
    ctx.check(
        "socket.netdb.services_file",
        services.as_array().is_some_and(|s| s.len() == 6) && ns.get("getservbyname(\"conform-alias\", \"tcp\") (an alias this suite added)")["s_name"] == "ipc-conform",
        "every \"name port/protocol\" line of /etc/services was an entry, and an entry this suite added (with an alias) was found by its alias like any other",
        "the services database did not follow the file (see observation)",
    );
    ctx.check(
        "socket.netdb.getservent",
        services[0]["s_name"] == "ssh" && services[0]["s_proto"] == "tcp",
        "getservent walked /etc/services in order, then returned NULL",
        "getservent differs (see observation)",
    );
    let net_110 = i64::from(110u16.to_be());
    ctx.decide(
        "socket.netdb.s_port",
        if pop3["s_port"] == net_110 { Decision::partial(format!("s_port is the port, but in network byte order: pop3's 110 read as {net_110} on this machine (ntohs gives 110)")) } else { Decision::holds(format!("s_port was {}", pop3["s_port"])) },
    );
    ctx.check(
        "socket.netdb.getservbyname",
        pop3["s_name"] == "pop3" && pop3["s_proto"] == "tcp",
        "getservbyname(\"pop3\", \"tcp\") returned the pop3 entry",
        "getservbyname differs (see observation)",
    );
    ctx.check(
        "socket.netdb.getservbyport",
        ns.get("getservbyport(htons(110), \"tcp\")")["s_name"] == "pop3" && ns.get("getservbyport(110, \"tcp\") (host order)").is_null(),
        "getservbyport found pop3 given the port in network order (htons(110)); given 110 in host order it found nothing",
        "getservbyport differs (see observation)",
    );
    ctx.decide(
        "socket.netdb.serv_set_end_names",
        if !has("setservnet") && !has("endservnet") && has("setservent") && has("endservent") {
            Decision::refuted(
                "setservnet and endservnet do not exist in the C library; the functions are setservent and endservent",
            )
        } else {
            Decision::holds("setservnet/endservnet exist (see observation)")
        },
    );
    ctx.check(
        "socket.netdb.pop3_is_port_110",
        pop3["s_port"] == net_110,
        "the services database (Debian's netbase entry, copied into the fixture) gives pop3 port 110/tcp",
        "pop3 is not 110 in the services database",
    );
    Ok(())
}

/// One getaddrinfo call: its return code and each result as "family socktype protocol address port".
fn gai(node: Option<&str>, service: Option<&str>, family: i32, socktype: i32, flags: i32) -> Value {
    gai_with(node, service, |h| {
        h.ai_family = family;
        h.ai_socktype = socktype;
        h.ai_flags = flags;
    })
}

fn gai_with(node: Option<&str>, service: Option<&str>, hints_of: impl FnOnce(&mut libc::addrinfo)) -> Value {
    let node_c = node.map(c);
    let service_c = service.map(c);
    // SAFETY: an all-zero addrinfo is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints_of(&mut hints);
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid strings or null, valid hints; res is freed below.
    let r = unsafe {
        libc::getaddrinfo(
            node_c.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            service_c.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    let mut out = Vec::new();
    let mut canon = Value::Null;
    let mut p = res;
    while !p.is_null() {
        // SAFETY: p walks the list getaddrinfo returned.
        let ai = unsafe { &*p };
        if !ai.ai_canonname.is_null() {
            canon = json!(text(ai.ai_canonname));
        }
        let addr = if ai.ai_family == libc::AF_INET {
            // SAFETY: an AF_INET result holds a sockaddr_in.
            let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
            format!("{}:{}", std::net::Ipv4Addr::from(sa.sin_addr.s_addr.to_ne_bytes()), u16::from_be(sa.sin_port))
        } else {
            // SAFETY: an AF_INET6 result holds a sockaddr_in6.
            let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
            format!("[{}]:{}", std::net::Ipv6Addr::from(sa.sin6_addr.s6_addr), u16::from_be(sa.sin6_port))
        };
        let fam = if ai.ai_family == libc::AF_INET { "AF_INET" } else { "AF_INET6" };
        let ty = match ai.ai_socktype {
            libc::SOCK_STREAM => "SOCK_STREAM",
            libc::SOCK_DGRAM => "SOCK_DGRAM",
            libc::SOCK_RAW => "SOCK_RAW",
            _ => "?",
        };
        out.push(format!("{fam} {ty} {} {addr}", ai.ai_protocol));
        p = ai.ai_next;
    }
    if !res.is_null() {
        // SAFETY: res came from getaddrinfo and is freed once.
        unsafe { libc::freeaddrinfo(res) };
    }
    json!({"return": r, "results": out, "canonname": canon})
}

fn getaddrinfo_case(ctx: &mut Ctx) -> anyhow::Result<()> {
    let report = in_namespaces(ctx, hermetic_etc, |ns: &mut InNamespace| {
        let (inet, inet6, unspec) = (libc::AF_INET, libc::AF_INET6, libc::AF_UNSPEC);
        let stream = libc::SOCK_STREAM;
        ns.note("node only: (\"localhost\", NULL)", gai(Some("localhost"), None, inet, stream, 0));
        ns.note("service only: (NULL, \"80\")", gai(None, Some("80"), inet, stream, 0));
        ns.note("both: (\"localhost\", \"80\")", gai(Some("localhost"), Some("80"), inet, stream, 0));
        ns.note("neither: (NULL, NULL)", gai(None, None, inet, stream, 0));
        ns.note("(NULL, \"80\") AI_PASSIVE, AF_INET", gai(None, Some("80"), inet, stream, libc::AI_PASSIVE));
        ns.note("(NULL, \"80\") AI_PASSIVE, AF_INET6", gai(None, Some("80"), inet6, stream, libc::AI_PASSIVE));
        ns.note(
            "(\"localhost\", \"80\") AI_PASSIVE: the node wins",
            gai(Some("localhost"), Some("80"), inet, stream, libc::AI_PASSIVE),
        );
        ns.note(
            "(\"127.0.0.1\", \"80\") with family, socktype and protocol 0",
            gai(Some("127.0.0.1"), Some("80"), unspec, 0, 0),
        );
        ns.note("(\"dualhost\", NULL) AF_UNSPEC SOCK_STREAM", gai(Some("dualhost"), None, unspec, stream, 0));
        ns.note(
            "(\"dualhost\", NULL) AF_UNSPEC AI_ADDRCONFIG (only lo is up)",
            gai(Some("dualhost"), None, unspec, stream, libc::AI_ADDRCONFIG),
        );
        ns.note("(\"localhost\", NULL) AF_INET6", gai(Some("localhost"), None, inet6, stream, 0));
        ns.note(
            "(\"localhost\", NULL) AF_INET6 AI_V4MAPPED",
            gai(Some("localhost"), None, inet6, stream, libc::AI_V4MAPPED),
        );
        ns.note(
            "(\"dualhost\", NULL) AF_INET6 AI_V4MAPPED",
            gai(Some("dualhost"), None, inet6, stream, libc::AI_V4MAPPED),
        );
        ns.note(
            "(\"dualhost\", NULL) AF_INET6 AI_V4MAPPED|AI_ALL",
            gai(Some("dualhost"), None, inet6, stream, libc::AI_V4MAPPED | libc::AI_ALL),
        );
        ns.note("(\"dualhost\", NULL) AF_INET6 AI_ALL alone", gai(Some("dualhost"), None, inet6, stream, libc::AI_ALL));
        ns.note(
            "(\"u14\", NULL) AF_INET AI_CANONNAME (u14 is an alias of Ubuntu14)",
            gai(Some("u14"), None, inet, stream, libc::AI_CANONNAME),
        );
        ns.note("(\"u14\", NULL) AF_INET without AI_CANONNAME", gai(Some("u14"), None, inet, stream, 0));
        ns.note(
            "(\"Ubuntu14\", NULL) AF_INET AI_NUMERICHOST",
            gai(Some("Ubuntu14"), None, inet, stream, libc::AI_NUMERICHOST),
        );
        ns.note(
            "(\"127.0.1.1\", NULL) AF_INET AI_NUMERICHOST",
            gai(Some("127.0.1.1"), None, inet, stream, libc::AI_NUMERICHOST),
        );
        ns.note(
            "(\"localhost\", \"pop3\") AF_INET AI_NUMERICSERV",
            gai(Some("localhost"), Some("pop3"), inet, stream, libc::AI_NUMERICSERV),
        );
        ns.note(
            "(\"localhost\", \"110\") AF_INET AI_NUMERICSERV",
            gai(Some("localhost"), Some("110"), inet, stream, libc::AI_NUMERICSERV),
        );
        ns.note("(\"Ubuntu14\", NULL) AF_INET", gai(Some("Ubuntu14"), None, inet, stream, 0));
        ns.note("(\"127.0.1.1\", NULL) AF_INET", gai(Some("127.0.1.1"), None, inet, stream, 0));
        ns.note("(\"notinhosts\", NULL) AF_INET", gai(Some("notinhosts"), None, inet, stream, 0));
        ns.note("(\"localhost\", \"pop3\") AF_INET", gai(Some("localhost"), Some("pop3"), inet, stream, 0));
        ns.note(
            "(\"localhost\", \"ipc-conform\") AF_INET (an entry this suite added)",
            gai(Some("localhost"), Some("ipc-conform"), inet, stream, 0),
        );
        ns.note(
            "(\"localhost\", \"syslog\") AF_INET SOCK_STREAM (syslog is udp only)",
            gai(Some("localhost"), Some("syslog"), inet, stream, 0),
        );
        ns.note(
            "(\"localhost\", \"80\") AF_INET, hints with ai_addrlen 99 and ai_canonname set",
            gai_with(Some("localhost"), Some("80"), |h| {
                h.ai_family = libc::AF_INET;
                h.ai_socktype = libc::SOCK_STREAM;
                h.ai_addrlen = 99;
                h.ai_canonname = c"set".as_ptr() as *mut libc::c_char;
            }),
        );
        ns.note("(\"localhost\", NULL) with family 12345", gai(Some("localhost"), None, 12345, stream, 0));
        ns.note("(\"localhost\", NULL) with flags 0x10000", gai(Some("localhost"), None, inet, stream, 0x10000));
        Ok(())
    })?;
    let claims = CASES[1].claims;
    let Some(ns) = report else {
        skip(ctx, claims);
        return Ok(());
    };
    let r = |k: &str| ns.get(k);
    let first = |k: &str| r(k)["results"][0].as_str().unwrap_or("").to_string();
    let strerror = |code: i32| {
        // SAFETY: gai_strerror returns a static string for any code.
        text(unsafe { libc::gai_strerror(code) })
    };
    let codes = json!({
        "EAI_NONAME": libc::EAI_NONAME, "EAI_SERVICE": libc::EAI_SERVICE, "EAI_FAMILY": libc::EAI_FAMILY, "EAI_BADFLAGS": libc::EAI_BADFLAGS,
    });
    ctx.observe("the EAI codes of this C library", &codes);
    ctx.observe(
        "gai_strerror of EAI_NONAME, EAI_SERVICE, EAI_FAMILY, 0",
        (strerror(libc::EAI_NONAME), strerror(libc::EAI_SERVICE), strerror(libc::EAI_FAMILY), strerror(0)),
    );
    ctx.check(
        "socket.netdb.getaddrinfo_node_or_service",
        first("node only: (\"localhost\", NULL)") == "AF_INET SOCK_STREAM 6 127.0.0.1:0"
            && first("service only: (NULL, \"80\")") == "AF_INET SOCK_STREAM 6 127.0.0.1:80"
            && first("both: (\"localhost\", \"80\")") == "AF_INET SOCK_STREAM 6 127.0.0.1:80"
            && r("neither: (NULL, NULL)")["return"] == libc::EAI_NONAME,
        "a node alone (port 0), a service alone (the loopback address) and both worked; with neither, EAI_NONAME",
        "getaddrinfo with a node or a service alone differs (see observation)",
    );
    ctx.decide(
        "socket.netdb.ai_passive_any",
        if first("(NULL, \"80\") AI_PASSIVE, AF_INET") == "AF_INET SOCK_STREAM 6 0.0.0.0:80" && first("(NULL, \"80\") AI_PASSIVE, AF_INET6") == "AF_INET6 SOCK_STREAM 6 [::]:80" && first("(\"localhost\", \"80\") AI_PASSIVE: the node wins") == "AF_INET SOCK_STREAM 6 127.0.0.1:80" {
            Decision::holds("with no node and AI_PASSIVE the address was 0.0.0.0 (and :: for AF_INET6), ready for bind; a node given overrides it")
        } else {
            Decision::refuted("AI_PASSIVE did not give the wildcard address (see observation)")
        },
    );
    let any = r("(\"127.0.0.1\", \"80\") with family, socktype and protocol 0")["results"].clone();
    ctx.check(
        "socket.netdb.hints_zero_is_any",
        any == json!(["AF_INET SOCK_STREAM 6 127.0.0.1:80", "AF_INET SOCK_DGRAM 17 127.0.0.1:80", "AF_INET SOCK_RAW 0 127.0.0.1:80"]),
        "family, socktype and protocol 0 in the hints meant any: one result per socket type (stream/TCP, datagram/UDP, raw)",
        "zero hints did not mean any (see observation)",
    );
    let addrconfig = r("(\"dualhost\", NULL) AF_UNSPEC AI_ADDRCONFIG (only lo is up)");
    let plain = r("(\"dualhost\", NULL) AF_UNSPEC SOCK_STREAM");
    ctx.decide(
        "socket.netdb.ai_addrconfig",
        if addrconfig == plain {
            Decision::partial("AI_ADDRCONFIG filters by the address families configured on the system, but loopback addresses do not count and with nothing else configured (this namespace has only lo) glibc applies no filter: the same IPv4 and IPv6 results came back")
        } else {
            Decision::holds(format!("AI_ADDRCONFIG changed the results to the configured families: {}", addrconfig["results"]))
        },
    );
    let mapped = r("(\"dualhost\", NULL) AF_INET6 AI_V4MAPPED|AI_ALL")["results"].clone();
    let all_alone = r("(\"dualhost\", NULL) AF_INET6 AI_ALL alone")["results"].clone();
    ctx.check(
        "socket.netdb.ai_all",
        mapped.as_array().is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.contains("::ffff:127.0.0.5"))) && a.iter().any(|x| x.as_str().is_some_and(|s| s.contains("[::5]"))))
            && all_alone == json!(["AF_INET6 SOCK_STREAM 6 [::5]:0"]),
        "with AI_V4MAPPED|AI_ALL both the IPv6 address and the IPv4 one mapped to IPv6 came back; AI_ALL without AI_V4MAPPED changed nothing",
        "AI_ALL differs (see observation)",
    );
    ctx.check(
        "socket.netdb.ai_canonname",
        r("(\"u14\", NULL) AF_INET AI_CANONNAME (u14 is an alias of Ubuntu14)")["canonname"] == "Ubuntu14"
            && r("(\"u14\", NULL) AF_INET without AI_CANONNAME")["canonname"].is_null(),
        "asked by the alias u14 with AI_CANONNAME, ai_canonname was the official name Ubuntu14; without the flag, none",
        "AI_CANONNAME differs (see observation)",
    );
    let numeric_name = r("(\"Ubuntu14\", NULL) AF_INET AI_NUMERICHOST");
    ctx.decide(
        "socket.netdb.ai_numerichost",
        if numeric_name["return"] == libc::EAI_NONAME && first("(\"127.0.1.1\", NULL) AF_INET AI_NUMERICHOST") == "AF_INET SOCK_STREAM 6 127.0.1.1:0" {
            Decision::refuted("AI_NUMERICHOST does not choose the format of what is returned (addresses are always binary sockaddrs): it says the node must be a numeric address and forbids name lookup; a host name failed with EAI_NONAME")
        } else {
            Decision::holds("AI_NUMERICHOST returned the host in numeric form (see observation)")
        },
    );
    let numeric_service = r("(\"localhost\", \"pop3\") AF_INET AI_NUMERICSERV");
    ctx.decide(
        "socket.netdb.ai_numericserv",
        if numeric_service["return"] == libc::EAI_NONAME && first("(\"localhost\", \"110\") AF_INET AI_NUMERICSERV") == "AF_INET SOCK_STREAM 6 127.0.0.1:110" {
            Decision::refuted("AI_NUMERICSERV does not make getaddrinfo return the service as a port number (it always does): it says the service must be numeric; \"pop3\" failed with EAI_NONAME")
        } else {
            Decision::holds("AI_NUMERICSERV returned the service as a port number (see observation)")
        },
    );
    let v4_only = r("(\"localhost\", NULL) AF_INET6");
    let v4_mapped = r("(\"localhost\", NULL) AF_INET6 AI_V4MAPPED");
    let dual_mapped = r("(\"dualhost\", NULL) AF_INET6 AI_V4MAPPED")["results"].clone();
    ctx.check(
        "socket.netdb.ai_v4mapped",
        v4_only["return"] != 0 && first("(\"localhost\", NULL) AF_INET6 AI_V4MAPPED") == "AF_INET6 SOCK_STREAM 6 [::ffff:127.0.0.1]:0" && dual_mapped == json!(["AF_INET6 SOCK_STREAM 6 [::5]:0"]),
        "for a name with only an IPv4 address, AF_INET6 found nothing, and with AI_V4MAPPED the IPv4 address came back mapped (::ffff:127.0.0.1); a name with an IPv6 address got only that",
        format!("AI_V4MAPPED differs: {}", v4_mapped["results"]),
    );
    ctx.check(
        "socket.netdb.node_from_hosts",
        first("(\"Ubuntu14\", NULL) AF_INET") == first("(\"127.0.1.1\", NULL) AF_INET") && first("(\"Ubuntu14\", NULL) AF_INET") == "AF_INET SOCK_STREAM 6 127.0.1.1:0" && r("(\"notinhosts\", NULL) AF_INET")["return"] == libc::EAI_NONAME,
        "the name Ubuntu14 gave the same result as 127.0.1.1, from /etc/hosts; a name not in the file failed (EAI_NONAME) when the only source is files",
        "host names did not come from /etc/hosts (see observation)",
    );
    ctx.check(
        "socket.netdb.service_from_services",
        first("(\"localhost\", \"pop3\") AF_INET") == "AF_INET SOCK_STREAM 6 127.0.0.1:110" && first("(\"localhost\", \"ipc-conform\") AF_INET (an entry this suite added)") == "AF_INET SOCK_STREAM 6 127.0.0.1:4242" && first("both: (\"localhost\", \"80\")") == "AF_INET SOCK_STREAM 6 127.0.0.1:80",
        "the service came from /etc/services (pop3 -> 110, and 4242 for an entry added to the file) or as a port number in a string (\"80\")",
        "services were not looked up as described (see observation)",
    );
    let odd_hints = r("(\"localhost\", \"80\") AF_INET, hints with ai_addrlen 99 and ai_canonname set");
    ctx.decide(
        "socket.netdb.hints_other_fields_zero",
        if odd_hints["return"] == 0 { Decision::partial("only ai_flags, ai_family, ai_socktype and ai_protocol are read, but the rest need not be 0: hints with ai_addrlen 99 and ai_canonname set were accepted (POSIX requires them zero; glibc does not check)") } else { Decision::holds(format!("hints with other fields set were refused ({})", odd_hints["return"])) },
    );
    ctx.check(
        "socket.netdb.getaddrinfo_returns",
        r("both: (\"localhost\", \"80\")")["return"] == 0 && r("(\"notinhosts\", NULL) AF_INET")["return"] == libc::EAI_NONAME && r("(\"localhost\", \"syslog\") AF_INET SOCK_STREAM (syslog is udp only)")["return"] == libc::EAI_SERVICE && r("(\"localhost\", NULL) with family 12345")["return"] == libc::EAI_FAMILY && r("(\"localhost\", NULL) with flags 0x10000")["return"] == libc::EAI_BADFLAGS,
        "0 on success; on failure a non-zero EAI_* code (EAI_NONAME, EAI_SERVICE, EAI_FAMILY, EAI_BADFLAGS), not -1 and errno",
        "getaddrinfo's return codes differ (see observation)",
    );
    ctx.check(
        "socket.netdb.gai_strerror",
        strerror(libc::EAI_NONAME) == "Name or service not known"
            && strerror(libc::EAI_SERVICE) != strerror(libc::EAI_NONAME),
        "gai_strerror turned each code into its own message (EAI_NONAME: \"Name or service not known\")",
        "gai_strerror did not give messages per code (see observation)",
    );
    Ok(())
}

/// getnameinfo of an IPv4 address and port: its return code, host and service.
fn nameinfo(ip: [u8; 4], port: u16, flags: i32) -> Value {
    let sa = crate::socket::sockaddr_v4(ip, port);
    let mut host = [0 as libc::c_char; 256];
    let mut serv = [0 as libc::c_char; 64];
    // SAFETY: sa is a valid sockaddr_in; the buffers have the sizes given.
    let r = unsafe {
        libc::getnameinfo(
            (&sa as *const libc::sockaddr_in).cast(),
            16,
            host.as_mut_ptr(),
            256,
            serv.as_mut_ptr(),
            64,
            flags,
        )
    };
    if r != 0 {
        return json!({"return": r});
    }
    json!({"return": 0, "host": text(host.as_ptr()), "service": text(serv.as_ptr())})
}

fn getnameinfo_case(ctx: &mut Ctx) -> anyhow::Result<()> {
    let report = in_namespaces(ctx, hermetic_etc, |ns: &mut InNamespace| {
        ns.note("127.0.1.1 port 110, no flags", nameinfo([127, 0, 1, 1], 110, 0));
        ns.note("127.0.1.1 port 110, NI_NUMERICHOST", nameinfo([127, 0, 1, 1], 110, libc::NI_NUMERICHOST));
        ns.note("127.0.1.1 port 110, NI_NUMERICSERV", nameinfo([127, 0, 1, 1], 110, libc::NI_NUMERICSERV));
        ns.note("127.0.0.1 port 514, no flags", nameinfo([127, 0, 0, 1], 514, 0));
        ns.note("127.0.0.1 port 514, NI_DGRAM", nameinfo([127, 0, 0, 1], 514, libc::NI_DGRAM));
        ns.note("127.0.0.99 (not in hosts) port 80, no flags", nameinfo([127, 0, 0, 99], 80, 0));
        ns.note("127.0.0.99 (not in hosts) port 80, NI_NAMEREQD", nameinfo([127, 0, 0, 99], 80, libc::NI_NAMEREQD));
        ns.note(
            &format!("127.0.0.7 (box.example.org) port 22 with the host name {HOST_NAME}, no flags"),
            nameinfo([127, 0, 0, 7], 22, 0),
        );
        ns.note(
            &format!("127.0.0.7 (box.example.org) port 22 with the host name {HOST_NAME}, NI_NOFQDN"),
            nameinfo([127, 0, 0, 7], 22, libc::NI_NOFQDN),
        );
        Ok(())
    })?;
    let claims = CASES[2].claims;
    let Some(ns) = report else {
        skip(ctx, claims);
        return Ok(());
    };
    let r = |k: &str| ns.get(k);
    let plain = r("127.0.1.1 port 110, no flags");
    ctx.check(
        "socket.netdb.ni_numerichost",
        plain["host"] == "Ubuntu14" && r("127.0.1.1 port 110, NI_NUMERICHOST")["host"] == "127.0.1.1",
        "without flags the host came back as its name (Ubuntu14); with NI_NUMERICHOST as 127.0.1.1",
        "NI_NUMERICHOST differs (see observation)",
    );
    ctx.check(
        "socket.netdb.ni_numericserv",
        plain["service"] == "pop3" && r("127.0.1.1 port 110, NI_NUMERICSERV")["service"] == "110",
        "without flags port 110 came back as pop3; with NI_NUMERICSERV as \"110\"",
        "NI_NUMERICSERV differs (see observation)",
    );
    ctx.check(
        "socket.netdb.ni_dgram",
        r("127.0.0.1 port 514, no flags")["service"] == "shell"
            && r("127.0.0.1 port 514, NI_DGRAM")["service"] == "syslog",
        "port 514 is shell over TCP and syslog over UDP: without flags getnameinfo said shell, with NI_DGRAM syslog",
        "NI_DGRAM did not select the UDP service (see observation)",
    );
    ctx.check(
        "socket.netdb.ni_namereqd",
        r("127.0.0.99 (not in hosts) port 80, no flags")["host"] == "127.0.0.99"
            && r("127.0.0.99 (not in hosts) port 80, NI_NAMEREQD")["return"] == libc::EAI_NONAME,
        "for an address with no name getnameinfo gave the numeric form, and with NI_NAMEREQD failed with EAI_NONAME",
        "NI_NAMEREQD differs (see observation)",
    );
    let full = r(&format!("127.0.0.7 (box.example.org) port 22 with the host name {HOST_NAME}, no flags"));
    let short = r(&format!("127.0.0.7 (box.example.org) port 22 with the host name {HOST_NAME}, NI_NOFQDN"));
    ctx.check(
        "socket.netdb.ni_nofqdn",
        full["host"] == "box.example.org" && short["host"] == "box",
        "a host in the machine's own domain (example.org) came back as box.example.org, and with NI_NOFQDN as just box",
        "NI_NOFQDN differs (see observation)",
    );
    ctx.check(
        "socket.netdb.getnameinfo_returns",
        plain["return"] == 0 && r("127.0.0.99 (not in hosts) port 80, NI_NAMEREQD")["return"] == libc::EAI_NONAME,
        "0 on success and a non-zero EAI_* code on failure",
        "getnameinfo's return values differ (see observation)",
    );
    Ok(())
}
