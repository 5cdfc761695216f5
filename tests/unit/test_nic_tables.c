/* SPDX-License-Identifier: MIT */
/*
 * test_nic_tables.c - the NIC's pure data structures: the buffer table
 * (ownership, out of table, offset + length, reserved bits, regions and
 * seals), RX filters (match order, IPv4 proto/ip/port, dst MAC, quota,
 * churn) and the TX source check (spoof, VLAN-tagged spoof, runt, ARP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nic/nic.h"
#include "../lib/test.h"
#include "test_nic_util.h"

/*
 * The checks get the frame's first min(len, NIC_TX_HDR_MAX) bytes only, as
 * vi.c gives them: here in a heap block of exactly that size, so that a
 * read past it is an ASan error; what the offload writes is copied back.
 */
static uint8_t *t_hdr(const uint8_t *fr, uint32_t len, uint32_t *hlen)
{
	uint8_t *h;

	*hlen = len < NIC_TX_HDR_MAX ? len : NIC_TX_HDR_MAX;
	h = malloc(*hlen ? *hlen : 1);
	if (h)
		memcpy(h, fr, *hlen);
	return h;
}

static enum pv_nic_err t_tx_check(const struct nic_txpolicy *p, const uint8_t *fr, uint32_t len)
{
	uint32_t hlen;
	uint8_t *h = t_hdr(fr, len, &hlen);
	enum pv_nic_err err = h ? nic_tx_check(p, h, hlen, len) : PV_NIC_ERR_TX_PORT;

	free(h);
	return err;
}

static enum pv_nic_err t_tx_offload(const struct nic_txpolicy *p, uint8_t *fr, uint32_t len,
				    uint32_t flags, uint16_t mss, struct virtio_net_hdr *vh)
{
	uint32_t hlen;
	uint8_t *h = t_hdr(fr, len, &hlen);
	enum pv_nic_err err = h ? nic_tx_offload(p, h, hlen, len, flags, mss, vh) : PV_NIC_ERR_TX_PORT;

	if (h)
		memcpy(fr, h, hlen);
	free(h);
	return err;
}

static int mk_memfd(size_t size, int seal_shrink)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -1;
	if (seal_shrink)
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL);
	return fd;
}

