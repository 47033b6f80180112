/*
 * balance.c: how a pool chooses a backend for a request: weighted round
 * robin, two random choices, least connections, consistent hashing, and
 * the sticky cookie over any of them.
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
 * Cost.  Every table a mode needs (the weighted turns, the hash ring,
 * the sticky ids, the least-connections heap) is built when the pool's
 * backends change (bl_ready cleared by route.c), at the first pick
 * after; a pick itself allocates nothing and costs O(1) (round robin,
 * random) or O(log n) (hash, sticky, least connections) while the
 * backends are up.  Backends that are down are stepped over; only when
 * most of a pool is down does a pick look at each.
 *
 * Per worker: the round-robin position, requests in flight, and so the
 * two-choices and least-connections decisions.  The same everywhere:
 * the ring and the sticky ids, computed from the backends' addresses
 * alone, so that every worker (and every portero with the same pool)
 * sends a key or a cookie to the same backend.
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

/*
 * Weighted turns: at most this many in a cycle (4 MiB; weights scaled
 * down beyond it).  Ring points: 100 per unit of weight while the ring
 * stays below RING_MAX (3 MiB), fewer beyond, the number changing only
 * when the weights' total crosses a power of two (only then does a
 * backend joining or leaving move more keys than its own).
 */
#define SCHED_MAX		(1U << 20)
#define RING_PER_WEIGHT		100
#define RING_MAX		(1U << 18)
#define RING_WALK_MAX		64	/* down points stepped over */
#define TWO_DRAWS		8	/* tries at two usable backends */
#define HEAP_FRONT		32	/* down backends at the heap's top */

/* A point on the ring: 64 bits of hash in two halves, 12 bytes. */
struct ring_point {
	uint32_t	 rp_hi;
	uint32_t	 rp_lo;
	uint32_t	 rp_idx;	/* in sv_backends */
};

struct sticky_entry {
	uint64_t	 se_id;
	uint32_t	 se_idx;
};

/* What a pick may take: up, not expired, not the one that just failed. */
struct pick_ctx {
	struct timespec		 pc_now;
	time_t			 pc_wall;
	const struct backend	*pc_avoid;
};

/* Fixed keys: what they hash must come out the same in every process. */
static const uint64_t	 key_ring[2] = {
	0x706f727465726f31ULL, 0x72696e6720706f69ULL
};
static const uint64_t	 key_sticky[2] = {
	0x706f727465726f32ULL, 0x737469636b792069ULL
};
static const uint64_t	 key_request[2] = {
	0x706f727465726f33ULL, 0x72657175657374ULL
};

#define ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* SipHash-2-4 (Aumasson, Bernstein): a keyed 64-bit hash. */
uint64_t
balance_siphash(const uint64_t k[2], const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint64_t		 v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t		 v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t		 v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t		 v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t		 m, b = (uint64_t)len << 56;
	size_t			 i, j, end = len & ~(size_t)7;

	for (i = 0; i < end; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (j = 0; j < (len & 7); j++)
		b |= (uint64_t)p[end + j] << (8 * j);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (j = 0; j < 4; j++)
		SIPROUND(v0, v1, v2, v3);
	return (v0 ^ v1 ^ v2 ^ v3);
}

static uint32_t
be_weight(const struct backend *be)
{
	return (be->be_conf.be_weight == 0 ? 1 : be->be_conf.be_weight);
}

/*
 * What names a backend to the ring and the cookie: its address and
 * port, never where it sits in the pool, nor anything of this process.
 */
static size_t
balance_ident(const struct backend *be, unsigned char *buf, size_t size)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	size_t				 len;

	switch (be->be_conf.be_ss.ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)&be->be_conf.be_ss;
		memcpy(buf, &sin->sin_addr, 4);
		memcpy(buf + 4, &sin->sin_port, 2);
		return (6);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)&be->be_conf.be_ss;
		memcpy(buf, &sin6->sin6_addr, 16);
		memcpy(buf + 16, &sin6->sin6_port, 2);
		return (18);
	}
	len = strnlen(be->be_conf.be_host, sizeof(be->be_conf.be_host));
	if (len > size)
		len = size;
	memcpy(buf, be->be_conf.be_host, len);
	return (len);
}

