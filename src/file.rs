// SPDX-License-Identifier: GPL-2.0
//! An open `/dev/kring` file: unbound, or bound (once) to a queue with a set of rights.
//!
//! Every ioctl argument is copied into kernel memory once, validated there (reserved fields
//! must be zero), and only then acted on. No lock is held while copying arguments.

use kernel::{
    bindings,
    fs::{file, File},
    ioctl::_IOC_SIZE,
    mm::virt::{flags as vmflags, VmaNew},
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    seq_file::{seq_print, SeqFile},
    new_mutex,
    sync::{poll::PollTable, Arc, Mutex, SetOnce},
    transmute::{AsBytes, FromBytes},
    uaccess::{UserSlice, UserSliceReader},
};

use crate::{
    deadline::Deadline,
    limits::{self, UserCharge},
    module_parameters,
    queue::Queue,
    region::Region,
    registry,
    schema::Violation,
    schemas::{self, SchemaRef},
    ring::{self, Geometry},
    shm::SharedMem,
    uapi::*,
};

// SAFETY (for all `FromBytes`/`AsBytes` below): each type is `#[repr(C)]`, made only of integers
// and integer arrays, with no padding (sizes asserted in `uapi.rs` equal the sums of the
// fields), so any bit pattern is valid and every byte is initialised.
macro_rules! plain_abi {
    ($($t:ty),*) => {$(
        // SAFETY: see above.
        unsafe impl FromBytes for $t {}
        // SAFETY: see above.
        unsafe impl AsBytes for $t {}
    )*};
}
plain_abi!(
    KringVersion, KringCreate, KringOpen, KringUnlink, KringInfo, KringSend, KringRecv,
    KringEnter, KringWait, KringSqe, KringRegionCreate, KringRegionInfo, KringRegionWrite,
    KringRegionAppend, KringSendDesc, KringDescSubmit, KringRegionOpen, KringSchemaRegister,
    KringSchemaError
);

/// A queue binding: what a bound fd holds.
struct Binding {
    queue: Arc<Queue>,
    rights: u32,
    /// The submission area of this fd, allocated on first use (`ENTER` or `mmap`) and never
    /// replaced, so its users (an `ENTER` waiting for room, `->mmap` under `mmap_lock`) hold
    /// no lock for it.
    submit: SetOnce<SubmitArea>,
    /// Serialises the first allocation of `submit` only: held across that allocation and
    /// nothing else (never across a wait or a user copy).
    submit_alloc: Pin<KBox<Mutex<()>>>,
}

/// A sender's submission area and the charge its allocator pays for it.
struct SubmitArea {
    mem: SharedMem,
    _charge: UserCharge,
}

impl Binding {
    fn new(queue: Arc<Queue>, rights: u32) -> Result<Self> {
        let submit_alloc = KBox::pin_init(new_mutex!(()), GFP_KERNEL_ACCOUNT)?;
        queue.attach(rights)?;
        Ok(Self { queue, rights, submit: SetOnce::new(), submit_alloc })
    }

    fn need(&self, right: u32) -> Result<&Queue> {
        if self.rights & right == 0 {
            return Err(EBADF);
        }
        Ok(&self.queue)
    }

    /// This fd's submission area, allocated first if needed. Nothing is held once it returns.
    fn submit_area(&self) -> Result<&SharedMem> {
        if let Some(area) = self.submit.as_ref() {
            return Ok(&area.mem);
        }
        let _first = self.submit_alloc.lock();
        if self.submit.as_ref().is_none() {
            let len = self.queue.geo.submit_len as usize;
            // Paid by whoever makes the kernel allocate it, before it is allocated.
            let charge = UserCharge::bytes(Creds::current().uid.val, limits::pages(len))?;
            // Under `submit_alloc` no one else populates it, so this cannot lose a race.
            self.submit.populate(SubmitArea { mem: SharedMem::new(len)?, _charge: charge });
        }
        self.submit.as_ref().map(|a| &a.mem).ok_or(ENOMEM)
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.queue.detach(self.rights);
    }
}

/// The credentials of the calling task, for access checks (as `open(2)` and `mq_open(3)`
/// check the caller, not whoever opened some earlier fd). Like the VFS, kring checks and
/// assigns ownership by the filesystem ids (`fsuid`, `fsgid`: equal to the effective ids unless
/// the task changed them with `setfsuid(2)`). `kernel::cred::Credential` in 7.3 offers `euid`
/// only, hence the raw read.
struct Creds {
    uid: bindings::kuid_t,
    gid: bindings::kgid_t,
}

