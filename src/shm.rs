// SPDX-License-Identifier: GPL-2.0
//! Shared memory glue: zeroed, memcg-charged vmalloc areas that are mapped into user space.
//!
//! User space may read (and, for some areas, write) this memory at any time through its
//! mappings, so the kernel never creates a Rust reference to it except where noted below, and
//! every access goes through a bounds- and alignment-checked raw pointer: atomics for indices,
//! volatile snapshots for structures user space can write (the caller validates the copy), and
//! byte copies for payloads. All `unsafe` for shared memory lives in this file.

use core::{alloc::Layout, ptr::NonNull};

use kernel::{
    alloc::{
        allocator::Vmalloc,
        flags::{GFP_KERNEL_ACCOUNT, __GFP_ZERO},
        Allocator,
        NumaNode, //
    },
    mm::virt::VmaMixedMap,
    page::PAGE_SIZE,
    prelude::*,
    sync::atomic::Atomic,
    transmute::FromBytes, //
};

/// A page-aligned, zero-filled vmalloc area of `len` bytes (a multiple of `PAGE_SIZE`),
/// charged to the memory cgroup of the task that allocated it.
///
/// # Invariants
///
/// `ptr` is a live `Vmalloc` allocation of `len` bytes with `PAGE_SIZE` alignment, owned by
/// this value and freed in `drop`.
pub(crate) struct SharedMem {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the area is plain memory; all access goes through raw pointers and atomics, so it may
// be used and freed from any thread.
unsafe impl Send for SharedMem {}
// SAFETY: as above; `&self` methods only perform raw, checked accesses.
unsafe impl Sync for SharedMem {}

impl SharedMem {
    fn layout(len: usize) -> Result<Layout> {
        Layout::from_size_align(len, PAGE_SIZE).map_err(|_| EINVAL)
    }

    /// Allocates `len` bytes (rounded up to whole pages, at least one page).
    pub(crate) fn new(len: usize) -> Result<Self> {
        let len = kernel::page::page_align(core::cmp::max(len, 1)).ok_or(ENOMEM)?;
        let layout = Self::layout(len)?;
        let mem = Vmalloc::alloc(layout, GFP_KERNEL_ACCOUNT | __GFP_ZERO, NumaNode::NO_NODE)?;
        // INVARIANT: a fresh Vmalloc allocation of `len` bytes, page aligned (MIN_ALIGN).
        Ok(Self {
            ptr: mem.cast::<u8>(),
            len,
        })
    }

    /// Size in bytes (whole pages).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A pointer to a `T` at byte offset `off`, checked to lie inside the area and be aligned.
    fn ptr_at<T>(&self, off: usize) -> Result<*mut T> {
        let end = off.checked_add(core::mem::size_of::<T>()).ok_or(EINVAL)?;
        if end > self.len || off % core::mem::align_of::<T>() != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `off + size_of::<T>() <= len`, so the result stays inside the allocation.
        Ok(unsafe { self.ptr.as_ptr().add(off) }.cast::<T>())
    }

    /// A pointer to `n` bytes at `off`, checked to lie inside the area.
    fn bytes_at(&self, off: usize, n: usize) -> Result<*mut u8> {
        let end = off.checked_add(n).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        // SAFETY: `off + n <= len`, inside the allocation.
        Ok(unsafe { self.ptr.as_ptr().add(off) })
    }

    /// The `u32` at `off` as an atomic (for indices shared with user space).
    pub(crate) fn atomic_u32(&self, off: usize) -> Result<&Atomic<u32>> {
        let p = self.ptr_at::<u32>(off)?;
        // SAFETY: `p` is aligned and valid for the lifetime of `&self`; every access to this
        // word, by the kernel and (by contract) user space, is atomic.
        Ok(unsafe { Atomic::from_ptr(p) })
    }

    /// The `u64` at `off` as an atomic (for counters shared with user space).
    pub(crate) fn atomic_u64(&self, off: usize) -> Result<&Atomic<u64>> {
        let p = self.ptr_at::<u64>(off)?;
        // SAFETY: as in `atomic_u32`.
        Ok(unsafe { Atomic::from_ptr(p) })
    }

    /// Writes `val` at `off` (a structure user space only reads).
    pub(crate) fn write<T: Copy>(&self, off: usize, val: T) -> Result {
        let p = self.ptr_at::<T>(off)?;
        // SAFETY: `p` is valid and aligned for a `T`; a volatile write creates no reference.
        unsafe { p.write_volatile(val) };
        Ok(())
    }

