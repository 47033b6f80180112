# regress/sandbox.mk: the unit test of portero/sandbox.c (included by
# Makefile, after ../mk/common.mk, run from regress/).  Linux only: it
# checks seccomp and Landlock from inside sandboxed children.

ifeq ($(shell uname -s),Linux)
UNIT_TESTS +=	unit/test_sandbox

SANDBOX_SRCS =	../portero/sandbox.c unit/logstub.c
SANDBOX_DEPS =	$(SANDBOX_SRCS) ../portero/portero.h ../mk/common.mk \
		sandbox.mk

test_sandbox: unit/test_sandbox

# sandbox.c is compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_sandbox: unit/test_sandbox.c $(SANDBOX_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_sandbox.c \
	    $(SANDBOX_SRCS) $(LDLIBS) -lseccomp -levent

.PHONY: test_sandbox
endif
