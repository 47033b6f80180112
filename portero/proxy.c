/*
 * proxy.c: a client connection in a worker, from accept to close: TLS
 * handshake, request heads, routing, and both bodies streamed through
 * bounded buffers between the client and its upstream.
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

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"
#include "http1.h"

#define APPEND_LIT(b, lit)	BUF_APPEND_LIT((b), (lit))

/* Record buffers given back before the heap is trimmed. */
#define PROXY_TRIM_AFTER	64

static void	 proxy_pump(struct client *);
static void	 proxy_timer(int, short, void *);
static void	 proxy_body_timer(int, short, void *);
static void	 proxy_close(struct client *);
static void	 proxy_trim(unsigned int);
static void	 proxy_reply(struct client *, int, int);
static void	 proxy_abort(struct client *, int, const char *);
static int	 proxy_start(struct client *);

static void
proxy_timer_set(struct client *cl, unsigned int secs)
{
	timer_set(&cl->cl_ev_timer, secs);
}

void
proxy_accept(int fd, int kind, struct tlsctx *ctx)
{
	struct worker		*wk = worker_env;
	struct client		*cl;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	int			 on = 1;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warn("accept");
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, cl->cl_addr,
	    sizeof(cl->cl_addr), NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(cl->cl_addr, "?", sizeof(cl->cl_addr));
	cl->cl_conn.c_fd = fd;
	cl->cl_kind = kind;
	cl->cl_state = CL_IDLE;
	timer_init(&cl->cl_ev_timer, proxy_timer, cl);
	timer_init(&cl->cl_ev_body, proxy_body_timer, cl);
	TAILQ_INSERT_TAIL(&wk->wk_clients, cl, cl_entry);
	wk->wk_stats.connections++;
	wk->wk_stats.accepted++;

	if (kind == LISTENER_PROXY && wk->wk_conf.cert_dir[0] != '\0') {
		if (ctx == NULL ||
		    (cl->cl_conn.c_tls = tlsctx_accept(ctx, fd)) == NULL) {
			log_debug("%s: no TLS context to accept with",
			    cl->cl_addr);
			proxy_close(cl);
			proxy_pump(cl);
			return;
		}
		tlsctx_ref(ctx);
		cl->cl_tlsctx = ctx;
		cl->cl_state = CL_HANDSHAKE;
		proxy_timer_set(cl, wk->wk_conf.handshake_timeout);
	} else
		proxy_timer_set(cl, wk->wk_conf.idle_timeout);
	conn_watch(&cl->cl_conn, proxy_event, cl);
	proxy_pump(cl);
}

/*
 * Once a second: a TLS connection found idle (between requests, holding
 * no buffer of ours) at two sweeps in a row gives back its record
 * buffers.  One between requests of a busy connection would cost a free
 * and a malloc per request; one idle for a second has time to spare.
 */
void
proxy_sweep(void)
{
	struct client	*cl;
	unsigned int	 freed = 0;

	TAILQ_FOREACH(cl, &worker_env->wk_clients, cl_entry) {
		if (cl->cl_state != CL_IDLE || cl->cl_in != NULL ||
		    cl->cl_conn.c_tls == NULL || cl->cl_lean == 2)
			continue;
		if (cl->cl_lean == 0)
			cl->cl_lean = 1;
		else if (ptls_idle(cl->cl_conn.c_tls) == 0) {
			cl->cl_lean = 2;
			freed++;
		}
	}
	proxy_trim(freed);
}

/*
 * glibc keeps freed record buffers (16 KiB each) in the middle of the
 * heap, between connections' long-lived objects, and never returns
 * them: 5,000 idle connections kept some 35 MB of such holes.  Once
 * enough buffers have been given back, hand the free pages to the
 * kernel.  Other mallocs return them by themselves.
 */
static void
proxy_trim(unsigned int freed)
{
#ifdef __GLIBC__
	static unsigned int	 pending;

	pending += freed;
	if (pending < PROXY_TRIM_AFTER)
		return;
	pending = 0;
	(void)malloc_trim(0);
#else
	(void)freed;
#endif
}

void
proxy_event(int fd, short event, void *arg)
{
	proxy_pump(arg);
}

void
proxy_upstream_event(struct client *cl)
{
	proxy_pump(cl);
}

static int
proxy_handshake(struct client *cl)
{
	int		 ret;

	ret = ptls_handshake(cl->cl_conn.c_tls);
	if (ret == PTLS_WANT_READ || ret == PTLS_WANT_WRITE)
		return (0);
	if (ret == -1) {
		log_debug("%s: TLS handshake: %s", cl->cl_addr,
		    ptls_error(cl->cl_conn.c_tls));
		proxy_close(cl);
		return (0);
	}
	if (ptls_resumed(cl->cl_conn.c_tls))
		worker_env->wk_stats.resumed++;
	else
		worker_env->wk_stats.handshakes++;
	/* most new connections wait a moment for their first request */
	(void)ptls_idle(cl->cl_conn.c_tls);
	cl->cl_state = CL_IDLE;
	proxy_timer_set(cl, worker_env->wk_conf.idle_timeout);
	return (1);
}

/*
 * An idle connection holds no buffer: it reads into one borrowed from
 * the free list and keeps it only if bytes came.  With thousands of idle
 * TLS connections that is most of their memory.
 */
static ssize_t
proxy_read_idle(struct client *cl)
{
	struct buf	*b;
	ssize_t		 n;

	if ((b = buf_get()) == NULL)
		return (-1);
	n = conn_read(&cl->cl_conn, b);
	if (n <= 0) {
		buf_put(b);
		return (n);
	}
	cl->cl_lean = 0;
	if (cl->cl_req == NULL &&
	    (cl->cl_req = calloc(1, sizeof(*cl->cl_req))) == NULL) {
		buf_put(b);
		return (-1);
	}
	cl->cl_in = b;
	return (n);
}

