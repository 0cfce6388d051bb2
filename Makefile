# SPDX-License-Identifier: GPL-2.0
#
# kring top-level Makefile.
#   make run      set up (idempotent), boot the test kernel in a VM, load kring, show it working
#   make test     set up (idempotent), run host tests and the VM suites; ends "N passed, N failed"
#   make bench    set up, boot the bench kernel (no debug options), run kring-bench against
#                 pipe/UNIX socket/mqueue/shm-ring baselines; results under results/latest/
#                 (BENCH_ARGS="--quick" for a short run)
#   make setup    install missing tools, fetch the kernel source, build the cached test kernel
#   make          build the module against KDIR (default: the cached test kernel)
#   make KDIR=/path/to/linux   build against any full, Rust-enabled kernel build tree
#   make clean

LLVM_SUFFIX := $(shell sed -n 's/^LLVM_SUFFIX=//p' tools/versions.env)
LLVM ?= $(LLVM_SUFFIX)
# bindgen and the rustup toolchain live here; the kernel build needs both.
export PATH := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(PATH)
# A KDIR given by the user (command line or environment) is passed on to the scripts; otherwise
# the cached test kernel is used, its path computed only when needed (after setup has run).
ifdef KDIR
export KDIR
endif
BUILD_KDIR = $(or $(KDIR),$(shell tools/kernel.sh path))

.PHONY: all modules run test bench setup clean check-kdir

all: modules

check-kdir:
	@test -f "$(BUILD_KDIR)/Module.symvers" && test -f "$(BUILD_KDIR)/rust/libkernel.rmeta" || { \
	  echo "kring: KDIR=$(BUILD_KDIR) is not a built, Rust-enabled kernel tree"; \
	  echo "kring: run 'make setup' to build the cached test kernel, or pass KDIR=<build tree>"; \
	  exit 1; }
	@want="$$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"/\1/p' "$(BUILD_KDIR)/.config")"; \
	have="$$(rustc --version)"; \
	test "$$want" = "$$have" || { \
	  echo "kring: $(BUILD_KDIR) was built by '$$want' but rustc here is '$$have';"; \
	  echo "kring: a Rust module must be built by the same rustc as its kernel"; exit 1; }

modules: check-kdir
	$(MAKE) -C "$(BUILD_KDIR)" M="$(CURDIR)" LLVM=$(LLVM) modules

setup:
	tools/setup.sh

run:
	tools/run.sh

test:
	tools/test.sh

bench:
	tools/bench.sh $(BENCH_ARGS)

clean:
	@if [ -f "$(BUILD_KDIR)/Makefile" ]; then $(MAKE) -C "$(BUILD_KDIR)" M="$(CURDIR)" LLVM=$(LLVM) clean; fi
	cargo clean
