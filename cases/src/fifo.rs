//! Named pipes (FIFOs): creation (mkfifo, mkfifoat, the shell command), the open rules, the read
//! and write rules, sharing, and 004's fifo_server / fifo_client example.
//!
//! Every FIFO lives in the worker's own directory, which the runner removes whatever happens.
//! Children open the FIFO by name themselves where it matters who holds which end: an inherited
//! write end would keep a reader from ever seeing end of file.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use harness::obs::{call, failed};
use harness::proc::{self, Exit};
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::{fstat, stat, umask, Mode, SFlag};
use nix::unistd::{mkfifo, read, unlink, write};

use crate::util::{blocked_obs, clear_nonblocking, exec, fill_nonblocking, fionread, pipe_size, read_some, read_text};

pub const CASES: &[Case] = &[
    Case::new(
        "fifo.mkfifo_makes_fifo",
        &["fifo.mkfifo.creates_fifo_file", "fifo.mkfifo.mode_sets_permissions", "fifo.mkfifo.returns_zero_or_errno"],
        mkfifo_makes_fifo,
    )
    .needs_commands(&["ls"]),
    Case::new("fifo.shell_mkfifo", &["fifo.mkfifo.shell_command"], shell_mkfifo).needs_commands(&["mkfifo", "ls"]),
    Case::new(
        "fifo.mkfifoat_dirfd",
        &[
            "fifo.mkfifoat.absolute_path_ignores_dirfd",
            "fifo.mkfifoat.at_fdcwd_uses_cwd",
            "fifo.mkfifoat.relative_to_dirfd",
        ],
        mkfifoat_dirfd,
    ),
    Case::new("fifo.mkfifoat_open_flags_as_mode", &["fifo.mkfifoat.mode_is_open_flags"], mkfifoat_open_flags_as_mode),
    Case::new("fifo.data_not_on_disk", &["fifo.nature.buffer_in_kernel_not_on_disk"], data_not_on_disk),
    Case::new("fifo.unrelated_processes", &["fifo.nature.unrelated_processes"], unrelated_processes)
        .needs_commands(&["sh", "cat"]),
    Case::new("fifo.half_duplex", &["fifo.nature.half_duplex"], half_duplex),
    Case::new("fifo.first_in_first_out", &["fifo.order.first_in_first_out"], first_in_first_out),
    Case::new("fifo.file_calls", &["fifo.nature.file_calls"], file_calls),
    Case::new("fifo.unlink_while_open", &["fifo.unlink.removes_name_only"], unlink_while_open),
    Case::new("fifo.unlink_returns", &["fifo.unlink.returns_zero_or_errno"], unlink_returns),
    Case::new("fifo.buffer_freed", &["fifo.buffer.freed_when_processes_end"], buffer_freed),
    Case::new(
        "fifo.open_rules",
        &[
            "fifo.open.nonblock_read_always_succeeds",
            "fifo.open.nonblock_write_enxio_without_reader",
            "fifo.open.blocking_read_waits_for_writer",
            "fifo.open.blocking_write_waits_for_reader",
            "fifo.open.transfer_needs_both_ends",
        ],
        open_rules,
    ),
    Case::new(
        "fifo.read_rules",
        &[
            "fifo.read.blocks_when_empty_with_writer",
            "fifo.read.eof_after_writer_ends",
            "fifo.read.nonblock_eagain_when_empty",
        ],
        read_rules,
    ),
    Case::new("fifo.atomic_writes_property", &["fifo.write.atomic_up_to_pipe_buf"], atomic_writes_property)
        .timeout_ms(20_000),
    Case::new(
        "fifo.small_blocking_write",
        &["fifo.write.small_blocking_waits_then_writes_whole"],
        small_blocking_write,
    ),
    Case::new("fifo.large_blocking_write", &["fifo.write.large_blocking_fills_as_room_appears"], large_blocking_write),
    Case::new(
        "fifo.nonblocking_writes",
        &["fifo.write.nonblock_large_partial_then_eagain", "fifo.write.nonblock_small_whole_or_eagain"],
        nonblocking_writes,
    ),
    Case::new("fifo.sigpipe", &["fifo.write.sigpipe_without_reader"], sigpipe),
    Case::new("fifo.blocking_flag_first_read", &["fifo.read.blocking_flag_only_first_read"], blocking_flag_first_read),
    Case::new(
        "fifo.shared_buffer",
        &["fifo.shared.one_buffer_for_all_openers", "fifo.shared.no_control_over_reader"],
        shared_buffer,
    ),
    Case::new("fifo.shell_echo", &["fifo.shell.echo_ends_when_read"], shell_echo).needs_commands(&["sh"]),
    Case::new(
        "fifo.server_client_example",
        &[
            "fifo.example.atomic_blocking",
            "fifo.example.large_blocking",
            "fifo.example.nblock_server",
            "fifo.example.nblock_client",
        ],
        server_client_example,
    ),
];

const RW_USER: Mode = Mode::S_IRUSR.union(Mode::S_IWUSR);

/// A new FIFO in the worker's directory.
fn new_fifo(ctx: &Ctx, name: &str) -> anyhow::Result<PathBuf> {
    let path = ctx.temp_path(name);
    mkfifo(&path, RW_USER).with_context(|| format!("mkfifo {}", path.display()))?;
    Ok(path)
}

fn open_fifo(path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    open(path, flags | OFlag::O_CLOEXEC, Mode::empty())
}

/// An end the worker opens where the case expects the other end to be open already: with
/// O_NONBLOCK, which is then cleared. A kernel that broke that expectation answers (ENXIO for a
/// writer without a reader) instead of keeping the worker asleep in openat until the watchdog.
fn open_without_waiting(path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let fd = open_fifo(path, flags | OFlag::O_NONBLOCK)?;
    clear_nonblocking(&fd)?;
    Ok(fd)
}

/// Both ends of a FIFO, blocking, opened without waiting: the read end first.
fn open_both(path: &Path) -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let r = open_without_waiting(path, OFlag::O_RDONLY).context("open read end")?;
    let w = open_without_waiting(path, OFlag::O_WRONLY).context("open write end")?;
    Ok((r, w))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A read of at most `max` bytes, as the report shows it: the text or "-1 ERRNO". After the
/// first read (which may block), whatever else is already waiting is read too: a kernel may
/// return a read short, and these claims are about content, order and end of file, not about
/// how many reads the bytes take (Linux returns them in one, so nothing more is waiting).
fn read_obs(fd: &impl AsFd, max: usize) -> String {
    let mut buf = vec![0u8; max];
    let mut n = match read(fd, &mut buf) {
        Ok(n) => n,
        Err(e) => return failed(e),
    };
    while n > 0 && n < max && proc::poll_readable(fd.as_fd(), std::time::Duration::ZERO).unwrap_or(false) {
        match read(fd, &mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(more) => n += more,
        }
    }
    format!("{n} {:?}", text(&buf[..n]))
}

fn file_type_letter(path: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new("ls").arg("-ld").arg(path).output().context("ls -ld")?;
    Ok(text(&out.stdout).chars().next().map(String::from).unwrap_or_default())
}

fn is_fifo(mode: libc::mode_t) -> bool {
    SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) == SFlag::S_IFIFO
}

