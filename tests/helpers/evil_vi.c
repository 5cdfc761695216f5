/* SPDX-License-Identifier: MIT */
/*
 * evil_vi.c - a hostile guest on the fast path.  It registers with pvnetd
 * as any guest does (netfront's library, a vif of its own, no TAP), and
 * when the backend offers the "pvnic" accelerator it attaches a frontend
 * half of its own under that name: the documented handshake
 * (docs/accel-pvnic.md: grants, accel-buf-refs, accelstate 3, the VI's
 * descriptors over hv.sock), nothing more.  From then on it owns a real VI
 * of pvnet-nicd and misbehaves on it, one mode at a time, as a script
 * orders (BADINPUTS classes 1, 2, 5, 8, 10, 13, 17-19, 26 and 27):
 *
 *   evil_vi --run-dir DIR [--name N] [--victim-mac MAC] [--dst-mac MAC]
 *           [--nr-bufs N] [--seconds S]
 *
 *   evil -> "READY <domid> <mac>"        the slow-path vif is connected
 *   evil -> "VI <vi id> <first buf id> <last buf id>"
 *                                        the VI is mapped (script: accel on)
 *   evil -> "VIDOWN"                     the backend took the VI away
 *   script -> "<mode> [ARGS]"            one of the modes below
 *   evil -> "POKE <n>"                   rxbad, fault rx, stale: make <n> frames
 *   script -> "poked"                    reach my MAC from the wire, then say so
 *   evil -> "RELEASED <ids>"             stale only: my buffers are given back;
 *   script -> "go"                       hand them to the victim, then say so
 *   evil -> "RESULT <mode> k=v ... verdict=ok|bad [why]"
 *   script -> "quit"                     clean close (or EOF, SIGTERM)
 *
 * Modes (what the NIC must do about each is in nic.h):
 *   legit N [MAC] N frames as itself to --dst-mac (or MAC: broadcast and
 *                 multicast too): all TX_DONE (control); RESULT's
 *                 t_storm counts those the NIC's storm control refused
 *   spoof N       N each of: source = victim, victim 802.1Q-tagged,
 *                 broadcast, zero (TX_SPOOF), and runts of 1..13 bytes
 *                 (TX_RUNT); none sent
 *   foreign ID..  TX descriptors naming the victim's buffer ids: BUF_OWNER
 *   scan          every buffer id of the table that is not ours: BUF_OWNER
 *   range         ids at and beyond the table's end: BUF_RANGE
 *   bounds        own buffer, offset + len past 2 KiB or len 0: BUF_BOUNDS;
 *                 undefined flags, reserved, mss: RESERVED; 2 KiB frame:
 *                 TX_TOO_BIG
 *   chains ID     TX chains and offloads: a good TSO chain (sent), one with
 *                 the victim's source (TX_SPOOF), ID mid-chain (BUF_OWNER,
 *                 rest TX_CHAIN), 41 descriptors (40 TX_TOO_BIG, the 41st
 *                 sent alone), impossible offloads (TX_OFFLOAD), offload
 *                 flags past the first (RESERVED), a chain left cut off at
 *                 tx_prod (untouched until completed)
 *   rxbad ID..    RX descriptors of foreign ids, beyond the table, out of
 *                 bounds, flagged, too small; a poke per descriptor: each
 *                 refused with its reason, nothing received
 *   snoop S [MIN] all RX buffers posted for S seconds: count frames not
 *                 addressed to us (must be 0), and to the victim (0); and
 *                 at least MIN of our own
 *   inject N      N valid frames to the victim's MAC, N to our own: sent,
 *                 and nothing comes back to us
 *   rxstall S     all RX buffers posted, then no event read for S seconds
 *                 (the script floods our MAC): exactly the posted ones used
 *   doorbell S    the doorbell written without pause for S seconds
 *   evqstall S    TX posted and the doorbell rung for S seconds, events
 *                 never read: the event queue fills to exactly its size,
 *                 never overflows; afterwards reading them resumes TX
 *   txflood S [MAC]  valid 1514-byte frames (to MAC: e.g. broadcast) as
 *                 fast as the VI takes them
 *   peek DOMID    read the victim's xenstore keys (accel-buf-ids, refs)
 *   scribble      lies in every field the NIC owns (tx_cons, rx_cons,
 *                 evq_prod, info), then 20 frames: sent, the lies overwritten
 *   flap N        N handshake rounds (accelstate 1, 3) as fast as xenstore
 *                 takes them; then the VI again
 *   badrefs       accel-buf-refs the backend must refuse (empty, beyond the
 *                 table, reserved, repeated, not numbers, trailing space,
 *                 read-only, granted to another domain, one bad among good,
 *                 one too many), each followed by a good round
 *   shrink        ftruncate every memfd it holds: all sealed
 *   stale         RX and TX descriptors of its buffers left in the rings
 *                 while the backend takes them back ("RELEASED <ids>"), the
 *                 script gives them to the victim and says "go"; then a
 *                 doorbell and a poke: every stale descriptor refused
 *   fault tx|rx|evq  an impossible index: the NIC disables the VI
 *
 * Flood modes spin (bounded by S, default at most --seconds); everything
 * else sleeps on the VI's wake-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "accel/pvnic.h"
#include "front/netfront.h"
#include "guest/guest.h"
#include "guest/xsc.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "nic/nic_client.h"
#include "pvnet/accel.h"
#include "pvnet/xen.h"

/* The buffers, split as the pvnic frontend splits them (pvnic.h, docs/accel-pvnic.md). */
#define EV_K		PVNIC_NR_PAGES
#define EV_NBUF		(EV_K * PVNIC_BUFS_PER_PAGE)
#define EV_NRX		PVNIC_NR_RX		/* buffers 0 .. NR_RX-1: RX */
#define EV_NTX		(EV_NBUF - EV_NRX)	/* buffers NR_RX .. 2K-1: TX */
#define EV_PATH_MAX	256
#define EV_LINE_MAX	8192
#define EV_MAX_ARGS	(EV_NBUF + 8)		/* "foreign" takes all of the victim's ids */
#define EV_ETHERTYPE	0x88b5
#define EV_MAX_SECS	30
#define EV_CONNECT_MS	15000

_Static_assert(EV_NRX > 0 && EV_NRX <= PV_NIC_RXQ_SIZE && EV_NTX > 16 &&
	       EV_NTX <= PV_NIC_TXQ_SIZE, "evil's RX and TX buffers fit the VI's rings");
_Static_assert(EV_MAX_ARGS * 11 < EV_LINE_MAX, "a line of all the victim's ids fits");

enum ev_phase { EV_NONE, EV_WAIT_BE, EV_VI };

/* What the NIC answered during one mode. */
struct ev_tally {
	uint64_t tx_done, rx, rx_notmine, rx_victim;
	uint64_t foreign_done;		/* an event naming a buffer id that is not ours */
	uint64_t bogus;			/* events of unknown type or queue */
	uint64_t err[2][PV_NIC_ERR_MAX + 1];	/* [queue][code], code >= MAX at MAX */
};

struct evil {
	struct pv_loop *loop;
	struct pv_netfront *nf;
	struct pv_accel_front_dev *dev;
	struct pv_guest *g;
	struct xsc *xs;
	enum ev_phase phase;
	int up, ready_printed, quit;
	uint8_t mac[6];
	int have_mac;
	char be[EV_PATH_MAX], fe[EV_PATH_MAX];

	/* the VI */
	int refs[EV_K];
	char refs_s[EV_K * 11 + 1];	/* "R1 ... RK", as written in accel-buf-refs */
	uint8_t *buf[EV_NBUF];
	uint32_t id[EV_NBUF];
	struct vi_user u;
	int fds[PVNIC_NR_FDS];
	uint32_t tx_out, rx_out;	/* posted, no event yet */
	unsigned int tx_next;
	int rx_repost;			/* snoop: post an RX buffer again once read */
	int in_mode, down_pending;	/* the backend took the VI during a mode */
	struct ev_tally t;

	/* options */
	uint8_t victim[6], dst[6];
	uint32_t nr_bufs;
	unsigned int max_secs;

	/* stdin, line by line */
	char in[EV_LINE_MAX];
	size_t in_len;
	int in_eof;
};

