/*
 * check.c: one backend's active check, as the health child runs it: a
 * TCP connect, a TLS handshake or an HTTP request, non-blocking and
 * bounded in time, on the backend's own timer; rise and fall.
 */

/*
 * Copyright (c) 2026 The portero authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHORS DISCLAIM ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * A check, step by step:
 *
 *   IDLE --interval--> CONNECT --> HANDSHAKE --> SEND --> READ --> IDLE
 *                         |  tcp      |  tls                 status line
 *                         +-----------+----------------------------+
 *                                   result: ok or not
 *
 * TCP ends once connected; TLS once the handshake has verified the
 * backend's certificate for the check's TLS name; HTTP sends "GET path"
 * (over TLS to a TLS backend) and ends with the status line, read from
 * at most CHECK_RESPONSE_MAX bytes.  Every step counts against the
 * check's timeout; the next check starts an interval after this one did.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

enum check_step {
	CK_IDLE,
	CK_CONNECT,
	CK_HANDSHAKE,
	CK_SEND,
	CK_READ,
};

static const char *const check_step_names[] = {
	[CK_IDLE] = "idle",
	[CK_CONNECT] = "connect",
	[CK_HANDSHAKE] = "tls",
	[CK_SEND] = "http",
	[CK_READ] = "http",
};

static void	 check_timer(int, short, void *);
static void	 check_event(int, short, void *);
static void	 check_begin(struct hcheck *);
static void	 check_connected(struct hcheck *);
static void	 check_handshake(struct hcheck *);
static void	 check_request(struct hcheck *);
static void	 check_send(struct hcheck *);
static void	 check_read(struct hcheck *);
static void	 check_end(struct hcheck *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static void
check_arm(struct hcheck *hc, unsigned int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(&hc->hc_timer, &tv);
}

/* A new check, pending until rise or fall results have come. */
void
check_init(struct hcheck *hc)
{
	hc->hc_fd = -1;
	hc->hc_step = CK_IDLE;
	event_set(&hc->hc_ev, -1, 0, check_event, hc);
	evtimer_set(&hc->hc_timer, check_timer, hc);
	hc->hc_stat.hs_state = HEALTH_PENDING;
	hc->hc_stat.hs_type = hc->hc_target.ct_check.ck_type;
}

/*
 * Start checking: the first check within an interval (a second at
 * most), at a random point, so that many backends are not all checked
 * at the same moment.
 */
void
check_start(struct hcheck *hc)
{
	uint32_t	 spread = hc->hc_target.ct_check.ck_interval_ms;

	if (spread > 1000)
		spread = 1000;
	check_arm(hc, arc4random_uniform(spread + 1));
}

/* Settings changed: the counts start over, the verdict stands. */
void
check_restart(struct hcheck *hc)
{
	check_stop(hc);
	hc->hc_oks = hc->hc_fails = 0;
	hc->hc_stat.hs_type = hc->hc_target.ct_check.ck_type;
	check_start(hc);
}

static void
check_close(struct hcheck *hc)
{
	event_del(&hc->hc_ev);
	if (hc->hc_tls != NULL) {
		(void)ptls_close(hc->hc_tls);	/* best effort */
		ptls_free(hc->hc_tls);
		hc->hc_tls = NULL;
	}
	if (hc->hc_fd != -1) {
		close(hc->hc_fd);
		hc->hc_fd = -1;
	}
	free(hc->hc_buf);
	hc->hc_buf = NULL;
	hc->hc_len = hc->hc_off = 0;
	hc->hc_step = CK_IDLE;
}

void
check_stop(struct hcheck *hc)
{
	check_close(hc);
	evtimer_del(&hc->hc_timer);
}

/* Idle: time for the next check.  Under way: it took too long. */
static void
check_timer(int fd, short event, void *arg)
{
	struct hcheck	*hc = arg;

	if (hc->hc_step == CK_IDLE)
		check_begin(hc);
	else
		check_end(hc, 0, "timeout (%s)",
		    check_step_names[hc->hc_step]);
}

static void
check_wait(struct hcheck *hc, short what)
{
	event_del(&hc->hc_ev);
	event_set(&hc->hc_ev, hc->hc_fd, what, check_event, hc);
	event_add(&hc->hc_ev, NULL);
}

static void
check_event(int fd, short event, void *arg)
{
	struct hcheck	*hc = arg;

	switch (hc->hc_step) {
	case CK_CONNECT:
		check_connected(hc);
		break;
	case CK_HANDSHAKE:
		check_handshake(hc);
		break;
	case CK_SEND:
		check_send(hc);
		break;
	case CK_READ:
		check_read(hc);
		break;
	default:
		break;
	}
}

static void
check_connect_failed(struct hcheck *hc, int error)
{
	if (error == ECONNREFUSED)
		check_end(hc, 0, "connect refused");
	else
		check_end(hc, 0, "connect: %s", strerror(error));
}

