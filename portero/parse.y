/*
 * parse.y: portero.conf(5), read by the parent into a configuration and
 * a set of servers and pools; every problem reported as FILE:LINE.
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

%{
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

/* The parse's own state: one parse at a time, in the parent. */
struct pfile {
	TAILQ_ENTRY(pfile)	 pf_entry;
	FILE			*pf_stream;
	char			*pf_name;
	int			 pf_lineno;
	int			 pf_errors;
};
static TAILQ_HEAD(files, pfile) files = TAILQ_HEAD_INITIALIZER(files);
static struct pfile		*file, *topfile;

struct sym {
	TAILQ_ENTRY(sym)	 sym_entry;
	char			*sym_name;
	char			*sym_value;
};
static TAILQ_HEAD(, sym)	 symhead = TAILQ_HEAD_INITIALIZER(symhead);

static struct portero_config	*conf;
static struct conf_set		*set;
static uint32_t			 cur_server;	/* index in set */
static uint32_t			 cur_location;	/* CONF_NONE: the server */
static char			 cur_pool[NAME_MAX_LEN];
static struct pfile		*lasterr_file;
static int			 lasterr_line;
static int			 fwdfield_line;	/* where it was said */

#define PARSE_INCLUDE_DEPTH	16
#define PARSE_WORD_MAX		8192

