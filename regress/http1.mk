# regress/http1.mk: the HTTP/1.1 parser's unit test and fuzzer (included
# by Makefile, after ../mk/common.mk, run from regress/).

UNIT_TESTS +=	unit/test_http1
FUZZERS +=	fuzz/fuzz_http1

FUZZ_CC ?=	clang
FUZZ_CFLAGS ?=	-g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all

# http1.h stands alone: neither program needs portero.h or a library.
HTTP1_SRCS =	../portero/http1.c
HTTP1_DEPS =	$(HTTP1_SRCS) ../portero/http1.h ../mk/common.mk http1.mk

test_http1: unit/test_http1

# http1.c is compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_http1: unit/test_http1.c $(HTTP1_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_http1.c $(HTTP1_SRCS)

fuzz_http1: fuzz/fuzz_http1

fuzz/fuzz_http1: fuzz/fuzz_http1.c $(HTTP1_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    -Wshadow -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
	    -o $@ fuzz/fuzz_http1.c $(HTTP1_SRCS)

.PHONY: test_http1 fuzz_http1
