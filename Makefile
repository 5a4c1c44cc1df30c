# ironlb build. `make` builds the binaries; `make check` installs what it
# needs (Debian packages), builds, and runs every test; `make demo` runs the
# lab. Sources are found by directory, so adding a file needs no edit here:
#   lib/*.c          -> build/lib/libironlb.a (shared by everything)
#   controller/*.c   -> build/bin/ironlb-controller (main.c) + a library for tests
#   speaker/*.c      -> build/bin/ironlb-speaker   (main.c) + a library for tests
#   speaker/ctl/*.c  -> build/bin/ironlbctl
#   tests/unit/test_*.c  -> one cmocka binary each, built with ASan+UBSan
#   tests/fuzz/fuzz_*.c  -> one libFuzzer binary each (clang)
#   tests/kube-sim       -> build/bin/kube-sim (Go, standard library only)

VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null)
FULL_VERSION := $(VERSION)$(if $(GIT_REV),+$(GIT_REV))

CC ?= gcc
CLANG ?= clang
BUILD := build
BIN := $(BUILD)/bin

# Libraries, resolved with pkg-config when used (after `make deps`).
PKGS := libcurl libssh2 jansson libnl-3.0 libnl-route-3.0 libpcap libnftables nettle \
	libmicrohttpd yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
# libnftables is loaded at run time by speaker/nft_dl.c, not linked.
PKG_LIBS = $(filter-out -lnftables,$(shell pkg-config --libs $(PKGS)))

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
COMMON_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) -g -Iinclude $(PKG_CFLAGS) \
	-DIRONLB_VERSION='"$(FULL_VERSION)"' -MMD -MP
HARDEN_CFLAGS := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,--as-needed
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

CFLAGS ?=
LDFLAGS ?=

