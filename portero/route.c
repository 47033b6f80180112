/*
 * route.c: pools (services) and their backends as a worker routes to
 * them: a hash of pools by name, passive health; backends from the
 * file, flags and registrations (balance.c chooses among them).
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
 * Lifetimes.  A table holds its services, a service its backends; a
 * request in flight holds its service and backend, a pooled or busy
 * upstream connection its backend.  A backend a registration removes,
 * or a table a reload replaces, lets go of what it holds: what requests
 * still use lives on until they finish, marked gone, and is never
 * picked or pooled again.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portero.h"
#include "http1.h"

#define ROUTE_BUCKETS_MIN	64

static uint32_t
route_hash(const char *name, size_t len)
{
	uint32_t	 h = 2166136261U;
	size_t		 i;
	int		 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * 16777619U;
	}
	return (h);
}

struct route_table *
route_new(void)
{
	struct route_table	*rt;

	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return (NULL);
	if ((rt->rt_hash = calloc(ROUTE_BUCKETS_MIN,
	    sizeof(*rt->rt_hash))) == NULL) {
		free(rt);
		return (NULL);
	}
	rt->rt_nbuckets = ROUTE_BUCKETS_MIN;
	rt->rt_refs = 1;
	return (rt);
}

void
backend_ref(struct backend *be)
{
	be->be_refs++;
}

void
backend_unref(struct backend *be)
{
	if (be == NULL)
		return;
	if (be->be_refs == 0)
		fatalx("backend reference count underflow");
	if (--be->be_refs == 0) {
		wmetrics_backend_drop(be);
		upstream_sessions_free(be);
		upstream_tls_unref(be->be_tls);
		free(be);
	}
}

void
service_ref(struct service *sv)
{
	sv->sv_refs++;
}

void
service_unref(struct service *sv)
{
	if (sv == NULL)
		return;
	if (sv->sv_refs == 0)
		fatalx("service reference count underflow");
	if (--sv->sv_refs > 0)
		return;
	wmetrics_service_drop(sv);
	balance_free(&sv->sv_bal);
	upstream_tls_unref(sv->sv_tls);
	free(sv->sv_backends);
	free(sv);
}

/*
 * be leaves its service: never picked again, its idle connections
 * closed; requests that use it finish.
 */
static void
backend_drop(struct backend *be)
{
	struct upstream	*up;

	be->be_gone = 1;
	while ((up = TAILQ_FIRST(&be->be_idle)) != NULL) {
		TAILQ_REMOVE(&be->be_idle, up, up_entry);
		be->be_nidle--;
		upstream_release(up, 0);
	}
	/* its busy connections no longer count against the pool */
	if (be->be_pool != NULL) {
		be->be_pool->sv_nconns -= be->be_nconns;
		be->be_pool = NULL;
	}
	backend_unref(be);
}

/* A connection to be, opened (1) or closed (-1). */
void
backend_count(struct backend *be, int delta)
{
	be->be_nconns += delta;
	if (be->be_pool != NULL)
		be->be_pool->sv_nconns += delta;
}

/* sv leaves its table, and its backends with it. */
static void
service_drop(struct route_table *rt, struct service *sv)
{
	unsigned int	 i;

	LIST_REMOVE(sv, sv_hash);
	rt->rt_nservices--;
	sv->sv_gone = 1;
	for (i = 0; i < sv->sv_nbackends; i++)
		backend_drop(sv->sv_backends[i]);
	sv->sv_nbackends = 0;
	sv->sv_bal.bl_ready = 0;
	service_unref(sv);
}

void
route_unref(struct route_table *rt)
{
	struct service	*sv;
	size_t		 i;

	if (rt == NULL || --rt->rt_refs > 0)
		return;
	for (i = 0; i < rt->rt_nbuckets; i++)
		while ((sv = LIST_FIRST(&rt->rt_hash[i])) != NULL)
			service_drop(rt, sv);
	for (i = 0; i < rt->rt_ntls; i++)
		upstream_tls_unref(rt->rt_tls[i]);
	server_free(rt);
	free(rt->rt_hash);
	free(rt);
}

