/*
 * portero.c: the entry point.  The parent parses flags, binds every
 * socket and starts its children; a child re-executed with -P lands here
 * too and is handed to its role's main function.
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
#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

extern char	**environ;

struct portero	*portero_env;

static void	 portero_child(int, char **) __attribute__((noreturn));
static void	 portero_rlimit(void);
static void	 portero_mkdir(const char *, mode_t, const struct passwd *);
static void	 portero_sockets(struct portero *);
static char	*portero_exe(const char *);
static char	**portero_saveargs(int, char **);
static void	 portero_signal(int, short, void *);

int
main(int argc, char *argv[])
{
	struct portero		*env;
	struct portero_config	*conf;
	struct passwd		*pw = NULL;
	struct config_cmdline	 cmd;
	unsigned int		 i;
	const int		 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD,
				    SIGUSR1 };

	/* before getopt reorders argv, which it needs in place */
	proc_title_init(argc, argv, environ);
	if (argc > 1 && strcmp(argv[1], "-P") == 0)
		portero_child(argc, argv);

	if ((env = calloc(1, sizeof(*env))) == NULL)
		err(1, "calloc");
	portero_env = env;
	conf = &env->pc_conf;
	log_init(1, 0, "parent");
	log_setbare(1);
	secrets_from_env(&env->pc_envsecrets);
	if ((env->pc_set = confset_new()) == NULL)
		err(1, "calloc");
	if (config_load(conf, env->pc_set, &env->pc_secrets, argc, argv,
	    &cmd) == -1) {
		if (cmd.file[0] == '\0')
			usage();
		exit(1);
	}
	if (config_check(conf) == -1 || tlsctx_check(conf) == -1 ||
	    secrets_load(conf, &env->pc_secrets, &env->pc_envsecrets) == -1)
		exit(1);
	if (parent_load_ca(env, conf) == -1)
		fatalx("cannot read the upstream CA bundle");
	parent_clientca(env, NULL, env->pc_set);
	log_setbare(0);
	if (cmd.checkonly) {
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}
	env->pc_argc = argc;
	env->pc_argv = portero_saveargs(argc, argv);
	env->pc_exe = portero_exe(argv[0]);

	if (geteuid() == 0) {
		if ((pw = getpwnam(conf->user)) == NULL)
			fatalx("unknown user %s", conf->user);
	} else
		log_warnx("not started as root: children keep uid %d and are "
		    "not chrooted", (int)geteuid());

	if (conf->cert_dir[0] != '\0') {
		struct stat	 st;

		if (stat(conf->cert_dir, &st) == -1 || !S_ISDIR(st.st_mode))
			fatalx("--tls-cert-dir %s: not a directory",
			    conf->cert_dir);
	}
	portero_rlimit();
	portero_mkdir(conf->state_dir, 0700, pw);
	if (pw != NULL)
		portero_mkdir(conf->chroot_dir, 0755, NULL);
	portero_sockets(env);

	log_init(conf->foreground, conf->verbose, "parent");
	if (!conf->foreground && daemon(0, 0) == -1)
		fatal("daemon");
	proc_title("parent");
	clock_gettime(CLOCK_MONOTONIC, &env->pc_started);
	log_info("portero %s starting, %u workers", PORTERO_VERSION,
	    conf->workers);

	event_init();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		signal_set(&env->pc_ev_sigs[i], sigs[i], portero_signal, env);
		signal_add(&env->pc_ev_sigs[i], NULL);
	}
	signal(SIGPIPE, SIG_IGN);

	env->pc_certloader.ch_role = PROC_CERTLOADER;
	env->pc_registrar.ch_role = PROC_REGISTRAR;
	for (i = 0; i < conf->workers; i++) {
		env->pc_workers[i].ch_role = PROC_WORKER;
		env->pc_workers[i].ch_id = i;
	}
	parent_health_init(env);
	parent_init_timers(env);
	regcopy_init(env);
	parent_start_child(env, &env->pc_certloader);
	parent_start_child(env, &env->pc_registrar);
	if (!conf->access_log_off)
		parent_start_child(env, &env->pc_logger);
	parent_start_child(env, &env->pc_metrics);
	for (i = 0; i < conf->workers; i++)
		parent_start_child(env, &env->pc_workers[i]);
	parent_health_update(env);
	control_listen(env);
	parent_rekey(0, 0, env);

	event_dispatch();
	fatalx("event loop ended");
}

/*
 * A re-executed child: "portero -P role -I id [-d] [-v ...]", the
 * channel to the parent on PROC_PARENT_FD.  Everything else arrives by
 * message.
 */
