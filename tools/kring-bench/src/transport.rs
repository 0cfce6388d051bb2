// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Transports: the baselines (pipe, UNIX SEQPACKET socket, POSIX mqueue, shared-memory ring)
//! here, kring's in [`crate::kringt`]. A [`Link`] is one direction of communication with one
//! receiving process and any number of sending processes, made by the parent before `fork`;
//! each child turns its copy into the end it needs.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicU32, AtomicU64};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::kringt::KringLink;
use crate::sys::{self, SharedMem};

/// A callback handed each received message.
pub type OnMsg<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), String>;

/// The sending end of a link.
pub trait Tx {
    /// Sends the messages of `msgs`: back-to-back, `size` bytes each (at most [`Tx::batch`]).
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String>;
    /// Pushes out anything held back (descriptors waiting for their region to be sealed).
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// How many messages one `send` should carry.
    fn batch(&self) -> usize {
        1
    }
}

/// The receiving end of a link.
pub trait Rx {
    /// Waits for at least one message, then hands `f` each one available (up to a bound).
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String>;
}

/// Why a transport cannot be measured in this configuration (reported, not fatal).
#[derive(Debug)]
pub struct Skip(pub String);

/// The baselines and kring transports, and what they are.
pub const TRANSPORTS: [(&str, &str); 11] = [
    ("pipe", "pipe(2); one write per message, the receiver reads whatever is there (64 KiB buffer)"),
    ("unix", "AF_UNIX SOCK_SEQPACKET socketpair; one send/recv per message"),
    ("mqueue", "POSIX message queue; one mq_send/mq_receive per message"),
    ("shm-ring", "SPSC ring in MAP_SHARED memory (one per sender), futex wake-up after 1000 spins (pause, sched_yield every 4th); receiver reads slots in place"),
    ("kring-send", "kring: send ioctl per message, blocking receive ioctl (KRING_IOC_RECV)"),
    ("kring-batch", "kring: send_batch (up to 32 per ENTER), recv_batch (up to 64) from the mapped ring, polling it 1000 times (like shm-ring) before sleeping when empty"),
    ("kring-desc", "kring: descriptors naming the blocks of one Immutable region, filled and sealed before the timed part: zero copies (large only)"),
    ("kring-desc-fresh", "kring: every block copied into a new sealed Immutable region, then described: one copy (large only)"),
    ("kring-desc-append", "kring: descriptors into an AppendOnly region (large only)"),
    ("kring-schema", "kring-send on a queue with a schema (schema only)"),
    ("kring-schema-batch", "kring-batch on a queue with a schema (schema only)"),
];

/// The baselines, in report order.
pub const BASELINES: [&str; 4] = ["pipe", "unix", "mqueue", "shm-ring"];

/// One direction of communication.
pub enum Link {
    /// A pipe.
    Pipe { r: OwnedFd, w: OwnedFd },
    /// A SEQPACKET socketpair: the receiver reads `r`, senders write `w`.
    Unix { r: OwnedFd, w: OwnedFd },
    /// A message queue (already unlinked) holding `maxmsg` messages.
    Mq {
        fd: OwnedFd,
        msgsize: usize,
        maxmsg: usize,
    },
    /// Shared-memory rings.
    Shm(ShmChannel),
    /// A kring queue.
    Kring(Box<KringLink>),
}

impl Link {
    /// Makes a link for `transport` carrying `size`-byte messages from `senders` processes,
    /// with room for about `depth` messages.
    pub fn new(
        transport: &str,
        size: usize,
        depth: usize,
        senders: usize,
        tag: &str,
    ) -> Result<Link, Skip> {
        match transport {
            "pipe" => pipe(size, depth),
            "unix" => unix(size, depth),
            "mqueue" => mqueue(size, depth, tag),
            "shm-ring" => ShmChannel::new(size, depth, senders).map(Link::Shm),
            other => Err(Skip(format!("{other} is not a baseline"))),
        }
    }

    /// Says so if the link holds fewer messages than asked (kernel limits on the baselines).
    pub fn note(&self, size: usize, depth: usize) -> Option<String> {
        match self {
            Link::Mq { maxmsg, .. } if *maxmsg < depth => Some(format!(
                "mqueue holds {maxmsg} messages, not {depth} (fs.mqueue.msg_max)"
            )),
            Link::Pipe { w, .. } => {
                let n = rustix::pipe::fcntl_getpipe_size(w).unwrap_or(0);
                (n < (size * depth).clamp(64 << 10, 4 << 20))
                    .then(|| format!("pipe buffer {} KiB (fs.pipe-max-size)", n >> 10))
            }
            Link::Unix { w, .. } => {
                let n = rustix::net::sockopt::socket_send_buffer_size(w).unwrap_or(0);
                (n < depth * size)
                    .then(|| format!("socket send buffer {} KiB (net.core.wmem_max)", n >> 10))
            }
            _ => None,
        }
    }

