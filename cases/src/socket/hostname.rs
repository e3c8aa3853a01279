//! gethostname/sethostname, checked in a UTS namespace the suite makes.

use harness::obs::call;
use harness::privilege::is_root;
use harness::{Case, Ctx};
use nix::errno::Errno;

pub const CASES: &[Case] = &[Case::new(
    "socket.hostname.in_private_uts",
    &["socket.hostname.get_and_set", "socket.hostname.returns"],
    hostname,
)];

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
    let current = got.clone().unwrap_or_default();
    let (as_nobody, _) = ctx.in_child(move || {
        if !is_root() {
            // Already unprivileged: ask for the name the machine has, so even a kernel that
            // wrongly allowed it would change nothing.
            return call(&nix::unistd::sethostname(&current));
        }
        if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS).is_err() {
            return serde_json::json!("not tried: unshare(CLONE_NEWUTS) failed");
        }
        harness::privilege::drop_to(harness::privilege::NOBODY, harness::privilege::NOBODY).expect("dropping to 65534");
        call(&nix::unistd::sethostname("ipc-conform-nobody"))
    })?;
    ctx.observe(
        if is_root() {
            "sethostname as uid 65534 (in a private UTS namespace made by root)"
        } else {
            "sethostname(the current name) without privilege"
        },
        &as_nobody,
    );
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
