"""
HTTP/1.1 proxying on the plain listener: routing by Host, errors from
upstreams, balancing, keep-alive and pipelining, bodies both ways,
hop-by-hop fields, upstream TLS, the cleartext listener, the access log
and the header timeout.  Backends are the echo servers of backends.py.
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

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import time

import alog
from backends import (EchoBackend, RawBackend, TestCA, closed_port, garbage,
                      get, header_map, pattern_sha256, read_response,
                      request, silent, wait_closed)
from harness import check, fail, proc_status, wait_until


def _backend_args(backends):
    """--backend flags from [(service, "host:port[,tls]"), ...]."""
    a = []
    for svc, addr in backends:
        a += ["--backend", "%s=%s" % (svc, addr)]
    return a


def _proxy(t, backends, workers=2, extra=(), **kw):
    return t.daemon(workers=workers,
                    extra_args=_backend_args(backends) + list(extra),
                    **kw).start()


def _finish(d):
    """Restart check, then stop: for a test that runs daemons one after
    the other on the same control socket."""
    d.check_restarts()
    problem = d.stop()
    check(problem is None, problem)


def _short_body(r, what):
    check(0 < len(r.body) <= 4096, "%s: %d body bytes, expected a short "
          "body" % (what, len(r.body)))


def _served_by(r, be, what):
    check(r.status == 200, "%s: status %d, expected 200 from %s (body %r)"
          % (what, r.status, be.name, r.body[:200]))
    info = r.json()
    check(info["name"] == be.name, "%s: answered by backend %r, expected "
          "%r" % (what, info["name"], be.name))
    return info


# ---------------------------------------------------------------------
# routing

def test_routes_by_host(t):
    a = EchoBackend(t, "app")
    b = EchoBackend(t, "other")
    d = _proxy(t, [("app.test", a.addr), ("other.test", b.addr)])
    p = d.listen_port
    info = _served_by(get(p, "app.test", "/x/y?q=1&r=2"), a, "Host app.test")
    check(info["path"] == "/x/y?q=1&r=2", "backend saw target %r, expected "
          "'/x/y?q=1&r=2'" % info["path"])
    check(header_map(info).get("host") == ["app.test"], "backend saw Host "
          "%r" % header_map(info).get("host"))
    _served_by(get(p, "other.test", "/"), b, "Host other.test")
    _served_by(get(p, "APP.Test:8443", "/"), a, "Host APP.Test:8443")
    _served_by(get(p, "Other.TEST", "/"), b, "Host Other.TEST")
    # absolute form without a Host field (HTTP/1.0): routed by authority
    r = request(p, b"GET http://other.test/abs?z=1 HTTP/1.0\r\n\r\n")
    info = _served_by(r, b, "absolute-form http://other.test/abs, HTTP/1.0"
                      " without Host")
    check(info["path"] in ("/abs?z=1", "http://other.test/abs?z=1"),
          "absolute-form: backend saw target %r" % info["path"])
    # and with a Host field that agrees
    r = request(p, b"GET http://app.test/abs2 HTTP/1.1\r\nHost: app.test\r\n"
                b"Connection: close\r\n\r\n")
    _served_by(r, a, "absolute-form http://app.test/abs2 with Host app.test")


def test_absolute_form_routes_by_authority(t):
    # portero routes an absolute-form request by the target's authority.
    # A Host field that names another host is refused (stricter than RFC
    # 9112 3.2.2, which says to ignore it): portero and the backend must
    # never disagree on the host.
    a = EchoBackend(t, "app")
    b = EchoBackend(t, "other")
    d = _proxy(t, [("app.test", a.addr), ("other.test", b.addr)],
               workers=1)
    r = request(d.listen_port, b"GET http://other.test/abs?z=1 HTTP/1.1\r\n"
                b"Host: other.test\r\nConnection: close\r\n\r\n")
    info = _served_by(r, b, "absolute-form http://other.test/abs")
    check(info["path"] == "/abs?z=1", "absolute-form: backend saw path %r"
          % info["path"])
    check(header_map(info).get("host") == ["other.test"], "absolute-form: "
          "backend saw Host %r" % header_map(info).get("host"))
    r = request(d.listen_port, b"GET http://other.test/abs HTTP/1.1\r\n"
                b"Host: app.test\r\nConnection: close\r\n\r\n")
    check(r.status == 400, "absolute-form to other.test with Host app.test: "
          "status %d, expected 400" % r.status)
    check(a.count() == 0 and b.count() == 1, "a refused request reached a "
          "backend (app %d, other %d)" % (a.count(), b.count()))


def test_unknown_host_404_and_default_service(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    r = get(d.listen_port, "nowhere.test")
    check(r.status == 404, "unknown host: status %d, expected 404"
          % r.status)
    _short_body(r, "404")
    check(a.count() == 0, "the backend saw %d requests for an unknown host"
          % a.count())
    _finish(d)

    d = _proxy(t, [("app.test", a.addr)], workers=1,
               extra=["--default-service", "app.test"])
    info = _served_by(get(d.listen_port, "nowhere.test", "/dflt"), a,
                      "unknown host with --default-service app.test")
    check(info["path"] == "/dflt", "path %r" % info["path"])
    _served_by(get(d.listen_port, "app.test"), a, "known host")


def test_all_backends_down_502_then_503(t):
    d = _proxy(t, [("app.test", "127.0.0.1:%d" % closed_port()),
                   ("app.test", "127.0.0.1:%d" % closed_port())], workers=1)
    p = d.listen_port
    # man portero.8: a refused backend is skipped and rests; when none is
    # left the upstream "cannot be reached" (502); afterwards every
    # backend of the service is down (503).
    r1 = get(p, "app.test", "/1")
    check(r1.status == 502, "first request, every backend refusing: status"
          " %d, expected 502" % r1.status)
    _short_body(r1, "502")
    for i in (2, 3):
        r = get(p, "app.test", "/%d" % i)
        check(r.status == 503, "request %d, every backend resting after a "
              "refusal: status %d, expected 503" % (i, r.status))
        _short_body(r, "503")


def test_upstream_errors_502_504(t):
    silent_be = RawBackend(t, silent, "silent")
    garbage_be = RawBackend(t, garbage, "garbage")
    d = _proxy(t, [("refused.test", "127.0.0.1:%d" % closed_port()),
                   ("silent.test", silent_be.addr),
                   ("garbage.test", garbage_be.addr)], workers=1,
               extra=["--upstream-timeout", "1"])
    p = d.listen_port
    r = get(p, "refused.test")
    check(r.status == 502, "connection refused: status %d, expected 502"
          % r.status)
    _short_body(r, "refused 502")

    t0 = time.monotonic()
    r = get(p, "silent.test", timeout=6)
    took = time.monotonic() - t0
    check(r.status == 504, "upstream silent, --upstream-timeout 1: status "
          "%d, expected 504" % r.status)
    check(0.8 <= took <= 3.5, "504 came after %.2f s, expected about 1 s"
          % took)
    _short_body(r, "504")
    check(silent_be.connections >= 1, "the silent backend got no "
          "connection")

    r = get(p, "garbage.test")
    check(r.status == 502, "upstream answering garbage: status %d, "
          "expected 502" % r.status)
    _short_body(r, "garbage 502")
    check(garbage_be.connections >= 1, "the garbage backend got no "
          "connection")


def test_upstream_closes_after_head(t):
    # the backend promises 1000 bytes and closes after the head: the
    # client must not be left believing it got a whole response
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    s = t.connect(d.listen_port, timeout=5)
    s.sendall(b"GET /close-after-head HTTP/1.1\r\nHost: app.test\r\n\r\n")
    f = s.makefile("rb")
    try:
        r = read_response(f)
    except EOFError:
        r = None                # head forwarded, body cut, closed: fine
    except (socket.timeout, TimeoutError):
        fail("a response cut short upstream left the client waiting 5 s "
             "for the rest")
    if r is not None:
        check(r.status == 502, "upstream closed after the head: client got"
              " a complete %d with %d body bytes" % (r.status, len(r.body)))
        _short_body(r, "cut upstream 502")
    f.close()
    wait_closed(s, 3)
    check(get(d.listen_port, "app.test", "/next").status == 200,
          "next request after a cut upstream response")


# ---------------------------------------------------------------------
# balancing

def test_round_robin_alternates(t):
    a = EchoBackend(t, "one")
    b = EchoBackend(t, "two")
    d = _proxy(t, [("app.test", a.addr), ("app.test", b.addr)], workers=1)
    names = []
    for i in range(10):
        r = get(d.listen_port, "app.test", "/rr%d" % i)
        check(r.status == 200, "request %d: status %d" % (i, r.status))
        names.append(r.json()["name"])
    check(all(names[i] != names[i + 1] for i in range(9)),
          "backends did not alternate: %s" % names)
    check(names.count("one") == 5 and names.count("two") == 5,
          "backends used %s" % names)


def test_killed_backend_is_skipped(t):
    a = EchoBackend(t, "alive")
    b = EchoBackend(t, "doomed")
    d = _proxy(t, [("app.test", a.addr), ("app.test", b.addr)], workers=1)
    seen = set()
    for i in range(4):
        r = get(d.listen_port, "app.test", "/before%d" % i)
        check(r.status == 200, "before the kill: status %d" % r.status)
        seen.add(r.json()["name"])
    check(seen == {"alive", "doomed"}, "before the kill only %s answered"
          % seen)
    b.stop()        # listener closed, kept-alive connections cut
    for i in range(10):
        r = get(d.listen_port, "app.test", "/after%d" % i)
        check(r.status == 200, "request %d after one backend died: status"
              " %d, expected 200 from the other (body %r)"
              % (i, r.status, r.body[:200]))
        check(r.json()["name"] == "alive", "answered by %r"
              % r.json()["name"])


# ---------------------------------------------------------------------
# client connections

def test_keep_alive_several_requests_one_connection(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    c = http.client.HTTPConnection("127.0.0.1", d.listen_port, timeout=5)
    t.defer(c.close)
    sock = None
    for i in range(5):
        body = ("payload %d" % i).encode()
        c.request("POST" if i % 2 else "GET", "/ka%d" % i,
                  body=body if i % 2 else None,
                  headers={"Host": "app.test"})
        r = c.getresponse()
        data = r.read()
        check(r.status == 200, "request %d: status %d" % (i, r.status))
        check(c.sock is not None, "the proxy closed the client connection "
              "after request %d (Connection: %r)" % (
                  i, r.getheader("Connection")))
        if sock is None:
            sock = c.sock
        check(c.sock is sock, "request %d went on a new connection" % i)
        info = json.loads(data)
        check(info["path"] == "/ka%d" % i, "request %d: backend saw %r"
              % (i, info["path"]))
        if i % 2:
            check(info["body_sha256"] == hashlib.sha256(body).hexdigest(),
                  "request %d: body changed on the way" % i)
    check(a.connections == 1, "5 sequential requests opened %d upstream "
          "connections, expected 1 kept alive" % a.connections)


def test_pipelined_requests_answered_in_order(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    s = t.connect(d.listen_port, timeout=5)
    s.sendall(b"GET /first HTTP/1.1\r\nHost: app.test\r\n\r\n"
              b"POST /second HTTP/1.1\r\nHost: app.test\r\n"
              b"Content-Length: 3\r\n\r\nabc"
              b"GET /third HTTP/1.1\r\nHost: app.test\r\n"
              b"Connection: close\r\n\r\n")
    f = s.makefile("rb")
    for want in ("/first", "/second", "/third"):
        r = read_response(f)
        check(r.status == 200, "%s: status %d" % (want, r.status))
        got = r.json()["path"]
        check(got == want, "pipelined responses out of order: expected %s,"
              " got %s" % (want, got))
    check(f.read() == b"", "bytes after the last response")


def test_half_closed_client_gets_whole_response(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    for path in ("/half", "/sleep/0.5", "/bytes/300000"):
        s = t.connect(d.listen_port, timeout=5)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: app.test\r\n\r\n"
                  % path.encode())
        s.shutdown(socket.SHUT_WR)
        f = s.makefile("rb")
        try:
            r = read_response(f)
        except EOFError as e:
            fail("%s after SHUT_WR: response cut short: %s" % (path, e))
        check(r.status == 200, "%s after SHUT_WR: status %d" % (path,
                                                                 r.status))
        if path.startswith("/bytes/"):
            check(hashlib.sha256(r.body).hexdigest() ==
                  pattern_sha256(300000), "%s: body differs" % path)
        else:
            check(r.json()["path"] == path, "%s: backend saw %r" % (
                path, r.json()["path"]))
        f.close()
        try:
            wait_closed(s, 3)
        except AssertionError as e:
            t.note("half-closed client %s: %s" % (path, e))
        s.close()


def test_expect_100_continue(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    s = t.connect(d.listen_port, timeout=5)
    body = b"hello, continue"
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: app.test\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n"
              % len(body))
    f = s.makefile("rb")
    try:
        r = read_response(f, informational=True)
    except (socket.timeout, TimeoutError):
        fail("no 100 Continue within 5 s of a head with Expect: "
             "100-continue (body not sent yet)")
    check(r.status == 100, "first answer to Expect: 100-continue is %d, "
          "expected 100" % r.status)
    s.sendall(body)
    r = read_response(f)
    check(r.status == 200, "after the body: status %d" % r.status)
    info = r.json()
    check(info["body_len"] == len(body) and
          info["body_sha256"] == hashlib.sha256(body).hexdigest(),
          "backend got %d body bytes, not the %d sent" % (info["body_len"],
                                                          len(body)))
    check("expect" not in header_map(info), "the backend saw Expect: %r"
          % header_map(info).get("expect"))


def test_head_204_304_carry_no_body(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    s = t.connect(d.listen_port, timeout=5)
    f = s.makefile("rb")
    steps = [("HEAD", "/bytes/5000", 200), ("GET", "/status/204", 204),
             ("HEAD", "/json", 200), ("GET", "/status/304", 304),
             ("GET", "/last", 200)]
    for i, (method, path, want) in enumerate(steps):
        last = i == len(steps) - 1
        s.sendall(("%s %s HTTP/1.1\r\nHost: app.test\r\n%s\r\n" % (
            method, path, "Connection: close\r\n" if last else "")).encode())
        try:
            r = read_response(f, method)
        except AssertionError as e:
            prev = steps[i - 1] if i else None
            fail("%s %s: response unparsable (the previous one, %s, "
                 "probably carried a body): %s" % (method, path, prev, e))
        check(r.status == want, "%s %s: status %d, expected %d" % (
            method, path, r.status, want))
        if method == "HEAD" and path.startswith("/bytes/"):
            cl = r.get("content-length")
            check(cl in (None, "5000"), "HEAD /bytes/5000: Content-Length "
                  "%r" % cl)
    check(r.json()["path"] == "/last", "last response is for %r" %
          r.json()["path"])
    check(f.read() == b"", "stray bytes after the last response")


def test_hop_by_hop_fields_removed_forwarded_set(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    s = t.connect(d.listen_port, timeout=5)
    f = s.makefile("rb")
    s.sendall(b"GET /hop HTTP/1.1\r\n"
              b"Host: app.test\r\n"
              b"Connection: keep-alive, X-Secret\r\n"
              b"Keep-Alive: timeout=5\r\n"
              b"TE: trailers\r\n"
              b"Upgrade: websocket\r\n"
              b"Proxy-Connection: keep-alive\r\n"
              b"X-Secret: 1\r\n"
              b"X-Kept: yes\r\n"
              b"X-Forwarded-For: 1.2.3.4\r\n\r\n")
    r = read_response(f)
    check(r.status == 200, "status %d" % r.status)
    hm = header_map(r.json())
    for k in ("keep-alive", "te", "upgrade", "proxy-connection",
              "x-secret"):
        check(k not in hm, "hop-by-hop field %s reached the backend: %r"
              % (k, hm.get(k)))
    for v in hm.get("connection", []):
        check("x-secret" not in v.lower() and "keep-alive" not in v.lower(),
              "the client's Connection: keep-alive, X-Secret reached the "
              "backend as %r" % v)
    check(hm.get("host") == ["app.test"], "Host at the backend: %r"
          % hm.get("host"))
    check(hm.get("x-kept") == ["yes"], "end-to-end field X-Kept: %r"
          % hm.get("x-kept"))
    check(hm.get("x-forwarded-for") == ["1.2.3.4, 127.0.0.1"],
          "X-Forwarded-For %r, expected ['1.2.3.4, 127.0.0.1']"
          % hm.get("x-forwarded-for"))
    check(hm.get("x-forwarded-proto") == ["http"], "X-Forwarded-Proto %r"
          % hm.get("x-forwarded-proto"))
    check(hm.get("x-forwarded-host") == ["app.test"], "X-Forwarded-Host %r"
          % hm.get("x-forwarded-host"))
    # the backend's own hop-by-hop fields stop at the proxy
    for k in ("x-hop-secret", "keep-alive", "proxy-connection", "upgrade"):
        check(r.get(k) is None, "hop-by-hop response field %s reached the "
              "client: %r" % (k, r.get(k)))
    for v in r.get_all("connection"):
        check("x-hop-secret" not in v.lower(), "backend's Connection: "
              "X-Hop-Secret reached the client")
    check(r.get("x-end-to-end") == "kept", "end-to-end response field "
          "X-End-To-End: %r" % r.get("x-end-to-end"))

    # Connection: close from the client is not passed on either
    s.sendall(b"GET /close HTTP/1.1\r\nHost: app.test\r\n"
              b"Connection: close\r\n\r\n")
    r = read_response(f)
    hm = header_map(r.json())
    for v in hm.get("connection", []):
        check("close" not in v.lower(), "the client's Connection: close "
              "reached the backend")
    if hm.get("connection"):
        t.note("the proxy sent its own Connection: %r upstream"
               % hm["connection"])
    check(hm.get("x-forwarded-for") == ["127.0.0.1"], "X-Forwarded-For %r "
          "without an incoming one, expected ['127.0.0.1']"
          % hm.get("x-forwarded-for"))
    wait_closed(s, 3)


# ---------------------------------------------------------------------
# bodies

def test_chunked_upload_intact(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    data = os.urandom(3 << 20)
    s = t.connect(d.listen_port, timeout=10)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: app.test\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    off, sizes = 0, [1, 7, 4096, 65535, 70001, 1 << 17, 333]
    i = 0
    out = []
    while off < len(data):
        k = min(sizes[i % len(sizes)], len(data) - off)
        out.append(b"%x\r\n" % k + data[off:off + k] + b"\r\n")
        off += k
        i += 1
    out.append(b"0\r\n\r\n")
    s.sendall(b"".join(out))
    r = read_response(s.makefile("rb"))
    check(r.status == 200, "chunked upload: status %d" % r.status)
    info = r.json()
    check(info["body_len"] == len(data), "backend got %d bytes, sent %d"
          % (info["body_len"], len(data)))
    check(info["body_sha256"] == hashlib.sha256(data).hexdigest(),
          "chunked upload: sha256 differs at the backend")

    # the same with curl, Content-Length this time
    path = os.path.join(t.tmp, "upload.bin")
    with open(path, "wb") as fh:
        fh.write(data)
    r = t.run(["curl", "-sS", "--noproxy", "*", "--max-time", "20",
               "-H", "Host: app.test", "-T", path,
               "http://127.0.0.1:%d/curl-up" % d.listen_port], timeout=25)
    check(r.returncode == 0, "curl -T: exit %d: %s" % (r.returncode,
                                                       r.stderr[:200]))
    info = json.loads(r.stdout)
    check(info["body_sha256"] == hashlib.sha256(data).hexdigest() and
          info["method"] == "PUT", "curl -T upload: %s %d bytes, sha "
          "differs or wrong method" % (info["method"], info["body_len"]))


def _vmrss_kib(pid):
    st = proc_status(pid)
    check(st is not None, "worker %d is gone" % pid)
    return int(st["VmRSS"].split()[0])


def test_large_download_streams_flat_memory(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1)
    wpid = d.child_pid("worker", 0)
    # warm up: one small request so the worker's buffers exist
    check(get(d.listen_port, "app.test", "/warm").status == 200, "warm-up")
    base = _vmrss_kib(wpid)
    n = 100 << 20
    s = t.connect(d.listen_port, timeout=10)
    s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: app.test\r\n"
              b"Connection: close\r\n\r\n" % n)
    f = s.makefile("rb")
    h = hashlib.sha256()
    state = {"got": 0, "next": 8 << 20, "peak": base, "paused": False}

    def sink(b):
        h.update(b)
        state["got"] += len(b)
        if state["got"] >= state["next"]:
            state["next"] += 8 << 20
            if not state["paused"]:
                # stall the client: a proxy that does not push back
                # would now pile up what the backend keeps sending
                state["paused"] = True
                time.sleep(1.5)
            state["peak"] = max(state["peak"], _vmrss_kib(wpid))
    t0 = time.monotonic()
    r = read_response(f, sink=sink)
    took = time.monotonic() - t0
    check(r.status == 200, "status %d" % r.status)
    check(state["got"] == n, "got %d bytes, expected %d" % (state["got"], n))
    check(h.hexdigest() == pattern_sha256(n), "100 MiB download: sha256 "
          "differs")
    growth = (state["peak"] - base) / 1024.0
    t.note("100 MiB in %.1f s; worker VmRSS %d KiB before, peak %d KiB"
           % (took, base, state["peak"]))
    check(growth < 64, "worker VmRSS grew by %.1f MiB during a 100 MiB "
          "download (from %d KiB to %d KiB): not streaming" % (
              growth, base, state["peak"]))


# ---------------------------------------------------------------------
# upstream TLS

def _tls_upstream(t):
    ca = TestCA(t, "upstream CA")
    cert, key = ca.issue("up.test")
    be = EchoBackend(t, "tls-up", tls=(cert, key))
    return ca, be, be.addr + ",tls"


def _upstream_get(d, be, path, what):
    try:
        return get(d.listen_port, "up.test", path)
    except (socket.timeout, TimeoutError):
        fail("%s: GET %s: no response within 5 s (the backend has served "
             "%d requests, the last %r)" % (
                 what, path, len(be.requests),
                 be.requests[-1]["path"] if be.requests else None))


def test_upstream_tls_verified_with_upstream_ca(t):
    ca, be, tls_addr = _tls_upstream(t)
    d = _proxy(t, [("up.test", tls_addr)], workers=1,
               extra=["--upstream-ca", ca.cert])
    # ?close: the backend closes after each answer, so that every request
    # makes a new upstream TLS connection
    for path in ("/secure", "/split", "/bytes/200000", "/secure2") + tuple(
            "/fresh%d?close" % i for i in range(8)):
        r = _upstream_get(d, be, path, "TLS upstream with --upstream-ca")
        check(r.status == 200, "TLS upstream with --upstream-ca: GET %s: "
              "status %d (body %r)" % (path, r.status, r.body[:200]))
        check(be.requests[-1]["path"] == path, "backend's last request %r"
              % be.requests[-1]["path"])
        if path.startswith("/bytes/"):
            check(hashlib.sha256(r.body).hexdigest() ==
                  pattern_sha256(200000), "GET %s: body differs" % path)
        else:
            check(r.json()["path"] == path, "path %r" % r.json()["path"])
    check(be.snis and set(be.snis) == {"up.test"}, "upstream TLS SNI %r, "
          "expected 'up.test'" % be.snis)


def test_upstream_tls_unknown_ca_502(t):
    ca, be, tls_addr = _tls_upstream(t)
    d = _proxy(t, [("up.test", tls_addr)], workers=1)
    for i in range(3):
        r = _upstream_get(d, be, "/unverified%d" % i, "TLS upstream signed "
                          "by an unknown CA")
        check(r.status in ((502,) if i == 0 else (502, 503)),
              "TLS upstream signed by an unknown CA, system CAs: request "
              "%d: status %d, expected 502 (503 once it rests)"
              % (i, r.status))
        _short_body(r, "verification failure")
    check(be.count() == 0, "the unverified upstream got %d requests"
          % be.count())
    check(re.search(r"verif", d.log(), re.I), "the verification failure "
          "is not logged")


def test_upstream_tls_insecure(t):
    ca, be, tls_addr = _tls_upstream(t)
    d = _proxy(t, [("up.test", tls_addr)], workers=1,
               extra=["--upstream-insecure"])
    for i in range(4):
        r = _upstream_get(d, be, "/insecure%d?close" % i,
                          "--upstream-insecure")
        check(r.status == 200, "--upstream-insecure: status %d" % r.status)
    check(re.search(r"insecure|not verif|no verif|verification off",
                    d.log(), re.I),
          "--upstream-insecure is not logged")


# ---------------------------------------------------------------------
# the cleartext listener

def test_http_addr_redirects_or_proxies(t):
    a = EchoBackend(t, "app")
    hp = closed_port()
    d = _proxy(t, [("app.test", a.addr)], workers=1,
               extra=["--http-addr", "127.0.0.1:%d" % hp])
    r = get(hp, "app.test", "/some/path?q=1&x=%20")
    check(r.status == 301, "--http-addr: status %d, expected 301"
          % r.status)
    check(r.get("location") == "https://app.test/some/path?q=1&x=%20",
          "Location %r, expected 'https://app.test/some/path?q=1&x=%%20'"
          % r.get("location"))
    check(a.count() == 0, "a redirected request reached the backend")
    _finish(d)

    d = _proxy(t, [("app.test", a.addr)], workers=1,
               extra=["--http-addr", "127.0.0.1:%d" % hp, "--http-proxy"])
    r = get(hp, "app.test", "/proxied")
    info = _served_by(r, a, "--http-proxy")
    check(info["path"] == "/proxied", "path %r" % info["path"])
    check(header_map(info).get("x-forwarded-proto") == ["http"],
          "X-Forwarded-Proto %r" % header_map(info).get("x-forwarded-proto"))


# ---------------------------------------------------------------------
# access log

def test_access_log_file_and_none(t):
    a = EchoBackend(t, "app")
    path = os.path.join(t.tmp, "access.log")
    d = _proxy(t, [("app.test", a.addr)], workers=1,
               extra=["--access-log", path])
    p = d.listen_port
    reqs = [("GET", "app.test", "/logged-1", 200),
            ("POST", "app.test", "/logged-2", 200),
            ("GET", "unknown.test", "/logged-3", 404)]
    sizes = []
    for method, host, target, want in reqs:
        raw = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (
            method, target, host)
        raw += "Content-Length: 4\r\n\r\nbody" if method == "POST" else "\r\n"
        r = request(p, raw.encode())
        check(r.status == want, "%s %s: status %d" % (method, target,
                                                      r.status))
        sizes.append(len(r.body))

    def lines():
        try:
            with open(path) as fh:
                ls = fh.read().splitlines()
        except OSError:
            return None
        return ls if len(ls) >= len(reqs) else None
    ls = wait_until(lines, 3.0, 0.05)
    check(ls, "access log %s has not %d lines: %r" % (
        path, len(reqs), open(path).read()[:500] if os.path.exists(path)
        else "(missing)"))
    check(len(ls) == len(reqs), "access log has %d lines for %d requests: "
          "%s" % (len(ls), len(reqs), ls))
    bad_bytes = []
    for line, (method, host, target, want), size in zip(ls, reqs, sizes):
        f = alog.combined(line)
        check(f, "access log line not in the combined format: %r" % line)
        check(f["client"] == "127.0.0.1", "client address %r in %r"
              % (f["client"], line))
        check(f["sni"] == "-" and f["tls"] == "-", "SNI or TLS on a plain "
              "listener in %r" % line)
        check(f["host"] == host and f["method"] == method and
              f["target"] == target and f["protocol"] == "HTTP/1.1",
              "host/method/path in %r, expected %s %s %s" % (
                  line, host, method, target))
        check(f["status"] == want, "status %r in %r, expected %d" % (
            f["status"], line, want))
        if f["bytes"] != str(size):
            bad_bytes.append("bytes %r in %r, the client got %d body bytes"
                             % (f["bytes"], line, size))
        if want == 200:
            check(f["upstream"] == a.addr, "upstream %r in %r, expected "
                  "%s" % (f["upstream"], line, a.addr))
            check(f["upstream_time"] != "-", "no upstream time in %r" %
                  line)
    check(not any("/logged-" in l for l in d.log().splitlines()),
          "with --access-log FILE the request lines also went to stderr")
    _finish(d)

    os.unlink(path)
    d = _proxy(t, [("app.test", a.addr)], workers=1,
               extra=["--access-log", "none"])
    r = get(d.listen_port, "app.test", "/not-logged-anywhere")
    check(r.status == 200, "status %d" % r.status)
    time.sleep(0.5)
    check("/not-logged-anywhere" not in d.log(), "with --access-log none "
          "the request was logged: %s" % [
              l for l in d.log().splitlines() if "/not-logged" in l])
    check(not os.path.exists(path), "--access-log none wrote %s" % path)
    check(not bad_bytes, "; ".join(bad_bytes))


# ---------------------------------------------------------------------
# timeouts

def test_slow_loris_gets_408(t):
    a = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", a.addr)], workers=1,
               extra=["--header-timeout", "2"])
    s = t.connect(d.listen_port, timeout=5)
    head = b"GET /slow HTTP/1.1\r\nHost: app.test\r\nX-Pad: aaaaaaaa\r\n\r\n"
    t0 = time.monotonic()
    got = b""
    s.settimeout(0.05)
    i = 0
    next_send = t0
    closed = False
    while time.monotonic() - t0 < 6:
        now = time.monotonic()
        if now >= next_send and i < len(head) and not got:
            try:
                s.send(head[i:i + 1])
            except OSError:
                break
            i += 1
            next_send += 1.0
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
        if not b:
            closed = True
            break
        got += b
    took = time.monotonic() - t0
    check(got, "no answer within %.1f s to a head sent one byte a second "
          "(--header-timeout 2); closed: %s" % (took, closed))
    m = re.match(rb"HTTP/1\.1 (\d{3})", got)
    check(m and m.group(1) == b"408", "slow head got %r, expected 408"
          % got[:100])
    check(closed, "connection not closed after the 408")
    check(1.5 <= took <= 3.5, "408 and close after %.2f s, expected about"
          " 2 s (--header-timeout 2)" % took)
    check(a.count() == 0, "the backend saw the slow request")
    # the worker still serves
    check(get(d.listen_port, "app.test").status == 200, "after the 408")


def test_reload_keeps_idle_upstreams(t):
    """A reload that keeps a backend keeps its idle upstream connections:
    no reconnect after each SIGHUP, where each reload used to close the
    pool and open it again."""
    a = EchoBackend(t, "app")
    b = EchoBackend(t, "gone")
    d = _proxy(t, [("app.test", a.addr), ("gone.test", b.addr)], workers=1,
               verbose=True)
    p = d.listen_port
    for i in range(3):
        _served_by(get(p, "app.test", "/warm"), a, "warm-up %d" % i)
    _served_by(get(p, "gone.test", "/"), b, "gone.test before")
    check(a.connections == 1, "3 requests in a row used %d upstream "
          "connections" % a.connections)

    def kept_lines():
        return [l for l in d.log_lines()
                if "idle upstream connections kept" in l]
    for i in range(5):
        n = len(kept_lines())
        d.signal(signal.SIGHUP)
        check(wait_until(lambda: len(kept_lines()) > n, 5, 0.05),
              "reload %d: the worker never rebuilt its backends" % i)
        _served_by(get(p, "app.test", "/after"), a, "after reload %d" % i)
    check(a.connections == 1, "5 reloads: %d upstream connections to a "
          "backend that stayed, expected the one from before" %
          a.connections)
    check("2 idle upstream connections kept" in kept_lines()[-1],
          "the last reload kept: %r" % kept_lines()[-1])
    d.check_restarts()