/* The flags and mss a descriptor may carry, by ring and place in its frame. */
static void test_bufta_flags(struct nic_bufta *bt, uint32_t id)
{
	static const struct {
		uint32_t flags_ok, flags;
		uint16_t mss;
		int ok;
		const char *name;
	} cases[] = {
		{ NIC_DESC_TX_FIRST, PV_NIC_TX_F_MORE | PV_NIC_TX_F_CSUM, 0, 1,
		  "bufta flags: TX first MORE|CSUM accepted" },
		{ NIC_DESC_TX_FIRST, PV_NIC_TX_F_TSO, 1448, 1, "bufta flags: TX first TSO with mss accepted" },
		{ NIC_DESC_TX_FIRST, PV_NIC_TX_F_TSO, 0, 1,
		  "bufta flags: TX first TSO, mss 0 (the offload check refuses it)" },
		{ NIC_DESC_TX_FIRST, PV_NIC_TX_F_CSUM, 1448, 0, "bufta flags: mss without TSO refused" },
		{ NIC_DESC_TX_FIRST, 0x8, 0, 0, "bufta flags: unknown TX flag refused" },
		{ NIC_DESC_TX_FIRST, 0x80000000u, 0, 0, "bufta flags: top TX flag bit refused" },
		{ NIC_DESC_TX_NEXT, PV_NIC_TX_F_MORE, 0, 1, "bufta flags: TX later MORE accepted" },
		{ NIC_DESC_TX_NEXT, PV_NIC_TX_F_CSUM, 0, 0, "bufta flags: TX later CSUM refused" },
		{ NIC_DESC_TX_NEXT, PV_NIC_TX_F_TSO | PV_NIC_TX_F_MORE, 1448, 0,
		  "bufta flags: TX later TSO with mss refused" },
		{ NIC_DESC_TX_NEXT, 0, 100, 0, "bufta flags: TX later mss refused" },
		{ NIC_DESC_RX, PV_NIC_TX_F_MORE, 0, 0, "bufta flags: RX with MORE refused" },
		{ NIC_DESC_RX, 0, 1448, 0, "bufta flags: RX with mss refused" },
		{ NIC_DESC_RX, 0, 0, 1, "bufta flags: RX plain accepted" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pv_nic_desc d = { .buf_id = id, .len = 60, .flags = cases[i].flags,
					 .mss = cases[i].mss };
		enum pv_nic_err err;
		uint8_t *p = nic_bufta_get(bt, 0, &d, cases[i].flags_ok, &err);

		T_CHECK(cases[i].ok ? p && err == PV_NIC_ERR_NONE : !p && err == PV_NIC_ERR_RESERVED,
			cases[i].name, "p %p err %d", (void *)p, err);
	}
}

static void test_bufta(void)
{
	struct nic_bufta bt;
	struct nic_region *reg, *reg2;
	uint32_t chunks[4] = { 0, 1, 2, 7 }, ids[PV_NIC_MAP_MAX], idb[1];
	struct pv_nic_desc d;
	enum pv_nic_err err;
	uint8_t *p;
	int fd = mk_memfd(4 * 4096, 0), rc;

	T_ASSERT(nic_bufta_init(&bt, 8, 4) == 0, "bufta init");
	reg = nic_region_get(&bt, fd, &rc);
	T_CHECK(reg != NULL, "bufta: memfd region mapped", "err %d", rc);
	if (!reg)
		return;
	T_CHECK((fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK) != 0, "bufta: memfd sealed against shrinking",
		"seals %#x", fcntl(fd, F_GET_SEALS));
	reg2 = nic_region_get(&bt, fd, &rc);
	T_CHECK(reg2 == reg && reg->refs == 2, "bufta: same memfd, same region", "refs %u", reg->refs);
	nic_region_put(&bt, reg2);

	chunks[3] = 8;	/* 8 * 2 KiB = 16 KiB: one past the end */
	T_EQ(nic_bufta_map(&bt, 0, reg, chunks, 4, ids), -EINVAL, "bufta: chunk beyond the memfd refused");
	T_EQ(bt.nfree, 8, "bufta: refused map left the table untouched");
	chunks[3] = 7;
	T_EQ(nic_bufta_map(&bt, 0, reg, chunks, 4, ids), 0, "bufta: map 4 buffers for VI 0");
	T_EQ(nic_bufta_map(&bt, 1, reg, chunks, 1, idb), 0, "bufta: map 1 buffer for VI 1");
	T_EQ(bt.owned[0] * 10 + bt.owned[1], 41, "bufta: ownership counted per VI");
	T_EQ(nic_bufta_map(&bt, 1, reg, chunks, 4, ids + 4), -ENOSPC, "bufta: table full -> -ENOSPC");
	nic_region_put(&bt, reg);	/* our reference; entries keep it */
	T_EQ(reg->refs, 5, "bufta: entries hold the region");

	d = (struct pv_nic_desc){ .buf_id = ids[3], .offset = 100, .len = 200 };
	p = nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err);
	T_CHECK(p == reg->base + 7 * 2048 + 100 && err == PV_NIC_ERR_NONE, "bufta: good descriptor -> its bytes",
		"p %p err %d", (void *)p, err);
	p = nic_bufta_get(&bt, 1, &d, NIC_DESC_TX_FIRST, &err);
	T_CHECK(!p && err == PV_NIC_ERR_BUF_OWNER, "bufta: another VI's buffer refused (owner)", "err %d", err);
	d.buf_id = 8;
	p = nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err);
	T_CHECK(!p && err == PV_NIC_ERR_BUF_RANGE, "bufta: id == table size refused (range)", "err %d", err);
	d.buf_id = 0xffffffffu;
	p = nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err);
	T_CHECK(!p && err == PV_NIC_ERR_BUF_RANGE, "bufta: id 2^32-1 refused", "err %d", err);
	d = (struct pv_nic_desc){ .buf_id = ids[0], .offset = 2000, .len = 49 };
	p = nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err);
	T_CHECK(!p && err == PV_NIC_ERR_BUF_BOUNDS, "bufta: offset+len one past the buffer refused", "err %d", err);
	d.len = 48;
	T_CHECK(nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err) != NULL, "bufta: offset+len exactly the buffer accepted", "err %d", err);
	d = (struct pv_nic_desc){ .buf_id = ids[0], .offset = 0xffff, .len = 0xffff };
	T_CHECK(!nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err) && err == PV_NIC_ERR_BUF_BOUNDS,
		"bufta: 16-bit offset+len overflow refused", "err %d", err);
	d = (struct pv_nic_desc){ .buf_id = ids[0], .offset = 0, .len = 0 };
	T_CHECK(!nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err) && err == PV_NIC_ERR_BUF_BOUNDS,
		"bufta: zero length refused", "err %d", err);
	test_bufta_flags(&bt, ids[0]);
	d = (struct pv_nic_desc){ .buf_id = ids[0], .len = 60, .reserved = 0x8000u };
	T_CHECK(!nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err) && err == PV_NIC_ERR_RESERVED,
		"bufta: reserved word set refused", "err %d", err);

	T_EQ(nic_bufta_unmap(&bt, 1, ids, 1), -EPERM, "bufta: unmap of another VI's buffer refused");
	T_EQ(nic_bufta_unmap(&bt, 0, (uint32_t[]){ ids[0], 99 }, 2), -EINVAL, "bufta: unmap beyond table refused");
	T_EQ(nic_bufta_unmap(&bt, 0, (uint32_t[]){ ids[0], ids[0] }, 2), -EINVAL, "bufta: unmap twice in one request refused");
	T_EQ(bt.owned[0], 4, "bufta: refused unmaps changed nothing");
	T_EQ(nic_bufta_unmap(&bt, 0, ids, 1), 0, "bufta: unmap own buffer");
	d = (struct pv_nic_desc){ .buf_id = ids[0], .len = 60 };
	T_CHECK(!nic_bufta_get(&bt, 0, &d, NIC_DESC_TX_FIRST, &err) && err == PV_NIC_ERR_BUF_OWNER,
		"bufta: unmapped buffer refused", "err %d", err);
	nic_bufta_unmap_owner(&bt, 0);
	T_EQ(bt.owned[0] * 100 + bt.owned[1] * 10 + reg->refs, 11, "bufta: VI 0's entries gone, VI 1's kept");
	nic_bufta_unmap_owner(&bt, 1);
	T_CHECK(bt.regions == NULL && bt.nfree == 8, "bufta: last entry unmaps the region",
		"regions %p nfree %u", (void *)bt.regions, bt.nfree);

	{	/* a file that cannot be sealed is not memory the NIC takes */
		int nfd = open("/dev/null", O_RDWR);

		T_CHECK(nic_region_get(&bt, nfd, &rc) == NULL && rc == -EINVAL,
			"bufta: non-memfd refused", "rc %d", rc);
		close(nfd);
		nfd = memfd_create("ns", MFD_CLOEXEC);	/* no MFD_ALLOW_SEALING */
		T_ASSERT(ftruncate(nfd, 4096) == 0, "ftruncate");
		T_CHECK(nic_region_get(&bt, nfd, &rc) == NULL && rc == -EINVAL,
			"bufta: unsealable memfd refused", "rc %d", rc);
		close(nfd);
		nfd = mk_memfd(4096, 1);
		reg = nic_region_get(&bt, nfd, &rc);
		T_CHECK(reg != NULL, "bufta: memfd sealed already (F_SEAL_SEAL) accepted", "rc %d", rc);
		if (reg)
			nic_region_put(&bt, reg);
		close(nfd);
	}
	close(fd);
	nic_bufta_fini(&bt);
}

