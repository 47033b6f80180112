"""
portero.conf(5): the grammar (each element with a good and a bad
example, the bad ones with their FILE:LINE messages), -n, include and
macros; routing by server, alias, wildcard and default, locations,
rewrites, redirects, blocks and fields; reloads that take a good file
and refuse a bad one.  Backends are the echo servers of backends.py;
the listener is plain (no certificate directory), so requests are
simple to make.
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
import socket
import threading
import time

from backends import (EchoBackend, RawBackend, TestCA, closed_port, get,
                      header_map, read_response, request, silent)
from harness import PORTERO, check, connect_refused, free_ports, wait_until


def write_conf(t, text, name="portero.conf"):
    path = os.path.join(t.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def check_only(t, path, *flags):
    """(exit status, stderr lines) of portero -n -f path."""
    r = t.run([PORTERO, "-n", "-f", path] + list(flags))
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln]


def served_by(r, be, what):
    check(r.status == 200, "%s: status %d, expected 200 from %s (body %r)"
          % (what, r.status, be.name, r.body[:200]))
    info = r.json()
    check(info["name"] == be.name, "%s: answered by %r, expected %r"
          % (what, info["name"], be.name))
    return info


def conf_daemon(t, text, workers=1, extra=()):
    path = write_conf(t, text)
    d = t.daemon(workers=workers, extra_args=["-f", path] + list(extra))
    d.conf_path = path
    return d.start()


# ---------------------------------------------------------------------
# the grammar and -n

GOOD = """
# a comment, then a macro
backend_port = "%(port)d"
workers 2
idle-timeout 30
no-register
max-body-size 10m
listen on 127.0.0.1 port 28443 tls
listen on 127.0.0.1 port 28080
pool "api" {
	backend 127.0.0.1 port $backend_port weight 2
	backend localhost port $backend_port tls
}
pool "static" { backend 127.0.0.1 port 9003 }
server "example.com" {
	alias "www.example.com"
	alias "*.example.net"
	default
	forward to "api"
	forwarded rfc7239
	location "/static/*" { forward to "static"; path strip "/static" }
	location "/v1/*" {
		forward to "api"
		path replace "/v1/" with "/v2/"
	}
	location "/old/*" { return 301 "https://$HOST/new$REQUEST_URI" }
	location "/admin/*" { block return 403 }
	location "/exact" { block }
	request header set "X-Who" "$REMOTE_ADDR"
	request header add "X-More" "a"
	request header remove "Cookie2"
	response header set "X-Served-By" "$SERVER_NAME"
	response header remove "Server"
}
"""


def test_check_good_file(t):
    path = write_conf(t, GOOD % {"port": 9001})
    rc, lines = check_only(t, path)
    check(rc == 0, "-n on a good file: exit %d: %s" % (rc, lines))
    check(any("configuration OK" in ln for ln in lines),
          "-n says nothing of OK: %s" % lines)


# Each bad example with the line and the message -n must give for it.
BAD = [
    ("workers x", "workers \"x\" is invalid"),
    ("bogus-option 1", "unknown keyword \"bogus-option\""),
    ("register-secret s3cret", "\"register-secret\" is not for the file"),
    ("listen on 127.0.0.1 port 99999 tls", "port 99999: want 1-65535"),
    ("listen on example port 443 tls", "not a numeric address"),
    ("listen on 127.0.0.1 port 8 tls\nlisten on 127.0.0.1 port 8",
     "listen on 127.0.0.1:8: said twice"),
    ("".join("listen on 127.0.0.1 port %d\n" % (100 + i)
             for i in range(16)) + "listen on ::1 port 8 tls",
     "listen on [::1]:8: more than 16 listeners"),
    ("pool \"p\" { backend 127.0.0.1 port 1 weight 0 }",
     "weight 0: want 1-1000"),
    ("pool \"q\" { backend no.such.host.invalid port 1 }",
     "backend no.such.host.invalid:"),
    ("pool \"bad name!\" { backend 127.0.0.1 port 1 }",
     "pool \"bad name!\": letters"),
    ("server \"s1\" { forward to \"nopool\" }",
     "forward to \"nopool\": no such pool"),
    ("server \"s2\" { location \"/a*b\" { block } }",
     "'*' only at the end"),
    ("server \"s3\" { location \"nope\" { block } }",
     "a path starts with '/'"),
    ("server \"s4\" { return 200 \"x\" }", "return 200: want 301"),
    ("server \"s5\" { block return 200 }", "block return 200: want"),
    ("server \"s6\" { request header set \"Host\" \"x\" }",
     "header \"Host\": portero sets this field itself"),
    ("server \"s7\" { request header set \"X\" \"$NOPE\" }",
     "unknown macro at \"$NOPE\""),
    ("server \"s8\" { forwarded sideways }",
     "forwarded \"sideways\": want"),
    ("server \"s9\" { alias \"bad host!\" }", "not a host name"),
    ("server \"s10\" { block; block }",
     "a second forward, return or block here"),
    ("server \"s11\" { location \"/x\" { path strip \"x\" } }",
     "prefixes start with '/'"),
    ("$undefined_macro", "macro \"undefined_macro\" not defined"),
    ("include \"/nonexistent/portero.conf\"",
     "include \"/nonexistent/portero.conf\": No such file"),
    ("include \"/dev/zero\"", "include \"/dev/zero\": not a regular file"),
    ("server \"dup.test\" { block }\nserver \"dup.test\" { block }",
     "\"dup.test\" already names server \"dup.test\""),
    ("server \"d1\" { default }\nserver \"d2\" { default }",
     "a second default server"),
    ("server \"l1\" {\n\tlocation \"/x/*\" { block }\n"
     "\tlocation \"/x/*\" { block }\n}",
     "location \"/x/*\": already in server \"l1\"", 2),
    ("server \"u1\" {\n\tunknown thing\n}", "syntax error", 1),
    ("user \"no end\nworkers 1", "newline inside a quoted string", 0),
]


def test_check_bad_examples(t):
    """Every bad example alone: exit 1, its message on its line."""
    for bad in BAD:
        text, msg = bad[0], bad[1]
        path = write_conf(t, "no-register\n" + text + "\n")
        rc, lines = check_only(t, path)
        check(rc == 1, "-n on %r: exit %d, expected 1" % (text, rc))
        # the error is on the example's last line, or the one it says
        line = 2 + (bad[2] if len(bad) > 2 else text.count("\n"))
        want = "%s:%d: " % (path, line)
        check(any(ln.startswith(want) and msg in ln for ln in lines),
              "-n on %r: no %r%s...: %s" % (text, want, msg, lines))


def test_check_lists_every_error(t):
    """All bad examples in one file: each is reported, not just the
    first; the last line counts them."""
    text = "no-register\n" + "\n".join(b[0] for b in BAD) + "\n"
    path = write_conf(t, text)
    rc, lines = check_only(t, path)
    check(rc == 1, "exit %d" % rc)
    for bad in BAD:
        check(any(bad[1] in ln for ln in lines), "%r not reported in one "
              "file: %s" % (bad[1], lines))
    check(re.search(r": \d+ errors$", lines[-1]), "no count: %s" % lines)


def test_check_include_and_macros(t):
    inc = write_conf(t, "pool \"inc\" { backend 127.0.0.1 port $p }\n",
                     "pools.conf")
    path = write_conf(t, "no-register\np = \"9000\"\ninclude \"%s\"\n"
                      "server \"a.test\" { forward to \"inc\" }\n" % inc)
    rc, lines = check_only(t, path)
    check(rc == 0, "include with a macro: exit %d: %s" % (rc, lines))
    bad = write_conf(t, "pool \"x\" {\n backend 127.0.0.1 port 0\n}\n",
                     "bad.conf")
    path = write_conf(t, "no-register\ninclude \"%s\"\n" % bad, "top.conf")
    rc, lines = check_only(t, path)
    check(rc == 1 and any(ln.startswith(bad + ":2: port 0") for ln in
                          lines),
          "an error in an included file names that file and line: %s"
          % lines)


def test_flags_override_file(t):
    """Flags come after the file: --workers beats workers."""
    a = EchoBackend(t, "a")
    d = conf_daemon(t, "workers 1\npool \"p\" { backend %s port %d }\n"
                    "server \"a.test\" { forward to \"p\" }\n"
                    % ("127.0.0.1", a.port), workers=2)
    n = len([w for w in d.workers_info()])
    check(n == 2, "--workers 2 over the file's 1: %d workers" % n)


# ---------------------------------------------------------------------
# routing

ROUTES = """
pool "app" { backend 127.0.0.1 port %(a)d }
pool "static" { backend 127.0.0.1 port %(s)d }
pool "other" { backend 127.0.0.1 port %(o)d }
server "example.test" {
	alias "www.example.test"
	alias "*.wild.test"
	forward to "app"
	location "/static/*" { forward to "static"; path strip "/static" }
	location "/static/deep/*" { forward to "other" }
	location "/v1/*" { path replace "/v1/" with "/v2/" }
	location "/exact" { forward to "other" }
	location "/old/*" { return 308 "https://$HOST/new$REQUEST_URI" }
	location "/admin/*" { block return 403 }
	location "/gone" { block return 410 }
	request header set "X-Who" "$REMOTE_ADDR $SERVER_NAME"
	request header add "X-Added" "one"
	request header remove "X-Secret"
	response header set "X-Served-By" "$SERVER_NAME"
	response header remove "Server"
	response header remove "Content-Type"
}
server "other.test" {
	default
	forward to "other"
	forwarded rfc7239
}
"""


def routed(t):
    a = EchoBackend(t, "app")
    s = EchoBackend(t, "static")
    o = EchoBackend(t, "other")
    d = conf_daemon(t, ROUTES % {"a": a.port, "s": s.port, "o": o.port})
    return d, a, s, o


def test_servers_names_aliases_wildcards_default(t):
    d, a, s, o = routed(t)
    p = d.listen_port
    served_by(get(p, "example.test"), a, "the server's name")
    served_by(get(p, "WWW.Example.Test"), a, "an alias, any case")
    served_by(get(p, "x.wild.test"), a, "a wildcard")
    served_by(get(p, "x.y.wild.test"), o, "a wildcard covers one label: "
              "the default server")
    served_by(get(p, "unknown.test"), o, "the default server")
    served_by(get(p, "example.test:8080"), a, "a port in Host")
    d.check_restarts()


def test_locations_longest_prefix_and_exact(t):
    d, a, s, o = routed(t)
    p = d.listen_port
    info = served_by(get(p, "example.test", "/static/css/x.css?v=1"), s,
                     "a prefix")
    check(info["path"] == "/css/x.css?v=1", "path strip: backend saw %r"
          % info["path"])
    info = served_by(get(p, "example.test", "/static"), a,
                     "\"/static\" is not under \"/static/\"")
    served_by(get(p, "example.test", "/static/deep/x"), o,
              "the longest prefix")
    served_by(get(p, "example.test", "/exact"), o, "an exact match")
    served_by(get(p, "example.test", "/exact/"), a, "exact means exact")
    served_by(get(p, "example.test", "/exactly"), a, "exact means exact")
    info = served_by(get(p, "example.test", "/v1/users?id=3"), a,
                     "a location that only rewrites")
    check(info["path"] == "/v2/users?id=3", "path replace: backend saw %r"
          % info["path"])
    d.check_restarts()


def test_redirect_and_block(t):
    d, a, s, o = routed(t)
    p = d.listen_port
    r = get(p, "example.test", "/old/page?q=1")
    check(r.status == 308, "return 308: got %d" % r.status)
    check(r.get("location") == "https://example.test/new/old/page?q=1",
          "Location %r" % r.get("location"))
    r = get(p, "example.test", "/admin/users")
    check(r.status == 403, "block return 403: got %d" % r.status)
    r = get(p, "example.test", "/gone")
    check(r.status == 410, "block return 410: got %d" % r.status)
    check(a.count() == 0 and o.count() == 0,
          "a redirect or block reached a backend")
    d.check_restarts()


def test_paths_made_plain_before_matching(t):
    """Dot segments, escapes and doubled slashes do not get around a
    location; a path that climbs above the root is refused."""
    d, a, s, o = routed(t)
    p = d.listen_port
    for path in ("/public/../admin/x", "/%61dmin/x", "//admin/x",
                 "/./admin/x", "/admin/./x", "/ADMIN/../admin/x"):
        r = get(p, "example.test", path)
        check(r.status == 403, "%s: %d, expected the block's 403"
              % (path, r.status))
    r = get(p, "example.test", "/../x")
    check(r.status == 400, "\"..\" above the root: %d, expected 400"
          % r.status)
    r = get(p, "example.test", "/%zz")
    check(r.status == 400, "a bad escape: %d, expected 400" % r.status)
    served_by(get(p, "example.test", "/%41dmin/x"), a,
              "\"%41\" is \"A\", and locations are case-sensitive")
    check(s.count() == 0, "nothing reached the static backend")
    d.check_restarts()


def test_request_and_response_fields(t):
    d, a, s, o = routed(t)
    p = d.listen_port
    r = get(p, "example.test", "/", headers=[("X-Secret", "s"),
                                             ("X-Who", "forged"),
                                             ("X-Added", "zero")])
    info = served_by(r, a, "fields")
    h = header_map(info)
    check("x-secret" not in h, "request header remove: %r" % h)
    check(h.get("x-who") == ["127.0.0.1 example.test"],
          "request header set, with macros: %r" % h.get("x-who"))
    check(h.get("x-added") == ["zero", "one"], "request header add: %r"
          % h.get("x-added"))
    check(r.get("x-served-by") == "example.test",
          "response header set: %r" % r.headers)
    check(r.get("content-type") is None, "response header remove: %r"
          % r.get("content-type"))
    check(r.get("x-backend") == "app", "a field no rule names went: %r"
          % r.headers)
    r = get(p, "other.test", "/")
    check(r.get("content-type") is not None, "Content-Type went where no "
          "rule says: %r" % r.headers)
    d.check_restarts()


def test_forwarded_rfc7239(t):
    d, a, s, o = routed(t)
    r = get(d.listen_port, "other.test", "/",
            headers=[("Forwarded", "for=6.6.6.6"),
                     ("X-Forwarded-For", "6.6.6.6")])
    h = header_map(served_by(r, o, "forwarded rfc7239"))
    check(h.get("forwarded") == ['for=127.0.0.1;proto=http;'
                                 'host="other.test"'],
          "Forwarded: %r" % h.get("forwarded"))
    check("x-forwarded-for" not in h, "X-Forwarded-For with rfc7239: %r"
          % h.get("x-forwarded-for"))


def test_declared_pool_without_backends_answers_503(t):
    """A pool the file declares for registrations, with none yet: its
    name is served (503), not unknown (404)."""
    a = EchoBackend(t, "a")
    d = conf_daemon(t, "pool \"app.reg.test\" { }\n"
                    "pool \"p\" { backend 127.0.0.1 port %d }\n"
                    "server \"a.test\" { forward to \"p\" }\n" % a.port)
    r = get(d.listen_port, "app.reg.test")
    check(r.status == 503, "declared, empty pool: %d, expected 503"
          % r.status)
    r = get(d.listen_port, "p")
    check(r.status == 404, "a pool a server forwards to is not served "
          "by its own name: %d" % r.status)


def test_flag_backends_still_route_by_host(t):
    """--backend with a file: its service is served by its name."""
    a = EchoBackend(t, "a")
    b = EchoBackend(t, "b")
    d = conf_daemon(t, "pool \"p\" { backend 127.0.0.1 port %d }\n"
                    "server \"a.test\" { forward to \"p\" }\n" % a.port,
                    extra=["--backend", "b.test=%s" % b.addr])
    served_by(get(d.listen_port, "a.test"), a, "the file's server")
    served_by(get(d.listen_port, "b.test"), b, "a --backend service")


# ---------------------------------------------------------------------
# reload

def test_reload_takes_a_good_file_and_refuses_a_bad_one(t):
    a = EchoBackend(t, "a")
    b = EchoBackend(t, "b")
    text = ("pool \"a\" { backend 127.0.0.1 port %d }\n"
            "pool \"b\" { backend 127.0.0.1 port %d }\n"
            "server \"x.test\" { forward to \"%%s\" }\n" % (a.port, b.port))
    d = conf_daemon(t, text % "a")
    p = d.listen_port
    served_by(get(p, "x.test"), a, "before the reload")
    write_conf(t, text % "b")
    d.ctl("reload")
    wait_until(lambda: get(p, "x.test").json()["name"] == "b", 5.0)
    # a bad file: the tool says where, and nothing changes
    write_conf(t, text % "b" + "server \"y.test\" { forward to \"c\" }\n")
    r = d.ctl("reload", check_rc=False)
    check(r.returncode != 0, "reload of a bad file exited 0")
    check(re.search(r"portero\.conf:4: forward to \"c\": no such pool",
                    r.stdout + r.stderr),
          "porterod-ctl reload does not say where: %r"
          % (r.stdout + r.stderr))
    served_by(get(p, "x.test"), b, "after the refused reload")
    st = d.ctl_json("show", "status")
    check(st["config"] == d.conf_path and st["reloads"] == 1 and
          st["reloads_refused"] == 1 and
          "portero.conf:4: forward to" in st["last_reload"]["error"],
          "show status after a refused reload: %r" % {
              k: st.get(k) for k in ("config", "reloads", "reloads_refused",
                                     "last_reload")})
    r = d.ctl("show", "status")
    check("refused: " in r.stdout and "portero.conf:4" in r.stdout,
          "show status text: %r" % r.stdout[:400])
    # a change only a restart can make is refused whole
    write_conf(t, "h2c\n" + text % "a")
    r = d.ctl("reload", check_rc=False)
    check(r.returncode != 0 and "only on restart" in r.stdout + r.stderr,
          "a reload turning h2c on: %r" % (r.stdout + r.stderr))
    served_by(get(p, "x.test"), b, "after the refused restart change")
    d.check_restarts()


def test_example_file_is_good(t):
    """etc/portero.conf, which make install installs, checks clean
    (its secret files aside, which this machine has not)."""
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "etc", "portero.conf")
    rc, lines = check_only(t, example, "--no-register")
    check(rc == 0, "etc/portero.conf: exit %d: %s" % (rc, lines))


RELOAD_LOOP = """
pool "a" { backend 127.0.0.1 port %(a)d }
pool "b" { backend 127.0.0.1 port %(b)d }
server "loop.test" {
	forward to "a"
	location "/moved/*" { forward to "%(to)s" }
}
"""

BAD_LOOP = """
pool "c" { backend 127.0.0.1 port %(c)d }
server "loop.test" {
	location "/moved/*" { forward to "c" }
	location "/broken/*" { forward to "nowhere" }
}
"""


def _keepalive_client(port, stop, stats, lock):
    """Requests on one kept-alive connection until stop: every one must
    get a 200 from a or b, and the connection must never be closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    n = 0
    try:
        while not stop.is_set():
            path = "/moved/%d" % n if n % 2 else "/stay/%d" % n
            s.sendall(("GET %s HTTP/1.1\r\nHost: loop.test\r\n\r\n"
                       % path).encode())
            r = read_response(f)
            with lock:
                stats["requests"] += 1
                if r.status != 200:
                    stats["bad"].append((path, r.status))
                else:
                    stats["by"][r.json()["name"]] += 1
            n += 1
    except (OSError, EOFError) as e:
        with lock:
            stats["errors"].append(repr(e))
    finally:
        f.close()
        s.close()


