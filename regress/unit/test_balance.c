/*
 * test_balance.c: the unit test of balance.c over route.c's pools: each
 * mode's distribution over three backends, the ring's stability, two
 * choices and least connections under load, sticky cookies and their
 * fallback, retries that avoid the backend that failed.
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../portero/portero.h"
#include "../../portero/http1.h"

#define NKEYS	3000

static int	 failures;

/* What route.c calls that this test has no use for. */
void
upstream_sessions_free(struct backend *be)
{
}

void
upstream_release(struct upstream *up, int reuse)
{
}

/* Nor for the metrics' counters (wmetrics.c). */
int
wmetrics_service(struct service *sv)
{
	return (0);
}

void
wmetrics_service_drop(struct service *sv)
{
}

int
wmetrics_backend(struct backend *be)
{
	return (0);
}

void
wmetrics_backend_drop(struct backend *be)
{
}

void
wmetrics_failed(struct backend *be)
{
}

/* No pool here has a tls-ca of its own. */
int
poolca_table(struct route_table *rt)
{
	return (0);
}

/* ... nor a client certificate. */
struct upstream_tls *
poolclient_tls(struct upstream_tls *base, uint32_t id)
{
	return (NULL);
}

void
upstream_tls_ref(struct upstream_tls *ut)
{
}

void
upstream_tls_unref(struct upstream_tls *ut)
{
}

struct imsgev *
proc_parent_iev(void)
{
	return (NULL);
}

int
config_sethealth(struct imsgev *iev, const struct backend_health *bh)
{
	return (0);
}

void
log_limited(enum log_limit_reason why, const char *fmt, ...)
{
}

/* Tables here have pools only: no servers, no set of the file's. */
int
server_build(struct route_table *rt)
{
	return (0);
}

void
server_free(struct route_table *rt)
{
}

void
confset_free(struct conf_set *set)
{
}

static void
result(const char *name, int ok, const char *fmt, ...)
{
	va_list	 ap;

	if (ok) {
		printf("PASS %s\n", name);
		return;
	}
	failures++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* A backend 127.0.0.1:port of pool "api"; registered when expires. */
static struct backend *
add(struct route_table *rt, uint16_t port, uint32_t weight,
    int64_t expires)
{
	struct backend_conf	 bc;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&bc.be_ss;

	memset(&bc, 0, sizeof(bc));
	(void)strlcpy(bc.be_service, "api", sizeof(bc.be_service));
	(void)snprintf(bc.be_host, sizeof(bc.be_host), "127.0.0.1:%u",
	    port);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bc.be_sslen = sizeof(*sin);
	bc.be_port = port;
	bc.be_weight = weight;
	return (route_add(rt, &bc, expires));
}

static void
del(struct route_table *rt, struct backend *be)
{
	struct backend_conf	 bc = be->be_conf;

	route_remove(rt, &bc);
}

/* A pool of three, 9001..9003, with these weights, in this mode. */
static struct service *
pool(struct route_table **rtp, uint32_t w1, uint32_t w2, uint32_t w3,
    enum balance_mode mode)
{
	struct service	*sv;
	int64_t		 exp = time(NULL) + 3600;

	if ((*rtp = route_new()) == NULL || add(*rtp, 9001, w1, exp) == NULL ||
	    add(*rtp, 9002, w2, exp) == NULL ||
	    add(*rtp, 9003, w3, exp) == NULL)
		fatalx("out of memory");
	sv = route_lookup(*rtp, "api", 3);
	sv->sv_bal.bl_conf.ba_mode = mode;
	sv->sv_bal.bl_ready = 0;
	return (sv);
}

static int
which(const struct service *sv, const struct backend *be)
{
	unsigned int	 i;

	for (i = 0; i < sv->sv_nbackends; i++)
		if (sv->sv_backends[i] == be)
			return (i);
	return (-1);
}

/* n picks with key pk (or none), counted per backend; -1 a NULL one. */
static int
count(struct service *sv, const struct pick_key *pk, int n, int c[3])
{
	struct backend	*be;
	int		 i;

	c[0] = c[1] = c[2] = 0;
	for (i = 0; i < n; i++) {
		if ((be = backend_pick(sv, pk)) == NULL)
			return (-1);
		c[which(sv, be)]++;
	}
	return (0);
}

/* As the owner of backend health says it (route.c, hstate.c). */
static void
rest(struct backend *be, int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, &be->be_down_until);
	be->be_down_until.tv_sec += seconds;
	be->be_held = 1;
}

