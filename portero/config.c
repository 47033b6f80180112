/*
 * config.c: the configuration structure, its defaults, how flags fill
 * it, and how a child takes it off the wire.
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

#include <sys/stat.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

/*
 * Every long option, and where its value goes: one table, so adding a
 * flag is one line here plus its man page entry.
 */
enum opt_kind {
	OPT_STR,		/* string into a char array */
	OPT_ADDR,		/* ... a numeric address:port */
	OPT_NUM,		/* uint32_t within [min, max] */
	OPT_SIZE,		/* uint64_t bytes, k, m or g after it */
	OPT_FLAG,		/* int32_t set to 1 */
	OPT_BACKEND,		/* appended to the backend table */
	OPT_ACCESS_LOG,		/* a path, or "none" */
	OPT_LOG_FORMAT,		/* combined, json or ltsv */
	OPT_NET,		/* appended to --register-allow */
	OPT_SECRET,		/* a secret's value, kept apart (co_off:
				   which one) */
};

struct config_opt {
	const char	*co_name;
	enum opt_kind	 co_kind;
	size_t		 co_off;
	size_t		 co_size;
	long long	 co_min;
	long long	 co_max;
};

#define CONF_STR(name, field)						\
	{ name, OPT_STR, offsetof(struct portero_config, field),	\
	    sizeof(((struct portero_config *)0)->field), 0, 0 }
#define CONF_ADDR(name, field)						\
	{ name, OPT_ADDR, offsetof(struct portero_config, field),	\
	    sizeof(((struct portero_config *)0)->field), 0, 0 }
#define CONF_NUM(name, field, min, max)					\
	{ name, OPT_NUM, offsetof(struct portero_config, field), 0, min, max }
#define CONF_SIZE(name, field, max)					\
	{ name, OPT_SIZE, offsetof(struct portero_config, field), 0, 0, max }
#define CONF_FLAG(name, field)						\
	{ name, OPT_FLAG, offsetof(struct portero_config, field), 0, 0, 0 }

static int	 config_listeners(struct portero_config *, struct conf_set *);
static int	 config_has_listener(const struct portero_config *, int);
static int	 config_has_listener_at(const struct portero_config *,
		    const char *);

_Static_assert(sizeof(struct portero_config) <= IMSG_MAX_PAYLOAD,
    "the configuration must fit one message");

static const struct config_opt config_opts[] = {
	CONF_STR("listen-addr", listen_addr),
	CONF_STR("register-addr", register_addr),
	CONF_STR("tls-cert-dir", cert_dir),
	CONF_NUM("tls-ticket-rotate", tls_ticket_rotate, 1, 86400),
	CONF_STR("tls-ciphers", tls_ciphers),
	CONF_STR("tls-ciphersuites", tls_ciphersuites),
	CONF_STR("tls-groups", tls_groups),
	CONF_NUM("workers", workers, 1, PORTERO_MAX_WORKERS),
	CONF_STR("user", user),
	CONF_STR("chroot-dir", chroot_dir),
	CONF_STR("state-dir", state_dir),
	CONF_STR("control-socket", control_socket),
	CONF_NUM("drain-timeout", drain_timeout, 0, 3600),
	CONF_NUM("cert-scan-interval", cert_scan_interval, 0, 86400),
	CONF_STR("default-sni", default_sni),
	CONF_STR("default-service", default_service),
	CONF_STR("http-addr", http_addr),
	CONF_ADDR("metrics-addr", metrics_addr),
	CONF_FLAG("http-proxy", http_proxy),
	CONF_NUM("header-timeout", header_timeout, 1, 3600),
	CONF_NUM("idle-timeout", idle_timeout, 1, 86400),
	CONF_NUM("handshake-timeout", handshake_timeout, 1, 3600),
	CONF_NUM("connect-timeout", connect_timeout, 1, 3600),
	CONF_NUM("upstream-timeout", upstream_timeout, 1, 86400),
	CONF_NUM("body-timeout", body_timeout, 1, 86400),
	CONF_NUM("send-timeout", send_timeout, 1, 86400),
	CONF_NUM("tunnel-idle-timeout", tunnel_idle_timeout, 1, 604800),
	CONF_FLAG("no-h2", no_h2),
	CONF_FLAG("h2c", h2c),
	CONF_NUM("h2-max-streams", h2_max_streams, 1, 10000),
	CONF_NUM("h2-max-header-list", h2_max_header_list, 4096,
	    H2_HEADER_LIST_MAX),
	CONF_NUM("h2-window", h2_window, 16384, 16777216),
	CONF_NUM("h2-reset-rate", h2_reset_rate, 1, 100000),
	CONF_SIZE("max-body-size", max_body_size, INT64_MAX),
	CONF_STR("upstream-ca", upstream_ca),
	CONF_FLAG("upstream-insecure", upstream_insecure),
	{ "access-log", OPT_ACCESS_LOG, 0, 0, 0, 0 },
	{ "access-log-format", OPT_LOG_FORMAT, 0, 0, 0, 0 },
	CONF_FLAG("trust-request-id", trust_request_id),
	{ "backend", OPT_BACKEND, 0, 0, 0, 0 },
	CONF_FLAG("no-register", no_register),
	CONF_STR("register-secret-file", register_secret_file),
	CONF_STR("jwt-hmac-key-file", jwt_key_file),
	CONF_STR("jwt-hmac-key-previous-file", jwt_prevkey_file),
	{ "register-secret", OPT_SECRET, SECRET_REGISTER, 0, 0, 0 },
	{ "jwt-hmac-key", OPT_SECRET, SECRET_JWT_KEY, 0, 0, 0 },
	CONF_STR("jwt-issuer", jwt_issuer),
	CONF_STR("jwt-audience", jwt_audience),
	CONF_NUM("jwt-leeway", jwt_leeway, 0, 30),
	CONF_NUM("max-ttl", max_ttl, 1, 31536000),
	CONF_NUM("register-max-backends", register_max_backends, 1,
	    REGISTER_MAX_LIMIT),
	CONF_NUM("register-max-per-service", register_max_per_service, 1,
	    1000000),
	CONF_NUM("register-fail-limit", register_fail_limit, 1, 1000000),
	{ "register-allow", OPT_NET, 0, 0, 0, 0 },
};
#define CONFIG_NOPTS	(sizeof(config_opts) / sizeof(config_opts[0]))

void
usage(void)
{
	fprintf(stderr, "usage: portero [-dnv] [--listen-addr addr:port] "
	    "[--tls-cert-dir dir]\n"
	    "\t[--backend service=host:port[,tls]] [--workers n] "
	    "[--user user] ...\n"
	    "see portero(8) for every option\n");
	exit(1);
}

void
config_defaults(struct portero_config *conf)
{
	long	 ncpu;

	memset(conf, 0, sizeof(*conf));
	(void)strlcpy(conf->register_addr, PORTERO_REGISTER_ADDR,
	    sizeof(conf->register_addr));
	(void)strlcpy(conf->control_socket, PORTERO_CONTROL_SOCKET,
	    sizeof(conf->control_socket));
	(void)strlcpy(conf->state_dir, PORTERO_STATE_DIR,
	    sizeof(conf->state_dir));
	(void)strlcpy(conf->chroot_dir, PORTERO_CHROOT_DIR,
	    sizeof(conf->chroot_dir));
	(void)strlcpy(conf->user, PORTERO_USER, sizeof(conf->user));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > PORTERO_MAX_WORKERS)
		ncpu = PORTERO_MAX_WORKERS;
	conf->workers = ncpu;
	conf->drain_timeout = PORTERO_DRAIN_TIMEOUT;
	conf->tls_ticket_rotate = PORTERO_TICKET_ROTATE;
	conf->cert_scan_interval = 30;
	conf->header_timeout = 10;
	conf->idle_timeout = 60;
	conf->handshake_timeout = 10;
	conf->connect_timeout = 5;
	conf->upstream_timeout = 60;
	conf->body_timeout = 60;
	conf->send_timeout = 30;
	conf->tunnel_idle_timeout = 300;
	conf->h2_max_streams = 128;
	conf->h2_max_header_list = H2_HEADER_LIST_MAX;
	conf->h2_window = 65535;
	conf->h2_reset_rate = 100;
	conf->jwt_leeway = 10;
	conf->max_ttl = 86400;
	conf->register_max_backends = 10000;
	conf->register_max_per_service = 1000;
	conf->register_fail_limit = 10;
}

/* Whether addr (4 or 16 bytes, of family) is in the network rn. */
int
config_net_has(const struct reg_net *rn, int family, const uint8_t *addr)
{
	unsigned int	 bytes = rn->rn_prefix / 8, bits = rn->rn_prefix % 8;
	uint8_t		 mask;

	if (rn->rn_family != family || memcmp(rn->rn_addr, addr, bytes) != 0)
		return (0);
	if (bits == 0)
		return (1);
	mask = 0xff << (8 - bits);
	return (((rn->rn_addr[bytes] ^ addr[bytes]) & mask) == 0);
}

/*
 * A network: an address with a prefix length, or alone (the address
 * itself).  The bits past the prefix must be zero, so that 10.1.2.3/8
 * is not taken for what it does not say.  For --register-allow and the
 * file's lists of networks.
 */
int
config_parse_net(const char *arg, struct reg_net *rn, char *why,
    size_t whylen)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash;
	const char	*errstr;
	int		 i, max;

	memset(rn, 0, sizeof(*rn));
	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf))
		goto bad;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, rn->rn_addr) == 1) {
		rn->rn_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, rn->rn_addr) == 1) {
		rn->rn_family = AF_INET6;
		max = 128;
	} else
		goto bad;
	rn->rn_prefix = max;
	if (slash != NULL) {
		rn->rn_prefix = strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			goto bad;
	}
	for (i = rn->rn_prefix; i < max; i++)
		if (rn->rn_addr[i / 8] & (0x80 >> (i % 8)))
			goto bad;
	return (0);
 bad:
	(void)snprintf(why, whylen, "\"%s\": want an address or a network "
	    "(address/prefix, with no bits set past the prefix)", arg);
	return (-1);
}

