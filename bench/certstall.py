#!/usr/bin/env python3
"""certstall.py: how long a certificate change stalls portero's workers.

portero with a set of BENCH_CERT_DOMAINS (1,000) ECDSA P-256
certificates and BENCH_CERT_WORKERS (2) workers.  Nothing is pinned
unless BENCH_CERT_PIN is 1 (portero's tree on one CPU, the client on the
other, as bench.py does): on one CPU the parent relaying the set and the
certloader rescanning delay the workers by the scheduler's slices, which
is not the event-loop stall measured here.  The client holds
BENCH_CERT_CONNS (8) kept-alive TLS connections (both workers should
have some) and sends tiny requests on each, one in flight at a time,
the next BENCH_CERT_INTERVAL_MS (2) after the last (a host with no
service: portero answers 404 itself, no backend involved), one select
loop for all of them, and records how long each request waited for its
response.

Per round: a quiet window of BENCH_CERT_WINDOW (3) seconds, nothing
changed, for the noise floor; then a window in which one certificate is
replaced on disk and `porterod-ctl reload` makes the certloader send
the set again, which lasts until every worker has logged the new set
in service, plus a second.  The figure is the longest wait in each
window (ms): a worker busy with the set answers nobody meanwhile.  Rounds:
BENCH_CERT_ROUNDS (3), each changing another certificate.  The target
(issue 8): a change of one certificate stalls no worker for more than
10 ms.

Run alone (`python3 bench/certstall.py`, BENCH_PORTERO_BIN to measure
another build) or from bench.py, which appends the section to
RESULTS.md.
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

import datetime
import json
import os
import re
import select
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

B = None                # the bench module

NDOMAINS = int(os.environ.get("BENCH_CERT_DOMAINS", "1000"))
WORKERS = int(os.environ.get("BENCH_CERT_WORKERS", "2"))
CONNS = int(os.environ.get("BENCH_CERT_CONNS", "8"))
WINDOW = float(os.environ.get("BENCH_CERT_WINDOW", "3"))
PIN = int(os.environ.get("BENCH_CERT_PIN", "0"))
INTERVAL = float(os.environ.get("BENCH_CERT_INTERVAL_MS", "2")) / 1000
ROUNDS = int(os.environ.get("BENCH_CERT_ROUNDS", "3"))
TARGET_MS = 10.0
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)     # Linux
REQUEST = b"GET / HTTP/1.1\r\nHost: nothing.stall.test\r\n\r\n"
SET_RE = re.compile(r"worker (\d+): certificate set in service")
BUILT_RE = re.compile(r"worker \d+: certificate set in service: .*")


def make_certs(certdir, n):
    """n self-signed ECDSA P-256 pairs, d0000.stall.test and on; made
    in-process (python3-cryptography), a few seconds for a thousand."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def one(name):
        key = ec.generate_private_key(ec.SECP256R1())
        subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subj)
                .issuer_name(subj).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(name)]), critical=False)
                .sign(key, hashes.SHA256()))
        d = os.path.join(certdir, name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        for fn, data in (("privkey.pem", key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())),
                ("cert.pem", cert.public_bytes(
                    serialization.Encoding.PEM))):
            p = os.path.join(d, fn)
            with open(p + ".tmp~", "wb") as f:
                f.write(data)
            os.chmod(p + ".tmp~", 0o644)    # throw-away keys
            os.replace(p + ".tmp~", p)

    return one, ["d%04d.stall.test" % i for i in range(n)]


class Portero:
    def __init__(self, tmp, certdir):
        self.tmp = tmp
        self.certdir = certdir
        self.port = B.free_port()
        self.ctl_sock = os.path.join(tmp, "ctl.sock")
        self.log = os.path.join(tmp, "portero.log")
        state, empty = os.path.join(tmp, "state"), os.path.join(tmp, "empty")
        os.makedirs(state, exist_ok=True)
        os.makedirs(empty, exist_ok=True)
        if B.IS_ROOT:
            os.chown(tmp, B.NOBODY, B.NOBODY)
            os.chown(state, B.NOBODY, B.NOBODY)
        argv = [B.PORTERO, "-d", "-v", "--workers", str(WORKERS),
                "--listen-addr", "%s:%d" % (B.ADDR, self.port),
                "--tls-cert-dir", certdir, "--cert-scan-interval", "0",
                "--default-sni", "d0000.stall.test",
                "--access-log", "none", "--no-register",
                "--control-socket", self.ctl_sock, "--state-dir", state]
        if B.IS_ROOT:
            argv += ["--chroot-dir", empty, "--user", "nobody"]
        with open(self.log, "w") as f:
            self.proc = B.spawn(argv, B.PROXY_CPU if PIN else None,
                                stdout=f, stderr=f)

    def sets_in_service(self):
        """How many certificate sets each worker has logged."""
        n = {}
        with open(self.log, errors="replace") as f:
            for line in f:
                m = SET_RE.search(line)
                if m:
                    n[m.group(1)] = n.get(m.group(1), 0) + 1
        return n

    def built_lines(self):
        with open(self.log, errors="replace") as f:
            return [m.group(0) for m in map(BUILT_RE.search, f) if m]

    def ctl(self, *args):
        ctl = os.path.join(B.ROOT, "porterod-ctl", "porterod-ctl")
        rc, out, err = B.run([ctl, "-s", self.ctl_sock] + list(args),
                             B.LOAD_CPU, timeout=20)
        if rc != 0:
            raise RuntimeError("porterod-ctl %s: %s" % (" ".join(args),
                                                         err.strip()))
        return out

    def workers_open(self):
        out = json.loads(self.ctl("-j", "show", "workers"))
        return [w.get("connections", 0) for w in out["workers"]]

    def stop(self):
        B.stop(self.proc)


