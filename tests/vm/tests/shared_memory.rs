// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The mmap interface under attack, poll/epoll readiness, and fd passing.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use kring::uapi::*;
use kring::{CreateOptions, Error, MsgPriority, Queue, QueueConfig};
use kring_vmtests::require_module;
use rustix::io::Errno;
use rustix::mm::{mmap, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};

fn anon(ring: u32, max: u32) -> kring::KernelQueue {
    Queue::create(QueueConfig::new(ring, max), &CreateOptions::default()).unwrap()
}

/// Maps `len` bytes at `off` of `fd`; the raw result, so refusals can be checked.
fn map(fd: impl AsFd, off: u64, len: usize, prot: ProtFlags, flags: MapFlags) -> Result<*mut u8, Errno> {
    // SAFETY: a new mapping chosen by the kernel; it aliases nothing in this process.
    unsafe { mmap(std::ptr::null_mut(), len, prot, flags, fd, off).map(|p| p.cast()) }
}

fn unmap(p: *mut u8, len: usize) {
    // SAFETY: `p` was returned by `map` with this length and is not used afterwards.
    unsafe { munmap(p.cast(), len).unwrap() };
}

/// Fills `len` bytes at `p` with pseudo-random garbage.
fn scribble(p: *mut u8, len: usize, seed: &mut u64) {
    for i in 0..len {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        // SAFETY: `p..p+len` is a writable mapping owned by the caller; this is raw shared
        // memory the kernel must treat as hostile, so garbage is the point.
        unsafe { p.add(i).write_volatile(*seed as u8) };
    }
}

#[test]
fn read_only_areas_cannot_be_mapped_or_made_writable() {
    require_module();
    let q = anon(8, 64);
    let info = q.receiver().info().unwrap();
    let rw = ProtFlags::READ | ProtFlags::WRITE;
    for (off, len) in [(KRING_OFF_HEADER, info.header_len), (KRING_OFF_ENTRIES, info.entries_len), (KRING_OFF_PAYLOAD, info.payload_len)] {
        let len = len as usize;
        assert_eq!(map(&q, off, len, rw, MapFlags::SHARED).unwrap_err(), Errno::ACCESS, "PROT_WRITE at {off:#x}");
        assert_eq!(map(&q, off, len, ProtFlags::READ | ProtFlags::EXEC, MapFlags::SHARED).unwrap_err(), Errno::ACCESS);
        let p = map(&q, off, len, ProtFlags::READ, MapFlags::SHARED).unwrap();
        // SAFETY: `p..p+len` is our mapping.
        let r = unsafe { mprotect(p.cast(), len, MprotectFlags::READ | MprotectFlags::WRITE) };
        assert_eq!(r.unwrap_err(), Errno::ACCESS, "mprotect(PROT_WRITE) at {off:#x}");
        unmap(p, len);
    }
    // Private mappings, unknown offsets and oversized lengths are refused.
    assert_eq!(map(&q, KRING_OFF_HEADER, 4096, ProtFlags::READ, MapFlags::PRIVATE).unwrap_err(), Errno::INVAL);
    assert_eq!(map(&q, 0x5000_0000, 4096, ProtFlags::READ, MapFlags::SHARED).unwrap_err(), Errno::INVAL);
    assert_eq!(map(&q, KRING_OFF_HEADER, 8192, ProtFlags::READ, MapFlags::SHARED).unwrap_err(), Errno::INVAL);
}