def test_reload_loop_under_load_loses_nothing(t):
    """A reload every 200 ms for 20 s, alternating two files that move
    /moved/ between pools, every fifth file a bad one, under a steady
    load of kept-alive connections: every request answered 200 by a or
    b, no connection closed, no worker restarted, the bad file's pool
    never used."""
    a = EchoBackend(t, "a")
    b = EchoBackend(t, "b")
    c = EchoBackend(t, "c")
    ports = {"a": a.port, "b": b.port, "c": c.port}
    d = conf_daemon(t, RELOAD_LOOP % dict(ports, to="a"), workers=2)
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"requests": 0, "bad": [], "errors": [],
             "by": {"a": 0, "b": 0}}
    clients = [threading.Thread(target=_keepalive_client,
                                args=(d.listen_port, stop, stats, lock))
               for _ in range(4)]
    for th in clients:
        th.start()
    reloads = refused = 0
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if reloads % 5 == 4:
                text = BAD_LOOP % ports
            else:
                text = RELOAD_LOOP % dict(ports, to="ab"[reloads % 2])
            tmp = write_conf(t, text, "next.conf")
            os.rename(tmp, d.conf_path)
            r = d.ctl("reload", check_rc=False)
            if reloads % 5 == 4:
                check(r.returncode != 0, "a bad file was taken")
                refused += 1
            else:
                check(r.returncode == 0, "reload %d refused: %s"
                      % (reloads, r.stdout + r.stderr))
            reloads += 1
            time.sleep(0.2)
    finally:
        stop.set()
        for th in clients:
            th.join(10)
    t.note("%d reloads (%d refused), %d requests: %r" % (
        reloads, refused, stats["requests"], stats["by"]))
    check(not stats["errors"], "connections broke: %s" % stats["errors"][:5])
    check(not stats["bad"], "requests not answered 200: %s"
          % stats["bad"][:5])
    check(stats["requests"] > 1000, "only %d requests in 20 s"
          % stats["requests"])
    check(stats["by"]["a"] > 0 and stats["by"]["b"] > 0,
          "the path never moved: %r" % stats["by"])
    check(c.count() == 0, "the bad file's pool got %d requests"
          % c.count())
    d.check_restarts()


