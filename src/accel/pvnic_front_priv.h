/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front_priv.h - what the pieces of the "pvnic" frontend share: the
 * device (struct pvnic_dev), its buffers' layout and the functions one piece
 * calls in another.  Private to src/accel/pvnic_front*.c; the plugin as a
 * whole, and how it works, is described at the top of pvnic_front.c.
 */
#ifndef PVNET_PVNIC_FRONT_PRIV_H
#define PVNET_PVNIC_FRONT_PRIV_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "accel/pvnic.h"
#include "guest/xsc.h"
#include "lib/log.h"
#include "lib/pkt.h"
#include "lib/srcguard.h"
#include "nic/nic_client.h"
#include "nic/txrule.h"
#include "pvnet/accel.h"
#include "pvnet/xen.h"

#define PVNIC_K		PVNIC_NR_PAGES
#define PVNIC_NBUF	(PVNIC_K * PVNIC_BUFS_PER_PAGE)
#define PVNIC_NRX	PVNIC_NR_RX			/* buffers 0 .. NRX-1 */
#define PVNIC_NTX	(PVNIC_NBUF - PVNIC_NRX)	/* buffers NRX .. 2K-1 */
#define PVNIC_IDX_BITS	10
#define PVNIC_IDX_SLOTS	(1u << PVNIC_IDX_BITS)		/* buffer id -> buffer, load <= 1/2 */
#define PVNIC_LEARN	256			/* learned destinations (power of 2) */
#define PVNIC_FRAME_MAX	65535u
#define PVNIC_KEY_MAX	256
#define PVNIC_RETRY_MS	50
#define PVNIC_RETRIES	200			/* -EAGAIN from pvnetd: 10 s */
#define PVNIC_LINGER	4
#define PVNIC_LOCAL_MAX	256			/* more than accel-local-macs can carry */

_Static_assert(PVNIC_K <= PVNIC_MAX_PAGES && PVNIC_MAX_PAGES <= PV_ACCEL_FRONT_RESERVE,
	       "pvnic pages fit netfront's accelerator reserve");
_Static_assert(PVNIC_NTX <= PV_NIC_TXQ_SIZE && PVNIC_NRX <= PV_NIC_RXQ_SIZE &&
	       PVNIC_NRX > 0 && PVNIC_NRX < PVNIC_NBUF, "buffers fit the rings");
_Static_assert(XENSTORE_PAYLOAD_MAX / 18 < PVNIC_LOCAL_MAX,
	       "every MAC accel-local-macs can carry fits the table");
_Static_assert(2 * PVNIC_NRX + PVNIC_NTX <= PV_NIC_EVQ_SIZE,
	       "every buffer's event (and an RX_META before each RX buffer) fits the event "
	       "queue at once: the NIC never stalls on us");
_Static_assert(PVNIC_IDX_SLOTS >= 2 * PVNIC_NBUF && PVNIC_NBUF < 0xffff,
	       "the id index has free slots and 16-bit entries");
/*
 * accel-buf-refs is written by the guest: its node must stay under the
 * store's guest quota (2048 bytes with the permissions); refs are below
 * PV_ACCEL_FRONT_GRANT_MAX, at most 4 digits and a space each.
 */
_Static_assert(PV_ACCEL_FRONT_GRANT_MAX <= 10000 && PVNIC_K * 5 <= 2048 - 64,
	       "accel-buf-refs fits a guest's xenstore node");

enum { B_TXFREE = 0, B_TX, B_RX, B_IDLE, B_LENT };

/* How a frame goes out (pvnic_tx_plan). */
enum {
	PVNIC_TXM_PLAIN,	/* one buffer, as it is */
	PVNIC_TXM_SWCSUM,	/* one buffer, its partial checksum completed here */
	PVNIC_TXM_CSUM,		/* one buffer, PV_NIC_TX_F_CSUM: the NIC completes it */
	PVNIC_TXM_TSO,		/* one chain of ceil(len / 2 KiB) buffers, PV_NIC_TX_F_TSO */
	PVNIC_TXM_SWGSO,	/* cut here at the MTU, a buffer (and NIC frame) per segment */
};

struct pvnic_plan {
	int mode;		/* PVNIC_TXM_* */
	uint16_t mss;		/* TSO, SWGSO: payload bytes per segment */
	unsigned int nbuf;	/* TX buffers the frame takes */
};

/*
 * An RX chain being read: its RX_META, then the buffers of its RX events
 * so far (left: events still to come; 0: no chain open).
 */
struct pvnic_rxc {
	struct pv_nic_rx_meta m;
	unsigned int left, n;
	int skip;		/* in pieces (MORE) of a frame whose RX_META was not believed */
	uint32_t got;
	uint16_t part[PV_NIC_RX_MAX_FRAGS];
	uint16_t plen[PV_NIC_RX_MAX_FRAGS];
};

/* tx_mark: a guest frame's first and last buffers, for counting it once. */
#define PVNIC_TXB_FIRST	0x1
#define PVNIC_TXB_LAST	0x2