static void
check_begin(struct hcheck *hc)
{
	const struct check_target	*ct = &hc->hc_target;
	int				 on = 1;

	clock_gettime(CLOCK_MONOTONIC, &hc->hc_start);
	check_arm(hc, ct->ct_check.ck_timeout_ms);
	hc->hc_step = CK_CONNECT;
	if ((hc->hc_fd = socket(ct->ct_ss.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) == -1) {
		check_end(hc, 0, "socket: %s", strerror(errno));
		return;
	}
	(void)setsockopt(hc->hc_fd, IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on));
	if (connect(hc->hc_fd, (const struct sockaddr *)&ct->ct_ss,
	    ct->ct_sslen) == -1 && errno != EINPROGRESS) {
		check_connect_failed(hc, errno);
		return;
	}
	check_wait(hc, EV_WRITE);
}

static void
check_connected(struct hcheck *hc)
{
	const struct check_target	*ct = &hc->hc_target;
	struct upstream_tls		*ut;
	struct ptls_client		*pc;
	socklen_t			 len = sizeof(int);
	char				 err[256];
	int				 error = 0;

	if (getsockopt(hc->hc_fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0) {
		check_connect_failed(hc, error);
		return;
	}
	if (ct->ct_check.ck_type == CHECK_TCP) {
		check_end(hc, 1, "connect ok");
		return;
	}
	if (ct->ct_check.ck_type != CHECK_TLS && !ct->ct_tls) {
		check_request(hc);
		return;
	}
	/*
	 * The pool's tls-ca, as the workers verify it, else the global;
	 * with its client certificate, as the workers present it.
	 */
	if (ct->ct_tls_cert != 0)
		pc = poolclient_client(ct->ct_tls_ca, ct->ct_tls_cert);
	else if (ct->ct_tls_ca != 0)
		pc = (ut = poolca_tls(ct->ct_tls_ca)) != NULL ? ut->ut_pc :
		    NULL;
	else
		pc = upstream_client();
	if (pc == NULL) {
		check_end(hc, 0, ct->ct_tls_cert != 0 ? "tls: no CA bundle or "
		    "client certificate" : "tls: no CA bundle");
		return;
	}
	if ((hc->hc_tls = ptls_connect(pc, hc->hc_fd, ct->ct_name, err,
	    sizeof(err))) == NULL) {
		check_end(hc, 0, "tls: %s", err);
		return;
	}
	hc->hc_step = CK_HANDSHAKE;
	check_handshake(hc);
}

static void
check_handshake(struct hcheck *hc)
{
	int	 ret;

	ret = ptls_handshake(hc->hc_tls);
	if (ret == PTLS_WANT_READ || ret == PTLS_WANT_WRITE) {
		check_wait(hc, ret == PTLS_WANT_READ ? EV_READ : EV_WRITE);
		return;
	}
	if (ret == -1) {
		check_end(hc, 0, "tls: %s", ptls_error(hc->hc_tls));
		return;
	}
	if (hc->hc_target.ct_check.ck_type == CHECK_TLS) {
		check_end(hc, 1, "tls ok");
		return;
	}
	check_request(hc);
}

static void
check_request(struct hcheck *hc)
{
	const struct check_target	*ct = &hc->hc_target;
	int				 n;

	if ((hc->hc_buf = malloc(CHECK_RESPONSE_MAX)) == NULL) {
		check_end(hc, 0, "out of memory");
		return;
	}
	n = snprintf(hc->hc_buf, CHECK_RESPONSE_MAX, "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\nUser-Agent: portero-health/" PORTERO_VERSION "\r\n"
	    "Connection: close\r\n\r\n", ct->ct_check.ck_path, ct->ct_host);
	if (n < 0 || n >= CHECK_RESPONSE_MAX) {
		check_end(hc, 0, "http: request too long");
		return;
	}
	hc->hc_len = n;
	hc->hc_off = 0;
	hc->hc_step = CK_SEND;
	check_send(hc);
}

static void
check_send(struct hcheck *hc)
{
	ssize_t	 n;

	while (hc->hc_off < hc->hc_len) {
		if (hc->hc_tls != NULL)
			n = ptls_write(hc->hc_tls, hc->hc_buf + hc->hc_off,
			    hc->hc_len - hc->hc_off);
		else if ((n = send(hc->hc_fd, hc->hc_buf + hc->hc_off,
		    hc->hc_len - hc->hc_off, MSG_NOSIGNAL)) == -1 &&
		    (errno == EAGAIN || errno == EINTR))
			n = PTLS_WANT_WRITE;
		if (n == PTLS_WANT_READ || n == PTLS_WANT_WRITE) {
			check_wait(hc, n == PTLS_WANT_READ ? EV_READ :
			    EV_WRITE);
			return;
		}
		if (n == -1) {
			check_end(hc, 0, "http: %s", hc->hc_tls != NULL ?
			    ptls_error(hc->hc_tls) : strerror(errno));
			return;
		}
		hc->hc_off += n;
	}
	hc->hc_len = hc->hc_off = 0;
	hc->hc_step = CK_READ;
	check_read(hc);
}

/* "HTTP/1.1 200 OK": the status, or -1. */
static int
check_status_line(const char *line, size_t len)
{
	int	 i, status = 0;

	if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
	    line[7] < '0' || line[7] > '9' || line[8] != ' ')
		return (-1);
	for (i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return (-1);
		status = status * 10 + line[i] - '0';
	}
	if (len > 12 && line[12] != ' ' && line[12] != '\r')
		return (-1);
	return (status < 100 ? -1 : status);
}

