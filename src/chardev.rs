// SPDX-License-Identifier: GPL-2.0
//! Character-device glue: the raw `file_operations` of `/dev/kring` and its misc registration.
//!
//! The 7.3 `kernel::miscdevice` abstraction has no `poll`, so kring registers a raw
//! `struct miscdevice` with its own `file_operations` (as the Rust Binder driver does). This file
//! is the only place where raw `struct file`, `vm_area_struct` and `poll_table` pointers become
//! Rust references; every trampoline does that conversion and nothing else, and hands over to
//! the safe code in [`crate::file`].

use kernel::{
    bindings,
    error::to_result,
    fs::File,
    mm::virt::VmaNew,
    prelude::*,
    seq_file::SeqFile,
    sync::poll::PollTable,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

use crate::file::KringFile;

/// Private data of every open `/dev/kring` file.
type Private = KBox<KringFile>;

/// `file_operations` must be `Sync` to live in a static; it only holds function pointers and
/// the module pointer, which are safe to share.
struct AssertSync<T>(T);
// SAFETY: see above; the table is never written after initialisation.
unsafe impl<T> Sync for AssertSync<T> {}

static FOPS: AssertSync<bindings::file_operations> = AssertSync(bindings::file_operations {
    owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
    open: Some(open),
    release: Some(release),
    unlocked_ioctl: Some(ioctl),
    // Every kring ioctl argument has the same layout for 32- and 64-bit callers.
    compat_ioctl: bindings::compat_ptr_ioctl,
    mmap: Some(mmap),
    poll: Some(poll),
    llseek: Some(bindings::noop_llseek),
    show_fdinfo: Some(show_fdinfo),
    ..pin_init::zeroed()
});

/// # Safety
///
/// Called by the VFS for a file of `/dev/kring` being opened: `inode` and `file` are valid, and
/// `misc_open` stored the `struct miscdevice` in `private_data`.
unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: the pointers are valid for a file being opened (function contract).
    let ret = unsafe { bindings::generic_file_open(inode, file) };
    if ret != 0 {
        return ret;
    }
    // SAFETY: the file is valid for the duration of the call and no fdget_pos region is active.
    let f = unsafe { File::from_raw_file(file) };
    match KringFile::open(f) {
        Ok(private) => {
            // SAFETY: `open` may set `private_data`; from now on it always holds a `Private`,
            // turned back into one exactly once, in `release`.
            unsafe { (*file).private_data = private.into_foreign() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS once, when the last reference to a file opened by [`open`] goes away.
unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `private_data` holds the `Private` stored by `open`; release owns it now.
    let private = unsafe { Private::from_foreign((*file).private_data) };
    drop(private);
    0
}

/// Borrows the private data of a file opened by [`open`] for the duration of a file operation.
///
/// # Safety
///
/// `file` must be a `/dev/kring` file between `open` and `release`.
unsafe fn borrow<'a>(file: *mut bindings::file) -> (&'a KringFile, &'a File) {
    // SAFETY: the caller guarantees `private_data` holds our `Private`, which lives until
    // `release`; file operations never overlap `release`.
    let this = unsafe { Private::borrow((*file).private_data) };
    // SAFETY: the file is valid for the call and no fdget_pos region is active on it.
    let f = unsafe { File::from_raw_file(file) };
    (this, f)
}

/// # Safety
///
/// Called by the VFS for an ioctl on a file opened by [`open`].
unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: function contract.
    let (this, f) = unsafe { borrow(file) };
    match this.ioctl(f, cmd, arg as usize) {
        Ok(ret) => ret as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// # Safety
///
/// Called by the VFS for `mmap` of a file opened by [`open`], with `vma` under construction.
unsafe extern "C" fn mmap(file: *mut bindings::file, vma: *mut bindings::vm_area_struct) -> c_int {
    // SAFETY: function contract.
    let (this, f) = unsafe { borrow(file) };
    // SAFETY: the VMA is being set up by this mmap call.
    let vma = unsafe { VmaNew::from_raw(vma) };
    // SAFETY: `vm_pgoff` is plain data of the VMA being set up, readable during ->mmap.
    let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
    match this.mmap(f, vma, pgoff as u64) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS for `poll`/`select`/`epoll` on a file opened by [`open`].
unsafe extern "C" fn poll(file: *mut bindings::file, wait: *mut bindings::poll_table_struct) -> bindings::__poll_t {
    // SAFETY: function contract.
    let (this, f) = unsafe { borrow(file) };
    // SAFETY: `wait` is NULL or a valid poll table for the duration of the call.
    let table = unsafe { PollTable::from_raw(wait) };
    this.poll(f, table)
}

/// # Safety
///
/// Called by the VFS to print `/proc/<pid>/fdinfo/<fd>` of a file opened by [`open`].
unsafe extern "C" fn show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
    // SAFETY: function contract.
    let (this, _f) = unsafe { borrow(file) };
    // SAFETY: `m` is valid and exclusively ours for the duration of the call.
    let m = unsafe { SeqFile::from_raw(m) };
    this.show_fdinfo(m);
}

/// Runs `f` on the kring file behind fd `fd` of the calling process. `EBADF` if `fd` is not open
/// or is not a `/dev/kring` file.
pub(crate) fn with_kring_fd<R>(fd: i32, f: impl FnOnce(&KringFile) -> Result<R>) -> Result<R> {
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    let file = kernel::fs::file::LocalFile::fget(fd)?;
    // SAFETY: `f_op` of a file we hold a reference to is valid to read.
    let fops = unsafe { (*file.as_ptr()).f_op };
    if !core::ptr::eq(fops, &FOPS.0) {
        return Err(EBADF);
    }
    // SAFETY: the file is a /dev/kring file (its fops are ours), opened by `open` and not yet
    // released (we hold a reference), so `private_data` is our `Private`, valid while we hold it.
    let this = unsafe { Private::borrow((*file.as_ptr()).private_data) };
    f(this)
}

/// The registration of `/dev/kring`, deregistered on drop.
///
/// # Invariants
///
/// `inner` holds a `struct miscdevice` registered with `misc_register` whose `fops` is [`FOPS`].
#[pin_data(PinnedDrop)]
pub(crate) struct Registration {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
}

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl Send for Registration {}
// SAFETY: no `&self` method touches the registration.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `/dev/<name>` with permission bits `mode`.
    pub(crate) fn register(name: &'static CStr, mode: u16) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                misc.name = name.as_char_ptr();
                misc.fops = &FOPS.0;
                misc.mode = mode;
                // SAFETY: the initializer may write `slot`.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds a fully initialised miscdevice in pinned memory that is
                // deregistered (in `drop`) before it is freed.
                // INVARIANT: registered on success.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Registration {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: registered, by the type invariant; deregistered exactly once, here.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}