static struct pv_nic_filter flt_mac(uint32_t vi, const uint8_t *mac)
{
	struct pv_nic_filter f = { .vi_id = vi, .type = PV_NIC_FILTER_MAC };

	memcpy(f.mac, mac, 6);
	return f;
}

static struct pv_nic_filter flt_ip(uint32_t vi, uint8_t proto, const char *ip, uint16_t port)
{
	return (struct pv_nic_filter){ .vi_id = vi, .type = PV_NIC_FILTER_IPV4, .proto = proto,
				       .dst_ip = ip4(ip), .dst_port = port };
}

static void test_filters(void)
{
	struct nic_filters fl;
	struct pv_nic_filter f;
	uint8_t fr[2048];
	uint32_t id, idm, idi, len;

	T_ASSERT(nic_filters_init(&fl, 6, 3, 4) == 0, "filters init");
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), PV_NIC_VI_NONE, "filter: empty table matches nothing");

	f = flt_mac(0, MAC_A);
	T_EQ(nic_filter_add(&fl, &f, &idm), 0, "filter: dst MAC filter added");
	T_EQ(nic_filter_match(&fl, fr, len), 0, "filter: dst MAC steers to VI 0");
	T_EQ(nic_filter_add(&fl, &f, &id), -EEXIST, "filter: same MAC twice -> -EEXIST");
	f.vi_id = 1;
	T_EQ(nic_filter_add(&fl, &f, &id), -EEXIST, "filter: another VI cannot take a MAC in use");
	f = flt_ip(1, 17, "10.0.0.1", 5000);
	T_EQ(nic_filter_add(&fl, &f, &idi), 0, "filter: IPv4 UDP filter added");
	T_EQ(nic_filter_match(&fl, fr, len), 1, "filter: IPv4 filter matched before dst MAC");
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 6, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), 0, "filter: TCP to a UDP filter's port falls to the MAC filter");
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 5001, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), 0, "filter: other port falls to the MAC filter");
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 17, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), 0, "filter: other address falls to the MAC filter");
	len = mk_frame(fr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), 1, "filter: IPv4 filter matches whatever the dst MAC");
	len = mk_frame(fr, MAC_B, MAC_X, 7, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), 1, "filter: IPv4 filter matches a VLAN-tagged frame");
	fr[14 + 4 + 6] = 0x20;	/* more fragments: not the first of a datagram we can steer */
	T_EQ(nic_filter_match(&fl, fr, len), PV_NIC_VI_NONE, "filter: IP fragment not matched by port");
	len = mk_frame(fr, MAC_BCAST, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), PV_NIC_VI_NONE, "filter: broadcast never matches");
	T_EQ(nic_filter_match(&fl, fr, 10), PV_NIC_VI_NONE, "filter: runt never matches");

	f = flt_mac(0, MAC_BCAST);
	T_EQ(nic_filter_add(&fl, &f, &id), -EINVAL, "filter: group MAC refused");
	f = flt_ip(0, 1, "10.0.0.1", 1);
	T_EQ(nic_filter_add(&fl, &f, &id), -EINVAL, "filter: protocol other than TCP/UDP refused");
	f = flt_ip(0, 6, "10.0.0.1", 0);
	T_EQ(nic_filter_add(&fl, &f, &id), -EINVAL, "filter: port 0 refused");
	f = flt_ip(0, 6, "10.0.0.1", 80);
	f.mac[0] = 2;
	T_EQ(nic_filter_add(&fl, &f, &id), -EINVAL, "filter: stray MAC in an IPv4 filter refused");
	f = flt_ip(9, 6, "10.0.0.1", 80);
	T_EQ(nic_filter_add(&fl, &f, &id), -EINVAL, "filter: VI beyond the table refused");

	T_EQ(nic_filter_add(&fl, (f = flt_ip(1, 6, "10.0.0.1", 80), &f), &id), 0, "filter: VI 1 second");
	T_EQ(nic_filter_add(&fl, (f = flt_ip(1, 6, "10.0.0.1", 81), &f), &id), 0, "filter: VI 1 third");
	T_EQ(nic_filter_add(&fl, (f = flt_ip(1, 6, "10.0.0.1", 82), &f), &id), -EDQUOT,
	     "filter: VI 1 over its quota -> -EDQUOT");
	T_EQ(nic_filter_add(&fl, (f = flt_ip(2, 6, "10.0.0.1", 82), &f), &id), 0, "filter: VI 2 unaffected by VI 1's quota");
	T_EQ(nic_filter_add(&fl, (f = flt_ip(2, 6, "10.0.0.1", 83), &f), &id), 0, "filter: table at its size");
	T_EQ(nic_filter_add(&fl, (f = flt_ip(3, 6, "10.0.0.1", 84), &f), &id), -ENOSPC,
	     "filter: table full -> -ENOSPC");

	T_EQ(nic_filter_del(&fl, 0, idi), -EPERM, "filter: VI 0 cannot delete VI 1's filter");
	T_EQ(nic_filter_del(&fl, 1, 999), -ENOENT, "filter: delete of a filter that does not exist");
	nic_filter_del_vi(&fl, 1);
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 5000, 10, 0);
	T_EQ(nic_filter_match(&fl, fr, len), 0, "filter: VI 1's filters gone, MAC filter still steers");
	T_EQ(fl.used * 10 + fl.per_vi[1], 30, "filter: counts after VI removal");
	T_EQ(nic_filter_del(&fl, 0, idm), 0, "filter: MAC filter deleted");
	T_EQ(nic_filter_match(&fl, fr, len), PV_NIC_VI_NONE, "filter: nothing steers after delete");

	{	/* churn: add/del many times, memory and counts stay put */
		int ok = 1;

		for (int i = 0; i < 10000 && ok; i++) {
			f = flt_ip(3, 17, "10.1.2.3", (uint16_t)(1 + i % 60000));
			ok = nic_filter_add(&fl, &f, &id) == 0 && nic_filter_del(&fl, 3, id) == 0;
		}
		T_CHECK(ok && fl.used == 2 && fl.per_vi[3] == 0, "filter: 10000 add/del cycles, counts stable",
			"ok %d used %u", ok, fl.used);
	}
	nic_filters_fini(&fl);
}