/* --register-allow NETWORK */
static int
config_add_net(struct portero_config *conf, const char *arg, char *why,
    size_t whylen)
{
	if (conf->register_nallow >= REG_ALLOW_MAX) {
		(void)snprintf(why, whylen, "more than %d networks",
		    REG_ALLOW_MAX);
		return (-1);
	}
	if (config_parse_net(arg, &conf->register_allow[
	    conf->register_nallow], why, whylen) == -1)
		return (-1);
	conf->register_nallow++;
	return (0);
}

/*
 * A size in bytes: digits, then nothing, or k, m or g (either case) for
 * KiB, MiB or GiB.
 */
static int
config_size(const char *arg, long long max, uint64_t *out)
{
	char		 digits[32];
	size_t		 n = strlen(arg);
	const char	*errstr;
	long long	 v, unit = 1;

	if (n == 0 || n >= sizeof(digits))
		return (-1);
	memcpy(digits, arg, n + 1);
	switch (digits[n - 1]) {
	case 'k': case 'K':
		unit = 1024LL;
		break;
	case 'm': case 'M':
		unit = 1024LL * 1024;
		break;
	case 'g': case 'G':
		unit = 1024LL * 1024 * 1024;
		break;
	}
	if (unit != 1)
		digits[--n] = '\0';
	v = strtonum(digits, 0, max / unit, &errstr);
	if (errstr != NULL)
		return (-1);
	*out = v * unit;
	return (0);
}

/*
 * A backend of pool at host (a name or an address) and port.  The
 * parent resolves names here, before any sandbox: workers never do.
 * The pool is made, undeclared, if the file has not declared it.
 */
int
config_resolve_backend(struct conf_set *set, const char *pool,
    const char *host, long long port, int tls, long long weight, char *why,
    size_t whylen)
{
	struct backend_conf	*be;
	struct addrinfo		 hints, *res;
	char			 portstr[8];
	int			 error;

	if (confset_add_pool(set, pool) == NULL ||
	    (be = confset_add_backend(set)) == NULL) {
		(void)snprintf(why, whylen, "out of memory");
		return (-1);
	}
	(void)strlcpy(be->be_service, pool, sizeof(be->be_service));
	(void)snprintf(be->be_host, sizeof(be->be_host), strchr(host, ':') !=
	    NULL ? "[%s]:%lld" : "%s:%lld", host, port);
	be->be_port = port;
	be->be_tls = tls;
	be->be_weight = weight;
	(void)snprintf(portstr, sizeof(portstr), "%lld", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((error = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		set->cs_nbackends--;
		(void)snprintf(why, whylen, "%s", gai_strerror(error));
		return (-1);
	}
	memcpy(&be->be_ss, res->ai_addr, res->ai_addrlen);
	be->be_sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

/* SERVICE=HOST:PORT[,tls], from --backend. */
static int
config_add_backend(struct conf_set *set, const char *arg, char *why,
    size_t whylen)
{
	char		 buf[NAME_MAX_LEN + HOSTPORT_MAX + 8];
	char		*eq, *hostport, *port, *opt, *host, *p;
	const char	*errstr;
	long long	 portnum;
	int		 tls = 0;

	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf) ||
	    (eq = strchr(buf, '=')) == NULL || eq == buf)
		goto bad;
	*eq = '\0';
	hostport = eq + 1;
	if ((opt = strchr(hostport, ',')) != NULL) {
		*opt++ = '\0';
		if (strcmp(opt, "tls") != 0)
			goto bad;
		tls = 1;
	}
	for (p = buf; *p != '\0'; p++) {
		*p = tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			goto bad;
	}
	if (strlen(buf) >= NAME_MAX_LEN || strlen(hostport) >= HOSTPORT_MAX)
		goto bad;
	host = hostport;
	if (*host == '[') {
		if ((p = strchr(host, ']')) == NULL || p[1] != ':')
			goto bad;
		*p = '\0';
		host++;
		port = p + 2;
	} else {
		if ((port = strrchr(host, ':')) == NULL || port == host)
			goto bad;
		*port++ = '\0';
	}
	portnum = strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL)
		goto bad;
	return (config_resolve_backend(set, buf, host, portnum, tls, 1, why,
	    whylen));
 bad:
	(void)snprintf(why, whylen, "\"%s\": want SERVICE=HOST:PORT[,tls]",
	    arg);
	return (-1);
}

/*
 * One option's value into conf (or set, or rs); what names it in a
 * message ("--idle-timeout" or "idle-timeout").  -1 with the reason in
 * why.
 */
static int
config_setopt(struct portero_config *conf, struct conf_set *set,
    struct reg_secrets *rs, const struct config_opt *co, const char *what,
    const char *arg, char *why, size_t whylen)
{
	char		*base = (char *)conf;
	char		 sub[200];
	const char	*errstr;
	long long	 num;

	switch (co->co_kind) {
	case OPT_ADDR:
		if (listener_parse(arg, &(struct sockaddr_storage){ 0 },
		    &(socklen_t){ 0 }) == -1) {
			(void)snprintf(why, whylen, "%s \"%s\": not a numeric "
			    "address:port", what, arg);
			return (-1);
		}
		/* FALLTHROUGH */
	case OPT_STR:
		if (*arg == '\0') {
			(void)snprintf(why, whylen, "%s: empty value", what);
			return (-1);
		}
		if (strlcpy(base + co->co_off, arg, co->co_size) >=
		    co->co_size) {
			(void)snprintf(why, whylen, "%s: too long", what);
			return (-1);
		}
		return (0);
	case OPT_NUM:
		num = strtonum(arg, co->co_min, co->co_max, &errstr);
		if (errstr != NULL) {
			(void)snprintf(why, whylen, "%s \"%s\" is %s "
			    "(%lld-%lld)", what, arg, errstr, co->co_min,
			    co->co_max);
			return (-1);
		}
		*(uint32_t *)(base + co->co_off) = num;
		return (0);
	case OPT_SIZE:
		if (config_size(arg, co->co_max,
		    (uint64_t *)(base + co->co_off)) == -1) {
			(void)snprintf(why, whylen, "%s \"%s\": want a size "
			    "in bytes, with k, m or g for KiB, MiB or GiB",
			    what, arg);
			return (-1);
		}
		return (0);
	case OPT_FLAG:
		*(int32_t *)(base + co->co_off) = 1;
		return (0);
	case OPT_ACCESS_LOG:
		conf->access_log_off = strcmp(arg, "none") == 0;
		conf->access_log[0] = '\0';
		if (conf->access_log_off)
			return (0);
		if (strlcpy(conf->access_log, arg, sizeof(conf->access_log)) >=
		    sizeof(conf->access_log)) {
			(void)snprintf(why, whylen, "%s: too long", what);
			return (-1);
		}
		return (0);
	case OPT_LOG_FORMAT:
		if (accesslog_format_parse(arg,
		    &conf->access_log_format) == -1) {
			(void)snprintf(why, whylen, "%s \"%s\": want combined, "
			    "json or ltsv", what, arg);
			return (-1);
		}
		return (0);
	case OPT_BACKEND:
		if (config_add_backend(set, arg, sub, sizeof(sub)) == -1)
			goto sub;
		return (0);
	case OPT_NET:
		if (config_add_net(conf, arg, sub, sizeof(sub)) == -1)
			goto sub;
		return (0);
	case OPT_SECRET:
		if (secrets_set(rs, co->co_off, arg, what) == -1) {
			(void)snprintf(why, whylen, "%s: bad value", what);
			return (-1);
		}
		return (0);
	}
	return (-1);
 sub:
	(void)snprintf(why, whylen, "%s %s", what, sub);
	return (-1);
}

/*
 * A global option in the file: a flag's name without its dashes.  The
 * ones the file says otherwise (listen on, pool blocks) and secrets,
 * which belong in files of their own, are refused.
 */
int
config_file_option(struct portero_config *conf, const char *name,
    const char *value, char *why, size_t whylen)
{
	const struct config_opt	*co = NULL;
	size_t			 i;

	for (i = 0; i < CONFIG_NOPTS; i++)
		if (strcmp(config_opts[i].co_name, name) == 0)
			co = &config_opts[i];
	if (co == NULL) {
		(void)snprintf(why, whylen, "unknown keyword \"%s\"", name);
		return (-1);
	}
	if (co->co_kind == OPT_SECRET || co->co_kind == OPT_BACKEND ||
	    strcmp(name, "listen-addr") == 0 ||
	    strcmp(name, "http-addr") == 0) {
		(void)snprintf(why, whylen, "\"%s\" is not for the file (%s)",
		    name, co->co_kind == OPT_SECRET ? "use its -file form" :
		    co->co_kind == OPT_BACKEND ? "use a pool block" :
		    "use listen on");
		return (-1);
	}
	if ((co->co_kind == OPT_FLAG) != (value == NULL)) {
		(void)snprintf(why, whylen, "%s: %s", name, value == NULL ?
		    "needs a value" : "takes no value");
		return (-1);
	}
	return (config_setopt(conf, NULL, NULL, co, name,
	    value != NULL ? value : "", why, whylen));
}

/*
 * The command line.  With apply 0 only -d, -n, -v and -f are looked at
 * (the file is read before the flags, which then override it); with
 * apply 1 every option is applied and problems are reported.  Returns
 * -1 on a problem, never exits: a reload comes here too.
 */
