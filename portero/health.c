/*
 * health.c: the health child, as relayd's hce: it runs every backend's
 * active check (check.c) and owns backend health (hstate.c), merging the
 * checks with what workers' requests find.  It holds no files.
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
 * What it is told.  With each configuration, every backend to check
 * (CFG_CHECK: pools' own and registered ones alike), taken whole at
 * CFG_DONE: a backend checked before keeps its verdict.  Between
 * configurations, registered backends of checked pools come and go
 * (CHECK_ADD, CHECK_REMOVE).  Workers' reports (BACKEND_HEALTH) and the
 * news of a worker that started (HEALTH_WORKER) come through the parent,
 * and verdicts go back through it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

RB_HEAD(hchecks, hcheck);

struct health {
	struct portero_config	 he_conf;
	int			 he_sandboxed;
	struct hchecks		 he_checks;	/* by backend */
	unsigned int		 he_n;
	struct check_target	*he_pending;	/* a configuration coming */
	unsigned int		 he_npending;
	int			 he_full;	/* logged */
};

/* This process's one health child. */
static struct health	 he;

static int	 hcheck_cmp(struct hcheck *, struct hcheck *);
RB_PROTOTYPE(hchecks, hcheck, hc_node, hcheck_cmp);
RB_GENERATE(hchecks, hcheck, hc_node, hcheck_cmp);

static void	 health_init(void);
static void	 health_dispatch_parent(struct imsg *);
static void	 health_launch(void);
static void	 health_send(const struct backend_health *, uint32_t);
static void	 health_key(struct backend_health *,
		    const struct check_target *);
static void	 health_pending(const struct imsg *);
static void	 health_upsert(const struct check_target *);
static void	 health_remove(struct hcheck *);
static void	 health_backends(const struct imsg *);

