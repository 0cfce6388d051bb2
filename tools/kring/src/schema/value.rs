// SPDX-License-Identifier: GPL-2.0 OR MIT
//! [`Value`]s, the canonical encoder, and an independent recursive decoder.
//!
//! The decoder is written straight from the encoding rules and does not use the shared
//! validator: the tests use it as an oracle for [`program::Schema::validate`]. It performs the
//! checks in the same order as the validator (depth-first, a string or list's block claimed when
//! its pair is met), so for a refused message both normally report the same reason and node.

use super::program::{reason, Violation as RawViolation};
use super::ty::{Scalar, Shape, ShapeKind, Style};
use super::SchemaError;

/// A value of a [`Type`](super::Type).
///
/// Record fields are `(name, value)` pairs; the encoder takes them in any order, the decoder
/// returns them in declaration order. Flags are the names of the set flags; the decoder returns
/// them in declaration order. `PartialEq` compares floats as floats (`NaN != NaN`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `s8`.
    S8(i8),
    /// `s16`.
    S16(i16),
    /// `s32`.
    S32(i32),
    /// `s64`.
    S64(i64),
    /// `u8`.
    U8(u8),
    /// `u16`.
    U16(u16),
    /// `u32`.
    U32(u32),
    /// `u64`.
    U64(u64),
    /// `f32`.
    F32(f32),
    /// `f64`.
    F64(f64),
    /// `char`.
    Char(char),
    /// `string`.
    String(String),
    /// `list<T>`.
    List(Vec<Value>),
    /// `list<T, N>`: exactly N elements.
    FixedList(Vec<Value>),
    /// `tuple<...>`.
    Tuple(Vec<Value>),
    /// `record`: `(field name, value)` for every field.
    Record(Vec<(String, Value)>),
    /// `variant`: case name and payload (`Some` exactly when the case has a payload type).
    Variant(String, Option<Box<Value>>),
    /// `enum`: case name.
    Enum(String),
    /// `option<T>`.
    Option(Option<Box<Value>>),
    /// `result<T, E>`: `Ok(None)` / `Err(None)` for a missing payload type.
    Result(Result<Option<Box<Value>>, Option<Box<Value>>>),
    /// `flags`: names of the flags that are set.
    Flags(Vec<String>),
}

impl Value {
    /// A record value from `(field, value)` pairs.
    pub fn record<S: Into<String>>(fields: impl IntoIterator<Item = (S, Value)>) -> Value {
        Value::Record(fields.into_iter().map(|(n, v)| (n.into(), v)).collect())
    }

    /// A `list<T>` value.
    pub fn list(elems: impl IntoIterator<Item = Value>) -> Value {
        Value::List(elems.into_iter().collect())
    }

    /// A `tuple<...>` value.
    pub fn tuple(elems: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(elems.into_iter().collect())
    }

    /// A `string` value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A variant case with a payload.
    pub fn variant(case: impl Into<String>, payload: Value) -> Value {
        Value::Variant(case.into(), Some(Box::new(payload)))
    }

    /// A variant case without payload.
    pub fn case(case: impl Into<String>) -> Value {
        Value::Variant(case.into(), None)
    }

    /// An enum case.
    pub fn enum_case(case: impl Into<String>) -> Value {
        Value::Enum(case.into())
    }

    /// `some(v)`.
    pub fn some(v: Value) -> Value {
        Value::Option(Some(Box::new(v)))
    }

    /// `none`.
    pub fn none() -> Value {
        Value::Option(None)
    }

    /// `ok(v)` (`None` for `result<_, E>` / `result`).
    pub fn ok(v: Option<Value>) -> Value {
        Value::Result(Ok(v.map(Box::new)))
    }

    /// `err(v)` (`None` for `result<T>` / `result`).
    pub fn err(v: Option<Value>) -> Value {
        Value::Result(Err(v.map(Box::new)))
    }