    /// Reads a snapshot of the `T` at `off`, which user space may be changing concurrently.
    /// Any bit pattern is a valid `T` (`FromBytes`); the caller validates the copy and never
    /// reads the shared one again.
    pub(crate) fn read<T: Copy + FromBytes>(&self, off: usize) -> Result<T> {
        let p = self.ptr_at::<T>(off)?;
        // SAFETY: `p` is valid and aligned; a racing writer can only produce another bit
        // pattern, which `FromBytes` makes valid.
        Ok(unsafe { p.read_volatile() })
    }

    /// Copies `src` into the area at `off` (checked to lie inside it).
    ///
    /// # Safety
    ///
    /// User space must have no writable mapping of these bytes (payload slots), and the caller
    /// must hold the lock that serialises every kernel writer of them (`Queue::inner`).
    pub(crate) unsafe fn write_bytes(&self, off: usize, src: &[u8]) -> Result {
        let p = self.bytes_at(off, src.len())?;
        // SAFETY: `p..p+len` is inside the allocation and distinct from `src`, a kernel buffer;
        // no reference to the shared bytes is created.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
        Ok(())
    }

    /// Copies `dst.len()` bytes at `off` into `dst`.
    ///
    /// # Safety
    ///
    /// As for [`Self::write_bytes`]: the bytes must not be changing (no user writer, and the
    /// caller holds the lock of the kernel writers).
    pub(crate) unsafe fn read_bytes(&self, off: usize, dst: &mut [u8]) -> Result {
        let p = self.bytes_at(off, dst.len())?;
        // SAFETY: inside the allocation, stable under the caller's lock, distinct from `dst`.
        unsafe { core::ptr::copy_nonoverlapping(p.cast_const(), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// The `len` bytes at `off` (checked to lie inside the area) as a slice.
    ///
    /// # Safety
    ///
    /// Nothing may write these bytes while the slice lives: user space has no writable mapping
    /// of them, and no kernel writer runs (the caller holds the writers' lock, or the bytes are
    /// final, like a sealed region's).
    pub(crate) unsafe fn slice(&self, off: usize, len: usize) -> Result<&[u8]> {
        let p = self.bytes_at(off, len)?;
        // SAFETY: inside the allocation, initialised (zeroed at allocation), and unchanging for
        // the borrow by the caller's guarantee.
        Ok(unsafe { core::slice::from_raw_parts(p.cast_const(), len) })
    }

    /// Copies `dst.len()` bytes at `off` (which user space may be writing) into `dst`, kernel
    /// memory. A racing user write only changes which bytes are copied; the caller validates
    /// the copy and never the shared bytes.
    pub(crate) fn copy_out(&self, off: usize, dst: &mut [u8]) -> Result {
        let s = self.bytes_at(off, dst.len())?;
        // SAFETY: the source range is inside the allocation and `dst` is a distinct kernel
        // buffer; no reference to the shared bytes is created.
        unsafe { core::ptr::copy_nonoverlapping(s.cast_const(), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Copies `len` bytes from `src` at `src_off` (which user space may be writing) into this
    /// area at `off` (which user space cannot write).
    pub(crate) fn copy_from(&self, off: usize, src: &SharedMem, src_off: usize, len: usize) -> Result {
        let d = self.bytes_at(off, len)?;
        let s = src.bytes_at(src_off, len)?;
        // SAFETY: both ranges are inside their allocations and the areas are distinct
        // allocations, so they do not overlap. No reference is created: a concurrent user write
        // to the source only changes which bytes are copied.
        unsafe { core::ptr::copy_nonoverlapping(s.cast_const(), d, len) };
        Ok(())
    }

    /// Inserts the first `len` bytes (whole pages) of the area into `vma` at its start.
    pub(crate) fn map(&self, vma: &VmaMixedMap, len: usize) -> Result {
        if len == 0 || len > self.len || len % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        for i in 0..len / PAGE_SIZE {
            let p = self.bytes_at(i * PAGE_SIZE, PAGE_SIZE)?;
            // SAFETY: `p` is a page-aligned address inside this live Vmalloc allocation, which
            // outlives the borrowed page (used only for this call).
            let page = unsafe { Vmalloc::to_page(NonNull::new_unchecked(p)) };
            vma.vm_insert_page(vma.start() + i * PAGE_SIZE, &page)?;
        }
        Ok(())
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        if let Ok(layout) = Self::layout(self.len) {
            // SAFETY: by the type invariant `ptr` is our live Vmalloc allocation with this
            // layout; it is freed exactly once. Pages still mapped into user space keep their
            // own references and are released when unmapped.
            unsafe { Vmalloc::free(self.ptr, layout) };
        }
    }
}
