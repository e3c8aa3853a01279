//! System V keys: ftok, IPC_PRIVATE and keys a program chooses.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use harness::obs::errno_name;
use harness::privilege::is_root;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;

use crate::sysv::sys::{ftok, msg, unused_keys};

pub const CASES: &[Case] = &[
    Case::new(
        "sysv.key.ftok",
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
    Case::new("sysv.key.ipc_private", &["sysv.key.ipc_private_is_zero_and_always_new"], ipc_private),
    Case::new("sysv.key.chosen_key", &["sysv.key.chosen_key_may_collide"], chosen_key),
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
    let (unsearchable, _) = ctx.in_child_as_nobody(|| key_obs(&ftok(&inside, 1)))?;
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
    let (_, keys) = unused_keys(ctx, "key-file", b"c")?;
    let key = keys[0];
    let queue = match msg::MsgQueue::create(ctx, key, 0o600) {
        Ok(q) => q,
        Err(e) => {
            // Another program's object holds this key: not ours to touch.
            ctx.decide(
                "sysv.key.chosen_key_may_collide",
                Decision::skipped(format!("creating with a key no object used a moment before failed: {e}")),
            );
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
