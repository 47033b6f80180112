# regress/reqid.mk: the unit test of request ids (portero/reqid.c).
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

UNIT_TESTS +=	unit/test_reqid

# reqid.c alone; what it calls of the worker is stubbed in the test.
REQID_SRCS =	../portero/reqid.c
REQID_DEPS =	$(REQID_SRCS) ../portero/portero.h ../mk/common.mk reqid.mk

test_reqid: unit/test_reqid

# Compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_reqid: unit/test_reqid.c $(REQID_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_reqid.c $(REQID_SRCS) \
	    $(LDLIBS)

.PHONY: test_reqid