static void
check_read(struct hcheck *hc)
{
	const char	*eol;
	ssize_t		 n;
	int		 status;

	while ((eol = memchr(hc->hc_buf, '\n', hc->hc_len)) == NULL) {
		if (hc->hc_len == CHECK_RESPONSE_MAX) {
			check_end(hc, 0, "http: no status line in %d bytes",
			    CHECK_RESPONSE_MAX);
			return;
		}
		if (hc->hc_tls != NULL)
			n = ptls_read(hc->hc_tls, hc->hc_buf + hc->hc_len,
			    CHECK_RESPONSE_MAX - hc->hc_len);
		else if ((n = read(hc->hc_fd, hc->hc_buf + hc->hc_len,
		    CHECK_RESPONSE_MAX - hc->hc_len)) == -1 &&
		    (errno == EAGAIN || errno == EINTR))
			n = PTLS_WANT_READ;
		if (n == PTLS_WANT_READ || n == PTLS_WANT_WRITE) {
			check_wait(hc, n == PTLS_WANT_READ ? EV_READ :
			    EV_WRITE);
			return;
		}
		if (n == 0 || (n == -1 && hc->hc_len == 0 && hc->hc_tls)) {
			check_end(hc, 0, "http: closed before a status line");
			return;
		}
		if (n == -1) {
			check_end(hc, 0, "http: %s", hc->hc_tls != NULL ?
			    ptls_error(hc->hc_tls) : strerror(errno));
			return;
		}
		hc->hc_len += n;
	}
	if ((status = check_status_line(hc->hc_buf, eol - hc->hc_buf)) == -1)
		check_end(hc, 0, "http: bad status line");
	else
		check_end(hc, status == (int)hc->hc_target.ct_check.ck_status,
		    "http %d", status);
}

/*
 * Rise successes in a row make a backend up, fall failures down; each
 * change is the owner's to spread (hstate_checked), and is logged.
 */
static void
check_count(struct hcheck *hc, int ok)
{
	const struct check_conf	*ck = &hc->hc_target.ct_check;
	struct health_stat	*hs = &hc->hc_stat;
	char			 abuf[HOSTPORT_MAX];

	if (ok) {
		hc->hc_fails = 0;
		if (hc->hc_oks < CHECK_COUNT_MAX)
			hc->hc_oks++;
		if (hs->hs_state == HEALTH_UP || hc->hc_oks < ck->ck_rise)
			return;
		hs->hs_state = HEALTH_UP;
	} else {
		hc->hc_oks = 0;
		if (hc->hc_fails < CHECK_COUNT_MAX)
			hc->hc_fails++;
		if (hs->hs_state == HEALTH_DOWN || hc->hc_fails < ck->ck_fall)
			return;
		hs->hs_state = HEALTH_DOWN;
	}
	health_addr(&hc->hc_key.bh_ss, abuf, sizeof(abuf));
	if (ok)
		log_info("backend %s of %s is up: %s check: %s", abuf,
		    hc->hc_key.bh_service, check_type_name(ck->ck_type),
		    hs->hs_result);
	else
		log_warnx("backend %s of %s is down: %s check: %s", abuf,
		    hc->hc_key.bh_service, check_type_name(ck->ck_type),
		    hs->hs_result);
	hstate_checked(&hc->hc_key, ok);
}

/* A check is over: its result, the counts, the next one. */
static void
check_end(struct hcheck *hc, int ok, const char *fmt, ...)
{
	struct health_stat	*hs = &hc->hc_stat;
	struct timespec		 now, d;
	unsigned int		 took, interval;
	va_list			 ap;

	/* the reason may be the connection's: said before it is freed */
	va_start(ap, fmt);
	(void)vsnprintf(hs->hs_result, sizeof(hs->hs_result), fmt, ap);
	va_end(ap);
	check_close(hc);
	evtimer_del(&hc->hc_timer);
	clock_gettime(CLOCK_MONOTONIC, &now);
	timespecsub(&now, &hc->hc_start, &d);
	took = d.tv_sec * 1000 + d.tv_nsec / 1000000;
	hs->hs_ok = ok;
	hs->hs_ms = took;
	hs->hs_at = time(NULL);
	check_count(hc, ok);
	interval = hc->hc_target.ct_check.ck_interval_ms;
	check_arm(hc, took < interval ? interval - took : 0);
}
