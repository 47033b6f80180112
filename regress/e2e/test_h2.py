"""
HTTP/2 to clients: ALPN on the TLS listener, h2c with prior knowledge on
the cleartext one, streams routed and forwarded like HTTP/1.1 requests,
flow control that holds fast peers back, trailers both ways, the header
list limit, reloads and drains, the counters of show workers, and
WebSockets over extended CONNECT (RFC 8441).  Real clients (curl, nghttp,
h2load) for ordinary use; h2raw.py where frames must be exact.  The
attacks are in test_h2_attacks.py.
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
import json
import os
import re
import signal
import socket
import struct
import threading
import time

import h2raw
from backends import (EchoBackend, RawBackend, TestCA, cert_folder,
                      closed_port, header_map, make_cert_dir,
                      pattern_sha256, read_head, read_response, request,
                      silent, tls_connect)
from harness import check, fail, proc_status, wait_until
from test_websocket import (OP_BIN, OP_CLOSE, WSBackend, accept_key,
                            ws_frame, xor_mask)

MIB = 1 << 20


# ---------------------------------------------------------------------
# the world of a test: a CA, certificates, backends, one daemon

class World:
    def __init__(self, t, names=("a.test",), more=()):
        """A certificate for names (the first is its folder), and one
        for each list of names in more."""
        self.t = t
        self.ca = TestCA(t)
        self.certdir = make_cert_dir(t)
        self.names = list(names)
        cert_folder(t, self.ca, self.certdir, names[0], names=list(names))
        for ns in more:
            cert_folder(t, self.ca, self.certdir, ns[0], names=list(ns))
        self.backends = []          # (service, "host:port")
        self.d = None

    def backend(self, service, addr=None, name=None):
        be = None
        if addr is None:
            be = EchoBackend(self.t, name or service)
            addr = be.addr
        self.backends.append((service, addr))
        return be

    def start(self, workers=1, extra=(), drain_timeout=5):
        args = []
        for svc, addr in self.backends:
            args += ["--backend", "%s=%s" % (svc, addr)]
        self.d = self.t.daemon(workers=workers, cert_dir=self.certdir,
                               drain_timeout=drain_timeout,
                               extra_args=args + list(extra)).start()
        self.wait_tls()
        return self.d

    def wait_tls(self, sni=None):
        sni = sni or self.names[0]

        def ok():
            try:
                tls_connect(self.d.listen_port, sni, self.ca.cert,
                            timeout=2).close()
                return True
            except (OSError, Exception):
                return False
        check(wait_until(ok, 5, 0.05), "TLS never came up for %s" % sni)

    def h2(self, sni="a.test", **kw):
        c = h2raw.H2.tls(self.d.listen_port, sni, self.ca.cert, **kw)
        self.t.defer(c.close)
        return c

    def url(self, host, path="/"):
        return "https://%s:%d%s" % (host, self.d.listen_port, path)

    def curl(self, url, args=(), timeout=20):
        """(exit code, body, http version) of curl with our CA and every
        name of the test resolved to loopback."""
        port = self.d.listen_port
        argv = ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout),
                "--cacert", self.ca.cert]
        for n in set(self.names) | {"b.test", "ws.test"}:
            argv += ["--resolve", "%s:%d:127.0.0.1" % (n, port)]
        argv += list(args) + ["-o", "-", "-w", "\n%{http_version} "
                              "%{http_code}", url]
        r = self.t.run(argv, timeout=timeout + 5)
        body, _, tail = r.stdout.rpartition("\n")
        return r.returncode, body, tail, r.stderr


def vmrss_kib(pid):
    st = proc_status(pid)
    check(st is not None and "VmRSS" in st, "worker %d is gone" % pid)
    return int(st["VmRSS"].split()[0])


class RssPeak:
    """The highest VmRSS of a process, sampled every 10 ms in a thread
    from start() to stop()."""

    def __init__(self, pid, t=None):
        self.pid = pid
        self.t = t
        self.base = vmrss_kib(pid)
        self.peak = self.base
        self.running = True
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while self.running:
            st = proc_status(self.pid)
            if st is None or "VmRSS" not in st:
                return          # gone, or a zombie
            self.peak = max(self.peak, int(st["VmRSS"].split()[0]))
            time.sleep(0.01)

    def stop(self):
        self.running = False
        self.th.join(1)
        return (self.peak - self.base) / 1024.0

    def check(self, limit_mib, what):
        grew = self.stop()
        check(grew < limit_mib, "%s: worker VmRSS grew %.1f MiB (from %d "
              "KiB to %d KiB), limit %d MiB" % (what, grew, self.base,
                                                self.peak, limit_mib))
        if self.t is not None:
            self.t.note("%s: worker VmRSS %d KiB, peak %d KiB" % (
                what, self.base, self.peak))
        return grew


def slow_read(c, sid, seconds):
    """Read stream sid for seconds, opening its windows by 16 KiB every
    10 ms past the first 65535 bytes; (bytes received, window given)."""
    t0 = time.monotonic()
    granted = 65535
    while time.monotonic() - t0 < seconds:
        c.read_some(0.01)
        due = 65535 + int((time.monotonic() - t0) / 0.01) * 16384
        if due > granted:
            c.send(h2raw.window_update_frame(0, due - granted) +
                   h2raw.window_update_frame(sid, due - granted))
            granted = due
    return c.streams[sid].received, granted


def expect_ok(st, be=None, what="request"):
    check(st.reset is None, "%s: stream %d reset with code %s"
          % (what, st.sid, st.reset))
    check(st.status == 200, "%s: status %s, expected 200 (body %r)"
          % (what, st.status, bytes(st.data[:200])))
    if be is None:
        return None
    info = json.loads(bytes(st.data))
    check(info["name"] == be.name, "%s: answered by %r, expected %r"
          % (what, info["name"], be.name))
    return info


def workers_sum(d, key):
    return sum(w.get(key) or 0 for w in d.workers_info())


# ---------------------------------------------------------------------
# protocol selection

def test_alpn_picks_h2_or_http11(t):
    w = World(t)
    w.backend("a.test")
    d = w.start()
    rc, body, tail, err = w.curl(w.url("a.test", "/alpn"), ["--http2"])
    check(rc == 0, "curl --http2: exit %d: %s" % (rc, err[:200]))
    check(tail == "2 200", "curl --http2: version and status %r, expected "
          "'2 200'" % tail)
    check(json.loads(body)["path"] == "/alpn", "curl --http2: body %r"
          % body[:200])
    rc, body, tail, err = w.curl(w.url("a.test"), ["--http1.1"])
    check(rc == 0 and tail == "1.1 200", "curl --http1.1: exit %d, %r"
          % (rc, tail))
    for offer, want in ((["h2", "http/1.1"], "h2"),
                        (["http/1.1", "h2"], "h2"),
                        (["http/1.1"], "http/1.1"), (None, None)):
        s = tls_connect(d.listen_port, "a.test", w.ca.cert, alpn=offer)
        got = s.selected_alpn_protocol()
        s.close()
        check(got == want, "ALPN offered %r: chose %r, expected %r"
              % (offer, got, want))
    # without ALPN, HTTP/1.1 as before
    s = tls_connect(d.listen_port, "a.test", w.ca.cert)
    s.sendall(b"GET /noalpn HTTP/1.1\r\nHost: a.test\r\n"
              b"Connection: close\r\n\r\n")
    r = read_response(s.makefile("rb"))
    s.close()
    check(r.status == 200, "no ALPN: HTTP/1.1 status %d" % r.status)
    d.check_restarts()
    check(d.stop() is None, "stopping the first daemon")

    d = w.start(extra=["--no-h2"])
    for offer in (["h2", "http/1.1"], ["h2"]):
        try:
            s = tls_connect(d.listen_port, "a.test", w.ca.cert, alpn=offer)
            got = s.selected_alpn_protocol()
            s.close()
        except OSError:
            got = "(handshake refused)"
        check(got in ("http/1.1", None, "(handshake refused)") and
              got != "h2", "--no-h2, ALPN %r offered: chose %r" % (
                  offer, got))
    rc, body, tail, err = w.curl(w.url("a.test", "/noh2"), ["--http2"])
    check(rc == 0 and tail == "1.1 200", "--no-h2: curl --http2 got exit "
          "%d, %r, expected HTTP/1.1 200" % (rc, tail))


def _settings_differ(s, want):
    """What in SETTINGS s is not as in want; an absent setting has its
    RFC 9113 initial value."""
    rfc = {h2raw.INITIAL_WINDOW_SIZE: 65535}
    return ["id %#x is %r, expected %d" % (k, s.get(k, rfc.get(k)), v)
            for k, v in want.items() if s.get(k, rfc.get(k)) != v]


def test_settings_advertised(t):
    w = World(t)
    a = w.backend("a.test")
    d = w.start()
    c = w.h2()
    s = c.wait_settings()
    bad = _settings_differ(s, {h2raw.MAX_CONCURRENT_STREAMS: 128,
                               h2raw.MAX_HEADER_LIST_SIZE: 65536,
                               h2raw.ENABLE_CONNECT_PROTOCOL: 1,
                               h2raw.INITIAL_WINDOW_SIZE: 65535})
    check(c.wait(lambda: c.settings_acked, 3), "our SETTINGS never "
          "acknowledged")
    expect_ok(c.get("/s"), a, "GET after SETTINGS")
    d.check_restarts()
    check(d.stop() is None, "stopping the first daemon")

    d = w.start(extra=["--h2-max-streams", "4", "--h2-window", "100000",
                       "--h2-max-header-list", "20000"])
    c = w.h2()
    s = c.wait_settings()
    bad2 = _settings_differ(s, {h2raw.MAX_CONCURRENT_STREAMS: 4,
                                h2raw.INITIAL_WINDOW_SIZE: 100000,
                                h2raw.MAX_HEADER_LIST_SIZE: 20000})
    # --h2-max-streams is enforced once acknowledged: of 6 streams at
    # once, 4 are taken; nghttp2 refuses the others, or (as 1.52 does)
    # ends the connection with PROTOCOL_ERROR after the fourth
    c.wait(lambda: c.settings_acked, 3)
    n0 = a.count()
    sids = [c.request("GET", path="/sleep/0.5") for _ in range(6)]
    c.wait(lambda: all(c.stream(x).closed for x in sids), 5)
    res = [c.stream(x) for x in sids]
    ok = [st for st in res if st.status == 200]
    refused = [st for st in res if st.reset in (h2raw.REFUSED_STREAM,
                                                h2raw.PROTOCOL_ERROR)]
    if c.goaways:
        last, code, _ = c.goaways[-1]
        check(code == h2raw.PROTOCOL_ERROR and last == sids[3],
              "6 streams with --h2-max-streams 4: GOAWAY %r, expected "
              "PROTOCOL_ERROR after stream %d" % (c.goaways, sids[3]))
    else:
        check(len(ok) == 4 and len(refused) == 2, "6 streams with "
              "--h2-max-streams 4: %r" % res)
    check(a.count() - n0 <= 4, "--h2-max-streams 4: the backend got %d "
          "of 6 streams at once" % (a.count() - n0))
    check(not bad and not bad2, "SETTINGS by default: %s; with flags: %s"
          % ("; ".join(bad) or "right", "; ".join(bad2) or "right"))


def test_h2c_prior_knowledge(t):
    a = EchoBackend(t, "app")
    hp = closed_port()
    d = t.daemon(workers=1, extra_args=[
        "--backend", "a.test=" + a.addr, "--http-addr",
        "127.0.0.1:%d" % hp, "--http-proxy", "--h2c"]).start()
    url = "http://a.test:%d/h2c" % hp
    r = t.run(["curl", "-sS", "--noproxy", "*", "--max-time", "10",
               "--http2-prior-knowledge", "--resolve",
               "a.test:%d:127.0.0.1" % hp, "-o", "-", "-w",
               "\n%{http_version} %{http_code}", url], timeout=15)
    check(r.returncode == 0, "curl --http2-prior-knowledge: exit %d: %s"
          % (r.returncode, r.stderr[:200]))
    body, _, tail = r.stdout.rpartition("\n")
    check(tail == "2 200", "h2c prior knowledge: %r, expected '2 200'"
          % tail)
    info = json.loads(body)
    check(info["path"] == "/h2c" and info["version"] == "HTTP/1.1",
          "the backend saw %s %s" % (info["path"], info["version"]))
    check(header_map(info).get("x-forwarded-proto") == ["http"],
          "X-Forwarded-Proto %r over h2c" %
          header_map(info).get("x-forwarded-proto"))
    c = h2raw.H2.plain(hp)
    t.defer(c.close)
    st = c.get("/raw", authority="a.test", scheme="http")
    expect_ok(st, a, "h2raw over h2c")
    # the preface, SETTINGS and a request in one write, and no more
    c = h2raw.H2.plain(hp, preface=False)
    t.defer(c.close)
    c.send(h2raw.PREFACE + h2raw.settings_frame() + h2raw.headers_frames(
        1, c.hpack.encode([(":method", "GET"), (":scheme", "http"),
                           (":authority", "a.test"), (":path", "/one")])))
    try:
        st = c.response(1, timeout=3)
    except h2raw.H2Error as e:
        fail("h2c preface and request in one write: %s" % e)
    expect_ok(st, a, "h2c preface and request in one write")
    # an HTTP/1.1 Upgrade: h2c is never honoured
    s = t.connect(hp, timeout=5)
    s.sendall(b"GET /up HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, "
              b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: "
              b"AAMAAABkAAQAAP__\r\n\r\n")
    resp = read_response(s.makefile("rb"))
    check(resp.status == 200, "Upgrade: h2c on the h2c listener: status "
          "%d, expected 200 over HTTP/1.1" % resp.status)
    hm = header_map(resp.json())
    check("upgrade" not in hm and "http2-settings" not in hm,
          "Upgrade: h2c reached the backend: %r" % hm)
    d.check_restarts()
    check(d.stop() is None, "stopping the h2c daemon")

    # without --h2c the preface gets the HTTP/1.1 error it always got
    d = t.daemon(workers=1, extra_args=[
        "--backend", "a.test=" + a.addr, "--http-addr",
        "127.0.0.1:%d" % hp, "--http-proxy"]).start()
    n = a.count()
    resp = request(hp, h2raw.PREFACE + h2raw.settings_frame())
    check(resp.status == 505, "HTTP/2 preface without --h2c: status %d, "
          "expected the HTTP/1.1 505" % resp.status)
    r = t.run(["curl", "-sS", "--noproxy", "*", "--max-time", "5",
               "--http2-prior-knowledge", "--resolve",
               "a.test:%d:127.0.0.1" % hp, "-o", "/dev/null", "-w",
               "%{http_version} %{http_code}", url], timeout=10)
    check(r.returncode != 0 or not r.stdout.startswith("2 2"),
          "without --h2c curl --http2-prior-knowledge got %r" % r.stdout)
    check(a.count() == n, "a refused h2c preface reached the backend")


# ---------------------------------------------------------------------
# streams as requests

def test_multiplexed_two_services_one_connection(t):
    w = World(t, names=("a.test", "b.test"))
    a = w.backend("a.test", name="app")
    b = w.backend("b.test", name="other")
    d = w.start()
    c = w.h2()
    t0 = time.monotonic()
    sids = [(c.request("GET", "a.test", "/sleep/0.8"), a),
            (c.request("GET", "b.test", "/sleep/0.8"), b),
            (c.request("GET", "a.test", "/bytes/300000"), None),
            (c.request("GET", "b.test", "/x?y=1"), b)]
    for sid, be in sids:
        st = c.response(sid)
        info = expect_ok(st, be, "stream %d" % sid)
        if info is not None:
            check(header_map(info).get("host") in (["a.test"],
                                                   ["b.test"]) and
                  info["name"] == be.name, "stream %d: backend saw Host %r"
                  % (sid, header_map(info).get("host")))
    took = time.monotonic() - t0
    check(took < 1.5, "two 0.8 s requests on one connection took %.2f s: "
          "not concurrent" % took)
    big = c.streams[sids[2][0]]
    check(hashlib.sha256(big.data).hexdigest() == pattern_sha256(300000),
          "the 300000 bytes differ")
    # the same with nghttp, two URLs on one connection
    r = t.run(["nghttp", "-nv", "-H", ":authority: b.test",
               "https://127.0.0.1:%d/n1" % d.listen_port,
               "https://127.0.0.1:%d/n2" % d.listen_port], timeout=15)
    check(r.returncode == 0, "nghttp: exit %d: %s" % (r.returncode,
                                                      r.stderr[-300:]))
    out = r.stdout + r.stderr
    check(len(re.findall(r"\] Connected", out)) == 1, "nghttp opened %d "
          "connections" % len(re.findall(r"\] Connected", out)))
    check(len(re.findall(r":status: 200", out)) == 2, "nghttp: not two "
          "200s:\n%s" % out[-1500:])
    check(sum(1 for i in b.requests if i["path"] in ("/n1", "/n2")) == 2,
          "the b.test backend did not get /n1 and /n2")
    check(workers_sum(d, "h2_connections") == 1, "show workers counts %r "
          "h2 connections with one open" % workers_sum(d, "h2_connections"))


def test_routing_errors_per_stream(t):
    w = World(t, names=("a.test", "nowhere.test", "refused.test",
                        "silent.test"))
    a = w.backend("a.test")
    sb = RawBackend(t, silent, "silent")
    w.backend("refused.test", "127.0.0.1:%d" % closed_port())
    w.backend("silent.test", sb.addr)
    d = w.start(extra=["--upstream-timeout", "1"])
    c = w.h2()
    for auth, want in (("nowhere.test", (404,)), ("refused.test", (502,)),
                       ("refused.test", (503,)), ("silent.test", (504,)),
                       ("a.test", (200,))):
        st = c.get("/e", authority=auth)
        check(st.reset is None and st.status in want, ":authority %s: "
              "status %s reset %s, expected %s" % (auth, st.status,
                                                   st.reset, want))
    check(not c.goaways and not c.eof, "the connection did not live on: "
          "GOAWAY %r, %s" % (c.goaways, c.eof_error))
    check(a.count() == 1, "a.test backend saw %d requests" % a.count())


def test_misdirected_421(t):
    w = World(t, more=[("b.test",)])
    a = w.backend("a.test")
    b = w.backend("b.test")
    w.start()
    c = w.h2(sni="a.test")
    st = c.get("/mis", authority="b.test")
    check(st.status == 421, "SNI a.test, :authority b.test (another "
          "certificate): status %s reset %s, expected 421"
          % (st.status, st.reset))
    check(b.count() == 0, "the misdirected request reached b.test")
    expect_ok(c.get("/ok", authority="a.test"), a, "after a 421, same "
              "connection")
    c2 = w.h2(sni="b.test")
    expect_ok(c2.get("/ok", authority="b.test"), b, "SNI b.test")


def test_authority_host_mismatch_400(t):
    w = World(t, names=("a.test", "b.test"))
    a = w.backend("a.test")
    b = w.backend("b.test")
    w.start()
    c = w.h2()
    st = c.get("/mm", authority="a.test", headers=[("host", "b.test")])
    check(st.status == 400, ":authority a.test with host b.test: status "
          "%s reset %s, expected 400" % (st.status, st.reset))
    check(a.count() == 0 and b.count() == 0, "a request with two hosts "
          "reached a backend")
    info = expect_ok(c.get("/same", authority="a.test",
                           headers=[("host", "a.test")]), a,
                     ":authority and host alike")
    check(header_map(info).get("host") == ["a.test"], "Host at the "
          "backend: %r" % header_map(info).get("host"))


def test_forwarded_as_http11(t):
    w = World(t)
    a = w.backend("a.test")
    w.start()
    c = w.h2()
    st = c.get("/fwd?q=1", headers=[("cookie", "a=1"), ("cookie", "b=2"),
                                     ("cookie", "c=3"), ("x-kept", "yes")])
    info = expect_ok(st, a, "GET with three cookie fields")
    hm = header_map(info)
    check(info["version"] == "HTTP/1.1" and info["path"] == "/fwd?q=1",
          "backend saw %s %s" % (info["version"], info["path"]))
    check(hm.get("host") == ["a.test"], "Host %r, expected from "
          ":authority" % hm.get("host"))
    check(hm.get("cookie") == ["a=1; b=2; c=3"], "Cookie at the backend: "
          "%r, expected one field 'a=1; b=2; c=3'" % hm.get("cookie"))
    check(hm.get("x-kept") == ["yes"] and hm.get("x-forwarded-proto") ==
          ["https"], "fields at the backend: %r" % hm)
    check(not any(k.startswith(":") for k in hm), "pseudo-headers reached "
          "the backend: %r" % hm)
    # a body without content-length goes chunked, intact
    body = os.urandom(300000)
    sid = c.request("POST", path="/nolen", end_stream=False)
    c.send_data(sid, body[:100000])
    c.send_data(sid, body[100000:], end_stream=True)
    info = expect_ok(c.response(sid), a, "POST without content-length")
    check(info["body_chunked"] and info["body_len"] == len(body) and
          info["body_sha256"] == hashlib.sha256(body).hexdigest(),
          "body without content-length: chunked %s, %d bytes, sha256 %s"
          % (info["body_chunked"], info["body_len"], "differs"
             if info["body_sha256"] != hashlib.sha256(body).hexdigest()
             else "equal"))
    # and with one, as is
    sid = c.request("POST", path="/len", headers=[
        ("content-length", str(len(body)))], body=body)
    info = expect_ok(c.response(sid), a, "POST with content-length")
    check(not info["body_chunked"] and info["body_sha256"] ==
          hashlib.sha256(body).hexdigest(), "body with content-length: "
          "chunked %s" % info["body_chunked"])
    # response: lower-case names, no connection-specific fields
    st = c.get("/hop")
    expect_ok(st, what="GET /hop")
    names = [k for k, v in st.headers]
    check(all(k == k.lower() for k in names), "upper case in response "
          "field names: %r" % names)
    for k in ("connection", "keep-alive", "proxy-connection", "upgrade",
              "transfer-encoding", "x-hop-secret"):
        check(k not in names, "connection-specific field %s reached the "
              "h2 client: %r" % (k, st.headers))
    check(st.header("x-end-to-end") == "kept", "x-end-to-end: %r"
          % st.header("x-end-to-end"))
    check(not c.goaways and not c.eof, "connection ended: %r %s"
          % (c.goaways, c.eof_error))


def _trailer_backend(conn, be):
    """Reads a chunked request with its trailers; answers chunked with
    trailers of its own."""
    conn.settimeout(5)
    data = b""
    while b"\r\n0\r\n" not in data and not data.startswith(b"0\r\n") or \
            not data.endswith(b"\r\n\r\n"):
        b = conn.recv(65536)
        if not b:
            break
        data += b
    be.received.append(data)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                 b"Trailer: X-Checksum\r\nConnection: close\r\n\r\n"
                 b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: "
                 b"sum-42\r\nX-Other: two\r\n\r\n")


def test_trailers_both_ways(t):
    w = World(t)
    be = RawBackend(t, _trailer_backend, "trailers")
    w.backend("a.test", be.addr)
    w.start()
    c = w.h2()
    sid = c.request("POST", path="/tr", headers=[("te", "trailers")],
                    end_stream=False)
    c.send_data(sid, b"request body")
    c.send_trailers(sid, [("x-req-trailer", "rt-7"),
                          ("x-second", "2")])
    st = c.response(sid)
    check(st.reset is None and st.status == 200, "status %s reset %s"
          % (st.status, st.reset))
    check(bytes(st.data) == b"hello world", "body %r" % bytes(st.data))
    check(st.trailers is not None, "no trailing HEADERS frame (frames: "
          "%r)" % st.frames)
    tr = dict(st.trailers)
    check(tr.get("x-checksum") == "sum-42" and tr.get("x-other") == "two",
          "response trailers %r" % st.trailers)
    check(st.frames[-1][0] == h2raw.HEADERS and
          st.frames[-1][1] & h2raw.END_STREAM, "the trailers are not the "
          "last frame, with END_STREAM: %r" % st.frames)
    check(be.received, "the backend got nothing")
    raw = be.received[0]
    head, _, body = raw.partition(b"\r\n\r\n")
    check(re.search(rb"(?im)^transfer-encoding: *chunked", head),
          "the request with trailers went upstream without chunked: %r"
          % head)
    tail = body.lower()
    check(b"\r\n0\r\n" in tail and b"x-req-trailer: rt-7\r\n" in tail and
          b"x-second: 2\r\n" in tail, "request trailers at the backend: %r"
          % body[-200:])
    check(b"request body" in body, "request body at the backend: %r"
          % body[:200])


def test_header_list_limit_431(t):
    w = World(t)
    a = w.backend("a.test")
    w.start(extra=["--h2-max-header-list", "16384"])
    c = w.h2()
    check(c.wait_settings().get(h2raw.MAX_HEADER_LIST_SIZE) == 16384,
          "SETTINGS_MAX_HEADER_LIST_SIZE %r, expected 16384"
          % c.peer_settings.get(h2raw.MAX_HEADER_LIST_SIZE))
    base = [(":method", "GET"), (":scheme", "https"),
            (":authority", "a.test"), (":path", "/near")]

    def padded(total):
        pad = total - h2raw.header_list_size(base + [("x-pad", "")])
        return [("x-pad", "p" * pad)]
    near = padded(16384 - 64)
    check(h2raw.header_list_size(base + near) == 16384 - 64, "arithmetic")
    info = expect_ok(c.get("/near", headers=near), a, "a header list 64 "
                     "bytes under the limit")
    check(header_map(info).get("x-pad") == [near[0][1]], "x-pad reached "
          "the backend changed")
    n = a.count()
    over = padded(16384 + 64)
    st = c.get("/over", headers=over)
    check(st.status == 431, "a header list 64 bytes over the limit: status"
          " %s reset %s, expected 431" % (st.status, st.reset))
    check(a.count() == n, "the request over the limit reached the backend")
    # many small fields over the limit count the same
    many = [("x-f%03d" % i, "v" * 40) for i in range(250)]
    st = c.get("/many", headers=many)
    check(st.status == 431, "250 fields (%d bytes): status %s reset %s, "
          "expected 431" % (h2raw.header_list_size(many), st.status,
                            st.reset))
    check(not c.goaways and not c.eof, "the connection ended after a 431: "
          "%r %s" % (c.goaways, c.eof_error))
    expect_ok(c.get("/next"), a, "the next stream after two 431s")
    # a default limit of 64 KiB: 60 KiB of fields in HEADERS and three
    # CONTINUATION frames pass
    w.d.check_restarts()
    check(w.d.stop() is None, "stopping the first daemon")
    w.start()
    c = w.h2()
    big = [("x-big%d" % i, "b" * 15000) for i in range(4)]
    info = expect_ok(c.get("/big", headers=big), a, "60 KB of fields, "
                     "default limit")
    check(len(header_map(info).get("x-big3", [""])[0]) == 15000,
          "x-big3 at the backend")
    # cookies are joined into one field (RFC 9113 8.2.3), however large
    crumbs = [("cookie", "c%d=%s" % (i, "k" * 12000)) for i in range(4)]
    info = expect_ok(c.get("/cookies", headers=crumbs), a, "48 KB of "
                     "cookies in four fields")
    got = header_map(info).get("cookie", [])
    check(got == ["; ".join(v for _, v in crumbs)], "the backend's cookie "
          "fields: %d of them, %r..." % (len(got), [g[:20] for g in got]))


def test_upload_download_100mib(t):
    w = World(t)
    a = w.backend("a.test")
    d = w.start()
    wpid = d.child_pid("worker", 0)
    n = 100 * MIB
    # upload with curl: the backend checks what it got
    path = os.path.join(t.tmp, "up.bin")
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(100):
            blk = os.urandom(MIB)
            h.update(blk)
            f.write(blk)
    rc, body, tail, err = w.curl(w.url("a.test", "/up"), [
        "--http2", "-T", path], timeout=60)
    check(rc == 0 and tail == "2 200", "curl --http2 -T 100 MiB: exit %d, "
          "%r: %s" % (rc, tail, err[:200]))
    info = json.loads(body)
    check(info["body_len"] == n and info["body_sha256"] == h.hexdigest(),
          "100 MiB upload: backend got %d bytes, sha256 %s" % (
              info["body_len"], "equal" if info["body_sha256"] ==
              h.hexdigest() else "differs"))
    os.unlink(path)

    # a slow reader: 16 KiB of window every 10 ms for 3 s, while the
    # backend has 100 MiB to send
    c = w.h2(keep_data=False, auto_window=False)
    c.wait_settings()
    rss = RssPeak(wpid, t)
    sid = c.request("GET", path="/bytes/%d" % n)
    slow, granted = slow_read(c, sid, 3)
    check(slow <= granted, "slow reader: got %d bytes, its windows "
          "allowed %d" % (slow, granted))
    c.reset(sid)
    rss.check(32, "a slow h2 reader (%d bytes in 3 s)" % slow)

    # fast, with big windows, stalling now and then: checksum and memory
    c = w.h2(keep_data=False, settings={
        h2raw.INITIAL_WINDOW_SIZE: (1 << 31) - 1}, conn_window=(1 << 30))
    c.wait_settings()
    h = hashlib.sha256()
    state = {"next": 16 * MIB}
    c.on_data = lambda st, data: h.update(data)
    rss = RssPeak(wpid, t)
    sid = c.request("GET", path="/bytes/%d" % n)
    st = c.streams[sid]
    deadline = time.monotonic() + 60
    while not st.closed and time.monotonic() < deadline and not c.eof:
        c.read_some(1)
        if st.received >= state["next"]:
            state["next"] += 16 * MIB
            time.sleep(1)           # not reading: TCP pushes back
    check(st.ended and st.reset is None and st.status == 200,
          "100 MiB download: %r (%s)" % (st, c.eof_error or "open"))
    check(st.received == n, "downloaded %d bytes of %d" % (st.received, n))
    check(h.hexdigest() == pattern_sha256(n), "100 MiB download: sha256 "
          "differs")
    rss.check(32, "a 100 MiB h2 download with stalls")


def _slow_sink(conn, be):
    """Reads the request head, then 64 KiB every 50 ms until the peer
    goes; never answers."""
    head = read_head(conn)
    be.received.append(head[:200])
    be.sunk += max(0, len(head) - head.find(b"\r\n\r\n") - 4)
    conn.settimeout(0.2)
    while not be.stopping.is_set():
        time.sleep(0.05)
        try:
            b = conn.recv(65536)
        except socket.timeout:
            continue
        if not b:
            return
        be.sunk += len(b)


def test_fast_uploader_held_back(t):
    w = World(t, names=("a.test", "b.test"))
    be = RawBackend(t, _slow_sink, "slow-sink")
    be.sunk = 0
    w.backend("a.test", be.addr)
    echo = w.backend("b.test")
    # two streams: a connection window of little more than two windows
    d = w.start(extra=["--h2-max-streams", "2"])
    wpid = d.child_pid("worker", 0)
    c = w.h2()
    c.wait_settings()
    rss = RssPeak(wpid, t)
    sid = c.request("POST", path="/sink", end_stream=False)
    sent = c.send_for(sid, 4.0)
    sunk = be.sunk
    t.note("uploader sent %d bytes in 4 s, the backend read %d" % (
        sent, sunk))
    check(sent - sunk < 16 * MIB, "an uploader sent %d bytes in 4 s to a "
          "backend that read %d: not held back by the window" % (
              sent, sunk))
    check(sent > 65536, "the uploader could send only %d bytes: the "
          "window never reopened" % sent)
    rss.check(32, "a fast uploader against a slow backend")
    c.reset(sid)
    # what reset streams held of the connection's window comes back:
    # after three more, an upload on the same connection goes through
    for i in range(3):
        sid = c.request("POST", path="/sink%d" % i, end_stream=False)
        c.send_for(sid, 0.5)
        c.reset(sid)
    body = os.urandom(MIB)
    sid = c.request("POST", "b.test", "/after-resets", end_stream=False)
    try:
        c.send_data(sid, body, end_stream=True, timeout=5)
    except h2raw.H2Error as e:
        fail("1 MiB upload after four reset uploads, same connection: %s"
             % e)
    info = expect_ok(c.response(sid), echo, "upload after reset uploads")
    check(info["body_sha256"] == hashlib.sha256(body).hexdigest(),
          "the upload after the resets differs")


# ---------------------------------------------------------------------
# reloads and drains

def _reload_lines(d):
    return [l for l in d.log_lines(d.pid) if re.search(r"reload", l, re.I)]


def test_reload_mid_stream_no_goaway(t):
    w = World(t)
    a = w.backend("a.test")
    d = w.start(workers=1)
    before = {k: c["pid"] for k, c in d.child_map().items()}
    c = w.h2()
    expect_ok(c.get("/first"), a, "before the reload")
    sid = c.request("GET", path="/sleep/2")
    c.read_some(0.3)
    n0 = len(_reload_lines(d))
    d.signal(signal.SIGHUP)
    check(wait_until(lambda: len(_reload_lines(d)) > n0, 3, 0.05),
          "no reload logged after SIGHUP")
    d.ctl("reload")
    info = expect_ok(c.response(sid), a, "the stream in flight across two "
                     "reloads")
    check(info["path"] == "/sleep/2", "path %r" % info["path"])
    expect_ok(c.get("/after"), a, "a stream after the reloads, same "
              "connection")
    c.drain(0.5)
    check(not c.goaways, "a reload sent GOAWAY %r" % c.goaways)
    check(not c.eof, "a reload closed the h2 connection (%s)"
          % c.eof_error)
    now = {k: x["pid"] for k, x in d.child_map().items()}
    check(now == before, "children changed on reload: %r -> %r"
          % (before, now))


def test_sigterm_mid_stream_goaway(t):
    w = World(t)
    a = w.backend("a.test")
    d = w.start(workers=1, drain_timeout=5)
    c = w.h2()
    expect_ok(c.get("/first"), a, "stream 1")
    sid = c.request("GET", path="/sleep/1.5")
    big = c.request("GET", path="/bytes/3000000")
    c.read_some(0.3)
    d.check_restarts()      # before the stop, which takes the socket
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    check(c.wait(lambda: c.goaways, 1.5), "no GOAWAY within 1.5 s of "
          "SIGTERM (%s)" % (c.eof_error or "connection open"))
    took = time.monotonic() - t0
    # a stream opened after the first GOAWAY: served only if the last
    # GOAWAY's last-stream-id covers it
    late = c.request("GET", path="/late")
    st = c.response(sid, timeout=6)
    info = expect_ok(st, a, "the stream in flight at SIGTERM")
    check(info["path"] == "/sleep/1.5", "path %r" % info["path"])
    st = c.response(big, timeout=6)
    expect_ok(st, what="a 3 MB download in flight at SIGTERM")
    check(hashlib.sha256(st.data).hexdigest() == pattern_sha256(3000000),
          "the download in flight differs")
    c.drain(6)
    check(c.eof, "the connection stayed open after the drain")
    last, code, _ = c.goaways[-1]
    check(code == h2raw.NO_ERROR, "GOAWAY code %#x on SIGTERM" % code)
    served_late = any(i["path"] == "/late" for i in a.requests)
    if late <= last:
        check(c.streams[late].status == 200, "stream %d is within the last"
              " GOAWAY's last-stream-id %d but got %r" % (
                  late, last, c.streams[late]))
    else:
        check(not served_late, "stream %d reached the backend beyond the "
              "GOAWAY's last-stream-id %d" % (late, last))
        check(last == big, "the last GOAWAY says last-stream-id %d, the "
              "highest stream processed was %d (GOAWAYs %r)" % (
                  last, big, c.goaways))
    t.note("GOAWAY %.2f s after SIGTERM: %r" % (took, c.goaways))
    # drained, the daemon ends: its control socket goes with it, so the
    # harness must not ask it for its counters after the test
    check(d.wait_gone(d.drain_timeout + 2), "still running %d s after "
          "SIGTERM" % (d.drain_timeout + 2))
    d.stopped = True


# ---------------------------------------------------------------------
# real clients and counters

def test_h2load_smoke(t):
    w = World(t)
    a = w.backend("a.test")
    d = w.start(workers=2)
    for i in range(3):
        t0 = time.monotonic()
        r = t.run(["h2load", "-n", "2000", "-c", "10", "-m", "10",
                   "--connect-to=127.0.0.1:%d" % d.listen_port,
                   w.url("a.test", "/load")], timeout=60)
        out = r.stdout + r.stderr
        took = time.monotonic() - t0
        what = "h2load -n 2000 -c 10 -m 10, round %d (%.1f s)" % (i + 1,
                                                                  took)
        check(r.returncode == 0, "%s: exit %d: %s" % (what, r.returncode,
                                                      out[-800:]))
        check("Application protocol: h2" in out, "%s did not speak h2: %s"
              % (what, out[-800:]))
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                      r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
        check(m and m.group(4) == "2000" and m.group(5) == "0" and
              m.group(6) == "0", "%s: %s" % (what, m.group(0) if m else
                                             out[-800:]))
        m = re.search(r"status codes: (\d+) 2xx", out)
        check(m and m.group(1) == "2000", "%s: %s" % (
            what, m.group(0) if m else out[-800:]))
    check(a.count() >= 6000, "the backend saw %d requests" % a.count())


def test_show_workers_h2_keys(t):
    w = World(t)
    w.backend("a.test")
    d = w.start(workers=2)
    ws = d.workers_info()
    for x in ws:
        for k in ("id", "pid", "restarts", "connections", "requests",
                  "h1_connections", "h2_connections", "h2_streams"):
            check(k in x, "show workers -j lacks %r: %r" % (k, x))
    c = w.h2()
    sids = [c.request("GET", path="/sleep/1.5") for _ in range(3)]
    s1 = tls_connect(d.listen_port, "a.test", w.ca.cert,
                     alpn=["http/1.1"])
    t.defer(s1.close)
    s1.sendall(b"GET /h1 HTTP/1.1\r\nHost: a.test\r\n")

    def counted():
        return (workers_sum(d, "h2_connections") == 1 and
                workers_sum(d, "h2_streams") == 3 and
                workers_sum(d, "h1_connections") == 1)
    check(wait_until(counted, 1.2, 0.05), "show workers with one h2 "
          "connection of 3 open streams and one h1 connection: %r"
          % d.workers_info())
    for sid in sids:
        c.response(sid)
    check(wait_until(lambda: workers_sum(d, "h2_streams") == 0, 2, 0.05),
          "h2_streams after the streams ended: %r" % d.workers_info())
    c.close()
    s1.close()
    check(wait_until(lambda: workers_sum(d, "h2_connections") == 0 and
                     workers_sum(d, "h1_connections") == 0, 3, 0.05),
          "connections after both closed: %r" % d.workers_info())


# ---------------------------------------------------------------------
# WebSockets over HTTP/2 (RFC 8441)

class WSReader:
    """WebSocket frames parsed out of a stream's DATA: binary payloads
    hashed, other frames kept."""

    def __init__(self):
        self.buf = bytearray()
        self.frames = []            # (opcode, payload) but binary
        self.hash = hashlib.sha256()
        self.got = 0

    def feed(self, st, data):
        self.buf += data
        while len(self.buf) >= 2:
            op, b1 = self.buf[0] & 0x0f, self.buf[1]
            n, p = b1 & 0x7f, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, p = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, p = struct.unpack("!Q", self.buf[2:10])[0], 10
            key = None
            if b1 & 0x80:
                key, p = bytes(self.buf[p:p + 4]), p + 4
            if len(self.buf) < p + n:
                return
            payload = bytes(self.buf[p:p + n])
            del self.buf[:p + n]
            if key:
                payload = xor_mask(payload, key)
            if op == OP_BIN:
                self.hash.update(payload)
                self.got += len(payload)
            else:
                self.frames.append((op, payload))


def ws_world(t, extra=()):
    """A daemon serving ws.test from a WebSocket backend: (world, backend,
    daemon)."""
    w = World(t, names=("ws.test",))
    ws = WSBackend(t)
    w.backend("ws.test", ws.addr)
    return w, ws, w.start(extra=extra)


def ws_client(w, **kw):
    """An h2 connection to ws.test whose DATA a WSReader parses."""
    c = w.h2(sni="ws.test", **kw)
    rd = WSReader()
    c.on_data = rd.feed
    return c, rd


def ws_open(c, path, authority="ws.test"):
    sid = c.request("CONNECT", authority, path, end_stream=False,
                    extra_pseudo=[(":protocol", "websocket")],
                    headers=[("sec-websocket-version", "13")])
    st = c.stream(sid)
    c.wait(lambda: st.headers is not None or st.closed, 10)
    return sid, st


def test_websocket_over_h2_echo(t):
    w, ws, d = ws_world(t)
    c, rd = ws_client(w, keep_data=False)
    s = c.wait_settings()
    check(s.get(h2raw.ENABLE_CONNECT_PROTOCOL) == 1, "SETTINGS without "
          "ENABLE_CONNECT_PROTOCOL=1: %r" % s)
    sid, st = ws_open(c, "/echo")
    check(st.status == 200 and st.reset is None and not st.ended,
          "extended CONNECT: %r headers %r" % (st, st.headers))
    line, fields = ws.heads[0]
    check(line.startswith("GET /echo HTTP/1.1"), "the backend's request "
          "line %r" % line)
    check(fields.get("upgrade") == ["websocket"] and
          "upgrade" in fields.get("connection", [""])[0].lower() and
          fields.get("sec-websocket-version") == ["13"] and
          len(fields.get("sec-websocket-key", [""])[0]) == 24,
          "the backend's handshake: %r" % fields)
    check(fields.get("host") == ["ws.test"], "Host at the backend %r"
          % fields.get("host"))
    # 10 MiB each way, 64 KiB frames, checksums
    total = 10 * MIB
    sent = hashlib.sha256()
    out = []
    for i in range(total // 65536):
        part = os.urandom(65536)
        sent.update(part)
        out.append(ws_frame(OP_BIN, part))
    c.pump(sid, b"".join(out), lambda: rd.got >= total, timeout=60)
    check(rd.got == total and rd.hash.digest() == sent.digest(),
          "10 MiB echoed over h2: got %d bytes, sha256 %s" % (
              rd.got, "equal" if rd.hash.digest() == sent.digest()
              else "differs"))
    # the client closes: its close frame goes through, the backend's
    # comes back, the backend hangs up, the stream ends
    c.send(h2raw.data_frame(sid, ws_frame(OP_CLOSE, struct.pack(
        "!H", 1000))))
    check(c.wait(lambda: st.closed, 5), "the stream did not end after the "
          "close handshake: %r" % st)
    check((OP_CLOSE, struct.pack("!H", 1000)) in rd.frames, "no close "
          "frame back: %r (%r)" % (rd.frames[:3], st))
    check(wait_until(lambda: ws.closed_by_client == 1, 3), "the backend "
          "never saw the client's close")
    # END_STREAM alone closes too: the backend's connection ends
    n0 = len(ws.errors)
    sid, st = ws_open(c, "/echo")
    check(st.status == 200, "second CONNECT: %r" % st)
    c.send(h2raw.data_frame(sid, b"", end_stream=True))
    check(wait_until(lambda: len(ws.errors) > n0, 3), "END_STREAM did not "
          "close the backend's connection")
    check(c.wait(lambda: st.closed, 5), "the stream did not end after "
          "END_STREAM both ways: %r" % st)
    check(not c.goaways and not c.eof, "the connection ended: %r %s"
          % (c.goaways, c.eof_error))
    d.check_restarts()


def test_websocket_over_h2_close_and_reset(t):
    w = World(t, names=("ws.test", "bad.test"))
    ws = WSBackend(t)
    bad = RawBackend(t, _bad_accept, "bad-accept")
    w.backend("ws.test", ws.addr)
    w.backend("bad.test", bad.addr)
    w.start()
    c = w.h2(sni="ws.test")
    rd = WSReader()
    c.on_data = rd.feed
    # the backend closes
    sid, st = ws_open(c, "/close")
    check(st.status == 200, "CONNECT /close: %r" % st)
    check(c.wait(lambda: st.closed, 5), "the backend closed, the stream "
          "did not end: %r" % st)
    check(rd.frames and rd.frames[0][0] == OP_CLOSE, "no close frame from"
          " the backend: %r" % rd.frames)
    # a reset from the client reaches the backend as a close
    n0 = len(ws.errors)
    rd2 = WSReader()
    c.on_data = rd2.feed
    sid, st = ws_open(c, "/echo")
    check(st.status == 200, "CONNECT /echo: %r" % st)
    c.send(h2raw.data_frame(sid, ws_frame(OP_BIN, b"ping")))
    check(c.wait(lambda: rd2.got == 4, 5), "no echo of 4 bytes")
    c.reset(sid, h2raw.CANCEL)
    check(wait_until(lambda: len(ws.errors) > n0, 3), "RST_STREAM did not "
          "close the backend's connection")
    # a backend that answers with a wrong Sec-WebSocket-Accept
    sid, st = ws_open(c, "/bad", authority="bad.test")
    check(st.status != 200 and (st.status is not None or st.reset is not
                                None), "a wrong Sec-WebSocket-Accept: "
          "%r, expected an error status or RST_STREAM" % st)
    # the connection lives on
    sid, st = ws_open(c, "/echo")
    check(st.status == 200, "CONNECT after all that: %r" % st)
    check(not c.goaways and not c.eof, "the connection ended: %r %s"
          % (c.goaways, c.eof_error))


def test_websocket_over_h2_half_close(t):
    """END_STREAM is the tunnel's FIN (RFC 8441 5, RFC 9113 8.5): a
    client that sends its close frame with END_STREAM still gets the
    backend's close frame, then a clean end of the stream."""
    w, ws, d = ws_world(t)
    c, rd = ws_client(w)
    sid, st = ws_open(c, "/echo")
    check(st.status == 200, "CONNECT /echo: %r" % st)
    c.send(h2raw.data_frame(sid, ws_frame(OP_BIN, b"last words")))
    check(c.wait(lambda: rd.got == 10, 5), "no echo")
    c.send(h2raw.data_frame(sid, ws_frame(OP_CLOSE, struct.pack(
        "!H", 1000)), end_stream=True))
    check(c.wait(lambda: st.closed, 5), "the stream did not end: %r" % st)
    check(wait_until(lambda: ws.closed_by_client == 1, 3), "the backend "
          "never got the client's close frame")
    check((OP_CLOSE, struct.pack("!H", 1000)) in rd.frames, "the "
          "backend's close frame was lost after the client's END_STREAM "
          "(stream %r, frames %r)" % (st, st.frames))
    check(st.ended or st.reset in (h2raw.NO_ERROR, h2raw.CANCEL),
          "the stream ended with RST_STREAM %s, not END_STREAM" % st.reset)


