//! System V semaphores: semget, every semctl command, semop (P, V, wait-for-zero, flags), and a
//! model-based property of random semop sequences.
//!
//! Sets are IPC_PRIVATE or IPC_CREAT | IPC_EXCL on keys of the worker's own files, owned by a
//! `SemSet` that removes them, and journaled. Waiting children are proven asleep in semop before
//! anything is counted.

use harness::obs::{call, errno_name};
use harness::proc::wait_any_exit;
use harness::{Case, Ctx, Decision};
use nix::errno::Errno;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::sysv::sys::sem::{self, wait_blocked_in_semop, SemSet, Semun};
use crate::sysv::sys::shm::{Attachment, Segment};
use crate::sysv::sys::{msg, unused_keys};
use crate::util::{kernel_now, within_a_second};

pub const CASES: &[Case] = &[
    Case::new(
        "sysv.sem.get_and_ctl_returns",
        &["sysv.sem.get_returns_id_or_minus_one", "sysv.sem.ctl_failure_minus_one_errno"],
        get_and_ctl_returns,
    ),
    Case::new("sysv.sem.ipc_set_like_msg", &["sysv.sem.ipc_set_like_msg"], ipc_set_like_msg)
        .needs_root("compares what uid 65534 may change on a set and a queue root created"),
    Case::new(
        "sysv.sem.create_and_initial",
        &[
            "sysv.sem.set_of_nsems",
            "sysv.sem.semid_ds_initialised",
            "sysv.sem.values_not_initialised_by_semget",
            "sysv.sem.create_nsems_positive_reference_zero",
        ],
        create_and_initial,
    ),
    Case::new(
        "sysv.sem.semctl_commands",
        &[
            "sysv.sem.fourth_argument_semun",
            "sysv.sem.ipc_stat",
            "sysv.sem.getall_ignores_semnum",
            "sysv.sem.getval",
            "sysv.sem.setval",
            "sysv.sem.get_commands_return_value",
        ],
        semctl_commands,
    ),
    Case::new(
        "sysv.sem.waiters",
        &[
            "sysv.sem.p_decrements_or_blocks",
            "sysv.sem.v_resumes_waiter_or_increments",
            "sysv.sem.getncnt_waiters_for_increase",
            "sysv.sem.getzcnt_waiters_for_zero",
            "sysv.sem.getpid_last_operation",
            "sysv.sem.several_like_resources",
        ],
        waiters,
    ),
    Case::new("sysv.sem.removed_while_waiting", &["sysv.sem.ipc_rmid_like_msg"], removed_while_waiting),
    Case::new("sysv.sem.setall_ctime", &["sysv.sem.setall_updates_ctime"], setall_ctime).stress(
        "waits for the clock's next second (0-1 s): IPC times have 1 s resolution and nothing signals a new second",
    ),
    Case::new(
        "sysv.sem.semop_model",
        &["sysv.sem.semop_array_all_or_nothing", "sysv.sem.value_never_negative", "sysv.sem.semop_returns_zero"],
        semop_model,
    ),
    Case::new(
        "sysv.sem.flags_and_operations",
        &["sysv.sem.operation_flags", "sysv.sem.only_wait_and_signal"],
        flags_and_operations,
    ),
    Case::new("sysv.sem.mutual_exclusion", &["sysv.sem.mutual_exclusion"], mutual_exclusion),
];

