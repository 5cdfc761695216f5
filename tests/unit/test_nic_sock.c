/* SPDX-License-Identifier: MIT */
/*
 * test_nic_sock.c - pvnet-nicd as a process, driven through its real
 * control socket and VI shared memory, with a veth as its port.
 *
 *   forked child, unshare(CLONE_NEWNET), IPv6 off (no stray frames):
 *
 *     this test (trusted caller + guests A, B)        "external host"
 *       |  nic.sock            VI memfds, doorbells     AF_PACKET on nB
 *       v                            |                       |
 *     pvnet-nicd --port nA ==========+==== nA | veth | nB ===+
 *
 * Allocates VIs, maps buffers from memfds, programs MACs and filters;
 * frames from nB reach the right VI (wake-up included), frames a VI sends
 * appear on nB; a hostile VI naming another VI's buffer gets an ERROR event
 * and nothing moves; spoofed TX is dropped and counted; the other VI's
 * traffic goes on; malformed control requests get errors and their
 * descriptors are closed; VI free and a closed connection remove VIs,
 * filters and buffer entries; pvnet-nicd restarted starts clean.
 *
 * TSO through the real port: a TSO chain from A (IPv4, IPv6, one tag)
 * crosses the veth whole as one GSO frame while nA has its offloads (read
 * at nB with a virtio-net header), and arrives as MSS-sized segments with
 * right checksums and payload once nA's TSO/GSO/TX checksum are off (the
 * kernel did what the NIC's virtio-net header asked).
 *
 * Needs root, network namespaces, veth and build/pvnet-nicd: skips otherwise.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/unix.h"
#include "nic/nic_client.h"
#include "../lib/test.h"
#include "../lib/ifoffload.h"
#include "../lib/nicd.h"
#include "test_nic_util.h"

static char run_dir[] = "/tmp/pvnet-nictest.XXXXXX";
static char sock_path[256];
static uint32_t seq;

/* ---- the trusted caller's side of the control protocol ---- */

/**
 * nic_call() - one request, one reply
 * @fd:		connection
 * @type:	PV_NIC_*
 * @body, @blen: request body
 * @fds, @nfds:	descriptors to pass
 * @out, @omax:	reply body (may be NULL)
 * @rfds:	out: up to 3 descriptors of the reply (may be NULL), -1 unused
 *
 * Return: the reply's err (0 or -errno), or -EIO if no reply came.
 */
static int nic_call(int fd, uint16_t type, const void *body, uint32_t blen, const int *fds,
		    unsigned int nfds, void *out, size_t omax, int *rfds)
{
	struct pv_nic_hdr h = { .type = type, .seq = ++seq, .len = blen };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, blen } };
	union { struct cmsghdr a; char b[CMSG_SPACE(3 * sizeof(int))]; } cm;
	uint8_t buf[PV_NIC_MSG_MAX + 16];
	struct iovec riov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (rfds)
		rfds[0] = rfds[1] = rfds[2] = -1;
	if (pv_unix_send_fds(fd, iov, 2, fds, nfds, 0) < 0)
		return -EIO;
	if (poll(&pfd, 1, 3000) != 1)
		return -EIO;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < (ssize_t)sizeof(h))
		return -EIO;
	memcpy(&h, buf, sizeof(h));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rfds && i < 3)
				rfds[i] = f;
			else
				close(f);
		}
	}
	if (h.seq != seq || h.type != type)
		return -EIO;
	if (out)
		memcpy(out, buf + sizeof(h), h.len < omax ? h.len : omax);
	return h.err;
}

static int vi_req(int fd, uint16_t type, uint32_t vi, void *out, size_t omax)
{
	struct pv_nic_vi_req q = { .vi_id = vi };

	return nic_call(fd, type, &q, sizeof(q), NULL, 0, out, omax, NULL);
}

struct guest {
	uint32_t vi;
	int cfd;		/* the trusted caller's connection */
	int fds[3];		/* mem, doorbell, wake */
	struct t_vi v;
	struct vi_user u;	/* the same VI through nic_client.h */
	int memfd;
	uint8_t *mem;
	uint32_t buf[16];
};

static uint8_t *gbuf(struct guest *g, unsigned int i)
{
	return g->mem + (size_t)i * PV_NIC_BUF_SIZE;
}

static int guest_new(int cfd, struct guest *g, const uint8_t *mac)
{
	struct nic_client_vi cv;
	uint32_t chunks[16];
	int rc;

	g->cfd = cfd;
	rc = nic_client_vi_alloc(cfd, &cv);
	if (rc)
		return rc;
	g->vi = cv.vi_id;
	g->fds[0] = cv.mem_fd;
	g->fds[1] = cv.doorbell_fd;
	g->fds[2] = cv.wake_fd;
	rc = vi_user_open(&g->u, cv.mem_fd, cv.doorbell_fd, cv.wake_fd);
	if (rc)
		return rc;
	t_vi_init(&g->v, g->u.sh);
	g->memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->memfd < 0 || ftruncate(g->memfd, 8 * 4096) < 0)
		return -errno;
	g->mem = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	if (g->mem == MAP_FAILED)
		return -errno;
	for (uint32_t i = 0; i < 16; i++)
		chunks[i] = i;
	rc = nic_client_buf_map(cfd, g->vi, g->memfd, chunks, 16, g->buf);
	if (!rc)
		rc = nic_client_set_mac(cfd, g->vi, mac, 0);
	if (!rc)
		rc = nic_client_filter_mac(cfd, g->vi, mac, NULL);
	return rc;
}

static void ring(struct guest *g)
{
	uint64_t one = 1;

	if (write(g->fds[1], &one, sizeof(one)) != sizeof(one))
		perror("doorbell");
}

