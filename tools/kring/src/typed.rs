// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Registering schemas with the kernel, and sending typed values.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::queue::{MsgPriority, Sender};
use crate::schema::{Schema, Value};
use crate::{sys, Result, DEVICE_PATH};

/// A schema registered with the kernel (`KRING_IOC_SCHEMA_REGISTER`): its id names it in
/// [`QueueConfig::schema`](crate::QueueConfig::schema) or
/// [`CreateOptions::schema`](crate::CreateOptions::schema). The kernel keeps the schema while
/// this handle (its own fd) or a queue created with it exists; registering the same program
/// again, from any process, gives the same id.
#[derive(Debug)]
pub struct RegisteredSchema {
    _fd: OwnedFd,
    id: u32,
    min_size: u32,
    schema: Option<Arc<Schema>>,
}

impl RegisteredSchema {
    /// Registers `schema`'s program. `InvalidArgument` if the kernel refuses the program,
    /// `OutOfMemory` at the module's `max_schemas` (or 64 schemas held by one fd).
    pub fn register(schema: Arc<Schema>) -> Result<Self> {
        let mut r = Self::register_program(schema.program())?;
        r.schema = Some(schema);
        Ok(r)
    }

    /// Registers a raw schema program (format in `Documentation/schemas.md`).
    pub fn register_program(program: &[u8]) -> Result<Self> {
        let path = std::path::Path::new(DEVICE_PATH);
        let fd = sys::open(path).map_err(|e| Error::from_open(e, path))?;
        let (id, min_size) = sys::schema_register(fd.as_fd(), program).map_err(|e| Error::from_queue_errno(e, "register schema"))?;
        Ok(Self { _fd: fd, id, min_size, schema: None })
    }

    /// The kernel's id of the schema (never 0).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The inline size of the schema's type: the shortest valid message.
    pub fn min_size(&self) -> usize {
        self.min_size as usize
    }

    /// The schema type, if it was registered from one.
    pub fn schema(&self) -> Option<&Arc<Schema>> {
        self.schema.as_ref()
    }
}

impl Sender {
    /// Encodes `value` with this handle's schema (see [`Sender::set_schema`]) and sends it;
    /// `QueueFull` if there is no room. A value that does not fit the type is refused before
    /// any system call ([`Error::Schema`]).
    pub fn send_value(&self, value: &Value, priority: MsgPriority) -> Result<()> {
        self.send_value_timeout(value, priority, Some(Duration::ZERO))
    }

    /// [`send_value`](Self::send_value), waiting for room up to `timeout` (`None`: forever).
    pub fn send_value_timeout(&self, value: &Value, priority: MsgPriority, timeout: Option<Duration>) -> Result<()> {
        let schema = self.schema.as_ref().ok_or(Error::NoSchema)?;
        let bytes = schema.encode(value).map_err(Error::Schema)?;
        self.send_timeout(&bytes, priority, timeout)
    }
}
