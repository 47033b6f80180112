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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"
#include "http1.h"

#define UPSTREAM_IDLE_TIMEOUT	55	/* below common backend timeouts */
#define UPSTREAM_SESS_MAX	4	/* names per backend with a session */

/*
 * The client side of upstream TLS, built from the bundle the parent
 * sent (workers open no file); NULL until one came, and then TLS
 * upstream connections are refused, never made unverified.
 */
static struct ptls_client	*upstream_tls;
/* Its number (upstream_tls_newgen()), new with each bundle (the parent
   sends a bundle only when it changed): older TLS connections are not
   used again, since they were checked against another bundle or
   verification setting.  Pools with a tls-ca of their own have their
   own contexts (poolca.c), numbered from the same count. */
static unsigned int		 upstream_tls_gen;

/* A bundle being received, and one received but not yet applied. */
static struct {
	struct upstream_ca_msg	 ui_msg;
	char			*ui_buf;
	size_t			 ui_off;
	int			 ui_state;
#define UI_IDLE		0
#define UI_RECEIVING	1
#define UI_FAILED	2	/* out of memory: this bundle is skipped */
#define UI_READY	3
} upstream_in;

/*
 * Sessions to resume, per backend, keyed by the TLS name: one made for a
 * name is never offered for another, nor to another backend, nor under
 * another client context (a resumed session skips verification, which
 * another CA might fail).
 */
struct upstream_sessions {
	struct {
		char			 us_name[NAME_MAX_LEN];
		struct ptls_session	*us_sess;
		unsigned int		 us_gen;	/* its client context */
	} us_slots[UPSTREAM_SESS_MAX];
	unsigned int	 us_next;	/* the slot a new name takes */
};

static void	 upstream_idle_event(int, short, void *);
static void	 upstream_event(int, short, void *);

int
upstream_ca_begin(const struct upstream_ca_msg *uc)
{
	if (upstream_in.ui_state == UI_RECEIVING)
		return (-1);
	free(upstream_in.ui_buf);
	upstream_in.ui_buf = NULL;
	upstream_in.ui_msg = *uc;
	upstream_in.ui_off = 0;
	upstream_in.ui_state = UI_RECEIVING;
	if (uc->uc_len > 0 && (upstream_in.ui_buf = malloc(uc->uc_len)) ==
	    NULL) {
		log_warn("upstream CA %s", uc->uc_path);
		upstream_in.ui_state = UI_FAILED;
	}
	return (0);
}

int
upstream_ca_data(const void *data, size_t len)
{
	if (upstream_in.ui_state == UI_FAILED)
		return (0);
	if (upstream_in.ui_state != UI_RECEIVING ||
	    len > upstream_in.ui_msg.uc_len - upstream_in.ui_off)
		return (-1);
	memcpy(upstream_in.ui_buf + upstream_in.ui_off, data, len);
	upstream_in.ui_off += len;
	return (0);
}

int
upstream_ca_end(void)
{
	if (upstream_in.ui_state == UI_FAILED) {
		upstream_in.ui_state = UI_IDLE;
		return (0);
	}
	if (upstream_in.ui_state != UI_RECEIVING ||
	    upstream_in.ui_off != upstream_in.ui_msg.uc_len)
		return (-1);
	upstream_in.ui_state = UI_READY;
	return (0);
}

/*
 * With the configuration it came with: a new client context from the
 * bundle, parsed once.  Connections made with the old one keep it to
 * their end; its sessions are not offered again.  A bundle that does
 * not parse leaves the running one.
 */
void
upstream_ca_apply(void)
{
	struct upstream_ca_msg	*uc = &upstream_in.ui_msg;
	struct ptls_client	*pc;
	char			 err[256];

	if (upstream_in.ui_state != UI_READY)
		return;
	upstream_in.ui_state = UI_IDLE;
	pc = ptls_client_new(upstream_in.ui_buf, uc->uc_len, uc->uc_verify,
	    err, sizeof(err));
	free(upstream_in.ui_buf);
	upstream_in.ui_buf = NULL;
	if (pc == NULL) {
		log_warnx("upstream CA %s: %s; %s", uc->uc_path, err,
		    upstream_tls != NULL ? "keeping the running one" :
		    "TLS backends are refused");
		return;
	}
	ptls_client_free(upstream_tls);
	upstream_tls = pc;
	upstream_tls_gen = upstream_tls_newgen();
	log_debug("upstream TLS: %s", uc->uc_verify ? uc->uc_path :
	    "not verified");
}

