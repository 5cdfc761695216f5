/* SPDX-License-Identifier: MIT */
/*
 * pvnet-bench - a raw-frame generator and sink on netfront's direct frame
 * API: no TAP device, no kernel stack, just rings, netback and the bridge.
 *
 *   pvnet-bench --mode gen  (netfront) ==rings==> pvnetd (netback, bridge) ==rings==> (netfront) pvnet-bench --mode sink
 *
 * Each instance is a domain of its own with one vif (the toolstack's vif
 * request, as pvnet-front).  Once the vif is connected:
 *
 *   sink  prints "MAC <its vif's MAC>" on stdout and counts the frames
 *         addressed to it; stops on the generator's END frame, a signal or
 *         after --seconds (a bound: default 60).
 *   gen   sends one broadcast HELLO, then --size-byte frames to --dst-mac
 *         as fast as the ring allows (or at --rate), --batch per flush, for
 *         --seconds; then END (the number of frames sent) a few times.
 *         When the ring is full it sleeps in epoll until ops->tx_ready.
 *
 * Both print one "RESULT mode=... frames=N bytes=B seconds=S pps=P ..."
 * line on stdout at the end.
 *
 * Frame format (IEEE local experimental ethertype 0x88b5), host byte order:
 *
 *   0   dst MAC, src MAC (the vif's own: the bridge drops spoofed sources)
 *   12  ethertype 0x88b5
 *   14  magic "PVBN" (u32)
 *   18  type: 1 data, 2 hello, 3 end (u32)
 *   22  data: sequence number (u64); end: frames sent (u64)
 *   30  padding up to --size
 *
 * On the zero-copy path (the default) only those 30 bytes are written into
 * the borrowed TX page; the padding is whatever the page held (zeros or an
 * earlier frame's bytes), as a hardware traffic generator would do.
 * --copy builds each frame in a buffer and uses pv_netfront_xmit() instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "front/netfront.h"
#include "lib/log.h"
#include "lib/loop.h"

#define BN_ETHERTYPE       0x88b5
#define BN_MAGIC           0x5056424eu	/* "PVBN" */
#define BN_HDR_LEN         30
#define BN_MIN_SIZE        60
#define BN_MAX_SIZE        1514
#define BN_TYPE_DATA       1
#define BN_TYPE_HELLO      2
#define BN_TYPE_END        3
#define BN_END_COPIES      5		/* END frames, BN_END_GAP_MS apart */
#define BN_END_GAP_MS      20
#define BN_END_WAIT_MS     1000	/* bound on sending the END frames */
#define BN_CONNECT_MS      10000	/* bound on the vif connecting */
#define BN_BLOCKED_RETRY_MS 50		/* -EBUSY and no tx_ready yet: look again */
#define BN_CLOSE_WAIT_MS   2000	/* bound on the xenbus close handshake */
#define BN_SINK_SECONDS    60.0

enum bn_mode { BN_GEN, BN_SINK };
enum bn_phase { BN_CONNECTING, BN_RUN, BN_END, BN_DONE };

struct bench {
	struct pv_loop *loop;
	struct pv_netfront *nf;
	struct pv_watch *sig_w;
	enum bn_mode mode;
	enum bn_phase phase;
	int failed;			/* did not connect, or pvnetd went away for good */

	/* options */
	uint8_t dst[6];
	int have_dst;
	unsigned int size, batch;
	uint64_t rate;			/* frames/s, 0 = as fast as the ring allows */
	double seconds;
	int copy;

	/* link */
	uint8_t mac[6];
	int have_mac, up, mac_printed;
	int can_send;			/* connected and not waiting for tx_ready */
	uint64_t blocked_ns;		/* when the last -EBUSY came */

	uint64_t t_begin;		/* process start (connect bound) */
	/*
	 * The measured window.  gen: from the HELLO to the end of sending.
	 * sink: from the HELLO (or the first frame if it was lost) to the
	 * END (or the last frame).
	 */
	uint64_t t_run, t_stop;
	uint64_t deadline;

	/* generator */
	uint8_t *tmpl;			/* --copy: the frame being built */
	uint64_t seq, bytes, waits;
	uint64_t end_deadline, end_next;
	unsigned int end_sent;

