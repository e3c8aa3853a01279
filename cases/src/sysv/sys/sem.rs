//! Semaphore sets: semget, semop, semctl, with the `semun` union callers must define themselves.

use std::time::Duration;

use harness::journal::Resource;
use harness::proc::Sample;
use harness::Ctx;
use nix::errno::Errno;

/// semctl's fourth argument. glibc leaves its definition to the caller (see semctl(2)).
#[repr(C)]
#[derive(Clone, Copy)]
pub union Semun {
    pub val: libc::c_int,
    pub buf: *mut libc::semid_ds,
    pub array: *mut libc::c_ushort,
    pub info: *mut libc::seminfo,
}

impl Semun {
    /// For commands that ignore the argument.
    pub const NONE: Semun = Semun { val: 0 };
}

/// A semaphore set the suite created; removed when dropped.
#[derive(Debug)]
pub struct SemSet {
    id: i32,
}

impl SemSet {
    /// Creates a new set of `nsems` semaphores: IPC_PRIVATE or a key of the suite's own files,
    /// always with IPC_CREAT | IPC_EXCL.
    pub fn create(ctx: &mut Ctx, key: libc::key_t, nsems: i32, mode: i32) -> Result<SemSet, Errno> {
        let id = ctx.create_journaled(
            || get(key, nsems, libc::IPC_CREAT | libc::IPC_EXCL | mode),
            |&id| Resource::SysvSem { id, key },
        )?;
        Ok(SemSet { id })
    }

    /// Takes charge of a set another process of this case created (and the case journaled).
    pub fn adopt(id: i32) -> SemSet {
        SemSet { id }
    }

    pub fn id(&self) -> i32 {
        self.id
    }
}

impl Drop for SemSet {
    fn drop(&mut self) {
        let _ = remove(self.id);
    }
}

/// semget(2).
pub fn get(key: libc::key_t, nsems: i32, flags: i32) -> Result<i32, Errno> {
    // SAFETY: semget takes three integers.
    Errno::result(unsafe { libc::semget(key, nsems, flags) })
}

/// semctl(2) with its raw return value.
pub fn ctl(id: i32, semnum: i32, cmd: i32, arg: Semun) -> Result<i32, Errno> {
    // SAFETY: each caller passes the union member `cmd` reads or writes, pointing to memory that
    // outlives the call; commands that take no argument ignore it.
    Errno::result(unsafe { libc::semctl(id, semnum, cmd, arg) })
}

/// semctl with no fourth argument at all, as commands that need none allow.
pub fn ctl_no_arg(id: i32, semnum: i32, cmd: i32) -> Result<i32, Errno> {
    // SAFETY: only for commands that take no fourth argument.
    Errno::result(unsafe { libc::semctl(id, semnum, cmd) })
}

pub fn getval(id: i32, semnum: i32) -> Result<i32, Errno> {
    ctl(id, semnum, libc::GETVAL, Semun::NONE)
}

pub fn setval(id: i32, semnum: i32, val: i32) -> Result<i32, Errno> {
    ctl(id, semnum, libc::SETVAL, Semun { val })
}

/// GETALL: every value of a set of `nsems`.
pub fn getall(id: i32, semnum: i32, nsems: usize) -> Result<Vec<u16>, Errno> {
    let mut values = vec![0u16; nsems];
    ctl(id, semnum, libc::GETALL, Semun { array: values.as_mut_ptr() })?;
    Ok(values)
}

/// SETALL from one value per semaphore; the raw return value.
pub fn setall(id: i32, values: &[u16]) -> Result<i32, Errno> {
    let mut copy = values.to_vec();
    ctl(id, 0, libc::SETALL, Semun { array: copy.as_mut_ptr() })
}

/// IPC_STAT.
pub fn stat(id: i32) -> Result<libc::semid_ds, Errno> {
    // SAFETY: an all-zero semid_ds is a valid value for IPC_STAT to overwrite.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    ctl(id, 0, libc::IPC_STAT, Semun { buf: &mut ds })?;
    Ok(ds)
}

/// IPC_SET from a semid_ds (sem_perm.uid, gid and mode are used).
pub fn set(id: i32, ds: &libc::semid_ds) -> Result<i32, Errno> {
    let mut copy = *ds;
    ctl(id, 0, libc::IPC_SET, Semun { buf: &mut copy })
}

/// IPC_STAT, `change`, IPC_SET: changes the settable fields of a set.
pub fn update(id: i32, change: impl FnOnce(&mut libc::semid_ds)) -> Result<(), Errno> {
    let mut ds = stat(id)?;
    change(&mut ds);
    set(id, &ds).map(drop)
}

/// IPC_INFO or SEM_INFO: the raw return value and the seminfo written.
pub fn info(cmd: i32) -> Result<(i32, libc::seminfo), Errno> {
    // SAFETY: an all-zero seminfo is valid for the kernel to overwrite.
    let mut info: libc::seminfo = unsafe { std::mem::zeroed() };
    let r = ctl(0, 0, cmd, Semun { info: &mut info })?;
    Ok((r, info))
}

/// SEM_STAT of a kernel index: the identifier there and its semid_ds.
pub fn stat_index(index: i32) -> Result<(i32, libc::semid_ds), Errno> {
    // SAFETY: an all-zero semid_ds is a valid value to overwrite.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    let id = ctl(index, 0, libc::SEM_STAT, Semun { buf: &mut ds })?;
    Ok((id, ds))
}

/// IPC_RMID.
pub fn remove(id: i32) -> Result<i32, Errno> {
    ctl(id, 0, libc::IPC_RMID, Semun::NONE)
}

/// One operation of a semop call: (sem_num, sem_op, sem_flg).
pub type Op = (u16, i16, i16);

/// semop(2): the operations, applied together or not at all; the raw return value.
pub fn op(id: i32, ops: &[Op]) -> Result<i32, Errno> {
    let mut sops: Vec<libc::sembuf> =
        ops.iter().map(|&(sem_num, sem_op, sem_flg)| libc::sembuf { sem_num, sem_op, sem_flg }).collect();
    // SAFETY: sops holds ops.len() valid sembufs.
    Errno::result(unsafe { libc::semop(id, sops.as_mut_ptr(), sops.len()) })
}

/// semop with IPC_NOWAIT added to every operation: for the worker's own operations, which are
/// expected to complete at once. If a kernel would make one wait, it returns EAGAIN (an
/// observation) instead of hanging the worker until its deadline; waits happen in children.
pub fn op_now(id: i32, ops: &[Op]) -> Result<i32, Errno> {
    let nowait: Vec<Op> = ops.iter().map(|&(n, op, flg)| (n, op, flg | libc::IPC_NOWAIT as i16)).collect();
    op(id, &nowait)
}

/// Waits until process `pid` sleeps in semop (glibc may enter the kernel through semtimedop).
pub fn wait_blocked_in_semop(pid: i32, within: Duration) -> anyhow::Result<Sample> {
    harness::proc::wait_in_call(pid, "blocked in semop", within, |nr| harness::proc::same_call(libc::SYS_semop, nr))
}