fn mkfifo_makes_fifo(ctx: &mut Ctx) -> anyhow::Result<()> {
    let made = ctx.temp_path("made");
    let (modes, _) = ctx.in_child(|| {
        let mut out = Vec::new();
        for (mask, name) in [(0o022, "umask022"), (0, "umask0")] {
            umask(Mode::from_bits_truncate(mask));
            let p = made.with_extension(name);
            let r = mkfifo(&p, Mode::from_bits_truncate(0o666));
            out.push((call(&r), stat(&p).map(|s| s.st_mode & 0o7777).unwrap_or(u32::MAX)));
        }
        out
    })?;
    let modes = modes.unwrap_or_default();
    ctx.observe("mkfifo(0666) under umask 022, under umask 0: (return, permission bits)", modes_octal(&modes));

    let path = ctx.temp_path("fifo");
    let created = mkfifo(&path, RW_USER);
    let st = stat(&path);
    let letter = file_type_letter(&path)?;
    ctx.observe("mkfifo(path, 0600)", call(&created));
    ctx.observe("S_ISFIFO(st_mode)", st.map(|s| is_fifo(s.st_mode)).unwrap_or(false));
    ctx.observe("ls -ld type letter", &letter);
    ctx.check(
        "fifo.mkfifo.creates_fifo_file",
        created.is_ok() && st.is_ok_and(|s| is_fifo(s.st_mode)) && letter == "p",
        "mkfifo returned 0; stat says S_ISFIFO and ls -l shows p",
        "mkfifo did not make a file of type p (see observation)",
    );
    let perms: Vec<u32> = modes.iter().map(|(_, m)| *m).collect();
    ctx.check(
        "fifo.mkfifo.mode_sets_permissions",
        perms == [0o644, 0o666],
        "0666 became 0644 under umask 022 and 0666 under umask 0: mode is the permission bits less the umask",
        format!("permission bits {:?}", modes_octal(&modes)),
    );

    let again = mkfifo(&path, RW_USER);
    let missing = mkfifo(&ctx.temp_path("no-such-dir/fifo"), RW_USER);
    ctx.observe("mkfifo on the existing name", call(&again));
    ctx.observe("mkfifo in a missing directory", call(&missing));
    ctx.check(
        "fifo.mkfifo.returns_zero_or_errno",
        created.is_ok() && again == Err(Errno::EEXIST) && missing == Err(Errno::ENOENT),
        "0 on success; -1 EEXIST for an existing name, -1 ENOENT for a missing directory",
        "mkfifo's return values differ from 0 / -1 with errno (see observation)",
    );
    Ok(())
}

fn modes_octal(modes: &[(serde_json::Value, u32)]) -> Vec<String> {
    modes.iter().map(|(r, m)| format!("{r} {m:04o}")).collect()
}

fn shell_mkfifo(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = ctx.temp_path("from-shell");
    let status = std::process::Command::new("mkfifo").arg(&path).status().context("mkfifo command")?;
    let st = stat(&path);
    let letter = file_type_letter(&path)?;
    ctx.observe("mkfifo <path> exit status", status.code());
    ctx.observe("S_ISFIFO(st_mode)", st.map(|s| is_fifo(s.st_mode)).unwrap_or(false));
    ctx.observe("ls -ld type letter", &letter);
    ctx.check(
        "fifo.mkfifo.shell_command",
        status.success() && st.is_ok_and(|s| is_fifo(s.st_mode)) && letter == "p",
        "the mkfifo command exited 0 and made a FIFO (S_ISFIFO, ls shows p)",
        "the mkfifo command did not make a FIFO (see observation)",
    );
    Ok(())
}

/// mkfifoat through libc, so that dirfd can be any number, valid or not, and mode any bits.
fn raw_mkfifoat(dirfd: i32, path: &Path, mode: libc::mode_t) -> nix::Result<i32> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: c is a valid NUL-terminated string; dirfd is only a number to the kernel.
    Errno::result(unsafe { libc::mkfifoat(dirfd, c.as_ptr(), mode) })
}

fn exists_fifo(path: &Path) -> bool {
    stat(path).is_ok_and(|s| is_fifo(s.st_mode))
}

