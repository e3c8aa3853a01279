//! Shared memory segments: shmget, shmat, shmdt, shmctl.

use harness::journal::Resource;
use harness::Ctx;
use nix::errno::Errno;

/// A segment the suite created; removed when dropped (the kernel frees it at the last detach).
#[derive(Debug)]
pub struct Segment {
    id: i32,
}

impl Segment {
    /// Creates a new segment: IPC_PRIVATE or a key of the suite's own files, always with
    /// IPC_CREAT | IPC_EXCL.
    pub fn create(ctx: &mut Ctx, key: libc::key_t, size: usize, mode: i32) -> Result<Segment, Errno> {
        let id = ctx.create_journaled(
            || get(key, size, libc::IPC_CREAT | libc::IPC_EXCL | mode),
            |&id| Resource::SysvShm { id, key },
        )?;
        Ok(Segment { id })
    }

    /// Takes charge of a segment another process of this case created (and the case journaled).
    pub fn adopt(id: i32) -> Segment {
        Segment { id }
    }

    pub fn id(&self) -> i32 {
        self.id
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = remove(self.id);
    }
}

/// An attachment of a segment to this process; detached when dropped.
#[derive(Debug)]
pub struct Attachment {
    addr: *mut u8,
    len: usize,
}

impl Attachment {
    /// shmat(2) at an address the kernel picks; `len` is the segment's size.
    pub fn attach(id: i32, len: usize, flags: i32) -> Result<Attachment, Errno> {
        // SAFETY: a null address lets the kernel choose; the result is checked below.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if addr as isize == -1 {
            return Err(Errno::last());
        }
        Ok(Attachment { addr: addr.cast(), len })
    }

    pub fn addr(&self) -> usize {
        self.addr as usize
    }

    /// Reads a byte with a volatile load: another process may change it at any time.
    pub fn read(&self, offset: usize) -> u8 {
        assert!(offset < self.len, "offset {offset} outside the {}-byte segment", self.len);
        // SAFETY: in bounds of a live attachment.
        unsafe { self.addr.add(offset).read_volatile() }
    }

    /// Writes a byte with a volatile store, so it reaches the shared page now.
    pub fn write(&self, offset: usize, value: u8) {
        assert!(offset < self.len, "offset {offset} outside the {}-byte segment", self.len);
        // SAFETY: in bounds of a live, writable attachment.
        unsafe { self.addr.add(offset).write_volatile(value) }
    }

    /// A 32-bit counter at `offset` (aligned), read and written with volatile accesses.
    pub fn counter(&self, offset: usize) -> *mut u32 {
        assert!(offset.is_multiple_of(4) && offset + 4 <= self.len, "counter at {offset} out of bounds or unaligned");
        // SAFETY: in bounds and aligned, as asserted.
        unsafe { self.addr.add(offset).cast() }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // SAFETY: addr came from shmat and is detached once.
        unsafe { libc::shmdt(self.addr.cast()) };
    }
}

/// shmget(2).
pub fn get(key: libc::key_t, size: usize, flags: i32) -> Result<i32, Errno> {
    // SAFETY: shmget takes integers.
    Errno::result(unsafe { libc::shmget(key, size, flags) })
}

/// shmctl(IPC_STAT).
pub fn stat(id: i32) -> Result<libc::shmid_ds, Errno> {
    // SAFETY: an all-zero shmid_ds is a valid value for IPC_STAT to overwrite.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a valid shmid_ds.
    Errno::result(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) })?;
    Ok(ds)
}

/// shmctl(IPC_SET) from a shmid_ds (shm_perm.uid, gid and mode are used).
pub fn set(id: i32, ds: &libc::shmid_ds) -> Result<(), Errno> {
    let mut copy = *ds;
    // SAFETY: copy is a valid shmid_ds; IPC_SET only reads it.
    Errno::result(unsafe { libc::shmctl(id, libc::IPC_SET, &mut copy) }).map(drop)
}

/// IPC_STAT, `change`, IPC_SET: changes the settable fields of a segment.
pub fn update(id: i32, change: impl FnOnce(&mut libc::shmid_ds)) -> Result<(), Errno> {
    let mut ds = stat(id)?;
    change(&mut ds);
    set(id, &ds)
}

/// shmctl(IPC_RMID).
pub fn remove(id: i32) -> Result<(), Errno> {
    // SAFETY: IPC_RMID takes no buffer.
    Errno::result(unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}
