/* SPDX-License-Identifier: MIT */
/*
 * test_uplink.c - the uplink (AF_PACKET) and host (TAP) ports of the switch,
 * against real kernel interfaces in a private network namespace.
 *
 *   forked child, unshare(CLONE_NEWNET), IPv6 off (no stray frames):
 *
 *   +-------------------- pv_switch --------------------+
 *   | capture port "cap"   uplink:upA     host:pvh0      |
 *   | (xmit stores frames) (AF_PACKET)    (TAP)          |
 *   +----------------------------|-------------|---------+
 *                            upA | veth        | TAP pvh0
 *                            upB |             |
 *                  plain / vnet AF_PACKET   plain / vnet AF_PACKET
 *                  sockets: the "wire"      sockets: the "host stack"
 *
 * upA has TSO and TX checksumming off, so what the uplink sends with GSO or
 * a partial checksum must come out of upB as MSS-sized, fully checksummed
 * frames: the kernel did the work the virtio-net header asked for.
 *
 * Needs root (CAP_NET_ADMIN, CAP_NET_RAW), network namespaces, veth, TUN and
 * the `ip` tool; skips (not fails) without them.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "back/port.h"
#include "back/uplink.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "../lib/test.h"
#include "../lib/ifoffload.h"

static const uint8_t mac_b1[6] = { 0x02, 0, 0, 0, 0, 0xb1 };	/* behind upB */
static const uint8_t mac_c1[6] = { 0x02, 0, 0, 0, 0, 0xc1 };	/* behind cap */
static const uint8_t mac_d1[6] = { 0x02, 0, 0, 0, 0, 0xd1 };	/* the TAP */
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#include "../lib/wire.h"

/* Wait for a frame equal to @want on @fd. */
static int sock_wait(int fd, const uint8_t *want, uint32_t len, int ms)
{
	static uint8_t buf[70000];
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int n = sock_recv(fd, buf, sizeof(buf), NULL, 50);

		if (n == (int)len && !memcmp(buf, want, len))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return 0;
	}
}

/*
 * Wait for the tagged frame @want on @fd.  The receiving kernel takes the
 * tag out before packet sockets see the frame: compare without it.
 */
static int sock_wait_tagged(int fd, const uint8_t *want, uint32_t len, int ms)
{
	static uint8_t buf[70000];
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int n = sock_recv(fd, buf, sizeof(buf), NULL, 50);

		if (n == (int)len - 4 && !memcmp(buf, want, 12) &&
		    !memcmp(buf + 12, want + 16, len - 16))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return 0;
	}
}

/* The kernel's promiscuity count of @name ("ip -d link" shows it), or -1. */
static int if_promiscuity(const char *name)
{
	char cmd[128], line[512];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip -d link show %s 2>/dev/null", name);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		char *at = strstr(line, "promiscuity ");

		if (at)
			n = atoi(at + strlen("promiscuity "));
	}
	pclose(p);
	return n;
}

static int send_vnet(int fd, const struct virtio_net_hdr *vh, const uint8_t *b, uint32_t len)
{
	struct iovec iov[2] = { { (void *)vh, sizeof(*vh) }, { (void *)b, len } };

	return writev(fd, iov, 2) == (ssize_t)(sizeof(*vh) + len) ? 0 : -errno;
}

/* ---- the tests ---- */

static uint8_t fb[70000], fb2[70000];