struct pvnic_dev {
	struct pv_accel_front_dev *dev;
	struct pv_loop *loop;
	struct pv_guest *g;		/* NULL: test attach, no grants or store */
	unsigned int domid, devid;
	struct xsc *xs;
	struct pv_watch *xs_w, *timer_w, *wake_w;
	unsigned int retries;
	int failed;			/* handshake failed: stays on the slow path */
	int refs[PVNIC_K];
	uint8_t *buf[PVNIC_NBUF];
	uint32_t id[PVNIC_NBUF];
	uint16_t id_slot[PVNIC_IDX_SLOTS];	/* buffer + 1 at the id's hash (probed on), 0 empty */
	uint8_t bst[PVNIC_NBUF];
	uint16_t tx_free[PVNIC_NTX];
	unsigned int ntx_free;
	uint8_t tx_mark[PVNIC_NBUF];	/* PVNIC_TXB_* of a buffer in flight */
	uint32_t tx_flen[PVNIC_NBUF];	/* on a frame's last buffer: the frame's length */
	int txa_err;			/* the frame whose events we are reading had an ERROR */
	uint32_t features;		/* PV_NIC_FEAT_* the backend published */
	int off_tso, off_csum;		/* offloads in use (from features) */
	int tx_chain;			/* frames above 2 KiB go out as chains */
	int rx_chain;			/* the VI was allocated with RX chains */
	struct pvnic_rxc rxc;		/* the RX chain being read */
	uint64_t rx_chain_bad;		/* chains whose events broke their RX_META: dropped */
	uint64_t rx_over_mtu;		/* frames longer than the vif's MTU: dropped */
	struct vi_user u;
	int fds[PVNIC_NR_FDS];
	int up;				/* data path on */
	unsigned int mtu;
	const uint8_t *mac;
	int irq_on, ring_pending, kicked;
	uint32_t tx_staged;		/* descriptors of the frame being sent, unpublished */
	uint8_t *lin;			/* a GSO frame made contiguous */
	uint8_t *held;			/* the BUSY frame */
	uint32_t held_len;
	struct pvnic_plan held_pl;
	struct virtio_net_hdr held_vh;
	int has_held, held_has_vh;
	uint16_t lent[PV_ACCEL_LEND_IOV];	/* TX buffers lent to netfront (tx_lend), frame order */
	unsigned int nlent;
	uint64_t tx_lent_frames;		/* frames sent from a loan: no copy */
	uint8_t learn[PVNIC_LEARN][6];
	uint8_t learn_ok[PVNIC_LEARN];
	uint64_t local[PVNIC_LOCAL_MAX];	/* other vifs of this host: sorted, distinct */
	unsigned int nlocal;
	uint64_t local_bad;			/* malformed accel-local-macs entries seen */
	int src_on;				/* accel-src-addrs present: the NIC checks sources */
	struct pv_sg_addrs src;			/* ... and these are the ones it allows */
	uint64_t src_slow;			/* frames left to the slow path for their source */
	struct pv_accel_stats pend;
	uint64_t nic_errors[PV_NIC_ERR_MAX];	/* ERROR events by code ([0]: unknown codes) */
	uint64_t bogus_events;
	struct pv_ratelimit rl;
};

/* pvnic_front.c: buffer ids, the VI */
int pvnic_buf_lookup(const struct pvnic_dev *p, uint32_t id);
void pvnic_ring(struct pvnic_dev *p);
void pvnic_vi_down(struct pvnic_dev *p, const char *why);

/* pvnic_front_macs.c: the host's other vifs, the learned destinations */
void pvnic_local_macs_set(struct pvnic_dev *p, const char *val, size_t len);
void pvnic_learn(struct pvnic_dev *p, const uint8_t *src);
int pvnic_learned(const struct pvnic_dev *p, const uint8_t *dst);

/* pvnic_front_tx.c: the TX planner, the VI's TX ring */
int pvnic_tx_plan(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
		  const uint8_t *hdr, uint32_t avail, uint32_t len, struct pvnic_plan *pl);
enum pv_accel_xmit pvnic_start_xmit(struct pv_accel_front_dev *dev,
				    const struct virtio_net_hdr *vh,
				    const struct iovec *iov, int iovcnt, uint32_t len);
void pvnic_tx_held(struct pvnic_dev *p);
int pvnic_tx_lend(struct pv_accel_front_dev *dev, struct iovec *iov, int max);
enum pv_accel_xmit pvnic_tx_lent(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
				 uint32_t len);
void pvnic_tx_unlend(struct pv_accel_front_dev *dev);
void pvnic_lend_end(struct pvnic_dev *p);
void pvnic_flush(struct pv_accel_front_dev *dev);

/* pvnic_front_rx.c: poll: RX and TX events, interrupts, stats */
int pvnic_poll(struct pv_accel_front_dev *dev, int budget);
int pvnic_start_irq(struct pv_accel_front_dev *dev);
void pvnic_stop_irq(struct pv_accel_front_dev *dev);
int pvnic_check_ready(struct pv_accel_front_dev *dev);
void pvnic_get_stats(struct pv_accel_front_dev *dev, struct pv_accel_stats *delta);

#endif