class Client:
    """CONNS kept-alive TLS connections, each with one tiny request in
    flight at a time, the next INTERVAL after the last was sent (or at
    once if it took longer): the load stays light, so that the quiet
    window shows the noise of the machine, not a queue.  The figure is
    the longest a request waited for its response, in seconds: a worker
    that blocks its event loop for t answers one of them after about
    t.  A response's time is when the kernel received it (SO_TIMESTAMP),
    so that the client's own scheduling, on a busy machine, does not
    count; TLS runs over memory BIOs to read that time with the
    bytes."""

    def __init__(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conns = []
        for i in range(CONNS):
            raw = socket.create_connection((B.ADDR, port), timeout=10)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            c = {"s": raw, "in": ssl.MemoryBIO(), "out": ssl.MemoryBIO(),
                 "buf": b"", "last": None, "due": None}
            c["tls"] = ctx.wrap_bio(c["in"], c["out"],
                                    server_hostname="d0001.stall.test")
            while True:
                try:
                    c["tls"].do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self.flush(c)
                    data = raw.recv(65536)
                    if not data:
                        raise RuntimeError("handshake: connection closed")
                    c["in"].write(data)
            self.flush(c)
            raw.setblocking(False)
            self.conns.append(c)

    @staticmethod
    def flush(c):
        data = c["out"].read()
        if data:
            was = c["s"].getblocking()
            c["s"].setblocking(True)
            c["s"].sendall(data)
            c["s"].setblocking(was)

    def send(self, c):
        c["tls"].write(REQUEST)
        self.flush(c)
        c["last"], c["due"] = time.time(), None

    def run(self, seconds, during=None):
        """Requests for at least seconds; during() is called once, after
        a second, and may return a predicate that ends the window (with
        one more second) once true.  Returns the longest wait and the
        number of responses."""
        t0 = time.monotonic()
        end = t0 + seconds
        worst, count, done = 0.0, 0, None
        called = during is None
        for c in self.conns:
            self.send(c)
        socks = {c["s"].fileno(): c for c in self.conns}
        while True:
            now = time.monotonic()
            for c in self.conns:
                if c["due"] is not None and time.time() >= c["due"]:
                    self.send(c)
            if not called and now - t0 >= 1.0:
                called = True
                done = during()
                end = max(end, now + 60)        # the predicate decides
            if done is not None and done():
                done = None
                end = time.monotonic() + 1.0
            if now >= end:
                break
            due = [c["due"] for c in self.conns if c["due"] is not None]
            wait = max(0.0, min(due) - time.time()) if due else 0.05
            r, _, _ = select.select(list(socks), [], [], min(wait, 0.05))
            for fd in r:
                c = socks[fd]
                at = self.read(c)
                if at is not None:
                    worst = max(worst, at - c["last"])
                    count += 1
                    c["due"] = c["last"] + INTERVAL
        # wait for the answers in flight, so the next window starts clean
        for c in self.conns:
            while c["due"] is None and self.read(c) is None:
                if not select.select([c["s"]], [], [], 10)[0]:
                    raise RuntimeError("no answer in 10 s")
        return worst, count

    @staticmethod
    def read(c):
        """When the kernel got the last of a whole response (404, with a
        body), or None if it is not whole yet."""
        at = None
        try:
            while True:
                data, anc, _, _ = c["s"].recvmsg(65536,
                                                 socket.CMSG_SPACE(16))
                if not data:
                    raise RuntimeError("portero closed a connection")
                for level, kind, tv in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                        sec, usec = struct.unpack("qq", tv[:16])
                        at = sec + usec / 1e6
                c["in"].write(data)
        except BlockingIOError:
            pass
        try:
            while True:
                c["buf"] += c["tls"].read(65536)
        except ssl.SSLWantReadError:
            pass
        m = re.search(rb"\r\nContent-Length: *(\d+)\r\n", c["buf"], re.I)
        h = c["buf"].find(b"\r\n\r\n")
        if m is None or h == -1 or len(c["buf"]) < h + 4 + int(m.group(1)):
            return None
        c["buf"] = c["buf"][h + 4 + int(m.group(1)):]
        return at if at is not None else time.time()

    def close(self):
        for c in self.conns:
            c["s"].close()


def run(bench, tmp=None):
    """The rounds; the section for RESULTS.md is printed and, run from
    bench.py, appended to it."""
    global B
    B = bench
    own = tmp is None
    tmp = tempfile.mkdtemp(prefix="portero-certstall.") if own else \
        os.path.join(tmp, "certstall")
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o755)
    px = None
    try:
        certdir = os.path.join(tmp, "certs")
        os.makedirs(certdir)
        os.chmod(certdir, 0o755)
        B.log("certstall: making %d certificates" % NDOMAINS)
        one, names = make_certs(certdir, NDOMAINS)
        for n in names:
            one(n)
        px = Portero(tmp, certdir)
        deadline = time.time() + 120
        while len(px.sets_in_service()) < WORKERS:
            if px.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("portero did not serve: " +
                                   B.tail(px.log))
            time.sleep(0.2)
        first = px.built_lines()
        client = Client(px.port)
        if min(px.workers_open()) == 0:
            B.log("certstall: a worker holds none of the %d connections"
                  % CONNS)
        rounds = []
        for r in range(ROUNDS):
            quiet, nq = client.run(WINDOW)
            name = names[(r + 1) * 7 % len(names)]
            before = px.sets_in_service()

            def change():
                one(name)
                px.ctl("reload")
                return lambda: all(v > before.get(k, 0) for k, v in
                                   px.sets_in_service().items()) and \
                    len(px.sets_in_service()) >= WORKERS
            try:
                worst, nc = client.run(WINDOW, change)
            except (RuntimeError, OSError) as e:
                # the parent kills a worker that has not answered its
                # heartbeat for 3 s: the stall was at least that
                B.log("certstall round %d: %s; log: %s" % (
                    r + 1, e, B.tail(px.log, 4)))
                rounds.append((quiet * 1000, None, nq, 0, name))
                break
            rounds.append((quiet * 1000, worst * 1000, nq, nc, name))
            B.log("certstall round %d: quiet %.1f ms, change of %s %.1f ms"
                  % (r + 1, quiet * 1000, name, worst * 1000))
        client.close()
        lines = px.built_lines()
        md = report(rounds, first[:WORKERS], lines[-WORKERS:])
        restarts = [c for c in json.loads(px.ctl("-j", "show", "status"))
                    .get("children", []) if c.get("restarts")]
        if restarts:
            md += "\nRespawned during the run: %r\n" % restarts
    except (RuntimeError, OSError):
        if px is not None:
            B.log("certstall: portero's log ends: " + B.tail(px.log, 8))
        raise
    finally:
        if px is not None:
            px.stop()
        if own:
            shutil.rmtree(tmp, ignore_errors=True)
    print(md)
    if not own:
        with open(B.RESULTS, "a") as f:
            f.write("\n" + md)
    return md


