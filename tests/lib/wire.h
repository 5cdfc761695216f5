/* SPDX-License-Identifier: MIT */
/*
 * wire.h - shared by the tests of switch ports that reach a wire (the
 * uplink, the NIC port): a capture port on the switch, frame builders and
 * checkers, packet sockets on the peer end, interface helpers.
 * Header-only; each test binary includes it once.
 */
#ifndef PVNET_TEST_WIRE_H
#define PVNET_TEST_WIRE_H

/* ---- capture port ---- */

#define CAP_MAX 64
struct cap_frame {
	uint32_t len;
	uint16_t flags, csum_start, csum_offset, gso_size;
	uint8_t gso_type;
	uint8_t data[PV_FRAME_MAX_LEN];
};
static struct cap_frame cap_frames[CAP_MAX];
static unsigned int cap_n;
static struct pv_port cap_port;

static int cap_xmit(struct pv_port *port, const struct pv_frame *f)
{
	struct cap_frame *c;

	if (cap_n >= CAP_MAX)
		return -ENOBUFS;
	c = &cap_frames[cap_n++];
	c->len = pv_frame_copy(f, 0, c->data, f->len);
	c->flags = f->flags;
	c->csum_start = f->csum_start;
	c->csum_offset = f->csum_offset;
	c->gso_type = f->gso_type;
	c->gso_size = f->gso_size;
	return 0;
}

static void cap_flush(struct pv_port *port) { }

static const struct pv_port_ops cap_ops = { .kind = "test", .xmit = cap_xmit, .flush = cap_flush };

/* Run the loop until a captured frame equals @want (or @ms pass); its index or -1. */
static int cap_wait(struct pv_loop *loop, const uint8_t *want, uint32_t len, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (unsigned int i = 0; i < cap_n; i++)
			if (cap_frames[i].len == len && !memcmp(cap_frames[i].data, want, len))
				return (int)i;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return -1;
		pv_loop_once(loop, 20);
	}
}

/* ---- frames ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Plain test frame: ethertype 0x88b5, @tag in the payload, @len bytes in all. */
static uint32_t mk_plain(uint8_t *b, const uint8_t *dst, const uint8_t *src,
			 int vlan, const char *tag, uint32_t len)
{
	uint32_t off = 12;

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	if (vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, 0x0064);
		off = 16;
	}
	put16(b + off, 0x88b5);
	for (uint32_t i = off + 2; i < len; i++)
		b[i] = (uint8_t)(i * 13);
	memcpy(b + off + 2, tag, strlen(tag));
	return len;
}

/*
 * IPv4 TCP frame with @payload bytes, checksum field holding the
 * pseudo-header sum (CHECKSUM_PARTIAL, as Linux leaves it).
 */
static uint32_t mk_tcp4(uint8_t *b, const uint8_t *dst, const uint8_t *src,
			uint16_t sport, uint32_t payload)
{
	uint32_t len = 54 + payload;
	uint8_t *ip = b + 14, *th = b + 34, ph[12];

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - 14));
	put16(ip + 4, 0x4242);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10; ip[15] = 1;
	ip[16] = 10; ip[19] = 2;
	put16(ip + 10, (uint16_t)~fold(sum16(0, ip, 20)));
	memset(th, 0, 20);
	put16(th, sport);
	put16(th + 2, 80);
	put16(th + 4, 0x1000); put16(th + 6, 0);
	th[12] = 5 << 4;
	th[13] = 0x18;	/* PSH ACK */
	put16(th + 14, 1024);
	for (uint32_t i = 0; i < payload; i++)
		th[20 + i] = (uint8_t)(i * 31 + (i >> 9));
	memcpy(ph, ip + 12, 8);
	ph[8] = 0; ph[9] = 6;
	put16(ph + 10, (uint16_t)(20 + payload));
	put16(th + 16, fold(sum16(0, ph, 12)));
	return len;
}

/* Are the IPv4 header and TCP checksums of this frame (starting at Ethernet) right? */
static int tcp4_ok(const uint8_t *b, uint32_t len)
{
	const uint8_t *ip = b + 14, *th = b + 34;
	uint32_t tl = get16(ip + 2) - 20;
	uint8_t ph[12];

	if (len < 54 || get16(ip + 2) + 14u > len || fold(sum16(0, ip, 20)) != 0xffff)
		return 0;
	memcpy(ph, ip + 12, 8);
	ph[8] = 0; ph[9] = 6;
	put16(ph + 10, (uint16_t)tl);
	return fold(sum16(sum16(0, ph, 12), th, tl)) == 0xffff;
}

/* A pv_frame over @buf: 128-byte header copy, the rest in @nseg segments. */
static void mk_pvframe(struct pv_frame *f, const uint8_t *buf, uint32_t len, unsigned int nseg)
{
	uint32_t rest, at;

	memset(f, 0, sizeof(*f));
	f->len = len;
	f->hdr_len = len < PV_FRAME_HDR_MAX ? len : PV_FRAME_HDR_MAX;
	memcpy(f->hdr, buf, f->hdr_len);
	rest = len - f->hdr_len;
	at = f->hdr_len;
	for (unsigned int i = 0; rest && i < nseg; i++) {
		uint32_t n = i + 1 == nseg ? rest : rest / nseg;

		f->seg[f->nseg].p = buf + at;
		f->seg[f->nseg++].len = n;
		at += n;
		rest -= n;
	}
}

static void inject(struct pv_switch *sw, const struct pv_frame *f)
{
	pv_switch_input(sw, &cap_port, f);
	pv_switch_flush(sw);
}

/* ---- host-side sockets ---- */

static int pkt_sock(const char *ifname, int vnet)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htobe16(ETH_P_ALL) };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if ((vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Receive the next frame within @ms; its length (vnet header stripped into @vh) or -1. */
static int sock_recv(int fd, uint8_t *buf, size_t cap, struct virtio_net_hdr *vh, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct iovec iov[2] = { { vh, sizeof(*vh) }, { buf, cap } };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	if (vh) {
		n = readv(fd, iov, 2);
		return n < (ssize_t)sizeof(*vh) ? -1 : (int)(n - sizeof(*vh));
	}
	n = recv(fd, buf, cap, 0);
	return n < 0 ? -1 : (int)n;
}

static int if_set_up(const char *name, int up)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags = up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return rc;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

#endif