static int
config_parse_args(struct portero_config *conf, struct conf_set *set,
    struct reg_secrets *rs, int argc, char **argv, int apply,
    struct config_cmdline *cmd)
{
	struct option	 longopts[CONFIG_NOPTS + 1];
	char		 what[64], why[256];
	size_t		 i;
	int		 ch, ret = 0;

	memset(longopts, 0, sizeof(longopts));
	for (i = 0; i < CONFIG_NOPTS; i++) {
		longopts[i].name = config_opts[i].co_name;
		longopts[i].has_arg = config_opts[i].co_kind == OPT_FLAG ?
		    no_argument : required_argument;
		longopts[i].val = 256 + i;
	}
	optind = 0;	/* glibc: start over, as on reload */
#if defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__)
	optreset = 1;
	optind = 1;
#endif
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":dnvf:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			cmd->foreground = 1;
			break;
		case 'n':
			cmd->checkonly = 1;
			break;
		case 'v':
			cmd->verbose++;
			break;
		case 'f':
			if (strlcpy(cmd->file, optarg, sizeof(cmd->file)) >=
			    sizeof(cmd->file)) {
				log_warnx("-f: path too long");
				ret = -1;
			}
			break;
		case ':':
			log_warnx("option %s needs an argument",
			    argv[optind - 1]);
			ret = -1;
			break;
		case '?':
			log_warnx("unknown option %s", argv[optind - 1]);
			ret = -1;
			break;
		default:
			if (!apply)
				break;
			(void)snprintf(what, sizeof(what), "--%s",
			    config_opts[ch - 256].co_name);
			if (config_setopt(conf, set, rs, &config_opts[ch - 256],
			    what, optarg, why, sizeof(why)) == -1) {
				log_warnx("%s", why);
				ret = -1;
			}
			break;
		}
	}
	if (optind < argc) {
		log_warnx("unexpected argument \"%s\"", argv[optind]);
		ret = -1;
	}
	return (ret);
}

/*
 * The whole configuration, as start-up and every reload make it: the
 * defaults, then the file (-f, else PORTERO_CONF_FILE when it exists),
 * then the flags over both.  Every problem is logged, the file's as
 * FILE:LINE: message; -1 if there was any.
 */
int
config_load(struct portero_config *conf, struct conf_set *set,
    struct reg_secrets *rs, int argc, char **argv,
    struct config_cmdline *cmd)
{
	int	 errors;

	config_defaults(conf);
	memset(rs, 0, sizeof(*rs));
	memset(cmd, 0, sizeof(*cmd));
	if (config_parse_args(conf, set, rs, argc, argv, 0, cmd) == -1)
		return (-1);
	poolcert_checkonly(cmd->checkonly);
	if (cmd->file[0] == '\0' && access(PORTERO_CONF_FILE, F_OK) == 0)
		(void)strlcpy(cmd->file, PORTERO_CONF_FILE, sizeof(cmd->file));
	if (cmd->file[0] != '\0') {
		if ((errors = parse_config(cmd->file, conf, set)) == -1)
			return (-1);
		if (errors > 0) {
			log_warnx("%s: %d error%s", cmd->file, errors,
			    errors == 1 ? "" : "s");
			return (-1);
		}
	}
	(void)strlcpy(conf->conf_file, cmd->file, sizeof(conf->conf_file));
	if (config_parse_args(conf, set, rs, argc, argv, 1, cmd) == -1 ||
	    config_listeners(conf, set) == -1)
		return (-1);
	conf->foreground = cmd->foreground;
	conf->verbose += cmd->verbose;
	return (0);
}

static int
config_has_listener(const struct portero_config *conf, int tls)
{
	uint32_t	 i;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].ln_tls == tls)
			return (1);
	return (0);
}

static int
config_has_listener_at(const struct portero_config *conf, const char *canon)
{
	uint32_t	 i;

	for (i = 0; i < conf->nlisteners; i++)
		if (strcmp(conf->listeners[i].ln_addr, canon) == 0)
			return (1);
	return (0);
}

/*
 * The file's listeners of a kind leave for a flag's: the networks that
 * may send them PROXY headers go with them, and the other listeners'
 * lists follow their new places.
 */
static void
config_listeners_drop(struct portero_config *conf, struct conf_set *set,
    int tls)
{
	struct net_conf	*nc;
	uint32_t	 i, n = 0, at[PORTERO_MAX_LISTENERS];

	for (i = 0; i < conf->nlisteners; i++) {
		if (conf->listeners[i].ln_tls == tls) {
			at[i] = CONF_NONE;
			continue;
		}
		at[i] = n;
		conf->listeners[n++] = conf->listeners[i];
	}
	conf->nlisteners = n;
	for (i = n = 0; i < set->cs_nnets; i++) {
		nc = &set->cs_nets[i];
		if (nc->nc_list >= NET_PROXY) {
			if (at[nc->nc_list - NET_PROXY] == CONF_NONE)
				continue;
			nc->nc_list = NET_PROXY + at[nc->nc_list - NET_PROXY];
		}
		set->cs_nets[n++] = *nc;
	}
	set->cs_nnets = n;
}

static int
config_listener_flag(struct portero_config *conf, struct conf_set *set,
    const char *flag, const char *addr, int tls)
{
	struct listen_conf	*ln;

	config_listeners_drop(conf, set, tls);
	if (conf->nlisteners == PORTERO_MAX_LISTENERS) {
		log_warnx("%s: more than %d listeners", flag,
		    PORTERO_MAX_LISTENERS);
		return (-1);
	}
	ln = &conf->listeners[conf->nlisteners];
	memset(ln, 0, sizeof(*ln));
	if (listener_canon(addr, ln->ln_addr, sizeof(ln->ln_addr)) == -1) {
		log_warnx("%s \"%s\": not a numeric address:port", flag, addr);
		return (-1);
	}
	if (config_has_listener_at(conf, ln->ln_addr)) {
		log_warnx("%s %s: the file listens there already", flag,
		    ln->ln_addr);
		return (-1);
	}
	ln->ln_tls = tls;
	conf->nlisteners++;
	return (0);
}

/*
 * The client listeners: the file's, where --listen-addr and --http-addr
 * each replace those of their kind; with no TLS listener at all, the
 * default one.
 */
static int
config_listeners(struct portero_config *conf, struct conf_set *set)
{
	if (conf->listen_addr[0] != '\0' && config_listener_flag(conf, set,
	    "--listen-addr", conf->listen_addr, 1) == -1)
		return (-1);
	if (conf->http_addr[0] != '\0' && config_listener_flag(conf, set,
	    "--http-addr", conf->http_addr, 0) == -1)
		return (-1);
	if (!config_has_listener(conf, 1) && config_listener_flag(conf, set,
	    "the default listener", PORTERO_LISTEN_ADDR, 1) == -1)
		return (-1);
	return (0);
}

/* What can be checked without touching the system. */
int
config_check(const struct portero_config *conf)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 canon[LISTEN_ADDR_MAX];
	int			 ret = 0;

	if (listener_parse(conf->register_addr, &ss, &sslen) == -1) {
		log_warnx("--register-addr \"%s\": not a numeric address:port",
		    conf->register_addr);
		ret = -1;
	}
	if (conf->metrics_addr[0] != '\0' && (listener_canon(
	    conf->metrics_addr, canon, sizeof(canon)) == -1 ||
	    config_has_listener_at(conf, canon) ||
	    (!conf->no_register && strcmp(conf->register_addr,
	    conf->metrics_addr) == 0))) {
		log_warnx("--metrics-addr %s is another listener's address",
		    conf->metrics_addr);
		ret = -1;
	}
	if (conf->http_proxy && !config_has_listener(conf, 0)) {
		log_warnx("--http-proxy needs a plain listener (--http-addr, "
		    "or listen on without tls)");
		ret = -1;
	}
	if (conf->access_log[0] != '\0' && conf->access_log[0] != '/') {
		log_warnx("--access-log needs an absolute path or \"none\"");
		ret = -1;
	}
	if (listener_canon(conf->register_addr, canon, sizeof(canon)) == 0 &&
	    config_has_listener_at(conf, canon)) {
		log_warnx("--register-addr %s is a client listener too",
		    canon);
		ret = -1;
	}
	if ((conf->register_secret_file[0] != '\0' &&
	    conf->register_secret_file[0] != '/') ||
	    (conf->jwt_key_file[0] != '\0' && conf->jwt_key_file[0] != '/') ||
	    (conf->jwt_prevkey_file[0] != '\0' &&
	    conf->jwt_prevkey_file[0] != '/')) {
		log_warnx("secret and key files need absolute paths");
		ret = -1;
	}
	if (conf->control_socket[0] != '/' || conf->state_dir[0] != '/' ||
	    conf->chroot_dir[0] != '/' ||
	    (conf->cert_dir[0] != '\0' && conf->cert_dir[0] != '/')) {
		log_warnx("directories and the control socket need "
		    "absolute paths");
		ret = -1;
	}
	return (ret);
}

/*
 * A whole file into memory, up to max bytes: the parent's way to read
 * what the configuration names (CA bundles).  Regular files only, read
 * without blocking: a FIFO or a device would hold the parent.  NULL
 * with errno (EINVAL: not a regular file; EFBIG: larger than max).
 */
