/* SPDX-License-Identifier: MIT */
/*
 * nicport.c - pvnetd's switch port on pvnet-nicd's host VI (see nicport.h).
 *
 * How this works
 * ==============
 *
 * Buffers.  One memfd of pvnetd's (sealed against shrinking and growing),
 * PV_NICPORT_RX_BUFS + PV_NICPORT_TX_BUFS 2 KiB chunks, mapped here once for
 * the port's lifetime and given to the NIC with BUF_MAP at every connection;
 * the NIC chooses the buffer ids.  Chunks [0, RX_BUFS) are RX buffers, the
 * rest TX buffers, kept on a free stack.
 *
 * Descriptors and events.  Every descriptor posted is remembered in a shadow
 * ring (local buffer index by ring slot); an event names the descriptor's
 * ring index, so the shadow gives the buffer back, and the buffer id in the
 * event must match what we posted (else counted as a bad event, ignored).
 * RX event: the frame (private header copy + one segment in the buffer) goes
 * to pv_switch_input(), then the buffer is posted again.  With a NIC that
 * offers RX chains the host VI asks for them: a frame above 2 KiB or a GSO
 * frame comes as an RX_META event and then its buffers (RX events with
 * MORE on all but the last); its buffers are held as they come and the
 * last one hands the whole frame to the switch as those buffers (one
 * segment each, no assembly copy; reposted once the switch returns), GSO
 * type and size and partial
 * checksum kept, so the bridge forwards it whole and netback gives it to
 * guests that negotiated GSO as one frame (nothing is cut for the slow
 * path any more).  A chain that breaks off (an event out of turn, a
 * length that does not add up) is dropped and counted (rx_dropped,
 * bad_events), its buffers reposted.  TX_DONE: the TX
 * buffer goes back on the free stack.  ERROR: counted, logged rate-limited,
 * the buffer reclaimed (TX) or reposted (RX) as for a normal event.
 *
 * Transmit.  With the features the NIC's INFO announces (TX_CHAIN, TX_CSUM,
 * TSO; the ABI version must match, PV_NIC_VERSION) a frame is copied into as many free 2 KiB TX buffers as it needs
 * and posted as one chain (vi_user_tx_post_frame): a GSO frame longer than
 * the MTU with PV_NIC_TX_F_TSO and its gso_size (the NIC hands it to the
 * port's kernel whole: one frame instead of ~45), a partial checksum with
 * PV_NIC_TX_F_CSUM.  What the NIC would refuse (judged from the frame's
 * private header copy with the NIC's own rule, src/nic/txrule.c: TCP of
 * the GSO type's IP version, no IPv6 extension header, an mss the MTU
 * takes, the csum_start the headers say, nothing after the IP datagram) takes the software path
 * instead, which is also the only path for a feature the NIC does not announce:
 * the frame is copied into one TX buffer, its partial checksum completed
 * there; a GSO frame longer than the MTU is linearised into a 64 KiB
 * scratch buffer and cut by nic_txrule_swgso() (the plugin's too) into
 * MSS-sized segments with final checksums, one TX buffer each, posted
 * together (a segment the port would not take drops the frame).  No buffer or ring slot:
 * dropped and counted (-ENOBUFS); a frame, chain or all its segments, is
 * refused whole when there is not room for all of it.  flush() rings the
 * doorbell once if anything was posted.
 *
 * Wake-ups.  The wake-up eventfd is on pvnetd's loop.  A pass reads up to
 * PV_NICPORT_BUDGET events, flushes the switch, then arms the wake-up; if
 * events arrived meanwhile, or the budget ran out, it writes its own
 * eventfd so the loop comes back after the other descriptors' turn.
 *
 * NIC lifecycle.  The control socket stays on the loop: EOF (pvnet-nicd
 * died; the NIC frees the VI with the connection) or a VI fault detaches
 * the port: off the loop and the switch, VI unmapped, descriptors closed,
 * and a 1 s timer retries connecting (logged once) until it works.  Every
 * control call waits 1 s at most, so a hung NIC cannot hold pvnetd long.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge.h"
#include "frameq.h"
#include "nicport.h"
#include "port.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/pkt.h"
#include "nic/nic_client.h"
#include "nic/txrule.h"

#define NP_NBUFS	(PV_NICPORT_RX_BUFS + PV_NICPORT_TX_BUFS)
#define NP_MEM_SIZE	((size_t)NP_NBUFS * PV_NIC_BUF_SIZE)
#define NP_CALL_MS	1000

_Static_assert(PV_NICPORT_RX_BUFS <= PV_NIC_RXQ_SIZE, "all RX buffers fit the RX ring");
_Static_assert(PV_NICPORT_TX_BUFS <= PV_NIC_TXQ_SIZE, "all TX buffers fit the TX ring");

struct pv_nicport {
	struct pv_port port;
	struct pv_loop *loop;
	struct pv_switch *sw;
	char sock_path[256];
	/* buffers: for the port's lifetime */
	int memfd;
	uint8_t *mem;
	uint8_t *scratch;		/* GSO linearisation, PV_FRAME_MAX_LEN */
	struct pv_nic_rx_meta rx_meta;	/* the chain being read */
	uint32_t rx_asm_len;		/* its bytes so far */
	unsigned int rx_asm_left;	/* its RX events still to come; 0: none */
	unsigned int rx_nheld;		/* its buffers so far, held (not reposted) */
	/* the TX backlog: frames (copies) waiting for TX buffers, in order */
	struct pv_frameq bl;		/* PV_NICPORT_BACKLOG frames, _BYTES bytes */
	uint16_t rx_held[PV_NIC_RX_MAX_FRAGS];
	uint16_t rx_held_len[PV_NIC_RX_MAX_FRAGS];
	/* connection: valid while connected */
	int connected;
	int cfd;
	uint32_t vi_id;
	int mem_fd;
	struct vi_user vi;
	struct pv_watch *sock_watch, *wake_watch;
	uint32_t buf_id[NP_NBUFS];	/* the NIC's id for each chunk */
	uint16_t rx_shadow[PV_NIC_RXQ_SIZE];
	uint16_t tx_shadow[PV_NIC_TXQ_SIZE];
	uint16_t tx_free[PV_NICPORT_TX_BUFS];
	unsigned int nr_tx_free;
	int tx_posted;			/* descriptors posted since the last doorbell */
	uint32_t mtu;
	uint32_t features;		/* the NIC's, PV_NIC_FEAT_* */
	/* reconnection */
	struct pv_watch *retry_timer;
	int retry_logged;
	struct pv_nicport_stats xs;
	struct pv_ratelimit rl;
};

