"""
The process tree, its titles, the sandbox, the privilege drop, and the
unprivileged start.
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

from harness import (Skip, check, check_answers_404, check_ids,
                     check_sandbox_logged, check_sandboxed, is_root,
                     nobody_ids, proc_root, proc_status)


def _tree(t, workers):
    d = t.daemon(workers=workers).start()
    found = d.check_tree()
    check(len([k for k in found if k[0] == "worker"]) == workers,
          "expected %d workers" % workers)
    check_answers_404(d)


def test_tree_and_titles_2_workers(t):
    _tree(t, 2)


def test_tree_and_titles_3_workers(t):
    _tree(t, 3)


def test_children_sandboxed(t):
    d = t.daemon(workers=2).start()
    found = d.check_tree()
    for (role, id_), pid in sorted(found.items()):
        what = "%s %d" % (role, id_)
        check_sandboxed(pid, what)
        check_sandbox_logged(d, pid, what)


def test_privdrop_and_chroot_as_root(t):
    if not is_root():
        raise Skip("not root")
    d = t.daemon(workers=2).start()
    found = d.check_tree()
    uid, gid = nobody_ids()
    empty = os.path.realpath(d.chroot_dir)
    state = os.path.realpath(d.state_dir)
    for (role, id_), pid in sorted(found.items()):
        what = "%s %d" % (role, id_)
        check_ids(pid, what, uid, gid)
        check_sandboxed(pid, what)
        want = {"worker": empty, "certloader": empty, "logger": empty,
                "metrics": empty,
                "registrar": state}[role]
        root = proc_root(pid)
        check(root == want, "%s (pid %d): root is %r, expected %r" % (
            what, pid, root, want))
    # the chroot dir stays as the operator made it
    st = os.stat(d.chroot_dir)
    check(st.st_uid == 0 and (st.st_mode & 0o777) == 0o755,
          "chroot dir now uid %d mode %o" % (st.st_uid, st.st_mode & 0o777))
    check_answers_404(d, 3)


def test_privdrop_certloader_chroots_to_cert_dir(t):
    if not is_root():
        raise Skip("not root")
    certs = os.path.join(t.tmp, "certs")
    os.mkdir(certs, 0o755)
    d = t.daemon(workers=2, cert_dir=certs).start()
    found = d.check_tree()
    uid, gid = nobody_ids()
    pid = found[("certloader", 0)]
    check_ids(pid, "certloader", uid, gid)
    root = proc_root(pid)
    check(root == os.path.realpath(certs),
          "certloader root is %r, expected the cert dir %r" % (root, certs))
    for i in range(2):
        root = proc_root(found[("worker", i)])
        check(root == os.path.realpath(d.chroot_dir),
              "worker %d root is %r, expected %r" % (i, root, d.chroot_dir))


NOT_ROOT_RE = re.compile(r"not (running )?(started )?(as )?root|non-?root|"
                         r"unprivileged|not privileged", re.I)


def test_unprivileged_start(t):
    # as root: started as nobody; otherwise as whoever runs the tests
    if is_root():
        d = t.daemon(workers=2, as_nobody=True).start()
        uid, gid = nobody_ids()
    else:
        d = t.daemon(workers=2, privdrop=False).start()
        uid, gid = os.getuid(), os.getgid()
    parent = proc_status(d.pid)
    check(parent and parent["Uid"].split()[0] == str(uid),
          "parent does not run as nobody: Uid %r" % (parent or {}).get("Uid"))
    found = d.check_tree()
    for (role, id_), pid in sorted(found.items()):
        what = "%s %d" % (role, id_)
        check_ids(pid, what, uid)
        check_sandboxed(pid, what)
        check_sandbox_logged(d, pid, what)
        root = proc_root(pid)
        check(root == "/", "%s (pid %d): root %r, expected no chroot" % (
            what, pid, root))
    warn = [l for l in d.log_lines() if NOT_ROOT_RE.search(l)]
    check(len(warn) == 1, "expected exactly one not-root warning, got %d: %s"
          % (len(warn), warn[:5]))
    t.note("not-root warning: %s" % warn[0])
    for _ in range(3):
        code, body = t.curl("http://127.0.0.1:%d/" % d.listen_port)
        check(code == 404, "curl got %d, expected 404" % code)
    code, body = t.curl("http://127.0.0.1:%d/healthz" % d.register_port)
    check(code == 200, "registrar answered %d, expected 200" % code)
