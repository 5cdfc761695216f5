/* SPDX-License-Identifier: MIT */
/*
 * bridge.c - learning L2 switch table and forwarding decision.
 *
 * See bridge.h for how this works.  Invariants kept by every function:
 *  - an entry is either on exactly one bucket chain or on the free list;
 *  - an entry on a chain belongs to a port in use;
 *  - port.stats.learned + port.stats.statics = entries on that port;
 *  - stats.entries = entries on chains = max_entries - free entries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "back/bridge.h"

#define PV_BRIDGE_NIL	UINT32_MAX

/**
 * struct pv_bridge_fdb - one MAC table entry (forwarding database row)
 * @mac:	station MAC
 * @is_static:	set by pv_bridge_add_static(): never ages, never moves
 * @port:	port the station is behind
 * @next:	next entry of the bucket chain or free list, or PV_BRIDGE_NIL
 * @seen_ms:	last time a frame from @mac came in on @port
 */
struct pv_bridge_fdb {
	uint8_t mac[PV_ETH_ALEN];
	uint8_t is_static;
	uint16_t port;
	uint32_t next;
	uint64_t seen_ms;
};

/**
 * struct pv_bridge_port - one port
 * @used:	allocated by pv_bridge_port_add()
 * @flags:	PV_BRIDGE_PORT_*
 * @cap:	most learned entries this port may hold
 * @owner:	caller's cookie (its vif or uplink)
 * @name:	for dumps and logs
 * @stats:	counters
 */
struct pv_bridge_port {
	bool used;
	unsigned int flags;
	uint32_t cap;
	void *owner;
	char name[PV_BRIDGE_NAME_LEN];
	struct pv_bridge_port_stats stats;
};

/**
 * struct pv_bridge - the bridge
 * @ports:	max_ports ports, indexed by id
 * @max_ports:	size of @ports
 * @pool:	all entries, preallocated
 * @max_entries: size of @pool
 * @buckets:	chain heads, indices into @pool
 * @bucket_mask: number of buckets - 1 (a power of two)
 * @free_head:	free list of @pool
 * @port_cap:	default cap of new ports
 * @aging_ms:	learned entries idle this long are expired
 * @key:	SipHash key
 * @stats:	counters
 */
struct pv_bridge {
	struct pv_bridge_port *ports;
	uint32_t max_ports;
	struct pv_bridge_fdb *pool;
	uint32_t max_entries;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t free_head;
	uint32_t port_cap;
	uint64_t aging_ms;
	uint8_t key[PV_BRIDGE_KEY_LEN];
	struct pv_bridge_stats stats;
};

/* ---- SipHash-2-4 of a MAC ---- */

#define PV_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

/**
 * pv_bridge_sipround() - one SipRound
 * @v:		the four state words
 */
static void pv_bridge_sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = PV_ROTL(v[1], 13); v[1] ^= v[0]; v[0] = PV_ROTL(v[0], 32);
	v[2] += v[3]; v[3] = PV_ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = PV_ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = PV_ROTL(v[1], 17); v[1] ^= v[2]; v[2] = PV_ROTL(v[2], 32);
}

/**
 * pv_bridge_le64() - load 8 bytes, little-endian
 * @p:		the bytes
 *
 * Return: the value.
 */
static uint64_t pv_bridge_le64(const uint8_t *p)
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = (x << 8) | p[i];
	return x;
}

/**
 * pv_bridge_siphash() - SipHash-2-4 of a 6-byte message
 * @key:	16-byte key
 * @mac:	the message
 *
 * A 6-byte message is a single final block: the six bytes little-endian
 * and the length in the top byte.  Equal to the reference siphash() on
 * (mac, 6) with 8-byte output read little-endian.
 *
 * Return: the 64-bit tag.
 */
uint64_t pv_bridge_siphash(const uint8_t key[PV_BRIDGE_KEY_LEN],
			   const uint8_t mac[PV_ETH_ALEN])
{
	uint64_t k0 = pv_bridge_le64(key), k1 = pv_bridge_le64(key + 8);
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL,
	};
	uint64_t b = (uint64_t)PV_ETH_ALEN << 56;

	for (int i = PV_ETH_ALEN - 1; i >= 0; i--)
		b |= (uint64_t)mac[i] << (8 * i);
	v[3] ^= b;
	pv_bridge_sipround(v);
	pv_bridge_sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		pv_bridge_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- small helpers ---- */

