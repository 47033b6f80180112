/*
 * test_imsg.c: unit tests of the message framing layer (portero/imsg.c)
 * over non-blocking AF_UNIX socketpairs; one PASS/FAIL line per case.
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
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../portero/portero.h"

#define WAIT_MS		2000	/* no step of any case takes longer */
#define FD_SCAN		1024	/* highest descriptor counted for leaks */

/* A failing check prints its line and leaves the case through fail:. */
#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fail_line(name, __VA_ARGS__);				\
		goto fail;						\
	}								\
} while (0)

static int	 npass, nfail;

static void	 fail_line(const char *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 pass_line(const char *);
static int	 count_fds(void);
static int	 fd_is_open(int);
static int	 pair_open(int [2]);
static int	 pipe_nb(int [2]);
static void	 pair_close(int [2]);
static int	 wait_fd(int, short);
static ssize_t	 recv_msg(struct imsgbuf *, struct imsgbuf *, struct imsg *);
static int	 drain_out(struct imsgbuf *);
static void	 fill(unsigned char *, size_t, unsigned int);
static int	 check_fill(const unsigned char *, size_t, unsigned int);
static int	 raw_write(int, const void *, size_t);
static void	 put_hdr(unsigned char *, uint32_t, uint32_t, uint32_t,
		    uint32_t, uint32_t);
static int	 send_fds(int, const void *, size_t, const int *, int);

static void	 test_roundtrip(void);
static void	 test_composev(void);
static void	 test_pid(void);
static void	 test_split(void);
static void	 test_fdpass(void);
static void	 test_fdfifo(void);
static void	 test_oversize(void);
static void	 test_badtype_compose(void);
static void	 test_wqueue_bound(void);
static void	 test_malformed(void);
static void	 test_too_many_fds(void);
static void	 test_rbuf_full(void);
static void	 test_eof(void);
static void	 test_epipe(void);
static void	 test_full_socket(void);
static void	 test_clear(void);

static void
fail_line(const char *name, const char *fmt, ...)
{
	va_list	 ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	nfail++;
}

static void
pass_line(const char *name)
{
	printf("PASS %s\n", name);
	fflush(stdout);
	npass++;
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

/* Portable enough for Linux and the BSDs: no /proc needed. */
static int
count_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < FD_SCAN; fd++)
		if (fd_is_open(fd))
			n++;
	return (n);
}

static int
pair_open(int sv[2])
{
	int	 i, fl;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return (-1);
	for (i = 0; i < 2; i++) {
		if ((fl = fcntl(sv[i], F_GETFL)) == -1 ||
		    fcntl(sv[i], F_SETFL, fl | O_NONBLOCK) == -1) {
			close(sv[0]);
			close(sv[1]);
			sv[0] = sv[1] = -1;
			return (-1);
		}
	}
	return (0);
}

/* Non-blocking, so a descriptor mixed up in transit fails, not hangs. */
static int
pipe_nb(int p[2])
{
	int	 i, fl;

	if (pipe(p) == -1)
		return (-1);
	for (i = 0; i < 2; i++) {
		if ((fl = fcntl(p[i], F_GETFL)) == -1 ||
		    fcntl(p[i], F_SETFL, fl | O_NONBLOCK) == -1) {
			close(p[0]);
			close(p[1]);
			p[0] = p[1] = -1;
			return (-1);
		}
	}
	return (0);
}

static void
pair_close(int sv[2])
{
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

static int
wait_fd(int fd, short events)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = events;
	pfd.revents = 0;
	do {
		r = poll(&pfd, 1, WAIT_MS);
	} while (r == -1 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		return (-1);
	}
	return (r == -1 ? -1 : 0);
}

/*
 * Get the next message from rb, flushing wb (if any) and reading as
 * needed.  Returns the message length, -1 with errno, or 0 on EOF.
 */
static ssize_t
recv_msg(struct imsgbuf *rb, struct imsgbuf *wb, struct imsg *m)
{
	ssize_t	 n;

	for (;;) {
		if ((n = imsgbuf_get(rb, m)) != 0)
			return (n);
		if (wb != NULL && imsgbuf_flush(wb) == -1)
			return (-1);
		n = imsgbuf_read(rb);
		if (n == 0)
			return (0);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				return (-1);
			if (wait_fd(rb->fd, POLLIN) == -1)
				return (-1);
		}
	}
}

/* Flush until the queue is empty; the peer must be reading. */
static int
drain_out(struct imsgbuf *wb)
{
	int	 i;

	for (i = 0; imsgbuf_queued(wb) > 0; i++) {
		/* A count that disagrees with the queue must not hang us. */
		if (i == 100000 || TAILQ_EMPTY(&wb->wqueue)) {
			errno = ETIMEDOUT;
			return (-1);
		}
		if (imsgbuf_flush(wb) == -1)
			return (-1);
		if (imsgbuf_queued(wb) > 0 && wait_fd(wb->fd, POLLOUT) == -1)
			return (-1);
	}
	return (0);
}

static void
fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static int
check_fill(const unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7 + (i >> 8)))
			return (-1);
	return (0);
}

static int
raw_write(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wait_fd(fd, POLLOUT) == 0)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
}

