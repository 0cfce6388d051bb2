// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Queue semantics against the real module: arguments and their exact errors, priority and
//! FIFO order, counters, peek, too-small buffers, blocking and timeouts, names, lifetimes.

use std::time::{Duration, Instant};

use kring::uapi::*;
use kring::{CreateOptions, Error, MsgPriority, PayloadKind, Queue, QueueConfig};
use kring_vmtests::{require_module, unique_name};

const P: [MsgPriority; 4] = MsgPriority::ALL;

fn anon(ring: u32, max: u32) -> kring::KernelQueue {
    Queue::create(QueueConfig::new(ring, max), &CreateOptions::default()).expect("create")
}

#[test]
fn create_rejects_bad_configurations_with_invalid_argument() {
    require_module();
    for (ring, max) in [(0, 8), (3, 8), (6, 8), (65536, 8), (1 << 20, 8), (8, 0), (8, (1 << 20) + 1), (8, u32::MAX)] {
        let e = Queue::create(QueueConfig::new(ring, max), &CreateOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "ring {ring} max {max}: {e:?}");
    }
    let e = Queue::create(QueueConfig::new(8, 8), &CreateOptions { name: None, mode: 0o1777, ..Default::default() }).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "mode: {e:?}");
    // The extremes that are allowed.
    anon(1, 1);
    anon(32768, 16);
    anon(1, 1 << 20);
}

#[test]
fn queue_over_the_memory_limit_is_out_of_memory() {
    require_module();
    // 32768 slots of 1 MiB: far over the default 64 MiB per-queue limit.
    let e = Queue::create(QueueConfig::new(32768, 1 << 20), &CreateOptions::default()).unwrap_err();
    assert_eq!(e, Error::OutOfMemory);
}

#[test]
fn send_and_receive_inline_messages() {
    require_module();
    let q = anon(8, 64);
    q.send(b"hello", MsgPriority::Normal).unwrap();
    q.send(b"", MsgPriority::Normal).unwrap(); // zero-length is a message too
    let mut buf = [0u8; 64];
    let m = q.recv_typed(&mut buf).unwrap();
    assert_eq!((&buf[..m.len], m.kind, m.priority, m.seq), (&b"hello"[..], PayloadKind::Inline, MsgPriority::Normal, 1));
    let m = q.recv_typed(&mut buf).unwrap();
    assert_eq!((m.len, m.seq), (0, 2));
    assert_eq!(q.recv(&mut buf), Err(Error::QueueEmpty));
}

#[test]
fn message_too_large_full_and_empty_are_named() {
    require_module();
    let q = anon(2, 16);
    assert_eq!(q.send(&[0u8; 17], MsgPriority::Low), Err(Error::MessageTooLarge));
    q.send(&[1u8; 16], MsgPriority::Low).unwrap();
    q.send(&[2u8; 16], MsgPriority::Urgent).unwrap();
    assert!(q.is_full());
    assert_eq!(q.send(b"x", MsgPriority::Urgent), Err(Error::QueueFull));
    let mut buf = [0u8; 16];
    assert_eq!(q.recv(&mut buf), Ok(16));
    assert_eq!(buf, [2u8; 16]);
    assert_eq!(q.recv(&mut buf), Ok(16));
    assert_eq!(buf, [1u8; 16]);
    assert_eq!(q.recv(&mut buf), Err(Error::QueueEmpty));
    // Nothing was lost or duplicated by the refused sends.
    assert_eq!((q.send_count(), q.recv_count()), (2, 2));
}

#[test]
fn strict_priority_and_fifo_within_a_priority() {
    require_module();
    let q = anon(64, 8);
    // 40 messages, priorities cycling in a scrambled order; payload = index.
    let order = [1usize, 0, 3, 2, 2, 0, 1, 3];
    let mut sent = Vec::new();
    for i in 0..40u32 {
        let p = P[order[i as usize % 8]];
        q.send(&i.to_le_bytes(), p).unwrap();
        sent.push((p, i));
    }
    let mut expected = sent.clone();
    // Highest priority first; stable sort keeps FIFO within a priority.
    expected.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    let mut buf = [0u8; 8];
    for (p, i) in expected {
        let m = q.recv_typed(&mut buf).unwrap();
        assert_eq!((m.priority, u32::from_le_bytes(buf[..4].try_into().unwrap())), (p, i));
    }
}

