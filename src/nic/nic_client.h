/* SPDX-License-Identifier: MIT */
/*
 * nic_client.h - both users of pvnet-nicd, as a library (libpvnet-nic.a):
 *
 *  - the trusted caller's control client (nic_client.c): one blocking
 *    request/reply per call over DIR/nic.sock, for the backend plugin;
 *  - the VI user's side of the shared-memory ABI (inline below, vi_user_*;
 *    the NIC's own internals are nic_vi_*): map a VI,
 *    post TX/RX descriptors (a TX frame as a chain, with its offloads;
 *    several frames published at once),
 *    read events, ring the doorbell, arm the wake-up, for the frontend
 *    plugin and libpvnet.
 *
 * Everything returns 0 or a negative errno.  Nothing here keeps global state.
 */
#ifndef PVNET_NIC_CLIENT_H
#define PVNET_NIC_CLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "pvnet/nic.h"

/* ---- control client (trusted caller) ---- */

/* Connect to @path (DIR/nic.sock); fd or -errno. */
int nic_client_connect(const char *path);
/*
 * One request; @out gets up to @omax bytes of the reply body; @rfds (3
 * entries, may be NULL) the reply's descriptors, -1 where none.  Waits at
 * most @timeout_ms for the reply (-ETIMEDOUT).
 * Return: the reply's err, or -errno of the transport.
 */
int nic_client_call(int fd, uint16_t type, const void *body, uint32_t blen,
		    const int *fds, unsigned int nfds, void *out, uint32_t omax,
		    int *rfds, int timeout_ms);

struct nic_client_vi {
	uint32_t vi_id;
	int mem_fd, doorbell_fd, wake_fd;	/* the caller owns them */
};

int nic_client_vi_alloc(int fd, struct nic_client_vi *vi);
int nic_client_vi_alloc_flags(int fd, uint32_t flags, struct nic_client_vi *vi);
int nic_client_vi_free(int fd, uint32_t vi_id);
int nic_client_vi_reset(int fd, uint32_t vi_id);
int nic_client_set_host(int fd, uint32_t vi_id);
/* Map @n (<= PV_NIC_MAP_MAX) 2 KiB chunks of @memfd for @vi_id; ids out. */
int nic_client_buf_map(int fd, uint32_t vi_id, int memfd, const uint32_t *chunk,
		       uint32_t n, uint32_t *ids);
int nic_client_buf_unmap(int fd, uint32_t vi_id, const uint32_t *ids, uint32_t n);
int nic_client_set_mac(int fd, uint32_t vi_id, const uint8_t mac[6], uint32_t src_ip);
/*
 * SET_ADDRS (PV_NIC_FEAT_SRC_ADDRS): enforce @n (<= PV_NIC_ADDRS_MAX)
 * source addresses of 16 bytes each (IPv4 mapped), or, @enforce 0, none.
 */
int nic_client_set_addrs(int fd, uint32_t vi_id, int enforce, const uint8_t (*addrs)[16],
			 unsigned int n);
/*
 * SET_STORM (PV_NIC_FEAT_TX_STORM): VI @vi_id's broadcast and multicast
 * TX limits, frames per second and burst (0: no limit / the default burst).
 */
int nic_client_set_storm(int fd, uint32_t vi_id, uint32_t bcast_pps, uint32_t bcast_burst,
			 uint32_t mcast_pps, uint32_t mcast_burst);
/* With PV_NIC_MAC_F_* @flags (F_IP is implied by a non-zero @src_ip). */
int nic_client_set_mac_flags(int fd, uint32_t vi_id, const uint8_t mac[6], uint32_t src_ip,
			     uint16_t flags);
int nic_client_filter_mac(int fd, uint32_t vi_id, const uint8_t mac[6], uint32_t *filter_id);
int nic_client_filter_ipv4(int fd, uint32_t vi_id, uint8_t proto, uint32_t dst_ip,
			   uint16_t dst_port, uint32_t *filter_id);
