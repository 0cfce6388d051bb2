// SPDX-License-Identifier: GPL-2.0 OR MIT
//! A seeded, time-bounded, syzkaller-style fuzzer of the kring UAPI: a hostile local user who
//! calls every entry point with raw system calls, never through the `kring` crate (whose own
//! checks would hide the kernel's).
//!
//! # What it does
//!
//! Each test runs random operations over a small pool of `/dev/kring` fds (unbound, queue
//! handles with random rights, region handles) and of mappings of them:
//!
//! * fds: `open` (random access mode, sometimes `O_NONBLOCK`), `close`, `dup`, `F_DUPFD`,
//!   `dup3` onto another fd of the pool, `fcntl(F_SETFL, O_NONBLOCK)`, `poll`, `read`/`write`;
//! * every ioctl, through its real argument struct: `VERSION`, `CREATE`, `OPEN`, `UNLINK`,
//!   `INFO`, `SEND`, `RECV`, `ENTER`, `WAIT`, `NOTIFY`, `REGION_CREATE`, `REGION_INFO`,
//!   `REGION_WRITE`, `REGION_APPEND`, `REGION_SEAL`, `REGION_OPEN`, `SEND_DESC`,
//!   `SCHEMA_REGISTER` (programs lowered from WIT, hand-made ones at the loader's limits, their
//!   mutations, random bytes) and `SCHEMA_ERROR`; unknown numbers with the kring magic (among
//!   them the real ones with another size or direction) and random numbers;
//! * memory: `mmap` of every `KRING_OFF_*` offset and of wrong ones, with random lengths,
//!   protections and flags; `munmap` (whole, or one page of it), `mprotect`, `mremap`,
//!   `madvise`; and a hostile ring writer storing garbage and nearly valid values into the
//!   consumer page (heads one past, one back, far ahead) and into submission areas (entries
//!   pointing anywhere, descriptor entries naming random fds), then submitting them.
//!
//! Arguments are mostly *nearly valid*: names from a small set (so creates collide and opens
//! find queues), real fds of the right kind, real buffers, sizes at the boundaries (0, 1, page
//! size ± 1, the ABI limits ± 1, `u32::MAX`); a fraction is fully random. Pointers the kernel
//! only reads from may be anything. Pointers it writes to are the fuzzer's own buffers, large
//! enough for anything the kernel may write there, or addresses that fault at their first byte
//! (NULL, guard pages without access or read-only, kernel and non-canonical addresses): a
//! kernel that keeps its promises never corrupts the fuzzer. Every timeout is at most 10 ms and
//! no call waits without one, so nothing blocks for long, and a call that does is a failure.
//!
//! Three tests: one thread; three threads racing over one shared pool (its lock covers the
//! bookkeeping only, never a system call, so `close` races `mmap` and every ioctl); and one
//! thread forking children that work on the inherited fds and mappings with raw system calls
//! until they are SIGKILLed at a random moment, often asleep in a kring wait.
//!
//! # What fails a test
//!
//! * an ioctl returning anything but 0, or -1 with an errno the module returns (`src/`; the
//!   set is [`IOCTL_ERRNOS`]); `ENTER` may return its count, never more than it was asked to
//!   submit. Other system calls likewise, with the errnos their manual pages give for what is
//!   asked of them;
//! * a call taking longer than its timeout (twice for `ENTER`, which may wait for room and then
//!   for a message) plus [`SLACK`]; a call still running after [`HANG_LIMIT`] aborts the test
//!   binary (the watchdog), since it would never report otherwise;
//! * the kernel accepting what the ABI refuses (reserved fields, bad names, impossible
//!   geometry, unknown flags, executable or private mappings, growing a mapping), or a reply
//!   that contradicts itself or the ABI (`INFO` against `ring::Geometry`, `RECV`'s lengths,
//!   `ENTER`'s count and `error`, a schema program judged otherwise than by the same loader in
//!   user space, an unknown ioctl that wrote to its argument);
//! * in the tests without threads, where the fuzzer knows what each bound fd is bound to: any
//!   errno but the one the binding dictates (`EISCONN`, `ENOTCONN`, `EBADF`, `EPERM`);
//! * a child that does not die within [`REAP_LIMIT`] of SIGKILL, or dies of another signal;
//! * `/dev/kring` not working afterwards (a queue and a region, end to end through the crate).
//!
//! Kernel warnings, KASAN and lockdep reports are caught by the runner's dmesg check after all
//! suites. At the end every mapping and fd is closed and every name the fuzzer (or a child) may
//! have created is unlinked, so later suites and the module's unload are not disturbed.
//!
//! # Replay
//!
//! The seed is printed when a test starts (straight to stderr, so it survives a crash of the
//! test binary) and in every failure. `KRING_FUZZ_SEED=0x… KRING_FUZZ_SECS=… KRING_FUZZ_OPS=…`
//! replays every thread's random choices: in the one-thread test the same operations, as long
//! as the kernel answers them the same way (timeouts may not); with threads and children their
//! interleaving, and whatever depends on it, differs. Without `KRING_FUZZ_SEED` the seed comes
//! from the clock; `KRING_FUZZ_SECS` is the time per test (default 40 s: the test VM runs a debug
//! kernel under TCG, where a system call may take 100 µs or more) and `KRING_FUZZ_OPS` a limit
//! on the operations per test (default 1 000 000), whichever ends first. One test alone:
//! `fuzz-<hash> fuzz_one_thread --nocapture` inside the VM.

use std::ffi::c_void;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use kring::ring::{self, Geometry};
use kring::schema::Schema;
use kring::uapi::*;
use kring::{CreateOptions, Kring, MsgPriority, Queue, QueueConfig, Region, RegionPolicy};
use kring_vmtests::{require_module, unique_name};

// ---------------------------------------------------------------------------------------------
// Limits and expectations
// ---------------------------------------------------------------------------------------------

const DEFAULT_SECS: u64 = 40;
const DEFAULT_OPS: u64 = 1_000_000;
/// Threads of the multi-threaded test (the VM has 2 CPUs).
const THREADS: usize = 3;
/// Open fds the pool keeps at most (each may pin a queue and a submission area).
const MAX_FDS: usize = 24;
/// Mappings the pool keeps at most.
const MAX_MAPS: usize = 32;
/// Regions and schemas remembered for `REGION_OPEN` and `CREATE` (ids, not resources).
const MAX_IDS: usize = 32;
/// Every timeout the fuzzer passes, in ms: never infinite, never long.
const TIMEOUTS: [u32; 8] = [0, 0, 0, 0, 1, 2, 5, 10];
/// Slack on top of a call's own timeout: a vCPU under TCG can lose seconds to the host.
const SLACK: Duration = Duration::from_secs(10);
/// Longest any call may take, timeout or not.
const ANY_LIMIT: Duration = Duration::from_secs(30);
/// A call still running after this is stuck: the watchdog aborts the test binary.
const HANG_LIMIT: Duration = Duration::from_secs(60);
/// How long a SIGKILLed child may take to be reaped.
const REAP_LIMIT: Duration = Duration::from_secs(30);
/// A child exits by itself after this long (if the parent could not kill it).
const CHILD_LIMIT_MS: u64 = 20_000;
/// Largest queue (shared memory) and region the fuzzer lets the kernel allocate: the VM has
/// 2 GiB. Larger valid sizes are shrunk; sizes over the module's limits are kept (they are
/// refused before anything is allocated).
const BIG_QUEUE: u64 = 5 << 20;
const BIG_REGION: u64 = 1 << 20;
/// The zero part of the send buffer: a valid message for most schemas at their minimum size.
const ZERO_LEN: usize = KRING_MSG_SIZE_MAX as usize;
/// The send buffer: `ZERO_LEN` zero bytes, then random ones.
const SEND_BUF: usize = ZERO_LEN + 64 * 1024;
/// The receive buffer: at least a page more than any message (`KRING_MSG_SIZE_MAX`).
const RECV_BUF: usize = KRING_MSG_SIZE_MAX as usize + 8192;
/// Scratch for unknown ioctls: the largest size an ioctl number can encode.
const SCRATCH: usize = 1 << ioctl::SIZEBITS;
/// fd numbers that are never open.
const BAD_FDS: [i32; 4] = [-1, -100, 1 << 20, i32::MAX];

/// Every errno a kring ioctl returns: exactly those `src/` uses (`EDQUOT` since ABI 1.6),
/// plus `ENOTTY` for numbers it does not know. `EINTR` needs a caught signal (none here).
const IOCTL_ERRNOS: &[i32] = &[
    libc::EACCES,
    libc::EAGAIN,
    libc::EBADF,
    libc::EBADMSG,
    libc::EBUSY,
    libc::EDQUOT,
    libc::EEXIST,
    libc::EFAULT,
    libc::EINTR,
    libc::EINVAL,
    libc::EISCONN,
    libc::EMSGSIZE,
    libc::ENODATA,
    libc::ENOENT,
    libc::ENOMEM,
    libc::ENOSPC,
    libc::ENOTCONN,
    libc::ENOTTY,
    libc::EOPNOTSUPP,
    libc::EOVERFLOW,
    libc::EPERM,
    libc::EPIPE,
    libc::ESTALE,
    libc::ETIMEDOUT,
    libc::EUCLEAN,
];
/// `mmap(2)` of a kring fd: the VFS's errnos for the flags used here, and kring's `->mmap`
/// (`ENOTCONN` unbound, `EACCES`, `EINVAL`, `ENOMEM`/`EDQUOT` allocating a submission area,
/// and `vm_insert_page`'s `EFAULT`/`EBUSY`/`ENOMEM`).
const MMAP_ERRNOS: &[i32] = &[
    libc::EACCES,
    libc::EAGAIN,
    libc::EBADF,
    libc::EBUSY,
    libc::EDQUOT,
    libc::EFAULT,
    libc::EINVAL,
    libc::ENODEV,
    libc::ENOMEM,
    libc::ENOTCONN,
    libc::EOPNOTSUPP,
    libc::EOVERFLOW,
    libc::EPERM,
];
const MPROTECT_ERRNOS: &[i32] = &[libc::EACCES, libc::EINVAL, libc::ENOMEM];
const MREMAP_ERRNOS: &[i32] = &[libc::EAGAIN, libc::EFAULT, libc::EINVAL, libc::ENOMEM];
const MADVISE_ERRNOS: &[i32] = &[libc::EAGAIN, libc::EINVAL, libc::ENOMEM];
const OPEN_ERRNOS: &[i32] = &[libc::EMFILE, libc::ENFILE, libc::ENOMEM];
const DUP_ERRNOS: &[i32] = &[libc::EBADF, libc::EINVAL, libc::EMFILE];
const POLL_ERRNOS: &[i32] = &[libc::EINTR, libc::ENOMEM];
/// `/dev/kring` has neither `read` nor `write`: `EINVAL`, or `EBADF` for the access mode.
const RW_ERRNOS: &[i32] = &[libc::EBADF, libc::EINVAL];
const FORK_ERRNOS: &[i32] = &[libc::EAGAIN, libc::ENOMEM];

/// Every kring ioctl number: the unknown-ioctl operations must miss all of them.
const KNOWN_IOCTLS: [u32; 19] = [
    KRING_IOC_VERSION,
    KRING_IOC_CREATE,
    KRING_IOC_OPEN,
    KRING_IOC_UNLINK,
    KRING_IOC_INFO,
    KRING_IOC_SEND,
    KRING_IOC_RECV,
    KRING_IOC_ENTER,
    KRING_IOC_WAIT,
    KRING_IOC_NOTIFY,
    KRING_IOC_REGION_CREATE,
    KRING_IOC_REGION_INFO,
    KRING_IOC_REGION_WRITE,
    KRING_IOC_REGION_APPEND,
    KRING_IOC_REGION_SEAL,
    KRING_IOC_SEND_DESC,
    KRING_IOC_REGION_OPEN,
    KRING_IOC_SCHEMA_REGISTER,
    KRING_IOC_SCHEMA_ERROR,
];
/// ioctl types the VFS handles itself before the driver (`do_vfs_ioctl`: `FIOCLEX`,
/// `FIONBIO`, `FIFREEZE`, `FS_IOC_*`, `FICLONE`, `FIGETBSZ`, ...): random numbers avoid them.
const VFS_IOCTL_TYPES: [u32; 6] = [0x00, 0x15, b'T' as u32, b'X' as u32, b'f' as u32, 0x94];
/// The mmap offsets of a queue's areas, in `lens` order (`KRING_OFF_REGION` is 0 too).
const OFFSETS: [u64; 5] = [
    KRING_OFF_HEADER,
    KRING_OFF_CONSUMER,
    KRING_OFF_ENTRIES,
    KRING_OFF_PAYLOAD,
    KRING_OFF_SUBMIT,
];
/// Offset of the payload buffer in a submission area: right after `SQ_ENTRIES` entries.
const SQ_DATA_OFFSET: usize = ring::SQ_ENTRIES as usize * size_of::<KringSqe>();