def report(rounds, first, last):
    rows = ["| Round | certificate changed | longest wait, quiet (ms) | "
            "longest wait, change (ms) | responses quiet / change |",
            "| --- | --- | --- | --- | --- |"]
    for i, (q, c, nq, nc, name) in enumerate(rounds):
        rows.append("| %d | %s | %.1f | %s | %d / %d |" % (
            i + 1, name, q, "%.1f" % c if c is not None else
            "connections lost (worker killed)", nq, nc))
    # a round whose worker the heartbeat killed stalled 3 s at least
    waits = [c if c is not None else 3000.0 for _, c, *_ in rounds]
    worst = max(waits)
    med = statistics.median(waits)
    return ("## Certificate change stall (bench/certstall.py)\n\n"
            "%d ECDSA P-256 certificates, %d workers, %d kept-alive TLS "
            "connections\nwith a tiny request each every %.0f ms; the "
            "longest a request waited for its\nresponse in a %.0f s "
            "window without a change, and in one around a change\nof one "
            "certificate (replaced on disk, porterod-ctl reload).\n\n"
            "%s\n\nLongest wait during a change: median %.1f ms, worst "
            "%.1f ms; target: at most %.0f ms: %s.\n\nWorkers' log, "
            "start: %s\n\nWorkers' log, last change: %s\n" % (
                NDOMAINS, WORKERS, CONNS, INTERVAL * 1000, WINDOW,
                "\n".join(rows), med, worst, TARGET_MS,
                "met" if worst <= TARGET_MS else "NOT met",
                "; ".join(first), "; ".join(last)))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench as _bench
    if PIN:
        os.sched_setaffinity(0, {int(_bench.LOAD_CPU)})
    try:
        run(_bench)
    finally:
        _bench.cleanup()
