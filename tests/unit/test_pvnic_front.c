/* SPDX-License-Identifier: MIT */
/*
 * test_pvnic_front.c - the frontend half of the "pvnic" accelerator
 * (src/accel/pvnic_front.c) against a simulated NIC, in one thread.
 *
 *   this test                                   the plugin
 *   fake accel host (pv_accel_front_* below) <- deliver, kick, return, set_state
 *   ops table: start_xmit, poll, irq, ...   ->  pvnic_front_ops_get()
 *   simulated NIC: a VI memfd laid out per      pvnic_front_test_attach(): maps it,
 *   nic.h; consumes TX descriptors, writes      posts RX, watches the wake-up
 *   RX / TX_DONE / ERROR events
 *
 * The host's functions are defined here (the plugin reaches netfront only
 * through accel.h), so libpvnet-front's accel_front.o is not linked in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../lib/test.h"
#include "lib/loop.h"
#include "lib/pkt.h"
#include "pvnet/accel.h"
#include "pvnet/nic.h"
#include "pvnet/xen.h"
#include "accel/pvnic.h"
#include "accel/pvnic_front.h"

#define K    PVNIC_NR_PAGES
#define NBUF (2 * K)
#define NRX  PVNIC_NR_RX	/* buffers 0 .. NRX-1 posted for RX */
#define NTX  (NBUF - NRX)	/* the rest for TX */
#define TXF_MAX 512		/* TX descriptors the simulated NIC records */

/* ---- the fake accel host ---- */

struct pv_accel_front_dev {
	void *priv;
	struct pv_loop *loop;
	uint8_t mac[6];
	unsigned int kicks;
	unsigned int delivered;
	uint8_t last_rx[70000];
	uint32_t last_rx_len;
	struct virtio_net_hdr last_vh;
	int last_iovcnt;
	int last_rx_valid;
	int rx_vh_null;
	unsigned int returned;
	uint8_t ret[65536];
	uint32_t ret_len;
	int state;
};

void *pv_accel_front_priv(const struct pv_accel_front_dev *dev) { return dev->priv; }
void pv_accel_front_set_priv(struct pv_accel_front_dev *dev, void *priv) { dev->priv = priv; }
struct pv_loop *pv_accel_front_loop(const struct pv_accel_front_dev *dev) { return dev->loop; }
struct pv_guest *pv_accel_front_guest(const struct pv_accel_front_dev *dev) { return NULL; }
struct xsc *pv_accel_front_xs(const struct pv_accel_front_dev *dev) { return NULL; }
const char *pv_accel_front_path(const struct pv_accel_front_dev *dev) { return "/local/domain/1/device/vif/0"; }
const char *pv_accel_front_backend(const struct pv_accel_front_dev *dev) { return "/local/domain/0/backend/vif/1/0"; }
const uint8_t *pv_accel_front_mac(const struct pv_accel_front_dev *dev) { return dev->mac; }
unsigned int pv_accel_front_mtu(const struct pv_accel_front_dev *dev) { return 1500; }
/* accel.h 1.2: no domain behind the fake host (pvnic_front_test_attach needs none). */
unsigned int pv_accel_front_domid(const struct pv_accel_front_dev *dev) { return 1; }
unsigned int pv_accel_front_devid(const struct pv_accel_front_dev *dev) { return 0; }
void *pv_accel_front_page(const struct pv_accel_front_dev *dev, unsigned int i) { return NULL; }
int pv_accel_front_grant(struct pv_accel_front_dev *dev, unsigned int i, unsigned int domid,
			 int readonly) { return -ENODEV; }
int pv_accel_front_end_grant(struct pv_accel_front_dev *dev, uint32_t ref) { return -EINVAL; }
int pv_accel_front_xs_connect(struct pv_accel_front_dev *dev) { return -ENODEV; }
int pv_accel_front_get_fds(struct pv_accel_front_dev *dev, int *fds, unsigned int max) { return -ENOENT; }
void pv_accel_front_kick(struct pv_accel_front_dev *dev) { dev->kicks++; }
int pv_accel_front_slow_room(struct pv_accel_front_dev *dev, uint32_t len) { return 1; }
int pv_accel_front_set_state(struct pv_accel_front_dev *dev, int state) { dev->state = state; return 0; }
int pv_accel_front_register(const struct pv_accel_front_ops *ops, void *arg) { return 0; }
int pv_accel_front_unregister(const char *name) { return 0; }

int pv_accel_front_deliver(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
			   const struct iovec *iov, int iovcnt, uint32_t len)
{
	uint32_t got = 0;

	for (int i = 0; i < iovcnt; i++) {
		memcpy(dev->last_rx + got, iov[i].iov_base, iov[i].iov_len);
		got += (uint32_t)iov[i].iov_len;
	}
	dev->last_rx_len = len;
	dev->last_iovcnt = iovcnt;
	if (vh)
		dev->last_vh = *vh;
	dev->last_rx_valid = vh && (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID);
	dev->rx_vh_null += !vh;
	dev->delivered++;
	return got == len ? 0 : -EINVAL;
}

int pv_accel_front_return(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
			  const void *frame, uint32_t len)
{
	memcpy(dev->ret, frame, len);
	dev->ret_len = len;
	dev->returned++;
	return 0;
}

/* ---- the simulated NIC ---- */

static struct {
	int memfd, db, wake;
	uint8_t *vi;
	struct pv_nic_vi_shared *sh;
	struct pv_nic_desc *txq, *rxq;
	struct pv_nic_event *evq;
	uint32_t tx_cons, rx_cons, evq_prod;
	uint8_t *pages;
	uint32_t ids[NBUF];
	/* descriptors taken off the TX ring: bytes, flags, mss */
	uint8_t txf[TXF_MAX][2048];
	uint32_t txlen[TXF_MAX];
	uint32_t txflags[TXF_MAX];
	uint16_t txmss[TXF_MAX];
	unsigned int ntx;
} N;

