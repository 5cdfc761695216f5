/* SPDX-License-Identifier: MIT */
/*
 * test_libpvnet_broker.c - the pure parts under user-level access: the
 * broker's policy file (src/broker/policy.c) and the NIC's TX source-port
 * check that the broker asks for (PV_NIC_MAC_F_PORTS, src/nic/txcheck.c
 * against the VI's filters).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "../lib/test.h"
#include "broker/policy.h"
#include "nic/nic.h"

static int parse(const char *text, struct brk_policy *p, char *why)
{
	return brk_policy_parse(p, text, why, 128);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void test_policy_good(void)
{
	struct brk_policy p;
	char why[128] = "";
	const struct brk_rule *r;
	int rc = parse("# comment\n\n"
		       "uid 1000 vis 3 bufs 64 addr 10.0.0.1,10.0.0.2 udp 5000-5009,7000 tcp 80\n"
		       "uid * addr 10.0.0.9 udp 6000   # the rest\n"
		       "uid 1000 vis 9 addr 10.0.0.3\n", &p, why);

	T_CHECK(rc == 0 && p.n == 3, "policy: three rules parse", "rc %d n %u: %s", rc, p.n, why);
	if (rc)
		return;
	r = brk_policy_find(&p, 1000);
	T_CHECK(r && r->line == 3 && r->max_vis == 3 && r->max_bufs == 64 && r->naddr == 2,
		"policy: a uid's rule is the first line naming it (line 3)", "line %u",
		r ? r->line : 0);
	T_CHECK(r && brk_rule_addr_ok(r, ip4("10.0.0.2")) && !brk_rule_addr_ok(r, ip4("10.0.0.9")),
		"policy: addresses of the rule only", "-");
	T_CHECK(r && brk_rule_port_ok(r, IPPROTO_UDP, 5000) && brk_rule_port_ok(r, IPPROTO_UDP, 5009) &&
		brk_rule_port_ok(r, IPPROTO_UDP, 7000) && !brk_rule_port_ok(r, IPPROTO_UDP, 5010) &&
		!brk_rule_port_ok(r, IPPROTO_UDP, 80) && brk_rule_port_ok(r, IPPROTO_TCP, 80) &&
		!brk_rule_port_ok(r, IPPROTO_TCP, 5000) && !brk_rule_port_ok(r, IPPROTO_ICMP, 80),
		"policy: ranges inclusive, per protocol, nothing for other protocols", "-");
	r = brk_policy_find(&p, 4242);
	T_CHECK(r && r->any_uid && r->line == 4 && r->max_vis == BRK_DEF_VIS &&
		r->max_bufs == BRK_DEF_BUFS && r->ntcp == 0,
		"policy: another uid gets 'uid *' with the defaults, no TCP", "line %u",
		r ? r->line : 0);
	brk_policy_free(&p);
	rc = parse("uid 7 addr 10.0.0.1\n", &p, why);
	T_CHECK(rc == 0 && !brk_policy_find(&p, 8), "policy: no rule, no 'uid *': nothing", "rc %d", rc);
	brk_policy_free(&p);
}

static void test_policy_bad(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "uid 1 udp 5000\n", "line 1: no addr" },
		{ "addr 10.0.0.1\n", "line 1: no uid" },
		{ "\nuid 1 addr 10.0.0.1 udp 6000-5000\n", "line 2: bad port or range" },
		{ "uid 1 addr 10.0.0.1 udp 0\n", "line 1: bad port or range" },
		{ "uid 1 addr 10.0.0.1 udp 70000\n", "line 1: bad port or range" },
		{ "uid 1 addr 10.0.0.1 udp 5000x\n", "line 1: bad port or range" },
		{ "uid 1 addr 10.0.0.256\n", "line 1: bad IPv4 address" },
		{ "uid 1 addr 0.0.0.0\n", "line 1: bad IPv4 address" },
		{ "uid 1 addr 10.0.0.1 vis 0\n", "line 1: bad vis" },
		{ "uid 1 addr 10.0.0.1 vis -1\n", "line 1: bad vis" },
		{ "uid 1 addr 10.0.0.1 bufs 16385\n", "line 1: bad bufs" },
		{ "uid 1 addr 10.0.0.1 ports 1\n", "line 1: unknown keyword" },
		{ "uid 1 uid 2 addr 10.0.0.1\n", "line 1: uid twice" },
		{ "uid nosuchuser-pvnet addr 10.0.0.1\n", "line 1: no such user" },
		{ "uid 1 addr\n", "line 1: addr needs a value" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct brk_policy p;
		char why[128] = "";
		int rc = parse(bad[i].text, &p, why);

		T_CHECK(rc == -EINVAL && !strcmp(why, bad[i].why) && !p.rules,
			bad[i].why, "rc %d why '%s'", rc, why);
	}
}

/* An Ethernet + IPv4 + UDP (or @proto) frame from 10.0.0.1:@sport, MF set if @frag. */
static uint32_t mk_frame(uint8_t *f, uint8_t proto, uint16_t sport, int frag)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	uint32_t src = ip4("10.0.0.1"), dst = ip4("10.0.0.100");

	memset(f, 0, 64);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 8;
	ip[6] = frag ? 0x20 : 0;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	l4[0] = (uint8_t)(sport >> 8);
	l4[1] = (uint8_t)sport;
	l4[3] = 9;
	l4[5] = 16;
	return 14 + 36;
}

