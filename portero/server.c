/*
 * server.c: servers as a worker routes to them: by Host (a hash of
 * names, one-label wildcards, a default), then by path (exact, then the
 * longest prefix) on the path made plain; the macros of values.
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
 * Cost.  A server is found with one or two probes of an open-addressed
 * hash of its names, whatever their number.  A server's prefixes are
 * sorted, each knowing the longest other prefix of it (its parent): the
 * longest prefix of a path is the greatest prefix not above it, or one
 * of that one's parents, so a lookup is a binary search and a walk no
 * longer than the nesting of the prefixes.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"
#include "http1.h"

static uint32_t
server_hash(const char *name, size_t len)
{
	uint32_t	 h = 2166136261U;
	size_t		 i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619U;
	return (h);
}

/* Compare a path of len bytes with a location's path, as strings. */
static int
server_pathcmp(const char *path, size_t len, const struct location *lo)
{
	size_t	 n = len < lo->lo_pathlen ? len : lo->lo_pathlen;
	int	 c;

	if ((c = memcmp(path, lo->lo_path, n)) != 0)
		return (c);
	return (len < lo->lo_pathlen ? -1 : len > lo->lo_pathlen);
}

static int
server_locationcmp(const void *a, const void *b)
{
	const struct location *const	*la = a, *const *lb = b;

	return (server_pathcmp((*la)->lo_path, (*la)->lo_pathlen, *lb));
}

/*
 * The parent of each sorted prefix: the nearest one before it that is a
 * prefix of it.  Sorted order puts a prefix before all that extend it,
 * so a stack of the ones still open finds each.
 */
static int
server_parents(struct vserver *vs)
{
	uint32_t	*stack, depth = 0, i;
	struct location	*lo, *top;

	if (vs->vs_nprefix == 0)
		return (0);
	if ((vs->vs_parent = reallocarray(NULL, vs->vs_nprefix,
	    sizeof(*vs->vs_parent))) == NULL ||
	    (stack = reallocarray(NULL, vs->vs_nprefix,
	    sizeof(*stack))) == NULL)
		return (-1);
	for (i = 0; i < vs->vs_nprefix; i++) {
		lo = vs->vs_prefix[i];
		while (depth > 0) {
			top = vs->vs_prefix[stack[depth - 1]];
			if (top->lo_pathlen <= lo->lo_pathlen &&
			    memcmp(top->lo_path, lo->lo_path,
			    top->lo_pathlen) == 0)
				break;
			depth--;
		}
		vs->vs_parent[i] = depth > 0 ? stack[depth - 1] : CONF_NONE;
		stack[depth++] = i;
	}
	free(stack);
	return (0);
}

/*
 * The header operations grouped by server, in the file's order within
 * each (a counting sort): the operations of server i are
 * ops[start[i]] to ops[start[i + 1] - 1].  So a location looks at its
 * server's operations only, not at the whole file's.
 */
static int
server_ops_by_server(const struct conf_set *set, struct header_op ***opsp,
    uint32_t **startp)
{
	struct header_op	**ops;
	uint32_t		 *start, i, *next;

	*opsp = NULL;
	if ((start = calloc(set->cs_nservers + 1, sizeof(*start))) == NULL)
		return (-1);
	*startp = start;
	if (set->cs_nheaders == 0)
		return (0);
	if ((ops = reallocarray(NULL, set->cs_nheaders, sizeof(*ops))) ==
	    NULL || (next = calloc(set->cs_nservers, sizeof(*next))) == NULL) {
		free(ops);
		free(start);
		return (-1);
	}
	for (i = 0; i < set->cs_nheaders; i++)
		start[set->cs_headers[i].ho_server + 1]++;
	for (i = 0; i < set->cs_nservers; i++)
		start[i + 1] += start[i];
	for (i = 0; i < set->cs_nheaders; i++)
		ops[start[set->cs_headers[i].ho_server] +
		    next[set->cs_headers[i].ho_server]++] = &set->cs_headers[i];
	free(next);
	*opsp = ops;
	return (0);
}

/*
 * A location's header operations, from its server's (ops, n of them):
 * the server's own first, then the location's.
 */