static const uint8_t MY_MAC[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01 };
static const uint8_t PEER[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02 };
static const uint8_t OTHER[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x03 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static uint8_t *nic_buf(uint32_t id)
{
	for (int j = 0; j < NBUF; j++)
		if (N.ids[j] == id)
			return N.pages + (size_t)j * PV_NIC_BUF_SIZE;
	return NULL;
}

static void nic_event(uint8_t type, uint8_t code, uint8_t queue, uint32_t buf_id, uint16_t len,
		      uint32_t index, uint16_t flags)
{
	N.evq[N.evq_prod & (PV_NIC_EVQ_SIZE - 1)] = (struct pv_nic_event){
		.type = type, .code = code, .flags = flags, .buf_id = buf_id, .len = len,
		.queue = queue, .index = index };
	N.evq_prod++;
	__atomic_store_n(&N.sh->evq_prod.v, N.evq_prod, __ATOMIC_RELEASE);
}

static void nic_setup(int bad_magic)
{
	struct pv_nic_vi_info *in;

	N.memfd = memfd_create("vi", MFD_CLOEXEC);
	if (N.memfd < 0 || ftruncate(N.memfd, PV_NIC_VI_MEM_SIZE))
		exit(2);
	N.vi = mmap(NULL, PV_NIC_VI_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, N.memfd, 0);
	if (N.vi == MAP_FAILED)
		exit(2);
	N.sh = (struct pv_nic_vi_shared *)N.vi;
	N.txq = (struct pv_nic_desc *)(N.vi + PV_NIC_OFF_TXQ);
	N.rxq = (struct pv_nic_desc *)(N.vi + PV_NIC_OFF_RXQ);
	N.evq = (struct pv_nic_event *)(N.vi + PV_NIC_OFF_EVQ);
	in = &N.sh->info;
	*in = (struct pv_nic_vi_info){ .magic = bad_magic ? 0xdeadbeef : PV_NIC_VI_MAGIC,
				       .version = PV_NIC_VERSION, .vi_id = 7,
				       .mem_size = PV_NIC_VI_MEM_SIZE,
				       .txq_size = PV_NIC_TXQ_SIZE, .rxq_size = PV_NIC_RXQ_SIZE,
				       .evq_size = PV_NIC_EVQ_SIZE, .txq_off = PV_NIC_OFF_TXQ,
				       .rxq_off = PV_NIC_OFF_RXQ, .evq_off = PV_NIC_OFF_EVQ,
				       .buf_size = PV_NIC_BUF_SIZE };
	N.db = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	N.wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	N.tx_cons = N.rx_cons = N.evq_prod = 0;
	N.ntx = 0;
}

static void nic_teardown(void)
{
	munmap(N.vi, PV_NIC_VI_MEM_SIZE);
	close(N.memfd);
}

/*
 * Take up to @max posted TX descriptors: TX_DONE each, or ERROR: @err0 on
 * the first taken, @err on the others (0: TX_DONE for those).
 */
static unsigned int nic_tx_some(unsigned int max, uint8_t err0, uint8_t err)
{
	uint32_t prod = __atomic_load_n(&N.sh->tx_prod.v, __ATOMIC_ACQUIRE);
	unsigned int n = 0;

	while (N.tx_cons != prod && n < max) {
		struct pv_nic_desc d = N.txq[N.tx_cons & (PV_NIC_TXQ_SIZE - 1)];
		uint8_t *b = nic_buf(d.buf_id), e = n ? err : err0;

		if (b && N.ntx < TXF_MAX && d.offset + d.len <= PV_NIC_BUF_SIZE) {
			memcpy(N.txf[N.ntx], b + d.offset, d.len);
			N.txflags[N.ntx] = d.flags;
			N.txmss[N.ntx] = d.mss;
			N.txlen[N.ntx++] = d.len;
		}
		if (e)
			nic_event(PV_NIC_EV_ERROR, e, 0, d.buf_id, 0, N.tx_cons, 0);
		else
			nic_event(PV_NIC_EV_TX_DONE, 0, 0, d.buf_id, d.len, N.tx_cons, 0);
		N.tx_cons++;
		n++;
	}
	__atomic_store_n(&N.sh->tx_cons.v, N.tx_cons, __ATOMIC_RELEASE);
	return n;
}

/* Take every posted TX descriptor; TX_DONE, or ERROR @err for all of them. */
static unsigned int nic_tx(uint8_t err)
{
	uint32_t prod = __atomic_load_n(&N.sh->tx_prod.v, __ATOMIC_ACQUIRE);
	unsigned int n = 0;

	while (N.tx_cons != prod) {
		struct pv_nic_desc d = N.txq[N.tx_cons & (PV_NIC_TXQ_SIZE - 1)];
		uint8_t *b = nic_buf(d.buf_id);

		if (b && N.ntx < TXF_MAX && d.offset + d.len <= PV_NIC_BUF_SIZE) {
			memcpy(N.txf[N.ntx], b + d.offset, d.len);
			N.txflags[N.ntx] = d.flags;
			N.txmss[N.ntx] = d.mss;
			N.txlen[N.ntx++] = d.len;
		}
		if (err)
			nic_event(PV_NIC_EV_ERROR, err, 0, d.buf_id, 0, N.tx_cons, 0);
		else
			nic_event(PV_NIC_EV_TX_DONE, 0, 0, d.buf_id, d.len, N.tx_cons, 0);
		N.tx_cons++;
		n++;
	}
	__atomic_store_n(&N.sh->tx_cons.v, N.tx_cons, __ATOMIC_RELEASE);
	return n;
}

/* A frame from the wire into the next RX descriptor; -1 if none posted. */
static uint16_t nic_rx_flags = PV_NIC_RX_F_CSUM_OK;

static int nic_rx(const uint8_t *f, uint32_t len, uint8_t err)
{
	uint32_t prod = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);
	struct pv_nic_desc d;
	uint8_t *b;

	if (N.rx_cons == prod)
		return -1;
	d = N.rxq[N.rx_cons & (PV_NIC_RXQ_SIZE - 1)];
	b = nic_buf(d.buf_id);
	if (err || !b) {
		nic_event(PV_NIC_EV_ERROR, err ? err : PV_NIC_ERR_BUF_RANGE, 1, d.buf_id, 0,
			  N.rx_cons, 0);
	} else {
		memcpy(b + d.offset, f, len);
		nic_event(PV_NIC_EV_RX, 0, 1, d.buf_id, (uint16_t)len, N.rx_cons, nic_rx_flags);
	}
	N.rx_cons++;
	__atomic_store_n(&N.sh->rx_cons.v, N.rx_cons, __ATOMIC_RELEASE);
	return 0;
}

/* An RX_META event as the NIC writes it (nic.h, RX chains). */
static void nic_rx_meta(uint32_t frame_len, uint8_t nr_desc, uint8_t gso_type, uint16_t gso_size,
			uint16_t flags, uint16_t csum_start, uint16_t csum_offset)
{
	struct pv_nic_rx_meta m = {
		.type = PV_NIC_EV_RX_META, .gso_type = gso_type, .flags = flags,
		.frame_len = frame_len, .gso_size = gso_size, .queue = 1, .nr_desc = nr_desc,
		.csum_start = csum_start, .csum_offset = csum_offset,
	};

	memcpy(&N.evq[N.evq_prod & (PV_NIC_EVQ_SIZE - 1)], &m, sizeof(m));
	N.evq_prod++;
	__atomic_store_n(&N.sh->evq_prod.v, N.evq_prod, __ATOMIC_RELEASE);
}

/*
 * A frame into consecutive posted RX descriptors as a chain: RX_META
 * (unless @no_meta) and an RX event per descriptor, MORE on all but the
 * last; @lie_more: the last one claims MORE too.  Return: descriptors
 * used, or -1 if too few are posted.
 */
static int nic_rx_chain(const uint8_t *f, uint32_t len, uint8_t gso_type, uint16_t gso_size,
			uint16_t flags, int no_meta, int lie_more)
{
	uint32_t prod = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);
	uint32_t n = (len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE, off = 0;

	if (prod - N.rx_cons < n)
		return -1;
	if (!no_meta)
		nic_rx_meta(len, (uint8_t)n, gso_type, gso_size, flags,
			    (flags & PV_NIC_RX_F_CSUM_PARTIAL) ? 34 : 0,
			    (flags & PV_NIC_RX_F_CSUM_PARTIAL) ? 16 : 0);
	for (uint32_t j = 0; j < n; j++) {
		struct pv_nic_desc d = N.rxq[(N.rx_cons + j) & (PV_NIC_RXQ_SIZE - 1)];
		uint32_t c = len - off < PV_NIC_BUF_SIZE ? len - off : PV_NIC_BUF_SIZE;
		uint16_t more = (j + 1 < n || lie_more) ? PV_NIC_RX_F_MORE : 0;

		memcpy(nic_buf(d.buf_id) + d.offset, f + off, c);
		off += c;
		nic_event(PV_NIC_EV_RX, 0, 1, d.buf_id, (uint16_t)c, N.rx_cons + j, flags | more);
	}
	N.rx_cons += n;
	__atomic_store_n(&N.sh->rx_cons.v, N.rx_cons, __ATOMIC_RELEASE);
	return (int)n;
}

static uint64_t efd_read(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* ---- frames ---- */

static uint32_t eth_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t len)
{
	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)i;
	return len;
}

/*
 * An IPv4/TCP frame with @pay payload bytes; the TCP checksum field holds
 * the pseudo-header sum (CHECKSUM_PARTIAL), the IP header checksum is valid.
 */
static uint32_t tcp_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t pay)
{
	uint32_t tcplen = 20 + pay, len = 14 + 20 + tcplen, sum;
	uint8_t *ip = f + 14, *tcp = ip + 20, ph[12];

	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + tcplen) >> 8);
	ip[3] = (uint8_t)(20 + tcplen);
	ip[4] = 0x12;
	ip[6] = 0x40;			/* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(ip + 16, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	sum = pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20));
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	tcp[0] = 0x30; tcp[1] = 0x39;	/* 12345 */
	tcp[2] = 0x00; tcp[3] = 0x50;	/* 80 */
	tcp[4] = 0x01;			/* seq 0x01000000 */
	tcp[12] = 0x50;
	tcp[13] = PV_TCP_ACK | PV_TCP_PSH;
	tcp[14] = 0xff;
	for (uint32_t i = 0; i < pay; i++)
		tcp[20 + i] = (uint8_t)(i * 7 + 3);
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(tcplen >> 8);
	ph[11] = (uint8_t)tcplen;
	sum = ~pv_pkt_csum_fold(pv_pkt_csum_add(0, ph, 12)) & 0xffff;
	tcp[16] = (uint8_t)(sum >> 8);
	tcp[17] = (uint8_t)sum;
	return len;
}

/* 1 if the IPv4 header and TCP checksums of @f verify. */
static int tcp_csums_ok(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + 14;
	uint32_t iplen = (uint32_t)ip[2] << 8 | ip[3], tcplen = iplen - 20, sum;
	uint8_t ph[12];

	if (len < 54 || 14 + iplen != len || pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20)) != 0)
		return 0;
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(tcplen >> 8);
	ph[11] = (uint8_t)tcplen;
	sum = pv_pkt_csum_add(0, ph, 12);
	sum = pv_pkt_csum_add(sum, ip + 20, tcplen);
	return pv_pkt_csum_fold(sum) == 0;
}

/* An IPv6/TCP frame with @pay payload bytes (checksum field: anything). */
static uint32_t tcp6_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t pay)
{
	uint32_t tcplen = 20 + pay, len = 14 + 40 + tcplen;
	uint8_t *ip = f + 14, *tcp = ip + 40;

	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	ip[0] = 0x60;
	ip[4] = (uint8_t)(tcplen >> 8);
	ip[5] = (uint8_t)tcplen;
	ip[6] = 6;
	ip[7] = 64;
	ip[8] = 0xfd;
	ip[23] = 1;			/* fd00::1 */
	ip[24] = 0xfd;
	ip[39] = 2;			/* fd00::2 */
	tcp[0] = 0x30; tcp[1] = 0x39;
	tcp[2] = 0x00; tcp[3] = 0x50;
	tcp[4] = 0x02;
	tcp[12] = 0x50;
	tcp[13] = PV_TCP_ACK;
	tcp[14] = 0xff;
	tcp[16] = 0x5a;			/* a pseudo-header sum, as the kernel leaves it */
	tcp[17] = 0xa5;
	for (uint32_t i = 0; i < pay; i++)
		tcp[20 + i] = (uint8_t)(i * 13 + 5);
	return len;
}

