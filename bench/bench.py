#!/usr/bin/env python3
"""bench.py: portero against nginx and haproxy, on this machine, in one run.

Every proxy gets the same job: one worker, TLS terminated with the same
ECDSA P-256 certificate, HTTP/1.1 to one fixed backend (bench/backend.c)
over kept-alive upstream connections, logs off.  The proxy runs on CPU 0,
the load generator and the backend on CPU 1.

Per proxy and round (rounds alternate the proxies; medians of the rounds):

  keep-alive   wrk, 50 connections, HTTP/1.1 over TLS, 100 B and 16 KiB
               bodies: requests/s, p50 latency, and the proxy's own CPU
               time (utime+stime of its whole process tree) per request
  handshakes   tlsload: full TLS handshakes, never resumed: proxy CPU per
               handshake, and handshakes/s; then resumed ones (tlsload -r
               offers the newest ticket each time), the same two figures
  idle memory  tlsload: 5,000 TLS connections held idle: the growth of the
               proxy tree's Pss divided by the connections

Once per proxy, under callgrind: instructions per proxied request, the
difference between 4,000 and 2,000 requests on one kept-alive connection
(each from a fresh start) divided by 2,000, so that start-up, the
handshake and shutdown cancel out.

Then the registration API, portero alone (bench/registry.py): proxy CPU
per request with 1 and with 10,000 registered backends, memory per
registered backend, durable registrations/s from 1 and 32 clients with
p50/p99 time to 200.

Then HTTP/2 (bench/h2.py): each proxy as above with h2 offered by ALPN;
h2load, ALPN h2, 10 connections x 10 concurrent streams, 100 B and 16 KiB
bodies, per round: requests/s and the proxy's CPU per request; once per
proxy under callgrind, instructions per HTTP/2 request (the same
difference, h2load on one connection with 10 streams).  A proxy that does
not select h2 is reported as "h2 not negotiated".

The tables go to stdout and to bench/RESULTS.md.  Knobs (environment):
BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_HS_SECONDS (8),
BENCH_IDLE_CONNS (5000), BENCH_CG_REQUESTS ("2000,4000"),
BENCH_PROXIES ("nginx,haproxy,portero"), BENCH_CALLGRIND (1),
BENCH_PORTERO_BIN (portero), BENCH_PORTERO_ARGS (extra flags),
BENCH_PORTERO_CG_BIN and BENCH_PORTERO_CG_ARGS (binary and extra flags
under callgrind), BENCH_RESULTS (output file),
BENCH_KEEP_TMP (1 keeps the temporary directory), BENCH_REGISTRY (1;
0 skips the registration API's part) and those of bench/registry.py,
BENCH_CERTSTALL (1; 0 skips bench/certstall.py, the stall of a
certificate change), BENCH_CONFSCALE (1; 0 skips bench/confscale.py, a
1,000-server configuration against one), BENCH_METRICSCOST (1; 0 skips
bench/metricscost.py, the metrics' instructions per request against the
build before them) and BENCH_UPSTREAM (1; 0 skips
bench/upstream_tls.py,
CPU per new upstream TLS connection) and those of the two scripts,
BENCH_H1 (1; 0 skips the HTTP/1.1 rounds and their callgrind figure),
BENCH_H2 (1; 0 skips bench/h2.py's HTTP/2 part) and those of bench/h2.py
(BENCH_H2_CONNS, BENCH_H2_STREAMS).  The HTTP/2 part alone, quickly:
BENCH_H1=0 BENCH_REGISTRY=0 BENCH_CERTSTALL=0 BENCH_UPSTREAM=0
BENCH_ROUNDS=1 BENCH_SECONDS=3 BENCH_RESULTS=/tmp/h2.md make -C bench
(BENCH_CALLGRIND=0 drops the callgrind runs too).
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
import os
import platform
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import certstall
import h2
import registry

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PORTERO = os.environ.get("BENCH_PORTERO_BIN",
                         os.path.join(ROOT, "portero", "portero"))
# portero's children cannot sandbox themselves under valgrind: a build
# without the sandbox, for the callgrind runs only, may be named here
PORTERO_CG = os.environ.get("BENCH_PORTERO_CG_BIN", PORTERO)
BACKEND = os.path.join(HERE, "backend")
TLSLOAD = os.path.join(HERE, "tlsload")
SNI = "bench.test"
ADDR = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    return int(os.environ.get(name, default))


ROUNDS = env_int("BENCH_ROUNDS", 3)
SECONDS = env_int("BENCH_SECONDS", 10)
WARMUP = env_int("BENCH_WARMUP", 2)
HS_SECONDS = env_int("BENCH_HS_SECONDS", 8)
HS_CONC = env_int("BENCH_HS_CONC", 16)
IDLE_CONNS = env_int("BENCH_IDLE_CONNS", 5000)
WRK_CONNS = 50
BODIES = [100, 16384]
CG_REQUESTS = [int(x) for x in
               os.environ.get("BENCH_CG_REQUESTS", "2000,4000").split(",")]
CALLGRIND = env_int("BENCH_CALLGRIND", 1)
REGISTRY = env_int("BENCH_REGISTRY", 1)
H1 = env_int("BENCH_H1", 1)
H2 = env_int("BENCH_H2", 1)
PROXIES = os.environ.get("BENCH_PROXIES", "nginx,haproxy,portero").split(",")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "RESULTS.md"))
KEEP_TMP = env_int("BENCH_KEEP_TMP", 0)
IS_ROOT = os.geteuid() == 0
NOFILE = 65536          # the descriptor limit every child gets (main())
BACKEND_PROC = COUNTFILE = None     # the backend and its counter (run_bench)
NOBODY = 65534          # uid and gid of nobody, for what runs unprivileged

# CPU 0 for the proxy, CPU 1 for the load generator and the backend.
if (os.cpu_count() or 1) >= 2:
    PROXY_CPU, LOAD_CPU = "0", "1"
else:
    PROXY_CPU = LOAD_CPU = "0"

PORTERO_NA = "n/a (portero not proxying yet)"


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# --- processes -------------------------------------------------------------

started = []            # every Popen we made, for the cleanup


def spawn(argv, cpu=None, **kw):
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    started.append(p)
    return p


def run(argv, cpu=None, timeout=60, **kw):
    """Run to completion (bounded); returns (rc, stdout, stderr)."""
    p = spawn(argv, cpu, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        kill_tree(p.pid)
        out, err = p.communicate()
        rc, err = -1, err + "\n(timed out after %ds)" % timeout
    started.remove(p)   # (still listed if interrupted: cleanup() kills it)
    return rc, out, err


def proc_table():
    """pid -> (ppid, utime+stime ticks) for every live process."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: split after the last )
        fields = s[s.rindex(")") + 2:].split()
        table[int(d)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def tree(pid, table=None):
    table = table or proc_table()
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in table and p not in pids:
            pids.append(p)
            todo.extend(c for c, (pp, _) in table.items() if pp == p)
    return pids


def tree_cpu(pid):
    """Seconds of CPU (user+system) used so far by the live tree of pid."""
    table = proc_table()
    return sum(table[p][1] for p in tree(pid, table)) / CLK_TCK


def tree_pss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                m = re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M)
        except OSError:
            m = None
        if m is None:           # no smaps_rollup: fall back to VmRSS
            try:
                with open("/proc/%d/status" % p) as f:
                    m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
            except OSError:
                continue
        if m:
            total += int(m.group(1))
    return total


