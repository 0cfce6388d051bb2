// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Queues: create, open and unlink named or anonymous queues; send (copying, or batched
//! through the submission area with one system call); receive straight from the mapped rings,
//! without a system call per message.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::region::{rerr, MessageDescriptor, Region, RegionView};
use crate::schema::Schema;
use crate::typed::RegisteredSchema;
use crate::sys::{self, Mapping};
use crate::uapi::*;
use crate::{ring, Result, DEVICE_PATH};

/// Message priority. Delivery is strict: a message is never delivered while one of a higher
/// priority is queued; within a priority, messages arrive in the order the kernel accepted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MsgPriority {
    /// Lowest.
    Low = KRING_PRIO_LOW,
    /// The default.
    #[default]
    Normal = KRING_PRIO_NORMAL,
    /// Above normal.
    High = KRING_PRIO_HIGH,
    /// Highest.
    Urgent = KRING_PRIO_URGENT,
}

impl MsgPriority {
    /// All priorities, lowest first.
    pub const ALL: [MsgPriority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    /// The priority with ABI value `v`.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }
}

/// Queue configuration, as in the seed's `QueueConfig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Messages the queue holds: a power of two in `1..=32768`.
    pub ring_size: u32,
    /// Largest payload in bytes: `1..=1 MiB`.
    pub max_msg_size: u32,
    /// Schema id (0 = none).
    pub schema: u32,
}

impl QueueConfig {
    /// A configuration with no schema.
    pub fn new(ring_size: u32, max_msg_size: u32) -> Self {
        Self { ring_size, max_msg_size, schema: 0 }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self::new(64, 4096)
    }
}

/// What a received message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// Bytes stored in the queue, copied into the caller's buffer.
    Inline,
    /// A zero-copy region descriptor (see [`crate::Receiver::recv_message`]).
    Descriptor,
}

/// The description of a message: what `peek` returns, and `recv_typed` with the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Payload length in bytes.
    pub len: usize,
    /// Priority.
    pub priority: MsgPriority,
    /// Acceptance sequence number: 1, 2, ... per queue, across all priorities.
    pub seq: u64,
    /// Inline bytes or descriptor.
    pub kind: PayloadKind,
    /// Reserved flags (0).
    pub flags: u16,
}

fn name_field(name: &str) -> Result<[u8; KRING_NAME_MAX]> {
    let b = name.as_bytes();
    let mut f = [0u8; KRING_NAME_MAX];
    if b.is_empty() || b.len() >= KRING_NAME_MAX || b.contains(&0) || b.contains(&b'/') {
        return Err(Error::InvalidArgument { op: "queue name" });
    }
    f[..b.len()].copy_from_slice(b);
    Ok(f)
}

fn timeout_ms(t: Option<Duration>) -> u32 {
    match t {
        None => KRING_TIMEOUT_INFINITE,
        // Round up: never wait less than asked; cap below the "infinite" value.
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            u32::try_from(ms).unwrap_or(KRING_TIMEOUT_INFINITE - 1).min(KRING_TIMEOUT_INFINITE - 1)
        }
    }
}

/// A received message, as [`Receiver::recv_message`] returns it.
#[derive(Debug)]
pub enum Message {
    /// Inline bytes, copied into the caller's buffer: `buf[..info.len]`.
    Inline(MessageInfo),
    /// A zero-copy descriptor; `region.bytes(&descriptor)` borrows the bytes from the region's
    /// read-only mapping.
    Descriptor {
        /// Priority, sequence and so on.
        info: MessageInfo,
        /// Which bytes of which region.
        descriptor: MessageDescriptor,
        /// The region, opened read-only for this receiver (shared by later descriptors to it).
        region: Arc<RegionView>,
    },
}

/// Which operation an errno came from: decides between `QueueFull` and `QueueEmpty` etc.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Create,
    Open,
    Unlink,
    Info,
    Recv,
    Wait,
    Map,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Open => "open",
            Op::Unlink => "unlink",
            Op::Info => "info",
            Op::Recv => "recv",
            Op::Wait => "wait",
            Op::Map => "mmap",
        }
    }
}

fn err(op: Op, e: rustix::io::Errno) -> Error {
    Error::from_queue_errno(e, op.name())
}

/// The part of a queue every handle has: the fd, its rights and the header mapping.
#[derive(Debug)]
struct Shared {
    fd: OwnedFd,
    info: KringInfo,
    header: Mapping,
    consumer: Mapping,
}

impl Shared {
    fn bind(fd: OwnedFd) -> Result<Self> {
        let info = sys::info(fd.as_fd()).map_err(|e| err(Op::Info, e))?;
        let header = Mapping::new(fd.as_fd(), KRING_OFF_HEADER, info.header_len as usize, false)
            .map_err(|e| err(Op::Map, e))?;
        let recv = info.rights & KRING_RIGHT_RECV != 0;
        let consumer = Mapping::new(fd.as_fd(), KRING_OFF_CONSUMER, info.consumer_len as usize, recv)
            .map_err(|e| err(Op::Map, e))?;
        Ok(Self { fd, info, header, consumer })
    }

    // Loads from read-only mappings are Relaxed (Rust allows only those on read-only memory),
    // each followed by an Acquire fence where the protocol needs acquire.

