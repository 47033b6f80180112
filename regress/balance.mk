# regress/balance.mk: the balancing modes' unit test (included by
# Makefile, after ../mk/common.mk, run from regress/).
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

UNIT_TESTS +=	unit/test_balance

# route.c's pools as a worker has them; what route.c sends elsewhere is
# stubbed in the test itself.
BALANCE_SRCS =	../portero/balance.c ../portero/route.c ../portero/http1.c \
		unit/logstub.c
BALANCE_DEPS =	$(BALANCE_SRCS) ../portero/portero.h ../portero/http1.h \
		../mk/common.mk balance.mk

test_balance: unit/test_balance

# Compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_balance: unit/test_balance.c $(BALANCE_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_balance.c \
	    $(BALANCE_SRCS) $(LDLIBS)

.PHONY: test_balance
