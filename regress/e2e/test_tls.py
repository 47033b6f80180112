"""
TLS termination: certificates chosen by SNI from the certificate
directory, the default certificate, wildcards, reloads and periodic
scans, broken replacements, 421 for a host the certificate does not
cover, protocol versions and ALPN, session resumption, hostile TLS
clients.  Certificates come from a throw-away CA made with openssl.
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
import socket
import ssl
import threading
import time

import alog
from backends import (EchoBackend, TestCA, cert_fingerprint, cert_folder,
                      cert_folders_fast, client_hello, fix_cert_perms,
                      header_map, make_cert_dir, peer_fingerprint,
                      peer_names, read_response, tls_client_ctx,
                      tls_connect, wait_closed, write_atomic)
from harness import Skip, check, fail, wait_until


# ---------------------------------------------------------------------
# helpers

class World:
    """A CA, a certificate directory, one echo backend per service and
    the daemon."""

    def __init__(self, t):
        self.t = t
        self.ca = TestCA(t)
        self.certdir = make_cert_dir(t)
        self.certs = {}         # domain -> cert path
        self.backends = {}      # service -> EchoBackend
        self.d = None

    def folder(self, domain, **kw):
        cert, key, path = cert_folder(self.t, self.ca, self.certdir, domain,
                                      **kw)
        self.certs[domain] = cert
        return cert

    def fp(self, domain):
        return cert_fingerprint(self.t, self.certs[domain])

    def backend(self, service):
        be = EchoBackend(self.t, service)
        self.backends[service] = be
        return be

    def start(self, workers=1, extra=(), wait_sni=None, wait_domain=None):
        args = []
        for svc, be in self.backends.items():
            args += ["--backend", "%s=%s" % (svc, be.addr)]
        self.d = self.t.daemon(workers=workers, cert_dir=self.certdir,
                               extra_args=args + list(extra)).start()
        if wait_sni is not None:
            wait_served(self, wait_sni, wait_domain or wait_sni)
        return self.d

    def connect(self, sni, **kw):
        return tls_connect(self.d.listen_port, sni, self.ca.cert, **kw)


def served_fp(w, sni):
    """Fingerprint of the certificate a new connection with this SNI
    gets, or None if the handshake fails."""
    try:
        s = w.connect(sni, timeout=3)
    except (OSError, ssl.SSLError):
        return None
    try:
        return peer_fingerprint(s)
    finally:
        s.close()


def wait_served(w, sni, domain, timeout=5.0, what=None):
    """Until a handshake with sni gets domain's current certificate."""
    want = w.fp(domain)
    last = [None]

    def ok():
        last[0] = served_fp(w, sni)
        return last[0] == want
    if not wait_until(ok, timeout, 0.1):
        names = None
        if last[0] is not None:
            for dom in w.certs:
                if w.fp(dom) == last[0]:
                    names = dom
        fail("%s: SNI %r: not served %s's certificate within %.0f s (got "
             "%s)" % (what or "TLS listener", sni, domain, timeout,
                      "no handshake" if last[0] is None else
                      "the certificate of %s" % (names or "an older pair")))


def https(w, sni, host, path="/", extra=b"", s=None, close=True):
    """One request over TLS (a new connection unless s); returns the
    response."""
    own = s is None
    if own:
        s = w.connect(sni)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n" % (
            path.encode(), host.encode(), extra,
            b"Connection: close\r\n" if close else b""))
        return read_response(s.makefile("rb"))
    finally:
        if own:
            s.close()


def certs_by_domain(d):
    out = d.ctl_json("show", "certs")
    check(isinstance(out, dict) and isinstance(out.get("certs"), list),
          "show certs -j: %r" % out)
    return {c.get("domain"): c for c in out["certs"]}


def wait_cert_state(d, domain, pred, timeout=4.0, what=""):
    last = [None]

    def ok():
        last[0] = certs_by_domain(d).get(domain)
        return pred(last[0])
    if not wait_until(ok, timeout, 0.1):
        fail("%s: show certs for %s never matched within %.0f s; last: %r"
             % (what, domain, timeout, last[0]))
    return last[0]


def openssl_client(t, port, args, stdin=b"", timeout=10):
    """openssl s_client against 127.0.0.1:port; (rc, output)."""
    import subprocess
    try:
        r = subprocess.run(["openssl", "s_client", "-connect",
                            "127.0.0.1:%d" % port] + args,
                           input=stdin, capture_output=True,
                           timeout=timeout, env=t.env())
    except subprocess.TimeoutExpired:
        fail("openssl s_client %s timed out" % " ".join(args))
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


# ---------------------------------------------------------------------
# SNI

