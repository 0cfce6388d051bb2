/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * kring: kernel-mediated priority queues with an io_uring-like mmap interface.
 *
 * User-space ABI of /dev/kring. The Rust twin of this header is src/uapi.rs; a host test
 * (tools/kring/tests/c_header.rs) proves both agree on sizes, offsets and ioctl numbers.
 *
 * ABI rules (Documentation/uapi.md): fixed-width fields only, explicit padding, identical
 * layout for 32- and 64-bit user space; reserved fields are zero in both directions;
 * incompatible changes bump KRING_ABI_MAJOR, compatible additions bump KRING_ABI_MINOR and
 * set a KRING_FEAT_* bit.
 */
#ifndef _UAPI_LINUX_KRING_H
#define _UAPI_LINUX_KRING_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KRING_ABI_MAJOR		1
#define KRING_ABI_MINOR		6

/* kring_version.features */
#define KRING_FEAT_QUEUES	(1ULL << 0)	/* ABI 1.1: queues */
#define KRING_FEAT_REGIONS	(1ULL << 1)	/* ABI 1.2: regions */
#define KRING_FEAT_DESCRIPTORS	(1ULL << 2)	/* ABI 1.3: zero-copy descriptors */
#define KRING_FEAT_SCHEMAS	(1ULL << 3)	/* ABI 1.4: schemas checked at send time */
#define KRING_FEAT_WAKE_ROOM	(1ULL << 4)	/* ABI 1.5: kring_header.wake_room */
#define KRING_FEAT_USER_LIMITS	(1ULL << 5)	/* ABI 1.6: per-user limits (EDQUOT), waits never early */

#define KRING_RELEASE_LEN	32

#define KRING_IOC_MAGIC		0xBB

/* Reply of KRING_IOC_VERSION. */
struct kring_version {
	__u32 abi_major;	/* KRING_ABI_MAJOR of the running module */
	__u32 abi_minor;	/* KRING_ABI_MINOR of the running module */
	__u64 features;		/* KRING_FEAT_* bits */
	char release[KRING_RELEASE_LEN];	/* module release, NUL-terminated */
};

/* Read the module's ABI version. Works on any open /dev/kring. */
#define KRING_IOC_VERSION	_IOR(KRING_IOC_MAGIC, 0x00, struct kring_version)

/*
 * Queues (ABI 1.1, KRING_FEAT_QUEUES).
 *
 * A /dev/kring fd becomes a queue handle with KRING_IOC_CREATE or KRING_IOC_OPEN (once; it
 * cannot be rebound). The handle carries rights: KRING_RIGHT_SEND and/or KRING_RIGHT_RECV; a
 * queue has at most one fd with KRING_RIGHT_RECV (its receiver). Handles can be inherited and
 * passed with SCM_RIGHTS: the fd is the capability.
 *
 * Memory (see Documentation/uapi.md for the full protocol):
 *   KRING_OFF_HEADER    struct kring_header, kernel-written, read-only for everyone
 *   KRING_OFF_CONSUMER  struct kring_consumer, written by the receiver only
 *   KRING_OFF_ENTRIES   KRING_NR_PRIO rings of ring_size struct kring_entry (receiver, read-only)
 *   KRING_OFF_PAYLOAD   ring_size payload slots of slot_size bytes (receiver, read-only)
 *   KRING_OFF_SUBMIT    this fd's sq_entries struct kring_sqe, then sq_data_size bytes
 *                       (senders, read-write)
 * Delivery: ring p holds priority p. The receiver takes the oldest entry of the highest
 * non-empty priority: entry = ring[p][head[p] & ring_mask] while head[p] != tail[p]
 * (tail read with acquire), copies the payload, then store-releases head[p] + 1. If
 * header.flags has KRING_HDR_WAKE_SENDERS after a full barrier, and at least header.wake_room
 * places are free (ring_size minus the messages queued; 0 means any), it calls KRING_IOC_NOTIFY.
 */
#define KRING_PRIO_LOW		0
#define KRING_PRIO_NORMAL	1
#define KRING_PRIO_HIGH		2
#define KRING_PRIO_URGENT	3
#define KRING_NR_PRIO		4

#define KRING_RING_SIZE_MAX	32768
#define KRING_MSG_SIZE_MAX	(1U << 20)
#define KRING_NAME_MAX		64
#define KRING_MODE_MASK		0777

