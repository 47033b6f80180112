"""
The registrar when its disk fills up or is slow.  The state directory is
a small tmpfs of its own, filled by the test: a change that cannot be
written is answered 503 and changes nothing, in memory, in the workers
or on disk; a disk that stays full costs a prompt 503 per change, not a
busy loop; space back, changes are written again.  A slow fsync is made
with strace's delay injection on the registrar: /healthz is answered
meanwhile.  (strace's error injection cannot be used: it skips the call
by making it syscall -1, which the seccomp filter kills the process for.)
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

import errno
import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import harness
from backends import EchoBackend
from harness import Skip, check, wait_until
from test_register import (_finish, _restart, api, auth, expect_error,
                           not_routed, reg_body, register, routed, services)


class Strace:
    """strace -f on the registrar with a delay injected; detached (and
    the delay with it) by stop()."""

    def __init__(self, t, d, inject):
        if shutil.which("strace") is None:
            raise Skip("no strace")
        self.pid = d.child_pid("registrar")
        self.proc = t.popen(["strace", "-f", "-qq", "-o", "/dev/null",
                             "-e", "trace=fsync,fdatasync",
                             "-e", "inject=" + inject, "-p", str(self.pid)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)

        def traced():
            st = harness.proc_status(self.pid) or {}
            return st.get("TracerPid") not in (None, "0")
        if not wait_until(traced, 3.0, 0.02):
            self.stop()
            raise Skip("strace could not attach to the registrar")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _post(d, service, port, what):
    return api(d, "POST", "/register", reg_body(service, port=port),
               auth(d, service), what=what)


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _small_state_dir(t, d, size="128k"):
    """d's state directory on a tmpfs of its own, before d starts."""
    if not harness.is_root() or shutil.which("mount") is None:
        raise Skip("mounting a tmpfs needs root and mount(8)")
    uid, gid = harness.nobody_ids()
    os.makedirs(d.state_dir, 0o700, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700,"
                        "uid=%d,gid=%d" % (size, uid, gid), "tmpfs",
                        d.state_dir], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot mount a tmpfs: %s" % r.stderr.strip())
    t.defer(lambda: subprocess.run(["umount", "-l", d.state_dir],
                                   capture_output=True))