/* ---- control calls, 1 s each ---- */

static int np_vi_req(struct pv_nicport *np, uint16_t type, uint32_t vi_id)
{
	struct pv_nic_vi_req q = { .vi_id = vi_id };

	return nic_client_call(np->cfd, type, &q, sizeof(q), NULL, 0, NULL, 0, NULL, NP_CALL_MS);
}

static int np_vi_alloc(struct pv_nicport *np, int fds[3])
{
	struct pv_nic_vi_alloc a = {
		.version = PV_NIC_VERSION,
		.flags = (np->features & PV_NIC_FEAT_RX_CHAIN) ? PV_NIC_VI_F_RX_CHAIN : 0,
	};
	struct pv_nic_vi_alloc_reply ar = { 0 };
	int rc;

	rc = nic_client_call(np->cfd, PV_NIC_VI_ALLOC, &a, sizeof(a), NULL, 0, &ar, sizeof(ar),
			     fds, NP_CALL_MS);
	if (!rc && (fds[0] < 0 || fds[1] < 0 || fds[2] < 0))
		rc = -EPROTO;
	if (rc) {
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		fds[0] = fds[1] = fds[2] = -1;
		return rc;
	}
	np->vi_id = ar.vi_id;
	return 0;
}

static int np_buf_map(struct pv_nicport *np)
{
	for (uint32_t at = 0; at < NP_NBUFS; at += PV_NIC_MAP_MAX) {
		uint32_t n = NP_NBUFS - at < PV_NIC_MAP_MAX ? NP_NBUFS - at : PV_NIC_MAP_MAX;
		uint32_t req[2 + PV_NIC_MAP_MAX], rep[2 + PV_NIC_MAP_MAX];
		int rc;

		req[0] = np->vi_id;
		req[1] = n;
		for (uint32_t i = 0; i < n; i++)
			req[2 + i] = at + i;
		rc = nic_client_call(np->cfd, PV_NIC_BUF_MAP, req, 8 + 4 * n, &np->memfd, 1,
				     rep, sizeof(rep), NULL, NP_CALL_MS);
		if (rc)
			return rc;
		if (rep[1] != n)
			return -EPROTO;
		memcpy(np->buf_id + at, rep + 2, 4 * (size_t)n);
	}
	return 0;
}

/* ---- helpers ---- */

static uint8_t *np_buf(struct pv_nicport *np, unsigned int chunk)
{
	return np->mem + (size_t)chunk * PV_NIC_BUF_SIZE;
}

static void np_rx_post(struct pv_nicport *np, unsigned int chunk)
{
	np->rx_shadow[np->vi.rx_prod & (PV_NIC_RXQ_SIZE - 1)] = (uint16_t)chunk;
	vi_user_rx_post(&np->vi, np->buf_id[chunk], 0, PV_NIC_BUF_SIZE);
}

static void np_retry_start(struct pv_nicport *np);

/**
 * np_detach() - the NIC is gone (or faulted): leave the switch and the loop
 * @np:		port
 * @why:	for the log
 * @retry:	start the reconnection timer
 */
static void np_backlog_drain(struct pv_nicport *np);
static void np_backlog_flush(struct pv_nicport *np);

static void np_detach(struct pv_nicport *np, const char *why, int retry)
{
	if (np->connected) {
		pv_switch_port_del(np->sw, &np->port);
		np->xs.disconnects++;
		if (retry)
			pv_warn("%s: pvnet-nicd lost (%s); port off the bridge", np->port.name, why);
	}
	np->connected = 0;
	if (np->sock_watch)
		pv_loop_del(np->loop, np->sock_watch);
	if (np->wake_watch)
		pv_loop_del(np->loop, np->wake_watch);
	np->sock_watch = np->wake_watch = NULL;
	vi_user_close(&np->vi);
	if (np->vi.doorbell_fd >= 0)
		close(np->vi.doorbell_fd);
	if (np->vi.wake_fd >= 0)
		close(np->vi.wake_fd);
	np->vi.doorbell_fd = np->vi.wake_fd = -1;
	if (np->mem_fd >= 0)
		close(np->mem_fd);
	np->mem_fd = -1;
	if (np->cfd >= 0)
		close(np->cfd);	/* the NIC frees the VI with the connection */
	np->cfd = -1;
	np->tx_posted = 0;
	np->rx_asm_left = 0;	/* a chain half-read from the old VI is gone with it */
	np->rx_asm_len = 0;
	np->rx_nheld = 0;	/* every RX buffer is posted again on the new VI */
	np_backlog_flush(np);
	if (retry)
		np_retry_start(np);
}

/* ---- receive: events ---- */

