// SPDX-License-Identifier: GPL-2.0
//! Per-user limits on what a user keeps alive in the kernel, as `RLIMIT_MSGQUEUE` and
//! `queues_max` do for POSIX message queues.
//!
//! A queue outlives its creator's fds while it is named, so the memory it pins must be paid
//! by someone: the user (filesystem uid) who created it pays for the queue, in real bytes
//! (each shared area in whole pages, plus the kernel's private tables), and each user who
//! allocates a submission area pays for that. Over `max_user_queues` queues or
//! `max_user_bytes` bytes, the call that would allocate fails with `EDQUOT`; the limits of
//! other users are not touched, so one user cannot take what another needs. A charge is given
//! back when what it pays for is freed.
//!
//! # Lock order
//!
//! `USERS` is a leaf: nothing else is taken while it is held, and it is held only for a scan
//! of the table (one entry per user with something alive).

use kernel::{
    page::PAGE_SIZE,
    prelude::*, //
};

/// What one user has alive.
struct Usage {
    uid: u32,
    queues: u32,
    bytes: u64,
}

struct Users {
    table: KVec<Usage>,
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module initialiser, before `/dev/kring` exists.
    unsafe(uninit) static USERS: Mutex<Users> = Users { table: KVec::new() };
}

/// Initialises the table. Call once, from module init.
pub(crate) fn init() {
    // SAFETY: called exactly once, before any other use of `USERS`.
    unsafe { USERS.init() };
}

/// Frees the table's buffer (module unload: nothing is alive then).
pub(crate) fn clear() {
    USERS.lock().table = KVec::new();
}

/// Calls `f(uid, queues, bytes)` for every user with something alive, under the table's lock
/// (`f` must take no lock); stops at the first error `f` returns.
pub(crate) fn for_each_user<E>(mut f: impl FnMut(u32, u32, u64) -> Result<(), E>) -> Result<(), E> {
    let t = USERS.lock();
    for u in t.table.iter() {
        f(u.uid, u.queues, u.bytes)?;
    }
    Ok(())
}

/// `len` bytes of page-granular memory, in the bytes it really takes.
pub(crate) fn pages(len: usize) -> u64 {
    (len as u64).div_ceil(PAGE_SIZE as u64).saturating_mul(PAGE_SIZE as u64)
}

/// `queues` queues and `bytes` bytes charged to `uid`; given back on drop.
pub(crate) struct UserCharge {
    uid: u32,
    queues: u32,
    bytes: u64,
}

impl UserCharge {
    /// The bytes this charge pays for.
    pub(crate) fn bytes_charged(&self) -> u64 {
        self.bytes
    }

    /// Charges one queue of `bytes` bytes to `uid`. `EDQUOT` over either limit.
    pub(crate) fn queue(uid: u32, bytes: u64) -> Result<Self> {
        Self::take(uid, 1, bytes)
    }

    /// Charges `bytes` bytes (no queue) to `uid`. `EDQUOT` over `max_user_bytes`.
    pub(crate) fn bytes(uid: u32, bytes: u64) -> Result<Self> {
        Self::take(uid, 0, bytes)
    }

    fn take(uid: u32, queues: u32, bytes: u64) -> Result<Self> {
        let max_queues = crate::module_parameters::max_user_queues.value();
        let max_bytes = crate::module_parameters::max_user_bytes.value();
        let mut t = USERS.lock();
        let i = match t.table.iter().position(|u| u.uid == uid) {
            Some(i) => i,
            None => {
                t.table.push(Usage { uid, queues: 0, bytes: 0 }, GFP_KERNEL_ACCOUNT)?;
                t.table.len() - 1
            }
        };
        let Some(u) = t.table.get_mut(i) else { return Err(ENOMEM) };
        let nq = u.queues.checked_add(queues).ok_or(EDQUOT)?;
        let nb = u.bytes.checked_add(bytes).ok_or(EDQUOT)?;
        if nq > max_queues || nb > max_bytes {
            if u.queues == 0 && u.bytes == 0 {
                t.table.remove(i).ok();
            }
            return Err(EDQUOT);
        }
        u.queues = nq;
        u.bytes = nb;
        Ok(Self { uid, queues, bytes })
    }
}

impl Drop for UserCharge {
    fn drop(&mut self) {
        let mut t = USERS.lock();
        let Some(i) = t.table.iter().position(|u| u.uid == self.uid) else { return };
        let Some(u) = t.table.get_mut(i) else { return };
        u.queues = u.queues.saturating_sub(self.queues);
        u.bytes = u.bytes.saturating_sub(self.bytes);
        if u.queues == 0 && u.bytes == 0 {
            t.table.remove(i).ok();
        }
    }
}
