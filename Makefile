# udax - GNU Make build. Targets:
#   make            library (static, shared), pkg-config file, udax tool
#   make check      every test, then again under ASan+UBSan; last line is
#                   "N passed, N failed[, N skipped]"
#   make demo       the main job: a source tree into a memory-file image and
#                   back, fsck in between (scripts/demo.sh)
#   make bench      benchmarks with kernel baselines (printed, not asserted):
#                   bench/, `udax bench pins` (pins, truncate, sendfile,
#                   detaching), a tar of /usr/include through `udax mount`
#   make install    PREFIX=/usr/local DESTDIR=
#   make format     clang-format the tree; make format-check verifies it
#   make difftest-long   the differential tester, many more operations
#   make static     a fully static udax without libpmem2 (build-static/),
#                   its tests run
#   make mutants    small bugs put into the code one at a time
#                   (tests/mutants/): each must be caught

PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0
CC ?= cc
BUILD ?= build
OPT ?= -O2

# Debian packages the build needs; scripts/install-deps.sh installs them.
DEPS_OK := $(shell pkg-config --exists libpmem2 fuse3 liburing 2>/dev/null && \
	command -v sqlite3 git rsync curl >/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
$(info udax: installing build dependencies (scripts/install-deps.sh))
DEPS_RUN := $(shell sh scripts/install-deps.sh >&2 && echo done)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS_ALL := -std=gnu11 $(OPT) -g $(WARN) -fPIC -pthread -D_GNU_SOURCE \
	-Iinclude -Isrc $(EXTRA_CFLAGS) $(CFLAGS)
LIBS := $(shell pkg-config --libs libpmem2 2>/dev/null || echo -lpmem2) -pthread
# NO_PMEM2=1: without libpmem2 (make static): every device is flushed with
# udax's own cache-line primitives (src/device/device.c)
ifeq ($(NO_PMEM2),1)
CFLAGS_ALL += -DUDAX_NO_PMEM2
LIBS := -pthread
endif
# The mount layer (src/mount/) is part of the udax tool only, not of the
# library: libudax does not depend on libfuse.
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS := $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3)

