/*
 * mset.c: one scrape's numbers in the metrics child, summed over the
 * processes that sent them.
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
 * Counters add up across workers.  A backend's health is each worker's
 * own view (its passive failures, the health child's verdicts): it is up
 * when any worker would send it requests.  Sorted trees keep the output
 * in a stable order, scrape after scrape.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portero.h"

static int
mset_service_cmp(struct mset_service *a, struct mset_service *b)
{
	return (strcmp(a->ss_name, b->ss_name));
}

static int
mset_backend_cmp(struct mset_backend *a, struct mset_backend *b)
{
	int	 c;

	if ((c = strcmp(a->sb_service, b->sb_service)) != 0)
		return (c);
	return (strcmp(a->sb_addr, b->sb_addr));
}

RB_GENERATE(mset_services, mset_service, ss_node, mset_service_cmp);
RB_GENERATE(mset_backends, mset_backend, sb_node, mset_backend_cmp);

struct metrics_set *
mset_new(uint32_t seq)
{
	struct metrics_set	*set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return (NULL);
	set->ms_seq = seq;
	RB_INIT(&set->ms_services);
	RB_INIT(&set->ms_backends);
	set->ms_time = time(NULL);
	return (set);
}

void
mset_free(struct metrics_set *set)
{
	struct mset_service	*ss;
	struct mset_backend	*sb;

	if (set == NULL)
		return;
	while ((ss = RB_MIN(mset_services, &set->ms_services)) != NULL) {
		RB_REMOVE(mset_services, &set->ms_services, ss);
		free(ss);
	}
	while ((sb = RB_MIN(mset_backends, &set->ms_backends)) != NULL) {
		RB_REMOVE(mset_backends, &set->ms_backends, sb);
		free(sb);
	}
	free(set->ms_certs);
	free(set);
}

static void
mset_hist_sum(struct met_hist *to, const struct met_hist *h)
{
	unsigned int	 i;

	for (i = 0; i < MET_NBUCKETS; i++)
		to->mh_bucket[i] += h->mh_bucket[i];
	to->mh_sum_us += h->mh_sum_us;
}

static struct mset_service *
mset_service(struct metrics_set *set, const char *name)
{
	struct mset_service	 key, *ss;

	(void)strlcpy(key.ss_name, name, sizeof(key.ss_name));
	if ((ss = RB_FIND(mset_services, &set->ms_services, &key)) != NULL)
		return (ss);
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return (NULL);
	memcpy(ss->ss_name, key.ss_name, sizeof(ss->ss_name));
	RB_INSERT(mset_services, &set->ms_services, ss);
	return (ss);
}

static struct mset_backend *
mset_backend(struct metrics_set *set, const char *service, const char *addr)
{
	struct mset_backend	 key, *sb;

	memset(&key, 0, sizeof(key));
	(void)strlcpy(key.sb_service, service, sizeof(key.sb_service));
	(void)strlcpy(key.sb_addr, addr, sizeof(key.sb_addr));
	if ((sb = RB_FIND(mset_backends, &set->ms_backends, &key)) != NULL)
		return (sb);
	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return (NULL);
	*sb = key;
	sb->sb_up = -1;
	RB_INSERT(mset_backends, &set->ms_backends, sb);
	return (sb);
}

static int
mset_add_service(struct metrics_set *set, struct imsg *imsg)
{
	struct met_service	 ms;
	struct met_hist		 hist;
	struct mset_service	*ss;
	char			 name[NAME_MAX_LEN];
	unsigned int		 p, c;

	if (config_getmetservice(imsg, &ms, &hist, name) == -1)
		return (-1);
	if ((ss = mset_service(set, name)) == NULL)
		return (0);	/* out of memory: this scrape lacks it */
	ss->ss_counted = 1;
	for (p = 0; p < MET_PROTOS; p++)
		for (c = 0; c < MET_CLASSES; c++)
			ss->ss_requests[p][c] += ms.ms_requests[p][c];
	mset_hist_sum(&ss->ss_duration, &hist);
	return (0);
}

