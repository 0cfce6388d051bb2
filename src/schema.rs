// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Schema programs: loading (once, at registration) and message validation (every send).
//!
//! Like `uapi.rs` and `ring.rs`, this file is compiled into the kernel module and into the
//! user-space crate (`tools/kring`), so it uses `core` only, allocates nothing (callers hand in
//! the tables to fill), and never panics: every read is bounds-checked, all size arithmetic is
//! checked, and there is no recursion (the validator keeps an explicit stack of at most
//! [`MAX_DEPTH`] frames).
//!
//! # Program format (version 1, all integers little-endian)
//!
//! ```text
//! header  16 bytes   magic u32 = SCHEMA_MAGIC, version u16 = 1, flags u16 = 0,
//!                    node_count u32 (1..=MAX_NODES), ref_count u32 (0..=MAX_REFS)
//! nodes   12 bytes each: kind u8, pad [u8; 3] = 0, count u32, arg u32
//! refs     4 bytes each: a node index (or NO_PAYLOAD for a variant case without payload)
//! ```
//!
//! The program is exactly that long. Node `i` may refer only to nodes `< i`, so a program is a
//! DAG in post-order and cannot describe a recursive type; the root is the last node. Record
//! fields and variant cases are runs of `refs`, consumed in node order: node `i`'s run starts
//! where the previous run ended (`arg` must say so) and together the runs cover `refs` exactly.
//!
//! | kind         | count          | arg              |
//! |--------------|----------------|------------------|
//! | scalars, `STRING` | 0         | 0                |
//! | `LIST`       | 0              | element node     |
//! | `FIXED_LIST` | length (>= 1)  | element node     |
//! | `RECORD`     | fields (>= 1)  | first ref        |
//! | `VARIANT`    | cases (>= 1)   | first ref        |
//! | `FLAGS`      | flags (1..=32) | 0                |
//!
//! WIT's `tuple` is a `RECORD`; `enum`, `option` and `result` are `VARIANT`s (the canonical ABI
//! lays them out identically). Every type is at least one byte (WIT's empty `tuple<>` is refused)
//! and at most [`MAX_TYPE_SIZE`] bytes inline.
//!
//! # Message encoding
//!
//! The canonical ABI layout (sizes, alignment, discriminant widths, flags words) of the root
//! type at offset 0, with `string` and `list<T>` as `(offset u32, length u32)` pairs, the offset
//! relative to the message start and the length in elements (bytes for `string`). Out-of-line
//! data is canonical: blocks follow the root's inline bytes in the order a depth-first walk
//! meets their pairs, each at the first offset after the previous block that is aligned for its
//! element type; an empty string or list has offset 0 and takes no block; all padding bytes
//! (inside records and variants, and between blocks) are zero; the message ends with the last
//! block. So every value has exactly one encoding, and validation is linear in the message
//! size. `Documentation/schemas.md` has the full rules and examples.

/// `magic` of a schema program ("KSCH" read as a little-endian u32).
pub const SCHEMA_MAGIC: u32 = 0x4843_534b;
/// The program format this file loads.
pub const SCHEMA_VERSION: u16 = 1;
/// Bytes of the program header.
pub const HEADER_SIZE: usize = 16;
/// Bytes of one node.
pub const NODE_SIZE: usize = 12;
/// Bytes of one ref.
pub const REF_SIZE: usize = 4;
/// Most nodes in a program.
pub const MAX_NODES: usize = 1024;
/// Most refs (record fields plus variant cases) in a program.
pub const MAX_REFS: usize = 4096;
/// Largest program in bytes.
pub const MAX_PROGRAM_SIZE: usize = HEADER_SIZE + MAX_NODES * NODE_SIZE + MAX_REFS * REF_SIZE;
const _: () = assert!(MAX_PROGRAM_SIZE == crate::uapi::KRING_SCHEMA_SIZE_MAX as usize);
/// Deepest type nesting (a scalar has depth 1, `list<u8>` depth 2, ...).
pub const MAX_DEPTH: usize = 32;
/// Most flags in a `flags` type.
pub const MAX_FLAGS: u32 = 32;
/// Largest inline size of any type (the largest message a queue takes).
pub const MAX_TYPE_SIZE: u64 = 1 << 20;
/// A variant case without payload.
pub const NO_PAYLOAD: u32 = u32::MAX;