static int
balance_usable(struct pick_ctx *pc, const struct backend *be)
{
	if (be == pc->pc_avoid || be->be_gone ||
	    backend_is_down(be, &pc->pc_now))
		return (0);
	if (be->be_expires != 0) {
		if (pc->pc_wall == 0)
			pc->pc_wall = time(NULL);
		if (be->be_expires <= pc->pc_wall)
			return (0);
	}
	return (1);
}

void
balance_free(struct balance *bl)
{
	free(bl->bl_sched);
	free(bl->bl_ring);
	free(bl->bl_sticky);
	free(bl->bl_heap);
	bl->bl_sched = NULL;
	bl->bl_ring = NULL;
	bl->bl_sticky = NULL;
	bl->bl_heap = NULL;
	bl->bl_nsched = bl->bl_nring = bl->bl_nheap = 0;
	bl->bl_ready = bl->bl_broken = 0;
}

/*
 * Weighted round robin.  Each backend's turns in a cycle are its weight
 * over the weights' greatest common divisor, scaled down past SCHED_MAX;
 * the k-th turn of a backend with t turns falls at (2k + 1) / 2t of the
 * cycle (Sainte-Lague's divisors), so turns interleave: weights 3, 2, 1
 * give a b a c b a, as nginx's smooth weighting does.  Equal weights
 * need no table: turns go round the backends themselves.
 */
struct sched_slot {
	uint32_t	 ss_idx;
	uint32_t	 ss_k;		/* turns placed */
	uint32_t	 ss_t;		/* turns a cycle */
};

static uint32_t
gcd(uint32_t a, uint32_t b)
{
	uint32_t	 t;

	while (b != 0) {
		t = a % b;
		a = b;
		b = t;
	}
	return (a);
}

static int
sched_before(const struct sched_slot *a, const struct sched_slot *b)
{
	uint64_t	 x = (2 * (uint64_t)a->ss_k + 1) * b->ss_t;
	uint64_t	 y = (2 * (uint64_t)b->ss_k + 1) * a->ss_t;

	return (x < y || (x == y && a->ss_idx < b->ss_idx));
}

static void
sched_down(struct sched_slot *h, uint32_t n, uint32_t i)
{
	struct sched_slot	 t;
	uint32_t		 c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && sched_before(&h[c + 1], &h[c]))
			c++;
		if (!sched_before(&h[c], &h[i]))
			break;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/* The cycle's turns, from the heap of slots, earliest first. */
static int
balance_sched(struct service *sv)
{
	struct balance		*bl = &sv->sv_bal;
	struct sched_slot	*h;
	uint64_t		 total = 0;
	uint32_t		 g = 0, i, n = sv->sv_nbackends, w;

	for (i = 0; i < n; i++)
		g = gcd(be_weight(sv->sv_backends[i]), g);
	for (i = 0; i < n; i++)
		total += be_weight(sv->sv_backends[i]) / g;
	bl->bl_total = n;
	if (total == n)
		return (0);
	if ((h = calloc(n, sizeof(*h))) == NULL)
		return (-1);
	bl->bl_total = 0;
	for (i = 0; i < n; i++) {
		w = be_weight(sv->sv_backends[i]) / g;
		if (total > SCHED_MAX && (w = ((uint64_t)w * SCHED_MAX +
		    total / 2) / total) == 0)
			w = 1;
		h[i].ss_idx = i;
		h[i].ss_t = w;
		bl->bl_total += w;
	}
	if ((bl->bl_sched = calloc(bl->bl_total, sizeof(*bl->bl_sched))) ==
	    NULL) {
		free(h);
		return (-1);
	}
	for (i = n / 2; i-- > 0; )
		sched_down(h, n, i);
	for (i = 0; i < bl->bl_total; i++) {
		bl->bl_sched[i] = h[0].ss_idx;
		if (++h[0].ss_k == h[0].ss_t)
			h[0] = h[--n];
		sched_down(h, n, 0);
	}
	bl->bl_nsched = bl->bl_total;
	free(h);
	return (0);
}

