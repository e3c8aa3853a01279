//! System V (XSI) IPC: keys (ftok, IPC_PRIVATE, chosen keys) and the model the three mechanisms
//! share (identifiers, lifetime beyond the process, ipcs/ipcrm, naming, who can use them).
//!
//! Every object is made with IPC_PRIVATE or IPC_CREAT | IPC_EXCL on a key of the worker's own
//! files, owned by a value that removes it, and journaled.

pub mod key;
pub mod msg;
pub mod sem;
pub mod shm;
pub mod sys;

use harness::journal::Resource;
use harness::obs::errno_name;
use harness::privilege::NOBODY;
use harness::proc::Exit;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;

use crate::util::{libc_symbol, read_some};
use sys::{ftok, unused_keys};

pub const CASES: &[Case] = &[
    Case::new("sysv.identifier_types", &["sysv.model.identifier_and_key_types"], identifier_types),
    Case::new("sysv.outlives_process", &["sysv.model.outlives_its_process"], outlives_process),
    Case::new("sysv.ipcs_and_ipcrm", &["sysv.model.ipcs_lists_ipcrm_removes"], ipcs_and_ipcrm)
        .needs_commands(&["ipcs", "ipcrm"]),
    Case::new("sysv.call_names", &["sysv.model.get_op_ctl_naming"], call_names),
    Case::new("sysv.who_can_use", &["sysv.model.related_and_unrelated_processes"], who_can_use),
    Case::new("sysv.three_mechanisms", &["sysv.model.three_mechanisms"], three_mechanisms),
    Case::new("sysv.ipc_perm_fields", &["sysv.model.ipc_perm_fields"], ipc_perm_fields),
    Case::new("sysv.ipc_set_permission", &["sysv.model.ipc_set_creator_or_root"], ipc_set_permission)
        .needs_root("checks what uid 65534 may change on objects root created"),
    Case::new("sysv.no_filesystem_name", &["sysv.model.no_filesystem_name"], no_filesystem_name),
    Case::new("sysv.reference_counting", &["sysv.model.no_reference_count"], reference_counting),
    Case::new("sysv.gone_when_read_or_removed", &["sysv.model.gone_when_read_or_removed"], gone_when_read_or_removed),
    Case::new("sysv.private_id_passed_in_file", &["sysv.model.private_id_passed_in_file"], private_id_passed_in_file),
];

fn identifier_types(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = sys::msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let key_size = std::mem::size_of::<libc::key_t>();
    let long_size = std::mem::size_of::<libc::c_long>();
    // msgget's declared return type is int.
    let id_size = std::mem::size_of_val(&queue.id());
    ctx.observe("identifier >= 0", queue.id() >= 0);
    ctx.observe("sizeof(key_t), sizeof(identifier), sizeof(long)", (key_size, id_size, long_size));
    let decision = if queue.id() < 0 {
        Decision::refuted("a negative identifier came back")
    } else if key_size == long_size && id_size == long_size {
        Decision::holds("identifiers are non-negative longs and key_t is a long")
    } else {
        Decision::partial(format!(
            "identifiers are non-negative, but neither is a long: the identifier is an int ({id_size} bytes) and key_t is an int ({key_size} bytes), a long being {long_size}"
        ))
    };
    ctx.decide("sysv.model.identifier_and_key_types", decision);
    Ok(())
}

