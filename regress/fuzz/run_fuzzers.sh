#!/bin/sh
# run_fuzzers.sh: runs every built fuzzer regress/fuzz/fuzz_* for a while
# on a scratch copy of its seeds; one PASS/FAIL line per fuzzer.
#
# usage: run_fuzzers.sh seconds
#
# fuzz_NAME takes its seeds from corpus/NAME/ when that exists.  A crash
# input is kept as artifacts/fuzz_NAME-<kind>-<sha1>, named in the FAIL line.
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

if [ $# -ne 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
	echo "usage: $0 seconds" >&2
	exit 2
fi
secs=$1
dir=$(cd "$(dirname "$0")" && pwd)

tmp=
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [ -n "$tmp" ]; then
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portero-fuzz.XXXXXXXXXX") || {
	echo "FAIL fuzz: mktemp failed"
	exit 1
}

status=0
for f in "$dir"/fuzz_*; do
	if ! [ -f "$f" ] || ! [ -x "$f" ]; then
		continue
	fi
	name=$(basename "$f")
	seeds=$dir/corpus/${name#fuzz_}
	work=$tmp/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$seeds" ]; then
		cp -R "$seeds/." "$work/corpus/"
	fi

	# In the background, so that a signal to us can end it too; what a
	# fuzzer writes (fuzz_conf's files) goes under $tmp, which goes.
	TMPDIR=$work "$f" -max_total_time="$secs" -timeout=10 \
	    -print_final_stats=1 \
	    -artifact_prefix="$work/artifacts/" "$work/corpus" \
	    >"$work/log" 2>&1 </dev/null &
	pid=$!
	wait "$pid"
	rc=$?
	pid=

	# libFuzzer's exit status when it was interrupted: so are we.
	if [ "$rc" -eq 72 ]; then
		echo "FAIL $name: interrupted"
		exit 130
	fi

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" |
	    tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "PASS $name ($runs runs)"
		continue
	fi

	status=1
	reason=$(grep -m 1 -E \
	    'ERROR:|runtime error|deadly signal|Timeout|out-of-memory' \
	    "$work/log")
	[ -n "$reason" ] || reason="exit status $rc"
	kept=
	for a in "$work"/artifacts/*; do
		[ -f "$a" ] || continue
		mkdir -p "$dir/artifacts"
		cp "$a" "$dir/artifacts/$name-$(basename "$a")" &&
		    kept="$kept artifacts/$name-$(basename "$a")"
	done
	[ -n "$kept" ] && reason="$reason; input kept:$kept"
	echo "FAIL $name: $(echo "$reason" | tr -d '\n' | cut -c 1-300)"
done

exit "$status"