static int
ring_cmp(const void *a, const void *b)
{
	const struct ring_point	*x = a, *y = b;

	if (x->rp_hi != y->rp_hi)
		return (x->rp_hi < y->rp_hi ? -1 : 1);
	if (x->rp_lo != y->rp_lo)
		return (x->rp_lo < y->rp_lo ? -1 : 1);
	return (x->rp_idx < y->rp_idx ? -1 : x->rp_idx > y->rp_idx);
}

/* Points a backend of weight w has on a ring of weights total. */
static uint32_t
ring_points(uint32_t w, uint64_t total)
{
	uint64_t	 p, s = 1;

	while (s < total)
		s <<= 1;
	if (s * RING_PER_WEIGHT <= RING_MAX)
		return (w * RING_PER_WEIGHT);
	p = (uint64_t)w * RING_MAX / s;
	return (p == 0 ? 1 : p);
}

/*
 * The hash ring: each backend's points hash its address, port and the
 * point's number, so a backend that leaves takes only its own keys with
 * it and one that joins takes its share from each of the others.
 */
static int
balance_ring(struct service *sv)
{
	struct balance		*bl = &sv->sv_bal;
	struct backend		*be;
	struct ring_point	*rp;
	unsigned char		 id[HOSTPORT_MAX + 4];
	uint64_t		 total = 0, np = 0, h;
	uint32_t		 i, j, pts;
	size_t			 len;

	for (i = 0; i < sv->sv_nbackends; i++)
		total += be_weight(sv->sv_backends[i]);
	for (i = 0; i < sv->sv_nbackends; i++)
		np += ring_points(be_weight(sv->sv_backends[i]), total);
	if ((bl->bl_ring = calloc(np, sizeof(*bl->bl_ring))) == NULL)
		return (-1);
	rp = bl->bl_ring;
	for (i = 0; i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		len = balance_ident(be, id, HOSTPORT_MAX);
		pts = ring_points(be_weight(be), total);
		for (j = 0; j < pts; j++, rp++) {
			id[len] = j & 0xff;
			id[len + 1] = (j >> 8) & 0xff;
			id[len + 2] = (j >> 16) & 0xff;
			id[len + 3] = (j >> 24) & 0xff;
			h = balance_siphash(key_ring, id, len + 4);
			rp->rp_hi = h >> 32;
			rp->rp_lo = h & 0xffffffff;
			rp->rp_idx = i;
		}
	}
	qsort(bl->bl_ring, np, sizeof(*bl->bl_ring), ring_cmp);
	bl->bl_nring = np;
	return (0);
}

static int
sticky_cmp(const void *a, const void *b)
{
	const struct sticky_entry	*x = a, *y = b;

	if (x->se_id != y->se_id)
		return (x->se_id < y->se_id ? -1 : 1);
	return (x->se_idx < y->se_idx ? -1 : x->se_idx > y->se_idx);
}

/* The sticky ids, sorted, to find a cookie's backend by. */
static int
balance_sticky_table(struct service *sv)
{
	struct balance	*bl = &sv->sv_bal;
	uint32_t	 i;

	if ((bl->bl_sticky = calloc(sv->sv_nbackends,
	    sizeof(*bl->bl_sticky))) == NULL)
		return (-1);
	for (i = 0; i < sv->sv_nbackends; i++) {
		bl->bl_sticky[i].se_id = sv->sv_backends[i]->be_sticky;
		bl->bl_sticky[i].se_idx = i;
	}
	qsort(bl->bl_sticky, sv->sv_nbackends, sizeof(*bl->bl_sticky),
	    sticky_cmp);
	return (0);
}

/*
 * Least connections: a heap of the backends, fewest requests in flight
 * for their weight first, then the one whose turn was longest ago.
 */
static int
heap_before(const struct backend *a, const struct backend *b)
{
	uint64_t	 x = (uint64_t)a->be_inflight * be_weight(b);
	uint64_t	 y = (uint64_t)b->be_inflight * be_weight(a);

	return (x < y || (x == y && a->be_seq < b->be_seq));
}

