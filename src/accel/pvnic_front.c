/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front.c - the frontend half of the "pvnic" accelerator pair: the
 * guest's fast path through a pvnet-nicd VI.  The contract is
 * docs/accel-pvnic.md; the VI's ABI is include/pvnet/nic.h.
 *
 * Theory of Operation
 * ===================
 *
 * Memory.  K = PVNIC_NR_PAGES pages of netfront's accelerator reserve
 * (PV_NF_ACCEL_FRAME(i), registered with the domain but never used by
 * netfront) are granted writable to dom0.  Page i is NIC buffers 2i and
 * 2i+1 (2 KiB each).  Buffers 0..NRX-1 (PVNIC_NR_RX) are RX buffers,
 * always posted except while one is being delivered; buffers NRX..2K-1 are
 * TX buffers, on a free stack or in flight (posted, waiting for TX_DONE or
 * ERROR).  The NIC chose the buffers' ids; events name a buffer by id,
 * found in a hash of the ids (pvnic_buf_lookup) and believed only if that
 * buffer is in the state the event needs (in flight for TX, posted for RX).
 *
 * Handshake (own xenstore connection, own watches, on netfront's loop):
 *   new_device: grant, write accel-buf-refs, accelstate 3, watch the
 *               backend's accelstate and accel-local-macs;
 *   any watch:  read accel-local-macs again (pvnic_check), then:
 *   backend 4:  read accel-buf-ids (exactly 2K), accel-mtu and
 *               accel-features (absent: no offloads), ask pvnetd for [VI
 *               memfd, doorbell, wake-up] (retried on -EAGAIN from a
 *               timer), map and check the VI, post the RX buffers, watch
 *               the wake-up eventfd, accelstate 4: data path on;
 *   backend leaves 4: data path off (held frame handed back), accelstate 5.
 *
 * TX policy (start_xmit), every NOT_SENT test before the BUSY one, all
 * decided from a private copy of the frame's first 256 bytes:
 *   NOT_SENT  data path off; runt or oversized; broadcast/multicast
 *             destination; source not the vif's MAC (the NIC would refuse
 *             it as spoofed); destination not learned; GSO types other than
 *             TCPv4/v6 or a GSO frame that does not parse (or whose headers
 *             pass 256 bytes); software GSO needing more segments than
 *             there are TX buffers; a non-GSO frame longer than the port
 *             takes;
 *   BUSY      not enough free TX buffers for all of the frame: the frame
 *             (and its plan) is copied and held; poll sends it once TX_DONE
 *             events freed enough buffers, and check_ready says go;
 *   SENT      the frame goes one of these ways (pvnic_tx_plan), the
 *             NIC's rules asked of src/nic/txrule.c:
 *             TSO    a TCP GSO frame the NIC's TSO rule takes (IPv4, or
 *                    IPv6 without extension headers; nothing after the
 *                    IP datagram; mss >= PV_NIC_TSO_MSS_MIN), with
 *                    features TSO and TX_CHAIN: gathered from the iovec
 *                    straight into ceil(len / 2 KiB) buffers, one chain:
 *                    TSO and mss = min(gso_size, MTU - L3/L4 headers) on
 *                    the first descriptor, MORE on all but the last;
 *             SWGSO  any other TCP GSO frame: cut at the MTU here
 *                    (pv_pkt_gso_segment, checksums computed), a buffer
 *                    and a NIC frame per segment;
 *             CSUM   a partial checksum of TCP/UDP where the NIC's CSUM
 *                    rule puts it (nothing after the IP datagram), with
 *                    feature TX_CSUM: the flag, the field left for the NIC;
 *             SWCSUM any other partial checksum: completed here;
 *             PLAIN  as it is.
 *             A frame is all or nothing: its descriptors are written past
 *             the published tx_prod and published at once when all are
 *             there (vi_user_tx_stage_frame, vi_user_tx_publish), or taken back.
 * TX events: one per descriptor, in ring order; each frees its buffer.  A
 * guest frame (a chain, or the segments of a software GSO frame) is counted
 * once, as netfront's slow path counts it, at its last buffer's event: sent
 * with its length, or one tx_error if any of its events was an ERROR.
 * Learned destinations: the source MACs of frames received on the fast
 * path, in a direct-mapped table of PVNIC_LEARN entries (a collision
 * forgets the older MAC: its flow falls back to the slow path until its
 * next fast-path frame).  Never the MACs of the host's other vifs
 * (accel-local-macs, a sorted array searched per learning; a new list
 * also forgets those already learned): the NIC sends TX only out of its
 * port, so guest-to-guest frames must stay on the slow path, as in the
 * original design.
 *
 * Doorbell: start_xmit posts descriptors and asks netfront for a poll
 * (pv_accel_front_kick) once per burst; the doorbell is rung once from
 * poll (or start_irq), so a burst of frames costs one eventfd write.  Poll
 * also rings after reading events while the NIC has TX descriptors not yet
 * consumed (it may have stalled on a full event queue, nic.h).
 *
 * Interrupts: start_irq arms the VI's wake-up (vi_user_arm: returns 1 when
 * events are already there), stop_irq disarms; the wake-up eventfd's
 * callback kicks netfront.
 *
 * Grants at remove: the backend unmaps them once it sees the frontend's
 * accelstate go Closed, which the host writes after remove returns, so
 * ending them usually fails with -EBUSY at first.  Such refs are kept in a
 * small table (device, guest, domid) and ended on a later new_device or
 * remove of the same netfront and domain; a different guest means the
 * domain (and its grants) are gone, and the entry is forgotten.
 *
 * Never blocks (the one hv.sock request is a local request/reply, as every
 * grant operation is), never spins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "accel/pvnic.h"
#include "front/netfront.h"
#include "guest/guest.h"
#include "guest/xsc.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/pkt.h"
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

_Static_assert(PVNIC_K <= PVNIC_MAX_PAGES && PVNIC_MAX_PAGES <= PV_NF_NR_ACCEL,
	       "pvnic pages fit netfront's accelerator reserve");
_Static_assert(PVNIC_NTX <= PV_NIC_TXQ_SIZE && PVNIC_NRX <= PV_NIC_RXQ_SIZE &&
	       PVNIC_NRX > 0 && PVNIC_NRX < PVNIC_NBUF, "buffers fit the rings");
_Static_assert(XENSTORE_PAYLOAD_MAX / 18 < PVNIC_LOCAL_MAX,
	       "every MAC accel-local-macs can carry fits the table");
_Static_assert(PVNIC_NRX + PVNIC_NTX <= PV_NIC_EVQ_SIZE,
	       "every buffer's event fits the event queue at once: the NIC never stalls on us");
_Static_assert(PVNIC_IDX_SLOTS >= 2 * PVNIC_NBUF && PVNIC_NBUF < 0xffff,
	       "the id index has free slots and 16-bit entries");
/*
 * accel-buf-refs is written by the guest: its node must stay under the
 * store's guest quota (2048 bytes with the permissions); refs are below
 * PV_NF_NR_GRANTS, at most 4 digits and a space each.
 */
_Static_assert(PV_NF_NR_GRANTS <= 10000 && PVNIC_K * 5 <= 2048 - 64,
	       "accel-buf-refs fits a guest's xenstore node");

