/*
 * registrar.c: the registrar process: serves the registration API on its
 * own listener and owns the state directory, the only place it may write.
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

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

struct registrar {
	struct portero_config	 rg_conf;
	struct reg_secrets	 rg_secrets;
	int			 rg_sandboxed;
	int			 rg_listenfd;
	struct minihttp		 rg_http;
};

/* This process's one registrar. */
static struct registrar	 rg;

static void	 registrar_dispatch_parent(struct imsg *);
static void	 registrar_drained(void);

void
registrar_main(void)
{
	rg.rg_listenfd = -1;
	minihttp_init(&rg.rg_http, 501, "Not Implemented",
	    "the registration API is not implemented yet\n",
	    registrar_drained);
	proc_child_connect(PROC_REGISTRAR, registrar_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/* chroot into the state directory; write access to it alone. */
static void
registrar_init(void)
{
	const char	*dir = rg.rg_conf.state_dir;
	int		 chrooted;

	chrooted = proc_drop_privileges(&rg.rg_conf, dir);
	if (sandbox_unveil(chrooted ? "/" : dir, UNVEIL_REGISTRAR) == -1)
		fatal("unveil %s", dir);
	if (sandbox_unveil(NULL, NULL) == -1)
		fatal("unveil");
	proc_sandbox(PROMISES_REGISTRAR);
	rg.rg_sandboxed = 1;
}

static void
registrar_dispatch_parent(struct imsg *imsg)
{
	struct listener_msg	 lm;

	if (proc_child_common(imsg, &rg.rg_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_LISTENER:
		if (config_getlistener(imsg, &lm) == -1 ||
		    lm.kind != LISTENER_REGISTER || rg.rg_listenfd != -1)
			fatalx("bad listener message");
		rg.rg_listenfd = imsg->fd;
		break;
	case IMSG_CFG_SECRETS:
		if (config_getsecrets(imsg, &rg.rg_secrets) == -1)
			fatalx("bad secrets message");
		break;
	case IMSG_CFG_DONE:
		if (!rg.rg_sandboxed)
			registrar_init();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		if (rg.rg_listenfd == -1)
			fatalx("started without a listener");
		minihttp_listen(&rg.rg_http, rg.rg_listenfd);
		break;
	case IMSG_SHUTDOWN:
		minihttp_stop(&rg.rg_http);
		break;
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

static void
registrar_drained(void)
{
	exit(0);
}
