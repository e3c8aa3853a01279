//! Message queues: msgget, msgsnd, msgrcv, msgctl.

use harness::journal::Resource;
use harness::Ctx;
use nix::errno::Errno;

/// A message queue the suite created; removed when dropped.
#[derive(Debug)]
pub struct MsgQueue {
    id: i32,
}

impl MsgQueue {
    /// Creates a new queue: `key` is IPC_PRIVATE or a key of the suite's own files, always with
    /// IPC_CREAT | IPC_EXCL, so an existing object is never taken over.
    pub fn create(ctx: &mut Ctx, key: libc::key_t, mode: i32) -> Result<MsgQueue, Errno> {
        let id = get(key, libc::IPC_CREAT | libc::IPC_EXCL | mode)?;
        ctx.created(Resource::SysvMsg { id, key });
        Ok(MsgQueue { id })
    }

    /// Takes charge of a queue another process of this case created (and the case journaled).
    pub fn adopt(id: i32) -> MsgQueue {
        MsgQueue { id }
    }

    pub fn id(&self) -> i32 {
        self.id
    }
}

impl Drop for MsgQueue {
    fn drop(&mut self) {
        let _ = remove(self.id);
    }
}

/// msgget(2).
pub fn get(key: libc::key_t, flags: i32) -> Result<i32, Errno> {
    // SAFETY: msgget takes two integers.
    Errno::result(unsafe { libc::msgget(key, flags) })
}

/// msgsnd(2) of one message: `mtype` then `text`.
pub fn send(id: i32, mtype: libc::c_long, text: &[u8], flags: i32) -> Result<(), Errno> {
    let mut buf = mtype.to_ne_bytes().to_vec();
    buf.extend_from_slice(text);
    // SAFETY: buf holds a long followed by text.len() bytes, as msgsnd reads them.
    Errno::result(unsafe { libc::msgsnd(id, buf.as_ptr().cast(), text.len(), flags) }).map(drop)
}

/// msgrcv(2) with room for `max` bytes of text: the message's type and text.
pub fn recv(id: i32, max: usize, msgtyp: libc::c_long, flags: i32) -> Result<(libc::c_long, Vec<u8>), Errno> {
    let long = std::mem::size_of::<libc::c_long>();
    let mut buf = vec![0u8; long + max];
    // SAFETY: buf has room for a long and max bytes, as msgrcv writes them.
    let n = Errno::result(unsafe { libc::msgrcv(id, buf.as_mut_ptr().cast(), max, msgtyp, flags) })?;
    let mtype = libc::c_long::from_ne_bytes(buf[..long].try_into().expect("a long's bytes"));
    Ok((mtype, buf[long..long + n as usize].to_vec()))
}

/// msgctl(IPC_STAT).
pub fn stat(id: i32) -> Result<libc::msqid_ds, Errno> {
    // SAFETY: an all-zero msqid_ds is a valid value for IPC_STAT to overwrite.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a valid msqid_ds.
    Errno::result(unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) })?;
    Ok(ds)
}

/// msgctl(IPC_RMID).
pub fn remove(id: i32) -> Result<(), Errno> {
    // SAFETY: IPC_RMID takes no buffer.
    Errno::result(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}
