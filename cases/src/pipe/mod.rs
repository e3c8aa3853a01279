//! Anonymous pipes: creation, direction, blocking, end of file, SIGPIPE, capacity, PIPE_BUF
//! atomicity, and which processes can use one.

pub mod popen;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::Context as _;
use harness::obs::{call, errno_name, failed};
use harness::proc::{self, close_from, Exit};
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::Signal;
use nix::unistd::{pipe, pipe2, read, write};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::util::{blocked_obs, close_in_child, fill_nonblocking, fionread, pipe_size, set_nonblocking, write_all_fd};

pub const CASES: &[Case] = &[
    Case::new(
        "pipe.create_and_direction",
        &["pipe.create.returns_two_fds", "pipe.direction.one_way"],
        create_and_direction,
    ),
    Case::new("pipe.create_fails_emfile", &["pipe.create.fails_with_errno"], create_fails_emfile),
    Case::new("pipe.lowest_free_fds", &["pipe.create.lowest_free_fds"], lowest_free_fds),
    Case::new("pipe.pipe2_flags", &["pipe.create.pipe2_flags"], pipe2_flags),
    Case::new("pipe.pseudo_file", &["pipe.nature.pseudo_file"], pseudo_file),
    Case::new("pipe.two_pipes_for_duplex", &["pipe.direction.two_pipes_for_duplex"], two_pipes_for_duplex),
    Case::new(
        "pipe.blocking_read_and_write",
        &["pipe.read.blocks_when_empty", "pipe.write.blocks_when_full", "pipe.sync.adapts_to_slower_side"],
        blocking_read_and_write,
    ),
    Case::new(
        "pipe.ready_read_and_write",
        &["pipe.read.returns_available_data", "pipe.write.completes_when_room"],
        ready_read_and_write,
    ),
    Case::new("pipe.eof_after_writers_close", &["pipe.read.eof_after_writers_close"], eof_after_writers_close),
    Case::new("pipe.own_write_end_blocks_eof", &["pipe.read.keep_own_write_end_no_eof"], own_write_end_blocks_eof),
    Case::new(
        "pipe.write_without_reader",
        &["pipe.write.sigpipe_kills_by_default", "pipe.write.epipe_when_sigpipe_ignored_or_handled"],
        write_without_reader,
    ),
    Case::new("pipe.data_gone_once_read", &["pipe.read.data_gone_once_read"], data_gone_once_read),
    Case::new(
        "pipe.byte_stream_order",
        &["pipe.order.first_in_first_out", "pipe.order.no_message_boundaries"],
        byte_stream_order,
    ),
    Case::new("pipe.no_seek", &["pipe.seek.not_possible"], no_seek),
    Case::new("pipe.write_returns_before_read", &["pipe.delivery.data_taken_by_reader"], write_returns_before_read),
    Case::new("pipe.capacity", &["pipe.capacity.is_64k", "pipe.capacity.ring_reused"], capacity),
    Case::new("pipe.packet_slots", &["pipe.capacity.sixteen_buffers"], packet_slots),
    Case::new("pipe.ulimit_pipe_size", &["pipe.capacity.ulimit_figure_is_not_real_size"], ulimit_pipe_size)
        .needs_commands(&["bash"]),
    Case::new("pipe.pipe_buf_value", &["pipe.pipe_buf.is_buffer_size"], pipe_buf_value),
    Case::new("pipe.atomic_writes_property", &["pipe.pipe_buf.writes_atomic"], atomic_writes_property)
        .timeout_ms(20_000),
    Case::new("pipe.atomic_reads_property", &["pipe.pipe_buf.reads_atomic"], atomic_reads_property).timeout_ms(20_000),
    Case::new("pipe.larger_writes_split", &["pipe.pipe_buf.larger_writes_split"], larger_writes_split),
    Case::new("pipe.unrelated_process_via_proc", &["pipe.processes.related_only"], unrelated_process_via_proc),
    Case::new("pipe.fork_copies_both_ends", &["pipe.processes.fork_copies_both_ends"], fork_copies_both_ends),
    Case::new(
        "pipe.parent_writes_child_reads",
        &["pipe.processes.parent_writes_child_reads"],
        parent_writes_child_reads,
    ),
    Case::new("pipe.siblings", &["pipe.processes.siblings"], siblings),
    Case::new("pipe.lifetime", &["pipe.lifetime.gone_when_processes_end"], lifetime),
    Case::new("pipe.shell_pipeline", &["pipe.shell.pipeline_with_dup2"], shell_pipeline)
        .needs_commands(&["sh", "grep"]),
];

fn create_and_direction(ctx: &mut Ctx) -> anyhow::Result<()> {
    let created = pipe();
    ctx.observe("pipe()", if created.is_ok() { "0".to_string() } else { format!("{:?}", created.as_ref().err()) });
    let (r, w) = created?;
    ctx.observe("fd[0] access mode", access_mode(&r)?);
    ctx.observe("fd[1] access mode", access_mode(&w)?);
    let forward = write(&w, b"one way");
    let mut buf = [0u8; 16];
    let back = read(&r, &mut buf);
    ctx.observe("write(fd[1], \"one way\")", call(&forward));
    ctx.observe("read(fd[0])", call(&back.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())));
    let flows = back.is_ok_and(|n| &buf[..n] == b"one way");
    ctx.check(
        "pipe.create.returns_two_fds",
        flows && access_mode(&r)? == "O_RDONLY" && access_mode(&w)? == "O_WRONLY",
        "pipe() returned 0 with fd[0] open O_RDONLY and fd[1] O_WRONLY; what fd[1] got, fd[0] gave back",
        "the two descriptors did not behave as read end and write end",
    );
    let wrong_write = write(&r, b"x");
    let wrong_read = read(&w, &mut buf);
    ctx.observe("write(fd[0], \"x\")", call(&wrong_write));
    ctx.observe("read(fd[1])", call(&wrong_read));
    let ebadf = wrong_write == Err(Errno::EBADF) && wrong_read == Err(Errno::EBADF);
    ctx.check(
        "pipe.direction.one_way",
        ebadf && flows,
        "data flows fd[1] -> fd[0] only: write on the read end and read on the write end both fail with EBADF",
        "a pipe end accepted the wrong direction",
    );
    Ok(())
}

fn access_mode(fd: &impl AsFd) -> anyhow::Result<&'static str> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL).context("F_GETFL")?);
    Ok(match flags & OFlag::O_ACCMODE {
        OFlag::O_RDONLY => "O_RDONLY",
        OFlag::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    })
}

