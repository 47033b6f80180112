/*
 * upstream.c: the worker's view of services and backends: routing by
 * host, round robin with passive health, and kept-alive upstream
 * connections pooled per backend.
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
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "portero.h"
#include "http1.h"

#define UPSTREAM_IDLE_MAX	64	/* pooled connections per backend */
#define UPSTREAM_IDLE_TIMEOUT	55	/* below common backend timeouts */

/* The client side of upstream TLS, built once before the sandbox. */
static struct tls_config	*upstream_tlsconf;

static void	 upstream_idle_event(int, short, void *);
static void	 upstream_event(int, short, void *);

int
upstream_init(const struct portero_config *conf)
{
	const char	*ca;

	if ((upstream_tlsconf = tls_config_new()) == NULL)
		return (-1);
	if (tls_config_set_protocols(upstream_tlsconf,
	    TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3) == -1)
		goto fail;
	if (conf->upstream_insecure) {
		tls_config_insecure_noverifycert(upstream_tlsconf);
		tls_config_insecure_noverifyname(upstream_tlsconf);
		return (0);
	}
	/* loaded into memory now: workers may open no file later */
	ca = conf->upstream_ca[0] != '\0' ? conf->upstream_ca :
	    tls_default_ca_cert_file();
	if (tls_config_set_ca_file(upstream_tlsconf, ca) == -1) {
		log_warnx("upstream CA %s: %s", ca,
		    tls_config_error(upstream_tlsconf));
		goto fail;
	}
	return (0);
 fail:
	tls_config_free(upstream_tlsconf);
	upstream_tlsconf = NULL;
	return (-1);
}

static int
route_service_add(struct route_table *rt, struct backend *be)
{
	struct service	*sv;
	unsigned int	 i;

	for (i = 0; i < rt->rt_nservices; i++)
		if (strcmp(rt->rt_services[i].sv_name,
		    be->be_conf.be_service) == 0)
			break;
	sv = &rt->rt_services[i];
	if (i == rt->rt_nservices) {
		rt->rt_nservices++;
		(void)strlcpy(sv->sv_name, be->be_conf.be_service,
		    sizeof(sv->sv_name));
	}
	sv->sv_backends = reallocarray(sv->sv_backends, sv->sv_nbackends + 1,
	    sizeof(*sv->sv_backends));
	if (sv->sv_backends == NULL)
		return (-1);
	sv->sv_backends[sv->sv_nbackends++] = be;
	return (0);
}

/* A new table from the parent's list; the old one lives on while used. */
struct route_table *
route_build(const struct backend_table *bt)
{
	struct route_table	*rt;
	struct backend		*be;
	unsigned int		 i;

	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return (NULL);
	rt->rt_refs = 1;
	if (bt->bt_n > 0) {
		rt->rt_backends = calloc(bt->bt_n, sizeof(*rt->rt_backends));
		rt->rt_services = calloc(bt->bt_n, sizeof(*rt->rt_services));
		if (rt->rt_backends == NULL || rt->rt_services == NULL)
			goto fail;
	}
	for (i = 0; i < bt->bt_n; i++) {
		be = &rt->rt_backends[i];
		be->be_conf = bt->bt_be[i];
		be->be_table = rt;
		TAILQ_INIT(&be->be_idle);
		rt->rt_nbackends++;
		if (route_service_add(rt, be) == -1)
			goto fail;
	}
	return (rt);
 fail:
	route_unref(rt);
	return (NULL);
}

void
route_unref(struct route_table *rt)
{
	struct upstream	*up;
	unsigned int	 i;

	if (rt == NULL || --rt->rt_refs > 0)
		return;
	for (i = 0; i < rt->rt_nbackends; i++)
		while ((up = TAILQ_FIRST(&rt->rt_backends[i].be_idle)) != NULL)
			upstream_release(up, 0);
	if (rt->rt_refs > 0)
		return;		/* a pooled connection held the last ref */
	for (i = 0; i < rt->rt_nservices; i++)
		free(rt->rt_services[i].sv_backends);
	free(rt->rt_services);
	free(rt->rt_backends);
	free(rt);
}

/* host without the port; compared without regard to case */
struct service *
route_lookup(struct route_table *rt, const char *host, size_t hostlen)
{
	struct service	*sv;
	unsigned int	 i;

	for (i = 0; i < rt->rt_nservices; i++) {
		sv = &rt->rt_services[i];
		if (http1_caseeq(sv->sv_name, strlen(sv->sv_name), host,
		    hostlen))
			return (sv);
	}
	return (NULL);
}

static int
backend_is_down(const struct backend *be, const struct timespec *now)
{
	return (timespeccmp(now, &be->be_down_until, <));
}

/* Round robin over the backends that are not marked down. */
struct backend *
backend_pick(struct service *sv)
{
	struct timespec	 now;
	struct backend	*be;
	unsigned int	 i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[sv->sv_next++ % sv->sv_nbackends];
		if (!backend_is_down(be, &now))
			return (be);
	}
	return (NULL);
}