def kill_tree(pid, sig=signal.SIGKILL):
    for p in tree(pid):
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def stop(p, sig=signal.SIGTERM, timeout=30):
    """Stop a started process and everything under it; wait for them."""
    if p is None:
        return
    pids = tree(p.pid)
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.time() + timeout
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    # children that are not ours to wait for (workers, traced children)
    while time.time() < deadline and any(alive(q) for q in pids):
        time.sleep(0.1)
    for q in pids:
        if alive(q):
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if p in started:
        started.remove(p)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def cleanup():
    """Kill whatever we started and is still there, and its children."""
    for p in list(started):
        try:
            if p.poll() is None:
                kill_tree(p.pid)
            # each was started in its own session: its group is its pid
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    started.clear()


def free_port():
    with socket.socket() as s:
        s.bind((ADDR, 0))
        return s.getsockname()[1]


def tail(path, n=3):
    try:
        with open(path, errors="replace") as f:
            lines = [l.strip() for l in f if l.strip()]
    except OSError:
        return ""
    return " / ".join(lines[-n:])


# --- the proxies -----------------------------------------------------------

class Proxy:
    name = None

    def __init__(self, tmp, cert, key, certdir, backend_port, h2=False,
                 inflight=WRK_CONNS):
        """h2: offer HTTP/2 too (ALPN h2,http/1.1) on the TLS listener;
        inflight: the most requests the load has in flight at once."""
        self.tmp = os.path.join(tmp, self.name + ("-h2" if h2 else ""))
        os.makedirs(self.tmp, exist_ok=True)
        self.cert, self.key, self.certdir = cert, key, certdir
        self.backend_port = backend_port
        self.h2, self.inflight = h2, inflight
        self.port = None
        self.proc = None
        self.na = None          # why it cannot be measured, if it cannot

    def argv(self, callgrind):
        raise NotImplementedError

    def start(self, callgrind=None):
        """Start; callgrind is a directory for valgrind's files, or None."""
        self.port = free_port()
        argv = self.argv(callgrind is not None)
        if callgrind is not None:
            # callgrind writes its totals at exit: the process must still
            # be able to open that file then (no chroot, no other user)
            argv = ["valgrind", "--tool=callgrind", "--trace-children=yes",
                    "--vgdb=no", "--log-file=%s/vg.%%p.log" % callgrind,
                    "--callgrind-out-file=%s/callgrind.out.%%p" % callgrind
                    ] + argv
            argv = self.wrap_callgrind(argv)
        self.errlog = os.path.join(self.tmp, "stderr.log")
        with open(self.errlog, "w") as err:
            self.proc = spawn(argv, PROXY_CPU, stdout=err, stderr=err,
                              cwd=self.tmp)
        return self.wait_ready(90 if callgrind else 15)

    def wrap_callgrind(self, argv):
        return argv

    def wait_ready(self, timeout):
        """One successful request through the proxy, or the reason not."""
        deadline = time.time() + timeout
        why = "no answer"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return "exited (status %d): %s" % (self.proc.returncode,
                                                   tail(self.errlog))
            rc, out, err = run([TLSLOAD, "requests", "-n", "1", "-s", "100",
                                "-t", "30", ADDR, str(self.port), SNI],
                               LOAD_CPU, timeout=40)
            if rc == 0:
                return None
            why = err.strip().splitlines()[-1] if err.strip() else \
                "status %d" % rc
            time.sleep(0.5)
        return "no good answer within %ds: %s; its log: %s" % (
            timeout, why, tail(self.errlog))

    def stop(self):
        stop(self.proc)
        self.proc = None

    def version(self):
        return ""


