/*
 * minihttp.c: a listener that answers every request head with one fixed
 * status.  The registrar serves 501 with it until the registration API
 * exists, so its listener, draining and supervision are real already.
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

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

#define MINIHTTP_HEAD_MAX	8192
#define MINIHTTP_TIMEOUT	10	/* seconds for a whole request head */

struct mh_client {
	TAILQ_ENTRY(mh_client)	 mc_entry;
	struct minihttp		*mc_mh;
	int			 mc_fd;
	struct event		 mc_ev;
	size_t			 mc_len;
	char			 mc_head[MINIHTTP_HEAD_MAX];
};

static void	 minihttp_accept(int, void *);
static void	 minihttp_read(int, short, void *);
static void	 minihttp_close(struct mh_client *);

void
minihttp_init(struct minihttp *mh, int status, const char *reason,
    const char *body, void (*drained)(void))
{
	memset(mh, 0, sizeof(*mh));
	TAILQ_INIT(&mh->mh_clients);
	mh->mh_status = status;
	mh->mh_reason = reason;
	mh->mh_body = body;
	mh->mh_drained = drained;
	mh->mh_listenfd = -1;
}

void
minihttp_listen(struct minihttp *mh, int fd)
{
	mh->mh_listenfd = fd;
	acceptor_init(&mh->mh_accept, fd, 1, minihttp_accept, mh);
	acceptor_start(&mh->mh_accept);
}

/* Stop accepting; requests in flight finish, then mh_drained runs. */
void
minihttp_stop(struct minihttp *mh)
{
	mh->mh_stopping = 1;
	if (mh->mh_listenfd != -1) {
		acceptor_stop(&mh->mh_accept);
		close(mh->mh_listenfd);
		mh->mh_listenfd = -1;
	}
	if (TAILQ_EMPTY(&mh->mh_clients) && mh->mh_drained != NULL)
		mh->mh_drained();
}

static void
minihttp_accept(int connfd, void *arg)
{
	struct minihttp		*mh = arg;
	struct mh_client	*mc;
	struct timeval		 tv = { MINIHTTP_TIMEOUT, 0 };
	int			 on = 1;

	if ((mc = calloc(1, sizeof(*mc))) == NULL) {
		log_warn("accept");
		close(connfd);
		return;
	}
	(void)setsockopt(connfd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	mc->mc_mh = mh;
	mc->mc_fd = connfd;
	event_set(&mc->mc_ev, connfd, EV_READ | EV_PERSIST, minihttp_read, mc);
	event_add(&mc->mc_ev, &tv);
	TAILQ_INSERT_TAIL(&mh->mh_clients, mc, mc_entry);
	mh->mh_stats.connections++;
	mh->mh_stats.accepted++;
}

static void
minihttp_reply(struct mh_client *mc, int status, const char *reason,
    const char *body)
{
	char	 resp[512];
	int	 len;

	len = snprintf(resp, sizeof(resp), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", status, reason, strlen(body),
	    body);
	if (len < 0 || (size_t)len >= sizeof(resp))
		return;
	/* small enough for any socket buffer; a short write just ends it */
	if (send(mc->mc_fd, resp, len, MSG_NOSIGNAL) == -1)
		log_debug("reply: %s", strerror(errno));
}

static void
minihttp_read(int fd, short event, void *arg)
{
	struct mh_client	*mc = arg;
	struct minihttp		*mh = mc->mc_mh;
	ssize_t			 n;

	if (event & EV_TIMEOUT) {
		minihttp_reply(mc, 408, "Request Timeout", "timeout\n");
		minihttp_close(mc);
		return;
	}
	n = recv(fd, mc->mc_head + mc->mc_len,
	    sizeof(mc->mc_head) - mc->mc_len - 1, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		minihttp_close(mc);
		return;
	}
	mc->mc_len += n;
	mc->mc_head[mc->mc_len] = '\0';
	if (strstr(mc->mc_head, "\r\n\r\n") != NULL) {
		mh->mh_stats.requests++;
		minihttp_reply(mc, mh->mh_status, mh->mh_reason, mh->mh_body);
		minihttp_close(mc);
	} else if (mc->mc_len == sizeof(mc->mc_head) - 1) {
		minihttp_reply(mc, 431, "Request Header Fields Too Large",
		    "request head too large\n");
		minihttp_close(mc);
	}
}

static void
minihttp_close(struct mh_client *mc)
{
	struct minihttp	*mh = mc->mc_mh;

	event_del(&mc->mc_ev);
	close(mc->mc_fd);
	TAILQ_REMOVE(&mh->mh_clients, mc, mc_entry);
	mh->mh_stats.connections--;
	free(mc);
	if (mh->mh_stopping && TAILQ_EMPTY(&mh->mh_clients) &&
	    mh->mh_drained != NULL)
		mh->mh_drained();
}
