// SPDX-License-Identifier: GPL-2.0 OR MIT
//! What an administrator sees in `/sys/kernel/debug/kring/`: the limits in force, what each
//! user keeps alive and every named queue with its owner, depth, peers and cost.

use std::fs;

use kring::{CreateOptions, MsgPriority, Queue, QueueConfig};
use kring_vmtests::{require_module, unique_name};

const DIR: &str = "/sys/kernel/debug/kring";

/// The value of `key=` in a `key=value` line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[test]
fn limits_show_the_parameters_in_force() {
    require_module();
    let s = fs::read_to_string(format!("{DIR}/limits")).unwrap();
    for (k, v) in [("max_user_queues", "256"), ("max_user_bytes", "268435456"), ("max_queues", "1024")] {
        assert!(s.lines().any(|l| l == format!("{k} {v}")), "{k} {v} in\n{s}");
    }
    let live: u32 = s.lines().find_map(|l| l.strip_prefix("live_queues ")).unwrap().parse().unwrap();
    let q = Queue::create(QueueConfig::new(4, 64), &CreateOptions::default()).unwrap();
    let s = fs::read_to_string(format!("{DIR}/limits")).unwrap();
    let now: u32 = s.lines().find_map(|l| l.strip_prefix("live_queues ")).unwrap().parse().unwrap();
    assert_eq!(now, live + 1, "an anonymous queue counts as live");
    drop(q);
}

#[test]
fn every_named_queue_is_listed_with_owner_depth_peers_and_cost() {
    require_module();
    let name = unique_name("intro");
    let q = Queue::create(QueueConfig::new(8, 100), &CreateOptions { name: Some(&name), mode: 0o640, ..Default::default() })
        .unwrap();
    let extra = Queue::open_sender(&name).unwrap();
    for m in [&b"a"[..], b"bb", b"ccc"] {
        q.send(m, MsgPriority::High).unwrap();
    }
    let s = fs::read_to_string(format!("{DIR}/queues")).unwrap();
    let line = s.lines().find(|l| l.split(' ').next() == Some(name.as_str())).unwrap_or_else(|| panic!("{name} not in\n{s}"));
    assert_eq!(field(line, "uid"), "0");
    assert_eq!(field(line, "mode"), "640");
    assert_eq!(field(line, "ring_size"), "8");
    assert_eq!(field(line, "max_msg_size"), "100");
    assert_eq!(field(line, "len"), "3");
    assert_eq!(field(line, "senders"), "2", "the creating handle and the opened sender");
    assert_eq!(field(line, "receiver"), "1");
    assert_eq!(field(line, "sent"), "3");
    let bytes: u64 = field(line, "bytes").parse().unwrap();
    assert!(bytes >= 4 * 4096, "{bytes}: four shared areas, each at least a page");
    // Consumed messages show up too.
    let mut buf = [0u8; 100];
    q.recv(&mut buf).unwrap();
    let s = fs::read_to_string(format!("{DIR}/queues")).unwrap();
    let line = s.lines().find(|l| l.split(' ').next() == Some(name.as_str())).unwrap();
    assert_eq!((field(line, "len"), field(line, "received")), ("2", "1"));
    // Unlinked: no longer listed.
    drop(extra);
    Queue::unlink(&name).unwrap();
    let s = fs::read_to_string(format!("{DIR}/queues")).unwrap();
    assert!(!s.lines().any(|l| l.split(' ').next() == Some(name.as_str())), "{name} still listed");
    drop(q);
}

#[test]
fn users_show_what_each_user_keeps_alive() {
    require_module();
    let q = Queue::create(QueueConfig::new(4, 64), &CreateOptions::default()).unwrap();
    let s = fs::read_to_string(format!("{DIR}/users")).unwrap();
    let root = s.lines().find(|l| l.starts_with("0 queues=")).unwrap_or_else(|| panic!("no line for uid 0 in\n{s}"));
    assert!(field(root, "queues").parse::<u32>().unwrap() >= 1);
    assert!(field(root, "queue_bytes").parse::<u64>().unwrap() >= 4 * 4096);
    drop(q);
}
