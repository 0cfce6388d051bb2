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
	"INFO: task kring-test:90 blocked for more than 60 seconds." \
	"watchdog: BUG: soft lockup - CPU#1 stuck for 61s! [kring-test:90]"; do
	expect "catches: ${report:0:50}" 1 "$BOOT
[ 60.0] $M
[ 60.5] $report"
done

# Kernel flavours: the test kernel's cache key is the one its fragment always gave (adding the
# bench flavour must not rebuild it), the bench kernel gets its own tree, a typo is refused.
check() { # check NAME COMMAND...
	local out
	if out="$("${@:2}" 2>&1)"; then
		passed=$((passed + 1))
		echo "PASS kernel flavour: $1"
	else
		failed=$((failed + 1))
		echo "FAIL kernel flavour: $1: $out"
	fi
}
root="$(cd "$here/../.." && pwd)"
tpath="$(env -u KRING_KERNEL "$root/tools/kernel.sh" path)"
bpath="$(KRING_KERNEL=bench "$root/tools/kernel.sh" path)"
check "default is the test kernel" test "$tpath" = "$(env KRING_KERNEL=test "$root/tools/kernel.sh" path)"
check "test and bench trees differ" test "$tpath" != "$bpath"
check "bench tree is named bench" grep -q -- "-bench-[0-9a-f]\{12\}\$" <<<"$bpath"
check "unknown flavour refused" bash -c "! KRING_KERNEL=debug '$root/tools/kernel.sh' path"
check "bench fragment has no debug option" bash -c "! grep -E '^CONFIG_(KASAN|UBSAN|PROVE_LOCKING|DEBUG_KMEMLEAK|RUST_DEBUG_ASSERTIONS|RUST_OVERFLOW_CHECKS|DEBUG_ATOMIC_SLEEP)=y' '$root/tools/kernel-bench.config'"

echo "selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