# ---------------------------------------------------------------------
# pool options

def test_pool_tls_name(t):
    """tls-name is the SNI and the name the backend's certificate must
    bear, whatever host the request named."""
    ca = TestCA(t, "upstream CA")
    be = EchoBackend(t, "tls-up", tls=ca.issue("api.internal"))
    d = conf_daemon(t, "upstream-ca \"%s\"\n"
                    "pool \"api\" {\n\tbackend 127.0.0.1 port %d tls\n"
                    "\ttls-name \"api.internal\"\n}\n"
                    "pool \"plain\" { backend 127.0.0.1 port %d tls }\n"
                    "server \"www.example.test\" { forward to \"api\" }\n"
                    "server \"other.test\" { forward to \"plain\" }\n"
                    % (ca.cert, be.port, be.port))
    served_by(get(d.listen_port, "www.example.test"), be, "tls-name")
    check(be.snis[-1] == "api.internal", "SNI %r, expected the pool's "
          "tls-name" % be.snis[-1:])
    # without it the host is the name, and the certificate does not
    # bear it: the backend is not trusted
    r = get(d.listen_port, "other.test")
    check(r.status == 502, "a certificate for another name: %d, "
          "expected 502" % r.status)
    d.check_restarts()


def test_pool_upstream_timeout_and_max_connections(t):
    """A pool's upstream-timeout beats the global one; max-connections
    caps a backend's connections in a worker, and a request past it gets
    503 at once instead of waiting."""
    be = RawBackend(t, silent, "silent")
    d = conf_daemon(t, "upstream-timeout 60\n"
                    "pool \"slow\" {\n\tbackend 127.0.0.1 port %d\n"
                    "\tupstream-timeout 2\n\tmax-connections 1\n}\n"
                    "server \"slow.test\" { forward to \"slow\" }\n"
                    % be.port)
    results = {}

    def first():
        t0 = time.monotonic()
        results["first"] = (get(d.listen_port, "slow.test",
                                timeout=20).status, time.monotonic() - t0)

    th = threading.Thread(target=first)
    th.start()
    wait_until(lambda: be.connections == 1, 5.0)
    t0 = time.monotonic()
    r = get(d.listen_port, "slow.test")
    check(r.status == 503 and time.monotonic() - t0 < 1.5,
          "past max-connections: %d after %.1f s, expected 503 at once"
          % (r.status, time.monotonic() - t0))
    th.join(20)
    status, took = results["first"]
    check(status == 504 and 1.5 < took < 6, "the pool's upstream-timeout "
          "of 2 s: %d after %.1f s" % (status, took))
    check(be.connections == 1, "the capped request reached the backend")
    d.check_restarts()


