/*
 * test_http1.c: unit tests of the HTTP/1.1 parser (portero/http1.c):
 * request and response heads, chunked bodies; one PASS/FAIL line per case.
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

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../portero/http1.h"

#define R(s)		.raw = (s), .len = sizeof(s) - 1
#define HOST_A		"Host: a.example\r\n"
#define NEXT_REQ	"GET /next HTTP/1.1\r\nHost: n\r\n\r\n"

struct rq_case {
	const char	*name;
	const char	*raw;
	size_t		 len;
	int		 rv;
	int		 status;	/* for errors, if not 0 */
	/* For HTTP1_OK: */
	int		 method;
	int		 form;
	int		 version;
	int		 framing;
	uint64_t	 clen;
	unsigned int	 flags;
	const char	*target;
	const char	*path;
	const char	*host;
	int		 hostname_len;	/* checked if host is set */
	const char	*fields[13];	/* name, value, ...; NULL ends */
	const char	*hop;		/* ",a,b," names marked hop */
};

static const struct rq_case rq_cases[] = {
	/* Accepted forms. */
	{ "get_simple", R("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/", "/", "example.com", 11,
	    { "Host", "example.com" }, "," },
	{ "get_query", R("GET /a/b?x=1&y=%20z HTTP/1.1\r\n"
	    "Host: Example.COM:8443\r\nUser-Agent: t/1.0\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/a/b?x=1&y=%20z", "/a/b?x=1&y=%20z",
	    "Example.COM:8443", 11,
	    { "Host", "Example.COM:8443", "User-Agent", "t/1.0" } },
	{ "target_lenient_chars", R("GET /a{b}|c^d\"e<f>`g\\h HTTP/1.1\r\n"
	    HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/a{b}|c^d\"e<f>`g\\h" },
	{ "absolute_form", R("GET http://example.com/x?y HTTP/1.1\r\n"
	    "Host: example.com\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ABSOLUTE, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "http://example.com/x?y", "/x?y",
	    "example.com", 11 },
	{ "absolute_form_host_case", R("GET HTTPS://Example.com:8443 "
	    "HTTP/1.1\r\nHost: example.COM:8443\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ABSOLUTE, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "HTTPS://Example.com:8443", "",
	    "example.COM:8443", 11 },
	{ "absolute_form_http10_no_host", R("GET http://a.example?q "
	    "HTTP/1.0\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ABSOLUTE, 10, HTTP1_BODY_NONE,
	    0, 0, "http://a.example?q", "?q", "a.example", 9 },
	{ "options_asterisk", R("OPTIONS * HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_OPTIONS, HTTP1_T_ASTERISK, 11,
	    HTTP1_BODY_NONE, 0, HTTP1_KEEP_ALIVE, "*", "*" },
	{ "http10_plain", R("GET / HTTP/1.0\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 10, HTTP1_BODY_NONE,
	    0, 0, "/", "/", "", 0, { NULL } },
	{ "http10_keep_alive", R("GET / HTTP/1.0\r\n"
	    "Connection: Keep-Alive\r\nKeep-Alive: timeout=5\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 10, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .hop = ",Connection,Keep-Alive," },
	{ "http10_keep_alive_and_close", R("GET / HTTP/1.0\r\n"
	    "Connection: keep-alive, close\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 10, HTTP1_BODY_NONE,
	    0, 0 },
	{ "http11_close", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: close\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, 0, .hop = ",Connection," },
	{ "connection_list_empty_elements", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: , ,CLOSE ,\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, 0 },
	{ "expect_continue", R("POST /up HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5\r\nExpect: 100-Continue\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_LENGTH,
	    5, HTTP1_KEEP_ALIVE | HTTP1_EXPECT_CONTINUE },
	{ "expect_continue_http10_ignored", R("POST /up HTTP/1.0\r\n"
	    "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 10, HTTP1_BODY_LENGTH,
	    5, 0 },
	{ "expect_other", R("PUT /up HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5\r\nExpect: something\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_PUT, HTTP1_T_ORIGIN, 11, HTTP1_BODY_LENGTH,
	    5, HTTP1_KEEP_ALIVE },
	{ "value_tabs", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-Tab:\tfoo\tbar \t\r\nX-Sp:  a  b  \r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .fields = { "Host", "a.example",
	    "X-Tab", "foo\tbar", "X-Sp", "a  b" } },
	{ "value_empty", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-Empty:\r\nX-Blank: \t \r\nX-Next:x\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .fields = { "Host", "a.example",
	    "X-Empty", "", "X-Blank", "", "X-Next", "x" } },
	{ "value_obs_text", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-Name: caf\xc3\xa9 \xff\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .fields = { "Host", "a.example",
	    "X-Name", "caf\xc3\xa9 \xff" } },
	{ "content_length_zero", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 0\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_LENGTH,
	    0, HTTP1_KEEP_ALIVE },
	{ "content_length_max", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 9223372036854775807\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_LENGTH,
	    INT64_MAX, HTTP1_KEEP_ALIVE },
	{ "content_length_leading_zeros", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 007\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_LENGTH,
	    7, HTTP1_KEEP_ALIVE },
	/* RFC 9110 8.6: a proxy must not forward these; portero refuses */
	{ "content_length_same_twice", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5\r\ncontent-length: 5\r\n\r\n"),
	    HTTP1_E_CL_REPEATED, 400 },
	{ "content_length_same_list", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5 ,5,\t5\r\n\r\n"),
	    HTTP1_E_CL_INVALID, 400 },
	{ "chunked", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_CHUNKED,
	    0, HTTP1_KEEP_ALIVE, .hop = ",Transfer-Encoding," },
	{ "chunked_case", R("POST / HTTP/1.1\r\n" HOST_A
	    "transfer-encoding:  ChunKed \r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_CHUNKED,
	    0, HTTP1_KEEP_ALIVE },
	{ "leading_crlf", R("\r\n\r\nGET / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/" },
	{ "leading_crlf_max", R("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n"
	    HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/" },
	{ "hop_by_hop", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: keep-alive, X-Foo ,x-bar\r\nX-Foo: 1\r\n"
	    "Keep-Alive: timeout=5\r\nTE: trailers\r\nX-BAR: 2\r\n"
	    "Proxy-Connection: close\r\nX-Baz: 3\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .hop = ",Connection,X-Foo,Keep-Alive,TE,"
	    "X-BAR,Proxy-Connection," },
	{ "upgrade", R("GET /ws HTTP/1.1\r\n" HOST_A
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE | HTTP1_UPGRADE,
	    .hop = ",Connection,Upgrade," },
	{ "upgrade_without_connection", R("GET /ws HTTP/1.1\r\n" HOST_A
	    "Upgrade: websocket\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .hop = ",Upgrade," },
	{ "method_other", R("PURGE /x HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_OTHER, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/x" },
	{ "method_lowercase_is_other", R("get / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_OTHER, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "method_delete", R("DELETE /x HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_DELETE, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "method_patch", R("PATCH /x HTTP/1.1\r\n" HOST_A
	    "Content-Length: 2\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_PATCH, HTTP1_T_ORIGIN, 11, HTTP1_BODY_LENGTH,
	    2, HTTP1_KEEP_ALIVE },
	{ "method_head", R("HEAD /x HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_HEAD, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "method_trace", R("TRACE /x HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_TRACE, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "host_ipv6", R("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/", "/", "[::1]:8080", 5 },
	{ "host_ipv4", R("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/", "/", "127.0.0.1", 9 },
	{ "host_pct_and_trailing_space", R("GET / HTTP/1.1\r\n"
	    "host:  a%41b.example  \r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/", "/", "a%41b.example", 13 },
	{ "host_empty_port", R("GET / HTTP/1.1\r\nHost: a:\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, "/", "/", "a:", 1 },
	{ "version_1_2_is_1_1", R("GET / HTTP/1.2\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "version_1_9_is_1_1", R("GET / HTTP/1.9\r\n" HOST_A "\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "te_empty_elements", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: , chunked,\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_CHUNKED,
	    0, HTTP1_KEEP_ALIVE, .hop = ",Transfer-Encoding," },
	{ "te_case", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: Chunked\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_CHUNKED,
	    0, HTTP1_KEEP_ALIVE, .hop = ",Transfer-Encoding," },
	{ "te_empty_field_then_chunked", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: ,\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_POST, HTTP1_T_ORIGIN, 11, HTTP1_BODY_CHUNKED,
	    0, HTTP1_KEEP_ALIVE },
	{ "underscore_names_pass", R("GET / HTTP/1.1\r\n" HOST_A
	    "X_Custom_Field: 1\r\nContent_Type: x\r\n"
	    "Content-Encoding: gzip\r\nTransfer-Length: 1\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "host_255", R("GET / HTTP/1.1\r\nHost: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
	    "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	    ":1\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE },
	{ "forwarded_fields_kept", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n\r\n"),
	    HTTP1_OK, 0, HTTP1_M_GET, HTTP1_T_ORIGIN, 11, HTTP1_BODY_NONE,
	    0, HTTP1_KEEP_ALIVE, .hop = "," },

	/* Framing. */
	{ "cl_and_te", R("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), HTTP1_E_CL_TE, 400 },
	{ "te_and_cl", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
	    HTTP1_E_CL_TE, 400 },
	{ "cl_differ", R("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n"), HTTP1_E_CL_REPEATED, 400 },
	{ "cl_repeated_equal", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"),
	    HTTP1_E_CL_REPEATED, 400 },
	{ "cl_repeated_case", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5\r\ncontent-LENGTH: 5\r\n\r\n"),
	    HTTP1_E_CL_REPEATED, 400 },
	{ "cl_list_differ", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5, 6\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_list_equal", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5, 5\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_list_equal_no_space", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 1000,1000\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_not_digits", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5a\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_negative", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: -1\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_plus", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: +5\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_hex", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 0x5\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_empty", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: \r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_empty_element", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5,\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_space_separated", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5 5\r\n\r\n"), HTTP1_E_CL_INVALID, 400 },
	{ "cl_overflow_2p63", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 9223372036854775808\r\n\r\n"),
	    HTTP1_E_CL_INVALID, 400 },
	{ "cl_overflow_2p64", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 18446744073709551616\r\n\r\n"),
	    HTTP1_E_CL_INVALID, 400 },
	{ "cl_overflow_long", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 99999999999999999999999999\r\n\r\n"),
	    HTTP1_E_CL_INVALID, 400 },
	{ "te_gzip_chunked", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: gzip, chunked\r\n\r\n"),
	    HTTP1_E_TE_UNIMPLEMENTED, 501 },
	{ "te_gzip_then_chunked_fields", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    HTTP1_E_TE_UNIMPLEMENTED, 501 },
	{ "te_gzip", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: gzip\r\n\r\n"), HTTP1_E_TE_INVALID, 400 },
	{ "te_only_commas", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: , ,\r\n\r\n"), HTTP1_E_TE_INVALID, 400 },
	{ "lookalike_te", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer_Encoding: chunked\r\n\r\n"),
	    HTTP1_E_FIELD_LOOKALIKE, 400 },
	{ "lookalike_cl", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content_Length: 5\r\n\r\n"), HTTP1_E_FIELD_LOOKALIKE, 400 },
	{ "lookalike_dashes", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer---Encoding: chunked\r\n\r\n"),
	    HTTP1_E_FIELD_LOOKALIKE, 400 },
	{ "lookalike_mixed", R("POST / HTTP/1.1\r\n" HOST_A
	    "content_-_LENGTH: 5\r\n\r\n"), HTTP1_E_FIELD_LOOKALIKE, 400 },
	{ "te_chunked_gzip", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked, gzip\r\n\r\n"),
	    HTTP1_E_TE_INVALID, 400 },
	{ "te_chunked_chunked", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked, chunked\r\n\r\n"),
	    HTTP1_E_TE_INVALID, 400 },
	{ "te_two_fields", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n"), HTTP1_E_TE_INVALID, 400 },
	{ "te_xchunked", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: xchunked\r\n\r\n"), HTTP1_E_TE_INVALID, 400 },
	{ "te_chunked_param", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked;q=1\r\n\r\n"),
	    HTTP1_E_TE_INVALID, 400 },
	{ "te_identity", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: identity\r\n\r\n"), HTTP1_E_TE_INVALID, 400 },
	{ "te_empty", R("POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding:\r\n\r\n"), HTTP1_E_TE_INVALID, 400 },
	{ "te_http10", R("POST / HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), HTTP1_E_TE_HTTP10, 400 },

	/* Field syntax. */
	{ "obs_fold_space", R("GET / HTTP/1.1\r\n" HOST_A "X-A: a\r\n b\r\n"
	    "\r\n"), HTTP1_E_OBS_FOLD, 400 },
	{ "obs_fold_tab", R("GET / HTTP/1.1\r\n" HOST_A "X-A: a\r\n\tb\r\n"
	    "\r\n"), HTTP1_E_OBS_FOLD, 400 },
	{ "obs_fold_first_field", R("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
	    HTTP1_E_OBS_FOLD, 400 },
	{ "space_before_colon", R("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
	    HTTP1_E_FIELD_SPACE, 400 },
	{ "tab_before_colon", R("GET / HTTP/1.1\r\n" HOST_A
	    "Content-Length\t: 5\r\n\r\n"), HTTP1_E_FIELD_SPACE, 400 },
	{ "empty_field_name", R("GET / HTTP/1.1\r\n" HOST_A ": a\r\n\r\n"),
	    HTTP1_E_FIELD_NAME, 400 },
	{ "field_no_colon", R("GET / HTTP/1.1\r\n" HOST_A "X-A\r\n\r\n"),
	    HTTP1_E_FIELD_NAME, 400 },
	{ "field_name_non_token", R("GET / HTTP/1.1\r\n" HOST_A
	    "X(A): a\r\n\r\n"), HTTP1_E_FIELD_NAME, 400 },
	{ "field_name_non_ascii", R("GET / HTTP/1.1\r\n" HOST_A
	    "X\xc3\xa9: a\r\n\r\n"), HTTP1_E_FIELD_NAME, 400 },
	{ "field_name_slash", R("GET / HTTP/1.1\r\n" HOST_A
	    "X/A: a\r\n\r\n"), HTTP1_E_FIELD_NAME, 400 },
	{ "bare_cr_in_value", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: a\rb\r\n\r\n"), HTTP1_E_BARE_CR, 400 },
	{ "bare_cr_line_end", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: a\r\r\n\r\n"), HTTP1_E_BARE_CR, 400 },
	{ "bare_cr_in_name", R("GET / HTTP/1.1\r\n" HOST_A
	    "X\rA: a\r\n\r\n"), HTTP1_E_BARE_CR, 400 },
	{ "bare_cr_final", R("GET / HTTP/1.1\r\n" HOST_A "\rX\r\n"),
	    HTTP1_E_BARE_CR, 400 },
	{ "bare_cr_request_line", R("GET /\r HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_BARE_CR, 400 },
	{ "bare_cr_after_version", R("GET / HTTP/1.1\rX\r\n" HOST_A "\r\n"),
	    HTTP1_E_BARE_CR, 400 },
	{ "bare_lf_request_line", R("GET / HTTP/1.1\n" HOST_A "\r\n"),
	    HTTP1_E_BARE_LF, 400 },
	{ "bare_lf_field", R("GET / HTTP/1.1\r\nHost: a\n\r\n"),
	    HTTP1_E_BARE_LF, 400 },
	{ "bare_lf_final", R("GET / HTTP/1.1\r\n" HOST_A "\n"),
	    HTTP1_E_BARE_LF, 400 },
	{ "bare_lf_leading", R("\nGET / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_BARE_LF, 400 },
	{ "bare_lf_in_value", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: a\nb\r\n\r\n"), HTTP1_E_BARE_LF, 400 },
	{ "nul_in_value", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: a\0b\r\n\r\n"), HTTP1_E_CTL, 400 },
	{ "nul_in_name", R("GET / HTTP/1.1\r\n" HOST_A
	    "X\0A: a\r\n\r\n"), HTTP1_E_CTL, 400 },
	{ "ctl_in_value", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: a\x01" "b\r\n\r\n"), HTTP1_E_CTL, 400 },
	{ "esc_in_value", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: \x1b[31m\r\n\r\n"), HTTP1_E_CTL, 400 },
	{ "del_in_value", R("GET / HTTP/1.1\r\n" HOST_A
	    "X-A: a\x7f\r\n\r\n"), HTTP1_E_CTL, 400 },
	{ "nul_in_target", R("GET /\0 HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_CTL, 400 },

	/* Request line. */
	{ "method_non_token", R("G(T / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_METHOD, 400 },
	{ "method_quote", R("GE\"T / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_METHOD, 400 },
	{ "method_non_ascii", R("G\xc9T / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_METHOD, 400 },
	{ "method_tab", R("GET\t/ HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_METHOD, 400 },
	{ "leading_space", R(" GET / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_REQUEST_LINE, 400 },
	{ "double_space", R("GET  / HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_REQUEST_LINE, 400 },
	{ "double_space_before_version", R("GET /  HTTP/1.1\r\n" HOST_A
	    "\r\n"), HTTP1_E_REQUEST_LINE, 400 },
	{ "two_parts", R("GET /\r\n" HOST_A "\r\n"),
	    HTTP1_E_REQUEST_LINE, 400 },
	{ "one_part", R("GET\r\n" HOST_A "\r\n"),
	    HTTP1_E_METHOD, 400 },
	{ "four_parts", R("GET / x HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_REQUEST_LINE, 400 },
	{ "version_trailing_space", R("GET / HTTP/1.1 \r\n" HOST_A "\r\n"),
	    HTTP1_E_REQUEST_LINE, 400 },
	{ "version_lowercase", R("GET / http/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_VERSION, 400 },
	{ "version_long", R("GET / HTTP/1.10\r\n" HOST_A "\r\n"),
	    HTTP1_E_VERSION, 400 },
	{ "version_short", R("GET / HTTP/1\r\n" HOST_A "\r\n"),
	    HTTP1_E_VERSION, 400 },
	{ "version_garbage", R("GET / FTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_VERSION, 400 },
	{ "version_2_0", R("GET / HTTP/2.0\r\n" HOST_A "\r\n"),
	    HTTP1_E_VERSION_UNSUPPORTED, 505 },

	{ "version_0_9", R("GET / HTTP/0.9\r\n" HOST_A "\r\n"),
	    HTTP1_E_VERSION_UNSUPPORTED, 505 },
	{ "h2_preface", R("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	    HTTP1_E_VERSION_UNSUPPORTED, 505 },
	{ "host_256", R("GET / HTTP/1.1\r\nHost: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	    "\r\n\r\n"), HTTP1_E_HOST_INVALID, 400 },
	{ "absolute_host_256", R("GET http://"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	    "/ HTTP/1.0\r\n\r\n"), HTTP1_E_TARGET, 400 },
	{ "leading_crlf_too_many", R("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n"
	    HOST_A "\r\n"), HTTP1_E_REQUEST_LINE, 400 },
	{ "target_no_slash", R("GET foo HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_TARGET, 400 },
	{ "target_fragment", R("GET /a#b HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_TARGET, 400 },
	{ "target_non_ascii", R("GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST_A
	    "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_ctl", R("GET /a\x01 HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_CTL, 400 },
	{ "target_tab", R("GET /a\tb HTTP/1.1\r\n" HOST_A "\r\n"),
	    HTTP1_E_TARGET, 400 },
	{ "target_asterisk_not_options", R("GET * HTTP/1.1\r\n" HOST_A
	    "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_asterisk_long", R("OPTIONS *x HTTP/1.1\r\n" HOST_A
	    "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_authority_not_connect", R("GET a.example:80 HTTP/1.1\r\n"
	    HOST_A "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_other_scheme", R("GET ftp://a.example/ HTTP/1.1\r\n"
	    HOST_A "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_no_authority", R("GET http:///x HTTP/1.1\r\n" HOST_A
	    "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_scheme_only", R("GET http:// HTTP/1.1\r\n" HOST_A
	    "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_userinfo", R("GET http://u:p@a.example/ HTTP/1.1\r\n"
	    HOST_A "\r\n"), HTTP1_E_TARGET, 400 },
	{ "target_bad_port", R("GET http://a.example:x/ HTTP/1.1\r\n"
	    HOST_A "\r\n"), HTTP1_E_TARGET, 400 },
	{ "connect", R("CONNECT a.example:443 HTTP/1.1\r\n"
	    "Host: a.example:443\r\n\r\n"), HTTP1_E_CONNECT, 501 },

	/* Host. */
	{ "host_missing", R("GET / HTTP/1.1\r\nX-A: a\r\n\r\n"),
	    HTTP1_E_HOST_MISSING, 400 },
	{ "host_missing_absolute", R("GET http://a.example/ HTTP/1.1\r\n"
	    "\r\n"), HTTP1_E_HOST_MISSING, 400 },
	{ "host_twice", R("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
	    HTTP1_E_HOST_MULTIPLE, 400 },
	{ "host_twice_http10", R("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n"
	    "\r\n"), HTTP1_E_HOST_MULTIPLE, 400 },
	{ "host_empty", R("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_space", R("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_slash", R("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_userinfo", R("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_list", R("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_ipv6_open", R("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_ipv6_junk", R("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_ipv6_empty", R("GET / HTTP/1.1\r\nHost: []\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_port_big", R("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_port_long", R("GET / HTTP/1.1\r\nHost: a:000080\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_port_alpha", R("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_two_colons", R("GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_port_only", R("GET / HTTP/1.1\r\nHost: :80\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_bad_pct", R("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_short_pct", R("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_non_ascii", R("GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n"),
	    HTTP1_E_HOST_INVALID, 400 },
	{ "host_mismatch", R("GET http://a.example/ HTTP/1.1\r\n"
	    "Host: b.example\r\n\r\n"), HTTP1_E_HOST_MISMATCH, 400 },

	/* Connection. */
	{ "connection_names_cl", R("POST / HTTP/1.1\r\n" HOST_A
	    "Content-Length: 5\r\nConnection: content-length\r\n\r\n"),
	    HTTP1_E_CONNECTION, 400 },
	{ "connection_names_host", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: Host\r\n\r\n"), HTTP1_E_CONNECTION, 400 },
	{ "connection_names_te", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: transfer-encoding\r\n\r\n"), HTTP1_E_CONNECTION,
	    400 },
	{ "connection_space_list", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: close keep-alive\r\n\r\n"), HTTP1_E_CONNECTION, 400 },
	{ "connection_non_token", R("GET / HTTP/1.1\r\n" HOST_A
	    "Connection: close;x\r\n\r\n"), HTTP1_E_CONNECTION, 400 },
};

struct rs_case {
	const char	*name;
	const char	*raw;
	size_t		 len;
	int		 head;		/* the request was HEAD */
	int		 rv;
	int		 status;
	int		 version;
	int		 framing;
	uint64_t	 clen;
	unsigned int	 flags;
	const char	*reason;
};

static const struct rs_case rs_cases[] = {
	{ "resp_length", R("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_LENGTH, 12, HTTP1_KEEP_ALIVE,
	    "OK" },
	{ "resp_chunked", R("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_CHUNKED, 0,
	    HTTP1_KEEP_ALIVE | HTTP1_CHUNKED, "OK" },
	{ "resp_date", R("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 "
	    "08:49:37 GMT\r\nContent-Length: 0\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_LENGTH, 0,
	    HTTP1_KEEP_ALIVE | HTTP1_HAS_DATE, "OK" },
	{ "resp_1_1_is_1_1", R("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n"
	    "\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_LENGTH, 0, HTTP1_KEEP_ALIVE,
	    "OK" },
	{ "resp_until_close", R("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_UNTIL_CLOSE, 0, 0, "OK" },
	{ "resp_close", R("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Connection: close\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_LENGTH, 1, 0, "OK" },
	{ "resp_204", R("HTTP/1.1 204 No Content\r\n\r\n"),
	    0, HTTP1_OK, 204, 11, HTTP1_BODY_NONE, 0, HTTP1_KEEP_ALIVE,
	    "No Content" },
	{ "resp_304_with_length", R("HTTP/1.1 304 Not Modified\r\n"
	    "Content-Length: 1234\r\n\r\n"),
	    0, HTTP1_OK, 304, 11, HTTP1_BODY_NONE, 0, HTTP1_KEEP_ALIVE,
	    "Not Modified" },
	{ "resp_head_with_length", R("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 1234\r\n\r\n"),
	    1, HTTP1_OK, 200, 11, HTTP1_BODY_NONE, 0, HTTP1_KEEP_ALIVE,
	    "OK" },
	{ "resp_head_chunked", R("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"),
	    1, HTTP1_OK, 200, 11, HTTP1_BODY_NONE, 0,
	    HTTP1_KEEP_ALIVE | HTTP1_CHUNKED, "OK" },
	{ "resp_100", R("HTTP/1.1 100 Continue\r\n\r\n"),
	    0, HTTP1_OK, 100, 11, HTTP1_BODY_NONE, 0,
	    HTTP1_KEEP_ALIVE | HTTP1_INTERIM, "Continue" },
	{ "resp_103", R("HTTP/1.1 103 Early Hints\r\n"
	    "Link: </s.css>; rel=preload\r\n\r\n"),
	    0, HTTP1_OK, 103, 11, HTTP1_BODY_NONE, 0,
	    HTTP1_KEEP_ALIVE | HTTP1_INTERIM, "Early Hints" },
	{ "resp_101", R("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"),
	    0, HTTP1_OK, 101, 11, HTTP1_BODY_NONE, 0, 0,
	    "Switching Protocols" },
	{ "resp_http10_keep_alive", R("HTTP/1.0 200 OK\r\n"
	    "Connection: keep-alive\r\nContent-Length: 3\r\n\r\n"),
	    0, HTTP1_OK, 200, 10, HTTP1_BODY_LENGTH, 3, HTTP1_KEEP_ALIVE,
	    "OK" },
	{ "resp_http10", R("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n"),
	    0, HTTP1_OK, 200, 10, HTTP1_BODY_LENGTH, 3, 0, "OK" },
	{ "resp_no_reason_no_space", R("HTTP/1.1 200\r\n"
	    "Content-Length: 0\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_LENGTH, 0, HTTP1_KEEP_ALIVE,
	    "" },
	{ "resp_empty_reason", R("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"),
	    0, HTTP1_OK, 404, 11, HTTP1_BODY_LENGTH, 0, HTTP1_KEEP_ALIVE,
	    "" },
	{ "resp_reason_text", R("HTTP/1.1 599 Odd \xe2\x9c\x93\tthing\r\n"
	    "Content-Length: 0\r\n\r\n"),
	    0, HTTP1_OK, 599, 11, HTTP1_BODY_LENGTH, 0, HTTP1_KEEP_ALIVE,
	    "Odd \xe2\x9c\x93\tthing" },
	{ "resp_999", R("HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n"),
	    0, HTTP1_OK, 999, 11, HTTP1_BODY_LENGTH, 0, HTTP1_KEEP_ALIVE,
	    "X" },
	{ "resp_host_not_checked", R("HTTP/1.1 200 OK\r\nHost: a b\r\n"
	    "Host: c\r\nContent-Length: 0\r\n\r\n"),
	    0, HTTP1_OK, 200, 11, HTTP1_BODY_LENGTH, 0, HTTP1_KEEP_ALIVE,
	    "OK" },
	{ "resp_status_low", R("HTTP/1.1 099 X\r\n\r\n"), 0, HTTP1_E_STATUS },
	{ "resp_status_short", R("HTTP/1.1 20 OK\r\n\r\n"), 0,
	    HTTP1_E_STATUS },
	{ "resp_status_long", R("HTTP/1.1 2000 OK\r\n\r\n"), 0,
	    HTTP1_E_STATUS },
	{ "resp_status_alpha", R("HTTP/1.1 2x0 OK\r\n\r\n"), 0,
	    HTTP1_E_STATUS },
	{ "resp_status_missing", R("HTTP/1.1 \r\n\r\n\r\n"), 0,
	    HTTP1_E_STATUS },
	{ "resp_version_2", R("HTTP/2 200 OK\r\n\r\n"), 0, HTTP1_E_VERSION },
	{ "resp_version_2_0", R("HTTP/2.0 200 OK\r\n\r\n"), 0,
	    HTTP1_E_VERSION_UNSUPPORTED },
	{ "resp_icy", R("ICY 200 OK\r\n\r\n"), 0, HTTP1_E_VERSION },
	{ "resp_empty_line_first", R("\r\nHTTP/1.1 200 OK\r\n\r\n"), 0,
	    HTTP1_E_REQUEST_LINE },
	{ "resp_cl_te", R("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 0, HTTP1_E_CL_TE },
	{ "resp_te_gzip", R("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n"), 0,
	    HTTP1_E_TE_UNIMPLEMENTED },
	{ "resp_te_only_gzip", R("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n"), 0, HTTP1_E_TE_INVALID },
	{ "resp_te_http10", R("HTTP/1.0 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 0, HTTP1_E_TE_HTTP10 },
	{ "resp_cl_conflict", R("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n"), 0, HTTP1_E_CL_REPEATED },
	{ "resp_cl_list", R("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n"
	    "\r\n"), 0, HTTP1_E_CL_INVALID },
	{ "resp_obs_fold", R("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n"), 0,
	    HTTP1_E_OBS_FOLD },
	{ "resp_bare_lf", R("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"), 0,
	    HTTP1_E_BARE_LF },
	{ "resp_bare_cr", R("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"), 0,
	    HTTP1_E_BARE_CR },
	{ "resp_ctl_reason", R("HTTP/1.1 200 O\x01K\r\n\r\n"), 0,
	    HTTP1_E_CTL },
};

struct ck_case {
	const char	*name;
	const char	*raw;
	size_t		 len;
	int		 rv;
	size_t		 consumed;	/* if OK; 0: all of raw */
	uint64_t	 total;		/* data bytes, for HTTP1_OK */
};

static const struct ck_case ck_cases[] = {
	{ "chunk_simple", R("5\r\nhello\r\n0\r\n\r\n"), HTTP1_OK, 0, 5 },
	{ "chunk_several", R("a\r\n0123456789\r\nA\r\n0123456789\r\n"
	    "1\r\nx\r\n0\r\n\r\n"), HTTP1_OK, 0, 21 },
	{ "chunk_empty_body", R("0\r\n\r\n"), HTTP1_OK, 0, 0 },
	{ "chunk_leading_zeros", R("0005\r\nhello\r\n000\r\n\r\n"),
	    HTTP1_OK, 0, 5 },
	{ "chunk_16_digits", R("0000000000000005\r\nhello\r\n0\r\n\r\n"),
	    HTTP1_OK, 0, 5 },
	{ "chunk_data_crlf_inside", R("4\r\n\r\n\r\n\r\n0\r\n\r\n"),
	    HTTP1_OK, 0, 4 },
	{ "chunk_next_message", R("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1"),
	    HTTP1_OK, 13, 3 },
	{ "chunk_ext", R("5;name=value\r\nhello\r\n0;last\r\n\r\n"),
	    HTTP1_OK, 0, 5 },
	{ "chunk_ext_bws", R("5 \t; a = b ;c;d=\"x\\\"y z\" ; e\r\nhello\r\n"
	    "0\r\n\r\n"), HTTP1_OK, 0, 5 },
	{ "chunk_ext_quoted", R("5;a=\"\"\r\nhello\r\n0;b=\"\\\\\"\r\n\r\n"),
	    HTTP1_OK, 0, 5 },
	{ "chunk_trailers", R("5\r\nhello\r\n0\r\nX-Sum: abc\r\n"
	    "Server-Timing: x;dur=1\r\nX-Empty:\r\n\r\n"), HTTP1_OK, 0, 5 },
	{ "chunk_trailer_tab", R("0\r\nX-T:\ta b\t\r\n\r\n"),
	    HTTP1_OK, 0, 0 },
	{ "chunk_bad_hex", R("5g\r\nhello\r\n0\r\n\r\n"),
	    HTTP1_E_CHUNK_SIZE },
	{ "chunk_bad_hex_first", R("g\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_empty_size", R("\r\nhello\r\n0\r\n\r\n"),
	    HTTP1_E_CHUNK_SIZE },
	{ "chunk_negative", R("-5\r\nhello\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_hex_prefix", R("0x5\r\nhello\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_leading_space", R(" 5\r\nhello\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_trailing_space", R("5 \r\nhello\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_17_digits", R("00000000000000005\r\nhello\r\n"),
	    HTTP1_E_CHUNK_SIZE },
	{ "chunk_huge", R("ffffffffffffffff\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_2p63", R("8000000000000000\r\n"), HTTP1_E_CHUNK_SIZE },
	{ "chunk_2p63_minus_1", R("7fffffffffffffff\r\nabc"),
	    HTTP1_INCOMPLETE },
	{ "chunk_size_bare_lf", R("5\nhello\r\n0\r\n\r\n"),
	    HTTP1_E_CHUNK_SIZE },
	{ "chunk_size_bare_cr", R("5\rhello\r\n0\r\n\r\n"), HTTP1_E_BARE_CR },
	{ "chunk_ext_empty_name", R("5;\r\nhello\r\n"), HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_empty_value", R("5;a=\r\nhello\r\n"),
	    HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_no_semicolon", R("5 a\r\nhello\r\n"),
	    HTTP1_E_CHUNK_SIZE },
	{ "chunk_ext_space_in_name", R("5;a b\r\nhello\r\n"),
	    HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_trailing_space", R("5;a=b \r\nhello\r\n"),
	    HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_ctl", R("5;a\x01\r\nhello\r\n"), HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_bare_lf", R("5;a\nhello\r\n"), HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_quoted_cr", R("5;a=\"x\r\nhello\r\n"),
	    HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_quoted_lf", R("5;a=\"x\ny\"\r\nhello\r\n"),
	    HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_after_quote", R("5;a=\"x\"y\r\nhello\r\n"),
	    HTTP1_E_CHUNK_EXT },
	{ "chunk_ext_bare_cr", R("5;a\rhello\r\n"), HTTP1_E_BARE_CR },
	{ "chunk_missing_crlf", R("5\r\nhelloX\r\n0\r\n\r\n"),
	    HTTP1_E_CHUNK_CRLF },
	{ "chunk_data_bare_lf", R("5\r\nhello\n0\r\n\r\n"),
	    HTTP1_E_CHUNK_CRLF },
	{ "chunk_data_cr_only", R("5\r\nhello\r0\r\n\r\n"),
	    HTTP1_E_CHUNK_CRLF },
	{ "chunk_too_long_data", R("3\r\nhello\r\n0\r\n\r\n"),
	    HTTP1_E_CHUNK_CRLF },
	{ "chunk_trailer_fold", R("0\r\nX-A: a\r\n b\r\n\r\n"),
	    HTTP1_E_TRAILER },
	{ "chunk_trailer_space_colon", R("0\r\nX-A : a\r\n\r\n"),
	    HTTP1_E_TRAILER },
	{ "chunk_trailer_no_colon", R("0\r\nX-A\r\n\r\n"), HTTP1_E_TRAILER },
	{ "chunk_trailer_empty_name", R("0\r\n: a\r\n\r\n"),
	    HTTP1_E_TRAILER },
	{ "chunk_trailer_bare_lf", R("0\r\nX-A: a\n\r\n"), HTTP1_E_TRAILER },
	{ "chunk_trailer_bare_cr", R("0\r\nX-A: a\rb\r\n\r\n"),
	    HTTP1_E_TRAILER },
	{ "chunk_trailer_nul", R("0\r\nX-A: a\0b\r\n\r\n"), HTTP1_E_TRAILER },
	{ "chunk_trailer_content_length", R("0\r\nContent-Length: 5\r\n\r\n"),
	    HTTP1_E_TRAILER },
	{ "chunk_trailer_transfer_encoding",
	    R("0\r\ntransfer-encoding: chunked\r\n\r\n"), HTTP1_E_TRAILER },
	{ "chunk_trailer_host", R("0\r\nHOST: a\r\n\r\n"), HTTP1_E_TRAILER },
	{ "chunk_trailer_long_name_ok",
	    R("0\r\nTransfer-Encoding-X: a\r\n\r\n"), HTTP1_OK, 0, 0 },
	{ "chunk_final_bare_cr", R("0\r\n\r\r"), HTTP1_E_BARE_CR },
	{ "chunk_final_bare_lf", R("0\r\n\n"), HTTP1_E_TRAILER },
	{ "chunk_incomplete", R("5\r\nhel"), HTTP1_INCOMPLETE },
	{ "chunk_incomplete_trailer", R("5\r\nhello\r\n0\r\nX: 1\r\n"),
	    HTTP1_INCOMPLETE },
};

static const char *const method_names[] = {
	"", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
	"TRACE", "PATCH"
};

static int	 failures;

static void
pass(const char *prefix, const char *name)
{
	printf("PASS %s%s\n", prefix, name);
}

static void
fail(const char *prefix, const char *name, const char *fmt, ...)
{
	va_list	 ap;

	failures++;
	printf("FAIL %s%s: ", prefix, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int
span_eq(const char *buf, size_t off, size_t len, const char *want)
{
	return (strlen(want) == len && memcmp(buf + off, want, len) == 0);
}

/* Whether name appears in a ",a,b," list, ignoring case. */
static int
in_list(const char *list, const char *name, size_t len)
{
	const char	*p = list, *e;

	while ((p = strchr(p, ',')) != NULL) {
		p++;
		if ((e = strchr(p, ',')) == NULL)
			break;
		if (http1_caseeq(p, e - p, name, len))
			return (1);
		p = e;
	}
	return (0);
}

/* Checks an HTTP1_OK result against a case; a reason or NULL. */
static const char *
check_request(const struct rq_case *c, const char *buf,
    const struct http1_request *req, char *why, size_t whylen)
{
	const struct http1_field	*f;
	size_t				 i, n;

	if (req->head_len != c->len)
		snprintf(why, whylen, "head_len %u, want %zu",
		    req->head_len, c->len);
	else if (req->method != c->method)
		snprintf(why, whylen, "method %d", req->method);
	else if (req->target_form != c->form)
		snprintf(why, whylen, "form %d", req->target_form);
	else if (req->version != c->version)
		snprintf(why, whylen, "version %d", req->version);
	else if (req->framing != c->framing)
		snprintf(why, whylen, "framing %d", req->framing);
	else if (req->content_length != c->clen)
		snprintf(why, whylen, "content_length %llu",
		    (unsigned long long)req->content_length);
	else if (req->flags != c->flags)
		snprintf(why, whylen, "flags %#x, want %#x", req->flags,
		    c->flags);
	else if (c->target != NULL && !span_eq(buf, req->target_off,
	    req->target_len, c->target))
		snprintf(why, whylen, "target \"%.*s\"", req->target_len,
		    buf + req->target_off);
	else if (c->path != NULL && !span_eq(buf, req->path_off,
	    req->path_len, c->path))
		snprintf(why, whylen, "path \"%.*s\"", req->path_len,
		    buf + req->path_off);
	else if (c->host != NULL && (!span_eq(buf, req->host_off,
	    req->host_len, c->host) || req->hostname_len != c->hostname_len))
		snprintf(why, whylen, "host \"%.*s\" name length %u",
		    req->host_len, buf + req->host_off, req->hostname_len);
	else if (c->method != HTTP1_M_OTHER && !span_eq(buf,
	    req->method_off, req->method_len, method_names[c->method]))
		snprintf(why, whylen, "method text \"%.*s\"",
		    req->method_len, buf + req->method_off);
	else
		why[0] = '\0';
	if (why[0] != '\0')
		return (why);

	if (c->fields[0] != NULL || c->host != NULL) {
		for (n = 0; c->fields[n] != NULL; n += 2)
			;
		if (c->fields[0] != NULL && req->nfields != n / 2) {
			snprintf(why, whylen, "%u fields, want %zu",
			    req->nfields, n / 2);
			return (why);
		}
		for (i = 0; i < n / 2; i++) {
			f = &req->fields[i];
			if (!span_eq(buf, f->name_off, f->name_len,
			    c->fields[2 * i]) || !span_eq(buf, f->value_off,
			    f->value_len, c->fields[2 * i + 1])) {
				snprintf(why, whylen, "field %zu \"%.*s\": "
				    "\"%.*s\"", i, f->name_len,
				    buf + f->name_off, f->value_len,
				    buf + f->value_off);
				return (why);
			}
		}
	}
	if (c->hop != NULL) {
		for (i = 0; i < req->nfields; i++) {
			f = &req->fields[i];
			if (!(f->flags & HTTP1_F_HOP) != !in_list(c->hop,
			    buf + f->name_off, f->name_len)) {
				snprintf(why, whylen, "field \"%.*s\" hop %d",
				    f->name_len, buf + f->name_off,
				    f->flags & HTTP1_F_HOP);
				return (why);
			}
		}
	}
	return (NULL);
}

static void
test_requests(void)
{
	const struct rq_case	*c;
	struct http1_request	 req;
	char			 why[256], *buf;
	const char		*bad;
	size_t			 i, k, blen;
	int			 rv;

	for (i = 0; i < sizeof(rq_cases) / sizeof(rq_cases[0]); i++) {
		c = &rq_cases[i];

		/* In one piece. */
		memset(&req, 0, sizeof(req));
		rv = http1_parse_request(c->raw, c->len, &req);
		bad = NULL;
		if (rv != c->rv)
			bad = "result";
		else if (rv == HTTP1_OK)
			bad = check_request(c, c->raw, &req, why, sizeof(why));
		else if (c->status != 0 && http1_error_status(rv) != c->status)
			bad = "status";
		if (bad != NULL)
			fail("req_", c->name, "%d (%s), want %d: %s", rv,
			    http1_error_reason(rv), c->rv, bad);
		else
			pass("req_", c->name);

		/* One byte at a time: INCOMPLETE up to the deciding byte. */
		memset(&req, 0, sizeof(req));
		for (k = 1; k <= c->len; k++) {
			rv = http1_parse_request(c->raw, k, &req);
			if (rv != HTTP1_INCOMPLETE)
				break;
		}
		bad = NULL;
		if (rv != c->rv)
			bad = "result";
		else if (rv == HTTP1_OK && k != c->len)
			bad = "early result";
		else if (rv == HTTP1_OK)
			bad = check_request(c, c->raw, &req, why, sizeof(why));
		if (bad != NULL)
			fail("req_bytewise_", c->name, "%d (%s) at %zu of %zu: "
			    "%s", rv, http1_error_reason(rv), k, c->len, bad);
		else
			pass("req_bytewise_", c->name);

		if (c->rv != HTTP1_OK)
			continue;

		/* Pipelined: the next head starts at head_len. */
		blen = c->len + sizeof(NEXT_REQ) - 1;
		if ((buf = malloc(blen)) == NULL)
			abort();
		memcpy(buf, c->raw, c->len);
		memcpy(buf + c->len, NEXT_REQ, sizeof(NEXT_REQ) - 1);
		rv = http1_parse_request(buf, blen, &req);
		bad = NULL;
		if (rv != HTTP1_OK)
			bad = "first";
		else if (check_request(c, buf, &req, why, sizeof(why)) != NULL)
			bad = why;
		else if ((rv = http1_parse_request(buf + req.head_len,
		    blen - req.head_len, &req)) != HTTP1_OK)
			bad = "second";
		else if (!span_eq(buf + c->len, req.target_off,
		    req.target_len, "/next") ||
		    req.head_len != sizeof(NEXT_REQ) - 1)
			bad = "second head";
		if (bad != NULL)
			fail("req_pipelined_", c->name, "%d: %s", rv, bad);
		else
			pass("req_pipelined_", c->name);
		free(buf);
	}
}

/* A request with a line of linelen bytes, or nfields fields, or a size. */
static size_t
build_request(char *buf, size_t size, size_t linelen, int nfields,
    size_t headlen)
{
	size_t	 n, pad;
	int	 i;

	n = snprintf(buf, size, "GET /");
	if (linelen > 0) {
		/* "GET /" + x * pad + " HTTP/1.1" */
		pad = linelen - 5 - 9;
		memset(buf + n, 'x', pad);
		n += pad;
	}
	n += snprintf(buf + n, size - n, " HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < nfields; i++)
		n += snprintf(buf + n, size - n, "X-F%d: %d\r\n", i, i);
	if (headlen > 0) {
		/* One field "X: yyy...\r\n" fills up to headlen with CRLF. */
		pad = headlen - n - 2 - 5;
		memcpy(buf + n, "X: ", 3);
		memset(buf + n + 3, 'y', pad);
		n += 3 + pad;
		memcpy(buf + n, "\r\n", 2);
		n += 2;
	}
	memcpy(buf + n, "\r\n", 2);
	return (n + 2);
}

static void
limit_case(const char *name, const char *buf, size_t len, int want,
    int bytewise)
{
	struct http1_request	 req;
	size_t			 k;
	int			 rv;

	memset(&req, 0, sizeof(req));
	rv = http1_parse_request(buf, len, &req);
	if (rv != want) {
		fail("", name, "%d (%s), want %d", rv, http1_error_reason(rv),
		    want);
		return;
	}
	if (rv == HTTP1_OK && req.head_len != len) {
		fail("", name, "head_len %u of %zu", req.head_len, len);
		return;
	}
	if (!bytewise) {
		pass("", name);
		return;
	}
	memset(&req, 0, sizeof(req));
	for (k = 1; k <= len; k++)
		if ((rv = http1_parse_request(buf, k, &req)) !=
		    HTTP1_INCOMPLETE)
			break;
	if (rv != want)
		fail("", name, "bytewise %d (%s) at %zu, want %d", rv,
		    http1_error_reason(rv), k, want);
	else
		pass("", name);
}

static void
test_limits(void)
{
	static char	 buf[HTTP1_HEAD_MAX * 2];
	size_t		 n;

	n = build_request(buf, sizeof(buf), HTTP1_LINE_MAX, 1, 0);
	limit_case("limit_line_8192", buf, n, HTTP1_OK, 1);
	n = build_request(buf, sizeof(buf), HTTP1_LINE_MAX + 1, 1, 0);
	limit_case("limit_line_8193", buf, n, HTTP1_E_URI_TOO_LONG, 1);
	if (http1_error_status(HTTP1_E_URI_TOO_LONG) != 414)
		fail("", "limit_status_414", "status %d",
		    http1_error_status(HTTP1_E_URI_TOO_LONG));
	else
		pass("", "limit_status_414");
	/* A line that never ends is refused once 8 KiB are in. */
	memset(buf, 'x', HTTP1_LINE_MAX + 2);
	memcpy(buf, "GET /", 5);
	limit_case("limit_line_unterminated", buf, HTTP1_LINE_MAX + 2,
	    HTTP1_E_URI_TOO_LONG, 1);
	limit_case("limit_line_unterminated_short", buf, HTTP1_LINE_MAX + 1,
	    HTTP1_E_URI_TOO_LONG, 0);
	/* A line of the limit still waiting for its LF. */
	build_request(buf, sizeof(buf), HTTP1_LINE_MAX, 1, 0);
	limit_case("limit_line_8192_before_lf", buf, HTTP1_LINE_MAX + 1,
	    HTTP1_INCOMPLETE, 0);

	n = build_request(buf, sizeof(buf), 0, HTTP1_MAX_FIELDS, 0);
	limit_case("limit_fields_100", buf, n, HTTP1_OK, 1);
	n = build_request(buf, sizeof(buf), 0, HTTP1_MAX_FIELDS + 1, 0);
	limit_case("limit_fields_101", buf, n, HTTP1_E_TOO_MANY_FIELDS, 1);

	n = build_request(buf, sizeof(buf), 0, 1, HTTP1_HEAD_MAX);
	limit_case("limit_head_32768", buf, n, HTTP1_OK, 1);
	n = build_request(buf, sizeof(buf), 0, 1, HTTP1_HEAD_MAX + 1);
	limit_case("limit_head_32769", buf, n, HTTP1_E_HEAD_TOO_LARGE, 1);
	if (http1_error_status(HTTP1_E_HEAD_TOO_LARGE) != 431 ||
	    http1_error_status(HTTP1_E_TOO_MANY_FIELDS) != 431)
		fail("", "limit_status_431", "status %d",
		    http1_error_status(HTTP1_E_HEAD_TOO_LARGE));
	else
		pass("", "limit_status_431");
	/* An endless field line. */
	n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: ");
	memset(buf + n, 'z', sizeof(buf) - n);
	limit_case("limit_head_unterminated", buf, HTTP1_HEAD_MAX,
	    HTTP1_E_HEAD_TOO_LARGE, 1);
	limit_case("limit_head_unterminated_more", buf, sizeof(buf),
	    HTTP1_E_HEAD_TOO_LARGE, 0);
	limit_case("limit_head_unterminated_short", buf, HTTP1_HEAD_MAX - 1,
	    HTTP1_INCOMPLETE, 0);
}

/* Every byte value in a field value, a field name, a request-target. */
static void
test_bytes(void)
{
	struct http1_request	 req;
	char			 buf[128];
	size_t			 n;
	int			 c, ok, want, bad[3] = { -1, -1, -1 };

	for (c = 0; c < 256; c++) {
		/* Value: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5). */
		n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n"
		    "X: a");
		buf[n++] = c;
		n += snprintf(buf + n, sizeof(buf) - n, "b\r\n\r\n");
		memset(&req, 0, sizeof(req));
		ok = http1_parse_request(buf, n, &req) == HTTP1_OK;
		want = c == '\t' || (c >= 0x20 && c != 0x7f);
		if (ok != want && bad[0] == -1)
			bad[0] = c;

		/* Name: tchar (RFC 9110 5.6.2). */
		n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n"
		    "X");
		buf[n++] = c;
		n += snprintf(buf + n, sizeof(buf) - n, "Y: b\r\n\r\n");
		memset(&req, 0, sizeof(req));
		ok = http1_parse_request(buf, n, &req) == HTTP1_OK;
		/* With ':' the name is "X" and the value "Y: b". */
		want = c == ':' || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c != 0 &&
		    strchr("!#$%&'*+-.^_`|~", c) != NULL);
		if (ok != want && bad[1] == -1)
			bad[1] = c;

		/* Target: VCHAR but '#'. */
		n = snprintf(buf, sizeof(buf), "GET /a");
		buf[n++] = c;
		n += snprintf(buf + n, sizeof(buf) - n, "b HTTP/1.1\r\n"
		    "Host: a\r\n\r\n");
		memset(&req, 0, sizeof(req));
		ok = http1_parse_request(buf, n, &req) == HTTP1_OK;
		want = c > 0x20 && c < 0x7f && c != '#';
		if (ok != want && bad[2] == -1)
			bad[2] = c;
	}
	if (bad[0] != -1)
		fail("", "bytes_field_value", "byte %#x", bad[0]);
	else
		pass("", "bytes_field_value");
	if (bad[1] != -1)
		fail("", "bytes_field_name", "byte %#x", bad[1]);
	else
		pass("", "bytes_field_name");
	if (bad[2] != -1)
		fail("", "bytes_target", "byte %#x", bad[2]);
	else
		pass("", "bytes_target");
}

static const char *
check_response(const struct rs_case *c, const struct http1_response *resp,
    char *why, size_t whylen)
{
	if (resp->head_len != c->len)
		snprintf(why, whylen, "head_len %u", resp->head_len);
	else if (resp->status != c->status)
		snprintf(why, whylen, "status %u", resp->status);
	else if (resp->version != c->version)
		snprintf(why, whylen, "version %u", resp->version);
	else if (resp->framing != c->framing)
		snprintf(why, whylen, "framing %u", resp->framing);
	else if (resp->content_length != c->clen)
		snprintf(why, whylen, "content_length %llu",
		    (unsigned long long)resp->content_length);
	else if (resp->flags != c->flags)
		snprintf(why, whylen, "flags %#x", resp->flags);
	else if (!span_eq(c->raw, resp->reason_off, resp->reason_len,
	    c->reason))
		snprintf(why, whylen, "reason \"%.*s\"", resp->reason_len,
		    c->raw + resp->reason_off);
	else
		return (NULL);
	return (why);
}

static void
test_responses(void)
{
	const struct rs_case	*c;
	struct http1_response	 resp;
	char			 why[256];
	const char		*bad;
	size_t			 i, k;
	int			 rv;

	for (i = 0; i < sizeof(rs_cases) / sizeof(rs_cases[0]); i++) {
		c = &rs_cases[i];
		memset(&resp, 0, sizeof(resp));
		rv = http1_parse_response(c->raw, c->len, c->head, &resp);
		bad = NULL;
		if (rv != c->rv)
			bad = "result";
		else if (rv == HTTP1_OK)
			bad = check_response(c, &resp, why, sizeof(why));
		if (bad != NULL)
			fail("", c->name, "%d (%s), want %d: %s", rv,
			    http1_error_reason(rv), c->rv, bad);
		else
			pass("", c->name);

		memset(&resp, 0, sizeof(resp));
		for (k = 1; k <= c->len; k++)
			if ((rv = http1_parse_response(c->raw, k, c->head,
			    &resp)) != HTTP1_INCOMPLETE)
				break;
		bad = NULL;
		if (rv != c->rv)
			bad = "result";
		else if (rv == HTTP1_OK && k != c->len)
			bad = "early result";
		else if (rv == HTTP1_OK)
			bad = check_response(c, &resp, why, sizeof(why));
		if (bad != NULL)
			fail("bytewise_", c->name, "%d (%s) at %zu: %s", rv,
			    http1_error_reason(rv), k, bad);
		else
			pass("bytewise_", c->name);
	}
}

/* An interim 100, then the final response, in one buffer. */
static void
test_response_interim(void)
{
	static const char	 raw[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	struct http1_response	 resp;
	size_t			 off;

	memset(&resp, 0, sizeof(resp));
	if (http1_parse_response(raw, sizeof(raw) - 1, 0, &resp) != HTTP1_OK ||
	    !(resp.flags & HTTP1_INTERIM) || resp.head_len != 25) {
		fail("", "resp_interim_then_final", "interim");
		return;
	}
	off = resp.head_len;
	if (http1_parse_response(raw + off, sizeof(raw) - 1 - off, 0,
	    &resp) != HTTP1_OK || resp.status != 200 ||
	    (resp.flags & HTTP1_INTERIM) || resp.content_length != 2 ||
	    off + resp.head_len != sizeof(raw) - 1 - 2)
		fail("", "resp_interim_then_final", "final");
	else
		pass("", "resp_interim_then_final");
}

/* Feeds a body in pieces of at most step bytes (0: split at cut). */
static int
chunk_feed(const char *raw, size_t len, size_t step, size_t cut,
    size_t *used, uint64_t *total)
{
	struct http1_chunked	 ck;
	size_t			 off = 0, n, consumed;
	int			 rv = HTTP1_INCOMPLETE;

	http1_chunked_init(&ck);
	while (off < len) {
		if (step != 0)
			n = len - off < step ? len - off : step;
		else
			n = off < cut ? cut - off : len - off;
		rv = http1_chunked_feed(&ck, raw + off, n, &consumed);
		off += consumed;
		if (rv != HTTP1_INCOMPLETE)
			break;
		if (consumed != n)
			return (-100);
	}
	*used = off;
	*total = ck.ck_total;
	return (rv);
}

static void
test_chunked(void)
{
	const struct ck_case	*c;
	struct http1_chunked	 ck;
	char			 buf[2048];
	uint64_t		 total, total1;
	size_t			 i, k, used, used1, want, consumed;
	int			 rv, rv1, wantrv;
	const char		*bad;

	for (i = 0; i < sizeof(ck_cases) / sizeof(ck_cases[0]); i++) {
		c = &ck_cases[i];
		want = c->consumed != 0 ? c->consumed : c->len;
		rv = chunk_feed(c->raw, c->len, c->len, 0, &used, &total);
		bad = NULL;
		if (rv != c->rv)
			bad = "result";
		else if (rv == HTTP1_OK && (used != want || total != c->total))
			bad = "consumed or total";
		if (bad != NULL)
			fail("", c->name, "%d (%s), want %d: %s; used %zu",
			    rv, http1_error_reason(rv), c->rv, bad, used);
		else
			pass("", c->name);

		/* Byte by byte and split in two everywhere: the same. */
		bad = NULL;
		rv1 = chunk_feed(c->raw, c->len, 1, 0, &used1, &total1);
		if (rv1 != rv || used1 != used || total1 != total)
			bad = "bytewise";
		for (k = 1; bad == NULL && k < c->len; k++) {
			rv1 = chunk_feed(c->raw, c->len, 0, k, &used1,
			    &total1);
			if (rv1 != rv || used1 != used || total1 != total)
				bad = "split";
		}
		if (bad != NULL)
			fail("pieces_", c->name, "%s at %zu: %d, used %zu",
			    bad, k, rv1, used1);
		else
			pass("pieces_", c->name);
	}

	/* An extension of exactly the limit, and one byte more. */
	for (k = 0; k < 2; k++) {
		memset(buf, 'e', sizeof(buf));
		buf[0] = '1';
		buf[1] = ';';
		/* HTTP1_CHUNK_EXT_MAX bytes from ';' on, then CRLF. */
		used = 1 + HTTP1_CHUNK_EXT_MAX + k;
		memcpy(buf + used, "\r\nx\r\n0\r\n\r\n", 10);
		rv = chunk_feed(buf, used + 10, 0, 0, &used1, &total);
		wantrv = k == 0 ? HTTP1_OK : HTTP1_E_CHUNK_EXT;
		if (rv != wantrv)
			fail("", k == 0 ? "chunk_ext_at_limit" :
			    "chunk_ext_over_limit", "%d", rv);
		else
			pass("", k == 0 ? "chunk_ext_at_limit" :
			    "chunk_ext_over_limit");
	}

	/* A trailer section of the limit and one byte more. */
	for (k = 0; k < 2; k++) {
		static char	 tb[HTTP1_TRAILER_MAX + 64];
		size_t		 tn;

		tn = snprintf(tb, sizeof(tb), "0\r\nX: ");
		/* Section: "X: " + v + CRLF + CRLF = limit + k. */
		memset(tb + tn, 'v', HTTP1_TRAILER_MAX + k - 7);
		tn += HTTP1_TRAILER_MAX + k - 7;
		memcpy(tb + tn, "\r\n\r\n", 4);
		tn += 4;
		rv = chunk_feed(tb, tn, 0, 0, &used1, &total);
		wantrv = k == 0 ? HTTP1_OK : HTTP1_E_TRAILER_TOO_LARGE;
		if (rv != wantrv)
			fail("", k == 0 ? "chunk_trailer_at_limit" :
			    "chunk_trailer_over_limit", "%d", rv);
		else
			pass("", k == 0 ? "chunk_trailer_at_limit" :
			    "chunk_trailer_over_limit");
	}

	/* After the end and after an error, the answer stays. */
	http1_chunked_init(&ck);
	rv = http1_chunked_feed(&ck, "0\r\n\r\n", 5, &consumed);
	rv1 = http1_chunked_feed(&ck, "1", 1, &consumed);
	if (rv != HTTP1_OK || rv1 != HTTP1_OK || consumed != 0)
		fail("", "chunk_done_sticks", "%d %d %zu", rv, rv1, consumed);
	else
		pass("", "chunk_done_sticks");
	http1_chunked_init(&ck);
	rv = http1_chunked_feed(&ck, "x", 1, &consumed);
	rv1 = http1_chunked_feed(&ck, "0\r\n\r\n", 5, &consumed);
	if (rv != HTTP1_E_CHUNK_SIZE || rv1 != rv || consumed != 0)
		fail("", "chunk_error_sticks", "%d %d %zu", rv, rv1,
		    consumed);
	else
		pass("", "chunk_error_sticks");

	/* A large chunk is skipped, not scanned: feed it in big pieces. */
	http1_chunked_init(&ck);
	rv = http1_chunked_feed(&ck, "100000\r\n", 8, &consumed);
	for (k = 0; k < 0x100000 / sizeof(buf); k++)
		rv = http1_chunked_feed(&ck, buf, sizeof(buf), &consumed);
	rv1 = http1_chunked_feed(&ck, "\r\n0\r\n\r\n", 7, &consumed);
	if (rv != HTTP1_INCOMPLETE || rv1 != HTTP1_OK || consumed != 7 ||
	    ck.ck_total != 0x100000)
		fail("", "chunk_large", "%d %d %zu", rv, rv1, consumed);
	else
		pass("", "chunk_large");
}

/*
 * Decoding: the same verdicts as feeding, and the data alone, in order,
 * whatever the pieces it comes in.
 */
static void
test_chunked_decode(void)
{
	static const struct {
		const char	*name;
		const char	*raw;
		const char	*data;
		int		 rv;
	} dc[] = {
		{ "decode_simple", "5\r\nhello\r\n0\r\n\r\n", "hello",
		    HTTP1_OK },
		{ "decode_several", "3;x=y\r\nabc\r\n2\r\nde\r\n"
		    "0\r\nT: 1\r\n\r\n", "abcde", HTTP1_OK },
		{ "decode_crlf_data", "4\r\n\r\n\r\n\r\n0\r\n\r\n",
		    "\r\n\r\n", HTTP1_OK },
		{ "decode_empty", "0\r\n\r\n", "", HTTP1_OK },
		{ "decode_unfinished", "5\r\nhel", "hel", HTTP1_INCOMPLETE },
		{ "decode_bad_size", "5\r\nhello\r\nz\r\n", "hello",
		    HTTP1_E_CHUNK_SIZE },
	};
	struct http1_chunked	 ck;
	char			 buf[128], out[128];
	size_t			 i, piece, off, len, n, consumed, made, olen;
	int			 rv;

	for (i = 0; i < sizeof(dc) / sizeof(dc[0]); i++) {
		len = strlen(dc[i].raw);
		for (piece = 1; piece <= len; piece++) {
			http1_chunked_init(&ck);
			olen = 0;
			rv = HTTP1_INCOMPLETE;
			for (off = 0; off < len && rv == HTTP1_INCOMPLETE;
			    off += n) {
				n = len - off < piece ? len - off : piece;
				memcpy(buf, dc[i].raw + off, n);
				rv = http1_chunked_decode(&ck, buf, n,
				    &consumed, &made);
				memcpy(out + olen, buf, made);
				olen += made;
				if (rv == HTTP1_INCOMPLETE && consumed != n)
					break;
			}
			if (rv != dc[i].rv || olen != strlen(dc[i].data) ||
			    memcmp(out, dc[i].data, olen) != 0)
				break;
		}
		if (piece <= len)
			fail("", dc[i].name, "pieces of %zu: %d, %zu bytes",
			    piece, rv, olen);
		else
			pass("", dc[i].name);
	}
}

static void
test_helpers(void)
{
	static const char	 raw[] = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-A: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n";
	struct http1_request	 req;
	int			 i, j, rv;

	memset(&req, 0, sizeof(req));
	rv = http1_parse_request(raw, sizeof(raw) - 1, &req);
	i = http1_field_find(raw, req.fields, req.nfields, 0, "x-A", 3);
	j = i < 0 ? -1 : http1_field_find(raw, req.fields, req.nfields, i + 1,
	    "X-a", 3);
	if (rv != HTTP1_OK || i != 1 || j != 2 ||
	    http1_field_find(raw, req.fields, req.nfields, j + 1, "X-A",
	    3) != -1 ||
	    http1_field_find(raw, req.fields, req.nfields, 0, "X-", 2) != -1)
		fail("", "helper_field_find", "%d %d %d", rv, i, j);
	else
		pass("", "helper_field_find");

	if (!http1_field_hop("Connection", 10) ||
	    !http1_field_hop("keep-alive", 10) ||
	    !http1_field_hop("TE", 2) || !http1_field_hop("upgrade", 7) ||
	    !http1_field_hop("Proxy-Connection", 16) ||
	    http1_field_hop("Transfer-Encoding", 17) ||
	    http1_field_hop("Host", 4) || http1_field_hop("X-TE", 4))
		fail("", "helper_field_hop", "wrong answer");
	else
		pass("", "helper_field_hop");

	if (!http1_caseeq("Content-LENGTH", 14, "content-length", 14) ||
	    http1_caseeq("a", 1, "ab", 2) || http1_caseeq("[", 1, "{", 1) ||
	    http1_caseeq("-", 1, "\r", 1))
		fail("", "helper_caseeq", "wrong answer");
	else
		pass("", "helper_caseeq");

	for (i = HTTP1_E_LAST; i < 0; i++)
		if (http1_error_reason(i) == NULL ||
		    http1_error_status(i) < 400 || http1_error_status(i) > 599)
			break;
	if (i != 0 || http1_error_status(HTTP1_E_CONNECT) != 501 ||
	    http1_error_status(HTTP1_E_VERSION_UNSUPPORTED) != 505 ||
	    http1_error_status(HTTP1_E_CL_TE) != 400 ||
	    strcmp(http1_error_reason(HTTP1_E_CL_TE),
	    "both Content-Length and Transfer-Encoding") != 0)
		fail("", "helper_error_table", "at %d", i);
	else
		pass("", "helper_error_table");

	/* A reset between an abandoned head and a new one. */
	memset(&req, 0, sizeof(req));
	rv = http1_parse_request("GET /x HTTP/1.1\r\nHo", 19, &req);
	http1_request_reset(&req);
	j = http1_parse_request(raw, sizeof(raw) - 1, &req);
	if (rv != HTTP1_INCOMPLETE || j != HTTP1_OK || req.nfields != 4)
		fail("", "helper_request_reset", "%d %d", rv, j);
	else
		pass("", "helper_request_reset");
}

/* Not a test: a figure for the log, so changes can be compared. */
static void
bench(void)
{
	static const char	 raw[] =
	    "GET /assets/js/app.min.js?v=20240511 HTTP/1.1\r\n"
	    "Host: www.example.com\r\n"
	    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:126.0) "
	    "Gecko/20100101 Firefox/126.0\r\n"
	    "Accept: */*\r\n"
	    "Accept-Language: en-US,en;q=0.5\r\n"
	    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
	    "Referer: https://www.example.com/\r\n"
	    "Connection: keep-alive\r\n"
	    "Cookie: sid=4f9a1c2b7e; theme=dark\r\n"
	    "Sec-Fetch-Dest: script\r\n"
	    "Sec-Fetch-Mode: no-cors\r\n"
	    "Sec-Fetch-Site: same-origin\r\n"
	    "\r\n";
	static struct http1_request	 req;
	struct timespec			 t0, t1;
	double				 ns;
	int				 i, n = 1000000, bad = 0;

	memset(&req, 0, sizeof(req));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		if (http1_parse_request(raw, sizeof(raw) - 1, &req) != HTTP1_OK)
			bad++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("# parse: %.1f ns/request (%zu bytes, %u fields)%s\n", ns / n,
	    sizeof(raw) - 1, req.nfields, bad ? " FAILED" : "");
}

int
main(int argc, char *argv[])
{
	test_requests();
	test_limits();
	test_bytes();
	test_responses();
	test_response_interim();
	test_chunked();
	test_chunked_decode();
	test_helpers();
	if (argc < 2 || strcmp(argv[1], "-n") != 0)
		bench();
	return (failures == 0 ? 0 : 1);
}