static const uint8_t ev_blackhole[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

static uint64_t ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ev_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ev_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int ev_key(char *buf, const char *dir, const char *key)
{
	return (size_t)snprintf(buf, EV_PATH_MAX, "%s/%s", dir, key) >= EV_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* ---- the VI: descriptors and events ---- */

static int ev_buf_index(const struct evil *ev, uint32_t id)
{
	for (int j = 0; j < EV_NBUF; j++)
		if (ev->id[j] == id)
			return j;
	return -1;
}

static void ev_rx_post(struct evil *ev, const struct pv_nic_desc *d)
{
	ev->u.rxq[ev->u.rx_prod & (PV_NIC_RXQ_SIZE - 1)] = *d;
	ev->u.rx_prod++;
	__atomic_store_n(&ev->u.sh->rx_prod.v, ev->u.rx_prod, __ATOMIC_RELEASE);
	ev->rx_out++;
}

static void ev_tx_post(struct evil *ev, const struct pv_nic_desc *d)
{
	ev->u.txq[ev->u.tx_prod & (PV_NIC_TXQ_SIZE - 1)] = *d;
	ev->u.tx_prod++;
	__atomic_store_n(&ev->u.sh->tx_prod.v, ev->u.tx_prod, __ATOMIC_RELEASE);
	ev->tx_out++;
}

static void ev_ring(struct evil *ev)
{
	vi_user_ring(&ev->u);
}

/* An RX event: is the frame for us?  Then the buffer goes back if snooping. */
static void ev_on_rx(struct evil *ev, const struct pv_nic_event *e)
{
	int j = ev_buf_index(ev, e->buf_id);
	const uint8_t *f;

	if (j < 0) {
		ev->t.foreign_done++;	/* the NIC wrote a buffer that is not ours */
		return;
	}
	ev->t.rx++;
	f = ev->buf[j];
	if (e->len >= 14 && memcmp(f, ev->mac, 6)) {
		ev->t.rx_notmine++;
		if (!memcmp(f, ev->victim, 6))
			ev->t.rx_victim++;
	}
	if (ev->rx_repost)
		ev_rx_post(ev, &(struct pv_nic_desc){ .buf_id = e->buf_id, .len = PV_NIC_BUF_SIZE });
}

/* Read every event there is; returns how many. */
static unsigned int ev_events(struct evil *ev)
{
	struct pv_nic_event e;
	unsigned int n = 0;

	while (vi_user_event(&ev->u, &e)) {
		n++;
		if (e.queue > 1) {
			ev->t.bogus++;
			continue;
		}
		if (e.queue == 0 && ev->tx_out)
			ev->tx_out--;
		if (e.queue == 1 && ev->rx_out)
			ev->rx_out--;
		switch (e.type) {
		case PV_NIC_EV_TX_DONE:
			ev->t.tx_done++;
			if (ev_buf_index(ev, e.buf_id) < 0)
				ev->t.foreign_done++;	/* it sent bytes that are not ours */
			break;
		case PV_NIC_EV_RX:
			ev_on_rx(ev, &e);
			break;
		case PV_NIC_EV_ERROR:
			ev->t.err[e.queue][e.code < PV_NIC_ERR_MAX ? e.code : PV_NIC_ERR_MAX]++;
			break;
		default:
			ev->t.bogus++;
		}
	}
	return n;
}

/* Keep the slow path (netfront, xenstore) served without waiting. */
static void ev_service(struct evil *ev)
{
	pv_loop_once(ev->loop, 0);
}

/* Sleep on the wake-up until an event comes or @ms pass. */
static void ev_sleep(struct evil *ev, int ms)
{
	struct pollfd p = { .fd = ev->u.wake_fd, .events = POLLIN };
	uint64_t v;

	if (vi_user_arm(&ev->u))
		return;
	if (poll(&p, 1, ms) > 0 && read(ev->u.wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: someone read it first; nothing lost, the events are in the queue */
	}
}

/* Read events until every posted TX (and RX, with @rx) descriptor has its own, or @ms. */
static int ev_wait(struct evil *ev, unsigned int ms, int rx)
{
	uint64_t end = ev_now_ms() + ms;

	for (;;) {
		/* After reading events with TX outstanding: ring, the NIC may have stalled on us. */
		if (ev_events(ev) && ev->tx_out)
			ev_ring(ev);
		if (!ev->tx_out && (!rx || !ev->rx_out))
			return 0;
		if (ev_now_ms() >= end || vi_user_fault(&ev->u))
			return -ETIMEDOUT;
		ev_service(ev);
		ev_sleep(ev, 5);
	}
}

/* Room for one more TX descriptor: wait for the NIC when the ring is full. */
static int ev_tx_room(struct evil *ev)
{
	if (vi_user_tx_space(&ev->u) > 0 && ev->tx_out < PV_NIC_EVQ_SIZE / 2)
		return 0;
	ev_ring(ev);
	return ev_wait(ev, 2000, 0);
}

/* One frame copied into the next TX buffer (none of them in flight) and posted. */
static int ev_send(struct evil *ev, const uint8_t *frame, uint16_t len)
{
	unsigned int j;

	if (ev->tx_out >= EV_NTX) {
		ev_ring(ev);
		if (ev_wait(ev, 2000, 0))
			return -ETIMEDOUT;
	}
	if (ev_tx_room(ev))
		return -ETIMEDOUT;
	j = EV_NRX + ev->tx_next++ % EV_NTX;
	memcpy(ev->buf[j], frame, len);
	ev_tx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = len });
	return 0;
}

/* A raw TX descriptor as the mode wants it. */
static int ev_send_desc(struct evil *ev, const struct pv_nic_desc *d)
{
	if (ev_tx_room(ev))
		return -ETIMEDOUT;
	ev_tx_post(ev, d);
	return 0;
}

/* A frame of @len bytes, EtherType 0x88b5 (802.1Q-tagged with @vlan >= 0), "EVILVI @tag". */
static void ev_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, int vlan,
		     const char *tag, uint16_t len)
{
	uint16_t o = 12;

	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vlan >= 0) {
		f[o++] = 0x81;
		f[o++] = 0x00;
		f[o++] = (uint8_t)(vlan >> 8 & 0x0f);
		f[o++] = (uint8_t)vlan;
	}
	f[o++] = EV_ETHERTYPE >> 8;
	f[o++] = EV_ETHERTYPE & 0xff;
	snprintf((char *)f + o, (size_t)(len - o), "EVILVI %s", tag);
}

/* ---- the result line ---- */

static const char *const ev_err_names[PV_NIC_ERR_MAX + 1] = {
	[PV_NIC_ERR_NONE] = "none", [PV_NIC_ERR_BUF_RANGE] = "range",
	[PV_NIC_ERR_BUF_OWNER] = "owner", [PV_NIC_ERR_BUF_BOUNDS] = "bounds",
	[PV_NIC_ERR_RESERVED] = "reserved", [PV_NIC_ERR_TX_RUNT] = "runt",
	[PV_NIC_ERR_TX_SPOOF] = "spoof", [PV_NIC_ERR_TX_TOO_BIG] = "toobig",
	[PV_NIC_ERR_TX_PORT] = "port", [PV_NIC_ERR_RX_TOO_BIG] = "rxtoobig",
	[PV_NIC_ERR_TX_OFFLOAD] = "offload", [PV_NIC_ERR_TX_CHAIN] = "chain",
	[PV_NIC_ERR_TX_STORM] = "storm",
	[PV_NIC_ERR_MAX] = "other",
};

static uint64_t ev_errs(const struct evil *ev, int q)
{
	uint64_t s = 0;

	for (int c = 0; c <= PV_NIC_ERR_MAX; c++)
		s += ev->t.err[q][c];
	return s;
}

static void ev_result(struct evil *ev, const char *mode, const char *extra, int ok,
		      const char *why)
{
	char line[2048];
	size_t o = 0;

	o += (size_t)snprintf(line + o, sizeof(line) - o,
			      "RESULT %s tx_done=%" PRIu64 " rx=%" PRIu64 " rx_notmine=%" PRIu64
			      " rx_victim=%" PRIu64 " foreign_done=%" PRIu64 " bogus=%" PRIu64
			      " fault=%u", mode, ev->t.tx_done, ev->t.rx, ev->t.rx_notmine,
			      ev->t.rx_victim, ev->t.foreign_done, ev->t.bogus,
			      ev->phase == EV_VI ? vi_user_fault(&ev->u) : 0);
	for (int q = 0; q < 2; q++)
		for (int c = 1; c <= PV_NIC_ERR_MAX && o < sizeof(line); c++)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %c_%s=%" PRIu64,
					      q ? 'r' : 't', ev_err_names[c], ev->t.err[q][c]);
	if (o < sizeof(line))
		snprintf(line + o, sizeof(line) - o, "%s%s verdict=%s%s%s", *extra ? " " : "",
			 extra, ok ? "ok" : "bad", !ok && why && *why ? " " : "",
			 !ok && why ? why : "");
	ev_say("%s", line);
}

/* ---- modes ---- */

struct ev_args {
	int argc;
	char *argv[EV_MAX_ARGS];
};

static unsigned long ev_arg_ul(const struct ev_args *a, int i, unsigned long dflt,
			       unsigned long max)
{
	char *end;
	unsigned long v;

	if (i >= a->argc)
		return dflt;
	errno = 0;
	v = strtoul(a->argv[i], &end, 0);
	if (errno || *end || end == a->argv[i])
		return dflt;
	return v > max ? max : v;
}

/* The ids in argv[1..]: at most @max, numbers only. */
static unsigned int ev_arg_ids(const struct ev_args *a, uint32_t *ids, unsigned int max)
{
	unsigned int n = 0;

	for (int i = 1; i < a->argc && n < max; i++) {
		char *end;
		unsigned long v = strtoul(a->argv[i], &end, 10);

		if (!*end && end != a->argv[i] && v <= 0xffffffffu)
			ids[n++] = (uint32_t)v;
	}
	return n;
}

static int ev_flush(struct evil *ev)
{
	ev_ring(ev);
	return ev_wait(ev, 3000, 0);
}

/* argv[@i], a MAC, or --dst-mac's. */
static const uint8_t *ev_arg_mac(const struct evil *ev, const struct ev_args *a, int i,
				 uint8_t *buf)
{
	return i < a->argc && !pv_netfront_mac_parse(a->argv[i], buf) ? buf : ev->dst;
}

static void mode_legit(struct evil *ev, const struct ev_args *a)
{
	unsigned long n = ev_arg_ul(a, 1, 50, 1000000);
	uint8_t f[60], dbuf[6];
	const uint8_t *dst = ev_arg_mac(ev, a, 2, dbuf);
	char extra[64];

	for (unsigned long i = 0; i < n; i++) {
		ev_frame(f, dst, ev->mac, -1, "legit", sizeof(f));
		if (ev_send(ev, f, sizeof(f)))
			break;
	}
	ev_flush(ev);
	snprintf(extra, sizeof(extra), "sent=%lu", n);
	ev_result(ev, "legit", extra,
		  ev->t.tx_done + ev->t.err[0][PV_NIC_ERR_TX_STORM] == n &&
			  ev_errs(ev, 0) == ev->t.err[0][PV_NIC_ERR_TX_STORM] && !ev->t.foreign_done,
		  ev->t.tx_done == n ? "" : "not all sent");
}