def test_websocket_over_h2_idle_timeout(t):
    """--tunnel-idle-timeout holds over HTTP/2 too: traffic keeps a
    WebSocket open, silence ends its stream and its backend connection,
    and the client's connection lives on."""
    w, ws, d = ws_world(t, extra=["--tunnel-idle-timeout", "1"])
    c, rd = ws_client(w)
    sid, st = ws_open(c, "/echo")
    check(st.status == 200, "CONNECT /echo: %r" % st)
    for i in range(3):
        if i > 0:
            time.sleep(0.6)
        c.send(h2raw.data_frame(sid, ws_frame(OP_BIN, b"ping")))
        check(c.wait(lambda: rd.got == 4 * (i + 1), 5), "echo %d" % i)
    t0 = time.monotonic()       # the last traffic
    check(not st.closed, "a WebSocket with traffic every 0.6 s was ended "
          "by a 1 s idle timeout: %r" % st)
    n0 = len(ws.errors)
    check(c.wait(lambda: st.closed, 8), "an idle WebSocket over h2 was "
          "not ended: %r" % st)
    took = time.monotonic() - t0
    check(0.5 < took < 6, "ended after %.1f s of silence, with a 1 s "
          "timeout" % took)
    check(wait_until(lambda: len(ws.errors) > n0 or ws.closed_by_client,
                     3), "the backend's connection stayed open")
    sid, st = ws_open(c, "/echo")
    check(st.status == 200 and not c.goaways and not c.eof, "the "
          "connection after the timeout: %r %r" % (st, c.goaways))


