#!/usr/bin/env python3
"""confscale.py: what a large portero.conf costs.

Two configurations route the bench's requests (GET /100 for bench.test,
TLS, kept-alive) through a server with ten prefix locations ("/0*" to
"/9*"; "/1*" takes the request and strips nothing) to its pool:

  one      that server alone;
  large    1,000 servers of 10 locations each, each with its own pool
           (the same backend), bench.test the 500th of them.

For each: proxy CPU per request under wrk (as bench.py measures it, one
worker on CPU 0, load and backend on CPU 1; medians of the rounds),
instructions per request under callgrind (2,000 and 4,000 requests on
one connection), and the memory (PSS) of the portero tree once it is
serving.  Then the time a reload of the large configuration takes, from
porterod-ctl reload to the first request that the new configuration
answers (a location flips between two statuses), the median of ten.

Knobs (environment): those of bench.py (BENCH_ROUNDS, BENCH_SECONDS,
BENCH_WARMUP, BENCH_CALLGRIND, BENCH_PORTERO_BIN, BENCH_KEEP_TMP),
BENCH_CONF_SERVERS (1000), BENCH_CONF_LOCATIONS (10, at most 10),
BENCH_CONFSCALE_RESULTS (a file to append the table to; default none).
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
import shutil
import socket
import ssl
import statistics
import tempfile
import time

import bench as B

CTL = os.path.join(B.ROOT, "porterod-ctl", "porterod-ctl")
SERVERS = B.env_int("BENCH_CONF_SERVERS", 1000)
LOCATIONS = min(10, B.env_int("BENCH_CONF_LOCATIONS", 10))
RESULTS = os.environ.get("BENCH_CONFSCALE_RESULTS", "")
RELOADS = 10


def server_block(name, pool, probe=None):
    locs = "".join('\tlocation "/%d*" { forward to "%s" }\n' % (i, pool)
                   for i in range(LOCATIONS))
    if probe is not None:
        locs += '\tlocation "/probe" { block return %d }\n' % probe
    return 'server "%s" {\n\tforward to "%s"\n%s}\n' % (name, pool, locs)


def write_conf(path, backend_port, large, probe=403):
    """The configuration: bench.test alone, or among SERVERS servers."""
    out = []
    n = SERVERS if large else 1
    for i in range(n):
        name = B.SNI if i == n // 2 else "s%d.bench.test" % i
        pool = "p%d" % i
        out.append('pool "%s" { backend %s port %d }\n' % (
            pool, B.ADDR, backend_port))
        out.append(server_block(name, pool,
                                probe if name == B.SNI else None))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(out))
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


class Probe:
    """A kept-alive TLS connection asking for /probe."""

    def __init__(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((B.ADDR, port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname=B.SNI)
        self.f = self.s.makefile("rb")

    def status(self):
        self.s.sendall(b"GET /probe HTTP/1.1\r\nHost: " +
                       B.SNI.encode() + b"\r\n\r\n")
        status = int(self.f.readline().split()[1])
        length = 0
        while True:
            line = self.f.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        self.f.read(length)
        return status

    def close(self):
        self.f.close()
        self.s.close()


def reload_times(px, conf, backend_port):
    """Seconds from porterod-ctl reload to the first answer of the new
    configuration, RELOADS times, alternating the probe's status."""
    sock = os.path.join(px.tmp, "ctl.sock")
    probe = Probe(px.port)
    times = []
    try:
        for i in range(RELOADS):
            want = 410 if i % 2 == 0 else 403
            write_conf(conf, backend_port, True, want)
            t0 = time.monotonic()
            rc, out, err = B.run([CTL, "-s", sock, "reload"], timeout=60)
            if rc != 0:
                raise RuntimeError("reload: " + (err or out).strip())
            while probe.status() != want:
                if time.monotonic() - t0 > 60:
                    raise RuntimeError("the reload did not take in 60 s")
            times.append(time.monotonic() - t0)
    finally:
        probe.close()
    return times


def measure(tmp, cert, key, certdir, backend_port, large):
    # a directory each: callgrind's files of one must not count for the
    # other
    sub = os.path.join(tmp, "large" if large else "one")
    os.makedirs(sub)
    os.chmod(sub, 0o755)
    conf = os.path.join(sub, "portero.conf")
    write_conf(conf, backend_port, large)
    os.environ["BENCH_PORTERO_ARGS"] = "-f " + conf
    px = B.Portero(sub, cert, key, certdir, backend_port)
    res = {}
    cpu = []
    for r in range(B.ROUNDS):
        why = px.start()
        if why is not None:
            raise RuntimeError("portero: " + why)
        try:
            rr = {}
            B.measure_keepalive(px, 100, rr)
            cpu.append(rr["cpu_100"])
            if r == 0:
                res["pss_kib"] = B.tree_pss_kib(px.proc.pid)
                if large:
                    res["reload_s"] = statistics.median(
                        reload_times(px, conf, backend_port))
        finally:
            px.stop()
    res["cpu"] = statistics.median(cpu)
    if B.CALLGRIND:
        res["instr"] = B.measure_callgrind(px)
    return res


def table(one, large):
    def ratio(key):
        if one.get(key) is None or large.get(key) is None:
            return "-"
        return "%.3fx" % (large[key] / one[key])

    rows = [
        ("Proxy CPU per request, 100 B (us)", "cpu", "%.2f"),
        ("Instructions per request (callgrind)", "instr", "%.0f"),
        ("Memory of the portero tree, PSS (KiB)", "pss_kib", "%.0f"),
    ]
    lines = ["| Metric | 1 server | %d servers x %d locations | ratio |"
             % (SERVERS, LOCATIONS), "|---|---:|---:|---:|"]
    for label, key, fmt in rows:
        lines.append("| %s | %s | %s | %s |" % (
            label, fmt % one[key] if one.get(key) is not None else "-",
            fmt % large[key] if large.get(key) is not None else "-",
            ratio(key)))
    lines.append("| Reload of the large configuration, to the first "
                 "request it answers (ms, median of %d) | | %.0f | |"
                 % (RELOADS, large["reload_s"] * 1000))
    return "\n".join(lines)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-confscale-")
    os.chmod(tmp, 0o755)
    backend = None
    try:
        cert, key, certdir = B.make_cert(tmp)
        backend, backend_port = B.start_backend(tmp)
        one = measure(tmp, cert, key, certdir, backend_port, False)
        large = measure(tmp, cert, key, certdir, backend_port, True)
        out = ("## A large configuration: 1 server against %d servers of "
               "%d locations\n\n%s, %d rounds of %d s (wrk, TLS, kept "
               "alive), one worker; callgrind on 2,000 and 4,000 requests "
               "on one connection; memory once serving.\n\n%s\n" % (
                   SERVERS, LOCATIONS, time.strftime("%Y-%m-%d"), B.ROUNDS,
                   B.SECONDS, table(one, large)))
        print(out)
        if RESULTS:
            with open(RESULTS, "a") as f:
                f.write("\n" + out)
    finally:
        if backend is not None:
            B.stop(backend)
        B.cleanup()
        if B.KEEP_TMP:
            B.log("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