void
health_main(void)
{
	RB_INIT(&he.he_checks);
	proc_child_connect(PROC_HEALTH, health_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/*
 * Nothing to read, ever: the CA bundle comes by message.  libssl is set
 * up first, so it does not look for its configuration in the sandbox.
 */
static void
health_init(void)
{
	if (ptls_init() == -1)
		fatalx("cannot initialise the TLS library");
	upstream_ca_apply();
	proc_drop_privileges(&he.he_conf, he.he_conf.chroot_dir);
	proc_sandbox(PROMISES_HEALTH);
	he.he_sandboxed = 1;
	hstate_init(he.he_conf.workers, health_send);
}

static void
health_dispatch_parent(struct imsg *imsg)
{
	struct check_target	 ct;
	struct backend_health	 bh;
	struct hcheck		 find, *hc;

	if (proc_child_common(imsg, &he.he_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_CHECK:
		health_pending(imsg);
		break;
	case IMSG_UPSTREAM_CA:
	case IMSG_UPSTREAM_CA_DATA:
	case IMSG_UPSTREAM_CA_END:
		if (upstream_ca_message(imsg) == -1)
			fatalx("upstream CA %s out of step",
			    imsg_name(imsg->hdr.type));
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
	case IMSG_CFG_DONE:
		if (!he.he_sandboxed)
			health_init();
		upstream_ca_apply();
		poolca_apply();
		poolclient_prune();
		health_launch();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		break;
	case IMSG_CHECK_ADD:
	case IMSG_CHECK_REMOVE:
		if (config_getcheck(imsg, &ct) == -1)
			fatalx("bad check message");
		if (imsg->hdr.type == IMSG_CHECK_ADD) {
			health_upsert(&ct);
			break;
		}
		health_key(&find.hc_key, &ct);
		if ((hc = RB_FIND(hchecks, &he.he_checks, &find)) != NULL)
			health_remove(hc);
		break;
	case IMSG_BACKEND_HEALTH:
		if (config_gethealth(imsg, &bh) == -1 ||
		    bh.bh_event > BH_PROBED)
			fatalx("bad health report");
		hstate_report(&bh);
		break;
	case IMSG_HEALTH_WORKER:
		if (imsg->hdr.peerid >= he.he_conf.workers)
			fatalx("health news of worker %u", imsg->hdr.peerid);
		hstate_sync(imsg->hdr.peerid);
		break;
	case IMSG_BACKENDS_REQ:
		health_backends(imsg);
		break;
	case IMSG_SHUTDOWN:
		exit(0);
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

static int
hcheck_cmp(struct hcheck *a, struct hcheck *b)
{
	return (health_key_cmp(&a->hc_key, &b->hc_key));
}

static void
health_key(struct backend_health *key, const struct check_target *ct)
{
	memset(key, 0, sizeof(*key));
	(void)strlcpy(key->bh_service, ct->ct_service,
	    sizeof(key->bh_service));
	memcpy(&key->bh_ss, &ct->ct_ss, sizeof(key->bh_ss));
	key->bh_sslen = ct->ct_sslen;
	key->bh_tls = ct->ct_tls;
}

/* Verdicts to the parent, which hands them to the worker or workers. */
static void
health_send(const struct backend_health *bh, uint32_t worker)
{
	if (config_setverdict(proc_parent_iev(), worker, bh) == -1)
		fatal("send to parent");
}

/* One more backend of the configuration being sent. */
static void
health_pending(const struct imsg *imsg)
{
	struct check_target	*n;

	if (he.he_npending >= CHECK_TARGETS_MAX)
		fatalx("more than %d backends to check", CHECK_TARGETS_MAX);
	if ((n = reallocarray(he.he_pending, he.he_npending + 1,
	    sizeof(*n))) == NULL)
		fatal("backends to check");
	he.he_pending = n;
	if (config_getcheck(imsg, &he.he_pending[he.he_npending++]) == -1)
		fatalx("bad check message");
}

/*
 * A backend to check, new or with new settings: a new one is pending
 * until it has been checked rise or fall times; one whose settings
 * changed keeps its verdict, and its counts start over.
 */
static void
health_upsert(const struct check_target *ct)
{
	struct hcheck	 find, *hc;

	health_key(&find.hc_key, ct);
	if ((hc = RB_FIND(hchecks, &he.he_checks, &find)) != NULL) {
		hc->hc_keep = 1;
		if (memcmp(&hc->hc_target, ct, sizeof(*ct)) == 0)
			return;
		hc->hc_target = *ct;
		check_restart(hc);
		return;
	}
	if (he.he_n >= CHECK_TARGETS_MAX) {
		if (!he.he_full)
			log_warnx("more than %d backends to check; the "
			    "others are not checked", CHECK_TARGETS_MAX);
		he.he_full = 1;
		return;
	}
	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		log_warn("a backend to check");
		return;
	}
	hc->hc_key = find.hc_key;
	hc->hc_target = *ct;
	hc->hc_keep = 1;
	check_init(hc);
	RB_INSERT(hchecks, &he.he_checks, hc);
	he.he_n++;
	check_start(hc);
}

/* No longer checked: whatever its check said is void. */
static void
health_remove(struct hcheck *hc)
{
	check_stop(hc);
	hstate_unchecked(&hc->hc_key);
	RB_REMOVE(hchecks, &he.he_checks, hc);
	he.he_n--;
	free(hc);
	he.he_full = 0;
}

/* A configuration is whole: its backends are checked, no others. */
static void
health_launch(void)
{
	struct hcheck	*hc, *next;
	unsigned int	 i;

	RB_FOREACH(hc, hchecks, &he.he_checks)
		hc->hc_keep = 0;
	for (i = 0; i < he.he_npending; i++)
		health_upsert(&he.he_pending[i]);
	RB_FOREACH_SAFE(hc, hchecks, &he.he_checks, next)
		if (!hc->hc_keep)
			health_remove(hc);
	free(he.he_pending);
	he.he_pending = NULL;
	he.he_npending = 0;
	log_debug("checking %u backends", he.he_n);
}

/* A page of "show backends": the checks of each backend on it. */
static void
health_backends(const struct imsg *imsg)
{
	struct backends_req	 br;
	struct health_stats	 hss;
	const struct backend_key *bk;
	struct hcheck		 find, *hc;
	uint32_t		 i;

	if (config_getbackendsreq(imsg, &br) == -1)
		fatalx("bad backends request");
	memset(&hss, 0, sizeof(hss));
	hss.hss_page = br.br_page;
	hss.hss_n = br.br_n;
	for (i = 0; i < br.br_n; i++) {
		bk = &br.br_keys[i];
		memset(&find.hc_key, 0, sizeof(find.hc_key));
		(void)strlcpy(find.hc_key.bh_service, bk->bk_service,
		    sizeof(find.hc_key.bh_service));
		memcpy(&find.hc_key.bh_ss, &bk->bk_ss,
		    sizeof(find.hc_key.bh_ss));
		find.hc_key.bh_sslen = bk->bk_sslen;
		find.hc_key.bh_tls = bk->bk_tls;
		if ((hc = RB_FIND(hchecks, &he.he_checks, &find)) != NULL)
			hss.hss_stats[i] = hc->hc_stat;
	}
	if (config_sethealthstats(proc_parent_iev(), imsg->hdr.peerid,
	    &hss) == -1)
		fatal("send to parent");
}