static int
server_location_ops(struct location *lo, uint32_t loidx,
    struct header_op **ops, uint32_t n)
{
	uint32_t	 i, want = 0;

	for (i = 0; i < n; i++)
		if (ops[i]->ho_location == CONF_NONE ||
		    ops[i]->ho_location == loidx)
			want++;
	if (want == 0)
		return (0);
	if ((lo->lo_ops = reallocarray(NULL, want,
	    sizeof(*lo->lo_ops))) == NULL)
		return (-1);
	for (i = 0; i < n; i++)
		if (ops[i]->ho_location == CONF_NONE)
			lo->lo_ops[lo->lo_nops++] = ops[i];
	for (i = 0; i < n; i++)
		if (ops[i]->ho_location == loidx)
			lo->lo_ops[lo->lo_nops++] = ops[i];
	return (0);
}

/* Each location into its server's arrays: counted, then placed. */
static int
server_place(struct route_table *rt)
{
	struct conf_set		*set = rt->rt_set;
	struct vserver		*vs;
	struct location		*lo;
	struct header_op	**ops;
	uint32_t		 i, *start;
	int			 ret = 0;

	if (server_ops_by_server(set, &ops, &start) == -1)
		return (-1);
	for (i = 0; i < set->cs_nlocations && ret == 0; i++) {
		lo = &set->cs_locations[i];
		vs = &rt->rt_servers[lo->lo_server];
		if (lo->lo_path[0] == '\0')
			vs->vs_root = lo;
		else if (lo->lo_match == LOC_EXACT)
			vs->vs_nexact++;
		else
			vs->vs_nprefix++;
		if (ops != NULL)
			ret = server_location_ops(lo, i,
			    ops + start[lo->lo_server],
			    start[lo->lo_server + 1] - start[lo->lo_server]);
	}
	free(ops);
	free(start);
	if (ret == -1)
		return (-1);
	for (i = 0; i < set->cs_nservers; i++) {
		vs = &rt->rt_servers[i];
		vs->vs_conf = &set->cs_servers[i];
		if (vs->vs_root == NULL)
			return (-1);
		if ((vs->vs_nexact > 0 && (vs->vs_exact = reallocarray(NULL,
		    vs->vs_nexact, sizeof(*vs->vs_exact))) == NULL) ||
		    (vs->vs_nprefix > 0 && (vs->vs_prefix = reallocarray(NULL,
		    vs->vs_nprefix, sizeof(*vs->vs_prefix))) == NULL))
			return (-1);
		vs->vs_nexact = vs->vs_nprefix = 0;
	}
	for (i = 0; i < set->cs_nlocations; i++) {
		lo = &set->cs_locations[i];
		vs = &rt->rt_servers[lo->lo_server];
		if (lo->lo_path[0] == '\0')
			continue;
		if (lo->lo_match == LOC_EXACT)
			vs->vs_exact[vs->vs_nexact++] = lo;
		else
			vs->vs_prefix[vs->vs_nprefix++] = lo;
	}
	return (0);
}

/* The hash of names: twice as many slots as names, a power of two. */
static int
server_names(struct route_table *rt)
{
	struct conf_set	*set = rt->rt_set;
	const char	*name;
	uint32_t	 i, slot, size = 16;

	while (size < set->cs_nnames * 2)
		size *= 2;
	if ((rt->rt_names = calloc(size, sizeof(*rt->rt_names))) == NULL)
		return (-1);
	rt->rt_namemask = size - 1;
	for (i = 0; i < set->cs_nnames; i++) {
		name = set->cs_names[i].sn_name;
		slot = server_hash(name, strlen(name)) & rt->rt_namemask;
		while (rt->rt_names[slot] != 0)
			slot = (slot + 1) & rt->rt_namemask;
		rt->rt_names[slot] = i + 1;
	}
	return (0);
}

/*
 * The servers of rt's set, their locations sorted and pointing at their
 * pools, which route.c has made.  -1 when out of memory.
 */
