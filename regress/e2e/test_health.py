"""
Active health checks (portero.conf(5) "check") and the health process
that runs them: a backend that fails its check leaves the rotation within
fall x interval and comes back within rise x interval; TCP, TLS and HTTP
checks; show backends with health and the last check; the health child
respawned with its verdicts standing; no health child without checks;
workers never probe a backend with live requests (a checked-down one
sees only the checks, a resting one one request a rest).  Backends are
the echo servers of backends.py; the listener is plain.
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
import re
import signal
import socket
import threading
import time

from backends import EchoBackend, TestCA, closed_port, get
from harness import PORTERO, check, children_of, proc_title, wait_until

INTERVAL = 0.2          # seconds, the checks' interval in these tests
RISE, FALL = 2, 3
# a check's verdict may come an interval after the change, plus the
# check itself, the message to the workers and a loaded machine
SLACK = 0.6


def write_conf(t, text, name="portero.conf"):
    path = os.path.join(t.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def conf_daemon(t, text, workers=2, health=True, extra=(), **kw):
    path = write_conf(t, text)
    d = t.daemon(workers=workers, extra_args=["-f", path] + list(extra),
                 health=health, **kw)
    d.conf_path = path
    return d.start()


def pool(name, backends, check_line="", tls=False):
    lines = ["pool \"%s\" {" % name]
    for be in backends:
        port = be if isinstance(be, int) else be.port
        lines.append("\tbackend 127.0.0.1 port %d%s" % (
            port, " tls" if tls else ""))
    if check_line:
        lines.append("\t" + check_line)
    lines.append("}")
    return "\n".join(lines) + "\n"


def http_check(path="/health"):
    return ("check http \"%s\" status 200; check interval %dms "
            "timeout %dms rise %d fall %d" % (path, INTERVAL * 1000,
                                              INTERVAL * 750, RISE, FALL))


def rows(d):
    """{port: backend} of show backends -j."""
    j = d.ctl_json("show", "backends")
    return {b["port"]: b for s in j["services"] for b in s["backends"]}


def wait_health(d, port, want, timeout, what):
    """Seconds until show backends says the backend at port has health
    want (and workers agree: state up or down alike), or fail."""
    t0 = time.monotonic()
    last = None
    while True:
        b = rows(d).get(port)
        last = b
        if b is not None and b["health"] == want and b["state"] == want:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            check(False, "%s: backend %d not %s within %.1f s: %r"
                  % (what, port, want, timeout, last))
        time.sleep(0.02)


def live_requests(be):
    """What a backend served that was not a health check."""
    with be.lock:
        return [r for r in be.requests if r["path"] != "/health"]


class Load:
    """Requests to host in a thread, one new connection each, until
    stopped: (time, status, backend name) of each."""

    def __init__(self, port, host, pause=0.005):
        self.port, self.host, self.pause = port, host, pause
        self.results = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            t = time.monotonic()
            try:
                r = get(self.port, self.host, "/x", timeout=3)
                name = r.json()["name"] if r.status == 200 else None
                self.results.append((t, r.status, name))
            except Exception as e:      # noqa: BLE001 (a failure counts)
                self.results.append((t, "error: %s" % e, None))
            time.sleep(self.pause)

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        return self.results


def everything_up(d, bes):
    for be in bes:
        wait_health(d, be.port, "up", RISE * INTERVAL + 2, "at start")


# ---------------------------------------------------------------------
# out within fall x interval, back within rise x interval

def test_http_check_out_and_back(t):
    bes = [EchoBackend(t, "b%d" % i) for i in range(3)]
    d = conf_daemon(t, pool("app.test", bes, http_check()))
    everything_up(d, bes)
    sick = bes[1]
    load = Load(d.listen_port, "app.test")

    # it answers 500: out once fall checks in a row have failed
    time.sleep(0.3)
    t_sick = time.monotonic()
    sick.sick = 500
    took_out = wait_health(d, sick.port, "down", FALL * INTERVAL + SLACK,
                           "answering 500")
    t_out = time.monotonic()
    time.sleep(0.5)
    n_out = len(live_requests(sick))
    time.sleep(0.5)
    check(len(live_requests(sick)) == n_out, "requests still reached the "
          "backend its check took out: %d more" % (
              len(live_requests(sick)) - n_out))

    # healthy again: back once rise checks in a row have passed
    t_heal = time.monotonic()
    sick.sick = None
    took_back = wait_health(d, sick.port, "up", RISE * INTERVAL + SLACK,
                            "healthy again")
    time.sleep(0.5)
    res = load.stop()
    t.note("out in %.2f s (fall x interval %.1f s), back in %.2f s "
           "(rise x interval %.1f s), %d requests" % (
               took_out, FALL * INTERVAL, took_back, RISE * INTERVAL,
               len(res)))
    check(len(res) > 50, "only %d requests in the load" % len(res))
    errors = [r for r in res if r[1] != 200 and r[1] != 500]
    check(not errors, "requests failed other than by the 500s: %s"
          % errors[:5])
    # 500s only from the sick backend, before its check took it out
    late = [round(w - t_sick, 2) for w, s, _ in res
            if s == 500 and not t_sick <= w <= t_out]
    check(not late, "500s outside the check window (s after the backend "
          "went sick): %s" % late[:5])
    back = [n for w, s, n in res if w > t_heal + took_back + 0.1 and
            n == sick.name]
    check(back, "the backend got no request once back")
    d.check_restarts()


def test_stopped_backend_no_request_fails(t):
    """A stopped backend: requests it refuses go to the others at once
    (none fails), its check takes it out, and it comes back once it
    listens again."""
    bes = [EchoBackend(t, "b%d" % i) for i in range(3)]
    d = conf_daemon(t, pool("app.test", bes, http_check()))
    everything_up(d, bes)
    port = bes[2].port
    load = Load(d.listen_port, "app.test")
    time.sleep(0.3)
    bes[2].stop()
    took_out = wait_health(d, port, "down", FALL * INTERVAL + SLACK,
                           "stopped")
    b = rows(d)[port]
    check(b["check"]["ok"] is False and b["check"]["result"] ==
          "connect refused", "a stopped backend's last check: %r"
          % b["check"])
    again = EchoBackend(t, "b2again", port=port)
    took_back = wait_health(d, port, "up", RISE * INTERVAL + SLACK,
                            "listening again")
    time.sleep(0.5)
    res = load.stop()
    bad = [r for r in res if r[1] != 200]
    check(not bad, "%d of %d requests failed around a stopped backend: %s"
          % (len(bad), len(res), bad[:5]))
    check(live_requests(again), "the backend got no request once back")
    t.note("out in %.2f s, back in %.2f s, %d requests, none failed"
           % (took_out, took_back, len(res)))
    d.check_restarts()


# ---------------------------------------------------------------------
# kinds of checks

def test_tcp_check(t):
    up = EchoBackend(t, "up")
    down = closed_port()
    d = conf_daemon(t, pool("app.test", [up, down], "check tcp interval "
                            "200ms timeout 150ms rise 1 fall 1"))
    wait_health(d, up.port, "up", 3, "tcp check, listening")
    wait_health(d, down, "down", 3, "tcp check, closed port")
    r = rows(d)
    check(r[up.port]["check"]["type"] == "tcp" and
          r[up.port]["check"]["result"] == "connect ok",
          "tcp check of a listening backend: %r" % r[up.port]["check"])
    check(r[down]["check"]["result"] == "connect refused",
          "tcp check of a closed port: %r" % r[down]["check"])
    for i in range(10):
        r = get(d.listen_port, "app.test", "/%d" % i)
        check(r.status == 200, "request %d: status %d" % (i, r.status))
    check(rows(d)[down]["failures"] == 0, "a worker tried the backend its "
          "check had taken out")
    d.check_restarts()


def test_tls_check_bad_certificate_fails(t):
    ca = TestCA(t, "upstream CA")
    other = TestCA(t, "another CA")
    names = ["app.test", "IP:127.0.0.1"]
    good = EchoBackend(t, "good", tls=ca.issue("app.test", names))
    bad = EchoBackend(t, "bad", tls=other.issue("app.test", names))
    wrong = EchoBackend(t, "wrong", tls=ca.issue("other.test",
                                                 ["other.test"]))
    conf = "upstream-ca \"%s\"\n" % ca.cert + pool(
        "app.test", [good, bad, wrong], "check tls interval 200ms "
        "timeout 150ms rise 1 fall 1", tls=True)
    d = conf_daemon(t, conf)
    wait_health(d, good.port, "up", 3, "tls check, good certificate")
    for be, what in ((bad, "unknown CA"), (wrong, "another name")):
        wait_health(d, be.port, "down", 3, "tls check, %s" % what)
        c = rows(d)[be.port]["check"]
        check(c["type"] == "tls" and c["result"].startswith("tls: ") and
              re.search(r"certif|verif", c["result"]),
              "tls check, %s: %r" % (what, c))
    check(rows(d)[good.port]["check"]["result"] == "tls ok",
          "tls check, good: %r" % rows(d)[good.port]["check"])
    for i in range(6):
        r = get(d.listen_port, "app.test", "/%d" % i)
        check(r.status == 200 and r.json()["name"] == "good",
              "request %d: status %d from %s" % (i, r.status, r.body[:80]))
    check(bad.count() == 0 and wrong.count() == 0, "a backend whose "
          "certificate fails was sent requests")
    d.check_restarts()


def test_http_check_path_status_host(t):
    """GET path with the expected status; the request as sent."""
    be = EchoBackend(t, "b")
    d = conf_daemon(t, pool("app.test", [be], "check http \"/status/204\" "
                            "status 204 interval 200ms timeout 150ms "
                            "rise 1 fall 1"))
    wait_health(d, be.port, "up", 3, "status 204 expected and got")
    with be.lock:
        req = [r for r in be.requests if r["path"] == "/status/204"][0]
    fields = {k.lower(): v for k, v in req["headers"]}
    check(req["method"] == "GET" and req["version"] == "HTTP/1.1" and
          fields.get("host") == "127.0.0.1:%d" % be.port and
          fields.get("connection") == "close" and
          fields.get("user-agent", "").startswith("portero-health/"),
          "the check's request: %r" % req)
    c = rows(d)[be.port]["check"]
    check(c["result"] == "http 204" and c["ok"] is True and
          isinstance(c["ms"], int) and abs(c["at"] - time.time()) < 5,
          "check http 204: %r" % c)
    d.check_restarts()


def test_checks_use_pool_tls_name(t):
    """A pool's tls-name is the name checks verify and send as Host."""
    ca = TestCA(t, "upstream CA")
    be = EchoBackend(t, "named", tls=ca.issue("app.test", ["app.test"]))
    conf = "upstream-ca \"%s\"\n" % ca.cert + pool(
        "app.test", [be], "tls-name \"app.test\"\n\tcheck http "
        "\"/health\" interval 200ms timeout 150ms rise 1 fall 1", tls=True)
    d = conf_daemon(t, conf)
    wait_health(d, be.port, "up", 3, "https check named by tls-name")
    with be.lock:
        req = [r for r in be.requests if r["path"] == "/health"][0]
        snis = set(be.snis)
    fields = {k.lower(): v for k, v in req["headers"]}
    check(fields.get("host") == "app.test" and snis == {"app.test"},
          "the check's Host %r and SNI %s, expected app.test" % (
              fields.get("host"), snis))
    d.check_restarts()


