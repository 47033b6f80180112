"""
What a worker without services serves: 404 for every host; what the
registrar answers without credentials; the request counters behind
`show workers`.
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

from harness import (check, check_answers_404, connect_refused, http_request,
                     wait_until)


def test_worker_answers_404_for_unknown_host(t):
    d = t.daemon(workers=2).start()
    check_answers_404(d, 5)
    # an HTTP/1.0 request and one with a body-less POST get the same
    status, _, _ = http_request(d.listen_port,
                                b"GET /x HTTP/1.0\r\n\r\n")
    check(status == 404, "HTTP/1.0 request got %d" % status)
    status, _, _ = http_request(
        d.listen_port, b"POST /y HTTP/1.1\r\nHost: a\r\n"
        b"Content-Length: 0\r\n\r\n")
    check(status == 404, "POST got %d" % status)


def test_registrar_answers_without_credentials(t):
    d = t.daemon(workers=1).start()
    code, body = t.curl("http://127.0.0.1:%d/healthz" % d.register_port)
    check(code == 200 and '"ok"' in body, "GET /healthz: %d %r" % (
        code, body[:100]))
    code, body = t.curl("http://127.0.0.1:%d/register" % d.register_port)
    check(code == 405, "GET /register answered %d, expected 405" % code)
    status, _, _ = http_request(d.register_port,
                                b"POST /register HTTP/1.1\r\nHost: a\r\n"
                                b"Content-Type: application/json\r\n"
                                b"Content-Length: 2\r\n"
                                b"Connection: close\r\n\r\n{}")
    check(status == 401, "POST /register without credentials got %d, "
          "expected 401" % status)


def test_no_register_has_no_listener(t):
    d = t.daemon(workers=1, register=False).start()
    check(connect_refused(d.register_port), "--no-register: something "
          "still listens on the registration address")


def test_show_workers_counts_requests(t):
    d = t.daemon(workers=2).start()
    before = sum(w["requests"] for w in d.workers_info())
    check(before == 0, "requests before any traffic: %d" % before)
    for i in range(5):
        code, body = t.curl("http://127.0.0.1:%d/n%d" % (d.listen_port, i))
        check(code == 404, "request %d: curl got %d, expected 404" % (
            i, code))
        check(body, "request %d: empty body" % i)
    total = [0]

    def counted():
        total[0] = sum(w["requests"] for w in d.workers_info())
        return total[0] >= 5
    check(wait_until(counted, 2.0, 0.1),
          "show workers counts %d requests in total, expected >= 5"
          % total[0])
    for w in d.workers_info():
        check(w["connections"] == 0, "worker %s still has %s connections"
              % (w["id"], w["connections"]))