#define KRING_RIGHT_SEND	(1U << 0)
#define KRING_RIGHT_RECV	(1U << 1)
#define KRING_RIGHTS_ALL	(KRING_RIGHT_SEND | KRING_RIGHT_RECV)

#define KRING_TIMEOUT_INFINITE	0xffffffffU

#define KRING_KIND_INLINE	0
#define KRING_KIND_DESCRIPTOR	1

struct kring_create {
	__u32 ring_size;	/* power of two, 1..KRING_RING_SIZE_MAX */
	__u32 max_msg_size;	/* 1..KRING_MSG_SIZE_MAX */
	__u32 schema;		/* 0 = none, else a KRING_IOC_SCHEMA_REGISTER id */
	__u32 mode;		/* permission bits, KRING_MODE_MASK */
	__u32 rights;		/* KRING_RIGHT_* of this fd */
	__u32 flags;		/* reserved, 0 */
	char name[KRING_NAME_MAX];	/* "" = anonymous */
};

struct kring_open {
	__u32 rights;
	__u32 flags;		/* reserved, 0 */
	char name[KRING_NAME_MAX];
};

struct kring_unlink {
	char name[KRING_NAME_MAX];
};

#define KRING_INFO_NAMED	(1U << 0)

struct kring_info {
	__u32 ring_size;
	__u32 max_msg_size;
	__u32 schema;
	__u32 rights;
	__u32 slot_size;
	__u32 sq_entries;
	__u32 sq_data_size;
	__u32 mode;
	__u32 uid;		/* owner, as the initial user namespace sees it */
	__u32 gid;
	__u32 flags;		/* KRING_INFO_* */
	__u32 reserved;
	__u64 len;
	__u64 send_count;
	__u64 recv_count;
	__u64 header_len;
	__u64 consumer_len;
	__u64 entries_len;
	__u64 payload_len;
	__u64 submit_len;
};

struct kring_send {
	__u64 addr;
	__u32 len;
	__u8 priority;
	__u8 pad[3];		/* 0 */
	__u32 flags;		/* reserved, 0 */
	__u32 timeout_ms;	/* 0: ENOSPC at once when full */
};

#define KRING_RECV_PEEK		(1U << 0)

struct kring_recv {
	__u64 addr;		/* in */
	__u32 len;		/* in */
	__u32 flags;		/* in: KRING_RECV_* */
	__u32 timeout_ms;	/* in: 0: EAGAIN at once when empty */
	__u32 msg_len;		/* out, also on EOVERFLOW */
	__u64 seq;		/* out */
	__u8 priority;		/* out */
	__u8 kind;		/* out */
	__u8 pad[6];
};

#define KRING_ENTER_WAIT	(1U << 0)	/* wait for room instead of stopping when full */
#define KRING_ENTER_GETMSG	(1U << 1)	/* then wait until a message can be received */

struct kring_enter {
	__u32 start;
	__u32 count;
	__u32 flags;		/* KRING_ENTER_* */
	__u32 timeout_ms;
	__u32 submitted;	/* out */
	__u32 error;		/* in: 0; out: errno that stopped the batch early, or 0 */
};

struct kring_wait {
	__u32 flags;		/* reserved, 0 */
	__u32 timeout_ms;
};

struct kring_sqe {
	__u32 offset;		/* of the payload in the submission data buffer */
	__u32 len;
	__u8 priority;
	__u8 flags;		/* 0 */
	__u16 reserved;		/* 0 */
	__u32 reserved2;	/* 0 */
};

struct kring_entry {
	__u64 seq;
	__u32 len;
	__u32 slot;		/* payload at slot * slot_size in the payload area */
	__u8 priority;
	__u8 kind;		/* KRING_KIND_* */
	__u16 flags;
	__u32 reserved;
	__u64 reserved2;
};

#define KRING_HEADER_MAGIC	0x4b52494eU
#define KRING_HDR_WAKE_SENDERS	(1U << 0)

struct kring_header {
	__u32 magic;
	__u32 ring_size;
	__u32 ring_mask;
	__u32 slot_size;
	__u32 max_msg_size;
	__u32 flags;		/* KRING_HDR_* */
	__u32 seq;		/* odd while tail/send_count change */
	__u32 wake_room;	/* with KRING_HDR_WAKE_SENDERS: free places a sender waits for */
	__u32 tail[KRING_NR_PRIO];
	__u64 send_count;
	__u64 reserved[3];
};

struct kring_consumer {
	__u32 head[KRING_NR_PRIO];
	__u64 reserved[2];
};