/* What the other workers need to know of be's health, to the parent. */
static void
backend_health_send(const struct backend *be, unsigned int rest_ms)
{
	struct backend_health	 bh;

	memset(&bh, 0, sizeof(bh));
	(void)strlcpy(bh.bh_service, be->be_conf.be_service,
	    sizeof(bh.bh_service));
	bh.bh_ss = be->be_conf.be_ss;
	bh.bh_sslen = be->be_conf.be_sslen;
	bh.bh_tls = be->be_conf.be_tls;
	bh.bh_backoff_ms = be->be_backoff_ms;
	bh.bh_rest_ms = rest_ms;
	if (config_sethealth(proc_parent_iev(), &bh) == -1)
		fatal("send to parent");
}

static void
backend_rest(struct backend *be, unsigned int rest_ms)
{
	struct timespec	 now, rest, until;

	clock_gettime(CLOCK_MONOTONIC, &now);
	rest.tv_sec = rest_ms / 1000;
	rest.tv_nsec = (rest_ms % 1000) * 1000000L;
	timespecadd(&now, &rest, &until);
	if (timespeccmp(&until, &be->be_down_until, >))
		be->be_down_until = until;
}

/*
 * Passive health: a backend that refused us rests, longer each time, and
 * every other worker hears of it through the parent, so that the next
 * request anywhere gets 503 at once rather than another try.
 */
void
backend_failed(struct backend *be)
{
	be->be_failures++;
	if (be->be_backoff_ms == 0)
		be->be_backoff_ms = BACKEND_BACKOFF_MIN_MS;
	else if (be->be_backoff_ms < BACKEND_BACKOFF_MAX_MS)
		be->be_backoff_ms *= 2;
	if (be->be_backoff_ms > BACKEND_BACKOFF_MAX_MS)
		be->be_backoff_ms = BACKEND_BACKOFF_MAX_MS;
	backend_rest(be, be->be_backoff_ms);
	log_limited(LOG_LIMIT_UPSTREAM, "backend %s for %s failed; resting "
	    "%u ms", be->be_conf.be_host, be->be_conf.be_service,
	    be->be_backoff_ms);
	backend_health_send(be, be->be_backoff_ms);
}

/* A connection got through: a backend that was resting is up again. */
void
backend_ok(struct backend *be)
{
	if (be->be_backoff_ms == 0)
		return;
	be->be_backoff_ms = 0;
	backend_health_send(be, 0);
}

/*
 * What another worker found: the same backend (same service, address and
 * TLS setting) in this worker's table rests as long, or is up again.
 */
void
backend_health_apply(struct route_table *rt, const struct backend_health *bh)
{
	struct backend	*be;
	unsigned int	 i;

	for (i = 0; i < rt->rt_nbackends; i++) {
		be = &rt->rt_backends[i];
		if (be->be_conf.be_tls != bh->bh_tls ||
		    be->be_conf.be_sslen != bh->bh_sslen ||
		    memcmp(&be->be_conf.be_ss, &bh->bh_ss, bh->bh_sslen) != 0 ||
		    strcmp(be->be_conf.be_service, bh->bh_service) != 0)
			continue;
		if (bh->bh_backoff_ms == 0) {
			be->be_backoff_ms = 0;
			memset(&be->be_down_until, 0,
			    sizeof(be->be_down_until));
			continue;
		}
		if (bh->bh_backoff_ms > be->be_backoff_ms)
			be->be_backoff_ms = bh->bh_backoff_ms;
		backend_rest(be, bh->bh_rest_ms);
	}
}

/*
 * When the first of sv's backends comes back from its rest, in whole
 * seconds from now (at least 1): for Retry-After.
 */
unsigned int
backend_retry_after(const struct service *sv)
{
	struct timespec	 now, d, soonest = { 0, 0 };
	unsigned int	 i;
	int		 have = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < sv->sv_nbackends; i++)
		if (!have || timespeccmp(&sv->sv_backends[i]->be_down_until,
		    &soonest, <)) {
			soonest = sv->sv_backends[i]->be_down_until;
			have = 1;
		}
	if (!have || !timespeccmp(&soonest, &now, >))
		return (1);
	timespecsub(&soonest, &now, &d);
	return (d.tv_sec + (d.tv_nsec > 0));
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
	be->be_table->rt_refs++;
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
		if ((up->up_conn.c_tls = tls_client()) == NULL ||
		    tls_configure(up->up_conn.c_tls, upstream_tlsconf) == -1 ||
		    tls_connect_socket(up->up_conn.c_tls, up->up_conn.c_fd,
		    up->up_sni) == -1) {
			log_limited(LOG_LIMIT_UPSTREAM, "upstream TLS to %s: "
			    "%s", up->up_be->be_conf.be_host,
			    up->up_conn.c_tls ? tls_error(up->up_conn.c_tls) :
			    "no memory");
			return (-1);
		}
		up->up_conn.c_tls_client = 1;
		up->up_state = UP_HANDSHAKE;
		/* FALLTHROUGH */
	case UP_HANDSHAKE:
		ret = tls_handshake(up->up_conn.c_tls);
		if (ret == TLS_WANT_POLLIN || ret == TLS_WANT_POLLOUT)
			return (0);
		if (ret == -1) {
			log_limited(LOG_LIMIT_UPSTREAM, "upstream TLS to %s "
			    "(%s): %s", up->up_be->be_conf.be_host,
			    up->up_sni, tls_error(up->up_conn.c_tls));
			errno = EPROTO;
			return (-1);
		}
		up->up_conn.c_handshaken = 1;
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
	    be->be_table == worker_env->wk_routes) {
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
	route_unref(be->be_table);
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
