/*
 * worker.c: a worker process.  It takes client connections on the
 * listeners the parent passed it and proxies them (proxy.c); it holds no
 * files and learns everything (configuration, backends, certificates,
 * ticket keys) by message.
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

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

/* This process's one worker. */
static struct worker	 wk;
struct worker		*worker_env = &wk;

static void	 worker_dispatch_parent(struct imsg *);
static void	 worker_accept(int, short, void *);
static void	 worker_shutdown(void);
static void	 worker_drain_expired(int, short, void *);

void
worker_main(unsigned int id)
{
	wk.wk_id = id;
	wk.wk_listenfd = wk.wk_httpfd = wk.wk_accesslogfd = -1;
	TAILQ_INIT(&wk.wk_clients);
	proc_child_connect(worker_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/*
 * Give up everything before the first client byte can arrive.  What
 * must come from files (the upstream CA bundle) is read first.
 */
static void
worker_init(void)
{
	if (upstream_init(&wk.wk_conf) == -1)
		fatalx("cannot set up upstream TLS");
	if (wk.wk_conf.upstream_insecure)
		log_warnx("--upstream-insecure: upstream certificates are "
		    "not verified");
	tlsctx_init(&wk.wk_conf);
	proc_drop_privileges(&wk.wk_conf, wk.wk_conf.chroot_dir);
	proc_sandbox(PROMISES_WORKER);
	wk.wk_sandboxed = 1;
}

static void
worker_listener(struct imsg *imsg)
{
	struct listener_msg	 lm;

	if (imsg->len != sizeof(lm) || imsg->fd == -1)
		fatalx("bad listener message");
	memcpy(&lm, imsg->data, sizeof(lm));
	if (lm.kind == LISTENER_PROXY && wk.wk_listenfd == -1)
		wk.wk_listenfd = imsg->fd;
	else if (lm.kind == LISTENER_HTTP && wk.wk_httpfd == -1)
		wk.wk_httpfd = imsg->fd;
	else
		fatalx("unexpected listener");
}

/* Backends arrive one by one; the table is swapped whole at CFG_DONE. */
static void
worker_backend(struct imsg *imsg)
{
	struct backend_conf	*be;

	if (imsg->len != sizeof(*be))
		fatalx("bad backend message");
	if (wk.wk_pending == NULL &&
	    (wk.wk_pending = calloc(1, sizeof(*wk.wk_pending))) == NULL)
		fatal("backend table");
	if (wk.wk_pending->bt_n >= PORTERO_MAX_BACKENDS)
		fatalx("too many backends");
	be = &wk.wk_pending->bt_be[wk.wk_pending->bt_n++];
	memcpy(be, imsg->data, sizeof(*be));
	be->be_service[sizeof(be->be_service) - 1] = '\0';
	be->be_host[sizeof(be->be_host) - 1] = '\0';
	if (be->be_sslen > sizeof(be->be_ss))
		fatalx("bad backend address");
}

static void
worker_routes_swap(void)
{
	static const struct backend_table empty;	/* no backends */
	struct route_table	*rt;

	rt = route_build(wk.wk_pending != NULL ? wk.wk_pending : &empty);
	free(wk.wk_pending);
	wk.wk_pending = NULL;
	if (rt == NULL) {
		log_warn("backend table; keeping the old one");
		return;
	}
	route_unref(wk.wk_routes);
	wk.wk_routes = rt;
}

static void
worker_dispatch_parent(struct imsg *imsg)
{
	if (proc_child_common(imsg, &wk.wk_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_LISTENER:
		worker_listener(imsg);
		break;
	case IMSG_CFG_BACKEND:
		worker_backend(imsg);
		break;
	case IMSG_CFG_ACCESSLOG:
		if (imsg->fd == -1)
			fatalx("bad access log message");
		if (wk.wk_accesslogfd != -1)
			close(wk.wk_accesslogfd);
		wk.wk_accesslogfd = imsg->fd;
		break;
	case IMSG_CFG_DONE:
		if (!wk.wk_sandboxed)
			worker_init();
		worker_routes_swap();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		if (wk.wk_listenfd == -1)
			fatalx("started without a listener");
		event_set(&wk.wk_ev_listen, wk.wk_listenfd,
		    EV_READ | EV_PERSIST, worker_accept, NULL);
		event_add(&wk.wk_ev_listen, NULL);
		if (wk.wk_httpfd != -1) {
			event_set(&wk.wk_ev_http, wk.wk_httpfd,
			    EV_READ | EV_PERSIST, worker_accept, NULL);
			event_add(&wk.wk_ev_http, NULL);
		}
		evtimer_set(&wk.wk_ev_pause, worker_accept, NULL);
		break;
	case IMSG_CERT_ADD:
		if (tlsctx_cert_add(imsg) == -1)
			fatalx("bad certificate message");
		break;
	case IMSG_CERT_DATA:
		if (tlsctx_cert_data(imsg) == -1)
			fatalx("bad certificate message");
		break;
	case IMSG_CERT_END:
		if (tlsctx_cert_end() == -1)
			fatalx("bad certificate message");
		break;
	case IMSG_TLS_TICKET_KEY:
		if (imsg->len != sizeof(struct ticket_key_msg))
			fatalx("bad ticket key message");
		tlsctx_ticket_key(imsg->data);
		break;
	case IMSG_STATS_REQ:
		proc_compose_parent(IMSG_STATS, imsg->hdr.peerid,
		    &wk.wk_stats, sizeof(wk.wk_stats));
		break;
	case IMSG_SHUTDOWN:
		worker_shutdown();
		break;
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

static void
worker_accept(int fd, short event, void *arg)
{
	struct timeval	 pause = { 1, 0 };
	int		 connfd, kind, i;

	if (event & EV_TIMEOUT) {
		if (!wk.wk_stopping) {
			event_add(&wk.wk_ev_listen, NULL);
			if (wk.wk_httpfd != -1)
				event_add(&wk.wk_ev_http, NULL);
		}
		return;
	}
	kind = fd == wk.wk_httpfd ? LISTENER_HTTP : LISTENER_PROXY;
	/* a few at a time, so one busy listener does not starve the loop */
	for (i = 0; i < 16; i++) {
		if ((connfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of descriptors: pause, do not spin */
				log_warn("accept");
				event_del(&wk.wk_ev_listen);
				if (wk.wk_httpfd != -1)
					event_del(&wk.wk_ev_http);
				evtimer_add(&wk.wk_ev_pause, &pause);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		proxy_accept(connfd, kind, tlsctx_current());
	}
}

/* Stop accepting; what is in flight gets the drain timeout to finish. */
static void
worker_shutdown(void)
{
	struct timeval	 tv;

	if (wk.wk_stopping)
		return;
	log_debug("draining");
	wk.wk_stopping = 1;
	if (wk.wk_listenfd != -1) {
		event_del(&wk.wk_ev_listen);
		close(wk.wk_listenfd);
		wk.wk_listenfd = -1;
	}
	if (wk.wk_httpfd != -1) {
		event_del(&wk.wk_ev_http);
		close(wk.wk_httpfd);
		wk.wk_httpfd = -1;
	}
	evtimer_del(&wk.wk_ev_pause);
	tv.tv_sec = wk.wk_conf.drain_timeout;
	tv.tv_usec = 0;
	evtimer_set(&wk.wk_ev_drain, worker_drain_expired, NULL);
	evtimer_add(&wk.wk_ev_drain, &tv);
	proxy_stop();
	worker_client_gone();
}

/* When draining, the last client to go ends the process. */
void
worker_client_gone(void)
{
	if (wk.wk_stopping && TAILQ_EMPTY(&wk.wk_clients)) {
		log_debug("drained; exiting");
		exit(0);
	}
}

static void
worker_drain_expired(int fd, short event, void *arg)
{
	log_warnx("drain timeout: closing %llu connections",
	    (unsigned long long)wk.wk_stats.connections);
	exit(0);
}
