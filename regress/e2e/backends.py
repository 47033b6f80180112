"""
backends.py: what the proxy tests put behind and in front of portero.

Backends run as threads of the test process, on 127.0.0.1 only, and are
stopped at the test's cleanup (Context.defer):

  EchoBackend   HTTP/1.1 with keep-alive (optionally over TLS) that answers
                JSON describing the request it got (its name and port, the
                method, target, every header field, body length and
                sha256), and a few special paths:
                  /bytes/N[?chunked]  N bytes of pattern_bytes(), streamed
                  /sleep/S            answer after S seconds
                  /status/N           an empty answer with status N
                  /hop                an answer carrying hop-by-hop fields
                  /close-after-head   a head promising a body, then close
                  /split              the head, then 100 ms later the body
                  ...?close           answer with Connection: close
                Setting .sick to a status makes it answer every request
                with that status and an empty body.
  RawBackend    a TCP listener that runs a function on each connection
                (for silent, malformed or scripted upstreams).

Certificates are made with the openssl command in the test's temporary
directory: TestCA issues server certificates (ECDSA P-256 or RSA, any
names, valid or expired) and cert_folder() lays them out as portero's
certificate directory wants them.

Client helpers: read_response() reads one HTTP/1.1 response off a socket
file by its framing; tls_connect() opens a verified TLS connection.
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
import http.server
import json
import os
import re
import select
import socket
import socketserver
import ssl
import subprocess
import threading
import time

import harness
from harness import check, fail

# ---------------------------------------------------------------------
# deterministic content

PATTERN_PERIOD = 65521                 # a prime: misplaced blocks show
_PATTERN = bytes((i * 131 + (i >> 7) + 17) & 0xff
                 for i in range(PATTERN_PERIOD))
_BIG = _PATTERN * ((1 << 20) // PATTERN_PERIOD + 2)


def pattern_bytes(offset, n):
    """n bytes of the test pattern, starting at offset (n <= 1 MiB)."""
    o = offset % PATTERN_PERIOD
    return _BIG[o:o + n]


def pattern_sha256(n):
    h = hashlib.sha256()
    off = 0
    while off < n:
        k = min(1 << 20, n - off)
        h.update(pattern_bytes(off, k))
        off += k
    return h.hexdigest()


# ---------------------------------------------------------------------
# the HTTP/1.1 echo backend

# http.server refuses more than 100 fields; the proxy adds its own three
# X-Forwarded-* to a client's 100, so the backend must take more.
http.client._MAXHEADERS = 1000

class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self):
        # HTTPServer.server_bind looks up the host name: not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        be = self.backend
        with be.lock:
            be.conns.add(sock)
            be.connections += 1
        if be.tls_ctx is not None:
            hello = client_hello_peek(sock) if be.peek_hello else None
            # the handshake happens in the handler's thread, on first use
            try:
                sock = be.tls_ctx.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
            sock.client_hello = hello
            with be.lock:
                be.conns.add(sock)
        return sock, addr

    def handle_error(self, request, client_address):
        import sys
        e = sys.exc_info()[1]
        self.backend.errors.append("%s: %s" % (type(e).__name__, e))

    def shutdown_request(self, request):
        with self.backend.lock:
            self.backend.conns.discard(request)
        super().shutdown_request(request)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "echo-backend"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def parse_request(self):
        be = self.server.backend
        with be.lock:
            be.request_lines.append(self.raw_requestline)
        return super().parse_request()

    def setup(self):
        super().setup()
        if self.server.backend.tls_ctx is not None:
            try:
                self.connection.do_handshake()
            except (OSError, ssl.SSLError) as e:
                self.server.backend.tls_errors.append(str(e))
                self.close_connection = True
                raise
            hello = getattr(self.connection, "client_hello", None) or {}
            with self.server.backend.lock:
                self.server.backend.tls_conns.append({
                    "sni": hello.get("sni"),
                    "offered": hello.get("offered"),
                    "resumed": self.connection.session_reused})

    # --- the body

    def _read_body(self):
        """(length, sha256 hex, chunked?, first bytes) of the body."""
        h = hashlib.sha256()
        n = 0
        first = b""
        te = self.headers.get("Transfer-Encoding")
        if te is not None and te.strip().lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("EOF in chunk size")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:     # trailers
                        tl = self.rfile.readline(8192)
                        if tl in (b"\r\n", b"\n", b""):
                            break
                    break
                while size > 0:
                    b = self.rfile.read(min(size, 1 << 16))
                    if not b:
                        raise ConnectionError("EOF in chunk")
                    if len(first) < 256:
                        first += b[:256 - len(first)]
                    h.update(b)
                    n += len(b)
                    size -= len(b)
                if self.rfile.readline(16) not in (b"\r\n", b"\n"):
                    raise ConnectionError("no CRLF after chunk")
            return n, h.hexdigest(), True, first
        cl = self.headers.get("Content-Length")
        left = int(cl) if cl is not None else 0
        while left > 0:
            b = self.rfile.read(min(left, 1 << 16))
            if not b:
                raise ConnectionError("EOF in body")
            if len(first) < 256:
                first += b[:256 - len(first)]
            h.update(b)
            n += len(b)
            left -= len(b)
        return n, h.hexdigest(), False, first

    # --- dispatch

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def do_HEAD(self):
        self._serve()

    def _send_head(self, status, fields, close=False):
        self.send_response_only(status)
        self.send_header("X-Backend", self.server.backend.name)
        for k, v in fields:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _serve(self):
        be = self.server.backend
        try:
            length, digest, chunked, first = self._read_body()
        except (ConnectionError, ValueError) as e:
            be.errors.append("body: %s" % e)
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        info = {
            "name": be.name,
            "port": be.port,
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": length,
            "body_sha256": digest,
            "body_chunked": chunked,
            "body_start": first[:64].decode("latin-1"),
            "client_port": self.client_address[1],
        }
        if be.tls_ctx is not None:
            info["tls_resumed"] = self.connection.session_reused
            peer = self.connection.getpeercert()
            if peer:
                info["tls_client"] = ",".join(
                    "%s=%s" % kv for rdn in peer["subject"] for kv in rdn)
        with be.lock:
            be.requests.append(info)
        close = "close" in query.split("&")
        head = self.command == "HEAD"
        if be.sick is not None:
            # a sick backend answers every request with this status
            self._send_head(be.sick, [("Content-Length", "0")], close)
            return

        m = re.fullmatch(r"/bytes/(\d+)", path)
        if m:
            n = int(m.group(1))
            if "chunked" in query.split("&"):
                self._send_head(200, [
                    ("Content-Type", "application/octet-stream"),
                    ("Transfer-Encoding", "chunked")], close)
                if head:
                    return
                off = 0
                while off < n:
                    k = min(1 << 16, n - off)
                    self.wfile.write(b"%x\r\n" % k + pattern_bytes(off, k)
                                     + b"\r\n")
                    off += k
                self.wfile.write(b"0\r\n\r\n")
                return
            self._send_head(200, [
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", str(n))], close)
            if head:
                return
            off = 0
            while off < n:
                k = min(1 << 18, n - off)
                self.wfile.write(pattern_bytes(off, k))
                off += k
            return
        m = re.fullmatch(r"/sleep/([\d.]+)", path)
        if m:
            time.sleep(float(m.group(1)))
        m = re.fullmatch(r"/status/(\d{3})", path)
        if m:
            st = int(m.group(1))
            fields = [("ETag", '"x"')] if st == 304 else []
            if st not in (204, 304) and not (100 <= st < 200):
                fields.append(("Content-Length", "0"))
            self._send_head(st, fields, close)
            return
        if path == "/close-after-head":
            self._send_head(200, [("Content-Length", "1000")])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        body = (json.dumps(info) + "\n").encode()
        fields = [("Content-Type", "application/json"),
                  ("Content-Length", str(len(body)))]
        if path == "/split":
            # head and body in two writes 100 ms apart
            self._send_head(200, fields, close)
            self.wfile.flush()
            time.sleep(0.1)
            if not head:
                self.wfile.write(body)
            return
        if path == "/hop":
            fields += [("Connection", "X-Hop-Secret"),
                       ("X-Hop-Secret", "1"),
                       ("Keep-Alive", "timeout=5, max=100"),
                       ("Proxy-Connection", "keep-alive"),
                       ("Upgrade", "h2c"),
                       ("X-End-To-End", "kept")]
        self._send_head(200, fields, close)
        if not head:
            self.wfile.write(body)


class _Server6(_Server):
    address_family = socket.AF_INET6


class EchoBackend:
    """An HTTP/1.1 echo server on 127.0.0.1 (or host "::1") in threads.
    tls: a (certfile, keyfile) pair to serve HTTPS.  tls_conns lists each
    TLS connection's handshake: its SNI and whether it offered a session
    (with peek_hello, read off the ClientHello; else None) and resumed.
    client_ca: a CA file; TLS clients must then show a certificate it
    issued, and each request's info has its subject ("tls_client").
    """

    def __init__(self, t, name, tls=None, port=0, host="127.0.0.1",
                 peek_hello=False, client_ca=None):
        self.t = t
        self.name = name
        self.lock = threading.Lock()
        self.requests = []          # one info dict per request served
        self.request_lines = []     # every request line parsed
        self.errors = []
        self.tls_errors = []
        self.tls_conns = []
        self.peek_hello = peek_hello
        self.snis = []
        self.conns = set()
        self.connections = 0
        self.sick = None            # a status to answer everything with
        self.tls_ctx = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            ctx.sni_callback = self._sni_cb
            if client_ca is not None:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(client_ca)
            self.tls_ctx = ctx
        v6 = ":" in host
        self.server = (_Server6 if v6 else _Server)((host, port), _Handler)
        self.server.backend = self
        self.port = self.server.server_address[1]
        self.addr = ("[%s]:%d" if v6 else "%s:%d") % (host, self.port)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       name="backend-" + name, daemon=True)
        self.thread.start()
        self.stopped = False
        t.defer(self.stop)

    def _sni_cb(self, sslobj, name, ctx):
        with self.lock:
            self.snis.append(name)
        return None

    def count(self):
        with self.lock:
            return len(self.request_lines)

    def stop(self):
        """Stop listening and cut every open connection (as if killed)."""
        if self.stopped:
            return
        self.stopped = True
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns = list(self.conns)
            self.conns.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(2)

    def __repr__(self):
        return "EchoBackend(%s, %s)" % (self.name, self.addr)


def client_hello(sni="a.test"):
    """The bytes of a TLS ClientHello for sni, as Python's ssl makes it,
    for tests that send one by hand (whole, cut short, or slowly)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    so = ctx.wrap_bio(inb, outb, server_hostname=sni)
    try:
        so.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def parse_client_hello(data):
    """{"sni": name or None, "offered": bool} of a TLS ClientHello
    record, or None if data is not a whole one.  A client offers a
    session with a pre_shared_key (TLS 1.3) or a non-empty session_ticket
    extension (TLS 1.2); TLS 1.3 clients send a random session id
    anyway, so the id says nothing."""
    if len(data) < 9 or data[0] != 22 or data[5] != 1:
        return None
    end = 5 + int.from_bytes(data[3:5], "big")
    if len(data) < end:
        return None
    p = 9 + 2 + 32
    p += 1 + data[p]                                    # session id
    p += 2 + int.from_bytes(data[p:p + 2], "big")       # cipher suites
    p += 1 + data[p]                                    # compression
    xend = p + 2 + int.from_bytes(data[p:p + 2], "big")
    p += 2
    out = {"sni": None, "offered": False}
    while p + 4 <= xend:
        typ = int.from_bytes(data[p:p + 2], "big")
        n = int.from_bytes(data[p + 2:p + 4], "big")
        body = data[p + 4:p + 4 + n]
        if typ == 0 and len(body) >= 5:
            k = int.from_bytes(body[3:5], "big")
            out["sni"] = body[5:5 + k].decode("ascii", "replace")
        elif typ == 41 or (typ == 35 and n > 0):
            out["offered"] = True
        p += 4 + n
    return out


