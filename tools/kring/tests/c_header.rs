// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Proves that the C UAPI header (`include/uapi/linux/kring.h`) and the Rust ABI
//! (`src/uapi.rs`, shared with the module) agree: every size, alignment, field offset, constant
//! and ioctl number is computed by a C compiler from the header and compared with Rust's value.

use std::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use kring::uapi::*;

/// (what, C expression, Rust value)
fn checks() -> Vec<(&'static str, &'static str, u64)> {
    vec![
        ("ABI major", "KRING_ABI_MAJOR", KRING_ABI_MAJOR as u64),
        ("ABI minor", "KRING_ABI_MINOR", KRING_ABI_MINOR as u64),
        ("release length", "KRING_RELEASE_LEN", KRING_RELEASE_LEN as u64),
        ("ioctl magic", "KRING_IOC_MAGIC", KRING_IOC_MAGIC as u64),
        ("KRING_IOC_VERSION", "KRING_IOC_VERSION", KRING_IOC_VERSION as u64),
        ("sizeof version", "sizeof(struct kring_version)", size_of::<KringVersion>() as u64),
        ("alignof version", "_Alignof(struct kring_version)", align_of::<KringVersion>() as u64),
        ("version.abi_major", "offsetof(struct kring_version, abi_major)", offset_of!(KringVersion, abi_major) as u64),
        ("version.abi_minor", "offsetof(struct kring_version, abi_minor)", offset_of!(KringVersion, abi_minor) as u64),
        ("version.features", "offsetof(struct kring_version, features)", offset_of!(KringVersion, features) as u64),
        ("version.release", "offsetof(struct kring_version, release)", offset_of!(KringVersion, release) as u64),
        ("sizeof version.release", "sizeof(((struct kring_version *)0)->release)", KRING_RELEASE_LEN as u64),
    ]
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
