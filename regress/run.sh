#!/bin/sh
# regress/run.sh: runs every test part, counts PASS and FAIL lines, and
# ends with one line "N passed, N failed"; exits non-zero on any failure.
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

set -u
cd "$(dirname "$0")" || exit 1
top=$(cd .. && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/portero-regress.XXXXXX") || exit 1
log="$out/results"
: > "$log"

cleanup() {
	# Nothing a test started may outlive the run.
	for pid in $(pgrep -x portero 2>/dev/null) \
	    $(pgrep -f "^portero: " 2>/dev/null); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		case "$exe" in
		"$top"/*|"$out"/*) kill -9 "$pid" 2>/dev/null ;;
		esac
	done
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

part() {
	name=$1
	shift
	echo "== $name" >&2
	{ "$@" 2>"$out/err.$name"; echo $? >"$out/status.$name"; } |
	    tee "$out/out.$name"
	cat "$out/out.$name" >>"$log"
	status=$(cat "$out/status.$name")
	if [ "$status" -ne 0 ] && ! grep -q '^FAIL' "$out/out.$name"; then
		echo "FAIL $name: exited with status $status" | tee -a "$log"
	fi
	if grep -q '^FAIL' "$out/out.$name"; then
		tail -n 60 "$out/err.$name" >&2
	fi
}

for t in unit/test_*; do
	[ -x "$t" ] || continue
	part "$(basename "$t")" "./$t"
done

if [ -x fuzz/run_fuzzers.sh ] || [ -f fuzz/run_fuzzers.sh ]; then
	part fuzz sh fuzz/run_fuzzers.sh "${FUZZ_SECONDS:-10}"
fi

part style python3 lint/style.py

if command -v mandoc >/dev/null 2>&1; then
	lint=$(mandoc -Tlint -Wwarning "$top"/man/*.[0-9] 2>&1)
	if [ -z "$lint" ]; then
		echo "PASS mandoc_lint" | tee -a "$log"
	else
		echo "FAIL mandoc_lint: $lint" | tee -a "$log"
	fi
fi

part e2e python3 e2e/run.py

# The other TLS library: built from a copy of the tree with make
# TLS=libtls, its TLS, proxy and HTTP/2 tests run against that daemon.
part libtls_build sh -c "cp -R '$top/portero' '$top/mk' '$out/' &&
    make -s -C '$out/portero' clean >/dev/null &&
    make -s -C '$out/portero' TLS=libtls && echo PASS libtls_build"
if [ "$(cat "$out/status.libtls_build")" -eq 0 ]; then
	part e2e_libtls env PORTERO="$out/portero/portero" \
	    python3 e2e/run.py tls/ proxy/ h2/
fi

# The run itself must leave no daemon behind.
left=""
for pid in $(pgrep -f "^portero: " 2>/dev/null); do
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
	case "$exe" in "$top"/*|"$out"/*) left="$left $pid" ;; esac
done
if [ -z "$left" ]; then
	echo "PASS no_leftover_processes" | tee -a "$log"
else
	echo "FAIL no_leftover_processes:$left" | tee -a "$log"
fi

passed=$(grep -c '^PASS' "$log")
failed=$(grep -c '^FAIL' "$log")
skipped=$(grep -c '^SKIP' "$log")
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
