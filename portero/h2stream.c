/*
 * h2stream.c: an HTTP/2 stream as an exchange.  Its request head is
 * written out as HTTP/1.1 as its fields come and parsed like any other;
 * its body goes upstream as it came (chunked when no length was given,
 * with the client's trailers); the backend's response goes back as
 * HEADERS and DATA frames, trailers too; an extended CONNECT (RFC 8441)
 * becomes HTTP/1.1's WebSocket handshake.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "portero.h"
#include "http1.h"
#include "h2.h"

static ssize_t	 h2_read_body(struct exchange *);
static int	 h2_continue(struct exchange *);
static int	 h2_resp_head(struct exchange *, const char *,
		    const struct http1_response *);
static int	 h2_resp_body(struct exchange *);
static int	 h2_reply(struct exchange *, int, int);
static void	 h2_done(struct exchange *, int);
static int	 h2_wake(struct exchange *);
static int	 h2_submit_trailers(struct h2_stream *);
static int	 h2_ws_fields(struct h2_stream *);
static int	 h2_ws_accepted(struct h2_stream *, const char *,
		    const struct http1_response *);

/* HTTP/2: many exchanges a connection, each a stream. */
const struct client_proto h2_proto = {
	h2_read_body, h2_continue, h2_resp_head, h2_resp_body, h2_reply,
	h2_done, h2_wake
};

/*
 * The request head, HTTP/1.1, as its fields come.  The request line and
 * Host are written at the first regular field (nghttp2 makes sure the
 * pseudo-header fields come first), from :method, :path and :authority.
 */
static int
h2_head_append(struct h2_stream *st, const char *p, size_t len)
{
	/* the head may outgrow the list by what we add to it */
	if (buf_grow(&st->st_head, len,
	    worker_env->wk_conf.h2_max_header_list + 1024) == -1)
		return (-1);
	return (buf_append(st->st_head, p, len));
}

/* A field line, "name: value" CRLF, in one reservation. */
static int
h2_head_field(struct h2_stream *st, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	if (buf_grow(&st->st_head, namelen + valuelen + 4,
	    worker_env->wk_conf.h2_max_header_list + 1024) == -1)
		return (-1);
	return (buf_field(st->st_head, name, namelen, value, valuelen));
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
	nghttp2_vec	 v;
	int		 ret = 0;

	if (st->st_method == NULL)
		return (0);	/* written already */
	if (st->st_protocol && !st->st_websocket)
		return (-1);	/* no other protocol is carried */
	if (st->st_path == NULL) {
		/* CONNECT without :protocol: the parser answers 501 */
		if (st->st_authority == NULL)
			ret = -1;
		else
			st->st_path = st->st_authority;
		if (st->st_path != NULL)
			nghttp2_rcbuf_incref(st->st_path);
	}
	if (ret == 0 && st->st_websocket) {
		/* RFC 8441 5: an HTTP/1.1 WebSocket handshake upstream */
		nghttp2_rcbuf_decref(st->st_method);
		st->st_method = NULL;
		if (h2_head_append(st, "GET", 3) == -1)
			ret = -1;
	}
	if (ret == 0 && ((st->st_method != NULL &&
	    h2_head_rcbuf(st, st->st_method) == -1) ||
	    h2_head_append(st, " ", 1) == -1 ||
	    h2_head_rcbuf(st, st->st_path) == -1 ||
	    h2_head_append(st, " HTTP/1.1\r\n", 11) == -1))
		ret = -1;
	if (ret == 0 && st->st_authority != NULL) {
		v = nghttp2_rcbuf_get_buf(st->st_authority);
		if (h2_head_field(st, "Host", 4, (const char *)v.base,
		    v.len) == -1)
			ret = -1;
	}
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
		if (h2_buf(&st->st_cookie, BUF_SIZE) == -1 ||
		    buf_grow(&st->st_cookie, v->len + 2,
		    worker_env->wk_conf.h2_max_header_list) == -1)
			return (-1);
		if (st->st_cookie->b_len > 0 &&
		    buf_append(st->st_cookie, "; ", 2) == -1)
			return (-1);
		return (buf_append(st->st_cookie, (const char *)v->base,
		    v->len));
	}
	if (n->len == 14 && memcmp(n->base, "content-length", 14) == 0)
		st->st_length = 1;
	/* HTTP/2 has no key: the one upstream is ours */
	if (n->len == 17 && memcmp(n->base, "sec-websocket-key", 17) == 0)
		return (0);
	if (n->len == 4 && memcmp(n->base, "host", 4) == 0 &&
	    st->st_authority != NULL) {
		if (!h2_host_same(st, v->base, v->len))
			st->st_hostbad = 1;
		return (0);
	}
	return (h2_head_field(st, (const char *)n->base, n->len,
	    (const char *)v->base, v->len));
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