def test_pool_max_pool_connections(t):
    """max-pool-connections caps a worker's connections to all of a
    pool's backends together: past it a request gets 503 at once and
    reaches no backend; an idle connection to one backend is closed to
    make room for another, so kept-alive connections never shut the pool.
    """
    a, b = RawBackend(t, silent, "a"), RawBackend(t, silent, "b")
    c = RawBackend(t, silent, "c")
    e1, e2 = EchoBackend(t, "e1"), EchoBackend(t, "e2")
    d = conf_daemon(t, "pool \"slow\" {\n"
                    "\tbackend 127.0.0.1 port %d\n"
                    "\tbackend 127.0.0.1 port %d\n"
                    "\tbackend 127.0.0.1 port %d\n"
                    "\tupstream-timeout 3\n\tmax-pool-connections 2\n}\n"
                    "pool \"kept\" {\n"
                    "\tbackend 127.0.0.1 port %d\n"
                    "\tbackend 127.0.0.1 port %d\n"
                    "\tmax-pool-connections 1\n}\n"
                    "server \"slow.test\" { forward to \"slow\" }\n"
                    "server \"kept.test\" { forward to \"kept\" }\n"
                    % (a.port, b.port, c.port, e1.port, e2.port))
    statuses = []

    def held():
        statuses.append(get(d.listen_port, "slow.test", timeout=20).status)

    threads = [threading.Thread(target=held) for _ in range(2)]
    for th in threads:
        th.start()
    wait_until(lambda: a.connections + b.connections + c.connections == 2,
               5.0)
    t0 = time.monotonic()
    r = get(d.listen_port, "slow.test")
    took = time.monotonic() - t0
    check(r.status == 503 and took < 1.5, "past max-pool-connections: "
          "%d after %.1f s, expected 503 at once" % (r.status, took))
    for th in threads:
        th.join(20)
    check(statuses == [504, 504], "the two held requests: %r, expected "
          "504 each" % statuses)
    opened = a.connections + b.connections + c.connections
    check(opened == 2, "%d connections to the pool, expected 2" % opened)
    # one connection in all: each request finds the other backend's
    # connection idle and has it closed to make room
    for i in range(6):
        r = get(d.listen_port, "kept.test")
        check(r.status == 200, "request %d to the kept pool: %d, expected "
              "200" % (i, r.status))
    check(wait_until(lambda: len(e1.conns) + len(e2.conns) <= 1, 3.0),
          "connections open to the kept pool: %d, above its "
          "max-pool-connections" % (len(e1.conns) + len(e2.conns)))
    check(e1.count() == 3 and e2.count() == 3, "round robin under the "
          "cap: %d and %d requests" % (e1.count(), e2.count()))
    check(e1.connections + e2.connections == 6, "%d connections made, "
          "expected one a request" % (e1.connections + e2.connections))
    d.check_restarts()


