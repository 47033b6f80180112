/*
 * porterod-ctl.c: the control tool: turns a command line into one request
 * on portero's control socket, checks every reply, prints text or JSON.
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
#include <sys/un.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>

#include <yajl/yajl_gen.h>

#include "portero.h"
#include "porterod-ctl.h"

#ifndef nitems
#define nitems(_a)	(sizeof((_a)) / sizeof((_a)[0]))
#endif

/* Every backend the daemon may have, from flags and registered. */
#define CTL_MAX_RECORDS		(CONF_OBJECTS_MAX + REGISTER_MAX_LIMIT)

#define CMD_MAXWORDS		2
#define CMD_MAXRECORDS		2
#define CMD_NOARG		(-1)

/* A message type that may appear in a listing, and its payload size. */
struct ctl_part {
	uint32_t		 part_type;
	size_t			 part_size;	/* 0: any, up to a message */
};

/*
 * A command.  With cmd_parts empty the daemon answers OK or FAIL;
 * otherwise it sends those messages in any number and ends with END.
 * cmd_check refuses a listing that is well framed but makes no sense,
 * so the printers need not check anything.
 */
struct ctl_command {
	const char		*cmd_words[CMD_MAXWORDS];
	uint32_t		 cmd_type;
	int			 cmd_arg;	/* int payload, or CMD_NOARG */
	struct ctl_part		 cmd_parts[CMD_MAXRECORDS];
	const char		*cmd_done;	/* text output for OK */
	int			(*cmd_check)(const struct ctl_listing *);
	void			(*cmd_text)(const struct ctl_listing *);
	void			(*cmd_json)(struct json *,
				    const struct ctl_listing *);
	int			 cmd_raw;	/* the daemon writes the text
						   (JSON with -j): printed as
						   it comes */
};

static int	 status_check(const struct ctl_listing *);
static void	 status_text(const struct ctl_listing *);
static void	 status_json(struct json *, const struct ctl_listing *);
static int	 workers_check(const struct ctl_listing *);
static void	 workers_text(const struct ctl_listing *);
static void	 workers_json(struct json *, const struct ctl_listing *);
static int	 listing_certs_check(const struct ctl_listing *);
static void	 listing_certs_text(const struct ctl_listing *);
static void	 listing_certs_json(struct json *, const struct ctl_listing *);

static const struct ctl_command ctl_commands[] = {
	{ { "show", "status" }, IMSG_CTL_SHOW_STATUS, CMD_NOARG,
	    { { IMSG_CTL_STATUS, sizeof(struct ctl_status) },
	      { IMSG_CTL_CHILD, sizeof(struct ctl_child) } },
	    NULL, status_check, status_text, status_json, 0 },
	{ { "show", "workers" }, IMSG_CTL_SHOW_WORKERS, CMD_NOARG,
	    { { IMSG_CTL_CHILD, sizeof(struct ctl_child) } },
	    NULL, workers_check, workers_text, workers_json, 0 },
	{ { "show", "certs" }, IMSG_CTL_SHOW_CERTS, CMD_NOARG,
	    { { IMSG_CTL_CERT, sizeof(struct ctl_cert) } },
	    NULL, listing_certs_check, listing_certs_text, listing_certs_json,
	    0 },
	{ { "show", "backends" }, IMSG_CTL_SHOW_BACKENDS, CMD_NOARG,
	    { { IMSG_CTL_BACKEND, sizeof(struct ctl_backend) } },
	    NULL, backends_check, backends_text, backends_json, 0 },
	{ { "show", "stats" }, IMSG_CTL_SHOW_STATS, STATS_TEXT,
	    { { IMSG_CTL_TEXT, 0 } },
	    NULL, NULL, NULL, NULL, 1 },
	{ { "reload" }, IMSG_CTL_RELOAD, CMD_NOARG,
	    { { IMSG_NONE, 0 } },
	    "configuration reloaded", NULL, NULL, NULL, 0 },
	{ { "reopen" }, IMSG_CTL_REOPEN, CMD_NOARG,
	    { { IMSG_NONE, 0 } },
	    "access log reopened", NULL, NULL, NULL, 0 },
	{ { "log", "verbose" }, IMSG_CTL_LOG_VERBOSE, 1,
	    { { IMSG_NONE, 0 } },
	    "logging verbose", NULL, NULL, NULL, 0 },
	{ { "log", "brief" }, IMSG_CTL_LOG_VERBOSE, 0,
	    { { IMSG_NONE, 0 } },
	    "logging brief", NULL, NULL, NULL, 0 },
};

static const struct ctl_command *ctl_lookup(int, char *[]);
static void	 ctl_unknown(const char *, int, char *[])
		    __attribute__((noreturn));
static void	 ctl_cmdname(FILE *, const struct ctl_command *);
static int	 ctl_connect(const char *);
static void	 ctl_request(struct imsgbuf *, const struct ctl_command *,
		    struct ctl_listing *);