fn mkfifoat_dirfd(ctx: &mut Ctx) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let work = ctx.workdir().to_path_buf();
    let cwd = work.join("cwd");
    let other = work.join("other");
    std::fs::create_dir(&cwd)?;
    std::fs::create_dir(&other)?;
    let other_dir = open(&other, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let regular = work.join("regular");
    std::fs::write(&regular, b"")?;
    let regular_fd = open(&regular, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    let (other_raw, regular_raw) = (other_dir.as_raw_fd(), regular_fd.as_raw_fd());

    // In a child, so the case can choose the working directory without changing the worker's.
    let (report, _) = ctx.in_child(|| {
        if std::env::set_current_dir(&cwd).is_err() {
            return None;
        }
        let abs_with_file = work.join("abs-file-dirfd");
        let abs_with_bad = work.join("abs-bad-dirfd");
        let abs = (
            call(&raw_mkfifoat(regular_raw, &abs_with_file, 0o600)),
            exists_fifo(&abs_with_file),
            call(&raw_mkfifoat(-1, &abs_with_bad, 0o600)),
            exists_fifo(&abs_with_bad),
        );
        let rel_cwd = call(&raw_mkfifoat(libc::AT_FDCWD, Path::new("rel-cwd"), 0o600));
        let at_cwd = (rel_cwd, exists_fifo(&cwd.join("rel-cwd")), exists_fifo(&other.join("rel-cwd")));
        let rel_dir = call(&raw_mkfifoat(other_raw, Path::new("rel-dir"), 0o600));
        let in_dir = (rel_dir, exists_fifo(&other.join("rel-dir")), exists_fifo(&cwd.join("rel-dir")));
        let not_dir = call(&raw_mkfifoat(regular_raw, Path::new("rel-file"), 0o600));
        Some((abs, at_cwd, in_dir, not_dir))
    })?;
    let Some((abs, at_cwd, in_dir, not_dir)) = report.flatten() else {
        ctx.decide(
            "fifo.mkfifoat.absolute_path_ignores_dirfd",
            Decision::skipped("could not be checked: the child could not chdir"),
        );
        ctx.decide(
            "fifo.mkfifoat.at_fdcwd_uses_cwd",
            Decision::skipped("could not be checked: the child could not chdir"),
        );
        ctx.decide(
            "fifo.mkfifoat.relative_to_dirfd",
            Decision::skipped("could not be checked: the child could not chdir"),
        );
        return Ok(());
    };
    ctx.observe("absolute path, dirfd = a regular file's fd: (return, FIFO made)", [&abs.0, &abs.1.into()]);
    ctx.observe("absolute path, dirfd = -1: (return, FIFO made)", [&abs.2, &abs.3.into()]);
    ctx.observe("\"rel-cwd\", AT_FDCWD: (return, in cwd, in the other dir)", (&at_cwd.0, at_cwd.1, at_cwd.2));
    ctx.observe("\"rel-dir\", dirfd of another dir: (return, there, in cwd)", (&in_dir.0, in_dir.1, in_dir.2));
    ctx.observe("\"rel-file\", dirfd of a regular file", &not_dir);
    let zero = serde_json::json!(0);
    ctx.check(
        "fifo.mkfifoat.absolute_path_ignores_dirfd",
        abs.0 == zero && abs.1 && abs.2 == zero && abs.3,
        "with an absolute path mkfifoat made the FIFO whether dirfd was a regular file's fd or -1",
        "an absolute path did not make mkfifoat ignore dirfd (see observation)",
    );
    ctx.check(
        "fifo.mkfifoat.at_fdcwd_uses_cwd",
        at_cwd == (zero.clone(), true, false),
        "AT_FDCWD + a relative path made the FIFO in the working directory",
        "AT_FDCWD did not resolve against the working directory (see observation)",
    );
    ctx.check(
        "fifo.mkfifoat.relative_to_dirfd",
        in_dir == (zero, true, false) && not_dir == serde_json::json!("-1 ENOTDIR"),
        "a directory fd + a relative path made the FIFO in that directory; a regular file's fd gave ENOTDIR",
        "mkfifoat did not resolve against the directory descriptor (see observation)",
    );
    Ok(())
}

fn mkfifoat_open_flags_as_mode(ctx: &mut Ctx) -> anyhow::Result<()> {
    let work = ctx.workdir().to_path_buf();
    let flags = [
        ("O_RDONLY", libc::O_RDONLY),
        ("O_WRONLY", libc::O_WRONLY),
        ("O_WRONLY|O_NONBLOCK", libc::O_WRONLY | libc::O_NONBLOCK),
    ];
    let (report, _) = ctx.in_child(|| {
        umask(Mode::empty());
        flags
            .iter()
            .map(|(name, flag)| {
                let p = work.join(name.replace('|', "+"));
                let made = raw_mkfifoat(libc::AT_FDCWD, &p, *flag as libc::mode_t);
                let bits = stat(&p).map(|s| format!("{:04o}", s.st_mode & 0o7777)).unwrap_or_default();
                // The mode does not make the FIFO non-blocking: a write open with no reader still
                // has to be asked for O_NONBLOCK to return at once.
                let open_plain = call(&open_fifo(&p, OFlag::O_WRONLY | OFlag::O_NONBLOCK).map(|_| "opened"));
                (name.to_string(), call(&made.map(drop)), bits, open_plain)
            })
            .collect::<Vec<_>>()
    })?;
    let report = report.unwrap_or_default();
    for (name, made, bits, open_nb) in &report {
        ctx.observe(
            format!("mkfifoat(AT_FDCWD, path, {name}) under umask 0"),
            format!("{made}, permission bits {bits}"),
        );
        ctx.observe(format!("  {name}: then open(O_WRONLY|O_NONBLOCK), no reader"), open_nb);
    }
    let bits: Vec<&str> = report.iter().map(|r| r.2.as_str()).collect();
    let as_permissions =
        bits == ["0000", "0001", format!("{:04o}", (libc::O_WRONLY | libc::O_NONBLOCK) & 0o7777).as_str()];
    ctx.check(
        "fifo.mkfifoat.mode_is_open_flags",
        !as_permissions && !bits.is_empty(),
        "mkfifoat treated the open flags as an open mode",
        format!(
            "mode is permission bits, not an open mode: O_RDONLY gave {}, O_WRONLY {}, O_WRONLY|O_NONBLOCK {} (O_NONBLOCK = 04000 = S_ISUID)",
            bits.first().unwrap_or(&"?"),
            bits.get(1).unwrap_or(&"?"),
            bits.get(2).unwrap_or(&"?")
        ),
    );
    Ok(())
}

fn data_not_on_disk(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    write(&w, &[b'd'; 3000])?;
    let queued = fionread(&r)?;
    let by_path = stat(&path)?;
    let by_fd = fstat(&r)?;
    ctx.observe("FIONREAD after writing 3000 bytes", queued);
    ctx.observe("stat(path): st_size, st_blocks", (by_path.st_size, by_path.st_blocks));
    ctx.observe("fstat(read end): st_size, st_blocks", (by_fd.st_size, by_fd.st_blocks));
    ctx.check(
        "fifo.nature.buffer_in_kernel_not_on_disk",
        queued == 3000 && by_path.st_size == 0 && by_path.st_blocks == 0 && by_fd.st_size == 0,
        "3000 bytes queued in the kernel while the file itself stayed size 0 with 0 blocks",
        "the FIFO's data showed in the file's size or blocks (see observation)",
    );
    Ok(())
}

fn unrelated_processes(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let p = path.to_string_lossy().into_owned();
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // Two exec'd programs, each given only the FIFO's name: nothing is inherited but stdio.
    let mut writer = ctx.spawn(|| {
        proc::close_from(3);
        exec(&["sh", "-c", "printf 'hello from sh' > \"$1\"", "sh", &p])
    })?;
    let mut reader = ctx.spawn(|| {
        if nix::unistd::dup2_stdout(&out_w).is_err() {
            return 126;
        }
        proc::close_from(3);
        exec(&["cat", &p])
    })?;
    drop(out_w);
    let got = proc::read_to_end_within(&out_r, ctx.wait_limit())?;
    let exits = (writer.wait_exit(ctx.wait_limit())?, reader.wait_exit(ctx.wait_limit())?);
    ctx.observe("cat <fifo> printed", text(&got));
    ctx.observe("exits (sh, cat)", exits);
    ctx.check(
        "fifo.nature.unrelated_processes",
        got == b"hello from sh" && exits == (Exit::Code(0), Exit::Code(0)),
        "two separately exec'd programs sharing no descriptor passed data through the FIFO's name",
        "the data did not pass between the two programs (see observation)",
    );
    Ok(())
}

fn half_duplex(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    let mut buf = [0u8; 8];
    let read_on_write_end = read(&w, &mut buf);
    let write_on_read_end = write(&r, b"x");
    ctx.observe("read on the O_WRONLY end", call(&read_on_write_end));
    ctx.observe("write on the O_RDONLY end", call(&write_on_read_end));
    drop((r, w));

    // Two processes that both read and write one FIFO: P speaks, then P reads its own words back.
    let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let mut other = ctx.spawn(|| {
        let Ok(_both) = open_fifo(&path, OFlag::O_RDWR) else { return 2 };
        let _ = write(&ready_w, b"r");
        // Keeps its read-write end open, reading nothing, until killed.
        nix::unistd::pause();
        0
    })?;
    let ready = read_some(&ready_r, 1, ctx.wait_limit()).is_ok();
    let mine = open_fifo(&path, OFlag::O_RDWR | OFlag::O_NONBLOCK)?;
    write(&mine, b"from P")?;
    let back = read_obs(&mine, 64);
    other.signal(Signal::SIGKILL)?;
    other.wait_exit(ctx.wait_limit())?;
    ctx.observe("Q has the FIFO open read-write", ready);
    ctx.observe("P writes \"from P\" into the FIFO that Q also has open read-write, then P reads", &back);
    ctx.check(
        "fifo.nature.half_duplex",
        read_on_write_end == Err(Errno::EBADF) && write_on_read_end == Err(Errno::EBADF) && ready && back == "6 \"from P\"",
        "each end works one way (EBADF the other way), and a process using one FIFO both ways read its own message back: one stream, not two channels",
        "the FIFO behaved as two independent directions (see observation)",
    );
    Ok(())
}

fn first_in_first_out(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    for part in [&b"first,"[..], b"second,", b"third"] {
        write(&w, part)?;
    }
    let got = read_obs(&r, 64);
    ctx.observe("write \"first,\", \"second,\", \"third\"; read(64)", &got);
    ctx.check(
        "fifo.order.first_in_first_out",
        got == "18 \"first,second,third\"",
        "the bytes came out in the order written",
        "the bytes came out in another order (see observation)",
    );
    Ok(())
}

fn file_calls(ctx: &mut Ctx) -> anyhow::Result<()> {
    use nix::unistd::{lseek, Whence};
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    let wrote = write(&w, b"ordinary");
    let got = read_obs(&r, 64);
    let seek = lseek(&r, 0, Whence::SeekSet);
    let mut buf = [0u8; 4];
    let pread = nix::sys::uio::pread(&r, &mut buf, 0);
    let closed = nix::unistd::close(w);
    ctx.observe("open(O_RDONLY|O_NONBLOCK), open(O_WRONLY)", "two descriptors");
    ctx.observe("write(\"ordinary\")", call(&wrote));
    ctx.observe("read(64)", &got);
    ctx.observe("lseek(0, SEEK_SET)", call(&seek));
    ctx.observe("pread(4, offset 0)", call(&pread));
    ctx.observe("close(write end)", call(&closed));
    let plain_ok = wrote == Ok(8) && got == "8 \"ordinary\"" && closed.is_ok();
    let positioned_ok = seek.is_ok() && pread.is_ok();
    let decision = match (plain_ok, positioned_ok) {
        (true, true) => Decision::holds("open, read, write, close, lseek and pread all worked as on a regular file"),
        (true, false) => Decision::partial(format!(
            "holds for open, read, write and close; not for positioning: lseek gave {} and pread {}",
            call(&seek),
            call(&pread)
        )),
        _ => Decision::refuted("the ordinary calls did not work on the FIFO (see observation)"),
    };
    ctx.decide("fifo.nature.file_calls", decision);
    Ok(())
}

fn unlink_while_open(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    write(&w, b"before ")?;
    let unlinked = unlink(&path);
    let name_gone = stat(&path).err();
    write(&w, b"after")?;
    let got = read_obs(&r, 64);
    ctx.observe("unlink(path)", call(&unlinked));
    ctx.observe("stat(path) afterwards", name_gone.map(failed));
    ctx.observe("read after writing \"before \" (pre-unlink) and \"after\" (post-unlink)", &got);
    ctx.check(
        "fifo.unlink.removes_name_only",
        unlinked.is_ok() && name_gone == Some(Errno::ENOENT) && got == "12 \"before after\"",
        "unlink returned 0 and the name was gone (ENOENT), while the open ends kept passing data",
        "unlink did not remove only the name (see observation)",
    );
    Ok(())
}

fn buffer_freed(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let fifo = path.clone();
    // The only opener writes and exits with its data unread.
    let (_, exit) = ctx.in_child(move || {
        let Ok(both) = open_fifo(&fifo, OFlag::O_RDWR) else { return "open failed".to_string() };
        let queued = write(&both, b"left behind").map(|_| fionread(&both).unwrap_or(0));
        format!("wrote, {} bytes queued", queued.unwrap_or(0))
    })?;
    let r = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let queued = fionread(&r)?;
    let got = read_obs(&r, 64);
    ctx.observe("writer (the only opener) exit", exit);
    ctx.observe("next opener: FIONREAD", queued);
    ctx.observe("next opener: read(64)", &got);
    ctx.check(
        "fifo.buffer.freed_when_processes_end",
        queued == 0 && got == "0 \"\"",
        "the 11 bytes left when the last opener exited were gone: the next opener found the FIFO empty",
        "data outlived every process that had the FIFO open (see observation)",
    );
    Ok(())
}

/// The return of an open, as the report shows it: "fd" or "-1 ERRNO".
fn opened(r: &nix::Result<OwnedFd>) -> serde_json::Value {
    call(&r.as_ref().map(|_| "fd").map_err(|e| *e))
}

/// Forks a child that opens `path` with blocking `flags`, proves it asleep in openat, then lets
/// `release` open the other end; returns (proof, what the child's open returned, the other end).
fn blocked_open(
    ctx: &mut Ctx,
    path: &Path,
    flags: OFlag,
    release: OFlag,
) -> anyhow::Result<(anyhow::Result<proc::Blocked>, Option<serde_json::Value>, nix::Result<OwnedFd>)> {
    let limit = ctx.wait_limit();
    let fifo = path.to_path_buf();
    let mut child = ctx.spawn_reporting(move || opened(&open_fifo(&fifo, flags)))?;
    let blocked = child.child().wait_blocked(libc::SYS_openat, limit);
    // The sleeping opener counts as the other end, so this open need not wait; if the kernel
    // did not make it sleep, it may be gone, and this open must not wait for it either.
    let other = open_without_waiting(path, release);
    let (got, _) = child.finish(limit)?;
    Ok((blocked, got, other))
}

fn open_rules(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;

    let nb_read_alone = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK);
    let nb_write_with_reader = open_fifo(&path, OFlag::O_WRONLY | OFlag::O_NONBLOCK);
    let nb_read_with_writer = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK);
    ctx.observe("open(O_RDONLY|O_NONBLOCK), no writer", opened(&nb_read_alone));
    ctx.observe("open(O_WRONLY|O_NONBLOCK), a reader present", opened(&nb_write_with_reader));
    ctx.observe("open(O_RDONLY|O_NONBLOCK), a writer present", opened(&nb_read_with_writer));
    let nb_reads_ok = nb_read_alone.is_ok() && nb_read_with_writer.is_ok();
    let nb_write_with_reader_ok = nb_write_with_reader.is_ok();
    drop((nb_read_alone, nb_write_with_reader, nb_read_with_writer));
    let nb_write_alone = open_fifo(&path, OFlag::O_WRONLY | OFlag::O_NONBLOCK);
    ctx.observe("open(O_WRONLY|O_NONBLOCK), no reader", opened(&nb_write_alone));
    ctx.check(
        "fifo.open.nonblock_read_always_succeeds",
        nb_reads_ok,
        "a non-blocking read open returned a descriptor both with and without a writer",
        "a non-blocking read open failed (see observation)",
    );
    ctx.check(
        "fifo.open.nonblock_write_enxio_without_reader",
        nb_write_with_reader_ok && nb_write_alone.as_ref().err() == Some(&Errno::ENXIO),
        "a non-blocking write open succeeded with a reader and failed with -1 ENXIO without one",
        "a non-blocking write open did not follow the reader rule (see observation)",
    );
    drop(nb_write_alone);

    let (read_blocked, read_got, writer) = blocked_open(ctx, &path, OFlag::O_RDONLY, OFlag::O_WRONLY)?;
    ctx.observe("open(O_RDONLY), no writer", blocked_obs(&read_blocked));
    ctx.observe("  after another process opened O_WRONLY: that open returned", opened(&writer));
    ctx.observe("  and the sleeping read open returned", &read_got);
    drop(writer);
    let fd = serde_json::json!("fd");
    ctx.check(
        "fifo.open.blocking_read_waits_for_writer",
        read_blocked.is_ok() && read_got.as_ref() == Some(&fd),
        "the read open slept in openat until a writer opened, then returned a descriptor",
        "a blocking read open did not wait for a writer (see observation)",
    );

    let (write_blocked, write_got, reader) = blocked_open(ctx, &path, OFlag::O_WRONLY, OFlag::O_RDONLY)?;
    ctx.observe("open(O_WRONLY), no reader", blocked_obs(&write_blocked));
    ctx.observe("  after another process opened O_RDONLY: that open returned", opened(&reader));
    ctx.observe("  and the sleeping write open returned", &write_got);
    drop(reader);
    ctx.check(
        "fifo.open.blocking_write_waits_for_reader",
        write_blocked.is_ok() && write_got.as_ref() == Some(&fd),
        "the write open slept in openat until a reader opened, then returned a descriptor",
        "a blocking write open did not wait for a reader (see observation)",
    );

    // Linux's O_RDWR: one open holds both ends, so nothing waits and a process can talk to itself.
    let (rdwr, _) = ctx.in_child(|| {
        let Ok(both) = open_fifo(&path, OFlag::O_RDWR) else { return "open(O_RDWR) failed".to_string() };
        let _ = write(&both, b"to myself");
        read_obs(&both, 64)
    })?;
    ctx.observe("open(O_RDWR) with no other opener, write \"to myself\", read(64)", &rdwr);
    let both_wait = read_blocked.is_ok() && write_blocked.is_ok();
    let rdwr_alone = rdwr.as_deref() == Some("9 \"to myself\"");
    let decision = match (both_wait, rdwr_alone) {
        (true, true) => Decision::partial(
            "holds for O_RDONLY and O_WRONLY opens, each of which waited for the other end; \
             an O_RDWR open (Linux, unspecified by POSIX) holds both ends at once, returns at once and moves data",
        ),
        (true, false) => {
            Decision::holds("each one-ended open waited for the other end, and O_RDWR did not move data alone")
        }
        _ => Decision::refuted("a one-ended blocking open did not wait for the other end (see observation)"),
    };
    ctx.decide("fifo.open.transfer_needs_both_ends", decision);
    Ok(())
}

