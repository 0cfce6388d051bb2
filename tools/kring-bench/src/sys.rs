// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Every `unsafe` of the benchmark, each in a small function with its `SAFETY` argument:
//! `fork`/`_exit`, shared anonymous memory, POSIX message queues. Everything else goes
//! through rustix's safe wrappers.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};
use std::time::Duration;

use rustix::thread::futex;

/// `CLOCK_MONOTONIC` in nanoseconds: comparable between the processes of one run.
pub fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Threads of this process (from `/proc/self/task`).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count())
}

/// `fork(2)`: `Ok(None)` in the child, `Ok(Some(pid))` in the parent. Refuses to fork a
/// multi-threaded process (the child would inherit locks held by threads that do not exist);
/// unit tests, which run on the test harness's threads, are let through (glibc's `fork` keeps
/// its allocator usable in the child, and the tests' children print nothing).
pub fn fork() -> io::Result<Option<rustix::process::Pid>> {
    if !cfg!(test) && thread_count() != 1 {
        return Err(io::Error::other(
            "refusing to fork a multi-threaded process",
        ));
    }
    // SAFETY: the process has a single thread (checked above; in unit tests see the doc), so no
    // lock can be held by a thread that is missing in the child; the child runs its body and
    // ends in `exit_now`.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(rustix::process::Pid::from_raw(p)),
    }
}

/// `_exit(2)`: ends a forked child without running the parent's destructors or flushing
/// buffers it inherited.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// Waits while `*word == val`, up to `timeout` (`None`: until woken). Shared (not
/// process-private), so it works on `MAP_SHARED` memory across `fork`.
pub fn futex_wait(word: &AtomicU32, val: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| rustix::time::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos() as i64,
    });
    // EAGAIN (value changed), EINTR and ETIMEDOUT all mean "look again".
    let _ = futex::wait(word, futex::Flags::empty(), val, ts.as_ref());
}

/// Wakes up to `n` waiters on `word`.
pub fn futex_wake(word: &AtomicU32, n: u32) {
    let _ = futex::wake(word, futex::Flags::empty(), n);
}

/// Anonymous `MAP_SHARED` memory: after `fork` parent and children see the same bytes.
/// Zero-filled; unmapped on drop (in each process for its own copy of the mapping).
#[derive(Debug)]
pub struct SharedMem {
    ptr: NonNull<u8>,
    len: usize,
}