static void np_rx_event(struct pv_nicport *np, const struct pv_nic_event *ev, unsigned int chunk)
{
	uint8_t *b = np_buf(np, chunk);
	struct pv_frame f;

	if (ev->len < PV_PKT_ETH_HLEN || ev->len > PV_NIC_BUF_SIZE) {
		np->port.st.rx_dropped++;
		pv_log_rl(&np->rl, PV_LOG_WARN, "%s: RX event with length %u", np->port.name,
			  ev->len);
		return;
	}
	pv_frame_linear(&f, b, ev->len);
	f.flags = (ev->flags & PV_NIC_RX_F_CSUM_OK) ? PV_FRAME_CSUM_VALID : 0;
	f.csum_start = f.csum_offset = 0;
	f.gso_type = PV_GSO_NONE;
	f.gso_size = 0;
	pv_switch_input(np->sw, &np->port, &f);
}

/* Post the held buffers of the chain being read again. */
static void np_rx_release(struct pv_nicport *np)
{
	for (unsigned int i = 0; i < np->rx_nheld; i++)
		np_rx_post(np, np->rx_held[i]);
	np->rx_nheld = 0;
}

/* An RX chain broken off: what was read of it is dropped, its buffers reposted. */
static void np_rx_asm_drop(struct pv_nicport *np, const char *why)
{
	np_rx_release(np);
	np->rx_asm_left = 0;
	np->rx_asm_len = 0;
	np->port.st.rx_dropped++;
	np->xs.bad_events++;
	pv_log_rl(&np->rl, PV_LOG_WARN, "%s: RX chain dropped: %s", np->port.name, why);
}

/* RX_META: a chained or GSO frame's description; its RX events follow. */
static void np_rx_meta(struct pv_nicport *np, const struct pv_nic_event *ev)
{
	if (np->rx_asm_left)
		np_rx_asm_drop(np, "a new frame before the last one ended");
	memcpy(&np->rx_meta, ev, sizeof(np->rx_meta));
	if (np->rx_meta.nr_desc == 0 || np->rx_meta.nr_desc > PV_NIC_RX_MAX_FRAGS ||
	    np->rx_meta.frame_len > PV_FRAME_MAX_LEN || np->rx_meta.frame_len < PV_PKT_ETH_HLEN) {
		np_rx_asm_drop(np, "impossible RX_META");
		return;
	}
	np->rx_asm_left = np->rx_meta.nr_desc;
	np->rx_asm_len = 0;
}

/*
 * One buffer of a chain: held (not reposted) until the chain's last, which
 * hands the frame to the switch as the buffers themselves (a private header
 * copy, then one segment per buffer: no assembly copy); the switch is done
 * with them when pv_switch_input() returns (netback copies into the
 * guests' pages, or queues its own copy), so they are reposted then.
 * Return: 1 if the buffer is held (the caller must not repost it).
 */
static int np_rx_chain_part(struct pv_nicport *np, const struct pv_nic_event *ev,
			    unsigned int chunk)
{
	const struct pv_nic_rx_meta *m = &np->rx_meta;
	unsigned int gso = m->gso_type & ~PV_NIC_GSO_ECN;
	bool last = !(ev->flags & PV_NIC_RX_F_MORE);
	struct pv_frame f;
	uint32_t off;

	if (!ev->len || ev->len > PV_NIC_BUF_SIZE || np->rx_asm_len + ev->len > m->frame_len ||
	    last != (np->rx_asm_left == 1) || np->rx_nheld >= PV_NIC_RX_MAX_FRAGS) {
		np_rx_asm_drop(np, "RX events do not match RX_META");
		return 0;
	}
	np->rx_held[np->rx_nheld] = (uint16_t)chunk;
	np->rx_held_len[np->rx_nheld++] = ev->len;
	np->rx_asm_len += ev->len;
	if (--np->rx_asm_left)
		return 1;
	if (np->rx_asm_len != m->frame_len) {
		np_rx_asm_drop(np, "frame shorter than RX_META says");
		return 1;	/* reposted with the rest */
	}
	f.len = np->rx_asm_len;
	f.hdr_len = f.len < PV_FRAME_HDR_MAX ? f.len : PV_FRAME_HDR_MAX;
	f.nseg = 0;
	off = 0;
	for (unsigned int i = 0; i < np->rx_nheld; i++) {
		const uint8_t *b = np_buf(np, np->rx_held[i]);
		uint32_t n = np->rx_held_len[i], h = 0;

		if (off < f.hdr_len) {		/* the header copy, from the first buffer(s) */
			h = f.hdr_len - off < n ? f.hdr_len - off : n;
			memcpy(f.hdr + off, b, h);
		}
		if (n > h) {
			f.seg[f.nseg].p = b + h;
			f.seg[f.nseg++].len = n - h;
		}
		off += n;
	}
	f.flags = (m->flags & PV_NIC_RX_F_CSUM_OK) ? PV_FRAME_CSUM_VALID : 0;
	f.csum_start = f.csum_offset = 0;
	if (m->flags & PV_NIC_RX_F_CSUM_PARTIAL) {
		f.flags = PV_FRAME_CSUM_PARTIAL;
		f.csum_start = m->csum_start;
		f.csum_offset = m->csum_offset;
	}
	f.gso_type = gso == PV_NIC_GSO_TCPV4 ? PV_GSO_TCPV4 :
		     gso == PV_NIC_GSO_TCPV6 ? PV_GSO_TCPV6 : PV_GSO_NONE;
	f.gso_size = f.gso_type != PV_GSO_NONE ? m->gso_size : 0;
	np->rx_asm_len = 0;
	np->xs.rx_chains++;
	pv_switch_input(np->sw, &np->port, &f);
	np_rx_release(np);
	return 1;
}

