/*
 * phealth.c: the parent's side of backend health: the health child
 * started when some pool is checked and stopped when none is, its
 * configuration, the relay of reports and verdicts, and the parent as
 * the owner of backend health while there is no health child.
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
 * One owner at a time.  While the health child runs, workers' reports
 * go to it and its verdicts come back through here; otherwise (no pool
 * is checked, or the child is starting, dead or being respawned) the
 * parent decides with the same code (hstate.c).  When the owner changes,
 * what the old one decided about rests is void: every worker is told to
 * forget it (BH_RESET), and the new owner starts afresh.  Verdicts of
 * checks stand until the new health child has checked again, unless no
 * pool is checked any more.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

static void	 parent_health_send(const struct backend_health *, uint32_t);

void
parent_health_init(struct portero *env)
{
	env->pc_health.ch_role = PROC_HEALTH;
	hstate_init(env->pc_conf.workers, parent_health_send);
}

/* Does the health child own backend health now? */
static int
parent_health_owner(struct portero *env)
{
	return (env->pc_health.ch_ievset &&
	    env->pc_health.ch_state == CHILD_RUNNING);
}

/*
 * The health child runs when some pool is checked: started at start-up
 * or by the reload that checks a first pool, stopped by the one that
 * checks none.  A child stopped, or dead and no longer wanted, leaves
 * no verdict behind.
 */
void
parent_health_update(struct portero *env)
{
	struct child	*ch = &env->pc_health;

	env->pc_health_want = parent_checks_any(env);
	if (env->pc_health_want) {
		if (ch->ch_pid == 0 && !evtimer_pending(&ch->ch_respawn,
		    NULL))
			parent_start_child(env, ch);
		return;
	}
	if (ch->ch_pid != 0) {
		log_info("no pool is checked any more: stopping the health "
		    "child");
		(void)parent_compose(env, ch, IMSG_SHUTDOWN, 0, -1, NULL, 0);
	} else if (evtimer_pending(&ch->ch_respawn, NULL)) {
		evtimer_del(&ch->ch_respawn);
		parent_health_gone(env);
	}
}

static void
parent_health_reset(struct portero *env, int all)
{
	struct backend_health	 bh;

	memset(&bh, 0, sizeof(bh));
	bh.bh_event = BH_RESET;
	bh.bh_all = all;
	parent_health_send(&bh, HEALTH_ALL_WORKERS);
}

/* The health child runs: it owns backend health from now on. */
void
parent_health_running(struct portero *env)
{
	hstate_clear();
	parent_health_reset(env, 0);
}

/*
 * The health child is gone: the parent owns backend health until the
 * next one runs, and forgets the child's checks too if it is not to.
 */
void
parent_health_gone(struct portero *env)
{
	parent_health_reset(env, !env->pc_health_want);
}

/* A worker started: it learns what is out of rotation. */
void
parent_health_worker(struct portero *env, struct child *ch)
{
	if (parent_health_owner(env))
		(void)parent_compose(env, &env->pc_health, IMSG_HEALTH_WORKER,
		    ch->ch_id, -1, NULL, 0);
	else
		hstate_sync(ch->ch_id);
}

/* A worker's report: for the health child, or decided here. */
void
parent_health_report(struct portero *env, struct child *from,
    struct imsg *imsg)
{
	struct backend_health	 bh;

	if (config_gethealth(imsg, &bh) == -1 || bh.bh_event > BH_PROBED) {
		parent_child_broken(env, from, "sent a malformed health "
		    "report");
		return;
	}
	if (parent_health_owner(env))
		(void)parent_compose(env, &env->pc_health,
		    IMSG_BACKEND_HEALTH, 0, -1, &bh, sizeof(bh));
	else
		hstate_report(&bh);
}

/* A verdict to the running worker it is for, or to every one. */
static void
parent_health_send(const struct backend_health *bh, uint32_t worker)
{
	struct portero	*env = portero_env;
	struct child	*ch;
	unsigned int	 i;

	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if ((worker == HEALTH_ALL_WORKERS || worker == i) &&
		    ch->ch_ievset && ch->ch_state == CHILD_RUNNING)
			(void)parent_compose(env, ch, IMSG_BACKEND_VERDICT, 0,
			    -1, bh, sizeof(*bh));
	}
}

/* Verdicts for the workers, and pages of "show backends". */
void
parent_dispatch_health(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	struct backend_health	 bh;
	struct health_stats	 hss;
	uint32_t		 id = imsg->hdr.peerid;

	switch (imsg->hdr.type) {
	case IMSG_BACKEND_VERDICT:
		if (config_gethealth(imsg, &bh) == -1 ||
		    bh.bh_event < BH_UP || bh.bh_event == BH_RESET ||
		    (id != HEALTH_ALL_WORKERS && id >= env->pc_conf.workers)) {
			parent_child_broken(env, ch, "sent a malformed "
			    "verdict");
			break;
		}
		parent_health_send(&bh, id);
		break;
	case IMSG_HEALTH_STATS:
		if (config_gethealthstats(imsg, &hss) == -1) {
			parent_child_broken(env, ch, "sent malformed check "
			    "results");
			break;
		}
		control_health_reply(env, id, &hss);
		break;
	default:
		parent_child_broken(env, ch, "sent a message out of turn");
	}
}