static int
mset_add_backend(struct metrics_set *set, struct imsg *imsg)
{
	struct met_backend	 mb;
	struct met_hist		 hists[2];
	struct mset_backend	*sb;
	char			 service[NAME_MAX_LEN], addr[MET_ADDR_MAX];

	if (config_getmetbackend(imsg, &mb, hists, service, addr) == -1)
		return (-1);
	if ((sb = mset_backend(set, service, addr)) == NULL)
		return (0);	/* out of memory: this scrape lacks it */
	sb->sb_errors += mb.mb_errors;
	if (mb.mb_up > sb->sb_up)
		sb->sb_up = mb.mb_up;
	mset_hist_sum(&sb->sb_connect, &hists[0]);
	mset_hist_sum(&sb->sb_response, &hists[1]);
	return (0);
}

static int
mset_add_worker(struct metrics_set *set, struct imsg *imsg)
{
	struct met_worker	 mw, *to = &set->ms_worker;
	unsigned int		 i;

	if (config_getmet(imsg, &mw, sizeof(mw)) == -1)
		return (-1);
	for (i = 0; i < MET_PROTOS; i++)
		to->mw_connections[i] += mw.mw_connections[i];
	to->mw_handshakes += mw.mw_handshakes;
	to->mw_resumed += mw.mw_resumed;
	for (i = 0; i < HS_FAIL_MAX; i++)
		to->mw_hs_failed[i] += mw.mw_hs_failed[i];
	to->mw_client_in += mw.mw_client_in;
	to->mw_client_out += mw.mw_client_out;
	to->mw_log_dropped += mw.mw_log_dropped;
	return (0);
}

static int
mset_add_regsvc(struct metrics_set *set, struct imsg *imsg)
{
	struct met_regsvc	 mr;
	struct mset_service	*ss;

	if (config_getmet(imsg, &mr, sizeof(mr)) == -1)
		return (-1);
	mr.mr_service[sizeof(mr.mr_service) - 1] = '\0';
	if ((ss = mset_service(set, mr.mr_service)) == NULL)
		return (0);
	ss->ss_hasreg = 1;
	ss->ss_registered = mr.mr_backends;
	return (0);
}

static int
mset_add_cert(struct metrics_set *set, struct imsg *imsg)
{
	struct met_cert	 mc, *n;

	if (config_getmet(imsg, &mc, sizeof(mc)) == -1)
		return (-1);
	mc.mc_name[sizeof(mc.mc_name) - 1] = '\0';
	if (set->ms_ncerts == set->ms_certcap) {
		if ((n = reallocarray(set->ms_certs, set->ms_certcap * 2 + 16,
		    sizeof(*n))) == NULL)
			return (0);
		set->ms_certs = n;
		set->ms_certcap = set->ms_certcap * 2 + 16;
	}
	set->ms_certs[set->ms_ncerts++] = mc;
	return (0);
}

/* One message of the scrape into set; -1 if it is malformed. */
int
mset_add(struct metrics_set *set, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_MET_BEGIN:
		set->ms_begun = 1;
		return (config_getmet(imsg, &set->ms_begin,
		    sizeof(set->ms_begin)));
	case IMSG_MET_PROC:
		if (set->ms_nprocs == MSET_PROCS)
			return (-1);
		return (config_getmet(imsg, &set->ms_procs[set->ms_nprocs++],
		    sizeof(set->ms_procs[0])));
	case IMSG_MET_WORKER:
		return (mset_add_worker(set, imsg));
	case IMSG_MET_SERVICE:
		return (mset_add_service(set, imsg));
	case IMSG_MET_BACKEND:
		return (mset_add_backend(set, imsg));
	case IMSG_MET_REGISTRAR:
		return (config_getmet(imsg, &set->ms_registrar,
		    sizeof(set->ms_registrar)));
	case IMSG_MET_REGSVC:
		return (mset_add_regsvc(set, imsg));
	case IMSG_MET_CERT:
		return (mset_add_cert(set, imsg));
	case IMSG_MET_END:
		set->ms_answered++;
		return (0);
	}
	return (-1);
}

/*
 * from's numbers added to to.  Without gauges (a worker that is gone),
 * only what counts up: its connections closed with it, and whether it
 * would send a backend requests is no longer anyone's business.
 */