static int	 ctl_recv(const struct ctl_command *, struct ctl_listing *,
		    const struct imsg *);
static void	 ctl_fail(const struct ctl_command *, const struct imsg *)
		    __attribute__((noreturn));
static void	 ctl_malformed(void) __attribute__((noreturn));
static void	 ctl_listing_free(struct ctl_listing *);
static int	 child_check(const struct ctl_child *);
static void	 fmt_pid(char *, size_t, uint32_t);
static void	 fmt_time(char *, size_t, int64_t);
static void	 json_init(struct json *);
static void	 json_finish(struct json *);
static void	 json_stat(struct json *, const struct ctl_child *,
		    const char *, uint64_t);

/* portero.h declares the daemon's usage(); this is the tool's own. */
void
usage(void)
{
	fprintf(stderr, "usage: %s [-j] [-s socket] command [argument ...]\n",
	    getprogname());
	exit(1);
}

int
main(int argc, char *argv[])
{
	const struct ctl_command	*cmd;
	struct ctl_command		 raw;
	size_t				 i;
	struct ctl_listing		 ls;
	struct imsgbuf			*ibuf;
	struct json			 js;
	const char			*sockpath = PORTERO_CONTROL_SOCKET;
	int				 ch, fd, jflag = 0;

	/*
	 * "+": stop at the command word, as BSD getopt(3) does; glibc's
	 * would take the options of "token" or "register" for ours.
	 */
	while ((ch = getopt(argc, argv, "+js:")) != -1) {
		switch (ch) {
		case 'j':
			jflag = 1;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();

	/* These talk to the registration API, not to the control socket. */
	if (regctl_command(argv[0]))
		return (regctl_main(argc, argv, jflag));

	cmd = ctl_lookup(argc, argv);
	/* the daemon writes this one, as JSON with -j */
	if (cmd->cmd_raw) {
		raw = *cmd;
		raw.cmd_arg = jflag ? STATS_JSON : STATS_TEXT;
		cmd = &raw;
	}
	fd = ctl_connect(sockpath);

#ifdef __OpenBSD__
	if (pledge("stdio", NULL) == -1)
		err(1, "pledge");
#endif

	/* Too big for the stack of a small tool: 64 KiB of read buffer. */
	if ((ibuf = malloc(sizeof(*ibuf))) == NULL)
		err(1, NULL);
	imsgbuf_init(ibuf, fd);
	memset(&ls, 0, sizeof(ls));
	ctl_request(ibuf, cmd, &ls);
	imsgbuf_clear(ibuf);
	free(ibuf);
	close(fd);

	if (cmd->cmd_check != NULL && cmd->cmd_check(&ls) == -1)
		ctl_malformed();

	if (cmd->cmd_raw) {
		for (i = 0; i < ls.ls_nrecs; i++)
			if (fwrite(ls.ls_recs[i].rec_data, 1,
			    ls.ls_recs[i].rec_len, stdout) !=
			    ls.ls_recs[i].rec_len)
				err(1, "stdout");
	} else if (jflag) {
		json_init(&js);
		if (cmd->cmd_json != NULL)
			cmd->cmd_json(&js, &ls);
		else {
			json_check(&js, yajl_gen_map_open(js.js_gen));
			json_key(&js, "ok");
			json_check(&js, yajl_gen_bool(js.js_gen, 1));
			json_check(&js, yajl_gen_map_close(js.js_gen));
		}
		json_finish(&js);
	} else if (cmd->cmd_text != NULL)
		cmd->cmd_text(&ls);
	else
		printf("%s\n", cmd->cmd_done);

	ctl_listing_free(&ls);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return (0);
}

/*
 * Each word may be abbreviated as long as one command is left; a word
 * spelled out in full wins over longer commands it is a prefix of.
 */
static const struct ctl_command *
ctl_lookup(int argc, char *argv[])
{
	const struct ctl_command	*cmd, *found = NULL;
	size_t				 i, nwords;
	int				 w, exact, nfound = 0;

	for (i = 0; i < nitems(ctl_commands); i++) {
		cmd = &ctl_commands[i];
		for (nwords = 0; nwords < CMD_MAXWORDS &&
		    cmd->cmd_words[nwords] != NULL; nwords++)
			;
		if ((size_t)argc != nwords)
			continue;
		exact = 1;
		for (w = 0; w < argc; w++) {
			if (argv[w][0] == '\0' || strncmp(argv[w],
			    cmd->cmd_words[w], strlen(argv[w])) != 0)
				break;
			if (strcmp(argv[w], cmd->cmd_words[w]) != 0)
				exact = 0;
		}
		if (w < argc)
			continue;
		if (exact)
			return (cmd);
		found = cmd;
		nfound++;
	}
	if (nfound == 1)
		return (found);
	ctl_unknown(nfound == 0 ? "unknown" : "ambiguous", argc, argv);
}

/* Lists the commands from the table, so a new entry shows up here too. */
static void
ctl_unknown(const char *what, int argc, char *argv[])
{
	const struct ctl_command	*cmd;
	const char			*prev = NULL;
	size_t				 i;
	int				 w;

	fprintf(stderr, "%s: %s command \"", getprogname(), what);
	for (w = 0; w < argc; w++)
		fprintf(stderr, "%s%s", w > 0 ? " " : "", argv[w]);
	fprintf(stderr, "\"; try:");
	for (i = 0; i < nitems(ctl_commands); i++) {
		cmd = &ctl_commands[i];
		if (prev != NULL && strcmp(prev, cmd->cmd_words[0]) == 0) {
			fprintf(stderr, "|%s", cmd->cmd_words[1]);
			continue;
		}
		fprintf(stderr, "%s ", prev == NULL ? "" : ",");
		ctl_cmdname(stderr, cmd);
		prev = cmd->cmd_words[0];
	}
	regctl_list(stderr);
	fprintf(stderr, "\n");
	exit(1);
}

static void
ctl_cmdname(FILE *fp, const struct ctl_command *cmd)
{
	size_t	 w;

	for (w = 0; w < CMD_MAXWORDS && cmd->cmd_words[w] != NULL; w++)
		fprintf(fp, "%s%s", w > 0 ? " " : "", cmd->cmd_words[w]);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 su;
	int			 fd;

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	if (strlcpy(su.sun_path, path, sizeof(su.sun_path)) >=
	    sizeof(su.sun_path))
		errx(1, "socket path too long: %s", path);

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&su, sizeof(su)) == -1) {
		/* These two are what a stopped daemon leaves behind. */
		if (errno == ENOENT || errno == ECONNREFUSED)
			errx(1, "cannot connect to %s: %s "
			    "(is portero running?)", path, strerror(errno));
		err(1, "cannot connect to %s", path);
	}
	return (fd);
}

