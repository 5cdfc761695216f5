/* SPDX-License-Identifier: MIT */
/*
 * hv_proto.h - the hypervisor socket: how a domain talks to pvnetd's
 * hypervisor services.  This header is the spec of that wire protocol.
 *
 * pvnetd listens on <run-dir>/hv.sock, a Unix SOCK_SEQPACKET socket.  One
 * connection is one domain: registering makes it one, closing the
 * connection destroys it and reclaims everything it held (grant mappings,
 * event channels, its xenstore connections, watches and nodes).
 *
 *   guest                                   pvnetd
 *     | -- REGISTER {name, sizes} +fds[mem, gnttab] -->  |  seal, map, give a domid
 *     | <-- reply {domid}        +fds[xenstore conn] --  |
 *     | -- EVTCHN_ALLOC_UNBOUND {remote} ------------->  |
 *     | <-- reply {port}         +fds[in, out] --------  |
 *     | ...                                              |
 *
 * Every message is one datagram: a struct pv_hv_hdr, then hdr.len bytes
 * of body; descriptors ride as SCM_RIGHTS.  Each request gets exactly one
 * reply with the same type and seq, err = 0 or a negative errno.  A
 * malformed request (short, oversized, unknown type, wrong body length,
 * unexpected descriptors) gets an error reply; attached descriptors are
 * always closed, never kept.  A peer that keeps sending malformed requests
 * is disconnected (PV_HV_MAX_ERRORS).
 *
 * Memory: the domain's shareable memory is a memfd of at least nr_pages
 * 4 KiB pages whose frame numbers are page indices; its grant table is a
 * memfd of at least nr_grants grant_entry_v1_t (8 bytes each) rounded up to
 * a whole 4 KiB page, i.e. ((nr_grants * 8 + 4095) & ~4095) bytes.  pvnetd
 * adds F_SEAL_SHRINK (and F_SEAL_SEAL) to both before mapping them, so the
 * guest cannot truncate them under the daemon (SIGBUS): create them with
 * memfd_create(..., MFD_ALLOW_SEALING), or seal them yourself with at least
 * F_SEAL_SHRINK.  REGISTER fails with EPERM for a memfd that can be neither
 * sealed nor is already sealed against shrinking (no MFD_ALLOW_SEALING),
 * EBADF for a descriptor that is not a regular file, EINVAL for one smaller
 * than these sizes (checked after sealing).
 *
 * Event channels: each port is a pair of eventfds.  "in" becomes readable
 * when the remote end notifies; writing 1 (a uint64_t) to "out" notifies
 * the remote end.  Masking is the receiver's own business: a masked port
 * keeps its pending count in the eventfd until unmasked.
 */
#ifndef PVNET_HV_PROTO_H
#define PVNET_HV_PROTO_H

#include <stdint.h>

#define PV_HV_VERSION      1
#define PV_HV_SOCK_NAME    "hv.sock"
#define PV_XS_SOCK_NAME    "xenstored.sock"
#define PV_HV_MSG_MAX      4096	/* header + body, whole datagram */
#define PV_HV_MAX_FDS      4
#define PV_HV_MAX_ERRORS   64	/* malformed requests before disconnect */

#define PV_HV_NAME_LEN     32

/*
 * pv_hv_name_ok() - a domain name as hv.sock takes it: 1 to
 * PV_HV_NAME_LEN - 1 characters of [A-Za-z0-9._-], NUL-terminated within
 * PV_HV_NAME_LEN.  The one rule: pvnetd's registration, pvnet-front's
 * --name and a migration record's name all ask it.
 */
