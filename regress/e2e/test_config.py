"""
Flags checked with -n, and bad flags refused.
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

import os

from harness import check, free_ports


def _checkonly(t, d, extra):
    d.listen_port, d.register_port = free_ports(2)
    d._prepare_dirs()
    argv = d.argv(checkonly=True) + list(extra)
    r = t.run(argv, timeout=10)
    out = (r.stdout + r.stderr).strip()
    check(not d.procs() and not os.path.exists(d.control_socket),
          "-n left a process or a control socket behind")
    return r, out


def test_checkonly_bad_listen_addr(t):
    d = t.daemon(workers=1)
    for bad in ("not-an-address", "127.0.0.1", "127.0.0.1:99999",
                "localhost:8443"):
        r, out = _checkonly(t, d, ["--listen-addr", bad])
        check(r.returncode == 1, "-n --listen-addr %s: exit %d, expected 1 "
              "(output %r)" % (bad, r.returncode, out[:200]))
        check(out, "-n --listen-addr %s: exit 1 without a message" % bad)
        check("listen-addr" in out or bad in out,
              "-n --listen-addr %s: message does not say what is wrong: %r"
              % (bad, out[:300]))
        check("configuration OK" not in out, "-n --listen-addr %s printed "
              "'configuration OK'" % bad)


def test_checkonly_bad_flags(t):
    d = t.daemon(workers=1)
    for extra, word in ((["--workers", "0"], "workers"),
                        (["--workers", "many"], "workers"),
                        (["--drain-timeout", "-1"], "drain-timeout"),
                        (["--no-such-flag"], "no-such-flag"),
                        (["--control-socket", "relative.sock"], "absolute")):
        r, out = _checkonly(t, d, extra)
        check(r.returncode == 1, "-n %s: exit %d, expected 1 (output %r)"
              % (" ".join(extra), r.returncode, out[:200]))
        check(word in out, "-n %s: message %r does not mention %r" % (
            " ".join(extra), out[:300], word))


def test_checkonly_good_flags(t):
    d = t.daemon(workers=2)
    r, out = _checkonly(t, d, [])
    check(r.returncode == 0, "-n with good flags: exit %d (output %r)" % (
        r.returncode, out[:300]))
    check("configuration OK" in out, "-n with good flags did not print "
          "'configuration OK': %r" % out[:300])


def test_bad_listen_addr_refused_at_start(t):
    d = t.daemon(workers=1, extra_args=["--listen-addr", "bogus"])
    d.listen_port, d.register_port = free_ports(2)
    d.spawn()
    try:
        rc = d.proc.wait(timeout=5)
    except Exception:
        rc = None
    check(rc == 1, "start with --listen-addr bogus: exit %s, expected 1"
          % rc)
    check("listen-addr" in d.log() or "bogus" in d.log(),
          "no clear message: %r" % d.log()[:300])
    check(not os.path.exists(d.control_socket),
          "control socket left behind")
    d.stopped = True
