//! Memory mappings (note 003's questions and answers): what mmap and munmap return, shared and
//! private writes, offsets and lengths, access past the end, empty files, the open mode against
//! the protection as a whole matrix, and communication between processes.
//!
//! Accesses that may fault run in forked children, whose death by SIGSEGV or SIGBUS is the
//! observation. Files live in the worker's own directory.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use harness::obs::errno_name;
use harness::proc::Exit;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use proptest::prelude::*;

pub const CASES: &[Case] = &[
    // process_vm_readv is compiled only with CONFIG_CROSS_MEMORY_ATTACH (ENOSYS without it).
    Case::new("mmap.address_space_separate", &["mmap.address_space.separate"], address_space_separate)
        .needs_kernel(&["CROSS_MEMORY_ATTACH"]),
    Case::new(
        "mmap.basics",
        &["mmap.returns.address_or_map_failed", "mmap.addr.null_lets_kernel_choose", "mmap.prot.read_and_write"],
        basics,
    ),
    Case::new(
        "mmap.shared_and_private_writes",
        &["mmap.shared.writes_reach_file", "mmap.private.writes_do_not_reach_file"],
        shared_and_private_writes,
    ),
    Case::new(
        "mmap.munmap",
        &["mmap.munmap.returns_zero_or_minus_one", "mmap.munmap.moved_pointer_fails"],
        munmap_results,
    ),
    Case::new("mmap.offset_and_length", &["mmap.offset.page_multiple", "mmap.length.whole_pages"], offset_and_length),
    Case::new("mmap.close_fd_after_mmap", &["mmap.fd.close_after_mmap"], close_fd_after_mmap),
    Case::new("mmap.past_the_end", &["mmap.beyond.up_to_file_size"], past_the_end),
    Case::new("mmap.empty_file", &["mmap.empty_file.bus_error", "mmap.empty_file.truncate_first"], empty_file),
    Case::new(
        "mmap.open_mode_matrix",
        &[
            "mmap.open_mode.wronly_refused",
            "mmap.open_mode.rdonly_shared_write_refused",
            "mmap.open_mode.rights_within_open_mode",
        ],
        open_mode_matrix,
    )
    .timeout_ms(10_000),
    Case::new("mmap.error_cases", &["mmap.errors.many_cases"], error_cases),
    Case::new("mmap.unchecked_failure", &["mmap.failure.unchecked_pointer_crashes"], unchecked_failure),
    Case::new("mmap.related_processes", &["mmap.comm.related_processes"], related_processes),
    Case::new("mmap.unrelated_processes", &["mmap.comm.unrelated_processes"], unrelated_processes),
    Case::new("mmap.same_physical_memory", &["mmap.shared.same_physical_memory"], same_physical_memory)
        .needs_root("/proc/<pid>/pagemap shows page frame numbers only with CAP_SYS_ADMIN"),
];

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096) as usize
}

/// A mapping, removed when dropped. Reads and writes stay inside its length.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(addr: usize, len: usize, prot: i32, flags: i32, fd: i32, offset: i64) -> Result<Mapping, Errno> {
        // SAFETY: mmap does not touch memory the program uses unless MAP_FIXED is given, which
        // this module passes only over a reservation it made itself.
        let p = unsafe { libc::mmap(addr as *mut libc::c_void, len, prot, flags, fd, offset) };
        if p == libc::MAP_FAILED {
            Err(Errno::last())
        } else {
            Ok(Mapping { ptr: p.cast(), len })
        }
    }

    fn file(file: &impl AsRawFd, len: usize, prot: i32, flags: i32, offset: i64) -> Result<Mapping, Errno> {
        Mapping::new(0, len, prot, flags, file.as_raw_fd(), offset)
    }

    /// The same through the kernel's own mmap system call, bypassing libc: glibc refuses an
    /// offset that is not a page multiple itself (EINVAL) and never asks the kernel, whose rule
    /// is what the suite gates.
    fn file_by_syscall(file: &impl AsRawFd, len: usize, prot: i32, flags: i32, offset: i64) -> Result<Mapping, Errno> {
        let p = mmap_syscall(len, prot, flags, file.as_raw_fd(), offset);
        if p == libc::MAP_FAILED {
            Err(Errno::last())
        } else {
            Ok(Mapping { ptr: p.cast(), len })
        }
    }

    fn addr(&self) -> usize {
        self.ptr as usize
    }

    fn read(&self, at: usize, n: usize) -> Vec<u8> {
        assert!(at + n <= self.len, "read outside the mapping");
        // SAFETY: inside the mapping, which is readable where this is called.
        (0..n).map(|i| unsafe { self.ptr.add(at + i).read_volatile() }).collect()
    }

    fn write(&self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= self.len, "write outside the mapping");
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: inside the mapping, which is writable where this is called.
            unsafe { self.ptr.add(at + i).write_volatile(*b) };
        }
    }
}

