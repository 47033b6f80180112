/*
 * names.c: the names of roles and child states, as logs, ps and the
 * control tool show them; shared by the daemon and porterod-ctl.
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

#include <string.h>

#include "portero.h"

static const char *const proc_role_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_CERTLOADER] = "certloader",
	[PROC_REGISTRAR] = "registrar",
	[PROC_WORKER] = "worker",
};

static const char *const child_state_names[] = {
	[CHILD_STARTING] = "starting",
	[CHILD_RUNNING] = "running",
	[CHILD_STOPPING] = "stopping",
	[CHILD_DEAD] = "dead",
};

const char *
proc_role_name(enum proc_role role)
{
	if ((unsigned int)role >= PROC_MAX)
		return ("unknown");
	return (proc_role_names[role]);
}

int
proc_role_parse(const char *name, enum proc_role *role)
{
	int	 i;

	for (i = PROC_CERTLOADER; i < PROC_MAX; i++)
		if (strcmp(name, proc_role_names[i]) == 0) {
			*role = i;
			return (0);
		}
	return (-1);
}

const char *
child_state_name(enum child_state state)
{
	if ((unsigned int)state > CHILD_DEAD)
		return ("unknown");
	return (child_state_names[state]);
}
