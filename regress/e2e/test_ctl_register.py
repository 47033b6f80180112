"""
porterod-ctl's side of the registration API: "token", an HS256 JWT
checked here against hmac, and "register" and "deregister" against a
stand-in API in the test (a thread on 127.0.0.1 that records each request
and answers canned bytes), so that none of this needs the daemon's API.
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

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import threading
import time

from backends import closed_port
from harness import CTL, Skip, check, fail

B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
TOKEN_LIFETIME = 300        # of the token register and deregister send


# ---------------------------------------------------------------------
# helpers

def _file(t, name, data):
    """A file in the test's directory, mode 0600 as the manual says."""
    path = os.path.join(t.tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _ctl(t, *args, timeout=20):
    return t.run([CTL] + list(args), timeout=timeout)


def _ok(r, what):
    check(r.returncode == 0, "%s: exit %d: %s" % (
        what, r.returncode, r.stderr.strip()[:300]))
    check(r.stderr == "", "%s: wrote on stderr: %r" % (what, r.stderr[:300]))


def _one_error_line(r, what):
    check(r.returncode == 1, "%s: exit %d, expected 1" % (
        what, r.returncode))
    check(r.stdout == "", "%s: printed on stdout: %r" % (
        what, r.stdout[:200]))
    check(r.stderr.endswith("\n") and r.stderr.count("\n") == 1,
          "%s: expected one line on stderr, got %r" % (
              what, r.stderr[:300]))
    check(r.stderr.startswith("porterod-ctl: "), "%s: error line %r does "
          "not start with the tool's name" % (what, r.stderr))
    return r.stderr[:-1]


def _b64d(s):
    check(B64URL.match(s), "not base64url without padding: %r" % s[:80])
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _no_dups(pairs):
    keys = [k for k, _ in pairs]
    check(len(keys) == len(set(keys)), "duplicate keys in %r" % keys)
    return dict(pairs)


def _token(tok, key, service, lifetime, iss=None, aud=None):
    """Checks a token inside out; returns its payload."""
    parts = tok.split(".")
    check(len(parts) == 3, "token has %d parts: %r" % (len(parts), tok))
    header = json.loads(_b64d(parts[0]), object_pairs_hook=_no_dups)
    payload = json.loads(_b64d(parts[1]), object_pairs_hook=_no_dups)
    check(header.get("alg") == "HS256", "token header %r" % header)
    check(payload.get("service_name") == service, "service_name in %r, "
          "expected %r" % (payload, service))
    exp = payload.get("exp")
    check(type(exp) is int, "exp is not an integer: %r" % payload)
    want = time.time() + lifetime
    check(abs(exp - want) <= 5, "exp %d, expected about now + %d (%d)" % (
        exp, lifetime, want))
    check(payload.get("iss") == iss, "iss %r, expected %r" % (
        payload.get("iss"), iss))
    check(payload.get("aud") == aud, "aud %r, expected %r" % (
        payload.get("aud"), aud))
    mac = hmac.new(key, (parts[0] + "." + parts[1]).encode(),
                   hashlib.sha256).digest()
    check(hmac.compare_digest(_b64d(parts[2]), mac),
          "signature is not HMAC-SHA256 over header.payload with the key")
    return payload


def _answer(status, body, reason="Whatever", length=True, extra=""):
    """A canned answer of the API."""
    if isinstance(body, str):
        body = body.encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s" % (
        status, reason, extra)
    if length:
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"Connection: close\r\n\r\n" + body


class Request:
    def __init__(self, line, headers, body):
        self.method, self.path, self.version = line.split(" ")
        self.headers = headers          # [(lower-case name, value)]
        self.body = body

    def header(self, name):
        vals = [v for k, v in self.headers if k == name]
        check(len(vals) == 1, "%d %s headers in the request" % (
            len(vals), name))
        return vals[0]