/// mmap(NULL, len, prot, flags, fd, offset) as one system call. Where the call is the six-argument
/// mmap, the offset is in bytes; i386 and s390x keep that call as old_mmap, whose one argument is
/// the six values in memory (their mmap2, glibc's choice, takes the offset in pages and so
/// cannot carry a misaligned one).
fn mmap_syscall(len: usize, prot: i32, flags: i32, fd: i32, offset: i64) -> *mut libc::c_void {
    #[cfg(any(target_arch = "x86", target_arch = "s390x"))]
    {
        let args: [libc::c_ulong; 6] =
            [0, len as _, prot as _, flags as _, fd as libc::c_ulong, offset as libc::c_ulong];
        // SAFETY: old_mmap reads the six values from `args`; no address is fixed.
        let r = unsafe { libc::syscall(libc::SYS_mmap, args.as_ptr()) };
        r as *mut libc::c_void
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "s390x")))]
    {
        // SAFETY: no MAP_FIXED: the kernel picks an address the program does not use.
        let r = unsafe { libc::syscall(libc::SYS_mmap, 0usize, len, prot, flags, fd, offset) };
        r as *mut libc::c_void
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping what this value mapped; nothing else refers to it.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Writes at `addr` outside any Rust object: only in a child whose death is the observation.
fn poke(addr: usize, byte: u8) {
    // SAFETY: not safe by design; the caller is a child probing what the kernel does.
    unsafe { (addr as *mut u8).write_volatile(byte) }
}

fn peek(addr: usize) -> u8 {
    // SAFETY: as `poke`.
    unsafe { (addr as *const u8).read_volatile() }
}

/// A file in the worker's directory with these contents, open read-write.
fn file_with(ctx: &Ctx, name: &str, contents: &[u8]) -> anyhow::Result<(PathBuf, File)> {
    let path = ctx.temp_path(name);
    std::fs::write(&path, contents)?;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    Ok((path, file))
}

fn read_file_at(file: &File, at: u64, n: usize) -> String {
    let mut buf = vec![0u8; n];
    match file.read_at(&mut buf, at) {
        Ok(got) => String::from_utf8_lossy(&buf[..got]).into_owned(),
        Err(e) => e.to_string(),
    }
}

fn result_obs<T>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(_) => "mapped".to_string(),
        Err(e) => format!("MAP_FAILED {}", errno_name(*e)),
    }
}

/// Runs `body` in a child with no core dumps; its exit is the observation.
fn probe(ctx: &mut Ctx, body: impl FnOnce() -> i32) -> anyhow::Result<Exit> {
    let limit = ctx.wait_limit();
    let mut child = ctx.spawn(|| {
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: setrlimit reads one rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
        body()
    })?;
    child.wait_exit(limit)
}

