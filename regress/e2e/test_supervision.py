"""
Supervision: a child killed with SIGKILL is respawned with the same role
and id, counted, logged; quick deaths back off.
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
import signal

from harness import (check, check_sandboxed, check_stays_up, http_request,
                     proc_stat, proc_title, wait_until)


def _death_logged(d, old_pid):
    """The parent logged the death with the pid and the signal."""
    def find():
        for line in d.log_lines(d.pid):
            if re.search(r"\b%d\b" % old_pid, line) and \
                    re.search(r"\b9\b|KILL|killed", line, re.I):
                return line
        return None
    line = wait_until(find, 1.0, 0.05)
    check(line, "parent logged no line with the dead child's pid %d and "
          "signal 9/SIGKILL" % old_pid)


def _kill_and_respawn(t, d, role, id_, title):
    before = {k: c["pid"] for k, c in d.child_map().items()}
    old = before[(role, id_)]
    os.kill(old, signal.SIGKILL)
    new, took = d.wait_respawned(role, id_, old, 1.5)
    t.note("%s %d back in %.3f s" % (role, id_, took))
    check(took <= 1.0, "%s %d took %.2f s to come back, expected <= 1 s"
          % (role, id_, took))
    st = proc_stat(new)
    check(st and st["ppid"] == d.pid, "new %s %d (pid %d) has parent %s, "
          "not the daemon %d" % (role, id_, new, st and st["ppid"], d.pid))
    check(proc_title(new) == title, "new %s %d title %r" % (
        role, id_, proc_title(new)))
    check_sandboxed(new, "respawned %s %d" % (role, id_))
    _death_logged(d, old)
    d.expect_restarts[(role, id_)] = \
        d.expect_restarts.get((role, id_), 0) + 1
    # the others were left alone
    after = {k: c["pid"] for k, c in d.child_map().items()}
    for k, p in before.items():
        if k != (role, id_):
            check(after[k] == p, "%s %d changed pid %d -> %d when %s %d "
                  "was killed" % (k[0], k[1], p, after[k], role, id_))
    return old, new


def test_worker_kill9_respawned(t):
    d = t.daemon(workers=2).start()
    d.check_tree()
    old, new = _kill_and_respawn(t, d, "worker", 0, "portero: worker 0")
    ws = {w["id"]: w for w in d.workers_info()}
    check(ws[0]["restarts"] == 1, "show workers: worker 0 restarts %s, "
          "expected 1" % ws[0]["restarts"])
    check(ws[0]["pid"] == new, "show workers: worker 0 pid %s, expected %d"
          % (ws[0]["pid"], new))
    check(ws[1]["restarts"] == 0, "show workers: worker 1 restarts %s" %
          ws[1]["restarts"])
    # the new worker serves: spread connections over both (SO_REUSEPORT)
    # until the new one has counted some
    r0 = ws[0]["requests"]
    for i in range(40):
        status, _, _ = http_request(d.listen_port)
        check(status == 404, "request %d after respawn got %d" % (i, status))
    ws = {w["id"]: w for w in d.workers_info()}
    check(ws[0]["requests"] > r0, "respawned worker 0 counted no request "
          "out of 40 (requests %s -> %s; worker 1: %s)" % (
              r0, ws[0]["requests"], ws[1]["requests"]))
    d.check_restarts()
    d.check_tree()


def test_certloader_kill9_respawned(t):
    d = t.daemon(workers=2).start()
    _kill_and_respawn(t, d, "certloader", 0, "portero: certloader")
    d.check_restarts()
    d.check_tree()
    status, _, _ = http_request(d.listen_port)
    check(status == 404, "worker answered %d after certloader respawn"
          % status)


def test_registrar_kill9_respawned(t):
    d = t.daemon(workers=2).start()
    _kill_and_respawn(t, d, "registrar", 0, "portero: registrar")
    d.check_restarts()
    d.check_tree()
    code, _ = t.curl("http://127.0.0.1:%d/healthz" % d.register_port)
    check(code == 200, "respawned registrar answered %d, expected 200"
          % code)


def test_worker_quick_deaths_back_off(t):
    d = t.daemon(workers=2).start()
    delays = []
    for n in range(3):
        old = d.child_pid("worker", 1)
        os.kill(old, signal.SIGKILL)
        new, took = d.wait_respawned("worker", 1, old, 5.0)
        delays.append(took)
    d.expect_restarts[("worker", 1)] = 3
    desc = ", ".join("%.2f" % x for x in delays)
    t.note("respawn delays after quick deaths: %s s" % desc)
    check(delays[0] <= 1.0, "first respawn took %.2f s" % delays[0])
    check(delays[2] >= 0.4, "third quick death respawned after %.2f s, "
          "expected a back-off (delays: %s s)" % (delays[2], desc))
    check(delays[2] >= delays[0] + 0.15 and delays[1] >= delays[0] - 0.05,
          "back-off does not grow: delays %s s" % desc)
    check(delays[2] <= 2.5, "third respawn took %.2f s, more than 250 ms "
          "doubling allows (delays %s s)" % (delays[2], desc))
    d.check_restarts()
    check_stays_up(d, {k: c["pid"] for k, c in d.child_map().items()})
