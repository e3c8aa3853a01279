//! Thin, safe wrappers over the System V IPC calls of libc, which nix does not cover.
//!
//! An object this suite creates is owned by a value that removes it (IPC_RMID) when dropped and
//! is journaled when made, so the runner removes it even if the worker is killed. Creation always
//! uses IPC_PRIVATE or IPC_CREAT | IPC_EXCL: the suite never adopts, changes or removes an object
//! it did not create.

pub mod msg;

use std::ffi::CString;
use std::path::Path;

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