/*
 * A message of the bundle, in the worker or the health child: 0, or -1
 * when it is malformed or out of step (the parent is: fatal to them).
 */
int
upstream_ca_message(const struct imsg *imsg)
{
	struct upstream_ca_msg	 uc;
	const void		*data;
	size_t			 len;

	switch (imsg->hdr.type) {
	case IMSG_UPSTREAM_CA:
		if (config_getupstreamca(imsg, &uc) == -1)
			return (-1);
		return (upstream_ca_begin(&uc));
	case IMSG_UPSTREAM_CA_DATA:
		if (config_getupstreamcadata(imsg, &data, &len) == -1)
			return (-1);
		return (upstream_ca_data(data, len));
	case IMSG_UPSTREAM_CA_END:
		return (upstream_ca_end());
	}
	return (-1);
}

/* How TLS connections to backends verify; NULL before any bundle. */
struct ptls_client *
upstream_client(void)
{
	return (upstream_tls);
}

/* The number of that context: pools' contexts derived from it follow it. */
unsigned int
upstream_client_gen(void)
{
	return (upstream_tls_gen);
}

/*
 * The client context a backend's connections are made with: its pool's
 * (tls-ca, a client certificate), else the global one; and that
 * context's number.
 */
static struct ptls_client *
upstream_tls_of(const struct backend *be, unsigned int *gen)
{
	if (be->be_tls != NULL) {
		*gen = be->be_tls->ut_gen;
		return (be->be_tls->ut_pc);
	}
	*gen = upstream_tls_gen;
	return (upstream_tls);
}

/* The session for this connection's backend and name, if one is kept. */
static void
upstream_session_offer(struct upstream *up)
{
	struct upstream_sessions	*us = up->up_be->be_sessions;
	unsigned int			 i;

	if (us == NULL)
		return;
	for (i = 0; i < UPSTREAM_SESS_MAX; i++) {
		if (us->us_slots[i].us_sess == NULL ||
		    strcmp(us->us_slots[i].us_name, up->up_sni) != 0)
			continue;
		if (us->us_slots[i].us_gen != up->up_tls_gen ||
		    ptls_session_offer(up->up_conn.c_tls,
		    us->us_slots[i].us_sess) == -1) {
			/* an older client context's, or spoilt */
			ptls_session_free(us->us_slots[i].us_sess);
			us->us_slots[i].us_sess = NULL;
		}
		return;
	}
}

/*
 * The newest session the backend gave this connection, kept for the
 * next one to the same backend and name.  Tickets may come any time
 * after the handshake: asked after it and when the connection is let go.
 */
static void
upstream_session_save(struct upstream *up)
{
	struct upstream_sessions	*us;
	struct ptls_session		*pe;
	unsigned int			 i;

	if (up->up_conn.c_tls == NULL ||
	    (pe = ptls_session_take(up->up_conn.c_tls)) == NULL)
		return;
	if ((us = up->up_be->be_sessions) == NULL &&
	    (us = up->up_be->be_sessions = calloc(1, sizeof(*us))) == NULL) {
		ptls_session_free(pe);
		return;
	}
	for (i = 0; i < UPSTREAM_SESS_MAX; i++)
		if (us->us_slots[i].us_sess != NULL &&
		    strcmp(us->us_slots[i].us_name, up->up_sni) == 0)
			break;
	if (i == UPSTREAM_SESS_MAX) {
		i = us->us_next;
		us->us_next = (us->us_next + 1) % UPSTREAM_SESS_MAX;
		(void)strlcpy(us->us_slots[i].us_name, up->up_sni,
		    sizeof(us->us_slots[i].us_name));
	}
	ptls_session_free(us->us_slots[i].us_sess);
	us->us_slots[i].us_sess = pe;
	us->us_slots[i].us_gen = up->up_tls_gen;
}