static void test_uplink_rx(struct pv_loop *loop, struct pv_uplink *up, int wire, int wire_vnet)
{
	struct virtio_net_hdr vh = { 0 };
	struct pv_uplink_stats st;
	uint32_t n;
	int i;

	n = mk_plain(fb, mac_c1, mac_b1, 0, "PVNET-T1", 120);
	T_ASSERT(send(wire, fb, n, 0) == (ssize_t)n, "send T1");
	i = cap_wait(loop, fb, n, 2000);
	T_CHECK(i >= 0, "uplink rx: frame from the wire reaches the capture port, same bytes",
		"not seen (%u frames captured)", cap_n);
	if (i >= 0)
		T_CHECK(cap_frames[i].gso_type == PV_GSO_NONE && !(cap_frames[i].flags & PV_FRAME_CSUM_PARTIAL),
			"uplink rx: plain frame has no offload metadata", "flags %x gso %u",
			cap_frames[i].flags, cap_frames[i].gso_type);

	n = mk_plain(fb, mac_c1, mac_b1, 1, "PVNET-T2", 200);
	T_ASSERT(send(wire, fb, n, 0) == (ssize_t)n, "send T2");
	i = cap_wait(loop, fb, n, 2000);
	T_CHECK(i >= 0, "uplink rx: VLAN-tagged frame arrives with its tag put back",
		"not seen with the tag");

	/* A 64000-byte GSO frame with partial checksum passes whole. */
	n = mk_tcp4(fb, mac_c1, mac_b1, 5001, 64000 - 54);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = htole16(34);
	vh.csum_offset = htole16(16);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = htole16(1448);
	vh.hdr_len = htole16(54);
	T_ASSERT(send_vnet(wire_vnet, &vh, fb, n) == 0, "send GSO: %s", strerror(errno));
	i = cap_wait(loop, fb, n, 2000);
	T_CHECK(i >= 0, "uplink rx: 64000-byte GSO frame arrives whole, same bytes", "not seen");
	if (i >= 0)
		T_CHECK(cap_frames[i].gso_type == PV_GSO_TCPV4 && cap_frames[i].gso_size == 1448 &&
			(cap_frames[i].flags & PV_FRAME_CSUM_PARTIAL) &&
			cap_frames[i].csum_start == 34 && cap_frames[i].csum_offset == 16,
			"uplink rx: GSO metadata tcpv4/1448, csum partial 34/16",
			"gso %u/%u flags %x csum %u/%u", cap_frames[i].gso_type, cap_frames[i].gso_size,
			cap_frames[i].flags, cap_frames[i].csum_start, cap_frames[i].csum_offset);

	pv_uplink_stats(up, &st);
	T_CHECK(st.port.rx_packets >= 3 && st.wakeups >= 1 && st.mtu == 1500,
		"uplink stats: rx counted, mtu 1500", "rx %llu wakeups %llu mtu %u",
		(unsigned long long)st.port.rx_packets, (unsigned long long)st.wakeups, st.mtu);
}

static void test_uplink_tx_gso(struct pv_switch *sw, int wire)
{
	static uint8_t got[PV_FRAME_MAX_LEN];
	struct pv_frame f;
	uint32_t n = mk_tcp4(fb, mac_b1, mac_c1, 5002, 64000 - 54), plen = n - 54;
	uint32_t seq = 0x10000000, paid = 0, maxlen = 0;
	unsigned int segs = 0, bad = 0;
	struct timespec t0, t;

	mk_pvframe(&f, fb, n, 3);
	f.flags = PV_FRAME_CSUM_PARTIAL;
	f.csum_start = 34;
	f.csum_offset = 16;
	f.gso_type = PV_GSO_TCPV4;
	f.gso_size = 1448;
	inject(sw, &f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (paid < plen) {
		int r = sock_recv(wire, got, sizeof(got), NULL, 100);

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 3)
			break;
		if (r < 54 || get16(got + 12) != 0x0800 || got[23] != 6 || get16(got + 34) != 5002)
			continue;
		segs++;
		if ((uint32_t)r > maxlen)
			maxlen = (uint32_t)r;
		if (!tcp4_ok(got, (uint32_t)r) || get32(got + 38) != seq ||
		    memcmp(got + 54, fb + 54 + paid, (size_t)r - 54))
			bad++;
		seq += (uint32_t)r - 54;
		paid += (uint32_t)r - 54;
	}
	T_CHECK(paid == plen && segs == 45, "uplink tx: 64000-byte GSO frame leaves as 45 segments",
		"%u segments, %u of %u payload bytes", segs, paid, plen);
	T_CHECK(maxlen <= 1514, "uplink tx: no segment above the MTU", "largest %u", maxlen);
	T_CHECK(segs && bad == 0, "uplink tx: every segment has valid checksums, seq, payload",
		"%u bad of %u", bad, segs);

	/* Partial checksum without GSO: completed on the way out. */
	n = mk_tcp4(fb, mac_b1, mac_c1, 5003, 1001);
	mk_pvframe(&f, fb, n, 2);
	f.flags = PV_FRAME_CSUM_PARTIAL;
	f.csum_start = 34;
	f.csum_offset = 16;
	inject(sw, &f);
	for (;;) {
		int r = sock_recv(wire, got, sizeof(got), NULL, 1000);

		if (r < 0) {
			T_CHECK(0, "uplink tx: partial checksum completed", "frame not seen");
			break;
		}
		if (r >= 54 && get16(got + 12) == 0x0800 && get16(got + 34) == 5003) {
			T_CHECK(r == (int)n && tcp4_ok(got, (uint32_t)r),
				"uplink tx: partial checksum completed", "len %d, checksum bad", r);
			break;
		}
	}
}