static void test_txcheck(void)
{
	struct nic_txpolicy p = { .mac_set = true, .max_len = 1514 };
	uint8_t fr[2048];
	uint32_t len;

	memcpy(p.mac, MAC_A, 6);
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_NONE, "txcheck: own source MAC passes");
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_TX_SPOOF, "txcheck: another source MAC -> spoof");
	len = mk_frame(fr, MAC_X, MAC_B, 5, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_TX_SPOOF, "txcheck: VLAN-tagged spoofed MAC -> spoof");
	len = mk_frame(fr, MAC_X, MAC_A, 5, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_NONE, "txcheck: VLAN-tagged own MAC passes");
	T_EQ(t_tx_check(&p, fr, 13), PV_NIC_ERR_TX_RUNT, "txcheck: 13 bytes -> runt");
	T_EQ(t_tx_check(&p, fr, 0), PV_NIC_ERR_TX_RUNT, "txcheck: 0 bytes -> runt");

	/* source IP enforced */
	p.ip_set = true;
	p.ip = ip4("10.0.0.1");
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_NONE, "txcheck: own source IP passes");
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.66"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_TX_SPOOF, "txcheck: spoofed source IP -> spoof");
	len = mk_frame(fr, MAC_X, MAC_A, 9, ip4("10.0.0.66"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_TX_SPOOF, "txcheck: VLAN-tagged inner spoofed IP -> spoof");
	len = mk_frame(fr, MAC_X, MAC_A, 9, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_NONE, "txcheck: VLAN-tagged own IP passes");
	/* QinQ: a second tag hides the IP header */
	memmove(fr + 20, fr + 16, len - 16);
	fr[16] = 0x81; fr[17] = 0x00; fr[18] = 0; fr[19] = 1;
	T_EQ(t_tx_check(&p, fr, len + 4), PV_NIC_ERR_TX_SPOOF, "txcheck: double-tagged frame with IP enforced -> refused");
	T_EQ(t_tx_check(&p, fr, 16), PV_NIC_ERR_TX_RUNT, "txcheck: tag cut short -> runt");
	{	/* ARP: sender IP and sender MAC must be ours */
		static const uint8_t arp_hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
		uint32_t sip = ip4("10.0.0.1"), bad = ip4("10.0.0.77");

		memcpy(fr, MAC_BCAST, 6);
		memcpy(fr + 6, MAC_A, 6);
		fr[12] = 0x08; fr[13] = 0x06;
		memcpy(fr + 14, arp_hdr, 8);
		memcpy(fr + 22, MAC_A, 6);
		memcpy(fr + 28, &sip, 4);
		memset(fr + 32, 0, 10);
		T_EQ(t_tx_check(&p, fr, 42), PV_NIC_ERR_NONE, "txcheck: ARP as ourselves passes");
		memcpy(fr + 28, &bad, 4);
		T_EQ(t_tx_check(&p, fr, 42), PV_NIC_ERR_TX_SPOOF, "txcheck: ARP with another sender IP -> spoof");
		memcpy(fr + 28, &sip, 4);
		memcpy(fr + 22, MAC_B, 6);
		T_EQ(t_tx_check(&p, fr, 42), PV_NIC_ERR_TX_SPOOF, "txcheck: ARP with another sender MAC -> spoof");
		T_EQ(t_tx_check(&p, fr, 30), PV_NIC_ERR_TX_SPOOF, "txcheck: truncated ARP -> refused");
	}
	fr[12] = 0x86; fr[13] = 0xdd;
	memcpy(fr + 6, MAC_A, 6);
	T_EQ(t_tx_check(&p, fr, 60), PV_NIC_ERR_TX_SPOOF, "txcheck: IPv6 with IPv4 enforced -> refused");

	p.mac_set = false;
	p.ip_set = false;
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_TX_SPOOF, "txcheck: VI without a MAC sends nothing");
	p.any_source = true;
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	T_EQ(t_tx_check(&p, fr, len), PV_NIC_ERR_NONE, "txcheck: host VI sends any source");
	T_EQ(t_tx_check(&p, fr, 10), PV_NIC_ERR_TX_RUNT, "txcheck: host VI runt still refused");
}