/// Node kinds.
pub mod kind {
    /// `bool`: one byte, 0 or 1.
    pub const BOOL: u8 = 1;
    /// `s8`.
    pub const S8: u8 = 2;
    /// `u8`.
    pub const U8: u8 = 3;
    /// `s16`.
    pub const S16: u8 = 4;
    /// `u16`.
    pub const U16: u8 = 5;
    /// `s32`.
    pub const S32: u8 = 6;
    /// `u32`.
    pub const U32: u8 = 7;
    /// `s64`.
    pub const S64: u8 = 8;
    /// `u64`.
    pub const U64: u8 = 9;
    /// `f32` (any bit pattern).
    pub const F32: u8 = 10;
    /// `f64` (any bit pattern).
    pub const F64: u8 = 11;
    /// `char`: a u32 holding a Unicode scalar value.
    pub const CHAR: u8 = 12;
    /// `string`: `(offset, length)` of UTF-8 bytes.
    pub const STRING: u8 = 13;
    /// `list<T>`: `(offset, count)` of elements.
    pub const LIST: u8 = 14;
    /// `list<T, N>`: N elements inline.
    pub const FIXED_LIST: u8 = 15;
    /// `record` / `tuple`.
    pub const RECORD: u8 = 16;
    /// `variant` / `enum` / `option` / `result`.
    pub const VARIANT: u8 = 17;
    /// `flags`.
    pub const FLAGS: u8 = 18;
}

/// Why a program was refused (the module reports all of them as `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Shorter than the header, or not exactly as long as the header says.
    Length,
    /// Wrong magic.
    Magic,
    /// A version this loader does not know.
    Version,
    /// Header flags or node padding not zero.
    Reserved,
    /// No nodes, or more than [`MAX_NODES`] nodes or [`MAX_REFS`] refs.
    Count,
    /// The caller's tables are not exactly `node_count` and `ref_count` long.
    Tables,
    /// An unknown node kind.
    Kind,
    /// A node refers to itself, to a later node, or to no node; or a ref run is not where the
    /// format says.
    Reference,
    /// A count or argument outside its range (e.g. a fixed list of 0, 33 flags, `arg` on a
    /// scalar).
    Argument,
    /// Nesting deeper than [`MAX_DEPTH`].
    Depth,
    /// A type larger than [`MAX_TYPE_SIZE`].
    Size,
}

/// What the loader computed about one node (kernel memory; never shared with user space).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// `kind::*`.
    pub kind: u8,
    /// Every byte pattern of the right size is valid and there is nothing out of line: the
    /// validator skips the node.
    pub trivial: bool,
    /// Alignment in bytes (1, 2, 4 or 8).
    pub align: u8,
    /// Nesting depth (1 for scalars).
    pub depth: u8,
    /// Inline size in bytes (>= 1).
    pub size: u32,
    /// `count` from the program.
    pub count: u32,
    /// `arg` from the program.
    pub arg: u32,
    /// `VARIANT`: bytes of the discriminant. `FLAGS`: bytes of the flags word.
    pub width: u32,
    /// `VARIANT`: offset of the payload.
    pub payload_off: u32,
}

/// What the loader computed about one ref.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefInfo {
    /// Node index, or [`NO_PAYLOAD`].
    pub node: u32,
    /// `RECORD`: offset of the field in the record. `VARIANT`: 0.
    pub offset: u32,
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

const fn align_up(x: u64, align: u64) -> u64 {
    // Only called with x <= 2 * MAX_TYPE_SIZE and align <= 8: cannot overflow.
    (x + align - 1) & !(align - 1)
}

