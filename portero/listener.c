/*
 * listener.c: addresses as operators write them ("host:port",
 * "[v6]:port"), the listening sockets the parent makes from them, and
 * accepting on them.
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

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

#define LISTEN_BACKLOG	1024

/*
 * Numeric addresses only: a listener is never resolved through DNS, so
 * start-up cannot hang on a resolver and "localhost" means one thing.
 */
int
listener_parse(const char *hostport, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	char		 host[HOSTPORT_MAX];
	const char	*port, *errstr;
	char		*end;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	long long	 portnum;

	if (strlcpy(host, hostport, sizeof(host)) >= sizeof(host))
		return (-1);
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			return (-1);
		*end = '\0';
		port = end + 2;
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return (-1);
		sin6->sin6_family = AF_INET6;
		*sslen = sizeof(*sin6);
	} else {
		if ((end = strrchr(host, ':')) == NULL)
			return (-1);
		*end = '\0';
		port = end + 1;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return (-1);
		sin->sin_family = AF_INET;
		*sslen = sizeof(*sin);
	}
	portnum = strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL)
		return (-1);
	if (ss->ss_family == AF_INET6)
		sin6->sin6_port = htons(portnum);
	else
		sin->sin_port = htons(portnum);
	return (0);
}

/*
 * hostport as one spelling of it, the one every listener of the
 * configuration is kept in; -1 if it is not a numeric address:port.
 */
int
listener_canon(const char *hostport, char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 host[INET6_ADDRSTRLEN];
	const void		*addr;
	uint16_t		 port;
	int			 n;

	if (listener_parse(hostport, &ss, &sslen) == -1)
		return (-1);
	if (ss.ss_family == AF_INET6) {
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (inet_ntop(ss.ss_family, addr, host, sizeof(host)) == NULL)
		return (-1);
	n = snprintf(out, outlen, ss.ss_family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", host, port);
	return (n < 0 || (size_t)n >= outlen ? -1 : 0);
}

int
socket_set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return (-1);
	return (0);
}

/*
 * A non-blocking, close-on-exec listening socket.  With reuseport, one
 * socket per worker shares the address and the kernel spreads
 * connections over them.
 */
int
listener_bind(const char *hostport, int reuseport)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd, on = 1;

	if (listener_parse(hostport, &ss, &sslen) == -1) {
		errno = EINVAL;
		return (-1);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_TCP)) == -1)
		return (-1);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
#ifdef SO_REUSEPORT
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
#endif
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return (fd);
 fail:
	{
		int saved_errno = errno;

		close(fd);
		errno = saved_errno;
	}
	return (-1);
}

static void	 acceptor_event(int, short, void *);

/*
 * Every listener is accepted on the same way: up to batch connections
 * each time it is readable (so one busy listener does not starve the
 * loop), each handed to cb; out of descriptors, the listener pauses for
 * a second rather than spin on a socket that stays readable.
 */
void
acceptor_init(struct acceptor *ac, int fd, int batch,
    void (*cb)(int, void *), void *arg)
{
	memset(ac, 0, sizeof(*ac));
	ac->ac_fd = fd;
	ac->ac_batch = batch;
	ac->ac_cb = cb;
	ac->ac_arg = arg;
	event_set(&ac->ac_ev, fd, EV_READ | EV_PERSIST, acceptor_event, ac);
	evtimer_set(&ac->ac_pause, acceptor_event, ac);
}

void
acceptor_start(struct acceptor *ac)
{
	ac->ac_on = 1;
	event_add(&ac->ac_ev, NULL);
}

/* Accept no more; the caller closes the socket. */
void
acceptor_stop(struct acceptor *ac)
{
	if (!ac->ac_on)
		return;
	ac->ac_on = 0;
	event_del(&ac->ac_ev);
	evtimer_del(&ac->ac_pause);
}

static void
acceptor_event(int fd, short event, void *arg)
{
	struct acceptor	*ac = arg;
	struct timeval	 pause = { 1, 0 };
	int		 connfd, i;

	if (event & EV_TIMEOUT) {
		if (ac->ac_on)
			event_add(&ac->ac_ev, NULL);
		return;
	}
	for (i = 0; i < ac->ac_batch; i++) {
		if ((connfd = accept4(ac->ac_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept");
				event_del(&ac->ac_ev);
				evtimer_add(&ac->ac_pause, &pause);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		ac->ac_cb(connfd, ac->ac_arg);
	}
}

/*
 * Before a listener that a reload moves or removes is closed: what its
 * queue holds is taken (a closed SO_REUSEPORT socket would reset it).
 */
void
acceptor_drain(struct acceptor *ac)
{
	int	 batch = ac->ac_batch;

	if (!ac->ac_on)
		return;
	ac->ac_batch = 1024;
	acceptor_event(ac->ac_fd, EV_READ, ac);
	ac->ac_batch = batch;
}