/**
 * pv_bridge_bucket() - the chain head a MAC hashes to
 * @br:		bridge
 * @mac:	MAC
 *
 * Return: pointer to the bucket's head index.
 */
static uint32_t *pv_bridge_bucket(struct pv_bridge *br, const uint8_t mac[PV_ETH_ALEN])
{
	return &br->buckets[pv_bridge_siphash(br->key, mac) & br->bucket_mask];
}

/**
 * pv_bridge_find_link() - find a MAC's entry
 * @br:		bridge
 * @mac:	MAC
 *
 * Return: the link (bucket head or a predecessor's @next) that holds the
 * entry's index, or holds PV_BRIDGE_NIL if the MAC is not in the table;
 * either way the entry can be unlinked through it.
 */
static uint32_t *pv_bridge_find_link(struct pv_bridge *br, const uint8_t mac[PV_ETH_ALEN])
{
	uint32_t *link = pv_bridge_bucket(br, mac);

	while (*link != PV_BRIDGE_NIL &&
	       memcmp(br->pool[*link].mac, mac, PV_ETH_ALEN) != 0)
		link = &br->pool[*link].next;
	return link;
}

/**
 * pv_bridge_find() - a MAC's entry, live or expired
 * @br:		bridge
 * @mac:	MAC
 *
 * Return: the entry, or NULL.
 */
static struct pv_bridge_fdb *pv_bridge_find(struct pv_bridge *br,
					    const uint8_t mac[PV_ETH_ALEN])
{
	uint32_t idx = *pv_bridge_find_link(br, mac);

	return idx == PV_BRIDGE_NIL ? NULL : &br->pool[idx];
}

/**
 * pv_bridge_expired() - is an entry too old to forward by?
 * @br:		bridge
 * @e:		entry
 * @now_ms:	current time
 *
 * A timestamp in the future (caller's clocks disagree) counts as fresh.
 *
 * Return: true if @e is a learned entry idle for aging_ms or more.
 */
static bool pv_bridge_expired(const struct pv_bridge *br,
			      const struct pv_bridge_fdb *e, uint64_t now_ms)
{
	if (e->is_static || now_ms < e->seen_ms)
		return false;
	return now_ms - e->seen_ms >= br->aging_ms;
}

/**
 * pv_bridge_port_get() - a port in use, by id
 * @br:		bridge
 * @port:	id, possibly bogus
 *
 * Return: the port, or NULL if @port is out of range or free.
 */
static struct pv_bridge_port *pv_bridge_port_get(const struct pv_bridge *br, int port)
{
	if (port < 0 || (uint32_t)port >= br->max_ports || !br->ports[port].used)
		return NULL;
	return &br->ports[port];
}

/**
 * pv_bridge_port_count() - charge or credit an entry to its port
 * @br:		bridge
 * @e:		entry (its @port and @is_static say which counter)
 * @delta:	+1 or -1
 */
static void pv_bridge_port_count(struct pv_bridge *br,
				 const struct pv_bridge_fdb *e, int delta)
{
	struct pv_bridge_port_stats *ps = &br->ports[e->port].stats;

	if (e->is_static)
		ps->statics += delta;
	else
		ps->learned += delta;
}

/**
 * pv_bridge_unlink() - remove the entry a link points to, and free it
 * @br:		bridge
 * @link:	link holding the entry's index (not PV_BRIDGE_NIL)
 */
static void pv_bridge_unlink(struct pv_bridge *br, uint32_t *link)
{
	uint32_t idx = *link;
	struct pv_bridge_fdb *e = &br->pool[idx];

	pv_bridge_port_count(br, e, -1);
	*link = e->next;
	memset(e, 0, sizeof(*e));
	e->next = br->free_head;
	br->free_head = idx;
	br->stats.entries--;
}

/**
 * pv_bridge_reclaim() - free one expired entry of a bucket
 * @br:		bridge
 * @bucket:	chain head
 * @now_ms:	current time
 *
 * Used only when the pool is empty, so that a full table of stale entries
 * keeps learning between two pv_bridge_age() calls.  Only the bucket the
 * new MAC hashes to is searched, keeping the cost per frame bounded.
 *
 * Return: true if an entry was freed.
 */
