/*
 * fuzz_conf.c: portero.conf(5) as the parent reads it: any bytes as a
 * configuration file, through the lexer, the grammar and the checks of
 * the whole set; nothing may crash, leak or loop.
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

#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../portero/portero.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

extern int	 logstub_quiet;
static char	 path[1024];

/*
 * Backends named in the input are resolved by the parent: here only
 * numeric ones, so that no input waits on a name server.
 */
int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static int	(*real)(const char *, const char *,
			    const struct addrinfo *, struct addrinfo **);
	struct addrinfo	 h;

	if (real == NULL && (real = dlsym(RTLD_NEXT, "getaddrinfo")) == NULL)
		abort();
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return (real(node, service, &h, res));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*dir = getenv("TMPDIR");

	logstub_quiet = 1;
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (snprintf(path, sizeof(path), "%s/portero-fuzz-conf.%d", dir,
	    (int)getpid()) >= (int)sizeof(path))
		abort();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portero_config	 conf;
	struct conf_set		*set;
	FILE			*f;

	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, size, 1, f) != 1)
		abort();
	fclose(f);
	config_defaults(&conf);
	if ((set = confset_new()) == NULL)
		abort();
	(void)parse_config(path, &conf, set);
	confset_free(set);
	unlink(path);
	return (0);
}