/* host without the port; compared without regard to case */
struct service *
route_lookup(struct route_table *rt, const char *host, size_t hostlen)
{
	struct service	*sv;

	LIST_FOREACH(sv, &rt->rt_hash[route_hash(host, hostlen) &
	    (rt->rt_nbuckets - 1)], sv_hash)
		if (sv->sv_namelen == hostlen &&
		    http1_caseeq(sv->sv_name, sv->sv_namelen, host, hostlen))
			return (sv);
	return (NULL);
}

/* Twice the buckets once there are more services than buckets. */
static void
route_grow(struct route_table *rt)
{
	LIST_HEAD(, service)	*hash;
	struct service		*sv;
	size_t			 i, n = rt->rt_nbuckets * 2;

	if ((hash = calloc(n, sizeof(*hash))) == NULL)
		return;		/* longer chains, still right */
	for (i = 0; i < rt->rt_nbuckets; i++)
		while ((sv = LIST_FIRST(&rt->rt_hash[i])) != NULL) {
			LIST_REMOVE(sv, sv_hash);
			LIST_INSERT_HEAD(&hash[route_hash(sv->sv_name,
			    sv->sv_namelen) & (n - 1)], sv, sv_hash);
		}
	free(rt->rt_hash);
	rt->rt_hash = (void *)hash;
	rt->rt_nbuckets = n;
}

static struct service *
route_service(struct route_table *rt, const char *name)
{
	struct service	*sv;
	size_t		 len = strlen(name);

	if ((sv = route_lookup(rt, name, len)) != NULL)
		return (sv);
	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return (NULL);
	(void)strlcpy(sv->sv_name, name, sizeof(sv->sv_name));
	sv->sv_namelen = strlen(sv->sv_name);
	(void)strlcpy(sv->sv_conf.pl_name, name, sizeof(sv->sv_conf.pl_name));
	sv->sv_refs = 1;
	(void)wmetrics_service(sv);
	if (rt->rt_nservices >= rt->rt_nbuckets)
		route_grow(rt);
	LIST_INSERT_HEAD(&rt->rt_hash[route_hash(sv->sv_name, sv->sv_namelen) &
	    (rt->rt_nbuckets - 1)], sv, sv_hash);
	rt->rt_nservices++;
	return (sv);
}

/*
 * A backend into its service: from flags (expires 0) or registered
 * (expires: seconds since the epoch).  Returns it, or NULL.
 */
struct backend *
route_add(struct route_table *rt, const struct backend_conf *bc,
    int64_t expires)
{
	struct service	*sv;
	struct backend	*be, **n;

	if ((sv = route_service(rt, bc->be_service)) == NULL)
		return (NULL);
	if (sv->sv_nbackends == sv->sv_cap) {
		if ((n = reallocarray(sv->sv_backends, sv->sv_cap * 2 + 4,
		    sizeof(*n))) == NULL)
			goto fail;
		sv->sv_backends = n;
		sv->sv_cap = sv->sv_cap * 2 + 4;
	}
	if ((be = calloc(1, sizeof(*be))) == NULL)
		goto fail;
	be->be_conf = *bc;
	if (be->be_conf.be_weight == 0)
		be->be_conf.be_weight = 1;	/* registered */
	be->be_expires = expires;
	if (expires != 0)
		sv->sv_nregistered++;
	be->be_refs = 1;
	be->be_pool = sv;
	TAILQ_INIT(&be->be_idle);
	(void)wmetrics_backend(be);
	/* route_pools() saw that the table has the pool's bundle */
	if (sv->sv_tls != NULL) {
		be->be_tls = sv->sv_tls;
		upstream_tls_ref(be->be_tls);
	} else if (sv->sv_conf.pl_tls_ca != 0) {
		be->be_tls = rt->rt_tls[sv->sv_conf.pl_tls_ca - 1];
		upstream_tls_ref(be->be_tls);
	}
	sv->sv_backends[sv->sv_nbackends++] = be;
	sv->sv_bal.bl_ready = 0;
	return (be);
 fail:
	if (sv->sv_nbackends == 0 && !(sv->sv_conf.pl_flags & POOL_DECLARED))
		service_drop(rt, sv);
	return (NULL);
}

