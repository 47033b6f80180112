/*
 * names.c: what the processes and porterod-ctl share by name: roles and
 * child states as logs, ps and the control tool show them, access log
 * formats, and the table of messages, checked before any dispatch.
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

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "portero.h"

static const char *const proc_role_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_CERTLOADER] = "certloader",
	[PROC_REGISTRAR] = "registrar",
	[PROC_WORKER] = "worker",
	[PROC_HEALTH] = "health",
	[PROC_LOGGER] = "logger",
	[PROC_METRICS] = "metrics",
};

static const char *const log_format_names[] = {
	[LOG_FORMAT_COMBINED] = "combined",
	[LOG_FORMAT_JSON] = "json",
	[LOG_FORMAT_LTSV] = "ltsv",
};

static const char *const child_state_names[] = {
	[CHILD_STARTING] = "starting",
	[CHILD_RUNNING] = "running",
	[CHILD_STOPPING] = "stopping",
	[CHILD_DEAD] = "dead",
};

static const char *const check_type_names[] = {
	[CHECK_NONE] = "none",
	[CHECK_TCP] = "tcp",
	[CHECK_TLS] = "tls",
	[CHECK_HTTP] = "http",
};

static const char *const health_state_names[] = {
	[HEALTH_UNCHECKED] = "unchecked",
	[HEALTH_PENDING] = "pending",
	[HEALTH_UP] = "up",
	[HEALTH_DOWN] = "down",
};

const char *
check_type_name(unsigned int type)
{
	if (type > CHECK_HTTP)
		return ("unknown");
	return (check_type_names[type]);
}

const char *
health_state_name(unsigned int state)
{
	if (state > HEALTH_DOWN)
		return ("unknown");
	return (health_state_names[state]);
}

const char *
proc_role_name(enum proc_role role)
{
	if ((unsigned int)role >= PROC_MAX)
		return ("unknown");
	return (proc_role_names[role]);
}

int
proc_role_parse(const char *name, enum proc_role *role)
{
	int	 i;

	for (i = PROC_CERTLOADER; i < PROC_MAX; i++)
		if (strcmp(name, proc_role_names[i]) == 0) {
			*role = i;
			return (0);
		}
	return (-1);
}

const char *
child_state_name(enum child_state state)
{
	if ((unsigned int)state > CHILD_DEAD)
		return ("unknown");
	return (child_state_names[state]);
}

/*
 * Every message type: its name, who may send it to whom (a relayed one
 * has two hops), the payload's size and whether a descriptor comes
 * with it.
 */
#define R_PARENT	(1 << PROC_PARENT)
#define R_CERTLOADER	(1 << PROC_CERTLOADER)
#define R_REGISTRAR	(1 << PROC_REGISTRAR)
#define R_WORKER	(1 << PROC_WORKER)
#define R_HEALTH	(1 << PROC_HEALTH)
#define R_LOGGER	(1 << PROC_LOGGER)
#define R_METRICS	(1 << PROC_METRICS)
#define R_CTL		(1 << PROC_CTL)
#define R_CHILD		(R_CERTLOADER | R_REGISTRAR | R_WORKER | R_HEALTH | \
			    R_LOGGER | R_METRICS)
#define R_SCRAPED	(R_CERTLOADER | R_REGISTRAR | R_WORKER)

#define HOP(f, t)		{ { (f), (t) }, { 0, 0 } }
#define HOPS(f1, t1, f2, t2)	{ { (f1), (t1) }, { (f2), (t2) } }
#define SIZE(type)		sizeof(type), sizeof(type)
#define NONE			0, 0
#define BYTES			1, IMSG_MAX_PAYLOAD

