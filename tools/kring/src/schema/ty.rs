// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The type model ([`Type`]) and its lowering to a schema program.

use std::fmt;

use super::program::{self, kind, MAX_DEPTH, MAX_FLAGS, MAX_NODES, MAX_REFS, MAX_TYPE_SIZE, NO_PAYLOAD};
use super::SchemaError;

/// A WIT value type, as far as kring schemas support it.
///
/// Names of records, variants, enums and flags are informational (they show up in
/// [`Display`](fmt::Display) and in field paths when the type is the root); field, case and flag
/// names are what [`Value`](super::Value)s refer to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`.
    Bool,
    /// `s8`.
    S8,
    /// `s16`.
    S16,
    /// `s32`.
    S32,
    /// `s64`.
    S64,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// `string`.
    String,
    /// `list<T>`.
    List(Box<Type>),
    /// `list<T, N>` (N >= 1).
    FixedList(Box<Type>, u32),
    /// `tuple<...>` (at least one element).
    Tuple(Vec<Type>),
    /// `record name { ... }` (at least one field).
    Record {
        /// The record's name.
        name: String,
        /// Fields in declaration order.
        fields: Vec<(String, Type)>,
    },
    /// `variant name { ... }` (at least one case).
    Variant {
        /// The variant's name.
        name: String,
        /// Cases in declaration order, with their payload types.
        cases: Vec<(String, Option<Type>)>,
    },
    /// `enum name { ... }` (at least one case).
    Enum {
        /// The enum's name.
        name: String,
        /// Cases in declaration order.
        cases: Vec<String>,
    },
    /// `option<T>`.
    Option(Box<Type>),
    /// `result<T, E>`, `result<T>`, `result<_, E>` or `result`.
    Result {
        /// The `ok` payload.
        ok: Option<Box<Type>>,
        /// The `err` payload.
        err: Option<Box<Type>>,
    },
    /// `flags name { ... }` (1 to 32 flags).
    Flags {
        /// The flags type's name.
        name: String,
        /// Flag names; the first is bit 0.
        flags: Vec<String>,
    },
}

impl Type {
    /// `list<T>`.
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    /// `list<T, n>`.
    pub fn fixed_list(t: Type, n: u32) -> Type {
        Type::FixedList(Box::new(t), n)
    }

    /// `option<T>`.
    pub fn option(t: Type) -> Type {
        Type::Option(Box::new(t))
    }

    /// `result<ok, err>` (`None` for `_`).
    pub fn result(ok: Option<Type>, err: Option<Type>) -> Type {
        Type::Result { ok: ok.map(Box::new), err: err.map(Box::new) }
    }

    /// `tuple<...>`.
    pub fn tuple(elems: impl IntoIterator<Item = Type>) -> Type {
        Type::Tuple(elems.into_iter().collect())
    }

    /// `record name { fields }`.
    pub fn record<S: Into<String>>(name: &str, fields: impl IntoIterator<Item = (S, Type)>) -> Type {
        Type::Record { name: name.into(), fields: fields.into_iter().map(|(n, t)| (n.into(), t)).collect() }
    }

    /// `variant name { cases }`.
    pub fn variant<S: Into<String>>(name: &str, cases: impl IntoIterator<Item = (S, Option<Type>)>) -> Type {
        Type::Variant { name: name.into(), cases: cases.into_iter().map(|(n, t)| (n.into(), t)).collect() }
    }

    /// `enum name { cases }`.
    pub fn enumeration<S: Into<String>>(name: &str, cases: impl IntoIterator<Item = S>) -> Type {
        Type::Enum { name: name.into(), cases: cases.into_iter().map(Into::into).collect() }
    }

    /// `flags name { flags }`.
    pub fn flags<S: Into<String>>(name: &str, flags: impl IntoIterator<Item = S>) -> Type {
        Type::Flags { name: name.into(), flags: flags.into_iter().map(Into::into).collect() }
    }

    /// The name of a record, variant, enum or flags type (`None` for the others or if empty).
    pub fn name(&self) -> Option<&str> {
        match self {
            Type::Record { name, .. }
            | Type::Variant { name, .. }
            | Type::Enum { name, .. }
            | Type::Flags { name, .. }
                if !name.is_empty() =>
            {
                Some(name)
            }
            _ => None,
        }
    }
}