static void np_event(struct pv_nicport *np, const struct pv_nic_event *ev)
{
	unsigned int chunk;

	if (ev->type == PV_NIC_EV_RX_META) {
		np_rx_meta(np, ev);
		return;
	}
	if (ev->queue == 1) {
		chunk = np->rx_shadow[ev->index & (PV_NIC_RXQ_SIZE - 1)];
		if (chunk >= PV_NICPORT_RX_BUFS || np->buf_id[chunk] != ev->buf_id) {
			np->xs.bad_events++;
			return;
		}
		if (ev->type == PV_NIC_EV_RX && np->rx_asm_left) {
			if (np_rx_chain_part(np, ev, chunk))
				return;		/* held; reposted with its chain */
		} else if (ev->type == PV_NIC_EV_RX && (ev->flags & PV_NIC_RX_F_MORE))
			np_rx_asm_drop(np, "RX chain without RX_META");
		else if (ev->type == PV_NIC_EV_RX)
			np_rx_event(np, ev, chunk);
		else if (ev->type == PV_NIC_EV_ERROR) {
			np->xs.nic_errors++;
			np->port.st.rx_dropped++;
			pv_log_rl(&np->rl, PV_LOG_WARN, "%s: NIC RX error %u", np->port.name,
				  ev->code);
		} else {
			np->xs.bad_events++;
		}
		np_rx_post(np, chunk);	/* the NIC consumed it either way */
		return;
	}
	chunk = np->tx_shadow[ev->index & (PV_NIC_TXQ_SIZE - 1)];
	if (ev->queue != 0 || chunk < PV_NICPORT_RX_BUFS || chunk >= NP_NBUFS ||
	    np->buf_id[chunk] != ev->buf_id || np->nr_tx_free >= PV_NICPORT_TX_BUFS) {
		np->xs.bad_events++;
		return;
	}
	if (ev->type == PV_NIC_EV_ERROR) {
		np->xs.nic_errors++;
		np->port.st.errors++;
		pv_log_rl(&np->rl, PV_LOG_WARN, "%s: NIC TX error %u", np->port.name, ev->code);
	} else if (ev->type != PV_NIC_EV_TX_DONE) {
		np->xs.bad_events++;
	}
	np->tx_shadow[ev->index & (PV_NIC_TXQ_SIZE - 1)] = UINT16_MAX;
	np->tx_free[np->nr_tx_free++] = (uint16_t)chunk;
}

static void np_wake_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_nicport *np = arg;
	struct pv_nic_event ev;
	unsigned int done = 0;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a spurious round */
	}
	np->xs.wakeups++;
	while (done < PV_NICPORT_BUDGET && vi_user_event(&np->vi, &ev)) {
		np_event(np, &ev);
		done++;
	}
	pv_switch_flush(np->sw);
	if (vi_user_fault(&np->vi)) {
		char why[48];

		snprintf(why, sizeof(why), "VI fault %u", vi_user_fault(&np->vi));
		np_detach(np, why, 1);
		return;
	}
	if (done >= PV_NICPORT_BUDGET || vi_user_arm(&np->vi)) {
		v = 1;	/* more to do: come back after the others' turn */
		if (write(fd, &v, sizeof(v)) < 0) {
			/* the counter is full: a wake-up is pending anyway */
		}
	}
	np_backlog_drain(np);	/* TX_DONE events freed buffers: the backlog goes first */
	if (np->tx_posted) {	/* events read: a TX stalled on the queue may go on */
		vi_user_ring(&np->vi);
		np->tx_posted = 0;
	}
}

/* The control socket: nothing comes unasked; EOF or error means the NIC went away. */
static void np_sock_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_nicport *np = arg;
	uint8_t buf[PV_NIC_MSG_MAX + sizeof(struct pv_nic_hdr)];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0 && !(events & (EPOLLHUP | EPOLLERR)))
		return;	/* a late reply to a call that timed out */
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(events & (EPOLLHUP | EPOLLERR)))
		return;
	np_detach(np, "control socket closed", 1);
}

/* ---- connection ---- */

/**
 * np_connect() - connect, allocate the host VI, map buffers, post RX, join
 * @np:		port, disconnected
 *
 * Return: 0 or -errno (everything undone).
 */
static int np_connect(struct pv_nicport *np)
{
	struct pv_nic_info_reply info = { 0 };
	int fds[3] = { -1, -1, -1 };
	int rc;

	np->cfd = nic_client_connect(np->sock_path);
	if (np->cfd < 0) {
		rc = np->cfd;
		np->cfd = -1;
		return rc;
	}
	rc = nic_client_call(np->cfd, PV_NIC_INFO, NULL, 0, NULL, 0, &info, sizeof(info), NULL,
			     NP_CALL_MS);
	if (rc)
		goto fail;
	np->mtu = info.mtu ? info.mtu : 1500;
	np->features = info.features;	/* PV_NIC_FEAT_*: what the NIC announces */
	rc = np_vi_alloc(np, fds);
	if (rc)
		goto fail;
	np->mem_fd = fds[0];
	np->vi.doorbell_fd = fds[1];
	np->vi.wake_fd = fds[2];
	rc = vi_user_open(&np->vi, fds[0], fds[1], fds[2]);
	np->vi.doorbell_fd = fds[1];	/* kept for np_detach() even on failure */
	np->vi.wake_fd = fds[2];
	if (rc)
		goto fail;
	rc = np_vi_req(np, PV_NIC_SET_HOST, np->vi_id);
	if (!rc)
		rc = np_buf_map(np);
	if (rc)
		goto fail;
	for (unsigned int i = 0; i < PV_NIC_TXQ_SIZE; i++)
		np->tx_shadow[i] = UINT16_MAX;
	np->nr_tx_free = 0;
	for (unsigned int i = NP_NBUFS; i-- > PV_NICPORT_RX_BUFS;)
		np->tx_free[np->nr_tx_free++] = (uint16_t)i;
	for (unsigned int i = 0; i < PV_NICPORT_RX_BUFS; i++)
		np_rx_post(np, i);
	np->tx_posted = 0;
	rc = -ENOMEM;
	np->sock_watch = pv_loop_add(np->loop, np->cfd, EPOLLIN, np_sock_cb, np);
	np->wake_watch = pv_loop_add(np->loop, np->vi.wake_fd, EPOLLIN, np_wake_cb, np);
	if (!np->sock_watch || !np->wake_watch)
		goto fail;
	rc = pv_switch_port_add(np->sw, &np->port);
	if (rc < 0)
		goto fail;
	pv_bridge_port_set_flags(pv_switch_bridge(np->sw), np->port.br_port, PV_BRIDGE_PORT_ALL);
	np->connected = 1;
	np->xs.connects++;
	if (vi_user_arm(&np->vi)) {
		uint64_t one = 1;

		if (write(np->vi.wake_fd, &one, sizeof(one)) < 0) {
			/* full: pending anyway */
		}
	}
	return 0;
fail:
	np_detach(np, "connect", 0);
	return rc;
}

