/*
 * certloader.c: the certloader process, the only one that may read the
 * certificate directory.  It confines itself to that directory.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

struct certloader {
	struct portero_config	 cl_conf;
	int			 cl_sandboxed;
};

/* This process's one certloader. */
static struct certloader	 cl;

static void	 certloader_dispatch_parent(struct imsg *);

void
certloader_main(void)
{
	proc_child_connect(certloader_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/*
 * chroot into the certificate directory (or the empty one when there is
 * none), then read-only access to it alone.
 */
static void
certloader_init(void)
{
	const char	*dir = cl.cl_conf.cert_dir;
	int		 hasdir = dir[0] != '\0', chrooted;

	chrooted = proc_drop_privileges(&cl.cl_conf,
	    hasdir ? dir : cl.cl_conf.chroot_dir);
	if (hasdir && sandbox_unveil(chrooted ? "/" : dir, UNVEIL_CERTLOADER) == -1)
		fatal("unveil %s", dir);
	if (sandbox_unveil(NULL, NULL) == -1)
		fatal("unveil");
	proc_sandbox(hasdir ? PROMISES_CERTLOADER : "stdio");
	cl.cl_sandboxed = 1;
}

static void
certloader_dispatch_parent(struct imsg *imsg)
{
	if (proc_child_common(imsg, &cl.cl_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_DONE:
		if (!cl.cl_sandboxed)
			certloader_init();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		break;
	case IMSG_RELOAD:
		log_debug("rescan requested");
		break;
	case IMSG_SHUTDOWN:
		exit(0);
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}
