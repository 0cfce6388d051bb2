// SPDX-License-Identifier: GPL-2.0
//! kring: kernel-mediated priority queues with an io_uring-like mmap interface.
//!
//! This is the crate root of the module. It registers the misc device `/dev/kring` and routes
//! its file operations; the ABI it speaks is defined in [`uapi`] (shared with user space) and
//! documented in `Documentation/uapi.md`.
//!
//! Files: `chardev` (raw file operations and misc registration), `deadline` (timed waits that
//! never end early), `file` (an open `/dev/kring`:
//! ioctls, mmap, poll), `queue` (a queue and its lock order), `registry` (the name table),
//! `shm` (shared memory glue), and the `core`-only `uapi` and `ring` shared with user space.

use kernel::{
    ioctl,
    prelude::*, //
};

mod chardev;
mod deadline;
mod debugfs;
mod file;
mod limits;
mod queue;
mod region;
mod registry;
mod schemas;
mod shm;

// Shared with user space, where its items are the crate's public API: here they are
// crate-internal, and not every item is used on both sides.
#[allow(dead_code, unreachable_pub)]
mod uapi;
#[allow(dead_code, unreachable_pub)]
mod ring;
#[allow(dead_code, unreachable_pub)]
mod schema;

use uapi::*;

module! {
    type: KringModule,
    name: "kring",
    authors: ["kring developers"],
    description: "kernel-mediated priority queues with an io_uring-like mmap interface",
    license: "GPL",
    params: {
        max_queue_bytes: u64 {
            default: 64 << 20,
            description: "Largest shared memory of one queue in bytes (rings + payload slots)",
        },
        max_queues: u32 {
            default: 1024,
            description: "Most queues alive at once, named or not (each pins its memory)",
        },
        max_region_bytes: u64 {
            default: 256 << 20,
            description: "Largest region in bytes",
        },
        max_schemas: u32 {
            default: 256,
            description: "Most schemas registered at once (each program is at most 28 KiB)",
        },
        max_user_schemas: u32 {
            default: 64,
            description: "Most schemas one user (who registered them first) keeps registered",
        },
        max_user_queues: u32 {
            default: 256,
            description: "Most queues one user (filesystem uid of the creator) keeps alive",
        },
        max_user_bytes: u64 {
            default: 256 << 20,
            description: "Most bytes of queue memory (rings, slots, tables, submission areas) per user",
        },
        max_user_region_bytes: u64 {
            default: 512 << 20,
            description: "Most region bytes alive per user (effective uid of the creator)",
        },
    },
}

// The user-space encoding in `uapi` must be the kernel's encoding on the architecture we are
// built for; a mismatch fails the build here instead of corrupting ioctls at run time.
const _: () = {
    assert!(KRING_IOC_VERSION == ioctl::_IOR::<KringVersion>(KRING_IOC_MAGIC as u32, 0x00));
    assert!(KRING_IOC_CREATE == ioctl::_IOW::<KringCreate>(KRING_IOC_MAGIC as u32, 0x01));
    assert!(KRING_IOC_OPEN == ioctl::_IOW::<KringOpen>(KRING_IOC_MAGIC as u32, 0x02));
    assert!(KRING_IOC_UNLINK == ioctl::_IOW::<KringUnlink>(KRING_IOC_MAGIC as u32, 0x03));
    assert!(KRING_IOC_INFO == ioctl::_IOR::<KringInfo>(KRING_IOC_MAGIC as u32, 0x04));
    assert!(KRING_IOC_SEND == ioctl::_IOW::<KringSend>(KRING_IOC_MAGIC as u32, 0x05));
    assert!(KRING_IOC_RECV == ioctl::_IOWR::<KringRecv>(KRING_IOC_MAGIC as u32, 0x06));
    assert!(KRING_IOC_ENTER == ioctl::_IOWR::<KringEnter>(KRING_IOC_MAGIC as u32, 0x07));
    assert!(KRING_IOC_WAIT == ioctl::_IOW::<KringWait>(KRING_IOC_MAGIC as u32, 0x08));
    assert!(KRING_IOC_NOTIFY == ioctl::_IO(KRING_IOC_MAGIC as u32, 0x09));
    assert!(KRING_IOC_REGION_CREATE == ioctl::_IOW::<KringRegionCreate>(KRING_IOC_MAGIC as u32, 0x10));
    assert!(KRING_IOC_REGION_INFO == ioctl::_IOR::<KringRegionInfo>(KRING_IOC_MAGIC as u32, 0x11));
    assert!(KRING_IOC_REGION_WRITE == ioctl::_IOW::<KringRegionWrite>(KRING_IOC_MAGIC as u32, 0x12));
    assert!(KRING_IOC_REGION_APPEND == ioctl::_IOWR::<KringRegionAppend>(KRING_IOC_MAGIC as u32, 0x13));
    assert!(KRING_IOC_REGION_SEAL == ioctl::_IO(KRING_IOC_MAGIC as u32, 0x14));
    assert!(KRING_IOC_SEND_DESC == ioctl::_IOW::<KringSendDesc>(KRING_IOC_MAGIC as u32, 0x15));
    assert!(KRING_IOC_REGION_OPEN == ioctl::_IOW::<KringRegionOpen>(KRING_IOC_MAGIC as u32, 0x16));
    assert!(KRING_IOC_SCHEMA_REGISTER == ioctl::_IOWR::<KringSchemaRegister>(KRING_IOC_MAGIC as u32, 0x20));
    assert!(KRING_IOC_SCHEMA_ERROR == ioctl::_IOR::<KringSchemaError>(KRING_IOC_MAGIC as u32, 0x21));
};

#[pin_data(PinnedDrop)]
struct KringModule {
    #[pin]
    _dev: chardev::Registration,
    /// `/sys/kernel/debug/kring/`: removed before the tables it reads are cleared.
    _debugfs: debugfs::Introspection,
}

impl kernel::InPlaceModule for KringModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        registry::init();
        limits::init();
        region::init();
        schemas::init();
        pr_info!(
            "kring {} loaded (ABI {}.{}): /dev/kring\n",
            KRING_RELEASE,
            KRING_ABI_MAJOR,
            KRING_ABI_MINOR
        );
        // Anyone may open /dev/kring (like /dev/shm or the mqueue fs): access to each queue is
        // checked against its owner and mode.
        try_pin_init!(Self {
            _dev <- chardev::Registration::register(c"kring", 0o666),
            _debugfs: debugfs::Introspection::new()?,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for KringModule {
    fn drop(self: Pin<&mut Self>) {
        // No file is open (each pins the module), so only named queues remain.
        registry::clear();
        region::clear();
        schemas::clear();
        limits::clear();
        pr_info!("kring {} unloaded\n", KRING_RELEASE);
    }
}