    fn tail(&self, p: usize) -> u32 {
        let t = self
            .header
            .atomic_u32(std::mem::offset_of!(KringHeader, tail) + 4 * p)
            .map_or(0, |a| a.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        t
    }

    fn head(&self, p: usize) -> u32 {
        let h = self
            .consumer
            .atomic_u32(std::mem::offset_of!(KringConsumer, head) + 4 * p)
            .map_or(0, |a| a.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        h
    }

    /// A consistent `(tails, send_count)` snapshot under the header's sequence count.
    fn snapshot(&self) -> ([u32; KRING_NR_PRIO], u64) {
        let seq = self.header.atomic_u32(std::mem::offset_of!(KringHeader, seq));
        let count = self.header.atomic_u64(std::mem::offset_of!(KringHeader, send_count));
        loop {
            let s1 = seq.map_or(0, |a| a.load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            let tails = [0, 1, 2, 3].map(|p| self.tail(p));
            let sent = count.map_or(0, |a| a.load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            let s2 = seq.map_or(0, |a| a.load(Ordering::Relaxed));
            if s1 == s2 && s1.is_multiple_of(2) {
                return (tails, sent);
            }
            std::hint::spin_loop();
        }
    }

    /// The free places a waiting sender asked for (`KringHeader::wake_room`, at least 1).
    fn wake_room(&self) -> u32 {
        let w = self.header.atomic_u32(std::mem::offset_of!(KringHeader, wake_room)).map_or(0, |a| a.load(Ordering::Relaxed));
        w.max(1)
    }

    /// Places free for senders (`ring_size` minus the messages queued).
    fn free(&self) -> u32 {
        (self.info.ring_size as usize).saturating_sub(self.len()) as u32
    }

    /// Whether any ring holds a message, by the mapped indices (no lock, no system call).
    fn pending(&self) -> bool {
        (0..KRING_NR_PRIO).any(|p| self.head(p) != self.tail(p))
    }

    fn len(&self) -> usize {
        let (tails, _) = self.snapshot();
        let n: u64 = (0..KRING_NR_PRIO).map(|p| ring::ring_len(self.head(p), tails[p]) as u64).sum();
        n.min(self.info.ring_size as u64) as usize
    }

    fn counts(&self) -> (u64, u64) {
        let (tails, sent) = self.snapshot();
        let queued: u64 = (0..KRING_NR_PRIO).map(|p| ring::ring_len(self.head(p), tails[p]) as u64).sum();
        (sent, sent.saturating_sub(queued))
    }
}

/// Read-only state every handle offers, without a system call.
macro_rules! queue_state {
    () => {
        /// The queue's configuration.
        pub fn config(&self) -> QueueConfig {
            let i = &self.shared.info;
            QueueConfig { ring_size: i.ring_size, max_msg_size: i.max_msg_size, schema: i.schema }
        }
        /// Messages queued now (from the mapped header; no system call).
        pub fn len(&self) -> usize {
            self.shared.len()
        }
        /// Whether no message is queued.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
        /// Whether the queue is full.
        pub fn is_full(&self) -> bool {
            self.len() >= self.shared.info.ring_size as usize
        }
        /// Free places.
        pub fn available(&self) -> usize {
            (self.shared.info.ring_size as usize).saturating_sub(self.len())
        }
        /// Messages accepted since the queue was created.
        pub fn send_count(&self) -> u64 {
            self.shared.counts().0
        }
        /// Messages consumed since the queue was created.
        pub fn recv_count(&self) -> u64 {
            self.shared.counts().1
        }
        /// The kernel's view of the queue (`KRING_IOC_INFO`): counters, owner, mode, layout.
        pub fn info(&self) -> Result<KringInfo> {
            sys::info(self.shared.fd.as_fd()).map_err(|e| err(Op::Info, e))
        }
    };
}

/// Options for [`Queue::create`].
#[derive(Clone, Debug)]
pub struct CreateOptions<'a> {
    /// Name in the kring namespace; `None` for an anonymous queue (reachable only through fds).
    pub name: Option<&'a str>,
    /// Permission bits for opening by name (`0o600` by default).
    pub mode: u32,
    /// A registered schema: the kernel then refuses every message that is not a valid encoding
    /// of its type, and the handle's sender knows the type (for `send_value` and error paths).
    /// Overrides `QueueConfig::schema`.
    pub schema: Option<&'a RegisteredSchema>,
}

impl Default for CreateOptions<'_> {
    fn default() -> Self {
        Self { name: None, mode: 0o600, schema: None }
    }
}

/// Opens `/dev/kring` and binds the new fd with `bind`.
fn new_fd(bind: impl FnOnce(BorrowedFd<'_>) -> rustix::io::Result<()>, op: Op) -> Result<OwnedFd> {
    let path = std::path::Path::new(DEVICE_PATH);
    let fd = sys::open(path).map_err(|e| Error::from_open(e, path))?;
    bind(fd.as_fd()).map_err(|e| err(op, e))?;
    Ok(fd)
}

fn create_fd(config: QueueConfig, opts: &CreateOptions<'_>, rights: u32) -> Result<OwnedFd> {
    let name = match opts.name {
        Some(n) => name_field(n)?,
        None => [0; KRING_NAME_MAX],
    };
    let arg = KringCreate {
        ring_size: config.ring_size,
        max_msg_size: config.max_msg_size,
        schema: opts.schema.map_or(config.schema, RegisteredSchema::id),
        mode: opts.mode,
        rights,
        flags: 0,
        name,
    };
    new_fd(|fd| sys::create(fd, arg), Op::Create)
}

fn open_fd(name: &str, rights: u32) -> Result<OwnedFd> {
    let arg = KringOpen { rights, flags: 0, name: name_field(name)? };
    new_fd(|fd| sys::open_queue(fd, arg), Op::Open)
}

/// Entry points: create, open and unlink queues.
pub struct Queue;

impl Queue {
    /// Creates a queue and returns a handle that can both send and receive (the queue's
    /// receiver), like the seed's `KernelQueue`.
    pub fn create(config: QueueConfig, opts: &CreateOptions<'_>) -> Result<KernelQueue> {
        let mut q = KernelQueue::from_fd(create_fd(config, opts, KRING_RIGHTS_ALL)?)?;
        q.sender.schema = opts.schema.and_then(|r| r.schema().cloned());
        Ok(q)
    }

    /// Creates a queue and returns only its receiving end. Give it a name so that senders can
    /// open it: an anonymous receive-only queue can never have a sender (use [`Queue::create`]
    /// and pass that fd instead).
    pub fn create_receiver(config: QueueConfig, opts: &CreateOptions<'_>) -> Result<Receiver> {
        Receiver::from_fd(create_fd(config, opts, KRING_RIGHT_RECV)?)
    }

    /// Creates a queue and returns a send-only handle; the receiver opens it by name.
    pub fn create_sender(config: QueueConfig, opts: &CreateOptions<'_>) -> Result<Sender> {
        let mut s = Sender::from_fd(create_fd(config, opts, KRING_RIGHT_SEND)?)?;
        s.schema = opts.schema.and_then(|r| r.schema().cloned());
        Ok(s)
    }

    /// Opens the named queue to send (needs `w` in its mode for the caller).
    pub fn open_sender(name: &str) -> Result<Sender> {
        Sender::from_fd(open_fd(name, KRING_RIGHT_SEND)?)
    }

    /// Opens the named queue as its receiver (needs `r`; `ReceiverBusy` if it has one).
    pub fn open_receiver(name: &str) -> Result<Receiver> {
        Receiver::from_fd(open_fd(name, KRING_RIGHT_RECV)?)
    }

    /// Opens the named queue to send and receive.
    pub fn open(name: &str) -> Result<KernelQueue> {
        KernelQueue::from_fd(open_fd(name, KRING_RIGHTS_ALL)?)
    }

    /// Removes a queue's name. The queue lives on while fds refer to it.
    pub fn unlink(name: &str) -> Result<()> {
        let arg = KringUnlink { name: name_field(name)? };
        let path = std::path::Path::new(DEVICE_PATH);
        let fd = sys::open(path).map_err(|e| Error::from_open(e, path))?;
        sys::unlink(fd.as_fd(), arg).map_err(|e| err(Op::Unlink, e))
    }
}

/// The sending end of a queue. `Send + Sync`: any number of threads may send through one
/// `Sender`, and any number of `Sender`s (in any processes) may feed one queue.
///
/// Batches go through the fd's submission area, which belongs to the fd: if the fd is shared
/// with another process (inherited, or passed over a socket), batches from the process that did
/// not map it first fall back to one copying send per message, so two processes never write the
/// same area.
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
    /// The submission area, mapped on first batch, and the process that mapped it.
    submit: Mutex<Option<OwnedArea>>,
    /// The queue's schema type, if the caller gave it (names fields in errors, encodes values).
    pub(crate) schema: Option<Arc<Schema>>,
}

/// A submission area and the process that mapped it.
type OwnedArea = (Mapping, u32);

impl Sender {
    /// Wraps a queue fd bound with `KRING_RIGHT_SEND` (from `Queue::open_sender`, inherited,
    /// or received over a UNIX socket).
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let shared = Shared::bind(fd)?;
        if shared.info.rights & KRING_RIGHT_SEND == 0 {
            return Err(Error::NoRight { op: "send" });
        }
        Ok(Self { shared: Arc::new(shared), submit: Mutex::new(None), schema: None })
    }

    queue_state!();

    /// Tells this handle the queue's schema type, so that [`send_value`](Self::send_value)
    /// can encode values and schema violations name the field. The kernel checks messages
    /// against the queue's registered schema whether or not this is called.
    pub fn set_schema(&mut self, schema: Arc<Schema>) {
        self.schema = Some(schema);
    }

    /// The schema type this handle knows, if any.
    pub fn schema(&self) -> Option<&Arc<Schema>> {
        self.schema.as_ref()
    }

    /// The error for `e` from operation `op`: a schema violation is completed with the
    /// kernel's detail (`KRING_IOC_SCHEMA_ERROR`) and, if this handle knows the schema, the
    /// field's path. `first` is the batch index of the area's first entry (`None`: not a batch).
    pub(crate) fn fail(&self, op: &'static str, e: rustix::io::Errno, first: Option<usize>) -> Error {
        if e != rustix::io::Errno::BADMSG {
            return Error::from_queue_errno(e, op);
        }
        let d = sys::schema_error(self.shared.fd.as_fd()).ok();
        let (reason, node, offset, index) = match d {
            Some(d) if d.count > 0 => {
                let index = first.map(|f| (f as u64 + d.index as u64).min(u32::MAX as u64) as u32);
                (d.reason, d.node, d.offset, index)
            }
            _ => (0, 0, 0, None),
        };
        let path = self.schema.as_ref().map(|s| s.field_path(node));
        Error::SchemaViolation { reason, node, offset, index, path }
    }

    fn send_raw(&self, msg: &[u8], priority: MsgPriority, t: u32) -> Result<()> {
        let len = u32::try_from(msg.len()).map_err(|_| Error::MessageTooLarge)?;
        let arg = KringSend { addr: msg.as_ptr() as u64, len, priority: priority as u8, pad: [0; 3], flags: 0, timeout_ms: t };
        sys::send(self.shared.fd.as_fd(), arg).map_err(|e| self.fail("send", e, None))
    }

    /// Sends one message; `QueueFull` if there is no room.
    pub fn send(&self, msg: &[u8], priority: MsgPriority) -> Result<()> {
        self.send_raw(msg, priority, 0)
    }

    /// Sends one message, waiting for room up to `timeout` (`None`: as long as it takes).
    pub fn send_timeout(&self, msg: &[u8], priority: MsgPriority, timeout: Option<Duration>) -> Result<()> {
        self.send_raw(msg, priority, timeout_ms(timeout))
    }

    /// The submission area, if this process owns it (maps it on first use).
    /// Sends a zero-copy descriptor to `offset..offset+length` of `region`. The kernel checks
    /// the region's real state: `InvalidDescriptorRegion` for a Slab, `RegionNotStable` for an
    /// unsealed Immutable region or bytes past an AppendOnly region's committed length,
    /// `InvalidArgument` for an empty or out-of-range span, `MessageTooLarge` if the queue's
    /// messages are smaller than a descriptor (24 bytes).
    pub fn send_descriptor(&self, region: &Region, offset: u64, length: u32, priority: MsgPriority) -> Result<()> {
        self.send_descriptor_timeout(region, offset, length, priority, Some(Duration::ZERO))
    }

    /// [`send_descriptor`](Self::send_descriptor), waiting for room up to `timeout`.
    pub fn send_descriptor_timeout(&self, region: &Region, offset: u64, length: u32, priority: MsgPriority, timeout: Option<Duration>) -> Result<()> {
        let arg = KringSendDesc {
            region_fd: region.as_raw_fd(),
            flags: 0,
            offset,
            length,
            priority: priority as u8,
            pad: [0; 3],
            timeout_ms: timeout_ms(timeout),
            reserved: 0,
        };
        sys::send_desc(self.shared.fd.as_fd(), arg).map_err(|e| match e {
            rustix::io::Errno::BADMSG => self.fail("send descriptor", e, None),
            e => rerr("send descriptor", e),
        })
    }

    fn submit_area(&self) -> Result<Option<MutexGuard<'_, Option<OwnedArea>>>> {
        let mut g = self.submit.lock().unwrap_or_else(PoisonError::into_inner);
        let me = std::process::id();
        match g.as_ref() {
            Some((_, owner)) if *owner != me => return Ok(None),
            Some(_) => {}
            None => {
                let m = Mapping::new(self.shared.fd.as_fd(), KRING_OFF_SUBMIT, self.shared.info.submit_len as usize, true)
                    .map_err(|e| err(Op::Map, e))?;
                *g = Some((m, me));
            }
        }
        Ok(Some(g))
    }

