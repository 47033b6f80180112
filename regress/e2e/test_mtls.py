"""
Client certificates (mTLS), per server, from portero.conf(5): "client
ca FILE verify required" fails the handshake without a certificate the
bundle verifies; "verify optional" lets it through without one; the
verified subject and fingerprint reach the backend in the fields the
file names, and the client's own fields of those names never do;
servers without a client ca are as before.  A session made under one
policy does not resume under another (TLS 1.2 and 1.3); a request whose
Host names a server with another policy than the handshake's gets 421
(HTTP/1.1 and HTTP/2); a reload that changes a CA file takes effect for
new handshakes, and a bad one is refused with its FILE:LINE.  Client
certificates come from throw-away CAs made with openssl.
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
import shutil
import socket
import ssl

import h2raw
from backends import (EchoBackend, TestCA, cert_fingerprint, cert_folder,
                      header_map, make_cert_dir, read_response)
from harness import PORTERO, Skip, check, wait_until

NAMES = ["plain.test", "req.test", "req2.test", "opt.test", "a.wild.test",
         "def.test", "zzz.test"]
SUBJECT_FIELD = "X-Client-Subject"
FP_FIELD = "X-Client-Fingerprint"

CONF = """
pool "app" { backend 127.0.0.1 port %(port)d }
server "plain.test" { forward to "app" }
server "req.test" {
	client ca "%(ca)s" verify required
	client certificate header subject "%(subj)s" fingerprint "%(fp)s"
	forward to "app"
}
server "req2.test" {
	client ca "%(ca)s"
	client certificate header fingerprint "%(fp)s"
	forward to "app"
}
server "opt.test" {
	client ca "%(ca)s" verify optional
	client certificate header subject "%(subj)s" fingerprint "%(fp)s"
	forward to "app"
}
"""


# ---------------------------------------------------------------------
# helpers

def openssl_subject(t, cert):
    """The subject as openssl prints it in RFC 2253."""
    r = t.run(["openssl", "x509", "-in", cert, "-noout", "-subject",
               "-nameopt", "RFC2253"])
    check(r.returncode == 0, "openssl x509: %s" % r.stderr)
    return r.stdout.strip().split("=", 1)[1]


class Conn:
    """What a closed connection leaves to resume with."""

    def __init__(self, session, session_reused):
        self.session = session
        self.session_reused = session_reused


class World:
    """A server CA with one certificate for every name, a client CA and
    a rogue one with a client certificate each, the client CA file the
    configuration names, one echo backend, the daemon."""

    def __init__(self, t):
        self.t = t
        self.ca = TestCA(t)
        self.clients = TestCA(t, "portero client CA")
        self.rogue = TestCA(t, "portero rogue CA")
        self.certdir = make_cert_dir(t)
        # one certificate covers every name: a 421 is mTLS's, never the
        # certificate's
        cert_folder(t, self.ca, self.certdir, NAMES[0], names=NAMES)
        self.good = self.clients.issue(
            "alice", names=[], eku="clientAuth",
            subject="/O=Example, Inc./OU=R&D/CN=alice")
        self.bad = self.rogue.issue("mallory", names=[], eku="clientAuth",
                                    subject="/CN=mallory")
        self.ca_file = os.path.join(t.tmp, "clients.pem")
        shutil.copy(self.clients.cert, self.ca_file)
        os.chmod(self.ca_file, 0o644)
        self.be = EchoBackend(t, "app")
        self.conf = os.path.join(t.tmp, "portero.conf")
        self.write_conf()
        self.ctxs = {}
        self.d = None

    def write_conf(self, template=CONF):
        with open(self.conf, "w") as f:
            f.write(template % {"port": self.be.port, "ca": self.ca_file,
                                "subj": SUBJECT_FIELD, "fp": FP_FIELD})

    def start(self, workers=1):
        self.d = self.t.daemon(workers=workers, cert_dir=self.certdir,
                               extra_args=["-f", self.conf]).start()
        check(wait_until(lambda: self.answer("plain.test") is not None,
                         10, 0.05), "TLS never came up")
        return self.d

    def ctx(self, cert=None, ver=None, alpn=None):
        """One client context per (certificate, version, ALPN): sessions
        resume only through the context that made them."""
        key = (cert, ver, alpn)
        if key not in self.ctxs:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            c.load_verify_locations(self.ca.cert)
            c.check_hostname = False
            if ver is not None:
                c.minimum_version = c.maximum_version = ver
            if cert is not None:
                c.load_cert_chain(*cert)
            if alpn:
                c.set_alpn_protocols(list(alpn))
            self.ctxs[key] = c
        return self.ctxs[key]

    def connect(self, sni, cert=None, ver=None, session=None, alpn=None):
        raw = socket.create_connection(("127.0.0.1", self.d.listen_port),
                                       timeout=5)
        try:
            return self.ctx(cert, ver, alpn).wrap_socket(
                raw, server_hostname=sni, session=session)
        except BaseException:
            raw.close()
            raise

    def answer(self, sni, host=None, cert=None, ver=None, session=None,
               fields=()):
        """(response, Conn) of one request on a new connection, or None
        when the handshake or the connection failed: with TLS 1.3 a
        refused certificate is an alert the client reads after its own
        handshake is done."""
        try:
            s = self.connect(sni, cert, ver, session)
        except (OSError, ssl.SSLError):
            return None
        try:
            raw = "GET / HTTP/1.1\r\nHost: %s\r\n" % (host or sni)
            raw += "".join("%s: %s\r\n" % kv for kv in fields)
            s.sendall((raw + "Connection: close\r\n\r\n").encode())
            f = s.makefile("rb")
            try:
                r = read_response(f)
            finally:
                f.close()
            # the session, with a TLS 1.3 ticket read by now
            return r, Conn(s.session, s.session_reused)
        except (OSError, ssl.SSLError, ValueError):
            return None
        finally:
            s.close()

    def ok(self, what, *args, **kw):
        a = self.answer(*args, **kw)
        check(a is not None, "%s: no answer" % what)
        r, s = a
        check(r.status == 200, "%s: status %d, expected 200 (%r)"
              % (what, r.status, r.body[:200]))
        return header_map(r.json()), s

    def refused(self, what, *args, **kw):
        a = self.answer(*args, **kw)
        check(a is None, "%s: answered %s, expected a failed handshake"
              % (what, a and a[0].status))

    def status(self, what, want, *args, **kw):
        a = self.answer(*args, **kw)
        check(a is not None and a[0].status == want, "%s: %s, expected %d"
              % (what, a and a[0].status, want))


def skip_without_openssl_build(t, w):
    r = t.run([PORTERO, "-n", "--no-register", "-f", w.conf])
    if "built with libtls" in r.stderr:
        raise Skip("portero is built with libtls: client certificates "
                   "are refused (test_libtls_refuses_client_ca)")


def world(t, workers=1):
    w = World(t)
    skip_without_openssl_build(t, w)
    w.start(workers)
    return w


VERSIONS = ((ssl.TLSVersion.TLSv1_2, "TLS 1.2"),
            (ssl.TLSVersion.TLSv1_3, "TLS 1.3"))


# ---------------------------------------------------------------------
# required, optional, absent

def test_required(t):
    """No certificate or one of another CA: no handshake, and a log line
    says why; a good one: 200, and the backend sees the subject and
    fingerprint openssl gives, never the client's forged ones."""
    w = world(t)
    subject = openssl_subject(t, w.good[0])
    fp = cert_fingerprint(t, w.good[0])
    for ver, name in VERSIONS:
        w.refused("%s, no certificate" % name, "req.test", ver=ver)
        w.refused("%s, a rogue CA's certificate" % name, "req.test",
                  cert=w.bad, ver=ver)
        h, _ = w.ok("%s, a good certificate" % name, "req.test",
                    cert=w.good, ver=ver,
                    fields=((SUBJECT_FIELD, "CN=forged"),
                            (FP_FIELD.lower(), "00" * 32)))
        check(h.get(SUBJECT_FIELD.lower()) == [subject],
              "%s: subject %r, expected [%r]" % (
                  name, h.get(SUBJECT_FIELD.lower()), subject))
        check(h.get(FP_FIELD.lower()) == [fp], "%s: fingerprint %r, "
              "expected [%r]" % (name, h.get(FP_FIELD.lower()), fp))
    check(wait_until(lambda: re.search(
        r"client certificate asked for: .*(certificate|peer did not)",
        w.d.log()), 3, 0.05),
        "no log line for a refused client certificate:\n%s"
        % w.d.log_tail())
    # a server with only a fingerprint field sends no subject
    h, _ = w.ok("req2.test", "req2.test", cert=w.good,
                fields=((SUBJECT_FIELD, "CN=passes"),))
    check(h.get(FP_FIELD.lower()) == [fp] and
          h.get(SUBJECT_FIELD.lower()) == ["CN=passes"],
          "req2.test names the fingerprint field alone: %r" % h)