/* A registered backend by what names it: service, address, port. */
static struct backend *
route_find(struct route_table *rt, const struct backend_conf *bc,
    struct service **svp, unsigned int *idx)
{
	struct service	*sv;
	struct backend	*be;
	unsigned int	 i;

	*svp = sv = route_lookup(rt, bc->be_service, strlen(bc->be_service));
	for (i = 0; sv != NULL && i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		if (be->be_expires != 0 && be->be_conf.be_sslen ==
		    bc->be_sslen && memcmp(&be->be_conf.be_ss, &bc->be_ss,
		    bc->be_sslen) == 0) {
			*idx = i;
			return (be);
		}
	}
	return (NULL);
}

/* A registration removed or expired: out of its service, now. */
void
route_remove(struct route_table *rt, const struct backend_conf *bc)
{
	struct service	*sv;
	struct backend	*be;
	unsigned int	 i;

	if ((be = route_find(rt, bc, &sv, &i)) == NULL)
		return;
	memmove(&sv->sv_backends[i], &sv->sv_backends[i + 1],
	    (sv->sv_nbackends - i - 1) * sizeof(*sv->sv_backends));
	sv->sv_nbackends--;
	sv->sv_nregistered--;
	sv->sv_bal.bl_ready = 0;
	backend_drop(be);
	/* a pool the file declares stays, and answers 503 */
	if (sv->sv_nbackends == 0 && !(sv->sv_conf.pl_flags & POOL_DECLARED))
		service_drop(rt, sv);
}

/*
 * A registration, new or refreshed: a new expiry, or, when its TLS
 * setting changed, a new backend (connections made the other way must
 * not be reused).  -1 when out of memory.
 */
int
route_upsert(struct route_table *rt, const struct backend_conf *bc,
    int64_t expires)
{
	struct service	*sv;
	struct backend	*be;
	unsigned int	 i;

	if ((be = route_find(rt, bc, &sv, &i)) != NULL) {
		if (be->be_conf.be_tls == bc->be_tls) {
			be->be_expires = expires;
			return (0);
		}
		route_remove(rt, bc);
	}
	return (route_add(rt, bc, expires) == NULL ? -1 : 0);
}

/* The backend of rt's that is bc: same service, address and TLS. */
static struct backend *
route_same(struct route_table *rt, const struct backend_conf *bc)
{
	struct service	*sv;
	struct backend	*be;
	unsigned int	 i;

	sv = route_lookup(rt, bc->be_service, strlen(bc->be_service));
	for (i = 0; sv != NULL && i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		if (be->be_conf.be_tls == bc->be_tls &&
		    be->be_conf.be_sslen == bc->be_sslen &&
		    memcmp(&be->be_conf.be_ss, &bc->be_ss, bc->be_sslen) == 0)
			return (be);
	}
	return (NULL);
}

/*
 * A reload is no news about a backend: what the owner of backend health
 * said of it still holds (it would not say it again).
 */
static void
backend_take_health(struct backend *nbe, const struct backend *be)
{
	nbe->be_down_until = be->be_down_until;
	nbe->be_backoff_ms = be->be_backoff_ms;
	nbe->be_held = be->be_held;
	nbe->be_checkdown = be->be_checkdown;
	nbe->be_probe = be->be_probe;
	nbe->be_probe_until = be->be_probe_until;
}

/*
 * be's idle connections and TLS sessions go to nbe, made under the same
 * trust (the same client context: the pool's tls-ca has not changed);
 * how many went.
 */
static unsigned int
backend_take_pool(struct backend *nbe, struct backend *be)
{
	struct upstream	*up;
	unsigned int	 n = 0;

	backend_take_health(nbe, be);
	if (nbe->be_tls != be->be_tls)
		return (0);	/* they close with the old table */
	while ((up = TAILQ_FIRST(&be->be_idle)) != NULL &&
	    nbe->be_nidle < UPSTREAM_IDLE_MAX) {
		TAILQ_REMOVE(&be->be_idle, up, up_entry);
		be->be_nidle--;
		up->up_be = nbe;
		backend_count(nbe, 1);
		backend_count(be, -1);
		backend_ref(nbe);
		backend_unref(be);
		TAILQ_INSERT_TAIL(&nbe->be_idle, up, up_entry);
		nbe->be_nidle++;
		n++;
	}
	if (nbe->be_sessions == NULL) {
		nbe->be_sessions = be->be_sessions;
		be->be_sessions = NULL;
	}
	return (n);
}

