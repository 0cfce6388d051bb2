// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Timed waits never end before the time asked for, on every path that waits: the kernel's
//! `KRING_IOC_RECV`, `KRING_IOC_WAIT` (under `Receiver::recv_timeout`), `KRING_IOC_SEND` and a
//! batched `KRING_IOC_ENTER`. Until ABI 1.5 the kernel converted milliseconds to jiffies with
//! no spare tick, so a 10 ms wait could end after 9.3 ms depending on where in the clock tick
//! it started; each case is repeated 100 times, each start shifted by a few hundred
//! microseconds, to meet every phase of the tick.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use kring::{CreateOptions, Error, KernelQueue, MsgPriority, Queue, QueueConfig};
use kring_vmtests::{require_module, unique_name};

const ROUNDS: u32 = 100;
const T: Duration = Duration::from_millis(10);

/// Runs `wait` ROUNDS times, each starting at a different phase of the clock tick, and checks
/// that none returned `Timeout` before `T`.
fn never_early(what: &str, mut wait: impl FnMut() -> kring::Result<()>) {
    let mut shortest = Duration::MAX;
    for i in 0..ROUNDS {
        thread::sleep(Duration::from_micros(u64::from(i * 373 % 4000)));
        let t0 = Instant::now();
        let r = wait();
        let took = t0.elapsed();
        assert!(matches!(r, Err(Error::Timeout)), "{what}: round {i}: expected Timeout, got {r:?}");
        assert!(took >= T, "{what}: round {i}: timed out after {took:?}, before the {T:?} asked for");
        shortest = shortest.min(took);
    }
    eprintln!("{what}: shortest of {ROUNDS} waits of {T:?}: {shortest:?}");
}

fn empty_queue() -> KernelQueue {
    Queue::create(QueueConfig::new(4, 64), &CreateOptions::default()).unwrap()
}

#[test]
fn a_kernel_side_receive_never_times_out_early() {
    require_module();
    let q = empty_queue();
    let mut buf = [0u8; 64];
    never_early("KRING_IOC_RECV", || q.receiver().recv_copy(&mut buf, Some(T)).map(|_| ()));
}

#[test]
fn a_mapped_receive_never_times_out_early() {
    require_module();
    let q = empty_queue();
    let mut buf = [0u8; 64];
    never_early("KRING_IOC_WAIT", || q.recv_timeout(&mut buf, Some(T)).map(|_| ()));
}

fn full_queue() -> (KernelQueue, String) {
    let name = unique_name("timeouts-full");
    let q = Queue::create(QueueConfig::new(4, 64), &CreateOptions { name: Some(&name), ..Default::default() })
        .unwrap();
    while q.send(b"x", MsgPriority::Normal).is_ok() {}
    assert!(q.is_full());
    (q, name)
}

#[test]
fn a_send_waiting_for_room_never_times_out_early() {
    require_module();
    let (q, name) = full_queue();
    never_early("KRING_IOC_SEND", || q.sender().send_timeout(b"y", MsgPriority::Normal, Some(T)));
    drop(q);
    Queue::unlink(&name).unwrap();
}

#[test]
fn a_batch_waiting_for_room_never_times_out_early() {
    require_module();
    let (q, name) = full_queue();
    let s = Queue::open_sender(&name).unwrap();
    let msgs = [(MsgPriority::Normal, &b"z"[..])];
    never_early("KRING_IOC_ENTER", || match s.send_batch(&msgs, T) {
        Ok(0) | Err(Error::Timeout) => Err(Error::Timeout),
        Ok(n) => panic!("a full queue accepted {n} messages"),
        Err(e) => Err(e),
    });
    drop((q, s));
    Queue::unlink(&name).unwrap();
}

/// A waiter woken many times for changes that do not concern it (here: senders coming and
/// going, which wake the receivers' wait queue) still waits its whole time: the kernel
/// re-reads the clock after every wakeup rather than trusting the jiffies left.
#[test]
fn wakeups_for_others_do_not_shorten_a_wait() {
    require_module();
    let name = unique_name("timeouts-churn");
    let q = Queue::create(QueueConfig::new(4, 64), &CreateOptions { name: Some(&name), ..Default::default() })
        .unwrap();
    let stop = AtomicBool::new(false);
    let long = Duration::from_millis(60);
    thread::scope(|sc| {
        sc.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                drop(Queue::open_sender(&name).unwrap());
                thread::sleep(Duration::from_micros(500));
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..10 {
            let t0 = Instant::now();
            let r = q.receiver().recv_copy(&mut buf, Some(long));
            let took = t0.elapsed();
            assert!(matches!(r, Err(Error::Timeout)), "round {i}: {r:?}");
            assert!(took >= long, "round {i}: a {long:?} wait ended after {took:?}");
        }
        stop.store(true, Ordering::Relaxed);
    });
    drop(q);
    Queue::unlink(&name).unwrap();
}
