/*
 * regcopy.c: the parent's copy of the registered backends: kept from the
 * registrar's updates, relayed to every worker, given whole to a starting
 * worker, and the point at which every running worker has an update.
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
 * Read-your-write.  The registrar answers 200 once the parent says
 * (REG_DONE) that every running worker has acknowledged the update.  A
 * running worker that has not within REG_ACK_TIMEOUT_MS is stuck: it is
 * killed, and no longer holds anything up.  A worker that is starting
 * does not hold anything up either: it is given the whole copy, and
 * every update relayed meanwhile, before it is told to serve.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "portero.h"

static int	 reg_cmp(struct reg_entry *, struct reg_entry *);
static void	 regcopy_timer(int, short, void *);
static void	 regcopy_snap_send(struct portero *, struct child *);

RB_PROTOTYPE(reg_tree, reg_entry, re_node, reg_cmp);
RB_GENERATE(reg_tree, reg_entry, re_node, reg_cmp);

/* A registered backend is its service, address and port. */
static int
reg_cmp(struct reg_entry *a, struct reg_entry *b)
{
	int	 c;

	if ((c = strcmp(a->re_rb.rb_service, b->re_rb.rb_service)) != 0)
		return (c);
	if (a->re_rb.rb_sslen != b->re_rb.rb_sslen)
		return (a->re_rb.rb_sslen < b->re_rb.rb_sslen ? -1 : 1);
	return (memcmp(&a->re_rb.rb_ss, &b->re_rb.rb_ss, a->re_rb.rb_sslen));
}

void
regcopy_init(struct portero *env)
{
	RB_INIT(&env->pc_reg);
	evtimer_set(&env->pc_ev_regack, regcopy_timer, env);
}

static int
regcopy_live(const struct child *ch)
{
	return (ch->ch_ievset && ch->ch_state == CHILD_RUNNING);
}

/*
 * Is rb ahead of ch's snapshot?  Then the snapshot will bring it as it
 * is by then (or not at all, if it is gone): no update needed.
 */
static int
regcopy_ahead(const struct child *ch, const struct reg_backend *rb)
{
	struct reg_entry	 a, b;

	if (!ch->ch_snapping)
		return (0);
	if (!ch->ch_snap_began)
		return (1);
	a.re_rb = *rb;
	b.re_rb = ch->ch_snap_last;
	return (reg_cmp(&a, &b) > 0);
}

/*
 * An update to every worker that needs it.  A running worker that had
 * every earlier one (up to prev) is behind from now on.
 */
static void
regcopy_relay(struct portero *env, uint32_t type, const struct reg_backend *rb,
    uint32_t prev)
{
	struct timeval	 tv = { 0, REG_ACK_TIMEOUT_MS * 1000 / 4 };
	struct child	*ch;
	unsigned int	 i;

	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (!ch->ch_ievset || regcopy_ahead(ch, rb))
			continue;
		if (regcopy_live(ch) && ch->ch_reg_seq >= prev)
			clock_gettime(CLOCK_MONOTONIC, &ch->ch_reg_wait);
		(void)parent_compose(env, ch, type, 0, -1, rb, sizeof(*rb));
	}
	if (!evtimer_pending(&env->pc_ev_regack, NULL))
		evtimer_add(&env->pc_ev_regack, &tv);
}

/* REG_UPSERT or REG_REMOVE from the registrar: into the copy, out. */
void
regcopy_update(struct portero *env, uint32_t type,
    const struct reg_backend *rb)
{
	struct reg_entry	 key, *re;
	uint32_t		 prev = env->pc_reg_seq;

	memset(&key, 0, sizeof(key));
	key.re_rb = *rb;
	re = RB_FIND(reg_tree, &env->pc_reg, &key);
	if (type == IMSG_REG_REMOVE) {
		if (re != NULL) {
			RB_REMOVE(reg_tree, &env->pc_reg, re);
			env->pc_reg_n--;
			free(re);
		}
	} else if (re != NULL) {
		re->re_rb = *rb;
		re->re_sync = env->pc_reg_sync;
	} else if ((re = calloc(1, sizeof(*re))) != NULL) {
		re->re_rb = *rb;
		re->re_sync = env->pc_reg_sync;
		RB_INSERT(reg_tree, &env->pc_reg, re);
		env->pc_reg_n++;
	} else
		log_warn("registry copy");	/* workers still get it */
	if (rb->rb_seq > env->pc_reg_seq)
		env->pc_reg_seq = rb->rb_seq;
	regcopy_relay(env, type, rb, prev);
	parent_health_reg(env, type, rb);
	regcopy_check(env);
}

/* The registrar (re)starts and will send all it has. */
void
regcopy_sync(struct portero *env)
{
	env->pc_reg_sync++;
}

/*
 * ... and has: what it did not send is gone.  A sync's messages carry no
 * update number (they answer no request), so nothing waits on them.
 */
void
regcopy_sync_end(struct portero *env)
{
	struct reg_entry	*re, *next;
	struct reg_backend	 rb;

	RB_FOREACH_SAFE(re, reg_tree, &env->pc_reg, next) {
		if (re->re_sync == env->pc_reg_sync)
			continue;
		rb = re->re_rb;
		rb.rb_seq = 0;
		RB_REMOVE(reg_tree, &env->pc_reg, re);
		env->pc_reg_n--;
		free(re);
		regcopy_relay(env, IMSG_REG_REMOVE, &rb, env->pc_reg_seq);
		parent_health_reg(env, IMSG_REG_REMOVE, &rb);
	}
}

