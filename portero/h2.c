/*
 * h2.c: HTTP/2 on a client connection (RFC 9113), framed by nghttp2 on
 * the same event loop and connection (TLS or, with --h2c, cleartext) as
 * HTTP/1.1.  Each stream is an exchange (exchange.c): its request is
 * written out as an HTTP/1.1 head and parsed by the same parser, so
 * that routing, the 421 check, upstream pooling, retries, statuses and
 * the log are HTTP/1.1's, and the backend gets HTTP/1.1.
 *
 * Flow control pushes back both ways.  Request bodies: the window is
 * given back (nghttp2_session_consume(), no automatic WINDOW_UPDATE)
 * only for bytes that reached the backend, so a stream holds at most
 * --h2-window bytes a stream plus one buffer.  Responses: a stream's
 * DATA is taken from its upstream's buffer only while the client's
 * window is open; a full buffer stops reading from the backend.
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
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "portero.h"
#include "http1.h"

/*
 * A header block may come in this many CONTINUATION frames at most
 * (nghttp2's own default, set here so that it is ours): more is a
 * flood (CVE-2024-27316) and ends the connection.
 */
#define H2_MAX_CONTINUATIONS	8
/* Empty DATA frames without END_STREAM a connection may send. */
#define H2_MAX_EMPTY_DATA	1024
/* Control frames (SETTINGS and PING acks) queued before a flood. */
#define H2_MAX_OUTBOUND_ACK	1000
/* Bytes of a frame header, before every DATA payload we write. */
#define H2_FRAME_HEAD		9

struct h2_session;

struct h2_stream {
	TAILQ_ENTRY(h2_stream)	 st_entry;	/* the session's */
	TAILQ_ENTRY(h2_stream)	 st_run;	/* to be stepped */
	struct h2_session	*st_hs;
	int32_t			 st_id;
	uint8_t			 st_queued;
	uint8_t			 st_headers;	/* its request head came */
	uint8_t			 st_started;	/* an exchange was made */
	uint8_t			 st_eos;	/* the client's side ended */
	uint8_t			 st_closed;	/* nghttp2 closed it */
	uint8_t			 st_reset;	/* by the client's RST_STREAM */
	uint8_t			 st_chunked;	/* body goes upstream chunked */
	uint8_t			 st_ended;	/* ... and its last chunk too */
	uint8_t			 st_toolarge;	/* header list over the limit */
	uint8_t			 st_hostbad;	/* Host is not :authority */
	uint8_t			 st_responding;	/* a data source is set */
	uint8_t			 st_deferred;	/* ... and waits for bytes */
	struct exchange		*st_xc;		/* until it is done */
	struct http1_request	*st_req;
	struct buf		*st_head;	/* the request as HTTP/1.1 */
	struct buf		*st_cookie;	/* cookie fields, joined */
	struct buf		*st_body;	/* DATA not yet in st_reqin */
	struct buf		*st_reqin;	/* body as it goes upstream */
	struct buf		*st_reqtrailers; /* the client's trailers */
	struct buf		*st_reply;	/* a reply of portero's own */
	struct buf		*st_trailers;	/* the backend's trailers */
	nghttp2_rcbuf		*st_method;	/* pseudo-headers, held until */
	nghttp2_rcbuf		*st_path;	/* the request line is made */
	nghttp2_rcbuf		*st_authority;
	size_t			 st_listsize;	/* RFC 9113 6.5.2 counting */
	uint64_t		 st_received;	/* DATA payload that came */
	uint64_t		 st_framing;	/* chunk framing we added */
	uint64_t		 st_consumed;	/* given back to the window */
};

struct h2_session {
	nghttp2_session		*hs_ngh;
	struct client		*hs_cl;
	TAILQ_HEAD(, h2_stream)	 hs_streams;
	TAILQ_HEAD(, h2_stream)	 hs_run;
	unsigned int		 hs_nstreams;	/* open now */
	unsigned int		 hs_inflight;	/* streams with an exchange */
	unsigned int		 hs_empty;	/* empty DATA frames */
	int			 hs_busy;	/* in h2_pump() */
	int			 hs_closing;	/* close once flushed */
	int			 hs_goaway;	/* one was submitted */
	double			 hs_reset_tokens; /* rapid reset bucket */
	uint64_t		 hs_reset_ms;	/* when last filled */
};

static ssize_t	 h2_read_body(struct exchange *);
static int	 h2_continue(struct exchange *);
static int	 h2_resp_head(struct exchange *, const char *,
		    const struct http1_response *);
static int	 h2_resp_body(struct exchange *);
static int	 h2_reply(struct exchange *, int, int);
static void	 h2_done(struct exchange *, int);
static void	 h2_wake(struct exchange *);

/* HTTP/2: many exchanges a connection, each a stream. */
static const struct client_proto proto_h2 = {
	h2_read_body, h2_continue, h2_resp_head, h2_resp_body, h2_reply,
	h2_done, h2_wake
};

static nghttp2_session_callbacks *h2_callbacks;
static nghttp2_option		 *h2_options;

static void	 h2_queue(struct h2_stream *);
static void	 h2_stream_free(struct h2_stream *);
static void	 h2_give_window(struct h2_stream *);
static void	 h2_terminate(struct h2_session *, uint32_t, const char *);

static uint64_t
h2_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* A fresh buffer into *bp, if it has none; -1 out of memory. */
static int
h2_buf(struct buf **bp, size_t size)
{
	if (*bp == NULL && (*bp = buf_get_size(size)) == NULL)
		return (-1);
	return (0);
}

/*
 * The request head, HTTP/1.1, as its fields come.  The request line and
 * Host are written at the first regular field (nghttp2 makes sure the
 * pseudo-header fields come first), from :method, :path and :authority.
 */
