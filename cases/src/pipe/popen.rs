//! popen / pclose from the C library, and the coprocess built from two pipes and stdio.

use std::ffi::{CStr, CString};
use std::os::fd::AsRawFd;

use harness::obs::{errno_name, failed};
use harness::proc::Exit;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::unistd::{pipe, read, write};

use crate::util::{blocked_obs, close_in_child, fionread};

pub const CASES: &[Case] = &[
    Case::new(
        "pipe.popen.directions",
        &["pipe.popen.connects_stdin_or_stdout", "pipe.popen.type_is_stream_access"],
        directions,
    )
    .needs_commands(&["sh", "cat"]),
    Case::new("pipe.popen.child_process", &["pipe.popen.child_process"], child_process).needs_commands(&["sh"]),
    Case::new("pipe.popen.runs_sh_c", &["pipe.popen.runs_sh_c"], runs_sh_c).needs_commands(&["sh", "tr", "readlink"]),
    Case::new(
        "pipe.popen.type_argument",
        &["pipe.popen.type_read_or_write_only", "pipe.popen.null_on_failure"],
        type_argument,
    )
    .needs_commands(&["sh"]),
    Case::new("pipe.popen.pclose_waits", &["pipe.popen.pclose_waits_for_command"], pclose_waits)
        .needs_commands(&["sh", "cat"]),
    Case::new("pipe.popen.pclose_status", &["pipe.popen.pclose_returns_termination_status"], pclose_status)
        .needs_commands(&["sh"]),
    Case::new("pipe.popen.pclose_fails", &["pipe.popen.pclose_minus_one_on_failure"], pclose_fails)
        .needs_commands(&["sh"]),
    Case::new(
        "pipe.popen.coprocess",
        &["pipe.popen.coprocess_filter_on_two_pipes", "pipe.popen.coprocess_deadlock_without_fflush"],
        coprocess,
    ),
];

/// A stream from popen, pclosed on drop if the case did not.
struct Stream(*mut libc::FILE);

impl Stream {
    fn open(command: &str, mode: &str) -> Result<Stream, Errno> {
        let (c, m) = (CString::new(command).expect("no NUL"), CString::new(mode).expect("no NUL"));
        Errno::clear();
        // SAFETY: both arguments are valid C strings.
        let fp = harness::proc::with_default_sigpipe(|| unsafe { libc::popen(c.as_ptr(), m.as_ptr()) });
        if fp.is_null() {
            Err(Errno::last())
        } else {
            Ok(Stream(fp))
        }
    }

    fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is valid for buf.len() bytes; the stream is open.
            let n = unsafe { libc::fread(buf.as_mut_ptr().cast(), 1, buf.len(), self.0) };
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// One fgetc: the byte, None at end of file, or the error.
    fn get_byte(&self) -> Result<Option<u8>, Errno> {
        Errno::clear();
        // SAFETY: the stream is open.
        let c = unsafe { libc::fgetc(self.0) };
        match c {
            // SAFETY: the stream is open.
            libc::EOF if unsafe { libc::ferror(self.0) } != 0 => Err(Errno::last()),
            libc::EOF => Ok(None),
            byte => Ok(Some(byte as u8)),
        }
    }

