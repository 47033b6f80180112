"""
HTTP conformance of the proxy: Content-Length lists and repeats, field
names that read as Content-Length or Transfer-Encoding once '_' is taken
for '-', the forwarding fields (X-Real-IP, Forwarded, X-Forwarded-*),
over-long host names, HEAD answers of portero's own, HTTP/1.0 clients
(chunked responses, 1xx, no Host), the Date field, transfer codings and
HTTP/1.x versions, half-closed clients with a body, --max-body-size, the
rate limit on the daemon's log, over-long access log lines, and the
access log line of a 408.
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

import calendar
import io
import os
import re
import socket
import ssl
import time

import alog as logfmt
from backends import (EchoBackend, RawBackend, TestCA, cert_folder,
                      closed_port, get, header_map, make_cert_dir,
                      pattern_bytes, read_response, request, scripted,
                      tls_connect, wait_closed)
from harness import check, fail, recv_all, wait_until
from test_smuggling import _exchange, _rejected, _setup, _status

H = b"Host: app.test\r\n"


def _proxy(t, backends, workers=1, extra=(), **kw):
    """A daemon with --backend for each (service, address)."""
    a = []
    for svc, addr in backends:
        a += ["--backend", "%s=%s" % (svc, addr)]
    return t.daemon(workers=workers, extra_args=a + list(extra),
                    **kw).start()


def _app(t, extra=()):
    """An echo backend for app.test behind a one-worker daemon."""
    be = EchoBackend(t, "app")
    return _proxy(t, [("app.test", be.addr)], extra=extra), be


def _finish(d):
    """Restart check, then stop, before the next daemon of the test."""
    d.check_restarts()
    problem = d.stop()
    check(problem is None, problem)


def _served(r, be, what):
    check(r.status == 200, "%s: status %d, expected 200 from %s (body %r)"
          % (what, r.status, be.name, r.body[:200]))
    info = r.json()
    check(info["name"] == be.name, "%s: answered by %r, expected %r" % (
        what, info["name"], be.name))
    return info


def _refused(t, d, be, raw, what, status=400):
    """test_smuggling's _rejected (status, close, the backend sees
    nothing) with a failure that says whether the backend got it."""
    before = be.count()
    try:
        _rejected(t, raw, status=status, d=d, be=be, what=what)
    except AssertionError as e:
        fail("%s [the backend saw %d request(s): %r]" % (
            e, be.count() - before, be.request_lines[before:][:2]))


def _access_lines(path, n, timeout=3.0):
    """The access log's lines once it has at least n."""
    def enough():
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        ls = data.decode("latin-1").splitlines()
        return ls if len(ls) >= n else None
    ls = wait_until(enough, timeout, 0.05)
    if ls is None:
        data = open(path, "rb").read() if os.path.exists(path) else None
        fail("access log %s: not %d lines within %.0f s: %r" % (
            path, n, timeout, data[-600:] if data else "(missing)"))
    return ls


# ---------------------------------------------------------------------
# 1. Content-Length lists and repeats

def test_content_length_list_equal_values_refused(t):
    d, be = _setup(t)
    _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H +
             b"Content-Length: 5, 5\r\n\r\nhello", "Content-Length: 5, 5")
    _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H +
             b"Content-Length: 1000,1000\r\n\r\n" + b"x" * 1000,
             "Content-Length: 1000,1000")


def test_content_length_repeated_equal_lines_refused(t):
    d, be = _setup(t)
    _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H +
             b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
             "two Content-Length: 5 lines")
    _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H +
             b"Content-Length: 5\r\ncontent-length: 5\r\n\r\nhello",
             "Content-Length: 5 and content-length: 5")


# ---------------------------------------------------------------------
# 2. names that read as Content-Length or Transfer-Encoding

