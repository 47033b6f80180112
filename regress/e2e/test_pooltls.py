"""
Upstream TLS per pool: a pool's own CA bundle (tls-ca) in place of the
global upstream-ca, two pools with different bundles on one backend
address, reloads that change a pool's bundle (its idle connections are
not used again, another pool's are), bad files at -n and on reload with
their lines, and the health child's TLS checks under the pool's bundle.
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
import shutil
import signal
import time

from backends import EchoBackend, TestCA, get
from harness import PORTERO, check, fail, wait_until

NAMES = ["app.test", "IP:127.0.0.1"]


def write_conf(t, text, name="portero.conf"):
    path = os.path.join(t.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def conf_daemon(t, text, workers=1, **kw):
    path = write_conf(t, text)
    d = t.daemon(workers=workers, extra_args=["-f", path], **kw)
    d.conf_path = path
    return d.start()


def pool(name, be, ca=None, extra=""):
    """A pool of one TLS backend, verified as app.test."""
    return ("pool \"%s\" {\n\tbackend 127.0.0.1 port %d tls\n"
            "\ttls-name \"app.test\"\n%s%s}\n" % (
                name, be.port, "\ttls-ca \"%s\"\n" % ca if ca else "",
                extra))


def server(name, to):
    return "server \"%s\" { forward to \"%s\" }\n" % (name, to)


def status(d, host, path):
    try:
        return get(d.listen_port, host, path, timeout=10).status
    except OSError as e:
        fail("GET %s for %s: %s (log: %s)" % (path, host, e, d.log_tail(5)))


def served(d, host, path, be, what):
    r = get(d.listen_port, host, path, timeout=10)
    check(r.status == 200 and r.json()["name"] == be.name,
          "%s: %s%s: status %d (%r), expected 200 from %s (log: %s)" % (
              what, host, path, r.status, r.body[:120], be.name,
              d.log_tail(5)))


def refused(d, host, path, what):
    st = status(d, host, path)
    check(st in (502, 503), "%s: %s%s: status %d, expected 502 (503 once "
          "the backend rests)" % (what, host, path, st))


def tls_handshakes(be):
    with be.lock:
        return len(be.tls_conns)


def test_two_pools_two_cas_one_backend(t):
    """Two pools on one backend address, each with its own bundle: the
    one whose bundle issued the backend's certificate is served, the
    other gets 502 and never a connection the first one made; a third
    backend, from the second bundle, is served by its pool.  A worker
    started anew has the bundles too."""
    ca1 = TestCA(t, "pool CA one")
    ca2 = TestCA(t, "pool CA two")
    one = EchoBackend(t, "one", tls=ca1.issue("app.test", NAMES))
    two = EchoBackend(t, "two", tls=ca2.issue("app.test", NAMES))
    d = conf_daemon(t, pool("p1", one, ca1.cert) + pool("p2", one, ca2.cert)
                    + pool("p3", two, ca2.cert) + server("one.test", "p1")
                    + server("two.test", "p2") + server("three.test", "p3"))
    for i in range(3):
        served(d, "one.test", "/a%d" % i, one, "its own CA")
    check(tls_handshakes(one) == 1, "3 requests made %d TLS connections"
          % tls_handshakes(one))
    n = one.count()
    for i in range(2):
        refused(d, "two.test", "/b%d" % i, "the other pool's CA")
    check(one.count() == n, "the pool whose CA did not issue the backend's "
          "certificate was served by it: an idle connection shared")
    served(d, "three.test", "/c", two, "the second CA's backend")
    served(d, "one.test", "/a", one, "its own CA, again")

    old = d.child_pid("worker", 0)
    os.kill(old, signal.SIGKILL)
    d.expect_restarts[("worker", 0)] = 1
    d.wait_respawned("worker", 0, old, 10.0)
    served(d, "one.test", "/respawned", one, "a new worker, CA one")
    served(d, "three.test", "/respawned", two, "a new worker, CA two")
    d.check_restarts()


def test_pool_ca_replaces_global(t):
    """A pool's tls-ca is used instead of upstream-ca, never beside it:
    a backend the global bundle accepts is refused by a pool whose own
    bundle did not issue it; a pool without tls-ca keeps the global."""
    ca1 = TestCA(t, "global CA")
    ca2 = TestCA(t, "pool CA")
    one = EchoBackend(t, "one", tls=ca1.issue("app.test", NAMES))
    two = EchoBackend(t, "two", tls=ca2.issue("app.test", NAMES))
    d = conf_daemon(t, "upstream-ca \"%s\"\n" % ca1.cert
                    + pool("global1", one) + pool("global2", two)
                    + pool("own1", one, ca2.cert) + pool("own2", two, ca2.cert)
                    + server("g1.test", "global1")
                    + server("g2.test", "global2")
                    + server("o1.test", "own1") + server("o2.test", "own2"))
    served(d, "g1.test", "/", one, "global CA, its backend")
    refused(d, "g2.test", "/", "global CA, the pool CA's backend")
    refused(d, "o1.test", "/", "pool CA, the global CA's backend")
    served(d, "o2.test", "/", two, "pool CA, its backend")
    check(re.search(r"upstream TLS to .*(certif|verif)", d.log(), re.I),
          "the refused handshakes are not logged: %s" % d.log_tail(5))
    d.check_restarts()


def test_reload_changes_pool_ca(t):
    """A reload that keeps a pool's bundle keeps its idle connection; one
    that changes it takes effect at once and makes a new connection (the
    old one, checked against the old bundle, is not used again), while
    another pool, whose bundle stayed, keeps its connection."""
    ca1 = TestCA(t, "pool CA one")
    ca2 = TestCA(t, "pool CA two")
    one = EchoBackend(t, "one", tls=ca1.issue("app.test", NAMES))
    other = EchoBackend(t, "other", tls=ca2.issue("app.test", NAMES))
    path = os.path.join(t.tmp, "pool-ca.pem")
    shutil.copy(ca1.cert, path)
    text = (pool("p", one, path) + pool("q", other, ca2.cert)
            + server("p.test", "p") + server("q.test", "q"))
    d = conf_daemon(t, text, verbose=True)

    def reload():
        n = len(re.findall(r"idle upstream connections kept", d.log()))
        d.ctl("reload")
        check(wait_until(lambda: len(re.findall(
            r"idle upstream connections kept", d.log())) > n, 10, 0.05),
            "the worker never rebuilt its backends after a reload")
    for i in range(2):
        served(d, "p.test", "/warm%d" % i, one, "warm-up")
        served(d, "q.test", "/warm%d" % i, other, "warm-up")
    reload()
    served(d, "p.test", "/same", one, "after a reload, same bundle")
    check(tls_handshakes(one) == 1, "a reload with the same bundle: %d "
          "TLS connections, expected the first one" % tls_handshakes(one))
    with open(path, "w") as f:
        for c in (ca1.cert, ca2.cert):
            with open(c) as g:
                f.write(g.read())
    reload()
    served(d, "p.test", "/both", one, "after a reload to two CAs")
    check(tls_handshakes(one) == 2, "a new bundle: %d TLS connections, "
          "expected a new one (2)" % tls_handshakes(one))
    served(d, "q.test", "/kept", other, "the pool whose bundle stayed")
    check(tls_handshakes(other) == 1, "the pool whose bundle stayed made "
          "%d TLS connections, expected its first" % tls_handshakes(other))
    shutil.copy(ca2.cert, path)
    reload()
    n = one.count()
    for i in range(2):
        refused(d, "p.test", "/gone%d" % i, "after a reload to CA two")
    check(one.count() == n, "the backend of the old CA was sent a request "
          "after its pool's bundle dropped that CA")
    d.check_restarts()


def test_registered_backends_take_pool_ca(t):
    """Backends registered into a declared pool with a tls-ca are verified
    against it, not the global bundle: the pool CA's backend is served,
    the global CA's refused."""
    from test_register import register
    ca1 = TestCA(t, "global CA")
    ca2 = TestCA(t, "pool CA")
    good = EchoBackend(t, "good", tls=ca2.issue("app.test", NAMES))
    bad = EchoBackend(t, "bad", tls=ca1.issue("app.test", NAMES))
    text = "upstream-ca \"%s\"\n" % ca1.cert
    for name in ("good.test", "bad.test"):
        text += ("pool \"%s\" {\n\ttls-name \"app.test\"\n"
                 "\ttls-ca \"%s\"\n}\n" % (name, ca2.cert))
    d = conf_daemon(t, text)
    register(d, "good.test", port=good.port, use_tls=True)
    register(d, "bad.test", port=bad.port, use_tls=True)
    check(wait_until(lambda: status(d, "good.test", "/") == 200, 5, 0.05),
          "the registered backend of the pool's CA is not served: %s"
          % d.log_tail(5))
    served(d, "good.test", "/again", good, "registered, pool CA")
    refused(d, "bad.test", "/", "registered, global CA only")
    check(bad.count() == 0, "the registered backend of the global CA was "
          "sent a request")
    d.check_restarts()