fn create_and_initial(ctx: &mut Ctx) -> anyhow::Result<()> {
    let three = SemSet::create(ctx, libc::IPC_PRIVATE, 3, 0o600)?;
    let seven = SemSet::create(ctx, libc::IPC_PRIVATE, 7, 0o600)?;
    let sizes = [sem::stat(three.id())?.sem_nsems, sem::stat(seven.id())?.sem_nsems];
    let past_end = sem::getval(three.id(), 3);
    ctx.observe("sem_nsems of sets made with nsems 3 and 7", sizes);
    ctx.observe("GETVAL of semaphore 3 in the set of 3", call(&past_end));
    ctx.check(
        "sysv.sem.set_of_nsems",
        sizes == [3, 7] && past_end == Err(Errno::EINVAL),
        "the sets held 3 and 7 semaphores (numbered from 0: semaphore 3 of 3 is EINVAL)",
        "a set's size differed from nsems (see observation)",
    );

    let ds = sem::stat(seven.id())?;
    ctx.observe("new set: sem_otime, sem_ctime within 1 s of time()", (ds.sem_otime, within_a_second(ds.sem_ctime)));
    ctx.check(
        "sysv.sem.semid_ds_initialised",
        ds.sem_nsems == 7 && ds.sem_otime == 0 && within_a_second(ds.sem_ctime),
        "sem_nsems was nsems (7), sem_otime 0 and sem_ctime the creation time",
        "semget left semid_ds otherwise (see observation)",
    );

    // Values left by an earlier set of the same size must not show through.
    let earlier = SemSet::create(ctx, libc::IPC_PRIVATE, 8, 0o600)?;
    sem::setall(earlier.id(), &[1, 2, 3, 4, 5, 6, 7, 8])?;
    drop(earlier);
    let fresh = SemSet::create(ctx, libc::IPC_PRIVATE, 8, 0o600)?;
    let values = sem::getall(fresh.id(), 0, 8)?;
    let pids: Vec<i32> = (0..8).map(|n| sem::ctl(fresh.id(), n, libc::GETPID, Semun::NONE).unwrap_or(-1)).collect();
    ctx.observe("a new set of 8, made after one holding 1..8 was removed: GETALL", &values);
    ctx.observe("  GETPID of each", &pids);
    let decision = if values.iter().all(|&v| v == 0) && pids.iter().all(|&p| p == 0) {
        Decision::refuted(
            "semget did initialise them: every value (and sempid) of a new set was 0, even right after a set holding 1..8 was removed; POSIX leaves them unspecified, so portable code still sets them with semctl",
        )
    } else {
        Decision::holds("a new set's values were not set to a defined value (see observation)")
    };
    ctx.decide("sysv.sem.values_not_initialised_by_semget", decision);

    let (_, keys) = unused_keys(ctx, "key-file", b"s")?;
    let key = keys[0];
    let create_zero = sem::get(libc::IPC_PRIVATE, 0, libc::IPC_CREAT | 0o600);
    let by_key = SemSet::create(ctx, key, 4, 0o600)?;
    let refs = [0, 2, 4, 5].map(|n| (n, sem::get(key, n, 0).map(|id| id == by_key.id())));
    ctx.observe("semget(IPC_PRIVATE, nsems 0, IPC_CREAT)", call(&create_zero));
    ctx.observe(
        "a set of 4 by key: semget(key, nsems, 0) found it, for nsems",
        refs.iter().map(|(n, r)| (n, call(r))).collect::<Vec<_>>(),
    );
    let found = |n: i32| refs.iter().any(|(m, r)| *m == n && *r == Ok(true));
    let decision = if create_zero == Err(Errno::EINVAL) && found(0) {
        if found(2) && refs[3].1 == Err(Errno::EINVAL) {
            Decision::holds("creating with nsems 0 gave EINVAL; referencing with 0 found the set (any nsems up to its size does too; more than its size gives EINVAL)")
        } else {
            Decision::holds("creating with nsems 0 gave EINVAL; referencing with 0 found the set")
        }
    } else {
        Decision::refuted("nsems did not work as described (see observation)")
    };
    ctx.decide("sysv.sem.create_nsems_positive_reference_zero", decision);
    Ok(())
}

/// A child that waits in one semop, proven asleep there; reports the call's result.
fn waiter(ctx: &mut Ctx, id: i32, op: sem::Op) -> anyhow::Result<harness::proc::Reporting<String>> {
    let limit = ctx.wait_limit();
    let mut child = ctx.spawn_reporting(move || call(&sem::op(id, &[op])).to_string())?;
    wait_blocked_in_semop(child.child().raw_pid(), limit)?;
    Ok(child)
}