def test_pool_option_errors(t):
    for text, msg in (
            ("pool \"p\" { backend 127.0.0.1 port 1; upstream-timeout 0 }",
             "upstream-timeout \"0\" is too small"),
            ("pool \"p\" { backend 127.0.0.1 port 1; idle-timeout 3 }",
             "\"idle-timeout\" is not a pool option"),
            ("pool \"p\" { tls-name \"no good!\" }",
             "tls-name \"no good!\": not a host name"),
            ("pool \"p\" { max-pool-connections 0 }",
             "max-pool-connections \"0\" is too small"),
            ("pool \"p\" { max-pool-connections 2000000 }",
             "max-pool-connections \"2000000\" is too large")):
        path = write_conf(t, "no-register\n" + text + "\n")
        rc, lines = check_only(t, path)
        check(rc == 1 and any(ln.startswith(path + ":2: ") and msg in ln
                              for ln in lines),
              "%r: %s" % (text, lines))


def test_pool_retry_policies(t):
    """retry idempotent: a GET that timed out on one backend goes to the
    next, once; a POST with a body never does.  retry none: a backend
    that refuses is not followed by another."""
    slow = RawBackend(t, silent, "silent")
    good = EchoBackend(t, "good")
    dead = closed_port()
    d = conf_daemon(t, "pool \"idem\" {\n\tbackend 127.0.0.1 port %d\n"
                    "\tbackend 127.0.0.1 port %d\n\tupstream-timeout 1\n"
                    "\tretry idempotent\n}\n"
                    "pool \"none\" {\n\tbackend 127.0.0.1 port %d\n"
                    "\tbackend 127.0.0.1 port %d\n\tretry none\n}\n"
                    "pool \"conn\" {\n\tbackend 127.0.0.1 port %d\n"
                    "\tbackend 127.0.0.1 port %d\n}\n"
                    "server \"idem.test\" { forward to \"idem\" }\n"
                    "server \"none.test\" { forward to \"none\" }\n"
                    "server \"conn.test\" { forward to \"conn\" }\n"
                    % (slow.port, good.port, dead, good.port, dead,
                       good.port))
    p = d.listen_port
    for i in range(4):
        served_by(get(p, "idem.test", "/g%d" % i, timeout=10), good,
                  "GET %d under retry idempotent" % i)
    check(slow.connections >= 1, "no GET met the silent backend")
    statuses = []
    for i in range(2):
        raw = ("POST /p%d HTTP/1.1\r\nHost: idem.test\r\nContent-Length: "
               "5\r\nConnection: close\r\n\r\nhello" % i).encode()
        statuses.append(request(p, raw, "POST", timeout=10).status)
    check(504 in statuses, "a POST with a body moved on: %r" % statuses)
    posts = [r for r in good.requests if r["method"] == "POST"]
    check(len(posts) == statuses.count(200), "the backend got %d POSTs "
          "for %d answered 200" % (len(posts), statuses.count(200)))
    # retry none: the dead backend's requests fail; connect: they move on
    got = [get(p, "none.test", "/n%d" % i).status for i in range(4)]
    check(got.count(502) >= 1 and got.count(200) >= 1,
          "retry none: %r, expected some 502 and some 200" % got)
    got = [get(p, "conn.test", "/c%d" % i).status for i in range(4)]
    check(got == [200] * 4, "retry connect (the default): %r" % got)
    d.check_restarts()