int
server_build(struct route_table *rt)
{
	struct conf_set	*set = rt->rt_set;
	struct vserver	*vs;
	struct location	*lo;
	uint32_t	 i;

	if (set->cs_nservers == 0)
		return (0);
	if ((rt->rt_servers = calloc(set->cs_nservers,
	    sizeof(*rt->rt_servers))) == NULL)
		return (-1);
	rt->rt_nservers = set->cs_nservers;
	if (server_place(rt) == -1 || server_names(rt) == -1)
		return (-1);
	for (i = 0; i < set->cs_nlocations; i++) {
		lo = &set->cs_locations[i];
		if (lo->lo_action == LOC_FORWARD && (lo->lo_sv =
		    route_lookup(rt, lo->lo_pool, strlen(lo->lo_pool))) == NULL)
			return (-1);
	}
	for (i = 0; i < rt->rt_nservers; i++) {
		vs = &rt->rt_servers[i];
		qsort(vs->vs_exact, vs->vs_nexact, sizeof(*vs->vs_exact),
		    server_locationcmp);
		qsort(vs->vs_prefix, vs->vs_nprefix, sizeof(*vs->vs_prefix),
		    server_locationcmp);
		if (server_parents(vs) == -1 || mtls_build(rt, vs) == -1)
			return (-1);
		if (vs->vs_conf->sc_flags & SERVER_DEFAULT)
			rt->rt_default = vs;
	}
	return (0);
}

void
server_free(struct route_table *rt)
{
	uint32_t	 i;

	for (i = 0; i < rt->rt_nservers; i++) {
		free(rt->rt_servers[i].vs_exact);
		free(rt->rt_servers[i].vs_prefix);
		free(rt->rt_servers[i].vs_parent);
	}
	free(rt->rt_servers);
	free(rt->rt_names);
	mtls_table_free(rt);
	confset_free(rt->rt_set);
}

static struct vserver *
server_probe(struct route_table *rt, const char *name, size_t len)
{
	const struct server_name	*sn;
	uint32_t			 slot, idx;

	slot = server_hash(name, len) & rt->rt_namemask;
	while ((idx = rt->rt_names[slot]) != 0) {
		sn = &rt->rt_set->cs_names[idx - 1];
		if (strncmp(sn->sn_name, name, len) == 0 &&
		    sn->sn_name[len] == '\0')
			return (&rt->rt_servers[sn->sn_server]);
		slot = (slot + 1) & rt->rt_namemask;
	}
	return (NULL);
}

/*
 * The server named host (lower case, no port): by its name or an alias,
 * else by a "*." name one label up.  NULL when none is.
 */
struct vserver *
server_lookup(struct route_table *rt, const char *host, size_t len)
{
	struct vserver	*vs;
	const char	*dot;
	char		 wild[NAME_MAX_LEN + 2];

	if (rt->rt_nservers == 0 || len == 0)
		return (NULL);
	if ((vs = server_probe(rt, host, len)) != NULL)
		return (vs);
	if ((dot = memchr(host, '.', len)) == NULL || dot == host ||
	    (size_t)(host + len - dot) + 1 >= sizeof(wild))
		return (NULL);
	wild[0] = '*';
	memcpy(wild + 1, dot, host + len - dot);
	return (server_probe(rt, wild, host + len - dot + 1));
}

/*
 * The location of vs that takes path (made plain, len bytes): an exact
 * one, else the longest prefix, else the server's own.
 */
struct location *
server_location(const struct vserver *vs, const char *path, size_t len)
{
	struct location	*lo;
	size_t		 lo_i, hi, mid;
	uint32_t	 i;
	int		 c;

	lo_i = 0;
	hi = vs->vs_nexact;
	while (lo_i < hi) {
		mid = (lo_i + hi) / 2;
		if ((c = server_pathcmp(path, len, vs->vs_exact[mid])) == 0)
			return (vs->vs_exact[mid]);
		if (c < 0)
			hi = mid;
		else
			lo_i = mid + 1;
	}
	/* the greatest prefix not above path: lo_i ends just past it */
	lo_i = 0;
	hi = vs->vs_nprefix;
	while (lo_i < hi) {
		mid = (lo_i + hi) / 2;
		if (server_pathcmp(path, len, vs->vs_prefix[mid]) < 0)
			hi = mid;
		else
			lo_i = mid + 1;
	}
	for (i = lo_i > 0 ? lo_i - 1 : CONF_NONE; i != CONF_NONE;
	    i = vs->vs_parent[i]) {
		lo = vs->vs_prefix[i];
		if (lo->lo_pathlen <= len &&
		    memcmp(lo->lo_path, path, lo->lo_pathlen) == 0)
			return (lo);
	}
	return (vs->vs_root);
}

