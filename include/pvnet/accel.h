/* SPDX-License-Identifier: MIT */
/*
 * accel.h - the accelerator plugin interface: the contract between pvnet's
 * split network drivers and the plugins that give a vif a fast path.
 *
 * After Solarflare's netfront_accel_hooks (0x00010003) and
 * netback_accel_hooks (0x00010001) in linux-2.6.18-xen:
 *
 *   guest (pvnet-front)                        host (pvnetd)
 *   +--------------------------------+         +---------------------------------+
 *   | netfront --start_xmit--> front |  fast   | netback --probe/remove--> back  |
 *   |   ^       <-poll/deliver- plugin|==path==>|   --frame (seen, 1.1)--> plugin |
 *   |   | slow path: netif rings     |  (the   |                                 |
 *   |   +============================|=plugins'|=================================|
 *   +--------------------------------+   own)  +---------------------------------+
 *
 * Discovery, through xenstore as in the original:
 *
 *   1. the toolstack (or `pvnetctl accel D N on NIC`) writes the backend
 *      directory's "accel" = NIC, the name of the NIC a backend plugin serves;
 *   2. netback finds the backend plugin registered for that NIC and calls
 *      probe(vif); the plugin publishes "accel-frontend" = the frontend
 *      plugin's name (pv_accel_back_publish_frontend);
 *   3. netfront watches <backend>/accel-frontend: present (or changed) ->
 *      new_device() of the frontend plugin of that name; 0 = hooks installed;
 *      gone -> remove();
 *   4. both sides publish "accelstate" (a XenbusState number) in their own
 *      directory: the host writes Initialising before new_device/probe,
 *      Connected when it returned 0 (unless the plugin set a state of its
 *      own meanwhile: then the plugin drives it), Closed after remove or a
 *      refusal.
 *
 *   "accel" removed (pvnetctl accel D N off) -> remove(vif), the host deletes
 *   "accel-frontend" -> netfront detaches.
 *
 * Frontend hooks.  Called by netfront from its single-threaded loop, never
 * nested in one another, and never while a hook is running are hooks
 * installed or removed (the original excluded poll and transmit with a
 * lock; here the loop does it).
 *
 *   start_xmit   first thing netfront's transmit does, for every frame while
 *                the vif is connected.  PV_ACCEL_SENT: the plugin sent it
 *                (counted as fast path); PV_ACCEL_NOT_SENT: netfront sends it
 *                on the slow path; PV_ACCEL_BUSY: the plugin keeps the frame
 *                (it copies it: @iov is valid only during the call) and
 *                netfront stops taking frames from its upper edge until
 *                check_ready() says go AND the slow path has room.  As in the
 *                original, every NOT_SENT test must come before any BUSY
 *                test: a frame once held must not turn into NOT_SENT.
 *   poll         from netfront's poll, with the budget the slow path left;
 *                deliver received frames with pv_accel_front_deliver();
 *                return how many frames were handled (== budget: there may
 *                be more, netfront polls again soon).
 *   stop_irq /   around netfront's poll: disable / re-arm the plugin's own
 *   start_irq    notification; start_irq returns non-zero if events are
 *                already pending (netfront polls again).  With its
 *                notification armed, the plugin calls pv_accel_front_kick()
 *                from its event handler (its "interrupt").
 *   check_ready  non-zero when no frame is held: TX may resume.
 *   get_stats    add the fast path's counters since the last call (deltas)
 *                to *delta (zeroed by netfront); called whenever netfront's
 *                stats are read, on every poll, and one last time just
 *                before remove().
 *   remove       the reverse of new_device.  A frame still held as BUSY must
 *                be handed back with pv_accel_front_return() (from remove or
 *                before): netfront sends it on the slow path (or counts it
 *                dropped); a held frame is never lost silently, never sent
 *                twice.
 *
 * Optional frontend hook (version 1.1; NULL, or an ops table of 1.0's
 * size, and netfront never calls it):
 *
 *   flush        the upper edge ended a batch of transmits (netfront's own
 *                flush, where it pushes its ring and notifies once): post
 *                what start_xmit staged, ringing the plugin's doorbell once
 *                for the batch, as a NIC driver's xmit_more ends.  Without
 *                it, a plugin rings from poll after a kick.
 *
 * Optional frontend hooks (version 1.3; NULL, or an ops table of 1.2's
 * size: netfront reads every frame into its own slow-path pages and offers
 * it with start_xmit).  All three or none:
 *
 *   tx_lend      lend netfront buffers of the plugin's own (pvnic: free VI
 *                TX buffers) to read the next frame from the upper edge
 *                into: fill up to @max (PV_ACCEL_LEND_IOV) iovecs, in frame
 *                order, and return
 *                how many (0: no loan; netfront uses its slow-path pages
 *                and start_xmit as before).  Asked only while the vif is
 *                connected and TX is not stopped; one loan at a time, and a
 *                loan lasts only for one upper-edge read: netfront ends it
 *                (tx_lent or tx_unlend) before it returns to its loop, so a
 *                loan is never out across a remove() or a migration.
 *                The loan must hold a maximum frame (PV_NF_MAX_FRAME bytes
 *                in at most @max iovecs) or netfront gives it back unused.
 *                After 0 (no loan: e.g. too few free buffers) netfront uses
 *                its own pages and start_xmit for that frame, as before.
 *   tx_lent      the frame (@len bytes, @vh or NULL) is in the lent buffers.
 *                SENT: the plugin sent it from there (no copy), the loan is
 *                over; BUSY: the plugin keeps it, as start_xmit's BUSY;
 *                NOT_SENT: the plugin's own rules keep it off the fast path
 *                (as start_xmit's NOT_SENT, decided the same way): the
 *                buffers stay lent, netfront copies the frame out for the
 *                slow path (sent at once, or kept as a returned frame is
 *                until the slow path has room: never lost) and then calls
 *                tx_unlend.
 *   tx_unlend    the loan ends unused (the read failed, or after NOT_SENT):
 *                the buffers are the plugin's again.
 *
 * Backend hooks: probe(vif) and remove(vif), per vif; 0 from probe = the
 * plugin serves it.  Everything else (the NIC, buffers, filters, the
 * plugins' own message channel) is the plugin's own control work.  Vifs
 * that exist when a backend plugin registers are probed then.
 *
 * Optional backend hooks (version 1.1; NULL, or an ops table of 1.0's
 * size, and the host never calls them), for the vifs a plugin serves:
 *
 *   frame        netback met a frame of this vif on the slow path: one it
 *                delivers to the guest (@how: from an uplink or other
 *                non-vif port, or from another vif) or one the guest sent
 *                (after netback's source MAC check).  @hdr is the frame's
 *                first @hdr_len bytes (at most 128; Ethernet + IPv4 + TCP
 *                fit), valid during the call only.  On the data path: parse
 *                only, never allocate, and bound any control work it starts
 *                (the original's netback installed RX filters from here:
 *                a flow to an accelerated guest arriving on dom0's queue).
 *   vifs_changed a vif came or went on this host (pv_accel_back_local_macs
 *                has changed); called for every served vif.
 *   show         add the plugin's view of this vif to `pvnetctl accel D N
 *                show` with pv_accel_kv_u64/str (may do blocking control
 *                work: it runs on the operator's request).
 *   show_nic     the same for the NIC (`pvnetctl nic`); @arg is the
 *                registration's.
 *
 * Optional backend hook (version 1.2):
 *
 *   get_fds      the frontend half of the plugin this vif's accel-frontend
 *                names asked for its descriptors (pv_accel_front_get_fds):
 *                put new descriptors (dup()s: the host sends then closes
 *                them) in @fds, at most @max; return how many, -EAGAIN
 *                (not ready yet) or -errno.  Without it: -ENOENT.
 *
 * Registration is by name, built-in plugins being instances like any
 * other: a table of ops (versioned: major must match, and @size must
 * cover the ops the host calls: an optional op beyond @size is taken as
 * NULL, so a 1.0 table still registers) and an opaque @arg given back to
 * new_device/probe.  The hosts start a plugin's halves from its struct
 * pv_accel_plugin (below): built in (one table, src/accel/plugins.c) or
 * exported by a shared object as pv_accel_plugin and loaded by path
 * (--accel-plugin).  Writing one: docs/accel.md.
 *
 * Versioning: a major version changes only with an incompatible change;
 * a minor one adds (optional ops at the end of a table, host functions).
 * 1.2 added get_fds, the frame reserve, the store, grant, domain, loop
 * and descriptor calls, and struct pv_accel_plugin.
 *
 * Threads: the frontend registry and hooks belong to the thread that runs
 * the netfronts' loop, the backend registry and hooks to pvnetd's loop
 * thread.  Errors are negative errno values.
 */
