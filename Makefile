# SPDX-License-Identifier: GPL-2.0-only
# The two commands: `make run` (the main job) and `make check` (all tests).
# Both install the Debian packages they need when run as root.

PY := /usr/bin/python3
WQBH := PYTHONPATH=$(CURDIR)/tools $(PY) -m wqbh
TREE ?=
BRANCH ?= wqbh
FLAVOUR ?= debug
SMP ?= 4
DURATION ?= 60
SEED ?= 1
BOOTS ?= 3

.PHONY: run check check-harness apply export build boot bisect bench conv conv-bench conv-stats convert-report mbox splat torture torture-mutants help

help:
	@echo "make run                    main job: base tree, apply, build, boot in QEMU, kselftests, wq_dump.py"
	@echo "make check                  all tests; ends with 'N passed, N failed'"
	@echo "make check-harness          the harness's own unit tests and lint (seconds, no kernel)"
	@echo "make apply [TREE=DIR]       apply the series to build/linux or to your own 6.1.y tree"
	@echo "make export                 regenerate patches/ and series from build/linux (branch wqbh)"
	@echo "make build [FLAVOUR=bench]  build a test kernel (debug or bench)"
	@echo "make boot CMD='...'         run a command in a guest"
	@echo "make bench [BOOTS=n]        latency and throughput: tasklets against BH work items"
	@echo "make bisect                 full build after each patch (slow)"
	@echo "make conv                   the converted tasklet users under their workloads"
	@echo "make conv-bench [BOOTS=n]   their numbers, base kernel against the series"
	@echo "make conv-stats [DIR=d]     medians and p of a conv-bench run (default: the last one)"
	@echo "make convert-report         the tasklet converter over the whole base tree:"
	@echo "                            converted, left (why), compiling (allmodconfig)"
	@echo "make torture [DURATION=s] [SEED=n] [FLAVOUR=debug|bench]"
	@echo "                            torture test of work items in QEMU, with CPU hotplug"
	@echo "make torture-mutants        each planted bug of tools/test_data/mutants/: caught?"
	@echo "make mbox [V=n] [TAG=1]     the series as mail in build/mbox/; TAG=1 records it as sent"
	@echo "make splat LOG=FILE         kernel splats (BUG, WARNING, KASAN, ...) in a console log"

$(PY):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q python3; \
	else echo "error: $(PY) missing; as root: apt-get install python3" >&2; exit 1; fi

run: | $(PY)
	$(WQBH) run --smp $(SMP)

check: | $(PY)
	$(WQBH) check --smp $(SMP)

check-harness: | $(PY)
	$(WQBH) check-harness

apply: | $(PY)
	$(WQBH) apply $(if $(TREE),--tree "$(TREE)" --branch "$(BRANCH)")

export: | $(PY)
	$(WQBH) export

build: | $(PY)
	$(WQBH) build --flavour $(FLAVOUR)

boot: | $(PY)
	$(WQBH) boot --flavour $(FLAVOUR) --smp $(SMP) -- $(CMD)

bisect: | $(PY)
	$(WQBH) bisect

bench: | $(PY)
	$(WQBH) bench --boots $(BOOTS)

conv: | $(PY)
	$(WQBH) conv

conv-bench: | $(PY)
	$(WQBH) conv --bench --boots $(BOOTS)

conv-stats: | $(PY)
	$(WQBH) --no-deps conv-stats $(if $(DIR),"$(DIR)")

convert-report: | $(PY)
	$(WQBH) convert-report

mbox: | $(PY)
	$(WQBH) mbox $(if $(V),--version $(V)) $(if $(TAG),--tag)

splat: | $(PY)
	@if [ -z "$(LOG)" ]; then echo "usage: make splat LOG=FILE" >&2; exit 2; fi
	$(WQBH) --no-deps splat "$(LOG)"

torture: | $(PY)
	$(WQBH) torture --flavour $(FLAVOUR) --smp $(SMP) --duration $(DURATION) --seed $(SEED)

torture-mutants: | $(PY)
	$(WQBH) torture-mutants --smp $(SMP) --duration $(DURATION) --seed $(SEED)