/* Sends the request and collects the reply until END, OK or FAIL. */
static void
ctl_request(struct imsgbuf *ibuf, const struct ctl_command *cmd,
    struct ctl_listing *ls)
{
	struct imsg	 imsg;
	int64_t		 deadline;
	ssize_t		 n;
	int		 arg, done = 0;

	deadline = ctl_now_ms() + CTL_TIMEOUT_MS;

	if (cmd->cmd_arg == CMD_NOARG)
		n = imsgbuf_compose(ibuf, cmd->cmd_type, 0, 0, -1, NULL, 0);
	else {
		arg = cmd->cmd_arg;
		n = imsgbuf_compose(ibuf, cmd->cmd_type, 0, 0, -1, &arg,
		    sizeof(arg));
	}
	if (n == -1)
		err(1, "imsgbuf_compose");

	while (imsgbuf_queued(ibuf) > 0) {
		ctl_wait(ibuf->fd, POLLOUT, deadline);
		if (imsgbuf_flush(ibuf) == -1) {
			if (errno == EPIPE || errno == ECONNRESET)
				errx(1, "daemon closed the connection");
			err(1, "write to daemon");
		}
	}

	while (!done) {
		if ((n = imsgbuf_get(ibuf, &imsg)) == -1)
			ctl_malformed();
		if (n > 0) {
			done = ctl_recv(cmd, ls, &imsg);
			/* a long listing is fine while it keeps coming */
			deadline = ctl_now_ms() + CTL_TIMEOUT_MS;
			continue;
		}
		ctl_wait(ibuf->fd, POLLIN, deadline);
		if ((n = imsgbuf_read(ibuf)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET)
				errx(1, "daemon closed the connection");
			/* A bad descriptor message or an overlong one. */
			if (errno == EBADMSG || errno == ENOBUFS)
				ctl_malformed();
			err(1, "read from daemon");
		}
		if (n == 0)
			errx(1, "daemon closed the connection");
	}
}