class Nginx(Proxy):
    name = "nginx"

    def argv(self, callgrind):
        conf = os.path.join(self.tmp, "nginx.conf")
        t = self.tmp
        with open(conf, "w") as f:
            f.write(f"""# generated by bench.py
worker_processes 1;
worker_rlimit_nofile {NOFILE};
pid {t}/nginx.pid;
error_log {t}/error.log warn;
{"user nobody nogroup;" if IS_ROOT else ""}
{"master_process off; daemon off;" if callgrind else "daemon off;"}
events {{ worker_connections {min(16384, NOFILE - 100)}; }}
http {{
    access_log off;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    # one connection carries every request of a run (nginx closes after
    # 1000 by default, which would add handshakes to the keep-alive runs)
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream backend {{
        server {ADDR}:{self.backend_port};
        # at least as many as the requests in flight: with fewer, the
        # surplus upstream connections are closed after every request
        keepalive {max(64, self.inflight)};
        keepalive_requests 1000000;
    }}
    server {{
        listen {ADDR}:{self.port} ssl{" http2" if self.h2 else ""};
        server_name {SNI};
        ssl_certificate {self.cert};
        ssl_certificate_key {self.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
        return ["nginx", "-p", t + "/", "-e", t + "/error.log", "-c", conf]

    def version(self):
        _, out, err = run(["nginx", "-v"])
        return (out + err).strip().split("/")[-1]


class Haproxy(Proxy):
    name = "haproxy"

    def argv(self, callgrind):
        conf = os.path.join(self.tmp, "haproxy.cfg")
        pem = os.path.join(self.tmp, "bench.pem")
        with open(pem, "w") as f:
            f.write(open(self.cert).read() + open(self.key).read())
        os.chmod(pem, 0o600)
        user = "    user nobody\n    group nogroup\n" \
            if IS_ROOT and not callgrind else ""
        maxconn = min(16384, (NOFILE - 100) // 2)   # 2 descriptors each
        alpn = " alpn h2,http/1.1" if self.h2 else ""
        with open(conf, "w") as f:
            f.write(f"""# generated by bench.py
global
    nbthread 1
    maxconn {maxconn}
    ssl-default-bind-options ssl-min-ver TLSv1.2
{user}
defaults
    mode http
    maxconn {maxconn}
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    timeout http-request 300s
    http-reuse always

frontend fe
    bind {ADDR}:{self.port} ssl crt {pem}{alpn}
    default_backend be

backend be
    server s1 {ADDR}:{self.backend_port}
""")
        return ["haproxy", "-f", conf, "-db"]

    def version(self):
        _, out, _ = run(["haproxy", "-v"])
        m = re.search(r"version (\S+)", out)
        return m.group(1) if m else "?"


class Portero(Proxy):
    name = "portero"

    def argv(self, callgrind):
        t = self.tmp
        state, empty = os.path.join(t, "state"), os.path.join(t, "empty")
        os.makedirs(state, exist_ok=True)
        os.makedirs(empty, exist_ok=True)
        self.register_port = free_port()
        while self.register_port == self.port:  # (1 start in 10,000)
            self.register_port = free_port()
        if IS_ROOT:
            os.chown(t, NOBODY, NOBODY)     # the control socket goes here
            os.chown(state, NOBODY, NOBODY)
        argv = [PORTERO_CG if callgrind else PORTERO, "-d", "--workers", "1",
                "--listen-addr", "%s:%d" % (ADDR, self.port),
                "--register-addr", "%s:%d" % (ADDR, self.register_port),
                "--tls-cert-dir", self.certdir,
                "--backend", "%s=%s:%d" % (SNI, ADDR, self.backend_port),
                "--access-log", "none", "--no-register",
                "--control-socket", os.path.join(t, "ctl.sock"),
                "--state-dir", state]
        if IS_ROOT and not callgrind:
            argv += ["--chroot-dir", empty, "--user", "nobody"]
        argv += shlex.split(os.environ.get("BENCH_PORTERO_ARGS", ""))
        if callgrind:
            argv += shlex.split(os.environ.get("BENCH_PORTERO_CG_ARGS", ""))
        return argv

    def wrap_callgrind(self, argv):
        # started as root, portero would chroot its children and drop them
        # to another user, and callgrind could not write its files at exit:
        # start it as nobody instead (portero then skips both)
        if IS_ROOT:
            return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                    "--clear-groups"] + argv
        return argv

    def version(self):
        rc, out, _ = run(["git", "-C", ROOT, "describe", "--always",
                          "--dirty"])
        return out.strip() if rc == 0 else "?"


PROXY_CLASSES = {c.name: c for c in (Nginx, Haproxy, Portero)}


# --- the measurements ------------------------------------------------------

def parse_wrk(out):
    m = re.search(r"(\d+) requests in", out)
    reqs = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(m.group(1)) if m else 0.0
    p50 = None
    m = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    if m:
        p50 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", out)
    return reqs, rps, p50, bad, m.group(0) if m else ""


def wrk(port, size, seconds):
    argv = ["wrk", "-t1", "-c%d" % WRK_CONNS, "-d%ds" % seconds, "--latency",
            "-H", "Host: " + SNI, "https://%s:%d/%d" % (ADDR, port, size)]
    rc, out, err = run(argv, LOAD_CPU, timeout=seconds + 30)
    if rc != 0:
        raise RuntimeError("wrk failed: " + (err or out).strip()[-200:])
    return parse_wrk(out)


def upstream_accepts():
    """Connections the backend has accepted so far."""
    try:
        os.unlink(COUNTFILE)
    except FileNotFoundError:
        pass
    os.kill(BACKEND_PROC.pid, signal.SIGUSR1)
    for _ in range(100):
        try:
            with open(COUNTFILE) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            time.sleep(0.02)
    raise RuntimeError("the backend does not answer SIGUSR1")


def measure_keepalive(px, size, res, load=wrk, prefix=""):
    """Warm-up, then a run of load(port, size, seconds) (wrk's figures:
    requests, requests/s, p50 or None, bad answers, a note); the results
    go to res under prefix + "rps_<size>", "p50_<size>", "cpu_<size>"."""
    load(px.port, size, WARMUP)
    u0 = upstream_accepts()
    c0 = tree_cpu(px.proc.pid)
    reqs, rps, p50, bad, sockerr = load(px.port, size, SECONDS)
    c1 = tree_cpu(px.proc.pid)
    upstream = upstream_accepts() - u0
    if reqs == 0 or bad > reqs // 100:
        raise RuntimeError("%d requests, %d not 2xx/3xx %s" %
                           (reqs, bad, sockerr))
    cpu = (c1 - c0) / reqs * 1e6
    res[prefix + "rps_%d" % size] = rps
    if p50 is not None:
        res[prefix + "p50_%d" % size] = p50
    res[prefix + "cpu_%d" % size] = cpu
    log("  %-7s %s%5d B: %8.0f req/s  %s%.2f us CPU/req  "
        "%d new upstream connections  %s" % (
            px.name, prefix.replace("_", " "), size, rps,
            "p50 %.3f ms  " % p50 if p50 is not None else "", cpu, upstream,
            sockerr))
    if upstream > reqs // 1000:
        res.setdefault("errors", []).append(
            "%d B: %d new upstream connections for %d requests (upstream "
            "keep-alive not kept)" % (size, upstream, reqs))


def tlsload_hs(port, seconds, resume=False):
    rc, out, err = run([TLSLOAD, "handshakes"] + (["-r"] if resume else [])
                       + ["-c", str(HS_CONC), "-t", str(seconds), ADDR,
                          str(port), SNI], LOAD_CPU, timeout=seconds + 30)
    m = re.search(r"handshakes (\d+) resumed (\d+) errors (\d+) "
                  r"seconds ([\d.]+)", out)
    if rc != 0 or not m:
        raise RuntimeError("tlsload handshakes: %s %s" % (out.strip(),
                                                          err.strip()))
    n, resumed, errors, secs = (int(m.group(1)), int(m.group(2)),
                                int(m.group(3)), float(m.group(4)))
    if resumed and not resume:
        raise RuntimeError("%d of %d handshakes were resumed" % (resumed, n))
    # the first handshakes find no ticket yet, and a TLS 1.3 client uses
    # a ticket once, so a few concurrent ones find theirs used up
    if resume and resumed < n * 0.9:
        raise RuntimeError("only %d of %d handshakes were resumed" % (
            resumed, n))
    return n, errors, secs


def measure_handshakes(px, res):
    tlsload_hs(px.port, 1)
    c0 = tree_cpu(px.proc.pid)
    n, errors, secs = tlsload_hs(px.port, HS_SECONDS)
    c1 = tree_cpu(px.proc.pid)
    res["hs_rate"] = n / secs
    res["hs_cpu"] = (c1 - c0) / n * 1e6
    log("  %-7s handshakes: %6.0f /s  %.1f us CPU/handshake  (%d errors)" %
        (px.name, res["hs_rate"], res["hs_cpu"], errors))
    # resumed: the first handshake of the warm-up is full, the rest not
    tlsload_hs(px.port, 1, resume=True)
    c0 = tree_cpu(px.proc.pid)
    try:
        n, errors, secs = tlsload_hs(px.port, HS_SECONDS, resume=True)
    except RuntimeError as e:
        log("  %-7s resumed handshakes: %s" % (px.name, e))
        return
    c1 = tree_cpu(px.proc.pid)
    res["rhs_rate"] = n / secs
    res["rhs_cpu"] = (c1 - c0) / n * 1e6
    log("  %-7s resumed:    %6.0f /s  %.1f us CPU/handshake  (%d errors)" %
        (px.name, res["rhs_rate"], res["rhs_cpu"], errors))


def measure_idle(px, res):
    time.sleep(0.5)
    before = tree_pss_kib(px.proc.pid)
    p = spawn([TLSLOAD, "idle", "-c", "64", "-n", str(IDLE_CONNS), "-t",
               "120", ADDR, str(px.port), SNI], LOAD_CPU,
              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        if select.select([p.stdout], [], [], 90)[0]:
            line = p.stdout.readline()
        m = re.match(r"ready (\d+) errors (\d+)", line)
        if not m or int(m.group(1)) < IDLE_CONNS:
            raise RuntimeError("idle connections: %r %s" % (
                line.strip(), p.stderr.read() if p.poll() is not None
                else ""))
        time.sleep(1)           # let the proxy finish the last handshakes
        after = tree_pss_kib(px.proc.pid)
        out, err = p.communicate(timeout=30)     # closes its stdin
        m = re.search(r"dropped (\d+)", out)
        if m and int(m.group(1)):
            raise RuntimeError("the proxy closed %s idle connections" %
                               m.group(1))
    finally:
        stop(p)
    res["idle_kib"] = (after - before) / IDLE_CONNS
    log("  %-7s idle: %.2f KiB/connection (Pss %d -> %d KiB)" % (
        px.name, res["idle_kib"], before, after))


def cpu_busy(seconds=0.5):
    """Fraction of the machine's CPU time used over a short sample."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v), v[3] + v[4]      # all, idle + iowait
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_quiet(what, limit=15):
    """Wait (a bounded time) for other load to go; report it if not."""
    deadline = time.time() + limit
    while True:
        busy = cpu_busy()
        if busy < 0.1:
            return None
        if time.time() > deadline:
            msg = "other load: %.0f%% of the CPUs busy before %s" % (
                busy * 100, what)
            log("  " + msg)
            return msg


def measure_turn(px, round_no):
    """One proxy's turn in a round: start it, measure, stop it."""
    res = {}
    busy = wait_quiet("%s round %d" % (px.name, round_no))
    if busy:
        res["errors"] = [busy]
    why = px.start()
    if why is not None:
        px.stop()
        px.na = why
        log("  %s: not measured: %s" % (px.name, why))
        return res
    try:
        for size in BODIES:
            measure_keepalive(px, size, res)
        measure_handshakes(px, res)
        measure_idle(px, res)
    except RuntimeError as e:
        log("  %s: round %d: %s" % (px.name, round_no, e))
        res.setdefault("errors", []).append(str(e))
    finally:
        px.stop()
    return res


def tlsload_requests(port, n):
    """n requests of 100 B on one kept-alive connection (callgrind)."""
    rc, out, err = run([TLSLOAD, "requests", "-n", str(n), "-s", "100",
                        "-t", "60", ADDR, str(port), SNI], LOAD_CPU,
                       timeout=900)
    if rc != 0:
        raise RuntimeError("%d requests under callgrind: %s" %
                           (n, err.strip()[-200:]))


def callgrind_ir(px, n, client=tlsload_requests):
    """Instructions (Ir) of the proxy's whole tree for n requests, made
    by client(port, n)."""
    d = os.path.join(px.tmp, "cg-%d" % n)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)          # children that dropped privileges write here
    why = px.start(callgrind=d)
    if why is not None:
        px.stop()
        raise RuntimeError("under callgrind: " + why)
    try:
        client(px.port, n)
    finally:
        px.stop()
    total, procs = 0, 0
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".log"):
            continue
        with open(os.path.join(d, fn), errors="replace") as f:
            text = f.read()
        m = re.search(r"Collected\s*:\s*(\d+)", text) or \
            re.search(r"I\s+refs:\s+([\d,]+)", text)
        if m:
            total += int(m.group(1).replace(",", ""))
            procs += 1
    if procs == 0:
        raise RuntimeError("no callgrind totals in " + d)
    return total


