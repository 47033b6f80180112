/*
 * ctl_register.c: porterod-ctl's token, register and deregister: tokens
 * made with jwt.c, and one HTTP/1.1 exchange with the registration API.
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
#include <sys/stat.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "portero.h"
#include "json.h"
#include "jwt.h"
#include "porterod-ctl.h"

#ifndef nitems
#define nitems(_a)	(sizeof((_a)) / sizeof((_a)[0]))
#endif

#define REGCTL_ANSWER_MAX	(1024 * 1024)	/* head and body */
#define REGCTL_ERROR_MAX	512	/* of an error shown on stderr */
#define REGCTL_LIFETIME		300	/* of the token a request carries */
#define REGCTL_FILE_MAX		(REG_SECRET_MAX + 3)	/* to see too long */

/* A command; rc_method NULL makes a token and sends nothing. */
struct regctl_cmd {
	const char	*rc_name;
	const char	*rc_method;
	const char	*rc_opts;	/* for getopt(3) */
	long long	 rc_seconds;	/* default of -t */
	const char	*rc_usage;
};

struct regctl_args {
	const struct regctl_cmd	*ra_cmd;
	const char		*ra_keyfile;
	const char		*ra_secretfile;
	const char		*ra_service;
	const char		*ra_host;
	const char		*ra_api;	/* address:port */
	const char		*ra_issuer;
	const char		*ra_audience;
	long long		 ra_port;
	long long		 ra_seconds;	/* token lifetime, or TTL */
	int			 ra_tls;
};

/* The API's answer; an_buf holds it all, with room for a NUL. */
struct regctl_answer {
	char		*an_buf;
	size_t		 an_len;
	size_t		 an_headlen;	/* with the empty line; 0: not yet */
	long long	 an_clen;	/* Content-Length, or -1 */
	int		 an_status;
	const char	*an_reason;
	char		*an_body;
	size_t		 an_bodylen;
};

static const struct regctl_cmd regctl_cmds[] = {
	{ "token", NULL, "i:k:s:t:u:", REGCTL_LIFETIME,
	    "-k keyfile -s service [-i issuer]\n"
	    "\t[-t seconds] [-u audience]" },
	{ "register", "POST", "a:H:i:k:p:S:s:Tt:u:", 60,
	    "-k keyfile -S secretfile -s service\n"
	    "\t-H host -p port [-T] [-a address:port] [-i issuer] [-t ttl]\n"
	    "\t[-u audience]" },
	{ "deregister", "DELETE", "a:H:i:k:p:S:s:u:", 0,
	    "-k keyfile -S secretfile -s service\n"
	    "\t-H host -p port [-a address:port] [-i issuer] [-u audience]" },
};

static const struct regctl_cmd *regctl_find(const char *);
static void	 regctl_usage(const struct regctl_cmd *)
		    __attribute__((noreturn));
static void	 regctl_option(struct regctl_args *, int);
static long long regctl_number(const char *, long long, const char *);
static size_t	 regctl_readfile(const char *, unsigned char *, size_t);
static void	 regctl_secret_check(const unsigned char *, size_t,
		    const char *);
static void	 regctl_sign(const struct regctl_args *, long long, char *,
		    size_t);
static int	 regctl_token(const struct regctl_args *, int);
static void	 regctl_gen(yajl_gen_status *, yajl_gen_status);
static yajl_gen_status regctl_gen_str(yajl_gen, const char *);
static char	*regctl_body(const struct regctl_args *);
static int	 regctl_request(const struct regctl_args *);
static void	 regctl_addr(const char *, struct sockaddr_storage *,
		    socklen_t *);
static int	 regctl_connect(const char *, int64_t);
static void	 regctl_write(int, const char *, size_t, const char *,
		    int64_t);
static void	 regctl_read(int, struct regctl_answer *, const char *,
		    int64_t);
static void	 regctl_head(struct regctl_answer *, const char *);
static void	 regctl_status(struct regctl_answer *, const char *,
		    const char *);
static void	 regctl_header(struct regctl_answer *, char *, const char *);
static void	 regctl_malformed(const char *) __attribute__((noreturn));
static int	 regctl_report(const struct regctl_answer *);
static void	 regctl_refused(const struct regctl_answer *)
		    __attribute__((noreturn));

/*
 * Spelled out in full: "re" must stay "reload", as it was before these
 * commands came.
 */