/* Wait up to @ms for the next event. */
static int wait_event(struct guest *g, struct pv_nic_event *ev, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (t_vi_event(&g->v, ev))
			return 1;
		usleep(1000);
	}
	return 0;
}

/* ---- the wire side: nB ---- */

static int wire_open(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(ifname) };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -1;
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	return fd;
}

/* A frame on the wire whose payload byte is @mark within @ms, or 0. */
static uint32_t wire_recv(int fd, uint8_t mark, uint8_t *out, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
			return 0;
		n = recv(fd, out, 2048, MSG_DONTWAIT);
		if (n >= 60 && out[n - 1] == mark)
			return (uint32_t)n;
	}
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0) {
			/* best effort */
		}
		close(fd);
	}
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- pvnet-nicd ---- */

static int nicd_start(const char *bin)
{
	nicd_pid = fork();
	if (nicd_pid < 0)
		return -1;
	if (nicd_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive the test */
		execl(bin, bin, "--run-dir", run_dir, "--port", "nA", "--max-vis", "2",
		      "--buffers", "64", "--log-level", "err", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int fd = pv_unix_connect(sock_path, SOCK_SEQPACKET);

		if (fd >= 0)
			return fd;
		usleep(10000);
	}
	return -1;
}

static int nicd_stop(void)
{
	int status = -1;

	if (nicd_pid <= 0)
		return -1;
	kill(nicd_pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(nicd_pid, &status, WNOHANG) == nicd_pid) {
			nicd_pid = -1;
			return status;
		}
		usleep(10000);
	}
	kill(nicd_pid, SIGKILL);
	waitpid(nicd_pid, &status, 0);
	nicd_pid = -1;
	return -1;
}

/* ---- scenarios ---- */

static void test_control(int cfd)
{
	struct pv_nic_info_reply ir;
	struct pv_nic_vi_req q = { 0 };
	uint8_t junk[8] = { 0 };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC), before, after, ok = 1;

	T_CHECK(nic_call(cfd, PV_NIC_INFO, NULL, 0, NULL, 0, &ir, sizeof(ir), NULL) == 0 &&
		ir.version == PV_NIC_VERSION && ir.max_vis == 2 && ir.nr_bufs == 64 && ir.mtu == 1500,
		"sock: INFO", "version %u vis %u mtu %u", ir.version, ir.max_vis, ir.mtu);
	T_EQ(ir.features, PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM | PV_NIC_FEAT_TSO |
	     PV_NIC_FEAT_RX_CHAIN | PV_NIC_FEAT_RX_GRO | PV_NIC_FEAT_SRC_ADDRS | PV_NIC_FEAT_TX_PORTS |
	     PV_NIC_FEAT_TX_STORM,
	     "sock: INFO features: TX chains, checksum offload, TSO, RX chains, receive coalescing, "
	     "source addresses, TX source ports, TX storm control");
	T_EQ(nic_call(cfd, 99, NULL, 0, NULL, 0, NULL, 0, NULL), -EINVAL, "sock: unknown type -> -EINVAL");
	{
		struct nic_client_vi cv;
		int rc = nic_client_vi_alloc_flags(cfd, PV_NIC_VI_F_RX_CHAIN << 1, &cv);

		T_EQ(rc, -EINVAL, "sock: VI_ALLOC with a flag the NIC does not know -> -EINVAL");
		rc = nic_client_vi_alloc_flags(cfd, PV_NIC_VI_F_RX_CHAIN, &cv);
		T_CHECK(rc == 0 && nic_client_vi_free(cfd, cv.vi_id) == 0,
			"sock: VI_ALLOC with PV_NIC_VI_F_RX_CHAIN (offered by INFO) taken", "rc %d", rc);
		if (rc == 0) {
			close(cv.mem_fd);
			close(cv.doorbell_fd);
			close(cv.wake_fd);
		}
	}
	T_EQ(nic_call(cfd, PV_NIC_VI_FREE, junk, 3, NULL, 0, NULL, 0, NULL), -EINVAL, "sock: short body -> -EINVAL");
	T_EQ(nic_call(cfd, PV_NIC_BUF_MAP, junk, 8, NULL, 0, NULL, 0, NULL), -EINVAL, "sock: BUF_MAP count 0 -> -EINVAL");
	q.reserved = 1;
	T_EQ(nic_call(cfd, PV_NIC_VI_FREE, &q, sizeof(q), NULL, 0, NULL, 0, NULL), -EINVAL,
	     "sock: reserved field set -> -EINVAL");
	T_EQ(vi_req(cfd, PV_NIC_STATS, 7, NULL, 0), -ENOENT, "sock: STATS of no VI -> -ENOENT");
	before = count_fds(nicd_pid);
	for (int i = 0; i < 20; i++)
		ok &= nic_call(cfd, PV_NIC_INFO, NULL, 0, (int[]){ devnull, devnull }, 2, NULL, 0, NULL) == -EINVAL;
	after = count_fds(nicd_pid);
	T_CHECK(ok && before > 0 && after == before, "sock: extra descriptors refused and closed",
		"ok %d fds before %d after %d", ok, before, after);
	close(devnull);
}