static void mode_spoof(struct evil *ev, const struct ev_args *a)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6];
	unsigned long n = ev_arg_ul(a, 1, 50, 10000);
	uint8_t f[64];
	char extra[64];
	int ok;

	for (unsigned long i = 0; i < n; i++) {
		ev_frame(f, ev->dst, ev->victim, -1, "spoof", 60);
		ev_send(ev, f, 60);
		ev_frame(f, ev->dst, ev->victim, 42, "spoof-vlan", 64);
		ev_send(ev, f, 64);
		ev_frame(f, ev->dst, bcast, -1, "spoof-bcast", 60);
		ev_send(ev, f, 60);
		ev_frame(f, ev->dst, zero, -1, "spoof-zero", 60);
		ev_send(ev, f, 60);
		/* A runt carrying as much of our own source as fits: still a runt. */
		ev_frame(f, ev->dst, ev->mac, -1, "runt", 60);
		ev_send(ev, f, (uint16_t)(1 + i % 13));
	}
	ev_flush(ev);
	snprintf(extra, sizeof(extra), "sent=%lu expect_spoof=%lu expect_runt=%lu", 5 * n, 4 * n, n);
	ok = ev->t.err[0][PV_NIC_ERR_TX_SPOOF] == 4 * n && ev->t.err[0][PV_NIC_ERR_TX_RUNT] == n &&
	     ev->t.tx_done == 0 && ev_errs(ev, 0) == 5 * n;
	ev_result(ev, "spoof", extra, ok, ok ? "" : "some spoofed or runt frame not refused as such");
}

/* TX descriptors naming @ids (not ours): each must be refused as @want. */
static void ev_tx_ids(struct evil *ev, const char *mode, const uint32_t *ids, unsigned int n,
		      enum pv_nic_err want)
{
	char extra[64];
	unsigned int sent = 0;
	int ok;

	for (unsigned int i = 0; i < n; i++) {
		if (ev_buf_index(ev, ids[i]) >= 0)
			continue;	/* ours: not an attack */
		if (ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = ids[i], .len = 60 }))
			break;
		sent++;
		if (sent % 256 == 0)
			ev_flush(ev);
	}
	ev_flush(ev);
	snprintf(extra, sizeof(extra), "posted=%u", sent);
	ok = sent > 0 && ev->t.err[0][want] == sent && ev->t.tx_done == 0 && !ev->tx_out;
	ev_result(ev, mode, extra, ok, ok ? "" : "a descriptor was not refused as it should be");
}

static void mode_foreign(struct evil *ev, const struct ev_args *a)
{
	uint32_t ids[EV_MAX_ARGS];
	unsigned int n = ev_arg_ids(a, ids, EV_MAX_ARGS);

	ev_tx_ids(ev, "foreign", ids, n, PV_NIC_ERR_BUF_OWNER);
}

static void mode_scan(struct evil *ev, const struct ev_args *a)
{
	uint32_t nr = (uint32_t)ev_arg_ul(a, 1, ev->nr_bufs, 1u << 20), *ids;
	unsigned int n = 0;

	ids = calloc(nr ? nr : 1, sizeof(*ids));
	if (!ids || !nr) {
		ev_result(ev, "scan", "", 0, "no table size (--nr-bufs)");
		free(ids);
		return;
	}
	for (uint32_t i = 0; i < nr; i++)
		if (ev_buf_index(ev, i) < 0)
			ids[n++] = i;
	ev_tx_ids(ev, "scan", ids, n, PV_NIC_ERR_BUF_OWNER);
	free(ids);
}

static void mode_range(struct evil *ev, const struct ev_args *a)
{
	uint32_t nr = (uint32_t)ev_arg_ul(a, 1, ev->nr_bufs, 0xffffffffu);
	uint32_t ids[6] = { 0x7fffffffu, 0xfffffffeu, 0xffffffffu, nr, nr + 1, nr + 1000 };

	ev_tx_ids(ev, "range", ids, nr ? 6 : 3, PV_NIC_ERR_BUF_RANGE);
}

static void mode_bounds(struct evil *ev, const struct ev_args *a)
{
	static const uint16_t b[][2] = {	/* offset, len */
		{ 2000, 100 }, { 0, 2049 }, { 2048, 1 }, { 65535, 65535 }, { 0, 0 }, { 1, 2048 },
		{ 2047, 2 },
	};
	const unsigned int nb = sizeof(b) / sizeof(b[0]);
	uint32_t mine = ev->id[EV_NRX];
	uint8_t *p = ev->buf[EV_NRX];
	char extra[96];
	int ok;

	(void)a;
	for (unsigned int i = 0; i < nb; i++)
		ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = mine, .offset = b[i][0],
							 .len = b[i][1] });
	/* A valid frame of ours behind each: only the descriptor's extra bits are wrong. */
	ev_frame(p, ev->dst, ev->mac, -1, "reserved", 60);
	ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = mine, .len = 60, .flags = 0x100 });
	ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = mine, .len = 60, .flags = 0x80000000u });
	ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = mine, .len = 60, .reserved = 1 });
	ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = mine, .len = 60, .mss = 1000 });
	ev_flush(ev);
	/* The whole buffer as one frame of ours: longer than the port takes. */
	ev_frame(p, ev->dst, ev->mac, -1, "toobig", PV_NIC_BUF_SIZE);
	ev_send_desc(ev, &(struct pv_nic_desc){ .buf_id = mine, .len = PV_NIC_BUF_SIZE });
	ev_flush(ev);
	snprintf(extra, sizeof(extra), "expect_bounds=%u expect_reserved=4 expect_toobig=1", nb);
	ok = ev->t.err[0][PV_NIC_ERR_BUF_BOUNDS] == nb && ev->t.err[0][PV_NIC_ERR_RESERVED] == 4 &&
	     ev->t.err[0][PV_NIC_ERR_TX_TOO_BIG] == 1 && ev->t.tx_done == 0 &&
	     ev_errs(ev, 0) == nb + 5;
	ev_result(ev, "bounds", extra, ok, ok ? "" : "a descriptor was not refused as it should be");
}

/* ---- chains: TX chains and offloads (nic.h version 2) ---- */

#define EV_SRC_IP	0xc6120042u	/* 198.18.0.66: evil has no address; only ext's .100 is real */
#define EV_DST_IP	0xc6120064u	/* 198.18.0.100 */
#define EV_TCP_PORT	9		/* discard: nothing listens in ext */

static void ev_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void ev_put32(uint8_t *p, uint32_t v)
{
	ev_put16(p, v >> 16);
	ev_put16(p + 2, v);
}

/*
 * An IPv4 frame from @src to --dst-mac: TCP (@proto 6) or UDP (17) with
 * @payload bytes, ending where its datagram ends (what CSUM and TSO need).
 * The IP header checksum is right; the L4 one is left for the NIC.
 */
static uint32_t ev_ip_frame(const struct evil *ev, uint8_t *f, const uint8_t *src, uint8_t proto,
			    uint32_t payload)
{
	uint32_t l4 = proto == 6 ? 20 : 8, len = 14 + 20 + l4 + payload, s = 0;
	uint8_t *ip = f + 14, *th = ip + 20;

	memset(f, 0, len);
	memcpy(f, ev->dst, 6);
	memcpy(f + 6, src, 6);
	ev_put16(f + 12, 0x0800);
	ip[0] = 0x45;
	ev_put16(ip + 2, 20 + l4 + payload);
	ev_put16(ip + 4, 0x4242);
	ev_put16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = proto;
	ev_put32(ip + 12, EV_SRC_IP);
	ev_put32(ip + 16, EV_DST_IP);
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	ev_put16(ip + 10, ~s & 0xffff);
	ev_put16(th, 40000);
	ev_put16(th + 2, EV_TCP_PORT);
	if (proto == 6) {
		ev_put32(th + 4, 1);
		th[12] = 5 << 4;
		th[13] = 0x18;		/* ACK PSH */
		ev_put16(th + 14, 65535);
	} else {
		ev_put16(th + 4, l4 + payload);
	}
	for (uint32_t i = 0; i < payload; i++)
		th[l4 + i] = (uint8_t)('a' + i % 26);
	return len;
}

/* An ARP request as ourselves (42 bytes). */
static uint32_t ev_arp_frame(const struct evil *ev, uint8_t *f)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	memset(f, 0, 42);
	memcpy(f, bcast, 6);
	memcpy(f + 6, ev->mac, 6);
	ev_put16(f + 12, 0x0806);
	ev_put16(f + 14, 1);
	ev_put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	ev_put16(f + 20, 1);
	memcpy(f + 22, ev->mac, 6);
	ev_put32(f + 28, EV_SRC_IP);
	ev_put32(f + 38, EV_DST_IP);
	return 42;
}

/*
 * Split @len bytes of @f over @nd of our TX buffers (none in flight) as one
 * chain: every descriptor but the last MORE, @flags and @mss on the first.
 */
static void ev_chain_build(struct evil *ev, const uint8_t *f, uint32_t len, unsigned int nd,
			   uint32_t flags, uint16_t mss, struct pv_nic_desc *d)
{
	uint32_t off = 0;

	for (unsigned int i = 0; i < nd; i++) {
		uint32_t l = len / nd + (i < len % nd);
		unsigned int j = EV_NRX + ev->tx_next++ % EV_NTX;

		memcpy(ev->buf[j], f + off, l);
		d[i] = (struct pv_nic_desc){ .buf_id = ev->id[j], .len = (uint16_t)l,
					     .flags = i + 1 < nd ? PV_NIC_TX_F_MORE : 0 };
		off += l;
	}
	d[0].flags |= flags;
	d[0].mss = mss;
}

static void ev_post_all(struct evil *ev, const struct pv_nic_desc *d, unsigned int nd)
{
	for (unsigned int i = 0; i < nd; i++)
		ev_send_desc(ev, &d[i]);
}

#define EV_D(before, f)	(ev->t.f - (before).f)
#define EV_DE(before, c) (ev->t.err[0][c] - (before).err[0][c])

/*
 * chains VICTIM_ID: TX chains and offloads through the whole stack.
 *   1 a TSO chain of ours (5 descriptors, 8000 bytes of TCP payload, mss
 *     1000) to --dst-mac: sent, TX_DONE on each (control);
 *   2 the same with the victim's source MAC: TX_SPOOF on all 5;
 *   3 a 3-descriptor chain whose middle names VICTIM_ID: BUF_OWNER on it,
 *     TX_CHAIN on the other two;
 *   4 41 descriptors of MORE (each buffer a valid 60-byte frame of ours):
 *     the first 40 TX_TOO_BIG, the 41st a frame of its own: sent;
 *   5 TSO with mss 0 (1 descriptor), TSO on UDP (2), CSUM on ARP (1):
 *     TX_OFFLOAD on all 4 descriptors, 3 frames;
 *   6 CSUM, and TSO with an mss, on the second descriptor of a chain:
 *     RESERVED on it, TX_CHAIN on the first (2 chains);
 *   7 an incomplete chain (2 of 3 descriptors, the last posted with MORE)
 *     at tx_prod, doorbell, 1.5 s: not consumed; then its third and a
 *     single frame: both sent (4 TX_DONE).
 * Frames that go: the TSO chain, the 41st, the completed chain (180 bytes),
 * the single (60): to ext, 3 of them EtherType 0x88b5.
 */