fn semctl_commands(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    // A first set, so the one examined cannot have id 0 (which would hide a non-zero return).
    let _first = SemSet::create(ctx, libc::IPC_PRIVATE, 1, 0o600)?;
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 3, 0o600)?;
    let id = set.id();
    let semvmx = sem::info(libc::IPC_INFO).map(|(_, i)| i.semvmx).unwrap_or(32767);

    let setval = sem::setval(id, 0, 5);
    let getval = sem::getval(id, 0);
    let below = sem::setval(id, 0, -1);
    let at_max = sem::setval(id, 0, semvmx).and_then(|_| sem::getval(id, 0));
    let above = sem::setval(id, 0, semvmx + 1);
    sem::setval(id, 0, 5)?;
    ctx.observe("SETVAL 5, then GETVAL returned", (call(&setval), call(&getval)));
    ctx.observe(
        format!("SETVAL -1, SETVAL SEMVMX ({semvmx}) then GETVAL, SETVAL SEMVMX+1"),
        (call(&below), call(&at_max), call(&above)),
    );
    ctx.check(
        "sysv.sem.getval",
        getval == Ok(5),
        "GETVAL returned 5, the value SETVAL set",
        "GETVAL returned something else (see observation)",
    );
    ctx.check(
        "sysv.sem.setval",
        setval == Ok(0)
            && getval == Ok(5)
            && below == Err(Errno::ERANGE)
            && at_max == Ok(semvmx)
            && above == Err(Errno::ERANGE),
        format!("SETVAL set the value (5, and SEMVMX = {semvmx}); below 0 and above SEMVMX it failed with ERANGE"),
        "SETVAL did not set the value as described (see observation)",
    );

    let setall = sem::setall(id, &[1, 2, 0]);
    let mut values = [0u16; 3];
    let getall = sem::ctl(id, 0, libc::GETALL, Semun { array: values.as_mut_ptr() });
    let ignored = sem::getall(id, 9999, 3);
    ctx.observe("SETALL [1, 2, 0]; GETALL with semnum 0 returned, values", (call(&setall), call(&getall), values));
    ctx.observe("GETALL with semnum 9999", call(&ignored));
    ctx.check(
        "sysv.sem.getall_ignores_semnum",
        values == [1, 2, 0] && ignored == Ok(vec![1, 2, 0]),
        "GETALL filled the array with every value, and semnum 9999 (no such semaphore) made no difference",
        "GETALL used semnum or filled the array otherwise (see observation)",
    );

    // One process waiting for an increase (semaphore 2, value 0) and one for zero (semaphore 1, value 2).
    sem::op_now(id, &[(0, -1, 0)])?;
    let getpid = sem::ctl(id, 0, libc::GETPID, Semun::NONE);
    let p_waiter = waiter(ctx, id, (2, -1, 0))?;
    let z_waiter = waiter(ctx, id, (1, 0, 0))?;
    let getncnt = sem::ctl(id, 2, libc::GETNCNT, Semun::NONE);
    let getzcnt = sem::ctl(id, 1, libc::GETZCNT, Semun::NONE);
    sem::setall(id, &[4, 0, 1])?;
    let (p_done, _) = p_waiter.finish(limit)?;
    let (z_done, _) = z_waiter.finish(limit)?;
    ctx.observe("GETPID after this process's semop: this process", getpid == Ok(nix::unistd::getpid().as_raw()));
    ctx.observe("GETNCNT, GETZCNT with one process waiting each", (call(&getncnt), call(&getzcnt)));
    ctx.observe("  the waiters' semop once SETALL released them", (&p_done, &z_done));

    let mut ds = sem::stat(id)?;
    let ipc_stat = sem::ctl(id, 0, libc::IPC_STAT, Semun { buf: &mut ds });
    ds.sem_perm.mode = 0o600;
    let ipc_set = sem::set(id, &ds);
    let ipc_info = sem::info(libc::IPC_INFO);
    let sem_info = sem::info(libc::SEM_INFO);
    let highest = ipc_info.as_ref().map(|(r, _)| *r).unwrap_or(-1);
    let (own_index, sem_stat) =
        (0..=highest).find_map(|i| sem::stat_index(i).ok().filter(|(found, _)| *found == id).map(|f| (i, f))).unzip();
    let no_arg = sem::ctl_no_arg(id, 0, libc::GETVAL);
    let throwaway = SemSet::create(ctx, libc::IPC_PRIVATE, 1, 0o600)?;
    let rmid_no_arg = sem::ctl_no_arg(throwaway.id(), 0, libc::IPC_RMID);
    ctx.observe("IPC_STAT returned; sem_nsems", (call(&ipc_stat), ds.sem_nsems));
    ctx.observe("IPC_SET returned", call(&ipc_set));
    ctx.observe(
        // Not "the same": other processes' sets may come and go between the two calls.
        "IPC_INFO and SEM_INFO each returned an index in use at least this set's (the highest)",
        sem_info.as_ref().ok().map(|(r, _)| own_index.is_some_and(|own| *r >= own && highest >= own)),
    );
    ctx.observe("SEM_STAT of the set's index returned its id (not 0)", sem_stat.map(|(found, _)| found != 0));
    ctx.observe("semctl with no fourth argument: GETVAL, IPC_RMID", (call(&no_arg), call(&rmid_no_arg)));
    ctx.check(
        "sysv.sem.ipc_stat",
        ipc_stat == Ok(0) && ds.sem_nsems == 3,
        "IPC_STAT filled arg.buf (sem_nsems 3) and returned 0",
        "IPC_STAT did not fill arg.buf (see observation)",
    );
    ctx.check(
        "sysv.sem.fourth_argument_semun",
        no_arg == Ok(4) && rmid_no_arg == Ok(0) && setval == Ok(0) && ipc_stat == Ok(0) && getall == Ok(0),
        "GETVAL and IPC_RMID worked with no fourth argument; SETVAL, IPC_STAT and GETALL took this suite's own union semun (val, buf, array)",
        "semctl's fourth argument did not work as described (see observation)",
    );
    let pid_ok = getpid == Ok(nix::unistd::getpid().as_raw());
    let gets_value = getval == Ok(5) && pid_ok && getncnt == Ok(1) && getzcnt == Ok(1);
    let others_zero = getall == Ok(0)
        && setval == Ok(0)
        && setall == Ok(0)
        && ipc_stat == Ok(0)
        && ipc_set == Ok(0)
        && rmid_no_arg == Ok(0);
    let decision = match (gets_value && others_zero, sem_stat.is_some() && highest >= 0) {
        (true, true) => Decision::partial(
            "GETVAL, GETPID, GETNCNT and GETZCNT returned their values and GETALL, SETVAL, SETALL, IPC_STAT, IPC_SET and IPC_RMID 0, but not every other command returns 0: IPC_INFO and SEM_INFO return the highest index in use, SEM_STAT the set's identifier",
        ),
        (true, false) => Decision::holds("GET commands returned values, every other command 0"),
        _ => Decision::refuted("a command returned something else (see observation)"),
    };
    ctx.decide("sysv.sem.get_commands_return_value", decision);
    Ok(())
}