def test_underscore_framing_field_names_refused(t):
    d, be = _setup(t)
    # an underscored name that means nothing to framing passes unchanged
    r = get(d.listen_port, "app.test", "/underscore",
            headers=[("X_Custom_Field", "1")])
    info = _served(r, be, "X_Custom_Field: 1")
    names = [k for k, v in info["headers"] if k.lower() == "x_custom_field"]
    check(names == ["X_Custom_Field"] and
          header_map(info).get("x_custom_field") == ["1"],
          "X_Custom_Field: 1 reached the backend as %r" % [
              kv for kv in info["headers"] if "custom" in kv[0].lower()])
    for field, body in ((b"Transfer_Encoding: chunked", b"0\r\n\r\n"),
                        (b"Content_Length: 5", b"hello"),
                        (b"Transfer---Encoding: chunked", b"0\r\n\r\n"),
                        (b"content__length: 3", b"abc")):
        _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H + field +
                 b"\r\n\r\n" + body, field.decode())


# ---------------------------------------------------------------------
# 3. forwarding fields

def test_forwarding_fields_set_by_proxy(t):
    d, be = _app(t)
    r = request(d.listen_port, b"GET /fwd HTTP/1.1\r\n" + H +
                b"X-Real-IP: 6.6.6.6\r\n"
                b"x-real-ip: 7.7.7.7\r\n"
                b"Forwarded: for=6.6.6.6;proto=https;host=evil.test\r\n"
                b"FORWARDED: for=7.7.7.7\r\n"
                b"X-Forwarded-Proto: https\r\n"
                b"X-Forwarded-Host: evil.test\r\n"
                b"X-Forwarded-For: 10.1.2.3\r\n"
                b"Connection: close\r\n\r\n")
    hm = header_map(_served(r, be, "forged forwarding fields"))
    check(hm.get("x-forwarded-for") == ["10.1.2.3, 127.0.0.1"],
          "X-Forwarded-For at the backend %r, expected ['10.1.2.3, "
          "127.0.0.1']" % hm.get("x-forwarded-for"))
    check(hm.get("x-forwarded-proto") == ["http"], "X-Forwarded-Proto at "
          "the backend %r, expected ['http']" % hm.get("x-forwarded-proto"))
    check(hm.get("x-forwarded-host") == ["app.test"], "X-Forwarded-Host at "
          "the backend %r, expected ['app.test']"
          % hm.get("x-forwarded-host"))
    check("forwarded" not in hm, "the client's Forwarded reached the "
          "backend: %r" % hm.get("forwarded"))
    check(hm.get("x-real-ip") == ["127.0.0.1"], "X-Real-IP at the backend "
          "%r, expected ['127.0.0.1'] (the client sent 6.6.6.6 and 7.7.7.7)"
          % hm.get("x-real-ip"))
    # without any from the client: the proxy's own
    hm = header_map(_served(get(d.listen_port, "app.test", "/plain"), be,
                            "no forwarding fields"))
    check(hm.get("x-real-ip") == ["127.0.0.1"], "X-Real-IP at the backend "
          "%r, expected ['127.0.0.1']" % hm.get("x-real-ip"))
    check("forwarded" not in hm, "Forwarded at the backend: %r"
          % hm.get("forwarded"))
    check(hm.get("x-forwarded-for") == ["127.0.0.1"], "X-Forwarded-For %r"
          % hm.get("x-forwarded-for"))


# ---------------------------------------------------------------------
# 4. host names over 255 bytes

def test_host_name_over_255_bytes_refused(t):
    long_name = ".".join(["l" * 63] * 4) + ".test"      # 260 bytes
    prefix = long_name[:255]
    pre = EchoBackend(t, "prefix")
    dflt = EchoBackend(t, "dflt")
    d = _proxy(t, [(prefix, pre.addr), ("app.test", dflt.addr)],
               extra=["--default-service", "app.test"])
    p = d.listen_port
    # the 255-byte name itself is a service like any other
    _served(get(p, prefix, "/prefix"), pre, "Host of 255 bytes")
    before = dflt.count()
    for raw, what in (
            (b"GET /long HTTP/1.1\r\nHost: %s\r\n\r\n" % long_name.encode(),
             "Host of 260 bytes"),
            (b"GET /long HTTP/1.1\r\nHost: %s:8443\r\n\r\n"
             % long_name.encode(), "Host of 260 bytes with a port"),
            (b"GET http://%s/abs HTTP/1.0\r\n\r\n" % long_name.encode(),
             "absolute-form authority of 260 bytes, HTTP/1.0")):
        _refused(t, d, pre, raw, what)
        check(dflt.count() == before, "%s: routed to --default-service "
              "(%r)" % (what, dflt.request_lines[before:]))