/// `(node_count, ref_count)` of a program, after checking its header and length: what the
/// caller allocates before [`load`].
pub fn counts(prog: &[u8]) -> Result<(usize, usize), LoadError> {
    if prog.len() < HEADER_SIZE {
        return Err(LoadError::Length);
    }
    if le_u32(prog, 0) != Some(SCHEMA_MAGIC) {
        return Err(LoadError::Magic);
    }
    if le_u16(prog, 4) != Some(SCHEMA_VERSION) {
        return Err(LoadError::Version);
    }
    if le_u16(prog, 6) != Some(0) {
        return Err(LoadError::Reserved);
    }
    let nodes = le_u32(prog, 8).ok_or(LoadError::Length)? as usize;
    let refs = le_u32(prog, 12).ok_or(LoadError::Length)? as usize;
    if nodes == 0 || nodes > MAX_NODES || refs > MAX_REFS {
        return Err(LoadError::Count);
    }
    // Bounded by the limits above: no overflow.
    if prog.len() != HEADER_SIZE + nodes * NODE_SIZE + refs * REF_SIZE {
        return Err(LoadError::Length);
    }
    Ok((nodes, refs))
}

fn scalar(k: u8) -> Option<(u32, bool)> {
    use kind::*;
    // (size = align, trivial)
    Some(match k {
        BOOL => (1, false),
        S8 | U8 => (1, true),
        S16 | U16 => (2, true),
        S32 | U32 | F32 => (4, true),
        S64 | U64 | F64 => (8, true),
        CHAR => (4, false),
        _ => return None,
    })
}

