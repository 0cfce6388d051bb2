// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Regions: kernel-backed shared memory with a policy the kernel enforces.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::Error;
use crate::sys::{self, Mapping};
use crate::uapi::*;
use crate::{Result, DEVICE_PATH};

/// A region's policy, as in the seed's `RegionPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionPolicy {
    /// Filled once, then sealed; never changes afterwards.
    Immutable {
        /// Size in bytes.
        size: u64,
    },
    /// Bytes are appended; committed bytes never change.
    AppendOnly {
        /// Largest committed length.
        max_size: u64,
    },
    /// Fixed-size slots of freely writable shared memory.
    Slab {
        /// Bytes per slot.
        slot_size: u32,
        /// Number of slots.
        slot_count: u32,
    },
}

pub(crate) fn rerr(op: &'static str, e: rustix::io::Errno) -> Error {
    match e {
        rustix::io::Errno::PERM => Error::RegionNotWritable,
        rustix::io::Errno::NOSPC => Error::RegionFull,
        rustix::io::Errno::OPNOTSUPP => Error::InvalidDescriptorRegion,
        rustix::io::Errno::NODATA => Error::RegionNotStable,
        rustix::io::Errno::STALE => Error::StaleHandle,
        e => Error::from_queue_errno(e, op),
    }
}

/// A zero-copy message: bytes `offset..offset+length` of region `{region_id, generation}`
/// (the seed's `MessageDescriptor`; 24 bytes little-endian on the wire).
pub type MessageDescriptor = KringDescriptor;

/// A region as a receiver sees it: a read-only mapping, opened from a descriptor it received.
#[derive(Debug)]
pub struct RegionView {
    _fd: OwnedFd,
    map: Mapping,
    id: u32,
    generation: u32,
}

impl RegionView {
    /// Opens, read-only, the region a descriptor queued on `queue` (a receiving fd) refers to.
    pub(crate) fn open(queue: BorrowedFd<'_>, d: &MessageDescriptor) -> Result<Self> {
        let path = std::path::Path::new(DEVICE_PATH);
        let fd = sys::open(path).map_err(|e| Error::from_open(e, path))?;
        let arg = KringRegionOpen { queue_fd: queue.as_raw_fd(), flags: 0, region_id: d.region_id, generation: d.generation };
        sys::region_open(fd.as_fd(), arg).map_err(|e| rerr("region open", e))?;
        let info = sys::region_info(fd.as_fd()).map_err(|e| rerr("region info", e))?;
        let map = Mapping::new(fd.as_fd(), KRING_OFF_REGION, info.size as usize, false).map_err(|e| rerr("region mmap", e))?;
        Ok(Self { _fd: fd, map, id: d.region_id, generation: d.generation })
    }

    /// `{id, generation}` of the region.
    pub fn handle(&self) -> (u32, u32) {
        (self.id, self.generation)
    }

    /// The bytes a descriptor to this region names, borrowed from the read-only mapping: zero
    /// copies. `None` if the descriptor names another region or lies outside it. The kernel
    /// accepted the descriptor only for bytes that can never change again (a sealed Immutable
    /// region, or an AppendOnly region's committed part), so handing out a slice is sound.
    pub fn bytes(&self, d: &MessageDescriptor) -> Option<&[u8]> {
        if (d.region_id, d.generation) != (self.id, self.generation) {
            return None;
        }
        let start = usize::try_from(d.offset).ok()?;
        let end = start.checked_add(d.length as usize)?;
        self.map.stable_slice(end).and_then(|s| s.get(start..end))
    }
}

/// A region handle (the fd that created it).
#[derive(Debug)]
pub struct Region {
    fd: OwnedFd,
    policy: RegionPolicy,
    map: Mapping,
}

