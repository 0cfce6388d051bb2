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
use rustix::mm::{MapFlags, ProtFlags};
use std::time::{Duration, Instant};

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

fn recv_raw(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8], timeout_ms: u32) -> Result<u32, Errno> {
    let mut r = KringRecv { addr: buf.as_mut_ptr() as u64, len: buf.len() as u32, flags: 0, timeout_ms, msg_len: 0, seq: 0, priority: 0, kind: 0, pad: [0; 6] };
    // SAFETY: KRING_IOC_RECV is _IOWR of KringRecv, an integer-only struct; the kernel writes at
    // most `len` bytes at `addr`, which `buf` provides.
    unsafe { ioctl(fd, Updater::<{ KRING_IOC_RECV }, KringRecv>::new(&mut r)) }?;
    Ok(r.msg_len)
}

/// Finding 3: `recv_lock` was held across a receiver's whole wait, so a second `RECV` with
/// timeout 0 slept, uninterruptibly, for as long as the first one's timeout.
#[test]
fn a_recv_with_timeout_0_does_not_wait_for_another_threads_blocked_recv() {
    require_module();
    let q = kring::Queue::create(kring::QueueConfig::new(4, 64), &kring::CreateOptions::default()).unwrap();
    let fd = q.receiver().as_fd();
    std::thread::scope(|s| {
        let blocked = s.spawn(move || {
            let mut buf = [0u8; 64];
            let t = Instant::now();
            (recv_raw(fd, &mut buf, 4000), t.elapsed(), buf)
        });
        std::thread::sleep(Duration::from_millis(400));
        let mut buf = [0u8; 64];
        let t = Instant::now();
        assert_eq!(recv_raw(fd, &mut buf, 0), Err(Errno::AGAIN));
        let quick = t.elapsed();
        let t = Instant::now();
        assert_eq!(recv_raw(fd, &mut buf, 300), Err(Errno::TIMEDOUT));
        let short = t.elapsed();
        assert!(quick < Duration::from_millis(500), "timeout 0 waited {quick:?} for the other receive");
        assert!(short < Duration::from_millis(1500), "a 300 ms receive waited {short:?}");
        q.send(b"for the first", kring::MsgPriority::Normal).unwrap();
        let (r, waited, got) = blocked.join().unwrap();
        assert_eq!(r, Ok(13));
        assert_eq!(&got[..13], b"for the first");
        assert!(waited < Duration::from_millis(3500), "the blocked receive was not woken: {waited:?}");
    });
}

/// Finding 3: `Binding::submit` was held across `ENTER`'s wait for room, and `->mmap` of the
/// submission area takes it under `mmap_lock`: a second thread mapping it slept
/// uninterruptibly, with `mmap_lock` held, until the batch's timeout.
#[test]
fn mapping_the_submission_area_does_not_wait_for_a_batch_waiting_for_room() {
    require_module();
    let q = kring::Queue::create(kring::QueueConfig::new(4, 64), &kring::CreateOptions::default()).unwrap();
    let tx = q.sender();
    for _ in 0..4 {
        tx.send(b"fill", kring::MsgPriority::Normal).unwrap();
    }
    let len = tx.info().unwrap().submit_len as usize;
    std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            let t = Instant::now();
            let r = tx.send_batch(&[(kring::MsgPriority::Normal, &b"later"[..])], Duration::from_millis(3000));
            (r, t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(400));
        let t = Instant::now();
        // SAFETY: a new shared mapping chosen by the kernel; it aliases nothing here and is
        // unmapped below without having been dereferenced.
        let p = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, tx.as_fd(), KRING_OFF_SUBMIT)
        }
        .unwrap();
        let took = t.elapsed();
        // SAFETY: the mapping made just above, `len` bytes long.
        unsafe { rustix::mm::munmap(p, len) }.unwrap();
        let (r, waited) = waiting.join().unwrap();
        assert!(took < Duration::from_millis(500), "mmap waited {took:?} for the batch");
        assert!(waited >= Duration::from_millis(2500), "the batch did not wait for room: {r:?} after {waited:?}");
        assert!(matches!(r, Err(kring::Error::Timeout) | Ok(0)), "{r:?}");
    });
}

const PEER: &str = env!("CARGO_BIN_EXE_kring-peer");

