#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: kring's main job. Idempotent setup, build the module and the `kring` tool, boot
# the test kernel in a VM, load kring and show it working (tools/demo-guest.sh), unload it.
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
step "module" "building src/kring.ko against $KDIR"
make --no-print-directory KDIR="$KDIR" modules >/dev/null || make --no-print-directory KDIR="$KDIR" modules
step "kring tool" "building target/release/kring"
cargo build --quiet --release -p kring-cli
step "vm" "booting the test kernel (2 to 5 minutes under TCG with the debug kernel)"
vm_accel
vm_exec tools/demo-guest.sh src/kring.ko target/release/kring
