/* SPDX-License-Identifier: MIT */
/*
 * test_nicport.c - pvnetd's switch port on pvnet-nicd's host VI, against a
 * real pvnet-nicd on a veth in a private network namespace.
 *
 *   forked child, unshare(CLONE_NEWNET), IPv6 off (no stray frames):
 *
 *   +------------- pv_switch -------------+
 *   | capture port "cap"   nic:<run dir>  |
 *   +----------------------------|--------+
 *                     host VI    | pvnet-nicd --port nA
 *                            nA  | veth
 *                            nB  AF_PACKET socket: the "wire"
 *
 * Frames from the switch must come out of nB: a 60 KB GSO frame with a
 * partial checksum is posted to the host VI as one TSO chain and crosses
 * the veth whole (read at nB with a virtio-net header: GSO TCPV4, partial
 * checksum), a small one as a CSUM frame; with nA's offloads off the
 * kernel cuts and sums what the NIC asked (MSS-sized segments, valid
 * checksums); a GSO frame the NIC would refuse (mss 40) is cut in software
 * by the port instead.  Frames sent on nB must reach the capture port;
 * pvnet-nicd killed: the port leaves the switch, nothing crashes;
 * pvnet-nicd restarted: the port comes back and traffic flows.
 *
 * Needs root, network namespaces, veth and build/pvnet-nicd: skips otherwise.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "back/nicport.h"
#include "back/port.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/pkt.h"
#include "pvnet/nic.h"
#include "../lib/test.h"
#include "../lib/ifoffload.h"

static const uint8_t mac_b1[6] = { 0x02, 0, 0, 0, 0, 0xb1 };	/* behind nB */
static const uint8_t mac_c1[6] = { 0x02, 0, 0, 0, 0, 0xc1 };	/* behind cap */
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#include "../lib/wire.h"
#include "../lib/nicd.h"

static char run_dir[] = "/tmp/pvnet-nicport.XXXXXX";
static char sock_path[256];
static uint8_t fb[70000], fb2[70000];

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Run the loop until the port's connection state is @want (or @ms pass). */
static int wait_connected(struct pv_loop *loop, struct pv_nicport *np, int want, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!!pv_nicport_connected(np) != want) {
		if (ms_since(&t0) > ms)
			return 0;
		pv_loop_once(loop, 20);
	}
	return 1;
}

/* Wait for a frame equal to @want on the wire, running the loop meanwhile. */
static int wire_wait(struct pv_loop *loop, int fd, const uint8_t *want, uint32_t len, int ms)
{
	static uint8_t buf[70000];
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) <= ms) {
		int n = sock_recv(fd, buf, sizeof(buf), NULL, 10);

		if (n == (int)len && !memcmp(buf, want, len))
			return 1;
		pv_loop_once(loop, 10);
	}
	return 0;
}

static void drain(int fd)
{
	while (sock_recv(fd, fb2, sizeof(fb2), NULL, 0) >= 0)
		;
}

static void cap_reset(void) { cap_n = 0; }

/* A plain frame switch -> NIC -> wire, and one wire -> NIC -> switch. */
static void test_both_ways(struct pv_loop *loop, struct pv_switch *sw, int wire, const char *phase)
{
	struct pv_frame f;
	char name[96];
	uint32_t len;
	int ok;

	drain(wire);
	len = mk_plain(fb, mac_b1, mac_c1, 0, phase, 300);
	mk_pvframe(&f, fb, len, 2);
	inject(sw, &f);
	snprintf(name, sizeof(name), "nicport %s: switch -> NIC -> wire", phase);
	T_CHECK(wire_wait(loop, wire, fb, len, 2000), name, "frame not seen on nB");

	cap_reset();
	len = mk_plain(fb, mac_c1, mac_b1, 0, phase, 200);
	ok = send(wire, fb, len, 0) == (ssize_t)len;
	snprintf(name, sizeof(name), "nicport %s: wire -> NIC -> switch", phase);
	T_CHECK(ok && cap_wait(loop, fb, len, 2000) >= 0, name, "sent %d, captured %u", ok, cap_n);
}