#ifndef PVNET_ACCEL_H
#define PVNET_ACCEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

/* A 1.3 loan: at most this many iovecs (a 64 KiB frame in 2 KiB buffers, and room). */
#define PV_ACCEL_LEND_IOV	40

/* Versions: major in the top 16 bits (must match), minor below (additions). */
#define PV_ACCEL_FRONT_VERSION	0x00010003u	/* 1.1: flush; 1.2: the host's reserve,
						 * grant, xs_connect, get_fds, loop calls;
						 * 1.3: tx_lend, tx_lent, tx_unlend */
#define PV_ACCEL_BACK_VERSION	0x00010002u	/* 1.1: frame, vifs_changed, show, show_nic;
						 * 1.2: get_fds, the host's xs, grant and
						 * loop calls */
#define PV_ACCEL_VERSION_MAJOR(v) ((v) >> 16)
/*
 * PV_ACCEL_OP() - an optional op of an ops table, or NULL when the table
 * (its @size) ends before it: how a host calls a newer minor version's op.
 */
#define PV_ACCEL_OP(ops, type, op)							\
	((ops)->size >= offsetof(type, op) + sizeof((ops)->op) ? (ops)->op : NULL)

#define PV_ACCEL_NAME_MAX	32	/* names: [a-z0-9_.-]{1,31} */