static bool pv_bridge_reclaim(struct pv_bridge *br, uint32_t *bucket, uint64_t now_ms)
{
	for (uint32_t *link = bucket; *link != PV_BRIDGE_NIL;
	     link = &br->pool[*link].next) {
		if (pv_bridge_expired(br, &br->pool[*link], now_ms)) {
			pv_bridge_unlink(br, link);
			br->stats.reclaimed++;
			return true;
		}
	}
	return false;
}

/**
 * pv_bridge_insert() - take a free entry for a MAC not in the table
 * @br:		bridge
 * @port:	port it is behind
 * @mac:	MAC
 * @is_static:	static entry?
 * @now_ms:	current time
 *
 * Inserts at the head of the bucket rather than through a link found
 * earlier: a reclaim may have freed the very entry such a link lives in.
 *
 * Return: the entry, or NULL if no entry is free.
 */
static struct pv_bridge_fdb *pv_bridge_insert(struct pv_bridge *br, int port,
					      const uint8_t mac[PV_ETH_ALEN],
					      bool is_static, uint64_t now_ms)
{
	uint32_t *bucket = pv_bridge_bucket(br, mac);
	struct pv_bridge_fdb *e;
	uint32_t idx;

	if (br->free_head == PV_BRIDGE_NIL && !pv_bridge_reclaim(br, bucket, now_ms))
		return NULL;
	idx = br->free_head;
	e = &br->pool[idx];
	br->free_head = e->next;
	memcpy(e->mac, mac, PV_ETH_ALEN);
	e->is_static = is_static;
	e->port = (uint16_t)port;
	e->seen_ms = now_ms;
	e->next = *bucket;
	*bucket = idx;
	br->stats.entries++;
	pv_bridge_port_count(br, e, +1);
	return e;
}

/* ---- lifecycle ---- */

/**
 * pv_bridge_round_pow2() - smallest power of two >= @n
 * @n:		at most 1 << 31
 *
 * Return: the power of two.
 */
static uint32_t pv_bridge_round_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/**
 * pv_bridge_apply_config() - fill in defaults and check limits
 * @br:		bridge being created
 * @cfg:	caller's configuration, or NULL
 *
 * Return: number of buckets, or 0 if @cfg is out of range.
 */
static uint32_t pv_bridge_apply_config(struct pv_bridge *br,
				       const struct pv_bridge_config *cfg)
{
	static const struct pv_bridge_config none;
	uint32_t buckets;

	if (!cfg)
		cfg = &none;
	br->max_entries = cfg->max_entries ? cfg->max_entries : PV_BRIDGE_DEFAULT_ENTRIES;
	br->port_cap = cfg->port_cap ? cfg->port_cap : PV_BRIDGE_DEFAULT_PORT_CAP;
	br->aging_ms = cfg->aging_ms ? cfg->aging_ms : PV_BRIDGE_DEFAULT_AGING_MS;
	br->max_ports = cfg->max_ports ? cfg->max_ports : PV_BRIDGE_DEFAULT_PORTS;
	buckets = cfg->buckets ? cfg->buckets : br->max_entries;
	if (br->max_entries > PV_BRIDGE_MAX_ENTRIES || buckets > PV_BRIDGE_MAX_BUCKETS ||
	    br->max_ports > PV_BRIDGE_MAX_PORTS)
		return 0;
	return pv_bridge_round_pow2(buckets);
}

/**
 * pv_bridge_seed() - set the hash key
 * @br:		bridge
 * @key:	16 bytes, or NULL for random ones
 *
 * Return: 0, or -errno if getrandom() fails.
 */