static void test_uplink_tx(struct pv_loop *loop, struct pv_switch *sw, struct pv_uplink *up, int wire)
{
	struct pv_uplink_stats a, b;
	struct pv_frame f;
	uint32_t n;

	n = mk_plain(fb, mac_b1, mac_c1, 0, "PVNET-T4", 300);
	mk_pvframe(&f, fb, n, 2);
	inject(sw, &f);
	T_CHECK(sock_wait(wire, fb, n, 2000), "uplink tx: frame from the switch on the wire, same bytes",
		"not seen on upB");

	test_uplink_tx_gso(sw, wire);

	/* short frames leave padded to 60 bytes of zeros, as a MAC pads them */
	for (uint32_t sl = 20; sl <= 59; sl += 39) {
		uint8_t want[60] = { 0 };

		memcpy(want, mac_b1, 6);
		memcpy(want + 6, mac_c1, 6);
		want[12] = 0x88, want[13] = 0xb5;
		for (uint32_t i = 14; i < sl; i++)
			want[i] = (uint8_t)(0x60 + i);
		memcpy(fb, want, sl);
		mk_pvframe(&f, fb, sl, 1);
		inject(sw, &f);
		T_CHECK(sock_wait(wire, want, 60, 2000),
			sl == 20 ? "uplink tx: a 20-byte frame leaves padded to 60 bytes of zeros"
				 : "uplink tx: a 59-byte frame leaves padded to 60 bytes of zeros",
			"no 60-byte padded frame on upB");
	}

	pv_uplink_stats(up, &a);
	n = mk_plain(fb, mac_b1, mac_c1, 0, "PVNET-T6", 1515);	/* MTU 1500 + 14 + 1 */
	mk_pvframe(&f, fb, n, 1);
	inject(sw, &f);
	pv_uplink_stats(up, &b);
	T_CHECK(b.tx_too_big == a.tx_too_big + 1 && b.port.tx_dropped == a.port.tx_dropped + 1,
		"uplink tx: frame over the MTU without GSO dropped and counted",
		"too_big %llu -> %llu", (unsigned long long)a.tx_too_big, (unsigned long long)b.tx_too_big);
	T_CHECK(!sock_wait(wire, fb, n, 200), "uplink tx: oversized frame not sent", "it was sent");
	n = mk_plain(fb, mac_b1, mac_c1, 1, "PVNET-T6b", 1518);	/* tagged: 4 more allowed */
	mk_pvframe(&f, fb, n, 1);
	inject(sw, &f);
	T_CHECK(sock_wait_tagged(wire, fb, n, 2000), "uplink tx: tagged frame of MTU + 18 passes",
		"not seen");

	T_ASSERT(if_set_up("upA", 0) == 0, "upA down");
	pv_uplink_stats(up, &a);
	n = mk_plain(fb, mac_b1, mac_c1, 0, "PVNET-T7", 100);
	mk_pvframe(&f, fb, n, 1);
	inject(sw, &f);
	pv_uplink_stats(up, &b);
	T_CHECK(b.tx_down == a.tx_down + 1 && b.port.tx_dropped == a.port.tx_dropped + 1,
		"uplink tx: interface down -> dropped and counted", "down %llu -> %llu",
		(unsigned long long)a.tx_down, (unsigned long long)b.tx_down);
	T_ASSERT(if_set_up("upA", 1) == 0, "upA up");
	for (int i = 0; i < 10; i++)
		pv_loop_once(loop, 20);	/* the down event's read error, if any */

	/* After down/up the socket still receives: the kernel re-binds it. */
	n = mk_plain(fb2, mac_c1, mac_b1, 0, "PVNET-T7b", 90);
	{
		int wfd = pkt_sock("upB", 0), i = -1;

		for (int tries = 0; wfd >= 0 && i < 0 && tries < 20; tries++) {
			send(wfd, fb2, n, 0);	/* the link may take a moment to come up */
			i = cap_wait(loop, fb2, n, 100);
		}
		T_CHECK(i >= 0, "uplink rx: works again after the link went down and up", "not seen");
		if (wfd >= 0)
			close(wfd);
	}
}