LIB_SRCS := $(sort $(wildcard src/*.c src/sys/*.c src/device/*.c src/format/*.c src/journal/*.c \
	src/alloc/*.c src/btree/*.c src/iomap/*.c src/inode/*.c src/fault/*.c \
	src/api/*.c \
	src/fsck/*.c))
TOOL_SRCS := $(sort $(wildcard src/tools/*.c))
MOUNT_SRCS := $(sort $(wildcard src/mount/*.c))
TEST_SRCS := $(sort $(wildcard tests/t_*.c))
HDRS := $(wildcard include/*.h src/*.h src/*/*.h tests/*.h)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/%.o)
MOUNT_OBJS := $(MOUNT_SRCS:%.c=$(BUILD)/%.o)
TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
MAN1 := $(wildcard man/*.1)
MAN8 := $(wildcard man/*.8)

all: $(BUILD)/libudax.a $(BUILD)/libudax.so $(BUILD)/udax $(BUILD)/udax.pc \
	examples

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libudax.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libudax.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libudax.so.0 -o $@ $^ $(LIBS)

$(MOUNT_OBJS): CFLAGS_ALL += $(FUSE_CFLAGS)

$(BUILD)/udax: $(TOOL_OBJS) $(MOUNT_OBJS) $(BUILD)/libudax.a
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_STATIC) -o $@ $(TOOL_OBJS) $(MOUNT_OBJS) \
	  $(BUILD)/libudax.a $(FUSE_LIBS) $(LIBS)

$(BUILD)/udax.pc: udax.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/tests/%: tests/%.c $(BUILD)/libudax.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_STATIC) -Itests -o $@ $< \
	  $(BUILD)/libudax.a $(LIBS)

$(BUILD)/tests/difftest: tests/difftest.c $(BUILD)/libudax.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(BUILD)/libudax.a $(LIBS)

# posix_users: the multi-user conformance check tests/t_mount.sh runs on a
# mount and on tmpfs (plain system calls, no libudax).
$(BUILD)/tests/posix_users: tests/posix_users.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $<

tests: $(TESTS) $(BUILD)/tests/difftest $(BUILD)/udax $(BUILD)/tests/posix_users

# examples/: small programs on the public API (examples/README.md).
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(BUILD)/libudax.a include/udax.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libudax.a $(LIBS)
# t_pin pins device pages through io_uring fixed buffers, and keeps
# direct I/O in flight with a slow FUSE source (tests/slowsrc.h).
$(BUILD)/tests/t_pin: tests/slowsrc.h
$(BUILD)/tests/t_pin: CFLAGS_ALL += $(FUSE_CFLAGS)
$(BUILD)/tests/t_pin: LIBS += $(FUSE_LIBS) $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)
# t_plog runs the example built in its own build directory.
$(BUILD)/tests/t_plog: $(BUILD)/examples/plog

# libFuzzer targets (clang): make check runs them briefly, make fuzz long.
FUZZ_CC ?= clang
FUZZ_TIME ?= 3600
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/*.c))
build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 $(WARN) -D_GNU_SOURCE -Iinclude -Isrc -Itests \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< $(LIB_SRCS) $(LIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz: $(FUZZ_TARGETS)
	for t in $(FUZZ_TARGETS); do n=$$(basename $$t | sed 's/^fuzz_//'); \
	  mkdir -p build/fuzz/corpus-$$n; \
	  $$t -max_total_time=$(FUZZ_TIME) build/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

# check: the suite in a normal build, then under ASan + UBSan, then the
# multi-threaded tests under ThreadSanitizer. (Not t_mmap: the order that
# userfaultfd gives between a faulting thread and the handler is invisible
# to TSan, which then reports every mapped access as a race.)
# t_sendfile: a sender blocked on a socket while another thread truncates
# (no mapping: TSan sees every access but the kernel's); t_recvfile: a
# receiver blocked on a socket while others read, write and truncate (its
# mapped reader is left out under TSan).
TSAN_TESTS := build-tsan/tests/t_api build-tsan/tests/t_enospc \
	build-tsan/tests/t_layout build-tsan/tests/t_sendfile \
	build-tsan/tests/t_recvfile
# The builds compile on every core (CHECK_JOBS).
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check:
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) tests >/dev/null
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) fuzz-build >/dev/null
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) BUILD=build-san OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  tests >/dev/null
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) BUILD=build-tsan OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=thread" $(TSAN_TESTS) >/dev/null
	@sh tests/run.sh build build-san build-tsan

# static: a fully static udax tool (and test programs) in build-static,
# for a guest or a container: no libpmem2, whose static library needs
# libndctl and libdaxctl, which Debian ships only as shared libraries
# (README, "A static udax")
STATIC_TESTS := t_smoke t_api t_mmap t_fault t_layout t_enospc t_pin
static:
	@$(MAKE) --no-print-directory BUILD=build-static NO_PMEM2=1 \
	  LDFLAGS_STATIC=-static build-static/udax \
	  $(STATIC_TESTS:%=build-static/tests/%)
	@file build-static/udax | grep -q 'statically linked' && \
	  echo "build-static/udax: statically linked"
	@for t in $(STATIC_TESTS); do \
	  build-static/tests/$$t >build-static/$$t.log 2>&1 || \
	  { cat build-static/$$t.log; echo "FAIL static $$t"; exit 1; }; \
	  done; UDAX=build-static/udax sh tests/cli_test.sh \
	  >build-static/cli.log 2>&1 || { tail -n 30 build-static/cli.log; \
	  echo "FAIL static cli round trip"; exit 1; }; \
	  rm -f build-static/file.img; \
	  build-static/udax mkfs -q -s 64M build-static/file.img && \
	  build-static/udax cp -r include build-static/file.img:/inc && \
	  build-static/udax fsck -n build-static/file.img >/dev/null || \
	  { echo "FAIL static file image"; exit 1; }; \
	  echo "static: $(words $(STATIC_TESTS)) test programs, the CLI round trip and a file image passed"

# plots: the benchmarks of make bench as JSON and SVG plots (gnuplot),
# into docs/bench with the machine they ran on (bench/plots.sh; PLOTS_DIR
# keeps a run of your own apart from the reference run there).
PLOTS_DIR ?= docs/bench
plots: all
	@sh bench/plots.sh $(BUILD) $(PLOTS_DIR)

demo: all
	@sh scripts/demo.sh $(BUILD)/udax .

# pmem-check: the fault tests and udax bench faults on emulated persistent
# memory in a QEMU guest (ext4-DAX file, devdax at 4 KiB and 2 MiB
# alignment), with the static build (one file each, no libraries to copy
# into the guest); not part of check: it installs qemu and a kernel
# package.
pmem-check: static
	@sh scripts/pmem-check.sh build-static

bench: all
	@sh bench/run.sh $(BUILD)
	@$(BUILD)/udax bench pins
	@$(BUILD)/udax bench share
	@sh scripts/install-deps.sh --bench || echo "udax: nginx and wrk not installed: bench serve fails" >&2
	@$(BUILD)/udax bench serve
	@sh bench/mount.sh $(BUILD)/udax

# crash-long: every crash point of every operation (of the 3,000-commit
# log-wrap run every 9th), all subsets of up to 11 pending lines, 3,000
# samples above that: over a million images, about half an hour.
crash-long: $(BUILD)/tests/t_crash
	UDAX_CRASH_EXHAUSTIVE=11 UDAX_CRASH_SAMPLES=3000 UDAX_CRASH_DENSITY=10 \
	  $(BUILD)/tests/t_crash

# kill-long: 2,000 SIGKILLs of a working process, each followed by open,
# fsck and a check of every acknowledged file.
kill-long: $(BUILD)/tests/t_kill
	UDAX_KILL_ROUNDS=2000 $(BUILD)/tests/t_kill

# plog-kill-long: 1,000 kill -9s of the persistent-log example
# (examples/plog.c), each followed by a check of every acknowledged record.
plog-kill-long: $(BUILD)/tests/t_plog
	UDAX_PLOG_KILLS=1000 $(BUILD)/tests/t_plog

# soak: a mixed mapped workload on a few files, two million operations
# (short-lived mappings, truncate, punch, stores, loads), with the
# mapping count, pieces, faults and memory printed every tenth: a leak
# shows as a trend.
soak: $(BUILD)/tests/t_fault
	UDAX_SOAK_OPS=2000000 $(BUILD)/tests/t_fault soak

# scale-long: a million extents in one file, a million names in one directory.
scale-long: $(BUILD)/tests/t_scale
	UDAX_SCALE_EXTENTS=1000000 UDAX_SCALE_NAMES=1000000 $(BUILD)/tests/t_scale

# mutants: each mutant of tests/mutants/*.mut (a small change the code
# must never contain) built in a scratch copy of the tree and run against
# the tests it names; prints a table, fails if any is not caught.
# MUTANTS="name ..." runs only those.
mutants:
	sh tests/mutants/run.sh $(MUTANTS)

difftest-long: $(BUILD)/tests/difftest
	$(BUILD)/tests/difftest --ops 5000000

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 644 $(BUILD)/libudax.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libudax.so $(DESTDIR)$(PREFIX)/lib/libudax.so.0
	ln -sf libudax.so.0 $(DESTDIR)$(PREFIX)/lib/libudax.so
	install -m 644 include/udax.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/udax.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 755 $(BUILD)/udax $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(MAN8) $(DESTDIR)$(PREFIX)/share/man/man8/

format:
	clang-format -i $(wildcard include/*.h src/*.[ch] src/*/*.[ch] tests/*.[ch] tests/fuzz/*.c bench/*.c bench/fuse/*.c examples/*.c)

format-check:
	clang-format --dry-run --Werror $(wildcard include/*.h src/*.[ch] src/*/*.[ch] tests/*.[ch] tests/fuzz/*.c bench/*.c bench/fuse/*.c examples/*.c)

clean:
	rm -rf build build-san build-tsan build-me build-me-san build-static

.PHONY: plots kill-long crash-long scale-long demo fuzz fuzz-build all check bench install format format-check clean tests difftest-long
.PHONY: examples plog-kill-long soak mutants pmem-check static
