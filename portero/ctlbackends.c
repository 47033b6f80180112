/*
 * ctlbackends.c: the parent's side of "show backends".  The parent knows
 * which backends there are (its flags and its copy of the registry); the
 * workers know how each fared.  A listing walks the first a page at a
 * time, asks every running worker about the page and sums the answers,
 * so that neither a large registry nor a slow client fills a queue.
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

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portero.h"

static void	 listing_flag(struct backend_listing *, unsigned int,
		    const struct backend_conf *);
static void	 listing_registered(struct backend_listing *, unsigned int,
		    const struct reg_backend *, time_t);
static void	 listing_ask(struct portero *, struct backend_listing *,
		    uint32_t);

struct backend_listing *
listing_new(void)
{
	return (calloc(1, sizeof(struct backend_listing)));
}

/* "[::1]:80" and "localhost:80" are shown as "::1" and "localhost". */
static void
listing_host(char *dst, size_t len, const char *hostport)
{
	const char	*end;
	size_t		 n;

	if (hostport[0] == '[' && (end = strchr(hostport, ']')) != NULL)
		hostport++;
	else if ((end = strrchr(hostport, ':')) == NULL)
		end = hostport + strlen(hostport);
	n = end - hostport;
	if (n >= len)
		n = len - 1;
	memcpy(dst, hostport, n);
	dst[n] = '\0';
}

static void
listing_flag(struct backend_listing *bl, unsigned int i,
    const struct backend_conf *bc)
{
	struct backend_key	*bk = &bl->bl_req.br_keys[i];
	struct ctl_backend	*cb = &bl->bl_recs[i];

	(void)strlcpy(bk->bk_service, bc->be_service,
	    sizeof(bk->bk_service));
	memcpy(&bk->bk_ss, &bc->be_ss, sizeof(bk->bk_ss));
	bk->bk_sslen = bc->be_sslen;
	bk->bk_tls = bc->be_tls;
	(void)strlcpy(cb->cb_service, bc->be_service,
	    sizeof(cb->cb_service));
	listing_host(cb->cb_host, sizeof(cb->cb_host), bc->be_host);
	cb->cb_port = bc->be_port;
	cb->cb_tls = bc->be_tls;
}

static void
listing_registered(struct backend_listing *bl, unsigned int i,
    const struct reg_backend *rb, time_t now)
{
	struct backend_key	*bk = &bl->bl_req.br_keys[i];
	struct ctl_backend	*cb = &bl->bl_recs[i];

	(void)strlcpy(bk->bk_service, rb->rb_service,
	    sizeof(bk->bk_service));
	memcpy(&bk->bk_ss, &rb->rb_ss, sizeof(bk->bk_ss));
	bk->bk_sslen = rb->rb_sslen;
	bk->bk_tls = rb->rb_tls;
	bk->bk_registered = 1;
	(void)strlcpy(cb->cb_service, rb->rb_service,
	    sizeof(cb->cb_service));
	(void)strlcpy(cb->cb_host, rb->rb_host, sizeof(cb->cb_host));
	cb->cb_port = rb->rb_port;
	cb->cb_tls = rb->rb_tls;
	cb->cb_registered = 1;
	cb->cb_expires_in = rb->rb_expires > now ? rb->rb_expires - now : 0;
	bl->bl_last = *rb;
}

/*
 * The next page: the configured backends, then the registry's in order from
 * the last one listed (entries may come and go between pages; each that
 * is there throughout is listed once).  Returns how many are on it and
 * asks the workers about them; 0 when the listing is complete.
 */
unsigned int
listing_page(struct portero *env, struct backend_listing *bl,
    uint32_t ctlid)
{
	const struct conf_set		*cs = env->pc_set;
	const struct reg_backend	*rb;
	time_t				 now = time(NULL);
	unsigned int			 n = 0;

	memset(&bl->bl_req, 0, sizeof(bl->bl_req));
	memset(bl->bl_recs, 0, sizeof(bl->bl_recs));
	for (; n < BACKENDS_PAGE && bl->bl_flag < cs->cs_nbackends;
	    bl->bl_flag++)
		listing_flag(bl, n++, &cs->cs_backends[bl->bl_flag]);
	for (; n < BACKENDS_PAGE; n++) {
		rb = regcopy_after(env, bl->bl_inreg ? &bl->bl_last : NULL);
		if (rb == NULL)
			break;
		listing_registered(bl, n, rb, now);
		bl->bl_inreg = 1;
	}
	bl->bl_req.br_n = n;
	if (n > 0)
		listing_ask(env, bl, ctlid);
	return (n);
}

