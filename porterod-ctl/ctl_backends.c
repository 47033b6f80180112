/*
 * ctl_backends.c: "porterod-ctl show backends", printed.  The daemon
 * sends its backends ungrouped (those from flags first, then the
 * registry's); they are grouped here by service, in the daemon's order
 * within each.
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

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "portero.h"
#include "porterod-ctl.h"

/* A backend as printed, with its place in the daemon's order. */
struct shown {
	const struct ctl_backend	*sh_cb;
	size_t				 sh_order;
	char				*sh_service;	/* through vis(3) */
	char				*sh_host;
};

static struct shown	*backends_sorted(const struct ctl_listing *);
static void		 backends_free(struct shown *, size_t);
static const char	*backend_state(const struct ctl_backend *);

/* Names terminated and not empty, flags that are flags, a port. */
int
backends_check(const struct ctl_listing *ls)
{
	const struct ctl_backend	*cb;
	size_t				 i;

	for (i = 0; i < ls->ls_nrecs; i++) {
		cb = ls->ls_recs[i].rec_data;
		if (str_check(cb->cb_service, sizeof(cb->cb_service)) == -1 ||
		    str_check(cb->cb_host, sizeof(cb->cb_host)) == -1 ||
		    cb->cb_service[0] == '\0' || cb->cb_host[0] == '\0' ||
		    cb->cb_port == 0 || cb->cb_tls > 1 ||
		    cb->cb_registered > 1 || cb->cb_down > 1 ||
		    cb->cb_expires_in < 0 || cb->cb_health > HEALTH_DOWN ||
		    cb->cb_check_type > CHECK_HTTP || cb->cb_check_ok > 1 ||
		    cb->cb_check_at < 0 ||
		    str_check(cb->cb_check, sizeof(cb->cb_check)) == -1)
			return (-1);
	}
	return (0);
}

static int
shown_cmp(const void *a, const void *b)
{
	const struct shown	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->sh_cb->cb_service, y->sh_cb->cb_service)) != 0)
		return (c);
	return (x->sh_order < y->sh_order ? -1 : x->sh_order > y->sh_order);
}

static struct shown *
backends_sorted(const struct ctl_listing *ls)
{
	struct shown	*sh;
	size_t		 i;

	if ((sh = calloc(ls->ls_nrecs + 1, sizeof(*sh))) == NULL)
		err(1, NULL);
	for (i = 0; i < ls->ls_nrecs; i++) {
		sh[i].sh_cb = ls->ls_recs[i].rec_data;
		sh[i].sh_order = i;
		sh[i].sh_service = ctl_vis(sh[i].sh_cb->cb_service);
		sh[i].sh_host = ctl_vis(sh[i].sh_cb->cb_host);
	}
	qsort(sh, ls->ls_nrecs, sizeof(*sh), shown_cmp);
	return (sh);
}

static void
backends_free(struct shown *sh, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(sh[i].sh_service);
		free(sh[i].sh_host);
	}
	free(sh);
}

/* The last active check: "http 200, 3 ms, 2s ago", or "-". */
static void
backend_last_check(char *buf, size_t len, const struct ctl_backend *cb,
    time_t now)
{
	char	 ago[32], *res;

	if (cb->cb_check_at == 0) {
		(void)strlcpy(buf, "-", len);
		return;
	}
	fmt_duration(ago, sizeof(ago), now > cb->cb_check_at ?
	    (uint64_t)(now - cb->cb_check_at) : 0);
	res = ctl_vis(cb->cb_check);
	(void)snprintf(buf, len, "%s, %u ms, %s ago", res, cb->cb_check_ms,
	    ago);
	free(res);
}

/* A backend no worker reported on (none running) is not known to be up. */
static const char *
backend_state(const struct ctl_backend *cb)
{
	if (cb->cb_workers == 0)
		return ("unknown");
	return (cb->cb_down ? "down" : "up");
}