static void
up(struct backend *be)
{
	memset(&be->be_down_until, 0, sizeof(be->be_down_until));
	be->be_held = 0;
}

/* The reference vector of SipHash-2-4's paper (appendix A). */
static void
test_siphash(void)
{
	unsigned char	 k[16], m[15];
	uint64_t	 key[2] = { 0, 0 };
	int		 i;

	for (i = 0; i < 16; i++)
		k[i] = i;
	for (i = 0; i < 15; i++)
		m[i] = i;
	for (i = 0; i < 8; i++) {
		key[0] |= (uint64_t)k[i] << (8 * i);
		key[1] |= (uint64_t)k[8 + i] << (8 * i);
	}
	result("siphash_vector", balance_siphash(key, m, sizeof(m)) ==
	    0xa129ca6149be45e5ULL, "%016llx", (unsigned long long)
	    balance_siphash(key, m, sizeof(m)));
}

static void
test_roundrobin(void)
{
	struct route_table	*rt;
	struct service		*sv;
	char			 seq[13];
	int			 c[3], i, r, run, maxrun = 0;

	sv = pool(&rt, 1, 1, 1, BALANCE_ROUNDROBIN);
	r = count(sv, NULL, 300, c);
	result("rr_equal", r == 0 && c[0] == 100 &&
	    c[1] == 100 && c[2] == 100, "%d %d %d", c[0], c[1], c[2]);
	route_unref(rt);

	/* weights 3, 2, 1: exact shares, turns interleaved */
	sv = pool(&rt, 3, 2, 1, BALANCE_ROUNDROBIN);
	for (i = 0; i < 12; i++)
		seq[i] = 'a' + which(sv, backend_pick(sv, NULL));
	seq[12] = '\0';
	for (i = 1, run = 1; i < 12; i++) {
		run = seq[i] == seq[i - 1] ? run + 1 : 1;
		if (run > maxrun)
			maxrun = run;
	}
	result("rr_weighted_interleaved", strncmp(seq, "abacba", 6) == 0 &&
	    maxrun <= 2, "%s", seq);
	r = count(sv, NULL, 600, c);
	result("rr_weighted", r == 0 && c[0] == 300 &&
	    c[1] == 200 && c[2] == 100, "%d %d %d", c[0], c[1], c[2]);

	/* one resting: its turns go to the others, in their proportion */
	rest(sv->sv_backends[1], 60);
	r = count(sv, NULL, 400, c);
	result("rr_skips_down", r == 0 && c[1] == 0 &&
	    c[0] == 300 && c[2] == 100, "%d %d %d", c[0], c[1], c[2]);
	rest(sv->sv_backends[0], 60);
	rest(sv->sv_backends[2], 60);
	result("rr_all_down", backend_pick(sv, NULL) == NULL, "picked one");
	route_unref(rt);
}

/* An expired registration is passed over until its removal comes. */
static void
test_expired(void)
{
	struct route_table	*rt;
	struct service		*sv;
	int			 c[3], r;

	sv = pool(&rt, 1, 1, 1, BALANCE_ROUNDROBIN);
	sv->sv_backends[2]->be_expires = time(NULL) - 1;
	r = count(sv, NULL, 90, c);
	result("expired_skipped", r == 0 && c[2] == 0 &&
	    c[0] == 45 && c[1] == 45, "%d %d %d", c[0], c[1], c[2]);
	route_unref(rt);
}

/*
 * A resting backend this worker was granted a probe for is picked once,
 * whatever the mode, and then rests again until the owner says; one down
 * by its check is never picked, probe or not.
 */