def measure_callgrind(px, client=tlsload_requests):
    lo, hi = CG_REQUESTS
    t0 = time.time()
    ir_lo = callgrind_ir(px, lo, client)
    ir_hi = callgrind_ir(px, hi, client)
    per = (ir_hi - ir_lo) / (hi - lo)
    log("  %-7s callgrind: Ir %d (%d req) %d (%d req): %.0f instr/request "
        "(%.0fs)" % (px.name, ir_lo, lo, ir_hi, hi, per, time.time() - t0))
    return per


# --- the report ------------------------------------------------------------

# key, label, unit format, True when higher is better
METRICS = [
    ("cpu_100", "Keep-alive 100 B: proxy CPU per request (us)", "%.2f", 0),
    ("rps_100", "Keep-alive 100 B: requests/s", "%.0f", 1),
    ("p50_100", "Keep-alive 100 B: p50 latency (ms)", "%.3f", 0),
    ("cpu_16384", "Keep-alive 16 KiB: proxy CPU per request (us)", "%.2f",
     0),
    ("rps_16384", "Keep-alive 16 KiB: requests/s", "%.0f", 1),
    ("p50_16384", "Keep-alive 16 KiB: p50 latency (ms)", "%.3f", 0),
    ("hs_cpu", "Full TLS handshake: proxy CPU per handshake (us)", "%.1f",
     0),
    ("hs_rate", "Full TLS handshakes/s", "%.0f", 1),
    ("rhs_cpu", "Resumed TLS handshake: proxy CPU per handshake (us)",
     "%.1f", 0),
    ("rhs_rate", "Resumed TLS handshakes/s", "%.0f", 1),
    ("idle_kib", "Memory per idle TLS connection (KiB, %d open)" %
     IDLE_CONNS, "%.2f", 0),
    ("instr", "Instructions per request (callgrind, 100 B)", "%.0f", 0),
]

