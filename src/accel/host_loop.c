/* SPDX-License-Identifier: MIT */
/*
 * host_loop.c - accel.h's loop calls (1.2), the same in both hosts: a
 * plugin's descriptors and timers on the host's loop (src/lib/loop.c).
 * Its own file, so a test's fake host links it without the plugin table.
 */
#include "lib/loop.h"
#include "pvnet/accel.h"

_Static_assert(__builtin_types_compatible_p(pv_accel_loop_cb, pv_loop_cb),
	       "accel.h's loop callback is the loop's");

struct pv_watch *pv_accel_loop_add(struct pv_loop *loop, int fd, uint32_t events,
				   pv_accel_loop_cb cb, void *arg)
{
	return pv_loop_add(loop, fd, events, cb, arg);
}

void pv_accel_loop_del(struct pv_loop *loop, struct pv_watch *w)
{
	pv_loop_del(loop, w);
}

struct pv_watch *pv_accel_loop_timer(struct pv_loop *loop, unsigned int first_ms,
				     unsigned int period_ms, pv_accel_loop_cb cb, void *arg)
{
	return pv_loop_timer(loop, first_ms, period_ms, cb, arg);
}

void pv_accel_loop_timer_del(struct pv_loop *loop, struct pv_watch *w)
{
	pv_loop_timer_del(loop, w);
}