#[test]
fn a_later_higher_priority_message_overtakes_queued_lower_ones() {
    require_module();
    let q = anon(16, 8);
    for i in 0..5u8 {
        q.send(&[i], MsgPriority::Low).unwrap();
    }
    let mut buf = [0u8; 8];
    assert_eq!(q.recv(&mut buf), Ok(1));
    assert_eq!(buf[0], 0);
    q.send(&[100], MsgPriority::High).unwrap();
    assert_eq!(q.recv_typed(&mut buf).unwrap().priority, MsgPriority::High);
    assert_eq!(buf[0], 100);
    assert_eq!(q.recv(&mut buf), Ok(1));
    assert_eq!(buf[0], 1);
}

#[test]
fn buffer_too_small_reports_the_size_and_keeps_the_message() {
    require_module();
    let q = anon(4, 100);
    q.send(&[7u8; 50], MsgPriority::Normal).unwrap();
    let mut small = [0u8; 10];
    assert_eq!(q.recv(&mut small), Err(Error::BufferTooSmall { needed: 50 }));
    assert_eq!(q.len(), 1, "the message stays queued");
    // Through the kernel's copying path too.
    assert_eq!(q.receiver().recv_copy(&mut small, Some(Duration::ZERO)).unwrap_err(), Error::BufferTooSmall { needed: 50 });
    let mut big = [0u8; 100];
    assert_eq!(q.recv(&mut big), Ok(50));
    assert_eq!(&big[..50], &[7u8; 50]);
}

#[test]
fn peek_shows_the_next_message_without_consuming_it() {
    require_module();
    let q = anon(4, 16);
    assert_eq!(q.peek(), Err(Error::QueueEmpty));
    q.send(b"low", MsgPriority::Low).unwrap();
    q.send(b"urgent!", MsgPriority::Urgent).unwrap();
    let m = q.peek().unwrap();
    assert_eq!((m.len, m.priority, m.seq, m.kind), (7, MsgPriority::Urgent, 2, PayloadKind::Inline));
    assert_eq!(q.peek().unwrap(), m, "peek twice, same message");
    assert_eq!(q.len(), 2);
    let mut buf = [0u8; 16];
    assert_eq!(q.recv_typed(&mut buf).unwrap(), m);
}

#[test]
fn counters_from_the_mapping_match_the_kernel() {
    require_module();
    let q = anon(8, 8);
    assert!(q.is_empty() && !q.is_full());
    assert_eq!((q.len(), q.available()), (0, 8));
    for i in 0..5u8 {
        q.send(&[i], P[i as usize % 4]).unwrap();
    }
    let mut buf = [0u8; 8];
    q.recv(&mut buf).unwrap();
    q.recv(&mut buf).unwrap();
    assert_eq!((q.len(), q.available(), q.send_count(), q.recv_count()), (3, 5, 5, 2));
    let info = q.receiver().info().unwrap();
    assert_eq!((info.len, info.send_count, info.recv_count), (3, 5, 2));
    assert_eq!((info.ring_size, info.max_msg_size, info.rights), (8, 8, KRING_RIGHTS_ALL));
    assert_eq!(q.config(), QueueConfig::new(8, 8));
}

