// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Safe Rust API for **kring**, kernel-mediated priority queues exposed through `/dev/kring`.
//!
//! The ABI types and constants come from the very file the kernel module compiles
//! ([`uapi`], `src/uapi.rs` in the repository), so user space and kernel cannot drift apart.
//!
//! ```no_run
//! let kring = kring::Kring::open()?;
//! let v = kring.version()?;
//! println!("kring {} (ABI {}.{})", v.release, v.abi_major, v.abi_minor);
//! # Ok::<(), kring::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;
mod queue;
mod region;
pub mod schema;
mod sys;
mod typed;

/// The kring ABI shared with the kernel module (`src/uapi.rs`): structs, constants, ioctl numbers.
#[path = "../../../src/uapi.rs"]
pub mod uapi;

/// Queue geometry, ring index math and validation shared with the kernel module (`src/ring.rs`).
#[path = "../../../src/ring.rs"]
pub mod ring;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use error::Error;
pub use typed::RegisteredSchema;
pub use region::{MessageDescriptor, Region, RegionPolicy, RegionView};
pub use queue::{
    CreateOptions, KernelQueue, Message, MessageInfo, MsgPriority, PayloadKind, Queue, QueueConfig, Receiver, Sender,
};

/// Plain ABI structs: `#[repr(C)]`, integers only, no padding, valid for any bytes.
///
/// # Safety
///
/// Only for types that satisfy the above (checked by the layout asserts in `uapi`).
pub(crate) unsafe trait Plain {}
// SAFETY: all four are `#[repr(C)]` integer-only structs without padding (see `uapi`).
unsafe impl Plain for uapi::KringEntry {}
// SAFETY: as above.
unsafe impl Plain for uapi::KringSqe {}
// SAFETY: as above.
unsafe impl Plain for uapi::KringHeader {}
// SAFETY: as above.
unsafe impl Plain for uapi::KringConsumer {}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Default path of the kring device.
pub const DEVICE_PATH: &str = "/dev/kring";

/// The running module's version, as reported by `KRING_IOC_VERSION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Incompatible ABI revision of the module.
    pub abi_major: u32,
    /// Compatible ABI revision of the module.
    pub abi_minor: u32,
    /// Feature bits (`KRING_FEAT_*`).
    pub features: u64,
    /// Module release, e.g. `"0.1.0"`.
    pub release: String,
}

impl Version {
    /// Whether this library can talk to a module of this version: same major, and a minor at
    /// least as new as the one the library was built against.
    pub fn is_compatible(&self) -> bool {
        self.abi_major == uapi::KRING_ABI_MAJOR && self.abi_minor >= uapi::KRING_ABI_MINOR
    }
}

impl From<uapi::KringVersion> for Version {
    fn from(v: uapi::KringVersion) -> Self {
        Self {
            abi_major: v.abi_major,
            abi_minor: v.abi_minor,
            features: v.features,
            release: String::from_utf8_lossy(v.release_bytes()).into_owned(),
        }
    }
}

/// An open handle on the kring device.
#[derive(Debug)]
pub struct Kring {
    fd: OwnedFd,
    path: PathBuf,
}

impl Kring {
    /// Opens [`DEVICE_PATH`] and checks that the module speaks an ABI this library understands.
    pub fn open() -> Result<Self> {
        Self::open_path(DEVICE_PATH)
    }

    /// Opens the kring device at `path` and checks its ABI version.
    ///
    /// Fails with [`Error::ModuleNotLoaded`] if there is no kring device at `path`,
    /// [`Error::PermissionDenied`] if the caller may not open it, [`Error::NotKring`] if the file
    /// is some other device, and [`Error::AbiMismatch`] if the module is incompatible.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let fd = sys::open(&path).map_err(|e| Error::from_open(e, &path))?;
        let kring = Self { fd, path };
        let v = kring.version()?;
        if !v.is_compatible() {
            return Err(Error::AbiMismatch {
                module_major: v.abi_major,
                module_minor: v.abi_minor,
                library_major: uapi::KRING_ABI_MAJOR,
                library_minor: uapi::KRING_ABI_MINOR,
            });
        }
        Ok(kring)
    }

    /// Reads the module's ABI version and release (`KRING_IOC_VERSION`).
    pub fn version(&self) -> Result<Version> {
        sys::version(self.fd.as_fd())
            .map(Version::from)
            .map_err(|e| Error::from_ioctl(e, "KRING_IOC_VERSION"))
    }

    /// The path this handle was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsFd for Kring {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_matches_workspace_version() {
        assert_eq!(uapi::KRING_RELEASE, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn version_from_abi_struct() {
        let v = Version::from(uapi::KringVersion::current(b"1.2.3"));
        assert_eq!(v.release, "1.2.3");
        assert_eq!((v.abi_major, v.abi_minor), (uapi::KRING_ABI_MAJOR, uapi::KRING_ABI_MINOR));
        assert!(v.is_compatible());
    }

    #[test]
    fn version_compatibility_rules() {
        let base = Version::from(uapi::KringVersion::current(b"x"));
        let newer_minor = Version { abi_minor: base.abi_minor + 1, ..base.clone() };
        assert!(newer_minor.is_compatible());
        let other_major = Version { abi_major: base.abi_major + 1, ..base.clone() };
        assert!(!other_major.is_compatible());
        if base.abi_minor > 0 {
            let older_minor = Version { abi_minor: base.abi_minor - 1, ..base };
            assert!(!older_minor.is_compatible());
        }
    }

    #[test]
    fn release_without_nul_is_bounded() {
        // A release that fills the whole field (no NUL from the kernel) must not over-read.
        let mut raw = uapi::KringVersion::zeroed();
        raw.release = [b'a'; uapi::KRING_RELEASE_LEN];
        assert_eq!(raw.release_bytes().len(), uapi::KRING_RELEASE_LEN);
        let long = [b'b'; 100];
        let v = uapi::KringVersion::current(&long);
        assert_eq!(v.release_bytes().len(), uapi::KRING_RELEASE_LEN - 1);
    }

    #[test]
    fn ioctl_encoding_matches_linux_generic() {
        // _IOR(0xBB, 0, 48 bytes) on the generic encoding, computed by hand.
        let expected = (2u32 << 30) | (48 << 16) | (0xBB << 8);
        assert_eq!(uapi::KRING_IOC_VERSION, expected);
        assert_eq!(uapi::ioctl::size(uapi::KRING_IOC_VERSION), 48);
    }

    #[test]
    fn open_missing_device_is_named() {
        let err = Kring::open_path("/nonexistent/kring").unwrap_err();
        assert!(matches!(err, Error::ModuleNotLoaded { .. }), "{err:?}");
    }

    #[test]
    fn open_non_kring_file_is_named() {
        // /dev/null answers ENOTTY to our ioctl: it must be reported as "not a kring device".
        let err = Kring::open_path("/dev/null").unwrap_err();
        assert!(matches!(err, Error::NotKring { .. }), "{err:?}");
    }
}
