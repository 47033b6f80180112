"""
Balancing modes per pool (portero.conf(5), BALANCING): each mode's
distribution over three real backends (weighted round robin in exact
proportions, two random choices, least connections with a slow backend,
consistent hashing on the address, a header and a cookie, shared by the
workers), and the sticky cookie: set, kept, fallen back from when its
backend dies or its value is forged.  The grammar of the options, good
and bad.  Backends are the echo servers of backends.py.
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

import json
import os
import re
import socket
import threading
import time

from backends import EchoBackend, RawBackend, read_response
from harness import PORTERO, check, fail

HOST = "app.test"
COOKIE_RE = re.compile(r"^srv=([0-9a-f]{16}); Path=/; HttpOnly$")


def write_conf(t, text, name="portero.conf"):
    path = os.path.join(t.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def pool_conf(backends, options, workers=1):
    """A file with one pool of backends [(port, weight)], its balancing
    options, and a server that forwards to it."""
    lines = ["workers %d" % workers, 'pool "api" {']
    for port, weight in backends:
        lines.append("\tbackend 127.0.0.1 port %d weight %d"
                     % (port, weight))
    lines += ["\t" + o for o in options]
    lines += ["}", 'server "%s" { forward to "api" }' % HOST, ""]
    return "\n".join(lines)


def start(t, bes, weights, options, workers=1):
    text = pool_conf([(be.port, w) for be, w in zip(bes, weights)],
                     options, workers)
    path = write_conf(t, text)
    return t.daemon(workers=workers, register=False,
                    extra_args=["-f", path]).start()


def three(t):
    return [EchoBackend(t, n) for n in ("a", "b", "c")]


def finish(d):
    d.check_restarts()
    problem = d.stop()
    check(problem is None, problem)


class Client:
    """One keep-alive HTTP/1.1 connection, from a chosen loopback
    address."""

    def __init__(self, t, port, source="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.bind((source, 0))
        self.s.connect(("127.0.0.1", port))
        t.socket(self.s)
        self.f = self.s.makefile("rb")

    def get(self, path="/", headers=()):
        raw = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (path, HOST)
        raw += "".join("%s: %s\r\n" % kv for kv in headers)
        self.s.sendall((raw + "\r\n").encode("latin-1"))
        r = read_response(self.f)
        check(r.status == 200, "GET %s: status %d" % (path, r.status))
        return r

    def who(self, path="/", headers=()):
        return self.get(path, headers).json()["name"]

    def close(self):
        self.f.close()
        self.s.close()


def counts(names):
    out = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


# ---------------------------------------------------------------------
# the modes

def test_roundrobin_weighted(t):
    bes = three(t)
    d = start(t, bes, (3, 2, 1), [])
    c = Client(t, d.listen_port)
    seq = [c.who("/%d" % i) for i in range(60)]
    got = counts(seq)
    check(got == {"a": 30, "b": 20, "c": 10},
          "60 requests over weights 3, 2, 1: %r" % got)
    check("".join(seq[:6]) == "abacba",
          "turns not interleaved: %s" % "".join(seq[:12]))
    # "balance roundrobin" said aloud is the same
    finish(d)
    d = start(t, bes, (1, 1, 1), ["balance roundrobin"])
    c = Client(t, d.listen_port)
    got = counts(c.who() for _ in range(30))
    check(got == {"a": 10, "b": 10, "c": 10}, "equal weights: %r" % got)
    finish(d)


def test_random_two_choices(t):
    bes = three(t)
    d = start(t, bes, (1, 1, 1), ["balance random"])
    c = Client(t, d.listen_port)
    got = counts(c.who() for _ in range(300))
    check(len(got) == 3 and min(got.values()) >= 50,
          "300 requests at random: %r (each should have 50 or more)"
          % got)
    # not round robin in disguise: turns repeat every three requests
    seq = [c.who() for _ in range(30)]
    check(any(seq[i] != seq[i + 3] for i in range(27)),
          "random answers in strict turns: %s" % "".join(seq))
    finish(d)


def _slow_backend(conn, be):
    """Answers every request after 0.4 s, keeping the connection."""
    f = conn.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            return
        while f.readline() not in (b"\r\n", b"\n", b""):
            pass
        time.sleep(0.4)
        body = json.dumps({"name": be.name}).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        with be.lock:
            be.received.append(line)


def test_least_connections_slow_backend(t):
    fast = [EchoBackend(t, n) for n in ("a", "b")]
    slow = RawBackend(t, _slow_backend, name="slow")
    d = start(t, fast + [slow], (1, 1, 1), ["balance least-connections"])
    port = d.listen_port
    names = []
    lock = threading.Lock()
    deadline = time.monotonic() + 3

    def load():
        c = Client(t, port)
        while time.monotonic() < deadline:
            n = c.who()
            with lock:
                names.append(n)
        c.close()

    th = [threading.Thread(target=load) for _ in range(6)]
    for x in th:
        x.start()
    for x in th:
        x.join(15)
    got = counts(names)
    total = len(names)
    check(total > 100, "only %d requests in 3 s" % total)
    check(got.get("slow", 0) * 10 < total and
          got.get("a", 0) * 3 > total and got.get("b", 0) * 3 > total,
          "least connections with a slow backend: %r of %d" % (got, total))
    finish(d)

    # one request held on a backend: sequential ones avoid it
    d = start(t, three(t), (1, 1, 1), ["balance least-connections"])
    port = d.listen_port
    hold = Client(t, port)
    hold.s.sendall(("GET /sleep/2 HTTP/1.1\r\nHost: %s\r\n\r\n"
                    % HOST).encode())
    time.sleep(0.3)
    c = Client(t, port)
    seq = [c.who() for _ in range(12)]
    held = read_response(hold.f).json()["name"]
    check(held not in seq, "a backend busy with a slow request got %s"
          % seq)
    finish(d)


def test_hash_address(t):
    bes = three(t)
    d = start(t, bes, (1, 1, 1), ["balance hash address"], workers=2)
    port = d.listen_port
    where = {}
    for i in range(2, 62):
        src = "127.0.0.%d" % i
        seen = set()
        for _ in range(3):          # new connections: either worker
            c = Client(t, port, source=src)
            seen.add(c.who())
            seen.add(c.who())
            c.close()
        check(len(seen) == 1, "client %s went to %s" % (src, seen))
        where[src] = seen.pop()
    got = counts(where.values())
    check(len(got) == 3 and min(got.values()) >= 8,
          "60 client addresses over three backends: %r" % got)
    finish(d)


def _key_spread(t, d, header):
    """60 keys sent in header (name, format): each stays on one
    backend over two connections; all three backends get some."""
    name, fmt = header
    c1 = Client(t, d.listen_port)
    c2 = Client(t, d.listen_port)
    where = {}
    for i in range(60):
        h = [(name, fmt % ("user%d" % i))]
        w = {c1.who(headers=h), c2.who(headers=h), c1.who(headers=h)}
        check(len(w) == 1, "key user%d went to %s" % (i, w))
        where[i] = w.pop()
    got = counts(where.values())
    check(len(got) == 3 and min(got.values()) >= 8,
          "60 keys over three backends: %r" % got)
    # no key: round robin
    seq = [c1.who() for _ in range(6)]
    check(sorted(counts(seq).values()) == [2, 2, 2],
          "requests without the key: %s" % seq)


def test_hash_header(t):
    bes = three(t)
    d = start(t, bes, (1, 1, 1), ['balance hash header "X-User"'],
              workers=2)
    _key_spread(t, d, ("x-user", "%s"))
    finish(d)


def test_hash_cookie(t):
    bes = three(t)
    d = start(t, bes, (1, 1, 1), ['balance hash cookie "uid"'])
    _key_spread(t, d, ("Cookie", "a=1; uid=%s; b=2"))
    finish(d)


# ---------------------------------------------------------------------
# the sticky cookie

def _cookie(r, what):
    v = r.get_all("set-cookie")
    check(len(v) == 1, "%s: Set-Cookie %r, expected one" % (what, v))
    m = COOKIE_RE.match(v[0])
    check(m, "%s: Set-Cookie %r" % (what, v[0]))
    return m.group(1)


def test_sticky_cookie(t):
    bes = three(t)
    byname = {be.name: be for be in bes}
    d = start(t, bes, (1, 1, 1), ['sticky cookie "srv"'])
    c = Client(t, d.listen_port)

    r = c.get()
    first = r.json()["name"]
    val = _cookie(r, "first response")
    check(str(bes[0].port) not in val and "127" not in val,
          "the cookie shows the address: %s" % val)

    # with it: the same backend, and no cookie again
    for _ in range(10):
        r = c.get(headers=[("Cookie", "x=1; srv=%s" % val)])
        check(r.json()["name"] == first, "the cookie for %s went to %s"
              % (first, r.json()["name"]))
        check(r.get("set-cookie") is None, "the cookie set again: %r"
              % r.get("set-cookie"))

    # each backend has its own value, the same on a new connection
    vals = {first: val}
    for _ in range(6):
        r = Client(t, d.listen_port).get()
        name = r.json()["name"]
        v = _cookie(r, "without a cookie")
        check(vals.setdefault(name, v) == v, "two values for %s" % name)
    check(len(vals) == 3 and len(set(vals.values())) == 3,
          "values per backend: %r" % vals)

    # its backend killed: another answers and the cookie is set anew
    byname[first].stop()
    time.sleep(0.3)         # its pooled connections seen closing
    r = c.get(headers=[("Cookie", "srv=%s" % val)])
    other = r.json()["name"]
    check(other != first, "a killed backend answered")
    check(_cookie(r, "after the kill") == vals[other],
          "the new cookie does not name %s" % other)

    # forged and malformed values: the mode underneath, a cookie set
    for bad in ("0123456789abcdef", "../../etc/passwd", vals[other][:8],
                vals[other].upper()):
        r = c.get(headers=[("Cookie", "srv=%s" % bad)])
        got = r.json()["name"]
        check(got != first, "a forged cookie reached the dead backend")
        check(_cookie(r, "cookie %r" % bad) == vals[got],
              "cookie %r: the value set does not name %s" % (bad, got))
    finish(d)


def test_sticky_over_hash(t):
    bes = three(t)
    d = start(t, bes, (1, 1, 1), ['balance hash header "X-User"',
                                  'sticky cookie "srv"'])
    c = Client(t, d.listen_port)
    r = c.get(headers=[("X-User", "alice")])
    home = r.json()["name"]
    val = _cookie(r, "first")
    # the cookie wins over the key, the key decides without it
    for i in range(10):
        r = c.get(headers=[("X-User", "user%d" % i),
                           ("Cookie", "srv=%s" % val)])
        check(r.json()["name"] == home, "the cookie lost to the key")
    for _ in range(5):
        r = c.get(headers=[("X-User", "alice")])
        check(r.json()["name"] == home, "the key moved without a cookie")
    finish(d)


def test_sticky_h2_tls(t):
    """Over HTTP/2 on the TLS listener: the cookie is Secure, and the
    one sent back (split in two cookie fields, as HTTP/2 may) sticks."""
    from test_h2 import World
    bes = three(t)
    w = World(t, names=(HOST,))
    path = write_conf(t, pool_conf([(be.port, 1) for be in bes],
                                   ['sticky cookie "srv"']))
    d = w.start(workers=1, extra=["-f", path])
    c = w.h2(HOST)
    st = c.get("/", authority=HOST)
    check(st.status == 200, "h2: status %s" % st.status)
    first = json.loads(bytes(st.data))["name"]
    v = st.header_all("set-cookie")
    m = re.match(r"^srv=([0-9a-f]{16}); Path=/; HttpOnly; Secure$",
                 v[0] if len(v) == 1 else "")
    check(m, "h2 over TLS: Set-Cookie %r" % v)
    for _ in range(6):
        st = c.get("/", authority=HOST, headers=[
            ("cookie", "a=1"), ("cookie", "srv=%s" % m.group(1))])
        check(json.loads(bytes(st.data))["name"] == first,
              "h2: the cookie did not stick")
        check(st.header("set-cookie") is None, "h2: the cookie set again")
    finish(d)


# ---------------------------------------------------------------------
# the grammar

GOOD = """
pool "a" {
	backend 127.0.0.1 port 9001
	balance least-connections
}
pool "b" {
	backend 127.0.0.1 port 9001
	balance hash cookie "session_id"
	sticky cookie "SRV"
}
pool "c" { backend 127.0.0.1 port 9001; balance hash address }
pool "d" { balance random; sticky cookie "srv" }
pool "e" { balance hash header "X-Tenant" }
server "x.test" { forward to "a" }
"""

BAD = [
    ('pool "p" { balance fastest }', "balance fastest: want roundrobin, "
     "random, least-connections or hash"),
    ('pool "p" { balance hash }', "syntax error"),
    ('pool "p" { balance hash header "X User" }',
     "hash header \"X User\": not a field name"),
    ('pool "p" { balance hash cookie "" }',
     "hash cookie \"\": not a cookie name"),
    ('pool "p" { sticky cookie "a;b" }',
     "sticky cookie \"a;b\": not a cookie name"),
    ('pool "p" { balance random; balance hash address }',
     "pool \"p\": balance given twice"),
    ('pool "p" { sticky cookie "s"; sticky cookie "t" }',
     "pool \"p\": sticky cookie given twice"),
    ('pool "p" { balance hash cookie "s"; sticky cookie "s" }',
     "sticky cookie \"s\": the cookie the hash reads"),
]


def test_grammar(t):
    path = write_conf(t, GOOD)
    r = t.run([PORTERO, "-n", "--no-register", "-f", path])
    check(r.returncode == 0, "-n on good balancing options: exit %d: %s"
          % (r.returncode, r.stderr.strip()))
    for i, (text, msg) in enumerate(BAD):
        path = write_conf(t, "# line 1\n" + text + "\n", "bad%d.conf" % i)
        r = t.run([PORTERO, "-n", "--no-register", "-f", path])
        want = "%s:2: %s" % (path, msg)
        check(r.returncode == 1 and want in r.stderr,
              "%r: exit %d, stderr %r; expected %r" % (
                  text, r.returncode, r.stderr.strip(), want))