# ---------------------------------------------------------------------
# 5. HEAD and portero's own replies

def test_head_own_replies_carry_no_body(t):
    be = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", be.addr),
                   ("down.test", "127.0.0.1:%d" % closed_port())])
    r = get(d.listen_port, "down.test", "/refused")
    check(r.status == 502, "a refused backend: status %d, expected 502"
          % r.status)
    s = t.connect(d.listen_port, timeout=5)
    f = s.makefile("rb")
    # one burst: HEAD for an unknown host, a GET, HEAD for a service
    # whose backend rests (503), a GET
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n"
              b"GET /after-404 HTTP/1.1\r\n" + H + b"\r\n"
              b"HEAD / HTTP/1.1\r\nHost: down.test\r\n\r\n"
              b"GET /after-503 HTTP/1.1\r\n" + H +
              b"Connection: close\r\n\r\n")
    steps = [("HEAD", 404, None), ("GET", 200, "/after-404"),
             ("HEAD", 503, None), ("GET", 200, "/after-503")]
    prev = "nothing"
    for method, want, path in steps:
        try:
            r = read_response(f, method)
        except (AssertionError, EOFError) as e:
            fail("%s after %s: response unparsable, did the HEAD answer "
                 "carry a body? (%s)" % (method, prev, e))
        except (socket.timeout, TimeoutError):
            fail("%s after %s: no response within 5 s" % (method, prev))
        check(r.status == want, "%s (after %s): status %d, expected %d" % (
            method, prev, r.status, want))
        if path is not None:
            got = r.json()["path"]
            check(got == path, "response for %r, expected %s" % (got, path))
        cl = r.get("content-length")
        check(method == "GET" or cl is None or re.fullmatch(r"\d+", cl),
              "HEAD %d: Content-Length %r" % (want, cl))
        prev = "a %s answered %d" % (method, want)
    check(f.read() == b"", "stray bytes after the last response")


# ---------------------------------------------------------------------
# 6. HTTP/1.0 clients

def test_http10_client_gets_chunked_response_unchunked(t):
    d, be = _app(t)
    n = 150000
    s = t.connect(d.listen_port, timeout=5)
    s.sendall(b"GET /bytes/%d?chunked HTTP/1.0\r\n" % n + H + b"\r\n")
    data = recv_all(s, 5)       # fails unless the connection closes
    head, sep, body = data.partition(b"\r\n\r\n")
    check(sep, "no complete response head: %r" % data[:200])
    lines = head.split(b"\r\n")
    check(re.match(rb"HTTP/1\.[01] 200 ", lines[0]), "status line %r"
          % lines[0])
    fields = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        fields.setdefault(k.strip().lower(), []).append(v.strip())
    check(b"transfer-encoding" not in fields, "an HTTP/1.0 client got "
          "Transfer-Encoding: %r" % fields.get(b"transfer-encoding"))
    check([v.lower() for v in fields.get(b"connection", [])] == [b"close"],
          "Connection %r, expected ['close']" % fields.get(b"connection"))
    check(body == pattern_bytes(0, n), "body of %d bytes, expected the %d "
          "pattern bytes as they are (starts %r)" % (len(body), n,
                                                      body[:40]))
    cl = fields.get(b"content-length")
    check(cl is None or cl == [b"%d" % n], "Content-Length %r" % cl)


