// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Proves that the C UAPI header (`include/uapi/linux/kring.h`) and the Rust ABI
//! (`src/uapi.rs`, shared with the module) agree: every size, alignment, field offset, constant
//! and ioctl number is computed by a C compiler from the header and compared with Rust's value.

use std::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use kring::uapi::*;

/// `struct` size and alignment checks.
macro_rules! layout {
    ($v:ident, $t:ty, $c:literal) => {
        $v.push((concat!("sizeof ", $c), concat!("sizeof(struct ", $c, ")"), size_of::<$t>() as u64));
        $v.push((concat!("alignof ", $c), concat!("_Alignof(struct ", $c, ")"), align_of::<$t>() as u64));
    };
}
/// Field offset and size checks.
macro_rules! fields {
    ($v:ident, $t:ty, $c:literal, $($f:ident),+) => {$(
        $v.push((
            concat!($c, ".", stringify!($f)),
            concat!("offsetof(struct ", $c, ", ", stringify!($f), ")"),
            offset_of!($t, $f) as u64,
        ));
        $v.push((
            concat!("sizeof ", $c, ".", stringify!($f)),
            concat!("sizeof(((struct ", $c, " *)0)->", stringify!($f), ")"),
            {
                let x: $t = unsafe { std::mem::zeroed() };
                std::mem::size_of_val(&x.$f) as u64
            },
        ));
    )+};
}
/// Constant checks.
macro_rules! consts {
    ($v:ident, $($c:ident),+) => {$(
        $v.push((stringify!($c), stringify!($c), $c as u64));
    )+};
}