/* A TCP/IPv4 frame from the switch, source port @sport, partial checksum, GSO if @mss. */
static uint32_t inject_tcp4(struct pv_switch *sw, uint16_t sport, uint32_t payload, uint16_t mss)
{
	struct pv_frame f;
	uint32_t len = mk_tcp4(fb, mac_b1, mac_c1, sport, payload);

	mk_pvframe(&f, fb, len, 3);
	f.flags = PV_FRAME_CSUM_PARTIAL;
	f.csum_start = 34;
	f.csum_offset = 16;
	if (mss) {
		f.gso_type = PV_GSO_TCPV4;
		f.gso_size = mss;
	}
	inject(sw, &f);
	return len;
}

/* The frame with TCP source port @sport as nB's vnet socket @vwire gets it: its length or -1. */
static int vnet_wait(struct pv_loop *loop, int vwire, uint16_t sport, struct virtio_net_hdr *vh)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 2000) {
		int n = sock_recv(vwire, fb2, sizeof(fb2), vh, 10);

		if (n >= 54 && get16(fb2 + 12) == 0x0800 && get16(fb2 + 34) == sport)
			return n;
		pv_loop_once(loop, 10);
	}
	return -1;
}

/*
 * MSS-sized segments of the frame in fb (TCP source port @sport) on the
 * plain socket @wire: every one with right checksums and its payload in
 * place; true if all @payload bytes came, as @want segments of @mss.
 */
static int segs_wait(struct pv_loop *loop, int wire, uint16_t sport, uint32_t payload, uint16_t mss,
		     unsigned int want)
{
	uint32_t got = 0;
	unsigned int segs = 0, bad = 0, big = 0;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < payload && ms_since(&t0) < 3000) {
		int n = sock_recv(wire, fb2, sizeof(fb2), NULL, 10);

		if (n >= 54 && get16(fb2 + 12) == 0x0800 && get16(fb2 + 34) == sport) {
			segs++;
			got += (uint32_t)n - 54;
			if (!tcp4_ok(fb2, (uint32_t)n) ||
			    memcmp(fb2 + 54, fb + 54 + (get32(fb2 + 38) - 0x10000000u), (uint32_t)n - 54))
				bad++;
			if (n > 1514 || (n - 54 != mss && got < payload))
				big++;
		}
		pv_loop_once(loop, 10);
	}
	if (segs != want || got != payload || bad || big)
		printf("# segments: %u (want %u), payload %u/%u, bad %u, wrong size %u\n", segs, want,
		       got, payload, bad, big);
	return segs == want && got == payload && !bad && !big;
}

