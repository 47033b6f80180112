/*
 * nosandbox.c: stands in for portero/sandbox.c in portero-cg, the copy of
 * the daemon that bench runs under callgrind only.
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
	return 0;
}

int
sandbox_pledge(const char *promises)
{
	(void)promises;
	return 0;
}

const char *
sandbox_describe(void)
{
	return "none (callgrind build for bench)";
}