fn read_rules(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    let r_nb = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let eagain = read_obs(&r_nb, 64);
    ctx.observe("non-blocking read, writer open, FIFO empty", &eagain);

    // The reader reports its first read on a side channel before making its second, so the
    // second proof of sleep cannot be the first read still waking up.
    let (first_r, first_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let w_raw = std::os::fd::AsRawFd::as_raw_fd(&w);
    let mut reader = ctx.spawn_reporting(move || {
        // SAFETY: the child's inherited copy of the write end must go, or it never sees EOF.
        unsafe { libc::close(w_raw) };
        let first = read_obs(&r, 64);
        let _ = write(&first_w, first.as_bytes());
        read_obs(&r, 64)
    })?;
    let first_blocked = reader.child().wait_blocked(libc::SYS_read, limit);
    write(&w, b"data")?;
    let first = read_text(&first_r, 256, limit).unwrap_or_else(|e| e.to_string());
    let second_blocked = reader.child().wait_blocked(libc::SYS_read, limit);
    drop(w);
    let (second, exit) = reader.finish(limit)?;
    ctx.observe("blocking read, writer open, FIFO empty", blocked_obs(&first_blocked));
    ctx.observe("  after write(\"data\") it returned", &first);
    ctx.observe("next blocking read, writer still open", blocked_obs(&second_blocked));
    ctx.observe("  after the last writer closed it returned", &second);
    ctx.observe("reader exit", exit);

    // Remaining data first, then end of file; and the unfinished sentence of 004:384.
    let (r2, w2) = open_both(&path)?;
    write(&w2, b"rest")?;
    drop(w2);
    let rest = read_obs(&r2, 64);
    let eof = read_obs(&r2, 64);
    let no_writer_nb = read_obs(&r_nb, 64);
    ctx.observe("write \"rest\", close the writer, read, read", [&rest, &eof]);
    ctx.observe("non-blocking read, no writer, FIFO empty (004:384)", &no_writer_nb);

    ctx.check(
        "fifo.read.blocks_when_empty_with_writer",
        first_blocked.is_ok() && first == "4 \"data\"",
        "the reader slept in read on the empty FIFO and woke with \"data\" when it was written",
        "a read of an empty FIFO with a writer did not block-then-wake (see observation)",
    );
    let zero = "0 \"\"";
    ctx.check(
        "fifo.read.eof_after_writer_ends",
        second_blocked.is_ok() && second.as_deref() == Some(zero) && rest == "4 \"rest\"" && eof == zero,
        "a sleeping reader woke with 0 when the last writer closed; queued data came first, then 0",
        "the reader did not see end of file after the last writer (see observation)",
    );
    ctx.check(
        "fifo.read.nonblock_eagain_when_empty",
        eagain == "-1 EAGAIN",
        "the non-blocking read returned -1 EAGAIN",
        format!("the non-blocking read returned {eagain}"),
    );
    Ok(())
}

fn atomic_writes_property(ctx: &mut Ctx) -> anyhow::Result<()> {
    let dir = ctx.workdir().to_path_buf();
    let made = std::cell::Cell::new(0u32);
    let fifo_channel = || -> anyhow::Result<(OwnedFd, OwnedFd)> {
        made.set(made.get() + 1);
        let path = dir.join(format!("fifo-{}", made.get()));
        mkfifo(&path, RW_USER)?;
        let ends = open_both(&path)?;
        unlink(&path)?;
        Ok(ends)
    };
    let (outcome, records) = crate::pipe::concurrent_writers_property(ctx, &fifo_channel);
    ctx.observe("PIPE_BUF", libc::PIPE_BUF);
    ctx.observe("property: 2-4 concurrent writer processes on one FIFO, records of 6..=PIPE_BUF bytes", &outcome);
    ctx.observe("records checked", records);
    ctx.check(
        "fifo.write.atomic_up_to_pipe_buf",
        outcome.passed(),
        format!("{} runs, {records} records: no record was ever split or interleaved", outcome.cases),
        format!("a record was split or interleaved: {:?} ({:?})", outcome.counterexample, outcome.reason),
    );
    Ok(())
}

fn small_blocking_write(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    let cap = pipe_size(&r)?;
    let w_nb = open_fifo(&path, OFlag::O_WRONLY | OFlag::O_NONBLOCK)?;
    let filled = fill_nonblocking(&w_nb, 4096)?;
    let mut buf = vec![0u8; 4096];
    let took = read(&r, &mut buf[..100])?;
    let before = fionread(&r)?;
    let record = 2048;
    let mut writer = ctx.spawn_reporting(|| call(&write(&w, &[b'R'; 2048])))?;
    let blocked = writer.child().wait_blocked(libc::SYS_write, limit);
    let while_blocked = fionread(&r)?;
    let freed = read(&r, &mut buf)?;
    let (ret, _) = writer.finish(limit)?;
    let after = fionread(&r)?;
    crate::util::set_nonblocking(&r)?;
    let mut rest = vec![0u8; after];
    let got = read(&r, &mut rest).unwrap_or(0);
    let tail_whole = got == after && rest.ends_with(&[b'R'; 2048]) && rest[..after - record].iter().all(|&b| b == b'f');
    ctx.observe("capacity; filled with; then read", (cap, filled, took));
    ctx.observe(format!("blocking write of {record} bytes with {} free", cap - before), blocked_obs(&blocked));
    ctx.observe("queued before / while the writer slept", (before, while_blocked));
    ctx.observe("reader then took", freed);
    ctx.observe("write() returned", &ret);
    ctx.observe("queued after; the record is contiguous at the end", (after, tail_whole));
    ctx.check(
        "fifo.write.small_blocking_waits_then_writes_whole",
        blocked.is_ok() && while_blocked == before && ret == Some(serde_json::json!(record)) && tail_whole,
        format!(
            "with {} bytes free the {record}-byte write slept having written nothing, and wrote all {record} bytes in one piece once a read freed room",
            cap - before
        ),
        "the record was written in part, or without waiting (see observation)",
    );
    Ok(())
}

fn large_blocking_write(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = new_fifo(ctx, "fifo")?;
    let (r, w) = open_both(&path)?;
    let cap = pipe_size(&r)?;
    let total = cap + 8192;
    let mut writer = ctx.spawn_reporting(|| call(&write(&w, &vec![b'L'; total])))?;
    drop(w);
    let blocked = writer.child().wait_blocked(libc::SYS_write, limit);
    let while_blocked = fionread(&r)?;
    let mut received = 0;
    while received < total {
        match read_some(&r, 65536, limit) {
            Ok(b) if !b.is_empty() => received += b.len(),
            _ => break,
        }
    }
    let (ret, _) = writer.finish(limit)?;
    ctx.observe(
        format!("blocking write of capacity + 8192 = {total} bytes into the empty FIFO"),
        blocked_obs(&blocked),
    );
    ctx.observe("queued while the writer slept", while_blocked);
    ctx.observe("write() returned", &ret);
    ctx.observe("bytes the reader received", received);
    ctx.check(
        "fifo.write.large_blocking_fills_as_room_appears",
        blocked.is_ok() && while_blocked == cap && ret == Some(serde_json::json!(total)) && received == total,
        format!("{cap} of the {total} bytes were queued while the writer slept (not atomic); it returned {total} once all were written"),
        "the large write did not fill-then-complete (see observation)",
    );
    Ok(())
}

fn nonblocking_writes(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)?.unwrap_or(4096) as usize;
    let path = new_fifo(ctx, "fifo")?;
    let fresh = |path: &Path| -> anyhow::Result<(OwnedFd, OwnedFd, usize)> {
        let (r, w) = open_both(path)?;
        crate::util::set_nonblocking(&w)?;
        let cap = pipe_size(&r)?;
        Ok((r, w, cap))
    };
    let large = libc::PIPE_BUF + 1024;

    // Whole pages free: a large write fills them and returns the partial count, then EAGAIN.
    let (r, w, cap) = fresh(&path)?;
    let prefill = write(&w, &vec![b'p'; cap - page]);
    let partial = write(&w, &vec![b'L'; large]);
    let full = write(&w, &vec![b'L'; large]);
    let queued = fionread(&r)?;
    ctx.observe(format!("prefill capacity - one page ({})", cap - page), call(&prefill));
    ctx.observe(format!("non-blocking write({large}) with one page free"), call(&partial));
    ctx.observe(format!("non-blocking write({large}) again, FIFO full"), call(&full));
    ctx.observe("queued", queued);
    drop((r, w));

    // Free bytes inside the last page only.
    let (r, w, cap) = fresh(&path)?;
    let odd = cap - 1000;
    write(&w, &vec![b'p'; odd])?;
    let into_last_page = write(&w, &vec![b'L'; large]);
    ctx.observe(
        format!("prefill {odd} (1000 bytes free, all in the last page), write({large})"),
        call(&into_last_page),
    );

    // Small writes on the same FIFO: 2048 does not fit in the 1000 free bytes, 1000 does.
    let small_no_room = write(&w, &[b's'; 2048]);
    let unchanged = fionread(&r)? == odd;
    let small_fits = write(&w, &[b's'; 1000]);
    ctx.observe("write(2048) with 1000 free", call(&small_no_room));
    ctx.observe("  queue unchanged", unchanged);
    ctx.observe("write(1000) with 1000 free", call(&small_fits));
    drop((r, w));
    let (_r, w, _) = fresh(&path)?;
    let small_empty = write(&w, &[b's'; 2048]);
    ctx.observe("write(2048) into the empty FIFO", call(&small_empty));

    let whole_pages_ok = partial == Ok(page) && full == Err(Errno::EAGAIN) && queued == cap;
    let decision = match (whole_pages_ok, into_last_page) {
        (true, Ok(1000)) => Decision::holds("the large write filled the free space, returned the partial count, then EAGAIN"),
        (true, Err(Errno::EAGAIN)) => Decision::partial(format!(
            "holds when whole pages are free ({page} free: returned {page}, then EAGAIN); free bytes inside the last page are not filled: with 1000 free the {large}-byte write gave -1 EAGAIN, not 1000"
        )),
        _ => Decision::refuted("a large non-blocking write did not fill the free space then fail with EAGAIN (see observation)"),
    };
    ctx.decide("fifo.write.nonblock_large_partial_then_eagain", decision);
    ctx.check(
        "fifo.write.nonblock_small_whole_or_eagain",
        small_no_room == Err(Errno::EAGAIN) && unchanged && small_fits == Ok(1000) && small_empty == Ok(2048),
        "2048 bytes with 1000 free gave -1 EAGAIN and wrote nothing; 1000 with 1000 free and 2048 into an empty FIFO were written whole",
        "a small non-blocking write was split or refused though it fit (see observation)",
    );
    Ok(())
}