/* An IPv4/UDP frame with @pay payload bytes; the checksum field holds a partial sum. */
static uint32_t udp_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t pay)
{
	uint32_t ulen = 8 + pay, len = 14 + 20 + ulen;
	uint8_t *ip = f + 14, *udp = ip + 20;

	tcp_frame(f, dst, src, pay);	/* Ethernet and IPv4 headers; the rest rewritten */
	ip[2] = (uint8_t)((20 + ulen) >> 8);
	ip[3] = (uint8_t)(20 + ulen);
	ip[9] = 17;
	ip[10] = ip[11] = 0;
	{
		uint32_t sum = pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20));

		ip[10] = (uint8_t)(sum >> 8);
		ip[11] = (uint8_t)sum;
	}
	udp[0] = 0x13; udp[1] = 0x88;	/* 5000 */
	udp[2] = 0x13; udp[3] = 0x89;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = 0x12;
	udp[7] = 0x34;
	for (uint32_t i = 0; i < pay; i++)
		udp[8 + i] = (uint8_t)(i * 3 + 1);
	return len;
}

/* ---- the tests ---- */

static struct pv_accel_front_dev D;
static const struct pv_accel_front_ops *ops;
static uint8_t F[70000];

static enum pv_accel_xmit xmit(const struct virtio_net_hdr *vh, const uint8_t *f, uint32_t len)
{
	struct iovec iov[2] = { { (void *)f, len / 3 }, { (void *)(f + len / 3), len - len / 3 } };

	return ops->start_xmit(&D, vh, iov, 2, len);
}

static void drain(void)
{
	nic_tx(0);
	ops->poll(&D, 64);
}

static void test_attach(uint8_t *pages)
{
	int fds[3];
	uint32_t prod;

	nic_setup(1);
	fds[0] = N.memfd; fds[1] = N.db; fds[2] = N.wake;
	fds[0] = dup(N.memfd);
	T_EQ(pvnic_front_test_attach(&D, pages, N.ids, 1500, fds), -EPROTO, "attach: bad VI magic refused");
	T_CHECK(fcntl(fds[1], F_GETFD) < 0, "attach: refused descriptors closed", "doorbell open");
	nic_teardown();

	nic_setup(0);
	fds[0] = N.memfd; fds[1] = N.db; fds[2] = N.wake;
	T_EQ(pvnic_front_test_attach(&D, pages, N.ids, 1500, fds), 0, "attach: good VI mapped");
	prod = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);
	T_EQ(prod, NRX, "attach: the RX buffers posted as RX");
	T_CHECK(N.rxq[0].len == PV_NIC_BUF_SIZE && N.rxq[0].offset == 0 &&
		N.rxq[0].buf_id == N.ids[0] && N.rxq[NRX - 1].buf_id == N.ids[NRX - 1],
		"attach: RX descriptors offer whole buffers of the RX part", "desc %u/%u/%u",
		N.rxq[0].buf_id, N.rxq[0].offset, N.rxq[0].len);
}

static void test_policy(void)
{
	uint32_t len, prod0;
	struct pv_accel_stats st = { 0 };

	len = eth_frame(F, BCAST, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "policy: broadcast NOT_SENT");
	F[0] = 0x01;
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "policy: multicast NOT_SENT");
	len = eth_frame(F, PEER, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "policy: unknown unicast NOT_SENT");

	/* A frame from PEER on the fast path: delivered, learned, reposted. */
	prod0 = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);
	len = eth_frame(F, MY_MAC, PEER, 100);
	T_EQ(nic_rx(F, len, 0), 0, "rx: NIC took an RX descriptor");
	T_EQ(ops->poll(&D, 64), 1, "rx: poll handled one frame");
	T_CHECK(D.delivered == 1 && D.last_rx_len == 100 && !memcmp(D.last_rx, F, 100) &&
		D.last_rx_valid, "rx: delivered intact, checksum-valid flag", "delivered %u len %u",
		D.delivered, D.last_rx_len);
	T_EQ(__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE), prod0 + 1, "rx: buffer reposted");
	nic_rx_flags = 0;
	nic_rx(F, len, 0);
	ops->poll(&D, 64);
	nic_rx_flags = PV_NIC_RX_F_CSUM_OK;
	T_CHECK(D.delivered == 2 && !D.last_rx_valid && !D.rx_vh_null,
		"rx: without CSUM_OK a header all the same, not DATA_VALID", "valid %d null %d",
		D.last_rx_valid, D.rx_vh_null);

	len = eth_frame(F, PEER, MY_MAC, 60);
	D.kicks = 0;
	efd_read(N.db);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "policy: unicast to a learned MAC SENT");
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "policy: second frame of the burst SENT");
	T_EQ(D.kicks, 1, "tx: one kick for the burst");
	T_EQ(efd_read(N.db), 0, "tx: no doorbell before poll");
	ops->poll(&D, 64);
	T_EQ(efd_read(N.db), 1, "tx: one doorbell for the burst, from poll");
	T_EQ(nic_tx(0), 2, "tx: two descriptors posted");
	T_CHECK(N.txlen[0] == 60 && !memcmp(N.txf[0], F, 60), "tx: frame copied intact", "len %u",
		N.txlen[0]);
	len = eth_frame(F, OTHER, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "policy: another unknown unicast NOT_SENT");
	len = eth_frame(F, PEER, OTHER, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "policy: foreign source MAC NOT_SENT");
	len = eth_frame(F, PEER, MY_MAC, 1600);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "policy: frame over the MTU NOT_SENT");
	ops->poll(&D, 64);
	ops->get_stats(&D, &st);
	T_CHECK(st.tx_packets == 2 && st.tx_bytes == 120 && st.rx_packets == 2 && st.rx_bytes == 200,
		"stats: deltas after TX_DONE and RX", "tx %llu/%llu rx %llu/%llu",
		(unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes,
		(unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes);
	memset(&st, 0, sizeof(st));
	ops->get_stats(&D, &st);
	T_CHECK(!st.tx_packets && !st.rx_packets, "stats: deltas reset", "not reset");
}

static void test_csum(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				     .csum_offset = 16 };
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 500);

	N.ntx = 0;
	T_CHECK(!tcp_csums_ok(F, len), "csum: the test frame starts partial", "already complete");
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "csum: partial-checksum frame SENT");
	ops->poll(&D, 64);
	T_EQ(nic_tx(0), 1, "csum: one descriptor");
	T_CHECK(N.txlen[0] == len && tcp_csums_ok(N.txf[0], N.txlen[0]),
		"csum: checksum completed in the TX buffer", "len %u", N.txlen[0]);
	ops->poll(&D, 64);
}

static void test_gso(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				     .gso_size = 9000, .csum_start = 34, .csum_offset = 16 };
	uint32_t pay = 6 * 1460, len = tcp_frame(F, PEER, MY_MAC, pay), got = 0, seq = 0x01000000;
	uint8_t data[6 * 1460];
	int ok = 1;

	/* gso_size larger than the port's MTU (1500) allows: cut at 1460 bytes of payload. */
	struct pv_accel_stats st0 = { 0 };

	ops->get_stats(&D, &st0);	/* start the deltas here */
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "gso: 8760-byte TCPv4 GSO frame SENT");
	ops->poll(&D, 64);
	T_EQ(nic_tx(0), 6, "gso: cut into 6 segments at MTU 1500 (gso_size 9000)");
	{
		struct pv_accel_stats st = { 0 };

		ops->poll(&D, 64);
		ops->get_stats(&D, &st);
		/* Counted as netfront's slow path counts it: one frame of the guest's, its bytes. */
		T_CHECK(st.tx_packets == 1 && st.tx_bytes == len && !st.tx_dropped,
			"gso: the 6 segments counted as one frame sent, none dropped",
			"tx %llu bytes %llu dropped %llu", (unsigned long long)st.tx_packets,
			(unsigned long long)st.tx_bytes, (unsigned long long)st.tx_dropped);
	}
	for (unsigned int i = 0; i < N.ntx; i++) {
		const uint8_t *s = N.txf[i], *tcp = s + 34;
		uint32_t pl = N.txlen[i] - 54, sq = (uint32_t)tcp[4] << 24 | tcp[5] << 16 |
						     tcp[6] << 8 | tcp[7];

		if (N.txlen[i] > 1514 || !tcp_csums_ok(s, N.txlen[i]) || sq != seq ||
		    memcmp(s, F, 12) || got + pl > pay) {
			ok = 0;
			break;
		}
		memcpy(data + got, s + 54, pl);
		got += pl;
		seq += pl;
	}
	T_CHECK(ok && got == pay && !memcmp(data, F + 54, pay),
		"gso: segments MTU-sized, checksums valid, sequence and payload intact",
		"ok %d got %u", ok, got);
	ops->poll(&D, 64);

	/* Too many segments for all the TX buffers together: slow path, never BUSY. */
	len = tcp_frame(F, PEER, MY_MAC, 60000);
	vh.gso_size = 60000 / (NTX + 8);	/* NTX + 8 segments: more than the TX buffers */
	T_EQ(xmit(&vh, F, len), PV_ACCEL_NOT_SENT, "gso: more segments than TX buffers NOT_SENT");
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	len = tcp_frame(F, PEER, MY_MAC, 3000);
	T_EQ(xmit(&vh, F, len), PV_ACCEL_NOT_SENT, "gso: UDP GSO NOT_SENT");
}