char *
config_read_file(const char *path, size_t max, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, size = 0;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	for (;;) {
		if (len == size) {
			if (size >= max) {
				errno = EFBIG;
				goto fail;
			}
			size = size == 0 ? 256 * 1024 : size * 2;
			if (size > max)
				size = max;
			if ((nbuf = realloc(buf, size)) == NULL)
				goto fail;
			buf = nbuf;
		}
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	*lenp = len;
	return (buf);
 fail:
	saved = errno;
	close(fd);
	free(buf);
	errno = saved;
	return (NULL);
}

/*
 * The messages.  Every object that crosses a socketpair is composed by
 * its sender with config_setX() and taken off the wire by its receiver
 * with config_getX(), side by side here.  imsg_check() has already held
 * the message against the table (sender, receiver, size); a get checks
 * what the table cannot: strings end, numbers are in range.  A set
 * returns -1 when the peer's queue is full, and the caller decides what
 * that means for the peer.
 */

int
config_setglobal(struct imsgev *iev, const struct portero_config *conf)
{
	return (imsgev_compose(iev, IMSG_CFG_GLOBAL, 0, 0, -1, conf,
	    sizeof(*conf)));
}

int
config_getglobal(struct portero_config *conf, const struct imsg *imsg)
{
	uint32_t	 i;

	if (imsg->len != sizeof(*conf))
		return (-1);
	memcpy(conf, imsg->data, sizeof(*conf));
	if (conf->nlisteners > PORTERO_MAX_LISTENERS)
		return (-1);
	for (i = 0; i < conf->nlisteners; i++)
		conf->listeners[i].ln_addr[LISTEN_ADDR_MAX - 1] = '\0';
	conf->listen_addr[sizeof(conf->listen_addr) - 1] = '\0';
	conf->register_addr[sizeof(conf->register_addr) - 1] = '\0';
	conf->control_socket[sizeof(conf->control_socket) - 1] = '\0';
	conf->state_dir[sizeof(conf->state_dir) - 1] = '\0';
	conf->chroot_dir[sizeof(conf->chroot_dir) - 1] = '\0';
	conf->cert_dir[sizeof(conf->cert_dir) - 1] = '\0';
	conf->user[sizeof(conf->user) - 1] = '\0';
	conf->http_addr[sizeof(conf->http_addr) - 1] = '\0';
	conf->metrics_addr[sizeof(conf->metrics_addr) - 1] = '\0';
	conf->default_sni[sizeof(conf->default_sni) - 1] = '\0';
	conf->default_service[sizeof(conf->default_service) - 1] = '\0';
	conf->upstream_ca[sizeof(conf->upstream_ca) - 1] = '\0';
	conf->access_log[sizeof(conf->access_log) - 1] = '\0';
	conf->tls_ciphers[sizeof(conf->tls_ciphers) - 1] = '\0';
	conf->tls_ciphersuites[sizeof(conf->tls_ciphersuites) - 1] = '\0';
	conf->tls_groups[sizeof(conf->tls_groups) - 1] = '\0';
	conf->register_secret_file[sizeof(conf->register_secret_file) - 1] =
	    '\0';
	conf->jwt_key_file[sizeof(conf->jwt_key_file) - 1] = '\0';
	conf->jwt_prevkey_file[sizeof(conf->jwt_prevkey_file) - 1] = '\0';
	conf->jwt_issuer[sizeof(conf->jwt_issuer) - 1] = '\0';
	conf->jwt_audience[sizeof(conf->jwt_audience) - 1] = '\0';
	if (conf->workers < 1 || conf->workers > PORTERO_MAX_WORKERS ||
	    conf->register_nallow > REG_ALLOW_MAX ||
	    conf->forwarders_field > FWD_FIELD_REAL_IP ||
	    conf->access_log_format > LOG_FORMAT_LTSV)
		return (-1);
	return (0);
}

/* The channel closes what it sends: the sender keeps its own copy. */
int
config_setlistener(struct imsgev *iev, int fd, enum listener_kind kind,
    unsigned int index, const char *addr)
{
	struct listener_msg	 lm;
	int			 dupfd;

	memset(&lm, 0, sizeof(lm));
	lm.kind = kind;
	lm.index = index;
	(void)strlcpy(lm.addr, addr, sizeof(lm.addr));
	if ((dupfd = dup(fd)) == -1)
		return (-1);
	if (imsgev_compose(iev, IMSG_CFG_LISTENER, 0, 0, dupfd, &lm,
	    sizeof(lm)) == -1) {
		close(dupfd);
		return (-1);
	}
	return (0);
}

int
config_getlistener(const struct imsg *imsg, struct listener_msg *lm)
{
	if (imsg->len != sizeof(*lm) || imsg->fd == -1)
		return (-1);
	memcpy(lm, imsg->data, sizeof(*lm));
	lm->addr[sizeof(lm->addr) - 1] = '\0';
	if ((lm->kind != LISTENER_PROXY && lm->kind != LISTENER_REGISTER &&
	    lm->kind != LISTENER_HTTP && lm->kind != LISTENER_METRICS) ||
	    lm->index >= PORTERO_MAX_LISTENERS)
		return (-1);
	return (0);
}

int
config_setbackend(struct imsgev *iev, const struct backend_conf *be)
{
	return (imsgev_compose(iev, IMSG_CFG_BACKEND, 0, 0, -1, be,
	    sizeof(*be)));
}

static int
config_sockaddr_ok(const struct sockaddr_storage *ss, uint32_t sslen)
{
	if (ss->ss_family == AF_INET)
		return (sslen == sizeof(struct sockaddr_in));
	if (ss->ss_family == AF_INET6)
		return (sslen == sizeof(struct sockaddr_in6));
	return (0);
}

int
config_getbackend(const struct imsg *imsg, struct backend_conf *be)
{
	if (imsg->len != sizeof(*be))
		return (-1);
	memcpy(be, imsg->data, sizeof(*be));
	be->be_service[sizeof(be->be_service) - 1] = '\0';
	be->be_host[sizeof(be->be_host) - 1] = '\0';
	if (be->be_service[0] == '\0' || be->be_weight < 1 ||
	    be->be_weight > BACKEND_WEIGHT_MAX ||
	    !config_sockaddr_ok(&be->be_ss, be->be_sslen))
		return (-1);
	return (0);
}

/*
 * A small head, then strings, each NUL-terminated: how locations and
 * header operations travel.  NULL goes as "".
 */
static int
config_pack(struct imsgev *iev, uint32_t type, const void *head,
    size_t headlen, const char *const *strs, int nstrs)
{
	unsigned char	 buf[IMSG_MAX_PAYLOAD];
	size_t		 off = headlen, len;
	int		 i;

	memcpy(buf, head, headlen);
	for (i = 0; i < nstrs; i++) {
		len = strlen(strs[i] != NULL ? strs[i] : "") + 1;
		if (off + len > sizeof(buf)) {
			errno = EMSGSIZE;
			return (-1);
		}
		memcpy(buf + off, strs[i] != NULL ? strs[i] : "", len);
		off += len;
	}
	return (imsgev_compose(iev, type, 0, 0, -1, buf, off));
}

/*
 * The next packed string of imsg from *off, copied; NULL when it does
 * not end inside the message.  An empty one is NULL in *out when
 * nullempty.
 */
static int
config_unpack(const struct imsg *imsg, size_t *off, int nullempty,
    char **out)
{
	const char	*s = (const char *)imsg->data + *off;
	size_t		 len;

	*out = NULL;
	if (*off >= imsg->len ||
	    (len = strnlen(s, imsg->len - *off)) == imsg->len - *off ||
	    len >= CONF_STR_MAX)
		return (-1);
	*off += len + 1;
	if (len == 0 && nullempty)
		return (0);
	if ((*out = strdup(s)) == NULL)
		return (-1);
	return (0);
}

int
config_setserver(struct imsgev *iev, const struct server_conf *sc)
{
	return (imsgev_compose(iev, IMSG_CFG_SERVER, 0, 0, -1, sc,
	    sizeof(*sc)));
}

int
config_getserver(const struct imsg *imsg, struct server_conf *sc)
{
	if (imsg->len != sizeof(*sc))
		return (-1);
	memcpy(sc, imsg->data, sizeof(*sc));
	sc->sc_name[sizeof(sc->sc_name) - 1] = '\0';
	sc->sc_subject_field[sizeof(sc->sc_subject_field) - 1] = '\0';
	sc->sc_fingerprint_field[sizeof(sc->sc_fingerprint_field) - 1] =
	    '\0';
	if (sc->sc_forwarded > FORWARDED_BOTH ||
	    sc->sc_verify > PTLS_VERIFY_REQUIRED ||
	    sc->sc_clientca >= CLIENT_CA_FILES)
		return (-1);
	return (0);
}

int
config_setname(struct imsgev *iev, const struct server_name *sn)
{
	return (imsgev_compose(iev, IMSG_CFG_NAME, 0, 0, -1, sn,
	    sizeof(*sn)));
}

/* nservers: how many servers have come; a name follows its server. */
int
config_getname(const struct imsg *imsg, struct server_name *sn,
    uint32_t nservers)
{
	if (imsg->len != sizeof(*sn))
		return (-1);
	memcpy(sn, imsg->data, sizeof(*sn));
	sn->sn_name[sizeof(sn->sn_name) - 1] = '\0';
	if (sn->sn_server >= nservers || sn->sn_name[0] == '\0')
		return (-1);
	return (0);
}

int
config_setlocation(struct imsgev *iev, const struct location *lo)
{
	struct location_msg	 lm;
	const char		*strs[LOCATION_STRINGS];

	memset(&lm, 0, sizeof(lm));
	lm.lm_server = lo->lo_server;
	lm.lm_match = lo->lo_match;
	lm.lm_action = lo->lo_action;
	lm.lm_status = lo->lo_status;
	lm.lm_nstr = LOCATION_STRINGS;
	strs[0] = lo->lo_path;
	strs[1] = lo->lo_pool;
	strs[2] = lo->lo_target;
	strs[3] = lo->lo_strip;
	strs[4] = lo->lo_prefix;
	return (config_pack(iev, IMSG_CFG_LOCATION, &lm, sizeof(lm), strs,
	    LOCATION_STRINGS));
}

/* Into lo, which owns its strings from then on, even on failure. */
int
config_getlocation(const struct imsg *imsg, struct location *lo,
    uint32_t nservers)
{
	struct location_msg	 lm;
	size_t			 off = sizeof(lm);

	memset(lo, 0, sizeof(*lo));
	if (imsg->len < sizeof(lm))
		return (-1);
	memcpy(&lm, imsg->data, sizeof(lm));
	if (lm.lm_nstr != LOCATION_STRINGS || lm.lm_server >= nservers ||
	    lm.lm_match > LOC_EXACT || lm.lm_action > LOC_BLOCK)
		return (-1);
	lo->lo_server = lm.lm_server;
	lo->lo_match = lm.lm_match;
	lo->lo_action = lm.lm_action;
	lo->lo_status = lm.lm_status;
	if (config_unpack(imsg, &off, 0, &lo->lo_path) == -1 ||
	    config_unpack(imsg, &off, 1, &lo->lo_pool) == -1 ||
	    config_unpack(imsg, &off, 1, &lo->lo_target) == -1 ||
	    config_unpack(imsg, &off, 1, &lo->lo_strip) == -1 ||
	    config_unpack(imsg, &off, 0, &lo->lo_prefix) == -1 ||
	    off != imsg->len)
		return (-1);
	lo->lo_pathlen = strlen(lo->lo_path);
	if ((lo->lo_action == LOC_FORWARD && lo->lo_pool == NULL) ||
	    (lo->lo_action == LOC_REDIRECT && lo->lo_target == NULL))
		return (-1);
	return (0);
}

int
config_setheader(struct imsgev *iev, const struct header_op *ho)
{
	struct header_msg	 hm;
	const char		*strs[2];

	memset(&hm, 0, sizeof(hm));
	hm.hm_server = ho->ho_server;
	hm.hm_location = ho->ho_location;
	hm.hm_dir = ho->ho_dir;
	hm.hm_verb = ho->ho_verb;
	strs[0] = ho->ho_name;
	strs[1] = ho->ho_value;
	return (config_pack(iev, IMSG_CFG_HEADER, &hm, sizeof(hm), strs, 2));
}

/* Into ho, which owns its strings from then on, even on failure. */
int
config_getheader(const struct imsg *imsg, struct header_op *ho,
    uint32_t nservers, uint32_t nlocations)
{
	struct header_msg	 hm;
	size_t			 off = sizeof(hm);

	memset(ho, 0, sizeof(*ho));
	if (imsg->len < sizeof(hm))
		return (-1);
	memcpy(&hm, imsg->data, sizeof(hm));
	if (hm.hm_server >= nservers || (hm.hm_location != CONF_NONE &&
	    hm.hm_location >= nlocations) || hm.hm_dir > HDR_RESPONSE ||
	    hm.hm_verb > HDR_REMOVE)
		return (-1);
	ho->ho_server = hm.hm_server;
	ho->ho_location = hm.hm_location;
	ho->ho_dir = hm.hm_dir;
	ho->ho_verb = hm.hm_verb;
	if (config_unpack(imsg, &off, 0, &ho->ho_name) == -1 ||
	    config_unpack(imsg, &off, 0, &ho->ho_value) == -1 ||
	    off != imsg->len || ho->ho_name[0] == '\0')
		return (-1);
	ho->ho_namelen = strlen(ho->ho_name);
	return (0);
}

int
config_setpool(struct imsgev *iev, const struct pool_conf *pl)
{
	return (imsgev_compose(iev, IMSG_CFG_POOL, 0, 0, -1, pl,
	    sizeof(*pl)));
}

/* A pool's balancing as the parser made it, or -1. */
static int
config_checkbalance(struct balance_conf *ba)
{
	ba->ba_keyname[sizeof(ba->ba_keyname) - 1] = '\0';
	ba->ba_cookie[sizeof(ba->ba_cookie) - 1] = '\0';
	if (ba->ba_mode > BALANCE_HASH || ba->ba_key > BALANCE_KEY_COOKIE ||
	    (ba->ba_sticky && ba->ba_cookie[0] == '\0') ||
	    (ba->ba_mode == BALANCE_HASH && ba->ba_key != BALANCE_KEY_ADDRESS &&
	    ba->ba_keyname[0] == '\0'))
		return (-1);
	return (0);
}

int
config_getpool(const struct imsg *imsg, struct pool_conf *pl)
{
	if (imsg->len != sizeof(*pl))
		return (-1);
	memcpy(pl, imsg->data, sizeof(*pl));
	pl->pl_name[sizeof(pl->pl_name) - 1] = '\0';
	pl->pl_tls_name[sizeof(pl->pl_tls_name) - 1] = '\0';
	if (pl->pl_name[0] == '\0' || pl->pl_retry > RETRY_IDEMPOTENT ||
	    pl->pl_tls_ca > POOL_CA_FILES ||
	    pl->pl_tls_cert > POOL_CERT_PAIRS)
		return (-1);
	if (pl->pl_check.ck_type != CHECK_NONE &&
	    config_check_ok(&pl->pl_check) == -1)
		return (-1);
	return (config_checkbalance(&pl->pl_balance));
}

int
config_setnet(struct imsgev *iev, const struct net_conf *nc)
{
	return (imsgev_compose(iev, IMSG_CFG_NET, 0, 0, -1, nc,
	    sizeof(*nc)));
}

int
config_getnet(const struct imsg *imsg, struct net_conf *nc)
{
	const struct reg_net	*rn = &nc->nc_net;

	if (imsg->len != sizeof(*nc))
		return (-1);
	memcpy(nc, imsg->data, sizeof(*nc));
	if (nc->nc_list >= NET_LISTS || nc->nc_list == NET_PENDING)
		return (-1);
	if (!(rn->rn_family == AF_INET && rn->rn_prefix <= 32) &&
	    !(rn->rn_family == AF_INET6 && rn->rn_prefix <= 128))
		return (-1);
	return (0);
}

/*
 * An end of a worker's socketpair to the logger: to the worker, or to
 * the logger with the worker's number.  The channel closes fd once sent.
 */
int
config_setlogsocket(struct imsgev *iev, uint32_t worker, int fd)
{
	return (imsgev_compose(iev, IMSG_LOG_SOCKET, worker, 0, fd, NULL, 0));
}

/* The descriptor, now the caller's. */
int
config_getlogsocket(const struct imsg *imsg)
{
	return (imsg->fd);
}

/* The access log file, to the logger: a copy, the parent keeps its own. */
int
config_setlogfile(struct imsgev *iev, int fd)
{
	int	 dupfd;

	if ((dupfd = dup(fd)) == -1)
		return (-1);
	if (imsgev_compose(iev, IMSG_LOG_FILE, 0, 0, dupfd, NULL, 0) == -1) {
		close(dupfd);
		return (-1);
	}
	return (0);
}

int
config_getlogfile(const struct imsg *imsg)
{
	return (imsg->fd);
}

int
config_setloggerstats(struct imsgev *iev, const struct logger_stats *ls)
{
	return (imsgev_compose(iev, IMSG_LOG_STATS, 0, 0, -1, ls,
	    sizeof(*ls)));
}

int
config_getloggerstats(const struct imsg *imsg, struct logger_stats *ls)
{
	if (imsg->len != sizeof(*ls))
		return (-1);
	memcpy(ls, imsg->data, sizeof(*ls));
	return (0);
}

int
config_setverbose(struct imsgev *iev, uint32_t type, int32_t verbose)
{
	return (imsgev_compose(iev, type, 0, 0, -1, &verbose,
	    sizeof(verbose)));
}

int
config_getverbose(const struct imsg *imsg, int32_t *verbose)
{
	if (imsg->len != sizeof(*verbose))
		return (-1);
	memcpy(verbose, imsg->data, sizeof(*verbose));
	if (*verbose < 0 || *verbose > 3)
		return (-1);
	return (0);
}

int
config_setticket(struct imsgev *iev, const struct ticket_key_msg *tk)
{
	return (imsgev_compose(iev, IMSG_TLS_TICKET_KEY, 0, 0, -1, tk,
	    sizeof(*tk)));
}

int
config_getticket(const struct imsg *imsg, struct ticket_key_msg *tk)
{
	if (imsg->len != sizeof(*tk))
		return (-1);
	memcpy(tk, imsg->data, sizeof(*tk));
	return (0);
}

/*
 * A certificate set: BEGIN, then per pair its header (CERT_ADD) and its
 * bytes in chunks (CERT_DATA), then END; each message acknowledged.
 */
int
config_setcertbegin(struct imsgev *iev, uint32_t peerid,
    const struct cert_begin *cb)
{
	return (imsgev_compose(iev, IMSG_CERT_BEGIN, peerid, 0, -1, cb,
	    sizeof(*cb)));
}

int
config_getcertbegin(const struct imsg *imsg, struct cert_begin *cb)
{
	if (imsg->len != sizeof(*cb))
		return (-1);
	memcpy(cb, imsg->data, sizeof(*cb));
	if (cb->cb_npairs > CERT_MAX_DOMAINS || cb->cb_bytes > CERT_SET_MAX)
		return (-1);
	return (0);
}

int
config_setcert(struct imsgev *iev, uint32_t peerid, const struct cert_msg *cm)
{
	return (imsgev_compose(iev, IMSG_CERT_ADD, peerid, 0, -1, cm,
	    sizeof(*cm)));
}

int
config_getcert(const struct imsg *imsg, struct cert_msg *cm)
{
	if (imsg->len != sizeof(*cm))
		return (-1);
	memcpy(cm, imsg->data, sizeof(*cm));
	if (memchr(cm->cm_domain, '\0', sizeof(cm->cm_domain)) == NULL ||
	    cm->cm_domain[0] == '\0')
		return (-1);
	if (cm->cm_names_len == 0 || cm->cm_cert_len == 0 ||
	    cm->cm_key_len == 0 || cm->cm_names_len > CERT_MAX_BYTES ||
	    cm->cm_cert_len > CERT_MAX_BYTES ||
	    cm->cm_key_len > CERT_MAX_BYTES ||
	    cm->cm_ocsp_len > CERT_MAX_BYTES ||
	    (uint64_t)cm->cm_names_len + cm->cm_cert_len + cm->cm_key_len +
	    cm->cm_ocsp_len > CERT_MAX_BYTES)
		return (-1);
	return (0);
}

int
config_setcertdata(struct imsgev *iev, uint32_t peerid, const void *data,
    size_t len)
{
	return (imsgev_compose(iev, IMSG_CERT_DATA, peerid, 0, -1, data,
	    len));
}

int
config_getcertdata(const struct imsg *imsg, const void **data, size_t *len)
{
	if (imsg->len == 0 || imsg->len > IMSG_MAX_PAYLOAD)
		return (-1);
	*data = imsg->data;
	*len = imsg->len;
	return (0);
}

int
config_setcertend(struct imsgev *iev, uint32_t peerid)
{
	return (imsgev_compose(iev, IMSG_CERT_END, peerid, 0, -1, NULL, 0));
}

int
config_setcertack(struct imsgev *iev, const struct cert_ack *ca)
{
	return (imsgev_compose(iev, IMSG_CERT_ACK, 0, 0, -1, ca,
	    sizeof(*ca)));
}

int
config_getcertack(const struct imsg *imsg, struct cert_ack *ca)
{
	if (imsg->len != sizeof(*ca))
		return (-1);
	memcpy(ca, imsg->data, sizeof(*ca));
	return (0);
}

int
config_sethealth(struct imsgev *iev, const struct backend_health *bh)
{
	return (imsgev_compose(iev, IMSG_BACKEND_HEALTH, 0, 0, -1, bh,
	    sizeof(*bh)));
}

int
config_gethealth(const struct imsg *imsg, struct backend_health *bh)
{
	if (imsg->len != sizeof(*bh))
		return (-1);
	memcpy(bh, imsg->data, sizeof(*bh));
	bh->bh_service[sizeof(bh->bh_service) - 1] = '\0';
	/* a reset is for every backend: it names none */
	if ((bh->bh_event == BH_RESET ? bh->bh_sslen != 0 :
	    !config_sockaddr_ok(&bh->bh_ss, bh->bh_sslen)) ||
	    bh->bh_backoff_ms > BACKEND_BACKOFF_MAX_MS ||
	    bh->bh_rest_ms > BACKEND_BACKOFF_MAX_MS ||
	    bh->bh_event > BH_RESET || bh->bh_tls > 1 || bh->bh_all > 1)
		return (-1);
	return (0);
}

/*
 * A verdict of the owner of backend health, to one worker (peerid) or
 * HEALTH_ALL_WORKERS; taken off the wire with config_gethealth().
 */
int
config_setverdict(struct imsgev *iev, uint32_t peerid,
    const struct backend_health *bh)
{
	return (imsgev_compose(iev, IMSG_BACKEND_VERDICT, peerid, 0, -1, bh,
	    sizeof(*bh)));
}

/*
 * A registered backend, as the registrar sends it and the parent relays
 * it (type: REG_UPSERT, REG_REMOVE, REG_SNAP).
 */
int
config_setreg(struct imsgev *iev, uint32_t type, const struct reg_backend *rb)
{
	return (imsgev_compose(iev, type, 0, 0, -1, rb, sizeof(*rb)));
}

int
config_getreg(const struct imsg *imsg, struct reg_backend *rb)
{
	if (imsg->len != sizeof(*rb))
		return (-1);
	memcpy(rb, imsg->data, sizeof(*rb));
	rb->rb_service[sizeof(rb->rb_service) - 1] = '\0';
	rb->rb_host[sizeof(rb->rb_host) - 1] = '\0';
	if (rb->rb_service[0] == '\0' || rb->rb_port == 0 ||
	    !config_sockaddr_ok(&rb->rb_ss, rb->rb_sslen))
		return (-1);
	return (0);
}

/* An update number: REG_DONE, REG_ACK. */
int
config_setseq(struct imsgev *iev, uint32_t type, uint32_t seq)
{
	return (imsgev_compose(iev, type, 0, 0, -1, &seq, sizeof(seq)));
}

int
config_getseq(const struct imsg *imsg, uint32_t *seq)
{
	if (imsg->len != sizeof(*seq))
		return (-1);
	memcpy(seq, imsg->data, sizeof(*seq));
	return (0);
}

/* The registrar's secrets: freezero'd in the queue once sent. */
int
config_setsecrets(struct imsgev *iev, const struct reg_secrets *rs)
{
	return (imsgev_compose(iev, IMSG_CFG_SECRETS, 0, 0, -1, rs,
	    sizeof(*rs)));
}

int
config_getsecrets(const struct imsg *imsg, struct reg_secrets *rs)
{
	if (imsg->len != sizeof(*rs))
		return (-1);
	memcpy(rs, imsg->data, sizeof(*rs));
	if (rs->rs_secret_len > REG_SECRET_MAX ||
	    rs->rs_key_len > REG_SECRET_MAX ||
	    rs->rs_prevkey_len > REG_SECRET_MAX) {
		explicit_bzero(rs, sizeof(*rs));
		return (-1);
	}
	return (0);
}

int
config_setstats(struct imsgev *iev, uint32_t peerid,
    const struct worker_stats *ws)
{
	return (imsgev_compose(iev, IMSG_STATS, peerid, 0, -1, ws,
	    sizeof(*ws)));
}

int
config_getstats(const struct imsg *imsg, struct worker_stats *ws)
{
	if (imsg->len != sizeof(*ws))
		return (-1);
	memcpy(ws, imsg->data, sizeof(*ws));
	return (0);
}

/*
 * A scrape's fixed records (metrics.c, wmetrics.c): the table checks
 * their size before dispatch; each getter copies one whole.
 */
int
config_setmet(struct imsgev *iev, uint32_t type, uint32_t seq,
    const void *rec, size_t len)
{
	return (imsgev_compose(iev, type, seq, 0, -1, rec, len));
}

int
config_getmet(const struct imsg *imsg, void *rec, size_t len)
{
	if (imsg->len != len)
		return (-1);
	memcpy(rec, imsg->data, len);
	return (0);
}

/*
 * A service's or a backend's record: a fixed head, the histograms it
 * has, then names of the lengths the head gives, unterminated.
 */
#define MET_REC_MAX	(sizeof(struct met_backend) + \
			    2 * sizeof(struct met_hist) + NAME_MAX_LEN + \
			    MET_ADDR_MAX)

