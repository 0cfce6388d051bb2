// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Zero-copy descriptors: validated in the kernel against the region's real state, delivered
//! through the same rings, read by the receiver from its read-only mapping of the region.

use std::os::fd::{AsFd, AsRawFd};

use kring::uapi::*;
use kring::{CreateOptions, Error, Message, MsgPriority, PayloadKind, Queue, QueueConfig, Region, RegionPolicy};
use kring_vmtests::require_module;
use rustix::io::Errno;

fn queue() -> kring::KernelQueue {
    Queue::create(QueueConfig::new(16, 64), &CreateOptions::default()).unwrap()
}

fn vector(seed: u32) -> Vec<u8> {
    (0..768u32).flat_map(|i| ((i * 31 + seed) as f32 * 0.5).to_le_bytes()).collect()
}

fn sealed(bytes: &[u8]) -> Region {
    let r = Region::create(RegionPolicy::Immutable { size: bytes.len() as u64 }).unwrap();
    r.write(0, bytes).unwrap();
    r.seal().unwrap();
    r
}

#[test]
fn descriptors_are_validated_against_the_real_region() {
    require_module();
    let q = queue();
    let tx = q.sender();
    let slab = Region::create(RegionPolicy::Slab { slot_size: 64, slot_count: 4 }).unwrap();
    assert_eq!(tx.send_descriptor(&slab, 0, 64, MsgPriority::Low), Err(Error::InvalidDescriptorRegion));
    let imm = Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap();
    assert_eq!(tx.send_descriptor(&imm, 0, 16, MsgPriority::Low), Err(Error::RegionNotStable), "unsealed");
    imm.seal().unwrap();
    assert!(matches!(tx.send_descriptor(&imm, 0, 0, MsgPriority::Low), Err(Error::InvalidArgument { .. })), "empty");
    assert!(matches!(tx.send_descriptor(&imm, 4000, 97, MsgPriority::Low), Err(Error::InvalidArgument { .. })), "past the end");
    assert!(matches!(tx.send_descriptor(&imm, u64::MAX, 2, MsgPriority::Low), Err(Error::InvalidArgument { .. })), "overflow");
    let app = Region::create(RegionPolicy::AppendOnly { max_size: 4096 }).unwrap();
    app.append(&[5u8; 100]).unwrap();
    assert_eq!(tx.send_descriptor(&app, 50, 51, MsgPriority::Low), Err(Error::RegionNotStable), "past the watermark");
    tx.send_descriptor(&app, 50, 50, MsgPriority::Low).unwrap();
    tx.send_descriptor(&imm, 4000, 96, MsgPriority::High).unwrap();
    assert_eq!(q.len(), 2, "only the valid ones were queued");
    // A queue whose messages cannot hold a descriptor refuses it cleanly.
    let tiny = Queue::create(QueueConfig::new(4, 8), &CreateOptions::default()).unwrap();
    assert_eq!(tiny.sender().send_descriptor(&imm, 0, 8, MsgPriority::Low), Err(Error::MessageTooLarge));
    // Something that is not a region fd is refused.
    let arg = KringSendDesc { region_fd: q.as_raw_fd(), flags: 0, offset: 0, length: 1, priority: 0, pad: [0; 3], timeout_ms: 0, reserved: 0 };
    // SAFETY: KRING_IOC_SEND_DESC is _IOW of KringSendDesc, an integer-only struct.
    let r = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_SEND_DESC }, KringSendDesc>::new(arg)) };
    assert_eq!(r.unwrap_err(), Errno::BADF);
    let bad = KringSendDesc { region_fd: 9999, ..arg };
    // SAFETY: as above.
    let r = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_SEND_DESC }, KringSendDesc>::new(bad)) };
    assert_eq!(r.unwrap_err(), Errno::BADF);
}