def test_each_domain_served_its_own_certificate(t):
    w = World(t)
    w.folder("a.test")                                      # EC, PKCS#8
    w.folder("b.test", kind="rsa", key_format="traditional")  # PKCS#1
    w.folder("c.test", key_format="traditional")             # SEC1
    for svc in ("a.test", "b.test", "c.test"):
        w.backend(svc)
    log = os.path.join(t.tmp, "access.log")
    d = w.start(workers=2, extra=["--access-log", log], wait_sni="a.test")
    for dom in ("a.test", "b.test", "c.test"):
        wait_served(w, dom, dom)
        s = w.connect(dom)
        cn, sans = peer_names(s)
        check(cn == dom and sans == [dom], "SNI %s: certificate CN %r, SAN "
              "%r" % (dom, cn, sans))
        r = https(w, dom, dom, "/who", s=s)
        s.close()
        check(r.status == 200, "SNI/Host %s: status %d" % (dom, r.status))
        info = r.json()
        check(info["name"] == dom, "Host %s routed to backend %r" % (
            dom, info["name"]))
        hm = header_map(info)
        check(hm.get("x-forwarded-proto") == ["https"], "%s: "
              "X-Forwarded-Proto %r, expected ['https']" % (
                  dom, hm.get("x-forwarded-proto")))
        check(hm.get("x-forwarded-host") == [dom], "%s: X-Forwarded-Host "
              "%r" % (dom, hm.get("x-forwarded-host")))
    # the same seen by openssl s_client
    rc, out = openssl_client(t, d.listen_port, [
        "-servername", "b.test", "-CAfile", w.ca.cert, "-verify_return_error",
        "-brief"], stdin=b"")
    check("b.test" in out and re.search(r"Verification: OK|Verify return "
                                        r"code: 0", out),
          "openssl s_client -servername b.test: %s" % out[-600:])
    # the access log names the SNI
    line = wait_until(lambda: [l for l in open(log).read().splitlines()
                               if "/who" in l and " b.test " in l]
                      if os.path.exists(log) else None, 2.0, 0.05)
    check(line and alog.combined(line[0]) and
          alog.combined(line[0])["sni"] == "b.test", "access log line for "
          "SNI b.test: %r" % line)
    # curl as an everyday client
    r = t.run(["curl", "-sS", "--noproxy", "*", "--max-time", "5",
               "--cacert", w.ca.cert, "--resolve",
               "c.test:%d:127.0.0.1" % d.listen_port,
               "https://c.test:%d/curl" % d.listen_port], timeout=10)
    check(r.returncode == 0 and '"name": "c.test"' in r.stdout,
          "curl https://c.test: exit %d: %s %s" % (
              r.returncode, r.stderr[:200], r.stdout[:200]))


def test_default_certificate_without_sni(t):
    w = World(t)
    w.folder("beta.test")
    w.folder("alpha.test")
    d = w.start(workers=1, wait_sni="alpha.test")
    wait_served(w, "beta.test", "beta.test")
    check(served_fp(w, None) == w.fp("alpha.test"), "no SNI: not served "
          "alpha.test, the first domain in sorted order")
    check(served_fp(w, "unknown.test") == w.fp("alpha.test"), "unknown "
          "SNI: not served the default alpha.test")
    d.check_restarts()
    check(d.stop() is None, "stop")

    d = w.start(workers=1, extra=["--default-sni", "beta.test"],
                wait_sni="alpha.test")
    check(served_fp(w, None) == w.fp("beta.test"), "no SNI with "
          "--default-sni beta.test: not served beta.test")
    check(served_fp(w, "unknown.test") == w.fp("beta.test"), "unknown SNI "
          "with --default-sni beta.test: not served beta.test")
    check(served_fp(w, "alpha.test") == w.fp("alpha.test"), "SNI "
          "alpha.test with --default-sni beta.test")


def test_wildcard_folder(t):
    w = World(t)
    w.folder("*.example.test")
    w.folder("other.test")
    check(os.path.isdir(os.path.join(w.certdir, "_wildcard.example.test")),
          "helper did not make the _wildcard folder")
    w.backend("a.example.test")
    w.backend("b.example.test")
    w.start(workers=1, extra=["--default-sni", "other.test"],
            wait_sni="a.example.test", wait_domain="*.example.test")
    for name in ("a.example.test", "b.example.test", "B.Example.Test"):
        s = w.connect(name)
        check(peer_fingerprint(s) == w.fp("*.example.test"), "SNI %s: not "
              "served the wildcard certificate" % name)
        r = https(w, name, name.lower(), "/wild", s=s)
        s.close()
        check(r.status == 200 and r.json()["name"] == name.lower(),
              "SNI/Host %s: status %d, body %r" % (name, r.status,
                                                   r.body[:120]))
    # a wildcard covers exactly one label
    check(served_fp(w, "x.y.example.test") == w.fp("other.test"),
          "SNI x.y.example.test: expected the default certificate, not the"
          " wildcard for one label")
    check(served_fp(w, "example.test") == w.fp("other.test"),
          "SNI example.test: expected the default certificate")


# ---------------------------------------------------------------------
# changes on disk

def test_certificate_replaced_reload_and_scan(t):
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=2, extra=["--cert-scan-interval", "0"],
                wait_sni="a.test")
    old = w.fp("a.test")
    early = w.connect("a.test")
    t.socket(early)
    r = https(w, "a.test", "a.test", "/early-1", s=early, close=False)
    check(r.status == 200, "before the swap: status %d" % r.status)

    w.folder("a.test")                       # a new pair on disk
    new = w.fp("a.test")
    check(new != old, "the new certificate equals the old one")
    time.sleep(1.2)
    check(served_fp(w, "a.test") == old, "with --cert-scan-interval 0 the "
          "new pair was served before any reload")
    d.ctl("reload")
    wait_served(w, "a.test", "a.test", 4, "after porterod-ctl reload")
    # the connection opened before still works, with its certificate
    check(peer_fingerprint(early) == old, "early connection's peer changed")
    r = https(w, "a.test", "a.test", "/early-2", s=early)
    check(r.status == 200 and r.json()["path"] == "/early-2",
          "request on the connection opened before the swap: status %d"
          % r.status)
    early.close()
    for _ in range(4):                        # every worker has it
        check(served_fp(w, "a.test") == new, "a new connection got the "
              "old certificate after the reload")
    d.check_restarts()
    check(d.stop() is None, "stop")

    # the periodic scan, without a reload
    d = w.start(workers=2, extra=["--cert-scan-interval", "1"],
                wait_sni="a.test")
    early = w.connect("a.test")
    t.socket(early)
    w.folder("a.test")
    wait_served(w, "a.test", "a.test", 4, "with --cert-scan-interval 1, "
                "no reload")
    r = https(w, "a.test", "a.test", "/early-3", s=early)
    check(r.status == 200, "request on the connection opened before the "
          "scan swapped the certificate: status %d" % r.status)


