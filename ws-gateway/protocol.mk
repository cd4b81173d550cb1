# Engine.IO v4 + Socket.IO v5 protocol layers: the library, the conformance
# server, their tests, fuzzers and benchmark. Included by the top Makefile,
# which provides CC, CFLAGS_ALL, LDFLAGS_ALL, PKG_LIBS, LIBMSG, B and VARIANT.
# The layers take their input checks (UTF-8, JSON), randomness and caps from
# shared/ (validate.c, random.c, msg_limits.h): whatever links libsio.a links
# libmessaging.a after it.

SIO_CFLAGS := -Iws-gateway
SIO_SRCS   := $(sort $(wildcard ws-gateway/engineio/*.c ws-gateway/socketio/*.c))
SIO_OBJS   := $(SIO_SRCS:%.c=$(B)/%.o)
SIO_LIB    := $(B)/ws-gateway/libsio.a

$(SIO_OBJS): CFLAGS_ALL += $(SIO_CFLAGS)

$(SIO_LIB): $(SIO_OBJS)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

# ---------------------------------------------------------------- conformance
CONF_SRCS := $(sort $(wildcard ws-gateway/conformance/*.c))
CONF_OBJS := $(CONF_SRCS:%.c=$(B)/%.o)
CONF_BIN  := $(B)/ws-gateway/conformance-server

$(CONF_OBJS): CFLAGS_ALL += $(SIO_CFLAGS)

$(CONF_BIN): $(CONF_OBJS) $(SIO_LIB) $(LIBMSG)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CONF_OBJS) $(SIO_LIB) $(LIBMSG) $(PKG_LIBS)

conformance:
	$(MAKE) VARIANT=release build/release/ws-gateway/conformance-server
	cp build/release/ws-gateway/conformance-server ws-gateway/conformance-server

# ---------------------------------------------------------------- tests
PROTO_TEST_SRCS := $(sort $(wildcard t/protocol/test_*.c))
PROTO_TEST_BINS := $(PROTO_TEST_SRCS:t/protocol/%.c=$(B)/t/protocol/%)

$(B)/t/protocol/%: t/protocol/%.c t/lib/check.h $(SIO_LIB) $(LIBMSG)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SIO_CFLAGS) -It/lib -o $@ $< $(SIO_LIB) $(LIBMSG) $(LDFLAGS_ALL) $(PKG_LIBS)

# libFuzzer targets: clang, whatever CC is; only the pure codecs and the
# input checks they call.
FUZZ_CC    ?= clang
FUZZ_CODEC := ws-gateway/engineio/eio_codec.c ws-gateway/socketio/sio_codec.c shared/validate.c
FUZZ_SRCS  := $(sort $(wildcard t/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_SRCS:t/fuzz/%.c=build/fuzz/%)

build/fuzz/%: t/fuzz/%.c $(FUZZ_CODEC) $(wildcard ws-gateway/engineio/*.h ws-gateway/socketio/*.h shared/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	  -fsanitize=fuzzer,address,undefined $(SIO_CFLAGS) -Ishared $(shell pkg-config --cflags json-c) \
	  -o $@ $< $(FUZZ_CODEC) $(shell pkg-config --libs json-c)

test-protocol:: $(PROTO_TEST_BINS) $(CONF_BIN) $(FUZZ_BINS)
	@t/protocol/run.sh --build $(B) --fuzz-runs 20000 $(PROTO_TEST_BINS) -- $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@t/fuzz/run.sh 60 $(FUZZ_BINS)

bench-protocol:
	$(MAKE) VARIANT=release build/release/ws-gateway/conformance-server build/release/t/protocol/bench_codec
	@t/protocol/bench.sh build/release

.PHONY: bench-protocol