def test_websocket_over_h2_slow_sides_bound_memory(t):
    """A WebSocket over h2 whose client opens its window slowly while
    the backend sends 64 MiB, and one whose backend reads slowly while
    the client sends: the worker's memory stays flat both ways."""
    w, ws, d = ws_world(t)
    wpid = d.child_pid("worker", 0)
    c = w.h2(sni="ws.test", keep_data=False, auto_window=False)
    c.wait_settings()
    rss = RssPeak(wpid, t)
    sid, st = ws_open(c, "/download/%d" % (64 * MIB))
    check(st.status == 200, "CONNECT /download: %r" % st)
    got, granted = slow_read(c, sid, 3)
    check(0 < got <= granted, "slow reader: got %d bytes, its windows "
          "allowed %d" % (got, granted))
    c.reset(sid)
    rss.check(32, "a slow WebSocket reader over h2 (%d bytes in 3 s)"
              % got)
    # the other way: the backend reads 64 KiB every 50 ms; the client's
    # window stops it, not the worker's memory
    c2 = w.h2(sni="ws.test")
    rss = RssPeak(wpid, t)
    sid, st = ws_open(c2, "/slowsink")
    check(st.status == 200, "CONNECT /slowsink: %r" % st)
    block = ws_frame(OP_BIN, os.urandom(65536)) * 256      # 16 MiB
    st2, sent = c2.stream(sid), 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4 and sent < len(block):
        n = min(len(block) - sent, c2.send_window, st2.send_window,
                c2.max_frame)
        if n > 0:
            c2.send(h2raw.data_frame(sid, block[sent:sent + n]))
            c2.send_window -= n
            st2.send_window -= n
            sent += n
            c2.read_some(0)
        else:
            c2.read_some(0.05)
    check(sent < 12 * MIB and not st2.closed, "a backend that reads 1.3 "
          "MiB/s took %d bytes in 4 s (%r): nothing pushed back" % (
              sent, st2))
    rss.check(32, "a slow WebSocket backend over h2 (%d bytes in 4 s)"
              % sent)


