// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Schema programs and typed messages: the shared loader and validator (`src/schema.rs`), the
//! lowering of types, the canonical encoder, and the independent decoder used as an oracle.

use std::time::{Duration, Instant};

use kring::schema::program::{self, kind, reason, LoadError, NodeInfo, RefInfo};
use kring::schema::{Schema, SchemaError, Type, Value};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn schema(ty: &Type) -> Schema {
    Schema::from_type(ty).unwrap_or_else(|e| panic!("{ty}: {e}"))
}

/// `msg` is valid for both the validator and the oracle, and decodes to `want` (if given).
#[track_caller]
fn accept(s: &Schema, msg: &[u8], want: Option<&Value>) {
    if let Err(v) = s.validate(msg) {
        panic!("validator refused {msg:?}: {v}");
    }
    let got = s.decode(msg).unwrap_or_else(|e| panic!("decoder refused {msg:?}: {e}"));
    if let Some(want) = want {
        assert!(got.bit_eq(want), "decoded {got:?}, want {want:?}");
    }
    assert_eq!(s.encode(&got).unwrap(), msg, "re-encoding differs");
}

/// The validator refuses `msg` with `reason` at `path` (and `offset`, if given); the oracle
/// refuses it the same way.
#[track_caller]
fn refuse(s: &Schema, msg: &[u8], why: u32, path: &str, offset: Option<u32>) {
    let v = s.validate(msg).expect_err("validator accepted");
    assert_eq!(
        (program::reason::describe(v.reason), v.path.as_str()),
        (program::reason::describe(why), path),
        "validator: {v}"
    );
    if let Some(o) = offset {
        assert_eq!(v.offset, o, "validator: {v}");
    }
    match s.decode(msg) {
        Err(SchemaError::Decode(d)) => assert_eq!(d, v, "oracle disagrees: {d} vs {v}"),
        other => panic!("oracle: {other:?}"),
    }
}

