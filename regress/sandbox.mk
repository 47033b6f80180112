# regress/sandbox.mk: the unit test of portero/sandbox.c (included by
# Makefile, after ../mk/common.mk, run from regress/).  Linux only: it
# checks seccomp and Landlock from inside sandboxed children.
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

ifeq ($(shell uname -s),Linux)
UNIT_TESTS +=	unit/test_sandbox

SANDBOX_SRCS =	../portero/sandbox.c unit/logstub.c
SANDBOX_DEPS =	$(SANDBOX_SRCS) ../portero/portero.h ../mk/common.mk \
		sandbox.mk

test_sandbox: unit/test_sandbox

# sandbox.c is compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_sandbox: unit/test_sandbox.c $(SANDBOX_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_sandbox.c \
	    $(SANDBOX_SRCS) $(LDLIBS) -lseccomp -levent -lpthread

.PHONY: test_sandbox
endif