    /// fputs + fflush; the error if either failed.
    fn put(&self, text: &str) -> Result<(), Errno> {
        let c = CString::new(text).expect("no NUL");
        Errno::clear();
        // SAFETY: valid C string and open stream.
        let failed = unsafe { libc::fputs(c.as_ptr(), self.0) } == libc::EOF || unsafe { libc::fflush(self.0) } != 0;
        if failed {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// pclose's return value, or -1 with errno.
    fn close(mut self) -> Result<i32, Errno> {
        let fp = std::mem::replace(&mut self.0, std::ptr::null_mut());
        Errno::clear();
        // SAFETY: fp came from popen and is closed once.
        let status = unsafe { libc::pclose(fp) };
        if status == -1 {
            Err(Errno::last())
        } else {
            Ok(status)
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a stream not yet closed.
            unsafe { libc::pclose(self.0) };
        }
    }
}

/// What a wait status says, in waitpid's macros.
fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("WIFEXITED, WEXITSTATUS={}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        let sig = nix::sys::signal::Signal::try_from(libc::WTERMSIG(status)).map(|s| s.as_str()).unwrap_or("?");
        format!("WIFSIGNALED, WTERMSIG={sig}")
    } else {
        format!("raw {status:#x}")
    }
}

fn closed(r: Result<i32, Errno>) -> String {
    match r {
        Ok(status) => format!("{status} ({})", describe_status(status)),
        Err(e) => failed(e),
    }
}

fn directions(ctx: &mut Ctx) -> anyhow::Result<()> {
    let reading = Stream::open("echo from-command", "r").map_err(|e| anyhow::anyhow!("popen r: {e}"))?;
    let got = String::from_utf8_lossy(&reading.read_all()).into_owned();
    let write_on_r = reading.put("x").err().map(errno_name);
    let r_close = closed(reading.close());
    ctx.observe("popen(\"echo from-command\", \"r\"): caller read", &got);
    ctx.observe("fputs on the \"r\" stream", write_on_r.clone().unwrap_or_else(|| "succeeded".into()));
    ctx.observe("pclose of the \"r\" stream", &r_close);

    let file = ctx.temp_path("to-command.txt");
    let writing =
        Stream::open(&format!("cat > '{}'", file.display()), "w").map_err(|e| anyhow::anyhow!("popen w: {e}"))?;
    let read_on_w = writing.get_byte();
    let put = writing.put("to-command\n");
    let w_close = closed(writing.close());
    let arrived = std::fs::read_to_string(&file).unwrap_or_default();
    ctx.observe("popen(\"cat > file\", \"w\"): fputs(\"to-command\\n\")", format!("{put:?}"));
    ctx.observe("pclose of the \"w\" stream", &w_close);
    ctx.observe("the command's stdin delivered to the file", &arrived);
    ctx.observe(
        "fgetc on the \"w\" stream",
        read_on_w.map(|b| b.map(char::from).map(String::from)).map_err(errno_name),
    );
    ctx.check(
        "pipe.popen.connects_stdin_or_stdout",
        got == "from-command\n" && arrived == "to-command\n",
        "\"r\": the caller read the command's stdout; \"w\": the caller's fputs became the command's stdin",
        "popen did not connect the command's stdout (r) / stdin (w) as described",
    );
    let decision = match (write_on_r.as_deref(), read_on_w) {
        (Some(w), Err(r)) => Decision::holds(format!(
            "the type is the stream's access: fputs on the \"r\" stream failed ({w}) and fgetc on the \"w\" stream failed ({})",
            errno_name(r)
        )),
        (None, _) => Decision::refuted("the \"r\" stream could be written too"),
        (_, Ok(_)) => Decision::refuted("the \"w\" stream could be read too"),
    };
    ctx.decide("pipe.popen.type_is_stream_access", decision);
    Ok(())
}

fn child_process(ctx: &mut Ctx) -> anyhow::Result<()> {
    let s = Stream::open("echo $$ $PPID", "r").map_err(|e| anyhow::anyhow!("popen: {e}"))?;
    let out = String::from_utf8_lossy(&s.read_all()).into_owned();
    s.close().ok();
    let me = std::process::id();
    let mut fields = out.split_whitespace().map(|f| f.parse::<u32>().ok());
    let (pid, ppid) = (fields.next().flatten(), fields.next().flatten());
    let new_process = pid.is_some_and(|p| p != me);
    let our_child = ppid == Some(me);
    ctx.observe("command's $$ is a new process", new_process);
    ctx.observe("command's $PPID is the caller", our_child);
    ctx.check(
        "pipe.popen.child_process",
        new_process && our_child,
        "the command ran in a new process whose parent is the caller (the C library may create it with fork, vfork or posix_spawn: only the child relation is observable)",
        format!("the command's $$/$PPID were {out:?}, the caller is a different process"),
    );
    Ok(())
}

fn runs_sh_c(ctx: &mut Ctx) -> anyhow::Result<()> {
    // Builtins last: dash execs the last simple command of -c in place, which would change $$'s
    // program; \036 separates argv (the command contains '|'), printed by printf, not echo, which would expand it.
    let command =
        "e=$(readlink /proc/$$/exe); c=$(tr '\\0' '\\036' < /proc/$$/cmdline); printf '%s\\n%s\\n' \"$e\" \"$c\"";
    let s = Stream::open(command, "r").map_err(|e| anyhow::anyhow!("popen: {e}"))?;
    let out = String::from_utf8_lossy(&s.read_all()).into_owned();
    s.close().ok();
    let mut lines = out.lines();
    let exe = lines.next().unwrap_or("").to_string();
    let argv: Vec<String> =
        lines.next().unwrap_or("").trim_end_matches('\u{1e}').split('\u{1e}').map(String::from).collect();
    let bin_sh = std::fs::canonicalize("/bin/sh").map(|p| p.display().to_string()).unwrap_or_default();
    ctx.observe("the shell's argv", &argv);
    ctx.observe("the shell's program (/proc/$$/exe)", &exe);
    ctx.observe("/bin/sh resolves to", &bin_sh);
    ctx.check(
        "pipe.popen.runs_sh_c",
        argv == ["sh", "-c", command] && exe == bin_sh,
        format!("argv was [sh, -c, cmdstring] and the program /bin/sh ({bin_sh})"),
        format!("the command ran as {argv:?} with program {exe}"),
    );
    Ok(())
}

fn type_argument(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut results = serde_json::Map::new();
    for mode in ["r", "w", "rw", "wr", "r+", "x", "", "re", "we"] {
        let outcome = match Stream::open("true", mode) {
            Ok(s) => {
                s.close().ok();
                "FILE*".to_string()
            }
            Err(e) => format!("NULL, errno {}", errno_name(e)),
        };
        results.insert(format!("popen(\"true\", {mode:?})"), serde_json::json!(outcome));
    }
    let get = |m: &str| results[&format!("popen(\"true\", {m:?})")].as_str().unwrap_or("").to_string();
    ctx.observe("results", &results);
    let accepted = get("r") == "FILE*" && get("w") == "FILE*";
    let rejected = ["rw", "wr", "r+", "x", ""].iter().all(|m| get(m).starts_with("NULL"));
    let extension = get("re") == "FILE*";
    ctx.check(
        "pipe.popen.type_read_or_write_only",
        accepted && rejected,
        format!(
            "\"r\" and \"w\" work; \"rw\", \"wr\", \"r+\", \"x\" and \"\" fail{}",
            if extension { " (glibc also takes \"re\"/\"we\": still one direction, plus close-on-exec)" } else { "" }
        ),
        "popen accepted a type other than read or write, or refused r/w (see observation)",
    );
    let failures: Vec<String> =
        results.values().filter_map(|v| v.as_str()).filter(|v| v.starts_with("NULL")).map(String::from).collect();
    ctx.check(
        "pipe.popen.null_on_failure",
        !failures.is_empty() && failures.iter().all(|f| f == "NULL, errno EINVAL"),
        "every failing popen returned NULL with errno set (EINVAL for a bad type)",
        format!("failing popen calls gave {failures:?}"),
    );
    Ok(())
}

fn pclose_waits(ctx: &mut Ctx) -> anyhow::Result<()> {
    // The command reports its pid on an inherited pipe, then waits on its stdin (our stream).
    let (pid_r, pid_w) = pipe()?;
    let s = Stream::open(&format!("echo $$ >&{}; exec cat > /dev/null", pid_w.as_raw_fd()), "w")
        .map_err(|e| anyhow::anyhow!("popen: {e}"))?;
    drop(pid_w);
    let line = crate::util::read_some(&pid_r, 16, ctx.wait_limit())?;
    let pid: i32 = String::from_utf8_lossy(&line).trim().parse()?;
    let before = harness::proc::wait_blocked_pid(pid, libc::SYS_read, ctx.wait_limit());
    let status = s.close();
    let after = std::path::Path::new(&format!("/proc/{pid}")).exists();
    ctx.observe("command before pclose", blocked_obs(&before));
    ctx.observe("pclose", closed(status));
    ctx.observe("/proc/<command pid> exists after pclose returned", after);
    ctx.check(
        "pipe.popen.pclose_waits_for_command",
        before.is_ok() && status.is_ok() && !after,
        "the command was asleep reading its stdin before pclose; when pclose returned it had exited and been reaped (no /proc entry, no zombie)",
        "pclose returned while the command was still there, or failed (see observation)",
    );
    Ok(())
}

fn pclose_status(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut run = |command: &str| -> anyhow::Result<Result<i32, Errno>> {
        let s = Stream::open(command, "r").map_err(|e| anyhow::anyhow!("popen: {e}"))?;
        s.read_all();
        let status = s.close();
        ctx.observe(format!("pclose after {command:?}"), closed(status));
        Ok(status)
    };
    let exited = run("exit 3")?;
    let killed = run("kill -TERM $$")?;
    let ok = exited.is_ok_and(|s| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 3)
        && killed.is_ok_and(|s| libc::WIFSIGNALED(s) && libc::WTERMSIG(s) == libc::SIGTERM);
    ctx.check(
        "pipe.popen.pclose_returns_termination_status",
        ok,
        "pclose returned wait statuses: exit 3 -> WEXITSTATUS 3; kill -TERM -> WTERMSIG SIGTERM",
        "pclose did not return the command's termination status (see observation)",
    );
    Ok(())
}

fn pclose_fails(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (got, _) = ctx.in_child(|| {
        // SAFETY: SIG_IGN runs no code; the disposition change stays in this child.
        unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGCHLD, nix::sys::signal::SigHandler::SigIgn) }
            .ok();
        match Stream::open("true", "r") {
            Ok(s) => {
                s.read_all();
                closed(s.close())
            }
            Err(e) => format!("popen failed: {}", errno_name(e)),
        }
    })?;
    ctx.observe("pclose with SIGCHLD ignored", &got);
    ctx.check(
        "pipe.popen.pclose_minus_one_on_failure",
        got.as_deref() == Some("-1 ECHILD"),
        "with SIGCHLD ignored the child was reaped by the kernel and pclose returned -1 with errno ECHILD",
        format!("pclose in a failing situation gave {got:?}"),
    );
    Ok(())
}

