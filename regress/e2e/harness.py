"""
harness.py: what every end-to-end test of portero shares: a temporary
directory per test, a daemon started in its own session and always taken
down again, free loopback ports, porterod-ctl, and looks into /proc.

Tests are functions test_*(t) that get a Context; they fail by raising
Failure (or AssertionError), skip by raising Skip.  The runner (run.py)
calls Context.cleanup() whatever happened.
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
import pwd
import grp
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
PORTERO = os.environ.get("PORTERO", os.path.join(TOP, "portero", "portero"))
CTL = os.environ.get("PORTEROD_CTL",
                     os.path.join(TOP, "porterod-ctl", "porterod-ctl"))

# Every process a test spawns carries this in its environment, so that
# cleanup can find it even if it left its session.
MARKER = "PORTERO_TEST_TMP"

READY_TIMEOUT = 10.0
NOBODY = "nobody"
NOGROUP = "nogroup"

ROLES = ("certloader", "registrar", "worker", "health", "logger", "metrics")
STATES = ("starting", "running", "stopping", "dead")



def imsg_types(header=os.path.join(TOP, "portero", "portero.h")):
    """{name: number} of enum imsg_type, read from portero.h now, so a
    test that forges a frame uses the numbers the daemon was built
    with."""
    with open(header) as f:
        src = f.read()
    m = re.search(r"enum\s+imsg_type\s*\{(.*?)\};", src, re.S)
    if m is None:
        raise RuntimeError("no enum imsg_type in %s" % header)
    body = re.sub(r"/\*.*?\*/", " ", m.group(1), flags=re.S)
    out, n = {}, 0
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        if value.strip():
            n = int(value.strip(), 0)
        out[name.strip()] = n
        n += 1
    return out


IMSG = imsg_types()
IMSG_CTL_SHOW_STATUS = IMSG["IMSG_CTL_SHOW_STATUS"]
IMSG_HEADER = struct.Struct("=IIIII")   # type, len, peerid, pid, flags


class Failure(AssertionError):
    pass


class Skip(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def is_root():
    return os.geteuid() == 0


def nobody_ids():
    pw = pwd.getpwnam(NOBODY)
    return pw.pw_uid, grp.getgrnam(NOGROUP).gr_gid


# ---------------------------------------------------------------------
# /proc

def _read(path, mode="rb"):
    try:
        with open(path, mode) as f:
            return f.read()
    except (OSError, ValueError):
        return None


def list_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def proc_stat(pid):
    """dict(state, ppid, pgrp, sid) or None if gone."""
    data = _read("/proc/%d/stat" % pid)
    if data is None:
        return None
    try:
        rest = data[data.rindex(b")") + 2:].split()
        return {"state": rest[0].decode(), "ppid": int(rest[1]),
                "pgrp": int(rest[2]), "sid": int(rest[3])}
    except (ValueError, IndexError):
        return None


def proc_alive(pid):
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def proc_title(pid):
    """The title as ps shows it: NULs as spaces, trailing blanks gone."""
    data = _read("/proc/%d/cmdline" % pid)
    if data is None:
        return None
    return data.replace(b"\0", b" ").decode("utf-8", "replace").rstrip()


def proc_exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def proc_root(pid):
    try:
        return os.readlink("/proc/%d/root" % pid)
    except OSError:
        return None


def proc_status(pid):
    data = _read("/proc/%d/status" % pid, "r")
    if data is None:
        return None
    out = {}
    for line in data.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip("\t ")
    return out


def proc_status_raw(pid):
    return _read("/proc/%d/status" % pid, "r")


def proc_environ(pid):
    return _read("/proc/%d/environ" % pid) or b""


def is_portero_exe(pid):
    exe = proc_exe(pid)
    return exe is not None and (exe == PORTERO or
                                exe.startswith(PORTERO + " "))


def children_of(pid):
    """Live (non-zombie) processes whose parent is pid."""
    out = []
    for p in list_pids():
        st = proc_stat(p)
        if st and st["ppid"] == pid and st["state"] not in ("Z", "X"):
            out.append(p)
    return sorted(out)


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until it returns a true value; returns it, or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---------------------------------------------------------------------
# ports and clients

def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def connect_refused(port, timeout=0.5):
    """True if a TCP connect to 127.0.0.1:port is refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def recv_all(s, timeout=3.0):
    """Read until EOF; Failure on timeout.  A reset after data counts
    as EOF."""
    s.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            fail("no EOF within %.1f s (got %r)" %
                 (timeout, b"".join(chunks)[:200]))
        try:
            b = s.recv(65536)
        except socket.timeout:
            fail("no EOF within %.1f s (got %r)" %
                 (timeout, b"".join(chunks)[:200]))
        except ConnectionResetError:
            if chunks:
                break
            raise
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def parse_response(data):
    """(status, headers dict lower-case, body) of one HTTP/1.x
    response."""
    head, sep, body = data.partition(b"\r\n\r\n")
    check(sep, "response has no complete head: %r" % data[:200])
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})(?: .*)?$", lines[0])
    check(m, "bad status line %r" % lines[0][:100])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = \
            v.strip().decode("latin-1")
    return int(m.group(1)), headers, body