def test_registered_backends_of_a_checked_pool(t):
    """Registrations into a checked pool are checked from when they come
    until they go."""
    from test_register import register
    good, sick = EchoBackend(t, "good"), EchoBackend(t, "sick")
    sick.sick = 500
    d = conf_daemon(t, "pool \"reg.test\" {\n\t%s\n}\n" % http_check())
    register(d, "reg.test", port=good.port)
    register(d, "reg.test", port=sick.port)
    wait_health(d, good.port, "up", 3, "registered, healthy")
    wait_health(d, sick.port, "down", 3, "registered, answering 500")
    for i in range(10):
        r = get(d.listen_port, "reg.test", "/%d" % i)
        check(r.status == 200 and r.json()["name"] == "good",
              "request %d: %d %r" % (i, r.status, r.body[:60]))
    check(not live_requests(sick), "the registered backend its check took "
          "out got requests")
    register(d, "reg.test", port=sick.port, method="DELETE")
    check(wait_until(lambda: sick.port not in rows(d), 3),
          "deregistered, still listed")
    with sick.lock:
        n = len(sick.requests)
    time.sleep(3 * INTERVAL)
    with sick.lock:
        check(len(sick.requests) == n, "a deregistered backend is still "
              "checked")
    d.check_restarts()


# ---------------------------------------------------------------------
# show backends