def test_optional(t):
    """No certificate: 200 without the fields, the client's own stripped;
    a good one: both fields; a rogue CA's: taken as none, not refused."""
    w = world(t)
    fp = cert_fingerprint(t, w.good[0])
    forged = ((SUBJECT_FIELD, "CN=admin"), (FP_FIELD, "ab" * 32),
              (SUBJECT_FIELD.upper(), "CN=root"))
    for ver, name in VERSIONS:
        for what, cert in (("no certificate", None),
                           ("a rogue CA's certificate", w.bad)):
            h, _ = w.ok("%s, %s" % (name, what), "opt.test", cert=cert,
                        ver=ver, fields=forged)
            check(SUBJECT_FIELD.lower() not in h and
                  FP_FIELD.lower() not in h,
                  "%s, %s: the backend saw %r" % (name, what, h))
        h, _ = w.ok("%s, a good certificate" % name, "opt.test",
                    cert=w.good, ver=ver, fields=forged)
        check(h.get(SUBJECT_FIELD.lower()) ==
              [openssl_subject(t, w.good[0])] and
              h.get(FP_FIELD.lower()) == [fp],
              "%s, a good certificate: %r" % (name, h))


def test_absent(t):
    """A server without a client ca asks for nothing and leaves the
    client's fields as they came, as before."""
    w = world(t)
    for ver, name in VERSIONS:
        h, s = w.ok(name, "plain.test", ver=ver,
                    fields=((SUBJECT_FIELD, "CN=whoever"),))
        check(h.get(SUBJECT_FIELD.lower()) == ["CN=whoever"],
              "%s: plain.test changed the client's field: %r" % (name, h))
        h, _ = w.ok(name + " with a certificate to offer", "plain.test",
                    cert=w.good, ver=ver)
        check(FP_FIELD.lower() not in h, "%s: a certificate nobody asked "
              "for reached the backend: %r" % (name, h))


