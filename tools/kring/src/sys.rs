// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The crate's only `unsafe` code: kring's ioctls through `rustix`, and shared mappings.
//! Everything above this module is safe Rust.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use rustix::fs::{Mode, OFlags};
use rustix::io::Result;
use rustix::ioctl::{ioctl, Getter, NoArg, Setter, Updater};
use rustix::mm::{MapFlags, ProtFlags};

use crate::uapi::*;

/// Opens the kring device read-write, close-on-exec.
pub(crate) fn open(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
}

// SAFETY (for every ioctl below): each opcode is the `_IOR`/`_IOW`/`_IOWR`/`_IO` of exactly the
// argument type passed with it (the C header test and the module's compile-time asserts prove
// the numbers), all argument types are `#[repr(C)]` plain integers valid for any bytes, and the
// kernel reads/writes exactly `size_of` bytes through the pointer rustix passes. On a file that
// is not kring the opcode is unknown and the call fails without touching memory.

/// `KRING_IOC_VERSION`.
pub(crate) fn version(fd: BorrowedFd<'_>) -> Result<KringVersion> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Getter::<{ KRING_IOC_VERSION }, KringVersion>::new()) }
}

/// `KRING_IOC_CREATE`.
pub(crate) fn create(fd: BorrowedFd<'_>, arg: KringCreate) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_CREATE }, KringCreate>::new(arg)) }
}

/// `KRING_IOC_OPEN`.
pub(crate) fn open_queue(fd: BorrowedFd<'_>, arg: KringOpen) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_OPEN }, KringOpen>::new(arg)) }
}

/// `KRING_IOC_UNLINK`.
pub(crate) fn unlink(fd: BorrowedFd<'_>, arg: KringUnlink) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_UNLINK }, KringUnlink>::new(arg)) }
}

/// `KRING_IOC_INFO`.
pub(crate) fn info(fd: BorrowedFd<'_>) -> Result<KringInfo> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Getter::<{ KRING_IOC_INFO }, KringInfo>::new()) }
}

/// `KRING_IOC_SEND`. `arg.addr` must point to `arg.len` readable bytes (the kernel checks, and
/// fails with `EFAULT` otherwise; it never writes there).
pub(crate) fn send(fd: BorrowedFd<'_>, arg: KringSend) -> Result<()> {
    // SAFETY: see above; the payload pointer is only read by the kernel, with checks.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_SEND }, KringSend>::new(arg)) }
}

/// `KRING_IOC_RECV`: `buf` receives the payload; `arg` is updated with the message's
/// description (also when the call fails with `EOVERFLOW`).
pub(crate) fn recv(fd: BorrowedFd<'_>, arg: &mut KringRecv, buf: &mut [u8]) -> Result<()> {
    arg.addr = buf.as_mut_ptr() as u64;
    arg.len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    // SAFETY: see above; the kernel writes at most `arg.len` bytes into `buf`, which we
    // borrow mutably for the call.
    unsafe { ioctl(fd, Updater::<{ KRING_IOC_RECV }, KringRecv>::new(arg)) }
}

/// `KRING_IOC_ENTER`: returns the number of entries accepted.
pub(crate) fn enter(fd: BorrowedFd<'_>, arg: &mut KringEnter) -> Result<u32> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Updater::<{ KRING_IOC_ENTER }, KringEnter>::new(arg)) }?;
    Ok(arg.submitted)
}

/// `KRING_IOC_WAIT`.
pub(crate) fn wait(fd: BorrowedFd<'_>, arg: KringWait) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_WAIT }, KringWait>::new(arg)) }
}

/// `KRING_IOC_NOTIFY`.
pub(crate) fn notify(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: see above; no argument.
    unsafe { ioctl(fd, NoArg::<{ KRING_IOC_NOTIFY }>::new()) }
}

/// `KRING_IOC_REGION_CREATE`.
pub(crate) fn region_create(fd: BorrowedFd<'_>, arg: KringRegionCreate) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_REGION_CREATE }, KringRegionCreate>::new(arg)) }
}

/// `KRING_IOC_REGION_INFO`.
pub(crate) fn region_info(fd: BorrowedFd<'_>) -> Result<KringRegionInfo> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Getter::<{ KRING_IOC_REGION_INFO }, KringRegionInfo>::new()) }
}

/// `KRING_IOC_REGION_WRITE`. `arg.addr` must point to `arg.len` readable bytes (the kernel
/// checks and only reads).
pub(crate) fn region_write(fd: BorrowedFd<'_>, arg: KringRegionWrite) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_REGION_WRITE }, KringRegionWrite>::new(arg)) }
}

/// `KRING_IOC_REGION_APPEND`: returns the committed length.
pub(crate) fn region_append(fd: BorrowedFd<'_>, mut arg: KringRegionAppend) -> Result<u64> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Updater::<{ KRING_IOC_REGION_APPEND }, KringRegionAppend>::new(&mut arg)) }?;
    Ok(arg.committed)
}

/// `KRING_IOC_REGION_SEAL`.
pub(crate) fn region_seal(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: see above; no argument.
    unsafe { ioctl(fd, NoArg::<{ KRING_IOC_REGION_SEAL }>::new()) }
}

/// `KRING_IOC_SEND_DESC`.
pub(crate) fn send_desc(fd: BorrowedFd<'_>, arg: KringSendDesc) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_SEND_DESC }, KringSendDesc>::new(arg)) }
}

/// `KRING_IOC_REGION_OPEN`.
pub(crate) fn region_open(fd: BorrowedFd<'_>, arg: KringRegionOpen) -> Result<()> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Setter::<{ KRING_IOC_REGION_OPEN }, KringRegionOpen>::new(arg)) }
}

