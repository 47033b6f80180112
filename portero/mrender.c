/*
 * mrender.c: a scrape's numbers written out: the Prometheus text format
 * (0.0.4) for /metrics, the same families as JSON, and a summary for a
 * person, for "porterod-ctl show stats".
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
 * The families are walked once (mrender_walk) into a sink that writes
 * one format, so /metrics and "show stats -j" cannot disagree.  Values
 * are whole numbers, or microseconds written as seconds, exactly.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portero.h"

struct mlabel {
	const char	*ml_name;
	const char	*ml_value;
};

struct msink {
	struct evbuffer	*mk_out;
	int		 mk_json;
	int		 mk_nfam;	/* families written */
	int		 mk_nsamples;	/* in this family */
	int		 mk_err;
};

static const char *const class_names[MET_CLASSES] = {
	"1xx", "2xx", "3xx", "4xx", "5xx"
};
static const char *const proto_names[MET_PROTOS] = { "h1", "h2" };
static const char *const hs_fail_names[HS_FAIL_MAX] = {
	[HS_FAIL_TIMEOUT] = "timeout",
	[HS_FAIL_CLOSED] = "closed",
	[HS_FAIL_CLIENT_CERT] = "client_certificate",
	[HS_FAIL_PROTOCOL] = "protocol",
};
static const char *const reg_refusal_names[REG_REF_MAX] = {
	[REG_REF_BAD_REQUEST] = "bad_request",
	[REG_REF_UNAUTHORIZED] = "unauthorized",
	[REG_REF_FORBIDDEN] = "forbidden",
	[REG_REF_NOT_FOUND] = "not_found",
	[REG_REF_METHOD] = "method",
	[REG_REF_TOO_LARGE] = "too_large",
	[REG_REF_MEDIA_TYPE] = "media_type",
	[REG_REF_RATE_LIMITED] = "rate_limited",
	[REG_REF_UNAVAILABLE] = "unavailable",
	[REG_REF_FULL] = "full",
	[REG_REF_OTHER] = "other",
};

static void
mk_add(struct msink *mk, const char *s, size_t len)
{
	if (evbuffer_add(mk->mk_out, s, len) == -1)
		mk->mk_err = 1;
}

#define MK_LIT(mk, s)	mk_add((mk), (s), sizeof(s) - 1)

/* A string escaped for a label value, or for JSON: the same set. */
static void
mk_escaped(struct msink *mk, const char *s)
{
	const char	*run = s;
	char		 esc[8];

	for (; *s != '\0'; s++) {
		if (*s != '"' && *s != '\\' && *s != '\n' &&
		    !(mk->mk_json && (unsigned char)*s < 0x20))
			continue;
		mk_add(mk, run, s - run);
		if (*s == '\n')
			MK_LIT(mk, "\\n");
		else if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = *s;
			mk_add(mk, esc, 2);
		} else
			mk_add(mk, esc, snprintf(esc, sizeof(esc), "\\u%04x",
			    (unsigned char)*s));
		run = s + 1;
	}
	mk_add(mk, run, s - run);
}

static void
mk_value(struct msink *mk, uint64_t v, int us)
{
	char	 buf[48];
	int	 n;

	if (us)
		n = snprintf(buf, sizeof(buf), "%llu.%06llu",
		    (unsigned long long)(v / 1000000),
		    (unsigned long long)(v % 1000000));
	else
		n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	mk_add(mk, buf, n);
}

static void
mk_family(struct msink *mk, const char *name, const char *type,
    const char *help)
{
	if (!mk->mk_json) {
		mk_add(mk, "# HELP ", 7);
		mk_add(mk, name, strlen(name));
		mk_add(mk, " ", 1);
		mk_add(mk, help, strlen(help));
		mk_add(mk, "\n# TYPE ", 8);
		mk_add(mk, name, strlen(name));
		mk_add(mk, " ", 1);
		mk_add(mk, type, strlen(type));
		mk_add(mk, "\n", 1);
		return;
	}
	if (mk->mk_nfam > 0)
		MK_LIT(mk, "]},\n");
	MK_LIT(mk, "{\"name\":\"");
	mk_escaped(mk, name);
	MK_LIT(mk, "\",\"type\":\"");
	mk_escaped(mk, type);
	MK_LIT(mk, "\",\"help\":\"");
	mk_escaped(mk, help);
	MK_LIT(mk, "\",\"samples\":[");
	mk->mk_nfam++;
	mk->mk_nsamples = 0;
}

