/* SPDX-License-Identifier: MIT */
/*
 * bridge.h - the forwarding core of pvnetd's software bridge: a learning
 * L2 switch table and its forwarding decision.  No I/O: the caller
 * (netback, uplinks) delivers the frames this module decides about.
 *
 * How this works
 * ==============
 *
 *   frame in on port P ──> pv_bridge_learn(P, src)   remember "src is behind P"
 *                     └──> pv_bridge_forward(P, dst) FORWARD to one port,
 *                                                    FLOOD, or DROP
 *   (pv_bridge_input() does both from an Ethernet header.)
 *
 *   buckets[]          pool[] (max_entries, allocated once at new())
 *   +---+             +-----------------------------+
 *   | 0 |--> idx 7 -->| mac | port | seen_ms | next |--> idx 2 --> NIL
 *   | 1 |--> NIL      +-----------------------------+
 *   |...|             unused entries sit on a free list (via next)
 *
 * Table.  A fixed array of buckets, each a singly linked chain of entries
 * taken from a pool preallocated at pv_bridge_new(): learning and lookup
 * never allocate.  The bucket of a MAC is SipHash-2-4 of the MAC under a
 * 128-bit key drawn from getrandom() at creation, so a guest that does not
 * know the key cannot aim all its MACs at one chain.
 *
 * Limits.  A guest may send frames with any source MAC it likes
 * (BADINPUTS 20).  Each port may hold at most its cap of learned MACs
 * (pv_bridge_config.port_cap, or pv_bridge_port_set_cap()); a new MAC from a
 * port at its cap is not learned and is counted as a cap drop.  When the
 * whole pool is used, a new MAC is learned only by reusing an *expired*
 * entry of its own bucket; live entries are never evicted, so one port's
 * flood cannot push out another port's stations.  A port whose MACs are
 * not learned still gets its frames forwarded: their replies are flooded.
 *
 * Station moves.  A live MAC seen on another port moves there (a guest
 * migrated, a cable moved) if the new port is under its cap; moves are
 * counted per port and globally.  Static entries (pv_bridge_add_static(),
 * e.g. a vif's MAC from xenstore) never move, never age and do not count
 * against the cap: a guest claiming another guest's static MAC as source
 * is refused and counted (move_denied), and cannot steal its traffic.
 *
 * Aging.  Learned entries whose last sighting is aging_ms or more in the
 * past are expired: lookups treat them as unknown (the frame floods), and
 * pv_bridge_age(), called periodically, frees them.  Time is the caller's
 * monotonic milliseconds; nothing here reads a clock.
 *
 * Forwarding.  Broadcast and multicast destinations, and unknown or
 * expired unicast ones, FLOOD: to every port with PV_BRIDGE_PORT_FLOOD
 * except the ingress port (pv_bridge_flood_next()).  A destination learned
 * on the ingress port itself is DROPped (hairpin: never sent back where it
 * came from).  Otherwise FORWARD to the one port that learned it.
 *
 * Ports.  Small integers from 0, the lowest free id first, reused after
 * pv_bridge_port_del(), which also frees all the port's entries, static
 * ones included, and resets its stats: a reused id inherits nothing.
 *
 * Concurrency.  None: a bridge belongs to one thread (pvnetd's loop).
 * Lookups update statistics, so even they need the bridge exclusively.
 */
#ifndef PVNET_BRIDGE_H
#define PVNET_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Ethernet helpers ---- */

#define PV_ETH_ALEN	6
#define PV_ETH_HLEN	14

/**
 * struct pv_ethhdr - Ethernet II header, as on the wire
 * @dst:	destination MAC
 * @src:	source MAC
 * @type:	EtherType, network byte order
 */
struct pv_ethhdr {
	uint8_t dst[PV_ETH_ALEN];
	uint8_t src[PV_ETH_ALEN];
	uint16_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct pv_ethhdr) == PV_ETH_HLEN, "pv_ethhdr is 14 bytes");

/**
 * pv_eth_is_multicast() - group address (broadcast included)?
 * @mac:	MAC address
 *
 * Return: true if the I/G bit, the low bit of the first octet, is set.
 */
static inline bool pv_eth_is_multicast(const uint8_t mac[PV_ETH_ALEN])
{
	return mac[0] & 0x01;
}

/**
 * pv_eth_is_broadcast() - ff:ff:ff:ff:ff:ff?
 * @mac:	MAC address
 *
 * Return: true for the broadcast address.
 */