def http_request(port, raw=None, timeout=3.0):
    """One request on a fresh connection; returns (status, headers,
    body)."""
    if raw is None:
        raw = (b"GET / HTTP/1.1\r\nHost: localhost\r\n"
               b"Connection: close\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        return parse_response(recv_all(s, timeout))
    finally:
        s.close()


def unix_connect(path, timeout=3.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def expect_disconnect(s, timeout=3.0):
    """The peer must close the connection within timeout.  Returns a
    short description of how it ended."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    got = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            fail("control socket not closed by the daemon within %.1f s"
                 " (got %d bytes)" % (timeout, len(got)))
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        if not b:
            return "eof"
        got += b
        if time.monotonic() > deadline:
            fail("control socket not closed within %.1f s" % timeout)


# ---------------------------------------------------------------------
# the daemon

class Daemon:
    def __init__(self, ctx, workers=2, drain_timeout=5, extra_args=(),
                 as_nobody=False, privdrop=None, control_socket=None,
                 name=None, verbose=False, cert_dir=None, register=True,
                 health=False, listen_flag=True):
        self.ctx = ctx
        self.workers = workers
        # a health child runs too (some pool has an active check)
        self.health = health
        # False: the TLS listeners are the file's (--listen-addr would
        # replace them); listen_port is then one of them, set by the test
        self.listen_flag = listen_flag
        self.drain_timeout = drain_timeout
        self.extra_args = list(extra_args)
        # the logger runs unless the access log is off
        self.logger = not any(
            a == "--access-log" and b == "none"
            for a, b in zip(self.extra_args, self.extra_args[1:]))
        self.as_nobody = as_nobody
        # root runs pass --user/--chroot-dir unless told otherwise
        self.privdrop = (is_root() and not as_nobody) \
            if privdrop is None else privdrop
        self.name = name or "portero%d" % (len(ctx.daemons) + 1)
        self.control_socket = control_socket or \
            os.path.join(ctx.tmp, "ctl.sock")
        self.state_dir = os.path.join(ctx.tmp, "state")
        self.chroot_dir = os.path.join(ctx.tmp, "empty")
        self.cert_dir = cert_dir
        self.log_path = os.path.join(ctx.tmp, self.name + ".log")
        # the registration API is on unless a test turns it off; its
        # secret and token key are files, as the man page advises
        self.register = register
        self.secret_file = os.path.join(ctx.tmp, "register.secret")
        self.key_file = os.path.join(ctx.tmp, "jwt.key")
        self.secret = self.jwt_key = None
        self.verbose = verbose or bool(os.environ.get("PORTERO_TEST_VERBOSE"))
        self.proc = None
        self.pid = None
        self.listen_port = None
        self.register_port = None
        # restarts a test caused on purpose: {(role, id): n}
        self.expect_restarts = {}
        self.restarts_checked = False
        self.was_ready = False
        self.stopped = False
        ctx.daemons.append(self)

    # --- start

    def argv(self, checkonly=False):
        a = [PORTERO, "-d"]
        if checkonly:
            a.append("-n")
        if self.verbose:
            a.append("-v")
        a += ["--control-socket", self.control_socket,
              "--state-dir", self.state_dir,
              "--register-addr", "127.0.0.1:%d" % self.register_port,
              "--workers", str(self.workers),
              "--drain-timeout", str(self.drain_timeout)]
        if self.listen_flag:
            a += ["--listen-addr", "127.0.0.1:%d" % self.listen_port]
        if self.privdrop:
            a += ["--user", NOBODY, "--chroot-dir", self.chroot_dir]
        if self.cert_dir:
            a += ["--tls-cert-dir", self.cert_dir]
        if self.register:
            a += ["--register-secret-file", self.secret_file,
                  "--jwt-hmac-key-file", self.key_file]
        else:
            a += ["--no-register"]
        a += self.extra_args
        if self.as_nobody:
            a = ["setpriv", "--reuid=" + NOBODY, "--regid=" + NOGROUP,
                 "--clear-groups"] + a
        return a

    def _write_secrets(self):
        """The shared secret and the token key, once per test."""
        for path, attr in ((self.secret_file, "secret"),
                           (self.key_file, "jwt_key")):
            if not os.path.exists(path):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(os.urandom(16).hex().encode() + b"\n")
            with open(path, "rb") as f:
                setattr(self, attr, f.read().rstrip(b"\n"))

    def _prepare_dirs(self):
        if self.register:
            self._write_secrets()
        if not os.path.isdir(self.chroot_dir):
            os.mkdir(self.chroot_dir, 0o755)
            os.chmod(self.chroot_dir, 0o755)
        if not os.path.isdir(self.state_dir):
            os.mkdir(self.state_dir, 0o700)
            if is_root():
                uid, gid = nobody_ids()
                os.chown(self.state_dir, uid, gid)
        if self.as_nobody:
            uid, gid = nobody_ids()
            for root, dirs, files in os.walk(self.ctx.tmp):
                os.chown(root, uid, gid)
                for f in files:
                    os.chown(os.path.join(root, f), uid, gid)

    def spawn(self):
        """Start the process; do not wait for anything."""
        if self.listen_port is None:
            self.listen_port, self.register_port = free_ports(2)
        self._prepare_dirs()
        logf = open(self.log_path, "ab")
        try:
            self.proc = self.ctx.popen(self.argv(), stdout=logf,
                                       stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        finally:
            logf.close()
        self.pid = self.proc.pid
        self.stopped = False
        return self

    def start(self, ready=True):
        """Start and wait until every child runs; retries once with new
        ports if an address was in use."""
        for attempt in (1, 2):
            self.spawn()
            if not ready:
                return self
            try:
                self.wait_ready()
                return self
            except Failure:
                if attempt == 1 and self.proc.poll() is not None and \
                        re.search(r"address already in use|EADDRINUSE",
                                  self.log(), re.I):
                    self.ctx.note("%s: address in use, retrying on new "
                                  "ports" % self.name)
                    self.listen_port = self.register_port = None
                    self.stopped = True
                    continue
                raise
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail("%s exited with %s before it was ready"
                     % (self.name, self.proc.returncode))
            try:
                r = self.ctl("show", "status", json_out=True,
                             check_rc=False, timeout=3)
            except Failure as e:
                last = str(e)
                continue
            if r.returncode == 0:
                try:
                    st = json.loads(r.stdout)
                    ch = st["children"]
                    n = len(ch)
                    if n == 3 + self.workers + int(self.health) + \
                            int(self.logger) and \
                            all(c["state"] == "running" for c in ch):
                        self.was_ready = True
                        return st
                    last = "children: %s" % [
                        (c.get("role"), c.get("id"), c.get("state"))
                        for c in ch]
                except (ValueError, KeyError, TypeError) as e:
                    last = "bad JSON (%s): %r" % (e, r.stdout[:200])
            else:
                last = (r.stderr.strip() or "rc %d" % r.returncode)[:200]
            time.sleep(0.05)
        fail("%s not ready within %.0f s: %s" % (self.name, timeout, last))

    # --- the control tool

    def ctl(self, *args, json_out=False, check_rc=True, timeout=5,
            socket_path=None):
        argv = [CTL, "-s", socket_path or self.control_socket]
        if json_out:
            argv.append("-j")
        argv += list(args)
        r = self.ctx.run(argv, timeout=timeout)
        if check_rc and r.returncode != 0:
            fail("porterod-ctl %s: exit %d: %s" % (
                " ".join(args), r.returncode, r.stderr.strip()[:300]))
        return r

    def ctl_json(self, *args):
        r = self.ctl(*args, json_out=True)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            fail("porterod-ctl -j %s: not JSON (%s): %r" % (
                " ".join(args), e, r.stdout[:300]))

    def status(self):
        return self.ctl_json("show", "status")

    def workers_info(self):
        return self.ctl_json("show", "workers")["workers"]

    def child_map(self, st=None):
        """{(role, id): child dict} from show status."""
        st = st or self.status()
        return {(c["role"], c["id"]): c for c in st["children"]}

    def child_pid(self, role, id_=0):
        return self.child_map()[(role, id_)]["pid"]

    # --- processes

    def procs(self):
        """Live portero processes of this daemon: its session, and any
        child of its parent that left the session."""
        if self.pid is None:
            return []
        out = set()
        for p in list_pids():
            st = proc_stat(p)
            if st is None or st["state"] in ("Z", "X"):
                continue
            if st["sid"] == self.pid or st["ppid"] == self.pid or \
                    p == self.pid:
                out.add(p)
        return sorted(out)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_gone(self, timeout):
        """Wait until the parent has exited and no process of the
        daemon is left; returns True on success."""
        def gone():
            return self.proc.poll() is not None and not self.procs()
        return bool(wait_until(gone, timeout, 0.02))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def kill_all(self):
        for _ in range(50):
            pids = self.procs()
            if not pids and (self.proc is None or
                             self.proc.poll() is not None):
                return
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
            if self.proc is not None:
                self.proc.poll()

    def stop(self, fast=False):
        """SIGTERM; wait drain timeout + 5 s (2 s if fast); SIGKILL what
        is left.  Returns None or a problem description."""
        if self.proc is None or self.stopped:
            return None
        self.stopped = True
        problem = None
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except OSError:
                pass
            grace = 2 if fast else self.drain_timeout + 5
            if not self.wait_gone(grace):
                problem = ("%s: processes %s still there %d s after "
                           "SIGTERM, killed" % (self.name, self.procs(),
                                                grace))
        elif self.procs():
            problem = "%s: parent gone but processes %s left behind" % (
                self.name, self.procs())
        self.kill_all()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        return problem

    # --- log

    def log(self):
        data = _read(self.log_path)
        return data.decode("utf-8", "replace") if data else ""

    def log_lines(self, pid=None):
        lines = self.log().splitlines()
        if pid is None:
            return lines
        pre = "portero[%d]" % pid
        return [l for l in lines if l.startswith(pre)]

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    # --- common checks

    def check_restarts(self, expect=None):
        """Every child's restarts must be what the test caused: 0 unless
        listed in expect_restarts.  Checked at the end of every test by
        the harness while the daemon runs; call it before stopping it."""
        if expect is not None:
            self.expect_restarts.update(expect)
        st = self.status()
        bad = []
        for c in st["children"]:
            want = self.expect_restarts.get((c["role"], c["id"]), 0)
            if c["restarts"] != want:
                bad.append("%s %s restarts=%s (expected %d)" % (
                    c["role"], c["id"], c["restarts"], want))
        self.restarts_checked = True
        check(not bad, "restart counters differ from the kills the test "
              "made: " + "; ".join(bad))
        return st

    def check_tree(self, st=None):
        """The process tree: parent title, one certloader, one registrar,
        workers 0..N-1, all children of the parent, nothing else in the
        session, pids as show status says.  Returns {(role,id): pid}."""
        st = st or self.status()
        check(proc_alive(self.pid), "parent %d is not alive" % self.pid)
        t = proc_title(self.pid)
        check(t == "portero: parent",
              "parent title %r, expected 'portero: parent'" % t)
        want = {("certloader", 0): "portero: certloader",
                ("registrar", 0): "portero: registrar"}
        for i in range(self.workers):
            want[("worker", i)] = "portero: worker %d" % i
        if self.health:
            want[("health", 0)] = "portero: health"
        if self.logger:
            want[("logger", 0)] = "portero: logger"
        want[("metrics", 0)] = "portero: metrics"
        kids = children_of(self.pid)
        by_title = {}
        for p in kids:
            by_title.setdefault(proc_title(p), []).append(p)
        found = {}
        for key, title in want.items():
            ps = by_title.get(title, [])
            check(len(ps) == 1, "%d processes titled %r among the parent's "
                  "children (titles: %s)" % (len(ps), title,
                                             sorted(by_title)))
            found[key] = ps[0]
        check(len(kids) == len(want), "parent has %d children, expected %d"
              " (titles: %s)" % (len(kids), len(want),
                                 [proc_title(p) for p in kids]))
        others = set(self.procs()) - set(kids) - {self.pid}
        check(not others, "unexpected processes in the daemon's session: %s"
              % [(p, proc_title(p)) for p in others])
        for p in kids:
            check(is_portero_exe(p), "child %d runs %r, not %s" % (
                p, proc_exe(p), PORTERO))
        cm = self.child_map(st)
        check(set(cm) == set(want), "show status lists %s, expected %s" % (
            sorted(cm), sorted(want)))
        for key, pid in found.items():
            check(cm[key]["pid"] == pid, "show status says %s %d has pid "
                  "%s, /proc says %d" % (key[0], key[1], cm[key]["pid"],
                                         pid))
        return found

    def wait_respawned(self, role, id_, old_pid, timeout):
        """Poll show status until (role, id_) runs with a pid other than
        old_pid; returns (new_pid, seconds waited) or fails."""
        t0 = time.monotonic()
        last = None
        while True:
            r = self.ctl("show", "status", json_out=True, check_rc=False,
                         timeout=3)
            now = time.monotonic()
            if r.returncode == 0:
                try:
                    c = self.child_map(json.loads(r.stdout))[(role, id_)]
                    last = c
                    if c["state"] == "running" and c["pid"] not in \
                            (0, old_pid, None) and proc_alive(c["pid"]):
                        return c["pid"], now - t0
                except (ValueError, KeyError):
                    pass
            if now - t0 > timeout:
                fail("%s %d not back running within %.1f s (last seen %s)"
                     % (role, id_, timeout, last))
            time.sleep(0.01)


# ---------------------------------------------------------------------
# a test's world

_contexts = []


class Context:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="portero-test-")
        _contexts.append(self)
        self.daemons = []
        self.popens = []
        self.sockets = []
        self.notes = []
        self.deferred = []
        self.cleaned = False

    def note(self, msg):
        self.notes.append(msg)

    def defer(self, fn):
        """Call fn() at cleanup, after the daemons have stopped (last
        registered, first called), e.g. to stop a test backend."""
        self.deferred.append(fn)
        return fn

    def env(self):
        e = dict(os.environ)
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                  "ALL_PROXY", "all_proxy"):
            e.pop(k, None)
        e[MARKER] = self.tmp
        return e

    def popen(self, argv, **kw):
        kw.setdefault("env", self.env())
        p = subprocess.Popen(argv, **kw)
        self.popens.append(p)
        return p

    def run(self, argv, timeout=10, input=None):
        """subprocess.run with a timeout, text output, our marker."""
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=timeout, env=self.env(),
                                  input=input,
                                  stdin=None if input is not None
                                  else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            fail("%s timed out after %s s" % (" ".join(argv)[-160:], timeout))

    def daemon(self, **kw):
        return Daemon(self, **kw)

    def socket(self, s):
        self.sockets.append(s)
        return s

    def connect(self, port, timeout=3.0):
        return self.socket(socket.create_connection(("127.0.0.1", port),
                                                    timeout=timeout))

    def curl(self, url, timeout=5):
        """(http code, body) of one request with curl."""
        r = self.run(["curl", "-sS", "--noproxy", "*", "--max-time",
                      str(timeout), "-o", "-", "-w", "\n%{http_code}", url],
                     timeout=timeout + 5)
        check(r.returncode == 0, "curl %s: exit %d: %s" % (
            url, r.returncode, r.stderr.strip()[:200]))
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    # --- leftovers

    def leftovers(self):
        """Every live process that belongs to this test."""
        out = set()
        for d in self.daemons:
            out.update(d.procs())
        tag = ("%s=%s" % (MARKER, self.tmp)).encode()
        me = os.getpid()
        for p in list_pids():
            if p == me:
                continue
            st = proc_stat(p)
            if st is None or st["state"] in ("Z", "X"):
                continue
            if tag in proc_environ(p).split(b"\0"):
                out.add(p)
                continue
            if is_portero_exe(p):
                root = proc_root(p) or ""
                if root == self.tmp or root.startswith(self.tmp + "/"):
                    out.add(p)
        for pp in self.popens:
            if pp.poll() is None:
                out.add(pp.pid)
        return sorted(out)

    def cleanup(self, fast=False):
        """Stop every daemon, kill whatever is left, remove the temp dir.
        Returns a list of problems found on the way (a daemon that did
        not stop on SIGTERM, unexpected respawns)."""
        if self.cleaned:
            return []
        self.cleaned = True
        problems = []
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        for d in self.daemons:
            if not fast and d.was_ready and d.alive():
                try:
                    d.check_restarts()
                except Failure as e:
                    problems.append("%s: %s" % (d.name, e))
                except Exception as e:  # noqa: a broken ctl is a problem
                    problems.append("%s: restart check: %s" % (d.name, e))
            p = d.stop(fast=fast)
            if p and not fast:
                problems.append(p)
        while self.deferred:
            fn = self.deferred.pop()
            try:
                fn()
            except Exception as e:  # noqa: report, go on cleaning up
                problems.append("cleanup %r: %s" % (fn, e))
        for _ in range(60):
            left = self.leftovers()
            if not left:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
            for pp in self.popens:
                pp.poll()
        else:
            problems.append("could not kill %s" % self.leftovers())
        for pp in self.popens:
            try:
                pp.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        if os.path.exists(self.tmp):
            problems.append("could not remove %s" % self.tmp)
        if self in _contexts:
            _contexts.remove(self)
        return problems

    def log_tails(self, n=25):
        out = []
        for d in self.daemons:
            out.append("--- %s (pid %s, argv: %s) log tail:" % (
                d.name, d.pid, " ".join(d.argv()) if d.listen_port else "-"))
            out.append(d.log_tail(n) or "(empty)")
        return "\n".join(out)


def cleanup_all(fast=True):
    for c in list(_contexts):
        c.cleanup(fast=fast)


# ---------------------------------------------------------------------
# helpers shared by several tests

def check_sandboxed(pid, what):
    st = proc_status(pid)
    check(st is not None, "%s (pid %d) is gone" % (what, pid))
    check(st.get("Seccomp") == "2", "%s (pid %d): Seccomp: %r, expected 2"
          % (what, pid, st.get("Seccomp")))
    check(st.get("NoNewPrivs") == "1", "%s (pid %d): NoNewPrivs: %r, "
          "expected 1" % (what, pid, st.get("NoNewPrivs")))


def check_ids(pid, what, uid, gid=None):
    st = proc_status(pid)
    check(st is not None, "%s (pid %d) is gone" % (what, pid))
    uids = st.get("Uid", "").split()
    check(len(uids) >= 3 and all(int(u) == uid for u in uids[:3]),
          "%s (pid %d): Uid: %r, expected %d for real/effective/saved"
          % (what, pid, st.get("Uid"), uid))
    if gid is not None:
        gids = st.get("Gid", "").split()
        check(len(gids) >= 3 and all(int(g) == gid for g in gids[:3]),
              "%s (pid %d): Gid: %r, expected %d for real/effective/saved"
              % (what, pid, st.get("Gid"), gid))
        groups = st.get("Groups", "").split()
        check("0" not in groups, "%s (pid %d) keeps supplementary group 0"
              " (Groups: %r)" % (what, pid, st.get("Groups")))


def check_sandbox_logged(d, pid, what):
    lines = [l for l in d.log_lines(pid) if "sandbox" in l.lower()]
    check(lines, "%s (pid %d) logged no line about its sandbox" % (
        what, pid))
    return lines


def check_answers_404(d, n=1):
    for _ in range(n):
        status, headers, body = http_request(d.listen_port)
        check(status == 404, "worker answered %d, expected 404" % status)
        check(0 < len(body) <= 4096, "404 body has %d bytes, expected a "
              "short body" % len(body))


def check_stays_up(d, before):
    """Same parent, same child pids as in before ({(role,id): pid}), all
    running, show status answers."""
    check(d.alive(), "daemon exited (rc %s)" % d.proc.returncode)
    cm = d.child_map()
    now = {k: c["pid"] for k, c in cm.items()}
    check(now == before, "children changed: before %s, now %s" % (
        before, now))
    notrun = [k for k, c in cm.items() if c["state"] != "running"]
    check(not notrun, "children not running: %s" % notrun)
    for k, p in before.items():
        check(proc_alive(p), "%s %d (pid %d) is gone from /proc" % (
            k[0], k[1], p))


def pid_map(d):
    return {k: c["pid"] for k, c in d.child_map().items()}


def half_request(t, d):
    """A client that sent half a request head and was accepted by a
    worker (show workers counts it), or as good as we can tell."""
    s = t.connect(d.listen_port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")

    def accepted():
        try:
            return sum(w.get("connections") or 0
                       for w in d.workers_info()) >= 1
        except Failure:
            return False
    if not wait_until(accepted, 2.0, 0.05):
        t.note("show workers never counted the half-open connection")
    return s
