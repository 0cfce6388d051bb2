// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Named errors. Every errno the module returns on purpose maps to its own variant here;
//! anything else is kept, with the operation that failed, in [`Error::Os`].

use std::fmt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;

/// What went wrong talking to kring.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// There is no kring device at `path`: the module is not loaded (`ENOENT`, `ENODEV`, `ENXIO`).
    ModuleNotLoaded {
        /// The device path that was tried.
        path: PathBuf,
    },
    /// The caller may not open `path` (`EACCES`, `EPERM`).
    PermissionDenied {
        /// The device path that was tried.
        path: PathBuf,
    },
    /// The file answers like another device, not kring (`ENOTTY` on a kring ioctl).
    NotKring {
        /// The ioctl that was refused.
        op: &'static str,
    },
    /// The module speaks an ABI this library does not understand.
    AbiMismatch {
        /// ABI major of the running module.
        module_major: u32,
        /// ABI minor of the running module.
        module_minor: u32,
        /// ABI major this library was built for.
        library_major: u32,
        /// ABI minor this library was built for.
        library_minor: u32,
    },
    /// The module rejected an argument (`EINVAL`).
    InvalidArgument {
        /// The operation that was refused.
        op: &'static str,
    },
    /// A user buffer could not be read or written (`EFAULT`).
    BadAddress {
        /// The operation that failed.
        op: &'static str,
    },
    /// Any other operating-system error.
    Os {
        /// The operation that failed.
        op: &'static str,
        /// The error number.
        errno: Errno,
    },
}

impl Error {
    pub(crate) fn from_open(errno: Errno, path: &Path) -> Self {
        let path = path.to_path_buf();
        match errno {
            Errno::NOENT | Errno::NODEV | Errno::NXIO => Error::ModuleNotLoaded { path },
            Errno::ACCESS | Errno::PERM => Error::PermissionDenied { path },
            errno => Error::Os { op: "open", errno },
        }
    }

    pub(crate) fn from_ioctl(errno: Errno, op: &'static str) -> Self {
        match errno {
            Errno::NOTTY => Error::NotKring { op },
            Errno::INVAL => Error::InvalidArgument { op },
            Errno::FAULT => Error::BadAddress { op },
            errno => Error::Os { op, errno },
        }
    }

    /// The raw error number behind this error, if it came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::ModuleNotLoaded { .. } => Some(Errno::NOENT.raw_os_error()),
            Error::PermissionDenied { .. } => Some(Errno::ACCESS.raw_os_error()),
            Error::NotKring { .. } => Some(Errno::NOTTY.raw_os_error()),
            Error::InvalidArgument { .. } => Some(Errno::INVAL.raw_os_error()),
            Error::BadAddress { .. } => Some(Errno::FAULT.raw_os_error()),
            Error::Os { errno, .. } => Some(errno.raw_os_error()),
            Error::AbiMismatch { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ModuleNotLoaded { path } => write!(
                f,
                "no kring device at {}: is the kring module loaded? (insmod kring.ko)",
                path.display()
            ),
            Error::PermissionDenied { path } => write!(f, "permission denied opening {}", path.display()),
            Error::NotKring { op } => write!(f, "{op}: the file is not a kring device"),
            Error::AbiMismatch { module_major, module_minor, library_major, library_minor } => write!(
                f,
                "kring module speaks ABI {module_major}.{module_minor}, this library needs \
                 {library_major}.{library_minor} or a later minor"
            ),
            Error::InvalidArgument { op } => write!(f, "{op}: invalid argument"),
            Error::BadAddress { op } => write!(f, "{op}: bad user address"),
            Error::Os { op, errno } => write!(f, "{op}: {errno}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e.errno() {
            Some(n) => std::io::Error::new(std::io::Error::from_raw_os_error(n).kind(), e),
            None => std::io::Error::other(e),
        }
    }
}