/// Tests in this binary never overlap, whatever `--test-threads` says: they share fd numbers,
/// names and the module's per-user limits.
static SERIAL: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// splitmix64: tiny, fast, and good enough to drive a fuzzer; one per thread and child.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (0 if `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One of `items` (never empty: every caller passes a non-empty array).
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    fn fill(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A `u32` at a boundary the ABI cares about, or (a quarter of the time) any.
    fn u32_edge(&mut self) -> u32 {
        const EDGES: [u32; 27] = [
            0,
            1,
            2,
            3,
            4,
            7,
            8,
            15,
            16,
            23,
            24,
            25,
            63,
            64,
            255,
            256,
            4095,
            4096,
            4097,
            32767,
            32768,
            65536,
            KRING_MSG_SIZE_MAX,
            KRING_MSG_SIZE_MAX + 1,
            0x8000_0000,
            u32::MAX - 1,
            u32::MAX,
        ];
        if self.chance(3, 4) {
            self.pick(&EDGES)
        } else {
            self.next() as u32
        }
    }

    fn u64_edge(&mut self) -> u64 {
        const EDGES: [u64; 12] = [
            0,
            1,
            4095,
            4096,
            4097,
            1 << 20,
            1 << 31,
            1 << 32,
            (1 << 32) + 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        if self.chance(3, 4) {
            self.pick(&EDGES)
        } else {
            self.next()
        }
    }

    /// 0 most of the time (a reserved field, flags); otherwise a nonzero value.
    fn reserved(&mut self) -> u32 {
        if self.chance(1, 20) {
            (self.next() as u32) | (1 << self.below(32))
        } else {
            0
        }
    }

    fn priority(&mut self) -> u8 {
        if self.chance(9, 10) {
            self.below(KRING_NR_PRIO as u64) as u8
        } else {
            self.pick(&[4, 5, 0x7f, 0x80, 0xff])
        }
    }

    fn timeout(&mut self) -> u32 {
        self.pick(&TIMEOUTS)
    }
}

/// FNV-1a, to derive each test's seed from the base seed and the test's name.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The kring ABI structs: `#[repr(C)]`, integers and integer arrays only, no padding (the
/// layout asserts in `uapi` check the sizes against the sums of the fields).
///
/// # Safety
///
/// Only for such types: every byte pattern is a valid value and no byte is padding.
unsafe trait Plain: Copy {
    fn zeroed() -> Self {
        // SAFETY: all-zero bytes are a valid value (the trait's contract).
        unsafe { std::mem::zeroed() }
    }
}

// SAFETY (for each of these): see `Plain`; all are integer-only `#[repr(C)]` structs from
// `src/uapi.rs` whose sizes are asserted there to be the sums of their fields.
unsafe impl Plain for KringVersion {}
// SAFETY: as above.
unsafe impl Plain for KringCreate {}
// SAFETY: as above.
unsafe impl Plain for KringOpen {}
// SAFETY: as above.
unsafe impl Plain for KringUnlink {}
// SAFETY: as above.
unsafe impl Plain for KringInfo {}
// SAFETY: as above.
unsafe impl Plain for KringSend {}
// SAFETY: as above.
unsafe impl Plain for KringRecv {}
// SAFETY: as above.
unsafe impl Plain for KringEnter {}
// SAFETY: as above.
unsafe impl Plain for KringWait {}
// SAFETY: as above.
unsafe impl Plain for KringSqe {}
// SAFETY: as above.
unsafe impl Plain for KringDescSubmit {}
// SAFETY: as above.
unsafe impl Plain for KringRegionCreate {}
// SAFETY: as above.
unsafe impl Plain for KringRegionInfo {}
// SAFETY: as above.
unsafe impl Plain for KringRegionWrite {}
// SAFETY: as above.
unsafe impl Plain for KringRegionAppend {}
// SAFETY: as above.
unsafe impl Plain for KringSendDesc {}
// SAFETY: as above.
unsafe impl Plain for KringRegionOpen {}
// SAFETY: as above.
unsafe impl Plain for KringSchemaRegister {}
// SAFETY: as above.
unsafe impl Plain for KringSchemaError {}

fn bytes_of<T: Plain>(v: &T) -> &[u8] {
    // SAFETY: `v` is `size_of::<T>()` initialised bytes (no padding, by `Plain`), borrowed for
    // as long as the slice.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }
}

fn bytes_mut<T: Plain>(v: &mut T) -> &mut [u8] {
    // SAFETY: as in `bytes_of`; any bytes written make a valid `T` (`Plain`).
    unsafe { std::slice::from_raw_parts_mut(std::ptr::from_mut(v).cast::<u8>(), size_of::<T>()) }
}

/// The address of `v` for an ioctl, provenance exposed: the kernel may read it (and write it,
/// for a `&mut`) behind the compiler's back.
fn addr_of<T>(v: &T) -> u64 {
    std::ptr::from_ref(v).expose_provenance() as u64
}

fn addr_of_mut<T>(v: &mut T) -> u64 {
    std::ptr::from_mut(v).expose_provenance() as u64
}

/// The raw result of one system call.
#[derive(Clone, Copy, Debug)]
struct Ret {
    ret: i64,
    errno: i32,
    took: Duration,
}

impl Ret {
    fn ok(&self) -> bool {
        self.ret >= 0
    }

    fn failed_with(&self, e: i32) -> bool {
        self.ret == -1 && self.errno == e
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn timed(f: impl FnOnce() -> i64) -> Ret {
    let t = Instant::now();
    let ret = f();
    let errno = if ret == -1 { errno() } else { 0 };
    Ret {
        ret,
        errno,
        took: t.elapsed(),
    }
}

/// How long a call with `timeout_ms` may take: its timeout, twice (`ENTER` waits for room and
/// then for a message), plus the slack.
fn wait_limit(timeout_ms: u32) -> Duration {
    Duration::from_millis(2 * timeout_ms as u64) + SLACK
}

fn errname(e: i32) -> String {
    format!("{} ({e})", std::io::Error::from_raw_os_error(e))
}

/// Writes a line to stderr directly: libtest captures `eprintln!`, and shows nothing it
/// captured if the test binary crashes, which is when the seed matters most.
fn say(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A name field holding `name` (at most 63 bytes), NUL-padded.
fn name_field(name: &[u8]) -> [u8; KRING_NAME_MAX] {
    let mut f = [0u8; KRING_NAME_MAX];
    f[..name.len()].copy_from_slice(name);
    f
}

fn page_size() -> usize {
    // SAFETY: sysconf only reads a system parameter.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).unwrap_or(4096)
}

/// A module parameter from sysfs, or `default` if it is not exported.
fn module_param(name: &str, default: u64) -> u64 {
    std::fs::read_to_string(format!("/sys/module/kring/parameters/{name}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// Milliseconds on the monotonic clock, with system calls only (usable in a forked child).
fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is ours; clock_gettime is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000)
}

/// Stores `bytes` at `addr` in a kring mapping, byte by byte with atomic stores: the kernel,
/// other threads and forked children may access the same pages concurrently.
///
/// # Safety
///
/// `addr..addr + bytes.len()` must lie in a writable mapping of this process that nothing
/// unmaps (or makes read-only) during the call, and whose bytes are only ever accessed
/// atomically by this process.
unsafe fn store(addr: usize, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        let p = std::ptr::with_exposed_provenance_mut::<u8>(addr + i);
        // SAFETY: inside the mapping (caller's contract); an `AtomicU8` has the layout of a
        // `u8` and no alignment requirement.
        unsafe { AtomicU8::from_ptr(p) }.store(b, Relaxed);
    }
}

/// Loads the `u32` at `addr` (4-byte aligned) in a kring mapping.
///
/// # Safety
///
/// As for [`store`], for a mapping that is at least readable.
unsafe fn load_u32(addr: usize) -> u32 {
    let p = std::ptr::with_exposed_provenance_mut::<u32>(addr);
    // SAFETY: aligned and inside the mapping (caller's contract); a relaxed atomic load is
    // allowed on read-only memory.
    unsafe { AtomicU32::from_ptr(p) }.load(Relaxed)
}

/// Stores the `u32` at `addr` (4-byte aligned) in a writable kring mapping, as a receiver
/// publishes its consumer index (store-release).
///
/// # Safety
///
/// As for [`store`].
unsafe fn store_u32(addr: usize, v: u32) {
    let p = std::ptr::with_exposed_provenance_mut::<u32>(addr);
    // SAFETY: aligned and inside the writable mapping (caller's contract).
    unsafe { AtomicU32::from_ptr(p) }.store(v, std::sync::atomic::Ordering::Release);
}

/// A program in the format of `src/schema.rs`: `nodes` are `(kind, count, arg)`.
fn program(nodes: &[(u8, u32, u32)], refs: &[u32]) -> Vec<u8> {
    use kring::schema::program::SCHEMA_MAGIC;
    let mut p = Vec::with_capacity(16 + nodes.len() * 12 + refs.len() * 4);
    p.extend_from_slice(&SCHEMA_MAGIC.to_le_bytes());
    p.extend_from_slice(&1u16.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
    p.extend_from_slice(&(refs.len() as u32).to_le_bytes());
    for &(kind, count, arg) in nodes {
        p.extend_from_slice(&[kind, 0, 0, 0]);
        p.extend_from_slice(&count.to_le_bytes());
        p.extend_from_slice(&arg.to_le_bytes());
    }
    for r in refs {
        p.extend_from_slice(&r.to_le_bytes());
    }
    p
}

/// `list<list<...<u8>>>`, `depth` levels in all (the loader allows 32).
fn nested_lists(depth: u32) -> Vec<u8> {
    use kring::schema::program::kind;
    let mut nodes = vec![(kind::U8, 0, 0)];
    for i in 1..depth {
        nodes.push((kind::LIST, 0, i - 1));
    }
    program(&nodes, &[])
}

const WIT: &str = r#"
package kring:fuzz;

interface types {
    record point { x: s32, y: s32 }
    enum color { red, green, blue }
    flags perms { read, write, exec }
    variant shape { none, circle(f32), label(string), path(list<point>) }
    record reading {
        ok: bool,
        name: string,
        seq: u64,
        color: color,
        perms: perms,
        symbol: char,
        shape: shape,
        tags: list<string>,
        at: option<tuple<f64, f64>>,
    }
}
"#;

/// Valid schema programs: lowered from WIT by the crate, and made by hand at the loader's
/// limits (32 levels deep; 1024 nodes and 4096 refs, the largest program there is).
fn valid_programs() -> Vec<Vec<u8>> {
    use kring::schema::program::{kind, MAX_NODES, MAX_REFS};
    let mut v: Vec<Vec<u8>> = ["point", "color", "perms", "shape", "reading"]
        .iter()
        .map(|t| {
            Schema::from_wit(WIT, t)
                .unwrap_or_else(|e| panic!("fuzz WIT type {t}: {e}"))
                .program()
                .to_vec()
        })
        .collect();
    v.push(program(&[(kind::U32, 0, 0)], &[]));
    v.push(program(&[(kind::STRING, 0, 0)], &[]));
    v.push(program(
        &[(kind::U8, 0, 0), (kind::FIXED_LIST, 4096, 0)],
        &[],
    ));
    v.push(nested_lists(32));
    // Node 1023 is a record of 4096 `u8` fields, all node 0.
    let mut nodes = vec![(kind::U8, 0, 0); MAX_NODES - 1];
    nodes.push((kind::RECORD, MAX_REFS as u32, 0));
    v.push(program(&nodes, &vec![0; MAX_REFS]));
    for p in &v {
        assert!(
            Schema::from_program(p).is_ok(),
            "fuzz: a program meant to be valid is not"
        );
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Operations and statistics
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Open,
    Close,
    Dup,
    Fcntl,
    Poll,
    ReadWrite,
    Version,
    Create,
    OpenName,
    Unlink,
    Info,
    Send,
    Recv,
    Enter,
    Wait,
    Notify,
    Mmap,
    Munmap,
    Mprotect,
    Mremap,
    Madvise,
    Scribble,
    RegionCreate,
    RegionInfo,
    RegionWrite,
    RegionAppend,
    RegionSeal,
    RegionOpen,
    SendDesc,
    SchemaRegister,
    SchemaError,
    MagicIoctl,
    RandomIoctl,
    Fork,
}

const NR_OPS: usize = Op::Fork as usize + 1;

const OP_NAMES: [&str; NR_OPS] = [
    "open",
    "close",
    "dup",
    "fcntl",
    "poll",
    "read/write",
    "VERSION",
    "CREATE",
    "OPEN",
    "UNLINK",
    "INFO",
    "SEND",
    "RECV",
    "ENTER",
    "WAIT",
    "NOTIFY",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "scribble",
    "REGION_CREATE",
    "REGION_INFO",
    "REGION_WRITE",
    "REGION_APPEND",
    "REGION_SEAL",
    "REGION_OPEN",
    "SEND_DESC",
    "SCHEMA_REGISTER",
    "SCHEMA_ERROR",
    "unknown-ioctl",
    "random-ioctl",
    "fork+kill",
];

/// How often each operation is picked (`Fork` only in the fork test).
const WEIGHTS: [(Op, u32); NR_OPS] = [
    (Op::Open, 40),
    (Op::Close, 25),
    (Op::Dup, 15),
    (Op::Fcntl, 8),
    (Op::Poll, 20),
    (Op::ReadWrite, 5),
    (Op::Version, 8),
    (Op::Create, 70),
    (Op::OpenName, 40),
    (Op::Unlink, 20),
    (Op::Info, 35),
    (Op::Send, 110),
    (Op::Recv, 100),
    (Op::Enter, 60),
    (Op::Wait, 20),
    (Op::Notify, 20),
    (Op::Mmap, 60),
    (Op::Munmap, 30),
    (Op::Mprotect, 15),
    (Op::Mremap, 10),
    (Op::Madvise, 10),
    (Op::Scribble, 50),
    (Op::RegionCreate, 35),
    (Op::RegionInfo, 15),
    (Op::RegionWrite, 30),
    (Op::RegionAppend, 30),
    (Op::RegionSeal, 15),
    (Op::RegionOpen, 20),
    (Op::SendDesc, 35),
    (Op::SchemaRegister, 25),
    (Op::SchemaError, 10),
    (Op::MagicIoctl, 15),
    (Op::RandomIoctl, 10),
    (Op::Fork, 6),
];

#[derive(Clone)]
struct Stats {
    ok: [u64; NR_OPS],
    err: [u64; NR_OPS],
    children: u64,
}

impl Stats {
    fn new() -> Self {
        Self {
            ok: [0; NR_OPS],
            err: [0; NR_OPS],
            children: 0,
        }
    }

    fn add(&mut self, o: &Stats) {
        for i in 0..NR_OPS {
            self.ok[i] += o.ok[i];
            self.err[i] += o.err[i];
        }
        self.children += o.children;
    }

    fn total(&self) -> u64 {
        self.ok.iter().sum::<u64>() + self.err.iter().sum::<u64>()
    }

    /// `name ok/failed` for every operation that ran.
    fn by_op(&self) -> String {
        let mut s = String::new();
        for ((name, ok), err) in OP_NAMES.iter().zip(self.ok).zip(self.err) {
            if ok + err > 0 {
                s.push_str(&format!(" {name} {ok}/{err}"));
            }
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// The pool
// ---------------------------------------------------------------------------------------------

/// What the fuzzer believes an fd is bound to. A binding never changes once made, so `Queue`
/// and `Region` are facts in the tests without threads (where fd numbers are not reused
/// behind the fuzzer's back); `Unbound` is only a hint (a child may bind an inherited fd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unbound,
    /// A queue handle with these rights.
    Queue(u32),
    /// A region handle; `None` where unknown.
    Region {
        policy: Option<u32>,
        size: u64,
        rw: Option<bool>,
    },
    Unknown,
}

impl Kind {
    fn unbound(&self) -> bool {
        *self == Kind::Unbound
    }

    fn bound(&self) -> bool {
        matches!(self, Kind::Queue(_) | Kind::Region { .. })
    }

    fn can(&self, right: u32) -> bool {
        matches!(self, Kind::Queue(r) if r & right != 0)
    }

    fn region(&self) -> bool {
        matches!(self, Kind::Region { .. })
    }
}

#[derive(Clone, Copy, Debug)]
struct FdEntry {
    fd: i32,
    kind: Kind,
    /// Lengths of the areas at `OFFSETS` (a region's size first), 0 where unknown.
    lens: [u64; 5],
}

#[derive(Clone, Copy, Debug)]
struct Mapping {
    addr: usize,
    len: usize,
    prot: i32,
    fd: i32,
    /// The mmap offset of the area the mapping starts at; `u64::MAX` for what is left of one
    /// after a partial `munmap` (no known layout).
    off: u64,
    /// `MADV_DONTNEED` dropped its pages: touching it would fault, so it is never touched.
    zapped: bool,
    /// `MADV_DONTFORK`: children do not have it.
    dontfork: bool,
}

impl Mapping {
    fn writable(&self) -> bool {
        self.prot & libc::PROT_WRITE != 0 && !self.zapped
    }
}

struct Pool {
    fds: Vec<FdEntry>,
    maps: Vec<Mapping>,
    /// `{id, generation}` of regions seen (REGION_INFO, received descriptors).
    regions: Vec<(u32, u32)>,
    /// `(id, min_size)` of registered schemas.
    schemas: Vec<(u32, u32)>,
}

/// Guard pages: addresses where the kernel's first access faults. `none` is in a page
/// without access, `ro` in a read-only (zero) page; the pages around both have no access, so
/// an access that starts there faults before it reaches any memory of the fuzzer.
struct Guard {
    base: usize,
    len: usize,
    none: u64,
    ro: u64,
}

impl Guard {
    fn new(page: usize) -> Self {
        let len = 4 * page;
        // SAFETY: a new private anonymous mapping chosen by the kernel; it aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "fuzz: mmap of the guard pages failed");
        let base = p.expose_provenance();
        // SAFETY: the third page of the mapping just made, which nothing else refers to.
        let r =
            unsafe { libc::mprotect(p.cast::<u8>().add(2 * page).cast(), page, libc::PROT_READ) };
        assert_eq!(r, 0, "fuzz: mprotect of the read-only guard page failed");
        Self {
            base,
            len,
            none: (base + page) as u64,
            ro: (base + 2 * page) as u64,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; every user of its addresses has finished.
        unsafe {
            libc::munmap(
                std::ptr::with_exposed_provenance_mut::<c_void>(self.base),
                self.len,
            )
        };
    }
}

/// The operation a thread is in, for the watchdog.
#[derive(Default)]
struct Watch {
    /// Milliseconds since the test started at which the operation began; 0 when idle.
    since_ms: AtomicU64,
    op: AtomicU32,
    fd: AtomicI32,
}

/// Settings shared by the three tests (one seed for the binary, so one variable replays all).
struct Config {
    seed: u64,
    secs: u64,
    ops: u64,
}

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        let num = |var: &str| {
            std::env::var(var).ok().map(|s| {
                let s = s.trim();
                let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => s.parse(),
                };
                v.unwrap_or_else(|e| panic!("{var}={s}: {e}"))
            })
        };
        let clock = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Config {
            seed: num("KRING_FUZZ_SEED").unwrap_or(clock ^ ((std::process::id() as u64) << 32)),
            secs: num("KRING_FUZZ_SECS").unwrap_or(DEFAULT_SECS),
            ops: num("KRING_FUZZ_OPS").unwrap_or(DEFAULT_OPS),
        }
    })
}

/// Everything the workers of one test share.
struct Ctx {
    test: &'static str,
    /// The seed printed for replay (`KRING_FUZZ_SEED`).
    base_seed: u64,
    /// This test's seed (derived from `base_seed` and `test`).
    seed: u64,
    secs: u64,
    max_ops: u64,
    t0: Instant,
    deadline: Instant,
    ops: AtomicU64,
    stop: AtomicBool,
    /// Several threads share the pool: fd numbers are reused behind each thread's back.
    shared: bool,
    pool: Mutex<Pool>,
    failures: Mutex<Vec<String>>,
    /// Every valid name the fuzzer may create a queue under (all unlinked at the end).
    names: Vec<[u8; KRING_NAME_MAX]>,
    /// Name fields the kernel must refuse (no NUL within 64 bytes, or a `/`).
    bad_names: Vec<[u8; KRING_NAME_MAX]>,
    programs: Vec<Vec<u8>>,
    min_sizes: Vec<u32>,
    page: usize,
    max_queue_bytes: u64,
    max_region_bytes: u64,
    guard: Guard,
    watch: [Watch; THREADS],
    watch_done: AtomicBool,
}

impl Ctx {
    fn new(test: &'static str, shared: bool) -> Self {
        let cfg = config();
        let pid = std::process::id();
        let mut names: Vec<_> = (0..6)
            .map(|i| name_field(format!("fz{pid}-{i}").as_bytes()))
            .collect();
        // The longest name (63 bytes), and one that is not UTF-8 (names are bytes).
        let mut long = format!("fz{pid}-long-").into_bytes();
        long.resize(KRING_NAME_MAX - 1, b'x');
        names.push(name_field(&long));
        let mut raw = vec![0xff, 0xfe, b' '];
        raw.extend_from_slice(format!("fz{pid}").as_bytes());
        names.push(name_field(&raw));
        let bad_names = vec![
            [b'a'; KRING_NAME_MAX],
            name_field(format!("fz{pid}/0").as_bytes()),
            name_field(b"/"),
            name_field(format!("/fz{pid}-0").as_bytes()),
        ];
        for n in &names {
            assert!(
                matches!(ring::parse_name(n), Ok(Some(_))),
                "fuzz: a valid name is not"
            );
        }
        for n in &bad_names {
            assert!(ring::parse_name(n).is_err(), "fuzz: a bad name is valid");
        }
        let programs = valid_programs();
        let min_sizes = programs
            .iter()
            .map(|p| Schema::from_program(p).map_or(0, |s| s.min_size() as u32))
            .collect();
        let page = page_size();
        let t0 = Instant::now();
        Self {
            test,
            base_seed: cfg.seed,
            seed: Rng(cfg.seed ^ fnv(test)).next(),
            secs: cfg.secs,
            max_ops: cfg.ops,
            t0,
            deadline: t0 + Duration::from_secs(cfg.secs),
            ops: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            shared,
            pool: Mutex::new(Pool {
                fds: Vec::new(),
                maps: Vec::new(),
                regions: Vec::new(),
                schemas: Vec::new(),
            }),
            failures: Mutex::new(Vec::new()),
            names,
            bad_names,
            programs,
            min_sizes,
            page,
            max_queue_bytes: module_param("max_queue_bytes", 64 << 20),
            max_region_bytes: module_param("max_region_bytes", 256 << 20),
            guard: Guard::new(page),
            watch: Default::default(),
            watch_done: AtomicBool::new(false),
        }
    }

    fn replay(&self) -> String {
        format!(
            "KRING_FUZZ_SEED={:#x} KRING_FUZZ_SECS={} KRING_FUZZ_OPS={}",
            self.base_seed, self.secs, self.max_ops
        )
    }

    fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64 + 1
    }

    /// Whether the fuzzer's `Queue`/`Region` kinds are facts (see `Kind`).
    fn reliable(&self) -> bool {
        !self.shared
    }

    /// Records a failure and stops every worker.
    fn fail(&self, msg: String) {
        say(&format!("fuzz FAILURE: {msg}"));
        let mut f = lock(&self.failures);
        if f.len() < 20 {
            f.push(msg);
        }
        self.stop.store(true, Relaxed);
    }
}

/// The argument of an ioctl: in the worker's memory (`ours`), or an address that faults.
#[derive(Clone, Copy)]
struct Arg {
    addr: u64,
    ours: bool,
}

/// An fd to operate on, and what the fuzzer believes it is.
#[derive(Clone, Copy, Debug)]
struct Target {
    fd: i32,
    kind: Kind,
    lens: [u64; 5],
}

struct Child {
    pid: libc::pid_t,
    /// The parent's operation count at which it is killed.
    kill_at: u64,
}

/// What a forked child may use: copies of the pool's fds and mappings (it must not lock the
/// pool: another thread may have held the lock at `fork`).
#[derive(Clone, Copy)]
struct Snap {
    fds: [i32; MAX_FDS],
    nfds: usize,
    /// `(addr, len, off, writable)`.
    maps: [(usize, usize, u64, bool); MAX_MAPS],
    nmaps: usize,
    regions: [(u32, u32); MAX_IDS],
    nregions: usize,
}

// ---------------------------------------------------------------------------------------------
// A worker: one thread's fuzzing loop
// ---------------------------------------------------------------------------------------------

struct Worker<'a> {
    ctx: &'a Ctx,
    tid: usize,
    rng: Rng,
    /// Operations this worker started.
    n: u64,
    stats: Stats,
    send: Vec<u8>,
    recv: Vec<u8>,
    scratch: Vec<u8>,
    fork: bool,
    child: Option<Child>,
}

impl<'a> Worker<'a> {
    fn new(ctx: &'a Ctx, tid: usize, fork: bool) -> Self {
        let mut rng = Rng(ctx.seed ^ (tid as u64).wrapping_mul(0xd6e8_feb8_6659_fd93));
        let mut send = vec![0u8; SEND_BUF];
        rng.fill(&mut send[ZERO_LEN..]);
        Self {
            ctx,
            tid,
            rng,
            n: 0,
            stats: Stats::new(),
            send,
            recv: vec![0u8; RECV_BUF],
            scratch: vec![0u8; SCRATCH],
            fork,
            child: None,
        }
    }

    fn run(&mut self) {
        let total: u32 = WEIGHTS
            .iter()
            .filter(|(op, _)| self.fork || *op != Op::Fork)
            .map(|(_, w)| w)
            .sum();
        while !self.ctx.stop.load(Relaxed) && Instant::now() < self.ctx.deadline {
            if self.ctx.ops.fetch_add(1, Relaxed) >= self.ctx.max_ops {
                break;
            }
            let mut x = self.rng.below(total as u64) as u32;
            let mut op = Op::Open;
            for &(o, w) in WEIGHTS.iter().filter(|(o, _)| self.fork || *o != Op::Fork) {
                if x < w {
                    op = o;
                    break;
                }
                x -= w;
            }
            self.n += 1;
            let w = &self.ctx.watch[self.tid];
            w.op.store(op as u32, Relaxed);
            w.fd.store(-1, Relaxed);
            w.since_ms.store(self.ctx.now_ms(), Relaxed);
            self.step(op);
            if self.child.as_ref().is_some_and(|c| self.n >= c.kill_at) {
                self.reap_child();
            }
            w.since_ms.store(0, Relaxed);
        }
        let w = &self.ctx.watch[self.tid];
        w.op.store(Op::Fork as u32, Relaxed);
        w.since_ms.store(self.ctx.now_ms(), Relaxed);
        self.reap_child();
        w.since_ms.store(0, Relaxed);
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Open => {
                self.open_fd();
            }
            Op::Close => self.close(),
            Op::Dup => self.dup(),
            Op::Fcntl => self.fcntl(),
            Op::Poll => self.poll(),
            Op::ReadWrite => self.read_write(),
            Op::Version => self.version(),
            Op::Create => self.create(),
            Op::OpenName => self.open_name(),
            Op::Unlink => self.unlink(),
            Op::Info => self.info(),
            Op::Send => self.send(),
            Op::Recv => self.recv(),
            Op::Enter => self.enter(),
            Op::Wait => self.wait(),
            Op::Notify => self.notify(),
            Op::Mmap => self.mmap(),
            Op::Munmap => self.munmap(),
            Op::Mprotect => self.mprotect(),
            Op::Mremap => self.mremap(),
            Op::Madvise => self.madvise(),
            Op::Scribble => self.scribble(),
            Op::RegionCreate => self.region_create(),
            Op::RegionInfo => self.region_info(),
            Op::RegionWrite => self.region_write(),
            Op::RegionAppend => self.region_append(),
            Op::RegionSeal => self.region_seal(),
            Op::RegionOpen => self.region_open(),
            Op::SendDesc => self.send_desc(),
            Op::SchemaRegister => self.schema_register(),
            Op::SchemaError => self.schema_error(),
            Op::MagicIoctl => self.unknown_ioctl(true),
            Op::RandomIoctl => self.unknown_ioctl(false),
            Op::Fork => {
                if self.child.is_some() {
                    self.reap_child();
                } else {
                    self.spawn_child();
                }
            }
        }
    }

    // --- judging -------------------------------------------------------------------------

    fn fail(&self, op: Op, fd: i32, what: &str) {
        self.ctx.fail(format!(
            "{} (replay: {}) thread {} op #{}: {} on fd {fd}: {what}",
            self.ctx.test,
            self.ctx.replay(),
            self.tid,
            self.n,
            OP_NAMES[op as usize]
        ));
    }

    /// Judges one system call: it must return -1 with an errno in `allowed`, or a value >= 0,
    /// within `limit`. Counts it; returns whether it succeeded.
    fn judge(
        &mut self,
        op: Op,
        fd: i32,
        r: Ret,
        allowed: &[i32],
        limit: Duration,
        args: impl Fn() -> String,
    ) -> bool {
        if r.ret < -1 {
            self.fail(
                op,
                fd,
                &format!(
                    "returned {} (neither >= 0 nor -1 with errno); args {}",
                    r.ret,
                    args()
                ),
            );
        } else if r.ret == -1 && !allowed.contains(&r.errno) {
            self.fail(
                op,
                fd,
                &format!("unexpected errno {}; args {}", errname(r.errno), args()),
            );
        }
        if r.took > limit {
            self.fail(
                op,
                fd,
                &format!(
                    "took {:?} (limit {limit:?}); returned {} errno {}; args {}",
                    r.took,
                    r.ret,
                    r.errno,
                    args()
                ),
            );
        }
        if r.ok() {
            self.stats.ok[op as usize] += 1;
        } else {
            self.stats.err[op as usize] += 1;
        }
        r.ok()
    }

    /// Fails unless `r` failed with `want` (a rule of the ABI the fuzzer can predict).
    fn expect_errno(
        &self,
        op: Op,
        fd: i32,
        r: Ret,
        want: i32,
        why: &str,
        args: impl Fn() -> String,
    ) {
        if !r.failed_with(want) {
            self.fail(
                op,
                fd,
                &format!(
                    "{why}: expected {}, got ret {} errno {}; args {}",
                    errname(want),
                    r.ret,
                    r.errno,
                    args()
                ),
            );
        }
    }

    /// The errno the binding of `t` dictates for a queue operation needing `right`, before the
    /// kernel looks at the argument's fields: `ENOTCONN` on a region, `EBADF` without the right.
    /// `None` where the fuzzer cannot know.
    fn binding_errno(&self, t: &Target, right: u32) -> Option<i32> {
        if !self.ctx.reliable() {
            return None;
        }
        match t.kind {
            Kind::Region { .. } => Some(libc::ENOTCONN),
            Kind::Queue(r) if r & right == 0 => Some(libc::EBADF),
            _ => None,
        }
    }

    /// The errno a region operation on `t` must fail with: `ENOTCONN` on a queue, `EPERM` on
    /// a read-only region fd if `rw` is needed.
    fn region_errno(&self, t: &Target, rw: bool) -> Option<i32> {
        if !self.ctx.reliable() {
            return None;
        }
        match t.kind {
            Kind::Queue(_) => Some(libc::ENOTCONN),
            Kind::Region {
                rw: Some(false), ..
            } if rw => Some(libc::EPERM),
            _ => None,
        }
    }

    // --- system calls ----------------------------------------------------------------------

    /// `ioctl(fd, cmd, arg)` as the raw system call (the libc wrapper would truncate the
    /// return value to an `int`), timed.
    ///
    /// # Safety
    ///
    /// Whatever the kernel may write for `cmd` (the argument and any buffer it points to) must
    /// be memory of this worker large enough for it, or addresses that fault (`bad_dst`).
    unsafe fn ioctl(&self, fd: i32, cmd: u32, arg: u64) -> Ret {
        self.ctx.watch[self.tid].fd.store(fd, Relaxed);
        // SAFETY: the caller's contract; the kernel validates everything else.
        timed(|| unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                fd,
                cmd as libc::c_ulong,
                arg as libc::c_ulong,
            )
        })
    }

    /// An address the kernel faults on at the first byte it reads or writes.
    fn bad_dst(&mut self) -> u64 {
        let g = &self.ctx.guard;
        let page = self.ctx.page as u64;
        match self.rng.below(10) {
            0 => 0,
            1 => 8,
            2 => 0xff8,
            3 => g.none + self.rng.below(page),
            4 | 5 => g.ro + self.rng.below(page),
            6 => 0xffff_8880_0000_0000,
            7 => 0xffff_ffff_ff60_0000,
            8 => 1 << 47,
            _ => 0x8000_0000_0000_0000 | self.rng.below(1 << 40),
        }
    }

    /// An address for the kernel to read from: anything at all.
    fn any_src(&mut self) -> u64 {
        match self.rng.below(6) {
            0 | 1 => self.bad_dst(),
            2 => self.rng.next(),
            3 => {
                let m = lock(&self.ctx.pool).maps.first().map(|m| m.addr as u64);
                m.unwrap_or(0).wrapping_add(self.rng.below(1 << 16))
            }
            _ => (self.send.as_ptr().expose_provenance() as u64)
                .wrapping_add(self.rng.below(SEND_BUF as u64)),
        }
    }

    /// The argument of an ioctl the kernel only reads: `v`, or (rarely) any address.
    fn read_arg<T>(&mut self, v: &T) -> Arg {
        if self.rng.chance(1, 25) {
            Arg {
                addr: self.any_src(),
                ours: false,
            }
        } else {
            Arg {
                addr: addr_of(v),
                ours: true,
            }
        }
    }

    /// The argument of an ioctl that creates something: `v`, or (rarely) an address that
    /// faults, never random memory, which might name a queue cleanup does not know of or ask
    /// for a large region.
    fn create_arg<T>(&mut self, v: &T) -> Arg {
        if self.rng.chance(1, 25) {
            Arg {
                addr: self.bad_dst(),
                ours: false,
            }
        } else {
            Arg {
                addr: addr_of(v),
                ours: true,
            }
        }
    }

    /// The argument of an ioctl that writes it: `v`, or (rarely) an address that faults.
    fn write_arg<T>(&mut self, v: &mut T) -> Arg {
        if self.rng.chance(1, 25) {
            Arg {
                addr: self.bad_dst(),
                ours: false,
            }
        } else {
            Arg {
                addr: addr_of_mut(v),
                ours: true,
            }
        }
    }

    /// Sometimes replaces `v` with random bytes (then the caller repairs what must stay safe).
    fn noise<T: Plain>(&mut self, v: &mut T) -> bool {
        if self.rng.chance(1, 20) {
            self.rng.fill(bytes_mut(v));
            true
        } else {
            false
        }
    }

    fn close_fd(&mut self, fd: i32) {
        // SAFETY: `fd` is the fuzzer's own and out of the pool: nothing else uses the number.
        let r = timed(|| unsafe { libc::close(fd) } as i64);
        // Closing an open fd cannot fail: every pool fd is closed only by whoever took it out.
        self.judge(Op::Close, fd, r, &[], ANY_LIMIT, String::new);
    }

    fn unmap(&mut self, addr: usize, len: usize) {
        // SAFETY: `addr..addr + len` is (part of) a mapping of the fuzzer taken out of the pool:
        // nothing refers to it any more.
        let r = timed(
            || unsafe { libc::munmap(std::ptr::with_exposed_provenance_mut(addr), len) } as i64,
        );
        // Unmapping what we mapped cannot fail.
        self.judge(Op::Munmap, -1, r, &[], ANY_LIMIT, || {
            format!("{addr:#x} + {len:#x}")
        });
    }

    // --- the pool --------------------------------------------------------------------------

    fn pool(&self) -> MutexGuard<'a, Pool> {
        lock(&self.ctx.pool)
    }

    /// Adds a new fd to the pool; closes it if the pool is full.
    fn add_fd(&mut self, fd: i32, kind: Kind, lens: [u64; 5]) -> bool {
        {
            let mut p = self.pool();
            if p.fds.len() < MAX_FDS {
                p.fds.push(FdEntry { fd, kind, lens });
                return true;
            }
        }
        self.close_fd(fd);
        false
    }

    fn set_kind(&self, fd: i32, kind: Kind) {
        if let Some(e) = self.pool().fds.iter_mut().find(|e| e.fd == fd) {
            e.kind = kind;
        }
    }

    fn set_lens(&self, fd: i32, lens: [u64; 5]) {
        if let Some(e) = self.pool().fds.iter_mut().find(|e| e.fd == fd) {
            e.lens = lens;
        }
    }

    fn kind_of(&self, fd: i32) -> Target {
        let p = self.pool();
        match p.fds.iter().find(|e| e.fd == fd) {
            Some(e) => Target {
                fd,
                kind: e.kind,
                lens: e.lens,
            },
            None => Target {
                fd,
                kind: Kind::Unknown,
                lens: [0; 5],
            },
        }
    }

    /// An fd to operate on: mostly one of the pool that `want`s, sometimes any of the pool,
    /// rarely one that is not open. Opens one if the pool is empty.
    fn pick_fd(&mut self, want: fn(&Kind) -> bool) -> Target {
        if self.rng.chance(1, 30) {
            return Target {
                fd: self.rng.pick(&BAD_FDS),
                kind: Kind::Unknown,
                lens: [0; 5],
            };
        }
        let biased = self.rng.chance(17, 20);
        let r = self.rng.next();
        {
            let p = self.pool();
            let matching = p.fds.iter().filter(|e| want(&e.kind)).count();
            let e = if biased && matching > 0 {
                p.fds
                    .iter()
                    .filter(|e| want(&e.kind))
                    .nth((r % matching as u64) as usize)
            } else if !p.fds.is_empty() {
                p.fds.get((r % p.fds.len() as u64) as usize)
            } else {
                None
            };
            if let Some(e) = e {
                return Target {
                    fd: e.fd,
                    kind: e.kind,
                    lens: e.lens,
                };
            }
        }
        match self.open_fd() {
            Some(fd) => Target {
                fd,
                kind: Kind::Unbound,
                lens: [0; 5],
            },
            None => Target {
                fd: -1,
                kind: Kind::Unknown,
                lens: [0; 5],
            },
        }
    }

    /// An fd number for a field of an argument (`region_fd`, `queue_fd`): mostly a pool fd
    /// that `want`s, with its kind, sometimes anything.
    fn fd_field(&mut self, want: fn(&Kind) -> bool) -> Target {
        if self.rng.chance(1, 10) {
            let any = self.rng.next() as i32;
            let fd = self.rng.pick(&[-1, 0, 1, 2, i32::MAX, any]);
            return Target {
                fd,
                kind: Kind::Unknown,
                lens: [0; 5],
            };
        }
        let r = self.rng.next();
        let p = self.pool();
        let matching = p.fds.iter().filter(|e| want(&e.kind)).count();
        let e = if matching > 0 {
            p.fds
                .iter()
                .filter(|e| want(&e.kind))
                .nth((r % matching as u64) as usize)
        } else {
            p.fds.get((r % p.fds.len().max(1) as u64) as usize)
        };
        e.map_or(
            Target {
                fd: -1,
                kind: Kind::Unknown,
                lens: [0; 5],
            },
            |e| Target {
                fd: e.fd,
                kind: e.kind,
                lens: e.lens,
            },
        )
    }

    /// Takes a random mapping that `want`s out of the pool: until it is put back, this
    /// worker alone may touch, change or unmap it.
    fn take_map(&mut self, want: fn(&Mapping) -> bool) -> Option<Mapping> {
        let r = self.rng.next();
        let mut p = self.pool();
        let matching = p.maps.iter().filter(|m| want(m)).count();
        if matching == 0 {
            return None;
        }
        let nth = (r % matching as u64) as usize;
        let i = p
            .maps
            .iter()
            .enumerate()
            .filter(|(_, m)| want(m))
            .nth(nth)
            .map(|(i, _)| i)?;
        Some(p.maps.swap_remove(i))
    }

    /// Puts a mapping (back) into the pool; unmaps it if the pool is full.
    fn put_map(&mut self, m: Mapping) {
        {
            let mut p = self.pool();
            if p.maps.len() < MAX_MAPS {
                p.maps.push(m);
                return;
            }
        }
        self.unmap(m.addr, m.len);
    }

    fn remember_region(&mut self, id: u32, generation: u32) {
        let r = self.rng.index(MAX_IDS);
        let mut p = self.pool();
        if p.regions.contains(&(id, generation)) {
            return;
        }
        if p.regions.len() < MAX_IDS {
            p.regions.push((id, generation));
        } else {
            p.regions[r] = (id, generation);
        }
    }

    // --- fds -------------------------------------------------------------------------------

    fn open_fd(&mut self) -> Option<i32> {
        let acc = self.rng.pick(&[
            libc::O_RDWR,
            libc::O_RDWR,
            libc::O_RDWR,
            libc::O_RDWR,
            libc::O_RDONLY,
            libc::O_WRONLY,
        ]);
        let flags = acc
            | libc::O_CLOEXEC
            | if self.rng.chance(1, 10) {
                libc::O_NONBLOCK
            } else {
                0
            };
        // SAFETY: a NUL-terminated literal path; open reads nothing else of ours.
        let r = timed(|| unsafe { libc::open(c"/dev/kring".as_ptr(), flags) } as i64);
        if !self.judge(Op::Open, -1, r, OPEN_ERRNOS, ANY_LIMIT, || {
            format!("flags {flags:#x}")
        }) {
            return None;
        }
        let fd = r.ret as i32;
        self.add_fd(fd, Kind::Unbound, [0; 5]).then_some(fd)
    }

    fn close(&mut self) {
        let r = self.rng.next();
        let e = {
            let mut p = self.pool();
            if p.fds.is_empty() {
                return;
            }
            let i = (r % p.fds.len() as u64) as usize;
            p.fds.swap_remove(i)
        };
        self.close_fd(e.fd);
    }

    fn dup(&mut self) {
        let t = self.pick_fd(|_| true);
        let how = self.rng.below(10);
        if how == 9 && !self.ctx.shared {
            // dup3 onto another pool fd: its file is replaced while it may be mapped or used.
            let other = self.fd_field(|_| true);
            if BAD_FDS.contains(&other.fd) || other.fd < 3 {
                return;
            }
            // SAFETY: `other` is an fd of the pool (no thread shares it in this test): only the
            // fuzzer's bookkeeping refers to it, and that is updated below.
            let r = timed(|| unsafe { libc::dup3(t.fd, other.fd, libc::O_CLOEXEC) } as i64);
            if self.judge(Op::Dup, t.fd, r, DUP_ERRNOS, ANY_LIMIT, || {
                format!("dup3 onto {}", other.fd)
            }) {
                self.set_kind(other.fd, t.kind);
                self.set_lens(other.fd, t.lens);
            }
            return;
        }
        let min = 3 + self.rng.below(200) as i32;
        // SAFETY: dup and F_DUPFD only create a new fd (for the pool).
        let r = timed(|| unsafe {
            if how < 6 {
                libc::dup(t.fd)
            } else {
                libc::fcntl(t.fd, libc::F_DUPFD_CLOEXEC, min)
            }
        } as i64);
        if self.judge(Op::Dup, t.fd, r, DUP_ERRNOS, ANY_LIMIT, || {
            format!("how {how} min {min}")
        }) {
            self.add_fd(r.ret as i32, t.kind, t.lens);
        }
    }

    fn fcntl(&mut self) {
        let t = self.pick_fd(|_| true);
        // SAFETY: F_GETFL takes no argument.
        let r = timed(|| unsafe { libc::fcntl(t.fd, libc::F_GETFL) } as i64);
        if !self.judge(Op::Fcntl, t.fd, r, &[libc::EBADF], ANY_LIMIT, String::new) {
            return;
        }
        let fl = (r.ret as i32) ^ libc::O_NONBLOCK;
        // SAFETY: F_SETFL takes an integer.
        let r = timed(|| unsafe { libc::fcntl(t.fd, libc::F_SETFL, fl) } as i64);
        self.judge(Op::Fcntl, t.fd, r, &[libc::EBADF], ANY_LIMIT, || {
            format!("F_SETFL {fl:#x}")
        });
    }

    fn poll(&mut self) {
        const EVENTS: [libc::c_short; 6] = [
            libc::POLLIN,
            libc::POLLOUT,
            libc::POLLPRI,
            libc::POLLRDNORM,
            libc::POLLWRNORM,
            libc::POLLRDHUP,
        ];
        let n = 1 + self.rng.index(4);
        let mut fds = [libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        }; 4];
        for p in fds.iter_mut().take(n) {
            p.fd = self.pick_fd(|_| true).fd;
            for e in EVENTS {
                if self.rng.chance(1, 2) {
                    p.events |= e;
                }
            }
            p.revents = self.rng.next() as libc::c_short;
        }
        let timeout = self.rng.pick(&[0, 0, 1, 5]);
        // SAFETY: `fds[..n]` is ours; the kernel writes only their `revents`.
        let r =
            timed(|| unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, timeout) } as i64);
        if !self.judge(
            Op::Poll,
            fds[0].fd,
            r,
            POLL_ERRNOS,
            wait_limit(timeout as u32),
            || format!("{fds:?}"),
        ) {
            return;
        }
        let ready = fds[..n].iter().filter(|p| p.revents != 0).count();
        let extra = fds[..n]
            .iter()
            .any(|p| p.revents & !(p.events | libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0);
        if r.ret as usize != ready || extra {
            self.fail(
                Op::Poll,
                fds[0].fd,
                &format!("returned {} for {fds:?}", r.ret),
            );
        }
    }

    fn read_write(&mut self) {
        let t = self.pick_fd(|_| true);
        let n = self.rng.index(65);
        let write = self.rng.chance(1, 2);
        // SAFETY: a read stores at most `n` <= 64 bytes into `self.recv`; a write only reads
        // `self.send`.
        let r = timed(|| unsafe {
            if write {
                libc::write(t.fd, self.send.as_ptr().cast(), n)
            } else {
                libc::read(t.fd, self.recv.as_mut_ptr().cast(), n)
            }
        } as i64);
        if self.judge(Op::ReadWrite, t.fd, r, RW_ERRNOS, ANY_LIMIT, || {
            format!("write {write} n {n}")
        }) {
            self.fail(
                Op::ReadWrite,
                t.fd,
                &format!("read/write of {n} bytes returned {}", r.ret),
            );
        }
    }

    // --- queue ioctls ----------------------------------------------------------------------

    fn version(&mut self) {
        let t = self.pick_fd(|_| true);
        let mut v = KringVersion::zeroed();
        self.rng.fill(bytes_mut(&mut v));
        let arg = self.write_arg(&mut v);
        // SAFETY: VERSION writes only its argument: `v`, or an address that faults.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_VERSION, arg.addr) };
        // It works on every open /dev/kring: only a bad fd or pointer makes it fail.
        let allowed: &[i32] = if arg.ours {
            &[libc::EBADF]
        } else {
            &[libc::EBADF, libc::EFAULT]
        };
        if self.judge(Op::Version, t.fd, r, allowed, ANY_LIMIT, || {
            format!("arg {:#x}", arg.addr)
        }) && arg.ours
            && v != KringVersion::current(KRING_RELEASE.as_bytes())
        {
            self.fail(Op::Version, t.fd, &format!("returned {v:?}"));
        }
    }

    /// A name field: mostly one of the fuzzer's names (sometimes with garbage after the NUL,
    /// which the kernel must ignore), sometimes empty, sometimes one the kernel must refuse.
    fn name(&mut self) -> [u8; KRING_NAME_MAX] {
        match self.rng.below(20) {
            0..=3 => [0; KRING_NAME_MAX],
            4..=15 => self.rng.pick(&self.ctx.names),
            16 => {
                let mut f = self.rng.pick(&self.ctx.names);
                let end = f.iter().position(|&b| b == 0).unwrap_or(KRING_NAME_MAX - 1);
                self.rng.fill(&mut f[end + 1..]);
                f
            }
            17 | 18 => self.rng.pick(&self.ctx.bad_names),
            _ => {
                // Random bytes without a NUL: never a name.
                let mut f = [0u8; KRING_NAME_MAX];
                self.rng.fill(&mut f);
                f.iter_mut().filter(|b| **b == 0).for_each(|b| *b = 1);
                f
            }
        }
    }

    /// Makes sure a name field holds no valid name other than the fuzzer's (so that cleanup
    /// can unlink everything a random field may have created).
    fn tame_name(&self, f: &mut [u8; KRING_NAME_MAX]) {
        if let Ok(Some(n)) = ring::parse_name(f) {
            let ours = self
                .ctx
                .names
                .iter()
                .any(|m| matches!(ring::parse_name(m), Ok(Some(x)) if x == n));
            if !ours {
                f[..].copy_from_slice(&self.ctx.bad_names[0]);
            }
        }
    }

    fn rights(&mut self) -> u32 {
        if self.rng.chance(9, 10) {
            self.rng.pick(&[
                KRING_RIGHTS_ALL,
                KRING_RIGHTS_ALL,
                KRING_RIGHT_SEND,
                KRING_RIGHT_RECV,
            ])
        } else {
            let any = self.rng.next() as u32;
            self.rng.pick(&[0, 4, 7, u32::MAX, any])
        }
    }

    fn schema_id(&mut self) -> u32 {
        match self.rng.below(20) {
            0..=15 => 0,
            16..=18 => {
                let r = self.rng.next();
                let p = self.pool();
                if p.schemas.is_empty() {
                    0
                } else {
                    p.schemas[(r % p.schemas.len() as u64) as usize].0
                }
            }
            _ => self.rng.u32_edge(),
        }
    }

    fn create(&mut self) {
        let t = self.pick_fd(Kind::unbound);
        let mut a = KringCreate {
            ring_size: if self.rng.chance(17, 20) {
                self.rng
                    .pick(&[1, 2, 4, 8, 8, 16, 32, 64, 128, 4096, 32768])
            } else {
                self.rng.u32_edge()
            },
            max_msg_size: if self.rng.chance(17, 20) {
                self.rng.pick(&[
                    1,
                    7,
                    8,
                    9,
                    16,
                    24,
                    64,
                    100,
                    256,
                    257,
                    4095,
                    4096,
                    4097,
                    65536,
                    KRING_MSG_SIZE_MAX,
                ])
            } else {
                self.rng.u32_edge()
            },
            schema: self.schema_id(),
            mode: if self.rng.chance(9, 10) {
                self.rng.pick(&[
                    0o600, 0o600, 0o666, 0o644, 0o640, 0o000, 0o200, 0o400, 0o777,
                ])
            } else {
                let any = self.rng.next() as u32;
                self.rng.pick(&[0o1000, 0o4777, u32::MAX, any])
            },
            rights: self.rights(),
            flags: self.rng.reserved(),
            name: self.name(),
        };
        self.noise(&mut a);
        self.tame_name(&mut a.name);
        // Shrink what the kernel would accept to what the VM can afford. Over the module's
        // limit stays: it is refused before anything is allocated.
        let geo =
            |a: &KringCreate| Geometry::new(a.ring_size, a.max_msg_size, self.ctx.page as u64);
        while let Ok(g) = geo(&a) {
            if g.queue_bytes() <= BIG_QUEUE
                || g.queue_bytes() > self.ctx.max_queue_bytes
                || a.ring_size == 1
            {
                break;
            }
            a.ring_size /= 2;
        }
        let geo_ok = geo(&a).is_ok_and(|g| g.queue_bytes() <= self.ctx.max_queue_bytes);
        let must_fail = a.flags != 0
            || !ring::valid_rights(a.rights)
            || !ring::valid_mode(a.mode)
            || ring::parse_name(&a.name).is_err()
            || !geo_ok;
        let arg = self.create_arg(&a);
        // SAFETY: CREATE only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_CREATE, arg.addr) };
        let ok = self.judge(Op::Create, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{a:?}")
        });
        if !arg.ours {
            return;
        }
        if ok && must_fail {
            self.fail(
                Op::Create,
                t.fd,
                &format!("accepted what the ABI refuses: {a:?}"),
            );
        }
        if self.ctx.reliable() && t.kind.bound() {
            self.expect_errno(
                Op::Create,
                t.fd,
                r,
                libc::EISCONN,
                "CREATE on a bound fd",
                || format!("{a:?}"),
            );
        }
        if ok {
            self.set_kind(t.fd, Kind::Queue(a.rights));
        } else if r.errno == libc::EISCONN && t.kind.unbound() {
            self.set_kind(t.fd, Kind::Unknown);
        }
    }

    fn open_name(&mut self) {
        let t = self.pick_fd(Kind::unbound);
        let mut a = KringOpen {
            rights: self.rights(),
            flags: self.rng.reserved(),
            name: self.name(),
        };
        self.noise(&mut a);
        let must_fail = a.flags != 0
            || !ring::valid_rights(a.rights)
            || !matches!(ring::parse_name(&a.name), Ok(Some(_)));
        let arg = self.read_arg(&a);
        // SAFETY: OPEN only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_OPEN, arg.addr) };
        let ok = self.judge(Op::OpenName, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{a:?}")
        });
        if !arg.ours {
            return;
        }
        if ok && must_fail {
            self.fail(
                Op::OpenName,
                t.fd,
                &format!("accepted what the ABI refuses: {a:?}"),
            );
        }
        if self.ctx.reliable() && t.kind.bound() {
            self.expect_errno(
                Op::OpenName,
                t.fd,
                r,
                libc::EISCONN,
                "OPEN on a bound fd",
                || format!("{a:?}"),
            );
        }
        if ok {
            self.set_kind(t.fd, Kind::Queue(a.rights));
        }
    }

    fn unlink(&mut self) {
        let t = self.pick_fd(|_| true);
        let a = KringUnlink { name: self.name() };
        let arg = self.read_arg(&a);
        // SAFETY: UNLINK only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_UNLINK, arg.addr) };
        let ok = self.judge(Op::Unlink, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{a:?}")
        });
        if ok && arg.ours && !matches!(ring::parse_name(&a.name), Ok(Some(_))) {
            self.fail(
                Op::Unlink,
                t.fd,
                &format!("accepted a name the ABI refuses: {a:?}"),
            );
        }
    }

    fn info(&mut self) {
        let t = self.pick_fd(|k| matches!(k, Kind::Queue(_)));
        let mut out = KringInfo::zeroed();
        self.rng.fill(bytes_mut(&mut out));
        let arg = self.write_arg(&mut out);
        // SAFETY: INFO writes only its argument: `out`, or an address that faults.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_INFO, arg.addr) };
        let ok = self.judge(Op::Info, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("arg {:#x}", arg.addr)
        });
        if !arg.ours {
            return;
        }
        if self.ctx.reliable() {
            match t.kind {
                Kind::Region { .. } => {
                    self.expect_errno(
                        Op::Info,
                        t.fd,
                        r,
                        libc::ENOTCONN,
                        "INFO on a region fd",
                        String::new,
                    );
                }
                Kind::Queue(rights) if !ok || out.rights != rights => {
                    self.fail(
                        Op::Info,
                        t.fd,
                        &format!(
                            "on a queue fd with rights {rights:#x}: ret {} errno {} {out:?}",
                            r.ret, r.errno
                        ),
                    );
                }
                _ => {}
            }
        }
        if !ok {
            return;
        }
        let g = Geometry::new(out.ring_size, out.max_msg_size, self.ctx.page as u64);
        let why = match g {
            Err(_) => Some("impossible geometry"),
            Ok(g)
                if (g.slot_size, g.sq_entries, g.sq_data_size)
                    != (out.slot_size, out.sq_entries, out.sq_data_size) =>
            {
                Some("slot or submission sizes differ from the geometry")
            }
            Ok(g)
                if [
                    g.header_len,
                    g.consumer_len,
                    g.entries_len,
                    g.payload_len,
                    g.submit_len,
                ] != [
                    out.header_len,
                    out.consumer_len,
                    out.entries_len,
                    out.payload_len,
                    out.submit_len,
                ] =>
            {
                Some("area lengths differ from the geometry")
            }
            _ if !ring::valid_rights(out.rights) || !ring::valid_mode(out.mode) => {
                Some("impossible rights or mode")
            }
            _ if out.reserved != 0 || out.flags & !KRING_INFO_NAMED != 0 => {
                Some("reserved bits set")
            }
            _ if out.len > out.ring_size as u64 => Some("more messages queued than the ring holds"),
            _ if out.send_count != out.recv_count.wrapping_add(out.len) => {
                Some("send_count != recv_count + len")
            }
            _ => None,
        };
        if let Some(why) = why {
            self.fail(Op::Info, t.fd, &format!("{why}: {out:?}"));
        }
        if !t.kind.bound() || !self.ctx.reliable() {
            self.set_kind(t.fd, Kind::Queue(out.rights));
        }
        self.set_lens(
            t.fd,
            [
                out.header_len,
                out.consumer_len,
                out.entries_len,
                out.payload_len,
                out.submit_len,
            ],
        );
    }

    /// A payload: mostly the fuzzer's own bytes at boundary lengths (zeros, valid for most
    /// schemas at their minimum size, or random), sometimes too long or from anywhere.
    fn payload(&mut self) -> (u64, u32) {
        let zero = self.send.as_ptr().expose_provenance() as u64;
        let random = zero + ZERO_LEN as u64;
        match self.rng.below(20) {
            0..=12 => {
                let len = self.rng.pick(&[
                    0, 1, 2, 7, 8, 24, 63, 64, 100, 255, 256, 257, 1000, 4095, 4096, 4097,
                ]);
                (if self.rng.chance(1, 2) { zero } else { random }, len)
            }
            13 => (
                zero,
                self.rng.pick(&[
                    65536,
                    65537,
                    KRING_MSG_SIZE_MAX - 1,
                    KRING_MSG_SIZE_MAX,
                    KRING_MSG_SIZE_MAX + 1,
                ]),
            ),
            14 | 15 => (zero, self.rng.pick(&self.ctx.min_sizes)),
            16 | 17 => (self.any_src(), self.rng.u32_edge()),
            _ => (zero, self.rng.u32_edge()),
        }
    }

    fn send(&mut self) {
        let t = self.pick_fd(|k| k.can(KRING_RIGHT_SEND));
        let (addr, len) = self.payload();
        let mut a = KringSend {
            addr,
            len,
            priority: self.rng.priority(),
            pad: [0; 3],
            flags: 0,
            timeout_ms: 0,
        };
        if self.rng.chance(1, 25) {
            a.pad[self.rng.index(3)] = 1 + self.rng.below(255) as u8;
        }
        a.flags = self.rng.reserved();
        self.noise(&mut a);
        a.timeout_ms = self.rng.timeout();
        let clean = a.flags == 0 && a.pad == [0; 3];
        let must_fail = !clean || !ring::valid_priority(a.priority);
        let arg = self.read_arg(&a);
        // SAFETY: SEND only reads its argument and the payload it points to.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_SEND, arg.addr) };
        let ok = self.judge(
            Op::Send,
            t.fd,
            r,
            IOCTL_ERRNOS,
            wait_limit(a.timeout_ms),
            || format!("{a:?}"),
        );
        if !arg.ours {
            return;
        }
        if ok && must_fail {
            self.fail(
                Op::Send,
                t.fd,
                &format!("accepted what the ABI refuses: {a:?}"),
            );
        }
        if let Some(e) = self.binding_errno(&t, KRING_RIGHT_SEND) {
            self.expect_errno(
                Op::Send,
                t.fd,
                r,
                e,
                &format!("SEND on {:?}", t.kind),
                || format!("{a:?}"),
            );
        }
    }

    fn recv(&mut self) {
        let t = self.pick_fd(|k| k.can(KRING_RIGHT_RECV));
        let buf = self.recv.as_mut_ptr().expose_provenance() as u64;
        // What the kernel writes at `addr` is at most one message (`KRING_MSG_SIZE_MAX`), and
        // never more than `len`: the buffer holds that from its start, and `len` bytes from a
        // page into it.
        let (addr, len) = match self.rng.below(20) {
            0..=14 => (
                buf,
                self.rng.pick(&[
                    0,
                    1,
                    8,
                    23,
                    24,
                    25,
                    64,
                    255,
                    256,
                    4096,
                    65536,
                    KRING_MSG_SIZE_MAX,
                    u32::MAX,
                ]),
            ),
            15 | 16 => (
                buf + self.rng.below(self.ctx.page as u64),
                self.rng.pick(&[1, 24, 4096, KRING_MSG_SIZE_MAX]),
            ),
            _ => (self.bad_dst(), self.rng.u32_edge()),
        };
        let flags = match self.rng.below(20) {
            0..=14 => 0,
            15..=18 => KRING_RECV_PEEK,
            _ => self.rng.reserved() | 2,
        };
        let mut a = KringRecv {
            addr,
            len,
            flags,
            timeout_ms: self.rng.timeout(),
            msg_len: 0,
            seq: 0,
            priority: 0,
            kind: 0,
            pad: [0; 6],
        };
        if self.rng.chance(1, 25) {
            match self.rng.below(4) {
                0 => a.msg_len = 1 + self.rng.below(100) as u32,
                1 => a.seq = 1 + self.rng.next() % 1000,
                2 => a.kind = 1,
                _ => a.pad[self.rng.index(6)] = 1,
            }
        }
        let input = a;
        let clean = input.msg_len == 0
            && input.seq == 0
            && input.priority == 0
            && input.kind == 0
            && input.pad == [0; 6];
        let must_fail = !clean || flags & !KRING_RECV_PEEK != 0;
        let arg = self.write_arg(&mut a);
        // SAFETY: RECV writes its argument (`a`, or an address that faults) and at most
        // min(len, KRING_MSG_SIZE_MAX) bytes at `addr`: `self.recv` holds that much from both
        // starting points used above, and the other addresses fault.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_RECV, arg.addr) };
        let ok = self.judge(
            Op::Recv,
            t.fd,
            r,
            IOCTL_ERRNOS,
            wait_limit(input.timeout_ms),
            || format!("{input:?}"),
        );
        if !arg.ours {
            return;
        }
        if ok && must_fail {
            self.fail(
                Op::Recv,
                t.fd,
                &format!("accepted what the ABI refuses: {input:?}"),
            );
        }
        if clean {
            if let Some(e) = self.binding_errno(&t, KRING_RIGHT_RECV) {
                self.expect_errno(
                    Op::Recv,
                    t.fd,
                    r,
                    e,
                    &format!("RECV on {:?}", t.kind),
                    || format!("{input:?}"),
                );
            }
        }
        let same = (a.addr, a.len, a.flags, a.timeout_ms)
            == (input.addr, input.len, input.flags, input.timeout_ms);
        if r.failed_with(libc::EOVERFLOW) && (a.msg_len <= input.len || !same) {
            self.fail(
                Op::Recv,
                t.fd,
                &format!("EOVERFLOW with reply {a:?} for {input:?}"),
            );
        }
        if !ok {
            return;
        }
        let why = if !same {
            Some("the reply changed the input fields")
        } else if a.msg_len > input.len {
            Some("a message longer than the buffer")
        } else if !ring::valid_priority(a.priority)
            || a.kind > KRING_KIND_DESCRIPTOR
            || a.pad != [0; 6]
            || a.seq == 0
        {
            Some("impossible priority, kind, padding or sequence")
        } else if a.kind == KRING_KIND_DESCRIPTOR && a.msg_len as usize != KRING_DESCRIPTOR_SIZE {
            Some("a descriptor that is not 24 bytes")
        } else {
            None
        };
        if let Some(why) = why {
            self.fail(Op::Recv, t.fd, &format!("{why}: {a:?} for {input:?}"));
            return;
        }
        if a.kind == KRING_KIND_DESCRIPTOR && addr == buf {
            match KringDescriptor::from_bytes(&self.recv[..KRING_DESCRIPTOR_SIZE]) {
                Some(d) if d.length > 0 => self.remember_region(d.region_id, d.generation),
                d => self.fail(
                    Op::Recv,
                    t.fd,
                    &format!("received a malformed descriptor {d:?}"),
                ),
            }
        }
    }

    /// A submission entry that is nearly valid, and the `kring_desc_submit` a descriptor entry
    /// carries.
    fn sqe(&mut self) -> (KringSqe, Option<KringDescSubmit>) {
        let desc = self.rng.chance(1, 6);
        let mut e = KringSqe {
            offset: if self.rng.chance(9, 10) {
                (self.rng.below(ring::SQ_DATA_MIN as u64 - 512) & !7) as u32
            } else {
                self.rng.u32_edge()
            },
            len: if desc {
                size_of::<KringDescSubmit>() as u32
            } else {
                self.rng.pick(&[0, 1, 8, 24, 64, 200, 256, 4096])
            },
            priority: self.rng.priority(),
            flags: if desc { KRING_SQE_DESC } else { 0 },
            reserved: 0,
            reserved2: 0,
        };
        match self.rng.below(30) {
            0 => e.len = self.rng.u32_edge(),
            1 => e.flags = self.rng.next() as u8,
            2 => e.reserved = 1 + self.rng.below(0xfffe) as u16,
            3 => e.reserved2 = self.rng.u32_edge() | 1,
            _ => {}
        }
        let d = desc.then(|| {
            let rf = self.fd_field(Kind::region);
            let size = rf.lens[0].max(1);
            KringDescSubmit {
                region_fd: rf.fd,
                length: if self.rng.chance(4, 5) {
                    1 + self.rng.below(size) as u32
                } else {
                    self.rng.u32_edge()
                },
                offset: if self.rng.chance(4, 5) {
                    self.rng.below(size)
                } else {
                    self.rng.u64_edge()
                },
            }
        });
        (e, d)
    }

    /// Writes `count` nearly valid entries from `start` (and their payloads) into a writable
    /// submission-area mapping, if there is one; returns the fd it was mapped from.
    fn fill_sqes(&mut self, start: u32, count: u32) -> Option<i32> {
        let m = self.take_map(|m| m.off == KRING_OFF_SUBMIT && m.writable())?;
        let entries = (m.len / size_of::<KringSqe>()).min(ring::SQ_ENTRIES as usize);
        let end = (start as usize)
            .saturating_add(count as usize)
            .min(entries)
            .min(start as usize + 64);
        for i in start as usize..end {
            let (e, d) = self.sqe();
            // SAFETY: entry `i` lies inside the mapping (`i < m.len / 16`), which is writable
            // and out of the pool until put back below.
            unsafe { store(m.addr + i * size_of::<KringSqe>(), bytes_of(&e)) };
            let at = SQ_DATA_OFFSET + e.offset as usize;
            match d {
                Some(d) if at + size_of::<KringDescSubmit>() <= m.len => {
                    // SAFETY: checked to lie inside the mapping, as above.
                    unsafe { store(m.addr + at, bytes_of(&d)) };
                }
                None if at + 64 <= m.len && self.rng.chance(1, 2) => {
                    let mut b = [0u8; 64];
                    if self.rng.chance(1, 2) {
                        self.rng.fill(&mut b);
                    }
                    // SAFETY: checked to lie inside the mapping, as above.
                    unsafe { store(m.addr + at, &b) };
                }
                _ => {}
            }
        }
        let fd = m.fd;
        self.put_map(m);
        Some(fd)
    }

    fn enter(&mut self) {
        let start = if self.rng.chance(4, 5) {
            self.rng.below(8) as u32
        } else {
            self.rng.u32_edge()
        };
        let count = match self.rng.below(10) {
            0..=7 => self.rng.below(9) as u32,
            8 => self.rng.pick(&[16, 255, 256, 257]),
            _ => self.rng.u32_edge(),
        };
        let from_map = if self.rng.chance(1, 2) {
            self.fill_sqes(start, count)
        } else {
            None
        };
        let t = match from_map {
            Some(fd) => self.kind_of(fd),
            None => self.pick_fd(|k| k.can(KRING_RIGHT_SEND)),
        };
        let flags = match self.rng.below(20) {
            0..=11 => 0,
            12 | 13 => KRING_ENTER_WAIT,
            14 | 15 => KRING_ENTER_GETMSG,
            16..=18 => KRING_ENTER_WAIT | KRING_ENTER_GETMSG,
            _ => self.rng.reserved() | 4,
        };
        let mut a = KringEnter {
            start,
            count,
            flags,
            timeout_ms: self.rng.timeout(),
            submitted: 0,
            error: 0,
        };
        if self.rng.chance(1, 25) {
            if self.rng.chance(1, 2) {
                a.submitted = 1 + self.rng.below(8) as u32;
            } else {
                a.error = self.rng.pick(&[libc::EINVAL as u32, 1, u32::MAX]);
            }
        }
        let input = a;
        let must_fail = flags & !(KRING_ENTER_WAIT | KRING_ENTER_GETMSG) != 0
            || input.submitted != 0
            || input.error != 0
            || (count == 0 && flags & KRING_ENTER_GETMSG == 0);
        let arg = self.write_arg(&mut a);
        // SAFETY: ENTER writes only its argument (`a`, or an address that faults); the entries
        // and payloads it reads are in the kernel's own submission area.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_ENTER, arg.addr) };
        // The wait for room and the wait for a message may each take the timeout.
        let ok = self.judge(
            Op::Enter,
            t.fd,
            r,
            IOCTL_ERRNOS,
            wait_limit(input.timeout_ms),
            || format!("{input:?}"),
        );
        if !ok || !arg.ours {
            return;
        }
        let n = r.ret as u64;
        let why = if must_fail {
            Some("accepted what the ABI refuses")
        } else if n > count as u64 {
            Some("returned more than it was asked to submit")
        } else if n == 0 && count != 0 {
            Some("returned 0 for a batch (it fails with the first entry's error instead)")
        } else if a.submitted as u64 != n {
            Some("`submitted` differs from the return value")
        } else if (a.start, a.count, a.flags, a.timeout_ms)
            != (input.start, input.count, input.flags, input.timeout_ms)
        {
            Some("the reply changed the input fields")
        } else if n < count as u64 && (a.error == 0 || !IOCTL_ERRNOS.contains(&(a.error as i32))) {
            Some("a short batch without a valid `error`")
        } else if n == count as u64 && a.error != 0 {
            Some("a complete batch with an `error`")
        } else {
            None
        };
        if let Some(why) = why {
            self.fail(
                Op::Enter,
                t.fd,
                &format!("{why}: returned {n}, reply {a:?} for {input:?}"),
            );
        }
    }

    fn wait(&mut self) {
        let t = self.pick_fd(|k| k.can(KRING_RIGHT_RECV));
        let mut a = KringWait {
            flags: self.rng.reserved(),
            timeout_ms: 0,
        };
        self.noise(&mut a);
        a.timeout_ms = self.rng.timeout();
        let arg = self.read_arg(&a);
        // SAFETY: WAIT only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_WAIT, arg.addr) };
        let ok = self.judge(
            Op::Wait,
            t.fd,
            r,
            IOCTL_ERRNOS,
            wait_limit(a.timeout_ms),
            || format!("{a:?}"),
        );
        if !arg.ours {
            return;
        }
        if ok && a.flags != 0 {
            self.fail(
                Op::Wait,
                t.fd,
                &format!("accepted what the ABI refuses: {a:?}"),
            );
        }
        if a.flags == 0 {
            if let Some(e) = self.binding_errno(&t, KRING_RIGHT_RECV) {
                self.expect_errno(
                    Op::Wait,
                    t.fd,
                    r,
                    e,
                    &format!("WAIT on {:?}", t.kind),
                    || format!("{a:?}"),
                );
            }
        }
    }

    fn notify(&mut self) {
        let t = self.pick_fd(|k| k.can(KRING_RIGHT_RECV));
        let junk = self.rng.next();
        // SAFETY: NOTIFY takes no argument: the kernel ignores `junk`.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_NOTIFY, junk) };
        self.judge(Op::Notify, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, String::new);
        if let Some(e) = self.binding_errno(&t, KRING_RIGHT_RECV) {
            self.expect_errno(
                Op::Notify,
                t.fd,
                r,
                e,
                &format!("NOTIFY on {:?}", t.kind),
                String::new,
            );
        }
    }

    // --- memory ----------------------------------------------------------------------------

    fn mmap(&mut self) {
        let t = self.pick_fd(Kind::bound);
        let page = self.ctx.page as u64;
        let i = self.rng.index(OFFSETS.len());
        let off = match self.rng.below(20) {
            0..=16 => OFFSETS[i],
            17 => OFFSETS[i] + page,
            18 => OFFSETS[i] + 1 + self.rng.below(page - 1),
            _ => self.rng.below(1 << 20) * page,
        };
        let known = t.lens[i] as usize;
        let pg = self.ctx.page;
        let len = match self.rng.below(12) {
            0..=4 if known != 0 => match self.rng.below(4) {
                0 => known + pg,
                1 if known > pg => known - pg,
                _ => known,
            },
            0..=7 => pg * self.rng.pick(&[1, 1, 2, 3, 4, 16, 17, 64, 257]),
            8 => self.rng.pick(&[0, 1, pg - 1, pg + 1]),
            9 => 1 << 20,
            10 => 16 << 20,
            _ => pg * (1 + self.rng.index(1024)),
        };
        let prot = self.rng.pick(&[
            libc::PROT_READ,
            libc::PROT_READ,
            libc::PROT_READ,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::PROT_WRITE,
            libc::PROT_NONE,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
        ]);
        let flags = self.rng.pick(&[
            libc::MAP_SHARED,
            libc::MAP_SHARED,
            libc::MAP_SHARED,
            libc::MAP_SHARED,
            libc::MAP_SHARED,
            libc::MAP_SHARED,
            libc::MAP_PRIVATE,
            libc::MAP_SHARED_VALIDATE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            libc::MAP_SHARED | libc::MAP_NORESERVE,
            libc::MAP_SHARED | libc::MAP_LOCKED,
            libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
        ]);
        self.ctx.watch[self.tid].fd.store(t.fd, Relaxed);
        // SAFETY: no MAP_FIXED: the kernel picks a free range, which aliases nothing of ours.
        let r = timed(|| unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                t.fd,
                off as libc::off_t,
            )
        } as isize as i64);
        let args = || format!("off {off:#x} len {len:#x} prot {prot:#x} flags {flags:#x}");
        if !self.judge(Op::Mmap, t.fd, r, MMAP_ERRNOS, ANY_LIMIT, args) {
            return;
        }
        let addr = r.ret as usize;
        let len = len.div_ceil(pg) * pg;
        let why = if prot & libc::PROT_EXEC != 0 {
            Some("an executable mapping")
        } else if flags & (libc::MAP_SHARED | libc::MAP_PRIVATE) == libc::MAP_PRIVATE {
            Some("a private mapping")
        } else if !OFFSETS.contains(&off) {
            Some("a mapping at an offset that is no area")
        } else {
            None
        };
        if let Some(why) = why {
            self.fail(Op::Mmap, t.fd, &format!("{why}: {}", args()));
        }
        if prot & libc::PROT_READ != 0 {
            // Every page of a kring mapping is there from the start: a missing one faults.
            for p in (0..len).step_by(pg) {
                // SAFETY: inside the readable mapping just made, which no one else knows yet.
                unsafe { load_u32(addr + p) };
            }
        }
        self.put_map(Mapping {
            addr,
            len,
            prot,
            fd: t.fd,
            off,
            zapped: false,
            dontfork: false,
        });
    }

    fn munmap(&mut self) {
        let Some(m) = self.take_map(|_| true) else {
            return;
        };
        let pg = self.ctx.page;
        if m.len > pg && self.rng.chance(1, 4) {
            // One page of it: the rest stays mapped, in one or two pieces.
            let pages = m.len / pg;
            let k = self.rng.index(pages);
            self.unmap(m.addr + k * pg, pg);
            if k > 0 {
                self.put_map(Mapping { len: k * pg, ..m });
            }
            if k + 1 < pages {
                self.put_map(Mapping {
                    addr: m.addr + (k + 1) * pg,
                    len: m.len - (k + 1) * pg,
                    off: u64::MAX,
                    ..m
                });
            }
        } else {
            self.unmap(m.addr, m.len);
        }
    }

    fn mprotect(&mut self) {
        let Some(mut m) = self.take_map(|_| true) else {
            return;
        };
        let prot = self.rng.pick(&[
            libc::PROT_NONE,
            libc::PROT_READ,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::PROT_WRITE,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::PROT_EXEC,
        ]);
        // SAFETY: our mapping, out of the pool: nothing touches it while its protection
        // changes, and `m.prot` follows.
        let r = timed(|| unsafe {
            libc::mprotect(std::ptr::with_exposed_provenance_mut(m.addr), m.len, prot)
        } as i64);
        if self.judge(Op::Mprotect, m.fd, r, MPROTECT_ERRNOS, ANY_LIMIT, || {
            format!("{m:?} to {prot:#x}")
        }) {
            if prot & libc::PROT_EXEC != 0 {
                self.fail(
                    Op::Mprotect,
                    m.fd,
                    &format!("made a kring mapping executable: {m:?}"),
                );
            }
            m.prot = prot;
        }
        self.put_map(m);
    }

    fn mremap(&mut self) {
        let Some(m) = self.take_map(|_| true) else {
            return;
        };
        let pg = self.ctx.page;
        let new_len = match self.rng.below(10) {
            0..=4 if m.len > pg => m.len - pg,
            5..=7 => m.len + pg,
            _ => m.len,
        };
        // SAFETY: our mapping, out of the pool; without MREMAP_FIXED a moved mapping goes
        // where the kernel finds room, aliasing nothing.
        let r = timed(|| unsafe {
            libc::mremap(
                std::ptr::with_exposed_provenance_mut(m.addr),
                m.len,
                new_len,
                libc::MREMAP_MAYMOVE,
            )
        } as isize as i64);
        if self.judge(Op::Mremap, m.fd, r, MREMAP_ERRNOS, ANY_LIMIT, || {
            format!("{m:?} to {new_len:#x}")
        }) {
            if new_len > m.len {
                self.fail(
                    Op::Mremap,
                    m.fd,
                    &format!("grew a VM_DONTEXPAND mapping: {m:?} to {new_len:#x}"),
                );
            }
            self.put_map(Mapping {
                addr: r.ret as usize,
                len: new_len,
                ..m
            });
        } else {
            self.put_map(m);
        }
    }

    fn madvise(&mut self) {
        let Some(mut m) = self.take_map(|_| true) else {
            return;
        };
        let advice = self.rng.pick(&[
            libc::MADV_WILLNEED,
            libc::MADV_DONTNEED,
            libc::MADV_DONTFORK,
            libc::MADV_DOFORK,
            libc::MADV_NORMAL,
            libc::MADV_RANDOM,
            libc::MADV_SEQUENTIAL,
            libc::MADV_COLD,
            libc::MADV_PAGEOUT,
        ]);
        // SAFETY: our mapping, out of the pool; once MADV_DONTNEED may have dropped its pages it
        // is never touched again (`zapped`), only unmapped.
        let r = timed(|| unsafe {
            libc::madvise(std::ptr::with_exposed_provenance_mut(m.addr), m.len, advice)
        } as i64);
        if advice == libc::MADV_DONTNEED {
            m.zapped = true;
        }
        if self.judge(Op::Madvise, m.fd, r, MADVISE_ERRNOS, ANY_LIMIT, || {
            format!("{m:?} advice {advice}")
        }) {
            match advice {
                libc::MADV_DONTFORK => m.dontfork = true,
                libc::MADV_DOFORK => m.dontfork = false,
                _ => {}
            }
        }
        self.put_map(m);
    }

    /// The hostile ring writer: garbage or nearly valid values in a writable mapping.
    fn scribble(&mut self) {
        let Some(m) = self.take_map(Mapping::writable) else {
            return;
        };
        match (m.off, self.rng.below(10)) {
            (KRING_OFF_CONSUMER, 0..=7) => {
                // Consumer indices: mostly one step, sometimes back, far ahead or anything.
                for p in 0..KRING_NR_PRIO {
                    if self.rng.chance(1, 2) {
                        continue;
                    }
                    let at = m.addr + 4 * p;
                    // SAFETY: the head of ring `p` lies in the first page of the mapping,
                    // which is writable and out of the pool until put back below.
                    let h = unsafe { load_u32(at) };
                    let v = match self.rng.below(10) {
                        0..=4 => h.wrapping_add(1),
                        5 => h,
                        6 => h.wrapping_sub(1),
                        7 => h.wrapping_add(self.rng.below(64) as u32),
                        8 => 0,
                        _ => self.rng.next() as u32,
                    };
                    // SAFETY: as above.
                    unsafe { store_u32(at, v) };
                }
            }
            (KRING_OFF_SUBMIT, 0..=7) => {
                self.put_map(m);
                let start = self.rng.below(ring::SQ_ENTRIES as u64) as u32;
                let count = 1 + self.rng.below(8) as u32;
                self.fill_sqes(start, count);
                self.stats.ok[Op::Scribble as usize] += 1;
                return;
            }
            _ => {
                let at = self.rng.index(m.len);
                let n = 1 + self.rng.index((m.len - at).min(4096));
                let mut b = vec![0u8; n];
                if self.rng.chance(3, 4) {
                    self.rng.fill(&mut b);
                }
                // SAFETY: `at + n <= m.len`: inside the mapping, writable and out of the pool.
                unsafe { store(m.addr + at, &b) };
            }
        }
        self.stats.ok[Op::Scribble as usize] += 1;
        self.put_map(m);
    }

    // --- regions ---------------------------------------------------------------------------

    fn region_len(&mut self) -> u64 {
        match self.rng.below(20) {
            0..=16 => self
                .rng
                .pick(&[1, 7, 8, 24, 100, 4095, 4096, 4097, 8192, 65536, 65537]),
            17 => self.rng.pick(&[BIG_REGION - 1, BIG_REGION]),
            _ => self
                .rng
                .pick(&[0, self.ctx.max_region_bytes + 1, 1 << 40, u64::MAX]),
        }
    }

    fn region_create(&mut self) {
        let t = self.pick_fd(Kind::unbound);
        let policy = if self.rng.chance(9, 10) {
            self.rng.below(3) as u32
        } else {
            self.rng.u32_edge()
        };
        let mut c = KringRegionCreate {
            policy,
            flags: self.rng.reserved(),
            size: 0,
            max_size: 0,
            slot_size: 0,
            slot_count: 0,
        };
        match policy {
            KRING_REGION_IMMUTABLE => c.size = self.region_len(),
            KRING_REGION_APPEND_ONLY => c.max_size = self.region_len(),
            KRING_REGION_SLAB => {
                c.slot_size = self.rng.pick(&[1, 8, 24, 64, 100, 4096, 0, u32::MAX]);
                c.slot_count = self.rng.pick(&[1, 2, 3, 16, 64, 256, 0, u32::MAX]);
            }
            _ => {}
        }
        if self.rng.chance(1, 15) {
            // A field this policy does not use.
            match self.rng.below(4) {
                0 => c.size = 1 + self.rng.below(4096),
                1 => c.max_size = 1 + self.rng.below(4096),
                2 => c.slot_size = 1 + self.rng.below(4096) as u32,
                _ => c.slot_count = 1 + self.rng.below(4096) as u32,
            }
        }
        self.noise(&mut c);
        // Shrink what the kernel would accept to what the VM can afford.
        if ring::region_size(&c, self.ctx.max_region_bytes).is_ok_and(|s| s > BIG_REGION) {
            match c.policy {
                KRING_REGION_IMMUTABLE => c.size = 4096,
                KRING_REGION_APPEND_ONLY => c.max_size = 4096,
                _ => (c.slot_size, c.slot_count) = (64, 16),
            }
        }
        let expect = ring::region_size(&c, self.ctx.max_region_bytes);
        let arg = self.create_arg(&c);
        // SAFETY: REGION_CREATE only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_REGION_CREATE, arg.addr) };
        let ok = self.judge(Op::RegionCreate, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{c:?}")
        });
        if !arg.ours {
            return;
        }
        if self.ctx.reliable() && t.kind.bound() {
            self.expect_errno(
                Op::RegionCreate,
                t.fd,
                r,
                libc::EISCONN,
                "REGION_CREATE on a bound fd",
                || format!("{c:?}"),
            );
        }
        match expect {
            Err(_) if ok => self.fail(
                Op::RegionCreate,
                t.fd,
                &format!("accepted what the ABI refuses: {c:?}"),
            ),
            Ok(size) if ok => {
                self.set_kind(
                    t.fd,
                    Kind::Region {
                        policy: Some(c.policy),
                        size,
                        rw: Some(true),
                    },
                );
                self.set_lens(t.fd, [size, 0, 0, 0, 0]);
            }
            _ => {}
        }
    }

    fn region_info(&mut self) {
        let t = self.pick_fd(Kind::region);
        let mut out = KringRegionInfo::zeroed();
        self.rng.fill(bytes_mut(&mut out));
        let arg = self.write_arg(&mut out);
        // SAFETY: REGION_INFO writes only its argument: `out`, or an address that faults.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_REGION_INFO, arg.addr) };
        let ok = self.judge(Op::RegionInfo, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("arg {:#x}", arg.addr)
        });
        if !arg.ours {
            return;
        }
        if let Some(e) = self.region_errno(&t, false) {
            self.expect_errno(
                Op::RegionInfo,
                t.fd,
                r,
                e,
                "REGION_INFO on a queue fd",
                String::new,
            );
        }
        if let (
            true,
            Kind::Region {
                policy: Some(p),
                size,
                ..
            },
        ) = (self.ctx.reliable(), t.kind)
        {
            if !ok || out.policy != p || out.size != size {
                self.fail(
                    Op::RegionInfo,
                    t.fd,
                    &format!(
                        "region of policy {p} size {size}: ret {} errno {} {out:?}",
                        r.ret, r.errno
                    ),
                );
            }
        }
        if !ok {
            return;
        }
        let sealed = out.flags & KRING_REGION_SEALED != 0;
        let why = match out.policy {
            _ if out.size == 0
                || out.committed > out.size
                || out.flags & !KRING_REGION_SEALED != 0 =>
            {
                Some("impossible size, committed length or flags")
            }
            KRING_REGION_IMMUTABLE if out.committed != if sealed { out.size } else { 0 } => {
                Some("an Immutable region's committed length is not its size once sealed, 0 before")
            }
            KRING_REGION_IMMUTABLE | KRING_REGION_APPEND_ONLY
                if out.slot_size != 0 || out.slot_count != 0 =>
            {
                Some("slots on a region that has none")
            }
            KRING_REGION_APPEND_ONLY if sealed => Some("a sealed AppendOnly region"),
            KRING_REGION_SLAB
                if sealed
                    || out.committed != out.size
                    || out.slot_size as u64 * out.slot_count as u64 != out.size =>
            {
                Some("a Slab region that is sealed, or whose slots are not its size")
            }
            KRING_REGION_IMMUTABLE | KRING_REGION_APPEND_ONLY | KRING_REGION_SLAB => None,
            _ => Some("unknown policy"),
        };
        if let Some(why) = why {
            self.fail(Op::RegionInfo, t.fd, &format!("{why}: {out:?}"));
        }
        self.remember_region(out.id, out.generation);
        let rw = match t.kind {
            Kind::Region { rw, .. } => rw,
            _ => None,
        };
        self.set_kind(
            t.fd,
            Kind::Region {
                policy: Some(out.policy),
                size: out.size,
                rw,
            },
        );
        self.set_lens(t.fd, [out.size, 0, 0, 0, 0]);
    }

    /// The size of the region behind `t` as far as known (a page if not).
    fn region_size(t: &Target) -> u64 {
        match t.kind {
            Kind::Region { size, .. } if size > 0 => size,
            _ => 4096,
        }
    }

    fn region_write(&mut self) {
        let t = self.pick_fd(Kind::region);
        let size = Self::region_size(&t);
        let offset = match self.rng.below(10) {
            0..=3 => 0,
            4 => size - 1,
            5 => size,
            6 => size + 1,
            7 => self.rng.u64_edge(),
            _ => self.rng.below(size),
        };
        let room = size.saturating_sub(offset).min(u32::MAX as u64) as u32;
        let len = match self.rng.below(10) {
            0..=3 => self.rng.pick(&[0, 1, 16, 100, 4096]),
            4 => room,
            5 => room.saturating_add(1),
            6 => 65537,
            7 => self.rng.u32_edge(),
            _ => self.rng.below(4096) as u32,
        };
        let addr = if self.rng.chance(9, 10) {
            self.send.as_ptr().expose_provenance() as u64 + ZERO_LEN as u64 * self.rng.below(2)
        } else {
            self.any_src()
        };
        let mut w = KringRegionWrite {
            offset,
            addr,
            len,
            flags: self.rng.reserved(),
        };
        self.noise(&mut w);
        let arg = self.read_arg(&w);
        // SAFETY: REGION_WRITE only reads its argument and the bytes it points to.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_REGION_WRITE, arg.addr) };
        let ok = self.judge(Op::RegionWrite, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{w:?}")
        });
        if !arg.ours {
            return;
        }
        if let Some(e) = self.region_errno(&t, true) {
            self.expect_errno(
                Op::RegionWrite,
                t.fd,
                r,
                e,
                &format!("REGION_WRITE on {:?}", t.kind),
                || format!("{w:?}"),
            );
        }
        let refused = w.flags != 0
            || (self.ctx.reliable()
                && matches!(t.kind, Kind::Region { policy: Some(p), size, .. }
                    if p == KRING_REGION_APPEND_ONLY || !ring::range_inside(w.offset, w.len as u64, size)));
        if ok && refused {
            self.fail(
                Op::RegionWrite,
                t.fd,
                &format!("accepted what the ABI refuses on {:?}: {w:?}", t.kind),
            );
        }
    }

    fn region_append(&mut self) {
        let t = self.pick_fd(Kind::region);
        let size = Self::region_size(&t).min(u32::MAX as u64) as u32;
        let len = match self.rng.below(10) {
            0..=5 => self.rng.pick(&[0, 1, 7, 24, 100, 4096]),
            6 => size,
            7 => size.saturating_add(1),
            _ => self.rng.u32_edge(),
        };
        let addr = if self.rng.chance(9, 10) {
            self.send.as_ptr().expose_provenance() as u64
        } else {
            self.any_src()
        };
        let mut a = KringRegionAppend {
            addr,
            len,
            flags: self.rng.reserved(),
            committed: 0,
        };
        if self.rng.chance(1, 25) {
            a.committed = 1 + self.rng.below(4096);
        }
        let input = a;
        let arg = self.write_arg(&mut a);
        // SAFETY: REGION_APPEND writes only its argument (`a`, or an address that faults) and
        // reads `len` bytes at `addr`.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_REGION_APPEND, arg.addr) };
        let ok = self.judge(Op::RegionAppend, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{input:?}")
        });
        if !arg.ours {
            return;
        }
        if let Some(e) = self.region_errno(&t, true) {
            self.expect_errno(
                Op::RegionAppend,
                t.fd,
                r,
                e,
                &format!("REGION_APPEND on {:?}", t.kind),
                || format!("{input:?}"),
            );
        }
        if !ok {
            return;
        }
        let why = if input.flags != 0 || input.committed != 0 {
            Some("accepted what the ABI refuses")
        } else if (a.addr, a.len, a.flags) != (input.addr, input.len, input.flags) {
            Some("the reply changed the input fields")
        } else if a.committed < input.len as u64 {
            Some("committed less than was just appended")
        } else if self.ctx.reliable()
            && matches!(t.kind, Kind::Region { policy: Some(p), size, .. } if p != KRING_REGION_APPEND_ONLY || a.committed > size)
        {
            Some("appended to a region that is not AppendOnly, or past its size")
        } else {
            None
        };
        if let Some(why) = why {
            self.fail(
                Op::RegionAppend,
                t.fd,
                &format!("{why} on {:?}: {a:?} for {input:?}", t.kind),
            );
        }
    }

    fn region_seal(&mut self) {
        let t = self.pick_fd(Kind::region);
        let junk = self.rng.next();
        // SAFETY: REGION_SEAL takes no argument: the kernel ignores `junk`.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_REGION_SEAL, junk) };
        self.judge(
            Op::RegionSeal,
            t.fd,
            r,
            IOCTL_ERRNOS,
            ANY_LIMIT,
            String::new,
        );
        if !self.ctx.reliable() {
            return;
        }
        match t.kind {
            Kind::Queue(_) => self.expect_errno(
                Op::RegionSeal,
                t.fd,
                r,
                libc::ENOTCONN,
                "SEAL on a queue",
                String::new,
            ),
            Kind::Region {
                rw: Some(false), ..
            } => {
                self.expect_errno(
                    Op::RegionSeal,
                    t.fd,
                    r,
                    libc::EPERM,
                    "SEAL on a read-only region fd",
                    String::new,
                );
            }
            Kind::Region {
                policy: Some(KRING_REGION_IMMUTABLE),
                rw: Some(true),
                ..
            } if !r.ok() => {
                self.fail(
                    Op::RegionSeal,
                    t.fd,
                    &format!("sealing our Immutable region failed: errno {}", r.errno),
                );
            }
            Kind::Region {
                policy: Some(p),
                rw: Some(true),
                ..
            } if p != KRING_REGION_IMMUTABLE => {
                self.expect_errno(
                    Op::RegionSeal,
                    t.fd,
                    r,
                    libc::EINVAL,
                    "SEAL on a region that is not Immutable",
                    String::new,
                );
            }
            _ => {}
        }
    }

    fn region_open(&mut self) {
        let t = self.pick_fd(Kind::unbound);
        let q = self.fd_field(|k| k.can(KRING_RIGHT_RECV));
        let (region_id, generation) = {
            let r = self.rng.next();
            let known = {
                let p = self.pool();
                (!p.regions.is_empty()).then(|| p.regions[(r % p.regions.len() as u64) as usize])
            };
            match (known, self.rng.below(4)) {
                (Some(k), 0..=2) => k,
                _ => (self.rng.below(8) as u32, self.rng.below(4) as u32),
            }
        };
        let mut a = KringRegionOpen {
            queue_fd: q.fd,
            flags: self.rng.reserved(),
            region_id,
            generation,
        };
        self.noise(&mut a);
        let arg = self.read_arg(&a);
        // SAFETY: REGION_OPEN only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_REGION_OPEN, arg.addr) };
        let ok = self.judge(Op::RegionOpen, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{a:?}")
        });
        if !arg.ours {
            return;
        }
        if ok && a.flags != 0 {
            self.fail(
                Op::RegionOpen,
                t.fd,
                &format!("accepted what the ABI refuses: {a:?}"),
            );
        }
        if self.ctx.reliable() && t.kind.bound() && a.flags == 0 {
            self.expect_errno(
                Op::RegionOpen,
                t.fd,
                r,
                libc::EISCONN,
                "REGION_OPEN on a bound fd",
                || format!("{a:?}"),
            );
        }
        if ok {
            self.set_kind(
                t.fd,
                Kind::Region {
                    policy: None,
                    size: 0,
                    rw: Some(false),
                },
            );
        }
    }

    fn send_desc(&mut self) {
        let t = self.pick_fd(|k| k.can(KRING_RIGHT_SEND));
        let rf = self.fd_field(Kind::region);
        let size = Self::region_size(&rf);
        let offset = match self.rng.below(10) {
            0..=5 => 0,
            6 => self.rng.below(size),
            7 => size,
            _ => self.rng.u64_edge(),
        };
        let length = match self.rng.below(10) {
            0..=3 => size.saturating_sub(offset).min(u32::MAX as u64) as u32,
            4..=6 => 1 + self.rng.below(size) as u32,
            7 => 0,
            _ => self.rng.u32_edge(),
        };
        let mut a = KringSendDesc {
            region_fd: rf.fd,
            flags: self.rng.reserved(),
            offset,
            length,
            priority: self.rng.priority(),
            pad: [0; 3],
            timeout_ms: 0,
            reserved: self.rng.reserved(),
        };
        if self.rng.chance(1, 25) {
            a.pad[self.rng.index(3)] = 1;
        }
        self.noise(&mut a);
        a.timeout_ms = self.rng.timeout();
        let clean = a.flags == 0 && a.pad == [0; 3] && a.reserved == 0;
        let arg = self.read_arg(&a);
        // SAFETY: SEND_DESC only reads its argument.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_SEND_DESC, arg.addr) };
        let ok = self.judge(
            Op::SendDesc,
            t.fd,
            r,
            IOCTL_ERRNOS,
            wait_limit(a.timeout_ms),
            || format!("{a:?}"),
        );
        if !arg.ours {
            return;
        }
        if ok && (!clean || !ring::valid_priority(a.priority) || a.length == 0) {
            self.fail(
                Op::SendDesc,
                t.fd,
                &format!("accepted what the ABI refuses: {a:?}"),
            );
        }
        if clean {
            if let Some(e) = self.binding_errno(&t, KRING_RIGHT_SEND) {
                self.expect_errno(
                    Op::SendDesc,
                    t.fd,
                    r,
                    e,
                    &format!("SEND_DESC on {:?}", t.kind),
                    || format!("{a:?}"),
                );
            }
        }
    }

    // --- schemas ---------------------------------------------------------------------------

    /// A schema program: valid, mutated, random behind a valid header, past the limits, or
    /// WIT text (the kernel loads programs, never text).
    fn schema_program(&mut self) -> Vec<u8> {
        use kring::schema::program::{kind, MAX_PROGRAM_SIZE};
        let mut p = self.ctx.programs[self.rng.index(self.ctx.programs.len())].clone();
        match self.rng.below(21) {
            0..=7 => {}
            8..=15 => {
                for _ in 0..1 + self.rng.below(3) {
                    if p.is_empty() {
                        break;
                    }
                    match self.rng.below(6) {
                        0 => {
                            let i = self.rng.index(p.len());
                            p[i] ^= 1 << self.rng.below(8);
                        }
                        1 => {
                            let i = self.rng.index(p.len());
                            p[i] = self.rng.next() as u8;
                        }
                        2 => p.truncate(self.rng.index(p.len())),
                        3 => p.extend((0..1 + self.rng.below(16)).map(|_| self.rng.next() as u8)),
                        4 if p.len() >= 16 => {
                            // node_count or ref_count
                            let at = 8 + 4 * self.rng.index(2);
                            p[at..at + 4].copy_from_slice(&self.rng.u32_edge().to_le_bytes());
                        }
                        _ if p.len() >= 28 => {
                            // A node's kind.
                            let n = (p.len() - 16) / 12;
                            p[16 + 12 * self.rng.index(n.max(1))] = self.rng.below(24) as u8;
                        }
                        _ => {}
                    }
                }
            }
            16 => {
                let n = 1 + self.rng.below(8) as usize;
                let refs = self.rng.below(4) as usize;
                let mut q = program(&vec![(0, 0, 0); n], &vec![0; refs]);
                self.rng.fill(&mut q[16..]);
                p = q;
            }
            17 => p = nested_lists(self.rng.pick(&[31, 32, 33, 40])),
            18 => p = program(&[(kind::U64, 0, 0), (kind::FIXED_LIST, u32::MAX, 0)], &[]),
            19 => p = WIT.as_bytes().to_vec(),
            _ => p.resize(self.rng.pick(&[MAX_PROGRAM_SIZE, MAX_PROGRAM_SIZE + 1]), 0),
        }
        p
    }

    fn schema_register(&mut self) {
        let t = self.pick_fd(|_| true);
        let prog = self.schema_program();
        let here = prog.as_ptr().expose_provenance() as u64;
        let (addr, len) = match self.rng.below(20) {
            0..=17 => (here, prog.len() as u32),
            18 => (self.any_src(), prog.len() as u32),
            _ => (
                here,
                self.rng.pick(&[0, 15, KRING_SCHEMA_SIZE_MAX + 1, u32::MAX]),
            ),
        };
        let mut a = KringSchemaRegister {
            addr,
            len,
            flags: self.rng.reserved(),
            id: 0,
            min_size: 0,
        };
        if self.rng.chance(1, 25) {
            a.id = 1 + self.rng.below(100) as u32;
        } else if self.rng.chance(1, 25) {
            a.min_size = 1 + self.rng.below(100) as u32;
        }
        let input = a;
        let arg = self.write_arg(&mut a);
        // SAFETY: SCHEMA_REGISTER writes only its argument (`a`, or an address that faults) and
        // reads `len` bytes at `addr`.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_SCHEMA_REGISTER, arg.addr) };
        let ok = self.judge(Op::SchemaRegister, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("{input:?}")
        });
        if !arg.ours {
            return;
        }
        let must_fail = input.flags != 0
            || input.id != 0
            || input.min_size != 0
            || (input.len as usize) < kring::schema::program::HEADER_SIZE
            || input.len > KRING_SCHEMA_SIZE_MAX;
        if ok && must_fail {
            self.fail(
                Op::SchemaRegister,
                t.fd,
                &format!("accepted what the ABI refuses: {input:?}"),
            );
            return;
        }
        if !must_fail && addr == here && len as usize == prog.len() {
            // The kernel's loader is `src/schema.rs`, and so is the crate's: same verdicts.
            let user = Schema::from_program(&prog);
            let why = match (&user, ok) {
                (Err(_), true) => Some("loaded a program the loader refuses".to_string()),
                (Err(_), false)
                    if ![libc::EINVAL, libc::ENOMEM, libc::EBADF].contains(&r.errno) =>
                {
                    Some(format!(
                        "refused a malformed program with {}",
                        errname(r.errno)
                    ))
                }
                (Ok(_), false) if r.errno == libc::EINVAL => {
                    Some("refused (EINVAL) a program the loader accepts".into())
                }
                (Ok(s), true) if a.id == 0 || a.min_size as usize != s.min_size() => Some(format!(
                    "returned id {} min_size {} (the loader says {})",
                    a.id,
                    a.min_size,
                    s.min_size()
                )),
                _ => None,
            };
            if let Some(why) = why {
                self.fail(
                    Op::SchemaRegister,
                    t.fd,
                    &format!(
                        "{why}: {} bytes, {:02x?}",
                        prog.len(),
                        &prog[..prog.len().min(64)]
                    ),
                );
            }
        }
        if ok {
            let r = self.rng.index(MAX_IDS);
            let mut p = self.pool();
            if p.schemas.len() < MAX_IDS {
                p.schemas.push((a.id, a.min_size));
            } else {
                p.schemas[r] = (a.id, a.min_size);
            }
        }
    }

    fn schema_error(&mut self) {
        let t = self.pick_fd(|_| true);
        let mut out = KringSchemaError {
            count: 0,
            reason: 0,
            node: 0,
            offset: 0,
            index: 0,
            schema: 0,
        };
        self.rng.fill(bytes_mut(&mut out));
        let arg = self.write_arg(&mut out);
        // SAFETY: SCHEMA_ERROR writes only its argument: `out`, or an address that faults.
        let r = unsafe { self.ioctl(t.fd, KRING_IOC_SCHEMA_ERROR, arg.addr) };
        let ok = self.judge(Op::SchemaError, t.fd, r, IOCTL_ERRNOS, ANY_LIMIT, || {
            format!("arg {:#x}", arg.addr)
        });
        let none = KringSchemaError {
            count: 0,
            reason: 0,
            node: 0,
            offset: 0,
            index: 0,
            schema: 0,
        };
        if ok
            && arg.ours
            && ((out.count == 0 && out != none)
                || (out.count != 0
                    && !(KRING_SCHEMA_E_SHORT..=KRING_SCHEMA_E_DEPTH).contains(&out.reason)))
        {
            self.fail(Op::SchemaError, t.fd, &format!("returned {out:?}"));
        }
    }

    /// An ioctl number the module does not know: with the kring magic (often a real number's
    /// with another size or direction), or random (avoiding the VFS's own).
    fn unknown_ioctl(&mut self, magic: bool) {
        const NRS: [u8; 21] = [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
            0x20, 0x21,
        ];
        const SIZES: [usize; 12] = [0, 8, 16, 24, 32, 40, 48, 72, 88, 112, 113, 4096];
        let op = if magic {
            Op::MagicIoctl
        } else {
            Op::RandomIoctl
        };
        let t = self.pick_fd(|_| true);
        let mut cmd = if magic {
            let nr = if self.rng.chance(7, 10) {
                self.rng.pick(&NRS)
            } else {
                self.rng.next() as u8
            };
            let size = if self.rng.chance(1, 2) {
                self.rng.pick(&SIZES)
            } else {
                self.rng.index(SCRATCH)
            };
            ioctl::ioc(self.rng.below(4) as u32, KRING_IOC_MAGIC, nr, size)
        } else {
            let mut c = self.rng.next() as u32;
            if VFS_IOCTL_TYPES.contains(&((c >> ioctl::TYPESHIFT) & 0xff)) {
                c ^= 0x80 << ioctl::TYPESHIFT;
            }
            c
        };
        if KNOWN_IOCTLS.contains(&cmd) {
            cmd ^= 1 << ioctl::DIRSHIFT;
        }
        if KNOWN_IOCTLS.contains(&cmd) {
            return;
        }
        let scratch = self.scratch.as_mut_ptr().expose_provenance() as u64;
        let arg = if self.rng.chance(4, 5) {
            scratch
        } else {
            self.bad_dst()
        };
        // SAFETY: an unknown number touches no memory; even if it did, `arg` is the scratch
        // buffer, as large as any ioctl size, or an address that faults.
        let r = unsafe { self.ioctl(t.fd, cmd, arg) };
        self.judge(op, t.fd, r, &[libc::ENOTTY, libc::EBADF], ANY_LIMIT, || {
            format!("cmd {cmd:#x} arg {arg:#x}")
        });
        if arg == scratch && self.scratch.iter().any(|&b| b != 0) {
            self.fail(
                op,
                t.fd,
                &format!("unknown ioctl {cmd:#x} wrote to its argument"),
            );
            self.scratch.fill(0);
        }
    }

    // --- forked children -------------------------------------------------------------------

    fn snapshot(&self) -> Snap {
        let p = self.pool();
        let mut s = Snap {
            fds: [-1; MAX_FDS],
            nfds: 0,
            maps: [(0, 0, 0, false); MAX_MAPS],
            nmaps: 0,
            regions: [(0, 0); MAX_IDS],
            nregions: 0,
        };
        for e in p.fds.iter().take(MAX_FDS) {
            s.fds[s.nfds] = e.fd;
            s.nfds += 1;
        }
        for m in p
            .maps
            .iter()
            .filter(|m| !m.dontfork && !m.zapped)
            .take(MAX_MAPS)
        {
            s.maps[s.nmaps] = (m.addr, m.len, m.off, m.writable());
            s.nmaps += 1;
        }
        for &r in p.regions.iter().take(MAX_IDS) {
            s.regions[s.nregions] = r;
            s.nregions += 1;
        }
        s
    }

    fn spawn_child(&mut self) {
        let snap = self.snapshot();
        let seed = self.rng.next();
        let bufs = (
            self.send.as_ptr().expose_provenance(),
            self.recv.as_mut_ptr().expose_provenance(),
        );
        let ctx = self.ctx;
        // SAFETY: the child runs `child_main` only: raw system calls and atomic stores into
        // memory it inherited, no allocation, no lock, no unwinding, and `_exit`. It never
        // touches what the other threads of this process (the harness, the watchdog) may have
        // held at the fork.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            child_main(ctx, &snap, seed, bufs);
        }
        let r = Ret {
            ret: pid as i64,
            errno: if pid < 0 { errno() } else { 0 },
            took: Duration::ZERO,
        };
        if self.judge(Op::Fork, -1, r, FORK_ERRNOS, ANY_LIMIT, String::new) {
            self.child = Some(Child {
                pid,
                kill_at: self.n + 1 + self.rng.below(300),
            });
        }
    }

    /// SIGKILLs the child (if any) and reaps it: it must die promptly, and of that signal.
    fn reap_child(&mut self) {
        let Some(c) = self.child.take() else { return };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.pid, libc::SIGKILL) };
        let t = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child; `status` is ours.
            let r = unsafe { libc::waitpid(c.pid, &mut status, libc::WNOHANG) };
            if r == c.pid {
                break;
            }
            if r < 0 && errno() != libc::EINTR {
                self.fail(
                    Op::Fork,
                    -1,
                    &format!("waitpid({}) failed: {}", c.pid, errname(errno())),
                );
                return;
            }
            if t.elapsed() > REAP_LIMIT {
                self.fail(
                    Op::Fork,
                    -1,
                    &format!(
                        "child {} still alive {REAP_LIMIT:?} after SIGKILL: stuck in the kernel",
                        c.pid
                    ),
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.stats.children += 1;
        let killed = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL;
        let timed_out = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        if !killed && !timed_out {
            self.fail(
                Op::Fork,
                -1,
                &format!(
                    "child {} ended with status {status:#x}, not by our SIGKILL",
                    c.pid
                ),
            );
        }
    }
}