int		 yyparse(void);
static int	 yylex(void);
static int	 yyerror(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 kw_cmp(const void *, const void *);
static int	 lookup(char *);
static int	 lgetc(int);
static int	 lungetc(int);
static int	 findeol(void);
static struct pfile *pushfile(const char *);
static int	 popfile(void);
static int	 symset(const char *, const char *);
static char	*symget(const char *);
static void	 symclear(void);

static void	 conf_macro(const char *, const char *);
static void	 conf_forwarded(const char *);
static int	 conf_global(const char *, const char *);
static int	 conf_listen(const char *, long long, int);
static int	 conf_server(const char *);
static int	 conf_name(const char *);
static int	 conf_location(const char *);
static struct location *conf_here(void);
static int	 conf_action(int, uint16_t, const char *);
static int	 conf_rewrite(const char *, const char *);
static int	 conf_header(int, int, const char *, const char *);
static int	 conf_pool(const char *);
static int	 conf_backend(const char *, long long, int, long long);
static void	 conf_pool_option(const char *, const char *);
static void	 conf_pool_ca(struct pool_conf *, const char *);
static void	 conf_pool_cert(const char *, const char *, const char *);
static int	 conf_balance(const char *, int, const char *);
static int	 conf_sticky(const char *);
static int	 conf_hostname(const char *, int);
static int	 conf_value(const char *);
static void	 conf_check_type(int, const char *, long long);
static void	 conf_check_opt(int, long long);
static long long conf_duration(long long, const char *);
static void	 conf_check_end(void);
static int	 conf_client_ca(const char *, int);
static int	 conf_cert_field(int, const char *);
static void	 conf_net(const char *);
static void	 conf_nets_take(uint32_t);
static void	 conf_nets_drop(void);
static void	 conf_forwarders_field(int, int);

typedef struct {
	union {
		long long	 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;

%}

%token	INCLUDE LISTEN ON PORT TLS SERVER ALIAS DEFAULT LOCATION FORWARD TO
%token	RETURN BLOCK POOL BACKEND WEIGHT PATH STRIP REPLACE WITH REQUEST
%token	RESPONSE HEADER SET ADD REMOVE FORWARDED ERROR
%token	CLIENT CA VERIFY REQUIRED OPTIONAL CERTIFICATE SUBJECT FINGERPRINT
%token	PROXYPROTO FROM TRUSTED
%token	BALANCE HASH ADDRESS COOKIE STICKY
/* active health checks */
%token	CHECK TCP HTTP STATUS INTERVAL TIMEOUT RISE FALL
/* a pool's client certificate for its TLS backends */
%token	TLSCLIENTCERT
/* "block return N": return binds to block, not to a next option */
%nonassoc	BLOCK
%nonassoc	RETURN
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.string>	string value
/* strings thrown away by error recovery */
%destructor	{ free($$); }	<v.string>
%type	<v.number>	port opttls optweight hdrdir optverify
%type	<v.number>	optproxy optfield
%type	<v.number>	duration optstatus
%%

/*
 * A problem with a value is reported where it is (yyerror) and parsing
 * goes on, so that -n lists every one; only a broken structure makes a
 * syntax error, after which the rest of its line is skipped.
 */
grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar global '\n'
		| grammar listen '\n'
		| grammar trusted '\n'
		| grammar server '\n'
		| grammar pool '\n'
		| grammar error '\n'		/* reported; read on */
		;

include		: INCLUDE STRING		{
			struct pfile	*nfile;

			if ((nfile = pushfile($2)) != NULL) {
				/* its include line ends before its first */
				nfile->pf_lineno = 0;
				file = nfile;
				lungetc('\n');
			}
			free($2);
		}
		;

string		: string STRING			{
			if (asprintf(&$$, "%s %s", $1, $2) == -1)
				fatal("string");
			free($1);
			free($2);
		}
		| STRING
		;

value		: STRING
		| NUMBER			{
			if (asprintf(&$$, "%lld", $1) == -1)
				fatal("string");
		}
		;

varset		: STRING '=' string		{
			conf_macro($1, $3);
			free($1);
			free($3);
		}
		;

global		: STRING value			{
			conf_global($1, $2);
			free($1);
			free($2);
		}
		| STRING			{
			conf_global($1, NULL);
			free($1);
		}
		;

port		: PORT NUMBER			{
			$$ = $2;
			if ($2 < 1 || $2 > 65535) {
				yyerror("port %lld: want 1-65535", $2);
				$$ = 0;		/* reported: not again */
			}
		}
		;

opttls		: /* empty */			{ $$ = 0; }
		| TLS				{ $$ = 1; }
		;

listen		: LISTEN ON STRING port opttls optproxy	{
			int	 i;

			if ((i = conf_listen($3, $4, $5)) == -1)
				conf_nets_drop();
			else if ($6) {
				conf->listeners[i].ln_proxy = 1;
				conf_nets_take(NET_PROXY + i);
			}
			free($3);
		}
		;

/*
 * Networks: who may send a listener the PROXY protocol, and the trusted
 * forwarders.  A list's networks wait (NET_PENDING) until the statement
 * that holds them is whole and says which list they are.
 */
optproxy	: /* empty */			{ $$ = 0; }
		| PROXYPROTO FROM netlist	{ $$ = 1; }
		;

trusted		: TRUSTED netlist optfield	{
			conf_nets_take(NET_FORWARDERS);
			conf_forwarders_field($3, $<lineno>1);
		}
		;

optfield	: /* empty */			{ $$ = -1; }
		| HEADER FORWARDED		{ $$ = FWD_FIELD_FORWARDED; }
		| HEADER STRING			{
			if (strcasecmp($2, "x-forwarded-for") == 0)
				$$ = FWD_FIELD_XFF;
			else if (strcasecmp($2, "forwarded") == 0)
				$$ = FWD_FIELD_FORWARDED;
			else if (strcasecmp($2, "x-real-ip") == 0)
				$$ = FWD_FIELD_REAL_IP;
			else {
				yyerror("header \"%s\": want x-forwarded-for, "
				    "forwarded or x-real-ip", $2);
				$$ = -1;
			}
			free($2);
		}
		;

netlist		: netitem
		| '{' optnl netitems '}'
		;

netitems	: netitem optsep
		| netitems netitem optsep
		;

netitem		: STRING			{
			conf_net($1);
			free($1);
		}
		;

optsep		: optnl
		| ',' optnl
		;

optnl		: /* empty */
		| optnl '\n'
		;

nl		: '\n' optnl
		;

server		: SERVER STRING			{
			conf_server($2);
			free($2);
			$2 = NULL;	/* not the destructor's again */
		} '{' optnl serveropts_l '}'
		;

serveropts_l	: /* empty */
		| serveropts_l error nl
		| serveropts_l serveropt nl
		| serveropts_l serveropt
		;

serveropt	: ALIAS STRING			{
			conf_name($2);
			free($2);
		}
		| DEFAULT			{
			set->cs_servers[cur_server].sc_flags |= SERVER_DEFAULT;
		}
		| FORWARDED STRING		{
			conf_forwarded($2);
			free($2);
		}
		| LOCATION STRING		{
			conf_location($2);
			free($2);
			$2 = NULL;	/* not the destructor's again */
		} '{' optnl locopts_l '}'	{
			cur_location = CONF_NONE;
		}
		| locopt
		| clientopt
		;

/* client certificates (mTLS): a server's alone, not a location's */
clientopt	: CLIENT CA STRING optverify	{
			conf_client_ca($3, $4);
			free($3);
		}
		| CLIENT CERTIFICATE HEADER certfields
		;

optverify	: /* empty */			{ $$ = PTLS_VERIFY_REQUIRED; }
		| VERIFY REQUIRED		{ $$ = PTLS_VERIFY_REQUIRED; }
		| VERIFY OPTIONAL		{ $$ = PTLS_VERIFY_OPTIONAL; }
		;

certfields	: certfield
		| certfields certfield
		;

certfield	: SUBJECT STRING		{
			conf_cert_field(0, $2);
			free($2);
		}
		| FINGERPRINT STRING		{
			conf_cert_field(1, $2);
			free($2);
		}
		;

locopts_l	: /* empty */
		| locopts_l error nl
		| locopts_l locopt nl
		| locopts_l locopt
		;

locopt		: FORWARD TO STRING		{
			conf_action(LOC_FORWARD, 0, $3);
			free($3);
		}
		| RETURN NUMBER STRING		{
			if ($2 != 301 && $2 != 302 && $2 != 303 &&
			    $2 != 307 && $2 != 308)
				yyerror("return %lld: want 301, 302, 303, "
				    "307 or 308", $2);
			else
				conf_action(LOC_REDIRECT, $2, $3);
			free($3);
		}
		| BLOCK %prec BLOCK		{
			conf_action(LOC_BLOCK, 403, NULL);
		}
		| BLOCK RETURN NUMBER		{
			if ($3 < 400 || $3 > 599)
				yyerror("block return %lld: want a status "
				    "from 400 to 599", $3);
			else
				conf_action(LOC_BLOCK, $3, NULL);
		}
		| PATH STRIP STRING		{
			conf_rewrite($3, "");
			free($3);
		}
		| PATH REPLACE STRING WITH STRING	{
			conf_rewrite($3, $5);
			free($3);
			free($5);
		}
		| hdrdir HEADER SET STRING STRING	{
			conf_header($1, HDR_SET, $4, $5);
			free($4);
			free($5);
		}
		| hdrdir HEADER ADD STRING STRING	{
			conf_header($1, HDR_ADD, $4, $5);
			free($4);
			free($5);
		}
		| hdrdir HEADER REMOVE STRING	{
			conf_header($1, HDR_REMOVE, $4, "");
			free($4);
		}
		;

hdrdir		: REQUEST			{ $$ = HDR_REQUEST; }
		| RESPONSE			{ $$ = HDR_RESPONSE; }
		;

pool		: POOL STRING			{
			conf_pool($2);
			free($2);
			$2 = NULL;	/* not the destructor's again */
		} '{' optnl poolopts_l '}'	{
			conf_check_end();
		}
		;

poolopts_l	: /* empty */
		| poolopts_l error nl
		| poolopts_l poolopt nl
		| poolopts_l poolopt
		;

optweight	: /* empty */			{ $$ = 1; }
		| WEIGHT NUMBER			{ $$ = $2; }
		;

poolopt		: BACKEND STRING port opttls optweight	{
			conf_backend($2, $3, $4, $5);
			free($2);
		}
		| STRING value			{
			conf_pool_option($1, $2);
			free($1);
			free($2);
		}
		| balanceopt
		| CHECK checkspec
		| TLSCLIENTCERT STRING STRING STRING	{
			conf_pool_cert($2, $3, $4);
			free($2);
			free($3);
			free($4);
		}
		;

/* How the pool chooses a backend (balance.c). */
balanceopt	: BALANCE STRING		{
			conf_balance($2, -1, NULL);
			free($2);
		}
		| BALANCE HASH ADDRESS		{
			conf_balance("hash", BALANCE_KEY_ADDRESS, NULL);
		}
		| BALANCE HASH HEADER STRING	{
			conf_balance("hash", BALANCE_KEY_HEADER, $4);
			free($4);
		}
		| BALANCE HASH COOKIE STRING	{
			conf_balance("hash", BALANCE_KEY_COOKIE, $4);
			free($4);
		}
		| STICKY COOKIE STRING		{
			conf_sticky($3);
			free($3);
		}
		;

/*
 * Active health checks: "check tcp", "check tls" or "check http PATH
 * [status N]", and "check interval D timeout D rise N fall N", in any
 * order and on as many lines as one likes.
 */
checkspec	: checktype checkopts_l
		| checkopt checkopts_l
		;

checktype	: TCP				{
			conf_check_type(CHECK_TCP, NULL, 0);
		}
		| TLS				{
			conf_check_type(CHECK_TLS, NULL, 0);
		}
		| HTTP STRING optstatus		{
			conf_check_type(CHECK_HTTP, $2, $3);
			free($2);
		}
		;

optstatus	: /* empty */			{ $$ = CHECK_STATUS; }
		| STATUS NUMBER			{ $$ = $2; }
		;

checkopts_l	: /* empty */
		| checkopts_l checkopt
		;

checkopt	: INTERVAL duration		{
			conf_check_opt(INTERVAL, $2);
		}
		| TIMEOUT duration		{
			conf_check_opt(TIMEOUT, $2);
		}
		| RISE NUMBER			{ conf_check_opt(RISE, $2); }
		| FALL NUMBER			{ conf_check_opt(FALL, $2); }
		;

duration	: NUMBER			{
			$$ = conf_duration($1, NULL);
		}
		| STRING			{
			$$ = conf_duration(0, $1);
			free($1);
		}
		;

%%

struct keywords {
	const char	*k_name;
	int		 k_val;
};

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	file->pf_errors++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("yyerror");
	va_end(ap);
	/* the parser's own word on a line already explained says nothing */
	if (strcmp(msg, "syntax error") != 0 || file != lasterr_file ||
	    yylval.lineno != lasterr_line)
		log_warnx("%s:%d: %s", file->pf_name, yylval.lineno, msg);
	lasterr_file = file;
	lasterr_line = yylval.lineno;
	free(msg);
	return (0);
}

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keywords *)e)->k_name));
}