def test_registered_backends_join_declared_pools(t):
    """A registration joins the pool of its service's name: a declared
    one (served under its name while no server names it), or one a
    server forwards to; a configured server of the same name wins over
    the implicit one."""
    from test_register import register
    a = EchoBackend(t, "a")
    r1 = EchoBackend(t, "reg1")
    r2 = EchoBackend(t, "reg2")
    d = conf_daemon(t, "pool \"app.reg.test\" { }\n"
                    "pool \"api\" { backend 127.0.0.1 port %d }\n"
                    "server \"www.reg.test\" { forward to \"api\" }\n"
                    "server \"named.reg.test\" { block return 403 }\n"
                    % a.port)
    p = d.listen_port
    check(get(p, "app.reg.test").status == 503, "declared, empty: not 503")
    register(d, "app.reg.test", port=r1.port)
    served_by(get(p, "app.reg.test"), r1, "registered into a declared pool")
    # into a pool a server forwards to: it shares the requests
    register(d, "api", port=r2.port)
    names = {get(p, "www.reg.test").json()["name"] for _ in range(6)}
    check(names == {"a", "reg2"}, "the server's pool with a registered "
          "backend: answered by %r" % names)
    # a configured server wins over the registration's implicit one
    register(d, "named.reg.test", port=r1.port)
    check(get(p, "named.reg.test").status == 403,
          "a registration took a configured server's name")
    d.check_restarts()


