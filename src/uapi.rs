// SPDX-License-Identifier: GPL-2.0 OR MIT
//! kring user-space ABI: the Rust twin of `include/uapi/linux/kring.h`.
//!
//! This file is compiled twice: into the kernel module (`src/kring.rs`, `mod uapi;`) and into the
//! user-space helper crate (`tools/kring`, through `#[path]`). It must therefore use `core` only:
//! no `alloc`, no `std`, no `kernel` crate. Host tests (`cargo test`) check every constant and
//! layout here against the C header, and the module checks the ioctl numbers against the
//! kernel's own `_IOR`/`_IOW` at compile time.
//!
//! ABI rules (see `Documentation/uapi.md`):
//! - every struct is `#[repr(C)]`, built from fixed-width fields only, with explicit padding and
//!   the same layout on 32- and 64-bit user space (so `compat_ioctl` needs no translation);
//! - reserved fields must be zero on input (the kernel rejects anything else with `EINVAL`) and
//!   are zero on output, so they can gain a meaning later;
//! - incompatible changes bump [`KRING_ABI_MAJOR`]; compatible additions bump
//!   [`KRING_ABI_MINOR`] and are announced by a bit in `features`.

/// Release of this source tree (module and user-space crates are released together; a host
/// test checks it against the Cargo workspace version).
pub const KRING_RELEASE: &str = "0.1.0";

/// Incompatible ABI revision. User space must refuse to run on a major it does not know.
pub const KRING_ABI_MAJOR: u32 = 1;
/// Compatible ABI revision within [`KRING_ABI_MAJOR`].
pub const KRING_ABI_MINOR: u32 = 6;
/// Feature bit: queues (create/open/unlink, send/recv, mmap rings, poll). ABI 1.1.
pub const KRING_FEAT_QUEUES: u64 = 1 << 0;
/// Feature bit: regions with kernel-enforced policies (create, write, append, seal, map).
/// ABI 1.2.
pub const KRING_FEAT_REGIONS: u64 = 1 << 1;
/// Feature bit: zero-copy descriptors into regions, sent through queues. ABI 1.3.
pub const KRING_FEAT_DESCRIPTORS: u64 = 1 << 2;
/// Feature bits reported in [`KringVersion::features`] by this build.
pub const KRING_FEATURES: u64 = KRING_FEAT_QUEUES
    | KRING_FEAT_REGIONS
    | KRING_FEAT_DESCRIPTORS
    | KRING_FEAT_SCHEMAS
    | KRING_FEAT_WAKE_ROOM
    | KRING_FEAT_USER_LIMITS;
/// Feature bit: schemas, registered once and checked by the kernel on every send. ABI 1.4.
pub const KRING_FEAT_SCHEMAS: u64 = 1 << 3;
/// Feature bit: `kring_header.wake_room`, the room a waiting sender needs before the receiver
/// should call `KRING_IOC_NOTIFY`. ABI 1.5.
pub const KRING_FEAT_WAKE_ROOM: u64 = 1 << 4;
/// Feature bit: per-user limits on queues and queue memory (`max_user_queues`,
/// `max_user_bytes`); every per-user limit is `EDQUOT`, no longer `ENOMEM`; timed waits never
/// end before the time asked for. ABI 1.6.
pub const KRING_FEAT_USER_LIMITS: u64 = 1 << 5;

/// Length of [`KringVersion::release`], NUL terminator included.
pub const KRING_RELEASE_LEN: usize = 32;

/// ioctl "type" byte of every kring ioctl (free in `ioctl-number.rst` as of 7.3).
pub const KRING_IOC_MAGIC: u8 = 0xBB;

/// Reply of [`KRING_IOC_VERSION`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringVersion {
    /// [`KRING_ABI_MAJOR`] of the running module.
    pub abi_major: u32,
    /// [`KRING_ABI_MINOR`] of the running module.
    pub abi_minor: u32,
    /// Feature bits (`KRING_FEAT_*`).
    pub features: u64,
    /// Module release, NUL-terminated ASCII (e.g. `"0.1.0"`).
    pub release: [u8; KRING_RELEASE_LEN],
}

impl KringVersion {
    /// An all-zero value, the state user space hands to the kernel to fill.
    pub const fn zeroed() -> Self {
        Self {
            abi_major: 0,
            abi_minor: 0,
            features: 0,
            release: [0; KRING_RELEASE_LEN],
        }
    }

