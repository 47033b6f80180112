"""
A pool's client certificate for its TLS backends (tls-client-certificate):
backends that require one are refused without it and served with it, and
see the pool's own certificate; two pools with two certificates never
cross; -n reports a bad pair with its line and a bad pair stops start-up;
a reload to a bad pair keeps the one in service, a reload to a good one
takes it, an unchanged reload keeps pooled connections; the health
child's TLS checks present it too.
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
import ssl
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


def client_pair(ca, cn, outdir=None):
    """A client certificate (subject CN=cn) and its key from ca."""
    return ca.issue(cn, names=[], eku="clientAuth", subject="/CN=" + cn,
                    outdir=outdir)


def pool(name, be, ca, pair=None, extra=""):
    """A pool of one TLS backend, verified as app.test against ca, with
    the client certificate pair (cert, key) if given."""
    text = ("pool \"%s\" {\n\tbackend 127.0.0.1 port %d tls\n"
            "\ttls-name \"app.test\"\n\ttls-ca \"%s\"\n" % (
                name, be.port, ca.cert))
    if pair is not None:
        text += "\ttls-client-certificate \"%s\" key \"%s\"\n" % pair
    return text + extra + "}\n"


def server(name, to):
    return "server \"%s\" { forward to \"%s\" }\n" % (name, to)


def backend(t, name, server_ca, client_ca, tls12=False):
    """A TLS backend whose certificate server_ca issued and that wants a
    client certificate client_ca issued."""
    be = EchoBackend(t, name, tls=server_ca.issue("app.test", NAMES),
                     client_ca=client_ca.cert)
    if tls12:
        be.tls_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return be


def status(d, host, path):
    try:
        return get(d.listen_port, host, path, timeout=10).status
    except OSError as e:
        fail("GET %s for %s: %s (log: %s)" % (path, host, e, d.log_tail(5)))


def served_as(d, host, path, be, subject, what):
    """200 from be, which saw the client certificate CN=subject."""
    r = get(d.listen_port, host, path, timeout=10)
    check(r.status == 200, "%s: %s%s: status %d (%r), expected 200 (log: "
          "%s)" % (what, host, path, r.status, r.body[:120], d.log_tail(5)))
    info = r.json()
    check(info["name"] == be.name and info.get("tls_client") ==
          "commonName=" + subject, "%s: %s%s: answered by %s, which saw "
          "client certificate %r; expected %s and CN=%s" % (
              what, host, path, info["name"], info.get("tls_client"),
              be.name, subject))


def refused(d, host, path, what):
    st = status(d, host, path)
    check(st in (502, 503), "%s: %s%s: status %d, expected 502 (503 once "
          "the backend rests)" % (what, host, path, st))


def subjects(be):
    with be.lock:
        return {r.get("tls_client") for r in be.requests}


def tls_handshakes(be):
    with be.lock:
        return be.connections


def test_backend_requires_client_certificate(t):
    """A backend that wants a client certificate: a pool without one is
    refused (the backend never serves it), a pool with one is served and
    the backend saw that certificate; a worker started anew has it too."""
    sca = TestCA(t, "server CA")
    cca = TestCA(t, "client CA")
    be = backend(t, "strict", sca, cca)
    pair = client_pair(cca, "portero client one")
    d = conf_daemon(t, pool("without", be, sca) + pool("with", be, sca, pair)
                    + server("without.test", "without")
                    + server("with.test", "with"))
    for i in range(2):
        refused(d, "without.test", "/no%d" % i, "no client certificate")
    check(be.count() == 0, "the backend served a request of the pool "
          "without a client certificate")
    for i in range(3):
        served_as(d, "with.test", "/yes%d" % i, be, "portero client one",
                  "with a client certificate")

    old = d.child_pid("worker", 0)
    os.kill(old, signal.SIGKILL)
    d.expect_restarts[("worker", 0)] = 1
    d.wait_respawned("worker", 0, old, 10.0)
    check(wait_until(lambda: status(d, "with.test", "/r") == 200, 5, 0.05),
          "a new worker never served the pool with a client certificate: "
          "%s" % d.log_tail(5))
    served_as(d, "with.test", "/respawned", be, "portero client one",
              "a new worker")
    refused(d, "without.test", "/respawned", "a new worker, no certificate")
    d.check_restarts()


def test_two_pools_two_certificates(t):
    """Two backends, each wanting a certificate of its own CA, and pools
    with either certificate, two of them sharing one: each backend sees
    only its own certificate, a pool with the other CA's certificate is
    refused, and the pool sharing a pair presents the same one."""
    sca = TestCA(t, "server CA")
    cca1 = TestCA(t, "client CA one")
    cca2 = TestCA(t, "client CA two")
    one = backend(t, "one", sca, cca1)
    two = backend(t, "two", sca, cca2)
    p1 = client_pair(cca1, "client one")
    p2 = client_pair(cca2, "client two")
    d = conf_daemon(t, pool("p1", one, sca, p1) + pool("p2", two, sca, p2)
                    + pool("p1b", one, sca, p1) + pool("cross", two, sca, p1)
                    + server("one.test", "p1") + server("two.test", "p2")
                    + server("oneb.test", "p1b")
                    + server("cross.test", "cross"), workers=2)
    for i in range(6):
        served_as(d, "one.test", "/a%d" % i, one, "client one", "pool one")
        served_as(d, "two.test", "/b%d" % i, two, "client two", "pool two")
        served_as(d, "oneb.test", "/c%d" % i, one, "client one",
                  "the pool sharing pair one")
    n = two.count()
    for i in range(2):
        refused(d, "cross.test", "/x%d" % i, "certificate one to backend two")
    check(two.count() == n, "backend two served the pool presenting the "
          "other CA's certificate")
    check(subjects(one) == {"commonName=client one"} and
          subjects(two) == {"commonName=client two"},
          "the backends saw %r and %r" % (subjects(one), subjects(two)))
    d.check_restarts()


def check_only(t, path):
    r = t.run([PORTERO, "-n", "-f", path])
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln]


def test_bad_pairs_at_check_and_start(t):
    """-n reads the pair as the operator and reports a key that does not
    match, a missing file, a directory and a mistyped keyword with their
    lines; a daemon started with a mismatched pair stops with the same
    line in its log."""
    sca = TestCA(t, "server CA")
    cca = TestCA(t, "client CA")
    be = backend(t, "strict", sca, cca)
    cert1, key1 = client_pair(cca, "client one")
    cert2, key2 = client_pair(cca, "client two")
    missing = os.path.join(t.tmp, "missing.pem")
    tcc = "\ttls-client-certificate"
    cases = [
        ("%s \"%s\" key \"%s\"\n" % (tcc, cert1, key2), 5,
         r"tls-client-certificate: %s: key does not match the certificate"
         % re.escape(key2)),
        ("%s \"%s\" key \"%s\"\n" % (tcc, missing, key1), 5,
         r"tls-client-certificate %s: No such file" % re.escape(missing)),
        ("%s \"%s\" key \"%s\"\n" % (tcc, cert1, missing), 5,
         r"tls-client-certificate %s: No such file" % re.escape(missing)),
        ("%s \"%s\" key \"%s\"\n" % (tcc, t.tmp, key1), 5,
         r"tls-client-certificate \S+: not a regular file"),
        ("%s \"%s\" key \"%s\"\n" % (tcc, key1, key1), 5,
         r"tls-client-certificate: %s: block 1 is a private key"
         % re.escape(key1)),
        ("%s \"client.pem\" key \"%s\"\n" % (tcc, key1), 5,
         r"tls-client-certificate \"client.pem\": want an absolute path"),
        ("%s \"%s\" keyfile \"%s\"\n" % (tcc, cert1, key1), 5,
         r"tls-client-certificate: \"keyfile\" where \"key\" goes"),
        ("%s \"%s\" key \"%s\"\n%s \"%s\" key \"%s\"\n" % (
            tcc, cert1, key1, tcc, cert2, key2), 6,
         r"tls-client-certificate: pool \"p\" has one"),
    ]
    for extra, line, msg in cases:
        path = write_conf(t, pool("p", be, sca, None, extra)
                          + server("x.test", "p"), "bad.conf")
        rc, lines = check_only(t, path)
        check(rc == 1 and any(re.search(r"bad\.conf:%d: %s" % (line, msg),
                                        ln) for ln in lines),
              "-n with %r: exit %d, expected bad.conf:%d: %s; got %s"
              % (extra.strip(), rc, line, msg, lines))
    good = pool("p", be, sca, (cert1, key1)) + server("x.test", "p")
    rc, lines = check_only(t, write_conf(t, "no-register\n" + good,
                                         "good.conf"))
    check(rc == 0, "-n on a good pair: exit %d: %s" % (rc, lines))

    # started with a key that is not the certificate's: it stops
    path = write_conf(t, pool("p", be, sca, (cert1, key2))
                      + server("x.test", "p"))
    d = t.daemon(workers=1, extra_args=["-f", path])
    d.spawn()
    try:
        d.proc.wait(timeout=10)
    except Exception:
        fail("a daemon started with a bad pair still runs: %s"
             % d.log_tail(10))
    d.stopped = True
    check(d.proc.returncode == 1, "it exited with %s, expected 1"
          % d.proc.returncode)
    check(re.search(r"portero\.conf:5: tls-client-certificate: %s: key "
                    r"does not match" % re.escape(key2), d.log()),
          "its log does not say why with the line: %s" % d.log_tail(10))
    check(be.count() == 0, "the backend was sent a request")


def test_reload_bad_then_good_pair(t):
    """The pair's files rewritten with a key that does not match, and a
    reload: the pair in service stays (requests keep being served with
    the old certificate) and the log says why.  Pointing the pool at new
    files that are bad keeps it too.  A new good pair at the same files
    then goes into service; an unchanged reload keeps the pooled
    connection, a changed pair makes a new one."""
    sca = TestCA(t, "server CA")
    cca = TestCA(t, "client CA")
    be = backend(t, "strict", sca, cca)
    c1, k1 = client_pair(cca, "client one")
    c2, k2 = client_pair(cca, "client two")
    c3, k3 = client_pair(cca, "client three")
    cert = os.path.join(t.tmp, "client.crt")
    key = os.path.join(t.tmp, "client.key")
    shutil.copy(c1, cert)
    shutil.copy(k1, key)
    text = pool("p", be, sca, (cert, key)) + server("p.test", "p")
    d = conf_daemon(t, text, verbose=True)

    def reload(expect_log=None):
        n = len(re.findall(r"idle upstream connections kept", d.log()))
        d.ctl("reload")
        check(wait_until(lambda: len(re.findall(
            r"idle upstream connections kept", d.log())) > n, 10, 0.05),
            "the worker never rebuilt its table after a reload")
        if expect_log is not None:
            check(wait_until(lambda: re.search(expect_log, d.log()), 5,
                             0.05), "the log never said %r: %s" % (
                                 expect_log, d.log_tail(8)))

    for i in range(2):
        served_as(d, "p.test", "/warm%d" % i, be, "client one", "at start")
    conns = tls_handshakes(be)
    reload()
    served_as(d, "p.test", "/same", be, "client one", "an unchanged reload")
    check(tls_handshakes(be) == conns, "an unchanged reload made %d new "
          "connections" % (tls_handshakes(be) - conns))

    shutil.copy(k2, key)
    reload(r"portero\.conf:5: tls-client-certificate: %s: key does not "
           r"match the certificate; keeping the pair in service"
           % re.escape(key))
    for i in range(3):
        served_as(d, "p.test", "/kept%d" % i, be, "client one",
                  "after a reload to a mismatched key")

    write_conf(t, pool("p", be, sca, (c3, k2)) + server("p.test", "p"))
    reload(r"portero\.conf:5: tls-client-certificate: %s: key does not "
           r"match the certificate; keeping the pair in service"
           % re.escape(k2))
    served_as(d, "p.test", "/kept-new-files", be, "client one",
              "after a reload to other files that do not match")

    write_conf(t, text)
    shutil.copy(c2, cert)
    shutil.copy(k2, key)
    reload(r"tls-client-certificate %s in service" % re.escape(cert))
    check(wait_until(lambda: get(d.listen_port, "p.test", "/w").json().get(
        "tls_client") == "commonName=client two", 5, 0.05),
        "the new pair never went into service: %s" % d.log_tail(8))
    served_as(d, "p.test", "/new", be, "client two", "after a good reload")
    conns = tls_handshakes(be)
    reload()
    served_as(d, "p.test", "/new-same", be, "client two",
              "an unchanged reload after the new pair")
    check(tls_handshakes(be) == conns, "an unchanged reload made %d new "
          "connections" % (tls_handshakes(be) - conns))
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


def test_health_tls_check_presents_certificate(t):
    """check tls against backends that want a client certificate (TLS
    1.2, where the backend refuses it in the handshake), and check http
    against TLS 1.3 ones: those whose pool has the certificate are up,
    the others down; a health child started anew presents it too."""
    sca = TestCA(t, "server CA")
    cca = TestCA(t, "client CA")
    good = backend(t, "good", sca, cca, tls12=True)
    bad = backend(t, "bad", sca, cca, tls12=True)
    good13 = backend(t, "good13", sca, cca)
    bad13 = backend(t, "bad13", sca, cca)
    pair = client_pair(cca, "client one")
    chk = "\tcheck tls interval 200ms timeout 150ms rise 1 fall 1\n"
    # TLS 1.3 backends refuse the certificate after the handshake: an
    # HTTP check sees it
    http = ("\tcheck http \"/\" status 200\n"
            "\tcheck interval 200ms timeout 150ms rise 1 fall 1\n")
    d = conf_daemon(t, pool("with", good, sca, pair, chk)
                    + pool("without", bad, sca, None, chk)
                    + pool("with13", good13, sca, pair, http)
                    + pool("without13", bad13, sca, None, http)
                    + server("with.test", "with")
                    + server("without.test", "without"), health=True)
    wait_health(d, good.port, "up", 5, "with a client certificate")
    wait_health(d, bad.port, "down", 5, "without one")
    wait_health(d, good13.port, "up", 5, "TLS 1.3, HTTP, with one")
    wait_health(d, bad13.port, "down", 5, "TLS 1.3, HTTP, without one")
    c = rows(d)[bad.port]["check"]
    check(c["result"].startswith("tls: "), "its check: %r" % c)
    served_as(d, "with.test", "/checked", good, "client one", "checked up")

    pid = d.child_pid("health")
    os.kill(pid, signal.SIGKILL)
    d.expect_restarts[("health", 0)] = 1
    d.wait_respawned("health", 0, pid, 5)
    since = time.time() + 1

    def checked_again():
        c = rows(d)[good.port]["check"]
        return c is not None and c["at"] >= since and c["ok"]
    check(wait_until(checked_again, 5, 0.05), "the backend with the "
          "certificate, after the health child's respawn: %r"
          % rows(d)[good.port])
    check(not rows(d)[bad.port]["check"]["ok"], "the backend without "
          "one passed its check after the respawn")
    d.check_restarts()