def _break_and_check(t, w, d, how, good_fp):
    """Break a.test's pair as how says, reload: the old certificate
    stays in service and show certs reports it."""
    folder = os.path.join(w.certdir, "a.test")
    cert = os.path.join(folder, "cert.pem")
    key = os.path.join(folder, "privkey.pem")
    if how == "malformed PEM":
        with open(cert) as f:
            pem = f.read()
        write_atomic(cert, pem[:len(pem) // 2].encode())
        want_file = "cert.pem"
    elif how == "mismatched key":
        other = w.ca.issue("a.test")[1]
        with open(other, "rb") as f:
            write_atomic(key, f.read())
        want_file = None        # either file may be named
    elif how == "expired certificate":
        c, k = w.ca.issue("a.test", expired=True)
        for src, dst in ((c, cert), (k, key)):
            with open(src, "rb") as f:
                write_atomic(dst, f.read())
        want_file = "cert.pem"
    else:
        raise ValueError(how)
    fix_cert_perms(w.certdir)
    d.ctl("reload")
    st = wait_cert_state(d, "a.test", lambda c: c is not None and
                         c.get("state") in ("stale", "error") and
                         c.get("error"), what=how)
    check(st["state"] == "stale", "%s: show certs state %r, expected "
          "'stale' (an old pair is in service)" % (how, st["state"]))
    err = st["error"]
    names = ("cert.pem", "privkey.pem") if want_file is None else \
        (want_file,)
    check(any(n in err for n in names) and "a.test" in err,
          "%s: show certs error %r does not name the file (%s)" % (
              how, err, " or ".join("a.test/" + n for n in names)))
    for _ in range(3):
        check(served_fp(w, "a.test") == good_fp, "%s: the old certificate "
              "is no longer served" % how)
    r = https(w, "a.test", "a.test", "/still")
    check(r.status == 200, "%s: request status %d" % (how, r.status))
    logged = [l for l in d.log().splitlines() if "a.test" in l and
              re.search(r"cert\.pem|privkey\.pem", l) and
              re.search(how.split()[0][:6] + "|" +
                        {"malformed PEM": "PEM|parse",
                         "mismatched key": "match",
                         "expired certificate": "expire"}[how], l, re.I)]
    check(logged, "%s: no log line naming the file and the reason" % how)
    return st


def test_broken_replacement_keeps_old_certificate(t):
    w = World(t)
    good_cert = w.folder("a.test")
    w.folder("b.test")
    w.backend("a.test")
    d = w.start(workers=2, extra=["--cert-scan-interval", "0"],
                wait_sni="a.test")
    wait_served(w, "b.test", "b.test")
    good_fp = w.fp("a.test")
    folder = os.path.dirname(good_cert)
    saved = {}
    for n in ("cert.pem", "privkey.pem"):
        with open(os.path.join(folder, n), "rb") as f:
            saved[n] = f.read()
    st = certs_by_domain(d)["a.test"]
    check(st["state"] == "ok" and st["error"] is None, "a.test before: %r"
          % st)

    for how in ("malformed PEM", "mismatched key", "expired certificate"):
        _break_and_check(t, w, d, how, good_fp)
        # put the good pair back: ok again
        for n, data in saved.items():
            write_atomic(os.path.join(folder, n), data)
        fix_cert_perms(w.certdir)
        d.ctl("reload")
        wait_cert_state(d, "a.test", lambda c: c and c.get("state") == "ok"
                        and not c.get("error"), what="restored after " + how)

    # a new folder that never had a good pair: state error, not served
    bad = os.path.join(w.certdir, "c.test")
    os.mkdir(bad)
    with open(os.path.join(bad, "cert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 !!\n")
    with open(os.path.join(bad, "privkey.pem"), "w") as f:
        f.write("garbage\n")
    fix_cert_perms(w.certdir)
    d.ctl("reload")
    st = wait_cert_state(d, "c.test", lambda c: c is not None,
                         what="broken new folder c.test")
    check(st["state"] == "error" and st.get("error") and
          st.get("not_after") is None, "c.test (never good): %r, expected "
          "state error, an error text and not_after null" % st)

    # a folder removed disappears after a reload
    b_fp = w.fp("b.test")
    shutil.rmtree(os.path.join(w.certdir, "b.test"))
    d.ctl("reload")
    wait_cert_state(d, "b.test", lambda c: c is None,
                    what="b.test folder removed")
    fp = served_fp(w, "b.test")
    check(fp != b_fp, "b.test's certificate still served after "
          "its folder was removed and a reload")


# ---------------------------------------------------------------------
# routing on TLS

class Hammer:
    """New TLS handshakes, back to back, with names in turn, each
    checked against the certificate it should get, in a thread."""

    def __init__(self, w, want):
        self.w = w
        self.want = want                # sni -> fingerprint
        self.count = 0
        self.errors = []
        self.stop = threading.Event()
        self.ctx = tls_client_ctx(w.ca.cert, True)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        names = sorted(self.want)
        i = 0
        while not self.stop.is_set() and len(self.errors) < 10:
            sni = names[i % len(names)]
            i += 1
            try:
                raw = socket.create_connection(
                    ("127.0.0.1", self.w.d.listen_port), timeout=5)
                with self.ctx.wrap_socket(raw, server_hostname=sni) as s:
                    fp = peer_fingerprint(s)
            except (OSError, ssl.SSLError) as e:
                self.errors.append("%s: %s" % (sni, e))
                continue
            if fp != self.want[sni]:
                self.errors.append("%s: another certificate" % sni)
            self.count += 1

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        check(not self.thread.is_alive(), "the hammering client hangs")


def _built_lines(d, npairs, built):
    pat = re.compile(r"certificate set in service: %d domains \(%d "
                     r"contexts built\)" % (npairs, built))
    return [l for l in d.log_lines() if pat.search(l)]


def test_many_certificates_one_changed(t):
    """300 domains, a wildcard and an exact name under it; one
    certificate replaced on disk and reloaded: its name gets the new
    certificate on every worker, the others keep theirs, each worker
    builds one context (the rest are taken over), a client hammering
    other names meanwhile sees no failed handshake, nothing respawns.
    SNI through the hash table: exact before wildcard, one label only,
    case ignored, the default for the rest."""
    w = World(t)
    doms = [["m%03d.many.test" % i] for i in range(300)]
    doms += [["*.wild.many.test"], ["x.wild.many.test", "Y.many.test"]]
    fps = cert_folders_fast(w.ca, w.certdir, doms)
    npairs = len(doms)
    w.d = d = t.daemon(workers=2, cert_dir=w.certdir, verbose=True,
                       extra_args=["--cert-scan-interval", "0",
                                   "--default-sni", "m000.many.test"])
    d.start()
    check(wait_until(lambda: len(_built_lines(d, npairs, npairs)) == 2,
                     30, 0.1), "both workers did not build the %d pairs:"
          " %s" % (npairs, d.log_tail(5)))
    for sni, dom in (("m299.many.test", "m299.many.test"),
                     ("M007.Many.Test", "m007.many.test"),
                     ("x.wild.many.test", "x.wild.many.test"),
                     ("y.many.test", "x.wild.many.test"),
                     ("z.wild.many.test", "*.wild.many.test"),
                     ("Z.WILD.many.test", "*.wild.many.test"),
                     ("a.z.wild.many.test", "m000.many.test"),
                     ("wild.many.test", "m000.many.test"),
                     ("nowhere.test", "m000.many.test")):
        got = served_fp(w, sni)
        check(got == fps[dom], "SNI %s: not %s's certificate" % (sni, dom))

    # libtls cannot share a context between sets: it builds them all
    built = npairs if d.status()["tls"] == "libtls" else 1
    changed = "m150.many.test"
    want = {n[0]: fps[n[0]] for n in doms if n[0] != changed and
            not n[0].startswith("*")}
    want["z.wild.many.test"] = fps["*.wild.many.test"]
    hammer = Hammer(w, want)
    try:
        check(wait_until(lambda: hammer.count >= 20 or hammer.errors, 30,
                         0.05), "the hammering client made no handshake")
        had = len(_built_lines(d, npairs, built))
        new = cert_folders_fast(w.ca, w.certdir, [[changed]])[changed]
        d.ctl("reload")
        check(wait_until(lambda: len(_built_lines(d, npairs, built)) ==
                         had + 2, 20, 0.05), "the workers did not build "
              "%d context(s) for the change: %s" % (built, d.log_tail(6)))
        during = hammer.count
        check(wait_until(lambda: hammer.count >= during + 20 or
                         hammer.errors, 30, 0.05),
              "no handshake after the change")
    finally:
        hammer.finish()
    check(not hammer.errors, "%d handshakes, failures: %s" % (
        hammer.count, hammer.errors[:3]))
    t.note("%d handshakes with other names around the change"
           % hammer.count)
    for line in _built_lines(d, npairs, built)[had:]:
        t.note(line[line.find("certificate set"):])
    for _ in range(6):                  # both workers, most likely
        check(served_fp(w, changed) == new, "%s: not the new certificate"
              % changed)
    for sni in ("m000.many.test", "m149.many.test", "m151.many.test",
                "x.wild.many.test"):
        check(served_fp(w, sni) == fps[sni], "%s: certificate changed"
              % sni)
    check(served_fp(w, "q.wild.many.test") == fps["*.wild.many.test"],
          "the wildcard's certificate changed")
    d.check_restarts()


def test_misdirected_request_421(t):
    w = World(t)
    w.folder("a.test")
    w.folder("b.test")
    w.folder("*.example.test")
    for svc in ("a.test", "b.test", "x.example.test", "y.example.test"):
        w.backend(svc)
    w.start(workers=1, wait_sni="a.test")
    wait_served(w, "b.test", "b.test")
    wait_served(w, "x.example.test", "*.example.test")
    r = https(w, "a.test", "b.test", "/mis")
    check(r.status == 421, "SNI a.test, Host b.test: status %d, expected "
          "421" % r.status)
    check(w.backends["b.test"].count() == 0 and
          w.backends["a.test"].count() == 0, "a misdirected request "
          "reached a backend")
    r = https(w, "a.test", "A.Test:443", "/port")
    check(r.status == 200 and r.json()["name"] == "a.test", "SNI a.test, "
          "Host A.Test:443: status %d" % r.status)
    r = https(w, "x.example.test", "y.example.test", "/same-wildcard")
    check(r.status == 200 and r.json()["name"] == "y.example.test",
          "SNI x.example.test, Host y.example.test (same wildcard "
          "certificate): status %d, body %r" % (r.status, r.body[:120]))
    # on one kept-alive connection: the good request still works after
    s = w.connect("a.test")
    t.socket(s)
    r = https(w, "a.test", "b.test", "/mis2", s=s, close=False)
    check(r.status == 421, "second 421: %d" % r.status)
    try:
        r = https(w, "a.test", "a.test", "/ok-after-421", s=s)
        check(r.status == 200, "after a 421 on the same connection: %d"
              % r.status)
    except (EOFError, OSError, ssl.SSLError):
        t.note("the connection closed after the 421")


def test_no_sni_routed_by_host_and_ip_names(t):
    """A client that connects by address sends no SNI: it gets the
    default certificate and its requests are routed by Host; an IP
    address in subjectAltName covers a Host that is that address."""
    w = World(t)
    w.folder("a.test", names=["a.test", "IP:127.0.0.1", "IP:::1"])
    w.folder("b.test")
    for svc in ("a.test", "b.test", "127.0.0.1"):
        w.backend(svc)
    w.start(workers=1, wait_sni="a.test",
            extra=["--default-sni", "a.test"])
    wait_served(w, "b.test", "b.test")
    s = w.connect(None)
    check(peer_fingerprint(s) == w.fp("a.test"), "no SNI: not the default "
          "certificate")
    s.close()
    for host, svc in (("b.test", "b.test"), ("127.0.0.1", "127.0.0.1"),
                      ("a.test", "a.test")):
        r = https(w, None, host, "/nosni")
        check(r.status == 200 and r.json()["name"] == svc, "no SNI, Host "
              "%s: status %d, expected 200 from %s" % (host, r.status, svc))
    # with SNI the certificate must cover the Host, IP names included
    for host, want in (("127.0.0.1", 200), ("127.0.0.1:443", 200),
                       ("127.000.000.001", 421), ("[::1]", 404),
                       ("127.0.0.2", 421), ("b.test", 421)):
        r = https(w, "a.test", host, "/ipsan")
        check(r.status == want, "SNI a.test, Host %s: status %d, expected "
              "%d" % (host, r.status, want))
    r = https(w, "b.test", "127.0.0.1", "/ipsan")
    check(r.status == 421, "SNI b.test (no IP name), Host 127.0.0.1: "
          "status %d, expected 421" % r.status)
    st = certs_by_domain(w.d).get("a.test")
    check(st is not None and "IP:127.0.0.1" in str(st), "show certs does "
          "not list a.test's IP name: %r" % st)


# ---------------------------------------------------------------------
# protocol

def test_tls_versions_and_alpn(t):
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=1, wait_sni="a.test")
    p = d.listen_port
    # SECLEVEL=0 lets this client offer TLS 1.1 at all: a refusal is the
    # server's
    rc, out = openssl_client(t, p, ["-servername", "a.test", "-tls1_1",
                                    "-cipher", "DEFAULT@SECLEVEL=0"])
    check("no protocols available" not in out, "this openssl cannot offer"
          " TLS 1.1: %s" % out[-300:])
    check(rc != 0 and not re.search(r"Cipher is (?!\(NONE\))", out),
          "TLS 1.1 handshake succeeded (rc %d): %s" % (rc, out[-600:]))
    check(re.search(r"alert protocol version|unsupported protocol|"
                    r"wrong version|no protocols", out, re.I),
          "TLS 1.1 failed, but not for the version: %s" % out[-600:])
    for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        rc, out = openssl_client(t, p, ["-servername", "a.test", flag,
                                        "-CAfile", w.ca.cert,
                                        "-alpn", "http/1.1"])
        check(rc == 0 and re.search(r"New, %s, Cipher is (?!\(NONE\))"
                                    % re.escape(name), out),
              "%s: rc %d: %s" % (name, rc, out[-600:]))
        check("ALPN protocol: http/1.1" in out, "%s: ALPN http/1.1 not "
              "selected: %s" % (name, out[-600:])
              if "ALPN" in out else "%s: no ALPN protocol selected" % name)
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        s = w.connect("a.test", minv=v, maxv=v, alpn=["http/1.1"])
        check(s.selected_alpn_protocol() == "http/1.1", "%s: ALPN %r" % (
            v.name, s.selected_alpn_protocol()))
        r = https(w, "a.test", "a.test", "/v", s=s)
        s.close()
        check(r.status == 200, "%s: status %d" % (v.name, r.status))
    # no ALPN at all is fine too
    r = https(w, "a.test", "a.test", "/no-alpn")
    check(r.status == 200, "without ALPN: status %d" % r.status)


def _workers(d):
    return {w["id"]: w for w in d.ctl_json("show", "workers")["workers"]}


def _cipher_of(out):
    m = re.search(r"Cipher is (\S+)", out)
    return m.group(1) if m and m.group(1) != "(NONE)" else None


def test_default_ciphers_aead_only(t):
    """TLS 1.2 offers ECDHE with AES-GCM or ChaCha20-Poly1305 alone: a
    client that offers only CBC suites or RSA key exchange gets no
    handshake."""
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=1, wait_sni="a.test")
    base = ["-servername", "a.test", "-CAfile", w.ca.cert, "-tls1_2"]
    for cipher in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                   "AES128-GCM-SHA256"):
        rc, out = openssl_client(t, d.listen_port, base + ["-cipher",
                                                           cipher])
        check(rc != 0 and _cipher_of(out) is None, "TLS 1.2 with only %s: "
              "handshake made (cipher %s)" % (cipher, _cipher_of(out)))
    for cipher in ("ECDHE-ECDSA-AES128-GCM-SHA256",
                   "ECDHE-ECDSA-CHACHA20-POLY1305"):
        rc, out = openssl_client(t, d.listen_port, base + ["-cipher",
                                                           cipher])
        check(rc == 0 and _cipher_of(out) == cipher, "TLS 1.2 with %s: rc "
              "%d, cipher %s" % (cipher, rc, _cipher_of(out)))
    # the server's order wins: AES-256-GCM before the client's first
    rc, out = openssl_client(t, d.listen_port, base + [
        "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305:"
        "ECDHE-ECDSA-AES256-GCM-SHA384"])
    check(_cipher_of(out) == "ECDHE-ECDSA-AES256-GCM-SHA384",
          "server preference: got %s" % _cipher_of(out))