class FakeAPI:
    """One connection at a time: records the request, sends the answer
    (bytes), closes.  With answer None it holds the connection open
    without a word until the test ends."""

    def __init__(self, t, answer, host="127.0.0.1", family=socket.AF_INET):
        self.answer = answer
        self.requests = []
        self.errors = []
        self.stopping = False
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        port = self.sock.getsockname()[1]
        self.addr = ("[%s]:%d" if family == socket.AF_INET6 else
                     "%s:%d") % (host, port)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        t.defer(self.stop)

    def _loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    self._one(conn)
                except (BrokenPipeError, ConnectionResetError):
                    pass        # the client had enough: its business
                except Exception as e:  # noqa: reported by check()
                    self.errors.append("%s: %s" % (type(e).__name__, e))

    def _one(self, conn):
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            b = conn.recv(65536)
            if not b:
                raise ValueError("request ends in its head: %r" % data)
            data += b
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if not sep or k != k.strip():
                raise ValueError("bad header line %r" % line)
            headers.append((k.lower(), v.strip()))
        clen = [int(v) for k, v in headers if k == "content-length"]
        while clen and len(body) < clen[0]:
            b = conn.recv(65536)
            if not b:
                break
            body += b
        self.requests.append(Request(lines[0], headers, body))
        if self.answer is None:
            while not self.stopping:
                time.sleep(0.05)
            return
        conn.sendall(self.answer)

    def check(self, n):
        check(not self.errors, "stand-in API: %s" % "; ".join(self.errors))
        check(len(self.requests) == n, "stand-in API got %d requests, "
              "expected %d" % (len(self.requests), n))
        return self.requests[-1] if n else None

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


def _creds(t):
    key = os.urandom(16).hex().encode()
    secret = os.urandom(16).hex().encode()
    return (key, _file(t, "jwt.key", key + b"\n"),
            secret, _file(t, "register.secret", secret + b"\n"))


def _check_request(req, api, method, secret, key, service):
    """The request line and headers; returns the body as JSON."""
    check((req.method, req.path, req.version) ==
          (method, "/register", "HTTP/1.1"), "request line %s %s %s" % (
              req.method, req.path, req.version))
    check(req.header("host") == api.addr, "Host: %r" % req.header("host"))
    check(req.header("x-register-secret") == secret.decode(),
          "X-Register-Secret: %r" % req.header("x-register-secret"))
    auth = req.header("authorization")
    check(auth.startswith("Bearer "), "Authorization: %r" % auth)
    _token(auth[len("Bearer "):], key, service, TOKEN_LIFETIME)
    check(req.header("content-type") == "application/json",
          "Content-Type: %r" % req.header("content-type"))
    check(req.header("content-length") == str(len(req.body)),
          "Content-Length: %r for %d bytes" % (
              req.header("content-length"), len(req.body)))
    check(req.header("connection").lower() == "close",
          "Connection: %r" % req.header("connection"))
    return json.loads(req.body, object_pairs_hook=_no_dups)


def _same(got, want, what):
    """Equal, and of the same types (True is not 1)."""
    check(got == want and all(type(got[k]) is type(want[k]) for k in want),
          "%s: %r, expected %r" % (what, got, want))


# ---------------------------------------------------------------------
# token

def test_token(t):
    key = os.urandom(32).rstrip(b"\n")      # raw bytes, any of them
    kf = _file(t, "jwt.key", key)
    r = _ctl(t, "token", "-k", kf, "-s", "app.test", "-t", "120")
    _ok(r, "porterod-ctl token")
    check(r.stdout.endswith("\n") and r.stdout.count("\n") == 1,
          "token output is not one line: %r" % r.stdout)
    _token(r.stdout[:-1], key, "app.test", 120)

    r = _ctl(t, "token", "-k", kf, "-s", "app.test")
    _ok(r, "porterod-ctl token without -t")
    _token(r.stdout.strip(), key, "app.test", 300)

    r = _ctl(t, "token", "-s", "Svc.Example", "-k", kf, "-i", "deployer",
             "-u", "portero", "-t", "3600")
    _ok(r, "porterod-ctl token -i -u")
    _token(r.stdout.strip(), key, "Svc.Example", 3600, "deployer",
           "portero")

    r = _ctl(t, "-j", "token", "-k", kf, "-s", "app.test")
    _ok(r, "porterod-ctl -j token")
    _token(json.loads(r.stdout)["token"], key, "app.test", 300)


def test_token_key_newline(t):
    key = os.urandom(16).hex().encode()
    plain = _file(t, "plain.key", key)
    nl = _file(t, "nl.key", key + b"\n")
    for _ in range(5):
        a = _ctl(t, "token", "-k", plain, "-s", "app.test")
        b = _ctl(t, "token", "-k", nl, "-s", "app.test")
        _ok(a, "token, key without a newline")
        _ok(b, "token, key with a newline")
        _token(a.stdout.strip(), key, "app.test", 300)
        _token(b.stdout.strip(), key, "app.test", 300)
        if a.stdout.split(".")[1] == b.stdout.split(".")[1]:
            check(a.stdout == b.stdout, "same claims, different tokens: "
                  "%r, %r" % (a.stdout, b.stdout))
            break
    else:
        fail("never made two tokens within the same second")
    # only one newline is taken off
    two = _file(t, "two.key", key + b"\n\n")
    r = _ctl(t, "token", "-k", two, "-s", "app.test")
    _ok(r, "token, key with two newlines")
    _token(r.stdout.strip(), key + b"\n", "app.test", 300)