fn create_fails_emfile(ctx: &mut Ctx) -> anyhow::Result<()> {
    // A child with only 0, 1, 2 open and RLIMIT_NOFILE = 3 has no descriptor for a pipe.
    let mut child = ctx.spawn(|| {
        close_from(3);
        let limit = libc::rlimit { rlim_cur: 3, rlim_max: 3 };
        // SAFETY: setrlimit reads a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return 200;
        }
        let mut fds = [-1; 2];
        // SAFETY: fds has room for two descriptors.
        let r = unsafe { libc::pipe(fds.as_mut_ptr()) };
        if r == -1 {
            Errno::last_raw()
        } else {
            201
        }
    })?;
    let exit = child.wait_exit(ctx.wait_limit())?;
    let observed = match exit {
        Exit::Code(200) => "setrlimit failed".to_string(),
        Exit::Code(201) => "pipe() succeeded".to_string(),
        Exit::Code(e) => format!("-1 {}", errno_name(Errno::from_raw(e))),
        other => other.to_string(),
    };
    ctx.observe("pipe() with RLIMIT_NOFILE=3 and fds 0-2 open", &observed);
    ctx.check(
        "pipe.create.fails_with_errno",
        observed == "-1 EMFILE",
        "pipe() returned -1 with errno EMFILE when no descriptor was free",
        format!("pipe() with no free descriptor gave {observed}"),
    );
    Ok(())
}

fn lowest_free_fds(ctx: &mut Ctx) -> anyhow::Result<()> {
    // Exit code = read_fd * 16 + write_fd, from a child that looks like a fresh C process.
    let pipe_in_fresh_child = |close_stdin: bool| {
        move || {
            close_from(3);
            if close_stdin {
                // SAFETY: closing stdin in a throwaway child.
                unsafe { libc::close(0) };
            }
            let mut fds = [-1; 2];
            // SAFETY: fds has room for two descriptors.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } == 0 {
                fds[0] * 16 + fds[1]
            } else {
                255
            }
        }
    };
    let fresh = ctx.spawn(pipe_in_fresh_child(false))?;
    let stdin_closed = ctx.spawn(pipe_in_fresh_child(true))?;
    let decode = |exit: Exit| match exit {
        Exit::Code(c) if c != 255 => serde_json::json!([c / 16, c % 16]),
        other => serde_json::json!(other.to_string()),
    };
    let limit = ctx.wait_limit();
    let (mut fresh, mut stdin_closed) = (fresh, stdin_closed);
    let with_012 = decode(fresh.wait_exit(limit)?);
    let without_0 = decode(stdin_closed.wait_exit(limit)?);
    ctx.observe("pipe() with only 0,1,2 open", &with_012);
    ctx.observe("pipe() with only 1,2 open", &without_0);
    ctx.check(
        "pipe.create.lowest_free_fds",
        with_012 == serde_json::json!([3, 4]) && without_0 == serde_json::json!([0, 3]),
        "fd[0]=3, fd[1]=4 with 0-2 open; with 0 closed too it gave 0 and 3: always the lowest free numbers",
        format!("pipe() gave {with_012} with 0-2 open and {without_0} with 0 closed"),
    );
    Ok(())
}

fn pipe2_flags(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe2(OFlag::O_NONBLOCK).context("pipe2(O_NONBLOCK)")?;
    let mut buf = [0u8; 16];
    let empty_read = read(&r, &mut buf);
    let nonblock_both = [&r, &w].iter().all(|fd| {
        fcntl(*fd, FcntlArg::F_GETFL).is_ok_and(|f| OFlag::from_bits_truncate(f).contains(OFlag::O_NONBLOCK))
    });
    ctx.observe("pipe2(O_NONBLOCK): read(empty)", call(&empty_read));
    ctx.observe("pipe2(O_NONBLOCK): O_NONBLOCK on both ends", nonblock_both);

    let (r2, w2) = pipe2(OFlag::O_CLOEXEC).context("pipe2(O_CLOEXEC)")?;
    let cloexec_both = [&r2, &w2].iter().all(|fd| {
        fcntl(*fd, FcntlArg::F_GETFD).is_ok_and(|f| FdFlag::from_bits_truncate(f).contains(FdFlag::FD_CLOEXEC))
    });
    ctx.observe("pipe2(O_CLOEXEC): FD_CLOEXEC on both ends", cloexec_both);

    let packet_reads = match pipe2(OFlag::O_DIRECT) {
        Ok((r3, w3)) => {
            write(&w3, b"ab")?;
            write(&w3, b"cd")?;
            let first = read(&r3, &mut buf).map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
            let second = read(&r3, &mut buf).map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
            serde_json::json!([call(&first), call(&second)])
        }
        Err(e) => serde_json::json!(format!("pipe2(O_DIRECT): -1 {}", errno_name(e))),
    };
    ctx.observe("pipe2(O_DIRECT): write \"ab\", write \"cd\", read(16) twice", &packet_reads);

    let invalid = pipe2(OFlag::O_APPEND);
    ctx.observe("pipe2(O_APPEND)", call(&invalid.as_ref().map(|_| 0).map_err(|e| *e)));

    let ok = empty_read == Err(Errno::EAGAIN)
        && nonblock_both
        && cloexec_both
        && packet_reads == serde_json::json!(["ab", "cd"])
        && invalid.as_ref().err() == Some(&Errno::EINVAL);
    ctx.check(
        "pipe.create.pipe2_flags",
        ok,
        "O_NONBLOCK: read of the empty pipe gave EAGAIN; O_CLOEXEC: FD_CLOEXEC on both ends; O_DIRECT: one read per write (packets); O_APPEND: EINVAL",
        "a pipe2 flag did not do what it names (see observation)",
    );
    Ok(())
}

fn pseudo_file(ctx: &mut Ctx) -> anyhow::Result<()> {
    const PIPEFS_MAGIC: i64 = 0x5049_5045;
    let (r, _w) = pipe()?;
    let st = nix::sys::stat::fstat(&r).context("fstat")?;
    let is_fifo = (st.st_mode & libc::S_IFMT) == libc::S_IFIFO;
    let fs = nix::sys::statfs::fstatfs(&r).context("fstatfs")?;
    let fs_type = fs.filesystem_type().0 as i64;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", r.as_raw_fd()))?.to_string_lossy().into_owned();
    let link_shape = if link.starts_with("pipe:[") && link.ends_with(']') { "pipe:[<inode>]" } else { link.as_str() };
    ctx.observe("fstat(fd[0]).st_mode type", if is_fifo { "S_IFIFO" } else { "other" });
    ctx.observe(
        "fstatfs(fd[0]).f_type",
        format!("{fs_type:#x}{}", if fs_type == PIPEFS_MAGIC { " (PIPEFS_MAGIC)" } else { "" }),
    );
    ctx.observe("readlink(/proc/self/fd/<fd[0]>)", link_shape);
    ctx.check(
        "pipe.nature.pseudo_file",
        is_fifo && fs_type == PIPEFS_MAGIC && link_shape == "pipe:[<inode>]",
        "a pipe is an S_IFIFO inode on the kernel's pipefs with no path: /proc names it pipe:[inode]",
        "the pipe did not look like a kernel pseudo-file (see observation)",
    );
    Ok(())
}