static int
lookup(char *s)
{
	/* in order: bsearch */
	static const struct keywords keywords[] = {
		{ "add",		ADD },
		{ "address",		ADDRESS },
		{ "alias",		ALIAS },
		{ "backend",		BACKEND },
		{ "balance",		BALANCE },
		{ "block",		BLOCK },
		{ "ca",			CA },
		{ "certificate",	CERTIFICATE },
		{ "check",		CHECK },
		{ "client",		CLIENT },
		{ "cookie",		COOKIE },
		{ "default",		DEFAULT },
		{ "fall",		FALL },
		{ "fingerprint",	FINGERPRINT },
		{ "forward",		FORWARD },
		{ "forwarded",		FORWARDED },
		{ "from",		FROM },
		{ "hash",		HASH },
		{ "header",		HEADER },
		{ "http",		HTTP },
		{ "include",		INCLUDE },
		{ "interval",		INTERVAL },
		{ "listen",		LISTEN },
		{ "location",		LOCATION },
		{ "on",			ON },
		{ "optional",		OPTIONAL },
		{ "path",		PATH },
		{ "pool",		POOL },
		{ "port",		PORT },
		{ "proxy-protocol",	PROXYPROTO },
		{ "remove",		REMOVE },
		{ "replace",		REPLACE },
		{ "request",		REQUEST },
		{ "required",		REQUIRED },
		{ "response",		RESPONSE },
		{ "return",		RETURN },
		{ "rise",		RISE },
		{ "server",		SERVER },
		{ "set",		SET },
		{ "status",		STATUS },
		{ "sticky",		STICKY },
		{ "strip",		STRIP },
		{ "subject",		SUBJECT },
		{ "tcp",		TCP },
		{ "timeout",		TIMEOUT },
		{ "tls",		TLS },
		{ "tls-client-certificate", TLSCLIENTCERT },
		{ "to",			TO },
		{ "trusted-forwarders",	TRUSTED },
		{ "verify",		VERIFY },
		{ "weight",		WEIGHT },
		{ "with",		WITH },
	};
	const struct keywords	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return (p != NULL ? p->k_val : STRING);
}

/*
 * Characters given back: a macro's value is read as if it stood in the
 * file, and a token's look-ahead is returned.
 */
static unsigned char	*parsebuf;
static int		 parseindex;
static unsigned char	 pushback_buffer[PARSE_WORD_MAX];
static int		 pushback_index;

static int
lgetc(int quotec)
{
	int	 c, next;

	if (parsebuf != NULL) {
		if (parseindex >= 0) {
			if ((c = parsebuf[parseindex++]) != '\0')
				return (c);
			parsebuf = NULL;
		} else
			parseindex++;
	}
	if (pushback_index > 0)
		return (pushback_buffer[--pushback_index]);
	if (quotec) {
		if ((c = getc(file->pf_stream)) == EOF) {
			yyerror("reached end of file inside a quoted string");
			if (file == topfile || popfile() == EOF)
				return (EOF);
			return (quotec);
		}
		return (c);
	}
	while ((c = getc(file->pf_stream)) == '\\') {
		if ((next = getc(file->pf_stream)) != '\n') {
			c = next;
			break;
		}
		yylval.lineno = file->pf_lineno;
		file->pf_lineno++;
	}
	while (c == EOF) {
		if (file == topfile || popfile() == EOF)
			return (EOF);
		c = getc(file->pf_stream);
	}
	return (c);
}

static int
lungetc(int c)
{
	if (c == EOF)
		return (EOF);
	if (parsebuf != NULL) {
		parseindex--;
		if (parseindex >= 0)
			return (c);
	}
	if (pushback_index >= (int)sizeof(pushback_buffer) - 1)
		fatalx("parser: pushback overflow");
	pushback_buffer[pushback_index++] = c;
	return (c);
}

/* After an error: the rest of the line goes. */
static int
findeol(void)
{
	int	 c;

	parsebuf = NULL;
	while (1) {
		if (pushback_index > 0)
			c = pushback_buffer[--pushback_index];
		else
			c = lgetc(0);
		if (c == '\n') {
			/* the line's end is left, for the error rule */
			lungetc(c);
			break;
		}
		if (c == EOF)
			break;
	}
	return (ERROR);
}

/* What may stand in a word that is not quoted. */
static int
word_char(int c)
{
	if (isalnum(c))
		return (1);
	switch (c) {
	case '!': case '{': case '}': case '=': case '#': case '"':
	case '\'': case ';': case ',': case '\n': case '\t': case ' ':
		return (0);
	}
	return (isprint(c));
}

/* A $macro in the file: its value is read in its place. */
static int
yylex_macro(void)
{
	unsigned char	 buf[PARSE_WORD_MAX], *p = buf;
	char		*val;
	int		 c;

	while (1) {
		if ((c = lgetc(0)) == EOF)
			return (0);
		if (p + 1 >= buf + sizeof(buf) - 1) {
			yyerror("macro name too long");
			return (findeol());
		}
		if (isalnum(c) || c == '_') {
			*p++ = c;
			continue;
		}
		*p = '\0';
		lungetc(c);
		break;
	}
	if ((val = symget((char *)buf)) == NULL) {
		yyerror("macro \"%s\" not defined", buf);
		return (findeol());
	}
	parsebuf = (unsigned char *)val;
	parseindex = 0;
	return (-1);	/* read on */
}