static void test_busy(void)
{
	uint32_t len = eth_frame(F, PEER, MY_MAC, 200);
	enum pv_accel_xmit r = PV_ACCEL_SENT;
	int sent = 0;
	struct pv_accel_stats st = { 0 };

	ops->get_stats(&D, &st);
	memset(&st, 0, sizeof(st));
	N.ntx = 0;
	while (sent < NTX + 10 && (r = xmit(NULL, F, len)) == PV_ACCEL_SENT)
		sent++;
	T_EQ(sent, NTX, "busy: every TX buffer used");
	T_EQ(r, PV_ACCEL_BUSY, "busy: BUSY when out of TX buffers");
	T_EQ(ops->check_ready(&D), 0, "busy: check_ready says wait");
	len = eth_frame(F, BCAST, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "busy: NOT_SENT still decided first");
	ops->poll(&D, 64);	/* rings for the burst, nothing completed yet */
	T_EQ(ops->check_ready(&D), 0, "busy: still held without TX_DONE");
	T_EQ(nic_tx(0), NTX, "busy: NIC sends the burst");
	ops->poll(&D, 64);
	T_EQ(ops->check_ready(&D), 1, "busy: check_ready after TX_DONE");
	T_EQ(nic_tx(0), 1, "busy: held frame sent once buffers freed");
	ops->poll(&D, 64);
	ops->get_stats(&D, &st);
	T_EQ(st.tx_packets, NTX + 1, "busy: all frames counted sent");
}

static void test_errors(void)
{
	uint32_t len = eth_frame(F, PEER, MY_MAC, 80), prod0;
	struct pv_accel_stats st = { 0 };

	ops->get_stats(&D, &st);
	memset(&st, 0, sizeof(st));
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "errors: frame SENT");
	ops->poll(&D, 64);
	nic_tx(PV_NIC_ERR_TX_SPOOF);
	prod0 = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);
	nic_rx(F, len, PV_NIC_ERR_RX_TOO_BIG);
	ops->poll(&D, 64);
	ops->get_stats(&D, &st);
	T_CHECK(st.tx_errors == 1 && st.rx_errors == 1 && st.tx_packets == 0,
		"errors: ERROR events counted", "tx_err %llu rx_err %llu",
		(unsigned long long)st.tx_errors, (unsigned long long)st.rx_errors);
	T_CHECK(pvnic_front_test_nic_errors(&D, PV_NIC_ERR_TX_SPOOF) == 1 &&
		pvnic_front_test_nic_errors(&D, PV_NIC_ERR_RX_TOO_BIG) == 1,
		"errors: counted by code", "codes not counted");
	T_EQ(__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE), prod0 + 1,
	     "errors: RX buffer of an ERROR reposted");
	/* The TX buffer of the refused frame is free again: a full burst fits. */
	for (int i = 0; i < NTX; i++)
		T_ASSERT(xmit(NULL, F, len) == PV_ACCEL_SENT, "frame %d", i);
	drain();
	/* A bogus event (a buffer not ours) is ignored. */
	nic_event(PV_NIC_EV_TX_DONE, 0, 0, 999999, 60, 0, 0);
	T_EQ(ops->poll(&D, 64), 0, "errors: bogus TX_DONE ignored");
	T_EQ(ops->check_ready(&D), 1, "errors: nothing held");
}

/* ---- TX offloads: chains, TSO, CSUM ---- */

#define ALL_FEATURES (PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM | PV_NIC_FEAT_TSO)

static uint8_t R[70000];

/* Descriptors [from, from + n) of N.txf concatenated into R; their bytes. */
static uint32_t reassemble(unsigned int from, unsigned int n)
{
	uint32_t got = 0;

	for (unsigned int i = from; i < from + n && i < N.ntx; i++) {
		memcpy(R + got, N.txf[i], N.txlen[i]);
		got += N.txlen[i];
	}
	return got;
}

/* Are descriptors [from, from + n) one TSO chain with @mss, full buffers but the last? */
static int chain_ok(unsigned int from, unsigned int n, uint16_t mss)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t want = (i ? 0 : PV_NIC_TX_F_TSO) | (i + 1 < n ? PV_NIC_TX_F_MORE : 0);

		if (from + i >= N.ntx || N.txflags[from + i] != want ||
		    N.txmss[from + i] != (i ? 0 : mss) ||
		    (i + 1 < n && N.txlen[from + i] != PV_NIC_BUF_SIZE))
			return 0;
	}
	return 1;
}

static void stats_reset(void)
{
	struct pv_accel_stats st = { 0 };

	ops->get_stats(&D, &st);
}

static struct pv_accel_stats stats(void)
{
	struct pv_accel_stats st = { 0 };

	ops->get_stats(&D, &st);
	return st;
}

static void test_offload_gate(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				     .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 3000);
	unsigned int n, ok = 1;

	/* TSO without chains is no TSO: a 3 KiB frame cannot be one descriptor. */
	pvnic_front_test_set_features(&D, PV_NIC_FEAT_TSO | PV_NIC_FEAT_TX_CSUM);
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "features: TSO without TX_CHAIN: GSO frame SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	for (unsigned int i = 0; i < n; i++)
		ok &= N.txflags[i] == 0 && tcp_csums_ok(N.txf[i], N.txlen[i]);
	T_CHECK(n == 3 && ok, "features: ... cut in software, checksums computed, no flags",
		"n %u ok %u", n, ok);
	ops->poll(&D, 64);

	/* No TX_CSUM: a partial checksum is completed here. */
	pvnic_front_test_set_features(&D, PV_NIC_FEAT_TSO | PV_NIC_FEAT_TX_CHAIN);
	vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	len = tcp_frame(F, PEER, MY_MAC, 400);
	N.ntx = 0;
	xmit(&vh, F, len);
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txflags[0] == 0 && tcp_csums_ok(N.txf[0], N.txlen[0]),
		"features: without TX_CSUM the checksum is completed in software", "n %u flags %#x",
		n, N.txflags[0]);
	ops->poll(&D, 64);
}

static void test_tso_v4(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				     .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 65535 - 54);
	struct pv_accel_stats st;
	unsigned int n;

	pvnic_front_test_set_features(&D, ALL_FEATURES);
	stats_reset();
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "tso: a 65535-byte TCPv4 GSO frame SENT");
	T_EQ(pvnic_front_test_tx_free(&D), NTX - 32, "tso: 32 TX buffers in flight");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_EQ(n, 32, "tso: one chain of ceil(65535 / 2048) = 32 descriptors");
	T_CHECK(chain_ok(0, n, 1448),
		"tso: TSO and mss 1448 on the first, MORE on all but the last, 2 KiB buffers",
		"flags %#x/%#x/%#x mss %u", N.txflags[0], N.txflags[1], N.txflags[n - 1],
		N.txmss[0]);
	T_CHECK(reassemble(0, n) == len && !memcmp(R, F, len),
		"tso: the chain's bytes are the frame as it came (the NIC does the rest)",
		"got %u of %u", reassemble(0, n), len);
	ops->poll(&D, 64);
	st = stats();
	T_CHECK(st.tx_packets == 1 && st.tx_bytes == len && !st.tx_errors && !st.tx_dropped,
		"tso: counted once, as one frame, when the chain's events came",
		"tx %llu bytes %llu err %llu", (unsigned long long)st.tx_packets,
		(unsigned long long)st.tx_bytes, (unsigned long long)st.tx_errors);
	T_EQ(pvnic_front_test_tx_free(&D), NTX, "tso: every buffer of the chain free again");

	/* gso_size above what the port's MTU takes: mss = 1500 - 20 - 20. */
	vh.gso_size = 9000;
	len = tcp_frame(F, PEER, MY_MAC, 5000);
	N.ntx = 0;
	xmit(&vh, F, len);
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 3 && chain_ok(0, 3, 1460) && N.txlen[2] == len - 2 * PV_NIC_BUF_SIZE,
		"tso: mss clamped to MTU - headers (1460); 5054 bytes in 3 buffers",
		"n %u mss %u", n, N.txmss[0]);
	ops->poll(&D, 64);

	/* An mss below PV_NIC_TSO_MSS_MIN (64): the NIC refuses it; cut here. */
	vh.gso_size = 40;
	len = tcp_frame(F, PEER, MY_MAC, 3000);
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "tso: gso_size 40 SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 75 && N.txflags[0] == 0 && N.txlen[0] == 54 + 40,
		"tso: ... an mss below 64 is cut in software (75 segments), no TSO", "n %u flags %#x",
		n, N.txflags[0]);
	ops->poll(&D, 64);
}