def test_show_backends_health_and_last_check(t):
    a, b = EchoBackend(t, "a"), EchoBackend(t, "b")
    other = EchoBackend(t, "other")
    b.sick = 503
    conf = pool("app.test", [a, b], http_check()) + pool("plain.test",
                                                         [other])
    d = conf_daemon(t, conf)
    wait_health(d, a.port, "up", 3, "healthy")
    wait_health(d, b.port, "down", 3, "answering 503")
    r = rows(d)
    check(r[other.port]["health"] == "unchecked" and
          r[other.port]["check"] is None, "a backend of a pool without "
          "checks: %r" % r[other.port])
    check(r[b.port]["check"]["result"] == "http 503" and
          r[b.port]["check"]["ok"] is False, "%r" % r[b.port])
    out = d.ctl("show", "backends").stdout.splitlines()
    check(out and out[0].split()[-4:] == ["STATE", "HEALTH", "LAST",
                                          "CHECK"],
          "show backends header: %r" % out[:1])
    line = [ln for ln in out if " %d " % b.port in ln]
    check(line and re.search(r"\bdown\s+down\s+http 503, \d+ ms, \d+s ago$",
                             line[0]), "the sick backend's row: %r" % line)
    line = [ln for ln in out if " %d " % other.port in ln]
    check(line and re.search(r"\bup\s+-\s+-$", line[0]),
          "the unchecked backend's row: %r" % line)
    d.check_restarts()


