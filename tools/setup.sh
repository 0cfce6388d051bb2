#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent setup of everything kring needs on a Debian machine (bookworm or later):
# packages, Rust pieces, virtme-ng, the kernel source and the cached test kernel.
# Each step prints one line and skips what is already present.
#
#   tools/setup.sh              everything (what `make setup` runs)
#   tools/setup.sh --no-kernel  tools only, no kernel build
#   tools/setup.sh --dry-run    no network, no install, no build: creates the cache and log
#                               directories, checks every step and says what it would do;
#                               the apt step writes its plan (`apt-get -s`) to the apt log
#
# Every directory and log is created under KRING_CACHE (tools/lib.sh) before it is written.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_kernel=1
dry_run=0
for arg in "$@"; do
	case "$arg" in
	--no-kernel) build_kernel=0 ;;
	--dry-run)
		dry_run=1
		build_kernel=0
		;;
	*) die "usage: $0 [--no-kernel] [--dry-run] (unknown argument '$arg')" ;;
	esac
done

# udev: virtme-ng's init finds the script I/O ports (/dev/virtio-ports/virtme.*) through udev's
# symlinks; without udevd in the guest it falls back to the serial console, which a run without
# --verbose sends to /dev/null, and loses the exit code. Its coldplug costs about 95 s of a TCG boot.
APT_PACKAGES=(
	"clang$LLVM_SUFFIX" "lld$LLVM_SUFFIX" "llvm$LLVM_SUFFIX" "libclang$LLVM_SUFFIX-dev"
	flex bison bc libelf-dev libssl-dev cpio kmod dwarves
	qemu-system-x86 busybox-static udev
	make gcc libc6-dev linux-libc-dev xz-utils python3-venv python3-pip
	debian-archive-keyring shellcheck
)

# 0. The cache and its log directory, before anything is written to either.
mkdir -p "$KRING_CACHE" "$KRING_LOGS" ||
	die "cannot create $KRING_LOGS (set KRING_CACHE or XDG_CACHE_HOME to a writable place)"
step "cache" "$KRING_CACHE$([ $dry_run = 1 ] && echo ' (dry run: nothing is installed)')"

SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi
need_root() {
	[ -z "$SUDO" ] && return 0
	command -v sudo >/dev/null || die "$1 needs root (or sudo)"
}