static void
test_probe(void)
{
	struct route_table	*rt;
	struct service		*sv;
	struct backend		*be;
	int			 c[3], r, mode, modes[] = { BALANCE_ROUNDROBIN,
				    BALANCE_RANDOM, BALANCE_LEASTCONN };
	unsigned int		 m;

	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		mode = modes[m];
		sv = pool(&rt, 1, 1, 1, mode);
		be = sv->sv_backends[1];
		rest(be, 60);
		be->be_probe = 1;
		clock_gettime(CLOCK_MONOTONIC, &be->be_probe_until);
		be->be_probe_until.tv_sec += 1;
		r = count(sv, NULL, 60, c);
		result(mode == BALANCE_ROUNDROBIN ? "probe_once_roundrobin" :
		    mode == BALANCE_RANDOM ? "probe_once_random" :
		    "probe_once_leastconn", r == 0 && c[1] == 1 &&
		    !be->be_probe, "%d %d %d", c[0], c[1], c[2]);
		be->be_probe = 1;
		be->be_checkdown = 1;
		r = count(sv, NULL, 60, c);
		result("probe_not_when_checked_down", r == 0 && c[1] == 0,
		    "%d %d %d", c[0], c[1], c[2]);
		route_unref(rt);
	}
}

static void
test_random(void)
{
	struct route_table	*rt;
	struct service		*sv;
	int			 c[3], i, r;

	sv = pool(&rt, 1, 1, 1, BALANCE_RANDOM);
	r = count(sv, NULL, 3000, c);
	result("random_equal", r == 0 &&
	    c[0] > 800 && c[1] > 800 && c[2] > 800, "%d %d %d", c[0], c[1],
	    c[2]);
	route_unref(rt);

	/* no load: the first of the two, drawn by weight */
	sv = pool(&rt, 3, 2, 1, BALANCE_RANDOM);
	r = count(sv, NULL, 6000, c);
	result("random_weighted", r == 0 &&
	    c[0] > 2700 && c[0] < 3300 && c[1] > 1700 && c[1] < 2300 &&
	    c[2] > 800 && c[2] < 1200, "%d %d %d", c[0], c[1], c[2]);
	route_unref(rt);

	/* a busy: never chosen over another; b busier than c */
	sv = pool(&rt, 1, 1, 1, BALANCE_RANDOM);
	for (i = 0; i < 5; i++)
		balance_hold(sv, sv->sv_backends[0]);
	balance_hold(sv, sv->sv_backends[1]);
	r = count(sv, NULL, 3000, c);
	result("random_two_choices", r == 0 &&
	    c[0] == 0 && c[1] > 800 && c[2] > 1700, "%d %d %d", c[0], c[1],
	    c[2]);
	rest(sv->sv_backends[1], 60);
	rest(sv->sv_backends[2], 60);
	r = count(sv, NULL, 50, c);
	result("random_last_one", r == 0 && c[0] == 50,
	    "%d %d %d", c[0], c[1], c[2]);
	route_unref(rt);
}

static void
test_leastconn(void)
{
	struct route_table	*rt;
	struct service		*sv;
	struct backend		*be;
	int			 c[3], i;

	/* nothing in flight between requests: in turn */
	sv = pool(&rt, 1, 1, 1, BALANCE_LEASTCONN);
	c[0] = c[1] = c[2] = 0;
	for (i = 0; i < 30; i++) {
		be = backend_pick(sv, NULL);
		balance_hold(sv, be);
		c[which(sv, be)]++;
		balance_release(sv, be);
	}
	result("lc_ties_rotate", c[0] == 10 && c[1] == 10 && c[2] == 10,
	    "%d %d %d", c[0], c[1], c[2]);

	/* requests held: each goes where fewest are */
	be = sv->sv_backends[1];
	for (i = 0; i < 4; i++)
		balance_hold(sv, be);
	for (i = 0; i < 8; i++)
		balance_hold(sv, backend_pick(sv, NULL));
	result("lc_fewest", sv->sv_backends[0]->be_inflight == 4 &&
	    sv->sv_backends[1]->be_inflight == 4 &&
	    sv->sv_backends[2]->be_inflight == 4, "%u %u %u",
	    sv->sv_backends[0]->be_inflight, sv->sv_backends[1]->be_inflight,
	    sv->sv_backends[2]->be_inflight);
	balance_release(sv, be);
	result("lc_released", backend_pick(sv, NULL) == be, "not the one "
	    "with a request less");
	rest(be, 60);
	balance_release(sv, be);
	balance_release(sv, be);
	be = backend_pick(sv, NULL);
	result("lc_skips_down", be != NULL && be != sv->sv_backends[1],
	    "picked the one resting");
	route_unref(rt);

	/* weights 3, 2, 1 and six requests held: 3, 2, 1 */
	sv = pool(&rt, 3, 2, 1, BALANCE_LEASTCONN);
	for (i = 0; i < 6; i++)
		balance_hold(sv, backend_pick(sv, NULL));
	result("lc_weighted", sv->sv_backends[0]->be_inflight == 3 &&
	    sv->sv_backends[1]->be_inflight == 2 &&
	    sv->sv_backends[2]->be_inflight == 1, "%u %u %u",
	    sv->sv_backends[0]->be_inflight, sv->sv_backends[1]->be_inflight,
	    sv->sv_backends[2]->be_inflight);
	route_unref(rt);
}

