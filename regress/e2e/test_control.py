"""
The control socket and porterod-ctl: output shapes, errors, hostile
clients, one instance per socket.
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
import time

from harness import (IMSG, IMSG_CTL_SHOW_STATUS, IMSG_HEADER, ROLES, STATES,
                     check, check_stays_up, expect_disconnect, pid_map,
                     unix_connect, wait_until)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def test_show_status_json_shape(t):
    d = t.daemon(workers=2).start()
    st = d.status()
    check(isinstance(st, dict), "show status -j is not an object: %r" % st)
    for k in ("version", "tls", "pid", "uptime", "children"):
        check(k in st, "show status -j lacks %r: %r" % (k, st))
    for k in ("version", "tls"):
        check(isinstance(st[k], str) and st[k],
              "%s %r is not a non-empty string" % (k, st[k]))
    check(st["tls"] == "libtls" or st["tls"].startswith("OpenSSL 3."),
          "tls %r: neither libtls nor OpenSSL 3" % st["tls"])
    check(_is_int(st["pid"]) and st["pid"] == d.pid,
          "pid %r, expected the integer %d" % (st["pid"], d.pid))
    check(_is_int(st["uptime"]) and st["uptime"] >= 0,
          "uptime %r is not a non-negative integer" % st["uptime"])
    check(isinstance(st["children"], list) and len(st["children"]) == 6,
          "children %r: expected a list of 6" % st["children"])
    for c in st["children"]:
        check(isinstance(c, dict), "child %r is not an object" % c)
        for k in ("role", "id", "pid", "state", "restarts"):
            check(k in c, "child %r lacks %r" % (c, k))
        check(c["role"] in ROLES, "role %r" % c["role"])
        check(c["state"] in STATES, "state %r" % c["state"])
        for k in ("id", "pid", "restarts"):
            check(_is_int(c[k]), "child %s: %s %r is not an integer" % (
                c["role"], k, c[k]))
    roles = sorted((c["role"], c["id"]) for c in st["children"])
    check(roles == [("certloader", 0), ("logger", 0), ("metrics", 0),
                    ("registrar", 0), ("worker", 0), ("worker", 1)],
          "children %s" % roles)
    al = st.get("access_log")
    check(isinstance(al, dict) and al["file"] is None and
          al["logger_running"] is True and _is_int(al["lines"]) and
          _is_int(al["write_errors"]) and _is_int(al["reopens"]),
          "access_log %r" % al)
    d.check_tree(st)
    time.sleep(1.1)
    st2 = d.status()
    check(st2["uptime"] >= st["uptime"] + 1, "uptime did not grow: %d then "
          "%d over 1.1 s" % (st["uptime"], st2["uptime"]))


def test_show_status_text(t):
    d = t.daemon(workers=2).start()
    r = d.ctl("show", "status")
    out = r.stdout
    check(out.strip(), "show status printed nothing")
    check(not out.lstrip().startswith("{"), "show status without -j "
          "printed JSON")
    check(re.search(r"\b%d\b" % d.pid, out), "show status text lacks the "
          "daemon's pid %d:\n%s" % (d.pid, out))
    for (role, id_), pid in pid_map(d).items():
        check(role in out, "show status text lacks %r:\n%s" % (role, out))
        check(re.search(r"\b%d\b" % pid, out), "show status text lacks %s "
              "%d's pid %d:\n%s" % (role, id_, pid, out))


def test_show_workers_json_shape_and_text(t):
    d = t.daemon(workers=3).start()
    ws = d.ctl_json("show", "workers")
    check(isinstance(ws, dict) and isinstance(ws.get("workers"), list),
          "show workers -j: %r" % ws)
    ws = ws["workers"]
    check(sorted(w.get("id") for w in ws) == [0, 1, 2],
          "worker ids %s" % [w.get("id") for w in ws])
    pm = pid_map(d)
    for w in ws:
        for k in ("id", "pid", "state", "restarts", "connections",
                  "requests", "handshakes", "resumed"):
            check(k in w, "worker %r lacks %r" % (w, k))
        for k in ("id", "pid", "restarts", "connections", "requests",
                  "handshakes", "resumed"):
            check(_is_int(w[k]), "worker %s: %s %r is not an integer" % (
                w["id"], k, w[k]))
        check(w["state"] == "running", "worker %s state %r" % (
            w["id"], w["state"]))
        check(w["pid"] == pm[("worker", w["id"])], "worker %s pid %s, show "
              "status says %s" % (w["id"], w["pid"], pm[("worker", w["id"])]))
    r = d.ctl("show", "workers")
    check(r.stdout.strip() and not r.stdout.lstrip().startswith("{"),
          "show workers text: %r" % r.stdout[:200])
    for w in ws:
        check(re.search(r"\b%d\b" % w["pid"], r.stdout),
              "show workers text lacks pid %d:\n%s" % (w["pid"], r.stdout))


def _one_error_line(r, what):
    check(r.returncode != 0, "%s: exit 0" % what)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(len(lines) == 1, "%s: expected one line on stderr, got %d: %r" % (
        what, len(lines), r.stderr[:300]))
    check(not r.stdout.strip(), "%s: printed on stdout: %r" % (
        what, r.stdout[:200]))
    return lines[0]


def test_ctl_missing_socket(t):
    d = t.daemon(workers=1)  # never started: only for its ctl helper
    missing = os.path.join(t.tmp, "nothing-here.sock")
    for j in (False, True):
        r = d.ctl("show", "status", json_out=j, check_rc=False,
                  socket_path=missing)
        line = _one_error_line(r, "porterod-ctl%s on a missing socket" % (
            " -j" if j else ""))
        check("cannot connect" in line, "error line lacks 'cannot connect':"
              " %r" % line)
    r = d.ctl("reload", check_rc=False, socket_path=missing)
    line = _one_error_line(r, "porterod-ctl reload on a missing socket")
    check("cannot connect" in line, "error line %r" % line)


def test_ctl_unknown_command(t):
    d = t.daemon(workers=1).start()
    before = pid_map(d)
    for args in (("frobnicate",), ("show", "frobnicate"),
                 ("reload", "now", "please")):
        r = d.ctl(*args, check_rc=False)
        _one_error_line(r, "porterod-ctl %s" % " ".join(args))
        r = d.ctl(*args, json_out=True, check_rc=False)
        _one_error_line(r, "porterod-ctl -j %s" % " ".join(args))
    check_stays_up(d, before)


def _hostile(t, d, payload, what):
    before = pid_map(d)
    s = t.socket(unix_connect(d.control_socket))
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed on us already: that is a disconnect
        how = "closed during send"
    else:
        how = expect_disconnect(s, 3.0)
    t.note("%s: %s" % (what, how))
    s.close()
    check_stays_up(d, before)
    st = d.status()
    check(st["pid"] == d.pid, "show status after %s: pid %s" % (
        what, st["pid"]))


def test_ctl_forged_frame_answered(t):
    # The hostile frames below are forged with the numbers of portero.h;
    # a well-formed one must be answered, or they test nothing.
    d = t.daemon(workers=1).start()
    s = t.socket(unix_connect(d.control_socket))
    s.sendall(IMSG_HEADER.pack(IMSG_CTL_SHOW_STATUS, IMSG_HEADER.size, 0, 0,
                               0))
    s.settimeout(3.0)
    got = b""
    while len(got) < IMSG_HEADER.size:
        b = s.recv(65536)
        check(b, "the daemon closed a well-formed SHOW_STATUS frame")
        got += b
    typ = IMSG_HEADER.unpack(got[:IMSG_HEADER.size])[0]
    check(typ == IMSG["IMSG_CTL_STATUS"], "a forged SHOW_STATUS got message "
          "type %d, expected IMSG_CTL_STATUS (%d)" % (
              typ, IMSG["IMSG_CTL_STATUS"]))


def test_ctl_garbage_disconnected(t):
    d = t.daemon(workers=2).start()
    _hostile(t, d, b"this is not an imsg, just text\r\n" * 64,
             "text garbage")
    _hostile(t, d, b"\xde\xad\xbe\xef" * 256, "binary garbage")
    # a well-formed frame of a type no client may send
    _hostile(t, d, IMSG_HEADER.pack(0xdeadbeef, 28, 0, 0, 0) + b"x" * 8,
             "an unknown message type")
    # a frame shorter than its own header
    _hostile(t, d, IMSG_HEADER.pack(IMSG_CTL_SHOW_STATUS, 4, 0, 0, 0) +
             b"\0" * 64, "a length below the header size")
    d.check_restarts()


def test_ctl_huge_length_disconnected(t):
    d = t.daemon(workers=2).start()
    _hostile(t, d, IMSG_HEADER.pack(IMSG_CTL_SHOW_STATUS, 0xffffffff, 0, 0, 0)
             + b"\0" * 1024, "a 4 GiB length")
    _hostile(t, d, IMSG_HEADER.pack(IMSG_CTL_SHOW_STATUS, 1 << 20, 0, 0, 0)
             + b"\0" * 4096, "a 1 MiB length")
    d.check_restarts()


def test_ctl_stalled_client_does_not_block(t):
    d = t.daemon(workers=2).start()
    before = pid_map(d)
    # half a header, then silence; another client must still be served
    s = t.socket(unix_connect(d.control_socket))
    s.sendall(IMSG_HEADER.pack(IMSG_CTL_SHOW_STATUS, 20, 0, 0, 0)[:7])
    s2 = t.socket(unix_connect(d.control_socket))  # connects, says nothing
    t0 = time.monotonic()
    check_stays_up(d, before)
    took = time.monotonic() - t0
    check(took < 2.0, "show status took %.1f s with a stalled client" % took)
    s.close()
    s2.close()
    d.check_restarts()


def test_second_instance_refused(t):
    a = t.daemon(workers=2, name="first").start()
    before = pid_map(a)
    b = t.daemon(workers=2, name="second", control_socket=a.control_socket)
    b.spawn()
    ok = wait_until(lambda: b.proc.poll() is not None, 5.0, 0.05)
    check(ok, "a second instance on the same control socket is still "
          "running after 5 s (pid %d, children %s)" % (b.pid, b.procs()))
    check(b.proc.returncode != 0, "second instance exited with 0")
    check(b.log().strip(), "second instance exited without a message")
    check(wait_until(lambda: not b.procs(), 2.0, 0.05),
          "second instance left processes %s" % b.procs())
    b.stopped = True
    check(os.path.exists(a.control_socket), "the first instance's control "
          "socket was removed")
    check_stays_up(a, before)
    st = a.status()
    check(st["pid"] == a.pid, "control socket now answers for pid %s, not "
          "the first instance %d" % (st["pid"], a.pid))
    a.check_restarts()


def test_stale_control_socket_replaced(t):
    d = t.daemon(workers=1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.control_socket)
    s.close()    # the file stays, nobody listens: a crashed instance's
    check(os.path.exists(d.control_socket), "could not leave a stale socket")
    d.start()
    check(d.status()["pid"] == d.pid, "status does not come from the new "
          "daemon")