/*
 * The idle upstream connections of old's backends go to the same
 * backends in rt: a reload that keeps a backend keeps its connections.
 * Each pooled connection remembers the name it was made for (up_sni),
 * so none serves another name.  Those left in old close with it.
 */
static unsigned int
route_keep_pools(struct route_table *rt, struct route_table *old)
{
	struct service	*sv;
	struct backend	*nbe;
	size_t		 b;
	unsigned int	 i, kept = 0;

	for (b = 0; old != NULL && b < old->rt_nbuckets; b++)
		LIST_FOREACH(sv, &old->rt_hash[b], sv_hash)
			for (i = 0; i < sv->sv_nbackends; i++)
				if ((nbe = route_same(rt,
				    &sv->sv_backends[i]->be_conf)) != NULL)
					kept += backend_take_pool(nbe,
					    sv->sv_backends[i]);
	return (kept);
}

/*
 * A pool with a client certificate: the context of its pair over its
 * bundle (the global one without tls-ca), shared with the pools that
 * use the same two (poolclient.c).
 */
static int
route_pool_cert(struct route_table *rt, struct service *sv)
{
	const struct pool_conf	*pl = &sv->sv_conf;

	upstream_tls_unref(sv->sv_tls);
	sv->sv_tls = NULL;
	if (pl->pl_tls_cert_id == 0)
		return (0);
	sv->sv_tls = poolclient_tls(pl->pl_tls_ca != 0 ?
	    rt->rt_tls[pl->pl_tls_ca - 1] : NULL, pl->pl_tls_cert_id);
	return (sv->sv_tls != NULL ? 0 : -1);
}

/* The pools of set, each made even when it has no backend yet. */
static int
route_pools(struct route_table *rt, const struct conf_set *set)
{
	struct service	*sv;
	uint32_t	 i;

	for (i = 0; i < set->cs_npools; i++) {
		if (set->cs_pools[i].pl_tls_ca > rt->rt_ntls) {
			log_warnx("pool %s: tls-ca %u: none such",
			    set->cs_pools[i].pl_name,
			    set->cs_pools[i].pl_tls_ca);
			return (-1);
		}
		if ((sv = route_service(rt, set->cs_pools[i].pl_name)) == NULL)
			return (-1);
		sv->sv_conf = set->cs_pools[i];
		sv->sv_bal.bl_conf = sv->sv_conf.pl_balance;
		sv->sv_bal.bl_ready = 0;
		if (route_pool_cert(rt, sv) == -1)
			return (-1);
	}
	for (i = 0; i < set->cs_nbackends; i++)
		if (route_add(rt, &set->cs_backends[i], 0) == NULL)
			return (-1);
	return (0);
}

/* The registered backends of old, into rt with what old knew of them. */
static int
route_keep_registered(struct route_table *rt, struct route_table *old)
{
	struct service	*sv;
	struct backend	*be, *nbe;
	size_t		 b;
	unsigned int	 i;

	for (b = 0; old != NULL && b < old->rt_nbuckets; b++)
		LIST_FOREACH(sv, &old->rt_hash[b], sv_hash)
			for (i = 0; i < sv->sv_nbackends; i++) {
				be = sv->sv_backends[i];
				if (be->be_expires == 0)
					continue;
				if ((nbe = route_add(rt, &be->be_conf,
				    be->be_expires)) == NULL)
					return (-1);
				/* a reload is not news about the backend */
				nbe->be_requests = be->be_requests;
				nbe->be_failures = be->be_failures;
			}
	return (0);
}

/*
 * A new table after a reload: set's servers and pools as they are now
 * (the table owns set from here, even on failure), the registered
 * backends as old has them, the idle connections of both kept.
 */
