"""WebSockets (RFC 6455) through portero over HTTP/1.1: the upgrade is
carried only for "websocket", a 101 turns the exchange into a tunnel
with back-pressure both ways, an idle timeout of its own, and a close
from either side; any other upgrade is stripped or refused."""

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
import os
import socket
import struct
import threading
import time

from backends import (EchoBackend, TestCA, cert_folder, header_map,
                      make_cert_dir, read_response, tls_connect)
from harness import check, fail, proc_status, wait_until

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_BIN, OP_CLOSE = 0x2, 0x8


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(n - len(out), 1 << 20))
        if not b:
            raise EOFError("connection closed after %d of %d bytes"
                           % (len(out), n))
        out += b
    return bytes(out)


def send_frame(s, op, payload, mask):
    s.sendall(ws_frame(op, payload, mask))


def ws_frame(op, payload, mask=True):
    """One whole frame (FIN set), masked as a client's must be."""
    head = bytearray([0x80 | op])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 65536:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        head += key
        payload = xor_mask(payload, key)
    return bytes(head) + payload


def xor_mask(data, key):
    # numbers, not a Python loop a byte: frames of 64 KiB
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")) \
        .to_bytes(n, "big")


def read_frame(s):
    """(opcode, payload) of the next frame; masked or not."""
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    key = recv_exact(s, 4) if b1 & 0x80 else None
    data = recv_exact(s, n)
    if key:
        data = xor_mask(data, key)
    return b0 & 0x0f, data


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise EOFError("closed in a head: %r" % buf[:200])
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        fields.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], fields, rest


class WSBackend:
    """A WebSocket server on 127.0.0.1, a thread a connection.  Paths:
    /echo (each frame back), /download/N (N bytes in 64 KiB frames, then
    a close), /slowsink (reads 64 KiB every 50 ms, echoes nothing),
    /close (closes at once, cleanly), /refuse (403, no upgrade),
    /force101 (a 101 whatever was asked), /h2c (101 to h2c)."""

    def __init__(self, t):
        self.t = t
        self.heads = []
        self.closed_by_client = 0
        self.errors = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()
        t.defer(self.close)

    def close(self):
        self.stop = True
        try:
            # wakes the accepting thread: a bare close leaves the port
            # listening while accept() still holds it
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            with c:
                line, fields, rest = read_head(c)
                self.heads.append((line, fields))
                path = line.split()[1]
                if path == "/refuse":
                    c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: "
                              b"2\r\n\r\nno")
                    return
                key = fields.get("sec-websocket-key", [""])[0].encode()
                up = b"h2c" if path == "/h2c" else b"websocket"
                if path != "/force101" and path != "/h2c" and \
                        fields.get("upgrade") != ["websocket"]:
                    c.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                              b"Content-Length: 0\r\n\r\n")
                    return
                c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
                          + up + b"\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Accept: " + accept_key(key) +
                          b"\r\n\r\n")
                self._run(c, path)
        except (OSError, EOFError) as e:
            self.errors.append(str(e))

    def _run(self, c, path):
        if path == "/close":
            send_frame(c, OP_CLOSE, struct.pack("!H", 1000), False)
            return
        if path.startswith("/download/"):
            n = int(path.split("/")[2])
            chunk = os.urandom(65536)
            sent = 0
            while sent < n:
                part = chunk[:min(65536, n - sent)]
                send_frame(c, OP_BIN, part, False)
                sent += len(part)
            send_frame(c, OP_CLOSE, struct.pack("!H", 1000), False)
            return
        while True:
            op, data = read_frame(c)
            if op == OP_CLOSE:
                self.closed_by_client += 1
                send_frame(c, OP_CLOSE, data, False)
                return
            if path == "/slowsink":
                time.sleep(0.05)
                continue
            send_frame(c, op, data, False)