/* Waits for the socket; gives up at the deadline, not per message. */
void
ctl_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n;

	for (;;) {
		if ((left = deadline - ctl_now_ms()) <= 0)
			errx(1, "no answer from daemon within %d seconds",
			    CTL_TIMEOUT_MS / 1000);
		memset(&pfd, 0, sizeof(pfd));
		pfd.fd = fd;
		pfd.events = events;
		if ((n = poll(&pfd, 1, (int)left)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		/* POLLHUP and POLLERR come out of the read or write. */
		if (n > 0)
			return;
	}
}

int64_t
ctl_now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(1, "clock_gettime");
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Returns 1 once the reply is complete, 0 while more is to come. */
static int
ctl_recv(const struct ctl_command *cmd, struct ctl_listing *ls,
    const struct imsg *imsg)
{
	const struct ctl_part	*part = NULL;
	struct ctl_record	*recs, *rec;
	size_t			 i, cap;
	int			 listing;

	/* Control replies never carry one. */
	if (imsg->fd != -1) {
		close(imsg->fd);
		ctl_malformed();
	}

	listing = cmd->cmd_parts[0].part_type != IMSG_NONE;
	switch (imsg->hdr.type) {
	case IMSG_CTL_FAIL:
		ctl_fail(cmd, imsg);
		/* NOTREACHED */
	case IMSG_CTL_OK:
	case IMSG_CTL_END:
		if (imsg->hdr.type != (listing ? IMSG_CTL_END : IMSG_CTL_OK))
			break;
		if (imsg->len != 0)
			ctl_malformed();
		return (1);
	default:
		for (i = 0; i < CMD_MAXRECORDS &&
		    cmd->cmd_parts[i].part_type != IMSG_NONE; i++)
			if (cmd->cmd_parts[i].part_type == imsg->hdr.type)
				part = &cmd->cmd_parts[i];
		break;
	}
	if (part == NULL)
		errx(1, "unexpected message type %u from daemon",
		    imsg->hdr.type);
	if (part->part_size != 0 ? imsg->len != part->part_size :
	    imsg->len == 0)
		ctl_malformed();
	if (ls->ls_nrecs >= CTL_MAX_RECORDS)
		errx(1, "too many records from daemon");

	/* doubling: a listing may run to a million backends */
	if (ls->ls_nrecs == ls->ls_cap) {
		cap = ls->ls_cap == 0 ? 64 : ls->ls_cap * 2;
		if ((recs = reallocarray(ls->ls_recs, cap,
		    sizeof(*recs))) == NULL)
			err(1, NULL);
		ls->ls_recs = recs;
		ls->ls_cap = cap;
	}
	rec = &ls->ls_recs[ls->ls_nrecs];
	rec->rec_type = imsg->hdr.type;
	rec->rec_len = imsg->len;
	if ((rec->rec_data = malloc(imsg->len)) == NULL)
		err(1, NULL);
	memcpy(rec->rec_data, imsg->data, imsg->len);
	ls->ls_nrecs++;
	return (0);
}

static void
ctl_listing_free(struct ctl_listing *ls)
{
	size_t	 i;

	for (i = 0; i < ls->ls_nrecs; i++)
		free(ls->ls_recs[i].rec_data);
	free(ls->ls_recs);
}

static void
ctl_fail(const struct ctl_command *cmd, const struct imsg *imsg)
{
	char	*reason;

	if (imsg->len == 0 || memchr(imsg->data, '\0', imsg->len) == NULL)
		ctl_malformed();
	/* The reason may quote a configuration file: keep the tty sane. */
	if (stravis(&reason, imsg->data, VIS_SAFE | VIS_NL | VIS_CSTYLE) ==
	    -1)
		err(1, NULL);
	fprintf(stderr, "%s: ", getprogname());
	ctl_cmdname(stderr, cmd);
	fprintf(stderr, " failed%s%s\n", reason[0] == '\0' ? "" : ": ",
	    reason);
	exit(1);
}

static void
ctl_malformed(void)
{
	errx(1, "malformed reply from daemon");
}

/* A child entry as both listings send it. */
static int
child_check(const struct ctl_child *c)
{
	/* the parent is never listed as a child */
	if (c->role <= PROC_PARENT || c->role >= PROC_MAX)
		return (-1);
	if (c->state > CHILD_DEAD)
		return (-1);
	if (c->has_stats > 1)
		return (-1);
	return (0);
}

/* Not empty, terminated, printable: printed as it is, text and JSON. */
static int
printable_check(const char *s, size_t size)
{
	size_t	 i;

	if (s[0] == '\0' || memchr(s, '\0', size) == NULL)
		return (-1);
	for (i = 0; s[i] != '\0'; i++)
		if (!isprint((unsigned char)s[i]))
			return (-1);
	return (0);
}

/* One STATUS first, then children. */
static int
status_check(const struct ctl_listing *ls)
{
	const struct ctl_status	*st;
	size_t			 i;

	if (ls->ls_nrecs == 0 || ls->ls_recs[0].rec_type != IMSG_CTL_STATUS)
		return (-1);
	st = ls->ls_recs[0].rec_data;
	if (printable_check(st->version, sizeof(st->version)) == -1 ||
	    printable_check(st->tls, sizeof(st->tls)) == -1 ||
	    memchr(st->config, '\0', sizeof(st->config)) == NULL ||
	    memchr(st->reload_error, '\0', sizeof(st->reload_error)) == NULL ||
	    memchr(st->access_log, '\0', sizeof(st->access_log)) == NULL ||
	    st->nlisteners > PORTERO_MAX_LISTENERS)
		return (-1);
	for (i = 0; i < st->nlisteners; i++)
		if (printable_check(st->listeners[i].ln_addr,
		    sizeof(st->listeners[i].ln_addr)) == -1)
			return (-1);

	for (i = 1; i < ls->ls_nrecs; i++)
		if (ls->ls_recs[i].rec_type != IMSG_CTL_CHILD ||
		    child_check(ls->ls_recs[i].rec_data) == -1)
			return (-1);
	return (0);
}

/* The configuration file and how the last reload went. */
static void
status_config_text(const struct ctl_status *st)
{
	char	*v, ago[64];

	v = ctl_vis(st->config[0] != '\0' ? st->config : "(flags alone)");
	printf("configuration %s", v);
	free(v);
	if (!st->reload_tried) {
		printf(", not reloaded\n");
		return;
	}
	fmt_duration(ago, sizeof(ago), st->reload_age);
	printf(", %u reload%s taken, %u refused; the last %s ago: ",
	    st->reloads, st->reloads == 1 ? "" : "s", st->reloads_refused,
	    ago);
	if (st->reload_error[0] == '\0') {
		printf("taken\n");
		return;
	}
	v = ctl_vis(st->reload_error);
	printf("refused: %s\n", v);
	free(v);
}

/* Where the access log goes, and what the logger has done with it. */
static void
status_accesslog_text(const struct ctl_status *st)
{
	char	*v;

	if (st->access_log_off) {
		printf("access log off\n");
		return;
	}
	v = ctl_vis(st->access_log[0] != '\0' ? st->access_log :
	    "(the daemon's log)");
	printf("access log %s", v);
	free(v);
	if (!st->logger_running) {
		printf(", logger not running\n");
		return;
	}
	printf(": %" PRIu64 " lines, %" PRIu64 " write errors, %" PRIu64
	    " reopens\n", st->logger.ls_lines, st->logger.ls_errors,
	    st->logger.ls_reopens);
}

/* Where clients connect: "listening on ADDR (tls), ADDR (plain)". */
static void
status_listeners_text(const struct ctl_status *st)
{
	const struct listen_conf	*ln;
	uint32_t			 i;

	printf("listening on");
	for (i = 0; i < st->nlisteners; i++) {
		ln = &st->listeners[i];
		printf("%s %s (%s%s)", i > 0 ? "," : "", ln->ln_addr,
		    ln->ln_tls ? "tls" : "plain",
		    ln->ln_proxy ? ", proxy-protocol" : "");
	}
	printf("\n");
}

static void
status_text(const struct ctl_listing *ls)
{
	const struct ctl_status	*st = ls->ls_recs[0].rec_data;
	const struct ctl_child	*c;
	char			 up[64], pid[16];
	size_t			 i;

	fmt_duration(up, sizeof(up), st->uptime);
	printf("portero %s (%s), pid %u, up %s\n", st->version, st->tls,
	    st->pid, up);
	status_config_text(st);
	status_listeners_text(st);
	status_accesslog_text(st);
	printf("%-11s %-3s %-6s %-9s %s\n", "ROLE", "ID", "PID", "STATE",
	    "RESTARTS");
	for (i = 1; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		fmt_pid(pid, sizeof(pid), c->pid);
		printf("%-11s %-3u %-6s %-9s %u\n", proc_role_name(c->role),
		    c->id, pid, child_state_name(c->state), c->restarts);
	}
}

/* "access_log": null when off; its file null for the daemon's log. */
static void
status_accesslog_json(struct json *js, const struct ctl_status *st)
{
	json_key(js, "access_log");
	if (st->access_log_off) {
		json_check(js, yajl_gen_null(js->js_gen));
		return;
	}
	json_check(js, yajl_gen_map_open(js->js_gen));
	if (st->access_log[0] != '\0')
		json_vis(js, "file", st->access_log);
	else {
		json_key(js, "file");
		json_check(js, yajl_gen_null(js->js_gen));
	}
	json_bool(js, "logger_running", st->logger_running);
	json_uint(js, "lines", st->logger.ls_lines);
	json_uint(js, "write_errors", st->logger.ls_errors);
	json_uint(js, "reopens", st->logger.ls_reopens);
	json_check(js, yajl_gen_map_close(js->js_gen));
}

static void
status_json(struct json *js, const struct ctl_listing *ls)
{
	const struct ctl_status	*st = ls->ls_recs[0].rec_data;
	const struct ctl_child	*c;
	size_t			 i;

	json_check(js, yajl_gen_map_open(js->js_gen));
	json_str(js, "version", st->version);
	json_str(js, "tls", st->tls);
	json_uint(js, "pid", st->pid);
	json_uint(js, "uptime", st->uptime);
	if (st->config[0] != '\0')
		json_vis(js, "config", st->config);
	else {
		json_key(js, "config");
		json_check(js, yajl_gen_null(js->js_gen));
	}
	json_uint(js, "reloads", st->reloads);
	json_uint(js, "reloads_refused", st->reloads_refused);
	json_key(js, "last_reload");
	if (!st->reload_tried)
		json_check(js, yajl_gen_null(js->js_gen));
	else {
		json_check(js, yajl_gen_map_open(js->js_gen));
		json_uint(js, "seconds_ago", st->reload_age);
		json_key(js, "error");
		if (st->reload_error[0] == '\0')
			json_check(js, yajl_gen_null(js->js_gen));
		else
			json_vis(js, NULL, st->reload_error);
		json_check(js, yajl_gen_map_close(js->js_gen));
	}
	json_key(js, "listeners");
	json_check(js, yajl_gen_array_open(js->js_gen));
	for (i = 0; i < st->nlisteners; i++) {
		json_check(js, yajl_gen_map_open(js->js_gen));
		json_str(js, "address", st->listeners[i].ln_addr);
		json_bool(js, "tls", st->listeners[i].ln_tls);
		json_bool(js, "proxy_protocol", st->listeners[i].ln_proxy);
		json_check(js, yajl_gen_map_close(js->js_gen));
	}
	json_check(js, yajl_gen_array_close(js->js_gen));
	status_accesslog_json(js, st);
	json_key(js, "children");
	json_check(js, yajl_gen_array_open(js->js_gen));
	for (i = 1; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		json_check(js, yajl_gen_map_open(js->js_gen));
		json_str(js, "role", proc_role_name(c->role));
		json_uint(js, "id", c->id);
		json_uint(js, "pid", c->pid);
		json_str(js, "state", child_state_name(c->state));
		json_uint(js, "restarts", c->restarts);
		json_check(js, yajl_gen_map_close(js->js_gen));
	}
	json_check(js, yajl_gen_array_close(js->js_gen));
	json_check(js, yajl_gen_map_close(js->js_gen));
}

/* Workers only. */
static int
workers_check(const struct ctl_listing *ls)
{
	const struct ctl_child	*c;
	size_t			 i;

	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		if (child_check(c) == -1 || c->role != PROC_WORKER)
			return (-1);
	}
	return (0);
}