static int
config_metput(unsigned char *buf, size_t *off, const void *p, size_t len)
{
	if (*off + len > MET_REC_MAX) {
		errno = EMSGSIZE;
		return (-1);
	}
	memcpy(buf + *off, p, len);
	*off += len;
	return (0);
}

/* A name of len bytes at *off, NUL-terminated into dst of size bytes. */
static int
config_metname(const struct imsg *imsg, size_t *off, size_t len,
    char *dst, size_t size)
{
	if (len >= size || *off + len > imsg->len ||
	    memchr((const char *)imsg->data + *off, '\0', len) != NULL)
		return (-1);
	memcpy(dst, (const char *)imsg->data + *off, len);
	dst[len] = '\0';
	*off += len;
	return (0);
}

int
config_setmetservice(struct imsgev *iev, uint32_t seq,
    const struct met_service *ms, const struct met_hist *hist,
    const char *name)
{
	unsigned char		 buf[MET_REC_MAX];
	struct met_service	 m = *ms;
	size_t			 off = 0;

	m.ms_hashist = hist != NULL;
	m.ms_namelen = strlen(name);
	if (config_metput(buf, &off, &m, sizeof(m)) == -1 ||
	    (hist != NULL && config_metput(buf, &off, hist,
	    sizeof(*hist)) == -1) ||
	    config_metput(buf, &off, name, m.ms_namelen) == -1)
		return (-1);
	return (imsgev_compose(iev, IMSG_MET_SERVICE, seq, 0, -1, buf, off));
}