/// A forked child: works on the inherited fds and mappings until SIGKILLed. Only raw system
/// calls, atomic stores and arithmetic: no allocation, no lock, no panic (indices are reduced
/// modulo their bound, arithmetic wraps), since another thread of the parent may have held
/// the allocator's or any other lock at the fork.
fn child_main(ctx: &Ctx, snap: &Snap, seed: u64, (send, recv): (usize, usize)) -> ! {
    // SAFETY: prctl with integer arguments: die with the parent.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let mut rng = Rng(seed);
    let mut fds = snap.fds;
    let start = monotonic_ms();
    while monotonic_ms().wrapping_sub(start) < CHILD_LIMIT_MS {
        child_step(ctx, snap, &mut fds, &mut rng, send as u64, recv as u64);
    }
    // SAFETY: leaves without running anything of the parent's (destructors, atexit).
    unsafe { libc::_exit(0) }
}

/// A raw ioctl in a child; the result does not matter.
///
/// # Safety
///
/// As for [`Worker::ioctl`].
unsafe fn child_ioctl(fd: i32, cmd: u32, arg: u64) {
    // SAFETY: the caller's contract.
    unsafe {
        libc::syscall(
            libc::SYS_ioctl,
            fd,
            cmd as libc::c_ulong,
            arg as libc::c_ulong,
        )
    };
}

