/*
 * timer.c: timeouts that move often and seldom fire.  A connection's
 * deadline moves with every request it serves; re-arming a libevent
 * timer each time cost more instructions than parsing the request.
 * A timer here stays armed and, when it fires before its deadline, is
 * armed again for what is left: moving a deadline later costs a read
 * of the clock, and stopping one costs nothing until it fires.
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

#include <stdint.h>
#include <time.h>

#include "portero.h"

/* A few milliseconds coarse, and a vDSO read rather than a syscall. */
#ifdef CLOCK_MONOTONIC_COARSE
#define TIMER_CLOCK	CLOCK_MONOTONIC_COARSE
#else
#define TIMER_CLOCK	CLOCK_MONOTONIC
#endif

static void	 timer_fire(int, short, void *);

static uint64_t
timer_now(void)
{
	struct timespec	 ts;

	if (clock_gettime(TIMER_CLOCK, &ts) == -1)
		fatal("clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
timer_arm(struct timer *tm, uint64_t now)
{
	uint64_t	 ms = tm->tm_deadline > now ? tm->tm_deadline - now : 1;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(&tm->tm_ev, &tv);
	tm->tm_armed = tm->tm_deadline;
}

void
timer_init(struct timer *tm, void (*cb)(int, short, void *), void *arg)
{
	tm->tm_cb = cb;
	tm->tm_arg = arg;
	tm->tm_deadline = tm->tm_armed = 0;
	evtimer_set(&tm->tm_ev, timer_fire, tm);
}

/* Call back secs from now, and not before; replaces any deadline. */
void
timer_set(struct timer *tm, unsigned int secs)
{
	uint64_t	 now = timer_now();

	tm->tm_deadline = now + (uint64_t)secs * 1000;
	/* armed for an earlier moment: it will arm again then */
	if (tm->tm_armed == 0 || tm->tm_armed > tm->tm_deadline)
		timer_arm(tm, now);
}

/* No call back; the libevent timer, if armed, goes off for nothing. */
void
timer_stop(struct timer *tm)
{
	tm->tm_deadline = 0;
}

/* No call back, and nothing armed: before the timer's memory goes. */
void
timer_del(struct timer *tm)
{
	if (tm->tm_armed != 0)
		evtimer_del(&tm->tm_ev);
	tm->tm_deadline = tm->tm_armed = 0;
}

static void
timer_fire(int fd, short event, void *arg)
{
	struct timer	*tm = arg;
	uint64_t	 now;

	tm->tm_armed = 0;
	if (tm->tm_deadline == 0)
		return;
	if ((now = timer_now()) < tm->tm_deadline) {
		timer_arm(tm, now);
		return;
	}
	tm->tm_deadline = 0;
	tm->tm_cb(fd, event, tm->tm_arg);
}