#[test]
fn vectors_by_descriptor_are_read_without_copies() {
    require_module();
    let q = queue();
    let vectors: Vec<Vec<u8>> = (0..8).map(vector).collect();
    let all: Vec<u8> = vectors.concat();
    let region = sealed(&all);
    for i in 0..8u64 {
        q.sender().send_descriptor(&region, i * 3072, 3072, MsgPriority::Normal).unwrap();
    }
    q.send(b"inline too", MsgPriority::Low).unwrap();
    let mut buf = [0u8; 64];
    for (i, v) in vectors.iter().enumerate() {
        match q.receiver().recv_message(&mut buf).unwrap() {
            Message::Descriptor { info, descriptor, region: view } => {
                assert_eq!((info.kind, info.len, descriptor.length), (PayloadKind::Descriptor, 24, 3072));
                let bytes = view.bytes(&descriptor).unwrap();
                assert_eq!(bytes, &v[..], "vector {i}");
                // Zero copy: the bytes are the region's mapping, not our buffer.
                assert!(!std::ptr::eq(bytes.as_ptr(), buf.as_ptr()));
            }
            m => panic!("expected a descriptor, got {m:?}"),
        }
    }
    assert!(matches!(q.receiver().recv_message(&mut buf).unwrap(), Message::Inline(i) if &buf[..i.len] == b"inline too"));
}

#[test]
fn a_region_freed_by_its_creator_lives_while_its_descriptor_is_queued() {
    require_module();
    let q = queue();
    let v = vector(42);
    let region = sealed(&v);
    q.sender().send_descriptor(&region, 0, v.len() as u32, MsgPriority::Urgent).unwrap();
    let (id, generation) = (region.info().unwrap().id, region.info().unwrap().generation);
    drop(region); // the creator lets go of everything
    let mut buf = [0u8; 64];
    let Message::Descriptor { descriptor, region: view, .. } = q.receiver().recv_message(&mut buf).unwrap() else { panic!() };
    assert_eq!((descriptor.region_id, descriptor.generation), (id, generation));
    assert_eq!(view.bytes(&descriptor).unwrap(), &v[..], "the right bytes, after the creator freed it");
}

fn region_open(queue_fd: i32, id: u32, generation: u32) -> Result<rustix::fd::OwnedFd, Errno> {
    let fd = rustix::fs::open("/dev/kring", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()).unwrap();
    let arg = KringRegionOpen { queue_fd, flags: 0, region_id: id, generation };
    // SAFETY: KRING_IOC_REGION_OPEN is _IOW of KringRegionOpen, an integer-only struct.
    unsafe { rustix::ioctl::ioctl(fd.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_REGION_OPEN }, KringRegionOpen>::new(arg)) }?;
    Ok(fd)
}

#[test]
fn regions_can_only_be_opened_through_a_queued_descriptor() {
    require_module();
    let q = queue();
    let region = sealed(&[9u8; 4096]);
    let i = region.info().unwrap();
    // Not granted: no descriptor to it is queued.
    assert_eq!(region_open(q.as_raw_fd(), i.id, i.generation).unwrap_err(), Errno::ACCESS);
    // Granted while a descriptor is queued, read-only.
    q.sender().send_descriptor(&region, 0, 4096, MsgPriority::Low).unwrap();
    let fd = region_open(q.as_raw_fd(), i.id, i.generation).unwrap();
    let w = KringRegionWrite { offset: 0, addr: [0u8; 1].as_ptr() as u64, len: 1, flags: 0 };
    // SAFETY: KRING_IOC_REGION_WRITE is _IOW of KringRegionWrite; the kernel checks `addr`.
    let r = unsafe { rustix::ioctl::ioctl(fd.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_REGION_WRITE }, KringRegionWrite>::new(w)) };
    assert_eq!(r.unwrap_err(), Errno::PERM, "a receiver's region fd cannot write");
    // SAFETY: asking for a new mapping; refused.
    let m = unsafe {
        rustix::mm::mmap(std::ptr::null_mut(), 4096, rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE, rustix::mm::MapFlags::SHARED, &fd, 0)
    };
    assert_eq!(m.unwrap_err(), Errno::ACCESS);
    // Only the receiver may open: a send-only fd of the same queue may not.
    let name = kring_vmtests::unique_name("desc");
    let rx = Queue::create_receiver(QueueConfig::new(4, 64), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    tx.send_descriptor(&region, 0, 10, MsgPriority::Low).unwrap();
    assert_eq!(region_open(tx.as_raw_fd(), i.id, i.generation).unwrap_err(), Errno::BADF);
    assert!(region_open(rx.as_raw_fd(), i.id, i.generation).is_ok());
    Queue::unlink(&name).unwrap();
    // Once the region is gone and its id reused, the old handle is stale.
    drop((fd, rx, tx, q));
    drop(region);
    let q2 = queue();
    let mut fresh = Vec::new();
    for _ in 0..8 {
        fresh.push(Region::create(RegionPolicy::Immutable { size: 4096 }).unwrap());
    }
    assert!(fresh.iter().any(|r| r.info().unwrap().id == i.id), "the id was reused");
    assert_eq!(region_open(q2.as_raw_fd(), i.id, i.generation).unwrap_err(), Errno::STALE);
}