enum { B_TXFREE = 0, B_TX, B_RX, B_IDLE };

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
	uint8_t learn[PVNIC_LEARN][6];
	uint8_t learn_ok[PVNIC_LEARN];
	uint64_t local[PVNIC_LOCAL_MAX];	/* other vifs of this host: sorted, distinct */
	unsigned int nlocal;
	uint64_t local_bad;			/* malformed accel-local-macs entries seen */
	struct pv_accel_stats pend;
	uint64_t nic_errors[PV_NIC_ERR_MAX];	/* ERROR events by code ([0]: unknown codes) */
	uint64_t bogus_events;
	struct pv_ratelimit rl;
};

/* Grant refs still mapped by the backend at remove, ended later. */
static struct pvnic_linger {
	const struct pv_accel_front_dev *dev;
	struct pv_guest *g;
	unsigned int domid, n;
	int refs[PVNIC_K];
} pvnic_linger[PVNIC_LINGER];

/* ---- grants ---- */

static void pvnic_linger_retry(const struct pv_accel_front_dev *dev, struct pv_guest *g)
{
	for (int i = 0; i < PVNIC_LINGER; i++) {
		struct pvnic_linger *l = &pvnic_linger[i];
		unsigned int k = 0;

		if (!l->n || l->dev != dev)
			continue;
		if (l->g != g || pv_guest_domid(g) != l->domid) {
			l->n = 0;	/* the domain went away, and its grants with it */
			continue;
		}
		for (unsigned int j = 0; j < l->n; j++) {
			grant_entry_v1_t *e = pv_guest_gnttab(g) + l->refs[j];

			/*
			 * Only a grant of our reserve: a guest at a reused address
			 * with a reused domid must not lose netfront's grants.
			 */
			if ((uint32_t)l->refs[j] >= pv_guest_nr_grants(g) ||
			    e->frame < PV_NF_ACCEL_FRAME(0) || e->frame >= PV_NF_ACCEL_FRAME(PVNIC_K))
				continue;
			if (pv_guest_end_grant(g, (grant_ref_t)l->refs[j]) == -EBUSY)
				l->refs[k++] = l->refs[j];
		}
		l->n = k;
	}
}

static void pvnic_end_grants(struct pvnic_dev *p)
{
	struct pvnic_linger *l = NULL;

	for (int i = 0; i < PVNIC_LINGER && !l; i++)
		if (!pvnic_linger[i].n)
			l = &pvnic_linger[i];
	for (int i = 0; i < PVNIC_K; i++) {
		if (p->refs[i] < 0)
			continue;
		if (pv_guest_end_grant(p->g, (grant_ref_t)p->refs[i]) == -EBUSY) {
			if (l) {
				l->refs[l->n++] = p->refs[i];
			} else {
				pv_warn("pvnic: grant %d still mapped, no room to retry: leaked",
					p->refs[i]);
			}
		}
		p->refs[i] = -1;
	}
	if (l && l->n) {
		l->dev = p->dev;
		l->g = p->g;
		l->domid = p->domid;
	}
}

/* ---- the host's other vifs (accel-local-macs) ---- */

