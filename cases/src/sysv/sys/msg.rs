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
        let id = ctx.create_journaled(
            || get(key, libc::IPC_CREAT | libc::IPC_EXCL | mode),
            |&id| Resource::SysvMsg { id, key },
        )?;
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

/// msgsnd(2) of one message, `mtype` then `text`: the raw return value.
pub fn send(id: i32, mtype: libc::c_long, text: &[u8], flags: i32) -> Result<i32, Errno> {
    send_buf(id, &message(mtype, text), flags)
}

/// A message as msgsnd reads it: a long, then the text.
pub fn message(mtype: libc::c_long, text: &[u8]) -> Vec<u8> {
    let mut buf = mtype.to_ne_bytes().to_vec();
    buf.extend_from_slice(text);
    buf
}

/// msgsnd(2) of a buffer made by [`message`]: the raw return value.
pub fn send_buf(id: i32, buf: &[u8], flags: i32) -> Result<i32, Errno> {
    let text_len = buf.len().saturating_sub(std::mem::size_of::<libc::c_long>());
    assert!(buf.len() >= std::mem::size_of::<libc::c_long>(), "a message starts with its type");
    // SAFETY: buf holds a long followed by text_len bytes, as msgsnd reads them.
    Errno::result(unsafe { libc::msgsnd(id, buf.as_ptr().cast(), text_len, flags) })
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

/// msgctl(IPC_SET) from a msqid_ds (msg_perm.uid, gid, mode and msg_qbytes are used).
pub fn set(id: i32, ds: &libc::msqid_ds) -> Result<(), Errno> {
    let mut copy = *ds;
    // SAFETY: copy is a valid msqid_ds; IPC_SET only reads it.
    Errno::result(unsafe { libc::msgctl(id, libc::IPC_SET, &mut copy) }).map(drop)
}

/// IPC_STAT, `change`, IPC_SET: changes the settable fields of a queue.
pub fn update(id: i32, change: impl FnOnce(&mut libc::msqid_ds)) -> Result<(), Errno> {
    let mut ds = stat(id)?;
    change(&mut ds);
    set(id, &ds)
}

/// msgctl(IPC_INFO or MSG_INFO): the raw return value (the highest index in use) and the limits
/// or usage the kernel wrote.
pub fn info(cmd: i32) -> Result<(i32, libc::msginfo), Errno> {
    // SAFETY: an all-zero msginfo is valid; the kernel writes a msginfo for these commands.
    let mut info: libc::msginfo = unsafe { std::mem::zeroed() };
    // SAFETY: for IPC_INFO and MSG_INFO the buffer argument points to a struct msginfo.
    let r = Errno::result(unsafe { libc::msgctl(0, cmd, (&mut info as *mut libc::msginfo).cast()) })?;
    Ok((r, info))
}

/// msgctl(MSG_STAT) of a kernel index: the identifier there, and its msqid_ds.
pub fn stat_index(index: i32) -> Result<(i32, libc::msqid_ds), Errno> {
    // SAFETY: an all-zero msqid_ds is a valid value for MSG_STAT to overwrite.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a valid msqid_ds.
    let id = Errno::result(unsafe { libc::msgctl(index, libc::MSG_STAT, &mut ds) })?;
    Ok((id, ds))
}

/// msgctl(IPC_RMID).
pub fn remove(id: i32) -> Result<(), Errno> {
    // SAFETY: IPC_RMID takes no buffer.
    Errno::result(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}