    /// The version block describing this build of the ABI, with `release` as module release.
    ///
    /// `release` is truncated to `KRING_RELEASE_LEN - 1` bytes so the NUL always fits.
    pub const fn current(release: &[u8]) -> Self {
        let mut v = Self::zeroed();
        v.abi_major = KRING_ABI_MAJOR;
        v.abi_minor = KRING_ABI_MINOR;
        v.features = KRING_FEATURES;
        let mut i = 0;
        while i < release.len() && i < KRING_RELEASE_LEN - 1 {
            v.release[i] = release[i];
            i += 1;
        }
        v
    }

    /// The `release` bytes up to the first NUL (all of them if the kernel sent none).
    pub fn release_bytes(&self) -> &[u8] {
        let mut n = 0;
        while n < KRING_RELEASE_LEN && self.release[n] != 0 {
            n += 1;
        }
        // `n <= KRING_RELEASE_LEN` by the loop condition, so this cannot fail.
        self.release.split_at(n).0
    }
}

/// Generic Linux ioctl number encoding (x86, arm64, riscv, ...; not alpha/mips/powerpc/sparc).
///
/// The module asserts at compile time that these equal the kernel's own `_IOR`/`_IOW`, so a
/// build for an architecture with another encoding fails instead of silently disagreeing.
pub mod ioctl {
    /// Bits for the command number.
    pub const NRBITS: u32 = 8;
    /// Bits for the type (magic) byte.
    pub const TYPEBITS: u32 = 8;
    /// Bits for the argument size.
    pub const SIZEBITS: u32 = 14;
    /// Shift of the number field.
    pub const NRSHIFT: u32 = 0;
    /// Shift of the type field.
    pub const TYPESHIFT: u32 = NRSHIFT + NRBITS;
    /// Shift of the size field.
    pub const SIZESHIFT: u32 = TYPESHIFT + TYPEBITS;
    /// Shift of the direction field.
    pub const DIRSHIFT: u32 = SIZESHIFT + SIZEBITS;
    /// No data transfer.
    pub const NONE: u32 = 0;
    /// User space writes, the kernel reads.
    pub const WRITE: u32 = 1;
    /// The kernel writes, user space reads.
    pub const READ: u32 = 2;

    /// `_IOC(dir, ty, nr, size)`. Panics at compile time if `size` does not fit.
    pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
        assert!(size < (1 << SIZEBITS));
        (dir << DIRSHIFT) | ((ty as u32) << TYPESHIFT) | ((nr as u32) << NRSHIFT) | ((size as u32) << SIZESHIFT)
    }
    /// `_IOR(ty, nr, T)`.
    pub const fn ior<T>(ty: u8, nr: u8) -> u32 {
        ioc(READ, ty, nr, core::mem::size_of::<T>())
    }
    /// `_IOW(ty, nr, T)`.
    pub const fn iow<T>(ty: u8, nr: u8) -> u32 {
        ioc(WRITE, ty, nr, core::mem::size_of::<T>())
    }
    /// `_IOWR(ty, nr, T)`.
    pub const fn iowr<T>(ty: u8, nr: u8) -> u32 {
        ioc(READ | WRITE, ty, nr, core::mem::size_of::<T>())
    }
    /// `_IOC_SIZE(cmd)`.
    pub const fn size(cmd: u32) -> usize {
        ((cmd >> SIZESHIFT) & ((1 << SIZEBITS) - 1)) as usize
    }
}

/// `KRING_IOC_VERSION`: read the module's ABI version. Works on any open `/dev/kring`.
pub const KRING_IOC_VERSION: u32 = ioctl::ior::<KringVersion>(KRING_IOC_MAGIC, 0x00);

// Layout is part of the ABI: any change here is an ABI break and must be deliberate.
const _: () = assert!(core::mem::size_of::<KringVersion>() == 48);
const _: () = assert!(core::mem::align_of::<KringVersion>() == 8);

// ---------------------------------------------------------------------------------------------
// Queues (ABI 1.1, KRING_FEAT_QUEUES)
// ---------------------------------------------------------------------------------------------

/// Message priority `Low`.
pub const KRING_PRIO_LOW: u8 = 0;
/// Message priority `Normal`.
pub const KRING_PRIO_NORMAL: u8 = 1;
/// Message priority `High`.
pub const KRING_PRIO_HIGH: u8 = 2;
/// Message priority `Urgent`.
pub const KRING_PRIO_URGENT: u8 = 3;
/// Number of priorities; each has its own delivery ring.
pub const KRING_NR_PRIO: usize = 4;