static inline int pv_hv_name_ok(const char *name)
{
	unsigned int n = 0;

	for (; n < PV_HV_NAME_LEN && name[n]; n++) {
		char ch = name[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n > 0 && n < PV_HV_NAME_LEN;
}
#define PV_HV_MAX_PAGES    (1u << 18)	/* 1 GiB of shareable memory */
#define PV_HV_MAX_GRANTS   (1u << 16)
#define PV_HV_MAX_PORTS    1024

enum pv_hv_type {
	PV_HV_REGISTER = 1,
	PV_HV_EVTCHN_ALLOC_UNBOUND,
	PV_HV_EVTCHN_BIND_INTERDOMAIN,
	PV_HV_EVTCHN_CLOSE,
	PV_HV_XS_CONNECT,	/* another xenstore connection for this domain */
	PV_HV_VIF_REQUEST,	/* ask the toolstack for a vif (devid, MAC) */
	PV_HV_ACCEL_FDS,	/* an accelerated vif's fast-path descriptors */
	PV_HV_TYPE_MAX,
};

struct pv_hv_hdr {
	uint16_t type;
	uint16_t flags;		/* 0 */
	uint32_t seq;		/* echoed in the reply */
	uint32_t len;		/* body bytes after this header */
	int32_t err;		/* replies: 0 or -errno; requests: 0 */
};
_Static_assert(sizeof(struct pv_hv_hdr) == 16, "pv_hv_hdr is 16 bytes");

/* PV_HV_REGISTER, fds: [0] memory memfd, [1] grant table memfd */
struct pv_hv_register {
	uint32_t version;	/* PV_HV_VERSION */
	uint32_t nr_pages;	/* 1 .. PV_HV_MAX_PAGES */
	uint32_t nr_grants;	/* 8 .. PV_HV_MAX_GRANTS */
	uint32_t reserved;	/* 0 */
	char name[PV_HV_NAME_LEN];	/* NUL-terminated, [A-Za-z0-9._-] */
};
_Static_assert(sizeof(struct pv_hv_register) == 48, "pv_hv_register is 48 bytes");

/* reply, fds: [0] xenstore connection (a stream socket) */
struct pv_hv_register_reply {
	uint16_t domid;
	uint16_t reserved;
	uint32_t max_ports;
};

/* PV_HV_EVTCHN_ALLOC_UNBOUND */
struct pv_hv_evtchn_alloc {
	uint16_t remote_dom;
	uint16_t reserved;
};

/* PV_HV_EVTCHN_BIND_INTERDOMAIN */
struct pv_hv_evtchn_bind {
	uint16_t remote_dom;
	uint16_t reserved;
	uint32_t remote_port;
};

/* reply to ALLOC_UNBOUND and BIND_INTERDOMAIN, fds: [0] in, [1] out */
struct pv_hv_evtchn_reply {
	uint32_t port;
};

/* PV_HV_EVTCHN_CLOSE */
struct pv_hv_evtchn_close {
	uint32_t port;
};

/* PV_HV_XS_CONNECT: empty body; reply fds: [0] xenstore connection */

/*
 * PV_HV_VIF_REQUEST: the guest asks pvnetd's toolstack for vif @devid, as
 * if an operator had run "pvnetctl vif-create".  The toolstack writes the
 * frontend and backend directories (docs/xenbus.md) and the reply comes
 * once they exist; the guest then runs the xenbus handshake.  An all-zero
 * @mac asks the toolstack to choose one (00:16:3e:xx:xx:xx, Xen's OUI).
 * Refused with -EEXIST if the vif exists, -EPERM if pvnetd was started
 * with guest vif requests disabled.
 */
struct pv_hv_vif_request {
	uint32_t devid;
	uint8_t mac[6];
	uint16_t reserved;	/* 0 */
	uint32_t mtu;		/* 0: default (1500) */
};
_Static_assert(sizeof(struct pv_hv_vif_request) == 16, "pv_hv_vif_request is 16 bytes");

/* reply: the MAC the vif got */
struct pv_hv_vif_reply {
	uint8_t mac[6];
	uint16_t reserved;
};

/*
 * PV_HV_ACCEL_FDS: the frontend half of accelerator plugin @name asks for
 * the descriptors of the fast path behind its vif @devid (include/pvnet/
 * accel.h: pv_accel_front_get_fds, the backend's get_fds op).  Answered by
 * the backend plugin serving the vif, if it published @name as the vif's
 * accel-frontend.  @name is NUL-terminated, [a-z0-9_.-]{1,31}
 * (pv_accel_name_ok), else the request is malformed.  Empty reply body;
 * reply fds: 1 to PV_HV_MAX_FDS, in the plugin's own order (for "pvnic":
 * docs/accel-pvnic.md).  Refused with -EAGAIN if the vif's fast path is
 * not ready (yet), -ENOENT if the domain has no such vif served by @name.
 */
#define PV_HV_ACCEL_NAME_MAX	32	/* == PV_ACCEL_NAME_MAX */
struct pv_hv_accel_fds {
	uint32_t devid;
	char name[PV_HV_ACCEL_NAME_MAX];
};
_Static_assert(sizeof(struct pv_hv_accel_fds) == 36, "pv_hv_accel_fds is 36 bytes");

#endif