def client_hello_peek(sock, timeout=5.0):
    """The ClientHello waiting on a new socket, parsed, left unread."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.05)
        if not r:
            continue
        try:
            data = sock.recv(16384, socket.MSG_PEEK)
        except OSError:
            return None
        if not data:
            return None
        hello = parse_client_hello(data)
        if hello is not None:
            return hello
    return None


# ---------------------------------------------------------------------
# a raw TCP backend

def read_head(conn, timeout=5.0):
    """Read from conn until a blank line; returns the bytes (b"" on EOF
    or timeout)."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            b = conn.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, OSError):
        pass
    return data


class RawBackend:
    """A listener that calls fn(conn, backend) on each accepted
    connection in its own thread, then closes it.  Counts connections
    and keeps every byte fn reports in .received."""

    def __init__(self, t, fn, name="raw"):
        self.t = t
        self.fn = fn
        self.name = name
        self.lock = threading.Lock()
        self.connections = 0
        self.received = []
        self.conns = set()
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self._loop, daemon=True,
                                       name="raw-" + name)
        self.thread.start()
        t.defer(self.stop)

    def _loop(self):
        while not self.stopping.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.connections += 1
                self.conns.add(conn)
            threading.Thread(target=self._one, args=(conn,),
                             daemon=True).start()

    def _one(self, conn):
        try:
            self.fn(conn, self)
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_stopping(self, timeout):
        return self.stopping.wait(timeout)


