// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Schemas through the real module: registration (same bytes, same id; malformed programs
//! refused), and every message checked at send time: inline, batched and descriptor payloads.

use std::os::fd::AsFd;
use std::sync::Arc;

use kring::schema::{program, Schema, Value};
use kring::uapi::*;
use kring::{CreateOptions, Error, Message, MsgPriority, Queue, QueueConfig, Region, RegionPolicy, RegisteredSchema};
use kring_vmtests::require_module;

const WIT: &str = r#"
package kring:vmtest;

interface types {
    enum unit { celsius, kelvin }
    flags status { calibrated, degraded, remote }
    variant payload { empty, text(string), samples(list<f32>) }
    record reading {
        ok: bool,
        sensor: string,
        seq: u64,
        unit: unit,
        status: status,
        symbol: char,
        payload: payload,
        tags: list<string>,
        location: option<tuple<f64, f64>>,
    }
}
"#;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::from_wit(WIT, "reading").expect("WIT lowers"))
}

fn reading(seq: u64, sensor: &str) -> Value {
    Value::Record(vec![
        ("ok".into(), Value::Bool(true)),
        ("sensor".into(), Value::String(sensor.into())),
        ("seq".into(), Value::U64(seq)),
        ("unit".into(), Value::Enum("kelvin".into())),
        ("status".into(), Value::Flags(vec!["calibrated".into(), "remote".into()])),
        ("symbol".into(), Value::Char('K')),
        (
            "payload".into(),
            Value::Variant("samples".into(), Some(Box::new(Value::List(vec![Value::F32(1.5), Value::F32(-2.0)])))),
        ),
        ("tags".into(), Value::List(vec![Value::String("roof".into()), Value::String("north".into())])),
        (
            "location".into(),
            Value::Option(Some(Box::new(Value::Tuple(vec![Value::F64(48.1), Value::F64(11.6)])))),
        ),
    ])
}

fn schema_queue(reg: &RegisteredSchema) -> kring::KernelQueue {
    Queue::create(QueueConfig::new(16, 4096), &CreateOptions { schema: Some(reg), ..Default::default() }).unwrap()
}

fn last_error(fd: impl AsFd) -> KringSchemaError {
    // SAFETY: KRING_IOC_SCHEMA_ERROR is _IOR of KringSchemaError, an integer-only struct.
    unsafe { rustix::ioctl::ioctl(fd, rustix::ioctl::Getter::<{ KRING_IOC_SCHEMA_ERROR }, KringSchemaError>::new()) }
        .unwrap()
}

/// A valid encoding with one byte changed so that it is not one any more (checked with the
/// user-space validator, which is the same code the module runs).
fn corrupt(s: &Schema, good: &[u8], at: usize, val: u8) -> Vec<u8> {
    let mut bad = good.to_vec();
    bad[at] = val;
    assert!(s.validate(&bad).is_err(), "byte {at} = {val} must break the encoding");
    bad
}

