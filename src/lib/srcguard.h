/* SPDX-License-Identifier: MIT */
/*
 * srcguard.h - "a guest sends only as itself": the one rule on the source
 * addresses of a frame a guest sends, shared by netback (pvnetd's slow
 * path, src/back/srcguard.c) and the NIC's TX check (pvnet-nicd's fast
 * path, src/nic/txcheck.c), so both paths decide every frame alike.
 *
 * pv_sg_parse() reads a frame (pure: no state) and says what it claims:
 * the addresses it uses as its own (IPv4 source, ARP sender, IPv6
 * source, Neighbour Advertisement target) and whether its link-layer
 * fields are the vif's MAC (ARP sender hardware address; the source and
 * target link-layer address options of NDP).  pv_sg_check() then tests
 * every claim against a set of addresses.  The caller owns the set: the
 * toolstack's `ip` key, or (netback, without `ip`) the addresses learned
 * first come first served (src/back/srcguard.c).
 *
 * The rule (docs/xenbus.md, "ip"):
 *  - IPv4: the source is one of the set; 0.0.0.0 only from UDP port 68
 *    to 67 (a DHCP client without an address yet).
 *  - ARP (Ethernet/IPv4 only, any other ARP is refused): the sender MAC
 *    is the vif's, the sender IP one of the set; 0.0.0.0 only in a
 *    request (an RFC 5227 probe).
 *  - IPv6: the source is one of the set, or the link-local address
 *    derived from the vif's MAC (modified EUI-64) always, or :: in
 *    ICMPv6 Neighbour Solicitation (DAD) and MLD reports only.
 *  - NDP (RS, RA, NS, NA, redirect): every source/target link-layer
 *    address option is the vif's MAC; an NA's target is one of the
 *    guest's addresses (the set, or the EUI-64 link-local); NDP in an
 *    IPv6 fragment is refused (RFC 6980).
 *  - At most PV_SG_VLAN_MAX 802.1Q/802.1ad tags are looked through; a
 *    frame with more is refused (what it carries cannot be checked).
 *  - Other EtherTypes carry no IP address: not this rule's.
 * Multicast, broadcast, loopback and unspecified addresses are never
 * anyone's: a claim of one is a spoof.
 *
 * Addresses are kept as 16 bytes: IPv6, or IPv4 mapped (::ffff:a.b.c.d).
 */
#ifndef PVNET_LIB_SRCGUARD_H
#define PVNET_LIB_SRCGUARD_H

#include <stdbool.h>
#include <stdint.h>

#define PV_SG_ADDRS_MAX		8	/* addresses one vif may own (`ip` or learned) */
#define PV_SG_CLAIMS_MAX	2	/* addresses one frame claims: IPv6 source + NA target */
#define PV_SG_VLAN_MAX		2	/* tags looked through */
#define PV_SG_ADDR_STR		46	/* INET6_ADDRSTRLEN */

struct pv_sg_addr {
	uint8_t a[16];
};

struct pv_sg_addrs {
	unsigned int n;
	struct pv_sg_addr a[PV_SG_ADDRS_MAX];
};

/* Verdicts; the drop reasons are the counters' names (tx_spoof_<reason>). */
enum pv_sg_verdict {
	PV_SG_PASS = 0,
	PV_SG_IPV4,		/* IPv4 source not its own, or malformed */
	PV_SG_ARP,		/* ARP sender MAC or IP not its own, or not Ethernet/IPv4 ARP */
	PV_SG_IPV6,		/* IPv6 source not its own, or malformed */
	PV_SG_ND,		/* NDP: NA target not its own, link-layer option not its MAC */
	PV_SG_VLAN,		/* more tags than PV_SG_VLAN_MAX */
	PV_SG_CONFLICT,		/* learned mode: the address is another vif's (src/back) */
	PV_SG_FULL,		/* learned mode: the vif owns PV_SG_ADDRS_MAX already */
	PV_SG_NEED_MORE,	/* parse: the headers go on past the bytes given */
	PV_SG_NR_VERDICTS
};

/* One address a frame uses as its own, and the reason to drop it if it is not. */
struct pv_sg_claim {
	struct pv_sg_addr addr;
	enum pv_sg_verdict reason;
};

struct pv_sg_frame {
	unsigned int nclaims;
	struct pv_sg_claim claim[PV_SG_CLAIMS_MAX];
};

/**
 * pv_sg_parse() - what a frame claims as its own
 * @f:		the frame's first @avail bytes (a private copy)
 * @avail:	bytes readable at @f
 * @len:	the frame's whole length (>= @avail)
 * @mac:	the vif's MAC
 * @out:	the claims (exempt addresses, e.g. the EUI-64 link-local, are not listed)
 *
 * Return: PV_SG_PASS (check @out's claims), a drop reason (the frame is a
 * spoof whatever the set), or PV_SG_NEED_MORE (headers beyond @avail but
 * within @len: give more bytes).
 */
enum pv_sg_verdict pv_sg_parse(const uint8_t *f, uint32_t avail, uint32_t len,
			       const uint8_t mac[6], struct pv_sg_frame *out);

/**
 * pv_sg_check() - the whole rule against a fixed set (the `ip` key, the NIC)
 * Return: PV_SG_PASS, a drop reason, or PV_SG_NEED_MORE.
 */
enum pv_sg_verdict pv_sg_check(const uint8_t *f, uint32_t avail, uint32_t len,
			       const uint8_t mac[6], const struct pv_sg_addrs *set);

bool pv_sg_has(const struct pv_sg_addrs *set, const struct pv_sg_addr *a);
/* Add @a unless present; 0, or -ENOSPC when full. */
int pv_sg_add(struct pv_sg_addrs *set, const struct pv_sg_addr *a);
bool pv_sg_equal(const struct pv_sg_addrs *x, const struct pv_sg_addrs *y);

/* A unicast address a host may call its own (not multicast, broadcast, loopback, 0). */
bool pv_sg_addr_unicast(const struct pv_sg_addr *a);
bool pv_sg_addr_is_v4(const struct pv_sg_addr *a);
void pv_sg_addr_v4(struct pv_sg_addr *a, const uint8_t ip[4]);
/* fe80::/64 with the interface id of @mac (modified EUI-64, RFC 4291 appendix A). */
void pv_sg_link_local(const uint8_t mac[6], struct pv_sg_addr *a);

/* One IPv4 or IPv6 literal -> address (unicast only); 0 or -EINVAL. */
int pv_sg_addr_parse(const char *s, struct pv_sg_addr *a);
/* Literals separated by spaces or commas (`ip` as xl writes it); 0, -EINVAL, -E2BIG. */
int pv_sg_addrs_parse(const char *s, struct pv_sg_addrs *set);
void pv_sg_addr_format(const struct pv_sg_addr *a, char out[PV_SG_ADDR_STR]);
/* Space-separated, as the `ip` key; Return: the length, or -ENOSPC. */
int pv_sg_addrs_format(const struct pv_sg_addrs *set, char *out, unsigned int size);

/* The reason's name, as the counters have it: "ipv4", "arp", "ipv6", "nd", ... */
const char *pv_sg_verdict_name(enum pv_sg_verdict v);

#endif