fn sigpipe(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = new_fifo(ctx, "fifo")?;
    let (_, exit) = ctx.in_child(|| {
        let Ok((r, w)) = open_both(&path) else { return "open failed".to_string() };
        drop(r);
        call(&write(&w, b"nobody reads")).to_string()
    })?;
    ctx.observe("write after the only reader closed", exit);
    ctx.check(
        "fifo.write.sigpipe_without_reader",
        exit.signal() == Some("SIGPIPE"),
        "the writer was killed by SIGPIPE",
        format!("the writer ended with {exit}"),
    );
    Ok(())
}

fn blocking_flag_first_read(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = new_fifo(ctx, "fifo")?;
    let (first_r, first_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let fifo = path.clone();
    let mut reader = ctx.spawn_reporting(move || {
        let Ok(r) = open_fifo(&fifo, OFlag::O_RDONLY) else { return "open failed".to_string() };
        let first = read_obs(&r, 64);
        let _ = write(&first_w, first.as_bytes());
        read_obs(&r, 64)
    })?;
    let open_blocked = reader.child().wait_blocked(libc::SYS_openat, limit);
    let w = open_without_waiting(&path, OFlag::O_WRONLY)?;
    write(&w, b"one")?;
    let first = read_text(&first_r, 256, limit).unwrap_or_else(|e| e.to_string());
    let second_blocked = reader.child().wait_blocked(libc::SYS_read, limit);
    drop(w);
    let (second, _) = reader.finish(limit)?;
    ctx.observe("blocking open(O_RDONLY)", blocked_obs(&open_blocked));
    ctx.observe("first read after write(\"one\")", &first);
    ctx.observe("second read, FIFO empty, writer still open", blocked_obs(&second_blocked));
    ctx.observe("second read after the writer closed", &second);
    let decision = match (&second_blocked, first.as_str()) {
        (Ok(_), "3 \"one\"") => Decision::refuted(
            "the second read blocked again on the empty FIFO while the writer was open; it returned 0 only when the writer closed: the blocking flag applies to every read",
        ),
        (Err(_), "3 \"one\"") => Decision::holds("after the first read, a read of the empty FIFO did not block"),
        _ => Decision::skipped("could not be checked: the first read did not return the written data (see observation)"),
    };
    ctx.decide("fifo.read.blocking_flag_only_first_read", decision);
    Ok(())
}

fn shared_buffer(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = new_fifo(ctx, "fifo")?;
    let link = ctx.temp_path("fifo-link");
    std::fs::hard_link(&path, &link)?;
    let r = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let mut writers = Vec::new();
    for (name, msg) in [(&path, "[by name]"), (&link, "[by link]")] {
        let p = name.clone();
        writers.push(ctx.spawn(move || match open_fifo(&p, OFlag::O_WRONLY) {
            Ok(w) if write(&w, msg.as_bytes()).is_ok() => 0,
            _ => 1,
        })?);
    }
    let exits: Vec<Exit> = writers.iter_mut().map(|c| c.wait_exit(limit)).collect::<anyhow::Result<_>>()?;
    let mut got = read_obs(&r, 64);
    got = got.split_once(' ').map(|(_, t)| t.trim_matches('"').to_string()).unwrap_or(got);
    let mut parts: Vec<&str> = got.split_inclusive(']').collect();
    parts.sort();
    ctx.observe("two writer processes, one opening the name and one a hard link; exits", &exits);
    ctx.observe("one reader read (records sorted)", &parts);
    ctx.check(
        "fifo.shared.one_buffer_for_all_openers",
        parts == ["[by link]", "[by name]"] && exits.iter().all(|e| *e == Exit::Code(0)),
        "what both writers wrote, through the name and through a second link, came out of one reader's buffer",
        "the openers did not share one buffer (see observation)",
    );
    drop(r);

    // Two readers asleep on one FIFO, one record.
    let keep = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let w = open_without_waiting(&path, OFlag::O_WRONLY)?;
    drop(keep);
    let (report_r, report_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let mut readers = Vec::new();
    for index in 0..2 {
        let (p, report_w) = (path.clone(), &report_w);
        let w_raw = std::os::fd::AsRawFd::as_raw_fd(&w);
        readers.push(ctx.spawn(move || {
            // SAFETY: the inherited write end is this child's own copy.
            unsafe { libc::close(w_raw) };
            let Ok(r) = open_fifo(&p, OFlag::O_RDONLY) else { return 2 };
            let got = read_obs(&r, 64);
            let _ = write(report_w, format!("{index}:{got}").as_bytes());
            0
        })?);
    }
    drop(report_w);
    let both_asleep = readers.iter_mut().all(|c| c.wait_blocked(libc::SYS_read, limit).is_ok());
    write(&w, b"only one")?;
    let first = read_text(&report_r, 256, limit).unwrap_or_else(|e| e.to_string());
    let winner: Option<usize> = first.split(':').next().and_then(|i| i.parse().ok());
    let (delivered, loser_asleep) = match winner {
        Some(i) if i < 2 => {
            let winner_exit = readers[i].wait_exit(limit)?;
            let loser = readers[1 - i].wait_blocked(libc::SYS_read, limit).is_ok();
            (first.split_once(':').map(|(_, t)| t.to_string()).filter(|_| winner_exit == Exit::Code(0)), loser)
        }
        _ => (None, false),
    };
    ctx.observe("both readers asleep in read before the write", both_asleep);
    ctx.observe("after write(\"only one\"): the reader that woke got", &delivered);
    ctx.observe("the other reader still asleep in read", loser_asleep);
    ctx.check(
        "fifo.shared.no_control_over_reader",
        both_asleep && delivered.as_deref() == Some("8 \"only one\"") && loser_asleep,
        "the record went whole to one of the two sleeping readers, chosen by the kernel, while the other slept on; write() names no reader",
        "the record was not delivered to exactly one reader (see observation)",
    );
    Ok(())
}

fn shell_echo(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = new_fifo(ctx, "pip")?;
    let p = path.to_string_lossy().into_owned();
    let mut echo = ctx.spawn(|| {
        proc::close_from(3);
        exec(&["sh", "-c", "echo \"context hello world\" > \"$1\"", "sh", &p])
    })?;
    let blocked = echo.wait_blocked(libc::SYS_openat, limit);
    // A reader that opens and does not read.
    let r = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    // Bounded wait, named as such: if echo has not ended by then, it is waiting for the read.
    let ended_unread = echo.wait_exit(limit).ok();
    let unread = fionread(&r)?;
    let content = read_obs(&r, 64);
    let exit = match ended_unread {
        Some(e) => e,
        None => echo.wait_exit(limit)?,
    };
    ctx.observe("echo ... > pip, no reader yet", blocked_obs(&blocked));
    ctx.observe("after a reader opened and read nothing, echo ended (bounded wait)", ended_unread);
    ctx.observe("bytes unread at that point", unread);
    ctx.observe("then read", &content);
    ctx.observe("echo's exit", exit);
    let decision = if blocked.is_err() {
        Decision::refuted("echo did not wait for a reader at all (see observation)")
    } else if ended_unread == Some(Exit::Code(0)) && unread > 0 {
        Decision::partial(format!(
            "the write command does wait, but in open until a reader opens the FIFO, not until the content is read: echo finished with all {unread} bytes unread"
        ))
    } else if ended_unread.is_none() && exit == Exit::Code(0) {
        Decision::holds("echo finished only after its content was read")
    } else {
        Decision::skipped(format!("could not be checked: echo ended with {exit}"))
    };
    ctx.decide("fifo.shell.echo_ends_when_read", decision);
    Ok(())
}

/// 004's fifo_server, step by step as the C program does it (raw descriptors, so a failed open
/// leaves -1 and the write that follows fails the way the C program's does). Returns its output.
fn example_server(path: &Path, nblock: bool, bytes: usize) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in a temp path");
    let flag = libc::O_WRONLY | if nblock { libc::O_NONBLOCK } else { 0 };
    let buf = [42u8; 8192];
    // SAFETY: c is a valid path; buf outlives the write; fd is closed below when valid.
    unsafe {
        if libc::mkfifo(c.as_ptr(), 0o666) < 0 {
            out.push(format!("Create FIFO Error: {}", harness::obs::errno_name(Errno::last())));
        }
        let fd = libc::open(c.as_ptr(), flag);
        if fd < 0 {
            out.push(format!("Open FIFO Failed: {}", harness::obs::errno_name(Errno::last())));
        }
        let n = libc::write(fd, buf.as_ptr().cast(), bytes);
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EAGAIN {
                out.push("Try Later".to_string());
            }
            out.push(format!("Write FIFO Error: {}", harness::obs::errno_name(e)));
        } else {
            out.push(format!("Write {n} Bytes To FIFO"));
        }
        libc::unlink(c.as_ptr());
        if fd >= 0 {
            libc::close(fd);
        }
    }
    out
}

