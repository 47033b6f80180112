/*
 * imsg.c: message framing over a socketpair: the read buffer, header
 * checks, received and sent descriptors, and the bounded write queue.
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
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

/* Enough iovecs per sendmsg to empty a queue of small messages at once. */
#define IMSG_FLUSH_IOV	64

/* Received descriptors must not leak into the children the parent execs. */
#ifdef MSG_CMSG_CLOEXEC
#define IMSG_RECV_FLAGS	MSG_CMSG_CLOEXEC
#else
#define IMSG_RECV_FLAGS	0
#endif

static void	imsgbuf_closefds(const int *, int);
static void	imsgbuf_dequeue(struct imsgbuf *, struct ibuf *);

void
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	TAILQ_INIT(&ibuf->wqueue);
}

static void
imsgbuf_closefds(const int *fds, int nfds)
{
	int	 i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/*
 * One recvmsg.  Returns the bytes read, 0 on EOF, or -1 with errno;
 * EAGAIN and EINTR are for the caller to wait on, anything else ends
 * the channel.  Moves the unread bytes, so any imsg.data goes stale.
 */
ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IMSG_MAX_FDS)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 fds[IMSG_MAX_FDS];
	int		 fd, nfds = 0, bad = 0;
	size_t		 i, n, unread;
	ssize_t		 r;

	/* Move the unread tail down so a whole message always fits. */
	unread = ibuf->rlen - ibuf->roff;
	if (ibuf->roff > 0) {
		if (unread > 0)
			memmove(ibuf->rbuf, ibuf->rbuf + ibuf->roff, unread);
		ibuf->rlen = unread;
		ibuf->roff = 0;
	}
	if (ibuf->rlen >= sizeof(ibuf->rbuf)) {
		errno = ENOBUFS;
		return (-1);
	}

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = sizeof(ibuf->rbuf) - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	if ((r = recvmsg(ibuf->fd, &msg, IMSG_RECV_FLAGS)) == -1)
		return (-1);

	/*
	 * Collect every descriptor first, so that whatever goes wrong
	 * below, each one is either queued or closed, never lost.
	 */
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS ||
		    cmsg->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(fd));
			if (nfds == IMSG_MAX_FDS) {
				/* Cannot happen: the buffer holds no more. */
				close(fd);
				bad = 1;
				continue;
			}
			fds[nfds++] = fd;
		}
	}

	if (msg.msg_flags & MSG_CTRUNC)
		bad = 1;
	if (ibuf->nrfds + nfds > IMSG_MAX_FDS)
		bad = 1;
	if (bad) {
		/* The channel is ending; the bytes no longer matter. */
		imsgbuf_closefds(fds, nfds);
		errno = EBADMSG;
		return (-1);
	}
	memcpy(ibuf->rfds + ibuf->nrfds, fds, nfds * sizeof(int));
	ibuf->nrfds += nfds;

	ibuf->rlen += r;
	return (r);
}

/*
 * The next whole message, pointing into rbuf: returns its length, 0 if
 * it has not all arrived, or -1 with EBADMSG if it can never be valid.
 */
ssize_t
imsgbuf_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 avail;

	avail = ibuf->rlen - ibuf->roff;
	if (avail < IMSG_HEADER_SIZE)
		return (0);

	/* rbuf + roff has no alignment: copy, never cast. */
	memcpy(&hdr, ibuf->rbuf + ibuf->roff, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE ||
	    hdr.len - IMSG_HEADER_SIZE > IMSG_MAX_PAYLOAD ||
	    hdr.type <= IMSG_NONE || hdr.type >= IMSG_TYPE_MAX ||
	    (hdr.flags & ~IMSGF_HASFD) != 0) {
		errno = EBADMSG;
		return (-1);
	}
	if (avail < hdr.len)
		return (0);

	imsg->fd = -1;
	if (hdr.flags & IMSGF_HASFD) {
		if (ibuf->nrfds == 0) {
			errno = EBADMSG;
			return (-1);
		}
		imsg->fd = ibuf->rfds[0];
		ibuf->nrfds--;
		memmove(ibuf->rfds, ibuf->rfds + 1,
		    ibuf->nrfds * sizeof(int));
	}

	imsg->hdr = hdr;
	imsg->len = hdr.len - IMSG_HEADER_SIZE;
	if (imsg->len > 0)
		imsg->data = ibuf->rbuf + ibuf->roff + IMSG_HEADER_SIZE;
	else
		imsg->data = NULL;
	ibuf->roff += hdr.len;
	return (hdr.len);
}