    /// The sending end for sender `i`.
    pub fn into_tx(self, i: usize) -> Result<Box<dyn Tx>, String> {
        Ok(match self {
            Link::Pipe { w, .. } => Box::new(FdTx {
                fd: w,
                kind: FdKind::Pipe,
            }),
            Link::Unix { w, .. } => Box::new(FdTx {
                fd: w,
                kind: FdKind::Unix,
            }),
            Link::Mq { fd, .. } => Box::new(FdTx {
                fd,
                kind: FdKind::Mq,
            }),
            Link::Shm(c) => Box::new(ShmTx {
                c,
                ring: i,
                head: 0,
            }),
            Link::Kring(k) => k.into_tx(i)?,
        })
    }

    /// The receiving end, for `size`-byte messages.
    pub fn into_rx(self, size: usize) -> Result<Box<dyn Rx>, String> {
        Ok(match self {
            Link::Pipe { r, .. } => Box::new(PipeRx {
                fd: r,
                buf: vec![0; (64 << 10).max(2 * size)],
                start: 0,
                end: 0,
                size,
            }),
            Link::Unix { r, .. } => Box::new(MsgRx {
                fd: r,
                buf: vec![0; size + 1],
                mq: false,
            }),
            Link::Mq { fd, msgsize, .. } => Box::new(MsgRx {
                fd,
                buf: vec![0; msgsize],
                mq: true,
            }),
            Link::Shm(c) => Box::new(ShmRx { c, next: 0 }),
            Link::Kring(k) => k.into_rx(size)?,
        })
    }
}

fn pipe(size: usize, depth: usize) -> Result<Link, Skip> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Skip(format!("pipe: {e}")))?;
    // Room for `depth` messages like the other transports (at least the default 64 KiB); the
    // kernel may cap it (fs.pipe-max-size for unprivileged users), which is then what a pipe is.
    let want = (size * depth).clamp(64 << 10, 4 << 20);
    let _ = rustix::pipe::fcntl_setpipe_size(&w, want)
        .or_else(|_| rustix::pipe::fcntl_setpipe_size(&w, 1 << 20));
    Ok(Link::Pipe { r, w })
}

fn unix(size: usize, depth: usize) -> Result<Link, Skip> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Skip(format!("socketpair: {e}")))?;
    // A datagram must fit the sender's buffer; give it room for `depth` messages (each costs
    // its size plus about 1 KiB of skb overhead), beyond net.core.wmem_max if privileged.
    let want = (depth * (size + 1024)).clamp(256 << 10, 8 << 20);
    if rustix::net::sockopt::set_socket_send_buffer_size_force(&b, want).is_err() {
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&b, want);
    }
    let got = rustix::net::sockopt::socket_send_buffer_size(&b).unwrap_or(0);
    if got < size + 4096 {
        return Err(Skip(format!("a {size}-byte datagram does not fit the socket's send buffer ({got} bytes; net.core.wmem_max)")));
    }
    Ok(Link::Unix { r: a, w: b })
}

fn mqueue(size: usize, depth: usize, tag: &str) -> Result<Link, Skip> {
    // Room for `depth` messages; unprivileged users are limited by fs.mqueue.msg_max (10 by
    // default) and msgsize_max (8 KiB), and everyone by RLIMIT_MSGQUEUE (raised in main).
    let name = format!("/kring-bench-{}-{tag}", std::process::id());
    let mut maxmsg = depth.max(1);
    loop {
        match sys::mq_create_anonymous(&name, maxmsg, size) {
            Ok(fd) => {
                return Ok(Link::Mq {
                    fd,
                    msgsize: size,
                    maxmsg,
                })
            }
            Err(e)
                if maxmsg > 10
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL) | Some(libc::EMFILE) | Some(libc::ENOMEM)
                    ) =>
            {
                maxmsg = (maxmsg / 2).max(10)
            }
            Err(e) => {
                return Err(Skip(format!(
                    "mq_open(maxmsg {maxmsg}, msgsize {size}): {e}"
                )))
            }
        }
    }
}

#[derive(Clone, Copy)]
enum FdKind {
    Pipe,
    Unix,
    Mq,
}

