/*
 * backend.c: the fixed upstream for the benchmark.
 *
 * A single-threaded epoll HTTP/1.1 server on a loopback port.  Every
 * request gets "200 OK" with a body of the size its path names ("/100",
 * "/16384"; default -s bytes for any other path).  Connections are kept
 * alive unless the client sends "Connection: close"; pipelined requests
 * are answered in order.  Request bodies are not expected (GET only).
 *
 * usage: backend [-s default-size] [-p port-file] [-c count-file] addr port
 *
 * With -p, the bound port is written to that file once listening (port 0
 * picks a free one).  With -c, SIGUSR1 writes the number of connections
 * accepted so far to that file (the benchmark checks that the proxies
 * keep their upstream connections alive).  Stops on SIGTERM or SIGINT.
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

#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY	(1024 * 1024)
#define IN_SIZE		8192
#define MAX_EVENTS	256

struct conn {
	int		 fd;
	size_t		 inlen;
	char		 in[IN_SIZE];
	char		*out;		/* unsent response bytes */
	size_t		 outoff, outlen, outcap;
	int		 want_close;
	int		 writing;	/* EPOLLOUT registered */
};

static char			 body[MAX_BODY];
static size_t			 default_size = 100;
static volatile sig_atomic_t	 quit, dump;
static unsigned long		 accepted;
static int			 ep;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	dump = 1;
}

static void
write_count(const char *path)
{
	char	 tmp[4096];
	FILE	*f;

	/* written aside and renamed: a reader never sees half a number */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%lu\n", accepted);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void
conn_free(struct conn *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

static int
out_append(struct conn *c, const char *p, size_t n)
{
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + n > c->outcap) {
		size_t	 cap = c->outcap ? c->outcap : 4096;
		char	*np;

		while (cap < c->outlen + n)
			cap *= 2;
		if ((np = realloc(c->out, cap)) == NULL)
			return (-1);
		c->out = np;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return (0);
}

/* Find the end of a request head; returns its length or 0. */
static size_t
head_len(const char *p, size_t n)
{
	size_t	 i;

	for (i = 3; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' &&
		    p[i - 3] == '\r')
			return (i + 1);
	return (0);
}

static int
has_conn_close(const char *p, size_t n)
{
	static const char	 name[] = "\nconnection:";
	size_t			 i, k, nl = sizeof(name) - 1;

	for (i = 0; i + nl < n; i++) {
		for (k = 0; k < nl; k++) {
			char	 ch = p[i + k];

			if (ch >= 'A' && ch <= 'Z')
				ch += 'a' - 'A';
			if (ch != name[k])
				break;
		}
		if (k == nl) {
			i += nl;
			while (i < n && (p[i] == ' ' || p[i] == '\t'))
				i++;
			return (n - i >= 5 &&
			    strncasecmp(p + i, "close", 5) == 0);
		}
	}
	return (0);
}

/* Parse and answer every complete request in the input buffer. */
static int
handle_input(struct conn *c)
{
	size_t	 off = 0, hl;
	char	 hdr[128];

	while ((hl = head_len(c->in + off, c->inlen - off)) > 0) {
		const char	*req = c->in + off;
		const char	*sp = memchr(req, ' ', hl);
		size_t		 size = default_size;
		int		 n;

		if (sp != NULL && sp[1] == '/' && sp[2] >= '0' &&
		    sp[2] <= '9') {
			size = strtoul(sp + 2, NULL, 10);
			if (size > MAX_BODY)
				size = MAX_BODY;
		}
		if (has_conn_close(req, hl))
			c->want_close = 1;
		n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
		    size, c->want_close ? "Connection: close\r\n" : "");
		if (out_append(c, hdr, n) == -1 ||
		    out_append(c, body, size) == -1)
			return (-1);
		off += hl;
		if (c->want_close)
			break;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	if (c->inlen == sizeof(c->in))
		return (-1);	/* head too large */
	return (0);
}

/* Returns -1 when the connection is done. */
static int
flush_out(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t	 n = write(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (!c->writing) {
					struct epoll_event ev = {
					    .events = EPOLLOUT,
					    .data.ptr = c };

					if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd,
					    &ev) == -1)
						return (-1);
					c->writing = 1;
				}
				return (0);
			}
			return (-1);
		}
		c->outoff += n;
	}
	c->outoff = c->outlen = 0;
	if (c->want_close)
		return (-1);
	if (c->writing) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
			return (-1);
		c->writing = 0;
	}
	return (0);
}

static int
conn_event(struct conn *c, unsigned int events)
{
	if (events & EPOLLOUT)
		if (flush_out(c) == -1)
			return (-1);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t	 n;

		if (c->want_close)
			return (0);
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == 0)
			return (-1);
		if (n == -1)
			return (errno == EAGAIN || errno == EINTR ? 0 : -1);
		c->inlen += n;
		if (handle_input(c) == -1)
			return (-1);
		/* while output is stuck only EPOLLOUT is watched */
		return (flush_out(c));
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct sigaction	 sa;
	sigset_t		 block, waitmask;
	socklen_t		 slen = sizeof(sin);
	const char		*portfile = NULL, *countfile = NULL;
	int			 ch, lfd, one = 1, i, n;

	while ((ch = getopt(argc, argv, "c:p:s:")) != -1) {
		switch (ch) {
		case 'c':
			countfile = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 's':
			default_size = strtoul(optarg, NULL, 10);
			if (default_size > MAX_BODY)
				default_size = MAX_BODY;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2) {
usage:
		fprintf(stderr, "usage: backend [-s size] [-p port-file] "
		    "[-c count-file] addr port\n");
		return (2);
	}
	memset(body, 'x', sizeof(body));

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(argv[1]));
	if (inet_pton(AF_INET, argv[0], &sin.sin_addr) != 1) {
		fprintf(stderr, "backend: bad address %s\n", argv[0]);
		return (2);
	}
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("backend: listen");
		return (1);
	}
	if (portfile != NULL) {
		FILE	*f = fopen(portfile, "w");

		if (f == NULL || fprintf(f, "%d\n", ntohs(sin.sin_port)) < 0 ||
		    fclose(f) == EOF) {
			perror(portfile);
			return (1);
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	/* signals arrive only inside epoll_pwait: none is missed */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	signal(SIGPIPE, SIG_IGN);

	if ((ep = epoll_create1(0)) == -1) {
		perror("epoll_create1");
		return (1);
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* NULL marks the listener */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		perror("epoll_ctl");
		return (1);
	}

	while (!quit) {
		if (dump) {
			dump = 0;
			if (countfile != NULL)
				write_count(countfile);
		}
		n = epoll_pwait(ep, evs, MAX_EVENTS, -1, &waitmask);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			return (1);
		}
		for (i = 0; i < n; i++) {
			struct conn	*c = evs[i].data.ptr;

			if (c != NULL) {
				if (conn_event(c, evs[i].events) == -1)
					conn_free(c);	/* close removes it */
				continue;
			}
			for (;;) {
				int fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (fd == -1)
					break;
				accepted++;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				if ((c = calloc(1, sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
					conn_free(c);
			}
		}
	}
	return (0);
}