/* The xenstore keys of accelerator discovery (ORIGINAL.md). */
#define PV_ACCEL_KEY_NIC	"accel"			/* backend dir: NIC name */
#define PV_ACCEL_KEY_FRONTEND	"accel-frontend"	/* backend dir: frontend plugin */
#define PV_ACCEL_KEY_STATE	"accelstate"		/* both dirs: XenbusState */

/* start_xmit's answer. */
enum pv_accel_xmit {
	PV_ACCEL_NOT_SENT = 0,		/* CANT: the slow path sends it */
	PV_ACCEL_SENT = 1,		/* GOOD: sent on the fast path */
	PV_ACCEL_BUSY = 2,		/* held; queue stopped until check_ready */
};

/* Fast-path counters, as deltas since the previous get_stats call. */
struct pv_accel_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
};
_Static_assert(sizeof(struct pv_accel_stats) == 64, "pv_accel_stats is part of the ABI");

/* ---------------------------------------------------------------------- */
/* Frontend: hooks in netfront (pvnet-front).                             */
/* ---------------------------------------------------------------------- */

/* One vif of one netfront, as netfront shows it to a plugin (opaque). */
struct pv_accel_front_dev;

struct pv_accel_front_ops {
	uint32_t version;		/* PV_ACCEL_FRONT_VERSION */
	uint32_t size;			/* sizeof(struct pv_accel_front_ops) */
	const char *name;		/* the frontend plugin's name */
	int (*new_device)(struct pv_accel_front_dev *dev, void *arg);
	void (*remove)(struct pv_accel_front_dev *dev);
	enum pv_accel_xmit (*start_xmit)(struct pv_accel_front_dev *dev,
					 const struct virtio_net_hdr *vh,
					 const struct iovec *iov, int iovcnt, uint32_t len);
	int (*poll)(struct pv_accel_front_dev *dev, int budget);
	int (*start_irq)(struct pv_accel_front_dev *dev);
	void (*stop_irq)(struct pv_accel_front_dev *dev);
	int (*check_ready)(struct pv_accel_front_dev *dev);
	void (*get_stats)(struct pv_accel_front_dev *dev, struct pv_accel_stats *delta);
	/* 1.1: optional, may be NULL */
	void (*flush)(struct pv_accel_front_dev *dev);
	/* 1.3: optional, all three or none */
	int (*tx_lend)(struct pv_accel_front_dev *dev, struct iovec *iov, int max);
	enum pv_accel_xmit (*tx_lent)(struct pv_accel_front_dev *dev,
				      const struct virtio_net_hdr *vh, uint32_t len);
	void (*tx_unlend)(struct pv_accel_front_dev *dev);
};
/* The size of a 1.0 table (everything before flush): still accepted. */
#define PV_ACCEL_FRONT_OPS_SIZE_1_0	(8 + 9 * sizeof(void *))
/* The size of a 1.1/1.2 table (everything before tx_lend): still accepted. */
#define PV_ACCEL_FRONT_OPS_SIZE_1_2	(8 + 10 * sizeof(void *))
_Static_assert(sizeof(struct pv_accel_front_ops) == 8 + 13 * sizeof(void *),
	       "pv_accel_front_ops v1.3: grow only at the end, bump the minor version");