/// One system call per message (pipe write, socket send, mq_send).
struct FdTx {
    fd: OwnedFd,
    kind: FdKind,
}

impl Tx for FdTx {
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String> {
        for m in msgs.chunks(size) {
            match self.kind {
                FdKind::Pipe => {
                    let mut off = 0;
                    while off < m.len() {
                        match rustix::io::write(&self.fd, &m[off..]) {
                            Ok(n) => off += n,
                            Err(rustix::io::Errno::INTR) => {}
                            Err(e) => return Err(format!("pipe write: {e}")),
                        }
                    }
                }
                FdKind::Unix => loop {
                    match rustix::net::send(&self.fd, m, SendFlags::empty()) {
                        Ok(n) if n == m.len() => break,
                        Ok(n) => return Err(format!("socket send: {n} of {} bytes", m.len())),
                        Err(rustix::io::Errno::INTR) => {}
                        Err(e) => return Err(format!("socket send: {e}")),
                    }
                },
                FdKind::Mq => sys::mq_send(&self.fd, m).map_err(|e| format!("mq_send: {e}"))?,
            }
        }
        Ok(())
    }
}

/// Reads a pipe greedily and splits the stream into `size`-byte messages.
struct PipeRx {
    fd: OwnedFd,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    size: usize,
}

impl Rx for PipeRx {
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String> {
        while self.end - self.start < self.size {
            if self.buf.len() - self.end < self.size {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match rustix::io::read(&self.fd, &mut self.buf[self.end..]) {
                Ok(0) => return Err("pipe closed by every writer".into()),
                Ok(n) => self.end += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(format!("pipe read: {e}")),
            }
        }
        while self.end - self.start >= self.size {
            f(&self.buf[self.start..self.start + self.size])?;
            self.start += self.size;
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        Ok(())
    }
}

/// One message per system call: a SEQPACKET socket or an mqueue.
struct MsgRx {
    fd: OwnedFd,
    buf: Vec<u8>,
    mq: bool,
}

impl Rx for MsgRx {
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String> {
        let n = if self.mq {
            sys::mq_receive(&self.fd, &mut self.buf).map_err(|e| format!("mq_receive: {e}"))?
        } else {
            loop {
                match rustix::net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                    Ok((0, _)) => return Err("socket closed by its peer".into()),
                    Ok((n, _)) => break n,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(format!("socket recv: {e}")),
                }
            }
        };
        f(&self.buf[..n])
    }
}

// ---- shared-memory rings ----

/// Spins before sleeping on the futex.
/// Polls before a waiting side sleeps (shm-ring; kring-batch receivers use the same count).
pub const SPINS: u32 = 1000;
const LINE: usize = 64;
/// Offsets in a ring header: producer index, consumer index, "sender sleeps" futex.
const R_TAIL: usize = 0;
const R_HEAD: usize = LINE;
const R_SEND_WAIT: usize = 2 * LINE;
const R_HDR: usize = 4 * LINE;

/// SPSC rings in one `MAP_SHARED` mapping, one per sender, all read by one receiver, which
/// sleeps on one futex word (the doorbell at offset 0) when every ring is empty. This is the
/// floor a kernel-mediated queue is chasing: no system call at all while both sides are busy.
pub struct ShmChannel {
    mem: SharedMem,
    rings: usize,
    cap: u64,
    stride: usize,
    size: usize,
}

impl ShmChannel {
    fn new(size: usize, depth: usize, senders: usize) -> Result<Self, Skip> {
        let cap = depth.max(2).next_power_of_two();
        let stride = size.div_ceil(LINE) * LINE;
        let ring_len = R_HDR + cap * stride;
        let mem =
            SharedMem::new(LINE + senders * ring_len).map_err(|e| Skip(format!("mmap: {e}")))?;
        mem.prefault();
        Ok(ShmChannel {
            mem,
            rings: senders,
            cap: cap as u64,
            stride,
            size,
        })
    }