static int
yylex_quoted(int quotec)
{
	unsigned char	 buf[PARSE_WORD_MAX], *p = buf;
	int		 c, next;

	while (1) {
		if ((c = lgetc(quotec)) == EOF)
			return (0);
		if (c == '\n') {
			lungetc(c);
			yyerror("newline inside a quoted string");
			return (findeol());
		} else if (c == '\\') {
			if ((next = lgetc(quotec)) == EOF)
				return (0);
			if (next == quotec || next == ' ' || next == '\\' ||
			    next == '\t')
				c = next;
			else if (next == '\n') {
				file->pf_lineno++;
				continue;
			} else
				lungetc(next);
		} else if (c == quotec) {
			*p = '\0';
			break;
		} else if (c == '\0') {
			yyerror("NUL in a quoted string");
			return (findeol());
		}
		if (p + 1 >= buf + sizeof(buf) - 1) {
			yyerror("string too long");
			return (findeol());
		}
		*p++ = c;
	}
	if ((yylval.v.string = strdup((char *)buf)) == NULL)
		fatal("yylex: strdup");
	return (STRING);
}

/* A word: a number when it is only digits, else a keyword or a string. */
static int
yylex_word(int c)
{
	unsigned char	 buf[PARSE_WORD_MAX], *p = buf;
	const char	*errstr;
	int		 token, digits = 1;

	do {
		if (!isdigit(c))
			digits = 0;
		*p++ = c;
		if (p >= buf + sizeof(buf) - 1) {
			yyerror("word too long");
			return (findeol());
		}
	} while ((c = lgetc(0)) != EOF && word_char(c));
	lungetc(c);
	*p = '\0';
	if (digits) {
		yylval.v.number = strtonum((char *)buf, 0, LLONG_MAX, &errstr);
		if (errstr != NULL) {
			yyerror("\"%s\" is %s", buf, errstr);
			return (findeol());
		}
		return (NUMBER);
	}
	if ((token = lookup((char *)buf)) == STRING &&
	    (yylval.v.string = strdup((char *)buf)) == NULL)
		fatal("yylex: strdup");
	return (token);
}

static int
yylex(void)
{
	int	 c, ret;

 top:
	while ((c = lgetc(0)) == ' ' || c == '\t')
		;	/* nothing */
	yylval.lineno = file->pf_lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;	/* nothing */
	if (c == '$' && parsebuf == NULL) {
		if ((ret = yylex_macro()) == -1)
			goto top;
		return (ret);
	}
	switch (c) {
	case '\'':
	case '"':
		return (yylex_quoted(c));
	case ';':
		return ('\n');
	case '\n':
		yylval.lineno = file->pf_lineno;
		file->pf_lineno++;
		return (c);
	case EOF:
		return (0);
	}
	if (word_char(c))
		return (yylex_word(c));
	return (c);
}

static struct pfile *
pushfile(const char *name)
{
	struct pfile	*nfile;
	struct stat	 st;
	int		 depth = 0;

	TAILQ_FOREACH(nfile, &files, pf_entry)
		depth++;
	if (depth >= PARSE_INCLUDE_DEPTH) {
		yyerror("include \"%s\": nested too deep (%d files)", name,
		    depth);
		return (NULL);
	}
	if ((nfile = calloc(1, sizeof(*nfile))) == NULL ||
	    (nfile->pf_name = strdup(name)) == NULL)
		fatal("pushfile");
	if ((nfile->pf_stream = fopen(nfile->pf_name, "r")) == NULL) {
		if (file != NULL)
			yyerror("include \"%s\": %s", name, strerror(errno));
		else
			log_warn("%s", nfile->pf_name);
		free(nfile->pf_name);
		free(nfile);
		return (NULL);
	}
	/* a device or a pipe could feed the parser for ever */
	if (fstat(fileno(nfile->pf_stream), &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		if (file != NULL)
			yyerror("include \"%s\": not a regular file", name);
		else
			log_warnx("%s: not a regular file", name);
		fclose(nfile->pf_stream);
		free(nfile->pf_name);
		free(nfile);
		return (NULL);
	}
	nfile->pf_lineno = 1;
	TAILQ_INSERT_TAIL(&files, nfile, pf_entry);
	return (nfile);
}

static int
popfile(void)
{
	struct pfile	*prev;

	if ((prev = TAILQ_PREV(file, files, pf_entry)) != NULL)
		prev->pf_errors += file->pf_errors;
	TAILQ_REMOVE(&files, file, pf_entry);
	fclose(file->pf_stream);
	free(file->pf_name);
	free(file);
	file = prev;
	return (file != NULL ? 0 : EOF);
}

/*
 * Read path into c and s, on top of what they hold (the defaults).
 * Returns the number of problems, each logged as FILE:LINE: message;
 * -1 when the file cannot be opened.
 */
int
parse_config(const char *path, struct portero_config *c, struct conf_set *s)
{
	int	 errors;

	conf = c;
	set = s;
	cur_server = cur_location = CONF_NONE;
	fwdfield_line = 0;
	lasterr_file = NULL;
	if ((file = pushfile(path)) == NULL)
		return (-1);
	topfile = file;
	(void)yyparse();
	errors = file->pf_errors;
	popfile();
	symclear();
	parsebuf = NULL;
	pushback_index = 0;
	errors += confset_check(s, path);
	return (errors);
}

static int
symset(const char *name, const char *value)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, sym_entry)
		if (strcmp(name, sym->sym_name) == 0)
			break;
	if (sym != NULL) {
		free(sym->sym_value);
		if ((sym->sym_value = strdup(value)) == NULL)
			return (-1);
		return (0);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL ||
	    (sym->sym_name = strdup(name)) == NULL ||
	    (sym->sym_value = strdup(value)) == NULL) {
		if (sym != NULL)
			free(sym->sym_name);
		free(sym);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&symhead, sym, sym_entry);
	return (0);
}

static char *
symget(const char *name)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, sym_entry)
		if (strcmp(name, sym->sym_name) == 0)
			return (sym->sym_value);
	return (NULL);
}

static void
symclear(void)
{
	struct sym	*sym;

	while ((sym = TAILQ_FIRST(&symhead)) != NULL) {
		TAILQ_REMOVE(&symhead, sym, sym_entry);
		free(sym->sym_name);
		free(sym->sym_value);
		free(sym);
	}
}

static void
conf_macro(const char *name, const char *value)
{
	const char	*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_') {
			yyerror("macro name \"%s\": letters, digits and _ "
			    "only", name);
			return;
		}
	if (symset(name, value) == -1)
		fatal("macro");
}

static void
conf_forwarded(const char *style)
{
	struct server_conf	*sc = &set->cs_servers[cur_server];

	if (strcmp(style, "x-forwarded") == 0)
		sc->sc_forwarded = FORWARDED_X;
	else if (strcmp(style, "rfc7239") == 0)
		sc->sc_forwarded = FORWARDED_RFC7239;
	else if (strcmp(style, "both") == 0)
		sc->sc_forwarded = FORWARDED_BOTH;
	else
		yyerror("forwarded \"%s\": want x-forwarded, rfc7239 or "
		    "both", style);
}

/* A global option: a flag of portero(8) without its dashes. */
static int
conf_global(const char *name, const char *value)
{
	char	 why[256];

	if (config_file_option(conf, name, value, why, sizeof(why)) == -1) {
		yyerror("%s", why);
		return (-1);
	}
	return (0);
}