/* Every running worker that has not already kept the listing waiting. */
static void
listing_ask(struct portero *env, struct backend_listing *bl, uint32_t ctlid)
{
	struct child	*ch;
	size_t		 len;
	unsigned int	 i;

	bl->bl_req.br_page = ++bl->bl_page;
	len = offsetof(struct backends_req, br_keys) +
	    bl->bl_req.br_n * sizeof(bl->bl_req.br_keys[0]);
	bl->bl_awaited = 0;
	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING ||
		    (bl->bl_slow & (1ULL << i)))
			continue;
		if (parent_compose(env, ch, IMSG_BACKENDS_REQ, ctlid, -1,
		    &bl->bl_req, len) == 0)
			bl->bl_awaited |= 1ULL << i;
	}
	/* and the health child, for the checks */
	ch = &env->pc_health;
	bl->bl_hwait = 0;
	if (ch->ch_ievset && ch->ch_state == CHILD_RUNNING && !bl->bl_hslow &&
	    parent_compose(env, ch, IMSG_BACKENDS_REQ, ctlid, -1, &bl->bl_req,
	    len) == 0)
		bl->bl_hwait = 1;
}

/* Someone has yet to answer for the page. */
int
listing_waiting(const struct backend_listing *bl)
{
	return (bl->bl_awaited != 0 || bl->bl_hwait);
}

/* The health child's checks of the page's backends. */
void
listing_health(struct backend_listing *bl, const struct health_stats *hss)
{
	const struct health_stat	*hs;
	struct ctl_backend		*cb;
	uint32_t			 i;

	if (!bl->bl_hwait || hss->hss_page != bl->bl_page ||
	    hss->hss_n != bl->bl_req.br_n)
		return;
	bl->bl_hwait = 0;
	for (i = 0; i < hss->hss_n; i++) {
		hs = &hss->hss_stats[i];
		cb = &bl->bl_recs[i];
		cb->cb_health = hs->hs_state;
		cb->cb_check_type = hs->hs_type;
		cb->cb_check_ok = hs->hs_ok;
		cb->cb_check_ms = hs->hs_ms;
		cb->cb_check_at = hs->hs_at;
		(void)strlcpy(cb->cb_check, hs->hs_result,
		    sizeof(cb->cb_check));
	}
}

/* A worker's counters for the page; an answer to an older one is late. */
void
listing_answer(struct backend_listing *bl, struct child *ch,
    const struct backends_stats *bss)
{
	const struct backend_stat	*bs;
	struct ctl_backend		*cb;
	uint32_t			 i;

	if ((bl->bl_awaited & (1ULL << ch->ch_id)) == 0 ||
	    bss->bss_page != bl->bl_page || bss->bss_n != bl->bl_req.br_n)
		return;
	bl->bl_awaited &= ~(1ULL << ch->ch_id);
	for (i = 0; i < bss->bss_n; i++) {
		bs = &bss->bss_stats[i];
		cb = &bl->bl_recs[i];
		cb->cb_requests += bs->bs_requests;
		cb->cb_failures += bs->bs_failures;
		if (bs->bs_down)
			cb->cb_down = 1;
		cb->cb_workers++;
	}
}

/*
 * The page goes out without those yet to answer, and they are not asked
 * again: a stuck worker costs the listing one wait, not one per page.
 */
void
listing_late(struct backend_listing *bl)
{
	bl->bl_slow |= bl->bl_awaited;
	bl->bl_awaited = 0;
	if (bl->bl_hwait)
		bl->bl_hslow = 1;
	bl->bl_hwait = 0;
}

void
listing_gone(struct backend_listing *bl, struct child *ch)
{
	if (ch->ch_role == PROC_HEALTH)
		bl->bl_hwait = 0;
	else
		bl->bl_awaited &= ~(1ULL << ch->ch_id);
}