/*
 * pv_accel_front_register() - make a frontend plugin known by @ops->name
 * @arg: given back to new_device()
 * Return: 0, -EEXIST (name taken), -EINVAL (bad name, version or size).
 */
int pv_accel_front_register(const struct pv_accel_front_ops *ops, void *arg);
/* Forget it; -EBUSY while a netfront uses it, -ENOENT if unknown. */
int pv_accel_front_unregister(const char *name);

/* What a plugin may ask of netfront about its device. */
void *pv_accel_front_priv(const struct pv_accel_front_dev *dev);
void pv_accel_front_set_priv(struct pv_accel_front_dev *dev, void *priv);
struct pv_loop *pv_accel_front_loop(const struct pv_accel_front_dev *dev);
/* The guest domain (opaque: an identity to compare, e.g. across remove and new_device). */
struct pv_guest *pv_accel_front_guest(const struct pv_accel_front_dev *dev);
/* netfront's own xenstore connection (opaque); a plugin makes its own, pv_accel_front_xs_connect. */
struct xsc *pv_accel_front_xs(const struct pv_accel_front_dev *dev);
const char *pv_accel_front_path(const struct pv_accel_front_dev *dev);	/* frontend dir */
const char *pv_accel_front_backend(const struct pv_accel_front_dev *dev);	/* backend dir */
const uint8_t *pv_accel_front_mac(const struct pv_accel_front_dev *dev);
unsigned int pv_accel_front_mtu(const struct pv_accel_front_dev *dev);
/* 1.2: the guest's domain id and the vif's device id. */
unsigned int pv_accel_front_domid(const struct pv_accel_front_dev *dev);
unsigned int pv_accel_front_devid(const struct pv_accel_front_dev *dev);

/*
 * 1.2: the frame reserve.  Every netfront registers PV_ACCEL_FRONT_RESERVE
 * pages of memory with its domain that netfront itself never uses: the
 * plugin's buffers, granted to the backend's domain as it needs.  Grant
 * refs are below PV_ACCEL_FRONT_GRANT_MAX.
 *
 *   pv_accel_front_page()       page @i (0 .. PV_ACCEL_FRONT_RESERVE-1) of
 *                               the reserve (PV_ACCEL_PAGE_SIZE bytes), NULL
 *                               out of range or without a domain
 *   pv_accel_front_grant()      grant page @i to @domid: the ref, or -errno
 *   pv_accel_front_end_grant()  end a grant of the reserve: 0, -EBUSY while
 *                               the grantee has it mapped (retry later),
 *                               -EINVAL if @ref is not a grant of a reserve
 *                               page (never touches netfront's own grants)
 */
