"""
The access log: the logger child, the three formats (combined, json,
ltsv) with whatever a client sends, HTTP/1.1 and HTTP/2, request ids
(made, unique, sent to the backend once; a client's kept only with
trust), rotation under load with reopen and SIGUSR1, and a logger
killed and respawned.
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

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time

import alog
from backends import (EchoBackend, header_map, read_response, request,
                      tls_connect)
from harness import check, wait_until
from test_h2 import World

ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
MADE_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{2}-[0-9a-f]{16}")

# a path and a User-Agent with a quote, a backslash, a control byte
# (tab), bytes that are not UTF-8 and one that is
NASTY_PATH = b'/q"u\\o\xff\xfe?x=%22'
NASTY_AGENT = b'ag"e\\nt\tx\xff\xc3\xa9'


def _lines(path, n, timeout=5.0):
    """The file's lines (bytes) once it has at least n."""
    def enough():
        try:
            with open(path, "rb") as f:
                ls = f.read().split(b"\n")
        except OSError:
            return None
        if ls[-1] != b"":
            return None         # a line is written whole, never half
        return ls[:-1] if len(ls) - 1 >= n else None
    ls = wait_until(enough, timeout, 0.05)
    check(ls is not None, "%s: not %d whole lines within %.0f s" % (
        path, n, timeout))
    return ls


def _raw_tls(w, raw):
    s = tls_connect(w.d.listen_port, "a.test", w.ca.cert)
    try:
        s.sendall(raw)
        return read_response(s.makefile("rb"))
    finally:
        s.close()


def _dropped(d):
    return [w["log_dropped"] for w in d.workers_info()]


def test_json_every_field(t):
    w = World(t)
    be = w.backend("a.test")
    path = os.path.join(t.tmp, "access.log")
    d = w.start(extra=["--access-log", path, "--access-log-format", "json"])
    r = _raw_tls(w, b"GET /plain?a=1 HTTP/1.1\r\nHost: a.test\r\n"
                 b"User-Agent: ua-1\r\nReferer: http://r.test/x\r\n"
                 b"Connection: close\r\n\r\n")
    check(r.status == 200, "GET /plain: %d" % r.status)
    r = _raw_tls(w, b"GET /ua HTTP/1.1\r\nHost: a.test\r\n"
                 b"User-Agent: " + NASTY_AGENT + b"\r\n"
                 b"Connection: close\r\n\r\n")
    check(r.status == 200, "GET /ua: %d" % r.status)
    r = _raw_tls(w, b"GET " + NASTY_PATH + b" HTTP/1.1\r\nHost: a.test\r\n"
                 b"Connection: close\r\n\r\n")
    path_status = r.status
    rc, body, tail, err = w.curl(w.url("a.test", "/h2"), ["--http2"])
    check(rc == 0 and tail.split()[0] == "2", "curl --http2: rc %d, %r %r"
          % (rc, tail, err[-200:]))
    r = _raw_tls(w, b"GET /missing HTTP/1.1\r\nHost: nobody.test\r\n"
                 b"Connection: close\r\n\r\n")
    check(r.status in (404, 421), "unknown host: %d" % r.status)
    ls = _lines(path, 5)
    check(len(ls) == 5, "%d lines for 5 requests: %r" % (len(ls), ls))
    # jq parses every line, and so does Python
    jq = subprocess.run(["jq", "-c", "."], input=b"\n".join(ls) + b"\n",
                        capture_output=True, timeout=10)
    check(jq.returncode == 0 and len(jq.stdout.splitlines()) == 5,
          "jq: rc %d %r" % (jq.returncode, jq.stderr[:300]))
    recs = [json.loads(l) for l in ls]
    types = {"time": str, "client": str, "status": int, "bytes": int,
             "duration": (int, float), "protocol": str, "request_id": str,
             "upstream": (str, type(None)),
             "upstream_time": (int, float, type(None)),
             "tls_version": str, "tls_resumed": bool,
             "method": (str, type(None)), "host": (str, type(None)),
             "sni": str, "target": (str, type(None)),
             "referer": (str, type(None)),
             "user_agent": (str, type(None))}
    for rec in recs:
        check(set(rec) == set(types), "members %s" % sorted(rec))
        for k, ty in types.items():
            check(isinstance(rec[k], ty), "%s is %r in %r" % (k, rec[k],
                                                               rec))
        check(ISO_RE.fullmatch(rec["time"]), "time %r" % rec["time"])
        check(rec["client"] == "127.0.0.1" and rec["sni"] == "a.test" and
              rec["tls_version"].startswith("TLSv1."), "client, SNI, TLS "
              "in %r" % rec)
        check(MADE_ID_RE.fullmatch(rec["request_id"]), "id %r" %
              rec["request_id"])
        check(0 <= rec["duration"] < 5, "duration %r" % rec["duration"])
    plain, agent, badpath, h2, missing = recs
    check(plain["method"] == "GET" and plain["target"] == "/plain?a=1" and
          plain["host"] == "a.test" and plain["status"] == 200 and
          plain["protocol"] == "HTTP/1.1" and
          plain["user_agent"] == "ua-1" and
          plain["referer"] == "http://r.test/x" and
          plain["upstream"] == be.addr and
          0 <= plain["upstream_time"] <= plain["duration"] and
          plain["bytes"] > 0, "plain request: %r" % plain)
    check(agent["method"] == "GET" and agent["target"] == "/ua",
          "agent's request: %r" % agent)
    check(agent["user_agent"] == 'ag"e\\nt\tx\xff\xe9', "nasty agent %r" %
          agent["user_agent"])
    # bytes that are not UTF-8 come back as the code points of their
    # numbers; the parser may refuse such a target, and it is logged
    check(badpath["status"] == path_status, "nasty path: %r" % badpath)
    check(badpath["target"] in (None, NASTY_PATH.decode("latin-1")),
          "nasty target %r" % badpath["target"])
    t.note("a target with a quote, a backslash and 0xff: %d, logged as "
           "%r" % (path_status, badpath["target"]))
    check(h2["protocol"] == "HTTP/2" and h2["target"] == "/h2" and
          h2["status"] == 200 and h2["user_agent"].startswith("curl/"),
          "HTTP/2 request: %r" % h2)
    check(missing["upstream"] is None and missing["upstream_time"] is None
          and missing["host"] == "nobody.test", "unknown host: %r" % missing)
    check(len({r["request_id"] for r in recs}) == 5, "ids not unique")

    # a line too long for 1023 bytes: its last members go, whole
    long_path = b"/" + b"p" * 500
    r = _raw_tls(w, b"GET " + long_path + b" HTTP/1.1\r\nHost: a.test\r\n"
                 b"Referer: " + b"\\" * 250 + b"\r\nUser-Agent: " +
                 b"\xff" * 250 + b"\r\nConnection: close\r\n\r\n")
    check(r.status == 200, "long request: %d" % r.status)
    ls = _lines(path, 6)
    check(len(ls[5]) <= 1023, "a line of %d bytes" % len(ls[5]))
    cut = json.loads(ls[5])
    check(cut.get("truncated") is True and cut["status"] == 200 and
          cut["target"] == long_path.decode() and "user_agent" not in cut,
          "cut line: %r" % cut)
    check(_dropped(d) == [0], "log_dropped %r" % _dropped(d))