/// Discriminant bytes of a variant with `cases` cases (canonical ABI).
pub const fn discriminant_width(cases: u32) -> u32 {
    if cases <= 1 << 8 {
        1
    } else if cases <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Bytes of a flags word with `n` flags (1..=32).
pub const fn flags_width(n: u32) -> u32 {
    if n <= 8 {
        1
    } else if n <= 16 {
        2
    } else {
        4
    }
}

/// Checks `prog` and fills `nodes` and `refs` (exactly [`counts`] long). On error the tables
/// hold garbage and must not be used.
pub fn load(prog: &[u8], nodes: &mut [NodeInfo], refs: &mut [RefInfo]) -> Result<(), LoadError> {
    let (n, r) = counts(prog)?;
    if nodes.len() != n || refs.len() != r {
        return Err(LoadError::Tables);
    }
    let refs_at = HEADER_SIZE + n * NODE_SIZE;
    for (j, slot) in refs.iter_mut().enumerate() {
        let node = le_u32(prog, refs_at + j * REF_SIZE).ok_or(LoadError::Length)?;
        *slot = RefInfo { node, offset: 0 };
    }
    let mut next_ref: usize = 0;
    for i in 0..n {
        let at = HEADER_SIZE + i * NODE_SIZE;
        let raw = prog.get(at..at + NODE_SIZE).ok_or(LoadError::Length)?;
        let k = raw[0];
        if raw[1] != 0 || raw[2] != 0 || raw[3] != 0 {
            return Err(LoadError::Reserved);
        }
        let count = le_u32(raw, 4).ok_or(LoadError::Length)?;
        let arg = le_u32(raw, 8).ok_or(LoadError::Length)?;
        let (done, rest) = nodes.split_at_mut(i);
        let me = rest.first_mut().ok_or(LoadError::Tables)?;
        // A child: an earlier node.
        let child = |idx: u32| -> Result<&NodeInfo, LoadError> { done.get(idx as usize).ok_or(LoadError::Reference) };
        let info = if let Some((size, trivial)) = scalar(k) {
            if count != 0 || arg != 0 {
                return Err(LoadError::Argument);
            }
            NodeInfo { kind: k, trivial, align: size as u8, depth: 1, size, count, arg, width: 0, payload_off: 0 }
        } else {
            match k {
                kind::STRING => {
                    if count != 0 || arg != 0 {
                        return Err(LoadError::Argument);
                    }
                    NodeInfo { kind: k, trivial: false, align: 4, depth: 1, size: 8, count, arg, width: 0, payload_off: 0 }
                }
                kind::LIST => {
                    if count != 0 {
                        return Err(LoadError::Argument);
                    }
                    let e = child(arg)?;
                    NodeInfo { kind: k, trivial: false, align: 4, depth: e.depth + 1, size: 8, count, arg, width: 0, payload_off: 0 }
                }
                kind::FIXED_LIST => {
                    let e = child(arg)?;
                    if count == 0 {
                        return Err(LoadError::Argument);
                    }
                    let size = (count as u64).checked_mul(e.size as u64).ok_or(LoadError::Size)?;
                    if size > MAX_TYPE_SIZE {
                        return Err(LoadError::Size);
                    }
                    NodeInfo {
                        kind: k,
                        trivial: e.trivial,
                        align: e.align,
                        depth: e.depth + 1,
                        size: size as u32,
                        count,
                        arg,
                        width: 0,
                        payload_off: 0,
                    }
                }
                kind::RECORD | kind::VARIANT => {
                    if count == 0 || arg as usize != next_ref {
                        return Err(LoadError::Reference);
                    }
                    let end = next_ref.checked_add(count as usize).ok_or(LoadError::Reference)?;
                    let run = refs.get_mut(next_ref..end).ok_or(LoadError::Reference)?;
                    next_ref = end;
                    if k == kind::RECORD {
                        let mut cur: u64 = 0;
                        let mut align: u64 = 1;
                        let mut depth = 0u8;
                        let mut trivial = true;
                        for f in run.iter_mut() {
                            let c = child(f.node)?;
                            let a = c.align as u64;
                            let off = align_up(cur, a);
                            trivial &= c.trivial && off == cur;
                            f.offset = off as u32;
                            cur = off + c.size as u64;
                            if cur > MAX_TYPE_SIZE {
                                return Err(LoadError::Size);
                            }
                            align = align.max(a);
                            depth = depth.max(c.depth);
                        }
                        let size = align_up(cur, align);
                        trivial &= size == cur;
                        if size > MAX_TYPE_SIZE {
                            return Err(LoadError::Size);
                        }
                        NodeInfo {
                            kind: k,
                            trivial,
                            align: align as u8,
                            depth: depth + 1,
                            size: size as u32,
                            count,
                            arg,
                            width: 0,
                            payload_off: 0,
                        }
                    } else {
                        let w = discriminant_width(count) as u64;
                        let mut case_align: u64 = 1;
                        let mut case_size: u64 = 0;
                        let mut depth = 0u8;
                        for c in run.iter() {
                            if c.node == NO_PAYLOAD {
                                continue;
                            }
                            let p = child(c.node)?;
                            case_align = case_align.max(p.align as u64);
                            case_size = case_size.max(p.size as u64);
                            depth = depth.max(p.depth);
                        }
                        let payload_off = align_up(w, case_align);
                        let align = w.max(case_align);
                        let size = align_up(payload_off + case_size, align);
                        if size > MAX_TYPE_SIZE {
                            return Err(LoadError::Size);
                        }
                        NodeInfo {
                            kind: k,
                            trivial: false,
                            align: align as u8,
                            depth: depth + 1,
                            size: size as u32,
                            count,
                            arg,
                            width: w as u32,
                            payload_off: payload_off as u32,
                        }
                    }
                }
                kind::FLAGS => {
                    if count == 0 || count > MAX_FLAGS || arg != 0 {
                        return Err(LoadError::Argument);
                    }
                    let w = flags_width(count);
                    NodeInfo {
                        kind: k,
                        trivial: count == w * 8,
                        align: w as u8,
                        depth: 1,
                        size: w,
                        count,
                        arg,
                        width: w,
                        payload_off: 0,
                    }
                }
                _ => return Err(LoadError::Kind),
            }
        };
        if info.depth as usize > MAX_DEPTH {
            return Err(LoadError::Depth);
        }
        *me = info;
    }
    if next_ref != r {
        return Err(LoadError::Reference);
    }
    Ok(())
}

/// Why a message was refused: `KRING_SCHEMA_E_*` in the UAPI.
pub mod reason {
    use crate::uapi::*;
    /// The message is shorter than the root type.
    pub const SHORT: u32 = KRING_SCHEMA_E_SHORT;
    /// A `bool` byte is neither 0 nor 1.
    pub const BOOL: u32 = KRING_SCHEMA_E_BOOL;
    /// A `char` is not a Unicode scalar value.
    pub const CHAR: u32 = KRING_SCHEMA_E_CHAR;
    /// A `string` is not valid UTF-8.
    pub const UTF8: u32 = KRING_SCHEMA_E_UTF8;
    /// A variant discriminant is not a case.
    pub const DISCRIMINANT: u32 = KRING_SCHEMA_E_DISCRIMINANT;
    /// A flags word has bits beyond its flags.
    pub const FLAGS: u32 = KRING_SCHEMA_E_FLAGS;
    /// A padding byte is not zero.
    pub const PADDING: u32 = KRING_SCHEMA_E_PADDING;
    /// A string or list reaches past the end of the message.
    pub const BOUNDS: u32 = KRING_SCHEMA_E_BOUNDS;
    /// A string or list does not start where the canonical layout puts it.
    pub const OFFSET: u32 = KRING_SCHEMA_E_OFFSET;
    /// Bytes after the last string or list.
    pub const TRAILING: u32 = KRING_SCHEMA_E_TRAILING;
    /// The validator's stack overflowed (cannot happen for a loaded program).
    pub const DEPTH: u32 = KRING_SCHEMA_E_DEPTH;

    /// A short description of `r`.
    pub const fn describe(r: u32) -> &'static str {
        match r {
            SHORT => "message shorter than the type",
            BOOL => "bool is neither 0 nor 1",
            CHAR => "char is not a Unicode scalar value",
            UTF8 => "string is not valid UTF-8",
            DISCRIMINANT => "discriminant is not a case",
            FLAGS => "unknown flag bits set",
            PADDING => "padding byte is not zero",
            BOUNDS => "string or list out of bounds",
            OFFSET => "string or list not at its canonical offset",
            TRAILING => "bytes after the last string or list",
            DEPTH => "nesting too deep",
            _ => "unknown reason",
        }
    }
}

