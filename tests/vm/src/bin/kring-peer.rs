// SPDX-License-Identifier: GPL-2.0 OR MIT
//! `kring-peer`: a second process for the VM suites (senders, blocked receivers, other users).
//!
//! ```text
//! kring-peer seq NAME ID COUNT        send COUNT messages [ID u32 LE][seq u32 LE], blocking
//! kring-peer batches NAME ID          send batches of 64 sequence-numbered messages forever
//! kring-peer send NAME PRIO TEXT      send one message
//! kring-peer recv-block NAME          open the receiver, print "ready", block in recv
//! kring-peer recv-eintr NAME          same, with a SIGUSR1 handler (no SA_RESTART): print the
//!                                     outcome of the interrupted receive
//! kring-peer as UID GID OP NAME       drop to UID/GID (no groups), try OP, print the outcome:
//!                                     OP = open-sender | open-receiver | unlink | create
//! kring-peer as UID GID fill PREFIX RING MSG
//!                                     as UID/GID, create named queues PREFIX-0, PREFIX-1, ...
//!                                     of RING x MSG until one fails (they outlive the process);
//!                                     print "N ERROR"
//! ```

use std::time::Duration;

use kring::{CreateOptions, MsgPriority, Queue, QueueConfig};

fn msg(id: u32, seq: u32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[..4].copy_from_slice(&id.to_le_bytes());
    m[4..].copy_from_slice(&seq.to_le_bytes());
    m
}

fn outcome<T>(r: kring::Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| a.get(i).cloned().unwrap_or_else(|| panic!("missing argument {i}: {a:?}"));
    match arg(0).as_str() {
        "seq" => {
            let tx = Queue::open_sender(&arg(1)).expect("open sender");
            let id: u32 = arg(2).parse().unwrap();
            let n: u32 = arg(3).parse().unwrap();
            for s in 0..n {
                tx.send_timeout(&msg(id, s), MsgPriority::Normal, None).expect("send");
            }
        }
        "batches" => {
            let tx = Queue::open_sender(&arg(1)).expect("open sender");
            let id: u32 = arg(2).parse().unwrap();
            let mut seq = 0u32;
            loop {
                let payloads: Vec<[u8; 8]> = (0..64).map(|i| msg(id, seq + i)).collect();
                let batch: Vec<(MsgPriority, &[u8])> = payloads.iter().map(|p| (MsgPriority::Normal, &p[..])).collect();
                let n = tx.send_batch(&batch, Duration::from_secs(30)).expect("batch");
                seq += n as u32;
            }
        }
        "send" => {
            let tx = Queue::open_sender(&arg(1)).expect("open sender");
            let p = MsgPriority::from_u8(arg(2).parse().unwrap()).unwrap();
            tx.send(arg(3).as_bytes(), p).expect("send");
        }
        "recv-block" => {
            let rx = Queue::open_receiver(&arg(1)).expect("open receiver");
            println!("ready");
            let mut buf = [0u8; 64];
            println!("{:?}", rx.recv_timeout(&mut buf, None));
        }
        "recv-eintr" => {
            extern "C" fn on_usr1(_: libc::c_int) {}
            // SAFETY: installs a handler that does nothing (async-signal-safe), without
            // SA_RESTART, so a blocked system call returns EINTR.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
            }
            let rx = Queue::open_receiver(&arg(1)).expect("open receiver");
            println!("ready");
            let mut buf = [0u8; 64];
            println!("{:?}", rx.recv_timeout(&mut buf, None));
        }
        "as" => {
            let uid: u32 = arg(1).parse().unwrap();
            let gid: u32 = arg(2).parse().unwrap();
            // Single-threaded process: the per-thread id calls change the whole process.
            rustix::thread::set_thread_groups(&[]).expect("setgroups");
            let (g, u) = (rustix::process::Gid::from_raw(gid), rustix::process::Uid::from_raw(uid));
            rustix::thread::set_thread_res_gid(g, g, g).expect("setresgid");
            rustix::thread::set_thread_res_uid(u, u, u).expect("setresuid");
            let name = arg(4);
            let out = match arg(3).as_str() {
                "fill" => {
                    let (ring, size): (u32, u32) = (arg(5).parse().unwrap(), arg(6).parse().unwrap());
                    let mut n = 0;
                    let e = loop {
                        let q = format!("{name}-{n}");
                        match Queue::create_sender(QueueConfig::new(ring, size), &CreateOptions { name: Some(&q), mode: 0o600, ..Default::default() }) {
                            Ok(s) => drop(s),
                            Err(e) => break e,
                        }
                        n += 1;
                    };
                    format!("{n} {e:?}")
                }
                "open-sender" => outcome(Queue::open_sender(&name)),
                "open-receiver" => outcome(Queue::open_receiver(&name)),
                "unlink" => outcome(Queue::unlink(&name)),
                "create" => outcome(
                    Queue::create_sender(QueueConfig::new(4, 8), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() })
                        .map(std::mem::forget),
                ),
                op => panic!("unknown op {op}"),
            };
            println!("{out}");
        }
        c => panic!("unknown command {c}"),
    }
}
