// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Regions: policies enforced by the kernel, from the owner's side and the attacker's.

use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use kring::uapi::*;
use kring::{Error, Region, RegionPolicy};
use kring_vmtests::require_module;
use rustix::io::Errno;
use rustix::mm::{mmap, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};

fn map(fd: impl AsFd, len: usize, prot: ProtFlags) -> Result<*mut u8, Errno> {
    // SAFETY: a new mapping chosen by the kernel; it aliases nothing in this process.
    unsafe { mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, KRING_OFF_REGION).map(|p| p.cast()) }
}

#[test]
fn bad_region_configurations_are_invalid_argument() {
    require_module();
    for p in [
        RegionPolicy::Immutable { size: 0 },
        RegionPolicy::AppendOnly { max_size: 0 },
        RegionPolicy::Slab { slot_size: 0, slot_count: 4 },
        RegionPolicy::Slab { slot_size: 64, slot_count: 0 },
    ] {
        assert!(matches!(Region::create(p).unwrap_err(), Error::InvalidArgument { .. }), "{p:?}");
    }
}

#[test]
fn a_1_gib_region_fails_cleanly_and_per_user_limits_hold() {
    require_module();
    assert_eq!(Region::create(RegionPolicy::Immutable { size: 1 << 30 }).unwrap_err(), Error::OutOfMemory);
    assert_eq!(Region::create(RegionPolicy::Slab { slot_size: u32::MAX, slot_count: u32::MAX }).unwrap_err(), Error::OutOfMemory);
    // 512 MiB per user by default: two of 180 MiB fit, a third does not.
    let a = Region::create(RegionPolicy::AppendOnly { max_size: 180 << 20 }).unwrap();
    let b = Region::create(RegionPolicy::AppendOnly { max_size: 180 << 20 }).unwrap();
    assert_eq!(Region::create(RegionPolicy::AppendOnly { max_size: 180 << 20 }).unwrap_err(), Error::UserLimit);
    drop(a);
    // Freed memory is given back to the user's budget.
    let c = Region::create(RegionPolicy::AppendOnly { max_size: 180 << 20 }).unwrap();
    drop((b, c));
}

#[test]
fn immutable_regions_are_filled_sealed_and_never_change() {
    require_module();
    let r = Region::create(RegionPolicy::Immutable { size: 8192 }).unwrap();
    assert_eq!(r.stable_bytes().unwrap(), None, "not handed out before sealing");
    r.write(0, b"hello").unwrap();
    r.write(8187, b"world").unwrap();
    assert!(matches!(r.write(8188, b"world").unwrap_err(), Error::InvalidArgument { .. }), "past the end");
    assert!(matches!(r.write(u64::MAX, b"x").unwrap_err(), Error::InvalidArgument { .. }), "overflow");
    r.seal().unwrap();
    let info = r.info().unwrap();
    assert_eq!((info.flags, info.committed, info.size), (KRING_REGION_SEALED, 8192, 8192));
    assert_eq!(r.write(0, b"HELLO"), Err(Error::RegionNotWritable));
    let bytes = r.stable_bytes().unwrap().unwrap();
    assert_eq!((&bytes[..5], &bytes[8187..]), (&b"hello"[..], &b"world"[..]));

    // The attacker's side: no writable mapping, no mprotect, no /proc/self/mem.
    assert_eq!(map(&r, 8192, ProtFlags::READ | ProtFlags::WRITE).unwrap_err(), Errno::ACCESS);
    let p = map(&r, 8192, ProtFlags::READ).unwrap();
    // SAFETY: `p` is our 8192-byte mapping.
    assert_eq!(unsafe { mprotect(p.cast(), 8192, MprotectFlags::READ | MprotectFlags::WRITE) }.unwrap_err(), Errno::ACCESS);
    let mem = std::fs::OpenOptions::new().read(true).write(true).open("/proc/self/mem").unwrap();
    assert!(mem.write_at(b"EVIL!", p as u64).is_err(), "/proc/self/mem must not write a sealed region");
    assert!(mem.write_at(b"EVIL!", bytes.as_ptr() as u64).is_err());
    assert_eq!(&bytes[..5], b"hello");
    // SAFETY: `p` is our mapping; reading it is fine.
    assert_eq!(unsafe { std::slice::from_raw_parts(p, 5) }, b"hello");
    // SAFETY: unmapping our own mapping, not used afterwards.
    unsafe { munmap(p.cast(), 8192).unwrap() };
    // Only Immutable regions seal.
    let a = Region::create(RegionPolicy::AppendOnly { max_size: 64 }).unwrap();
    assert!(matches!(a.seal().unwrap_err(), Error::InvalidArgument { .. }));
}