static void test_rx(int wire, struct guest *a, struct guest *b)
{
	struct pollfd pfd = { .fd = a->fds[2], .events = POLLIN };
	uint8_t fr[2048];
	struct pv_nic_event ev = { 0 };
	uint32_t len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.9.0.9"), ip4("10.9.0.1"), 17, 7, 300, 0xa1);
	uint64_t v;

	for (int i = 0; i < 4; i++) {
		t_vi_rx(&a->v, a->buf[8 + i], 0, 2048);
		t_vi_rx(&b->v, b->buf[8 + i], 0, 2048);
	}
	T_EQ(t_vi_arm(&a->v), 0, "sock rx: A armed its wake-up");
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	T_CHECK(poll(&pfd, 1, 3000) == 1 && read(pfd.fd, &v, 8) == 8, "sock rx: A woken by its wake-up eventfd",
		"no wake-up");
	T_CHECK(t_vi_event(&a->v, &ev) && ev.type == PV_NIC_EV_RX && ev.len == len &&
		!memcmp(gbuf(a, 8), fr, len), "sock rx: frame to A's MAC in A's buffer",
		"type %u len %u", ev.type, ev.len);
	len = mk_frame(fr, MAC_B, MAC_X, 0, ip4("10.9.0.9"), ip4("10.9.0.2"), 17, 7, 300, 0xb1);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	T_CHECK(wait_event(b, &ev, 3000) && ev.type == PV_NIC_EV_RX && !memcmp(gbuf(b, 8), fr, len),
		"sock rx: frame to B's MAC in B's buffer", "type %u", ev.type);
	T_CHECK(!t_vi_event(&a->v, &ev), "sock rx: A did not get B's frame", "A got type %u", ev.type);
}

/* SET_ADDRS over the socket: refused when malformed; then A sends only from its addresses. */
static void test_set_addrs(int cfd, int wire, struct guest *a)
{
	struct pv_nic_set_addrs m = { .vi_id = a->vi, .flags = PV_NIC_ADDRS_F_ENFORCE, .count = 1 };
	uint8_t fr[2048], got[2048];
	struct pv_nic_event ev = { 0 };
	struct pv_nic_vi_stats st0, st1;
	uint32_t len, ip = ip4("10.9.0.1");

	memcpy(m.addr[0] + 10, (const uint8_t[2]){ 0xff, 0xff }, 2);
	memcpy(m.addr[0] + 12, &ip, 4);
	m.flags = 0x2;
	T_EQ(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL), -EINVAL,
	     "sock addrs: unknown flag -> -EINVAL");
	m.flags = 0;
	T_EQ(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL), -EINVAL,
	     "sock addrs: addresses without ENFORCE -> -EINVAL");
	m.flags = PV_NIC_ADDRS_F_ENFORCE;
	m.count = PV_NIC_ADDRS_MAX + 1;
	T_EQ(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL), -EINVAL,
	     "sock addrs: more than PV_NIC_ADDRS_MAX -> -EINVAL");
	m.count = 2;	/* the second is all zero: not unicast */
	T_EQ(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL), -EINVAL,
	     "sock addrs: the unspecified address -> -EINVAL");
	m.count = 1;
	m.vi_id = 7;
	T_CHECK(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL) < 0,
		"sock addrs: a VI that is not there refused", "taken");
	m.vi_id = a->vi;
	T_EQ(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL), 0,
	     "sock addrs: A may send from 10.9.0.1");
	T_ASSERT(vi_req(cfd, PV_NIC_STATS, a->vi, &st0, sizeof(st0)) == 0, "stats");

	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.9.0.7"), ip4("10.9.0.9"), 17, 9, 200, 0xa7);
	memcpy(gbuf(a, 3), fr, len);
	t_vi_tx(&a->v, a->buf[3], 0, (uint16_t)len, 0);
	ring(a);
	T_CHECK(wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF,
		"sock addrs: A's own MAC, another's IPv4 -> ERROR spoof", "type %u code %u", ev.type, ev.code);
	T_EQ(wire_recv(wire, 0xa7, got, 300), 0, "sock addrs: nothing on the wire");
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip, ip4("10.9.0.9"), 17, 9, 200, 0xa8);
	memcpy(gbuf(a, 4), fr, len);
	t_vi_tx(&a->v, a->buf[4], 0, (uint16_t)len, 0);
	ring(a);
	T_CHECK(wire_recv(wire, 0xa8, got, 3000) == len && wait_event(a, &ev, 3000) &&
		ev.type == PV_NIC_EV_TX_DONE, "sock addrs: from its own address: on the wire", "type %u", ev.type);
	T_CHECK(vi_req(cfd, PV_NIC_STATS, a->vi, &st1, sizeof(st1)) == 0 &&
		st1.tx_spoofed == st0.tx_spoofed + 1, "sock addrs: the spoof counted (tx_spoofed)",
		"%llu -> %llu", (unsigned long long)st0.tx_spoofed, (unsigned long long)st1.tx_spoofed);
	m.flags = 0;
	m.count = 0;
	T_EQ(nic_call(cfd, PV_NIC_SET_ADDRS, &m, sizeof(m), NULL, 0, NULL, 0, NULL), 0,
	     "sock addrs: enforcement off again (SET_MAC's rule)");
}