static void mode_chains(struct evil *ev, const struct ev_args *a)
{
	static uint8_t f[PV_NIC_TSO_MAX];
	struct pv_nic_desc d[PV_NIC_TX_MAX_FRAGS + 1];
	uint32_t victim_id = (uint32_t)ev_arg_ul(a, 1, 0xffffffffu, 0xffffffffu), len;
	struct ev_tally s;
	char extra[512];
	int ok[8] = { 0 }, all = 1;
	uint64_t held_ev = 0, late;
	uint32_t cons0, cons1;
	const char *why = "";

	if (ev_buf_index(ev, victim_id) >= 0 || victim_id == 0xffffffffu) {
		ev_result(ev, "chains", "", 0, "no victim buffer id given");
		return;
	}
	ev_flush(ev);

	/* 1: the control */
	s = ev->t;
	len = ev_ip_frame(ev, f, ev->mac, 6, 8000);
	ev_chain_build(ev, f, len, 5, PV_NIC_TX_F_TSO, 1000, d);
	ev_post_all(ev, d, 5);
	ev_flush(ev);
	ok[1] = EV_D(s, tx_done) == 5 && ev_errs(ev, 0) == 0;

	/* 2: spoofed headers */
	s = ev->t;
	len = ev_ip_frame(ev, f, ev->victim, 6, 8000);
	ev_chain_build(ev, f, len, 5, PV_NIC_TX_F_TSO, 1000, d);
	ev_post_all(ev, d, 5);
	ev_flush(ev);
	ok[2] = EV_D(s, tx_done) == 0 && EV_DE(s, PV_NIC_ERR_TX_SPOOF) == 5 && ev_errs(ev, 0) == 5;

	/* 3: the victim's buffer in the middle */
	s = ev->t;
	ev_frame(f, ev->dst, ev->mac, -1, "chain-owner", 180);
	ev_chain_build(ev, f, 180, 3, 0, 0, d);
	d[1].buf_id = victim_id;
	ev_post_all(ev, d, 3);
	ev_flush(ev);
	ok[3] = EV_D(s, tx_done) == 0 && EV_DE(s, PV_NIC_ERR_BUF_OWNER) == 1 &&
		EV_DE(s, PV_NIC_ERR_TX_CHAIN) == 2 && ev_errs(ev, 0) == 5 + 3;

	/* 4: one descriptor too many */
	s = ev->t;
	for (unsigned int i = 0; i <= PV_NIC_TX_MAX_FRAGS; i++) {
		unsigned int j = EV_NRX + ev->tx_next++ % EV_NTX;

		ev_frame(ev->buf[j], ev->dst, ev->mac, -1, "chain-41", 60);
		d[i] = (struct pv_nic_desc){ .buf_id = ev->id[j], .len = 60,
					     .flags = i < PV_NIC_TX_MAX_FRAGS ? PV_NIC_TX_F_MORE : 0 };
	}
	ev_post_all(ev, d, PV_NIC_TX_MAX_FRAGS + 1);
	ev_flush(ev);
	ok[4] = EV_D(s, tx_done) == 1 && EV_DE(s, PV_NIC_ERR_TX_TOO_BIG) == PV_NIC_TX_MAX_FRAGS &&
		ev_errs(ev, 0) == 8 + PV_NIC_TX_MAX_FRAGS;

	/* 5: offloads the frame cannot have */
	s = ev->t;
	len = ev_ip_frame(ev, f, ev->mac, 6, 1000);
	ev_chain_build(ev, f, len, 1, PV_NIC_TX_F_TSO, 0, d);
	ev_post_all(ev, d, 1);
	len = ev_ip_frame(ev, f, ev->mac, 17, 1400);
	ev_chain_build(ev, f, len, 2, PV_NIC_TX_F_TSO, 1000, d);
	ev_post_all(ev, d, 2);
	len = ev_arp_frame(ev, f);
	ev_chain_build(ev, f, len, 1, PV_NIC_TX_F_CSUM, 0, d);
	ev_post_all(ev, d, 1);
	ev_flush(ev);
	ok[5] = EV_D(s, tx_done) == 0 && EV_DE(s, PV_NIC_ERR_TX_OFFLOAD) == 4 &&
		ev_errs(ev, 0) == 8 + PV_NIC_TX_MAX_FRAGS + 4;

	/* 6: offload flags on a later descriptor */
	s = ev->t;
	len = ev_ip_frame(ev, f, ev->mac, 6, 1000);
	ev_chain_build(ev, f, len, 2, 0, 0, d);
	d[1].flags |= PV_NIC_TX_F_CSUM;
	ev_post_all(ev, d, 2);
	ev_chain_build(ev, f, len, 2, 0, 0, d);
	d[1].flags |= PV_NIC_TX_F_TSO;
	d[1].mss = 1000;
	ev_post_all(ev, d, 2);
	ev_flush(ev);
	ok[6] = EV_D(s, tx_done) == 0 && EV_DE(s, PV_NIC_ERR_RESERVED) == 2 &&
		EV_DE(s, PV_NIC_ERR_TX_CHAIN) == 2 && ev_errs(ev, 0) == 8 + PV_NIC_TX_MAX_FRAGS + 8;

	/* 7: a chain cut off at tx_prod, then completed */
	s = ev->t;
	ev_frame(f, ev->dst, ev->mac, -1, "chain-held", 180);
	ev_chain_build(ev, f, 180, 3, 0, 0, d);
	cons0 = __atomic_load_n(&ev->u.sh->tx_cons.v, __ATOMIC_ACQUIRE);
	ev_post_all(ev, d, 2);
	ev_ring(ev);
	for (uint64_t end = ev_now_ms() + 1500; ev_now_ms() < end;) {
		held_ev += ev_events(ev);
		ev_service(ev);
		ev_sleep(ev, 20);
		ev_ring(ev);	/* "did you forget me?" */
	}
	held_ev += ev_events(ev);
	cons1 = __atomic_load_n(&ev->u.sh->tx_cons.v, __ATOMIC_ACQUIRE);
	ev_send_desc(ev, &d[2]);
	ev_frame(f, ev->dst, ev->mac, -1, "chain-after", 60);
	ev_send(ev, f, 60);
	ev_flush(ev);
	late = EV_D(s, tx_done);
	ok[7] = held_ev == 0 && cons1 == cons0 && late == 4 && ev_errs(ev, 0) == 8 + PV_NIC_TX_MAX_FRAGS + 8;

	for (int i = 1; i <= 7; i++)
		if (!ok[i] && all) {
			static const char *const what[8] = {
				"", "the good TSO chain was not sent whole",
				"the spoofed TSO chain was not refused TX_SPOOF on every descriptor",
				"the victim's buffer in a chain: not BUF_OWNER + TX_CHAIN",
				"the 41-descriptor chain: not 40 TX_TOO_BIG and the 41st sent",
				"impossible offloads not refused TX_OFFLOAD on every descriptor",
				"offload flags on a later descriptor not RESERVED + TX_CHAIN",
				"the incomplete chain was touched before it was completed, or not sent after",
			};
			all = 0;
			why = what[i];
		}
	snprintf(extra, sizeof(extra),
		 "ok=%d%d%d%d%d%d%d held_events=%" PRIu64 " held_cons=%d after=%" PRIu64
		 " expect_done=10 expect_spoof=5 expect_owner=1 expect_chain=4 expect_toobig=40"
		 " expect_offload=4 expect_reserved=2",
		 ok[1], ok[2], ok[3], ok[4], ok[5], ok[6], ok[7], held_ev, cons1 == cons0, late);
	ev_result(ev, "chains", extra, all && ev->t.tx_done == 10 && !ev->t.foreign_done && !ev->t.bogus,
		  all ? "some descriptor got no event or a wrong one" : why);
}

/* Wait for a line @want on stdin (the script's answer); 0 or -ETIMEDOUT. */
static int ev_expect_line(struct evil *ev, const char *want, unsigned int ms);
static void ev_vi_down(struct evil *ev);
static void ev_vi_drop(struct evil *ev, int announce);
static int ev_be_state(struct evil *ev);
static int ev_grab_vi(struct evil *ev, int announce);

static void mode_rxbad(struct evil *ev, const struct ev_args *a)
{
	uint32_t foreign[8];
	unsigned int nf = ev_arg_ids(a, foreign, 8), n = 0;
	struct pv_nic_desc d[16];
	char extra[160];
	int ok;

	if (ev->rx_out) {
		ev_result(ev, "rxbad", "", 0, "own RX descriptors still posted (run rxbad before snoop)");
		return;
	}
	for (unsigned int i = 0; i < nf; i++)
		d[n++] = (struct pv_nic_desc){ .buf_id = foreign[i], .len = PV_NIC_BUF_SIZE };
	d[n++] = (struct pv_nic_desc){ .buf_id = 0xffffffffu, .len = PV_NIC_BUF_SIZE };
	d[n++] = (struct pv_nic_desc){ .buf_id = ev->nr_bufs ? ev->nr_bufs : 0x7fffffffu,
				       .len = PV_NIC_BUF_SIZE };
	d[n++] = (struct pv_nic_desc){ .buf_id = ev->id[0], .offset = 1024, .len = PV_NIC_BUF_SIZE };
	d[n++] = (struct pv_nic_desc){ .buf_id = ev->id[0], .len = 0 };
	d[n++] = (struct pv_nic_desc){ .buf_id = ev->id[0], .len = PV_NIC_BUF_SIZE, .flags = 1 };
	d[n++] = (struct pv_nic_desc){ .buf_id = ev->id[1], .len = 20 };	/* room for 20 bytes */
	for (unsigned int i = 0; i < n; i++)
		ev_rx_post(ev, &d[i]);
	ev_say("POKE %u", n);
	if (ev_expect_line(ev, "poked", 30000)) {
		ev_result(ev, "rxbad", "", 0, "no 'poked' from the script");
		return;
	}
	ev_wait(ev, 3000, 1);
	snprintf(extra, sizeof(extra),
		 "posted=%u expect_owner=%u expect_range=2 expect_bounds=2 expect_reserved=1 expect_rxtoobig=1",
		 n, nf);
	ok = ev->t.err[1][PV_NIC_ERR_BUF_OWNER] == nf && ev->t.err[1][PV_NIC_ERR_BUF_RANGE] == 2 &&
	     ev->t.err[1][PV_NIC_ERR_BUF_BOUNDS] == 2 && ev->t.err[1][PV_NIC_ERR_RESERVED] == 1 &&
	     ev->t.err[1][PV_NIC_ERR_RX_TOO_BIG] == 1 && ev->t.rx == 0 && !ev->t.foreign_done;
	ev_result(ev, "rxbad", extra, ok,
		  ok ? "" : ev->rx_out ? "descriptors left unconsumed (poked too few?)"
				       : "a descriptor was not refused as it should be");
}