const struct imsg_spec imsg_specs[IMSG_TYPE_MAX] = {
	[IMSG_CFG_GLOBAL] = { "CFG_GLOBAL", HOP(R_PARENT, R_CHILD),
	    SIZE(struct portero_config), 0 },
	[IMSG_CFG_LISTENER] = { "CFG_LISTENER",
	    HOP(R_PARENT, R_REGISTRAR | R_WORKER | R_METRICS),
	    SIZE(struct listener_msg), 1 },
	[IMSG_CFG_BACKEND] = { "CFG_BACKEND", HOP(R_PARENT, R_WORKER),
	    SIZE(struct backend_conf), 0 },
	[IMSG_CFG_SERVER] = { "CFG_SERVER", HOP(R_PARENT, R_WORKER),
	    SIZE(struct server_conf), 0 },
	[IMSG_CFG_NAME] = { "CFG_NAME", HOP(R_PARENT, R_WORKER),
	    SIZE(struct server_name), 0 },
	[IMSG_CFG_LOCATION] = { "CFG_LOCATION", HOP(R_PARENT, R_WORKER),
	    sizeof(struct location_msg), IMSG_MAX_PAYLOAD, 0 },
	[IMSG_CFG_HEADER] = { "CFG_HEADER", HOP(R_PARENT, R_WORKER),
	    sizeof(struct header_msg), IMSG_MAX_PAYLOAD, 0 },
	[IMSG_CFG_POOL] = { "CFG_POOL", HOP(R_PARENT, R_WORKER),
	    SIZE(struct pool_conf), 0 },
	[IMSG_CFG_NET] = { "CFG_NET", HOP(R_PARENT, R_WORKER),
	    SIZE(struct net_conf), 0 },
	[IMSG_CFG_SECRETS] = { "CFG_SECRETS", HOP(R_PARENT, R_REGISTRAR),
	    SIZE(struct reg_secrets), 0 },
	[IMSG_CFG_DONE] = { "CFG_DONE",
	    HOPS(R_PARENT, R_CHILD, R_CHILD, R_PARENT), NONE, 0 },
	[IMSG_START] = { "START", HOP(R_PARENT, R_CHILD), NONE, 0 },
	[IMSG_SHUTDOWN] = { "SHUTDOWN", HOP(R_PARENT, R_CHILD), NONE, 0 },
	[IMSG_RELOAD] = { "RELOAD", HOP(R_PARENT, R_CERTLOADER), NONE, 0 },
	[IMSG_LOG_VERBOSE] = { "LOG_VERBOSE", HOP(R_PARENT, R_CHILD),
	    SIZE(int32_t), 0 },
	[IMSG_PING] = { "PING", HOP(R_PARENT, R_CHILD), SIZE(uint32_t), 0 },
	[IMSG_PONG] = { "PONG", HOP(R_CHILD, R_PARENT), SIZE(uint32_t), 0 },

	[IMSG_CERT_BEGIN] = { "CERT_BEGIN",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER),
	    SIZE(struct cert_begin), 0 },
	[IMSG_CERT_ADD] = { "CERT_ADD",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER),
	    SIZE(struct cert_msg), 0 },
	[IMSG_CERT_DATA] = { "CERT_DATA",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER), BYTES, 0 },
	[IMSG_CERT_END] = { "CERT_END",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER), NONE, 0 },
	[IMSG_CERT_ACK] = { "CERT_ACK",
	    HOPS(R_WORKER, R_PARENT, R_PARENT, R_CERTLOADER),
	    SIZE(struct cert_ack), 0 },
	[IMSG_CERT_RESEND] = { "CERT_RESEND", HOP(R_PARENT, R_CERTLOADER),
	    NONE, 0 },
	[IMSG_TLS_TICKET_KEY] = { "TLS_TICKET_KEY", HOP(R_PARENT, R_WORKER),
	    SIZE(struct ticket_key_msg), 0 },

	[IMSG_BACKEND_HEALTH] = { "BACKEND_HEALTH",
	    HOPS(R_WORKER, R_PARENT, R_PARENT, R_HEALTH),
	    SIZE(struct backend_health), 0 },
	[IMSG_BACKEND_VERDICT] = { "BACKEND_VERDICT",
	    HOPS(R_HEALTH, R_PARENT, R_PARENT, R_WORKER),
	    SIZE(struct backend_health), 0 },
	[IMSG_CFG_CHECK] = { "CFG_CHECK", HOP(R_PARENT, R_HEALTH),
	    SIZE(struct check_target), 0 },
	[IMSG_CHECK_ADD] = { "CHECK_ADD", HOP(R_PARENT, R_HEALTH),
	    SIZE(struct check_target), 0 },
	[IMSG_CHECK_REMOVE] = { "CHECK_REMOVE", HOP(R_PARENT, R_HEALTH),
	    SIZE(struct check_target), 0 },
	[IMSG_HEALTH_WORKER] = { "HEALTH_WORKER", HOP(R_PARENT, R_HEALTH),
	    NONE, 0 },
	[IMSG_HEALTH_STATS] = { "HEALTH_STATS", HOP(R_HEALTH, R_PARENT),
	    offsetof(struct health_stats, hss_stats),
	    sizeof(struct health_stats), 0 },

	[IMSG_UPSTREAM_CA] = { "UPSTREAM_CA",
	    HOP(R_PARENT, R_WORKER | R_HEALTH), SIZE(struct upstream_ca_msg),
	    0 },
	[IMSG_UPSTREAM_CA_DATA] = { "UPSTREAM_CA_DATA",
	    HOP(R_PARENT, R_WORKER | R_HEALTH), BYTES, 0 },
	[IMSG_UPSTREAM_CA_END] = { "UPSTREAM_CA_END",
	    HOP(R_PARENT, R_WORKER | R_HEALTH), NONE, 0 },
	[IMSG_CLIENT_CA] = { "CLIENT_CA", HOP(R_PARENT, R_WORKER),
	    SIZE(struct client_ca_msg), 0 },
	[IMSG_CLIENT_CA_DATA] = { "CLIENT_CA_DATA", HOP(R_PARENT, R_WORKER),
	    BYTES, 0 },
	[IMSG_CLIENT_CA_END] = { "CLIENT_CA_END", HOP(R_PARENT, R_WORKER),
	    SIZE(uint32_t), 0 },
	[IMSG_POOL_CA] = { "POOL_CA", HOP(R_PARENT, R_WORKER | R_HEALTH),
	    SIZE(struct pool_ca_msg), 0 },
	[IMSG_POOL_CA_DATA] = { "POOL_CA_DATA",
	    HOP(R_PARENT, R_WORKER | R_HEALTH), BYTES, 0 },
	[IMSG_POOL_CA_END] = { "POOL_CA_END",
	    HOP(R_PARENT, R_WORKER | R_HEALTH), SIZE(uint32_t), 0 },
	[IMSG_POOL_CERT_FILE] = { "POOL_CERT_FILE",
	    HOP(R_PARENT, R_CERTLOADER), SIZE(struct pool_cert_file), 1 },
	[IMSG_POOL_CERT_FILES_END] = { "POOL_CERT_FILES_END",
	    HOP(R_PARENT, R_CERTLOADER), SIZE(struct pool_cert_files_end),
	    0 },
	[IMSG_POOL_CERT_RESEND] = { "POOL_CERT_RESEND",
	    HOP(R_PARENT, R_CERTLOADER), NONE, 0 },
	[IMSG_POOL_CERT_FAIL] = { "POOL_CERT_FAIL",
	    HOP(R_CERTLOADER, R_PARENT), BYTES, 0 },
	[IMSG_POOL_CERT] = { "POOL_CERT",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER | R_HEALTH),
	    SIZE(struct pool_cert_msg), 0 },
	[IMSG_POOL_CERT_DATA] = { "POOL_CERT_DATA",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER | R_HEALTH),
	    BYTES, 0 },
	[IMSG_POOL_CERT_END] = { "POOL_CERT_END",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_WORKER | R_HEALTH),
	    SIZE(uint32_t), 0 },

	[IMSG_REG_UPSERT] = { "REG_UPSERT",
	    HOPS(R_REGISTRAR, R_PARENT, R_PARENT, R_WORKER),
	    SIZE(struct reg_backend), 0 },
	[IMSG_REG_REMOVE] = { "REG_REMOVE",
	    HOPS(R_REGISTRAR, R_PARENT, R_PARENT, R_WORKER),
	    SIZE(struct reg_backend), 0 },
	[IMSG_REG_SYNC] = { "REG_SYNC", HOP(R_REGISTRAR, R_PARENT), NONE, 0 },
	[IMSG_REG_SYNC_END] = { "REG_SYNC_END", HOP(R_REGISTRAR, R_PARENT),
	    NONE, 0 },
	[IMSG_REG_DONE] = { "REG_DONE", HOP(R_PARENT, R_REGISTRAR),
	    SIZE(uint32_t), 0 },
	[IMSG_REG_ACK] = { "REG_ACK", HOP(R_WORKER, R_PARENT), SIZE(uint32_t),
	    0 },
	[IMSG_REG_SNAP] = { "REG_SNAP", HOP(R_PARENT, R_WORKER),
	    SIZE(struct reg_backend), 0 },
	[IMSG_REG_SNAP_ACK] = { "REG_SNAP_ACK", HOP(R_WORKER, R_PARENT), NONE,
	    0 },

	[IMSG_LOG_SOCKET] = { "LOG_SOCKET", HOP(R_PARENT, R_WORKER | R_LOGGER),
	    NONE, 1 },
	[IMSG_LOG_FILE] = { "LOG_FILE", HOP(R_PARENT, R_LOGGER), NONE, 1 },
	[IMSG_LOG_STATS] = { "LOG_STATS", HOP(R_LOGGER, R_PARENT),
	    SIZE(struct logger_stats), 0 },

	[IMSG_STATS_REQ] = { "STATS_REQ", HOP(R_PARENT, R_WORKER), NONE, 0 },
	[IMSG_STATS] = { "STATS", HOP(R_WORKER, R_PARENT),
	    SIZE(struct worker_stats), 0 },
	[IMSG_BACKENDS_REQ] = { "BACKENDS_REQ",
	    HOP(R_PARENT, R_WORKER | R_HEALTH),
	    offsetof(struct backends_req, br_keys),
	    sizeof(struct backends_req), 0 },
	[IMSG_BACKENDS] = { "BACKENDS", HOP(R_WORKER, R_PARENT),
	    offsetof(struct backends_stats, bss_stats),
	    sizeof(struct backends_stats), 0 },

	[IMSG_CTL_SHOW_STATUS] = { "CTL_SHOW_STATUS", HOP(R_CTL, R_PARENT),
	    NONE, 0 },
	[IMSG_CTL_SHOW_WORKERS] = { "CTL_SHOW_WORKERS", HOP(R_CTL, R_PARENT),
	    NONE, 0 },
	[IMSG_CTL_RELOAD] = { "CTL_RELOAD", HOP(R_CTL, R_PARENT), NONE, 0 },
	[IMSG_CTL_LOG_VERBOSE] = { "CTL_LOG_VERBOSE", HOP(R_CTL, R_PARENT),
	    SIZE(int32_t), 0 },
	[IMSG_CTL_REOPEN] = { "CTL_REOPEN", HOP(R_CTL, R_PARENT), NONE, 0 },
	[IMSG_CTL_SHOW_CERTS] = { "CTL_SHOW_CERTS",
	    HOPS(R_CTL, R_PARENT, R_PARENT, R_CERTLOADER), NONE, 0 },
	[IMSG_CTL_CERT] = { "CTL_CERT",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_CTL),
	    SIZE(struct ctl_cert), 0 },
	[IMSG_CTL_SHOW_BACKENDS] = { "CTL_SHOW_BACKENDS",
	    HOP(R_CTL, R_PARENT), NONE, 0 },
	[IMSG_CTL_BACKEND] = { "CTL_BACKEND", HOP(R_PARENT, R_CTL),
	    SIZE(struct ctl_backend), 0 },
	[IMSG_CTL_STATUS] = { "CTL_STATUS", HOP(R_PARENT, R_CTL),
	    SIZE(struct ctl_status), 0 },
	[IMSG_CTL_CHILD] = { "CTL_CHILD", HOP(R_PARENT, R_CTL),
	    SIZE(struct ctl_child), 0 },
	[IMSG_CTL_OK] = { "CTL_OK", HOP(R_PARENT, R_CTL), NONE, 0 },
	[IMSG_CTL_FAIL] = { "CTL_FAIL", HOP(R_PARENT, R_CTL), BYTES, 0 },
	[IMSG_CTL_END] = { "CTL_END",
	    HOPS(R_CERTLOADER | R_METRICS, R_PARENT, R_PARENT, R_CTL), NONE,
	    0 },
	[IMSG_CTL_SHOW_STATS] = { "CTL_SHOW_STATS",
	    HOPS(R_CTL, R_PARENT, R_PARENT, R_METRICS), SIZE(uint32_t), 0 },
	[IMSG_CTL_TEXT] = { "CTL_TEXT",
	    HOPS(R_METRICS, R_PARENT, R_PARENT, R_CTL), BYTES, 0 },

	[IMSG_MET_REQ] = { "MET_REQ",
	    HOPS(R_METRICS, R_PARENT, R_PARENT, R_SCRAPED), NONE, 0 },
	[IMSG_MET_BEGIN] = { "MET_BEGIN", HOP(R_PARENT, R_METRICS),
	    SIZE(struct met_begin), 0 },
	[IMSG_MET_PROC] = { "MET_PROC", HOP(R_PARENT, R_METRICS),
	    SIZE(struct met_proc), 0 },
	[IMSG_MET_WORKER] = { "MET_WORKER",
	    HOPS(R_WORKER | R_METRICS, R_PARENT, R_PARENT, R_METRICS),
	    SIZE(struct met_worker), 0 },
	[IMSG_MET_SERVICE] = { "MET_SERVICE",
	    HOPS(R_WORKER | R_METRICS, R_PARENT, R_PARENT, R_METRICS),
	    sizeof(struct met_service), sizeof(struct met_service) +
	    sizeof(struct met_hist) + NAME_MAX_LEN - 1, 0 },
	[IMSG_MET_BACKEND] = { "MET_BACKEND",
	    HOPS(R_WORKER | R_METRICS, R_PARENT, R_PARENT, R_METRICS),
	    sizeof(struct met_backend), sizeof(struct met_backend) +
	    2 * sizeof(struct met_hist) + NAME_MAX_LEN + MET_ADDR_MAX - 2,
	    0 },
	[IMSG_MET_REGISTRAR] = { "MET_REGISTRAR",
	    HOPS(R_REGISTRAR, R_PARENT, R_PARENT, R_METRICS),
	    SIZE(struct met_registrar), 0 },
	[IMSG_MET_REGSVC] = { "MET_REGSVC",
	    HOPS(R_REGISTRAR, R_PARENT, R_PARENT, R_METRICS),
	    SIZE(struct met_regsvc), 0 },
	[IMSG_MET_CERT] = { "MET_CERT",
	    HOPS(R_CERTLOADER, R_PARENT, R_PARENT, R_METRICS),
	    SIZE(struct met_cert), 0 },
	[IMSG_MET_KEEP_BEGIN] = { "MET_KEEP_BEGIN", HOP(R_METRICS, R_PARENT),
	    NONE, 0 },
	[IMSG_MET_END] = { "MET_END",
	    HOPS(R_SCRAPED, R_PARENT, R_PARENT, R_METRICS), NONE, 0 },
};

