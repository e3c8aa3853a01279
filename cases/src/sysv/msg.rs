//! System V message queues: msgget, msgsnd, msgrcv, msgctl, and msgrcv's type selection as a
//! model-based property.
//!
//! Queues are IPC_PRIVATE or IPC_CREAT | IPC_EXCL on keys of the worker's own files, owned by a
//! `MsgQueue` that removes them and journaled so the runner removes them after a killed worker.

use std::cell::Cell;

use harness::obs::{call, errno_name};
use harness::privilege::NOBODY;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::sysv::sys::msg::{self, MsgQueue};
use crate::sysv::sys::unused_keys;
use crate::util::{blocked_obs, catch_with_noop, sysctl, within_a_second};

pub const CASES: &[Case] = &[
    Case::new(
        "sysv.msg.new_queue",
        &[
            "sysv.msg.new_queue_mode_from_flags",
            "sysv.msg.new_queue_zero_fields",
            "sysv.msg.new_queue_ctime_now",
            "sysv.msg.new_queue_qbytes_msgmnb",
        ],
        new_queue,
    ),
    Case::new("sysv.msg.get_with_ipc_creat", &["sysv.msg.get_creates_with_ipc_creat"], get_with_ipc_creat),
    Case::new(
        "sysv.msg.permissions",
        &["sysv.msg.write_to_send_read_to_receive", "sysv.msg.permissions_read_write_only"],
        permissions,
    )
    .needs_root("checks what uid 65534 may do on queues root made"),
    Case::new(
        "sysv.msg.stat_and_set",
        &[
            "sysv.msg.ipc_stat_copies_state",
            "sysv.msg.ipc_set_fields",
            "sysv.msg.ipc_set_by_creator_owner_or_root",
            "sysv.msg.only_root_sets_qbytes",
            "sysv.msg.ipc_rmid_by_creator_owner_or_root",
        ],
        stat_and_set,
    )
    .needs_root("changes owners and compares root with uid 65534 as creator, owner and stranger"),
    Case::new(
        "sysv.msg.removed_while_in_use",
        &[
            "sysv.msg.ipc_rmid_immediate_later_calls_ermid",
            "sysv.msg.blocked_send_removed_queue",
            "sysv.msg.blocked_receive_removed_queue",
        ],
        removed_while_in_use,
    ),
    Case::new("sysv.msg.info_commands", &["sysv.msg.info_commands", "sysv.msg.ctl_returns_zero"], info_commands),
    Case::new(
        "sysv.msg.send_and_receive",
        &[
            "sysv.msg.send_appends_to_tail",
            "sysv.msg.mtype_must_be_positive",
            "sysv.msg.zero_length_text",
            "sysv.msg.size_is_text_length",
            "sysv.msg.send_returns_zero",
            "sysv.msg.receive_takes_message_out",
            "sysv.msg.receive_returns_text_bytes",
            "sysv.msg.copied_on_send",
        ],
        send_and_receive,
    ),
    Case::new(
        "sysv.msg.full_queue",
        &[
            "sysv.msg.full_queue_blocks_until_space",
            "sysv.msg.send_nowait_eagain",
            "sysv.msg.blocked_send_signal_eintr",
        ],
        full_queue,
    ),
    Case::new("sysv.msg.buffering", &["sysv.msg.buffers_without_receiver"], buffering),
    Case::new(
        "sysv.msg.receive_rules",
        &[
            "sysv.msg.noerror_truncates_else_e2big",
            "sysv.msg.receive_blocks_until_matching_type",
            "sysv.msg.blocked_receive_signal_eintr",
        ],
        receive_rules,
    ),
    Case::new(
        "sysv.msg.type_selection",
        &[
            "sysv.msg.type_zero_takes_first",
            "sysv.msg.type_positive_first_of_that_type",
            "sysv.msg.type_negative_lowest_type",
            "sysv.msg.except_first_of_other_type",
            "sysv.msg.nowait_no_message_enomsg",
        ],
        type_selection,
    ),
    Case::new("sysv.msg.duplex", &["sysv.msg.duplex"], duplex),
    Case::new("sysv.msg.posix_and_system_v", &["sysv.msg.posix_and_system_v"], posix_and_system_v)
        .needs_kernel(&["POSIX_MQUEUE"]),
];

/// A message's text as an observation, or the call's errno.
fn text_obs(r: &Result<(libc::c_long, Vec<u8>), Errno>) -> String {
    match r {
        Ok((t, text)) => format!("type {t}, {:?}", String::from_utf8_lossy(text)),
        Err(e) => format!("-1 {}", errno_name(*e)),
    }
}

fn new_queue(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o640)?;
    let ds = msg::stat(queue.id())?;
    let msgmnb = sysctl("kernel.msgmnb").and_then(|v| v.parse::<u64>().ok());
    let zeros = [
        ("msg_stime", ds.msg_stime),
        ("msg_rtime", ds.msg_rtime),
        ("msg_lrpid", ds.msg_lrpid as i64),
        ("msg_lspid", ds.msg_lspid as i64),
        ("msg_qnum", ds.msg_qnum as i64),
    ];
    ctx.observe("msgget(IPC_PRIVATE, IPC_CREAT|IPC_EXCL|0640): msg_perm.mode", format!("{:04o}", ds.msg_perm.mode));
    ctx.observe("msg_stime, msg_rtime, msg_lrpid, msg_lspid, msg_qnum", zeros.map(|(_, v)| v));
    ctx.observe("msg_ctime within 1 s of time()", within_a_second(ds.msg_ctime));
    ctx.observe("msg_qbytes", ds.msg_qbytes);
    ctx.observe("kernel.msgmnb", msgmnb);
    ctx.check(
        "sysv.msg.new_queue_mode_from_flags",
        ds.msg_perm.mode & 0o777 == 0o640,
        "msg_perm.mode was 0640, the permission bits of msgflg",
        format!("msg_perm.mode was {:04o} for msgflg 0640", ds.msg_perm.mode),
    );
    ctx.check(
        "sysv.msg.new_queue_zero_fields",
        zeros.iter().all(|(_, v)| *v == 0),
        "all five were 0",
        "a field was not 0 (see observation)",
    );
    ctx.check(
        "sysv.msg.new_queue_ctime_now",
        within_a_second(ds.msg_ctime),
        "msg_ctime was the current time (within a second)",
        "msg_ctime was not the current time",
    );
    ctx.check(
        "sysv.msg.new_queue_qbytes_msgmnb",
        Some(ds.msg_qbytes) == msgmnb,
        "msg_qbytes equalled /proc/sys/kernel/msgmnb",
        "msg_qbytes differed from kernel.msgmnb (see observation)",
    );
    Ok(())
}

