/* SPDX-License-Identifier: MIT */
/*
 * fuzz_nic_vi.c - libFuzzer harness for pvnet-nicd's data path: a hostile
 * VI user writes whatever it likes into its rings, indices and buffers
 * while frames arrive from the wire.
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_nic_vi -max_total_time=60 build-fuzz/corpus_nic_vi
 *
 * The input is a list of operations (byte 0 of each picks one): post a TX
 * or RX descriptor of arbitrary bytes, set tx_prod / rx_prod / evq_cons to
 * arbitrary values, ring the doorbell (one service round, and the RX hold's
 * retry: frames held for want of descriptors), deliver a frame
 * from the wire, consume events, arm the wake-up, scribble on a buffer,
 * reset the VI, post a TX chain (1..48 pieces of A's or B's buffers, with
 * offload flags and an mss, posted whole), write a plausible frame header
 * (TCP/UDP over IPv4/IPv6, ARP, tagged or not, A's MAC, an IP length to
 * match) into one of A's buffers.  Besides memory safety, it checks what
 * isolation promises: every frame that reaches the wire carries VI A's
 * source MAC; VI B's memory (whose buffer ids A may name) is never
 * written; the event queue never holds more than its size; and what the
 * port is asked to do is sane: a GSO frame at most PV_NIC_TSO_MAX with an
 * mss of at least PV_NIC_TSO_MSS_MIN whose segments fit the MTU, any other
 * frame at most MTU + 18, a checksum offset inside the frame.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/nic/bufta.c"
#include "../../src/nic/filter.c"
#include "../../src/nic/txcheck.c"
#include "../../src/nic/vi.c"

static int fz_trace;	/* PVNET_FUZZ_TRACE=1: what goes to the wire, the events */

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t mac_b[6] = { 2, 0, 0, 0, 0, 0xb };

struct fz_guest {
	uint32_t vi;
	struct pv_nic_vi_shared *sh;
	uint8_t *mem;
	int memfd;
	uint32_t ids[8];	/* its buffer ids */
};

/* What the port is asked to send must be something a kernel takes as meant. */
static void fz_check_vnet(const struct nic_txframe *f)
{
	const struct virtio_net_hdr *vh = &f->vnet;
	uint32_t start = le16toh(vh->csum_start), off = le16toh(vh->csum_offset);
	uint32_t hdr = le16toh(vh->hdr_len), mss = le16toh(vh->gso_size);

	uint32_t sum = 0;

	/* The frame: the private header copy first, then payload iovecs; the
	 * headers the kernel acts on (checksum field, GSO headers) all private. */
	if (f->niov < 1 || f->niov > NIC_TX_IOV_MAX || f->iov[0].iov_base != f->hdr ||
	    f->iov[0].iov_len != f->hdr_len ||
	    f->hdr_len != (f->len < NIC_TX_HDR_MAX ? f->len : NIC_TX_HDR_MAX) ||
	    (f->hdr_len < f->len) != (f->niov > 1))
		abort();
	for (unsigned int k = 0; k < f->niov; k++)
		sum += (uint32_t)f->iov[k].iov_len;
	if (sum != f->len || hdr > f->hdr_len ||
	    ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && start + off + 2 > f->hdr_len))
		abort();
	if (vh->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		abort();
	if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (start + off + 2 > f->len || (off != 16 && off != 6) || hdr > f->len))
		abort();	/* a checksum outside the frame */
	if (vh->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (f->len > 1500 + 18 || mss || hdr > f->len)
			abort();	/* longer than the port takes without TSO */
		return;
	}
	if ((vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV4 &&
	    (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV6)
		abort();
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || off != 16 || f->len > PV_NIC_TSO_MAX ||
	    mss < PV_NIC_TSO_MSS_MIN || hdr + mss > 1500 + 18 || hdr < start + 20)
		abort();	/* TSO the kernel would refuse, or segments too big */
}

static void fz_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	if (n == 0 || n > PV_NIC_TX_BUDGET)
		abort();
	for (unsigned int i = 0; i < n; i++) {
		if (f[i].len < 14 || f[i].hdr_len < 14 || memcmp(f[i].hdr + 6, mac_a, 6))
			abort();	/* a frame not from A's MAC reached the wire */
		fz_check_vnet(&f[i]);
		f[i].rc = (f[i].hdr[13] & 1) ? -ENOBUFS : 0;
		if (fz_trace)
			fprintf(stderr, "xmit: %u bytes, vnet flags %u gso %u/%u csum %u/%u hdr %u\n",
				f[i].len, f[i].vnet.flags, f[i].vnet.gso_type, le16toh(f[i].vnet.gso_size),
				le16toh(f[i].vnet.csum_start), le16toh(f[i].vnet.csum_offset),
				le16toh(f[i].vnet.hdr_len));
	}
}