static void test_tso_v6(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .hdr_len = 74,
				     .gso_size = 1448, .csum_start = 54, .csum_offset = 16 };
	uint32_t len = tcp6_frame(F, PEER, MY_MAC, 65535 - 74);
	unsigned int n, ok = 1;

	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "tso6: a 65535-byte TCPv6 GSO frame SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 32 && chain_ok(0, n, 1440) && reassemble(0, n) == len && !memcmp(R, F, len),
		"tso6: one chain of 32, mss clamped to 1500 - 40 - 20, bytes intact",
		"n %u mss %u", n, N.txmss[0]);
	ops->poll(&D, 64);

	/* A hop-by-hop header: the NIC's TSO refuses extension headers; cut here. */
	len = tcp6_frame(F, PEER, MY_MAC, 3000);
	memmove(F + 62, F + 54, len - 54);
	memset(F + 54, 0, 8);
	F[54] = 6;			/* next: TCP */
	F[56] = 1;			/* PadN, 4 bytes */
	F[57] = 4;
	F[20] = 0;			/* IPv6 next: hop-by-hop */
	F[19] = (uint8_t)(F[19] + 8);	/* payload length (no carry: 3020 + 8) */
	len += 8;
	vh.csum_start = 62;
	vh.hdr_len = 82;
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "tso6: with an extension header SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	for (unsigned int i = 0; i < n; i++)
		ok &= N.txflags[i] == 0 && N.txlen[i] <= 1514;
	T_CHECK(n == 3 && ok, "tso6: ... cut in software, no TSO chain", "n %u flags %#x", n,
		N.txflags[0]);
	ops->poll(&D, 64);
}

static void test_csum_offload(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				     .csum_offset = 16 };
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 500);
	unsigned int n;

	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "csum offload: TCP partial checksum SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txflags[0] == PV_NIC_TX_F_CSUM && !N.txmss[0] && N.txlen[0] == len &&
		!memcmp(N.txf[0], F, len),
		"csum offload: one descriptor with CSUM, the checksum field left for the NIC",
		"n %u flags %#x", n, N.txflags[0]);
	ops->poll(&D, 64);

	len = udp_frame(F, PEER, MY_MAC, 300);
	vh.csum_offset = 6;
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "csum offload: UDP partial checksum SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txflags[0] == PV_NIC_TX_F_CSUM && !memcmp(N.txf[0], F, len),
		"csum offload: UDP -> CSUM too", "n %u flags %#x", n, N.txflags[0]);
	ops->poll(&D, 64);

	/* Not TCP or UDP (IP protocol 47): the NIC would refuse CSUM; completed here. */
	len = tcp_frame(F, PEER, MY_MAC, 500);
	F[14 + 9] = 47;
	vh.csum_offset = 16;
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len), PV_ACCEL_SENT, "csum offload: protocol 47 with NEEDS_CSUM SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txflags[0] == 0 && memcmp(N.txf[0] + 50, F + 50, 2) &&
		!memcmp(N.txf[0], F, 50) && !memcmp(N.txf[0] + 52, F + 52, len - 52),
		"csum offload: ... no CSUM flag, the checksum completed in software",
		"n %u flags %#x", n, N.txflags[0]);
	ops->poll(&D, 64);

	/* The kernel's checksum is not where the NIC's rule puts it: software. */
	len = tcp_frame(F, PEER, MY_MAC, 500);
	vh.csum_start = 30;
	vh.csum_offset = 20;
	N.ntx = 0;
	xmit(&vh, F, len);
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txflags[0] == 0, "csum offload: csum_start not the L4 header: software",
		"flags %#x", N.txflags[0]);
	ops->poll(&D, 64);

	/* Bytes after the IP datagram: the NIC would sum them as payload; software. */
	len = tcp_frame(F, PEER, MY_MAC, 500);
	memset(F + len, 0xee, 6);
	vh.csum_start = 34;
	vh.csum_offset = 16;
	N.ntx = 0;
	T_EQ(xmit(&vh, F, len + 6), PV_ACCEL_SENT, "csum offload: trailing bytes SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txflags[0] == 0 && N.txlen[0] == len + 6,
		"csum offload: ... no CSUM flag with bytes after the IP datagram", "flags %#x",
		N.txflags[0]);
	ops->poll(&D, 64);
}

static void test_tso_busy(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				     .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 65535 - 54);
	unsigned int sent = 0, n;
	struct pv_accel_stats st;

	stats_reset();
	while (sent < NTX / 32 && xmit(&vh, F, len) == PV_ACCEL_SENT)
		sent++;
	T_EQ(sent, NTX / 32, "tso busy: 12 chains of 32 fill the 384 TX buffers");
	T_EQ(pvnic_front_test_tx_free(&D), NTX % 32, "tso busy: no buffer left");
	F[100] = 0xcd;		/* marks the held frame */
	T_EQ(xmit(&vh, F, len), PV_ACCEL_BUSY, "tso busy: the 13th held: BUSY");
	T_EQ(ops->check_ready(&D), 0, "tso busy: check_ready says wait");
	ops->poll(&D, 64);
	N.ntx = 0;
	nic_tx_some(16, 0, 0);
	ops->poll(&D, 64);
	T_CHECK(ops->check_ready(&D) == 0 && pvnic_front_test_tx_free(&D) == NTX % 32 + 16,
		"tso busy: 16 buffers free are not 32: still held, nothing of it posted",
		"ready %d free %u", ops->check_ready(&D), pvnic_front_test_tx_free(&D));
	nic_tx_some(16, 0, 0);
	ops->poll(&D, 64);
	T_CHECK(ops->check_ready(&D) == 1 && pvnic_front_test_tx_free(&D) == NTX % 32,
		"tso busy: 32 free: the held frame posted whole", "ready %d free %u",
		ops->check_ready(&D), pvnic_front_test_tx_free(&D));
	n = nic_tx(0);
	T_CHECK(n == NTX && chain_ok(N.ntx - 32, 32, 1448) && reassemble(N.ntx - 32, 32) == len &&
		!memcmp(R, F, len), "tso busy: the held frame went as one chain, bytes intact",
		"n %u", n);
	ops->poll(&D, 64);
	st = stats();
	T_CHECK(st.tx_packets == NTX / 32 + 1 && !st.tx_dropped,
		"tso busy: every frame counted sent once", "tx %llu dropped %llu",
		(unsigned long long)st.tx_packets, (unsigned long long)st.tx_dropped);
}

static void test_chain_errors(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				     .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 65535 - 54);
	uint64_t res0 = pvnic_front_test_nic_errors(&D, PV_NIC_ERR_RESERVED),
		 chain0 = pvnic_front_test_nic_errors(&D, PV_NIC_ERR_TX_CHAIN),
		 off0 = pvnic_front_test_nic_errors(&D, PV_NIC_ERR_TX_OFFLOAD);
	struct pv_accel_stats st;

	stats_reset();
	/* One descriptor refused on its own (today's NIC: flags RESERVED), the rest CHAIN. */
	xmit(&vh, F, len);
	ops->poll(&D, 64);
	T_EQ(nic_tx_some(~0u, PV_NIC_ERR_RESERVED, PV_NIC_ERR_TX_CHAIN), 32,
	     "chain errors: the NIC refuses a chain of 32");
	ops->poll(&D, 64);
	st = stats();
	T_CHECK(st.tx_errors == 1 && !st.tx_packets && pvnic_front_test_tx_free(&D) == NTX,
		"chain errors: one tx_error for the frame, all its buffers free",
		"err %llu tx %llu free %u", (unsigned long long)st.tx_errors,
		(unsigned long long)st.tx_packets, pvnic_front_test_tx_free(&D));
	T_CHECK(pvnic_front_test_nic_errors(&D, PV_NIC_ERR_RESERVED) == res0 + 1 &&
		pvnic_front_test_nic_errors(&D, PV_NIC_ERR_TX_CHAIN) == chain0 + 31,
		"chain errors: codes counted per event (1 RESERVED, 31 TX_CHAIN)", "not counted");

	/* The frame refused as a whole: its reason on every descriptor. */
	xmit(&vh, F, len);
	ops->poll(&D, 64);
	nic_tx(PV_NIC_ERR_TX_OFFLOAD);
	ops->poll(&D, 64);
	st = stats();
	T_CHECK(st.tx_errors == 1 && pvnic_front_test_tx_free(&D) == NTX &&
		pvnic_front_test_nic_errors(&D, PV_NIC_ERR_TX_OFFLOAD) == off0 + 32,
		"chain errors: a whole frame refused: one tx_error, 32 events counted",
		"err %llu free %u", (unsigned long long)st.tx_errors, pvnic_front_test_tx_free(&D));
}