# ---------------------------------------------------------------------
# the health child

def _health_pids(d):
    return [p for p in children_of(d.pid)
            if proc_title(p) == "portero: health"]


def test_health_child_respawned_state_recovers(t):
    bes = [EchoBackend(t, "b%d" % i) for i in range(3)]
    d = conf_daemon(t, pool("app.test", bes, http_check()))
    everything_up(d, bes)
    d.check_tree()
    sick = bes[0]
    sick.sick = 500
    wait_health(d, sick.port, "down", FALL * INTERVAL + SLACK, "sick")
    pid = d.child_pid("health")
    n = len(live_requests(sick))
    os.kill(pid, signal.SIGKILL)
    d.expect_restarts[("health", 0)] = 1
    newpid, took = d.wait_respawned("health", 0, pid, 5)
    # meanwhile, and until the new one has checked again, it stays out
    for i in range(30):
        r = get(d.listen_port, "app.test", "/%d" % i)
        check(r.status == 200, "request %d during the respawn: status %d"
              % (i, r.status))
    check(len(live_requests(sick)) == n, "the checked-down backend got "
          "requests while the health child was respawned")
    wait_health(d, sick.port, "down", FALL * INTERVAL + SLACK + 1,
                "sick, after the respawn")
    check(rows(d)[sick.port]["check"] is not None, "no check since")
    sick.sick = None
    wait_health(d, sick.port, "up", RISE * INTERVAL + SLACK, "healthy, "
                "after the respawn")
    check(_health_pids(d) == [newpid], "health processes %s, expected "
          "[%d]" % (_health_pids(d), newpid))
    d.check_tree()
    d.check_restarts()


