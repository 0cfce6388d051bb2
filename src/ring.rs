// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Queue geometry, ring index math and argument validation, shared by the module and user space.
//!
//! Like `uapi.rs`, this file is compiled into the kernel module and into the user-space crate
//! (`tools/kring`), so it uses `core` only and never panics: every function is total over its
//! inputs (checked arithmetic, no indexing that input can break). Host tests, including
//! property tests, live in `tools/kring/tests/ring.rs`.

use crate::uapi::{
    KringRegionCreate, KringSqe, KRING_REGION_APPEND_ONLY, KRING_REGION_IMMUTABLE, KRING_REGION_SLAB, KRING_MODE_MASK, KRING_MSG_SIZE_MAX, KRING_NAME_MAX, KRING_NR_PRIO, KRING_PRIO_URGENT,
    KRING_RIGHTS_ALL, KRING_RIGHT_RECV, KRING_RIGHT_SEND, KRING_RING_SIZE_MAX,
};

/// Why an argument was refused. The module maps each to its errno; user space maps the errno
/// back to a named error (see `Documentation/uapi.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// A value outside its documented range, a reserved field not zero (`EINVAL`).
    Invalid,
    /// A name that is empty where one is needed, contains `/`, or has no NUL (`EINVAL`).
    BadName,
    /// A payload longer than the queue's `max_msg_size` (`EMSGSIZE`).
    TooLarge,
}

/// Entries in a sender's submission area.
pub const SQ_ENTRIES: u32 = 256;
/// Smallest payload buffer in a sender's submission area.
pub const SQ_DATA_MIN: u32 = 64 * 1024;
/// Alignment of payload slots.
pub const SLOT_ALIGN: u32 = 8;

/// Rounds `x` up to a multiple of `align` (a power of two); `None` on overflow.
pub const fn align_up(x: u64, align: u64) -> Option<u64> {
    match x.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// The sizes and offsets of one queue's shared memory, derived from its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Messages the queue holds (power of two).
    pub ring_size: u32,
    /// Largest payload.
    pub max_msg_size: u32,
    /// Bytes between payload slots.
    pub slot_size: u32,
    /// Bytes of the header area (one page).
    pub header_len: u64,
    /// Bytes of the consumer area (one page).
    pub consumer_len: u64,
    /// Bytes of the entries area (page multiple).
    pub entries_len: u64,
    /// Bytes of the payload area (page multiple).
    pub payload_len: u64,
    /// Submission entries per sender.
    pub sq_entries: u32,
    /// Bytes of submission payload buffer per sender.
    pub sq_data_size: u32,
    /// Offset of the payload buffer in the submission area (page aligned).
    pub sq_data_offset: u64,
    /// Bytes of a sender's submission area (page multiple).
    pub submit_len: u64,
}

impl Geometry {
    /// Validates `ring_size` and `max_msg_size` and computes the layout for pages of
    /// `page_size` bytes (a power of two).
    pub fn new(ring_size: u32, max_msg_size: u32, page_size: u64) -> Result<Self, ArgError> {
        if ring_size == 0 || ring_size > KRING_RING_SIZE_MAX || !ring_size.is_power_of_two() {
            return Err(ArgError::Invalid);
        }
        if max_msg_size == 0 || max_msg_size > KRING_MSG_SIZE_MAX {
            return Err(ArgError::Invalid);
        }
        if page_size == 0 || !page_size.is_power_of_two() {
            return Err(ArgError::Invalid);
        }
        // All of this fits easily in u64 (at most 2^15 * 2^20 = 2^35 bytes of payload), but it
        // is computed checked anyway so that no input can make it wrap.
        let slot_size = align_up(max_msg_size as u64, SLOT_ALIGN as u64).ok_or(ArgError::Invalid)?;
        let entries = (KRING_NR_PRIO as u64) * (ring_size as u64) * (core::mem::size_of::<crate::uapi::KringEntry>() as u64);
        let entries_len = align_up(entries, page_size).ok_or(ArgError::Invalid)?;
        let payload = (ring_size as u64).checked_mul(slot_size).ok_or(ArgError::Invalid)?;
        let payload_len = align_up(payload, page_size).ok_or(ArgError::Invalid)?;
        let sq_data = align_up(core::cmp::max(max_msg_size, SQ_DATA_MIN) as u64, page_size).ok_or(ArgError::Invalid)?;
        let sq_data_offset =
            align_up(SQ_ENTRIES as u64 * core::mem::size_of::<KringSqe>() as u64, page_size).ok_or(ArgError::Invalid)?;
        Ok(Self {
            ring_size,
            max_msg_size,
            slot_size: slot_size as u32,
            header_len: page_size,
            consumer_len: page_size,
            entries_len,
            payload_len,
            sq_entries: SQ_ENTRIES,
            sq_data_size: sq_data as u32,
            sq_data_offset,
            submit_len: sq_data_offset + sq_data,
        })
    }

