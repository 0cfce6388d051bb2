# SPDX-License-Identifier: GPL-2.0
#
# kring top-level Makefile.
#   make run      set up (idempotent), boot the test kernel in a VM, load kring, show it working
#   make test     set up (idempotent), run host tests and the VM suites; ends "N passed, N failed"
#   make setup    install missing tools, fetch the kernel source, build the cached test kernel
#   make          build the module against KDIR (default: the cached test kernel)
#   make KDIR=/path/to/linux   build against any full, Rust-enabled kernel build tree
#   make clean

LLVM_SUFFIX := $(shell sed -n 's/^LLVM_SUFFIX=//p' tools/versions.env)
LLVM ?= $(LLVM_SUFFIX)
KDIR ?= $(shell tools/kernel.sh path)
export KDIR

.PHONY: all modules run test setup clean check-kdir

all: modules

check-kdir:
	@test -f "$(KDIR)/Module.symvers" && test -f "$(KDIR)/rust/libkernel.rmeta" || { \
	  echo "kring: KDIR=$(KDIR) is not a built, Rust-enabled kernel tree"; \
	  echo "kring: run 'make setup' to build the cached test kernel, or pass KDIR=<build tree>"; \
	  exit 1; }

modules: check-kdir
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)" LLVM=$(LLVM) modules

setup:
	tools/setup.sh

run:
	tools/run.sh

test:
	tools/test.sh

clean:
	@if [ -f "$(KDIR)/Makefile" ]; then $(MAKE) -C "$(KDIR)" M="$(CURDIR)" LLVM=$(LLVM) clean; fi
	cargo clean