	/* sink */
	uint64_t frames, next_seq, gaps, late, hellos, other, end_total;
	int got_first, end_seen;
};

static uint64_t bn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Milliseconds from now until @t (rounded up, at least 1), 0 if past. */
static int bn_ms_until(uint64_t now, uint64_t t)
{
	uint64_t ms;

	if (t <= now)
		return 0;
	ms = (t - now + 999999) / 1000000;
	return ms > 60000 ? 60000 : (int)ms;
}

static int bn_min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* ---- options ---- */

enum { OPT_RUN_DIR = 'r', OPT_MODE = 'M', OPT_NAME = 'n', OPT_SIZE = 's', OPT_SECONDS = 't',
       OPT_DST = 'd', OPT_MAC = 'm', OPT_BATCH = 'b', OPT_RATE = 'R', OPT_COPY = 'c',
       OPT_LOG = 'l', OPT_HELP = 'h' };

static const struct bn_opt {
	struct option o;
	const char *arg, *help;
} bn_opts[] = {
	{ { "run-dir", required_argument, NULL, OPT_RUN_DIR }, "DIR", "pvnetd's run directory (DIR/hv.sock); required" },
	{ { "mode", required_argument, NULL, OPT_MODE }, "gen|sink", "generate frames, or count them; required" },
	{ { "name", required_argument, NULL, OPT_NAME }, "NAME", "domain name (default bench-MODE-PID)" },
	{ { "dst-mac", required_argument, NULL, OPT_DST }, "MAC", "gen: the sink's MAC (required for gen)" },
	{ { "mac", required_argument, NULL, OPT_MAC }, "MAC", "ask for this vif MAC (default: the toolstack chooses)" },
	{ { "size", required_argument, NULL, OPT_SIZE }, "BYTES", "gen: frame size without FCS, 60..1514 (default 60)" },
	{ { "seconds", required_argument, NULL, OPT_SECONDS }, "S", "gen: how long to send (default 5); sink: bound (default 60)" },
	{ { "batch", required_argument, NULL, OPT_BATCH }, "N", "gen: frames per flush, 1..256 (default 32)" },
	{ { "rate", required_argument, NULL, OPT_RATE }, "PPS", "gen: frames per second (default: as fast as the ring allows)" },
	{ { "copy", no_argument, NULL, OPT_COPY }, NULL, "gen: pv_netfront_xmit (a copy) instead of borrowed pages" },
	{ { "log-level", required_argument, NULL, OPT_LOG }, "LEVEL", "err, warn (default), info or debug" },
	{ { "help", no_argument, NULL, OPT_HELP }, NULL, "this text" },
};
#define BN_NOPTS (sizeof(bn_opts) / sizeof(bn_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: pvnet-bench --run-dir DIR --mode gen|sink [options]\n\n"
		   "Raw frames through pvnetd on netfront's frame API (no TAP): a generator\n"
		   "and a sink, each a guest with its own vif.  Both end with a line\n"
		   "\"RESULT mode=... frames=N bytes=B seconds=S pps=P ...\" on stdout;\n"
		   "the sink first prints \"MAC <its MAC>\" once its vif is connected.\n\n");
	for (size_t i = 0; i < BN_NOPTS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", bn_opts[i].o.val, bn_opts[i].o.name,
			 bn_opts[i].arg ? " " : "", bn_opts[i].arg ? bn_opts[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, bn_opts[i].help);
	}
}

