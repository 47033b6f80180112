/*
 * tlsload.c: the TLS clients the benchmark needs that wrk and h2load are
 * not (they resume sessions, or cannot hold connections idle).
 *
 *   tlsload handshakes [-r] [-c conc] [-t secs] addr port sni
 *	Full TLS handshakes in a loop, `conc' at a time, for `secs' seconds:
 *	connect, handshake (never offering a session, so never resumed),
 *	send close_notify, read until the server closes, close.  Prints
 *	"handshakes N resumed R errors E seconds S".  With -r, every
 *	handshake offers the newest session the server gave (a ticket):
 *	resumed handshakes, once the first has been made.
 *
 *   tlsload idle [-c conc] [-n count] [-t secs] addr port sni
 *	Opens `count' TLS connections (handshakes complete, `conc' at a time)
 *	and holds them idle.  Prints "ready N" once all are up, then waits
 *	for its standard input to close (or `secs' seconds), and prints
 *	"dropped D" (connections the server closed meanwhile).
 *
 *   tlsload requests [-n count] [-s size] [-H host] [-t secs] addr port sni
 *	One TLS connection, `count' sequential "GET /size" requests kept
 *	alive; every answer must be 200 with a body of `size' bytes.
 *	Prints "requests N".  `secs' bounds each read.
 *
 * Exit status 0 only when everything asked for worked.
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

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum state { ST_CONNECTING, ST_HANDSHAKE, ST_DRAIN, ST_IDLE };

struct conn {
	int		 fd;
	SSL		*ssl;
	enum state	 st;
	double		 started;
	unsigned int	 events;	/* registered epoll events */
};

static struct sockaddr_in	 dst;
static const char		*sni;
static SSL_CTX			*ctx;
static int			 ep;
static unsigned long		 n_done, n_resumed, n_errors, n_dropped;
static unsigned long		 n_up;
static int			 resume;	/* -r */
static SSL_SESSION		*last_session;	/* the newest, with -r */

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: tlsload handshakes [-r] [-c conc] [-t secs] addr port "
	    "sni\n"
	    "       tlsload idle [-c conc] [-n count] [-t secs] addr port sni\n"
	    "       tlsload requests [-n count] [-s size] [-H host] [-t secs] "
	    "addr port sni\n");
	exit(2);
}

static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int	 new_session(SSL *, SSL_SESSION *);

static void
init_tls(void)
{
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!resume) {
		/* no client cache and no SSL_set_session(): never resumes */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return;
	}
	/* TLS 1.3 tickets come after the handshake: keep each new one */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
}

static int
new_session(SSL *ssl __attribute__((__unused__)), SSL_SESSION *sess)
{
	SSL_SESSION_free(last_session);
	last_session = sess;
	return (1);	/* we keep the reference */
}

static int
conn_watch(struct conn *c, unsigned int events)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return (0);
	if (epoll_ctl(ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
	    &ev) == -1)
		return (-1);
	c->events = events;
	return (0);
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);	/* also leaves the epoll set */
	c->ssl = NULL;
	c->fd = -1;
	c->events = 0;
}

static int
conn_open(struct conn *c)
{
	int	 one = 1;

	c->events = 0;
	c->ssl = NULL;
	c->started = now();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return (-1);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		conn_close(c);
		return (-1);
	}
	c->st = ST_CONNECTING;
	if (conn_watch(c, EPOLLOUT) == -1) {
		conn_close(c);
		return (-1);
	}
	return (0);
}

/* Map an OpenSSL want to epoll events; 0 on a real failure or EOF. */
static unsigned int
ssl_want(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return (EPOLLIN);
	case SSL_ERROR_WANT_WRITE:
		return (EPOLLOUT);
	default:
		ERR_clear_error();
		return (0);
	}
}

/*
 * Advance one connection.  Returns 1 when it has finished (closed), 0
 * while it goes on, -1 on failure (closed).
 */
