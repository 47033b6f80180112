# regress/proxyproto.mk: the PROXY protocol parser's unit test and fuzzer
# (included by Makefile, after ../mk/common.mk, run from regress/).
#
# Copyright (c) 2026 The portero authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHORS DISCLAIM ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

UNIT_TESTS +=	unit/test_proxyproto
FUZZERS +=	fuzz/fuzz_proxyproto

FUZZ_CC ?=	clang
FUZZ_CFLAGS ?=	-g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all

# proxyproto.h stands alone: neither program needs portero.h or a library.
PROXYPROTO_SRCS =	../portero/proxyproto.c
PROXYPROTO_DEPS =	$(PROXYPROTO_SRCS) ../portero/proxyproto.h \
			../mk/common.mk proxyproto.mk

test_proxyproto: unit/test_proxyproto

# proxyproto.c is compiled in, as in imsg.mk, never a stale
# ../portero/*.o.
unit/test_proxyproto: unit/test_proxyproto.c $(PROXYPROTO_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_proxyproto.c \
	    $(PROXYPROTO_SRCS)

fuzz_proxyproto: fuzz/fuzz_proxyproto

fuzz/fuzz_proxyproto: fuzz/fuzz_proxyproto.c $(PROXYPROTO_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    -Wshadow -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
	    -o $@ fuzz/fuzz_proxyproto.c $(PROXYPROTO_SRCS)

.PHONY: test_proxyproto fuzz_proxyproto