fn waiters(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let me = nix::unistd::getpid().as_raw();
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 3, 0o600)?;
    let id = set.id();
    let count = |cmd, n| sem::ctl(id, n, cmd, Semun::NONE);

    // P above 0 decrements; P at 0 waits.
    sem::setval(id, 0, 2)?;
    let p1 = sem::op_now(id, &[(0, -1, 0)]).and_then(|_| sem::getval(id, 0));
    let p2 = sem::op_now(id, &[(0, -1, 0)]).and_then(|_| sem::getval(id, 0));
    let mut p_waiters = Vec::new();
    let mut blocked = Vec::new();
    for _ in 0..3 {
        let mut child = ctx.spawn_reporting(move || call(&sem::op(id, &[(0, -1, 0)])).to_string())?;
        blocked.push(wait_blocked_in_semop(child.child().raw_pid(), limit).map(|s| s.state).map_err(|e| e.to_string()));
        p_waiters.push(child);
    }
    let ncnt = count(libc::GETNCNT, 0);
    ctx.observe("value 2: P, value; P, value", (call(&p1), call(&p2)));
    ctx.observe(
        "three processes doing P at value 0: each asleep in semop",
        blocked.iter().map(|b| b.is_ok()).collect::<Vec<_>>(),
    );
    ctx.observe("GETNCNT with the three asleep", call(&ncnt));
    ctx.check(
        "sysv.sem.p_decrements_or_blocks",
        p1 == Ok(1) && p2 == Ok(0) && blocked.iter().all(|b| b.is_ok()),
        "P took the value from 2 to 1 to 0 without waiting, and at 0 each P slept in semop",
        "P did not decrement or wait as described (see observation)",
    );
    ctx.check(
        "sysv.sem.getncnt_waiters_for_increase",
        ncnt == Ok(3),
        "GETNCNT returned 3 with three processes proven asleep waiting for an increase",
        "GETNCNT did not count the waiters (see observation)",
    );

    // Waiting for zero.
    sem::setval(id, 1, 1)?;
    let z_waiters = [waiter(ctx, id, (1, 0, 0))?, waiter(ctx, id, (1, 0, 0))?];
    let zcnt = count(libc::GETZCNT, 1);
    sem::setval(id, 1, 0)?;
    let zcnt_after = count(libc::GETZCNT, 1);
    let mut z_results = Vec::new();
    for child in z_waiters {
        z_results.push(child.finish(limit)?.0.unwrap_or_default());
    }
    ctx.observe(
        "GETZCNT with two processes asleep waiting for 0 (value 1); after SETVAL 0",
        (call(&zcnt), call(&zcnt_after)),
    );
    ctx.observe("  their semop", &z_results);
    ctx.check(
        "sysv.sem.getzcnt_waiters_for_zero",
        zcnt == Ok(2) && zcnt_after == Ok(0) && z_results.iter().all(|r| r == "0"),
        "GETZCNT returned 2 with two processes waiting for zero, and 0 once the value reached 0 and they returned",
        "GETZCNT did not count the zero-waiters (see observation)",
    );

    // V with waiters: one resumes, the value stays 0.
    sem::op(id, &[(0, 1, 0)])?;
    let value_after_v = sem::getval(id, 0);
    let ncnt_after_v = count(libc::GETNCNT, 0);
    let sempid = count(libc::GETPID, 0);
    let (woken, woken_pid, others_still_waiting) = {
        let mut children: Vec<&mut harness::proc::Child> = p_waiters.iter_mut().map(|w| w.child()).collect();
        let woken = wait_any_exit(&mut children, limit)?;
        let others = children
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != woken)
            .all(|(_, c)| wait_blocked_in_semop(c.raw_pid(), limit).is_ok());
        (woken, children[woken].raw_pid(), others)
    };
    // V without waiters.
    sem::setval(id, 2, 0)?;
    let v_alone = sem::op(id, &[(2, 1, 0)]).and_then(|_| sem::getval(id, 2));
    ctx.observe("V with three waiting: value, GETNCNT right after", (call(&value_after_v), call(&ncnt_after_v)));
    ctx.observe("  one waiter returned and the other two still sleep in semop", others_still_waiting);
    ctx.observe("V with nobody waiting: value 0 became", call(&v_alone));
    ctx.check(
        "sysv.sem.v_resumes_waiter_or_increments",
        value_after_v == Ok(0) && ncnt_after_v == Ok(2) && others_still_waiting && v_alone == Ok(1),
        "with waiters, V resumed exactly one (the value stayed 0, GETNCNT fell to 2); with none, V raised the value to 1",
        "V did not resume one waiter or increment (see observation)",
    );
    // The same steps, read as the note's "several like resources, ordered access": a value of 2
    // admits two holders at once, a third waits, and each V admits exactly one more.
    let two_admitted = p1 == Ok(1) && p2 == Ok(0);
    let others_wait = blocked.iter().all(|b| b.is_ok()) && ncnt == Ok(3);
    let one_per_v = value_after_v == Ok(0) && ncnt_after_v == Ok(2) && others_still_waiting;
    let decision = match (two_admitted, others_wait, one_per_v) {
        (true, true, true) => Decision::holds(
            "a value of 2 admitted two P's at once, the next three waited asleep in semop (GETNCNT 3), and one V admitted exactly one of them while the other two kept waiting",
        ),
        (false, _, _) => Decision::refuted(format!(
            "a value of 2 did not admit two P's at once: values after them {} and {}",
            call(&p1),
            call(&p2)
        )),
        (true, false, _) => Decision::refuted("with both units taken, a further P did not wait (see observation)"),
        (true, true, false) => {
            Decision::refuted("a V did not admit exactly one waiter (see observation)")
        }
    };
    ctx.decide("sysv.sem.several_like_resources", decision);

    // sempid: the last process to operate on the semaphore.
    let (child_pid, _) = ctx.in_child(|| sem::op(id, &[(2, 1, 0)]).ok().map(|_| nix::unistd::getpid().as_raw()))?;
    let after_child = count(libc::GETPID, 2);
    sem::setval(id, 2, 0)?;
    let after_setval = count(libc::GETPID, 2);
    let who = |r: Result<i32, Errno>| match r {
        Ok(p) if p == me => "this process".to_string(),
        Ok(p) if Some(Some(p)) == child_pid => "the child".to_string(),
        Ok(p) if p == woken_pid => "the woken waiter".to_string(),
        Ok(p) => format!("another process ({})", if p == 0 { "0" } else { "pid" }),
        Err(e) => format!("-1 {}", errno_name(e)),
    };
    ctx.observe("GETPID of semaphore 0 after this process's V woke a waiter", who(sempid));
    ctx.observe(
        "GETPID of semaphore 2 after a child's semop; after this process's SETVAL",
        (who(after_child), who(after_setval)),
    );
    let decision = match (who(after_child).as_str(), who(after_setval).as_str()) {
        ("the child", "the child") => {
            Decision::holds("GETPID returned the pid of the child that did the last semop, also after a SETVAL")
        }
        ("the child", "this process") => Decision::partial(
            "GETPID named the child after its semop, but a SETVAL by this process, which did no semop, made GETPID name this process: it is the last process to set the value, by semop or by semctl SETVAL",
        ),
        _ => Decision::refuted("GETPID did not name the process that did the last semop (see observation)"),
    };
    ctx.decide("sysv.sem.getpid_last_operation", decision);

    sem::op(id, &[(0, 2, 0)])?;
    let mut p_results = Vec::new();
    for w in p_waiters {
        p_results.push(w.finish(limit)?.0.unwrap_or_default());
    }
    ctx.observe("the three P waiters' semop, in order of starting (the first V woke number)", (&p_results, woken));
    Ok(())
}