def test_token_bad_key(t):
    cases = (("missing", None), ("empty", b""), ("newline only", b"\n"),
             ("1025 bytes", b"k" * 1025))
    for what, data in cases:
        kf = os.path.join(t.tmp, "key-" + what.replace(" ", "-"))
        if data is not None:
            _file(t, os.path.basename(kf), data)
        r = _ctl(t, "token", "-k", kf, "-s", "app.test")
        line = _one_error_line(r, "token with a %s key file" % what)
        check(kf in line, "%s key: error line does not name the file: %r"
              % (what, line))
    kf = _file(t, "max.key", b"k" * 1024 + b"\n")
    r = _ctl(t, "token", "-k", kf, "-s", "app.test")
    _ok(r, "token with a 1024-byte key")
    _token(r.stdout.strip(), b"k" * 1024, "app.test", 300)
    for args in (("token", "-s", "app.test"), ("token", "-k", kf),
                 ("token", "-k", kf, "-s", "app.test", "-t", "0"),
                 ("token", "-k", kf, "-s", "app.test", "extra")):
        r = _ctl(t, *args)
        check(r.returncode == 1 and r.stdout == "" and r.stderr,
              "porterod-ctl %s: exit %d, stdout %r" % (
                  " ".join(args), r.returncode, r.stdout[:200]))


# ---------------------------------------------------------------------
# register and deregister

def test_register(t):
    key, kf, secret, sf = _creds(t)
    answer = ('{"service_name":"app.test","host":"::1","port":9000,'
              '"use_tls":true,"ttl_seconds":45,"expires_at":%d,'
              '"backends":1}' % (time.time() + 45))
    api = FakeAPI(t, _answer(200, answer, "OK"))
    r = _ctl(t, "register", "-k", kf, "-S", sf, "-s", "app.test",
             "-H", "::1", "-p", "9000", "-t", "45", "-T", "-a", api.addr)
    _ok(r, "porterod-ctl register")
    check(r.stdout == answer + "\n", "stdout %r, expected the answer %r"
          % (r.stdout, answer))
    body = _check_request(api.check(1), api, "POST", secret, key,
                          "app.test")
    _same(body, {"service_name": "app.test", "host": "::1", "port": 9000,
                 "ttl_seconds": 45, "use_tls": True}, "register -T body")

    # defaults: TTL 60, no TLS; -j prints the answer as it came
    r = _ctl(t, "-j", "register", "-k", kf, "-S", sf, "-s", "app.test",
             "-H", "192.0.2.7", "-p", "80", "-a", api.addr)
    _ok(r, "porterod-ctl -j register")
    check(json.loads(r.stdout) == json.loads(answer), "-j stdout %r" %
          r.stdout)
    body = _check_request(api.check(2), api, "POST", secret, key,
                          "app.test")
    _same(body, {"service_name": "app.test", "host": "192.0.2.7",
                 "port": 80, "ttl_seconds": 60, "use_tls": False},
          "register body")


def test_register_escaping(t):
    key, kf, secret, sf = _creds(t)
    api = FakeAPI(t, _answer(200, '{"ok":1}'))
    host = 'a"b\\c\td\u00e9'
    r = _ctl(t, "register", "-k", kf, "-S", sf, "-s", "app.test",
             "-H", host, "-p", "1", "-a", api.addr)
    _ok(r, "porterod-ctl register with quotes in the host")
    body = _check_request(api.check(1), api, "POST", secret, key,
                          "app.test")
    check(body["host"] == host, "host came as %r, sent %r" % (
        body["host"], host))


def test_deregister(t):
    key, kf, secret, sf = _creds(t)
    answer = ('{"service_name":"app.test","host":"::1","port":9000,'
              '"removed":true,"backends":0}\n')
    api = FakeAPI(t, _answer(200, answer, "OK"))
    r = _ctl(t, "deregister", "-k", kf, "-S", sf, "-s", "app.test",
             "-H", "::1", "-p", "9000", "-a", api.addr)
    _ok(r, "porterod-ctl deregister")
    check(r.stdout == answer, "stdout %r, expected %r" % (r.stdout, answer))
    body = _check_request(api.check(1), api, "DELETE", secret, key,
                          "app.test")
    _same(body, {"service_name": "app.test", "host": "::1", "port": 9000},
          "deregister body")


