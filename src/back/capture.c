/* SPDX-License-Identifier: MIT */
/*
 * capture.c - a switch port's frames mirrored to `pvnetctl capture`
 * (capture.h): a capture stream (lib/capstream.h, the same as pvnet-nicd's
 * VIs use) per port, fed by the switch.
 */
#include <errno.h>
#include <unistd.h>

#include "capture.h"
#include "port.h"

/* The reader went: the port has no capture any more. */
static void cap_gone(void *arg)
{
	struct pv_port *port = arg;

	port->capture = NULL;
}

void pv_capture_frame(struct pv_capstream *c, const struct pv_frame *f, unsigned int dir)
{
	struct iovec iov[1 + PV_FRAME_MAX_SEGS];
	unsigned int n = 0;

	iov[n++] = (struct iovec){ (void *)f->hdr, f->hdr_len };
	for (unsigned int i = 0; i < f->nseg && i < PV_FRAME_MAX_SEGS; i++)
		iov[n++] = (struct iovec){ (void *)f->seg[i].p, f->seg[i].len };
	pv_capstream_add(c, dir, f->len, iov, n);
}

int pv_capture_start(struct pv_loop *loop, struct pv_port *port, int fd)
{
	int e = -ENOMEM;

	if (port->capture) {
		close(fd);
		return -EBUSY;
	}
	port->capture = pv_capstream_start(loop, fd, port->name, "ok\n", cap_gone, port, &e);
	return port->capture ? 0 : e;
}

void pv_capture_port_gone(struct pv_port *port)
{
	if (!port->capture)
		return;
	pv_capstream_end(port->capture, "port gone");
	port->capture = NULL;
}
