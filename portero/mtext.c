/*
 * mtext.c: a scrape's numbers as "porterod-ctl show stats" prints them
 * for a person: a table of pools, one of backends, then a line or a
 * short table for each of the rest.
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
#include <sys/tree.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portero.h"

#define OUT(...)	do {						\
	if (evbuffer_add_printf(out, __VA_ARGS__) == -1)		\
		return (-1);						\
} while (0)

/* The mean, in milliseconds, or "-". */
static const char *
hist_mean(const struct met_hist *h, char *buf, size_t size)
{
	uint64_t	 n = met_hist_count(h);

	if (n == 0)
		return ("-");
	(void)snprintf(buf, size, "%.2f", (double)h->mh_sum_us / n / 1000);
	return (buf);
}

static int
text_services(struct evbuffer *out, const struct metrics_set *set)
{
	struct mset_service	*ss;
	uint64_t		 all, h2, byclass[MET_CLASSES];
	unsigned int		 p, c;
	char			 mean[32];

	OUT("Services\n%-24s %10s %8s %8s %8s %8s %8s %8s %9s %10s\n",
	    "POOL",
	    "REQUESTS", "1XX", "2XX", "3XX", "4XX", "5XX", "HTTP/2",
	    "MEAN MS", "REGISTERED");
	RB_FOREACH(ss, mset_services, (struct mset_services *)
	    &set->ms_services) {
		all = h2 = 0;
		memset(byclass, 0, sizeof(byclass));
		for (p = 0; p < MET_PROTOS; p++)
			for (c = 0; c < MET_CLASSES; c++) {
				all += ss->ss_requests[p][c];
				byclass[c] += ss->ss_requests[p][c];
				if (p == 1)
					h2 += ss->ss_requests[p][c];
			}
		OUT("%-24s %10llu %8llu %8llu %8llu %8llu %8llu %8llu %9s ",
		    ss->ss_name[0] != '\0' ? ss->ss_name : "(no pool)",
		    (unsigned long long)all, (unsigned long long)byclass[0],
		    (unsigned long long)byclass[1],
		    (unsigned long long)byclass[2],
		    (unsigned long long)byclass[3],
		    (unsigned long long)byclass[4], (unsigned long long)h2,
		    hist_mean(&ss->ss_duration, mean, sizeof(mean)));
		if (ss->ss_hasreg)
			OUT("%10llu\n", (unsigned long long)ss->ss_registered);
		else
			OUT("%10s\n", "-");
	}
	return (0);
}

static int
text_backends(struct evbuffer *out, const struct metrics_set *set)
{
	struct mset_backend	*sb;
	char			 cmean[32], rmean[32];

	OUT("\nBackends\n%-24s %-28s %-4s %8s %10s %11s %10s %12s\n",
	    "POOL",
	    "BACKEND", "UP", "ERRORS", "CONNECTS", "CONNECT MS",
	    "RESPONSES", "RESPONSE MS");
	RB_FOREACH(sb, mset_backends, (struct mset_backends *)
	    &set->ms_backends)
		OUT("%-24s %-28s %-4s %8llu %10llu %11s %10llu %12s\n",
		    sb->sb_service, sb->sb_addr, sb->sb_up < 0 ? "gone" :
		    sb->sb_up ? "yes" : "no",
		    (unsigned long long)sb->sb_errors,
		    (unsigned long long)met_hist_count(&sb->sb_connect),
		    hist_mean(&sb->sb_connect, cmean, sizeof(cmean)),
		    (unsigned long long)met_hist_count(&sb->sb_response),
		    hist_mean(&sb->sb_response, rmean, sizeof(rmean)));
	return (0);
}

static int
text_clients(struct evbuffer *out, const struct metrics_set *set)
{
	const struct met_worker		*mw = &set->ms_worker;
	const struct met_registrar	*mr = &set->ms_registrar;
	uint64_t			 refused = 0;
	unsigned int			 i;

	OUT("\nConnections from clients: %llu HTTP/1.1, %llu HTTP/2\n",
	    (unsigned long long)mw->mw_connections[0],
	    (unsigned long long)mw->mw_connections[1]);
	OUT("TLS handshakes: %llu full, %llu resumed; failed: %llu timed "
	    "out, %llu closed by the client, %llu client certificate, "
	    "%llu protocol\n", (unsigned long long)mw->mw_handshakes,
	    (unsigned long long)mw->mw_resumed,
	    (unsigned long long)mw->mw_hs_failed[HS_FAIL_TIMEOUT],
	    (unsigned long long)mw->mw_hs_failed[HS_FAIL_CLOSED],
	    (unsigned long long)mw->mw_hs_failed[HS_FAIL_CLIENT_CERT],
	    (unsigned long long)mw->mw_hs_failed[HS_FAIL_PROTOCOL]);
	OUT("Bytes from clients: %llu; to them: %llu\n",
	    (unsigned long long)mw->mw_client_in,
	    (unsigned long long)mw->mw_client_out);
	for (i = 0; i < REG_REF_MAX; i++)
		refused += mr->mr_refusals[i];
	OUT("Registrations: %llu taken, %llu refused\n",
	    (unsigned long long)mr->mr_registrations,
	    (unsigned long long)refused);
	OUT("Access log: %llu lines written, %llu dropped\n",
	    (unsigned long long)set->ms_begin.mb_log_lines,
	    (unsigned long long)mw->mw_log_dropped);
	OUT("Reloads: %u taken, %u refused\n", set->ms_begin.mb_reloads,
	    set->ms_begin.mb_reloads_refused);
	return (0);
}

static int
text_processes(struct evbuffer *out, const struct metrics_set *set)
{
	const struct met_proc	*mp;
	struct tm		 tm;
	time_t			 t;
	char			 when[32];
	uint32_t		 i;

	OUT("\nCertificates\n");
	if (set->ms_ncerts == 0)
		OUT("none\n");
	else
		OUT("%-40s %-20s %9s\n", "NAME", "EXPIRES (UTC)",
		    "DAYS LEFT");
	for (i = 0; i < set->ms_ncerts; i++) {
		t = set->ms_certs[i].mc_not_after;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) == 0)
			(void)strlcpy(when, "?", sizeof(when));
		OUT("%-40s %-20s %9lld\n", set->ms_certs[i].mc_name, when,
		    (long long)(t - set->ms_time) / 86400);
	}
	OUT("\nProcesses\n%-12s %4s %8s %10s %9s\n", "ROLE", "ID", "PID",
	    "RSS KIB",
	    "RESTARTS");
	for (i = 0; i < set->ms_nprocs; i++) {
		mp = &set->ms_procs[i];
		OUT("%-12s %4u %8d %10llu %9u\n", proc_role_name(mp->mp_role),
		    mp->mp_id, mp->mp_pid,
		    (unsigned long long)(mp->mp_rss / 1024), mp->mp_restarts);
	}
	if (set->ms_missing > 0)
		OUT("\n%u processes did not answer in time: their numbers "
		    "are missing\n", set->ms_missing);
	return (0);
}

int
mrender_text(struct evbuffer *out, const struct metrics_set *set)
{
	if (text_services(out, set) == -1 || text_backends(out, set) == -1 ||
	    text_clients(out, set) == -1 || text_processes(out, set) == -1)
		return (-1);
	return (0);
}