fn two_pipes_for_duplex(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (to_child_r, to_child_w) = pipe()?;
    let (to_parent_r, to_parent_w) = pipe()?;
    let mut child = ctx.spawn(|| {
        close_in_child(&to_child_w);
        close_in_child(&to_parent_r);
        let mut buf = [0u8; 64];
        let Ok(n) = read(&to_child_r, &mut buf) else { return 1 };
        let answer = [b"pong:".as_slice(), &buf[..n]].concat();
        if write_all_fd(&to_parent_w, &answer) {
            0
        } else {
            2
        }
    })?;
    drop(to_child_r);
    drop(to_parent_w);
    write(&to_child_w, b"ping")?;
    let answer = proc::read_to_end_within(&to_parent_r, ctx.wait_limit())?;
    let exit = child.wait_exit(ctx.wait_limit())?;
    ctx.observe("parent -> child on pipe 1", "ping");
    ctx.observe("child -> parent on pipe 2", String::from_utf8_lossy(&answer));
    ctx.observe("child exit", exit);

    // One pipe for both directions: the writer reads back its own message.
    let (r, w) = pipe()?;
    write(&w, b"request")?;
    let mut buf = [0u8; 64];
    let n = read(&r, &mut buf)?;
    let own = String::from_utf8_lossy(&buf[..n]).into_owned();
    ctx.observe("one shared pipe: write \"request\" then read", &own);
    ctx.check(
        "pipe.direction.two_pipes_for_duplex",
        answer == b"pong:ping" && own == "request",
        "with two pipes the child answered \"pong:ping\"; with one shared pipe the writer read its own \"request\" back",
        "two-way exchange did not behave as described (see observation)",
    );
    Ok(())
}

fn blocking_read_and_write(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (r, w) = pipe()?;
    let mut reader = ctx.spawn_reporting(|| {
        let mut buf = [0u8; 64];
        match read(&r, &mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) => failed(e),
        }
    })?;
    let reader_blocked = reader.child().wait_blocked(libc::SYS_read, limit);
    ctx.observe("reader, empty pipe, writer open", blocked_obs(&reader_blocked));
    write(&w, b"wake up")?;
    let (got, exit) = reader.finish(limit)?;
    ctx.observe("reader after write(\"wake up\")", &got);
    ctx.observe("reader exit", exit);
    let read_ok = reader_blocked.is_ok() && got.as_deref() == Some("wake up");
    ctx.check(
        "pipe.read.blocks_when_empty",
        read_ok,
        "the reader slept in read on the empty pipe and returned \"wake up\" once it was written",
        "read on an empty pipe did not block-then-wake (see observation)",
    );
    drop((r, w));

    let (r, w) = pipe()?;
    let cap = pipe_size(&r)?;
    let total = cap + 4096;
    let mut writer = ctx.spawn_reporting(|| {
        let data = vec![b'w'; total];
        call(&write(&w, &data))
    })?;
    let writer_blocked = writer.child().wait_blocked(libc::SYS_write, limit);
    let queued_while_blocked = fionread(&r)?;
    ctx.observe("writer of capacity+4096 bytes into an empty pipe", blocked_obs(&writer_blocked));
    ctx.observe("bytes queued while the writer slept", queued_while_blocked);
    let mut buf = vec![0u8; 8192];
    let first = read(&r, &mut buf)?;
    let (ret, exit) = writer.finish(limit)?;
    set_nonblocking(&r)?;
    let rest = crate::util::drain_nonblocking(&r)?;
    ctx.observe("reader took", first);
    ctx.observe("writer's write() returned", &ret);
    ctx.observe("writer exit", exit);
    ctx.observe("bytes that came through", first + rest);
    let write_ok = writer_blocked.is_ok()
        && queued_while_blocked == cap
        && ret == Some(serde_json::json!(total))
        && first + rest == total;
    ctx.check(
        "pipe.write.blocks_when_full",
        write_ok,
        format!(
            "the writer slept in write with the pipe full ({cap} bytes queued) and completed after a read made room"
        ),
        "write to a full pipe did not block-then-complete (see observation)",
    );
    ctx.check(
        "pipe.sync.adapts_to_slower_side",
        read_ok && write_ok,
        "the fast side waited for the slow one both ways: reader on empty, writer on full",
        "one side did not wait for the other (see observation)",
    );
    Ok(())
}

fn ready_read_and_write(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    let wrote = write(&w, &[b'x'; 100]);
    let mut buf = [0u8; 4096];
    let got = read(&r, &mut buf);
    ctx.observe("write(100 bytes) into an empty pipe", call(&wrote));
    ctx.observe("read(4096) with 100 queued", call(&got));
    ctx.check(
        "pipe.read.returns_available_data",
        got == Ok(100),
        "read(4096) returned the 100 bytes there were, at once",
        "read did not return the available data at once",
    );
    ctx.check(
        "pipe.write.completes_when_room",
        wrote == Ok(100),
        "write of 100 bytes into a pipe with room returned 100 at once",
        "write into a pipe with room did not complete",
    );
    Ok(())
}

fn eof_after_writers_close(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    let mut child = ctx.spawn(|| if write(&w, b"child;").is_ok() { 0 } else { 1 })?;
    child.wait_exit(ctx.wait_limit())?;
    write(&w, b"parent")?;
    drop(w);
    let mut buf = [0u8; 64];
    let mut reads = Vec::new();
    for _ in 0..3 {
        let got = read(&r, &mut buf);
        reads.push(call(&got.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())));
        if got == Ok(0) {
            break;
        }
    }
    ctx.observe("reads after both writers closed", &reads);
    ctx.check(
        "pipe.read.eof_after_writers_close",
        reads == [serde_json::json!("child;parent"), serde_json::json!("")],
        "with every write end closed, read returned the remaining \"child;parent\" and then 0",
        "read did not give the rest then 0 after the writers closed",
    );
    Ok(())
}