/* name: the family's, and suffix ("_bucket") for a histogram's lines. */
static void
mk_sample(struct msink *mk, const char *name, const char *suffix,
    const struct mlabel *l, int nl, uint64_t v, int us)
{
	int	 i;

	if (mk->mk_json) {
		if (mk->mk_nsamples++ > 0)
			MK_LIT(mk, ",");
		MK_LIT(mk, "\n {\"name\":\"");
		mk_escaped(mk, name);
		mk_escaped(mk, suffix);
		MK_LIT(mk, "\",\"labels\":{");
		for (i = 0; i < nl; i++) {
			if (i > 0)
				MK_LIT(mk, ",");
			MK_LIT(mk, "\"");
			mk_escaped(mk, l[i].ml_name);
			MK_LIT(mk, "\":\"");
			mk_escaped(mk, l[i].ml_value);
			MK_LIT(mk, "\"");
		}
		MK_LIT(mk, "},\"value\":");
		mk_value(mk, v, us);
		MK_LIT(mk, "}");
		return;
	}
	mk_add(mk, name, strlen(name));
	mk_add(mk, suffix, strlen(suffix));
	for (i = 0; i < nl; i++) {
		mk_add(mk, i == 0 ? "{" : ",", 1);
		mk_add(mk, l[i].ml_name, strlen(l[i].ml_name));
		MK_LIT(mk, "=\"");
		mk_escaped(mk, l[i].ml_value);
		MK_LIT(mk, "\"");
	}
	if (nl > 0)
		MK_LIT(mk, "}");
	MK_LIT(mk, " ");
	mk_value(mk, v, us);
	MK_LIT(mk, "\n");
}

/* Microseconds as seconds the way people write them: "0.25", "10". */
static void
mk_seconds(char *buf, size_t size, uint32_t us)
{
	char	*end;

	(void)snprintf(buf, size, "%u.%06u", us / 1000000, us % 1000000);
	end = buf + strlen(buf) - 1;
	while (*end == '0')
		*end-- = '\0';
	if (*end == '.')
		*end = '\0';
}

/* A histogram's lines: cumulative buckets, then its sum and count. */
static void
mk_hist(struct msink *mk, const char *name, struct mlabel *l, int nl,
    const struct met_hist *h)
{
	char		 le[32];
	uint64_t	 n = 0;
	unsigned int	 i;

	l[nl].ml_name = "le";
	l[nl].ml_value = le;
	for (i = 0; i < MET_NBUCKETS; i++) {
		n += h->mh_bucket[i];
		if (i == MET_NBOUNDS)
			(void)strlcpy(le, "+Inf", sizeof(le));
		else
			mk_seconds(le, sizeof(le), met_bounds_us[i]);
		mk_sample(mk, name, "_bucket", l, nl + 1, n, 0);
	}
	mk_sample(mk, name, "_sum", l, nl, h->mh_sum_us, 1);
	mk_sample(mk, name, "_count", l, nl, n, 0);
}

static void
walk_requests(struct msink *mk, const struct metrics_set *set)
{
	struct mset_service	*ss;
	struct mlabel		 l[4];
	unsigned int		 p, c;

	mk_family(mk, "portero_requests_total", "counter", "Requests "
	    "answered, by pool (\"\": none), status class and protocol.");
	RB_FOREACH(ss, mset_services, (struct mset_services *)
	    &set->ms_services) {
		if (!ss->ss_counted)
			continue;
		l[0] = (struct mlabel){ "service", ss->ss_name };
		for (p = 0; p < MET_PROTOS; p++)
			for (c = 0; c < MET_CLASSES; c++) {
				l[1] = (struct mlabel){ "class",
				    class_names[c] };
				l[2] = (struct mlabel){ "proto",
				    proto_names[p] };
				mk_sample(mk, "portero_requests_total", "", l,
				    3, ss->ss_requests[p][c], 0);
			}
	}
	mk_family(mk, "portero_request_duration_seconds", "histogram",
	    "Time from a request's head to the end of its response.");
	RB_FOREACH(ss, mset_services, (struct mset_services *)
	    &set->ms_services) {
		if (!ss->ss_counted)
			continue;
		l[0] = (struct mlabel){ "service", ss->ss_name };
		mk_hist(mk, "portero_request_duration_seconds", l, 1,
		    &ss->ss_duration);
	}
	mk_family(mk, "portero_registered_backends", "gauge",
	    "Backends registered through the registration API, by service.");
	RB_FOREACH(ss, mset_services, (struct mset_services *)
	    &set->ms_services) {
		if (!ss->ss_hasreg)
			continue;
		l[0] = (struct mlabel){ "service", ss->ss_name };
		mk_sample(mk, "portero_registered_backends", "", l, 1,
		    ss->ss_registered, 0);
	}
}