static int
conf_listen(const char *addr, long long port, int tls)
{
	struct listen_conf	*ln;
	char			 buf[HOSTPORT_MAX], canon[LISTEN_ADDR_MAX];
	uint32_t		 i;

	if (port == 0)
		return (-1);
	if (strcmp(addr, "*") == 0)
		addr = "0.0.0.0";
	(void)snprintf(buf, sizeof(buf), strchr(addr, ':') != NULL ?
	    "[%s]:%lld" : "%s:%lld", addr, port);
	if (listener_canon(buf, canon, sizeof(canon)) == -1) {
		yyerror("listen on %s: not a numeric address", addr);
		return (-1);
	}
	for (i = 0; i < conf->nlisteners; i++)
		if (strcmp(conf->listeners[i].ln_addr, canon) == 0) {
			yyerror("listen on %s: said twice", canon);
			return (-1);
		}
	if (conf->nlisteners == PORTERO_MAX_LISTENERS) {
		yyerror("listen on %s: more than %d listeners", canon,
		    PORTERO_MAX_LISTENERS);
		return (-1);
	}
	ln = &conf->listeners[conf->nlisteners];
	memset(ln, 0, sizeof(*ln));
	(void)strlcpy(ln->ln_addr, canon, sizeof(ln->ln_addr));
	ln->ln_tls = tls;
	return (conf->nlisteners++);
}

/*
 * A host name as a server or alias names it: letters, digits, '-' and
 * '.', lower case; "*." in front when wild is allowed.
 */
static int
conf_hostname(const char *name, int wild)
{
	const char	*p = name;

	if (wild && strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0' || strlen(name) >= NAME_MAX_LEN)
		return (-1);
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return (-1);
	return (0);
}

static int
conf_name(const char *name)
{
	struct server_name	*sn;
	char			*p;

	if (conf_hostname(name, 1) == -1) {
		yyerror("\"%s\": not a host name (letters, digits, '-', '.'; "
		    "\"*.\" in front for any one label)", name);
		return (-1);
	}
	if ((sn = confset_add_name(set)) == NULL)
		fatal("name");
	sn->sn_server = cur_server;
	sn->sn_line = yylval.lineno;
	(void)strlcpy(sn->sn_name, name, sizeof(sn->sn_name));
	for (p = sn->sn_name; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	return (0);
}

static int
conf_server(const char *name)
{
	struct server_conf	*sc;
	struct location		*lo;

	if ((sc = confset_add_server(set)) == NULL)
		fatal("server");
	cur_server = set->cs_nservers - 1;
	cur_location = CONF_NONE;
	sc->sc_line = yylval.lineno;
	(void)strlcpy(sc->sc_name, name, sizeof(sc->sc_name));
	/* the server's own action, for paths no location takes */
	if ((lo = confset_add_location(set)) == NULL ||
	    (lo->lo_path = strdup("")) == NULL)
		fatal("server");
	lo->lo_server = cur_server;
	lo->lo_line = yylval.lineno;
	return (conf_name(name));
}

static int
conf_location(const char *pattern)
{
	struct location	*lo;
	size_t		 len = strlen(pattern);
	const char	*star = strchr(pattern, '*');

	/* a bad one is reported and kept, so its options land in it */
	if (pattern[0] != '/')
		yyerror("location \"%s\": a path starts with '/'", pattern);
	else if (star != NULL && star != pattern + len - 1)
		yyerror("location \"%s\": '*' only at the end", pattern);
	else if (len >= CONF_STR_MAX)
		yyerror("location: path too long");
	if ((lo = confset_add_location(set)) == NULL ||
	    (lo->lo_path = strndup(pattern, star != NULL ? len - 1 :
	    len)) == NULL)
		fatal("location");
	lo->lo_server = cur_server;
	lo->lo_match = star != NULL ? LOC_PREFIX : LOC_EXACT;
	lo->lo_line = yylval.lineno;
	lo->lo_pathlen = strlen(lo->lo_path);
	cur_location = set->cs_nlocations - 1;
	return (0);
}

/* The location being read, or the server's own. */
static struct location *
conf_here(void)
{
	uint32_t	 i;

	if (cur_location != CONF_NONE)
		return (&set->cs_locations[cur_location]);
	for (i = set->cs_nlocations; i-- > 0;)
		if (set->cs_locations[i].lo_server == cur_server &&
		    set->cs_locations[i].lo_path[0] == '\0')
			return (&set->cs_locations[i]);
	fatalx("server without its own location");
}

static int
conf_action(int action, uint16_t status, const char *arg)
{
	struct location	*lo = conf_here();
	char		*s = NULL;

	if (lo->lo_action != LOC_INHERIT) {
		yyerror("a second forward, return or block here");
		return (-1);
	}
	if (action == LOC_FORWARD && conf_hostname(arg, 0) == -1) {
		yyerror("forward to \"%s\": not a pool name", arg);
		return (-1);
	}
	if (action == LOC_REDIRECT && conf_value(arg) == -1)
		return (-1);
	if (arg != NULL && (s = strdup(arg)) == NULL)
		fatal("action");
	if (action == LOC_FORWARD) {
		for (lo->lo_pool = s; *s != '\0'; s++)
			*s = tolower((unsigned char)*s);
	} else
		lo->lo_target = s;
	lo->lo_action = action;
	lo->lo_status = status;
	lo->lo_line = yylval.lineno;
	return (0);
}

static int
conf_rewrite(const char *from, const char *to)
{
	struct location	*lo = conf_here();

	if (from[0] != '/' || (to[0] != '\0' && to[0] != '/')) {
		yyerror("path: prefixes start with '/'");
		return (-1);
	}
	if (strlen(from) >= CONF_STR_MAX || strlen(to) >= CONF_STR_MAX ||
	    strpbrk(to, "?# \t") != NULL) {
		yyerror("path: a prefix too long, or with '?', '#' or blanks");
		return (-1);
	}
	if (lo->lo_strip != NULL) {
		yyerror("a second path strip or replace here");
		return (-1);
	}
	if ((lo->lo_strip = strdup(from)) == NULL ||
	    (lo->lo_prefix = strdup(to)) == NULL)
		fatal("path");
	return (0);
}

/*
 * Fields portero frames the message with, or that say who the client
 * is: a file may not set or remove them.
 */
static int
conf_header_reserved(const char *name)
{
	static const char *const reserved[] = {
		"connection", "content-length", "host", "keep-alive",
		"proxy-connection", "te", "trailer", "transfer-encoding",
		"upgrade",
	};
	size_t	 i;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return (1);
	return (0);
}

static int
conf_header(int dir, int verb, const char *name, const char *value)
{
	struct header_op	*ho;
	const char		*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~",
		    *p) == NULL)
			break;
	if (*name == '\0' || *p != '\0' || strlen(name) > 128) {
		yyerror("header \"%s\": not a field name", name);
		return (-1);
	}
	if (conf_header_reserved(name)) {
		yyerror("header \"%s\": portero sets this field itself", name);
		return (-1);
	}
	if (conf_value(value) == -1)
		return (-1);
	if ((ho = confset_add_header(set)) == NULL ||
	    (ho->ho_name = strdup(name)) == NULL ||
	    (ho->ho_value = strdup(value)) == NULL)
		fatal("header");
	ho->ho_server = cur_server;
	ho->ho_location = cur_location;
	ho->ho_dir = dir;
	ho->ho_verb = verb;
	ho->ho_line = yylval.lineno;
	ho->ho_namelen = strlen(name);
	return (0);
}

