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
	ndisc6 apache2-utils

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

.PHONY: all run test test-unit test-san test-fuzz test-net bench fuzz install clean deps format

all: deps $(BUILD)/sluice $(BUILD)/libsluice.a $(BUILD)/examples/udp_echo $(BUILD)/sluice-relay

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

$(BPF_OBJ): bpf/gate.bpf.c bpf/gate_shared.h
	@mkdir -p $(BUILD)
	$(BPF_CC) -target bpf -g -O2 -Wall -Werror -I$(ARCH_INC) -Ibpf -c $< -o $@

$(SKEL): $(BPF_OBJ)
	bpftool gen skeleton $< name sl_gate > $@.tmp && mv $@.tmp $@

$(BUILD)/libsluice.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

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

test: all $(UNIT_BINS) $(SAN_BINS) $(BUILD)/san/sluice $(FUZZ_BINS)
	@bash tests/run.sh

test-unit: all $(UNIT_BINS) $(SAN_BINS)
	@bash tests/run.sh unit

test-net: all $(BUILD)/san/sluice
	@bash tests/run.sh net

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

PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(BUILD)/sluice $(DESTDIR)$(PREFIX)/sbin/sluice
	install -D -m 0644 docs/sluice.8 $(DESTDIR)$(PREFIX)/share/man/man8/sluice.8
	install -D -m 0644 $(BUILD)/libsluice.a $(DESTDIR)$(PREFIX)/lib/libsluice.a
	install -d $(DESTDIR)$(PREFIX)/include/sluice
	install -m 0644 include/sluice/*.h $(DESTDIR)$(PREFIX)/include/sluice/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
