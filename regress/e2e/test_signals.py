"""
Signals: SIGTERM drains and stops, a second SIGTERM stops at once,
SIGHUP and `porterod-ctl reload` reload in place.
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

import json
import os
import re
import signal
import time

from harness import (check, check_answers_404, check_stays_up,
                     connect_refused, fail, half_request, parse_response,
                     pid_map, recv_all, wait_until)


def _all_gone(d, since, limit, what):
    ok = d.wait_gone(max(0.0, since + limit - time.monotonic()))
    took = time.monotonic() - since
    check(ok, "%s: processes %s still there %.1f s after %s" % (
        what, d.procs() or "(parent not reaped)", took, what))
    d.stopped = True
    return took


def test_sigterm_stops_everything(t):
    d = t.daemon(workers=2, drain_timeout=5).start()
    d.check_restarts()
    check(os.path.exists(d.control_socket), "control socket missing")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    _all_gone(d, t0, d.drain_timeout + 2, "SIGTERM")
    check(d.proc.returncode == 0, "parent exit status %s after SIGTERM, "
          "expected 0" % d.proc.returncode)
    check(not os.path.exists(d.control_socket),
          "control socket %s left behind" % d.control_socket)
    check(connect_refused(d.listen_port), "listen port still accepts")
    check(connect_refused(d.register_port), "register port still accepts")


def test_sigterm_drains_inflight_request(t):
    d = t.daemon(workers=2, drain_timeout=5).start()
    d.check_restarts()
    s = half_request(t, d)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    # listeners close soon
    check(wait_until(lambda: connect_refused(d.listen_port), 2.0, 0.05),
          "listen port still accepts connections 2 s after SIGTERM")
    check(wait_until(lambda: connect_refused(d.register_port), 2.0, 0.05),
          "register port still accepts connections 2 s after SIGTERM")
    check(d.alive(), "parent exited (rc %s) with a request in flight" %
          d.proc.returncode)
    # finish the request: it still gets its answer
    s.sendall(b"Connection: close\r\n\r\n")
    try:
        data = recv_all(s, 3.0)
    except ConnectionResetError:
        fail("in-flight request was reset during the drain")
    check(data, "in-flight request got no response (EOF) during the drain")
    status, _, _ = parse_response(data)
    check(status == 404, "in-flight request got %d, expected 404" % status)
    s.close()
    _all_gone(d, t0, d.drain_timeout + 2, "SIGTERM")
    check(not os.path.exists(d.control_socket),
          "control socket %s left behind" % d.control_socket)


def test_second_sigterm_stops_at_once(t):
    d = t.daemon(workers=2, drain_timeout=30).start()
    d.check_restarts()
    s = half_request(t, d)
    d.signal(signal.SIGTERM)
    time.sleep(1.0)
    check(d.alive(), "parent exited (rc %s) within 1 s of the first SIGTERM"
          " with a request in flight and --drain-timeout 30" %
          d.proc.returncode)
    t1 = time.monotonic()
    d.signal(signal.SIGTERM)
    took = _all_gone(d, t1, 2.0, "the second SIGTERM")
    check(not os.path.exists(d.control_socket),
          "control socket %s left behind" % d.control_socket)
    s.settimeout(1.0)
    try:
        rest = s.recv(4096)
    except (ConnectionResetError, OSError):
        rest = b""
    t.note("all gone %.2f s after the second SIGTERM; client got %r" % (
        took, rest[:60]))


def _reload_lines(d):
    return [l for l in d.log_lines(d.pid) if re.search(r"reload", l, re.I)]


def test_sighup_reloads_in_place(t):
    d = t.daemon(workers=2).start()
    before = pid_map(d)
    n0 = len(_reload_lines(d))
    d.signal(signal.SIGHUP)
    check(wait_until(lambda: len(_reload_lines(d)) > n0, 3.0, 0.05),
          "parent logged no reload line within 3 s of SIGHUP")
    time.sleep(0.3)
    check_stays_up(d, before)
    d.check_tree()
    check_answers_404(d, 2)
    # and again
    n1 = len(_reload_lines(d))
    d.signal(signal.SIGHUP)
    check(wait_until(lambda: len(_reload_lines(d)) > n1, 3.0, 0.05),
          "parent logged no reload line for the second SIGHUP")
    time.sleep(0.3)
    check_stays_up(d, before)
    d.check_restarts()


def test_ctl_reload_in_place(t):
    d = t.daemon(workers=2).start()
    before = pid_map(d)
    n0 = len(_reload_lines(d))
    r = d.ctl("reload", json_out=True)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        fail("porterod-ctl -j reload printed %r, not JSON" % r.stdout[:200])
    check(out == {"ok": True}, "porterod-ctl -j reload printed %r, "
          "expected {\"ok\": true}" % out)
    check(wait_until(lambda: len(_reload_lines(d)) > n0, 3.0, 0.05),
          "parent logged no reload line for porterod-ctl reload")
    r = d.ctl("reload")
    check(r.returncode == 0, "porterod-ctl reload exit %d" % r.returncode)
    time.sleep(0.3)
    check_stays_up(d, before)
    d.check_tree()
    check_answers_404(d, 2)
    d.check_restarts()