TARGETS = [             # key, peer ("nginx" or "best"), highest ratio
    ("cpu_100", "nginx", 0.6),
    ("cpu_16384", "nginx", 0.6),
    ("instr", "nginx", 0.6),
    ("hs_cpu", "best", 0.8),
    ("idle_kib", "nginx", 0.9),
]


def medians(rounds, metrics=METRICS):
    """name -> key -> median over rounds (None when never measured)."""
    med = {}
    for name, results in rounds.items():
        med[name] = {}
        for key, *_ in metrics:
            vals = [r[key] for r in results if r.get(key) is not None]
            med[name][key] = statistics.median(vals) if vals else None
    return med


def best_peer(med, key, higher):
    vals = [med[n][key] for n in ("nginx", "haproxy")
            if n in med and med[n].get(key) is not None]
    if not vals:
        return None
    return max(vals) if higher else min(vals)


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "n/a"


def table(med, na, metrics=METRICS, na_text=PORTERO_NA):
    names = [n for n in ("nginx", "haproxy", "portero") if n in med]
    head = ["Metric", "better"] + names + ["portero/nginx",
                                          "portero/best peer"]
    rows = [head, ["---"] * len(head)]
    for key, label, fmt, higher in metrics:
        row = [label, "higher" if higher else "lower"]
        for n in names:
            v = med[n].get(key)
            if v is None:
                row.append(na_text if n == "portero" and na.get(n)
                           else "n/a")
            else:
                row.append(fmt % v)
        p = med.get("portero", {}).get(key)
        row.append(ratio(p, med.get("nginx", {}).get(key)))
        row.append(ratio(p, best_peer(med, key, higher)))
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def targets(med, goals=TARGETS, metrics=METRICS):
    lines = []
    p = med.get("portero", {})
    for key, peer, limit in goals:
        label = next(m[1] for m in metrics if m[0] == key)
        ref = med.get("nginx", {}).get(key) if peer == "nginx" \
            else best_peer(med, key, False)
        if p.get(key) is None or not ref:
            verdict = "not measured"
        else:
            r = p[key] / ref
            verdict = "%.2fx: %s" % (r, "met" if r <= limit else "NOT met")
        lines.append("- %s: portero <= %.1fx %s: %s" % (
            label, limit, "nginx" if peer == "nginx" else "best peer",
            verdict))
    return "\n".join(lines)