    /// A flags value from the names of the set flags.
    pub fn flags<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Value {
        Value::Flags(names.into_iter().map(Into::into).collect())
    }

    /// Equality that compares floats by their bits (so a `NaN` equals itself and `0.0 != -0.0`):
    /// what "decodes to the same value" means.
    pub fn bit_eq(&self, other: &Value) -> bool {
        fn all(a: &[Value], b: &[Value]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.bit_eq(y))
        }
        fn opt(a: &Option<Box<Value>>, b: &Option<Box<Value>>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(x), Some(y)) => x.bit_eq(y),
                _ => false,
            }
        }
        match (self, other) {
            (Value::F32(a), Value::F32(b)) => a.to_bits() == b.to_bits(),
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::List(a), Value::List(b))
            | (Value::FixedList(a), Value::FixedList(b))
            | (Value::Tuple(a), Value::Tuple(b)) => all(a, b),
            (Value::Record(a), Value::Record(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|((n, x), (m, y))| n == m && x.bit_eq(y))
            }
            (Value::Variant(n, a), Value::Variant(m, b)) => n == m && opt(a, b),
            (Value::Option(a), Value::Option(b)) => opt(a, b),
            (Value::Result(Ok(a)), Value::Result(Ok(b))) | (Value::Result(Err(a)), Value::Result(Err(b))) => opt(a, b),
            _ => self == other,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::S8(_) => "s8",
            Value::S16(_) => "s16",
            Value::S32(_) => "s32",
            Value::S64(_) => "s64",
            Value::U8(_) => "u8",
            Value::U16(_) => "u16",
            Value::U32(_) => "u32",
            Value::U64(_) => "u64",
            Value::F32(_) => "f32",
            Value::F64(_) => "f64",
            Value::Char(_) => "char",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::FixedList(_) => "fixed-length list",
            Value::Tuple(_) => "tuple",
            Value::Record(_) => "record",
            Value::Variant(..) => "variant",
            Value::Enum(_) => "enum",
            Value::Option(_) => "option",
            Value::Result(_) => "result",
            Value::Flags(_) => "flags",
        }
    }
}

macro_rules! from_impls {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$v(x)
            }
        }
    )*};
}
from_impls!(bool => Bool, i8 => S8, i16 => S16, i32 => S32, i64 => S64, u8 => U8, u16 => U16, u32 => U32,
    u64 => U64, f32 => F32, f64 => F64, char => Char, String => String);

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

fn scalar_name(s: Scalar) -> &'static str {
    match s {
        Scalar::Bool => "bool",
        Scalar::S8 => "s8",
        Scalar::S16 => "s16",
        Scalar::S32 => "s32",
        Scalar::S64 => "s64",
        Scalar::U8 => "u8",
        Scalar::U16 => "u16",
        Scalar::U32 => "u32",
        Scalar::U64 => "u64",
        Scalar::F32 => "f32",
        Scalar::F64 => "f64",
        Scalar::Char => "char",
    }
}

fn align_up(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

/// The canonical encoder: a recursive walk that reserves each string or list block at the
/// aligned end of the message when it meets the pair, then encodes the elements into it.
pub(crate) struct Encoder<'p> {
    pub buf: Vec<u8>,
    pub paths: &'p [String],
}