/* For the log: what GSO frames and partial checksums become. */
static const char *np_offloads(const struct pv_nicport *np)
{
	const uint32_t all = PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM | PV_NIC_FEAT_TSO;

	return (np->features & all) == all ? "TSO and checksum offload" :
	       "no offloads (GSO and checksums in software)";
}

static void np_retry_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_nicport *np = arg;
	int rc = np_connect(np);

	if (rc) {
		if (!np->retry_logged)
			pv_warn("%s: cannot reach pvnet-nicd at %s: %s; retrying every second",
				np->port.name, np->sock_path, strerror(-rc));
		np->retry_logged = 1;
		return;
	}
	pv_info("%s: host VI %u on pvnet-nicd, mtu %u, %s: port on the bridge", np->port.name,
		np->vi_id, np->mtu, np_offloads(np));
	np->retry_logged = 0;
	pv_loop_timer_del(np->loop, np->retry_timer);
	np->retry_timer = NULL;
}

static void np_retry_start(struct pv_nicport *np)
{
	if (!np->retry_timer)
		np->retry_timer = pv_loop_timer(np->loop, PV_NICPORT_RETRY_MS, PV_NICPORT_RETRY_MS,
						np_retry_cb, np);
	if (!np->retry_timer)
		pv_err("%s: no retry timer: %s", np->port.name, strerror(errno));
}

/* ---- transmit ---- */

static int np_tx_drop(struct pv_nicport *np, uint64_t *reason)
{
	(*reason)++;
	np->port.st.tx_dropped++;
	if (reason == &np->xs.tx_no_room)
		pv_log_rl(&np->rl, PV_LOG_WARN, "%s: no TX room and the backlog full (%u frames, "
			  "%zu bytes): frame dropped", np->port.name, np->bl.count, pv_frameq_bytes(&np->bl));
	return -ENOBUFS;
}

/* Post @len bytes already in TX chunk @chunk. */
static void np_tx_post(struct pv_nicport *np, unsigned int chunk, uint32_t len)
{
	np->tx_shadow[np->vi.tx_prod & (PV_NIC_TXQ_SIZE - 1)] = (uint16_t)chunk;
	vi_user_tx_post(&np->vi, np->buf_id[chunk], 0, (uint16_t)len);
	np->tx_posted++;
}

static int np_tx_room(struct pv_nicport *np)
{
	uint32_t ring = vi_user_tx_space(&np->vi);

	return (int)(ring < np->nr_tx_free ? ring : np->nr_tx_free);
}

/* Largest frame the port takes without GSO (the NIC's rule: a tagged frame 4 more). */
static uint32_t np_wire_max(const struct pv_nicport *np, const struct pv_frame *f)
{
	return nic_txrule_max_len(np->mtu, f->hdr, f->hdr_len);
}

/* Largest frame the software path sends without GSO: one TX buffer. */
static uint32_t np_max_len(const struct pv_nicport *np, const struct pv_frame *f)
{
	uint32_t max = np_wire_max(np, f);

	return max < PV_NIC_BUF_SIZE ? max : PV_NIC_BUF_SIZE;
}

/*
 * np_offload() - can the NIC take @f whole, as one chain, and with what?
 * @np:		port
 * @f:		frame, PV_PKT_ETH_HLEN .. PV_FRAME_MAX_LEN bytes
 * @flags:	out: 0, PV_NIC_TX_F_CSUM or PV_NIC_TX_F_TSO
 * @mss:	out: with TSO, the frame's gso_size
 *
 * Judged on the private header copy with the NIC's own rule
 * (src/nic/txrule.c), so that the NIC does not refuse what we post; and
 * the checksum asked for must be the one the NIC fills in, a GSO type that
 * of the frame's IP version.  Anything else takes the software path.
 *
 * Return: true to post a chain.
 */