def test_tls_cipher_and_group_flags(t):
    """--tls-ciphers, --tls-ciphersuites and --tls-groups change what is
    offered; the TLS 1.3 list is refused, with a reason, by libtls."""
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=1, wait_sni="a.test", extra=[
        "--tls-ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "--tls-groups", "P-384:P-256"])
    libtls = d.status()["tls"] == "libtls"
    base = ["-servername", "a.test", "-CAfile", w.ca.cert]
    rc, out = openssl_client(t, d.listen_port, base + [
        "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])
    check(rc != 0 and _cipher_of(out) is None, "--tls-ciphers AES256 only: "
          "an AES128 client got %s" % _cipher_of(out))
    rc, out = openssl_client(t, d.listen_port, base + [
        "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384"])
    check(_cipher_of(out) == "ECDHE-ECDSA-AES256-GCM-SHA384",
          "--tls-ciphers: got %s" % _cipher_of(out))
    rc, out = openssl_client(t, d.listen_port, base + ["-groups", "X25519"])
    check(rc != 0 and _cipher_of(out) is None, "--tls-groups P-384:P-256: "
          "an X25519-only client got a handshake")
    rc, out = openssl_client(t, d.listen_port, base + ["-groups",
                                                        "X25519:P-256"])
    check(rc == 0 and re.search(r"(Server|Peer) Temp Key: ECDH, "
                                r"(P-256|prime256v1)", out),
          "--tls-groups: an X25519:P-256 client: rc %d: %s" % (
              rc, out[-400:]))
    d.stop()
    ts = ["--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]
    r = t.run(d.argv(checkonly=True) + ts, timeout=10)
    out = (r.stdout + r.stderr).decode() if isinstance(r.stdout, bytes) \
        else r.stdout + r.stderr
    if libtls:
        check(r.returncode == 1 and "not supported by libtls" in out,
              "libtls: -n --tls-ciphersuites: exit %d, %r" % (
                  r.returncode, out[-300:]))
        return
    d2 = t.daemon(workers=1, cert_dir=w.certdir, extra_args=ts).start()
    wait_until(lambda: openssl_client(t, d2.listen_port, base)[0] == 0, 5)
    rc, out = openssl_client(t, d2.listen_port, base + [
        "-tls1_3", "-ciphersuites",
        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"])
    check(rc == 0 and _cipher_of(out) == "TLS_CHACHA20_POLY1305_SHA256",
          "--tls-ciphersuites: rc %d, cipher %s" % (rc, _cipher_of(out)))


def test_checkonly_tls_lists(t):
    d = t.daemon(workers=1)
    from test_config import _checkonly
    for extra, word in ((["--tls-ciphers", "NO-SUCH-CIPHER"],
                         "--tls-ciphers"),
                        (["--tls-groups", "X25519:NOPE"], "--tls-groups"),
                        (["--tls-ciphersuites", "TLS_NOPE"],
                         "--tls-ciphersuites")):
        r, out = _checkonly(t, d, extra)
        check(r.returncode == 1 and word in out, "-n %s: exit %d, output "
              "%r" % (" ".join(extra), r.returncode, out[-300:]))
    r, out = _checkonly(t, d, ["--tls-ciphers", "ECDHE+AESGCM",
                               "--tls-groups", "X25519"])
    check(r.returncode == 0, "-n with good TLS lists: exit %d, %r" % (
        r.returncode, out[-300:]))
    d.start()
    library = d.status()["tls"]
    d.stop()
    if library == "libtls":
        return      # libtls cannot list a cipher string's ciphers
    # HTTP/2 over TLS 1.2 takes AEAD ciphers with ECDHE or DHE alone
    # (RFC 9113 9.2.2); without h2 a CBC cipher is the operator's call
    cbc = ["--tls-ciphers", "ECDHE-ECDSA-AES128-SHA:ECDHE+AESGCM"]
    r, out = _checkonly(t, d, cbc)
    check(r.returncode == 1 and "ECDHE-ECDSA-AES128-SHA is not allowed "
          "with HTTP/2" in out, "-n with a CBC cipher and h2: exit %d, "
          "%r" % (r.returncode, out[-300:]))
    r, out = _checkonly(t, d, cbc + ["--no-h2"])
    check(r.returncode == 0, "-n with a CBC cipher and --no-h2: exit %d, "
          "%r" % (r.returncode, out[-300:]))


def _ocsp_response(t, ca, cert, out):
    """An OCSP response from the test CA for cert, as a responder would
    make it, into out."""
    from backends import _openssl
    req = out + ".req"
    _openssl(t, ["ocsp", "-issuer", ca.cert, "-cert", cert, "-no_nonce",
                 "-reqout", req])
    _openssl(t, ["ocsp", "-index", os.path.join(ca.dir, "index.txt"),
                 "-rsigner", ca.cert, "-rkey", ca.key, "-CA", ca.cert,
                 "-reqin", req, "-respout", out, "-ndays", "1"])
    with open(out, "rb") as f:
        return f.read()


def _stapled(t, w, sni):
    rc, out = openssl_client(t, w.d.listen_port, [
        "-servername", sni, "-CAfile", w.ca.cert, "-status"])
    check(rc == 0, "s_client -status %s: rc %d: %s" % (sni, rc, out[-400:]))
    if "OCSP response: no response sent" in out:
        return None
    m = re.search(r"Cert Status: (\w+)", out)
    check(m and "OCSP Response Status: successful" in out,
          "SNI %s: a staple that does not read: %s" % (sni, out[-800:]))
    return m.group(1)


def test_ocsp_stapling(t):
    """A folder's ocsp.der is stapled when it answers good for its
    certificate and is signed by its issuer; a response for another
    certificate, one without the issuer to check it, or one that says
    revoked is logged and not stapled, and the certificate serves on."""
    from backends import _openssl
    w = World(t)
    with open(w.ca.cert, "rb") as f:
        capem = f.read()
    for dom in ("a.test", "b.test", "c.test", "d.test"):
        w.folder(dom)
        w.backend(dom)
        path = os.path.join(w.certdir, dom)
        if dom != "b.test":     # b.test: the leaf alone, no issuer
            with open(w.certs[dom], "rb") as f:
                write_atomic(os.path.join(path, "cert.pem"),
                             f.read() + capem)
    resp = {d: _ocsp_response(t, w.ca, w.certs[d],
                              os.path.join(t.tmp, d + ".ocsp"))
            for d in ("a.test", "b.test", "d.test")}
    write_atomic(os.path.join(w.certdir, "a.test", "ocsp.der"),
                 resp["a.test"])
    write_atomic(os.path.join(w.certdir, "b.test", "ocsp.der"),
                 resp["b.test"])
    write_atomic(os.path.join(w.certdir, "c.test", "ocsp.der"),
                 resp["a.test"])                 # another certificate's
    fix_cert_perms(w.certdir)
    w.start(workers=2, wait_sni="a.test")
    for dom in ("b.test", "c.test", "d.test"):
        wait_served(w, dom, dom)
    for _ in range(4):          # both workers
        check(_stapled(t, w, "a.test") == "good", "a.test: no good staple")
    for dom in ("b.test", "c.test", "d.test"):
        check(_stapled(t, w, dom) is None, "%s: stapled a response that "
              "should have been refused" % dom)
    certs = certs_by_domain(w.d)
    check(certs["a.test"].get("ocsp_until") and
          certs["a.test"].get("ocsp_error") is None,
          "show certs a.test: %r" % certs["a.test"])
    for dom, word in (("b.test", "issuer"), ("c.test", "does not answer")):
        st = certs[dom]
        check(st["state"] == "ok" and st.get("ocsp_until") is None and
              word in (st.get("ocsp_error") or ""),
              "show certs %s: %r, expected state ok, no staple and an "
              "OCSP error with %r" % (dom, st, word))
    # a response that appears later is taken at the next reload
    write_atomic(os.path.join(w.certdir, "d.test", "ocsp.der"),
                 resp["d.test"])
    fix_cert_perms(w.certdir)
    w.d.ctl("reload")
    check(wait_until(lambda: _stapled(t, w, "d.test") == "good", 5),
          "d.test: ocsp.der added, never stapled")
    # revoked: the new response is refused and the old staple goes too
    _openssl(t, ["ca", "-config", os.path.join(w.ca.dir, "ca.cnf"),
                 "-revoke", w.certs["d.test"]])
    write_atomic(os.path.join(w.certdir, "d.test", "ocsp.der"),
                 _ocsp_response(t, w.ca, w.certs["d.test"],
                                os.path.join(t.tmp, "d2.ocsp")))
    fix_cert_perms(w.certdir)
    w.d.ctl("reload")
    check(wait_until(lambda: _stapled(t, w, "d.test") is None, 5),
          "d.test: a revoked response replaced a good one and is "
          "still stapled (or the old one is)")
    st = certs_by_domain(w.d)["d.test"]
    check("revoked" in (st.get("ocsp_error") or "") and
          st["state"] == "ok", "show certs d.test: %r" % st)
    r = https(w, "d.test", "d.test", "/after-revoked-staple")
    check(r.status == 200, "d.test after its staple was refused: %d"
          % r.status)
    # removed: no staple, and no error
    os.unlink(os.path.join(w.certdir, "a.test", "ocsp.der"))
    w.d.ctl("reload")
    check(wait_until(lambda: _stapled(t, w, "a.test") is None, 5),
          "a.test: ocsp.der removed, still stapled")


def _skip_libtls(d):
    if d.status()["tls"] == "libtls":
        raise Skip("built with libtls: libretls resumes no session "
                   "(portero(8), CAVEATS)")


def _reused(out):
    return re.search(r"^Reused,", out, re.M) is not None


def test_session_resumption_across_workers(t):
    """A TLS 1.2 and a TLS 1.3 session, each made with one worker,
    resume with -sess_in, and on the other worker too: show workers
    counts the full handshake on one and a resumption on the other."""
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=2, wait_sni="a.test")
    _skip_libtls(d)
    p = d.listen_port
    req = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    for flag in ("-tls1_2", "-tls1_3"):
        sess = os.path.join(t.tmp, "sess%s.pem" % flag)
        args = ["-servername", "a.test", flag, "-CAfile", w.ca.cert,
                "-ign_eof"]
        before = _workers(d)
        rc, out = openssl_client(t, p, args + ["-sess_out", sess],
                                 stdin=req)
        check(rc == 0 and os.path.exists(sess), "%s first connection: rc "
              "%d, no session saved: %s" % (flag, rc, out[-300:]))
        after = _workers(d)
        made = [i for i in after if after[i]["handshakes"] ==
                before[i]["handshakes"] + 1]
        check(len(made) == 1, "%s: no worker counted the full handshake: "
              "%r then %r" % (flag, before, after))
        other = 1 - made[0]
        crossed = False
        for i in range(40):
            was = _workers(d)[other]["resumed"]
            rc, out = openssl_client(t, p, args + ["-sess_in", sess],
                                     stdin=req)
            check(rc == 0 and _reused(out), "%s: resumption %d: not "
                  "reused: %s" % (flag, i, out[-300:]))
            if _workers(d)[other]["resumed"] == was + 1:
                crossed = True
                break
        check(crossed, "%s: 40 resumptions of a session made on worker %d"
              ", none on worker %d" % (flag, made[0], other))


def test_resumed_session_gets_a_new_ticket(t):
    """A resumed handshake brings a new ticket, which resumes in turn: a
    TLS 1.3 client uses each ticket once, so without a new one every
    other handshake would be full."""
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=1, wait_sni="a.test")
    _skip_libtls(d)
    req = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    # (TLS 1.2 tickets may be used again; s_client saves no renewed one)
    for flag in ("-tls1_3",):
        args = ["-servername", "a.test", flag, "-CAfile", w.ca.cert,
                "-ign_eof"]
        prev = None
        for i in range(4):
            sess = os.path.join(t.tmp, "chain%s-%d.pem" % (flag, i))
            rc, out = openssl_client(t, d.listen_port, args + (
                ["-sess_in", prev] if prev else []) + ["-sess_out", sess],
                stdin=req)
            check(rc == 0 and os.path.exists(sess), "%s step %d: rc %d, "
                  "no new session saved (no ticket came): %s" % (
                      flag, i, rc, out[-300:]))
            check(i == 0 or _reused(out), "%s step %d: the ticket from the "
                  "step before did not resume: %s" % (flag, i, out[-300:]))
            prev = sess


def _ticket_rev(out):
    """The key revision of the last ticket s_client printed: portero
    names a key "ptk1" and its revision, big-endian."""
    dumps = re.findall(r"TLS session ticket:\s*\n\s*0000 - "
                       r"((?:[0-9a-f]{2}[ -]){8})", out)
    if not dumps:
        return None
    b = bytes(int(x, 16) for x in re.findall(r"[0-9a-f]{2}", dumps[-1]))
    return int.from_bytes(b[4:8], "big") if b[:4] == b"ptk1" else None


def test_ticket_key_rotation(t):
    """--tls-ticket-rotate 2: tickets advertise 4 s; a ticket whose key
    is no longer the newest but the one before still resumes; two keys
    on it does not."""
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=2, extra=["--tls-ticket-rotate", "2"],
                wait_sni="a.test")
    _skip_libtls(d)
    p = d.listen_port
    req = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    sess = os.path.join(t.tmp, "sess.pem")
    args = ["-servername", "a.test", "-tls1_3", "-CAfile", w.ca.cert,
            "-ign_eof"]

    def new_session(path):
        rc, out = openssl_client(t, p, args + ["-sess_out", path],
                                 stdin=req)
        rev = _ticket_rev(out)
        check(rc == 0 and rev is not None, "no portero ticket in: %s" %
              out[-600:])
        check(re.search(r"lifetime hint: 4 \(seconds\)", out),
              "the ticket does not advertise 4 s: %s" % out[-600:])
        return rev
    # a session made just after a rotation, so that the times below
    # fall between rotations
    first = new_session(sess)
    deadline = time.monotonic() + 5
    while True:
        rev = new_session(sess)
        if rev != first:
            break
        check(time.monotonic() < deadline, "the ticket key did not change "
              "in 5 s with --tls-ticket-rotate 2")
        time.sleep(0.1)
    made = time.monotonic()
    time.sleep(max(0, made + 2.6 - time.monotonic()))
    newest = new_session(os.path.join(t.tmp, "probe.pem"))
    check(newest == rev + 1, "2.6 s after key %d, tickets use key %d" % (
        rev, newest))
    rc, out = openssl_client(t, p, args + ["-sess_in", sess], stdin=req)
    check(rc == 0 and _reused(out), "a ticket of the previous key (%d, "
          "newest %d) was not resumed: %s" % (rev, newest, out[-300:]))
    time.sleep(max(0, made + 4.6 - time.monotonic()))
    rc, out = openssl_client(t, p, args + ["-sess_in", sess], stdin=req)
    check(rc == 0 and not _reused(out), "a ticket two keys old was "
          "resumed")


def test_idle_connection_buffers_given_back(t):
    """A keep-alive TLS connection idle across two buffer sweeps (its
    record buffers given back) and one fresh from its handshake both
    carry requests and large answers as before."""
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=1, wait_sni="a.test")
    s = w.connect("a.test")
    f = s.makefile("rb")
    try:
        for i, (pause, size) in enumerate(((0, 100), (2.5, 20000),
                                           (2.5, 100))):
            time.sleep(pause)
            s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: a.test\r\n\r\n"
                      % size)
            r = read_response(f)
            check(r.status == 200 and len(r.body) >= size,
                  "request %d after %.1f s idle: status %d, %d bytes" % (
                      i, pause, r.status, len(r.body)))
    finally:
        f.close()
        s.close()


# ---------------------------------------------------------------------
# hostile clients

def test_bad_tls_clients_do_not_hurt_worker(t):
    w = World(t)
    w.folder("a.test")
    w.backend("a.test")
    d = w.start(workers=1, extra=["--handshake-timeout", "2"],
                wait_sni="a.test")
    p = d.listen_port
    wpid = d.child_pid("worker", 0)

    def unhurt(what):
        time.sleep(0.2)
        st = d.child_map()[("worker", 0)]
        check(st["restarts"] == 0 and st["pid"] == wpid, "worker 0 died "
              "after %s (restarts %d; log: %s)" % (
                  what, st["restarts"],
                  [l for l in d.log().splitlines() if "signal" in l or
                   "exited" in l][-2:]))
        r = https(w, "a.test", "a.test", "/fine")
        check(r.status == 200, "after %s: status %d" % (what, r.status))

    s = t.connect(p)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    wait_closed(s, 3)
    s.close()
    unhurt("plain HTTP sent to the TLS port")

    s = t.connect(p)
    s.sendall(os.urandom(3000))
    wait_closed(s, 3)
    s.close()
    unhurt("3000 random bytes instead of a ClientHello")

    hello = client_hello()
    for cut in (5, 40, 100):
        raw = socket.create_connection(("127.0.0.1", p), timeout=3)
        raw.sendall(hello[:cut])
        raw.close()
    unhurt("ClientHellos cut after 5, 40, 100 bytes, then disconnect")

    s = w.connect("a.test")
    s.sendall(b"\x00\x01\x02garbage\r\n\r\n")
    got = wait_closed(s, 3)
    s.close()
    m = re.match(rb"HTTP/1\.1 (\d{3})", got)
    check(got == b"" or (m and m.group(1) == b"400"), "garbage after the "
          "handshake got %r" % got[:100])
    unhurt("garbage after a full handshake")

    s = w.connect("a.test")
    s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
    s.close()                   # Python sends no close_notify here
    unhurt("half a request, then gone without close_notify")

    raw = t.connect(p, timeout=5)
    raw.sendall(hello[:50])
    t0 = time.monotonic()
    wait_closed(raw, 4)
    took = time.monotonic() - t0
    raw.close()
    check(took <= 3.5, "half a ClientHello, then silence: closed after "
          "%.1f s, --handshake-timeout 2" % took)
    unhurt("half a ClientHello, then silence until --handshake-timeout 2")

    s = t.connect(p, timeout=5)
    t0 = time.monotonic()
    wait_closed(s, 4)
    took = time.monotonic() - t0
    s.close()
    check(took <= 3.5, "a silent client was closed after %.1f s, "
          "--handshake-timeout 2" % took)
    unhurt("a client that sends nothing until --handshake-timeout 2")