fn get_with_ipc_creat(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (_, keys) = unused_keys(ctx, "key-file", b"g")?;
    let key = keys[0];
    // SAFETY: msgget takes integers; the raw return value is the observation.
    let without_creat = unsafe { libc::msgget(key, 0o600) };
    let without_errno = Errno::last();
    if without_creat != -1 {
        // Someone else's queue holds this key: not ours to touch.
        ctx.decide(
            "sysv.msg.get_creates_with_ipc_creat",
            Decision::skipped("could not be checked: the key was already in use"),
        );
        return Ok(());
    }
    // The key was free a moment ago; IPC_EXCL keeps the suite off any queue made since.
    let created = MsgQueue::create(ctx, key, 0o600);
    let found = msg::get(key, 0);
    ctx.observe(
        "msgget(key, 0600) with no queue for the key",
        format!("{without_creat} {}", errno_name(without_errno)),
    );
    ctx.observe(
        "msgget(key, IPC_CREAT|0600): an id >= 0",
        call(&created.as_ref().map(|q| q.id() >= 0).map_err(|e| *e)),
    );
    ctx.observe(
        "msgget(key, 0) afterwards: the same id",
        call(&found.map(|id| created.as_ref().is_ok_and(|q| q.id() == id))),
    );
    ctx.check(
        "sysv.msg.get_creates_with_ipc_creat",
        without_creat == -1 && without_errno == Errno::ENOENT && created.is_ok() && found.is_ok(),
        "without IPC_CREAT msgget returned -1 ENOENT; with it, a new queue's id, which the key then finds",
        "msgget did not create on IPC_CREAT only (see observation)",
    );
    Ok(())
}

fn permissions(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut table = Vec::new();
    for mode in [0o602, 0o604, 0o601] {
        let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, mode)?;
        msg::send(queue.id(), 1, b"queued by root", 0)?;
        let (result, _) = ctx.in_child_as_nobody(|| {
            let sent = call(&msg::send(queue.id(), 2, b"from 65534", libc::IPC_NOWAIT)).to_string();
            let got = msg::recv(queue.id(), 64, 1, libc::IPC_NOWAIT).map(|(_, t)| t.len() as i32);
            (sent, call(&got).to_string())
        })?;
        table.push((format!("{mode:04o}"), result.unwrap_or_default()));
    }
    let all_bits = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o777)?;
    let stored = msg::stat(all_bits.id())?.msg_perm.mode & 0o777;
    ctx.observe("as uid 65534 on root's queue: mode -> (msgsnd, msgrcv)", &table);
    ctx.observe("msg_perm.mode of a queue made with 0777", format!("{stored:04o}"));
    let row = |m: &str| table.iter().find(|(mode, _)| mode == m).map(|(_, r)| (r.0.as_str(), r.1.as_str()));
    let eacces = "\"-1 EACCES\"";
    let write_only_ok = row("0602").is_some_and(|(s, r)| s == "0" && r == eacces);
    let read_only_ok = row("0604").is_some_and(|(s, r)| s == eacces && r != eacces);
    ctx.check(
        "sysv.msg.write_to_send_read_to_receive",
        write_only_ok && read_only_ok,
        "write permission alone let uid 65534 send but not receive (EACCES), read permission alone the reverse",
        "the permissions did not split sending and receiving as described (see observation)",
    );
    let execute_grants_nothing = row("0601") == Some((eacces, eacces));
    let decision = match (execute_grants_nothing, stored == 0o777) {
        (true, true) => Decision::partial(
            "only read and write mean anything (execute-only access let uid 65534 neither send nor receive), but the execute bits are not refused: a queue made with 0777 reports mode 0777",
        ),
        (true, false) => Decision::holds("execute bits were dropped and grant nothing"),
        (false, _) => Decision::refuted("an execute bit granted access (see observation)"),
    };
    ctx.decide("sysv.msg.permissions_read_write_only", decision);
    Ok(())
}

/// A queue made by uid 65534 in a child, handed to the case to own and remove. Its key is one of
/// the worker's own files, journaled before the child runs: a child killed at any point (by the
/// deadline, or by its wait running out) leaves nothing the runner cannot find.
fn queue_made_by_nobody(ctx: &mut Ctx) -> anyhow::Result<MsgQueue> {
    let (_, keys) = unused_keys(ctx, "made-by-nobody", &[1])?;
    let key = keys[0];
    ctx.created(harness::journal::Resource::SysvMsgByKey { key, cuid: NOBODY });
    let (id, _) = ctx.in_child_as_nobody(move || msg::get(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600).ok())?;
    let id = id.flatten().ok_or_else(|| anyhow::anyhow!("uid 65534 could not create a queue"))?;
    Ok(MsgQueue::adopt(id))
}

/// Runs `body` as uid 65534 in a child and returns its observation.
fn as_nobody(ctx: &mut Ctx, body: impl FnOnce() -> String) -> anyhow::Result<String> {
    let (r, exit) = ctx.in_child_as_nobody(body)?;
    Ok(r.unwrap_or_else(|| format!("child {exit}")))
}

/// capability(7) number of CAP_SYS_RESOURCE (bit 24 of CapEff).
const CAP_SYS_RESOURCE: u32 = 24;

fn set_qbytes(id: i32, qbytes: u64) -> String {
    call(&msg::update(id, |ds| ds.msg_qbytes = qbytes).map(|_| 0)).to_string()
}

fn set_mode(id: i32, mode: u16) -> String {
    call(&msg::update(id, |ds| ds.msg_perm.mode = mode).map(|_| 0)).to_string()
}