impl Region {
    /// Creates a region. `OutOfMemory` over the module's per-region or per-user limits.
    pub fn create(policy: RegionPolicy) -> Result<Self> {
        let mut c = KringRegionCreate { policy: 0, flags: 0, size: 0, max_size: 0, slot_size: 0, slot_count: 0 };
        match policy {
            RegionPolicy::Immutable { size } => {
                c.policy = KRING_REGION_IMMUTABLE;
                c.size = size;
            }
            RegionPolicy::AppendOnly { max_size } => {
                c.policy = KRING_REGION_APPEND_ONLY;
                c.max_size = max_size;
            }
            RegionPolicy::Slab { slot_size, slot_count } => {
                c.policy = KRING_REGION_SLAB;
                c.slot_size = slot_size;
                c.slot_count = slot_count;
            }
        }
        let path = std::path::Path::new(DEVICE_PATH);
        let fd = sys::open(path).map_err(|e| Error::from_open(e, path))?;
        sys::region_create(fd.as_fd(), c).map_err(|e| rerr("region create", e))?;
        let info = sys::region_info(fd.as_fd()).map_err(|e| rerr("region info", e))?;
        let writable = policy_is_slab(&policy);
        let map = Mapping::new(fd.as_fd(), KRING_OFF_REGION, info.size as usize, writable)
            .map_err(|e| rerr("region mmap", e))?;
        Ok(Self { fd, policy, map })
    }

    /// The policy the region was created with.
    pub fn policy(&self) -> RegionPolicy {
        self.policy
    }

    /// The kernel's view: id, generation, size, committed length, sealed.
    pub fn info(&self) -> Result<KringRegionInfo> {
        sys::region_info(self.fd.as_fd()).map_err(|e| rerr("region info", e))
    }

    /// Writes `data` at `offset` (unsealed Immutable, or Slab). `RegionNotWritable` otherwise.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        let len = u32::try_from(data.len()).map_err(|_| Error::InvalidArgument { op: "region write" })?;
        let w = KringRegionWrite { offset, addr: data.as_ptr() as u64, len, flags: 0 };
        sys::region_write(self.fd.as_fd(), w).map_err(|e| rerr("region write", e))
    }

    /// Appends `data` (AppendOnly); returns the committed length after it. `RegionFull` past
    /// `max_size`.
    pub fn append(&self, data: &[u8]) -> Result<u64> {
        let len = u32::try_from(data.len()).map_err(|_| Error::RegionFull)?;
        let a = KringRegionAppend { addr: data.as_ptr() as u64, len, flags: 0, committed: 0 };
        sys::region_append(self.fd.as_fd(), a).map_err(|e| rerr("region append", e))
    }

    /// Seals an Immutable region: from now on nobody can change its bytes.
    pub fn seal(&self) -> Result<()> {
        sys::region_seal(self.fd.as_fd()).map_err(|e| rerr("region seal", e))
    }

    /// The bytes that can no longer change, borrowed from the read-only mapping without a copy:
    /// a sealed Immutable region's whole content, or an AppendOnly region's committed prefix.
    /// `None` for an unsealed Immutable region and for Slab regions (their bytes may change;
    /// use [`Region::read`]).
    pub fn stable_bytes(&self) -> Result<Option<&[u8]>> {
        let info = self.info()?;
        let len = match self.policy {
            RegionPolicy::Immutable { .. } if info.flags & KRING_REGION_SEALED != 0 => info.size,
            RegionPolicy::AppendOnly { .. } => info.committed,
            _ => return Ok(None),
        };
        let len = usize::try_from(len).map_err(|_| Error::CorruptRing)?;
        Ok(self.map.stable_slice(len))
    }

    /// Copies bytes at `offset` out of the region (any policy).
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let off = usize::try_from(offset).map_err(|_| Error::InvalidArgument { op: "region read" })?;
        self.map.copy_out(off, buf).ok_or(Error::InvalidArgument { op: "region read" })
    }

    /// Copies `data` into a Slab region at `offset` through the writable mapping (no system
    /// call). `RegionNotWritable` for other policies.
    pub fn write_mapped(&self, offset: u64, data: &[u8]) -> Result<()> {
        if !policy_is_slab(&self.policy) {
            return Err(Error::RegionNotWritable);
        }
        let off = usize::try_from(offset).map_err(|_| Error::InvalidArgument { op: "region write" })?;
        self.map.copy_in(off, data).ok_or(Error::InvalidArgument { op: "region write" })
    }
}

fn policy_is_slab(p: &RegionPolicy) -> bool {
    matches!(p, RegionPolicy::Slab { .. })
}

impl AsFd for Region {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
impl AsRawFd for Region {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