#[test]
fn registration_gives_one_id_per_program_and_refuses_malformed_ones() {
    require_module();
    let s = schema();
    let a = RegisteredSchema::register(s.clone()).unwrap();
    let b = RegisteredSchema::register(s.clone()).unwrap();
    assert_ne!(a.id(), 0);
    assert_eq!(a.id(), b.id(), "same bytes, same id");
    assert_eq!(a.min_size(), s.min_size());
    let other = Arc::new(Schema::from_wit(WIT, "payload").unwrap());
    let c = RegisteredSchema::register(other).unwrap();
    assert_ne!(c.id(), a.id());

    let good = s.program().to_vec();
    let mut malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("header only", good[..16].to_vec()),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("trailing byte", [good.clone(), vec![0]].concat()),
    ];
    let mut bad_magic = good.clone();
    bad_magic[0] ^= 1;
    malformed.push(("magic", bad_magic));
    let mut bad_version = good.clone();
    bad_version[4] = 9;
    malformed.push(("version", bad_version));
    // Hand-built programs: a header for one node, then the nodes.
    let mut prog = Vec::new();
    prog.extend_from_slice(&program::SCHEMA_MAGIC.to_le_bytes());
    prog.extend_from_slice(&1u16.to_le_bytes());
    prog.extend_from_slice(&0u16.to_le_bytes());
    prog.extend_from_slice(&1u32.to_le_bytes());
    prog.extend_from_slice(&0u32.to_le_bytes());
    let node = |kind: u8, count: u32, arg: u32| [[kind, 0, 0, 0], count.to_le_bytes(), arg.to_le_bytes()].concat();
    // Node 0 referring to itself (a recursive type).
    malformed.push(("list of itself", [prog.clone(), node(program::kind::LIST, 0, 0)].concat()));
    malformed.push(("unknown kind", [prog.clone(), node(99, 0, 0)].concat()));
    // 2^20 u64s: a fixed list larger than any message.
    let mut two = prog.clone();
    two[8..12].copy_from_slice(&2u32.to_le_bytes());
    malformed.push((
        "oversized fixed list",
        [two.clone(), node(program::kind::U64, 0, 0), node(program::kind::FIXED_LIST, 1 << 20, 0)].concat(),
    ));
    malformed.push(("33 flags", [prog.clone(), node(program::kind::FLAGS, 33, 0)].concat()));
    // 40 nested lists: deeper than MAX_DEPTH.
    let mut deep = prog.clone();
    deep[8..12].copy_from_slice(&40u32.to_le_bytes());
    deep.extend(node(program::kind::U8, 0, 0));
    for i in 1..40 {
        deep.extend(node(program::kind::LIST, 0, i - 1));
    }
    malformed.push(("too deep", deep));
    malformed.push(("too long", vec![0; KRING_SCHEMA_SIZE_MAX as usize + 1]));
    for (what, p) in malformed {
        let r = RegisteredSchema::register_program(&p);
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{what}: {r:?}");
    }
    // A queue needs a live schema id, and messages big enough for the type.
    let r = Queue::create(QueueConfig { ring_size: 4, max_msg_size: 64, schema: 0x7fff_fff0 }, &CreateOptions::default());
    assert!(matches!(r, Err(Error::NotFound)), "{r:?}");
    let small = QueueConfig::new(4, (a.min_size() - 1) as u32);
    let r = Queue::create(small, &CreateOptions { schema: Some(&a), ..Default::default() });
    assert!(matches!(r, Err(Error::MessageTooLarge)), "{r:?}");
    // The id lives as long as a queue uses it, even after every registering fd is gone.
    let q = schema_queue(&a);
    let id = a.id();
    drop((a, b));
    assert_eq!(q.config().schema, id);
    q.sender().send_value(&reading(1, "still checked"), MsgPriority::Normal).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn inline_sends_are_checked_and_refusals_lose_nothing() {
    require_module();
    let s = schema();
    let reg = RegisteredSchema::register(s.clone()).unwrap();
    let q = schema_queue(&reg);
    let tx = q.sender();
    let good = s.encode(&reading(7, "attic")).unwrap();
    tx.send(&good, MsgPriority::Normal).unwrap();
    tx.send_value(&reading(8, "cellar"), MsgPriority::High).unwrap();

    // bool = 2: the first byte of the record.
    let bad = corrupt(&s, &good, 0, 2);
    match tx.send(&bad, MsgPriority::Urgent) {
        Err(Error::SchemaViolation { reason, offset, index, path, .. }) => {
            assert_eq!(reason, program::reason::BOOL);
            assert_eq!(offset, 0);
            assert_eq!(index, None);
            assert_eq!(path.as_deref(), Some(s.field_path(s.validate(&bad).unwrap_err().node).as_str()));
        }
        other => panic!("expected a schema violation, got {other:?}"),
    }
    let e = last_error(tx);
    assert_eq!((e.count, e.reason, e.index, e.schema), (1, KRING_SCHEMA_E_BOOL, KRING_SCHEMA_INDEX_SINGLE, reg.id()));
    // Every byte mutation the user-space validator refuses, the kernel refuses with the same
    // detail; the ones it accepts, the kernel accepts (and delivers unchanged).
    let q2 = schema_queue(&reg);
    let mut refused = 0;
    for at in 0..good.len() {
        for val in [0u8, 1, 0x80, 0xff] {
            let mut m = good.clone();
            m[at] = val;
            match (s.validate(&m), q2.sender().send(&m, MsgPriority::Low)) {
                (Ok(()), Ok(())) => {
                    let mut buf = [0u8; 4096];
                    let n = q2.recv(&mut buf).unwrap();
                    assert_eq!(&buf[..n], &m[..]);
                }
                (Err(v), Err(Error::SchemaViolation { reason, node, offset, .. })) => {
                    assert_eq!((reason, node, offset), (v.reason, v.node, v.offset), "byte {at} = {val}");
                    refused += 1;
                }
                (u, k) => panic!("byte {at} = {val}: user space says {u:?}, the kernel {k:?}"),
            }
        }
    }
    assert!(refused > good.len(), "most mutations break the encoding ({refused})");
    // Truncated and extended messages.
    for m in [&good[..good.len() - 1], &good[..s.min_size() - 1], &[good.clone(), vec![0]].concat()[..]] {
        assert!(matches!(tx.send(m, MsgPriority::Low), Err(Error::SchemaViolation { .. })), "len {}", m.len());
    }
    // Nothing refused was queued; what was accepted arrives intact.
    assert_eq!(q.len(), 2);
    let mut buf = [0u8; 4096];
    let n = q.recv(&mut buf).unwrap();
    assert_eq!(s.decode(&buf[..n]).unwrap(), reading(8, "cellar"));
    let n = q.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], &good[..]);
}

