// SPDX-License-Identifier: GPL-2.0
//! A kring queue: four priority rings, payload slots and the kernel's private state.
//!
//! # Lock order (outermost first)
//!
//! 1. `registry::REGISTRY` (global mutex: the name table)
//! 2. `file::Binding::submit_alloc` (per-fd mutex, held only across the first allocation of
//!    the fd's submission area, by `ENTER` or `->mmap`; never across a wait)
//! 3. `Queue::inner` (mutex: everything that changes; released by every wait)
//! 4. the region leaves: `Region::inner`, `region::REGION_IDS`, `region::REGION_BYTES`
//!    (taken under `Queue::inner` when a batched descriptor is validated or a consumed
//!    descriptor drops the last reference to its region)
//! 5. `schemas::SCHEMAS` (a leaf, taken when a queue's last reference drops, possibly under
//!    `REGISTRY`)
//! 6. `limits::USERS` (a leaf: taken when a queue or a submission area is created or freed,
//!    possibly under `REGISTRY` or a binding's `submit_alloc`)
//!
//! A region append waiting for another's claim sleeps on `Region::appended`, which releases
//! `Region::inner`; nothing else waits with a region lock held.
//!
//! # Schemas
//!
//! A queue created with a schema checks every message before it is queued, always on bytes no
//! one can change any more and never under `Queue::inner`: `KRING_IOC_SEND` and batched inline
//! payloads in a kernel bounce buffer, descriptor payloads in their region, whose bytes can no
//! longer change once the descriptor is accepted (sealed Immutable or committed AppendOnly
//! bytes; at most `max_msg_size` of them). A refused message is `EBADMSG` and never reaches a
//! payload slot; the violation is handed back to the caller, which records it for
//! `KRING_IOC_SCHEMA_ERROR`. Queues without a schema skip all of it: their batches copy straight
//! from the submission area into the slots, holding the lock across entries.
//!
//! User memory is never touched while `Queue::inner` is held: payloads go through a kernel
//! bounce buffer (a sender stuck in a page fault, e.g. on FUSE or userfaultfd memory, cannot
//! block anyone else). No lock is held across a wait or a user copy: a kernel-side receive marks
//! the message it is copying out as claimed (`Inner::recv_claimed`, [`RecvClaim`]) and drops
//! the lock; a second `KRING_IOC_RECV` waits for the claim interruptibly, within its own timeout
//! (`EAGAIN` at once with timeout 0). `->mmap` runs under `mmap_lock` and takes at most
//! `Binding::submit_alloc`, whose holder only allocates.
//!
//! # Trust
//!
//! The kernel keeps private copies of every index (`Inner::tails`, `Inner::heads`) and of every
//! entry's slot, length and sequence (`Inner::meta`). The only shared value it reads back is the
//! receiver's consumer index of each ring, read once per sync and accepted only if it moves
//! forward and not past the tail (`ring::accept_head`); anything else is ignored and reported to
//! the receiver as `EUCLEAN`. Nothing user space writes can make the kernel index out of range.

use core::mem::offset_of;

use kernel::{
    bindings,
    new_mutex,
    prelude::*,
    static_lock_class,
    sync::{
        atomic::{
            Acquire,
            Full,
            Relaxed,
            Release, //
        },
        barrier::smp_mb,
        lock::{
            mutex::MutexBackend,
            Guard, //
        },
        poll::PollCondVarBox,
        Arc,
        CondVarTimeoutResult,
        Mutex, //
    },
};

use crate::{
    limits::{
        self,
        UserCharge, //
    },
    deadline::{
        Deadline,
        Sleep, //
    },
    region::Region,
    schema::Violation,
    schemas::SchemaRef,
    ring::{
        self,
        Geometry, //
    },
    shm::SharedMem,
    uapi::*,
};

/// Kernel-private record of one ring position.
#[derive(Clone, Copy, Default)]
struct Meta {
    slot: u32,
    len: u32,
    seq: u64,
    kind: u8,
}

/// The state of a queue that changes, protected by `Queue::inner`.
struct Inner {
    /// Producer index of each priority ring (the kernel's own copy).
    tails: [u32; KRING_NR_PRIO],
    /// Consumer index of each priority ring, as last accepted from the receiver.
    heads: [u32; KRING_NR_PRIO],
    /// Last sequence number handed out.
    seq: u64,
    send_count: u64,
    recv_count: u64,
    /// Free payload slots (a stack). Its capacity is `ring_size`, so pushes never allocate.
    free: KVVec<u32>,
    /// `KRING_NR_PRIO * ring_size` records, ring `p` at `p * ring_size`.
    meta: KVVec<Meta>,
    /// For each ring position holding a descriptor, the region it refers to: a queued
    /// descriptor keeps its region alive. Same indexing as `meta`.
    held: KVVec<Option<Arc<Region>>>,
    /// Bound fds with `KRING_RIGHT_SEND`.
    senders: u32,
    /// Whether an fd with `KRING_RIGHT_RECV` is bound.
    receiver: bool,
    /// Whether the queue is in the name table.
    named: bool,
    /// Whether `KRING_HDR_WAKE_SENDERS` is set in the header.
    wake_senders: bool,
    /// With `wake_senders`: the free places the neediest sleeping sender waits for, as
    /// published in `KringHeader::wake_room`.
    wake_room: u32,
    /// The last consumer index read from the consumer page was refused.
    corrupt: bool,
    /// A kernel-side receive (`KRING_IOC_RECV`) has taken the next message and is copying it
    /// to user space with no lock held; other kernel-side receives wait for it to end (see
    /// [`RecvClaim`]) instead of taking the same message.
    recv_claimed: bool,
    /// Tasks asleep on `Queue::readers` (for a message, or for a claim to end).
    recv_sleepers: u32,
    /// Tasks asleep on `Queue::writers` (for room).
    send_sleepers: u32,
}

/// Which of a queue's wait queues a sleeper waits on.
#[derive(Clone, Copy)]
enum Side {
    /// `Queue::readers`: a message, the end of a receive claim, or disconnection.
    Readers,
    /// `Queue::writers`: room, or disconnection.
    Writers,
}