fn stat_and_set(ctx: &mut Ctx) -> anyhow::Result<()> {
    let me = nix::unistd::getpid().as_raw();
    // IPC_STAT follows the queue's state.
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o666)?;
    for len in [10, 20, 0] {
        msg::send(queue.id(), 1, &vec![b'x'; len], 0)?;
    }
    let after_sends = msg::stat(queue.id())?;
    msg::recv(queue.id(), 64, 0, libc::IPC_NOWAIT)?;
    let after_recv = msg::stat(queue.id())?;
    let state = |ds: &libc::msqid_ds| {
        serde_json::json!({
            "msg_qnum": ds.msg_qnum,
            "__msg_cbytes": ds.__msg_cbytes,
            "msg_lspid is this process": ds.msg_lspid == me,
            "msg_lrpid is this process": ds.msg_lrpid == me,
            "msg_stime now": within_a_second(ds.msg_stime),
            "msg_rtime now": within_a_second(ds.msg_rtime),
        })
    };
    ctx.observe("IPC_STAT after sending 10, 20 and 0 bytes", state(&after_sends));
    ctx.observe("IPC_STAT after receiving one", state(&after_recv));
    ctx.check(
        "sysv.msg.ipc_stat_copies_state",
        after_sends.msg_qnum == 3
            && after_sends.__msg_cbytes == 30
            && after_sends.msg_lspid == me
            && after_recv.msg_qnum == 2
            && after_recv.__msg_cbytes == 20
            && after_recv.msg_lrpid == me,
        "IPC_STAT reported 3 messages / 30 bytes, then 2 / 20, with this process as last sender and receiver",
        "IPC_STAT's copy did not follow the queue (see observation)",
    );

    // IPC_SET: which fields it takes.
    let set = msg::update(queue.id(), |wanted| {
        (wanted.msg_perm.uid, wanted.msg_perm.gid, wanted.msg_perm.mode) = (NOBODY, NOBODY, 0o640);
        wanted.msg_qbytes = 1000;
        // Fields IPC_SET should leave alone.
        (wanted.msg_perm.cuid, wanted.msg_qnum, wanted.msg_lspid) = (1234, 99, 1);
    });
    let got = msg::stat(queue.id())?;
    ctx.observe(
        "IPC_SET uid, gid := 65534, mode := 0640, qbytes := 1000, and cuid := 1234, qnum := 99, lspid := 1",
        call(&set.map(|_| 0)),
    );
    ctx.observe(
        "IPC_STAT afterwards: uid, gid, mode, qbytes",
        (got.msg_perm.uid, got.msg_perm.gid, format!("{:04o}", got.msg_perm.mode & 0o777), got.msg_qbytes),
    );
    ctx.observe("  cuid, qnum, lspid is this process", (got.msg_perm.cuid, got.msg_qnum, got.msg_lspid == me));
    ctx.check(
        "sysv.msg.ipc_set_fields",
        set.is_ok()
            && (got.msg_perm.uid, got.msg_perm.gid, got.msg_perm.mode & 0o777, got.msg_qbytes)
                == (NOBODY, NOBODY, 0o640, 1000)
            && got.msg_perm.cuid == 0
            && got.msg_qnum == 2
            && got.msg_lspid == me,
        "uid, gid, mode and msg_qbytes took the new values; cuid, msg_qnum and msg_lspid were left as they were",
        "IPC_SET changed other fields or missed one (see observation)",
    );

    // Who may IPC_SET and IPC_RMID: stranger, owner (not creator), creator (not owner), root.
    let strangers = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o666)?;
    let stranger_set = as_nobody(ctx, || set_mode(strangers.id(), 0o600))?;
    let stranger_rmid = as_nobody(ctx, || call(&msg::remove(strangers.id()).map(|_| 0)).to_string())?;
    let owned = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    // Root hands the queues over with IPC_SET itself: a refusal is part of the answer.
    let give_to_nobody = msg::update(owned.id(), |ds| (ds.msg_perm.uid, ds.msg_perm.gid) = (NOBODY, NOBODY));
    let owner_set = as_nobody(ctx, || set_mode(owned.id(), 0o640))?;
    let created = queue_made_by_nobody(ctx)?;
    let give_to_root = msg::update(created.id(), |ds| (ds.msg_perm.uid, ds.msg_perm.gid) = (0, 0));
    let creator_set = as_nobody(ctx, || set_mode(created.id(), 0o660))?;
    let root_set = set_mode(strangers.id(), 0o600);
    ctx.observe(
        "IPC_SET uid/gid as root: to 65534 (an owner that is not the creator), back to 0 (a creator that is not the owner)",
        (call(&give_to_nobody.map(|_| 0)), call(&give_to_root.map(|_| 0))),
    );
    ctx.observe(
        "IPC_SET mode as uid 65534: stranger, owner (not creator), creator (not owner)",
        (&stranger_set, &owner_set, &creator_set),
    );
    ctx.observe("IPC_SET mode as root on the stranger's queue", &root_set);
    let eperm = "\"-1 EPERM\"";
    ctx.check(
        "sysv.msg.ipc_set_by_creator_owner_or_root",
        stranger_set == eperm
            && owner_set == "0"
            && creator_set == "0"
            && root_set == "0"
            && give_to_nobody.is_ok()
            && give_to_root.is_ok(),
        "a stranger got EPERM; the owner, the creator and root succeeded",
        "IPC_SET's permission differed (see observation)",
    );

    // msg_qbytes: the owner lowers and raises it; above msgmnb needs CAP_SYS_RESOURCE.
    let msgmnb: u64 = sysctl("kernel.msgmnb").and_then(|v| v.parse().ok()).unwrap_or(16384);
    let by_owner = as_nobody(ctx, || {
        let id = owned.id();
        format!(
            "lower to 100: {}, back to msgmnb: {}, msgmnb+1: {}",
            set_qbytes(id, 100),
            set_qbytes(id, msgmnb),
            set_qbytes(id, msgmnb + 1)
        )
    })?;
    let by_root = set_qbytes(owned.id(), msgmnb * 2);
    ctx.observe("msg_qbytes set by the owner, uid 65534", &by_owner);
    ctx.observe("msg_qbytes := 2 * msgmnb by root", &by_root);
    let owner_within = by_owner.starts_with("lower to 100: 0, back to msgmnb: 0");
    let owner_above_refused = by_owner.ends_with("msgmnb+1: \"-1 EPERM\"");
    let caps = harness::privilege::effective_capabilities();
    let has_sys_resource =
        caps.as_deref().and_then(|c| u64::from_str_radix(c, 16).ok()).map(|c| c & (1 << CAP_SYS_RESOURCE) != 0);
    ctx.observe("root has CAP_SYS_RESOURCE", has_sys_resource);
    let root_note = match (has_sys_resource, by_root.as_str()) {
        (Some(true), "0") => "root, which has CAP_SYS_RESOURCE, raised it above msgmnb".to_string(),
        (Some(false), r) if r.contains("EPERM") => {
            "root here lacks CAP_SYS_RESOURCE (CapEff bit 24 clear), so it got EPERM above msgmnb like anyone else"
                .to_string()
        }
        (_, r) => format!("root above msgmnb: {r}"),
    };
    let decision = if owner_within && owner_above_refused {
        Decision::partial(format!(
            "an unprivileged owner may set msg_qbytes anywhere up to kernel.msgmnb (lowered to 100 and raised back); only a value above msgmnb needs privilege, CAP_SYS_RESOURCE rather than being root: uid 65534 got EPERM, and {root_note}"
        ))
    } else if !owner_within && by_root == "0" {
        Decision::holds("only root could change msg_qbytes")
    } else {
        Decision::refuted(format!("owner: {by_owner}; root: {by_root}"))
    };
    ctx.decide("sysv.msg.only_root_sets_qbytes", decision);

    // IPC_RMID, same cast.
    let owner_rmid = as_nobody(ctx, || call(&msg::remove(owned.id()).map(|_| 0)).to_string())?;
    let creator_rmid = as_nobody(ctx, || call(&msg::remove(created.id()).map(|_| 0)).to_string())?;
    let root_rmid = call(&msg::remove(strangers.id()).map(|_| 0)).to_string();
    ctx.observe("IPC_RMID as uid 65534: stranger, owner, creator", (&stranger_rmid, &owner_rmid, &creator_rmid));
    ctx.observe("IPC_RMID as root on the stranger's queue", &root_rmid);
    ctx.check(
        "sysv.msg.ipc_rmid_by_creator_owner_or_root",
        stranger_rmid == eperm && owner_rmid == "0" && creator_rmid == "0" && root_rmid == "0",
        "a stranger got EPERM; the owner, the creator and root removed their queues",
        "IPC_RMID's permission differed (see observation)",
    );
    Ok(())
}

