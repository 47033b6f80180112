/*
 * hstate.c: the owner of backend health (the health child when there is
 * one, else the parent): what requests and active checks found, merged
 * into one verdict per backend, and the single retry probe a rest ends in.
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
 * A backend's states, as its owner keeps them:
 *
 *             BH_FAILED                rest over
 *      UP --------------> RESTING ---------------> PROBING: one worker
 *       ^                    ^                      |  |  may try it once
 *       |                    |  BH_FAILED: rest x 2 |  |
 *       |                    +----------------------+  |
 *       |        BH_OK: a request got through          |
 *       +----------------------------------------------+
 *       |
 *       | check: rise successes
 *     DOWN <------------------ any state, check: fall failures
 *
 * UP: in rotation everywhere.  A worker whose connection is refused
 * takes the backend out at once, for itself, and reports BH_FAILED; the
 * owner tells every worker to rest it (BH_REST).  RESTING: no worker
 * tries it.  PROBING: the rest is over; one worker may send it one
 * request (BH_PROBE).  It says when it does (BH_PROBED), and the owner
 * waits for the result; if it had none to send within
 * BACKEND_PROBE_WAIT_MS, the next worker may.  A request that gets
 * through (BH_OK) brings the backend UP for all (BH_UP); a refusal or a
 * connect timeout doubles the rest.  So workers never all try a resting
 * backend with live requests: one does, once per rest.
 *
 * DOWN belongs to the active check alone (health.c): a backend its check
 * finds down stays out whatever requests find, and only the check brings
 * it back.  Backends with no check never go DOWN.
 *
 * Entries exist for backends that are checked or not UP; the others are
 * UP by default.  An owner that goes away takes its rests with it: the
 * parent then tells the workers to forget them (BH_RESET), and the new
 * owner starts afresh.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

#define HSTATE_MAX		(1 << 20)	/* entries; past it, logged */
#define HSTATE_PROBE_ROUNDS	6	/* the wait doubles per round, up
					   to this many times */

enum hs_state {
	HS_UP,
	HS_RESTING,
	HS_PROBING,
	HS_DOWN,
};

struct hstate {
	RB_ENTRY(hstate)	 hs_node;
	struct backend_health	 hs_key;	/* service, address, TLS */
	enum hs_state		 hs_state;
	int			 hs_checked;	/* an active check has it */
	unsigned int		 hs_backoff_ms;
	unsigned int		 hs_grants;	/* probes granted this rest */
	struct event		 hs_ev;		/* rest over, probe unused */
};
RB_HEAD(hstates, hstate);

static struct {
	struct hstates		 ho_tree;
	unsigned int		 ho_n;
	unsigned int		 ho_workers;
	unsigned int		 ho_next;	/* the next worker to probe */
	int			 ho_full;	/* logged */
	void			(*ho_send)(const struct backend_health *,
				    uint32_t);
} ho = { RB_INITIALIZER(&ho.ho_tree), 0, 0, 0, 0, NULL };

static int	 hstate_cmp(struct hstate *, struct hstate *);
RB_PROTOTYPE(hstates, hstate, hs_node, hstate_cmp);
RB_GENERATE(hstates, hstate, hs_node, hstate_cmp);

static int
hstate_cmp(struct hstate *a, struct hstate *b)
{
	return (health_key_cmp(&a->hs_key, &b->hs_key));
}

/*
 * Backends are the same when their service, address and TLS setting
 * are: the order of hstate's tree and of the health child's targets.
 */
int
health_key_cmp(const struct backend_health *a, const struct backend_health *b)
{
	int	 c;

	if ((c = strcmp(a->bh_service, b->bh_service)) != 0)
		return (c);
	if (a->bh_sslen != b->bh_sslen)
		return (a->bh_sslen < b->bh_sslen ? -1 : 1);
	if ((c = memcmp(&a->bh_ss, &b->bh_ss, a->bh_sslen)) != 0)
		return (c);
	return ((int)a->bh_tls - (int)b->bh_tls);
}