#define KRING_OFF_HEADER	0x00000000ULL
#define KRING_OFF_CONSUMER	0x10000000ULL
#define KRING_OFF_ENTRIES	0x20000000ULL
#define KRING_OFF_PAYLOAD	0x30000000ULL
#define KRING_OFF_SUBMIT	0x40000000ULL

#define KRING_IOC_CREATE	_IOW(KRING_IOC_MAGIC, 0x01, struct kring_create)
#define KRING_IOC_OPEN		_IOW(KRING_IOC_MAGIC, 0x02, struct kring_open)
#define KRING_IOC_UNLINK	_IOW(KRING_IOC_MAGIC, 0x03, struct kring_unlink)
#define KRING_IOC_INFO		_IOR(KRING_IOC_MAGIC, 0x04, struct kring_info)
#define KRING_IOC_SEND		_IOW(KRING_IOC_MAGIC, 0x05, struct kring_send)
#define KRING_IOC_RECV		_IOWR(KRING_IOC_MAGIC, 0x06, struct kring_recv)
#define KRING_IOC_ENTER		_IOWR(KRING_IOC_MAGIC, 0x07, struct kring_enter)
#define KRING_IOC_WAIT		_IOW(KRING_IOC_MAGIC, 0x08, struct kring_wait)
#define KRING_IOC_NOTIFY	_IO(KRING_IOC_MAGIC, 0x09)

/*
 * Regions (ABI 1.2, KRING_FEAT_REGIONS).
 *
 * A /dev/kring fd becomes a region handle with KRING_IOC_REGION_CREATE (once). The region's
 * bytes are mapped at KRING_OFF_REGION of that fd: read-only (VM_MAYWRITE cleared) for Immutable
 * and AppendOnly regions, read-write for Slab regions. Immutable regions are filled with
 * KRING_IOC_REGION_WRITE and sealed with KRING_IOC_REGION_SEAL; AppendOnly regions grow with
 * KRING_IOC_REGION_APPEND. Memory is charged to the creator's memory cgroup and to per-user
 * limits (module parameters max_region_bytes, max_user_region_bytes).
 */
#define KRING_REGION_IMMUTABLE		0
#define KRING_REGION_APPEND_ONLY	1
#define KRING_REGION_SLAB		2

#define KRING_REGION_SEALED	(1U << 0)

#define KRING_OFF_REGION	0x00000000ULL

struct kring_region_create {
	__u32 policy;		/* KRING_REGION_* */
	__u32 flags;		/* reserved, 0 */
	__u64 size;		/* Immutable: size; else 0 */
	__u64 max_size;		/* AppendOnly: largest committed length; else 0 */
	__u32 slot_size;	/* Slab: bytes per slot; else 0 */
	__u32 slot_count;	/* Slab: slots; else 0 */
};

struct kring_region_info {
	__u32 id;
	__u32 generation;
	__u32 policy;
	__u32 flags;		/* KRING_REGION_SEALED */
	__u64 size;		/* capacity */
	__u64 committed;	/* AppendOnly: committed; Immutable: size once sealed; Slab: size */
	__u32 slot_size;
	__u32 slot_count;
};

struct kring_region_write {
	__u64 offset;
	__u64 addr;
	__u32 len;
	__u32 flags;		/* reserved, 0 */
};

struct kring_region_append {
	__u64 addr;		/* in */
	__u32 len;		/* in */
	__u32 flags;		/* in: reserved, 0 */
	__u64 committed;	/* out */
};

#define KRING_IOC_REGION_CREATE	_IOW(KRING_IOC_MAGIC, 0x10, struct kring_region_create)
#define KRING_IOC_REGION_INFO	_IOR(KRING_IOC_MAGIC, 0x11, struct kring_region_info)
#define KRING_IOC_REGION_WRITE	_IOW(KRING_IOC_MAGIC, 0x12, struct kring_region_write)
#define KRING_IOC_REGION_APPEND	_IOWR(KRING_IOC_MAGIC, 0x13, struct kring_region_append)
#define KRING_IOC_REGION_SEAL	_IO(KRING_IOC_MAGIC, 0x14)

/*
 * Descriptors (ABI 1.3, KRING_FEAT_DESCRIPTORS).
 *
 * KRING_IOC_SEND_DESC queues a message of kind KRING_KIND_DESCRIPTOR whose 24-byte payload is
 * a struct kring_descriptor (little-endian). The kernel validates it against the region's real
 * state (sealed Immutable, or below an AppendOnly region's committed length; never Slab) and
 * keeps the region alive while the descriptor is queued. The receiver opens the region,
 * read-only, with KRING_IOC_REGION_OPEN while the descriptor is still queued, then reads the
 * bytes from its mapping. In a batch, an entry with KRING_SQE_DESC carries a
 * struct kring_desc_submit (8-byte aligned) as its payload.
 */