/* A request head parsed, as xc_start() has it. */
static const char *
request(struct http1_request *req, const char *fields)
{
	static char	 head[2048];

	(void)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: x\r\n"
	    "%s\r\n", fields);
	http1_request_reset(req);
	if (http1_parse_request(head, strlen(head), req) != HTTP1_OK)
		fatalx("bad test request: %s", fields);
	return (head);
}

/* Which backend each of NKEYS client addresses goes to. */
static void
map_keys(struct service *sv, uint16_t *map)
{
	static struct http1_request	 req;
	struct pick_key			 pk;
	const char			*head;
	char				 addr[32];
	struct backend			*be;
	int				 i;

	head = request(&req, "");
	for (i = 0; i < NKEYS; i++) {
		(void)snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		pick_key_init(&pk, sv, addr, head, &req);
		be = backend_pick(sv, &pk);
		map[i] = be == NULL ? 0 : be->be_conf.be_port;
	}
}

static int
map_count(const uint16_t *map, uint16_t port)
{
	int	 i, n = 0;

	for (i = 0; i < NKEYS; i++)
		n += map[i] == port;
	return (n);
}

static void
test_hash(void)
{
	static uint16_t		 m1[NKEYS], m2[NKEYS], m3[NKEYS];
	struct route_table	*rt;
	struct service		*sv;
	struct backend		*b2, *b4;
	int			 i, moved = 0, wrong = 0, c1, c2, c3;

	sv = pool(&rt, 1, 1, 1, BALANCE_HASH);
	map_keys(sv, m1);
	map_keys(sv, m2);
	c1 = map_count(m1, 9001);
	c2 = map_count(m1, 9002);
	c3 = map_count(m1, 9003);
	result("hash_same_key", memcmp(m1, m2, sizeof(m1)) == 0,
	    "a key moved");
	result("hash_spread", c1 > 700 && c2 > 700 && c3 > 700,
	    "%d %d %d", c1, c2, c3);

	/* b2 resting: its keys elsewhere, every other key where it was */
	b2 = sv->sv_backends[1];
	rest(b2, 60);
	map_keys(sv, m2);
	for (i = 0; i < NKEYS; i++)
		if (m1[i] != 9002 ? m2[i] != m1[i] : m2[i] == 9002)
			wrong++;
	result("hash_down_moves_own", wrong == 0, "%d keys wrong", wrong);
	up(b2);

	/* b2 leaves: only its keys move; it comes back: they return */
	del(rt, b2);
	map_keys(sv, m2);
	for (i = 0, wrong = 0; i < NKEYS; i++)
		if (m1[i] != 9002 ? m2[i] != m1[i] : m2[i] == 9002)
			wrong++;
	result("ring_remove_stable", wrong == 0, "%d keys wrong", wrong);
	add(rt, 9002, 1, time(NULL) + 3600);
	map_keys(sv, m2);
	result("ring_readd_same", memcmp(m1, m2, sizeof(m1)) == 0,
	    "keys did not come back");

	/* a fourth joins: keys move only to it, about a quarter */
	b4 = add(rt, 9004, 1, time(NULL) + 3600);
	map_keys(sv, m3);
	for (i = 0, wrong = 0; i < NKEYS; i++) {
		if (m3[i] != m1[i] && m3[i] != 9004)
			wrong++;
		moved += m3[i] != m1[i];
	}
	result("ring_add_stable", b4 != NULL && wrong == 0 && moved > 500 &&
	    moved < 1000, "%d wrong, %d moved", wrong, moved);
	route_unref(rt);

	/* weights 3, 2, 1 on the ring: shares near 3:2:1 */
	sv = pool(&rt, 3, 2, 1, BALANCE_HASH);
	map_keys(sv, m1);
	c1 = map_count(m1, 9001);
	c2 = map_count(m1, 9002);
	c3 = map_count(m1, 9003);
	result("hash_weighted", c1 > 1250 && c1 < 1750 && c2 > 750 &&
	    c2 < 1250 && c3 > 300 && c3 < 700, "%d %d %d", c1, c2, c3);
	route_unref(rt);
}

