/*
 * confset.c: the servers, locations, header operations, pools and
 * backends of a configuration: how a set grows, is checked and freed.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

struct conf_set *
confset_new(void)
{
	return (calloc(1, sizeof(struct conf_set)));
}

static void
confset_location_clear(struct location *lo)
{
	free(lo->lo_path);
	free(lo->lo_pool);
	free(lo->lo_target);
	free(lo->lo_strip);
	free(lo->lo_prefix);
	free(lo->lo_ops);
	memset(lo, 0, sizeof(*lo));
}

void
confset_free(struct conf_set *set)
{
	uint32_t	 i;

	if (set == NULL)
		return;
	for (i = 0; i < set->cs_nlocations; i++)
		confset_location_clear(&set->cs_locations[i]);
	for (i = 0; i < set->cs_nheaders; i++) {
		free(set->cs_headers[i].ho_name);
		free(set->cs_headers[i].ho_value);
	}
	free(set->cs_servers);
	free(set->cs_names);
	free(set->cs_locations);
	free(set->cs_headers);
	free(set->cs_pools);
	free(set->cs_backends);
	clientca_free(set->cs_clientca);
	poolca_free(set->cs_poolca);
	poolcert_free(set->cs_poolcert);
	free(set->cs_nets);
	free(set);
}

/*
 * One more zeroed element at the end of an array of n (capacity *cap)
 * elements of size bytes; NULL when out of memory or past the bound.
 */
static void *
confset_grow(void *arrayp, uint32_t *n, uint32_t *cap, size_t size)
{
	void	**array = arrayp;
	void	 *na;
	uint32_t  ncap;

	if (*n >= CONF_OBJECTS_MAX)
		return (NULL);
	if (*n == *cap) {
		ncap = *cap < 8 ? 8 : *cap * 2;
		if ((na = reallocarray(*array, ncap, size)) == NULL)
			return (NULL);
		*array = na;
		*cap = ncap;
	}
	na = (char *)*array + (size_t)(*n)++ * size;
	memset(na, 0, size);
	return (na);
}

struct server_conf *
confset_add_server(struct conf_set *set)
{
	return (confset_grow(&set->cs_servers, &set->cs_nservers,
	    &set->cs_capservers, sizeof(*set->cs_servers)));
}

struct server_name *
confset_add_name(struct conf_set *set)
{
	return (confset_grow(&set->cs_names, &set->cs_nnames,
	    &set->cs_capnames, sizeof(*set->cs_names)));
}

struct location *
confset_add_location(struct conf_set *set)
{
	return (confset_grow(&set->cs_locations, &set->cs_nlocations,
	    &set->cs_caplocations, sizeof(*set->cs_locations)));
}

struct header_op *
confset_add_header(struct conf_set *set)
{
	return (confset_grow(&set->cs_headers, &set->cs_nheaders,
	    &set->cs_capheaders, sizeof(*set->cs_headers)));
}

struct backend_conf *
confset_add_backend(struct conf_set *set)
{
	return (confset_grow(&set->cs_backends, &set->cs_nbackends,
	    &set->cs_capbackends, sizeof(*set->cs_backends)));
}

struct net_conf *
confset_add_net(struct conf_set *set)
{
	return (confset_grow(&set->cs_nets, &set->cs_nnets,
	    &set->cs_capnets, sizeof(*set->cs_nets)));
}

struct pool_conf *
confset_pool(struct conf_set *set, const char *name)
{
	uint32_t	 i;

	for (i = 0; i < set->cs_npools; i++)
		if (strcmp(set->cs_pools[i].pl_name, name) == 0)
			return (&set->cs_pools[i]);
	return (NULL);
}

/* One more pool, as it comes off the wire. */
struct pool_conf *
confset_next_pool(struct conf_set *set)
{
	return (confset_grow(&set->cs_pools, &set->cs_npools,
	    &set->cs_cappools, sizeof(*set->cs_pools)));
}

/* The pool called name, made (undeclared) if there is none yet. */
struct pool_conf *
confset_add_pool(struct conf_set *set, const char *name)
{
	struct pool_conf	*pl;

	if ((pl = confset_pool(set, name)) != NULL)
		return (pl);
	if ((pl = confset_next_pool(set)) == NULL)
		return (NULL);
	if (strlcpy(pl->pl_name, name, sizeof(pl->pl_name)) >=
	    sizeof(pl->pl_name)) {
		set->cs_npools--;
		return (NULL);
	}
	return (pl);
}

static int
confset_name_cmp(const void *a, const void *b)
{
	const struct server_name *const	*na = a, *const *nb = b;
	int				 c;

	if ((c = strcmp((*na)->sn_name, (*nb)->sn_name)) != 0)
		return (c);
	return ((*na)->sn_line - (*nb)->sn_line);
}