fn le32(x: u32) -> [u8; 4] {
    x.to_le_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn named(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Hand-made messages, one constructor at a time

#[test]
fn scalars() {
    for (ty, size) in [
        (Type::S8, 1),
        (Type::U8, 1),
        (Type::S16, 2),
        (Type::U16, 2),
        (Type::S32, 4),
        (Type::U32, 4),
        (Type::S64, 8),
        (Type::U64, 8),
        (Type::F32, 4),
        (Type::F64, 8),
    ] {
        let s = schema(&ty);
        assert_eq!(s.min_size(), size);
        accept(&s, &vec![0xa5; size], None);
        refuse(&s, &vec![0; size - 1], reason::SHORT, "$", Some(0));
        refuse(&s, &vec![0; size + 1], reason::TRAILING, "$", Some(size as u32));
    }
    let s = schema(&Type::S32);
    accept(&s, &(-5i32).to_le_bytes(), Some(&Value::S32(-5)));
    let s = schema(&Type::F64);
    accept(&s, &f64::NAN.to_bits().to_le_bytes(), Some(&Value::F64(f64::NAN)));
}

#[test]
fn bool_() {
    let s = schema(&Type::Bool);
    accept(&s, &[0], Some(&Value::Bool(false)));
    accept(&s, &[1], Some(&Value::Bool(true)));
    refuse(&s, &[2], reason::BOOL, "$", Some(0));
    refuse(&s, &[0xff], reason::BOOL, "$", Some(0));
    refuse(&s, &[], reason::SHORT, "$", Some(0));
    refuse(&s, &[1, 0], reason::TRAILING, "$", Some(1));
}

#[test]
fn char_() {
    let s = schema(&Type::Char);
    accept(&s, &le32('A' as u32), Some(&Value::Char('A')));
    accept(&s, &le32(0x10ffff), Some(&Value::Char('\u{10ffff}')));
    refuse(&s, &le32(0xd800), reason::CHAR, "$", Some(0));
    refuse(&s, &le32(0xdfff), reason::CHAR, "$", Some(0));
    refuse(&s, &le32(0x11_0000), reason::CHAR, "$", Some(0));
}

#[test]
fn string() {
    let s = schema(&Type::String);
    assert_eq!(s.min_size(), 8);
    accept(&s, &cat(&[&le32(0), &le32(0)]), Some(&Value::string("")));
    accept(&s, &cat(&[&le32(8), &le32(2), b"hi"]), Some(&Value::string("hi")));
    accept(&s, &cat(&[&le32(8), &le32(3), "é!".as_bytes()]), Some(&Value::string("é!")));
    // Bad UTF-8: reported at the first bad byte.
    refuse(&s, &cat(&[&le32(8), &le32(3), b"a\xffb"]), reason::UTF8, "$", Some(9));
    refuse(&s, &cat(&[&le32(8), &le32(2), b"\xc3("]), reason::UTF8, "$", Some(8));
    refuse(&s, &cat(&[&le32(8), &le32(3), b"\xed\xa0\x80"]), reason::UTF8, "$", Some(8)); // surrogate
                                                                                          // Empty string with an offset.
    refuse(&s, &cat(&[&le32(8), &le32(0)]), reason::OFFSET, "$", Some(0));
    // Block not at the cursor.
    refuse(&s, &cat(&[&le32(9), &le32(1), b"\0a"]), reason::OFFSET, "$", Some(0));
    refuse(&s, &cat(&[&le32(0), &le32(2), b"hi"]), reason::OFFSET, "$", Some(0));
    // Past the end.
    refuse(&s, &cat(&[&le32(8), &le32(3), b"hi"]), reason::BOUNDS, "$", Some(0));
    refuse(&s, &cat(&[&le32(8), &le32(u32::MAX), b"hi"]), reason::BOUNDS, "$", Some(0));
    // Data after the block; data but an empty string.
    refuse(&s, &cat(&[&le32(8), &le32(2), b"hi!"]), reason::TRAILING, "$", Some(10));
    refuse(&s, &cat(&[&le32(0), &le32(0), b"x"]), reason::TRAILING, "$", Some(8));
    refuse(&s, &[0; 7], reason::SHORT, "$", Some(0));
}

#[test]
fn list() {
    let s = schema(&Type::list(Type::U16));
    accept(&s, &[0; 8], Some(&Value::list([])));
    accept(&s, &cat(&[&le32(8), &le32(2), &[1, 0, 2, 0]]), Some(&Value::list([Value::U16(1), Value::U16(2)])));
    refuse(&s, &cat(&[&le32(8), &le32(3), &[1, 0, 2, 0]]), reason::BOUNDS, "$", Some(0));
    refuse(&s, &cat(&[&le32(4), &le32(0)]), reason::OFFSET, "$", Some(0));

    // Elements are checked, with the element's path.
    let s = schema(&Type::list(Type::Bool));
    accept(&s, &cat(&[&le32(8), &le32(2), &[1, 0]]), None);
    refuse(&s, &cat(&[&le32(8), &le32(2), &[1, 7]]), reason::BOOL, "$[]", Some(9));

    // list<u64> after a string: the gap up to 8-byte alignment must be zero.
    let ty = Type::record("r", [("s", Type::String), ("l", Type::list(Type::U64))]);
    let s = schema(&ty);
    assert_eq!(s.min_size(), 16);
    let good = cat(&[&le32(16), &le32(3), &le32(24), &le32(1), b"abc", &[0; 5], &le32(7), &le32(0)]);
    accept(&s, &good, None);
    let mut bad = good.clone();
    bad[21] = 1;
    refuse(&s, &bad, reason::PADDING, "r.l", Some(21));
    // The block must start at the aligned cursor, not at the cursor itself.
    let bad = cat(&[&le32(16), &le32(3), &le32(19), &le32(1), b"abc", &le32(7), &le32(0)]);
    refuse(&s, &bad, reason::OFFSET, "r.l", Some(8));
    // Empty list with an offset.
    let bad = cat(&[&le32(16), &le32(3), &le32(24), &le32(0), b"abc", &[0; 5]]);
    refuse(&s, &bad, reason::OFFSET, "r.l", Some(8));

    // list<list<u8>>: inner blocks come after the outer block, in element order.
    let s = schema(&Type::list(Type::list(Type::U8)));
    let good = cat(&[&le32(8), &le32(2), &le32(24), &le32(1), &le32(25), &le32(2), &[9, 8, 7]]);
    accept(&s, &good, None);
    let swapped = cat(&[&le32(8), &le32(2), &le32(26), &le32(1), &le32(24), &le32(2), &[8, 7, 9]]);
    refuse(&s, &swapped, reason::OFFSET, "$[]", Some(8));
}

#[test]
fn fixed_list() {
    let s = schema(&Type::fixed_list(Type::Char, 2));
    assert_eq!(s.min_size(), 8);
    accept(&s, &cat(&[&le32('a' as u32), &le32('b' as u32)]), Some(&Value::FixedList(vec!['a'.into(), 'b'.into()])));
    refuse(&s, &cat(&[&le32('a' as u32), &le32(0xd800)]), reason::CHAR, "$[]", Some(4));
    // Fixed list of strings: blocks in element order.
    let s = schema(&Type::fixed_list(Type::String, 2));
    accept(&s, &cat(&[&le32(16), &le32(1), &le32(17), &le32(1), b"xy"]), None);
    refuse(&s, &cat(&[&le32(17), &le32(1), &le32(16), &le32(1), b"yx"]), reason::OFFSET, "$[]", Some(0));
    assert!(matches!(Schema::from_type(&Type::fixed_list(Type::U8, 0)), Err(SchemaError::Unsupported(_))));
}

#[test]
fn tuple_and_record() {
    let s = schema(&Type::tuple([Type::U8, Type::U32]));
    assert_eq!(s.min_size(), 8);
    accept(&s, &[1, 0, 0, 0, 2, 0, 0, 0], Some(&Value::tuple([Value::U8(1), Value::U32(2)])));
    refuse(&s, &[1, 0, 9, 0, 2, 0, 0, 0], reason::PADDING, "$", Some(2));

    // Trailing padding of a record, and the nested path of a field.
    let ty = Type::record("p", [("a", Type::U32), ("b", Type::Bool)]);
    let s = schema(&ty);
    assert_eq!(s.min_size(), 8);
    accept(&s, &[1, 0, 0, 0, 1, 0, 0, 0], None);
    refuse(&s, &[1, 0, 0, 0, 1, 0, 0, 1], reason::PADDING, "p", Some(7));
    refuse(&s, &[1, 0, 0, 0, 2, 0, 0, 0], reason::BOOL, "p.b", Some(4));

    let ty = Type::record("outer", [("pair", Type::tuple([Type::Bool, Type::Char]))]);
    let s = schema(&ty);
    refuse(&s, &cat(&[&[0, 0, 0, 0], &le32(0xdc00)]), reason::CHAR, "outer.pair.1", Some(4));
    assert!(matches!(Schema::from_type(&Type::Tuple(vec![])), Err(SchemaError::Unsupported(_))));
    assert!(matches!(Schema::from_type(&Type::record::<&str>("e", [])), Err(SchemaError::Unsupported(_))));
}

#[test]
fn variant() {
    let ty = Type::variant("v", [("a", Some(Type::U8)), ("b", Some(Type::U64)), ("c", None)]);
    let s = schema(&ty);
    assert_eq!(s.min_size(), 16);
    let msg = |d: u8, payload: &[u8]| {
        let mut m = vec![0u8; 16];
        m[0] = d;
        m[8..8 + payload.len()].copy_from_slice(payload);
        m
    };
    accept(&s, &msg(0, &[7]), Some(&Value::variant("a", Value::U8(7))));
    accept(&s, &msg(1, &u64::MAX.to_le_bytes()), Some(&Value::variant("b", Value::U64(u64::MAX))));
    accept(&s, &msg(2, &[]), Some(&Value::case("c")));
    refuse(&s, &msg(3, &[]), reason::DISCRIMINANT, "v", Some(0));
    refuse(&s, &msg(0xff, &[]), reason::DISCRIMINANT, "v", Some(0));
    // Padding between discriminant and payload.
    let mut m = msg(0, &[7]);
    m[3] = 1;
    refuse(&s, &m, reason::PADDING, "v", Some(3));
    // Padding after a short payload, and the payload area of a case without payload.
    refuse(&s, &msg(0, &[7, 1]), reason::PADDING, "v", Some(9));
    refuse(&s, &msg(2, &[0, 0, 0, 0, 0, 0, 0, 1]), reason::PADDING, "v", Some(15));
    // Payload errors carry the case's path.
    let ty = Type::variant("shape", [("circle", Some(Type::record("c", [("radius", Type::Char)]))), ("dot", None)]);
    let s = schema(&ty);
    refuse(&s, &cat(&[&[0, 0, 0, 0], &le32(0x11_0000)]), reason::CHAR, "shape.circle.radius", Some(4));
    assert!(matches!(Schema::from_type(&Type::variant::<&str>("e", [])), Err(SchemaError::Unsupported(_))));
}

#[test]
fn enum_() {
    let s = schema(&Type::enumeration("color", ["red", "green", "blue"]));
    assert_eq!(s.min_size(), 1);
    accept(&s, &[2], Some(&Value::enum_case("blue")));
    refuse(&s, &[3], reason::DISCRIMINANT, "color", Some(0));
    // 256 cases still fit a u8 discriminant, 257 need a u16.
    let s = schema(&Type::enumeration("big", named("c", 256)));
    assert_eq!(s.min_size(), 1);
    accept(&s, &[255], None);
    let s = schema(&Type::enumeration("big", named("c", 300)));
    assert_eq!(s.min_size(), 2);
    accept(&s, &299u16.to_le_bytes(), Some(&Value::enum_case("c299")));
    refuse(&s, &300u16.to_le_bytes(), reason::DISCRIMINANT, "big", Some(0));
    // A u16-discriminant variant aligns a u8 payload at 2.
    let mut cases: Vec<(String, Option<Type>)> = named("c", 300).into_iter().map(|c| (c, None)).collect();
    cases[299].1 = Some(Type::Bool);
    let s = schema(&Type::variant("wide", cases));
    assert_eq!(s.min_size(), 4);
    accept(&s, &[43, 1, 1, 0], Some(&Value::variant("c299", Value::Bool(true))));
    refuse(&s, &[43, 1, 2, 0], reason::BOOL, "wide.c299", Some(2));
    refuse(&s, &[43, 1, 1, 5], reason::PADDING, "wide", Some(3));
}

#[test]
fn option_and_result() {
    let s = schema(&Type::option(Type::U32));
    assert_eq!(s.min_size(), 8);
    accept(&s, &[0; 8], Some(&Value::none()));
    accept(&s, &[1, 0, 0, 0, 5, 0, 0, 0], Some(&Value::some(Value::U32(5))));
    refuse(&s, &[2, 0, 0, 0, 0, 0, 0, 0], reason::DISCRIMINANT, "$", Some(0));
    refuse(&s, &[0, 0, 0, 0, 5, 0, 0, 0], reason::PADDING, "$", Some(4));
    let s = schema(&Type::option(Type::Bool));
    refuse(&s, &[1, 2], reason::BOOL, "$?", Some(1));

    let s = schema(&Type::result(Some(Type::String), Some(Type::U8)));
    assert_eq!(s.min_size(), 12);
    accept(&s, &cat(&[&le32(0), &le32(12), &le32(1), b"k"]), Some(&Value::ok(Some(Value::string("k")))));
    accept(&s, &cat(&[&le32(1), &[9, 0, 0, 0], &le32(0)]), Some(&Value::err(Some(Value::U8(9)))));
    refuse(&s, &cat(&[&le32(1), &[9, 0, 0, 0], &le32(1)]), reason::PADDING, "$", Some(8));
    refuse(&s, &cat(&[&le32(0), &le32(12), &le32(1), b"\x80"]), reason::UTF8, "$.ok", Some(12));
    let s = schema(&Type::result(None, None));
    assert_eq!(s.min_size(), 1);
    accept(&s, &[1], Some(&Value::err(None)));
    refuse(&s, &[2], reason::DISCRIMINANT, "$", Some(0));
}

#[test]
fn flags() {
    let s = schema(&Type::flags("f", ["a", "b", "c"]));
    assert_eq!(s.min_size(), 1);
    accept(&s, &[0b101], Some(&Value::flags(["a", "c"])));
    refuse(&s, &[0b1000], reason::FLAGS, "f", Some(0));
    let s = schema(&Type::flags("f", named("b", 9)));
    assert_eq!(s.min_size(), 2);
    accept(&s, &[0xff, 0x01], None);
    refuse(&s, &[0xff, 0x02], reason::FLAGS, "f", Some(0));
    let s = schema(&Type::flags("f", named("b", 17)));
    assert_eq!(s.min_size(), 4);
    refuse(&s, &[0, 0, 2, 0], reason::FLAGS, "f", Some(0));
    // 8, 16 and 32 flags use every bit.
    for n in [8, 16, 32] {
        let s = schema(&Type::flags("f", named("b", n)));
        accept(&s, &vec![0xff; n / 8], None);
    }
    assert!(matches!(Schema::from_type(&Type::flags("f", named("b", 33))), Err(SchemaError::Unsupported(_))));
    assert!(matches!(Schema::from_type(&Type::flags::<&str>("f", [])), Err(SchemaError::Unsupported(_))));
    // Encoder errors name the path.
    let s = schema(&Type::record("r", [("fl", Type::flags("f", ["a"]))]));
    let e = s.encode(&Value::record([("fl", Value::flags(["z"]))])).unwrap_err();
    assert_eq!(e.to_string(), "cannot encode: field `r.fl`: no flag `z`");
}

#[test]
fn limits() {
    // Depth: a scalar is 1 deep, each list adds one.
    let mut t = Type::U8;
    for _ in 0..program::MAX_DEPTH - 1 {
        t = Type::list(t);
    }
    schema(&t);
    assert!(matches!(Schema::from_type(&Type::list(t)), Err(SchemaError::Unsupported(_))));
    // Inline size.
    schema(&Type::fixed_list(Type::U8, program::MAX_TYPE_SIZE as u32));
    let e = Schema::from_type(&Type::fixed_list(Type::U8, program::MAX_TYPE_SIZE as u32 + 1)).unwrap_err();
    assert!(matches!(e, SchemaError::Unsupported(_)), "{e}");
    let e = Schema::from_type(&Type::fixed_list(Type::fixed_list(Type::U64, 1 << 16), 1 << 16)).unwrap_err();
    assert!(matches!(e, SchemaError::Unsupported(_)), "{e}");
    // Nodes and refs.
    let wide = Type::tuple(std::iter::repeat_n(Type::U8, program::MAX_NODES));
    assert!(matches!(Schema::from_type(&wide), Err(SchemaError::Unsupported(_))));
    schema(&Type::tuple(std::iter::repeat_n(Type::U8, program::MAX_NODES - 1)));
    let many = Type::enumeration("e", named("c", program::MAX_REFS + 1));
    assert!(matches!(Schema::from_type(&many), Err(SchemaError::Unsupported(_))));
    schema(&Type::enumeration("e", named("c", program::MAX_REFS)));
}

#[test]
fn encoder_checks_values() {
    let ty = Type::record("pt", [("x", Type::S32), ("tags", Type::list(Type::String))]);
    let s = schema(&ty);
    let ok = Value::record([("tags", Value::list([Value::string("a")])), ("x", Value::S32(1))]);
    let msg = s.encode(&ok).unwrap();
    // Fields in declaration order after decoding.
    assert_eq!(
        s.decode(&msg).unwrap(),
        Value::record([("x", Value::S32(1)), ("tags", Value::list([Value::string("a")]))])
    );
    let err = |v: Value| s.encode(&v).unwrap_err().to_string();
    assert_eq!(err(Value::record([("x", Value::S32(1))])), "cannot encode: field `pt`: field `tags` missing");
    assert_eq!(
        err(Value::record([("x", Value::S32(1)), ("tags", Value::list([])), ("y", Value::S32(2))])),
        "cannot encode: field `pt`: no field `y`"
    );
    assert_eq!(
        err(Value::record([("x", Value::U32(1)), ("tags", Value::list([]))])),
        "cannot encode: field `pt.x`: expected s32, found a u32 value"
    );
    assert_eq!(
        err(Value::record([("x", Value::S32(1)), ("tags", Value::list([Value::U8(1)]))])),
        "cannot encode: field `pt.tags[]`: expected string, found a u8 value"
    );
    let s = schema(&Type::fixed_list(Type::U8, 2));
    assert!(s.encode(&Value::FixedList(vec![Value::U8(1)])).is_err());
    let s = schema(&Type::variant("v", [("a", Some(Type::U8)), ("b", None)]));
    assert!(s.encode(&Value::case("a")).is_err());
    assert!(s.encode(&Value::variant("b", Value::U8(1))).is_err());
    assert!(s.encode(&Value::case("c")).is_err());
}

#[test]
fn known_answer() {
    // record msg { name: string, vals: list<u16>, id: u8 }: inline 20 bytes (id at 16, 3 bytes
    // of padding), then "hi" at 20, then the u16s at 22 (already aligned).
    let ty = Type::record("msg", [("name", Type::String), ("vals", Type::list(Type::U16)), ("id", Type::U8)]);
    let s = schema(&ty);
    let v = Value::record([
        ("name", Value::string("hi")),
        ("vals", Value::list([Value::U16(1), Value::U16(2), Value::U16(0x303)])),
        ("id", Value::U8(7)),
    ]);
    #[rustfmt::skip]
    let want = [
        20, 0, 0, 0,   2, 0, 0, 0,   // name: offset 20, 2 bytes
        22, 0, 0, 0,   3, 0, 0, 0,   // vals: offset 22, 3 elements
        7, 0, 0, 0,                  // id, padding
        b'h', b'i',                  // name
        1, 0, 2, 0, 3, 3,            // vals
    ];
    assert_eq!(s.encode(&v).unwrap(), want);
    accept(&s, &want, Some(&v));
    // With a 1-byte string the u16 block starts one byte later, after a zero byte.
    let v = Value::record([("name", Value::string("h")), ("vals", Value::list([Value::U16(1)])), ("id", Value::U8(0))]);
    let want = cat(&[&le32(20), &le32(1), &le32(22), &le32(1), &[0; 4], b"h", &[0], &[1, 0]]);
    assert_eq!(s.encode(&v).unwrap(), want);
    // The program itself: post-order nodes, refs in node order.
    let s = schema(&Type::record("r", [("a", Type::U8), ("b", Type::list(Type::U8))]));
    #[rustfmt::skip]
    let prog = cat(&[
        &le32(program::SCHEMA_MAGIC), &[1, 0, 0, 0], &le32(4), &le32(2),
        &[kind::U8, 0, 0, 0], &le32(0), &le32(0),
        &[kind::U8, 0, 0, 0], &le32(0), &le32(0),
        &[kind::LIST, 0, 0, 0], &le32(0), &le32(1),
        &[kind::RECORD, 0, 0, 0], &le32(2), &le32(0),
        &le32(0), &le32(2),
    ]);
    assert_eq!(s.program(), prog);
    let paths: Vec<String> = (0..4).map(|i| s.field_path(i)).collect();
    assert_eq!(paths, ["r.a", "r.b[]", "r.b", "r"]);
}

#[test]
fn raw_programs() {
    let s = schema(&Type::record("r", [("a", Type::Bool), ("b", Type::list(Type::Bool))]));
    let raw = Schema::from_program(s.program()).unwrap();
    assert!(raw.ty().is_none());
    assert_eq!(raw.min_size(), s.min_size());
    let v = raw.validate(&cat(&[&[0, 0, 0, 0], &le32(12), &le32(1), &[3]])).unwrap_err();
    assert_eq!((v.reason, v.path.as_str()), (reason::BOOL, "#1"));
    assert_eq!(v.to_string(), "field `#1` at byte 12: bool is neither 0 nor 1");
    assert!(raw.encode(&Value::Bool(true)).is_err());
    assert!(raw.decode(&[0; 12]).is_err());
    assert_eq!(Schema::from_program(&s.program()[..20]).unwrap_err(), SchemaError::Program(LoadError::Length));
    let d = s.describe(&program::Violation { reason: reason::PADDING, node: 3, offset: 2 });
    assert_eq!(d.to_string(), "field `r` at byte 2: padding byte is not zero");
    assert_eq!(s.field_path(99), "#99");
}

// ---------------------------------------------------------------------------------------------
// Properties: random types and values

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::S8),
        Just(Type::U8),
        Just(Type::S16),
        Just(Type::U16),
        Just(Type::S32),
        Just(Type::U32),
        Just(Type::S64),
        Just(Type::U64),
        Just(Type::F32),
        Just(Type::F64),
        Just(Type::Char),
        Just(Type::String),
        (1..=32usize).prop_map(|n| Type::flags("fl", named("b", n))),
        (1..=5usize).prop_map(|n| Type::enumeration("en", named("e", n))),
        Just(Type::result(None, None)),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            (inner.clone(), 1..4u32).prop_map(|(t, n)| Type::fixed_list(t, n)),
            vec(inner.clone(), 1..4).prop_map(Type::Tuple),
            vec(inner.clone(), 1..4).prop_map(|ts| Type::record("rec", named("f", ts.len()).into_iter().zip(ts))),
            vec(proptest::option::of(inner.clone()), 1..4)
                .prop_map(|cs| Type::variant("var", named("c", cs.len()).into_iter().zip(cs))),
            inner.clone().prop_map(Type::option),
            (proptest::option::of(inner.clone()), proptest::option::of(inner)).prop_map(|(o, e)| Type::result(o, e)),
        ]
    })
}