/// 004's fifo_client: `reads` iterations of its loop (the C loop sleeps a second between reads
/// and never ends; here the parent decides when each read happens).
fn example_client_reads(fd: &impl AsFd, bytes: usize, reads: usize) -> Vec<String> {
    let mut buf = vec![0u8; bytes];
    (0..reads)
        .map(|_| match read(fd, &mut buf) {
            Ok(n) => format!("Read {n} Bytes From FIFO"),
            Err(Errno::EAGAIN) => "NO DATA IN FIFO; Read FIFO Error: EAGAIN".to_string(),
            Err(e) => format!("Read FIFO Error: {}", harness::obs::errno_name(e)),
        })
        .collect()
}

/// The blocking build: the server starts first and must wait for the client.
fn example_blocking(
    ctx: &mut Ctx,
    path: &Path,
    (bytes_wr, bytes_rd): (usize, usize),
    reads: usize,
) -> anyhow::Result<(bool, Vec<String>, Vec<String>, bool)> {
    let limit = ctx.wait_limit();
    let fifo = path.to_path_buf();
    let mut server = ctx.spawn_reporting(move || example_server(&fifo, false, bytes_wr))?;
    // The server makes the FIFO, then sleeps in open until a client opens it.
    let waited = server.child().wait_blocked(libc::SYS_openat, limit).is_ok();
    let fifo = path.to_path_buf();
    let client = ctx.in_child(move || match open_fifo(&fifo, OFlag::O_RDONLY) {
        Ok(fd) => example_client_reads(&fd, bytes_rd, reads),
        Err(e) => vec![format!("Open FIFO Failed: {e}")],
    })?;
    let (server_out, _) = server.finish(limit)?;
    Ok((waited, server_out.unwrap_or_default(), client.0.unwrap_or_default(), path.exists()))
}

