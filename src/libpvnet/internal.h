/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what libpvnet's files share and applications do not see:
 * the next-hop resolution (neigh.c) and limits.
 */
#ifndef PVNET_LIBPVNET_INTERNAL_H
#define PVNET_LIBPVNET_INTERNAL_H

#include <stdint.h>

#define BRK_NBUFS_MAX	16384u	/* buffers in one memreg (the broker's ceiling) */

/* Counters the resolver bumps (the stack's stats). */
struct lp_neigh_counters {
	uint64_t lookups, triggers;
};

/**
 * lp_neigh_resolve() - the MAC of the next hop towards @dst (network order)
 * @src:	the address we send from (the route's source selection)
 * @mac:	out
 * @timeout_ms:	how long to wait for the kernel to resolve it
 *
 * Asks the kernel's routing table (RTM_GETROUTE) for the next hop, its
 * neighbour table (RTM_GETNEIGH) for the MAC; without one, sends a kernel
 * UDP datagram to @dst's discard port so that the kernel resolves it,
 * and asks again.
 *
 * Return: 0, -EHOSTUNREACH (no route, or no answer), -errno.
 */
int lp_neigh_resolve(uint32_t dst, uint32_t src, uint8_t mac[6], int timeout_ms,
		     struct lp_neigh_counters *cnt);

#endif