/* A worker's REG_ACK: it has applied every update up to seq. */
void
regcopy_ack(struct portero *env, struct child *ch, uint32_t seq)
{
	if (seq > ch->ch_reg_seq)
		ch->ch_reg_seq = seq;
	clock_gettime(CLOCK_MONOTONIC, &ch->ch_reg_wait);
	regcopy_check(env);
}

/*
 * Has every running worker caught up further?  Then the registrar may
 * answer the requests of those updates.
 */
void
regcopy_check(struct portero *env)
{
	struct child	*ch;
	uint32_t	 done = env->pc_reg_seq;
	unsigned int	 i;

	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (regcopy_live(ch) && ch->ch_reg_seq < done)
			done = ch->ch_reg_seq;
	}
	if (done <= env->pc_reg_done)
		return;
	env->pc_reg_done = done;
	(void)parent_compose(env, &env->pc_registrar, IMSG_REG_DONE, 0, -1,
	    &done, sizeof(done));
}

/* A running worker behind for too long is stuck. */
static void
regcopy_timer(int fd, short event, void *arg)
{
	struct portero	*env = arg;
	struct timeval	 tv = { 0, REG_ACK_TIMEOUT_MS * 1000 / 4 };
	struct timespec	 now, d;
	struct child	*ch;
	unsigned int	 i;
	int		 behind = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (!regcopy_live(ch) || ch->ch_reg_seq >= env->pc_reg_seq)
			continue;
		timespecsub(&now, &ch->ch_reg_wait, &d);
		if (d.tv_sec * 1000 + d.tv_nsec / 1000000 <
		    REG_ACK_TIMEOUT_MS) {
			behind = 1;
			continue;
		}
		parent_child_broken(env, ch, "did not acknowledge a registry "
		    "update in time");
	}
	regcopy_check(env);
	if (behind)
		evtimer_add(&env->pc_ev_regack, &tv);
}

/*
 * A starting worker gets the whole copy, a window at a time, and its
 * CFG_DONE once it has acknowledged all of it.  Entries may come and go
 * meanwhile: the cursor is the last one sent, and what changes behind it
 * goes out as an update.
 */
void
regcopy_snap_start(struct portero *env, struct child *ch)
{
	ch->ch_snapping = 1;
	ch->ch_snap_began = 0;
	ch->ch_snap_inflight = 0;
	regcopy_snap_send(env, ch);
}

/*
 * The entry after last (the first if last is NULL), whether or not last
 * is still there: a cursor that survives changes to the copy.
 */
const struct reg_backend *
regcopy_after(struct portero *env, const struct reg_backend *last)
{
	struct reg_entry	 key, *re;

	if (last == NULL)
		re = RB_MIN(reg_tree, &env->pc_reg);
	else {
		memset(&key, 0, sizeof(key));
		key.re_rb = *last;
		if ((re = RB_NFIND(reg_tree, &env->pc_reg, &key)) != NULL &&
		    reg_cmp(re, &key) == 0)
			re = RB_NEXT(reg_tree, &env->pc_reg, re);
	}
	return (re == NULL ? NULL : &re->re_rb);
}

static const struct reg_backend *
regcopy_snap_next(struct portero *env, struct child *ch)
{
	return (regcopy_after(env, ch->ch_snap_began ? &ch->ch_snap_last :
	    NULL));
}

static void
regcopy_snap_send(struct portero *env, struct child *ch)
{
	const struct reg_backend	*next;
	struct reg_backend		 rb;

	while (ch->ch_ievset && ch->ch_snapping &&
	    ch->ch_snap_inflight < REG_SNAP_WINDOW) {
		if ((next = regcopy_snap_next(env, ch)) == NULL)
			break;
		rb = *next;
		rb.rb_seq = 0;
		if (parent_compose(env, ch, IMSG_REG_SNAP, 0, -1, &rb,
		    sizeof(rb)) == -1)
			return;
		ch->ch_snap_last = *next;
		ch->ch_snap_began = 1;
		ch->ch_snap_inflight++;
	}
	if (!ch->ch_ievset || !ch->ch_snapping || ch->ch_snap_inflight > 0 ||
	    regcopy_snap_next(env, ch) != NULL)
		return;
	ch->ch_snapping = 0;
	(void)parent_compose(env, ch, IMSG_CFG_DONE, 0, -1, NULL, 0);
}

void
regcopy_snap_ack(struct portero *env, struct child *ch)
{
	if (ch->ch_snap_inflight == 0) {
		parent_child_broken(env, ch, "acknowledged a snapshot it was "
		    "not sent");
		return;
	}
	ch->ch_snap_inflight--;
	regcopy_snap_send(env, ch);
}

/* A worker now running has everything relayed before this moment. */
void
regcopy_running(struct portero *env, struct child *ch)
{
	ch->ch_reg_seq = env->pc_reg_seq;
	clock_gettime(CLOCK_MONOTONIC, &ch->ch_reg_wait);
}