def test_http10_client_never_sees_1xx(t):
    hints = (b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
             b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
             b"Content-Length: 6\r\nConnection: close\r\n\r\nhinted")
    raw = RawBackend(t, scripted(*hints), "hints")
    d = _proxy(t, [("hints.test", raw.addr)])
    # the control: an HTTP/1.1 client sees the 103, then the 200
    s = t.connect(d.listen_port, timeout=5)
    s.sendall(b"GET /h11 HTTP/1.1\r\nHost: hints.test\r\n"
              b"Connection: close\r\n\r\n")
    data = recv_all(s, 5)
    check(re.match(rb"HTTP/1\.1 103 ", data) and
          re.search(rb"\r\n\r\nHTTP/1\.1 200 ", data) and
          data.endswith(b"hinted"), "HTTP/1.1 client: expected a 103 then "
          "the 200, got %r" % data[:300])
    # an HTTP/1.0 client gets only the final response
    s = t.connect(d.listen_port, timeout=5)
    s.sendall(b"GET /h10 HTTP/1.0\r\nHost: hints.test\r\n\r\n")
    data = recv_all(s, 5)
    first = data.split(b"\r\n", 1)[0]
    check(re.match(rb"HTTP/1\.[01] 200 ", first), "HTTP/1.0 client: first "
          "status line %r, expected 200 (got %r)" % (first, data[:300]))
    check(b" 103 " not in data and data.endswith(b"hinted"),
          "HTTP/1.0 client got %r" % data[:300])
    check(raw.connections == 2, "the backend had %d connections, expected 2"
          % raw.connections)


# ---------------------------------------------------------------------
# 7. HTTP/1.0 without Host

def test_http10_without_host_gets_service_name(t):
    d, be = _app(t, extra=["--default-service", "app.test"])
    r = request(d.listen_port, b"GET /nohost HTTP/1.0\r\n\r\n")
    hm = header_map(_served(r, be, "HTTP/1.0 without Host"))
    check(hm.get("host") == ["app.test"], "HTTP/1.0 without Host routed to "
          "app.test: backend saw Host %r, expected ['app.test']"
          % hm.get("host"))
    check("x-forwarded-host" not in hm, "HTTP/1.0 without Host: backend saw"
          " X-Forwarded-Host %r, expected none" % hm.get("x-forwarded-host"))
    r = request(d.listen_port, b"GET /withhost HTTP/1.0\r\n"
                b"Host: Other.TEST:81\r\n\r\n")
    hm = header_map(_served(r, be, "HTTP/1.0 with Host Other.TEST:81"))
    check(hm.get("x-forwarded-host") == ["Other.TEST:81"], "HTTP/1.0 with "
          "Host Other.TEST:81: X-Forwarded-Host %r"
          % hm.get("x-forwarded-host"))


# ---------------------------------------------------------------------
# 8. Date

def _check_date(r, what, near=None):
    dates = r.get_all("date")
    check(len(dates) == 1, "%s: %d Date fields %r, expected one" % (
        what, len(dates), dates))
    v = dates[0]
    m = re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|"
                     r"May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d "
                     r"GMT", v)
    check(m, "%s: Date %r is not an IMF-fixdate" % (what, v))
    ts = calendar.timegm(time.strptime(v, "%a, %d %b %Y %H:%M:%S GMT"))
    check(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts)) == v,
          "%s: Date %r: wrong day of the week" % (what, v))
    if near is not None:
        check(abs(ts - near) <= 5, "%s: Date %r is %d s off the time of the "
              "request" % (what, v, ts - near))
    return v


def test_date_on_own_replies(t):
    d, be = _app(t)
    now = time.time()
    r = get(d.listen_port, "nowhere.test", "/unknown")
    check(r.status == 404, "unknown host: status %d" % r.status)
    _check_date(r, "portero's 404", now)


def test_date_on_proxied_responses(t):
    fixed = "Tue, 15 Nov 1994 08:12:31 GMT"
    raw = RawBackend(t, scripted(
        b"HTTP/1.1 200 OK\r\nDate: " + fixed.encode() + b"\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\nok"), "dated")
    be = EchoBackend(t, "app")
    d = _proxy(t, [("app.test", be.addr), ("dated.test", raw.addr)])
    # the backend's own Date goes through as it is
    r = get(d.listen_port, "dated.test", "/dated")
    check(r.status == 200 and r.body == b"ok", "dated backend: %r %r" % (
        r, r.body[:100]))
    check(_check_date(r, "backend with a Date") == fixed, "backend's Date "
          "%r became %r" % (fixed, r.get("date")))
    # one without: the proxy adds one
    now = time.time()
    r = get(d.listen_port, "app.test", "/undated")
    _served(r, be, "echo backend")
    _check_date(r, "backend without a Date", now)


# ---------------------------------------------------------------------
# 9. transfer codings and versions