static unsigned int ev_secs(const struct evil *ev, const struct ev_args *a)
{
	return (unsigned int)ev_arg_ul(a, 1, 3, ev->max_secs);
}

static void mode_snoop(struct evil *ev, const struct ev_args *a)
{
	uint64_t end = ev_now_ms() + 1000ull * ev_secs(ev, a);
	unsigned long min = ev_arg_ul(a, 2, 0, 1000000);
	char extra[64];
	int ok;

	for (unsigned int j = 0; j < EV_NRX && ev->rx_out < EV_NRX; j++)
		ev_rx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = PV_NIC_BUF_SIZE });
	ev->rx_repost = 1;
	while (ev_now_ms() < end && !vi_user_fault(&ev->u)) {
		if (!ev_events(ev)) {
			ev_service(ev);
			ev_sleep(ev, 10);
		}
	}
	ev->rx_repost = 0;
	snprintf(extra, sizeof(extra), "posted=%u min_rx=%lu", EV_NRX, min);
	ok = !ev->t.rx_notmine && !ev->t.rx_victim && !ev->t.foreign_done && ev->t.rx >= min;
	ev_result(ev, "snoop", extra, ok,
		  ev->t.rx_notmine ? "received frames addressed to someone else" :
		  ev->t.rx < min ? "received fewer of its own frames than expected" : "");
}

/*
 * inject N: valid frames of ours to the victim's MAC and to our own: out of
 * the port they go (no switching inside the NIC, nic.h), and neither the
 * victim nor we may get them back (a switch never sends a frame back out
 * of the port it came in by; the NIC must not hear what it sends).
 */
static void mode_inject(struct evil *ev, const struct ev_args *a)
{
	unsigned long n = ev_arg_ul(a, 1, 50, 10000);
	uint8_t f[60];
	char extra[64];
	int ok;

	for (unsigned int j = 0; j < EV_NRX && ev->rx_out < EV_NRX; j++)	/* listen */
		ev_rx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = PV_NIC_BUF_SIZE });
	ev->rx_repost = 1;
	for (unsigned long i = 0; i < n; i++) {
		ev_frame(f, ev->victim, ev->mac, -1, "inject", sizeof(f));
		ev_send(ev, f, sizeof(f));
		ev_frame(f, ev->mac, ev->mac, -1, "hairpin", sizeof(f));
		ev_send(ev, f, sizeof(f));
	}
	ev_flush(ev);
	usleep(300000);		/* anything coming back would be here by now */
	ev_events(ev);
	ev->rx_repost = 0;
	snprintf(extra, sizeof(extra), "sent=%lu", 2 * n);
	ok = ev->t.tx_done == 2 * n && ev->t.rx == 0;
	ev_result(ev, "inject", extra, ok,
		  ev->t.rx ? "its own frames came back to it" : "not all sent");
}

/*
 * rxstall S: every RX buffer posted, then no event read for S seconds
 * while the wire floods us: the NIC fills exactly the posted descriptors
 * and drops the rest (rx_no_desc), at no one else's expense.
 */
static void mode_rxstall(struct evil *ev, const struct ev_args *a)
{
	uint64_t end = ev_now_ms() + 1000ull * ev_secs(ev, a);
	uint32_t posted, pending;
	char extra[96];
	int ok;

	for (unsigned int j = 0; j < EV_NRX && ev->rx_out < EV_NRX; j++)
		ev_rx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = PV_NIC_BUF_SIZE });
	posted = ev->rx_out;
	while (ev_now_ms() < end) {	/* the slow path served, the VI ignored */
		ev_service(ev);
		usleep(20000);
	}
	pending = __atomic_load_n(&ev->u.sh->evq_prod.v, __ATOMIC_ACQUIRE) - ev->u.evq_cons;
	ev_events(ev);
	snprintf(extra, sizeof(extra), "posted=%u evq_pending=%u", posted, pending);
	ok = ev->t.rx == posted && pending == posted && !ev->t.rx_notmine && !vi_user_fault(&ev->u);
	ev_result(ev, "rxstall", extra, ok,
		  "the NIC used other than exactly the posted RX descriptors");
}

static void mode_doorbell(struct evil *ev, const struct ev_args *a)
{
	uint64_t end = ev_now_ms() + 1000ull * ev_secs(ev, a), n = 0;
	char extra[64];

	while (ev_now_ms() < end) {
		for (int i = 0; i < 1024; i++, n++)
			ev_ring(ev);
		ev_service(ev);
	}
	ev_events(ev);
	snprintf(extra, sizeof(extra), "doorbells=%" PRIu64, n);
	ev_result(ev, "doorbell", extra, !vi_user_fault(&ev->u), "");
}

static void mode_evqstall(struct evil *ev, const struct ev_args *a)
{
	uint64_t end = ev_now_ms() + 1000ull * ev_secs(ev, a), posted = 0, rings = 0;
	uint8_t *p = ev->buf[EV_NRX];
	uint32_t pending, mine = ev->id[EV_NRX];
	char extra[160];
	int ok;

	ev_frame(p, ev_blackhole, ev->mac, -1, "evqstall", 60);
	while (ev_now_ms() < end) {	/* never read an event */
		while (vi_user_tx_space(&ev->u) > 0) {
			ev_tx_post(ev, &(struct pv_nic_desc){ .buf_id = mine, .len = 60 });
			posted++;
		}
		ev_ring(ev);
		rings++;
		if (rings % 1024 == 0)
			ev_service(ev);
	}
	pending = __atomic_load_n(&ev->u.sh->evq_prod.v, __ATOMIC_ACQUIRE) - ev->u.evq_cons;
	/* Now behave: read them all, ring once, and TX must resume to the end. */
	ev_ring(ev);
	ev_wait(ev, 5000, 0);
	snprintf(extra, sizeof(extra), "posted=%" PRIu64 " doorbells=%" PRIu64
		 " evq_pending=%u evq_size=%u left=%u", posted, rings, pending, PV_NIC_EVQ_SIZE,
		 ev->tx_out);
	ok = pending == PV_NIC_EVQ_SIZE && !ev->tx_out && ev->t.tx_done == posted &&
	     !vi_user_fault(&ev->u);
	ev_result(ev, "evqstall", extra, ok,
		  pending != PV_NIC_EVQ_SIZE ? "the event queue did not stop at its size" :
		  ok ? "" : "TX did not resume once the events were read");
}

static void mode_txflood(struct evil *ev, const struct ev_args *a)
{
	unsigned int secs = ev_secs(ev, a);
	uint64_t t0 = ev_now_ms(), end = t0 + 1000ull * secs, serviced = t0;
	uint8_t dbuf[6];
	const uint8_t *dst = a->argc > 2 ? ev_arg_mac(ev, a, 2, dbuf) : ev_blackhole;
	char extra[96];

	for (unsigned int j = EV_NRX; j < EV_NBUF; j++)
		ev_frame(ev->buf[j], dst, ev->mac, -1, "txflood", 1514);
	while (ev_now_ms() < end && !vi_user_fault(&ev->u)) {
		unsigned int k = 0;

		ev_events(ev);
		while (ev->tx_out < EV_NTX && vi_user_tx_space(&ev->u) > 0) {
			unsigned int j = EV_NRX + ev->tx_next++ % EV_NTX;

			ev_tx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = 1514 });
			k++;
		}
		if (k)
			ev_ring(ev);
		else
			ev_sleep(ev, 1);
		if (ev_now_ms() - serviced >= 50) {
			ev_service(ev);
			serviced = ev_now_ms();
		}
	}
	ev_flush(ev);
	snprintf(extra, sizeof(extra), "mbps=%.0f",
		 (double)ev->t.tx_done * 1514 * 8 / 1e6 / (double)(ev_now_ms() - t0) * 1000);
	ev_result(ev, "txflood", extra,
		  !vi_user_fault(&ev->u) && ev->t.tx_done + ev->t.err[0][PV_NIC_ERR_TX_STORM] > 0, "");
}

static void mode_peek(struct evil *ev, const struct ev_args *a)
{
	static const char *const what[3] = { "buf_ids", "buf_refs", "vi" };
	unsigned long d = ev_arg_ul(a, 1, 0, 0xffff);
	char path[3][EV_PATH_MAX], val[4096], extra[256];
	size_t o = 0;
	int readable = 0;

	snprintf(path[0], EV_PATH_MAX, "/local/domain/0/backend/vif/%lu/0/%s", d, PVNIC_KEY_BUF_IDS);
	snprintf(path[1], EV_PATH_MAX, "/local/domain/%lu/device/vif/0/%s", d, PVNIC_KEY_BUF_REFS);
	snprintf(path[2], EV_PATH_MAX, "/local/domain/0/backend/vif/%lu/0/%s", d, PVNIC_KEY_VI);
	for (int i = 0; i < 3; i++) {
		int e = ev->xs ? xsc_read(ev->xs, 0, path[i], val, sizeof(val) - 1) : -ENOTCONN;

		readable += e >= 0;
		if (e >= 0)
			o += (size_t)snprintf(extra + o, sizeof(extra) - o, "%s%s=readable", i ? " " : "",
					      what[i]);
		else
			o += (size_t)snprintf(extra + o, sizeof(extra) - o, "%s%s=denied(%d)",
					      i ? " " : "", what[i], e);
	}
	ev_result(ev, "peek", extra, !readable, readable ? "another domain's keys are readable" : "");
}