fn outlives_process(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (id_r, id_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let journal = ctx.child_journal()?;
    let mut maker = ctx.spawn(|| {
        let private = libc::IPC_PRIVATE;
        let made = (|| {
            let q = journal.create_journaled(
                || sys::msg::get(private, libc::IPC_CREAT | 0o600),
                |&id| Resource::SysvMsg { id, key: private },
            )?;
            sys::msg::send(q, 1, b"left behind", 0)?;
            let s = journal.create_journaled(
                || sys::sem::get(private, 1, libc::IPC_CREAT | 0o600),
                |&id| Resource::SysvSem { id, key: private },
            )?;
            sys::sem::setval(s, 0, 5)?;
            let m = journal.create_journaled(
                || sys::shm::get(private, 4096, libc::IPC_CREAT | 0o600),
                |&id| Resource::SysvShm { id, key: private },
            )?;
            sys::shm::Attachment::attach(m, 4096, 0)?.write(0, 0x5a);
            Ok::<_, Errno>(format!("{q} {s} {m}"))
        })();
        let Ok(ids) = made else { return 2 };
        let _ = nix::unistd::write(&id_w, ids.as_bytes());
        loop {
            nix::unistd::pause();
        }
    })?;
    let report = String::from_utf8_lossy(&read_some(&id_r, 64, limit)?).into_owned();
    let ids: Vec<i32> = report.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [q, s, m] = ids[..] else { anyhow::bail!("the maker reported {report:?}, not three ids") };
    let (queue, set, segment) = (sys::msg::MsgQueue::adopt(q), sys::sem::SemSet::adopt(s), sys::shm::Segment::adopt(m));
    maker.signal(Signal::SIGKILL)?;
    let exit = maker.wait_exit(limit)?;
    let qnum = sys::msg::stat(queue.id()).map(|ds| ds.msg_qnum);
    let value = sys::sem::getval(set.id(), 0);
    let byte = sys::shm::Attachment::attach(segment.id(), 4096, libc::SHM_RDONLY).map(|a| a.read(0));
    ctx.observe("the process that made the objects", exit);
    ctx.observe("message queue: messages still queued", harness::obs::call(&qnum));
    ctx.observe("semaphore set: GETVAL", harness::obs::call(&value));
    ctx.observe("shared memory: byte 0 on attaching again", harness::obs::call(&byte.map(|b| format!("{b:#04x}"))));
    ctx.check(
        "sysv.model.outlives_its_process",
        exit == (Exit::Signal { signal: "SIGKILL", core_dumped: false })
            && qnum == Ok(1)
            && value == Ok(5)
            && byte == Ok(0x5a),
        "all three objects, with their message, value and bytes, were still there after their maker was killed",
        "an object went away with its process (see observation)",
    );
    Ok(())
}

/// One object of each mechanism, made with IPC_PRIVATE and removed when dropped.
struct OneOfEach {
    queue: sys::msg::MsgQueue,
    set: sys::sem::SemSet,
    segment: sys::shm::Segment,
}

impl OneOfEach {
    fn create(ctx: &mut Ctx, keys: [libc::key_t; 3], mode: i32) -> Result<OneOfEach, Errno> {
        Ok(OneOfEach {
            queue: sys::msg::MsgQueue::create(ctx, keys[0], mode)?,
            set: sys::sem::SemSet::create(ctx, keys[1], 1, mode)?,
            segment: sys::shm::Segment::create(ctx, keys[2], 4096, mode)?,
        })
    }

    /// Each mechanism's ipc_perm, by name.
    fn perms(&self) -> Result<[(&'static str, libc::ipc_perm); 3], Errno> {
        Ok([
            ("msg", sys::msg::stat(self.queue.id())?.msg_perm),
            ("sem", sys::sem::stat(self.set.id())?.sem_perm),
            ("shm", sys::shm::stat(self.segment.id())?.shm_perm),
        ])
    }
}

fn three_mechanisms(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut tables: Vec<String> = match std::fs::read_dir("/proc/sysvipc") {
        Ok(dir) => dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(e) => vec![format!("cannot list /proc/sysvipc: {e}")],
    };
    tables.sort();
    let made = OneOfEach::create(ctx, [libc::IPC_PRIVATE; 3], 0o600);
    ctx.observe("/proc/sysvipc", &tables);
    ctx.observe(
        "an object of each made with IPC_PRIVATE",
        harness::obs::call(&made.as_ref().map(|_| "msg, sem, shm").map_err(|e| *e)),
    );
    ctx.check(
        "sysv.model.three_mechanisms",
        tables == ["msg", "sem", "shm"] && made.is_ok(),
        "the kernel keeps exactly three tables, msg, sem and shm, and each made an object",
        "the kernel's System V mechanisms differ from the three named (see observation)",
    );
    Ok(())
}

fn ipc_perm_fields(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (_, keys) = unused_keys(ctx, "key-file", b"msh")?;
    let keys = [keys[0], keys[1], keys[2]];
    let objects = match OneOfEach::create(ctx, keys, 0o640) {
        Ok(o) => o,
        Err(e) => {
            ctx.decide(
                "sysv.model.ipc_perm_fields",
                Decision::skipped(format!("creating with keys no object used a moment before failed: {e}")),
            );
            return Ok(());
        }
    };
    let (euid, egid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    let mut all = true;
    for ((name, perm), key) in objects.perms()?.into_iter().zip(keys) {
        let fields = serde_json::json!({
            "__key is the key": perm.__key == key,
            "uid == cuid == euid": perm.uid == euid && perm.cuid == euid,
            "gid == cgid == egid": perm.gid == egid && perm.cgid == egid,
            "mode & 0777": format!("{:04o}", perm.mode & 0o777),
        });
        all &= perm.__key == key
            && perm.uid == euid
            && perm.cuid == euid
            && perm.gid == egid
            && perm.cgid == egid
            && perm.mode & 0o777 == 0o640;
        ctx.observe(format!("{name}: ipc_perm"), fields);
    }
    ctx.check(
        "sysv.model.ipc_perm_fields",
        all,
        "each object's ipc_perm held its key, the creator's effective ids as owner and creator, and mode 0640 from the flags",
        "an ipc_perm field was not what creation set (see observation)",
    );
    Ok(())
}

/// IPC_SET of one object's ipc_perm, by whoever runs it: the call's result.
fn update_perm(mechanism: &str, id: i32, change: impl FnOnce(&mut libc::ipc_perm)) -> Result<(), Errno> {
    match mechanism {
        "msg" => sys::msg::update(id, |ds| change(&mut ds.msg_perm)),
        "sem" => sys::sem::update(id, |ds| change(&mut ds.sem_perm)),
        _ => sys::shm::update(id, |ds| change(&mut ds.shm_perm)),
    }
}

fn set_mode(mechanism: &str, id: i32, mode: u16) -> Result<(), Errno> {
    update_perm(mechanism, id, |perm| perm.mode = mode)
}

fn set_owner(mechanism: &str, id: i32, owner: u32) -> Result<(), Errno> {
    update_perm(mechanism, id, |perm| (perm.uid, perm.gid) = (owner, owner))
}

/// What IPC_SET did on one object of each mechanism (msg, sem, shm) made by root: as uid 65534
/// while neither creator nor owner, by root (giving the object to 65534), then as 65534, now the
/// owner but not the creator. Observed, not decided: the model's case and sem's both read it.
pub(crate) struct IpcSetOutcomes {
    pub stranger: Vec<String>,
    pub by_root: Vec<String>,
    pub owner: Vec<String>,
}

pub(crate) fn ipc_set_outcomes(ctx: &mut Ctx) -> anyhow::Result<IpcSetOutcomes> {
    // Others may read (IPC_STAT needs it), so a refusal can only come from IPC_SET's own rule.
    let objects = OneOfEach::create(ctx, [libc::IPC_PRIVATE; 3], 0o644)?;
    let ids = [("msg", objects.queue.id()), ("sem", objects.set.id()), ("shm", objects.segment.id())];
    let as_nobody = |ctx: &mut Ctx| {
        ctx.in_child_as_nobody(|| {
            ids.iter()
                .map(|(m, id)| harness::obs::call(&set_mode(m, *id, 0o640).map(|_| 0)).to_string())
                .collect::<Vec<_>>()
        })
    };
    let (stranger, _) = as_nobody(ctx)?;
    let by_root: Vec<String> =
        ids.iter().map(|(m, id)| harness::obs::call(&set_owner(m, *id, NOBODY).map(|_| 0)).to_string()).collect();
    let (owner, _) = as_nobody(ctx)?;
    let outcomes = IpcSetOutcomes { stranger: stranger.unwrap_or_default(), by_root, owner: owner.unwrap_or_default() };
    ctx.observe("IPC_SET mode as uid 65534, neither creator nor owner (msg, sem, shm)", &outcomes.stranger);
    ctx.observe("IPC_SET uid/gid := 65534 by root, the creator (msg, sem, shm)", &outcomes.by_root);
    ctx.observe("IPC_SET mode as uid 65534, now the owner but not the creator (msg, sem, shm)", &outcomes.owner);
    Ok(outcomes)
}

fn ipc_set_permission(ctx: &mut Ctx) -> anyhow::Result<()> {
    let IpcSetOutcomes { stranger, by_root, owner } = ipc_set_outcomes(ctx)?;
    let all = |v: &[String], want: &str| v.len() == 3 && v.iter().all(|r| r == want);
    let eperm = "\"-1 EPERM\"";
    let decision = if !all(&stranger, eperm) || !all(&by_root, "0") {
        Decision::refuted("a process that is neither creator nor superuser changed an object, or the creator could not (see observation)")
    } else if all(&owner, "0") {
        Decision::partial(
            "a stranger got EPERM and the creator (root) succeeded, but so did the owner, who is neither creator nor superuser: creator, owner and root may",
        )
    } else {
        Decision::holds("only the creator and the superuser could IPC_SET; the owner got EPERM")
    };
    ctx.decide("sysv.model.ipc_set_creator_or_root", decision);
    Ok(())
}

fn no_filesystem_name(ctx: &mut Ctx) -> anyhow::Result<()> {
    let segment = sys::shm::Segment::create(ctx, libc::IPC_PRIVATE, 4096, 0o600)?;
    let attached = sys::shm::Attachment::attach(segment.id(), 4096, 0)?;
    let start = format!("{:x}-", attached.addr());
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let line = maps.lines().find(|l| l.starts_with(&start)).unwrap_or("").to_string();
    let name = line.split_whitespace().nth(5).unwrap_or("").to_string();
    let reachable = !name.is_empty() && std::fs::symlink_metadata(&name).is_ok();
    let changed = set_mode("shm", segment.id(), 0o640).and_then(|_| sys::shm::stat(segment.id()));
    let mode = changed.map(|ds| format!("{:04o}", ds.shm_perm.mode & 0o777));
    ctx.observe("the attachment in /proc/self/maps is named", name.replace(&format!("{:08x}", 0), "<key>"));
    ctx.observe("that name exists in the file system", reachable);
    ctx.observe("mode after shmctl(IPC_SET, 0640), by IPC_STAT", harness::obs::call(&mode));
    let decision = if reachable {
        Decision::refuted(format!("the segment is reachable in the file system as {name}"))
    } else if mode.as_deref() != Ok("0640") {
        Decision::refuted("the object's own calls did not change its permissions")
    } else {
        Decision::holds(
            "no path reaches the object: /proc/self/maps names the attachment /SYSV<key> (deleted), the kernel's internal file, which does not exist in the file system; its mode was changed with shmctl IPC_SET",
        )
    };
    ctx.decide("sysv.model.no_filesystem_name", decision);
    Ok(())
}

fn reference_counting(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (_, keys) = unused_keys(ctx, "key-file", b"r")?;
    let key = keys[0];
    let segment = sys::shm::Segment::create(ctx, key, 4096, 0o600)?;
    let nattch = |id| sys::shm::stat(id).map(|ds| ds.shm_nattch);
    let before = nattch(segment.id());
    let attached = sys::shm::Attachment::attach(segment.id(), 4096, 0)?;
    let one = nattch(segment.id());
    // A forked child inherits the parent's attachment, then attaches once more itself.
    let (in_child, _) = ctx.in_child(|| {
        let inherited = nattch(segment.id()).ok()?;
        let _second = sys::shm::Attachment::attach(segment.id(), 4096, 0).ok()?;
        Some((inherited, nattch(segment.id()).ok()?))
    })?;
    let after_child = nattch(segment.id());
    sys::shm::remove(segment.id())?;
    let marked = sys::shm::stat(segment.id());
    attached.write(0, 0x42);
    let usable = attached.read(0) == 0x42;
    let by_key = sys::shm::get(key, 0, 0);
    drop(attached);
    let after_last_detach = sys::shm::stat(segment.id()).map(|_| "still there");
    ctx.observe(
        "shm_nattch: before attaching, attached, in a forked child (inherited, after its own shmat), after the child",
        (harness::obs::call(&before), harness::obs::call(&one), in_child.flatten(), harness::obs::call(&after_child)),
    );
    ctx.observe(
        "after IPC_RMID while attached: IPC_STAT key, SHM_DEST in mode",
        harness::obs::call(&marked.map(|ds| (format!("{:#x}", ds.shm_perm.__key), ds.shm_perm.mode & 0o1000 != 0))),
    );
    ctx.observe("  the attachment still reads and writes", usable);
    ctx.observe("  shmget(key) finds it", harness::obs::call(&by_key.map(|_| "an id")));
    ctx.observe("after the last detach: IPC_STAT", harness::obs::call(&after_last_detach));

    let queue = sys::msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let (_, user) = ctx.in_child(|| sys::msg::send(queue.id(), 1, b"x", 0).is_ok())?;
    let queue_stays = sys::msg::stat(queue.id()).is_ok();
    ctx.observe("a queue whose only user exited: still there", queue_stays);
    ctx.observe("  its user", user);
    let counted = one == Ok(1) && in_child == Some(Some((2, 3))) && after_child == Ok(1);
    let deferred = marked.is_ok() && usable && after_last_detach == Err(Errno::EINVAL);
    let decision = if counted && deferred && queue_stays {
        Decision::partial(
            "a message queue keeps no count of users (it stays when its last user is gone, as semaphore sets and segments outlive their makers in sysv.model.outlives_its_process), but a shared memory segment counts attachments in shm_nattch (0; 1 attached; 2 after a fork, which inherits the attachment, and 3 with the child's own; 1 once the child exited), and a segment removed while attached lives on, key set to IPC_PRIVATE and marked SHM_DEST, until its last detach frees it",
        )
    } else if queue_stays && !counted {
        Decision::holds("no object counted its users")
    } else {
        Decision::refuted("an object went away with its users (see observation)")
    };
    ctx.decide("sysv.model.no_reference_count", decision);
    Ok(())
}

fn gone_when_read_or_removed(ctx: &mut Ctx) -> anyhow::Result<()> {
    let objects = OneOfEach::create(ctx, [libc::IPC_PRIVATE; 3], 0o600)?;
    let (q, s, m) = (objects.queue.id(), objects.set.id(), objects.segment.id());
    sys::msg::send(q, 1, b"the only message", 0)?;
    let read_msg = sys::msg::recv(q, 64, 0, libc::IPC_NOWAIT).map(|(_, t)| t.len());
    sys::sem::setval(s, 0, 1)?;
    let read_sem = sys::sem::getval(s, 0);
    let read_shm = sys::shm::Attachment::attach(m, 4096, libc::SHM_RDONLY).map(|a| a.read(0));
    let after_read = [sys::msg::stat(q).is_ok(), sys::sem::stat(s).is_ok(), sys::shm::stat(m).is_ok()];
    let removed = [sys::msg::remove(q).map(drop), sys::sem::remove(s).map(drop), sys::shm::remove(m)];
    let after_remove = [
        sys::msg::stat(q).map(drop).err().map(errno_name),
        sys::sem::stat(s).map(drop).err().map(errno_name),
        sys::shm::stat(m).map(drop).err().map(errno_name),
    ];
    ctx.observe(
        "read: msgrcv of the last message, GETVAL, attach and read",
        (harness::obs::call(&read_msg), harness::obs::call(&read_sem), harness::obs::call(&read_shm)),
    );
    ctx.observe("still there after being read (msg, sem, shm)", after_read);
    ctx.observe("IPC_RMID of each", removed.iter().map(|r| harness::obs::call(&r.map(|_| 0))).collect::<Vec<_>>());
    ctx.observe("IPC_STAT after IPC_RMID (msg, sem, shm)", &after_remove);
    let gone = after_remove.iter().all(|e| e.as_deref() == Some("EINVAL"));
    let decision = if gone && after_read.iter().all(|&b| b) {
        Decision::partial(
            "a call removes an object (IPC_RMID: IPC_STAT then gives EINVAL for all three), but reading does not: an emptied queue, a read semaphore and a read segment all stay",
        )
    } else if gone {
        Decision::holds("reading and removing both made objects go away")
    } else {
        Decision::refuted("IPC_RMID did not remove an object (see observation)")
    };
    ctx.decide("sysv.model.gone_when_read_or_removed", decision);
    Ok(())
}

fn private_id_passed_in_file(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = sys::msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let file = ctx.temp_path("server-id");
    std::fs::write(&file, queue.id().to_string())?;
    // The client knows only the file: it parses the identifier from it. It reports a bool, not
    // an Option<()>: Some(()) serialises to null, which comes back as None.
    let (sent, _) = ctx.in_child(|| {
        let id: Option<i32> = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse().ok());
        id.is_some_and(|id| sys::msg::send(id, 7, b"hello server", 0).is_ok())
    })?;
    let got = sys::msg::recv(queue.id(), 64, 7, libc::IPC_NOWAIT);
    let text = got.map(|(_, t)| String::from_utf8_lossy(&t).into_owned());
    ctx.observe("the client's msgsnd to the id it read from the file succeeded", sent == Some(true));
    ctx.observe("the server received", harness::obs::call(&text));
    ctx.check(
        "sysv.model.private_id_passed_in_file",
        text.as_deref() == Ok("hello server"),
        "a client that read the IPC_PRIVATE queue's id from a file reached the same queue",
        "the identifier read from the file did not reach the queue (see observation)",
    );
    Ok(())
}

fn ipcs_and_ipcrm(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = sys::msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let id = queue.id().to_string();
    let listed = std::process::Command::new("ipcs").arg("-q").output()?;
    let listed_ours =
        String::from_utf8_lossy(&listed.stdout).lines().any(|l| l.split_whitespace().nth(1) == Some(id.as_str()));
    let removed = std::process::Command::new("ipcrm").args(["-q", &id]).status()?;
    let after = sys::msg::stat(queue.id()).err();
    ctx.observe("ipcs -q lists the queue's id", listed_ours);
    ctx.observe("ipcrm -q <id> exit status", removed.code());
    ctx.observe("msgctl(IPC_STAT) afterwards", after.map(errno_name));
    ctx.check(
        "sysv.model.ipcs_lists_ipcrm_removes",
        listed_ours && removed.success() && after == Some(Errno::EINVAL),
        "ipcs -q listed the queue and ipcrm -q removed it (IPC_STAT then: EINVAL)",
        "ipcs or ipcrm did not do as described (see observation)",
    );
    Ok(())
}

fn call_names(ctx: &mut Ctx) -> anyhow::Result<()> {
    let exists = |name: &str| libc_symbol(name).is_some();
    if !exists("msgget") {
        ctx.decide(
            "sysv.model.get_op_ctl_naming",
            Decision::skipped("no dynamic symbol table to look names up in (a static build)"),
        );
        return Ok(());
    }
    let mut table = serde_json::Map::new();
    let mut missing = Vec::new();
    for mech in ["msg", "sem", "shm"] {
        for call in ["get", "op", "ctl"] {
            let name = format!("{mech}{call}");
            let found = exists(&name);
            if !found {
                missing.push(name.clone());
            }
            table.insert(name, found.into());
        }
    }
    let instead: Vec<(&str, bool)> = ["msgsnd", "msgrcv", "shmat", "shmdt"].iter().map(|n| (*n, exists(n))).collect();
    ctx.observe("libc has (dlsym)", &table);
    ctx.observe("the calls that exist in place of msgop and shmop", &instead);
    let decision = if missing.is_empty() {
        Decision::holds("all nine xxxget / xxxop / xxxctl exist")
    } else if missing == ["msgop", "shmop"] && instead.iter().all(|(_, found)| *found) {
        Decision::partial(
            "xxxget and xxxctl exist for all three, but xxxop only for semaphores (semop): msgop and shmop are not calls; messages use msgsnd/msgrcv and shared memory shmat/shmdt",
        )
    } else {
        Decision::refuted(format!("missing: {}", missing.join(", ")))
    };
    ctx.decide("sysv.model.get_op_ctl_naming", decision);
    Ok(())
}

fn who_can_use(ctx: &mut Ctx) -> anyhow::Result<()> {
    // Related: the identifier is inherited across fork.
    let private = sys::msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let (_, related_exit) = ctx.in_child(|| sys::msg::send(private.id(), 1, b"from my parent's queue", 0).is_ok())?;
    let related = sys::msg::recv(private.id(), 64, 0, libc::IPC_NOWAIT);

    // Unrelated: the other process knows only the file; it derives the key and looks the queue up.
    let (file, keys) = unused_keys(ctx, "rendezvous", b"u")?;
    let key = keys[0];
    let by_key = sys::msg::MsgQueue::create(ctx, key, 0o600)?;
    let (found, _) = ctx.in_child(|| {
        let id = ftok(&file, b'u' as i32).and_then(|k| sys::msg::get(k, 0)).ok()?;
        sys::msg::send(id, 2, b"found by key", 0).ok()?;
        Some(id)
    })?;
    let unrelated = sys::msg::recv(by_key.id(), 64, 0, libc::IPC_NOWAIT);
    let text = |r: &Result<(libc::c_long, Vec<u8>), Errno>| match r {
        Ok((_, t)) => String::from_utf8_lossy(t).into_owned(),
        Err(e) => format!("-1 {}", errno_name(*e)),
    };
    ctx.observe("a child used the inherited id; the parent received", text(&related));
    ctx.observe("child exit", related_exit);
    ctx.observe("another process found the queue from ftok(file, 'u'): same id", found.flatten() == Some(by_key.id()));
    ctx.observe("  and the queue's owner received", text(&unrelated));
    ctx.check(
        "sysv.model.related_and_unrelated_processes",
        text(&related) == "from my parent's queue" && text(&unrelated) == "found by key",
        "a child used the inherited identifier, and a process knowing only the file found the same queue by key",
        "one of the two ways to share the queue failed (see observation)",
    );
    Ok(())
}