static int bn_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int bn_parse(int argc, char **argv, struct bench *b, struct pv_netfront_config *cfg,
		    int *log_level)
{
	struct option longs[BN_NOPTS + 1];
	char shorts[3 * BN_NOPTS + 1], *p = shorts, *end;
	int c, have_mode = 0, have_secs = 0;
	uint64_t v;

	for (size_t i = 0; i < BN_NOPTS; i++) {
		longs[i] = bn_opts[i].o;
		*p++ = (char)bn_opts[i].o.val;
		if (bn_opts[i].o.has_arg)
			*p++ = ':';
	}
	*p = '\0';
	memset(&longs[BN_NOPTS], 0, sizeof(longs[0]));
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case OPT_RUN_DIR: cfg->run_dir = optarg; break;
		case OPT_NAME: cfg->name = optarg; break;
		case OPT_COPY: b->copy = 1; break;
		case OPT_HELP: usage(stdout); exit(0);
		case OPT_MODE:
			if (!strcmp(optarg, "gen"))
				b->mode = BN_GEN;
			else if (!strcmp(optarg, "sink"))
				b->mode = BN_SINK;
			else
				goto bad;
			have_mode = 1;
			break;
		case OPT_DST:
			if (pv_netfront_mac_parse(optarg, b->dst))
				goto bad;
			b->have_dst = 1;
			break;
		case OPT_MAC:
			if (pv_netfront_mac_parse(optarg, cfg->mac) || (cfg->mac[0] & 1))
				goto bad;
			break;
		case OPT_SIZE:
			if (bn_u64(optarg, BN_MIN_SIZE, BN_MAX_SIZE, &v))
				goto bad;
			b->size = (unsigned int)v;
			break;
		case OPT_BATCH:
			if (bn_u64(optarg, 1, PV_NF_NR_TX, &v))
				goto bad;
			b->batch = (unsigned int)v;
			break;
		case OPT_RATE:
			if (bn_u64(optarg, 1, 100000000, &v))
				goto bad;
			b->rate = v;
			break;
		case OPT_SECONDS:
			errno = 0;
			b->seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(b->seconds > 0) || b->seconds > 86400)
				goto bad;
			have_secs = 1;
			break;
		case OPT_LOG:
			*log_level = pv_log_level_parse(optarg);
			if (*log_level < 0)
				goto bad;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || !cfg->run_dir || !have_mode) {
		usage(stderr);
		return -1;
	}
	if (b->mode == BN_GEN && !b->have_dst) {
		fprintf(stderr, "pvnet-bench: --mode gen needs --dst-mac\n");
		return -1;
	}
	if (!have_secs)
		b->seconds = b->mode == BN_GEN ? 5.0 : BN_SINK_SECONDS;
	return 0;
bad:
	fprintf(stderr, "pvnet-bench: bad value for option -%c: %s\n", c, optarg);
	return -1;
}

/* ---- frames ---- */

static void bn_put_hdr(const struct bench *b, uint8_t *f, const uint8_t dst[6], uint32_t type,
		       uint64_t val)
{
	uint32_t magic = BN_MAGIC;

	memcpy(f, dst, 6);
	memcpy(f + 6, b->mac, 6);
	f[12] = BN_ETHERTYPE >> 8;
	f[13] = BN_ETHERTYPE & 0xff;
	memcpy(f + 14, &magic, 4);
	memcpy(f + 18, &type, 4);
	memcpy(f + 22, &val, 8);
}

/* A control frame (HELLO, END) through the copying path: 0 or -errno. */
static int bn_send_ctl(struct bench *b, const uint8_t dst[6], uint32_t type, uint64_t val)
{
	uint8_t f[BN_MIN_SIZE] = { 0 };
	int r;

	bn_put_hdr(b, f, dst, type, val);
	r = pv_netfront_xmit(b->nf, NULL, f, sizeof(f));
	if (r == 0)
		pv_netfront_flush(b->nf);
	return r;
}

/* One data frame: 0, or -EBUSY (no room: wait for tx_ready), -errno. */
static int bn_send_data(struct bench *b)
{
	struct iovec iov[PV_NF_MAX_TX_SLOTS + 1];
	int r;

	if (b->copy) {
		memcpy(b->tmpl + 22, &b->seq, 8);
		return pv_netfront_xmit(b->nf, NULL, b->tmpl, b->size);
	}
	/* Zero copy: write the header straight into a granted TX page. */
	if (!pv_netfront_tx_borrow(b->nf, iov, PV_NF_MAX_TX_SLOTS + 1))
		return b->up ? -EBUSY : -ENOTCONN;
	bn_put_hdr(b, iov[0].iov_base, b->dst, BN_TYPE_DATA, b->seq);
	r = pv_netfront_xmit_lent(b->nf, NULL, b->size);
	return r;
}