    /// `send_batch` without the submission area: one copying send per message.
    fn send_each(&self, msgs: &[(MsgPriority, &[u8])], timeout: Duration) -> Result<usize> {
        let deadline = Instant::now().checked_add(timeout);
        for (i, (p, m)) in msgs.iter().enumerate() {
            let left = if timeout.is_zero() {
                Some(Duration::ZERO)
            } else {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            };
            match self.send_raw(m, *p, timeout_ms(left)) {
                Ok(()) => {}
                Err(e) if i == 0 => return Err(e),
                Err(_) => return Ok(i),
            }
        }
        Ok(msgs.len())
    }

    /// Sends a batch with as few system calls as fit (one per submission area's worth),
    /// waiting for room up to `timeout` in total if `timeout` is not zero. Returns how many
    /// messages were accepted, in order; stops at the first that cannot be.
    pub fn send_batch(&self, msgs: &[(MsgPriority, &[u8])], timeout: Duration) -> Result<usize> {
        let info = self.shared.info;
        let Some(guard) = self.submit_area()? else { return self.send_each(msgs, timeout) };
        let Some((area, _)) = guard.as_ref() else { return Err(Error::OutOfMemory) };
        // No deadline when it would overflow: as good as infinite.
        let deadline = Instant::now().checked_add(timeout);
        let mut sent = 0usize;
        while sent < msgs.len() {
            let n = match fill_area(area, &info, &msgs[sent..]) {
                Ok(n) => n,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => return Ok(sent),
            };
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let mut arg = KringEnter {
                start: 0,
                count: n,
                flags: if timeout.is_zero() { 0 } else { KRING_ENTER_WAIT },
                timeout_ms: timeout_ms(left),
                submitted: 0,
                error: 0,
            };
            match sys::enter(self.shared.fd.as_fd(), &mut arg) {
                Ok(k) => {
                    sent += k as usize;
                    if k < n {
                        return Ok(sent);
                    }
                }
                Err(_) if sent > 0 => return Ok(sent),
                Err(e) => return Err(self.fail("send", e, Some(sent))),
            }
        }
        Ok(sent)
    }
}