    fn base(&self, ring: usize) -> usize {
        LINE + ring * (R_HDR + self.cap as usize * self.stride)
    }
    fn doorbell(&self) -> &AtomicU32 {
        self.mem.atomic_u32(0)
    }
    fn tail(&self, ring: usize) -> &AtomicU64 {
        self.mem.atomic_u64(self.base(ring) + R_TAIL)
    }
    fn head(&self, ring: usize) -> &AtomicU64 {
        self.mem.atomic_u64(self.base(ring) + R_HEAD)
    }
    fn send_wait(&self, ring: usize) -> &AtomicU32 {
        self.mem.atomic_u32(self.base(ring) + R_SEND_WAIT)
    }
    fn slot(&self, ring: usize, idx: u64) -> usize {
        self.base(ring) + R_HDR + (idx & (self.cap - 1)) as usize * self.stride
    }
}

struct ShmTx {
    c: ShmChannel,
    ring: usize,
    /// The receiver's index as last read: re-read only when the ring looks full.
    head: u64,
}

/// One step of a spin-then-sleep wait: a pause, and every 4th time a `sched_yield` (the peer
/// may be waiting for this very CPU: communicating processes often end up on one).
fn spin(i: u32) {
    if i % 4 == 3 {
        rustix::thread::sched_yield();
    } else {
        std::hint::spin_loop();
    }
}

impl ShmTx {
    fn wait_for_room(&mut self, tail: u64) {
        let (c, r) = (&self.c, self.ring);
        if tail - self.head < c.cap {
            return;
        }
        let mut spins = 0;
        loop {
            self.head = c.head(r).load(Acquire);
            if tail - self.head < c.cap {
                return;
            }
            if spins < SPINS {
                spin(spins);
                spins += 1;
                continue;
            }
            // Dekker with the receiver: flag, then look again; it advances head, then looks
            // at the flag.
            c.send_wait(r).store(1, SeqCst);
            self.head = c.head(r).load(SeqCst);
            if tail - self.head < c.cap {
                c.send_wait(r).store(0, Relaxed);
                return;
            }
            sys::futex_wait(c.send_wait(r), 1, None);
        }
    }
}

impl Tx for ShmTx {
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String> {
        let r = self.ring;
        if r >= self.c.rings || size != self.c.size {
            return Err(format!(
                "shm ring {r} of {} for {size}-byte messages",
                self.c.rings
            ));
        }
        for m in msgs.chunks(size) {
            // Only this process moves tail.
            let tail = self.c.tail(r).load(Relaxed);
            self.wait_for_room(tail);
            let c = &self.c;
            // SAFETY: slot `tail` is free (fewer than `cap` messages are queued) and the
            // receiver does not read it before the release store of `tail + 1` below.
            unsafe { c.mem.write(c.slot(r, tail), m) };
            c.tail(r).store(tail + 1, Release);
            fence(SeqCst);
            if c.doorbell().load(Relaxed) != 0 && c.doorbell().swap(0, SeqCst) != 0 {
                sys::futex_wake(c.doorbell(), 1);
            }
        }
        Ok(())
    }
}

struct ShmRx {
    c: ShmChannel,
    next: usize,
}

impl ShmRx {
    /// Hands `f` up to 64 messages of `ring`; returns how many.
    fn drain(&mut self, ring: usize, f: OnMsg<'_>) -> Result<usize, String> {
        let c = &self.c;
        let head = c.head(ring).load(Relaxed); // only this process moves head
        let tail = c.tail(ring).load(Acquire);
        let n = (tail - head).min(64);
        for i in 0..n {
            // SAFETY: the slot is between head and tail: published by the release store of
            // tail (acquired above), and the sender does not reuse it before head passes it.
            let m = unsafe { c.mem.bytes(c.slot(ring, head + i), c.size) };
            f(m)?;
            c.head(ring).store(head + i + 1, Release);
        }
        if n > 0 {
            fence(SeqCst);
            if c.send_wait(ring).load(Relaxed) != 0 && c.send_wait(ring).swap(0, SeqCst) != 0 {
                sys::futex_wake(c.send_wait(ring), 1);
            }
        }
        Ok(n as usize)
    }

    fn any_queued(&self) -> bool {
        (0..self.c.rings).any(|r| self.c.tail(r).load(SeqCst) != self.c.head(r).load(Relaxed))
    }
}

impl Rx for ShmRx {
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String> {
        let mut spins = 0;
        loop {
            let mut got = 0;
            for k in 0..self.c.rings {
                let r = (self.next + k) % self.c.rings;
                got += self.drain(r, f)?;
            }
            self.next = (self.next + 1) % self.c.rings;
            if got > 0 {
                return Ok(());
            }
            if spins < SPINS {
                spin(spins);
                spins += 1;
                continue;
            }
            let bell = self.c.doorbell();
            bell.store(1, SeqCst);
            if self.any_queued() {
                bell.store(0, Relaxed);
                continue;
            }
            sys::futex_wait(bell, 1, None);
        }
    }
}

/// The fd a link's receiver would poll (kring only).
pub fn poll_in(fd: impl AsFd) -> Result<(), String> {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    match rustix::event::poll(&mut fds, None) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(format!("poll: {e}")),
    }
}
