# regress/jwt.mk: the unit test of jwt.c and json.c (included by Makefile,
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


UNIT_TESTS +=	unit/test_jwt

JWT_SRCS =	../portero/jwt.c ../portero/json.c
JWT_DEPS =	$(JWT_SRCS) ../portero/jwt.h ../portero/json.h \
		../mk/common.mk jwt.mk
JWT_LIBS !=	pkg-config --libs libcrypto yajl libbsd-overlay

test_jwt: unit/test_jwt

unit/test_jwt: unit/test_jwt.c $(JWT_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_jwt.c $(JWT_SRCS) \
	    $(JWT_LIBS)

.PHONY: test_jwt
