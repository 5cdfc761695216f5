/* SPDX-License-Identifier: MIT */
/*
 * pvnet-front - a guest's network driver: netfront with a TAP device as its
 * upper edge, run inside the guest's network namespace.
 *
 *   guest netns                                             host
 *   apps -> TCP/IP -> eth0 (TAP) <-> pvnet-front (netfront) <== rings ==> pvnetd (netback)
 *                                        \-- <run-dir>/hv.sock (a path: works across netns)
 *
 * With --direct-test there is no TAP: netfront's frame API is driven by a
 * tiny built-in responder (ARP and ICMP echo for --ip), a smoke test of
 * the direct API and of the path through netback and the bridge.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "accel/plugins.h"
#include "front/netfront.h"
#include "lib/tap.h"
#include "pvnet/accel.h"
#include "pvnet/hv_proto.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/pkt.h"


#define FR_TX_BUDGET     64	/* TAP frames per wake-up, then one push */
#define FR_CLOSE_WAIT_MS 2000	/* bound on the xenbus close handshake */
#define FR_BUF_SIZE      (PV_NF_MAX_FRAME + 1024)
#define FR_MAC_WAIT_S    10	/* with --mac: registered but no vif this long: give up */

struct front {
	struct pv_loop *loop;
	struct pv_netfront *nf;
	struct pv_tap tap;
	struct pv_watch *tap_w, *sig_w;
	int tap_reading;
	int direct;
	uint8_t mac[6];
	int have_mac;
	unsigned int unconnected_s;
	int mac_failed;	/* with --mac: seconds registered without a vif */
	struct pv_watch *mac_w;
	struct pv_watch *announce_w;	/* carrier up: tell the segment where we are */
	uint64_t announce_arp, announce_na;
	uint32_t ip;			/* direct test: network order, 0 = none */
	uint8_t *buf;			/* a TAP frame on its way to netfront */
	struct pv_ratelimit rl;
	uint64_t direct_rx, direct_arp, direct_ping;
};

/* ---- options: one table drives parsing and the usage text ---- */

enum { OPT_RUN_DIR = 'r', OPT_IFNAME = 'i', OPT_MAC = 'm', OPT_DEVID = 'd', OPT_MTU = 'M',
       OPT_NAME = 'n', OPT_LOG = 'l', OPT_SYSLOG = 's', OPT_DIRECT = 'D', OPT_IP = 'a',
       OPT_NO_ACCEL = 'A', OPT_PLUGIN = 'P', OPT_HELP = 'h' };

static const struct fr_opt {
	struct option o;
	const char *arg, *help;
} fr_opts[] = {
	{ { "run-dir", required_argument, NULL, OPT_RUN_DIR }, "DIR", "pvnetd's run directory (DIR/hv.sock); required" },
	{ { "ifname", required_argument, NULL, OPT_IFNAME }, "NAME", "TAP device name (default eth0)" },
	{ { "mac", required_argument, NULL, OPT_MAC }, "MAC", "ask for this MAC (default: the toolstack chooses)" },
	{ { "devid", required_argument, NULL, OPT_DEVID }, "N", "vif device id (default 0)" },
	{ { "mtu", required_argument, NULL, OPT_MTU }, "N", "ask for this MTU (default: the toolstack's, 1500)" },
	{ { "name", required_argument, NULL, OPT_NAME }, "NAME", "domain name (default pvnet-front)" },
	{ { "log-level", required_argument, NULL, OPT_LOG }, "LEVEL", "err, warn, info (default) or debug" },
	{ { "syslog", no_argument, NULL, OPT_SYSLOG }, NULL, "log to syslog instead of stderr" },
	{ { "direct-test", no_argument, NULL, OPT_DIRECT }, NULL, "no TAP: answer ARP and ping for --ip via the frame API" },
	{ { "ip", required_argument, NULL, OPT_IP }, "ADDR", "with --direct-test: the IPv4 address to answer for" },
	{ { "no-accel", no_argument, NULL, OPT_NO_ACCEL }, NULL, "no fast path: register no accelerator plugin" },
	{ { "accel-plugin", required_argument, NULL, OPT_PLUGIN }, "PATH", "load an accelerator plugin's shared object (its frontend half; replaces the built-in one of its name); up to 8 times" },
	{ { "help", no_argument, NULL, OPT_HELP }, NULL, "this text" },
};
#define FR_NOPTS (sizeof(fr_opts) / sizeof(fr_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: pvnet-front --run-dir DIR [options]\n\n"
		   "A guest's netfront: a TAP device backed by pvnetd's netback.\n"
		   "Run it inside the guest's network namespace.\n\n");
	for (size_t i = 0; i < FR_NOPTS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", fr_opts[i].o.val, fr_opts[i].o.name,
			 fr_opts[i].arg ? " " : "", fr_opts[i].arg ? fr_opts[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, fr_opts[i].help);
	}
}