/* fault tx|rx|evq: an index the NIC must find impossible; the VI is disabled. */
static void mode_fault(struct evil *ev, const struct ev_args *a)
{
	const char *which = a->argc > 1 ? a->argv[1] : "tx";
	uint32_t want;
	uint64_t end;
	uint8_t *p = ev->buf[EV_NRX];

	if (!strcmp(which, "rx")) {	/* a producer a ring and more ahead of the NIC */
		want = PV_NIC_FAULT_RX_PROD;
		__atomic_store_n(&ev->u.sh->rx_prod.v, ev->u.rx_prod + PV_NIC_RXQ_SIZE + 7,
				 __ATOMIC_RELEASE);
		ev_say("POKE 1");	/* checked when a frame comes for us */
		ev_expect_line(ev, "poked", 30000);
	} else if (!strcmp(which, "evq")) {	/* read events the NIC never wrote */
		want = PV_NIC_FAULT_EVQ_CONS;
		__atomic_store_n(&ev->u.sh->evq_cons.v, ev->u.evq_cons + 100, __ATOMIC_RELEASE);
		ev_frame(p, ev->dst, ev->mac, -1, "fault", 60);
		ev_tx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[EV_NRX], .len = 60 });
		ev_ring(ev);
	} else {
		want = PV_NIC_FAULT_TX_PROD;
		__atomic_store_n(&ev->u.sh->tx_prod.v, ev->u.tx_prod + PV_NIC_TXQ_SIZE + 7,
				 __ATOMIC_RELEASE);
		ev_ring(ev);
	}
	end = ev_now_ms() + 2000;
	while (ev_now_ms() < end && vi_user_fault(&ev->u) != want) {
		ev_service(ev);
		usleep(10000);
	}
	ev_result(ev, "fault", which, vi_user_fault(&ev->u) == want, "the VI was not disabled");
}

/*
 * scribble: lie in every field the NIC owns (tx_cons, rx_cons, evq_prod,
 * the info block), then send 20 frames: the NIC must go on from its
 * private copies and overwrite the lies with the truth.
 */
static void mode_scribble(struct evil *ev, const struct ev_args *a)
{
	struct pv_nic_vi_shared *sh = ev->u.sh;
	struct pv_nic_vi_info info = sh->info;
	uint32_t evq0, tx0 = ev->u.tx_prod;
	uint64_t end;
	char extra[128];
	int ok;

	ev_wait(ev, 2000, 0);
	ev_events(ev);
	evq0 = ev->u.evq_cons;
	__atomic_store_n(&sh->tx_cons.v, tx0 + 12345, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->rx_cons.v, ev->u.rx_prod - 7777, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->evq_prod.v, evq0 + 500, __ATOMIC_RELEASE);
	memset(&sh->info, 0xa5, sizeof(sh->info));
	for (unsigned int i = 0; i < 20; i++) {	/* no space checks: they read tx_cons */
		unsigned int j = EV_NRX + i;

		ev_frame(ev->buf[j], ev->dst, ev->mac, -1, "scribble", 60);
		ev_tx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = 60 });
	}
	ev_ring(ev);
	end = ev_now_ms() + 2000;
	while (ev_now_ms() < end &&
	       __atomic_load_n(&sh->tx_cons.v, __ATOMIC_ACQUIRE) != tx0 + 20)
		usleep(5000);
	snprintf(extra, sizeof(extra), "tx_cons=%+d evq_prod=%+d",
		 (int)(__atomic_load_n(&sh->tx_cons.v, __ATOMIC_ACQUIRE) - tx0),
		 (int)(__atomic_load_n(&sh->evq_prod.v, __ATOMIC_ACQUIRE) - evq0));
	ok = __atomic_load_n(&sh->tx_cons.v, __ATOMIC_ACQUIRE) == tx0 + 20 &&
	     __atomic_load_n(&sh->evq_prod.v, __ATOMIC_ACQUIRE) - evq0 >= 20 &&
	     __atomic_load_n(&sh->evq_prod.v, __ATOMIC_ACQUIRE) - evq0 < 500;
	ev_wait(ev, 2000, 0);
	sh->info = info;	/* ours to ruin; put back for a later vi_user_open */
	ok = ok && ev->t.tx_done == 20 && !vi_user_fault(&ev->u);
	ev_result(ev, "scribble", extra, ok, "the NIC believed a field it owns");
}

/* Wait for the backend's accelstate to be @want: 0, or -ETIMEDOUT. */
static int ev_wait_be(struct evil *ev, int want, unsigned int ms)
{
	uint64_t end = ev_now_ms() + ms;

	while (ev_be_state(ev) != want) {
		if (ev_now_ms() >= end)
			return -ETIMEDOUT;
		ev_service(ev);
		usleep(10000);
	}
	return 0;
}

/* Give up the VI's mapping and ask for it again, as after a new handshake. */
static int ev_regrab(struct evil *ev, unsigned int ms)
{
	uint64_t end = ev_now_ms() + ms;

	ev_vi_drop(ev, 0);
	ev->phase = EV_WAIT_BE;
	while (ev_grab_vi(ev, 0)) {
		if (ev_now_ms() >= end)
			return -ETIMEDOUT;
		ev_service(ev);
		usleep(20000);
	}
	return 0;
}

static int ev_write_refs(struct evil *ev, const char *refs)
{
	char path[EV_PATH_MAX];
	int e = ev_key(path, ev->fe, PVNIC_KEY_BUF_REFS);

	return e ? e : xsc_write(ev->xs, 0, path, refs, strlen(refs));
}

/* One handshake round: accelstate Initialising then Initialised. */
static void ev_round(struct evil *ev)
{
	pv_accel_front_set_state(ev->dev, XenbusStateInitialising);
	ev_service(ev);
	pv_accel_front_set_state(ev->dev, XenbusStateInitialised);
	ev_service(ev);
}

/*
 * stale: descriptors naming our buffers, left in the rings (RX posted, TX
 * posted but not rung) while the backend takes the buffers back (our
 * accelstate 1) and, the script arranges, hands the same ids to the victim;
 * then our pages come back under new ids, the doorbell rings and the wire
 * pokes us.  The NIC checks ownership when it uses a descriptor, not when
 * it was posted: every stale one refused BUF_OWNER, nothing sent, nothing
 * written into what is now the victim's.
 */
static void mode_stale(struct evil *ev, const struct ev_args *a)
{
	uint32_t old[EV_NBUF], tx_out, rx_out;
	char line[EV_NBUF * 11 + 16], extra[96];
	size_t o = 0;
	int ok, e;

	for (unsigned int j = 0; j < EV_NRX && ev->rx_out < EV_NRX; j++)
		ev_rx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = PV_NIC_BUF_SIZE });
	for (unsigned int j = EV_NRX; j < EV_NRX + 16; j++) {	/* valid frames, no doorbell */
		ev_frame(ev->buf[j], ev->dst, ev->mac, -1, "stale", 60);
		ev_tx_post(ev, &(struct pv_nic_desc){ .buf_id = ev->id[j], .len = 60 });
	}
	memcpy(old, ev->id, sizeof(old));
	tx_out = ev->tx_out;
	rx_out = ev->rx_out;
	pv_accel_front_set_state(ev->dev, XenbusStateInitialising);
	if (ev_wait_be(ev, XenbusStateInitWait, 3000)) {
		ev_result(ev, "stale", "", 0, "the backend did not take the buffers back");
		return;
	}
	o += (size_t)snprintf(line + o, sizeof(line) - o, "RELEASED");
	for (unsigned int j = 0; j < EV_NBUF; j++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %u", old[j]);
	ev_say("%s", line);
	if (ev_expect_line(ev, "go", 30000)) {
		ev_result(ev, "stale", "", 0, "no 'go' from the script");
		return;
	}
	pv_accel_front_set_state(ev->dev, XenbusStateInitialised);
	e = ev_regrab(ev, 5000);
	ev->tx_out = tx_out;	/* the stale descriptors are still in the rings */
	ev->rx_out = rx_out;
	if (e) {
		ev_result(ev, "stale", "", 0, "no VI again");
		return;
	}
	ev_ring(ev);
	ev_say("POKE %u", rx_out);
	if (ev_expect_line(ev, "poked", 30000)) {
		ev_result(ev, "stale", "", 0, "no 'poked' from the script");
		return;
	}
	ev_wait(ev, 3000, 1);
	snprintf(extra, sizeof(extra), "stale_tx=%u stale_rx=%u", tx_out, rx_out);
	ok = ev->t.err[0][PV_NIC_ERR_BUF_OWNER] == tx_out && ev->t.err[1][PV_NIC_ERR_BUF_OWNER] == rx_out &&
	     ev->t.tx_done == 0 && ev->t.rx == 0 && !ev->t.foreign_done;
	ev_result(ev, "stale", extra, ok, "a stale descriptor was used");
}

/* flap N: N handshake rounds as fast as xenstore takes them, then a clean one. */
static void mode_flap(struct evil *ev, const struct ev_args *a)
{
	unsigned long n = ev_arg_ul(a, 1, 100, 100000);
	char extra[64];
	int e;

	for (unsigned long i = 0; i < n; i++)
		ev_round(ev);
	usleep(200000);		/* let the backend settle on the last 3 */
	e = ev_regrab(ev, 10000);
	snprintf(extra, sizeof(extra), "rounds=%lu be_state=%d", n, ev_be_state(ev));
	ev_result(ev, "flap", extra, !e, "no VI again after the flapping");
}

/*
 * badrefs: accel-buf-refs the backend must refuse (accelstate Closed),
 * each followed by a good round (Connected again).
 */