/// The wakeups a change calls for, decided under `Queue::inner` and done after it is
/// dropped: `Some(n)` wakes that wait queue, which `n` tasks sleep on.
#[derive(Clone, Copy, Default)]
#[must_use]
struct Wake {
    readers: Option<u32>,
    writers: Option<u32>,
}

type InnerGuard<'a> = Guard<'a, Inner, MutexBackend>;

/// Payloads up to this size are bounced through the kernel stack instead of the heap.
const SMALL_MSG: usize = 256;

/// A batch drops `Queue::inner` after copying this many payload bytes under it.
const LOCK_BYTES: usize = 256 * 1024;

/// Live queues, checked against the `max_queues` module parameter.
static LIVE_QUEUES: kernel::sync::atomic::Atomic<u32> = kernel::sync::atomic::Atomic::new(0);

/// Queues alive now (for introspection).
pub(crate) fn live_queues() -> u32 {
    LIVE_QUEUES.load(Relaxed)
}

/// A queue's state as introspection shows it ([`Queue::census`]).
pub(crate) struct Census {
    pub(crate) len: u32,
    pub(crate) senders: u32,
    pub(crate) receiver: bool,
    pub(crate) send_count: u64,
    pub(crate) recv_count: u64,
}

/// One live-queue count, given back on drop.
struct QueueCount;

impl QueueCount {
    fn take() -> Result<Self> {
        let max = crate::module_parameters::max_queues.value();
        let mut cur = LIVE_QUEUES.load(Relaxed);
        loop {
            if cur >= max {
                return Err(ENOMEM);
            }
            match LIVE_QUEUES.cmpxchg(cur, cur + 1, Relaxed) {
                Ok(_) => return Ok(Self),
                Err(now) => cur = now,
            }
        }
    }
}

impl Drop for QueueCount {
    fn drop(&mut self) {
        LIVE_QUEUES.fetch_sub(1, Relaxed);
    }
}

/// What a kernel-side receive took: committed only after the copy to user space succeeded.
struct Taken {
    prio: usize,
    head: u32,
    seq: u64,
}

/// A kernel-side receive between take and commit: it owns `Inner::recv_claimed`, which it
/// gives back (waking whoever waits for it) when committed or dropped, so a receive that fails
/// to reach user memory consumes nothing and leaves the message to the next one.
pub(crate) struct RecvClaim<'a> {
    queue: &'a Queue,
    taken: Taken,
    done: bool,
}

impl RecvClaim<'_> {
    /// Consumes the message unless the receiver already consumed it through its mapping.
    pub(crate) fn commit(mut self) {
        self.done = true;
        self.queue.recv_commit(&self.taken);
    }
}

impl Drop for RecvClaim<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut g = self.queue.inner.lock();
            g.recv_claimed = false;
            let w = self.queue.wake_for(&g, true, false);
            drop(g);
            self.queue.wake(w);
        }
    }
}

/// A queue. Shared (`Arc`) by the fds bound to it and, while named, by the name table.
#[pin_data]
pub(crate) struct Queue {
    _count: QueueCount,
    /// What the creator pays for this queue (see `limits`).
    user: UserCharge,
    pub(crate) geo: Geometry,
    pub(crate) schema: Option<SchemaRef>,
    pub(crate) mode: u32,
    pub(crate) uid: bindings::kuid_t,
    pub(crate) gid: bindings::kgid_t,
    pub(crate) header: SharedMem,
    pub(crate) consumer: SharedMem,
    pub(crate) entries: SharedMem,
    pub(crate) payload: SharedMem,
    #[pin]
    inner: Mutex<Inner>,
    /// Receivers wait here: woken when messages are published, a receive claim ends, or the
    /// last sender goes.
    readers: PollCondVarBox,
    /// Senders wait here: woken when places are freed or the receiver goes.
    writers: PollCondVarBox,
    /// Whether any fd ever polled this queue. Pollers are not counted, so once there is one,
    /// every change wakes the wait queue it concerns; before, only counted sleepers are woken
    /// and a change no one waits for costs no wakeup. Set before the poller reads the state
    /// under `inner`, read under `inner` by the waker: the lock orders the two.
    polled: kernel::sync::atomic::Atomic<bool>,
}

fn head_off(p: usize) -> usize {
    offset_of!(KringConsumer, head) + 4 * p
}
fn tail_off(p: usize) -> usize {
    offset_of!(KringHeader, tail) + 4 * p
}