#[test]
fn batches_stop_at_the_first_invalid_message() {
    require_module();
    let s = schema();
    let reg = RegisteredSchema::register(s.clone()).unwrap();
    let q = schema_queue(&reg);
    let tx = q.sender();
    let good: Vec<Vec<u8>> = (0..4).map(|i| s.encode(&reading(i, "batch")).unwrap()).collect();
    let bad = corrupt(&s, &good[0], 0, 7);
    let batch: Vec<(MsgPriority, &[u8])> =
        vec![(MsgPriority::Normal, &good[0]), (MsgPriority::Normal, &good[1]), (MsgPriority::Normal, &bad), (MsgPriority::Normal, &good[3])];
    assert_eq!(tx.send_batch(&batch, std::time::Duration::ZERO).unwrap(), 2);
    let e = last_error(tx);
    assert_eq!((e.count, e.reason, e.index), (1, KRING_SCHEMA_E_BOOL, 2));
    assert_eq!(q.len(), 2);
    // A batch that starts with the invalid message fails with its detail.
    match tx.send_batch(&batch[2..], std::time::Duration::ZERO) {
        Err(Error::SchemaViolation { reason, index, .. }) => assert_eq!((reason, index), (program::reason::BOOL, Some(0))),
        other => panic!("{other:?}"),
    }
    assert_eq!(q.len(), 2);
    // The batch-and-wait path checks too.
    assert_eq!(q.send_batch_and_wait(&batch[..2], Some(std::time::Duration::ZERO)).unwrap(), 2);
    assert!(matches!(q.send_batch_and_wait(&batch[2..3], Some(std::time::Duration::ZERO)), Err(Error::SchemaViolation { .. })));
    assert_eq!(q.len(), 4);
}