static void test_hostile_events(void)
{
	uint32_t len = eth_frame(F, PEER, MY_MAC, 90), rxp0, last_id;
	uint64_t b0 = pvnic_front_test_bogus(&D);
	unsigned int free0, deliv0 = D.delivered;
	struct pv_accel_stats st;

	stats_reset();
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "hostile: one frame in flight");
	free0 = pvnic_front_test_tx_free(&D);
	rxp0 = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);
	nic_event(PV_NIC_EV_TX_DONE, 0, 0, 999999, 60, 0, 0);		/* not ours */
	nic_event(PV_NIC_EV_ERROR, PV_NIC_ERR_TX_SPOOF, 0, 0xffffffffu, 0, 0, 0);
	nic_event(PV_NIC_EV_ERROR, PV_NIC_ERR_RX_TOO_BIG, 1, 12345678, 0, 0, 0);
	nic_event(PV_NIC_EV_RX, 0, 1, 0xfffffffeu, 100, 0, 0);
	nic_event(PV_NIC_EV_TX_DONE, 0, 0, N.ids[0], 60, 0, 0);		/* an RX buffer */
	nic_event(PV_NIC_EV_RX, 0, 1, N.ids[NBUF - 1], 60, 0, 0);		/* a TX buffer */
	nic_event(PV_NIC_EV_ERROR, PV_NIC_ERR_RX_TOO_BIG, 1, N.ids[NBUF - 1], 0, 0, 0);
	nic_event(77, 0, 0, N.ids[0], 0, 0, 0);				/* no such type */
	nic_event(PV_NIC_EV_ERROR, 200, 5, N.ids[0], 0, 0, 0);		/* no such queue */
	T_EQ(ops->poll(&D, 64), 0, "hostile: no frame handled");
	st = stats();
	T_CHECK(pvnic_front_test_bogus(&D) == b0 + 9 && pvnic_front_test_tx_free(&D) == free0 &&
		__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE) == rxp0 &&
		D.delivered == deliv0 && !st.tx_packets && !st.tx_errors && !st.rx_errors &&
		!st.rx_packets,
		"hostile: 9 events naming foreign ids, ids beyond range, buffers in the wrong state, "
		"unknown types: counted bogus, nothing changed",
		"bogus %llu free %u/%u", (unsigned long long)(pvnic_front_test_bogus(&D) - b0),
		pvnic_front_test_tx_free(&D), free0);
	drain();
	T_EQ(pvnic_front_test_tx_free(&D), NTX, "hostile: the real TX_DONE freed the buffer");
	stats_reset();
	/* The same TX_DONE again: the buffer is free, not in flight. */
	last_id = N.txq[(N.tx_cons - 1) & (PV_NIC_TXQ_SIZE - 1)].buf_id;
	nic_event(PV_NIC_EV_TX_DONE, 0, 0, last_id, 90, N.tx_cons - 1, 0);
	ops->poll(&D, 64);
	T_CHECK(pvnic_front_test_tx_free(&D) == NTX && pvnic_front_test_bogus(&D) == b0 + 10 &&
		stats().tx_packets == 0, "hostile: a repeated TX_DONE is bogus: freed once only",
		"free %u", pvnic_front_test_tx_free(&D));
}

static void test_local_macs(void)
{
	uint32_t len;
	uint64_t bad0 = 0, bad;
	unsigned int n;
	static char big[300 * 18 + 1];

	/* PEER is learned (test_policy): fast path to it. */
	len = eth_frame(F, PEER, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "local macs: unicast to learned PEER SENT");
	drain();
	pvnic_front_test_local_macs(&D, NULL, &bad0);

	n = pvnic_front_test_local_macs(&D, "00:16:3e:00:00:02 00:16:3e:00:00:09", &bad);
	T_CHECK(n == 2 && bad == bad0, "local macs: two MACs read", "n %u bad %llu", n,
		(unsigned long long)(bad - bad0));
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT,
	     "local macs: PEER became a local vif: forgotten, NOT_SENT");
	len = eth_frame(F, MY_MAC, PEER, 100);
	nic_rx(F, len, 0);
	T_EQ(ops->poll(&D, 64), 1, "local macs: a frame from PEER on the fast path delivered");
	len = eth_frame(F, PEER, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "local macs: ... but PEER not learned from it");

	/* Malformed entries: each ignored and counted; the good one kept. */
	n = pvnic_front_test_local_macs(&D, "zz:16:3e:00:00:02 00:16:3e:00:00:0 01:00:5e:00:00:01 "
					"00:16:3e:00:00:04:55 garbage 00-16-3e-00-00-05 "
					"00:00:00:00:00:00  \t00:16:3E:00:00:0A\n00:16:3e:00:00:0a",
					&bad);
	T_CHECK(n == 1 && bad - bad0 == 7,
		"local macs: 7 malformed (bad hex, short, multicast, long, words, dashes, zero) "
		"ignored, upper and lower case the same MAC", "n %u bad %llu", n,
		(unsigned long long)(bad - bad0));
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "local macs: PEER off the list, still not learned");
	n = pvnic_front_test_local_macs(&D, "", &bad);
	T_EQ(n, 0, "local macs: empty value, empty list");

	/* More than fit: the table's size kept, the rest counted. */
	for (unsigned int i = 0; i < 300; i++)
		snprintf(big + i * 18, sizeof(big) - i * 18, "02:00:00:00:%02x:%02x ", i >> 8, i & 0xff);
	bad0 = bad;
	n = pvnic_front_test_local_macs(&D, big, &bad);
	T_CHECK(n == 256 && bad - bad0 == 44, "local macs: 300 MACs: 256 kept, 44 counted",
		"n %u bad %llu", n, (unsigned long long)(bad - bad0));

	/* Key gone: PEER learned again from its next fast-path frame. */
	T_EQ(pvnic_front_test_local_macs(&D, NULL, &bad), 0, "local macs: key absent, empty list");
	len = eth_frame(F, MY_MAC, PEER, 100);
	nic_rx(F, len, 0);
	ops->poll(&D, 64);
	len = eth_frame(F, PEER, MY_MAC, 60);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "local macs: PEER learned again, SENT");
	drain();
}

static void test_irq(struct pv_loop *loop)
{
	uint32_t len = eth_frame(F, MY_MAC, PEER, 64);

	ops->stop_irq(&D);
	T_EQ(__atomic_load_n(&N.sh->evq_cons.armed, __ATOMIC_ACQUIRE), 0, "irq: stop_irq disarms");
	T_EQ(ops->start_irq(&D), 0, "irq: start_irq, nothing pending");
	T_EQ(__atomic_load_n(&N.sh->evq_cons.armed, __ATOMIC_ACQUIRE), 1, "irq: start_irq arms");
	nic_rx(F, len, 0);
	T_EQ(ops->start_irq(&D), 1, "irq: start_irq reports pending events");
	D.kicks = 0;
	{
		uint64_t one = 1;

		T_ASSERT(write(N.wake, &one, sizeof(one)) == sizeof(one), "wake");
	}
	pv_loop_once(loop, 100);
	T_EQ(D.kicks, 1, "irq: wake-up eventfd kicks netfront");
	ops->poll(&D, 64);
}