struct fr_args {
	const char *ifname;
	int log_level;
	int use_syslog;
	int no_accel;
	struct pv_netfront_config cfg;
};

static int fr_uint(const char *s, unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int fr_parse(int argc, char **argv, struct fr_args *a, struct front *fr)
{
	struct option longs[FR_NOPTS + 1];
	char shorts[3 * FR_NOPTS + 1], *p = shorts;
	struct in_addr in;
	int c;

	for (size_t i = 0; i < FR_NOPTS; i++) {
		longs[i] = fr_opts[i].o;
		*p++ = (char)fr_opts[i].o.val;
		if (fr_opts[i].o.has_arg)
			*p++ = ':';
	}
	*p = '\0';
	memset(&longs[FR_NOPTS], 0, sizeof(longs[0]));
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case OPT_RUN_DIR: a->cfg.run_dir = optarg; break;
		case OPT_IFNAME: a->ifname = optarg; break;
		case OPT_NAME:
			if (!pv_hv_name_ok(optarg)) {
				fprintf(stderr, "pvnet-front: bad domain name '%s': want 1 to 31 of "
					"A-Z a-z 0-9 . _ -\n", optarg);
				return -1;
			}
			a->cfg.name = optarg;
			break;
		case OPT_SYSLOG: a->use_syslog = 1; break;
		case OPT_DIRECT: fr->direct = 1; break;
		case OPT_NO_ACCEL: a->no_accel = 1; break;
		case OPT_PLUGIN:	/* refused: said why (plugins.c), and we do not start */
			if (pv_accel_plugins_load(optarg) < 0)
				return -1;
			break;
		case OPT_HELP: usage(stdout); exit(0);
		case OPT_MAC:
			if (pv_netfront_mac_parse(optarg, a->cfg.mac) || (a->cfg.mac[0] & 1) ||
			    !(a->cfg.mac[0] | a->cfg.mac[1] | a->cfg.mac[2] | a->cfg.mac[3] |
			      a->cfg.mac[4] | a->cfg.mac[5])) {
				fprintf(stderr, "pvnet-front: bad MAC '%s': want a unicast "
					"xx:xx:xx:xx:xx:xx, not multicast, broadcast or zero\n", optarg);
				return -1;
			}
			fr->have_mac = 1;
			break;
		case OPT_DEVID:
			if (fr_uint(optarg, 255, &a->cfg.devid))
				goto bad;
			break;
		case OPT_MTU:
			if (fr_uint(optarg, 65521, &a->cfg.mtu) || a->cfg.mtu < 68)
				goto bad;
			break;
		case OPT_LOG:
			a->log_level = pv_log_level_parse(optarg);
			if (a->log_level < 0)
				goto bad;
			break;
		case OPT_IP:
			if (inet_pton(AF_INET, optarg, &in) != 1)
				goto bad;
			fr->ip = in.s_addr;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || !a->cfg.run_dir) {
		usage(stderr);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "pvnet-front: bad value for option -%c: %s\n", c, optarg);
	return -1;
}

/* ---- the TAP upper edge ---- */

