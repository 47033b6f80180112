#!/usr/bin/env python3
"""metricscost.py: what the metrics cost a request.

Workers count every request, by pool and backend, whether or not
anything scrapes them.  This compares instructions per request (callgrind
of the whole tree, as bench.py measures it: 2,000 and 4,000 requests of
100 B on one kept-alive TLS connection, one worker) of:

  base      portero as it was before the metrics (BENCH_METRICS_BASE, a
            commit of this repository, built in a temporary worktree);
  now       this tree, no scrapes;
  scraped   this tree with --metrics-addr, scraped once a second while
            the requests run (the scrapes' own cost included).

Knobs (environment): those of bench.py, BENCH_METRICS_BASE (01802a9:
main just before the metrics), BENCH_METRICSCOST_RESULTS (a file to
append the table to; default none).
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
import tempfile
import threading
import time

import bench as B

BASE = os.environ.get("BENCH_METRICS_BASE", "01802a9")
RESULTS = os.environ.get("BENCH_METRICSCOST_RESULTS", "")
TARGET = 1.03


def build_base(tmp):
    """portero-cg of BASE, built in a worktree of its own."""
    wt = os.path.join(tmp, "base-tree")
    rc, out, err = B.run(["git", "-C", B.ROOT, "worktree", "add", "-f",
                          "--detach", wt, BASE], timeout=120)
    if rc != 0:
        raise RuntimeError("git worktree add %s: %s" % (BASE, err.strip()))
    for argv in (["make", "-s", "-C", wt, "all"],
                 ["make", "-s", "-C", os.path.join(wt, "bench"),
                  "portero-cg"]):
        rc, out, err = B.run(argv, timeout=900)
        if rc != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv),
                                            err.strip()[-300:]))
    return wt, os.path.join(wt, "bench", "portero-cg")


def remove_base(wt):
    B.run(["git", "-C", B.ROOT, "worktree", "remove", "--force", wt],
          timeout=120)


def scraping(port):
    """A client for callgrind_ir that scrapes /metrics on port once a
    second while its requests run."""
    def client(proxy_port, n):
        done = threading.Event()
        count = [0]

        def scrape():
            while not done.wait(1.0):
                try:
                    with socket.create_connection((B.ADDR, port), 5) as s:
                        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                  b"\r\n")
                        while s.recv(65536):
                            pass
                    count[0] += 1
                except OSError:
                    pass
        t = threading.Thread(target=scrape, daemon=True)
        t.start()
        try:
            B.tlsload_requests(proxy_port, n)
        finally:
            done.set()
            t.join()
        B.log("  %d scrapes during %d requests" % (count[0], n))
    return client


def measure(tmp, cert, key, certdir, backend_port, name, cg_bin,
            client=B.tlsload_requests, args=""):
    sub = os.path.join(tmp, name)
    os.makedirs(sub)
    os.chmod(sub, 0o755)
    B.PORTERO_CG = cg_bin
    os.environ["BENCH_PORTERO_CG_ARGS"] = args
    px = B.Portero(sub, cert, key, certdir, backend_port)
    return B.measure_callgrind(px, client)


def table(res):
    lines = ["| portero | instructions per request | against base |",
             "|---|---:|---:|"]
    for name, label in (("base", "before the metrics (%s)" % BASE),
                        ("now", "with the metrics, not scraped"),
                        ("scraped", "with the metrics, scraped once a "
                         "second")):
        lines.append("| %s | %.0f | %.3fx |" % (
            label, res[name], res[name] / res["base"]))
    return "\n".join(lines)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-metricscost-")
    os.chmod(tmp, 0o755)
    backend, wt = None, None
    now_cg = B.PORTERO_CG
    try:
        wt, base_cg = build_base(tmp)
        cert, key, certdir = B.make_cert(tmp)
        backend, backend_port = B.start_backend(tmp)
        mport = B.free_port()
        res = {
            "base": measure(tmp, cert, key, certdir, backend_port, "base",
                            base_cg),
            "now": measure(tmp, cert, key, certdir, backend_port, "now",
                           now_cg),
            "scraped": measure(tmp, cert, key, certdir, backend_port,
                               "scraped", now_cg, scraping(mport),
                               "--metrics-addr %s:%d" % (B.ADDR, mport)),
        }
        ratio = res["now"] / res["base"]
        out = ("## What the metrics cost a request\n\n%s, callgrind of the "
               "whole tree, 2,000 and 4,000 requests of 100 B on one "
               "kept-alive TLS connection, one worker.\n\n%s\n\nTarget: "
               "within 3 %% of the figure without the metrics: %.3fx: "
               "%s.\n" % (time.strftime("%Y-%m-%d"), table(res), ratio,
                          "met" if ratio <= TARGET else "NOT met"))
        print(out)
        if RESULTS:
            with open(RESULTS, "a") as f:
                f.write("\n" + out)
    finally:
        if backend is not None:
            B.stop(backend)
        if wt is not None:
            remove_base(wt)
        B.cleanup()
        if B.KEEP_TMP:
            B.log("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
