# Messaging backend: build, run, test, bench.  See README.md.
# `make` builds the release binaries; `make test` builds a sanitizer variant
# under build/san and runs every test against it.

SHELL := /bin/bash
.DEFAULT_GOAL := all

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libwebsockets libjwt json-c libpq fcgi openssl libuv

# pkg-config is only asked once the packages are there (make deps installs them).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
STD     := -std=c11 -D_GNU_SOURCE
VARIANT ?= release
ifeq ($(VARIANT),san)
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN  := -fsanitize=address,undefined
else
  OPT    := -O2 -g
  LDSAN  :=
endif
B        := build/$(VARIANT)
CFLAGS_ALL = $(STD) $(WARN) $(OPT) -Ishared $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(LDSAN) $(LDFLAGS)

# ---------------------------------------------------------------- sources
SHARED_SRCS := $(sort $(wildcard shared/*.c))
SHARED_OBJS := $(SHARED_SRCS:%.c=$(B)/%.o)
LIBMSG      := $(B)/shared/libmessaging.a

API_SRCS := $(sort $(wildcard fcgi-api/*.c))
API_OBJS := $(API_SRCS:%.c=$(B)/%.o)
API_BIN  := $(if $(filter release,$(VARIANT)),fcgi-api/messaging-api,$(B)/fcgi-api/messaging-api)

# Tools: small programs of their own on libmessaging.
TOKEN_BIN := $(if $(filter release,$(VARIANT)),tools/msg-token,$(B)/tools/msg-token)

UNIT_SRCS := $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:t/unit/%.c=$(B)/t/unit/%)

.PHONY: all deps build run start stop test format check-style test-unit test-integration test-browser test-ops bench bench-idle bench-scale bench-audit bench-flood bench-section9 token clean conformance fuzz install
all: deps-check $(API_BIN) $(TOKEN_BIN) gateway

deps:
	@scripts/deps.sh

# Cheap check so that a plain `make` on a bare machine installs what it needs.
deps-check:
	@pkg-config --exists $(PKGS) 2>/dev/null || scripts/deps.sh

Q := $(if $(V),,@)
$(B)/%.o: %.c | deps-check
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBMSG): $(SHARED_OBJS)
	@mkdir -p $(dir $@)
	$(Q)ar rcs $@ $^

$(API_BIN): $(API_OBJS) $(LIBMSG)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(API_OBJS) $(LIBMSG) $(PKG_LIBS)

$(TOKEN_BIN): $(B)/tools/msg_token.o $(LIBMSG)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# UNIT_OBJS, UNIT_CFLAGS: what a test of a program's own file links and
# includes (set per test below, once the gateway's rules are in).
$(B)/t/unit/%: t/unit/%.c t/lib/check.h $(LIBMSG)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) $(UNIT_CFLAGS) -It/lib -o $@ $< $(UNIT_OBJS) $(LIBMSG) $(LDFLAGS_ALL) $(PKG_LIBS)

# The gateway and its protocol layers bring their own rules.
-include ws-gateway/protocol.mk
-include ws-gateway/gateway.mk
# The web client's browser tests, and the operator's side (install, services).
-include t/browser/browser.mk
-include conf/install.mk

# Unit tests of files of the programs: those objects linked in (the API's
# all but main.o, since router.c names every handler).
UNIT_API := $(B)/t/unit/test_router $(B)/t/unit/test_request
UNIT_GW  := $(B)/t/unit/test_imap $(B)/t/unit/test_pgconn $(B)/t/unit/test_eio_hash $(B)/t/unit/test_replay
$(UNIT_API): UNIT_CFLAGS = -Ifcgi-api
$(UNIT_API): UNIT_OBJS = $(filter-out $(B)/fcgi-api/main.o,$(API_OBJS))
$(UNIT_API): $(filter-out $(B)/fcgi-api/main.o,$(API_OBJS))
$(UNIT_GW): UNIT_CFLAGS = $(SIO_CFLAGS) -Iws-gateway/app
$(B)/t/unit/test_imap: UNIT_OBJS = $(B)/ws-gateway/app/imap.o
$(B)/t/unit/test_imap: $(B)/ws-gateway/app/imap.o
$(B)/t/unit/test_pgconn: UNIT_OBJS = $(B)/ws-gateway/app/pgconn.o $(B)/ws-gateway/app/pgpool.o
$(B)/t/unit/test_pgconn: $(B)/ws-gateway/app/pgconn.o $(B)/ws-gateway/app/pgpool.o
$(B)/t/unit/test_eio_hash: UNIT_OBJS = $(B)/ws-gateway/engineio/eio_hash.o
$(B)/t/unit/test_eio_hash: $(B)/ws-gateway/engineio/eio_hash.o
$(B)/t/unit/test_replay: UNIT_OBJS = $(B)/ws-gateway/app/replay.o
$(B)/t/unit/test_replay: $(B)/ws-gateway/app/replay.o


-include $(shell find build -type f -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- run
run: all
	@scripts/stack.sh run

start: all
	@scripts/stack.sh start

stop:
	@scripts/stack.sh stop

token: $(TOKEN_BIN)
	@scripts/stack.sh token "$(USER)"

# ---------------------------------------------------------------- style
# One style for the C of the whole tree (.clang-format), checked by make test.
format:
	@scripts/check-style.sh --fix

check-style:
	@scripts/check-style.sh

# ---------------------------------------------------------------- test
test: deps-check
	@scripts/deps.sh --test
	@rm -rf build/test-results
	@scripts/check-style.sh
	$(MAKE) VARIANT=san test-unit
	$(MAKE) VARIANT=san test-integration
	@set -o pipefail; $(MAKE) --no-print-directory VARIANT=san test-protocol 2>&1 | tee build/test-protocol.log
	@grep -E '^protocol: [0-9]+ passed' build/test-protocol.log | tail -n 1 >build/test-results/protocol.txt
	$(MAKE) --no-print-directory VARIANT=san test-browser
	$(MAKE) --no-print-directory VARIANT=san test-ops
	@scripts/test-summary.sh

test-unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

test-integration: $(API_BIN) $(TOKEN_BIN) gateway
	@scripts/run-integration.sh $(B)

test-protocol:: ;
# Each writes build/test-results/NAME.txt ("NAME: N passed, M failed").
test-browser:: ;
test-ops:: ;

bench: all
	@scripts/bench.sh
	@scripts/bench-idle.sh
	@scripts/bench-flood.sh
	@scripts/bench-section9.sh

# One socket flooding 5,000 events/s; another pair's p99 with and without it.
bench-flood: all
	@scripts/bench-flood.sh

# 100,000 joined sockets over 6 gateways, and the cost of rooms held.
bench-scale: all
	@scripts/bench-scale.sh

# The gateway's CPU holding idle sessions, with each event loop.
bench-idle: all
	@scripts/bench-idle.sh

# Presence, delivery receipts and the access log off and on, side by side.
bench-section9: all
	@scripts/bench-section9.sh

# The access log's cost alone: the REST table, then GET .../messages with
# audit_log off and on side by side.
bench-audit: all
	@BENCH_AUDIT_ONLY=1 scripts/bench.sh

clean:
	rm -rf build fcgi-api/messaging-api tools/msg-token ws-gateway/messaging-gateway ws-gateway/conformance-server