fn own_write_end_blocks_eof(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // One pipe per reader, each made just before its reader, so neither inherits the other's.
    // Reader A keeps its inherited write end; reader B closes it first. Both read to EOF.
    let read_to_eof = |r: &OwnedFd, own_w: Option<&OwnedFd>| {
        if let Some(w) = own_w {
            close_in_child(w);
        }
        let mut buf = [0u8; 64];
        let mut total = 0usize;
        loop {
            match read(r, &mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(_) => return usize::MAX,
            }
        }
    };
    let (keeps_r, keeps_w) = pipe()?;
    let mut keeps = ctx.spawn_reporting(|| read_to_eof(&keeps_r, None))?;
    let (closes_r, closes_w) = pipe()?;
    let closes = ctx.spawn_reporting(|| {
        close_in_child(&keeps_w);
        read_to_eof(&closes_r, Some(&closes_w))
    })?;
    write(&keeps_w, b"data")?;
    write(&closes_w, b"data")?;
    drop((keeps_w, closes_w));
    let keeps_blocked = keeps.child().wait_blocked(libc::SYS_read, limit);
    let (closes_total, _) = closes.finish(limit)?;
    ctx.observe("reader that kept its own write end, after the writer closed", blocked_obs(&keeps_blocked));
    ctx.observe("reader that closed its own write end: bytes read before read returned 0", closes_total);
    drop(keeps);
    ctx.check(
        "pipe.read.keep_own_write_end_no_eof",
        keeps_blocked.is_ok() && closes_total == Some(4),
        "the reader holding its own write end read the data and then slept in read for ever; the one that closed it read the data, then 0 (EOF)",
        "keeping the unused write end open did not prevent end of file (see observation)",
    );
    Ok(())
}

static HANDLER_RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_sigpipe(_: libc::c_int) {
    HANDLER_RAN.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn write_without_reader(ctx: &mut Ctx) -> anyhow::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let (r, w) = pipe()?;
    drop(r);
    let (_, default_exit) = ctx.in_child(|| call(&write(&w, b"x")))?;
    ctx.observe("write, SIGPIPE default", default_exit);
    let (ignored, _) = ctx.in_child(|| {
        // SAFETY: SIG_IGN runs no code.
        unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) }.ok();
        call(&write(&w, b"x"))
    })?;
    ctx.observe("write, SIGPIPE ignored", &ignored);
    let (handled, _) = ctx.in_child(|| {
        let act = SigAction::new(SigHandler::Handler(note_sigpipe), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(Signal::SIGPIPE, &act) }.ok();
        let result = call(&write(&w, b"x"));
        serde_json::json!({"write": result, "handler ran": HANDLER_RAN.load(std::sync::atomic::Ordering::SeqCst)})
    })?;
    ctx.observe("write, SIGPIPE handled", &handled);
    ctx.check(
        "pipe.write.sigpipe_kills_by_default",
        default_exit.signal() == Some("SIGPIPE"),
        "the writer was killed by SIGPIPE",
        format!("with no reader the writer ended with {default_exit}"),
    );
    let epipe = serde_json::json!("-1 EPIPE");
    ctx.check(
        "pipe.write.epipe_when_sigpipe_ignored_or_handled",
        ignored.as_ref() == Some(&epipe) && handled == Some(serde_json::json!({"write": epipe, "handler ran": true})),
        "ignored: write returned -1 EPIPE; handled: the handler ran and write returned -1 EPIPE",
        "write without a reader did not give EPIPE when SIGPIPE was ignored or handled",
    );
    Ok(())
}

fn data_gone_once_read(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    write(&w, b"abcdef")?;
    let before = fionread(&r)?;
    let mut buf = [0u8; 3];
    let first = read(&r, &mut buf).map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    let between = fionread(&r)?;
    let second = read(&r, &mut buf).map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    let after = fionread(&r)?;
    ctx.observe("FIONREAD after write(\"abcdef\")", before);
    ctx.observe("read(3)", call(&first));
    ctx.observe("FIONREAD", between);
    ctx.observe("read(3) again", call(&second));
    ctx.observe("FIONREAD at the end", after);
    ctx.check(
        "pipe.read.data_gone_once_read",
        first.as_deref() == Ok("abc") && second.as_deref() == Ok("def") && (before, between, after) == (6, 3, 0),
        "the second read gave \"def\", not \"abc\" again; queued bytes went 6 -> 3 -> 0",
        "data read once was still in the pipe (see observation)",
    );
    Ok(())
}

fn byte_stream_order(ctx: &mut Ctx) -> anyhow::Result<()> {
    // Deterministic: two writes come back in one read.
    let (r, w) = pipe()?;
    write(&w, b"ab")?;
    write(&w, b"cd")?;
    let mut buf = [0u8; 16];
    let merged = read(&r, &mut buf).map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    ctx.observe("write \"ab\", write \"cd\", read(16)", call(&merged));
    drop((r, w));

    // Property: random write sizes and read sizes; the bytes come out in order.
    let strategy = (prop::collection::vec(1usize..3000, 1..20), prop::collection::vec(1usize..5000, 1..8));
    let outcome = ctx.property(strategy, 64, 1024, |(writes, reads)| {
        let (r, w) = pipe().map_err(|e| TestCaseError::fail(format!("pipe: {e}")))?;
        set_nonblocking(&w).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut sent = Vec::new();
        let mut counter = 0u32;
        for size in writes {
            let chunk: Vec<u8> = (0..size)
                .map(|_| {
                    counter = counter.wrapping_add(1);
                    (counter % 251) as u8
                })
                .collect();
            if sent.len() + chunk.len() > 60_000 {
                break;
            }
            write_all_fd(&w, &chunk).then_some(()).ok_or_else(|| TestCaseError::fail("write failed"))?;
            sent.extend_from_slice(&chunk);
        }
        drop(w);
        let mut got = Vec::new();
        let mut i = 0;
        loop {
            let mut buf = vec![0u8; reads[i % reads.len()]];
            i += 1;
            match read(&r, &mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return Err(TestCaseError::fail(format!("read: {e}"))),
            }
        }
        prop_assert_eq!(got, sent, "bytes out differ from bytes in");
        Ok(())
    });
    ctx.observe("property: random writes and reads, bytes out == bytes in", &outcome);
    ctx.check(
        "pipe.order.first_in_first_out",
        outcome.passed(),
        format!("over {} random write/read patterns the bytes came out in the order they went in", outcome.cases),
        format!("bytes came out of order: {:?} {:?}", outcome.counterexample, outcome.reason),
    );
    ctx.check(
        "pipe.order.no_message_boundaries",
        merged.as_deref() == Ok("abcd"),
        "two writes (\"ab\", \"cd\") came back as one read \"abcd\": no boundaries are kept",
        "the pipe kept the boundary between two writes",
    );
    Ok(())
}

fn no_seek(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    write(&w, b"data")?;
    let seek = nix::unistd::lseek(&r, 0, nix::unistd::Whence::SeekSet);
    let mut buf = [0u8; 4];
    let pread = nix::sys::uio::pread(&r, &mut buf, 0);
    let pwrite = nix::sys::uio::pwrite(&w, b"x", 0);
    ctx.observe("lseek(fd[0], 0, SEEK_SET)", call(&seek));
    ctx.observe("pread(fd[0], 4, 0)", call(&pread));
    ctx.observe("pwrite(fd[1], 1, 0)", call(&pwrite));
    ctx.check(
        "pipe.seek.not_possible",
        seek == Err(Errno::ESPIPE) && pread == Err(Errno::ESPIPE) && pwrite == Err(Errno::ESPIPE),
        "lseek, pread and pwrite all failed with ESPIPE",
        "a positioned operation on a pipe did not fail with ESPIPE",
    );
    Ok(())
}

fn write_returns_before_read(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    let wrote = write(&w, b"hello");
    let queued = fionread(&r)?;
    ctx.observe("write(\"hello\") with no process reading", call(&wrote));
    ctx.observe("bytes still queued, unread, after write returned", queued);
    drop(r);
    ctx.observe("read end then closed without reading", "the 5 bytes were discarded; the writer was told nothing");
    // The claim would hold if write() returned only once the data had been taken.
    let returned_while_unread = wrote.is_ok_and(|n| n > 0) && queued > 0;
    ctx.check(
        "pipe.delivery.data_taken_by_reader",
        !returned_while_unread,
        "write returned only after the reader had taken the data",
        format!(
            "write returned {} while nobody had read anything ({queued} bytes queued): a successful write means the data is buffered, not taken; closing the read end silently discarded it",
            call(&wrote)
        ),
    );
    Ok(())
}

fn capacity(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe2(OFlag::O_NONBLOCK)?;
    let reported = pipe_size(&r)?;
    ctx.observe("fcntl(F_GETPIPE_SZ)", reported);
    let mut cycles = Vec::new();
    for _ in 0..4 {
        let filled = fill_nonblocking(&w, 4096)?;
        let after_full = write(&w, b"x");
        let drained = crate::util::drain_nonblocking(&r)?;
        cycles.push(serde_json::json!({"filled": filled, "one more byte": call(&after_full), "drained": drained}));
    }
    ctx.observe("fill until EAGAIN, then drain (4 cycles)", &cycles);
    let first_fill = cycles[0]["filled"].as_u64().unwrap_or(0) as usize;
    let all_same = cycles.iter().all(|c| c["filled"] == first_fill && c["drained"] == first_fill);
    ctx.check(
        "pipe.capacity.is_64k",
        reported == 65536 && first_fill == 65536,
        "F_GETPIPE_SZ gave 65536 and 65536 bytes went in before EAGAIN",
        format!("capacity is {reported} by F_GETPIPE_SZ and {first_fill} by filling, not 65536"),
    );
    ctx.check(
        "pipe.capacity.ring_reused",
        all_same && first_fill > 0,
        format!("4 fill/drain cycles each took the full {first_fill} bytes: {} bytes through one pipe", 4 * first_fill),
        "the pipe did not take its full capacity again after draining",
    );
    Ok(())
}

fn packet_slots(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe2(OFlag::O_DIRECT | OFlag::O_NONBLOCK).context("pipe2(O_DIRECT|O_NONBLOCK)")?;
    let cap = pipe_size(&r)?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let mut writes = 0usize;
    let last = loop {
        match write(&w, b"p") {
            Ok(_) => writes += 1,
            Err(e) => break e,
        }
        if writes > 4096 {
            break Errno::UnknownErrno;
        }
    };
    ctx.observe("page size", page);
    ctx.observe("F_GETPIPE_SZ / page size", cap / page);
    ctx.observe("1-byte packet writes accepted", writes);
    ctx.observe("the next write", failed(last));
    ctx.check(
        "pipe.capacity.sixteen_buffers",
        writes == 16 && cap / page == 16 && last == Errno::EAGAIN,
        "16 one-byte packets filled the pipe (the 17th got EAGAIN): 16 slots of one page each",
        format!("the pipe took {writes} packets ({} pages of capacity), not 16", cap / page),
    );
    Ok(())
}

fn ulimit_pipe_size(ctx: &mut Ctx) -> anyhow::Result<()> {
    let shell = |shell: &str, script: &str| -> anyhow::Result<String> {
        let out = std::process::Command::new(shell)
            .args(["-c", script])
            .output()
            .with_context(|| format!("running {shell}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let bash_line = shell("bash", "ulimit -a | grep -i pipe")?;
    let bash_p = shell("bash", "ulimit -p")?;
    let sh_line = shell("sh", "ulimit -a 2>&1 | grep -i pipe || echo '(no pipe line)'")?;
    let (r, _w) = pipe()?;
    let real = pipe_size(&r)?;
    ctx.observe("bash: ulimit -a | grep pipe", &bash_line);
    ctx.observe("bash: ulimit -p", &bash_p);
    ctx.observe("sh (/bin/sh): ulimit -a | grep pipe", &sh_line);
    ctx.observe("real capacity (F_GETPIPE_SZ)", real);
    let figure = bash_p.parse::<usize>().ok().map(|blocks| blocks * 512);
    ctx.observe("bash's figure in bytes", figure);
    ctx.check(
        "pipe.capacity.ulimit_figure_is_not_real_size",
        figure.is_some_and(|b| b != real) && real == 65536,
        format!(
            "bash's ulimit -a shows \"{bash_line}\" = {} bytes (PIPE_BUF), not the real 65536; /bin/sh prints {sh_line}",
            figure.unwrap_or(0)
        ),
        format!("ulimit's figure {figure:?} bytes vs real capacity {real}"),
    );
    Ok(())
}

fn pipe_buf_value(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, _w) = pipe()?;
    // SAFETY: fpathconf reads a descriptor's limit.
    let pc_pipe_buf = unsafe { libc::fpathconf(r.as_raw_fd(), libc::_PC_PIPE_BUF) };
    let cap = pipe_size(&r)?;
    ctx.observe("PIPE_BUF (<limits.h>)", libc::PIPE_BUF);
    ctx.observe("fpathconf(fd, _PC_PIPE_BUF)", pc_pipe_buf);
    ctx.observe("buffer size (F_GETPIPE_SZ)", cap);
    ctx.check(
        "pipe.pipe_buf.is_buffer_size",
        libc::PIPE_BUF == cap && pc_pipe_buf as usize == cap,
        "PIPE_BUF equals the pipe's buffer size",
        format!(
            "PIPE_BUF is {} (the atomic-write limit), the buffer is {cap} bytes: PIPE_BUF is not the buffer size",
            libc::PIPE_BUF
        ),
    );
    Ok(())
}

/// A record: magic, writer, sequence (u16), length (u16), then the writer's letter as payload.
const RECORD_HEADER: usize = 6;

fn record(writer: usize, seq: usize, len: usize) -> Vec<u8> {
    let mut rec = vec![b'a' + writer as u8; len];
    rec[0] = 0xA5;
    rec[1] = writer as u8;
    rec[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    rec[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    rec
}

/// Checks one record at the start of `data`; returns (writer, seq, len) or what is wrong.
fn parse_record(data: &[u8]) -> Result<(usize, usize, usize), String> {
    if data.len() < RECORD_HEADER || data[0] != 0xA5 {
        return Err(format!("no record header (byte {:#04x})", data.first().copied().unwrap_or(0)));
    }
    let writer = data[1] as usize;
    let seq = u16::from_be_bytes([data[2], data[3]]) as usize;
    let len = u16::from_be_bytes([data[4], data[5]]) as usize;
    if data.len() < len {
        return Err(format!("record of writer {writer} seq {seq} cut short: {} of {len} bytes", data.len()));
    }
    if let Some(bad) = data[RECORD_HEADER..len].iter().position(|b| *b != b'a' + writer as u8) {
        return Err(format!("record of writer {writer} seq {seq}: foreign byte at offset {}", RECORD_HEADER + bad));
    }
    Ok((writer, seq, len))
}

fn atomic_writes_property(ctx: &mut Ctx) -> anyhow::Result<()> {
    let pipe_channel = || Ok(pipe()?);
    let (outcome, records) = concurrent_writers_property(ctx, &pipe_channel);
    ctx.observe("PIPE_BUF", libc::PIPE_BUF);
    ctx.observe("property: 2-4 concurrent writers, records of 6..=PIPE_BUF bytes, one write() each", &outcome);
    ctx.observe("records checked", records);
    ctx.check(
        "pipe.pipe_buf.writes_atomic",
        outcome.passed(),
        format!("{} runs, {records} records: no record was ever split or interleaved", outcome.cases),
        format!("a record was split or interleaved: {:?} ({:?})", outcome.counterexample, outcome.reason),
    );
    Ok(())
}

/// The PIPE_BUF write-atomicity property over any channel that `channel` makes (a pipe, a FIFO):
/// 2-4 writer processes each write their records with one write() apiece, one reader checks
/// that every record arrived whole and in its writer's order. Returns the outcome and the
/// number of records checked.
pub(crate) fn concurrent_writers_property(
    ctx: &Ctx,
    channel: &dyn Fn() -> anyhow::Result<(OwnedFd, OwnedFd)>,
) -> (harness::ctx::PropertyOutcome, usize) {
    let limit = ctx.wait_limit();
    let strategy = prop::collection::vec(prop::collection::vec(RECORD_HEADER..=libc::PIPE_BUF, 1..24), 2..=4);
    let records_checked = std::cell::Cell::new(0usize);
    let outcome = ctx.property(strategy, 24, 400, |plan| {
        let fail = |m: String| TestCaseError::fail(m);
        let (r, w) = channel().map_err(|e| fail(format!("channel: {e}")))?;
        let mut writers = Vec::new();
        for (id, sizes) in plan.iter().enumerate() {
            let records: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(seq, &len)| record(id, seq, len)).collect();
            // One write() per record: a short count would itself break atomicity.
            let w = &w;
            writers.push(
                proc::spawn(move || {
                    for rec in &records {
                        match write(w, rec) {
                            Ok(n) if n == rec.len() => {}
                            Ok(_) => return 3,
                            Err(_) => return 4,
                        }
                    }
                    0
                })
                .map_err(|e| fail(e.to_string()))?,
            );
        }
        drop(w);
        let data = proc::read_to_end_within(&r, limit).map_err(|e| fail(e.to_string()))?;
        for mut writer in writers {
            let exit = writer.wait_exit(limit).map_err(|e| fail(e.to_string()))?;
            prop_assert_eq!(exit, Exit::Code(0), "a writer got a short count or an error");
        }
        let mut next_seq = vec![0usize; plan.len()];
        let mut pos = 0;
        while pos < data.len() {
            let (writer, seq, len) = parse_record(&data[pos..]).map_err(|e| fail(format!("at byte {pos}: {e}")))?;
            prop_assert!(
                writer < plan.len() && seq == next_seq[writer] && len == plan[writer][seq],
                "record out of order at byte {}",
                pos
            );
            next_seq[writer] += 1;
            pos += len;
        }
        prop_assert_eq!(next_seq.iter().sum::<usize>(), plan.iter().map(Vec::len).sum::<usize>(), "records missing");
        records_checked.set(records_checked.get() + next_seq.iter().sum::<usize>());
        Ok(())
    });
    (outcome, records_checked.get())
}

fn atomic_reads_property(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // Deterministic first: a read asks for more than there is and returns what there is.
    let (r, w) = pipe()?;
    write(&w, &[b'z'; 50])?;
    let mut buf = [0u8; 100];
    let short = read(&r, &mut buf);
    ctx.observe("read(100) with 50 queued", call(&short));
    drop((r, w));

    let strategy = (RECORD_HEADER..=libc::PIPE_BUF, 4usize..32);
    let outcome = ctx.property(strategy, 16, 256, |(size, per_writer)| {
        let fail = |m: String| TestCaseError::fail(m);
        let (r, w) = pipe().map_err(|e| fail(format!("pipe: {e}")))?;
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (r, w) = (&r, &w);
            readers.push(
                proc::spawn_reporting(move || {
                    close_in_child(w);
                    let mut buf = vec![0u8; size];
                    let (mut whole, mut broken) = (0usize, 0usize);
                    loop {
                        match read(r, &mut buf) {
                            Ok(0) => return (whole, broken),
                            Ok(n) if n == size && parse_record(&buf[..n]).is_ok_and(|(_, _, len)| len == size) => {
                                whole += 1
                            }
                            Ok(_) | Err(_) => broken += 1,
                        }
                    }
                })
                .map_err(|e| fail(e.to_string()))?,
            );
        }
        let mut writers = Vec::new();
        for id in 0..2 {
            let w = &w;
            writers.push(
                proc::spawn(move || {
                    for seq in 0..per_writer {
                        if write(w, &record(id, seq, size)).ok() != Some(size) {
                            return 3;
                        }
                    }
                    0
                })
                .map_err(|e| fail(e.to_string()))?,
            );
        }
        drop(w);
        drop(r);
        for mut writer in writers {
            prop_assert_eq!(writer.wait_exit(limit).map_err(|e| fail(e.to_string()))?, Exit::Code(0));
        }
        let (mut whole, mut broken) = (0, 0);
        for reader in readers {
            let (got, _) = reader.finish(limit).map_err(|e| fail(e.to_string()))?;
            let (w_, b_) = got.ok_or_else(|| fail("a reader died".into()))?;
            whole += w_;
            broken += b_;
        }
        prop_assert_eq!(broken, 0, "a read returned part of a record or a mixture");
        prop_assert_eq!(whole, 2 * per_writer, "records lost");
        Ok(())
    });
    ctx.observe("property: 2 readers and 2 writers of fixed-size records, each read() asks for one record", &outcome);
    ctx.check(
        "pipe.pipe_buf.reads_atomic",
        outcome.passed() && short == Ok(50),
        format!(
            "over {} runs every read of one record size got exactly one whole record; (a read asking for more than is queued returns what is there: read(100) gave 50)",
            outcome.cases
        ),
        format!("a read got a mixture or part of a record: {:?} ({:?})", outcome.counterexample, outcome.reason),
    );
    Ok(())
}

fn larger_writes_split(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // Non-blocking: a write of twice the capacity into an empty pipe is partly written.
    let (r, w) = pipe2(OFlag::O_NONBLOCK)?;
    let cap = pipe_size(&r)?;
    let partial = write(&w, &vec![b'n'; 2 * cap]);
    ctx.observe("non-blocking write(2 x capacity) into an empty pipe", call(&partial));
    drop((r, w));

    // Blocking: writer A's single write(2 x capacity) fills the pipe and sleeps; a stop signal
    // ends that write() with a partial count; B's record then lands before the rest of A's.
    let (r, w) = pipe()?;
    let mut a = ctx.spawn_reporting(|| {
        let data = vec![b'A'; 2 * cap];
        let first = write(&w, &data);
        let rest_written = first.is_ok_and(|n| write_all_fd(&w, &data[n..]));
        serde_json::json!({"first write() returned": call(&first), "rest written": rest_written})
    })?;
    let blocked = a.child().wait_blocked(libc::SYS_write, limit);
    ctx.observe("A's write(2 x capacity)", blocked_obs(&blocked));
    // Stopped before it wrote, A would leave the blocking read below nothing to return.
    blocked?;
    a.child().signal(Signal::SIGSTOP)?;
    a.child().wait_stopped(limit)?;
    let mut head = vec![0u8; cap];
    let head_n = read(&r, &mut head)?;
    let b_record = [b'B'; 100];
    write(&w, &b_record)?;
    a.child().signal(Signal::SIGCONT)?;
    drop(w);
    let tail = proc::read_to_end_within(&r, limit)?;
    let (report, _) = a.finish(limit)?;
    let stream: Vec<u8> = head[..head_n].iter().chain(tail.iter()).copied().collect();
    let layout = runs(&stream);
    ctx.observe("A's report", &report);
    ctx.observe("stream as runs of bytes", &layout);
    let split = partial == Ok(cap)
        && report.as_ref().is_some_and(|r| r["first write() returned"] == cap)
        && layout == vec![format!("A x {cap}"), "B x 100".to_string(), format!("A x {cap}")];
    ctx.check(
        "pipe.pipe_buf.larger_writes_split",
        split,
        format!(
            "non-blocking write of {} bytes wrote {cap}; a blocking one, interrupted by SIGSTOP, returned {cap} and B's 100-byte record landed inside A's data",
            2 * cap
        ),
        "writes above PIPE_BUF were not split in these experiments (see observation)",
    );
    Ok(())
}

/// "A x 65536", "B x 100", ...: a byte stream as runs of equal bytes.
fn runs(data: &[u8]) -> Vec<String> {
    let mut out: Vec<(u8, usize)> = Vec::new();
    for &b in data {
        match out.last_mut() {
            Some((c, n)) if *c == b => *n += 1,
            _ => out.push((b, 1)),
        }
    }
    out.into_iter().map(|(c, n)| format!("{} x {n}", c as char)).collect()
}

fn unrelated_process_via_proc(ctx: &mut Ctx) -> anyhow::Result<()> {
    // A creates the pipe after the fork: neither the worker nor any ancestor ever held it.
    let (fd_r, fd_w) = proc::report_pipe()?;
    let (hold_r, hold_w) = pipe()?;
    let mut a = ctx.spawn(|| {
        close_in_child(&fd_r);
        close_in_child(&hold_w);
        let Ok((r, w)) = pipe() else { return 1 };
        if write(&w, b"found via /proc").is_err() {
            return 2;
        }
        let number = r.as_raw_fd().to_string();
        if !write_all_fd(&fd_w, number.as_bytes()) {
            return 3;
        }
        close_in_child(&fd_w);
        let mut b = [0u8; 1];
        let _ = read(&hold_r, &mut b); // stay alive until the worker is done
        0
    })?;
    drop(fd_w);
    drop(hold_r);
    let number = String::from_utf8(proc::read_to_end_within(&fd_r, ctx.wait_limit())?)?;
    let path = format!("/proc/{}/fd/{}", a.raw_pid(), number);
    let opened = nix::fcntl::open(path.as_str(), OFlag::O_RDONLY | OFlag::O_NONBLOCK, nix::sys::stat::Mode::empty());
    ctx.observe(
        "open(/proc/<A>/fd/<read end>) by a process that never inherited the pipe",
        call(&opened.as_ref().map(|_| "fd").map_err(|e| *e)),
    );
    let got = match &opened {
        Ok(fd) => {
            let mut buf = [0u8; 64];
            read(fd, &mut buf).map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        }
        Err(e) => Err(*e),
    };
    ctx.observe("read from it", call(&got));
    // The privilege dimension: as root, the same open from uid/gid 65534 (not the holder's uid).
    let other_user = if harness::privilege::is_root() {
        let (opened, _) = ctx.in_child_as_nobody(|| {
            let r = nix::fcntl::open(path.as_str(), OFlag::O_RDONLY | OFlag::O_NONBLOCK, nix::sys::stat::Mode::empty());
            call(&r.map(|_| "fd")).as_str().unwrap_or("").to_string()
        })?;
        opened.unwrap_or_else(|| "the child died".into())
    } else {
        "not checked: needs root to run a process as another uid".to_string()
    };
    ctx.observe("the same open as uid 65534", &other_user);
    drop(hold_w);
    a.wait_exit(ctx.wait_limit())?;
    ctx.check(
        "pipe.processes.related_only",
        got.as_deref() != Ok("found via /proc"),
        "no process outside the creating family could reach the pipe",
        format!("a process that never inherited the pipe opened /proc/<pid>/fd/<n> and read \"found via /proc\" from it: any process with ptrace-level access to a holder can use it (as uid 65534: {other_user})"),
    );
    Ok(())
}

fn fork_copies_both_ends(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    let (hold_r, hold_w) = pipe()?;
    let mut child = ctx.spawn(|| {
        close_in_child(&hold_w);
        let mut b = [0u8; 1];
        let _ = read(&hold_r, &mut b);
        0
    })?;
    child.wait_blocked(libc::SYS_read, ctx.wait_limit())?;
    let link = |pid: String, fd: &OwnedFd| std::fs::read_link(format!("/proc/{pid}/fd/{}", fd.as_raw_fd())).ok();
    let mine = (link("self".into(), &r), link("self".into(), &w));
    let childs = (link(child.raw_pid().to_string(), &r), link(child.raw_pid().to_string(), &w));
    let same = mine.0.is_some() && mine == childs && mine.0 == mine.1;
    ctx.observe("child holds fd[0] and fd[1]", childs.0.is_some() && childs.1.is_some());
    ctx.observe("child's fd[0], fd[1] name the parent's pipe inode", same);
    drop(hold_w);
    child.wait_exit(ctx.wait_limit())?;
    ctx.check(
        "pipe.processes.fork_copies_both_ends",
        same,
        "after fork the child held both ends, naming the same pipe:[inode] as the parent's: two read ends, two write ends",
        "the child's descriptors did not refer to the parent's pipe",
    );
    Ok(())
}

fn parent_writes_child_reads(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    let child = ctx.spawn_reporting(|| {
        close_in_child(&w);
        let mut all = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match read(&r, &mut buf) {
                Ok(0) => return (String::from_utf8_lossy(&all).into_owned(), "EOF".to_string()),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(_) => return (String::from_utf8_lossy(&all).into_owned(), "error".to_string()),
            }
        }
    })?;
    drop(r);
    write(&w, b"from parent")?;
    drop(w);
    let (got, exit) = child.finish(ctx.wait_limit())?;
    ctx.observe("child read, then", &got);
    ctx.observe("child exit", exit);
    ctx.check(
        "pipe.processes.parent_writes_child_reads",
        got == Some(("from parent".into(), "EOF".into())),
        "the child read \"from parent\" and then end of file when the parent closed its write end",
        "parent-to-child transfer did not work as described",
    );
    Ok(())
}

fn siblings(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    let mut writer = ctx.spawn(|| {
        close_in_child(&r);
        if write_all_fd(&w, b"from sibling") {
            0
        } else {
            1
        }
    })?;
    let reader = ctx.spawn_reporting(|| {
        close_in_child(&w);
        let mut all = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = read(&r, &mut buf) {
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    })?;
    drop((r, w));
    let writer_exit = writer.wait_exit(ctx.wait_limit())?;
    let (got, _) = reader.finish(ctx.wait_limit())?;
    ctx.observe("writer sibling exit", writer_exit);
    ctx.observe("reader sibling read", &got);
    ctx.check(
        "pipe.processes.siblings",
        got.as_deref() == Some("from sibling"),
        "one child wrote \"from sibling\", its sibling read it; the parent only created the pipe",
        "siblings could not communicate through the pipe",
    );
    Ok(())
}

fn lifetime(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (r, w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (result_r, result_w) = pipe()?;
    // A writes and ends; before that it forks H, which keeps the read end and reads only when told.
    let mut a = ctx.spawn(|| {
        close_in_child(&go_w);
        close_in_child(&result_r);
        let h = proc::spawn(|| {
            close_in_child(&w);
            let mut b = [0u8; 1];
            let _ = read(&go_r, &mut b);
            let mut buf = [0u8; 64];
            let got = read(&r, &mut buf).map(|n| buf[..n].to_vec()).unwrap_or_default();
            if write_all_fd(&result_w, &got) {
                0
            } else {
                1
            }
        });
        let Ok(h) = h else { return 2 };
        std::mem::forget(h); // H outlives A on purpose; the worker's process group is killed at the end
        if write(&w, b"outlived them").is_err() {
            return 3;
        }
        0
    })?;
    // B is the other process of the pair: it holds the read end and ends without reading.
    let mut b = ctx.spawn(|| 0)?;
    let a_exit = a.wait_exit(limit)?;
    let b_exit = b.wait_exit(limit)?;
    drop((r, w, go_r, result_w));
    ctx.observe("A (writer) exit", a_exit);
    ctx.observe("B (reader) exit", b_exit);
    write(&go_w, b"g")?;
    drop(go_w);
    let survived = proc::read_to_end_within(&result_r, limit)?;
    let text = String::from_utf8_lossy(&survived).into_owned();
    ctx.observe("H, a child of A that still held the read end, read after A and B ended", &text);
    let outlived = text == "outlived them";
    ctx.decide(
        "pipe.lifetime.gone_when_processes_end",
        if outlived {
            Decision::partial("a pipe lives until its last descriptor closes, not until two processes end: after both ended, a third holder (A's child) still read \"outlived them\"; with no descriptor left nothing can reach it")
        } else {
            Decision::holds("once the two processes ended the pipe was gone: the third holder read nothing")
        },
    );
    Ok(())
}

fn shell_pipeline(ctx: &mut Ctx) -> anyhow::Result<()> {
    use crate::util::exec;
    let (r, w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let mut left = ctx.spawn(|| {
        if nix::unistd::dup2_stdout(&w).is_err() {
            return 126;
        }
        close_in_child(&r);
        close_in_child(&w);
        close_in_child(&out_r);
        close_in_child(&out_w);
        exec(&["sh", "-c", "printf 'init\\nbash\\nsshd\\n-bash\\n'"])
    })?;
    let mut right = ctx.spawn(|| {
        if nix::unistd::dup2_stdin(&r).is_err() || nix::unistd::dup2_stdout(&out_w).is_err() {
            return 126;
        }
        close_in_child(&r);
        close_in_child(&w);
        close_in_child(&out_r);
        close_in_child(&out_w);
        exec(&["grep", "bash"])
    })?;
    drop((r, w, out_w));
    let out = proc::read_to_end_within(&out_r, ctx.wait_limit())?;
    let (le, re) = (left.wait_exit(ctx.wait_limit())?, right.wait_exit(ctx.wait_limit())?);
    let text = String::from_utf8_lossy(&out).into_owned();
    ctx.observe("printf 'init\\nbash\\nsshd\\n-bash\\n' | grep bash", &text);
    ctx.observe("exits", serde_json::json!([le, re]));
    ctx.check(
        "pipe.shell.pipeline_with_dup2",
        text == "bash\n-bash\n" && le == Exit::Code(0) && re == Exit::Code(0),
        "pipe + dup2 + exec connected printf's stdout to grep's stdin: grep printed the two bash lines",
        "the hand-made pipeline did not deliver the first command's output to the second",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_checker_accepts_whole_records() {
        let rec = record(1, 7, 300);
        assert_eq!(parse_record(&rec), Ok((1, 7, 300)));
    }

    #[test]
    fn the_record_checker_rejects_an_interleaved_record() {
        // Writer 0's record with 10 bytes of writer 1's record spliced into its middle.
        let mut mixed = record(0, 0, 100);
        mixed.splice(50..50, record(1, 0, 10));
        assert!(parse_record(&mixed).unwrap_err().contains("foreign byte"));
    }

    #[test]
    fn the_record_checker_rejects_a_cut_record() {
        let rec = record(2, 3, 100);
        assert!(parse_record(&rec[..60]).unwrap_err().contains("cut short"));
    }

    #[test]
    fn runs_describe_a_stream() {
        assert_eq!(runs(b"AAABBA"), ["A x 3", "B x 2", "A x 1"]);
    }
}
