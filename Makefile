# Makefile: build, run, test and benchmark portero.
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

PREFIX ?=	/usr/local
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man

all:
	$(MAKE) -C portero
	$(MAKE) -C porterod-ctl

deps:
	sh mk/deps.sh build

# Build and start portero in the foreground on an embedded default.
run: 
	sh mk/deps.sh run
	$(MAKE) all
	sh mk/run.sh

test:
	sh mk/deps.sh test
	$(MAKE) all
	$(MAKE) --no-print-directory -C regress

fuzz:
	sh mk/deps.sh test
	$(MAKE) -C regress fuzz-long

bench:
	sh mk/deps.sh bench
	$(MAKE) all
	$(MAKE) -C bench

lint:
	mandoc -Tlint -Wwarning man/*.[0-9]

EXAMPLESDIR ?=	$(PREFIX)/share/examples/portero

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(EXAMPLESDIR)
	install -m 0555 portero/portero porterod-ctl/porterod-ctl \
	    $(DESTDIR)$(SBINDIR)
	install -m 0444 man/portero.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 0444 man/portero.8 man/porterod-ctl.8 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0444 etc/portero.conf $(DESTDIR)$(EXAMPLESDIR)

clean:
	$(MAKE) -C portero clean
	$(MAKE) -C porterod-ctl clean
	$(MAKE) -C regress clean
	$(MAKE) -C bench clean

.PHONY: all deps run test fuzz bench lint install clean