#define PV_ACCEL_FRONT_RESERVE	256
#define PV_ACCEL_FRONT_GRANT_MAX 2048
#define PV_ACCEL_PAGE_SIZE	4096
void *pv_accel_front_page(const struct pv_accel_front_dev *dev, unsigned int i);
int pv_accel_front_grant(struct pv_accel_front_dev *dev, unsigned int i, unsigned int domid,
			 int readonly);
int pv_accel_front_end_grant(struct pv_accel_front_dev *dev, uint32_t ref);
/* 1.2: a new xenstore connection of the guest's own (the plugin owns the fd). */
int pv_accel_front_xs_connect(struct pv_accel_front_dev *dev);
/*
 * 1.2: pv_accel_front_get_fds() - the descriptors the backend half hands
 * this plugin for its vif (its get_fds op, over the hypervisor socket,
 * asked for by this plugin's name), at most @max (PV_ACCEL_MAX_FDS).
 * Return: how many, -EAGAIN (not ready yet: ask again), -ENOENT (the
 * backend serves no such vif under this name), or another -errno.
 */
#define PV_ACCEL_MAX_FDS	4
int pv_accel_front_get_fds(struct pv_accel_front_dev *dev, int *fds, unsigned int max);

/*
 * pv_accel_front_deliver() - a frame received on the fast path, to the
 * guest's stack (call from poll).  @iov (at most PV_ACCEL_DELIVER_IOV
 * pieces) is read during the call only; @vh may carry a GSO frame of up
 * to 64 KiB with its partial checksum (virtio-net's rules).
 * Return: 0, or -errno if the upper edge dropped it (the plugin counts it).
 */
#define PV_ACCEL_DELIVER_IOV	64
int pv_accel_front_deliver(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
			   const struct iovec *iov, int iovcnt, uint32_t len);
/* The plugin's interrupt: run netfront's poll soon (from the loop). */
void pv_accel_front_kick(struct pv_accel_front_dev *dev);
/* Whether the slow path has room for a frame of @len bytes now. */
int pv_accel_front_slow_room(struct pv_accel_front_dev *dev, uint32_t len);
/*
 * pv_accel_front_return() - hand back a frame held as BUSY: netfront sends
 * it on the slow path before any later frame.  Copied during the call.
 * Return: 0 (sent or queued), -ENOBUFS (dropped and counted: a second
 * frame returned while one still waits, or netfront is going away).
 */
int pv_accel_front_return(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
			  const void *frame, uint32_t len);
/* Publish the frontend's "accelstate" (a XenbusState); the plugin drives it from now on. */
int pv_accel_front_set_state(struct pv_accel_front_dev *dev, int state);

/* ---------------------------------------------------------------------- */
/* Backend: hooks in netback (pvnetd).                                    */
/* ---------------------------------------------------------------------- */

/* One vif, as netback shows it to a plugin (opaque). */
struct pv_accel_back_vif;
/* Where show()/show_nic() put their keys and values (opaque). */
struct pv_accel_kv;

/* frame(): how netback met the frame. */
enum pv_accel_frame_how {
	PV_ACCEL_FRAME_RX_EXTERNAL = 1,	/* to the guest, from a port that is not a vif:
					 * an uplink (the NIC's host VI), the host port */
	PV_ACCEL_FRAME_RX_LOCAL = 2,	/* to the guest, from another vif of this host */
	PV_ACCEL_FRAME_TX = 3,		/* from the guest, source MAC checked */
};

