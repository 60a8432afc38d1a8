# slic: one non-recursive Makefile. Every variant builds into its own folder under build/:
#   build/release  -O2, no sanitizers: the binaries operators run (`make`) and benchmarks
#   build/asan     -O1 with AddressSanitizer + UBSan: what `make test` runs
#   build/fuzz     clang + libFuzzer targets (`make fuzz`)
# The variant is chosen by O= and SAN=; the top-level targets re-enter this same file with them.

O        ?= build/release
# Sub-makes build in parallel on every core (the dependency graph, generated headers included,
# is complete, so this is safe).
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
SAN      ?= 0
CC       ?= cc
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
# -ffp-contract=off: no fused multiply-add, so every platform maps a latency to the same bucket.
BASEFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -ffp-contract=off -g -MMD -MP \
             -Icommon -Iproto -I$(O)/gen -Itests -I.
ifeq ($(SAN),1)
OPTFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
else
OPTFLAGS := -O2
LDSAN    :=
endif
CFLAGS_ALL := $(BASEFLAGS) $(OPTFLAGS) $(CFLAGS)
LDLIBS_ALL := -llmdb -lnng -lmbedcrypto -lyaml -lprotobuf-c -luv -lcurl -lmicrohttpd -lpthread -lm $(LDLIBS)

COMMON_SRC  := $(sort $(wildcard common/*.c))
PROTO_SRC   := $(sort $(wildcard proto/*.c))
TEST_SRC    := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC   := $(sort $(wildcard tests/bench/bench_*.c))
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
# aggregator/: everything but the two mains goes into a library the tests link too.
AGG_MAINS   := aggregator/main.c $(wildcard aggregator/cli*.c)
AGG_SRC     := $(filter-out $(AGG_MAINS),$(sort $(wildcard aggregator/*.c)))
# agent/: likewise, everything but its main.
AGENT_MAINS := agent/main.c
AGENT_SRC   := $(filter-out $(AGENT_MAINS),$(sort $(wildcard agent/*.c)))
TOOL_SRC    := $(sort $(wildcard tests/tools/*.c))

GEN_C       := $(O)/gen/slic.pb-c.c
GEN_H       := $(O)/gen/slic.pb-c.h
COMMON_OBJ  := $(COMMON_SRC:%.c=$(O)/obj/%.o)
PROTO_OBJ   := $(PROTO_SRC:%.c=$(O)/obj/%.o) $(O)/obj/gen/slic.pb-c.o
HARNESS_OBJ := $(O)/obj/tests/harness.o
LIB_COMMON  := $(O)/lib/libslic_common.a
LIB_PROTO   := $(O)/lib/libslic_proto.a
AGG_OBJ     := $(AGG_SRC:%.c=$(O)/obj/%.o)
LIB_AGG     := $(O)/lib/libslic_agg.a
AGENT_OBJ   := $(AGENT_SRC:%.c=$(O)/obj/%.o)
LIB_AGENT   := $(O)/lib/libslic_agent.a
BINS        := $(if $(wildcard aggregator/main.c),$(O)/bin/slic-aggregator) \
               $(if $(wildcard agent/main.c),$(O)/bin/slic-agent) \
               $(if $(wildcard aggregator/cli.c),$(O)/bin/slic)
TOOLS       := $(O)/bin/slic-testsend $(O)/bin/slic-loadgen $(O)/bin/slic-testhttp \
               $(O)/bin/slic-alertpush-drive
TEST_BIN    := $(TEST_SRC:tests/unit/%.c=$(O)/tests/%)
BENCH_BIN   := $(BENCH_SRC:tests/bench/%.c=$(O)/bench/%)

.PHONY: all deps demo test test-build test-artifacts bench-artifacts bench fuzz fuzz-build clean format check-format libs

all: libs $(BINS)

libs: $(LIB_COMMON) $(LIB_PROTO) $(LIB_AGG) $(LIB_AGENT)

deps:
	$(Q)bash .ci/deps.sh

# ---- generated protobuf code (never committed) ----
$(GEN_C) $(GEN_H) &: proto/slic.proto
	@mkdir -p $(O)/gen
	$(Q)protoc-c --proto_path=proto --c_out=$(O)/gen proto/slic.proto

# ---- the dashboard page: aggregator/dashboard.html stays plain HTML and is embedded at build
# time as a byte array (od is in coreutils, so no extra tool) ----
DASH_C   := $(O)/gen/dashboard_html.c
DASH_OBJ := $(O)/obj/gen/dashboard_html.o
$(DASH_C): aggregator/dashboard.html
	@mkdir -p $(dir $@)
	$(Q){ echo '/* Generated from aggregator/dashboard.html by the Makefile: do not edit. */'; \
	  echo '#include <stddef.h>'; echo 'const unsigned char agg__dashboard_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/[0-9a-f][0-9a-f]/0x&,/g'; echo '};'; \
	  echo 'const size_t agg__dashboard_html_len = sizeof agg__dashboard_html;'; } >$@.tmp
	$(Q)mv $@.tmp $@
$(DASH_OBJ): $(DASH_C)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@
$(LIB_AGG): $(DASH_OBJ)

# Everything that includes a proto header must wait for the generator.
MAIN_OBJ := $(patsubst %.c,$(O)/obj/%.o,$(AGG_MAINS) $(AGENT_MAINS) $(TOOL_SRC) $(TEST_SRC) \
                $(BENCH_SRC) $(FUZZ_SRC))
$(COMMON_OBJ) $(PROTO_OBJ) $(AGG_OBJ) $(AGENT_OBJ) $(HARNESS_OBJ) $(MAIN_OBJ): | $(GEN_H)

# Generated code is not ours to warn about: compiled without -Werror.
$(O)/obj/gen/slic.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -w -c $< -o $@

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

# Unit tests of the aggregator and the agent include their headers by name.
$(O)/obj/tests/unit/%.o: CFLAGS_ALL += -Iaggregator -Iagent

$(LIB_COMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_PROTO): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_AGG): $(AGG_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_AGENT): $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