def _bad_accept(conn, be):
    be.received.append(read_head(conn))
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
                 b"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                 accept_key(b"not the key") + b"\r\n\r\n")
    time.sleep(0.5)


def test_requests_with_the_handshake_served(t):
    """A client's preface and first request in the same write as its
    TLS Finished, and nothing after: the session must start on what the
    handshake read along, with no further event from the socket."""
    w = World(t)
    a = w.backend("a.test")
    w.start()
    fields = [(":method", "GET"), (":scheme", "https"),
              (":authority", "a.test"), (":path", "/one-flight")]
    for i in range(5):
        c = h2raw.H2.tls_one_flight(w.d.listen_port, "a.test", w.ca.cert,
                                    fields)
        t.defer(c.close)
        try:
            st = c.response(1, timeout=3)
        except h2raw.H2Error as e:
            fail("try %d: preface and request sent with the TLS Finished:"
                 " %s" % (i + 1, e))
        expect_ok(st, a, "try %d: request sent with the TLS Finished"
                  % (i + 1))


def test_head_and_content_length_checks(t):
    w = World(t)
    a = w.backend("a.test")
    w.start()
    c = w.h2()
    st = c.response(c.request("HEAD", path="/bytes/1000"))
    check(st.status == 200 and st.header("content-length") == "1000" and
          st.received == 0 and st.ended, "HEAD: %r, content-length %r"
          % (st, st.header("content-length")))
    for status in (204, 304):
        st = c.get("/status/%d" % status)
        check(st.status == status and st.received == 0 and st.ended,
              "GET /status/%d: %r" % (status, st))
    # DATA that disagrees with content-length is malformed (RFC 9113
    # 8.1.1): the stream ends in error, the backend sees no request
    for declared, body in ((10, b"12345"), (5, b"1234567890")):
        sid = c.request("POST", path="/cl%d" % declared, headers=[
            ("content-length", str(declared))], end_stream=False)
        c.send(h2raw.data_frame(sid, body, end_stream=True))
        st = c.response(sid)
        check(st.reset is not None or (st.status is not None and
                                       400 <= st.status < 500),
              "content-length %d with %d bytes of DATA: %r" % (
                  declared, len(body), st))
        check(not any(i["path"] == "/cl%d" % declared for i in a.requests),
              "content-length %d with %d bytes: the backend took the "
              "request" % (declared, len(body)))
    expect_ok(c.get("/after"), a, "the connection after malformed streams")