int
accesslog_format_parse(const char *name, uint32_t *format)
{
	uint32_t	 i;

	for (i = 0; i <= LOG_FORMAT_LTSV; i++)
		if (strcmp(name, log_format_names[i]) == 0) {
			*format = i;
			return (0);
		}
	return (-1);
}

const char *
accesslog_format_name(uint32_t format)
{
	if (format > LOG_FORMAT_LTSV)
		return ("unknown");
	return (log_format_names[format]);
}

const char *
imsg_name(uint32_t type)
{
	if (type >= IMSG_TYPE_MAX || imsg_specs[type].is_name == NULL)
		return ("unknown");
	return (imsg_specs[type].is_name);
}

/*
 * May this message come from a peer of role from to one of role to, with
 * this payload and descriptor?  imsgbuf_get() has checked the framing;
 * this checks the meaning.  Returns 0, or -1 with errno EBADMSG.
 */
int
imsg_check(const struct imsg *imsg, int from, int to)
{
	const struct imsg_spec	*is;
	unsigned int		 i;
	int			 hop = 0;

	if (imsg->hdr.type <= IMSG_NONE || imsg->hdr.type >= IMSG_TYPE_MAX)
		goto bad;
	is = &imsg_specs[imsg->hdr.type];
	for (i = 0; i < 2; i++)
		if ((is->is_hops[i].ih_from & (1 << from)) &&
		    (is->is_hops[i].ih_to & (1 << to)))
			hop = 1;
	if (!hop || imsg->len < is->is_min || imsg->len > is->is_max ||
	    (imsg->fd != -1) != is->is_fd)
		goto bad;
	return (0);
 bad:
	errno = EBADMSG;
	return (-1);
}