static const struct regctl_cmd *
regctl_find(const char *word)
{
	size_t	 i;

	for (i = 0; i < nitems(regctl_cmds); i++)
		if (strcmp(word, regctl_cmds[i].rc_name) == 0)
			return (&regctl_cmds[i]);
	return (NULL);
}

int
regctl_command(const char *word)
{
	return (regctl_find(word) != NULL);
}

/* For the list of commands an unknown one gets. */
void
regctl_list(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < nitems(regctl_cmds); i++)
		fprintf(fp, ", %s", regctl_cmds[i].rc_name);
}

static void
regctl_usage(const struct regctl_cmd *cmd)
{
	fprintf(stderr, "usage: %s [-j] %s %s\n", getprogname(),
	    cmd->rc_name, cmd->rc_usage);
	exit(1);
}

/* argv[0] is the command word; its options follow it. */
int
regctl_main(int argc, char *argv[], int jflag)
{
	struct regctl_args	 ra;
	int			 ch;

	memset(&ra, 0, sizeof(ra));
	if ((ra.ra_cmd = regctl_find(argv[0])) == NULL)
		errx(1, "unknown command \"%s\"", argv[0]);
	ra.ra_api = PORTERO_REGISTER_ADDR;
	ra.ra_seconds = ra.ra_cmd->rc_seconds;

	/* getopt(3) again, over the command's arguments; glibc's names
	 * argv[0] in its complaints, so let that be the tool. */
	argv[0] = (char *)getprogname();
	optreset = 1;
	optind = 1;
	while ((ch = getopt(argc, argv, ra.ra_cmd->rc_opts)) != -1)
		regctl_option(&ra, ch);
	if (optind != argc || ra.ra_keyfile == NULL || ra.ra_service == NULL)
		regctl_usage(ra.ra_cmd);
	if (ra.ra_service[0] == '\0')
		errx(1, "empty service name");
	if (ra.ra_cmd->rc_method == NULL)
		return (regctl_token(&ra, jflag));

	if (ra.ra_secretfile == NULL || ra.ra_host == NULL || ra.ra_port == 0)
		regctl_usage(ra.ra_cmd);
	/* The answer is JSON already: -j prints it as plain output does. */
	return (regctl_request(&ra));
}

static void
regctl_option(struct regctl_args *ra, int ch)
{
	switch (ch) {
	case 'a':
		ra->ra_api = optarg;
		break;
	case 'H':
		ra->ra_host = optarg;
		break;
	case 'i':
		ra->ra_issuer = optarg;
		break;
	case 'k':
		ra->ra_keyfile = optarg;
		break;
	case 'p':
		ra->ra_port = regctl_number(optarg, 65535, "port");
		break;
	case 'S':
		ra->ra_secretfile = optarg;
		break;
	case 's':
		ra->ra_service = optarg;
		break;
	case 'T':
		ra->ra_tls = 1;
		break;
	case 't':
		ra->ra_seconds = regctl_number(optarg, INT_MAX,
		    ra->ra_cmd->rc_method == NULL ? "lifetime" : "TTL");
		break;
	case 'u':
		ra->ra_audience = optarg;
		break;
	default:
		regctl_usage(ra->ra_cmd);
	}
}

static long long
regctl_number(const char *s, long long max, const char *what)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(s, 1, max, &errstr);
	if (errstr != NULL)
		errx(1, "%s %s: %s (1 to %lld)", what, s, errstr, max);
	return (n);
}

/*
 * A key or secret file, read as the daemon reads it: a regular file, its
 * bytes less one trailing newline, 1 to REG_SECRET_MAX of them.  buf has
 * REGCTL_FILE_MAX bytes, enough to see a file that is too long; what it
 * holds on return is NUL-terminated.
 */
static size_t
regctl_readfile(const char *path, unsigned char *buf, size_t size)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	if (fstat(fd, &st) == -1)
		err(1, "%s", path);
	if (!S_ISREG(st.st_mode))
		errx(1, "%s: not a regular file", path);
	while (len < size - 1 &&
	    (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "%s", path);
		}
		len += n;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (len == 0 || len > REG_SECRET_MAX) {
		explicit_bzero(buf, size);
		errx(1, "%s: want 1 to %d bytes (a newline at the end is not "
		    "counted)", path, REG_SECRET_MAX);
	}
	return (len);
}

/*
 * The secret travels as a header's value: a control byte would end or
 * break the header, a blank at either end would be cut off by the
 * server.  Any other byte goes as it is.
 */