static void mode_badrefs(struct evil *ev, const struct ev_args *a)
{
	char bad[10][EV_K * 11 + 16], extra[128];
	const char *last;
	unsigned int nb = 0, refused = 0, recovered = 0;
	int ro, other, e;

	ro = pv_guest_grant(ev->g, 0, PV_NF_ACCEL_FRAME(0), 1);
	other = pv_guest_grant(ev->g, 5, PV_NF_ACCEL_FRAME(1), 0);
	snprintf(bad[nb++], sizeof(bad[0]), "%s", "");
	snprintf(bad[nb++], sizeof(bad[0]), "%s", "99999");
	snprintf(bad[nb++], sizeof(bad[0]), "%s", "3");
	snprintf(bad[nb++], sizeof(bad[0]), "%d %d", ev->refs[0], ev->refs[0]);
	snprintf(bad[nb++], sizeof(bad[0]), "%s", "abc");
	snprintf(bad[nb++], sizeof(bad[0]), "%d ", ev->refs[0]);
	snprintf(bad[nb++], sizeof(bad[0]), "%d", ro);		/* read-only, mapped for writing */
	snprintf(bad[nb++], sizeof(bad[0]), "%d", other);	/* granted to domain 5 */
	/* All good but the last: the K - 1 mapped before it must be let go. */
	last = strrchr(ev->refs_s, ' ');
	snprintf(bad[nb++], sizeof(bad[0]), "%.*s 900", (int)(last - ev->refs_s), ev->refs_s);
	snprintf(bad[nb++], sizeof(bad[0]), "%s %s", ev->refs_s, "901");	/* K + 1 refs */
	ev_vi_drop(ev, 0);
	ev->phase = EV_WAIT_BE;
	for (unsigned int i = 0; i < nb; i++) {
		ev_write_refs(ev, bad[i]);
		ev_round(ev);
		refused += ev_wait_be(ev, XenbusStateClosed, 2000) == 0;
		ev_write_refs(ev, ev->refs_s);
		ev_round(ev);
		recovered += ev_wait_be(ev, XenbusStateConnected, 2000) == 0;
	}
	e = ev_regrab(ev, 5000);
	if (ro >= 0)
		pv_guest_end_grant(ev->g, (grant_ref_t)ro);
	if (other >= 0)
		pv_guest_end_grant(ev->g, (grant_ref_t)other);
	snprintf(extra, sizeof(extra), "variants=%u refused=%u recovered=%u", nb, refused, recovered);
	ev_result(ev, "badrefs", extra, refused == nb && recovered == nb && !e,
		  refused < nb ? "a bad accel-buf-refs was not refused" : "no recovery after one");
}

/* shrink: truncate every memfd we hold (VI memory, guest memory): all sealed. */
static void mode_shrink(struct evil *ev, const struct ev_args *a)
{
	unsigned int tried = 0, shrunk = 0;
	char link[64], target[256], extra[64];

	for (int fd = 3; fd < 1024; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "/memfd:", 7))
			continue;
		tried++;
		if (ftruncate(fd, 0) == 0) {
			shrunk++;
			fprintf(stderr, "evil_vi: shrank %s (fd %d)\n", target, fd);
		}
	}
	snprintf(extra, sizeof(extra), "memfds=%u shrunk=%u", tried, shrunk);
	ev_result(ev, "shrink", extra, tried >= 2 && !shrunk, "a memfd shared with the host shrank");
}

static const struct ev_mode {
	const char *name;
	void (*fn)(struct evil *ev, const struct ev_args *a);
} ev_modes[] = {
	{ "legit", mode_legit }, { "spoof", mode_spoof }, { "foreign", mode_foreign },
	{ "scan", mode_scan }, { "range", mode_range }, { "bounds", mode_bounds },
	{ "chains", mode_chains },
	{ "rxbad", mode_rxbad }, { "snoop", mode_snoop }, { "doorbell", mode_doorbell },
	{ "evqstall", mode_evqstall }, { "txflood", mode_txflood }, { "peek", mode_peek },
	{ "fault", mode_fault }, { "scribble", mode_scribble }, { "flap", mode_flap },
	{ "badrefs", mode_badrefs }, { "shrink", mode_shrink }, { "inject", mode_inject },
	{ "rxstall", mode_rxstall }, { "stale", mode_stale },
};

static void ev_command(struct evil *ev, char *line)
{
	struct ev_args a = { 0 };
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t", &save); tok && a.argc < EV_MAX_ARGS;
	     tok = strtok_r(NULL, " \t", &save))
		a.argv[a.argc++] = tok;
	if (!a.argc)
		return;
	if (!strcmp(a.argv[0], "quit")) {
		ev->quit = 1;
		return;
	}
	for (size_t i = 0; i < sizeof(ev_modes) / sizeof(ev_modes[0]); i++) {
		if (strcmp(a.argv[0], ev_modes[i].name))
			continue;
		memset(&ev->t, 0, sizeof(ev->t));
		if (ev->phase != EV_VI && strcmp(a.argv[0], "peek") && strcmp(a.argv[0], "shrink")) {
			ev_result(ev, a.argv[0], "", 0, "no VI");
			return;
		}
		if (ev->phase == EV_VI)
			ev_events(ev);	/* leftovers of earlier modes are not this one's */
		memset(&ev->t, 0, sizeof(ev->t));
		ev->in_mode = 1;
		ev_modes[i].fn(ev, &a);
		ev->in_mode = 0;
		if (ev->down_pending)
			ev_vi_down(ev);
		return;
	}
	ev_result(ev, a.argv[0], "", 0, "unknown mode");
}

/* ---- stdin ---- */

static void ev_stdin_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct evil *ev = arg;
	ssize_t n;

	if (ev->in_len >= sizeof(ev->in) - 1) {
		ev->in_len = 0;	/* a line longer than any command: drop it */
	}
	n = read(fd, ev->in + ev->in_len, sizeof(ev->in) - 1 - ev->in_len);
	if (n > 0)
		ev->in_len += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		ev->in_eof = 1;
}

/* The next complete line into @out (NUL-terminated); 1 if there was one. */
static int ev_next_line(struct evil *ev, char *out, size_t size)
{
	char *nl = memchr(ev->in, '\n', ev->in_len);
	size_t len;

	if (!nl)
		return 0;
	len = (size_t)(nl - ev->in);
	snprintf(out, size, "%.*s", (int)len, ev->in);
	memmove(ev->in, nl + 1, ev->in_len - len - 1);
	ev->in_len -= len + 1;
	return 1;
}

static int ev_expect_line(struct evil *ev, const char *want, unsigned int ms)
{
	uint64_t end = ev_now_ms() + ms;
	char line[256];

	while (ev_now_ms() < end && !ev->in_eof) {
		if (ev_next_line(ev, line, sizeof(line)))
			return strcmp(line, want) ? -EPROTO : 0;
		pv_loop_once(ev->loop, 20);
	}
	return -ETIMEDOUT;
}

/* ---- the frontend half: the documented handshake, then the VI is ours ---- */

static void ev_vi_drop(struct evil *ev, int announce)
{
	if (ev->phase == EV_VI) {
		vi_user_close(&ev->u);
		if (announce)
			ev_say("VIDOWN");
	}
	for (int i = 0; i < PVNIC_NR_FDS; i++) {
		if (ev->fds[i] >= 0)
			close(ev->fds[i]);
		ev->fds[i] = -1;
	}
	ev->phase = EV_NONE;
	ev->tx_out = ev->rx_out = 0;
	ev->down_pending = 0;
}

static void ev_vi_down(struct evil *ev)
{
	ev_vi_drop(ev, 1);
}

static int ev_fe_new_device(struct pv_accel_front_dev *dev, void *arg)
{
	struct evil *ev = arg;
	char path[EV_PATH_MAX], *refs = ev->refs_s;
	size_t off = 0;
	int e, fd;

	if (ev->dev)
		return -EBUSY;
	ev->g = pv_accel_front_guest(dev);
	snprintf(ev->fe, sizeof(ev->fe), "%s", pv_accel_front_path(dev));
	snprintf(ev->be, sizeof(ev->be), "%s", pv_accel_front_backend(dev));
	for (int i = 0; i < EV_K; i++) {
		uint8_t *page = pv_guest_frame(ev->g, PV_NF_ACCEL_FRAME(i));

		e = pv_guest_grant(ev->g, 0, PV_NF_ACCEL_FRAME(i), 0);
		if (e < 0 || !page)
			return e < 0 ? e : -ENOMEM;
		ev->refs[i] = e;
		ev->buf[2 * i] = page;
		ev->buf[2 * i + 1] = page + PV_NIC_BUF_SIZE;
		off += (size_t)snprintf(refs + off, sizeof(ev->refs_s) - off, "%s%d", i ? " " : "", e);
	}
	fd = pv_guest_xs_connect(ev->g);
	if (fd < 0)
		return fd;
	ev->xs = xsc_open_fd(fd);
	if (!ev->xs)
		return -ENOMEM;
	if ((e = ev_key(path, ev->fe, PVNIC_KEY_BUF_REFS)) ||
	    (e = xsc_write(ev->xs, 0, path, refs, strlen(refs))) < 0)
		return e;
	ev->dev = dev;
	pv_accel_front_set_priv(dev, ev);
	ev->phase = EV_WAIT_BE;
	return pv_accel_front_set_state(dev, XenbusStateInitialised) < 0 ? -EIO : 0;
}

static void ev_fe_remove(struct pv_accel_front_dev *dev)
{
	struct evil *ev = pv_accel_front_priv(dev);

	if (!ev || ev->dev != dev)
		return;
	pv_accel_front_set_priv(dev, NULL);
	if (ev->in_mode)
		ev->down_pending = 1;	/* the mode still reads the mapping: unmap after it */
	else
		ev_vi_down(ev);
	for (int i = 0; i < EV_K; i++) {
		if (ev->refs[i] >= 0)
			pv_guest_end_grant(ev->g, (grant_ref_t)ev->refs[i]);	/* -EBUSY: so be it */
		ev->refs[i] = -1;
	}
	if (ev->xs)
		xsc_close(ev->xs);
	ev->xs = NULL;
	ev->dev = NULL;
}