static uint64_t pvnic_mac64(const uint8_t *m)
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 | (uint64_t)m[2] << 24 |
	       (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

/* Is @m the MAC of another vif on this host?  Binary search of the sorted list. */
static int pvnic_is_local(const struct pvnic_dev *p, const uint8_t *m)
{
	uint64_t v = pvnic_mac64(m);
	unsigned int lo = 0, hi = p->nlocal;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (p->local[mid] == v)
			return 1;
		if (p->local[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int pvnic_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "aa:bb:cc:dd:ee:ff", exactly, @n bytes at @s; 0 and the MAC in @v, or -EINVAL. */
static int pvnic_parse_mac(const char *s, size_t n, uint64_t *v)
{
	*v = 0;
	if (n != 17)
		return -EINVAL;
	for (unsigned int i = 0; i < 6; i++) {
		int hi = pvnic_hexval(s[3 * i]), lo = pvnic_hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		*v = *v << 8 | (uint64_t)(hi << 4 | lo);
	}
	return 0;
}

static int pvnic_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * pvnic_local_macs_set() - the value of accel-local-macs (@len bytes at
 * @val; NULL: the key is absent, an empty list): MACs separated by
 * whitespace.  Entries that are not a unicast, non-zero "aa:bb:cc:dd:ee:ff"
 * (and any beyond PVNIC_LOCAL_MAX) are ignored and counted.  Learned
 * destinations on the new list are forgotten: frames to them go slow.
 */
static void pvnic_local_macs_set(struct pvnic_dev *p, const char *val, size_t len)
{
	uint64_t macs[PVNIC_LOCAL_MAX] = { 0 };	/* zeroed for the analysers; lists change rarely */
	unsigned int n = 0, k = 0;
	size_t i = 0;

	while (val && i < len) {
		size_t start;
		uint64_t v;

		while (i < len && (val[i] == ' ' || val[i] == '\t' || val[i] == '\n'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && val[i] != ' ' && val[i] != '\t' && val[i] != '\n')
			i++;
		if (pvnic_parse_mac(val + start, i - start, &v) || !v || (v >> 40 & 1) ||
		    n == PVNIC_LOCAL_MAX) {
			p->local_bad++;
			continue;
		}
		macs[n++] = v;
	}
	if (n > 1)
		qsort(macs, n, sizeof(macs[0]), pvnic_u64_cmp);
	for (unsigned int j = 0; j < n; j++)	/* without repeats */
		if (!k || macs[j] != macs[k - 1])
			macs[k++] = macs[j];
	memcpy(p->local, macs, k * sizeof(macs[0]));
	p->nlocal = k;
	for (unsigned int h = 0; h < PVNIC_LEARN; h++)
		if (p->learn_ok[h] && pvnic_is_local(p, p->learn[h]))
			p->learn_ok[h] = 0;
}

/* ---- the learned destinations ---- */

static unsigned int pvnic_hash(const uint8_t *m)
{
	uint32_t h = ((uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]) ^
		     ((uint32_t)m[0] << 8 | m[1]);

	h *= 0x9e3779b1u;
	return h >> 24 & (PVNIC_LEARN - 1);
}

static void pvnic_learn(struct pvnic_dev *p, const uint8_t *src)
{
	unsigned int h = pvnic_hash(src);

	if (p->learn_ok[h] && !memcmp(p->learn[h], src, 6))
		return;		/* known: the common case */
	if ((src[0] & 1) || pvnic_is_local(p, src))
		return;		/* never a destination of ours; guest to guest goes slow */
	memcpy(p->learn[h], src, 6);
	p->learn_ok[h] = 1;
}

static int pvnic_learned(const struct pvnic_dev *p, const uint8_t *dst)
{
	unsigned int h = pvnic_hash(dst);

	return p->learn_ok[h] && !memcmp(p->learn[h], dst, 6);
}

/* ---- the buffer ids (chosen by the NIC) ---- */

static unsigned int pvnic_id_hash(uint32_t id)
{
	return (id * 0x9e3779b1u) >> (32 - PVNIC_IDX_BITS);
}

/*
 * pvnic_ids_index() - index the NIC's buffer @ids (2K, ours in order) for
 * pvnic_buf_lookup(): open addressing, linear probing, half empty.
 * Return: 0, or -EINVAL if an id repeats (two of our buffers would alias).
 */
static int pvnic_ids_index(struct pvnic_dev *p, const uint32_t *ids)
{
	memset(p->id_slot, 0, sizeof(p->id_slot));
	for (unsigned int j = 0; j < PVNIC_NBUF; j++) {
		unsigned int h = pvnic_id_hash(ids[j]);

		for (; p->id_slot[h]; h = (h + 1) & (PVNIC_IDX_SLOTS - 1))
			if (ids[p->id_slot[h] - 1] == ids[j])
				return -EINVAL;
		p->id_slot[h] = (uint16_t)(j + 1);
	}
	return 0;
}

/*
 * pvnic_buf_lookup() - which of our buffers has NIC id @id (from an event:
 * untrusted); -1 if none.  A probe run holds at most 2K entries and the
 * table has empty slots, so the loop ends on an empty slot or a match.
 */
static int pvnic_buf_lookup(const struct pvnic_dev *p, uint32_t id)
{
	unsigned int h = pvnic_id_hash(id);

	for (unsigned int n = 0; n <= PVNIC_NBUF; n++, h = (h + 1) & (PVNIC_IDX_SLOTS - 1)) {
		unsigned int s = p->id_slot[h];

		if (!s)
			return -1;
		if (p->id[s - 1] == id)
			return (int)s - 1;
	}
	return -1;
}

/* ---- the VI ---- */

static void pvnic_ring(struct pvnic_dev *p)
{
	if (p->up)
		vi_user_ring(&p->u);
	p->ring_pending = 0;
	p->kicked = 0;
}

static void pvnic_wake_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pvnic_dev *p = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (p->irq_on)
		pv_accel_front_kick(p->dev);	/* the interrupt: netfront polls us */
}

/* Hand back a held frame: the slow path sends it. */
static void pvnic_return_held(struct pvnic_dev *p)
{
	if (!p->has_held)
		return;
	p->has_held = 0;
	if (pv_accel_front_return(p->dev, p->held_has_vh ? &p->held_vh : NULL, p->held,
				  p->held_len))
		p->pend.tx_dropped++;	/* netfront counted it too: not lost silently */
}

static void pvnic_vi_down(struct pvnic_dev *p, const char *why)
{
	if (p->wake_w)
		pv_loop_del(p->loop, p->wake_w);
	p->wake_w = NULL;
	if (p->up) {
		vi_user_close(&p->u);
		pv_info("pvnic: vif %u: fast path off (%s)", p->devid, why);
	}
	p->up = 0;
	for (int i = 0; i < PVNIC_NR_FDS; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
		p->fds[i] = -1;
	}
	pvnic_return_held(p);
	p->ring_pending = p->kicked = 0;
}

/*
 * The offloads the NIC offers (the backend's accel-features): TSO needs
 * chains too; without them, software segmentation and checksums.
 */
static void pvnic_offloads(struct pvnic_dev *p, uint32_t features)
{
	p->features = features;
	p->off_csum = !!(features & PV_NIC_FEAT_TX_CSUM);
	p->off_tso = (features & (PV_NIC_FEAT_TSO | PV_NIC_FEAT_TX_CHAIN)) ==
		     (PV_NIC_FEAT_TSO | PV_NIC_FEAT_TX_CHAIN);
}

/*
 * pvnic_vi_up() - map the VI, post the RX buffers, watch the wake-up
 * @fds: taken (closed on failure)
 */
static int pvnic_vi_up(struct pvnic_dev *p, int fds[PVNIC_NR_FDS], const uint32_t *ids,
		       unsigned int mtu)
{
	const struct pv_nic_vi_info *in;
	int e;

	for (int i = 0; i < PVNIC_NR_FDS; i++)
		p->fds[i] = fds[i];
	e = pvnic_ids_index(p, ids);
	if (e)
		goto fail;
	e = vi_user_open(&p->u, fds[PVNIC_FD_VI_MEM], fds[PVNIC_FD_DOORBELL],
			 fds[PVNIC_FD_WAKE]);
	if (e)
		goto fail;
	in = &p->u.sh->info;
	if (in->txq_size != PV_NIC_TXQ_SIZE || in->rxq_size != PV_NIC_RXQ_SIZE ||
	    in->evq_size != PV_NIC_EVQ_SIZE || in->buf_size != PV_NIC_BUF_SIZE ||
	    vi_user_fault(&p->u) || vi_user_rx_space(&p->u) < PVNIC_NRX) {
		vi_user_close(&p->u);
		e = -EPROTO;
		goto fail;
	}
	memcpy(p->id, ids, sizeof(p->id));
	p->mtu = mtu;
	p->ntx_free = 0;
	p->txa_err = 0;
	pvnic_offloads(p, p->features);
	for (unsigned int j = 0; j < PVNIC_NBUF; j++) {
		if (j < PVNIC_NRX) {
			p->bst[j] = B_RX;
			vi_user_rx_post(&p->u, p->id[j], 0, PV_NIC_BUF_SIZE);
		} else {
			p->bst[j] = B_TXFREE;
			p->tx_free[p->ntx_free++] = (uint16_t)j;
		}
	}
	p->wake_w = pv_loop_add(p->loop, fds[PVNIC_FD_WAKE], EPOLLIN, pvnic_wake_cb, p);
	if (!p->wake_w) {
		vi_user_close(&p->u);
		e = -ENOMEM;
		goto fail;
	}
	p->up = 1;
	p->irq_on = 1;
	vi_user_arm(&p->u);
	pv_info("pvnic: vif %u: fast path on (VI %u, MTU %u, TX offloads:%s%s)", p->devid,
		p->u.sh->info.vi_id, mtu, p->off_csum ? " csum" : "", p->off_tso ? " tso" : "");
	return 0;
fail:
	for (int i = 0; i < PVNIC_NR_FDS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		p->fds[i] = -1;
	}
	return e;
}

/* ---- TX ---- */

/*
 * Descriptors posted and not yet consumed are buffers in flight, so never
 * more than those: a tx_cons saying otherwise (ahead of tx_prod, or too far
 * behind) is a NIC that lost its mind.  The ring then always has room:
 * NTX <= the ring's size.
 */
static int pvnic_tx_ring_sane(const struct pvnic_dev *p)
{
	uint32_t cons = __atomic_load_n(&p->u.sh->tx_cons.v, __ATOMIC_ACQUIRE);

	return p->u.tx_prod - cons <= PVNIC_NTX - p->ntx_free;
}

/*
 * Write one NIC frame (a chain of @n buffers) of the guest frame being
 * sent, unpublished: pvnic_tx_commit() publishes the guest frame's
 * descriptors at once (vi_user_tx_publish), pvnic_tx_abort() forgets them.
 */
static int pvnic_tx_stage(struct pvnic_dev *p, const struct nic_tx_frag *frag, unsigned int n,
			  uint32_t offload, uint16_t mss)
{
	return vi_user_tx_stage_frame(&p->u, &p->tx_staged, frag, n, offload, mss);
}

/* The next free TX buffer, in flight from now on; the caller counted them. */
static unsigned int pvnic_tx_take(struct pvnic_dev *p)
{
	unsigned int j = p->tx_free[--p->ntx_free];

	p->bst[j] = B_TX;
	p->tx_mark[j] = 0;
	return j;
}

/*
 * A frame's buffers are taken from the free stack (its entries stay in
 * place below ntx_free) and its descriptors staged past the published
 * tx_prod: undoing is putting ntx_free back and forgetting the staged ones.
 */
static void pvnic_tx_abort(struct pvnic_dev *p, unsigned int free0)
{
	for (unsigned int i = p->ntx_free; i < free0; i++)
		p->bst[p->tx_free[i]] = B_TXFREE;
	p->ntx_free = free0;
	p->tx_staged = 0;
}

/* Mark the frame's first and last buffers (for its events) and post it whole. */
static void pvnic_tx_commit(struct pvnic_dev *p, unsigned int free0, uint32_t len)
{
	unsigned int first = p->tx_free[free0 - 1], last = p->tx_free[p->ntx_free];

	p->tx_mark[first] |= PVNIC_TXB_FIRST;
	p->tx_mark[last] |= PVNIC_TXB_LAST;
	p->tx_flen[last] = len;
	vi_user_tx_publish(&p->u, p->tx_staged);
	p->tx_staged = 0;
	p->ring_pending = 1;
}

static uint32_t pvnic_gather(uint8_t *dst, const struct iovec *iov, int iovcnt, uint32_t off,
			     uint32_t len)
{
	uint32_t got = 0;

	for (int i = 0; i < iovcnt && got < len; i++) {
		uint32_t n = (uint32_t)iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len - got)
			n = len - got;
		memcpy(dst + got, (const uint8_t *)iov[i].iov_base + off, n);
		got += n;
		off = 0;
	}
	return got;
}

/* A cursor over the frame's iovec: consecutive copies without rescanning. */
struct pvnic_iter {
	const struct iovec *iov;
	int iovcnt, i;
	size_t off;
};

static uint32_t pvnic_iter_copy(struct pvnic_iter *it, uint8_t *dst, uint32_t len)
{
	uint32_t got = 0;

	while (got < len && it->i < it->iovcnt) {
		size_t n = it->iov[it->i].iov_len - it->off;

		if (n > len - got)
			n = len - got;
		if (n)
			memcpy(dst + got, (const uint8_t *)it->iov[it->i].iov_base + it->off, n);
		got += (uint32_t)n;
		it->off += n;
		if (it->off == it->iov[it->i].iov_len) {
			it->i++;
			it->off = 0;
		}
	}
	return got;
}

/* TSO: the frame as it is, 2 KiB a buffer, one chain; the NIC segments it. */
static int pvnic_tx_tso(struct pvnic_dev *p, const struct iovec *iov, int iovcnt, uint32_t len,
			uint16_t mss)
{
	struct pvnic_iter it = { .iov = iov, .iovcnt = iovcnt };
	struct nic_tx_frag frag[PV_NIC_TX_MAX_FRAGS];
	unsigned int nf = 0;

	for (uint32_t off = 0; off < len; off += PV_NIC_BUF_SIZE) {
		uint32_t n = len - off < PV_NIC_BUF_SIZE ? len - off : PV_NIC_BUF_SIZE;
		unsigned int j;

		if (nf == PV_NIC_TX_MAX_FRAGS)
			return -EMSGSIZE;	/* cannot happen: planned */
		j = pvnic_tx_take(p);
		if (pvnic_iter_copy(&it, p->buf[j], n) != n)
			return -EMSGSIZE;	/* the iovec is shorter than len */
		frag[nf++] = (struct nic_tx_frag){ .buf_id = p->id[j], .len = (uint16_t)n };
	}
	return pvnic_tx_stage(p, frag, nf, PV_NIC_TX_F_TSO, mss);
}

/* A frame in one buffer: as it is, its checksum completed here or by the NIC. */
static int pvnic_tx_one(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			const struct iovec *iov, int iovcnt, uint32_t len, int mode)
{
	unsigned int j = pvnic_tx_take(p);

	if (pvnic_gather(p->buf[j], iov, iovcnt, 0, len) != len)
		return -EMSGSIZE;
	if (mode == PVNIC_TXM_SWCSUM &&
	    pv_pkt_csum_complete(p->buf[j], len, vh->csum_start, vh->csum_offset))
		return -EMSGSIZE;
	return pvnic_tx_stage(p, &(struct nic_tx_frag){ .buf_id = p->id[j], .len = (uint16_t)len },
			      1, mode == PVNIC_TXM_CSUM ? PV_NIC_TX_F_CSUM : 0, 0);
}

/* nic_txrule_swgso()'s buffers: the next free TX buffer. */
static int pvnic_swgso_take(void *arg, uint32_t at, uint8_t **buf, uint32_t *buf_id)
{
	struct pvnic_dev *p = arg;
	unsigned int j;

	if (!p->ntx_free)
		return -ENOSPC;		/* cannot happen: planned */
	j = pvnic_tx_take(p);
	*buf = p->buf[j];
	*buf_id = p->id[j];
	return 0;
}

/* The virtio GSO type as pkt.h's, or -1. */
static int pvnic_gso_type(const struct virtio_net_hdr *vh)
{
	switch (vh->gso_type) {
	case VIRTIO_NET_HDR_GSO_TCPV4: return PV_PKT_GSO_TCPV4;
	case VIRTIO_NET_HDR_GSO_TCPV6: return PV_PKT_GSO_TCPV6;
	default: return -1;
	}
}

/* Software GSO: cut at the port's MTU, checksums computed, a buffer per segment (txrule.c). */
static int pvnic_tx_swgso(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			  const struct iovec *iov, int iovcnt, uint32_t len, uint16_t mss)
{
	const uint8_t *frame = iov[0].iov_base;
	int n;

	if (iovcnt != 1 || iov[0].iov_len < len) {
		if (pvnic_gather(p->lin, iov, iovcnt, 0, len) != len)
			return -EMSGSIZE;
		frame = p->lin;
	}
	n = nic_txrule_swgso(&p->u, &p->tx_staged, frame, len, mss, pvnic_gso_type(vh), p->mtu,
			     pvnic_swgso_take, p);
	return n < 0 ? n : 0;
}

/*
 * pvnic_tx_send() - post a planned frame whole, or nothing (then -errno:
 * not expected once planned, unless the iovec is shorter than @len).  The
 * caller checked that there are @pl->nbuf free TX buffers.
 */
static int pvnic_tx_send(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			 const struct iovec *iov, int iovcnt, uint32_t len,
			 const struct pvnic_plan *pl)
{
	unsigned int free0 = p->ntx_free;
	int e;

	p->tx_staged = 0;

	switch (pl->mode) {
	case PVNIC_TXM_TSO:
		e = pvnic_tx_tso(p, iov, iovcnt, len, pl->mss);
		break;
	case PVNIC_TXM_SWGSO:
		e = pvnic_tx_swgso(p, vh, iov, iovcnt, len, pl->mss);
		break;
	default:
		e = pvnic_tx_one(p, vh, iov, iovcnt, len, pl->mode);
		break;
	}
	if (!e && p->ntx_free == free0)
		e = -EINVAL;		/* nothing to post: cannot happen */
	if (e) {
		pvnic_tx_abort(p, free0);
		return e;
	}
	pvnic_tx_commit(p, free0, len);
	if (!p->kicked) {
		p->kicked = 1;
		pv_accel_front_kick(p->dev);	/* the doorbell: once, from poll */
	}
	return 0;
}

/* The longest frame without TSO (the NIC's rule: MTU + 14, one tag 4 more), in one buffer. */
static uint32_t pvnic_plain_max(const struct pvnic_dev *p, const uint8_t *hdr, uint32_t avail)
{
	uint32_t max = nic_txrule_max_len(p->mtu, hdr, avail);

	return max < PV_NIC_BUF_SIZE ? max : PV_NIC_BUF_SIZE;
}

/*
 * May the NIC complete this frame's partial checksum?  Its CSUM rule
 * (src/nic/txrule.c: TCP or UDP over IPv4 or IPv6, not a fragment, nothing
 * after the IP datagram), and the checksum the kernel asked for is the
 * one the NIC fills in.
 */
static int pvnic_csum_offload_ok(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
				 const uint8_t *hdr, uint32_t avail, uint32_t len)
{
	struct pv_pkt_info pi;

	return p->off_csum &&
	       nic_txrule_offload(hdr, avail, len, p->mtu, PV_NIC_TX_F_CSUM, 0, &pi) ==
		       PV_NIC_ERR_NONE &&
	       nic_txrule_csum_at(&pi, vh->csum_start, vh->csum_offset);
}

/*
 * pvnic_plan_gso() - a TCP GSO frame: TSO when the NIC has it and takes
 * this frame, else software segmentation; 1: NOT_SENT.  Planned from the
 * header copy: headers longer than it (PV_PKT_GSO_HDR_MAX) go slow.
 */
static int pvnic_plan_gso(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			  const uint8_t *hdr, uint32_t avail, uint32_t len, struct pvnic_plan *pl)
{
	int type = pvnic_gso_type(vh);
	struct pv_pkt_info pi, tso;
	uint32_t hlen, pay, mss, mss_max;

	if (type < 0 || !vh->gso_size || !pv_pkt_is_tcp_gso_ok_hdr(hdr, avail, len, type) ||
	    pv_pkt_parse_hdr(hdr, avail, len, &pi))
		return 1;
	hlen = pi.l4_off + pi.l4_hdr_len;
	mss_max = nic_txrule_tso_mss_max(&pi, p->mtu, hdr, avail);	/* segments the port takes */
	if (!mss_max || pi.l3_end < hlen || hlen >= PV_NIC_BUF_SIZE)
		return 1;
	pay = pi.l3_end - hlen;
	mss = vh->gso_size < mss_max ? vh->gso_size : mss_max;
	if (p->off_tso && pay &&
	    nic_txrule_offload(hdr, avail, len, p->mtu, PV_NIC_TX_F_TSO, (uint16_t)mss, &tso) ==
		    PV_NIC_ERR_NONE) {
		pl->mode = PVNIC_TXM_TSO;	/* the NIC's rule, with the mss clamped to it */
		pl->mss = (uint16_t)mss;
		pl->nbuf = (len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE;
		return pl->nbuf > PV_NIC_TX_MAX_FRAGS;	/* cannot happen: len <= 64 KiB */
	}
	if (mss > PV_NIC_BUF_SIZE - hlen)
		mss = PV_NIC_BUF_SIZE - hlen;
	pl->mode = PVNIC_TXM_SWGSO;
	pl->mss = (uint16_t)mss;
	pl->nbuf = pay ? (pay + mss - 1) / mss : 1;
	return pl->nbuf > PVNIC_NTX;
}

/*
 * pvnic_tx_plan() - every NOT_SENT test past the Ethernet ones: 0 and how
 * the frame goes (@pl), or 1.
 * @hdr: the frame's first @avail bytes (a private copy: avail = min(len, 256))
 */
static int pvnic_tx_plan(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			 const uint8_t *hdr, uint32_t avail, uint32_t len, struct pvnic_plan *pl)
{
	*pl = (struct pvnic_plan){ .mode = PVNIC_TXM_PLAIN, .nbuf = 1 };
	if (vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return pvnic_plan_gso(p, vh, hdr, avail, len, pl);
	if (len > pvnic_plain_max(p, hdr, avail))
		return 1;
	if (!vh || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if ((uint32_t)vh->csum_start + vh->csum_offset + 2 > len)
		return 1;
	pl->mode = pvnic_csum_offload_ok(p, vh, hdr, avail, len) ? PVNIC_TXM_CSUM : PVNIC_TXM_SWCSUM;
	return 0;
}

/* BUSY: keep a copy of the frame (and its plan) until TX_DONE events free buffers. */
static enum pv_accel_xmit pvnic_tx_hold(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
					const struct iovec *iov, int iovcnt, uint32_t len,
					const struct pvnic_plan *pl)
{
	if (p->has_held) {	/* netfront stops TX while one is held */
		p->pend.tx_dropped++;
		return PV_ACCEL_BUSY;
	}
	if (pvnic_gather(p->held, iov, iovcnt, 0, len) != len)
		return PV_ACCEL_NOT_SENT;	/* an iovec shorter than len: not a frame */
	p->held_len = len;
	p->held_pl = *pl;
	p->held_has_vh = vh != NULL;
	if (vh)
		p->held_vh = *vh;
	p->has_held = 1;
	if (p->ring_pending && !p->kicked) {
		p->kicked = 1;
		pv_accel_front_kick(p->dev);
	}
	return PV_ACCEL_BUSY;
}

static enum pv_accel_xmit pvnic_start_xmit(struct pv_accel_front_dev *dev,
					   const struct virtio_net_hdr *vh,
					   const struct iovec *iov, int iovcnt, uint32_t len)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);
	uint8_t hdr[PV_PKT_GSO_HDR_MAX];
	uint32_t avail = len < sizeof(hdr) ? len : (uint32_t)sizeof(hdr);
	struct pvnic_plan pl;

	/* ---- every NOT_SENT test ---- */
	if (!p || !p->up || len < PV_PKT_ETH_HLEN || len > PVNIC_FRAME_MAX ||
	    pvnic_gather(hdr, iov, iovcnt, 0, avail) != avail)
		return PV_ACCEL_NOT_SENT;
	if ((hdr[0] & 1) || memcmp(hdr + 6, p->mac, 6) || !pvnic_learned(p, hdr))
		return PV_ACCEL_NOT_SENT;
	if (pvnic_tx_plan(p, vh, hdr, avail, len, &pl))
		return PV_ACCEL_NOT_SENT;
	if (vi_user_fault(&p->u) || !pvnic_tx_ring_sane(p))
		return PV_ACCEL_NOT_SENT;	/* the NIC disabled the VI, or lost its mind */

	/* ---- BUSY: held until TX_DONE frees enough buffers ---- */
	if (p->has_held || p->ntx_free < pl.nbuf)
		return pvnic_tx_hold(p, vh, iov, iovcnt, len, &pl);
	if (pvnic_tx_send(p, vh, iov, iovcnt, len, &pl))
		return PV_ACCEL_NOT_SENT;	/* nothing posted */
	return PV_ACCEL_SENT;
}

/* A held frame goes once there are buffers for all of it (planned when held). */
static void pvnic_tx_held(struct pvnic_dev *p)
{
	struct iovec iov = { .iov_base = p->held, .iov_len = p->held_len };

	if (!p->has_held || p->ntx_free < p->held_pl.nbuf)
		return;
	p->has_held = 0;
	if (pvnic_tx_send(p, p->held_has_vh ? &p->held_vh : NULL, &iov, 1, p->held_len,
			  &p->held_pl))
		p->pend.tx_dropped++;	/* cannot happen: it was planned */
}

/* ---- poll ---- */

/*
 * An event naming a buffer that is not ours, or not in the state the event
 * needs: a NIC bug or a lie.  Nothing changes; counted, and logged at a
 * limited rate.
 */
static void pvnic_bogus(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	p->bogus_events++;
	pv_log_rl(&p->rl, PV_LOG_WARN,
		  "pvnic: vif %u: event type %u queue %u for buffer id %u: not ours or not in "
		  "flight; ignored", p->devid, ev->type, ev->queue, ev->buf_id);
}

static void pvnic_rx_repost(struct pvnic_dev *p, unsigned int j)
{
	p->bst[j] = B_RX;
	vi_user_rx_post(&p->u, p->id[j], 0, PV_NIC_BUF_SIZE);
}

static int pvnic_rx(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	struct virtio_net_hdr vh = { .flags = 0 };
	struct iovec iov;
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_RX) {
		pvnic_bogus(p, ev);
		return 0;
	}
	p->bst[j] = B_IDLE;
	if (ev->len < PV_PKT_ETH_HLEN || ev->len > PV_NIC_BUF_SIZE) {
		p->pend.rx_errors++;
		pvnic_rx_repost(p, (unsigned int)j);
		return 1;
	}
	pvnic_learn(p, p->buf[j] + 6);
	iov.iov_base = p->buf[j];
	iov.iov_len = ev->len;
	/* Always a header: the TAP upper edge writes it in front of the frame. */
	if (ev->flags & PV_NIC_RX_F_CSUM_OK)
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	if (pv_accel_front_deliver(p->dev, &vh, &iov, 1, ev->len) == 0) {
		p->pend.rx_packets++;
		p->pend.rx_bytes += ev->len;
	} else {
		p->pend.rx_dropped++;
	}
	if (p->up)
		pvnic_rx_repost(p, (unsigned int)j);
	return 1;
}

/* An RX descriptor refused: the buffer goes back on the ring. */
static void pvnic_rx_error(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_RX) {
		pvnic_bogus(p, ev);
		return;
	}
	p->nic_errors[ev->code < PV_NIC_ERR_MAX ? ev->code : PV_NIC_ERR_NONE]++;
	p->pend.rx_errors++;
	pvnic_rx_repost(p, (unsigned int)j);
}

/*
 * pvnic_tx_event() - TX_DONE or ERROR for one TX descriptor: its buffer is
 * free again.  The NIC reports every descriptor of a frame, in ring order
 * (nic.h), so the guest frame (a chain, or the segments of a software GSO
 * frame) is counted once, at its last buffer's event: sent if none of its
 * events was an ERROR, else one tx_error.  ERROR codes are counted per
 * event (nic_errors[code]).  A NIC reporting out of ring order could skew
 * these counts, never the buffers.
 */
static void pvnic_tx_event(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_TX) {
		pvnic_bogus(p, ev);
		return;
	}
	p->bst[j] = B_TXFREE;
	p->tx_free[p->ntx_free++] = (uint16_t)j;	/* each in-flight buffer once: fits */
	if (p->tx_mark[j] & PVNIC_TXB_FIRST)
		p->txa_err = 0;
	if (ev->type == PV_NIC_EV_ERROR) {
		p->txa_err = 1;
		p->nic_errors[ev->code < PV_NIC_ERR_MAX ? ev->code : PV_NIC_ERR_NONE]++;
	}
	if (p->tx_mark[j] & PVNIC_TXB_LAST) {
		if (p->txa_err) {
			p->pend.tx_errors++;
		} else {
			p->pend.tx_packets++;
			p->pend.tx_bytes += p->tx_flen[j];
		}
		p->txa_err = 0;
	}
}

static int pvnic_poll(struct pv_accel_front_dev *dev, int budget)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);
	struct pv_nic_event ev;
	unsigned int events = 0;
	int n = 0;

	if (!p || !p->up)
		return 0;
	if (vi_user_fault(&p->u)) {
		pv_warn("pvnic: vif %u: the NIC disabled the VI (fault %u)", p->devid,
			vi_user_fault(&p->u));
		pvnic_vi_down(p, "VI fault");
		pv_accel_front_set_state(dev, XenbusStateClosing);
		return 0;
	}
	while (n < budget && p->up && vi_user_event(&p->u, &ev)) {
		events++;
		if (ev.type == PV_NIC_EV_RX)
			n += pvnic_rx(p, &ev);
		else if (ev.type == PV_NIC_EV_TX_DONE || (ev.type == PV_NIC_EV_ERROR && ev.queue == 0))
			pvnic_tx_event(p, &ev);
		else if (ev.type == PV_NIC_EV_ERROR && ev.queue == 1)
			pvnic_rx_error(p, &ev);
		else
			pvnic_bogus(p, &ev);
	}
	if (!p->up)
		return n;
	pvnic_tx_held(p);
	/* One doorbell for the burst; also when the NIC may have stalled on our events. */
	if (p->ring_pending ||
	    (events && __atomic_load_n(&p->u.sh->tx_cons.v, __ATOMIC_ACQUIRE) != p->u.tx_prod))
		pvnic_ring(p);
	return n;
}