def listeners_daemon(t, text, extra=()):
    """A daemon whose listeners are the file's (no --listen-addr); the
    first TLS one is its listen_port."""
    path = write_conf(t, text)
    d = t.daemon(workers=2, listen_flag=False,
                 extra_args=["-f", path] + list(extra))
    d.listen_port = int(re.search(r"port (\d+) tls", text).group(1))
    d.register_port = free_ports(1)[0]
    d.conf_path = path
    return d.start()


def proxied_get(port, client):
    """A request after a PROXY v1 header naming client; the response."""
    return request(port, ("PROXY TCP4 %s 127.0.0.1 4000 80\r\n"
                          "GET / HTTP/1.1\r\nHost: m.test\r\n\r\n"
                          % client).encode())


def test_listeners_many_of_a_kind(t):
    """Several TLS and plain listeners, each with its own PROXY list; a
    reload that drops one, adds one and reorders the rest keeps each
    listener's list with it and its connections open; show status lists
    them; --http-addr replaces the file's plain listeners."""
    a = EchoBackend(t, "a")
    p1, p2, p3, p4, p5, p6 = free_ports(6)
    base = ("http-proxy\npool \"a\" { backend 127.0.0.1 port %d }\n"
            "server \"m.test\" { forward to \"a\"; default }\n" % a.port)
    first = base + ("listen on 127.0.0.1 port %d tls\n"
                    "listen on 127.0.0.1 port %d tls\n"
                    "listen on 127.0.0.1 port %d proxy-protocol from "
                    "127.0.0.1\n"
                    "listen on 127.0.0.1 port %d\n" % (p1, p2, p3, p4))
    d = listeners_daemon(t, first)
    for p in (p1, p2, p4):
        served_by(get(p, "m.test"), a, "listener on port %d" % p)
    info = served_by(proxied_get(p3, "192.0.2.9"), a, "the PROXY listener")
    check(header_map(info).get("x-real-ip") == ["192.0.2.9"], "the "
          "PROXY listener's client: %r" % header_map(info).get("x-real-ip"))
    check(proxied_get(p4, "192.0.2.9").status == 400, "a PROXY header "
          "to a listener without proxy-protocol was taken")
    out = d.ctl("show", "status").stdout
    want = ("listening on 127.0.0.1:%d (tls), 127.0.0.1:%d (tls), "
            "127.0.0.1:%d (plain, proxy-protocol), 127.0.0.1:%d (plain)"
            % (p1, p2, p3, p4))
    check(want in out, "show status: no %r in %r" % (want, out))
    # a kept-alive connection on p4, whose place in the list changes
    s = t.connect(p4)
    f = s.makefile("rb")
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: m.test\r\n\r\n")
    check(read_response(f).status == 200, "kept-alive request 1")
    write_conf(t, base + ("listen on 127.0.0.1 port %d\n"
                          "listen on 127.0.0.1 port %d tls\n"
                          "listen on 127.0.0.1 port %d tls\n"
                          "listen on 127.0.0.1 port %d proxy-protocol "
                          "from 127.0.0.1\n" % (p4, p2, p5, p3)))
    d.ctl("reload")
    check(wait_until(lambda: connect_refused(p1), 5.0),
          "the dropped listener still accepts")
    for p in (p2, p4, p5):
        served_by(get(p, "m.test"), a, "after the reload, port %d" % p)
    info = served_by(proxied_get(p3, "192.0.2.10"), a, "the PROXY "
                     "listener, moved")
    check(header_map(info).get("x-real-ip") == ["192.0.2.10"], "the "
          "moved PROXY listener's client: %r"
          % header_map(info).get("x-real-ip"))
    check(proxied_get(p4, "192.0.2.9").status == 400, "the plain "
          "listener took the PROXY list of the one that had its place")
    s.sendall(b"GET /2 HTTP/1.1\r\nHost: m.test\r\n\r\n")
    check(read_response(f).status == 200, "a kept-alive connection of "
          "a listener the reload kept was not served on")
    js = d.ctl_json("show", "status")
    got = [(ln["address"], ln["tls"], ln["proxy_protocol"])
           for ln in js["listeners"]]
    check(got == [("127.0.0.1:%d" % p4, False, False),
                  ("127.0.0.1:%d" % p2, True, False),
                  ("127.0.0.1:%d" % p5, True, False),
                  ("127.0.0.1:%d" % p3, False, True)],
          "show status -j listeners: %r" % got)
    d.check_restarts()
    d.stop()
    # a flag replaces the file's listeners of its kind, PROXY lists too
    d = listeners_daemon(t, first, extra=["--http-addr",
                                          "127.0.0.1:%d" % p6])
    for p in (p1, p2, p6):
        served_by(get(p, "m.test"), a, "with --http-addr, port %d" % p)
    check(connect_refused(p3) and connect_refused(p4), "the file's plain "
          "listeners stayed beside --http-addr")
    check(proxied_get(p6, "192.0.2.9").status == 400, "--http-addr's "
          "listener took a PROXY list of the file's")
    d.check_restarts()