/// Fills a queue with 16-byte messages, without blocking: how many fitted.
fn fill(id: i32) -> anyhow::Result<usize> {
    let mut sent = 0;
    loop {
        match msg::send(id, 1, &[b'f'; 16], libc::IPC_NOWAIT) {
            Ok(_) => sent += 1,
            Err(Errno::EAGAIN) => return Ok(sent),
            Err(e) => anyhow::bail!("filling the queue: {e}"),
        }
    }
}

/// A queue of `qbytes` bytes, full of 16-byte messages.
fn full_queue_of(ctx: &mut Ctx, qbytes: u64) -> anyhow::Result<(MsgQueue, usize)> {
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    msg::update(queue.id(), |ds| ds.msg_qbytes = qbytes)?;
    let n = fill(queue.id())?;
    Ok((queue, n))
}

fn removed_while_in_use(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // Removal with messages queued; what the next calls get.
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    msg::send(queue.id(), 1, b"one", 0)?;
    msg::send(queue.id(), 2, b"two", 0)?;
    let id = queue.id();
    msg::remove(id)?;
    let (later, _) = ctx.in_child(|| {
        let send = call(&msg::send(id, 1, b"late", libc::IPC_NOWAIT)).to_string();
        let recv = call(&msg::recv(id, 64, 0, libc::IPC_NOWAIT).map(|(_, t)| t.len())).to_string();
        let stat = call(&msg::stat(id).map(|_| 0)).to_string();
        [send, recv, stat]
    })?;
    let later = later.unwrap_or_default();
    ctx.observe("another process, after IPC_RMID: msgsnd, msgrcv, IPC_STAT", &later);

    // A receiver blocked at the moment of removal.
    let empty = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let mut receiver =
        ctx.spawn_reporting(|| call(&msg::recv(empty.id(), 64, 0, 0).map(|(_, t)| t.len())).to_string())?;
    let recv_blocked = receiver.child().wait_blocked(libc::SYS_msgrcv, limit);
    msg::remove(empty.id())?;
    let (receiver_got, _) = receiver.finish(limit)?;

    // A sender blocked on a full queue at the moment of removal.
    let (full, _) = full_queue_of(ctx, 64)?;
    let mut sender = ctx.spawn_reporting(|| call(&msg::send(full.id(), 1, &[b's'; 16], 0)).to_string())?;
    let send_blocked = sender.child().wait_blocked(libc::SYS_msgsnd, limit);
    msg::remove(full.id())?;
    let (sender_got, _) = sender.finish(limit)?;

    ctx.observe("a receiver waiting on an empty queue", blocked_obs(&recv_blocked));
    ctx.observe("  its msgrcv after IPC_RMID", &receiver_got);
    ctx.observe("a sender waiting on a full queue", blocked_obs(&send_blocked));
    ctx.observe("  its msgsnd after IPC_RMID", &sender_got);
    let eidrm = Some("\"-1 EIDRM\"".to_string());
    ctx.check(
        "sysv.msg.blocked_receive_removed_queue",
        recv_blocked.is_ok() && receiver_got == eidrm,
        "the waiting msgrcv returned -1 EIDRM when the queue was removed",
        "the waiting receiver saw something else (see observation)",
    );
    ctx.check(
        "sysv.msg.blocked_send_removed_queue",
        send_blocked.is_ok() && sender_got == eidrm,
        "the waiting msgsnd returned -1 EIDRM when the queue was removed",
        "the waiting sender saw something else (see observation)",
    );
    let all_later = |want: &str| later.len() == 3 && later.iter().all(|r| r == want);
    let decision = if all_later("\"-1 EINVAL\"") && eidrm == receiver_got {
        Decision::partial(
            "removal is immediate (messages and all), but there is no ERMID: calls made afterwards get EINVAL (the id names nothing), and only a call waiting at that moment gets EIDRM",
        )
    } else if all_later("\"-1 EIDRM\"") {
        Decision::holds("every later call got EIDRM")
    } else {
        Decision::refuted("the queue was still usable after IPC_RMID (see observation)")
    };
    ctx.decide("sysv.msg.ipc_rmid_immediate_later_calls_ermid", decision);
    Ok(())
}