def test_combined_and_ltsv(t):
    be = EchoBackend(t, "app")
    for fmt in ("combined", "ltsv"):
        path = os.path.join(t.tmp, "%s.log" % fmt)
        d = t.daemon(workers=1, extra_args=[
            "--backend", "app.test=%s" % be.addr, "--access-log", path,
            "--access-log-format", fmt]).start()
        r = request(d.listen_port, b"GET /c?x=1 HTTP/1.1\r\nHost: app.test"
                    b"\r\nUser-Agent: " + NASTY_AGENT + b"\r\nReferer: "
                    b"http://r.test/\r\nConnection: close\r\n\r\n")
        check(r.status == 200, "%s: GET /c: %d" % (fmt, r.status))
        r = request(d.listen_port, b"GET /d HTTP/1.0\r\n\r\n")
        ls = [l.decode("latin-1") for l in _lines(path, 2)]
        check(len(ls) == 2, "%s: %d lines: %r" % (fmt, len(ls), ls))
        if fmt == "combined":
            f = alog.combined(ls[0])
            check(f, "not combined: %r" % ls[0])
            check(f["request"] == "GET /c?x=1 HTTP/1.1" and
                  f["status"] == 200 and f["referer"] == "http://r.test/"
                  and f["agent"] == 'ag\\x22e\\x5cnt\\x09x\\xff\\xc3\\xa9'
                  and f["host"] == "app.test" and f["sni"] == "-" and
                  f["upstream"] == be.addr and f["tls"] == "-" and
                  MADE_ID_RE.fullmatch(f["request_id"]), "fields %r" % f)
            g = alog.combined(ls[1])
            check(g and g["protocol"] == "HTTP/1.0" and g["host"] == "-"
                  and g["referer"] == "-" and g["agent"] == "-",
                  "HTTP/1.0 line %r" % ls[1])
        else:
            f = alog.ltsv(ls[0])
            want = ["time", "host", "vhost", "sni", "method", "uri",
                    "protocol", "status", "size", "reqtime", "upstream",
                    "apptime", "tls", "resumed", "reqid", "referer", "ua"]
            check(f and list(f) == want, "labels %r" % (f and list(f)))
            check(ISO_RE.fullmatch(f["time"]) and f["host"] == "127.0.0.1"
                  and f["vhost"] == "app.test" and f["method"] == "GET" and
                  f["uri"] == "/c?x=1" and f["status"] == "200" and
                  f["protocol"] == "HTTP/1.1" and
                  f["ua"] == 'ag"e\\\\nt\\tx\\xff\\xc3\\xa9' and
                  f["upstream"] == be.addr and f["tls"] == "-" and
                  re.fullmatch(r"\d+\.\d{3}", f["reqtime"]),
                  "fields %r" % f)
        d.check_restarts()
        problem = d.stop()
        check(problem is None, problem)