static void
regctl_secret_check(const unsigned char *s, size_t len, const char *path)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			break;
	if (i < len || s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t')
		errx(1, "%s: a secret with control bytes, or blanks at its "
		    "ends, cannot be sent in a header", path);
}

/* A token for the service, good for lifetime seconds from now. */
static void
regctl_sign(const struct regctl_args *ra, long long lifetime, char *tok,
    size_t toksize)
{
	unsigned char	 key[REGCTL_FILE_MAX];
	size_t		 keylen;
	time_t		 now;
	int		 rv;

	keylen = regctl_readfile(ra->ra_keyfile, key, sizeof(key));
	if ((now = time(NULL)) == (time_t)-1)
		err(1, "time");
	rv = jwt_sign(key, keylen, ra->ra_service, (long long)now + lifetime,
	    ra->ra_issuer, ra->ra_audience, tok, toksize);
	explicit_bzero(key, sizeof(key));
	if (rv == -1)
		errx(1, "cannot make a token: service name, issuer or "
		    "audience too long");
}

static int
regctl_token(const struct regctl_args *ra, int jflag)
{
	char	 tok[JWT_MAX + 1];

	regctl_sign(ra, ra->ra_seconds, tok, sizeof(tok));
	/* base64url and dots: nothing in a token needs a JSON escape */
	if (jflag)
		printf("{\"token\":\"%s\"}\n", tok);
	else
		printf("%s\n", tok);
	explicit_bzero(tok, sizeof(tok));
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return (0);
}

/* Keeps the generator's first failure. */
static void
regctl_gen(yajl_gen_status *st, yajl_gen_status now)
{
	if (*st == yajl_gen_status_ok)
		*st = now;
}

static yajl_gen_status
regctl_gen_str(yajl_gen g, const char *s)
{
	return (yajl_gen_string(g, (const unsigned char *)s, strlen(s)));
}

/* The request's body: yajl escapes the strings and checks their UTF-8. */
static char *
regctl_body(const struct regctl_args *ra)
{
	const unsigned char	*buf;
	yajl_gen		 g;
	yajl_gen_status		 st;
	char			*body;
	size_t			 len;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		err(1, NULL);
	if (yajl_gen_config(g, yajl_gen_validate_utf8, 1) == 0)
		errx(1, "cannot configure the JSON generator");
	st = yajl_gen_map_open(g);
	regctl_gen(&st, regctl_gen_str(g, "service_name"));
	regctl_gen(&st, regctl_gen_str(g, ra->ra_service));
	regctl_gen(&st, regctl_gen_str(g, "host"));
	regctl_gen(&st, regctl_gen_str(g, ra->ra_host));
	regctl_gen(&st, regctl_gen_str(g, "port"));
	regctl_gen(&st, yajl_gen_integer(g, ra->ra_port));
	if (ra->ra_cmd->rc_seconds != 0) {
		regctl_gen(&st, regctl_gen_str(g, "ttl_seconds"));
		regctl_gen(&st, yajl_gen_integer(g, ra->ra_seconds));
		regctl_gen(&st, regctl_gen_str(g, "use_tls"));
		regctl_gen(&st, yajl_gen_bool(g, ra->ra_tls));
	}
	regctl_gen(&st, yajl_gen_map_close(g));
	regctl_gen(&st, yajl_gen_get_buf(g, &buf, &len));
	if (st == yajl_gen_invalid_string)
		errx(1, "the service name and the host must be UTF-8");
	if (st != yajl_gen_status_ok)
		errx(1, "cannot generate JSON");
	if ((body = strndup((const char *)buf, len)) == NULL)
		err(1, NULL);
	yajl_gen_free(g);
	return (body);
}