/* Workers (and porteros) agree: the order backends came in is no matter. */
static void
test_shared(void)
{
	static uint16_t		 m1[NKEYS], m2[NKEYS];
	struct route_table	*r1, *r2;
	struct service		*s1, *s2;
	int64_t			 exp = time(NULL) + 3600;
	int			 same = 1, i;

	s1 = pool(&r1, 1, 1, 1, BALANCE_HASH);
	if ((r2 = route_new()) == NULL || add(r2, 9003, 1, exp) == NULL ||
	    add(r2, 9001, 1, exp) == NULL || add(r2, 9002, 1, exp) == NULL)
		fatalx("out of memory");
	s2 = route_lookup(r2, "api", 3);
	s2->sv_bal.bl_conf = s1->sv_bal.bl_conf;
	map_keys(s1, m1);
	map_keys(s2, m2);
	(void)backend_pick(s2, NULL);
	for (i = 0; i < 3; i++)
		same &= s1->sv_backends[i]->be_sticky ==
		    s2->sv_backends[(i + 1) % 3]->be_sticky;
	result("shared_ring", memcmp(m1, m2, sizeof(m1)) == 0,
	    "two tables disagree");
	result("shared_sticky", same, "sticky ids differ");
	route_unref(r1);
	route_unref(r2);
}

static void
test_hash_keys(void)
{
	static struct http1_request	 req;
	struct route_table		*rt;
	struct service			*sv;
	struct pick_key			 p1, p2, p3;
	const char			*head;
	int				 c[3], r;

	sv = pool(&rt, 1, 1, 1, BALANCE_HASH);
	sv->sv_bal.bl_conf.ba_key = BALANCE_KEY_HEADER;
	(void)strlcpy(sv->sv_bal.bl_conf.ba_keyname, "X-User",
	    sizeof(sv->sv_bal.bl_conf.ba_keyname));
	head = request(&req, "x-user: alice\r\n");
	pick_key_init(&p1, sv, "192.0.2.1", head, &req);
	head = request(&req, "X-Other: 1\r\nX-USER:   alice  \r\n");
	pick_key_init(&p2, sv, "192.0.2.2", head, &req);
	head = request(&req, "X-User: bob\r\n");
	pick_key_init(&p3, sv, "192.0.2.1", head, &req);
	result("hash_header", p1.pk_hashed && p2.pk_hashed &&
	    p1.pk_hash == p2.pk_hash && p1.pk_hash != p3.pk_hash,
	    "header key not read");
	head = request(&req, "X-User:\r\n");
	pick_key_init(&p1, sv, "192.0.2.1", head, &req);
	r = count(sv, &p1, 30, c);
	result("hash_absent_rr", !p1.pk_hashed && r == 0 && c[0] == 10 &&
	    c[1] == 10 && c[2] == 10, "%d %d %d", c[0], c[1], c[2]);

	sv->sv_bal.bl_conf.ba_key = BALANCE_KEY_COOKIE;
	(void)strlcpy(sv->sv_bal.bl_conf.ba_keyname, "uid",
	    sizeof(sv->sv_bal.bl_conf.ba_keyname));
	head = request(&req, "Cookie: a=1; uid=bob; c=3\r\n");
	pick_key_init(&p1, sv, "192.0.2.1", head, &req);
	head = request(&req, "Cookie: xuid=alice;uid=\"bob\"\r\n");
	pick_key_init(&p2, sv, "192.0.2.1", head, &req);
	head = request(&req, "Cookie: a=1\r\nCookie: uid=bob\r\n");
	pick_key_init(&p3, sv, "192.0.2.2", head, &req);
	result("hash_cookie", p1.pk_hashed && p2.pk_hashed &&
	    p3.pk_hashed && p1.pk_hash == p2.pk_hash &&
	    p1.pk_hash == p3.pk_hash, "cookie key not read");
	head = request(&req, "Cookie: uidx=bob; UID=bob\r\n");
	pick_key_init(&p1, sv, "192.0.2.1", head, &req);
	result("hash_cookie_absent", !p1.pk_hashed, "took another cookie");
	route_unref(rt);
}