void
backends_text(const struct ctl_listing *ls)
{
	const struct ctl_backend	*cb;
	struct shown			*sh;
	char				 exp[32], reqs[24], fails[24];
	char				 last[CHECK_RESULT_LEN * 4 + 64];
	time_t				 now = time(NULL);
	size_t				 i, sw = strlen("SERVICE");
	size_t				 hw = strlen("ADDRESS");

	sh = backends_sorted(ls);
	for (i = 0; i < ls->ls_nrecs; i++) {
		if (strlen(sh[i].sh_service) > sw)
			sw = strlen(sh[i].sh_service);
		if (strlen(sh[i].sh_host) > hw)
			hw = strlen(sh[i].sh_host);
	}
	printf("%-*s  %-*s  %-5s  %-3s  %-10s  %-8s  %-8s  %-7s  %-9s  %s\n",
	    (int)sw, "SERVICE", (int)hw, "ADDRESS", "PORT", "TLS",
	    "EXPIRES IN", "REQUESTS", "FAILURES", "STATE", "HEALTH",
	    "LAST CHECK");
	for (i = 0; i < ls->ls_nrecs; i++) {
		cb = sh[i].sh_cb;
		if (cb->cb_registered)
			fmt_duration(exp, sizeof(exp), cb->cb_expires_in);
		else
			(void)strlcpy(exp, "-", sizeof(exp));
		if (cb->cb_workers == 0) {
			(void)strlcpy(reqs, "-", sizeof(reqs));
			(void)strlcpy(fails, "-", sizeof(fails));
		} else {
			snprintf(reqs, sizeof(reqs), "%" PRIu64,
			    cb->cb_requests);
			snprintf(fails, sizeof(fails), "%" PRIu64,
			    cb->cb_failures);
		}
		backend_last_check(last, sizeof(last), cb, now);
		printf("%-*s  %-*s  %-5u  %-3s  %-10s  %-8s  %-8s  %-7s  %-9s  "
		    "%s\n", (int)sw, sh[i].sh_service, (int)hw, sh[i].sh_host,
		    cb->cb_port, cb->cb_tls ? "yes" : "no", exp, reqs, fails,
		    backend_state(cb), cb->cb_health == HEALTH_UNCHECKED ? "-" :
		    health_state_name(cb->cb_health), last);
	}
	backends_free(sh, ls->ls_nrecs);
}

static void
backend_json(struct json *js, const struct shown *sh)
{
	const struct ctl_backend	*cb = sh->sh_cb;

	json_check(js, yajl_gen_map_open(js->js_gen));
	json_str(js, "host", sh->sh_host);
	json_uint(js, "port", cb->cb_port);
	json_key(js, "tls");
	json_check(js, yajl_gen_bool(js->js_gen, cb->cb_tls));
	if (cb->cb_registered)
		json_uint(js, "expires_in", (uint64_t)cb->cb_expires_in);
	else {
		json_key(js, "expires_in");
		json_check(js, yajl_gen_null(js->js_gen));
	}
	json_str(js, "state", backend_state(cb));
	if (cb->cb_workers != 0) {
		json_uint(js, "requests", cb->cb_requests);
		json_uint(js, "failures", cb->cb_failures);
	} else {
		json_key(js, "requests");
		json_check(js, yajl_gen_null(js->js_gen));
		json_key(js, "failures");
		json_check(js, yajl_gen_null(js->js_gen));
	}
	json_str(js, "health", health_state_name(cb->cb_health));
	json_key(js, "check");
	if (cb->cb_check_at == 0) {
		json_check(js, yajl_gen_null(js->js_gen));
		json_check(js, yajl_gen_map_close(js->js_gen));
		return;
	}
	json_check(js, yajl_gen_map_open(js->js_gen));
	json_str(js, "type", check_type_name(cb->cb_check_type));
	json_key(js, "ok");
	json_check(js, yajl_gen_bool(js->js_gen, cb->cb_check_ok));
	json_vis(js, "result", cb->cb_check);
	json_uint(js, "ms", cb->cb_check_ms);
	json_uint(js, "at", (uint64_t)cb->cb_check_at);
	json_check(js, yajl_gen_map_close(js->js_gen));
	json_check(js, yajl_gen_map_close(js->js_gen));
}

void
backends_json(struct json *js, const struct ctl_listing *ls)
{
	struct shown	*sh;
	size_t		 i;

	sh = backends_sorted(ls);
	json_check(js, yajl_gen_map_open(js->js_gen));
	json_key(js, "services");
	json_check(js, yajl_gen_array_open(js->js_gen));
	for (i = 0; i < ls->ls_nrecs; i++) {
		if (i == 0 || strcmp(sh[i].sh_cb->cb_service,
		    sh[i - 1].sh_cb->cb_service) != 0) {
			if (i != 0) {
				json_check(js, yajl_gen_array_close(
				    js->js_gen));
				json_check(js, yajl_gen_map_close(js->js_gen));
			}
			json_check(js, yajl_gen_map_open(js->js_gen));
			json_str(js, "name", sh[i].sh_service);
			json_key(js, "backends");
			json_check(js, yajl_gen_array_open(js->js_gen));
		}
		backend_json(js, &sh[i]);
	}
	if (ls->ls_nrecs > 0) {
		json_check(js, yajl_gen_array_close(js->js_gen));
		json_check(js, yajl_gen_map_close(js->js_gen));
	}
	json_check(js, yajl_gen_array_close(js->js_gen));
	json_check(js, yajl_gen_map_close(js->js_gen));
	backends_free(sh, ls->ls_nrecs);
}