static uint8_t big[70000];

/* Frame lengths the port takes, without offloads and with TSO. */
static void test_offload_len(const struct nic_txpolicy *p)
{
	struct virtio_net_hdr vh;
	uint32_t len;

	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 1473, 0);
	T_EQ(t_tx_offload(p, big, len, 0, 0, &vh), PV_NIC_ERR_TX_TOO_BIG, "offload: MTU + 1 -> too big");
	len = mk_frame(big, MAC_X, MAC_A, 3, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 1472, 0);
	T_CHECK(t_tx_offload(p, big, len, 0, 0, &vh) == PV_NIC_ERR_NONE && !vh.flags && !vh.gso_type,
		"offload: tagged MTU frame passes (+4), no virtio-net offloads", "flags %u", vh.flags);
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 3000, 0);
	T_EQ(t_tx_offload(p, big, len, PV_NIC_TX_F_CSUM, 0, &vh), PV_NIC_ERR_TX_TOO_BIG,
	     "offload: CSUM frame over the MTU -> too big");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 65495, 0);
	T_EQ(t_tx_offload(p, big, len, PV_NIC_TX_F_TSO, 1460, &vh), PV_NIC_ERR_NONE,
	     "offload: TSO frame of a 65535-byte datagram passes");
	len = mk_frame(big, MAC_X, MAC_A, 7, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 65495, 0);
	T_CHECK(len == PV_NIC_TSO_MAX && t_tx_offload(p, big, len, PV_NIC_TX_F_TSO, 1460, &vh) ==
		PV_NIC_ERR_NONE, "offload: tagged TSO frame of exactly PV_NIC_TSO_MAX passes", "len %u", len);
	big[12] = 0x08; big[13] = 0x00;	/* untagged, 4 trailing bytes: one over */
	T_EQ(t_tx_offload(p, big, len + 1, PV_NIC_TX_F_TSO, 1460, &vh), PV_NIC_ERR_TX_TOO_BIG,
	     "offload: TSO frame over PV_NIC_TSO_MAX -> too big");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 20000, 0);
	T_EQ(t_tx_offload(p, big, len, PV_NIC_TX_F_TSO, 1461, &vh), PV_NIC_ERR_TX_TOO_BIG,
	     "offload: TSO headers + mss = MTU + 15 -> too big");
	T_EQ(t_tx_offload(p, big, len, PV_NIC_TX_F_TSO, 1460, &vh), PV_NIC_ERR_NONE,
	     "offload: TSO headers + mss = MTU + 14 passes");
	len = mk_frame(big, MAC_X, MAC_A, 5, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 20000, 0);
	T_EQ(t_tx_offload(p, big, len, PV_NIC_TX_F_TSO, 1460, &vh), PV_NIC_ERR_NONE,
	     "offload: tagged TSO headers + mss = MTU + 18 passes");
}