def test_no_check_no_health_child(t):
    be = EchoBackend(t, "b")
    d = conf_daemon(t, pool("app.test", [be]), health=False)
    roles = [c["role"] for c in d.status()["children"]]
    check("health" not in roles, "children %s without a checked pool"
          % roles)
    check(not _health_pids(d), "a health process runs without checks")
    d.check_tree()
    r = get(d.listen_port, "app.test", "/")
    check(r.status == 200, "status %d" % r.status)
    check(rows(d)[be.port]["health"] == "unchecked", "%r"
          % rows(d)[be.port])
    d.check_restarts()


def test_reload_starts_and_stops_health_child(t):
    a, b = EchoBackend(t, "a"), EchoBackend(t, "b")
    b.sick = 500
    plain = pool("app.test", [a, b])
    checked = pool("app.test", [a, b], http_check())
    d = conf_daemon(t, plain, health=False)
    check(not _health_pids(d), "a health process without checks")

    write_conf(t, checked)
    d.ctl("reload")
    d.health = True
    check(wait_until(lambda: len(_health_pids(d)) == 1, 5),
          "no health process after a reload that checks a pool")
    d.wait_ready()
    wait_health(d, b.port, "down", FALL * INTERVAL + SLACK + 1, "sick")

    # checks gone: the health child stops, and its verdicts with it
    write_conf(t, plain)
    d.ctl("reload")
    d.health = False
    check(wait_until(lambda: not _health_pids(d), 5), "the health process "
          "still runs after a reload that checks no pool")
    check(wait_until(lambda: rows(d)[b.port]["state"] == "up", 3),
          "the backend its check had taken out is not back: %r"
          % rows(d)[b.port])
    st = d.status()
    check("health" not in [c["role"] for c in st["children"]],
          "show status lists a health child: %s" % st["children"])
    seen = set()
    for i in range(8):
        r = get(d.listen_port, "app.test", "/%d" % i)
        seen.add(r.status)
    check(seen == {200, 500}, "statuses %s once unchecked: the sick backend "
          "is in the rotation again" % seen)
    d.check_tree()
    d.check_restarts()


# ---------------------------------------------------------------------
# workers never probe

def test_checked_down_backend_sees_only_checks(t):
    a, b = EchoBackend(t, "a"), EchoBackend(t, "b")
    b.sick = 500
    d = conf_daemon(t, pool("app.test", [a, b], http_check()), workers=4)
    wait_health(d, b.port, "down", 3, "sick")
    with b.lock:
        n0, c0 = len(b.requests), b.connections
    load = Load(d.listen_port, "app.test", pause=0.002)
    time.sleep(2.0)
    res = load.stop()
    with b.lock:
        reqs = b.requests[n0:]
        conns = b.connections - c0
    check(len(res) > 100 and all(s == 200 for _, s, _ in res),
          "%d requests, statuses %s" % (len(res),
                                        sorted({s for _, s, _ in res})))
    others = [r["path"] for r in reqs if r["path"] != "/health"]
    check(not others, "the checked-down backend got live requests: %s"
          % others[:5])
    agents = {dict((k.lower(), v) for k, v in r["headers"])
              .get("user-agent", "") for r in reqs}
    check(all(a_.startswith("portero-health/") for a_ in agents),
          "requests from %s" % agents)
    # one process checks: one connection an interval, not one a worker
    want = 2.0 / INTERVAL
    check(conns <= want + 3, "%d connections in 2 s at %.1f s intervals, "
          "with 4 workers: more than the health child's" % (conns, INTERVAL))
    t.note("%d requests served; the sick backend saw %d checks on %d "
           "connections" % (len(res), len(reqs), conns))
    d.check_restarts()