/// The notes' add2 filter: stdio on fds 0 and 1, fflush only if told to.
fn add2(flush: bool) -> i32 {
    let (r, w) = (CString::new("r").expect("no NUL"), CString::new("w").expect("no NUL"));
    // SAFETY: fds 0 and 1 are the pipes set up by the caller.
    let (input, output) = unsafe { (libc::fdopen(0, r.as_ptr()), libc::fdopen(1, w.as_ptr())) };
    if input.is_null() || output.is_null() {
        return 2;
    }
    let mut line = [0 as libc::c_char; 101];
    // SAFETY: line has 101 bytes; fgets writes at most 100 plus NUL.
    while !unsafe { libc::fgets(line.as_mut_ptr(), 100, input) }.is_null() {
        // SAFETY: fgets NUL-terminated the buffer.
        let text = unsafe { CStr::from_ptr(line.as_ptr()) }.to_string_lossy().into_owned();
        let numbers: Vec<i64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        let answer = match numbers[..] {
            [a, b] => format!("{}\n", a + b),
            _ => "invalid parameter.\n".to_string(),
        };
        let c = CString::new(answer).expect("no NUL");
        // SAFETY: valid string and stream.
        unsafe { libc::fputs(c.as_ptr(), output) };
        if flush {
            // SAFETY: valid stream.
            unsafe { libc::fflush(output) };
        }
    }
    0
}