#[test]
fn descriptors_go_through_the_batched_submission_path() {
    require_module();
    let q = queue();
    let v = vector(7);
    let region = sealed(&v);
    let info = q.receiver().info().unwrap();
    let len = info.submit_len as usize;
    // SAFETY: a new shared mapping of our own submission area.
    let p: *mut u8 = unsafe {
        rustix::mm::mmap(std::ptr::null_mut(), len, rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE, rustix::mm::MapFlags::SHARED, &q, KRING_OFF_SUBMIT)
    }
    .unwrap()
    .cast();
    let data = (info.submit_len - info.sq_data_size as u64) as usize;
    let entries = [
        (KringDescSubmit { region_fd: region.as_raw_fd(), length: 3072, offset: 0 }, MsgPriority::High),
        (KringDescSubmit { region_fd: 9999, length: 1, offset: 0 }, MsgPriority::High),
    ];
    for (i, (ds, prio)) in entries.iter().enumerate() {
        let sqe = KringSqe { offset: (i * 16) as u32, len: 16, priority: *prio as u8, flags: KRING_SQE_DESC, reserved: 0, reserved2: 0 };
        // SAFETY: inside our writable mapping of the submission area (entries, then data).
        unsafe {
            p.add(i * 16).cast::<KringSqe>().write_volatile(sqe);
            p.add(data + i * 16).cast::<KringDescSubmit>().write_volatile(*ds);
        }
    }
    let mut arg = KringEnter { start: 0, count: 2, flags: 0, timeout_ms: 0, submitted: 0, error: 0 };
    // SAFETY: KRING_IOC_ENTER is _IOWR of KringEnter, an integer-only struct.
    unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Updater::<{ KRING_IOC_ENTER }, KringEnter>::new(&mut arg)) }.unwrap();
    assert_eq!(arg.submitted, 1, "the valid descriptor went in, the bad fd stopped the batch");
    assert_eq!(arg.error, Errno::BADF.raw_os_error() as u32, "and the batch says why");
    // SAFETY: unmapping our own mapping.
    unsafe { rustix::mm::munmap(p.cast(), len).unwrap() };
    let mut buf = [0u8; 64];
    let Message::Descriptor { descriptor, region: view, .. } = q.receiver().recv_message(&mut buf).unwrap() else { panic!() };
    assert_eq!(view.bytes(&descriptor).unwrap(), &v[..]);
}

#[test]
fn descriptor_encoding_is_the_seeds_24_bytes() {
    let d = kring::MessageDescriptor { region_id: 0x01020304, generation: 5, offset: 0x1122334455667788, length: 9, pad: 0 };
    let b = d.to_bytes();
    assert_eq!(b.len(), 24);
    assert_eq!(&b[..4], &[4, 3, 2, 1]);
    assert_eq!(kring::MessageDescriptor::from_bytes(&b), Some(d));
    let mut bad = b;
    bad[20] = 1;
    assert_eq!(kring::MessageDescriptor::from_bytes(&bad), None, "padding must be zero");
    assert_eq!(kring::MessageDescriptor::from_bytes(&b[..23]), None);
}

/// `queue_fd` must be a receiving queue fd: every other kind of fd is `EBADF`, as documented
/// (an unbound kring fd and a region fd used to be `ENOTCONN`).
#[test]
fn region_open_through_anything_but_a_receiving_queue_fd_is_ebadf() {
    require_module();
    let q = queue();
    let region = sealed(&[7u8; 4096]);
    let i = region.info().unwrap();
    q.sender().send_descriptor(&region, 0, 4096, MsgPriority::Low).unwrap();
    let unbound = rustix::fs::open("/dev/kring", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()).unwrap();
    let null = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()).unwrap();
    for (what, fd) in [
        ("an unbound kring fd", unbound.as_raw_fd()),
        ("a region fd", region.as_fd().as_raw_fd()),
        ("a file that is not kring", null.as_raw_fd()),
        ("a closed fd number", 1 << 20),
        ("a negative fd", -1),
    ] {
        assert_eq!(region_open(fd, i.id, i.generation).unwrap_err(), Errno::BADF, "{what}");
    }
    // The descriptor is still there for the real receiver.
    assert!(region_open(q.as_raw_fd(), i.id, i.generation).is_ok());
}
