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
static void	 worker_accept(int, void *);
static void	 worker_shutdown(void);
static void	 worker_sweep(int, short, void *);
static void	 worker_drain_expired(int, short, void *);

void
worker_main(unsigned int id)
{
	unsigned int	 i;

	wk.wk_id = id;
	wk.wk_logfd = -1;
	reqid_init(id);
	for (i = 0; i < PORTERO_MAX_LISTENERS; i++) {
		wk.wk_listen[i].wl_fd = wk.wk_listen[i].wl_newfd = -1;
		wk.wk_listen[i].wl_index = i;
	}
	TAILQ_INIT(&wk.wk_clients);
	/* sets built from the first on ask the routes for client certs */
	tlsctx_auth(mtls_lookup);
	proc_child_connect(PROC_WORKER, worker_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/*
 * Give up everything before the first client byte can arrive.  Nothing
 * comes from files: the upstream CA bundle came by message, and its
 * client context is built while TLS is being set up.
 */
static void
worker_init(void)
{
	tlsctx_init(&wk.wk_conf);
	upstream_ca_apply();
	proc_drop_privileges(&wk.wk_conf, wk.wk_conf.chroot_dir);
	proc_sandbox(PROMISES_WORKER);
	wk.wk_sandboxed = 1;
}

/* A listener's socket, one of a whole set that CFG_DONE takes. */
static void
worker_listener(struct imsg *imsg)
{
	struct listener_msg	 lm;
	struct wk_listener	*wl;

	if (config_getlistener(imsg, &lm) == -1 ||
	    lm.kind == LISTENER_REGISTER)
		fatalx("bad listener message");
	wl = &wk.wk_listen[lm.index];
	if (wl->wl_newfd != -1)
		close(wl->wl_newfd);
	wl->wl_newfd = imsg->fd;
	wl->wl_kind = lm.kind;
	wk.wk_newlisteners = 1;
}

static void
worker_listener_start(struct wk_listener *wl)
{
	acceptor_init(&wl->wl_accept, wl->wl_fd, 16, worker_accept, wl);
	acceptor_start(&wl->wl_accept);
}

/*
 * A new set of listeners (a reload changed them): each old socket's
 * queue is accepted, then it is closed, and the new one is served, which
 * for a listener the reload kept is the same socket again.  A slot with
 * no new socket is a listener removed.  Connections accepted on the old
 * ones go on.
 */
static void
worker_listeners_swap(void)
{
	struct wk_listener	*wl;
	unsigned int		 i;

	if (!wk.wk_newlisteners)
		return;
	wk.wk_newlisteners = 0;
	for (i = 0; i < PORTERO_MAX_LISTENERS; i++) {
		wl = &wk.wk_listen[i];
		if (wl->wl_fd != -1) {
			acceptor_drain(&wl->wl_accept);
			acceptor_stop(&wl->wl_accept);
			close(wl->wl_fd);
		}
		wl->wl_fd = wl->wl_newfd;
		wl->wl_newfd = -1;
		if (wl->wl_fd != -1 && wk.wk_started && !wk.wk_stopping)
			worker_listener_start(wl);
	}
}

/*
 * Servers, names, locations, header operations, pools and backends
 * arrive one by one into a set aside; the table is swapped whole at
 * CFG_DONE.  Each is held against what came before it (a name's server
 * must have come): out of step means the parent is, and that is fatal.
 */
static void
worker_conf_object(struct imsg *imsg)
{
	struct conf_set	*set;
	void		*obj;
	int		 ret = -1;

	if (wk.wk_pending == NULL && (wk.wk_pending = confset_new()) == NULL)
		fatal("configuration");
	set = wk.wk_pending;
	switch (imsg->hdr.type) {
	case IMSG_CFG_POOL:
		if ((obj = confset_next_pool(set)) != NULL)
			ret = config_getpool(imsg, obj);
		break;
	case IMSG_CFG_BACKEND:
		if ((obj = confset_add_backend(set)) != NULL)
			ret = config_getbackend(imsg, obj);
		break;
	case IMSG_CFG_SERVER:
		if ((obj = confset_add_server(set)) != NULL)
			ret = config_getserver(imsg, obj);
		break;
	case IMSG_CFG_NAME:
		if ((obj = confset_add_name(set)) != NULL)
			ret = config_getname(imsg, obj, set->cs_nservers);
		break;
	case IMSG_CFG_LOCATION:
		if ((obj = confset_add_location(set)) != NULL)
			ret = config_getlocation(imsg, obj, set->cs_nservers);
		break;
	case IMSG_CFG_HEADER:
		if ((obj = confset_add_header(set)) != NULL)
			ret = config_getheader(imsg, obj, set->cs_nservers,
			    set->cs_nlocations);
		break;
	case IMSG_CFG_NET:
		if ((obj = confset_add_net(set)) != NULL)
			ret = config_getnet(imsg, obj);
		break;
	}
	if (ret == -1)
		fatalx("bad %s message", imsg_name(imsg->hdr.type));
}

/*
 * A certificate set, message by message, each acknowledged so that the
 * certloader sends the next ones.  Messages of a transfer this worker
 * never began are left from its predecessor: dropped, not answered.
 */
static void
worker_cert(struct imsg *imsg)
{
	struct cert_begin	 cb;
	struct cert_msg		 cm;
	struct cert_ack		 ca;
	const void		*data;
	size_t			 len;
	int			 ret;

	switch (imsg->hdr.type) {
	case IMSG_CERT_BEGIN:
		if (config_getcertbegin(imsg, &cb) == -1)
			fatalx("bad certificate set");
		ret = tlsctx_cert_begin(&cb);
		break;
	case IMSG_CERT_ADD:
		if (config_getcert(imsg, &cm) == -1)
			fatalx("bad certificate message");
		ret = tlsctx_cert_add(&cm);
		break;
	case IMSG_CERT_DATA:
		if (config_getcertdata(imsg, &data, &len) == -1)
			fatalx("bad certificate message");
		ret = tlsctx_cert_data(data, len);
		break;
	default:
		ret = tlsctx_cert_end();
		break;
	}
	if (ret == -1)
		fatalx("certificate %s out of step",
		    imsg_name(imsg->hdr.type));
	if (tlsctx_cert_progress(&ca) == -1)
		return;		/* not ours */
	if (config_setcertack(proc_parent_iev(), &ca) == -1)
		fatal("send to parent");
}

/*
 * The upstream CA bundle, in chunks; applied with the configuration it
 * came with.  Out of step means the parent is: fatal.
 */
static void
worker_upstream_ca(struct imsg *imsg)
{
	if (upstream_ca_message(imsg) == -1)
		fatalx("upstream CA %s out of step",
		    imsg_name(imsg->hdr.type));
}

/*
 * The client CA bundles (mTLS), in chunks; applied with the
 * configuration they came with.  Out of step means the parent is: fatal.
 */
static void
worker_client_ca(struct imsg *imsg)
{
	struct client_ca_msg	 cam;
	const void		*data;
	size_t			 len;
	uint32_t		 count;
	int			 ret;

	switch (imsg->hdr.type) {
	case IMSG_CLIENT_CA:
		if (config_getclientca(imsg, &cam) == -1)
			fatalx("bad client CA message");
		ret = mtls_begin(&cam);
		break;
	case IMSG_CLIENT_CA_DATA:
		if (config_getclientcadata(imsg, &data, &len) == -1)
			fatalx("bad client CA message");
		ret = mtls_data(data, len);
		break;
	default:
		if (config_getclientcaend(imsg, &count) == -1)
			fatalx("bad client CA message");
		ret = mtls_end(count);
		break;
	}
	if (ret == -1)
		fatalx("client CA %s out of step", imsg_name(imsg->hdr.type));
}

/*
 * A registered backend, added, refreshed or removed; acknowledged, so
 * that the registrar answers once every worker routes to it.  Before
 * the first CFG_DONE the table is made for it: a starting worker's
 * snapshot comes first.
 */
static void
worker_registration(struct imsg *imsg)
{
	struct reg_backend	 rb;
	struct backend_conf	 bc;
	int			 ret = 0;

	if (config_getreg(imsg, &rb) == -1)
		fatalx("bad registration message");
	memset(&bc, 0, sizeof(bc));
	(void)strlcpy(bc.be_service, rb.rb_service, sizeof(bc.be_service));
	(void)snprintf(bc.be_host, sizeof(bc.be_host),
	    strchr(rb.rb_host, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    rb.rb_host, rb.rb_port);
	bc.be_ss = rb.rb_ss;
	bc.be_sslen = rb.rb_sslen;
	bc.be_port = rb.rb_port;
	bc.be_tls = rb.rb_tls;
	if (wk.wk_routes == NULL && (wk.wk_routes = route_new()) == NULL)
		fatal("route table");
	if (imsg->hdr.type == IMSG_REG_REMOVE)
		route_remove(wk.wk_routes, &bc);
	else
		ret = route_upsert(wk.wk_routes, &bc, rb.rb_expires);
	if (ret == -1)
		fatal("registered backend %s for %s", bc.be_host,
		    bc.be_service);
	if (imsg->hdr.type == IMSG_REG_SNAP)
		proc_compose_parent(IMSG_REG_SNAP_ACK, 0, NULL, 0);
	else if (config_setseq(proc_parent_iev(), IMSG_REG_ACK,
	    rb.rb_seq) == -1)
		fatal("send to parent");
}

/* A verdict on a backend's health, from its owner (hstate.c). */
static void
worker_health(struct imsg *imsg)
{
	struct backend_health	 bh;

	if (config_gethealth(imsg, &bh) == -1 || bh.bh_event < BH_UP)
		fatalx("bad health verdict");
	if (wk.wk_routes != NULL)
		backend_health_apply(wk.wk_routes, &bh);
}

/* A page of "show backends": this worker's counters for each. */
static void
worker_backends(struct imsg *imsg)
{
	struct backends_req	 br;
	struct backends_stats	 bss;
	struct timespec		 now;
	uint32_t		 i;

	if (config_getbackendsreq(imsg, &br) == -1)
		fatalx("bad backends request");
	clock_gettime(CLOCK_MONOTONIC, &now);
	memset(&bss, 0, sizeof(bss));
	bss.bss_page = br.br_page;
	bss.bss_n = br.br_n;
	for (i = 0; i < br.br_n && wk.wk_routes != NULL; i++)
		route_stat(wk.wk_routes, &br.br_keys[i], &now,
		    &bss.bss_stats[i]);
	if (config_setbackends(proc_parent_iev(), imsg->hdr.peerid,
	    &bss) == -1)
		fatal("send to parent");
}

static void
worker_routes_swap(void)
{
	struct route_table	*rt;
	struct conf_set		*set = wk.wk_pending;

	wk.wk_pending = NULL;
	if (set == NULL && (set = confset_new()) == NULL) {
		log_warn("route table; keeping the old one");
		return;
	}
	if ((rt = route_rebuild(set, wk.wk_routes)) == NULL) {
		log_warn("route table; keeping the old one");
		return;
	}
	route_unref(wk.wk_routes);
	wk.wk_routes = rt;
}

static void
worker_dispatch_parent(struct imsg *imsg)
{
	struct ticket_key_msg	 tk;
	unsigned int		 i;

	if (proc_child_common(imsg, &wk.wk_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_LISTENER:
		worker_listener(imsg);
		break;
	case IMSG_CFG_POOL:
	case IMSG_CFG_BACKEND:
	case IMSG_CFG_SERVER:
	case IMSG_CFG_NAME:
	case IMSG_CFG_LOCATION:
	case IMSG_CFG_HEADER:
	case IMSG_CFG_NET:
		worker_conf_object(imsg);
		break;
	case IMSG_LOG_SOCKET:
		/* a new logger, or this worker is new to it */
		if (wk.wk_logfd != -1)
			close(wk.wk_logfd);
		wk.wk_logfd = config_getlogsocket(imsg);
		break;
	case IMSG_CFG_DONE:
		if (!wk.wk_sandboxed)
			worker_init();
		upstream_ca_apply();
		mtls_apply();
		poolca_apply();
		tlsctx_config(&wk.wk_conf);
		/* what old sockets queued is accepted under the old set */
		worker_listeners_swap();
		worker_routes_swap();
		poolclient_prune();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		if (wk.wk_listen[0].wl_fd == -1)
			fatalx("started without a listener");
		wk.wk_started = 1;
		for (i = 0; i < PORTERO_MAX_LISTENERS; i++)
			if (wk.wk_listen[i].wl_fd != -1)
				worker_listener_start(&wk.wk_listen[i]);
		evtimer_set(&wk.wk_ev_sweep, worker_sweep, NULL);
		worker_sweep(-1, 0, NULL);
		break;
	case IMSG_CERT_BEGIN:
	case IMSG_CERT_ADD:
	case IMSG_CERT_DATA:
	case IMSG_CERT_END:
		worker_cert(imsg);
		break;
	case IMSG_TLS_TICKET_KEY:
		if (config_getticket(imsg, &tk) == -1)
			fatalx("bad ticket key message");
		tlsctx_ticket_key(&tk);
		break;
	case IMSG_BACKEND_VERDICT:
		worker_health(imsg);
		break;
	case IMSG_UPSTREAM_CA:
	case IMSG_UPSTREAM_CA_DATA:
	case IMSG_UPSTREAM_CA_END:
		worker_upstream_ca(imsg);
		break;
	case IMSG_CLIENT_CA:
	case IMSG_CLIENT_CA_DATA:
	case IMSG_CLIENT_CA_END:
		worker_client_ca(imsg);
		break;
	case IMSG_POOL_CA:
	case IMSG_POOL_CA_DATA:
	case IMSG_POOL_CA_END:
		if (poolca_message(imsg) == -1)
			fatalx("tls-ca %s out of step",
			    imsg_name(imsg->hdr.type));
		break;
	case IMSG_POOL_CERT:
	case IMSG_POOL_CERT_DATA:
	case IMSG_POOL_CERT_END:
		if (poolclient_message(imsg) == -1)
			fatalx("tls-client-certificate %s out of step",
			    imsg_name(imsg->hdr.type));
		break;
	case IMSG_REG_UPSERT:
	case IMSG_REG_REMOVE:
	case IMSG_REG_SNAP:
		worker_registration(imsg);
		break;
	case IMSG_BACKENDS_REQ:
		worker_backends(imsg);
		break;
	case IMSG_MET_REQ:
		wmetrics_answer(imsg->hdr.peerid);
		break;
	case IMSG_STATS_REQ:
		if (config_setstats(proc_parent_iev(), imsg->hdr.peerid,
		    &wk.wk_stats) == -1)
			fatal("send to parent");
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
worker_accept(int fd, void *arg)
{
	struct wk_listener	*wl = arg;

	proxy_accept(fd, wl->wl_kind, wl->wl_index, tlsctx_current());
}

/* Stop accepting; what is in flight gets the drain timeout to finish. */
static void
worker_sweep(int fd, short event, void *arg)
{
	struct timeval	 tv = { 1, 0 };

	proxy_sweep();
	evtimer_add(&wk.wk_ev_sweep, &tv);
}

static void
worker_shutdown(void)
{
	struct timeval	 tv;
	unsigned int	 i;

	if (wk.wk_stopping)
		return;
	log_debug("draining");
	wk.wk_stopping = 1;
	if (evtimer_initialized(&wk.wk_ev_sweep))
		evtimer_del(&wk.wk_ev_sweep);
	for (i = 0; i < PORTERO_MAX_LISTENERS; i++)
		if (wk.wk_listen[i].wl_fd != -1) {
			acceptor_stop(&wk.wk_listen[i].wl_accept);
			close(wk.wk_listen[i].wl_fd);
			wk.wk_listen[i].wl_fd = -1;
		}
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
