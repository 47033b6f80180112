/*
 * http1.h: the strict HTTP/1.1 parser (RFC 9110, RFC 9112) for request
 * heads, response heads and chunked bodies; self-contained, zero-copy.
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

#ifndef HTTP1_H
#define HTTP1_H

#include <stddef.h>
#include <stdint.h>

/*
 * Limits.  A request line longer than HTTP1_LINE_MAX bytes (CRLF not
 * counted) is answered 414; a head that has not ended within HTTP1_HEAD_MAX
 * bytes (leading empty lines and the final CRLF counted), or that has more
 * than HTTP1_MAX_FIELDS field lines, 431.  Up to HTTP1_LEADING_CRLF_MAX
 * empty lines before a request line are skipped (RFC 9112 2.2: clients
 * that end a body with a stray CRLF); one more is a 400.
 */
#define HTTP1_LINE_MAX		8192
#define HTTP1_HOST_MAX		255	/* a host name, without ":port" */
#define HTTP1_HEAD_MAX		32768
#define HTTP1_HEAD_LIMIT	65535	/* offsets are 16 bits */
#define HTTP1_MAX_FIELDS	100
#define HTTP1_LEADING_CRLF_MAX	4
#define HTTP1_CHUNK_EXT_MAX	1024	/* bytes after a chunk size */
#define HTTP1_TRAILER_MAX	8192	/* a whole trailer section */

/*
 * Results.  Every parse function returns HTTP1_OK, HTTP1_INCOMPLETE (call
 * again with the same bytes and more appended) or a negative error;
 * http1_error_status() maps an error to the status to answer a client
 * with, http1_error_reason() to a short text for the log.  An error in an
 * upstream response or body is the proxy's 502, whatever the table says.
 */
#define HTTP1_OK		0
#define HTTP1_INCOMPLETE	1

enum http1_error {
	HTTP1_E_REQUEST_LINE = -1,	/* malformed request/status line */
	HTTP1_E_METHOD = -2,		/* method is not a token */
	HTTP1_E_TARGET = -3,		/* bad request-target */
	HTTP1_E_VERSION = -4,		/* not "HTTP/" DIGIT "." DIGIT */
	HTTP1_E_VERSION_UNSUPPORTED = -5, /* 505: not 1.0 or 1.1 */
	HTTP1_E_URI_TOO_LONG = -6,	/* 414 */
	HTTP1_E_HEAD_TOO_LARGE = -7,	/* 431 */
	HTTP1_E_TOO_MANY_FIELDS = -8,	/* 431 */
	HTTP1_E_BARE_CR = -9,		/* CR not followed by LF */
	HTTP1_E_BARE_LF = -10,		/* LF not preceded by CR */
	HTTP1_E_CTL = -11,		/* NUL or another control byte */
	HTTP1_E_OBS_FOLD = -12,		/* line folding */
	HTTP1_E_FIELD_NAME = -13,	/* empty, non-token or no colon */
	HTTP1_E_FIELD_SPACE = -14,	/* whitespace before the colon */
	HTTP1_E_CL_TE = -15,		/* Content-Length and T-E */
	HTTP1_E_CL_INVALID = -16,	/* not one number, or >= 2^63 */
	HTTP1_E_CL_REPEATED = -17,	/* more than one Content-Length */
	HTTP1_E_TE_INVALID = -18,	/* T-E not ending in one "chunked" */
	HTTP1_E_TE_HTTP10 = -19,	/* Transfer-Encoding in HTTP/1.0 */
	HTTP1_E_HOST_MISSING = -20,
	HTTP1_E_HOST_MULTIPLE = -21,
	HTTP1_E_HOST_INVALID = -22,
	HTTP1_E_HOST_MISMATCH = -23,	/* Host is not the authority */
	HTTP1_E_CONNECTION = -24,	/* bad Connection option */
	HTTP1_E_CONNECT = -25,		/* 501: CONNECT */
	HTTP1_E_STATUS = -26,		/* bad status code */
	HTTP1_E_CHUNK_SIZE = -27,	/* empty, not hex, too large */
	HTTP1_E_CHUNK_EXT = -28,	/* bad or too long extension */
	HTTP1_E_CHUNK_CRLF = -29,	/* no CRLF after chunk data */
	HTTP1_E_TRAILER = -30,		/* bad or forbidden trailer */
	HTTP1_E_TRAILER_TOO_LARGE = -31,
	HTTP1_E_TE_UNIMPLEMENTED = -32,	/* 501: a coding before chunked */
	HTTP1_E_FIELD_LOOKALIKE = -33,	/* Content_Length and the like */
	HTTP1_E_LAST = -33
};

