/*
 * porterod-ctl.h: what the control tool's files share: the waiting and
 * the vis(3) of porterod-ctl.c, the registration commands of ctl_register.c.
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

#ifndef PORTEROD_CTL_H
#define PORTEROD_CTL_H

#include <stdint.h>
#include <stdio.h>

#include <yajl/yajl_gen.h>

/*
 * The daemon answers within CTL_REPLY_TIMEOUT_MS even when a worker is
 * stuck; ten seconds only catches a daemon that is wedged itself.  The
 * registration API gets as long for a whole exchange.
 */
#define CTL_TIMEOUT_MS		10000

/* One message of a listing, as received: its type, a copy of it. */
struct ctl_record {
	uint32_t		 rec_type;
	void			*rec_data;
	size_t			 rec_len;
};

struct ctl_listing {
	struct ctl_record	*ls_recs;
	size_t			 ls_nrecs;
	size_t			 ls_cap;
};

struct json {
	yajl_gen		 js_gen;
	int			 js_err;
};

/* porterod-ctl.c */
void		 ctl_wait(int, short, int64_t);
int64_t		 ctl_now_ms(void);
char		*ctl_vis(const char *);
int		 str_check(const char *, size_t);
void		 fmt_duration(char *, size_t, uint64_t);
void		 json_check(struct json *, yajl_gen_status);
void		 json_key(struct json *, const char *);
void		 json_str(struct json *, const char *, const char *);
void		 json_uint(struct json *, const char *, uint64_t);
void		 json_bool(struct json *, const char *, int);
void		 json_vis(struct json *, const char *, const char *);

/* ctl_backends.c */
int		 backends_check(const struct ctl_listing *);
void		 backends_text(const struct ctl_listing *);
void		 backends_json(struct json *, const struct ctl_listing *);

/* ctl_register.c */
int		 regctl_command(const char *);
int		 regctl_main(int, char *[], int);
void		 regctl_list(FILE *);

#endif /* PORTEROD_CTL_H */