int nic_client_filter_del(int fd, uint32_t vi_id, uint32_t filter_id);
int nic_client_stats(int fd, uint32_t vi_id, struct pv_nic_vi_stats *st);
int nic_client_info(int fd, struct pv_nic_info_reply *info);

/* ---- VI user (untrusted side of the ABI) ---- */

/**
 * struct vi_user - a VI as its user sees it
 * @sh:		the mapped VI memory
 * @tx_prod, @rx_prod, @evq_cons: the user's own indices (private copies)
 * @doorbell_fd, @wake_fd: from the trusted caller
 */
struct vi_user {
	struct pv_nic_vi_shared *sh;
	struct pv_nic_desc *txq, *rxq;
	struct pv_nic_event *evq;
	uint32_t tx_prod, rx_prod, evq_cons;
	int doorbell_fd, wake_fd;
};

/* Map the VI memory of @mem_fd; checks magic, version and layout. */
int vi_user_open(struct vi_user *u, int mem_fd, int doorbell_fd, int wake_fd);
void vi_user_close(struct vi_user *u);
/* Write 1 to the doorbell. */
void vi_user_ring(struct vi_user *u);

/*
 * After publishing tx_prod: ring the doorbell unless the NIC is polling
 * tx_prod (include/pvnet/nic.h, "NIC polling"); the fence pairs with the
 * NIC's when it stops polling.  Returns true if it rang.
 */
static inline bool vi_user_kick(struct vi_user *u)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&u->sh->tx_cons.armed, __ATOMIC_ACQUIRE))
		return false;
	vi_user_ring(u);
	return true;
}

/* Free TX ring slots, by the NIC's published tx_cons. */
static inline uint32_t vi_user_tx_space(const struct vi_user *u)
{
	return PV_NIC_TXQ_SIZE - (u->tx_prod - __atomic_load_n(&u->sh->tx_cons.v, __ATOMIC_ACQUIRE));
}

static inline uint32_t vi_user_rx_space(const struct vi_user *u)
{
	return PV_NIC_RXQ_SIZE - (u->rx_prod - __atomic_load_n(&u->sh->rx_cons.v, __ATOMIC_ACQUIRE));
}

/* Post one TX descriptor (caller checked vi_user_tx_space); ring afterwards. */
static inline void vi_user_tx_post(struct vi_user *u, uint32_t buf_id, uint16_t off, uint16_t len)
{
	u->txq[u->tx_prod & (PV_NIC_TXQ_SIZE - 1)] =
		(struct pv_nic_desc){ .buf_id = buf_id, .offset = off, .len = len };
	u->tx_prod++;
	__atomic_store_n(&u->sh->tx_prod.v, u->tx_prod, __ATOMIC_RELEASE);
}

/* One piece of a TX frame: @len bytes at @off of buffer @buf_id. */
struct nic_tx_frag {
	uint32_t buf_id;
	uint16_t off;
	uint16_t len;
};

/**
 * vi_user_tx_stage_frame() - write one TX frame, a chain of @n descriptors,
 * after the @*staged ones already written, without publishing any
 * @u:		the VI
 * @staged:	in/out: descriptors written past tx_prod, not yet published
 * @frag:	the frame's pieces, in order
 * @n:		1 .. PV_NIC_TX_MAX_FRAGS
 * @offload:	0, PV_NIC_TX_F_CSUM or PV_NIC_TX_F_TSO (on the first descriptor)
 * @mss:	with PV_NIC_TX_F_TSO: payload bytes per segment
 *		(PV_NIC_TSO_MSS_MIN at least); else 0
 *
 * Writes every descriptor (PV_NIC_TX_F_MORE on all but the last).  The
 * NIC sees none of them before vi_user_tx_publish(); forgetting @*staged
 * takes them all back.
 *
 * Return: 0 (@*staged += @n); -EINVAL for @n, @offload or @mss out of
 * range; -ENOSPC if the ring has no room for @*staged + @n descriptors
 * (nothing written).
 */
