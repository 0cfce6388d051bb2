// SPDX-License-Identifier: GPL-2.0 OR MIT
//! kring user-space ABI: the Rust twin of `include/uapi/linux/kring.h`.
//!
//! This file is compiled twice: into the kernel module (`src/kring.rs`, `mod uapi;`) and into the
//! user-space helper crate (`tools/kring`, through `#[path]`). It must therefore use `core` only:
//! no `alloc`, no `std`, no `kernel` crate. Host tests (`cargo test`) check every constant and
//! layout here against the C header, and the module checks the ioctl numbers against the
//! kernel's own `_IOR`/`_IOW` at compile time.
//!
//! ABI rules (see `Documentation/uapi.rst`):
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
pub const KRING_ABI_MINOR: u32 = 0;
/// Feature bits reported in [`KringVersion::features`]. None yet.
pub const KRING_FEATURES: u64 = 0;

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
