# regress/certs.mk: the unit test of the certificate pipeline, certs.c and
# tlsctx.c (included by Makefile, after ../mk/common.mk, run from regress/).

UNIT_TESTS +=	unit/test_certs

CERTS_SRCS =	../portero/certs.c ../portero/tlsctx.c unit/logstub.c
CERTS_DEPS =	$(CERTS_SRCS) ../portero/portero.h \
		../mk/common.mk certs.mk
# certs.c checks keys and certificates with libcrypto; tlsctx.c is libtls.
CERTS_LIBS !=	pkg-config --libs libcrypto

test_certs: unit/test_certs

# Compiled in, as in imsg.mk, never a stale ../portero/*.o.
unit/test_certs: unit/test_certs.c $(CERTS_DEPS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ unit/test_certs.c $(CERTS_SRCS) \
	    $(LDLIBS) $(CERTS_LIBS)

.PHONY: test_certs
