/* SPDX-License-Identifier: MIT */
/*
 * broker.h - pvnet-broker's protocol: how an untrusted application asks
 * for its own VI of pvnet-nicd (paper section 4).  This header is the spec;
 * libpvnet (src/libpvnet/) is its client, src/broker/ its server.
 *
 *   application (any uid) + libpvnet
 *        |  DIR/broker.sock: SOCK_SEQPACKET, mode 0666, SO_PEERCRED -> policy
 *        v
 *   pvnet-broker (trusted)  --- NICDIR/nic.sock, one connection per app --->  pvnet-nicd
 *
 * One broker connection is one VI.  The connection closing (the
 * application exits or is killed) frees the VI on the NIC with its buffer
 * table entries and filters; so does the broker dying (the NIC frees what
 * a control connection owned when it closes).
 *
 * Messages: struct pv_brk_hdr (the same 16-byte header as nic.sock's),
 * then hdr.len bytes of body; descriptors as SCM_RIGHTS.  One reply per
 * request, same type and seq, err 0 or -errno.
 *
 *   OPEN       pv_brk_open -> pv_brk_open_reply + fds[VI memory, doorbell, wake-up]
 *              first on a connection, once.  The broker allocates the VI,
 *              programs its TX source check (the port's MAC, local_ip)
 *              and replies with what the VI is.  local_ip 0: the policy's
 *              first address.  -EACCES: no policy line for the caller's
 *              uid, or the address is not its; -EUSERS: its VIs are all open.
 *   MEMREG     pv_brk_memreg + fds[memfd] -> pv_brk_memreg_reply
 *              map @count 2 KiB chunks from @chunk of the memfd into the
 *              buffer table for this VI.  The memfd must be a memfd
 *              sealed against shrinking (F_SEAL_SHRINK) whose size is a
 *              whole number of 4 KiB pages; -EINVAL otherwise.  -EDQUOT
 *              past the policy's buffers per VI.
 *   FILTER     pv_brk_filter -> pv_brk_filter_reply
 *              steer (proto, local_ip, local_port) to this VI.  The broker
 *              first binds a kernel socket of that protocol to exactly
 *              that address and port, without SO_REUSEADDR/SO_REUSEPORT,
 *              and holds it as long as the filter: the kernel's word that
 *              no other program, pvnet or not, has the port or can take
 *              it (-EADDRINUSE otherwise).  local_port 0: the first free
 *              port of the policy's ranges.  -EACCES: the port is outside
 *              the caller's policy.
 *   FILTER_DEL pv_brk_filter_del
 *   STATS      (no body) -> struct pv_nic_vi_stats of this VI
 */
#ifndef PVNET_BROKER_H
#define PVNET_BROKER_H

#include <stdint.h>

#include "pvnet/nic.h"

#define PV_BRK_VERSION		1
#define PV_BRK_SOCK_NAME	"broker.sock"
#define PV_BRK_MSG_MAX		2048	/* header + body, one datagram */
#define PV_BRK_MEMREG_MAX	256u	/* chunks per MEMREG */
#define PV_BRK_FILTERS_MAX	16u	/* filters per connection */

enum pv_brk_type {
	PV_BRK_OPEN = 1,
	PV_BRK_MEMREG,
	PV_BRK_FILTER,
	PV_BRK_FILTER_DEL,
	PV_BRK_STATS,
	PV_BRK_TYPE_MAX,
};

struct pv_brk_hdr {
	uint16_t type;
	uint16_t flags;		/* 0 */
	uint32_t seq;		/* echoed in the reply */
	uint32_t len;		/* body bytes after this header */
	int32_t err;		/* replies: 0 or -errno; requests: 0 */
};

struct pv_brk_open {
	uint32_t version;	/* PV_BRK_VERSION */
	uint32_t local_ip;	/* network order; 0: the policy's first */
};

struct pv_brk_open_reply {
	uint32_t vi_id;
	uint32_t local_ip;	/* network order: the VI's source address */
	uint8_t mac[6];		/* the port's: the VI's source MAC */
	uint16_t reserved;
	uint32_t mtu;		/* the port's */
	uint32_t max_bufs;	/* MEMREG chunks this VI may have */
};

struct pv_brk_memreg {
	uint32_t chunk;		/* first 2 KiB chunk of the memfd */
	uint32_t count;		/* 1 .. PV_BRK_MEMREG_MAX */
};

struct pv_brk_memreg_reply {
	uint32_t count;
	uint32_t buf_id[PV_BRK_MEMREG_MAX];	/* chunk + i is buffer buf_id[i] */
};

struct pv_brk_filter {
	uint8_t proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	uint8_t reserved;
	uint16_t local_port;	/* host order; 0: a free one of the policy's */
	uint32_t local_ip;	/* network order: the VI's local_ip */
};

struct pv_brk_filter_reply {
	uint32_t filter_id;
	uint16_t local_port;	/* host order: the port (chosen, with 0 asked) */
	uint16_t reserved;
};

struct pv_brk_filter_del {
	uint32_t filter_id;
};

_Static_assert(sizeof(struct pv_brk_hdr) == 16, "the seqpacket call header");
_Static_assert(sizeof(struct pv_brk_open_reply) == 24, "open reply");
_Static_assert(sizeof(struct pv_brk_filter) == 8, "filter request");
_Static_assert(sizeof(struct pv_brk_memreg_reply) + 16 <= PV_BRK_MSG_MAX, "memreg reply fits");

#endif