/* A counter, or "-" when the worker missed the daemon's deadline. */
static void
fmt_stat(char *buf, size_t len, const struct ctl_child *c, uint64_t v)
{
	if (c->has_stats)
		snprintf(buf, len, "%" PRIu64, v);
	else
		strlcpy(buf, "-", len);
}

static void
workers_text(const struct ctl_listing *ls)
{
	const struct ctl_child	*c;
	char			 pid[16], conns[24], reqs[24], hs[24], res[24];
	char			 uhs[24], ures[24], h1[24], h2[24], st[24];
	char			 drop[24];
	size_t			 i;

	printf("%-3s %-6s %-9s %-8s %-11s %-10s %-10s %-10s %-10s %-10s "
	    "%-6s %-6s %-7s %s\n", "ID", "PID", "STATE", "RESTARTS",
	    "CONNECTIONS", "REQUESTS", "HANDSHAKES", "RESUMED", "UP-HS",
	    "UP-RESUMED", "H1", "H2", "STREAMS", "LOG-DROPPED");
	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		fmt_pid(pid, sizeof(pid), c->pid);
		fmt_stat(conns, sizeof(conns), c, c->stats.connections);
		fmt_stat(reqs, sizeof(reqs), c, c->stats.requests);
		fmt_stat(hs, sizeof(hs), c, c->stats.handshakes);
		fmt_stat(res, sizeof(res), c, c->stats.resumed);
		fmt_stat(uhs, sizeof(uhs), c, c->stats.upstream_handshakes);
		fmt_stat(ures, sizeof(ures), c, c->stats.upstream_resumed);
		fmt_stat(h1, sizeof(h1), c, c->stats.connections -
		    c->stats.h2_connections);
		fmt_stat(h2, sizeof(h2), c, c->stats.h2_connections);
		fmt_stat(st, sizeof(st), c, c->stats.h2_streams);
		fmt_stat(drop, sizeof(drop), c, c->stats.log_dropped);
		printf("%-3u %-6s %-9s %-8u %-11s %-10s %-10s %-10s %-10s "
		    "%-10s %-6s %-6s %-7s %s\n", c->id, pid,
		    child_state_name(c->state), c->restarts, conns, reqs, hs,
		    res, uhs, ures, h1, h2, st, drop);
	}
}