/// A refused message: why ([`reason`]), which node of the program, and at which byte offset of
/// the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// `reason::*`.
    pub reason: u32,
    /// Index of the program node whose value is wrong.
    pub node: u32,
    /// Byte offset in the message where the check failed.
    pub offset: u32,
}

/// A loaded program: the tables [`load`] filled.
#[derive(Clone, Copy, Debug)]
pub struct Schema<'a> {
    nodes: &'a [NodeInfo],
    refs: &'a [RefInfo],
}

#[derive(Clone, Copy, Default)]
struct Frame {
    /// The `RECORD`, `LIST` or `FIXED_LIST` node being walked.
    node: u32,
    /// Record: its offset. Lists: offset of the next element.
    base: u32,
    /// Record: next field index. Lists: elements left.
    i: u32,
    /// Record: end of the previous field (padding up to the next field must be zero).
    end: u32,
}

struct Walk<'m, 's> {
    s: Schema<'s>,
    msg: &'m [u8],
    /// Where the next out-of-line block may start (everything before is accounted for).
    cursor: u64,
    stack: [Frame; MAX_DEPTH],
    depth: usize,
}

impl<'a> Schema<'a> {
    /// The tables of a program that [`load`] accepted. Other tables may refuse valid messages
    /// and may take long (a hand-made fixed list of 2^32 elements), but cannot make the
    /// validator panic or loop forever.
    pub const fn new(nodes: &'a [NodeInfo], refs: &'a [RefInfo]) -> Self {
        Self { nodes, refs }
    }

