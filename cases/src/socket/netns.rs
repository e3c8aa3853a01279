//! Network and UTS namespaces the suite makes, for the cases that need a network of their own
//! (broadcast, multicast, the packets of a TCP connection, the host name): a child enters one
//! first; the only interface there is that namespace's `lo`, so nothing sent reaches a real
//! network.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use harness::proc::poll_readable;
use harness::{Ctx, Decision};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::socket::{
    bind_v4, enter_private_netns, in_initial_netns, recvfrom, set_int_option, socket, NOT_RECEIVED_WITHIN,
};

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
pub(crate) fn in_private_netns(
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

pub(crate) fn skip_all(ctx: &mut Ctx, claims: &[&str]) {
    for c in claims {
        ctx.decide(c, Decision::skipped("no private network namespace could be made here (see observation); broadcast and multicast are never tried on the machine's own network"));
    }
}

/// Receives what the sockets have queued, up to `max` datagrams each, until none of them gets
/// anything more within one bounded "nothing more" wait (shared, not one per socket).
pub(crate) fn datagrams_each<const N: usize>(fds: [&std::os::fd::OwnedFd; N], max: usize) -> [Vec<String>; N] {
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
pub(crate) fn datagrams(fd: &(impl AsFd + AsRawFd), max: usize, within: Duration) -> Vec<String> {
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

pub(crate) fn udp_on_any(port: u16) -> Result<std::os::fd::OwnedFd, Errno> {
    let s = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    set_int_option(&s, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    bind_v4(&s, [0, 0, 0, 0], port)?;
    Ok(s)
}

/// A header of /usr/include that defines `name`, if any of the usual ones does.
pub(crate) fn header_defining(name: &str) -> Option<String> {
    use crate::toolchain::arch_header;
    [
        "/usr/include/asm-generic/socket.h".to_string(),
        arch_header("asm/socket.h"),
        "/usr/include/fcntl.h".to_string(),
        arch_header("bits/fcntl-linux.h"),
        "/usr/include/asm-generic/fcntl.h".to_string(),
        arch_header("sys/socket.h"),
        arch_header("bits/socket.h"),
    ]
    .into_iter()
    .find(|h| crate::socket::header_define(h, name).is_some())
}

pub(crate) fn membership(fd: &impl AsRawFd, op: i32, mreq: &libc::ip_mreqn) -> Result<(), Errno> {
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