def test_subject_escaped(t):
    """A subject with a comma, a quote, a CR and bytes past ASCII comes
    out as one RFC 2253 line, escaped, on one field."""
    w = World(t)
    skip_without_openssl_build(t, w)
    odd = w.clients.issue("odd", names=[], eku="clientAuth",
                          subject="/O=A, \"B\"\r\n X-Evil: 1/CN=Zo\u00eb")
    w.start()
    h, _ = w.ok("an odd subject", "req.test", cert=odd)
    got = h.get(SUBJECT_FIELD.lower())
    check(got is not None and len(got) == 1 and "x-evil" not in h,
          "the subject spilled over: %r" % h)
    check(re.fullmatch(r"[\x20-\x7e]+", got[0]) and "\\," in got[0] and
          "Zo\\C3\\AB" in got[0],
          "subject not escaped as RFC 2253: %r" % got[0])


# ---------------------------------------------------------------------
# resumption and 421

def test_resumption_across_policies(t):
    """A session resumes under its own policy (the certificate comes back
    with it) and never under another: one made where nothing was asked,
    or where a certificate was optional and none came, offered to a
    required server, makes a full handshake that demands one."""
    w = world(t)
    fp = cert_fingerprint(t, w.good[0])
    for ver, name in VERSIONS:
        # the same policy resumes, certificate and all
        h, s = w.ok(name + " first", "req.test", cert=w.good, ver=ver)
        sess = s.session
        h, s = w.ok(name + " again", "req.test", cert=w.good, ver=ver,
                    session=sess)
        check(s.session_reused, "%s: a session did not resume under its "
              "own policy: the test below proves nothing" % name)
        check(h.get(FP_FIELD.lower()) == [fp], "%s: a resumed session "
              "lost its certificate: %r" % (name, h))
        for src in ("plain.test", "opt.test"):
            # no certificate to offer: refused, session or not
            _, s = w.ok(name + " " + src, src, ver=ver)
            w.refused("%s: a %s session at req.test" % (name, src),
                      "req.test", ver=ver, session=s.session)
            # a certificate to offer: a full handshake that asks for it
            _, s = w.ok(name + " " + src, src, cert=w.good, ver=ver)
            h, s2 = w.ok("%s: a %s session at req.test, with a "
                         "certificate" % (name, src), "req.test",
                         cert=w.good, ver=ver, session=s.session)
            check(not s2.session_reused, "%s: a %s session resumed at "
                  "req.test" % (name, src))
            check(h.get(FP_FIELD.lower()) == [fp], "%s: %r" % (name, h))


