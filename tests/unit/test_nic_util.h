/* SPDX-License-Identifier: MIT */
/*
 * test_nic_util.h - frame builders and a VI driver shared by the NIC tests.
 */
#ifndef PVNET_TEST_NIC_UTIL_H
#define PVNET_TEST_NIC_UTIL_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "pvnet/nic.h"
#include "lib/pkt.h"

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0xa1 };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0xb2 };
static const uint8_t MAC_X[6] = { 0x02, 0, 0, 0, 0, 0xee };	/* external host */
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline uint16_t t_ipcsum(const uint8_t *h)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * mk_frame() - Ethernet [+ 802.1Q] + IPv4 + UDP/TCP(proto) with @plen bytes
 * of payload (pattern @fill).  Returns the frame length.
 */
static inline uint32_t mk_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, int vlan,
				uint32_t sip, uint32_t dip, uint8_t proto, uint16_t dport,
				uint32_t plen, uint8_t fill)
{
	uint32_t o = 12, l4len = proto == 6 ? 20 : 8, iplen = 20 + l4len + plen;
	uint8_t *ip, *l4;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vlan) {
		f[o++] = 0x81; f[o++] = 0x00;
		f[o++] = 0; f[o++] = (uint8_t)vlan;
	}
	f[o++] = 0x08; f[o++] = 0x00;
	ip = f + o;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8); ip[3] = (uint8_t)iplen;
	ip[8] = 64; ip[9] = proto;
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	{
		uint16_t c = t_ipcsum(ip);

		ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
	}
	l4 = ip + 20;
	memset(l4, 0, l4len);
	l4[0] = 0x30; l4[1] = 0x39;			/* sport 12345 */
	l4[2] = (uint8_t)(dport >> 8); l4[3] = (uint8_t)dport;
	if (proto == 6)
		l4[12] = 0x50;				/* data offset 5 */
	else {
		l4[4] = (uint8_t)((8 + plen) >> 8); l4[5] = (uint8_t)(8 + plen);
	}
	memset(l4 + l4len, fill, plen);
	return o + iplen;
}

/*
 * mk_frame6() - Ethernet [+ 802.1Q] + IPv6 [+ an 8-byte hop-by-hop header
 * if @ext] + UDP/TCP(proto) with @plen bytes of payload (pattern @fill),
 * from fd00::@s to fd00::@d.  Returns the frame length.
 */
static inline uint32_t mk_frame6(uint8_t *f, const uint8_t *dst, const uint8_t *src, int vlan,
				 uint8_t s, uint8_t d, uint8_t proto, uint16_t dport, uint32_t plen,
				 uint8_t fill, int ext)
{
	uint32_t o = 12, l4len = proto == 6 ? 20 : 8, xl = ext ? 8 : 0;
	uint32_t pl = xl + l4len + plen;
	uint8_t *ip, *l4;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vlan) {
		f[o++] = 0x81; f[o++] = 0x00;
		f[o++] = 0; f[o++] = (uint8_t)vlan;
	}
	f[o++] = 0x86; f[o++] = 0xdd;
	ip = f + o;
	memset(ip, 0, 40 + xl);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(pl >> 8); ip[5] = (uint8_t)pl;
	ip[6] = ext ? 0 : proto;
	ip[7] = 64;
	ip[8] = 0xfd; ip[23] = s;
	ip[24] = 0xfd; ip[39] = d;
	if (ext)
		ip[40] = proto;		/* hop-by-hop: next header, length 0 (8 bytes), PadN */
	l4 = ip + 40 + xl;
	memset(l4, 0, l4len);
	l4[0] = 0x30; l4[1] = 0x39;
	l4[2] = (uint8_t)(dport >> 8); l4[3] = (uint8_t)dport;
	if (proto == 6)
		l4[12] = 0x50;
	else {
		l4[4] = (uint8_t)((8 + plen) >> 8); l4[5] = (uint8_t)(8 + plen);
	}
	memset(l4 + l4len, fill, plen);
	return o + 40 + pl;
}

/* An Ethernet/IPv4 ARP request from @src (sender @sip): 42 bytes. */
static inline uint32_t mk_arp(uint8_t *f, const uint8_t *src, uint32_t sip)
{
	static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08; f[13] = 0x06;
	memcpy(f + 14, hdr, 8);
	memcpy(f + 22, src, 6);
	memcpy(f + 28, &sip, 4);
	memset(f + 32, 0, 10);
	return 42;
}

static inline uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/*
 * t_l4_csum_ok() - is the TCP/UDP checksum of @f right?  Computed from
 * scratch: pseudo-header (addresses, protocol, L4 length) plus the L4
 * bytes up to the IP datagram's end.
 */
static inline int t_l4_csum_ok(const uint8_t *f, uint32_t len)
{
	struct pv_pkt_info pi;
	uint8_t ph[40] = { 0 };
	uint32_t l4len, sum;

	if (pv_pkt_parse(f, len, &pi) || !(pi.flags & PV_PKT_F_PORTS))
		return 0;
	l4len = pi.l3_end - pi.l4_off;
	if (pi.ip_version == 4) {
		memcpy(ph, pi.src_ip, 4);
		memcpy(ph + 4, pi.dst_ip, 4);
		ph[9] = pi.l4_proto;
		ph[10] = (uint8_t)(l4len >> 8); ph[11] = (uint8_t)l4len;
		sum = pv_pkt_csum_add(0, ph, 12);
	} else {
		memcpy(ph, pi.src_ip, 16);
		memcpy(ph + 16, pi.dst_ip, 16);
		ph[34] = (uint8_t)(l4len >> 8); ph[35] = (uint8_t)l4len;
		ph[39] = pi.l4_proto;
		sum = pv_pkt_csum_add(0, ph, 40);
	}
	return pv_pkt_csum_fold(pv_pkt_csum_add(sum, f + pi.l4_off, l4len)) == 0;
}

