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
    /// `QueueFull`: no room for the message (`ENOSPC`).
    QueueFull,
    /// `QueueEmpty`: no message is queued (`EAGAIN`).
    QueueEmpty,
    /// `MessageTooLarge`: the payload exceeds the queue's `max_msg_size` (`EMSGSIZE`).
    MessageTooLarge,
    /// `Timeout`: the wait ended before a message or room arrived (`ETIMEDOUT`).
    Timeout,
    /// `BufferTooSmall`: the next message needs `needed` bytes; it stays queued (`EOVERFLOW`).
    BufferTooSmall {
        /// Size of the next message.
        needed: usize,
    },
    /// `NotPermitted`: the queue's owner and mode do not allow this (`EACCES`).
    NotPermitted {
        /// The operation that was refused.
        op: &'static str,
    },
    /// `NotFound`: no queue has this name (`ENOENT`).
    NotFound,
    /// `AlreadyExists`: a queue already has this name (`EEXIST`).
    AlreadyExists,
    /// `OutOfMemory`: over the module's per-queue memory limit, or no memory (`ENOMEM`).
    OutOfMemory,
    /// `UserLimit`: the calling user already keeps as many queues, bytes, region bytes or
    /// schemas alive as the module allows one user (`max_user_*` parameters; `EDQUOT`).
    /// Other users are not affected; freeing something of this user's makes room.
    UserLimit,
    /// `ReceiverBusy`: the queue already has its one receiver (`EBUSY`).
    ReceiverBusy,
    /// `Disconnected`: the other side can no longer exist: the queue has no name and no peer
    /// fd (`EPIPE`).
    Disconnected,
    /// `Interrupted`: a signal arrived while waiting (`EINTR`).
    Interrupted,
    /// `NotBound`: the fd is not bound to a queue (`ENOTCONN`).
    NotBound,
    /// `AlreadyBound`: the fd is already bound to a queue (`EISCONN`).
    AlreadyBound,
    /// `NoRight`: the fd was not opened with the right for this (`EBADF`).
    NoRight {
        /// The operation that was refused.
        op: &'static str,
    },
    /// `CorruptRing`: the receiver's consumer page holds an impossible index, or a mapped
    /// entry is out of range (`EUCLEAN`).
    CorruptRing,
    /// `RegionNotWritable`: the region is sealed, or its policy forbids writing (`EPERM`).
    RegionNotWritable,
    /// `RegionFull`: an append would pass the AppendOnly region's `max_size` (`ENOSPC`).
    RegionFull,
    /// `InvalidDescriptorRegion`: descriptors may not point into a Slab region (`EOPNOTSUPP`).
    InvalidDescriptorRegion,
    /// `RegionNotStable`: the bytes may still change: an unsealed Immutable region, or past an
    /// AppendOnly region's committed length (`ENODATA`).
    RegionNotStable,
    /// `StaleHandle`: no live region has this `{id, generation}` (`ESTALE`).
    StaleHandle,
    /// `SchemaViolation`: the message is not a valid encoding of the queue's schema type; it
    /// was not queued (`EBADMSG`).
    SchemaViolation {
        /// Why (`KRING_SCHEMA_E_*`; see `kring::schema::program::reason`).
        reason: u32,
        /// The schema program node whose value was wrong.
        node: u32,
        /// Byte offset in the message where the check failed.
        offset: u32,
        /// In a batch: the index of the refused message.
        index: Option<u32>,
        /// The field's path (e.g. `reading.tags[]`), when the sender knows the schema.
        path: Option<String>,
    },
    /// A value does not fit the schema type, or a WIT source could not be lowered (a user-space
    /// check; nothing was sent).
    Schema(crate::schema::SchemaError),
    /// `send_value` on a handle that was not told the queue's schema type.
    NoSchema,
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

    /// Maps an errno from a queue operation `op` to its named error.
    pub(crate) fn from_queue_errno(errno: Errno, op: &'static str) -> Self {
        match errno {
            Errno::NOSPC => Error::QueueFull,
            Errno::AGAIN => Error::QueueEmpty,
            Errno::MSGSIZE => Error::MessageTooLarge,
            Errno::TIMEDOUT => Error::Timeout,
            Errno::OVERFLOW => Error::BufferTooSmall { needed: 0 },
            Errno::ACCESS | Errno::PERM => Error::NotPermitted { op },
            Errno::NOENT => Error::NotFound,
            Errno::EXIST => Error::AlreadyExists,
            Errno::NOMEM => Error::OutOfMemory,
            Errno::DQUOT => Error::UserLimit,
            Errno::BUSY => Error::ReceiverBusy,
            Errno::PIPE => Error::Disconnected,
            Errno::INTR => Error::Interrupted,
            Errno::NOTCONN => Error::NotBound,
            Errno::ISCONN => Error::AlreadyBound,
            Errno::BADF => Error::NoRight { op },
            Errno::UCLEAN => Error::CorruptRing,
            Errno::BADMSG => Error::SchemaViolation { reason: 0, node: 0, offset: 0, index: None, path: None },
            e => Error::from_ioctl(e, op),
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
            Error::QueueFull => Some(Errno::NOSPC.raw_os_error()),
            Error::QueueEmpty => Some(Errno::AGAIN.raw_os_error()),
            Error::MessageTooLarge => Some(Errno::MSGSIZE.raw_os_error()),
            Error::Timeout => Some(Errno::TIMEDOUT.raw_os_error()),
            Error::BufferTooSmall { .. } => Some(Errno::OVERFLOW.raw_os_error()),
            Error::NotPermitted { .. } => Some(Errno::ACCESS.raw_os_error()),
            Error::NotFound => Some(Errno::NOENT.raw_os_error()),
            Error::AlreadyExists => Some(Errno::EXIST.raw_os_error()),
            Error::OutOfMemory => Some(Errno::NOMEM.raw_os_error()),
            Error::UserLimit => Some(Errno::DQUOT.raw_os_error()),
            Error::ReceiverBusy => Some(Errno::BUSY.raw_os_error()),
            Error::Disconnected => Some(Errno::PIPE.raw_os_error()),
            Error::Interrupted => Some(Errno::INTR.raw_os_error()),
            Error::NotBound => Some(Errno::NOTCONN.raw_os_error()),
            Error::AlreadyBound => Some(Errno::ISCONN.raw_os_error()),
            Error::NoRight { .. } => Some(Errno::BADF.raw_os_error()),
            Error::CorruptRing => Some(Errno::UCLEAN.raw_os_error()),
            Error::RegionNotWritable => Some(Errno::PERM.raw_os_error()),
            Error::RegionFull => Some(Errno::NOSPC.raw_os_error()),
            Error::InvalidDescriptorRegion => Some(Errno::OPNOTSUPP.raw_os_error()),
            Error::RegionNotStable => Some(Errno::NODATA.raw_os_error()),
            Error::StaleHandle => Some(Errno::STALE.raw_os_error()),
            Error::SchemaViolation { .. } => Some(Errno::BADMSG.raw_os_error()),
            Error::Schema(_) | Error::NoSchema => None,
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
            Error::QueueFull => write!(f, "queue full"),
            Error::QueueEmpty => write!(f, "queue empty"),
            Error::MessageTooLarge => write!(f, "message larger than the queue's max_msg_size"),
            Error::Timeout => write!(f, "timed out"),
            Error::BufferTooSmall { needed } => write!(f, "buffer too small: the next message needs {needed} bytes"),
            Error::NotPermitted { op } => write!(f, "{op}: not permitted by the queue's owner and mode"),
            Error::NotFound => write!(f, "no queue has this name"),
            Error::AlreadyExists => write!(f, "a queue with this name already exists"),
            Error::OutOfMemory => write!(f, "out of memory (or over kring's per-queue limit)"),
            Error::UserLimit => write!(f, "over kring's per-user limit (max_user_* module parameters)"),
            Error::ReceiverBusy => write!(f, "the queue already has a receiver"),
            Error::Disconnected => write!(f, "disconnected: no peer can ever use the other end"),
            Error::Interrupted => write!(f, "interrupted by a signal"),
            Error::NotBound => write!(f, "the fd is not bound to a queue"),
            Error::AlreadyBound => write!(f, "the fd is already bound to a queue"),
            Error::NoRight { op } => write!(f, "{op}: this handle was not opened with that right"),
            Error::CorruptRing => write!(f, "the shared ring holds an impossible value"),
            Error::RegionNotWritable => write!(f, "the region is sealed or its policy forbids writing"),
            Error::RegionFull => write!(f, "the append-only region is full"),
            Error::InvalidDescriptorRegion => write!(f, "descriptors may not point into a Slab region"),
            Error::RegionNotStable => write!(f, "the region's bytes may still change (not sealed, or past the committed length)"),
            Error::StaleHandle => write!(f, "no live region has this id and generation"),
            Error::SchemaViolation { reason, node, offset, index, path } => {
                write!(f, "schema violation")?;
                if let Some(i) = index {
                    write!(f, " in batch entry {i}")?;
                }
                match path {
                    Some(p) => write!(f, ": field `{p}`")?,
                    None => write!(f, ": schema node {node}")?,
                }
                write!(f, " at byte {offset}: {}", crate::schema::program::reason::describe(*reason))
            }
            Error::Schema(e) => write!(f, "schema: {e}"),
            Error::NoSchema => write!(f, "this handle does not know the queue's schema type (Sender::set_schema)"),
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