/* A value or target: printable, its $MACROs known. */
static int
conf_value(const char *value)
{
	const char	*p;

	if (strlen(value) >= CONF_STR_MAX) {
		yyerror("value too long");
		return (-1);
	}
	for (p = value; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f) {
			yyerror("control character in \"%s\"", value);
			return (-1);
		}
	if (macro_check(value, &p) == -1) {
		yyerror("\"%s\": unknown macro at \"%.32s\" (say $$ for $)",
		    value, p);
		return (-1);
	}
	return (0);
}

static int
conf_pool(const char *name)
{
	struct pool_conf	*pl;
	char			 lower[NAME_MAX_LEN];
	size_t			 i;

	/* a bad one is reported and kept, so that its options land in it */
	if (conf_hostname(name, 0) == -1)
		yyerror("pool \"%s\": letters, digits, '-', '_' and '.' only",
		    name);
	for (i = 0; name[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = tolower((unsigned char)name[i]);
	lower[i] = '\0';
	if ((pl = confset_pool(set, lower)) != NULL &&
	    (pl->pl_flags & POOL_DECLARED))
		yyerror("pool \"%s\": already declared on line %d", name,
		    pl->pl_line);
	if ((pl = confset_add_pool(set, lower)) == NULL)
		fatal("pool");
	pl->pl_flags |= POOL_DECLARED;
	pl->pl_line = yylval.lineno;
	(void)strlcpy(cur_pool, lower, sizeof(cur_pool));
	return (0);
}

static int
conf_backend(const char *host, long long port, int tls, long long weight)
{
	char	 why[256];

	if (port == 0)
		return (-1);

	if (weight < 1 || weight > BACKEND_WEIGHT_MAX) {
		yyerror("weight %lld: want 1-%d", weight, BACKEND_WEIGHT_MAX);
		return (-1);
	}
	if (config_resolve_backend(set, cur_pool, host, port, tls, weight,
	    why, sizeof(why)) == -1) {
		yyerror("backend %s: %s", host, why);
		return (-1);
	}
	return (0);
}

/* A network of a list, held until the statement says which list. */
static void
conf_net(const char *arg)
{
	struct net_conf	*nc;
	struct reg_net	 rn;
	char		 why[256];

	if (config_parse_net(arg, &rn, why, sizeof(why)) == -1) {
		yyerror("%s", why);
		return;
	}
	if ((nc = confset_add_net(set)) == NULL)
		fatal("network");
	nc->nc_list = NET_PENDING;
	nc->nc_line = yylval.lineno;
	nc->nc_net = rn;
}

static void
conf_nets_take(uint32_t list)
{
	uint32_t	 i;

	for (i = set->cs_nnets; i-- > 0 &&
	    set->cs_nets[i].nc_list == NET_PENDING;)
		set->cs_nets[i].nc_list = list;
}

/* A statement that failed: its networks go with it. */
static void
conf_nets_drop(void)
{
	while (set->cs_nnets > 0 &&
	    set->cs_nets[set->cs_nnets - 1].nc_list == NET_PENDING)
		set->cs_nnets--;
}

/*
 * The field the forwarders' chain is read from: the lists of several
 * statements add up, so those that name one must agree on it.
 */
static void
conf_forwarders_field(int field, int line)
{
	if (field == -1)
		return;		/* x-forwarded-for, unless one says else */
	if (fwdfield_line != 0 && (uint32_t)field != conf->forwarders_field) {
		yyerror("trusted-forwarders: another header than on line %d",
		    fwdfield_line);
		return;
	}
	conf->forwarders_field = field;
	fwdfield_line = line;
}

/*
 * "client ca FILE [verify required | verify optional]": the bundle is
 * read and parsed now, so that a file that cannot be is an error of
 * this line, and a reload with it keeps the running configuration.
 */
static int
conf_client_ca(const char *path, int mode)
{
	struct server_conf	*sc = &set->cs_servers[cur_server];
	char			 why[CONF_PATH_MAX + 256];
	unsigned int		 index;

	if (sc->sc_verify != PTLS_VERIFY_NONE) {
		yyerror("client ca: server \"%s\" has one", sc->sc_name);
		return (-1);
	}
	if (path[0] != '/') {
		yyerror("client ca \"%s\": want an absolute path", path);
		return (-1);
	}
	if (set->cs_clientca == NULL &&
	    (set->cs_clientca = clientca_new()) == NULL)
		fatal("client ca");
	if (clientca_add(set->cs_clientca, path, &index, why,
	    sizeof(why)) == -1) {
		yyerror("%s", why);
		return (-1);
	}
	sc->sc_verify = mode;
	sc->sc_clientca = index;
	return (0);
}

/*
 * "client certificate header subject NAME fingerprint NAME": the fields
 * that carry a verified certificate to the backend, never one portero
 * sets for other reasons.
 */
static int
conf_cert_field(int fingerprint, const char *name)
{
	static const char *const forwarding[] = {
		"forwarded", "x-forwarded-for", "x-forwarded-host",
		"x-forwarded-proto", "x-real-ip",
	};
	struct server_conf	*sc = &set->cs_servers[cur_server];
	char			*dst, *other;
	const char		*p;
	size_t			 i;

	dst = fingerprint ? sc->sc_fingerprint_field : sc->sc_subject_field;
	other = fingerprint ? sc->sc_subject_field : sc->sc_fingerprint_field;
	sc->sc_cert_line = yylval.lineno;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~",
		    *p) == NULL)
			break;
	if (*name == '\0' || *p != '\0' ||
	    strlen(name) >= CLIENT_CERT_FIELD_MAX) {
		yyerror("client certificate header \"%s\": not a field name "
		    "of at most %d characters", name,
		    CLIENT_CERT_FIELD_MAX - 1);
		return (-1);
	}
	for (i = 0; i < sizeof(forwarding) / sizeof(forwarding[0]); i++)
		if (strcasecmp(name, forwarding[i]) == 0)
			break;
	if (i < sizeof(forwarding) / sizeof(forwarding[0]) ||
	    conf_header_reserved(name)) {
		yyerror("client certificate header \"%s\": portero sets this "
		    "field itself", name);
		return (-1);
	}
	if (dst[0] != '\0' || strcasecmp(name, other) == 0) {
		yyerror("client certificate header \"%s\": said twice", name);
		return (-1);
	}
	(void)strlcpy(dst, name, CLIENT_CERT_FIELD_MAX);
	return (0);
}