struct pv_accel_back_ops {
	uint32_t version;		/* PV_ACCEL_BACK_VERSION */
	uint32_t size;			/* sizeof(struct pv_accel_back_ops) */
	const char *name;		/* the backend plugin's own name (logs, pvnetctl) */
	int (*probe)(struct pv_accel_back_vif *vif, void *arg);
	void (*remove)(struct pv_accel_back_vif *vif);
	/* 1.1: optional, may be NULL */
	void (*frame)(struct pv_accel_back_vif *vif, enum pv_accel_frame_how how,
		      const uint8_t *hdr, uint32_t hdr_len, uint32_t len);
	void (*vifs_changed)(struct pv_accel_back_vif *vif);
	void (*show)(struct pv_accel_back_vif *vif, struct pv_accel_kv *kv);
	void (*show_nic)(void *arg, struct pv_accel_kv *kv);
	/* 1.2: optional, may be NULL */
	int (*get_fds)(struct pv_accel_back_vif *vif, int *fds, unsigned int max);
};
/* The size of a 1.0 table (probe and remove only): still accepted. */
#define PV_ACCEL_BACK_OPS_SIZE_1_0	(8 + 3 * sizeof(void *))
_Static_assert(sizeof(struct pv_accel_back_ops) == 8 + 8 * sizeof(void *),
	       "pv_accel_back_ops v1.2: grow only at the end, bump the minor version");

/*
 * pv_accel_back_register() - serve the vifs whose "accel" key is @nic
 * @arg: given back to probe()
 *
 * Vifs that already name @nic are probed now.  Return: 0, -EEXIST (a
 * plugin serves @nic already), -EINVAL (bad name, version or size).
 */
int pv_accel_back_register(const char *nic, const struct pv_accel_back_ops *ops, void *arg);
/* Remove the plugin from every vif it serves, then forget it; -ENOENT if unknown. */
int pv_accel_back_unregister(const char *nic);

void *pv_accel_back_priv(const struct pv_accel_back_vif *vif);
void pv_accel_back_set_priv(struct pv_accel_back_vif *vif, void *priv);
unsigned int pv_accel_back_domid(const struct pv_accel_back_vif *vif);
unsigned int pv_accel_back_devid(const struct pv_accel_back_vif *vif);
const uint8_t *pv_accel_back_mac(const struct pv_accel_back_vif *vif);
const char *pv_accel_back_path(const struct pv_accel_back_vif *vif);		/* backend dir */
const char *pv_accel_back_frontend(const struct pv_accel_back_vif *vif);	/* frontend dir */
struct xs_server *pv_accel_back_xs(const struct pv_accel_back_vif *vif);
struct pv_hv *pv_accel_back_hv(const struct pv_accel_back_vif *vif);
struct pv_loop *pv_accel_back_loop(const struct pv_accel_back_vif *vif);

/*
 * pv_accel_back_local_macs() - the MACs of every other vif of this host
 * (the same store), accelerated or not: up to @max into @macs.
 * Return: how many there are (may be more than @max).
 */
unsigned int pv_accel_back_local_macs(const struct pv_accel_back_vif *vif, uint8_t (*macs)[6],
				      unsigned int max);
/*
 * pv_accel_back_write() / _rm() - a key of the vif's backend directory,
 * unless the directory is being removed (a write would re-create it).
 * Return: 0, -ENOENT (directory going), or the store's -errno.
 */
int pv_accel_back_write(struct pv_accel_back_vif *vif, const char *key, const char *val);
int pv_accel_back_rm(struct pv_accel_back_vif *vif, const char *key);
/* show(), show_nic(): one key and its value (keys: [a-z0-9_]). */
void pv_accel_kv_u64(struct pv_accel_kv *kv, const char *key, uint64_t v);
void pv_accel_kv_str(struct pv_accel_kv *kv, const char *key, const char *v);

/*
 * 1.2: the host's store, for a backend plugin's own control work: the
 * @xs of pv_accel_back_xs() (or of the environment, struct
 * pv_accel_back_env), as domain 0.  Read: into @buf, NUL-terminated and
 * truncated to @size - 1; the value's length or -errno.  The others: 0 or
 * -errno.  Watch callbacks run from the loop, as Xen's WATCH_EVENT.
 */
struct xs_server;
typedef void (*pv_accel_xs_watch_cb)(struct xs_server *xs, const char *path, const char *token,
				     void *arg);
