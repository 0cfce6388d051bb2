// SPDX-License-Identifier: GPL-2.0 OR MIT
//! kring transports, through the safe `kring` crate only.
//!
//! Every link is a *named* queue that the parent creates as its receiver (the receiving child
//! inherits that handle); each sending child opens the name itself, so that it has its own fd
//! and its own submission area (an area belongs to the process that mapped it, and several
//! senders must not share one). The parent unlinks the names once every child has opened them
//! ([`Names`]), and on every error path.

use std::sync::Arc;
use std::time::Duration;

use kring::schema::Schema;
use kring::{
    CreateOptions, Error, Message, MsgPriority, Queue, QueueConfig, Receiver, Region, RegionPolicy,
    RegisteredSchema, Sender,
};

use crate::payload::{split, stamp_word, Payload, END_SEQ};
use crate::transport::{poll_in, OnMsg, Rx, Skip, Tx};

/// "Forever" for the crate's waits.
const FOREVER: Duration = Duration::from_secs(24 * 3600);

/// How a kring link sends and receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `send` ioctl per message; blocking `KRING_IOC_RECV`.
    Send,
    /// `send_batch`; receive from the mapped ring.
    Batch,
    /// Descriptors to the blocks of one Immutable region, prepared before the timed part.
    DescShared,
    /// Descriptors into sealed Immutable regions.
    DescImmutable,
    /// Descriptors into AppendOnly regions.
    DescAppend,
}

/// Blocks per Immutable region: about 4 MiB, at most 64 (a receiver keeps 16 regions mapped).
fn blocks_per_region(size: usize) -> usize {
    ((4 << 20) / size.max(1)).clamp(1, 64)
}

/// Bytes of an AppendOnly region (a log that is appended to until full).
fn append_region_bytes(size: usize) -> u64 {
    size.max(4 << 20) as u64
}

/// Blocks smaller than this are staged and copied into a region together (one system call);
/// larger ones are copied into the region one by one, straight from the sender's buffer.
const STAGE_BELOW: usize = 64 << 10;

impl Mode {
    /// The mode of a transport name (`None`: not a kring transport).
    pub fn of(transport: &str) -> Option<Mode> {
        Some(match transport {
            "kring-send" | "kring-schema" => Mode::Send,
            "kring-batch" | "kring-schema-batch" => Mode::Batch,
            "kring-desc" => Mode::DescShared,
            "kring-desc-fresh" => Mode::DescImmutable,
            "kring-desc-append" => Mode::DescAppend,
            _ => return None,
        })
    }
}

/// Named queues to unlink: when every child opened them, and in any case on drop.
#[derive(Default)]
pub struct Names(Vec<String>);

impl Names {
    /// Unlinks every name (once).
    pub fn unlink_all(&mut self) {
        for n in self.0.drain(..) {
            let _ = Queue::unlink(&n);
        }
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        self.unlink_all();
    }
}

/// A kring queue, as the parent made it.
pub struct KringLink {
    name: String,
    rx: Receiver,
    mode: Mode,
    schema: Option<Arc<Schema>>,
    /// What is sent and the number of distinct blocks (`DescShared` prepares them).
    blocks: Option<(Arc<Payload>, u64)>,
}

/// Whether `/dev/kring` answers, and its version.
pub fn probe() -> Result<String, String> {
    let k = kring::Kring::open().map_err(|e| e.to_string())?;
    let v = k.version().map_err(|e| e.to_string())?;
    Ok(format!(
        "{} (ABI {}.{}, features {:#x})",
        v.release, v.abi_major, v.abi_minor, v.features
    ))
}

