# mk/common.mk: compiler and library flags shared by every part of the build.

CC ?=		cc
PKGS =		libtls libevent yajl libbsd-overlay
ifeq ($(shell uname -s),Linux)
PKGS +=		libseccomp
endif
PKG_CFLAGS !=	pkg-config --cflags $(PKGS)
PKG_LIBS !=	pkg-config --libs $(PKGS)

CFLAGS ?=	-O2 -g
CFLAGS +=	-std=gnu11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter \
		-D_GNU_SOURCE -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
		$(PKG_CFLAGS)
LDFLAGS +=	-Wl,-z,relro,-z,now
LDLIBS +=	$(PKG_LIBS)