static void
heap_swap(struct backend **h, uint32_t i, uint32_t j)
{
	struct backend	*t = h[i];

	h[i] = h[j];
	h[j] = t;
	h[i]->be_heapidx = i;
	h[j]->be_heapidx = j;
}

static void
heap_up(struct backend **h, uint32_t i)
{
	while (i > 0 && heap_before(h[i], h[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct backend **h, uint32_t n, uint32_t i)
{
	uint32_t	 c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && heap_before(h[c + 1], h[c]))
			c++;
		if (!heap_before(h[c], h[i]))
			break;
		heap_swap(h, i, c);
		i = c;
	}
}

static int
balance_heap(struct service *sv)
{
	struct balance	*bl = &sv->sv_bal;
	uint32_t	 i, n = sv->sv_nbackends;

	if ((bl->bl_heap = calloc(n, sizeof(*bl->bl_heap))) == NULL)
		return (-1);
	for (i = 0; i < n; i++) {
		bl->bl_heap[i] = sv->sv_backends[i];
		bl->bl_heap[i]->be_heapidx = i;
	}
	for (i = n / 2; i-- > 0; )
		heap_down(bl->bl_heap, n, i);
	bl->bl_nheap = n;
	return (0);
}

/* Is be in its service's heap, where moving it is safe? */
static int
heap_has(const struct balance *bl, const struct backend *be)
{
	return (bl->bl_ready && bl->bl_heap != NULL && !be->be_gone &&
	    be->be_heapidx < bl->bl_nheap && bl->bl_heap[be->be_heapidx] == be);
}

/* A request holds be, or lets go of it: its count, its heap place. */
void
balance_hold(struct service *sv, struct backend *be)
{
	be->be_inflight++;
	if (sv != NULL && heap_has(&sv->sv_bal, be))
		heap_down(sv->sv_bal.bl_heap, sv->sv_bal.bl_nheap,
		    be->be_heapidx);
}

void
balance_release(struct service *sv, struct backend *be)
{
	if (be->be_inflight > 0)
		be->be_inflight--;
	if (sv != NULL && heap_has(&sv->sv_bal, be))
		heap_up(sv->sv_bal.bl_heap, be->be_heapidx);
}

/*
 * The tables for sv's backends as they are now.  Out of memory, the
 * pool goes round its backends in plain turns until they change again.
 */
static void
balance_build(struct service *sv)
{
	struct balance	*bl = &sv->sv_bal;
	struct backend	*be;
	unsigned char	 id[HOSTPORT_MAX];
	uint32_t	 i;
	size_t		 len;

	balance_free(bl);
	for (i = 0; i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		len = balance_ident(be, id, sizeof(id));
		be->be_id = balance_siphash(key_ring, id, len);
		if ((be->be_sticky = balance_siphash(key_sticky, id,
		    len)) == 0)
			be->be_sticky = 1;
	}
	bl->bl_ready = 1;
	if (balance_sched(sv) == -1 ||
	    (bl->bl_conf.ba_mode == BALANCE_HASH && balance_ring(sv) == -1) ||
	    (bl->bl_conf.ba_sticky && balance_sticky_table(sv) == -1) ||
	    (bl->bl_conf.ba_mode == BALANCE_LEASTCONN &&
	    balance_heap(sv) == -1)) {
		log_warnx("pool %s: out of memory for its balancing tables; "
		    "plain round robin until its backends change",
		    sv->sv_name);
		balance_free(bl);
		bl->bl_ready = bl->bl_broken = 1;
	}
}

/* Round robin: the next turn whose backend is usable. */
static struct backend *
pick_turn(struct service *sv, struct pick_ctx *pc)
{
	struct balance	*bl = &sv->sv_bal;
	struct backend	*be;
	uint32_t	 i, n;

	n = bl->bl_nsched ? bl->bl_nsched : sv->sv_nbackends;
	for (i = 0; i < n; i++) {
		if (sv->sv_next >= n)
			sv->sv_next = 0;
		be = sv->sv_backends[bl->bl_nsched ?
		    bl->bl_sched[sv->sv_next] : sv->sv_next];
		sv->sv_next++;
		if (balance_usable(pc, be))
			return (be);
	}
	return (NULL);
}

/* A backend at random, as likely as its weight: its index. */
static uint32_t
pick_draw(struct service *sv)
{
	struct balance	*bl = &sv->sv_bal;

	if (bl->bl_nsched)
		return (bl->bl_sched[arc4random_uniform(bl->bl_nsched)]);
	return (arc4random_uniform(sv->sv_nbackends));
}

/* The first usable backend after the one at index ia, other than it. */
static struct backend *
pick_after(struct service *sv, struct pick_ctx *pc, uint32_t ia)
{
	struct backend	*be;
	uint32_t	 i, n = sv->sv_nbackends;

	for (i = 1; i < n; i++) {
		be = sv->sv_backends[(ia + i) % n];
		if (be != sv->sv_backends[ia] && balance_usable(pc, be))
			return (be);
	}
	return (NULL);
}

/*
 * Two random choices: of two usable backends drawn by weight, the one
 * with fewer requests in flight for its weight (Mitzenmacher's power of
 * two choices: nearly least connections, at O(1)).  When the draws keep
 * giving the same one, the next in the pool is the other.
 */
static struct backend *
pick_two(struct service *sv, struct pick_ctx *pc)
{
	struct backend	*a = NULL, *b = NULL, *be;
	uint32_t	 ia = 0, k;
	int		 i;

	for (i = 0; i < TWO_DRAWS && b == NULL; i++) {
		k = pick_draw(sv);
		be = sv->sv_backends[k];
		if (!balance_usable(pc, be))
			continue;
		if (a == NULL) {
			a = be;
			ia = k;
		} else if (be != a)
			b = be;
	}
	if (a == NULL)
		return (pick_turn(sv, pc));	/* most are down */
	if (b == NULL && (b = pick_after(sv, pc, ia)) == NULL)
		return (a);
	return ((uint64_t)b->be_inflight * be_weight(a) <
	    (uint64_t)a->be_inflight * be_weight(b) ? b : a);
}

/* Least connections over the whole pool, when the heap cannot say. */
static struct backend *
pick_least_scan(struct service *sv, struct pick_ctx *pc)
{
	struct backend	*be, *best = NULL;
	uint32_t	 i;

	for (i = 0; i < sv->sv_nbackends; i++) {
		be = sv->sv_backends[i];
		if (balance_usable(pc, be) &&
		    (best == NULL || heap_before(be, best)))
			best = be;
	}
	return (best);
}

/*
 * Least connections: the heap's best usable backend, searched best
 * first from the top, so that backends down (which keep their place
 * there, idle) cost a step each; then it goes to the back of its ties.
 */
static struct backend *
pick_least(struct service *sv, struct pick_ctx *pc)
{
	struct balance	*bl = &sv->sv_bal;
	struct backend	*be = NULL, **h = bl->bl_heap;
	uint32_t	 front[HEAP_FRONT], nf = 0, i, best, k, c;

	if (bl->bl_nheap > 0)
		front[nf++] = 0;
	while (nf > 0) {
		for (best = 0, i = 1; i < nf; i++)
			if (heap_before(h[front[i]], h[front[best]]))
				best = i;
		k = front[best];
		front[best] = front[--nf];
		if (balance_usable(pc, h[k])) {
			be = h[k];
			break;
		}
		for (c = 2 * k + 1; c <= 2 * k + 2 && c < bl->bl_nheap; c++) {
			if (nf == HEAP_FRONT) {
				be = pick_least_scan(sv, pc);
				goto found;
			}
			front[nf++] = c;
		}
	}
 found:
	if (be != NULL) {
		be->be_seq = ++bl->bl_seq;
		if (heap_has(bl, be))
			heap_down(h, bl->bl_nheap, be->be_heapidx);
	}
	return (be);
}

/*
 * Consistent hashing: the first point at or after the key's hash, going
 * on round the ring past points of backends that are down.
 */
static struct backend *
pick_ring(struct service *sv, struct pick_ctx *pc, uint64_t hash)
{
	struct balance	*bl = &sv->sv_bal;
	struct backend	*be;
	uint32_t	 lo = 0, hi = bl->bl_nring, mid, i, hh, hl;

	hh = hash >> 32;
	hl = hash & 0xffffffff;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (bl->bl_ring[mid].rp_hi < hh ||
		    (bl->bl_ring[mid].rp_hi == hh &&
		    bl->bl_ring[mid].rp_lo < hl))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = 0; i < bl->bl_nring && i < RING_WALK_MAX; i++) {
		be = sv->sv_backends[bl->bl_ring[(lo + i) %
		    bl->bl_nring].rp_idx];
		if (balance_usable(pc, be))
			return (be);
	}
	return (pick_turn(sv, pc));
}