#[test]
fn recv_through_the_kernel_copy_path() {
    require_module();
    let q = anon(4, 32);
    q.send(b"one", MsgPriority::Low).unwrap();
    q.send(b"two", MsgPriority::High).unwrap();
    let mut buf = [0u8; 32];
    let m = q.receiver().recv_copy(&mut buf, Some(Duration::ZERO)).unwrap();
    assert_eq!((&buf[..m.len], m.priority), (&b"two"[..], MsgPriority::High));
    // The mapped view followed the kernel's consumption.
    assert_eq!(q.len(), 1);
    assert_eq!(q.recv(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"one");
    assert_eq!(q.receiver().recv_copy(&mut buf, Some(Duration::ZERO)).unwrap_err(), Error::QueueEmpty);
}

#[test]
fn receive_timeout_sleeps_about_as_long_as_asked() {
    require_module();
    let q = anon(4, 8);
    let mut buf = [0u8; 8];
    for ms in [50u64, 300] {
        let t0 = Instant::now();
        assert_eq!(q.recv_timeout(&mut buf, Some(Duration::from_millis(ms))), Err(Error::Timeout));
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(ms), "{ms} ms asked, woke after {took:?}");
        // Generous: the debug kernel runs under software emulation.
        assert!(took < Duration::from_millis(ms + 1500), "{ms} ms asked, woke after {took:?}");
    }
}

#[test]
fn blocking_receive_is_woken_by_a_sender_thread_on_another_fd() {
    require_module();
    let name = unique_name("wake");
    let rx = Queue::create_receiver(QueueConfig::new(4, 16), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(b"wake up", MsgPriority::Normal).unwrap();
    });
    let mut buf = [0u8; 16];
    let t0 = Instant::now();
    assert_eq!(rx.recv_timeout(&mut buf, Some(Duration::from_secs(20))), Ok(7));
    assert!(t0.elapsed() >= Duration::from_millis(250));
    t.join().unwrap();
    Queue::unlink(&name).unwrap();
}