static int pvnic_start_irq(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p || !p->up)
		return 0;
	if (p->ring_pending)
		pvnic_ring(p);
	p->irq_on = 1;
	return vi_user_arm(&p->u);
}

static void pvnic_stop_irq(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return;
	p->irq_on = 0;
	if (p->up)
		__atomic_store_n(&p->u.sh->evq_cons.v2, 0, __ATOMIC_RELEASE);
}

static int pvnic_check_ready(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	return !p || !p->has_held;
}

static void pvnic_get_stats(struct pv_accel_front_dev *dev, struct pv_accel_stats *delta)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return;
	delta->tx_packets += p->pend.tx_packets;
	delta->tx_bytes += p->pend.tx_bytes;
	delta->tx_dropped += p->pend.tx_dropped;
	delta->tx_errors += p->pend.tx_errors;
	delta->rx_packets += p->pend.rx_packets;
	delta->rx_bytes += p->pend.rx_bytes;
	delta->rx_dropped += p->pend.rx_dropped;
	delta->rx_errors += p->pend.rx_errors;
	memset(&p->pend, 0, sizeof(p->pend));
}

/* ---- handshake ---- */

static int pvnic_key(char *buf, const char *dir, const char *key)
{
	return (size_t)snprintf(buf, PVNIC_KEY_MAX, "%s/%s", dir, key) >= PVNIC_KEY_MAX ?
		       -ENAMETOOLONG : 0;
}