/// Reserves `pages` inaccessible pages, so a mapping placed at their start (MAP_FIXED) is
/// followed by pages that fault with SIGSEGV whatever else the process has mapped.
fn reservation(pages: usize) -> Result<Mapping, Errno> {
    Mapping::new(0, pages * page_size(), libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
}

// ---------------------------------------------------------------------------------------------

fn basics(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let mut contents = vec![b'A'; page];
    contents.extend(vec![b'B'; page]);
    let (_, file) = file_with(ctx, "two-pages", &contents)?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let at_offset = Mapping::file(&file, page, rw, libc::MAP_SHARED, page as i64);
    let first = at_offset.as_ref().map(|m| m.read(0, 1)).unwrap_or_default();
    let aligned = at_offset.as_ref().is_ok_and(|m| m.addr() != 0 && m.addr() % page == 0);
    ctx.observe("mmap(NULL, page, RW, MAP_SHARED, fd, offset one page)", result_obs(&at_offset));
    ctx.observe("  address non-null and page-aligned", aligned);
    ctx.observe("  first byte there (file: A page, then B page)", String::from_utf8_lossy(&first));

    // SAFETY: a call that fails (bad descriptor); nothing is mapped.
    let raw = unsafe { libc::mmap(std::ptr::null_mut(), page, libc::PROT_READ, libc::MAP_SHARED, -1, 0) };
    let errno = Errno::last();
    ctx.observe("mmap with fd -1: return value, errno", (format!("{:#x}", raw as usize), errno_name(errno)));
    let map_failed = raw == libc::MAP_FAILED && raw as usize == usize::MAX;
    ctx.check(
        "mmap.returns.address_or_map_failed",
        at_offset.is_ok() && first == b"B" && map_failed && errno == Errno::EBADF,
        "success returned the mapping's first address, where the file's bytes at the offset appear; failure returned MAP_FAILED = (void *)-1 with errno EBADF",
        "mmap's return values differ (see observation)",
    );
    ctx.check(
        "mmap.addr.null_lets_kernel_choose",
        aligned,
        "with addr NULL the kernel chose a non-null, page-aligned address",
        "the address chosen for addr NULL was null or not page-aligned",
    );

    let read_only = Mapping::file(&file, page, libc::PROT_READ, libc::MAP_SHARED, 0);
    let ro_read = read_only.as_ref().map(|m| m.read(0, 1)).unwrap_or_default();
    let ro_addr = read_only.as_ref().map(|m| m.addr()).unwrap_or(0);
    let ro_write = probe(ctx, || {
        poke(ro_addr, b'x');
        0
    })?;
    let rw_map = Mapping::file(&file, page, rw, libc::MAP_SHARED, 0);
    let rw_ok = rw_map.as_ref().is_ok_and(|m| {
        m.write(0, b"W");
        m.read(0, 1) == b"W"
    });
    ctx.observe("PROT_READ mapping: read", String::from_utf8_lossy(&ro_read));
    ctx.observe("PROT_READ mapping: write, in a child", ro_write);
    ctx.observe("PROT_READ|PROT_WRITE mapping: write then read back", rw_ok);
    ctx.check(
        "mmap.prot.read_and_write",
        ro_read == b"A" && ro_write.signal() == Some("SIGSEGV") && rw_ok,
        "PROT_READ allowed reading and a write to it raised SIGSEGV; PROT_READ|PROT_WRITE allowed both",
        "the protection did not govern access as described (see observation)",
    );
    Ok(())
}

fn shared_and_private_writes(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let (shared_path, shared_file) = file_with(ctx, "shared", &vec![b'.'; page])?;
    let shared = Mapping::file(&shared_file, page, rw, libc::MAP_SHARED, 0)?;
    shared.write(0, b"SHARED");
    let here = read_file_at(&shared_file, 0, 6);
    let (elsewhere, _) = ctx.in_child(|| {
        std::fs::read(&shared_path).map(|b| String::from_utf8_lossy(&b[..6]).into_owned()).unwrap_or_default()
    })?;
    ctx.observe("MAP_SHARED write \"SHARED\": read(2) of the file here", &here);
    ctx.observe("  read(2) of the file in another process", &elsewhere);
    ctx.check(
        "mmap.shared.writes_reach_file",
        here == "SHARED" && elsewhere.as_deref() == Some("SHARED"),
        "read(2) returned the mapping's new bytes at once, here and in another process, without msync",
        "the shared mapping's write did not reach the file (see observation)",
    );

    let (_, private_file) = file_with(ctx, "private", &vec![b'.'; page])?;
    let private = Mapping::file(&private_file, page, rw, libc::MAP_PRIVATE, 0)?;
    private.write(0, b"PRIVATE");
    let in_mapping = String::from_utf8_lossy(&private.read(0, 7)).into_owned();
    let in_file = read_file_at(&private_file, 0, 7);
    drop(private);
    let after_unmap = read_file_at(&private_file, 0, 7);
    ctx.observe("MAP_PRIVATE write \"PRIVATE\": the mapping reads", &in_mapping);
    ctx.observe("  the file reads", &in_file);
    ctx.observe("  the file after munmap", &after_unmap);
    ctx.check(
        "mmap.private.writes_do_not_reach_file",
        in_mapping == "PRIVATE" && in_file == "......." && after_unmap == ".......",
        "the private mapping saw its write; the file kept its bytes, also after munmap",
        "a private mapping's write reached the file (see observation)",
    );
    Ok(())
}

fn munmap_results(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let m =
        Mapping::new(0, 2 * page, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)?;
    let base = m.addr();
    // Raw calls from here: parts of the mapping go away one by one.
    let munmap = |addr: usize, len: usize| {
        // SAFETY: addresses inside this case's own mapping, or misaligned ones the kernel rejects.
        let r = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
        if r == 0 {
            "0".to_string()
        } else {
            format!("-1 {}", errno_name(Errno::last()))
        }
    };
    let by_one = munmap(base + 1, page);
    let by_page = munmap(base + page, page);
    let first_page_still = probe(ctx, || peek(base) as i32)?;
    let second_page_gone = probe(ctx, || peek(base + page) as i32)?;
    let whole = munmap(base, page);
    std::mem::forget(m);
    ctx.observe("munmap(p + 1, page) on a two-page mapping", &by_one);
    ctx.observe("munmap(p + page, page)", &by_page);
    ctx.observe("  afterwards, reading p (first page)", first_page_still);
    ctx.observe("  reading p + page (second page)", second_page_gone);
    ctx.observe("munmap(p, page)", &whole);
    ctx.check(
        "mmap.munmap.returns_zero_or_minus_one",
        whole == "0" && by_one == "-1 EINVAL",
        "munmap returned 0 on success and -1 EINVAL for a misaligned address",
        "munmap's return values differ (see observation)",
    );
    let decision = match (by_one.as_str(), by_page.as_str()) {
        ("-1 EINVAL", "0") if first_page_still == Exit::Code(0) && second_page_gone.signal() == Some("SIGSEGV") => {
            Decision::partial(format!(
                "holds for a pointer moved by a part of a page (+1: -1 EINVAL); moved by a whole page ({page} bytes), munmap succeeded and removed just the pages from there on, leaving the first page mapped"
            ))
        }
        ("-1 EINVAL", _) => Decision::holds("munmap rejected every moved pointer"),
        _ => Decision::refuted(format!("munmap(p + 1) returned {by_one}")),
    };
    ctx.decide("mmap.munmap.moved_pointer_fails", decision);
    Ok(())
}

fn offset_and_length(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let (_, file) = file_with(ctx, "three-pages", &vec![b'o'; 3 * page])?;
    ctx.observe("sysconf(_SC_PAGESIZE) (the note says 4096)", page);
    let mut offsets = Vec::new();
    // 4096 is the note's figure and `page` this machine's: the same number where pages are 4 KiB.
    let mut tried = vec![1, 100, 2048, 4096, page, 2 * page];
    tried.sort_unstable();
    tried.dedup();
    for offset in tried {
        let by_libc = Mapping::file(&file, page, libc::PROT_READ, libc::MAP_SHARED, offset as i64);
        let by_kernel = Mapping::file_by_syscall(&file, page, libc::PROT_READ, libc::MAP_SHARED, offset as i64);
        ctx.observe(
            format!("offset {offset}: libc mmap, mmap system call"),
            (result_obs(&by_libc), result_obs(&by_kernel)),
        );
        offsets.push((offset, by_kernel.is_ok(), by_libc.is_ok()));
    }
    // The kernel's rule decides; libc's own check is shown beside it.
    let misaligned_refused = offsets.iter().all(|&(o, kernel_ok, _)| kernel_ok == (o % page == 0));
    let libc_agrees = offsets.iter().all(|&(_, kernel_ok, libc_ok)| kernel_ok == libc_ok);
    let decision = match (misaligned_refused, page == 4096) {
        (true, true) => Decision::holds(
            "offsets 1, 100 and 2048 gave EINVAL from the mmap system call (and from libc); multiples of 4096, the page size here, mapped",
        ),
        (true, false) => {
            Decision::partial(format!("the offset must be a multiple of the page size, which is {page} here, not 4096"))
        }
        (false, _) if !libc_agrees => Decision::refuted(
            "the kernel's mmap system call mapped a misaligned offset (or refused an aligned one); libc's mmap refused it before asking the kernel (see observation)",
        ),
        (false, _) => Decision::refuted("a misaligned offset mapped, or an aligned one failed (see observation)"),
    };
    ctx.decide("mmap.offset.page_multiple", decision);

    // 100 bytes asked for, in front of an inaccessible page.
    let guard = reservation(2)?;
    let short = Mapping::new(
        guard.addr(),
        100,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_FIXED,
        file.as_raw_fd(),
        0,
    );
    let base = guard.addr();
    let maps_size = mapping_size_in_maps(base);
    let rest_of_page = probe(ctx, || {
        poke(base + page - 1, b'r');
        peek(base + page - 1) as i32
    })?;
    let next_page = probe(ctx, || peek(base + page) as i32)?;
    std::mem::forget(short);
    ctx.observe("mmap(length 100): result", "mapped");
    ctx.observe("  size of the mapping in /proc/self/maps", maps_size);
    ctx.observe("  byte page-1 (past 100) written and read", rest_of_page);
    ctx.observe("  byte page (the next page)", next_page);
    let decision = if maps_size == Some(page) && rest_of_page == Exit::Code(b'r' as i32) {
        Decision::partial(format!(
            "memory is mapped by whole pages (the 100-byte request became one {page}-byte page, all of it usable), but the length need not be a page multiple: mmap accepted 100 and rounded it up"
        ))
    } else {
        Decision::refuted("a 100-byte mapping was not rounded to a whole page (see observation)")
    };
    ctx.decide("mmap.length.whole_pages", decision);
    Ok(())
}

/// The size of the /proc/self/maps entry that starts at `addr`.
fn mapping_size_in_maps(addr: usize) -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|l| {
        let range = l.split_whitespace().next()?;
        let (start, end) = range.split_once('-')?;
        let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
        (start == addr).then_some(end - start)
    })
}