def _fill(path):
    """Writes path until the file system is full; returns its size."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(b"\0" * 4096)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                return n


def test_full_disk_503_changes_nothing(t):
    be = EchoBackend(t, "be")
    d = t.daemon(workers=2)
    _small_state_dir(t, d)
    d.start()
    register(d, "kept.test", port=be.port)
    filler = os.path.join(d.state_dir, "filler")
    _fill(filler)

    # the journal's last page may still have room for a few lines
    answered, refused = ["kept.test"], None
    for i in range(200):
        svc = "fill%03d.test" % i
        a = _post(d, svc, be.port, "POST %d to a full disk" % i)
        if a.status == 200:
            answered.append(svc)
            continue
        expect_error(a, 503)
        refused = svc
        break
    check(refused is not None, "200 registrations went through on a full "
          "disk")
    check(sorted(services(d)) == sorted(answered), "after a 503 the "
          "registry lists %d services, expected the %d answered 200" % (
              len(services(d)), len(answered)))
    not_routed(d, refused, 4, "a registration answered 503")
    routed(d, "kept.test", be, 2, "registered before the disk filled")
    check("registry: writing to" in d.log(), "no log line for the write "
          "that failed")

    os.unlink(filler)
    time.sleep(1.1)     # the registrar retries its snapshot after 1 s
    register(d, "after.test", port=be.port)
    answered.append("after.test")
    routed(d, "after.test", be, 2, "registered once there was room")
    _finish(d)
    d = _restart(t, d)
    check(sorted(services(d)) == sorted(answered), "after a restart the "
          "registry lists %d services, expected the %d answered 200" % (
              len(services(d)), len(answered)))
    _finish(d)


def test_full_disk_prompt_503_no_spin(t):
    """The disk stays full: each registration gets its 503 at once, and
    the registrar does not spin retrying its snapshot."""
    be = EchoBackend(t, "be")
    d = t.daemon(workers=1)
    _small_state_dir(t, d)
    d.start()
    register(d, "kept.test", port=be.port)
    pid = d.child_pid("registrar")
    filler = os.path.join(d.state_dir, "filler")
    _fill(filler)
    for i in range(200):        # until the journal's last page is full
        if _post(d, "pad%03d.test" % i, be.port, "padding").status != 200:
            break
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    for i in range(8):
        s0 = time.monotonic()
        a = _post(d, "full%d.test" % i, be.port, "POST %d to a full disk"
                  % i)
        expect_error(a, 503)
        check(time.monotonic() - s0 < 1.0, "POST %d to a full disk took "
              "%.1f s" % (i, time.monotonic() - s0))
        time.sleep(0.3)
    took, cpu = time.monotonic() - t0, _cpu_seconds(pid) - cpu0
    check(cpu < 0.25 * took, "the registrar used %.2f s of CPU in %.1f s "
          "while its disk was full" % (cpu, took))
    lines = [l for l in d.log().splitlines() if "registry:" in l]
    check(len(lines) < 40, "%d registry log lines for 8 refusals" %
          len(lines))
    check(not any(s.startswith("full") for s in services(d)),
          "a registration answered 503 is listed")
    os.unlink(filler)
    time.sleep(1.1)
    register(d, "back.test", port=be.port)
    routed(d, "back.test", be, 1, "once the disk had room again")
    _finish(d)


def test_healthz_while_fsync_slow(t):
    be = EchoBackend(t, "be")
    d = t.daemon(workers=1).start()
    st = Strace(t, d, "fsync:delay_enter=1500000:when=1")
    done = {}

    def post():
        t0 = time.monotonic()
        done["answer"] = _post(d, "slow.test", be.port, "POST, slow fsync")
        done["took"] = time.monotonic() - t0
    th = threading.Thread(target=post, daemon=True)
    try:
        th.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        h = api(d, "GET", "/healthz", what="GET /healthz during the fsync")
        took = time.monotonic() - t0
        th.join(10)
    finally:
        st.stop()
    check(h.status == 200 and took < 0.5, "GET /healthz while an fsync is "
          "in flight: status %d after %.2f s" % (h.status, took))
    check("answer" in done, "the POST during a slow fsync never returned")
    check(done["answer"].status == 200 and done["took"] >= 1.2,
          "the POST whose fsync took 1.5 s: status %d after %.2f s" % (
              done["answer"].status, done["took"]))
    routed(d, "slow.test", be, 1, "registered through a slow fsync")
    _finish(d)


def test_journal_compacted_nothing_lost(t):
    """1,100 changes: the journal is rewritten as a snapshot on the way
    (it ends far shorter than 1,100 lines), and a restart serves every
    backend as the last change left it."""
    be = EchoBackend(t, "be")
    d = t.daemon(workers=1).start()
    conn = http.client.HTTPConnection("127.0.0.1", d.register_port,
                                      timeout=10)
    want = {}
    try:
        for i in range(1100):
            svc, port = "c%02d.test" % (i % 40), 30000 + i % 60
            ttl = 600 + i
            conn.request("POST", "/register", json.dumps(reg_body(
                svc, port=port, ttl=ttl)), dict(
                    auth(d, svc) + [("Content-Type", "application/json")]))
            r = conn.getresponse()
            r.read()
            check(r.status == 200, "change %d: status %d" % (i, r.status))
            want[(svc, port)] = ttl
    finally:
        conn.close()
    with open(os.path.join(d.state_dir, "registry.journal")) as f:
        lines = len(f.readlines())
    check(lines < 200, "the journal has %d lines after 1,100 changes: "
          "never compacted" % lines)
    _finish(d)
    d = _restart(t, d, workers=1)
    got = {(s, b["port"]): b["expires_in"] for s, bl in services(d).items()
           for b in bl}
    check(set(got) == set(want), "after a restart %d backends, expected "
          "%d" % (len(got), len(want)))
    off = [k for k in want if not want[k] - 5 <= got[k] <= want[k]]
    check(not off, "backends whose TTL is not their last change's: %s" %
          off[:5])
    _finish(d)