static int pvnic_read_uint(struct pvnic_dev *p, const char *key, unsigned int *v)
{
	char path[PVNIC_KEY_MAX], val[32], *end;
	unsigned long x;
	int e = pvnic_key(path, pv_accel_front_backend(p->dev), key);

	if (e || (e = xsc_read(p->xs, 0, path, val, sizeof(val) - 1)) < 0)
		return e ? e : -ENOENT;
	val[e] = '\0';
	errno = 0;
	x = strtoul(val, &end, 10);
	if (errno || end == val || *end || x > 0xffffffffu)
		return -EINVAL;
	*v = (unsigned int)x;
	return 0;
}

/* "I0 ... I(2K-1)": exactly 2K decimal ids. */
static int pvnic_read_ids(struct pvnic_dev *p, uint32_t *ids)
{
	char path[PVNIC_KEY_MAX], val[PVNIC_NBUF * 11 + 2], *s = val, *end;
	unsigned int n = 0;
	int e = pvnic_key(path, pv_accel_front_backend(p->dev), PVNIC_KEY_BUF_IDS);

	if (e || (e = xsc_read(p->xs, 0, path, val, sizeof(val) - 1)) < 0)
		return e ? e : -ENOENT;
	val[e] = '\0';
	for (;;) {
		unsigned long x;

		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (*s < '0' || *s > '9' || n == PVNIC_NBUF)
			return -EINVAL;
		errno = 0;
		x = strtoul(s, &end, 10);
		if (errno || x > 0xffffffffu || (*end && *end != ' '))
			return -EINVAL;
		ids[n++] = (uint32_t)x;
		s = end;
	}
	if (n != PVNIC_NBUF)
		return -EINVAL;
	return pvnic_ids_index(p, ids);	/* distinct, or buffers would alias */
}