fn close_fd_after_mmap(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let (path, file) = file_with(ctx, "file", &vec![b'.'; page])?;
    let m = Mapping::file(&file, page, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, 0)?;
    drop(file);
    m.write(0, b"after close");
    let in_mapping = String::from_utf8_lossy(&m.read(0, 11)).into_owned();
    let in_file = std::fs::read(&path).map(|b| String::from_utf8_lossy(&b[..11]).into_owned()).unwrap_or_default();
    ctx.observe("descriptor closed, then write \"after close\": the mapping reads", &in_mapping);
    ctx.observe("  the file (opened again) reads", &in_file);
    ctx.check(
        "mmap.fd.close_after_mmap",
        in_mapping == "after close" && in_file == "after close",
        "after close(fd) the mapping still read and wrote, and its writes reached the file",
        "closing the descriptor affected the mapping (see observation)",
    );
    Ok(())
}

fn past_the_end(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let (path, small) = file_with(ctx, "100-bytes", &[b's'; 100])?;
    let (_, large) = file_with(ctx, "three-pages", &vec![b'l'; 3 * page])?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let fixed = libc::MAP_SHARED | libc::MAP_FIXED;
    let (small_fd, large_fd) = (small.as_raw_fd(), large.as_raw_fd());

    // A 100-byte file mapped with length 100: byte 200 is past the length and past end of file,
    // inside the last page.
    let in_last_page = probe(ctx, || {
        let Ok(guard) = reservation(2) else { return 2 };
        let Ok(_m) = Mapping::new(guard.addr(), 100, rw, fixed, small_fd, 0) else { return 3 };
        poke(guard.addr() + 200, b'X');
        peek(guard.addr() + 200) as i32
    })?;
    let file_after = std::fs::read(&path).map(|b| b.len()).unwrap_or(0);
    // The same file mapped with length two pages: the second page lies wholly past end of file.
    let page_past_eof = probe(ctx, || {
        let Ok(guard) = reservation(3) else { return 2 };
        let Ok(_m) = Mapping::new(guard.addr(), 2 * page, rw, fixed, small_fd, 0) else { return 3 };
        poke(guard.addr() + page + 10, b'X');
        0
    })?;
    // A three-page file mapped with length one page: byte page+10 is past the mapping but well
    // inside the file.
    let past_mapping_in_file = probe(ctx, || {
        let Ok(guard) = reservation(2) else { return 2 };
        let Ok(_m) = Mapping::new(guard.addr(), page, rw, fixed, large_fd, 0) else { return 3 };
        poke(guard.addr() + page + 10, b'X');
        0
    })?;
    ctx.observe("100-byte file, length 100: write+read byte 200 (same page)", in_last_page);
    ctx.observe("  file size afterwards", file_after);
    ctx.observe("100-byte file, length 2 pages: write in the second page (past end of file)", page_past_eof);
    ctx.observe(
        "3-page file, length 1 page: write at page+10 (inside the file, past the mapping)",
        past_mapping_in_file,
    );
    let expected_shape = in_last_page == Exit::Code(b'X' as i32)
        && file_after == 100
        && page_past_eof.signal() == Some("SIGBUS")
        && past_mapping_in_file.signal() == Some("SIGSEGV");
    let decision = if expected_shape {
        Decision::partial(
            "only to the end of the last mapped page: bytes past the length in that page can be written (they never reach the file, which stays 100 bytes); a mapped page wholly past end of file raises SIGBUS; past the mapping it is SIGSEGV even where the file goes on. The limit is the mapping's last page, not the file's size",
        )
    } else if past_mapping_in_file == Exit::Code(0) {
        Decision::holds("writes past the mapping succeeded as far as the file's size")
    } else {
        Decision::refuted("access past the mapped length failed differently (see observation)")
    };
    ctx.decide("mmap.beyond.up_to_file_size", decision);
    Ok(())
}