def silent(conn, be):
    """Read the request, never answer; hold the connection until the
    peer goes or the backend stops."""
    be.received.append(read_head(conn))
    conn.settimeout(0.1)
    while not be.stopping.is_set():
        try:
            if not conn.recv(65536):
                return
        except socket.timeout:
            continue


def garbage(conn, be):
    """Answer the request with something that is not HTTP."""
    be.received.append(read_head(conn))
    conn.sendall(b"this is not an HTTP response\r\n\x00\x01\x02\r\n\r\n")
    time.sleep(0.2)


def scripted(*answers, pause=0.05):
    """A RawBackend function: read the request head, send each of answers
    (bytes) in turn, pause seconds apart, then close.  The last answer
    should say Connection: close, so that the proxy does not pool the
    connection."""
    def fn(conn, be):
        be.received.append(read_head(conn))
        for i, a in enumerate(answers):
            if i:
                time.sleep(pause)
            conn.sendall(a)
    return fn


def closed_port():
    """A loopback port nothing listens on (connect is refused)."""
    for _ in range(20):
        p = harness.free_ports(1)[0]
        if harness.connect_refused(p):
            return p
    fail("could not find a closed port")


# ---------------------------------------------------------------------
# certificates

def _openssl(t, args, cwd=None, timeout=30):
    r = t.run(["openssl"] + args, timeout=timeout) if cwd is None else \
        _run_in(t, ["openssl"] + args, cwd, timeout)
    check(r.returncode == 0, "openssl %s: exit %d: %s" % (
        " ".join(args)[:200], r.returncode, r.stderr.strip()[-400:]))
    return r