static int
conn_step(struct conn *c, int keep_idle)
{
	char		 buf[4096];
	unsigned int	 w;
	int		 r, err;
	socklen_t	 len = sizeof(err);

	switch (c->st) {
	case ST_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			goto fail;
		if ((c->ssl = SSL_new(ctx)) == NULL ||
		    !SSL_set_fd(c->ssl, c->fd) ||
		    !SSL_set_tlsext_host_name(c->ssl, sni) ||
		    (last_session != NULL &&
		    !SSL_set_session(c->ssl, last_session)))
			goto fail;
		SSL_set_connect_state(c->ssl);
		c->st = ST_HANDSHAKE;
		/* FALLTHROUGH */
	case ST_HANDSHAKE:
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			if ((w = ssl_want(c->ssl, r)) == 0 ||
			    conn_watch(c, w) == -1)
				goto fail;
			return (0);
		}
		if (SSL_session_reused(c->ssl))
			n_resumed++;
		if (keep_idle) {
			c->st = ST_IDLE;
			n_up++;
			if (conn_watch(c, EPOLLIN) == -1)
				goto fail;
			/* read whatever came with the handshake (tickets) */
			return (conn_step(c, keep_idle));
		}
		n_done++;
		c->st = ST_DRAIN;
		/* close_notify; the server answers by closing */
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		/* FALLTHROUGH */
	case ST_DRAIN:
		for (;;) {
			r = SSL_read(c->ssl, buf, sizeof(buf));
			if (r > 0)
				continue;
			if ((w = ssl_want(c->ssl, r)) == 0)
				break;
			if (conn_watch(c, w) == -1)
				goto fail;
			return (0);
		}
		conn_close(c);
		return (1);
	case ST_IDLE:
		for (;;) {
			r = SSL_read(c->ssl, buf, sizeof(buf));
			if (r > 0)
				continue;
			if ((w = ssl_want(c->ssl, r)) == 0)
				break;
			if (conn_watch(c, w) == -1)
				goto fail;
			return (0);
		}
		n_dropped++;
		conn_close(c);
		return (1);
	}
 fail:
	n_errors++;
	conn_close(c);
	return (-1);
}

static int
run_handshakes(int conc, double secs)
{
	struct epoll_event	 evs[256];
	struct conn		*conns;
	double			 t0 = now(), end = t0 + secs, t;
	int			 i, n, active = 0;

	if ((conns = calloc(conc, sizeof(*conns))) == NULL)
		return (1);
	for (i = 0; i < conc; i++) {
		if (conn_open(&conns[i]) == -1)
			n_errors++;
		else
			active++;
	}
	while (active > 0) {
		t = now();
		n = epoll_wait(ep, evs, 256, 100);
		if (n == -1 && errno != EINTR)
			return (1);
		for (i = 0; i < n; i++) {
			struct conn	*c = evs[i].data.ptr;

			if (conn_step(c, 0) == 0)
				continue;
			if (now() < end && conn_open(c) == 0)
				continue;
			active--;
		}
		/* a handshake or close stuck for 5 s counts as an error */
		for (i = 0; i < conc; i++) {
			if (conns[i].fd != -1 && t - conns[i].started > 5) {
				conn_close(&conns[i]);
				n_errors++;
				if (t < end && conn_open(&conns[i]) == 0)
					continue;
				active--;
			}
		}
		if (n_errors > 1000)
			break;
	}
	printf("handshakes %lu resumed %lu errors %lu seconds %.3f\n",
	    n_done, n_resumed, n_errors, now() - t0);
	return (n_errors > n_done / 100 || n_done == 0);
}

static int
run_idle(int conc, unsigned long count, double secs)
{
	struct epoll_event	 evs[256], ev;
	struct conn		*conns;
	double			 end = now() + secs;
	unsigned long		 opened = 0, i;
	int			 n, k, inflight = 0, ready = 0;

	if ((conns = calloc(count, sizeof(*conns))) == NULL)
		return (1);
	for (i = 0; i < count; i++)
		conns[i].fd = -1;
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* NULL is stdin */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == -1) {
		perror("epoll stdin");
		return (1);
	}
	for (;;) {
		while (!ready && inflight < conc && opened < count) {
			if (conn_open(&conns[opened++]) == -1)
				n_errors++;
			else
				inflight++;
		}
		if (!ready && n_up + n_errors >= count) {
			printf("ready %lu errors %lu\n", n_up, n_errors);
			fflush(stdout);
			ready = 1;
		}
		if (now() > end) {
			fprintf(stderr, "tlsload: idle: time is up\n");
			break;
		}
		n = epoll_wait(ep, evs, 256, 100);
		if (n == -1 && errno != EINTR)
			return (1);
		for (k = 0; k < n; k++) {
			struct conn	*c = evs[k].data.ptr;
			enum state	 before;
			int		 r;

			if (c == NULL)
				goto out;	/* stdin: EOF or input */
			before = c->st;
			r = conn_step(c, 1);
			if (before != ST_IDLE && (r == -1 ||
			    c->st == ST_IDLE))
				inflight--;
		}
	}
 out:
	printf("dropped %lu\n", n_dropped);
	return (n_errors > 0 || n_up < count);
}

/* Blocking, buffered reads for the request mode. */
struct rbuf {
	SSL	*ssl;
	char	 buf[32768];
	size_t	 off, len;
};

