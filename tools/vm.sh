# SPDX-License-Identifier: GPL-2.0
# Boots the test kernel with virtme-ng. Source it (after lib.sh); do not execute it.
#   vm_accel            prints the accelerator decision and sets VM_ACCEL_ARGS
#   vm_exec CMD...      runs CMD inside the VM as root, cwd = repo; returns CMD's exit status

VM_CPUS="${KRING_VM_CPUS:-2}"
VM_MEMORY="${KRING_VM_MEMORY:-2G}"
VM_TIMEOUT="${KRING_VM_TIMEOUT:-1800}"

vm_accel() {
	VM_ACCEL_ARGS=()
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		step "vm accelerator" "KVM (the CPU exposes vmx/svm and /dev/kvm is usable)"
	else
		VM_ACCEL_ARGS=(--disable-kvm)
		step "vm accelerator" "TCG software emulation (no vmx/svm in /proc/cpuinfo: KVM would hang)"
	fi
}

vm_exec() {
	local kdir="${KDIR:-$(kernel_dir)}"
	[ -f "$kdir/arch/x86/boot/bzImage" ] || die "no kernel image in $kdir (run make setup)"
	[ ${#VM_ACCEL_ARGS[@]} -gt 0 ] || [ -n "${VM_ACCEL_DECIDED:-}" ] || vm_accel
	VM_ACCEL_DECIDED=1
	(cd "$KRING_ROOT" && timeout --foreground "$VM_TIMEOUT" \
		vng --run "$kdir" "${VM_ACCEL_ARGS[@]}" --cpus "$VM_CPUS" --memory "$VM_MEMORY" \
		--exec "$*")
}
