# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # the variables set here are used by the scripts that source it
# Boots the test kernel with virtme-ng. Source it (after lib.sh); do not execute it.
#   vm_accel            prints the accelerator decision, sets VM_ACCEL_ARGS and VM_ACCEL (kvm|tcg)
#   vm_exec CMD...      runs CMD inside the VM as root, cwd = repo; returns CMD's exit status
#   vm_pin_vcpus LOG    (run in the background) pins the VM's vCPU threads one per host CPU

VM_CPUS="${KRING_VM_CPUS:-2}"
VM_MEMORY="${KRING_VM_MEMORY:-2G}"
VM_TIMEOUT="${KRING_VM_TIMEOUT:-2700}"
# The soft-lockup detector reports a CPU stuck for 2 x watchdog_thresh: 60 s, not 20, because a
# TCG vCPU can lose seconds to the host; the hung-task timeout (60 s) is in tools/kernel.config.
VM_APPEND="${KRING_VM_APPEND:-watchdog_thresh=30}"
VM_ACCEL_ARGS=()
VM_ACCEL=""
# More vng arguments, e.g. --qemu-opts (make bench names QEMU's threads to pin its vCPUs).
VM_EXTRA_ARGS=()

vm_accel() {
	VM_ACCEL_ARGS=()
	VM_ACCEL=kvm
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		step "vm accelerator" "KVM (the CPU exposes vmx/svm and /dev/kvm is usable)"
	else
		VM_ACCEL_ARGS=(--disable-kvm)
		VM_ACCEL=tcg
		step "vm accelerator" "TCG software emulation (no vmx/svm in /proc/cpuinfo: KVM would hang)"
	fi
}

vm_exec() {
	local kdir="${KDIR:-$(kernel_dir)}"
	[ -f "$kdir/arch/x86/boot/bzImage" ] || die "no kernel image in $kdir (run make setup)"
	[ -n "$VM_ACCEL" ] || vm_accel
	(cd "$KRING_ROOT" && timeout --foreground "$VM_TIMEOUT" \
		vng --run "$kdir" "${VM_ACCEL_ARGS[@]}" "${VM_EXTRA_ARGS[@]}" --cpus "$VM_CPUS" --memory "$VM_MEMORY" \
		--append "$VM_APPEND" \
		--exec "$*")
}

# Pins each vCPU thread of the QEMU that vng starts ("CPU <n>/KVM" or "CPU <n>/TCG"; QEMU names
# its threads only with `-name ...,debug-threads=on`, see VM_PIN_ARGS) to host CPU <n mod ncpus>, so the scheduler does not migrate or stack them during a benchmark. Polls for
# the VM for up to two minutes; writes what it did to LOG ("pinned N" or the reason it did not).
VM_PIN_ARGS=(--qemu-opts="-name virtme-ng,debug-threads=on")
vm_pin_vcpus() {
	local log="$1" ncpu pid t comm n pinned=0
	ncpu=$(nproc)
	for _ in $(seq 1 240); do
		pid=$(pgrep -n -f 'qemu-system-x86_64.*virtme' || true)
		if [ -n "$pid" ]; then
			for t in /proc/"$pid"/task/*; do
				comm=$(cat "$t/comm" 2>/dev/null || true)
				case "$comm" in
				"CPU "*/*)
					n=${comm#CPU }
					n=${n%%/*}
					taskset -pc $((n % ncpu)) "${t##*/}" >/dev/null 2>&1 && pinned=$((pinned + 1))
					;;
				esac
			done
			if [ "$pinned" -ge "$VM_CPUS" ]; then
				echo "pinned $pinned vCPU threads of qemu $pid to host CPUs 0..$((ncpu - 1))" >"$log"
				return 0
			fi
			pinned=0
		fi
		sleep 0.5
	done
	echo "not pinned: no qemu vCPU threads found within 120 s" >"$log"
}
