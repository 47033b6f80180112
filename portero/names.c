/*
 * names.c: the names of roles and child states, as logs, ps and the
 * control tool show them; shared by the daemon and porterod-ctl.
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
		return "unknown";
	return proc_role_names[role];
}

int
proc_role_parse(const char *name, enum proc_role *role)
{
	int	 i;

	for (i = PROC_CERTLOADER; i < PROC_MAX; i++)
		if (strcmp(name, proc_role_names[i]) == 0) {
			*role = i;
			return 0;
		}
	return -1;
}

const char *
child_state_name(enum child_state state)
{
	if ((unsigned int)state > CHILD_DEAD)
		return "unknown";
	return child_state_names[state];
}
