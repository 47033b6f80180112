/*
 * wmetrics.c: a worker's counters by pool and by backend, which outlive
 * the route tables that reloads and registrations replace, and its
 * answer to a scrape.
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
 * A pool's counters are a slot found by the pool's name, a backend's by
 * its pool and address; every struct service and struct backend that
 * has that name points at the slot and holds a reference to it.  A
 * reload builds new services and backends before the old ones go, so a
 * pool or backend a reload keeps keeps its counts, and one that leaves
 * for good frees its slot: the label values are the configured and
 * registered pools, never anything a client sent.  A request that
 * reached no pool counts in wm_none, the pool "".
 *
 * The request path only adds; a scrape walks the slots and the live
 * clients (for the bytes of open connections) and sends one message a
 * slot, histograms only where something was counted.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "portero.h"

struct wmet_service {
	RB_ENTRY(wmet_service)	 ws_node;
	unsigned int		 ws_refs;
	struct met_service	 ws_c;
	struct met_hist		 ws_duration;
	char			 ws_name[NAME_MAX_LEN];
};

/*
 * A backend's slot is small, for registries of thousands: its names
 * after it, exactly as long as they are, and its histograms made when
 * it first has a sample.
 */
struct wmet_times {
	struct met_hist		 wt_connect;
	struct met_hist		 wt_response;
};

struct wmet_backend {
	RB_ENTRY(wmet_backend)	 wb_node;
	unsigned int		 wb_refs;
	struct backend		*wb_be;		/* the newest in it */
	uint64_t		 wb_errors;
	struct wmet_times	*wb_times;	/* NULL: none yet */
	const char		*wb_service;	/* in wb_names */
	const char		*wb_addr;
	char			 wb_names[];
};

RB_HEAD(wmet_services, wmet_service);
RB_HEAD(wmet_backends, wmet_backend);

static int	 wmet_service_cmp(struct wmet_service *,
		    struct wmet_service *);
static int	 wmet_backend_cmp(struct wmet_backend *,
		    struct wmet_backend *);

RB_PROTOTYPE(wmet_services, wmet_service, ws_node, wmet_service_cmp);
RB_PROTOTYPE(wmet_backends, wmet_backend, wb_node, wmet_backend_cmp);

/* This worker's; one worker per process. */
static struct wmet_services	 wm_services = RB_INITIALIZER(&wm_services);
static struct wmet_backends	 wm_backends = RB_INITIALIZER(&wm_backends);
static struct wmet_service	 wm_none;

const uint32_t met_bounds_us[MET_NBOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000
};

static int
wmet_service_cmp(struct wmet_service *a, struct wmet_service *b)
{
	return (strcmp(a->ws_name, b->ws_name));
}

static int
wmet_backend_cmp(struct wmet_backend *a, struct wmet_backend *b)
{
	int	 c;

	if ((c = strcmp(a->wb_service, b->wb_service)) != 0)
		return (c);
	return (strcmp(a->wb_addr, b->wb_addr));
}

RB_GENERATE(wmet_services, wmet_service, ws_node, wmet_service_cmp);
RB_GENERATE(wmet_backends, wmet_backend, wb_node, wmet_backend_cmp);

/* One duration into its bucket: most are in the first few. */
void
met_hist_add(struct met_hist *h, const struct timespec *d)
{
	uint64_t	 us;
	unsigned int	 i;

	if (d->tv_sec < 0)
		us = 0;
	else
		us = (uint64_t)d->tv_sec * 1000000 + d->tv_nsec / 1000;
	for (i = 0; i < MET_NBOUNDS && us > met_bounds_us[i]; i++)
		;
	h->mh_bucket[i]++;
	h->mh_sum_us += us;
}

/* sv's slot, found or made; on no memory sv counts nowhere. */
int
wmetrics_service(struct service *sv)
{
	struct wmet_service	 key, *ws;

	(void)strlcpy(key.ws_name, sv->sv_name, sizeof(key.ws_name));
	if ((ws = RB_FIND(wmet_services, &wm_services, &key)) == NULL) {
		if ((ws = calloc(1, sizeof(*ws))) == NULL) {
			log_warn("metrics of pool %s", sv->sv_name);
			return (-1);
		}
		memcpy(ws->ws_name, key.ws_name, sizeof(ws->ws_name));
		RB_INSERT(wmet_services, &wm_services, ws);
	}
	ws->ws_refs++;
	sv->sv_met = ws;
	return (0);
}