#[test]
fn append_only_regions_only_grow_and_committed_bytes_never_change() {
    require_module();
    let r = Region::create(RegionPolicy::AppendOnly { max_size: 10000 }).unwrap();
    assert_eq!(r.stable_bytes().unwrap(), Some(&[][..]));
    assert_eq!(r.append(b"abc"), Ok(3));
    assert_eq!(r.append(&[7u8; 4997]), Ok(5000));
    assert_eq!(r.append(&[1u8; 5001]), Err(Error::RegionFull));
    assert_eq!(r.append(&[2u8; 5000]), Ok(10000));
    assert_eq!(r.append(b""), Ok(10000));
    assert_eq!(r.append(b"x"), Err(Error::RegionFull));
    assert_eq!(r.write(0, b"ABC"), Err(Error::RegionNotWritable), "committed bytes are final");
    let s = r.stable_bytes().unwrap().unwrap();
    assert_eq!((s.len(), &s[..3], s[4000], s[9999]), (10000, &b"abc"[..], 7, 2));
    assert_eq!(map(&r, 12288, ProtFlags::READ | ProtFlags::WRITE).unwrap_err(), Errno::ACCESS);
    let mem = std::fs::OpenOptions::new().write(true).open("/proc/self/mem").unwrap();
    assert!(mem.write_at(b"X", s.as_ptr() as u64).is_err());
    assert_eq!(&s[..3], b"abc");
}

#[test]
fn slab_regions_are_writable_shared_memory() {
    require_module();
    let r = Region::create(RegionPolicy::Slab { slot_size: 100, slot_count: 50 }).unwrap();
    let info = r.info().unwrap();
    assert_eq!((info.size, info.slot_size, info.slot_count, info.committed), (5000, 100, 50, 5000));
    r.write_mapped(200, b"through the mapping").unwrap();
    r.write(300, b"through the kernel").unwrap();
    let mut buf = [0u8; 19];
    r.read(200, &mut buf).unwrap();
    assert_eq!(&buf, b"through the mapping");
    r.read(300, &mut buf[..18]).unwrap();
    assert_eq!(&buf[..18], b"through the kernel");
    assert_eq!(r.stable_bytes().unwrap(), None, "slab bytes can change: never handed out as a slice");
    assert!(matches!(r.seal().unwrap_err(), Error::InvalidArgument { .. }));
    // A second read-write mapping is allowed too.
    let p = map(&r, 8192, ProtFlags::READ | ProtFlags::WRITE).unwrap();
    // SAFETY: our own mapping, unmapped right away.
    unsafe { munmap(p.cast(), 8192).unwrap() };
}

#[test]
fn region_ids_are_reused_with_a_new_generation() {
    require_module();
    let r = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
    let first = r.info().unwrap();
    drop(r);
    let mut seen_reuse = false;
    let mut keep = Vec::new();
    for _ in 0..64 {
        let r = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
        let i = r.info().unwrap();
        if i.id == first.id {
            assert_ne!(i.generation, first.generation, "a reused id has a new generation");
            seen_reuse = true;
        }
        keep.push(r);
    }
    assert!(seen_reuse, "ids are reused");
    let ids: std::collections::HashSet<u32> = keep.iter().map(|r| r.info().unwrap().id).collect();
    assert_eq!(ids.len(), keep.len(), "live regions have distinct ids");
}