static inline bool pv_eth_is_broadcast(const uint8_t mac[PV_ETH_ALEN])
{
	return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

/**
 * pv_eth_is_zero() - 00:00:00:00:00:00?
 * @mac:	MAC address
 *
 * Return: true for the all-zero address.
 */
static inline bool pv_eth_is_zero(const uint8_t mac[PV_ETH_ALEN])
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

/**
 * pv_eth_is_valid_src() - may this address be a frame's source?
 * @mac:	MAC address
 *
 * Return: true for a non-zero unicast address; only those are learned.
 */
static inline bool pv_eth_is_valid_src(const uint8_t mac[PV_ETH_ALEN])
{
	return !pv_eth_is_multicast(mac) && !pv_eth_is_zero(mac);
}

/* ---- Bridge ---- */

#define PV_BRIDGE_DEFAULT_ENTRIES	4096
#define PV_BRIDGE_DEFAULT_PORT_CAP	64
#define PV_BRIDGE_DEFAULT_AGING_MS	300000
#define PV_BRIDGE_DEFAULT_PORTS		64
#define PV_BRIDGE_MAX_ENTRIES		(1u << 22)
#define PV_BRIDGE_MAX_BUCKETS		(1u << 22)
#define PV_BRIDGE_MAX_PORTS		4096
#define PV_BRIDGE_NAME_LEN		16	/* IFNAMSIZ, with the NUL */
#define PV_BRIDGE_KEY_LEN		16

/**
 * struct pv_bridge_config - creation parameters; zero means the default
 * @max_entries:	MAC table size, all ports together (default 4096)
 * @port_cap:		learned MACs per port (default 64)
 * @aging_ms:		idle time after which a learned entry expires
 *			(default 300000, Linux's 300 s)
 * @buckets:		hash buckets, rounded up to a power of two
 *			(default: max_entries rounded up)
 * @max_ports:		port ids are 0 .. max_ports - 1 (default 64)
 * @hash_key:		16-byte SipHash key, or NULL for a random one from
 *			getrandom(); only tests should pass a fixed key
 */
struct pv_bridge_config {
	uint32_t max_entries;
	uint32_t port_cap;
	uint64_t aging_ms;
	uint32_t buckets;
	uint32_t max_ports;
	const uint8_t *hash_key;
};

/* Port flags. */
#define PV_BRIDGE_PORT_LEARN	0x1u	/* learn source MACs of its frames */
#define PV_BRIDGE_PORT_FLOOD	0x2u	/* receive flooded frames */
#define PV_BRIDGE_PORT_UPLINK	0x4u	/* leads to the physical network:
					 * informational, for the caller */
#define PV_BRIDGE_PORT_DEFAULT	(PV_BRIDGE_PORT_LEARN | PV_BRIDGE_PORT_FLOOD)
#define PV_BRIDGE_PORT_ALL	(PV_BRIDGE_PORT_LEARN | PV_BRIDGE_PORT_FLOOD | \
				 PV_BRIDGE_PORT_UPLINK)

/**
 * struct pv_bridge_port_stats - per-port counters
 * @learned:	learned entries on this port now (statics not included)
 * @statics:	static entries on this port now
 * @cap_drops:	new source MACs not learned because the port was at its cap
 * @full_drops:	new source MACs not learned because the table was full
 * @moves:	live stations that moved to this port from another
 * @move_denied: sources refused because they are static on another port
 */
struct pv_bridge_port_stats {
	uint32_t learned;
	uint32_t statics;
	uint64_t cap_drops;
	uint64_t full_drops;
	uint64_t moves;
	uint64_t move_denied;
};

/**
 * struct pv_bridge_stats - bridge-wide counters
 * @entries:	entries in the table now, learned and static
 * @capacity:	max_entries
 * @ports:	ports in use now
 * @table_full:	new source MACs not learned because no entry was free
 * @reclaimed:	expired entries reused by learning when the table was full
 * @aged:	expired entries freed by pv_bridge_age()
 * @moves:	station moves, all ports
 * @bad_src:	multicast, broadcast or zero source MACs ignored
 * @lookup_hit:	unicast destinations found live in the table
 * @lookup_miss: unicast destinations unknown or expired
 * @forwards:	FORWARD verdicts
 * @floods:	FLOOD verdicts (broadcast, multicast, unknown unicast)
 * @hairpin_drops: DROP verdicts: destination behind the ingress port
 * @bad_port_drops: DROP verdicts: ingress port not in use
 */