void
wmetrics_service_drop(struct service *sv)
{
	struct wmet_service	*ws = sv->sv_met;

	if (ws == NULL)
		return;
	sv->sv_met = NULL;
	if (--ws->ws_refs > 0)
		return;
	RB_REMOVE(wmet_services, &wm_services, ws);
	free(ws);
}

int
wmetrics_backend(struct backend *be)
{
	struct wmet_backend	 key, *wb;
	char			 addr[MET_ADDR_MAX];
	size_t			 slen, alen;

	/* the resolved address: a name and its address are one backend */
	(void)health_addr(&be->be_conf.be_ss, addr, sizeof(addr));
	key.wb_service = be->be_conf.be_service;
	key.wb_addr = addr;
	if ((wb = RB_FIND(wmet_backends, &wm_backends, &key)) == NULL) {
		slen = strlen(key.wb_service) + 1;
		alen = strlen(addr) + 1;
		if ((wb = calloc(1, sizeof(*wb) + slen + alen)) == NULL) {
			log_warn("metrics of backend %s", addr);
			return (-1);
		}
		memcpy(wb->wb_names, key.wb_service, slen);
		memcpy(wb->wb_names + slen, addr, alen);
		wb->wb_service = wb->wb_names;
		wb->wb_addr = wb->wb_names + slen;
		RB_INSERT(wmet_backends, &wm_backends, wb);
	}
	wb->wb_refs++;
	wb->wb_be = be;
	be->be_met = wb;
	return (0);
}

void
wmetrics_backend_drop(struct backend *be)
{
	struct wmet_backend	*wb = be->be_met;

	if (wb == NULL)
		return;
	be->be_met = NULL;
	if (wb->wb_be == be)
		wb->wb_be = NULL;
	if (--wb->wb_refs > 0)
		return;
	RB_REMOVE(wmet_backends, &wm_backends, wb);
	free(wb->wb_times);
	free(wb);
}

/* A request ends: by its pool, status class and protocol; its time. */
void
wmetrics_request(struct exchange *xc)
{
	struct wmet_service	*ws = &wm_none;
	struct timespec		 d;
	int			 class = xc->xc_status / 100 - 1;

	if (class < 0 || class >= MET_CLASSES || xc->xc_counted)
		return;		/* none (the client left), or counted */
	xc->xc_counted = 1;
	if (xc->xc_sv != NULL && xc->xc_sv->sv_met != NULL)
		ws = xc->xc_sv->sv_met;
	ws->ws_c.ms_requests[xc->xc_h2 != NULL][class]++;
	timespecsub(&xc->xc_end, &xc->xc_start, &d);
	met_hist_add(&ws->ws_duration, &d);
}

/* A backend's histograms, made at its first sample; NULL: no memory. */
static struct wmet_times *
wmet_times(struct wmet_backend *wb)
{
	if (wb->wb_times == NULL &&
	    (wb->wb_times = calloc(1, sizeof(*wb->wb_times))) == NULL)
		log_warn("metrics of backend %s", wb->wb_addr);
	return (wb->wb_times);
}

