/* SPDX-License-Identifier: MIT */
/*
 * pvnic.h - constants shared by the two halves of the "pvnic" accelerator
 * pair (the fast path through pvnet-nicd).  The contract is
 * docs/accel-pvnic.md; the NIC's ABI is include/pvnet/nic.h.
 */
#ifndef PVNET_ACCEL_PVNIC_H
#define PVNET_ACCEL_PVNIC_H

struct pv_accel_plugin;

#define PVNIC_NAME		"pvnic"	/* NIC name in "accel", frontend plugin name */
#define PVNIC_NR_PAGES		256	/* K: pages the frontend grants */
#define PVNIC_MAX_PAGES		256	/* at most this many */
#define PVNIC_BUFS_PER_PAGE	2	/* 2 KiB NIC buffers per 4 KiB page */
/*
 * The frontend posts buffers 0 .. PVNIC_NR_RX-1 (pages 0 .. PVNIC_NR_RX/2-1)
 * for RX and keeps the other 2K - PVNIC_NR_RX for TX.  A 64 KiB GSO frame
 * takes 33 RX buffers (an RX chain) or 32 TX buffers: 256 RX hold 7 of
 * them, 256 TX 8 in flight.  Measured ext -> guest with RX chains: 128
 * RX buffers dropped about 1 frame in 7 for want of descriptors, 384 (and
 * 128 TX) slowed TX by a fifth and RX no faster than 256.
 */
#define PVNIC_NR_RX		256

/* Frontend directory keys. */
#define PVNIC_KEY_BUF_REFS	"accel-buf-refs"	/* "R1 R2 ... RK" */
/*
 * "1": the frontend reads RX chains (nic.h: RX_META events, frames over
 * several buffers, GSO frames whole).  Written before accelstate 3; the
 * backend gives the VI chains only then, and only if the NIC has them
 * (PV_NIC_FEAT_RX_CHAIN), and says so in accel-features.  Absent: one
 * buffer per frame, as a NIC without chains.
 */
#define PVNIC_KEY_RX_CHAIN	"accel-rx-chain"
/* The largest MTU (accel-mtu) a frontend with chains both ways takes. */
#define PVNIC_MTU_MAX		9216
/* Backend directory keys. */
#define PVNIC_KEY_BUF_IDS	"accel-buf-ids"		/* "I0 ... I(2K-1)" */
#define PVNIC_KEY_VI		"accel-vi"		/* VI id */
#define PVNIC_KEY_MTU		"accel-mtu"		/* port MTU */
/*
 * The NIC's offloads (its INFO.features), decimal PV_NIC_FEAT_* bits;
 * PV_NIC_FEAT_RX_CHAIN only when this VI has RX chains (accel-rx-chain).
 * The frontend uses TSO only with PV_NIC_FEAT_TSO and PV_NIC_FEAT_TX_CHAIN,
 * CSUM only with PV_NIC_FEAT_TX_CSUM; absent or malformed: none (software
 * segmentation and checksums).  Read when the backend reaches accelstate 4.
 */
#define PVNIC_KEY_FEATURES	"accel-features"
/*
 * The MACs of the host's other vifs, "aa:bb:cc:dd:ee:ff ..." (lower or
 * upper case hex, whitespace separated, at most 128): the frontend never
 * learns them as fast-path destinations (guest to guest stays on the slow
 * path).  Watched; absent: none; malformed entries ignored.
 */
#define PVNIC_KEY_LOCAL_MACS	"accel-local-macs"
/*
 * The source addresses the NIC enforces on this VI's TX (SET_ADDRS), as
 * the `ip` key writes them (space separated), rewritten after each
 * SET_ADDRS; absent: the NIC checks no IP sources.  Watched: the frontend
 * sends on the fast path only frames whose sources these allow (the
 * srcguard rule, src/lib/srcguard.h), leaving the others to the slow path
 * (where netback learns a new address, or refuses it), so a frame the NIC
 * would refuse as spoofed never goes there.
 */
#define PVNIC_KEY_SRC_ADDRS	"accel-src-addrs"

/* Descriptor order of get_fds (PV_HV_ACCEL_FDS's reply). */
#define PVNIC_FD_VI_MEM		0	/* VI memfd (nic.h layout) */
#define PVNIC_FD_DOORBELL	1	/* doorbell eventfd */
#define PVNIC_FD_WAKE		2	/* wake-up eventfd */
#define PVNIC_NR_FDS		3

/*
 * The pair as one plugin (src/accel/pvnic_plugin.c): built in (the table
 * in src/accel/plugins.c) and the entry of build/lib/pvnet-accel-pvnic.so.
 */
extern const struct pv_accel_plugin pvnic_accel_plugin;

#endif
