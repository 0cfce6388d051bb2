#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the test VM (started by tools/test.sh through virtme-ng).
#   tests/guest.sh MODULE.ko TESTBIN...
# Loads the module, runs every VM test binary, unloads the module, checks kmemleak and dmesg.
# Every step is a counted check. The last line is machine-readable for the host:
#   KRING-VM-RESULT passed=N failed=M
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
module="$1"
shift

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
	echo "KRING-VM-RESULT passed=$passed failed=$failed"
	[ "$failed" = 0 ]
	exit $?
}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
kmemleak=/sys/kernel/debug/kmemleak
if [ -w "$kmemleak" ]; then
	# Forget whatever boot left behind, so a leak found later is one of ours.
	echo scan >"$kmemleak"
	echo clear >"$kmemleak"
fi

echo "guest: up $(cut -d" " -f1 /proc/uptime) s when the tests start"
marker="kring-test-marker-$$-$(date +%s%N)"
echo "$marker" >/dev/kmsg

# 1. load
if insmod "$module"; then
	if [ -c /dev/kring ] && dmesg | grep -q 'kring .* loaded (ABI'; then
		pass "module loads, /dev/kring appears, version logged"
	else
		fail "module loaded but /dev/kring or its load message is missing"
	fi
else
	fail "insmod $module"
	dmesg | sed -n "/$marker/,\$p" | tail -30
	finish
fi

# 2. the suites (libtest binaries): count their tests, and a crash counts as a failure
for bin in "$@"; do
	name="$(basename "$bin" | sed 's/-[0-9a-f]*$//')"
	echo "--- suite $name"
	out="$("$bin" --test-threads=1 2>&1)"
	rc=$?
	echo "$out" | grep -E '^test ' || true
	echo "$out" | grep -E -A4 'panicked' || true
	res="$(echo "$out" | grep -E '^test result:' | tail -1)"
	if [ -z "$res" ]; then
		fail "suite $name crashed (exit $rc) before reporting"
		echo "$out" | tail -20
		continue
	fi
	p=$(echo "$res" | sed -E 's/.* ([0-9]+) passed.*/\1/')
	f=$(echo "$res" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$rc" = 0 ] || [ "$f" != 0 ] || fail "suite $name exited $rc with no failed test"
done

# 3. unload
if rmmod kring; then
	if [ ! -e /dev/kring ] && [ ! -d /sys/module/kring ]; then
		pass "module unloads, /dev/kring disappears"
	else
		fail "module unloaded but /dev/kring or /sys/module/kring remains"
	fi
else
	fail "rmmod kring (a file or mapping was left open?)"
fi

# 4. leaks: kmemleak only reports objects older than 5 s, so wait, then scan twice
if [ -w "$kmemleak" ]; then
	sleep 6
	echo scan >"$kmemleak"
	echo scan >"$kmemleak"
	leaks="$(cat "$kmemleak")"
	if [ -z "$leaks" ]; then
		pass "kmemleak: no leaks"
	else
		fail "kmemleak: leaks found"
		echo "$leaks" | head -60
	fi
else
	fail "kmemleak is not available (CONFIG_DEBUG_KMEMLEAK): leaks cannot be checked"
fi

# 5. kernel reports since the marker
if dmesg | tests/lib/dmesg-check.sh "$marker"; then
	pass "dmesg: no Oops/BUG/WARNING/KASAN/UBSAN/lockdep/leak report since insmod"
else
	fail "dmesg: kernel reports since insmod (above)"
	dmesg | sed -n "/$marker/,\$p" | tail -80
fi

finish