static int
h2_head_append(struct h2_stream *st, const char *p, size_t len)
{
	struct buf	*b = st->st_head, *nb;
	size_t		 max = worker_env->wk_conf.h2_max_header_list;

	if (b->b_len + len > b->b_size) {
		if (b->b_len + len > max + 1024)
			return (-1);
		if ((nb = buf_get_size(max + 1024)) == NULL)
			return (-1);
		memcpy(nb->b_data, b->b_data + b->b_off, b->b_len);
		nb->b_len = b->b_len;
		buf_put(b);
		st->st_head = b = nb;
	}
	return (buf_append(b, p, len));
}

static int
h2_head_rcbuf(struct h2_stream *st, nghttp2_rcbuf *rc)
{
	nghttp2_vec	 v = nghttp2_rcbuf_get_buf(rc);

	return (h2_head_append(st, (const char *)v.base, v.len));
}

/* "METHOD path HTTP/1.1", then "Host: authority" if there is one. */
static int
h2_request_line(struct h2_stream *st)
{
	int	 ret = 0;

	if (st->st_method == NULL)
		return (0);	/* written already */
	if (st->st_path == NULL) {
		/* CONNECT without :protocol: the parser answers 501 */
		if (st->st_authority == NULL)
			ret = -1;
		else
			st->st_path = st->st_authority;
		if (st->st_path != NULL)
			nghttp2_rcbuf_incref(st->st_path);
	}
	if (ret == 0 && (h2_head_rcbuf(st, st->st_method) == -1 ||
	    h2_head_append(st, " ", 1) == -1 ||
	    h2_head_rcbuf(st, st->st_path) == -1 ||
	    h2_head_append(st, " HTTP/1.1\r\n", 11) == -1))
		ret = -1;
	if (ret == 0 && st->st_authority != NULL &&
	    (h2_head_append(st, "Host: ", 6) == -1 ||
	    h2_head_rcbuf(st, st->st_authority) == -1 ||
	    h2_head_append(st, "\r\n", 2) == -1))
		ret = -1;
	nghttp2_rcbuf_decref(st->st_method);
	st->st_method = NULL;
	if (st->st_path != NULL)
		nghttp2_rcbuf_decref(st->st_path);
	st->st_path = NULL;
	return (ret);
}

/* Does a Host field name the same as :authority, case aside? */
static int
h2_host_same(struct h2_stream *st, const uint8_t *v, size_t len)
{
	nghttp2_vec	 a = nghttp2_rcbuf_get_buf(st->st_authority);

	return (http1_caseeq((const char *)a.base, a.len, (const char *)v,
	    len));
}

/*
 * One regular request field.  Cookies (RFC 9113 8.2.3) are kept aside
 * to be joined with "; " in one field; a Host that repeats :authority
 * is dropped, one that differs makes the request malformed.
 */
static int
h2_request_field(struct h2_stream *st, const nghttp2_vec *n,
    const nghttp2_vec *v)
{
	if (h2_request_line(st) == -1)
		return (-1);
	if (n->len == 6 && memcmp(n->base, "cookie", 6) == 0) {
		if (h2_buf(&st->st_cookie, BUF_SIZE) == -1)
			return (-1);
		if (st->st_cookie->b_len > 0 &&
		    buf_append(st->st_cookie, "; ", 2) == -1)
			return (-1);
		return (buf_append(st->st_cookie, (const char *)v->base,
		    v->len));
	}
	if (n->len == 4 && memcmp(n->base, "host", 4) == 0 &&
	    st->st_authority != NULL) {
		if (!h2_host_same(st, v->base, v->len))
			st->st_hostbad = 1;
		return (0);
	}
	if (h2_head_append(st, (const char *)n->base, n->len) == -1 ||
	    h2_head_append(st, ": ", 2) == -1 ||
	    h2_head_append(st, (const char *)v->base, v->len) == -1 ||
	    h2_head_append(st, "\r\n", 2) == -1)
		return (-1);
	return (0);
}

/* A trailer field from the client: upstream it goes after the body. */
static void
h2_request_trailer(struct h2_stream *st, const nghttp2_vec *n,
    const nghttp2_vec *v)
{
	struct buf	*b;

	/* only a chunked body can carry them; never framing or routing */
	if (!st->st_chunked || http1_field_hop((const char *)n->base,
	    n->len) || (n->len == 14 && memcmp(n->base, "content-length",
	    14) == 0) || (n->len == 4 && memcmp(n->base, "host", 4) == 0))
		return;
	if (h2_buf(&st->st_reqtrailers, BUF_SIZE) == -1)
		return;
	b = st->st_reqtrailers;
	if (b->b_len + n->len + v->len + 4 > HTTP1_TRAILER_MAX ||
	    buf_field(b, (const char *)n->base, n->len,
	    (const char *)v->base, v->len) == -1)
		log_debug("%s: stream %d: request trailers cut",
		    st->st_hs->hs_cl->cl_addr, st->st_id);
}

static int
h2_on_header(nghttp2_session *ngh, const nghttp2_frame *frame,
    nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags, void *arg)
{
	struct h2_stream	*st;
	nghttp2_vec		 n, v;
	nghttp2_rcbuf		**keep = NULL;

	if ((st = nghttp2_session_get_stream_user_data(ngh,
	    frame->hd.stream_id)) == NULL)
		return (0);
	n = nghttp2_rcbuf_get_buf(name);
	v = nghttp2_rcbuf_get_buf(value);
	if (st->st_headers) {
		h2_request_trailer(st, &n, &v);
		return (0);
	}
	/* counted whole, kept no further once over: an HPACK bomb costs
	   the decoding only */
	st->st_listsize += n.len + v.len + 32;
	if (st->st_listsize > worker_env->wk_conf.h2_max_header_list)
		st->st_toolarge = 1;
	if (st->st_toolarge)
		return (0);
	if (n.len > 0 && n.base[0] == ':') {
		if (n.len == 7 && memcmp(n.base, ":method", 7) == 0)
			keep = &st->st_method;
		else if (n.len == 5 && memcmp(n.base, ":path", 5) == 0)
			keep = &st->st_path;
		else if (n.len == 10 && memcmp(n.base, ":authority", 10) == 0)
			keep = &st->st_authority;
		if (keep != NULL && *keep == NULL) {
			nghttp2_rcbuf_incref(value);
			*keep = value;
		}
		return (0);
	}
	if (h2_request_field(st, &n, &v) == -1)
		st->st_toolarge = 1;
	return (0);
}

