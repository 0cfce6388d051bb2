// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Helpers shared by kring's VM test suites (`tests/vm/tests/*.rs`).
//!
//! These suites need the module loaded and run as root inside the test VM (`make test`);
//! `cargo test` on the host does not build them (they are not default workspace members).

use std::path::Path;

/// Whether the kring module is loaded (its sysfs directory exists).
pub fn module_loaded() -> bool {
    Path::new("/sys/module/kring").exists()
}

/// Refuses to run outside the VM: these tests would fail confusingly on a host without kring.
pub fn require_module() {
    assert!(
        module_loaded(),
        "the kring module is not loaded: VM suites run inside the test VM (`make test`)"
    );
}

/// A queue name unique to this process and call site, so suites never collide.
pub fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
