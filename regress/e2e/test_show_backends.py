"""
porterod-ctl show backends: backends from flags and from registrations
alike, their counters summed over the workers, a large registry listed
whole, and a stuck worker costing the listing one wait, not one per page.
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
import signal
import socket
import time

from backends import EchoBackend, get
from harness import (IMSG, IMSG_HEADER, check, pid_map, unix_connect,
                     wait_until)
from test_register import _daemon, _finish, register

KEYS = {"host", "port", "tls", "expires_in", "state", "requests",
        "failures", "health", "check"}
CHECK_KEYS = {"type", "ok", "result", "ms", "at"}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def show(d):
    """{service: [backend, ...]} from show backends -j, its shape checked."""
    j = d.ctl_json("show", "backends")
    check(isinstance(j, dict) and set(j) == {"services"} and
          isinstance(j["services"], list),
          "show backends -j: %r is not {\"services\": [...]}" % j)
    out = {}
    for s in j["services"]:
        check(isinstance(s, dict) and set(s) == {"name", "backends"},
              "show backends -j: service %r lacks name or backends" % s)
        check(s["name"] not in out, "service %r listed twice" % s["name"])
        check(isinstance(s["backends"], list) and s["backends"],
              "service %r: backends %r" % (s["name"], s["backends"]))
        for b in s["backends"]:
            check(set(b) == KEYS, "service %r: backend keys %s, expected "
                  "%s" % (s["name"], sorted(b), sorted(KEYS)))
            check(isinstance(b["tls"], bool), "tls %r" % b["tls"])
            check(b["state"] in ("up", "down"), "state %r" % b["state"])
            check(b["health"] in ("unchecked", "pending", "up", "down"),
                  "health %r" % b["health"])
            check(b["check"] is None or (isinstance(b["check"], dict) and
                                         set(b["check"]) == CHECK_KEYS),
                  "check %r" % b["check"])
            # a verdict comes from checks; none without a check
            check(b["health"] == "pending" or (b["check"] is None) ==
                  (b["health"] == "unchecked"),
                  "health %r with check %r" % (b["health"], b["check"]))
            for k in ("port", "requests", "failures"):
                check(_is_int(b[k]), "%s %r is not an integer" % (k, b[k]))
        out[s["name"]] = s["backends"]
    names = [s["name"] for s in j["services"]]
    check(names == sorted(names), "services not in order: %s" % names)
    return out


def _one(svcs, service, port):
    found = [b for b in svcs.get(service, []) if b["port"] == port]
    check(len(found) == 1, "%s port %d: listed %d times in %r" % (
        service, port, len(found), svcs.get(service)))
    return found[0]


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_flags_and_registered(t):
    flag = EchoBackend(t, "flag")
    reg = EchoBackend(t, "reg")
    d = _daemon(t, workers=2, extra=[
        "--backend", "flag.test=" + flag.addr,
        "--backend", "both.test=localhost:%d" % flag.port])
    register(d, "reg.test", port=reg.port, ttl=120)
    register(d, "both.test", port=reg.port, ttl=60, use_tls=True)
    register(d, "reg.test", host="::1", port=reg.port + 1, ttl=30)
    for i in range(6):
        check(get(d.listen_port, "flag.test", "/f%d" % i).status == 200,
              "flag.test request %d failed" % i)
    for i in range(5):
        check(get(d.listen_port, "reg.test", "/r%d" % i).status == 200,
              "reg.test request %d failed" % i)

    svcs = show(d)
    check(sorted(svcs) == ["both.test", "flag.test", "reg.test"],
          "services %s" % sorted(svcs))
    f = _one(svcs, "flag.test", flag.port)
    check(f["host"] == "127.0.0.1" and f["tls"] is False and
          f["expires_in"] is None and f["state"] == "up" and
          f["requests"] == 6 and f["failures"] == 0,
          "the --backend, after 6 requests over 2 workers: %r" % f)
    both = svcs["both.test"]
    check([b["expires_in"] is None for b in both] == [True, False],
          "both.test: the flag's backend first, then the registered one: "
          "%r" % both)
    check(both[0]["host"] == "localhost" and both[1]["tls"] is True and
          55 <= both[1]["expires_in"] <= 60,
          "both.test backends as listed: %r" % both)
    r4 = _one(svcs, "reg.test", reg.port)
    r6 = _one(svcs, "reg.test", reg.port + 1)
    check(r4["host"] == "127.0.0.1" and 115 <= r4["expires_in"] <= 120,
          "registered 127.0.0.1 for 120 s: %r" % r4)
    check(r6["host"] == "::1" and 25 <= r6["expires_in"] <= 30,
          "registered ::1 for 30 s: %r" % r6)
    # nothing listens on [::1]: its one try fails, and 127.0.0.1 answers
    check(r4["requests"] == 5 and r4["failures"] == 0 and
          r4["state"] == "up", "reg.test at 127.0.0.1 answered all 5: %r"
          % r4)
    check(r6["requests"] == r6["failures"] == 1 and r6["state"] == "down",
          "reg.test at [::1], refusing: %r" % r6)

    out = d.ctl("show", "backends").stdout
    lines = out.splitlines()
    check(lines and lines[0].split()[:3] == ["SERVICE", "ADDRESS", "PORT"],
          "show backends text header: %r" % out[:200])
    check(len(lines) == 1 + 5, "show backends text: %d lines for 5 "
          "backends:\n%s" % (len(lines), out))
    row = [l.split() for l in lines if l.startswith("flag.test")]
    check(row and row[0][:4] == ["flag.test", "127.0.0.1", str(flag.port),
                                 "no"] and row[0][4:] == ["-", "6", "0",
                                                           "up", "-", "-"],
          "the --backend's row: %r" % row)
    _finish(d)


def test_failures_and_down(t):
    port = _free_port()
    d = _daemon(t, workers=1)
    register(d, "dead.test", port=port)
    r = get(d.listen_port, "dead.test", "/")
    check(r.status in (502, 503), "a refused backend: status %d" % r.status)
    b = _one(show(d), "dead.test", port)
    check(b["requests"] == 1 and b["failures"] == 1 and
          b["state"] == "down",
          "a backend that refused the connection: %r" % b)
    _finish(d)


def test_deregistered_gone(t):
    d = _daemon(t, workers=2)
    register(d, "a.test", port=9001)
    register(d, "a.test", port=9002)
    register(d, "a.test", port=9001, method="DELETE")
    svcs = show(d)
    check([b["port"] for b in svcs.get("a.test", [])] == [9002],
          "after deregistering 9001: %r" % svcs)
    register(d, "a.test", port=9002, method="DELETE")
    check(show(d) == {}, "nothing left, yet listed: %r" % show(d))
    out = d.ctl("show", "backends").stdout.splitlines()
    check(len(out) == 1, "an empty listing is a header: %r" % out)
    _finish(d)


def test_large_registry_listed_whole(t):
    """Many pages: every backend once, none missing, nothing restarted;
    a client that asks and does not read is closed, and holds up no one."""
    d = _daemon(t, workers=2)
    want = set()
    for i in range(1000):
        svc = "s%02d.test" % (i % 40)
        register(d, svc, port=10000 + i)
        want.add((svc, 10000 + i))
    stalled = t.socket(unix_connect(d.control_socket))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(IMSG_HEADER.pack(IMSG["IMSG_CTL_SHOW_BACKENDS"],
                                     IMSG_HEADER.size, 0, 0, 0))
    t0 = time.monotonic()
    svcs = show(d)
    got = [(s, b["port"]) for s, bl in svcs.items() for b in bl]
    check(len(got) == len(set(got)) and set(got) == want,
          "%d backends registered, %d listed (%d distinct, %d missing)" % (
              len(want), len(got), len(set(got)), len(want - set(got))))
    check(len(svcs) == 40, "%d services listed, expected 40" % len(svcs))
    check(time.monotonic() - t0 < 3, "a listing took %.1f s beside a "
          "client that does not read" % (time.monotonic() - t0))
    check(wait_until(lambda: "does not read its listing" in d.log(), 10),
          "the client that asked and did not read was not closed in 10 s")
    _finish(d)


def test_stuck_worker_costs_one_wait(t):
    """A stopped worker: the listing comes after one reply timeout (1 s)
    without it, not one per page, and says the counters it lacks."""
    be = EchoBackend(t, "be")
    d = _daemon(t, workers=2)
    for i in range(200):
        register(d, "p%d.test" % (i % 10), port=be.port if i == 0 else
                 20000 + i)
    for i in range(4):
        check(get(d.listen_port, "p0.test", "/x%d" % i).status == 200,
              "request %d" % i)
    pid = pid_map(d)[("worker", 1)]
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        svcs = show(d)
        took = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    check(took < 2.5, "with one of 2 workers stopped, 200 backends (7 "
          "pages) took %.1f s to list" % took)
    check(sum(len(v) for v in svcs.values()) == 200,
          "%d backends listed" % sum(len(v) for v in svcs.values()))
    _finish(d)		# stopped for less than the heartbeat's 3 s