fn child_step(
    ctx: &Ctx,
    snap: &Snap,
    fds: &mut [i32; MAX_FDS],
    rng: &mut Rng,
    send: u64,
    recv: u64,
) {
    let nf = snap.nfds.max(1);
    let slot = rng.index(nf) % MAX_FDS;
    let fd = fds[slot];
    let timeout_ms = rng.timeout();
    let names = &ctx.names;
    match rng.below(16) {
        0 | 1 => {
            let a = KringSend {
                addr: send.wrapping_add(rng.below(ZERO_LEN as u64 + 1)),
                len: rng.pick(&[0, 1, 8, 24, 64, 4096]),
                priority: rng.below(5) as u8,
                pad: [0; 3],
                flags: 0,
                timeout_ms,
            };
            // SAFETY: SEND only reads `a` and the payload.
            unsafe { child_ioctl(fd, KRING_IOC_SEND, addr_of(&a)) };
        }
        2 | 3 => {
            let flags = if rng.chance(1, 4) { KRING_RECV_PEEK } else { 0 };
            let mut a = KringRecv {
                addr: recv,
                len: RECV_BUF as u32,
                flags,
                timeout_ms,
                msg_len: 0,
                seq: 0,
                priority: 0,
                kind: 0,
                pad: [0; 6],
            };
            // SAFETY: RECV writes `a` and at most `RECV_BUF` bytes at `recv`, the child's copy of
            // the worker's receive buffer.
            unsafe { child_ioctl(fd, KRING_IOC_RECV, addr_of_mut(&mut a)) };
        }
        4 => {
            // Fill a submission area it inherited, then submit from any fd.
            if snap.nmaps > 0 {
                let (addr, len, off, writable) = snap.maps[rng.index(snap.nmaps) % MAX_MAPS];
                if off == KRING_OFF_SUBMIT && writable {
                    for i in 0..1 + rng.index(8) {
                        let e = KringSqe {
                            offset: (rng.below(4096) & !7) as u32,
                            len: rng.pick(&[0, 1, 16, 64]),
                            priority: rng.below(4) as u8,
                            flags: 0,
                            reserved: 0,
                            reserved2: 0,
                        };
                        if (i + 1) * size_of::<KringSqe>() <= len {
                            // SAFETY: inside a writable mapping the child inherited and never
                            // unmaps; all its accesses to it are atomic.
                            unsafe { store(addr + i * size_of::<KringSqe>(), bytes_of(&e)) };
                        }
                    }
                }
            }
            let flags = rng.pick(&[
                0,
                KRING_ENTER_WAIT,
                KRING_ENTER_GETMSG,
                KRING_ENTER_WAIT | KRING_ENTER_GETMSG,
            ]);
            let mut a = KringEnter {
                start: 0,
                count: rng.below(9) as u32,
                flags,
                timeout_ms,
                submitted: 0,
                error: 0,
            };
            // SAFETY: ENTER writes only `a`.
            unsafe { child_ioctl(fd, KRING_IOC_ENTER, addr_of_mut(&mut a)) };
        }
        5 => {
            let a = KringWait {
                flags: 0,
                timeout_ms,
            };
            // SAFETY: WAIT only reads `a`; NOTIFY takes no argument.
            unsafe {
                child_ioctl(fd, KRING_IOC_WAIT, addr_of(&a));
                child_ioctl(fd, KRING_IOC_NOTIFY, 0);
            }
        }
        6 | 7 => {
            if snap.nmaps > 0 {
                let (addr, len, off, writable) = snap.maps[rng.index(snap.nmaps) % MAX_MAPS];
                if writable && off == KRING_OFF_CONSUMER {
                    let at = addr + 4 * rng.index(KRING_NR_PRIO);
                    // SAFETY: a head in the first page of an inherited writable mapping.
                    unsafe {
                        let h = load_u32(at);
                        store_u32(
                            at,
                            if rng.chance(3, 4) {
                                h.wrapping_add(1)
                            } else {
                                rng.next() as u32
                            },
                        );
                    }
                } else if writable && len > 0 {
                    let at = rng.index(len);
                    let b = rng.next().to_le_bytes();
                    let n = b.len().min(len - at);
                    // SAFETY: `at + n <= len`, inside an inherited writable mapping.
                    unsafe { store(addr + at, &b[..n]) };
                }
            }
        }
        8 => {
            let name = if rng.chance(1, 3) {
                [0; KRING_NAME_MAX]
            } else {
                names[rng.index(names.len()) % names.len()]
            };
            let a = KringCreate {
                ring_size: rng.pick(&[1, 4, 8, 64]),
                max_msg_size: rng.pick(&[24, 64, 4096]),
                schema: 0,
                mode: 0o600,
                rights: rng.pick(&[KRING_RIGHTS_ALL, KRING_RIGHT_SEND, KRING_RIGHT_RECV]),
                flags: 0,
                name,
            };
            // SAFETY: CREATE only reads `a`.
            unsafe { child_ioctl(fd, KRING_IOC_CREATE, addr_of(&a)) };
        }
        9 => {
            let a = KringOpen {
                rights: rng.pick(&[KRING_RIGHTS_ALL, KRING_RIGHT_SEND, KRING_RIGHT_RECV]),
                flags: 0,
                name: names[rng.index(names.len()) % names.len()],
            };
            // SAFETY: OPEN only reads `a`.
            unsafe { child_ioctl(fd, KRING_IOC_OPEN, addr_of(&a)) };
        }
        10 => {
            let a = KringUnlink {
                name: names[rng.index(names.len()) % names.len()],
            };
            // SAFETY: UNLINK only reads `a`.
            unsafe { child_ioctl(fd, KRING_IOC_UNLINK, addr_of(&a)) };
        }
        11 => {
            if rng.chance(1, 2) {
                // SAFETY: the child's own fd table; the parent's is not affected.
                unsafe { libc::close(fd) };
                fds[slot] = -1;
            } else {
                // SAFETY: dup creates an fd in the child's own table.
                let d = unsafe { libc::dup(fd) };
                if d >= 0 {
                    fds[rng.index(MAX_FDS)] = d;
                }
            }
        }
        12 => {
            let off = OFFSETS[rng.index(OFFSETS.len())];
            let prot = if rng.chance(1, 2) {
                libc::PROT_READ
            } else {
                libc::PROT_READ | libc::PROT_WRITE
            };
            // SAFETY: no MAP_FIXED: a new range the child never touches (it dies with it).
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    ctx.page,
                    prot,
                    libc::MAP_SHARED,
                    fd,
                    off as libc::off_t,
                )
            };
        }
        13 => match rng.below(4) {
            0 => {
                let c = KringRegionCreate {
                    policy: KRING_REGION_IMMUTABLE,
                    flags: 0,
                    size: rng.pick(&[1, 4096, 4097]),
                    max_size: 0,
                    slot_size: 0,
                    slot_count: 0,
                };
                // SAFETY: REGION_CREATE only reads `c`.
                unsafe { child_ioctl(fd, KRING_IOC_REGION_CREATE, addr_of(&c)) };
            }
            1 => {
                let w = KringRegionWrite {
                    offset: rng.below(4096),
                    addr: send,
                    len: rng.pick(&[1, 64, 4096]),
                    flags: 0,
                };
                // SAFETY: REGION_WRITE only reads `w` and the bytes at `send`.
                unsafe { child_ioctl(fd, KRING_IOC_REGION_WRITE, addr_of(&w)) };
            }
            2 => {
                let mut a = KringRegionAppend {
                    addr: send,
                    len: rng.pick(&[1, 24, 4096]),
                    flags: 0,
                    committed: 0,
                };
                // SAFETY: REGION_APPEND writes only `a`.
                unsafe { child_ioctl(fd, KRING_IOC_REGION_APPEND, addr_of_mut(&mut a)) };
            }
            _ => {
                // SAFETY: REGION_SEAL takes no argument.
                unsafe { child_ioctl(fd, KRING_IOC_REGION_SEAL, 0) };
            }
        },
        14 => {
            let a = KringSendDesc {
                region_fd: fds[rng.index(nf) % MAX_FDS],
                flags: 0,
                offset: rng.below(64),
                length: rng.pick(&[1, 24, 4096]),
                priority: rng.below(4) as u8,
                pad: [0; 3],
                timeout_ms,
                reserved: 0,
            };
            // SAFETY: SEND_DESC only reads `a`.
            unsafe { child_ioctl(fd, KRING_IOC_SEND_DESC, addr_of(&a)) };
            if snap.nregions > 0 {
                let (region_id, generation) = snap.regions[rng.index(snap.nregions) % MAX_IDS];
                let o = KringRegionOpen {
                    queue_fd: fds[rng.index(nf) % MAX_FDS],
                    flags: 0,
                    region_id,
                    generation,
                };
                // SAFETY: REGION_OPEN only reads `o`.
                unsafe { child_ioctl(fd, KRING_IOC_REGION_OPEN, addr_of(&o)) };
            }
        }
        _ => {
            let mut info = KringInfo::zeroed();
            let mut p = [libc::pollfd {
                fd,
                events: libc::POLLIN | libc::POLLOUT,
                revents: 0,
            }];
            // SAFETY: INFO writes only `info`; poll writes only `p`.
            unsafe {
                child_ioctl(fd, KRING_IOC_INFO, addr_of_mut(&mut info));
                libc::poll(p.as_mut_ptr(), 1, timeout_ms as i32);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// Aborts the test binary if an operation runs for `HANG_LIMIT`: a kernel that does not
/// return would otherwise hang the whole VM run without a report.
fn watchdog(ctx: &Ctx) {
    while !ctx.watch_done.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let now = ctx.now_ms();
        for (tid, w) in ctx.watch.iter().enumerate() {
            let since = w.since_ms.load(Relaxed);
            if since != 0 && now.saturating_sub(since) > HANG_LIMIT.as_millis() as u64 {
                let op = OP_NAMES.get(w.op.load(Relaxed) as usize).unwrap_or(&"?");
                say(&format!(
                    "fuzz {} (replay: {}): thread {tid} has been in {op} on fd {} for {} s; aborting",
                    ctx.test,
                    ctx.replay(),
                    w.fd.load(Relaxed),
                    now.saturating_sub(since) / 1000
                ));
                std::process::abort();
            }
        }
    }
}

/// Closes every fd and mapping of the pool and unlinks every name the fuzzer may have used.
fn cleanup(ctx: &Ctx) {
    let (maps, fds) = {
        let mut p = lock(&ctx.pool);
        (std::mem::take(&mut p.maps), std::mem::take(&mut p.fds))
    };
    for m in maps {
        // SAFETY: the pool's mappings, and no worker is left to use them.
        if unsafe { libc::munmap(std::ptr::with_exposed_provenance_mut(m.addr), m.len) } != 0 {
            ctx.fail(format!(
                "{}: cleanup: munmap {m:?}: {}",
                ctx.test,
                errname(errno())
            ));
        }
    }
    for e in fds {
        // SAFETY: the pool's fds, and no worker is left to use them.
        if unsafe { libc::close(e.fd) } != 0 {
            ctx.fail(format!(
                "{}: cleanup: close {e:?}: {}",
                ctx.test,
                errname(errno())
            ));
        }
    }
    // SAFETY: a NUL-terminated literal path.
    let fd = unsafe { libc::open(c"/dev/kring".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        ctx.fail(format!(
            "{}: cleanup: open /dev/kring: {}",
            ctx.test,
            errname(errno())
        ));
        return;
    }
    for name in &ctx.names {
        let a = KringUnlink { name: *name };
        // SAFETY: UNLINK only reads `a`. The names may well not exist: errors do not matter.
        unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                fd,
                KRING_IOC_UNLINK as libc::c_ulong,
                addr_of(&a),
            )
        };
    }
    // SAFETY: the fd opened above.
    unsafe { libc::close(fd) };
}