/* Send up to @n data frames and flush once. */
static void bn_gen_batch(struct bench *b, unsigned int n)
{
	unsigned int i;
	int r = 0;

	for (i = 0; i < n; i++) {
		r = bn_send_data(b);
		if (r)
			break;
		b->seq++;
		b->bytes += b->size;
	}
	pv_netfront_flush(b->nf);
	if (r == -EBUSY || r == -ENOTCONN) {
		/* Sleep in epoll until ops->tx_ready (or the carrier comes back). */
		b->can_send = 0;
		b->blocked_ns = bn_now();
		b->waits++;
	} else if (r) {
		pv_err("xmit: %s", strerror(-r));
		b->t_stop = bn_now();
		b->failed = 1;
		b->phase = BN_DONE;
	}
}

/* Frames the rate allows now (the batch if no rate); *timeout_ms when 0. */
static unsigned int bn_allowance(struct bench *b, uint64_t now, int *timeout_ms)
{
	uint64_t due, el;

	if (!b->rate)
		return b->batch;
	el = now - b->t_run;
	due = (uint64_t)((double)el * (double)b->rate / 1e9) + 1;
	if (due > b->seq)
		return due - b->seq < b->batch ? (unsigned int)(due - b->seq) : b->batch;
	/* The next frame is due at seq / rate seconds after the start. */
	*timeout_ms = bn_ms_until(now, b->t_run + (uint64_t)((double)b->seq * 1e9 / (double)b->rate));
	if (!*timeout_ms)
		*timeout_ms = 1;
	return 0;
}