static bool np_offload(const struct pv_nicport *np, const struct pv_frame *f, uint32_t *flags,
		       uint16_t *mss)
{
	bool gso = f->gso_type != PV_GSO_NONE && f->len > np_wire_max(np, f);
	bool csum = f->flags & PV_FRAME_CSUM_PARTIAL;
	const uint32_t need = PV_NIC_FEAT_TX_CHAIN | (gso ? PV_NIC_FEAT_TSO : 0) |
			      (csum ? PV_NIC_FEAT_TX_CSUM : 0);
	uint32_t fl = gso ? PV_NIC_TX_F_TSO : csum ? PV_NIC_TX_F_CSUM : 0;
	uint16_t m = gso ? f->gso_size : 0;
	struct pv_pkt_info pi;

	*flags = 0;
	*mss = 0;
	if ((np->features & need) != need ||
	    (gso && !pv_pkt_is_tcp_gso_ok_hdr(f->hdr, f->hdr_len, f->len, f->gso_type)) ||
	    nic_txrule_offload(f->hdr, f->hdr_len, f->len, np->mtu, fl, m, &pi) != PV_NIC_ERR_NONE ||
	    (csum && !nic_txrule_csum_at(&pi, f->csum_start, f->csum_offset)))
		return false;
	*flags = fl;
	*mss = m;
	return true;
}