/// Largest `ring_size` (messages a queue holds). `ring_size` is a power of two, at least 1.
pub const KRING_RING_SIZE_MAX: u32 = 32768;
/// Largest `max_msg_size` in bytes (1 MiB). At least 1.
pub const KRING_MSG_SIZE_MAX: u32 = 1 << 20;
/// Size of a queue name field, NUL included: names are 1..=63 bytes, no `/` and no NUL.
pub const KRING_NAME_MAX: usize = 64;
/// Permission bits a queue's `mode` may have (`rwx` for owner, group, other; `x` is ignored).
pub const KRING_MODE_MASK: u32 = 0o777;

/// Right to send: an fd bound with it may send (mode bit `w`).
pub const KRING_RIGHT_SEND: u32 = 1 << 0;
/// Right to receive: an fd bound with it is the queue's one receiver (mode bit `r`).
pub const KRING_RIGHT_RECV: u32 = 1 << 1;
/// All rights.
pub const KRING_RIGHTS_ALL: u32 = KRING_RIGHT_SEND | KRING_RIGHT_RECV;

/// `timeout_ms` value meaning "wait as long as it takes" (until a signal or a disconnect).
pub const KRING_TIMEOUT_INFINITE: u32 = u32::MAX;

/// Payload kind of a delivered message: bytes stored inline in the queue's payload area.
pub const KRING_KIND_INLINE: u8 = 0;
/// Payload kind of a delivered message: a zero-copy region descriptor (ABI 1.3).
pub const KRING_KIND_DESCRIPTOR: u8 = 1;

/// `KRING_IOC_CREATE` argument: create a queue and bind this fd to it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringCreate {
    /// Messages the queue holds: a power of two in `1..=KRING_RING_SIZE_MAX`.
    pub ring_size: u32,
    /// Largest payload in bytes: `1..=KRING_MSG_SIZE_MAX`.
    pub max_msg_size: u32,
    /// Schema id from `KRING_IOC_SCHEMA_REGISTER`; 0 = none. Every message sent to the queue
    /// must then be a valid encoding of the schema's type (ABI 1.4).
    pub schema: u32,
    /// Permission bits (`KRING_MODE_MASK`) checked when the queue is opened by name.
    pub mode: u32,
    /// Rights of this fd on the new queue (`KRING_RIGHT_*`, at least one).
    pub rights: u32,
    /// Reserved, must be 0.
    pub flags: u32,
    /// NUL-terminated name; empty (first byte 0) for an anonymous queue.
    pub name: [u8; KRING_NAME_MAX],
}

/// `KRING_IOC_OPEN` argument: bind this fd to the named queue with the requested rights.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringOpen {
    /// Requested rights (`KRING_RIGHT_*`, at least one), checked against the queue's mode.
    pub rights: u32,
    /// Reserved, must be 0.
    pub flags: u32,
    /// NUL-terminated name.
    pub name: [u8; KRING_NAME_MAX],
}

/// `KRING_IOC_UNLINK` argument: remove a queue's name (the queue lives on while bound fds exist).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringUnlink {
    /// NUL-terminated name.
    pub name: [u8; KRING_NAME_MAX],
}

/// `kring_info.flags`: the queue has a name (is in the namespace).
pub const KRING_INFO_NAMED: u32 = 1 << 0;

/// `KRING_IOC_INFO` reply: configuration, rights, the kernel's counters and the mmap layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringInfo {
    /// Messages the queue holds.
    pub ring_size: u32,
    /// Largest payload in bytes.
    pub max_msg_size: u32,
    /// Schema id (0 = none).
    pub schema: u32,
    /// Rights of this fd (`KRING_RIGHT_*`).
    pub rights: u32,
    /// Bytes between payload slots in the payload area.
    pub slot_size: u32,
    /// Entries in this fd's submission area.
    pub sq_entries: u32,
    /// Bytes of payload buffer in this fd's submission area.
    pub sq_data_size: u32,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid, as the initial user namespace sees it (queues are global).
    pub uid: u32,
    /// Owner gid, as the initial user namespace sees it.
    pub gid: u32,
    /// `KRING_INFO_*` bits.
    pub flags: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// Messages queued now.
    pub len: u64,
    /// Messages accepted since creation.
    pub send_count: u64,
    /// Messages consumed since creation.
    pub recv_count: u64,
    /// Bytes to map at `KRING_OFF_HEADER`.
    pub header_len: u64,
    /// Bytes to map at `KRING_OFF_CONSUMER`.
    pub consumer_len: u64,
    /// Bytes to map at `KRING_OFF_ENTRIES`.
    pub entries_len: u64,
    /// Bytes to map at `KRING_OFF_PAYLOAD`.
    pub payload_len: u64,
    /// Bytes to map at `KRING_OFF_SUBMIT`.
    pub submit_len: u64,
}