static int
h2_on_begin_headers(nghttp2_session *ngh, const nghttp2_frame *frame,
    void *arg)
{
	struct h2_session	*hs = arg;
	struct h2_stream	*st;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->st_head = buf_get()) == NULL) {
		free(st);
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	}
	st->st_hs = hs;
	st->st_id = frame->hd.stream_id;
	if (nghttp2_session_set_stream_user_data(ngh, st->st_id, st) != 0) {
		buf_put(st->st_head);
		free(st);
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	}
	TAILQ_INSERT_TAIL(&hs->hs_streams, st, st_entry);
	hs->hs_nstreams++;
	worker_env->wk_stats.h2_streams++;
	return (0);
}

/*
 * Rapid reset (CVE-2023-44487): streams the client reset while their
 * exchange was in flight, against --h2-reset-rate a second with a burst
 * of twice that.  Each cost a backend connection, or part of one.
 */
static void
h2_count_reset(struct h2_session *hs)
{
	double		 rate = worker_env->wk_conf.h2_reset_rate;
	uint64_t	 now = h2_now_ms();

	hs->hs_reset_tokens += (now - hs->hs_reset_ms) * rate / 1000;
	if (hs->hs_reset_tokens > 2 * rate)
		hs->hs_reset_tokens = 2 * rate;
	hs->hs_reset_ms = now;
	if ((hs->hs_reset_tokens -= 1) < 0)
		h2_terminate(hs, NGHTTP2_ENHANCE_YOUR_CALM,
		    "streams reset faster than --h2-reset-rate");
}

/* The end of a request head, or of the request: its stream moves on. */
static int
h2_on_frame_recv(nghttp2_session *ngh, const nghttp2_frame *frame,
    void *arg)
{
	struct h2_session	*hs = arg;
	struct h2_stream	*st;

	if (frame->hd.stream_id == 0 || (st =
	    nghttp2_session_get_stream_user_data(ngh,
	    frame->hd.stream_id)) == NULL)
		return (0);
	switch (frame->hd.type) {
	case NGHTTP2_DATA:
		if (frame->hd.length == 0 &&
		    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
		    ++hs->hs_empty > H2_MAX_EMPTY_DATA)
			h2_terminate(hs, NGHTTP2_ENHANCE_YOUR_CALM,
			    "a flood of empty DATA frames");
		break;
	case NGHTTP2_HEADERS:
		st->st_headers = 1;
		break;
	case NGHTTP2_RST_STREAM:
		st->st_reset = 1;
		return (0);
	default:
		return (0);
	}
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		st->st_eos = 1;
	h2_queue(st);
	return (0);
}

/*
 * Request body bytes: kept in st_body until the exchange takes them
 * (h2_read_body()).  The window they used comes back only once they
 * reach the backend; for a stream already answered, at once.
 */
static int
h2_on_data_chunk(nghttp2_session *ngh, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct h2_stream	*st;

	st = nghttp2_session_get_stream_user_data(ngh, id);
	if (st == NULL || st->st_xc == NULL) {
		(void)nghttp2_session_consume(ngh, id, len);
		return (0);
	}
	st->st_received += len;
	if (h2_buf(&st->st_body, worker_env->wk_conf.h2_window) == -1 ||
	    buf_append(st->st_body, (const char *)data, len) == -1) {
		/* past the window we gave: the client broke flow control */
		(void)nghttp2_submit_rst_stream(ngh, NGHTTP2_FLAG_NONE, id,
		    NGHTTP2_FLOW_CONTROL_ERROR);
		return (0);
	}
	h2_queue(st);
	return (0);
}

static int
h2_on_stream_close(nghttp2_session *ngh, int32_t id, uint32_t code,
    void *arg)
{
	struct h2_session	*hs = arg;
	struct h2_stream	*st;

	if ((st = nghttp2_session_get_stream_user_data(ngh, id)) == NULL)
		return (0);
	st->st_closed = 1;
	/* its last DATA went with END_STREAM: the exchange is through */
	if (st->st_xc != NULL && code == NGHTTP2_NO_ERROR)
		(void)xc_finish(st->st_xc);
	if (st->st_xc != NULL) {
		log_debug("%s: stream %d closed (%s) before its response "
		    "ended", hs->hs_cl->cl_addr, id,
		    nghttp2_http2_strerror(code));
		if (st->st_reset)
			h2_count_reset(hs);
		xc_reply(st->st_xc, 0, 0);
	}
	(void)nghttp2_session_set_stream_user_data(ngh, id, NULL);
	h2_stream_free(st);
	return (0);
}

/*
 * Frames other than DATA go into cl_out as nghttp2 makes them.  A full
 * buffer stops it; the rest comes once the client has read.
 */
