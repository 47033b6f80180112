"""h2.py: the HTTP/2 part of `make bench`: portero, nginx and haproxy
with HTTP/2 clients.  bench.py calls run() after its rounds, with itself
as B, for its proxies, helpers and backend, and report() for the section.

Each proxy is set up as for bench.py's HTTP/1.1 figures (its very
configuration, one worker, logs off, HTTP/1.1 to the same backend over
kept-alive upstream connections), with HTTP/2 offered on the TLS
listener by ALPN: nginx `listen ... ssl http2`, haproxy `bind ... ssl crt
... alpn h2,http/1.1`, portero as it comes (h2,http/1.1 by default).

Per proxy and round (rounds alternate the proxies; medians of the rounds):
h2load over TLS, ALPN h2 only, 10 connections with 10 concurrent streams
each, 100 B and 16 KiB bodies, a warm-up run then a timed one:
requests/s and the proxy's own CPU time (utime+stime of its process tree)
per request.  Once per proxy, under callgrind: instructions per HTTP/2
request, (4,000 requests - 2,000 requests) / 2,000 on one connection
with 10 concurrent streams, each from a fresh start.

A proxy that does not select h2 is reported as "h2 not negotiated" (h2load
offers no HTTP/1.1 to fall back to), not measured further.

Knobs (environment, besides bench.py's BENCH_ROUNDS, BENCH_SECONDS,
BENCH_WARMUP, BENCH_CG_REQUESTS, BENCH_CALLGRIND and BENCH_PROXIES):
BENCH_H2_CONNS (10), BENCH_H2_STREAMS (10; also the streams of the one
connection under callgrind).
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
import re

B = None                # the bench module, set by run()

CONNS = int(os.environ.get("BENCH_H2_CONNS", "10"))
STREAMS = int(os.environ.get("BENCH_H2_STREAMS", "10"))
NOT_NEGOTIATED = "h2 not negotiated"

# key, label, unit format, True when higher is better (as bench.METRICS)
METRICS = [
    ("h2_cpu_100", "HTTP/2 100 B: proxy CPU per request (us)", "%.2f", 0),
    ("h2_rps_100", "HTTP/2 100 B: requests/s", "%.0f", 1),
    ("h2_cpu_16384", "HTTP/2 16 KiB: proxy CPU per request (us)", "%.2f",
     0),
    ("h2_rps_16384", "HTTP/2 16 KiB: requests/s", "%.0f", 1),
    ("h2_instr", "Instructions per HTTP/2 request (callgrind, 100 B)",
     "%.0f", 0),
]

TARGETS = [             # key, peer ("nginx" or "best"), highest ratio
    ("h2_cpu_100", "best", 0.8),
    ("h2_cpu_16384", "best", 0.8),
    ("h2_instr", "best", 0.8),
]


class NotNegotiated(RuntimeError):
    """The proxy did not select h2 by ALPN."""


def h2load(port, size, seconds=None, n=None, conns=CONNS):
    """h2load for seconds (or n requests) on conns connections with
    STREAMS streams each; returns bench.wrk()'s figures: requests done,
    requests/s, None (h2load has no percentiles), answers not 2xx/3xx
    (or failed), a note."""
    argv = ["h2load", "-t1", "-c%d" % conns, "-m%d" % STREAMS,
            "--npn-list=h2", "--connect-to=%s:%d" % (B.ADDR, port)]
    argv += ["-D", str(seconds)] if seconds else ["-n", str(n)]
    # port 443 in the URI: :authority is the bare name, as wrk's Host
    argv.append("https://%s/%d" % (B.SNI, size))
    rc, out, err = B.run(argv, B.LOAD_CPU,
                         timeout=seconds + 30 if seconds else 900)
    if not re.search(r"^Application protocol: h2$", out, re.M):
        m = re.search(r"^(No protocol negotiated.*|Application protocol: "
                      r".*)$", out, re.M)
        if m or rc == 0:
            raise NotNegotiated("%s (h2load: %s)" % (
                NOT_NEGOTIATED, m.group(1) if m else "no protocol line"))
        raise RuntimeError("h2load failed (status %d): %s" % (
            rc, (err or out).strip()[-200:]))
    m = re.search(r"^finished in \S+, ([\d.]+) req/s", out, re.M)
    rps = float(m.group(1)) if m else 0.0
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", out, re.M)
    m2 = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx", out, re.M)
    if rc != 0 or not m or not m2:
        raise RuntimeError("h2load (status %d): %s" % (
            rc, (err or out).strip()[-200:]))
    done, failed = int(m.group(3)), int(m.group(5))
    errored, timeout = int(m.group(6)), int(m.group(7))
    good = int(m2.group(1)) + int(m2.group(2))
    note = "" if not (failed or errored or timeout) else \
        "h2load: %d failed, %d errored, %d timeout" % (failed, errored,
                                                      timeout)
    return done, rps, None, max(done - good, failed), note


def timed(port, size, seconds):
    return h2load(port, size, seconds=seconds)


def counted(port, n):
    """n requests of 100 B on one connection (callgrind)."""
    done, _, _, bad, note = h2load(port, 100, n=n, conns=1)
    if done != n or bad:
        raise RuntimeError("h2load -n %d under callgrind: %d done, %d bad "
                           "%s" % (n, done, bad, note))


def turn(px, round_no):
    """One proxy's turn in a round: start it, measure, stop it."""
    res = {}
    busy = B.wait_quiet("%s HTTP/2 round %d" % (px.name, round_no))
    if busy:
        res["errors"] = [busy]
    why = px.start()
    if why is not None:
        px.stop()
        px.na = why
        B.log("  %s: not measured: %s" % (px.name, why))
        return res
    try:
        for size in B.BODIES:
            B.measure_keepalive(px, size, res, load=timed, prefix="h2_")
    except NotNegotiated as e:
        px.na = str(e)
        B.log("  %s: not measured: %s" % (px.name, e))
    except RuntimeError as e:
        B.log("  %s: HTTP/2 round %d: %s" % (px.name, round_no, e))
        res.setdefault("errors", []).append(str(e))
    finally:
        px.stop()
    return res