/// `KRING_IOC_SEND` argument: copy one message from user memory into the queue.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringSend {
    /// User address of the payload.
    pub addr: u64,
    /// Payload length: `0..=max_msg_size`.
    pub len: u32,
    /// `KRING_PRIO_*`.
    pub priority: u8,
    /// Reserved, must be 0.
    pub pad: [u8; 3],
    /// Reserved, must be 0.
    pub flags: u32,
    /// How long to wait for space: 0 = fail with `ENOSPC` at once, `KRING_TIMEOUT_INFINITE`.
    pub timeout_ms: u32,
}

/// `kring_recv.flags`: copy the next message but leave it queued.
pub const KRING_RECV_PEEK: u32 = 1 << 0;

/// `KRING_IOC_RECV` argument and reply: copy the next message out (highest priority first).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringRecv {
    /// In: user address of the buffer.
    pub addr: u64,
    /// In: buffer length.
    pub len: u32,
    /// In: `KRING_RECV_*`.
    pub flags: u32,
    /// In: how long to wait for a message: 0 = fail with `EAGAIN` at once.
    pub timeout_ms: u32,
    /// Out: payload length (also on `EOVERFLOW`: the size needed).
    pub msg_len: u32,
    /// Out: the message's acceptance sequence number (1, 2, ... per queue).
    pub seq: u64,
    /// Out: `KRING_PRIO_*`.
    pub priority: u8,
    /// Out: `KRING_KIND_*`.
    pub kind: u8,
    /// Out: reserved, 0.
    pub pad: [u8; 6],
}

/// `kring_enter.flags`: wait (up to `timeout_ms`) for space instead of stopping when full.
pub const KRING_ENTER_WAIT: u32 = 1 << 0;
/// `kring_enter.flags`: after submitting, wait (up to `timeout_ms`) until a message is queued
/// for this fd to receive (needs `KRING_RIGHT_RECV`), like `io_uring_enter`'s `min_complete`.
pub const KRING_ENTER_GETMSG: u32 = 1 << 1;

/// `KRING_IOC_ENTER` argument and reply: submit `sqe[start..start+count)` from this fd's
/// submission area in one call, then optionally wait for a message (`KRING_ENTER_GETMSG`).
/// Returns the number of messages accepted (also in `submitted`); a failed wait is reported
/// only when nothing was submitted, as `io_uring_enter` does.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringEnter {
    /// In: index of the first submission entry.
    pub start: u32,
    /// In: number of entries to submit.
    pub count: u32,
    /// In: `KRING_ENTER_*`.
    pub flags: u32,
    /// In: with `KRING_ENTER_WAIT`, how long to wait for space in total.
    pub timeout_ms: u32,
    /// Out: entries accepted (the same as the return value).
    pub submitted: u32,
    /// In: must be 0. Out: when fewer than `count` entries were accepted, the (positive) errno
    /// that stopped the batch at entry `start + submitted`; 0 otherwise (ABI 1.4).
    pub error: u32,
}

/// `KRING_IOC_WAIT` argument: sleep until a message is queued (receivers) .
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringWait {
    /// Reserved, must be 0.
    pub flags: u32,
    /// How long to wait: 0 = just check, `KRING_TIMEOUT_INFINITE`.
    pub timeout_ms: u32,
}

/// One submission entry in a sender's submission area (`KRING_OFF_SUBMIT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringSqe {
    /// Offset of the payload in the submission data buffer.
    pub offset: u32,
    /// Payload length.
    pub len: u32,
    /// `KRING_PRIO_*`.
    pub priority: u8,
    /// Reserved, must be 0.
    pub flags: u8,
    /// Reserved, must be 0.
    pub reserved: u16,
    /// Reserved, must be 0.
    pub reserved2: u32,
}

/// One delivery entry in a priority ring (`KRING_OFF_ENTRIES`), written by the kernel only.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringEntry {
    /// Acceptance sequence number (1, 2, ... per queue, across all priorities).
    pub seq: u64,
    /// Payload length.
    pub len: u32,
    /// Payload slot: the payload is at `slot * slot_size` in the payload area.
    pub slot: u32,
    /// `KRING_PRIO_*`.
    pub priority: u8,
    /// `KRING_KIND_*`.
    pub kind: u8,
    /// Reserved, 0.
    pub flags: u16,
    /// Reserved, 0.
    pub reserved: u32,
    /// Reserved, 0.
    pub reserved2: u64,
}

