#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of the harness itself: the dmesg judge must catch every report after the
# marker, ignore the boot-time splat before it, and refuse to judge a log without the marker.
# Prints PASS/FAIL lines and "selftest: N passed, M failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
passed=0
failed=0
M="kring-test-marker-123"
BOOT='[    0.003] BUG: KASAN: wild-memory-access in handle_edge_irq+0x1/0x2'

expect() { # expect NAME STATUS LOG
	local out rc
	out="$(printf '%s\n' "$3" | "$here/dmesg-check.sh" "$M")"
	rc=$?
	if [ "$rc" = "$2" ]; then
		passed=$((passed + 1))
		echo "PASS dmesg-check: $1"
	else
		failed=$((failed + 1))
		echo "FAIL dmesg-check: $1 (exit $rc, expected $2): $out"
	fi
}

expect "boot splat before the marker is ignored" 0 "$BOOT
[ 60.0] $M
[ 60.1] kring: kring 0.1.0 loaded (ABI 1.0): /dev/kring
[ 61.0] kring: kring 0.1.0 unloaded"
expect "missing marker cannot be judged" 2 "$BOOT
[ 60.1] kring: kring 0.1.0 loaded (ABI 1.0): /dev/kring"
for report in \
	"WARNING: CPU: 1 PID: 77 at src/kring.rs:10 init_module+0x10/0x20 [kring]" \
	"BUG: KASAN: slab-use-after-free in kring_release+0x1/0x2 [kring]" \
	"UBSAN: array-index-out-of-bounds in src/kring.rs:42:5" \
	"Oops: general protection fault, probably for non-canonical address" \
	"WARNING: possible circular locking dependency detected" \
	"kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)" \
	"rust_kernel: panicked at src/kring.rs:12:5:" \
	"BUG: sleeping function called from invalid context at mm/slub.c:4000" \
	"INFO: task kring-test:90 blocked for more than 120 seconds."; do
	expect "catches: ${report:0:50}" 1 "$BOOT
[ 60.0] $M
[ 60.5] $report"
done

echo "selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