struct kring_descriptor {
	__u32 region_id;
	__u32 generation;
	__u64 offset;
	__u32 length;
	__u32 pad;		/* 0 */
};

#define KRING_DESCRIPTOR_SIZE	24

struct kring_send_desc {
	__s32 region_fd;	/* an fd bound to the region */
	__u32 flags;		/* reserved, 0 */
	__u64 offset;
	__u32 length;
	__u8 priority;
	__u8 pad[3];		/* 0 */
	__u32 timeout_ms;
	__u32 reserved;		/* 0 */
};

#define KRING_SQE_DESC		(1U << 0)	/* kring_sqe.flags */

struct kring_desc_submit {
	__s32 region_fd;
	__u32 length;
	__u64 offset;
};

struct kring_region_open {
	__s32 queue_fd;		/* the caller's receiving queue fd */
	__u32 flags;		/* reserved, 0 */
	__u32 region_id;
	__u32 generation;
};

#define KRING_IOC_SEND_DESC	_IOW(KRING_IOC_MAGIC, 0x15, struct kring_send_desc)
#define KRING_IOC_REGION_OPEN	_IOW(KRING_IOC_MAGIC, 0x16, struct kring_region_open)

/*
 * Schemas (ABI 1.4, KRING_FEAT_SCHEMAS).
 *
 * A schema program (format in Documentation/schemas.md) describes a WIT type. Registering it
 * returns an id (the same bytes get the same id while the schema lives: while an fd that
 * registered it or a queue created with it exists). A queue created with kring_create.schema
 * set refuses, with EBADMSG, every message (inline, batched, or the bytes a descriptor names)
 * that is not the canonical encoding of that type; KRING_IOC_SCHEMA_ERROR then tells which
 * check failed, where.
 */
#define KRING_SCHEMA_SIZE_MAX	(16 + 1024 * 12 + 4096 * 4)

struct kring_schema_register {
	__u64 addr;		/* in: the program */
	__u32 len;		/* in: its length, 16..KRING_SCHEMA_SIZE_MAX */
	__u32 flags;		/* in: reserved, 0 */
	__u32 id;		/* in: 0; out: schema id, never 0 */
	__u32 min_size;		/* in: 0; out: inline size of the type (shortest message) */
};

/* kring_schema_error.reason */
#define KRING_SCHEMA_E_SHORT		1	/* message shorter than the type */
#define KRING_SCHEMA_E_BOOL		2	/* bool neither 0 nor 1 */
#define KRING_SCHEMA_E_CHAR		3	/* char not a Unicode scalar value */
#define KRING_SCHEMA_E_UTF8		4	/* string not valid UTF-8 */
#define KRING_SCHEMA_E_DISCRIMINANT	5	/* variant case out of range */
#define KRING_SCHEMA_E_FLAGS		6	/* unknown flag bits */
#define KRING_SCHEMA_E_PADDING		7	/* padding byte not zero */
#define KRING_SCHEMA_E_BOUNDS		8	/* string or list past the end */
#define KRING_SCHEMA_E_OFFSET		9	/* string or list not at its canonical offset */
#define KRING_SCHEMA_E_TRAILING		10	/* bytes after the last string or list */
#define KRING_SCHEMA_E_DEPTH		11	/* internal: nesting too deep */

#define KRING_SCHEMA_INDEX_SINGLE	0xffffffffU	/* not from a batch */

struct kring_schema_error {
	__u32 count;		/* messages this fd had refused so far (0: none) */
	__u32 reason;		/* KRING_SCHEMA_E_* */
	__u32 node;		/* schema program node whose value was wrong */
	__u32 offset;		/* byte offset in the message */
	__u32 index;		/* batch entry, or KRING_SCHEMA_INDEX_SINGLE */
	__u32 schema;		/* the queue's schema id */
};

#define KRING_IOC_SCHEMA_REGISTER	_IOWR(KRING_IOC_MAGIC, 0x20, struct kring_schema_register)
#define KRING_IOC_SCHEMA_ERROR		_IOR(KRING_IOC_MAGIC, 0x21, struct kring_schema_error)

#endif /* _UAPI_LINUX_KRING_H */