/* The backend a sticky cookie names, if it is one of sv's and usable. */
static struct backend *
pick_sticky(struct service *sv, struct pick_ctx *pc, uint64_t id)
{
	struct balance	*bl = &sv->sv_bal;
	struct backend	*be;
	uint32_t	 lo = 0, hi = sv->sv_nbackends, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (bl->bl_sticky[mid].se_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < sv->sv_nbackends && bl->bl_sticky[lo].se_id == id; lo++) {
		be = sv->sv_backends[bl->bl_sticky[lo].se_idx];
		if (balance_usable(pc, be))
			return (be);
	}
	return (NULL);
}

/*
 * The backend for a request (pk may be NULL: no key, no cookie), among
 * those that are not resting or expired (the registrar's removal may
 * still be on its way), never pk_avoid: NULL when none is left.
 */
static struct backend *
balance_pick(struct service *sv, const struct pick_key *pk)
{
	struct balance	*bl = &sv->sv_bal;
	struct pick_ctx	 pc;
	struct backend	*be = NULL;

	if (sv->sv_nbackends == 0)
		return (NULL);
	if (!bl->bl_ready)
		balance_build(sv);
	clock_gettime(CLOCK_MONOTONIC, &pc.pc_now);
	pc.pc_wall = 0;
	pc.pc_avoid = pk != NULL ? pk->pk_avoid : NULL;
	if (bl->bl_broken)
		return (pick_turn(sv, &pc));
	if (pk != NULL && pk->pk_sticky != 0 && bl->bl_sticky != NULL &&
	    (be = pick_sticky(sv, &pc, pk->pk_sticky)) != NULL)
		return (be);
	switch (bl->bl_conf.ba_mode) {
	case BALANCE_RANDOM:
		return (pick_two(sv, &pc));
	case BALANCE_LEASTCONN:
		return (pick_least(sv, &pc));
	case BALANCE_HASH:
		if (pk != NULL && pk->pk_hashed)
			return (pick_ring(sv, &pc, pk->pk_hash));
		break;
	}
	return (pick_turn(sv, &pc));
}

