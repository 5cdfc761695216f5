/* SPDX-License-Identifier: MIT */
/*
 * xen.h - Xen's public ABI headers, made usable in Linux user space.
 *
 * pvnet speaks Xen's own protocols (ring.h, netif.h, grant_table.h,
 * xs_wire.h) from Debian's libxen-dev.  Those headers expect the including
 * environment to provide memory barriers; we provide them with C11 atomics,
 * which is what the protocols need between two processes sharing memory
 * on one machine.
 */
#ifndef PVNET_XEN_H
#define PVNET_XEN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdatomic.h>

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#define xen_mb()  atomic_thread_fence(memory_order_seq_cst)
#define xen_rmb() atomic_thread_fence(memory_order_acquire)
#define xen_wmb() atomic_thread_fence(memory_order_release)

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/netif.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>

/* Pages shared between domains are 4 KiB, as on x86 Xen. */
#define PV_PAGE_SHIFT 12
#define PV_PAGE_SIZE  (1u << PV_PAGE_SHIFT)
#define PV_GNT_RESERVED    8	/* grant refs 0..7 reserved, as GNTTAB_NR_RESERVED_ENTRIES */

/* A 16-bit domain id as Xen has it; DOMID_SELF etc. come from xen.h. */
typedef uint16_t pv_domid_t;

/* An index is "ahead" by more than the ring when wrap-around arithmetic says so. */
static inline int pv_ring_idx_sane(RING_IDX prod, RING_IDX cons, unsigned int size)
{
	return (RING_IDX)(prod - cons) <= size;
}

#endif
