// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The crate's only `unsafe` code: thin wrappers around kring's ioctls through `rustix`.
//! Everything above this module is safe Rust.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Result;
use rustix::ioctl::{ioctl, Getter};

use crate::uapi::{KringVersion, KRING_IOC_VERSION};

/// Opens the kring device read-write, close-on-exec.
pub(crate) fn open(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
}

/// `KRING_IOC_VERSION`.
pub(crate) fn version(fd: BorrowedFd<'_>) -> Result<KringVersion> {
    // SAFETY: KRING_IOC_VERSION is `_IOR(KRING_IOC_MAGIC, 0, struct kring_version)`: the kernel
    // writes exactly one `KringVersion` (`#[repr(C)]`, plain integers, valid for any bytes) to
    // the pointer rustix passes, and reads nothing. On a device that is not kring the number is
    // unknown and the call fails (ENOTTY) without touching the buffer.
    unsafe { ioctl(fd, Getter::<{ KRING_IOC_VERSION }, KringVersion>::new()) }
}