struct route_table *
route_rebuild(struct conf_set *set, struct route_table *old)
{
	struct route_table	*rt;
	unsigned int		 kept;

	if ((rt = route_new()) == NULL) {
		confset_free(set);
		return (NULL);
	}
	rt->rt_set = set;
	if (poolca_table(rt) == -1 || route_pools(rt, set) == -1 ||
	    route_keep_registered(rt, old) == -1 || server_build(rt) == -1)
		goto fail;
	kept = route_keep_pools(rt, old);
	log_debug("route table: %u servers, %u pools; %u idle upstream "
	    "connections kept", rt->rt_nservers, rt->rt_nservices, kept);
	return (rt);
 fail:
	route_unref(rt);
	return (NULL);
}

/*
 * Whether a request may not have a connection to be: it has none idle,
 * and a new one would pass its own cap (max-connections) or its pool's
 * (max-pool-connections), both a worker's.  At the pool's cap an idle
 * connection to another of its backends is closed to make room, so that
 * connections kept for one backend never shut the pool to the others.
 */
int
backend_full(struct service *sv, struct backend *be)
{
	const struct pool_conf	*pl = &sv->sv_conf;
	struct backend		*other;
	struct upstream		*up;
	unsigned int		 i;

	if (be->be_nidle > 0)
		return (0);
	if (pl->pl_max_connections > 0 &&
	    be->be_nconns >= pl->pl_max_connections)
		return (1);
	if (pl->pl_max_pool_connections == 0 ||
	    sv->sv_nconns < pl->pl_max_pool_connections)
		return (0);
	for (i = 0; i < sv->sv_nbackends; i++) {
		other = sv->sv_backends[i];
		if ((up = TAILQ_LAST(&other->be_idle, upstream_idle)) == NULL)
			continue;
		TAILQ_REMOVE(&other->be_idle, up, up_entry);
		other->be_nidle--;
		upstream_release(up, 0);
		return (0);
	}
	return (1);
}

/*
 * Whether a pool serves a host of its name with no server configured:
 * one made by --backend or registrations, one with registered backends,
 * or one the file declares for registrations (no location forwards to
 * it).  A pool the file's servers forward to is reached through them.
 */
int
route_implicit(const struct service *sv)
{
	return (!(sv->sv_conf.pl_flags & POOL_DECLARED) ||
	    !(sv->sv_conf.pl_flags & POOL_USED) || sv->sv_nregistered > 0);
}

/*
 * Out of rotation: resting, or down by its check (hstate.c); unless it
 * rests and this worker holds the probe the owner granted for it.
 */
int
backend_is_down(const struct backend *be, const struct timespec *now)
{
	if (!be->be_held && !be->be_checkdown)
		return (0);
	return (be->be_checkdown || !be->be_probe ||
	    !timespeccmp(now, &be->be_probe_until, <));
}

static void	 backend_health_send(const struct backend *,
		    enum backend_event);

/*
 * be was picked for a request: a probe it held is spent, and the owner
 * hears of it, so that it waits for the result instead of granting
 * another worker one.
 */
void
backend_picked(struct backend *be)
{
	if (!be->be_probe)
		return;
	be->be_probe = 0;
	if (be->be_held)
		backend_health_send(be, BH_PROBED);
}

/*
 * A backend's counters, for "show backends"; zeros when this worker has
 * no such backend (an update not yet here, or one just removed).
 */
void
route_stat(struct route_table *rt, const struct backend_key *bk,
    const struct timespec *now, struct backend_stat *bs)
{
	struct service	*sv;
	struct backend	*be;
	unsigned int	 i;

	memset(bs, 0, sizeof(*bs));
	sv = route_lookup(rt, bk->bk_service, strlen(bk->bk_service));
	for (i = 0; sv != NULL && i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		if ((be->be_expires != 0) != (bk->bk_registered != 0) ||
		    be->be_conf.be_tls != bk->bk_tls ||
		    be->be_conf.be_sslen != bk->bk_sslen ||
		    memcmp(&be->be_conf.be_ss, &bk->bk_ss, bk->bk_sslen) != 0)
			continue;
		bs->bs_requests = be->be_requests;
		bs->bs_failures = be->be_failures;
		bs->bs_down = be->be_held || be->be_checkdown;
		return;
	}
}

