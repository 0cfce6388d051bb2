// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Typed messages: WIT schemas, lowered to the kernel's schema programs.
//!
//! A queue with a schema only takes messages that are the canonical encoding of one value of a
//! WIT type (the kernel checks every send with the [`program`] validator). This module turns a
//! WIT type ([`Schema::from_wit`], or a [`Type`] built in code) into the program the kernel
//! loads, and encodes and decodes [`Value`]s:
//!
//! ```
//! use kring::schema::{Schema, Value};
//!
//! let wit = "package demo:types;
//!            interface t { record point { x: s32, y: s32, tags: list<string> } }";
//! let schema = Schema::from_wit(wit, "point")?;
//! let point = Value::record([
//!     ("x", Value::S32(1)),
//!     ("y", Value::S32(-2)),
//!     ("tags", Value::list([Value::string("a")])),
//! ]);
//! let msg = schema.encode(&point)?; // 16 bytes inline, the list's block, then "a"
//! assert_eq!(msg.len(), 25);
//! assert!(schema.validate(&msg).is_ok());
//! assert_eq!(schema.decode(&msg)?, point);
//! let mut bad = msg.clone();
//! bad.push(0);
//! let v = schema.validate(&bad).unwrap_err();
//! assert_eq!(v.to_string(), "field `point` at byte 25: bytes after the last string or list");
//! # Ok::<(), kring::schema::SchemaError>(())
//! ```
//!
//! # Field paths
//!
//! Every program node has a path, which is how a refused message ([`Violation`]) names the
//! offending part:
//!
//! | where                         | path                                  |
//! |-------------------------------|---------------------------------------|
//! | the root                      | the type's name (as asked for in [`Schema::from_wit`], else the name of a record, variant, enum or flags), or `$` for an anonymous root |
//! | record field `f`              | `parent.f` (e.g. `point.tags`)        |
//! | tuple element `i`             | `parent.i` (e.g. `pair.0`)            |
//! | element of a list or fixed list | `parent[]` (e.g. `point.tags[]`)    |
//! | payload of variant case `c`   | `parent.c` (e.g. `shape.circle.radius`) |
//! | payload of `option` `some`    | `parent?` (e.g. `reading.location?.0`) |
//! | payload of `result` ok / err  | `parent.ok` / `parent.err`            |
//!
//! A schema made from a raw program ([`Schema::from_program`]) has no names: its paths are
//! `#<node index>`.

use std::fmt;
use std::path::Path;

// The schema program loader and message validator shared with the kernel module (its inner
// docs document it; an outer doc here would make rustdoc resolve its links in this module).
#[path = "../../../../src/schema.rs"]
// The validator's `match` arms keep one check per arm, on purpose.
#[allow(clippy::collapsible_match)]
pub mod program;

mod ty;
mod value;
mod wit;

pub use ty::Type;
pub use value::Value;

use program::{LoadError, NodeInfo, RefInfo};

/// A loaded schema: the program the kernel gets, the loader's tables, and (unless made from a
/// raw program) the [`Type`] and a field path per node.
#[derive(Clone, Debug)]
pub struct Schema {
    program: Vec<u8>,
    nodes: Vec<NodeInfo>,
    refs: Vec<RefInfo>,
    ty: Option<Type>,
    shape: Option<ty::Shape>,
    paths: Vec<String>,
}