impl KringLink {
    /// Creates a named queue for `size`-byte messages (`depth` places, rounded to a power of
    /// two), with `schema` registered and attached if given; its name goes into `names`.
    pub fn new(
        transport: &str,
        size: usize,
        depth: usize,
        schema: Option<&RegisteredSchema>,
        names: &mut Names,
        tag: &str,
    ) -> Result<KringLink, Skip> {
        let mode = Mode::of(transport)
            .ok_or_else(|| Skip(format!("{transport} is not a kring transport")))?;
        let desc = matches!(mode, Mode::DescImmutable | Mode::DescAppend);
        let max = if desc { 64 } else { size as u32 };
        let ring =
            (depth.clamp(1, kring::uapi::KRING_RING_SIZE_MAX as usize) as u32).next_power_of_two();
        let name = format!("kring-bench-{}-{tag}", std::process::id());
        let opts = CreateOptions {
            name: Some(&name),
            mode: 0o600,
            schema,
        };
        let rx = Queue::create_receiver(QueueConfig::new(ring, max), &opts)
            .map_err(|e| Skip(format!("create queue ({ring} x {max} B): {e}")))?;
        names.0.push(name.clone());
        Ok(KringLink {
            name,
            rx,
            mode,
            schema: schema.and_then(|s| s.schema().cloned()),
            blocks: None,
        })
    }

    /// The sending end (opens the queue by name: this process's own fd and submission area).
    /// The payload and block cycle of the measurement (see `scenario::block_cycle`).
    pub fn with_blocks(mut self, p: Arc<Payload>, cycle: Option<u64>) -> Self {
        self.blocks = cycle.map(|c| (p, c));
        self
    }

    /// The sending end (opens the queue by name: this process's own fd and submission area);
    /// `id` is the sender's number, stamped into its messages.
    pub fn into_tx(self, id: usize) -> Result<Box<dyn Tx>, String> {
        let mut s = Queue::open_sender(&self.name)
            .map_err(|e| format!("open {} to send: {e}", self.name))?;
        if let Some(sc) = self.schema {
            s.set_schema(sc);
        }
        drop(self.rx);
        Ok(match self.mode {
            Mode::Send => Box::new(SendTx { s }),
            Mode::Batch => Box::new(BatchTx { s }),
            Mode::DescShared => {
                let (p, cycle) = self.blocks.ok_or("kring-desc needs a block cycle")?;
                Box::new(SharedDescTx::new(s, &p, id, cycle)?)
            }
            Mode::DescImmutable => Box::new(DescTx::new(s, false)),
            Mode::DescAppend => Box::new(DescTx::new(s, true)),
        })
    }

    /// The receiving end (the handle the parent created, inherited).
    pub fn into_rx(self, size: usize) -> Result<Box<dyn Rx>, String> {
        let buf = vec![0u8; size.max(64)];
        Ok(match self.mode {
            Mode::Send => Box::new(CopyRx { r: self.rx, buf }),
            Mode::Batch => {
                // The same wake-up policy as the shm-ring baseline: poll the mapped rings
                // (pause, sched_yield every 4th) up to SPINS times before sleeping.
                self.rx.set_spin(crate::transport::SPINS);
                Box::new(MmapRx { r: self.rx, buf })
            }
            Mode::DescShared | Mode::DescImmutable | Mode::DescAppend => {
                Box::new(DescRx { r: self.rx })
            }
        })
    }
}

/// Zero-copy sender: the `cycle` distinct blocks this sender sends in turn (and its end
/// marker) are written into one Immutable region and sealed before the timed part; each
/// message is then a descriptor to the block whose stamp it carries. The receiver reads and
/// checks every byte of every block, as with the baselines that copy them.
struct SharedDescTx {
    s: Sender,
    region: Region,
    payload: Arc<Payload>,
    cycle: u64,
}

impl SharedDescTx {
    fn new(s: Sender, p: &Arc<Payload>, id: usize, cycle: u64) -> Result<Self, String> {
        let size = p.len();
        let mut blocks = p.buffer(cycle as usize + 1);
        for (j, b) in blocks.chunks_mut(size).enumerate() {
            let seq = if j as u64 == cycle { END_SEQ } else { j as u64 };
            p.stamp(b, stamp_word(id as u8, seq));
        }
        let region = Region::create(RegionPolicy::Immutable {
            size: blocks.len() as u64,
        })
        .map_err(|e| e2s("create Immutable region", e))?;
        region
            .write(0, &blocks)
            .map_err(|e| e2s("region write", e))?;
        region.seal().map_err(|e| e2s("region seal", e))?;
        Ok(SharedDescTx {
            s,
            region,
            payload: p.clone(),
            cycle,
        })
    }
}