impl AsFd for Sender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.fd.as_fd()
    }
}
impl AsRawFd for Sender {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }
}

/// Writes as many of `msgs` as fit into a submission area (entries from index 0, payloads packed
/// from the start of its data buffer) and returns how many. `MessageTooLarge` if the first one
/// is larger than the queue's `max_msg_size`; a later one that is too large ends the batch.
fn fill_area(area: &Mapping, info: &KringInfo, msgs: &[(MsgPriority, &[u8])]) -> Result<u32> {
    let data_off = area.len() - info.sq_data_size as usize;
    let mut n = 0u32;
    let mut used = 0usize;
    for (prio, msg) in msgs {
        if msg.len() > info.max_msg_size as usize {
            if n == 0 {
                return Err(Error::MessageTooLarge);
            }
            break;
        }
        if n == info.sq_entries || used + msg.len() > info.sq_data_size as usize {
            break;
        }
        let sqe = KringSqe { offset: used as u32, len: msg.len() as u32, priority: *prio as u8, flags: 0, reserved: 0, reserved2: 0 };
        area.write(n as usize * std::mem::size_of::<KringSqe>(), sqe).ok_or(Error::OutOfMemory)?;
        area.copy_in(data_off + used, msg).ok_or(Error::OutOfMemory)?;
        used += msg.len();
        n += 1;
    }
    Ok(n)
}