fn info_commands(ctx: &mut Ctx) -> anyhow::Result<()> {
    // Two queues, so the one examined cannot have id 0 (which would hide a non-zero return).
    let _first = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let ipc_info = msg::info(libc::IPC_INFO);
    let msg_info = msg::info(libc::MSG_INFO);
    let limits = ipc_info.as_ref().map(|(_, i)| (i.msgmax, i.msgmnb, i.msgmni)).ok();
    let sysctls = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni"]
        .map(|n| sysctl(n).and_then(|v| v.parse::<i32>().ok()).unwrap_or(-1));
    let highest = ipc_info.as_ref().map(|(r, _)| *r).unwrap_or(-1);
    let (own_index, found) = (0..=highest)
        .find_map(|index| msg::stat_index(index).ok().filter(|(id, _)| *id == queue.id()).map(|f| (index, f)))
        .unzip();
    let queues_in_use = msg_info.as_ref().map(|(_, i)| i.msgpool).unwrap_or(-1);
    let stat = msg::stat(queue.id()).map(|_| 0);
    let set = msg::update(queue.id(), |ds| ds.msg_perm.mode = 0o600).map(|_| 0);
    let rmid = msg::remove(queue.id()).map(|_| 0);
    ctx.observe(
        "IPC_INFO: msgmax, msgmnb, msgmni equal kernel.msgmax, msgmnb, msgmni",
        limits.map(|l| l == (sysctls[0], sysctls[1], sysctls[2])),
    );
    ctx.observe(
        // Not "the same": other processes' queues may come and go between the two calls.
        "IPC_INFO and MSG_INFO each returned an index in use at least this queue's (the highest)",
        msg_info.as_ref().ok().map(|(r, _)| own_index.is_some_and(|own| *r >= own && highest >= own)),
    );
    ctx.observe("MSG_INFO: msgpool (queues in use) >= 2", queues_in_use >= 2);
    ctx.observe(
        "MSG_STAT over indexes 0..=highest: one returned this queue's id (not 0)",
        found.map(|(id, _)| id != 0),
    );
    ctx.observe("IPC_STAT, IPC_SET, IPC_RMID returned", (call(&stat), call(&set), call(&rmid)));
    ctx.check(
        "sysv.msg.info_commands",
        limits == Some((sysctls[0], sysctls[1], sysctls[2])) && queues_in_use >= 2 && found.is_some(),
        "IPC_INFO gave the system limits (msgmax, msgmnb, msgmni as in /proc/sys/kernel), MSG_INFO the usage, and MSG_STAT found the queue by its kernel index",
        "an info command failed or disagreed with /proc/sys (see observation)",
    );
    let three_zero = stat == Ok(0) && set == Ok(0) && rmid == Ok(0);
    let decision = if three_zero && found.is_some() {
        Decision::partial(
            "IPC_STAT, IPC_SET and IPC_RMID return 0, but IPC_INFO and MSG_INFO return the highest index in use and MSG_STAT the queue's identifier",
        )
    } else if three_zero {
        Decision::holds("every command returned 0")
    } else {
        Decision::refuted("a command returned something else on success (see observation)")
    };
    ctx.decide("sysv.msg.ctl_returns_zero", decision);
    Ok(())
}

fn send_and_receive(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let id = queue.id();
    // Order.
    for (t, text) in [(3, "first"), (1, "second"), (2, "third")] {
        msg::send(id, t, text.as_bytes(), 0)?;
    }
    let order: Vec<String> = (0..3).map(|_| text_obs(&msg::recv(id, 64, 0, libc::IPC_NOWAIT))).collect();
    ctx.observe("sent types 3, 1, 2; msgrcv(0) three times", &order);
    ctx.check(
        "sysv.msg.send_appends_to_tail",
        order == ["type 3, \"first\"", "type 1, \"second\"", "type 2, \"third\""],
        "messages came out in the order they were sent, whatever their types",
        "messages came out in another order (see observation)",
    );

    // mtype and the raw return values.
    let sent = msg::send(id, 5, b"ok", 0);
    let zero = msg::send(id, 0, b"zero type", libc::IPC_NOWAIT);
    let negative = msg::send(id, -5, b"negative type", libc::IPC_NOWAIT);
    ctx.observe("msgsnd with mtype 5, 0, -5", [call(&sent), call(&zero), call(&negative)]);
    ctx.check(
        "sysv.msg.mtype_must_be_positive",
        sent == Ok(0) && zero == Err(Errno::EINVAL) && negative == Err(Errno::EINVAL),
        "mtype 0 and -5 were refused with EINVAL; 5 was accepted",
        "a non-positive mtype was accepted (see observation)",
    );
    ctx.check(
        "sysv.msg.send_returns_zero",
        sent == Ok(0) && zero == Err(Errno::EINVAL),
        "msgsnd returned 0 on success and -1 (EINVAL) on failure",
        "msgsnd returned something else (see observation)",
    );
    let taken = msg::recv(id, 64, 5, libc::IPC_NOWAIT);
    ctx.observe("msgrcv(5)", text_obs(&taken));

    // Zero-length text, and what the size counts.
    let empty = msg::send(id, 4, b"", 0);
    let empty_bytes = msg::stat(id)?.__msg_cbytes;
    let empty_back = msg::recv(id, 64, 0, libc::IPC_NOWAIT);
    ctx.observe(
        "msgsnd of 0 bytes; bytes queued; msgrcv returned",
        (call(&empty), empty_bytes, empty_back.as_ref().map(|(t, x)| (*t, x.len())).ok()),
    );
    ctx.check(
        "sysv.msg.zero_length_text",
        empty == Ok(0) && empty_back.as_ref().is_ok_and(|(t, x)| *t == 4 && x.is_empty()),
        "a 0-byte message was sent and received (msgrcv returned 0 bytes, type 4)",
        "a 0-byte message was refused or lost (see observation)",
    );
    msg::send(id, 1, b"12345", 0)?;
    let five = msg::stat(id)?;
    ctx.observe("after msgsnd(msgsz = 5): __msg_cbytes", five.__msg_cbytes);
    ctx.check(
        "sysv.msg.size_is_text_length",
        five.__msg_cbytes == 5,
        format!("the queue held 5 bytes: the mtype ({} bytes) is not counted", std::mem::size_of::<libc::c_long>()),
        "the queue's byte count included more than the text (see observation)",
    );
    let back = msg::recv(id, 64, 0, libc::IPC_NOWAIT);
    let after = msg::stat(id)?;
    ctx.observe("msgrcv: type and text, then messages left", (text_obs(&back), after.msg_qnum));
    ctx.check(
        "sysv.msg.receive_takes_message_out",
        back.as_ref().is_ok_and(|(t, x)| *t == 1 && x == b"12345") && after.msg_qnum == 0 && after.__msg_cbytes == 0,
        "msgrcv returned type 1 and the 5 bytes, and the queue was empty afterwards",
        "msgrcv left the message or returned something else (see observation)",
    );

    // The return value counts mtext only.
    msg::send(id, 9, &[b'r'; 37], 0)?;
    let long = std::mem::size_of::<libc::c_long>();
    let mut buf = vec![0u8; long + 100];
    // SAFETY: buf has room for a long and 100 bytes.
    let n = unsafe { libc::msgrcv(id, buf.as_mut_ptr().cast(), 100, 0, libc::IPC_NOWAIT) };
    // SAFETY: as above; nothing is queued, so this fails.
    let failed = unsafe { libc::msgrcv(id, buf.as_mut_ptr().cast(), 100, 0, libc::IPC_NOWAIT) };
    ctx.observe("msgrcv of a 37-byte message into room for 100: returned", n);
    ctx.observe("msgrcv with nothing queued (IPC_NOWAIT): returned", format!("{failed} {}", errno_name(Errno::last())));
    ctx.check(
        "sysv.msg.receive_returns_text_bytes",
        n == 37 && failed == -1,
        "msgrcv returned 37, the text's length, and -1 on failure",
        "msgrcv's return value was not the text's length (see observation)",
    );

    // The message is copied: changing the sender's buffer afterwards changes nothing queued.
    let mut message = msg::message(6, b"original");
    msg::send_buf(id, &message, 0)?;
    let at = message.len() - 8;
    message[at..].copy_from_slice(b"CHANGED!");
    let queued = msg::stat(id)?.__msg_cbytes;
    let copy = msg::recv(id, 64, 6, libc::IPC_NOWAIT);
    ctx.observe(
        "bytes held by the queue after msgsnd; text received after the sender overwrote its buffer",
        (queued, text_obs(&copy)),
    );
    ctx.check(
        "sysv.msg.copied_on_send",
        queued == 8 && copy.as_ref().is_ok_and(|(_, t)| t == b"original"),
        "the kernel held its own 8-byte copy: the receiver got \"original\" although the sender's buffer then said \"CHANGED!\" (how slow the copy is, the note's judgement, is not measured)",
        "the queue did not hold a copy (see observation)",
    );
    Ok(())
}