/*
 * A check target: the backend and its pool's check.  The name its TLS
 * certificate must have, and the Host field of HTTP checks, are the
 * pool's tls-name; without one, the host as written (without its port,
 * and with it).
 */
static void
parent_health_target(struct check_target *ct, const struct pool_conf *pl,
    const char *hostport, const struct sockaddr_storage *ss,
    uint32_t sslen, int tls)
{
	const char	*h = hostport, *end;
	size_t		 n;

	memset(ct, 0, sizeof(*ct));
	(void)strlcpy(ct->ct_service, pl->pl_name, sizeof(ct->ct_service));
	if (pl->pl_tls_name[0] != '\0') {
		(void)strlcpy(ct->ct_name, pl->pl_tls_name,
		    sizeof(ct->ct_name));
		(void)strlcpy(ct->ct_host, pl->pl_tls_name,
		    sizeof(ct->ct_host));
	} else {
		(void)strlcpy(ct->ct_host, hostport, sizeof(ct->ct_host));
		if (h[0] == '[' && (end = strchr(h, ']')) != NULL)
			h++;
		else if ((end = strrchr(h, ':')) == NULL)
			end = h + strlen(h);
		n = end - h;
		if (n >= sizeof(ct->ct_name))
			n = sizeof(ct->ct_name) - 1;
		memcpy(ct->ct_name, h, n);
	}
	memcpy(&ct->ct_ss, ss, sizeof(ct->ct_ss));
	ct->ct_sslen = sslen;
	ct->ct_tls = tls;
	ct->ct_check = pl->pl_check;
	ct->ct_tls_ca = pl->pl_tls_ca;
	ct->ct_tls_cert = pl->pl_tls_cert_id;
}

static void
parent_health_regtarget(struct check_target *ct,
    const struct reg_backend *rb, const struct pool_conf *pl)
{
	char	 hostport[HOSTPORT_MAX];

	(void)snprintf(hostport, sizeof(hostport), strchr(rb->rb_host,
	    ':') != NULL ? "[%s]:%u" : "%s:%u", rb->rb_host, rb->rb_port);
	parent_health_target(ct, pl, hostport, &rb->rb_ss, rb->rb_sslen,
	    rb->rb_tls);
	ct->ct_registered = 1;
}

/*
 * Every backend of a checked pool, for the health child's configuration:
 * the pools' own, then the registered ones, CHECK_TARGETS_MAX at most.
 */
int
parent_health_config(struct portero *env, struct child *ch)
{
	const struct backend_conf	*bc;
	const struct reg_backend	*rb = NULL;
	const struct pool_conf		*pl;
	struct check_target		 ct;
	unsigned int			 i, n = 0;

	for (i = 0; i < env->pc_set->cs_nbackends; i++) {
		bc = &env->pc_set->cs_backends[i];
		if ((pl = parent_checked_pool(env, bc->be_service)) == NULL)
			continue;
		if (n++ == CHECK_TARGETS_MAX)
			goto full;
		parent_health_target(&ct, pl, bc->be_host, &bc->be_ss,
		    bc->be_sslen, bc->be_tls);
		if (config_setcheck(&ch->ch_iev, IMSG_CFG_CHECK, &ct) == -1)
			return (-1);
	}
	while ((rb = regcopy_after(env, rb)) != NULL) {
		if ((pl = parent_checked_pool(env, rb->rb_service)) == NULL)
			continue;
		if (n++ == CHECK_TARGETS_MAX)
			goto full;
		parent_health_regtarget(&ct, rb, pl);
		if (config_setcheck(&ch->ch_iev, IMSG_CFG_CHECK, &ct) == -1)
			return (-1);
	}
	return (0);
 full:
	log_warnx("more than %d backends to check; the others are not "
	    "checked", CHECK_TARGETS_MAX);
	return (0);
}

/* A registered backend came or went: the health child checks it or not. */
void
parent_health_reg(struct portero *env, uint32_t type,
    const struct reg_backend *rb)
{
	const struct pool_conf	*pl;
	struct check_target	 ct;

	if (!env->pc_health.ch_ievset ||
	    (pl = parent_checked_pool(env, rb->rb_service)) == NULL)
		return;
	parent_health_regtarget(&ct, rb, pl);
	(void)parent_compose(env, &env->pc_health, type == IMSG_REG_REMOVE ?
	    IMSG_CHECK_REMOVE : IMSG_CHECK_ADD, 0, -1, &ct, sizeof(ct));
}

/* The pool named service when it is checked, else NULL. */
const struct pool_conf *
parent_checked_pool(struct portero *env, const char *service)
{
	const struct pool_conf	*pl;

	if ((pl = confset_pool(env->pc_set, service)) == NULL ||
	    pl->pl_check.ck_type == CHECK_NONE)
		return (NULL);
	return (pl);
}

/* Is some pool checked?  Then the health child runs. */
int
parent_checks_any(struct portero *env)
{
	uint32_t	 i;

	for (i = 0; i < env->pc_set->cs_npools; i++)
		if (env->pc_set->cs_pools[i].pl_check.ck_type != CHECK_NONE)
			return (1);
	return (0);
}