/// `KRING_IOC_SCHEMA_REGISTER`: returns `(id, min_size)`. The kernel only reads `prog`.
pub(crate) fn schema_register(fd: BorrowedFd<'_>, prog: &[u8]) -> Result<(u32, u32)> {
    let mut arg = KringSchemaRegister {
        addr: prog.as_ptr() as u64,
        len: u32::try_from(prog.len()).unwrap_or(u32::MAX),
        flags: 0,
        id: 0,
        min_size: 0,
    };
    // SAFETY: see above; the kernel reads at most `arg.len` bytes at `arg.addr`, which is
    // `prog`, borrowed for the call.
    unsafe { ioctl(fd, Updater::<{ KRING_IOC_SCHEMA_REGISTER }, KringSchemaRegister>::new(&mut arg)) }?;
    Ok((arg.id, arg.min_size))
}

/// `KRING_IOC_SCHEMA_ERROR`.
pub(crate) fn schema_error(fd: BorrowedFd<'_>) -> Result<KringSchemaError> {
    // SAFETY: see above.
    unsafe { ioctl(fd, Getter::<{ KRING_IOC_SCHEMA_ERROR }, KringSchemaError>::new()) }
}

/// A shared mapping of one area of a queue fd, unmapped on drop.
///
/// # Invariants
///
/// `ptr..ptr+len` is a live `MAP_SHARED` mapping owned by this value.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all access goes through atomics or volatile
// copies, never references, so it can be used and unmapped from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes at `offset` of `fd`, read-only or read-write.
    pub(crate) fn new(fd: BorrowedFd<'_>, offset: u64, len: usize, writable: bool) -> Result<Self> {
        let prot = if writable { ProtFlags::READ | ProtFlags::WRITE } else { ProtFlags::READ };
        // SAFETY: a fresh mapping at an address chosen by the kernel; it aliases no Rust object.
        let p = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, offset) }?;
        // INVARIANT: mmap succeeded, so `p..p+len` is our new mapping (never NULL on success).
        Ok(Self { ptr: NonNull::new(p.cast()).ok_or(rustix::io::Errno::NOMEM)?, len })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn check<T>(&self, off: usize) -> Option<*mut T> {
        let end = off.checked_add(std::mem::size_of::<T>())?;
        if end > self.len || !off.is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        // SAFETY: in bounds, by the check above.
        Some(unsafe { self.ptr.as_ptr().add(off) }.cast())
    }

    /// The `u32` at `off` as an atomic; `None` if out of bounds or misaligned.
    pub(crate) fn atomic_u32(&self, off: usize) -> Option<&AtomicU32> {
        let p = self.check::<u32>(off)?;
        // SAFETY: aligned, in bounds, valid while `self` lives; shared words are only ever
        // accessed atomically (kernel and user space).
        Some(unsafe { AtomicU32::from_ptr(p) })
    }

    /// The `u64` at `off` as an atomic; `None` if out of bounds or misaligned.
    pub(crate) fn atomic_u64(&self, off: usize) -> Option<&AtomicU64> {
        let p = self.check::<u64>(off)?;
        // SAFETY: as in `atomic_u32`.
        Some(unsafe { AtomicU64::from_ptr(p) })
    }

    /// A snapshot of the plain-integer struct `T` at `off`.
    pub(crate) fn read<T: Copy + crate::Plain>(&self, off: usize) -> Option<T> {
        let p = self.check::<T>(off)?;
        // SAFETY: in bounds and aligned; `T: Plain` is valid for any bytes, so a concurrent
        // writer can only produce another valid value.
        Some(unsafe { p.read_volatile() })
    }

    /// Writes the plain-integer struct `T` at `off`.
    pub(crate) fn write<T: Copy + crate::Plain>(&self, off: usize, v: T) -> Option<()> {
        let p = self.check::<T>(off)?;
        // SAFETY: in bounds and aligned; a volatile write creates no reference.
        unsafe { p.write_volatile(v) };
        Some(())
    }

    /// Copies `dst.len()` bytes from `off` into `dst`; `None` if out of bounds.
    pub(crate) fn copy_out(&self, off: usize, dst: &mut [u8]) -> Option<()> {
        let end = off.checked_add(dst.len())?;
        if end > self.len {
            return None;
        }
        // SAFETY: the source range is inside the mapping and cannot overlap `dst`, a Rust
        // buffer; no reference to the shared bytes is created.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(off), dst.as_mut_ptr(), dst.len()) };
        Some(())
    }

    /// The first `len` bytes as a slice. Only for bytes that can never change again while the
    /// mapping lives (sealed Immutable regions, AppendOnly committed prefixes): the kernel then
    /// guarantees that no one, kernel or user space, writes them.
    pub(crate) fn stable_slice(&self, len: usize) -> Option<&[u8]> {
        if len > self.len {
            return None;
        }
        // SAFETY: in bounds; by the caller's contract the bytes are immutable for the lifetime
        // of `&self` (the mapping stays mapped that long), so a shared slice is sound.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len) })
    }

    /// Copies `src` into the mapping at `off`; `None` if out of bounds.
    pub(crate) fn copy_in(&self, off: usize, src: &[u8]) -> Option<()> {
        let end = off.checked_add(src.len())?;
        if end > self.len {
            return None;
        }
        // SAFETY: as in `copy_out`, in the other direction.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(off), src.len()) };
        Some(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: by the invariant this is our live mapping; nothing refers to it after drop.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
