//! System V shared memory: shmget, shmat, shmdt, shmctl. (Lifetime and shm_nattch are checked
//! with the other mechanisms in `sysv.rs`; the semaphore-guarded counter in `semaphore.rs`.)

use std::time::{Duration, Instant};

use harness::{Case, Ctx};

use crate::sysv::sys::shm::{Attachment, Segment};

pub const CASES: &[Case] =
    &[Case::new("sysv.shm.writes_seen_without_copy", &["sysv.shm.writes_seen_without_copy"], writes_seen_without_copy)];

/// Reads the byte at `offset` until it equals `value` or `within` passes; no system call in
/// between, so only the shared page can carry the change.
fn spin_until(shared: &Attachment, offset: usize, value: u8, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if shared.read(offset) == value {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::hint::spin_loop();
    }
}

fn writes_seen_without_copy(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let segment = Segment::create(ctx, libc::IPC_PRIVATE, 4096, 0o600)?;
    let shared = Attachment::attach(segment.id(), 4096, 0)?;
    let id = segment.id();
    let child = ctx.spawn_reporting(move || {
        let Ok(mine) = Attachment::attach(id, 4096, 0) else { return "could not attach".to_string() };
        mine.write(100, 0xa5);
        if spin_until(&mine, 200, 0x5a, limit) {
            "saw the parent's 0x5a".to_string()
        } else {
            "never saw the parent's store".to_string()
        }
    })?;
    let seen_by_parent = spin_until(&shared, 100, 0xa5, limit);
    shared.write(200, 0x5a);
    let (seen_by_child, _) = child.finish(limit)?;
    ctx.observe("the parent saw the child's store of 0xa5 (reading memory only)", seen_by_parent);
    ctx.observe("the child", &seen_by_child);
    ctx.check(
        "sysv.shm.writes_seen_without_copy",
        seen_by_parent && seen_by_child.as_deref() == Some("saw the parent's 0x5a"),
        "each process saw the other's store in its own attachment, with no system call to carry it",
        "a store did not show in the other attachment (see observation)",
    );
    Ok(())
}
