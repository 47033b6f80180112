# regress/imsg.mk: builds the message framing tests (included by Makefile,
# after ../mk/common.mk, run from regress/).
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

UNIT_TESTS +=	unit/test_imsg
FUZZERS +=	fuzz/fuzz_imsg fuzz/fuzz_msgs fuzz/fuzz_conf

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

# The message table and every config_get*(), as a receiver runs them.
MSGS_SRCS =	../portero/names.c ../portero/config.c ../portero/imsg.c \
		../portero/confset.c ../portero/parse.c \
		../portero/listener.c ../portero/proc.c ../portero/sandbox.c \
		../portero/secrets.c ../portero/clientca.c ../portero/poolca.c \
		../portero/poolcert.c \
		../portero/ptls_$(TLS).c ../portero/certs.c \
		unit/logstub.c

fuzz/fuzz_msgs: fuzz/fuzz_msgs.c $(MSGS_SRCS) ../portero/portero.h \
    ../mk/common.mk imsg.mk
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    -Wshadow -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
	    -Wno-unused-parameter $(PKG_CFLAGS) -o $@ fuzz/fuzz_msgs.c \
	    $(MSGS_SRCS) $(LDLIBS)

.PHONY: test_imsg fuzz_imsg

# portero.conf(5): the parser and the set's checks, on any bytes.
fuzz/fuzz_conf: fuzz/fuzz_conf.c $(MSGS_SRCS) ../portero/portero.h \
    ../mk/common.mk imsg.mk
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    -Wshadow -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
	    -Wno-unused-parameter $(PKG_CFLAGS) -o $@ fuzz/fuzz_conf.c \
	    $(MSGS_SRCS) $(LDLIBS) -ldl