/* The value of a Set-Cookie "NAME=VALUE; ..." into val (17 bytes). */
static int
cookie_value(const char *sc, size_t len, const char *name, char *val)
{
	size_t	 n = strlen(name);

	if (len < n + 17 || memcmp(sc, name, n) != 0 || sc[n] != '=')
		return (-1);
	memcpy(val, sc + n + 1, 16);
	val[16] = '\0';
	return (0);
}

static void
test_sticky(void)
{
	static struct http1_request	 req;
	struct route_table		*rt;
	struct service			*sv;
	struct backend			*be, *first;
	struct pick_key			 pk;
	const char			*head;
	char				 sc[BALANCE_SETCOOKIE_MAX], val[17];
	char				 fields[128];
	size_t				 n;
	int				 c[3], i, ok, r;

	sv = pool(&rt, 1, 1, 1, BALANCE_ROUNDROBIN);
	sv->sv_bal.bl_conf.ba_sticky = 1;
	(void)strlcpy(sv->sv_bal.bl_conf.ba_cookie, "srv",
	    sizeof(sv->sv_bal.bl_conf.ba_cookie));

	/* no cookie: the mode's choice, and a cookie naming it */
	head = request(&req, "Cookie: other=1\r\n");
	pick_key_init(&pk, sv, "192.0.2.1", head, &req);
	first = backend_pick(sv, &pk);
	n = balance_setcookie(sv, first, &pk, 0, sc, sizeof(sc));
	sc[n] = '\0';
	ok = n > 0 && cookie_value(sc, n, "srv", val) == 0 &&
	    strcmp(sc + 20, "; Path=/; HttpOnly") == 0 &&
	    strstr(sc, "127.0.0.1") == NULL && strstr(sc, "9001") == NULL;
	result("sticky_set", ok, "%s", sc);
	n = balance_setcookie(sv, first, &pk, 1, sc, sizeof(sc));
	sc[n] = '\0';
	result("sticky_secure", n > 0 && strcmp(sc + 20,
	    "; Path=/; HttpOnly; Secure") == 0, "%s", sc);

	/* with it: the same backend every time, and no cookie again */
	(void)snprintf(fields, sizeof(fields), "Cookie: a=b; srv=%s\r\n",
	    val);
	head = request(&req, fields);
	pick_key_init(&pk, sv, "192.0.2.1", head, &req);
	for (i = 0, ok = 1; i < 30; i++)
		ok &= backend_pick(sv, &pk) == first;
	result("sticky_sticks", ok && balance_setcookie(sv, first, &pk, 0,
	    sc, sizeof(sc)) == 0, "moved, or set again");

	/* its backend resting: the mode's choice, and a fresh cookie */
	rest(first, 60);
	be = backend_pick(sv, &pk);
	n = balance_setcookie(sv, be, &pk, 0, sc, sizeof(sc));
	result("sticky_down_falls_back", be != NULL && be != first && n > 0 &&
	    cookie_value(sc, n, "srv", val) == 0 && be->be_sticky ==
	    strtoull(val, NULL, 16), "no fresh cookie");
	up(first);

	/* its backend gone from the pool: the same */
	(void)snprintf(fields, sizeof(fields), "Cookie: srv=%016llx\r\n",
	    (unsigned long long)first->be_sticky);
	del(rt, first);
	head = request(&req, fields);
	pick_key_init(&pk, sv, "192.0.2.1", head, &req);
	r = count(sv, &pk, 30, c);
	result("sticky_unknown_falls_back", r == 0 &&
	    c[0] == 15 && c[1] == 15, "%d %d %d", c[0], c[1], c[2]);

	/* forged or malformed: round robin, and a cookie set */
	head = request(&req, "Cookie: srv=0123456789abcdef\r\n");
	pick_key_init(&pk, sv, "192.0.2.1", head, &req);
	be = backend_pick(sv, &pk);
	result("sticky_forged", be != NULL && balance_setcookie(sv, be, &pk,
	    0, sc, sizeof(sc)) > 0, "no cookie set");
	head = request(&req, "Cookie: srv=../../etc; srv=0123\r\n");
	pick_key_init(&pk, sv, "192.0.2.1", head, &req);
	result("sticky_malformed", pk.pk_sticky == 0 && backend_pick(sv,
	    &pk) != NULL, "took a malformed value");
	route_unref(rt);

	/* over hashing: no cookie, the key decides */
	sv = pool(&rt, 1, 1, 1, BALANCE_HASH);
	sv->sv_bal.bl_conf.ba_sticky = 1;
	(void)strlcpy(sv->sv_bal.bl_conf.ba_cookie, "srv",
	    sizeof(sv->sv_bal.bl_conf.ba_cookie));
	head = request(&req, "");
	pick_key_init(&pk, sv, "192.0.2.7", head, &req);
	first = backend_pick(sv, &pk);
	for (i = 0, ok = 1; i < 10; i++)
		ok &= backend_pick(sv, &pk) == first;
	result("sticky_over_hash", first != NULL && ok, "key not used");
	route_unref(rt);
}