fn removed_while_waiting(ctx: &mut Ctx) -> anyhow::Result<()> {
    let limit = ctx.wait_limit();
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 1, 0o600)?;
    let id = set.id();
    let p = waiter(ctx, id, (0, -1, 0))?;
    sem::remove(id)?;
    let (sem_waiter, _) = p.finish(limit)?;
    let sem_later = call(&sem::getval(id, 0)).to_string();

    // The same experiment on a message queue, for the comparison the note makes.
    let queue = msg::MsgQueue::create(ctx, libc::IPC_PRIVATE, 0o600)?;
    let qid = queue.id();
    let mut receiver = ctx.spawn_reporting(move || call(&msg::recv(qid, 16, 0, 0).map(|_| 0)).to_string())?;
    receiver.child().wait_blocked(libc::SYS_msgrcv, limit)?;
    msg::remove(qid)?;
    let (msg_waiter, _) = receiver.finish(limit)?;
    let msg_later = call(&msg::stat(qid).map(|_| 0)).to_string();
    ctx.observe("semaphore set removed: the waiting semop; a later GETVAL", (&sem_waiter, &sem_later));
    ctx.observe("message queue removed: the waiting msgrcv; a later IPC_STAT", (&msg_waiter, &msg_later));
    ctx.check(
        "sysv.sem.ipc_rmid_like_msg",
        sem_waiter.as_deref() == Some("\"-1 EIDRM\"") && sem_waiter == msg_waiter && sem_later == msg_later,
        "as with the queue: the waiting semop got EIDRM and a later call EINVAL",
        "removing a set behaved otherwise than removing a queue (see observation)",
    );
    Ok(())
}