def test_reload_binds_moves_and_closes_listeners(t):
    """A reload that adds the plain listener binds it; one that moves it
    binds the new port and closes the old, while a connection accepted
    on the old one is served on; one whose port is taken is refused and
    changes nothing; one that removes it closes it."""
    a = EchoBackend(t, "a")
    p1, p2 = free_ports(2)
    base = ("pool \"a\" { backend 127.0.0.1 port %d }\n"
            "server \"l.test\" { forward to \"a\" }\n" % a.port)
    plain = base + "http-proxy\nlisten on 127.0.0.1 port %d\n"
    d = conf_daemon(t, base, workers=2)
    check(connect_refused(p1), "port %d open before the reload" % p1)
    write_conf(t, plain % p1)
    d.ctl("reload")
    wait_until(lambda: not connect_refused(p1), 5.0)
    served_by(get(p1, "l.test"), a, "the plain listener a reload added")
    # a kept-alive connection on it, then the listener moves
    s = t.connect(p1)
    f = s.makefile("rb")
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: l.test\r\n\r\n")
    check(read_response(f).status == 200, "kept-alive request 1")
    write_conf(t, plain % p2)
    d.ctl("reload")
    wait_until(lambda: connect_refused(p1), 5.0)
    served_by(get(p2, "l.test"), a, "the listener's new port")
    s.sendall(b"GET /2 HTTP/1.1\r\nHost: l.test\r\n\r\n")
    check(read_response(f).status == 200, "a connection accepted on the "
          "old port is served on after the move")
    # a port someone else holds: refused, the running one stays
    other = t.socket(socket.socket())
    other.bind(("127.0.0.1", 0))
    other.listen(1)
    taken = other.getsockname()[1]
    write_conf(t, plain % taken)
    r = d.ctl("reload", check_rc=False)
    check(r.returncode != 0 and "Address already in use" in
          r.stdout + r.stderr, "a taken port: %r" % (r.stdout + r.stderr))
    served_by(get(p2, "l.test"), a, "after the refused move")
    # removed
    write_conf(t, base)
    d.ctl("reload")
    wait_until(lambda: connect_refused(p2), 5.0)
    served_by(get(d.listen_port, "l.test"), a, "the TLS listener stayed")
    d.check_restarts()