def check_only(t, path):
    r = t.run([PORTERO, "-n", "-f", path])
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln]


def test_bad_tls_ca(t):
    """tls-ca files that cannot be used are errors of their line at -n;
    a reload with one is refused with the line and changes nothing."""
    ca = TestCA(t, "pool CA")
    be = EchoBackend(t, "one", tls=ca.issue("app.test", NAMES))
    junk = write_conf(t, "not a certificate\n", "junk.pem")
    missing = os.path.join(t.tmp, "missing.pem")
    cases = [
        ("\ttls-ca \"%s\"\n" % missing, 4,
         r"tls-ca %s: No such file" % re.escape(missing)),
        ("\ttls-ca \"%s\"\n" % junk, 4,
         r"tls-ca %s: no certificate in it" % re.escape(junk)),
        ("\ttls-ca \"%s\"\n" % t.tmp, 4,
         r"tls-ca \S+: not a regular file"),
        ("\ttls-ca \"ca.pem\"\n", 4,
         r"tls-ca \"ca.pem\": want an absolute path"),
        ("\ttls-ca \"%s\"\n\ttls-ca \"%s\"\n" % (ca.cert, ca.cert), 5,
         r"tls-ca: pool \"p\" has one"),
    ]
    for extra, line, msg in cases:
        path = write_conf(t, pool("p", be, None, extra) + server("x", "p"),
                          "bad.conf")
        rc, lines = check_only(t, path)
        check(rc == 1 and any(re.search(r"bad\.conf:%d: %s" % (line, msg),
                                        ln) for ln in lines),
              "-n with %r: exit %d, expected bad.conf:%d: %s; got %s"
              % (extra.strip(), rc, line, msg, lines))
    good = pool("p", be, ca.cert) + server("x.test", "p")
    rc, lines = check_only(t, write_conf(t, "no-register\n" + good,
                                         "good.conf"))
    check(rc == 0, "-n on a good tls-ca: exit %d: %s" % (rc, lines))

    d = conf_daemon(t, good)
    served(d, "x.test", "/before", be, "before a bad reload")
    write_conf(t, pool("p", be, junk) + server("x.test", "p"))
    r = d.ctl("reload", check_rc=False)
    check(r.returncode != 0 and re.search(
        r"portero\.conf:4: tls-ca %s: no certificate" % re.escape(junk),
        r.stdout + r.stderr), "a reload with a bad tls-ca: exit %d: %r"
        % (r.returncode, r.stdout + r.stderr))
    served(d, "x.test", "/after", be, "after the refused reload")
    d.check_restarts()