def test_transfer_encoding_unknown_coding_501(t):
    d, be = _setup(t)
    for te in (b"gzip", b"chunked, gzip", b"xchunked"):
        _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H +
                 b"Transfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n",
                 "Transfer-Encoding: %s" % te.decode())
    # a coding portero does not know, then chunked: 501 (RFC 9112 6.1)
    _refused(t, d, be, b"POST / HTTP/1.1\r\n" + H +
             b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
             "Transfer-Encoding: gzip, chunked", status=501)


def test_transfer_encoding_empty_elements_accepted(t):
    d, be = _app(t)
    for te in (b", chunked", b"chunked,", b"Chunked"):
        what = "Transfer-Encoding: %s" % te.decode()
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        got, _ = _exchange(t, d.listen_port, b"POST /te HTTP/1.1\r\n" + H +
                           b"Transfer-Encoding: " + te + b"\r\n"
                           b"Connection: close\r\n\r\n" + body)
        check(_status(got) == 200, "%s: status %r, expected 200 (got %r)" % (
            what, _status(got), got[:120]))
        info = read_response(io.BytesIO(got)).json()
        check(info["body_len"] == 11 and info["body_start"] == "hello world",
              "%s: backend got body %r (%d bytes)" % (
                  what, info["body_start"], info["body_len"]))
        tes = header_map(info).get("transfer-encoding")
        check(tes == ["chunked"], "%s: backend saw Transfer-Encoding %r, "
              "expected exactly ['chunked']" % (what, tes))


def test_http_version_1_2_served_as_1_1(t):
    d, be = _app(t)
    _refused(t, d, be, b"GET / HTTP/2.0\r\n" + H + b"\r\n",
             "HTTP/2.0 in an HTTP/1 request line", status=505)
    r = request(d.listen_port, b"GET /v12 HTTP/1.2\r\n" + H +
                b"Connection: close\r\n\r\n")
    info = _served(r, be, "HTTP/1.2 request")
    check(info["path"] == "/v12", "backend saw %r" % info["path"])


# ---------------------------------------------------------------------
# 10. a request with a body, then the client half-closes

def test_half_close_after_body_gets_response(t):
    d, be = _app(t)
    body = bytes(range(100))
    bad = []
    for i in range(20):
        s = t.connect(d.listen_port, timeout=3)
        s.sendall(b"POST /half%d HTTP/1.1\r\n" % i + H +
                  b"Content-Length: 100\r\n\r\n" + body)
        s.shutdown(socket.SHUT_WR)
        f = s.makefile("rb")
        try:
            r = read_response(f)
        except (EOFError, ConnectionError) as e:
            bad.append("%d: no response (%s)" % (i, e))
            continue
        except (socket.timeout, TimeoutError):
            bad.append("%d: no response within 3 s" % i)
            continue
        finally:
            s.close()
        if r.status != 200:
            bad.append("%d: status %d" % (i, r.status))
            continue
        info = r.json()
        if info["body_len"] != 100 or info["path"] != "/half%d" % i:
            bad.append("%d: backend saw %s with %d body bytes" % (
                i, info["path"], info["body_len"]))
    check(not bad, "%d of 20 half-closed POSTs failed: %s" % (
        len(bad), "; ".join(bad[:5])))


# ---------------------------------------------------------------------
# 11. --max-body-size