def blackhole(t):
    """A port no connection gets through to: its listener's queue is
    full, so a connect hangs (SYNs dropped) until the connect timeout."""
    lsn = t.socket(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(0)
    port = lsn.getsockname()[1]
    for _ in range(4):
        c = t.socket(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
    time.sleep(0.1)
    return port


def _one_probe_a_rest(t, conf, health):
    """A pool's only backend takes no connection (a try hangs for the 1 s
    connect timeout).  Once a first try has failed it rests 1 s for every
    worker, and when the rest ends one request tries it, not one a
    worker: while that one hangs, the others get 503 at once."""
    d = conf_daemon(t, "connect-timeout 1\n" + conf, workers=4,
                    health=health)
    r = get(d.listen_port, "app.test", "/first")
    check(r.status == 502, "the first try: status %d, expected 502"
          % r.status)
    before = {w["id"]: w["requests"] for w in d.workers_info()}
    loads = [Load(d.listen_port, "app.test", pause=0.005)
             for _ in range(6)]
    time.sleep(2.5)         # the rest ends in it, and its probe fails
    res = [r for ld in loads for r in ld.stop()]
    after = {w["id"]: w["requests"] for w in d.workers_info()}
    served = {i: after[i] - before.get(i, 0) for i in after}
    statuses = {s for _, s, _ in res}
    check(statuses <= {502, 503}, "statuses %s" % statuses)
    check(all(n > 5 for n in served.values()), "requests did not reach "
          "every worker: %s" % served)
    tries = [w for w, s, _ in res if s == 502]
    t.note("%d requests, %d of them tried the backend; per worker %s" % (
        len(res), len(tries), served))
    check(len(tries) == 1, "%d requests tried the resting backend when "
          "its rest ended, with 4 workers: expected one" % len(tries))
    d.check_restarts()


def test_resting_backend_one_probe_parent(t):
    """Without a health child, the parent grants the probe."""
    _one_probe_a_rest(t, pool("app.test", [blackhole(t)]), False)


def test_resting_backend_one_probe_health_child(t):
    """With a health child (another pool is checked), it does."""
    conf = pool("app.test", [blackhole(t)]) + pool(
        "other.test", [EchoBackend(t, "other")], "check tcp interval 30")
    _one_probe_a_rest(t, conf, True)


# ---------------------------------------------------------------------
# the grammar

def check_only(t, text):
    path = write_conf(t, text, "check.conf")
    r = t.run([PORTERO, "-n", "-f", path])
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln], path


def test_check_grammar(t):
    good = """no-register
pool "a" {
	backend 127.0.0.1 port 9001
	check http "/health" status 204
	check interval 200ms timeout 100ms rise 3 fall 4
}
pool "b" { backend 127.0.0.1 port 9002; check tcp }
pool "c" {
	backend 127.0.0.1 port 9003 tls
	check tls interval 5 timeout 2s
}
"""
    rc, err, path = check_only(t, good)
    check(rc == 0, "good checks: exit %d: %s" % (rc, err))
    bad = [
        ("check http \"health\"", 3, "want a path that starts with '/'"),
        ("check http \"/\" status 99", 3, "status 99: want 100-599"),
        ("check tcp; check tls", 3, "a second check (the first is on "
         "line 3)"),
        ("check interval 5", 3, "need a check: tcp, tls or http"),
        ("check tcp interval 5ms", 3, "interval 5 ms: want 10 ms to "
         "3600 s"),
        ("check tcp timeout 3601", 3, "timeout 3601000 ms"),
        ("check tcp interval 1 timeout 2", 3, "timeout 2000 ms is longer "
         "than its interval, 1000 ms"),
        ("check tcp rise 0", 3, "rise 0: want 1-100"),
        ("check tcp fall 101", 3, "fall 101: want 1-100"),
        ("check tcp interval 5x", 3, "\"5x\": a duration is seconds"),
        ("check udp", 3, "syntax error"),
    ]
    for opt, line, msg in bad:
        text = ("no-register\npool \"p\" {\n\t%s\n"
                "\tbackend 127.0.0.1 port 9001\n}\n" % opt)
        rc, err, path = check_only(t, text)
        want = "%s:%d: " % (path, line)
        check(rc == 1 and any(e.startswith(want) and msg in e
                              for e in err),
              "%r: exit %d, expected 1 with %r%r: %s" % (
                  opt, rc, want, msg, err))