/* A retry never goes back to the backend that just failed. */
static void
test_avoid(void)
{
	struct route_table	*rt;
	struct service		*sv;
	struct pick_key		 pk;
	int			 c[3], mode;

	for (mode = BALANCE_ROUNDROBIN; mode <= BALANCE_HASH; mode++) {
		sv = pool(&rt, 1, 1, 1, mode);
		memset(&pk, 0, sizeof(pk));
		pk.pk_hashed = 1;
		pk.pk_hash = 42;
		pk.pk_avoid = sv->sv_backends[0];
		if (count(sv, &pk, 60, c) == -1 || c[0] != 0) {
			result("retry_avoids_failed", 0, "mode %d: %d %d %d",
			    mode, c[0], c[1], c[2]);
			route_unref(rt);
			return;
		}
		route_unref(rt);
	}
	result("retry_avoids_failed", 1, "");
}

/*
 * A large pool of mixed weights: the turns scaled to fit, every backend
 * in them, a share that follows the weight.
 */
static void
test_large(void)
{
	struct route_table	*rt;
	struct service		*sv;
	struct backend		*be;
	int64_t			 exp = time(NULL) + 3600;
	int			 i, light = 0, heavy = 0, missing = 0;
	static int		 hits[4000];

	if ((rt = route_new()) == NULL)
		fatalx("out of memory");
	for (i = 0; i < 4000; i++)
		if (add(rt, 10000 + i, i % 2 ? 1000 : 1, exp) == NULL)
			fatalx("out of memory");
	sv = route_lookup(rt, "api", 3);
	for (i = 0; i < 2000000; i++) {
		be = backend_pick(sv, NULL);
		hits[be->be_conf.be_port - 10000]++;
	}
	for (i = 0; i < 4000; i++) {
		missing += hits[i] == 0;
		if (i % 2)
			heavy += hits[i];
		else
			light += hits[i];
	}
	result("large_weighted", sv->sv_bal.bl_nsched <= (1 << 20) + 4000 &&
	    missing == 0 && heavy > 400 * light, "%u turns, %d missing, "
	    "heavy %d light %d", sv->sv_bal.bl_nsched, missing, heavy, light);
	route_unref(rt);
}

int
main(void)
{
	test_siphash();
	test_roundrobin();
	test_expired();
	test_probe();
	test_random();
	test_leastconn();
	test_hash();
	test_shared();
	test_hash_keys();
	test_sticky();
	test_avoid();
	test_large();
	return (failures != 0);
}
