# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # the variables set here are used by the scripts that source it
# Shared helpers for kring's shell tools. Source it; do not execute it.

KRING_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/versions.env
. "$KRING_ROOT/tools/versions.env"

# Everything setup writes lives under KRING_CACHE: the kernel source and trees, the private apt
# state, virtme-ng's virtualenv and the logs. Nothing else under $HOME is written, and none of
# these directories is assumed to exist: tools/setup.sh creates them before its first write.
KRING_CACHE="${KRING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kring}"
KRING_LOGS="$KRING_CACHE/logs"
# virtme-ng is installed into its own virtualenv (Debian's python refuses a system-wide pip
# install, PEP 668), and cargo-installed tools (bindgen) land in $CARGO_HOME/bin: neither is on
# the PATH of a non-login shell, so both are put first here.
KRING_VENV="$KRING_CACHE/venv"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$KRING_VENV/bin:$CARGO_BIN:$PATH"

step() { printf '[kring] %-28s %s\n' "$1" "$2"; }
die() { printf '[kring] ERROR: %s\n' "$*" >&2; exit 1; }

# Private apt configuration for trixie-backports: own sources list, lists, cache.
# The system's apt sources are never read or written.
kring_apt() {
	local d="$KRING_CACHE/apt"
	apt-get -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" \
		-o APT::Get::List-Cleanup=0 "$@"
}

# Two kernel flavours are built from the same source and cached side by side:
#   test   tools/kernel.config: KASAN, lockdep, UBSAN, kmemleak... (make run, make test)
#   bench  tools/kernel-bench.config: none of the debug options, for timings (make bench)
# KRING_KERNEL selects one; the default is test.
KRING_KERNEL="${KRING_KERNEL:-test}"
case "$KRING_KERNEL" in
test | bench) ;;
*) die "KRING_KERNEL must be 'test' or 'bench', not '$KRING_KERNEL'" ;;
esac
kernel_config() {
	case "$KRING_KERNEL" in
	test) echo "$KRING_ROOT/tools/kernel.config" ;;
	bench) echo "$KRING_ROOT/tools/kernel-bench.config" ;;
	esac
}

# The cache key of a kernel: everything that changes the built tree.
kernel_cache_key() {
	{
		echo "$KERNEL_PKG $KERNEL_PKG_VERSION"
		echo "llvm $LLVM_SUFFIX $(clang$LLVM_SUFFIX --version 2>/dev/null | head -1)"
		rustc --version 2>/dev/null
		echo "bindgen $BINDGEN_VERSION"
		echo "virtme-ng $VIRTME_NG_VERSION"
		cat "$(kernel_config)"
	} | sha256sum | cut -c1-12
}

kernel_dir() {
	case "$KRING_KERNEL" in
	test) echo "$KRING_CACHE/linux-$KERNEL_VERSION-$(kernel_cache_key)" ;;
	*) echo "$KRING_CACHE/linux-$KERNEL_VERSION-$KRING_KERNEL-$(kernel_cache_key)" ;;
	esac
}
