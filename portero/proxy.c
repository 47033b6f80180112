/*
 * proxy.c: a client connection in a worker, from accept to close: TLS
 * handshake, HTTP/1.1 request heads, one exchange (exchange.c) at a
 * time, and the HTTP/1.1 side of its response, written in order.
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

static void	 proxy_timer(int, short, void *);
static void	 proxy_trim(unsigned int);
static void	 proxy_gone(struct client *, const char *);

static ssize_t	 h1_read_body(struct exchange *);
static int	 h1_continue(struct exchange *);
static int	 h1_resp_head(struct exchange *, const char *,
		    const struct http1_response *);
static int	 h1_resp_body(struct exchange *);
static int	 h1_reply(struct exchange *, int, int);
static void	 h1_done(struct exchange *, int);
static int	 h1_wake(struct exchange *);

/* HTTP/1.1: one exchange at a time, its response written in order. */
static const struct client_proto proto_h1 = {
	h1_read_body, h1_continue, h1_resp_head, h1_resp_body, h1_reply,
	h1_done, h1_wake
};

static void
proxy_timer_set(struct client *cl, unsigned int secs)
{
	timer_set(&cl->cl_ev_timer, secs);
}

void
proxy_accept(int fd, int kind, unsigned int listener, struct tlsctx *ctx)
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
	else
		realip_peer(cl, &ss);
	cl->cl_conn.c_fd = fd;
	cl->cl_kind = kind;
	cl->cl_listener = listener;
	cl->cl_proto = &proto_h1;
	cl->cl_state = CL_IDLE;
	timer_init(&cl->cl_ev_timer, proxy_timer, cl);
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
	/* on some listeners a PROXY protocol header comes first */
	if (realip_accept(cl) == -1) {
		proxy_close(cl);
		proxy_pump(cl);
		return;
	}
	conn_watch(&cl->cl_conn, proxy_event, cl);
	proxy_pump(cl);
}

/*
 * Once a second: a TLS connection found idle (between requests, or an
 * HTTP/2 one without streams, holding no buffer of ours) at two sweeps
 * in a row gives back its record buffers.  One between requests of a
 * busy connection would cost a free and a malloc per request; one idle
 * for a second has time to spare.
 */