    /// Bytes of the queue's shared memory (not counting senders' submission areas): what the
    /// module's per-queue memory limit is checked against.
    pub const fn queue_bytes(&self) -> u64 {
        self.header_len + self.consumer_len + self.entries_len + self.payload_len
    }

    /// `ring_size - 1`.
    pub const fn mask(&self) -> u32 {
        self.ring_size - 1
    }

    /// Byte offset in the entries area of priority `prio`'s entry for free-running index `idx`.
    /// `None` if `prio` is not a priority.
    pub const fn entry_offset(&self, prio: usize, idx: u32) -> Option<u64> {
        if prio >= KRING_NR_PRIO {
            return None;
        }
        let e = core::mem::size_of::<crate::uapi::KringEntry>() as u64;
        Some((prio as u64 * self.ring_size as u64 + (idx & self.mask()) as u64) * e)
    }

    /// Byte offset of payload slot `slot` in the payload area; `None` if out of range.
    pub const fn slot_offset(&self, slot: u32) -> Option<u64> {
        if slot >= self.ring_size {
            return None;
        }
        Some(slot as u64 * self.slot_size as u64)
    }
}

/// Whether `p` is a priority (`KRING_PRIO_LOW..=KRING_PRIO_URGENT`).
pub const fn valid_priority(p: u8) -> bool {
    p <= KRING_PRIO_URGENT
}

/// Whether `rights` is a non-empty subset of `KRING_RIGHTS_ALL`.
pub const fn valid_rights(rights: u32) -> bool {
    rights != 0 && rights & !KRING_RIGHTS_ALL == 0
}

/// Whether `mode` only has permission bits.
pub const fn valid_mode(mode: u32) -> bool {
    mode & !KRING_MODE_MASK == 0
}

/// The name bytes in a `KRING_NAME_MAX` field: `Ok(None)` for an anonymous (empty) name,
/// `Ok(Some(bytes))` for `1..KRING_NAME_MAX` bytes without `/`, followed by a NUL.
pub fn parse_name(field: &[u8; KRING_NAME_MAX]) -> Result<Option<&[u8]>, ArgError> {
    let len = match field.iter().position(|&b| b == 0) {
        Some(n) => n,
        None => return Err(ArgError::BadName),
    };
    let name = field.split_at(len).0;
    if name.is_empty() {
        return Ok(None);
    }
    if name.contains(&b'/') {
        return Err(ArgError::BadName);
    }
    Ok(Some(name))
}