static void
put_hdr(unsigned char *p, uint32_t type, uint32_t len, uint32_t peerid,
    uint32_t pid, uint32_t flags)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.pid = pid;
	hdr.flags = flags;
	memcpy(p, &hdr, sizeof(hdr));
}

/* Send bytes with any number of descriptors, bypassing imsg.c. */
static int
send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	void		*cbuf = NULL;
	size_t		 clen;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		clen = CMSG_SPACE(nfds * sizeof(int));
		if ((cbuf = calloc(1, clen)) == NULL)
			return (-1);
		msg.msg_control = cbuf;
		msg.msg_controllen = clen;
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	}
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	free(cbuf);
	return (n == (ssize_t)len ? 0 : -1);
}

static void
test_roundtrip(void)
{
	const char		*name = "imsg_roundtrip";
	static const size_t	 sizes[] = { 0, 1, 7, 20, 100, 4095, 4096,
				    IMSG_MAX_PAYLOAD - 1, IMSG_MAX_PAYLOAD,
				    0, 3, IMSG_MAX_PAYLOAD };
	struct imsgbuf		*a = NULL, *b = NULL;
	struct imsg		 m;
	unsigned char		*buf = NULL;
	int			 sv[2] = { -1, -1 }, fds0;
	size_t			 i, n = sizeof(sizes) / sizeof(sizes[0]);
	ssize_t			 r;

	fds0 = count_fds();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	buf = malloc(IMSG_MAX_PAYLOAD);
	CHECK(a != NULL && b != NULL && buf != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);

	for (i = 0; i < n; i++) {
		fill(buf, sizes[i], i);
		CHECK(imsgbuf_compose(a, IMSG_CFG_GLOBAL + i % 5, 1000 + i,
		    0, -1, sizes[i] ? buf : NULL, sizes[i]) == 0,
		    "compose %zu: %s", sizes[i], strerror(errno));
	}
	for (i = 0; i < n; i++) {
		r = recv_msg(b, a, &m);
		CHECK(r > 0, "message %zu: got %zd (%s)", i, r,
		    strerror(errno));
		CHECK((size_t)r == IMSG_HEADER_SIZE + sizes[i],
		    "message %zu: length %zd", i, r);
		CHECK(m.hdr.type == IMSG_CFG_GLOBAL + i % 5,
		    "message %zu: type %u", i, m.hdr.type);
		CHECK(m.hdr.peerid == 1000 + i, "message %zu: peerid", i);
		CHECK(m.hdr.pid == (uint32_t)getpid(), "message %zu: pid", i);
		CHECK(m.hdr.flags == 0, "message %zu: flags", i);
		CHECK(m.fd == -1, "message %zu: fd %d", i, m.fd);
		CHECK(m.len == sizes[i], "message %zu: len %zu", i, m.len);
		if (sizes[i] == 0)
			CHECK(m.data == NULL, "message %zu: data not NULL", i);
		else
			CHECK(m.data != NULL &&
			    check_fill(m.data, m.len, i) == 0,
			    "message %zu: payload differs", i);
	}
	CHECK(imsgbuf_queued(a) == 0 && TAILQ_EMPTY(&a->wqueue),
	    "queue holds %zu", imsgbuf_queued(a));
	CHECK(imsgbuf_get(b, &m) == 0, "extra message");
	CHECK(imsgbuf_read(b) == -1 && errno == EAGAIN, "extra bytes");
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	CHECK(count_fds() == fds0, "descriptor leak");
	pass_line(name);
	free(a);
	free(b);
	free(buf);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(a);
	free(b);
	free(buf);
}

static void
test_composev(void)
{
	const char	*name = "imsg_composev";
	struct imsgbuf	*a = NULL, *b = NULL;
	struct imsg	 m;
	struct iovec	 iov[4];
	unsigned char	 buf[300];
	int		 sv[2] = { -1, -1 };
	ssize_t		 r;

	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	CHECK(a != NULL && b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);

	fill(buf, sizeof(buf), 9);
	iov[0].iov_base = buf;
	iov[0].iov_len = 100;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = buf + 100;
	iov[2].iov_len = 1;
	iov[3].iov_base = buf + 101;
	iov[3].iov_len = sizeof(buf) - 101;
	CHECK(imsgbuf_composev(a, IMSG_STATS, 5, 0, -1, iov, 4) == 0,
	    "composev: %s", strerror(errno));
	CHECK(imsgbuf_composev(a, IMSG_CTL_END, 6, 0, -1, NULL, 0) == 0,
	    "composev empty: %s", strerror(errno));
	CHECK(imsgbuf_queued(a) == 2 * IMSG_HEADER_SIZE + sizeof(buf),
	    "queued %zu", imsgbuf_queued(a));

	r = recv_msg(b, a, &m);
	CHECK(r == (ssize_t)(IMSG_HEADER_SIZE + sizeof(buf)), "got %zd", r);
	CHECK(m.hdr.type == IMSG_STATS && m.hdr.peerid == 5, "header");
	CHECK(m.len == sizeof(buf) && check_fill(m.data, m.len, 9) == 0,
	    "payload differs");
	r = recv_msg(b, a, &m);
	CHECK(r == (ssize_t)IMSG_HEADER_SIZE, "got %zd", r);
	CHECK(m.hdr.type == IMSG_CTL_END && m.len == 0 && m.data == NULL,
	    "empty message");
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	pass_line(name);
	free(a);
	free(b);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(a);
	free(b);
}