fn coprocess(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let mut outcomes = Vec::new();
    for flush in [true, false] {
        let (down_r, down_w) = pipe()?; // parent -> filter's stdin
        let (up_r, up_w) = pipe()?; // filter's stdout -> parent
        let mut filter = ctx.spawn(|| {
            if nix::unistd::dup2_stdin(&down_r).is_err() || nix::unistd::dup2_stdout(&up_w).is_err() {
                return 126;
            }
            for fd in [&down_r, &down_w, &up_r, &up_w] {
                close_in_child(fd);
            }
            add2(flush)
        })?;
        let mut parent = ctx.spawn_reporting(|| {
            close_in_child(&down_r);
            close_in_child(&up_w);
            if write(&down_w, b"1 2\n").is_err() {
                return "write failed".to_string();
            }
            let mut buf = [0u8; 100];
            match read(&up_r, &mut buf) {
                Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
                Err(e) => failed(e),
            }
        })?;
        drop((down_r, down_w, up_w));
        let label = if flush { "filter with fflush" } else { "filter without fflush" };
        if flush {
            let (answer, _) = parent.finish(limit)?;
            let filter_exit = filter.wait_exit(limit)?;
            ctx.observe(format!("{label}: parent sent \"1 2\", read back"), &answer);
            ctx.observe(format!("{label}: filter exit after the parent closed"), filter_exit);
            outcomes.push(answer.as_deref() == Some("3\n") && filter_exit == Exit::Code(0));
        } else {
            let parent_blocked = parent.child().wait_blocked(libc::SYS_read, limit);
            let filter_blocked = filter.wait_blocked(libc::SYS_read, limit);
            let queued = fionread(&up_r)?;
            ctx.observe(format!("{label}: parent"), blocked_obs(&parent_blocked));
            ctx.observe(format!("{label}: filter"), blocked_obs(&filter_blocked));
            ctx.observe(format!("{label}: bytes of the answer in the pipe"), queued);
            outcomes.push(parent_blocked.is_ok() && filter_blocked.is_ok() && queued == 0);
        }
    }
    // The pipe itself: bytes from write(2) are readable at once, nothing is held back.
    let (r, w) = pipe()?;
    write(&w, b"3\n")?;
    let at_once = fionread(&r)?;
    ctx.observe("write(2) of \"3\\n\" on a plain pipe: bytes readable at once", at_once);
    ctx.check(
        "pipe.popen.coprocess_filter_on_two_pipes",
        outcomes[0],
        "the filter's stdin and stdout were pipes to one process: it sent \"1 2\" and read back \"3\"",
        "the coprocess did not answer over its two pipes",
    );
    ctx.decide(
        "pipe.popen.coprocess_deadlock_without_fflush",
        match (outcomes[1], at_once == 2) {
            (true, true) => Decision::partial(
                "the deadlock is real (parent asleep in read, filter asleep reading its next line, 0 answer bytes in the pipe), but the buffering is stdio's full buffering of a non-terminal stream: the pipe itself passed write(2) data on at once",
            ),
            (true, false) => Decision::holds("deadlock without fflush: both processes asleep in read, the answer never reached the pipe"),
            (false, _) => Decision::refuted("without fflush the two processes did not deadlock"),
        },
    );
    Ok(())
}