/* A backend's histograms appear once something was counted in them. */
static void
walk_backends(struct msink *mk, const struct metrics_set *set)
{
	struct mset_backends	*bt = (struct mset_backends *)
				    &set->ms_backends;
	struct mset_backend	*sb;
	struct mlabel		 l[3];

#define BE_LABELS(sb)	do {						\
	l[0] = (struct mlabel){ "service", (sb)->sb_service };		\
	l[1] = (struct mlabel){ "backend", (sb)->sb_addr };		\
} while (0)
	mk_family(mk, "portero_upstream_connect_seconds", "histogram",
	    "Time to connect to a backend, TLS handshake included.");
	RB_FOREACH(sb, mset_backends, bt) {
		BE_LABELS(sb);
		if (met_hist_count(&sb->sb_connect) > 0)
			mk_hist(mk, "portero_upstream_connect_seconds", l, 2,
			    &sb->sb_connect);
	}
	mk_family(mk, "portero_upstream_response_seconds", "histogram",
	    "Time from a request's head to its backend's response head.");
	RB_FOREACH(sb, mset_backends, bt) {
		BE_LABELS(sb);
		if (met_hist_count(&sb->sb_response) > 0)
			mk_hist(mk, "portero_upstream_response_seconds", l, 2,
			    &sb->sb_response);
	}
	mk_family(mk, "portero_upstream_errors_total", "counter",
	    "Failed connections and exchanges with a backend.");
	RB_FOREACH(sb, mset_backends, bt) {
		BE_LABELS(sb);
		mk_sample(mk, "portero_upstream_errors_total", "", l, 2,
		    sb->sb_errors, 0);
	}
	mk_family(mk, "portero_backend_up", "gauge",
	    "1 if some worker sends the backend requests, else 0.");
	RB_FOREACH(sb, mset_backends, bt) {
		if (sb->sb_up < 0)
			continue;
		BE_LABELS(sb);
		mk_sample(mk, "portero_backend_up", "", l, 2, sb->sb_up, 0);
	}
#undef BE_LABELS
}

static void
walk_clients(struct msink *mk, const struct metrics_set *set)
{
	const struct met_worker	*mw = &set->ms_worker;
	struct mlabel		 l[1];
	unsigned int		 i;

	mk_family(mk, "portero_client_connections", "gauge",
	    "Client connections open, by protocol.");
	for (i = 0; i < MET_PROTOS; i++) {
		l[0] = (struct mlabel){ "proto", proto_names[i] };
		mk_sample(mk, "portero_client_connections", "", l, 1,
		    mw->mw_connections[i], 0);
	}
	mk_family(mk, "portero_tls_handshakes_total", "counter",
	    "Client TLS handshakes done, full or resumed.");
	l[0] = (struct mlabel){ "kind", "full" };
	mk_sample(mk, "portero_tls_handshakes_total", "", l, 1,
	    mw->mw_handshakes, 0);
	l[0] = (struct mlabel){ "kind", "resumed" };
	mk_sample(mk, "portero_tls_handshakes_total", "", l, 1,
	    mw->mw_resumed, 0);
	mk_family(mk, "portero_tls_handshake_failures_total", "counter",
	    "Client TLS handshakes that failed, by reason.");
	for (i = 0; i < HS_FAIL_MAX; i++) {
		l[0] = (struct mlabel){ "reason", hs_fail_names[i] };
		mk_sample(mk, "portero_tls_handshake_failures_total", "", l,
		    1, mw->mw_hs_failed[i], 0);
	}
	mk_family(mk, "portero_client_received_bytes_total", "counter",
	    "Bytes received from clients (after TLS).");
	mk_sample(mk, "portero_client_received_bytes_total", "", NULL, 0,
	    mw->mw_client_in, 0);
	mk_family(mk, "portero_client_sent_bytes_total", "counter",
	    "Bytes sent to clients (before TLS).");
	mk_sample(mk, "portero_client_sent_bytes_total", "", NULL, 0,
	    mw->mw_client_out, 0);
}

static void
walk_registrar(struct msink *mk, const struct metrics_set *set)
{
	struct mlabel	 l[1];
	unsigned int	 i;

	mk_family(mk, "portero_registrations_total", "counter",
	    "Registrations the registration API took.");
	mk_sample(mk, "portero_registrations_total", "", NULL, 0,
	    set->ms_registrar.mr_registrations, 0);
	mk_family(mk, "portero_registration_refusals_total", "counter",
	    "Requests the registration API refused, by reason.");
	for (i = 0; i < REG_REF_MAX; i++) {
		l[0] = (struct mlabel){ "reason", reg_refusal_names[i] };
		mk_sample(mk, "portero_registration_refusals_total", "", l, 1,
		    set->ms_registrar.mr_refusals[i], 0);
	}
}