/* hist: zero unless it came; name: NAME_MAX_LEN bytes. */
int
config_getmetservice(const struct imsg *imsg, struct met_service *ms,
    struct met_hist *hist, char *name)
{
	size_t	 off = sizeof(*ms);

	memset(hist, 0, sizeof(*hist));
	if (imsg->len < sizeof(*ms))
		return (-1);
	memcpy(ms, imsg->data, sizeof(*ms));
	if (ms->ms_hashist > 1)
		return (-1);
	if (ms->ms_hashist) {
		if (imsg->len < off + sizeof(*hist))
			return (-1);
		memcpy(hist, (const char *)imsg->data + off, sizeof(*hist));
		off += sizeof(*hist);
	}
	if (config_metname(imsg, &off, ms->ms_namelen, name,
	    NAME_MAX_LEN) == -1 || off != imsg->len)
		return (-1);
	return (0);
}

int
config_setmetbackend(struct imsgev *iev, uint32_t seq,
    const struct met_backend *mb, const struct met_hist *connect,
    const struct met_hist *response, const char *service, const char *addr)
{
	unsigned char		 buf[MET_REC_MAX];
	struct met_backend	 m = *mb;
	size_t			 off = 0;

	m.mb_hists = (connect != NULL ? MET_HB_CONNECT : 0) |
	    (response != NULL ? MET_HB_RESPONSE : 0);
	m.mb_namelen = strlen(service);
	m.mb_addrlen = strlen(addr);
	if (config_metput(buf, &off, &m, sizeof(m)) == -1 ||
	    (connect != NULL && config_metput(buf, &off, connect,
	    sizeof(*connect)) == -1) ||
	    (response != NULL && config_metput(buf, &off, response,
	    sizeof(*response)) == -1) ||
	    config_metput(buf, &off, service, m.mb_namelen) == -1 ||
	    config_metput(buf, &off, addr, m.mb_addrlen) == -1)
		return (-1);
	return (imsgev_compose(iev, IMSG_MET_BACKEND, seq, 0, -1, buf, off));
}