/// `kring_header.magic`.
pub const KRING_HEADER_MAGIC: u32 = 0x4b52_494e; // "KRIN"
/// `kring_header.flags`: a sender waits for space; after consuming, the receiver must call
/// `KRING_IOC_NOTIFY` (see the memory-ordering protocol in `Documentation/uapi.md`).
pub const KRING_HDR_WAKE_SENDERS: u32 = 1 << 0;

/// The ring header (`KRING_OFF_HEADER`), written by the kernel only, mapped read-only.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringHeader {
    /// `KRING_HEADER_MAGIC`.
    pub magic: u32,
    /// Messages the queue holds.
    pub ring_size: u32,
    /// `ring_size - 1`: index mask of every priority ring.
    pub ring_mask: u32,
    /// Bytes between payload slots.
    pub slot_size: u32,
    /// Largest payload.
    pub max_msg_size: u32,
    /// `KRING_HDR_*` bits.
    pub flags: u32,
    /// Sequence count: odd while the kernel updates `tail` and `send_count`.
    pub seq: u32,
    /// While `KRING_HDR_WAKE_SENDERS` is set: the free places (`ring_size` minus the messages
    /// queued) the neediest waiting sender waits for; a receiver calls `KRING_IOC_NOTIFY` once
    /// at least that many are free. 0 (and always before ABI 1.5): notify after every message.
    /// A batch waits for room for its remaining entries, at most `ring_size / 2`. ABI 1.5.
    pub wake_room: u32,
    /// Producer index of each priority ring (free-running, wraps at 2^32); store-release.
    pub tail: [u32; KRING_NR_PRIO],
    /// Messages accepted since creation.
    pub send_count: u64,
    /// Reserved, 0.
    pub reserved: [u64; 3],
}

/// The consumer page (`KRING_OFF_CONSUMER`): written by the receiver only (its mapping is the
/// only writable one); the kernel reads each field once, then validates and clamps it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringConsumer {
    /// Consumer index of each priority ring (free-running); store-release after the payload
    /// of every entry before it was read.
    pub head: [u32; KRING_NR_PRIO],
    /// Reserved.
    pub reserved: [u64; 2],
}

/// mmap offset of the ring header (read-only, one page).
pub const KRING_OFF_HEADER: u64 = 0;
/// mmap offset of the consumer page (writable for the receiver, read-only for senders).
pub const KRING_OFF_CONSUMER: u64 = 0x1000_0000;
/// mmap offset of the delivery entries, `KRING_NR_PRIO` rings of `ring_size` entries each,
/// ring `p` first at `p * ring_size * sizeof(struct kring_entry)` (receiver only, read-only).
pub const KRING_OFF_ENTRIES: u64 = 0x2000_0000;
/// mmap offset of the payload slots (receiver only, read-only).
pub const KRING_OFF_PAYLOAD: u64 = 0x3000_0000;
/// mmap offset of this fd's submission area: `sq_entries` `struct kring_sqe`, then (page
/// aligned) `sq_data_size` bytes of payload buffer (senders only, read-write).
pub const KRING_OFF_SUBMIT: u64 = 0x4000_0000;

/// `KRING_IOC_CREATE`.
pub const KRING_IOC_CREATE: u32 = ioctl::iow::<KringCreate>(KRING_IOC_MAGIC, 0x01);
/// `KRING_IOC_OPEN`.
pub const KRING_IOC_OPEN: u32 = ioctl::iow::<KringOpen>(KRING_IOC_MAGIC, 0x02);
/// `KRING_IOC_UNLINK`.
pub const KRING_IOC_UNLINK: u32 = ioctl::iow::<KringUnlink>(KRING_IOC_MAGIC, 0x03);
/// `KRING_IOC_INFO`.
pub const KRING_IOC_INFO: u32 = ioctl::ior::<KringInfo>(KRING_IOC_MAGIC, 0x04);
/// `KRING_IOC_SEND`.
pub const KRING_IOC_SEND: u32 = ioctl::iow::<KringSend>(KRING_IOC_MAGIC, 0x05);
/// `KRING_IOC_RECV`.
pub const KRING_IOC_RECV: u32 = ioctl::iowr::<KringRecv>(KRING_IOC_MAGIC, 0x06);
/// `KRING_IOC_ENTER`.
pub const KRING_IOC_ENTER: u32 = ioctl::iowr::<KringEnter>(KRING_IOC_MAGIC, 0x07);
/// `KRING_IOC_WAIT`.
pub const KRING_IOC_WAIT: u32 = ioctl::iow::<KringWait>(KRING_IOC_MAGIC, 0x08);
/// `KRING_IOC_NOTIFY`: the receiver published progress; wake senders waiting for space.
pub const KRING_IOC_NOTIFY: u32 = ioctl::ioc(ioctl::NONE, KRING_IOC_MAGIC, 0x09, 0);

