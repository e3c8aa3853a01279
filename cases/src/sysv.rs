//! System V (XSI) IPC: keys (ftok, IPC_PRIVATE, chosen keys) and the model the three mechanisms
//! share (identifiers, lifetime beyond the process, ipcs/ipcrm, naming, who can use them).
//!
//! Every object is made with IPC_PRIVATE or IPC_CREAT | IPC_EXCL on a key of the worker's own
//! files, owned by a value that removes it, and journaled.

use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use harness::journal::Resource;
use harness::obs::errno_name;
use harness::privilege::{drop_to, is_root, NOBODY};
use harness::proc::Exit;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;

use crate::sys::{ftok, msg};
use crate::util::read_some;

pub const CASES: &[Case] = &[
    Case::new(
        "sysv.ftok",
        &[
            "sysv.key.ftok_same_arguments_same_key",
            "sysv.key.ftok_256_keys_per_file",
            "sysv.key.ftok_path_must_exist",
            "sysv.key.ftok_low_8_bits_of_id_not_zero",
            "sysv.key.ftok_returns_key_or_minus_one",
            "sysv.key.ftok_composition",
        ],
        ftok_rules,
    ),
    Case::new("sysv.ipc_private", &["sysv.key.ipc_private_is_zero_and_always_new"], ipc_private),
    Case::new("sysv.chosen_key", &["sysv.key.chosen_key_may_collide"], chosen_key),
    Case::new("sysv.identifier_types", &["sysv.model.identifier_and_key_types"], identifier_types),
    Case::new("sysv.outlives_process", &["sysv.model.outlives_its_process"], outlives_process),
    Case::new("sysv.ipcs_and_ipcrm", &["sysv.model.ipcs_lists_ipcrm_removes"], ipcs_and_ipcrm)
        .needs_commands(&["ipcs", "ipcrm"]),
    Case::new("sysv.call_names", &["sysv.model.get_op_ctl_naming"], call_names),
    Case::new("sysv.who_can_use", &["sysv.model.related_and_unrelated_processes"], who_can_use),
];

fn key_obs(r: &Result<libc::key_t, Errno>) -> String {
    match r {
        Ok(k) => format!("{:#010x}", *k as u32),
        Err(e) => format!("-1 {}", errno_name(*e)),
    }
}

