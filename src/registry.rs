// SPDX-License-Identifier: GPL-2.0
//! The name table: named queues, like POSIX message queues' namespace.
//!
//! Lock order: `REGISTRY` is taken before any `Queue::inner` (see `queue.rs`).

use kernel::{
    prelude::*,
    sync::Arc, //
};

use crate::{queue::Queue, uapi::KRING_NAME_MAX};

struct Entry {
    name: [u8; KRING_NAME_MAX],
    len: usize,
    queue: Arc<Queue>,
}

impl Entry {
    fn is(&self, name: &[u8]) -> bool {
        self.name.get(..self.len) == Some(name)
    }
}

/// Named queues. Small (a linear scan is cheaper than a tree at these sizes).
pub(crate) struct Registry {
    entries: KVec<Entry>,
}

impl Registry {
    pub(crate) const fn new() -> Self {
        Self { entries: KVec::new() }
    }
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module initialiser, before `/dev/kring` exists.
    unsafe(uninit) static REGISTRY: Mutex<Registry> = Registry::new();
}

/// Initialises the name table. Call once, from module init.
pub(crate) fn init() {
    // SAFETY: called exactly once, before any other use of `REGISTRY`.
    unsafe { REGISTRY.init() };
}

/// Adds `name` → `queue`. `EEXIST` if the name is taken.
pub(crate) fn insert(name: &[u8], queue: &Arc<Queue>) -> Result {
    let mut r = REGISTRY.lock();
    if r.entries.iter().any(|e| e.is(name)) {
        return Err(EEXIST);
    }
    let mut buf = [0u8; KRING_NAME_MAX];
    buf.get_mut(..name.len()).ok_or(EINVAL)?.copy_from_slice(name);
    r.entries.push(Entry { name: buf, len: name.len(), queue: queue.clone() }, GFP_KERNEL_ACCOUNT)?;
    queue.set_named(true);
    Ok(())
}

/// The queue named `name`. `ENOENT` if there is none.
pub(crate) fn lookup(name: &[u8]) -> Result<Arc<Queue>> {
    let r = REGISTRY.lock();
    r.entries.iter().find(|e| e.is(name)).map(|e| e.queue.clone()).ok_or(ENOENT)
}

/// Removes `name` if `allowed` approves its queue. `ENOENT` if there is no such name.
pub(crate) fn remove(name: &[u8], allowed: impl FnOnce(&Queue) -> Result) -> Result {
    let mut r = REGISTRY.lock();
    let i = r.entries.iter().position(|e| e.is(name)).ok_or(ENOENT)?;
    if let Some(e) = r.entries.get(i) {
        allowed(&e.queue)?;
    }
    let e = r.entries.remove(i).map_err(|_| ENOENT)?;
    e.queue.set_named(false);
    Ok(())
}

/// Removes `name` only if it still names `queue` (undoing a create that lost a race).
pub(crate) fn remove_if(name: &[u8], queue: &Arc<Queue>) {
    let _ = remove(name, |q| if core::ptr::eq(q, &**queue) { Ok(()) } else { Err(ENOENT) });
}

/// Calls `f` with every name and its queue, under the table's lock (`f` may take
/// `Queue::inner`, which comes after it); stops at the first error `f` returns.
pub(crate) fn for_each<E>(mut f: impl FnMut(&[u8], &Queue) -> Result<(), E>) -> Result<(), E> {
    let r = REGISTRY.lock();
    for e in r.entries.iter() {
        f(e.name.get(..e.len).unwrap_or(&[]), &e.queue)?;
    }
    Ok(())
}

/// Drops every name (module unload: no fd is open then, each one pins the module).
pub(crate) fn clear() {
    let mut r = REGISTRY.lock();
    while let Some(e) = r.entries.pop() {
        e.queue.set_named(false);
    }
    // The static outlives the module's data: free the table's buffer too.
    r.entries = KVec::new();
}