static void
workers_json(struct json *js, const struct ctl_listing *ls)
{
	const struct ctl_child	*c;
	size_t			 i;

	json_check(js, yajl_gen_map_open(js->js_gen));
	json_key(js, "workers");
	json_check(js, yajl_gen_array_open(js->js_gen));
	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		json_check(js, yajl_gen_map_open(js->js_gen));
		json_uint(js, "id", c->id);
		json_uint(js, "pid", c->pid);
		json_str(js, "state", child_state_name(c->state));
		json_uint(js, "restarts", c->restarts);
		json_stat(js, c, "connections", c->stats.connections);
		json_stat(js, c, "requests", c->stats.requests);
		json_stat(js, c, "handshakes", c->stats.handshakes);
		json_stat(js, c, "resumed", c->stats.resumed);
		json_stat(js, c, "upstream_handshakes",
		    c->stats.upstream_handshakes);
		json_stat(js, c, "upstream_resumed", c->stats.upstream_resumed);
		json_stat(js, c, "h1_connections", c->stats.connections -
		    c->stats.h2_connections);
		json_stat(js, c, "h2_connections", c->stats.h2_connections);
		json_stat(js, c, "h2_streams", c->stats.h2_streams);
		json_stat(js, c, "log_dropped", c->stats.log_dropped);
		json_check(js, yajl_gen_map_close(js->js_gen));
	}
	json_check(js, yajl_gen_array_close(js->js_gen));
	json_check(js, yajl_gen_map_close(js->js_gen));
}