def _run_in(t, argv, cwd, timeout):
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout, env=t.env(), cwd=cwd,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail("%s timed out" % " ".join(argv)[:160])


def _newkey_args(kind):
    if kind == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    raise ValueError(kind)


class TestCA:
    """A throw-away certificate authority in DIR (default: the test's
    temporary directory/ca-NAME)."""

    def __init__(self, t, name="portero test CA", dirname=None):
        self.t = t
        self.dir = dirname or os.path.join(
            t.tmp, "ca-" + re.sub(r"[^a-z0-9]+", "-", name.lower()))
        os.makedirs(os.path.join(self.dir, "new"), exist_ok=True)
        self.cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca.key")
        self.n = 0
        _openssl(t, ["req", "-x509", "-nodes", "-days", "3", "-sha256",
                     "-subj", "/CN=" + name, "-keyout", self.key,
                     "-out", self.cert,
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
                 + _newkey_args("ec"))
        with open(os.path.join(self.dir, "index.txt"), "w"):
            pass
        with open(os.path.join(self.dir, "serial"), "w") as f:
            # an even number of hex digits, or openssl ca refuses it
            f.write("%016X\n" % (1 << 60 |
                                  int.from_bytes(os.urandom(7), "big")))
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = tca\n"
                    "[tca]\n"
                    "dir = %s\n"
                    "database = $dir/index.txt\n"
                    "new_certs_dir = $dir/new\n"
                    "serial = $dir/serial\n"
                    "certificate = $dir/ca.pem\n"
                    "private_key = $dir/ca.key\n"
                    "default_md = sha256\n"
                    "default_days = 3\n"
                    "policy = anything\n"
                    "unique_subject = no\n"
                    "copy_extensions = none\n"
                    "[anything]\ncommonName = supplied\n" % self.dir)
        os.chmod(self.dir, 0o755)
        os.chmod(self.cert, 0o644)

    def issue(self, cn, names=None, kind="ec", outdir=None, expired=False,
              key_format="pkcs8", eku="serverAuth", subject=None):
        """A server certificate for cn with DNS names (default [cn];
        "IP:192.0.2.1" makes an IP address name; [] none);
        returns (cert path, key path) in outdir (default: the CA's
        directory).  key_format: pkcs8, or traditional (SEC1 for EC,
        PKCS#1 for RSA).  eku="clientAuth" and a whole subject
        ("/O=.../CN=...") make a client certificate."""
        self.n += 1
        names = names if names is not None else [cn]
        outdir = outdir or os.path.join(self.dir, "issued%d" % self.n)
        os.makedirs(outdir, exist_ok=True)
        base = os.path.join(self.dir, "req%d" % self.n)
        key = os.path.join(outdir, "privkey.pem")
        cert = os.path.join(outdir, "cert.pem")
        _openssl(self.t, ["req", "-new", "-nodes", "-subj",
                          subject or "/CN=" + cn,
                          "-keyout", key, "-out", base + ".csr"]
                 + (["-utf8"] if subject else []) + _newkey_args(kind))
        if key_format == "traditional":
            _openssl(self.t, [kind, "-in", key, "-out", key + ".t"]
                     + (["-traditional"] if kind == "rsa" else []))
            os.replace(key + ".t", key)
        with open(base + ".ext", "w") as f:
            f.write("[ext]\nbasicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage = %s\n" % eku)
            if names:
                f.write("subjectAltName = %s\n" % ",".join(
                    n if n.startswith("IP:") else "DNS:" + n
                    for n in names))
        if expired:
            dates = ["-startdate", "20200101000000Z",
                     "-enddate", "20200201000000Z"]
        else:
            dates = ["-startdate", time.strftime(
                "%Y%m%d%H%M%SZ", time.gmtime(time.time() - 3600)),
                     "-days", "3"]
        _openssl(self.t, ["ca", "-batch", "-notext", "-config",
                          os.path.join(self.dir, "ca.cnf"),
                          "-extfile", base + ".ext", "-extensions", "ext",
                          "-in", base + ".csr", "-out", cert] + dates
                 + (["-preserveDN"] if subject else []))
        return cert, key

    def fingerprint(self, cert):
        return cert_fingerprint(self.t, cert)