static void fr_tap_reading(struct front *fr, int on)
{
	if (fr->tap_reading == on || !fr->tap_w)
		return;
	fr->tap_reading = on;
	pv_loop_mod(fr->loop, fr->tap_w, on ? EPOLLIN : 0);
}

/* A TAP read's iovecs: netfront's own TX pages, or a plugin's loan (accel.h 1.3). */
#define FR_TX_IOV	(PV_ACCEL_LEND_IOV > PV_NF_MAX_TX_SLOTS + 1 ? PV_ACCEL_LEND_IOV : \
			 PV_NF_MAX_TX_SLOTS + 1)

/* The guest's stack sent frames: into netfront while it has room. */
static void fr_tap_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct front *fr = arg;
	struct virtio_net_hdr vh;

	for (int i = 0; i < FR_TX_BUDGET; i++) {
		struct iovec iov[FR_TX_IOV];
		ssize_t n;
		int k;

		/*
		 * Backpressure: leave frames in the TAP's queue until tx_ready.
		 * Otherwise read the frame straight into granted TX pages.
		 */
		k = pv_netfront_tx_borrow(fr->nf, iov, FR_TX_IOV);
		if (!k) {
			fr_tap_reading(fr, 0);
			break;
		}
		n = tap_readv(&fr->tap, &vh, iov, k);
		if (n < 0) {
			pv_netfront_tx_unborrow(fr->nf);
			if (n != -EAGAIN)
				pv_log_rl(&fr->rl, PV_LOG_WARN, "%s: read: %s", fr->tap.ifname,
					  strerror((int)-n));
			break;
		}
		pv_netfront_xmit_lent(fr->nf, &vh, (uint32_t)n);	/* refusals are counted */
	}
	pv_netfront_flush(fr->nf);
}

_Static_assert(TAP_IOV_MAX >= PV_ACCEL_DELIVER_IOV && TAP_IOV_MAX >= PV_NF_MAX_RX_SLOTS,
	       "a frame netfront or a plugin delivers fits one TAP write");
_Static_assert(TAP_IOV_MAX >= FR_TX_IOV, "a TX frame's slots (or a plugin's loan) fit one TAP read");

static int fr_tap_deliver(void *arg, const struct virtio_net_hdr *vh, const struct iovec *iov,
			  int iovcnt, uint32_t len)
{
	struct front *fr = arg;

	return tap_write(&fr->tap, vh, iov, iovcnt);
}

static void fr_tap_config(void *arg, const uint8_t mac[6], unsigned int mtu)
{
	struct front *fr = arg;
	uint8_t cur[6];
	int e;

	memcpy(fr->mac, mac, 6);	/* what the announcements carry */
	if (tap_get_mac(&fr->tap, cur) || memcmp(cur, mac, 6)) {
		e = tap_set_mac(&fr->tap, mac);
		if (e)
			pv_warn("%s: cannot set MAC: %s", fr->tap.ifname, strerror(-e));
	}
	e = tap_set_mtu(&fr->tap, mtu);
	if (e)
		pv_warn("%s: cannot set MTU %u: %s", fr->tap.ifname, mtu, strerror(-e));
	e = tap_set_up(&fr->tap, 1);
	if (e)
		pv_warn("%s: cannot bring it up: %s", fr->tap.ifname, strerror(-e));
}

/* ---- announcing ourselves (Linux's netdev_notify_peers) ---- */

static void fr_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* A gratuitous ARP request for @ip (sender = target = @ip), as arp_notify sends. */
static uint32_t fr_garp(const struct front *fr, const struct in_addr *ip, uint8_t *f)
{
	memset(f, 0, 42);
	memset(f, 0xff, 6);
	memcpy(f + 6, fr->mac, 6);
	fr_put16(f + 12, 0x0806);
	fr_put16(f + 14, 1);		/* Ethernet */
	fr_put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	fr_put16(f + 20, 1);		/* request */
	memcpy(f + 22, fr->mac, 6);
	memcpy(f + 28, ip, 4);
	memcpy(f + 38, ip, 4);
	return 42;
}