def test_misdirected(t):
    """A connection made for one policy carries no request for a server
    of another: 421, whatever the certificate covers."""
    w = world(t)
    w.status("SNI plain.test, Host req.test", 421, "plain.test",
             host="req.test")
    w.status("SNI plain.test, Host opt.test", 421, "plain.test",
             host="opt.test")
    w.status("SNI opt.test with no certificate, Host req.test", 421,
             "opt.test", host="req.test")
    w.status("SNI opt.test with a certificate, Host req.test", 421,
             "opt.test", host="req.test", cert=w.good)
    w.status("SNI req.test, Host opt.test", 421, "req.test",
             host="opt.test", cert=w.good)
    w.status("no SNI, Host req.test", 421, None, host="req.test")
    # the same policy, or none asked for, is served
    h, _ = w.ok("SNI req.test, Host req2.test", "req.test",
                host="req2.test", cert=w.good)
    check(FP_FIELD.lower() in h, "req2.test: %r" % h)
    w.ok("SNI req.test, Host plain.test", "req.test", host="plain.test",
         cert=w.good)
    check(re.search(r"421: server req\.test asks for client certificates",
                    w.d.log()), "no log line for the 421")


DEFAULT_CONF = """
pool "app" { backend 127.0.0.1 port %(port)d }
server "plain.test" { forward to "app" }
server "req.test" {
	alias "*.wild.test"
	client ca "%(ca)s"
	client certificate header fingerprint "%(fp)s"
	forward to "app"
}
server "def.test" {
	default
	client ca "%(ca)s" verify optional
	client certificate header fingerprint "%(fp)s"
	forward to "app"
}
"""


def test_policy_by_name_as_routing(t):
    """The handshake's policy is the server its name finds as a Host
    would: an alias, a wildcard, the default server for a name no server
    has and for no name at all."""
    w = World(t)
    skip_without_openssl_build(t, w)
    w.write_conf(DEFAULT_CONF)
    w.start()
    fp = cert_fingerprint(t, w.good[0])
    w.refused("a wildcard alias of a required server", "a.wild.test")
    h, _ = w.ok("a wildcard alias, a certificate", "a.wild.test",
                cert=w.good)
    check(h.get(FP_FIELD.lower()) == [fp], "a.wild.test: %r" % h)
    for sni, host in (("zzz.test", "zzz.test"), (None, "zzz.test"),
                      (None, "def.test")):
        h, _ = w.ok("SNI %s, Host %s (the default, optional)" % (sni, host),
                    sni, host=host, cert=w.good)
        check(h.get(FP_FIELD.lower()) == [fp], "%s: %r" % (host, h))
        h, _ = w.ok("SNI %s, Host %s, no certificate" % (sni, host), sni,
                    host=host)
        check(FP_FIELD.lower() not in h, "%s: %r" % (host, h))
    w.status("no SNI (the default's policy), Host a.wild.test", 421, None,
             host="a.wild.test", cert=w.good)
    w.ok("SNI plain.test, Host plain.test", "plain.test")


def test_http2(t):
    """HTTP/2 the same: the fields on a good connection, the client's
    stripped; 421 on a stream whose :authority has another policy."""
    w = world(t)
    fp = cert_fingerprint(t, w.good[0])
    s = w.connect("req.test", cert=w.good, alpn=("h2",))
    check(s.selected_alpn_protocol() == "h2", "no h2: %r"
          % s.selected_alpn_protocol())
    c = h2raw.H2(s)
    t.defer(c.close)
    st = c.get("/", authority="req.test",
               headers=[(FP_FIELD.lower(), "ab" * 32)])
    check(st.status == 200, "h2 req.test: %r" % st)
    h = header_map(json.loads(bytes(st.data)))
    check(h.get(FP_FIELD.lower()) == [fp], "h2: %r" % h)
    st = c.get("/", authority="opt.test")
    check(st.status == 421, "h2 :authority opt.test on a req.test "
          "connection: %r" % st)
    s = w.connect("plain.test", alpn=("h2",))
    c = h2raw.H2(s)
    t.defer(c.close)
    st = c.get("/", authority="req.test")
    check(st.status == 421, "h2 :authority req.test on a plain.test "
          "connection: %r" % st)
    st = c.get("/", authority="plain.test")
    check(st.status == 200, "the connection goes on: %r" % st)


# ---------------------------------------------------------------------
# the file: reload, -n