# ---- binaries ----
LIBS_ALL := $(LIB_AGG) $(LIB_AGENT) $(LIB_PROTO) $(LIB_COMMON)

$(O)/bin/slic-aggregator: $(O)/obj/aggregator/main.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ $(LDLIBS_ALL)

$(O)/bin/slic-agent: $(O)/obj/agent/main.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ $(LDLIBS_ALL)

$(O)/bin/slic: $(patsubst %.c,$(O)/obj/%.o,$(wildcard aggregator/cli*.c)) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ $(LDLIBS_ALL)

# Test tools: slic-testsend plays agents, slic-loadgen plays a StatsD client, slic-testhttp is a
# web endpoint for probes.
$(O)/bin/slic-testsend: $(O)/obj/tests/tools/testsend.o $(O)/obj/tests/tools/testsend_bad.o \
                        $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ $(LDLIBS_ALL)

# slic-alertpush-drive plays the SLO engine: pushes one alert firing, then resolved.
$(O)/bin/slic-alertpush-drive: $(O)/obj/tests/tools/alertpush_drive.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ $(LDLIBS_ALL)

$(O)/bin/slic-loadgen: $(O)/obj/tests/tools/loadgen.o
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ -lm

$(O)/bin/slic-testhttp: $(O)/obj/tests/tools/testhttp.o
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ -lmicrohttpd

# ---- unit tests: one binary per module ----
$(O)/tests/%: $(O)/obj/tests/unit/%.o $(HARNESS_OBJ) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDSAN) $^ -o $@ $(LDLIBS_ALL)

test-build: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) O=build/asan SAN=1 test-artifacts

# Everything the test suite runs, built in the current variant.
test-artifacts: libs $(TEST_BIN) $(BINS) $(TOOLS)

test: test-build
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)bash tests/run-tests.sh build/asan build/fuzz

# ---- benchmarks: release build ----
$(O)/bench/%: $(O)/obj/tests/bench/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $^ -o $@ $(LDLIBS_ALL)

bench: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) O=build/release SAN=0 bench-artifacts
	$(Q)for b in $(BENCH_SRC:tests/bench/%.c=build/release/bench/%); do $$b || exit 1; done
	$(Q)for s in tests/bench/*.sh; do SLIC_BUILD=build/release bash $$s || exit 1; done

bench-artifacts: $(BENCH_BIN) $(BINS) $(TOOLS)

# ---- the demo: an aggregator and two agents on loopback, about a minute of traffic ----
demo: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) O=build/release SAN=0 $(BINS) $(TOOLS)
	$(Q)SLIC_BUILD=build/release bash examples/demo.sh

# ---- fuzz targets: clang + libFuzzer (skipped with a message when clang is absent) ----
FUZZ_O := build/fuzz
fuzz-build:
	$(Q)if command -v clang >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory -j$(JOBS) O=$(FUZZ_O) CC=clang SAN=0 \
	        CFLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	        $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/fuzz/%); \
	else echo "fuzz: clang not found, fuzz targets not built"; fi

$(O)/fuzz/%: $(O)/obj/tests/fuzz/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined $^ -o $@ $(LDLIBS_ALL)

FUZZ_SECONDS ?= 60
fuzz: deps fuzz-build
	$(Q)for f in $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/fuzz/%); do \
	    mkdir -p build/fuzz/corpus/$$(basename $$f); \
	    $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus/$$(basename $$f) || exit 1; done

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