static void pvnic_check(struct pvnic_dev *p);

static void pvnic_service(struct pvnic_dev *p);

static void pvnic_timer_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pvnic_dev *p = arg;

	pv_loop_timer_del(p->loop, p->timer_w);
	p->timer_w = NULL;
	pvnic_service(p);
}

static void pvnic_schedule(struct pvnic_dev *p, unsigned int ms)
{
	if (!p->timer_w)
		p->timer_w = pv_loop_timer(p->loop, ms, 0, pvnic_timer_cb, p);
}

static void pvnic_fail(struct pvnic_dev *p, const char *what, int e)
{
	pv_warn("pvnic: vif %u: %s: %s; staying on the slow path", p->devid, what,
		strerror(e < 0 ? -e : e));
	p->failed = 1;
	pv_accel_front_set_state(p->dev, XenbusStateClosed);
}

/*
 * Read accel-local-macs again.  A read failing otherwise than "absent"
 * keeps the list we have: a hiccup must not let guest-to-guest traffic
 * onto the fast path.
 */
static void pvnic_read_local_macs(struct pvnic_dev *p)
{
	char path[PVNIC_KEY_MAX], val[XENSTORE_PAYLOAD_MAX + 1];
	int n;

	if (pvnic_key(path, pv_accel_front_backend(p->dev), PVNIC_KEY_LOCAL_MACS))
		return;
	n = xsc_read(p->xs, 0, path, val, sizeof(val));
	if (n == -ENOENT)
		pvnic_local_macs_set(p, NULL, 0);
	else if (n >= 0)
		pvnic_local_macs_set(p, val, (size_t)n < sizeof(val) - 1 ? (size_t)n : sizeof(val) - 1);
}