/* One request, one answer; the exit status of the command. */
static int
regctl_request(const struct regctl_args *ra)
{
	struct regctl_answer	 an;
	unsigned char		 secret[REGCTL_FILE_MAX];
	char			 tok[JWT_MAX + 1], *body, *req;
	size_t			 len;
	int64_t			 deadline;
	int			 fd, n;

	len = regctl_readfile(ra->ra_secretfile, secret, sizeof(secret));
	regctl_secret_check(secret, len, ra->ra_secretfile);
	regctl_sign(ra, REGCTL_LIFETIME, tok, sizeof(tok));
	body = regctl_body(ra);
	n = asprintf(&req, "%s /register HTTP/1.1\r\nHost: %s\r\n"
	    "X-Register-Secret: %s\r\nAuthorization: Bearer %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", ra->ra_cmd->rc_method, ra->ra_api,
	    (char *)secret, tok, strlen(body), body);
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(tok, sizeof(tok));
	free(body);
	if (n == -1)
		err(1, NULL);

	deadline = ctl_now_ms() + CTL_TIMEOUT_MS;
	fd = regctl_connect(ra->ra_api, deadline);
#ifdef __OpenBSD__
	if (pledge("stdio", NULL) == -1)
		err(1, "pledge");
#endif
	regctl_write(fd, req, n, ra->ra_api, deadline);
	freezero(req, n);

	memset(&an, 0, sizeof(an));
	an.an_clen = -1;
	if ((an.an_buf = malloc(REGCTL_ANSWER_MAX + 1)) == NULL)
		err(1, NULL);
	regctl_read(fd, &an, ra->ra_api, deadline);
	close(fd);
	n = regctl_report(&an);
	free(an.an_buf);
	return (n);
}

/* "192.0.2.1:18080" or "[2001:db8::1]:18080", numeric only. */
static void
regctl_addr(const char *api, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo	 hints, *res;
	char		 buf[HOSTPORT_MAX], *host, *port, *p;
	int		 e;

	if (strlcpy(buf, api, sizeof(buf)) >= sizeof(buf))
		errx(1, "%s: address too long", api);
	if (buf[0] == '[') {
		host = buf + 1;
		if ((p = strchr(host, ']')) == NULL || p[1] != ':')
			errx(1, "%s: want [address]:port", api);
		*p = '\0';
		port = p + 2;
	} else {
		host = buf;
		if ((p = strchr(host, ':')) == NULL ||
		    strchr(p + 1, ':') != NULL)
			errx(1, "%s: want address:port, or [address]:port "
			    "for IPv6", api);
		*p = '\0';
		port = p + 1;
	}
	(void)regctl_number(port, 65535, "port");

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "%s: %s", api, gai_strerror(e));
	if (res->ai_addrlen > sizeof(*ss))
		errx(1, "%s: address too long", api);
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
}

static int
regctl_connect(const char *api, int64_t deadline)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen, elen;
	int			 fd, e;

	regctl_addr(api, &ss, &sslen);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0)
		return (fd);
	if (errno != EINPROGRESS)
		errx(1, "cannot connect to %s: %s", api, strerror(errno));
	ctl_wait(fd, POLLOUT, deadline);
	elen = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		err(1, "getsockopt");
	if (e != 0)
		errx(1, "cannot connect to %s: %s", api, strerror(e));
	return (fd);
}

static void
regctl_write(int fd, const char *buf, size_t len, const char *api,
    int64_t deadline)
{
	ssize_t	 n;
	size_t	 off = 0;

	while (off < len) {
		ctl_wait(fd, POLLOUT, deadline);
		if ((n = send(fd, buf + off, len - off, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* It may have answered early (413) and closed. */
			if (errno == EPIPE)
				return;
			err(1, "write to %s", api);
		}
		off += n;
	}
}

/* Until Content-Length is satisfied, or until the API closes. */
static void
regctl_read(int fd, struct regctl_answer *an, const char *api,
    int64_t deadline)
{
	ssize_t	 n;

	for (;;) {
		if (an->an_headlen == 0)
			regctl_head(an, api);
		if (an->an_headlen > 0 && an->an_clen >= 0 &&
		    an->an_len - an->an_headlen >= (size_t)an->an_clen)
			break;
		if (an->an_len == REGCTL_ANSWER_MAX)
			errx(1, "answer from %s longer than %d bytes", api,
			    REGCTL_ANSWER_MAX);
		ctl_wait(fd, POLLIN, deadline);
		n = read(fd, an->an_buf + an->an_len,
		    REGCTL_ANSWER_MAX - an->an_len);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(1, "read from %s", api);
		}
		if (n == 0)
			break;
		an->an_len += n;
	}
	if (an->an_headlen == 0)
		errx(1, "%s closed the connection without a complete answer",
		    api);
	an->an_body = an->an_buf + an->an_headlen;
	an->an_bodylen = an->an_len - an->an_headlen;
	if (an->an_clen >= 0) {
		if (an->an_bodylen < (size_t)an->an_clen)
			errx(1, "%s closed the connection before the end of "
			    "its answer", api);
		an->an_bodylen = an->an_clen;
	}
	an->an_body[an->an_bodylen] = '\0';
}

/* Parses the head once it is all there: status line, then fields. */
static void
regctl_head(struct regctl_answer *an, const char *api)
{
	char	*end, *line, *eol;

	if ((end = memmem(an->an_buf, an->an_len, "\r\n\r\n", 4)) == NULL)
		return;
	if (memchr(an->an_buf, '\0', end - an->an_buf) != NULL)
		regctl_malformed(api);
	an->an_headlen = end + 4 - an->an_buf;
	end[2] = '\0';		/* each line keeps its CRLF */

	line = an->an_buf;
	eol = strstr(line, "\r\n");
	*eol = '\0';
	regctl_status(an, line, api);
	for (line = eol + 2; (eol = strstr(line, "\r\n")) != NULL;
	    line = eol + 2) {
		*eol = '\0';
		regctl_header(an, line, api);
	}
}

/* "HTTP/1.1 200 OK", the reason optional. */
static void
regctl_status(struct regctl_answer *an, const char *line, const char *api)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) ||
	    (line[12] != ' ' && line[12] != '\0') || line[9] == '0')
		regctl_malformed(api);
	an->an_status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	an->an_reason = line[12] == '\0' ? "" : line + 13;
}