enum http1_method {
	HTTP1_M_OTHER = 0,		/* any other token: see method_off */
	HTTP1_M_GET,
	HTTP1_M_HEAD,
	HTTP1_M_POST,
	HTTP1_M_PUT,
	HTTP1_M_DELETE,
	HTTP1_M_CONNECT,
	HTTP1_M_OPTIONS,
	HTTP1_M_TRACE,
	HTTP1_M_PATCH
};

enum http1_target_form {
	HTTP1_T_ORIGIN = 0,		/* "/path?query" */
	HTTP1_T_ABSOLUTE,		/* "http://authority/path?query" */
	HTTP1_T_AUTHORITY,		/* CONNECT only; refused for now */
	HTTP1_T_ASTERISK		/* OPTIONS * */
};

enum http1_framing {
	HTTP1_BODY_NONE = 0,
	HTTP1_BODY_LENGTH,		/* content_length bytes, maybe 0 */
	HTTP1_BODY_CHUNKED,
	HTTP1_BODY_UNTIL_CLOSE		/* responses only */
};

/* The fields the parser recognizes; everything else is HTTP1_H_OTHER. */
enum http1_field_id {
	HTTP1_H_OTHER = 0,
	HTTP1_H_HOST,
	HTTP1_H_CONTENT_LENGTH,
	HTTP1_H_TRANSFER_ENCODING,
	HTTP1_H_CONNECTION,
	HTTP1_H_KEEP_ALIVE,
	HTTP1_H_PROXY_CONNECTION,
	HTTP1_H_TE,
	HTTP1_H_UPGRADE,
	HTTP1_H_EXPECT,
	HTTP1_H_FORWARDED,
	HTTP1_H_X_FORWARDED_FOR,
	HTTP1_H_X_FORWARDED_HOST,
	HTTP1_H_X_FORWARDED_PROTO,
	HTTP1_H_X_REAL_IP,
	HTTP1_H_DATE,
	HTTP1_H_HTTP2_SETTINGS,	/* h2c's, hop-by-hop (RFC 7540 3.2.1) */
	/* kept for the access log, and the request id portero sets */
	HTTP1_H_REFERER,
	HTTP1_H_USER_AGENT,
	HTTP1_H_X_REQUEST_ID
};

/*
 * A field line, as offsets into the caller's buffer (counted from the
 * first byte given to the parser).  The value has its surrounding
 * whitespace trimmed and may be empty.
 *
 * HTTP1_F_HOP marks a field that must not be forwarded (RFC 9110 7.6.1):
 * Connection, Keep-Alive, Proxy-Connection, TE, Upgrade, and every field
 * that a Connection option names.  Transfer-Encoding is marked too: the
 * parser accepts only a list whose one coding is "chunked" (empty
 * elements aside, RFC 9110 5.6.1), and the proxy sends the normalised
 * "Transfer-Encoding: chunked" with the chunked body it passes through.
 * A Connection option naming Host, Content-Length or Transfer-Encoding
 * is refused, so framing and routing never depend on the proxy dropping
 * a field.
 */
struct http1_field {
	uint16_t	 name_off;
	uint16_t	 name_len;
	uint16_t	 value_off;
	uint16_t	 value_len;
	uint8_t		 id;		/* enum http1_field_id */
	uint8_t		 flags;
#define HTTP1_F_HOP		0x01
};

/* What the parser keeps between calls on an unfinished head. */
struct http1_pstate {
	uint32_t	 ps_off;	/* first unparsed line */
	uint32_t	 ps_seen;	/* bytes seen; 0: a fresh head */
	uint64_t	 ps_clen;
	uint16_t	 ps_bits;
	uint16_t	 ps_hostname_len;
	uint8_t		 ps_lead;	/* empty lines skipped */
	uint8_t		 ps_host;	/* Host field index + 1 */
};

/* Request and response flags. */
#define HTTP1_KEEP_ALIVE	0x01	/* another message may follow */
#define HTTP1_EXPECT_CONTINUE	0x02	/* HTTP/1.1, 100-continue */
#define HTTP1_UPGRADE		0x04	/* asks for an upgrade */
#define HTTP1_INTERIM		0x08	/* 1xx other than 101 */
#define HTTP1_HAS_DATE		0x10	/* a response with a Date field */
#define HTTP1_CHUNKED		0x20	/* Transfer-Encoding: chunked, even
					   where no body follows (HEAD) */

/*
 * A request head.  Zero it, or call http1_request_reset(), before the
 * first call; after HTTP1_OK or an error the parser starts afresh by
 * itself, so pipelined requests only need the caller to move past
 * head_len bytes.  Between HTTP1_INCOMPLETE and the next call the bytes
 * already given must stay as they are, where they are: the parser
 * resumes at the line it stopped in and looks at a partial line again
 * only once its LF has come, so a head that trickles in costs linear
 * time, not quadratic.
 *
 * host_off/host_len is the host to route by, hostname_len its length
 * without ":port".  For the absolute form it is the URI's authority, and
 * a Host field, if any, must equal it (stricter than RFC 9112 3.2.2, so
 * that the proxy and the backend cannot disagree).  An empty Host, or
 * a host name longer than HTTP1_HOST_MAX, is refused; an HTTP/1.0
 * request without Host or authority has host_len 0.
 * path_off/path_len is the target after the scheme and authority: for
 * the absolute form it may be empty or start with '?', and then "/" goes
 * in front of it in an origin-form request line.
 */