/*
 * Keep a copy of part of the head for the log and the redirect: the head
 * itself is overwritten by the body.  Truncated to fit; no printf, since
 * this runs for every request.
 */
static void
proxy_keep(char *dst, size_t dstsize, const char *prefix, const char *src,
    size_t len)
{
	size_t	 plen = strlen(prefix);

	if (plen + len >= dstsize)
		len = dstsize - plen - 1;
	memcpy(dst, prefix, plen);
	memcpy(dst + plen, src, len);
	dst[plen + len] = '\0';
}

/* The method and path of the request at the front of cl_in, for the log. */
static void
proxy_keep_request(struct client *cl)
{
	struct http1_request	*req = cl->cl_req;
	const char		*head = cl->cl_in->b_data + cl->cl_in->b_off;

	proxy_keep(cl->cl_method, sizeof(cl->cl_method), "",
	    head + req->method_off, req->method_len);
	proxy_keep(cl->cl_path, sizeof(cl->cl_path),
	    req->path_len == 0 || head[req->path_off] == '?' ? "/" : "",
	    head + req->path_off, req->path_len);
}

/* A request that never got to be one: logged as what it had, or "-". */
static void
proxy_keep_partial(struct client *cl)
{
	if (cl->cl_req != NULL && cl->cl_in != NULL &&
	    http1_request_started(cl->cl_req)) {
		proxy_keep_request(cl);
		return;
	}
	(void)strlcpy(cl->cl_method, "-", sizeof(cl->cl_method));
	(void)strlcpy(cl->cl_path, "-", sizeof(cl->cl_path));
}

/* Read a request head, and start it once whole. */
static int
proxy_head(struct client *cl)
{
	struct worker	*wk = worker_env;
	ssize_t		 n = 0;
	int		 ret;

	if (cl->cl_in == NULL)
		n = proxy_read_idle(cl);
	else if (cl->cl_in->b_len == 0 || cl->cl_state == CL_HEAD)
		n = conn_read(&cl->cl_conn, cl->cl_in);
	else
		n = CONN_WANT;	/* pipelined bytes: parse them first */
	if (n == 0 || n == -1) {
		/* a client leaving between requests is normal */
		if (cl->cl_state == CL_HEAD)
			log_debug("%s: closed in a request head", cl->cl_addr);
		proxy_close(cl);
		return (0);
	}
	if (n == CONN_WANT && (cl->cl_in == NULL || cl->cl_in->b_len == 0))
		return (0);
	ret = http1_parse_request(cl->cl_in->b_data + cl->cl_in->b_off,
	    cl->cl_in->b_len, cl->cl_req);
	if (ret == HTTP1_INCOMPLETE) {
		if (cl->cl_state == CL_IDLE) {
			/* slow-loris: the whole head within the timeout */
			cl->cl_state = CL_HEAD;
			clock_gettime(CLOCK_MONOTONIC, &cl->cl_start);
			proxy_timer_set(cl, wk->wk_conf.header_timeout);
			return (1);
		}
		return (n > 0);
	}
	if (cl->cl_state == CL_IDLE)
		clock_gettime(CLOCK_MONOTONIC, &cl->cl_start);
	wk->wk_stats.requests++;
	if (ret != HTTP1_OK) {
		log_limited(LOG_LIMIT_REQUEST, "%s: %d: %s", cl->cl_addr,
		    http1_error_status(ret), http1_error_reason(ret));
		cl->cl_host[0] = '\0';
		(void)strlcpy(cl->cl_method, "-", sizeof(cl->cl_method));
		(void)strlcpy(cl->cl_path, "-", sizeof(cl->cl_path));
		proxy_reply(cl, http1_error_status(ret), 0);
		return (1);
	}
	return (proxy_start(cl));
}

/* Copy a field line as it came, "Name: value". */
static int
proxy_copy_field(struct buf *b, const char *head, const struct http1_field *f)
{
	char	*p;

	/* one reservation for the line: five fields a request add up */
	if ((p = buf_reserve(b, f->name_len + f->value_len + 4)) == NULL)
		return (-1);
	memcpy(p, head + f->name_off, f->name_len);
	p += f->name_len;
	*p++ = ':';
	*p++ = ' ';
	memcpy(p, head + f->value_off, f->value_len);
	p += f->value_len;
	*p++ = '\r';
	*p = '\n';
	return (0);
}

/*
 * The fields portero sets for the backend, after the client's own:
 * X-Forwarded-For appended to what came, the others portero's alone.
 * X-Forwarded-Host only when the client named a host.
 */
static int
proxy_forwarded(struct client *cl, struct buf *b, const char *head, int xff)
{
	struct http1_request	*req = cl->cl_req;
	const struct http1_field *f;
	size_t			 alen = strlen(cl->cl_addr);
	int			 i;

	if (APPEND_LIT(b, "X-Forwarded-For: ") == -1)
		return (-1);
	for (i = 0; xff && i < req->nfields; i++) {
		f = &req->fields[i];
		if (f->id == HTTP1_H_X_FORWARDED_FOR && (buf_append(b,
		    head + f->value_off, f->value_len) == -1 ||
		    APPEND_LIT(b, ", ") == -1))
			return (-1);
	}
	/* appends, not printf: this runs for every request */
	if (buf_append(b, cl->cl_addr, alen) == -1 ||
	    APPEND_LIT(b, "\r\nX-Real-IP: ") == -1 ||
	    buf_append(b, cl->cl_addr, alen) == -1)
		return (-1);
	if (cl->cl_conn.c_tls != NULL) {
		if (APPEND_LIT(b, "\r\nX-Forwarded-Proto: https\r\n") == -1)
			return (-1);
	} else if (APPEND_LIT(b, "\r\nX-Forwarded-Proto: http\r\n") == -1)
		return (-1);
	if (req->host_len > 0 && (APPEND_LIT(b, "X-Forwarded-Host: ") == -1 ||
	    buf_append(b, head + req->host_off, req->host_len) == -1 ||
	    APPEND_LIT(b, "\r\n") == -1))
		return (-1);
	return (0);
}

