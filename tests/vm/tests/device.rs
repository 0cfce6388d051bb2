// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The `/dev/kring` device and its version ioctl, end to end through the module.

use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::process::Command;

use kring::{uapi, Error, Kring};
use kring_vmtests::require_module;
use rustix::io::Errno;
use rustix::ioctl::{ioctl, Ioctl, IoctlOutput, Opcode};

#[test]
fn device_node_is_a_misc_char_device() {
    require_module();
    let meta = std::fs::metadata("/dev/kring").expect("/dev/kring exists");
    assert!(meta.file_type().is_char_device());
    let dev = std::fs::read_to_string("/sys/class/misc/kring/dev").expect("misc class entry");
    assert!(dev.trim().starts_with("10:"), "misc major is 10, got {dev}");
}

#[test]
fn version_ioctl_reports_abi_and_release() {
    require_module();
    let k = Kring::open().expect("open /dev/kring");
    let v = k.version().expect("KRING_IOC_VERSION");
    assert_eq!(v.abi_major, uapi::KRING_ABI_MAJOR);
    assert_eq!(v.abi_minor, uapi::KRING_ABI_MINOR);
    assert_eq!(v.features, uapi::KRING_FEATURES);
    assert_eq!(v.release, uapi::KRING_RELEASE);
}

/// An ioctl with an arbitrary number and a caller-chosen pointer argument.
struct RawIoctl {
    cmd: Opcode,
    ptr: *mut core::ffi::c_void,
}

// SAFETY: the kernel validates `ptr` (it is either NULL, unmapped or a valid buffer of the
// size encoded in `cmd`); no Rust object is read or written through it by this process.
unsafe impl Ioctl for RawIoctl {
    type Output = i32;
    const IS_MUTATING: bool = true;
    fn opcode(&self) -> Opcode {
        self.cmd
    }
    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        self.ptr
    }
    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut core::ffi::c_void) -> rustix::io::Result<i32> {
        Ok(out)
    }
}

fn raw_ioctl(k: &Kring, cmd: u32, ptr: *mut core::ffi::c_void) -> Result<i32, Errno> {
    // SAFETY: see `RawIoctl`; the calls below pass NULL, a bogus address or a live buffer.
    unsafe { ioctl(k.as_fd(), RawIoctl { cmd, ptr }) }
}

#[test]
fn unknown_ioctls_are_enotty() {
    require_module();
    let k = Kring::open().unwrap();
    let mut buf = [0u8; 64];
    for cmd in [
        uapi::ioctl::ioc(uapi::ioctl::NONE, uapi::KRING_IOC_MAGIC, 0xff, 0),
        uapi::ioctl::ior::<[u8; 8]>(uapi::KRING_IOC_MAGIC, 0x00), // right number, wrong size
        uapi::ioctl::iow::<uapi::KringVersion>(uapi::KRING_IOC_MAGIC, 0x00), // wrong direction
        uapi::ioctl::ior::<uapi::KringVersion>(b'X', 0x00),       // wrong magic
    ] {
        assert_eq!(raw_ioctl(&k, cmd, buf.as_mut_ptr().cast()), Err(Errno::NOTTY), "cmd {cmd:#x}");
    }
    assert_eq!(buf, [0u8; 64], "a refused ioctl must not write");
}

#[test]
fn version_ioctl_to_bad_address_is_efault() {
    require_module();
    let k = Kring::open().unwrap();
    for ptr in [0usize, 8, usize::MAX - 4095] {
        assert_eq!(
            raw_ioctl(&k, uapi::KRING_IOC_VERSION, ptr as *mut _),
            Err(Errno::FAULT),
            "pointer {ptr:#x}"
        );
    }
    // The device is still fine afterwards.
    assert!(k.version().is_ok());
}

#[test]
fn module_cannot_be_unloaded_while_open() {
    require_module();
    let k = Kring::open().unwrap();
    let out = Command::new("rmmod").arg("kring").output().expect("run rmmod");
    assert!(!out.status.success(), "rmmod must fail while /dev/kring is open");
    let refcnt = std::fs::read_to_string("/sys/module/kring/refcnt").unwrap();
    assert!(refcnt.trim().parse::<u32>().unwrap() >= 1, "refcnt {refcnt}");
    assert!(k.version().is_ok(), "the open file still works after the refused rmmod");
}

#[test]
fn many_threads_open_and_query_concurrently() {
    require_module();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..200 {
                    let k = Kring::open().expect("open");
                    assert_eq!(k.version().unwrap().abi_major, uapi::KRING_ABI_MAJOR);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn non_kring_device_is_reported_as_such() {
    require_module();
    assert!(matches!(Kring::open_path("/dev/zero"), Err(Error::NotKring { .. })));
}
