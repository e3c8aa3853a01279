//! AF_UNIX sockets: the address is a file name, and the stream type the domain commonly uses.

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;

use harness::obs::call;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::sys::socket::{bind, connect, socket as nix_socket, AddressFamily, SockFlag, SockType, UnixAddr};

use crate::socket::{listen, recv, send};

pub const CASES: &[Case] = &[
    Case::new("socket.unix.address_is_a_file", &["socket.unix.address_is_filename"], address_is_a_file),
    Case::new("socket.unix.stream_type", &["socket.unix.stream_common"], stream_type),
    Case::new("socket.unix.duplex_by_name", &["socket.unix.duplex_no_relation_needed"], duplex_by_name),
];

fn address_is_a_file(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = ctx.temp_path("server.sock");
    let server = nix_socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let addr = UnixAddr::new(&path)?;
    bind(server.as_raw_fd(), &addr)?;
    listen(&server, 4)?;
    let kind = std::fs::symlink_metadata(&path)
        .map(|m| m.file_type().is_socket())
        .map_err(|e| e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO));
    let open = nix::fcntl::open(&path, nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty()).map(drop);
    let client = nix_socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let connected = connect(client.as_raw_fd(), &addr);
    drop(client);
    drop(server);
    let after_close = path.exists();
    let again = nix_socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let rebind = bind(again.as_raw_fd(), &addr);
    std::fs::remove_file(&path)?;
    let abstract_name = format!("ipc-conform-{}", std::process::id());
    let abstract_addr = UnixAddr::new_abstract(abstract_name.as_bytes())?;
    let abs = nix_socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let abs_bound = bind(abs.as_raw_fd(), &abstract_addr);
    let in_proc = std::fs::read_to_string("/proc/net/unix").is_ok_and(|t| t.contains(&format!("@{abstract_name}")));
    ctx.observe("bind to a path, then the path is a socket file (S_IFSOCK)", call(&kind));
    ctx.observe("open() of the socket file", call(&open));
    ctx.observe("connect by that path", call(&connected));
    ctx.observe("the file still exists after both sockets closed; bind to it again", (after_close, call(&rebind)));
    ctx.observe(
        "abstract name (leading NUL): bind; listed in /proc/net/unix as @name; no file for it",
        (call(&abs_bound), in_proc),
    );
    let file_address = kind.is_ok_and(|k| k) && open == Err(Errno::ENXIO) && connected.is_ok();
    ctx.decide(
        "socket.unix.address_is_filename",
        if file_address && after_close && rebind == Err(Errno::EADDRINUSE) && abs_bound.is_ok() {
            Decision::partial("a path address is a file: bind made a socket file (open() on it gives ENXIO), connect found the server by name, and the file outlived the sockets (a second bind: EADDRINUSE until it was unlinked); but Linux also has abstract addresses, names with no file at all")
        } else if file_address {
            Decision::holds("bind made a socket file and connect reached the server by its name")
        } else {
            Decision::refuted("the address did not behave as a file name (see observation)")
        },
    );
    Ok(())
}

fn stream_type(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (a, b) = crate::socket::unix_pair(SockType::Stream)?;
    send(&a, b"ping", 0)?;
    send(&b, b"pong", 0)?;
    send(&a, b"two", 0)?;
    let at_b = recv(&b, 100, libc::MSG_DONTWAIT);
    let at_a = recv(&a, 100, libc::MSG_DONTWAIT);
    let types: Vec<(&str, bool)> = [
        ("SOCK_STREAM", SockType::Stream),
        ("SOCK_DGRAM", SockType::Datagram),
        ("SOCK_SEQPACKET", SockType::SeqPacket),
    ]
    .into_iter()
    .map(|(n, t)| (n, nix_socket(AddressFamily::Unix, t, SockFlag::SOCK_CLOEXEC, None).is_ok()))
    .collect();
    ctx.observe("AF_UNIX socket types that socket() accepts", &types);
    ctx.observe(
        "socketpair(AF_UNIX, SOCK_STREAM): both ends send before either reads; what each reads",
        (crate::socket::shown(&at_b), crate::socket::shown(&at_a)),
    );
    ctx.check(
        "socket.unix.stream_common",
        types[0].1 && at_b.as_deref() == Ok(b"pingtwo") && at_a.as_deref() == Ok(b"pong"),
        "AF_UNIX has SOCK_STREAM (as well as SOCK_DGRAM and SOCK_SEQPACKET); a stream pair carried bytes both ways at once, without boundaries (\"ping\" and \"two\" read as one)",
        "AF_UNIX stream sockets did not behave as a two-way byte stream (see observation)",
    );
    Ok(())
}

fn duplex_by_name(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = ctx.temp_path("duplex.sock");
    let server = nix_socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let addr = UnixAddr::new(&path)?;
    bind(server.as_raw_fd(), &addr)?;
    listen(&server, 4)?;
    let server_raw = server.as_raw_fd();
    // The client inherits nothing it uses: it closes the listener and finds the server by name.
    let client = ctx.spawn_reporting(move || {
        crate::util::close_in_child(&server_raw);
        let Ok(c) = nix_socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None) else {
            return serde_json::json!({"socket": "failed"});
        };
        let connected = connect(c.as_raw_fd(), &addr);
        let sent = send(&c, b"from the client", 0);
        let ready = crate::socket::poll_events(&c, nix::poll::PollFlags::POLLIN, limit);
        let got = recv(&c, 100, libc::MSG_DONTWAIT);
        serde_json::json!({
            "connect by the path": call(&connected),
            "send before reading": call(&sent.map(|n| n as i64)),
            "readable": !ready.is_empty(),
            "read": crate::socket::shown(&got),
        })
    })?;
    let ready = crate::socket::poll_events(&server, nix::poll::PollFlags::POLLIN, limit);
    // Accept only what poll showed waiting: a client that never connected must not hang us.
    let accepted = if ready.is_empty() { Err(Errno::EAGAIN) } else { nix::sys::socket::accept(server.as_raw_fd()) };
    let conn = accepted.map(|fd| {
        // SAFETY: accept returned a new descriptor that nothing else owns.
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
    });
    let (sent, got) = match &conn {
        Ok(conn) => {
            // Both sides send before either reads: the bytes cross in both directions at once.
            let sent = send(conn, b"from the server", 0);
            let _ = crate::socket::poll_events(conn, nix::poll::PollFlags::POLLIN, limit);
            (sent.map(|n| n as i64), recv(conn, 100, libc::MSG_DONTWAIT))
        }
        Err(e) => (Err(*e), Err(*e)),
    };
    let (report, exit) = client.finish(limit)?;
    ctx.observe("the listener readable (a connection waiting)", !ready.is_empty());
    ctx.observe(
        "the server: accept, send before reading, read",
        (call(&conn.map(drop)), call(&sent), crate::socket::shown(&got)),
    );
    ctx.observe("the client (which closed every socket it inherited)", &report);
    ctx.observe("the client's exit", exit);
    let client_read = report.as_ref().map(|r| r["read"].clone());
    let both_ways =
        got.as_deref() == Ok(b"from the client") && client_read == Some(serde_json::json!("from the server"));
    ctx.check(
        "socket.unix.duplex_no_relation_needed",
        both_ways,
        "a process that kept no descriptor of the server's connected by the socket's path alone, and both ends sent before either read: each got the other's bytes",
        "the connection by name did not carry bytes both ways (see observation)",
    );
    Ok(())
}