def run(bench, tmp, cert, key, certdir, backend_port):
    """The rounds and the callgrind figures; what report() takes."""
    global B
    B = bench
    proxies = [B.PROXY_CLASSES[n](tmp, cert, key, certdir, backend_port,
                                  h2=True, inflight=CONNS * STREAMS)
               for n in B.PROXIES]
    rounds = {px.name: [] for px in proxies}
    for r in range(1, B.ROUNDS + 1):
        B.log("HTTP/2 round %d of %d" % (r, B.ROUNDS))
        for px in proxies:
            if px.na is not None:
                rounds[px.name].append({})
                continue
            rounds[px.name].append(turn(px, r))
    med = B.medians(rounds, METRICS)
    cg_errors = {}
    if B.CALLGRIND:
        B.log("HTTP/2 callgrind: %s requests on one connection, %d streams"
              % (" and ".join(map(str, B.CG_REQUESTS)), STREAMS))
        for px in proxies:
            if px.na is not None:
                continue
            try:
                med[px.name]["h2_instr"] = B.measure_callgrind(px, counted)
            except RuntimeError as e:
                B.log("  %s: %s" % (px.name, e))
                cg_errors[px.name] = str(e)
    return proxies, med, rounds, cg_errors


def report(proxies, med, rounds, cg_errors):
    """The section for RESULTS.md, the table and the targets."""
    na = {px.name: px.na for px in proxies if px.na is not None}
    why = na.get("portero") or ""
    tbl = B.table(med, na, METRICS, "n/a (%s)" % NOT_NEGOTIATED
                  if why.startswith(NOT_NEGOTIATED) else B.PORTERO_NA)
    goals = B.targets(med, TARGETS, METRICS)
    notes = B.run_notes(proxies, rounds, cg_errors)
    lo, hi = B.CG_REQUESTS
    md = f"""## HTTP/2

Each proxy as above (its configuration, one worker, HTTP/1.1 to the
backend over kept-alive upstream connections, logs off; nginx upstream
keepalive {max(64, CONNS * STREAMS)}), with HTTP/2 offered by ALPN on the
TLS listener (nginx `listen ... ssl http2`, haproxy `alpn h2,http/1.1`,
portero by default).  {B.first_line(["h2load", "--version"])}, ALPN h2
only, -c{CONNS} -m{STREAMS} (up to {CONNS * STREAMS} requests in flight):
a {B.WARMUP} s warm-up run, then {B.SECONDS} s; {B.ROUNDS} rounds
alternating the proxies, medians.  CPU: utime+stime of the proxy's tree
over the run divided by the requests done.  Instructions: callgrind Ir of
the proxy's tree, ({hi} requests - {lo} requests) / {hi - lo}, h2load -c1
-m{STREAMS}, each from a fresh start.

{tbl}

Targets:

{goals}
"""
    md = B.reflow(md)
    if notes:
        md += "\nNotes:\n\n" + "\n".join(notes) + "\n"
    md += "\nEvery round:\n\n" + B.rounds_table(rounds, METRICS) + "\n"
    return md, tbl, goals + ("\n" + "\n".join(notes) if notes else "")