/* A string field must end inside its array. */
int
str_check(const char *s, size_t size)
{
	return (memchr(s, '\0', size) == NULL ? -1 : 0);
}

/* Certificates: every field terminated, a state we know, a domain. */
static int
listing_certs_check(const struct ctl_listing *ls)
{
	const struct ctl_cert	*c;
	size_t			 i;

	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		if (str_check(c->cc_domain, sizeof(c->cc_domain)) == -1 ||
		    str_check(c->cc_names, sizeof(c->cc_names)) == -1 ||
		    str_check(c->cc_cert_file, sizeof(c->cc_cert_file)) == -1 ||
		    str_check(c->cc_key_file, sizeof(c->cc_key_file)) == -1 ||
		    str_check(c->cc_state, sizeof(c->cc_state)) == -1 ||
		    str_check(c->cc_error, sizeof(c->cc_error)) == -1 ||
		    str_check(c->cc_ocsp_error, sizeof(c->cc_ocsp_error)) ==
		    -1)
			return (-1);
		if (c->cc_domain[0] == '\0' ||
		    (strcmp(c->cc_state, "ok") != 0 &&
		    strcmp(c->cc_state, "stale") != 0 &&
		    strcmp(c->cc_state, "error") != 0))
			return (-1);
	}
	return (0);
}

/*
 * Domains and names come from folder names and certificates, paths and
 * errors from the operator's files: all are shown through vis(3), so
 * neither the terminal nor the JSON sees a control or 8-bit byte.
 */
char *
ctl_vis(const char *s)
{
	char	*out;

	if (stravis(&out, s, VIS_SAFE | VIS_NL | VIS_CSTYLE) == -1)
		err(1, NULL);
	return (out);
}

static void
listing_certs_text(const struct ctl_listing *ls)
{
	const struct ctl_cert	*c;
	char			**dom, **names, **errs, when[32], until[32];
	size_t			 i, dw = strlen("DOMAIN"), nw = strlen("NAMES");

	if ((dom = calloc(ls->ls_nrecs + 1, sizeof(*dom))) == NULL ||
	    (names = calloc(ls->ls_nrecs + 1, sizeof(*names))) == NULL ||
	    (errs = calloc(ls->ls_nrecs + 1, sizeof(*errs))) == NULL)
		err(1, NULL);
	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		dom[i] = ctl_vis(c->cc_domain);
		names[i] = ctl_vis(c->cc_names[0] == '\0' ? "-" : c->cc_names);
		errs[i] = ctl_vis(c->cc_error[0] != '\0' ? c->cc_error :
		    c->cc_ocsp_error[0] != '\0' ? c->cc_ocsp_error : "-");
		if (strlen(dom[i]) > dw)
			dw = strlen(dom[i]);
		if (strlen(names[i]) > nw)
			nw = strlen(names[i]);
	}
	printf("%-*s  %-5s  %-20s  %-20s  %-*s  %s\n", (int)dw, "DOMAIN",
	    "STATE", "NOT AFTER (UTC)", "OCSP UNTIL (UTC)", (int)nw, "NAMES",
	    "ERROR");
	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		fmt_time(when, sizeof(when), c->cc_not_after);
		fmt_time(until, sizeof(until), c->cc_ocsp_until);
		printf("%-*s  %-5s  %-20s  %-20s  %-*s  %s\n", (int)dw, dom[i],
		    c->cc_state, when, until, (int)nw, names[i], errs[i]);
		free(dom[i]);
		free(names[i]);
		free(errs[i]);
	}
	free(dom);
	free(names);
	free(errs);
}