def rows(d):
    j = d.ctl_json("show", "backends")
    return {b["port"]: b for s in j["services"] for b in s["backends"]}


def wait_health(d, port, want, timeout, what):
    last = None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        last = rows(d).get(port)
        if last is not None and last["health"] == want:
            return
        time.sleep(0.05)
    fail("%s: backend %d not %s within %.0f s: %r" % (what, port, want,
                                                      timeout, last))


def test_health_tls_check_uses_pool_ca(t):
    """The health child checks a pool's TLS backends against the pool's
    bundle, not the global one: under a global bundle that would say the
    opposite, the pool CA's backend is up, the other down."""
    ca1 = TestCA(t, "global CA")
    ca2 = TestCA(t, "pool CA")
    good = EchoBackend(t, "good", tls=ca2.issue("app.test", NAMES))
    bad = EchoBackend(t, "bad", tls=ca1.issue("app.test", NAMES))
    text = ("upstream-ca \"%s\"\npool \"app.test\" {\n"
            "\tbackend 127.0.0.1 port %d tls\n"
            "\tbackend 127.0.0.1 port %d tls\n"
            "\ttls-name \"app.test\"\n\ttls-ca \"%s\"\n"
            "\tcheck tls interval 200ms timeout 150ms rise 1 fall 1\n}\n"
            % (ca1.cert, good.port, bad.port, ca2.cert))
    d = conf_daemon(t, text, health=True)
    wait_health(d, good.port, "up", 5, "the pool CA's backend")
    wait_health(d, bad.port, "down", 5, "the global CA's backend")
    c = rows(d)[bad.port]["check"]
    check(c["result"].startswith("tls: "), "its check: %r" % c)
    for i in range(4):
        served(d, "app.test", "/%d" % i, good, "the checked pool")
    # a health child started anew gets the pool's bundle too
    pid = d.child_pid("health")
    os.kill(pid, signal.SIGKILL)
    d.expect_restarts[("health", 0)] = 1
    d.wait_respawned("health", 0, pid, 5)
    since = time.time() + 1

    def checked_again():
        c = rows(d)[good.port]["check"]
        return c is not None and c["at"] >= since and c["ok"]
    check(wait_until(checked_again, 5, 0.05), "the pool CA's backend, "
          "after the health child's respawn: %r" % rows(d)[good.port])
    check(not rows(d)[bad.port]["check"]["ok"], "the global CA's backend "
          "passed its check after the respawn")
    d.check_restarts()