def test_register_refused(t):
    """An error answer: its status and its "error" on stderr, nothing on
    stdout, exit 1."""
    key, kf, secret, sf = _creds(t)
    args = ["-k", kf, "-S", sf, "-s", "app.test", "-H", "::1", "-p", "9000"]
    cases = (
        ("register", _answer(401, '{"error":"bad token signature"}',
                             "Unauthorized",
                             extra="WWW-Authenticate: Bearer\r\n"),
         "porterod-ctl: 401: bad token signature"),
        ("deregister", _answer(404, '{"error":"not registered"}'),
         "porterod-ctl: 404: not registered"),
        ("register", _answer(502, "no JSON here\n", "Bad Gateway"),
         "porterod-ctl: 502: no JSON here"),
        ("register", _answer(503, "", "Service Unavailable"),
         "porterod-ctl: 503: Service Unavailable"),
    )
    for cmd, answer, want in cases:
        for j in ((), ("-j",)):
            api = FakeAPI(t, answer)
            r = _ctl(t, *(j + (cmd,) + tuple(args) + ("-a", api.addr)))
            line = _one_error_line(r, "%s answered %r" % (cmd, answer[:12]))
            check(line == want, "error line %r, expected %r" % (line, want))
            api.check(1)


def test_register_connect_refused(t):
    key, kf, secret, sf = _creds(t)
    port = closed_port()
    for cmd in ("register", "deregister"):
        r = _ctl(t, cmd, "-k", kf, "-S", sf, "-s", "app.test", "-H", "::1",
                 "-p", "9000", "-a", "127.0.0.1:%d" % port)
        line = _one_error_line(r, "%s to a closed port" % cmd)
        check("cannot connect" in line and str(port) in line,
              "error line %r" % line)


def test_register_bad_files(t):
    """Nothing is sent without a key and a secret."""
    key, kf, secret, sf = _creds(t)
    api = FakeAPI(t, _answer(200, "{}"))
    empty = _file(t, "empty", b"")
    crlf = _file(t, "crlf.secret", b"abc\r\nX-Evil: 1\n")
    for what, k, s in (("missing key", kf + ".nope", sf),
                       ("empty key", empty, sf),
                       ("missing secret", kf, sf + ".nope"),
                       ("empty secret", kf, empty),
                       ("secret with CRLF", kf, crlf)):
        r = _ctl(t, "register", "-k", k, "-S", s, "-s", "app.test",
                 "-H", "::1", "-p", "9000", "-a", api.addr)
        _one_error_line(r, "register with a %s" % what)
    api.check(0)


def test_register_answer_framing(t):
    """An answer without Content-Length is read until the API closes; one
    over 1 MiB is refused."""
    key, kf, secret, sf = _creds(t)
    args = ["-k", kf, "-S", sf, "-s", "app.test", "-H", "::1", "-p", "1"]
    api = FakeAPI(t, _answer(200, '{"backends":3}', length=False))
    r = _ctl(t, "register", *args, "-a", api.addr)
    _ok(r, "register, answer until close")
    check(r.stdout == '{"backends":3}\n', "stdout %r" % r.stdout)

    big = b'{"pad":"' + b"x" * (1024 * 1024) + b'"}'
    for length in (True, False):
        api = FakeAPI(t, _answer(200, big, length=length))
        r = _ctl(t, "register", *args, "-a", api.addr)
        _one_error_line(r, "register, answer over 1 MiB")


def test_register_ipv6_api(t):
    key, kf, secret, sf = _creds(t)
    try:
        api = FakeAPI(t, _answer(200, "{}"), host="::1",
                      family=socket.AF_INET6)
    except OSError as e:
        raise Skip("no IPv6 loopback: %s" % e)
    r = _ctl(t, "register", "-k", kf, "-S", sf, "-s", "app.test",
             "-H", "::1", "-p", "9000", "-a", api.addr)
    _ok(r, "register to %s" % api.addr)
    _check_request(api.check(1), api, "POST", secret, key, "app.test")


def test_register_timeout(t):
    """An API that accepts and never answers: given up on after 10 s."""
    key, kf, secret, sf = _creds(t)
    api = FakeAPI(t, None)
    t0 = time.monotonic()
    r = _ctl(t, "register", "-k", kf, "-S", sf, "-s", "app.test",
             "-H", "::1", "-p", "9000", "-a", api.addr, timeout=30)
    took = time.monotonic() - t0
    _one_error_line(r, "register to a silent API")
    check(9 <= took <= 15, "gave up after %.1f s, expected about 10" % took)
    api.check(1)