static enum pv_accel_xmit ev_fe_xmit(struct pv_accel_front_dev *dev,
				     const struct virtio_net_hdr *vh, const struct iovec *iov,
				     int iovcnt, uint32_t len)
{
	return PV_ACCEL_NOT_SENT;	/* the slow path carries whatever netfront sends */
}

static int ev_fe_poll(struct pv_accel_front_dev *dev, int budget) { return 0; }
static int ev_fe_start_irq(struct pv_accel_front_dev *dev) { return 0; }
static void ev_fe_stop_irq(struct pv_accel_front_dev *dev) { }
static int ev_fe_check_ready(struct pv_accel_front_dev *dev) { return 1; }
static void ev_fe_get_stats(struct pv_accel_front_dev *dev, struct pv_accel_stats *d) { }

static const struct pv_accel_front_ops ev_fe_ops = {
	.version = PV_ACCEL_FRONT_VERSION,
	.size = sizeof(struct pv_accel_front_ops),
	.name = PVNIC_NAME,
	.new_device = ev_fe_new_device,
	.remove = ev_fe_remove,
	.start_xmit = ev_fe_xmit,
	.poll = ev_fe_poll,
	.start_irq = ev_fe_start_irq,
	.stop_irq = ev_fe_stop_irq,
	.check_ready = ev_fe_check_ready,
	.get_stats = ev_fe_get_stats,
};

/* "I0 ... I(2K-1)" from the backend: exactly 2K ids. */
static int ev_read_ids(struct evil *ev)
{
	char path[EV_PATH_MAX], val[EV_NBUF * 11 + 2], *s = val, *end;
	unsigned int n = 0;
	int e = ev_key(path, ev->be, PVNIC_KEY_BUF_IDS);

	if (e || (e = xsc_read(ev->xs, 0, path, val, sizeof(val) - 1)) < 0)
		return e ? e : -ENOENT;
	val[e] = '\0';
	while (n < EV_NBUF) {
		unsigned long x = strtoul(s, &end, 10);

		if (end == s)
			break;
		ev->id[n++] = (uint32_t)x;
		s = end;
	}
	return n == EV_NBUF ? 0 : -EINVAL;
}

static int ev_be_state(struct evil *ev)
{
	char path[EV_PATH_MAX], st[16];
	int e;

	if (!ev->xs || ev_key(path, ev->be, PV_ACCEL_KEY_STATE))
		return -1;
	e = xsc_read(ev->xs, 0, path, st, sizeof(st) - 1);
	if (e <= 0)
		return -1;
	st[e] = '\0';
	return atoi(st);
}

/*
 * Backend Connected: take the VI (retried from the main loop while pvnetd
 * says -EAGAIN).  0 once the VI is ours.
 */
static int ev_grab_vi(struct evil *ev, int announce)
{
	int fds[PVNIC_NR_FDS] = { -1, -1, -1 }, e;

	if (ev->phase != EV_WAIT_BE || ev_be_state(ev) != XenbusStateConnected || ev_read_ids(ev))
		return -EAGAIN;
	e = pv_accel_front_get_fds(ev->dev, fds, PVNIC_NR_FDS);	/* as the real plugin asks */
	if (e > 0 && e < PVNIC_NR_FDS) {
		while (e-- > 0)
			close(fds[e]);
		return -EPROTO;
	}
	if (e < 0)
		return e;
	for (int i = 0; i < PVNIC_NR_FDS; i++)
		ev->fds[i] = fds[i];
	e = vi_user_open(&ev->u, fds[PVNIC_FD_VI_MEM], fds[PVNIC_FD_DOORBELL],
			 fds[PVNIC_FD_WAKE]);
	if (e) {
		pv_err("VI memory: %s", strerror(-e));
		ev_vi_down(ev);
		ev->phase = EV_WAIT_BE;
		return e;
	}
	ev->phase = EV_VI;
	ev->tx_out = ev->rx_out = 0;
	pv_accel_front_set_state(ev->dev, XenbusStateConnected);
	if (announce)
		ev_say("VI %u %u %u", ev->u.sh->info.vi_id, ev->id[0], ev->id[EV_NBUF - 1]);
	return 0;
}

/* ---- netfront's upper edge: the slow path, barely used ---- */

static int ev_deliver(void *arg, const struct virtio_net_hdr *vh, const struct iovec *iov,
		      int iovcnt, uint32_t len)
{
	return 0;
}

static void ev_carrier(void *arg, int up)
{
	struct evil *ev = arg;

	ev->up = up;
	if (up && ev->have_mac && !ev->ready_printed) {
		static uint8_t f[128];
		uint32_t len = ev_ip_frame(ev, f, ev->mac, 17, 18);

		/*
		 * What a guest does first: one frame from its address on the
		 * slow path, so that netback learns EV_SRC_IP as ours (first
		 * come first served, src/back/srcguard.h) and the NIC lets our
		 * VI send from it (SET_ADDRS).
		 */
		if (pv_netfront_xmit(ev->nf, NULL, f, len) == 0)
			pv_netfront_flush(ev->nf);
		ev->ready_printed = 1;
		ev_say("READY %u %02x:%02x:%02x:%02x:%02x:%02x", pv_netfront_domid(ev->nf),
		       ev->mac[0], ev->mac[1], ev->mac[2], ev->mac[3], ev->mac[4], ev->mac[5]);
	}
}

static void ev_config(void *arg, const uint8_t mac[6], unsigned int mtu)
{
	struct evil *ev = arg;

	memcpy(ev->mac, mac, 6);
	ev->have_mac = 1;
}

static const struct pv_netfront_upper_ops ev_upper = {
	.deliver = ev_deliver,
	.carrier = ev_carrier,
	.config = ev_config,
};

/* ---- main ---- */

static void ev_sig_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct evil *ev = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
		ev->quit = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: evil_vi --run-dir DIR [--name NAME] [--victim-mac MAC] "
			"[--dst-mac MAC] [--nr-bufs N] [--seconds MAX]\n"
			"modes on stdin: legit N | spoof N | foreign ID... | scan | range | bounds |\n"
			"  rxbad ID... | snoop S [MIN] | doorbell S | evqstall S | txflood S |\n"
			"  peek DOMID | fault | quit\n");
	exit(2);
}

static void ev_parse(int argc, char **argv, struct evil *ev, struct pv_netfront_config *cfg)
{
	static const struct option lo[] = {
		{ "run-dir", required_argument, NULL, 'r' }, { "name", required_argument, NULL, 'n' },
		{ "victim-mac", required_argument, NULL, 'v' },
		{ "dst-mac", required_argument, NULL, 'd' },
		{ "nr-bufs", required_argument, NULL, 'b' }, { "seconds", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "r:n:v:d:b:t:", lo, NULL)) != -1) {
		switch (c) {
		case 'r': cfg->run_dir = optarg; break;
		case 'n': cfg->name = optarg; break;
		case 'v': if (pv_netfront_mac_parse(optarg, ev->victim)) usage(); break;
		case 'd': if (pv_netfront_mac_parse(optarg, ev->dst)) usage(); break;
		case 'b': ev->nr_bufs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': ev->max_secs = (unsigned int)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind != argc || !cfg->run_dir)
		usage();
	if (!ev->max_secs || ev->max_secs > EV_MAX_SECS)
		ev->max_secs = EV_MAX_SECS;
}

static void ev_close(struct evil *ev)
{
	uint64_t end = ev_now_ms() + 2000;

	pv_netfront_shutdown(ev->nf);
	while (!pv_netfront_closed(ev->nf) && ev_now_ms() < end)
		if (pv_loop_once(ev->loop, 50) < 0)
			break;
	pv_netfront_free(ev->nf);	/* removes our frontend half, if still attached */
}

int main(int argc, char **argv)
{
	static struct evil E;
	struct evil *ev = &E;
	struct pv_netfront_config cfg = { .name = "evil-vi" };
	struct pv_watch *sig_w, *in_w;
	uint64_t t0 = ev_now_ms();
	char line[EV_LINE_MAX];
	int sig_fd, e;

	memcpy(ev->victim, (const uint8_t[6]){ 0x02, 0x00, 0x5e, 0x10, 0x00, 0x02 }, 6);
	memcpy(ev->dst, ev_blackhole, 6);
	for (int i = 0; i < EV_K; i++)
		ev->refs[i] = -1;
	for (int i = 0; i < PVNIC_NR_FDS; i++)
		ev->fds[i] = -1;
	ev_parse(argc, argv, ev, &cfg);
	pv_log_init("evil_vi", PV_LOG_WARN, 0);
	ev->loop = pv_loop_new();
	sig_fd = pv_loop_signalfd(0);
	if (!ev->loop || sig_fd < 0 || pv_accel_front_register(&ev_fe_ops, ev)) {
		fprintf(stderr, "evil_vi: setup failed\n");
		return 1;
	}
	sig_w = pv_loop_add(ev->loop, sig_fd, EPOLLIN, ev_sig_cb, ev);
	in_w = pv_loop_add(ev->loop, 0, EPOLLIN, ev_stdin_cb, ev);
	ev->nf = pv_netfront_new(ev->loop, &cfg, &ev_upper, ev, &e);
	if (!ev->nf || !sig_w || !in_w) {
		fprintf(stderr, "evil_vi: netfront: %s\n", strerror(ev->nf ? ENOMEM : -e));
		return 1;
	}
	while (!ev->quit && !ev->in_eof) {
		if (!ev->ready_printed && ev_now_ms() - t0 > EV_CONNECT_MS) {
			fprintf(stderr, "evil_vi: the vif did not connect\n");
			break;
		}
		ev_grab_vi(ev, 1);
		if (ev_next_line(ev, line, sizeof(line))) {
			ev_command(ev, line);
			continue;
		}
		if (pv_loop_once(ev->loop, 50) < 0)
			break;
	}
	pv_loop_del(ev->loop, in_w);
	ev_close(ev);
	pv_loop_del(ev->loop, sig_w);
	pv_loop_free(ev->loop);
	close(sig_fd);
	return 0;
}