    /// The root node: the last one.
    pub fn root(&self) -> Option<&'a NodeInfo> {
        self.nodes.last()
    }

    /// Inline size of the root type: the shortest valid message.
    pub fn min_size(&self) -> u32 {
        self.root().map_or(0, |n| n.size)
    }

    /// Checks that `msg` is the canonical encoding of a value of the root type. Time is linear
    /// in `msg.len()` (at most [`MAX_DEPTH`] node visits per byte), with no recursion.
    pub fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
        let root = self.nodes.len().checked_sub(1).ok_or(Violation { reason: reason::DEPTH, node: 0, offset: 0 })? as u32;
        let size = self.node(root, 0)?.size;
        if (msg.len() as u64) < size as u64 || msg.len() as u64 > u32::MAX as u64 {
            return Err(Violation { reason: reason::SHORT, node: root, offset: 0 });
        }
        let mut w = Walk { s: *self, msg, cursor: size as u64, stack: [Frame::default(); MAX_DEPTH], depth: 0 };
        w.visit(root, 0)?;
        while let Some(top) = w.depth.checked_sub(1) {
            w.step(top)?;
        }
        if w.cursor != msg.len() as u64 {
            return Err(Violation { reason: reason::TRAILING, node: root, offset: w.cursor as u32 });
        }
        Ok(())
    }

    fn node(&self, i: u32, at: u32) -> Result<&'a NodeInfo, Violation> {
        self.nodes.get(i as usize).ok_or(Violation { reason: reason::DEPTH, node: i, offset: at })
    }

    fn field(&self, i: u64, node: u32, at: u32) -> Result<&'a RefInfo, Violation> {
        self.refs.get(i as usize).ok_or(Violation { reason: reason::DEPTH, node, offset: at })
    }
}

impl Walk<'_, '_> {
    fn fail(reason: u32, node: u32, offset: u64) -> Violation {
        Violation { reason, node, offset: offset.min(u32::MAX as u64) as u32 }
    }

    fn bytes(&self, at: u64, len: u64, node: u32) -> Result<&[u8], Violation> {
        let end = at.checked_add(len).ok_or(Self::fail(reason::BOUNDS, node, at))?;
        self.msg.get(at as usize..end as usize).ok_or(Self::fail(reason::BOUNDS, node, at))
    }

    fn uint(&self, at: u64, width: u32, node: u32) -> Result<u32, Violation> {
        let b = self.bytes(at, width as u64, node)?;
        Ok(match *b {
            [a] => a as u32,
            [a, b] => u16::from_le_bytes([a, b]) as u32,
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
            _ => return Err(Self::fail(reason::BOUNDS, node, at)),
        })
    }

    /// Bytes `from..to` must be zero.
    fn zero(&self, from: u64, to: u64, node: u32) -> Result<(), Violation> {
        if to <= from {
            return Ok(());
        }
        let b = self.bytes(from, to - from, node)?;
        match b.iter().position(|&x| x != 0) {
            None => Ok(()),
            Some(p) => Err(Self::fail(reason::PADDING, node, from + p as u64)),
        }
    }

    /// Reads the `(offset, count)` pair at `at` and claims its block of `count * elem_size`
    /// bytes: it must start at the cursor, aligned up to `align` (the skipped bytes zero), and
    /// end inside the message. Returns `(offset, count)`.
    fn claim(&mut self, at: u64, elem_size: u32, align: u8, node: u32) -> Result<(u64, u32), Violation> {
        let off = self.uint(at, 4, node)? as u64;
        let n = self.uint(at + 4, 4, node)?;
        if n == 0 {
            if off != 0 {
                return Err(Self::fail(reason::OFFSET, node, at));
            }
            return Ok((0, 0));
        }
        let expect = align_up(self.cursor, align.max(1) as u64);
        if off != expect {
            return Err(Self::fail(reason::OFFSET, node, at));
        }
        // n < 2^32 and elem_size <= 2^20: no overflow in u64.
        let len = n as u64 * elem_size as u64;
        if off.checked_add(len).is_none_or(|end| end > self.msg.len() as u64) {
            return Err(Self::fail(reason::BOUNDS, node, at));
        }
        self.zero(self.cursor, off, node)?;
        self.cursor = off + len;
        Ok((off, n))
    }

    fn push(&mut self, f: Frame) -> Result<(), Violation> {
        let slot = self.stack.get_mut(self.depth).ok_or(Self::fail(reason::DEPTH, f.node, f.base as u64))?;
        *slot = f;
        self.depth += 1;
        Ok(())
    }