static void test_tx(int cfd, int wire, struct guest *a, struct guest *b)
{
	uint8_t fr[2048], got[2048];
	struct pv_nic_event ev = { 0 };
	struct pv_nic_vi_stats st;
	uint32_t len, n;

	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.9.0.1"), ip4("10.9.0.9"), 17, 9, 200, 0xa2);
	memcpy(gbuf(a, 0), fr, len);
	t_vi_tx(&a->v, a->buf[0], 0, (uint16_t)len, 0);
	ring(a);
	n = wire_recv(wire, 0xa2, got, 3000);
	T_CHECK(n == len && !memcmp(got, fr, len), "sock tx: A's frame on the wire", "got %u bytes", n);
	T_CHECK(wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_TX_DONE, "sock tx: TX_DONE", "type %u", ev.type);

	/* short frames (20 and 59 bytes) leave padded to 60 with zeros, as a MAC pads them */
	for (uint32_t sl = 20; sl <= 59; sl += 39) {
		uint8_t sf[64];
		int seen = 0;

		memcpy(sf, MAC_X, 6);
		memcpy(sf + 6, MAC_A, 6);
		sf[12] = 0x88, sf[13] = 0xb5;
		for (uint32_t i = 14; i < sl; i++)
			sf[i] = (uint8_t)(0x50 + i);
		memcpy(gbuf(a, 0), sf, sl);
		t_vi_tx(&a->v, a->buf[0], 0, (uint16_t)sl, 0);
		ring(a);
		for (int tries = 0; tries < 50 && !seen; tries++) {
			struct pollfd pfd = { .fd = wire, .events = POLLIN };
			ssize_t r;

			if (poll(&pfd, 1, 100) != 1)
				continue;
			r = recv(wire, got, sizeof(got), MSG_DONTWAIT);
			if (r >= 14 && got[12] == 0x88 && got[13] == 0xb5 && !memcmp(got + 6, MAC_A, 6)) {
				int zero = 1;

				for (ssize_t i = sl; i < r; i++)
					zero &= got[i] == 0;
				seen = r == 60 && !memcmp(got, sf, sl) && zero ? 1 : -(int)r;
			}
		}
		T_CHECK(seen == 1 && wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_TX_DONE,
			sl == 20 ? "sock tx: a 20-byte frame leaves padded to 60 bytes of zeros"
				 : "sock tx: a 59-byte frame leaves padded to 60 bytes of zeros",
			"seen %d (negative: that many bytes, not padded)", seen);
	}

	/* hostile: A names B's buffer (holding a B frame); nothing moves */
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.9.0.2"), ip4("10.9.0.9"), 17, 9, 200, 0xb3);
	memcpy(gbuf(b, 1), fr, len);
	t_vi_tx(&a->v, b->buf[1], 0, (uint16_t)len, 0);
	ring(a);
	T_CHECK(wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_BUF_OWNER,
		"sock hostile: TX naming B's buffer -> ERROR owner", "type %u code %u", ev.type, ev.code);
	T_EQ(wire_recv(wire, 0xb3, got, 300), 0, "sock hostile: nothing on the wire");

	/* spoof: A sends as B from its own buffer */
	memcpy(gbuf(a, 1), fr, len);
	t_vi_tx(&a->v, a->buf[1], 0, (uint16_t)len, 0);
	ring(a);
	T_CHECK(wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF,
		"sock spoof: ERROR spoof event", "type %u code %u", ev.type, ev.code);
	len = mk_frame(fr, MAC_X, MAC_B, 5, ip4("10.9.0.2"), ip4("10.9.0.9"), 17, 9, 200, 0xb3);
	memcpy(gbuf(a, 2), fr, len);
	t_vi_tx(&a->v, a->buf[2], 0, (uint16_t)len, 0);
	t_vi_tx(&a->v, a->buf[2], 0, 12, 0);
	ring(a);
	T_CHECK(wait_event(a, &ev, 3000) && ev.code == PV_NIC_ERR_TX_SPOOF && wait_event(a, &ev, 3000) &&
		ev.code == PV_NIC_ERR_TX_RUNT, "sock spoof: VLAN-tagged spoof and runt refused", "code %u", ev.code);
	T_EQ(wire_recv(wire, 0xb3, got, 300), 0, "sock spoof: nothing on the wire");
	T_CHECK(vi_req(cfd, PV_NIC_STATS, a->vi, &st, sizeof(st)) == 0 && st.tx_spoofed == 2 &&
		st.tx_runt == 1 && st.desc_errors == 1 && st.tx_frames == 3 && st.nr_bufs == 16 &&
		st.nr_filters == 1, "sock stats: spoofs, runt, refused descriptor counted",
		"spoofed %llu runt %llu desc %llu frames %llu", (unsigned long long)st.tx_spoofed,
		(unsigned long long)st.tx_runt, (unsigned long long)st.desc_errors,
		(unsigned long long)st.tx_frames);

	/* B unaffected by all that */
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.9.0.2"), ip4("10.9.0.9"), 17, 9, 100, 0xb4);
	memcpy(gbuf(b, 0), fr, len);
	t_vi_tx(&b->v, b->buf[0], 0, (uint16_t)len, 0);
	ring(b);
	T_CHECK(wire_recv(wire, 0xb4, got, 3000) == len, "sock: B's traffic unaffected by A", "nothing from B");
}

/* ---- TSO through the real port ---- */