int
imsgbuf_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t len)
{
	struct iovec	 iov;

	if (len == 0)
		return (imsgbuf_composev(ibuf, type, peerid, pid, fd, NULL, 0));
	/* iov_base is not const; composev only reads through it. */
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return (imsgbuf_composev(ibuf, type, peerid, pid, fd, &iov, 1));
}

/*
 * Queue one message.  On success the queue owns fd; on failure the
 * caller still does.
 */
int
imsgbuf_composev(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const struct iovec *iov, int iovcnt)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*buf;
	size_t		 len = 0, total, off;
	int		 i;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL) || fd < -1 ||
	    type <= IMSG_NONE || type >= IMSG_TYPE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0 && iov[i].iov_base == NULL) {
			errno = EINVAL;
			return (-1);
		}
		/* Checked one by one, so the sum cannot wrap. */
		if (iov[i].iov_len > IMSG_MAX_PAYLOAD - len) {
			errno = EMSGSIZE;
			return (-1);
		}
		len += iov[i].iov_len;
	}
	total = IMSG_HEADER_SIZE + len;
	if (total > IMSG_WQUEUE_MAX - ibuf->wqueued) {
		errno = ENOBUFS;
		return (-1);
	}

	if ((buf = malloc(sizeof(*buf) + total)) == NULL)
		return (-1);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = total;
	hdr.peerid = peerid;
	hdr.pid = pid == 0 ? (uint32_t)ibuf->pid : (uint32_t)pid;
	hdr.flags = fd == -1 ? 0 : IMSGF_HASFD;
	memcpy(buf->data, &hdr, sizeof(hdr));
	off = sizeof(hdr);
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(buf->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	buf->len = total;
	buf->off = 0;
	buf->fd = fd;

	TAILQ_INSERT_TAIL(&ibuf->wqueue, buf, entry);
	ibuf->wqueued += total;
	return (0);
}

static void
imsgbuf_dequeue(struct imsgbuf *ibuf, struct ibuf *buf)
{
	TAILQ_REMOVE(&ibuf->wqueue, buf, entry);
	ibuf->wqueued -= buf->len - buf->off;
	if (buf->fd != -1)
		close(buf->fd);
	/* messages carry private keys and ticket keys: leave no copy */
	freezero(buf, sizeof(*buf) + buf->len);
}

/*
 * Write what the socket takes now.  Returns 0 (the queue may still hold
 * data after EAGAIN) or -1 with errno when the channel is broken.
 */
int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct iovec	 iov[IMSG_FLUSH_IOV];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct ibuf	*buf, *next;
	size_t		 n, left;
	ssize_t		 r;
	int		 iovcnt;

	while ((buf = TAILQ_FIRST(&ibuf->wqueue)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iovcnt = 0;
		TAILQ_FOREACH(buf, &ibuf->wqueue, entry) {
			if (iovcnt == IMSG_FLUSH_IOV)
				break;
			/*
			 * A descriptor travels with the first byte of its
			 * message, so its buffer must lead the sendmsg.
			 */
			if (buf->fd != -1 && iovcnt > 0)
				break;
			iov[iovcnt].iov_base = buf->data + buf->off;
			iov[iovcnt].iov_len = buf->len - buf->off;
			iovcnt++;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = iovcnt;

		buf = TAILQ_FIRST(&ibuf->wqueue);
		if (buf->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &buf->fd, sizeof(int));
		}

		if ((r = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			return (-1);
		}
		if (r == 0)
			return (0);

		/* Sent: the peer holds its own copy of the descriptor. */
		if (buf->fd != -1) {
			close(buf->fd);
			buf->fd = -1;
		}

		left = r;
		for (buf = TAILQ_FIRST(&ibuf->wqueue); buf != NULL && left > 0;
		    buf = next) {
			next = TAILQ_NEXT(buf, entry);
			n = buf->len - buf->off;
			if (left < n) {
				buf->off += left;
				ibuf->wqueued -= left;
				break;
			}
			left -= n;
			imsgbuf_dequeue(ibuf, buf);
		}
	}
	return (0);
}

size_t
imsgbuf_queued(const struct imsgbuf *ibuf)
{
	return (ibuf->wqueued);
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&ibuf->wqueue)) != NULL)
		imsgbuf_dequeue(ibuf, buf);
	ibuf->wqueued = 0;

	imsgbuf_closefds(ibuf->rfds, ibuf->nrfds);
	ibuf->nrfds = 0;
	ibuf->rlen = 0;
	ibuf->roff = 0;
}