#[test]
fn sender_waits_for_room_and_is_woken_by_mapped_consumption() {
    require_module();
    let name = unique_name("room");
    let rx = Queue::create_receiver(QueueConfig::new(2, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    tx.send(b"a", MsgPriority::Low).unwrap();
    tx.send(b"b", MsgPriority::Low).unwrap();
    let t = std::thread::spawn(move || {
        let t0 = Instant::now();
        tx.send_timeout(b"c", MsgPriority::Low, Some(Duration::from_secs(20))).unwrap();
        t0.elapsed()
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut buf = [0u8; 8];
    // Consumed from the mapping, no system call, except the NOTIFY the kernel asks for.
    assert_eq!(rx.recv(&mut buf), Ok(1));
    let waited = t.join().unwrap();
    assert!(waited >= Duration::from_millis(250), "the sender did wait ({waited:?})");
    assert_eq!(rx.len(), 2);
    assert_eq!(tx_timeout_when_full(&name), Error::Timeout);
    Queue::unlink(&name).unwrap();
}

#[test]
fn a_waiting_batch_is_woken_once_its_room_is_free_not_per_message() {
    require_module();
    let name = unique_name("wakeroom");
    let rx = Queue::create_receiver(QueueConfig::new(8, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    let eight: Vec<(MsgPriority, &[u8])> = (0..8).map(|_| (MsgPriority::Low, &b"x"[..])).collect();
    assert_eq!(tx.send_batch(&eight, Duration::ZERO), Ok(8));
    let t = std::thread::spawn(move || {
        let six: Vec<(MsgPriority, &[u8])> = (0..6).map(|_| (MsgPriority::Low, &b"y"[..])).collect();
        tx.send_batch(&six, Duration::from_secs(20))
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut buf = [0u8; 8];
    // The batch waits for room for min(6 remaining, ring/2 = 4): three consumed messages do
    // not wake it (the receiver does not even notify), the fourth does.
    for k in 1..=3 {
        assert_eq!(rx.recv(&mut buf), Ok(1));
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(rx.len(), 8 - k, "woken after {k} of 4");
    }
    assert_eq!(rx.recv(&mut buf), Ok(1));
    let t0 = Instant::now();
    while rx.len() < 8 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rx.len(), 8, "four accepted once four places were free");
    // Two left: it now waits for two places.
    assert_eq!(rx.recv(&mut buf), Ok(1));
    assert_eq!(rx.recv(&mut buf), Ok(1));
    assert_eq!(t.join().unwrap(), Ok(6));
    let mut got = Vec::new();
    while let Ok(n) = rx.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    assert_eq!(got.len(), 8);
    assert_eq!(got.iter().filter(|m| m == &b"y").count(), 6, "all six of the batch, after the old ones");
    // A timeout still accepts whatever fits: one place free, no notify, the batch times out
    // and takes that place.
    let tx = Queue::open_sender(&name).unwrap();
    assert_eq!(tx.send_batch(&eight, Duration::ZERO), Ok(8));
    assert_eq!(rx.recv(&mut buf), Ok(1));
    let six: Vec<(MsgPriority, &[u8])> = (0..6).map(|_| (MsgPriority::Low, &b"z"[..])).collect();
    assert_eq!(tx.send_batch(&six, Duration::from_millis(300)), Ok(1));
    assert_eq!(rx.len(), 8);
    Queue::unlink(&name).unwrap();
}

#[test]
fn a_spinning_receiver_still_sleeps_and_wakes() {
    require_module();
    let name = unique_name("spin");
    let rx = Queue::create_receiver(QueueConfig::new(8, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    rx.set_spin(1000);
    let tx = Queue::open_sender(&name).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(b"late", MsgPriority::Normal).unwrap();
    });
    let mut buf = [0u8; 8];
    let t0 = Instant::now();
    assert_eq!(rx.recv_timeout(&mut buf, Some(Duration::from_secs(20))), Ok(4));
    assert!(t0.elapsed() >= Duration::from_millis(250));
    t.join().unwrap();
    assert_eq!(rx.recv_timeout(&mut buf, Some(Duration::from_millis(100))), Err(Error::Timeout));
    Queue::unlink(&name).unwrap();
}

#[test]
fn batch_receive_takes_in_priority_order_and_stops_before_descriptors() {
    require_module();
    let q = anon(16, 16);
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    assert_eq!(q.receiver().recv_batch(&mut buf, 8, Some(Duration::ZERO), |_, m| got.push(m.to_vec())), Err(Error::QueueEmpty));
    let t0 = Instant::now();
    assert_eq!(q.receiver().recv_batch(&mut buf, 8, Some(Duration::from_millis(200)), |_, m| got.push(m.to_vec())), Err(Error::Timeout));
    assert!(t0.elapsed() >= Duration::from_millis(150));
    for (m, p) in [(&b"l1"[..], MsgPriority::Low), (b"n1", MsgPriority::Normal), (b"u1", MsgPriority::Urgent), (b"n2", MsgPriority::Normal), (b"l2", MsgPriority::Low)] {
        q.send(m, p).unwrap();
    }
    let mut prios = Vec::new();
    assert_eq!(q.receiver().recv_batch(&mut buf, 3, None, |i, m| { prios.push(i.priority); got.push(m.to_vec()) }), Ok(3));
    assert_eq!(got, [b"u1".to_vec(), b"n1".to_vec(), b"n2".to_vec()]);
    assert_eq!(prios, [MsgPriority::Urgent, MsgPriority::Normal, MsgPriority::Normal]);
    assert_eq!(q.len(), 2);
    // Too small a buffer for the first message: named, nothing consumed.
    assert_eq!(q.receiver().recv_batch(&mut buf[..1], 8, None, |_, _| panic!("handed a message")), Err(Error::BufferTooSmall { needed: 2 }));
    // A descriptor ends the batch before it; recv_message takes it (and opens its region).
    let region = kring::Region::create(kring::RegionPolicy::Immutable { size: 4096 }).unwrap();
    region.write(0, b"zero-copy").unwrap();
    region.seal().unwrap();
    let q2 = anon(16, 64);
    q2.send(b"a", MsgPriority::Normal).unwrap();
    q2.sender().send_descriptor(&region, 0, 9, MsgPriority::Normal).unwrap();
    q2.send(b"b", MsgPriority::Normal).unwrap();
    let mut big = [0u8; 64];
    let mut seen = Vec::new();
    assert_eq!(q2.receiver().recv_batch(&mut big, 8, None, |_, m| seen.push(m.to_vec())), Ok(1));
    assert_eq!(q2.receiver().recv_batch(&mut big, 8, None, |_, m| seen.push(m.to_vec())), Ok(0));
    match q2.receiver().recv_message(&mut big).unwrap() {
        kring::Message::Descriptor { descriptor, region, .. } => assert_eq!(region.bytes(&descriptor), Some(&b"zero-copy"[..])),
        other => panic!("expected the descriptor, got {other:?}"),
    }
    assert_eq!(q2.receiver().recv_batch(&mut big, 8, None, |_, m| seen.push(m.to_vec())), Ok(1));
    assert_eq!(seen, [b"a".to_vec(), b"b".to_vec()]);
    got.clear();
    assert_eq!(q.receiver().recv_batch(&mut buf, 8, None, |_, m| got.push(m.to_vec())), Ok(2));
    assert_eq!(got, [b"l1".to_vec(), b"l2".to_vec()]);
    assert_eq!(q.recv_count(), 5);
}

fn tx_timeout_when_full(name: &str) -> Error {
    let tx = Queue::open_sender(name).unwrap();
    tx.send_timeout(b"d", MsgPriority::Low, Some(Duration::from_millis(100))).unwrap_err()
}

#[test]
fn named_queues_open_duplicate_unknown_and_unlink() {
    require_module();
    let name = unique_name("named");
    let opts = CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() };
    let q = Queue::create(QueueConfig::new(4, 8), &opts).unwrap();
    assert_eq!(Queue::create(QueueConfig::new(4, 8), &opts).unwrap_err(), Error::AlreadyExists);
    let tx = Queue::open_sender(&name).unwrap();
    tx.send(b"hi", MsgPriority::Normal).unwrap();
    assert_eq!(Queue::open_receiver(&name).unwrap_err(), Error::ReceiverBusy, "one receiver at a time");
    assert_eq!(Queue::open_sender("no-such-queue-here").unwrap_err(), Error::NotFound);
    Queue::unlink(&name).unwrap();
    assert_eq!(Queue::open_sender(&name).unwrap_err(), Error::NotFound);
    assert_eq!(Queue::unlink(&name).unwrap_err(), Error::NotFound);
    // Existing handles keep working after the unlink.
    tx.send(b"still", MsgPriority::Normal).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(q.recv(&mut buf), Ok(2));
    assert_eq!(q.recv(&mut buf), Ok(5));
    // The name can be reused at once.
    let q2 = Queue::create(QueueConfig::new(4, 8), &opts).unwrap();
    drop(q2);
    Queue::unlink(&name).unwrap();
    for bad in ["", "a/b", &"x".repeat(64)] {
        assert!(matches!(Queue::open_sender(bad).unwrap_err(), Error::InvalidArgument { .. }), "{bad:?}");
    }
}

#[test]
fn receiver_is_told_when_no_sender_can_exist() {
    require_module();
    let name = unique_name("disc");
    let rx = Queue::create_receiver(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    tx.send(b"last", MsgPriority::Normal).unwrap();
    Queue::unlink(&name).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(tx);
    });
    let mut buf = [0u8; 8];
    // Queued messages are still delivered...
    assert_eq!(rx.recv_timeout(&mut buf, None), Ok(4));
    // ...then the blocked receive ends with Disconnected when the last sender goes.
    assert_eq!(rx.recv_timeout(&mut buf, Some(Duration::from_secs(20))), Err(Error::Disconnected));
    t.join().unwrap();
}

#[test]
fn sender_is_told_when_no_receiver_can_exist() {
    require_module();
    let name = unique_name("disc2");
    let rx = Queue::create_receiver(QueueConfig::new(1, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    tx.send(b"fill", MsgPriority::Normal).unwrap();
    Queue::unlink(&name).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(rx);
    });
    assert_eq!(tx.send_timeout(b"more", MsgPriority::Normal, Some(Duration::from_secs(20))), Err(Error::Disconnected));
    t.join().unwrap();
}

#[test]
fn handles_without_the_right_are_refused() {
    require_module();
    let name = unique_name("rights");
    let _rx = Queue::create_receiver(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    let info = tx.info().unwrap();
    assert_eq!(info.rights, KRING_RIGHT_SEND);
    assert_eq!(info.flags & KRING_INFO_NAMED, KRING_INFO_NAMED);
    // A send-only fd cannot become a receiver.
    let fd = rustix::io::dup(&tx).unwrap();
    assert_eq!(kring::Receiver::from_fd(fd).unwrap_err(), Error::NoRight { op: "recv" });
    Queue::unlink(&name).unwrap();
}

#[test]
fn batch_send_through_the_submission_area() {
    require_module();
    let q = anon(1024, 256);
    let payloads: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_le_bytes().repeat(1 + (i % 60) as usize)).collect();
    let msgs: Vec<(MsgPriority, &[u8])> = payloads.iter().enumerate().map(|(i, p)| (P[i % 4], &p[..])).collect();
    assert_eq!(q.sender().send_batch(&msgs, Duration::ZERO), Ok(600));
    assert_eq!(q.len(), 600);
    let mut expected: Vec<(MsgPriority, &[u8])> = msgs.clone();
    expected.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    let mut buf = [0u8; 256];
    for (p, payload) in expected {
        let m = q.recv_typed(&mut buf).unwrap();
        assert_eq!((m.priority, &buf[..m.len]), (p, payload));
    }
    // A batch larger than the room: accepted up to the room, in order.
    let small = anon(4, 8);
    let six: Vec<(MsgPriority, &[u8])> = (0..6).map(|_| (MsgPriority::Low, &b"x"[..])).collect();
    assert_eq!(small.sender().send_batch(&six, Duration::ZERO), Ok(4));
    assert_eq!(small.sender().send_batch(&six, Duration::ZERO), Err(Error::QueueFull));
}

#[test]
fn unload_is_refused_while_a_queue_is_open() {
    require_module();
    let _q = anon(4, 8);
    let out = std::process::Command::new("rmmod").arg("kring").output().unwrap();
    assert!(!out.status.success());
    assert!(std::path::Path::new("/sys/module/kring").exists());
}

#[test]
fn thousands_of_create_destroy_cycles() {
    require_module();
    for i in 0..2000u32 {
        let q = if i % 2 == 0 {
            anon(1 << (i % 8), 3 + (i % 300))
        } else {
            let name = format!("cycle-{i}");
            let q = Queue::create(QueueConfig::new(8, 64), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
            Queue::unlink(&name).unwrap();
            q
        };
        q.send(&[1, 2, 3], MsgPriority::High).unwrap();
        drop(q); // a queued message must be freed with the queue
    }
}

#[test]
fn binding_errors_not_bound_and_already_bound() {
    use std::os::fd::AsFd;
    require_module();
    let fd = rustix::fs::open("/dev/kring", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()).unwrap();
    // SAFETY: KRING_IOC_INFO is _IOR of KringInfo, an integer-only struct.
    let info = unsafe { rustix::ioctl::ioctl(fd.as_fd(), rustix::ioctl::Getter::<{ KRING_IOC_INFO }, KringInfo>::new()) };
    assert_eq!(info.unwrap_err(), rustix::io::Errno::NOTCONN);
    assert_eq!(kring::Sender::from_fd(fd).unwrap_err(), Error::NotBound);
    // A bound fd cannot be bound again.
    let q = anon(4, 8);
    let arg = KringCreate { ring_size: 4, max_msg_size: 8, schema: 0, mode: 0o600, rights: KRING_RIGHTS_ALL, flags: 0, name: [0; KRING_NAME_MAX] };
    // SAFETY: KRING_IOC_CREATE is _IOW of KringCreate, an integer-only struct.
    let r = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_CREATE }, KringCreate>::new(arg)) };
    assert_eq!(r.unwrap_err(), rustix::io::Errno::ISCONN);
    // Reserved fields must be zero.
    let fd = rustix::fs::open("/dev/kring", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()).unwrap();
    let bad = KringCreate { flags: 1, ..arg };
    // SAFETY: as above.
    let r = unsafe { rustix::ioctl::ioctl(fd.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_CREATE }, KringCreate>::new(bad)) };
    assert_eq!(r.unwrap_err(), rustix::io::Errno::INVAL);
    let bad = KringCreate { rights: 0, ..arg };
    // SAFETY: as above.
    let r = unsafe { rustix::ioctl::ioctl(fd.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_CREATE }, KringCreate>::new(bad)) };
    assert_eq!(r.unwrap_err(), rustix::io::Errno::INVAL);
    // And an invalid priority in a copying send.
    let s = KringSend { addr: 0, len: 0, priority: 4, pad: [0; 3], flags: 0, timeout_ms: 0 };
    // SAFETY: KRING_IOC_SEND is _IOW of KringSend, an integer-only struct; len 0 reads nothing.
    let r = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_SEND }, KringSend>::new(s)) };
    assert_eq!(r.unwrap_err(), rustix::io::Errno::INVAL);
}