/*
 * A field of a request's head (or trailers): pseudo-header fields kept
 * for the request line, the others written out as HTTP/1.1.
 */
void
h2_stream_field(struct h2_stream *st, nghttp2_rcbuf *name,
    nghttp2_rcbuf *value)
{
	nghttp2_vec		 n, v;
	nghttp2_rcbuf		**keep = NULL;

	n = nghttp2_rcbuf_get_buf(name);
	v = nghttp2_rcbuf_get_buf(value);
	if (st->st_headers) {
		h2_request_trailer(st, &n, &v);
		return;
	}
	/* counted whole, kept no further once over: an HPACK bomb costs
	   the decoding only */
	st->st_listsize += n.len + v.len + 32;
	if (st->st_listsize > worker_env->wk_conf.h2_max_header_list)
		st->st_toolarge = 1;
	if (st->st_toolarge)
		return;
	if (n.len > 0 && n.base[0] == ':') {
		if (n.len == 7 && memcmp(n.base, ":method", 7) == 0)
			keep = &st->st_method;
		else if (n.len == 5 && memcmp(n.base, ":path", 5) == 0)
			keep = &st->st_path;
		else if (n.len == 10 && memcmp(n.base, ":authority", 10) == 0)
			keep = &st->st_authority;
		else if (n.len == 9 && memcmp(n.base, ":protocol", 9) == 0) {
			st->st_protocol = 1;
			st->st_websocket = http1_caseeq((const char *)v.base,
			    v.len, "websocket", 9);
		}
		if (keep != NULL && *keep == NULL) {
			nghttp2_rcbuf_incref(value);
			*keep = value;
		}
		return;
	}
	if (h2_request_field(st, &n, &v) == -1)
		st->st_toolarge = 1;
}

/* Where a stream's response body comes from, and how much is ready. */
struct buf *
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

/*
 * nghttp2 asks for a DATA frame's worth: the count is given now, the
 * bytes are copied by h2_send_data() straight from where they wait.
 */
ssize_t
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
		if (xc->xc_tunnel) {
			/* END_STREAM is a half-close (RFC 8441 4): the
			   backend's side goes on until it closes */
			conn_shutdown(&xc->xc_up->up_conn);
			xc->xc_reqbody.bd_done = 1;
			return (CONN_WANT);
		}
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