struct http1_request {
	uint8_t		 method;	/* enum http1_method */
	uint8_t		 target_form;	/* enum http1_target_form */
	uint8_t		 version;	/* 10 or 11 */
	uint8_t		 framing;	/* enum http1_framing */
	unsigned int	 flags;		/* HTTP1_KEEP_ALIVE, ... */
	uint16_t	 method_off;
	uint16_t	 method_len;
	uint16_t	 target_off;
	uint16_t	 target_len;
	uint16_t	 authority_off;	/* absolute form only */
	uint16_t	 authority_len;
	uint16_t	 path_off;
	uint16_t	 path_len;
	uint16_t	 host_off;
	uint16_t	 host_len;
	uint16_t	 hostname_len;
	uint16_t	 nfields;
	uint32_t	 head_len;	/* through the final CRLF */
	uint64_t	 content_length; /* HTTP1_BODY_LENGTH */
	struct http1_field fields[HTTP1_MAX_FIELDS];
	struct http1_pstate ps;
};

/*
 * A response head, used like a request.  Framing follows RFC 9112 6.3:
 * no body after HEAD, for 1xx, 204 and 304; then chunked, then
 * Content-Length, else until the connection closes.  HTTP1_INTERIM is a
 * 1xx such as 100 or 103 that is forwarded and followed by another head;
 * 101 is neither interim nor kept alive, and is the caller's to refuse.
 * The status line may lack the space before an empty reason phrase.
 */
struct http1_response {
	uint8_t		 version;	/* 10 or 11 */
	uint8_t		 framing;	/* enum http1_framing */
	uint16_t	 status;	/* 100-999 */
	unsigned int	 flags;		/* HTTP1_KEEP_ALIVE, ... */
	uint16_t	 reason_off;
	uint16_t	 reason_len;
	uint16_t	 nfields;
	uint32_t	 head_len;
	uint64_t	 content_length;
	struct http1_field fields[HTTP1_MAX_FIELDS];
	struct http1_pstate ps;
};

/*
 * A chunked body checked as it passes through.  Feed it every byte in
 * order: http1_chunked_feed() returns HTTP1_INCOMPLETE when it took all
 * of buf, HTTP1_OK when the body ended within buf (after the trailer
 * section and its final CRLF) or an error; *consumed is how many bytes of
 * buf belong to the body and can be forwarded verbatim.  Sizes: at most
 * 16 hex digits, below 2^63.  Extensions: ";name[=token|quoted-string]"
 * with optional whitespace around ';' and '=', HTTP1_CHUNK_EXT_MAX bytes
 * a line.  Trailer fields: as strict as head fields, none named
 * Content-Length, Transfer-Encoding or Host.  After an error every call
 * returns it again.
 */
struct http1_chunked {
	uint64_t	 ck_remaining;	/* data left in this chunk */
	uint64_t	 ck_total;	/* data bytes so far */
	uint32_t	 ck_count;	/* digits, extension, trailer */
	uint8_t		 ck_state;
	int8_t		 ck_error;
	uint8_t		 ck_namelen;
	char		 ck_name[17];	/* trailer name, lower case */
	/* decode only: trailer lines ("name: value" CRLF each) go here,
	   if set, HTTP1_TRAILER_MAX bytes at most */
	char		*ck_trailer;
	uint16_t	 ck_trailer_len;
};

void		 http1_request_reset(struct http1_request *);
int		 http1_parse_request(const char *, size_t,
		    struct http1_request *);
int		 http1_parse_request_max(const char *, size_t, size_t,
		    struct http1_request *);
void		 http1_response_reset(struct http1_response *);
int		 http1_parse_response(const char *, size_t, int,
		    struct http1_response *);

void		 http1_chunked_init(struct http1_chunked *);
int		 http1_chunked_feed(struct http1_chunked *, const char *,
		    size_t, size_t *);
int		 http1_chunked_decode(struct http1_chunked *, char *, size_t,
		    size_t *, size_t *);
int		 http1_request_started(const struct http1_request *);

int		 http1_error_status(int);
const char	*http1_error_reason(int);

int		 http1_caseeq(const char *, size_t, const char *, size_t);
int		 http1_field_find(const char *, const struct http1_field *,
		    size_t, size_t, const char *, size_t);
int		 http1_field_hop(const char *, size_t);

#endif /* HTTP1_H */
