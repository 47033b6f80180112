#!/usr/bin/env python3
"""
run.py [pattern ...]: run portero's end-to-end tests.

Finds test_*.py beside this file and runs every function test_*(t) in it,
in the order they are written, each with a fresh temporary directory.  A
pattern keeps only tests whose name ("module/function", both without the
"test_" prefix) contains it.  Prints one line per test on stdout:

    PASS name
    FAIL name: reason
    SKIP name: reason

with details (the daemon's log tail, tracebacks) on stderr.  Exits 1 if
any test failed, 130/143 when interrupted; whatever happens, every process
a test started is killed and every temporary directory removed.
"""

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

import importlib.util
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True    # leave no __pycache__ in the tree

import harness  # noqa: E402

TEST_TIMEOUT = int(os.environ.get("PORTERO_TEST_TIMEOUT", "60"))
BLOCK = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}


class Interrupted(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class TestTimeout(BaseException):
    pass


def on_signal(signum, frame):
    raise Interrupted(signum)


def on_alarm(signum, frame):
    raise TestTimeout()


def discover(patterns):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        modname = fn[:-3]
        spec = importlib.util.spec_from_file_location(
            modname, os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        funcs = [f for n, f in vars(mod).items()
                 if n.startswith("test_") and callable(f) and
                 getattr(f, "__module__", None) == modname]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            name = "%s/%s" % (modname[5:], f.__name__[5:])
            if patterns and not any(p in name for p in patterns):
                continue
            tests.append((name, f))
    return tests


def one_line(s):
    s = " ".join(str(s).split())
    return s if len(s) <= 300 else s[:297] + "..."


def run_test(name, func):
    """Returns (verdict, reason)."""
    t = None
    verdict, reason, details = "PASS", "", ""
    interrupted = None
    old = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCK)
    try:
        t = harness.Context(name)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    t0 = time.monotonic()
    try:
        signal.alarm(TEST_TIMEOUT)
        func(t)
    except harness.Skip as e:
        verdict, reason = "SKIP", str(e)
    except AssertionError as e:
        verdict, reason = "FAIL", str(e) or "assertion failed"
        details = traceback.format_exc()
    except TestTimeout:
        verdict, reason = "FAIL", "test timed out after %d s" % TEST_TIMEOUT
        details = traceback.format_exc()
    except Interrupted as e:
        interrupted = e
        verdict, reason = "FAIL", "interrupted"
    except Exception as e:  # noqa: any error in a test is its failure
        verdict, reason = "FAIL", "%s: %s" % (type(e).__name__, e)
        details = traceback.format_exc()
    finally:
        signal.alarm(0)
    # Cleanup runs with the signals held back; one that came meanwhile
    # is delivered after it.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCK)
    try:
        tails = t.log_tails()
        problems = t.cleanup(fast=interrupted is not None)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if problems and verdict != "FAIL":
        verdict = "FAIL"
        reason = "teardown: " + "; ".join(problems)
    elif problems:
        details += "teardown: " + "; ".join(problems) + "\n"
    if verdict == "FAIL":
        sys.stderr.write("==== %s (%.1f s)\n" % (name, time.monotonic() - t0))
        if details:
            sys.stderr.write(details)
        for n in t.notes:
            sys.stderr.write("note: %s\n" % n)
        sys.stderr.write(tails + "\n")
        sys.stderr.flush()
    elif t.notes:
        for n in t.notes:
            sys.stderr.write("note (%s): %s\n" % (name, n))
    if interrupted is not None:
        print("FAIL %s: interrupted" % name, flush=True)
        raise interrupted
    return verdict, one_line(reason)


def main(argv):
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    patterns = argv[1:]
    for exe in (harness.PORTERO, harness.CTL):
        if not os.access(exe, os.X_OK):
            print("FAIL setup: %s is not built" % exe, flush=True)
            return 1
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    t0 = time.monotonic()
    try:
        for name, func in discover(patterns):
            verdict, reason = run_test(name, func)
            counts[verdict] += 1
            if reason:
                print("%s %s: %s" % (verdict, name, reason), flush=True)
            else:
                print("%s %s" % (verdict, name), flush=True)
    except Interrupted as e:
        signal.pthread_sigmask(signal.SIG_BLOCK, BLOCK)
        harness.cleanup_all(fast=True)
        sys.stderr.write("interrupted by signal %d\n" % e.signum)
        return 128 + e.signum
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, BLOCK)
        harness.cleanup_all(fast=True)
    sys.stderr.write("e2e: %d passed, %d failed, %d skipped in %.1f s\n" % (
        counts["PASS"], counts["FAIL"], counts["SKIP"],
        time.monotonic() - t0))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