impl SharedMem {
    /// Maps `len` bytes (rounded up to pages by the kernel).
    pub fn new(len: usize) -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses: it aliases
        // nothing in this process.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Self { ptr, len })
    }

    fn check(&self, off: usize, len: usize, align: usize) -> usize {
        let end = off
            .checked_add(len)
            .expect("shared memory offset overflows");
        assert!(
            end <= self.len && off.is_multiple_of(align),
            "shared memory access {off}+{len} outside {} or misaligned",
            self.len
        );
        off
    }

    /// The 32-bit atomic at `off` (4-aligned, in bounds: panics otherwise).
    pub fn atomic_u32(&self, off: usize) -> &AtomicU32 {
        let off = self.check(off, 4, 4);
        // SAFETY: in bounds and aligned (checked); the mapping lives as long as `&self`;
        // `AtomicU32` has the layout of `u32` and every process touches these words only
        // through atomics, so there is no non-atomic access to race with.
        unsafe { &*self.ptr.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// The 64-bit atomic at `off` (8-aligned, in bounds).
    pub fn atomic_u64(&self, off: usize) -> &AtomicU64 {
        let off = self.check(off, 8, 8);
        // SAFETY: as in `atomic_u32`.
        unsafe { &*self.ptr.as_ptr().add(off).cast::<AtomicU64>() }
    }

    /// The byte at `off`, as an atomic.
    pub fn atomic_u8(&self, off: usize) -> &AtomicU8 {
        let off = self.check(off, 1, 1);
        // SAFETY: as in `atomic_u32`.
        unsafe { &*self.ptr.as_ptr().add(off).cast::<AtomicU8>() }
    }

    /// Writes every byte once so that the pages exist before anything is timed.
    pub fn prefault(&self) {
        for off in (0..self.len).step_by(4096) {
            self.atomic_u8(off)
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Borrows `len` bytes at `off`.
    ///
    /// # Safety
    ///
    /// No process may write these bytes while the slice lives (the caller's protocol gives it
    /// exclusive ownership of them, e.g. a ring slot between head and tail).
    pub unsafe fn bytes(&self, off: usize, len: usize) -> &[u8] {
        let off = self.check(off, len, 1);
        // SAFETY: in bounds, mapped while `&self` lives; no concurrent writer by the contract.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(off), len) }
    }

    /// Copies `data` to `off`.
    ///
    /// # Safety
    ///
    /// No process may read or write these bytes meanwhile (the caller's protocol gives it
    /// exclusive ownership of them, e.g. a free ring slot).
    pub unsafe fn write(&self, off: usize, data: &[u8]) {
        let off = self.check(off, data.len(), 1);
        // SAFETY: in bounds (checked), `data` cannot overlap the destination (nothing in this
        // process borrows it: the contract), no concurrent access by the contract.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(off), data.len())
        }
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; nothing borrows it any more (`&mut`).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the mapping is plain memory; all shared access goes through atomics or the
// `unsafe` methods whose contracts exclude races.
unsafe impl Send for SharedMem {}
// SAFETY: as above.
unsafe impl Sync for SharedMem {}

/// Creates a POSIX message queue (`O_CREAT | O_EXCL`, read-write) and unlinks its name at
/// once: the queue lives on through the returned descriptor (an fd on Linux), which `fork`
/// children inherit, and no name can leak.
pub fn mq_create_anonymous(name: &str, maxmsg: usize, msgsize: usize) -> io::Result<OwnedFd> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `mq_attr` is plain integers; all zero is a valid value before the fields are set.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    attr.mq_maxmsg = maxmsg as libc::c_long;
    attr.mq_msgsize = msgsize as libc::c_long;
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC;
    // SAFETY: `cname` is NUL-terminated; with O_CREAT the variadic arguments are the mode and
    // a pointer to a valid `mq_attr` that lives across the call.
    let mqd = unsafe {
        libc::mq_open(
            cname.as_ptr(),
            flags,
            0o600 as libc::mode_t,
            &attr as *const libc::mq_attr,
        )
    };
    if mqd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on Linux an `mqd_t` is a file descriptor that we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(mqd) };
    // SAFETY: `cname` is NUL-terminated.
    if unsafe { libc::mq_unlink(cname.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// `mq_send` (priority 0, blocking).
pub fn mq_send(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: `msg` is valid for `msg.len()` bytes; `fd` is a message queue descriptor.
        let r = unsafe { libc::mq_send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `mq_receive` into `buf` (at least the queue's `mq_msgsize`); returns the length.
pub fn mq_receive(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: `buf` is valid and writable for `buf.len()` bytes; a null priority pointer
        // is allowed.
        let r = unsafe {
            libc::mq_receive(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                std::ptr::null_mut(),
            )
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn shared_memory_is_zeroed_and_bounds_checked() {
        let m = SharedMem::new(8192).unwrap();
        assert_eq!(m.atomic_u64(8).load(Ordering::Relaxed), 0);
        m.atomic_u32(4096).store(7, Ordering::Relaxed);
        // SAFETY: nothing else uses this memory.
        unsafe { m.write(100, b"abc") };
        // SAFETY: as above.
        assert_eq!(unsafe { m.bytes(100, 3) }, b"abc");
        assert!(std::panic::catch_unwind(|| m.atomic_u32(8190).load(Ordering::Relaxed)).is_err());
    }
}