def rounds_table(rounds, metrics=METRICS):
    """Every round's figures; rows never measured in a round (the
    callgrind figures) are left out."""
    names = [n for n in ("nginx", "haproxy", "portero") if n in rounds and
             any(r.get(k) is not None for r in rounds[n] for k, *_ in
                 metrics)]
    nr = max(len(v) for v in rounds.values()) if rounds else 0
    head = ["Metric"] + ["%s r%d" % (n, i + 1) for n in names
                         for i in range(nr)]
    rows = [head, ["---"] * len(head)]
    for key, label, fmt, _ in metrics:
        if not any(r.get(key) is not None for n in names
                   for r in rounds[n]):
            continue
        row = [label]
        for n in names:
            for i in range(nr):
                r = rounds[n][i] if i < len(rounds[n]) else {}
                row.append(fmt % r[key] if r.get(key) is not None else "-")
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def first_line(argv):
    rc, out, err = run(argv)
    text = (out + err).strip()
    return text.splitlines()[0] if text else "?"


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
        cpu = m.group(1) if m else cpu
    with open("/proc/meminfo") as f:
        m = re.search(r"^MemTotal:\s+(\d+) kB", f.read(), re.M)
    mem = "%.1f GiB" % (int(m.group(1)) / 1048576) if m else "?"
    osname = "?"
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            osname = m.group(1) if m else osname
    except OSError:
        pass
    return cpu, mem, osname


def versions(proxies):
    v = {px.name: px.version() for px in proxies}
    v["openssl"] = " ".join(first_line(["openssl", "version"]).split()[:2])
    rc, out, _ = run(["pkg-config", "--modversion", "libtls"])
    v["libtls"] = out.strip() if rc == 0 else "?"
    v["wrk"] = first_line(["wrk", "-v"]).split("[")[0].strip()
    v["valgrind"] = first_line(["valgrind", "--version"])
    return v