def cert_fingerprint(t, cert):
    """SHA-256 fingerprint of a PEM certificate file, as lower-case hex
    without colons."""
    with open(cert) as f:
        pem = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  pem, re.S)
    check(m, "%s holds no certificate" % cert)
    der = ssl.PEM_cert_to_DER_cert(m.group(0))
    return hashlib.sha256(der).hexdigest()


def make_cert_dir(t, name="certs"):
    """An empty certificate directory readable by the daemon's children
    (they run as nobody when the tests run as root)."""
    d = os.path.join(t.tmp, name)
    os.makedirs(d, exist_ok=True)
    fix_cert_perms(d)
    return d


def fix_cert_perms(certdir):
    """Folders 0750 and files 0640, group nogroup when root, so the
    certloader (user nobody) reads them and nobody else does."""
    gid = harness.nobody_ids()[1] if harness.is_root() else -1
    for root, dirs, files in os.walk(certdir):
        os.chmod(root, 0o750)
        if gid != -1:
            os.chown(root, 0, gid)
        for f in files:
            p = os.path.join(root, f)
            os.chmod(p, 0o640)
            if gid != -1:
                os.chown(p, 0, gid)


def cert_folder(t, ca, certdir, domain, names=None, kind="ec",
                expired=False, key_format="pkcs8"):
    """certdir/<folder>/cert.pem + privkey.pem for domain ("*.x.y" makes
    the folder _wildcard.x.y).  Returns (cert, key, folder path)."""
    folder = domain.replace("*.", "_wildcard.", 1) \
        if domain.startswith("*.") else domain
    path = os.path.join(certdir, folder)
    tmp = os.path.join(ca.dir, "stage-" + folder)
    cert, key = ca.issue(domain, names or [domain], kind=kind, outdir=tmp,
                         expired=expired, key_format=key_format)
    os.makedirs(path, exist_ok=True)
    for src, dst in ((cert, "cert.pem"), (key, "privkey.pem")):
        with open(src, "rb") as f:
            data = f.read()
        write_atomic(os.path.join(path, dst), data)
    fix_cert_perms(certdir)
    return os.path.join(path, "cert.pem"), os.path.join(path,
                                                        "privkey.pem"), path