fn server_client_example(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let path = ctx.temp_path("fifo");

    let (waited, server, client, left) = example_blocking(ctx, &path, (2048, 1000), 5)?;
    ctx.observe("ATOMIC: server waited in open for the client", waited);
    ctx.observe("ATOMIC: server printed", &server);
    ctx.observe("ATOMIC: client's first five reads of 1000", &client);
    ctx.observe("ATOMIC: FIFO name left after the server", left);
    let read = |n: &[usize]| n.iter().map(|n| format!("Read {n} Bytes From FIFO")).collect::<Vec<_>>();
    ctx.check(
        "fifo.example.atomic_blocking",
        waited && server == ["Write 2048 Bytes To FIFO"] && client == read(&[1000, 1000, 48, 0, 0]) && !left,
        "the server waited in open for the client, wrote 2048 bytes and unlinked the FIFO; the client read 1000, 1000, 48, then 0 for good",
        "the ATOMIC build did not behave as the example shows (see observation)",
    );

    let (waited, server, client, _) = example_blocking(ctx, &path, (4096 + 1024, 4096 + 1024), 3)?;
    ctx.observe("default build: server printed", &server);
    ctx.observe("default build: client's first three reads of 5120", &client);
    ctx.check(
        "fifo.example.large_blocking",
        waited && server == ["Write 5120 Bytes To FIFO"] && client == read(&[5120, 0, 0]),
        "the server's single write() put all 5120 bytes in the FIFO and the client's first read took them all",
        "the 5120-byte build did not behave as the example shows (see observation)",
    );

    let fifo = path.clone();
    let (alone, _) = ctx.in_child(move || example_server(&fifo, true, 2048))?;
    let alone = alone.unwrap_or_default();
    ctx.observe("NBLOCK server, no client: printed", &alone);
    mkfifo(&path, RW_USER)?;
    let client_end = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let fifo = path.clone();
    let (with_client, _) = ctx.in_child(move || example_server(&fifo, true, 2048))?;
    let with_client = with_client.unwrap_or_default();
    let delivered = fionread(&client_end)?;
    drop(client_end);
    ctx.observe("NBLOCK server, a client has the FIFO open: printed", &with_client);
    ctx.observe("  bytes waiting for the client", delivered);
    ctx.check(
        "fifo.example.nblock_server",
        alone == ["Open FIFO Failed: ENXIO", "Write FIFO Error: EBADF"]
            && with_client == ["Create FIFO Error: EEXIST", "Write 2048 Bytes To FIFO"]
            && delivered == 2048,
        "without a client the open failed with ENXIO and the write on descriptor -1 with EBADF; with a client the 2048 bytes were written at once",
        "the NBLOCK server did not behave as described (see observation)",
    );

    // NBLOCK client: no server yet, then a server that has connected but not written, then gone.
    mkfifo(&path, RW_USER)?;
    let client = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK);
    ctx.observe("NBLOCK client open, no server", opened(&client));
    let client = client?;
    let before_server = example_client_reads(&client, 1000, 1);
    let (connected_r, connected_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let mut server = ctx.spawn(|| {
        let Ok(_w) = open_fifo(&path, OFlag::O_WRONLY | OFlag::O_NONBLOCK) else { return 2 };
        let _ = write(&connected_w, b"c");
        // Holds its end open, writing nothing, until killed.
        nix::unistd::pause();
        0
    })?;
    let connected = read_some(&connected_r, 1, limit).is_ok();
    let while_connected = example_client_reads(&client, 1000, 1);
    server.signal(Signal::SIGKILL)?;
    let server_exit = server.wait_exit(limit)?;
    let after_server = example_client_reads(&client, 1000, 1);
    ctx.observe("NBLOCK client read, no server ever", &before_server);
    ctx.observe("NBLOCK client read, server connected and silent", (&while_connected, connected));
    ctx.observe("NBLOCK client read, after the server exited", (&after_server, server_exit));
    ctx.check(
        "fifo.example.nblock_client",
        connected
            && while_connected == ["NO DATA IN FIFO; Read FIFO Error: EAGAIN"]
            && after_server == ["Read 0 Bytes From FIFO"],
        "the client opened at once without a server; with a silent server connected read gave -1 EAGAIN, after it left read returned 0",
        "the NBLOCK client did not behave as described (see observation)",
    );
    Ok(())
}

fn unlink_returns(ctx: &mut Ctx) -> anyhow::Result<()> {
    let path = ctx.temp_path("to-unlink");
    mkfifo(&path, Mode::from_bits_truncate(0o600))?;
    let first = unlink(&path);
    let again = unlink(&path);
    ctx.observe("unlink of a FIFO", call(&first));
    ctx.observe("unlink of the same name again (gone)", call(&again));
    ctx.check(
        "fifo.unlink.returns_zero_or_errno",
        first.is_ok() && again == Err(Errno::ENOENT),
        "unlink returned 0 for the FIFO's name, and -1 with errno ENOENT once the name was gone",
        "unlink's return values differ (see observation)",
    );
    Ok(())
}