static void
walk_processes(struct msink *mk, const struct metrics_set *set)
{
	const struct met_proc	*mp;
	struct mlabel		 l[2];
	char			 id[16];
	uint32_t		 i;

	mk_family(mk, "portero_certificate_expiry_timestamp_seconds",
	    "gauge", "When each certificate in service expires.");
	for (i = 0; i < set->ms_ncerts; i++) {
		l[0] = (struct mlabel){ "name", set->ms_certs[i].mc_name };
		mk_sample(mk, "portero_certificate_expiry_timestamp_seconds",
		    "", l, 1, set->ms_certs[i].mc_not_after < 0 ? 0 :
		    (uint64_t)set->ms_certs[i].mc_not_after, 0);
	}
	mk_family(mk, "portero_child_restarts_total", "counter",
	    "Times the parent restarted a child.");
	for (i = 0; i < set->ms_nprocs; i++) {
		mp = &set->ms_procs[i];
		if (mp->mp_role == PROC_PARENT)
			continue;
		(void)snprintf(id, sizeof(id), "%u", mp->mp_id);
		l[0] = (struct mlabel){ "role", proc_role_name(mp->mp_role) };
		l[1] = (struct mlabel){ "id", id };
		mk_sample(mk, "portero_child_restarts_total", "", l, 2,
		    mp->mp_restarts, 0);
	}
	mk_family(mk, "portero_process_resident_memory_bytes", "gauge",
	    "Resident memory of each running process.");
	for (i = 0; i < set->ms_nprocs; i++) {
		mp = &set->ms_procs[i];
		if (mp->mp_pid == 0 || mp->mp_rss == 0)
			continue;
		(void)snprintf(id, sizeof(id), "%u", mp->mp_id);
		l[0] = (struct mlabel){ "role", proc_role_name(mp->mp_role) };
		l[1] = (struct mlabel){ "id", id };
		mk_sample(mk, "portero_process_resident_memory_bytes", "", l,
		    2, mp->mp_rss, 0);
	}
}

static void
walk_daemon(struct msink *mk, const struct metrics_set *set)
{
	struct mlabel	 l[1];

	mk_family(mk, "portero_access_log_lines_total", "counter",
	    "Access log lines the logger wrote.");
	mk_sample(mk, "portero_access_log_lines_total", "", NULL, 0,
	    set->ms_begin.mb_log_lines, 0);
	mk_family(mk, "portero_access_log_dropped_total", "counter",
	    "Access log lines workers dropped, the logger being behind.");
	mk_sample(mk, "portero_access_log_dropped_total", "", NULL, 0,
	    set->ms_worker.mw_log_dropped, 0);
	mk_family(mk, "portero_config_reloads_total", "counter",
	    "Reloads of the configuration, taken or refused.");
	l[0] = (struct mlabel){ "result", "taken" };
	mk_sample(mk, "portero_config_reloads_total", "", l, 1,
	    set->ms_begin.mb_reloads, 0);
	l[0] = (struct mlabel){ "result", "refused" };
	mk_sample(mk, "portero_config_reloads_total", "", l, 1,
	    set->ms_begin.mb_reloads_refused, 0);
	mk_family(mk, "portero_scrape_missing_processes", "gauge",
	    "Processes that did not answer this scrape in time.");
	mk_sample(mk, "portero_scrape_missing_processes", "", NULL, 0,
	    set->ms_missing, 0);
}

static int
mrender_walk(struct msink *mk, const struct metrics_set *set)
{
	if (mk->mk_json)
		MK_LIT(mk, "{\"metrics\":[\n");
	walk_requests(mk, set);
	walk_backends(mk, set);
	walk_clients(mk, set);
	walk_registrar(mk, set);
	walk_processes(mk, set);
	walk_daemon(mk, set);
	if (mk->mk_json)
		MK_LIT(mk, "]}\n]}\n");
	return (mk->mk_err ? -1 : 0);
}

int
mrender_prometheus(struct evbuffer *out, const struct metrics_set *set)
{
	struct msink	 mk = { .mk_out = out };

	return (mrender_walk(&mk, set));
}

int
mrender_json(struct evbuffer *out, const struct metrics_set *set)
{
	struct msink	 mk = { .mk_out = out, .mk_json = 1 };

	return (mrender_walk(&mk, set));
}