/* RX chains (nic.h): frames over several buffers, GSO frames whole, lies refused. */
static void test_rx_chains(void)
{
	struct pv_accel_stats st = { 0 };
	uint32_t len, prod0;
	unsigned int d0;
	uint64_t bogus0;
	int n;

	ops->poll(&D, 256);
	ops->get_stats(&D, &st);
	pvnic_front_test_set_features(&D, PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM |
					      PV_NIC_FEAT_TSO | PV_NIC_FEAT_RX_CHAIN);
	prod0 = __atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE);

	/* a 1400-byte frame, one descriptor, no RX_META: as without chains */
	d0 = D.delivered;
	len = eth_frame(F, MY_MAC, PEER, 1400);
	T_ASSERT(nic_rx_chain(F, len, PV_NIC_GSO_NONE, 0, PV_NIC_RX_F_CSUM_OK, 1, 0) == 1, "rx");
	ops->poll(&D, 64);
	T_CHECK(D.delivered == d0 + 1 && D.last_rx_len == 1400 && D.last_iovcnt == 1 &&
		D.last_rx_valid, "rx chains: a one-buffer frame without RX_META delivered",
		"delivered %u len %u iov %d", D.delivered - d0, D.last_rx_len, D.last_iovcnt);

	/* a 64 KiB TCPv4 GSO frame: one delivery of 33 pieces, its GSO and checksum state */
	len = tcp_frame(F, MY_MAC, PEER, 65535 - 40);
	d0 = D.delivered;
	n = nic_rx_chain(F, len, PV_NIC_GSO_TCPV4, 1448, PV_NIC_RX_F_CSUM_PARTIAL, 0, 0);
	T_ASSERT(n == 33, "a 64 KiB frame takes 33 buffers");
	ops->poll(&D, 64);
	T_CHECK(D.delivered == d0 + 1 && D.last_rx_len == len && D.last_iovcnt == 33 &&
		!memcmp(D.last_rx, F, len),
		"rx chains: a 64 KiB GSO frame goes up whole, bytes intact", "delivered %u len %u iov %d",
		D.delivered - d0, D.last_rx_len, D.last_iovcnt);
	T_CHECK(D.last_vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && D.last_vh.gso_size == 1448 &&
		(D.last_vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && D.last_vh.csum_start == 34 &&
		D.last_vh.csum_offset == 16 && D.last_vh.hdr_len == 54,
		"rx chains: virtio header from RX_META (TCPV4, mss, NEEDS_CSUM 34/16, hdr_len 54)",
		"type %u size %u flags %u cs %u co %u hl %u", D.last_vh.gso_type, D.last_vh.gso_size,
		D.last_vh.flags, D.last_vh.csum_start, D.last_vh.csum_offset, D.last_vh.hdr_len);
	T_EQ(__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE) - N.rx_cons, NRX,
	     "rx chains: every buffer of the chain posted again");

	/* IPv6 with ECN */
	len = tcp6_frame(F, MY_MAC, PEER, 20000);
	d0 = D.delivered;
	nic_rx_chain(F, len, PV_NIC_GSO_TCPV6 | PV_NIC_GSO_ECN, 1428, PV_NIC_RX_F_CSUM_PARTIAL, 0, 0);
	ops->poll(&D, 64);
	T_CHECK(D.delivered == d0 + 1 && D.last_rx_len == len &&
		D.last_vh.gso_type == (VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN),
		"rx chains: TCPv6 GSO frame with ECN", "delivered %u type %u",
		D.delivered - d0, D.last_vh.gso_type);

	/* a 3000-byte frame without GSO on a vif of MTU 1500: dropped and counted */
	memset(&st, 0, sizeof(st));
	ops->get_stats(&D, &st);
	memset(&st, 0, sizeof(st));
	len = eth_frame(F, MY_MAC, PEER, 3000);
	d0 = D.delivered;
	nic_rx_chain(F, len, PV_NIC_GSO_NONE, 0, PV_NIC_RX_F_CSUM_OK, 0, 0);
	ops->poll(&D, 64);
	ops->get_stats(&D, &st);
	T_CHECK(D.delivered == d0 && st.rx_dropped == 1 &&
		__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE) - N.rx_cons == NRX,
		"rx chains: a frame above the vif's MTU dropped, counted, buffers back",
		"delivered %u dropped %llu", D.delivered - d0, (unsigned long long)st.rx_dropped);

	/* lies: each dropped (an RX error), buffers back, the next frame fine */
	struct {
		const char *what;
		int no_meta, lie_more;
		uint8_t gso;
		uint16_t flags;
	} lie[] = {
		{ "RX events with MORE and no RX_META", 1, 0, PV_NIC_GSO_NONE, 0 },
		{ "a last event claiming MORE (the next frame's RX_META ends it)", 0, 1,
		  PV_NIC_GSO_NONE, 0 },
		{ "a GSO frame without a partial checksum", 0, 0, PV_NIC_GSO_TCPV4, 0 },
		{ "a UDP GSO type", 0, 0, 5, PV_NIC_RX_F_CSUM_PARTIAL },
	};
	for (unsigned int i = 0; i < sizeof(lie) / sizeof(lie[0]); i++) {
		memset(&st, 0, sizeof(st));
		bogus0 = pvnic_front_test_bogus(&D);
		len = tcp_frame(F, MY_MAC, PEER, 5000);
		d0 = D.delivered;
		nic_rx_chain(F, len, lie[i].gso, lie[i].gso ? 1448 : 0, lie[i].flags, lie[i].no_meta,
			     lie[i].lie_more);
		len = eth_frame(F, MY_MAC, PEER, 1000);	/* a good frame after it */
		nic_rx_chain(F, len, PV_NIC_GSO_NONE, 0, PV_NIC_RX_F_CSUM_OK, 0, 0);
		ops->poll(&D, 64);
		ops->get_stats(&D, &st);
		T_CHECK(D.delivered == d0 + 1 && D.last_rx_len == 1000 &&
			(st.rx_errors >= 1 || pvnic_front_test_bogus(&D) > bogus0) &&
			__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE) - N.rx_cons == NRX,
			lie[i].what, "delivered %u len %u errors %llu bogus %llu posted %u",
			D.delivered - d0, D.last_rx_len, (unsigned long long)st.rx_errors,
			(unsigned long long)(pvnic_front_test_bogus(&D) - bogus0),
			__atomic_load_n(&N.sh->rx_prod.v, __ATOMIC_ACQUIRE) - N.rx_cons);
	}

	/* RX_META saying 41 descriptors, or a length past its descriptors: not believed */
	bogus0 = pvnic_front_test_bogus(&D);
	nic_rx_meta(5000, PV_NIC_RX_MAX_FRAGS + 1, 0, 0, 0, 0, 0);
	nic_rx_meta(5000, 2, 0, 0, 0, 0, 0);
	nic_rx_meta(5000, 3, 0, 0, PV_NIC_RX_F_CSUM_PARTIAL, 4990, 16);
	ops->poll(&D, 64);
	T_EQ(pvnic_front_test_bogus(&D), bogus0 + 3, "rx chains: impossible RX_META events ignored, counted");
	len = eth_frame(F, MY_MAC, PEER, 4000);
	d0 = D.delivered;
	nic_rx_chain(F, len, PV_NIC_GSO_NONE, 0, 0, 0, 0);
	ops->poll(&D, 64);
	T_CHECK(D.delivered == d0 + 0 && pvnic_front_test_bogus(&D) == bogus0 + 3,
		"rx chains: a 4000-byte frame on MTU 1500 still dropped after lies", "delivered %u",
		D.delivered - d0);
	len = eth_frame(F, MY_MAC, PEER, 1514);
	nic_rx_chain(F, len, PV_NIC_GSO_NONE, 0, 0, 0, 0);
	ops->poll(&D, 64);
	T_CHECK(D.delivered == d0 + 1, "rx chains: and a good frame after them goes up",
		"delivered %u", D.delivered - d0);
	(void)prod0;
	pvnic_front_test_set_features(&D, PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM |
					      PV_NIC_FEAT_TSO);
}

/*
 * accel-src-addrs: only frames whose sources the NIC allows go fast; the
 * rest (a new address) go slow, where netback learns or refuses them.
 */
static void test_src_addrs(void)
{
	uint32_t len = tcp_frame(F, PEER, MY_MAC, 100);	/* from 10.0.0.1 */
	int slow0;

	drain();
	slow0 = pvnic_front_test_src_addrs(&D, "10.0.0.9");
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "src addrs: a source the NIC does not allow goes slow");
	T_EQ(pvnic_front_test_src_addrs(&D, "10.0.0.9 10.0.0.1"), slow0 + 1, "src addrs: counted");
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "src addrs: once the NIC allows it, fast");
	pvnic_front_test_src_addrs(&D, "");
	T_EQ(xmit(NULL, F, len), PV_ACCEL_NOT_SENT, "src addrs: an empty set: every IP frame slow");
	len = eth_frame(F, PEER, MY_MAC, 100);	/* 0x88b5: no IP source */
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "src addrs: a frame without an IP source still fast");
	pvnic_front_test_src_addrs(&D, NULL);
	len = tcp_frame(F, PEER, MY_MAC, 100);
	T_EQ(xmit(NULL, F, len), PV_ACCEL_SENT, "src addrs: key absent (the NIC checks no IP): fast");
	drain();
}

/* flush (accel.h 1.1): the batch's doorbell rung at once, once. */
static void test_flush(void)
{
	uint32_t len = eth_frame(F, PEER, MY_MAC, 200);
	uint64_t db;

	drain();
	efd_read(N.db);
	T_CHECK(ops->flush != NULL, "flush: the plugin has it", "NULL");
	for (int i = 0; i < 3; i++)
		T_ASSERT(xmit(NULL, F, len) == PV_ACCEL_SENT, "sent");
	db = efd_read(N.db);
	T_EQ(db, 0, "flush: start_xmit alone rings no doorbell");
	ops->flush(&D);
	db = efd_read(N.db);
	T_EQ(db, 1, "flush: three frames, one doorbell at flush");
	ops->flush(&D);
	T_EQ(efd_read(N.db), 0, "flush: nothing staged, no doorbell");
	drain();
}

/* TX of a frame above 2 KiB without GSO (MTU 9000): a chain with TX_CHAIN, else slow. */
static void test_tx_jumbo(void)
{
	uint16_t mss;
	uint32_t len = eth_frame(F, PEER, MY_MAC, 9014);

	T_EQ(pvnic_front_test_tx_decide(9000, PV_NIC_FEAT_TX_CHAIN, NULL, F, len, &mss), 0,
	     "tx jumbo: a 9014-byte frame on MTU 9000 with TX chains posted as it is");
	T_EQ(pvnic_front_test_tx_decide(9000, 0, NULL, F, len, &mss), -1,
	     "tx jumbo: without TX chains it stays on the slow path");
	T_EQ(pvnic_front_test_tx_decide(9000, PV_NIC_FEAT_TX_CHAIN, NULL, F, 9015, &mss), -1,
	     "tx jumbo: one byte above the MTU stays on the slow path");
}

