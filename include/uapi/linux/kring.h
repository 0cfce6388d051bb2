/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * kring: kernel-mediated priority queues with an io_uring-like mmap interface.
 *
 * User-space ABI of /dev/kring. The Rust twin of this header is src/uapi.rs; a host test
 * (tools/kring/tests/c_header.rs) proves both agree on sizes, offsets and ioctl numbers.
 *
 * ABI rules (Documentation/uapi.rst): fixed-width fields only, explicit padding, identical
 * layout for 32- and 64-bit user space; reserved fields are zero in both directions;
 * incompatible changes bump KRING_ABI_MAJOR, compatible additions bump KRING_ABI_MINOR and
 * set a KRING_FEAT_* bit.
 */
#ifndef _UAPI_LINUX_KRING_H
#define _UAPI_LINUX_KRING_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KRING_ABI_MAJOR		1
#define KRING_ABI_MINOR		0

#define KRING_RELEASE_LEN	32

#define KRING_IOC_MAGIC		0xBB

/* Reply of KRING_IOC_VERSION. */
struct kring_version {
	__u32 abi_major;	/* KRING_ABI_MAJOR of the running module */
	__u32 abi_minor;	/* KRING_ABI_MINOR of the running module */
	__u64 features;		/* KRING_FEAT_* bits; none defined yet */
	char release[KRING_RELEASE_LEN];	/* module release, NUL-terminated */
};

/* Read the module's ABI version. Works on any open /dev/kring. */
#define KRING_IOC_VERSION	_IOR(KRING_IOC_MAGIC, 0x00, struct kring_version)

#endif /* _UAPI_LINUX_KRING_H */
