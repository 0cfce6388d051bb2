// SPDX-License-Identifier: GPL-2.0
//! Regions: kernel-backed shared memory whose policy the kernel enforces.
//!
//! * Immutable: filled through `KRING_IOC_REGION_WRITE`, then sealed. Its mappings are read-only
//!   from the start (`VM_MAYWRITE` cleared), so sealing never waits for writable mappings and no
//!   mapping, `mprotect`, `/proc/<pid>/mem` write or forked child can change a sealed byte.
//! * AppendOnly: bytes are appended through the kernel only; the committed length only grows,
//!   up to `max_size`; mappings are read-only, so committed bytes never change.
//! * Slab: fixed-size slots of freely writable shared memory (mappable read-write).
//!
//! # Lock order
//!
//! `REGION_IDS` and `REGION_BYTES` are leaves (never held together, nor with other locks).
//! `Region::inner` is a leaf too; no user memory is touched while holding it (bounce buffers),
//! and an append waiting for another's claim (`Region::appended`) releases it.

use kernel::{
    new_mutex,
    prelude::*,
    new_condvar,
    sync::{
        Arc,
        CondVar,
        Mutex, //
    },
    uaccess::UserSlice,
};

use crate::{ring, shm::SharedMem, uapi::*};

/// `KRING_IOC_REGION_WRITE` copies at most this many bytes per bounce.
const WRITE_CHUNK: usize = 64 * 1024;

/// One slot of the id table: the generation of the last region with this id, and whether a
/// live region holds it.
struct IdSlot {
    generation: u32,
    live: bool,
}

/// Region ids: reused after a region is freed, with a new generation each time.
struct Ids {
    slots: KVec<IdSlot>,
}

/// Bytes of region memory per user, checked against `max_user_region_bytes`.
struct UserBytes {
    users: KVec<(u32, u64)>,
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module initialiser, before `/dev/kring` exists.
    unsafe(uninit) static REGION_IDS: Mutex<Ids> = Ids { slots: KVec::new() };
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module initialiser, before `/dev/kring` exists.
    unsafe(uninit) static REGION_BYTES: Mutex<UserBytes> = UserBytes { users: KVec::new() };
}

/// Initialises the region tables. Call once, from module init.
pub(crate) fn init() {
    // SAFETY: called exactly once, before any other use of these statics.
    unsafe {
        REGION_IDS.init();
        REGION_BYTES.init();
    }
}

/// Frees the tables' buffers (module unload: no region can be alive then).
pub(crate) fn clear() {
    REGION_IDS.lock().slots = KVec::new();
    REGION_BYTES.lock().users = KVec::new();
}

/// Calls `f(uid, bytes)` for every user with region bytes alive, under the table's lock (`f`
/// must take no lock); stops at the first error `f` returns.
pub(crate) fn for_each_user<E>(mut f: impl FnMut(u32, u64) -> Result<(), E>) -> Result<(), E> {
    let t = REGION_BYTES.lock();
    for &(uid, bytes) in t.users.iter() {
        f(uid, bytes)?;
    }
    Ok(())
}

/// A region's id, held while it lives.
struct IdLease {
    id: u32,
    generation: u32,
}

impl IdLease {
    fn take() -> Result<Self> {
        let mut t = REGION_IDS.lock();
        if let Some((i, s)) = t.slots.iter_mut().enumerate().find(|(_, s)| !s.live) {
            s.live = true;
            s.generation = s.generation.wrapping_add(1);
            return Ok(Self { id: i as u32, generation: s.generation });
        }
        let id = u32::try_from(t.slots.len()).map_err(|_| ENOMEM)?;
        t.slots.push(IdSlot { generation: 1, live: true }, GFP_KERNEL_ACCOUNT)?;
        Ok(Self { id, generation: 1 })
    }
}

impl Drop for IdLease {
    fn drop(&mut self) {
        if let Some(s) = REGION_IDS.lock().slots.get_mut(self.id as usize) {
            s.live = false;
        }
    }
}

/// Region bytes charged to a user, given back on drop.
struct Charge {
    uid: u32,
    bytes: u64,
}

impl Charge {
    fn take(uid: u32, bytes: u64) -> Result<Self> {
        let limit = crate::module_parameters::max_user_region_bytes.value();
        let mut t = REGION_BYTES.lock();
        let i = match t.users.iter().position(|(u, _)| *u == uid) {
            Some(i) => i,
            None => {
                t.users.push((uid, 0), GFP_KERNEL_ACCOUNT)?;
                t.users.len() - 1
            }
        };
        let used = t.users.get_mut(i).ok_or(ENOMEM)?;
        let total = used.1.checked_add(bytes).ok_or(EDQUOT)?;
        if total > limit {
            return Err(EDQUOT);
        }
        used.1 = total;
        Ok(Self { uid, bytes })
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let mut t = REGION_BYTES.lock();
        if let Some(i) = t.users.iter().position(|(u, _)| *u == self.uid) {
            if let Some(e) = t.users.get_mut(i) {
                e.1 = e.1.saturating_sub(self.bytes);
                // A user with nothing left has no entry: the table stays as small as the
                // number of users with regions alive.
                if e.1 == 0 {
                    t.users.remove(i).ok();
                }
            }
        }
    }
}