/* A backend's last reference is going: its sessions with it. */
void
upstream_sessions_free(struct backend *be)
{
	unsigned int	 i;

	if (be->be_sessions == NULL)
		return;
	for (i = 0; i < UPSTREAM_SESS_MAX; i++)
		ptls_session_free(be->be_sessions->us_slots[i].us_sess);
	free(be->be_sessions);
	be->be_sessions = NULL;
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
upstream_get(struct backend *be, const char *sni, void (*notify)(void *),
    void *owner, int fresh)
{
	struct upstream	*up, *next;
	unsigned int	 gen;
	int		 saved;

	(void)upstream_tls_of(be, &gen);
	TAILQ_FOREACH_SAFE(up, &be->be_idle, up_entry, next) {
		if (fresh)
			break;
		if (be->be_conf.be_tls && up->up_tls_gen != gen) {
			/* made under the trust settings before a reload */
			TAILQ_REMOVE(&be->be_idle, up, up_entry);
			be->be_nidle--;
			upstream_release(up, 0);
			continue;
		}
		if (be->be_conf.be_tls && strcmp(up->up_sni, sni) != 0)
			continue;
		TAILQ_REMOVE(&be->be_idle, up, up_entry);
		be->be_nidle--;
		timer_stop(&up->up_ev_idle);
		up->up_notify = notify;
		up->up_owner = owner;
		up->up_reused = 1;
		return (up);
	}
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return (NULL);
	up->up_be = be;
	up->up_notify = notify;
	up->up_owner = owner;
	up->up_conn.c_fd = -1;
	backend_ref(be);
	backend_count(be, 1);
	timer_init(&up->up_ev_idle, upstream_idle_event, up);
	(void)strlcpy(up->up_sni, sni, sizeof(up->up_sni));
	clock_gettime(CLOCK_MONOTONIC, &up->up_started);
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
	struct ptls_client	*pc;
	socklen_t		 len = sizeof(int);
	char			 err[256];
	int			 error = 0, ret;

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
			wmetrics_connected(up);
			return (1);
		}
		if ((pc = upstream_tls_of(up->up_be, &up->up_tls_gen)) ==
		    NULL) {
			log_limited(LOG_LIMIT_UPSTREAM, "upstream TLS to %s: "
			    "no CA bundle", up->up_be->be_conf.be_host);
			errno = EPROTO;
			return (-1);
		}
		if ((up->up_conn.c_tls = ptls_connect(pc,
		    up->up_conn.c_fd, up->up_sni, err, sizeof(err))) == NULL) {
			log_limited(LOG_LIMIT_UPSTREAM, "upstream TLS to %s: "
			    "%s", up->up_be->be_conf.be_host, err);
			return (-1);
		}
		upstream_session_offer(up);
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
		if (ptls_resumed(up->up_conn.c_tls))
			worker_env->wk_stats.upstream_resumed++;
		else
			worker_env->wk_stats.upstream_handshakes++;
		upstream_session_save(up);
		up->up_state = UP_READY;
		wmetrics_connected(up);
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

	up->up_notify = NULL;
	up->up_owner = NULL;
	if (up->up_state == UP_READY)
		upstream_session_save(up);
	if (keep && up->up_state == UP_READY && be->be_nidle <
	    UPSTREAM_IDLE_MAX && (up->up_in == NULL || up->up_in->b_len == 0) &&
	    !be->be_gone) {
		buf_put(up->up_in);
		up->up_in = NULL;
		TAILQ_INSERT_HEAD(&be->be_idle, up, up_entry);
		be->be_nidle++;
		timer_set(&up->up_ev_idle, UPSTREAM_IDLE_TIMEOUT);
		return;
	}
	timer_del(&up->up_ev_idle);
	conn_close(&up->up_conn);
	buf_put(up->up_in);
	free(up);
	backend_count(be, -1);
	backend_unref(be);
}

/* Socket news: for the exchange using it, or an idle one closing. */
static void
upstream_event(int fd, short event, void *arg)
{
	struct upstream	*up = arg;

	if (up->up_notify != NULL) {
		up->up_notify(up->up_owner);
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