def cert_folders_fast(ca, certdir, domains):
    """certdir/<folder>/cert.pem + privkey.pem for each of domains (each
    a list of names, the first the folder's domain), ECDSA P-256 signed
    by ca, made in-process with python3-cryptography: hundreds in a
    second, where openssl(1) takes a few processes each.  Returns
    {domain: SHA-256 fingerprint}.  Skips the test without the
    module."""
    try:
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise harness.Skip("python3-cryptography is not installed")
    with open(ca.key, "rb") as f:
        cakey = serialization.load_pem_private_key(f.read(), None)
    with open(ca.cert, "rb") as f:
        cacert = x509.load_pem_x509_certificate(f.read())
    now = datetime.datetime.now(datetime.timezone.utc)
    fps = {}
    for names in domains:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(
                    NameOID.COMMON_NAME, names[0])]))
                .issuer_name(cacert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=3))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False,
                                                     path_length=None),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(cakey, hashes.SHA256()))
        d = names[0]
        path = os.path.join(certdir, d.replace("*.", "_wildcard.", 1)
                            if d.startswith("*.") else d)
        os.makedirs(path, exist_ok=True)
        write_atomic(os.path.join(path, "privkey.pem"), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        write_atomic(os.path.join(path, "cert.pem"),
                     cert.public_bytes(serialization.Encoding.PEM))
        fps[d] = hashlib.sha256(cert.public_bytes(
            serialization.Encoding.DER)).hexdigest()
    fix_cert_perms(certdir)
    return fps


def write_atomic(path, data):
    tmp = path + ".tmp~"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------
# clients

class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name lower, value)
        self.body = body
        self.version = version

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            fail("response %d is not JSON: %r" % (self.status,
                                                  self.body[:200]))

    def __repr__(self):
        return "<%d %s, %d body bytes>" % (self.status, self.reason,
                                            len(self.body))


