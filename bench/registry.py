"""registry.py: the registration API's part of `make bench` (portero alone:
nginx and haproxy have nothing like it).  bench.py calls run() after its
rounds, with itself as B, for its helpers and its backend.

Per round, two portero starts, each with the registration API on and the
bench backend registered as the one backend of the bench service:

  1 registered      wrk keep-alive, 100 B: proxy CPU per request
  10,000 registered the same, with 9,999 more backends registered over
                    999 more services first (routing looks a service up
                    by name: the figure must not grow with the registry);
                    the Pss the tree grew by for those, per backend; then
                    registrations/s with wrk POSTing refreshes of those
                    backends from 1 and from 32 connections, every one
                    durable (fsync'd) before its 200, with p50 and p99

Medians of the rounds go into RESULTS.md below the proxies' table.
Knobs: BENCH_REG_BACKENDS (10000), BENCH_REG_SERVICES (1000).
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

import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import shutil
import statistics
import threading
import time

B = None                # the bench module, set by run()
TMP = None              # its temporary directory

NBACKENDS = int(os.environ.get("BENCH_REG_BACKENDS", "10000"))
NSERVICES = int(os.environ.get("BENCH_REG_SERVICES", "1000"))
FAKE_PORT = 20000       # 127.0.0.1:20000.. : registered, never contacted
LOADERS = 32            # connections that fill the registry
SECRET = b"bench-register-secret-0123456789"
KEY = b"bench-jwt-key-0123456789abcdef0123456789abcdef"

METRICS = [
    ("cpu_1", "Proxy CPU per request, 1 registered backend (us)", "%.2f"),
    ("cpu_many", "Proxy CPU per request, %d registered (us)" % NBACKENDS,
     "%.2f"),
    ("instr_1", "Instructions per request, the worker, 1 registered "
     "(callgrind)", "%.0f"),
    ("instr_many", "Instructions per request, the worker, %d registered "
     "(callgrind)" % NBACKENDS, "%.0f"),
    ("tree_1", "Instructions per request, all processes, 1 registered "
     "(callgrind)", "%.0f"),
    ("tree_many", "Instructions per request, all processes, %d registered "
     "(callgrind)" % NBACKENDS, "%.0f"),
    ("mem_per", "Memory per registered backend (bytes, Pss of the tree, "
     "1 worker)", "%.0f"),
    ("fill_rate", "Filling the registry: registrations/s (%d clients)" %
     LOADERS, "%.0f"),
    ("rate_1", "Registrations/s, 1 client", "%.0f"),
    ("p50_1", "Time to 200, 1 client: p50 (ms)", "%.2f"),
    ("p99_1", "Time to 200, 1 client: p99 (ms)", "%.2f"),
    ("rate_32", "Registrations/s, 32 clients", "%.0f"),
    ("p50_32", "Time to 200, 32 clients: p50 (ms)", "%.2f"),
    ("p99_32", "Time to 200, 32 clients: p99 (ms)", "%.2f"),
]


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(service):
    head = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64u(json.dumps({"service_name": service,
                            "exp": int(time.time()) + 86400}).encode())
    sig = hmac.new(KEY, ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64u(sig))


def fake(k):
    """The k-th extra backend: (service, port)."""
    return "r%04d.bench" % (k % (NSERVICES - 1)), FAKE_PORT + k


def make_portero_class():
    class PorteroRegistry(B.Portero):
        """portero with its registration API on."""
        name = "portero-registry"

        def argv(self, callgrind):
            argv = super().argv(callgrind)
            argv.remove("--no-register")
            sf = os.path.join(self.tmp, "register.secret")
            kf = os.path.join(self.tmp, "jwt.key")
            for path, data in ((sf, SECRET), (kf, KEY)):
                with open(path, "wb") as f:
                    f.write(data)
                os.chmod(path, 0o600)
                if callgrind and B.IS_ROOT:     # it starts as nobody
                    os.chown(path, B.NOBODY, B.NOBODY)
            i = argv.index("--backend")
            del argv[i:i + 2]           # the backend is registered
            return argv + ["--register-secret-file", sf,
                           "--jwt-hmac-key-file", kf]

        def wait_ready(self, timeout):
            deadline = time.time() + timeout
            why = "no answer"
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    return "exited: " + B.tail(self.errlog)
                try:
                    register(self, B.SNI, self.backend_port, keep=None)
                    break
                except (OSError, RuntimeError,
                        http.client.HTTPException) as e:
                    why = str(e)
                    time.sleep(0.2)
            else:
                return "registering the bench backend: " + why
            return super().wait_ready(max(1, deadline - time.time()))
    return PorteroRegistry


def register(px, service, port, keep, tok=None):
    """POST /register on keep (an HTTPConnection) or a new connection."""
    body = json.dumps({"service_name": service, "host": B.ADDR,
                       "port": port, "ttl_seconds": 3600})
    conn = keep or http.client.HTTPConnection(B.ADDR, px.register_port,
                                              timeout=10)
    try:
        conn.request("POST", "/register", body, {
            "Content-Type": "application/json",
            "X-Register-Secret": SECRET.decode(),
            "Authorization": "Bearer " + (tok or token(service))})
        r = conn.getresponse()
        data = r.read()
    finally:
        if keep is None:
            conn.close()
    if r.status != 200:
        raise RuntimeError("registering %s port %d: %d %r" % (
            service, port, r.status, data[:200]))


def fill(px):
    """The extra backends, from LOADERS connections; registrations/s."""
    tokens = {}
    work = queue.Queue()
    for k in range(NBACKENDS - 1):
        svc, port = fake(k)
        if svc not in tokens:
            tokens[svc] = token(svc)
        work.put((svc, port))
    errors = []

    def loader():
        conn = http.client.HTTPConnection(B.ADDR, px.register_port,
                                          timeout=30)
        try:
            while not errors:
                try:
                    svc, port = work.get_nowait()
                except queue.Empty:
                    return
                register(px, svc, port, conn, tokens[svc])
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            errors.append(str(e))
        finally:
            conn.close()
    t0 = time.time()
    threads = [threading.Thread(target=loader) for _ in range(LOADERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("filling the registry: " + errors[0])
    return (NBACKENDS - 1) / (time.time() - t0)


def lua_script(path, tokens):
    """A wrk script that POSTs refreshes of the extra backends, spread
    over them (a stride prime to their number), each thread elsewhere."""
    toks = ",\n".join('  "%s"' % tokens[i] for i in range(NSERVICES - 1))
    with open(path, "w") as f:
        f.write("""-- written by bench/registry.py