/// Returns once time() has passed `t`: IPC times have one-second resolution, so a change can
/// only show in the next second. Waits for the clock itself, at most about a second.
fn wait_for_second_after(t: i64) {
    loop {
        let (secs, nanos) = kernel_now();
        if secs > t {
            return;
        }
        // The state waited on is the clock itself, and nothing signals a new second: sleeping
        // to the boundary, then looking again, is the honest wait (bounded: under a second).
        std::thread::sleep(std::time::Duration::from_nanos((1_000_000_000 - nanos).max(1) as u64));
    }
}

fn setall_ctime(ctx: &mut Ctx) -> anyhow::Result<()> {
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 2, 0o600)?;
    let created = sem::stat(set.id())?;
    wait_for_second_after(created.sem_ctime);
    sem::op(set.id(), &[(0, 1, 0)])?;
    let after_semop = sem::stat(set.id())?;
    let setall = sem::setall(set.id(), &[3, 4]);
    let after_setall = sem::stat(set.id())?;
    let values = sem::getall(set.id(), 0, 2);
    ctx.observe(
        "a later second: semop changed sem_otime, sem_ctime",
        (after_semop.sem_otime > created.sem_ctime, after_semop.sem_ctime > created.sem_ctime),
    );
    ctx.observe(
        "then SETALL [3, 4]: returned, values, sem_ctime advanced",
        (call(&setall), call(&values), after_setall.sem_ctime > created.sem_ctime),
    );
    ctx.check(
        "sysv.sem.setall_updates_ctime",
        values == Ok(vec![3, 4]) && after_setall.sem_ctime > created.sem_ctime,
        "SETALL set both values and moved sem_ctime from the creation second to the current one",
        "SETALL did not set the values or left sem_ctime (see observation)",
    );
    Ok(())
}

/// The reference model of one semop call with IPC_NOWAIT: the values after it, or None if it
/// would wait (EAGAIN, nothing applied).
fn model_semop(values: &[i32], ops: &[(u16, i16)]) -> Option<Vec<i32>> {
    let mut next = values.to_vec();
    for &(n, op) in ops {
        let v = &mut next[n as usize];
        match op {
            0 if *v != 0 => return None,
            0 => {}
            _ if *v + i32::from(op) < 0 => return None,
            _ => *v += i32::from(op),
        }
    }
    Some(next)
}

fn semop_model(ctx: &mut Ctx) -> anyhow::Result<()> {
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 3, 0o600)?;
    let id = set.id();
    let calls = std::cell::Cell::new(0u32);
    let waited = std::cell::Cell::new(0u32);
    let op = (0u16..3, -3i16..=3);
    let strategy =
        (prop::collection::vec(0u16..=3, 3), prop::collection::vec(prop::collection::vec(op, 1..=3), 1..=10));
    let outcome = ctx.property(strategy, 96, 1536, |(initial, sequence)| {
        sem::setall(id, &initial).map_err(|e| TestCaseError::fail(format!("SETALL: {e}")))?;
        let mut model: Vec<i32> = initial.iter().map(|&v| i32::from(v)).collect();
        for ops in &sequence {
            let with_flags: Vec<sem::Op> = ops.iter().map(|&(n, o)| (n, o, libc::IPC_NOWAIT as i16)).collect();
            let got = sem::op(id, &with_flags);
            calls.set(calls.get() + 1);
            match model_semop(&model, ops) {
                Some(next) => {
                    prop_assert_eq!(got, Ok(0), "values {:?}, ops {:?}", model, ops);
                    model = next;
                }
                None => {
                    waited.set(waited.get() + 1);
                    prop_assert_eq!(got, Err(Errno::EAGAIN), "values {:?}, ops {:?}", model, ops);
                }
            }
            let kernel: Vec<i32> = sem::getall(id, 0, 3)
                .map_err(|e| TestCaseError::fail(format!("GETALL: {e}")))?
                .into_iter()
                .map(i32::from)
                .collect();
            prop_assert_eq!(&kernel, &model, "after ops {:?}", ops);
        }
        Ok(())
    });
    let below = sem::setval(id, 0, -1);
    ctx.observe(
        "property: 3 semaphores (0-3 each), 1-10 semop calls of 1-3 operations (-3..=3, IPC_NOWAIT), against the model",
        &outcome,
    );
    ctx.observe("  semop calls compared; of them, would have waited", (calls.get(), waited.get()));
    ctx.observe("SETVAL -1", call(&below));
    let counterexample = || {
        format!(
            "{}; minimal counterexample (initial values, calls) = {}",
            outcome.reason.as_deref().unwrap_or("?"),
            outcome.counterexample.as_deref().unwrap_or("?")
        )
    };
    ctx.decide(
        "sysv.sem.semop_array_all_or_nothing",
        if outcome.passed() {
            Decision::holds(format!(
                "in {} random sequences every call applied all its operations in order or, when one would have waited, none (values unchanged, EAGAIN)",
                outcome.cases
            ))
        } else {
            Decision::refuted(counterexample())
        },
    );
    ctx.check(
        "sysv.sem.value_never_negative",
        outcome.passed() && below == Err(Errno::ERANGE),
        "no call took a value below 0 (those calls waited: EAGAIN under IPC_NOWAIT), and SETVAL -1 gave ERANGE",
        format!("a value went negative or SETVAL -1 was accepted: {}", counterexample()),
    );
    ctx.check(
        "sysv.sem.semop_returns_zero",
        outcome.passed() && waited.get() > 0,
        "semop returned 0 on every success and -1 with errno (EAGAIN) on every failure the property drew",
        format!("semop returned something else: {}", counterexample()),
    );
    Ok(())
}