/* What this worker found of be, to the owner of backend health. */
static void
backend_health_send(const struct backend *be, enum backend_event event)
{
	struct backend_health	 bh;

	memset(&bh, 0, sizeof(bh));
	(void)strlcpy(bh.bh_service, be->be_conf.be_service,
	    sizeof(bh.bh_service));
	bh.bh_ss = be->be_conf.be_ss;
	bh.bh_sslen = be->be_conf.be_sslen;
	bh.bh_tls = be->be_conf.be_tls;
	bh.bh_event = event;
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
 * Passive health: a backend that refused us is out of rotation here at
 * once, and the owner of backend health hears of it: it has every
 * worker rest it, and decides when one may try it again (hstate.c).
 * The rest it will likely take is kept for Retry-After.
 */
void
backend_failed(struct backend *be)
{
	wmetrics_failed(be);
	be->be_failures++;
	if (!be->be_held) {
		if (be->be_backoff_ms == 0)
			be->be_backoff_ms = BACKEND_BACKOFF_MIN_MS;
		else if (be->be_backoff_ms < BACKEND_BACKOFF_MAX_MS)
			be->be_backoff_ms *= 2;
		if (be->be_backoff_ms > BACKEND_BACKOFF_MAX_MS)
			be->be_backoff_ms = BACKEND_BACKOFF_MAX_MS;
		backend_rest(be, be->be_backoff_ms);
	}
	be->be_held = 1;
	log_limited(LOG_LIMIT_UPSTREAM, "backend %s for %s failed; resting",
	    be->be_conf.be_host, be->be_conf.be_service);
	backend_health_send(be, BH_FAILED);
}

/*
 * A connection got through: a backend that was resting (this was the
 * probe, or a request made before the rest) is up again, here at once
 * and everywhere once the owner says so.
 */
void
backend_ok(struct backend *be)
{
	if (!be->be_held && be->be_backoff_ms == 0)
		return;
	be->be_held = 0;
	be->be_backoff_ms = 0;
	memset(&be->be_down_until, 0, sizeof(be->be_down_until));
	backend_health_send(be, BH_OK);
}

/* A verdict of the owner of backend health, for one backend. */
static void
backend_verdict(struct backend *be, const struct backend_health *bh)
{
	struct timespec	 now, wait = { BACKEND_PROBE_WAIT_MS / 1000,
			    (BACKEND_PROBE_WAIT_MS % 1000) * 1000000L };

	switch (bh->bh_event) {
	case BH_UP:
		be->be_checkdown = 0;
		/* FALLTHROUGH */
	case BH_RESET:
		if (bh->bh_all)
			be->be_checkdown = 0;
		be->be_held = be->be_probe = 0;
		be->be_backoff_ms = 0;
		memset(&be->be_down_until, 0, sizeof(be->be_down_until));
		break;
	case BH_REST:
		be->be_held = 1;
		be->be_probe = 0;
		be->be_backoff_ms = bh->bh_backoff_ms;
		backend_rest(be, bh->bh_rest_ms);
		break;
	case BH_DOWN:
		be->be_checkdown = 1;
		be->be_probe = 0;
		break;
	case BH_PROBE:
		clock_gettime(CLOCK_MONOTONIC, &now);
		timespecadd(&now, &wait, &be->be_probe_until);
		be->be_probe = 1;
		break;
	}
}

/*
 * A verdict for the same backend (same service, address and TLS
 * setting) in this worker's table; a reset is for every backend.
 */
void
backend_health_apply(struct route_table *rt, const struct backend_health *bh)
{
	struct service	*sv;
	struct backend	*be;
	size_t		 b;
	unsigned int	 i;

	if (bh->bh_event == BH_RESET) {
		for (b = 0; b < rt->rt_nbuckets; b++)
			LIST_FOREACH(sv, &rt->rt_hash[b], sv_hash)
				for (i = 0; i < sv->sv_nbackends; i++)
					backend_verdict(sv->sv_backends[i],
					    bh);
		return;
	}
	if ((sv = route_lookup(rt, bh->bh_service,
	    strlen(bh->bh_service))) == NULL)
		return;
	for (i = 0; i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		if (be->be_conf.be_tls == bh->bh_tls &&
		    be->be_conf.be_sslen == bh->bh_sslen &&
		    memcmp(&be->be_conf.be_ss, &bh->bh_ss, bh->bh_sslen) == 0)
			backend_verdict(be, bh);
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