/* Scatter @len bytes of F over a loan's iovecs, as the TAP's readv does. */
static void lend_fill(const struct iovec *iov, int n, uint32_t len)
{
	uint32_t off = 0;

	for (int i = 0; i < n && off < len; i++) {
		uint32_t c = len - off < iov[i].iov_len ? len - off : (uint32_t)iov[i].iov_len;

		memcpy(iov[i].iov_base, F + off, c);
		off += c;
	}
}

/* accel.h 1.3: netfront reads frames straight into the VI's TX buffers. */
static void test_lend(void)
{
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				     .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	struct iovec iov[PV_ACCEL_LEND_IOV];
	unsigned int nlent = 99, n;
	uint64_t lent0;
	uint32_t len;
	int k;

	drain();
	N.ntx = 0;
	pvnic_front_test_set_features(&D, ALL_FEATURES);
	T_CHECK(ops->tx_lend && ops->tx_lent && ops->tx_unlend, "lend: the plugin has the 1.3 ops",
		"missing");
	lent0 = pvnic_front_test_lent(&D, NULL);
	T_EQ(ops->tx_lend(&D, iov, 31), 0, "lend: no loan into fewer iovecs than a maximum frame needs");
	k = ops->tx_lend(&D, iov, PV_ACCEL_LEND_IOV);
	T_CHECK(k == 32 && iov[0].iov_len == PV_NIC_BUF_SIZE && iov[31].iov_len == PV_NIC_BUF_SIZE,
		"lend: 32 TX buffers of 2 KiB (a 64 KiB frame)", "k %d", k);
	T_EQ(pvnic_front_test_tx_free(&D), NTX - 32, "lend: the lent buffers are off the free list");
	T_EQ(ops->tx_lend(&D, iov + 32, 8), 0, "lend: one loan at a time");

	/* A frame for a learned destination: sent from the loan, in place. */
	len = eth_frame(F, PEER, MY_MAC, 300);
	lend_fill(iov, k, len);
	T_EQ(ops->tx_lent(&D, NULL, len), PV_ACCEL_SENT, "lend: a 300-byte unicast frame SENT");
	{
		uint32_t prod = __atomic_load_n(&N.sh->tx_prod.v, __ATOMIC_ACQUIRE);
		struct pv_nic_desc d = N.txq[(prod - 1) & (PV_NIC_TXQ_SIZE - 1)];

		T_CHECK(nic_buf(d.buf_id) == iov[0].iov_base && d.len == len,
			"lend: its descriptor is the lent buffer the frame was read into (no copy)",
			"buf %p lent %p len %u", (void *)nic_buf(d.buf_id), iov[0].iov_base, d.len);
	}
	T_EQ(pvnic_front_test_tx_free(&D), NTX - 1, "lend: the unused 31 buffers are free again");
	pvnic_front_test_lent(&D, &nlent);
	T_EQ(nlent, 0, "lend: the loan is over");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 1 && N.txlen[0] == len && !memcmp(N.txf[0], F, len), "lend: the wire gets the frame",
		"n %u", n);
	ops->poll(&D, 64);

	/* A 64 KiB TSO frame: the chain is the loan itself. */
	k = ops->tx_lend(&D, iov, PV_ACCEL_LEND_IOV);
	len = tcp_frame(F, PEER, MY_MAC, 65535 - 54);
	lend_fill(iov, k, len);
	N.ntx = 0;
	T_EQ(ops->tx_lent(&D, &vh, len), PV_ACCEL_SENT, "lend: a 65535-byte TSO frame SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	T_CHECK(n == 32 && chain_ok(0, n, 1448) && reassemble(0, n) == len && !memcmp(R, F, len),
		"lend: ... one chain of 32, the frame's bytes", "n %u", n);
	ops->poll(&D, 64);
	T_EQ(pvnic_front_test_lent(&D, NULL) - lent0, 2, "lend: two frames sent from loans");
	T_EQ(pvnic_front_test_tx_free(&D), NTX, "lend: every buffer free again after TX_DONE");

	/* Software GSO (mss below the NIC's TSO minimum): segments from a copy, right. */
	vh.gso_size = 40;
	k = ops->tx_lend(&D, iov, PV_ACCEL_LEND_IOV);
	len = tcp_frame(F, PEER, MY_MAC, 1200);
	lend_fill(iov, k, len);
	N.ntx = 0;
	T_EQ(ops->tx_lent(&D, &vh, len), PV_ACCEL_SENT, "lend: a software-GSO frame SENT");
	ops->poll(&D, 64);
	n = nic_tx(0);
	{
		int ok = n == 30;

		for (unsigned int i = 0; i < n && ok; i++)
			ok = tcp_csums_ok(N.txf[i], N.txlen[i]) &&
			     !memcmp(N.txf[i] + 54, F + 54 + 40 * i, 40);
		T_CHECK(ok, "lend: ... 30 segments, checksums right, payload in order (not overwritten)",
			"n %u", n);
	}
	ops->poll(&D, 64);

	/* Not for the fast path: stays lent for netfront to copy, then unlent. */
	k = ops->tx_lend(&D, iov, PV_ACCEL_LEND_IOV);
	len = eth_frame(F, BCAST, MY_MAC, 60);
	lend_fill(iov, k, len);
	T_EQ(ops->tx_lent(&D, NULL, len), PV_ACCEL_NOT_SENT, "lend: broadcast NOT_SENT");
	pvnic_front_test_lent(&D, &nlent);
	T_CHECK(nlent == 32 && !memcmp(iov[0].iov_base, F, len),
		"lend: ... the loan and its bytes stay until netfront ends it", "nlent %u", nlent);
	ops->tx_unlend(&D);
	pvnic_front_test_lent(&D, &nlent);
	T_CHECK(nlent == 0 && pvnic_front_test_tx_free(&D) == NTX, "lend: unlend gives every buffer back",
		"nlent %u free %d", nlent, pvnic_front_test_tx_free(&D));

	/* No loan while fewer than 32 are free: netfront uses its own pages. */
	len = eth_frame(F, PEER, MY_MAC, 300);
	for (int i = 0; i < NTX - 31; i++)
		T_ASSERT(xmit(NULL, F, len) == PV_ACCEL_SENT, "sent");
	T_EQ(ops->tx_lend(&D, iov, PV_ACCEL_LEND_IOV), 0, "lend: none with 31 free TX buffers");
	drain();
	ops->poll(&D, 64);
	pvnic_front_test_set_features(&D, 0);
}

static void test_remove(void)
{
	uint32_t len = eth_frame(F, PEER, MY_MAC, 300);
	int sent = 0;

	F[20] = 0xab;	/* marked */
	while (sent < NTX + 10 && xmit(NULL, F, len) == PV_ACCEL_SENT)
		sent++;
	T_EQ(ops->check_ready(&D), 0, "remove: a frame is held");
	ops->remove(&D);
	T_CHECK(D.returned == 1 && D.ret_len == 300 && D.ret[20] == 0xab,
		"remove: held frame handed back", "returned %u len %u", D.returned, D.ret_len);
	T_CHECK(D.priv == NULL, "remove: priv cleared", "priv %p", D.priv);
	T_CHECK(fcntl(N.db, F_GETFD) < 0 && fcntl(N.wake, F_GETFD) < 0,
		"remove: VI descriptors closed", "still open");
}

int main(void)
{
	struct pv_loop *loop = pv_loop_new();
	uint8_t *pages = mmap(NULL, (size_t)K * 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (!loop || pages == MAP_FAILED)
		return 2;
	N.pages = pages;
	for (int j = 0; j < NBUF; j++)
		N.ids[j] = 1000 + 3u * (uint32_t)j;	/* not 0..2K-1: ids are the NIC's choice */
	D.loop = loop;
	memcpy(D.mac, MY_MAC, 6);
	ops = pvnic_front_ops_get();
	T_CHECK(ops && !strcmp(ops->name, "pvnic") && ops->version == PV_ACCEL_FRONT_VERSION &&
		ops->size == sizeof(*ops), "ops: pvnic, this version", "bad ops");
	test_attach(pages);
	test_policy();
	test_csum();
	test_gso();
	test_busy();
	test_errors();
	test_offload_gate();
	test_tso_v4();
	test_tso_v6();
	test_csum_offload();
	test_tso_busy();
	test_chain_errors();
	test_hostile_events();
	test_local_macs();
	test_rx_chains();
	test_tx_jumbo();
	test_flush();
	test_lend();
	test_src_addrs();
	test_irq(loop);
	test_remove();
	pv_loop_free(loop);
	return t_done();
}