/// A message refused by a schema: [`program::Violation`] plus the field path of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Why ([`program::reason`], `KRING_SCHEMA_E_*`).
    pub reason: u32,
    /// Index of the program node whose value is wrong.
    pub node: u32,
    /// Byte offset in the message where the check failed.
    pub offset: u32,
    /// Field path of `node` (see the [module docs](self)).
    pub path: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}` at byte {}: {}", self.path, self.offset, program::reason::describe(self.reason))
    }
}

impl std::error::Error for Violation {}

/// Why a schema could not be made, or a value encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaError {
    /// The WIT source or file does not parse or resolve (the parser's message).
    Parse(String),
    /// No (or more than one) type of that name.
    UnknownType(String),
    /// A type kring schemas cannot express (resources, streams, maps, empty tuples, more than
    /// 32 flags, too deep or too large, ...).
    Unsupported(String),
    /// The program loader refused the program.
    Program(LoadError),
    /// The value does not match the type (names the field path).
    Encode(String),
    /// The message is not the canonical encoding of a value of the type.
    Decode(Violation),
}

/// What a [`LoadError`] means.
pub fn describe_load_error(e: LoadError) -> &'static str {
    match e {
        LoadError::Length => "program length does not match its header",
        LoadError::Magic => "bad magic",
        LoadError::Version => "unknown program version",
        LoadError::Reserved => "reserved bits set",
        LoadError::Count => "no nodes, or too many nodes or refs",
        LoadError::Tables => "table sizes do not match the program",
        LoadError::Kind => "unknown node kind",
        LoadError::Reference => "bad node reference or ref run",
        LoadError::Argument => "node count or argument out of range",
        LoadError::Depth => "type nested too deeply",
        LoadError::Size => "type too large",
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Parse(m) => write!(f, "cannot parse WIT: {m}"),
            SchemaError::UnknownType(m) => write!(f, "unknown type: {m}"),
            SchemaError::Unsupported(m) => write!(f, "unsupported type: {m}"),
            SchemaError::Program(e) => write!(f, "invalid schema program: {}", describe_load_error(*e)),
            SchemaError::Encode(m) => write!(f, "cannot encode: {m}"),
            SchemaError::Decode(v) => write!(f, "cannot decode: {v}"),
        }
    }
}

impl std::error::Error for SchemaError {}

impl From<LoadError> for SchemaError {
    fn from(e: LoadError) -> Self {
        SchemaError::Program(e)
    }
}

/// Loads `prog` into freshly allocated tables.
fn load(prog: &[u8]) -> Result<(Vec<NodeInfo>, Vec<RefInfo>), LoadError> {
    let (n, r) = program::counts(prog)?;
    let mut nodes = vec![NodeInfo::default(); n];
    let mut refs = vec![RefInfo::default(); r];
    program::load(prog, &mut nodes, &mut refs)?;
    Ok((nodes, refs))
}

impl Schema {
    /// The schema of type `type_name` in the WIT package `source` (one file's text, with a
    /// `package` line). `type_name` is `name` or, to pick among equal names,
    /// `interface.name` (or `world.name`). Type aliases are followed; `@unstable` items are
    /// visible.
    pub fn from_wit(source: &str, type_name: &str) -> Result<Schema, SchemaError> {
        let (r, pkg) = wit::parse_str(source)?;
        Self::from_resolve(&r, pkg, type_name)
    }

    /// Like [`from_wit`](Self::from_wit), for a `.wit` file or a WIT package directory (with
    /// its `deps/`).
    pub fn from_wit_file(path: impl AsRef<Path>, type_name: &str) -> Result<Schema, SchemaError> {
        let (r, pkg) = wit::parse_path(path.as_ref())?;
        Self::from_resolve(&r, pkg, type_name)
    }

    fn from_resolve(
        r: &wit_parser::Resolve,
        pkg: wit_parser::PackageId,
        type_name: &str,
    ) -> Result<Schema, SchemaError> {
        let id = wit::find(r, pkg, type_name)?;
        let ty = wit::convert(r, &wit_parser::Type::Id(id), 1)?;
        let label = type_name.rsplit_once('.').map_or(type_name, |(_, t)| t);
        Self::build(ty, label)
    }

    /// The schema of `ty`. The root's path is its name if it has one, else `$`.
    pub fn from_type(ty: &Type) -> Result<Schema, SchemaError> {
        Self::build(ty.clone(), ty.name().unwrap_or("$"))
    }

    fn build(ty: Type, root: &str) -> Result<Schema, SchemaError> {
        let l = ty::lower(&ty, root)?;
        let (nodes, refs) = load(&l.program)?;
        debug_assert!(ty::agrees(&l.shape, &nodes, &refs), "layout of {ty} disagrees with the loader");
        Ok(Schema { program: l.program, nodes, refs, ty: Some(ty), shape: Some(l.shape), paths: l.paths })
    }

    /// A schema from a raw program (e.g. one read back from the kernel): no [`Type`], so no
    /// encoding or decoding, and paths are `#<node>`.
    pub fn from_program(bytes: &[u8]) -> Result<Schema, SchemaError> {
        let (nodes, refs) = load(bytes)?;
        let paths = (0..nodes.len()).map(|i| format!("#{i}")).collect();
        Ok(Schema { program: bytes.to_vec(), nodes, refs, ty: None, shape: None, paths })
    }

    /// The program bytes (what the kernel loads).
    pub fn program(&self) -> &[u8] {
        &self.program
    }

    /// The type, unless made by [`from_program`](Self::from_program).
    pub fn ty(&self) -> Option<&Type> {
        self.ty.as_ref()
    }

    /// The loader's node table.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// The loader's ref table.
    pub fn refs(&self) -> &[RefInfo] {
        &self.refs
    }

    /// The root type's inline size: the shortest valid message.
    pub fn min_size(&self) -> usize {
        self.raw().min_size() as usize
    }

    fn raw(&self) -> program::Schema<'_> {
        program::Schema::new(&self.nodes, &self.refs)
    }

    /// Checks `msg` with the validator the kernel runs on every send.
    pub fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
        self.raw().validate(msg).map_err(|v| self.describe(&v))
    }

    /// The field path of program node `node` (`#<node>` if there is no such node).
    pub fn field_path(&self, node: u32) -> String {
        self.paths.get(node as usize).cloned().unwrap_or_else(|| format!("#{node}"))
    }

    /// `v` (e.g. reported by the kernel) with its field path.
    pub fn describe(&self, v: &program::Violation) -> Violation {
        Violation { reason: v.reason, node: v.node, offset: v.offset, path: self.field_path(v.node) }
    }

    fn shape(&self) -> Result<&ty::Shape, SchemaError> {
        self.shape
            .as_ref()
            .ok_or_else(|| SchemaError::Unsupported("schema made from a raw program has no type".to_owned()))
    }

    /// The canonical encoding of `v`, which must be a value of [`ty`](Self::ty).
    pub fn encode(&self, v: &Value) -> Result<Vec<u8>, SchemaError> {
        let s = self.shape()?;
        let mut e = value::Encoder { buf: vec![0; s.size as usize], paths: &self.paths };
        e.encode(s, v, 0)?;
        Ok(e.buf)
    }

    /// Decodes a canonical encoding. This decoder is independent of the shared validator
    /// (a recursive implementation of the same rules), and refuses exactly what it refuses.
    pub fn decode(&self, msg: &[u8]) -> Result<Value, SchemaError> {
        let s = self.shape()?;
        let fail = |reason, offset: usize| {
            let raw = program::Violation { reason, node: s.node, offset: offset.min(u32::MAX as usize) as u32 };
            SchemaError::Decode(self.describe(&raw))
        };
        if msg.len() < s.size as usize || msg.len() > u32::MAX as usize {
            return Err(fail(program::reason::SHORT, 0));
        }
        let mut d = value::Decoder { msg, cursor: s.size as usize };
        let v = d.decode(s, 0).map_err(|v| SchemaError::Decode(self.describe(&v)))?;
        if d.cursor != msg.len() {
            return Err(fail(program::reason::TRAILING, d.cursor));
        }
        Ok(v)
    }
}
