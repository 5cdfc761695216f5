/* SPDX-License-Identifier: MIT */
/*
 * capture.h - `pvnetctl capture`: a mirror of one switch port's frames,
 * both directions, streamed to a control connection (records of
 * pvnet/ctl.h's struct pv_ctl_cap_rec).
 *
 * The switch calls pv_capture_frame() for a port whose ->capture is set:
 * on input (PV_CTL_CAP_TX) and after a delivery (PV_CTL_CAP_RX).  That
 * copies the frame into the session's buffer, or counts a drop if the
 * buffer is full; it never blocks and makes no system call.  The buffer
 * goes out on the loop, as the reader takes it (lib/capstream.h, where the
 * stream's workings are written down).  One session per port.
 */
#ifndef PVNET_CAPTURE_H
#define PVNET_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/capstream.h"	/* PV_CTL_CAP_*, the stream's records */

struct pv_loop;
struct pv_port;
struct pv_frame;

/*
 * pv_capture_start() - mirror @port's frames to the connected socket @fd
 * (which the session owns from now on, also on failure).  The stream
 * begins with "ok\n".
 * Return: 0, -EBUSY (a capture runs on @port), -ENOMEM.
 */
int pv_capture_start(struct pv_loop *loop, struct pv_port *port, int fd);

/* The data path: one frame of @port->capture, @dir PV_CTL_CAP_TX or _RX. */
void pv_capture_frame(struct pv_capstream *c, const struct pv_frame *f, unsigned int dir);

/* @port leaves the switch: its session ends (the reader sees EOF). */
void pv_capture_port_gone(struct pv_port *port);

#endif