    /// Checks the value of `node` at `at` (inside the message: callers checked the bounds of
    /// the enclosing block), pushing a frame for its parts if it has any.
    fn visit(&mut self, mut node: u32, mut at: u64) -> Result<(), Violation> {
        // Each turn descends one level (into a variant's payload), so a loaded program needs at
        // most MAX_DEPTH turns; the bound also keeps hand-made tables from looping.
        for _ in 0..=MAX_DEPTH {
            let n = self.s.node(node, at as u32)?;
            if n.trivial {
                return Ok(());
            }
            match n.kind {
                kind::BOOL => {
                    if self.uint(at, 1, node)? > 1 {
                        return Err(Self::fail(reason::BOOL, node, at));
                    }
                }
                kind::CHAR => {
                    if char::from_u32(self.uint(at, 4, node)?).is_none() {
                        return Err(Self::fail(reason::CHAR, node, at));
                    }
                }
                kind::FLAGS => {
                    let v = self.uint(at, n.width, node)?;
                    // count is 1..=31 here (32 is trivial).
                    if v >> n.count.min(31) != 0 {
                        return Err(Self::fail(reason::FLAGS, node, at));
                    }
                }
                kind::STRING => {
                    let (off, len) = self.claim(at, 1, 1, node)?;
                    let b = self.bytes(off, len as u64, node)?;
                    if let Err(e) = core::str::from_utf8(b) {
                        return Err(Self::fail(reason::UTF8, node, off + e.valid_up_to() as u64));
                    }
                }
                kind::LIST => {
                    let e = self.s.node(n.arg, at as u32)?;
                    let (off, count) = self.claim(at, e.size, e.align, node)?;
                    if count > 0 && !e.trivial {
                        self.push(Frame { node, base: off as u32, i: count, end: 0 })?;
                    }
                }
                kind::FIXED_LIST => {
                    self.push(Frame { node, base: at as u32, i: n.count, end: 0 })?;
                }
                kind::RECORD => {
                    self.push(Frame { node, base: at as u32, i: 0, end: at as u32 })?;
                }
                kind::VARIANT => {
                    let d = self.uint(at, n.width, node)?;
                    if d >= n.count {
                        return Err(Self::fail(reason::DISCRIMINANT, node, at));
                    }
                    let case = self.s.field(n.arg as u64 + d as u64, node, at as u32)?;
                    let (psize, payload) = if case.node == NO_PAYLOAD {
                        (0, None)
                    } else {
                        (self.s.node(case.node, at as u32)?.size, Some(case.node))
                    };
                    let p = at + n.payload_off as u64;
                    self.zero(at + n.width as u64, p, node)?;
                    self.zero(p + psize as u64, at + n.size as u64, node)?;
                    if let Some(c) = payload {
                        node = c;
                        at = p;
                        continue;
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        Err(Self::fail(reason::DEPTH, node, at))
    }

    /// One step of the frame at `top`: visit its next part, or pop it.
    fn step(&mut self, top: usize) -> Result<(), Violation> {
        let f = *self.stack.get(top).ok_or(Self::fail(reason::DEPTH, 0, 0))?;
        let n = self.s.node(f.node, f.base)?;
        if n.kind == kind::RECORD {
            if f.i >= n.count {
                self.zero(f.end as u64, f.base as u64 + n.size as u64, f.node)?;
                self.depth = top;
                return Ok(());
            }
            let field = self.s.field(n.arg as u64 + f.i as u64, f.node, f.base)?;
            let c = self.s.node(field.node, f.base)?;
            let off = f.base as u64 + field.offset as u64;
            self.zero(f.end as u64, off, f.node)?;
            if let Some(fr) = self.stack.get_mut(top) {
                fr.i += 1;
                fr.end = (off + c.size as u64) as u32;
            }
            return self.visit(field.node, off);
        }
        // LIST or FIXED_LIST: the next element.
        if f.i == 0 {
            self.depth = top;
            return Ok(());
        }
        let e = self.s.node(n.arg, f.base)?;
        if let Some(fr) = self.stack.get_mut(top) {
            fr.i -= 1;
            fr.base = (f.base as u64 + e.size as u64) as u32;
        }
        self.visit(n.arg, f.base as u64)
    }
}
