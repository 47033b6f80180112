/*
 * conn.c: a socket with or without TLS, read and written the same way,
 * and the fixed-size buffers connections borrow while a request is in
 * flight.
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
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

/* Free buffers, kept for reuse; one list per worker process. */
static struct buf	*buf_freelist;
static unsigned int	 buf_nfree;

#define BUF_KEEP_FREE	256

static void	 conn_event(int, short, void *);
static int	 conn_early_close(struct conn *);

struct buf *
buf_get(void)
{
	struct buf	*b;

	if ((b = buf_freelist) != NULL) {
		buf_freelist = b->b_next;
		buf_nfree--;
	} else if ((b = malloc(sizeof(*b) + BUF_SIZE)) == NULL)
		return (NULL);
	b->b_next = NULL;
	b->b_size = BUF_SIZE;
	b->b_off = b->b_len = 0;
	return (b);
}

/*
 * A buffer of at least size bytes.  Larger ones than BUF_SIZE are rare
 * (an HTTP/2 header list over 32 KiB, a wide flow-control window) and
 * not kept for reuse.
 */
struct buf *
buf_get_size(size_t size)
{
	struct buf	*b;

	if (size <= BUF_SIZE)
		return (buf_get());
	if ((b = malloc(sizeof(*b) + size)) == NULL)
		return (NULL);
	b->b_next = NULL;
	b->b_size = size;
	b->b_off = b->b_len = 0;
	return (b);
}

void
buf_put(struct buf *b)
{
	if (b == NULL)
		return;
	if (buf_nfree >= BUF_KEEP_FREE || b->b_size != BUF_SIZE) {
		free(b);
		return;
	}
	b->b_next = buf_freelist;
	buf_freelist = b;
	buf_nfree++;
}

/*
 * Room for len more bytes in *bp: the buffer moves into a larger one,
 * of max bytes, when its own size is not enough.  -1 if max is not
 * enough either, or on no memory.
 */
int
buf_grow(struct buf **bp, size_t len, size_t max)
{
	struct buf	*b = *bp, *nb;

	if (b->b_off + b->b_len + len <= b->b_size)
		return (0);
	buf_compact(b);
	if (b->b_len + len <= b->b_size)
		return (0);
	if (b->b_len + len > max || (nb = buf_get_size(max)) == NULL)
		return (-1);
	memcpy(nb->b_data, b->b_data, b->b_len);
	nb->b_len = b->b_len;
	buf_put(b);
	*bp = nb;
	return (0);
}

/* Move the unread bytes to the front, so the tail has room again. */
void
buf_compact(struct buf *b)
{
	if (b->b_off == 0)
		return;
	if (b->b_len > 0)
		memmove(b->b_data, b->b_data + b->b_off, b->b_len);
	b->b_off = 0;
}

/*
 * Room for len more bytes at the end of b, counted in at once: the
 * caller fills them.  NULL if they do not fit.
 */
char *
buf_reserve(struct buf *b, size_t len)
{
	char	*p;

	if (b->b_off + b->b_len + len > b->b_size) {
		buf_compact(b);
		if (b->b_len + len > b->b_size)
			return (NULL);
	}
	p = b->b_data + b->b_off + b->b_len;
	b->b_len += len;
	return (p);
}

/*
 * A header field line, "Name: value" and CRLF, in one reservation: a
 * request forwards five or so, and four appends each added up.
 */
int
buf_field(struct buf *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	char	*p;

	if ((p = buf_reserve(b, namelen + valuelen + 4)) == NULL)
		return (-1);
	memcpy(p, name, namelen);
	p += namelen;
	*p++ = ':';
	*p++ = ' ';
	memcpy(p, value, valuelen);
	p += valuelen;
	*p++ = '\r';
	*p = '\n';
	return (0);
}