/* The generator's state machine: one step; returns the loop timeout in ms. */
static int bn_gen_step(struct bench *b)
{
	uint64_t now = bn_now();
	int timeout = -1;
	unsigned int n;
	int r;

	switch (b->phase) {
	case BN_CONNECTING:
		if (!b->up || !b->can_send)
			return bn_ms_until(now, b->t_begin + BN_CONNECT_MS * 1000000ull) ?: 1;
		/* A broadcast first: the bridge learns our MAC, the sink sees us. */
		r = bn_send_ctl(b, (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
				BN_TYPE_HELLO, 0);
		if (r)
			pv_warn("hello: %s", strerror(-r));
		b->phase = BN_RUN;
		b->t_run = bn_now();
		b->deadline = b->t_run + (uint64_t)(b->seconds * 1e9);
		return 0;
	case BN_RUN:
		if (now >= b->deadline) {
			b->t_stop = now;
			b->phase = BN_END;
			b->end_deadline = now + BN_END_WAIT_MS * 1000000ull;
			b->end_next = now;
			return 0;
		}
		if (!b->can_send) {
			/* Blocked: tx_ready wakes us; look again now and then. */
			if (b->up && now - b->blocked_ns >= BN_BLOCKED_RETRY_MS * 1000000ull &&
			    pv_netfront_tx_room(b->nf, PV_NF_MAX_FRAME))
				b->can_send = 1;
			else
				return bn_min_timeout(bn_ms_until(now, b->deadline), BN_BLOCKED_RETRY_MS);
		}
		n = bn_allowance(b, now, &timeout);
		if (n)
			bn_gen_batch(b, n);
		if (b->can_send && n)
			return 0;
		return bn_min_timeout(bn_ms_until(now, b->deadline) ?: 1,
				      b->can_send ? timeout : BN_BLOCKED_RETRY_MS);
	case BN_END:
		if (b->end_sent >= BN_END_COPIES || now >= b->end_deadline) {
			b->phase = BN_DONE;
			return 0;
		}
		if (now >= b->end_next && b->up) {
			r = bn_send_ctl(b, b->dst, BN_TYPE_END, b->seq);
			if (r == 0) {
				b->end_sent++;
				b->end_next = now + BN_END_GAP_MS * 1000000ull;
			} else {
				b->end_next = now + 5 * 1000000ull;	/* ring full: retry soon */
			}
		}
		return bn_min_timeout(bn_ms_until(now, b->end_next) ?: 1,
				      bn_ms_until(now, b->end_deadline) ?: 1);
	case BN_DONE:
		break;
	}
	return 0;
}

/* ---- the upper edge ---- */

static int bn_deliver(void *arg, const struct virtio_net_hdr *vh, const struct iovec *iov,
		      int iovcnt, uint32_t len)
{
	struct bench *b = arg;
	const uint8_t *f = iov[0].iov_base;
	uint32_t magic, type;
	uint64_t val;

	if (b->mode != BN_SINK || b->phase != BN_RUN) {
		b->other++;
		return 0;
	}
	if (iovcnt < 1 || iov[0].iov_len < BN_HDR_LEN || len < BN_HDR_LEN ||
	    f[12] != BN_ETHERTYPE >> 8 || f[13] != (BN_ETHERTYPE & 0xff)) {
		b->other++;
		return 0;
	}
	memcpy(&magic, f + 14, 4);
	memcpy(&type, f + 18, 4);
	memcpy(&val, f + 22, 8);
	if (magic != BN_MAGIC) {
		b->other++;
		return 0;
	}
	switch (type) {
	case BN_TYPE_DATA: {
		uint64_t now = bn_now();

		if (!b->got_first) {
			b->got_first = 1;
			b->t_run = now;
		}
		b->t_stop = now;
		b->frames++;
		b->bytes += len;
		if (val >= b->next_seq) {
			b->gaps += val - b->next_seq;
			b->next_seq = val + 1;
		} else {
			b->late++;		/* reordered or duplicated */
		}
		break;
	}
	case BN_TYPE_HELLO:
		/* The generator starts now: the window starts here, not at the first frame. */
		if (!b->got_first) {
			b->got_first = 1;
			b->t_run = b->t_stop = bn_now();
		}
		b->hellos++;
		break;
	case BN_TYPE_END:
		if (!b->end_seen) {
			b->end_seen = 1;
			b->end_total = val;
			b->t_stop = bn_now();
			b->phase = BN_DONE;
		}
		break;
	default:
		b->other++;
	}
	return 0;
}

static void bn_print_mac(const char *what, const uint8_t m[6])
{
	printf("%s %02x:%02x:%02x:%02x:%02x:%02x\n", what, m[0], m[1], m[2], m[3], m[4], m[5]);
	fflush(stdout);
}

static void bn_carrier(void *arg, int up)
{
	struct bench *b = arg;

	b->up = up;
	b->can_send = up;
	if (!up) {
		if (b->phase == BN_DONE)
			pv_info("carrier down: closing");
		else
			pv_warn("carrier lost: pvnetd gone? waiting for the reconnect");
		return;
	}
	pv_info("vif connected (domain %u)", pv_netfront_domid(b->nf));
	if (b->mode == BN_SINK && !b->mac_printed && b->have_mac) {
		b->mac_printed = 1;
		bn_print_mac("MAC", b->mac);
	}
	if (b->mode == BN_SINK && b->phase == BN_CONNECTING) {
		b->phase = BN_RUN;
		b->deadline = bn_now() + (uint64_t)(b->seconds * 1e9);
	}
}

static void bn_tx_ready(void *arg)
{
	struct bench *b = arg;

	b->can_send = b->up;
}

static void bn_config(void *arg, const uint8_t mac[6], unsigned int mtu)
{
	struct bench *b = arg;

	memcpy(b->mac, mac, 6);
	b->have_mac = 1;
	if (b->tmpl)
		bn_put_hdr(b, b->tmpl, b->dst, BN_TYPE_DATA, 0);
	if (b->size > mtu + 14)
		pv_warn("frames of %u bytes exceed the vif's MTU %u: netback will drop them",
			b->size, mtu);
}

static const struct pv_netfront_upper_ops bn_ops = {
	.deliver = bn_deliver,
	.carrier = bn_carrier,
	.tx_ready = bn_tx_ready,
	.config = bn_config,
};

/* ---- main ---- */

static void bn_sig_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct bench *b = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		pv_info("signal %u: stopping", si.ssi_signo);
		if (b->mode == BN_GEN && b->phase == BN_RUN) {
			/* Still tell the sink how many were sent. */
			b->deadline = bn_now();
		} else {
			if (b->phase == BN_CONNECTING)
				b->failed = 1;
			b->phase = BN_DONE;
		}
	}
}

static void bn_close_wait(struct bench *b)
{
	uint64_t deadline = bn_now() + BN_CLOSE_WAIT_MS * 1000000ull;

	pv_netfront_shutdown(b->nf);
	while (!pv_netfront_closed(b->nf) && bn_now() < deadline)
		if (pv_loop_once(b->loop, 100) < 0)
			break;
}