/* ... and a probe it held spent (route.c). */
struct backend *
backend_pick(struct service *sv, const struct pick_key *pk)
{
	struct backend	*be;

	if ((be = balance_pick(sv, pk)) != NULL)
		backend_picked(be);
	return (be);
}

/*
 * The value of the cookie named name, from the request's Cookie fields
 * (HTTP/2's arrive joined in one); the first one wins.  Pairs are
 * "name=value" separated by ';', the value maybe quoted (RFC 6265 4.2).
 */
static int
cookie_find(const char *head, const struct http1_request *req,
    const char *name, const char **vp, size_t *vlenp)
{
	const struct http1_field	*f;
	const char			*p, *end, *eq, *semi;
	size_t				 nlen = strlen(name);
	int				 i = -1;

	while ((i = http1_field_find(head, req->fields, req->nfields, i + 1,
	    "cookie", 6)) != -1) {
		f = &req->fields[i];
		p = head + f->value_off;
		end = p + f->value_len;
		for (; p < end; p = semi + 1) {
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if ((semi = memchr(p, ';', end - p)) == NULL)
				semi = end;
			if ((eq = memchr(p, '=', semi - p)) == NULL ||
			    (size_t)(eq - p) != nlen || memcmp(p, name, nlen))
				continue;
			*vp = eq + 1;
			*vlenp = semi - *vp;
			while (*vlenp > 0 && ((*vp)[*vlenp - 1] == ' ' ||
			    (*vp)[*vlenp - 1] == '\t'))
				(*vlenp)--;
			if (*vlenp >= 2 && **vp == '"' &&
			    (*vp)[*vlenp - 1] == '"') {
				(*vp)++;
				*vlenp -= 2;
			}
			return (1);
		}
	}
	return (0);
}