/* An AF_PACKET socket on @ifname with virtio-net headers (GSO frames arrive whole). */
static int wire_open_vnet(const char *ifname)
{
	int one = 1, fd = wire_open(ifname);

	if (fd >= 0 && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void wire_drain(int fd)
{
	static uint8_t junk[70000];

	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0)
		;
}

static uint8_t tso_fr[70000], tso_got[70000];

/*
 * A posts @len bytes of tso_fr as a TSO chain on buffers 0.. (2 KiB each),
 * mss @mss; Return: 0 or the post's -errno.
 */
static int tso_post(struct guest *a, uint32_t len, uint16_t mss)
{
	struct nic_tx_frag frag[PV_NIC_TX_MAX_FRAGS];
	unsigned int n = 0;

	for (uint32_t off = 0; off < len && n < 8; off += PV_NIC_BUF_SIZE, n++) {
		uint32_t k = len - off < PV_NIC_BUF_SIZE ? len - off : PV_NIC_BUF_SIZE;

		memcpy(gbuf(a, n), tso_fr + off, k);
		frag[n] = (struct nic_tx_frag){ .buf_id = a->buf[n], .len = (uint16_t)k };
	}
	a->u.tx_prod = a->v.tx_prod;
	if (vi_user_tx_post_frame(&a->u, frag, n, PV_NIC_TX_F_TSO, mss))
		return -ENOSPC;
	a->v.tx_prod = a->u.tx_prod;
	ring(a);
	return (int)n;
}

/* Wait for the events of @n descriptors: all TX_DONE? */
static int tso_done(struct guest *a, int n)
{
	struct pv_nic_event ev;
	int done = 0;

	for (int i = 0; i < n; i++)
		done += wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_TX_DONE;
	return done == n;
}

/* IPv4 header checksum of the segment at @ip (IHL 5) right? */
static int ip4_csum_ok(const uint8_t *ip)
{
	return t_ipcsum(ip) == 0;
}

/*
 * Collect the segments of the frame in tso_fr (L3 at @l3, TCP at @l4, dport
 * 5001) from the plain socket @wire: every one at most MSS @mss of payload,
 * checksums right, payload at the place its sequence number says; true if
 * the whole payload came.
 */
static int tso_segments(int wire, uint32_t len, uint32_t l3, uint32_t l4, uint16_t mss,
			unsigned int *segs, unsigned int *bad)
{
	uint32_t hdr = l4 + 20, payload = len - hdr, got = 0;
	uint32_t seq0 = (uint32_t)tso_fr[l4 + 4] << 24 | (uint32_t)tso_fr[l4 + 5] << 16 |
			(uint32_t)tso_fr[l4 + 6] << 8 | tso_fr[l4 + 7];
	struct timespec t0, t;

	*segs = *bad = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd pfd = { .fd = wire, .events = POLLIN };
		ssize_t n;
		uint32_t sq, plen;

		if (poll(&pfd, 1, 100) != 1)
			goto tick;
		n = recv(wire, tso_got, sizeof(tso_got), MSG_DONTWAIT);
		if (n < (ssize_t)hdr || memcmp(tso_got + 6, MAC_A, 6) || tso_got[l4 + 2] != 0x13 ||
		    tso_got[l4 + 3] != 0x89)
			goto tick;
		(*segs)++;
		plen = (uint32_t)n - hdr;
		sq = (uint32_t)tso_got[l4 + 4] << 24 | (uint32_t)tso_got[l4 + 5] << 16 |
		      (uint32_t)tso_got[l4 + 6] << 8 | tso_got[l4 + 7];
		if (plen > mss || !t_l4_csum_ok(tso_got, (uint32_t)n) ||
		    (tso_got[l3] == 0x45 && !ip4_csum_ok(tso_got + l3)) || sq - seq0 + plen > payload ||
		    memcmp(tso_got + hdr, tso_fr + hdr + (sq - seq0), plen))
			(*bad)++;
		got += plen;
tick:
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (got < payload && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 3000);
	return got == payload;
}

/* TSO IPv4 and IPv6 from A: whole GSO frames over a veth with offloads, segments without. */
static void test_tso(int wire, struct guest *a)
{
	struct virtio_net_hdr vh = { 0 };
	struct iovec iov[2] = { { &vh, sizeof(vh) }, { tso_got, sizeof(tso_got) } };
	int vwire = wire_open_vnet("nB"), n;
	unsigned int segs, bad;
	uint32_t len;
	ssize_t r = -1;

	T_ASSERT(vwire >= 0, "vnet socket on nB");
	if (vwire < 0)
		return;
	wire_drain(wire);
	/* veth with its offloads on: the GSO frame crosses whole */
	len = mk_frame(tso_fr, MAC_X, MAC_A, 0, ip4("10.9.0.1"), ip4("10.9.0.9"), 6, 5001, 16000 - 54, 0);
	tso_fr[47] = 0x10;	/* ACK */
	for (uint32_t i = 54; i < len; i++)
		tso_fr[i] = (uint8_t)(i * 13 + (i >> 8));
	n = tso_post(a, len, 1448);
	T_CHECK(n == 8 && tso_done(a, n), "sock tso: A's 16000-byte TSO chain of 8 taken, 8 TX_DONE",
		"posted %d", n);
	for (int i = 0; i < 50; i++) {
		struct pollfd pfd = { .fd = vwire, .events = POLLIN };

		if (poll(&pfd, 1, 100) != 1)
			continue;
		r = readv(vwire, iov, 2);
		if (r > 54 && !memcmp(tso_got + 6, MAC_A, 6) && tso_got[36] == 0x13)
			break;
	}
	r -= (ssize_t)sizeof(vh);
	T_CHECK(r == (ssize_t)len && vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
		le16toh(vh.gso_size) == 1448 && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		le16toh(vh.csum_start) == 34 && le16toh(vh.csum_offset) == 16 &&
		!memcmp(tso_got + 54, tso_fr + 54, len - 54),
		"sock tso: over a veth with TSO the frame arrives at nB whole: GSO TCPV4/1448, partial csum 34/16",
		"len %zd gso %u/%u flags %u csum %u/%u", r, vh.gso_type, vh.gso_size, vh.flags,
		vh.csum_start, vh.csum_offset);
	T_CHECK(r == (ssize_t)len && t_vnet_csum_ok(tso_got, len, 34, 16),
		"sock tso: its partial checksum completes right", "bad sum");

	/* offloads off on nA: the kernel cuts and sums */
	T_ASSERT(if_offloads("nA", 0) == 0, "offloads off on nA");
	wire_drain(wire);
	wire_drain(vwire);
	n = tso_post(a, len, 1448);
	T_CHECK(n == 8 && tso_done(a, n), "sock tso: the same chain again, nA without offloads", "posted %d", n);
	T_CHECK(tso_segments(wire, len, 14, 34, 1448, &segs, &bad) && segs == 12 && !bad,
		"sock tso: IPv4: 12 segments of at most 1448 at nB, checksums and payload right",
		"%u segments, %u bad", segs, bad);
	len = mk_frame6(tso_fr, MAC_X, MAC_A, 0, 1, 9, 6, 5001, 15000 - 74, 0, 0);
	tso_fr[67] = 0x10;
	for (uint32_t i = 74; i < len; i++)
		tso_fr[i] = (uint8_t)(i * 7 + (i >> 9));
	n = tso_post(a, len, 1400);
	T_CHECK(n == 8 && tso_done(a, n), "sock tso: IPv6 chain taken", "posted %d", n);
	T_CHECK(tso_segments(wire, len, 14, 54, 1400, &segs, &bad) && segs == 11 && !bad,
		"sock tso: IPv6: 11 segments of at most 1400 at nB, checksums and payload right",
		"%u segments, %u bad", segs, bad);
	/* one 802.1Q tag, mss 1460: segments of MTU + 18; nB's kernel takes the tag out */
	len = mk_frame(tso_fr, MAC_X, MAC_A, 5, ip4("10.9.0.1"), ip4("10.9.0.9"), 6, 5001, 16000 - 58, 0);
	tso_fr[51] = 0x10;
	for (uint32_t i = 58; i < len; i++)
		tso_fr[i] = (uint8_t)(i * 11 + (i >> 10));
	n = tso_post(a, len, 1460);
	T_CHECK(n == 8 && tso_done(a, n), "sock tso: VLAN-tagged chain taken", "posted %d", n);
	memmove(tso_fr + 12, tso_fr + 16, len - 16);	/* as nB's socket will show it */
	T_CHECK(tso_segments(wire, len - 4, 14, 34, 1460, &segs, &bad) && segs == 11 && !bad,
		"sock tso: VLAN: 11 segments of at most 1460 at nB, checksums and payload right",
		"%u segments, %u bad", segs, bad);
	T_ASSERT(if_offloads("nA", 1) == 0, "offloads back on nA");
	wire_drain(wire);
	close(vwire);
}

/*
 * A hostile process owning A's VI floods its TX ring and doorbell as fast
 * as it can; B's frames must still be served promptly.
 */
static void test_flood(struct guest *a, struct guest *b)
{
	uint8_t fr[2048];
	struct pv_nic_event ev;
	struct timespec t0, t1;
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.9.0.1"), ip4("10.9.0.9"), 17, 9, 60, 0xa9);
	int b_done = 0, b_errors = 0;
	pid_t pid;

	memcpy(gbuf(a, 3), fr, len);
	while (t_vi_event(&a->v, &ev))
		;
	pid = fork();
	if (pid == 0) {
		uint64_t one = 1;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			while (a->v.tx_prod - __atomic_load_n(&a->v.sh->tx_cons.v, __ATOMIC_ACQUIRE) <
			       PV_NIC_TXQ_SIZE)
				t_vi_tx(&a->v, a->buf[3], 0, (uint16_t)len, 0);
			while (t_vi_event(&a->v, &ev))
				;
			for (int i = 0; i < 16; i++)
				if (write(a->fds[1], &one, sizeof(one)) < 0)
					break;
		}
	}
	T_ASSERT(pid > 0, "fork flooder");
	usleep(200000);		/* let the flood get going */
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.9.0.2"), ip4("10.9.0.9"), 17, 9, 60, 0xb9);
	memcpy(gbuf(b, 4), fr, len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 50; i++) {
		t_vi_tx(&b->v, b->buf[4], 0, (uint16_t)len, 0);
		ring(b);
		if (!wait_event(b, &ev, 2000))
			break;
		b_done += ev.type == PV_NIC_EV_TX_DONE;
		b_errors += ev.type == PV_NIC_EV_ERROR;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The flooder's indices are the VI's now: let the NIC drain, then take them over. */
	a->v.tx_prod = __atomic_load_n(&a->v.sh->tx_prod.v, __ATOMIC_ACQUIRE);
	ring(a);
	for (int i = 0; i < 3000 && __atomic_load_n(&a->v.sh->tx_cons.v, __ATOMIC_ACQUIRE) != a->v.tx_prod; i++) {
		a->v.evq_cons = __atomic_load_n(&a->v.sh->evq_prod.v, __ATOMIC_ACQUIRE);
		__atomic_store_n(&a->v.sh->evq_cons.v, a->v.evq_cons, __ATOMIC_RELEASE);
		ring(a);
		usleep(1000);
	}
	usleep(10000);
	a->v.evq_cons = __atomic_load_n(&a->v.sh->evq_prod.v, __ATOMIC_ACQUIRE);
	__atomic_store_n(&a->v.sh->evq_cons.v, a->v.evq_cons, __ATOMIC_RELEASE);
	{
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		struct pv_nic_vi_stats st;

		T_CHECK(b_done + b_errors == 50 && ms < 5000, "sock flood: B's 50 frames served while A floods",
			"done %d (errors %d: port busy) in %ld ms", b_done, b_errors, ms);
		T_CHECK(vi_req(b->cfd, PV_NIC_STATS, a->vi, &st, sizeof(st)) == 0 && st.doorbells > 100,
			"sock flood: A really flooded", "A doorbells %llu frames %llu",
			(unsigned long long)st.doorbells, (unsigned long long)st.tx_frames);
		printf("# flood: B 50 frames in %ld ms (%d port-busy errors); A sent %llu frames, "
		       "%llu port errors, %llu doorbells\n", ms, b_errors, (unsigned long long)st.tx_frames,
		       (unsigned long long)st.tx_port_errors, (unsigned long long)st.doorbells);
	}
}

/*
 * A doorbell storm with no work (Xen's XSA-332 pattern): A's process rings
 * as fast as it can without posting anything.  The NIC mutes the doorbell
 * (vi.c, "Doorbell storms"), so it takes a wake-up per mute, not per ring;
 * A's frame posted afterwards still goes, and B is served throughout.
 */
static void test_db_storm(struct guest *a, struct guest *b)
{
	uint8_t fr[2048];
	struct pv_nic_event ev;
	struct pv_nic_vi_stats st0, st1;
	uint32_t len;
	int b_done = 0, a_ok;
	int cnt[2];
	pid_t pid;

	while (t_vi_event(&a->v, &ev))
		;
	T_ASSERT(pipe(cnt) == 0, "pipe");
	T_ASSERT(vi_req(b->cfd, PV_NIC_STATS, a->vi, &st0, sizeof(st0)) == 0, "stats before the storm");
	pid = fork();
	if (pid == 0) {
		uint64_t one = 1, rings = 0;
		struct timespec t0, t;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 256; i++)
				rings += write(a->fds[1], &one, sizeof(one)) == sizeof(one);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 600);
		if (write(cnt[1], &rings, sizeof(rings)) < 0)
			_exit(1);
		_exit(0);
	}
	T_ASSERT(pid > 0, "fork the storm");
	close(cnt[1]);
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.9.0.2"), ip4("10.9.0.9"), 17, 9, 60, 0xb7);
	memcpy(gbuf(b, 4), fr, len);
	usleep(100000);
	for (int i = 0; i < 20; i++) {
		t_vi_tx(&b->v, b->buf[4], 0, (uint16_t)len, 0);
		ring(b);
		if (!wait_event(b, &ev, 2000))
			break;
		b_done += ev.type == PV_NIC_EV_TX_DONE || ev.type == PV_NIC_EV_ERROR;
	}
	{
		uint64_t rings = 0;

		T_ASSERT(read(cnt[0], &rings, sizeof(rings)) == sizeof(rings), "storm ended");
		waitpid(pid, NULL, 0);
		close(cnt[0]);
		T_ASSERT(vi_req(b->cfd, PV_NIC_STATS, a->vi, &st1, sizeof(st1)) == 0, "stats after");
		T_CHECK(rings > 10000 && st1.doorbells - st0.doorbells < 1000,
			"sock storm: 0.6 s of idle doorbells cost the NIC few wake-ups (muted)",
			"%llu rings, %llu wake-ups", (unsigned long long)rings,
			(unsigned long long)(st1.doorbells - st0.doorbells));
		printf("# storm: %llu rings in 0.6 s, the NIC woke %llu times\n",
		       (unsigned long long)rings, (unsigned long long)(st1.doorbells - st0.doorbells));
	}
	T_CHECK(b_done == 20, "sock storm: B's frames served during A's storm", "%d of 20", b_done);
	/* A behaves again: its next doorbell, with work, is heard (after a mute at most). */
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.9.0.1"), ip4("10.9.0.9"), 17, 9, 60, 0xa7);
	memcpy(gbuf(a, 3), fr, len);
	t_vi_tx(&a->v, a->buf[3], 0, (uint16_t)len, 0);
	ring(a);
	a_ok = wait_event(a, &ev, 2000) && ev.type == PV_NIC_EV_TX_DONE;
	T_CHECK(a_ok, "sock storm: A's frame after the storm goes", "event %d", a_ok ? ev.type : -1);
}