/* nA with its offloads: GSO frames and partial checksums cross the veth as they are. */
static void test_tx_offload(struct pv_loop *loop, struct pv_switch *sw, struct pv_nicport *np,
			    int vwire)
{
	struct pv_nicport_stats st0, st;
	struct virtio_net_hdr vh = { 0 };
	uint32_t len;
	int n;

	pv_nicport_stats(np, &st0);
	drain(vwire);
	len = inject_tcp4(sw, 4010, 500, 0);
	n = vnet_wait(loop, vwire, 4010, &vh);
	T_CHECK(n == (int)len && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && le16toh(vh.csum_start) == 34 &&
		le16toh(vh.csum_offset) == 16 && !pv_pkt_csum_complete(fb2, len, 34, 16) && tcp4_ok(fb2, len),
		"nicport offload: partial checksum left to the kernel (NEEDS_CSUM 34/16), completes right",
		"len %d flags %u csum %u/%u", n, vh.flags, vh.csum_start, vh.csum_offset);
	len = inject_tcp4(sw, 4011, 60000, 1448);
	n = vnet_wait(loop, vwire, 4011, &vh);
	T_CHECK(n == (int)len && vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && le16toh(vh.gso_size) == 1448 &&
		(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !memcmp(fb2 + 54, fb + 54, len - 54) &&
		!pv_pkt_csum_complete(fb2, len, 34, 16) && tcp4_ok(fb2, len),
		"nicport offload: 60 KB GSO frame posted as a TSO chain, crosses the veth whole "
		"(GSO TCPV4/1448), payload and checksum right", "len %d gso %u/%u flags %u", n,
		vh.gso_type, vh.gso_size, vh.flags);
	pv_nicport_stats(np, &st);
	T_CHECK(st.tx_segments == st0.tx_segments && st.nic_errors == st0.nic_errors &&
		st.port.tx_dropped == st0.port.tx_dropped,
		"nicport offload: no software segment, no NIC error, nothing dropped",
		"segments +%llu errors +%llu dropped +%llu",
		(unsigned long long)(st.tx_segments - st0.tx_segments),
		(unsigned long long)(st.nic_errors - st0.nic_errors),
		(unsigned long long)(st.port.tx_dropped - st0.port.tx_dropped));
}

static void test_tx(struct pv_loop *loop, struct pv_switch *sw, struct pv_nicport *np, int wire)
{
	struct pv_nicport_stats st, st2;
	struct pv_frame f;
	uint32_t len;
	struct timespec t0;
	int tcp_ok;

	/* broadcast, flooded to the NIC port */
	drain(wire);
	len = mk_plain(fb, bcast, mac_c1, 0, "bcast", 100);
	mk_pvframe(&f, fb, len, 1);
	inject(sw, &f);
	T_CHECK(wire_wait(loop, wire, fb, len, 2000), "nicport: broadcast reaches the wire",
		"not seen");

	/* nA without offloads from here: the kernel completes and cuts what the NIC asks */
	T_ASSERT(if_offloads("nA", 0) == 0, "offloads off on nA");
	drain(wire);
	len = inject_tcp4(sw, 4000, 500, 0);
	tcp_ok = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!tcp_ok && ms_since(&t0) < 2000) {
		int n = sock_recv(wire, fb2, sizeof(fb2), NULL, 10);

		if (n == (int)len && get16(fb2 + 34) == 4000)
			tcp_ok = tcp4_ok(fb2, (uint32_t)n) ? 1 : -1;
		pv_loop_once(loop, 10);
	}
	T_CHECK(tcp_ok == 1, "nicport: partial checksum completed on the way out", "state %d",
		tcp_ok);

	/* a 60 KB GSO frame: MSS-sized segments with valid checksums */
	drain(wire);
	inject_tcp4(sw, 4001, 60000, 1448);
	T_CHECK(segs_wait(loop, wire, 4001, 60000, 1448, 42),
		"nicport: GSO frame segmented to MSS, checksums valid, payload intact", "see above");

	/* an mss the NIC refuses (below PV_NIC_TSO_MSS_MIN): cut in software instead */
	pv_nicport_stats(np, &st);
	drain(wire);
	inject_tcp4(sw, 4002, 3000, 40);
	T_CHECK(segs_wait(loop, wire, 4002, 3000, 40, 75),
		"nicport: GSO frame with mss 40: 75 software segments, checksums valid", "see above");
	pv_nicport_stats(np, &st2);
	T_EQ(st2.tx_segments - st.tx_segments, 75, "nicport: software segments counted");
	T_ASSERT(if_offloads("nA", 1) == 0, "offloads back on nA");

	/* too big without GSO: dropped and counted */
	pv_nicport_stats(np, &st);
	len = mk_plain(fb, mac_b1, mac_c1, 0, "big", 3000);
	mk_pvframe(&f, fb, len, 2);
	inject(sw, &f);
	{
		pv_nicport_stats(np, &st2);
		T_CHECK(st2.tx_too_big == st.tx_too_big + 1 &&
			st2.port.tx_dropped == st.port.tx_dropped + 1,
			"nicport: oversized non-GSO frame dropped and counted", "too_big %llu",
			(unsigned long long)st2.tx_too_big);
	}

	/*
	 * A burst of 600, more than the host VI's TX buffers: the rest waits in
	 * the backlog and goes out as TX_DONE frees buffers: all 600 reach the
	 * wire, in order, none dropped.
	 */
	{
		int big = 4 << 20, seen = 0, in_order = 1;

		setsockopt(wire, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		drain(wire);
		pv_nicport_stats(np, &st);
		for (int i = 0; i < 600; i++) {
			len = mk_plain(fb, mac_b1, mac_c1, 0, "burst", 1000);
			fb[100] = (uint8_t)(i >> 8);
			fb[101] = (uint8_t)i;
			mk_pvframe(&f, fb, len, 1);
			pv_switch_input(sw, &cap_port, &f);
		}
		pv_switch_flush(sw);
		pv_nicport_stats(np, &st2);
		T_CHECK(st2.tx_no_room == st.tx_no_room && st2.tx_backlog > st.tx_backlog,
			"nicport: a burst beyond the TX buffers waits in the backlog, none dropped",
			"no_room +%llu backlog +%llu", (unsigned long long)(st2.tx_no_room - st.tx_no_room),
			(unsigned long long)(st2.tx_backlog - st.tx_backlog));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (seen < 600 && ms_since(&t0) < 3000) {
			int n = sock_recv(wire, fb2, sizeof(fb2), NULL, 5);

			if (n == (int)len && !memcmp(fb2 + 6, mac_c1, 6)) {
				if (((fb2[100] << 8) | fb2[101]) != seen)
					in_order = 0;
				seen++;
			}
			pv_loop_once(loop, 0);
		}
		T_CHECK(seen == 600 && in_order, "nicport: all 600 of the burst on the wire, in order",
			"seen %d in order %d", seen, in_order);
	}

	/* a burst beyond the buffers and the backlog: the excess dropped and counted, no crash */
	pv_nicport_stats(np, &st);
	len = mk_plain(fb, mac_b1, mac_c1, 0, "burst", 1000);
	mk_pvframe(&f, fb, len, 1);
	for (int i = 0; i < PV_NICPORT_TX_BUFS + PV_NICPORT_BACKLOG + 200; i++)
		pv_switch_input(sw, &cap_port, &f);
	pv_switch_flush(sw);
	{
		pv_nicport_stats(np, &st2);
		T_CHECK(st2.tx_no_room > st.tx_no_room && st2.tx_backlog_max <= PV_NICPORT_BACKLOG,
			"nicport: no TX room and the backlog full -> dropped and counted",
			"no_room %llu backlog max %llu", (unsigned long long)st2.tx_no_room,
			(unsigned long long)st2.tx_backlog_max);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 500)
		pv_loop_once(loop, 20);
	drain(wire);
}

/*
 * RX chains: a 40,000-byte GSO TCP frame sent on nB with a virtio-net
 * header crosses the veth whole; the NIC gives the host VI (which asked
 * for RX chains) one chain; the port hands the switch one frame, its GSO
 * type, size and partial checksum kept.
 */
static void test_rx_chain(struct pv_loop *loop, struct pv_nicport *np, int vwire)
{
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54), .gso_size = htole16(1448),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
	struct iovec iov[2] = { { &vh, sizeof(vh) }, { fb, 0 } };
	struct pv_nicport_stats st0, st1;
	uint32_t len = mk_tcp4(fb, mac_c1, mac_b1, 4242, 40000);
	int at, ok;

	pv_nicport_stats(np, &st0);
	cap_reset();
	iov[1].iov_len = len;
	ok = writev(vwire, iov, 2) == (ssize_t)(sizeof(vh) + len);
	at = cap_wait(loop, fb, len, 2000);
	pv_nicport_stats(np, &st1);
	T_CHECK(ok && at >= 0 && cap_frames[at].gso_type == PV_GSO_TCPV4 &&
		cap_frames[at].gso_size == 1448 && (cap_frames[at].flags & PV_FRAME_CSUM_PARTIAL) &&
		cap_frames[at].csum_start == 34 && cap_frames[at].csum_offset == 16 &&
		st1.rx_chains == st0.rx_chains + 1,
		"nicport rx: a 40,054-byte GSO frame from the wire reaches the switch whole "
		"(GSO TCPV4 1448, partial checksum 34+16), one RX chain",
		"sent %d, at %d of %u captured, chains +%llu", ok, at, cap_n,
		(unsigned long long)(st1.rx_chains - st0.rx_chains));
}