fn full_queue(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let (queue, n) = full_queue_of(ctx, 64)?;
    let nowait = msg::send(queue.id(), 1, &[b'n'; 16], libc::IPC_NOWAIT);
    ctx.observe("msg_qbytes 64: 16-byte messages queued before EAGAIN", n);
    ctx.observe("one more with IPC_NOWAIT", call(&nowait));
    ctx.check(
        "sysv.msg.send_nowait_eagain",
        nowait == Err(Errno::EAGAIN),
        "with the queue full, msgsnd(IPC_NOWAIT) failed at once with EAGAIN",
        "msgsnd(IPC_NOWAIT) on a full queue did something else (see observation)",
    );

    let mut sender = ctx.spawn_reporting(|| call(&msg::send(queue.id(), 2, &[b'w'; 16], 0)).to_string())?;
    let blocked = sender.child().wait_blocked(libc::SYS_msgsnd, limit);
    let qnum_while_blocked = msg::stat(queue.id())?.msg_qnum;
    msg::recv(queue.id(), 64, 0, libc::IPC_NOWAIT)?;
    let (sent, exit) = sender.finish(limit)?;
    let last_is_waiter = {
        let all: Vec<libc::c_long> =
            std::iter::from_fn(|| msg::recv(queue.id(), 64, 0, libc::IPC_NOWAIT).ok().map(|(t, _)| t)).collect();
        all.last() == Some(&2) && all.len() == n
    };
    ctx.observe("a sender without IPC_NOWAIT", blocked_obs(&blocked));
    ctx.observe("  messages queued while it waited", qnum_while_blocked);
    ctx.observe("  after one message was received: its msgsnd returned, and the child", (&sent, exit.to_string()));
    ctx.observe("  its message is queued last", last_is_waiter);
    ctx.check(
        "sysv.msg.full_queue_blocks_until_space",
        blocked.is_ok() && sent.as_deref() == Some("0") && last_is_waiter,
        "msgsnd slept in the kernel while the queue was full and completed once a receive made room",
        "msgsnd did not wait for room (see observation)",
    );

    // An interrupted msgsnd adds nothing, so the one full queue serves both runs.
    let (full, _) = full_queue_of(ctx, 64)?;
    let outcomes = interrupted_while_waiting(ctx, libc::SYS_msgsnd, || {
        call(&msg::send(full.id(), 1, &[b'i'; 16], 0)).to_string()
    })?;
    ctx.observe("SIGUSR1 (caught) during a waiting msgsnd: (SA_RESTART, waiting, msgsnd returned)", &outcomes);
    ctx.check(
        "sysv.msg.blocked_send_signal_eintr",
        outcomes.first().is_some_and(|(_, _, r)| r == "\"-1 EINTR\""),
        "the waiting msgsnd returned -1 EINTR after the handler ran",
        "the waiting msgsnd did not return EINTR (see observation)",
    );
    Ok(())
}