def _ids_seen(be):
    with be.lock:
        return [header_map(r).get("x-request-id") for r in be.requests]


def test_request_ids(t):
    be = EchoBackend(t, "app")
    path = os.path.join(t.tmp, "access.log")
    d = t.daemon(workers=2, extra_args=[
        "--backend", "app.test=%s" % be.addr, "--access-log", path,
        "--access-log-format", "json"]).start()
    n = 3000
    r = t.run(["h2load", "--h1", "-n", str(n), "-c", "8", "-H",
               ":authority: app.test", "-H", "X-Request-Id: from-client",
               "http://127.0.0.1:%d/id" % d.listen_port], timeout=60)
    m = re.search(r"(\d+) succeeded", r.stdout)
    check(m and int(m.group(1)) == n, "h2load: %s" % r.stdout[-600:])
    seen = _ids_seen(be)
    check(len(seen) == n, "backend saw %d requests" % len(seen))
    check(all(v is not None and len(v) == 1 for v in seen),
          "a request reached the backend without exactly one X-Request-Id:"
          " %r" % [v for v in seen if v is None or len(v) != 1][:3])
    ids = [v[0] for v in seen]
    check(all(MADE_ID_RE.fullmatch(i) for i in ids), "not made here: %r" %
          [i for i in ids if not MADE_ID_RE.fullmatch(i)][:3])
    check(len(set(ids)) == n, "%d distinct ids for %d requests" % (
        len(set(ids)), n))
    logged = [json.loads(l)["request_id"] for l in _lines(path, n)]
    check(sorted(logged) == sorted(ids), "the log's ids are not those the "
          "backend saw")

    # with trust-request-id, in the file: a sane id is kept
    conf = os.path.join(t.tmp, "portero.conf")
    with open(conf, "w") as f:
        f.write("trust-request-id\naccess-log-format ltsv\n")
    d.check_restarts()
    d.stop()
    d = t.daemon(workers=1, extra_args=[
        "-f", conf, "--backend", "app.test=%s" % be.addr,
        "--access-log", path]).start()
    before = len(_ids_seen(be))
    cases = [("Abc-1.2_3:4", "Abc-1.2_3:4"), ("x" * 64, "x" * 64),
             ("x" * 65, None), ("bad id", None), ("", None)]
    for sent, want in cases:
        r = request(d.listen_port, b"GET /t HTTP/1.1\r\nHost: app.test\r\n"
                    b"X-Request-Id: %s\r\nConnection: close\r\n\r\n" %
                    sent.encode())
        check(r.status == 200, "id %r: status %d" % (sent, r.status))
    r = request(d.listen_port, b"GET /t HTTP/1.1\r\nHost: app.test\r\n"
                b"X-Request-Id: one\r\nX-Request-Id: two\r\n"
                b"Connection: close\r\n\r\n")
    got = _ids_seen(be)[before:]
    check(all(v is not None and len(v) == 1 for v in got), "not exactly "
          "one X-Request-Id: %r" % got)
    for (sent, want), v in zip(cases, got):
        if want is None:
            check(MADE_ID_RE.fullmatch(v[0]), "%r was not replaced: %r" % (
                sent, v[0]))
        else:
            check(v[0] == want, "%r was not kept: %r" % (sent, v[0]))
    check(MADE_ID_RE.fullmatch(got[-1][0]), "two ids were not replaced: "
          "%r" % got[-1])
    ls = [alog.ltsv(l.decode()) for l in _lines(path, n + 6)[n:]]
    check([f["reqid"] for f in ls] == [v[0] for v in got],
          "the log's ids %r, the backend's %r" % (ls, got))