impl Encoder<'_> {
    fn err(&self, s: &Shape, msg: impl std::fmt::Display) -> SchemaError {
        let path = self.paths.get(s.node as usize).map_or("?", String::as_str);
        SchemaError::Encode(format!("field `{path}`: {msg}"))
    }

    fn mismatch(&self, s: &Shape, expected: &str, v: &Value) -> SchemaError {
        self.err(s, format_args!("expected {expected}, found a {} value", v.what()))
    }

    fn put(&mut self, at: usize, b: &[u8]) {
        self.buf[at..at + b.len()].copy_from_slice(b);
    }

    /// Reserves a block of `len` bytes aligned to `align` at the end and returns its offset.
    fn reserve(&mut self, s: &Shape, len: usize, align: usize) -> Result<usize, SchemaError> {
        let off = align_up(self.buf.len(), align);
        let end = off.checked_add(len).filter(|&e| e <= u32::MAX as usize);
        let end = end.ok_or_else(|| self.err(s, "message larger than 4 GiB"))?;
        self.buf.resize(end, 0);
        Ok(off)
    }

    fn pair(&mut self, at: usize, off: usize, n: usize) {
        self.put(at, &(off as u32).to_le_bytes());
        self.put(at + 4, &(n as u32).to_le_bytes());
    }

    /// Encodes `v` of shape `s` into the inline slot at `at` (already zeroed, in bounds).
    pub fn encode(&mut self, s: &Shape, v: &Value, at: usize) -> Result<(), SchemaError> {
        match (&s.kind, v) {
            (ShapeKind::Scalar(k), v) => {
                let mut b = [0u8; 8];
                let n = match (k, v) {
                    (Scalar::Bool, Value::Bool(x)) => {
                        b[0] = *x as u8;
                        1
                    }
                    (Scalar::S8, Value::S8(x)) => {
                        b[0] = *x as u8;
                        1
                    }
                    (Scalar::U8, Value::U8(x)) => {
                        b[0] = *x;
                        1
                    }
                    (Scalar::S16, Value::S16(x)) => {
                        b[..2].copy_from_slice(&x.to_le_bytes());
                        2
                    }
                    (Scalar::U16, Value::U16(x)) => {
                        b[..2].copy_from_slice(&x.to_le_bytes());
                        2
                    }
                    (Scalar::S32, Value::S32(x)) => {
                        b[..4].copy_from_slice(&x.to_le_bytes());
                        4
                    }
                    (Scalar::U32, Value::U32(x)) => {
                        b[..4].copy_from_slice(&x.to_le_bytes());
                        4
                    }
                    (Scalar::F32, Value::F32(x)) => {
                        b[..4].copy_from_slice(&x.to_bits().to_le_bytes());
                        4
                    }
                    (Scalar::Char, Value::Char(x)) => {
                        b[..4].copy_from_slice(&(*x as u32).to_le_bytes());
                        4
                    }
                    (Scalar::S64, Value::S64(x)) => {
                        b.copy_from_slice(&x.to_le_bytes());
                        8
                    }
                    (Scalar::U64, Value::U64(x)) => {
                        b.copy_from_slice(&x.to_le_bytes());
                        8
                    }
                    (Scalar::F64, Value::F64(x)) => {
                        b.copy_from_slice(&x.to_bits().to_le_bytes());
                        8
                    }
                    _ => return Err(self.mismatch(s, scalar_name(*k), v)),
                };
                self.put(at, &b[..n]);
            }
            (ShapeKind::String, Value::String(x)) => {
                if x.is_empty() {
                    self.pair(at, 0, 0);
                } else {
                    let off = self.reserve(s, x.len(), 1)?;
                    self.put(off, x.as_bytes());
                    self.pair(at, off, x.len());
                }
            }
            (ShapeKind::List(e), Value::List(xs)) => {
                if xs.is_empty() {
                    self.pair(at, 0, 0);
                } else {
                    let len = xs.len().checked_mul(e.size as usize).ok_or_else(|| self.err(s, "list too long"))?;
                    let off = self.reserve(s, len, e.align as usize)?;
                    self.pair(at, off, xs.len());
                    for (i, x) in xs.iter().enumerate() {
                        self.encode(e, x, off + i * e.size as usize)?;
                    }
                }
            }
            (ShapeKind::FixedList(e, n), Value::FixedList(xs)) => {
                if xs.len() != *n as usize {
                    return Err(self.err(s, format_args!("expected {n} elements, found {}", xs.len())));
                }
                for (i, x) in xs.iter().enumerate() {
                    self.encode(e, x, at + i * e.size as usize)?;
                }
            }
            (ShapeKind::Record { fields, tuple: true }, Value::Tuple(xs)) => {
                if xs.len() != fields.len() {
                    return Err(
                        self.err(s, format_args!("expected {} tuple elements, found {}", fields.len(), xs.len()))
                    );
                }
                for ((_, off, f), x) in fields.iter().zip(xs) {
                    self.encode(f, x, at + *off as usize)?;
                }
            }
            (ShapeKind::Record { fields, tuple: false }, Value::Record(xs)) => {
                for (name, _) in xs {
                    if !fields.iter().any(|f| f.0 == *name) {
                        return Err(self.err(s, format_args!("no field `{name}`")));
                    }
                }
                for (name, off, f) in fields {
                    let mut found = xs.iter().filter(|x| x.0 == *name);
                    let x = found.next().ok_or_else(|| self.err(s, format_args!("field `{name}` missing")))?;
                    if found.next().is_some() {
                        return Err(self.err(s, format_args!("field `{name}` given twice")));
                    }
                    self.encode(f, &x.1, at + *off as usize)?;
                }
            }
            (ShapeKind::Variant { width, payload_off, cases, style }, v) => {
                let (name, payload): (&str, Option<&Value>) = match (style, v) {
                    (Style::Variant, Value::Variant(n, p)) => (n, p.as_deref()),
                    (Style::Enum, Value::Enum(n)) => (n, None),
                    (Style::Option, Value::Option(p)) => (if p.is_some() { "some" } else { "none" }, p.as_deref()),
                    (Style::Result, Value::Result(Ok(p))) => ("ok", p.as_deref()),
                    (Style::Result, Value::Result(Err(p))) => ("err", p.as_deref()),
                    _ => {
                        let what = match style {
                            Style::Variant => "variant",
                            Style::Enum => "enum",
                            Style::Option => "option",
                            Style::Result => "result",
                        };
                        return Err(self.mismatch(s, what, v));
                    }
                };
                let d = cases
                    .iter()
                    .position(|c| c.0 == name)
                    .ok_or_else(|| self.err(s, format_args!("no case `{name}`")))?;
                self.put(at, &(d as u32).to_le_bytes()[..*width as usize]);
                match (&cases[d].1, payload) {
                    (None, None) => {}
                    (Some(p), Some(x)) => self.encode(p, x, at + *payload_off as usize)?,
                    (None, Some(_)) => return Err(self.err(s, format_args!("case `{name}` has no payload"))),
                    (Some(_), None) => return Err(self.err(s, format_args!("case `{name}` needs a payload"))),
                }
            }
            (ShapeKind::Flags { width, names }, Value::Flags(set)) => {
                let mut bits = 0u32;
                for f in set {
                    let i =
                        names.iter().position(|n| n == f).ok_or_else(|| self.err(s, format_args!("no flag `{f}`")))?;
                    if bits & (1 << i) != 0 {
                        return Err(self.err(s, format_args!("flag `{f}` given twice")));
                    }
                    bits |= 1 << i;
                }
                self.put(at, &bits.to_le_bytes()[..*width as usize]);
            }
            (ShapeKind::String, v) => return Err(self.mismatch(s, "string", v)),
            (ShapeKind::List(_), v) => return Err(self.mismatch(s, "list", v)),
            (ShapeKind::FixedList(..), v) => return Err(self.mismatch(s, "fixed-length list", v)),
            (ShapeKind::Record { tuple: true, .. }, v) => return Err(self.mismatch(s, "tuple", v)),
            (ShapeKind::Record { tuple: false, .. }, v) => return Err(self.mismatch(s, "record", v)),
            (ShapeKind::Flags { .. }, v) => return Err(self.mismatch(s, "flags", v)),
        }
        Ok(())
    }
}