class BufSock:
    """A socket whose first reads return bytes already read."""

    def __init__(self, s, pending):
        self.s = s
        self.pending = pending

    def recv(self, n):
        if self.pending:
            out, self.pending = self.pending[:n], self.pending[n:]
            return out
        return self.s.recv(n)

    def __getattr__(self, name):
        return getattr(self.s, name)


def ws_connect(t, port, host, path, sock=None, extra=b""):
    """A WebSocket handshake through portero; (socket, status, fields)."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
    t.defer(s.close)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
              b"Sec-WebSocket-Version: 13\r\n%s\r\n" % (
                  path.encode(), host.encode(), key, extra))
    line, fields, rest = read_head(s)
    status = int(line.split()[1])
    if status == 101:
        check(fields.get("sec-websocket-accept") == [accept_key(key)
                                                       .decode()],
              "101 with Sec-WebSocket-Accept %r" %
              fields.get("sec-websocket-accept"))
    return BufSock(s, rest), status, fields


def _vmrss_kib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def _start(t, ws, extra=()):
    return t.daemon(workers=1, extra_args=[
        "--backend", "ws.test=" + ws.addr] + list(extra)).start()


def _echo_both_ways(s, total):
    """total bytes out in 64 KiB frames, read back concurrently; the
    sha256 of both sides."""
    sent = hashlib.sha256()
    errs = []

    def writer():
        try:
            left = total
            while left:
                part = os.urandom(min(65536, left))
                sent.update(part)
                send_frame(s, OP_BIN, part, True)
                left -= len(part)
        except OSError as e:
            errs.append(e)
    th = threading.Thread(target=writer)
    th.start()
    got, h = 0, hashlib.sha256()
    while got < total:
        op, data = read_frame(s)
        check(op == OP_BIN, "echo: opcode %d" % op)
        h.update(data)
        got += len(data)
    th.join()
    check(not errs, "writing frames: %r" % errs)
    return sent.hexdigest(), h.hexdigest()


def test_websocket_echo_10mib_both_ways(t):
    ws = WSBackend(t)
    d = _start(t, ws)
    s, status, fields = ws_connect(t, d.listen_port, "ws.test", "/echo")
    check(status == 101, "handshake through portero: status %d" % status)
    check(fields.get("upgrade") == ["websocket"] and "upgrade" in
          fields.get("connection", [""])[0].lower(), "101 fields: %r"
          % fields)
    a, b = _echo_both_ways(s, 10 << 20)
    check(a == b, "10 MiB echoed through the tunnel: sha256 differs")
    # a clean close from the client: the close comes back, then EOF
    send_frame(s, OP_CLOSE, struct.pack("!H", 1000), True)
    op, _ = read_frame(s)
    check(op == OP_CLOSE, "close answered with opcode %d" % op)
    s.settimeout(5)
    check(s.recv(1) == b"", "portero kept the connection after the close")
    check(wait_until(lambda: ws.closed_by_client == 1, 3), "the backend "
          "never saw the client's close")
    line, fields = ws.heads[0]
    check(fields.get("upgrade") == ["websocket"] and
          fields.get("sec-websocket-key") and
          fields.get("x-forwarded-for"), "the backend's handshake: %r"
          % fields)
    check(wait_until(lambda: " 101 " in d.log(), 3), "no access log line "
          "with 101 for the WebSocket")


def test_websocket_closed_by_backend(t):
    ws = WSBackend(t)
    d = _start(t, ws)
    s, status, _ = ws_connect(t, d.listen_port, "ws.test", "/close")
    check(status == 101, "status %d" % status)
    op, data = read_frame(s)
    check(op == OP_CLOSE and data == struct.pack("!H", 1000),
          "the backend's close frame: %d %r" % (op, data))
    s.settimeout(5)
    check(s.recv(1) == b"", "the client connection stayed open after the "
          "backend closed")
    # the worker is fine and serves the next one
    s2, status, _ = ws_connect(t, d.listen_port, "ws.test", "/echo")
    check(status == 101, "the next handshake: status %d" % status)


def _ws_requests(d, cls):
    """portero_requests_total of ws.test for a status class, as show
    stats -j says it."""
    for fam in d.ctl_json("show", "stats")["metrics"]:
        if fam["name"] == "portero_requests_total":
            return sum(s["value"] for s in fam["samples"]
                       if s["labels"].get("service") == "ws.test" and
                       s["labels"].get("class") == cls)
    fail("no portero_requests_total in show stats")


def test_websocket_counted_once(t):
    """A WebSocket is one request in the metrics, its 101, counted when
    the tunnel ends, once (the close after it is no second answer),
    whichever side ends it."""
    ws = WSBackend(t)
    d = _start(t, ws)
    s, status, _ = ws_connect(t, d.listen_port, "ws.test", "/close")
    check(status == 101, "status %d" % status)
    read_frame(s)
    s.settimeout(5)
    check(s.recv(1) == b"", "the tunnel did not end")
    s.close()
    check(wait_until(lambda: _ws_requests(d, "1xx") > 0, 3),
          "the WebSocket was not counted")
    time.sleep(0.3)
    n = _ws_requests(d, "1xx")
    check(n == 1, "one WebSocket counted %s times" % n)
    # ended by the client this time
    s, status, _ = ws_connect(t, d.listen_port, "ws.test", "/echo")
    check(status == 101, "status %d" % status)
    s.close()
    check(wait_until(lambda: _ws_requests(d, "1xx") > 1, 3),
          "the second WebSocket was not counted")
    time.sleep(0.3)
    n = _ws_requests(d, "1xx")
    check(n == 2, "two WebSockets counted %s times" % n)


def test_websocket_over_tls(t):
    ca = TestCA(t)
    certdir = make_cert_dir(t)
    cert_folder(t, ca, certdir, "ws.test")
    ws = WSBackend(t)
    d = t.daemon(workers=1, cert_dir=certdir, extra_args=[
        "--backend", "ws.test=" + ws.addr]).start()
    check(wait_until(lambda: _tls_ok(d.listen_port, ca), 5), "TLS never "
          "came up")
    tls = tls_connect(d.listen_port, "ws.test", ca.cert)
    tls.settimeout(10)
    s, status, _ = ws_connect(t, d.listen_port, "ws.test", "/echo",
                              sock=tls)
    check(status == 101, "over TLS: status %d" % status)
    # in lockstep: one SSL object may not read and write from two threads
    sent, got = hashlib.sha256(), hashlib.sha256()
    for i in range(32):
        part = os.urandom(65536)
        sent.update(part)
        send_frame(s, OP_BIN, part, True)
        op, data = read_frame(s)
        check(op == OP_BIN and len(data) == len(part), "frame %d: %d "
              "bytes, opcode %d" % (i, len(data), op))
        got.update(data)
    check(sent.digest() == got.digest(), "2 MiB over TLS: sha256 differs")


def _tls_ok(port, ca):
    try:
        tls_connect(port, "ws.test", ca.cert, timeout=2).close()
        return True
    except (OSError, Exception):
        return False


def test_other_upgrades_stripped(t):
    """h2c (and anything but websocket) is not carried: the backend sees
    an ordinary request, without Upgrade or HTTP2-Settings."""
    be = EchoBackend(t, "app")
    d = t.daemon(workers=1, extra_args=["--backend", "app.test=" +
                                        be.addr]).start()
    for up, conn in ((b"h2c", b"Upgrade, HTTP2-Settings"),
                     (b"websocket, h2c", b"Upgrade"),
                     (b"foo", b"Upgrade")):
        s = socket.create_connection(("127.0.0.1", d.listen_port),
                                     timeout=5)
        t.defer(s.close)
        s.sendall(b"GET /up HTTP/1.1\r\nHost: app.test\r\nUpgrade: %s\r\n"
                  b"Connection: %s\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                  b"\r\n" % (up, conn))
        r = read_response(s.makefile("rb"))
        check(r.status == 200, "Upgrade %s: status %d" % (up, r.status))
        hm = header_map(r.json())
        check("upgrade" not in hm and "http2-settings" not in hm,
              "Upgrade %s reached the backend with %r" % (up, hm))


def test_unasked_or_other_101_is_502(t):
    ws = WSBackend(t)
    d = _start(t, ws)
    # a plain request answered with 101
    s = socket.create_connection(("127.0.0.1", d.listen_port), timeout=5)
    t.defer(s.close)
    s.sendall(b"GET /force101 HTTP/1.1\r\nHost: ws.test\r\n\r\n")
    r = read_response(s.makefile("rb"))
    check(r.status == 502, "a 101 nobody asked for: status %d" % r.status)
    # a WebSocket asked, h2c agreed
    s2, status, _ = ws_connect(t, d.listen_port, "ws.test", "/h2c")
    check(status == 502, "websocket asked, 101 to h2c: status %d" % status)
    # a refusal is an ordinary response
    s3, status, _ = ws_connect(t, d.listen_port, "ws.test", "/refuse")
    check(status == 403, "the backend's refusal: status %d" % status)


def test_tunnel_idle_timeout(t):
    ws = WSBackend(t)
    d = _start(t, ws, ["--tunnel-idle-timeout", "1"])
    s, status, _ = ws_connect(t, d.listen_port, "ws.test", "/echo")
    check(status == 101, "status %d" % status)
    # traffic keeps it open past the timeout
    for i in range(3):
        send_frame(s, OP_BIN, b"ping%d" % i, True)
        check(read_frame(s) == (OP_BIN, b"ping%d" % i), "echo %d" % i)
        time.sleep(0.6)
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        gone = s.recv(1) == b""
    except OSError:
        gone = True
    took = time.monotonic() - t0
    check(gone and took < 8, "an idle tunnel was not closed (after %.1f s)"
          % took)


def test_slow_reader_bounds_memory(t):
    """A client that reads slowly while the backend sends 64 MiB, and a
    backend that reads slowly while the client sends: the worker's
    memory stays flat, since each direction has one bounded buffer."""
    ws = WSBackend(t)
    d = _start(t, ws)
    wpid = d.child_pid("worker", 0)
    s, status, _ = ws_connect(t, d.listen_port, "ws.test", "/download/%d"
                              % (64 << 20))
    check(status == 101, "status %d" % status)
    base = _vmrss_kib(wpid)
    peak, got = base, 0
    s.settimeout(30)
    while True:
        op, data = read_frame(s)
        if op == OP_CLOSE:
            break
        got += len(data)
        if got % (8 << 20) < 65536:
            time.sleep(0.3)         # stall: the backend keeps sending
            peak = max(peak, _vmrss_kib(wpid))
    check(got == 64 << 20, "downloaded %d bytes" % got)
    check((peak - base) / 1024.0 < 32, "worker VmRSS grew %.1f MiB with a "
          "slow WebSocket reader" % ((peak - base) / 1024.0))
    # the other way: the backend reads a frame every 50 ms
    s2, status, _ = ws_connect(t, d.listen_port, "ws.test", "/slowsink")
    check(status == 101, "status %d" % status)
    s2.settimeout(0.5)
    sent, stuck = 0, False
    frame = os.urandom(65536)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 6 and sent < (64 << 20):
        try:
            send_frame(s2, OP_BIN, frame, True)
            sent += len(frame)
        except socket.timeout:
            stuck = True
            break
    peak = max(peak, _vmrss_kib(wpid))
    check(stuck, "64 MiB went into a backend that reads 1.3 MiB/s: "
          "nothing pushed back")
    check((peak - base) / 1024.0 < 32, "worker VmRSS grew %.1f MiB with a "
          "slow WebSocket backend" % ((peak - base) / 1024.0))