struct Inner {
    /// AppendOnly: committed length.
    committed: u64,
    /// Immutable: sealed.
    sealed: bool,
    /// AppendOnly: an append is copying its bytes past `committed` with no lock held (see
    /// [`AppendClaim`]); other appends wait for it on `Region::appended`.
    appending: bool,
}

/// An append between its claim of the region's tail and its commit: gives the claim back (and
/// wakes the next append) when dropped, whether the append committed or failed.
struct AppendClaim<'a> {
    region: &'a Region,
}

impl Drop for AppendClaim<'_> {
    fn drop(&mut self) {
        self.region.inner.lock().appending = false;
        self.region.appended.notify_all();
    }
}

/// A region. Shared (`Arc`) by the fds bound to it.
#[pin_data]
pub(crate) struct Region {
    lease: IdLease,
    _charge: Charge,
    pub(crate) policy: u32,
    pub(crate) size: u64,
    slot_size: u32,
    slot_count: u32,
    pub(crate) mem: SharedMem,
    #[pin]
    inner: Mutex<Inner>,
    /// Appends waiting for another append's claim to end.
    #[pin]
    appended: CondVar,
}

impl Region {
    /// Creates a region for user `uid` (charged to that user and the caller's memory cgroup).
    /// `ENOMEM` over `max_region_bytes` (or no memory), `EDQUOT` over the user's
    /// `max_user_region_bytes`.
    pub(crate) fn new(c: &KringRegionCreate, uid: u32) -> Result<Arc<Self>> {
        let max = crate::module_parameters::max_region_bytes.value();
        let size = ring::region_size(c, max).map_err(|e| match e {
            ring::ArgError::TooLarge => ENOMEM,
            _ => EINVAL,
        })?;
        let len = usize::try_from(size).map_err(|_| ENOMEM)?;
        // In the whole pages it takes: a 1-byte region costs a page.
        let charge = Charge::take(uid, crate::limits::pages(len))?;
        let mem = SharedMem::new(len)?;
        let lease = IdLease::take()?;
        Arc::pin_init(
            try_pin_init!(Self {
                lease,
                _charge: charge,
                policy: c.policy,
                size,
                slot_size: c.slot_size,
                slot_count: c.slot_count,
                mem,
                inner <- new_mutex!(Inner { committed: 0, sealed: false, appending: false }),
                appended <- new_condvar!(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Whether user space may map the region writable.
    pub(crate) fn writable_mapping(&self) -> bool {
        self.policy == KRING_REGION_SLAB
    }

    /// `KRING_IOC_REGION_INFO`.
    pub(crate) fn info(&self) -> KringRegionInfo {
        let g = self.inner.lock();
        let committed = match self.policy {
            KRING_REGION_APPEND_ONLY => g.committed,
            KRING_REGION_IMMUTABLE if g.sealed => self.size,
            KRING_REGION_IMMUTABLE => 0,
            _ => self.size,
        };
        KringRegionInfo {
            id: self.lease.id,
            generation: self.lease.generation,
            policy: self.policy,
            flags: if g.sealed { KRING_REGION_SEALED } else { 0 },
            size: self.size,
            committed,
            slot_size: self.slot_size,
            slot_count: self.slot_count,
        }
    }

    /// `KRING_IOC_REGION_WRITE`: unsealed Immutable or Slab. `EPERM` when sealed or AppendOnly.
    ///
    /// The bytes travel in chunks of `WRITE_CHUNK` (one bounce buffer of that size, however
    /// large the write), each copied from user memory with no lock held and stored under
    /// `inner`. A write that races a seal of its own region may be partly applied: it returns
    /// `EPERM`, and the region holds what was stored before the seal.
    pub(crate) fn write(&self, w: &KringRegionWrite) -> Result {
        if w.flags != 0 {
            return Err(EINVAL);
        }
        if self.policy == KRING_REGION_APPEND_ONLY {
            return Err(EPERM);
        }
        if !ring::range_inside(w.offset, w.len as u64, self.size) {
            return Err(EINVAL);
        }
        if self.inner.lock().sealed {
            return Err(EPERM);
        }
        let off = usize::try_from(w.offset).map_err(|_| EINVAL)?;
        Self::copy_in(w.addr, off, w.len as usize, |at, chunk| {
            let g = self.inner.lock();
            if g.sealed {
                return Err(EPERM);
            }
            // `at + chunk.len()` lies inside the region: `offset + len` was checked above.
            // SAFETY: Immutable: no writable user mapping, and `inner` serialises kernel writers.
            // Slab: the copy creates no reference; a racing user write only changes which bytes win.
            unsafe { self.mem.write_bytes(at, chunk) }
        })
    }

    /// Copies `total` bytes from user memory at `addr` in chunks of `WRITE_CHUNK`, through one
    /// bounce buffer however large `total` is, and hands each chunk to `store` with its offset
    /// in the region (counted from `off`). No lock is held while user memory is read; `store`
    /// takes what it needs.
    fn copy_in(addr: u64, off: usize, total: usize, mut store: impl FnMut(usize, &[u8]) -> Result) -> Result {
        let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
        let mut reader = UserSlice::new(UserPtr::from_addr(addr), total).reader();
        let mut buf = KVVec::with_capacity(total.min(WRITE_CHUNK), GFP_KERNEL_ACCOUNT)?;
        let mut done = 0usize;
        while done < total {
            let n = (total - done).min(WRITE_CHUNK);
            buf.clear();
            buf.resize(n, 0, GFP_KERNEL_ACCOUNT)?;
            reader.read_slice(&mut buf)?;
            store(off.checked_add(done).ok_or(EINVAL)?, &buf)?;
            done += n;
        }
        Ok(())
    }

    /// `KRING_IOC_REGION_APPEND`: returns the new committed length. `ENOSPC` past `max_size`,
    /// decided before anything is allocated or copied.
    ///
    /// Appends to one region are serialised by a claim on its tail ([`AppendClaim`]), not by a
    /// lock: the claimant copies its bytes in chunks of `WRITE_CHUNK` through one bounce buffer
    /// (however long the append) to just past the committed length, then commits them all at
    /// once, so a reader never sees part of an append and a failed one (`EFAULT`) commits
    /// nothing. Another append waits for the claim interruptibly (`EINTR`).
    pub(crate) fn append(&self, a: &KringRegionAppend) -> Result<u64> {
        if a.flags != 0 || a.committed != 0 {
            return Err(EINVAL);
        }
        if self.policy != KRING_REGION_APPEND_ONLY {
            return Err(EINVAL);
        }
        let start = {
            let mut g = self.inner.lock();
            while g.appending {
                if self.appended.wait_interruptible(&mut g) {
                    return Err(EINTR);
                }
            }
            if !ring::range_inside(g.committed, a.len as u64, self.size) {
                return Err(ENOSPC);
            }
            g.appending = true;
            g.committed
        };
        let claim = AppendClaim { region: self };
        let off = usize::try_from(start).map_err(|_| EINVAL)?;
        Self::copy_in(a.addr, off, a.len as usize, |at, chunk| {
            let _g = self.inner.lock();
            // SAFETY: AppendOnly regions have no writable user mapping, the claim makes this
            // the only kernel writer, and `at..at + chunk.len()` lies past the committed length
            // (checked with the claim taken), which no reader relies on yet.
            unsafe { self.mem.write_bytes(at, chunk) }
        })?;
        let mut g = self.inner.lock();
        g.committed = start + a.len as u64;
        let committed = g.committed;
        drop(g);
        drop(claim);
        Ok(committed)
    }

    /// The `{id, generation}` that names this region.
    pub(crate) fn handle(&self) -> (u32, u32) {
        (self.lease.id, self.lease.generation)
    }

    /// Validates a descriptor to `offset..offset+length` against the region's state now. The
    /// checked state never reverts (a seal is final, a committed length only grows), so the
    /// check stays true for as long as the descriptor exists.
    pub(crate) fn check_descriptor(&self, offset: u64, length: u32) -> Result {
        let g = self.inner.lock();
        let stable = match self.policy {
            KRING_REGION_IMMUTABLE if g.sealed => self.size,
            KRING_REGION_APPEND_ONLY => g.committed,
            _ => 0,
        };
        drop(g);
        ring::check_descriptor(self.policy, self.size, stable, offset, length).map_err(|e| match e {
            ring::DescError::Range => EINVAL,
            ring::DescError::Slab => EOPNOTSUPP,
            ring::DescError::NotStable => ENODATA,
        })
    }

    /// Whether `{id, generation}` names a live region (for `ESTALE` versus `EACCES`).
    pub(crate) fn is_live(id: u32, generation: u32) -> bool {
        REGION_IDS.lock().slots.get(id as usize).is_some_and(|s| s.live && s.generation == generation)
    }

    /// `KRING_IOC_REGION_SEAL`: Immutable only (`EINVAL` otherwise); sealing twice is fine.
    pub(crate) fn seal(&self) -> Result {
        if self.policy != KRING_REGION_IMMUTABLE {
            return Err(EINVAL);
        }
        self.inner.lock().sealed = true;
        Ok(())
    }
}
