#!/bin/sh
# mk/deps.sh: install the Debian 12 packages a make target needs, only
# those missing, and the _portero user where running portero needs it.
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

set -eu

usage() {
	echo "usage: sh mk/deps.sh build|run|test|bench" >&2
	exit 1
}

[ $# -eq 1 ] || usage

build="make gcc pkg-config byacc libssl-dev libtls-dev libevent-dev libyajl-dev
    libbsd-dev libseccomp-dev libnghttp2-dev"
run="$build openssl"
# clang and its runtime for the libFuzzer targets
test="$build openssl curl python3 mandoc clang libclang-rt-14-dev
    nghttp2-client valgrind"
bench="$test wrk nginx haproxy linux-perf"

case $1 in
build)	want=$build ;;
run)	want=$run ;;
test)	want=$test ;;
bench)	want=$bench ;;
*)	usage ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: only knows Debian; install the $1 dependencies" \
	    "yourself" >&2
	exit 0
fi

missing=
for pkg in $want; do
	case " $missing " in
	*" $pkg "*)	continue ;;
	esac
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="${missing:+$missing }$pkg"
	fi
done

if [ "$(id -u)" -eq 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1; then
	sudo=sudo
else
	sudo=none
fi

if [ -n "$missing" ]; then
	if [ "$sudo" = none ]; then
		echo "deps.sh: missing packages (install them as root):" \
		    "$missing" >&2
		exit 1
	fi
	echo "deps.sh: installing $missing" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q update
	# $missing is a list of words on purpose
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
	    --no-install-recommends install $missing
fi

# portero started as root drops its children to _portero.
case $1 in
run|test)
	if ! getent passwd _portero >/dev/null 2>&1; then
		if [ "$(id -u)" -eq 0 ]; then
			useradd --system --no-create-home \
			    --home-dir /nonexistent --shell /usr/sbin/nologin \
			    _portero
		else
			echo "deps.sh: no user _portero; portero started as" \
			    "root needs it" >&2
		fi
	fi
	;;
esac