local secret = "%s"
local tokens = {
%s
}
local nbe, nsvc, base = %d, %d, %d
local n = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  n = (tid or 1) * 104729
end

function request()
  n = n + 1
  local k = (n * 7919) %% nbe
  local svc = k %% nsvc
  local body = string.format('{"service_name":"r%%04d.bench",' ..
    '"host":"127.0.0.1","port":%%d,"ttl_seconds":3600}', svc, base + k)
  return wrk.format("POST", "/register", {
    ["Content-Type"] = "application/json",
    ["X-Register-Secret"] = secret,
    ["Authorization"] = "Bearer " .. tokens[svc + 1]}, body)
end
""" % (SECRET.decode(), toks, NBACKENDS - 1, NSERVICES - 1, FAKE_PORT))


def percentile(out, pct):
    m = re.search(r"^\s*%d%%\s+([\d.]+)(us|ms|s)\b" % pct, out, re.M)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]


def registrations(px, script, conns, res, key):
    threads = min(conns, 2)
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % B.SECONDS,
            "--latency", "-s", script,
            "http://%s:%d/register" % (B.ADDR, px.register_port)]
    rc, out, err = B.run(argv, B.LOAD_CPU, timeout=B.SECONDS + 30)
    reqs, rps, _, bad, sockerr = B.parse_wrk(out)
    if rc != 0 or reqs == 0 or bad or sockerr:
        raise RuntimeError("wrk POST /register -c%d: %d requests, %d not "
                           "2xx %s %s" % (conns, reqs, bad, sockerr,
                                          (err or "").strip()[-200:]))
    res["rate_" + key] = rps
    res["p50_" + key] = percentile(out, 50)
    res["p99_" + key] = percentile(out, 99)
    B.log("  registrations, %2d clients: %6.0f/s  p50 %.2f ms  p99 %.2f ms"
          % (conns, rps, res["p50_" + key] or 0, res["p99_" + key] or 0))


def turn(cls, tmp, args, many, res):
    px = cls(tmp, *args)
    # each start from an empty registry
    shutil.rmtree(os.path.join(px.tmp, "state"), ignore_errors=True)
    why = px.start()
    if why is not None:
        px.stop()
        raise RuntimeError("portero with its API on: " + why)
    try:
        if many:
            time.sleep(0.5)
            before = B.tree_pss_kib(px.proc.pid)
            res["fill_rate"] = fill(px)
            time.sleep(1)
            after = B.tree_pss_kib(px.proc.pid)
            res["mem_per"] = (after - before) * 1024 / (NBACKENDS - 1)
            B.log("  %d registered: Pss %d -> %d KiB, %.0f bytes each; "
                  "filled at %.0f/s" % (NBACKENDS, before, after,
                                        res["mem_per"], res["fill_rate"]))
        sub = {}
        B.measure_keepalive(px, 100, sub)
        res["cpu_many" if many else "cpu_1"] = sub["cpu_100"]
        res.setdefault("errors", []).extend(sub.get("errors", []))
        if many:
            tokens = [token("r%04d.bench" % i) for i in range(NSERVICES - 1)]
            script = os.path.join(px.tmp, "register.lua")
            lua_script(script, tokens)
            registrations(px, script, 1, res, "1")
            registrations(px, script, 32, res, "32")
    finally:
        px.stop()


def instructions(cls, tmp, args, many):
    """callgrind's instructions per request, as bench.py counts them for
    the proxies; the registry is filled first by a run not counted, and
    each counted run loads it from the state directory."""
    px = cls(tmp, *args)
    shutil.rmtree(os.path.join(px.tmp, "state"), ignore_errors=True)
    for n in B.CG_REQUESTS:
        shutil.rmtree(os.path.join(px.tmp, "cg-%d" % n), ignore_errors=True)
    if many:
        why = px.start()
        if why is not None:
            px.stop()
            raise RuntimeError("portero with its API on: " + why)
        try:
            fill(px)
        finally:
            px.stop()
        # one more start rewrites what fill() left as one sorted snapshot,
        # so that the two counted starts load the very same thing
        why = px.start()
        px.stop()
        if why is not None:
            raise RuntimeError("portero, restarted: " + why)
    lo, hi = B.CG_REQUESTS
    B.callgrind_ir(px, lo)
    B.callgrind_ir(px, hi)
    ir_lo = roles_ir(os.path.join(px.tmp, "cg-%d" % lo))
    ir_hi = roles_ir(os.path.join(px.tmp, "cg-%d" % hi))
    worker = (ir_hi.get("worker", 0) - ir_lo.get("worker", 0)) / (hi - lo)
    tree = (sum(ir_hi.values()) - sum(ir_lo.values())) / (hi - lo)
    B.log("  registry callgrind, %s registered: %.0f instr/request in "
          "the worker, %.0f in all (%s)" % (
              NBACKENDS if many else 1, worker, tree, ", ".join(
                  "%s %+d" % (r, ir_hi[r] - ir_lo.get(r, 0))
                  for r in sorted(ir_hi))))
    return worker, tree


def roles_ir(d):
    """Instructions per process role ("parent", "worker", ...) of one
    callgrind run, from its callgrind.out files."""
    out = {}
    for fn in os.listdir(d):
        if not fn.startswith("callgrind.out."):
            continue
        role, total = "parent", None
        with open(os.path.join(d, fn), errors="replace") as f:
            for line in f:
                if line.startswith("cmd:"):
                    m = re.search(r" -P (\w+)", line)
                    role = m.group(1) if m else "parent"
                elif line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        if total is not None:
            out[role] = out.get(role, 0) + total
    return out


def run(bench, tmp, cert, key_, certdir, backend_port):
    """Rounds of both turns, then callgrind on both; returns (medians,
    per-round results)."""
    global B, TMP
    B, TMP = bench, tmp
    cls = make_portero_class()
    rounds = []
    for r in range(1, B.ROUNDS + 1):
        B.log("registry round %d of %d" % (r, B.ROUNDS))
        res = {}
        for many in (False, True):
            B.wait_quiet("registry round %d" % r)
            try:
                turn(cls, tmp, (cert, key_, certdir, backend_port), many,
                     res)
            except (RuntimeError, OSError) as e:
                B.log("  registry: %s" % e)
                res.setdefault("errors", []).append(str(e))
        rounds.append(res)
    med = {}
    for k, *_ in METRICS:
        vals = [r[k] for r in rounds if r.get(k) is not None]
        med[k] = statistics.median(vals) if vals else None
    if B.CALLGRIND:
        for many in (False, True):
            sfx = "many" if many else "1"
            try:
                med["instr_" + sfx], med["tree_" + sfx] = instructions(
                    cls, tmp, (cert, key_, certdir, backend_port), many)
            except (RuntimeError, OSError) as e:
                B.log("  registry, callgrind: %s" % e)
                rounds[-1].setdefault("errors", []).append(str(e))
    return med, rounds


def report(med, rounds):
    """The section for RESULTS.md."""
    rows = [["Metric", "median"] + ["r%d" % (i + 1)
                                    for i in range(len(rounds))],
            ["---"] * (2 + len(rounds))]
    for k, label, fmt in METRICS:
        rows.append([label, fmt % med[k] if med[k] is not None else "n/a"] +
                    [fmt % r[k] if r.get(k) is not None else "-"
                     for r in rounds])
    tbl = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    checks = []
    for what, k1, km in (("CPU", "cpu_1", "cpu_many"),
                         ("the worker's instructions", "instr_1",
                          "instr_many"),
                         ("all processes' instructions", "tree_1",
                          "tree_many")):
        v1, vm = med.get(k1), med.get(km)
        if v1 and vm:
            checks.append("- %s per request with %d registered within 5 %% "
                          "of 1: %.3fx: %s" % (what, NBACKENDS, vm / v1,
                                               "met" if vm / v1 <= 1.05
                                               else "NOT met"))
    r32, p99 = med.get("rate_32"), med.get("p99_32")
    if r32:
        checks.append("- at least 2,000 durable registrations/s with 32 "
                      "clients: %.0f: %s" % (r32, "met" if r32 >= 2000
                                             else "NOT met"))
    if p99:
        checks.append("- p99 time to 200 under 20 ms with 32 clients: "
                      "%.2f ms: %s" % (p99, "met" if p99 < 20 else
                                       "NOT met"))
    notes = ["- round %d: %s" % (i + 1, e) for i, r in enumerate(rounds)
             for e in r.get("errors", [])]
    md = """## Registration API

portero alone, its registration API on, one worker; the bench backend is
the one registered backend of the bench service, and %d more backends over
%d more services are registered for the second figure on (127.0.0.1, ports
%d up: never contacted).  Registrations are refreshes of those, POSTed by
wrk over kept-alive connections, each written and fsync'd before its 200
(the state directory is on %s).

%s

Targets:

%s
""" % (NBACKENDS - 1, NSERVICES - 1, FAKE_PORT, fs_of(TMP),
       tbl, "\n".join(checks) or "- not measured")
    if notes:
        md += "\nNotes:\n\n" + "\n".join(notes) + "\n"
    return md, tbl, "\n".join(checks)


def fs_of(path):
    """The file system type and device of path, from /proc/mounts."""
    best, fstype, dev = "", "?", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                d, mnt, t = line.split()[:3]
                if path.startswith(mnt) and len(mnt) > len(best):
                    best, fstype, dev = mnt, t, d
    except OSError:
        pass
    return "%s (%s, mounted on %s)" % (fstype, dev, best or "?")