fn buffering(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let qbytes = msg::stat(queue.id())?.msg_qbytes;
    if qbytes > 1 << 20 {
        ctx.decide(
            "sysv.msg.buffers_without_receiver",
            Decision::skipped(format!("msg_qbytes is {qbytes}: too large to fill quickly")),
        );
        return Ok(());
    }
    let buffered = |id: i32| -> usize {
        let mut bytes = 0;
        while msg::send(id, 1, &[b'b'; 512], libc::IPC_NOWAIT).is_ok() {
            bytes += 512;
        }
        bytes
    };
    let alone = buffered(queue.id());
    // RLIMIT_MSGQUEUE is what `ulimit -q` sets: does it bound a System V queue?
    let other = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let (under_zero_rlimit, _) = ctx.in_child(|| {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_MSGQUEUE, 0, 0).ok()?;
        Some(buffered(other.id()))
    })?;
    let shell =
        ["bash", "sh"].into_iter().find(|s| std::process::Command::new(s).arg("-c").arg("true").output().is_ok());
    let ulimit_line = shell.and_then(|s| {
        let out = std::process::Command::new(s).args(["-c", "ulimit -a"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("message queue"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    });
    ctx.observe("bytes queued with no receiver before EAGAIN (512-byte messages)", alone);
    ctx.observe("msg_qbytes", qbytes);
    ctx.observe("the same with RLIMIT_MSGQUEUE (ulimit -q) set to 0", under_zero_rlimit.flatten());
    ctx.observe(format!("`ulimit -a` in {}: its message-queue line", shell.unwrap_or("no shell")), &ulimit_line);
    let bounded = alone as u64 <= qbytes && alone as u64 + 512 > qbytes;
    let decision = if !bounded {
        Decision::refuted("the queue did not buffer up to msg_qbytes (see observation)")
    } else if under_zero_rlimit.flatten() == Some(alone) {
        Decision::partial(format!(
            "with no receiver the queue buffered {alone} bytes, its msg_qbytes (kernel.msgmnb), but `ulimit -a` does not show that limit: its message-queue line ({}) is RLIMIT_MSGQUEUE, which bounds POSIX queues only; with it at 0 a System V queue still buffered {alone} bytes",
            ulimit_line.as_deref().unwrap_or("absent")
        ))
    } else {
        Decision::holds("the queue buffered up to a limit that RLIMIT_MSGQUEUE (ulimit -q) changes")
    };
    ctx.decide("sysv.msg.buffers_without_receiver", decision);
    Ok(())
}

fn receive_rules(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let id = queue.id();
    msg::send(id, 1, b"0123456789", 0)?;
    let too_small = msg::recv(id, 4, 0, libc::IPC_NOWAIT);
    let still_there = msg::stat(id)?.msg_qnum;
    let truncated = msg::recv(id, 4, 0, libc::IPC_NOWAIT | libc::MSG_NOERROR);
    let left = msg::stat(id)?.msg_qnum;
    ctx.observe(
        "a 10-byte message, msgrcv(msgsz 4): result, messages still queued",
        (text_obs(&too_small), still_there),
    );
    ctx.observe("msgrcv(msgsz 4, MSG_NOERROR): result, messages still queued", (text_obs(&truncated), left));
    let decision = if too_small == Err(Errno::E2BIG) && truncated.as_ref().is_ok_and(|(_, t)| t == b"0123") {
        if still_there == 1 && left == 0 {
            Decision::holds("E2BIG without MSG_NOERROR (the message stayed queued); with it, the first 4 bytes and the rest discarded")
        } else {
            Decision::partial(
                "E2BIG and truncation as described, but the queue's contents changed otherwise (see observation)",
            )
        }
    } else {
        Decision::refuted("an oversized message was handled otherwise (see observation)")
    };
    ctx.decide("sysv.msg.noerror_truncates_else_e2big", decision);

    // A waiting receiver and messages of other types.
    let mut receiver = ctx.spawn_reporting(|| text_obs(&msg::recv(id, 64, 2, 0)))?;
    let blocked = receiver.child().wait_blocked(libc::SYS_msgrcv, limit);
    msg::send(id, 1, b"not for you", 0)?;
    // A matching message is handed to a waiting receiver inside msgsnd; one left queued was not.
    let after_other = msg::stat(id)?.msg_qnum;
    let still_waiting = receiver.child().wait_blocked(libc::SYS_msgrcv, limit);
    msg::send(id, 2, b"for you", 0)?;
    let (got, _) = receiver.finish(limit)?;
    let remaining = msg::stat(id)?.msg_qnum;
    ctx.observe("msgrcv(type 2) on an empty queue", blocked_obs(&blocked));
    ctx.observe("after a type-1 message: messages queued, the receiver", (after_other, blocked_obs(&still_waiting)));
    ctx.observe("after a type-2 message: the receiver got; messages left", (&got, remaining));
    ctx.check(
        "sysv.msg.receive_blocks_until_matching_type",
        blocked.is_ok()
            && after_other == 1
            && still_waiting.is_ok()
            && got.as_deref() == Some("type 2, \"for you\"")
            && remaining == 1,
        "the receiver slept through a type-1 message (left queued) and woke with the type-2 one",
        "the waiting receiver did not wait for its type (see observation)",
    );
    msg::recv(id, 64, 0, libc::IPC_NOWAIT)?;

    let outcomes = interrupted_while_waiting(ctx, libc::SYS_msgrcv, || text_obs(&msg::recv(id, 64, 0, 0)))?;
    ctx.observe("SIGUSR1 (caught) during a waiting msgrcv: (SA_RESTART, waiting, msgrcv returned)", &outcomes);
    ctx.check(
        "sysv.msg.blocked_receive_signal_eintr",
        outcomes.first().is_some_and(|(_, _, r)| r == "-1 EINTR"),
        "the waiting msgrcv returned -1 EINTR after the handler ran",
        "the waiting msgrcv did not return EINTR (see observation)",
    );
    Ok(())
}

/// Runs `waiting_call` in a child that catches SIGUSR1 (without, then with SA_RESTART), proves
/// it asleep in `syscall`, sends the signal, and gives (SA_RESTART, where it slept, what the call
/// returned) for each.
fn interrupted_while_waiting(
    ctx: &mut Ctx,
    syscall: i64,
    waiting_call: impl Fn() -> String,
) -> anyhow::Result<Vec<(bool, serde_json::Value, String)>> {
    let limit = ctx.wait_limit();
    let mut outcomes = Vec::new();
    for restart in [false, true] {
        let mut waiter = ctx.spawn_reporting(|| {
            if catch_with_noop(Signal::SIGUSR1, restart).is_err() {
                return "could not catch SIGUSR1".to_string();
            }
            waiting_call()
        })?;
        let asleep = waiter.child().wait_blocked(syscall, limit);
        waiter.child().signal(Signal::SIGUSR1)?;
        let (got, _) = waiter.finish(limit)?;
        outcomes.push((restart, blocked_obs(&asleep), got.unwrap_or_default()));
    }
    Ok(outcomes)
}

/// How a property run chooses msgtyp (and MSG_EXCEPT).
#[derive(Debug, Clone, Copy)]
enum Selection {
    Zero,
    Positive,
    Negative,
    Except,
}

/// The reference model: the index of the message msgrcv should take, or None (ENOMSG).
fn model_pick(types: &[i64], msgtyp: i64, except: bool) -> Option<usize> {
    match msgtyp {
        0 => (!types.is_empty()).then_some(0),
        t if t > 0 && except => types.iter().position(|&m| m != t),
        t if t > 0 => types.iter().position(|&m| m == t),
        t => types.iter().enumerate().filter(|(_, &m)| m <= -t).min_by_key(|(i, &m)| (m, *i)).map(|(i, _)| i),
    }
}

fn selection_property(ctx: &Ctx, id: i32, selection: Selection, receives: &Cell<u32>) -> harness::ctx::PropertyOutcome {
    let msgtyp = match selection {
        Selection::Zero => (0i64..=0).boxed(),
        Selection::Positive | Selection::Except => (1i64..=6).boxed(),
        Selection::Negative => (-6i64..=-1).boxed(),
    };
    let except = matches!(selection, Selection::Except);
    let strategy = (prop::collection::vec(1i64..=5, 0..10), prop::collection::vec(msgtyp, 1..12));
    ctx.property(strategy, 48, 768, |(types, takes)| {
        while msg::recv(id, 64, 0, libc::IPC_NOWAIT | libc::MSG_NOERROR).is_ok() {}
        let mut model: Vec<(i64, String)> = Vec::new();
        for (seq, &t) in types.iter().enumerate() {
            let text = format!("message {seq}");
            msg::send(id, t, text.as_bytes(), libc::IPC_NOWAIT)
                .map_err(|e| TestCaseError::fail(format!("msgsnd: {e}")))?;
            model.push((t, text));
        }
        for &t in &takes {
            let flags = libc::IPC_NOWAIT | if except { libc::MSG_EXCEPT } else { 0 };
            let got = msg::recv(id, 64, t, flags).map(|(mt, text)| (mt, String::from_utf8_lossy(&text).into_owned()));
            receives.set(receives.get() + 1);
            let types_now: Vec<i64> = model.iter().map(|(mt, _)| *mt).collect();
            let want = model_pick(&types_now, t, except).map(|i| model.remove(i));
            prop_assert_eq!(got.as_ref().ok().cloned(), want.clone(), "queue types {:?}, msgtyp {}", types_now, t);
            if want.is_none() {
                prop_assert_eq!(got, Err(Errno::ENOMSG), "nothing matched, yet not ENOMSG");
            }
        }
        Ok(())
    })
}

fn type_selection(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let rules = [
        (Selection::Zero, "sysv.msg.type_zero_takes_first", "msgtyp 0 always took the oldest message"),
        (
            Selection::Positive,
            "sysv.msg.type_positive_first_of_that_type",
            "msgtyp > 0 always took the oldest message of that type",
        ),
        (
            Selection::Negative,
            "sysv.msg.type_negative_lowest_type",
            "msgtyp < 0 always took the lowest type not above |msgtyp|, oldest first among equals",
        ),
        (
            Selection::Except,
            "sysv.msg.except_first_of_other_type",
            "MSG_EXCEPT with msgtyp > 0 always took the oldest message of another type",
        ),
    ];
    let mut enomsg_ok = true;
    for (selection, claim, holds) in rules {
        let receives = Cell::new(0);
        let outcome = selection_property(ctx, queue.id(), selection, &receives);
        ctx.observe(
            format!(
                "property {selection:?}: queues of 0-9 messages (types 1-5), 1-11 receives each, against the model"
            ),
            &outcome,
        );
        ctx.observe(format!("  receives compared ({selection:?})"), receives.get());
        enomsg_ok &= outcome.passed();
        let decision = if outcome.passed() {
            Decision::holds(format!("{holds} ({} random queues)", outcome.cases))
        } else {
            Decision::refuted(format!(
                "the kernel and the model disagreed: {}; minimal counterexample (types, msgtyps) = {}",
                outcome.reason.as_deref().unwrap_or("?"),
                outcome.counterexample.as_deref().unwrap_or("?")
            ))
        };
        ctx.decide(claim, decision);
    }
    let empty = msg::recv(queue.id(), 64, 0, libc::IPC_NOWAIT);
    ctx.observe("msgrcv(IPC_NOWAIT) on an empty queue", text_obs(&empty));
    ctx.check(
        "sysv.msg.nowait_no_message_enomsg",
        enomsg_ok && empty == Err(Errno::ENOMSG),
        "with nothing matching, msgrcv(IPC_NOWAIT) returned -1 ENOMSG every time (empty queue and every unmatched msgtyp the properties drew)",
        "msgrcv(IPC_NOWAIT) with nothing matching returned something else (see observation)",
    );
    Ok(())
}

fn duplex(ctx: &mut Ctx) -> anyhow::Result<()> {
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let id = queue.id();
    msg::send(id, 1, b"ping", 0)?;
    let (child_got, _) = ctx.in_child(|| {
        let got = text_obs(&msg::recv(id, 64, 1, 0));
        let _ = msg::send(id, 2, b"pong", 0);
        got
    })?;
    let parent_got = text_obs(&msg::recv(id, 64, 2, libc::IPC_NOWAIT));
    ctx.observe("parent -> child (type 1)", &child_got);
    ctx.observe("child -> parent (type 2)", &parent_got);
    ctx.check(
        "sysv.msg.duplex",
        child_got.as_deref() == Some("type 1, \"ping\"") && parent_got == "type 2, \"pong\"",
        "one queue carried a message each way, told apart by type",
        "the queue did not carry both directions (see observation)",
    );
    Ok(())
}

fn posix_and_system_v(ctx: &mut Ctx) -> anyhow::Result<()> {
    use nix::mqueue::{mq_open, mq_receive, mq_send, mq_unlink, MQ_OFlag, MqAttr};
    use nix::sys::stat::Mode;
    let name = format!("/ipc-conform-{}", nix::unistd::getpid());
    let attr = MqAttr::new(0, 4, 64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK;
    let posix = match mq_open(name.as_str(), flags, Mode::from_bits_truncate(0o600), Some(&attr)) {
        Ok(mq) => {
            ctx.created(harness::journal::Resource::PosixMq { name: name.clone() });
            let mut buf = [0u8; 64];
            let mut prio = 0;
            let r = mq_send(&mq, b"posix", 1).and_then(|_| mq_receive(&mq, &mut buf, &mut prio));
            let _ = mq_unlink(name.as_str());
            ctx.released(harness::journal::Resource::PosixMq { name: name.clone() });
            r.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        }
        Err(e) => Err(e),
    };
    let queue = MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    msg::send(queue.id(), 1, b"system v", 0)?;
    let sysv = msg::recv(queue.id(), 64, 0, libc::IPC_NOWAIT);
    ctx.observe("POSIX: mq_open, mq_send, mq_receive", call(&posix));
    ctx.observe("System V: msgget, msgsnd, msgrcv", text_obs(&sysv));
    let decision = match &posix {
        Ok(t) if t == "posix" && sysv.is_ok() => {
            Decision::holds("both kinds worked: a POSIX queue (mq_open) and a System V queue (msgget)")
        }
        Err(Errno::ENOSYS) => Decision::partial(
            "System V queues work, but this kernel has no POSIX queues (mq_open: ENOSYS, CONFIG_POSIX_MQUEUE off)",
        ),
        _ => Decision::refuted("a kind of queue did not work (see observation)"),
    };
    ctx.decide("sysv.msg.posix_and_system_v", decision);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::model_pick;

    #[test]
    fn the_model_selects_as_the_note_and_msgrcv_2_say() {
        let queue = [3, 1, 2, 1];
        assert_eq!(model_pick(&queue, 0, false), Some(0), "0: the oldest");
        assert_eq!(model_pick(&queue, 1, false), Some(1), "> 0: the oldest of that type");
        assert_eq!(model_pick(&queue, 4, false), None, "> 0: none of that type");
        assert_eq!(model_pick(&queue, -2, false), Some(1), "< 0: the lowest type, oldest first");
        assert_eq!(model_pick(&queue, -3, false), Some(1), "< 0: 1 beats the older 3");
        assert_eq!(model_pick(&[3, 2], -1, false), None, "< 0: nothing at or below 1");
        assert_eq!(model_pick(&queue, 3, true), Some(1), "MSG_EXCEPT: the oldest of another type");
        assert_eq!(model_pick(&[2, 2], 2, true), None, "MSG_EXCEPT: only that type queued");
    }
}