fn empty_file(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let (path, file) = file_with(ctx, "empty", b"")?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let zero_len = Mapping::file(&file, 0, rw, libc::MAP_SHARED, 0);
    let one_page = Mapping::file(&file, page, rw, libc::MAP_SHARED, 0);
    let addr = one_page.as_ref().map(|m| m.addr()).unwrap_or(0);
    let (fault, exit) = crate::signal::record_from_child(ctx, &[Signal::SIGBUS], || peek(addr) as i32, |_| Ok(()))?;
    let bus_code = fault.map(|r| r.code);
    ctx.observe("empty file, length 0", result_obs(&zero_len));
    ctx.observe("empty file, length one page", result_obs(&one_page));
    ctx.observe("  reading it (child)", crate::signal::describe(&fault));
    ctx.observe("  the child", exit);
    drop(one_page);
    let decision = match (zero_len.as_ref().err(), addr != 0, bus_code) {
        (Some(&Errno::EINVAL), true, Some(libc::BUS_ADRERR)) => Decision::partial(
            "a bus error it is (SIGBUS on the first touch), but not at mmap, which succeeded for a non-zero length (length 0 gave EINVAL), and not an alignment error: si_code BUS_ADRERR, the page lies past end of file (an alignment fault would be BUS_ADRALN)",
        ),
        (_, _, Some(libc::BUS_ADRALN)) => {
            Decision::holds("touching the mapping of the empty file raised SIGBUS for alignment (BUS_ADRALN)")
        }
        _ => Decision::refuted("no bus error came from mapping the empty file (see observation)"),
    };
    ctx.decide("mmap.empty_file.bus_error", decision);

    let grown = file.set_len(page as u64);
    // Touched here only if the file really has a page now: otherwise the touch is a SIGBUS.
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let m = Mapping::file(&file, page, rw, libc::MAP_SHARED, 0);
    let (zeros, reached) = match &m {
        Ok(_) if size < page as u64 => (false, false),
        Ok(m) => {
            let zeros = m.read(0, page).iter().all(|&b| b == 0);
            m.write(0, b"grown");
            (zeros, std::fs::read(&path).map(|b| b.starts_with(b"grown")).unwrap_or(false))
        }
        Err(_) => (false, false),
    };
    ctx.observe("ftruncate(fd, page) then mmap", result_obs(&m));
    ctx.observe("  the file's size after ftruncate is one page", size == page as u64);
    ctx.observe("  reads zeros; the write \"grown\" reached the file", (zeros, reached));
    ctx.check(
        "mmap.empty_file.truncate_first",
        grown.is_ok() && m.is_ok() && zeros && reached,
        "after ftruncate to one page the mapping read zeros and its write reached the file",
        "extending the file did not make the mapping usable (see observation)",
    );
    Ok(())
}