/*
 * "tls-ca FILE": the bundle the pool's TLS backends are verified against
 * instead of the global upstream-ca, read and parsed now, so that a file
 * that cannot be is an error of this line, and a reload with it keeps
 * the running configuration.
 */
static void
conf_pool_ca(struct pool_conf *pl, const char *path)
{
	char		 why[CONF_PATH_MAX + 256];
	unsigned int	 index;

	if (pl->pl_tls_ca != 0) {
		yyerror("tls-ca: pool \"%s\" has one", pl->pl_name);
		return;
	}
	if (path[0] != '/') {
		yyerror("tls-ca \"%s\": want an absolute path", path);
		return;
	}
	if (set->cs_poolca == NULL && (set->cs_poolca = poolca_new()) == NULL)
		fatal("tls-ca");
	if (poolca_add(set->cs_poolca, path, &index, why, sizeof(why)) == -1) {
		yyerror("%s", why);
		return;
	}
	pl->pl_tls_ca = index + 1;
}

/*
 * "tls-client-certificate FILE key FILE": what the pool's TLS backends
 * are shown when they ask for a client certificate.  The files are
 * opened now (a missing one is an error of this line) but read by the
 * certloader alone; -n, run by the operator, reads and checks them.
 */
static void
conf_pool_cert(const char *cert, const char *word, const char *key)
{
	struct pool_conf	*pl = confset_pool(set, cur_pool);
	char			 why[CONF_PATH_MAX + CERT_ERROR_LEN];
	char			 where[CONF_PATH_MAX];
	unsigned int		 index;

	if (strcmp(word, "key") != 0) {
		yyerror("tls-client-certificate: \"%s\" where \"key\" goes",
		    word);
		return;
	}
	if (pl->pl_tls_cert != 0) {
		yyerror("tls-client-certificate: pool \"%s\" has one",
		    pl->pl_name);
		return;
	}
	if (set->cs_poolcert == NULL &&
	    (set->cs_poolcert = poolcert_new()) == NULL)
		fatal("tls-client-certificate");
	(void)snprintf(where, sizeof(where), "%s:%d", file->pf_name,
	    yylval.lineno);
	if (poolcert_add(set->cs_poolcert, cert, key, where, &index, why,
	    sizeof(why)) == -1) {
		yyerror("%s", why);
		return;
	}
	pl->pl_tls_cert = index + 1;
}

/*
 * A global option a pool sets for its own backends: tls-name (their SNI
 * and the name their certificates must bear), tls-ca, connect-timeout,
 * upstream-timeout, max-connections (a backend's, in each worker),
 * max-pool-connections (all its backends', in each worker) and retry
 * (what a failed request may do next).
 */
static void
conf_pool_option(const char *name, const char *value)
{
	struct pool_conf	*pl = confset_pool(set, cur_pool);
	const char		*errstr;
	long long		 n;

	if (strcmp(name, "tls-name") == 0) {
		if (conf_hostname(value, 0) == -1)
			yyerror("tls-name \"%s\": not a host name", value);
		else
			(void)strlcpy(pl->pl_tls_name, value,
			    sizeof(pl->pl_tls_name));
		return;
	}
	if (strcmp(name, "tls-ca") == 0) {
		conf_pool_ca(pl, value);
		return;
	}
	if (strcmp(name, "retry") == 0) {
		if (strcmp(value, "connect") == 0)
			pl->pl_retry = RETRY_CONNECT;
		else if (strcmp(value, "none") == 0)
			pl->pl_retry = RETRY_NONE;
		else if (strcmp(value, "idempotent") == 0)
			pl->pl_retry = RETRY_IDEMPOTENT;
		else
			yyerror("retry \"%s\": want connect, none or "
			    "idempotent", value);
		return;
	}
	if (strcmp(name, "connect-timeout") != 0 &&
	    strcmp(name, "upstream-timeout") != 0 &&
	    strcmp(name, "max-connections") != 0 &&
	    strcmp(name, "max-pool-connections") != 0) {
		yyerror("\"%s\" is not a pool option", name);
		return;
	}
	n = strtonum(value, 1, name[0] == 'c' ? 3600 : name[0] == 'u' ?
	    86400 : 1000000, &errstr);
	if (errstr != NULL) {
		yyerror("%s \"%s\" is %s", name, value, errstr);
		return;
	}
	if (name[0] == 'c')
		pl->pl_connect_timeout = n;
	else if (name[0] == 'u')
		pl->pl_upstream_timeout = n;
	else if (strcmp(name, "max-connections") == 0)
		pl->pl_max_connections = n;
	else
		pl->pl_max_pool_connections = n;
}

/*
 * Balancing options (balance.c).  A name a mode hashes on, or the sticky
 * cookie's, is an HTTP token (RFC 9110 5.6.2).
 */
static int
conf_token(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return (-1);
	return (i == 0 || i >= BALANCE_NAME_MAX ? -1 : 0);
}

static int
conf_balance(const char *mode, int key, const char *name)
{
	struct pool_conf	*pl;
	struct balance_conf	*ba;

	if ((pl = confset_pool(set, cur_pool)) == NULL)
		return (-1);
	ba = &pl->pl_balance;
	if (ba->ba_line != 0) {
		yyerror("pool \"%s\": balance given twice (first on line %d)",
		    cur_pool, ba->ba_line);
		return (-1);
	}
	ba->ba_line = yylval.lineno;
	if (key == BALANCE_KEY_HEADER || key == BALANCE_KEY_COOKIE) {
		if (conf_token(name) == -1) {
			yyerror("hash %s \"%s\": not a %s name", key ==
			    BALANCE_KEY_HEADER ? "header" : "cookie", name,
			    key == BALANCE_KEY_HEADER ? "field" : "cookie");
			return (-1);
		}
		if (key == BALANCE_KEY_COOKIE && ba->ba_sticky &&
		    strcmp(name, ba->ba_cookie) == 0) {
			yyerror("hash cookie \"%s\": the sticky cookie", name);
			return (-1);
		}
		(void)strlcpy(ba->ba_keyname, name, sizeof(ba->ba_keyname));
	}
	if (key != -1) {
		ba->ba_mode = BALANCE_HASH;
		ba->ba_key = key;
	} else if (strcmp(mode, "roundrobin") == 0)
		ba->ba_mode = BALANCE_ROUNDROBIN;
	else if (strcmp(mode, "random") == 0)
		ba->ba_mode = BALANCE_RANDOM;
	else if (strcmp(mode, "least-connections") == 0)
		ba->ba_mode = BALANCE_LEASTCONN;
	else {
		yyerror("balance %s: want roundrobin, random, "
		    "least-connections or hash", mode);
		return (-1);
	}
	return (0);
}