/*
 * hists: two, connect and response, zero unless they came; service:
 * NAME_MAX_LEN bytes; addr: MET_ADDR_MAX.
 */
int
config_getmetbackend(const struct imsg *imsg, struct met_backend *mb,
    struct met_hist *hists, char *service, char *addr)
{
	size_t		 off = sizeof(*mb);
	unsigned int	 i;

	memset(hists, 0, 2 * sizeof(*hists));
	if (imsg->len < sizeof(*mb))
		return (-1);
	memcpy(mb, imsg->data, sizeof(*mb));
	if (mb->mb_up < -1 || mb->mb_up > 1 ||
	    (mb->mb_hists & ~(MET_HB_CONNECT | MET_HB_RESPONSE)) != 0)
		return (-1);
	for (i = 0; i < 2; i++) {
		if ((mb->mb_hists & (1U << i)) == 0)
			continue;
		if (imsg->len < off + sizeof(*hists))
			return (-1);
		memcpy(&hists[i], (const char *)imsg->data + off,
		    sizeof(*hists));
		off += sizeof(*hists);
	}
	if (config_metname(imsg, &off, mb->mb_namelen, service,
	    NAME_MAX_LEN) == -1 || config_metname(imsg, &off,
	    mb->mb_addrlen, addr, MET_ADDR_MAX) == -1 || off != imsg->len)
		return (-1);
	return (0);
}

/*
 * A page of "show backends" into dst: its head, which holds the count
 * (*n, once copied), then that many entries of each bytes, and no more.
 */
static int
config_getpage(const struct imsg *imsg, void *dst, size_t head, size_t each,
    const uint32_t *n)
{
	if (imsg->len < head)
		return (-1);
	memcpy(dst, imsg->data, head);
	if (*n > BACKENDS_PAGE || imsg->len != head + *n * each)
		return (-1);
	memcpy((char *)dst + head, (const char *)imsg->data + head,
	    *n * each);
	return (0);
}

/* The parent names the backends of a page ... */
int
config_getbackendsreq(const struct imsg *imsg, struct backends_req *br)
{
	uint32_t	 i;

	memset(br, 0, sizeof(*br));
	if (config_getpage(imsg, br, offsetof(struct backends_req, br_keys),
	    sizeof(br->br_keys[0]), &br->br_n) == -1)
		return (-1);
	for (i = 0; i < br->br_n; i++)
		if (memchr(br->br_keys[i].bk_service, '\0',
		    sizeof(br->br_keys[i].bk_service)) == NULL ||
		    br->br_keys[i].bk_sslen > sizeof(br->br_keys[i].bk_ss))
			return (-1);
	return (0);
}

/* ... and a worker's counters for each of them. */
int
config_setbackends(struct imsgev *iev, uint32_t peerid,
    const struct backends_stats *bss)
{
	return (imsgev_compose(iev, IMSG_BACKENDS, peerid, 0, -1, bss,
	    offsetof(struct backends_stats, bss_stats) +
	    bss->bss_n * sizeof(bss->bss_stats[0])));
}

int
config_getbackends(const struct imsg *imsg, struct backends_stats *bss)
{
	memset(bss, 0, sizeof(*bss));
	return (config_getpage(imsg, bss, offsetof(struct backends_stats,
	    bss_stats), sizeof(bss->bss_stats[0]), &bss->bss_n));
}

/*
 * The upstream CA bundle, parent -> worker: its description, the bytes
 * in chunks a message can hold, the end.
 */
int
config_setupstreamca(struct imsgev *iev, const struct upstream_ca_msg *uc,
    const char *ca)
{
	size_t	 off, n;

	if (imsgev_compose(iev, IMSG_UPSTREAM_CA, 0, 0, -1, uc,
	    sizeof(*uc)) == -1)
		return (-1);
	for (off = 0; off < uc->uc_len; off += n) {
		n = uc->uc_len - off;
		if (n > IMSG_MAX_PAYLOAD)
			n = IMSG_MAX_PAYLOAD;
		if (imsgev_compose(iev, IMSG_UPSTREAM_CA_DATA, 0, 0, -1,
		    ca + off, n) == -1)
			return (-1);
	}
	return (imsgev_compose(iev, IMSG_UPSTREAM_CA_END, 0, 0, -1, NULL,
	    0));
}

int
config_getupstreamca(const struct imsg *imsg, struct upstream_ca_msg *uc)
{
	if (imsg->len != sizeof(*uc))
		return (-1);
	memcpy(uc, imsg->data, sizeof(*uc));
	if (memchr(uc->uc_path, '\0', sizeof(uc->uc_path)) == NULL ||
	    uc->uc_verify > 1 || uc->uc_len > UPSTREAM_CA_MAX ||
	    (uc->uc_verify && uc->uc_len == 0) ||
	    (!uc->uc_verify && uc->uc_len != 0))
		return (-1);
	return (0);
}

int
config_getupstreamcadata(const struct imsg *imsg, const void **data,
    size_t *len)
{
	if (imsg->len == 0 || imsg->len > IMSG_MAX_PAYLOAD)
		return (-1);
	*data = imsg->data;
	*len = imsg->len;
	return (0);
}

/*
 * A backend to check, parent -> health child (type: CFG_CHECK with a
 * configuration, CHECK_ADD or CHECK_REMOVE for registered backends).
 */
int
config_setcheck(struct imsgev *iev, uint32_t type,
    const struct check_target *ct)
{
	return (imsgev_compose(iev, type, 0, 0, -1, ct, sizeof(*ct)));
}

/* Settings a check can run with; 0 or -1. */
int
config_check_ok(const struct check_conf *ck)
{
	if (ck->ck_type < CHECK_TCP || ck->ck_type > CHECK_HTTP ||
	    ck->ck_interval_ms < CHECK_MIN_MS ||
	    ck->ck_interval_ms > CHECK_MAX_MS ||
	    ck->ck_timeout_ms < CHECK_MIN_MS ||
	    ck->ck_timeout_ms > ck->ck_interval_ms ||
	    ck->ck_rise < 1 || ck->ck_rise > CHECK_COUNT_MAX ||
	    ck->ck_fall < 1 || ck->ck_fall > CHECK_COUNT_MAX ||
	    memchr(ck->ck_path, '\0', sizeof(ck->ck_path)) == NULL)
		return (-1);
	if (ck->ck_type == CHECK_HTTP && (ck->ck_path[0] != '/' ||
	    ck->ck_path[strcspn(ck->ck_path, " \t\r\n")] != '\0' ||
	    ck->ck_status < 100 || ck->ck_status > 599))
		return (-1);
	return (0);
}

int
config_getcheck(const struct imsg *imsg, struct check_target *ct)
{
	if (imsg->len != sizeof(*ct))
		return (-1);
	memcpy(ct, imsg->data, sizeof(*ct));
	if (memchr(ct->ct_service, '\0', sizeof(ct->ct_service)) == NULL ||
	    memchr(ct->ct_name, '\0', sizeof(ct->ct_name)) == NULL ||
	    memchr(ct->ct_host, '\0', sizeof(ct->ct_host)) == NULL ||
	    ct->ct_host[strcspn(ct->ct_host, " \t\r\n")] != '\0' ||
	    !config_sockaddr_ok(&ct->ct_ss, ct->ct_sslen) ||
	    ct->ct_tls > 1 || ct->ct_registered > 1 ||
	    ct->ct_tls_ca > POOL_CA_FILES ||
	    config_check_ok(&ct->ct_check) == -1)
		return (-1);
	return (0);
}

/* The health child's answer to a page of "show backends". */
int
config_sethealthstats(struct imsgev *iev, uint32_t peerid,
    const struct health_stats *hss)
{
	return (imsgev_compose(iev, IMSG_HEALTH_STATS, peerid, 0, -1, hss,
	    offsetof(struct health_stats, hss_stats) +
	    hss->hss_n * sizeof(hss->hss_stats[0])));
}

int
config_gethealthstats(const struct imsg *imsg, struct health_stats *hss)
{
	struct health_stat	*hs;
	uint32_t		 i;

	memset(hss, 0, sizeof(*hss));
	if (config_getpage(imsg, hss, offsetof(struct health_stats,
	    hss_stats), sizeof(hss->hss_stats[0]), &hss->hss_n) == -1)
		return (-1);
	for (i = 0; i < hss->hss_n; i++) {
		hs = &hss->hss_stats[i];
		hs->hs_result[sizeof(hs->hs_result) - 1] = '\0';
		if (hs->hs_state > HEALTH_DOWN || hs->hs_type > CHECK_HTTP ||
		    hs->hs_ok > 1)
			return (-1);
	}
	return (0);
}

/*
 * The client CA bundles (mTLS), as the upstream one goes: each bundle
 * then its bytes in chunks, then their number.
 */
