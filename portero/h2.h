/*
 * h2.h: what h2.c (the HTTP/2 session) and h2stream.c (a stream as an
 * exchange) share.
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

#ifndef H2_H
#define H2_H

/* Bytes of a frame header, before every DATA payload we write. */
#define H2_FRAME_HEAD		9
/* A Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 4.1). */
#define WS_KEY_LEN		24
#define WS_ACCEPT_LEN		28
#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct h2_session;

/* A stream: one request, its exchange, and what HTTP/2 adds. */
struct h2_stream {
	TAILQ_ENTRY(h2_stream)	 st_entry;	/* the session's */
	TAILQ_ENTRY(h2_stream)	 st_run;	/* to be stepped */
	struct h2_session	*st_hs;
	struct h2_stream	*st_nextfree;	/* the free list */
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
	uint8_t			 st_websocket;	/* extended CONNECT */
	uint8_t			 st_protocol;	/* some :protocol came */
	uint8_t			 st_length;	/* a content-length came */
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
	char			 st_wskey[WS_KEY_LEN + 1];	/* ours */
	size_t			 st_listsize;	/* RFC 9113 6.5.2 counting */
	uint64_t		 st_received;	/* DATA payload that came */
	uint64_t		 st_framing;	/* chunk framing we added */
	uint64_t		 st_consumed;	/* given back to the window */
};

/* A client connection speaking HTTP/2. */
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
	int			 hs_soon;	/* hs_ev_soon is active */
	struct event		 hs_ev_soon;	/* a pump after this round */
	double			 hs_reset_tokens; /* rapid reset bucket */
	uint64_t		 hs_reset_ms;	/* when last filled */
};

/* h2.c */
int	 h2_buf(struct buf **, size_t);
void	 h2_queue(struct h2_stream *);
void	 h2_pump_soon(struct h2_session *);

/* h2stream.c */
extern const struct client_proto h2_proto;
void	 h2_stream_field(struct h2_stream *, nghttp2_rcbuf *,
	    nghttp2_rcbuf *);
void	 h2_stream_start(struct h2_stream *);
struct buf *h2_body_source(struct h2_stream *, size_t *, int *);
ssize_t	 h2_data_read(nghttp2_session *, int32_t, uint8_t *, size_t,
	    uint32_t *, nghttp2_data_source *, void *);

#endif /* H2_H */
