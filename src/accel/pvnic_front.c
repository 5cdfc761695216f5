/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front.c - the frontend half of the "pvnic" accelerator pair: the
 * guest's fast path through a pvnet-nicd VI.  The contract is
 * docs/accel-pvnic.md; the VI's ABI is include/pvnet/nic.h.
 *
 * Files: here the plugin's ops, the handshake, the grants (and their
 * lingering), the buffer ids, the VI going up and down and the test hooks;
 * the TX planner and the VI's TX ring in pvnic_front_tx.c; poll (RX, TX
 * events) in pvnic_front_rx.c; the local MACs and the learned destinations
 * in pvnic_front_macs.c; what they share in pvnic_front_priv.h.
 *
 * Theory of Operation
 * ===================
 *
 * Memory.  K = PVNIC_NR_PAGES pages of netfront's accelerator reserve
 * (pv_accel_front_page(i), registered with the domain but never used by
 * netfront) are granted writable to dom0.  Page i is NIC buffers 2i and
 * 2i+1 (2 KiB each).  Buffers 0..NRX-1 (PVNIC_NR_RX) are RX buffers,
 * always posted except while one is being delivered; buffers NRX..2K-1 are
 * TX buffers, on a free stack or in flight (posted, waiting for TX_DONE or
 * ERROR).  The NIC chose the buffers' ids; events name a buffer by id,
 * found in a hash of the ids (pvnic_buf_lookup) and believed only if that
 * buffer is in the state the event needs (in flight for TX, posted for RX).
 *
 * Handshake (own xenstore connection, own watches, on netfront's loop):
 *   new_device: grant, write accel-rx-chain = 1 and accel-buf-refs,
 *               accelstate 3, watch the backend's accelstate and
 *               accel-local-macs;
 *   any watch:  read accel-local-macs again (pvnic_check), then:
 *   backend 4:  read accel-buf-ids (exactly 2K), accel-features (absent:
 *               no offloads, no chains) and accel-mtu (above 2 KiB only
 *               with chains both ways), ask pvnetd for [VI
 *               memfd, doorbell, wake-up] (retried on -EAGAIN from a
 *               timer), map and check the VI, post the RX buffers, watch
 *               the wake-up eventfd, accelstate 4: data path on;
 *   backend leaves 4: data path off (held frame handed back), accelstate 5.
 *
 * TX policy (start_xmit), every NOT_SENT test before the BUSY one, all
 * decided from a private copy of the frame's first 256 bytes:
 *   NOT_SENT  data path off; runt or oversized; broadcast/multicast
 *             destination; source not the vif's MAC, or an IP source the
 *             NIC does not allow this VI (accel-src-addrs: the NIC would
 *             refuse it as spoofed; the slow path learns a new address or
 *             refuses it); destination not learned; GSO types other than
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
 *             CSUM, SWCSUM and PLAIN take one buffer, or (a frame above
 *             2 KiB: MTU 9000, feature TX_CHAIN) one chain of them.
 * RX: with accel-rx-chain (written by us) and PV_NIC_FEAT_RX_CHAIN in
 * accel-features (the backend gave the VI chains), a frame may span
 * several RX buffers and a GSO frame from the port arrives whole
 * (RX_META, nic.h): it goes up as one iovec of those buffers with a
 * virtio-net header carrying its GSO type and size and its partial
 * checksum, so the guest's TAP takes 64 KiB in one write.  A frame above
 * the vif's MTU (not GSO) is dropped and counted (rx_over_mtu).
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
 * Doorbell: start_xmit publishes each frame's descriptors and asks
 * netfront for a poll (pv_accel_front_kick) once per burst; the doorbell is
 * rung once for the burst, from flush (accel.h 1.1: netfront's upper edge
 * ended its batch) or else from that poll (or start_irq), so a burst of
 * frames costs one eventfd write.  Poll
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
#include "accel/pvnic_front.h"
#include "accel/pvnic_front_priv.h"

/* Grant refs still mapped by the backend at remove, ended later. */
static struct pvnic_linger {
	const struct pv_accel_front_dev *dev;
	struct pv_guest *g;
	unsigned int domid, n;
	int refs[PVNIC_K];
} pvnic_linger[PVNIC_LINGER];

/* ---- grants ---- */

static void pvnic_linger_retry(struct pv_accel_front_dev *dev, struct pv_guest *g)
{
	for (int i = 0; i < PVNIC_LINGER; i++) {
		struct pvnic_linger *l = &pvnic_linger[i];
		unsigned int k = 0;

		if (!l->n || l->dev != dev)
			continue;
		if (l->g != g || pv_accel_front_domid(dev) != l->domid) {
			l->n = 0;	/* the domain went away, and its grants with it */
			continue;
		}
		/*
		 * -EINVAL: not a grant of the reserve (any more): a guest at a
		 * reused address with a reused domid must not lose netfront's
		 * grants, and the host ends only grants of the reserve.
		 */
		for (unsigned int j = 0; j < l->n; j++)
			if (pv_accel_front_end_grant(dev, (uint32_t)l->refs[j]) == -EBUSY)
				l->refs[k++] = l->refs[j];
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
		if (pv_accel_front_end_grant(p->dev, (uint32_t)p->refs[i]) == -EBUSY) {
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
int pvnic_buf_lookup(const struct pvnic_dev *p, uint32_t id)
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

void pvnic_ring(struct pvnic_dev *p)
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

void pvnic_vi_down(struct pvnic_dev *p, const char *why)
{
	if (p->wake_w)
		pv_accel_loop_del(p->loop, p->wake_w);
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
	p->tx_chain = !!(features & PV_NIC_FEAT_TX_CHAIN);
	p->rx_chain = !!(features & PV_NIC_FEAT_RX_CHAIN);
}

/*
 * The largest MTU the fast path carries: a frame in one 2 KiB buffer, or
 * with chains both ways (accel-features) whatever a chain holds.
 */
static unsigned int pvnic_mtu_max(uint32_t features)
{
	uint32_t both = PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_RX_CHAIN;

	return (features & both) == both ? PVNIC_MTU_MAX
					 : PV_NIC_BUF_SIZE - PV_PKT_ETH_HLEN - PV_PKT_VLAN_HLEN;
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
	p->nlent = 0;
	p->txa_err = 0;
	memset(&p->rxc, 0, sizeof(p->rxc));
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
	p->wake_w = pv_accel_loop_add(p->loop, fds[PVNIC_FD_WAKE], EPOLLIN, pvnic_wake_cb, p);
	if (!p->wake_w) {
		vi_user_close(&p->u);
		e = -ENOMEM;
		goto fail;
	}
	p->up = 1;
	p->irq_on = 1;
	vi_user_arm(&p->u);
	pv_info("pvnic: vif %u: fast path on (VI %u, MTU %u, TX offloads:%s%s%s, RX chains %s)",
		p->devid, p->u.sh->info.vi_id, mtu, p->off_csum ? " csum" : "",
		p->off_tso ? " tso" : "", p->tx_chain ? " chains" : "", p->rx_chain ? "on" : "off");
	return 0;
fail:
	for (int i = 0; i < PVNIC_NR_FDS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		p->fds[i] = -1;
	}
	return e;
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

	pv_accel_loop_timer_del(p->loop, p->timer_w);
	p->timer_w = NULL;
	pvnic_service(p);
}

static void pvnic_schedule(struct pvnic_dev *p, unsigned int ms)
{
	if (!p->timer_w)
		p->timer_w = pv_accel_loop_timer(p->loop, ms, 0, pvnic_timer_cb, p);
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
 * accel-src-addrs again: the sources the NIC allows this VI.  Absent: the
 * NIC checks none; malformed: none allowed (everything with an IP source
 * goes slow) until the backend writes it again.
 */
static void pvnic_read_src_addrs(struct pvnic_dev *p)
{
	char path[PVNIC_KEY_MAX], val[PV_SG_ADDRS_MAX * PV_SG_ADDR_STR + 1];
	int n;

	if (pvnic_key(path, pv_accel_front_backend(p->dev), PVNIC_KEY_SRC_ADDRS))
		return;
	n = xsc_read(p->xs, 0, path, val, sizeof(val));
	if (n == -ENOENT) {
		p->src_on = 0;
	} else if (n >= 0) {
		val[(size_t)n < sizeof(val) - 1 ? (size_t)n : sizeof(val) - 1] = '\0';
		p->src_on = 1;
		if (pv_sg_addrs_parse(val, &p->src) < 0)
			p->src.n = 0;
	}
}

/*
 * Level-triggered: make the data path what the backend's accelstate says,
 * the local MACs what accel-local-macs says, the allowed sources what
 * accel-src-addrs says.
 */
static void pvnic_check(struct pvnic_dev *p)
{
	uint32_t ids[PVNIC_NBUF];
	int fds[PVNIC_NR_FDS] = { -1, -1, -1 };
	unsigned int st = 0, mtu, feat;
	int e;

	pvnic_read_local_macs(p);
	pvnic_read_src_addrs(p);
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
	if (pvnic_read_uint(p, PVNIC_KEY_FEATURES, &feat))
		feat = 0;	/* a backend or NIC without offloads: all in software */
	p->features = feat;
	if (pvnic_read_uint(p, PVNIC_KEY_MTU, &mtu) || mtu < 68 || mtu > pvnic_mtu_max(feat))
		mtu = pv_accel_front_mtu(p->dev);
	if (!mtu || mtu > pvnic_mtu_max(feat))
		mtu = 1500;
	e = pv_accel_front_get_fds(p->dev, fds, PVNIC_NR_FDS);
	if (e >= 0 && e != PVNIC_NR_FDS) {
		for (int i = 0; i < e; i++)
			close(fds[i]);
		e = -EPROTO;
	} else if (e > 0) {
		e = 0;
	}
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
			pv_accel_loop_del(p->loop, p->xs_w);
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
		pv_accel_loop_timer_del(p->loop, p->timer_w);
	if (p->xs_w)
		pv_accel_loop_del(p->loop, p->xs_w);
	if (p->xs) {
		if (!pvnic_key(path, pv_accel_front_backend(p->dev), PV_ACCEL_KEY_STATE))
			xsc_unwatch(p->xs, path, "pvnic");
		if (!pvnic_key(path, pv_accel_front_backend(p->dev), PVNIC_KEY_LOCAL_MACS))
			xsc_unwatch(p->xs, path, "pvnic");
		if (!pvnic_key(path, pv_accel_front_backend(p->dev), PVNIC_KEY_SRC_ADDRS))
			xsc_unwatch(p->xs, path, "pvnic");
		if (!pvnic_key(path, pv_accel_front_path(p->dev), PVNIC_KEY_BUF_REFS))
			xsc_rm(p->xs, 0, path);
		if (!pvnic_key(path, pv_accel_front_path(p->dev), PVNIC_KEY_RX_CHAIN))
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

	if (!slash || !pv_accel_front_guest(dev) || !pv_accel_front_page(dev, PVNIC_K - 1))
		return -ENODEV;
	p = pvnic_alloc(dev);
	if (!p)
		return -ENOMEM;
	p->g = pv_accel_front_guest(dev);
	p->domid = pv_accel_front_domid(dev);
	p->devid = (unsigned int)strtoul(slash + 1, NULL, 10);
	pvnic_linger_retry(dev, p->g);
	for (int i = 0; i < PVNIC_K; i++) {
		uint8_t *page = pv_accel_front_page(dev, (unsigned int)i);

		e = pv_accel_front_grant(dev, (unsigned int)i, 0, 0);
		if (e < 0 || !page)
			goto fail;
		p->refs[i] = e;
		p->buf[2 * i] = page;
		p->buf[2 * i + 1] = page + PV_NIC_BUF_SIZE;
		off += (size_t)snprintf(refs + off, sizeof(refs) - off, "%s%d", i ? " " : "", e);
	}
	e = -ENOMEM;
	fd = pv_accel_front_xs_connect(dev);
	if (fd < 0) {
		e = fd;
		goto fail;
	}
	p->xs = xsc_open_fd(fd);
	if (!p->xs)
		goto fail;
	p->xs_w = pv_accel_loop_add(p->loop, xsc_fd(p->xs), EPOLLIN, pvnic_xs_cb, p);
	if (!p->xs_w)
		goto fail;
	if ((e = pvnic_key(path, fe, PVNIC_KEY_RX_CHAIN)) ||
	    (e = xsc_write(p->xs, 0, path, "1", 1)) < 0 ||
	    (e = pvnic_key(path, fe, PVNIC_KEY_BUF_REFS)) ||
	    (e = xsc_write(p->xs, 0, path, refs, strlen(refs))) < 0 ||
	    (e = pvnic_key(path, pv_accel_front_backend(dev), PV_ACCEL_KEY_STATE)) ||
	    (e = xsc_watch(p->xs, path, "pvnic")) < 0 ||
	    (e = pvnic_key(path, pv_accel_front_backend(dev), PVNIC_KEY_LOCAL_MACS)) ||
	    (e = xsc_watch(p->xs, path, "pvnic")) < 0 ||
	    (e = pvnic_key(path, pv_accel_front_backend(dev), PVNIC_KEY_SRC_ADDRS)) ||
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
	.flush = pvnic_flush,
	.tx_lend = pvnic_tx_lend,
	.tx_lent = pvnic_tx_lent,
	.tx_unlend = pvnic_tx_unlend,
};

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

/* Frames sent from a TX loan (tx_lent: no copy), and buffers lent now. */
uint64_t pvnic_front_test_lent(struct pv_accel_front_dev *dev, unsigned int *nlent)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return 0;
	if (nlent)
		*nlent = p->nlent;
	return p->tx_lent_frames;
}

/*
 * As if accel-src-addrs had been read with value @val (NULL: absent).
 * Return: frames left to the slow path for their source so far.
 */
int pvnic_front_test_src_addrs(struct pv_accel_front_dev *dev, const char *val)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return -1;
	p->src_on = val != NULL;
	p->src.n = 0;
	if (val && pv_sg_addrs_parse(val, &p->src) < 0)
		p->src.n = 0;
	return (int)p->src_slow;
}