void
proxy_sweep(void)
{
	struct client	*cl;
	unsigned int	 freed = 0;

	TAILQ_FOREACH(cl, &worker_env->wk_clients, cl_entry) {
		if ((cl->cl_state != CL_IDLE && (cl->cl_state != CL_H2 ||
		    !h2_idle(cl))) || cl->cl_in != NULL ||
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

/*
 * Why a handshake failed, for the metrics: a client that left (the
 * library saw the connection end), one refused where a client
 * certificate was asked for, or anything else the library refused.
 */
static void
proxy_handshake_failed(struct client *cl)
{
	const char	*err = ptls_error(cl->cl_conn.c_tls);
	uint64_t	*failed = worker_env->wk_stats.handshake_failed;

	/* a refused client certificate is the operator's business */
	if (ptls_peer_auth(cl->cl_conn.c_tls) != NULL) {
		log_limited(LOG_LIMIT_CLIENT, "%s: TLS handshake with a "
		    "client certificate asked for: %s", cl->cl_addr, err);
		failed[HS_FAIL_CLIENT_CERT]++;
		return;
	}
	log_debug("%s: TLS handshake: %s", cl->cl_addr, err);
	if (strstr(err, "connection closed") != NULL ||
	    strcasestr(err, "eof") != NULL)
		failed[HS_FAIL_CLOSED]++;
	else
		failed[HS_FAIL_PROTOCOL]++;
}

static int
proxy_handshake(struct client *cl)
{
	const char	*alpn;
	int		 ret;

	ret = ptls_handshake(cl->cl_conn.c_tls);
	if (ret == PTLS_WANT_READ || ret == PTLS_WANT_WRITE)
		return (STEP_WAIT);
	if (ret == -1) {
		proxy_handshake_failed(cl);
		proxy_close(cl);
		return (STEP_WAIT);
	}
	if (ptls_resumed(cl->cl_conn.c_tls))
		worker_env->wk_stats.resumed++;
	else
		worker_env->wk_stats.handshakes++;
	alpn = ptls_alpn(cl->cl_conn.c_tls);
	if (alpn != NULL && strcmp(alpn, "h2") == 0) {
		if (h2_start(cl) == -1) {
			log_warnx("%s: HTTP/2 session: out of memory",
			    cl->cl_addr);
			proxy_close(cl);
			return (STEP_WAIT);
		}
		return (STEP_MOVED);
	}
	/* most new connections wait a moment for their first request */
	(void)ptls_idle(cl->cl_conn.c_tls);
	cl->cl_state = CL_IDLE;
	proxy_timer_set(cl, worker_env->wk_conf.idle_timeout);
	return (STEP_MOVED);
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

/* The head at the front of cl_in. */
static const char *
proxy_head_bytes(struct client *cl)
{
	return (cl->cl_in != NULL ? cl->cl_in->b_data + cl->cl_in->b_off :
	    NULL);
}

/*
 * With --h2c, a cleartext connection may open with HTTP/2's preface
 * (prior knowledge, RFC 9113 3.3).  -1: it does not; else a step.
 */
static int
proxy_preface(struct client *cl, ssize_t n)
{
	size_t	 len = cl->cl_in->b_len;

	if (len > H2_PREFACE_LEN)
		len = H2_PREFACE_LEN;
	if (memcmp(proxy_head_bytes(cl), H2_PREFACE, len) != 0)
		return (-1);
	if (len < H2_PREFACE_LEN) {
		if (cl->cl_state == CL_IDLE) {
			cl->cl_state = CL_HEAD;
			proxy_timer_set(cl, worker_env->wk_conf.header_timeout);
		}
		return (n > 0 ? STEP_MOVED : STEP_WAIT);
	}
	if (h2_start(cl) == -1) {
		log_warnx("%s: HTTP/2 session: out of memory", cl->cl_addr);
		proxy_close(cl);
		return (STEP_WAIT);
	}
	return (STEP_MOVED);
}

/*
 * Read a request head, and start its exchange once whole.  The exchange
 * is made with the request's first bytes, so that its time and its log
 * line count from there.
 */
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
		return (STEP_WAIT);
	}
	if (n == CONN_WANT && (cl->cl_in == NULL || cl->cl_in->b_len == 0))
		return (STEP_WAIT);
	if (!cl->cl_served && cl->cl_kind == LISTENER_HTTP &&
	    wk->wk_conf.h2c && (ret = proxy_preface(cl, n)) != -1)
		return (ret);
	cl->cl_served = 1;
	if (cl->cl_xc == NULL &&
	    (cl->cl_xc = xc_new(cl, cl->cl_req, cl->cl_in)) == NULL) {
		proxy_close(cl);
		return (STEP_WAIT);
	}
	ret = http1_parse_request(proxy_head_bytes(cl), cl->cl_in->b_len,
	    cl->cl_req);
	if (ret == HTTP1_INCOMPLETE) {
		if (cl->cl_state == CL_IDLE) {
			/* slow-loris: the whole head within the timeout */
			cl->cl_state = CL_HEAD;
			proxy_timer_set(cl, wk->wk_conf.header_timeout);
			return (STEP_MOVED);
		}
		return (n > 0 ? STEP_MOVED : STEP_WAIT);
	}
	wk->wk_stats.requests++;
	if (ret != HTTP1_OK) {
		log_limited(LOG_LIMIT_REQUEST, "%s: %d: %s", cl->cl_addr,
		    http1_error_status(ret), http1_error_reason(ret));
		xc_reply(cl->cl_xc, http1_error_status(ret), 0);
		return (STEP_MOVED);
	}
	/* a reply of its own has taken the head off, or left it to close */
	if (xc_start(cl->cl_xc, proxy_head_bytes(cl)) == STEP_MOVED) {
		buf_consume(cl->cl_in, cl->cl_req->head_len);
		cl->cl_state = CL_PROXY;
		timer_stop(&cl->cl_ev_timer);	/* the exchange's own now */
	}
	return (STEP_MOVED);
}

/* More request body from the connection, into cl_in. */
static ssize_t
h1_read_body(struct exchange *xc)
{
	struct client	*cl = xc->xc_cl;
	ssize_t		 n;

	if (cl->cl_rdeof)
		return (0);
	if ((n = conn_read(&cl->cl_conn, cl->cl_in)) == 0 || n == -1)
		cl->cl_rdeof = 1;
	return (n);
}

/* The buffer heads and replies go into, got when first needed. */
static struct buf *
proxy_out(struct client *cl)
{
	if (cl->cl_out == NULL && (cl->cl_out = buf_get()) == NULL) {
		proxy_close(cl);
		return (NULL);
	}
	return (cl->cl_out);
}

static int
h1_continue(struct exchange *xc)
{
	struct buf	*b;

	if ((b = proxy_out(xc->xc_cl)) == NULL)
		return (-1);
	if (BUF_APPEND_LIT(b, "HTTP/1.1 100 Continue\r\n\r\n") == -1) {
		proxy_close(xc->xc_cl);
		return (-1);
	}
	return (STEP_MOVED);
}

/*
 * The client gets the response head without hop-by-hop fields, with a
 * Date if the backend gave none.  An HTTP/1.0 client gets a chunked body
 * decoded, until the connection closes: it cannot read chunked.
 */
static int
h1_build_resphead(struct exchange *xc, struct buf *b, const char *head,
    const struct http1_response *resp)
{
	const struct http1_field *f;
	char			 code[4], cookie[BALANCE_SETCOOKIE_MAX];
	size_t			 clen;
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
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if ((f->flags & HTTP1_F_HOP) == 0 && buf_field(b,
		    head + f->name_off, f->name_len, head + f->value_off,
		    f->value_len) == -1)
			return (-1);
	}
	if (!final)
		return (APPEND_LIT(b, "\r\n"));
	if ((clen = xc_setcookie(xc, cookie, sizeof(cookie))) > 0 &&
	    buf_field(b, "Set-Cookie", 10, cookie, clen) == -1)
		return (-1);
	if (resp->status == 101)	/* a WebSocket: xc_websocket() said */
		return (APPEND_LIT(b, "Upgrade: websocket\r\n"
		    "Connection: Upgrade\r\n\r\n"));
	if (!(resp->flags & HTTP1_HAS_DATE) &&
	    buf_append(b, reply_date(), REPLY_DATE_LEN) == -1)
		return (-1);
	if ((resp->flags & HTTP1_CHUNKED) && xc->xc_req->version != 10 &&
	    APPEND_LIT(b, "Transfer-Encoding: chunked\r\n") == -1)
		return (-1);
	if (!xc->xc_keepalive && APPEND_LIT(b, "Connection: close\r\n") == -1)
		return (-1);
	if (xc->xc_keepalive && xc->xc_req->version == 10 &&
	    APPEND_LIT(b, "Connection: keep-alive\r\n") == -1)
		return (-1);
	return (APPEND_LIT(b, "\r\n"));
}

/*
 * A response head for the connection.  An interim (1xx) one goes to an
 * HTTP/1.1 client only: HTTP/1.0 has none (RFC 9110 15.2).  A chunked
 * body to an HTTP/1.0 client is decoded, and the connection closes.
 */
static int
h1_resp_head(struct exchange *xc, const char *head,
    const struct http1_response *resp)
{
	struct client	*cl = xc->xc_cl;
	struct buf	*b;
	size_t		 len;

	if (resp->flags & HTTP1_INTERIM) {
		if (xc->xc_req->version == 10)
			return (STEP_MOVED);
	} else if (resp->framing == HTTP1_BODY_CHUNKED &&
	    xc->xc_req->version == 10) {
		xc->xc_keepalive = 0;
		xc->xc_respbody.bd_decode = 1;
	}
	if ((b = proxy_out(cl)) == NULL)
		return (-1);
	len = b->b_len;		/* compaction moves bytes, not their count */
	if (h1_build_resphead(xc, b, head, resp) == -1) {
		/* nothing of it went: the client can still get a 502 */
		b->b_len = len;
		xc->xc_resp_head = 0;
		return (STEP_GONE);
	}
	return (STEP_MOVED);
}

/*
 * Response body bytes to the connection.  Bytes that fit go out with a
 * waiting head in one write: one TLS record instead of two, which costs
 * more than the copy.
 */
static int
h1_resp_body(struct exchange *xc)
{
	struct client	*cl = xc->xc_cl;
	struct body	*bd = &xc->xc_respbody;
	struct buf	*in, *out = cl->cl_out;
	size_t		 room, take;
	int		 ret;

	if (!xc->xc_resp_head || xc->xc_up == NULL)
		return (STEP_WAIT);
	in = xc->xc_up->up_in;
	if (out != NULL && out->b_len > 0) {
		if (bd->bd_ready == 0)
			return (STEP_WAIT);
		buf_compact(out);
		room = out->b_size - out->b_len;
		take = bd->bd_ready < room ? bd->bd_ready : room;
		memcpy(out->b_data + out->b_len, in->b_data + in->b_off,
		    take);
		out->b_len += take;
		buf_consume(in, take);
		bd->bd_ready -= take;
		xc->xc_bytes += take;
		return (take > 0 ? STEP_MOVED : STEP_WAIT);
	}
	if ((ret = body_send(bd, in, &cl->cl_conn, &xc->xc_bytes)) == -1)
		proxy_gone(cl, "write");
	return (ret);
}

/*
 * Portero's own reply, into cl_out; 0 or the response cut short: the
 * connection closes.  A connection that closes after a reply still has
 * --send-timeout to take it: a client that reads nothing does not hold
 * it forever.
 */
static int
h1_reply(struct exchange *xc, int status, int keep)
{
	struct client		*cl = xc->xc_cl;
	struct http1_request	*req = xc->xc_req;
	struct buf		*b;
	int			 head;

	if (status == 0) {
		proxy_close(cl);
		return (-1);
	}
	if ((b = proxy_out(cl)) == NULL)
		return (-1);
	head = req->method == HTTP1_M_HEAD && http1_request_started(req);
	if (reply_build(b, status, head, !keep, xc_retry_after(xc, status),
	    xc_location(xc)) == -1) {
		proxy_close(cl);
		return (-1);
	}
	xc->xc_bytes = reply_body_len(status, head);
	/* a head never started is not consumed; the connection closes */
	if (cl->cl_state != CL_PROXY && keep)
		buf_consume(cl->cl_in, req->head_len);
	return (0);
}

/*
 * The exchange is over: the connection waits for the next request, or
 * closes (after portero's own reply, once that is written).
 */
static void
h1_done(struct exchange *xc, int replied)
{
	struct worker	*wk = worker_env;
	struct client	*cl = xc->xc_cl;
	int		 keep = xc->xc_keepalive;

	cl->cl_xc = NULL;
	xc_free(xc);
	if (!keep || cl->cl_rdeof || wk->wk_stopping) {
		if (replied || (cl->cl_out != NULL && cl->cl_out->b_len > 0)) {
			cl->cl_state = CL_CLOSING;
			proxy_timer_set(cl, wk->wk_conf.send_timeout);
		} else
			proxy_close(cl);
		return;
	}
	cl->cl_state = CL_IDLE;
	if (!replied && cl->cl_in->b_len == 0 &&
	    (cl->cl_out == NULL || cl->cl_out->b_len == 0)) {
		/* an idle connection holds no buffers */
		buf_put(cl->cl_in);
		cl->cl_in = NULL;
		buf_put(cl->cl_out);
		cl->cl_out = NULL;
	}
	proxy_timer_set(cl, wk->wk_conf.idle_timeout);
}

/* One exchange at a time: the pump steps it, now. */
static int
h1_wake(struct exchange *xc)
{
	return (0);
}

/* Heads and replies owed to the client. */
static int
proxy_flush(struct client *cl)
{
	ssize_t	 n;

	if (cl->cl_out == NULL || cl->cl_out->b_len == 0)
		return (STEP_WAIT);
	n = conn_write(&cl->cl_conn, cl->cl_out->b_data + cl->cl_out->b_off,
	    cl->cl_out->b_len);
	if (n == -1) {
		proxy_gone(cl, "write");
		return (STEP_WAIT);
	}
	if (n == CONN_WANT || n == 0)
		return (STEP_WAIT);
	buf_consume(cl->cl_out, n);
	return (STEP_MOVED);
}

/*
 * The connection's state machine, run on any news from its socket or
 * its exchange's upstream, until nothing moves:
 *
 *	HANDSHAKE --> IDLE <--> HEAD --> PROXY (xc_step(), xc_finish())
 *	                 ^                  |
 *	                 +------------------+ (kept alive)
 *	PROXYHDR --> HANDSHAKE, or IDLE on a plain listener (realip.c)
 *	any --> CLOSING (a last reply flushed) --> closed
 */
void
proxy_pump(struct client *cl)
{
	struct exchange	*xc;
	int		 progress, moved = 0;

	if (cl->cl_state == CL_H2) {
		if (!cl->cl_dead)
			h2_pump(cl);
		goto gone;
	}
	do {
		progress = STEP_WAIT;
		if (cl->cl_dead)
			break;
		switch (cl->cl_state) {
		case CL_PROXYHDR:
			progress = realip_header(cl);
			break;
		case CL_HANDSHAKE:
			progress = proxy_handshake(cl);
			break;
		case CL_IDLE:
		case CL_HEAD:
			progress = proxy_head(cl);
			break;
		case CL_PROXY:
			if (cl->cl_xc != NULL)
				progress = xc_step(cl->cl_xc);
			break;
		case CL_CLOSING:
		case CL_H2:
			break;
		}
		if (cl->cl_dead)
			break;
		progress |= proxy_flush(cl);
		if (cl->cl_dead)
			break;
		if (cl->cl_state == CL_PROXY && cl->cl_xc != NULL &&
		    (cl->cl_out == NULL || cl->cl_out->b_len == 0))
			progress |= xc_finish(cl->cl_xc);
		if (cl->cl_state == CL_CLOSING &&
		    (cl->cl_out == NULL || cl->cl_out->b_len == 0))
			proxy_close(cl);
		moved |= progress;
	} while (progress != STEP_WAIT && !cl->cl_dead &&
	    cl->cl_state != CL_H2);

	/* while bytes move either way, nobody is stalled */
	xc = cl->cl_xc;
	if (moved && !cl->cl_dead && cl->cl_state == CL_PROXY && xc != NULL)
		xc_moved(xc);
	/* HTTP/2 from here (ALPN or a preface): bytes may be waiting */
	if (!cl->cl_dead && cl->cl_state == CL_H2)
		h2_pump(cl);
 gone:
	if (cl->cl_dead) {
		TAILQ_REMOVE(&worker_env->wk_clients, cl, cl_entry);
		free(cl);
		worker_client_gone();
	}
}

/* The connection's own timeouts: handshake, idle, head, send. */
static void
proxy_timer(int fd, short event, void *arg)
{
	struct client	*cl = arg;

	switch (cl->cl_state) {
	case CL_PROXYHDR:
		log_limited(LOG_LIMIT_CLIENT, "%s: PROXY protocol: no whole "
		    "header within --handshake-timeout: closed", cl->cl_addr);
		proxy_close(cl);
		break;
	case CL_HEAD:
		log_limited(LOG_LIMIT_CLIENT, "%s: 408: request head not "
		    "complete in time", cl->cl_addr);
		if (cl->cl_xc != NULL) {
			xc_keep_partial(cl->cl_xc, proxy_head_bytes(cl));
			xc_reply(cl->cl_xc, 408, 0);
		} else
			proxy_close(cl);
		break;
	case CL_PROXY:
		break;		/* the exchange keeps its own time */
	case CL_H2:
		h2_timeout(cl);
		break;
	case CL_HANDSHAKE:
		worker_env->wk_stats.handshake_failed[HS_FAIL_TIMEOUT]++;
		proxy_close(cl);
		break;
	default:
		proxy_close(cl);
		break;
	}
	proxy_pump(cl);
}

/* The connection failed under us: say why at debug level, and close. */
static void
proxy_gone(struct client *cl, const char *what)
{
	log_debug("%s: %s: %s", cl->cl_addr, what, cl->cl_conn.c_tls != NULL ?
	    ptls_error(cl->cl_conn.c_tls) : strerror(errno));
	proxy_close(cl);
}

/* Close now; the memory goes when the pump unwinds. */
void
proxy_close(struct client *cl)
{
	if (cl->cl_dead)
		return;
	cl->cl_dead = 1;
	timer_del(&cl->cl_ev_timer);
	xc_free(cl->cl_xc);
	cl->cl_xc = NULL;
	h2_free(cl);
	conn_close(&cl->cl_conn);
	if (cl->cl_tlsctx != NULL)
		tlsctx_unref(cl->cl_tlsctx);
	buf_put(cl->cl_in);
	buf_put(cl->cl_out);
	free(cl->cl_req);
	worker_env->wk_stats.connections--;
	worker_env->wk_stats.client_in += cl->cl_conn.c_nread;
	worker_env->wk_stats.client_out += cl->cl_conn.c_nwritten;
}

/* Drain: connections with nothing in flight close now. */
void
proxy_stop(void)
{
	struct client	*cl, *next;

	TAILQ_FOREACH_SAFE(cl, &worker_env->wk_clients, cl_entry, next) {
		if (cl->cl_state == CL_H2) {
			h2_drain(cl);
			proxy_pump(cl);
			continue;
		}
		if (cl->cl_state != CL_IDLE && cl->cl_state != CL_HANDSHAKE &&
		    cl->cl_state != CL_PROXYHDR)
			continue;
		proxy_close(cl);
		proxy_pump(cl);
	}
}