#[test]
fn descriptor_payloads_are_checked_in_the_region() {
    require_module();
    let s = schema();
    let reg = RegisteredSchema::register(s.clone()).unwrap();
    let q = schema_queue(&reg);
    let tx = q.sender();
    let good = s.encode(&reading(42, "vault")).unwrap();
    let bad = corrupt(&s, &good, 0, 3);
    let both = [good.clone(), bad.clone()].concat();
    let region = Region::create(RegionPolicy::Immutable { size: both.len() as u64 }).unwrap();
    region.write(0, &both).unwrap();
    region.seal().unwrap();
    tx.send_descriptor(&region, 0, good.len() as u32, MsgPriority::Normal).unwrap();
    match tx.send_descriptor(&region, good.len() as u64, bad.len() as u32, MsgPriority::Normal) {
        Err(Error::SchemaViolation { reason, .. }) => assert_eq!(reason, program::reason::BOOL),
        other => panic!("{other:?}"),
    }
    // A valid prefix of a longer span is not a valid message (trailing bytes).
    assert!(matches!(tx.send_descriptor(&region, 0, both.len() as u32, MsgPriority::Normal), Err(Error::SchemaViolation { .. })));
    // AppendOnly: committed bytes are checked where they lie.
    let log = Region::create(RegionPolicy::AppendOnly { max_size: 8192 }).unwrap();
    log.append(&bad).unwrap();
    log.append(&good).unwrap();
    assert!(matches!(tx.send_descriptor(&log, 0, bad.len() as u32, MsgPriority::Low), Err(Error::SchemaViolation { .. })));
    tx.send_descriptor(&log, bad.len() as u64, good.len() as u32, MsgPriority::Low).unwrap();
    assert_eq!(q.len(), 2);
    // A typed message is a message: a descriptor may name at most max_msg_size (4096) bytes,
    // which also bounds the work of one check.
    let big = Region::create(RegionPolicy::Immutable { size: 8192 }).unwrap();
    big.seal().unwrap();
    assert_eq!(tx.send_descriptor(&big, 0, 4097, MsgPriority::Low), Err(Error::MessageTooLarge));
    assert_eq!(q.len(), 2);
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        match q.receiver().recv_message(&mut buf).unwrap() {
            Message::Descriptor { descriptor, region: view, .. } => {
                assert_eq!(s.decode(view.bytes(&descriptor).unwrap()).unwrap(), reading(42, "vault"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn queues_without_a_schema_take_any_bytes() {
    require_module();
    let q = Queue::create(QueueConfig::new(4, 64), &CreateOptions::default()).unwrap();
    q.send(&[2, 0xff, 0xfe], MsgPriority::Normal).unwrap();
    assert_eq!(q.config().schema, 0);
    assert!(matches!(q.sender().send_value(&Value::Bool(true), MsgPriority::Normal), Err(Error::NoSchema)));
}

#[test]
fn one_user_cannot_take_the_whole_schema_table() {
    require_module();
    // Distinct programs: records of 1, 2, 3, ... u8 fields.
    let program = |n: usize| {
        let fields: String = (0..n).map(|i| format!("field{i}: u8, ")).collect();
        Schema::from_wit(&format!("package q:t; interface t {{ record r {{ {fields} }} }}"), "r").unwrap()
    };
    let mut held = Vec::new();
    let refused = loop {
        match RegisteredSchema::register(Arc::new(program(held.len() + 1))) {
            Ok(r) => held.push(r),
            Err(e) => break e,
        }
        assert!(held.len() <= 64, "max_user_schemas (64) not enforced");
    };
    assert_eq!(refused, Error::UserLimit);
    assert!(held.len() > 56, "only {} schemas before the limit", held.len());
    // Re-registering a program this user already has is not a new schema: always fine.
    let again = RegisteredSchema::register(Arc::new(program(1))).unwrap();
    assert_eq!(again.id(), held[0].id());
    drop(again);
    // Freeing one makes room for one.
    held.pop();
    let n = held.len() + 1;
    held.push(RegisteredSchema::register(Arc::new(program(n))).unwrap());
}