static int
server_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/*
 * RFC 3986 5.2.4 in place, on a path with no empty segments but maybe a
 * last one: "." goes, ".." takes the segment before it with it.  The
 * new length, or -1 when ".." would climb above the root.
 */
static ssize_t
server_dots(char *p, size_t n)
{
	size_t	 i = 0, j, w = 0, seg;

	while (i < n) {
		for (j = i + 1; j < n && p[j] != '/'; j++)
			;	/* nothing */
		seg = j - i - 1;
		if (seg == 1 && p[i + 1] == '.') {
			if (j == n)
				p[w++] = '/';
		} else if (seg == 2 && p[i + 1] == '.' && p[i + 2] == '.') {
			if (w == 0)
				return (-1);
			while (w > 0 && p[w - 1] != '/')
				w--;
			if (w > 0 && j < n)
				w--;	/* the '/' comes with what follows */
		} else {
			memmove(p + w, p + i, j - i);
			w += j - i;
		}
		i = j;
	}
	if (w == 0)
		p[w++] = '/';
	p[w] = '\0';
	return (w);
}

/*
 * The path of a request target (up to '?') made plain for matching, as
 * RFC 3986 6.2.2 has it: escapes of unreserved characters decoded, the
 * others in upper case, "." and ".." segments resolved, runs of '/' made
 * one.  Into out (size bytes); its length, or -1 for a path no server
 * can mean (a bad escape, ".." above the root, too long).
 */
ssize_t
server_path_plain(const char *path, size_t len, char *out, size_t size)
{
	size_t	 i, o = 0;
	int	 c, hi, lo;

	if (len == 0 || path[0] != '/')
		return (-1);
	for (i = 0; i < len && path[i] != '?'; i++) {
		c = (unsigned char)path[i];
		if (c == '%') {
			if (i + 2 >= len || (hi = server_hexval(path[i + 1])) ==
			    -1 || (lo = server_hexval(path[i + 2])) == -1)
				return (-1);
			c = hi * 16 + lo;
			i += 2;
			if (!isalnum(c) && c != '-' && c != '.' && c != '_' &&
			    c != '~') {
				if (o + 4 > size)
					return (-1);
				(void)snprintf(out + o, 4, "%%%02X", c);
				o += 3;
				continue;
			}
		}
		if (c == '/' && o > 0 && out[o - 1] == '/')
			continue;
		if (o + 2 > size)
			return (-1);
		out[o++] = c;
	}
	out[o] = '\0';
	return (server_dots(out, o));
}

/* s with its macros filled from me, appended to b. */
int
macro_expand(struct buf *b, const char *s, const struct macro_env *me)
{
	const char	*d, *val[MACRO_COUNT];
	size_t		 vlen[MACRO_COUNT], len;
	int		 m;

	val[MACRO_REMOTE_ADDR] = me->me_addr;
	vlen[MACRO_REMOTE_ADDR] = strlen(me->me_addr);
	val[MACRO_HOST] = me->me_host;
	vlen[MACRO_HOST] = strlen(me->me_host);
	val[MACRO_SERVER_NAME] = me->me_server;
	vlen[MACRO_SERVER_NAME] = strlen(me->me_server);
	val[MACRO_REQUEST_URI] = me->me_uri;
	vlen[MACRO_REQUEST_URI] = me->me_urilen;
	while ((d = strchr(s, '$')) != NULL) {
		if (buf_append(b, s, d - s) == -1)
			return (-1);
		if (d[1] == '$') {
			if (buf_append(b, "$", 1) == -1)
				return (-1);
			s = d + 2;
			continue;
		}
		if ((m = macro_at(d + 1, &len)) == -1)
			return (-1);	/* the parser let none through */
		if (buf_append(b, val[m], vlen[m]) == -1)
			return (-1);
		s = d + 1 + len;
	}
	return (buf_append(b, s, strlen(s)));
}