static void
listing_certs_json(struct json *js, const struct ctl_listing *ls)
{
	const struct ctl_cert	*c;
	char			 names[sizeof(c->cc_names)], when[32];
	char			*p, *rest;
	size_t			 i;

	json_check(js, yajl_gen_map_open(js->js_gen));
	json_key(js, "certs");
	json_check(js, yajl_gen_array_open(js->js_gen));
	for (i = 0; i < ls->ls_nrecs; i++) {
		c = ls->ls_recs[i].rec_data;
		json_check(js, yajl_gen_map_open(js->js_gen));
		json_vis(js, "domain", c->cc_domain);
		json_key(js, "names");
		json_check(js, yajl_gen_array_open(js->js_gen));
		(void)strlcpy(names, c->cc_names, sizeof(names));
		for (rest = names; (p = strsep(&rest, ",")) != NULL;)
			if (*p != '\0')
				json_vis(js, NULL, p);
		json_check(js, yajl_gen_array_close(js->js_gen));
		json_key(js, "not_after");
		if (c->cc_not_after == 0)
			json_check(js, yajl_gen_null(js->js_gen));
		else {
			fmt_time(when, sizeof(when), c->cc_not_after);
			json_str(js, NULL, when);
		}
		json_str(js, "state", c->cc_state);
		json_key(js, "error");
		if (c->cc_error[0] == '\0')
			json_check(js, yajl_gen_null(js->js_gen));
		else
			json_vis(js, NULL, c->cc_error);
		json_key(js, "ocsp_until");
		if (c->cc_ocsp_until == 0)
			json_check(js, yajl_gen_null(js->js_gen));
		else {
			fmt_time(when, sizeof(when), c->cc_ocsp_until);
			json_str(js, NULL, when);
		}
		json_key(js, "ocsp_error");
		if (c->cc_ocsp_error[0] == '\0')
			json_check(js, yajl_gen_null(js->js_gen));
		else
			json_vis(js, NULL, c->cc_ocsp_error);
		json_vis(js, "cert_file", c->cc_cert_file);
		json_vis(js, "key_file", c->cc_key_file);
		json_check(js, yajl_gen_map_close(js->js_gen));
	}
	json_check(js, yajl_gen_array_close(js->js_gen));
	json_check(js, yajl_gen_map_close(js->js_gen));
}

/* ISO 8601 in UTC; 0 (never had a good certificate) is "-". */
static void
fmt_time(char *buf, size_t len, int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(buf, "-", len);
}

void
fmt_duration(char *buf, size_t len, uint64_t secs)
{
	uint64_t	 d, h, m, s;

	d = secs / 86400;
	h = secs / 3600 % 24;
	m = secs / 60 % 60;
	s = secs % 60;
	if (d > 0)
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64
		    "m%02" PRIu64 "s", d, h, m, s);
	else if (h > 0)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s",
		    h, m, s);
	else if (m > 0)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", m, s);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
}

/* A dead child has no pid. */
static void
fmt_pid(char *buf, size_t len, uint32_t pid)
{
	if (pid == 0)
		strlcpy(buf, "-", len);
	else
		snprintf(buf, len, "%u", pid);
}

/*
 * JSON output.  The generator fails only on a bug here, so the first
 * failure is remembered and reported once, at the end.
 */
static void
json_init(struct json *js)
{
	memset(js, 0, sizeof(*js));
	if ((js->js_gen = yajl_gen_alloc(NULL)) == NULL)
		err(1, NULL);
	if (yajl_gen_config(js->js_gen, yajl_gen_beautify, 0) == 0 ||
	    yajl_gen_config(js->js_gen, yajl_gen_validate_utf8, 1) == 0)
		errx(1, "cannot configure the JSON generator");
}

static void
json_finish(struct json *js)
{
	const unsigned char	*buf;
	size_t			 len;

	if (js->js_err ||
	    yajl_gen_get_buf(js->js_gen, &buf, &len) != yajl_gen_status_ok)
		errx(1, "cannot generate JSON");
	if (fwrite(buf, 1, len, stdout) != len || putchar('\n') == EOF)
		err(1, "stdout");
	yajl_gen_free(js->js_gen);
}

void
json_check(struct json *js, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		js->js_err = 1;
}

void
json_key(struct json *js, const char *key)
{
	json_check(js, yajl_gen_string(js->js_gen,
	    (const unsigned char *)key, strlen(key)));
}

void
json_str(struct json *js, const char *key, const char *val)
{
	if (key != NULL)
		json_key(js, key);
	json_check(js, yajl_gen_string(js->js_gen,
	    (const unsigned char *)val, strlen(val)));
}

void
json_bool(struct json *js, const char *key, int val)
{
	json_key(js, key);
	json_check(js, yajl_gen_bool(js->js_gen, val != 0));
}

/* Past LLONG_MAX yajl_gen_integer would go negative; digits never do. */
void
json_uint(struct json *js, const char *key, uint64_t val)
{
	char	 num[24];
	int	 len;

	json_key(js, key);
	len = snprintf(num, sizeof(num), "%" PRIu64, val);
	if (len < 0 || (size_t)len >= sizeof(num)) {
		js->js_err = 1;
		return;
	}
	json_check(js, yajl_gen_number(js->js_gen, num, len));
}

/* A string from the daemon that may hold anything, through vis(3). */
void
json_vis(struct json *js, const char *key, const char *val)
{
	char	*v;

	v = ctl_vis(val);
	json_str(js, key, v);
	free(v);
}

/* Statistics a worker did not send in time are null, not a stale 0. */
static void
json_stat(struct json *js, const struct ctl_child *c, const char *key,
    uint64_t val)
{
	if (c->has_stats)
		json_uint(js, key, val);
	else {
		json_key(js, key);
		json_check(js, yajl_gen_null(js->js_gen));
	}
}