fn arb_value(t: &Type) -> BoxedStrategy<Value> {
    let payload = |t: &Option<Type>| -> BoxedStrategy<Option<Box<Value>>> {
        match t {
            Some(t) => arb_value(t).prop_map(|v| Some(Box::new(v))).boxed(),
            None => Just(None).boxed(),
        }
    };
    match t {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::S8 => any::<i8>().prop_map(Value::S8).boxed(),
        Type::S16 => any::<i16>().prop_map(Value::S16).boxed(),
        Type::S32 => any::<i32>().prop_map(Value::S32).boxed(),
        Type::S64 => any::<i64>().prop_map(Value::S64).boxed(),
        Type::U8 => any::<u8>().prop_map(Value::U8).boxed(),
        Type::U16 => any::<u16>().prop_map(Value::U16).boxed(),
        Type::U32 => any::<u32>().prop_map(Value::U32).boxed(),
        Type::U64 => any::<u64>().prop_map(Value::U64).boxed(),
        Type::F32 => any::<u32>().prop_map(|b| Value::F32(f32::from_bits(b))).boxed(),
        Type::F64 => any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))).boxed(),
        Type::Char => any::<char>().prop_map(Value::Char).boxed(),
        Type::String => vec(any::<char>(), 0..5).prop_map(|c| Value::String(c.into_iter().collect())).boxed(),
        Type::List(e) => vec(arb_value(e), 0..4).prop_map(Value::List).boxed(),
        Type::FixedList(e, n) => vec(arb_value(e), *n as usize).prop_map(Value::FixedList).boxed(),
        Type::Tuple(ts) => ts.iter().map(arb_value).collect::<Vec<_>>().prop_map(Value::Tuple).boxed(),
        Type::Record { fields, .. } => {
            let names: Vec<String> = fields.iter().map(|f| f.0.clone()).collect();
            let vals: Vec<_> = fields.iter().map(|f| arb_value(&f.1)).collect();
            vals.prop_map(move |vs| Value::Record(names.iter().cloned().zip(vs).collect())).boxed()
        }
        Type::Variant { cases, .. } => {
            let cases = cases.clone();
            (0..cases.len())
                .prop_flat_map(move |i| {
                    let name = cases[i].0.clone();
                    payload(&cases[i].1).prop_map(move |p| Value::Variant(name.clone(), p))
                })
                .boxed()
        }
        Type::Enum { cases, .. } => {
            let cases = cases.clone();
            (0..cases.len()).prop_map(move |i| Value::Enum(cases[i].clone())).boxed()
        }
        Type::Option(t) => proptest::option::of(arb_value(t)).prop_map(|v| Value::Option(v.map(Box::new))).boxed(),
        Type::Result { ok, err } => {
            let ok = payload(&ok.as_deref().cloned()).prop_map(|p| Value::Result(Ok(p)));
            let err = payload(&err.as_deref().cloned()).prop_map(|p| Value::Result(Err(p)));
            prop_oneof![ok, err].boxed()
        }
        Type::Flags { flags, .. } => {
            let flags = flags.clone();
            vec(any::<bool>(), flags.len())
                .prop_map(move |set| {
                    Value::Flags(flags.iter().zip(set).filter(|(_, s)| *s).map(|(f, _)| f.clone()).collect())
                })
                .boxed()
        }
    }
}

