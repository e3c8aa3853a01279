//! Observations in the words of the C interface: a call either returns its value or `-1 <ERRNO>`.

use nix::errno::Errno;
use serde::Serialize;
use serde_json::{json, Value};

/// `EBADF`, `EPIPE`, ...
pub fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}

/// A failed call in C's words: `"-1 EBADF"`.
pub fn failed(e: Errno) -> String {
    format!("-1 {}", errno_name(e))
}

/// A call's outcome: the value it returned, or `"-1 EBADF"`.
pub fn call<T: Serialize>(r: &nix::Result<T>) -> Value {
    match r {
        Ok(v) => json!(v),
        Err(e) => json!(failed(*e)),
    }
}
