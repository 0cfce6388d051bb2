#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make test`: idempotent setup, then every suite:
#   1. host: cargo test (shared ABI logic, C header agreement, helper crate), harness self-test
#   2. VM:   boots the test kernel, loads kring, runs the VM suites, unloads, checks kmemleak
#            and dmesg (any kernel report fails the run)
# Ends with one line "N passed, M failed" over all of them; exits non-zero on any failure.
set -euo pipefail
export KRING_KERNEL=test # the debug kernel: its reports are what the runs are judged on
# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tools/vm.sh
. "$KRING_ROOT/tools/vm.sh"
cd "$KRING_ROOT"

"$KRING_ROOT/tools/setup.sh"
KDIR="${KDIR:-$(kernel_dir)}"
export KDIR

passed=0
failed=0
add_cargo_results() { # sums libtest "test result:" lines of a log
	local p f
	p=$(grep -E '^test result:' "$1" | sed -E 's/.* ([0-9]+) passed.*/\1/' | paste -sd+ | bc)
	f=$(grep -E '^test result:' "$1" | sed -E 's/.* ([0-9]+) failed.*/\1/' | paste -sd+ | bc)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

# 1. host
step "host tests" "cargo test"
if ! cargo test --quiet 2>&1 | tee "$log/host" | grep -E '^test result:|FAILED|panicked|^error'; then :; fi
if ! grep -q '^test result:' "$log/host"; then
	tail -30 "$log/host"
	failed=$((failed + 1))
	echo "FAIL host: cargo test did not run"
fi
add_cargo_results "$log/host"
step "host tests" "harness self-test"
if tests/lib/selftest.sh >"$log/self" 2>&1; then :; fi
count_lines() { # counts the PASS/FAIL lines of a script's log, shows its failures
	grep -E '^FAIL' "$1" || true
	passed=$((passed + $(grep -c '^PASS' "$1" || true)))
	failed=$((failed + $(grep -c '^FAIL' "$1" || true)))
}
count_lines "$log/self"
step "host tests" "setup from an empty HOME (tests/lib/fresh-setup.sh)"
if tests/lib/fresh-setup.sh >"$log/fresh" 2>&1; then :; fi
count_lines "$log/fresh"
if ! grep -q '^fresh-setup:' "$log/fresh"; then
	tail -20 "$log/fresh"
	echo "FAIL fresh setup: the test did not finish"
	failed=$((failed + 1))
fi
step "host tests" "shellcheck"
for f in tools/*.sh tests/*.sh tests/lib/*.sh; do
	if shellcheck -x "$f" >"$log/shellcheck" 2>&1; then
		passed=$((passed + 1))
	else
		cat "$log/shellcheck"
		echo "FAIL shellcheck $f"
		failed=$((failed + 1))
	fi
done

# 2. build the module and the VM suites on the host
step "module" "building against $KDIR"
if ! make --no-print-directory KDIR="$KDIR" modules >"$log/kbuild" 2>&1; then
	cat "$log/kbuild"
	echo "FAIL module build"
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi
grep -E 'warning|error' "$log/kbuild" || true
step "vm suites" "building test binaries"
cargo test -p kring-vmtests --no-run --message-format=json 2>"$log/vmbuild.err" |
	python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])' >"$log/bins" || { cat "$log/vmbuild.err"; die "building VM suites failed"; }
[ -s "$log/bins" ] || die "no VM test binaries were built"
mapfile -t bins <"$log/bins"

# 3. the VM
step "vm" "booting $(basename "$KDIR") (2 to 5 minutes under TCG with the debug kernel)"
vm_accel
# The debug kernel has been seen, rarely, to hang at boot under TCG: no guest output at all for
# 20 minutes, before any kring code exists. A boot that has not reached the test runner within
# KRING_BOOT_LIMIT seconds is killed and tried once more; what happens after the guest started
# is never retried.
BOOT_LIMIT="${KRING_BOOT_LIMIT:-1500}"
vm_attempt() {
	local waited=0 pid
	: >"$log/vm"
	{
		vm_exec tests/guest.sh src/kring.ko "${bins[@]}"
		echo "KRING-VM-EXIT $?"
	} 2>&1 | tee "$log/vm" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$waited" -ge "$BOOT_LIMIT" ] && ! grep -aq '^guest: up' "$log/vm"; then
			echo "[kring] vm: the guest did not start within $BOOT_LIMIT s: killing this boot"
			pkill -f 'qemu-system-x86_64.*virtme' || true
			wait "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 5
		waited=$((waited + 5))
	done
	wait "$pid" 2>/dev/null || true
	return 0
}
set +e
if ! vm_attempt; then
	step "vm" "booting again (second and last attempt)"
	vm_attempt
fi
vm_rc="$(grep -a '^KRING-VM-EXIT' "$log/vm" | tail -1 | tr -d '\r' | cut -d' ' -f2)"
vm_rc="${vm_rc:-255}"
set -e
res="$(grep -aE '^KRING-VM-RESULT' "$log/vm" | tail -1 | tr -d '\r')"
if [ -z "$res" ]; then
	echo "FAIL vm: no result from the VM (exit $vm_rc): boot failure, crash or timeout"
	failed=$((failed + 1))
else
	vp=$(echo "$res" | sed -E 's/.*passed=([0-9]+).*/\1/')
	vf=$(echo "$res" | sed -E 's/.*failed=([0-9]+).*/\1/')
	passed=$((passed + vp))
	failed=$((failed + vf))
	if [ "$vm_rc" != 0 ] && [ "$vf" = 0 ]; then
		echo "FAIL vm: exited $vm_rc although every check passed"
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
