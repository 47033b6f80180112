"""
The registration API (issue 7), end to end: every status code for its
cause, shown with curl (200, 400 naming the field, 401 with
WWW-Authenticate for each way a secret or token can be wrong, 403 for a
token of another service, for a host outside --register-allow and for
portero's own listeners, 404, 405 with Allow, 413, 415, 429 with
Retry-After from the failure limiter, 507 at the limits) and the order
in which they are decided; GET /healthz and /services; and what a 200
promises: every worker routes the service at once (read-your-write),
round robin over registered backends (and alongside --backend ones), an
IPv6 backend, expiry after the TTL, refresh, deregistration, recovery
with the remaining TTL after a restart and after kill -9 of the whole
tree, a corrupt state file moved aside, a respawned worker that routes
registered services at once, and (under strace) each registration
written and fsync'd before its 200.  Also: --jwt-issuer, --jwt-audience,
--jwt-leeway and the previous key; secrets from the environment reach
no other process (environ, cmdline, and the memory of the workers and
the certloader); refusals are logged without secrets and not flooded;
portero refuses to start without a secret and a key.

Tokens are made here (HS256 with hmac/hashlib), not by porterod-ctl.
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
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time

import harness
from backends import EchoBackend, get, read_response
from harness import Skip, check, fail, wait_until

# a limit high enough that the status tests, which fail authentication
# on purpose many times a second, never meet the failure limiter
NO_LIMIT = ["--register-fail-limit", "100000"]


# ---------------------------------------------------------------------
# tokens

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _part(obj):
    if isinstance(obj, (bytes, str)):
        raw = obj.encode() if isinstance(obj, str) else obj
    else:
        raw = json.dumps(obj, separators=(",", ":")).encode()
    return b64u(raw)


def token(key, claims, header={"alg": "HS256", "typ": "JWT"},
          digest=hashlib.sha256, signature=None):
    """A JWT: base64url (no padding) header and claims, signed with
    HMAC(digest) under key (bytes); signature overrides the signature
    part (a string, "" for none)."""
    signing_input = _part(header) + "." + _part(claims)
    if signature is None:
        signature = b64u(hmac.new(key, signing_input.encode(),
                                  digest).digest())
    return signing_input + "." + signature


def claims(service, exp_in=300, **more):
    c = {"service_name": service, "exp": int(time.time()) + exp_in}
    c.update(more)
    return c


def good_token(d, service, **kw):
    return token(d.jwt_key, claims(service, **kw))


def _secret(d):
    return d.secret.decode("latin-1")


def auth(d, service, secret=None, tok=None):
    """The two headers of an authenticated request."""
    return [("X-Register-Secret", _secret(d) if secret is None else secret),
            ("Authorization", "Bearer " + (tok if tok is not None
                                           else good_token(d, service)))]


def reg_body(service, host="127.0.0.1", port=9000, ttl=60, use_tls=None,
             **more):
    b = {"service_name": service, "host": host, "port": port,
         "ttl_seconds": ttl}
    if use_tls is not None:
        b["use_tls"] = use_tls
    b.update(more)
    return b


# ---------------------------------------------------------------------
# clients

class Answer:
    """One response of the API: status, headers (lower-case names), body
    bytes, and the JSON body."""

    def __init__(self, status, headers, body, what):
        self.status = status
        self.headers = headers
        self.body = body
        self.what = what

    def get(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            fail("%s: status %d, body is not JSON: %r" % (
                self.what, self.status, self.body[:200]))

    def error(self):
        j = self.json()
        check(isinstance(j, dict) and isinstance(j.get("error"), str),
              "%s: status %d, body %r is not {\"error\": \"...\"}" % (
                  self.what, self.status, self.body[:200]))
        return j["error"]


def _encode_body(body):
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def curl(t, port, method, path, headers=(), body=None,
         ctype="application/json", interface=None, what=None):
    """One request with curl -s -o BODY -D HEAD -w '%{http_code}'.
    ctype None sends no Content-Type.  Returns an Answer."""
    what = what or "%s %s" % (method, path)
    out = os.path.join(t.tmp, "curl.out")
    head = os.path.join(t.tmp, "curl.head")
    for p in (out, head):
        if os.path.exists(p):
            os.unlink(p)
    argv = ["curl", "-s", "--noproxy", "*", "--max-time", "5",
            "-o", out, "-D", head, "-w", "%{http_code}", "-X", method]
    data = _encode_body(body)
    if data is not None:
        bf = os.path.join(t.tmp, "curl.body")
        with open(bf, "wb") as f:
            f.write(data)
        argv += ["--data-binary", "@" + bf]
    argv += ["-H", "Content-Type: " + ctype if ctype is not None
             else "Content-Type:"]
    names = {k.lower() for k, _ in headers}
    if "expect" not in names:
        argv += ["-H", "Expect:"]
    for k, v in headers:
        argv += ["-H", "%s: %s" % (k, v)]
    if interface:
        argv += ["--interface", interface]
    argv.append("http://127.0.0.1:%d%s" % (port, path))
    r = t.run(argv, timeout=10)
    code = r.stdout.strip()
    check(re.fullmatch(r"\d{3}", code) and code != "000",
          "%s: curl got no HTTP answer (exit %d, code %r, %s)" % (
              what, r.returncode, code, r.stderr.strip()[:200]))
    if r.returncode != 0:
        t.note("%s: curl exit %d after status %s" % (what, r.returncode,
                                                    code))
    hdrs = {}
    try:
        with open(head, "rb") as f:
            raw = f.read()
        # the last block: skip 100 Continue
        blocks = [b for b in raw.split(b"\r\n\r\n") if b.strip()]
        for line in blocks[-1].split(b"\r\n")[1:] if blocks else []:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower().decode("latin-1")] = \
                v.strip().decode("latin-1")
    except OSError:
        pass
    try:
        with open(out, "rb") as f:
            rbody = f.read()
    except OSError:
        rbody = b""
    return Answer(int(code), hdrs, rbody, what)


def api(d, method, path, body=None, headers=(), ctype="application/json",
        source=None, timeout=5.0, what=None):
    """One request on a fresh connection from Python, Connection: close.
    source: a local address to bind (e.g. 127.0.0.2)."""
    what = what or "%s %s" % (method, path)
    data = _encode_body(body)
    lines = ["%s %s HTTP/1.1" % (method, path),
             "Host: 127.0.0.1:%d" % d.register_port]
    if ctype is not None and data is not None:
        lines.append("Content-Type: " + ctype)
    lines += ["%s: %s" % kv for kv in headers]
    if data is not None:
        lines.append("Content-Length: %d" % len(data))
    lines.append("Connection: close")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (data or b"")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect(("127.0.0.1", d.register_port))
        s.sendall(raw)
        f = s.makefile("rb")
        try:
            r = read_response(f, method)
        except (EOFError, socket.timeout, OSError) as e:
            fail("%s: no complete answer from the registration API: %s"
                 % (what, e))
        finally:
            f.close()
    finally:
        s.close()
    return Answer(r.status, dict(r.headers), r.body, what)


def register(d, service, host="127.0.0.1", port=9000, ttl=60,
             use_tls=None, method="POST", expect=200, what=None, **more):
    """POST (or DELETE) /register with good credentials; checks the
    status; returns the JSON answer."""
    body = reg_body(service, host, port, ttl, use_tls, **more)
    if method == "DELETE":
        body.pop("ttl_seconds")
    what = what or "%s /register %s %s:%s" % (method, service, host, port)
    a = api(d, method, "/register", body, auth(d, service), what=what)
    check(a.status == expect, "%s: status %d, expected %d (body %r)" % (
        what, a.status, expect, a.body[:300]))
    return a.json()


def services(d):
    """{name: [backend, ...]} from GET /services."""
    a = api(d, "GET", "/services", headers=[("X-Register-Secret",
                                             _secret(d))])
    check(a.status == 200, "GET /services with the secret: status %d, "
          "expected 200 (body %r)" % (a.status, a.body[:200]))
    j = a.json()
    check(isinstance(j, dict) and isinstance(j.get("services"), list),
          "GET /services: %r is not {\"services\": [...]}" % a.body[:300])
    out = {}
    for s in j["services"]:
        out[s["name"]] = s["backends"]
    return out


def routed(d, host, be, n=1, what=None):
    """n requests with Host: host, each on a new connection: every one
    answered 200 by backend be."""
    for i in range(n):
        try:
            r = get(d.listen_port, host, "/r%d" % i)
        except (OSError, EOFError) as e:
            fail("%s: request %d with Host %s: %s" % (what or host, i, host,
                                                      e))
        check(r.status == 200, "%s: request %d with Host %s: status %d, "
              "expected 200 from backend %s (body %r)" % (
                  what or host, i, host, r.status, be.name, r.body[:200]))
        name = r.get("x-backend")
        check(name == be.name, "%s: request %d answered by %r, expected "
              "backend %r" % (what or host, i, name, be.name))


def not_routed(d, host, n=1, what=None):
    for i in range(n):
        r = get(d.listen_port, host, "/gone%d" % i)
        check(r.status == 404, "%s: request %d with Host %s: status %d, "
              "expected 404 (no backend left)" % (what or host, i, host,
                                                  r.status))


def _json_type(a):
    ct = a.get("content-type") or ""
    check(ct.split(";")[0].strip().lower() == "application/json",
          "%s: status %d with Content-Type %r, expected application/json"
          % (a.what, a.status, ct))


def expect_error(a, status, field=None, contains=None):
    """a has status and a JSON error (naming field, "field: ...")."""
    check(a.status == status, "%s: status %d, expected %d (body %r)" % (
        a.what, a.status, status, a.body[:200]))
    _json_type(a)
    err = a.error()
    if field is not None:
        check(err.startswith(field + ":"), "%s: error %r does not name %r "
              "(expected \"%s: ...\")" % (a.what, err, field, field))
    if contains is not None:
        check(contains.lower() in err.lower(), "%s: error %r does not say "
              "%r" % (a.what, err, contains))
    if status == 401:
        wa = a.get("www-authenticate")
        check(wa is not None and wa.split()[0:1] == ["Bearer"],
              "%s: 401 with WWW-Authenticate %r, expected Bearer" % (
                  a.what, wa))
    return err


def _daemon(t, workers=1, extra=(), **kw):
    return t.daemon(workers=workers, extra_args=list(extra), **kw).start()


def _finish(d):
    d.check_restarts()
    problem = d.stop()
    check(problem is None, problem)


# ---------------------------------------------------------------------
# status codes, with curl

def test_good_registration_200(t):
    be = EchoBackend(t, "app")
    d = _daemon(t, workers=2)
    p = d.register_port
    t0 = time.time()
    a = curl(t, p, "POST", "/register", auth(d, "APP.Test"),
             reg_body("APP.Test", "127.0.0.1", be.port, 60, False),
             what="POST /register, good credentials")
    check(a.status == 200, "%s: status %d, expected 200 (body %r)" % (
        a.what, a.status, a.body[:300]))
    _json_type(a)
    j = a.json()
    want = {"service_name": "app.test", "host": "127.0.0.1",
            "port": be.port, "use_tls": False, "ttl_seconds": 60,
            "backends": 1}
    for k, v in want.items():
        check(k in j and j[k] == v and type(j[k]) is type(v),
              "200 answer: %s is %r, expected %r (answer %r)" % (
                  k, j.get(k), v, j))
    check(isinstance(j.get("expires_at"), int) and
          t0 + 60 - 2 <= j["expires_at"] <= time.time() + 60 + 2,
          "200 answer: expires_at %r, expected about %d (now + 60)" % (
              j.get("expires_at"), t0 + 60))
    routed(d, "app.test", be, 4, "after the 200")
    # the charset parameter is allowed; a second backend for the service;
    # use_tls may be left out (false); an address is stored normalised
    a = curl(t, p, "POST", "/register", auth(d, "app.test"),
             {"service_name": "app.test", "host": "0:0:0:0:0:0:0:1",
              "port": 9999, "ttl_seconds": 30, "extra": {"x": [1, None]}},
             ctype="application/json; charset=utf-8",
             what="POST /register with charset, host 0:0:0:0:0:0:0:1, "
             "an unknown field, no use_tls")
    check(a.status == 200, "%s: status %d, expected 200 (body %r)" % (
        a.what, a.status, a.body[:300]))
    j = a.json()
    check(j.get("host") == "::1", "%s: host %r, expected '::1' (inet_ntop "
          "form)" % (a.what, j.get("host")))
    check(j.get("use_tls") is False, "%s: use_tls %r, expected false" % (
        a.what, j.get("use_tls")))
    check(j.get("backends") == 2, "%s: backends %r, expected 2" % (
        a.what, j.get("backends")))


def test_bad_credentials_401(t):
    d = _daemon(t, extra=NO_LIMIT)
    p = d.register_port
    svc = "app.test"
    body = reg_body(svc)
    key = d.jwt_key
    now = int(time.time())
    good = good_token(d, svc)
    h, c, s = good.split(".")
    sig = bytearray(b64u_decode(s))
    sig[len(sig) // 2] ^= 0x01
    tampered = h + "." + c + "." + b64u(bytes(sig))
    # the last of 43 characters carries 2 bits that are not part of the
    # 32 bytes: a different string that lax decoders read the same
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_")
    last = alphabet[alphabet.index(s[-1]) ^ 1]
    stray = h + "." + c + "." + s[:-1] + last
    cases = [
        ("wrong secret", auth(d, svc, secret="not-" + _secret(d))),
        ("no X-Register-Secret", auth(d, svc)[1:]),
        ("no Authorization", auth(d, svc)[:1]),
        ("Authorization: Basic", auth(d, svc)[:1] +
         [("Authorization", "Basic " + b64u(b"user:" + d.secret))]),
        ("Bearer with nothing", auth(d, svc, tok="")),
        ("alg none, no signature", auth(d, svc, tok=token(
            key, claims(svc), {"alg": "none", "typ": "JWT"},
            signature=""))),
        ("alg none, signed", auth(d, svc, tok=token(
            key, claims(svc), {"alg": "none", "typ": "JWT"}))),
        ("alg HS512, signed with HMAC-SHA512", auth(d, svc, tok=token(
            key, claims(svc), {"alg": "HS512", "typ": "JWT"},
            digest=hashlib.sha512))),
        ("one middle byte of the signature changed",
         auth(d, svc, tok=tampered)),
        ("stray bits in the signature's last character",
         auth(d, svc, tok=stray)),
        ("padded base64", auth(d, svc, tok=good + "=")),
        ("signed with another key", auth(d, svc, tok=token(
            b"another key", claims(svc)))),
        ("expired token", auth(d, svc, tok=token(
            key, {"service_name": svc, "exp": now - 120}))),
        ("nbf in the future", auth(d, svc, tok=token(
            key, claims(svc, nbf=now + 120)))),
        ("no exp", auth(d, svc, tok=token(key, {"service_name": svc}))),
        ("exp a string", auth(d, svc, tok=token(
            key, {"service_name": svc, "exp": str(now + 300)}))),
        ("crit header", auth(d, svc, tok=token(
            key, claims(svc), {"alg": "HS256", "typ": "JWT",
                               "crit": ["exp"]}))),
        ("aud without --jwt-audience", auth(d, svc, tok=token(
            key, claims(svc, aud="portero")))),
    ]
    for what, headers in cases:
        a = curl(t, p, "POST", "/register", headers, body,
                 what="POST /register, " + what)
        expect_error(a, 401)
    check(not services(d), "refused registrations are listed: %r"
          % services(d))
    # within the default leeway (10 s), a token just expired or not yet
    # valid is still good; a non-integer exp is a number too
    for what, tok in (
            ("exp 3 s ago", token(key, {"service_name": svc,
                                         "exp": now - 3})),
            ("nbf in 3 s", token(key, claims(svc, nbf=now + 3))),
            ("exp a fraction", token(key, {"service_name": svc,
                                           "exp": now + 300.5}))):
        a = curl(t, p, "POST", "/register", auth(d, svc, tok=tok), body,
                 what="POST /register, " + what)
        check(a.status == 200, "%s: status %d, expected 200 within the "
              "leeway (body %r)" % (a.what, a.status, a.body[:200]))


def test_token_issuer_audience_leeway_previous_key(t):
    prev = os.urandom(16).hex().encode()
    pf = os.path.join(t.tmp, "jwt.key.previous")
    fd = os.open(pf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(prev + b"\n")
    d = _daemon(t, extra=NO_LIMIT + [
        "--jwt-issuer", "iss.test", "--jwt-audience", "api",
        "--jwt-leeway", "0", "--jwt-hmac-key-previous-file", pf])
    svc = "app.test"
    now = int(time.time())
    ok = {"iss": "iss.test", "aud": "api"}

    def c(**kw):
        x = claims(svc)
        x.update(ok)
        for k, v in kw.items():
            if v is None:
                x.pop(k, None)
            else:
                x[k] = v
        return x
    key = d.jwt_key
    for what, tok, status in (
            ("iss and aud as configured", token(key, c()), 200),
            ("aud an array holding it", token(key, c(aud=["x", "api"])),
             200),
            ("signed with the previous key", token(prev, c()), 200),
            ("no iss", token(key, c(iss=None)), 401),
            ("another iss", token(key, c(iss="evil.test")), 401),
            ("no aud", token(key, c(aud=None)), 401),
            ("another aud", token(key, c(aud="other")), 401),
            ("an aud array without it", token(key, c(aud=["x", "y"])),
             401),
            ("exp 3 s ago with --jwt-leeway 0",
             token(key, c(exp=now - 3)), 401),
            ("nbf in 3 s with --jwt-leeway 0",
             token(key, c(nbf=now + 3)), 401),
            ("signed with neither key", token(b"x" + prev, c()), 401)):
        a = api(d, "POST", "/register", reg_body(svc),
                auth(d, svc, tok=tok), what="POST /register, token with "
                + what)
        if status == 200:
            check(a.status == 200, "%s: status %d, expected 200 (body %r)"
                  % (a.what, a.status, a.body[:200]))
        else:
            expect_error(a, status)


def test_token_for_another_service_403(t):
    d = _daemon(t, extra=NO_LIMIT)
    a = curl(t, d.register_port, "POST", "/register",
             auth(d, "app.test", tok=good_token(d, "other.test")),
             reg_body("app.test"),
             what="POST /register app.test with a token for other.test")
    err = expect_error(a, 403)
    check(err == "token is for another service", "%s: error %r, expected "
          "'token is for another service'" % (a.what, err))
    check("app.test" not in services(d), "app.test registered anyway")


def test_bad_bodies_400(t):
    be = EchoBackend(t, "keep")
    d = _daemon(t, extra=NO_LIMIT + ["--max-ttl", "3600"])
    p = d.register_port
    register(d, "keep.test", port=be.port)
    svc = "app.test"
    good = json.dumps(reg_body(svc))
    cases = [
        ("malformed JSON", '{"service_name": "app.test", "host": ', "body"),
        ("not JSON at all", "service_name=app.test", "body"),
        ("an array", "[%s]" % good, "body"),
        ("trailing garbage", good + " x", "body"),
        ("a second object", good + good, "body"),
        ("duplicate key", '{"service_name":"app.test","host":"127.0.0.1",'
         '"port":9000,"port":9001,"ttl_seconds":60}', "body"),
        ("missing port", json.dumps({"service_name": svc,
                                     "host": "127.0.0.1",
                                     "ttl_seconds": 60}), "port"),
        ("missing host", json.dumps({"service_name": svc, "port": 9000,
                                     "ttl_seconds": 60}), "host"),
        ("missing ttl_seconds", json.dumps({"service_name": svc,
                                            "host": "127.0.0.1",
                                            "port": 9000}), "ttl_seconds"),
        ("missing service_name", json.dumps({"host": "127.0.0.1",
                                             "port": 9000,
                                             "ttl_seconds": 60}),
         "service_name"),
        ("bad IPv6 address 2001:db8::zz",
         json.dumps(reg_body(svc, host="2001:db8::zz")), "host"),
        ("IPv6 address in brackets",
         json.dumps(reg_body(svc, host="[::1]")), "host"),
        ("bad IPv6 address 1:2:3:4:5:6:7:8:9",
         json.dumps(reg_body(svc, host="1:2:3:4:5:6:7:8:9")), "host"),
        ("host a name", json.dumps(reg_body(svc, host="localhost")),
         "host"),
        ("port 0", json.dumps(reg_body(svc, port=0)), "port"),
        ("port 70000", json.dumps(reg_body(svc, port=70000)), "port"),
        ("port a string", json.dumps(reg_body(svc, port="9000")), "port"),
        ("port not an integer", json.dumps(reg_body(svc, port=9000.5)),
         "port"),
        ("ttl_seconds over --max-ttl 3600",
         json.dumps(reg_body(svc, ttl=3601)), "ttl_seconds"),
        ("ttl_seconds 0", json.dumps(reg_body(svc, ttl=0)), "ttl_seconds"),
        ("use_tls a string", json.dumps(reg_body(svc, use_tls="yes")),
         "use_tls"),
    ]
    for what, body, field in cases:
        a = curl(t, p, "POST", "/register", auth(d, svc), body,
                 what="POST /register, " + what)
        err = expect_error(a, 400, field)
        if what == "duplicate key":
            check("duplicate" in err and "port" in err, "%s: error %r, "
                  "expected it to name the duplicate key \"port\"" % (
                      a.what, err))
    # bad service names, each with a token for that very name
    for name in ("bad name.test", ".app.test", "app.test.", "a..test",
                 "x" * 64 + ".test", ("a" * 60 + ".") * 4 + "abcdefghij"):
        a = curl(t, p, "POST", "/register", auth(d, name),
                 reg_body(name), what="POST /register, service_name %r"
                 % (name if len(name) < 40 else name[:20] + "...(%d)"
                    % len(name)))
        expect_error(a, 400, "service_name")
    # ttl_seconds equal to --max-ttl is fine
    a = curl(t, p, "POST", "/register", auth(d, svc),
             reg_body(svc, ttl=3600), what="POST /register, ttl 3600")
    check(a.status == 200, "%s: status %d, expected 200 (body %r)" % (
        a.what, a.status, a.body[:200]))
    # a bad registration never disturbs the registry
    sv = services(d)
    check(set(sv) == {"keep.test", "app.test"} and
          len(sv["keep.test"]) == 1 and len(sv["app.test"]) == 1,
          "after the refused bodies, /services lists %r" % sv)
    routed(d, "keep.test", be, 2, "after refused registrations")


def test_size_type_method_path(t):
    d = _daemon(t, extra=NO_LIMIT)
    p = d.register_port
    svc = "app.test"
    big = json.dumps(reg_body(svc, pad="x" * 70000))
    a = curl(t, p, "POST", "/register",
             auth(d, svc) + [("Expect", "100-continue")], big,
             what="POST /register, %d-byte body" % len(big))
    expect_error(a, 413)
    # the limit is 65536 bytes: exactly that is read, one more is not
    for size, status in ((65536, 200), (65537, 413)):
        b = reg_body(svc, pad="")
        b["pad"] = "z" * (size - len(json.dumps(b)))
        data = json.dumps(b).encode()
        check(len(data) == size, "test bug: body of %d bytes" % len(data))
        # Expect lets the 413 come before the body is sent (the
        # registrar sends no 100 Continue: curl would wait 1 s for it)
        exp = [("Expect", "100-continue")] if status == 413 else []
        a = curl(t, p, "POST", "/register", auth(d, svc) + exp, data,
                 what="POST /register, body of exactly %d bytes" % size)
        if status == 200:
            check(a.status == 200, "%s: status %d, expected 200 (the limit"
                  " is over 65536; body %r)" % (a.what, a.status,
                                                a.body[:200]))
        else:
            expect_error(a, 413)
    for ct in ("text/plain", "application/x-www-form-urlencoded",
               "application/jsonx", None):
        a = curl(t, p, "POST", "/register", auth(d, svc), reg_body(svc),
                 ctype=ct, what="POST /register, Content-Type %r" % ct)
        expect_error(a, 415)
    a = curl(t, p, "DELETE", "/register", auth(d, svc), reg_body(svc),
             ctype="text/plain", what="DELETE /register, text/plain")
    expect_error(a, 415)
    for method, path, allow in (("GET", "/register", "POST, DELETE"),
                                ("PUT", "/register", "POST, DELETE"),
                                ("POST", "/services", "GET"),
                                ("DELETE", "/healthz", "GET")):
        a = curl(t, p, method, path, auth(d, svc), what="%s %s" % (
            method, path))
        expect_error(a, 405)
        got = [m.strip() for m in (a.get("allow") or "").split(",")]
        check(sorted(got) == sorted(allow.split(", ")), "%s: Allow %r, "
              "expected %r" % (a.what, a.get("allow"), allow))
    a = curl(t, p, "GET", "/nowhere", what="GET /nowhere")
    err = expect_error(a, 404)
    check(err == "not found", "%s: error %r, expected 'not found'" % (
        a.what, err))


def test_chunked_body_over_64k_413(t):
    d = _daemon(t, extra=NO_LIMIT)
    s = t.connect(d.register_port)
    head = ("POST /register HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n"
            "X-Register-Secret: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (
                _secret(d), good_token(d, "app.test"))).encode()
    s.sendall(head + b'1\r\n{\r\n')
    sent = 0
    chunk = b"400\r\n" + b" " * 0x400 + b"\r\n"
    answered = False
    while sent < 200 * 1024:
        try:
            s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            answered = True
            break
        sent += 0x400
        r, _, _ = select.select([s], [], [], 0.005 if sent > 60000 else 0)
        if r:
            answered = True
            break
    check(answered, "a chunked body of %d bytes got no answer" % sent)
    check(sent > 65536 - 0x400, "answered after only %d body bytes: "
          "expected 413 only past 64 KiB" % sent)
    f = s.makefile("rb")
    try:
        r = read_response(f, "POST")
    except (EOFError, OSError) as e:
        fail("chunked body of %d bytes: no readable answer (%s)" % (sent, e))
    a = Answer(r.status, dict(r.headers), r.body,
               "chunked POST /register growing past 64 KiB")
    expect_error(a, 413)


def test_order_of_checks(t):
    d = _daemon(t, extra=NO_LIMIT)
    p = d.register_port
    svc = "app.test"
    bad = auth(d, svc, secret="wrong")
    big = json.dumps(reg_body(svc, pad="y" * 70000))
    exp100 = [("Expect", "100-continue")]
    a = curl(t, p, "GET", "/register", exp100, big, ctype="text/plain",
             what="GET /register, no credentials, 70 kB text/plain body")
    expect_error(a, 405)
    a = curl(t, p, "POST", "/register", exp100, big, ctype="text/plain",
             what="POST /register, no credentials, 70 kB text/plain body")
    expect_error(a, 413)
    a = curl(t, p, "POST", "/register", bad, "{not json",
             ctype="text/plain",
             what="POST /register, wrong secret, text/plain, bad JSON")
    expect_error(a, 415)
    a = curl(t, p, "POST", "/register", bad, "{not json",
             what="POST /register, wrong secret, malformed JSON")
    expect_error(a, 401)
    a = curl(t, p, "POST", "/register",
             auth(d, svc, tok=good_token(d, "other.test")),
             reg_body(svc, port=0),
             what="POST /register, token for another service, port 0")
    expect_error(a, 400, "port")
    a = curl(t, p, "POST", "/register",
             auth(d, svc, tok=good_token(d, "other.test")),
             reg_body(svc, port=d.listen_port),
             what="POST /register, token for another service, portero's "
             "own listener as backend")
    err = expect_error(a, 403)
    check(err == "token is for another service", "%s: error %r, expected "
          "the service mismatch first" % (a.what, err))


def test_rate_limit_429(t):
    d = _daemon(t, workers=1)
    p = d.register_port
    svc = "app.test"
    url = "http://127.0.0.1:%d/register" % p
    body = json.dumps(reg_body(svc))
    wfmt = "%s %%{http_code} %%header{retry-after}\\n"

    def op(label, headers, iface=None, n=1):
        a = ["-s", "--noproxy", "*", "--max-time", "5", "-X", "POST",
             "-H", "Content-Type: application/json", "-H", "Expect:",
             "--data-binary", body, "-w", wfmt % label]
        for k, v in headers:
            a += ["-H", "%s: %s" % (k, v)]
        if iface:
            a += ["--interface", iface]
        return a + ["-o", "/dev/null"] * n + [url] * n

    for attempt in (1, 2, 3):
        bad = auth(d, svc, secret="wrong%d" % attempt)
        argv = (["curl"] + op("burst", bad, n=25) + ["--next"] +
                op("bad1", bad) + ["--next"] +
                op("good1", auth(d, svc)) + ["--next"] +
                op("bad2", bad, "127.0.0.2") + ["--next"] +
                op("bad3", bad))
        r = t.run(argv, timeout=20)
        got = [l.split(" ") for l in r.stdout.splitlines()]
        check(len(got) == 29, "curl: %d answers of 29 (exit %d, %s)" % (
            len(got), r.returncode, r.stderr.strip()[:200]))
        burst = [g[1] for g in got[:25]]
        ras = [g[2] if len(g) > 2 else "" for g in got[:25]]
        rest = {g[0]: (g[1], g[2] if len(g) > 2 else "") for g in got[25:]}
        check(set(burst) <= {"401", "429"}, "25 requests with a wrong "
              "secret got %s, expected 401 or 429 only" % burst)
        check("429" in burst, "25 requests with a wrong secret within "
              "well under a second got no 429 (%s)" % burst)
        first = burst.index("429")
        check(first >= 10, "429 after only %d refusals, expected the "
              "default limit of 10 per second first (%s)" % (first, burst))
        for st, ra in zip(burst, ras):
            if st == "429":
                check(ra == "1", "429 with Retry-After %r, expected 1"
                      % ra)
        check(rest["good1"][0] == "200", "a good registration from "
              "127.0.0.1 while it is limited: status %s, expected 200 "
              "(never 429)" % rest["good1"][0])
        check(rest["bad2"][0] == "401", "a wrong secret from 127.0.0.2 "
              "while 127.0.0.1 is limited: status %s, expected 401"
              % rest["bad2"][0])
        if rest["bad1"][0] == "429" and rest["bad3"][0] == "429":
            break
        # a new second began in between: the good request may not have
        # been made while limited; try again
        t.note("attempt %d: a new second began during the burst (%s %s)"
               % (attempt, rest["bad1"], rest["bad3"]))
        time.sleep(1.1)     # a fresh second, no failure counted in it
    else:
        fail("127.0.0.1 was not limited before and after the good "
             "request in 3 attempts: bad1 %s, bad3 %s" % (
                 rest["bad1"], rest["bad3"]))


def test_healthz_and_services(t):
    flag = EchoBackend(t, "flag")
    d = _daemon(t, extra=NO_LIMIT + ["--backend", "flag.test=" + flag.addr])
    p = d.register_port
    a = curl(t, p, "GET", "/healthz", what="GET /healthz without "
             "credentials")
    check(a.status == 200, "%s: status %d, expected 200" % (a.what,
                                                           a.status))
    _json_type(a)
    check(a.json() == {"status": "ok"}, "%s: body %r, expected "
          "{\"status\":\"ok\"}" % (a.what, a.body[:200]))
    # keep-alive: two answers on one connection
    s = t.connect(p)
    f = s.makefile("rb")
    for i in range(2):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            r = read_response(f)
        except (EOFError, OSError) as e:
            fail("GET /healthz number %d on one kept-alive connection: %s"
                 % (i + 1, e))
        check(r.status == 200, "kept-alive GET /healthz %d: status %d"
              % (i + 1, r.status))
    a = curl(t, p, "GET", "/services", what="GET /services without the "
             "secret")
    expect_error(a, 401)
    a = curl(t, p, "GET", "/services", [("X-Register-Secret", "nope")],
             what="GET /services with a wrong secret")
    expect_error(a, 401)
    a = curl(t, p, "GET", "/services", [("X-Register-Secret", _secret(d))],
             what="GET /services, nothing registered")
    check(a.status == 200 and a.json() == {"services": []}, "%s: status "
          "%d, body %r, expected {\"services\":[]} (registered backends "
          "only)" % (a.what, a.status, a.body[:200]))
    register(d, "app.test", "::1", 9000, ttl=40, use_tls=True)
    a = curl(t, p, "GET", "/services", [("X-Register-Secret", _secret(d))],
             what="GET /services after a registration")
    check(a.status == 200, "%s: status %d" % (a.what, a.status))
    _json_type(a)
    j = a.json()
    try:
        (svc,) = j["services"]
        (b,) = svc["backends"]
        ok = (svc["name"] == "app.test" and b["host"] == "::1" and
              b["port"] == 9000 and b["tls"] is True and
              isinstance(b["expires_in"], int) and
              37 <= b["expires_in"] <= 40)
    except (KeyError, TypeError, ValueError):
        ok = False
    check(ok, "%s: %r, expected one service app.test with backend ::1 "
          "9000 tls true expires_in 37..40" % (a.what, j))


def test_deregister(t):
    be = EchoBackend(t, "app")
    d = _daemon(t, workers=2, extra=NO_LIMIT)
    p = d.register_port
    register(d, "app.test", port=be.port)
    routed(d, "app.test", be, 4, "registered")
    body = reg_body("app.test", port=be.port)
    del body["ttl_seconds"]
    a = curl(t, p, "DELETE", "/register", auth(d, "app.test"), body,
             what="DELETE /register")
    check(a.status == 200, "%s: status %d, expected 200 (body %r)" % (
        a.what, a.status, a.body[:200]))
    _json_type(a)
    j = a.json()
    want = {"service_name": "app.test", "host": "127.0.0.1",
            "port": be.port, "removed": True, "backends": 0}
    for k, v in want.items():
        check(j.get(k) == v, "%s: %s is %r, expected %r (answer %r)" % (
            a.what, k, j.get(k), v, j))
    # no worker routes to it any more, at once
    not_routed(d, "app.test", 20, "after DELETE returned 200")
    check(be.count() == 4, "the backend got %d requests, expected only the"
          " 4 made before the DELETE" % be.count())
    a = curl(t, p, "DELETE", "/register", auth(d, "app.test"), body,
             what="second DELETE /register")
    err = expect_error(a, 404)
    check(err == "not registered", "%s: error %r, expected 'not "
          "registered'" % (a.what, err))
    check(services(d) == {}, "/services after DELETE: %r" % services(d))
    # DELETE is authenticated like POST
    a = curl(t, p, "DELETE", "/register", auth(d, "app.test",
                                               secret="wrong"), body,
             what="DELETE /register with a wrong secret")
    expect_error(a, 401)


def test_register_allow(t):
    d = _daemon(t, extra=NO_LIMIT + ["--register-allow", "127.0.0.1",
                                     "--register-allow", "fd00::/8"])
    p = d.register_port
    for host, status in (("127.0.0.1", 200), ("fd00::5", 200),
                         ("127.0.0.2", 403), ("::1", 403),
                         ("10.1.2.3", 403), ("fe00::1", 403)):
        a = curl(t, p, "POST", "/register", auth(d, "app.test"),
                 reg_body("app.test", host=host, port=9000),
                 what="POST /register host %s with --register-allow "
                 "127.0.0.1 and fd00::/8" % host)
        if status == 200:
            check(a.status == 200, "%s: status %d, expected 200 (body %r)"
                  % (a.what, a.status, a.body[:200]))
        else:
            expect_error(a, 403, "host")
    sv = services(d).get("app.test", [])
    check(sorted(b["host"] for b in sv) == ["127.0.0.1", "fd00::5"],
          "/services lists %r, expected 127.0.0.1 and fd00::5" % sv)


def test_own_listeners_refused(t):
    hp = harness.free_ports(1)[0]
    d = _daemon(t, extra=NO_LIMIT + ["--http-addr", "127.0.0.1:%d" % hp])
    p = d.register_port
    for what, port in (("client listener", d.listen_port),
                       ("registration listener", p),
                       ("--http-addr listener", hp)):
        a = curl(t, p, "POST", "/register", auth(d, "app.test"),
                 reg_body("app.test", port=port),
                 what="POST /register of portero's own %s 127.0.0.1:%d"
                 % (what, port))
        expect_error(a, 403, "host")
    check(services(d) == {}, "own listeners registered: %r" % services(d))


def test_limits_507(t):
    d = _daemon(t, extra=NO_LIMIT + ["--register-max-per-service", "2",
                                     "--register-max-backends", "3"])
    p = d.register_port
    register(d, "a.test", port=1001)
    register(d, "a.test", port=1002)
    a = curl(t, p, "POST", "/register", auth(d, "a.test"),
             reg_body("a.test", port=1003),
             what="POST /register, third backend of a.test")
    err = expect_error(a, 507)
    check(err == "register-max-per-service (2) reached", "%s: error %r"
          % (a.what, err))
    j = register(d, "a.test", port=1002, ttl=90,
                 what="refresh of a.test at its limit")
    check(j.get("backends") == 2, "refresh at the limit: backends %r"
          % j.get("backends"))
    register(d, "b.test", port=1004)
    a = curl(t, p, "POST", "/register", auth(d, "c.test"),
             reg_body("c.test", port=1005),
             what="POST /register, fourth backend in all")
    err = expect_error(a, 507)
    check(err == "register-max-backends (3) reached", "%s: error %r"
          % (a.what, err))
    sv = services(d)
    check(sorted((n, len(b)) for n, b in sv.items()) ==
          [("a.test", 2), ("b.test", 1)], "/services: %r" % sv)


# ---------------------------------------------------------------------
# what a 200 promises

def test_read_your_write_all_workers(t):
    be = EchoBackend(t, "rw")
    d = _daemon(t, workers=2)
    for svc, n in (("rw.test", 40), ("rw2.test", 20)):
        register(d, svc, port=be.port)
        codes = []
        for i in range(n):
            r = get(d.listen_port, svc, "/rw%d" % i)
            codes.append(r.status)
            if r.status == 200:
                check(r.get("x-backend") == be.name, "request %d for %s "
                      "answered by %r" % (i, svc, r.get("x-backend")))
        bad = [(i, c) for i, c in enumerate(codes) if c != 200]
        check(not bad, "requests for %s sent right after its 200, each on "
              "a new connection: (number, status) not 200: %s" % (svc, bad))
    per = {}

    def both():
        per.clear()
        per.update({w["id"]: w["requests"] for w in d.workers_info()})
        return len(per) == 2 and all(v > 0 for v in per.values())
    check(wait_until(both, 2.0, 0.1), "show workers: requests per worker "
          "%r: the 60 requests did not reach both workers" % per)
    # the registrations reached the workers, the secrets did not
    check_no_secrets(t, d, d.secret, d.jwt_key)


def test_round_robin_three_registered(t):
    bes = [EchoBackend(t, "rr%d" % i) for i in range(3)]
    d = _daemon(t, workers=1)
    for i, be in enumerate(bes):
        j = register(d, "rr.test", port=be.port)
        check(j.get("backends") == i + 1, "registration %d: backends %r, "
              "expected %d" % (i + 1, j.get("backends"), i + 1))
    names = []
    for i in range(12):
        r = get(d.listen_port, "rr.test", "/rr%d" % i)
        check(r.status == 200, "request %d: status %d, expected 200" % (
            i, r.status))
        names.append(r.get("x-backend"))
    check(all(len(set(names[i:i + 3])) == 3 for i in range(10)),
          "requests did not go round robin over the three: %s" % names)
    check(all(names.count(b.name) == 4 for b in bes), "12 requests spread"
          " %s" % names)


def test_registered_alongside_flag_backend(t):
    flag = EchoBackend(t, "flag")
    reg = EchoBackend(t, "reg")
    d = _daemon(t, workers=1, extra=["--backend", "mix.test=" + flag.addr])
    register(d, "mix.test", port=reg.port)
    names = []
    for i in range(6):
        r = get(d.listen_port, "mix.test", "/m%d" % i)
        check(r.status == 200, "request %d: status %d" % (i, r.status))
        names.append(r.get("x-backend"))
    check(names.count("flag") == 3 and names.count("reg") == 3 and
          all(names[i] != names[i + 1] for i in range(5)),
          "a --backend and a registered backend of one service: requests "
          "went to %s, expected them to alternate" % names)


def test_ipv6_backend(t):
    try:
        be = EchoBackend(t, "v6", host="::1")
    except OSError as e:
        raise Skip("cannot listen on [::1]: %s" % e)
    d = _daemon(t, workers=2)
    j = register(d, "v6.test", host="::1", port=be.port)
    check(j.get("host") == "::1", "answer host %r" % j.get("host"))
    routed(d, "v6.test", be, 6, "backend on [::1]")
    check(be.count() == 6, "the [::1] backend saw %d requests, expected 6"
          % be.count())


def test_ttl_expiry(t):
    be = EchoBackend(t, "short")
    d = _daemon(t, workers=2)
    register(d, "ttl.test", port=be.port, ttl=2)
    t0 = time.monotonic()
    routed(d, "ttl.test", be, 4, "just registered with ttl 2")
    time.sleep(max(0, t0 + 1.0 - time.monotonic()))
    routed(d, "ttl.test", be, 2, "1 s after a registration with ttl 2")
    time.sleep(max(0, t0 + 3.5 - time.monotonic()))
    not_routed(d, "ttl.test", 10, "3.5 s after a registration with ttl 2")
    check("ttl.test" not in services(d), "/services still lists the "
          "expired backend: %r" % services(d))


def test_refresh(t):
    be = EchoBackend(t, "kept")
    d = _daemon(t, workers=2)
    register(d, "ref.test", port=be.port, ttl=2)
    t0 = time.monotonic()
    time.sleep(1.0)
    j = register(d, "ref.test", port=be.port, ttl=30, what="re-register "
                 "with ttl 30 before the ttl 2 ran out")
    check(j.get("backends") == 1 and j.get("ttl_seconds") == 30,
          "refresh answer %r, expected backends 1, ttl_seconds 30" % j)
    time.sleep(max(0, t0 + 3.5 - time.monotonic()))
    routed(d, "ref.test", be, 6, "3.5 s after ttl 2, refreshed to 30")
    sv = services(d)
    b = sv.get("ref.test")
    check(b is not None and len(b) == 1, "/services after a refresh: %r, "
          "expected one backend for ref.test" % sv)
    check(25 <= b[0]["expires_in"] <= 30, "after the refresh expires_in "
          "is %r, expected about 27" % b[0]["expires_in"])


def _restart(t, d, workers=2):
    d2 = t.daemon(workers=workers)
    check(d2.state_dir == d.state_dir, "second daemon has another state "
          "dir")
    d2.start()
    return d2


def _check_remaining(d, svc, ttl, t_reg, be):
    sv = services(d)
    b = sv.get(svc)
    check(b is not None and len(b) == 1, "after the restart /services "
          "lists %r, expected one backend of %s" % (sv, svc))
    left = ttl - (time.monotonic() - t_reg)
    check(left - 2 <= b[0]["expires_in"] <= left + 1, "after the restart "
          "expires_in is %r, expected about %.0f (the remaining TTL)" % (
              b[0]["expires_in"], left))
    check(b[0]["host"] == "127.0.0.1" and b[0]["port"] == be.port,
          "after the restart the backend is %r" % b[0])


def test_restart_recovery(t):
    be = EchoBackend(t, "durable")
    d = _daemon(t, workers=2)
    register(d, "dur.test", port=be.port, ttl=60)
    t_reg = time.monotonic()
    _finish(d)
    time.sleep(1.0)     # so the remaining TTL differs from the whole
    d2 = _restart(t, d)
    routed(d2, "dur.test", be, 4, "after a restart")
    _check_remaining(d2, "dur.test", 60, t_reg, be)


def test_kill9_recovery(t):
    be = EchoBackend(t, "durable")
    d = _daemon(t, workers=2)
    register(d, "k9.test", port=be.port, ttl=60)
    t_reg = time.monotonic()
    pids = [d.pid] + [p for p in d.procs() if p != d.pid]
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    check(d.wait_gone(5), "processes %s still there after SIGKILL"
          % d.procs())
    time.sleep(1.0)
    d2 = _restart(t, d)
    routed(d2, "k9.test", be, 4, "after kill -9 of the whole tree")
    _check_remaining(d2, "k9.test", 60, t_reg, be)


def test_durable_before_200(t):
    """strace the registrar: before each 200 to a POST, what it wrote to
    the state dir was fsync'd (and a rename into it followed by an fsync
    of the directory)."""
    if not os.access("/usr/bin/strace", os.X_OK):
        raise Skip("no strace")
    be = EchoBackend(t, "dur")
    d = _daemon(t, workers=1)
    rp = d.child_pid("registrar")
    out = os.path.join(t.tmp, "strace.out")
    tr = t.popen(["strace", "-f", "-y", "-qq", "-s", "48", "-o", out,
                  "-e", "trace=write,writev,pwrite64,pwritev,sendto,"
                  "sendmsg,fsync,fdatasync,sync_file_range,rename,renameat,"
                  "renameat2", "-p", str(rp)],
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def traced():
        st = harness.proc_status(rp) or {}
        return st.get("TracerPid") not in (None, "0")
    if not wait_until(traced, 3.0, 0.02):
        tr.kill()
        raise Skip("strace could not attach to the registrar: %r" %
                   tr.stderr.read(300) if tr.poll() is not None else "")
    try:
        for i in range(3):
            register(d, "dur%d.test" % i, port=be.port)
    finally:
        tr.send_signal(signal.SIGINT)
        try:
            tr.wait(timeout=5)
        except subprocess.TimeoutExpired:
            tr.kill()
    with open(out, errors="replace") as f:
        lines = f.read().splitlines()
    state = d.state_dir
    call = re.compile(r"^(?:\d+\s+)?(\w+)\((\d+)?(<[^>]*>)?")
    answers = 0
    pending = []        # syscalls since the last answer
    for line in lines:
        m = call.match(line)
        if not m:
            continue
        name, fdpath = m.group(1), (m.group(3) or "")[1:-1]
        if "HTTP/1.1 200" in line:
            answers += 1
            wrote = [j for j, (n, p, l) in enumerate(pending)
                     if n.startswith(("write", "pwrite")) and
                     p.startswith(state + "/")]
            check(wrote, "200 number %d: the registrar wrote nothing to "
                  "the state dir before it (syscalls: %s)" % (
                      answers, [n for n, p, l in pending]))
            last = wrote[-1]
            synced = [j for j, (n, p, l) in enumerate(pending)
                      if j > last and n in ("fsync", "fdatasync") and
                      p == pending[last][1]]
            check(synced, "200 number %d: %s written but not fsync'd "
                  "before the answer" % (answers, pending[last][1]))
            for j, (n, p, l) in enumerate(pending):
                if n.startswith("rename") and state in l:
                    dsync = [k for k, (n2, p2, l2) in enumerate(pending)
                             if k > j and n2 in ("fsync", "fdatasync") and
                             p2.rstrip("/") == state.rstrip("/")]
                    check(dsync, "200 number %d: a rename in the state dir"
                          " (%s) not followed by an fsync of the directory"
                          " before the answer" % (answers, l[:160]))
            pending = []
        else:
            pending.append((name, fdpath, line))
    check(answers == 3, "strace saw %d answers 200 of the registrar, "
          "expected 3 (%d lines traced)" % (answers, len(lines)))


def test_corrupt_state_moved_aside(t):
    be = EchoBackend(t, "new")
    d = _daemon(t, workers=1)
    register(d, "old.test", port=be.port, ttl=300)
    _finish(d)
    files = [f for f in os.listdir(d.state_dir)
             if os.path.isfile(os.path.join(d.state_dir, f))]
    check(files, "no file in the state dir %s after a registration"
          % d.state_dir)
    for f in files:
        with open(os.path.join(d.state_dir, f), "r+b") as fh:
            fh.truncate(0)
            fh.write(b"\x00\xffnot a state file\n" + os.urandom(300))
    d2 = t.daemon(workers=1)
    try:
        d2.start()
    except AssertionError as e:
        fail("with a corrupt state file (%s) the daemon does not start: %s"
             % (files, e))
    lines = [l for l in d2.log().splitlines()
             if re.search(r"corrupt", l, re.I)]
    check(lines, "no log line about the corrupt state file %s" % files)
    aside = [f for f in os.listdir(d2.state_dir) if ".corrupt" in f]
    check(aside, "no file named *.corrupt* in the state dir, only %s"
          % os.listdir(d2.state_dir))
    check("old.test" not in services(d2), "the service from the corrupt "
          "file is listed")
    register(d2, "new.test", port=be.port)
    routed(d2, "new.test", be, 2, "registered after a corrupt state file")


def test_respawned_worker_routes_at_once(t):
    be = EchoBackend(t, "app")
    d = _daemon(t, workers=1)
    register(d, "app.test", port=be.port)
    routed(d, "app.test", be, 1, "before the kill")
    old = d.child_pid("worker", 0)
    os.kill(old, signal.SIGKILL)
    d.expect_restarts[("worker", 0)] = 1
    # a request made while the worker is dead or starting: whichever
    # worker 0 accepts it must route the service
    deadline = time.monotonic() + 5
    while True:
        try:
            r = get(d.listen_port, "app.test", "/during", timeout=5)
            break
        except socket.timeout:
            fail("a request made during the respawn of worker 0 got no "
                 "answer within 5 s")
        except (ConnectionRefusedError, ConnectionResetError, EOFError) as e:
            if time.monotonic() > deadline:
                fail("no answer to a request made during the respawn: %s"
                     % e)
            time.sleep(0.01)
    check(r.status == 200 and r.get("x-backend") == be.name,
          "a request made while worker 0 respawned: status %d from %r, "
          "expected 200 from the registered backend" % (
              r.status, r.get("x-backend")))
    d.wait_respawned("worker", 0, old, 5)
    routed(d, "app.test", be, 5, "the respawned worker 0")
    d.check_restarts()


def memory_holds(pid, needles):
    """The needles (bytes) found in the process's anonymous memory
    (heap, stack, anonymous mappings: where a copy of its environment or
    a received secret would be), read through /proc/PID/mem."""
    found = set()
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if "r" not in parts[1]:
                continue
            path = parts[5] if len(parts) > 5 else ""
            if path.startswith("/") or path.startswith("[v"):
                continue        # file contents, vdso, vvar, vsyscall
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            found.update(n for n in needles if n in data)
    return found


def check_no_secrets(t, d, secret, key, roles=("worker", "certloader")):
    """No child's environ or cmdline holds the secret or the key, nor
    the environment's entries for them; the memory of roles holds
    neither the secret nor the key."""
    entries = (b"PORTERO_REGISTER_SECRET=" + secret,
               b"PORTERO_JWT_HMAC_KEY=" + key)
    marker = 0
    for c in d.status()["children"]:
        pid, what = c["pid"], "%s %s (pid %d)" % (c["role"], c["id"],
                                                 c["pid"])
        env = harness.proc_environ(pid)
        cmd = harness._read("/proc/%d/cmdline" % pid) or b""
        for n in (secret, key) + entries:
            check(n not in env, "%s: /proc/PID/environ holds %r" % (
                what, n[:30]))
            check(n not in cmd, "%s: /proc/PID/cmdline holds %r" % (
                what, n[:30]))
        try:
            needles = set(entries) | {harness.MARKER.encode()}
            if c["role"] in roles:
                needles |= {secret, key}
            held = memory_holds(pid, needles)
        except OSError as e:
            t.note("%s: cannot read its memory: %s" % (what, e))
            continue
        if harness.MARKER.encode() in held:
            marker += 1
        held.discard(harness.MARKER.encode())
        check(not held, "%s: its memory holds %s" % (
            what, " and ".join("the secret" if n == secret else
                               "the key" if n == key else
                               repr(n[:30]) for n in sorted(held))))
    if not marker:
        t.note("no child's memory shows the test's environment marker: "
               "the memory scan may see nothing")


class _NoFlagDaemon(harness.Daemon):
    """A Daemon with neither secret flags nor --no-register: the secret
    and key come from the environment, or are missing."""

    def argv(self, checkonly=False):
        return [a for a in super().argv(checkonly) if a != "--no-register"]


def test_secrets_from_env_reach_no_child(t):
    secret = "s3cr3t-" + os.urandom(12).hex()
    key = "k3y-" + os.urandom(12).hex()
    d = _NoFlagDaemon(t, workers=2, register=False)
    saved = {k: os.environ.get(k) for k in ("PORTERO_REGISTER_SECRET",
                                            "PORTERO_JWT_HMAC_KEY")}
    os.environ["PORTERO_REGISTER_SECRET"] = secret
    os.environ["PORTERO_JWT_HMAC_KEY"] = key
    try:
        d.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    d.secret, d.jwt_key = secret.encode(), key.encode()
    check_no_secrets(t, d, d.secret, d.jwt_key)
    be = EchoBackend(t, "env")
    register(d, "env.test", port=be.port, what="registration with the "
             "secret and key from the environment")
    routed(d, "env.test", be, 2)
    # a worker respawned later gets no secret either
    old = d.child_pid("worker", 1)
    os.kill(old, signal.SIGKILL)
    d.expect_restarts[("worker", 1)] = 1
    d.wait_respawned("worker", 1, old, 5)
    check_no_secrets(t, d, d.secret, d.jwt_key)


def test_no_secret_refuses_to_start(t):
    d = _NoFlagDaemon(t, workers=1, register=False)
    d.listen_port, d.register_port = harness.free_ports(2)
    d._prepare_dirs()
    sf = os.path.join(t.tmp, "only.secret")
    kf = os.path.join(t.tmp, "only.key")
    for path in (sf, kf):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(8).hex().encode() + b"\n")
    for key in ("PORTERO_REGISTER_SECRET", "PORTERO_JWT_HMAC_KEY"):
        check(key not in os.environ, "%s is set in the test's environment"
              % key)

    def run(extra, checkonly, what, timeout=8):
        r = t.run(d.argv(checkonly) + extra, timeout=timeout)
        out = r.stdout + r.stderr
        check(r.returncode == 1, "%s: exit %d, expected 1 (output %r)" % (
            what, r.returncode, out[-300:]))
        return out

    for checkonly in (True, False):
        what = "portero%s without secret, key or --no-register" % (
            " -n" if checkonly else "")
        out = run([], checkonly, what)
        check(re.search(r"secret", out, re.I) and
              re.search(r"jwt|hmac|token key", out, re.I),
              "%s: the message does not name both the secret and the key: "
              "%r" % (what, out[-300:]))
    out = run(["--register-secret-file", sf], True,
              "portero -n with only the secret")
    check(re.search(r"jwt|hmac|token key", out, re.I),
          "portero -n with only the secret: the message does not name the "
          "key: %r" % out[-300:])
    out = run(["--jwt-hmac-key-file", kf], True,
              "portero -n with only the key")
    check(re.search(r"secret", out, re.I),
          "portero -n with only the key: the message does not name the "
          "secret: %r" % out[-300:])
    r = t.run(d.argv(True) + ["--register-secret-file", sf,
                              "--jwt-hmac-key-file", kf], timeout=8)
    check(r.returncode == 0, "portero -n with both files: exit %d (%r)" % (
        r.returncode, (r.stdout + r.stderr)[-300:]))
    r = t.run(d.argv(True) + ["--no-register"], timeout=8)
    check(r.returncode == 0, "portero -n --no-register: exit %d (%r)" % (
        r.returncode, (r.stdout + r.stderr)[-300:]))


def test_refusals_logged_without_secrets(t):
    d = _daemon(t, extra=NO_LIMIT)
    p = d.register_port
    wrong = "wrong-" + os.urandom(8).hex()
    tok = good_token(d, "app.test")
    before = len(d.log().splitlines())
    a = curl(t, p, "POST", "/register", auth(d, "app.test", secret=wrong,
                                             tok=tok),
             reg_body("app.test"), what="POST /register, wrong secret")
    expect_error(a, 401)
    bad_tok = token(b"other key", claims("app.test"))
    a = curl(t, p, "POST", "/register", auth(d, "app.test", tok=bad_tok),
             reg_body("app.test"), what="POST /register, bad token")
    expect_error(a, 401)
    logged = wait_until(lambda: [
        l for l in d.log().splitlines()[before:]
        if "127.0.0.1" in l and re.search(
            r"secret|token|refus|denied|reject|unauthori|auth|401", l, re.I)],
        2.0, 0.05)
    check(logged, "no log line with the client address 127.0.0.1 and a "
          "reason after two refused registrations")
    # a flood of refusals is not a flood of log lines
    argv = ["curl", "-s", "--noproxy", "*", "--max-time", "10", "-X",
            "POST", "-H", "Content-Type: application/json", "-H", "Expect:",
            "-H", "X-Register-Secret: " + wrong, "-H",
            "Authorization: Bearer " + tok, "--data-binary",
            json.dumps(reg_body("app.test")), "-w", "%{http_code}\\n"]
    url = "http://127.0.0.1:%d/register" % p
    n = 300
    r = t.run(argv + ["-o", "/dev/null"] * n + [url] * n, timeout=30)
    codes = r.stdout.split()
    check(len(codes) == n and set(codes) == {"401"}, "flood of %d wrong "
          "secrets: answers %s" % (n, sorted(set(codes))))
    time.sleep(0.3)
    lines = d.log().splitlines()[before:]
    check(len(lines) <= 60, "%d refusals made %d log lines, expected them "
          "rate-limited (at most 60)" % (n + 2, len(lines)))
    log = d.log()
    for what, s in (("the secret", _secret(d)), ("the wrong secret", wrong),
                    ("the token", tok), ("the bad token", bad_tok),
                    ("the token's signature", tok.split(".")[2]),
                    ("the key", d.jwt_key.decode())):
        check(s not in log, "the log holds %s" % what)


def test_expect_100_continue(t):
    """A client that waits for 100 Continue gets it at once, then its
    answer (curl waits a second for it before sending the body anyway)."""
    be = EchoBackend(t, "cont")
    d = _daemon(t, workers=1)
    body = reg_body("cont.test", port=be.port)
    t0 = time.monotonic()
    a = curl(t, d.register_port, "POST", "/register",
             auth(d, "cont.test") + [("Expect", "100-continue")], body,
             what="POST /register with Expect: 100-continue")
    took = time.monotonic() - t0
    check(a.status == 200, "%s: status %d (body %r)" % (a.what, a.status,
                                                         a.body[:200]))
    with open(os.path.join(t.tmp, "curl.head"), "rb") as f:
        head = f.read()
    check(head.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"),
          "%s: no 100 Continue before the answer: %r" % (a.what, head[:80]))
    check(took < 0.8, "%s took %.2f s: the body waited for curl's timeout"
          % (a.what, took))
    routed(d, "cont.test", be, 1, "registered with Expect")
    _finish(d)


def _keepalive_change(conn, d, method, svc, port, ttl=600):
    body = reg_body(svc, port=port, ttl=ttl)
    if method == "DELETE":
        body.pop("ttl_seconds")
    conn.request(method, "/register", json.dumps(body), dict(
        auth(d, svc) + [("Content-Type", "application/json")]))
    r = conn.getresponse()
    r.read()
    check(r.status == 200, "%s %s: status %d" % (method, svc, r.status))


def test_changes_during_a_respawn_snapshot(t):
    """Registrations and removals keep coming while a respawned worker
    takes in a registry of 1,500: once it serves, it routes exactly what
    is registered, whatever came before, during or after its snapshot."""
    be = EchoBackend(t, "app")
    d = _daemon(t, workers=1)
    conn = http.client.HTTPConnection("127.0.0.1", d.register_port,
                                      timeout=10)
    live = set()
    for i in range(1500):
        _keepalive_change(conn, d, "POST", "s%04d.test" % i, be.port)
        live.add("s%04d.test" % i)
    gone, stop = set(), threading.Event()
    errors = []

    def churn():
        c = http.client.HTTPConnection("127.0.0.1", d.register_port,
                                       timeout=10)
        i = 0
        try:
            while not stop.is_set() and i < 1500:
                old, new = "s%04d.test" % i, "n%04d.test" % i
                _keepalive_change(c, d, "DELETE", old, be.port)
                live.discard(old)
                gone.add(old)
                _keepalive_change(c, d, "POST", new, be.port)
                live.add(new)
                i += 1
        except Exception as e:      # reported below, in the test's thread
            errors.append(e)
        finally:
            c.close()
    th = threading.Thread(target=churn, daemon=True)
    th.start()
    time.sleep(0.2)
    old = d.child_pid("worker", 0)
    os.kill(old, signal.SIGKILL)
    d.expect_restarts[("worker", 0)] = 1
    d.wait_respawned("worker", 0, old, 5)
    time.sleep(0.3)
    stop.set()
    th.join(20)
    conn.close()
    check(not errors, "changes during the respawn: %s" % errors[:1])
    check(gone and len(gone) < 1500, "the churn made %d changes: the test "
          "needs some, not all, to be around the respawn" % len(gone))
    listed = set(services(d))
    check(listed == live, "the registry lists %d services, the changes "
          "answered 200 leave %d" % (len(listed), len(live)))
    for svc in sorted(live):
        routed(d, svc, be, 1, "after changes during the respawn")
    for svc in sorted(gone)[:200]:
        not_routed(d, svc, 1, "removed during the respawn")
    d.check_restarts()