fn flags_and_operations(ctx: &mut Ctx) -> anyhow::Result<()> {
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 2, 0o600)?;
    let id = set.id();
    let nowait = sem::op(id, &[(0, -1, libc::IPC_NOWAIT as i16)]);
    sem::setval(id, 0, 3)?;
    let undo = libc::SEM_UNDO as i16;
    let (inside, _) = ctx.in_child(|| {
        let down = sem::op(id, &[(0, -1, undo)]).and_then(|_| sem::getval(id, 0));
        let up = sem::op(id, &[(0, 2, undo)]).and_then(|_| sem::getval(id, 0));
        (call(&down).to_string(), call(&up).to_string())
    })?;
    let after_undo = sem::getval(id, 0);
    let (_, _) = ctx.in_child(|| sem::op(id, &[(0, -1, 0)]).is_ok())?;
    let after_plain = sem::getval(id, 0);
    ctx.observe("P with IPC_NOWAIT at value 0", call(&nowait));
    ctx.observe("value 3; a child's -1 then +2 with SEM_UNDO: values it saw", &inside);
    ctx.observe("  value after the child exited", call(&after_undo));
    ctx.observe("a child's -1 without SEM_UNDO: value after it exited", call(&after_plain));
    ctx.check(
        "sysv.sem.operation_flags",
        nowait == Err(Errno::EAGAIN) && after_undo == Ok(3) && after_plain == Ok(2),
        "IPC_NOWAIT turned a wait into EAGAIN; SEM_UNDO operations (-1, +2) were undone when the child exited (back to 3), others were not",
        "a flag did not act as described (see observation)",
    );

    sem::setval(id, 1, 0)?;
    let zero = sem::op_now(id, &[(1, 0, 0)]);
    let plus_five = sem::op_now(id, &[(1, 5, 0)]).and_then(|_| sem::getval(id, 1));
    let minus_three = sem::op_now(id, &[(1, -3, 0)]).and_then(|_| sem::getval(id, 1));
    let direct = sem::setval(id, 1, 7).and_then(|_| sem::getval(id, 1));
    ctx.observe(
        "sem_op 0 (wait for zero) at 0; +5; -3; SETVAL 7",
        (call(&zero), call(&plus_five), call(&minus_three), call(&direct)),
    );
    let decision = if zero == Ok(0) && plus_five == Ok(5) && minus_three == Ok(2) && direct == Ok(7) {
        Decision::partial(
            "P and V are there, but not only they: semop also waits for zero (sem_op 0) and adds or takes any amount at once (+5, -3), and semctl SETVAL sets a value outright",
        )
    } else {
        Decision::holds("only wait and signal operations worked")
    };
    ctx.decide("sysv.sem.only_wait_and_signal", decision);
    Ok(())
}