#[test]
fn senders_cannot_map_the_receivers_areas() {
    require_module();
    let name = kring_vmtests::unique_name("maps");
    let _rx = Queue::create_receiver(QueueConfig::new(8, 64), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    let info = tx.info().unwrap();
    for (off, len) in [(KRING_OFF_ENTRIES, info.entries_len), (KRING_OFF_PAYLOAD, info.payload_len)] {
        assert_eq!(map(&tx, off, len as usize, ProtFlags::READ, MapFlags::SHARED).unwrap_err(), Errno::ACCESS);
    }
    // ...and may read the consumer page, but not write it.
    let rw = ProtFlags::READ | ProtFlags::WRITE;
    assert_eq!(map(&tx, KRING_OFF_CONSUMER, 4096, rw, MapFlags::SHARED).unwrap_err(), Errno::ACCESS);
    Queue::unlink(&name).unwrap();
}

#[test]
fn garbage_consumer_indices_are_refused_and_lose_nothing() {
    require_module();
    let q = anon(8, 16);
    let other = anon(8, 16);
    for i in 0..3u8 {
        q.send(&[i; 4], MsgPriority::ALL[i as usize]).unwrap();
    }
    other.send(b"safe", MsgPriority::Low).unwrap();
    let p = map(&q, KRING_OFF_CONSUMER, 4096, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED).unwrap();
    let heads = p.cast::<u32>();
    let mut seed = 0x9e3779b97f4a7c15u64;
    for round in 0..200 {
        scribble(p, 4096, &mut seed);
        if round % 2 == 0 {
            // A classic: skip far past the tail.
            // SAFETY: in our writable mapping.
            unsafe { heads.write_volatile(1000) };
        }
        // The kernel refuses the impossible indices and tells the receiver, and only it.
        let mut buf = [0u8; 16];
        assert_eq!(q.receiver().recv_copy(&mut buf, Some(Duration::ZERO)).unwrap_err(), Error::CorruptRing, "round {round}");
        q.send(b"x", MsgPriority::Low).unwrap_or(()); // senders are unaffected (or the queue is full)
        assert_eq!(other.len(), 1);
    }
    // Restore sane indices: everything the kernel accepted is still there.
    // SAFETY: in our writable mapping.
    unsafe { std::ptr::write_bytes(p, 0, 4096) };
    unmap(p, 4096);
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    while let Ok(n) = q.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    assert_eq!(&got[..3], &[vec![2u8; 4], vec![1u8; 4], vec![0u8; 4]]);
    let info = q.receiver().info().unwrap();
    assert_eq!(info.len, 0);
    assert_eq!(info.send_count, info.recv_count);
    let mut b = [0u8; 16];
    assert_eq!(other.recv(&mut b), Ok(4));
}

/// `KRING_IOC_ENTER` with a raw argument (the library never sends garbage).
/// Returns `(submitted, error)`.
fn raw_enter_arg(fd: impl AsFd, mut arg: KringEnter) -> Result<(u32, u32), Errno> {
    // SAFETY: the opcode matches `KringEnter` (an integer-only struct) exactly.
    unsafe { rustix::ioctl::ioctl(fd, rustix::ioctl::Updater::<{ KRING_IOC_ENTER }, KringEnter>::new(&mut arg)) }?;
    Ok((arg.submitted, arg.error))
}

fn raw_enter(fd: impl AsFd, start: u32, count: u32) -> Result<u32, Errno> {
    let arg = KringEnter { start, count, flags: 0, timeout_ms: 0, submitted: 0, error: 0 };
    let (n, error) = raw_enter_arg(fd, arg)?;
    // A short batch says why it stopped; a complete one says nothing.
    if n < count {
        let why = [Errno::INVAL, Errno::MSGSIZE, Errno::NOSPC].map(|e| e.raw_os_error() as u32);
        assert!(why.contains(&error), "batch stopped at {n} of {count} with error {error}");
    } else {
        assert_eq!(error, 0);
    }
    Ok(n)
}

#[test]
fn garbage_submission_entries_get_errors_and_break_nothing() {
    require_module();
    let q = anon(1024, 512);
    let info = q.receiver().info().unwrap();
    let len = info.submit_len as usize;
    let p = map(&q, KRING_OFF_SUBMIT, len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED).unwrap();
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut accepted = 0u64;
    for round in 0..500 {
        scribble(p, 16 * 256, &mut seed); // entries: fully random
        let start = (seed % 300) as u32;
        let count = ((seed >> 16) % 300) as u32;
        match raw_enter(&q, start, count) {
            Ok(n) => {
                assert!(n <= count);
                accepted += n as u64;
            }
            Err(e) => assert!(
                [Errno::INVAL, Errno::MSGSIZE, Errno::NOSPC].contains(&e),
                "round {round}: unexpected {e:?}"
            ),
        }
        // Valid entries written by a well-behaved sender still go through.
        if round % 50 == 0 {
            while q.recv(&mut [0u8; 512]).is_ok() {}
        }
    }
    // Out-of-range batches, and a non-zero `error` on input.
    let in_error = KringEnter { start: 0, count: 1, flags: 0, timeout_ms: 0, submitted: 0, error: 1 };
    assert_eq!(raw_enter_arg(&q, in_error), Err(Errno::INVAL));
    assert_eq!(raw_enter(&q, 250, 7), Err(Errno::INVAL));
    assert_eq!(raw_enter(&q, u32::MAX, 2), Err(Errno::INVAL));
    unmap(p, len);
    // The queue is consistent: whatever was accepted is well formed and countable.
    let mut buf = [0u8; 512];
    while let Ok(n) = q.recv(&mut buf) {
        assert!(n <= 512);
    }
    let info = q.receiver().info().unwrap();
    assert_eq!(info.send_count, accepted);
    assert_eq!(info.recv_count, accepted);
    q.send(b"still works", MsgPriority::High).unwrap();
    assert_eq!(q.recv(&mut buf), Ok(11));
}

fn poll_one(fd: impl AsFd, events: rustix::event::PollFlags) -> rustix::event::PollFlags {
    let mut fds = [rustix::event::PollFd::new(&fd, events)];
    let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
    rustix::event::poll(&mut fds, Some(&zero)).unwrap();
    fds[0].revents()
}

#[test]
fn poll_reports_readable_and_writable() {
    use rustix::event::PollFlags as F;
    require_module();
    let name = kring_vmtests::unique_name("poll");
    let rx = Queue::create_receiver(QueueConfig::new(2, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    assert!(!poll_one(&rx, F::IN).contains(F::IN));
    assert!(poll_one(&tx, F::OUT).contains(F::OUT));
    tx.send(b"1", MsgPriority::Low).unwrap();
    tx.send(b"2", MsgPriority::Low).unwrap();
    assert!(poll_one(&rx, F::IN).contains(F::IN));
    assert!(!poll_one(&tx, F::OUT).contains(F::OUT), "full");
    // Consuming through the mapping makes the sender writable again (the receiver notifies
    // because the poller asked for it).
    rx.recv(&mut [0u8; 8]).unwrap();
    assert!(poll_one(&tx, F::OUT).contains(F::OUT));
    // A blocking poll is woken by a send from another thread.
    rx.recv(&mut [0u8; 8]).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        tx.send(b"3", MsgPriority::Low).unwrap();
        tx
    });
    let mut fds = [rustix::event::PollFd::new(&rx, F::IN)];
    let ten = rustix::time::Timespec { tv_sec: 10, tv_nsec: 0 };
    assert_eq!(rustix::event::poll(&mut fds, Some(&ten)).unwrap(), 1);
    let tx = t.join().unwrap();
    Queue::unlink(&name).unwrap();
    // Hang-up once no peer can exist: unnamed, sender gone.
    drop(tx);
    rx.recv(&mut [0u8; 8]).unwrap();
    assert!(poll_one(&rx, F::IN).contains(F::HUP));
}

#[test]
fn epoll_waits_for_messages() {
    use rustix::event::epoll;
    require_module();
    let name = kring_vmtests::unique_name("epoll");
    let rx = Queue::create_receiver(QueueConfig::new(8, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    epoll::add(&ep, &rx, epoll::EventData::new_u64(7), epoll::EventFlags::IN).unwrap();
    let mut events: Vec<epoll::Event> = Vec::with_capacity(4);
    let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
    epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), Some(&zero)).unwrap();
    assert_eq!(events.len(), 0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        tx.send(b"e", MsgPriority::High).unwrap();
    });
    let ten = rustix::time::Timespec { tv_sec: 10, tv_nsec: 0 };
    epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), Some(&ten)).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data.u64(), 7);
    t.join().unwrap();
    assert_eq!(rx.recv(&mut [0u8; 8]), Ok(1));
    Queue::unlink(&name).unwrap();
}

#[test]
fn queue_fds_pass_over_unix_sockets_as_capabilities() {
    use rustix::net::*;
    require_module();
    // An anonymous queue: the only way in is an fd that already refers to it.
    let q = Queue::create(QueueConfig::new(8, 32), &CreateOptions::default()).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut cmsg = RecvAncillaryBuffer::new(&mut space);
        let mut byte = [0u8; 1];
        recvmsg(&b, &mut [IoSliceMut::new(&mut byte)], &mut cmsg, RecvFlags::empty()).unwrap();
        let fd: OwnedFd = cmsg
            .drain()
            .find_map(|m| match m {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            })
            .expect("an fd");
        let tx = kring::Sender::from_fd(fd).unwrap();
        tx.send(b"through a socket", MsgPriority::Normal).unwrap();
    });
    let fds = [q.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    assert!(cmsg.push(SendAncillaryMessage::ScmRights(&fds)));
    sendmsg(&a, &[IoSlice::new(b"q")], &mut cmsg, SendFlags::empty()).unwrap();
    t.join().unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(q.recv(&mut buf), Ok(16));
    assert_eq!(&buf[..16], b"through a socket");
}