/* What CSUM and TSO need, and the virtio-net header the port gets. */
static void test_offload(void)
{
	struct nic_txpolicy p = { .mac_set = true, .max_len = 1514 };
	struct virtio_net_hdr vh;
	uint32_t len;
	int rc;

	memcpy(p.mac, MAC_A, 6);
	test_offload_len(&p);

	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 333, 0x5a);
	big[34 + 6] = 0xde; big[34 + 7] = 0xad;		/* whatever the guest left there */
	rc = t_tx_offload(&p, big, len, PV_NIC_TX_F_CSUM, 0, &vh);
	T_CHECK(rc == 0 && vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && vh.gso_type == 0 &&
		le16toh(vh.csum_start) == 34 && le16toh(vh.csum_offset) == 6 && le16toh(vh.hdr_len) == 42,
		"offload: CSUM UDP/IPv4 -> NEEDS_CSUM 34/6", "rc %d flags %u start %u off %u",
		rc, vh.flags, le16toh(vh.csum_start), le16toh(vh.csum_offset));
	T_CHECK(t_vnet_csum_ok(big, len, le16toh(vh.csum_start), le16toh(vh.csum_offset)),
		"offload: CSUM UDP/IPv4: pseudo-header sum in the field, completes right", "bad sum");
	len = mk_frame6(big, MAC_X, MAC_A, 9, 1, 2, 6, 80, 999, 0x11, 1);
	rc = t_tx_offload(&p, big, len, PV_NIC_TX_F_CSUM, 0, &vh);
	T_CHECK(rc == 0 && le16toh(vh.csum_start) == 18 + 48 && le16toh(vh.csum_offset) == 16 &&
		t_vnet_csum_ok(big, len, le16toh(vh.csum_start), le16toh(vh.csum_offset)),
		"offload: CSUM TCP/IPv6, tagged, hop-by-hop header: completes right", "rc %d start %u",
		rc, le16toh(vh.csum_start));

	len = mk_arp(big, MAC_A, ip4("10.0.0.1"));
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_CSUM, 0, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: CSUM on ARP -> offload error");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 1, 0, 100, 0);
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_CSUM, 0, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: CSUM on ICMP -> offload error");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0);
	big[20] = 0x20;	/* more fragments */
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_CSUM, 0, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: CSUM on an IPv4 fragment -> offload error");
	big[20] = 0;
	T_EQ(t_tx_offload(&p, big, len + 2, PV_NIC_TX_F_CSUM, 0, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: CSUM with bytes after the datagram -> offload error");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 0, 0);
	big[17] = 30;	/* the IP length cuts the TCP header after 10 bytes */
	T_EQ(t_tx_offload(&p, big, 44, PV_NIC_TX_F_CSUM, 0, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: CSUM on a truncated TCP header -> offload error");

	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 60000, 0x33);
	big[34 + 13] = 0x18;	/* PSH ACK */
	rc = t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, 1448, &vh);
	T_CHECK(rc == 0 && vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && le16toh(vh.gso_size) == 1448 &&
		le16toh(vh.hdr_len) == 54 && le16toh(vh.csum_start) == 34 && le16toh(vh.csum_offset) == 16,
		"offload: TSO TCP/IPv4 -> GSO TCPV4 1448, hdr_len 54, NEEDS_CSUM 34/16",
		"rc %d gso %u/%u hdr %u", rc, vh.gso_type, le16toh(vh.gso_size), le16toh(vh.hdr_len));
	T_CHECK(t_vnet_csum_ok(big, len, 34, 16), "offload: TSO: pseudo-header sum for the whole length",
		"bad sum");
	big[34 + 13] = 0x98;	/* CWR */
	rc = t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO | PV_NIC_TX_F_CSUM, 1448, &vh);
	T_CHECK(rc == 0 && vh.gso_type == (VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN),
		"offload: TSO with CWR -> GSO ECN", "rc %d gso %u", rc, vh.gso_type);
	len = mk_frame6(big, MAC_X, MAC_A, 0, 1, 2, 6, 80, 30000, 0x44, 0);
	rc = t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, 1400, &vh);
	T_CHECK(rc == 0 && vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV6 && le16toh(vh.hdr_len) == 74 &&
		le16toh(vh.csum_start) == 54 && t_vnet_csum_ok(big, len, 54, 16),
		"offload: TSO TCP/IPv6 -> GSO TCPV6, hdr_len 74", "rc %d gso %u", rc, vh.gso_type);
	len = mk_frame6(big, MAC_X, MAC_A, 0, 1, 2, 6, 80, 30000, 0x44, 1);
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, 1400, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: TSO with an IPv6 extension header -> offload error");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 30000, 0);
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, 1400, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: TSO on UDP -> offload error");
	len = mk_frame(big, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 30000, 0);
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, 0, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: TSO with mss 0 -> offload error");
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, PV_NIC_TSO_MSS_MIN - 1, &vh),
	     PV_NIC_ERR_TX_OFFLOAD, "offload: TSO with mss below PV_NIC_TSO_MSS_MIN -> offload error");
	T_EQ(t_tx_offload(&p, big, len, PV_NIC_TX_F_TSO, PV_NIC_TSO_MSS_MIN, &vh), PV_NIC_ERR_NONE,
	     "offload: TSO with mss PV_NIC_TSO_MSS_MIN passes");
	len = mk_frame(big, MAC_X, MAC_A, 5, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 100, 0);
	memmove(big + 16, big + 12, len - 12);	/* QinQ: the IP header is hidden */
	big[12] = 0x81; big[13] = 0x00; big[14] = 0; big[15] = 1;
	T_EQ(t_tx_offload(&p, big, len + 4, PV_NIC_TX_F_TSO, 1400, &vh), PV_NIC_ERR_TX_OFFLOAD,
	     "offload: TSO on a double-tagged frame -> offload error");
}

int main(void)
{
	pv_log_init("test_nic_tables", PV_LOG_ERR, 0);
	test_bufta();
	test_filters();
	test_txcheck();
	test_offload();
	return t_done();
}