impl Tx for SharedDescTx {
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String> {
        for m in msgs.chunks(size) {
            let w = self
                .payload
                .read_stamp(m)
                .ok_or("a message without a stamp")?;
            let (_, seq) = split(w);
            let block = if seq == END_SEQ {
                self.cycle
            } else {
                seq % self.cycle
            };
            self.s
                .send_descriptor_timeout(
                    &self.region,
                    block * size as u64,
                    size as u32,
                    MsgPriority::Normal,
                    Some(FOREVER),
                )
                .map_err(|e| e2s("send descriptor", e))?;
        }
        Ok(())
    }
}

fn e2s(what: &str, e: Error) -> String {
    format!("{what}: {e}")
}

struct SendTx {
    s: Sender,
}

impl Tx for SendTx {
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String> {
        for m in msgs.chunks(size) {
            self.s
                .send_timeout(m, MsgPriority::Normal, Some(FOREVER))
                .map_err(|e| e2s("kring send", e))?;
        }
        Ok(())
    }
}

struct BatchTx {
    s: Sender,
}

impl Tx for BatchTx {
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String> {
        let batch: Vec<(MsgPriority, &[u8])> = msgs
            .chunks(size)
            .map(|m| (MsgPriority::Normal, m))
            .collect();
        let mut sent = 0;
        while sent < batch.len() {
            sent += self
                .s
                .send_batch(&batch[sent..], FOREVER)
                .map_err(|e| e2s("kring send_batch", e))?;
        }
        Ok(())
    }

    fn batch(&self) -> usize {
        32
    }
}

/// Descriptor sender. Every message's bytes are copied once, by the kernel, into a region
/// (that is how Immutable and AppendOnly regions are filled: they are never writable through a
/// mapping), then described. Immutable: a region takes [`blocks_per_region`] blocks, is sealed
/// and its blocks are sent. AppendOnly: blocks are appended to a log region and sent as soon
/// as they are committed; a full region is replaced by a new one. Small blocks are staged and
/// copied in together.
struct DescTx {
    s: Sender,
    append: bool,
    /// Staged small blocks.
    staged: Vec<u8>,
    /// Size of the blocks.
    size: usize,
    /// The region being filled and the bytes in it.
    region: Option<(Region, u64)>,
}

impl DescTx {
    fn new(s: Sender, append: bool) -> Self {
        DescTx {
            s,
            append,
            staged: Vec::new(),
            size: 0,
            region: None,
        }
    }

    fn describe(&self, region: &Region, first: u64, n: usize) -> Result<(), String> {
        for k in 0..n as u64 {
            let off = first + k * self.size as u64;
            self.s
                .send_descriptor_timeout(
                    region,
                    off,
                    self.size as u32,
                    MsgPriority::Normal,
                    Some(FOREVER),
                )
                .map_err(|e| e2s("send descriptor", e))?;
        }
        Ok(())
    }

    /// A region with room for `len` more bytes (a new one if needed).
    fn room(&mut self, len: usize) -> Result<(), String> {
        let cap = if self.append {
            append_region_bytes(self.size)
        } else {
            (blocks_per_region(self.size) * self.size) as u64
        };
        if self
            .region
            .as_ref()
            .is_some_and(|(_, used)| used + len as u64 <= cap)
        {
            return Ok(());
        }
        self.seal_and_describe()?;
        let policy = if self.append {
            RegionPolicy::AppendOnly { max_size: cap }
        } else {
            RegionPolicy::Immutable {
                size: cap.max(len as u64),
            }
        };
        let r = Region::create(policy).map_err(|e| e2s("create region", e))?;
        self.region = Some((r, 0));
        Ok(())
    }