/// The oracle: a recursive decoder of canonical encodings.
pub(crate) struct Decoder<'m> {
    pub msg: &'m [u8],
    /// End of the last claimed block (initially the root's inline size).
    pub cursor: usize,
}

fn fail(reason: u32, s: &Shape, at: usize) -> RawViolation {
    RawViolation { reason, node: s.node, offset: at.min(u32::MAX as usize) as u32 }
}

impl Decoder<'_> {
    /// `n` bytes at `at`; out of bounds is `BOUNDS`.
    fn bytes(&self, s: &Shape, at: usize, n: usize) -> Result<&[u8], RawViolation> {
        at.checked_add(n).and_then(|end| self.msg.get(at..end)).ok_or(fail(reason::BOUNDS, s, at))
    }

    fn uint(&self, s: &Shape, at: usize, n: usize) -> Result<u64, RawViolation> {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.bytes(s, at, n)?);
        Ok(u64::from_le_bytes(b))
    }

    fn zeros(&self, s: &Shape, from: usize, to: usize) -> Result<(), RawViolation> {
        for at in from..to {
            if self.bytes(s, at, 1)?[0] != 0 {
                return Err(fail(reason::PADDING, s, at));
            }
        }
        Ok(())
    }

    /// Reads the `(offset, count)` pair at `at` and claims its block. Returns `(offset, count)`.
    fn claim(
        &mut self,
        s: &Shape,
        at: usize,
        elem_size: usize,
        elem_align: usize,
    ) -> Result<(usize, usize), RawViolation> {
        let off = self.uint(s, at, 4)? as usize;
        let n = self.uint(s, at + 4, 4)? as usize;
        if n == 0 {
            return if off == 0 { Ok((0, 0)) } else { Err(fail(reason::OFFSET, s, at)) };
        }
        if off != align_up(self.cursor, elem_align) {
            return Err(fail(reason::OFFSET, s, at));
        }
        let end = n as u64 * elem_size as u64 + off as u64;
        if end > self.msg.len() as u64 {
            return Err(fail(reason::BOUNDS, s, at));
        }
        self.zeros(s, self.cursor, off)?;
        self.cursor = end as usize;
        Ok((off, n))
    }

    /// Decodes the value of shape `s` whose inline bytes are at `at`.
    pub fn decode(&mut self, s: &Shape, at: usize) -> Result<Value, RawViolation> {
        Ok(match &s.kind {
            ShapeKind::Scalar(k) => {
                let n = s.size as usize;
                let x = self.uint(s, at, n)?;
                match k {
                    Scalar::Bool => match x {
                        0 => Value::Bool(false),
                        1 => Value::Bool(true),
                        _ => return Err(fail(reason::BOOL, s, at)),
                    },
                    Scalar::S8 => Value::S8(x as u8 as i8),
                    Scalar::U8 => Value::U8(x as u8),
                    Scalar::S16 => Value::S16(x as u16 as i16),
                    Scalar::U16 => Value::U16(x as u16),
                    Scalar::S32 => Value::S32(x as u32 as i32),
                    Scalar::U32 => Value::U32(x as u32),
                    Scalar::S64 => Value::S64(x as i64),
                    Scalar::U64 => Value::U64(x),
                    Scalar::F32 => Value::F32(f32::from_bits(x as u32)),
                    Scalar::F64 => Value::F64(f64::from_bits(x)),
                    Scalar::Char => Value::Char(char::from_u32(x as u32).ok_or(fail(reason::CHAR, s, at))?),
                }
            }
            ShapeKind::String => {
                let (off, n) = self.claim(s, at, 1, 1)?;
                let b = self.bytes(s, off, n)?;
                match std::str::from_utf8(b) {
                    Ok(x) => Value::String(x.to_owned()),
                    Err(e) => return Err(fail(reason::UTF8, s, off + e.valid_up_to())),
                }
            }
            ShapeKind::List(e) => {
                let (off, n) = self.claim(s, at, e.size as usize, e.align as usize)?;
                let mut xs = Vec::with_capacity(n);
                for i in 0..n {
                    xs.push(self.decode(e, off + i * e.size as usize)?);
                }
                Value::List(xs)
            }
            ShapeKind::FixedList(e, n) => {
                let mut xs = Vec::with_capacity(*n as usize);
                for i in 0..*n as usize {
                    xs.push(self.decode(e, at + i * e.size as usize)?);
                }
                Value::FixedList(xs)
            }
            ShapeKind::Record { fields, tuple } => {
                let mut end = at;
                let mut xs = Vec::with_capacity(fields.len());
                for (name, off, f) in fields {
                    self.zeros(s, end, at + *off as usize)?;
                    xs.push((name.clone(), self.decode(f, at + *off as usize)?));
                    end = at + *off as usize + f.size as usize;
                }
                self.zeros(s, end, at + s.size as usize)?;
                if *tuple {
                    Value::Tuple(xs.into_iter().map(|x| x.1).collect())
                } else {
                    Value::Record(xs)
                }
            }
            ShapeKind::Variant { width, payload_off, cases, style } => {
                let d = self.uint(s, at, *width as usize)? as usize;
                let (name, case) = cases.get(d).ok_or(fail(reason::DISCRIMINANT, s, at))?;
                let p = at + *payload_off as usize;
                self.zeros(s, at + *width as usize, p)?;
                let psize = case.as_ref().map_or(0, |c| c.size as usize);
                self.zeros(s, p + psize, at + s.size as usize)?;
                let payload = match case {
                    Some(c) => Some(Box::new(self.decode(c, p)?)),
                    None => None,
                };
                match style {
                    Style::Variant => Value::Variant(name.clone(), payload),
                    Style::Enum => Value::Enum(name.clone()),
                    Style::Option => Value::Option(payload),
                    Style::Result if d == 0 => Value::Result(Ok(payload)),
                    Style::Result => Value::Result(Err(payload)),
                }
            }
            ShapeKind::Flags { width, names } => {
                let x = self.uint(s, at, *width as usize)?;
                if x >> names.len() != 0 {
                    return Err(fail(reason::FLAGS, s, at));
                }
                Value::Flags(
                    names.iter().enumerate().filter(|(i, _)| x >> i & 1 != 0).map(|(_, n)| n.clone()).collect(),
                )
            }
        })
    }
}