fn ftok_rules(ctx: &mut Ctx) -> anyhow::Result<()> {
    let file = ctx.temp_path("key-file");
    std::fs::write(&file, b"k")?;
    let other = ctx.temp_path("other-key-file");
    std::fs::write(&other, b"o")?;

    let a1 = ftok(&file, 1);
    let a1_again = ftok(&file, 1);
    let a2 = ftok(&file, 2);
    // Keys depend on the file's inode: only their relations are stable enough to record.
    ctx.observe("ftok(file, 1) succeeded", a1.is_ok());
    ctx.observe("ftok(file, 1) twice: equal", a1 == a1_again);
    ctx.observe("ftok(file, 1) vs ftok(file, 2): different", a1 != a2);
    ctx.check(
        "sysv.key.ftok_same_arguments_same_key",
        a1.is_ok() && a1 == a1_again && a1 != a2,
        "the same path and id gave the same key twice; another id gave another key",
        "ftok's keys did not follow its arguments (see observation)",
    );

    let keys: Vec<Result<libc::key_t, Errno>> = (0..=256).map(|id| ftok(&file, id)).collect();
    let mut distinct: Vec<libc::key_t> = keys[..256].iter().filter_map(|k| k.ok()).collect();
    distinct.sort();
    distinct.dedup();
    let wraps = keys[256] == keys[0];
    ctx.observe("distinct keys for ids 0..=255", distinct.len());
    ctx.observe("ftok(file, 256) equals ftok(file, 0)", wraps);
    ctx.check(
        "sysv.key.ftok_256_keys_per_file",
        distinct.len() == 256 && wraps,
        "ids 0..=255 gave 256 different keys, and id 256 gave id 0's key again",
        format!("the file gave {} different keys for 256 ids", distinct.len()),
    );

    let missing = ftok(&ctx.temp_path("no-such-file"), 1);
    let locked_dir = ctx.temp_path("locked");
    std::fs::create_dir(&locked_dir)?;
    let inside = locked_dir.join("file");
    std::fs::write(&inside, b"i")?;
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o000))?;
    // Root searches any directory; the check of an inaccessible path runs as uid 65534 then.
    let (unsearchable, _) = ctx.in_child(|| {
        if is_root() && drop_to(NOBODY, NOBODY).is_err() {
            return "could not drop privileges".to_string();
        }
        key_obs(&ftok(&inside, 1))
    })?;
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o700))?;
    ctx.observe("ftok(missing path, 1)", key_obs(&missing));
    ctx.observe(
        format!("ftok(path under a mode-000 directory, 1){}", if is_root() { ", as uid 65534" } else { "" }),
        &unsearchable,
    );
    ctx.check(
        "sysv.key.ftok_path_must_exist",
        missing == Err(Errno::ENOENT) && unsearchable.as_deref() == Some("-1 EACCES"),
        "a missing path gave -1 ENOENT, an inaccessible one -1 EACCES",
        "ftok made a key from a path that is missing or not accessible (see observation)",
    );

    let low = ftok(&file, 1) == ftok(&file, 257) && ftok(&file, 0x41) == ftok(&file, 0x141);
    let zero = ftok(&file, 0);
    ctx.observe("ftok(file, 1) == ftok(file, 257) and 0x41 == 0x141", low);
    ctx.observe(
        "ftok(file, 0)",
        match &zero {
            Ok(k) => format!("a key with top byte {:#04x}", (*k as u32) >> 24),
            Err(e) => format!("-1 {}", errno_name(*e)),
        },
    );
    let decision = match (low, &zero) {
        (true, Ok(_)) => Decision::partial(
            "only the low 8 bits count (1 and 257, 0x41 and 0x141 gave the same keys), but 0 is accepted: ftok(file, 0) returned a key with 0 in its top byte, so ids range over 0..255",
        ),
        (true, Err(_)) => Decision::holds("only the low 8 bits count and id 0 was refused"),
        (false, _) => Decision::refuted("ids that differ above bit 7 gave different keys"),
    };
    ctx.decide("sysv.key.ftok_low_8_bits_of_id_not_zero", decision);

    ctx.check(
        "sysv.key.ftok_returns_key_or_minus_one",
        a1.is_ok_and(|k| k != -1) && missing == Err(Errno::ENOENT),
        "success returned a key, failure -1 with errno (ENOENT)",
        "ftok's return values differ (see observation)",
    );

    let mut composed = Vec::new();
    for (path, id) in [(&file, 1), (&file, 0x41), (&other, 0xff)] {
        let meta = std::fs::metadata(path)?;
        let expected = ((id as u32 & 0xff) << 24) | ((meta.dev() as u32 & 0xff) << 16) | (meta.ino() as u32 & 0xffff);
        let got = ftok(path, id).map(|k| k as u32);
        composed.push(got == Ok(expected));
    }
    ctx.observe("key == id<<24 | (st_dev & 0xff)<<16 | (st_ino & 0xffff), for 3 file/id pairs", &composed);
    ctx.check(
        "sysv.key.ftok_composition",
        composed.iter().all(|&c| c),
        "every key was the id's low 8 bits, then st_dev's low 8 bits, then st_ino's low 16 bits",
        "a key was composed otherwise (see observation)",
    );
    Ok(())
}

fn ipc_private(ctx: &mut Ctx) -> anyhow::Result<()> {
    let flags = 0o600;
    let first = msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, flags);
    let second = msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, flags);
    let ids = (first.as_ref().map(|q| q.id()), second.as_ref().map(|q| q.id()));
    ctx.observe("IPC_PRIVATE", libc::IPC_PRIVATE);
    ctx.observe(
        "msgget(IPC_PRIVATE, IPC_CREAT|IPC_EXCL) twice: two different ids",
        matches!(ids, (Ok(a), Ok(b)) if a != b && a >= 0 && b >= 0),
    );
    ctx.check(
        "sysv.key.ipc_private_is_zero_and_always_new",
        libc::IPC_PRIVATE == 0 && matches!(ids, (Ok(a), Ok(b)) if a != b),
        "IPC_PRIVATE is 0 and each IPC_CREAT|IPC_EXCL get with it made a new queue",
        "IPC_PRIVATE did not make a new object each time (see observation)",
    );
    Ok(())
}