static void test_hostport(struct pv_loop *loop, struct pv_switch *sw)
{
	struct virtio_net_hdr vh = { 0 };
	struct pv_uplink_stats st;
	struct pv_hostport *hp;
	struct ifreq ifr = { 0 };
	int err = 0, tap, tap_vnet, s, i;
	uint32_t n;

	hp = pv_hostport_open(loop, sw, "pvh0", mac_d1, 1500, &err);
	T_CHECK(hp != NULL, "host port: TAP created", "error %s", strerror(-err));
	if (!hp)
		return;
	T_CHECK(!strcmp(pv_hostport_port(hp)->ops->kind, "host") &&
		pv_hostport_ifindex(hp) == (int)if_nametoindex("pvh0"),
		"host port: kind host, ifindex of pvh0", "kind %s", pv_hostport_port(hp)->ops->kind);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "pvh0");
	T_CHECK(ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && !memcmp(ifr.ifr_hwaddr.sa_data, mac_d1, 6),
		"host port: MAC set", "wrong MAC");
	T_CHECK(ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP), "host port: TAP is up",
		"flags %x", ifr.ifr_flags);
	close(s);
	tap = pkt_sock("pvh0", 0);
	tap_vnet = pkt_sock("pvh0", 1);
	T_ASSERT(tap >= 0 && tap_vnet >= 0, "sockets on pvh0");

	n = mk_plain(fb, bcast, mac_c1, 0, "PVNET-T8", 150);
	{
		struct pv_frame f;

		mk_pvframe(&f, fb, n, 1);
		inject(sw, &f);
	}
	T_CHECK(sock_wait(tap, fb, n, 2000), "host port: frame from the switch appears on the TAP",
		"not seen on pvh0");

	n = mk_plain(fb, mac_c1, mac_d1, 0, "PVNET-T9", 110);
	T_ASSERT(send(tap, fb, n, 0) == (ssize_t)n, "send on pvh0: %s", strerror(errno));
	i = cap_wait(loop, fb, n, 2000);
	T_CHECK(i >= 0, "host port: frame sent by the host reaches the capture port", "not seen");

	/* The host stack's GSO frames come through whole (TUNSETOFFLOAD TSO4). */
	n = mk_tcp4(fb, mac_c1, mac_d1, 5010, 30000);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = htole16(34);
	vh.csum_offset = htole16(16);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = htole16(1448);
	vh.hdr_len = htole16(54);
	T_ASSERT(send_vnet(tap_vnet, &vh, fb, n) == 0, "send GSO on pvh0: %s", strerror(errno));
	i = cap_wait(loop, fb, n, 2000);
	T_CHECK(i >= 0 && cap_frames[i].gso_type == PV_GSO_TCPV4 && cap_frames[i].gso_size == 1448,
		"host port: GSO frame from the host arrives whole with its metadata",
		"%s", i < 0 ? "not seen" : "metadata lost");

	/* And ours go to the host whole: the TAP takes the virtio-net header. */
	n = mk_tcp4(fb, mac_d1, mac_c1, 5011, 20000);
	{
		static uint8_t got[PV_FRAME_MAX_LEN];
		struct virtio_net_hdr rh = { 0 };
		struct pv_frame f;
		int r, ok = 0;

		mk_pvframe(&f, fb, n, 4);
		f.flags = PV_FRAME_CSUM_PARTIAL;
		f.csum_start = 34;
		f.csum_offset = 16;
		f.gso_type = PV_GSO_TCPV4;
		f.gso_size = 1400;
		inject(sw, &f);
		while (!ok && (r = sock_recv(tap_vnet, got, sizeof(got), &rh, 1000)) >= 0)
			ok = r == (int)n && !memcmp(got, fb, n) &&
			     rh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && le16toh(rh.gso_size) == 1400;
		T_CHECK(ok, "host port: GSO frame to the host written whole with its metadata",
			"not seen as GSO on pvh0");
	}
	pv_hostport_stats(hp, &st);
	T_CHECK(st.port.rx_packets >= 2 && st.port.tx_packets >= 2 && st.port.tx_dropped == 0,
		"host port: stats", "rx %llu tx %llu dropped %llu",
		(unsigned long long)st.port.rx_packets, (unsigned long long)st.port.tx_packets,
		(unsigned long long)st.port.tx_dropped);
	close(tap);
	close(tap_vnet);
	pv_hostport_close(hp);
	T_CHECK(if_nametoindex("pvh0") == 0, "host port: TAP gone after close", "still there");
}

