# regress/certs.mk: the unit test of the certificate pipeline, certs.c and
# tlsctx.c (included by Makefile, after ../mk/common.mk, run from regress/).
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

UNIT_TESTS +=	unit/test_certs

# the worker's receiving side: the message table and config_get*()
CERTS_SRCS =	../portero/certs.c ../portero/tlsctx.c \
		../portero/ptls_$(TLS).c ../portero/config.c \
		../portero/confset.c ../portero/parse.c ../portero/clientca.c \
		../portero/poolca.c ../portero/poolcert.c \
		../portero/names.c ../portero/imsg.c ../portero/proc.c \
		../portero/listener.c ../portero/sandbox.c ../portero/secrets.c \
		unit/logstub.c
CERTS_DEPS =	$(CERTS_SRCS) ../portero/portero.h \
		../mk/common.mk certs.mk
# certs.c checks keys and certificates with libcrypto; the test's own TLS
# client is libtls, whichever library the daemon's side is built with.
CERTS_LIBS !=	pkg-config --libs libtls libcrypto

test_certs: unit/test_certs

# Compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_certs: unit/test_certs.c $(CERTS_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_certs.c $(CERTS_SRCS) \
	    $(LDLIBS) $(CERTS_LIBS)

.PHONY: test_certs