static int fz_guest(struct nic *nic, struct fz_guest *g, const uint8_t *mac, uint8_t fill)
{
	struct pv_nic_set_mac m = { 0 };
	struct pv_nic_filter f = { .type = PV_NIC_FILTER_MAC };
	uint32_t chunks[8], fid;
	struct nic_region *reg;
	int rc;

	if (nic_vi_alloc(nic, g, &g->vi))
		return -1;
	g->sh = nic->vis[g->vi].sh;	/* the user's view is the same shared pages */
	g->memfd = memfd_create("fz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->memfd < 0 || ftruncate(g->memfd, 4 * 4096) < 0)
		return -1;
	g->mem = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	if (g->mem == MAP_FAILED)
		return -1;
	memset(g->mem, fill, 4 * 4096);
	for (uint32_t i = 0; i < 8; i++)
		chunks[i] = i;
	reg = nic_region_get(&nic->bt, g->memfd, &rc);
	if (!reg || nic_bufta_map(&nic->bt, g->vi, reg, chunks, 8, g->ids))
		return -1;
	nic_region_put(&nic->bt, reg);
	m.vi_id = f.vi_id = g->vi;
	memcpy(m.mac, mac, 6);
	memcpy(f.mac, mac, 6);
	if (fill == 0xbb)
		return nic_vi_set_mac(nic, &nic->vis[g->vi], &m);	/* no filter: B gets no RX */
	return nic_vi_set_mac(nic, &nic->vis[g->vi], &m) || nic_filter_add(&nic->fl, &f, &fid);
}

static void fz_guest_free(struct fz_guest *g)
{
	if (g->mem && g->mem != MAP_FAILED)
		munmap(g->mem, 4 * 4096);
	if (g->memfd > 0)
		close(g->memfd);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/*
 * A plausible header at @b: kind & 3 picks TCP/IPv4, TCP/IPv6, UDP/IPv4 or
 * ARP, kind & 4 adds a VLAN tag; source A's MAC; the IP length says @plen
 * bytes of payload follow (they may or may not).
 */
static void fz_template(uint8_t *b, uint8_t kind, uint16_t plen)
{
	uint32_t o = 12, l4 = (kind & 3) == 2 ? 8 : 20;
	uint8_t *ip;

	memset(b, 0, 100);
	memcpy(b, mac_b, 6);
	memcpy(b + 6, mac_a, 6);
	if (kind & 4) {
		b[o++] = 0x81; b[o++] = 0;
		b[o++] = 0; b[o++] = 5;
	}
	ip = b + o + 2;
	switch (kind & 3) {
	case 1:
		b[o] = 0x86; b[o + 1] = 0xdd;
		ip[0] = 0x60;
		ip[4] = (uint8_t)((l4 + plen) >> 8); ip[5] = (uint8_t)(l4 + plen);
		ip[6] = 6;
		ip += 40;
		break;
	case 3:
		b[o] = 0x08; b[o + 1] = 0x06;
		memcpy(ip, (const uint8_t[]){ 0, 1, 8, 0, 6, 4, 0, 1 }, 8);
		return;
	default:
		b[o] = 0x08; b[o + 1] = 0x00;
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + l4 + plen) >> 8); ip[3] = (uint8_t)(20 + l4 + plen);
		ip[9] = (kind & 3) == 2 ? 17 : 6;
		ip += 20;
		break;
	}
	if (l4 == 20)
		ip[12] = 0x50;
	ip[13] = kind & 0x80 ? 0x98 : 0x18;	/* CWR sometimes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a small RX hold (vi.c): frames wait for descriptors the user may then lie about */
	struct nic_config cfg = { .max_vis = 2, .nr_bufs = 16, .max_filters = 4, .vi_filters = 2,
				  .rx_hold_bytes = 16384 };
	struct fz_guest a = { 0 }, b = { 0 };
	struct nic *nic = nic_new(NULL, &cfg);
	uint32_t tx_prod = 0, rx_prod = 0, evq_cons = 0;
	int cons_legit = 1;	/* evq_cons as an honest user would have it */
	size_t i = 0;

	fz_trace = getenv("PVNET_FUZZ_TRACE") != NULL;
	if (!nic || fz_guest(nic, &a, mac_a, 0xaa) || fz_guest(nic, &b, mac_b, 0xbb))
		abort();
	nic_set_xmit(nic, fz_xmit, NULL, 1500);
	while (i < size) {
		uint8_t op = data[i++] % 12;
		struct nic_vi *vi = &nic->vis[a.vi];
		struct pv_nic_desc *txq = (void *)((uint8_t *)a.sh + PV_NIC_OFF_TXQ);
		struct pv_nic_desc *rxq = (void *)((uint8_t *)a.sh + PV_NIC_OFF_RXQ);

		switch (op) {
		case 0:
		case 1:
			if (size - i < 16)
				goto out;
			memcpy(op ? &rxq[rx_prod % PV_NIC_RXQ_SIZE] : &txq[tx_prod % PV_NIC_TXQ_SIZE],
			       data + i, 16);
			i += 16;
			if (op)
				a.sh->rx_prod.v = ++rx_prod;
			else
				a.sh->tx_prod.v = ++tx_prod;
			break;
		case 2:
			if (size - i < 5)
				goto out;
			if (data[i] & 1)
				a.sh->tx_prod.v = tx_prod = rd32(data + i + 1);
			else if (data[i] & 2)
				a.sh->rx_prod.v = rx_prod = rd32(data + i + 1);
			else
				a.sh->evq_cons.v = evq_cons = rd32(data + i + 1), cons_legit = 0;
			i += 5;
			break;
		case 3:
			nic_vi_kick(nic, vi);
			nic_service(nic);
			nic_rx_flush(nic);	/* what the RX hold can deliver now */
			break;
		case 4: {
			uint32_t len;

			if (size - i < 2)
				goto out;
			len = data[i] | (uint32_t)data[i + 1] << 8;
			i += 2;
			if (len > size - i)
				len = (uint32_t)(size - i);
			nic_rx_frame(nic, data + i, len, 0);
			i += len;
			break;
		}
		case 5:
			for (uint32_t e = evq_cons; fz_trace && e != a.sh->evq_prod.v &&
			     e - evq_cons < PV_NIC_EVQ_SIZE; e++) {
				const struct pv_nic_event *ev =
					(const void *)((uint8_t *)a.sh + PV_NIC_OFF_EVQ +
						       16 * (e % PV_NIC_EVQ_SIZE));

				fprintf(stderr, "event: type %u code %u q %u index %u len %u\n",
					ev->type, ev->code, ev->queue, ev->index, ev->len);
			}
			evq_cons = a.sh->evq_prod.v;
			a.sh->evq_cons.v = evq_cons;
			cons_legit = 1;
			break;
		case 6:
			a.sh->evq_cons.armed = 1;
			break;
		case 7: {
			uint32_t off, len;

			if (size - i < 3)
				goto out;
			off = (data[i] | (uint32_t)data[i + 1] << 8) % (4 * 4096);
			len = data[i + 2];
			i += 3;
			if (len > size - i)
				len = (uint32_t)(size - i);
			if (off + len > 4 * 4096)
				len = 4 * 4096 - off;
			memcpy(a.mem + off, data + i, len);
			i += len;
			break;
		}
		case 8:
			a.sh->evq_cons.armed = 0;
			break;
		case 10: {	/* a chain: [n][flags][mss:2], n x [buf][len:2] */
			uint32_t n;

			if (size - i < 4)
				goto out;
			n = 1 + data[i] % 48;
			if (size - i < 4 + 3 * (size_t)n)
				goto out;
			for (uint32_t j = 0; j < n; j++) {
				const uint8_t *q = data + i + 4 + 3 * j;
				struct pv_nic_desc d = {
					.buf_id = q[0] & 0x80 ? b.ids[q[0] & 7] : a.ids[q[0] & 7],
					.len = (uint16_t)(rd16(q + 1) % (PV_NIC_BUF_SIZE + 1)),
					.flags = j + 1 < n ? PV_NIC_TX_F_MORE : 0,
				};

				if (j == 0) {
					d.flags |= data[i + 1] & (PV_NIC_TX_F_CSUM | PV_NIC_TX_F_TSO | 0x8);
					d.mss = rd16(data + i + 2);
				}
				if (q[0] & 0x40)	/* now and then a flag out of place */
					d.flags ^= data[i + 1] & PV_NIC_TX_F_ALL;
				memcpy(&txq[(tx_prod + j) % PV_NIC_TXQ_SIZE], &d, sizeof(d));
			}
			a.sh->tx_prod.v = tx_prod += n;
			i += 4 + 3 * (size_t)n;
			break;
		}
		case 11:	/* a header: [buf][kind][plen:2] */
			if (size - i < 4)
				goto out;
			fz_template(a.mem + (size_t)(data[i] & 7) * PV_NIC_BUF_SIZE, data[i + 1],
				    rd16(data + i + 2));
			i += 4;
			break;
		default:
			nic_vi_reset(nic, vi);
			tx_prod = rx_prod = evq_cons = 0;
			cons_legit = 1;
			break;
		}
		if (cons_legit && vi->state == NIC_VI_ACTIVE && vi->evq_prod - a.sh->evq_cons.v > PV_NIC_EVQ_SIZE)
			abort();	/* more events outstanding than the queue holds */
	}
out:
	for (size_t k = 0; k < 4 * 4096; k++)
		if (b.mem[k] != 0xbb)
			abort();	/* A's descriptors wrote into B's memory */
	nic_free(nic);
	fz_guest_free(&a);
	fz_guest_free(&b);
	return 0;
}
