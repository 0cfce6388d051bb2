// SPDX-License-Identifier: GPL-2.0
//! Read-only introspection for administrators, in debugfs (`/sys/kernel/debug/kring/`, which
//! only root can read): what exists, who owns it and what it costs.
//!
//! * `limits`: the module parameters in force and the global count of live queues;
//! * `users`: per user (filesystem uid that pays), queues and queue bytes alive, region bytes;
//! * `queues`: every named queue: name, owner, mode, geometry, messages queued, senders,
//!   receiver, counters and the bytes it is charged.
//!
//! One line per record, space-separated `key=value` fields after the first column, so that
//! `awk` and `grep` work on it. This is a debugging interface, not ABI (the `kring` tool and
//! `KRING_IOC_INFO` are); fields may be added at the end of a line.

use core::fmt;

use kernel::{
    debugfs::{
        Dir,
        File, //
    },
    prelude::*,
};

use crate::{
    limits,
    module_parameters as p,
    queue, region, registry,
};

/// The `kring` debugfs directory and its files, removed when dropped (module unload).
pub(crate) struct Introspection {
    // Files before the directory: dropped in declaration order.
    _limits: Pin<KBox<File<()>>>,
    _users: Pin<KBox<File<()>>>,
    _queues: Pin<KBox<File<()>>>,
    _dir: Dir,
}

impl Introspection {
    /// Creates `/sys/kernel/debug/kring/`. Without debugfs the files simply do not exist.
    pub(crate) fn new() -> Result<Self> {
        let dir = Dir::new(c"kring");
        let limits = KBox::pin_init(dir.read_callback_file(c"limits", Ok::<(), Error>(()), &show_limits), GFP_KERNEL)?;
        let users = KBox::pin_init(dir.read_callback_file(c"users", Ok::<(), Error>(()), &show_users), GFP_KERNEL)?;
        let queues = KBox::pin_init(dir.read_callback_file(c"queues", Ok::<(), Error>(()), &show_queues), GFP_KERNEL)?;
        Ok(Self { _limits: limits, _users: users, _queues: queues, _dir: dir })
    }
}

fn show_limits(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "max_queue_bytes {}", p::max_queue_bytes.value())?;
    writeln!(f, "max_queues {}", p::max_queues.value())?;
    writeln!(f, "max_user_queues {}", p::max_user_queues.value())?;
    writeln!(f, "max_user_bytes {}", p::max_user_bytes.value())?;
    writeln!(f, "max_region_bytes {}", p::max_region_bytes.value())?;
    writeln!(f, "max_user_region_bytes {}", p::max_user_region_bytes.value())?;
    writeln!(f, "max_schemas {}", p::max_schemas.value())?;
    writeln!(f, "max_user_schemas {}", p::max_user_schemas.value())?;
    writeln!(f, "live_queues {}", queue::live_queues())
}

fn show_users(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    limits::for_each_user(|uid, queues, bytes| writeln!(f, "{uid} queues={queues} queue_bytes={bytes}"))?;
    region::for_each_user(|uid, bytes| writeln!(f, "{uid} region_bytes={bytes}"))
}

fn show_queues(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    registry::for_each(|name, q| {
        let c = q.census();
        // Names are checked at creation: no NUL, no '/'; print other bytes as they are, or
        // escaped if they are not printable ASCII.
        for &b in name {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        writeln!(
            f,
            " uid={} gid={} mode={:03o} ring_size={} max_msg_size={} len={} senders={} receiver={} sent={} received={} bytes={} schema={}",
            q.uid.val,
            q.gid.val,
            q.mode,
            q.geo.ring_size,
            q.geo.max_msg_size,
            c.len,
            c.senders,
            u8::from(c.receiver),
            c.send_count,
            c.recv_count,
            q.charged_bytes(),
            q.schema.as_ref().map_or(0, |s| s.id()),
        )
    })
}