/// The device works end to end after the fuzzer: a named queue and a region, through the crate.
fn device_still_works() -> Result<(), String> {
    let e = |what: &str, err: kring::Error| format!("{what} after fuzzing: {err}");
    let v = Kring::open()
        .and_then(|k| k.version())
        .map_err(|err| e("VERSION", err))?;
    if v.abi_major != KRING_ABI_MAJOR || v.features != KRING_FEATURES {
        return Err(format!("VERSION after fuzzing: {v:?}"));
    }
    let name = unique_name("fuzz-after");
    let q = Queue::create(
        QueueConfig::new(8, 64),
        &CreateOptions {
            name: Some(&name),
            ..Default::default()
        },
    )
    .map_err(|err| e("create", err))?;
    q.send(b"still works", MsgPriority::High)
        .map_err(|err| e("send", err))?;
    let mut buf = [0u8; 64];
    let n = q.recv(&mut buf).map_err(|err| e("recv", err))?;
    Queue::unlink(&name).map_err(|err| e("unlink", err))?;
    if &buf[..n] != b"still works" {
        return Err(format!("received {:?} after fuzzing", &buf[..n]));
    }
    let r = Region::create(RegionPolicy::Immutable { size: 4096 })
        .map_err(|err| e("region create", err))?;
    r.write(0, b"region")
        .map_err(|err| e("region write", err))?;
    r.seal().map_err(|err| e("region seal", err))?;
    match r.stable_bytes().map_err(|err| e("region map", err))? {
        Some(b) if b.starts_with(b"region") => {}
        b => {
            return Err(format!(
                "region bytes after fuzzing: {:?}",
                b.map(|b| &b[..b.len().min(8)])
            ))
        }
    }
    Ok(())
}