def test_max_body_size(t):
    d, be = _app(t, extra=["--max-body-size", "1000"])
    p = d.listen_port
    _refused(t, d, be, b"POST /big HTTP/1.1\r\n" + H +
             b"Content-Length: 1001\r\n\r\n" + b"b" * 1001,
             "Content-Length 1001 with --max-body-size 1000", status=413)
    r = request(p, b"POST /fits HTTP/1.1\r\n" + H + b"Content-Length: 1000\r\n"
                b"Connection: close\r\n\r\n" + b"f" * 1000)
    info = _served(r, be, "Content-Length 1000 with --max-body-size 1000")
    check(info["body_len"] == 1000, "backend got %d body bytes"
          % info["body_len"])
    chunks = b"".join(b"1f4\r\n" + b"c" * 500 + b"\r\n" for _ in range(4))
    got, how = _exchange(t, p, b"POST /chunked-big HTTP/1.1\r\n" + H +
                         b"Transfer-Encoding: chunked\r\n\r\n" + chunks +
                         b"0\r\n\r\n")
    check(_status(got) == 413, "chunked body of 2000 bytes with "
          "--max-body-size 1000: status %r, expected 413 (got %r)" % (
              _status(got), got[:120]))
    check(how != "open", "chunked 413: connection still open 3 s later")
    _finish(d)

    d = _proxy(t, [("app.test", be.addr)],
               extra=["--max-body-size", "1k"])
    r = request(d.listen_port, b"POST /k HTTP/1.1\r\n" + H +
                b"Content-Length: 1024\r\nConnection: close\r\n\r\n" +
                b"k" * 1024)
    check(_served(r, be, "1024 bytes with --max-body-size 1k")["body_len"]
          == 1024, "backend did not get the 1024 bytes")
    _refused(t, d, be, b"POST /k1 HTTP/1.1\r\n" + H +
             b"Content-Length: 1025\r\n\r\n" + b"k" * 1025,
             "Content-Length 1025 with --max-body-size 1k", status=413)


# ---------------------------------------------------------------------
# 12. the daemon's log under a flood

def test_log_flood_rate_limited(t):
    be = EchoBackend(t, "app")
    alog = os.path.join(t.tmp, "access.log")
    d = _proxy(t, [("app.test", be.addr)], extra=["--access-log", alog])
    raw = b"GET / HTTP/1.1\r\n" + H + b"bad header\r\n\r\n"
    before = len(d.log_lines())
    n = 0
    statuses = {}
    # 300 requests spread over about 1.2 s (250 a second, 25 times the
    # limit), so that the flood crosses a second boundary
    t0 = time.monotonic()
    while n < 300 and time.monotonic() - t0 < 4:
        pause = t0 + n * 0.004 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        s = socket.create_connection(("127.0.0.1", d.listen_port), timeout=3)
        try:
            s.sendall(raw)
            st = _status(recv_all(s, 3))
        finally:
            s.close()
        statuses[st] = statuses.get(st, 0) + 1
        n += 1
    flood = time.monotonic() - t0
    t.note("%d malformed requests in %.2f s: %s" % (n, flood, statuses))
    check(statuses == {400: n}, "malformed requests got %s, expected 400 "
          "for all %d" % (statuses, n))
    time.sleep(1.5)
    # every line since the flood began is about it: the refusals, and
    # the summaries of what was suppressed
    lines = d.log_lines()[before:]
    reports = [l for l in lines if "suppressed" not in l]
    limit = 10 * (flood + 2) + 5
    check(len(reports) <= limit, "%d log lines report the 400s of a %.1f s "
          "flood of %d requests, expected at most %d (rate-limited); first:"
          " %r" % (len(reports), flood, n, limit, reports[:1]))
    summaries = [l for l in lines if re.search(r"suppressed", l) and
                 re.search(r"\d", l.split(":", 1)[-1])]
    check(summaries, "no log line says how many lines were suppressed "
          "(last lines: %r)" % lines[-3:])
    ls = _access_lines(alog, n)
    check(len(ls) == n, "access log has %d lines for %d requests" % (
        len(ls), n))
    not400 = [l for l in ls if logfmt.combined(l) is None or
              logfmt.combined(l)["status"] != 400]
    check(not not400, "%d access log lines without status 400: %r" % (
        len(not400), not400[:2]))


# ---------------------------------------------------------------------
# 13. access log lines over 1023 bytes

