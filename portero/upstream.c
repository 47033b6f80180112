/*
 * upstream.c: connections to backends, plain or TLS, kept alive and
 * pooled per backend between requests.
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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"
#include "http1.h"

#define UPSTREAM_IDLE_MAX	64	/* pooled connections per backend */
#define UPSTREAM_IDLE_TIMEOUT	55	/* below common backend timeouts */
#define UPSTREAM_CA_MAX		(16 * 1024 * 1024)

/* The client side of upstream TLS, built once before the sandbox. */
static struct ptls_client	*upstream_tls;

static void	 upstream_idle_event(int, short, void *);
static void	 upstream_event(int, short, void *);

/* A CA bundle, whole, into memory: workers may open no file later. */
static char *
upstream_read_ca(const char *path, size_t *lenp)
{
	char	*buf = NULL, *nbuf;
	size_t	 len = 0, size = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	for (;;) {
		if (len == size) {
			if (size >= UPSTREAM_CA_MAX) {
				errno = EFBIG;
				goto fail;
			}
			size = size == 0 ? 256 * 1024 : size * 2;
			if ((nbuf = realloc(buf, size)) == NULL)
				goto fail;
			buf = nbuf;
		}
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	*lenp = len;
	return (buf);
 fail:
	n = errno;
	close(fd);
	free(buf);
	errno = n;
	return (NULL);
}

int
upstream_init(const struct portero_config *conf)
{
	const char	*path = NULL;
	char		*ca = NULL, err[256];
	size_t		 calen = 0;

	if (!conf->upstream_insecure) {
		path = conf->upstream_ca[0] != '\0' ? conf->upstream_ca :
		    ptls_default_ca_file();
		if ((ca = upstream_read_ca(path, &calen)) == NULL) {
			log_warn("upstream CA %s", path);
			return (-1);
		}
	}
	upstream_tls = ptls_client_new(ca, calen, !conf->upstream_insecure,
	    err, sizeof(err));
	free(ca);
	if (upstream_tls == NULL) {
		log_warnx("upstream CA %s: %s", path ? path : "-", err);
		return (-1);
	}
	return (0);
}

static int
upstream_connect(struct upstream *up)
{
	struct backend	*be = up->up_be;
	int		 fd, on = 1;

	if ((fd = socket(be->be_conf.be_ss.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) == -1)
		return (-1);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	up->up_conn.c_fd = fd;
	if (connect(fd, (struct sockaddr *)&be->be_conf.be_ss,
	    be->be_conf.be_sslen) == -1 && errno != EINPROGRESS)
		return (-1);
	up->up_state = UP_CONNECTING;
	return (0);
}

/*
 * A connection to be for client cl: a pooled one if there is one for the
 * same TLS name, else a new one being connected.  The caller drives it
 * with upstream_ready().
 */
struct upstream *
upstream_get(struct backend *be, const char *sni, struct client *cl,
    int fresh)
{
	struct upstream	*up;
	int		 saved;

	TAILQ_FOREACH(up, &be->be_idle, up_entry) {
		if (fresh)
			break;
		if (be->be_conf.be_tls && strcmp(up->up_sni, sni) != 0)
			continue;
		TAILQ_REMOVE(&be->be_idle, up, up_entry);
		be->be_nidle--;
		evtimer_del(&up->up_ev_idle);
		up->up_client = cl;
		up->up_reused = 1;
		return (up);
	}
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return (NULL);
	up->up_be = be;
	up->up_client = cl;
	up->up_conn.c_fd = -1;
	backend_ref(be);
	evtimer_set(&up->up_ev_idle, upstream_idle_event, up);
	(void)strlcpy(up->up_sni, sni, sizeof(up->up_sni));
	if (upstream_connect(up) == -1) {
		saved = errno;
		log_debug("connect %s: %s", be->be_conf.be_host,
		    strerror(errno));
		upstream_release(up, 0);
		errno = saved;
		return (NULL);
	}
	conn_watch(&up->up_conn, upstream_event, up);
	return (up);
}

/*
 * Drive a new connection through connect and the TLS handshake.
 * Returns 1 when ready, 0 while in progress, -1 when it failed.
 */
int
upstream_ready(struct upstream *up)
{
	socklen_t	 len = sizeof(int);
	char		 err[256];
	int		 error = 0, ret;

	switch (up->up_state) {
	case UP_CONNECTING:
		if (getsockopt(up->up_conn.c_fd, SOL_SOCKET, SO_ERROR, &error,
		    &len) == -1 || error != 0) {
			errno = error;
			return (-1);
		}
		/* still connecting shows as ENOTCONN to getpeername */
		if (getpeername(up->up_conn.c_fd,
		    (struct sockaddr *)&(struct sockaddr_storage){ 0 },
		    &(socklen_t){ sizeof(struct sockaddr_storage) }) == -1)
			return (errno == ENOTCONN ? 0 : -1);
		if (!up->up_be->be_conf.be_tls) {
			up->up_state = UP_READY;
			return (1);
		}
		if ((up->up_conn.c_tls = ptls_connect(upstream_tls,
		    up->up_conn.c_fd, up->up_sni, err, sizeof(err))) == NULL) {
			log_limited(LOG_LIMIT_UPSTREAM, "upstream TLS to %s: "
			    "%s", up->up_be->be_conf.be_host, err);
			return (-1);
		}
		up->up_state = UP_HANDSHAKE;
		/* FALLTHROUGH */
	case UP_HANDSHAKE:
		ret = ptls_handshake(up->up_conn.c_tls);
		if (ret == PTLS_WANT_READ || ret == PTLS_WANT_WRITE)
			return (0);
		if (ret == -1) {
			log_limited(LOG_LIMIT_UPSTREAM, "upstream TLS to %s "
			    "(%s): %s", up->up_be->be_conf.be_host,
			    up->up_sni, ptls_error(up->up_conn.c_tls));
			errno = EPROTO;
			return (-1);
		}
		up->up_state = UP_READY;
		return (1);
	case UP_READY:
		return (1);
	}
	return (-1);
}

/* Pool a clean connection, or close it. */
void
upstream_release(struct upstream *up, int keep)
{
	struct backend	*be = up->up_be;
	struct timeval	 tv = { UPSTREAM_IDLE_TIMEOUT, 0 };

	up->up_client = NULL;
	if (keep && up->up_state == UP_READY && be->be_nidle <
	    UPSTREAM_IDLE_MAX && (up->up_in == NULL || up->up_in->b_len == 0) &&
	    !be->be_gone) {
		buf_put(up->up_in);
		up->up_in = NULL;
		TAILQ_INSERT_HEAD(&be->be_idle, up, up_entry);
		be->be_nidle++;
		evtimer_add(&up->up_ev_idle, &tv);
		return;
	}
	evtimer_del(&up->up_ev_idle);
	conn_close(&up->up_conn);
	buf_put(up->up_in);
	free(up);
	backend_unref(be);
}

/* Socket news: for the client using it, or an idle one closing. */
static void
upstream_event(int fd, short event, void *arg)
{
	struct upstream	*up = arg;

	if (up->up_client != NULL) {
		proxy_upstream_event(up->up_client);
		return;
	}
	if ((event & EV_READ) == 0)
		return;
	upstream_idle_event(fd, event, arg);
}

/* An idle pooled connection: the backend closed it, or it aged out. */
static void
upstream_idle_event(int fd, short event, void *arg)
{
	struct upstream	*up = arg;
	struct backend	*be = up->up_be;

	TAILQ_REMOVE(&be->be_idle, up, up_entry);
	be->be_nidle--;
	upstream_release(up, 0);
}
