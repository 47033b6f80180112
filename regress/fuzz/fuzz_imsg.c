/*
 * fuzz_imsg.c: libFuzzer harness for the message reader of imsg.c:
 * arbitrary bytes and descriptors, in arbitrary chunks, down a socketpair.
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
 * Input layout: byte 0 gives k = byte % 8, the next k bytes are chunk
 * controls used in turn (size = (c & 0x3f) + 1, sent with c >> 6
 * descriptors), the rest is the stream.  With k = 0 the
 * stream goes in writes of 4096 bytes.  Every message read is echoed
 * back through imsgbuf_compose/flush, so the write side and descriptor
 * hand-over run too.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../portero/portero.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 fuzz_lowfd(void);
static int	 fuzz_send(int, const uint8_t *, size_t, int);
static int	 fuzz_drain(struct imsgbuf *, struct imsgbuf *);

static struct imsgbuf	 rb, wb;
static volatile unsigned int	 sink;

/*
 * The lowest free descriptor number: the same before and after a run,
 * or imsg.c kept one.
 */
static int
fuzz_lowfd(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		abort();
	close(fd);
	return (fd);
}

static int
fuzz_send(int sock, const uint8_t *p, size_t len, int nfds)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(3 * sizeof(int))];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 fds[3], i;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 3)
		abort();
	if (nfds > 0) {
		for (i = 0; i < nfds; i++)
			if ((fds[i] = open("/dev/null",
			    O_RDONLY | O_CLOEXEC)) == -1)
				abort();
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	}
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	/* Chunks are small and the reader drains after each one. */
	return (n == (ssize_t)len ? 0 : -1);
}

/*
 * Read and take apart everything buffered.  Returns 1 while the
 * channel is usable, 0 once it has ended (EOF or malformed input).
 */
static int
fuzz_drain(struct imsgbuf *r, struct imsgbuf *echo)
{
	struct imsg	 m;
	const uint8_t	*p;
	ssize_t		 n;
	size_t		 i;
	unsigned int	 sum;

	for (;;) {
		n = imsgbuf_read(r);
		if (n == 0)
			return (0);
		if (n == -1) {
			/* Claimed messages leave room for a whole one. */
			if (errno == ENOBUFS)
				abort();
			return (errno == EAGAIN || errno == EINTR);
		}
		for (;;) {
			n = imsgbuf_get(r, &m);
			if (n == -1)
				return (0);
			if (n == 0)
				break;
			if ((size_t)n != IMSG_HEADER_SIZE + m.len ||
			    m.len > IMSG_MAX_PAYLOAD ||
			    (m.len == 0) != (m.data == NULL))
				abort();
			/* Every byte, so ASan sees any overread. */
			sum = m.hdr.type + m.hdr.peerid;
			for (i = 0, p = m.data; i < m.len; i++)
				sum += p[i];
			sink += sum;
			if (m.fd != -1 && fcntl(m.fd, F_GETFD) == -1)
				abort();
			if (imsgbuf_compose(echo, m.hdr.type, m.hdr.peerid,
			    m.hdr.pid, m.fd, m.data, m.len) == -1 &&
			    m.fd != -1)
				close(m.fd);
			(void)imsgbuf_flush(echo);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*ctl, *stream;
	size_t		 k, nstream, off, chunk, i;
	int		 sv[2], fl, alive = 1, lowfd;

	if (size == 0)
		return (0);
	k = data[0] % 8;
	if (size < 1 + k)
		return (0);
	ctl = data + 1;
	stream = data + 1 + k;
	nstream = size - 1 - k;
	lowfd = fuzz_lowfd();

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if ((fl = fcntl(sv[1], F_GETFL)) == -1 ||
	    fcntl(sv[1], F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (fl = fcntl(sv[0], F_GETFL)) == -1 ||
	    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) == -1)
		abort();
	imsgbuf_init(&rb, sv[1]);
	imsgbuf_init(&wb, sv[1]);

	for (off = 0, i = 0; off < nstream && alive; i++) {
		if (k == 0)
			chunk = 4096;
		else
			chunk = (ctl[i % k] & 0x3f) + 1;
		if (chunk > nstream - off)
			chunk = nstream - off;
		if (fuzz_send(sv[0], stream + off, chunk,
		    k == 0 ? 0 : ctl[i % k] >> 6) == -1)
			abort();
		off += chunk;
		alive = fuzz_drain(&rb, &wb);
	}
	if (alive) {
		shutdown(sv[0], SHUT_WR);
		(void)fuzz_drain(&rb, &wb);
	}

	imsgbuf_clear(&rb);
	imsgbuf_clear(&wb);
	close(sv[0]);
	close(sv[1]);

	if (fuzz_lowfd() != lowfd)
		abort();
	return (0);
}