fn mutual_exclusion(ctx: &mut Ctx) -> anyhow::Result<()> {
    const ROUNDS: u32 = 2000;
    let limit = ctx.wait_limit();
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 1, 0o600)?;
    sem::setval(set.id(), 0, 1)?;
    let segment = Segment::create(ctx, libc::IPC_PRIVATE, 4096, 0o600)?;
    let (id, seg) = (set.id(), segment.id());
    let worker = move || {
        let Ok(shared) = Attachment::attach(seg, 4096, 0) else { return 2 };
        let counter = shared.counter(0);
        for _ in 0..ROUNDS {
            if sem::op(id, &[(0, -1, 0)]).is_err() {
                return 3;
            }
            // A read, then a write: two processes without the semaphore would lose updates here.
            // SAFETY: the counter is in bounds and aligned; the semaphore serialises access.
            unsafe { counter.write_volatile(counter.read_volatile() + 1) };
            if sem::op(id, &[(0, 1, 0)]).is_err() {
                return 3;
            }
        }
        0
    };
    let mut a = ctx.spawn(worker)?;
    let mut b = ctx.spawn(worker)?;
    let exits = (a.wait_exit(limit)?, b.wait_exit(limit)?);
    let shared = Attachment::attach(seg, 4096, libc::SHM_RDONLY)?;
    // SAFETY: in bounds and aligned; both writers have exited.
    let total = unsafe { shared.counter(0).read_volatile() };
    ctx.observe(
        format!("two processes, {ROUNDS} locked increments each of a shared counter: exits"),
        (exits.0.to_string(), exits.1.to_string()),
    );
    ctx.observe("  the counter", total);
    ctx.check(
        "sysv.sem.mutual_exclusion",
        total == 2 * ROUNDS,
        format!("no update was lost: {} increments gave {total}", 2 * ROUNDS),
        format!("updates were lost: {total} of {}", 2 * ROUNDS),
    );
    Ok(())
}

fn ipc_set_like_msg(ctx: &mut Ctx) -> anyhow::Result<()> {
    let crate::sysv::IpcSetOutcomes { stranger, by_root, owner } = crate::sysv::ipc_set_outcomes(ctx)?;
    // Index 0 is the queue, 1 the set.
    let same = |v: &[String]| v.len() == 3 && v[1] == v[0];
    ctx.check(
        "sysv.sem.ipc_set_like_msg",
        same(&stranger) && same(&owner) && same(&by_root),
        "semctl IPC_SET followed the message queue's rule: EPERM for a stranger, allowed for creator and owner",
        "semctl IPC_SET followed another rule than msgctl's (see observation)",
    );
    Ok(())
}

fn get_and_ctl_returns(ctx: &mut Ctx) -> anyhow::Result<()> {
    let set = SemSet::create(ctx, libc::IPC_PRIVATE, 1, 0o600);
    let (_, keys) = unused_keys(ctx, "semget-returns", &[1])?;
    // Without IPC_CREAT a key no set has only looks up: ENOENT, and nothing is made.
    let missing = sem::get(keys[0], 1, 0o600);
    ctx.observe(
        "semget(IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600)",
        call(&set.as_ref().map(|s| s.id() >= 0).map_err(|e| *e)),
    );
    ctx.observe("semget(an unused key, 1, 0600) without IPC_CREAT", call(&missing));
    ctx.check(
        "sysv.sem.get_returns_id_or_minus_one",
        set.is_ok() && missing == Err(Errno::ENOENT),
        "semget returned an identifier (>= 0) for a new set, and -1 with errno ENOENT for a key no set has",
        "semget's return values differ (see observation)",
    );
    // -1 is no identifier any set can have, so the failure cannot meet another process's set.
    let bad = sem::ctl_no_arg(-1, 0, libc::GETVAL);
    ctx.observe("semctl(-1, 0, GETVAL)", call(&bad));
    ctx.decide(
        "sysv.sem.ctl_failure_minus_one_errno",
        match bad {
            Err(e) => {
                Decision::holds(format!("semctl on an identifier no set has returned -1 with errno {}", errno_name(e)))
            }
            Ok(v) => Decision::refuted(format!("semctl on the identifier -1 returned {v}")),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::model_semop;

    #[test]
    fn the_model_applies_a_call_in_order_or_not_at_all() {
        assert_eq!(model_semop(&[1, 0], &[(0, -1)]), Some(vec![0, 0]));
        assert_eq!(model_semop(&[0, 0], &[(0, -1)]), None, "P at 0 waits");
        assert_eq!(model_semop(&[0, 2], &[(1, -1), (0, -1)]), None, "one waiting operation cancels the call");
        assert_eq!(model_semop(&[0, 0], &[(0, 1), (0, -1)]), Some(vec![0, 0]), "in order: +1 then -1");
        assert_eq!(model_semop(&[0, 0], &[(0, -1), (0, 1)]), None, "in order: -1 first waits");
        assert_eq!(model_semop(&[1, 0], &[(1, 0)]), Some(vec![1, 0]), "wait-for-zero at 0 passes");
        assert_eq!(model_semop(&[1, 3], &[(1, 0)]), None, "wait-for-zero above 0 waits");
    }
}