/// The consuming state of a receiver; one consumer at a time.
#[derive(Debug)]
struct RecvMaps {
    entries: Mapping,
    payload: Mapping,
}

/// The receiving end of a queue (a queue has at most one). `Send + Sync`: threads share it,
/// taking messages one at a time. Messages are read straight from the mapped rings.
#[derive(Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
    /// Polls of the mapped rings before a blocking receive sleeps in the kernel.
    spin: AtomicU32,
    maps: Mutex<RecvMaps>,
    /// Regions opened from descriptors, most recent last (a small cache).
    regions: Mutex<Vec<Arc<RegionView>>>,
}

/// How many opened regions a receiver keeps mapped for later descriptors.
const REGION_CACHE: usize = 16;

impl Receiver {
    /// Wraps a queue fd bound with `KRING_RIGHT_RECV`.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        Self::from_shared(Arc::new(Shared::bind(fd)?))
    }

    fn from_shared(shared: Arc<Shared>) -> Result<Self> {
        let i = shared.info;
        if i.rights & KRING_RIGHT_RECV == 0 {
            return Err(Error::NoRight { op: "recv" });
        }
        let fd = shared.fd.as_fd();
        let entries = Mapping::new(fd, KRING_OFF_ENTRIES, i.entries_len as usize, false).map_err(|e| err(Op::Map, e))?;
        let payload = Mapping::new(fd, KRING_OFF_PAYLOAD, i.payload_len as usize, false).map_err(|e| err(Op::Map, e))?;
        Ok(Self {
            shared,
            spin: AtomicU32::new(0),
            maps: Mutex::new(RecvMaps { entries, payload }),
            regions: Mutex::new(Vec::new()),
        })
    }

    queue_state!();

    /// The next message's priority ring and entry, if any.
    fn next(&self, maps: &RecvMaps) -> Result<Option<(usize, KringEntry)>> {
        let s = &self.shared;
        let heads = [0, 1, 2, 3].map(|p| s.head(p));
        let tails = [0, 1, 2, 3].map(|p| s.tail(p));
        let Some(p) = ring::next_priority(&heads, &tails) else { return Ok(None) };
        let geo = ring::Geometry::new(s.info.ring_size, s.info.max_msg_size, s.info.header_len).map_err(|_| Error::CorruptRing)?;
        let off = geo.entry_offset(p, heads[p]).ok_or(Error::CorruptRing)? as usize;
        let e: KringEntry = maps.entries.read(off).ok_or(Error::CorruptRing)?;
        if e.len > s.info.max_msg_size || e.slot >= s.info.ring_size {
            return Err(Error::CorruptRing);
        }
        Ok(Some((p, e)))
    }

    fn info_of(e: &KringEntry) -> MessageInfo {
        MessageInfo {
            len: e.len as usize,
            priority: MsgPriority::from_u8(e.priority).unwrap_or(MsgPriority::Low),
            seq: e.seq,
            kind: if e.kind == KRING_KIND_DESCRIPTOR { PayloadKind::Descriptor } else { PayloadKind::Inline },
            flags: e.flags,
        }
    }

    /// The region a queued descriptor refers to, opened (while the descriptor is still queued,
    /// which is what grants access) or taken from the cache.
    fn region_for(&self, d: &MessageDescriptor) -> Result<Arc<RegionView>> {
        let mut cache = self.regions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = cache.iter().position(|r| r.handle() == (d.region_id, d.generation)) {
            let r = cache.remove(i);
            cache.push(r.clone());
            return Ok(r);
        }
        let r = Arc::new(RegionView::open(self.shared.fd.as_fd(), d)?);
        if cache.len() >= REGION_CACHE {
            cache.remove(0);
        }
        cache.push(r.clone());
        Ok(r)
    }

    /// Takes the next message if there is one. No system call unless a sender waits for room
    /// (or a descriptor names a region this receiver has not opened yet).
    fn try_take(&self, buf: &mut [u8]) -> Result<Option<MessageInfo>> {
        self.try_take_region(buf).map(|o| o.map(|(m, _)| m))
    }

    fn try_take_region(&self, buf: &mut [u8]) -> Result<Option<(MessageInfo, Option<Arc<RegionView>>)>> {
        let maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((p, e)) = self.next(&maps)? else { return Ok(None) };
        if buf.len() < e.len as usize {
            return Err(Error::BufferTooSmall { needed: e.len as usize });
        }
        let off = e.slot as usize * self.shared.info.slot_size as usize;
        maps.payload.copy_out(off, &mut buf[..e.len as usize]).ok_or(Error::CorruptRing)?;
        let region = if e.kind == KRING_KIND_DESCRIPTOR {
            let d = MessageDescriptor::from_bytes(&buf[..e.len as usize]).ok_or(Error::CorruptRing)?;
            Some(self.region_for(&d)?)
        } else {
            None
        };
        let s = &self.shared;
        let head = s.consumer.atomic_u32(std::mem::offset_of!(KringConsumer, head) + 4 * p).ok_or(Error::CorruptRing)?;
        // Release: the payload copy above happens-before the kernel reuses the slot.
        head.store(head.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
        // Pairs with the kernel's flag store + full barrier + head re-read: no lost wakeup.
        fence(Ordering::SeqCst);
        let flags = s.header.atomic_u32(std::mem::offset_of!(KringHeader, flags)).map_or(0, |a| a.load(Ordering::Relaxed));
        // A waiting sender asked to be woken once `wake_room` places are free (ABI 1.5; 0: at
        // once): one notify per that many messages, not one per message.
        if flags & KRING_HDR_WAKE_SENDERS != 0 && s.free() >= s.wake_room() {
            // The message is ours already: a failed notify must not turn it into an error. The
            // kernel has synced our progress either way; a corrupt ring shows up on the next wait.
            let _ = sys::notify(s.fd.as_fd());
        }
        Ok(Some((Self::info_of(&e), region)))
    }

    /// Receives the next message without blocking, inline or descriptor. Inline bytes are
    /// copied into `buf`; a descriptor's bytes are borrowed from the region, zero-copy.
    pub fn recv_message(&self, buf: &mut [u8]) -> Result<Message> {
        let (info, region) = self.try_take_region(buf)?.ok_or(Error::QueueEmpty)?;
        Ok(match region {
            None => Message::Inline(info),
            Some(region) => Message::Descriptor {
                info,
                descriptor: MessageDescriptor::from_bytes(&buf[..info.len]).ok_or(Error::CorruptRing)?,
                region,
            },
        })
    }

    fn wait(&self, t: u32) -> Result<()> {
        sys::wait(self.shared.fd.as_fd(), KringWait { flags: 0, timeout_ms: t }).map_err(|e| err(Op::Wait, e))
    }

    /// Sets how many times a blocking receive ([`recv_timeout`](Self::recv_timeout) and
    /// friends) polls the mapped rings for a message before it sleeps in the kernel: a CPU
    /// pause per poll and a `sched_yield` every fourth. 0 (the default): sleep at once. A few
    /// hundred to a few thousand polls save a wakeup per message when a sender is producing
    /// steadily on another CPU, at the price of that CPU time when it is not.
    pub fn set_spin(&self, polls: u32) {
        self.spin.store(polls, Ordering::Relaxed);
    }

    /// Polls the mapped rings up to the [`set_spin`](Self::set_spin) count; whether a message
    /// showed up.
    fn spin_for_message(&self) -> bool {
        let polls = self.spin.load(Ordering::Relaxed);
        for k in 0..polls {
            if self.shared.pending() {
                return true;
            }
            if k % 4 == 3 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        false
    }

    /// Receives the next message into `buf` without blocking; returns its length.
    /// `QueueEmpty` if there is none; `BufferTooSmall { needed }` (message left queued) if
    /// `buf` is too small.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_typed(buf).map(|m| m.len)
    }

    /// Like [`recv`](Self::recv), and says what the message is (kind, priority, sequence).
    pub fn recv_typed(&self, buf: &mut [u8]) -> Result<MessageInfo> {
        self.try_take(buf)?.ok_or(Error::QueueEmpty)
    }

    /// Receives the next message, sleeping up to `timeout` (`None`: as long as it takes) until
    /// one arrives. `Timeout` when the time is up; `Disconnected` when no sender can ever
    /// exist; `Interrupted` on a signal.
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        self.recv_typed_timeout(buf, timeout).map(|m| m.len)
    }

    /// [`recv_timeout`](Self::recv_timeout) with the message's description.
    pub fn recv_typed_timeout(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<MessageInfo> {
        // A deadline too far to represent is no deadline.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if let Some(m) = self.try_take(buf)? {
                return Ok(m);
            }
            if !self.await_message(deadline)? {
                // One last look: a message may have arrived at the deadline.
                return self.try_take(buf)?.ok_or(Error::Timeout);
            }
        }
    }

    /// After a look found nothing: polls the rings ([`set_spin`](Self::set_spin)), then sleeps
    /// in the kernel until a message may be there or `deadline` (`None`: none). `Ok(true)`:
    /// look again; `Ok(false)`: the deadline passed while asleep, look one last time;
    /// `Err(Timeout)`: it had passed already.
    fn await_message(&self, deadline: Option<Instant>) -> Result<bool> {
        if self.spin_for_message() {
            return Ok(true);
        }
        let t = match deadline {
            None => KRING_TIMEOUT_INFINITE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout);
                }
                timeout_ms(Some(left))
            }
        };
        match self.wait(t) {
            Ok(()) => Ok(true),
            // The kernel never ends a wait early, but the clocks may disagree by a tick: if
            // ours says time is left, look again and wait for the rest.
            Err(Error::Timeout) => Ok(deadline.is_some_and(|d| Instant::now() < d)),
            Err(e) => Err(e),
        }
    }

    /// The next message's description, leaving it queued. `QueueEmpty` if there is none.
    pub fn peek(&self) -> Result<MessageInfo> {
        let maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        self.next(&maps)?.map(|(_, e)| Self::info_of(&e)).ok_or(Error::QueueEmpty)
    }

    /// Receives up to `max` inline messages in one go, in delivery order, handing each to `f`
    /// with its bytes (copied into `buf`, which must hold the largest message). Waits up to
    /// `timeout` (`None`: as long as it takes; zero: not at all, `QueueEmpty` if there is
    /// nothing) for the first one, polling first as [`set_spin`](Self::set_spin) says.
    /// Returns how many were taken; stops early before a descriptor message (take those with
    /// [`recv_message`](Self::recv_message), which opens their region), so `Ok(0)` means a
    /// descriptor is next.
    ///
    /// One lock, one look at the indices and one full barrier per call instead of per
    /// message: the fastest way to drain a busy queue. Each message is consumed (its place
    /// handed back to the kernel) before `f` sees it, so a panic in `f` loses only the
    /// message `f` was handed. `f` runs while this receiver is locked: it must not receive
    /// from the same receiver (that would deadlock).
    pub fn recv_batch(
        &self,
        buf: &mut [u8],
        max: usize,
        timeout: Option<Duration>,
        mut f: impl FnMut(MessageInfo, &[u8]),
    ) -> Result<usize> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let n = self.take_batch(buf, max, &mut f)?;
            if n > 0 || max == 0 || self.shared.pending() {
                return Ok(n);
            }
            if timeout == Some(Duration::ZERO) {
                return Err(Error::QueueEmpty);
            }
            if !self.await_message(deadline)? {
                let n = self.take_batch(buf, max, &mut f)?;
                return if n > 0 || self.shared.pending() { Ok(n) } else { Err(Error::Timeout) };
            }
        }
    }

    /// Takes up to `max` queued inline messages (see [`recv_batch`](Self::recv_batch)).
    fn take_batch(&self, buf: &mut [u8], max: usize, f: &mut impl FnMut(MessageInfo, &[u8])) -> Result<usize> {
        let maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        let s = &self.shared;
        let geo = ring::Geometry::new(s.info.ring_size, s.info.max_msg_size, s.info.header_len).map_err(|_| Error::CorruptRing)?;
        let mut heads = [0, 1, 2, 3].map(|p| s.head(p));
        let tails = [0, 1, 2, 3].map(|p| s.tail(p));
        let mut n = 0usize;
        let mut result = Ok(());
        while n < max {
            let Some(p) = ring::next_priority(&heads, &tails) else { break };
            let Some(e) = geo.entry_offset(p, heads[p]).and_then(|off| maps.entries.read::<KringEntry>(off as usize)) else {
                result = Err(Error::CorruptRing);
                break;
            };
            if e.len > s.info.max_msg_size || e.slot >= s.info.ring_size {
                result = Err(Error::CorruptRing);
                break;
            }
            if e.kind == KRING_KIND_DESCRIPTOR {
                break;
            }
            let len = e.len as usize;
            let Some(dst) = buf.get_mut(..len) else {
                if n == 0 {
                    result = Err(Error::BufferTooSmall { needed: len });
                }
                break;
            };
            let off = e.slot as usize * s.info.slot_size as usize;
            if maps.payload.copy_out(off, dst).is_none() {
                result = Err(Error::CorruptRing);
                break;
            }
            heads[p] = heads[p].wrapping_add(1);
            let Some(head) = s.consumer.atomic_u32(std::mem::offset_of!(KringConsumer, head) + 4 * p) else {
                result = Err(Error::CorruptRing);
                break;
            };
            // Release: the copy above happens-before the kernel reuses the slot.
            head.store(heads[p], Ordering::Release);
            n += 1;
            f(Self::info_of(&e), dst);
        }
        if n > 0 {
            // Once per batch: pairs with the kernel's flag store + full barrier + head re-read.
            fence(Ordering::SeqCst);
            let flags = s.header.atomic_u32(std::mem::offset_of!(KringHeader, flags)).map_or(0, |a| a.load(Ordering::Relaxed));
            if flags & KRING_HDR_WAKE_SENDERS != 0 && s.free() >= s.wake_room() {
                let _ = sys::notify(s.fd.as_fd());
            }
        }
        drop(maps);
        // Messages already taken are reported; an error found after them shows up next time.
        match result {
            Err(e) if n == 0 => Err(e),
            _ => Ok(n),
        }
    }

    /// Receives through the kernel (`KRING_IOC_RECV`, one copy, one system call) instead of
    /// the mapping: for callers that want the kernel to wait and copy.
    pub fn recv_copy(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<MessageInfo> {
        let _maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        let mut arg = KringRecv { addr: 0, len: 0, flags: 0, timeout_ms: timeout_ms(timeout), msg_len: 0, seq: 0, priority: 0, kind: 0, pad: [0; 6] };
        match sys::recv(self.shared.fd.as_fd(), &mut arg, buf) {
            Ok(()) => Ok(MessageInfo {
                len: arg.msg_len as usize,
                priority: MsgPriority::from_u8(arg.priority).unwrap_or(MsgPriority::Low),
                seq: arg.seq,
                kind: if arg.kind == KRING_KIND_DESCRIPTOR { PayloadKind::Descriptor } else { PayloadKind::Inline },
                flags: 0,
            }),
            Err(rustix::io::Errno::OVERFLOW) => Err(Error::BufferTooSmall { needed: arg.msg_len as usize }),
            Err(e) => Err(err(Op::Recv, e)),
        }
    }
}