int
config_setclientca(struct imsgev *iev, const struct client_ca_set *ccs)
{
	const struct client_ca	*cca;
	struct client_ca_msg	 cam;
	size_t			 off, n;
	uint32_t		 count = ccs->ccs_n;
	unsigned int		 i;

	for (i = 0; i < ccs->ccs_n; i++) {
		cca = &ccs->ccs_ca[i];
		memset(&cam, 0, sizeof(cam));
		cam.cam_index = i;
		cam.cam_len = cca->cca_len;
		(void)strlcpy(cam.cam_path, cca->cca_path,
		    sizeof(cam.cam_path));
		if (imsgev_compose(iev, IMSG_CLIENT_CA, 0, 0, -1, &cam,
		    sizeof(cam)) == -1)
			return (-1);
		for (off = 0; off < cca->cca_len; off += n) {
			n = cca->cca_len - off;
			if (n > IMSG_MAX_PAYLOAD)
				n = IMSG_MAX_PAYLOAD;
			if (imsgev_compose(iev, IMSG_CLIENT_CA_DATA, 0, 0, -1,
			    cca->cca_pem + off, n) == -1)
				return (-1);
		}
	}
	return (imsgev_compose(iev, IMSG_CLIENT_CA_END, 0, 0, -1, &count,
	    sizeof(count)));
}

int
config_getclientca(const struct imsg *imsg, struct client_ca_msg *cam)
{
	if (imsg->len != sizeof(*cam))
		return (-1);
	memcpy(cam, imsg->data, sizeof(*cam));
	if (memchr(cam->cam_path, '\0', sizeof(cam->cam_path)) == NULL ||
	    cam->cam_index >= CLIENT_CA_FILES || cam->cam_len == 0 ||
	    cam->cam_len > CLIENT_CA_FILE_MAX)
		return (-1);
	return (0);
}

int
config_getclientcadata(const struct imsg *imsg, const void **data,
    size_t *len)
{
	if (imsg->len == 0 || imsg->len > IMSG_MAX_PAYLOAD)
		return (-1);
	*data = imsg->data;
	*len = imsg->len;
	return (0);
}

int
config_getclientcaend(const struct imsg *imsg, uint32_t *count)
{
	if (imsg->len != sizeof(*count))
		return (-1);
	memcpy(count, imsg->data, sizeof(*count));
	if (*count > CLIENT_CA_FILES)
		return (-1);
	return (0);
}

/*
 * The pools' CA bundles (tls-ca), parent -> worker and health child, as
 * the client CA bundles go: each bundle then its bytes in chunks, then
 * their number.
 */
int
config_setpoolca(struct imsgev *iev, const struct pool_ca_set *pcs)
{
	const struct pool_ca	*pca;
	struct pool_ca_msg	 pcm;
	size_t			 off, n;
	uint32_t		 count = pcs->pcs_n;
	unsigned int		 i;

	for (i = 0; i < pcs->pcs_n; i++) {
		pca = &pcs->pcs_ca[i];
		memset(&pcm, 0, sizeof(pcm));
		pcm.pcm_index = i;
		pcm.pcm_id = pca->pca_id;
		pcm.pcm_len = pca->pca_len;
		(void)strlcpy(pcm.pcm_path, pca->pca_path,
		    sizeof(pcm.pcm_path));
		if (imsgev_compose(iev, IMSG_POOL_CA, 0, 0, -1, &pcm,
		    sizeof(pcm)) == -1)
			return (-1);
		for (off = 0; off < pca->pca_len; off += n) {
			n = pca->pca_len - off;
			if (n > IMSG_MAX_PAYLOAD)
				n = IMSG_MAX_PAYLOAD;
			if (imsgev_compose(iev, IMSG_POOL_CA_DATA, 0, 0, -1,
			    pca->pca_pem + off, n) == -1)
				return (-1);
		}
	}
	return (imsgev_compose(iev, IMSG_POOL_CA_END, 0, 0, -1, &count,
	    sizeof(count)));
}

int
config_getpoolca(const struct imsg *imsg, struct pool_ca_msg *pcm)
{
	if (imsg->len != sizeof(*pcm))
		return (-1);
	memcpy(pcm, imsg->data, sizeof(*pcm));
	if (memchr(pcm->pcm_path, '\0', sizeof(pcm->pcm_path)) == NULL ||
	    pcm->pcm_index >= POOL_CA_FILES || pcm->pcm_len == 0 ||
	    pcm->pcm_len > POOL_CA_FILE_MAX)
		return (-1);
	return (0);
}

int
config_getpoolcadata(const struct imsg *imsg, const void **data,
    size_t *len)
{
	if (imsg->len == 0 || imsg->len > IMSG_MAX_PAYLOAD)
		return (-1);
	*data = imsg->data;
	*len = imsg->len;
	return (0);
}

int
config_getpoolcaend(const struct imsg *imsg, uint32_t *count)
{
	if (imsg->len != sizeof(*count))
		return (-1);
	memcpy(count, imsg->data, sizeof(*count));
	if (*count > POOL_CA_FILES)
		return (-1);
	return (0);
}

/*
 * Pools' client certificates (poolcert.c).  The parent passes the
 * certloader each file open, one a message, then says how many pairs
 * there were; the certloader sends each pair it has in service, head
 * then cert and key in chunks, then their number, through the parent.
 */
int
config_setpoolcertfile(struct imsgev *iev, const struct pool_cert_file *pkf,
    int fd)
{
	int	 dupfd;

	if ((dupfd = dup(fd)) == -1)
		return (-1);
	if (imsgev_compose(iev, IMSG_POOL_CERT_FILE, 0, 0, dupfd, pkf,
	    sizeof(*pkf)) == -1) {
		close(dupfd);
		return (-1);
	}
	return (0);
}

int
config_getpoolcertfile(const struct imsg *imsg, struct pool_cert_file *pkf)
{
	if (imsg->len != sizeof(*pkf) || imsg->fd == -1)
		return (-1);
	memcpy(pkf, imsg->data, sizeof(*pkf));
	if (memchr(pkf->pkf_path, '\0', sizeof(pkf->pkf_path)) == NULL ||
	    memchr(pkf->pkf_where, '\0', sizeof(pkf->pkf_where)) == NULL ||
	    pkf->pkf_index >= POOL_CERT_PAIRS || pkf->pkf_key > 1 ||
	    pkf->pkf_id == 0)
		return (-1);
	return (0);
}

int
config_setpoolcertfilesend(struct imsgev *iev,
    const struct pool_cert_files_end *pke)
{
	return (imsgev_compose(iev, IMSG_POOL_CERT_FILES_END, 0, 0, -1, pke,
	    sizeof(*pke)));
}

int
config_getpoolcertfilesend(const struct imsg *imsg,
    struct pool_cert_files_end *pke)
{
	if (imsg->len != sizeof(*pke))
		return (-1);
	memcpy(pke, imsg->data, sizeof(*pke));
	if (pke->pke_count > POOL_CERT_PAIRS || pke->pke_start > 1)
		return (-1);
	return (0);
}

/* One pair, to peerid; its key travels as the certificates' keys do. */
int
config_setpoolcert(struct imsgev *iev, uint32_t peerid,
    const struct pool_cert_msg *pkm, const char *cert, const char *key)
{
	const char	*p;
	size_t		 off, n, len;
	int		 part;

	if (imsgev_compose(iev, IMSG_POOL_CERT, peerid, 0, -1, pkm,
	    sizeof(*pkm)) == -1)
		return (-1);
	for (part = 0; part < 2; part++) {
		p = part == 0 ? cert : key;
		len = part == 0 ? pkm->pkm_certlen : pkm->pkm_keylen;
		for (off = 0; off < len; off += n) {
			n = len - off;
			if (n > IMSG_MAX_PAYLOAD)
				n = IMSG_MAX_PAYLOAD;
			if (imsgev_compose(iev, IMSG_POOL_CERT_DATA, peerid, 0,
			    -1, p + off, n) == -1)
				return (-1);
		}
	}
	return (0);
}

int
config_getpoolcert(const struct imsg *imsg, struct pool_cert_msg *pkm)
{
	if (imsg->len != sizeof(*pkm))
		return (-1);
	memcpy(pkm, imsg->data, sizeof(*pkm));
	if (memchr(pkm->pkm_path, '\0', sizeof(pkm->pkm_path)) == NULL ||
	    pkm->pkm_index >= POOL_CERT_PAIRS || pkm->pkm_id == 0 ||
	    pkm->pkm_certlen == 0 || pkm->pkm_certlen > POOL_CERT_FILE_MAX ||
	    pkm->pkm_keylen == 0 || pkm->pkm_keylen > POOL_CERT_FILE_MAX)
		return (-1);
	return (0);
}

int
config_getpoolcertdata(const struct imsg *imsg, const void **data,
    size_t *len)
{
	if (imsg->len == 0 || imsg->len > IMSG_MAX_PAYLOAD)
		return (-1);
	*data = imsg->data;
	*len = imsg->len;
	return (0);
}

int
config_setpoolcertend(struct imsgev *iev, uint32_t peerid, uint32_t count)
{
	return (imsgev_compose(iev, IMSG_POOL_CERT_END, peerid, 0, -1, &count,
	    sizeof(count)));
}

int
config_getpoolcertend(const struct imsg *imsg, uint32_t *count)
{
	if (imsg->len != sizeof(*count))
		return (-1);
	memcpy(count, imsg->data, sizeof(*count));
	if (*count > POOL_CERT_PAIRS)
		return (-1);
	return (0);
}

int
config_setpoolcertfail(struct imsgev *iev, const char *why)
{
	return (imsgev_compose(iev, IMSG_POOL_CERT_FAIL, 0, 0, -1, why,
	    strlen(why) + 1));
}

int
config_getpoolcertfail(const struct imsg *imsg, char *buf, size_t len)
{
	if (imsg->len == 0 || ((const char *)imsg->data)[imsg->len - 1] !=
	    '\0')
		return (-1);
	(void)strlcpy(buf, imsg->data, len);
	return (0);
}
