/*
 * nosandbox.c: stands in for portero/sandbox.c in portero-cg, the copy of
 * the daemon that bench runs under callgrind only.
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

/*
 * valgrind knows neither Landlock nor the seccomp filters the children
 * install, so the instruction count is taken from a build without them.
 * The product binary always has its sandbox; this file is never linked
 * into it.
 */

#include "portero.h"

int
sandbox_unveil(const char *path, const char *perms)
{
	(void)path;
	(void)perms;
	return (0);
}

int
sandbox_pledge(const char *promises)
{
	(void)promises;
	return (0);
}

const char *
sandbox_describe(void)
{
	return ("none (callgrind build for bench)");
}
