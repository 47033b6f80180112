"""
TLS to backends: a burst of new upstream TLS connections, sessions that
resume (for the backend and name that made them, never another), name
verification, and the CA bundle, which the parent reads and the workers
get by message: deleting the file after start, a worker started anew
after that, reloads with a missing file and with a new bundle.
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
import socket
import threading

from backends import EchoBackend, TestCA, get
from harness import check, fail, wait_until


def _daemon(t, backends, ca_file, workers=1, extra=(), **kw):
    a = []
    for svc, addr in backends:
        a += ["--backend", "%s=%s,tls" % (svc, addr)]
    if ca_file is not None:
        a += ["--upstream-ca", ca_file]
    return t.daemon(workers=workers, extra_args=a + list(extra),
                    **kw).start()


def _get(d, host, path, what, timeout=10.0):
    try:
        return get(d.listen_port, host, path, timeout=timeout)
    except (socket.timeout, TimeoutError, OSError) as e:
        fail("%s: GET %s for %s: %s (log: %s)" % (what, path, host, e,
                                                   d.log_tail(5)))


def _ok(d, host, path, what):
    r = _get(d, host, path, what)
    check(r.status == 200, "%s: GET %s for %s: status %d, expected 200 "
          "(body %r; log: %s)" % (what, path, host, r.status, r.body[:200],
                                  d.log_tail(5)))
    return r


def _conns(be):
    with be.lock:
        return list(be.tls_conns)


def _libtls(d):
    return d.status()["tls"] == "libtls"


def _upstream_counters(d):
    ws = d.ctl_json("show", "workers")["workers"]
    return (sum(w["upstream_handshakes"] for w in ws),
            sum(w["upstream_resumed"] for w in ws))


def _burst(d, n, wave):
    """n requests at once, each held 0.2 s by the backend, which closes
    the connection after it: n new upstream TLS connections."""
    results = [None] * n
    go = threading.Event()

    def one(i):
        go.wait()
        try:
            r = get(d.listen_port, "up.test", "/sleep/0.2?close&w=%d&i=%d"
                    % (wave, i), timeout=60.0)
            results[i] = (r.status, r.json()["path"] if r.status == 200
                          else r.body[:100])
        except Exception as e:  # noqa: a failure of any kind is recorded
            results[i] = ("error", "%s: %s" % (type(e).__name__, e))
    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(n)]
    for th in threads:
        th.start()
    go.set()
    for th in threads:
        th.join(90)
    bad = [(i, r) for i, r in enumerate(results)
           if r is None or r[0] != 200 or
           r[1] != "/sleep/0.2?close&w=%d&i=%d" % (wave, i)]
    check(not bad, "wave %d: %d of %d concurrent requests over new "
          "upstream TLS connections failed, e.g. %s (log: %s)" % (
              wave, len(bad), n, bad[:5], d.log_tail(5)))


def test_burst_200_new_connections(t):
    """Two waves of 200 requests at once, each on a new upstream TLS
    connection: all are served.  The first wave finds no session; in
    the second, the OpenSSL build resumes."""
    ca = TestCA(t, "upstream CA")
    be = EchoBackend(t, "tls-up", tls=ca.issue("up.test"), peek_hello=True)
    d = _daemon(t, [("up.test", be.addr)], ca.cert, workers=2)
    n = 200
    resumed = 0
    for wave in (1, 2):
        before = resumed
        _burst(d, n, wave)
        conns = _conns(be)
        check(len(conns) == n * wave, "the backend saw %d TLS handshakes "
              "for %d requests that each closed their connection"
              % (len(conns), n * wave))
        full, resumed = _upstream_counters(d)
        check(full + resumed == n * wave, "show workers counts %d full "
              "and %d resumed upstream handshakes, expected %d in all"
              % (full, resumed, n * wave))
        t.note("after wave %d: %d upstream handshakes, %d resumed "
               "(the backend saw %d offered, %d resumed)" % (
                   wave, full + resumed, resumed,
                   sum(1 for c in conns if c["offered"]),
                   sum(1 for c in conns if c["resumed"])))
    if not _libtls(d):
        # every connection of the second wave has a session to offer
        check(resumed - before >= n // 2, "only %d of %d upstream "
              "handshakes of the second wave resumed" % (
                  resumed - before, n))


def test_sessions_resume_per_backend_and_name(t):
    """A session is offered again to the backend and for the name that
    made it, and resumes; a backend that did not make it, or another
    name on the same backend, is offered none (read off the ClientHello).
    Built with libtls, nothing is offered or resumed."""
    ca = TestCA(t, "upstream CA")
    pair = ca.issue("a.test", names=["a.test", "b.test", "c.test"])
    one = EchoBackend(t, "one", tls=pair, peek_hello=True)
    two = EchoBackend(t, "two", tls=pair, peek_hello=True)
    # a.test and b.test: two names on backend one; c.test: one and two
    d = _daemon(t, [("a.test", one.addr), ("b.test", one.addr),
                    ("c.test", one.addr), ("c.test", two.addr)], ca.cert)
    libtls = _libtls(d)
    for i in range(3):
        _ok(d, "a.test", "/a%d?close" % i, "a.test")
    for i in range(3):
        _ok(d, "b.test", "/b%d?close" % i, "b.test")
    for i in range(4):
        _ok(d, "c.test", "/c%d?close" % i, "c.test")

    def seen(be, sni):
        return [c for c in _conns(be) if c["sni"] == sni]
    a, b = seen(one, "a.test"), seen(one, "b.test")
    c1, c2 = seen(one, "c.test"), seen(two, "c.test")
    check(len(a) == 3 and len(b) == 3 and len(c1) == 2 and len(c2) == 2,
          "handshakes by backend and name: a.test %d, b.test %d, c.test "
          "%d and %d; expected 3, 3, 2, 2: %s %s" % (
              len(a), len(b), len(c1), len(c2), _conns(one), _conns(two)))
    for what, hs in (("a.test", a), ("b.test on the backend a.test "
                                      "used", b),
                     ("c.test on backend one", c1),
                     ("c.test on backend two", c2)):
        check(not hs[0]["offered"] and not hs[0]["resumed"], "%s: the "
              "first connection offered a session (%s): it was made for "
              "another name or backend" % (what, hs[0]))
        if libtls:
            check(not any(h["offered"] or h["resumed"] for h in hs),
                  "%s: the libtls build offered or resumed a session: %s"
                  % (what, hs))
            continue
        check(all(h["offered"] and h["resumed"] for h in hs[1:]),
              "%s: later connections did not offer and resume the "
              "session: %s" % (what, hs))
    full, resumed = _upstream_counters(d)
    want = 0 if libtls else 6
    check(resumed == want and full + resumed == 10, "show workers counts "
          "%d full and %d resumed upstream handshakes, expected %d and %d"
          % (full, resumed, 10 - want, want))
    t.note("%s: %d full, %d resumed upstream handshakes"
           % ("libtls" if libtls else "openssl", full, resumed))


def test_verification_refuses_other_name(t):
    """A backend whose certificate (from the right CA) is for another
    name is refused, session or not."""
    ca = TestCA(t, "upstream CA")
    good = EchoBackend(t, "good", tls=ca.issue("up.test"))
    other = EchoBackend(t, "other", tls=ca.issue("other.test"))
    d = _daemon(t, [("up.test", good.addr), ("wrong.test", other.addr)],
                ca.cert)
    for i in range(2):
        _ok(d, "up.test", "/good%d?close" % i, "matching name")
    for i in range(3):
        r = _get(d, "wrong.test", "/wrong%d" % i, "name mismatch")
        check(r.status in ((502,) if i == 0 else (502, 503)),
              "a backend with a certificate for other.test, asked for "
              "wrong.test: status %d, expected 502 (503 once it rests)"
              % r.status)
    check(other.count() == 0, "the mismatched backend got %d requests"
          % other.count())
    check(re.search(r"upstream TLS.*wrong\.test", d.log()),
          "the refused upstream name is not logged")


def test_start_with_unreadable_ca_fails(t):
    """An --upstream-ca that cannot be read stops portero at start, with
    the file and the reason."""
    missing = os.path.join(t.tmp, "no-such-ca.pem")
    d = t.daemon(workers=1, extra_args=["--upstream-ca", missing])
    d.start(ready=False)
    try:
        d.proc.wait(timeout=10)
    except Exception:
        fail("portero with an unreadable --upstream-ca still runs")
    check(d.proc.returncode != 0, "exit status %d" % d.proc.returncode)
    check(re.search(r"upstream CA %s: No such file" % re.escape(missing),
                    d.log()), "no line naming the missing CA file: %r"
          % d.log_tail(5))
    d.stopped = True


def test_ca_held_by_parent_reload(t):
    """The CA file is deleted after start: new upstream TLS connections
    still verify, and so does a worker started anew afterwards (it got
    the bundle from the parent).  A reload that cannot read the file
    logs it and keeps the bundle; one that reads a new bundle takes it:
    the old CA's backend is refused, the new one's served."""
    ca1 = TestCA(t, "upstream CA one")
    ca2 = TestCA(t, "upstream CA two")
    be1 = EchoBackend(t, "one", tls=ca1.issue("one.test"))
    be2 = EchoBackend(t, "two", tls=ca2.issue("two.test"))
    path = os.path.join(t.tmp, "upstream-ca.pem")
    shutil.copy(ca1.cert, path)
    d = _daemon(t, [("one.test", be1.addr), ("two.test", be2.addr)], path)
    _ok(d, "one.test", "/before?close", "before the file is deleted")
    os.unlink(path)
    for i in range(3):
        _ok(d, "one.test", "/deleted%d?close" % i, "CA file deleted")

    old = d.child_pid("worker", 0)
    os.kill(old, signal.SIGKILL)
    d.expect_restarts[("worker", 0)] = 1
    d.wait_respawned("worker", 0, old, 10.0)
    for i in range(3):
        _ok(d, "one.test", "/respawned%d?close" % i, "a worker started "
            "after the CA file was deleted")

    d.ctl("reload")
    if not wait_until(lambda: re.search(
            r"keeping the running upstream CA", d.log()), 10.0, 0.05):
        fail("a reload with the CA file gone logged nothing about it: %s"
             % d.log_tail(5))
    check(re.search(r"upstream CA %s: No such file" % re.escape(path),
                    d.log()), "the reload's warning does not name the "
          "file and the reason: %s" % d.log_tail(5))
    for i in range(3):
        _ok(d, "one.test", "/kept%d?close" % i, "after a reload that "
            "could not read the CA file")

    shutil.copy(ca2.cert, path)
    d.ctl("reload")

    def switched():
        r = _get(d, "two.test", "/switch?close", "after a new bundle")
        return r.status == 200
    if not wait_until(switched, 10.0, 0.1):
        fail("the backend of the new CA bundle is not served after a "
             "reload: %s" % d.log_tail(5))
    n = be1.count()
    for i in range(2):
        r = _get(d, "one.test", "/old%d" % i, "the old CA's backend")
        check(r.status in (502, 503), "the old CA's backend after a "
              "reload to the new bundle: status %d, expected 502"
              % r.status)
    check(be1.count() == n, "the old CA's backend still got requests")


def test_reload_keeps_tls_pool_unless_trust_changes(t):
    """A reload keeps a TLS backend's idle connections while the CA
    bundle stays the same; a new bundle means connections checked
    against the old one are not used again."""
    ca1 = TestCA(t, "upstream CA one")
    ca2 = TestCA(t, "upstream CA two")
    be = EchoBackend(t, "one", tls=ca1.issue("one.test"))
    path = os.path.join(t.tmp, "upstream-ca.pem")
    shutil.copy(ca1.cert, path)
    d = _daemon(t, [("one.test", be.addr)], path, verbose=True)

    def reload():
        n = len(re.findall(r"idle upstream connections kept", d.log()))
        d.ctl("reload")
        check(wait_until(lambda: len(re.findall(
            r"idle upstream connections kept", d.log())) > n, 10, 0.05),
            "the worker never rebuilt its backends after a reload")
    for i in range(3):
        _ok(d, "one.test", "/warm%d" % i, "warm-up")
    check(be.connections == 1, "3 requests used %d upstream connections"
          % be.connections)
    for i in range(3):
        reload()
        _ok(d, "one.test", "/same%d" % i, "after a reload, same bundle")
    check(be.connections == 1, "3 reloads with the same bundle: %d "
          "upstream TLS connections, expected the first one" %
          be.connections)
    with open(path, "w") as f:
        for c in (ca1.cert, ca2.cert):
            with open(c) as g:
                f.write(g.read())
    reload()
    _ok(d, "one.test", "/new", "after a reload with a new bundle")
    check(be.connections == 2, "a new CA bundle: %d upstream connections,"
          " expected a new one (2)" % be.connections)
