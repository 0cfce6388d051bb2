// SPDX-License-Identifier: GPL-2.0
//! Registered schemas: programs loaded once (`KRING_IOC_SCHEMA_REGISTER`), shared by id.
//!
//! The same program bytes always get the same id while the schema lives. A schema lives while
//! something holds a [`SchemaRef`] to it: an fd that registered it (at most
//! [`PER_FILE_SCHEMAS`] per fd) or a queue created with it. When the last reference goes, the
//! schema is freed and its id is not handed out again until the id space wraps.
//!
//! Schemas are public, like queue names: any caller may create a queue with any live id (a
//! program describes a message layout and is no secret). Each schema counts against the user
//! who first registered it (`max_user_schemas`) and against the global `max_schemas`, so one
//! user cannot take the whole table.
//!
//! # Lock order
//!
//! `SCHEMAS` is a leaf: nothing else is taken while it is held. It is taken when a queue is
//! dropped, which can happen under `registry::REGISTRY` (an unlink dropping the last
//! reference), so `REGISTRY` comes before it. The per-fd `FileSchemas` mutex (in `file.rs`)
//! is a leaf too: no `SchemaRef` is dropped while it is held.

use kernel::{
    prelude::*,
    sync::Arc, //
};

use crate::schema::{self, NodeInfo, RefInfo, Violation};

/// Most schemas one fd may hold registered.
pub(crate) const PER_FILE_SCHEMAS: usize = 64;

/// A loaded schema program.
pub(crate) struct Schema {
    id: u32,
    prog: KVVec<u8>,
    nodes: KVVec<NodeInfo>,
    refs: KVVec<RefInfo>,
}

impl Schema {
    /// The id user space names the schema by.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The shortest valid message (the root type's inline size).
    pub(crate) fn min_size(&self) -> u32 {
        schema::Schema::new(&self.nodes, &self.refs).min_size()
    }

    /// Checks that `msg` is a valid encoding of the schema's type (linear in `msg.len()`, no
    /// recursion, no allocation).
    pub(crate) fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
        schema::Schema::new(&self.nodes, &self.refs).validate(msg)
    }
}

struct Entry {
    schema: Arc<Schema>,
    /// Live `SchemaRef`s to `schema`.
    users: usize,
    /// The user the schema counts against (who registered it first).
    owner: u32,
}

struct Schemas {
    entries: KVec<Entry>,
    /// The last id handed out.
    last_id: u32,
}

impl Schemas {
    const fn new() -> Self {
        Self { entries: KVec::new(), last_id: 0 }
    }
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module initialiser, before `/dev/kring` exists.
    unsafe(uninit) static SCHEMAS: Mutex<Schemas> = Schemas::new();
}

/// Initialises the table. Call once, from module init.
pub(crate) fn init() {
    // SAFETY: called exactly once, before any other use of `SCHEMAS`.
    unsafe { SCHEMAS.init() };
}

/// Frees the table's buffer (module unload: no fd and no queue is left).
pub(crate) fn clear() {
    SCHEMAS.lock().entries = KVec::new();
}

/// A counted reference to a registered schema.
pub(crate) struct SchemaRef(Arc<Schema>);

impl core::ops::Deref for SchemaRef {
    type Target = Schema;

    fn deref(&self) -> &Schema {
        &self.0
    }
}

impl Drop for SchemaRef {
    fn drop(&mut self) {
        let mut t = SCHEMAS.lock();
        if let Some(i) = t.entries.iter().position(|e| Arc::ptr_eq(&e.schema, &self.0)) {
            let last = match t.entries.get_mut(i) {
                Some(e) => {
                    e.users = e.users.saturating_sub(1);
                    e.users == 0
                }
                None => false,
            };
            if last {
                let _ = t.entries.remove(i);
            }
        }
    }
}

/// Loads `prog` (copied from user space by the caller) and returns a reference to its
/// schema, the one already registered if the same bytes are. `EINVAL` for a malformed program,
/// `ENOMEM` when `max_schemas` schemas exist, `EDQUOT` when `uid` owns `max_user_schemas` of
/// them.
pub(crate) fn register(prog: KVVec<u8>, uid: u32) -> Result<SchemaRef> {
    // Load outside the lock: bounded (MAX_PROGRAM_SIZE), but still the longest part.
    let (n, r) = schema::counts(&prog).map_err(|_| EINVAL)?;
    let mut nodes = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
    nodes.resize(n, NodeInfo::default(), GFP_KERNEL_ACCOUNT)?;
    let mut refs = KVVec::with_capacity(r, GFP_KERNEL_ACCOUNT)?;
    refs.resize(r, RefInfo::default(), GFP_KERNEL_ACCOUNT)?;
    schema::load(&prog, &mut nodes, &mut refs).map_err(|_| EINVAL)?;

    let mut t = SCHEMAS.lock();
    // Lengths first: most programs differ there, and the scan holds the table's lock.
    let same = |e: &&mut Entry| e.schema.prog.len() == prog.len() && e.schema.prog[..] == prog[..];
    if let Some(e) = t.entries.iter_mut().find(same) {
        e.users += 1;
        return Ok(SchemaRef(e.schema.clone()));
    }
    if t.entries.len() >= crate::module_parameters::max_schemas.value() as usize {
        return Err(ENOMEM);
    }
    let owned = t.entries.iter().filter(|e| e.owner == uid).count();
    if owned >= crate::module_parameters::max_user_schemas.value() as usize {
        return Err(EDQUOT);
    }
    // The next free id after the last one (0 means "no schema"). At most `max_schemas` ids are
    // in use, so this ends.
    let mut id = t.last_id;
    loop {
        id = id.wrapping_add(1);
        if id != 0 && !t.entries.iter().any(|e| e.schema.id == id) {
            break;
        }
    }
    let schema = Arc::new(Schema { id, prog, nodes, refs }, GFP_KERNEL_ACCOUNT)?;
    t.entries.push(Entry { schema: schema.clone(), users: 1, owner: uid }, GFP_KERNEL_ACCOUNT)?;
    t.last_id = id;
    Ok(SchemaRef(schema))
}

/// A reference to the schema with id `id`; `ENOENT` if none is registered.
pub(crate) fn get(id: u32) -> Result<SchemaRef> {
    let mut t = SCHEMAS.lock();
    let e = t.entries.iter_mut().find(|e| e.schema.id == id).ok_or(ENOENT)?;
    e.users += 1;
    Ok(SchemaRef(e.schema.clone()))
}
