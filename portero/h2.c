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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "portero.h"
#include "http1.h"
#include "h2.h"

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

/* Streams kept for reuse, as exchanges are. */
#define H2_KEEP_FREE		64

/* Shared by every session of this worker. */
static nghttp2_session_callbacks *h2_callbacks;
static nghttp2_option		 *h2_options;
static struct h2_stream		 *h2_freelist;
static unsigned int		  h2_nfree;

static struct h2_stream *h2_stream_new(struct h2_session *, int32_t);
static void	 h2_stream_free(struct h2_stream *);
static void	 h2_give_window(struct h2_stream *);
static void	 h2_terminate(struct h2_session *, uint32_t, const char *);
static void	 h2_soon(int, short, void *);

static uint64_t
h2_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* A fresh buffer into *bp, if it has none; -1 out of memory. */
int
h2_buf(struct buf **bp, size_t size)
{
	if (*bp == NULL && (*bp = buf_get_size(size)) == NULL)
		return (-1);
	return (0);
}

static int
h2_on_header(nghttp2_session *ngh, const nghttp2_frame *frame,
    nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags, void *arg)
{
	struct h2_stream	*st;

	if ((st = nghttp2_session_get_stream_user_data(ngh,
	    frame->hd.stream_id)) != NULL)
		h2_stream_field(st, name, value);
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
	if ((st = h2_stream_new(hs, frame->hd.stream_id)) == NULL)
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	if (nghttp2_session_set_stream_user_data(ngh, st->st_id, st) != 0) {
		h2_stream_free(st);
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	}
	return (0);
}

/*
 * Rapid reset (CVE-2023-44487): requests the client reset before their
 * response ended, against --h2-reset-rate a second with a burst of
 * twice that.  Each may have cost a backend connection.
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
	/* one buffer, or for a wide window one as large as it */
	if (h2_buf(&st->st_body, BUF_SIZE) == -1 || buf_grow(&st->st_body,
	    len, worker_env->wk_conf.h2_window) == -1 ||
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
	/* a request reset before its answer ended: rapid reset counts it */
	if (st->st_reset && (st->st_xc != NULL || (st->st_headers &&
	    !st->st_started)))
		h2_count_reset(hs);
	if (st->st_xc != NULL) {
		log_debug("%s: stream %d closed (%s) before its response "
		    "ended", hs->hs_cl->cl_addr, id,
		    nghttp2_http2_strerror(code));
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
	/* a backstop for resets of streams without a request: ours, in
	   h2_count_reset(), ends a connection first, and calmly */
	nghttp2_option_set_stream_reset_rate_limit(h2_options,
	    8 * (uint64_t)conf->h2_reset_rate, 4 * conf->h2_reset_rate);
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
	nghttp2_settings_entry	 iv[5];
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
	/* no RFC 7540 priority tree to keep (RFC 9113 5.3.2) */
	iv[4].settings_id = NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES;
	iv[4].value = 1;
	/* every stream may hold its whole window at once */
	window = (uint64_t)conf->h2_max_streams * conf->h2_window;
	if (window > NGHTTP2_MAX_WINDOW_SIZE)
		window = NGHTTP2_MAX_WINDOW_SIZE;
	if (nghttp2_submit_settings(hs->hs_ngh, NGHTTP2_FLAG_NONE, iv, 5) !=
	    0 || nghttp2_session_set_local_window_size(hs->hs_ngh,
	    NGHTTP2_FLAG_NONE, 0, (int32_t)window) != 0) {
		nghttp2_session_del(hs->hs_ngh);
		free(hs);
		return (-1);
	}
	evtimer_set(&hs->hs_ev_soon, h2_soon, cl);
	cl->cl_h2 = hs;
	cl->cl_proto = &h2_proto;
	cl->cl_state = CL_H2;
	worker_env->wk_stats.h2_connections++;
	return (0);
}

/* Run the pump once the event loop has handed out this round's news. */
void
h2_pump_soon(struct h2_session *hs)
{
	if (hs->hs_soon)
		return;
	hs->hs_soon = 1;
	event_active(&hs->hs_ev_soon, EV_TIMEOUT, 1);
}

static void
h2_soon(int fd, short event, void *arg)
{
	struct client	*cl = arg;

	cl->cl_h2->hs_soon = 0;
	proxy_pump(cl);
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

void
h2_queue(struct h2_stream *st)
{
	if (st->st_queued || st->st_closed)
		return;
	st->st_queued = 1;
	TAILQ_INSERT_TAIL(&st->st_hs->hs_run, st, st_run);
}

/*
 * A stream for a request that begins, with room for its head: from the
 * free list (one malloc and a kilobyte of zeroes less a request) or
 * new.
 */
static struct h2_stream *
h2_stream_new(struct h2_session *hs, int32_t id)
{
	struct h2_stream	*st;
	struct http1_request	*req;

	if ((st = h2_freelist) != NULL) {
		h2_freelist = st->st_nextfree;
		h2_nfree--;
		req = st->st_req;
	} else if ((st = malloc(sizeof(*st))) == NULL)
		return (NULL);
	else if ((req = calloc(1, sizeof(*req))) == NULL) {
		free(st);
		return (NULL);
	}
	memset(st, 0, sizeof(*st));
	http1_request_reset(req);
	st->st_req = req;
	if ((st->st_head = buf_get()) == NULL) {
		free(st->st_req);
		free(st);
		return (NULL);
	}
	st->st_hs = hs;
	st->st_id = id;
	TAILQ_INSERT_TAIL(&hs->hs_streams, st, st_entry);
	hs->hs_nstreams++;
	worker_env->wk_stats.h2_streams++;
	return (st);
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
	hs->hs_nstreams--;
	worker_env->wk_stats.h2_streams--;
	if (h2_nfree >= H2_KEEP_FREE) {
		free(st->st_req);
		free(st);
		return;
	}
	st->st_nextfree = h2_freelist;
	h2_freelist = st;
	h2_nfree++;
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
		cl->cl_lean = 0;
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
	if (cl->cl_dead)
		return;		/* and the session with it */
	hs->hs_busy = 0;
	/* an idle connection holds no buffers: thousands may be open */
	if (cl->cl_in != NULL && cl->cl_in->b_len == 0) {
		buf_put(cl->cl_in);
		cl->cl_in = NULL;
	}
	if (cl->cl_out != NULL && cl->cl_out->b_len == 0) {
		buf_put(cl->cl_out);
		cl->cl_out = NULL;
	}
	if ((cl->cl_out == NULL || cl->cl_out->b_len == 0) &&
	    (hs->hs_closing || (!nghttp2_session_want_read(hs->hs_ngh) &&
	    !nghttp2_session_want_write(hs->hs_ngh)))) {
		proxy_close(cl);
		return;
	}
	h2_timer_update(cl);
}

/* No stream open: the connection waits for its client. */
int
h2_idle(struct client *cl)
{
	return (cl->cl_h2->hs_nstreams == 0 && cl->cl_out == NULL);
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
	if (hs->hs_soon)
		event_del(&hs->hs_ev_soon);
	nghttp2_session_del(hs->hs_ngh);
	free(hs);
	worker_env->wk_stats.h2_connections--;
}