/* IPv4 filters, ownership of filters and buffers, reset, through the socket. */
static void test_filters(int cfd, int wire, struct guest *a, struct guest *b)
{
	uint8_t fr[2048];
	struct pv_nic_event ev = { 0 };
	struct pv_nic_vi_stats st;
	uint32_t fid = 0, len;
	int rc;

	while (t_vi_event(&a->v, &ev))
		;
	while (t_vi_event(&b->v, &ev))
		;
	rc = nic_client_filter_ipv4(cfd, b->vi, 17, ip4("10.9.0.1"), 4000, &fid);
	T_EQ(rc, 0, "sock filter: IPv4 UDP filter for B");
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.9.0.9"), ip4("10.9.0.1"), 17, 4000, 100, 0xc1);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	T_CHECK(wait_event(b, &ev, 3000) && ev.type == PV_NIC_EV_RX && (ev.flags & PV_NIC_RX_F_FILTER) &&
		ev.len == len, "sock filter: flow to A's MAC steered to B by its IPv4 filter", "type %u", ev.type);
	T_CHECK(!t_vi_event(&a->v, &ev), "sock filter: A did not get it", "A got type %u", ev.type);
	T_EQ(nic_client_filter_del(cfd, a->vi, fid), -EPERM, "sock filter: A cannot delete B's filter");
	T_EQ(nic_client_filter_mac(cfd, a->vi, MAC_B, NULL), -EEXIST, "sock filter: A cannot take B's MAC");
	T_EQ(nic_client_filter_del(cfd, b->vi, fid), 0, "sock filter: B deletes its filter");
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	T_CHECK(wait_event(a, &ev, 3000) && ev.type == PV_NIC_EV_RX, "sock filter: flow back to A's MAC filter",
		"type %u", ev.type);
	T_EQ(nic_client_buf_unmap(cfd, a->vi, &b->buf[0], 1), -EPERM, "sock buf: A cannot unmap B's buffer");
	T_EQ(nic_client_buf_unmap(cfd, b->vi, &b->buf[15], 1), 0, "sock buf: B unmaps one of its own");
	T_CHECK(nic_client_stats(cfd, b->vi, &st) == 0 && st.nr_bufs == 15, "sock buf: B owns 15 now",
		"%u", st.nr_bufs);
	T_EQ(nic_client_set_mac(cfd, b->vi, MAC_BCAST, 0), -EINVAL, "sock: broadcast MAC as a VI's MAC refused");
}