/*
 * Level-triggered: make the data path what the backend's accelstate says,
 * and the local MACs what accel-local-macs says.
 */
static void pvnic_check(struct pvnic_dev *p)
{
	uint32_t ids[PVNIC_NBUF];
	int fds[PVNIC_NR_FDS] = { -1, -1, -1 };
	unsigned int st = 0, mtu, feat;
	int e;

	pvnic_read_local_macs(p);
	if (pvnic_read_uint(p, PV_ACCEL_KEY_STATE, &st))
		st = 0;
	if (p->up && st != XenbusStateConnected) {
		pvnic_vi_down(p, "backend left");
		pv_accel_front_set_state(p->dev, XenbusStateClosing);
		pv_accel_front_kick(p->dev);
		return;
	}
	if (p->up || p->failed || st != XenbusStateConnected)
		return;
	e = pvnic_read_ids(p, ids);
	if (e)
		return pvnic_fail(p, "bad " PVNIC_KEY_BUF_IDS, e);
	if (pvnic_read_uint(p, PVNIC_KEY_MTU, &mtu) || mtu < 68 ||
	    mtu > PV_NIC_BUF_SIZE - PV_PKT_ETH_HLEN - PV_PKT_VLAN_HLEN)
		mtu = pv_accel_front_mtu(p->dev);
	if (!mtu || mtu > PV_NIC_BUF_SIZE - PV_PKT_ETH_HLEN - PV_PKT_VLAN_HLEN)
		mtu = 1500;
	if (pvnic_read_uint(p, PVNIC_KEY_FEATURES, &feat))
		feat = 0;	/* a backend or NIC without offloads: all in software */
	p->features = feat;
	e = pvnic_guest_accel_fds(p->g, p->devid, fds);
	if (e == -EAGAIN && ++p->retries < PVNIC_RETRIES) {
		pvnic_schedule(p, PVNIC_RETRY_MS);
		return;
	}
	if (e)
		return pvnic_fail(p, "no VI descriptors from pvnetd", e);
	e = pvnic_vi_up(p, fds, ids, mtu);
	if (e)
		return pvnic_fail(p, "VI memory refused", e);
	pv_accel_front_set_state(p->dev, XenbusStateConnected);
	pv_accel_front_kick(p->dev);
}

/*
 * Drain the watch events (those read during our own requests were queued
 * and will not make the fd readable again) and check; again while more came.
 */
static void pvnic_service(struct pvnic_dev *p)
{
	char path[PVNIC_KEY_MAX], token[16];

	if (!p->xs_w)
		return;
	for (int round = 0; round < 4; round++) {
		int e, any = 0;

		while ((e = xsc_read_watch(p->xs, path, sizeof(path), token, sizeof(token), 0)) == 1)
			any = 1;
		if (e < 0) {
			pv_warn("pvnic: vif %u: xenstore connection lost: %s", p->devid,
				strerror(-e));
			pv_loop_del(p->loop, p->xs_w);
			p->xs_w = NULL;
			pvnic_vi_down(p, "xenstore lost");
			return;
		}
		if (round && !any)
			break;
		pvnic_check(p);
	}
}

static void pvnic_xs_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	pvnic_service(arg);
}

/* ---- attach / detach ---- */

static struct pvnic_dev *pvnic_alloc(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->dev = dev;
	p->loop = pv_accel_front_loop(dev);
	p->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	p->mac = pv_accel_front_mac(dev);
	for (int i = 0; i < PVNIC_K; i++)
		p->refs[i] = -1;
	for (int i = 0; i < PVNIC_NR_FDS; i++)
		p->fds[i] = -1;
	p->lin = malloc(PVNIC_FRAME_MAX + 1);
	p->held = malloc(PVNIC_FRAME_MAX + 1);
	if (!p->lin || !p->held) {
		free(p->lin);
		free(p->held);
		free(p);
		return NULL;
	}
	return p;
}

static void pvnic_free(struct pvnic_dev *p)
{
	char path[PVNIC_KEY_MAX];

	pvnic_vi_down(p, "removed");
	if (p->timer_w)
		pv_loop_timer_del(p->loop, p->timer_w);
	if (p->xs_w)
		pv_loop_del(p->loop, p->xs_w);
	if (p->xs) {
		if (!pvnic_key(path, pv_accel_front_backend(p->dev), PV_ACCEL_KEY_STATE))
			xsc_unwatch(p->xs, path, "pvnic");
		if (!pvnic_key(path, pv_accel_front_backend(p->dev), PVNIC_KEY_LOCAL_MACS))
			xsc_unwatch(p->xs, path, "pvnic");
		if (!pvnic_key(path, pv_accel_front_path(p->dev), PVNIC_KEY_BUF_REFS))
			xsc_rm(p->xs, 0, path);
		xsc_close(p->xs);
	}
	if (p->g) {
		pvnic_linger_retry(p->dev, p->g);
		pvnic_end_grants(p);
	}
	free(p->lin);
	free(p->held);
	free(p);
}