static void
portero_child(int argc, char **argv)
{
	enum proc_role	 role = PROC_PARENT;
	const char	*errstr;
	char		 title[32];
	unsigned int	 id = 0;
	int		 ch, foreground = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "P:I:dv")) != -1) {
		switch (ch) {
		case 'P':
			if (proc_role_parse(optarg, &role) == -1)
				errx(1, "unknown role %s", optarg);
			break;
		case 'I':
			id = strtonum(optarg, 0, PORTERO_MAX_WORKERS - 1,
			    &errstr);
			if (errstr != NULL)
				errx(1, "id %s is %s", optarg, errstr);
			break;
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			errx(1, "bad child arguments");
		}
	}
	if (role == PROC_PARENT || fcntl(PROC_PARENT_FD, F_GETFD) == -1)
		errx(1, "-P is for portero's own children");
	if (role == PROC_WORKER)
		(void)snprintf(title, sizeof(title), "worker %u", id);
	else
		(void)strlcpy(title, proc_role_name(role), sizeof(title));
	log_init(foreground, verbose, title);
	proc_title(title);
	proc_ignore_signals();
	if (socket_set_nonblock(PROC_PARENT_FD) == -1)
		fatal("parent channel");
	closefrom(PROC_PARENT_FD + 1);
	event_init();

	switch (role) {
	case PROC_CERTLOADER:
		certloader_main();
	case PROC_REGISTRAR:
		registrar_main();
	case PROC_WORKER:
		worker_main(id);
	case PROC_HEALTH:
		health_main();
	case PROC_LOGGER:
		logger_main();
	case PROC_METRICS:
		metrics_main();
	default:
		fatalx("unreachable role");
	}
}

/* Each connection costs descriptors: take what the hard limit allows. */
static void
portero_rlimit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < PORTERO_NOFILE) {
		/* root may raise the hard limit, where the system lets it */
		struct rlimit	 want = { PORTERO_NOFILE, PORTERO_NOFILE };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
		rl.rlim_cur = rl.rlim_max;
	} else
		rl.rlim_cur = PORTERO_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit NOFILE %llu",
		    (unsigned long long)rl.rlim_cur);
}

/* Make a directory the daemon needs; pw, if set, becomes its owner. */
static void
portero_mkdir(const char *path, mode_t mode, const struct passwd *pw)
{
	struct stat	 st;

	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if (stat(path, &st) == -1)
		fatal("stat %s", path);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory", path);
	if (pw != NULL && (st.st_uid != pw->pw_uid || st.st_gid !=
	    pw->pw_gid) && chown(path, pw->pw_uid, pw->pw_gid) == -1)
		fatal("chown %s", path);
}

/* Every socket is made here, before any child exists. */
static void
portero_sockets(struct portero *env)
{
	struct portero_config	*conf = &env->pc_conf;
	unsigned int		 w, i;

	env->pc_controlfd = control_open(conf->control_socket);
	memset(env->pc_listenfd, -1, sizeof(env->pc_listenfd));
	for (w = 0; w < conf->workers; w++)
		for (i = 0; i < conf->nlisteners; i++)
			if ((env->pc_listenfd[w][i] = listener_bind(
			    conf->listeners[i].ln_addr, 1)) == -1)
				fatal("listen on %s",
				    conf->listeners[i].ln_addr);
	parent_logger_init(env);
	parent_logger_start(env);
	parent_metrics_init(env);
	parent_metrics_listen(env);
	env->pc_registerfd = -1;
	if (!conf->no_register && (env->pc_registerfd =
	    listener_bind(conf->register_addr, 0)) == -1)
		fatal("listen on %s", conf->register_addr);
}

/* setproctitle overwrites argv; reload parses it again, so keep a copy. */
static char **
portero_saveargs(int argc, char **argv)
{
	char	**copy;
	int	 i;

	if ((copy = calloc(argc + 1, sizeof(*copy))) == NULL)
		fatal("calloc");
	for (i = 0; i < argc; i++)
		if ((copy[i] = strdup(argv[i])) == NULL)
			fatal("strdup");
	return (copy);
}

/* The binary each child re-executes: the one running now. */
static char *
portero_exe(const char *argv0)
{
	char	 path[PATH_MAX];
	ssize_t	 n;
	char	*exe;

#ifdef __linux__
	if ((n = readlink("/proc/self/exe", path, sizeof(path) - 1)) > 0) {
		path[n] = '\0';
		if ((exe = strdup(path)) == NULL)
			fatal("strdup");
		return (exe);
	}
#endif
	(void)n;
	if (argv0[0] != '/')
		errx(1, "start portero with an absolute path, so it can "
		    "re-execute itself for its children");
	if ((exe = strdup(argv0)) == NULL)
		fatal("strdup");
	return (exe);
}

static void
portero_signal(int sig, short event, void *arg)
{
	struct portero	*env = arg;
	char		 why[CONF_PATH_MAX + 64];

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		parent_shutdown(env, env->pc_stopping > 0);
		break;
	case SIGHUP:
		parent_reload_soon(env);
		break;
	case SIGCHLD:
		parent_sigchld(env);
		break;
	case SIGUSR1:
		/* logrotate: the access log opened again */
		(void)parent_logger_reopen(env, why, sizeof(why));
		break;
	}
}