static ssize_t
h2_send(nghttp2_session *ngh, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct h2_session	*hs = arg;
	struct client		*cl = hs->hs_cl;
	struct buf		*out;
	size_t			 room;

	if (h2_buf(&cl->cl_out, BUF_SIZE) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	out = cl->cl_out;
	buf_compact(out);
	room = out->b_size - out->b_len;
	if (room == 0)
		return (NGHTTP2_ERR_WOULDBLOCK);
	if (len > room)
		len = room;
	memcpy(out->b_data + out->b_len, data, len);
	out->b_len += len;
	return (len);
}

/* Where a stream's response body comes from, and how much is ready. */
static struct buf *
h2_body_source(struct h2_stream *st, size_t *ready, int *done)
{
	struct exchange	*xc = st->st_xc;

	if (st->st_reply != NULL) {
		*ready = st->st_reply->b_len;
		*done = 1;
		return (st->st_reply);
	}
	if (xc != NULL && xc->xc_up != NULL && xc->xc_up->up_in != NULL) {
		*ready = xc->xc_respbody.bd_ready;
		*done = xc->xc_respbody.bd_done;
		return (xc->xc_up->up_in);
	}
	*ready = 0;
	*done = xc == NULL;	/* answered: everything went already */
	return (NULL);
}

static int	 h2_submit_trailers(struct h2_stream *);

/*
 * nghttp2 asks for a DATA frame's worth: the count is given now, the
 * bytes are copied by h2_send_data() straight from where they wait.
 */
static ssize_t
h2_data_read(nghttp2_session *ngh, int32_t id, uint8_t *unused,
    size_t len, uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2_stream	*st = src->ptr;
	size_t			 ready;
	int			 done;

	(void)h2_body_source(st, &ready, &done);
	if (ready == 0 && !done) {
		st->st_deferred = 1;
		return (NGHTTP2_ERR_DEFERRED);
	}
	if (len > ready)
		len = ready;
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (done && len == ready) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (h2_submit_trailers(st) == 1)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (len);
}

static int
h2_send_data(nghttp2_session *ngh, nghttp2_frame *frame,
    const uint8_t *framehd, size_t len, nghttp2_data_source *src,
    void *arg)
{
	struct h2_session	*hs = arg;
	struct client		*cl = hs->hs_cl;
	struct h2_stream	*st = src->ptr;
	struct buf		*in, *out;
	size_t			 ready;
	int			 done;

	if (h2_buf(&cl->cl_out, BUF_SIZE) == -1)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	out = cl->cl_out;
	buf_compact(out);
	if (out->b_size - out->b_len < H2_FRAME_HEAD + len)
		return (NGHTTP2_ERR_WOULDBLOCK);
	in = h2_body_source(st, &ready, &done);
	if (len > ready)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	memcpy(out->b_data + out->b_len, framehd, H2_FRAME_HEAD);
	if (len > 0)
		memcpy(out->b_data + out->b_len + H2_FRAME_HEAD,
		    in->b_data + in->b_off, len);
	out->b_len += H2_FRAME_HEAD + len;
	if (len > 0)
		buf_consume(in, len);
	if (st->st_reply == NULL && st->st_xc != NULL) {
		st->st_xc->xc_respbody.bd_ready -= len;
		st->st_xc->xc_bytes += len;
		xc_moved(st->st_xc);
	}
	h2_queue(st);
	return (0);
}

/*
 * A response we finished before the client finished its request: it
 * may stop sending (RFC 9113 8.1, RST_STREAM with NO_ERROR).
 */
static int
h2_on_frame_send(nghttp2_session *ngh, const nghttp2_frame *frame,
    void *arg)
{
	struct h2_stream	*st;

	if ((frame->hd.type != NGHTTP2_DATA &&
	    frame->hd.type != NGHTTP2_HEADERS) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return (0);
	st = nghttp2_session_get_stream_user_data(ngh, frame->hd.stream_id);
	if (st != NULL && !st->st_eos && !st->st_closed)
		(void)nghttp2_submit_rst_stream(ngh, NGHTTP2_FLAG_NONE,
		    st->st_id, NGHTTP2_NO_ERROR);
	return (0);
}

/* The last chunk, with the client's trailers if it sent some. */
static ssize_t
h2_last_chunk(struct h2_stream *st, struct buf *out)
{
	struct buf	*tr = st->st_reqtrailers;
	size_t		 trlen = tr != NULL ? tr->b_len : 0, n = 5 + trlen;

	buf_compact(out);
	if (out->b_size - out->b_len < n)
		return (CONN_WANT);
	(void)buf_append(out, "0\r\n", 3);
	if (trlen > 0)
		(void)buf_append(out, tr->b_data + tr->b_off, trlen);
	(void)buf_append(out, "\r\n", 2);
	st->st_framing += n;
	st->st_ended = 1;
	return (n);
}

/*
 * More request body for the exchange: from st_body into its buffer, as
 * one chunk when the client gave no length, however many DATA frames
 * it came in.  0 once the client's side has ended and all is in.
 */
static ssize_t
h2_read_body(struct exchange *xc)
{
	struct h2_stream	*st = xc->xc_h2;
	struct buf		*in = st->st_body, *out = xc->xc_reqin;
	char			 size[24];
	size_t			 room, take, framing = 0;

	if (in == NULL || in->b_len == 0) {
		if (!st->st_eos)
			return (CONN_WANT);
		if (!st->st_chunked || st->st_ended)
			return (0);
		return (h2_last_chunk(st, out));
	}
	buf_compact(out);
	room = out->b_size - out->b_len;
	if (st->st_chunked)
		room = room > sizeof(size) + 2 ? room - sizeof(size) - 2 : 0;
	take = in->b_len < room ? in->b_len : room;
	if (take == 0)
		return (CONN_WANT);
	if (st->st_chunked) {
		framing = snprintf(size, sizeof(size), "%zx\r\n", take);
		(void)buf_append(out, size, framing);
	}
	(void)buf_append(out, in->b_data + in->b_off, take);
	if (st->st_chunked) {
		(void)buf_append(out, "\r\n", 2);
		framing += 2;
	}
	buf_consume(in, take);
	st->st_framing += framing;
	return (take + framing);
}

static int
h2_continue(struct exchange *xc)
{
	struct h2_stream	*st = xc->xc_h2;
	nghttp2_nv		 nv = {
		(uint8_t *)":status", (uint8_t *)"100", 7, 3,
		NGHTTP2_NV_FLAG_NONE
	};

	(void)nghttp2_submit_headers(st->st_hs->hs_ngh, NGHTTP2_FLAG_NONE,
	    st->st_id, NULL, &nv, 1, NULL);
	return (STEP_MOVED);
}

static void
h2_nv(nghttp2_nv *nv, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	nv->name = (uint8_t *)name;
	nv->namelen = namelen;
	nv->value = (uint8_t *)value;
	nv->valuelen = valuelen;
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

/*
 * A response head (at head, parsed into resp) as HEADERS: names in lower
 * case, hop-by-hop and connection-specific fields gone (RFC 9113
 * 8.2.2), a Date if there was none.  A final one with a body gets its
 * data source.  nghttp2 copies the fields.
 */
static int
h2_submit_head(struct h2_stream *st, const char *head,
    const struct http1_response *resp, int status)
{
	static nghttp2_nv	 nv[HTTP1_MAX_FIELDS + 2];
	static char		 names[HTTP1_HEAD_MAX];
	nghttp2_session		*ngh = st->st_hs->hs_ngh;
	const struct http1_field *f;
	nghttp2_data_provider	 dp, *dpp = NULL;
	char			 code[3], *name = names;
	const char		*date;
	size_t			 n = 0, i, j;

	code[0] = '0' + status / 100;
	code[1] = '0' + status / 10 % 10;
	code[2] = '0' + status % 10;
	h2_nv(&nv[n++], ":status", 7, code, 3);
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if (f->flags & HTTP1_F_HOP)
			continue;
		for (j = 0; j < f->name_len; j++)
			name[j] = tolower((unsigned char)head[f->name_off + j]);
		h2_nv(&nv[n++], name, f->name_len, head + f->value_off,
		    f->value_len);
		name += f->name_len;
	}
	if (resp->flags & HTTP1_INTERIM)
		return (nghttp2_submit_headers(ngh, NGHTTP2_FLAG_NONE,
		    st->st_id, NULL, nv, n, NULL) < 0 ? -1 : 0);
	if (!(resp->flags & HTTP1_HAS_DATE)) {
		date = reply_date();
		h2_nv(&nv[n++], "date", 4, date + 6, REPLY_DATE_LEN - 8);
	}
	if (resp->framing != HTTP1_BODY_NONE &&
	    !(resp->framing == HTTP1_BODY_LENGTH &&
	    resp->content_length == 0)) {
		dp.source.ptr = st;
		dp.read_callback = h2_data_read;
		dpp = &dp;
		st->st_responding = 1;
	}
	return (nghttp2_submit_response(ngh, st->st_id, nv, n, dpp) == 0 ?
	    0 : -1);
}

/*
 * The backend's response head.  A chunked body comes out of its
 * framing (DATA frames frame it), its trailers kept for a trailing
 * HEADERS frame.
 */
static int
h2_resp_head(struct exchange *xc, const char *head,
    const struct http1_response *resp)
{
	struct h2_stream	*st = xc->xc_h2;
	struct body		*bd = &xc->xc_respbody;

	if (!(resp->flags & HTTP1_INTERIM) &&
	    resp->framing == HTTP1_BODY_CHUNKED) {
		bd->bd_decode = 1;
		if (h2_buf(&st->st_trailers, BUF_SIZE) == 0)
			bd->bd_chunked.ck_trailer = st->st_trailers->b_data;
	}
	if (h2_submit_head(st, head, resp, resp->status) == -1)
		return (STEP_GONE);
	return (STEP_MOVED);
}

/* Body bytes are ready: the stream's data source has them. */
static int
h2_resp_body(struct exchange *xc)
{
	struct h2_stream	*st = xc->xc_h2;

	if (st->st_deferred && (xc->xc_respbody.bd_ready > 0 ||
	    xc->xc_respbody.bd_done)) {
		st->st_deferred = 0;
		(void)nghttp2_session_resume_data(st->st_hs->hs_ngh,
		    st->st_id);
	}
	return (STEP_WAIT);
}

/*
 * The backend's trailers, kept by the chunked decoder as "name: value"
 * lines, as a trailing HEADERS frame.  1 if there were any.
 */
static int
h2_submit_trailers(struct h2_stream *st)
{
	static nghttp2_nv	 nv[HTTP1_MAX_FIELDS];
	struct buf		*tr = st->st_trailers;
	char			*p, *end, *eol, *colon, *v, *vend, *q;
	size_t			 n = 0;

	if (tr == NULL)
		return (0);
	if (st->st_xc != NULL)
		tr->b_len = st->st_xc->xc_respbody.bd_chunked.ck_trailer_len;
	p = tr->b_data;
	end = p + tr->b_len;
	while (p < end && n < HTTP1_MAX_FIELDS &&
	    (eol = memchr(p, '\n', end - p)) != NULL &&
	    (colon = memchr(p, ':', eol - p)) != NULL) {
		for (q = p; q < colon; q++)
			*q = tolower((unsigned char)*q);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (vend = eol; vend > v && (vend[-1] == '\r' ||
		    vend[-1] == ' ' || vend[-1] == '\t'); vend--)
			;
		if (!http1_field_hop(p, colon - p))
			h2_nv(&nv[n++], p, colon - p, v, vend - v);
		p = eol + 1;
	}
	tr->b_len = 0;
	if (n == 0)
		return (0);
	return (nghttp2_submit_trailer(st->st_hs->hs_ngh, st->st_id, nv,
	    n) == 0);
}

/*
 * The stream is done with its exchange.  What the client sent that
 * never went upstream gives its window back; a data source waiting for
 * bytes learns that there are no more.
 */
static void
h2_end(struct h2_stream *st)
{
	struct h2_session	*hs = st->st_hs;
	struct exchange		*xc = st->st_xc;

	if (st->st_trailers != NULL)
		st->st_trailers->b_len =
		    xc->xc_respbody.bd_chunked.ck_trailer_len;
	st->st_xc = NULL;
	hs->hs_inflight--;
	xc_free(xc);
	buf_put(st->st_body);
	st->st_body = NULL;
	buf_put(st->st_reqin);
	st->st_reqin = NULL;
	if (st->st_closed)
		return;
	if (st->st_received > st->st_consumed) {
		(void)nghttp2_session_consume(hs->hs_ngh, st->st_id,
		    st->st_received - st->st_consumed);
		st->st_consumed = st->st_received;
	}
	if (st->st_deferred) {
		st->st_deferred = 0;
		(void)nghttp2_session_resume_data(hs->hs_ngh, st->st_id);
	}
}

/*
 * A reply of portero's own, written as HTTP/1.1 and sent as a response
 * would be; status 0 (or one that cannot be made) resets the stream,
 * and the exchange is gone (-1).
 */
static int
h2_reply(struct exchange *xc, int status, int keep)
{
	static struct http1_response	 resp;
	struct h2_stream		*st = xc->xc_h2;
	struct http1_request		*req = xc->xc_req;
	int				 head;

	head = req->method == HTTP1_M_HEAD && http1_request_started(req);
	http1_response_reset(&resp);
	if (status == 0 || st->st_closed ||
	    (st->st_reply = buf_get()) == NULL ||
	    reply_build(st->st_reply, status, head, 0,
	    xc_retry_after(xc, status), xc->xc_host, xc->xc_path) == -1 ||
	    http1_parse_response(st->st_reply->b_data, st->st_reply->b_len,
	    head, &resp) != HTTP1_OK ||
	    h2_submit_head(st, st->st_reply->b_data, &resp, status) == -1) {
		if (!st->st_closed)
			(void)nghttp2_submit_rst_stream(st->st_hs->hs_ngh,
			    NGHTTP2_FLAG_NONE, st->st_id,
			    NGHTTP2_INTERNAL_ERROR);
		h2_end(st);
		return (-1);
	}
	buf_consume(st->st_reply, resp.head_len);
	xc->xc_bytes = reply_body_len(status, head);
	return (0);
}

static void
h2_done(struct exchange *xc, int replied)
{
	h2_end(xc->xc_h2);
}

/* News from a stream's upstream: step it at the next turn. */
static void
h2_wake(struct exchange *xc)
{
	h2_queue(xc->xc_h2);
}

/* Once per worker: callbacks and options all sessions share. */
static int
h2_setup(void)
{
	struct portero_config	*conf = &worker_env->wk_conf;
	nghttp2_session_callbacks *cb;

	if (h2_callbacks != NULL)
		return (0);
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return (-1);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_send_data_callback(cb, h2_send_data);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback2(cb, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2_on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
	    h2_on_frame_send);
	if (nghttp2_option_new(&h2_options) != 0) {
		nghttp2_session_callbacks_del(cb);
		return (-1);
	}
	nghttp2_option_set_no_auto_window_update(h2_options, 1);
	nghttp2_option_set_max_continuations(h2_options,
	    H2_MAX_CONTINUATIONS);
	nghttp2_option_set_max_outbound_ack(h2_options, H2_MAX_OUTBOUND_ACK);
	nghttp2_option_set_stream_reset_rate_limit(h2_options,
	    2 * (uint64_t)conf->h2_reset_rate, conf->h2_reset_rate);
	nghttp2_option_set_no_closed_streams(h2_options, 1);
	h2_callbacks = cb;
	return (0);
}

/*
 * The connection speaks HTTP/2 from here: after ALPN chose h2, or after
 * the cleartext listener saw the preface (its bytes stay in cl_in, for
 * nghttp2 to read).  Our SETTINGS go first.
 */
int
h2_start(struct client *cl)
{
	struct portero_config	*conf = &worker_env->wk_conf;
	struct h2_session	*hs;
	nghttp2_settings_entry	 iv[4];
	uint64_t		 window;

	if (h2_setup() == -1 || (hs = calloc(1, sizeof(*hs))) == NULL)
		return (-1);
	hs->hs_cl = cl;
	TAILQ_INIT(&hs->hs_streams);
	TAILQ_INIT(&hs->hs_run);
	hs->hs_reset_tokens = 2.0 * conf->h2_reset_rate;
	hs->hs_reset_ms = h2_now_ms();
	if (nghttp2_session_server_new2(&hs->hs_ngh, h2_callbacks, hs,
	    h2_options) != 0) {
		free(hs);
		return (-1);
	}
	iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[0].value = conf->h2_max_streams;
	iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[1].value = conf->h2_window;
	iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
	iv[2].value = conf->h2_max_header_list;
	iv[3].settings_id = NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL;
	iv[3].value = 1;
	/* every stream may hold its whole window at once */
	window = (uint64_t)conf->h2_max_streams * conf->h2_window;
	if (window > NGHTTP2_MAX_WINDOW_SIZE)
		window = NGHTTP2_MAX_WINDOW_SIZE;
	if (nghttp2_submit_settings(hs->hs_ngh, NGHTTP2_FLAG_NONE, iv, 4) !=
	    0 || nghttp2_session_set_local_window_size(hs->hs_ngh,
	    NGHTTP2_FLAG_NONE, 0, (int32_t)window) != 0) {
		nghttp2_session_del(hs->hs_ngh);
		free(hs);
		return (-1);
	}
	cl->cl_h2 = hs;
	cl->cl_proto = &proto_h2;
	cl->cl_state = CL_H2;
	worker_env->wk_stats.h2_connections++;
	return (0);
}

/* Stop the session: GOAWAY with code, then the connection closes. */
static void
h2_terminate(struct h2_session *hs, uint32_t code, const char *why)
{
	if (hs->hs_closing)
		return;
	log_limited(LOG_LIMIT_CLIENT, "%s: HTTP/2 GOAWAY: %s",
	    hs->hs_cl->cl_addr, why);
	(void)nghttp2_session_terminate_session(hs->hs_ngh, code);
	hs->hs_closing = 1;
}

static void
h2_queue(struct h2_stream *st)
{
	if (st->st_queued || st->st_closed)
		return;
	st->st_queued = 1;
	TAILQ_INSERT_TAIL(&st->st_hs->hs_run, st, st_run);
}

static void
h2_stream_free(struct h2_stream *st)
{
	struct h2_session	*hs = st->st_hs;

	if (st->st_queued)
		TAILQ_REMOVE(&hs->hs_run, st, st_run);
	TAILQ_REMOVE(&hs->hs_streams, st, st_entry);
	if (st->st_method != NULL)
		nghttp2_rcbuf_decref(st->st_method);
	if (st->st_path != NULL)
		nghttp2_rcbuf_decref(st->st_path);
	if (st->st_authority != NULL)
		nghttp2_rcbuf_decref(st->st_authority);
	buf_put(st->st_head);
	buf_put(st->st_cookie);
	buf_put(st->st_body);
	buf_put(st->st_reqin);
	buf_put(st->st_reqtrailers);
	buf_put(st->st_reply);
	buf_put(st->st_trailers);
	free(st->st_req);
	free(st);
	hs->hs_nstreams--;
	worker_env->wk_stats.h2_streams--;
}

/*
 * The whole request head has come: finish its HTTP/1.1 form, parse it
 * and start its exchange, or answer it with an error of our own.
 */
static void
h2_stream_start(struct h2_stream *st)
{
	struct client		*cl = st->st_hs->hs_cl;
	struct h2_session	*hs = st->st_hs;
	struct exchange		*xc;
	struct buf		*h;
	int			 ret = HTTP1_OK, status = 0;

	st->st_started = 1;
	if ((st->st_req = calloc(1, sizeof(*st->st_req))) == NULL ||
	    (!st->st_eos && (st->st_reqin = buf_get()) == NULL) ||
	    (xc = xc_new(cl, st->st_req, st->st_reqin)) == NULL) {
		(void)nghttp2_submit_rst_stream(hs->hs_ngh, NGHTTP2_FLAG_NONE,
		    st->st_id, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	xc->xc_h2 = st;
	st->st_xc = xc;
	hs->hs_inflight++;
	worker_env->wk_stats.requests++;
	if (!st->st_toolarge && h2_request_line(st) == -1)
		st->st_toolarge = 1;
	if (!st->st_toolarge && st->st_cookie != NULL &&
	    buf_field(st->st_head, "cookie", 6, st->st_cookie->b_data +
	    st->st_cookie->b_off, st->st_cookie->b_len) == -1)
		st->st_toolarge = 1;
	h = st->st_head;
	/* a body of no stated length goes upstream chunked */
	if (!st->st_toolarge && !st->st_eos &&
	    memmem(h->b_data + h->b_off, h->b_len, "\r\ncontent-length:",
	    17) == NULL) {
		st->st_chunked = 1;
		if (h2_head_append(st, "transfer-encoding: chunked\r\n",
		    28) == -1)
			st->st_toolarge = 1;
	}
	if (st->st_toolarge || h2_head_append(st, "\r\n", 2) == -1)
		status = 431;
	else if (st->st_hostbad)
		status = 400;
	else if ((ret = http1_parse_request_max(st->st_head->b_data +
	    st->st_head->b_off, st->st_head->b_len, st->st_head->b_len,
	    st->st_req)) != HTTP1_OK)
		status = ret == HTTP1_INCOMPLETE ? 400 :
		    http1_error_status(ret);
	if (status != 0) {
		log_limited(LOG_LIMIT_REQUEST, "%s: stream %d: %d: %s",
		    cl->cl_addr, st->st_id, status, status == 431 ?
		    "header list over --h2-max-header-list" : ret != HTTP1_OK ?
		    http1_error_reason(ret) : "Host is not :authority");
		xc_reply(xc, status, 1);
		return;
	}
	(void)xc_start(xc, st->st_head->b_data + st->st_head->b_off);
	buf_put(st->st_head);
	st->st_head = NULL;
	buf_put(st->st_cookie);
	st->st_cookie = NULL;
}

/*
 * Give the client back the window of body bytes that reached the
 * backend.  Chunk framing we added counts as sent first: the bytes
 * sent minus all our framing is a floor on the payload sent, and once
 * everything is sent it is exact.
 */
static void
h2_give_window(struct h2_stream *st)
{
	struct exchange	*xc = st->st_xc;
	uint64_t	 sent, moved;

	if (xc == NULL)
		return;
	moved = st->st_received - (st->st_body != NULL ?
	    st->st_body->b_len : 0);
	sent = xc->xc_body_sent > st->st_framing ?
	    xc->xc_body_sent - st->st_framing : 0;
	if (sent > moved)
		sent = moved;
	if (sent > st->st_consumed) {
		(void)nghttp2_session_consume(st->st_hs->hs_ngh, st->st_id,
		    sent - st->st_consumed);
		st->st_consumed = sent;
	}
}

/* Step a stream's exchange until it waits or ends. */
static int
h2_step(struct h2_stream *st)
{
	struct exchange	*xc;
	int		 ret, moved = STEP_WAIT;

	if (st->st_headers && !st->st_started)
		h2_stream_start(st);
	while ((xc = st->st_xc) != NULL && xc->xc_up != NULL) {
		ret = xc_step(xc);
		if (st->st_xc == NULL)
			return (STEP_MOVED);
		if (xc_finish(xc) == STEP_GONE)
			return (STEP_MOVED);
		h2_give_window(st);
		if (ret == STEP_WAIT)
			break;
		moved = STEP_MOVED;
	}
	if (moved == STEP_MOVED && st->st_xc != NULL)
		xc_moved(st->st_xc);
	return (moved);
}

/* Streams with news, stepped in turn. */
static int
h2_run(struct h2_session *hs)
{
	struct h2_stream	*st;
	int			 progress = STEP_WAIT;

	while ((st = TAILQ_FIRST(&hs->hs_run)) != NULL) {
		TAILQ_REMOVE(&hs->hs_run, st, st_run);
		st->st_queued = 0;
		progress |= h2_step(st);
		if (hs->hs_cl->cl_dead)
			break;
	}
	return (progress);
}

/*
 * Bytes from the client, to nghttp2.  Nothing is read while what we
 * owe the client piles up: a client that floods us with PINGs and
 * reads nothing stops being read, and TCP holds it back.
 */
static int
h2_input(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;
	ssize_t			 n = 0, rv;

	if (hs->hs_closing || !nghttp2_session_want_read(hs->hs_ngh) ||
	    (cl->cl_out != NULL && cl->cl_out->b_len > BUF_SIZE / 2))
		return (STEP_WAIT);
	if (h2_buf(&cl->cl_in, BUF_SIZE) == -1) {
		proxy_close(cl);
		return (STEP_WAIT);
	}
	if (cl->cl_in->b_len == 0) {
		n = conn_read(&cl->cl_conn, cl->cl_in);
		if (n == 0 || n == -1) {
			log_debug("%s: HTTP/2 client %s", cl->cl_addr,
			    n == 0 ? "closed" : "read failed");
			proxy_close(cl);
			return (STEP_WAIT);
		}
		if (n == CONN_WANT)
			return (STEP_WAIT);
	}
	rv = nghttp2_session_mem_recv(hs->hs_ngh,
	    (const uint8_t *)cl->cl_in->b_data + cl->cl_in->b_off,
	    cl->cl_in->b_len);
	buf_consume(cl->cl_in, cl->cl_in->b_len);
	if (rv < 0) {
		log_limited(LOG_LIMIT_CLIENT, "%s: HTTP/2: %s", cl->cl_addr,
		    nghttp2_strerror((int)rv));
		/* a GOAWAY may be queued for it: send that, then close */
		hs->hs_closing = 1;
	}
	return (STEP_MOVED);
}

/* Frames out to the client: nghttp2 fills cl_out, we write it. */
static int
h2_output(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;
	struct buf		*out;
	int			 progress = STEP_WAIT, rv;
	ssize_t			 n;

	for (;;) {
		if ((rv = nghttp2_session_send(hs->hs_ngh)) != 0) {
			log_debug("%s: HTTP/2 send: %s", cl->cl_addr,
			    nghttp2_strerror(rv));
			proxy_close(cl);
			return (STEP_WAIT);
		}
		if ((out = cl->cl_out) == NULL || out->b_len == 0)
			break;
		n = conn_write(&cl->cl_conn, out->b_data + out->b_off,
		    out->b_len);
		if (n == -1) {
			log_debug("%s: HTTP/2 write failed", cl->cl_addr);
			proxy_close(cl);
			return (STEP_WAIT);
		}
		if (n == CONN_WANT || n == 0)
			break;
		buf_consume(out, n);
		progress = STEP_MOVED;
	}
	return (progress);
}

/*
 * The connection's own timer: idle (no exchange in flight) for
 * --idle-timeout, or a last flush over --send-timeout.
 */
static void
h2_timer_update(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;

	if (hs->hs_closing)
		timer_set(&cl->cl_ev_timer, worker_env->wk_conf.send_timeout);
	else if (hs->hs_inflight == 0)
		timer_set(&cl->cl_ev_timer, worker_env->wk_conf.idle_timeout);
	else
		timer_stop(&cl->cl_ev_timer);
}

/*
 * The session's pump, on any news from the client's socket or a
 * stream's upstream, until nothing moves:
 *
 *	input (nghttp2 reads; streams queued) --> run (exchanges step)
 *	    --> output (nghttp2 writes into cl_out; cl_out to the socket)
 *
 * The connection closes when nghttp2 wants neither to read nor to
 * write (GOAWAY both ways, or after our own GOAWAY once its streams
 * are done), or once a fatal error's GOAWAY has been flushed.
 */
void
h2_pump(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;
	int			 progress;

	if (hs->hs_busy)
		return;
	hs->hs_busy = 1;
	do {
		progress = h2_input(cl);
		if (cl->cl_dead)
			break;
		progress |= h2_run(hs);
		if (cl->cl_dead)
			break;
		progress |= h2_output(cl);
	} while (progress != STEP_WAIT && !cl->cl_dead);
	hs->hs_busy = 0;
	if (cl->cl_dead)
		return;
	if ((cl->cl_out == NULL || cl->cl_out->b_len == 0) &&
	    (hs->hs_closing || (!nghttp2_session_want_read(hs->hs_ngh) &&
	    !nghttp2_session_want_write(hs->hs_ngh)))) {
		proxy_close(cl);
		return;
	}
	h2_timer_update(cl);
}

/* Drain: no new streams (an honest GOAWAY); open ones finish. */
void
h2_drain(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;

	if (hs->hs_goaway || hs->hs_closing)
		return;
	hs->hs_goaway = 1;
	(void)nghttp2_submit_goaway(hs->hs_ngh, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(hs->hs_ngh),
	    NGHTTP2_NO_ERROR, NULL, 0);
	if (hs->hs_inflight == 0)
		hs->hs_closing = 1;	/* once the GOAWAY is out */
	h2_pump(cl);
}

/* The connection's timer: idle, or a GOAWAY that would not flush. */
void
h2_timeout(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;

	if (hs->hs_closing) {
		proxy_close(cl);
		return;
	}
	log_debug("%s: HTTP/2 idle for --idle-timeout", cl->cl_addr);
	h2_terminate(hs, NGHTTP2_NO_ERROR, "idle");
}

/*
 * The client is gone: every stream's exchange ends with it.  nghttp2
 * calls no callback for the streams it frees, so they go here first.
 */
void
h2_free(struct client *cl)
{
	struct h2_session	*hs = cl->cl_h2;
	struct h2_stream	*st;

	if (hs == NULL)
		return;
	cl->cl_h2 = NULL;
	while ((st = TAILQ_FIRST(&hs->hs_streams)) != NULL) {
		if (st->st_xc != NULL) {
			xc_free(st->st_xc);
			st->st_xc = NULL;
		}
		h2_stream_free(st);
	}
	nghttp2_session_del(hs->hs_ngh);
	free(hs);
	worker_env->wk_stats.h2_connections--;
}