#[test]
fn enter_submits_and_waits_for_a_message_in_one_call() {
    require_module();
    let q = anon(16, 32);
    // Nothing to send, nothing arrives: the wait times out.
    let t0 = Instant::now();
    assert_eq!(q.send_batch_and_wait(&[], Some(Duration::from_millis(100))), Err(Error::Timeout));
    assert!(t0.elapsed() >= Duration::from_millis(100));
    // Submitting makes a message available to this handle at once.
    let batch: [(MsgPriority, &[u8]); 2] = [(MsgPriority::Low, b"request a"), (MsgPriority::High, b"request b")];
    assert_eq!(q.send_batch_and_wait(&batch, Some(Duration::from_secs(5))), Ok(2));
    let mut buf = [0u8; 32];
    assert_eq!(q.recv(&mut buf), Ok(9));
    assert_eq!(&buf[..9], b"request b");
    assert_eq!(q.recv(&mut buf), Ok(9));
    // Woken by another thread's send while waiting in ENTER.
    let name = unique_name("enter");
    let q = Queue::create(QueueConfig::new(4, 16), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let tx = Queue::open_sender(&name).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        tx.send(b"reply", MsgPriority::Normal).unwrap();
    });
    assert_eq!(q.send_batch_and_wait(&[], Some(Duration::from_secs(20))), Ok(0));
    assert_eq!(q.recv(&mut buf), Ok(5));
    t.join().unwrap();
    Queue::unlink(&name).unwrap();
}

