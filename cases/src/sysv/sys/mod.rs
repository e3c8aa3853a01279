//! Thin, safe wrappers over the System V IPC calls of libc, which nix does not cover.
//!
//! An object this suite creates is owned by a value that removes it (IPC_RMID) when dropped and
//! is journaled when made, so the runner removes it even if the worker is killed. Creation always
//! uses IPC_PRIVATE or IPC_CREAT | IPC_EXCL: the suite never adopts, changes or removes an object
//! it did not create.

pub mod msg;
pub mod sem;
pub mod shm;

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// ftok(3): the key for a file and a project id, or the errno.
pub fn ftok(path: &Path, proj_id: i32) -> Result<libc::key_t, Errno> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: c is a valid NUL-terminated path; ftok only stats it.
    let key = unsafe { libc::ftok(c.as_ptr(), proj_id) };
    if key == -1 {
        Err(Errno::last())
    } else {
        Ok(key)
    }
}

/// A file of the worker's own and ftok keys for it, one per id, that no System V object of any
/// kind uses yet. ftok keys keep only 16 bits of the inode, so another file (this suite's in a
/// concurrent run, or anyone's) can share them; such a file is skipped for a new one.
pub fn unused_keys(ctx: &harness::Ctx, name: &str, ids: &[u8]) -> anyhow::Result<(PathBuf, Vec<libc::key_t>)> {
    for attempt in 0..16 {
        let path = ctx.temp_path(&format!("{name}-{attempt}"));
        std::fs::write(&path, name)?;
        let keys = ids.iter().map(|&id| ftok(&path, i32::from(id))).collect::<Result<Vec<_>, _>>()?;
        if keys.iter().all(|&k| key_is_unused(k)) {
            return Ok((path, keys));
        }
    }
    anyhow::bail!("16 files in a row had ftok keys already in use")
}

fn key_is_unused(key: libc::key_t) -> bool {
    // SAFETY: the get calls take integers; without IPC_CREAT they only look the key up.
    unsafe {
        libc::msgget(key, 0) == -1
            && Errno::last() == Errno::ENOENT
            && libc::semget(key, 0, 0) == -1
            && Errno::last() == Errno::ENOENT
            && libc::shmget(key, 0, 0) == -1
            && Errno::last() == Errno::ENOENT
    }
}