def _readline(f):
    line = f.readline(65537)
    if not line:
        raise EOFError("connection closed")
    check(line.endswith(b"\r\n"), "response line not ended by CRLF: %r"
          % line[:200])
    return line[:-2]


def read_response(f, method="GET", informational=False, sink=None):
    """One response from the binary file f (sock.makefile("rb")), read
    by its framing.  1xx responses are skipped unless informational.
    sink(data) gets the body instead of keeping it."""
    while True:
        line = _readline(f)
        m = re.match(rb"(HTTP/1\.[01]) (\d{3})(?: (.*))?$", line)
        check(m, "bad status line %r" % line[:200])
        status = int(m.group(2))
        headers = []
        while True:
            hl = _readline(f)
            if hl == b"":
                break
            k, sep, v = hl.partition(b":")
            check(sep and k and k == k.strip(),
                  "bad response field %r" % hl[:200])
            headers.append((k.decode("latin-1").lower(),
                            v.strip().decode("latin-1")))
        resp = Response(status, (m.group(3) or b"").decode("latin-1"),
                        headers, b"", m.group(1).decode())
        if 100 <= status < 200 and not informational:
            continue
        break
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return resp
    chunks = []
    put = sink or chunks.append
    te = resp.get("transfer-encoding")
    if te is not None:
        check(te.lower() == "chunked", "response Transfer-Encoding %r" % te)
        while True:
            size = int(_readline(f).split(b";")[0], 16)
            if size == 0:
                while _readline(f) != b"":
                    pass
                break
            left = size
            while left:
                b = f.read(min(left, 1 << 18))
                if not b:
                    raise EOFError("EOF in chunk")
                put(b)
                left -= len(b)
            check(_readline(f) == b"", "no CRLF after chunk")
    elif resp.get("content-length") is not None:
        left = int(resp.get("content-length"))
        while left:
            b = f.read(min(left, 1 << 18))
            if not b:
                raise EOFError("EOF with %d body bytes missing" % left)
            put(b)
            left -= len(b)
    else:
        while True:
            b = f.read(1 << 18)
            if not b:
                break
            put(b)
    resp.body = b"".join(chunks)
    return resp


def request(port, raw, method="GET", timeout=5.0):
    """Send raw on a fresh connection; return the first response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        f = s.makefile("rb")
        try:
            return read_response(f, method)
        finally:
            f.close()
    finally:
        s.close()


def get(port, host, path="/", headers=(), timeout=5.0, method="GET"):
    raw = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
    raw += "".join("%s: %s\r\n" % kv for kv in headers)
    raw += "Connection: close\r\n\r\n"
    return request(port, raw.encode("latin-1"), method, timeout)


def header_map(info):
    """{lower name: [values]} of the fields a backend saw."""
    out = {}
    for k, v in info["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def wait_closed(s, timeout=3.0):
    """Read what is left until EOF or reset; Failure if the peer keeps
    the connection open.  Returns the bytes read."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout
    got = b""
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return got
        except ssl.SSLError:
            return got
        if not b:
            return got
        got += b
    fail("connection still open %.1f s later (read %r)" % (timeout,
                                                          got[:200]))


def tls_client_ctx(ca_file=None, verify=True, minv=None, maxv=None,
                   alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(ca_file)
        ctx.check_hostname = False   # checked by the tests, by name
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minv is not None:
        ctx.minimum_version = minv
    if maxv is not None:
        ctx.maximum_version = maxv
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, sni, ca_file=None, timeout=5.0, verify=True,
                **kw):
    """A TLS connection to 127.0.0.1:port with SNI sni (None: no SNI).
    Verifies the chain against ca_file, not the name."""
    ctx = tls_client_ctx(ca_file, verify, **kw)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


def peer_fingerprint(s):
    return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def peer_names(s):
    """(subject CN, [DNS SAN]) of the verified peer certificate."""
    c = s.getpeercert()
    cn = None
    for rdn in c.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    return cn, [v for k, v in c.get("subjectAltName", ()) if k == "DNS"]
