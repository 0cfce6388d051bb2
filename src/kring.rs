// SPDX-License-Identifier: GPL-2.0
//! kring: kernel-mediated priority queues with an io_uring-like mmap interface.
//!
//! This is the crate root of the module. It registers the misc device `/dev/kring` and routes
//! its file operations; the ABI it speaks is defined in [`uapi`] (shared with user space) and
//! documented in `Documentation/uapi.rst`.
//!
//! Locking: no locks yet. When locks are added, their order is written here, at the top of the
//! file that defines them.

use kernel::{
    fs::File,
    ioctl,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

// Shared with user space, where its items are the crate's public API: here they are
// crate-internal, and not every item is used on both sides.
#[allow(dead_code, unreachable_pub)]
mod uapi;

use uapi::KringVersion;

module! {
    type: KringModule,
    name: "kring",
    authors: ["kring developers"],
    description: "kernel-mediated priority queues with an io_uring-like mmap interface",
    license: "GPL",
}

// The user-space encoding in `uapi` must be the kernel's encoding on the architecture we are
// built for; a mismatch fails the build here instead of corrupting ioctls at run time.
const _: () = assert!(
    uapi::KRING_IOC_VERSION == ioctl::_IOR::<KringVersion>(uapi::KRING_IOC_MAGIC as u32, 0x00)
);

// SAFETY: `KringVersion` is `#[repr(C)]`, made of integers and a byte array with no padding
// (its size, 48, is the sum of its fields' sizes, asserted in `uapi`), so every byte of it is
// initialised and may be copied to user space.
unsafe impl AsBytes for KringVersion {}

#[pin_data(PinnedDrop)]
struct KringModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<KringFile>,
}

impl kernel::InPlaceModule for KringModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!(
            "kring {} loaded (ABI {}.{}): /dev/kring\n",
            uapi::KRING_RELEASE,
            uapi::KRING_ABI_MAJOR,
            uapi::KRING_ABI_MINOR
        );
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"kring" }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for KringModule {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("kring {} unloaded\n", uapi::KRING_RELEASE);
    }
}

/// State of one open file on `/dev/kring`. Queues hang off it in later revisions of the ABI.
struct KringFile;

impl KringFile {
    fn version(arg: usize, size: usize) -> Result<isize> {
        if size != core::mem::size_of::<KringVersion>() {
            return Err(EINVAL);
        }
        let reply = KringVersion::current(uapi::KRING_RELEASE.as_bytes());
        UserSlice::new(UserPtr::from_addr(arg), size).writer().write(&reply)?;
        Ok(0)
    }
}

#[vtable]
impl MiscDevice for KringFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(KringFile, GFP_KERNEL)?)
    }

    fn ioctl(_this: &KringFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::KRING_IOC_VERSION => Self::version(arg, ioctl::_IOC_SIZE(cmd)),
            _ => Err(ENOTTY),
        }
    }
}