/* An unsolicited Neighbour Advertisement for @a to all nodes, Override set, our MAC. */
static uint32_t fr_unsol_na(const struct front *fr, const struct in6_addr *a, uint8_t *f)
{
	static const uint8_t all_nodes[16] = { 0xff, 2, [15] = 1 };
	uint8_t *ip = f + 14, *icmp = f + 54, pseudo[40];
	uint32_t sum;
	uint16_t c;

	memset(f, 0, 86);
	memcpy(f, (const uint8_t[]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
	memcpy(f + 6, fr->mac, 6);
	fr_put16(f + 12, 0x86dd);
	ip[0] = 0x60;
	fr_put16(ip + 4, 32);		/* ICMPv6 8 + target 16 + option 8 */
	ip[6] = 58;
	ip[7] = 255;			/* RFC 4861: hop limit 255 */
	memcpy(ip + 8, a, 16);
	memcpy(ip + 24, all_nodes, 16);
	icmp[0] = 136;
	icmp[4] = 0x20;			/* Override */
	memcpy(icmp + 8, a, 16);
	icmp[24] = 2;			/* target link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, fr->mac, 6);
	memset(pseudo, 0, sizeof(pseudo));
	memcpy(pseudo, ip + 8, 32);
	pseudo[35] = 32;
	pseudo[39] = 58;
	sum = pv_pkt_csum_add(pv_pkt_csum_add(0, pseudo, sizeof(pseudo)), icmp, 32);
	c = pv_pkt_csum_fold(sum);
	fr_put16(icmp + 2, c);
	return 86;
}

/*
 * Once the vif is connected (at start, after a pvnetd restart, after a
 * migration): a gratuitous ARP for each IPv4 address of the TAP and an
 * unsolicited NA for each IPv6 one, sent through netfront like any frame
 * from the guest, so the bridges on the way (pvnetd's, the wire's) and
 * the peers' neighbour caches learn where the guest is now.  We send them
 * ourselves rather than rely on the guest's arp_notify/ndisc_notify:
 * Linux fires those on NETDEV_UP, NETDEV_CHANGEADDR and
 * NETDEV_NOTIFY_PEERS, and a TAP's carrier coming back is none of them
 * (the MAC does not change in a migration, and bouncing the link would
 * drop the guest's routes).
 */
static void fr_announce_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct front *fr = arg;
	struct ifaddrs *ifa, *i;
	unsigned int arp = 0, na = 0;
	uint8_t f[96];

	pv_loop_timer_del(loop, fr->announce_w);
	fr->announce_w = NULL;
	if (!pv_netfront_connected(fr->nf) || getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		uint32_t len = 0;

		if (!i->ifa_addr || strcmp(i->ifa_name, fr->tap.ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			len = fr_garp(fr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, f);
		else if (i->ifa_addr->sa_family == AF_INET6)
			len = fr_unsol_na(fr, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, f);
		if (!len || pv_netfront_xmit(fr->nf, NULL, f, len))
			continue;
		if (len == 42)
			arp++;
		else
			na++;
	}
	freeifaddrs(ifa);
	pv_netfront_flush(fr->nf);
	fr->announce_arp += arp;
	fr->announce_na += na;
	if (arp || na)
		pv_info("%s: announced: %u gratuitous ARP, %u unsolicited NA", fr->tap.ifname, arp, na);
}

static void fr_tap_carrier(void *arg, int up)
{
	struct front *fr = arg;
	int e;

	/* From the loop, not from inside netfront's state machine. */
	if (up && !fr->announce_w)
		fr->announce_w = pv_loop_timer(fr->loop, 0, 0, fr_announce_cb, fr);

	if (up) {
		e = tap_set_offload(&fr->tap, pv_netfront_tun_offload(pv_netfront_features(fr->nf)));
		if (e)
			pv_warn("%s: offloads: %s", fr->tap.ifname, strerror(-e));
	}
	e = tap_set_carrier(&fr->tap, up);
	if (e)
		pv_debug("%s: carrier: %s", fr->tap.ifname, strerror(-e));
}

static void fr_tap_ready(void *arg)
{
	fr_tap_reading(arg, 1);
}

static const struct pv_netfront_upper_ops fr_tap_ops = {
	.deliver = fr_tap_deliver,
	.carrier = fr_tap_carrier,
	.tx_ready = fr_tap_ready,
	.config = fr_tap_config,
};

/* ---- the direct-test upper edge: an ARP and ping responder ---- */

static uint16_t fr_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* An ARP request for our address: turn it into the reply, in place. */
static int fr_arp_reply(struct front *fr, uint8_t *f, uint32_t len)
{
	uint8_t *a = pv_pkt_getw(f, len, PV_PKT_ETH_HLEN, 28);

	if (!a || fr_rd16(a) != 1 || fr_rd16(a + 2) != 0x0800 || fr_rd16(a + 6) != 1 ||
	    memcmp(a + 24, &fr->ip, 4))
		return 0;
	memcpy(f, f + 6, 6);
	memcpy(f + 6, fr->mac, 6);
	a[7] = 2;				/* reply */
	memcpy(a + 18, a + 8, 10);		/* target = the asker */
	memcpy(a + 8, fr->mac, 6);
	memcpy(a + 14, &fr->ip, 4);
	fr->direct_arp++;
	return 1;
}

/* An ICMP echo request to our address: turn it into the reply, in place. */
static int fr_ping_reply(struct front *fr, uint8_t *f, uint32_t len)
{
	struct pv_pkt_info pi;
	uint8_t tmp[4], *icmp;
	uint32_t ilen;

	if (pv_pkt_parse(f, len, &pi) || pi.ip_version != 4 || pi.l4_proto != 1 ||
	    (pi.flags & PV_PKT_F_FRAG) || memcmp(pi.dst_ip, &fr->ip, 4))
		return 0;
	icmp = pv_pkt_getw(f, pi.l3_end, pi.l4_off, 8);
	if (!icmp || icmp[0] != 8)
		return 0;
	ilen = pi.l3_end - pi.l4_off;
	memcpy(f, f + 6, 6);
	memcpy(f + 6, fr->mac, 6);
	memcpy(tmp, f + pi.l3_off + 12, 4);	/* swap addresses: the IP checksum holds */
	memcpy(f + pi.l3_off + 12, f + pi.l3_off + 16, 4);
	memcpy(f + pi.l3_off + 16, tmp, 4);
	icmp[0] = 0;
	icmp[2] = icmp[3] = 0;
	{
		uint16_t c = pv_pkt_csum_fold(pv_pkt_csum_add(0, icmp, ilen));

		icmp[2] = (uint8_t)(c >> 8);	/* the sum is of big-endian words */
		icmp[3] = (uint8_t)c;
	}
	fr->direct_ping++;
	return 1;
}

static int fr_direct_deliver(void *arg, const struct virtio_net_hdr *vh, const struct iovec *iov,
			     int iovcnt, uint32_t len)
{
	struct front *fr = arg;
	uint32_t got = 0;
	const uint8_t *eh;
	int answer = 0;

	fr->direct_rx++;
	if (!fr->ip || len > 2048)
		return 0;
	for (int k = 0; k < iovcnt; k++) {
		memcpy(fr->buf + got, iov[k].iov_base, iov[k].iov_len);
		got += (uint32_t)iov[k].iov_len;
	}
	eh = pv_pkt_get(fr->buf, got, 0, PV_PKT_ETH_HLEN);
	if (!eh)
		return 0;
	if (fr_rd16(eh + 12) == 0x0806)
		answer = fr_arp_reply(fr, fr->buf, got);
	else if (fr_rd16(eh + 12) == 0x0800)
		answer = fr_ping_reply(fr, fr->buf, got);
	if (answer && pv_netfront_xmit(fr->nf, NULL, fr->buf, got) == 0)
		pv_netfront_flush(fr->nf);
	return 0;
}

static void fr_direct_config(void *arg, const uint8_t mac[6], unsigned int mtu)
{
	struct front *fr = arg;

	memcpy(fr->mac, mac, 6);
}

static void fr_direct_carrier(void *arg, int up)
{
}

static const struct pv_netfront_upper_ops fr_direct_ops = {
	.deliver = fr_direct_deliver,
	.carrier = fr_direct_carrier,
	.config = fr_direct_config,
};

/* ---- main ---- */

static void fr_sig_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct front *fr = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		pv_info("signal %u: closing", si.ssi_signo);
		pv_netfront_shutdown(fr->nf);
	}
	pv_loop_stop(loop);
}

/*
 * With --mac, pvnetd refuses a MAC another vif has and netfront would wait
 * for a toolstack that never comes: registered but without a connected
 * vif for FR_MAC_WAIT_S seconds, give up.
 */
static void fr_mac_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct front *fr = arg;

	/* A migration waits on its own deadline, then goes back to the source. */
	if (!pv_netfront_domid(fr->nf) || pv_netfront_connected(fr->nf) ||
	    pv_netfront_migrating(fr->nf)) {
		fr->unconnected_s = 0;
		return;
	}
	if (++fr->unconnected_s < FR_MAC_WAIT_S)
		return;
	pv_err("domain %u: no vif after %u s: pvnetd refused the one asked for with --mac "
	       "(is the MAC in use by another vif? see the warning above and pvnetd's log)",
	       pv_netfront_domid(fr->nf), FR_MAC_WAIT_S);
	fr->mac_failed = 1;
	pv_loop_stop(loop);
}

static uint64_t fr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Shutting down: let the xenbus close handshake run, for FR_CLOSE_WAIT_MS at most. */
static void fr_close_wait(struct front *fr)
{
	uint64_t deadline = fr_now_ms() + FR_CLOSE_WAIT_MS;

	while (!pv_netfront_closed(fr->nf) && fr_now_ms() < deadline)
		if (pv_loop_once(fr->loop, 100) < 0)
			break;
	if (!pv_netfront_closed(fr->nf))
		pv_warn("backend did not close within %u ms", FR_CLOSE_WAIT_MS);
}

static void fr_report(struct front *fr)
{
	struct pv_netfront_stats st;

	pv_netfront_get_stats(fr->nf, &st);
	pv_info("tx %llu packets %llu bytes, %llu dropped, %llu busy, %llu errors; "
		"rx %llu packets %llu bytes, %llu dropped, %llu errors; %llu reconnects",
		(unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes,
		(unsigned long long)st.tx_dropped, (unsigned long long)st.tx_busy,
		(unsigned long long)st.tx_errors, (unsigned long long)st.rx_packets,
		(unsigned long long)st.rx_bytes, (unsigned long long)st.rx_dropped,
		(unsigned long long)st.rx_errors, (unsigned long long)st.reconnects);
	if (st.mig_suspends)
		pv_info("migration: %llu suspends, %llu migrations, %llu returns to the source, "
			"%llu TX requests abandoned", (unsigned long long)st.mig_suspends,
			(unsigned long long)st.migrations, (unsigned long long)st.mig_returns,
			(unsigned long long)st.mig_tx_abandoned);
	if (fr->announce_arp || fr->announce_na)
		pv_info("announced %llu gratuitous ARP, %llu unsolicited NA",
			(unsigned long long)fr->announce_arp, (unsigned long long)fr->announce_na);
	if (st.accel_attaches)
		pv_info("accelerator: %llu attaches, fast path tx %llu rx %llu packets, "
			"%llu held, %llu handed back; %llu read into lent buffers, "
			"%llu of them waited for slow-path room, %llu dropped (no memory)",
			(unsigned long long)st.accel_attaches,
			(unsigned long long)st.accel_fast_tx_packets,
			(unsigned long long)st.accel_fast_rx_packets,
			(unsigned long long)st.accel_tx_busy, (unsigned long long)st.accel_tx_returned,
			(unsigned long long)st.accel_tx_lends,
			(unsigned long long)st.accel_tx_lend_waits,
			(unsigned long long)st.accel_tx_lend_dropped);
	if (fr->direct)
		pv_info("direct test: %llu frames received, %llu ARP and %llu ping answered",
			(unsigned long long)fr->direct_rx, (unsigned long long)fr->direct_arp,
			(unsigned long long)fr->direct_ping);
}

static int fr_open_tap(struct front *fr, const char *ifname)
{
	/*
	 * No carrier until the vif is connected (fr_tap_carrier), and none
	 * from the device's birth: a guest bringing eth0 up before the
	 * backend's MAC is set would start IPv6 addrconf with a link-local
	 * address of the TAP's random MAC and send from it (netback would
	 * learn an address that is not the vif's).
	 */
	int e = tap_open_nocarrier(&fr->tap, ifname);

	if (e) {
		pv_err("%s: cannot create the TAP device: %s", ifname,
		       e == -EEXIST ? "an interface of that name exists" : strerror(-e));
		return e;
	}
	fr->tap_w = pv_loop_add(fr->loop, fr->tap.fd, 0, fr_tap_cb, fr);
	return fr->tap_w ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
	struct fr_args a = { .ifname = "eth0", .log_level = PV_LOG_INFO };
	struct front fr = { .tap = { .fd = -1 }, .rl = PV_RATELIMIT_INIT };
	struct pv_accel_env aenv;
	int sig_fd, e, rc = 1;

	if (fr_parse(argc, argv, &a, &fr))
		return 2;
	pv_log_init("pvnet-front", a.log_level, a.use_syslog);
	fr.loop = pv_loop_new();
	fr.buf = malloc(FR_BUF_SIZE);
	sig_fd = pv_loop_signalfd(0);
	if (fr.loop && sig_fd >= 0)
		fr.sig_w = pv_loop_add(fr.loop, sig_fd, EPOLLIN, fr_sig_cb, &fr);
	if (!fr.buf || !fr.sig_w) {
		pv_err("setup: %s", strerror(errno));
		return 1;
	}
	/* Before netfront: it attaches a plugin when the backend offers accel-frontend = its name. */
	aenv = (struct pv_accel_env){ .loop = fr.loop, .log_ident = "pvnet-front",
				      .log_level = a.log_level, .log_syslog = a.use_syslog };
	if (!a.no_accel && pv_accel_plugins_start_front(&aenv) < 0)
		pv_warn("accelerator plugins: not all started (slow path for those)");
	if (!fr.direct && fr_open_tap(&fr, a.ifname))
		goto out;
	fr.nf = pv_netfront_new(fr.loop, &a.cfg, fr.direct ? &fr_direct_ops : &fr_tap_ops, &fr, &e);
	if (!fr.nf) {
		pv_err("netfront: %s", strerror(-e));
		goto out;
	}
	if (fr.have_mac && !(fr.mac_w = pv_loop_timer(fr.loop, 1000, 1000, fr_mac_cb, &fr))) {
		pv_err("setup: cannot arm the --mac timer");
		goto out;
	}
	pv_info("%s%s, pvnetd at %s", fr.direct ? "direct test" : "TAP ",
		fr.direct ? "" : fr.tap.ifname, a.cfg.run_dir);
	if (pv_loop_run(fr.loop) == 0 && !fr.mac_failed) {
		fr_close_wait(&fr);
		rc = 0;
	}
	fr_report(&fr);
out:
	if (fr.mac_w)
		pv_loop_timer_del(fr.loop, fr.mac_w);
	if (fr.announce_w)
		pv_loop_timer_del(fr.loop, fr.announce_w);
	pv_netfront_free(fr.nf);
	pv_accel_plugins_stop_front();
	pv_loop_del(fr.loop, fr.tap_w);
	pv_loop_del(fr.loop, fr.sig_w);
	tap_close(&fr.tap);		/* removes the interface */
	pv_loop_free(fr.loop);
	free(fr.buf);
	close(sig_fd);
	return rc;
}