/// (what, C expression, Rust value)
fn checks() -> Vec<(&'static str, &'static str, u64)> {
    let mut v = Vec::new();
    consts!(v, KRING_ABI_MAJOR, KRING_ABI_MINOR, KRING_RELEASE_LEN, KRING_IOC_MAGIC, KRING_FEAT_QUEUES);
    consts!(v, KRING_PRIO_LOW, KRING_PRIO_NORMAL, KRING_PRIO_HIGH, KRING_PRIO_URGENT, KRING_NR_PRIO);
    consts!(v, KRING_RING_SIZE_MAX, KRING_MSG_SIZE_MAX, KRING_NAME_MAX, KRING_MODE_MASK);
    consts!(v, KRING_RIGHT_SEND, KRING_RIGHT_RECV, KRING_RIGHTS_ALL, KRING_TIMEOUT_INFINITE);
    consts!(v, KRING_KIND_INLINE, KRING_KIND_DESCRIPTOR, KRING_INFO_NAMED, KRING_RECV_PEEK, KRING_ENTER_WAIT, KRING_ENTER_GETMSG);
    consts!(v, KRING_HEADER_MAGIC, KRING_HDR_WAKE_SENDERS);
    consts!(v, KRING_OFF_HEADER, KRING_OFF_CONSUMER, KRING_OFF_ENTRIES, KRING_OFF_PAYLOAD, KRING_OFF_SUBMIT);
    consts!(v, KRING_IOC_VERSION, KRING_IOC_CREATE, KRING_IOC_OPEN, KRING_IOC_UNLINK, KRING_IOC_INFO);
    consts!(v, KRING_IOC_SEND, KRING_IOC_RECV, KRING_IOC_ENTER, KRING_IOC_WAIT, KRING_IOC_NOTIFY);

    consts!(v, KRING_FEAT_REGIONS, KRING_REGION_IMMUTABLE, KRING_REGION_APPEND_ONLY, KRING_REGION_SLAB);
    consts!(v, KRING_REGION_SEALED, KRING_OFF_REGION, KRING_IOC_REGION_CREATE, KRING_IOC_REGION_INFO);
    consts!(v, KRING_IOC_REGION_WRITE, KRING_IOC_REGION_APPEND, KRING_IOC_REGION_SEAL);
    consts!(v, KRING_FEAT_DESCRIPTORS, KRING_DESCRIPTOR_SIZE, KRING_SQE_DESC, KRING_IOC_SEND_DESC, KRING_IOC_REGION_OPEN);
    consts!(v, KRING_FEAT_SCHEMAS, KRING_SCHEMA_SIZE_MAX, KRING_SCHEMA_INDEX_SINGLE, KRING_IOC_SCHEMA_REGISTER, KRING_IOC_SCHEMA_ERROR);
    consts!(v, KRING_FEAT_WAKE_ROOM, KRING_FEAT_USER_LIMITS);
    consts!(v, KRING_SCHEMA_E_SHORT, KRING_SCHEMA_E_BOOL, KRING_SCHEMA_E_CHAR, KRING_SCHEMA_E_UTF8, KRING_SCHEMA_E_DISCRIMINANT);
    consts!(v, KRING_SCHEMA_E_FLAGS, KRING_SCHEMA_E_PADDING, KRING_SCHEMA_E_BOUNDS, KRING_SCHEMA_E_OFFSET, KRING_SCHEMA_E_TRAILING);
    consts!(v, KRING_SCHEMA_E_DEPTH);
    layout!(v, KringSchemaRegister, "kring_schema_register");
    fields!(v, KringSchemaRegister, "kring_schema_register", addr, len, flags, id, min_size);
    layout!(v, KringSchemaError, "kring_schema_error");
    fields!(v, KringSchemaError, "kring_schema_error", count, reason, node, offset, index, schema);
    layout!(v, KringDescriptor, "kring_descriptor");
    fields!(v, KringDescriptor, "kring_descriptor", region_id, generation, offset, length, pad);
    layout!(v, KringSendDesc, "kring_send_desc");
    fields!(v, KringSendDesc, "kring_send_desc", region_fd, flags, offset, length, priority, pad, timeout_ms, reserved);
    layout!(v, KringDescSubmit, "kring_desc_submit");
    fields!(v, KringDescSubmit, "kring_desc_submit", region_fd, length, offset);
    layout!(v, KringRegionOpen, "kring_region_open");
    fields!(v, KringRegionOpen, "kring_region_open", queue_fd, flags, region_id, generation);
    layout!(v, KringRegionCreate, "kring_region_create");
    fields!(v, KringRegionCreate, "kring_region_create", policy, flags, size, max_size, slot_size, slot_count);
    layout!(v, KringRegionInfo, "kring_region_info");
    fields!(v, KringRegionInfo, "kring_region_info", id, generation, policy, flags, size, committed, slot_size, slot_count);
    layout!(v, KringRegionWrite, "kring_region_write");
    fields!(v, KringRegionWrite, "kring_region_write", offset, addr, len, flags);
    layout!(v, KringRegionAppend, "kring_region_append");
    fields!(v, KringRegionAppend, "kring_region_append", addr, len, flags, committed);
    layout!(v, KringVersion, "kring_version");
    fields!(v, KringVersion, "kring_version", abi_major, abi_minor, features, release);
    layout!(v, KringCreate, "kring_create");
    fields!(v, KringCreate, "kring_create", ring_size, max_msg_size, schema, mode, rights, flags, name);
    layout!(v, KringOpen, "kring_open");
    fields!(v, KringOpen, "kring_open", rights, flags, name);
    layout!(v, KringUnlink, "kring_unlink");
    fields!(v, KringUnlink, "kring_unlink", name);
    layout!(v, KringInfo, "kring_info");
    fields!(v, KringInfo, "kring_info", ring_size, max_msg_size, schema, rights, slot_size, sq_entries);
    fields!(v, KringInfo, "kring_info", sq_data_size, mode, uid, gid, flags, reserved, len, send_count);
    fields!(v, KringInfo, "kring_info", recv_count, header_len, consumer_len, entries_len, payload_len);
    fields!(v, KringInfo, "kring_info", submit_len);
    layout!(v, KringSend, "kring_send");
    fields!(v, KringSend, "kring_send", addr, len, priority, pad, flags, timeout_ms);
    layout!(v, KringRecv, "kring_recv");
    fields!(v, KringRecv, "kring_recv", addr, len, flags, timeout_ms, msg_len, seq, priority, kind, pad);
    layout!(v, KringEnter, "kring_enter");
    fields!(v, KringEnter, "kring_enter", start, count, flags, timeout_ms, submitted, error);
    layout!(v, KringWait, "kring_wait");
    fields!(v, KringWait, "kring_wait", flags, timeout_ms);
    layout!(v, KringSqe, "kring_sqe");
    fields!(v, KringSqe, "kring_sqe", offset, len, priority, flags, reserved, reserved2);
    layout!(v, KringEntry, "kring_entry");
    fields!(v, KringEntry, "kring_entry", seq, len, slot, priority, kind, flags, reserved, reserved2);
    layout!(v, KringHeader, "kring_header");
    fields!(v, KringHeader, "kring_header", magic, ring_size, ring_mask, slot_size, max_msg_size, flags);
    fields!(v, KringHeader, "kring_header", seq, wake_room, tail, send_count, reserved);
    layout!(v, KringConsumer, "kring_consumer");
    fields!(v, KringConsumer, "kring_consumer", head, reserved);
    v
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn c_header_matches_rust_abi() {
    let root = repo_root();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_header");
    std::fs::create_dir_all(&dir).unwrap();
    let checks = checks();

    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <linux/kring.h>\nint main(void) {\n",
    );
    for (_, expr, _) in &checks {
        c += &format!("\tprintf(\"%llu\\n\", (unsigned long long)({expr}));\n");
    }
    c += "\treturn 0;\n}\n";
    let src = dir.join("abi.c");
    let exe = dir.join("abi");
    std::fs::write(&src, c).unwrap();

    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(root.join("include/uapi"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(out.status.success(), "C header does not compile:\n{}", String::from_utf8_lossy(&out.stderr));

    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let values: Vec<u64> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(values.len(), checks.len());

    let mismatches: Vec<String> = checks
        .iter()
        .zip(&values)
        .filter(|((_, _, rust), c)| rust != *c)
        .map(|((what, expr, rust), c)| format!("{what}: C `{expr}` = {c}, Rust = {rust}"))
        .collect();
    assert!(mismatches.is_empty(), "C header and Rust ABI disagree:\n{}", mismatches.join("\n"));
}

#[test]
fn c_header_is_self_contained_and_warning_free_as_cxx_too() {
    // The header must compile on its own (no prior includes) in C and C++.
    let root = repo_root();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_header");
    std::fs::create_dir_all(&dir).unwrap();
    for (lang, compiler) in [("c", "cc"), ("c++", "c++")] {
        let src = dir.join(format!("only.{}", if lang == "c" { "c" } else { "cc" }));
        std::fs::write(&src, "#include <linux/kring.h>\nint main(void) { return 0; }\n").unwrap();
        let out = Command::new(compiler)
            .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", lang])
            .arg("-I")
            .arg(root.join("include/uapi"))
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{compiler}`: {e}"));
        assert!(out.status.success(), "{lang}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
