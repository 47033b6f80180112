# mk/common.mk: compiler and library flags shared by every part of the build.
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

CC ?=		cc
# The TLS library behind portero's interface (portero/ptls_$(TLS).c):
# libssl on Linux, where libtls is libretls and cannot resume sessions,
# release buffers or share a client context; libtls on OpenBSD.
ifeq ($(shell uname -s),OpenBSD)
TLS ?=		libtls
else
TLS ?=		openssl
endif
ifeq ($(TLS),libtls)
PKGS =		libtls
else ifeq ($(TLS),openssl)
PKGS =		libssl libcrypto
else
$(error TLS must be openssl or libtls, not $(TLS))
endif
PKGS +=		libevent yajl libbsd-overlay libnghttp2
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
