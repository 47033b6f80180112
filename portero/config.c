/*
 * config.c: the configuration structure, its defaults, how flags fill
 * it, and how a child takes it off the wire.
 */

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

enum {
	OPT_LISTEN_ADDR = 256,
	OPT_REGISTER_ADDR,
	OPT_TLS_CERT_DIR,
	OPT_WORKERS,
	OPT_USER,
	OPT_CHROOT_DIR,
	OPT_STATE_DIR,
	OPT_CONTROL_SOCKET,
	OPT_DRAIN_TIMEOUT,
};

static const struct option config_longopts[] = {
	{ "listen-addr",	required_argument, NULL, OPT_LISTEN_ADDR },
	{ "register-addr",	required_argument, NULL, OPT_REGISTER_ADDR },
	{ "tls-cert-dir",	required_argument, NULL, OPT_TLS_CERT_DIR },
	{ "workers",		required_argument, NULL, OPT_WORKERS },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "chroot-dir",		required_argument, NULL, OPT_CHROOT_DIR },
	{ "state-dir",		required_argument, NULL, OPT_STATE_DIR },
	{ "control-socket",	required_argument, NULL, OPT_CONTROL_SOCKET },
	{ "drain-timeout",	required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ NULL,			0,		   NULL, 0 }
};

void
usage(void)
{
	fprintf(stderr, "usage: portero [-dnv] [--listen-addr addr:port] "
	    "[--register-addr addr:port]\n"
	    "\t[--tls-cert-dir dir] [--workers n] [--user user] "
	    "[--chroot-dir dir]\n"
	    "\t[--state-dir dir] [--control-socket path] "
	    "[--drain-timeout seconds]\n");
	exit(1);
}

void
config_defaults(struct portero_config *conf)
{
	long	 ncpu;

	memset(conf, 0, sizeof(*conf));
	(void)strlcpy(conf->listen_addr, PORTERO_LISTEN_ADDR,
	    sizeof(conf->listen_addr));
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
}

static int
config_setstr(char *dst, size_t dstsize, const char *src, const char *what)
{
	if (*src == '\0') {
		log_warnx("%s: empty value", what);
		return -1;
	}
	if (strlcpy(dst, src, dstsize) >= dstsize) {
		log_warnx("%s: too long", what);
		return -1;
	}
	return 0;
}

static int
config_setnum(uint32_t *dst, const char *src, long long min, long long max,
    const char *what)
{
	const char	*errstr;
	long long	 num;

	num = strtonum(src, min, max, &errstr);
	if (errstr != NULL) {
		log_warnx("%s \"%s\" is %s (%lld-%lld)", what, src, errstr,
		    min, max);
		return -1;
	}
	*dst = num;
	return 0;
}

static int
config_setopt(struct portero_config *conf, int ch, const char *arg)
{
	switch (ch) {
	case OPT_LISTEN_ADDR:
		return config_setstr(conf->listen_addr,
		    sizeof(conf->listen_addr), arg, "--listen-addr");
	case OPT_REGISTER_ADDR:
		return config_setstr(conf->register_addr,
		    sizeof(conf->register_addr), arg, "--register-addr");
	case OPT_TLS_CERT_DIR:
		return config_setstr(conf->cert_dir, sizeof(conf->cert_dir),
		    arg, "--tls-cert-dir");
	case OPT_WORKERS:
		return config_setnum(&conf->workers, arg, 1,
		    PORTERO_MAX_WORKERS, "--workers");
	case OPT_USER:
		return config_setstr(conf->user, sizeof(conf->user), arg,
		    "--user");
	case OPT_CHROOT_DIR:
		return config_setstr(conf->chroot_dir,
		    sizeof(conf->chroot_dir), arg, "--chroot-dir");
	case OPT_STATE_DIR:
		return config_setstr(conf->state_dir, sizeof(conf->state_dir),
		    arg, "--state-dir");
	case OPT_CONTROL_SOCKET:
		return config_setstr(conf->control_socket,
		    sizeof(conf->control_socket), arg, "--control-socket");
	case OPT_DRAIN_TIMEOUT:
		return config_setnum(&conf->drain_timeout, arg, 0, 3600,
		    "--drain-timeout");
	}
	return -1;
}

/*
 * Fill conf from the command line.  Called at start-up and again on
 * reload, so it reports problems and returns -1 instead of exiting.
 */
int
config_parse_args(struct portero_config *conf, int argc, char **argv,
    int *checkonly)
{
	int	 ch, ret = 0;

	*checkonly = 0;
	optind = 0;	/* glibc: start over, as on reload */
#if defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__)
	optreset = 1;
	optind = 1;
#endif
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":dnv", config_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			conf->foreground = 1;
			break;
		case 'n':
			*checkonly = 1;
			break;
		case 'v':
			conf->verbose++;
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
			if (config_setopt(conf, ch, optarg) == -1)
				ret = -1;
			break;
		}
	}
	if (optind < argc) {
		log_warnx("unexpected argument \"%s\"", argv[optind]);
		ret = -1;
	}
	return ret;
}

/* What can be checked without touching the system. */
int
config_check(const struct portero_config *conf)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 ret = 0;

	if (listener_parse(conf->listen_addr, &ss, &sslen) == -1) {
		log_warnx("--listen-addr \"%s\": not a numeric address:port",
		    conf->listen_addr);
		ret = -1;
	}
	if (listener_parse(conf->register_addr, &ss, &sslen) == -1) {
		log_warnx("--register-addr \"%s\": not a numeric address:port",
		    conf->register_addr);
		ret = -1;
	}
	if (strcmp(conf->listen_addr, conf->register_addr) == 0) {
		log_warnx("--listen-addr and --register-addr are the same");
		ret = -1;
	}
	if (conf->control_socket[0] != '/' || conf->state_dir[0] != '/' ||
	    conf->chroot_dir[0] != '/' ||
	    (conf->cert_dir[0] != '\0' && conf->cert_dir[0] != '/')) {
		log_warnx("directories and the control socket need "
		    "absolute paths");
		ret = -1;
	}
	return ret;
}

/* A child takes the configuration off the wire; the parent is trusted
 * but the size and the strings are checked all the same. */
int
config_recv(struct portero_config *conf, const struct imsg *imsg)
{
	if (imsg->len != sizeof(*conf))
		return -1;
	memcpy(conf, imsg->data, sizeof(*conf));
	conf->listen_addr[sizeof(conf->listen_addr) - 1] = '\0';
	conf->register_addr[sizeof(conf->register_addr) - 1] = '\0';
	conf->control_socket[sizeof(conf->control_socket) - 1] = '\0';
	conf->state_dir[sizeof(conf->state_dir) - 1] = '\0';
	conf->chroot_dir[sizeof(conf->chroot_dir) - 1] = '\0';
	conf->cert_dir[sizeof(conf->cert_dir) - 1] = '\0';
	conf->user[sizeof(conf->user) - 1] = '\0';
	if (conf->workers < 1 || conf->workers > PORTERO_MAX_WORKERS)
		return -1;
	return 0;
}