fn fuzz(test: &'static str, threads: usize, fork: bool) {
    require_module();
    let _serial = lock(&SERIAL);
    let ctx = Ctx::new(test, threads > 1);
    say(&format!(
        "fuzz {test}: {threads} thread(s){}, seed {:#x}, {} s, at most {} ops; replay: {}",
        if fork { " forking children" } else { "" },
        ctx.seed,
        ctx.secs,
        ctx.max_ops,
        ctx.replay()
    ));
    let stats = std::thread::scope(|s| {
        let dog = s.spawn(|| watchdog(&ctx));
        let workers: Vec<_> = (0..threads)
            .map(|tid| {
                let ctx = &ctx;
                s.spawn(move || {
                    let mut w = Worker::new(ctx, tid, fork);
                    w.run();
                    w.stats
                })
            })
            .collect();
        let mut total = Stats::new();
        for (tid, h) in workers.into_iter().enumerate() {
            match h.join() {
                Ok(st) => total.add(&st),
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                    ctx.fail(format!(
                        "{test} (replay: {}): worker {tid} panicked: {}",
                        ctx.replay(),
                        msg.unwrap_or_default()
                    ));
                }
            }
        }
        ctx.watch_done.store(true, Relaxed);
        let _ = dog.join();
        total
    });
    cleanup(&ctx);
    let summary = format!(
        "fuzz {test}: seed {:#x}: {} ops in {:.1} s, {} children; ok/failed:{}",
        ctx.seed,
        stats.total(),
        ctx.t0.elapsed().as_secs_f64(),
        stats.children,
        stats.by_op()
    );
    say(&summary);
    if let Err(e) = device_still_works() {
        ctx.fail(format!("{test} (replay: {}): {e}", ctx.replay()));
    }
    let f = lock(&ctx.failures);
    assert!(
        f.is_empty(),
        "{summary}\n{} failure(s), replay with {}:\n{}",
        f.len(),
        ctx.replay(),
        f.join("\n")
    );
}

#[test]
fn fuzz_one_thread() {
    fuzz("one-thread", 1, false);
}

#[test]
fn fuzz_three_threads_sharing_one_pool() {
    fuzz("three-threads", THREADS, false);
}

#[test]
fn fuzz_with_forked_children_killed_at_random() {
    fuzz("fork-kill", 1, true);
}