static int
conf_sticky(const char *name)
{
	struct pool_conf	*pl;
	struct balance_conf	*ba;

	if ((pl = confset_pool(set, cur_pool)) == NULL)
		return (-1);
	ba = &pl->pl_balance;
	if (ba->ba_sticky_line != 0) {
		yyerror("pool \"%s\": sticky cookie given twice (first on "
		    "line %d)", cur_pool, ba->ba_sticky_line);
		return (-1);
	}
	ba->ba_sticky_line = yylval.lineno;
	if (conf_token(name) == -1) {
		yyerror("sticky cookie \"%s\": not a cookie name", name);
		return (-1);
	}
	if (ba->ba_mode == BALANCE_HASH && ba->ba_key == BALANCE_KEY_COOKIE &&
	    strcmp(name, ba->ba_keyname) == 0) {
		yyerror("sticky cookie \"%s\": the cookie the hash reads",
		    name);
		return (-1);
	}
	ba->ba_sticky = 1;
	(void)strlcpy(ba->ba_cookie, name, sizeof(ba->ba_cookie));
	return (0);
}

/*
 * Active health checks of the pool being read (cur_pool): each setting
 * goes into its pool_conf as it comes; the defaults, and what needs the
 * whole block, at its end.
 */
static struct {
	char	 cc_pool[NAME_MAX_LEN];	/* the pool they are for */
	int	 cc_line;		/* its last "check" line */
	int	 cc_typeline;		/* the one with its type */
} cur_check;

static struct check_conf *
conf_check_here(void)
{
	struct pool_conf	*pl;

	if ((pl = confset_pool(set, cur_pool)) == NULL)
		return (NULL);
	if (strcmp(cur_check.cc_pool, cur_pool) != 0) {
		memset(&cur_check, 0, sizeof(cur_check));
		(void)strlcpy(cur_check.cc_pool, cur_pool,
		    sizeof(cur_check.cc_pool));
	}
	cur_check.cc_line = yylval.lineno;
	return (&pl->pl_check);
}

static void
conf_check_type(int type, const char *path, long long status)
{
	struct check_conf	*ck;
	size_t			 i;

	if ((ck = conf_check_here()) == NULL)
		return;
	if (ck->ck_type != CHECK_NONE) {
		yyerror("pool \"%s\": a second check (the first is on line "
		    "%d)", cur_pool, cur_check.cc_typeline);
		return;
	}
	if (type == CHECK_HTTP) {
		for (i = 0; path[i] != '\0'; i++)
			if ((unsigned char)path[i] <= ' ' ||
			    (unsigned char)path[i] >= 0x7f)
				break;
		if (path[0] != '/' || path[i] != '\0' ||
		    i >= sizeof(ck->ck_path)) {
			yyerror("check http \"%s\": want a path that starts "
			    "with '/', without blanks, of at most %zu bytes",
			    path, sizeof(ck->ck_path) - 1);
			return;
		}
		if (status < 100 || status > 599) {
			yyerror("check http status %lld: want 100-599",
			    status);
			return;
		}
		(void)strlcpy(ck->ck_path, path, sizeof(ck->ck_path));
		ck->ck_status = status;
	}
	ck->ck_type = type;
	cur_check.cc_typeline = yylval.lineno;
}

/* "5" is seconds; "200ms" and "5s" say which.  In ms, or -1. */
static long long
conf_duration(long long secs, const char *word)
{
	const char	*errstr;
	char		 digits[16];
	size_t		 n;
	long long	 v;

	if (word == NULL)
		return (secs > LLONG_MAX / 1000 ? LLONG_MAX : secs * 1000);
	n = strspn(word, "0123456789");
	if (n == 0 || n >= sizeof(digits) || (strcmp(word + n, "ms") != 0 &&
	    strcmp(word + n, "s") != 0)) {
		yyerror("\"%s\": a duration is seconds, or a number and "
		    "\"ms\" or \"s\"", word);
		return (-1);
	}
	memcpy(digits, word, n);
	digits[n] = '\0';
	v = strtonum(digits, 0, LLONG_MAX / 1000, &errstr);
	if (errstr != NULL)
		return (LLONG_MAX);
	return (word[n] == 'm' ? v : v * 1000);
}

static void
conf_check_opt(int opt, long long v)
{
	struct check_conf	*ck;

	if ((ck = conf_check_here()) == NULL || v < 0)
		return;
	switch (opt) {
	case INTERVAL:
	case TIMEOUT:
		if (v < CHECK_MIN_MS || v > CHECK_MAX_MS) {
			yyerror("check %s %lld ms: want %d ms to %d s",
			    opt == INTERVAL ? "interval" : "timeout", v,
			    CHECK_MIN_MS, CHECK_MAX_MS / 1000);
			return;
		}
		if (opt == INTERVAL)
			ck->ck_interval_ms = v;
		else
			ck->ck_timeout_ms = v;
		break;
	default:
		if (v < 1 || v > CHECK_COUNT_MAX) {
			yyerror("check %s %lld: want 1-%d", opt == RISE ?
			    "rise" : "fall", v, CHECK_COUNT_MAX);
			return;
		}
		if (opt == RISE)
			ck->ck_rise = v;
		else
			ck->ck_fall = v;
		break;
	}
}

/* The end of a pool block: its check whole, with the defaults. */
static void
conf_check_end(void)
{
	struct pool_conf	*pl;
	struct check_conf	*ck;
	int			 line = yylval.lineno;

	if ((pl = confset_pool(set, cur_pool)) == NULL ||
	    strcmp(cur_check.cc_pool, cur_pool) != 0)
		return;		/* no "check" in it */
	ck = &pl->pl_check;
	yylval.lineno = cur_check.cc_line;
	if (ck->ck_type == CHECK_NONE)
		yyerror("pool \"%s\": check interval, timeout, rise and fall "
		    "need a check: tcp, tls or http \"path\"", cur_pool);
	if (ck->ck_interval_ms == 0)
		ck->ck_interval_ms = CHECK_INTERVAL_MS;
	if (ck->ck_timeout_ms == 0)
		ck->ck_timeout_ms = ck->ck_interval_ms < CHECK_TIMEOUT_MS ?
		    ck->ck_interval_ms : CHECK_TIMEOUT_MS;
	if (ck->ck_rise == 0)
		ck->ck_rise = CHECK_RISE;
	if (ck->ck_fall == 0)
		ck->ck_fall = CHECK_FALL;
	if (ck->ck_timeout_ms > ck->ck_interval_ms)
		yyerror("pool \"%s\": check timeout %u ms is longer than its "
		    "interval, %u ms", cur_pool, ck->ck_timeout_ms,
		    ck->ck_interval_ms);
	yylval.lineno = line;
	memset(&cur_check, 0, sizeof(cur_check));
}