/// Whether credentials may use a queue with `mode` for `rights`, POSIX style: the owner class
/// if `is_owner`, else the group class if `in_group`, else other. Sending needs `w`,
/// receiving needs `r`.
pub const fn mode_allows(mode: u32, is_owner: bool, in_group: bool, rights: u32) -> bool {
    let class = if is_owner {
        (mode >> 6) & 7
    } else if in_group {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    let mut need = 0;
    if rights & KRING_RIGHT_RECV != 0 {
        need |= 4;
    }
    if rights & KRING_RIGHT_SEND != 0 {
        need |= 2;
    }
    class & need == need
}

/// Messages in a ring between consumer index `head` and producer index `tail`.
pub const fn ring_len(head: u32, tail: u32) -> u32 {
    tail.wrapping_sub(head)
}

/// Validates a consumer index published by user space. `khead` is the kernel's last accepted
/// value and `tail` the producer index. A head may only move forward and never past `tail`;
/// returns the accepted head, or `None` for any other value (garbage, or a move backwards).
pub const fn accept_head(khead: u32, user_head: u32, tail: u32) -> Option<u32> {
    if user_head.wrapping_sub(khead) <= tail.wrapping_sub(khead) {
        Some(user_head)
    } else {
        None
    }
}

/// The priority whose ring the receiver takes the next message from: the highest one with
/// `heads[p] != tails[p]`, or `None` when every ring is empty.
pub fn next_priority(heads: &[u32; KRING_NR_PRIO], tails: &[u32; KRING_NR_PRIO]) -> Option<usize> {
    (0..KRING_NR_PRIO).rev().find(|&p| heads.get(p) != tails.get(p))
}

/// Validates a submission entry (already copied out of shared memory) against the
/// submission buffer size and the queue's `max_msg_size`. Returns the payload's byte range in
/// the submission buffer.
pub fn check_sqe(sqe: &KringSqe, sq_data_size: u32, max_msg_size: u32) -> Result<(u32, u32), ArgError> {
    if sqe.flags & !crate::uapi::KRING_SQE_DESC != 0 || sqe.reserved != 0 || sqe.reserved2 != 0 || !valid_priority(sqe.priority) {
        return Err(ArgError::Invalid);
    }
    if sqe.flags & crate::uapi::KRING_SQE_DESC != 0 {
        // A descriptor entry carries a `kring_desc_submit`; the message is a 24-byte descriptor.
        if sqe.len as usize != core::mem::size_of::<crate::uapi::KringDescSubmit>() {
            return Err(ArgError::Invalid);
        }
        if (max_msg_size as usize) < crate::uapi::KRING_DESCRIPTOR_SIZE {
            return Err(ArgError::TooLarge);
        }
    } else if sqe.len > max_msg_size {
        return Err(ArgError::TooLarge);
    }
    match sqe.offset.checked_add(sqe.len) {
        Some(end) if end <= sq_data_size => Ok((sqe.offset, end)),
        _ => Err(ArgError::Invalid),
    }
}

/// Validates a region creation request; returns the region's capacity in bytes.
/// `max_bytes` is the largest region the module allows.
pub fn region_size(c: &KringRegionCreate, max_bytes: u64) -> Result<u64, ArgError> {
    if c.flags != 0 {
        return Err(ArgError::Invalid);
    }
    let size = match c.policy {
        KRING_REGION_IMMUTABLE if c.max_size == 0 && c.slot_size == 0 && c.slot_count == 0 => c.size,
        KRING_REGION_APPEND_ONLY if c.size == 0 && c.slot_size == 0 && c.slot_count == 0 => c.max_size,
        KRING_REGION_SLAB if c.size == 0 && c.max_size == 0 && c.slot_size != 0 => {
            (c.slot_size as u64).checked_mul(c.slot_count as u64).ok_or(ArgError::Invalid)?
        }
        _ => return Err(ArgError::Invalid),
    };
    if size == 0 {
        return Err(ArgError::Invalid);
    }
    if size > max_bytes {
        return Err(ArgError::TooLarge);
    }
    Ok(size)
}

/// Whether `[offset, offset + len)` lies inside `size` bytes (no overflow).
pub const fn range_inside(offset: u64, len: u64, size: u64) -> bool {
    match offset.checked_add(len) {
        Some(end) => end <= size,
        None => false,
    }
}

/// Why a descriptor was refused (validated against the region's real state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescError {
    /// Zero length, or `offset + length` overflows or passes the region's size (`EINVAL`).
    Range,
    /// The region is a Slab: its bytes can change, so no descriptor may point into it
    /// (`EOPNOTSUPP`, `InvalidDescriptorRegion`).
    Slab,
    /// The bytes are not final yet: an unsealed Immutable region, or past an AppendOnly
    /// region's committed length (`ENODATA`, `RegionNotStable`).
    NotStable,
}

/// Validates a descriptor range against a region: `policy`, `size`, and the length that can no
/// longer change (`stable`: the size of a sealed Immutable region, 0 if unsealed; the committed
/// length of an AppendOnly region).
pub fn check_descriptor(policy: u32, size: u64, stable: u64, offset: u64, length: u32) -> Result<(), DescError> {
    if length == 0 || !range_inside(offset, length as u64, size) {
        return Err(DescError::Range);
    }
    match policy {
        KRING_REGION_IMMUTABLE | KRING_REGION_APPEND_ONLY => {
            if range_inside(offset, length as u64, stable) {
                Ok(())
            } else {
                Err(DescError::NotStable)
            }
        }
        _ => Err(DescError::Slab),
    }
}
