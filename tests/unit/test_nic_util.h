/* SPDX-License-Identifier: MIT */
/*
 * test_nic_util.h - frame builders and a VI driver shared by the NIC tests.
 */
#ifndef PVNET_TEST_NIC_UTIL_H
#define PVNET_TEST_NIC_UTIL_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "pvnet/nic.h"

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

static inline uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
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
	__atomic_store_n(&v->sh->evq_cons.v2, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&v->sh->evq_prod.v, __ATOMIC_ACQUIRE) != v->evq_cons;
}

#endif