/// One cell of the open mode x prot x flags matrix.
#[derive(Clone, Copy)]
struct Cell {
    open: (&'static str, OFlag),
    prot: i32,
    flags: (&'static str, i32),
}

const OPEN_MODES: [(&str, OFlag); 3] =
    [("O_RDONLY", OFlag::O_RDONLY), ("O_WRONLY", OFlag::O_WRONLY), ("O_RDWR", OFlag::O_RDWR)];
const MAP_FLAGS: [(&str, i32); 3] = [
    ("MAP_SHARED", libc::MAP_SHARED),
    ("MAP_PRIVATE", libc::MAP_PRIVATE),
    ("MAP_SHARED_VALIDATE", libc::MAP_SHARED_VALIDATE),
];

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Cell {
    fn name(&self) -> String {
        format!("{} {} {}", self.open.0, prot_name(self.prot), self.flags.0)
    }

    fn shared(&self) -> bool {
        self.flags.1 != libc::MAP_PRIVATE
    }

    /// The note's rule: the mapping asks for no right the open mode lacks, except that a
    /// private mapping may write (its writes never reach the file).
    fn rule_allows(&self) -> bool {
        let (readable, writable) = match self.open.1 {
            OFlag::O_RDONLY => (true, false),
            OFlag::O_WRONLY => (false, true),
            _ => (true, true),
        };
        let wants_read = self.prot & libc::PROT_READ != 0;
        let wants_write = self.prot & libc::PROT_WRITE != 0;
        (!wants_read || readable) && (!wants_write || writable || !self.shared())
    }

    fn try_map(&self, path: &Path) -> Result<(), Errno> {
        let fd: OwnedFd = open(path, self.open.1 | OFlag::O_CLOEXEC, Mode::empty())?;
        Mapping::file(&fd, page_size(), self.prot, self.flags.1, 0).map(drop)
    }
}

fn prot_name(prot: i32) -> String {
    if prot == libc::PROT_NONE {
        return "PROT_NONE".to_string();
    }
    [(libc::PROT_READ, "PROT_READ"), (libc::PROT_WRITE, "PROT_WRITE"), (libc::PROT_EXEC, "PROT_EXEC")]
        .iter()
        .filter(|(bit, _)| prot & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

fn all_cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for open in OPEN_MODES {
        for prot in 0..8 {
            for flags in MAP_FLAGS {
                cells.push(Cell { open, prot, flags });
            }
        }
    }
    cells
}

fn open_mode_matrix(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (path, _) = file_with(ctx, "matrix", &vec![b'm'; page_size()])?;
    let cells = all_cells();
    let mut refused_though_allowed = Vec::new();
    let mut allowed_though_refused = Vec::new();
    let mut wronly = Vec::new();
    let mut rdonly_shared_rw = Vec::new();
    for cell in &cells {
        let got = cell.try_map(&path);
        let shown = match got {
            Ok(()) => "mapped".to_string(),
            Err(e) => errno_name(e),
        };
        if cell.open.0 == "O_WRONLY" {
            wronly.push(shown.clone());
        }
        if cell.open.0 == "O_RDONLY" && cell.prot == libc::PROT_READ | libc::PROT_WRITE && cell.shared() {
            rdonly_shared_rw.push(format!("{}: {shown}", cell.flags.0));
        }
        match (cell.rule_allows(), got.is_ok()) {
            (true, false) => refused_though_allowed.push(format!("{}: {shown}", cell.name())),
            (false, true) => allowed_though_refused.push(cell.name()),
            _ => {}
        }
    }
    ctx.observe("matrix cells checked (3 open modes x 8 prot x 3 flags)", cells.len());
    ctx.observe("O_WRONLY cells (24): distinct results", distinct(&wronly));
    ctx.observe("O_RDONLY + PROT_READ|PROT_WRITE + shared", &rdonly_shared_rw);
    ctx.observe("cells the rule forbids that mapped", &allowed_though_refused);
    ctx.observe("cells the rule allows that were refused", &refused_though_allowed);

    // The same rule as a property over random cells, page counts and offsets.
    let (path4, _) = file_with(ctx, "matrix-4", &vec![b'm'; 4 * page_size()])?;
    let cell = (0usize..3, 0i32..8, 0usize..3).prop_map(|(o, prot, f)| Cell {
        open: OPEN_MODES[o],
        prot,
        flags: MAP_FLAGS[f],
    });
    let strategy = (cell, 1usize..=2, 0usize..=2);
    let outcome = ctx.property(strategy, 64, 1024, |(cell, pages, offset_pages)| {
        let prot = cell.prot;
        let fd = open(&path4, cell.open.1 | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| TestCaseError::fail(format!("open: {e}")))?;
        let got =
            Mapping::file(&fd, pages * page_size(), prot, cell.flags.1, (offset_pages * page_size()) as i64).map(drop);
        prop_assert_eq!(got.is_ok(), cell.rule_allows(), "{}: kernel {:?}", cell.name(), got);
        Ok(())
    });
    ctx.observe("property: random cell, 1-2 pages, offset 0-2 pages, against the rule", &outcome);

    ctx.check(
        "mmap.open_mode.wronly_refused",
        wronly.len() == 24 && wronly.iter().all(|r| r == "EACCES"),
        "all 24 mappings of the O_WRONLY file, whatever prot and flags (PROT_NONE and PROT_WRITE included), failed with EACCES",
        format!("O_WRONLY mappings gave {:?}", distinct(&wronly)),
    );
    ctx.check(
        "mmap.open_mode.rdonly_shared_write_refused",
        !rdonly_shared_rw.is_empty() && rdonly_shared_rw.iter().all(|r| r.ends_with(": EACCES")),
        "O_RDONLY + PROT_READ|PROT_WRITE + MAP_SHARED (and MAP_SHARED_VALIDATE) failed with EACCES",
        format!("O_RDONLY shared read-write mappings gave {rdonly_shared_rw:?}"),
    );
    let decision = match (allowed_though_refused.is_empty(), refused_though_allowed.is_empty()) {
        (true, true) => Decision::holds(format!("all {} cells followed the rule, private-write exception included", cells.len())),
        (true, false) => Decision::partial(format!(
            "no mapping exceeded the open mode (the private-write exception held), but the rule is not sufficient: {} of {} cells it allows were refused ({}); a mapping also needs read permission whatever prot asks{}",
            refused_though_allowed.len(),
            cells.len(),
            summarise_cells(&refused_though_allowed),
            outcome.counterexample.as_ref().map(|c| format!("; the property's minimal counterexample (cell, pages, offset in pages) = {c}")).unwrap_or_default()
        )),
        (false, _) => Decision::refuted(format!(
            "mappings exceeded the open mode: {}",
            allowed_though_refused.join(", ")
        )),
    };
    ctx.decide("mmap.open_mode.rights_within_open_mode", decision);
    Ok(())
}

fn distinct(v: &[String]) -> Vec<String> {
    let mut d = v.to_vec();
    d.sort();
    d.dedup();
    d
}

/// "all 24 O_WRONLY cells" when they are exactly those, else the list.
fn summarise_cells(cells: &[String]) -> String {
    let wronly = cells.iter().filter(|c| c.starts_with("O_WRONLY ")).count();
    let others: Vec<&String> = cells.iter().filter(|c| !c.starts_with("O_WRONLY ")).collect();
    let mut parts = Vec::new();
    if wronly > 0 {
        parts.push(format!("{wronly} O_WRONLY cells, EACCES"));
    }
    parts.extend(others.iter().map(|c| c.to_string()));
    parts.join("; ")
}

fn error_cases(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let (_, file) = file_with(ctx, "file", &vec![b'e'; page])?;
    let (pipe_r, _pipe_w) = nix::unistd::pipe()?;
    let dir = open(ctx.workdir(), OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let fd = file.as_raw_fd();
    let r = libc::PROT_READ;
    let tries: Vec<(&str, Result<Mapping, Errno>)> = vec![
        ("descriptor -1", Mapping::new(0, page, r, libc::MAP_SHARED, -1, 0)),
        ("length 0", Mapping::new(0, 0, r, libc::MAP_SHARED, fd, 0)),
        ("neither MAP_SHARED nor MAP_PRIVATE", Mapping::new(0, page, r, 0, fd, 0)),
        ("offset 1", Mapping::new(0, page, r, libc::MAP_SHARED, fd, 1)),
        ("a pipe", Mapping::new(0, page, r, libc::MAP_SHARED, pipe_r.as_raw_fd(), 0)),
        ("a directory", Mapping::new(0, page, r, libc::MAP_SHARED, dir.as_raw_fd(), 0)),
        (
            "MAP_SHARED_VALIDATE | MAP_SYNC on a file without DAX",
            Mapping::new(0, page, r, libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC, fd, 0),
        ),
    ];
    let mut errnos = Vec::new();
    for (what, got) in &tries {
        ctx.observe(what.to_string(), result_obs(got));
        if let Err(e) = got {
            errnos.push(*e);
        }
    }
    let kinds = {
        let mut k = errnos.clone();
        k.sort_by_key(|e| *e as i32);
        k.dedup();
        k.len()
    };
    ctx.check(
        "mmap.errors.many_cases",
        errnos.len() == tries.len() && kinds >= 3,
        format!("all {} misuses failed, with {kinds} different errnos", tries.len()),
        "some misuse mapped, or all failed the same way (see observation)",
    );
    Ok(())
}

fn unchecked_failure(ctx: &mut Ctx) -> anyhow::Result<()> {
    let exit = probe(ctx, || {
        // SAFETY: a call that fails (bad descriptor); its result is then used unchecked, the
        // experiment.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_SHARED, -1, 0) };
        poke(p as usize, 1);
        0
    })?;
    ctx.observe("writing through the MAP_FAILED pointer", exit);
    ctx.check(
        "mmap.failure.unchecked_pointer_crashes",
        exit.signal() == Some("SIGSEGV"),
        "the write through (void *)-1 killed the process with SIGSEGV",
        format!("using MAP_FAILED ended with {exit}"),
    );
    Ok(())
}

fn related_processes(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let (_, file) = file_with(ctx, "file", &vec![b'.'; page])?;
    let file_map = Mapping::file(&file, page, rw, libc::MAP_SHARED, 0)?;
    let anon = Mapping::new(0, page, rw, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)?;
    file_map.write(0, b"from parent");
    let (child_saw, exit) = ctx.in_child(|| {
        let saw = String::from_utf8_lossy(&file_map.read(0, 11)).into_owned();
        file_map.write(0, b"from child.");
        anon.write(0, b"anon child");
        saw
    })?;
    let parent_file = String::from_utf8_lossy(&file_map.read(0, 11)).into_owned();
    let parent_anon = String::from_utf8_lossy(&anon.read(0, 10)).into_owned();
    ctx.observe("child read the file mapping (parent wrote \"from parent\")", &child_saw);
    ctx.observe("parent read the file mapping after the child wrote", &parent_file);
    ctx.observe("parent read the MAP_SHARED|MAP_ANONYMOUS page after the child wrote", &parent_anon);
    ctx.observe("child", exit);
    ctx.check(
        "mmap.comm.related_processes",
        child_saw.as_deref() == Some("from parent") && parent_file == "from child." && parent_anon == "anon child",
        "through mappings made before fork, file-backed and anonymous, parent and child each read what the other wrote",
        "parent and child did not see each other's writes (see observation)",
    );
    Ok(())
}

fn unrelated_processes(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let (path, file) = file_with(ctx, "file", &vec![b'.'; page])?;
    let mine = Mapping::file(&file, page, rw, libc::MAP_SHARED, 0)?;
    // The other process opens and maps the file by its name, at an address of its own.
    let (other_addr, exit) = ctx.in_child(|| {
        let fd = open(&path, OFlag::O_RDWR, Mode::empty()).ok()?;
        let theirs = Mapping::file(&fd, page, rw, libc::MAP_SHARED, 0).ok()?;
        theirs.write(0, b"by its name");
        Some(theirs.addr())
    })?;
    let seen = String::from_utf8_lossy(&mine.read(0, 11)).into_owned();
    ctx.observe("another process mapped the file by name and wrote \"by its name\"", exit);
    ctx.observe("this process's own mapping reads", &seen);
    ctx.observe("the two mappings at different addresses", other_addr.flatten().is_some_and(|a| a != mine.addr()));
    ctx.check(
        "mmap.comm.unrelated_processes",
        seen == "by its name",
        "the other process's write through its own mapping of the file appeared in this one's",
        "the write did not appear in the other mapping (see observation)",
    );
    Ok(())
}

/// The page frame behind `addr` in this process, from /proc/self/pagemap (0 if not present).
fn page_frame(addr: usize) -> Option<u64> {
    let pagemap = File::open("/proc/self/pagemap").ok()?;
    let mut entry = [0u8; 8];
    pagemap.read_exact_at(&mut entry, (addr / page_size() * 8) as u64).ok()?;
    let e = u64::from_ne_bytes(entry);
    Some(if e >> 63 == 1 { e & ((1 << 55) - 1) } else { 0 })
}

fn same_physical_memory(ctx: &mut Ctx) -> anyhow::Result<()> {
    let page = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let anon = Mapping::new(0, page, rw, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)?;
    anon.write(0, b"p");
    let (path, file) = file_with(ctx, "file", &vec![b'.'; page])?;
    let mine = Mapping::file(&file, page, rw, libc::MAP_SHARED, 0)?;
    mine.write(0, b"p");
    let (theirs, _) = ctx.in_child(|| {
        let _ = anon.read(0, 1);
        let fd = open(&path, OFlag::O_RDWR, Mode::empty()).ok()?;
        let own = Mapping::file(&fd, page, rw, libc::MAP_SHARED, 0).ok()?;
        let _ = own.read(0, 1);
        Some((page_frame(anon.addr())?, page_frame(own.addr())?, own.addr()))
    })?;
    let (anon_frame, file_frame) = (page_frame(anon.addr()), page_frame(mine.addr()));
    let Some((their_anon, their_file, their_addr)) = theirs.flatten() else {
        ctx.decide(
            "mmap.shared.same_physical_memory",
            Decision::skipped("could not be checked: the child could not read its pagemap"),
        );
        return Ok(());
    };
    let present = anon_frame.is_some_and(|f| f != 0) && file_frame.is_some_and(|f| f != 0);
    ctx.observe("page frames known (non-zero) in this process", present);
    ctx.observe("MAP_SHARED|MAP_ANONYMOUS page inherited by a child: same frame", anon_frame == Some(their_anon));
    ctx.observe("file page mapped separately in the child: same frame", file_frame == Some(their_file));
    ctx.observe("  at the same virtual address", their_addr == mine.addr());
    ctx.check(
        "mmap.shared.same_physical_memory",
        present && anon_frame == Some(their_anon) && file_frame == Some(their_file),
        "both processes' virtual pages, inherited or mapped separately, were backed by the same physical page frame",
        "the processes' shared pages were backed by different frames (see observation)",
    );
    Ok(())
}

/// What the child writes to its copy of the global; the parent's copy stays 0.
static GLOBAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
const CHILD_VALUE: u64 = 0x00C0_FFEE;

fn address_space_separate(ctx: &mut Ctx) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;
    let limit = ctx.wait_limit();
    GLOBAL.store(0, Ordering::SeqCst);
    let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (hold_r, hold_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (ready_in_child, hold_in_child, hold_w_raw) = (&ready_w, &hold_r, hold_w.as_raw_fd());
    let child = ctx.spawn(move || {
        // SAFETY: the child's own copy of the parent's end, so the parent's close ends the hold.
        unsafe { libc::close(hold_w_raw) };
        GLOBAL.store(CHILD_VALUE, Ordering::SeqCst);
        let _ = nix::unistd::write(ready_in_child, b"stored");
        // Alive until the parent has looked (its end of the hold pipe closes).
        let mut buf = [0u8; 1];
        let _ = nix::unistd::read(hold_in_child, &mut buf);
        0
    })?;
    drop(ready_w);
    let ready = crate::util::read_text(&ready_r, 16, limit)?;
    let own = GLOBAL.load(Ordering::SeqCst);
    // The same virtual address in the child: fork copies the address space, layout and all.
    let mut seen: u64 = 0;
    let local = libc::iovec { iov_base: (&mut seen as *mut u64).cast(), iov_len: 8 };
    let remote = libc::iovec { iov_base: GLOBAL.as_ptr().cast(), iov_len: 8 };
    // SAFETY: both iovecs describe 8 valid bytes; the call writes only `seen`.
    let read = unsafe { libc::process_vm_readv(child.raw_pid(), &local, 1, &remote, 1, 0) };
    let peek = if read == 8 { Ok(seen) } else { Err(Errno::last()) };
    drop(hold_w);
    let mut child = child;
    let exit = child.wait_exit(limit)?;
    ctx.observe("the child set its copy of a global to 0xC0FFEE, and said", &ready);
    ctx.observe("the parent's copy of the global afterwards", format!("{own:#x}"));
    ctx.observe(
        "process_vm_readv of the child's global at the same address, by the parent",
        match &peek {
            Ok(v) => format!("{v:#x}"),
            Err(e) => format!("-1 {}", errno_name(*e)),
        },
    );
    ctx.observe("the child's exit", exit);
    let separate = ready == "stored" && own == 0;
    ctx.decide(
        "mmap.address_space.separate",
        match (separate, peek) {
            (false, _) => Decision::refuted("the child's write to its global showed in the parent's"),
            (true, Ok(CHILD_VALUE)) => Decision::partial(
                "each process has its own address space (the child's write to a global left the parent's copy 0), but they are not closed to each other: the parent, which may ptrace the child, read the child's value through process_vm_readv",
            ),
            (true, Ok(other)) => Decision::refuted(format!("process_vm_readv read {other:#x}, not the child's value")),
            (true, Err(e @ (Errno::EPERM | Errno::EACCES))) => Decision::holds(format!(
                "the child's write to a global left the parent's copy 0, and reading the child's memory was refused ({})",
                errno_name(e)
            )),
            // ENOSYS (an emulator without the call) or EFAULT says nothing about access.
            (true, Err(e)) => Decision::skipped(format!(
                "the child's write left the parent's copy 0, but whether another process may read its memory could not be tried: process_vm_readv gave {}",
                errno_name(e)
            )),
        },
    );
    Ok(())
}