fn chosen_key(ctx: &mut Ctx) -> anyhow::Result<()> {
    let file = ctx.temp_path("key-file");
    std::fs::write(&file, b"k")?;
    let key = ftok(&file, b'c' as i32)?;
    let queue = match msg::MsgQueue::create(ctx, key, 0o600) {
        Ok(q) => q,
        Err(e) => {
            // Another program's object holds this key: not ours to touch.
            ctx.decide("sysv.key.chosen_key_may_collide", Decision::error(format!("the key was taken: {e}")));
            return Ok(());
        }
    };
    let again = msg::get(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600);
    let open = msg::get(key, libc::IPC_CREAT | 0o600);
    ctx.observe("first msgget(key, IPC_CREAT|IPC_EXCL)", "a new queue");
    ctx.observe("again with IPC_CREAT|IPC_EXCL", harness::obs::call(&again.map(|_| "an id")));
    ctx.observe("again with IPC_CREAT only: the existing queue's id", open == Ok(queue.id()));
    ctx.check(
        "sysv.key.chosen_key_may_collide",
        again == Err(Errno::EEXIST) && open == Ok(queue.id()),
        "a key in use gave EEXIST with IPC_EXCL, and the existing queue without it: the kernel does not keep chosen keys apart",
        "a key in use was handled otherwise (see observation)",
    );
    Ok(())
}

fn identifier_types(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
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
    let mut maker = ctx.spawn(|| {
        let Ok(id) = msg::get(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) else { return 2 };
        let _ = msg::send(id, 1, b"left behind", 0);
        let _ = nix::unistd::write(&id_w, id.to_string().as_bytes());
        loop {
            nix::unistd::pause();
        }
    })?;
    let id: i32 = String::from_utf8_lossy(&read_some(&id_r, 32, limit)?).parse()?;
    ctx.created(Resource::SysvMsg { id, key: libc::IPC_PRIVATE });
    let queue = msg::MsgQueue::adopt(id);
    maker.signal(Signal::SIGKILL)?;
    let exit = maker.wait_exit(limit)?;
    let after = msg::stat(queue.id());
    let qnum = after.as_ref().map(|ds| ds.msg_qnum).ok();
    ctx.observe("the process that made the queue", exit);
    ctx.observe("msgctl(IPC_STAT) afterwards: messages queued", qnum);
    ctx.check(
        "sysv.model.outlives_its_process",
        exit == (Exit::Signal { signal: "SIGKILL", core_dumped: false }) && qnum == Some(1),
        "the queue, with its message, was still there after its maker was killed",
        "the queue went away with its process (see observation)",
    );
    Ok(())
}

fn ipcs_and_ipcrm(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let id = queue.id().to_string();
    let listed = std::process::Command::new("ipcs").arg("-q").output()?;
    let listed_ours =
        String::from_utf8_lossy(&listed.stdout).lines().any(|l| l.split_whitespace().nth(1) == Some(id.as_str()));
    let removed = std::process::Command::new("ipcrm").args(["-q", &id]).status()?;
    let after = msg::stat(queue.id()).err();
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
    let exists = |name: &str| {
        let c = CString::new(name).expect("no NUL in a symbol name");
        // SAFETY: dlsym looks a name up in the loaded objects; the pointer is only compared.
        !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) }.is_null()
    };
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
    let private = msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let (_, related_exit) = ctx.in_child(|| msg::send(private.id(), 1, b"from my parent's queue", 0).is_ok())?;
    let related = msg::recv(private.id(), 64, 0, libc::IPC_NOWAIT);

    // Unrelated: the other process knows only the file; it derives the key and looks the queue up.
    let file = ctx.temp_path("rendezvous");
    std::fs::write(&file, b"r")?;
    let key = ftok(&file, b'u' as i32)?;
    let by_key = msg::MsgQueue::create(ctx, key, 0o600)?;
    let (found, _) = ctx.in_child(|| {
        let id = ftok(&file, b'u' as i32).and_then(|k| msg::get(k, 0)).ok()?;
        msg::send(id, 2, b"found by key", 0).ok()?;
        Some(id)
    })?;
    let unrelated = msg::recv(by_key.id(), 64, 0, libc::IPC_NOWAIT);
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
