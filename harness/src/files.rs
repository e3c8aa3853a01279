//! The files the command line reads and writes: every input is read with a size limit (a
//! catalogue named `/dev/zero` is a clear message, not a hang), every output is written
//! atomically. A problem with the user's input is a [`UsageError`] (exit 2).

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context as _;

/// A failure that is the user's input, not the harness: exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Size limits of what the CLI reads. The largest real files are a snapshot (about 0.5 MB) and a
/// result file (about 1 MB); the limits leave room for many times that.
pub const CATALOGUE_LIMIT: u64 = 8 << 20;
pub const NOTE_LIMIT: u64 = 8 << 20;
pub const SNAPSHOT_LIMIT: u64 = 64 << 20;
pub const RESULTS_LIMIT: u64 = 64 << 20;

/// Reads a text file of at most `limit` bytes. What it is (`what`: "catalogue", "snapshot", ...)
/// names the file in every message: not a regular file, too large, unreadable, not UTF-8.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> anyhow::Result<String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| usage(format!("cannot read {what} {shown}: {e}")))?;
    let meta = file.metadata().map_err(|e| usage(format!("cannot read {what} {shown}: {e}")))?;
    if meta.is_dir() {
        return Err(usage(format!("{what} {shown} is a directory, not a file")));
    }
    // Devices and FIFOs have no length to check in advance: the limit below still holds.
    if meta.is_file() && meta.len() > limit {
        return Err(usage(format!("{what} {shown} is {} bytes, more than the limit of {limit}", meta.len())));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| usage(format!("cannot read {what} {shown}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(usage(format!("{what} {shown} is longer than the limit of {limit} bytes (an endless file?)")));
    }
    String::from_utf8(bytes).map_err(|e| usage(format!("{what} {shown} is not UTF-8 text: {e}")))
}

/// Writes to a file atomically (temp file + rename in the same directory), or to stdout.
pub fn emit(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    let Some(path) = path else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).context("writing to standard output")?;
        return Ok(());
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    // tempfile creates 0600; a report is an ordinary file (0644 before the umask).
    // SAFETY: umask only swaps the process's file mode mask; restored at once.
    let mask = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(mask) };
    use std::os::unix::fs::PermissionsExt as _;
    let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o666 & !(mask as u32)));
    tmp.persist(path).map_err(|e| usage(format!("cannot write {}: {}", path.display(), e.error)))?;
    Ok(())
}
