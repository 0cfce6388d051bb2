// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Queues between processes: many senders, wakeups across processes, other users, SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kring::{CreateOptions, Error, MsgPriority, Queue, QueueConfig};
use kring_vmtests::{require_module, unique_name};

const PEER: &str = env!("CARGO_BIN_EXE_kring-peer");

fn named_receiver(tag: &str, ring: u32, max: u32, mode: u32) -> (String, kring::Receiver) {
    let name = unique_name(tag);
    let rx = Queue::create_receiver(QueueConfig::new(ring, max), &CreateOptions { name: Some(&name), mode, ..Default::default() }).unwrap();
    (name, rx)
}

fn decode(buf: &[u8]) -> (u32, u32) {
    (u32::from_le_bytes(buf[..4].try_into().unwrap()), u32::from_le_bytes(buf[4..8].try_into().unwrap()))
}

#[test]
fn four_sender_processes_100k_each_into_a_small_ring() {
    require_module();
    const PER: u32 = 100_000;
    const SENDERS: u32 = 4;
    let (name, rx) = named_receiver("mp", 64, 8, 0o600);
    let children: Vec<_> = (0..SENDERS)
        .map(|id| Command::new(PEER).args(["seq", &name, &id.to_string(), &PER.to_string()]).spawn().unwrap())
        .collect();
    let mut next = vec![0u32; SENDERS as usize];
    let mut buf = [0u8; 8];
    let t0 = Instant::now();
    for _ in 0..SENDERS * PER {
        let n = rx.recv_timeout(&mut buf, Some(Duration::from_secs(60))).expect("message");
        assert_eq!(n, 8);
        let (id, seq) = decode(&buf);
        let want = next.get_mut(id as usize).expect("known sender");
        assert_eq!(seq, *want, "sender {id}: loss, duplicate or reordering");
        *want += 1;
    }
    let took = t0.elapsed();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(rx.recv(&mut buf), Err(Error::QueueEmpty), "nothing extra");
    assert_eq!((rx.send_count(), rx.recv_count()), ((SENDERS * PER) as u64, (SENDERS * PER) as u64));
    eprintln!("400000 messages through a 64-slot ring in {took:?}");
    Queue::unlink(&name).unwrap();
}

#[test]
fn blocking_receive_is_woken_by_another_process() {
    require_module();
    let (name, rx) = named_receiver("xproc", 4, 32, 0o600);
    let mut child = Command::new("sh")
        .args(["-c", &format!("sleep 0.3; exec {PEER} send {name} 3 from-another-process")])
        .spawn()
        .unwrap();
    let mut buf = [0u8; 32];
    let t0 = Instant::now();
    let m = rx.recv_typed_timeout(&mut buf, Some(Duration::from_secs(30))).unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(250));
    assert_eq!((&buf[..m.len], m.priority), (&b"from-another-process"[..], MsgPriority::Urgent));
    assert!(child.wait().unwrap().success());
    Queue::unlink(&name).unwrap();
}

#[test]
fn a_blocked_receiver_dies_promptly_on_sigkill_and_frees_its_place() {
    require_module();
    let name = unique_name("kill");
    let tx = Queue::create_sender(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let mut child = Command::new(PEER).args(["recv-block", &name]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(Queue::open_receiver(&name).unwrap_err(), Error::ReceiverBusy);
    let t0 = Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5), "the sleep is interruptible");
    // The killed receiver's place is free again, and the queue works.
    let rx = Queue::open_receiver(&name).unwrap();
    tx.send(b"after", MsgPriority::Low).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(rx.recv(&mut buf), Ok(5));
    Queue::unlink(&name).unwrap();
}

#[test]
fn sender_killed_mid_batch_loses_no_accepted_message() {
    require_module();
    let (name, rx) = named_receiver("sigkill", 256, 8, 0o600);
    let mut child = Command::new(PEER).args(["batches", &name, "7"]).spawn().unwrap();
    let mut buf = [0u8; 8];
    let mut next = 0u32;
    // Let it run through many batches (the ring is small, so it blocks mid-batch often).
    while next < 5000 {
        let n = rx.recv_timeout(&mut buf, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(n, 8);
        assert_eq!(decode(&buf), (7, next));
        next += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Drain: every accepted message is there, complete and in order.
    loop {
        match rx.recv_timeout(&mut buf, Some(Duration::from_millis(300))) {
            Ok(8) => {
                assert_eq!(decode(&buf), (7, next));
                next += 1;
            }
            Err(Error::Timeout) => break,
            other => panic!("{other:?}"),
        }
    }
    let info = rx.info().unwrap();
    assert_eq!(info.send_count, info.recv_count, "accepted == delivered");
    assert_eq!(info.send_count, next as u64);
    assert_eq!(info.len, 0);
    Queue::unlink(&name).unwrap();
}

fn as_nobody(op: &str, name: &str) -> String {
    let out = Command::new(PEER).args(["as", "65534", "65534", op, name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn permissions_are_checked_against_another_user() {
    require_module();
    // Root's private queue: nobody may do anything with it.
    let (private, _rx) = named_receiver("perm600", 4, 8, 0o600);
    assert_eq!(as_nobody("open-sender", &private), "NotPermitted { op: \"open\" }");
    assert_eq!(as_nobody("open-receiver", &private), "NotPermitted { op: \"open\" }");
    assert_eq!(as_nobody("unlink", &private), "NotPermitted { op: \"unlink\" }");
    // World-writable: others may send but not receive.
    let name = unique_name("perm602");
    let _tx = Queue::create_sender(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name), mode: 0o602, ..Default::default() }).unwrap();
    assert_eq!(as_nobody("open-sender", &name), "ok");
    assert_eq!(as_nobody("open-receiver", &name), "NotPermitted { op: \"open\" }");
    // World-readable: others may receive but not send.
    let name2 = unique_name("perm604");
    let _tx2 = Queue::create_sender(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name2), mode: 0o604, ..Default::default() }).unwrap();
    assert_eq!(as_nobody("open-receiver", &name2), "ok");
    assert_eq!(as_nobody("open-sender", &name2), "NotPermitted { op: \"open\" }");
    // A queue nobody creates is nobody's: root still gets in (CAP_DAC_OVERRIDE).
    let theirs = unique_name("theirs");
    assert_eq!(as_nobody("create", &theirs), "ok");
    let tx = Queue::open_sender(&theirs).unwrap();
    let info = tx.info().unwrap();
    assert_eq!((info.uid, info.gid, info.mode), (65534, 65534, 0o600));
    for n in [&private, &name, &name2, &theirs] {
        Queue::unlink(n).unwrap();
    }
}

#[test]
fn a_caught_signal_interrupts_a_blocked_receive() {
    require_module();
    let name = unique_name("eintr");
    let _tx = Queue::create_sender(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() }).unwrap();
    let mut child = Command::new(PEER).args(["recv-eintr", &name]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    std::thread::sleep(Duration::from_millis(300));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::USR1).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "Err(Interrupted)");
    assert!(child.wait().unwrap().success());
    Queue::unlink(&name).unwrap();
}