static void bn_result(struct bench *b)
{
	struct pv_netfront_stats st;
	double secs = b->t_stop > b->t_run ? (double)(b->t_stop - b->t_run) / 1e9 : 0;
	uint64_t frames = b->mode == BN_GEN ? b->seq : b->frames;
	double pps = secs > 0 ? (double)frames / secs : 0;

	pv_netfront_get_stats(b->nf, &st);
	printf("RESULT mode=%s frames=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f pps=%.0f",
	       b->mode == BN_GEN ? "gen" : "sink", frames, b->bytes, secs, pps);
	if (b->mode == BN_GEN) {
		printf(" size=%u mbps=%.1f busy=%" PRIu64 " tx_errors=%" PRIu64 " tx_dropped=%" PRIu64
		       " path=%s",
		       b->size, secs > 0 ? (double)b->bytes * 8 / secs / 1e6 : 0, b->waits,
		       st.tx_errors, st.tx_dropped, b->copy ? "copy" : "borrow");
	} else {
		/* With the END frame: everything sent but not seen, else the gaps. */
		uint64_t lost = b->end_seen ? (b->end_total > b->frames ? b->end_total - b->frames : 0)
					    : b->gaps;

		printf(" lost=%" PRIu64 " sent=%s%" PRIu64 " late=%" PRIu64 " mbps=%.1f"
		       " rx_dropped=%" PRIu64 " other=%" PRIu64,
		       lost, b->end_seen ? "" : "?", b->end_seen ? b->end_total : b->next_seq,
		       b->late, secs > 0 ? (double)b->bytes * 8 / secs / 1e6 : 0,
		       st.rx_dropped, b->other);
	}
	printf(" status=%s\n", b->failed ? "failed" : "ok");
	fflush(stdout);
}

static int bn_sink_step(struct bench *b)
{
	uint64_t now = bn_now();

	switch (b->phase) {
	case BN_CONNECTING:
		return bn_ms_until(now, b->t_begin + BN_CONNECT_MS * 1000000ull) ?: 1;
	case BN_RUN:
		if (now >= b->deadline) {
			b->phase = BN_DONE;
			return 0;
		}
		return bn_ms_until(now, b->deadline) ?: 1;
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	struct bench b = { .size = BN_MIN_SIZE, .batch = 32 };
	struct pv_netfront_config cfg = { 0 };
	int log_level = PV_LOG_WARN, sig_fd, e;
	char name[32];

	if (bn_parse(argc, argv, &b, &cfg, &log_level))
		return 2;
	pv_log_init("pvnet-bench", log_level, 0);
	if (!cfg.name) {
		snprintf(name, sizeof(name), "bench-%s-%d", b.mode == BN_GEN ? "gen" : "sink",
			 (int)getpid());
		cfg.name = name;
	}
	b.loop = pv_loop_new();
	if (b.copy)
		b.tmpl = calloc(1, BN_MAX_SIZE);
	sig_fd = pv_loop_signalfd(0);
	if (b.loop && sig_fd >= 0)
		b.sig_w = pv_loop_add(b.loop, sig_fd, EPOLLIN, bn_sig_cb, &b);
	if (!b.sig_w || (b.copy && !b.tmpl)) {
		pv_err("setup: %s", strerror(errno));
		return 1;
	}
	b.nf = pv_netfront_new(b.loop, &cfg, &bn_ops, &b, &e);
	if (!b.nf) {
		pv_err("netfront: %s", strerror(-e));
		return 1;
	}
	b.t_begin = bn_now();
	while (b.phase != BN_DONE) {
		int timeout = b.mode == BN_GEN ? bn_gen_step(&b) : bn_sink_step(&b);

		if (b.phase == BN_CONNECTING && bn_now() >= b.t_begin + BN_CONNECT_MS * 1000000ull) {
			pv_err("the vif did not connect within %u ms (is pvnetd running at %s?)",
			       BN_CONNECT_MS, cfg.run_dir);
			b.failed = 1;
			break;
		}
		if (b.phase == BN_DONE)
			break;
		if (pv_loop_once(b.loop, timeout) < 0) {
			pv_err("loop: %s", strerror(errno));
			b.failed = 1;
			break;
		}
	}
	bn_result(&b);
	if (b.up)
		bn_close_wait(&b);
	pv_netfront_free(b.nf);
	pv_loop_del(b.loop, b.sig_w);
	pv_loop_free(b.loop);
	close(sig_fd);
	free(b.tmpl);
	return b.failed ? 1 : 0;
}