static void run(const char *bin)
{
	struct pv_loop *loop = pv_loop_new();
	struct pv_switch *sw = pv_switch_new(NULL);
	struct pv_nicport *np = NULL;
	struct pv_nicport_stats st;
	struct pv_frame f;
	int err = 0, wire = -1, vwire = -1, br;
	uint32_t len;

	pv_log_init("test_nicport", PV_LOG_WARN, 0);
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (system("ip link add nA type veth peer name nB >/dev/null 2>&1") != 0) {
		T_SKIP("nicport", "cannot create a veth pair (ip, veth)");
		return;
	}
	T_ASSERT(if_set_up("nA", 1) == 0 && if_set_up("nB", 1) == 0, "veth up");
	T_ASSERT(loop && sw, "loop and switch");
	if (!mkdtemp(run_dir)) {
		T_CHECK(0, "nicport: mkdtemp", "%s", strerror(errno));
		return;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/%s", run_dir, PV_NIC_SOCK_NAME);
	T_CHECK(nicd_start_vis(bin, run_dir, sock_path, "4") == 0, "nicport: pvnet-nicd up on nA", "no %s", sock_path);
	cap_port.ops = &cap_ops;
	snprintf(cap_port.name, sizeof(cap_port.name), "cap");
	T_ASSERT(pv_switch_port_add(sw, &cap_port) == 0, "capture port added");
	wire = pkt_sock("nB", 0);
	vwire = pkt_sock("nB", 1);
	T_ASSERT(wire >= 0 && vwire >= 0, "sockets on nB");

	np = pv_nicport_open(loop, sw, run_dir, &err);
	T_CHECK(np && pv_nicport_connected(np), "nicport: opened, host VI attached",
		"err %s", strerror(-err));
	if (!np || wire < 0 || vwire < 0)
		goto out;
	br = pv_nicport_port(np)->br_port;
	T_CHECK(br >= 0 && pv_switch_port(sw, br) == pv_nicport_port(np), "nicport: on the switch",
		"br_port %d", br);

	test_both_ways(loop, sw, wire, "first");
	test_tx(loop, sw, np, wire);
	test_tx_offload(loop, sw, np, vwire);
	test_rx_chain(loop, np, vwire);

	/* pvnet-nicd dies: the port leaves the switch, nothing crashes */
	nicd_kill(SIGKILL);
	T_CHECK(wait_connected(loop, np, 0, 3000), "nicport: pvnet-nicd killed -> port detached",
		"still connected");
	T_CHECK(pv_nicport_port(np)->br_port < 0 && pv_switch_port(sw, br) != pv_nicport_port(np),
		"nicport: port off the switch", "br_port %d", pv_nicport_port(np)->br_port);
	len = mk_plain(fb, mac_b1, mac_c1, 0, "nowhere", 100);
	mk_pvframe(&f, fb, len, 1);
	inject(sw, &f);
	pv_loop_once(loop, 100);
	pv_nicport_stats(np, &st);
	T_CHECK(st.disconnects == 1 && !st.connected, "nicport: switch keeps running without the NIC",
		"disconnects %llu", (unsigned long long)st.disconnects);

	/* back: the port reconnects within the retry interval */
	T_CHECK(nicd_start_vis(bin, run_dir, sock_path, "4") == 0, "nicport: pvnet-nicd restarted", "no socket");
	T_CHECK(wait_connected(loop, np, 1, 4000), "nicport: reconnected after restart",
		"not connected");
	pv_nicport_stats(np, &st);
	T_CHECK(st.connects == 2 && pv_nicport_port(np)->br_port >= 0,
		"nicport: port back on the switch", "connects %llu", (unsigned long long)st.connects);
	test_both_ways(loop, sw, wire, "after-restart");

	/* SIGTERM this time (socket removed), then close the port while it waits */
	nicd_kill(SIGTERM);
	T_CHECK(wait_connected(loop, np, 0, 3000), "nicport: clean NIC exit -> port detached",
		"still connected");
out:
	pv_nicport_close(np);
	if (wire >= 0)
		close(wire);
	if (vwire >= 0)
		close(vwire);
	nicd_kill(SIGTERM);
	unlink(sock_path);
	rmdir(run_dir);
	pv_switch_port_del(sw, &cap_port);
	pv_switch_free(sw);
	pv_loop_free(loop);
}

int main(void)
{
	return nicd_test_main("nicport", run);
}