/* A name said twice, reported where it is said again. */
static int
confset_check_names(struct conf_set *set, const char *file)
{
	struct server_name	**byname;
	uint32_t		 i;
	int			 errors = 0;

	if (set->cs_nnames == 0)
		return (0);
	if ((byname = reallocarray(NULL, set->cs_nnames,
	    sizeof(*byname))) == NULL) {
		log_warn("%s", file);
		return (1);
	}
	for (i = 0; i < set->cs_nnames; i++)
		byname[i] = &set->cs_names[i];
	qsort(byname, set->cs_nnames, sizeof(*byname), confset_name_cmp);
	for (i = 1; i < set->cs_nnames; i++)
		if (strcmp(byname[i]->sn_name, byname[i - 1]->sn_name) == 0) {
			log_warnx("%s:%d: \"%s\" already names server "
			    "\"%s\"", file, byname[i]->sn_line,
			    byname[i]->sn_name, set->cs_servers[
			    byname[i - 1]->sn_server].sc_name);
			errors++;
		}
	free(byname);
	return (errors);
}

static int
confset_location_cmp(const void *a, const void *b)
{
	const struct location *const	*la = a, *const *lb = b;
	int				 c;

	if ((*la)->lo_server != (*lb)->lo_server)
		return ((*la)->lo_server < (*lb)->lo_server ? -1 : 1);
	if ((*la)->lo_match != (*lb)->lo_match)
		return ((*la)->lo_match - (*lb)->lo_match);
	if ((c = strcmp((*la)->lo_path, (*lb)->lo_path)) != 0)
		return (c);
	return ((*la)->lo_line - (*lb)->lo_line);
}

/* A location said twice in a server, reported where it is said again. */
static int
confset_check_locations(struct conf_set *set, const char *file)
{
	struct location	**los, *lo, *prev;
	uint32_t	  i;
	int		  errors = 0;

	if (set->cs_nlocations == 0)
		return (0);
	if ((los = reallocarray(NULL, set->cs_nlocations,
	    sizeof(*los))) == NULL) {
		log_warn("%s", file);
		return (1);
	}
	for (i = 0; i < set->cs_nlocations; i++)
		los[i] = &set->cs_locations[i];
	qsort(los, set->cs_nlocations, sizeof(*los), confset_location_cmp);
	for (i = 1; i < set->cs_nlocations; i++) {
		lo = los[i];
		prev = los[i - 1];
		if (lo->lo_server != prev->lo_server ||
		    lo->lo_match != prev->lo_match || lo->lo_path[0] == '\0' ||
		    strcmp(lo->lo_path, prev->lo_path) != 0)
			continue;
		log_warnx("%s:%d: location \"%s%s\": already in server \"%s\" "
		    "on line %d", file, lo->lo_line, lo->lo_path,
		    lo->lo_match == LOC_PREFIX ? "*" : "",
		    set->cs_servers[lo->lo_server].sc_name, prev->lo_line);
		errors++;
	}
	free(los);
	return (errors);
}

/*
 * What the grammar cannot see line by line: every pool a location
 * forwards to exists, one default server at most, no name and no
 * location of a server twice.  Each
 * problem is reported with the line it comes from; returns the number
 * of problems.
 */
int
confset_check(struct conf_set *set, const char *file)
{
	struct location		*lo;
	struct pool_conf	*pl;
	uint32_t		 i, ndefault = 0;
	int			 errors = 0;

	for (i = 0; i < set->cs_nlocations; i++) {
		lo = &set->cs_locations[i];
		if (lo->lo_action != LOC_FORWARD)
			continue;
		if ((pl = confset_pool(set, lo->lo_pool)) == NULL) {
			log_warnx("%s:%d: forward to \"%s\": no such pool",
			    file, lo->lo_line, lo->lo_pool);
			errors++;
		} else
			pl->pl_flags |= POOL_USED;
	}
	for (i = 0; i < set->cs_nservers; i++)
		if ((set->cs_servers[i].sc_flags & SERVER_DEFAULT) &&
		    ndefault++ > 0) {
			log_warnx("%s:%d: server \"%s\": a second default "
			    "server", file, set->cs_servers[i].sc_line,
			    set->cs_servers[i].sc_name);
			errors++;
		}
	return (errors + confset_check_names(set, file) +
	    confset_check_locations(set, file) + clientca_check(set, file));
}

/*
 * The macros of field values and redirect targets, filled per request
 * (server.c, macro_expand): "$REMOTE_ADDR" and the like; "$$" is a '$'.
 * In the order of enum macro.
 */
static const struct {
	const char	*m_name;
	size_t		 m_len;
} macros[MACRO_COUNT] = {
	{ "REMOTE_ADDR", 11 },
	{ "HOST", 4 },
	{ "SERVER_NAME", 11 },
	{ "REQUEST_URI", 11 },
};

/* Which macro s (just past a '$') starts with, its length in *len. */
int
macro_at(const char *s, size_t *len)
{
	size_t	 n = 0;
	int	 i;

	while ((s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_')
		n++;
	for (i = 0; i < MACRO_COUNT; i++)
		if (n == macros[i].m_len &&
		    memcmp(s, macros[i].m_name, n) == 0) {
			*len = n;
			return (i);
		}
	return (-1);
}

/* Whether every '$' of s starts a macro or "$$"; *bad where one does not. */
int
macro_check(const char *s, const char **bad)
{
	size_t	 len;

	for (; (s = strchr(s, '$')) != NULL; s += 1 + len) {
		len = 1;
		if (s[1] == '$')
			continue;
		if (macro_at(s + 1, &len) == -1) {
			*bad = s;
			return (-1);
		}
	}
	return (0);
}