static int
rfill(struct rbuf *rb)
{
	int	 r;

	if (rb->off > 0) {
		memmove(rb->buf, rb->buf + rb->off, rb->len - rb->off);
		rb->len -= rb->off;
		rb->off = 0;
	}
	if (rb->len == sizeof(rb->buf))
		return (-1);
	r = SSL_read(rb->ssl, rb->buf + rb->len, sizeof(rb->buf) - rb->len);
	if (r <= 0)
		return (-1);
	rb->len += r;
	return (0);
}

static int
read_response(struct rbuf *rb, size_t want, unsigned long seq)
{
	char	*h, *end, *p;
	size_t	 hl, cl = 0, got;
	int	 have_cl = 0;

	for (;;) {
		h = rb->buf + rb->off;
		end = memmem(h, rb->len - rb->off, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if (rfill(rb) == -1) {
			fprintf(stderr, "tlsload: request %lu: no response "
			    "head\n", seq);
			return (-1);
		}
	}
	hl = end + 4 - h;
	if (hl < 12 || strncmp(h, "HTTP/1.1 200", 12) != 0) {
		fprintf(stderr, "tlsload: request %lu: %.*s\n", seq,
		    (int)(memchr(h, '\r', hl) ? (char *)memchr(h, '\r', hl) - h
		    : 12), h);
		return (-1);
	}
	for (p = h; p < end; ) {
		char	*nl = memchr(p, '\n', end - p);

		if (nl == NULL)
			break;
		p = nl + 1;
		if (strncasecmp(p, "content-length:", 15) == 0) {
			cl = strtoul(p + 15, NULL, 10);
			have_cl = 1;
		}
	}
	if (!have_cl || cl != want) {
		fprintf(stderr, "tlsload: request %lu: want Content-Length "
		    "%zu\n", seq, want);
		return (-1);
	}
	rb->off += hl;
	for (got = 0; got < cl; ) {
		size_t	 avail = rb->len - rb->off, take;

		if (avail == 0) {
			if (rfill(rb) == -1) {
				fprintf(stderr, "tlsload: request %lu: short "
				    "body\n", seq);
				return (-1);
			}
			continue;
		}
		take = avail < cl - got ? avail : cl - got;
		rb->off += take;
		got += take;
	}
	return (0);
}

static int
run_requests(unsigned long count, size_t size, const char *host,
    double secs)
{
	static struct rbuf	 rb;
	struct timeval		 tv;
	char			 req[512];
	unsigned long		 i;
	int			 fd, one = 1, reqlen;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - tv.tv_sec) * 1e6);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1) {
		perror("tlsload: connect");
		return (1);
	}
	if ((rb.ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(rb.ssl, fd) ||
	    !SSL_set_tlsext_host_name(rb.ssl, sni) ||
	    SSL_connect(rb.ssl) != 1) {
		fprintf(stderr, "tlsload: TLS handshake failed\n");
		ERR_print_errors_fp(stderr);
		return (1);
	}
	reqlen = snprintf(req, sizeof(req), "GET /%zu HTTP/1.1\r\n"
	    "Host: %s\r\nUser-Agent: tlsload\r\nAccept: */*\r\n\r\n",
	    size, host);
	for (i = 0; i < count; i++) {
		if (SSL_write(rb.ssl, req, reqlen) != reqlen) {
			fprintf(stderr, "tlsload: request %lu: write failed\n",
			    i + 1);
			return (1);
		}
		if (read_response(&rb, size, i + 1) == -1)
			return (1);
	}
	(void)SSL_shutdown(rb.ssl);
	close(fd);
	printf("requests %lu\n", i);
	return (0);
}

int
main(int argc, char **argv)
{
	const char	*mode, *host = NULL;
	unsigned long	 count = 1;
	size_t		 size = 100;
	double		 secs = 10;
	int		 ch, conc = 16;

	if (argc < 2)
		usage();
	mode = argv[1];
	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "c:H:n:rs:t:")) != -1) {
		switch (ch) {
		case 'r':
			resume = 1;
			break;
		case 'c':
			conc = atoi(optarg);
			break;
		case 'H':
			host = optarg;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 't':
			secs = atof(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3 || conc < 1 || count < 1 || secs <= 0)
		usage();
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(atoi(argv[1]));
	if (inet_pton(AF_INET, argv[0], &dst.sin_addr) != 1)
		usage();
	sni = argv[2];
	if (host == NULL)
		host = sni;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	init_tls();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epoll_create1");
		return (1);
	}
	if (strcmp(mode, "handshakes") == 0)
		return (run_handshakes(conc, secs));
	if (strcmp(mode, "idle") == 0)
		return (run_idle(conc, count, secs));
	if (strcmp(mode, "requests") == 0)
		return (run_requests(count, size, host, secs));
	usage();
	return (2);
}
