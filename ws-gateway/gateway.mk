# The messaging gateway: ws-gateway/app on top of the protocol layers
# (protocol.mk) and libmessaging. Included by the top Makefile.

GW_SRCS := $(sort $(wildcard ws-gateway/app/*.c))
GW_OBJS := $(GW_SRCS:%.c=$(B)/%.o)
GW_BIN  := $(if $(filter release,$(VARIANT)),ws-gateway/messaging-gateway,$(B)/ws-gateway/messaging-gateway)

$(GW_OBJS): CFLAGS_ALL += $(SIO_CFLAGS) -Iws-gateway/app

$(GW_BIN): $(GW_OBJS) $(SIO_LIB) $(LIBMSG)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(GW_OBJS) $(SIO_LIB) $(LIBMSG) $(PKG_LIBS)

gateway:: $(GW_BIN)