/// WIT value syntax: `{sensor: "attic", seq: 1, values: [21.5, 21.25], unit: '°', kind: temperature,
/// location: some((48.1, 11.6)), status: ok, flags: {calibrated}}`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn seq(f: &mut std::fmt::Formatter<'_>, open: &str, items: &[Value], close: &str) -> std::fmt::Result {
            f.write_str(open)?;
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            f.write_str(close)
        }
        fn payload(f: &mut std::fmt::Formatter<'_>, name: &str, p: &Option<Box<Value>>) -> std::fmt::Result {
            match p {
                Some(v) => write!(f, "{name}({v})"),
                None => f.write_str(name),
            }
        }
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::S8(v) => write!(f, "{v}"),
            Value::S16(v) => write!(f, "{v}"),
            Value::S32(v) => write!(f, "{v}"),
            Value::S64(v) => write!(f, "{v}"),
            Value::U8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Char(c) => write!(f, "{c:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(v) | Value::FixedList(v) => seq(f, "[", v, "]"),
            Value::Tuple(v) => seq(f, "(", v, ")"),
            Value::Record(fields) => {
                f.write_str("{")?;
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Variant(case, p) => payload(f, case, p),
            Value::Enum(case) => f.write_str(case),
            Value::Option(None) => f.write_str("none"),
            Value::Option(p @ Some(_)) => payload(f, "some", p),
            Value::Result(Ok(p)) => payload(f, "ok", p),
            Value::Result(Err(p)) => payload(f, "err", p),
            Value::Flags(names) => write!(f, "{{{}}}", names.join(", ")),
        }
    }
}