struct pv_bridge_stats {
	uint32_t entries;
	uint32_t capacity;
	uint32_t ports;
	uint64_t table_full;
	uint64_t reclaimed;
	uint64_t aged;
	uint64_t moves;
	uint64_t bad_src;
	uint64_t lookup_hit;
	uint64_t lookup_miss;
	uint64_t forwards;
	uint64_t floods;
	uint64_t hairpin_drops;
	uint64_t bad_port_drops;
};

/* What pv_bridge_learn() did with a source MAC. */
enum pv_bridge_learn_result {
	PV_BRIDGE_LEARN_NEW = 0,	/* new entry (or an expired one reused) */
	PV_BRIDGE_LEARN_REFRESH,	/* already on this port: timestamp renewed */
	PV_BRIDGE_LEARN_MOVED,		/* was live on another port, moved here */
	PV_BRIDGE_LEARN_IGNORED,	/* invalid source, or learning off */
	PV_BRIDGE_LEARN_CAP,		/* port at its cap: not learned */
	PV_BRIDGE_LEARN_FULL,		/* table full: not learned */
	PV_BRIDGE_LEARN_DENIED,		/* static on another port: not moved */
};

/* The forwarding decision. */
enum pv_bridge_verdict {
	PV_BRIDGE_FORWARD = 0,	/* to the one port in *out_port */
	PV_BRIDGE_FLOOD,	/* to every pv_bridge_flood_next() port */
	PV_BRIDGE_DROP,		/* hairpin, or bad ingress port */
};

/**
 * struct pv_bridge_entry_info - one MAC table row, for dumps
 * @mac:	the station's MAC
 * @port:	the port it is behind
 * @is_static:	added by pv_bridge_add_static()
 * @age_ms:	time since last seen (0 for static entries)
 */
struct pv_bridge_entry_info {
	uint8_t mac[PV_ETH_ALEN];
	int port;
	bool is_static;
	uint64_t age_ms;
};

struct pv_bridge;

struct pv_bridge *pv_bridge_new(const struct pv_bridge_config *cfg);
void pv_bridge_free(struct pv_bridge *br);

int pv_bridge_port_add(struct pv_bridge *br, void *owner, const char *name);
int pv_bridge_port_del(struct pv_bridge *br, int port);
int pv_bridge_port_set_flags(struct pv_bridge *br, int port, unsigned int flags);
int pv_bridge_port_flags(const struct pv_bridge *br, int port);
int pv_bridge_port_set_cap(struct pv_bridge *br, int port, uint32_t cap);
void *pv_bridge_port_owner(const struct pv_bridge *br, int port);
const char *pv_bridge_port_name(const struct pv_bridge *br, int port);
int pv_bridge_port_stats(const struct pv_bridge *br, int port,
			 struct pv_bridge_port_stats *out);

int pv_bridge_learn(struct pv_bridge *br, int port,
		    const uint8_t src[PV_ETH_ALEN], uint64_t now_ms);
enum pv_bridge_verdict pv_bridge_forward(struct pv_bridge *br, int in_port,
					 const uint8_t dst[PV_ETH_ALEN],
					 uint64_t now_ms, int *out_port);
enum pv_bridge_verdict pv_bridge_input(struct pv_bridge *br, int in_port,
				       const struct pv_ethhdr *eh,
				       uint64_t now_ms, int *out_port);
int pv_bridge_flood_next(const struct pv_bridge *br, int in_port, int prev);

/* for (p = first flood target; p >= 0; p = next) */
#define pv_bridge_foreach_flood(br, in_port, p)				\
	for ((p) = pv_bridge_flood_next((br), (in_port), -1); (p) >= 0;	\
	     (p) = pv_bridge_flood_next((br), (in_port), (p)))

int pv_bridge_add_static(struct pv_bridge *br, int port,
			 const uint8_t mac[PV_ETH_ALEN]);
int pv_bridge_del_mac(struct pv_bridge *br, const uint8_t mac[PV_ETH_ALEN]);
unsigned int pv_bridge_age(struct pv_bridge *br, uint64_t now_ms);

typedef int (*pv_bridge_entry_cb)(const struct pv_bridge_entry_info *e, void *arg);
int pv_bridge_foreach_entry(const struct pv_bridge *br, uint64_t now_ms,
			    pv_bridge_entry_cb cb, void *arg);
void pv_bridge_stats(const struct pv_bridge *br, struct pv_bridge_stats *out);
uint32_t pv_bridge_longest_chain(const struct pv_bridge *br);

uint64_t pv_bridge_siphash(const uint8_t key[PV_BRIDGE_KEY_LEN],
			   const uint8_t mac[PV_ETH_ALEN]);

#endif