fn arb_typed_value() -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(|t| {
        let v = arb_value(&t);
        (Just(t), v)
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    /// A small little-endian u32 (likely an offset or a count) at a 4-aligned position.
    SetWord(usize, u32),
    Truncate(usize),
    Extend(Vec<u8>),
}

fn mutate(msg: &mut Vec<u8>, m: &Mutation) {
    let n = msg.len();
    match *m {
        Mutation::Flip(i, bit) if n > 0 => msg[i % n] ^= 1 << (bit % 8),
        Mutation::Set(i, b) if n > 0 => msg[i % n] = b,
        Mutation::SetWord(i, w) if n >= 4 => {
            let at = (i % (n / 4)) * 4;
            msg[at..at + 4].copy_from_slice(&(w % (n as u32 + 9)).to_le_bytes());
        }
        Mutation::Truncate(k) if n > 0 => msg.truncate(n - 1 - k % n),
        Mutation::Extend(ref b) => msg.extend_from_slice(b),
        _ => {}
    }
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        3 => (any::<usize>(), any::<u32>()).prop_map(|(i, w)| Mutation::SetWord(i, w)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => vec(prop_oneof![Just(0u8), any::<u8>()], 1..4).prop_map(Mutation::Extend),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// encode -> the validator accepts -> decode gives the value back -> re-encoding is
    /// identical; and the loader's layout equals the type's (debug assert in `from_type`).
    #[test]
    fn round_trip((ty, v) in arb_typed_value()) {
        let s = Schema::from_type(&ty).unwrap();
        let msg = s.encode(&v).unwrap();
        prop_assert!(msg.len() >= s.min_size());
        if let Err(e) = s.validate(&msg) {
            return Err(TestCaseError::fail(format!("{ty}: {e}")));
        }
        let back = s.decode(&msg).unwrap();
        prop_assert!(back.bit_eq(&v), "{:?} != {:?}", back, v);
        prop_assert_eq!(&s.encode(&back).unwrap(), &msg);
        // The raw program without names validates the same way.
        let raw = Schema::from_program(s.program()).unwrap();
        prop_assert!(raw.validate(&msg).is_ok());
    }

    /// Mutated encodings: the validator accepts exactly what the oracle decoder accepts, both
    /// report the same first violation, and whatever is accepted is canonical.
    #[test]
    fn mutations_agree((ty, v) in arb_typed_value(), muts in vec(arb_mutation(), 1..4)) {
        let s = Schema::from_type(&ty).unwrap();
        let mut msg = s.encode(&v).unwrap();
        for m in &muts {
            mutate(&mut msg, m);
        }
        match (s.validate(&msg), s.decode(&msg)) {
            (Ok(()), Ok(d)) => prop_assert_eq!(s.encode(&d).unwrap(), msg, "accepted but not canonical"),
            (Err(a), Err(SchemaError::Decode(b))) => prop_assert_eq!(a, b),
            (a, b) => return Err(TestCaseError::fail(format!("{ty}: {msg:?}: validator {a:?}, oracle {b:?}"))),
        }
    }

    /// Random messages of a random type (mostly zeros, so that many get deep into the walk).
    #[test]
    fn random_messages_agree(ty in arb_type(), bytes in vec(prop_oneof![3 => Just(0u8), 1 => 0..3u8, 1 => any::<u8>()], 0..64)) {
        let s = Schema::from_type(&ty).unwrap();
        match (s.validate(&bytes), s.decode(&bytes)) {
            (Ok(()), Ok(d)) => prop_assert_eq!(s.encode(&d).unwrap(), bytes),
            (Err(a), Err(SchemaError::Decode(b))) => prop_assert_eq!(a, b),
            (a, b) => return Err(TestCaseError::fail(format!("{ty}: {bytes:?}: validator {a:?}, oracle {b:?}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loader fuzzing. No nightly toolchain here, so this is structured fuzzing with a deterministic
// xorshift generator: random bytes, random node tables, and mutations of valid programs.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A random type, for the corpus of valid programs.
fn rand_type(r: &mut Rng, depth: u32) -> Type {
    let leaf = depth == 0 || r.chance(3);
    if leaf {
        return match r.below(15) {
            0 => Type::Bool,
            1 => Type::S8,
            2 => Type::U16,
            3 => Type::S32,
            4 => Type::U64,
            5 => Type::F32,
            6 => Type::F64,
            7 => Type::Char,
            8 | 9 => Type::String,
            10 => Type::flags("f", named("b", 1 + r.below(32) as usize)),
            11 => Type::enumeration("e", named("c", 1 + r.below(4) as usize)),
            _ => Type::U8,
        };
    }
    let d = depth - 1;
    let n = 1 + r.below(3) as usize;
    match r.below(7) {
        0 | 1 => Type::list(rand_type(r, d)),
        2 => Type::fixed_list(rand_type(r, d), 1 + r.below(3) as u32),
        3 => Type::record("r", named("f", n).into_iter().zip((0..n).map(|_| rand_type(r, d))).collect::<Vec<_>>()),
        4 => Type::Tuple((0..n).map(|_| rand_type(r, d)).collect()),
        5 => Type::variant(
            "v",
            named("c", n)
                .into_iter()
                .map(|c| (c, if r.chance(3) { None } else { Some(rand_type(r, d)) }))
                .collect::<Vec<_>>(),
        ),
        _ => Type::option(rand_type(r, d)),
    }
}

fn header(nodes: u32, refs: u32) -> Vec<u8> {
    cat(&[&le32(program::SCHEMA_MAGIC), &[1, 0, 0, 0], &le32(nodes), &le32(refs)])
}

/// A program of random nodes that often loads: kinds 0..=19, arguments mostly pointing at
/// earlier nodes, ref runs mostly where they belong.
fn rand_program(r: &mut Rng) -> Vec<u8> {
    let n = 1 + r.below(12) as u32;
    let mut nodes = Vec::new();
    let mut refs: Vec<u32> = Vec::new();
    // An earlier node, or (rarely) this one or a later one.
    let child = |r: &mut Rng, i: u32| {
        if i == 0 || r.chance(12) {
            r.below(i as u64 + 2) as u32
        } else {
            r.below(i as u64) as u32
        }
    };
    for i in 0..n {
        let k = if r.chance(15) { r.below(256) as u8 } else { 1 + r.below(18) as u8 };
        let (mut count, mut arg) = (0u32, 0u32);
        match k {
            kind::LIST => arg = child(r, i),
            kind::FIXED_LIST => {
                count = if r.chance(6) { 0 } else { 1 + r.below(4) as u32 };
                arg = child(r, i);
            }
            kind::RECORD | kind::VARIANT => {
                count = if r.chance(10) { 0 } else { 1 + r.below(4) as u32 };
                arg = refs.len() as u32;
                for _ in 0..count {
                    refs.push(if k == kind::VARIANT && r.chance(3) { program::NO_PAYLOAD } else { child(r, i) });
                }
            }
            kind::FLAGS => count = if r.chance(10) { r.below(40) as u32 } else { 1 + r.below(32) as u32 },
            _ => {}
        }
        if r.chance(60) {
            count = r.next() as u32;
        }
        if r.chance(60) {
            arg = r.next() as u32;
        }
        nodes.push((k, count, arg));
    }
    let mut p = header(n, refs.len() as u32);
    for (k, count, arg) in nodes {
        p.extend_from_slice(&[k, 0, 0, 0]);
        p.extend_from_slice(&le32(count));
        p.extend_from_slice(&le32(arg));
    }
    for x in refs {
        p.extend_from_slice(&le32(x));
    }
    p
}

fn mutate_program(r: &mut Rng, p: &mut Vec<u8>) {
    for _ in 0..if r.chance(2) { 1 } else { 1 + r.below(3) } {
        let n = p.len() as u64;
        match r.below(6) {
            0 => p[r.below(n) as usize] ^= 1 << r.below(8),
            1 => p[r.below(n) as usize] = r.next() as u8,
            2 => p.truncate(r.below(n) as usize),
            3 if p.len() >= 16 => {
                // Change a count in the header, keeping the length consistent half the time.
                let field = if r.chance(2) { 8 } else { 12 };
                let old = u32::from_le_bytes(p[field..field + 4].try_into().unwrap());
                let new = old.wrapping_add(r.below(5) as u32).wrapping_sub(2);
                p[field..field + 4].copy_from_slice(&le32(new));
                if r.chance(2) {
                    let unit = if field == 8 { program::NODE_SIZE } else { program::REF_SIZE } as i64;
                    let want = p.len() as i64 + (new as i64 - old as i64) * unit;
                    if (0..100_000).contains(&want) {
                        p.resize(want as usize, 0);
                    }
                }
            }
            4 if p.len() >= 28 => {
                // A node's count or arg (nodes start at 16, 12 bytes each).
                let nodes = (p.len() - 16) / 12;
                let at = 16 + 12 * r.below(nodes as u64) as usize + 4 + 4 * r.below(2) as usize;
                let v = if r.chance(2) { r.below(8) as u32 } else { r.next() as u32 };
                p[at..at + 4].copy_from_slice(&le32(v));
            }
            _ => {
                let k = r.below(8) as usize;
                p.extend(r.bytes(k))
            }
        }
        if p.is_empty() {
            break;
        }
    }
}

/// Checks what the loader promises about the tables it filled.
fn check_tables(nodes: &[NodeInfo], refs: &[RefInfo]) {
    for (i, n) in nodes.iter().enumerate() {
        assert!(n.size >= 1 && n.size as u64 <= program::MAX_TYPE_SIZE, "node {i}: {n:?}");
        assert!(matches!(n.align, 1 | 2 | 4 | 8) && n.size % n.align as u32 == 0, "node {i}: {n:?}");
        assert!(n.depth >= 1 && n.depth as usize <= program::MAX_DEPTH, "node {i}: {n:?}");
    }
    for r in refs {
        assert!(r.node == program::NO_PAYLOAD || (r.node as usize) < nodes.len());
    }
}

/// Expands a loaded program (a DAG) into a tree [`Type`], unless it is too big.
fn to_type(nodes: &[NodeInfo], refs: &[RefInfo], i: u32, budget: &mut u32) -> Option<Type> {
    *budget = budget.checked_sub(1)?;
    let n = nodes[i as usize];
    let run = |budget: &mut u32| -> Option<Vec<Option<Type>>> {
        (n.arg..n.arg + n.count)
            .map(|j| {
                let node = refs[j as usize].node;
                Some(if node == program::NO_PAYLOAD { None } else { Some(to_type(nodes, refs, node, budget)?) })
            })
            .collect()
    };
    Some(match n.kind {
        kind::BOOL => Type::Bool,
        kind::S8 => Type::S8,
        kind::U8 => Type::U8,
        kind::S16 => Type::S16,
        kind::U16 => Type::U16,
        kind::S32 => Type::S32,
        kind::U32 => Type::U32,
        kind::S64 => Type::S64,
        kind::U64 => Type::U64,
        kind::F32 => Type::F32,
        kind::F64 => Type::F64,
        kind::CHAR => Type::Char,
        kind::STRING => Type::String,
        kind::LIST => Type::list(to_type(nodes, refs, n.arg, budget)?),
        kind::FIXED_LIST => Type::fixed_list(to_type(nodes, refs, n.arg, budget)?, n.count),
        kind::RECORD => Type::Tuple(run(budget)?.into_iter().map(|t| t.unwrap()).collect()),
        kind::VARIANT => {
            Type::variant("v", named("c", n.count as usize).into_iter().zip(run(budget)?).collect::<Vec<_>>())
        }
        kind::FLAGS => Type::flags("f", named("b", n.count as usize)),
        k => panic!("loaded an unknown kind {k}"),
    })
}

/// A random value of `t`.
fn rand_value(r: &mut Rng, t: &Type) -> Value {
    let payload = |r: &mut Rng, t: &Option<Type>| t.as_ref().map(|t| Box::new(rand_value(r, t)));
    match t {
        Type::Bool => Value::Bool(r.chance(2)),
        Type::S8 => Value::S8(r.next() as i8),
        Type::S16 => Value::S16(r.next() as i16),
        Type::S32 => Value::S32(r.next() as i32),
        Type::S64 => Value::S64(r.next() as i64),
        Type::U8 => Value::U8(r.next() as u8),
        Type::U16 => Value::U16(r.next() as u16),
        Type::U32 => Value::U32(r.next() as u32),
        Type::U64 => Value::U64(r.next()),
        Type::F32 => Value::F32(f32::from_bits(r.next() as u32)),
        Type::F64 => Value::F64(f64::from_bits(r.next())),
        Type::Char => Value::Char(char::from_u32(r.below(0x11_0000) as u32).unwrap_or('\u{fffd}')),
        Type::String => Value::String(["", "a", "xyz", "é", "\u{10000}"][r.below(5) as usize].to_owned()),
        Type::List(e) => Value::List((0..r.below(4)).map(|_| rand_value(r, e)).collect()),
        Type::FixedList(e, n) => Value::FixedList((0..*n).map(|_| rand_value(r, e)).collect()),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| rand_value(r, t)).collect()),
        Type::Record { fields, .. } => {
            Value::Record(fields.iter().map(|(n, t)| (n.clone(), rand_value(r, t))).collect())
        }
        Type::Variant { cases, .. } => {
            let (n, t) = &cases[r.below(cases.len() as u64) as usize];
            Value::Variant(n.clone(), payload(r, t))
        }
        Type::Enum { cases, .. } => Value::Enum(cases[r.below(cases.len() as u64) as usize].clone()),
        Type::Option(t) => Value::Option(if r.chance(2) { None } else { Some(Box::new(rand_value(r, t))) }),
        Type::Result { ok, err } => {
            if r.chance(2) {
                Value::Result(Ok(payload(r, &ok.as_deref().cloned())))
            } else {
                Value::Result(Err(payload(r, &err.as_deref().cloned())))
            }
        }
        Type::Flags { flags, .. } => Value::Flags(flags.iter().filter(|_| r.chance(2)).cloned().collect()),
    }
}

/// Messages to try on a loaded program: all zeros (always valid), random bytes, and mutations
/// of both.
fn messages(r: &mut Rng, min: usize) -> Vec<Vec<u8>> {
    let k = min + r.below(24) as usize;
    let mut out = vec![vec![0; min], r.bytes(k)];
    let mut m = vec![0; min + r.below(24) as usize];
    for _ in 0..r.below(4) {
        let i = r.below(m.len() as u64) as usize;
        if !m.is_empty() {
            m[i] = if r.chance(2) { r.below(40) as u8 } else { r.next() as u8 };
        }
    }
    out.push(m);
    out
}

fn fuzz_one(r: &mut Rng, prog: &[u8], stats: &mut [u32; 3]) {
    let Ok((n, rc)) = program::counts(prog) else { return };
    let mut nodes = vec![NodeInfo::default(); n];
    let mut refs = vec![RefInfo::default(); rc];
    if program::load(prog, &mut nodes, &mut refs).is_err() {
        return;
    }
    stats[0] += 1;
    check_tables(&nodes, &refs);
    let s = program::Schema::new(&nodes, &refs);
    let min = s.min_size() as usize;
    if min > 4096 {
        return;
    }
    // The DAG as a tree type: same layout, and the same verdicts (the oracle too).
    let tree = to_type(&nodes, &refs, n as u32 - 1, &mut 2000).and_then(|t| Schema::from_type(&t).ok());
    if tree.is_some() {
        stats[1] += 1;
    }
    let mut msgs = messages(r, min);
    if let Some(tree) = &tree {
        // Encodings of random values (valid for the DAG program too), and mutations of them.
        let ty = tree.ty().unwrap().clone();
        let msg = tree.encode(&rand_value(r, &ty)).unwrap();
        assert_eq!(s.validate(&msg), Ok(()), "DAG program refused an encoding of {ty}");
        let mut m = msg.clone();
        for _ in 0..1 + r.below(3) {
            let op = match r.below(5) {
                0 => Mutation::Flip(r.next() as usize, r.next() as u8),
                1 => Mutation::Set(r.next() as usize, r.next() as u8),
                2 => Mutation::SetWord(r.next() as usize, r.next() as u32),
                3 => Mutation::Truncate(r.next() as usize),
                _ => Mutation::Extend(vec![r.below(3) as u8]),
            };
            mutate(&mut m, &op);
        }
        msgs.push(m);
    }
    for msg in msgs {
        let t = Instant::now();
        let verdict = s.validate(&msg);
        assert!(t.elapsed() < Duration::from_secs(1), "validation took {:?}", t.elapsed());
        if msg.len() == min && msg.iter().all(|&b| b == 0) {
            assert_eq!(verdict, Ok(()), "all-zero message refused");
        }
        if verdict.is_ok() {
            stats[2] += 1;
        }
        if let Some(tree) = &tree {
            assert_eq!(tree.min_size(), min);
            let v = tree.validate(&msg).map_err(|v| v.reason);
            assert_eq!(v, verdict.map_err(|v| v.reason), "tree and DAG disagree on {msg:?}");
            assert_eq!(tree.decode(&msg).is_ok(), v.is_ok(), "oracle disagrees on {msg:?}");
        }
    }
}

#[test]
fn loader_fuzz() {
    let start = Instant::now();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut corpus: Vec<Vec<u8>> = (0..64)
        .map(|_| rand_type(&mut r, 4))
        .filter_map(|t| Schema::from_type(&t).ok())
        .map(|s| s.program().to_vec())
        .collect();
    corpus.push(Schema::from_wit_file(sensor_wit(), "reading").unwrap().program().to_vec());
    let mut stats = [0u32; 3];
    let mut per = [0u32; 3];
    let iterations = 200_000;
    for i in 0..iterations {
        let prog = match i % 4 {
            0 => {
                // Random bytes, with a valid header half the time.
                let k = r.below(120) as usize;
                let mut p = r.bytes(k);
                if r.chance(2) && p.len() >= 16 {
                    let nodes = r.below(8) as u32;
                    let refs = r.below(8) as u32;
                    p[..16].copy_from_slice(&header(nodes, refs));
                    p.resize(16 + 12 * nodes as usize + 4 * refs as usize, 0);
                }
                p
            }
            1 => rand_program(&mut r),
            _ => {
                let mut p = corpus[r.below(corpus.len() as u64) as usize].clone();
                mutate_program(&mut r, &mut p);
                p
            }
        };
        let before = stats[0];
        fuzz_one(&mut r, &prog, &mut stats);
        per[(i % 4).min(2) as usize] += stats[0] - before;
    }
    for p in &corpus {
        fuzz_one(&mut r, p, &mut stats);
    }
    eprintln!(
        "loader_fuzz: {iterations} programs, {} loaded (random bytes {}, random nodes {}, mutated {}), \
         {} compared as trees, {} messages accepted, {:?}",
        stats[0],
        per[0],
        per[1],
        per[2],
        stats[1],
        stats[2],
        start.elapsed()
    );
    // The generators must reach the interesting cases.
    assert!(stats[0] > iterations / 10 && stats[1] > iterations / 20 && stats[2] > iterations / 10, "{stats:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes never make the loader panic.
    #[test]
    fn loader_takes_any_bytes(mut prog in vec(any::<u8>(), 0..200), valid_header in any::<bool>(), seed in any::<u64>()) {
        if valid_header && prog.len() >= 16 {
            let h = header(prog[8] as u32 % 8, prog[12] as u32 % 8);
            prog[..16].copy_from_slice(&h);
        }
        fuzz_one(&mut Rng(seed | 1), &prog, &mut [0; 3]);
    }
}

// ---------------------------------------------------------------------------------------------
// WIT

fn sensor_wit() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Documentation/examples/sensor.wit")
}

/// The canonical ABI size of `name` according to wit-parser's own `SizeAlign` (wasm32: lists
/// and strings are 8 bytes), an independent check of our layout.
fn wit_size(source: &str, name: &str) -> usize {
    let mut r = wit_parser::Resolve::new();
    let pkg = r.push_str("t.wit", source).unwrap();
    let id = r.packages[pkg].interfaces.values().find_map(|&i| r.interfaces[i].types.get(name).copied()).unwrap();
    let mut sa = wit_parser::SizeAlign::default();
    sa.fill(&r).unwrap();
    sa.size(&wit_parser::Type::Id(id)).size_wasm32()
}

fn sample_reading() -> Value {
    Value::record([
        ("sensor", Value::string("thermo-1")),
        ("seq", Value::U64(42)),
        ("kind", Value::enum_case("temperature")),
        ("values", Value::list([Value::F32(21.5), Value::F32(-0.0), Value::F32(f32::NAN)])),
        ("tags", Value::list([Value::string("lab"), Value::string(""), Value::string("é")])),
        ("location", Value::some(Value::tuple([Value::F64(48.85), Value::F64(2.35)]))),
        ("status", Value::err(Some(Value::string("drift")))),
        ("flags", Value::flags(["calibrated", "clock-synced"])),
        (
            "source",
            Value::record([
                ("address", Value::variant("network", Value::string("10.0.0.7"))),
                ("serial", Value::string("SN-0001")),
                ("firmware", Value::tuple([Value::U16(1), Value::U16(2), Value::U16(3)])),
            ]),
        ),
        ("unit", Value::Char('°')),
        ("valid", Value::Bool(true)),
    ])
}

#[test]
fn wit_sensor_example() {
    let s = Schema::from_wit_file(sensor_wit(), "reading").unwrap();
    let src = std::fs::read_to_string(sensor_wit()).unwrap();
    assert_eq!(s.min_size(), wit_size(&src, "reading"));
    let again = Schema::from_wit(&src, "sensor.reading").unwrap();
    assert_eq!((s.program(), s.ty()), (again.program(), again.ty()));
    let v = sample_reading();
    let msg = s.encode(&v).unwrap();
    s.validate(&msg).unwrap();
    assert!(s.decode(&msg).unwrap().bit_eq(&v));
    // Paths of a few nodes.
    let paths: Vec<String> = (0..s.nodes().len() as u32).map(|i| s.field_path(i)).collect();
    for p in ["reading.tags[]", "reading.location?.1", "reading.status.err", "reading.source.address.spi.0", "reading"]
    {
        assert!(paths.iter().any(|x| x == p), "{p} not in {paths:?}");
    }
    // An invalid unit char, reported with its path.
    let unit_at = {
        let mut bad = v.clone();
        let Value::Record(fields) = &mut bad else { unreachable!() };
        fields.iter_mut().find(|f| f.0 == "unit").unwrap().1 = Value::Char('\u{1}');
        let m = s.encode(&bad).unwrap();
        m.iter().zip(&msg).position(|(a, b)| a != b).unwrap()
    };
    let mut bad = msg.clone();
    bad[unit_at..unit_at + 4].copy_from_slice(&le32(0xd800));
    let e = s.validate(&bad).unwrap_err();
    assert_eq!((e.reason, e.path.as_str()), (reason::CHAR, "reading.unit"));
    // The alias of a list of records.
    let b = Schema::from_wit_file(sensor_wit(), "batch").unwrap();
    let msg = b.encode(&Value::list([v.clone(), v])).unwrap();
    b.validate(&msg).unwrap();
    assert_eq!(b.field_path(b.nodes().len() as u32 - 1), "batch");
    assert_eq!(b.min_size(), 8);
}

const DEMO: &str = "
package demo:types;

interface t {
    record point { x: s32, y: s32, tags: list<string> }
    type p2 = point;
    type bytes = list<u8>;
    type rgb = list<u8, 3>;
    variant shape { circle(f32), rect(tuple<f32, f32>), none }
    enum e { a, b }
    resource r;
    record with-handle { h: own<r> }
    type pair = tuple<u8, u16>;
}

interface u {
    record point { z: u8 }
}

world w {
    record local { a: bool }
}
";

#[test]
fn wit_types() {
    let s = Schema::from_wit(DEMO, "t.point").unwrap();
    assert_eq!(s.min_size(), wit_size(DEMO, "point"));
    assert_eq!(
        s.ty().unwrap(),
        &Type::record("point", [("x", Type::S32), ("y", Type::S32), ("tags", Type::list(Type::String))])
    );
    let v = Value::record([("x", Value::S32(1)), ("y", Value::S32(-1)), ("tags", Value::list([Value::string("a")]))]);
    let msg = s.encode(&v).unwrap();
    assert_eq!(s.decode(&msg).unwrap(), v);
    assert_eq!(s.field_path(2), "point.tags[]");

    // Aliases: the root path is the name asked for.
    let s = Schema::from_wit(DEMO, "p2").unwrap();
    assert_eq!(s.ty().unwrap().name(), Some("point"));
    assert_eq!(s.field_path(0), "p2.x");
    let s = Schema::from_wit(DEMO, "bytes").unwrap();
    assert_eq!(s.ty().unwrap(), &Type::list(Type::U8));
    let s = Schema::from_wit(DEMO, "rgb").unwrap();
    assert_eq!(s.ty().unwrap(), &Type::fixed_list(Type::U8, 3));
    assert_eq!(s.min_size(), 3);
    let s = Schema::from_wit(DEMO, "shape").unwrap();
    assert_eq!(s.min_size(), wit_size(DEMO, "shape"));
    assert_eq!(s.field_path(1), "shape.rect.0");
    let s = Schema::from_wit(DEMO, "pair").unwrap();
    assert_eq!(s.field_path(1), "pair.1");
    let s = Schema::from_wit(DEMO, "w.local").unwrap();
    assert_eq!(s.min_size(), 1);

    // Errors.
    let e = Schema::from_wit(DEMO, "point").unwrap_err();
    assert!(matches!(&e, SchemaError::UnknownType(m) if m.contains("t.point") && m.contains("u.point")), "{e}");
    let e = Schema::from_wit(DEMO, "nope").unwrap_err();
    assert!(matches!(&e, SchemaError::UnknownType(m) if m.contains("t.shape")), "{e}");
    assert!(matches!(Schema::from_wit(DEMO, "x.point"), Err(SchemaError::UnknownType(_))));
    let e = Schema::from_wit(DEMO, "with-handle").unwrap_err();
    assert!(matches!(&e, SchemaError::Unsupported(m) if m.contains("handle")), "{e}");
    assert!(matches!(Schema::from_wit(DEMO, "r"), Err(SchemaError::Unsupported(_))));
    let e = Schema::from_wit("package a:b; interface i { record r { x: nope } }", "r").unwrap_err();
    assert!(matches!(e, SchemaError::Parse(_)), "{e}");
    let e = Schema::from_wit("package a:b; interface i { type s = stream<u8>; }", "s").unwrap_err();
    assert!(matches!(e, SchemaError::Unsupported(_)), "{e}");
    let e = Schema::from_wit("package a:b; interface i { type t = tuple<>; }", "t");
    assert!(matches!(e, Err(SchemaError::Unsupported(_)) | Err(SchemaError::Parse(_))), "{e:?}");
}

#[test]
fn wit_directory() {
    let dir = std::env::temp_dir().join(format!("kring-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.wit"), "package d:d; interface i { use j.{inner}; record outer { x: inner } }").unwrap();
    std::fs::write(dir.join("b.wit"), "package d:d; interface j { record inner { y: list<u16, 2> } }").unwrap();
    let s = Schema::from_wit_file(&dir, "outer");
    std::fs::remove_dir_all(&dir).unwrap();
    let s = s.unwrap();
    assert_eq!(s.min_size(), 4);
    assert_eq!(s.field_path(0), "outer.x.y[]");
}

/// The worked example of `Documentation/schemas.md`, byte for byte, with the refusals the
/// document lists.
#[test]
fn documented_example() {
    let s = Schema::from_wit("package doc:example; interface e { record point { x: s16, label: string, tags: list<u32> } }", "point")
        .unwrap();
    let v = Value::record([("x", Value::S16(-2)), ("label", Value::string("hi")), ("tags", Value::list([Value::U32(7), Value::U32(8)]))]);
    #[rustfmt::skip]
    let want = [
        0xfe, 0xff, 0, 0,
        0x14, 0, 0, 0, 2, 0, 0, 0,
        0x18, 0, 0, 0, 2, 0, 0, 0,
        0x68, 0x69, 0, 0,
        7, 0, 0, 0, 8, 0, 0, 0,
    ];
    assert_eq!(s.encode(&v).unwrap(), want);
    accept(&s, &want, Some(&v));
    let with = |at: usize, b: u8| {
        let mut m = want.to_vec();
        m[at] = b;
        m
    };
    refuse(&s, &cat(&[&want, &[0]]), reason::TRAILING, "point", Some(32));
    for at in [2, 3, 22, 23] {
        assert_eq!(s.validate(&with(at, 1)).unwrap_err().reason, reason::PADDING, "byte {at}");
    }
    for off in [22, 28] {
        assert_eq!(s.validate(&with(12, off)).unwrap_err().reason, reason::OFFSET, "tags at {off}");
    }
    refuse(&s, &with(21, 0xff), reason::UTF8, "point.label", Some(21));
}

#[test]
fn values_print_in_wit_syntax() {
    let v = Value::record([
        ("s", Value::string("a\"b")),
        ("l", Value::list([Value::F32(1.5), Value::U8(2)])),
        ("o", Value::some(Value::Tuple(vec![Value::S8(-1), Value::Char('x')]))),
        ("r", Value::Result(Ok(None))),
        ("v", Value::variant("i2c", Value::U8(72))),
        ("f", Value::Flags(vec!["a".into(), "b".into()])),
        ("n", Value::Option(None)),
    ]);
    assert_eq!(v.to_string(), r#"{s: "a\"b", l: [1.5, 2], o: some((-1, 'x')), r: ok, v: i2c(72), f: {a, b}, n: none}"#);
}