/* Only the framing matters: Content-Length, and no Transfer-Encoding. */
static void
regctl_header(struct regctl_answer *an, char *line, const char *api)
{
	char		*value, *p;
	long long	 n;

	/* a bare CR or LF, a field name with blanks or none */
	if (strpbrk(line, "\r\n") != NULL ||
	    (value = strchr(line, ':')) == NULL || value == line ||
	    strcspn(line, " \t") < (size_t)(value - line))
		regctl_malformed(api);
	*value++ = '\0';
	value += strspn(value, " \t");
	for (p = value + strlen(value); p > value &&
	    (p[-1] == ' ' || p[-1] == '\t'); p--)
		p[-1] = '\0';

	if (strcasecmp(line, "Transfer-Encoding") == 0)
		errx(1, "answer from %s has a Transfer-Encoding, which %s "
		    "does not read", api, getprogname());
	if (strcasecmp(line, "Content-Length") != 0)
		return;
	if (value[0] == '\0' || strspn(value, "0123456789") != strlen(value))
		regctl_malformed(api);
	if (strlen(value) > 8 || (n = atoll(value)) > REGCTL_ANSWER_MAX)
		errx(1, "answer from %s longer than %d bytes", api,
		    REGCTL_ANSWER_MAX);
	if (an->an_clen != -1 && an->an_clen != n)
		regctl_malformed(api);
	an->an_clen = n;
}

static void
regctl_malformed(const char *api)
{
	errx(1, "malformed answer from %s", api);
}

/* 200: the JSON answer on stdout, as it came. */
static int
regctl_report(const struct regctl_answer *an)
{
	if (an->an_status != 200)
		regctl_refused(an);
	if (an->an_bodylen == 0)
		return (0);
	if (fwrite(an->an_body, 1, an->an_bodylen, stdout) != an->an_bodylen)
		err(1, "stdout");
	if (an->an_body[an->an_bodylen - 1] != '\n' && putchar('\n') == EOF)
		err(1, "stdout");
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return (0);
}

/*
 * Anything else: one line on stderr with the status and the answer's
 * "error", or its body when it has none, or the reason phrase when the
 * body is empty; through vis(3), cut short.  Nothing on stdout.
 */
static void
regctl_refused(const struct regctl_answer *an)
{
	struct json_field	 f;
	char			 msg[REGCTL_ERROR_MAX], jerr[128], *v;
	size_t			 len;

	memset(&f, 0, sizeof(f));
	f.jf_name = "error";
	f.jf_type = JSON_STRING;
	f.jf_str = msg;
	f.jf_strsize = sizeof(msg);
	if (json_object(an->an_body, an->an_bodylen, &f, 1, jerr,
	    sizeof(jerr)) == -1 || !f.jf_seen) {
		if (strlcpy(msg, an->an_bodylen > 0 ? an->an_body :
		    an->an_reason, sizeof(msg)) >= sizeof(msg))
			memcpy(msg + sizeof(msg) - 4, "...", 4);
		len = strlen(msg);
		while (len > 0 && isspace((unsigned char)msg[len - 1]))
			msg[--len] = '\0';
	}
	v = ctl_vis(msg);
	fprintf(stderr, "%s: %d: %s\n", getprogname(), an->an_status, v);
	free(v);
	exit(1);
}