/// WIT syntax for anonymous types; named types print their name (or `record { .. }` etc. when
/// the name is empty).
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |f: &mut fmt::Formatter<'_>, what: &str, name: &str| {
            if name.is_empty() {
                write!(f, "{what} {{ .. }}")
            } else {
                f.write_str(name)
            }
        };
        match self {
            Type::Bool => f.write_str("bool"),
            Type::S8 => f.write_str("s8"),
            Type::S16 => f.write_str("s16"),
            Type::S32 => f.write_str("s32"),
            Type::S64 => f.write_str("s64"),
            Type::U8 => f.write_str("u8"),
            Type::U16 => f.write_str("u16"),
            Type::U32 => f.write_str("u32"),
            Type::U64 => f.write_str("u64"),
            Type::F32 => f.write_str("f32"),
            Type::F64 => f.write_str("f64"),
            Type::Char => f.write_str("char"),
            Type::String => f.write_str("string"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::FixedList(t, n) => write!(f, "list<{t}, {n}>"),
            Type::Tuple(ts) => {
                f.write_str("tuple<")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(">")
            }
            Type::Record { name, .. } => named(f, "record", name),
            Type::Variant { name, .. } => named(f, "variant", name),
            Type::Enum { name, .. } => named(f, "enum", name),
            Type::Flags { name, .. } => named(f, "flags", name),
            Type::Option(t) => write!(f, "option<{t}>"),
            Type::Result { ok, err } => match (ok, err) {
                (None, None) => f.write_str("result"),
                (Some(o), None) => write!(f, "result<{o}>"),
                (None, Some(e)) => write!(f, "result<_, {e}>"),
                (Some(o), Some(e)) => write!(f, "result<{o}, {e}>"),
            },
        }
    }
}

/// How a `VARIANT` node's values look as [`Value`](super::Value)s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Variant,
    Enum,
    Option,
    Result,
}

/// Scalar kinds (fixed size, no parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scalar {
    Bool,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Char,
}

/// A type with its canonical layout computed (independently of [`program::load`]) and the index
/// of its program node: what the encoder and the decoder walk.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    /// Program node index.
    pub node: u32,
    /// Inline size.
    pub size: u32,
    /// Alignment.
    pub align: u32,
    pub kind: ShapeKind,
}