static void test_tx_ports(void)
{
	struct nic_filters fl;
	struct pv_nic_filter req = { .vi_id = 1, .type = PV_NIC_FILTER_IPV4, .proto = IPPROTO_UDP,
				     .dst_port = 5000, .dst_ip = ip4("10.0.0.1") };
	struct pv_nic_filter other = req;
	struct nic_txpolicy p = { .mac_set = true, .ip_set = true, .ports_set = true,
				  .ip = ip4("10.0.0.1"), .fl = &fl, .vi = 1, .max_len = 1514 };
	uint8_t f[64];
	uint32_t id, len;

	memcpy(p.mac, "\x02\x00\x00\x00\x00\x01", 6);
	T_CHECK(nic_filters_init(&fl, 16, 8, 4) == 0 && nic_filter_add(&fl, &req, &id) == 0,
		"tx ports: VI 1 has UDP 10.0.0.1:5000", "-");
	other.vi_id = 2;
	other.dst_port = 6000;
	T_CHECK(nic_filter_add(&fl, &other, &id) == 0, "tx ports: VI 2 has UDP 10.0.0.1:6000", "-");
	len = mk_frame(f, IPPROTO_UDP, 5000, 0);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_NONE, "tx ports: UDP from its filter's port passes");
	len = mk_frame(f, IPPROTO_UDP, 5001, 0);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_TX_SPOOF, "tx ports: another port is spoofing");
	len = mk_frame(f, IPPROTO_UDP, 6000, 0);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_TX_SPOOF,
	     "tx ports: another VI's port is spoofing");
	len = mk_frame(f, IPPROTO_TCP, 5000, 0);
	f[14 + 20 + 12] = 0x50;	/* TCP data offset 5 */
	T_EQ(nic_tx_check(&p, f, 14 + 20 + 20, 14 + 20 + 20), PV_NIC_ERR_TX_SPOOF,
	     "tx ports: TCP from a UDP filter's port is spoofing");
	len = mk_frame(f, IPPROTO_UDP, 5000, 1);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_TX_SPOOF, "tx ports: a fragment is refused");
	len = mk_frame(f, IPPROTO_ICMP, 0, 0);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_TX_SPOOF, "tx ports: ICMP is refused");
	memset(f + 12, 0, 50);
	f[12] = 0x08;
	f[13] = 0x06;	/* ARP from our MAC and address */
	memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(f + 22, p.mac, 6);
	memcpy(f + 28, &p.ip, 4);
	T_EQ(nic_tx_check(&p, f, 42, 42), PV_NIC_ERR_TX_SPOOF, "tx ports: ARP is refused");
	p.ports_set = false;
	T_EQ(nic_tx_check(&p, f, 42, 42), PV_NIC_ERR_NONE, "tx ports: without them ARP as ourselves passes");
	len = mk_frame(f, IPPROTO_UDP, 5001, 0);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_NONE, "tx ports: without them any port passes");
	nic_filter_del_vi(&fl, 1);
	p.ports_set = true;
	len = mk_frame(f, IPPROTO_UDP, 5000, 0);
	T_EQ(nic_tx_check(&p, f, len, len), PV_NIC_ERR_TX_SPOOF,
	     "tx ports: its filter gone, the port is no longer its");
	nic_filters_fini(&fl);
}

int main(void)
{
	test_policy_good();
	test_policy_bad();
	test_tx_ports();
	return t_done();
}
