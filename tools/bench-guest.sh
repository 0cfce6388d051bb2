#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the VM for `make bench`: loads kring, runs the benchmark, unloads kring, and fails
# if the kernel logged any report since the load (same check as the test suites).
#   tools/bench-guest.sh MODULE.ko KRING-BENCH [kring-bench run arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
module="$1"
bench="$2"
shift 2

marker="kring-bench-marker-$$"
echo "$marker" >/dev/kmsg
echo "kring-bench: kernel $(uname -r), $(nproc) CPUs, loading $module"
insmod "$module"
set +e
"$bench" run "$@"
rc=$?
set -e
rmmod kring || { echo "kring-bench: rmmod kring failed"; rc=1; }
if ! dmesg | tests/lib/dmesg-check.sh "$marker"; then
	echo "kring-bench: the kernel logged reports during the benchmark (above)"
	rc=1
fi
exit "$rc"
