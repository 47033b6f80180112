# regress/imsg.mk: builds the message framing tests (included by Makefile,
# after ../mk/common.mk, run from regress/).

UNIT_TESTS +=	unit/test_imsg
FUZZERS +=	fuzz/fuzz_imsg

FUZZ_CC ?=	clang
FUZZ_CFLAGS ?=	-g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all

IMSG_SRCS =	../portero/imsg.c
IMSG_DEPS =	$(IMSG_SRCS) ../portero/portero.h ../mk/common.mk imsg.mk

test_imsg: unit/test_imsg

# imsg.c is compiled in, not linked as ../portero/imsg.o, so the test
# never runs against a stale object or one built with other flags.
unit/test_imsg: unit/test_imsg.c $(IMSG_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_imsg.c $(IMSG_SRCS) -lbsd

fuzz_imsg: fuzz/fuzz_imsg

fuzz/fuzz_imsg: fuzz/fuzz_imsg.c $(IMSG_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    -Wshadow -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
	    $(PKG_CFLAGS) -o $@ fuzz/fuzz_imsg.c $(IMSG_SRCS) -lbsd

.PHONY: test_imsg fuzz_imsg