#[derive(Clone, Debug)]
pub(crate) enum ShapeKind {
    Scalar(Scalar),
    String,
    List(Box<Shape>),
    FixedList(Box<Shape>, u32),
    /// Fields: (name, offset, shape); names are `0`, `1`, ... for tuples.
    Record {
        fields: Vec<(String, u32, Shape)>,
        tuple: bool,
    },
    Variant {
        width: u32,
        payload_off: u32,
        cases: Vec<(String, Option<Shape>)>,
        style: Style,
    },
    Flags {
        width: u32,
        names: Vec<String>,
    },
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// Lowering state: the program being built plus a path per node.
struct Lower {
    /// (kind, count, arg)
    nodes: Vec<(u8, u32, u32)>,
    refs: Vec<u32>,
    paths: Vec<String>,
}

/// The result of lowering a [`Type`].
pub(crate) struct Lowered {
    pub program: Vec<u8>,
    pub paths: Vec<String>,
    pub shape: Shape,
}

fn unsupported(path: &str, what: impl fmt::Display) -> SchemaError {
    SchemaError::Unsupported(format!("`{path}`: {what}"))
}

impl Lower {
    fn push(&mut self, k: u8, count: u32, arg: u32, path: &str) -> Result<u32, SchemaError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(unsupported(path, format_args!("more than {MAX_NODES} schema nodes")));
        }
        self.nodes.push((k, count, arg));
        self.paths.push(path.to_owned());
        Ok((self.nodes.len() - 1) as u32)
    }

    /// Appends a run of refs and returns where it starts.
    fn run(&mut self, refs: impl IntoIterator<Item = u32>, path: &str) -> Result<u32, SchemaError> {
        let start = self.refs.len();
        self.refs.extend(refs);
        if self.refs.len() > MAX_REFS {
            return Err(unsupported(path, format_args!("more than {MAX_REFS} record fields and variant cases in all")));
        }
        Ok(start as u32)
    }

    fn shape(node: u32, size: u64, align: u64, kind: ShapeKind, path: &str) -> Result<Shape, SchemaError> {
        if size > MAX_TYPE_SIZE {
            return Err(unsupported(path, format_args!("inline size {size} exceeds {MAX_TYPE_SIZE} bytes")));
        }
        Ok(Shape { node, size: size as u32, align: align as u32, kind })
    }

    /// Lowers `ty` at nesting level `level` (1 for the root) in post-order: children first.
    fn lower(&mut self, ty: &Type, path: &str, level: usize) -> Result<Shape, SchemaError> {
        if level > MAX_DEPTH {
            return Err(unsupported(path, format_args!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let scalar = |s: Scalar, k: u8, size: u64, me: &mut Self| -> Result<Shape, SchemaError> {
            let node = me.push(k, 0, 0, path)?;
            Self::shape(node, size, size, ShapeKind::Scalar(s), path)
        };
        match ty {
            Type::Bool => scalar(Scalar::Bool, kind::BOOL, 1, self),
            Type::S8 => scalar(Scalar::S8, kind::S8, 1, self),
            Type::U8 => scalar(Scalar::U8, kind::U8, 1, self),
            Type::S16 => scalar(Scalar::S16, kind::S16, 2, self),
            Type::U16 => scalar(Scalar::U16, kind::U16, 2, self),
            Type::S32 => scalar(Scalar::S32, kind::S32, 4, self),
            Type::U32 => scalar(Scalar::U32, kind::U32, 4, self),
            Type::S64 => scalar(Scalar::S64, kind::S64, 8, self),
            Type::U64 => scalar(Scalar::U64, kind::U64, 8, self),
            Type::F32 => scalar(Scalar::F32, kind::F32, 4, self),
            Type::F64 => scalar(Scalar::F64, kind::F64, 8, self),
            Type::Char => scalar(Scalar::Char, kind::CHAR, 4, self),
            Type::String => {
                let node = self.push(kind::STRING, 0, 0, path)?;
                Self::shape(node, 8, 4, ShapeKind::String, path)
            }
            Type::List(t) => {
                let e = self.lower(t, &format!("{path}[]"), level + 1)?;
                let node = self.push(kind::LIST, 0, e.node, path)?;
                Self::shape(node, 8, 4, ShapeKind::List(Box::new(e)), path)
            }
            Type::FixedList(t, n) => {
                if *n == 0 {
                    return Err(unsupported(path, "fixed-length list of 0 elements"));
                }
                let e = self.lower(t, &format!("{path}[]"), level + 1)?;
                let node = self.push(kind::FIXED_LIST, *n, e.node, path)?;
                let (size, align) = (e.size as u64 * *n as u64, e.align as u64);
                Self::shape(node, size, align, ShapeKind::FixedList(Box::new(e), *n), path)
            }
            Type::Tuple(ts) => {
                if ts.is_empty() {
                    return Err(unsupported(path, "empty tuple (every type must be at least one byte)"));
                }
                let named: Vec<(String, &Type)> = ts.iter().enumerate().map(|(i, t)| (i.to_string(), t)).collect();
                self.record(&named, true, path, level)
            }
            Type::Record { fields, .. } => {
                if fields.is_empty() {
                    return Err(unsupported(path, "record without fields"));
                }
                let named: Vec<(String, &Type)> = fields.iter().map(|(n, t)| (n.clone(), t)).collect();
                self.record(&named, false, path, level)
            }
            Type::Variant { cases, .. } => {
                let cases: Vec<(String, Option<&Type>, String)> =
                    cases.iter().map(|(n, t)| (n.clone(), t.as_ref(), format!("{path}.{n}"))).collect();
                self.variant(&cases, Style::Variant, path, level)
            }
            Type::Enum { cases, .. } => {
                let cases: Vec<(String, Option<&Type>, String)> =
                    cases.iter().map(|n| (n.clone(), None, String::new())).collect();
                self.variant(&cases, Style::Enum, path, level)
            }
            Type::Option(t) => {
                let cases =
                    [("none".to_owned(), None, String::new()), ("some".to_owned(), Some(&**t), format!("{path}?"))];
                self.variant(&cases, Style::Option, path, level)
            }
            Type::Result { ok, err } => {
                let cases = [
                    ("ok".to_owned(), ok.as_deref(), format!("{path}.ok")),
                    ("err".to_owned(), err.as_deref(), format!("{path}.err")),
                ];
                self.variant(&cases, Style::Result, path, level)
            }
            Type::Flags { flags, .. } => {
                let n = flags.len();
                if n == 0 || n > MAX_FLAGS as usize {
                    return Err(unsupported(path, format_args!("flags with {n} flags (1 to {MAX_FLAGS} supported)")));
                }
                let node = self.push(kind::FLAGS, n as u32, 0, path)?;
                let w = program::flags_width(n as u32) as u64;
                Self::shape(node, w, w, ShapeKind::Flags { width: w as u32, names: flags.clone() }, path)
            }
        }
    }

    fn record(
        &mut self,
        fields: &[(String, &Type)],
        tuple: bool,
        path: &str,
        level: usize,
    ) -> Result<Shape, SchemaError> {
        let mut out = Vec::with_capacity(fields.len());
        let (mut cur, mut align) = (0u64, 1u64);
        for (name, t) in fields {
            let s = self.lower(t, &format!("{path}.{name}"), level + 1)?;
            let off = align_up(cur, s.align as u64);
            cur = off + s.size as u64;
            if cur > MAX_TYPE_SIZE {
                return Err(unsupported(path, format_args!("inline size exceeds {MAX_TYPE_SIZE} bytes")));
            }
            align = align.max(s.align as u64);
            out.push((name.clone(), off as u32, s));
        }
        let first = self.run(out.iter().map(|f| f.2.node), path)?;
        let node = self.push(kind::RECORD, out.len() as u32, first, path)?;
        Self::shape(node, align_up(cur, align), align, ShapeKind::Record { fields: out, tuple }, path)
    }

    /// `cases`: (name, payload, payload path).
    fn variant(
        &mut self,
        cases: &[(String, Option<&Type>, String)],
        style: Style,
        path: &str,
        level: usize,
    ) -> Result<Shape, SchemaError> {
        if cases.is_empty() {
            return Err(unsupported(path, "variant or enum without cases"));
        }
        if cases.len() > MAX_REFS {
            return Err(unsupported(path, format_args!("more than {MAX_REFS} cases")));
        }
        let mut out = Vec::with_capacity(cases.len());
        let (mut case_size, mut case_align) = (0u64, 1u64);
        for (name, t, p) in cases {
            let s = match t {
                Some(t) => {
                    let s = self.lower(t, p, level + 1)?;
                    case_size = case_size.max(s.size as u64);
                    case_align = case_align.max(s.align as u64);
                    Some(s)
                }
                None => None,
            };
            out.push((name.clone(), s));
        }
        let w = program::discriminant_width(cases.len() as u32) as u64;
        let payload_off = align_up(w, case_align);
        let align = w.max(case_align);
        let size = align_up(payload_off + case_size, align);
        let first = self.run(out.iter().map(|c| c.1.as_ref().map_or(NO_PAYLOAD, |s| s.node)), path)?;
        let node = self.push(kind::VARIANT, out.len() as u32, first, path)?;
        let kind = ShapeKind::Variant { width: w as u32, payload_off: payload_off as u32, cases: out, style };
        Self::shape(node, size, align, kind, path)
    }

    fn program(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(
            program::HEADER_SIZE + self.nodes.len() * program::NODE_SIZE + self.refs.len() * program::REF_SIZE,
        );
        p.extend_from_slice(&program::SCHEMA_MAGIC.to_le_bytes());
        p.extend_from_slice(&program::SCHEMA_VERSION.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(&(self.nodes.len() as u32).to_le_bytes());
        p.extend_from_slice(&(self.refs.len() as u32).to_le_bytes());
        for &(k, count, arg) in &self.nodes {
            p.extend_from_slice(&[k, 0, 0, 0]);
            p.extend_from_slice(&count.to_le_bytes());
            p.extend_from_slice(&arg.to_le_bytes());
        }
        for r in &self.refs {
            p.extend_from_slice(&r.to_le_bytes());
        }
        p
    }
}

/// Lowers `ty` to a program (a tree: every occurrence of a type gets its own nodes), with the
/// root's path `root`.
pub(crate) fn lower(ty: &Type, root: &str) -> Result<Lowered, SchemaError> {
    let mut l = Lower { nodes: Vec::new(), refs: Vec::new(), paths: Vec::new() };
    let shape = l.lower(ty, root, 1)?;
    Ok(Lowered { program: l.program(), paths: l.paths, shape })
}

/// Whether the loader's tables agree with the layout computed here (a consistency check of two
/// independent implementations of the same rules).
pub(crate) fn agrees(s: &Shape, nodes: &[program::NodeInfo], refs: &[program::RefInfo]) -> bool {
    let Some(n) = nodes.get(s.node as usize) else { return false };
    if n.size != s.size || n.align as u32 != s.align {
        return false;
    }
    match &s.kind {
        ShapeKind::Scalar(_) | ShapeKind::String => true,
        ShapeKind::List(e) | ShapeKind::FixedList(e, _) => agrees(e, nodes, refs),
        ShapeKind::Record { fields, .. } => fields.iter().enumerate().all(|(i, (_, off, f))| {
            refs.get(n.arg as usize + i).is_some_and(|r| r.offset == *off && r.node == f.node) && agrees(f, nodes, refs)
        }),
        ShapeKind::Variant { width, payload_off, cases, .. } => {
            n.width == *width
                && n.payload_off == *payload_off
                && cases.iter().flat_map(|c| &c.1).all(|c| agrees(c, nodes, refs))
        }
        ShapeKind::Flags { width, .. } => n.width == *width,
    }
}