class Load:
    """Requests from threads, each on a kept-alive connection, paced to
    about rate a second in all, until stop(); counts the completed."""

    def __init__(self, port, host, rate, threads=4):
        self.port, self.host = port, host
        self.interval = threads / float(rate)
        self.done = 0
        self.errors = []
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(threads)]
        for th in self.threads:
            th.start()

    def _run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        nxt = time.monotonic()
        while self.running:
            try:
                c.request("GET", "/load", headers={"Host": self.host})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    with self.lock:
                        self.done += 1
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=5)
            nxt += self.interval
            time.sleep(max(0, nxt - time.monotonic()))
        c.close()

    def stop(self):
        self.running = False
        for th in self.threads:
            th.join(10)
        return self.done


def test_rotation_under_load(t):
    be = EchoBackend(t, "app")
    logs = os.path.join(t.tmp, "logs")
    os.mkdir(logs)
    path = os.path.join(logs, "access.log")
    d = t.daemon(workers=2, extra_args=[
        "--backend", "app.test=%s" % be.addr, "--access-log", path,
        "--access-log-format", "json"]).start()
    load = Load(d.listen_port, "app.test", 300)
    time.sleep(1.5)
    os.rename(path, path + ".1")
    d.ctl("reopen")
    time.sleep(1.5)
    os.rename(path, path + ".2")
    os.kill(d.pid, signal.SIGUSR1)
    time.sleep(2)
    done = load.stop()
    check(not load.errors, "client errors: %r" % load.errors[:3])
    t.note("%d requests in about 5 s" % done)
    check(done > 900, "only %d requests completed" % done)
    files = [path + ".1", path + ".2", path]

    def whole():
        ls = []
        for p in files:
            with open(p, "rb") as f:
                data = f.read()
            if data and not data.endswith(b"\n"):
                return None
            ls.append(data.split(b"\n")[:-1] if data else [])
        return ls if sum(map(len, ls)) >= done else None
    per = wait_until(whole, 5, 0.1)
    check(per is not None, "the three files do not hold %d lines" % done)
    counts = [len(p) for p in per]
    t.note("lines per file: %s" % counts)
    check(sum(counts) == done, "%d lines in the files for %d requests" % (
        sum(counts), done))
    check(all(c > 0 for c in counts), "a file got no line: %s" % counts)
    ids = set()
    for p in per:
        for l in p:
            rec = json.loads(l)
            check(rec["target"] == "/load" and rec["status"] == 200,
                  "line %r" % l)
            ids.add(rec["request_id"])
    check(len(ids) == done, "%d distinct ids in %d lines" % (len(ids),
                                                              done))
    check(_dropped(d) == [0, 0], "log_dropped %r" % _dropped(d))
    st = d.status()
    check(st["access_log"]["reopens"] == 2 and
          st["access_log"]["write_errors"] == 0, "status: %r" %
          st["access_log"])

    # a file that cannot be opened keeps the old one
    os.rename(logs, logs + ".gone")
    r = d.ctl("reopen", check_rc=False)
    check(r.returncode != 0 and "open" in r.stderr, "reopen in a missing "
          "directory: rc %d, %r" % (r.returncode, r.stderr))
    r = request(d.listen_port, b"GET /after HTTP/1.1\r\nHost: app.test\r\n"
                b"Connection: close\r\n\r\n")
    check(r.status == 200, "status %d" % r.status)
    ls = _lines(os.path.join(logs + ".gone", "access.log"),
                counts[2] + 1)
    check(b"/after" in ls[-1], "the old file did not go on: %r" % ls[-1:])


def test_logger_killed_respawned(t):
    be = EchoBackend(t, "app")
    path = os.path.join(t.tmp, "access.log")
    d = t.daemon(workers=2, extra_args=[
        "--backend", "app.test=%s" % be.addr, "--access-log", path]).start()
    d.check_tree()
    for i in range(5):
        request(d.listen_port, b"GET /before HTTP/1.1\r\nHost: app.test\r\n"
                b"Connection: close\r\n\r\n")
    _lines(path, 5)
    old = d.child_map()[("logger", 0)]["pid"]
    os.kill(old, signal.SIGKILL)
    new, took = d.wait_respawned("logger", 0, old, 2.0)
    d.expect_restarts[("logger", 0)] = 1
    t.note("logger back in %.3f s" % took)
    for i in range(20):
        r = request(d.listen_port, b"GET /after HTTP/1.1\r\n"
                    b"Host: app.test\r\nConnection: close\r\n\r\n")
        check(r.status == 200, "status %d" % r.status)
    ls = _lines(path, 25)
    check(len(ls) == 25 and all(alog.combined(l.decode()) for l in ls),
          "%d lines after the respawn: %r" % (len(ls), ls[-3:]))
    check(sum(b"/after" in l for l in ls) == 20, "lines after the respawn "
          "missing")
    check(_dropped(d) == [0, 0], "log_dropped %r" % _dropped(d))
    d.check_tree()