static void test_lifecycle(int cfd, int wire, struct guest *a, struct guest *b, const char *bin)
{
	struct pv_nic_info_reply ir0, ir1;
	struct guest c = { 0 }, d = { 0 };
	struct pv_nic_vi_stats st;
	uint8_t fr[2048];
	uint32_t len;
	int cfd2, rc;

	cfd2 = pv_unix_connect(sock_path, SOCK_SEQPACKET);
	T_EQ(vi_req(cfd2, PV_NIC_VI_FREE, a->vi, NULL, 0), -EPERM, "sock: another connection cannot free A");
	T_EQ(guest_new(cfd2, &c, MAC_X), -ENOSPC, "sock: VI table full (max-vis 2) -> -ENOSPC");
	T_EQ(vi_req(cfd, PV_NIC_VI_FREE, a->vi, NULL, 0), 0, "sock: VI_FREE A");
	T_EQ(vi_req(cfd, PV_NIC_STATS, a->vi, &st, sizeof(st)), -ENOENT, "sock: A is gone");
	nic_call(cfd, PV_NIC_INFO, NULL, 0, NULL, 0, &ir0, sizeof(ir0), NULL);
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.9.0.9"), ip4("10.9.0.1"), 17, 7, 300, 0xa5);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	usleep(200000);
	nic_call(cfd, PV_NIC_INFO, NULL, 0, NULL, 0, &ir1, sizeof(ir1), NULL);
	T_EQ(ir1.rx_unmatched_dropped - ir0.rx_unmatched_dropped, 1,
	     "sock: A's filter gone with it (frame unmatched, no host VI)");
	close(cfd);	/* B goes with its connection */
	usleep(100000);
	rc = guest_new(cfd2, &c, MAC_A);
	T_CHECK(rc == 0 && guest_new(cfd2, &d, MAC_B) == 0, "sock: closed connection freed B: two VIs again, "
		"MAC filters for A's and B's MACs free again", "rc %d", rc);
	T_CHECK(vi_req(cfd2, PV_NIC_STATS, c.vi, &st, sizeof(st)) == 0 && st.tx_frames == 0 &&
		st.nr_bufs == 16, "sock: new VI starts with fresh counters", "frames %llu bufs %u",
		(unsigned long long)st.tx_frames, st.nr_bufs);
	close(cfd2);

	rc = nicd_stop();
	T_CHECK(rc == 0 && access(sock_path, F_OK) != 0, "sock: pvnet-nicd exits cleanly on SIGTERM, socket removed",
		"status %d", rc);
	cfd2 = nicd_start(bin);
	memset(&c, 0, sizeof(c));
	T_CHECK(cfd2 >= 0 && guest_new(cfd2, &c, MAC_A) == 0 && c.vi == 0, "sock: restarted pvnet-nicd starts clean",
		"cfd %d vi %u", cfd2, c.vi);
	if (cfd2 >= 0)
		close(cfd2);
	(void)b;
}