void
mset_merge(struct metrics_set *to, const struct metrics_set *from,
    int gauges)
{
	struct mset_service	*fs, *ss;
	struct mset_backend	*fb, *sb;
	struct met_worker	*tw = &to->ms_worker;
	const struct met_worker	*fw = &from->ms_worker;
	unsigned int		 p, c;

	RB_FOREACH(fs, mset_services, (struct mset_services *)
	    &from->ms_services) {
		if (!fs->ss_counted || (ss = mset_service(to,
		    fs->ss_name)) == NULL)
			continue;
		ss->ss_counted = 1;
		for (p = 0; p < MET_PROTOS; p++)
			for (c = 0; c < MET_CLASSES; c++)
				ss->ss_requests[p][c] += fs->ss_requests[p][c];
		mset_hist_sum(&ss->ss_duration, &fs->ss_duration);
	}
	RB_FOREACH(fb, mset_backends, (struct mset_backends *)
	    &from->ms_backends) {
		if ((sb = mset_backend(to, fb->sb_service,
		    fb->sb_addr)) == NULL)
			continue;
		sb->sb_errors += fb->sb_errors;
		if (gauges && fb->sb_up > sb->sb_up)
			sb->sb_up = fb->sb_up;
		mset_hist_sum(&sb->sb_connect, &fb->sb_connect);
		mset_hist_sum(&sb->sb_response, &fb->sb_response);
	}
	if (gauges)
		for (p = 0; p < MET_PROTOS; p++)
			tw->mw_connections[p] += fw->mw_connections[p];
	tw->mw_handshakes += fw->mw_handshakes;
	tw->mw_resumed += fw->mw_resumed;
	for (p = 0; p < HS_FAIL_MAX; p++)
		tw->mw_hs_failed[p] += fw->mw_hs_failed[p];
	tw->mw_client_in += fw->mw_client_in;
	tw->mw_client_out += fw->mw_client_out;
	tw->mw_log_dropped += fw->mw_log_dropped;
}

/* The pid the parent gave for a process in this scrape; 0: none. */
pid_t
mset_pid(const struct metrics_set *set, enum proc_role role, uint32_t id)
{
	uint32_t	 i;

	for (i = 0; i < set->ms_nprocs; i++)
		if (set->ms_procs[i].mp_role == role &&
		    set->ms_procs[i].mp_id == id)
			return (set->ms_procs[i].mp_pid);
	return (0);
}

/*
 * The counts of set (restarted workers'), to the parent to keep for the
 * next metrics child: the messages a worker would send, marked MET_KEEP.
 */
void
mset_keep(const struct metrics_set *set, struct imsgev *iev)
{
	struct mset_service	*ss;
	struct mset_backend	*sb;
	struct met_service	 ms;
	struct met_backend	 mb;

	if (imsgev_compose(iev, IMSG_MET_KEEP_BEGIN, 0, 0, -1, NULL, 0) ==
	    -1 || config_setmet(iev, IMSG_MET_WORKER, MET_KEEP,
	    &set->ms_worker, sizeof(set->ms_worker)) == -1)
		goto fail;
	RB_FOREACH(ss, mset_services, (struct mset_services *)
	    &set->ms_services) {
		memset(&ms, 0, sizeof(ms));
		memcpy(ms.ms_requests, ss->ss_requests,
		    sizeof(ms.ms_requests));
		if (config_setmetservice(iev, MET_KEEP, &ms, &ss->ss_duration,
		    ss->ss_name) == -1)
			goto fail;
	}
	RB_FOREACH(sb, mset_backends, (struct mset_backends *)
	    &set->ms_backends) {
		memset(&mb, 0, sizeof(mb));
		mb.mb_errors = sb->sb_errors;
		mb.mb_up = -1;
		if (config_setmetbackend(iev, MET_KEEP, &mb, &sb->sb_connect,
		    &sb->sb_response, sb->sb_service, sb->sb_addr) == -1)
			goto fail;
	}
	return;
 fail:
	log_warn("metrics: restarted workers' counts not kept");
}

/* What did not answer in time. */
void
mset_finish(struct metrics_set *set)
{
	if (!set->ms_begun)
		set->ms_missing = 1;	/* not even the parent */
	else if (set->ms_answered < set->ms_begin.mb_sources)
		set->ms_missing = set->ms_begin.mb_sources - set->ms_answered;
}