static void run(void)
{
	struct pv_loop *loop = pv_loop_new();
	struct pv_switch *sw = pv_switch_new(NULL);
	struct pv_uplink *up;
	int err = 0, wire, wire_vnet;

	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (system("ip link add upA type veth peer name upB >/dev/null 2>&1") != 0) {
		T_SKIP("uplink", "cannot create a veth pair (ip, veth)");
		return;
	}
	T_ASSERT(if_set_up("upA", 1) == 0 && if_set_up("upB", 1) == 0, "veth up");
	T_ASSERT(if_offloads("upA", 0) == 0, "offloads off on upA");
	T_ASSERT(loop && sw, "loop and switch");

	up = pv_uplink_open(loop, sw, "nosuchif0", &err);
	T_CHECK(!up && err == -ENODEV, "uplink: missing interface -> -ENODEV", "err %d", err);

	cap_port.ops = &cap_ops;
	snprintf(cap_port.name, sizeof(cap_port.name), "cap");
	T_ASSERT(pv_switch_port_add(sw, &cap_port) == 0, "capture port added");
	up = pv_uplink_open(loop, sw, "upA", &err);
	T_CHECK(up != NULL, "uplink: opened on upA", "error %s", strerror(-err));
	if (!up)
		return;
	T_CHECK(!strcmp(pv_uplink_port(up)->ops->kind, "uplink") &&
		!strcmp(pv_uplink_port(up)->name, "uplink:upA"), "uplink: kind and name",
		"%s %s", pv_uplink_port(up)->ops->kind, pv_uplink_port(up)->name);
	T_EQ(if_promiscuity("upA"), 1, "uplink: interface promiscuous");
	wire = pkt_sock("upB", 0);
	wire_vnet = pkt_sock("upB", 1);
	T_ASSERT(wire >= 0 && wire_vnet >= 0, "sockets on upB");

	test_uplink_rx(loop, up, wire, wire_vnet);
	test_uplink_tx(loop, sw, up, wire);
	test_hostport(loop, sw);

	pv_uplink_close(up);
	T_EQ(if_promiscuity("upA"), 0, "uplink: promiscuous mode dropped on close");
	close(wire);
	close(wire_vnet);
	pv_switch_port_del(sw, &cap_port);
	pv_switch_free(sw);
	pv_loop_free(loop);
}

int main(void)
{
	int status;
	pid_t pid;

	if (geteuid() != 0) {
		T_SKIP("uplink", "needs root");
		return 0;
	}
	pv_log_init("test_uplink", PV_LOG_WARN, 0);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		T_CHECK(0, "fork", "%s", strerror(errno));
		return t_done();
	}
	if (pid == 0) {
		/* The namespace, and everything in it, dies with this child. */
		if (unshare(CLONE_NEWNET) < 0) {
			T_SKIP("uplink", "no network namespaces");
			_exit(0);
		}
		run();
		_exit(t_done());
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		printf("FAIL: uplink: test child died (status %d)\n", status);
		return 1;
	}
	return WEXITSTATUS(status);
}