const _: () = assert!(core::mem::size_of::<KringCreate>() == 24 + KRING_NAME_MAX);
const _: () = assert!(core::mem::size_of::<KringOpen>() == 8 + KRING_NAME_MAX);
const _: () = assert!(core::mem::size_of::<KringUnlink>() == KRING_NAME_MAX);
const _: () = assert!(core::mem::size_of::<KringInfo>() == 48 + 8 * 8);
const _: () = assert!(core::mem::size_of::<KringSend>() == 24);
const _: () = assert!(core::mem::size_of::<KringRecv>() == 40);
const _: () = assert!(core::mem::size_of::<KringEnter>() == 24);
const _: () = assert!(core::mem::size_of::<KringWait>() == 8);
const _: () = assert!(core::mem::size_of::<KringSqe>() == 16);
const _: () = assert!(core::mem::size_of::<KringEntry>() == 32);
const _: () = assert!(core::mem::size_of::<KringHeader>() == 80);
const _: () = assert!(core::mem::size_of::<KringConsumer>() == 32);

// ---------------------------------------------------------------------------------------------
// Regions (ABI 1.2, KRING_FEAT_REGIONS)
// ---------------------------------------------------------------------------------------------

/// Region policy: filled once (`KRING_IOC_REGION_WRITE`), then sealed; never changes after.
pub const KRING_REGION_IMMUTABLE: u32 = 0;
/// Region policy: bytes are appended through the kernel; committed bytes never change.
pub const KRING_REGION_APPEND_ONLY: u32 = 1;
/// Region policy: fixed-size slots, freely writable shared memory.
pub const KRING_REGION_SLAB: u32 = 2;

/// `kring_region_info.flags`: the (Immutable) region is sealed.
pub const KRING_REGION_SEALED: u32 = 1 << 0;

/// mmap offset of a region's bytes on a region fd.
pub const KRING_OFF_REGION: u64 = 0;

/// `KRING_IOC_REGION_CREATE` argument: create a region and bind this fd to it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringRegionCreate {
    /// `KRING_REGION_*`.
    pub policy: u32,
    /// Reserved, must be 0.
    pub flags: u32,
    /// Immutable: size in bytes (1..); otherwise 0.
    pub size: u64,
    /// AppendOnly: largest committed length (1..); otherwise 0.
    pub max_size: u64,
    /// Slab: bytes per slot (1..); otherwise 0.
    pub slot_size: u32,
    /// Slab: number of slots (1..); otherwise 0.
    pub slot_count: u32,
}

/// `KRING_IOC_REGION_INFO` reply.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringRegionInfo {
    /// Region id (reused after the region is freed).
    pub id: u32,
    /// Generation: differs for every region that ever had this id.
    pub generation: u32,
    /// `KRING_REGION_*`.
    pub policy: u32,
    /// `KRING_REGION_SEALED`.
    pub flags: u32,
    /// Capacity in bytes (what can be mapped).
    pub size: u64,
    /// AppendOnly: committed length. Immutable: `size` once sealed, else 0. Slab: `size`.
    pub committed: u64,
    /// Slab: bytes per slot; otherwise 0.
    pub slot_size: u32,
    /// Slab: number of slots; otherwise 0.
    pub slot_count: u32,
}

/// `KRING_IOC_REGION_WRITE` argument: copy bytes into an unsealed Immutable or a Slab region.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringRegionWrite {
    /// Byte offset in the region.
    pub offset: u64,
    /// User address of the bytes.
    pub addr: u64,
    /// Number of bytes.
    pub len: u32,
    /// Reserved, must be 0.
    pub flags: u32,
}

/// `KRING_IOC_REGION_APPEND` argument and reply: append bytes to an AppendOnly region.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringRegionAppend {
    /// In: user address of the bytes.
    pub addr: u64,
    /// In: number of bytes.
    pub len: u32,
    /// In: reserved, must be 0.
    pub flags: u32,
    /// Out: the committed length after the append (the bytes start at `committed - len`).
    pub committed: u64,
}