/// As user `uid`, creates named queues `PREFIX-0`, `PREFIX-1`, ... of `ring` x `msg` until one
/// is refused; they outlive the process, as a hostile user's would. Returns how many were
/// created and the refusal.
fn fill_as(uid: u32, prefix: &str, ring: u32, msg: u32) -> (u32, String) {
    let out = std::process::Command::new(PEER)
        .args(["as", &uid.to_string(), &uid.to_string(), "fill", prefix, &ring.to_string(), &msg.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8(out.stdout).unwrap();
    let (n, e) = s.trim().split_once(' ').unwrap();
    (n.parse().unwrap(), e.to_string())
}

/// Root (an administrator) removes what `fill_as` left.
fn unlink_all(prefix: &str, n: u32) {
    for i in 0..n {
        kring::Queue::unlink(&format!("{prefix}-{i}")).unwrap();
    }
}

/// Finding 2: any user could take all `max_queues` slots with named queues that outlive their
/// fds. Now each user has `max_user_queues` (256): the 257th is `EDQUOT` (`UserLimit`), other
/// users can still create queues, and what is freed is given back.
#[test]
fn one_user_cannot_take_every_queue_and_gets_its_quota_back() {
    require_module();
    let prefix = kring_vmtests::unique_name("quota-n");
    let (n, e) = fill_as(4321, &prefix, 4, 64);
    assert_eq!((n, e.as_str()), (256, "UserLimit"), "max_user_queues per user");
    // Another user is not affected.
    let q = kring::Queue::create(kring::QueueConfig::new(4, 64), &kring::CreateOptions::default()).unwrap();
    drop(q);
    unlink_all(&prefix, n);
    // Unlinked, closed queues are freed and their charge given back: the user can create again.
    let (again, e) = fill_as(4321, &prefix, 4, 64);
    assert_eq!((again, e.as_str()), (256, "UserLimit"));
    unlink_all(&prefix, again);
}

/// Finding 2, bytes: each queue is charged its real memory (shared areas in whole pages plus
/// the kernel's tables) against `max_user_bytes` (256 MiB): queues of 4096 slots of 4 KiB take
/// a little over 16 MiB each, so 14 or 15 fit and the next one is `UserLimit`.
#[test]
fn one_user_cannot_pin_more_than_its_bytes() {
    require_module();
    let prefix = kring_vmtests::unique_name("quota-b");
    let (n, e) = fill_as(4322, &prefix, 4096, 4096);
    assert_eq!(e, "UserLimit");
    assert!((14..=15).contains(&n), "{n} queues of 16 MiB fit in 256 MiB");
    unlink_all(&prefix, n);
}

/// `REGION_APPEND` used to bounce the whole append (up to 256 MiB) into one kernel buffer per
/// call, so N concurrent appends held N times that. Now it copies in 64 KiB chunks under a claim
/// of the region's tail: concurrent appends are serialised whole (never interleaved), and one
/// whose source faults half-way commits nothing.
#[test]
fn large_appends_are_chunked_whole_and_a_failed_one_commits_nothing() {
    require_module();
    const MIB: usize = 1 << 20;
    let r = Region::create(RegionPolicy::AppendOnly { max_size: 4 * MIB as u64 }).unwrap();
    std::thread::scope(|s| {
        for b in [0xa1u8, 0xb2] {
            let r = &r;
            s.spawn(move || {
                let data = vec![b; MIB + 12345];
                r.append(&data).unwrap();
            });
        }
    });
    let stable = r.stable_bytes().unwrap().unwrap();
    assert_eq!(stable.len(), 2 * (MIB + 12345));
    let (first, second) = stable.split_at(MIB + 12345);
    assert!(first.iter().all(|&x| x == first[0]) && second.iter().all(|&x| x == second[0]), "appends interleaved");
    assert_ne!(first[0], second[0]);

    // A source whose second half is not mapped: EFAULT after the first chunks were copied, and
    // the committed length does not move.
    let len = 256 * 1024;
    // SAFETY: a fresh private anonymous mapping of our own.
    let p = unsafe { rustix::mm::mmap_anonymous(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE) }.unwrap();
    // SAFETY: unmapping the second half of the mapping made above, which nothing else uses.
    unsafe { rustix::mm::munmap(p.cast::<u8>().add(len / 2).cast(), len / 2) }.unwrap();
    let before = r.info().unwrap().committed;
    assert_eq!(append_raw(&r, p as u64, len as u32), Err(Errno::FAULT));
    assert_eq!(r.info().unwrap().committed, before, "a failed append committed bytes");
    // SAFETY: unmapping the rest of our own mapping.
    unsafe { rustix::mm::munmap(p, len / 2) }.unwrap();
    // The region still takes appends after a failed one.
    assert_eq!(r.append(b"after").unwrap(), before + 5);
}