def test_access_log_long_line_truncated_with_newline(t):
    ca = TestCA(t)
    certdir = make_cert_dir(t)
    cert_folder(t, ca, certdir, "a.test")
    be = EchoBackend(t, "a.test")
    alog = os.path.join(t.tmp, "access.log")
    d = _proxy(t, [("a.test", be.addr)], cert_dir=certdir,
               extra=["--access-log", alog])

    def handshake():
        try:
            tls_connect(d.listen_port, "a.test", ca.cert, timeout=3).close()
            return True
        except (OSError, ssl.SSLError):
            return False
    check(wait_until(handshake, 5.0, 0.1), "no TLS handshake with SNI "
          "a.test within 5 s (certificate not loaded)")
    sni = ".".join(["s" * 60] * 4) + ".test"        # 248 bytes
    host = ".".join(["h" * 60] * 4) + ".test"
    path = "/" + "p" * 700
    s = tls_connect(d.listen_port, sni, ca.cert)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                  b"\r\n" % (path.encode(), host.encode()))
        r = read_response(s.makefile("rb"))
    finally:
        s.close()
    check(r.status in (404, 421), "long SNI, Host and path: status %d, "
          "expected 421 or 404" % r.status)
    s = tls_connect(d.listen_port, "a.test", ca.cert)
    try:
        s.sendall(b"GET /short HTTP/1.1\r\nHost: a.test\r\n"
                  b"Connection: close\r\n\r\n")
        r = read_response(s.makefile("rb"))
    finally:
        s.close()
    check(r.status == 200, "GET /short: status %d" % r.status)

    def logged():
        with open(alog, "rb") as f:
            data = f.read()
        return data if b"/short" in data else None
    data = wait_until(logged, 3.0, 0.05)
    check(data, "GET /short not in the access log: %r" % (
        open(alog, "rb").read()[-300:]))
    lines = data.split(b"\n")
    check(data.endswith(b"\n") and len(lines) == 3, "access log should "
          "hold two lines, each ending in a newline; it holds %d bytes in "
          "%d line(s): %r ... %r" % (len(data), len(lines) - (
              lines[-1] == b""), data[:60], data[-120:]))
    first, second = lines[0], lines[1]
    check(first.startswith(b"127.0.0.1 - - ["), "first line starts %r" %
          first[:80])
    check(first.endswith(b" [truncated]"), "the over-long line ends %r, "
          "expected ' [truncated]'" % first[-60:])
    f = logfmt.combined(second.decode("latin-1"))
    check(f and f["client"] == "127.0.0.1" and f["sni"] == "a.test" and
          f["host"] == "a.test" and f["method"] == "GET" and
          f["target"] == "/short" and f["status"] == 200,
          "second line %r" % second)


# ---------------------------------------------------------------------
# 14. the access log line of a 408

def test_408_logs_the_timed_out_request(t):
    be = EchoBackend(t, "app")
    alog = os.path.join(t.tmp, "access.log")
    d = _proxy(t, [("app.test", be.addr)],
               extra=["--header-timeout", "1", "--access-log", alog])
    conns = {}
    for name in ("a", "b"):
        s = t.connect(d.listen_port, timeout=5)
        f = s.makefile("rb")
        s.sendall(b"GET /first-request-%s HTTP/1.1\r\n" % name.encode() + H +
                  b"\r\n")
        r = read_response(f)
        check(r.status == 200, "first request on %s: status %d" % (
            name, r.status))
        conns[name] = (s, f)
    # a: the request line is complete, the head is not; b: not even the
    # request line
    conns["a"][0].sendall(b"POST /second-request HTTP/1.1\r\n" + H)
    conns["b"][0].sendall(b"GET /partial-requ")
    for name, (s, f) in conns.items():
        try:
            r = read_response(f)
        except (socket.timeout, TimeoutError):
            fail("connection %s: no 408 within 5 s (--header-timeout 1)"
                 % name)
        check(r.status == 408, "connection %s: status %d, expected 408"
              % (name, r.status))
        wait_closed(s, 3)
    ls = _access_lines(alog, 4)
    check(len(ls) == 4, "access log has %d lines, expected 4: %r" % (
        len(ls), ls))
    fs = [logfmt.combined(l) for l in ls]
    check(all(fs), "access log lines not in the combined format: %r" % ls)
    timed = [f for f in fs if f["status"] == 408]
    check(len(timed) == 2, "access log lines with 408: %r" % timed)
    for f in timed:
        check("/first-request" not in f["request"], "a 408 is logged with "
              "the method and path of the request before it: %r" % f)
    # the request line "-" first
    b, a = sorted(timed, key=lambda f: f["method"] or "")
    check(a["method"] == "POST" and a["target"] == "/second-request",
          "408 with a complete request line: logged as %r, expected POST "
          "/second-request" % a["request"])
    check(b["request"] == "-", "408 in the request line: logged as %r, "
          "expected the request '-'" % b["request"])