/// `KRING_IOC_REGION_CREATE`.
pub const KRING_IOC_REGION_CREATE: u32 = ioctl::iow::<KringRegionCreate>(KRING_IOC_MAGIC, 0x10);
/// `KRING_IOC_REGION_INFO`.
pub const KRING_IOC_REGION_INFO: u32 = ioctl::ior::<KringRegionInfo>(KRING_IOC_MAGIC, 0x11);
/// `KRING_IOC_REGION_WRITE`.
pub const KRING_IOC_REGION_WRITE: u32 = ioctl::iow::<KringRegionWrite>(KRING_IOC_MAGIC, 0x12);
/// `KRING_IOC_REGION_APPEND`.
pub const KRING_IOC_REGION_APPEND: u32 = ioctl::iowr::<KringRegionAppend>(KRING_IOC_MAGIC, 0x13);
/// `KRING_IOC_REGION_SEAL`: seal an Immutable region.
pub const KRING_IOC_REGION_SEAL: u32 = ioctl::ioc(ioctl::NONE, KRING_IOC_MAGIC, 0x14, 0);

const _: () = assert!(core::mem::size_of::<KringRegionCreate>() == 32);
const _: () = assert!(core::mem::size_of::<KringRegionInfo>() == 40);
const _: () = assert!(core::mem::size_of::<KringRegionWrite>() == 24);
const _: () = assert!(core::mem::size_of::<KringRegionAppend>() == 24);

// ---------------------------------------------------------------------------------------------
// Descriptors (ABI 1.3, KRING_FEAT_DESCRIPTORS)
// ---------------------------------------------------------------------------------------------

/// The payload of a `KRING_KIND_DESCRIPTOR` message (the seed's `MessageDescriptor`, 24 bytes,
/// little-endian on every architecture): bytes `offset..offset+length` of region
/// `{region_id, generation}`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringDescriptor {
    /// Region id.
    pub region_id: u32,
    /// Region generation.
    pub generation: u32,
    /// Byte offset in the region.
    pub offset: u64,
    /// Number of bytes.
    pub length: u32,
    /// Padding, always 0.
    pub pad: u32,
}

/// Size of an encoded [`KringDescriptor`].
pub const KRING_DESCRIPTOR_SIZE: usize = 24;

impl KringDescriptor {
    /// The little-endian encoding.
    pub fn to_bytes(&self) -> [u8; KRING_DESCRIPTOR_SIZE] {
        let mut b = [0u8; KRING_DESCRIPTOR_SIZE];
        b[0..4].copy_from_slice(&self.region_id.to_le_bytes());
        b[4..8].copy_from_slice(&self.generation.to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..20].copy_from_slice(&self.length.to_le_bytes());
        b[20..24].copy_from_slice(&self.pad.to_le_bytes());
        b
    }

    /// Decodes the little-endian encoding; `None` if it is not 24 bytes or the padding is not 0.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != KRING_DESCRIPTOR_SIZE {
            return None;
        }
        let u32_at = |i: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?)) };
        let d = Self {
            region_id: u32_at(0)?,
            generation: u32_at(4)?,
            offset: u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
            length: u32_at(16)?,
            pad: u32_at(20)?,
        };
        if d.pad != 0 {
            return None;
        }
        Some(d)
    }
}

/// `KRING_IOC_SEND_DESC` argument: send a descriptor to bytes of the region behind `region_fd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringSendDesc {
    /// An fd bound to the region (created by or passed to the sender).
    pub region_fd: i32,
    /// Reserved, must be 0.
    pub flags: u32,
    /// Byte offset in the region.
    pub offset: u64,
    /// Number of bytes (at least 1).
    pub length: u32,
    /// `KRING_PRIO_*`.
    pub priority: u8,
    /// Reserved, must be 0.
    pub pad: [u8; 3],
    /// How long to wait for room: 0 = `ENOSPC` at once.
    pub timeout_ms: u32,
    /// Reserved, must be 0.
    pub reserved: u32,
}

/// `kring_sqe.flags`: the entry is a descriptor; its `len` bytes at `offset` in the submission
/// buffer hold a `struct kring_desc_submit`.
pub const KRING_SQE_DESC: u8 = 1 << 0;

/// The submission-buffer payload of a `KRING_SQE_DESC` entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringDescSubmit {
    /// An fd bound to the region.
    pub region_fd: i32,
    /// Number of bytes.
    pub length: u32,
    /// Byte offset in the region.
    pub offset: u64,
}

/// `KRING_IOC_REGION_OPEN` argument: bind this (unbound) fd, read-only, to the region a
/// descriptor queued on `queue_fd` (a receiving fd of the caller) refers to.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringRegionOpen {
    /// The receiver's queue fd.
    pub queue_fd: i32,
    /// Reserved, must be 0.
    pub flags: u32,
    /// Region id from the descriptor.
    pub region_id: u32,
    /// Region generation from the descriptor.
    pub generation: u32,
}