/*
 * The request head for the upstream: origin-form, HTTP/1.1, hop-by-hop
 * fields gone, Transfer-Encoding normalised, always a Host (the routed
 * service's name when the client sent none), the client's forwarding
 * fields replaced by portero's.
 */
static int
proxy_build_uphead(struct client *cl, const char *head)
{
	struct http1_request	*req = cl->cl_req;
	struct buf		*b = cl->cl_uphead;
	const struct http1_field *f;
	const char		*path = head + req->path_off;
	size_t			 pathlen = req->path_len;
	int			 i, xff = 0, host = 0;

	if (buf_append(b, head + req->method_off, req->method_len) == -1 ||
	    APPEND_LIT(b, " ") == -1)
		return (-1);
	if (req->target_form == HTTP1_T_ASTERISK) {
		path = "*";
		pathlen = 1;
	} else if ((pathlen == 0 || *path == '?') &&
	    APPEND_LIT(b, "/") == -1)
		return (-1);
	if (buf_append(b, path, pathlen) == -1 ||
	    APPEND_LIT(b, " HTTP/1.1\r\n") == -1)
		return (-1);
	for (i = 0; i < req->nfields; i++) {
		f = &req->fields[i];
		if (f->flags & HTTP1_F_HOP)
			continue;
		switch (f->id) {
		case HTTP1_H_X_FORWARDED_FOR:
			xff = 1;
			/* FALLTHROUGH */
		case HTTP1_H_X_FORWARDED_HOST:
		case HTTP1_H_X_FORWARDED_PROTO:
		case HTTP1_H_X_REAL_IP:
		case HTTP1_H_FORWARDED:
		case HTTP1_H_EXPECT:
			continue;
		case HTTP1_H_HOST:
			host = 1;
			break;
		}
		if (proxy_copy_field(b, head, f) == -1)
			return (-1);
	}
	if (!host && req->host_len > 0 && (APPEND_LIT(b, "Host: ") == -1 ||
	    buf_append(b, head + req->host_off, req->host_len) == -1 ||
	    APPEND_LIT(b, "\r\n") == -1))
		return (-1);
	if (!host && req->host_len == 0 && (APPEND_LIT(b, "Host: ") == -1 ||
	    buf_append(b, cl->cl_sv->sv_name, strlen(cl->cl_sv->sv_name)) ==
	    -1 || APPEND_LIT(b, "\r\n") == -1))
		return (-1);
	if (req->framing == HTTP1_BODY_CHUNKED &&
	    APPEND_LIT(b, "Transfer-Encoding: chunked\r\n") == -1)
		return (-1);
	if (proxy_forwarded(cl, b, head, xff) == -1)
		return (-1);
	return (APPEND_LIT(b, "\r\n"));
}

/* The backend the request goes to, held while it is in flight. */
static void
proxy_set_backend(struct client *cl, struct backend *be)
{
	if (be != NULL)
		backend_ref(be);
	backend_unref(cl->cl_be);
	cl->cl_be = be;
}

/* What routing held for the request: let go once it is answered. */
static void
proxy_route_release(struct client *cl)
{
	proxy_set_backend(cl, NULL);
	service_unref(cl->cl_sv);
	cl->cl_sv = NULL;
	cl->cl_upname = NULL;
}

/*
 * Open an upstream for the request: on be, else on the next backends in
 * the rotation, skipping those that refuse at once.  Returns 0, -1 when
 * none could be reached, or -2 when the worker itself is out of
 * descriptors or memory: that is no backend's fault.
 */