/* "127.0.0.1:80", "[::1]:80": an address for log lines. */
const char *
health_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET && inet_ntop(AF_INET, &sin->sin_addr, a,
	    sizeof(a)) != NULL)
		(void)snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	else if (ss->ss_family == AF_INET6 && inet_ntop(AF_INET6,
	    &sin6->sin6_addr, a, sizeof(a)) != NULL)
		(void)snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	else
		(void)snprintf(buf, len, "?");
	return (buf);
}

/* send: how verdicts leave, to one worker or HEALTH_ALL_WORKERS. */
void
hstate_init(unsigned int workers,
    void (*send)(const struct backend_health *, uint32_t))
{
	ho.ho_workers = workers > 0 ? workers : 1;
	ho.ho_send = send;
}

static void
hstate_send(const struct hstate *hs, enum backend_event event,
    uint32_t worker)
{
	struct backend_health	 bh;

	memset(&bh, 0, sizeof(bh));
	(void)strlcpy(bh.bh_service, hs->hs_key.bh_service,
	    sizeof(bh.bh_service));
	memcpy(&bh.bh_ss, &hs->hs_key.bh_ss, sizeof(bh.bh_ss));
	bh.bh_sslen = hs->hs_key.bh_sslen;
	bh.bh_tls = hs->hs_key.bh_tls;
	bh.bh_event = event;
	if (event == BH_REST) {
		bh.bh_backoff_ms = hs->hs_backoff_ms;
		bh.bh_rest_ms = hs->hs_backoff_ms;
	}
	ho.ho_send(&bh, worker);
}

static void
hstate_arm(struct hstate *hs, unsigned int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(&hs->hs_ev, &tv);
}

static void
hstate_free(struct hstate *hs)
{
	evtimer_del(&hs->hs_ev);
	RB_REMOVE(hstates, &ho.ho_tree, hs);
	ho.ho_n--;
	free(hs);
}

/* An entry that says nothing the default does not is dropped. */
static void
hstate_settle(struct hstate *hs)
{
	if (hs->hs_state == HS_UP && !hs->hs_checked)
		hstate_free(hs);
}

/*
 * The rest is over, or a probe went unused: the next worker may try the
 * backend once.  A backend nobody sends requests to is offered ever more
 * slowly, so that it costs nothing.
 */
static void
hstate_probe(int fd, short event, void *arg)
{
	struct hstate	*hs = arg;
	unsigned int	 round, wait = BACKEND_PROBE_WAIT_MS;

	hs->hs_state = HS_PROBING;
	round = hs->hs_grants / ho.ho_workers;
	if (round > HSTATE_PROBE_ROUNDS)
		round = HSTATE_PROBE_ROUNDS;
	wait <<= round;
	if (wait > BACKEND_BACKOFF_MAX_MS)
		wait = BACKEND_BACKOFF_MAX_MS;
	hs->hs_grants++;
	hstate_send(hs, BH_PROBE, ho.ho_next++ % ho.ho_workers);
	hstate_arm(hs, wait);
}

static struct hstate *
hstate_find(const struct backend_health *key, int create)
{
	struct hstate	 find, *hs;

	memset(&find, 0, sizeof(find));
	find.hs_key = *key;
	if ((hs = RB_FIND(hstates, &ho.ho_tree, &find)) != NULL || !create)
		return (hs);
	if (ho.ho_n >= HSTATE_MAX) {
		if (!ho.ho_full)
			log_warnx("backend health: more than %d backends "
			    "failing; the others are not tracked",
			    HSTATE_MAX);
		ho.ho_full = 1;
		return (NULL);
	}
	if ((hs = calloc(1, sizeof(*hs))) == NULL) {
		log_warn("backend health");
		return (NULL);
	}
	memset(&hs->hs_key, 0, sizeof(hs->hs_key));
	(void)strlcpy(hs->hs_key.bh_service, key->bh_service,
	    sizeof(hs->hs_key.bh_service));
	memcpy(&hs->hs_key.bh_ss, &key->bh_ss, sizeof(key->bh_ss));
	hs->hs_key.bh_sslen = key->bh_sslen;
	hs->hs_key.bh_tls = key->bh_tls;
	hs->hs_state = HS_UP;
	evtimer_set(&hs->hs_ev, hstate_probe, hs);
	RB_INSERT(hstates, &ho.ho_tree, hs);
	ho.ho_n++;
	return (hs);
}