/* A new upstream connection is ready: how long connect and TLS took. */
void
wmetrics_connected(struct upstream *up)
{
	struct wmet_times	*t;
	struct timespec		 now, d;

	if (up->up_be->be_met == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	timespecsub(&now, &up->up_started, &d);
	if ((t = wmet_times(up->up_be->be_met)) != NULL)
		met_hist_add(&t->wt_connect, &d);
}

/* A backend's response head came: from the request's head to it. */
void
wmetrics_response(struct exchange *xc)
{
	struct wmet_times	*t;
	struct timespec		 d;

	if (xc->xc_be == NULL || xc->xc_be->be_met == NULL)
		return;
	timespecsub(&xc->xc_upstream, &xc->xc_start, &d);
	if ((t = wmet_times(xc->xc_be->be_met)) != NULL)
		met_hist_add(&t->wt_response, &d);
}

void
wmetrics_failed(struct backend *be)
{
	if (be->be_met != NULL)
		be->be_met->wb_errors++;
}

/* How many durations h holds. */
uint64_t
met_hist_count(const struct met_hist *h)
{
	uint64_t	 n = 0;
	unsigned int	 i;

	for (i = 0; i < MET_NBUCKETS; i++)
		n += h->mh_bucket[i];
	return (n);
}

/* h, or NULL when nothing was counted in it: it need not travel. */
static const struct met_hist *
wmet_hist_or_null(const struct met_hist *h)
{
	return (met_hist_count(h) > 0 ? h : NULL);
}

static int
wmet_send_worker(struct imsgev *iev, uint32_t seq)
{
	struct worker		*wk = worker_env;
	struct met_worker	 mw;
	struct client		*cl;

	memset(&mw, 0, sizeof(mw));
	mw.mw_connections[1] = wk->wk_stats.h2_connections;
	mw.mw_connections[0] = wk->wk_stats.connections -
	    wk->wk_stats.h2_connections;
	mw.mw_handshakes = wk->wk_stats.handshakes;
	mw.mw_resumed = wk->wk_stats.resumed;
	memcpy(mw.mw_hs_failed, wk->wk_stats.handshake_failed,
	    sizeof(mw.mw_hs_failed));
	/* closed connections' bytes, and the open ones' so far */
	mw.mw_client_in = wk->wk_stats.client_in;
	mw.mw_client_out = wk->wk_stats.client_out;
	TAILQ_FOREACH(cl, &wk->wk_clients, cl_entry) {
		if (cl->cl_dead)
			continue;	/* counted as it closed */
		mw.mw_client_in += cl->cl_conn.c_nread;
		mw.mw_client_out += cl->cl_conn.c_nwritten;
	}
	mw.mw_log_dropped = wk->wk_stats.log_dropped;
	return (config_setmet(iev, IMSG_MET_WORKER, seq, &mw, sizeof(mw)));
}

static int
wmet_send_service(struct imsgev *iev, uint32_t seq,
    const struct wmet_service *ws)
{
	return (config_setmetservice(iev, seq, &ws->ws_c,
	    wmet_hist_or_null(&ws->ws_duration), ws->ws_name));
}

static int
wmet_send_backend(struct imsgev *iev, uint32_t seq,
    const struct wmet_backend *wb, const struct timespec *now)
{
	struct met_backend	 mb;

	memset(&mb, 0, sizeof(mb));
	mb.mb_errors = wb->wb_errors;
	if (wb->wb_be == NULL || wb->wb_be->be_gone)
		mb.mb_up = -1;
	else
		mb.mb_up = !backend_is_down(wb->wb_be, now);
	return (config_setmetbackend(iev, seq, &mb, wb->wb_times == NULL ?
	    NULL : wmet_hist_or_null(&wb->wb_times->wt_connect),
	    wb->wb_times == NULL ? NULL :
	    wmet_hist_or_null(&wb->wb_times->wt_response), wb->wb_service,
	    wb->wb_addr));
}

/*
 * The parent asks for scrape seq: everything, then MET_END.  A queue
 * that cannot take it all ends the answer early; the scrape counts this
 * worker as missing rather than the worker waiting.
 */
void
wmetrics_answer(uint32_t seq)
{
	struct imsgev		*iev = proc_parent_iev();
	struct wmet_service	*ws;
	struct wmet_backend	*wb;
	struct timespec		 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (wmet_send_worker(iev, seq) == -1 ||
	    wmet_send_service(iev, seq, &wm_none) == -1)
		goto cut;
	RB_FOREACH(ws, wmet_services, &wm_services)
		if (wmet_send_service(iev, seq, ws) == -1)
			goto cut;
	RB_FOREACH(wb, wmet_backends, &wm_backends)
		if (wmet_send_backend(iev, seq, wb, &now) == -1)
			goto cut;
	if (config_setmet(iev, IMSG_MET_END, seq, NULL, 0) == -1)
		goto cut;
	return;
 cut:
	log_warn("metrics: answer to scrape %u cut short", seq);
}
