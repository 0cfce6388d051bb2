// SPDX-License-Identifier: GPL-2.0 OR MIT
//! A hostile local user: sizes, pointers and lengths chosen to make the kernel allocate, warn or
//! copy more than the object it names can hold. Each case gets a clear errno and changes nothing;
//! the dmesg check after the suites catches any warning these provoke.

use std::os::fd::AsFd;

use kring::uapi::*;
use kring::{Region, RegionPolicy};
use kring_vmtests::require_module;
use rustix::io::Errno;
use rustix::ioctl::{ioctl, Setter, Updater};

fn append_raw(r: &Region, addr: u64, len: u32) -> Result<u64, Errno> {
    let mut a = KringRegionAppend { addr, len, flags: 0, committed: 0 };
    // SAFETY: KRING_IOC_REGION_APPEND is _IOWR of KringRegionAppend, an integer-only struct;
    // the kernel only reads `len` bytes at `addr` (or refuses), it writes none of ours.
    unsafe { ioctl(r.as_fd(), Updater::<{ KRING_IOC_REGION_APPEND }, KringRegionAppend>::new(&mut a)) }?;
    Ok(a.committed)
}

fn write_raw(r: &Region, offset: u64, addr: u64, len: u32) -> Result<(), Errno> {
    let w = KringRegionWrite { offset, addr, len, flags: 0 };
    // SAFETY: KRING_IOC_REGION_WRITE is _IOW of KringRegionWrite, an integer-only struct; the
    // kernel only reads `len` bytes at `addr`.
    unsafe { ioctl(r.as_fd(), Setter::<{ KRING_IOC_REGION_WRITE }, KringRegionWrite>::new(w)) }
}

/// Finding 1 of the hardening review: `REGION_APPEND` bounced `len` bytes (any u32) from user
/// memory before checking them against the region, so `len = u32::MAX` hit the `WARN_ON_ONCE`
/// of `__kvmalloc_node`, and `len = 2 GiB` allocated 2 GiB that no memory cgroup paid for.
#[test]
fn an_append_larger_than_the_region_is_refused_before_anything_is_allocated() {
    require_module();
    let r = Region::create(RegionPolicy::AppendOnly { max_size: 4096 }).unwrap();
    let bytes = [0x5au8; 64];
    let addr = bytes.as_ptr() as u64;
    assert_eq!(append_raw(&r, addr, u32::MAX), Err(Errno::NOSPC), "4 GiB into 4 KiB");
    assert_eq!(append_raw(&r, addr, 1 << 31), Err(Errno::NOSPC), "2 GiB into 4 KiB");
    assert_eq!(append_raw(&r, addr, 4097), Err(Errno::NOSPC), "one byte too many");
    // A length that fits, from an address that cannot be read: EFAULT, nothing committed.
    assert_eq!(append_raw(&r, 8, 16), Err(Errno::FAULT));
    assert_eq!(append_raw(&r, addr, 64), Ok(64), "the region still works");
    assert_eq!(append_raw(&r, addr, 4096 - 64 + 1), Err(Errno::NOSPC));
    assert_eq!(append_raw(&r, addr, 0), Ok(64));
    assert_eq!(r.stable_bytes().unwrap().unwrap(), &bytes[..]);
}

#[test]
fn a_write_outside_the_region_is_refused_and_a_large_write_arrives_whole() {
    require_module();
    let size = 3 << 20;
    let r = Region::create(RegionPolicy::Immutable { size }).unwrap();
    let bytes = [1u8; 16];
    assert_eq!(write_raw(&r, 0, bytes.as_ptr() as u64, u32::MAX), Err(Errno::INVAL));
    assert_eq!(write_raw(&r, size, bytes.as_ptr() as u64, 1), Err(Errno::INVAL));
    assert_eq!(write_raw(&r, u64::MAX, bytes.as_ptr() as u64, 2), Err(Errno::INVAL));
    assert_eq!(write_raw(&r, 0, 8, 16), Err(Errno::FAULT));
    // Several bounce chunks, starting and ending inside one: every byte lands where it belongs.
    let data: Vec<u8> = (0..(2 << 20) + 12345u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let at = 65536 - 7;
    r.write(at, &data).unwrap();
    r.seal().unwrap();
    let s = r.stable_bytes().unwrap().unwrap();
    assert_eq!(s.len() as u64, size);
    assert!(s[..at as usize].iter().all(|&b| b == 0));
    assert!(s[at as usize..at as usize + data.len()] == data[..], "payload differs");
    assert!(s[at as usize + data.len()..].iter().all(|&b| b == 0));
    assert_eq!(write_raw(&r, 0, bytes.as_ptr() as u64, 16), Err(Errno::PERM), "sealed");
}