int pv_accel_xs_read(struct xs_server *xs, const char *path, char *buf, size_t size);
int pv_accel_xs_write(struct xs_server *xs, const char *path, const char *val);
int pv_accel_xs_rm(struct xs_server *xs, const char *path);
int pv_accel_xs_watch(struct xs_server *xs, const char *path, const char *token,
		      pv_accel_xs_watch_cb cb, void *arg);
int pv_accel_xs_unwatch(struct xs_server *xs, const char *path, const char *token);

/*
 * 1.2: a guest's grants, mapped by the host (domain 0) through the one
 * checked path: pv_accel_gnt_map() maps grant @ref of domain @granter
 * (0, or -errno: a bad ref, a grant not for domain 0, a read-only grant
 * asked for writing) and fills @m; @m->frame is the page's frame in the
 * granter's memory (what a NIC's buffer table names).  Keep @m as it is
 * until pv_accel_gnt_unmap().  pv_accel_domain_info(): domain @domid's
 * grant entries (refs are below @nr_grants) and its memory (@mem_fd, the
 * host's: borrowed for the call, e.g. to hand a NIC with SCM_RIGHTS;
 * @nr_pages frames); 0, or -ENOENT.
 */
struct pv_hv;
struct pv_accel_gnt {
	void *page;			/* PV_ACCEL_PAGE_SIZE bytes */
	uint32_t frame;
	uint32_t ref;
	uint64_t host[4];		/* the host's own */
};
int pv_accel_gnt_map(struct pv_hv *hv, unsigned int granter, uint32_t ref, int readonly,
		     struct pv_accel_gnt *m);
void pv_accel_gnt_unmap(struct pv_hv *hv, struct pv_accel_gnt *m);
struct pv_accel_domain {
	uint32_t nr_grants;
	uint32_t nr_pages;
	int mem_fd;
};
int pv_accel_domain_info(struct pv_hv *hv, unsigned int domid, struct pv_accel_domain *out);

/* Write "accel-frontend" = @name (the frontend plugin netfront should attach). */
int pv_accel_back_publish_frontend(struct pv_accel_back_vif *vif, const char *name);
/* Publish the backend's "accelstate"; the plugin drives it from now on. */
int pv_accel_back_set_state(struct pv_accel_back_vif *vif, int state);

/* ---------------------------------------------------------------------- */
/* Both hosts (1.2): the loop a plugin's descriptors and timers run on.    */
/* ---------------------------------------------------------------------- */

/*
 * The loop of pv_accel_front_loop() / pv_accel_back_loop() (or the
 * environment's): one thread, epoll.  pv_accel_loop_add() calls @cb with
 * the epoll events whenever @fd has one of @events (NULL on failure, with
 * errno); pv_accel_loop_timer() after @first_ms, then every @period_ms (0:
 * once).  Delete what you added before closing its fd, from any callback.
 */
struct pv_loop;
struct pv_watch;
typedef void (*pv_accel_loop_cb)(struct pv_loop *loop, int fd, uint32_t events, void *arg);
struct pv_watch *pv_accel_loop_add(struct pv_loop *loop, int fd, uint32_t events,
				   pv_accel_loop_cb cb, void *arg);
void pv_accel_loop_del(struct pv_loop *loop, struct pv_watch *w);
struct pv_watch *pv_accel_loop_timer(struct pv_loop *loop, unsigned int first_ms,
				     unsigned int period_ms, pv_accel_loop_cb cb, void *arg);
void pv_accel_loop_timer_del(struct pv_loop *loop, struct pv_watch *w);

/* ---------------------------------------------------------------------- */
/* Plugins: built in, or loaded from a shared object.                     */
/* ---------------------------------------------------------------------- */