static int pvnic_new_device(struct pv_accel_front_dev *dev, void *arg)
{
	char path[PVNIC_KEY_MAX], refs[PVNIC_K * 11 + 1];
	const char *fe = pv_accel_front_path(dev), *slash = strrchr(fe, '/');
	struct pvnic_dev *p;
	size_t off = 0;
	int e, fd;

	if (!slash || !pv_accel_front_guest(dev) ||
	    pv_guest_nr_pages(pv_accel_front_guest(dev)) < PV_NF_ACCEL_FRAME(PVNIC_K))
		return -ENODEV;
	p = pvnic_alloc(dev);
	if (!p)
		return -ENOMEM;
	p->g = pv_accel_front_guest(dev);
	p->domid = pv_guest_domid(p->g);
	p->devid = (unsigned int)strtoul(slash + 1, NULL, 10);
	pvnic_linger_retry(dev, p->g);
	for (int i = 0; i < PVNIC_K; i++) {
		uint8_t *page = pv_guest_frame(p->g, PV_NF_ACCEL_FRAME(i));

		e = pv_guest_grant(p->g, 0, PV_NF_ACCEL_FRAME(i), 0);
		if (e < 0 || !page)
			goto fail;
		p->refs[i] = e;
		p->buf[2 * i] = page;
		p->buf[2 * i + 1] = page + PV_NIC_BUF_SIZE;
		off += (size_t)snprintf(refs + off, sizeof(refs) - off, "%s%d", i ? " " : "", e);
	}
	e = -ENOMEM;
	fd = pv_guest_xs_connect(p->g);
	if (fd < 0) {
		e = fd;
		goto fail;
	}
	p->xs = xsc_open_fd(fd);
	if (!p->xs)
		goto fail;
	p->xs_w = pv_loop_add(p->loop, xsc_fd(p->xs), EPOLLIN, pvnic_xs_cb, p);
	if (!p->xs_w)
		goto fail;
	if ((e = pvnic_key(path, fe, PVNIC_KEY_BUF_REFS)) ||
	    (e = xsc_write(p->xs, 0, path, refs, strlen(refs))) < 0 ||
	    (e = pvnic_key(path, pv_accel_front_backend(dev), PV_ACCEL_KEY_STATE)) ||
	    (e = xsc_watch(p->xs, path, "pvnic")) < 0 ||
	    (e = pvnic_key(path, pv_accel_front_backend(dev), PVNIC_KEY_LOCAL_MACS)) ||
	    (e = xsc_watch(p->xs, path, "pvnic")) < 0)
		goto fail;
	pv_accel_front_set_priv(dev, p);
	e = pv_accel_front_set_state(dev, XenbusStateInitialised);
	if (e < 0) {
		pv_accel_front_set_priv(dev, NULL);
		goto fail;
	}
	pvnic_schedule(p, 0);	/* the watch's first event may be queued already */
	return 0;
fail:
	pvnic_free(p);
	return e < 0 ? e : -EIO;
}

static void pvnic_remove(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return;
	pvnic_free(p);		/* a held frame goes back first (pvnic_vi_down) */
	pv_accel_front_set_priv(dev, NULL);
}

static const struct pv_accel_front_ops pvnic_front_ops = {
	.version = PV_ACCEL_FRONT_VERSION,
	.size = sizeof(struct pv_accel_front_ops),
	.name = PVNIC_NAME,
	.new_device = pvnic_new_device,
	.remove = pvnic_remove,
	.start_xmit = pvnic_start_xmit,
	.poll = pvnic_poll,
	.start_irq = pvnic_start_irq,
	.stop_irq = pvnic_stop_irq,
	.check_ready = pvnic_check_ready,
	.get_stats = pvnic_get_stats,
};

/* Prototypes for pvnet-front.c and the unit test (pvnic.h is the backend's). */
int pvnic_front_register(void);
int pvnic_front_unregister(void);
const struct pv_accel_front_ops *pvnic_front_ops_get(void);
int pvnic_front_test_attach(struct pv_accel_front_dev *dev, uint8_t *pages,
			    const uint32_t *ids, unsigned int mtu, int fds[3]);
uint64_t pvnic_front_test_nic_errors(struct pv_accel_front_dev *dev, unsigned int code);
void pvnic_front_test_set_features(struct pv_accel_front_dev *dev, uint32_t features);
uint64_t pvnic_front_test_bogus(struct pv_accel_front_dev *dev);
unsigned int pvnic_front_test_tx_free(struct pv_accel_front_dev *dev);
unsigned int pvnic_front_test_local_macs(struct pv_accel_front_dev *dev, const char *val,
					 uint64_t *bad);

int pvnic_front_register(void)
{
	return pv_accel_front_register(&pvnic_front_ops, NULL);
}

int pvnic_front_unregister(void)
{
	return pv_accel_front_unregister(PVNIC_NAME);
}

const struct pv_accel_front_ops *pvnic_front_ops_get(void)
{
	return &pvnic_front_ops;
}

/*
 * pvnic_front_test_attach() - for unit tests: attach to @dev without
 * grants or xenstore, over @pages (K pages of buffer memory), buffer @ids
 * (2K), and a VI's @fds (taken).
 */
int pvnic_front_test_attach(struct pv_accel_front_dev *dev, uint8_t *pages,
			    const uint32_t *ids, unsigned int mtu, int fds[3])
{
	struct pvnic_dev *p = pvnic_alloc(dev);
	int e;

	if (!p)
		return -ENOMEM;
	for (int i = 0; i < PVNIC_NBUF; i++)
		p->buf[i] = pages + (size_t)i * PV_NIC_BUF_SIZE;
	e = pvnic_vi_up(p, fds, ids, mtu);
	if (e) {
		pvnic_free(p);
		return e;
	}
	pv_accel_front_set_priv(dev, p);
	return 0;
}

uint64_t pvnic_front_test_nic_errors(struct pv_accel_front_dev *dev, unsigned int code)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	return p && code < PV_NIC_ERR_MAX ? p->nic_errors[code] : 0;
}

/* As if the backend had published accel-features = @features before Connected. */
void pvnic_front_test_set_features(struct pv_accel_front_dev *dev, uint32_t features)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (p)
		pvnic_offloads(p, features);
}

uint64_t pvnic_front_test_bogus(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	return p ? p->bogus_events : 0;
}

unsigned int pvnic_front_test_tx_free(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	return p ? p->ntx_free : 0;
}

/*
 * As if accel-local-macs had been read with value @val (NULL: absent).
 * Return: the MACs now on the list; *@bad: malformed entries so far.
 */
unsigned int pvnic_front_test_local_macs(struct pv_accel_front_dev *dev, const char *val,
					 uint64_t *bad)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return 0;
	pvnic_local_macs_set(p, val, val ? strlen(val) : 0);
	*bad = p->local_bad;
	return p->nlocal;
}

/*
 * pvnic_front_test_tx_decide() - for unit tests (test_txrule.c): how the
 * planner sends a frame (@vh may be NULL) on a NIC of @mtu and @features:
 * the flags of the frame as posted (0, PV_NIC_TX_F_CSUM, PV_NIC_TX_F_TSO
 * with @mss), or -1 (checksum or segments made here, or NOT_SENT).
 */
int pvnic_front_test_tx_decide(uint32_t mtu, uint32_t features, const struct virtio_net_hdr *vh,
			       const uint8_t *frame, uint32_t len, uint16_t *mss);

int pvnic_front_test_tx_decide(uint32_t mtu, uint32_t features, const struct virtio_net_hdr *vh,
			       const uint8_t *frame, uint32_t len, uint16_t *mss)
{
	struct pvnic_dev *p = calloc(1, sizeof(*p));
	uint32_t avail = len < PV_PKT_GSO_HDR_MAX ? len : PV_PKT_GSO_HDR_MAX;
	struct pvnic_plan pl;
	int rc = -1;

	*mss = 0;
	if (!p)
		return -1;
	p->mtu = mtu;
	pvnic_offloads(p, features);
	if (len >= PV_PKT_ETH_HLEN && !pvnic_tx_plan(p, vh, frame, avail, len, &pl)) {
		switch (pl.mode) {
		case PVNIC_TXM_PLAIN: rc = 0; break;
		case PVNIC_TXM_CSUM: rc = PV_NIC_TX_F_CSUM; break;
		case PVNIC_TXM_TSO: rc = PV_NIC_TX_F_TSO; *mss = pl.mss; break;
		default: break;
		}
	}
	free(p);
	return rc;
}
