/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what libpvnet's files share and applications do not see:
 * the next-hop resolution (neigh.c) and limits.
 */
#ifndef PVNET_LIBPVNET_INTERNAL_H
#define PVNET_LIBPVNET_INTERNAL_H

#include <stdbool.h>
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

/* ---- what tcp.c (layer 3, over lwIP) needs of a stack (udp.c) ---- */

struct pvnet_stack;
struct pvnet_vi_attr;

/*
 * The TCP layer's hooks in a stack, set by its first TCP socket (udp.c
 * does not link lwIP: a UDP-only program never loads it).
 */
struct lp_tcp_ops {
	/* An IPv4 TCP packet (@len bytes from its IP header) to the stack's address. */
	void (*input)(void *ctx, const uint8_t *ip, uint32_t len);
	/* After each pvnet_stack_poll(): the stack's timers. */
	void (*poll)(void *ctx);
	/* The longest a wait may sleep (the next timer), < 0: no limit. */
	int (*sleep_ms)(void *ctx);
	/* pvnet_stack_close(), first: the TCP sockets and the layer go. */
	void (*close)(void *ctx);
};
void lp_stack_set_tcp(struct pvnet_stack *st, const struct lp_tcp_ops *ops, void *ctx);
void *lp_stack_tcp_ctx(const struct pvnet_stack *st);
const struct pvnet_vi_attr *lp_stack_attr(const struct pvnet_stack *st);
/* The next hop's MAC towards @dst (network order): the stack's cache, else the kernel's. */
int lp_stack_nexthop(struct pvnet_stack *st, uint32_t dst, uint8_t mac[6]);
/* A free TX buffer (its bytes; *idx names it for lp_stack_tx_post) or NULL, none free. */
uint8_t *lp_stack_tx_get(struct pvnet_stack *st, uint32_t *idx);
/* Send @len bytes of TX buffer @idx (back on the free list on failure): 0, -errno. */
int lp_stack_tx_post(struct pvnet_stack *st, uint32_t idx, uint16_t len);
/*
 * Wait until @ready(@arg): polls, spins (spin mode), sleeps on the VI's
 * wake-up.  0 ready; -EAGAIN @nonblock or @timeout_ms (< 0: none) over; -EIO.
 */
int lp_stack_wait(struct pvnet_stack *st, bool (*ready)(const void *), const void *arg,
		  bool nonblock, int timeout_ms);
/*
 * Wait (at most 200 ms) until every frame handed to the NIC has left
 * (TX_DONE): before a port's filter goes, since the NIC checks a VI's TX
 * source ports against its filters and would refuse what is still queued.
 */
void lp_stack_tx_drain(struct pvnet_stack *st);
/* Counters of the TCP layer in the stack's stats. */
struct pvnet_stack_stats *lp_stack_counters(struct pvnet_stack *st);

#endif