/// `KRING_IOC_SEND_DESC`.
pub const KRING_IOC_SEND_DESC: u32 = ioctl::iow::<KringSendDesc>(KRING_IOC_MAGIC, 0x15);
/// `KRING_IOC_REGION_OPEN`.
pub const KRING_IOC_REGION_OPEN: u32 = ioctl::iow::<KringRegionOpen>(KRING_IOC_MAGIC, 0x16);

const _: () = assert!(core::mem::size_of::<KringDescriptor>() == KRING_DESCRIPTOR_SIZE);
const _: () = assert!(core::mem::size_of::<KringSendDesc>() == 32);
const _: () = assert!(core::mem::size_of::<KringDescSubmit>() == 16);
const _: () = assert!(core::mem::size_of::<KringRegionOpen>() == 16);

// ---------------------------------------------------------------------------------------------
// Schemas (ABI 1.4, KRING_FEAT_SCHEMAS)
// ---------------------------------------------------------------------------------------------

/// Largest schema program in bytes (see `src/schema.rs` for the format).
pub const KRING_SCHEMA_SIZE_MAX: u32 = 16 + 1024 * 12 + 4096 * 4;

/// `KRING_IOC_SCHEMA_REGISTER` argument and reply: load a schema program. The same bytes
/// always get the same id while the schema lives; it lives while an fd that registered it or a
/// queue that uses it exists.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringSchemaRegister {
    /// In: user address of the program.
    pub addr: u64,
    /// In: program length, `16..=KRING_SCHEMA_SIZE_MAX`.
    pub len: u32,
    /// In: reserved, must be 0.
    pub flags: u32,
    /// Out: the schema id (never 0).
    pub id: u32,
    /// In: must be 0. Out: the inline size of the schema's type (the shortest valid message).
    pub min_size: u32,
}

/// Message shorter than the schema type.
pub const KRING_SCHEMA_E_SHORT: u32 = 1;
/// A `bool` byte is neither 0 nor 1.
pub const KRING_SCHEMA_E_BOOL: u32 = 2;
/// A `char` is not a Unicode scalar value.
pub const KRING_SCHEMA_E_CHAR: u32 = 3;
/// A `string` is not valid UTF-8.
pub const KRING_SCHEMA_E_UTF8: u32 = 4;
/// A discriminant is not a case of its variant.
pub const KRING_SCHEMA_E_DISCRIMINANT: u32 = 5;
/// Flag bits beyond the type's flags are set.
pub const KRING_SCHEMA_E_FLAGS: u32 = 6;
/// A padding byte is not zero.
pub const KRING_SCHEMA_E_PADDING: u32 = 7;
/// A string or list reaches past the end of the message.
pub const KRING_SCHEMA_E_BOUNDS: u32 = 8;
/// A string or list is not at its canonical offset.
pub const KRING_SCHEMA_E_OFFSET: u32 = 9;
/// Bytes follow the last string or list.
pub const KRING_SCHEMA_E_TRAILING: u32 = 10;
/// Internal: nesting deeper than the validator's stack (never for a registered schema).
pub const KRING_SCHEMA_E_DEPTH: u32 = 11;

/// `kring_schema_error.index` of a violation found by `KRING_IOC_SEND` or `KRING_IOC_SEND_DESC`.
pub const KRING_SCHEMA_INDEX_SINGLE: u32 = u32::MAX;

/// `KRING_IOC_SCHEMA_ERROR` reply: the last message this fd had refused with `EBADMSG`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KringSchemaError {
    /// Messages this fd has had refused so far (0: none, and the rest is 0).
    pub count: u32,
    /// `KRING_SCHEMA_E_*`.
    pub reason: u32,
    /// Index of the schema program node whose value was wrong.
    pub node: u32,
    /// Byte offset in the message where the check failed.
    pub offset: u32,
    /// `KRING_IOC_ENTER`: index of the submission entry; otherwise `KRING_SCHEMA_INDEX_SINGLE`.
    pub index: u32,
    /// The queue's schema id.
    pub schema: u32,
}

/// `KRING_IOC_SCHEMA_REGISTER`.
pub const KRING_IOC_SCHEMA_REGISTER: u32 = ioctl::iowr::<KringSchemaRegister>(KRING_IOC_MAGIC, 0x20);
/// `KRING_IOC_SCHEMA_ERROR`.
pub const KRING_IOC_SCHEMA_ERROR: u32 = ioctl::ior::<KringSchemaError>(KRING_IOC_MAGIC, 0x21);

const _: () = assert!(core::mem::size_of::<KringSchemaRegister>() == 24);
const _: () = assert!(core::mem::size_of::<KringSchemaError>() == 24);