static int pv_bridge_seed(struct pv_bridge *br, const uint8_t *key)
{
	size_t got = 0;

	if (key) {
		memcpy(br->key, key, PV_BRIDGE_KEY_LEN);
		return 0;
	}
	while (got < PV_BRIDGE_KEY_LEN) {
		ssize_t n = getrandom(br->key + got, PV_BRIDGE_KEY_LEN - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

/**
 * pv_bridge_new() - create a bridge with no ports and an empty table
 * @cfg:	parameters, or NULL for all defaults
 *
 * All memory the bridge will ever use is allocated here.
 *
 * Return: the bridge, or NULL with errno set (EINVAL for a configuration
 * out of range, ENOMEM, or getrandom()'s error).
 */
struct pv_bridge *pv_bridge_new(const struct pv_bridge_config *cfg)
{
	struct pv_bridge *br = calloc(1, sizeof(*br));
	uint32_t nbuckets;
	int err = -ENOMEM;

	if (!br)
		return NULL;
	nbuckets = pv_bridge_apply_config(br, cfg);
	if (!nbuckets) {
		err = -EINVAL;
		goto fail;
	}
	br->ports = calloc(br->max_ports, sizeof(*br->ports));
	br->pool = calloc(br->max_entries, sizeof(*br->pool));
	br->buckets = malloc(nbuckets * sizeof(*br->buckets));
	if (!br->ports || !br->pool || !br->buckets)
		goto fail;
	err = pv_bridge_seed(br, cfg ? cfg->hash_key : NULL);
	if (err)
		goto fail;
	br->bucket_mask = nbuckets - 1;
	for (uint32_t i = 0; i < nbuckets; i++)
		br->buckets[i] = PV_BRIDGE_NIL;
	for (uint32_t i = 0; i < br->max_entries; i++)
		br->pool[i].next = i + 1 < br->max_entries ? i + 1 : PV_BRIDGE_NIL;
	br->free_head = 0;
	br->stats.capacity = br->max_entries;
	return br;
fail:
	pv_bridge_free(br);
	errno = -err;
	return NULL;
}

/**
 * pv_bridge_free() - destroy a bridge
 * @br:		bridge, or NULL
 *
 * Port owners are the caller's; they are not touched.
 */
void pv_bridge_free(struct pv_bridge *br)
{
	if (!br)
		return;
	free(br->ports);
	free(br->pool);
	free(br->buckets);
	free(br);
}

/* ---- ports ---- */

/**
 * pv_bridge_port_add() - add a port
 * @br:		bridge
 * @owner:	caller's cookie, returned by pv_bridge_port_owner()
 * @name:	name for dumps (truncated to 15 characters), or NULL
 *
 * The port starts with PV_BRIDGE_PORT_DEFAULT flags, the configured cap
 * and zeroed stats.
 *
 * Return: the port id, the lowest free one, or -ENOSPC.
 */
int pv_bridge_port_add(struct pv_bridge *br, void *owner, const char *name)
{
	for (uint32_t i = 0; i < br->max_ports; i++) {
		struct pv_bridge_port *p = &br->ports[i];

		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->flags = PV_BRIDGE_PORT_DEFAULT;
		p->cap = br->port_cap;
		p->owner = owner;
		if (name)
			snprintf(p->name, sizeof(p->name), "%s", name);
		br->stats.ports++;
		return (int)i;
	}
	return -ENOSPC;
}

/**
 * pv_bridge_port_del() - remove a port and every entry behind it
 * @br:		bridge
 * @port:	port id
 *
 * O(buckets + entries): ports come and go at guest speed, not frame speed.
 *
 * Return: 0, or -EINVAL if @port is not in use.
 */
int pv_bridge_port_del(struct pv_bridge *br, int port)
{
	struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	if (!p)
		return -EINVAL;
	for (uint32_t b = 0; b <= br->bucket_mask; b++) {
		uint32_t *link = &br->buckets[b];

		while (*link != PV_BRIDGE_NIL) {
			if (br->pool[*link].port == port)
				pv_bridge_unlink(br, link);
			else
				link = &br->pool[*link].next;
		}
	}
	memset(p, 0, sizeof(*p));
	br->stats.ports--;
	return 0;
}

/**
 * pv_bridge_port_set_flags() - set a port's PV_BRIDGE_PORT_* flags
 * @br:		bridge
 * @port:	port id
 * @flags:	new flags (replacing the old ones)
 *
 * Turning learning off keeps the entries already learned; they age out.
 *
 * Return: 0, or -EINVAL for a bad port or unknown flags.
 */
int pv_bridge_port_set_flags(struct pv_bridge *br, int port, unsigned int flags)
{
	struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	if (!p || (flags & ~PV_BRIDGE_PORT_ALL))
		return -EINVAL;
	p->flags = flags;
	return 0;
}

/**
 * pv_bridge_port_flags() - a port's flags
 * @br:		bridge
 * @port:	port id
 *
 * Return: the flags, or -EINVAL for a bad port.
 */
int pv_bridge_port_flags(const struct pv_bridge *br, int port)
{
	const struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	return p ? (int)p->flags : -EINVAL;
}

/**
 * pv_bridge_port_set_cap() - set how many MACs a port may have learned
 * @br:		bridge
 * @port:	port id
 * @cap:	new cap, at least 1 (clear PV_BRIDGE_PORT_LEARN for none)
 *
 * Lowering the cap below the current count evicts nothing: the port
 * learns no new MAC until aging brings it under the cap.
 *
 * Return: 0, or -EINVAL.
 */
int pv_bridge_port_set_cap(struct pv_bridge *br, int port, uint32_t cap)
{
	struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	if (!p || cap == 0)
		return -EINVAL;
	p->cap = cap;
	return 0;
}

/**
 * pv_bridge_port_owner() - the cookie given to pv_bridge_port_add()
 * @br:		bridge
 * @port:	port id
 *
 * Return: the owner, or NULL for a bad port.
 */
void *pv_bridge_port_owner(const struct pv_bridge *br, int port)
{
	const struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	return p ? p->owner : NULL;
}

/**
 * pv_bridge_port_name() - a port's name
 * @br:		bridge
 * @port:	port id
 *
 * Return: the name (valid until the port is deleted), or NULL.
 */
const char *pv_bridge_port_name(const struct pv_bridge *br, int port)
{
	const struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	return p ? p->name : NULL;
}

/**
 * pv_bridge_port_stats() - copy a port's counters
 * @br:		bridge
 * @port:	port id
 * @out:	filled in
 *
 * Return: 0, or -EINVAL for a bad port.
 */
int pv_bridge_port_stats(const struct pv_bridge *br, int port,
			 struct pv_bridge_port_stats *out)
{
	const struct pv_bridge_port *p = pv_bridge_port_get(br, port);

	if (!p)
		return -EINVAL;
	*out = p->stats;
	return 0;
}

/* ---- learning ---- */

/**
 * pv_bridge_relearn() - a known MAC seen again on @port
 * @br:		bridge
 * @p:		the port (in use)
 * @port:	its id
 * @e:		the MAC's entry, live or expired, on any port
 * @now_ms:	current time
 *
 * Return: a pv_bridge_learn_result.
 */
static int pv_bridge_relearn(struct pv_bridge *br, struct pv_bridge_port *p,
			     int port, struct pv_bridge_fdb *e, uint64_t now_ms)
{
	bool live = !pv_bridge_expired(br, e, now_ms);

	if (e->port == port) {
		e->seen_ms = now_ms;
		return PV_BRIDGE_LEARN_REFRESH;
	}
	if (e->is_static) {
		/* Someone else's pinned MAC as source: spoofing or a
		 * misconfiguration; either way the owner keeps it. */
		p->stats.move_denied++;
		return PV_BRIDGE_LEARN_DENIED;
	}
	if (p->stats.learned >= p->cap) {
		p->stats.cap_drops++;
		return PV_BRIDGE_LEARN_CAP;
	}
	pv_bridge_port_count(br, e, -1);
	e->port = (uint16_t)port;
	e->seen_ms = now_ms;
	pv_bridge_port_count(br, e, +1);
	if (!live)
		return PV_BRIDGE_LEARN_NEW;	/* a stale entry reused, not a move */
	p->stats.moves++;
	br->stats.moves++;
	return PV_BRIDGE_LEARN_MOVED;
}

/**
 * pv_bridge_learn() - note that @src is behind @port
 * @br:		bridge
 * @port:	ingress port id
 * @src:	source MAC of a frame that came in on @port
 * @now_ms:	current time
 *
 * Never evicts a live entry: a port at its cap, or a full table, just
 * stops learning (and frames to the unlearned MACs flood).
 *
 * Return: a pv_bridge_learn_result (>= 0), or -EINVAL if @port is not in
 * use.
 */
int pv_bridge_learn(struct pv_bridge *br, int port,
		    const uint8_t src[PV_ETH_ALEN], uint64_t now_ms)
{
	struct pv_bridge_port *p = pv_bridge_port_get(br, port);
	struct pv_bridge_fdb *e;

	if (!p)
		return -EINVAL;
	if (!pv_eth_is_valid_src(src)) {
		br->stats.bad_src++;
		return PV_BRIDGE_LEARN_IGNORED;
	}
	if (!(p->flags & PV_BRIDGE_PORT_LEARN))
		return PV_BRIDGE_LEARN_IGNORED;
	e = pv_bridge_find(br, src);
	if (e)
		return pv_bridge_relearn(br, p, port, e, now_ms);
	if (p->stats.learned >= p->cap) {
		p->stats.cap_drops++;
		return PV_BRIDGE_LEARN_CAP;
	}
	if (!pv_bridge_insert(br, port, src, false, now_ms)) {
		p->stats.full_drops++;
		br->stats.table_full++;
		return PV_BRIDGE_LEARN_FULL;
	}
	return PV_BRIDGE_LEARN_NEW;
}

/**
 * pv_bridge_add_static() - pin a MAC to a port
 * @br:		bridge
 * @port:	port id
 * @mac:	a valid unicast MAC
 *
 * Replaces a learned entry for @mac wherever it is.  Static entries do not
 * count against the port's cap (they still take a table entry) and are
 * removed only by pv_bridge_del_mac() or pv_bridge_port_del().
 *
 * Return: 0; -EINVAL for a bad port or MAC; -EEXIST if @mac is static on
 * another port; -ENOSPC if the table is full.
 */
int pv_bridge_add_static(struct pv_bridge *br, int port,
			 const uint8_t mac[PV_ETH_ALEN])
{
	uint32_t *link;

	if (!pv_bridge_port_get(br, port) || !pv_eth_is_valid_src(mac))
		return -EINVAL;
	link = pv_bridge_find_link(br, mac);
	if (*link != PV_BRIDGE_NIL) {
		struct pv_bridge_fdb *e = &br->pool[*link];

		if (e->is_static)
			return e->port == port ? 0 : -EEXIST;
		pv_bridge_unlink(br, link);
	}
	/* now_ms 0: nothing may be reclaimed by age here; statics never expire. */
	return pv_bridge_insert(br, port, mac, true, 0) ? 0 : -ENOSPC;
}

/**
 * pv_bridge_del_mac() - forget a MAC, static or learned
 * @br:		bridge
 * @mac:	MAC
 *
 * Return: 0, or -ENOENT if it was not in the table.
 */
int pv_bridge_del_mac(struct pv_bridge *br, const uint8_t mac[PV_ETH_ALEN])
{
	uint32_t *link = pv_bridge_find_link(br, mac);

	if (*link == PV_BRIDGE_NIL)
		return -ENOENT;
	pv_bridge_unlink(br, link);
	return 0;
}

/**
 * pv_bridge_age() - free expired entries
 * @br:		bridge
 * @now_ms:	current time
 *
 * Call periodically (every few seconds); O(buckets + entries).
 *
 * Return: the number of entries freed.
 */
unsigned int pv_bridge_age(struct pv_bridge *br, uint64_t now_ms)
{
	unsigned int n = 0;

	for (uint32_t b = 0; b <= br->bucket_mask; b++) {
		uint32_t *link = &br->buckets[b];

		while (*link != PV_BRIDGE_NIL) {
			if (pv_bridge_expired(br, &br->pool[*link], now_ms)) {
				pv_bridge_unlink(br, link);
				n++;
			} else {
				link = &br->pool[*link].next;
			}
		}
	}
	br->stats.aged += n;
	return n;
}

/* ---- forwarding ---- */

/**
 * pv_bridge_forward() - decide where a frame goes
 * @br:		bridge
 * @in_port:	port the frame came in on
 * @dst:	its destination MAC
 * @now_ms:	current time
 * @out_port:	set to the egress port for PV_BRIDGE_FORWARD, else -1
 *
 * Return: PV_BRIDGE_FORWARD, PV_BRIDGE_FLOOD (send to each port of
 * pv_bridge_foreach_flood()) or PV_BRIDGE_DROP (hairpin or bad @in_port).
 */
enum pv_bridge_verdict pv_bridge_forward(struct pv_bridge *br, int in_port,
					 const uint8_t dst[PV_ETH_ALEN],
					 uint64_t now_ms, int *out_port)
{
	struct pv_bridge_fdb *e;

	*out_port = -1;
	if (!pv_bridge_port_get(br, in_port)) {
		br->stats.bad_port_drops++;
		return PV_BRIDGE_DROP;
	}
	if (pv_eth_is_multicast(dst)) {
		br->stats.floods++;
		return PV_BRIDGE_FLOOD;
	}
	e = pv_bridge_find(br, dst);
	if (!e || pv_bridge_expired(br, e, now_ms)) {
		br->stats.lookup_miss++;
		br->stats.floods++;
		return PV_BRIDGE_FLOOD;
	}
	br->stats.lookup_hit++;
	if (e->port == in_port) {
		/* The destination is where the frame came from: the segment
		 * behind that port already delivered it, or it is a loop. */
		br->stats.hairpin_drops++;
		return PV_BRIDGE_DROP;
	}
	*out_port = e->port;
	br->stats.forwards++;
	return PV_BRIDGE_FORWARD;
}

/**
 * pv_bridge_input() - learn a frame's source, then decide its fate
 * @br:		bridge
 * @in_port:	ingress port
 * @eh:		the frame's Ethernet header (in private memory)
 * @now_ms:	current time
 * @out_port:	as for pv_bridge_forward()
 *
 * Return: as pv_bridge_forward().
 */
enum pv_bridge_verdict pv_bridge_input(struct pv_bridge *br, int in_port,
				       const struct pv_ethhdr *eh,
				       uint64_t now_ms, int *out_port)
{
	(void)pv_bridge_learn(br, in_port, eh->src, now_ms);
	return pv_bridge_forward(br, in_port, eh->dst, now_ms, out_port);
}

/**
 * pv_bridge_flood_next() - iterate over the ports a flooded frame goes to
 * @br:		bridge
 * @in_port:	ingress port, skipped
 * @prev:	previous port returned, or -1 to start
 *
 * Targets are the ports in use with PV_BRIDGE_PORT_FLOOD, in id order.
 *
 * Return: the next target after @prev, or -1 when there are no more.
 */
int pv_bridge_flood_next(const struct pv_bridge *br, int in_port, int prev)
{
	uint32_t i = prev < 0 ? 0 : (uint32_t)prev + 1;

	for (; i < br->max_ports; i++) {
		const struct pv_bridge_port *p = &br->ports[i];

		if (p->used && (p->flags & PV_BRIDGE_PORT_FLOOD) && (int)i != in_port)
			return (int)i;
	}
	return -1;
}

/* ---- introspection ---- */

/**
 * pv_bridge_foreach_entry() - call @cb for each live entry
 * @br:		bridge
 * @now_ms:	current time (expired entries are skipped)
 * @cb:		callback; must not modify the bridge; non-zero stops
 * @arg:	passed to @cb
 *
 * Order is the hash order, i.e. arbitrary.
 *
 * Return: 0, or the first non-zero value @cb returned.
 */
int pv_bridge_foreach_entry(const struct pv_bridge *br, uint64_t now_ms,
			    pv_bridge_entry_cb cb, void *arg)
{
	for (uint32_t b = 0; b <= br->bucket_mask; b++) {
		for (uint32_t i = br->buckets[b]; i != PV_BRIDGE_NIL; i = br->pool[i].next) {
			const struct pv_bridge_fdb *e = &br->pool[i];
			struct pv_bridge_entry_info info = {
				.port = e->port,
				.is_static = e->is_static,
			};
			int rc;

			if (pv_bridge_expired(br, e, now_ms))
				continue;
			memcpy(info.mac, e->mac, PV_ETH_ALEN);
			if (!e->is_static && now_ms > e->seen_ms)
				info.age_ms = now_ms - e->seen_ms;
			rc = cb(&info, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/**
 * pv_bridge_stats() - copy the bridge-wide counters
 * @br:		bridge
 * @out:	filled in
 */
void pv_bridge_stats(const struct pv_bridge *br, struct pv_bridge_stats *out)
{
	*out = br->stats;
}

/**
 * pv_bridge_longest_chain() - length of the longest bucket chain
 * @br:		bridge
 *
 * A diagnostic for dumps and tests: with a secret key it stays short
 * whatever MACs the guests choose.  O(buckets + entries).
 *
 * Return: the number of entries in the fullest bucket.
 */
uint32_t pv_bridge_longest_chain(const struct pv_bridge *br)
{
	uint32_t longest = 0;

	for (uint32_t b = 0; b <= br->bucket_mask; b++) {
		uint32_t n = 0;

		for (uint32_t i = br->buckets[b]; i != PV_BRIDGE_NIL; i = br->pool[i].next)
			n++;
		if (n > longest)
			longest = n;
	}
	return longest;
}