impl AsFd for Receiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.fd.as_fd()
    }
}
impl AsRawFd for Receiver {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }
}

/// A handle with both rights: the seed's `KernelQueue`, made of a [`Sender`] and a
/// [`Receiver`] on one fd.
#[derive(Debug)]
pub struct KernelQueue {
    sender: Sender,
    receiver: Receiver,
}

impl KernelQueue {
    /// Wraps a queue fd bound with both rights.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let shared = Arc::new(Shared::bind(fd)?);
        if shared.info.rights & KRING_RIGHT_SEND == 0 {
            return Err(Error::NoRight { op: "send" });
        }
        let receiver = Receiver::from_shared(shared.clone())?;
        Ok(Self { sender: Sender { shared, submit: Mutex::new(None), schema: None }, receiver })
    }

    /// Sends `msgs` with one `KRING_IOC_ENTER` and, in the same call, waits up to `timeout`
    /// until a message can be received, like `io_uring_enter` with `min_complete = 1` (the
    /// request/response pattern). Returns how many were sent (at most one submission area's
    /// worth: `sq_entries` messages and `sq_data_size` bytes). Like `io_uring_enter`, once
    /// something was sent the count is returned whatever the wait did (check with `recv`);
    /// with nothing sent, the wait's error is returned (`Timeout`, ...).
    pub fn send_batch_and_wait(&self, msgs: &[(MsgPriority, &[u8])], timeout: Option<Duration>) -> Result<usize> {
        let info = self.sender.shared.info;
        let Some(guard) = self.sender.submit_area()? else {
            return Err(Error::InvalidArgument { op: "send_batch_and_wait: the submission area belongs to another process" });
        };
        let Some((area, _)) = guard.as_ref() else { return Err(Error::OutOfMemory) };
        let n = if msgs.is_empty() { 0 } else { fill_area(area, &info, msgs)? };
        if n as usize != msgs.len() {
            return Err(Error::InvalidArgument { op: "send_batch_and_wait: batch larger than the submission area" });
        }
        let mut arg = KringEnter {
            start: 0,
            count: msgs.len() as u32,
            flags: KRING_ENTER_GETMSG,
            timeout_ms: timeout_ms(timeout),
            submitted: 0,
            error: 0,
        };
        sys::enter(self.receiver.shared.fd.as_fd(), &mut arg).map(|n| n as usize).map_err(|e| self.sender.fail("send", e, Some(0)))
    }

    /// The sending half (shares this handle's fd).
    pub fn sender(&self) -> &Sender {
        &self.sender
    }
    /// Tells this handle the queue's schema type (see [`Sender::set_schema`]).
    pub fn set_schema(&mut self, schema: Arc<Schema>) {
        self.sender.set_schema(schema);
    }
    /// The receiving half (shares this handle's fd).
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }
    /// Sends one message; `QueueFull` if there is no room.
    pub fn send(&self, msg: &[u8], priority: MsgPriority) -> Result<()> {
        self.sender.send(msg, priority)
    }
    /// Receives the next message without blocking.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.receiver.recv(buf)
    }
    /// Receives the next message, waiting up to `timeout`.
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        self.receiver.recv_timeout(buf, timeout)
    }
    /// Receives the next message with its description.
    pub fn recv_typed(&self, buf: &mut [u8]) -> Result<MessageInfo> {
        self.receiver.recv_typed(buf)
    }
    /// The next message's description, leaving it queued.
    pub fn peek(&self) -> Result<MessageInfo> {
        self.receiver.peek()
    }
    /// The queue's configuration.
    pub fn config(&self) -> QueueConfig {
        self.receiver.config()
    }
    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }
    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }
    /// Whether the queue is full.
    pub fn is_full(&self) -> bool {
        self.receiver.is_full()
    }
    /// Free places.
    pub fn available(&self) -> usize {
        self.receiver.available()
    }
    /// Messages accepted since creation.
    pub fn send_count(&self) -> u64 {
        self.receiver.send_count()
    }
    /// Messages consumed since creation.
    pub fn recv_count(&self) -> u64 {
        self.receiver.recv_count()
    }
}

impl AsFd for KernelQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.receiver.as_fd()
    }
}
impl AsRawFd for KernelQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.receiver.as_raw_fd()
    }
}