#[test]
fn a_failed_copy_to_or_from_user_memory_loses_nothing() {
    use std::os::fd::AsFd;
    require_module();
    let q = anon(4, 16);
    q.send(b"keep me", MsgPriority::Normal).unwrap();
    // Receive into an unmapped address: EFAULT, and the message is still queued.
    let mut arg = KringRecv { addr: 8, len: 16, flags: 0, timeout_ms: 0, msg_len: 0, seq: 0, priority: 0, kind: 0, pad: [0; 6] };
    // SAFETY: KRING_IOC_RECV is _IOWR of KringRecv (integer-only); the kernel checks `addr`.
    let r = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Updater::<{ KRING_IOC_RECV }, KringRecv>::new(&mut arg)) };
    assert_eq!(r.unwrap_err(), rustix::io::Errno::FAULT);
    assert_eq!(q.len(), 1);
    // Send from an unmapped address: EFAULT, nothing queued.
    let s = KringSend { addr: 8, len: 4, priority: 1, pad: [0; 3], flags: 0, timeout_ms: 0 };
    // SAFETY: KRING_IOC_SEND is _IOW of KringSend; the kernel checks `addr`.
    let r = unsafe { rustix::ioctl::ioctl(q.as_fd(), rustix::ioctl::Setter::<{ KRING_IOC_SEND }, KringSend>::new(s)) };
    assert_eq!(r.unwrap_err(), rustix::io::Errno::FAULT);
    assert_eq!((q.len(), q.send_count()), (1, 1));
    let mut buf = [0u8; 16];
    assert_eq!(q.recv(&mut buf), Ok(7));
    assert_eq!(&buf[..7], b"keep me");
}

#[test]
fn huge_timeouts_do_not_overflow() {
    require_module();
    let q = anon(4, 8);
    q.send(b"x", MsgPriority::Low).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(q.recv_timeout(&mut buf, Some(Duration::MAX)), Ok(1));
    let batch: [(MsgPriority, &[u8]); 1] = [(MsgPriority::Low, b"y")];
    assert_eq!(q.sender().send_batch(&batch, Duration::MAX), Ok(1));
}
