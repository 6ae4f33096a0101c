# sluice — one entry point. `make run` and `make test` are the two commands a newcomer needs.
# Every target that builds or runs depends on `deps`, which installs missing Debian packages.

SHELL      := /bin/bash
CC         := clang
BPF_CC     := clang
BUILD      := build
ARCH_INC   := /usr/include/$(shell gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

WARN       := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS     ?= -O2 -g
CFLAGS     += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -Ibpf -I$(BUILD) -fno-strict-aliasing
LDLIBS     := -lxdp -lbpf -lelf -lz -lpthread -lm
SAN_FLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Debian packages the build, the tests and the demo need (checked by `make deps`).
DEB_PKGS := clang llvm libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev \
	libcmocka-dev libclang-rt-14-dev pkg-config gcc make iproute2 iputils-ping \
	iputils-arping netcat-openbsd socat iperf3 python3 python3-scapy tcpdump ethtool \
	curl util-linux kmod procps valgrind wrk linux-perf binutils python3-matplotlib \
	ndisc6 apache2-utils groff-base man-db redis-server redis-tools nginx memcached \
	libmemcached-tools

LIB_SRCS  := $(sort $(wildcard user/*/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB_SOBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
TOOL_SRCS := $(sort $(wildcard tools/*.c))
RELAY_SRCS := $(sort $(wildcard tools/relay/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
SIM_SRCS  := $(sort $(wildcard tests/sim/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%) $(SIM_SRCS:tests/sim/%.c=$(BUILD)/tests/%)
SAN_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/san/tests/%) $(SIM_SRCS:tests/sim/%.c=$(BUILD)/san/tests/%)
TEST_HDRS := $(wildcard tests/unit/*.h)
SKEL      := $(BUILD)/gate.skel.h
BPF_OBJ   := $(BUILD)/gate.bpf.o

DURATION ?=

# The version, in one place (the file VERSION): the shared library's file name and soname, the
# pkg-config file and `sluice --version`. MAJOR changes when the ABI breaks (the soname is
# libsluice.so.MAJOR).
VERSION       := $(shell cat VERSION)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
SONAME        := libsluice.so.$(VERSION_MAJOR)
SO_FILE       := libsluice.so.$(VERSION)
SO_LIBS       := -lxdp -lbpf -lpthread -lm
LIB_POBJS     := $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)
SHARED_LIB    := $(BUILD)/$(SO_FILE) $(BUILD)/$(SONAME) $(BUILD)/libsluice.so
# The LD_PRELOAD shim of `sluice exec` (tools/preload/): the library's PIC objects inside,
# exporting only the libc functions it stands in for.
PRELOAD       := $(BUILD)/libsluice-preload.so

.PHONY: all run test test-unit test-san test-fuzz test-net test-sock test-install bench fuzz install \
	uninstall clean deps format

ALL_BINS := $(BUILD)/sluice $(BUILD)/libsluice.a $(SHARED_LIB) $(BUILD)/examples/udp_echo \
	$(BUILD)/sluice-relay $(PRELOAD)
all: deps $(ALL_BINS)

$(BUILD)/examples/%: docs/examples/%.c $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libsluice.a $(LDLIBS)

deps:
	@bash tools/deps.sh $(DEB_PKGS)

$(BUILD)/%.o: %.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: %.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

# Position-independent objects for the shared library, apart from the static build's.
$(BUILD)/pic/%.o: %.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

# `sluice --version`.
$(BUILD)/tools/sluice.o $(BUILD)/san/tools/sluice.o: VERSION
$(BUILD)/tools/sluice.o $(BUILD)/san/tools/sluice.o: CFLAGS += -DSLUICE_VERSION='"$(VERSION)"'

$(BPF_OBJ): bpf/gate.bpf.c bpf/gate_shared.h
	@mkdir -p $(BUILD)
	$(BPF_CC) -target bpf -g -O2 -Wall -Werror -I$(ARCH_INC) -Ibpf -c $< -o $@

$(SKEL): $(BPF_OBJ)
	bpftool gen skeleton $< name sl_gate > $@.tmp && mv $@.tmp $@

$(BUILD)/libsluice.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The shared library exports exactly the functions declared in include/sluice/*.h: the version
# script is generated from the headers by the compiler (tools/api-symbols.sh); every other
# symbol, the sl_* internals shared between the library's files included, is local.
$(BUILD)/libsluice.map: tools/api-symbols.sh $(wildcard include/sluice/*.h)
	@mkdir -p $(BUILD)
	bash tools/api-symbols.sh --map > $@.tmp && mv $@.tmp $@

$(BUILD)/api-symbols.txt: tools/api-symbols.sh $(wildcard include/sluice/*.h)
	@mkdir -p $(BUILD)
	bash tools/api-symbols.sh > $@.tmp && mv $@.tmp $@

$(BUILD)/$(SO_FILE): $(LIB_POBJS) $(BUILD)/libsluice.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/libsluice.map \
		-Wl,--no-undefined -Wl,-z,relro -Wl,-z,now -o $@ $(LIB_POBJS) $(SO_LIBS)

$(BUILD)/$(SONAME) $(BUILD)/libsluice.so: $(BUILD)/$(SO_FILE)
	ln -sf $(SO_FILE) $@

$(PRELOAD): $(BUILD)/pic/tools/preload/preload.o $(LIB_POBJS) tools/preload/preload.map
	$(CC) $(CFLAGS) -shared -Wl,--version-script=tools/preload/preload.map -Wl,--no-undefined \
		-Wl,-z,relro -Wl,-z,now -o $@ $(BUILD)/pic/tools/preload/preload.o $(LIB_POBJS) \
		-ldl $(SO_LIBS)

# Where `sluice exec` finds the shim when it is not beside the binary (an installed CLI).
$(BUILD)/tools/cmd_exec.o $(BUILD)/san/tools/cmd_exec.o: CFLAGS += \
	-DSLUICE_PRELOAD_INSTALLED='"$(LIBDIR)/sluice/libsluice-preload.so"'

$(BUILD)/libsluice-san.a: $(LIB_SOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sluice: $(TOOL_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libsluice.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The CLI built with ASan+UBSan over libsluice-san.a, for one root veth test
# (tests/net/test_soak_san.sh) that fails on any sanitizer report.
$(BUILD)/san/sluice: $(TOOL_SRCS:%.c=$(BUILD)/san/%.o) $(BUILD)/libsluice-san.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

# The impairment relay of the tests and benchmarks (docs/relay.md): a program of its own, not
# linked with the stack.
$(BUILD)/sluice-relay: $(RELAY_SRCS:%.c=$(BUILD)/%.o)
	$(CC) $(CFLAGS) -o $@ $^ -lm

# The socket-semantics suite (tests/sock/test_semantics.sh): plain libc, no sluice code; run on
# the kernel and under `sluice exec`.
$(BUILD)/sock/semantics: tests/sock/semantics.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsluice.a tests/unit/testutil.h $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libsluice.a -lcmocka $(LDLIBS)

$(BUILD)/tests/%: tests/sim/%.c $(BUILD)/libsluice.a tests/unit/testutil.h $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libsluice.a -lcmocka $(LDLIBS)

$(BUILD)/san/tests/%: tests/unit/%.c $(BUILD)/libsluice-san.a tests/unit/testutil.h $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -Itests -o $@ $< $(BUILD)/libsluice-san.a -lcmocka $(LDLIBS)

$(BUILD)/san/tests/%: tests/sim/%.c $(BUILD)/libsluice-san.a tests/unit/testutil.h $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -Itests -o $@ $< $(BUILD)/libsluice-san.a -lcmocka $(LDLIBS)

# libFuzzer targets (tests/fuzz/fuzz_<harness>.c, corpus in tests/fuzz/corpus/<harness>/):
# the whole ingress path, one per wire parser, and a stateful TCP one. Every output is judged
# by tests/fuzz/oracle.h, which shares no code with the stack.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz_%)
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
LIB_FOBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzzlib/%.o)

# The library built once with coverage and sanitizers, linked into every harness.
$(BUILD)/fuzzlib/%.o: %.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/libsluice-fuzz.a: $(LIB_FOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/oracle.h $(BUILD)/libsluice-fuzz.a
	$(CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -Itests -o $@ $< $(BUILD)/libsluice-fuzz.a $(LDLIBS)

run: all
	@bash tools/demo.sh $(DURATION)

# `make test` builds with one job per CPU (the plain, sanitizer and fuzzing builds of the
# library are independent: 1 min 50 s instead of 3 min 33 s from a clean clone on 2 cores), after
# `deps` has finished, and then runs the suites: the unit, sanitizer and fuzzing ones TEST_JOBS at
# a time (they share nothing: 43 s and 52 s one at a time, 26 s and 28 s two at a time here), the
# network ones one at a time. TEST_JOBS overrides the count for both.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
TEST_BINS := $(ALL_BINS) $(UNIT_BINS) $(SAN_BINS) $(BUILD)/san/sluice $(FUZZ_BINS) \
	$(BUILD)/sock/semantics
.PHONY: test-bins
test-bins: $(TEST_BINS)

test: deps
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) test-bins
	@bash tests/run.sh

test-unit: all $(UNIT_BINS) $(SAN_BINS)
	@bash tests/run.sh unit

test-net: all $(BUILD)/san/sluice $(BUILD)/sock/semantics
	@bash tests/run.sh net

test-sock: all $(BUILD)/sock/semantics
	@bash tests/run.sh sock

test-install: all
	@bash tests/run.sh install

# `make fuzz` runs every harness in turn for FUZZ_SECONDS each (one process at a time); new
# inputs go to build/corpus/<harness>/, the committed seeds are read from
# tests/fuzz/corpus/<harness>/. `make fuzz FUZZ=tcp` runs only the named ones.
FUZZ_SECONDS ?= 300
FUZZ ?= $(FUZZ_NAMES)
fuzz: deps $(FUZZ_BINS)
	@set -e; for h in $(FUZZ); do \
		mkdir -p $(BUILD)/corpus/$$h tests/fuzz/corpus/$$h; \
		echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(BUILD)/corpus/$$h tests/fuzz/corpus/$$h; \
	done

bench: all
	@bash bench/run.sh

# `make install` (PREFIX, default /usr/local; DESTDIR for staging and packaging). The CLI goes
# to sbin: it administers the network (XDP, AF_XDP, bpffs) and needs root or CAP_BPF +
# CAP_NET_ADMIN, as its section-8 page says. `make uninstall` with the same PREFIX and DESTDIR
# removes every file installed. The gate's BPF object is embedded in the library (a bpftool
# skeleton, build/gate.skel.h): nothing of it is installed beside.
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/sbin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
DOCDIR       ?= $(PREFIX)/share/doc/sluice
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MAN3         := $(sort $(wildcard docs/man3/*.3))
EXAMPLES     := $(sort $(wildcard docs/examples/*.c))
D            := $(DESTDIR)

$(BUILD)/sluice.pc: user/sluice.pc.in VERSION FORCE
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@.tmp && mv $@.tmp $@
FORCE:

install: all $(BUILD)/sluice.pc $(BUILD)/api-symbols.txt
	install -D -m 0755 $(BUILD)/sluice $(D)$(BINDIR)/sluice
	install -D -m 0644 $(BUILD)/libsluice.a $(D)$(LIBDIR)/libsluice.a
	install -D -m 0755 $(BUILD)/$(SO_FILE) $(D)$(LIBDIR)/$(SO_FILE)
	ln -sf $(SO_FILE) $(D)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(D)$(LIBDIR)/libsluice.so
	install -D -m 0644 $(BUILD)/sluice.pc $(D)$(PKGCONFIGDIR)/sluice.pc
	install -D -m 0644 $(PRELOAD) $(D)$(LIBDIR)/sluice/libsluice-preload.so
	install -d $(D)$(INCLUDEDIR)/sluice
	install -m 0644 include/sluice/*.h $(D)$(INCLUDEDIR)/sluice/
	install -D -m 0644 docs/sluice.8 $(D)$(MANDIR)/man8/sluice.8
	install -d $(D)$(MANDIR)/man3
	$(if $(MAN3),install -m 0644 $(MAN3) $(D)$(MANDIR)/man3/)
	@# One alias page per function: `man sl_tcp_write` opens sluice_tcp(3).
	@while read -r fn hdr; do \
		echo ".so man3/sluice_$$hdr.3" > $(D)$(MANDIR)/man3/$$fn.3 || exit 1; \
	done < $(BUILD)/api-symbols.txt
	install -d $(D)$(DOCDIR)/examples
	install -m 0644 $(EXAMPLES) $(D)$(DOCDIR)/examples/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then ldconfig || true; fi

uninstall: $(BUILD)/api-symbols.txt
	rm -f $(D)$(BINDIR)/sluice
	rm -f $(D)$(LIBDIR)/libsluice.a $(D)$(LIBDIR)/libsluice.so $(D)$(LIBDIR)/$(SONAME) \
		$(D)$(LIBDIR)/$(SO_FILE) $(D)$(PKGCONFIGDIR)/sluice.pc
	rm -f $(D)$(LIBDIR)/sluice/libsluice-preload.so
	-rmdir $(D)$(LIBDIR)/sluice
	rm -f $(addprefix $(D)$(INCLUDEDIR)/sluice/,$(notdir $(wildcard include/sluice/*.h)))
	-rmdir $(D)$(INCLUDEDIR)/sluice
	rm -f $(D)$(MANDIR)/man8/sluice.8 $(addprefix $(D)$(MANDIR)/man3/,$(notdir $(MAN3)))
	@while read -r fn hdr; do rm -f $(D)$(MANDIR)/man3/$$fn.3; done < $(BUILD)/api-symbols.txt
	rm -f $(addprefix $(D)$(DOCDIR)/examples/,$(notdir $(EXAMPLES)))
	-rmdir $(D)$(DOCDIR)/examples $(D)$(DOCDIR)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then ldconfig || true; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