static void
test_pid(void)
{
	const char	*name = "imsg_pid";
	struct imsgbuf	*a = NULL, *b = NULL;
	struct imsg	 m;
	int		 sv[2] = { -1, -1 };

	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	CHECK(a != NULL && b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);
	CHECK(a->pid == getpid(), "cached pid %d", (int)a->pid);

	CHECK(imsgbuf_compose(a, IMSG_START, 0, 0, -1, NULL, 0) == 0,
	    "compose: %s", strerror(errno));
	CHECK(imsgbuf_compose(a, IMSG_START, 0, 4242, -1, NULL, 0) == 0,
	    "compose: %s", strerror(errno));
	CHECK(recv_msg(b, a, &m) > 0, "recv: %s", strerror(errno));
	CHECK(m.hdr.pid == (uint32_t)getpid(), "pid 0 gave %u", m.hdr.pid);
	CHECK(recv_msg(b, a, &m) > 0, "recv: %s", strerror(errno));
	CHECK(m.hdr.pid == 4242, "pid 4242 gave %u", m.hdr.pid);
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	pass_line(name);
	free(a);
	free(b);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(a);
	free(b);
}

/* The other end writes one byte at a time; nothing comes out early. */
static void
test_split(void)
{
	const char	*name = "imsg_split_reads";
	struct imsgbuf	*b = NULL;
	struct imsg	 m;
	unsigned char	 msg[2 * IMSG_HEADER_SIZE + 64];
	size_t		 i, total = sizeof(msg);
	size_t		 first = IMSG_HEADER_SIZE + 64;
	ssize_t		 r;
	int		 sv[2] = { -1, -1 }, got = 0;

	b = malloc(sizeof(*b));
	CHECK(b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(b, sv[1]);

	/* One message with 64 bytes, then an empty one. */
	put_hdr(msg, IMSG_CFG_DONE, first, 77, 1, 0);
	fill(msg + IMSG_HEADER_SIZE, 64, 3);
	put_hdr(msg + first, IMSG_SHUTDOWN, IMSG_HEADER_SIZE, 78, 1, 0);

	for (i = 0; i < total; i++) {
		CHECK(raw_write(sv[0], msg + i, 1) == 0, "write byte %zu", i);
		r = imsgbuf_read(b);
		CHECK(r == 1, "read at byte %zu gave %zd", i, r);
		r = imsgbuf_get(b, &m);
		if (i + 1 == first || i + 1 == total) {
			CHECK(r > 0, "no message after byte %zu (%zd)", i, r);
			got++;
			if (got == 1)
				CHECK(m.hdr.type == IMSG_CFG_DONE &&
				    m.hdr.peerid == 77 && m.len == 64 &&
				    check_fill(m.data, 64, 3) == 0,
				    "first message differs");
			else
				CHECK(m.hdr.type == IMSG_SHUTDOWN &&
				    m.hdr.peerid == 78 && m.len == 0,
				    "second message differs");
			CHECK(imsgbuf_get(b, &m) == 0, "extra message");
		} else
			CHECK(r == 0, "get at byte %zu gave %zd", i, r);
	}
	CHECK(got == 2, "got %d messages", got);
	imsgbuf_clear(b);
	pair_close(sv);
	pass_line(name);
	free(b);
	return;
fail:
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(b);
}

static void
test_fdpass(void)
{
	const char	*name = "imsg_fd_pass";
	struct imsgbuf	*a = NULL, *b = NULL;
	struct imsg	 m;
	char		 out[16];
	int		 sv[2] = { -1, -1 }, p[2] = { -1, -1 }, fds0;
	ssize_t		 r;

	m.fd = -1;
	fds0 = count_fds();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	CHECK(a != NULL && b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(pipe_nb(p) == 0, "pipe: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);

	CHECK(imsgbuf_compose(a, IMSG_CFG_LISTENER, 1, 0, p[1], "abc",
	    3) == 0, "compose: %s", strerror(errno));
	CHECK(fd_is_open(p[1]), "fd closed before it was sent");
	CHECK(imsgbuf_flush(a) == 0, "flush: %s", strerror(errno));
	CHECK(imsgbuf_queued(a) == 0, "not all sent");
	CHECK(!fd_is_open(p[1]), "sent fd still open at the sender");
	p[1] = -1;

	r = recv_msg(b, NULL, &m);
	CHECK(r > 0, "recv: %zd %s", r, strerror(errno));
	CHECK(m.hdr.flags == IMSGF_HASFD, "flags %#x", m.hdr.flags);
	CHECK(m.fd != -1, "no fd");
	CHECK(m.len == 3 && memcmp(m.data, "abc", 3) == 0, "payload");
	CHECK(b->nrfds == 0, "%d fds left queued", b->nrfds);
#ifdef MSG_CMSG_CLOEXEC
	CHECK(fcntl(m.fd, F_GETFD) & FD_CLOEXEC, "received fd not cloexec");
#endif
	CHECK(write(m.fd, "through", 7) == 7, "write: %s", strerror(errno));
	close(m.fd);
	m.fd = -1;
	CHECK(read(p[0], out, sizeof(out)) == 7 &&
	    memcmp(out, "through", 7) == 0, "pipe data differs");
	close(p[0]);
	p[0] = -1;
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	CHECK(count_fds() == fds0, "descriptor leak");
	pass_line(name);
	free(a);
	free(b);
	return;
fail:
	if (m.fd != -1)
		close(m.fd);
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	pair_close(p);
	free(a);
	free(b);
}

/*
 * Several descriptors, queued between plain messages, arrive in order;
 * also received in one read before any is claimed.
 */
static void
test_fdfifo(void)
{
	const char	*name = "imsg_fd_fifo";
	struct imsgbuf	*a = NULL, *b = NULL;
	struct imsg	 m;
	int		 sv[2] = { -1, -1 }, p[5][2], fds0, i, k, j;
	unsigned char	 c;
	ssize_t		 r;

	for (i = 0; i < 5; i++)
		p[i][0] = p[i][1] = -1;
	fds0 = count_fds();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	CHECK(a != NULL && b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);

	/* Plain, fd, fd, plain, fd, fd, fd, plain. */
	k = 0;
	for (j = 0; j < 8; j++) {
		if (j == 0 || j == 3 || j == 7) {
			CHECK(imsgbuf_compose(a, IMSG_STATS, j, 0, -1, &j,
			    sizeof(j)) == 0, "compose: %s", strerror(errno));
			continue;
		}
		CHECK(pipe_nb(p[k]) == 0, "pipe: %s", strerror(errno));
		CHECK(imsgbuf_compose(a, IMSG_CFG_LISTENER, j, 0, p[k][1],
		    &k, sizeof(k)) == 0, "compose: %s", strerror(errno));
		k++;
	}
	CHECK(drain_out(a) == 0, "flush: %s", strerror(errno));
	for (i = 0; i < 5; i++) {
		CHECK(!fd_is_open(p[i][1]), "fd %d still open", i);
		p[i][1] = -1;
	}

	/* Read everything before claiming anything. */
	while ((r = imsgbuf_read(b)) > 0)
		;
	CHECK(r == -1 && errno == EAGAIN, "read: %zd %s", r,
	    strerror(errno));
	CHECK(b->nrfds == 5, "%d fds queued", b->nrfds);

	k = 0;
	for (j = 0; j < 8; j++) {
		r = imsgbuf_get(b, &m);
		CHECK(r > 0, "message %d: %zd", j, r);
		CHECK(m.hdr.peerid == (uint32_t)j, "message %d out of order",
		    j);
		if (j == 0 || j == 3 || j == 7) {
			CHECK(m.fd == -1, "message %d has an fd", j);
			continue;
		}
		CHECK(m.fd != -1, "message %d has no fd", j);
		memcpy(&i, m.data, sizeof(i));
		CHECK(i == k, "message %d carries %d", j, i);
		c = 'A' + k;
		r = write(m.fd, &c, 1);
		close(m.fd);
		CHECK(r == 1, "write: %s", strerror(errno));
		c = 0;
		CHECK(read(p[k][0], &c, 1) == 1 && c == 'A' + k,
		    "fd of message %d leads to pipe %c", j, c);
		k++;
	}
	CHECK(b->nrfds == 0, "%d fds left", b->nrfds);
	for (i = 0; i < 5; i++)
		pair_close(p[i]);
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	CHECK(count_fds() == fds0, "descriptor leak");
	pass_line(name);
	free(a);
	free(b);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	for (i = 0; i < 5; i++)
		pair_close(p[i]);
	pair_close(sv);
	free(a);
	free(b);
}

static void
test_oversize(void)
{
	const char	*name = "imsg_oversize";
	struct imsgbuf	*a = NULL;
	struct iovec	 iov[3];
	unsigned char	*buf = NULL;
	int		 sv[2] = { -1, -1 }, p[2] = { -1, -1 };

	a = malloc(sizeof(*a));
	buf = calloc(1, IMSG_MAX_PAYLOAD + 1);
	CHECK(a != NULL && buf != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(pipe_nb(p) == 0, "pipe: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);

	errno = 0;
	CHECK(imsgbuf_compose(a, IMSG_STATS, 0, 0, p[1], buf,
	    IMSG_MAX_PAYLOAD + 1) == -1 && errno == EMSGSIZE,
	    "compose: errno %d", errno);
	CHECK(fd_is_open(p[1]), "refused compose closed the fd");
	errno = 0;
	CHECK(imsgbuf_compose(a, IMSG_STATS, 0, 0, -1, buf,
	    SIZE_MAX) == -1 && errno == EMSGSIZE,
	    "compose SIZE_MAX: errno %d", errno);

	iov[0].iov_base = buf;
	iov[0].iov_len = IMSG_MAX_PAYLOAD / 2;
	iov[1].iov_base = buf;
	iov[1].iov_len = IMSG_MAX_PAYLOAD / 2;
	iov[2].iov_base = buf;
	iov[2].iov_len = 1;
	errno = 0;
	CHECK(imsgbuf_composev(a, IMSG_STATS, 0, 0, p[1], iov, 3) == -1 &&
	    errno == EMSGSIZE, "composev: errno %d", errno);
	CHECK(fd_is_open(p[1]), "refused composev closed the fd");
	/* Would wrap a careless sum back below the limit. */
	iov[1].iov_len = SIZE_MAX;
	errno = 0;
	CHECK(imsgbuf_composev(a, IMSG_STATS, 0, 0, -1, iov, 3) == -1 &&
	    errno == EMSGSIZE, "composev wrap: errno %d", errno);
	CHECK(imsgbuf_queued(a) == 0, "something was queued");
	CHECK(TAILQ_EMPTY(&a->wqueue), "queue not empty");

	/* Exactly the limit still goes. */
	CHECK(imsgbuf_compose(a, IMSG_STATS, 0, 0, -1, buf,
	    IMSG_MAX_PAYLOAD) == 0, "compose max: %s", strerror(errno));
	imsgbuf_clear(a);
	pair_close(sv);
	pair_close(p);
	pass_line(name);
	free(a);
	free(buf);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	pair_close(sv);
	pair_close(p);
	free(a);
	free(buf);
}

static void
test_badtype_compose(void)
{
	const char	*name = "imsg_compose_bad_type";
	struct imsgbuf	*a = NULL;
	int		 sv[2] = { -1, -1 };

	a = malloc(sizeof(*a));
	CHECK(a != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	errno = 0;
	CHECK(imsgbuf_compose(a, IMSG_NONE, 0, 0, -1, NULL, 0) == -1 &&
	    errno == EINVAL, "type 0 accepted");
	errno = 0;
	CHECK(imsgbuf_compose(a, IMSG_TYPE_MAX, 0, 0, -1, NULL, 0) == -1 &&
	    errno == EINVAL, "type max accepted");
	CHECK(imsgbuf_queued(a) == 0, "something was queued");
	imsgbuf_clear(a);
	pair_close(sv);
	pass_line(name);
	free(a);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	pair_close(sv);
	free(a);
}

/* A peer that never reads must not make the queue grow without end. */
static void
test_wqueue_bound(void)
{
	const char	*name = "imsg_wqueue_bound";
	struct imsgbuf	*a = NULL;
	unsigned char	*buf = NULL;
	int		 sv[2] = { -1, -1 }, p[2] = { -1, -1 }, i, ok = 0;
	size_t		 msz = IMSG_HEADER_SIZE + IMSG_MAX_PAYLOAD, q;

	a = malloc(sizeof(*a));
	buf = calloc(1, IMSG_MAX_PAYLOAD);
	CHECK(a != NULL && buf != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(pipe_nb(p) == 0, "pipe: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);

	for (i = 0; i < 4096; i++) {
		if (imsgbuf_compose(a, IMSG_STATS, i, 0, -1, buf,
		    IMSG_MAX_PAYLOAD) == -1) {
			CHECK(errno == ENOBUFS, "compose %d: %s", i,
			    strerror(errno));
			ok = 1;
			break;
		}
		CHECK(imsgbuf_flush(a) == 0, "flush: %s", strerror(errno));
	}
	CHECK(ok, "queue grew to %zu without refusal", imsgbuf_queued(a));
	q = imsgbuf_queued(a);
	CHECK(q <= IMSG_WQUEUE_MAX && q + msz > IMSG_WQUEUE_MAX,
	    "refused at %zu queued", q);
	errno = 0;
	CHECK(imsgbuf_compose(a, IMSG_STATS, 0, 0, p[1], buf,
	    IMSG_MAX_PAYLOAD) == -1 && errno == ENOBUFS,
	    "second refusal: errno %d", errno);
	CHECK(fd_is_open(p[1]), "refused compose closed the fd");
	/* A smaller message may still fit what is left. */
	if (IMSG_WQUEUE_MAX - q >= IMSG_HEADER_SIZE)
		CHECK(imsgbuf_compose(a, IMSG_STATS, 0, 0, -1, NULL, 0) == 0,
		    "small message refused: %s", strerror(errno));
	imsgbuf_clear(a);
	CHECK(imsgbuf_queued(a) == 0, "clear left %zu", imsgbuf_queued(a));
	pair_close(sv);
	pair_close(p);
	pass_line(name);
	free(a);
	free(buf);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	pair_close(sv);
	pair_close(p);
	free(a);
	free(buf);
}

static void
test_malformed(void)
{
	static const struct {
		const char	*name;
		uint32_t	 type, len, flags;
		size_t		 send;	/* bytes written */
	} cases[] = {
		{ "imsg_bad_len_zero", IMSG_STATS, 0, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_len_short", IMSG_STATS, IMSG_HEADER_SIZE - 1, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_len_large", IMSG_STATS,
		    IMSG_HEADER_SIZE + IMSG_MAX_PAYLOAD + 1, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_len_max", IMSG_STATS, UINT32_MAX, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_type_zero", IMSG_NONE, IMSG_HEADER_SIZE, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_type_max", IMSG_TYPE_MAX, IMSG_HEADER_SIZE, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_type_huge", UINT32_MAX, IMSG_HEADER_SIZE, 0,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_flags", IMSG_STATS, IMSG_HEADER_SIZE, 0x2,
		    IMSG_HEADER_SIZE },
		{ "imsg_bad_flags_high", IMSG_STATS, IMSG_HEADER_SIZE,
		    0x80000000 | IMSGF_HASFD, IMSG_HEADER_SIZE },
		{ "imsg_bad_hasfd_nofd", IMSG_STATS, IMSG_HEADER_SIZE + 4,
		    IMSGF_HASFD, IMSG_HEADER_SIZE + 4 },
	};
	struct imsgbuf	*b = NULL;
	struct imsg	 m;
	unsigned char	 msg[2 * IMSG_HEADER_SIZE + 4];
	const char	*name = "imsg_malformed";
	size_t		 i, off;
	ssize_t		 r;
	int		 sv[2] = { -1, -1 };

	b = malloc(sizeof(*b));
	CHECK(b != NULL, "malloc");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		name = cases[i].name;
		CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
		imsgbuf_init(b, sv[1]);
		/* A good message first: the bad one must not spoil it. */
		memset(msg, 0, sizeof(msg));
		put_hdr(msg, IMSG_START, IMSG_HEADER_SIZE, 1, 1, 0);
		off = IMSG_HEADER_SIZE;
		put_hdr(msg + off, cases[i].type, cases[i].len, 2, 1,
		    cases[i].flags);
		CHECK(raw_write(sv[0], msg, off + cases[i].send) == 0,
		    "write: %s", strerror(errno));
		r = recv_msg(b, NULL, &m);
		CHECK(r == (ssize_t)IMSG_HEADER_SIZE &&
		    m.hdr.type == IMSG_START, "good message lost: %zd", r);
		errno = 0;
		r = recv_msg(b, NULL, &m);
		CHECK(r == -1 && errno == EBADMSG, "got %zd, errno %d", r,
		    errno);
		/* Stays bad: the caller may ask again. */
		errno = 0;
		CHECK(imsgbuf_get(b, &m) == -1 && errno == EBADMSG,
		    "second get differs");
		imsgbuf_clear(b);
		pair_close(sv);
		pass_line(name);
	}
	free(b);
	return;
fail:
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(b);
}

/* More descriptors than may be held: closed, and the channel refused. */
static void
test_too_many_fds(void)
{
	const char	*name = "imsg_too_many_fds";
	struct imsgbuf	*b = NULL;
	struct imsg	 m;
	unsigned char	 msg[IMSG_HEADER_SIZE];
	int		 sv[2] = { -1, -1 }, fds[IMSG_MAX_FDS + 4];
	int		 i, fds0, p[2] = { -1, -1 };
	ssize_t		 r;

	fds0 = count_fds();
	b = malloc(sizeof(*b));
	CHECK(b != NULL, "malloc");
	CHECK(pipe_nb(p) == 0, "pipe: %s", strerror(errno));
	for (i = 0; i < IMSG_MAX_FDS + 4; i++)
		fds[i] = p[0];

	/* One sendmsg with more than the control buffer holds. */
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(b, sv[1]);
	put_hdr(msg, IMSG_START, IMSG_HEADER_SIZE, 0, 1, IMSGF_HASFD);
	CHECK(send_fds(sv[0], msg, sizeof(msg), fds, IMSG_MAX_FDS + 4) == 0,
	    "sendmsg: %s", strerror(errno));
	errno = 0;
	r = imsgbuf_read(b);
	CHECK(r == -1 && errno == EBADMSG, "one batch: %zd errno %d", r,
	    errno);
	CHECK(b->nrfds == 0, "%d fds kept", b->nrfds);
	imsgbuf_clear(b);
	pair_close(sv);

	/* Batches that fit one by one, but not all together. */
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(b, sv[1]);
	for (i = 0; i < IMSG_MAX_FDS / 4 + 1; i++) {
		CHECK(send_fds(sv[0], msg, sizeof(msg), fds, 4) == 0,
		    "sendmsg: %s", strerror(errno));
		errno = 0;
		r = imsgbuf_read(b);
		if (i < IMSG_MAX_FDS / 4)
			CHECK(r == sizeof(msg), "batch %d: %zd errno %d", i,
			    r, errno);
		else
			CHECK(r == -1 && errno == EBADMSG,
			    "last batch: %zd errno %d", r, errno);
	}
	CHECK(b->nrfds == IMSG_MAX_FDS, "%d fds kept", b->nrfds);
	/* The held ones still pair with their messages. */
	r = imsgbuf_get(b, &m);
	CHECK(r > 0 && m.fd != -1, "get: %zd", r);
	close(m.fd);
	imsgbuf_clear(b);
	pair_close(sv);
	pair_close(p);
	CHECK(count_fds() == fds0, "descriptor leak: %d, was %d",
	    count_fds(), fds0);
	pass_line(name);
	free(b);
	return;
fail:
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	pair_close(p);
	free(b);
}

/* Unclaimed messages fill rbuf: read refuses rather than overruns. */
static void
test_rbuf_full(void)
{
	const char	*name = "imsg_rbuf_full";
	struct imsgbuf	*a = NULL, *b = NULL;
	struct imsg	 m;
	unsigned char	*buf = NULL;
	int		 sv[2] = { -1, -1 }, i, full = 0;
	ssize_t		 r;

	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	buf = calloc(1, IMSG_MAX_PAYLOAD);
	CHECK(a != NULL && b != NULL && buf != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);
	for (i = 0; i < 6; i++)
		CHECK(imsgbuf_compose(a, IMSG_STATS, i, 0, -1, buf,
		    IMSG_MAX_PAYLOAD) == 0, "compose: %s", strerror(errno));
	for (i = 0; i < 100 && !full; i++) {
		CHECK(imsgbuf_flush(a) == 0, "flush: %s", strerror(errno));
		r = imsgbuf_read(b);
		if (r == -1 && errno == ENOBUFS)
			full = 1;
		else
			CHECK(r > 0 || (r == -1 && errno == EAGAIN),
			    "read: %zd %s", r, strerror(errno));
	}
	CHECK(full, "rbuf never reported full");
	CHECK(b->rlen == sizeof(b->rbuf), "rlen %zu", b->rlen);
	/* Claiming messages makes room again. */
	for (i = 0; i < 6; i++) {
		r = recv_msg(b, a, &m);
		CHECK(r > 0 && m.hdr.peerid == (uint32_t)i, "message %d: %zd",
		    i, r);
	}
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	pass_line(name);
	free(a);
	free(b);
	free(buf);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(a);
	free(b);
	free(buf);
}

static void
test_eof(void)
{
	const char	*name = "imsg_eof";
	struct imsgbuf	*b = NULL;
	struct imsg	 m;
	unsigned char	 msg[IMSG_HEADER_SIZE + 8];
	int		 sv[2] = { -1, -1 };
	ssize_t		 r;

	b = malloc(sizeof(*b));
	CHECK(b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(b, sv[1]);
	close(sv[0]);
	sv[0] = -1;
	CHECK((r = imsgbuf_read(b)) == 0, "empty channel: read %zd", r);
	imsgbuf_clear(b);
	pair_close(sv);

	/* A half message, then EOF: nothing comes out of it. */
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(b, sv[1]);
	memset(msg, 0, sizeof(msg));
	put_hdr(msg, IMSG_STATS, sizeof(msg) + 8, 0, 1, 0);
	CHECK(raw_write(sv[0], msg, sizeof(msg)) == 0, "write");
	close(sv[0]);
	sv[0] = -1;
	CHECK((r = imsgbuf_read(b)) == (ssize_t)sizeof(msg), "read %zd", r);
	CHECK(imsgbuf_get(b, &m) == 0, "half message returned");
	CHECK((r = imsgbuf_read(b)) == 0, "half message: read %zd", r);
	imsgbuf_clear(b);
	pair_close(sv);
	pass_line(name);
	free(b);
	return;
fail:
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(b);
}

static void
test_epipe(void)
{
	const char	*name = "imsg_flush_epipe";
	struct imsgbuf	*a = NULL;
	int		 sv[2] = { -1, -1 };

	a = malloc(sizeof(*a));
	CHECK(a != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	close(sv[1]);
	sv[1] = -1;
	CHECK(imsgbuf_compose(a, IMSG_START, 0, 0, -1, NULL, 0) == 0,
	    "compose: %s", strerror(errno));
	errno = 0;
	CHECK(imsgbuf_flush(a) == -1 && errno == EPIPE, "flush: errno %d",
	    errno);
	CHECK(imsgbuf_queued(a) == IMSG_HEADER_SIZE, "queue changed");
	imsgbuf_clear(a);
	pair_close(sv);
	pass_line(name);
	free(a);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	pair_close(sv);
	free(a);
}

/*
 * Queue more than the socket takes, with descriptors here and there;
 * flush stops on EAGAIN without error, then a drain delivers it all.
 */
static void
test_full_socket(void)
{
	const char	*name = "imsg_flush_full_socket";
	struct imsgbuf	*a = NULL, *b = NULL;
	struct imsg	 m;
	unsigned char	*buf = NULL;
	size_t		 sz, q;
	ssize_t		 r;
	int		 sv[2] = { -1, -1 }, fd, fds0, i, n = 400;
	unsigned char	 c;

	fds0 = count_fds();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	buf = malloc(IMSG_MAX_PAYLOAD);
	CHECK(a != NULL && b != NULL && buf != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);

	for (i = 0; i < n; i++) {
		/* Odd sizes, so partial writes land mid-header too. */
		sz = (i * 7919 + 13) % (IMSG_MAX_PAYLOAD + 1);
		fill(buf, sz, i);
		fd = -1;
		if (i % 37 == 5 && (fd = dup(STDERR_FILENO)) == -1)
			CHECK(0, "dup: %s", strerror(errno));
		if (imsgbuf_compose(a, IMSG_STATS, i, 0, fd, buf, sz) == -1) {
			if (fd != -1)
				close(fd);
			CHECK(0, "compose %d: %s", i, strerror(errno));
		}
	}
	q = imsgbuf_queued(a);
	CHECK(imsgbuf_flush(a) == 0, "flush: %s", strerror(errno));
	CHECK(imsgbuf_queued(a) > 0 && imsgbuf_queued(a) < q,
	    "flush sent %zu of %zu", q - imsgbuf_queued(a), q);
	CHECK(imsgbuf_flush(a) == 0, "second flush: %s", strerror(errno));

	for (i = 0; i < n; i++) {
		r = recv_msg(b, a, &m);
		CHECK(r > 0, "message %d: %zd %s", i, r, strerror(errno));
		sz = (i * 7919 + 13) % (IMSG_MAX_PAYLOAD + 1);
		CHECK(m.hdr.peerid == (uint32_t)i && m.len == sz,
		    "message %d: peerid %u len %zu", i, m.hdr.peerid, m.len);
		CHECK(sz == 0 || check_fill(m.data, sz, i) == 0,
		    "message %d: payload differs", i);
		if (i % 37 == 5) {
			CHECK(m.fd != -1, "message %d: no fd", i);
			r = fcntl(m.fd, F_GETFD);
			close(m.fd);
			CHECK(r != -1, "message %d: bad fd", i);
		} else
			CHECK(m.fd == -1, "message %d: stray fd", i);
	}
	CHECK(imsgbuf_queued(a) == 0, "queue holds %zu", imsgbuf_queued(a));
	CHECK(recv(sv[1], &c, 1, 0) == -1 && errno == EAGAIN,
	    "extra bytes");
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	pair_close(sv);
	CHECK(count_fds() == fds0, "descriptor leak");
	pass_line(name);
	free(a);
	free(b);
	free(buf);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	free(a);
	free(b);
	free(buf);
}

/* Descriptors still queued, sent or received, die with the buffer. */
static void
test_clear(void)
{
	const char	*name = "imsg_clear_closes_fds";
	struct imsgbuf	*a = NULL, *b = NULL;
	int		 sv[2] = { -1, -1 }, p[2] = { -1, -1 };
	int		 q[2] = { -1, -1 }, rfds[IMSG_MAX_FDS], nr, i, fds0;
	ssize_t		 r;

	fds0 = count_fds();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	CHECK(a != NULL && b != NULL, "malloc");
	CHECK(pair_open(sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(pipe_nb(p) == 0 && pipe_nb(q) == 0, "pipe: %s", strerror(errno));
	imsgbuf_init(a, sv[0]);
	imsgbuf_init(b, sv[1]);

	/* p[0], p[1] travel and are left unclaimed at b. */
	CHECK(imsgbuf_compose(a, IMSG_CFG_LISTENER, 0, 0, p[0], NULL,
	    0) == 0, "compose: %s", strerror(errno));
	CHECK(imsgbuf_compose(a, IMSG_CFG_LISTENER, 0, 0, p[1], NULL,
	    0) == 0, "compose: %s", strerror(errno));
	CHECK(drain_out(a) == 0, "flush: %s", strerror(errno));
	p[0] = p[1] = -1;
	while ((r = imsgbuf_read(b)) > 0)
		;
	CHECK(b->nrfds == 2, "%d fds received", b->nrfds);
	nr = b->nrfds;
	memcpy(rfds, b->rfds, nr * sizeof(int));

	/* q[0], q[1] stay in a's queue. */
	CHECK(imsgbuf_compose(a, IMSG_CFG_LISTENER, 0, 0, q[0], NULL,
	    0) == 0, "compose: %s", strerror(errno));
	CHECK(imsgbuf_compose(a, IMSG_STATS, 0, 0, -1, "x", 1) == 0,
	    "compose: %s", strerror(errno));
	CHECK(imsgbuf_compose(a, IMSG_CFG_LISTENER, 0, 0, q[1], NULL,
	    0) == 0, "compose: %s", strerror(errno));

	imsgbuf_clear(a);
	imsgbuf_clear(b);
	CHECK(!fd_is_open(q[0]) && !fd_is_open(q[1]),
	    "queued fds still open");
	q[0] = q[1] = -1;
	for (i = 0; i < nr; i++)
		CHECK(!fd_is_open(rfds[i]), "received fd %d still open",
		    rfds[i]);
	CHECK(b->nrfds == 0 && imsgbuf_queued(a) == 0, "state not reset");
	CHECK(fd_is_open(sv[0]) && fd_is_open(sv[1]),
	    "clear closed the channel");
	pair_close(sv);
	CHECK(count_fds() == fds0, "descriptor leak");
	pass_line(name);
	free(a);
	free(b);
	return;
fail:
	if (a != NULL)
		imsgbuf_clear(a);
	if (b != NULL)
		imsgbuf_clear(b);
	pair_close(sv);
	pair_close(p);
	pair_close(q);
	free(a);
	free(b);
}

int
main(void)
{
	/*
	 * A hung case must not hang the run: die loudly instead.  SIGPIPE
	 * keeps its default, so a send without MSG_NOSIGNAL kills us.
	 */
	alarm(120);

	test_roundtrip();
	test_composev();
	test_pid();
	test_split();
	test_fdpass();
	test_fdfifo();
	test_oversize();
	test_badtype_compose();
	test_wqueue_bound();
	test_malformed();
	test_too_many_fds();
	test_rbuf_full();
	test_eof();
	test_epipe();
	test_full_socket();
	test_clear();

	return (nfail == 0 ? 0 : 1);
}