    /// Copies `data` (whole blocks) into the region; AppendOnly sends them at once.
    fn put(&mut self, data: &[u8]) -> Result<(), String> {
        self.room(data.len())?;
        let Some((region, used)) = self.region.as_mut() else {
            return Err("no region".into());
        };
        let first = *used;
        if self.append {
            *used = region.append(data).map_err(|e| e2s("region append", e))?;
        } else {
            region
                .write(first, data)
                .map_err(|e| e2s("region write", e))?;
            *used += data.len() as u64;
        }
        if self.append {
            let (region, _) = self.region.as_ref().ok_or("no region")?;
            self.describe(region, first, data.len() / self.size)?;
        }
        Ok(())
    }

    /// Immutable: seals the region being filled and sends its blocks.
    fn seal_and_describe(&mut self) -> Result<(), String> {
        if self.append {
            return Ok(());
        }
        if let Some((region, used)) = self.region.take() {
            if used > 0 {
                region.seal().map_err(|e| e2s("region seal", e))?;
                self.describe(&region, 0, used as usize / self.size)?;
            }
        }
        Ok(())
    }

    fn put_staged(&mut self) -> Result<(), String> {
        if !self.staged.is_empty() {
            let data = std::mem::take(&mut self.staged);
            self.put(&data)?;
            self.staged = data;
            self.staged.clear();
        }
        Ok(())
    }
}

impl Tx for DescTx {
    fn send(&mut self, msgs: &[u8], size: usize) -> Result<(), String> {
        self.size = size;
        let per_region = blocks_per_region(size);
        for m in msgs.chunks(size) {
            if size >= STAGE_BELOW {
                self.put(m)?;
            } else {
                self.staged.extend_from_slice(m);
                if self.staged.len() >= per_region * size {
                    self.put_staged()?;
                }
            }
            if !self.append
                && self
                    .region
                    .as_ref()
                    .is_some_and(|(_, used)| *used as usize >= per_region * size)
            {
                self.seal_and_describe()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.put_staged()?;
        self.seal_and_describe()
    }
}

/// `KRING_IOC_RECV`: the kernel waits and copies, one system call per message.
struct CopyRx {
    r: Receiver,
    buf: Vec<u8>,
}

impl Rx for CopyRx {
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String> {
        let m = self
            .r
            .recv_copy(&mut self.buf, None)
            .map_err(|e| e2s("kring recv", e))?;
        f(&self.buf[..m.len])
    }
}

/// Receives from the mapped ring: a system call only to sleep when the queue is empty.
struct MmapRx {
    r: Receiver,
    buf: Vec<u8>,
}

impl Rx for MmapRx {
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String> {
        // Up to 64 messages per call: one lock, one look at the indices and one barrier.
        let mut failed = Ok(());
        self.r
            .recv_batch(&mut self.buf, 64, None, |_, m| {
                if failed.is_ok() {
                    failed = f(m);
                }
            })
            .map_err(|e| e2s("kring recv_batch (mapped)", e))?;
        failed
    }
}

/// Receives descriptors and reads the bytes in place from the region's read-only mapping
/// (the crate opens each region once and keeps recent ones mapped); `poll` when empty.
struct DescRx {
    r: Receiver,
}

impl Rx for DescRx {
    fn recv(&mut self, f: OnMsg<'_>) -> Result<(), String> {
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < 64 {
            match self.r.recv_message(&mut buf) {
                Ok(Message::Descriptor {
                    descriptor, region, ..
                }) => {
                    let b = region
                        .bytes(&descriptor)
                        .ok_or("a descriptor outside its region")?;
                    f(b)?;
                    got += 1;
                }
                Ok(Message::Inline(i)) => {
                    return Err(format!(
                        "inline message of {} bytes on a descriptor queue",
                        i.len
                    ))
                }
                Err(Error::QueueEmpty) if got > 0 => break,
                Err(Error::QueueEmpty) => poll_in(&self.r)?,
                Err(e) => return Err(e2s("kring recv_message", e)),
            }
        }
        Ok(())
    }
}