# 1. Debian packages
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
apt_log="$KRING_LOGS/apt.log"
if [ $dry_run = 1 ]; then
	# The plan for the whole list, so the log's place is exercised even when all is present.
	: >"$apt_log"
	apt-get -s install --no-install-recommends "${APT_PACKAGES[@]}" >>"$apt_log" 2>&1 ||
		echo "apt-get -s install failed ($?): the package lists may need 'apt-get update'" >>"$apt_log"
	if [ ${#missing[@]} -eq 0 ]; then
		step "debian packages" "present (${#APT_PACKAGES[@]}; apt plan in $apt_log)"
	else
		step "debian packages" "would install: ${missing[*]} (apt plan in $apt_log)"
	fi
elif [ ${#missing[@]} -eq 0 ]; then
	step "debian packages" "present (${#APT_PACKAGES[@]})"
else
	need_root "installing packages"
	step "debian packages" "installing: ${missing[*]} (log: $apt_log)"
	{
		$SUDO apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
	} >"$apt_log" 2>&1 || { tail -20 "$apt_log" >&2; die "apt-get install failed (log: $apt_log)"; }
fi

# 2. Rust: the kernel needs the standard library source to build `core` itself.
command -v rustup >/dev/null ||
	die "rustup not found (looked in $CARGO_BIN and PATH): kring needs the rustup-managed toolchain"
if rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	step "rust-src" "present ($(rustc --version | cut -d' ' -f2))"
elif [ $dry_run = 1 ]; then
	step "rust-src" "would run: rustup component add rust-src"
else
	step "rust-src" "installing"
	rustup component add rust-src >"$KRING_LOGS/rustup.log" 2>&1 ||
		{ tail -20 "$KRING_LOGS/rustup.log" >&2; die "rustup component add rust-src failed"; }
fi

# 3. bindgen, pinned; cargo installs it into $CARGO_BIN.
if command -v bindgen >/dev/null && bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	step "bindgen-cli" "present ($BINDGEN_VERSION)"
elif [ $dry_run = 1 ]; then
	step "bindgen-cli" "would run: cargo install --locked bindgen-cli --version $BINDGEN_VERSION"
else
	step "bindgen-cli" "installing $BINDGEN_VERSION into $CARGO_BIN (a few minutes; log: $KRING_LOGS/bindgen.log)"
	cargo install --locked bindgen-cli --version "$BINDGEN_VERSION" >"$KRING_LOGS/bindgen.log" 2>&1 ||
		{ tail -20 "$KRING_LOGS/bindgen.log" >&2; die "cargo install bindgen-cli failed"; }
	command -v bindgen >/dev/null || die "bindgen installed but not found in $CARGO_BIN"
fi

# 4. virtme-ng, pinned, in a virtualenv of its own under the cache.
if [ -x "$KRING_VENV/bin/vng" ] && [ "$("$KRING_VENV/bin/vng" --version 2>/dev/null | awk '{print $2}')" = "$VIRTME_NG_VERSION" ]; then
	step "virtme-ng" "present ($VIRTME_NG_VERSION in $KRING_VENV)"
elif [ $dry_run = 1 ]; then
	python3 -c 'import venv' 2>/dev/null || step "virtme-ng" "python3 has no venv module yet (python3-venv)"
	step "virtme-ng" "would install $VIRTME_NG_VERSION from PyPI into $KRING_VENV"
else
	step "virtme-ng" "installing $VIRTME_NG_VERSION from PyPI into $KRING_VENV"
	{
		rm -rf "$KRING_VENV" &&
			python3 -m venv "$KRING_VENV" &&
			"$KRING_VENV/bin/python" -m pip install --disable-pip-version-check "virtme-ng==$VIRTME_NG_VERSION"
	} >"$KRING_LOGS/virtme-ng.log" 2>&1 ||
		{ tail -20 "$KRING_LOGS/virtme-ng.log" >&2; die "installing virtme-ng failed (log: $KRING_LOGS/virtme-ng.log)"; }
	hash -r
	[ "$(vng --version 2>/dev/null | awk '{print $2}')" = "$VIRTME_NG_VERSION" ] ||
		die "virtme-ng installed in $KRING_VENV but 'vng --version' does not say $VIRTME_NG_VERSION"
fi

# 5. Kernel source: Debian's package from trixie-backports, through a private apt config.
deb="$KRING_CACHE/src/${KERNEL_PKG}_${KERNEL_PKG_VERSION}_all.deb"
if [ -s "$deb" ]; then
	step "kernel source" "present ($KERNEL_PKG $KERNEL_PKG_VERSION)"
elif [ $dry_run = 1 ]; then
	step "kernel source" "would download $KERNEL_PKG $KERNEL_PKG_VERSION from $KERNEL_APT_SUITE into $KRING_CACHE/src"
else
	step "kernel source" "downloading $KERNEL_PKG $KERNEL_PKG_VERSION from $KERNEL_APT_SUITE"
	mkdir -p "$KRING_CACHE/apt/lists/partial" "$KRING_CACHE/apt/cache/archives/partial" "$KRING_CACHE/src"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $KERNEL_APT_MIRROR $KERNEL_APT_SUITE main" \
		>"$KRING_CACHE/apt/sources.list"
	src_log="$KRING_LOGS/kernel-source.log"
	kring_apt update -qq >"$src_log" 2>&1 ||
		{ tail -20 "$src_log" >&2; die "apt-get update of the private $KERNEL_APT_SUITE list failed (log: $src_log)"; }
	kring_apt -qq --print-uris download "$KERNEL_PKG=$KERNEL_PKG_VERSION" >>"$src_log" 2>&1 ||
		die "package $KERNEL_PKG=$KERNEL_PKG_VERSION not found in $KERNEL_APT_SUITE ($KERNEL_APT_MIRROR)"
	# apt's download runs as _apt and warns when that user cannot write the directory.
	(cd "$KRING_CACHE/src" && kring_apt -qq download "$KERNEL_PKG=$KERNEL_PKG_VERSION") >>"$src_log" 2>&1 || true
	[ -s "$deb" ] || { tail -20 "$src_log" >&2; die "download of $KERNEL_PKG=$KERNEL_PKG_VERSION failed (log: $src_log)"; }
fi

# 6. The test kernel (cached; built only when its cache key changes)
if [ $build_kernel = 1 ]; then
	"$KRING_ROOT/tools/kernel.sh" build
elif [ $dry_run = 1 ]; then
	if [ -f "$(kernel_dir)/.kring-built" ]; then
		step "$KRING_KERNEL kernel" "cached ($(kernel_dir))"
	else
		step "$KRING_KERNEL kernel" "would build into $(kernel_dir)"
	fi
fi
