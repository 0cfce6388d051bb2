#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: kring against pipes, UNIX sockets, POSIX mqueue and a shared-memory ring, in one
# VM run. Idempotent setup (tools only), the bench kernel (tools/kernel-bench.config: no debug
# options; cached like the test kernel, built once), the module built against it, the
# kring-bench binary; boots the VM with its vCPU threads pinned, loads kring, runs
# `kring-bench run`, unloads, checks dmesg, then renders the results on the host:
#   results/bench-<UTC time>/{results.json,results.csv,results.svg,table.md,console.log}
#   results/latest -> that folder
# Arguments are passed to `kring-bench run` (e.g. --quick, --only throughput, --repeats 7);
# `make bench BENCH_ARGS="--quick"` does the same through make.
set -euo pipefail
export KRING_KERNEL=bench
# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tools/vm.sh
. "$KRING_ROOT/tools/vm.sh"
cd "$KRING_ROOT"

"$KRING_ROOT/tools/setup.sh" --no-kernel
"$KRING_ROOT/tools/kernel.sh" build
KDIR="$(kernel_dir)"
export KDIR

# The module is built in a copy of the sources, so the in-tree objects (built against the
# test kernel by make run / make test) are left alone.
modsrc="$KRING_CACHE/bench-module"
step "module" "building against $(basename "$KDIR") in $modsrc"
mkdir -p "$modsrc"
rm -rf "$modsrc/src" "$modsrc/include"
cp -r Kbuild src include "$modsrc/"
make --no-print-directory -C "$KDIR" M="$modsrc" LLVM="$LLVM_SUFFIX" modules >"$modsrc/build.log" 2>&1 ||
	{ cat "$modsrc/build.log" >&2; die "module build against the bench kernel failed"; }
mkdir -p target/bench
cp "$modsrc/src/kring.ko" target/bench/kring.ko

step "kring-bench" "building target/release/kring-bench"
cargo build --quiet --release -p kring-bench

out="results/bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
step "vm" "booting the bench kernel and running kring-bench run $*"
vm_accel
VM_EXTRA_ARGS=("${VM_PIN_ARGS[@]}")
vm_pin_vcpus "$out/pinning.txt" &
pinner=$!
set +e
# vng's console output must go to a pipe, not a file: its script I/O relays through the tty.
vm_exec tools/bench-guest.sh target/bench/kring.ko target/release/kring-bench --accel "$VM_ACCEL" "$@" 2>&1 |
	tee "$out/console.log"
vm_rc=${PIPESTATUS[0]}
set -e
kill "$pinner" 2>/dev/null || true
wait "$pinner" 2>/dev/null || true
pinning="$(cat "$out/pinning.txt" 2>/dev/null || echo "not pinned: pinning helper did not report")"
step "vcpu pinning" "$pinning"

tr -d '\r' <"$out/console.log" | sed -n '/^KRING-BENCH-JSON-BEGIN$/,/^KRING-BENCH-JSON-END$/p' |
	sed '1d;$d' >"$out/raw.json"
[ -s "$out/raw.json" ] || die "the VM produced no results (exit $vm_rc); console: $out/console.log"
python3 - "$out/raw.json" "$out/results.json" "$pinning" "$VM_CPUS" "$VM_MEMORY" <<'PY'
import json, sys, platform, subprocess
raw, dst, pinning, cpus, mem = sys.argv[1:]
r = json.load(open(raw))
host_cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
r.setdefault("meta", {})["host"] = {
    "cpu": host_cpu, "ncpus": int(subprocess.check_output(["nproc"]).decode()),
    "kernel": platform.release(), "vm_vcpus": int(cpus), "vm_memory": mem,
    "vcpu_threads_pinned": pinning.startswith("pinned"), "pinning": pinning,
}
json.dump(r, open(dst, "w"), indent=1)
PY
rm -f "$out/raw.json"
target/release/kring-bench render "$out/results.json" "$out"
ln -sfn "$(basename "$out")" results/latest
step "results" "$out/ (table.md, results.svg, results.csv, results.json)"
[ "$vm_rc" = 0 ] || die "the benchmark run in the VM failed (exit $vm_rc): see $out/console.log"