/* ASCII only, and no locale to ask: field names are tokens. */
static inline char
h2_lower(char c)
{
	return (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
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
 * 8.2.2), a Date if there was none, a sticky cookie if the pool sets
 * one.  A final one with a body gets its data source.  nghttp2 copies
 * the fields.
 */
static int
h2_submit_head(struct h2_stream *st, const char *head,
    const struct http1_response *resp, int status)
{
	static nghttp2_nv	 nv[HTTP1_MAX_FIELDS + 3];
	static char		 names[HTTP1_HEAD_MAX];
	nghttp2_session		*ngh = st->st_hs->hs_ngh;
	const struct http1_field *f;
	nghttp2_data_provider	 dp, *dpp = NULL;
	char			 code[3], *name = names;
	char			 cookie[BALANCE_SETCOOKIE_MAX];
	const char		*date;
	size_t			 n = 0, i, j, clen;

	code[0] = '0' + status / 100;
	code[1] = '0' + status / 10 % 10;
	code[2] = '0' + status % 10;
	h2_nv(&nv[n++], ":status", 7, code, 3);
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if ((f->flags & HTTP1_F_HOP) || (resp->status == 101 &&
		    http1_caseeq(head + f->name_off, f->name_len,
		    "sec-websocket-accept", 20)))
			continue;
		for (j = 0; j < f->name_len; j++)
			name[j] = h2_lower(head[f->name_off + j]);
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
	if (st->st_xc != NULL &&
	    (clen = xc_setcookie(st->st_xc, cookie, sizeof(cookie))) > 0)
		h2_nv(&nv[n++], "set-cookie", 10, cookie, clen);
	if (resp->status == 101 || (resp->framing != HTTP1_BODY_NONE &&
	    !(resp->framing == HTTP1_BODY_LENGTH &&
	    resp->content_length == 0))) {
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

	if (resp->status == 101) {
		/* HTTP/2 has no 101: the tunnel opens with a 200 */
		if (!h2_ws_accepted(st, head, resp)) {
			log_limited(LOG_LIMIT_UPSTREAM, "%s: stream %d: 101 "
			    "without the Sec-WebSocket-Accept for our key",
			    st->st_hs->hs_cl->cl_addr, st->st_id);
			return (STEP_GONE);
		}
		return (h2_submit_head(st, head, resp, 200) == -1 ?
		    STEP_GONE : STEP_MOVED);
	}
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
			*q = h2_lower(*q);
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
	    xc_retry_after(xc, status), xc_location(xc)) == -1 ||
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

/*
 * News from a stream's upstream: the stream is stepped once the event
 * loop has handed out this round's other news, so that responses that
 * came together leave together, in one write.
 */
static int
h2_wake(struct exchange *xc)
{
	h2_queue(xc->xc_h2);
	h2_pump_soon(xc->xc_h2->st_hs);
	return (1);
}

#define WS_UPSTREAM_FIELDS						\
	"upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: "

/*
 * A WebSocket over HTTP/2 goes upstream as HTTP/1.1's handshake, with a
 * key of ours, whose answer h2_ws_accepted() checks.
 */
static int
h2_ws_fields(struct h2_stream *st)
{
	unsigned char	 raw[16];

	arc4random_buf(raw, sizeof(raw));
	if (EVP_EncodeBlock((unsigned char *)st->st_wskey, raw,
	    sizeof(raw)) != WS_KEY_LEN)
		return (-1);
	if (h2_head_append(st, WS_UPSTREAM_FIELDS,
	    sizeof(WS_UPSTREAM_FIELDS) - 1) == -1 ||
	    h2_head_append(st, st->st_wskey, WS_KEY_LEN) == -1 ||
	    h2_head_append(st, "\r\n", 2) == -1)
		return (-1);
	return (0);
}

/* Does the backend's 101 carry the Sec-WebSocket-Accept for our key? */
static int
h2_ws_accepted(struct h2_stream *st, const char *head,
    const struct http1_response *resp)
{
	unsigned char		 digest[SHA_DIGEST_LENGTH];
	char			 want[WS_ACCEPT_LEN + 1], in[WS_KEY_LEN +
				    sizeof(WS_GUID)];
	const struct http1_field *f;
	int			 i;

	if (!st->st_websocket || (i = http1_field_find(head, resp->fields,
	    resp->nfields, 0, "sec-websocket-accept", 20)) == -1)
		return (0);
	f = &resp->fields[i];
	memcpy(in, st->st_wskey, WS_KEY_LEN);
	memcpy(in + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((unsigned char *)in, WS_KEY_LEN + sizeof(WS_GUID) - 1, digest);
	if (EVP_EncodeBlock((unsigned char *)want, digest, sizeof(digest)) !=
	    WS_ACCEPT_LEN)
		return (0);
	return (f->value_len == WS_ACCEPT_LEN &&
	    memcmp(head + f->value_off, want, WS_ACCEPT_LEN) == 0);
}

/*
 * The rest of the head: the request line if no regular field wrote it,
 * the joined cookies, a WebSocket's handshake, chunked framing for a
 * body of no stated length, the empty line.  -1 if it grows too large.
 */
static int
h2_head_finish(struct h2_stream *st)
{
	if (h2_request_line(st) == -1 || (st->st_cookie != NULL &&
	    h2_head_field(st, "cookie", 6, st->st_cookie->b_data +
	    st->st_cookie->b_off, st->st_cookie->b_len) == -1))
		return (-1);
	if (st->st_websocket && h2_ws_fields(st) == -1)
		return (-1);
	if (!st->st_eos && !st->st_websocket && !st->st_length) {
		st->st_chunked = 1;
		if (h2_head_append(st, "transfer-encoding: chunked\r\n",
		    28) == -1)
			return (-1);
	}
	return (h2_head_append(st, "\r\n", 2));
}

/*
 * The whole request head has come: finish its HTTP/1.1 form, parse it
 * and start its exchange, or answer it with an error of our own.
 */
void
h2_stream_start(struct h2_stream *st)
{
	struct client		*cl = st->st_hs->hs_cl;
	struct h2_session	*hs = st->st_hs;
	struct exchange		*xc;
	int			 ret = HTTP1_OK, status = 0;

	st->st_started = 1;
	if ((!st->st_eos && (st->st_reqin = buf_get()) == NULL) ||
	    (xc = xc_new(cl, st->st_req, st->st_reqin)) == NULL) {
		(void)nghttp2_submit_rst_stream(hs->hs_ngh, NGHTTP2_FLAG_NONE,
		    st->st_id, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	xc->xc_h2 = st;
	st->st_xc = xc;
	hs->hs_inflight++;
	worker_env->wk_stats.requests++;
	if (!st->st_toolarge && h2_head_finish(st) == -1)
		st->st_toolarge = 1;
	if (st->st_toolarge)
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
		    cl->cl_addr, st->st_id, status, st->st_toolarge ?
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