static inline int vi_user_tx_stage_frame(struct vi_user *u, uint32_t *staged,
					 const struct nic_tx_frag *frag, unsigned int n,
					 uint32_t offload, uint16_t mss)
{
	uint32_t at = u->tx_prod + *staged;

	if (n == 0 || n > PV_NIC_TX_MAX_FRAGS ||
	    (offload & ~(uint32_t)(PV_NIC_TX_F_CSUM | PV_NIC_TX_F_TSO)) ||
	    (!(offload & PV_NIC_TX_F_TSO) && mss))
		return -EINVAL;
	if ((uint64_t)*staged + n > vi_user_tx_space(u))
		return -ENOSPC;
	for (unsigned int j = 0; j < n; j++)
		u->txq[(at + j) & (PV_NIC_TXQ_SIZE - 1)] = (struct pv_nic_desc){
			.buf_id = frag[j].buf_id, .offset = frag[j].off, .len = frag[j].len,
			.flags = (j + 1 < n ? PV_NIC_TX_F_MORE : 0) | (j ? 0 : offload),
			.mss = j ? 0 : mss,
		};
	*staged += n;
	return 0;
}

/* Move tx_prod past @staged descriptors of vi_user_tx_stage_frame() at once; ring afterwards. */
static inline void vi_user_tx_publish(struct vi_user *u, uint32_t staged)
{
	u->tx_prod += staged;
	__atomic_store_n(&u->sh->tx_prod.v, u->tx_prod, __ATOMIC_RELEASE);
}

/**
 * vi_user_tx_post_frame() - post one TX frame, a chain of @n descriptors, whole
 *
 * vi_user_tx_stage_frame() of that one frame, then vi_user_tx_publish(): the
 * NIC never sees half of it.  Ring the doorbell afterwards.
 *
 * Return: 0, or vi_user_tx_stage_frame()'s error (nothing posted).
 */
static inline int vi_user_tx_post_frame(struct vi_user *u, const struct nic_tx_frag *frag,
					unsigned int n, uint32_t offload, uint16_t mss)
{
	uint32_t staged = 0;
	int rc = vi_user_tx_stage_frame(u, &staged, frag, n, offload, mss);

	if (!rc)
		vi_user_tx_publish(u, staged);
	return rc;
}

/* Post one RX descriptor offering @len bytes at @off of @buf_id. */
static inline void vi_user_rx_post(struct vi_user *u, uint32_t buf_id, uint16_t off, uint16_t len)
{
	u->rxq[u->rx_prod & (PV_NIC_RXQ_SIZE - 1)] =
		(struct pv_nic_desc){ .buf_id = buf_id, .offset = off, .len = len };
	u->rx_prod++;
	__atomic_store_n(&u->sh->rx_prod.v, u->rx_prod, __ATOMIC_RELEASE);
}

/* The next event into @ev; false if none.  Consumes it. */
static inline bool vi_user_event(struct vi_user *u, struct pv_nic_event *ev)
{
	uint32_t prod = __atomic_load_n(&u->sh->evq_prod.v, __ATOMIC_ACQUIRE);

	if (prod == u->evq_cons)
		return false;
	*ev = u->evq[u->evq_cons & (PV_NIC_EVQ_SIZE - 1)];
	u->evq_cons++;
	__atomic_store_n(&u->sh->evq_cons.v, u->evq_cons, __ATOMIC_RELEASE);
	return true;
}

/*
 * Ask for a wake-up before sleeping on wake_fd.  Returns true if events
 * arrived meanwhile: then do not sleep, poll again.
 */
static inline bool vi_user_arm(struct vi_user *u)
{
	__atomic_store_n(&u->sh->evq_cons.v, u->evq_cons, __ATOMIC_RELEASE);
	__atomic_store_n(&u->sh->evq_cons.armed, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&u->sh->evq_prod.v, __ATOMIC_ACQUIRE) != u->evq_cons;
}

/* The VI's fault code (enum pv_nic_fault); non-zero: the NIC disabled it. */
static inline uint32_t vi_user_fault(const struct vi_user *u)
{
	return __atomic_load_n(&u->sh->fault.v, __ATOMIC_ACQUIRE);
}

#endif