#[test]
fn region_fds_refuse_queue_operations_and_vice_versa() {
    require_module();
    let r = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
    let fd = rustix::io::dup(&r).unwrap();
    assert_eq!(kring::Sender::from_fd(fd).unwrap_err(), Error::NotBound);
    let q = kring::Queue::create(kring::QueueConfig::new(4, 8), &kring::CreateOptions::default()).unwrap();
    // SAFETY: KRING_IOC_REGION_INFO is _IOR of KringRegionInfo, an integer-only struct.
    let e = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Getter::<{ KRING_IOC_REGION_INFO }, KringRegionInfo>::new()) };
    assert_eq!(e.unwrap_err(), Errno::NOTCONN);
}

#[test]
fn a_mapping_made_before_sealing_cannot_write_after_it() {
    require_module();
    let r = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
    r.write(0, b"before").unwrap();
    // Mapped while still unsealed: read-only all the same, and it stays that way.
    let p = map(&r, 4096, ProtFlags::READ).unwrap();
    r.seal().unwrap();
    // SAFETY: `p` is our 4096-byte mapping.
    assert_eq!(unsafe { mprotect(p.cast(), 4096, MprotectFlags::READ | MprotectFlags::WRITE) }.unwrap_err(), Errno::ACCESS);
    let mem = std::fs::OpenOptions::new().write(true).open("/proc/self/mem").unwrap();
    assert!(mem.write_at(b"after", p as u64).is_err());
    // SAFETY: reading our own mapping.
    assert_eq!(unsafe { std::slice::from_raw_parts(p, 6) }, b"before");
    // SAFETY: unmapping our own mapping.
    unsafe { munmap(p.cast(), 4096).unwrap() };
}

#[test]
fn another_process_cannot_write_a_sealed_region_through_proc_pid_mem() {
    require_module();
    let r = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
    r.write(0, b"genuine").unwrap();
    r.seal().unwrap();
    let bytes = r.stable_bytes().unwrap().unwrap();
    // A root process (ptrace access to us) tries to poke the bytes through /proc/<pid>/mem.
    let script = format!(
        "printf FORGED | dd of=/proc/{}/mem bs=1 seek={} conv=notrunc 2>/dev/null",
        std::process::id(),
        bytes.as_ptr() as usize
    );
    let st = std::process::Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(!st.success(), "the write must fail");
    assert_eq!(&bytes[..7], b"genuine");
}

#[test]
fn a_forked_child_cannot_write_the_sealed_region_it_inherited() {
    require_module();
    let r = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
    r.write(0, b"parent").unwrap();
    r.seal().unwrap();
    let bytes = r.stable_bytes().unwrap().unwrap();
    let addr = bytes.as_ptr() as usize;
    // SAFETY: the child only makes system calls (mprotect, open/pwrite/close) and _exit, which
    // are async-signal-safe; it touches no lock or allocator state inherited from threads.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: system calls on the inherited mapping; `_exit` without running destructors.
        unsafe {
            let mut code = 0;
            if libc::mprotect(addr as *mut libc::c_void, 4096, libc::PROT_READ | libc::PROT_WRITE) == 0 {
                code |= 1;
            }
            let fd = libc::open(c"/proc/self/mem".as_ptr(), libc::O_RDWR);
            if fd >= 0 && libc::pwrite(fd, b"child!".as_ptr().cast(), 6, addr as libc::off_t) == 6 {
                code |= 2;
            }
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status));
    assert_eq!(libc::WEXITSTATUS(status), 0, "bit 1: mprotect succeeded, bit 2: /proc/self/mem write succeeded");
    assert_eq!(&bytes[..6], b"parent");
}