/* Append to a buffer; -1 if it does not fit. */
int
buf_append(struct buf *b, const char *p, size_t len)
{
	if (b->b_off + b->b_len + len > b->b_size) {
		buf_compact(b);
		if (b->b_len + len > b->b_size)
			return (-1);
	}
	memcpy(b->b_data + b->b_off + b->b_len, p, len);
	b->b_len += len;
	return (0);
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room;
	int	 n;

	buf_compact(b);
	room = b->b_size - b->b_len;
	va_start(ap, fmt);
	n = vsnprintf(b->b_data + b->b_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return (-1);
	b->b_len += n;
	return (0);
}

void
buf_consume(struct buf *b, size_t n)
{
	b->b_off += n;
	b->b_len -= n;
	if (b->b_len == 0)
		b->b_off = 0;
}

/*
 * Read into the free tail of b.  Returns bytes read, 0 at EOF, CONN_WANT
 * when the socket (or TLS) has nothing now, -1 on error.
 */
ssize_t
conn_read(struct conn *c, struct buf *b)
{
	size_t	 room;
	ssize_t	 n;

	if (b->b_off + b->b_len == b->b_size)
		buf_compact(b);
	room = b->b_size - b->b_off - b->b_len;
	if (room == 0 || c->c_drained)
		return (CONN_WANT);
	if (c->c_tls != NULL) {
		n = ptls_read(c->c_tls, b->b_data + b->b_off + b->b_len, room);
		if (n == PTLS_WANT_READ || n == PTLS_WANT_WRITE)
			return (CONN_WANT);
		if (n == -1)
			return (-1);
		c->c_drained = n > 0 && conn_early_close(c) &&
		    ptls_drained(c->c_tls);
	} else {
		n = read(c->c_fd, b->b_data + b->b_off + b->b_len, room);
		if (n == -1)
			return ((errno == EAGAIN || errno == EINTR) ?
			    CONN_WANT : -1);
		c->c_drained = n > 0 && conn_early_close(c) &&
		    (size_t)n < room;
	}
	b->b_len += n;
	c->c_nread += n;
	return (n);
}

/* Write from p; returns bytes written, CONN_WANT, or -1. */
ssize_t
conn_write(struct conn *c, const void *p, size_t len)
{
	ssize_t	 n;

	if (len == 0)
		return (0);
	if (c->c_tls != NULL) {
		n = ptls_write(c->c_tls, p, len);
		if (n == PTLS_WANT_READ || n == PTLS_WANT_WRITE)
			return (CONN_WANT);
	} else {
		n = send(c->c_fd, p, len, MSG_NOSIGNAL);
		if (n == -1)
			return ((errno == EAGAIN || errno == EINTR) ?
			    CONN_WANT : -1);
	}
	if (n > 0)
		c->c_nwritten += n;
	return (n);
}

/*
 * Edge-triggered: one registration for the connection's life, and the
 * owner keeps going until the socket says it would block, or a read
 * got less than it asked for (c_drained): the socket was empty then,
 * and bytes that came since make a new edge.  That spares the read
 * that would only say EAGAIN, one system call a request.  A FIN that
 * came with the last bytes makes no new edge, though: only where the
 * event loop reports the peer's close (EV_CLOSED, epoll's EPOLLRDHUP)
 * is a short read taken for an empty socket, and never after a FIN.
 */
void
conn_watch(struct conn *c, void (*cb)(int, short, void *), void *arg)
{
	short	 events = EV_READ | EV_WRITE | EV_PERSIST | EV_ET;

#ifdef EV_CLOSED
	events |= EV_CLOSED;
#endif
	c->c_cb = cb;
	c->c_arg = arg;
	event_set(&c->c_ev, c->c_fd, events, conn_event, c);
	event_add(&c->c_ev, NULL);
	c->c_watched = 1;
}

static void
conn_event(int fd, short event, void *arg)
{
	struct conn	*c = arg;

#ifdef EV_CLOSED
	if (event & EV_CLOSED) {
		c->c_rdhup = 1;
		event = (event & ~EV_CLOSED) | EV_READ;
	}
#endif
	if (event & EV_READ)
		c->c_drained = 0;
	c->c_cb(fd, event, c->c_arg);
}

/* May a short read be taken for an empty socket?  See conn_watch(). */
static int
conn_early_close(struct conn *c)
{
#ifdef EV_CLOSED
	static int	 early = -1;

	if (early == -1)
		early = (event_base_get_features(event_get_base(&c->c_ev)) &
		    EV_FEATURE_EARLY_CLOSE) != 0;
	return (early && c->c_watched && !c->c_rdhup);
#else
	return (0);
#endif
}

/* No more bytes from us: the peer reads the end; we may still read. */
void
conn_shutdown(struct conn *c)
{
	if (c->c_tls != NULL)
		(void)ptls_close(c->c_tls);	/* close_notify */
	else
		(void)shutdown(c->c_fd, SHUT_WR);
}

void
conn_close(struct conn *c)
{
	if (c->c_watched) {
		event_del(&c->c_ev);
		c->c_watched = 0;
	}
	if (c->c_tls != NULL) {
		/* best effort close_notify; never wait for the peer's */
		(void)ptls_close(c->c_tls);
		ptls_free(c->c_tls);
		c->c_tls = NULL;
	}
	if (c->c_fd != -1) {
		close(c->c_fd);
		c->c_fd = -1;
	}
}