/* To RESTING: the rest doubles on each failure in a row. */
static void
hstate_rest(struct hstate *hs)
{
	char	 abuf[HOSTPORT_MAX];

	if (hs->hs_backoff_ms == 0)
		hs->hs_backoff_ms = BACKEND_BACKOFF_MIN_MS;
	else if (hs->hs_backoff_ms < BACKEND_BACKOFF_MAX_MS)
		hs->hs_backoff_ms *= 2;
	if (hs->hs_backoff_ms > BACKEND_BACKOFF_MAX_MS)
		hs->hs_backoff_ms = BACKEND_BACKOFF_MAX_MS;
	hs->hs_state = HS_RESTING;
	hs->hs_grants = 0;
	hstate_arm(hs, hs->hs_backoff_ms);
	log_debug("backend %s of %s rests %u ms",
	    health_addr(&hs->hs_key.bh_ss, abuf, sizeof(abuf)),
	    hs->hs_key.bh_service, hs->hs_backoff_ms);
	hstate_send(hs, BH_REST, HEALTH_ALL_WORKERS);
}

/* Up, or down by its check: no rest pending, every worker told. */
static void
hstate_settle_as(struct hstate *hs, int state, enum backend_event event)
{
	evtimer_del(&hs->hs_ev);
	hs->hs_state = state;
	hs->hs_backoff_ms = 0;
	hstate_send(hs, event, HEALTH_ALL_WORKERS);
}

static void
hstate_up(struct hstate *hs)
{
	hstate_settle_as(hs, HS_UP, BH_UP);
}

/* A worker's report: BH_FAILED, BH_OK or BH_PROBED. */
void
hstate_report(const struct backend_health *bh)
{
	struct hstate	*hs;

	if ((hs = hstate_find(bh, bh->bh_event == BH_FAILED)) == NULL)
		return;
	if (bh->bh_event == BH_PROBED && hs->hs_state != HS_PROBING)
		return;		/* late: the rest is over */
	switch (hs->hs_state) {
	case HS_UP:
		if (bh->bh_event == BH_FAILED)
			hstate_rest(hs);
		break;
	case HS_RESTING:
		/* requests that were under way when it went: no news */
		if (bh->bh_event == BH_OK)
			hstate_up(hs);
		break;
	case HS_PROBING:
		if (bh->bh_event == BH_OK)
			hstate_up(hs);
		else if (bh->bh_event == BH_FAILED)
			hstate_rest(hs);
		else	/* its result comes; or else another worker tries */
			hstate_arm(hs, BACKEND_PROBE_RESULT_MS);
		break;
	case HS_DOWN:
		break;		/* the check decides */
	}
	hstate_settle(hs);
}

/* The active check's verdict changed: up or down, for every worker. */
void
hstate_checked(const struct backend_health *key, int up)
{
	struct hstate	*hs;

	if ((hs = hstate_find(key, 1)) == NULL)
		return;
	hs->hs_checked = 1;
	if (up)
		hstate_up(hs);
	else
		hstate_settle_as(hs, HS_DOWN, BH_DOWN);
}

/* Its check is gone: a backend it held down is back in rotation. */
void
hstate_unchecked(const struct backend_health *key)
{
	struct hstate	*hs;

	if ((hs = hstate_find(key, 0)) == NULL)
		return;
	hs->hs_checked = 0;
	if (hs->hs_state == HS_DOWN)
		hstate_up(hs);
	hstate_settle(hs);
}

/* A worker that has just started learns what is out of rotation. */
void
hstate_sync(uint32_t worker)
{
	struct hstate	*hs;

	RB_FOREACH(hs, hstates, &ho.ho_tree) {
		if (hs->hs_state == HS_DOWN)
			hstate_send(hs, BH_DOWN, worker);
		else if (hs->hs_state != HS_UP)
			hstate_send(hs, BH_REST, worker);
	}
}

/* Another owner takes over (or none is needed): forget everything. */
void
hstate_clear(void)
{
	struct hstate	*hs;

	while ((hs = RB_MIN(hstates, &ho.ho_tree)) != NULL)
		hstate_free(hs);
	ho.ho_full = 0;
}