/* A sticky cookie's value: 16 hex digits, lower case; 0 if not one. */
static uint64_t
sticky_decode(const char *v, size_t len)
{
	uint64_t	 id = 0;
	size_t		 i;

	if (len != 16)
		return (0);
	for (i = 0; i < len; i++) {
		if (v[i] >= '0' && v[i] <= '9')
			id = id << 4 | (v[i] - '0');
		else if (v[i] >= 'a' && v[i] <= 'f')
			id = id << 4 | (v[i] - 'a' + 10);
		else
			return (0);
	}
	return (id);
}

/*
 * What the request brings to sv's choice, read from its head (at head,
 * parsed into req) while it is there: the hash key's hash, the id its
 * sticky cookie names.  addr is the client's address, as text.
 */
void
pick_key_init(struct pick_key *pk, const struct service *sv,
    const char *addr, const char *head, const struct http1_request *req)
{
	const struct balance_conf	*ba = &sv->sv_bal.bl_conf;
	const char			*v = NULL;
	size_t				 vlen = 0;
	int				 i;

	memset(pk, 0, sizeof(*pk));
	if (ba->ba_mode == BALANCE_HASH) {
		switch (ba->ba_key) {
		case BALANCE_KEY_ADDRESS:
			v = addr;
			vlen = strlen(addr);
			break;
		case BALANCE_KEY_HEADER:
			if ((i = http1_field_find(head, req->fields,
			    req->nfields, 0, ba->ba_keyname,
			    strlen(ba->ba_keyname))) != -1) {
				v = head + req->fields[i].value_off;
				vlen = req->fields[i].value_len;
			}
			break;
		case BALANCE_KEY_COOKIE:
			(void)cookie_find(head, req, ba->ba_keyname, &v,
			    &vlen);
			break;
		}
		if (vlen > 0) {
			pk->pk_hash = balance_siphash(key_request, v, vlen);
			pk->pk_hashed = 1;
		}
	}
	if (ba->ba_sticky && cookie_find(head, req, ba->ba_cookie, &v, &vlen))
		pk->pk_sticky = sticky_decode(v, vlen);
}

/*
 * The Set-Cookie value that makes a client stick to be, the backend
 * that served it, in buf: its length, or 0 when sv has no sticky cookie
 * or the request's already named be.  Secure on a TLS connection.
 */
size_t
balance_setcookie(const struct service *sv, const struct backend *be,
    const struct pick_key *pk, int secure, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	static const char	 attrs[] = "; Path=/; HttpOnly; Secure";
	const struct balance_conf *ba = &sv->sv_bal.bl_conf;
	size_t			 n, i, alen = sizeof(attrs) - 1;

	if (!ba->ba_sticky || be == NULL || pk->pk_sticky == be->be_sticky)
		return (0);
	if (!secure)
		alen -= 8;	/* "; Secure" */
	n = strnlen(ba->ba_cookie, sizeof(ba->ba_cookie));
	if (n + 1 + 16 + alen > size)
		return (0);
	memcpy(buf, ba->ba_cookie, n);
	buf[n++] = '=';
	for (i = 0; i < 16; i++)
		buf[n++] = hex[(be->be_sticky >> (60 - 4 * i)) & 0xf];
	memcpy(buf + n, attrs, alen);
	return (n + alen);
}