/* Post @f as one chain of TX buffers, with @flags and @mss on its first descriptor. */
static int np_tx_chain(struct pv_nicport *np, const struct pv_frame *f, uint32_t flags,
		       uint16_t mss)
{
	struct nic_tx_frag frag[PV_NIC_TX_MAX_FRAGS];
	unsigned int n = (f->len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE;

	if (n > PV_NIC_TX_MAX_FRAGS)
		return np_tx_drop(np, &np->xs.tx_too_big);
	if ((unsigned int)np_tx_room(np) < n)
		return np_tx_drop(np, &np->xs.tx_no_room);
	for (unsigned int j = 0; j < n; j++) {
		unsigned int chunk = np->tx_free[np->nr_tx_free - 1 - j];
		uint32_t off = j * PV_NIC_BUF_SIZE;
		uint32_t k = f->len - off < PV_NIC_BUF_SIZE ? f->len - off : PV_NIC_BUF_SIZE;

		if (pv_frame_copy(f, off, np_buf(np, chunk), k) != k)
			return np_tx_drop(np, &np->xs.tx_bad_frame);	/* nothing taken yet */
		frag[j] = (struct nic_tx_frag){ .buf_id = np->buf_id[chunk], .len = (uint16_t)k };
		np->tx_shadow[(np->vi.tx_prod + j) & (PV_NIC_TXQ_SIZE - 1)] = (uint16_t)chunk;
	}
	if (vi_user_tx_post_frame(&np->vi, frag, n, flags, mss))
		return np_tx_drop(np, &np->xs.tx_no_room);	/* cannot be: room was checked */
	np->nr_tx_free -= n;
	np->tx_posted += (int)n;
	return 0;
}

/* nic_txrule_swgso()'s buffers: the next free TX buffer, for ring index @at. */
static int np_swgso_take(void *arg, uint32_t at, uint8_t **buf, uint32_t *buf_id)
{
	struct pv_nicport *np = arg;
	unsigned int chunk;

	if (!np->nr_tx_free)
		return -ENOBUFS;
	chunk = np->tx_free[--np->nr_tx_free];
	np->tx_shadow[at & (PV_NIC_TXQ_SIZE - 1)] = (uint16_t)chunk;
	*buf = np_buf(np, chunk);
	*buf_id = np->buf_id[chunk];
	return 0;
}

/*
 * Software GSO: linearised into the scratch buffer, cut at gso_size by
 * nic_txrule_swgso(), a TX buffer per segment, all posted or none.
 */
static int np_tx_swgso(struct pv_nicport *np, const struct pv_frame *f)
{
	uint32_t need = f->len / f->gso_size + 1, staged = 0;
	unsigned int free0 = np->nr_tx_free;
	int rc;

	if ((uint32_t)np_tx_room(np) < need)
		return np_tx_drop(np, &np->xs.tx_no_room);
	if (pv_frame_copy(f, 0, np->scratch, f->len) != f->len)
		return np_tx_drop(np, &np->xs.tx_bad_frame);
	rc = nic_txrule_swgso(&np->vi, &staged, np->scratch, f->len, f->gso_size, f->gso_type,
			      np->mtu, np_swgso_take, np);
	if (rc < 0) {
		np->nr_tx_free = free0;	/* the buffers back; the staged descriptors forgotten */
		if (rc == -E2BIG)
			return np_tx_drop(np, &np->xs.tx_too_big);
		if (rc == -ENOBUFS || rc == -ENOSPC)
			return np_tx_drop(np, &np->xs.tx_no_room);	/* cannot be: room was checked */
		pv_log_rl(&np->rl, PV_LOG_WARN, "%s: cannot segment a GSO frame: %s",
			  np->port.name, strerror(-rc));
		return np_tx_drop(np, &np->xs.tx_bad_frame);
	}
	vi_user_tx_publish(&np->vi, staged);
	np->tx_posted += (int)staged;
	np->xs.tx_segments += staged;
	return 0;
}

/* How np_xmit() sends a frame. */
enum np_path {
	NP_CHAIN,	/* one chain, with np_offload()'s flags */
	NP_ONE,		/* one TX buffer, a partial checksum completed here */
	NP_SWGSO,	/* segmented here, a TX buffer each */
	NP_TOO_BIG,	/* dropped: longer than the port takes, not GSO */
	NP_BAD,		/* dropped: GSO without an mss */
};

static enum np_path np_tx_path(const struct pv_nicport *np, const struct pv_frame *f,
			       uint32_t *flags, uint16_t *mss)
{
	if ((f->len > PV_NIC_BUF_SIZE || f->gso_type != PV_GSO_NONE ||
	     (f->flags & PV_FRAME_CSUM_PARTIAL)) && np_offload(np, f, flags, mss))
		return NP_CHAIN;
	if (f->len <= np_max_len(np, f))
		return NP_ONE;
	if (f->gso_type == PV_GSO_NONE)
		return NP_TOO_BIG;
	return f->gso_size ? NP_SWGSO : NP_BAD;
}

/**
 * np_xmit() - pv_port_ops.xmit: copy the frame (a chain, or its segments) into TX buffers
 * @port:	the NIC port
 * @f:		frame
 *
 * Return: 0 if posted; -ENOBUFS if dropped (counted here).
 */
static int np_xmit_now(struct pv_nicport *np, const struct pv_frame *f)
{
	unsigned int chunk;
	uint32_t flags;
	uint16_t mss;
	uint8_t *b;

	if (!np->connected)
		return np_tx_drop(np, &np->xs.tx_down);
	if (f->len < PV_PKT_ETH_HLEN || f->len > PV_FRAME_MAX_LEN)
		return np_tx_drop(np, &np->xs.tx_bad_frame);
	switch (np_tx_path(np, f, &flags, &mss)) {
	case NP_CHAIN:
		return np_tx_chain(np, f, flags, mss);
	case NP_TOO_BIG:
		return np_tx_drop(np, &np->xs.tx_too_big);
	case NP_BAD:
		return np_tx_drop(np, &np->xs.tx_bad_frame);
	case NP_SWGSO:
		return np_tx_swgso(np, f);
	case NP_ONE:
		break;
	}
	if (np_tx_room(np) < 1)
		return np_tx_drop(np, &np->xs.tx_no_room);
	chunk = np->tx_free[np->nr_tx_free - 1];
	b = np_buf(np, chunk);
	if (pv_frame_copy(f, 0, b, f->len) != f->len)
		return np_tx_drop(np, &np->xs.tx_bad_frame);
	if ((f->flags & PV_FRAME_CSUM_PARTIAL) &&
	    pv_pkt_csum_complete(b, f->len, f->csum_start, f->csum_offset) < 0)
		return np_tx_drop(np, &np->xs.tx_bad_frame);
	np->nr_tx_free--;
	np_tx_post(np, chunk, f->len);
	return 0;
}

/* TX buffers (and ring slots) @f needs, as np_xmit_now() will send it; 0: it will be dropped. */
static unsigned int np_tx_need(const struct pv_nicport *np, const struct pv_frame *f)
{
	uint32_t flags;
	uint16_t mss;

	switch (np_tx_path(np, f, &flags, &mss)) {
	case NP_CHAIN: return (f->len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE;
	case NP_ONE: return 1;
	case NP_SWGSO: return f->len / f->gso_size + 1;
	default: return 0;
	}
}

/* The backlog's frames go out while there is room for them, oldest first. */
static void np_backlog_drain(struct pv_nicport *np)
{
	struct pv_frame f;

	while (np->bl.count && np->connected) {
		pv_frameq_peek(&np->bl, &f);
		if ((unsigned int)np_tx_room(np) < np_tx_need(np, &f))
			return;
		np_xmit_now(np, &f);	/* a drop here is counted there */
		pv_frameq_pop(&np->bl);
	}
}

/* Everything waiting is gone with the NIC: counted as frames the NIC was away for. */
static void np_backlog_flush(struct pv_nicport *np)
{
	while (np->bl.count) {
		np_tx_drop(np, &np->xs.tx_down);
		pv_frameq_pop(&np->bl);
	}
}

/*
 * np_xmit() - pv_port_ops.xmit.  The host VI has PV_NICPORT_TX_BUFS
 * buffers, and pvnet-nicd frees them only as fast as it is scheduled: a
 * guest's burst (netback takes up to its budget of frames a pass, and
 * several passes may run before pvnet-nicd does) would find none.  As a
 * NIC driver's queue discipline does, a frame that finds no room waits in
 * a bounded backlog (a copy in a frameq.h queue: the frame's pages are the
 * guest's only for this call) and goes out, in order, as TX_DONE events free buffers; only
 * a full backlog drops (tx_no_room).  While anything waits, new frames
 * queue behind it.
 */
static int np_xmit(struct pv_port *port, const struct pv_frame *f)
{
	struct pv_nicport *np = port->priv;
	unsigned int need;

	if (!np->connected || f->len < PV_PKT_ETH_HLEN || f->len > PV_FRAME_MAX_LEN)
		return np_xmit_now(np, f);	/* dropped and counted there */
	need = np_tx_need(np, f);
	if (!need || (!np->bl.count && (unsigned int)np_tx_room(np) >= need))
		return np_xmit_now(np, f);
	if (pv_frameq_put(&np->bl, f))
		return np_tx_drop(np, &np->xs.tx_no_room);
	np->xs.tx_backlog++;
	if (np->bl.count > np->xs.tx_backlog_max)
		np->xs.tx_backlog_max = np->bl.count;
	return 0;
}

/* End of a burst: one doorbell for everything posted. */
static void np_flush(struct pv_port *port)
{
	struct pv_nicport *np = port->priv;

	if (np->connected && np->tx_posted) {
		vi_user_ring(&np->vi);
		np->tx_posted = 0;
	}
}

static const struct pv_port_ops nicport_ops = {
	.kind = "uplink", .xmit = np_xmit, .flush = np_flush,
};

/* ---- public ---- */

/**
 * pv_nicport_open() - a switch port on pvnet-nicd's host VI
 * @loop:	pvnetd's loop
 * @sw:		the switch
 * @run_dir:	pvnet-nicd's run directory (DIR/nic.sock)
 * @err:	out, optional: -errno on failure
 *
 * The port is named "nic:<run_dir>" (truncated), kind "uplink", flagged
 * PV_BRIDGE_PORT_ALL.  If pvnet-nicd is not reachable now, the port is
 * returned anyway, off the bridge, and retries every second.
 *
 * Return: the port, or NULL.
 */
struct pv_nicport *pv_nicport_open(struct pv_loop *loop, struct pv_switch *sw,
				   const char *run_dir, int *err)
{
	struct pv_nicport *np = calloc(1, sizeof(*np));
	int rc = -ENOMEM;

	if (!np)
		goto fail;
	np->loop = loop;
	np->sw = sw;
	np->cfd = np->mem_fd = np->memfd = -1;
	np->vi.doorbell_fd = np->vi.wake_fd = -1;
	np->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	np->mem = MAP_FAILED;
	np->port.ops = &nicport_ops;
	np->port.priv = np;
	np->port.br_port = -1;
	np->mtu = 1500;
	rc = -EINVAL;
	if (!run_dir || !*run_dir ||
	    snprintf(np->sock_path, sizeof(np->sock_path), "%s/%s", run_dir,
		     PV_NIC_SOCK_NAME) >= (int)sizeof(np->sock_path))
		goto fail;
	snprintf(np->port.name, sizeof(np->port.name), "nic:%.27s", run_dir);
	np->memfd = memfd_create("pvnetd-nicport", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (np->memfd < 0 || ftruncate(np->memfd, (off_t)NP_MEM_SIZE) < 0 ||
	    fcntl(np->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		rc = -errno;
		goto fail;
	}
	np->mem = mmap(NULL, NP_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, np->memfd, 0);
	np->scratch = malloc(PV_FRAME_MAX_LEN);
	rc = -ENOMEM;
	if (np->mem == MAP_FAILED || !np->scratch ||
	    pv_frameq_init(&np->bl, PV_NICPORT_BACKLOG, PV_NICPORT_BACKLOG_BYTES))
		goto fail;
	rc = np_connect(np);
	if (rc) {
		pv_warn("%s: cannot reach pvnet-nicd at %s: %s; retrying every second",
			np->port.name, np->sock_path, strerror(-rc));
		np->retry_logged = 1;
		np_retry_start(np);
		if (!np->retry_timer) {
			rc = -ENOMEM;
			goto fail;
		}
	} else {
		pv_info("%s: host VI %u on pvnet-nicd, mtu %u, %s: port on the bridge",
			np->port.name, np->vi_id, np->mtu, np_offloads(np));
	}
	return np;
fail:
	if (err)
		*err = rc;
	pv_nicport_close(np);
	return NULL;
}

/**
 * pv_nicport_close() - leave the switch and the loop; the NIC frees the VI
 * @np:		port, or NULL
 */
void pv_nicport_close(struct pv_nicport *np)
{
	if (!np)
		return;
	np_detach(np, "closed", 0);
	pv_info("%s: tx %llu frames, %llu dropped (no room %llu, too big %llu, bad %llu, NIC away %llu), "
		"%llu waited in the backlog (at most %llu at once); rx %llu frames, %llu dropped",
		np->port.name, (unsigned long long)np->port.st.tx_packets,
		(unsigned long long)np->port.st.tx_dropped, (unsigned long long)np->xs.tx_no_room,
		(unsigned long long)np->xs.tx_too_big, (unsigned long long)np->xs.tx_bad_frame,
		(unsigned long long)np->xs.tx_down, (unsigned long long)np->xs.tx_backlog,
		(unsigned long long)np->xs.tx_backlog_max, (unsigned long long)np->port.st.rx_packets,
		(unsigned long long)np->port.st.rx_dropped);
	if (np->retry_timer)
		pv_loop_timer_del(np->loop, np->retry_timer);
	if (np->mem != MAP_FAILED)
		munmap(np->mem, NP_MEM_SIZE);
	if (np->memfd >= 0)
		close(np->memfd);
	free(np->scratch);
	np_backlog_flush(np);
	pv_frameq_fini(&np->bl);
	free(np);
}

struct pv_port *pv_nicport_port(struct pv_nicport *np)
{
	return &np->port;
}

int pv_nicport_connected(const struct pv_nicport *np)
{
	return np->connected;
}

int pv_nicport_vi_stats(struct pv_nicport *np, struct pv_nic_vi_stats *out)
{
	if (!np->connected || np->cfd < 0)
		return -ENOTCONN;
	return nic_client_stats(np->cfd, np->vi_id, out);	/* a lost socket: its watch detaches */
}

void pv_nicport_stats(const struct pv_nicport *np, struct pv_nicport_stats *out)
{
	*out = np->xs;
	out->port = np->port.st;
	out->connected = np->connected;
	out->mtu = np->mtu;
}

/*
 * pv_nicport_test_tx_decide() - for unit tests (test_txrule.c): what np_xmit()
 * asks of a NIC of @mtu and @features for @f: the flags of the frame as
 * posted (0, PV_NIC_TX_F_CSUM, PV_NIC_TX_F_TSO with @mss), or -1 (its
 * checksum or segments made here, or dropped).
 */
int pv_nicport_test_tx_decide(uint32_t mtu, uint32_t features, const struct pv_frame *f,
			      uint16_t *mss);

int pv_nicport_test_tx_decide(uint32_t mtu, uint32_t features, const struct pv_frame *f,
			      uint16_t *mss)
{
	struct pv_nicport *np = calloc(1, sizeof(*np));
	uint32_t flags = 0;
	int rc = -1;

	*mss = 0;
	if (!np)
		return -1;
	np->mtu = mtu;
	np->features = features;
	switch (np_tx_path(np, f, &flags, mss)) {
	case NP_CHAIN:
		rc = (int)flags;
		break;
	case NP_ONE:
		rc = (f->flags & PV_FRAME_CSUM_PARTIAL) ? -1 : 0;
		break;
	default:
		break;
	}
	free(np);
	return rc;
}
