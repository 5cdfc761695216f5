/* SPDX-License-Identifier: MIT */
/*
 * capstream.h - a capture stream: frames mirrored to a reader on a
 * connected socket, as records of pvnet/ctl.h's struct pv_ctl_cap_rec,
 * without ever making the data path wait.  pvnetd's switch ports
 * (src/back/capture.c) and pvnet-nicd's VIs (src/nic/vi.c) use it.
 *
 * The data path and the reader are decoupled by one bounded byte buffer
 * per stream (PV_CAPSTREAM_BUF_MAX):
 *
 *   data path ── pv_capstream_add() ──> [ rec | frame | rec | frame ... ] ──send()──> reader
 *                copy, or drops++         start              end               on the loop
 *
 * pv_capstream_add() appends a record if it fits and otherwise counts a
 * drop: no system call, no allocation, no waiting.  The first record of a
 * burst asks the loop for a "soon" callback, which sends what the socket
 * takes (non-blocking) and, if something is left, watches for EPOLLOUT
 * until the buffer is empty again.  A reader that stops reading costs a
 * full buffer and drops, counted and reported in the stream (a
 * PV_CTL_CAP_DROPS record when no frame carries the count), never the
 * data path's time.  The stream ends when the reader closes (EPOLLIN with
 * EOF), or when its owner ends it.
 */
#ifndef PVNET_CAPSTREAM_H
#define PVNET_CAPSTREAM_H

#include <stdint.h>
#include <sys/uio.h>

#include "pvnet/ctl.h"	/* PV_CTL_CAP_*, the stream's records */

struct pv_loop;
struct pv_capstream;

#define PV_CAPSTREAM_BUF_MAX	(4u << 20)	/* bytes held for a slow reader, then drops */

/* The reader went away: the stream is ending (freed after this returns). */
typedef void (*pv_capstream_gone_fn)(void *arg);

/*
 * pv_capstream_start() - a stream to the connected socket @fd (which the
 * stream owns from now on, also on failure), named @name in the log
 * ("capture of NAME started/ended"), beginning with @greeting (or
 * nothing); @gone is called if the reader goes.
 * Return: the stream, or NULL (-ENOMEM in *@err).
 */
struct pv_capstream *pv_capstream_start(struct pv_loop *loop, int fd, const char *name,
					const char *greeting, pv_capstream_gone_fn gone,
					void *arg, int *err);

/*
 * The data path: one frame of @len bytes, the concatenation of @iov (at
 * least min(@len, PV_CTL_CAP_SNAPLEN) bytes), direction @dir
 * (PV_CTL_CAP_TX or _RX).  Copied now; never blocks.
 */
void pv_capstream_add(struct pv_capstream *c, unsigned int dir, uint32_t len,
		      const struct iovec *iov, unsigned int iovcnt);

/* End it (the reader sees EOF), logging @why; @gone is not called. */
void pv_capstream_end(struct pv_capstream *c, const char *why);

#endif