impl Creds {
    fn current() -> Self {
        // SAFETY: `get_current` is the running task; its `cred` pointer stays valid while the
        // task runs this system call, and only the task itself could replace it.
        unsafe {
            let cred = (*bindings::get_current()).cred;
            Self { uid: (*cred).fsuid, gid: (*cred).fsgid }
        }
    }

    /// Whether the caller may bypass permission bits (`CAP_DAC_OVERRIDE`; queues are global,
    /// so the capability counts in the initial user namespace only).
    fn overrides() -> bool {
        // SAFETY: plain FFI call on the current task.
        unsafe { bindings::capable(bindings::CAP_DAC_OVERRIDE as c_int) }
    }

    fn may(q: &Queue, rights: u32) -> bool {
        let c = Self::current();
        let owner = c.uid.val == q.uid.val;
        // SAFETY: plain FFI call: filesystem gid and supplementary groups of the current task.
        let group = !owner && unsafe { bindings::in_group_p(q.gid) } != 0;
        ring::mode_allows(q.mode, owner, group, rights) || Self::overrides()
    }
}

/// What an fd is bound to (once).
enum Bound {
    Queue(Binding),
    /// A region, and whether this fd may change it (the creator's fd) or only read it (an fd
    /// a receiver opened from a descriptor).
    Region(Arc<Region>, bool),
}

/// Per-fd schema state, behind `KringFile::schemas` (a leaf lock, held only briefly).
struct FileSchemas {
    /// Schemas this fd registered (each at most once): they live at least as long as the fd.
    held: KVec<SchemaRef>,
    /// The last message this fd had refused (`KRING_IOC_SCHEMA_ERROR`).
    last: KringSchemaError,
}

/// An open `/dev/kring` file.
pub(crate) struct KringFile {
    binding: SetOnce<Bound>,
    schemas: Pin<KBox<Mutex<FileSchemas>>>,
}

fn read_arg<T: FromBytes>(cmd: u32, arg: usize) -> Result<T> {
    if _IOC_SIZE(cmd) != core::mem::size_of::<T>() {
        return Err(EINVAL);
    }
    let mut r: UserSliceReader = UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>()).reader();
    r.read::<T>()
}

fn write_arg<T: AsBytes>(arg: usize, val: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>()).writer().write(val)
}

fn name_of(field: &[u8; KRING_NAME_MAX]) -> Result<Option<&[u8]>> {
    ring::parse_name(field).map_err(|_| EINVAL)
}

impl KringFile {
    pub(crate) fn open(_f: &File) -> Result<KBox<Self>> {
        let none = KringSchemaError { count: 0, reason: 0, node: 0, offset: 0, index: 0, schema: 0 };
        let schemas = KBox::pin_init(new_mutex!(FileSchemas { held: KVec::new(), last: none }), GFP_KERNEL_ACCOUNT)?;
        Ok(KBox::new(Self { binding: SetOnce::new(), schemas }, GFP_KERNEL_ACCOUNT)?)
    }

    /// Records a refused message for `KRING_IOC_SCHEMA_ERROR`.
    fn refused(&self, q: &Queue, v: Option<Violation>, index: u32) {
        if let Some(v) = v {
            let mut g = self.schemas.lock();
            g.last = KringSchemaError {
                count: g.last.count.wrapping_add(1),
                reason: v.reason,
                node: v.node,
                offset: v.offset,
                index,
                schema: q.schema.as_ref().map_or(0, |s| s.id()),
            };
        }
    }