/*
 * struct pv_accel_plugin - one accelerator plugin (usually a pair: the
 * backend half for pvnetd, the frontend half for pvnet-front), as the
 * hosts start it.  Built-in plugins are listed in one table
 * (src/accel/plugins.c); a shared object exports one as the data symbol
 * PV_ACCEL_PLUGIN_SYMBOL (PV_ACCEL_PLUGIN_EXPORT), and the hosts load it
 * by path: `pvnetd --accel-plugin PATH`, `pvnet-front --accel-plugin PATH`.
 * A loaded plugin replaces a built-in one of the same name.
 *
 * @front_version, @back_version: the accel.h it was built with.  The host
 * refuses it unless each major matches the host's and each minor is at
 * most the host's (the plugin may call any host function of its minor).
 * @size: sizeof(struct pv_accel_plugin), at least PV_ACCEL_PLUGIN_SIZE_1_2.
 *
 * back_start  pvnetd, once, before any guest: register the backend half
 *             (pv_accel_back_register) with what @env gives; *@state is
 *             given back to back_stop.  NULL: no backend half.
 * front_start pvnet-front, once, before any netfront: register the
 *             frontend half (pv_accel_front_register).  NULL: none.
 *             @env has the loop and the log settings only.
 * A shared object's private copy of logging code should log as @env
 * says (the host's ident, level, stderr or syslog).
 * *_stop      unregister and free (at exit).
 * Return of the starts: 0 or -errno (the host logs it and goes on
 * without the plugin).
 */
struct pv_accel_env {
	struct pv_loop *loop;		/* the host's loop */
	struct xs_server *xs;		/* pvnetd: its store; pvnet-front: NULL */
	struct pv_hv *hv;		/* pvnetd: its hypervisor; pvnet-front: NULL */
	const char *nic_dir;		/* pvnetd --nic DIR, or NULL */
	const char *log_ident;		/* how the host logs */
	int log_level;			/* syslog(3) levels: 3 err .. 7 debug */
	int log_syslog;			/* 1: to syslog, 0: to stderr */
};

struct pv_accel_plugin {
	uint32_t front_version;		/* PV_ACCEL_FRONT_VERSION */
	uint32_t back_version;		/* PV_ACCEL_BACK_VERSION */
	uint32_t size;			/* sizeof(struct pv_accel_plugin) */
	uint32_t reserved;		/* 0 */
	const char *name;		/* [a-z0-9_.-]{1,31} */
	int (*back_start)(const struct pv_accel_env *env, void **state);
	void (*back_stop)(void *state);
	int (*front_start)(const struct pv_accel_env *env, void **state);
	void (*front_stop)(void *state);
};
#define PV_ACCEL_PLUGIN_SIZE_1_2	(16 + 5 * sizeof(void *))
_Static_assert(sizeof(struct pv_accel_plugin) == PV_ACCEL_PLUGIN_SIZE_1_2,
	       "pv_accel_plugin v1.2: grow only at the end, bump the minor versions");

#define PV_ACCEL_PLUGIN_SYMBOL	"pv_accel_plugin"
/* In a plugin's shared object: its one exported symbol. */
#define PV_ACCEL_PLUGIN_EXPORT(desc)							\
	__attribute__((visibility("default")))						\
	const struct pv_accel_plugin *const pv_accel_plugin = &(desc)

/* Older: a shared object "<dir>/pvnet-accel-<name>.so" whose constructor registers. */
#define PV_ACCEL_DIR_ENV	"PVNET_ACCEL_DIR"
#define PV_ACCEL_DIR_DEFAULT	"/usr/lib/pvnet/accel"

/*
 * pv_accel_load() - dlopen "<dir>/pvnet-accel-<name>.so", whose constructor
 * registers its plugin(s)
 * @dir: NULL for $PVNET_ACCEL_DIR, else PV_ACCEL_DIR_DEFAULT
 * Return: 0, -EINVAL (bad name), -ENOENT (cannot load; logged).
 */
int pv_accel_load(const char *dir, const char *name);

/* Plugin and NIC names: [a-z0-9_.-]{1,31}.  1 if @s is one. */
static inline int pv_accel_name_ok(const char *s)
{
	int n = 0;

	for (; s[n]; n++)
		if (n >= PV_ACCEL_NAME_MAX - 1 ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
		      s[n] == '_' || s[n] == '.' || s[n] == '-'))
			return 0;
	return n > 0;
}

#endif