def test_reload_changes_the_ca(t):
    """The CA file rewritten and reloaded: new handshakes take the new
    bundle (the old CA's certificate is refused, the new one's passes),
    on every worker; a file that does not parse is refused with its line
    and the bundle in service stays."""
    w = world(t, workers=2)
    w.ok("before", "req.test", cert=w.good)
    shutil.copy(w.rogue.cert, w.ca_file)
    w.d.ctl("reload")

    def switched():
        return all(w.answer("req.test", cert=w.good) is None and
                   w.answer("req.test", cert=w.bad) is not None
                   for _ in range(4))
    check(wait_until(switched, 5, 0.1), "the new CA is not in service")
    with open(w.ca_file, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                "-----END CERTIFICATE-----\n")
    r = w.d.ctl("reload", check_rc=False)
    out = r.stdout + r.stderr
    check(r.returncode != 0 and re.search(
        r"portero\.conf:5: client CA .*clients\.pem: bad certificate",
        out), "a bad CA file: reload %d, %r" % (r.returncode, out))
    for _ in range(4):
        w.ok("after the refused reload", "req.test", cert=w.bad)


BAD = [
    ('client ca "%(missing)s"', r"client CA %(missing)s: No such file"),
    ('client ca "%(garbage)s"', r"client CA %(garbage)s: bad certificate"),
    ('client ca "%(empty)s"', r"client CA %(empty)s: no certificate in it"),
    ('client ca "clients.pem"', r"client ca \"clients.pem\": want an "
     r"absolute path"),
    ('client ca "%(ca)s"\n\tclient ca "%(ca)s"', r"client ca: server "
     r"\"x.test\" has one"),
    ('client certificate header subject "X-S"',
     r"client certificate header without a client ca"),
    ('client ca "%(ca)s"\n\tclient certificate header subject "Host"',
     r"header \"Host\": portero sets this field itself"),
    ('client ca "%(ca)s"\n\tclient certificate header fingerprint '
     '"X-Forwarded-For"', r"\"X-Forwarded-For\": portero sets this field"),
    ('client ca "%(ca)s"\n\tclient certificate header subject "X-A" '
     'fingerprint "x-a"', r"header \"x-a\": said twice"),
    ('client ca "%(ca)s"\n\tclient certificate header subject "Bad Name"',
     r"\"Bad Name\": not a field name"),
    ('client ca "%(ca)s"\n\tclient certificate header subject "X-S"\n'
     '\trequest header set "x-s" "v"', r"header \"x-s\": the client "
     r"certificate's"),
    ('client ca "%(ca)s" verify sometimes', r"syntax error"),
    ('location "/a/*" { client ca "%(ca)s" }', r"syntax error"),
]


def test_check_bad_examples(t):
    """portero -n: each bad client-certificate line with its FILE:LINE
    message; the good file passes."""
    w = World(t)
    skip_without_openssl_build(t, w)
    files = {"ca": w.ca_file,
             "missing": os.path.join(t.tmp, "no-such.pem"),
             "garbage": os.path.join(t.tmp, "garbage.pem"),
             "empty": os.path.join(t.tmp, "empty.pem")}
    with open(files["garbage"], "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n!!!!\n"
                "-----END CERTIFICATE-----\n")
    open(files["empty"], "w").close()
    r = t.run([PORTERO, "-n", "--no-register", "-f", w.conf])
    check(r.returncode == 0, "the good file: %s" % r.stderr)
    path = os.path.join(t.tmp, "bad.conf")
    for text, msg in BAD:
        text = text % files
        with open(path, "w") as f:
            f.write('pool "app" { backend 127.0.0.1 port 9 }\n'
                    'server "x.test" {\n\tforward to "app"\n\t%s\n}\n'
                    % text)
        r = t.run([PORTERO, "-n", "--no-register", "-f", path])
        line = 4 + text.count("\n")
        want = re.escape("%s:%d: " % (path, line)) + ".*" + msg % {
            k: re.escape(v) for k, v in files.items()}
        check(r.returncode == 1 and re.search(want, r.stderr),
              "-n on %r: exit %d, no %r in %r" % (text, r.returncode, want,
                                                  r.stderr))


def test_libtls_refuses_client_ca(t):
    """Built with libtls, which asks for certificates per config and not
    per name, a client ca is an error of its line, not a silent no."""
    w = World(t)
    r = t.run([PORTERO, "-n", "--no-register", "-f", w.conf])
    if "built with libtls" not in r.stderr:
        check(r.returncode == 0, "the OpenSSL build: %s" % r.stderr)
        raise Skip("built with OpenSSL")
    check(r.returncode == 1 and re.search(
        re.escape(w.conf) + r":5: client CA .*: client certificates need "
        r"portero built with OpenSSL", r.stderr), r.stderr)