# --- main ------------------------------------------------------------------

def make_cert(tmp):
    certdir = os.path.join(tmp, "certs")
    d = os.path.join(certdir, SNI)
    os.makedirs(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "privkey.pem")
    rc, out, err = run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=" + SNI,
                        "-addext", "subjectAltName=DNS:" + SNI])
    if rc != 0:
        raise RuntimeError("openssl req: " + err)
    # a throw-away key: readable by whichever user a proxy drops to
    for p in (tmp, certdir, d):
        os.chmod(p, 0o755)
    for p in (cert, key):
        os.chmod(p, 0o644)
    return cert, key, certdir


def main():
    t_start = time.time()
    for tool in ("wrk", "taskset", "openssl") + tuple(
            n for n in PROXIES if n != "portero") + (
            ("valgrind",) if CALLGRIND else ()) + (
            ("h2load",) if H2 else ()):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is missing (top-level `make bench` installs "
                     "it)" % tool)
    for path in (BACKEND, TLSLOAD):
        if not os.access(path, os.X_OK):
            sys.exit("bench: %s is not built (run make in bench/)" % path)

    # descriptors for 5,000 connections, inherited by every child
    global NOFILE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, max(65536, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if NOFILE < 2 * IDLE_CONNS + 200:
        sys.exit("bench: %d descriptors allowed, %d needed for %d idle "
                 "connections" % (NOFILE, 2 * IDLE_CONNS + 200, IDLE_CONNS))
    # the orchestrator itself stays off the proxy's CPU
    os.sched_setaffinity(0, {int(LOAD_CPU)})

    tmp = tempfile.mkdtemp(prefix="portero-bench.")
    try:
        run_bench(tmp, t_start)
    finally:
        cleanup()
        if KEEP_TMP:
            log("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def start_backend(tmp):
    """The bench backend on the load's CPU, counting its accepts: its
    process and its port."""
    global BACKEND_PROC, COUNTFILE
    portfile = os.path.join(tmp, "backend.port")
    COUNTFILE = os.path.join(tmp, "backend.count")
    BACKEND_PROC = spawn([BACKEND, "-p", portfile, "-c", COUNTFILE, ADDR,
                          "0"], LOAD_CPU)
    for _ in range(50):
        if os.path.exists(portfile) and open(portfile).read().endswith("\n"):
            return BACKEND_PROC, int(open(portfile).read())
        time.sleep(0.1)
    raise RuntimeError("the backend did not start")


def run_bench(tmp, t_start):
    cert, key, certdir = make_cert(tmp)
    backend, backend_port = start_backend(tmp)

    proxies = [PROXY_CLASSES[n](tmp, cert, key, certdir, backend_port)
               for n in PROXIES]
    rounds = {px.name: [] for px in proxies}
    for r in range(1, ROUNDS + 1 if H1 else 1):
        log("round %d of %d" % (r, ROUNDS))
        for px in proxies:
            if px.na is not None:
                rounds[px.name].append({})
                continue
            rounds[px.name].append(measure_turn(px, r))

    instr, cg_errors = {}, {}
    if CALLGRIND and H1:
        log("callgrind: %s requests on one connection" %
            " and ".join(map(str, CG_REQUESTS)))
        for px in proxies:
            if px.na is not None:
                continue
            try:
                instr[px.name] = measure_callgrind(px)
            except RuntimeError as e:
                log("  %s: %s" % (px.name, e))
                instr[px.name] = None
                cg_errors[px.name] = str(e)
    reg = None
    if REGISTRY and "portero" in PROXIES:
        reg = registry.run(sys.modules[__name__], tmp, cert, key, certdir,
                           backend_port)
    h2res = None
    if H2:
        h2res = h2.run(sys.modules[__name__], tmp, cert, key, certdir,
                       backend_port)
    stop(backend)

    med = medians(rounds)
    for name in med:
        med[name]["instr"] = instr.get(name)
    na = {px.name: px.na for px in proxies if px.na is not None}
    report(proxies, med, rounds, na, cg_errors, reg, h2res,
           time.time() - t_start)
    # the stall of a certificate change, appended (bench/certstall.py)
    if env_int("BENCH_CERTSTALL", 1) and "portero" in PROXIES:
        certstall.run(sys.modules[__name__], tmp)
    # CPU per new upstream TLS connection, appended (bench/upstream_tls.py)
    if env_int("BENCH_UPSTREAM", 1) and "portero" in PROXIES:
        env = dict(os.environ, BENCH_UPSTREAM_RESULTS=RESULTS)
        rc = subprocess.call([sys.executable, os.path.join(
            HERE, "upstream_tls.py")], env=env)
        if rc != 0:
            log("upstream_tls.py failed (exit %d)" % rc)
    # what the metrics cost a request, appended (metricscost.py)
    if env_int("BENCH_METRICSCOST", 1) and "portero" in PROXIES and \
            CALLGRIND:
        env = dict(os.environ, BENCH_METRICSCOST_RESULTS=RESULTS)
        rc = subprocess.call([sys.executable, os.path.join(
            HERE, "metricscost.py")], env=env)
        if rc != 0:
            log("metricscost.py failed (exit %d)" % rc)
    # a 1,000-server configuration against one, appended (confscale.py)
    if env_int("BENCH_CONFSCALE", 1) and "portero" in PROXIES:
        env = dict(os.environ, BENCH_CONFSCALE_RESULTS=RESULTS)
        rc = subprocess.call([sys.executable, os.path.join(
            HERE, "confscale.py")], env=env)
        if rc != 0:
            log("confscale.py failed (exit %d)" % rc)


def reflow(md):
    """Reflow the paragraphs substitutions left ragged; keep the rest."""
    out = "\n\n".join(textwrap.fill(par, 76) if par[:1].isalpha() and
                       "\n|" not in par else par
                       for par in md.split("\n\n"))
    return out + "\n" if md.endswith("\n") and out[-1:] != "\n" else out


def run_notes(proxies, rounds, cg_errors):
    """What went wrong in a part's runs, a line each, for its notes."""
    notes = []
    for px in proxies:
        if px.na:
            notes.append("- %s was not measured: %s" % (px.name, px.na))
        for i, r in enumerate(rounds[px.name]):
            for e in r.get("errors", []):
                notes.append("- %s, round %d: %s" % (px.name, i + 1, e))
        if px.name in cg_errors:
            notes.append("- %s, callgrind: %s" % (px.name,
                                                  cg_errors[px.name]))
    return notes


def report(proxies, med, rounds, na, cg_errors, reg, h2res, elapsed):
    cpu, mem, osname = machine()
    v = versions(proxies)
    tbl = table(med, na)
    notes = run_notes(proxies, rounds, cg_errors)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    md = f"""# portero benchmark

Written by `make bench` ({date}, {elapsed / 60:.1f} minutes).

Machine: {cpu}, {os.cpu_count()} CPUs, {mem}; {osname}; Linux
{platform.release()}.  Versions: nginx {v.get("nginx", "-")}, haproxy
{v.get("haproxy", "-")}, portero {v.get("portero", "-")}, {v["openssl"]},
libtls (libretls) {v["libtls"]}, {v["wrk"]}, {v["valgrind"]}.

Set-up: one worker each; TLS 1.3 (X25519, one ECDSA P-256 certificate);
HTTP/1.1 to one backend (bench/backend.c) over kept-alive upstream
connections (the backend counts its accepts: a proxy that opens new ones
is noted); logs off (nginx: upstream keepalive 64, keepalive_requests raised;
haproxy: http-reuse always); the proxy pinned to CPU {PROXY_CPU},
wrk/tlsload and the backend to CPU {LOAD_CPU}.  {ROUNDS} rounds alternating
the proxies;
the figures are medians.  Keep-alive: wrk -t1 -c{WRK_CONNS}, {WARMUP} s
warm-up then {SECONDS} s.  CPU: utime+stime of the proxy's whole process
tree over the run, divided by the requests (or handshakes) done; with the
client on the other CPU saturated, this is the figure to compare, not
requests/s.  Handshakes: tlsload, {HS_CONC} at a time for {HS_SECONDS} s,
full handshakes only (none resumed; the rate is bounded by the client,
which does as much public-key work as the server).  Memory: growth of the
tree's Pss with {IDLE_CONNS} idle TLS connections open (kernel socket
buffers not included).  Instructions: callgrind Ir of the proxy's tree,
({CG_REQUESTS[1]} requests - {CG_REQUESTS[0]} requests) /
{CG_REQUESTS[1] - CG_REQUESTS[0]}, each on one kept-alive connection from
a fresh start.  Best peer: the better of nginx and haproxy in that row.

{tbl if H1 else "The HTTP/1.1 rounds were skipped (BENCH_H1=0)."}
"""
    if H1:
        md += "\nTargets:\n\n" + targets(med) + "\n"
    md = reflow(md)
    if notes:
        md += "\nNotes:\n\n" + "\n".join(notes) + "\n"
    if H1:
        md += "\nEvery round:\n\n" + rounds_table(rounds) + "\n"
        print()
        print(tbl)
        print()
        print(targets(med))
    if notes:
        print("\n".join(notes))
    if h2res is not None:
        h2_md, h2_tbl, h2_goals = h2.report(*h2res)
        md += "\n" + h2_md
        print()
        print(h2_tbl)
        print()
        print(h2_goals)
    if reg is not None:
        reg_md, reg_tbl, reg_checks = registry.report(*reg)
        md += "\n" + reg_md
        print()
        print(reg_tbl)
        print()
        print(reg_checks)
    with open(RESULTS, "w") as f:
        f.write(md)
    log("wrote %s in %.1f minutes" % (RESULTS, elapsed / 60))


def on_signal(sig, frame):
    raise KeyboardInterrupt("signal %d" % sig)


if __name__ == "__main__":
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        main()
    except KeyboardInterrupt as e:
        log("interrupted (%s); cleaned up" % (e or "Ctrl-C"))
        sys.exit(130)
    except RuntimeError as e:
        log("failed: %s" % e)
        sys.exit(1)