static void run(const char *bin)
{
	struct guest a = { 0 }, b = { 0 };
	int cfd, wire, rc;

	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (system("ip link add nA type veth peer name nB >/dev/null 2>&1") != 0 ||
	    system("ip link set nA up && ip link set nB up") != 0) {
		T_SKIP("nic sock", "cannot create a veth pair (ip, veth)");
		return;
	}
	if (!mkdtemp(run_dir)) {
		T_CHECK(0, "mkdtemp", "%s", strerror(errno));
		return;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/%s", run_dir, PV_NIC_SOCK_NAME);
	wire = wire_open("nB");
	cfd = nicd_start(bin);
	T_CHECK(cfd >= 0 && wire >= 0, "sock: pvnet-nicd up on nA, control socket connected", "cfd %d wire %d",
		cfd, wire);
	if (cfd < 0)
		goto out;
	{
		struct stat st;

		T_CHECK(stat(sock_path, &st) == 0 && (st.st_mode & 0777) == 0600, "sock: nic.sock mode 0600",
			"mode %o", st.st_mode & 0777);
	}
	test_control(cfd);
	rc = guest_new(cfd, &a, MAC_A);
	T_CHECK(rc == 0, "sock: VI A allocated, 16 buffers mapped, MAC and filter set", "rc %d", rc);
	rc = rc ? rc : guest_new(cfd, &b, MAC_B);
	T_CHECK(rc == 0, "sock: VI B likewise", "rc %d", rc);
	if (rc)
		goto out;
	T_CHECK(a.v.sh->info.magic == PV_NIC_VI_MAGIC && a.v.sh->info.vi_id == a.vi,
		"sock: VI memory header", "magic %#x", a.v.sh->info.magic);
	test_rx(wire, &a, &b);
	test_tx(cfd, wire, &a, &b);
	test_set_addrs(cfd, wire, &a);
	test_tso(wire, &a);
	test_flood(&a, &b);
	test_db_storm(&a, &b);
	test_filters(cfd, wire, &a, &b);
	test_lifecycle(cfd, wire, &a, &b, bin);
out:
	nicd_stop();
	unlink(sock_path);
	rmdir(run_dir);
}

int main(void)
{
	return nicd_test_main("nic sock", run);
}