    /// `KRING_IOC_SCHEMA_REGISTER`: loads the program at `a.addr` and returns its id.
    fn register_schema(&self, a: &mut KringSchemaRegister) -> Result {
        if a.flags != 0 || a.id != 0 || a.min_size != 0 {
            return Err(EINVAL);
        }
        if (a.len as usize) < crate::schema::HEADER_SIZE || a.len > KRING_SCHEMA_SIZE_MAX {
            return Err(EINVAL);
        }
        let addr = usize::try_from(a.addr).map_err(|_| EFAULT)?;
        let mut prog = KVVec::new();
        UserSlice::new(UserPtr::from_addr(addr), a.len as usize).reader().read_all(&mut prog, GFP_KERNEL_ACCOUNT)?;
        let s = schemas::register(prog, Creds::current().uid.val)?;
        a.id = s.id();
        a.min_size = s.min_size();
        // `s` must be dropped (which takes `SCHEMAS`) only after this fd's lock is released.
        let mut g = self.schemas.lock();
        if g.held.iter().any(|h| h.id() == s.id()) {
            // Already held by this fd: one reference is enough.
            drop(g);
            drop(s);
            return Ok(());
        }
        if g.held.len() >= schemas::PER_FILE_SCHEMAS {
            drop(g);
            drop(s);
            return Err(ENOMEM);
        }
        if let Err(e) = g.held.reserve(1, GFP_KERNEL_ACCOUNT) {
            drop(g);
            drop(s);
            return Err(e.into());
        }
        if let Err(e) = g.held.push_within_capacity(s) {
            drop(g);
            drop(e);
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// The queue this fd is bound to; `ENOTCONN` if it is unbound or a region.
    fn bound(&self) -> Result<&Binding> {
        match self.binding.as_ref() {
            Some(Bound::Queue(b)) => Ok(b),
            _ => Err(ENOTCONN),
        }
    }

    /// The region this fd is bound to; `ENOTCONN` if it is unbound or a queue.
    fn region(&self) -> Result<&Arc<Region>> {
        match self.binding.as_ref() {
            Some(Bound::Region(r, _)) => Ok(r),
            _ => Err(ENOTCONN),
        }
    }

    /// The region this fd may change; `EPERM` for a read-only region fd.
    fn region_rw(&self) -> Result<&Arc<Region>> {
        match self.binding.as_ref() {
            Some(Bound::Region(r, true)) => Ok(r),
            Some(Bound::Region(_, false)) => Err(EPERM),
            _ => Err(ENOTCONN),
        }
    }

    /// The region behind this fd, for a descriptor (any region fd grants access to its bytes).
    pub(crate) fn region_for_descriptor(&self) -> Result<Arc<Region>> {
        self.region().cloned().map_err(|_| EBADF)
    }

    /// The effective timeout: `O_NONBLOCK` files never wait.
    fn timeout(f: &File, timeout_ms: u32) -> u32 {
        if f.flags() & file::flags::O_NONBLOCK != 0 {
            0
        } else {
            timeout_ms
        }
    }

    fn bind(&self, b: Binding) -> Result {
        self.bind_any(Bound::Queue(b))
    }

    fn bind_any(&self, b: Bound) -> Result {
        if self.binding.populate(b) {
            Ok(())
        } else {
            Err(EISCONN)
        }
    }

    pub(crate) fn ioctl(&self, f: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            KRING_IOC_VERSION => {
                write_arg(arg, &KringVersion::current(KRING_RELEASE.as_bytes()))?;
                Ok(0)
            }
            KRING_IOC_CREATE => self.create(&read_arg::<KringCreate>(cmd, arg)?).map(|()| 0),
            KRING_IOC_OPEN => self.open_named(&read_arg::<KringOpen>(cmd, arg)?).map(|()| 0),
            KRING_IOC_UNLINK => Self::unlink(&read_arg::<KringUnlink>(cmd, arg)?).map(|()| 0),
            KRING_IOC_INFO => {
                let b = self.bound()?;
                // SAFETY-free zero value: every field is an integer.
                let mut info = KringInfo {
                    ring_size: 0, max_msg_size: 0, schema: 0, rights: b.rights, slot_size: 0,
                    sq_entries: 0, sq_data_size: 0, mode: 0, uid: 0, gid: 0, flags: 0,
                    reserved: 0, len: 0, send_count: 0, recv_count: 0, header_len: 0,
                    consumer_len: 0, entries_len: 0, payload_len: 0, submit_len: 0,
                };
                b.queue.info(&mut info);
                // Owner ids as the initial user namespace sees them (queues are global).
                info.uid = b.queue.uid.val;
                info.gid = b.queue.gid.val;
                write_arg(arg, &info)?;
                Ok(0)
            }
            KRING_IOC_SEND => {
                let args = read_arg::<KringSend>(cmd, arg)?;
                let q = self.bound()?.need(KRING_RIGHT_SEND)?;
                let mut refused = None;
                let r = q.send(&args, Self::timeout(f, args.timeout_ms), &mut refused);
                self.refused(q, refused, KRING_SCHEMA_INDEX_SINGLE);
                r.map(|()| 0)
            }
            KRING_IOC_RECV => {
                let args = read_arg::<KringRecv>(cmd, arg)?;
                if args.msg_len != 0 || args.seq != 0 || args.priority != 0 || args.kind != 0 || args.pad != [0; 6] {
                    return Err(EINVAL);
                }
                let q = self.bound()?.need(KRING_RIGHT_RECV)?;
                let mut out = args;
                let mut buf = KVVec::new();
                let claim = match q.recv_take(&args, Self::timeout(f, args.timeout_ms), &mut out, &mut buf) {
                    Ok(c) => c,
                    Err(e) => {
                        if e == EOVERFLOW {
                            write_arg(arg, &out)?;
                        }
                        return Err(e);
                    }
                };
                // Payload and reply reach user space (no queue lock held) before the message
                // is consumed: a failed copy loses nothing (dropping the claim consumes nothing).
                let addr = usize::try_from(args.addr).map_err(|_| EFAULT)?;
                UserSlice::new(UserPtr::from_addr(addr), buf.len()).writer().write_slice(&buf)?;
                write_arg(arg, &out)?;
                if args.flags & KRING_RECV_PEEK == 0 {
                    claim.commit();
                }
                Ok(0)
            }
            KRING_IOC_ENTER => {
                let args = read_arg::<KringEnter>(cmd, arg)?;
                if args.flags & !(KRING_ENTER_WAIT | KRING_ENTER_GETMSG) != 0 || args.error != 0 || args.submitted != 0 {
                    return Err(EINVAL);
                }
                let b = self.bound()?;
                let getmsg = args.flags & KRING_ENTER_GETMSG != 0;
                if getmsg {
                    b.need(KRING_RIGHT_RECV)?;
                }
                let timeout = Self::timeout(f, args.timeout_ms);
                // One deadline for the whole call: waiting for room and then for a message
                // together never take longer than `timeout_ms`.
                let deadline = Deadline::after_ms(timeout);
                let (n, stop) = if args.count == 0 {
                    // Nothing to submit: no send right or submission area needed.
                    if !getmsg {
                        return Err(EINVAL);
                    }
                    (0, Ok(()))
                } else {
                    let q = b.need(KRING_RIGHT_SEND)?;
                    // A range outside the area is refused before the area is allocated (and
                    // charged): `EINVAL`, not whatever the allocation would say.
                    if args.start.checked_add(args.count).is_none_or(|end| end > q.geo.sq_entries) {
                        return Err(EINVAL);
                    }
                    let mut refused = None;
                    let region_of = |fd| crate::chardev::with_kring_fd(fd, |f| f.region_for_descriptor());
                    let r = b.submit_area().map(|area| q.enter(area, &args, timeout, &deadline, &mut refused, &region_of));
                    // Entry `start + n` is the one that stopped the batch.
                    let n = r.as_ref().map_or(0, |(n, _)| *n);
                    self.refused(q, refused, args.start.wrapping_add(n));
                    r?
                };
                // Nothing accepted: the call fails with the reason.
                if n == 0 {
                    stop?;
                }
                let mut out = args;
                out.submitted = n;
                out.error = match stop {
                    Err(e) => e.to_errno().unsigned_abs(),
                    Ok(()) => 0,
                };
                // Once messages are queued, the return value is what reports them: a reply
                // that cannot be written must not turn accepted messages into an error.
                if let Err(e) = write_arg(arg, &out) {
                    if n == 0 {
                        return Err(e);
                    }
                }
                // Like io_uring_enter: once something was submitted, the call reports that
                // count; the wait's outcome is then for the receiver to see (len, peek, recv).
                if getmsg {
                    match b.queue.wait_for_message_until(timeout, &deadline) {
                        Ok(()) => {}
                        Err(_) if n > 0 => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(n as isize)
            }
            KRING_IOC_WAIT => {
                let args = read_arg::<KringWait>(cmd, arg)?;
                if args.flags != 0 {
                    return Err(EINVAL);
                }
                let q = self.bound()?.need(KRING_RIGHT_RECV)?;
                q.wait_for_message(Self::timeout(f, args.timeout_ms)).map(|()| 0)
            }
            KRING_IOC_NOTIFY => self.bound()?.need(KRING_RIGHT_RECV)?.notify().map(|()| 0),
            KRING_IOC_REGION_CREATE => {
                let c = read_arg::<KringRegionCreate>(cmd, arg)?;
                if self.binding.as_ref().is_some() {
                    return Err(EISCONN);
                }
                let region = Region::new(&c, Creds::current().uid.val)?;
                self.bind_any(Bound::Region(region, true)).map(|()| 0)
            }
            KRING_IOC_REGION_INFO => {
                write_arg(arg, &self.region()?.info())?;
                Ok(0)
            }
            KRING_IOC_REGION_WRITE => {
                let w = read_arg::<KringRegionWrite>(cmd, arg)?;
                self.region_rw()?.write(&w).map(|()| 0)
            }
            KRING_IOC_REGION_APPEND => {
                let a = read_arg::<KringRegionAppend>(cmd, arg)?;
                let committed = self.region_rw()?.append(&a)?;
                let mut out = a;
                out.committed = committed;
                write_arg(arg, &out)?;
                Ok(0)
            }
            KRING_IOC_REGION_SEAL => self.region_rw()?.seal().map(|()| 0),
            KRING_IOC_SEND_DESC => {
                let a = read_arg::<KringSendDesc>(cmd, arg)?;
                if a.flags != 0 || a.pad != [0; 3] || a.reserved != 0 {
                    return Err(EINVAL);
                }
                let q = self.bound()?.need(KRING_RIGHT_SEND)?;
                let region = crate::chardev::with_kring_fd(a.region_fd, |f| f.region_for_descriptor())?;
                let mut refused = None;
                let r = q.send_desc(region, a.offset, a.length, a.priority, Self::timeout(f, a.timeout_ms), &mut refused);
                self.refused(q, refused, KRING_SCHEMA_INDEX_SINGLE);
                r.map(|()| 0)
            }
            KRING_IOC_REGION_OPEN => {
                let a = read_arg::<KringRegionOpen>(cmd, arg)?;
                if a.flags != 0 {
                    return Err(EINVAL);
                }
                if self.binding.as_ref().is_some() {
                    return Err(EISCONN);
                }
                // Read access is granted to the receiver of a queued descriptor, and nobody else.
                // `queue_fd` must be a queue fd with the receive right: `EBADF` for any other
                // fd (not kring, unbound, a region, or a queue fd without that right).
                let region = crate::chardev::with_kring_fd(a.queue_fd, |qf| {
                    let q = qf.bound().map_err(|_| EBADF)?.need(KRING_RIGHT_RECV)?;
                    Ok(q.region_in_flight(a.region_id, a.generation))
                })?;
                match region {
                    Some(r) => self.bind_any(Bound::Region(r, false)).map(|()| 0),
                    None if Region::is_live(a.region_id, a.generation) => Err(EACCES),
                    None => Err(ESTALE),
                }
            }
            KRING_IOC_SCHEMA_REGISTER => {
                let mut a = read_arg::<KringSchemaRegister>(cmd, arg)?;
                self.register_schema(&mut a)?;
                write_arg(arg, &a)?;
                Ok(0)
            }
            KRING_IOC_SCHEMA_ERROR => {
                let last = self.schemas.lock().last;
                write_arg(arg, &last)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn create(&self, a: &KringCreate) -> Result {
        if self.binding.as_ref().is_some() {
            return Err(EISCONN);
        }
        if a.flags != 0 || !ring::valid_rights(a.rights) || !ring::valid_mode(a.mode) {
            return Err(EINVAL);
        }
        let name = name_of(&a.name)?;
        let geo = Geometry::new(a.ring_size, a.max_msg_size, PAGE_SIZE as u64).map_err(|_| EINVAL)?;
        if geo.queue_bytes() > module_parameters::max_queue_bytes.value() {
            return Err(ENOMEM);
        }
        let schema = match a.schema {
            0 => None,
            id => {
                let s = schemas::get(id)?;
                // No message could be both valid and small enough.
                if s.min_size() > a.max_msg_size {
                    return Err(EMSGSIZE);
                }
                Some(s)
            }
        };
        let c = Creds::current();
        let queue = Queue::new(geo, schema, a.mode, c.uid, c.gid)?;
        let binding = Binding::new(queue.clone(), a.rights)?;
        if let Some(name) = name {
            registry::insert(name, &queue)?;
            if let Err(e) = self.bind(binding) {
                registry::remove_if(name, &queue);
                return Err(e);
            }
            return Ok(());
        }
        self.bind(binding)
    }

    fn open_named(&self, a: &KringOpen) -> Result {
        if self.binding.as_ref().is_some() {
            return Err(EISCONN);
        }
        if a.flags != 0 || !ring::valid_rights(a.rights) {
            return Err(EINVAL);
        }
        let name = name_of(&a.name)?.ok_or(EINVAL)?;
        let queue = registry::lookup(name)?;
        if !Creds::may(&queue, a.rights) {
            return Err(EACCES);
        }
        self.bind(Binding::new(queue, a.rights)?)
    }

    fn unlink(a: &KringUnlink) -> Result {
        let name = name_of(&a.name)?.ok_or(EINVAL)?;
        registry::remove(name, |q| {
            // Like a sticky directory: only the owner (or CAP_DAC_OVERRIDE) removes a name.
            if Creds::current().uid.val == q.uid.val || Creds::overrides() {
                Ok(())
            } else {
                Err(EACCES)
            }
        })
    }

    pub(crate) fn mmap(&self, f: &File, vma: &VmaNew, pgoff: u64) -> Result {
        let _ = f;
        let off = pgoff.checked_shl(PAGE_SHIFT as u32).filter(|o| o >> PAGE_SHIFT == pgoff).ok_or(EINVAL)?;
        // MAYSHARE, not SHARED: the kernel clears VM_SHARED for MAP_SHARED of an O_RDONLY fd.
        if vma.flags() & vmflags::MAYSHARE == 0 {
            return Err(EINVAL);
        }
        if let Some(Bound::Region(r, rw)) = self.binding.as_ref() {
            if off != KRING_OFF_REGION {
                return Err(EINVAL);
            }
            return Self::map_area(vma, &r.mem, *rw && r.writable_mapping());
        }
        let b = self.bound()?;
        let q = &b.queue;
        let recv = b.rights & KRING_RIGHT_RECV != 0;
        let (area, writable): (&SharedMem, bool) = match off {
            KRING_OFF_HEADER => (&q.header, false),
            KRING_OFF_CONSUMER => (&q.consumer, recv),
            KRING_OFF_ENTRIES if recv => (&q.entries, false),
            KRING_OFF_PAYLOAD if recv => (&q.payload, false),
            KRING_OFF_SUBMIT if b.rights & KRING_RIGHT_SEND != 0 => {
                return Self::map_area(vma, b.submit_area()?, true);
            }
            KRING_OFF_ENTRIES | KRING_OFF_PAYLOAD | KRING_OFF_SUBMIT => return Err(EACCES),
            _ => return Err(EINVAL),
        };
        Self::map_area(vma, area, writable)
    }

    /// Maps `area` into `vma`: read-only for good (`VM_MAYWRITE` cleared) unless `writable`.
    fn map_area(vma: &VmaNew, area: &SharedMem, writable: bool) -> Result {
        let len = vma.end() - vma.start();
        if len > area.len() {
            return Err(EINVAL);
        }
        if vma.executable() {
            return Err(EACCES);
        }
        vma.try_clear_mayexec()?;
        if !writable {
            if vma.writable() {
                return Err(EACCES);
            }
            // mprotect(PROT_WRITE) can never make this mapping writable.
            vma.try_clear_maywrite()?;
        }
        vma.set_dontexpand();
        area.map(vma.set_mixedmap(), len)
    }

    pub(crate) fn poll(&self, f: &File, table: PollTable<'_>) -> bindings::__poll_t {
        let Ok(b) = self.bound() else {
            return bindings::POLLERR;
        };
        b.queue.poll_wait(f, &table, b.rights);
        let (r, w, hup) = b.queue.readiness(b.rights);
        let mut mask = 0;
        if r {
            mask |= bindings::POLLIN | bindings::POLLRDNORM;
        }
        if w {
            mask |= bindings::POLLOUT | bindings::POLLWRNORM;
        }
        if hup {
            mask |= bindings::POLLHUP;
        }
        mask
    }

    pub(crate) fn show_fdinfo(&self, m: &SeqFile) {
        match self.binding.as_ref() {
            None => seq_print!(m, "kring:\tunbound\n"),
            Some(Bound::Region(r, _)) => {
                let i = r.info();
                seq_print!(m, "kring-region:\tid={} generation={} policy={} size={}\n", i.id, i.generation, i.policy, i.size);
            }
            Some(Bound::Queue(b)) => {
                seq_print!(
                    m,
                    "kring-queue:\tring_size={} max_msg_size={} rights={:#x} schema={}\n",
                    b.queue.geo.ring_size,
                    b.queue.geo.max_msg_size,
                    b.rights,
                    b.queue.schema.as_ref().map_or(0, |s| s.id())
                );
            }
        }
        let g = self.schemas.lock();
        if !g.held.is_empty() || g.last.count != 0 {
            seq_print!(m, "kring-schemas:\tregistered={} refused={}\n", g.held.len(), g.last.count);
        }
    }
}