/*
 * t_vnet_csum_ok() - does the checksum the virtio-net header @vh asks for
 * come out right?  Completes it on a copy as the kernel would (the sum
 * from csum_start to the end, over what the field holds), then checks it.
 */
static inline int t_vnet_csum_ok(const uint8_t *f, uint32_t len, uint16_t csum_start,
				 uint16_t csum_offset)
{
	static uint8_t copy[70000];

	if (len > sizeof(copy))
		return 0;
	memcpy(copy, f, len);
	return pv_pkt_csum_complete(copy, len, csum_start, csum_offset) == 0 &&
	       t_l4_csum_ok(copy, len);
}

/*
 * t_iov_flatten() - the frame an xmit hook gets as iovecs (struct
 * nic_txframe: private header copy, then payload in guest memory), in one
 * piece: at most @max bytes into @out.  Returns the bytes copied.
 */
static inline uint32_t t_iov_flatten(const struct iovec *iov, unsigned int n, uint8_t *out,
				     size_t max)
{
	uint32_t got = 0;

	for (unsigned int k = 0; k < n && got < max; k++) {
		size_t c = iov[k].iov_len < max - got ? iov[k].iov_len : max - got;

		memcpy(out + got, iov[k].iov_base, c);
		got += (uint32_t)c;
	}
	return got;
}

/* ---- a VI's user: the guest side of the ABI ---- */

struct t_vi {
	struct pv_nic_vi_shared *sh;
	struct pv_nic_desc *txq, *rxq;
	struct pv_nic_event *evq;
	uint32_t tx_prod, rx_prod, evq_cons;
};

static inline void t_vi_init(struct t_vi *v, void *mem)
{
	memset(v, 0, sizeof(*v));
	v->sh = mem;
	v->txq = (struct pv_nic_desc *)((uint8_t *)mem + PV_NIC_OFF_TXQ);
	v->rxq = (struct pv_nic_desc *)((uint8_t *)mem + PV_NIC_OFF_RXQ);
	v->evq = (struct pv_nic_event *)((uint8_t *)mem + PV_NIC_OFF_EVQ);
}

static inline void t_vi_tx(struct t_vi *v, uint32_t buf, uint16_t off, uint16_t len, uint32_t flags)
{
	v->txq[v->tx_prod & (PV_NIC_TXQ_SIZE - 1)] =
		(struct pv_nic_desc){ .buf_id = buf, .offset = off, .len = len, .flags = flags };
	v->tx_prod++;
	__atomic_store_n(&v->sh->tx_prod.v, v->tx_prod, __ATOMIC_RELEASE);
}

/* Write a TX descriptor at tx_prod without posting it (a chain is posted whole). */
static inline void t_vi_tx_put(struct t_vi *v, uint32_t at, const struct pv_nic_desc *d)
{
	v->txq[(v->tx_prod + at) & (PV_NIC_TXQ_SIZE - 1)] = *d;
}

/* Post @n descriptors written with t_vi_tx_put(). */
static inline void t_vi_tx_post(struct t_vi *v, uint32_t n)
{
	v->tx_prod += n;
	__atomic_store_n(&v->sh->tx_prod.v, v->tx_prod, __ATOMIC_RELEASE);
}

static inline void t_vi_rx(struct t_vi *v, uint32_t buf, uint16_t off, uint16_t len)
{
	v->rxq[v->rx_prod & (PV_NIC_RXQ_SIZE - 1)] =
		(struct pv_nic_desc){ .buf_id = buf, .offset = off, .len = len };
	v->rx_prod++;
	__atomic_store_n(&v->sh->rx_prod.v, v->rx_prod, __ATOMIC_RELEASE);
}

/* Next event, or 0 if none; consumes it. */
static inline int t_vi_event(struct t_vi *v, struct pv_nic_event *ev)
{
	uint32_t prod = __atomic_load_n(&v->sh->evq_prod.v, __ATOMIC_ACQUIRE);

	if (prod == v->evq_cons)
		return 0;
	*ev = v->evq[v->evq_cons & (PV_NIC_EVQ_SIZE - 1)];
	v->evq_cons++;
	__atomic_store_n(&v->sh->evq_cons.v, v->evq_cons, __ATOMIC_RELEASE);
	return 1;
}

/* Arm the wake-up; returns 1 if events arrived meanwhile (do not sleep). */
static inline int t_vi_arm(struct t_vi *v)
{
	__atomic_store_n(&v->sh->evq_cons.v, v->evq_cons, __ATOMIC_RELEASE);
	__atomic_store_n(&v->sh->evq_cons.armed, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&v->sh->evq_prod.v, __ATOMIC_ACQUIRE) != v->evq_cons;
}

#endif