static int
proxy_connect(struct client *cl, struct backend *be)
{
	unsigned int	 tries;

	for (tries = 0; be != NULL && tries < cl->cl_sv->sv_nbackends;
	    tries++) {
		if ((cl->cl_up = upstream_get(be, cl->cl_upname, cl, 0)) !=
		    NULL) {
			proxy_set_backend(cl, be);
			be->be_requests++;
			return (0);
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			return (-2);
		backend_failed(be);
		be = backend_pick(cl->cl_sv);
	}
	return (-1);
}

/* Whether host is an IP literal, which RFC 6066 keeps out of SNI. */
static int
proxy_ip_literal(const char *host)
{
	struct in_addr	 in;

	return (host[0] == '[' || inet_pton(AF_INET, host, &in) == 1);
}

/* Route a whole request head: its service, or a reply of our own. */
static struct service *
proxy_route(struct client *cl, int nobody)
{
	struct worker	*wk = worker_env;
	struct service	*sv = NULL;
	size_t		 hlen = strlen(cl->cl_host);

	if (cl->cl_kind == LISTENER_HTTP && !wk->wk_conf.http_proxy) {
		proxy_reply(cl, 301, nobody);
		return (NULL);
	}
	if (cl->cl_tlsctx != NULL && (hlen == 0 ||
	    !tlsctx_host_ok(cl->cl_tlsctx, cl->cl_conn.c_tls, cl->cl_host,
	    hlen))) {
		proxy_reply(cl, 421, nobody);
		return (NULL);
	}
	/*
	 * The upstream's TLS name (SNI, and the name its certificate is
	 * checked against) is the host that routed the request, else the
	 * service's own name: never empty, never an IP literal the client
	 * sent.
	 */
	if (wk->wk_routes != NULL)
		sv = route_lookup(wk->wk_routes, cl->cl_host, hlen);
	if (sv != NULL && !proxy_ip_literal(cl->cl_host))
		cl->cl_upname = cl->cl_host;
	else if (sv == NULL && wk->wk_routes != NULL &&
	    wk->wk_conf.default_service[0] != '\0')
		sv = route_lookup(wk->wk_routes, wk->wk_conf.default_service,
		    strlen(wk->wk_conf.default_service));
	if (sv == NULL) {
		proxy_reply(cl, 404, nobody);
		return (NULL);
	}
	if (cl->cl_upname == NULL)
		cl->cl_upname = sv->sv_name;
	service_ref(sv);
	cl->cl_sv = sv;
	proxy_set_backend(cl, backend_pick(sv));
	if (cl->cl_be == NULL) {
		proxy_reply(cl, 503, nobody);
		return (NULL);
	}
	return (sv);
}

/* A whole request head has come: route it and open its upstream. */
static int
proxy_start(struct client *cl)
{
	struct worker		*wk = worker_env;
	struct http1_request	*req = cl->cl_req;
	const char		*head = cl->cl_in->b_data + cl->cl_in->b_off;
	const char		*hs = head + req->host_off;
	size_t			 i, hlen = req->hostname_len;
	int			 nobody, ret;

	/* the parser refuses a longer name: it is never cut here */
	if (hlen >= sizeof(cl->cl_host)) {
		proxy_reply(cl, 400, 0);
		return (1);
	}
	for (i = 0; i < hlen; i++)
		cl->cl_host[i] = tolower((unsigned char)hs[i]);
	cl->cl_host[i] = '\0';
	proxy_keep_request(cl);
	cl->cl_keepalive = (req->flags & HTTP1_KEEP_ALIVE) &&
	    !wk->wk_stopping;
	proxy_route_release(cl);
	nobody = req->framing == HTTP1_BODY_NONE;

	if (req->framing == HTTP1_BODY_LENGTH && wk->wk_conf.max_body_size &&
	    req->content_length > wk->wk_conf.max_body_size) {
		log_limited(LOG_LIMIT_REQUEST, "%s: 413: Content-Length %llu "
		    "over --max-body-size", cl->cl_addr,
		    (unsigned long long)req->content_length);
		proxy_reply(cl, 413, 0);
		return (1);
	}
	if (proxy_route(cl, nobody) == NULL)
		return (1);
	if ((cl->cl_uphead = buf_get()) == NULL ||
	    proxy_build_uphead(cl, head) == -1) {
		proxy_reply(cl, 431, 0);
		return (1);
	}
	cl->cl_continue = (req->flags & HTTP1_EXPECT_CONTINUE) != 0;
	memset(&cl->cl_reqbody, 0, sizeof(cl->cl_reqbody));
	cl->cl_reqbody.bd_framing = req->framing;
	cl->cl_reqbody.bd_left = req->content_length;
	cl->cl_reqbody.bd_done = nobody || (req->framing ==
	    HTTP1_BODY_LENGTH && req->content_length == 0);
	http1_chunked_init(&cl->cl_reqbody.bd_chunked);
	buf_consume(cl->cl_in, req->head_len);
	cl->cl_state = CL_PROXY;
	cl->cl_body_read = cl->cl_body_mark = 0;
	if (!cl->cl_reqbody.bd_done)
		timer_set(&cl->cl_ev_body, wk->wk_conf.body_timeout);
	if ((ret = proxy_connect(cl, cl->cl_be)) < 0) {
		if (ret == -2)
			proxy_abort(cl, 503, "out of descriptors or memory "
			    "for an upstream connection");
		else
			proxy_reply(cl, 502, 0);
		return (1);
	}
	proxy_timer_set(cl, wk->wk_conf.connect_timeout);
	return (1);
}

/*
 * Check body bytes at the front of b: what may be sent on goes into
 * bd_ready.  A body that goes out without its chunked framing (to an
 * HTTP/1.0 client) is decoded in place, the framing squeezed out.
 * Returns -1 on a malformed chunked body.
 */
static int
proxy_body_check(struct body *bd, struct buf *b)
{
	size_t	 avail, take, made;
	char	*p;
	int	 ret;

	if (bd->bd_done || b == NULL || b->b_len <= bd->bd_ready)
		return (0);
	avail = b->b_len - bd->bd_ready;
	p = b->b_data + b->b_off + bd->bd_ready;
	switch (bd->bd_framing) {
	case HTTP1_BODY_LENGTH:
		take = avail < bd->bd_left ? avail : bd->bd_left;
		bd->bd_left -= take;
		bd->bd_ready += take;
		bd->bd_done = bd->bd_left == 0;
		return (0);
	case HTTP1_BODY_CHUNKED:
		if (bd->bd_decode) {
			ret = http1_chunked_decode(&bd->bd_chunked, p, avail,
			    &take, &made);
			memmove(p + made, p + take, avail - take);
			b->b_len -= take - made;
			take = made;
		} else
			ret = http1_chunked_feed(&bd->bd_chunked, p, avail,
			    &take);
		if (ret < 0)
			return (-1);
		bd->bd_ready += take;
		bd->bd_done = ret == HTTP1_OK;
		return (0);
	case HTTP1_BODY_UNTIL_CLOSE:
		bd->bd_ready += avail;
		return (0);
	}
	bd->bd_done = 1;
	return (0);
}

/* Send checked bytes from the front of b; 1 if some went. */
static int
proxy_body_send(struct body *bd, struct buf *b, struct conn *to,
    uint64_t *count)
{
	ssize_t	 n;

	if (bd->bd_ready == 0)
		return (0);
	n = conn_write(to, b->b_data + b->b_off, bd->bd_ready);
	if (n == CONN_WANT)
		return (0);
	if (n == -1)
		return (-1);
	buf_consume(b, n);
	bd->bd_ready -= n;
	*count += n;
	return (1);
}

/*
 * The exchange ends for a reason that is not the backend's: the client's
 * request (a bad or oversized body, one too slow) or the worker's own
 * lack of descriptors.  Nothing is retried and the backend's health is
 * not touched.  Before any byte of the response the client gets status;
 * after, the connection ends.
 */
static void
proxy_abort(struct client *cl, int status, const char *why)
{
	log_limited(LOG_LIMIT_CLIENT, "%s: %d: %s", cl->cl_addr, status, why);
	if (cl->cl_up != NULL) {
		upstream_release(cl->cl_up, 0);
		cl->cl_up = NULL;
	}
	if (cl->cl_resp_head) {
		proxy_close(cl);
		return;
	}
	cl->cl_keepalive = 0;
	proxy_reply(cl, status, 0);
}

/*
 * Something went wrong with the upstream.  Before any byte of the
 * response, and while nothing of the body has gone, a reused connection
 * (it may have gone stale in the pool) is retried once on a fresh one.
 */
static void
proxy_upstream_failed(struct client *cl, int status, const char *why)
{
	struct upstream	*up = cl->cl_up;
	int		 refused, retry, ret = -1;

	/* a new connection that never got through: try the next backend */
	refused = !up->up_reused && up->up_state == UP_CONNECTING;
	retry = up->up_reused && !cl->cl_retried && cl->cl_body_sent == 0 &&
	    !cl->cl_resp_head && (up->up_in == NULL || up->up_in->b_len == 0);
	if (refused)
		backend_failed(cl->cl_be);
	else
		cl->cl_be->be_failures++;
	upstream_release(up, 0);
	cl->cl_up = NULL;
	cl->cl_uphead_sent = 0;
	if (refused)
		ret = proxy_connect(cl, backend_pick(cl->cl_sv));
	else if (retry && (cl->cl_up = upstream_get(cl->cl_be,
	    cl->cl_upname, cl, 1)) != NULL)
		ret = 0;
	if (ret == 0) {
		cl->cl_retried = 1;
		proxy_timer_set(cl, worker_env->wk_conf.connect_timeout);
		return;
	}
	if (ret == -2) {
		proxy_abort(cl, 503, "out of descriptors or memory for an "
		    "upstream connection");
		return;
	}
	log_limited(LOG_LIMIT_UPSTREAM, "%s: %s %s: %s", cl->cl_addr,
	    cl->cl_host, cl->cl_be->be_conf.be_host, why);
	if (cl->cl_resp_head) {
		proxy_close(cl);
		return;
	}
	cl->cl_keepalive = 0;
	proxy_reply(cl, status, 0);
}

/*
 * The client gets the response head without hop-by-hop fields, with a
 * Date if the backend gave none.  An HTTP/1.0 client gets a chunked body
 * decoded, until the connection closes: it cannot read chunked.
 */
static int
proxy_build_resphead(struct client *cl, const char *head)
{
	struct http1_response	*resp = cl->cl_resp;
	struct buf		*b = cl->cl_out;
	char			 code[4];
	int			 i, final = !(resp->flags & HTTP1_INTERIM);

	code[0] = '0' + resp->status / 100;
	code[1] = '0' + resp->status / 10 % 10;
	code[2] = '0' + resp->status % 10;
	code[3] = ' ';
	if (APPEND_LIT(b, "HTTP/1.1 ") == -1 ||
	    buf_append(b, code, 4) == -1 ||
	    buf_append(b, head + resp->reason_off, resp->reason_len) == -1 ||
	    APPEND_LIT(b, "\r\n") == -1)
		return (-1);
	for (i = 0; i < resp->nfields; i++)
		if ((resp->fields[i].flags & HTTP1_F_HOP) == 0 &&
		    proxy_copy_field(b, head, &resp->fields[i]) == -1)
			return (-1);
	if (!final)
		return (APPEND_LIT(b, "\r\n"));
	if (!(resp->flags & HTTP1_HAS_DATE) &&
	    buf_append(b, reply_date(), REPLY_DATE_LEN) == -1)
		return (-1);
	if ((resp->flags & HTTP1_CHUNKED) && cl->cl_req->version != 10 &&
	    APPEND_LIT(b, "Transfer-Encoding: chunked\r\n") == -1)
		return (-1);
	if (!cl->cl_keepalive && APPEND_LIT(b, "Connection: close\r\n") == -1)
		return (-1);
	if (cl->cl_keepalive && cl->cl_req->version == 10 &&
	    APPEND_LIT(b, "Connection: keep-alive\r\n") == -1)
		return (-1);
	return (APPEND_LIT(b, "\r\n"));
}

/* A final response head: what its body will be on the way out. */
static void
proxy_response_final(struct client *cl, struct http1_response *resp)
{
	if (resp->framing == HTTP1_BODY_UNTIL_CLOSE ||
	    (resp->framing == HTTP1_BODY_CHUNKED && cl->cl_req->version == 10))
		cl->cl_keepalive = 0;
	cl->cl_status = resp->status;
	cl->cl_resp_head = 1;
	memset(&cl->cl_respbody, 0, sizeof(cl->cl_respbody));
	cl->cl_respbody.bd_framing = resp->framing;
	cl->cl_respbody.bd_left = resp->content_length;
	cl->cl_respbody.bd_done = resp->framing == HTTP1_BODY_NONE ||
	    (resp->framing == HTTP1_BODY_LENGTH && resp->content_length == 0);
	cl->cl_respbody.bd_decode = resp->framing == HTTP1_BODY_CHUNKED &&
	    cl->cl_req->version == 10;
	http1_chunked_init(&cl->cl_respbody.bd_chunked);
}

/*
 * Parse the upstream's response head; 1 on progress, 2 when the
 * upstream is gone.  An interim (1xx) response goes to an HTTP/1.1
 * client only: HTTP/1.0 has none (RFC 9110 15.2).
 */
static int
proxy_response_head(struct client *cl)
{
	struct upstream		*up = cl->cl_up;
	struct http1_response	*resp;
	const char		*head;
	int			 ret;

	if (cl->cl_resp == NULL &&
	    (cl->cl_resp = calloc(1, sizeof(*cl->cl_resp))) == NULL) {
		proxy_abort(cl, 502, "out of memory");
		return (2);
	}
	resp = cl->cl_resp;
	head = up->up_in->b_data + up->up_in->b_off;
	ret = http1_parse_response(head, up->up_in->b_len,
	    cl->cl_req->method == HTTP1_M_HEAD, resp);
	if (ret == HTTP1_INCOMPLETE)
		return (0);
	if (ret != HTTP1_OK || resp->status == 101) {
		cl->cl_retried = 1;
		proxy_upstream_failed(cl, 502, ret != HTTP1_OK ?
		    http1_error_reason(ret) : "refused upgrade");
		return (2);
	}
	if ((resp->flags & HTTP1_INTERIM) == 0)
		proxy_response_final(cl, resp);
	else if (cl->cl_req->version == 10) {
		buf_consume(up->up_in, resp->head_len);
		return (1);
	}
	if (cl->cl_out == NULL && (cl->cl_out = buf_get()) == NULL) {
		proxy_close(cl);
		return (2);
	}
	if (proxy_build_resphead(cl, head) == -1) {
		cl->cl_retried = 1;
		proxy_upstream_failed(cl, 502, "response head too large");
		return (2);
	}
	buf_consume(up->up_in, resp->head_len);
	return (1);
}

/*
 * The request body from the client to the upstream.  Bytes already in
 * cl_in are checked before more is read, so a client that sent its whole
 * request and half-closed in one go is not taken for one that left
 * halfway: end of file after a complete request is no abort.
 */
static int
proxy_request_body(struct client *cl)
{
	struct worker	*wk = worker_env;
	struct body	*bd = &cl->cl_reqbody;
	ssize_t		 n;
	int		 progress = 0, ret;

	for (;;) {
		if (proxy_body_check(bd, cl->cl_in) == -1) {
			proxy_abort(cl, 400, "malformed chunked request body");
			return (1);
		}
		if (bd->bd_framing == HTTP1_BODY_CHUNKED &&
		    wk->wk_conf.max_body_size &&
		    bd->bd_chunked.ck_total > wk->wk_conf.max_body_size) {
			proxy_abort(cl, 413, "chunked body over "
			    "--max-body-size");
			return (1);
		}
		ret = proxy_body_send(bd, cl->cl_in, &cl->cl_up->up_conn,
		    &cl->cl_body_sent);
		if (ret == -1) {
			proxy_upstream_failed(cl, 502, "write failed");
			return (1);
		}
		progress |= ret;
		if (bd->bd_done || cl->cl_rdeof ||
		    cl->cl_in->b_len >= BUF_SIZE)
			break;
		n = conn_read(&cl->cl_conn, cl->cl_in);
		if (n == CONN_WANT)
			break;
		if (n == 0 || n == -1) {
			cl->cl_rdeof = 1;
			continue;	/* what came before it still counts */
		}
		cl->cl_body_read += n;
		progress = 1;
	}
	if (cl->cl_rdeof && !bd->bd_done && bd->bd_ready == 0) {
		log_limited(LOG_LIMIT_CLIENT, "%s: client left during its "
		    "request body", cl->cl_addr);
		proxy_close(cl);
		return (0);
	}
	if (bd->bd_done && bd->bd_ready == 0)
		timer_stop(&cl->cl_ev_body);
	return (progress);
}

/*
 * Both directions of a request in flight; 1 on progress.  Each call:
 *
 *	connect (and TLS) -> [100 Continue to the client]
 *	request head -> request body (proxy_request_body)
 *	response: read -> head (1xx ones forwarded, then the final one)
 *	    -> body checked; proxy_flush() writes it to the client
 *
 * Any step may wait for its socket; the pump calls again on news.
 */
static int
proxy_exchange(struct client *cl)
{
	struct worker	*wk = worker_env;
	struct upstream	*up = cl->cl_up;
	int		 progress = 0, ret;
	ssize_t		 n;

	if (up->up_state != UP_READY) {
		if ((ret = upstream_ready(up)) == 0)
			return (0);
		if (ret == -1) {
			proxy_upstream_failed(cl, 502, up->up_state ==
			    UP_HANDSHAKE ? "TLS handshake failed" :
			    strerror(errno));
			return (1);
		}
		backend_ok(cl->cl_be);
		proxy_timer_set(cl, wk->wk_conf.upstream_timeout);
		progress = 1;
	}
	if (cl->cl_continue) {
		if (cl->cl_out == NULL && (cl->cl_out = buf_get()) == NULL) {
			proxy_close(cl);
			return (0);
		}
		if (APPEND_LIT(cl->cl_out,
		    "HTTP/1.1 100 Continue\r\n\r\n") == -1) {
			proxy_close(cl);
			return (0);
		}
		cl->cl_continue = 0;
	}

	/* the request, head then body */
	if (cl->cl_uphead_sent < cl->cl_uphead->b_len) {
		n = conn_write(&up->up_conn, cl->cl_uphead->b_data +
		    cl->cl_uphead_sent, cl->cl_uphead->b_len -
		    cl->cl_uphead_sent);
		if (n == -1) {
			proxy_upstream_failed(cl, 502, "write failed");
			return (1);
		}
		if (n > 0) {
			cl->cl_uphead_sent += n;
			progress = 1;
		}
	}
	if (cl->cl_uphead_sent == cl->cl_uphead->b_len) {
		ret = proxy_request_body(cl);
		if (cl->cl_dead || cl->cl_up != up)
			return (ret);
		progress |= ret;
	}

	/* the response */
	if (up->up_in == NULL && (up->up_in = buf_get()) == NULL) {
		proxy_close(cl);
		return (0);
	}
	if (!cl->cl_respbody.bd_done || !cl->cl_resp_head) {
		n = conn_read(&up->up_conn, up->up_in);
		if (n == -1 || (n == 0 && !(cl->cl_resp_head &&
		    cl->cl_respbody.bd_framing == HTTP1_BODY_UNTIL_CLOSE))) {
			proxy_upstream_failed(cl, 502, n == 0 ?
			    "upstream closed" : "upstream read failed");
			return (1);
		}
		if (n == 0)
			cl->cl_respbody.bd_done = 1;
		if (n > 0)
			progress = 1;
	}
	while (!cl->cl_resp_head && up->up_in->b_len > 0) {
		if ((ret = proxy_response_head(cl)) == 0)
			break;
		if (ret == 2)
			return (1);	/* up is gone */
		progress = 1;
	}
	if (cl->cl_resp_head &&
	    proxy_body_check(&cl->cl_respbody, up->up_in) == -1) {
		log_limited(LOG_LIMIT_UPSTREAM, "%s: %s: malformed chunked "
		    "response body", cl->cl_addr, cl->cl_be->be_conf.be_host);
		proxy_close(cl);
		return (0);
	}
	return (progress);
}

/* Everything owed to the client: heads and replies, then body bytes. */
static int
proxy_flush(struct client *cl)
{
	struct body	*bd = &cl->cl_respbody;
	struct buf	*in;
	size_t		 room, take;
	ssize_t		 n = 0;
	int		 ret;

	/*
	 * Body bytes that fit go out with the head in one write: one TLS
	 * record instead of two, which costs more than the copy.
	 */
	if (cl->cl_out != NULL && cl->cl_out->b_len > 0 && cl->cl_resp_head &&
	    cl->cl_up != NULL && bd->bd_ready > 0) {
		in = cl->cl_up->up_in;
		buf_compact(cl->cl_out);
		room = BUF_SIZE - cl->cl_out->b_len;
		take = bd->bd_ready < room ? bd->bd_ready : room;
		memcpy(cl->cl_out->b_data + cl->cl_out->b_len,
		    in->b_data + in->b_off, take);
		cl->cl_out->b_len += take;
		buf_consume(in, take);
		bd->bd_ready -= take;
		cl->cl_bytes += take;
	}
	if (cl->cl_out != NULL && cl->cl_out->b_len > 0) {
		n = conn_write(&cl->cl_conn, cl->cl_out->b_data +
		    cl->cl_out->b_off, cl->cl_out->b_len);
		if (n == -1) {
			proxy_close(cl);
			return (0);
		}
		if (n == CONN_WANT || n == 0)
			return (0);
		buf_consume(cl->cl_out, n);
		if (cl->cl_out->b_len > 0)
			return (1);
	}
	if (cl->cl_state != CL_PROXY || cl->cl_up == NULL || !cl->cl_resp_head)
		return (n > 0);
	ret = proxy_body_send(&cl->cl_respbody, cl->cl_up->up_in,
	    &cl->cl_conn, &cl->cl_bytes);
	if (ret == -1) {
		proxy_close(cl);
		return (0);
	}
	return (ret);
}

/* Release what only a request in flight needs. */
static void
proxy_request_done(struct client *cl)
{
	timer_stop(&cl->cl_ev_body);
	buf_put(cl->cl_uphead);
	cl->cl_uphead = NULL;
	cl->cl_uphead_sent = 0;
	cl->cl_resp_head = 0;
	cl->cl_retried = 0;
	cl->cl_continue = 0;
	cl->cl_body_sent = 0;
	cl->cl_bytes = 0;
	cl->cl_status = 0;
	proxy_route_release(cl);
}

/* The response is through: pool the upstream, ready the next request. */
static int
proxy_finish(struct client *cl)
{
	struct worker	*wk = worker_env;
	struct upstream	*up = cl->cl_up;
	int		 reuse;

	if (!cl->cl_resp_head || !cl->cl_respbody.bd_done ||
	    cl->cl_respbody.bd_ready > 0 ||
	    (cl->cl_out != NULL && cl->cl_out->b_len > 0))
		return (0);
	reuse = cl->cl_reqbody.bd_done && cl->cl_reqbody.bd_ready == 0 &&
	    (cl->cl_resp->flags & HTTP1_KEEP_ALIVE) &&
	    up->up_in->b_len == 0;
	if (!cl->cl_reqbody.bd_done || cl->cl_reqbody.bd_ready > 0)
		cl->cl_keepalive = 0;	/* answered before it was all sent */
	reply_log(cl);
	upstream_release(up, reuse);
	cl->cl_up = NULL;
	proxy_request_done(cl);
	if (!cl->cl_keepalive || cl->cl_rdeof || wk->wk_stopping) {
		proxy_close(cl);
		return (0);
	}
	cl->cl_state = CL_IDLE;
	if (cl->cl_in->b_len == 0) {
		/* an idle connection holds no buffers */
		buf_put(cl->cl_in);
		cl->cl_in = NULL;
		buf_put(cl->cl_out);
		cl->cl_out = NULL;
	}
	proxy_timer_set(cl, wk->wk_conf.idle_timeout);
	return (1);
}

/*
 * A reply of portero's own: an error, or the redirect of the cleartext
 * listener.  keep: the connection may serve another request after it.
 * A connection that closes after it still has --send-timeout to take
 * the reply: a client that reads nothing does not hold it forever.
 */
static void
proxy_reply(struct client *cl, int status, int keep)
{
	struct worker		*wk = worker_env;
	struct http1_request	*req = cl->cl_req;
	unsigned int		 retry = 0;
	int			 head;

	if (cl->cl_up != NULL) {
		upstream_release(cl->cl_up, 0);
		cl->cl_up = NULL;
	}
	buf_put(cl->cl_uphead);
	cl->cl_uphead = NULL;
	if (cl->cl_out == NULL && (cl->cl_out = buf_get()) == NULL) {
		proxy_close(cl);
		return;
	}
	head = req != NULL && req->method == HTTP1_M_HEAD &&
	    http1_request_started(req);
	if (status == 503)
		retry = cl->cl_sv != NULL && cl->cl_be == NULL ?
		    backend_retry_after(cl->cl_sv) : 1;
	cl->cl_status = status;
	cl->cl_keepalive = keep && cl->cl_keepalive;
	if (reply_build(cl->cl_out, status, head, !cl->cl_keepalive, retry,
	    cl->cl_host, cl->cl_path) == -1) {
		proxy_close(cl);
		return;
	}
	cl->cl_bytes = reply_body_len(status, head);
	/* a head never started is not consumed; the connection closes */
	if (cl->cl_state != CL_PROXY && cl->cl_keepalive)
		buf_consume(cl->cl_in, req->head_len);
	reply_log(cl);
	if (cl->cl_state == CL_PROXY)
		proxy_request_done(cl);
	proxy_route_release(cl);
	if (cl->cl_keepalive) {
		cl->cl_state = CL_IDLE;
		proxy_timer_set(cl, wk->wk_conf.idle_timeout);
	} else {
		cl->cl_state = CL_CLOSING;
		proxy_timer_set(cl, wk->wk_conf.send_timeout);
	}
}

static void
proxy_pump(struct client *cl)
{
	int	 progress, moved = 0;

	do {
		progress = 0;
		if (cl->cl_dead)
			break;
		switch (cl->cl_state) {
		case CL_HANDSHAKE:
			progress = proxy_handshake(cl);
			break;
		case CL_IDLE:
		case CL_HEAD:
			progress = proxy_head(cl);
			break;
		case CL_PROXY:
			progress = proxy_exchange(cl);
			break;
		case CL_CLOSING:
			break;
		}
		if (cl->cl_dead)
			break;
		progress |= proxy_flush(cl);
		if (cl->cl_dead)
			break;
		if (cl->cl_state == CL_PROXY && cl->cl_up != NULL)
			progress |= proxy_finish(cl);
		if (cl->cl_state == CL_CLOSING &&
		    (cl->cl_out == NULL || cl->cl_out->b_len == 0))
			proxy_close(cl);
		moved |= progress;
	} while (progress && !cl->cl_dead);

	/* while bytes move either way, nobody is stalled */
	if (moved && !cl->cl_dead && cl->cl_state == CL_PROXY &&
	    cl->cl_up != NULL && cl->cl_up->up_state == UP_READY)
		proxy_timer_set(cl, worker_env->wk_conf.upstream_timeout);
	if (cl->cl_dead) {
		TAILQ_REMOVE(&worker_env->wk_clients, cl, cl_entry);
		free(cl);
		worker_client_gone();
	}
}

static void
proxy_timer(int fd, short event, void *arg)
{
	struct client	*cl = arg;

	switch (cl->cl_state) {
	case CL_HEAD:
		log_limited(LOG_LIMIT_CLIENT, "%s: 408: request head not "
		    "complete in time", cl->cl_addr);
		proxy_keep_partial(cl);
		cl->cl_host[0] = '\0';
		proxy_reply(cl, 408, 0);
		break;
	case CL_PROXY:
		if (cl->cl_up != NULL && cl->cl_up->up_state != UP_READY) {
			cl->cl_retried = 1;
			proxy_upstream_failed(cl, 502, "connect timeout");
		} else if (!cl->cl_resp_head) {
			cl->cl_retried = 1;
			proxy_upstream_failed(cl, 504, "response timeout");
		} else {
			log_limited(LOG_LIMIT_UPSTREAM, "%s: %s: upstream "
			    "stalled", cl->cl_addr, cl->cl_host);
			proxy_close(cl);
		}
		break;
	default:
		proxy_close(cl);
		break;
	}
	proxy_pump(cl);
}

/*
 * Every --body-timeout seconds of a request body: did the client send at
 * least BODY_MIN_RATE bytes a second of it?  A client held back by a
 * full buffer (the backend not reading) is not the slow one.
 */
static void
proxy_body_timer(int fd, short event, void *arg)
{
	struct client	*cl = arg;
	uint64_t	 want;

	if (cl->cl_state != CL_PROXY || cl->cl_reqbody.bd_done)
		return;
	want = (uint64_t)worker_env->wk_conf.body_timeout * BODY_MIN_RATE;
	if (cl->cl_body_read - cl->cl_body_mark >= want ||
	    cl->cl_in->b_len >= BUF_SIZE / 2) {
		cl->cl_body_mark = cl->cl_body_read;
		timer_set(&cl->cl_ev_body, worker_env->wk_conf.body_timeout);
		return;
	}
	proxy_abort(cl, 408, "request body too slow");
	proxy_pump(cl);
}

/* Close now; the memory goes when the pump unwinds. */
static void
proxy_close(struct client *cl)
{
	if (cl->cl_dead)
		return;
	cl->cl_dead = 1;
	timer_del(&cl->cl_ev_timer);
	timer_del(&cl->cl_ev_body);
	if (cl->cl_up != NULL) {
		upstream_release(cl->cl_up, 0);
		cl->cl_up = NULL;
	}
	if (cl->cl_state == CL_PROXY)
		proxy_request_done(cl);
	proxy_route_release(cl);
	conn_close(&cl->cl_conn);
	if (cl->cl_tlsctx != NULL)
		tlsctx_unref(cl->cl_tlsctx);
	buf_put(cl->cl_in);
	buf_put(cl->cl_out);
	buf_put(cl->cl_uphead);
	free(cl->cl_req);
	free(cl->cl_resp);
	worker_env->wk_stats.connections--;
}

/* Drain: idle clients go now, the others after their response. */
void
proxy_stop(void)
{
	struct client	*cl, *next;

	TAILQ_FOREACH_SAFE(cl, &worker_env->wk_clients, cl_entry, next) {
		if (cl->cl_state != CL_IDLE && cl->cl_state != CL_HANDSHAKE)
			continue;
		proxy_close(cl);
		proxy_pump(cl);
	}
}