impl Queue {
    /// Creates a queue with geometry `geo`, owned by `uid`/`gid` with permission bits `mode`.
    pub(crate) fn new(
        geo: Geometry,
        schema: Option<SchemaRef>,
        mode: u32,
        uid: bindings::kuid_t,
        gid: bindings::kgid_t,
    ) -> Result<Arc<Self>> {
        let count = QueueCount::take()?;
        let rs = geo.ring_size as usize;
        let n = KRING_NR_PRIO * rs;
        // Everything below, in the bytes it takes, charged before any of it is allocated.
        let tables = rs * size_of::<u32>() + n * (size_of::<Meta>() + size_of::<Option<Arc<Region>>>());
        let bytes = [geo.header_len, geo.consumer_len, geo.entries_len, geo.payload_len]
            .iter()
            .fold(limits::pages(tables), |sum, &len| sum.saturating_add(limits::pages(len as usize)));
        let user = UserCharge::queue(uid.val, bytes)?;
        let header = SharedMem::new(geo.header_len as usize)?;
        let consumer = SharedMem::new(geo.consumer_len as usize)?;
        let entries = SharedMem::new(geo.entries_len as usize)?;
        let payload = SharedMem::new(geo.payload_len as usize)?;

        let mut free = KVVec::with_capacity(rs, GFP_KERNEL_ACCOUNT)?;
        for slot in (0..geo.ring_size).rev() {
            free.push(slot, GFP_KERNEL_ACCOUNT)?;
        }
        let mut meta = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        let mut held = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..n {
            meta.push(Meta::default(), GFP_KERNEL_ACCOUNT)?;
            held.push(None, GFP_KERNEL_ACCOUNT)?;
        }

        header.write(
            0,
            KringHeader {
                magic: KRING_HEADER_MAGIC,
                ring_size: geo.ring_size,
                ring_mask: geo.mask(),
                slot_size: geo.slot_size,
                max_msg_size: geo.max_msg_size,
                flags: 0,
                seq: 0,
                wake_room: 0,
                tail: [0; KRING_NR_PRIO],
                send_count: 0,
                reserved: [0; 3],
            },
        )?;

        let readers = PollCondVarBox::new(c"kring_queue_readers", static_lock_class!())?;
        let writers = PollCondVarBox::new(c"kring_queue_writers", static_lock_class!())?;
        Arc::pin_init(
            try_pin_init!(Self {
                _count: count,
                user,
                geo,
                schema,
                mode,
                uid,
                gid,
                header,
                consumer,
                entries,
                payload,
                inner <- new_mutex!(Inner {
                    tails: [0; KRING_NR_PRIO],
                    heads: [0; KRING_NR_PRIO],
                    seq: 0,
                    send_count: 0,
                    recv_count: 0,
                    free,
                    meta,
                    held,
                    senders: 0,
                    receiver: false,
                    named: false,
                    wake_senders: false,
                    wake_room: 0,
                    corrupt: false,
                    recv_claimed: false,
                    recv_sleepers: 0,
                    send_sleepers: 0,
                }),
                readers,
                writers,
                polled: kernel::sync::atomic::Atomic::new(false),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn meta_index(&self, p: usize, idx: u32) -> usize {
        p * self.geo.ring_size as usize + (idx & self.geo.mask()) as usize
    }

    /// Messages queued, by the kernel's accepted indices.
    fn queued(inner: &Inner) -> u32 {
        (0..KRING_NR_PRIO).fold(0u32, |n, p| {
            n.saturating_add(ring::ring_len(inner.heads[p], inner.tails[p]))
        })
    }

    /// Reads the receiver's consumer indices once, accepts those that are valid and frees the
    /// slots of the messages consumed since the last sync.
    fn sync_heads(&self, inner: &mut Inner) {
        for p in 0..KRING_NR_PRIO {
            let user = match self.consumer.atomic_u32(head_off(p)) {
                Ok(a) => a.load(Acquire),
                Err(_) => continue,
            };
            match ring::accept_head(inner.heads[p], user, inner.tails[p]) {
                Some(h) => {
                    while inner.heads[p] != h {
                        let i = self.meta_index(p, inner.heads[p]);
                        if let Some(m) = inner.meta.get(i).copied() {
                            // Cannot fail: at most ring_size slots are ever out.
                            let _ = inner.free.push_within_capacity(m.slot);
                        }
                        // A consumed descriptor no longer keeps its region alive.
                        if let Some(r) = inner.held.get_mut(i) {
                            *r = None;
                        }
                        inner.heads[p] = inner.heads[p].wrapping_add(1);
                        inner.recv_count += 1;
                    }
                }
                None => inner.corrupt = true,
            }
        }
    }

    /// Publishes `tails` and `send_count` to the header under its sequence count.
    fn publish(&self, inner: &Inner) {
        let Ok(seq) = self.header.atomic_u32(offset_of!(KringHeader, seq)) else { return };
        let s = seq.load(Relaxed);
        seq.store(s.wrapping_add(1), Relaxed);
        smp_mb(Full);
        if let Ok(c) = self.header.atomic_u64(offset_of!(KringHeader, send_count)) {
            c.store(inner.send_count, Relaxed);
        }
        for p in 0..KRING_NR_PRIO {
            if let Ok(t) = self.header.atomic_u32(tail_off(p)) {
                t.store(inner.tails[p], Release);
            }
        }
        seq.store(s.wrapping_add(2), Release);
    }

    /// Clears `KRING_HDR_WAKE_SENDERS` (and `wake_room`): the receiver notified.
    fn clear_wake_senders(&self, inner: &mut Inner) {
        if !inner.wake_senders {
            return;
        }
        inner.wake_senders = false;
        inner.wake_room = 0;
        if let Ok(f) = self.header.atomic_u32(offset_of!(KringHeader, flags)) {
            f.store(0, Release);
        }
        if let Ok(w) = self.header.atomic_u32(offset_of!(KringHeader, wake_room)) {
            w.store(0, Relaxed);
        }
    }

    /// Sets `KRING_HDR_WAKE_SENDERS` for a sender that waits for `need` free places
    /// (`wake_room` keeps the smallest need of all sleepers until the next notify). The new
    /// `wake_room` is stored before the flag is store-released, so a receiver that sees the
    /// flag sees a `wake_room` at least this small.
    fn set_wake_senders(&self, inner: &mut Inner, need: u32) {
        let need = need.clamp(1, self.geo.ring_size);
        let room = if inner.wake_senders { inner.wake_room.min(need) } else { need };
        if inner.wake_senders && room == inner.wake_room {
            return;
        }
        inner.wake_room = room;
        if let Ok(w) = self.header.atomic_u32(offset_of!(KringHeader, wake_room)) {
            w.store(room, Relaxed);
        }
        if !inner.wake_senders {
            inner.wake_senders = true;
            if let Ok(f) = self.header.atomic_u32(offset_of!(KringHeader, flags)) {
                f.store(KRING_HDR_WAKE_SENDERS, Release);
            }
        }
    }

    /// Whether the queue has room for one more message after the receiver's latest progress.
    /// If not, asks the receiver to call `KRING_IOC_NOTIFY` once `need` places are free (flag,
    /// full barrier, re-read: pairs with the receiver's head store, full barrier, flag load, so
    /// no wakeup is lost). A batch asks for room for its remaining entries, up to half the
    /// ring, so a full queue costs its receiver one notify per that many messages, not one
    /// per message.
    ///
    /// Heads only move forward, so room counted from the last accepted heads is room for sure:
    /// the consumer page is read only when those say the queue is full.
    fn has_room(&self, inner: &mut Inner, need: u32) -> bool {
        self.room(inner, need, true)
    }

    /// [`Self::has_room`], asking the receiver for a notify only if `ask`: a sender that will
    /// not wait (timeout 0) must not make the receiver call `KRING_IOC_NOTIFY` for nobody.
    fn room(&self, inner: &mut Inner, need: u32, ask: bool) -> bool {
        if Self::queued(inner) < self.geo.ring_size {
            return true;
        }
        self.sync_heads(inner);
        if Self::queued(inner) < self.geo.ring_size {
            return true;
        }
        if !ask {
            return false;
        }
        self.set_wake_senders(inner, need);
        smp_mb(Full);
        self.sync_heads(inner);
        Self::queued(inner) < self.geo.ring_size
    }

    /// The wakeups a change to `inner` calls for: the readers' wait queue if `readers` and
    /// someone sleeps or polls there, the same for the writers'.
    fn wake_for(&self, inner: &Inner, readers: bool, writers: bool) -> Wake {
        let polled = self.polled.load(Relaxed);
        let want = |asked: bool, n: u32| (asked && (n > 0 || polled)).then_some(n);
        Wake { readers: want(readers, inner.recv_sleepers), writers: want(writers, inner.send_sleepers) }
    }

    /// Does the wakeups `w`, with `inner` no longer held. A lone sleeper gets a synchronous
    /// wakeup, as pipes and sockets give: the waker is about to sleep or return, so the wakee
    /// may as well run on this CPU; pollers are always woken (they do not wait exclusively).
    fn wake(&self, w: Wake) {
        for (n, cv) in [(w.readers, &self.readers), (w.writers, &self.writers)] {
            match n {
                None => {}
                Some(1) => cv.notify_sync(),
                Some(_) => cv.notify_all(),
            }
        }
    }

    /// Sleeps once on the wait queue of `side`, until woken, a signal, or `deadline`.
    /// `ETIMEDOUT` once the deadline has passed (checked before sleeping, so a waiter always
    /// looks at the state once more after its last sleep), `EINTR` on a signal.
    fn sleep(&self, guard: &mut InnerGuard<'_>, side: Side, deadline: &Deadline) -> Result {
        let how = deadline.sleep();
        if let Sleep::Expired = how {
            return Err(ETIMEDOUT);
        }
        let cv = match side {
            Side::Readers => {
                guard.recv_sleepers += 1;
                &self.readers
            }
            Side::Writers => {
                guard.send_sleepers += 1;
                &self.writers
            }
        };
        let r = match how {
            Sleep::For(j) => match cv.wait_interruptible_timeout(guard, j) {
                CondVarTimeoutResult::Signal { .. } => Err(EINTR),
                CondVarTimeoutResult::Timeout | CondVarTimeoutResult::Woken { .. } => Ok(()),
            },
            _ => {
                if cv.wait_interruptible(guard) {
                    Err(EINTR)
                } else {
                    Ok(())
                }
            }
        };
        match side {
            Side::Readers => guard.recv_sleepers = guard.recv_sleepers.saturating_sub(1),
            Side::Writers => guard.send_sleepers = guard.send_sleepers.saturating_sub(1),
        }
        r
    }

    /// Waits until the queue has room. Errors: `ENOSPC` (full, no wait asked), `EPIPE` (no
    /// receiver can ever exist), `ETIMEDOUT`, `EINTR`.
    fn wait_room(&self, guard: &mut InnerGuard<'_>, timeout_ms: u32) -> Result {
        let deadline = Deadline::after_ms(timeout_ms);
        loop {
            if !guard.receiver && !guard.named {
                return Err(EPIPE);
            }
            if self.room(guard, 1, timeout_ms != 0) {
                return Ok(());
            }
            if timeout_ms == 0 {
                return Err(ENOSPC);
            }
            self.sleep(guard, Side::Writers, &deadline)?;
        }
    }

    /// Accepts one message whose payload `fill` writes into its slot. The caller made sure
    /// there is room. On error nothing changes.
    fn enqueue(
        &self,
        inner: &mut Inner,
        prio: u8,
        len: u32,
        fill: impl FnOnce(&SharedMem, usize) -> Result,
    ) -> Result {
        self.enqueue_kind(inner, prio, len, KRING_KIND_INLINE, None, fill)
    }

    /// Accepts one message of `kind` (a descriptor holds `region` alive while queued). The new
    /// tail is not yet visible through the header: the caller [publishes](Self::publish) once it
    /// is done (once per batch), before it drops the lock or sleeps.
    fn enqueue_kind(
        &self,
        inner: &mut Inner,
        prio: u8,
        len: u32,
        kind: u8,
        region: Option<Arc<Region>>,
        fill: impl FnOnce(&SharedMem, usize) -> Result,
    ) -> Result {
        // Callers validate too; this is the one place that indexes the rings by priority.
        if !ring::valid_priority(prio) {
            return Err(EINVAL);
        }
        let p = prio as usize;
        let slot = inner.free.pop().ok_or(ENOSPC)?;
        let off = self.geo.slot_offset(slot).ok_or(EINVAL)? as usize;
        if let Err(e) = fill(&self.payload, off) {
            let _ = inner.free.push_within_capacity(slot);
            return Err(e);
        }
        let idx = inner.tails[p];
        let seq = inner.seq + 1;
        let entry = KringEntry {
            seq,
            len,
            slot,
            priority: prio,
            kind,
            flags: 0,
            reserved: 0,
            reserved2: 0,
        };
        let written = self
            .geo
            .entry_offset(p, idx)
            .ok_or(EINVAL)
            .and_then(|eoff| self.entries.write(eoff as usize, entry));
        if let Err(e) = written {
            let _ = inner.free.push_within_capacity(slot);
            return Err(e);
        }
        let mi = self.meta_index(p, idx);
        if let Some(m) = inner.meta.get_mut(mi) {
            *m = Meta { slot, len, seq, kind };
        }
        if let Some(h) = inner.held.get_mut(mi) {
            *h = region;
        }
        inner.seq = seq;
        inner.tails[p] = idx.wrapping_add(1);
        inner.send_count += 1;
        Ok(())
    }

    /// Checks `msg` against the queue's schema, if it has one; a violation goes to `refused`.
    fn check(&self, msg: &[u8], refused: &mut Option<Violation>) -> Result {
        if let Some(s) = &self.schema {
            if let Err(v) = s.validate(msg) {
                *refused = Some(v);
                return Err(EBADMSG);
            }
        }
        Ok(())
    }

    /// `KRING_IOC_SEND`: copies one message from user memory.
    pub(crate) fn send(&self, args: &KringSend, timeout_ms: u32, refused: &mut Option<Violation>) -> Result {
        if !ring::valid_priority(args.priority) || args.flags != 0 || args.pad != [0; 3] {
            return Err(EINVAL);
        }
        if args.len > self.geo.max_msg_size {
            return Err(EMSGSIZE);
        }
        let addr = usize::try_from(args.addr).map_err(|_| EFAULT)?;
        // Into kernel memory first, before any lock: user memory may fault for as long as its
        // owner likes. Small payloads use the stack, larger ones a heap buffer.
        let len = args.len as usize;
        let mut reader = kernel::uaccess::UserSlice::new(UserPtr::from_addr(addr), len).reader();
        let mut small = [0u8; SMALL_MSG];
        let mut big = KVVec::new();
        let data: &[u8] = match small.get_mut(..len) {
            Some(s) => {
                reader.read_slice(s)?;
                s
            }
            None => {
                reader.read_all(&mut big, GFP_KERNEL_ACCOUNT)?;
                &big
            }
        };
        // The bounce buffer is kernel memory: what is checked is what is queued.
        self.check(data, refused)?;
        let mut g = self.inner.lock();
        self.wait_room(&mut g, timeout_ms)?;
        self.enqueue(&mut g, args.priority, args.len, |mem, off| {
            // SAFETY: payload slots have no writable user mapping, and we hold `inner`.
            unsafe { mem.write_bytes(off, data) }
        })?;
        self.publish(&g);
        let w = self.wake_for(&g, true, false);
        drop(g);
        self.wake(w);
        Ok(())
    }

    /// `KRING_IOC_SEND_DESC`: queues a descriptor to `offset..offset+length` of `region`,
    /// validated against the region's real state.
    pub(crate) fn send_desc(
        &self,
        region: Arc<Region>,
        offset: u64,
        length: u32,
        prio: u8,
        timeout_ms: u32,
        refused: &mut Option<Violation>,
    ) -> Result {
        if !ring::valid_priority(prio) {
            return Err(EINVAL);
        }
        // Refuse a bad descriptor (or payload) before waiting for room, without the queue lock.
        self.check_desc(&region, offset, length, refused)?;
        let mut g = self.inner.lock();
        self.wait_room(&mut g, timeout_ms)?;
        self.enqueue_desc(&mut g, region, offset, length, prio)?;
        self.publish(&g);
        let w = self.wake_for(&g, true, false);
        drop(g);
        self.wake(w);
        Ok(())
    }

    /// The region `{id, generation}` if a descriptor to it is queued here.
    pub(crate) fn region_in_flight(&self, id: u32, generation: u32) -> Option<Arc<Region>> {
        let mut g = self.inner.lock();
        self.sync_heads(&mut g);
        for p in 0..KRING_NR_PRIO {
            let mut i = g.heads[p];
            while i != g.tails[p] {
                if let Some(Some(r)) = g.held.get(self.meta_index(p, i)) {
                    if r.handle() == (id, generation) {
                        return Some(r.clone());
                    }
                }
                i = i.wrapping_add(1);
            }
        }
        None
    }

    /// `KRING_IOC_ENTER`: accepts `sqe[start..start+count)` from `submit`, a sender's
    /// submission area, in order. Stops at the first invalid entry or, without
    /// `KRING_ENTER_WAIT`, when the queue is full. Returns how many entries were accepted and
    /// why it stopped early (`Ok` if it did not).
    ///
    /// `region_of` resolves a descriptor entry's `region_fd` to its region (the caller knows
    /// how fds are found; this file does not). A wait for room ends at `deadline`, the
    /// caller's for the whole call (`timeout_ms` from its start).
    pub(crate) fn enter(
        &self,
        submit: &SharedMem,
        args: &KringEnter,
        timeout_ms: u32,
        deadline: &Deadline,
        refused: &mut Option<Violation>,
        region_of: &dyn Fn(i32) -> Result<Arc<Region>>,
    ) -> (u32, Result) {
        if args.flags & !(KRING_ENTER_WAIT | KRING_ENTER_GETMSG) != 0 || args.error != 0 || args.submitted != 0 {
            return (0, Err(EINVAL));
        }
        let end = match args.start.checked_add(args.count) {
            Some(end) if end <= self.geo.sq_entries => end,
            _ => return (0, Err(EINVAL)),
        };
        let wait_ms = if args.flags & KRING_ENTER_WAIT != 0 { timeout_ms } else { 0 };
        let data_off = self.geo.sq_data_offset as usize;
        let mut done = 0u32;
        // Held across entries that need no preparation (the fast path of a queue without a
        // schema); dropped while an entry is prepared: descriptor resolution and every schema
        // check run without the queue lock, so a slow check stalls no other sender.
        let mut guard: Option<InnerGuard<'_>> = None;
        // Entries accepted but not yet published to the header: the tails are published once
        // per batch (one sequence-count round and full barrier), and before the lock is dropped
        // or the sender sleeps, so a receiver never waits on messages it cannot see.
        let mut unpublished = false;
        // With a schema, inline payloads are copied here, checked, and queued from here: what
        // is checked is what is queued, and a refused payload never reaches a payload slot.
        let mut bounce = KVVec::new();
        let mut copied = 0usize;
        let mut result = Ok(());
        for i in args.start..end {
            // Read the entry once, into kernel memory; validate only the copy.
            let sqe: KringSqe = match submit.read(i as usize * core::mem::size_of::<KringSqe>()) {
                Ok(s) => s,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let (from, _) = match ring::check_sqe(&sqe, self.geo.sq_data_size, self.geo.max_msg_size) {
                Ok(r) => r,
                Err(ring::ArgError::TooLarge) => {
                    result = Err(EMSGSIZE);
                    break;
                }
                Err(_) => {
                    result = Err(EINVAL);
                    break;
                }
            };
            let at = data_off + from as usize;
            let desc = sqe.flags & KRING_SQE_DESC != 0;
            let prepared = if desc {
                if let Some(g) = guard.take() {
                    if core::mem::take(&mut unpublished) {
                        self.publish(&g);
                    }
                }
                match self.prepare_desc_entry(submit, at, refused, region_of) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            } else {
                if self.schema.is_some() {
                    if let Some(g) = guard.take() {
                        if core::mem::take(&mut unpublished) {
                            self.publish(&g);
                        }
                    }
                    if let Err(e) = self.prepare_inline_entry(submit, at, sqe.len as usize, &mut bounce, refused) {
                        result = Err(e);
                        break;
                    }
                }
                None
            };
            let g = guard.get_or_insert_with(|| self.inner.lock());
            // Wait for room (the total timeout is shared by the whole batch).
            let room = loop {
                if !g.receiver && !g.named {
                    break Err(EPIPE);
                }
                // Once full, wait for room for the rest of the batch (bounded: half the ring),
                // not for one place at a time; whatever fits is still accepted first.
                let need = (end - i).min(self.geo.ring_size / 2);
                if self.room(g, need, wait_ms != 0) {
                    break Ok(());
                }
                if wait_ms == 0 {
                    break Err(ENOSPC);
                }
                if done > 0 {
                    // Let the receiver see what was accepted so far while we sleep.
                    if core::mem::take(&mut unpublished) {
                        self.publish(g);
                    }
                    let w = self.wake_for(g, true, false);
                    // Wakes without dropping the lock: the receiver sleeps until we do.
                    self.wake(w);
                }
                if let Err(e) = self.sleep(g, Side::Writers, deadline) {
                    break Err(e);
                }
            };
            if let Err(e) = room {
                result = Err(e);
                break;
            }
            let r = match prepared {
                Some((region, offset, length)) => self.enqueue_desc(g, region, offset, length, sqe.priority),
                None if self.schema.is_some() => self.enqueue(g, sqe.priority, sqe.len, |mem, off| {
                    // SAFETY: payload slots have no writable user mapping, and we hold `inner`.
                    unsafe { mem.write_bytes(off, &bounce) }
                }),
                None => self.enqueue(g, sqe.priority, sqe.len, |mem, off| mem.copy_from(off, submit, at, sqe.len as usize)),
            };
            if let Err(e) = r {
                result = Err(e);
                break;
            }
            unpublished = true;
            done += 1;
            // Copies under the lock are bounded: every `LOCK_BYTES` the batch publishes what it
            // accepted, wakes the receiver and lets others take the lock (they sleep on it
            // uninterruptibly, so a 64 MiB batch must not keep it for the whole copy).
            copied += sqe.len as usize;
            if copied >= LOCK_BYTES {
                copied = 0;
                if let Some(g) = guard.take() {
                    if core::mem::take(&mut unpublished) {
                        self.publish(&g);
                    }
                    let w = self.wake_for(&g, true, false);
                    drop(g);
                    self.wake(w);
                }
            }
        }
        let mut w = Wake::default();
        if let Some(g) = guard {
            if unpublished {
                self.publish(&g);
            }
            if done > 0 {
                w = self.wake_for(&g, true, false);
            }
            drop(g);
        } else if done > 0 {
            // The last entries were published when the lock was dropped to prepare the next.
            let g = self.inner.lock();
            w = self.wake_for(&g, true, false);
        }
        self.wake(w);
        (done, result)
    }

    /// A `KRING_SQE_DESC` entry of a batch, prepared without the queue lock: reads its
    /// `kring_desc_submit` once, resolves the region and validates the descriptor (and, with a
    /// schema, the bytes it names). Returns what `enqueue_desc` needs.
    fn prepare_desc_entry(
        &self,
        submit: &SharedMem,
        at: usize,
        refused: &mut Option<Violation>,
        region_of: &dyn Fn(i32) -> Result<Arc<Region>>,
    ) -> Result<(Arc<Region>, u64, u32)> {
        let ds: KringDescSubmit = submit.read(at)?;
        let region = region_of(ds.region_fd)?;
        self.check_desc(&region, ds.offset, ds.length, refused)?;
        Ok((region, ds.offset, ds.length))
    }

    /// An inline entry of a batch on a schema queue, prepared without the queue lock: copies
    /// the payload (which its sender may be changing) into `bounce` and checks the copy.
    fn prepare_inline_entry(
        &self,
        submit: &SharedMem,
        at: usize,
        len: usize,
        bounce: &mut KVVec<u8>,
        refused: &mut Option<Violation>,
    ) -> Result {
        bounce.clear();
        bounce.resize(len, 0, GFP_KERNEL_ACCOUNT)?;
        submit.copy_out(at, bounce)?;
        self.check(bounce, refused)
    }

    /// Validates a descriptor to `offset..offset+length` of `region` against the region's
    /// state and, on a schema queue, the bytes it names against the schema (at most
    /// `max_msg_size` of them: a typed message is a message). Needs no queue lock.
    fn check_desc(&self, region: &Region, offset: u64, length: u32, refused: &mut Option<Violation>) -> Result {
        if (self.geo.max_msg_size as usize) < KRING_DESCRIPTOR_SIZE {
            return Err(EMSGSIZE);
        }
        region.check_descriptor(offset, length)?;
        if self.schema.is_some() && length > self.geo.max_msg_size {
            return Err(EMSGSIZE);
        }
        self.check_region(region, offset, length, refused)
    }

    /// Checks the descriptor payload `offset..offset+length` of `region` against the schema.
    /// The caller validated the descriptor (`Region::check_descriptor`), so the bytes are
    /// stable: sealed Immutable or committed AppendOnly bytes never change again.
    fn check_region(&self, region: &Region, offset: u64, length: u32, refused: &mut Option<Violation>) -> Result {
        if self.schema.is_none() {
            return Ok(());
        }
        let off = usize::try_from(offset).map_err(|_| EINVAL)?;
        // SAFETY: `check_descriptor` accepted the range, so no one writes these bytes again
        // while the region lives (we hold a reference to it).
        let msg = unsafe { region.mem.slice(off, length as usize) }?;
        self.check(msg, refused)
    }

    /// Validates a descriptor to `offset..offset+length` of `region` against the region's state
    /// now and queues it; the queue keeps `region` alive until it is consumed. The caller made
    /// sure there is room and holds `inner` (region locks are leaves).
    /// Queues a descriptor to `offset..offset+length` of `region`, re-validated against the
    /// region's state (cheap; the state never reverts, so a check made before taking the lock
    /// still holds); the queue keeps `region` alive until it is consumed. The caller made sure
    /// there is room and holds `inner` (region locks are leaves).
    fn enqueue_desc(&self, inner: &mut Inner, region: Arc<Region>, offset: u64, length: u32, prio: u8) -> Result {
        if (self.geo.max_msg_size as usize) < KRING_DESCRIPTOR_SIZE {
            return Err(EMSGSIZE);
        }
        region.check_descriptor(offset, length)?;
        let (id, generation) = region.handle();
        let d = KringDescriptor { region_id: id, generation, offset, length, pad: 0 };
        self.enqueue_kind(inner, prio, KRING_DESCRIPTOR_SIZE as u32, KRING_KIND_DESCRIPTOR, Some(region), |mem, off| {
            // SAFETY: payload slots have no writable user mapping, and we hold `inner`.
            unsafe { mem.write_bytes(off, &d.to_bytes()) }
        })
    }

    /// The highest-priority pending message: `(priority, meta)`.
    fn next(&self, inner: &Inner) -> Option<(usize, Meta)> {
        let p = ring::next_priority(&inner.heads, &inner.tails)?;
        let m = inner.meta.get(self.meta_index(p, inner.heads[p])).copied()?;
        Some((p, m))
    }

    /// Waits until a message is pending, within `deadline`. Errors: `EAGAIN` (empty, no wait
    /// asked: `timeout_ms` 0), `EPIPE` (no sender can ever exist), `ETIMEDOUT`, `EINTR`.
    fn wait_message_for(&self, guard: &mut InnerGuard<'_>, timeout_ms: u32, deadline: &Deadline) -> Result {
        loop {
            self.sync_heads(guard);
            if guard.corrupt {
                return Err(EUCLEAN);
            }
            if Self::queued(guard) > 0 {
                return Ok(());
            }
            if guard.senders == 0 && !guard.named {
                return Err(EPIPE);
            }
            if timeout_ms == 0 {
                return Err(EAGAIN);
            }
            self.sleep(guard, Side::Readers, deadline)?;
        }
    }

    /// `KRING_IOC_RECV`, first half: waits for the next message and copies it into `buf`
    /// (kernel memory). `out` receives its description, also when the caller's buffer is too
    /// small (`EOVERFLOW`). Nothing is consumed until [`RecvClaim::commit`]; until then other
    /// kernel-side receives of this queue wait (interruptibly, within their own timeout; with
    /// timeout 0 they get `EAGAIN` at once) rather than take the same message.
    pub(crate) fn recv_take(&self, args: &KringRecv, timeout_ms: u32, out: &mut KringRecv, buf: &mut KVVec<u8>) -> Result<RecvClaim<'_>> {
        if args.flags & !KRING_RECV_PEEK != 0 {
            return Err(EINVAL);
        }
        let mut g = self.inner.lock();
        // Judge the consumer page as it is now, not as some earlier sync saw it.
        g.corrupt = false;
        let deadline = Deadline::after_ms(timeout_ms);
        loop {
            self.wait_message_for(&mut g, timeout_ms, &deadline)?;
            if !g.recv_claimed {
                break;
            }
            if timeout_ms == 0 {
                return Err(EAGAIN);
            }
            self.sleep(&mut g, Side::Readers, &deadline)?;
        }
        let (p, m) = self.next(&g).ok_or(EAGAIN)?;
        out.msg_len = m.len;
        out.seq = m.seq;
        out.priority = p as u8;
        out.kind = m.kind;
        if m.len > args.len {
            return Err(EOVERFLOW);
        }
        let off = self.geo.slot_offset(m.slot).ok_or(EINVAL)? as usize;
        buf.clear();
        buf.resize(m.len as usize, 0, GFP_KERNEL_ACCOUNT)?;
        // SAFETY: payload slots have no writable user mapping, and we hold `inner`.
        unsafe { self.payload.read_bytes(off, buf)? };
        g.recv_claimed = true;
        Ok(RecvClaim { queue: self, taken: Taken { prio: p, head: g.heads[p], seq: m.seq }, done: false })
    }

    /// `KRING_IOC_RECV`, second half, after the payload and the reply reached user space:
    /// consumes the message unless the receiver already consumed it through its mapping, and
    /// ends the claim.
    fn recv_commit(&self, t: &Taken) {
        let mut g = self.inner.lock();
        g.recv_claimed = false;
        self.sync_heads(&mut g);
        let p = t.prio;
        let still = g.heads.get(p) == Some(&t.head)
            && g.meta.get(self.meta_index(p, t.head)).map(|m| m.seq) == Some(t.seq)
            && g.heads[p] != g.tails[p];
        if !still {
            // Whoever waits for the claim to end.
            let w = self.wake_for(&g, true, false);
            drop(g);
            self.wake(w);
            return;
        }
        let mi = self.meta_index(p, t.head);
        if let Some(m) = g.meta.get(mi).copied() {
            let _ = g.free.push_within_capacity(m.slot);
        }
        if let Some(r) = g.held.get_mut(mi) {
            *r = None;
        }
        g.heads[p] = t.head.wrapping_add(1);
        g.recv_count += 1;
        // Keep the mapped view in step, unless the receiver moved its index meanwhile.
        if let Ok(h) = self.consumer.atomic_u32(head_off(p)) {
            let _ = h.cmpxchg(t.head, t.head.wrapping_add(1), Full);
        }
        self.clear_wake_senders(&mut g);
        // The next receive, and senders waiting for the place this freed.
        let w = self.wake_for(&g, true, true);
        drop(g);
        self.wake(w);
    }

    /// `KRING_IOC_WAIT`: sleeps until a message is pending. `EUCLEAN` if the receiver published
    /// an invalid consumer index.
    pub(crate) fn wait_for_message(&self, timeout_ms: u32) -> Result {
        self.wait_for_message_until(timeout_ms, &Deadline::after_ms(timeout_ms))
    }

    /// [`Self::wait_for_message`] within the `deadline` of a longer call (`timeout_ms` is that
    /// call's timeout: 0 means do not wait).
    pub(crate) fn wait_for_message_until(&self, timeout_ms: u32, deadline: &Deadline) -> Result {
        let mut g = self.inner.lock();
        g.corrupt = false;
        let r = self.wait_message_for(&mut g, timeout_ms, deadline);
        if core::mem::take(&mut g.corrupt) {
            return Err(EUCLEAN);
        }
        r
    }

    /// `KRING_IOC_NOTIFY`: the receiver consumed through its mapping; frees slots and wakes
    /// senders waiting for room. `EUCLEAN` if it published an invalid consumer index.
    pub(crate) fn notify(&self) -> Result {
        let mut g = self.inner.lock();
        g.corrupt = false;
        self.sync_heads(&mut g);
        self.clear_wake_senders(&mut g);
        let corrupt = core::mem::take(&mut g.corrupt);
        let w = self.wake_for(&g, false, true);
        drop(g);
        self.wake(w);
        if corrupt {
            Err(EUCLEAN)
        } else {
            Ok(())
        }
    }

    /// Readiness for `poll`: `(readable, writable, hangup)` for an fd with `rights`.
    pub(crate) fn readiness(&self, rights: u32) -> (bool, bool, bool) {
        let mut g = self.inner.lock();
        self.sync_heads(&mut g);
        let readable = rights & KRING_RIGHT_RECV != 0 && Self::queued(&g) > 0;
        let writable = rights & KRING_RIGHT_SEND != 0 && self.has_room(&mut g, 1);
        let mut hangup = false;
        if rights & KRING_RIGHT_RECV != 0 && !readable && g.senders == 0 && !g.named {
            hangup = true;
        }
        if rights & KRING_RIGHT_SEND != 0 && !g.receiver && !g.named {
            hangup = true;
        }
        (readable, writable, hangup)
    }

    /// Registers an fd with `rights`. `EBUSY` if it asks to receive and the queue already has
    /// a receiver.
    pub(crate) fn attach(&self, rights: u32) -> Result {
        let mut g = self.inner.lock();
        if rights & KRING_RIGHT_RECV != 0 {
            if g.receiver {
                return Err(EBUSY);
            }
            g.receiver = true;
        }
        if rights & KRING_RIGHT_SEND != 0 {
            g.senders += 1;
        }
        Ok(())
    }

    /// Unregisters an fd with `rights` (it was closed) and wakes waiters, who may now be
    /// disconnected.
    pub(crate) fn detach(&self, rights: u32) {
        let mut g = self.inner.lock();
        if rights & KRING_RIGHT_RECV != 0 {
            g.receiver = false;
        }
        if rights & KRING_RIGHT_SEND != 0 {
            g.senders = g.senders.saturating_sub(1);
        }
        let w = self.wake_for(&g, true, true);
        drop(g);
        self.wake(w);
    }

    /// Marks the queue named or not (called by the registry, under its lock).
    pub(crate) fn set_named(&self, named: bool) {
        let mut g = self.inner.lock();
        g.named = named;
        let w = self.wake_for(&g, true, true);
        drop(g);
        self.wake(w);
    }

    /// The state introspection shows (after the receiver's latest progress).
    pub(crate) fn census(&self) -> Census {
        let mut g = self.inner.lock();
        self.sync_heads(&mut g);
        Census {
            len: Self::queued(&g),
            senders: g.senders,
            receiver: g.receiver,
            send_count: g.send_count,
            recv_count: g.recv_count,
        }
    }

    /// The bytes this queue is charged to its creator (see `limits`).
    pub(crate) fn charged_bytes(&self) -> u64 {
        self.user.bytes_charged()
    }

    /// The counters and configuration for `KRING_IOC_INFO`.
    pub(crate) fn info(&self, out: &mut KringInfo) {
        let mut g = self.inner.lock();
        self.sync_heads(&mut g);
        out.ring_size = self.geo.ring_size;
        out.max_msg_size = self.geo.max_msg_size;
        out.schema = self.schema.as_ref().map_or(0, |s| s.id());
        out.slot_size = self.geo.slot_size;
        out.sq_entries = self.geo.sq_entries;
        out.sq_data_size = self.geo.sq_data_size;
        out.mode = self.mode;
        out.flags = if g.named { KRING_INFO_NAMED } else { 0 };
        out.len = Self::queued(&g) as u64;
        out.send_count = g.send_count;
        out.recv_count = g.recv_count;
        out.header_len = self.geo.header_len;
        out.consumer_len = self.geo.consumer_len;
        out.entries_len = self.geo.entries_len;
        out.payload_len = self.geo.payload_len;
        out.submit_len = self.geo.submit_len;
    }

    /// Registers a poller on the wait queues that concern an fd with `rights`; call before
    /// [`Self::readiness`] (see `Queue::polled`).
    pub(crate) fn poll_wait(&self, file: &kernel::fs::File, table: &kernel::sync::poll::PollTable<'_>, rights: u32) {
        self.polled.store(true, Relaxed);
        if rights & KRING_RIGHT_RECV != 0 {
            table.register_wait(file, &self.readers);
        }
        // Both directions report hangup, and the writers' queue is woken when the receiver goes.
        if rights & KRING_RIGHT_SEND != 0 || rights & KRING_RIGHT_RECV == 0 {
            table.register_wait(file, &self.writers);
        }
    }
}