LIB_SRC := $(sort $(wildcard lib/*.c))
CTRL_SRC := $(sort $(filter-out controller/main.c,$(wildcard controller/*.c)))
SPK_SRC := $(sort $(filter-out speaker/main.c,$(wildcard speaker/*.c)))
CTL_SRC := $(sort $(wildcard speaker/ctl/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPERS := $(sort $(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c)))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))

OBJ := $(BUILD)/obj
ASAN := $(BUILD)/asan

obj = $(patsubst %.c,$(1)/%.o,$(2))

LIB_A := $(BUILD)/lib/libironlb.a
CTRL_A := $(BUILD)/lib/libcontroller.a
SPK_A := $(BUILD)/lib/libspeaker.a
ASAN_LIB_A := $(ASAN)/lib/libironlb.a
ASAN_CTRL_A := $(ASAN)/lib/libcontroller.a
ASAN_SPK_A := $(ASAN)/lib/libspeaker.a

BINARIES := $(BIN)/ironlb-controller $(BIN)/ironlb-speaker $(BIN)/ironlbctl
UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN)/unit/%,$(UNIT_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
# Test drivers for integration tests, built with the sanitizers so that the
# integration tests also catch memory errors and leaks in lib/.
TOOL_BINS := $(patsubst tests/tools/%.c,$(ASAN)/tools/%,$(TOOL_SRC))

GO_ENV := GOFLAGS=-buildvcs=false GOCACHE=$(CURDIR)/$(BUILD)/gocache \
	GOPATH=$(CURDIR)/$(BUILD)/gopath GOPROXY=off GO111MODULE=on


.PHONY: all deps check test unit tools integration fuzz fuzz-long bench demo format format-check \
	clean kube-sim

all: $(BINARIES) kube-sim

deps:
	@tests/deps.sh

# ---- objects ----

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(COMMON_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) -c $< -o $@

$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC.san  $<"
	@$(CC) $(COMMON_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -c $< -o $@

define archive
	@mkdir -p $(dir $@)
	@rm -f $@
	@ar rcs $@ $^
endef

# The version (with the git revision) is compiled into these objects:
# rebuild them when it changes, not only when their sources do.
# The file is rewritten while the Makefile is read, only when the version
# differs, so that its date tells make when the version changed.
VERSIONED_SRC := lib/daemon.c lib/kube_client.c controller/main.c
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(BUILD)/version 2>/dev/null)" = '$(FULL_VERSION)' ] || \
	echo '$(FULL_VERSION)' >$(BUILD)/version; })
$(call obj,$(OBJ),$(VERSIONED_SRC)) $(call obj,$(ASAN),$(VERSIONED_SRC)): $(BUILD)/version

$(LIB_A): $(call obj,$(OBJ),$(LIB_SRC)) ; $(archive)
$(CTRL_A): $(call obj,$(OBJ),$(CTRL_SRC)) ; $(archive)
$(SPK_A): $(call obj,$(OBJ),$(SPK_SRC)) ; $(archive)
$(ASAN_LIB_A): $(call obj,$(ASAN),$(LIB_SRC)) ; $(archive)
$(ASAN_CTRL_A): $(call obj,$(ASAN),$(CTRL_SRC)) ; $(archive)
$(ASAN_SPK_A): $(call obj,$(ASAN),$(SPK_SRC)) ; $(archive)

# ---- binaries ----

$(BIN)/ironlb-controller: $(OBJ)/controller/main.o $(CTRL_A) $(LIB_A)
	@mkdir -p $(BIN)
	@echo "  LD      $@"
	@$(CC) $(HARDEN_LDFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/ironlb-speaker: $(OBJ)/speaker/main.o $(SPK_A) $(LIB_A)
	@mkdir -p $(BIN)
	@echo "  LD      $@"
	@$(CC) $(HARDEN_LDFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/ironlbctl: $(call obj,$(OBJ),$(CTL_SRC)) $(LIB_A)
	@mkdir -p $(BIN)
	@echo "  LD      $@"
	@$(CC) $(HARDEN_LDFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

KUBE_SIM_SRC := $(wildcard tests/kube-sim/*.go tests/kube-sim/go.mod)
KUBE_SIM_LOAD_SRC := $(wildcard tests/bench/kube-sim-load/*.go tests/bench/kube-sim-load/go.mod)

kube-sim: $(if $(KUBE_SIM_SRC),$(BIN)/kube-sim) $(if $(KUBE_SIM_LOAD_SRC),$(BIN)/kube-sim-load)

$(BIN)/kube-sim: $(KUBE_SIM_SRC)
	@mkdir -p $(BIN)
	@echo "  GO      $@"
	@cd tests/kube-sim && $(GO_ENV) go build -o $(CURDIR)/$@ .

$(BIN)/kube-sim-load: $(KUBE_SIM_LOAD_SRC)
	@mkdir -p $(BIN)
	@echo "  GO      $@"
	@cd tests/bench/kube-sim-load && $(GO_ENV) go build -o $(CURDIR)/$@ .

# ---- tests ----

$(ASAN)/unit/%: $(ASAN)/tests/unit/%.o $(call obj,$(ASAN),$(UNIT_HELPERS)) $(ASAN_CTRL_A) \
		$(ASAN_SPK_A) $(ASAN_LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD.san  $@"
	@$(CC) $(SAN_FLAGS) $^ $(PKG_LIBS) -lcmocka -lm -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(CTRL_SRC) $(SPK_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@$(CLANG) -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude $(PKG_CFLAGS) \
		-DIRONLB_VERSION='"$(FULL_VERSION)"' $< $(LIB_SRC) $(CTRL_SRC) $(SPK_SRC) \
		$(PKG_LIBS) -lm -o $@

$(ASAN)/tools/%: $(ASAN)/tests/tools/%.o $(ASAN_CTRL_A) $(ASAN_SPK_A) $(ASAN_LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD.san  $@"
	@$(CC) $(SAN_FLAGS) $^ $(PKG_LIBS) -lm -o $@

unit: $(UNIT_BINS)
tools: $(TOOL_BINS)
fuzz: $(FUZZ_BINS)

# `make check`: dependencies, then a fresh make so pkg-config sees them.
check: deps
	@$(MAKE) --no-print-directory test

test: all unit tools fuzz
	@tests/run.sh

fuzz-long: fuzz
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} tests/run.sh --only fuzz

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/lab/demo.sh

format:
	clang-format -i $(wildcard lib/*.c include/ironlb/*.h controller/*.c controller/*.h \
		speaker/*.c speaker/*.h speaker/ctl/*.c tests/unit/*.c tests/unit/*.h tests/fuzz/*.c)

format-check:
	clang-format --dry-run --Werror $(wildcard lib/*.c include/ironlb/*.h controller/*.c \
		controller/*.h speaker/*.c speaker/*.h speaker/ctl/*.c tests/unit/*.c \
		tests/unit/*.h tests/fuzz/*.c)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.SECONDARY:
