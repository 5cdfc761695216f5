/* SPDX-License-Identifier: MIT */
/*
 * nic.h - pvnet-nicd, the virtualization-aware NIC: the shared-memory ABI of
 * a virtual interface (VI) and the control protocol.  This header is the spec.
 *
 * Parties
 * =======
 *
 *   trusted caller (the backend accelerator plugin in pvnetd)
 *        |  DIR/nic.sock: SOCK_SEQPACKET, mode 0600, SO_PEERCRED uid 0 or ours
 *        v
 *   pvnet-nicd  ==== port: a host interface (AF_PACKET, promiscuous) ====> wire
 *        ^
 *        |  VI memory (memfd), doorbell eventfd, wake-up eventfd
 *   untrusted user of the VI (the guest's frontend plugin, a libpvnet app)
 *
 * The control socket allocates a VI and returns, by SCM_RIGHTS, three
 * descriptors: the VI's memory (a sealed memfd of PV_NIC_VI_MEM_SIZE bytes),
 * its doorbell (an eventfd the VI's user writes) and its wake-up (an eventfd
 * the NIC writes).  The trusted caller hands them to the VI's user; the
 * control socket itself is never reachable by a guest.
 *
 * VI memory
 * =========
 *
 *   offset   size                        who writes  what
 *   0x0000   64   struct pv_nic_vi_info   NIC         magic, version, sizes, vi id
 *   0x0040   64   tx_prod                 user        TX descriptors posted
 *   0x0080   64   tx_cons                 NIC         TX descriptors consumed
 *   0x00c0   64   rx_prod                 user        RX descriptors posted
 *   0x0100   64   rx_cons                 NIC         RX descriptors consumed
 *   0x0140   64   evq_prod                NIC         events written
 *   0x0180   64   evq_cons, wake_armed    user        events read; "wake me"
 *   0x01c0   64   fault                   NIC         non-zero: VI disabled, why
 *   0x1000   PV_NIC_TXQ_SIZE  x 16        user        TX ring: struct pv_nic_desc
 *   0x3000   PV_NIC_RXQ_SIZE  x 16        user        RX ring: struct pv_nic_desc
 *   0x5000   PV_NIC_EVQ_SIZE  x 16        NIC         event queue: struct pv_nic_event
 *   0x9000   (end)
 *
 * Every index is a free-running uint32_t; the slot is index & (size - 1).
 * Each index has its own 64-byte cache line so producer and consumer never
 * share one.  The NIC keeps a private copy of every index it owns and of
 * the user's last value, reads a user-written index once per pass (acquire),
 * and never reads back an index it owns: what the user scribbles on NIC-owned
 * fields is overwritten and never believed.
 *
 * Descriptors (TX and RX)
 * =======================
 *
 * A descriptor names a buffer id, never an address: an offset and a length
 * inside that buffer.  Buffers are 2 KiB (PV_NIC_BUF_SIZE): the halves of a
 * 4 KiB page of a domain's memory, mapped into the NIC's buffer table by the
 * trusted caller (BUF_MAP), each entry recording the VI that owns it.  The
 * NIC copies a descriptor once into private memory and refuses it, with an
 * ERROR event naming the descriptor's ring index and a counter, when
 *   - buf_id >= the table size                  (PV_NIC_ERR_BUF_RANGE)
 *   - the entry is free or owned by another VI  (PV_NIC_ERR_BUF_OWNER)
 *   - offset + len > PV_NIC_BUF_SIZE, or len 0  (PV_NIC_ERR_BUF_BOUNDS)
 *   - flags not defined for its ring, mss on a descriptor other than the
 *     first of a TSO frame, or reserved bits    (PV_NIC_ERR_RESERVED)
 * Nothing moves for a refused descriptor; it is consumed.
 *
 * TX frames and chains.  A frame is one descriptor, or a chain: every
 * descriptor but the last has PV_NIC_TX_F_MORE, and the frame is the
 * concatenation of their buffers' bytes in ring order.  A chain has at most
 * PV_NIC_TX_MAX_FRAGS descriptors; the user posts (advances tx_prod past) a
 * chain only whole.  A chain the NIC sees cut off at tx_prod is left alone
 * until the rest is posted (a user that never finishes it stalls its own
 * TX, nobody else's).  A chain longer than PV_NIC_TX_MAX_FRAGS: its first
 * PV_NIC_TX_MAX_FRAGS descriptors are consumed and refused as one frame
 * (PV_NIC_ERR_TX_TOO_BIG); what follows is taken as a new frame.
 * Offloads, in the flags of the frame's first descriptor (any later
 * descriptor carrying them: PV_NIC_ERR_RESERVED):
 *   PV_NIC_TX_F_CSUM  the NIC completes the TCP or UDP checksum of the
 *                     frame (IPv4 or IPv6, after at most one 802.1Q tag);
 *                     the user leaves the pseudo-header sum, or anything, in
 *                     the checksum field;
 *   PV_NIC_TX_F_TSO   the frame is one TCP segment of up to 64 KiB (IPv4 or
 *                     IPv6, at most one tag, not an IPv4 fragment, no IPv6
 *                     extension headers); the NIC sends it as segments of
 *                     @mss payload bytes each (the last shorter), with the
 *                     IPv4 id incremented per segment, FIN/PSH on the last
 *                     only, and checksums completed (TSO implies CSUM).
 *                     Headers + @mss must fit the port's MTU + 14 (+ 4
 *                     tagged); the frame must be at most PV_NIC_TSO_MAX;
 *                     @mss is at least PV_NIC_TSO_MSS_MIN (a tiny MSS
 *                     would have the port's kernel cut thousands of
 *                     segments from one descriptor chain).
 * With CSUM or TSO the frame ends where its IP datagram does (no trailing
 * bytes: they would be summed as payload).
 * A frame without TSO is 14 .. port MTU + 14 (+ 4 tagged) bytes.
 * The NIC copies the frame's headers, its first min(length,
 * PV_NIC_TX_HDR_MAX) bytes,
 * out of the buffers into private memory and decides on that copy only;
 * the copy is what goes out as the frame's first bytes.  The rest, the
 * payload, is read from the buffers by the port when the frame is sent
 * (as a real NIC reads it by DMA): a user that changes a buffer after
 * posting it, before its TX_DONE, corrupts at most its own frame's
 * payload, never what the NIC checked (source addresses, lengths, the
 * headers of an offload).  The headers an offload needs (up to the end of
 * the TCP/UDP header, after any IPv6 extension headers) must lie within
 * those PV_NIC_TX_HDR_MAX bytes (otherwise: truncated headers).  The checks:
 *   - shorter than an Ethernet header          -> PV_NIC_ERR_TX_RUNT
 *   - source MAC not the VI's assigned MAC (a VI with no MAC assigned sends
 *     nothing)                                 -> PV_NIC_ERR_TX_SPOOF
 *   - with a source IPv4 assigned: IPv4 (after at most one 802.1Q tag) must
 *     carry it as source, ARP as sender address; any other EtherType (also
 *     a second tag) is refused                 -> PV_NIC_ERR_TX_SPOOF
 *   - with source ports enforced too (PV_NIC_MAC_F_PORTS): only TCP/UDP
 *     from a (protocol, address, port) of the VI's IPV4 filters
 *                                              -> PV_NIC_ERR_TX_SPOOF
 *   - longer than the port takes (or, TSO, than PV_NIC_TSO_MAX, or
 *     headers + mss than the port takes)       -> PV_NIC_ERR_TX_TOO_BIG
 *   - CSUM or TSO on a frame that is not what the flag needs (not TCP/UDP,
 *     TSO not TCP, mss 0 or below PV_NIC_TSO_MSS_MIN, truncated headers,
 *     IPv4 fragment, IPv6 extension header with TSO, bytes after the IP
 *     datagram)                                -> PV_NIC_ERR_TX_OFFLOAD
 * Every descriptor of a frame gets one event, in ring order: TX_DONE (len:
 * that descriptor's bytes) when the frame went out; when it was refused, an
 * ERROR event: the frame's reason on every descriptor, except that a
 * descriptor refused on its own (the four buffer/flag reasons above) gets
 * its reason and the other descriptors of its frame PV_NIC_ERR_TX_CHAIN
 * (this also holds in the first PV_NIC_TX_MAX_FRAGS of an over-long chain:
 * a refused descriptor comes before the frame's length).
 * Refused frames are dropped and counted once (as a frame).  TX always goes
 * out of the port: there is no switching between VIs inside the NIC
 * (guest-to-guest traffic takes the slow path).  The host VI (see
 * PV_NIC_SET_HOST) is exempt from the source check: it carries the
 * bridge's traffic, of many sources.
 * Storm control (PV_NIC_FEAT_TX_STORM, SET_STORM): a VI's broadcast
 * (destination ff:ff:ff:ff:ff:ff) and multicast (any other group
 * destination) frames that passed the checks above each take a token of
 * that kind's bucket, @pps frames a second up to @burst; without one the
 * frame is refused PV_NIC_ERR_TX_STORM and counted (tx_storm_bcast,
 * tx_storm_mcast).  A TSO frame counts once.  No limits until SET_STORM
 * sets them; the host VI is never limited (the bridge behind it limited
 * each vif already, and it carries many guests' floods and the host's).
 * Unicast is never limited: the NIC floods nothing (a frame leaves by the
 * one port, whatever its destination), so it has no "unknown unicast";
 * where the wire beyond floods, the wire's switch decides.
 *
 * RX: a frame from the port is steered (1) broadcast/multicast -> host VI;
 * (2) an IPv4 filter (protocol + destination address + destination port,
 * untagged or one tag, not a fragment) -> its VI; (3) a destination MAC
 * filter -> its VI; (4) otherwise -> host VI, or dropped if there is none.
 * The NIC takes that VI's next posted RX descriptor (validated as above,
 * flags and mss zero; len is the room offered), copies the frame in, and posts an RX event with
 * the length.  No descriptor posted, or no room in the event queue: the
 * frame is dropped and counted for that VI.  A frame longer than the room
 * offered: ERROR PV_NIC_ERR_RX_TOO_BIG, frame dropped, descriptor consumed.
 * Receive coalescing (PV_NIC_FEAT_RX_GRO; pvnet-nicd --no-gro turns it
 * off): where the port hands MTU-sized TCP segments, the in-order segments
 * of one flow in one batch the port read become one GSO frame, as a NIC's
 * LRO makes them, for VIs with RX chains only; it arrives as a GSO frame
 * from the port does (below), and cuts back into the same segments.
 * Nothing is held past the batch.  The rules: src/nic/gro.c.  INFO's
 * port_rx counts frames as delivered (a merged frame once), gro_segs the
 * segments that went into merged frames.
 * A VI without RX chains gets frames as a wire carries them: GSO frames
 * from the port's kernel are cut into segments of the port's MTU (and
 * checksums completed) before delivery, one descriptor each; a frame or
 * segment longer than the room offered is RX_TOO_BIG, as above.
 *
 * RX chains (PV_NIC_FEAT_RX_CHAIN in INFO; a VI asks for them in VI_ALLOC
 * with PV_NIC_VI_F_RX_CHAIN).  A frame of any length up to
 * PV_NIC_RX_FRAME_MAX goes whole into consecutive posted RX descriptors,
 * each filled to the room it offers, at most PV_NIC_RX_MAX_FRAGS of them;
 * a GSO frame from the port stays one frame (what a NIC's LRO gives).  A
 * frame that needs more than one descriptor, or is a GSO frame, is told
 * by one PV_NIC_EV_RX_META event (struct pv_nic_rx_meta: the frame's
 * length, its descriptors, GSO type and size, checksum state) and then
 * one RX event per descriptor in ring order, each with the bytes in its
 * buffer, all but the last with PV_NIC_RX_F_MORE; a one-descriptor frame
 * without GSO is one RX event, as without chains.  A GSO frame comes with
 * PV_NIC_RX_F_CSUM_PARTIAL: its TCP checksum field holds the pseudo-header
 * sum, to be completed from csum_start as virtio-net's NEEDS_CSUM says (or
 * left to a stack that takes it so).  A frame never arrives partial:
 *   - fewer descriptors posted than it needs -> held in the NIC's receive
 *     memory for the VI (2 MiB each, rx_held) and delivered, in order, once
 *     the VI has posted enough; dropped, counted rx_no_desc, only when that
 *     memory is full or nothing could be delivered for 100 ms; nothing
 *     consumed until it is delivered;
 *   - more than PV_NIC_RX_MAX_FRAGS needed (the rooms offered too small) or
 *     longer than PV_NIC_RX_FRAME_MAX -> dropped, counted rx_too_big,
 *     nothing consumed;
 *   - not enough event room for all its events -> held the same way
 *     (dropped rx_no_evq when it cannot be);
 *   - a descriptor refused (buffer, bounds, flags) -> the descriptors up to
 *     it are consumed: it with its ERROR, the ones before it ERROR
 *     PV_NIC_ERR_RX_CHAIN; the frame is dropped (rx_bad_desc).
 * The VI's other frames are unaffected by any of these.
 *
 * Events and wake-ups
 * ===================
 *
 * Every consumed descriptor yields exactly one event.  The NIC consumes a
 * descriptor only when the event queue has room for its event, so the
 * event queue never overflows: a user that stops reading events stops its
 * own TX (resume: read events, ring the doorbell) and loses its own RX
 * (counted rx_no_evq).  Room is computed from evq_cons as the user wrote
 * it; an evq_cons behind evq_prod by more than the queue size or ahead of
 * it is impossible (as are tx_prod/rx_prod ahead of the NIC's consumer by
 * more than the ring): the VI is disabled (fault set, no more processing,
 * counted, logged) until the trusted caller resets or frees it.
 *
 * Doorbell: after posting TX descriptors, or after reading events when TX
 * stalled on a full event queue, the user writes 1 (uint64_t) to the
 * doorbell eventfd.  RX descriptors need no doorbell: the NIC reads rx_prod
 * when a frame arrives.  The NIC shares its port between VIs by deficit
 * round robin on the bytes each frame puts on the wire, at most
 * PV_NIC_TX_BUDGET descriptors per VI per turn: VIs with work get equal
 * wire bytes whatever their frame sizes, and a VI ringing without pause
 * cannot starve the others (tx_quantum_stops and tx_wait_max_bytes in the
 * VI's counters show the scheduler at work).  A doorbell that finds nothing to do (no descriptor
 * posted, no room for an event, or the VI disabled) is idle; after a run
 * of idle ones the NIC stops listening to that VI's doorbell for a while
 * (1 ms, doubling to 64 ms while the storm lasts), then serves the VI once
 * and listens again: ringing for nothing costs the ringer latency, not the
 * NIC its time.
 *
 * NIC polling (pvnet-nicd --poll-us; within version 2, no feature bit: a
 * NIC without it leaves the field 0): while the NIC busy-polls the VIs'
 * tx_prod itself, it stores tx_cons.armed = 1 in every active VI, and 0
 * when it stops.  A user that just published tx_prod may then skip the
 * doorbell: it fences (seq_cst) after its tx_prod store and rings only if
 * it then reads tx_cons.armed 0; the NIC stores 0, fences (seq_cst), and
 * reads every tx_prod once more before it sleeps: one of the two sees the
 * other, so no TX waits for a doorbell that was never rung.  Ringing
 * anyway stays correct (the accelerator plugin always rings).  The NIC
 * polls for at most its --poll-us after the last frame it moved, then
 * sleeps: an idle NIC costs no CPU.
 *
 * Wake-up: a user that wants to sleep stores evq_cons, then wake_armed = 1
 * (seq_cst), then re-reads evq_prod and sleeps on the wake-up eventfd only if
 * there is still nothing new.  After publishing events, the NIC reads
 * wake_armed; if set and evq_prod != evq_cons it stores wake_armed = 0 and
 * writes the wake-up eventfd once.  A user that never arms simply polls.
 *
 * Control protocol
 * ================
 *
 * One request per datagram: struct pv_nic_hdr, then hdr.len bytes of body;
 * descriptors as SCM_RIGHTS.  One reply per request, same type and seq, err
 * 0 or -errno, body as listed per type.  A request with the wrong body
 * length, unknown type, non-zero reserved fields, or descriptors it does
 * not take gets -EINVAL; attached descriptors are always closed (those the
 * request takes are kept only on success).  PV_NIC_MAX_ERRORS malformed
 * requests on one connection close it.  A VI belongs to the connection
 * that allocated it: the connection closing frees its VIs, with their
 * buffer table entries and filters; another connection naming it gets
 * -EPERM.  pvnet-nicd starts with no VI: after a restart the trusted caller
 * allocates again.
 *
 * src/nic/nic_client.h (in libpvnet-nic.a) implements both users: a
 * blocking control client for the trusted caller, and inline helpers for
 * the VI's user (map, post descriptors, read events, doorbell, wake-up).
 */
#ifndef PVNET_NIC_H
#define PVNET_NIC_H

#include <stdint.h>

/*
 * Versions.  PV_NIC_VERSION is the ABI's version: a NIC takes VI_ALLOC
 * only of its own version (another: -EPROTONOSUPPORT) and writes it in the
 * VI's info, which a VI's user checks before anything else.  What comes
 * later without breaking the users of a version comes as a feature bit in
 * INFO and, where a VI must take part, a VI_ALLOC flag the user sets only
 * if INFO offers it (a NIC refuses flags it does not know: -EINVAL): a
 * user that does not ask gets the behaviour it was written for.  A reply
 * body may grow at its end within a version (STATS has); a client takes
 * the bytes it knows.  Anything else changes PV_NIC_VERSION.
 * Within version 2: RX chains (PV_NIC_FEAT_RX_CHAIN, PV_NIC_VI_F_RX_CHAIN);
 * receive coalescing (PV_NIC_FEAT_RX_GRO when on; INFO's reply grew by the
 * gro_* counters at its end: a client that asks for the shorter reply
 * gets it, one that knows the longer checks the length or zeroes first);
 * source addresses (PV_NIC_FEAT_SRC_ADDRS: the SET_ADDRS request, a new
 * type at the end of the table: SET_MAC and its one-IPv4 F_IP unchanged,
 * a NIC without the feature answers SET_ADDRS -EINVAL as any unknown type);
 * source ports (PV_NIC_FEAT_TX_PORTS: SET_MAC's PV_NIC_MAC_F_PORTS, which
 * a NIC without the feature refuses -EINVAL as any unknown flag);
 * storm control (PV_NIC_FEAT_TX_STORM: the SET_STORM request, a new type
 * at the end of the table as SET_ADDRS; STATS grew by tx_storm_bcast and
 * tx_storm_mcast at its end; the ERROR code PV_NIC_ERR_TX_STORM, which
 * only a VI the trusted caller limited can get).
 */
#define PV_NIC_VERSION		2	/* 2: TX chains, CSUM and TSO offloads */
#define PV_NIC_SOCK_NAME	"nic.sock"
#define PV_NIC_MSG_MAX		1024	/* header + body, one datagram */
#define PV_NIC_MAX_ERRORS	64	/* malformed requests before disconnect */
#define PV_NIC_VI_NONE		0xffffffffu

/* ---- VI memory ---- */

#define PV_NIC_VI_MAGIC		0x564e5650u	/* "PVNV" little endian */
#define PV_NIC_TXQ_SIZE		512u
#define PV_NIC_RXQ_SIZE		512u
#define PV_NIC_EVQ_SIZE		1024u
#define PV_NIC_BUF_SIZE		2048u	/* one buffer: half a 4 KiB page */
#define PV_NIC_PAGE_SIZE	4096u
#define PV_NIC_TX_BUDGET	128u	/* TX descriptors per VI per round */
#define PV_NIC_TX_MAX_FRAGS	40u	/* descriptors in one TX frame (chain) */
#define PV_NIC_TSO_MAX		(65535u + 14u + 4u)	/* a TSO frame, bytes */
#define PV_NIC_TSO_MSS_MIN	64u	/* smallest mss of a TSO frame */
#define PV_NIC_TX_HDR_MAX	256u	/* TX: leading bytes the NIC copies and checks */
#define PV_NIC_RX_MAX_FRAGS	40u	/* descriptors in one RX frame (chain) */
#define PV_NIC_RX_FRAME_MAX	(65535u + 14u + 4u)	/* the longest frame RX chains carry */

#define PV_NIC_OFF_TXQ		0x1000u
#define PV_NIC_OFF_RXQ		(PV_NIC_OFF_TXQ + PV_NIC_TXQ_SIZE * 16u)
#define PV_NIC_OFF_EVQ		(PV_NIC_OFF_RXQ + PV_NIC_RXQ_SIZE * 16u)
#define PV_NIC_VI_MEM_SIZE	(PV_NIC_OFF_EVQ + PV_NIC_EVQ_SIZE * 16u)

/* struct pv_nic_vi_info - at offset 0, written once by the NIC at allocation */
struct pv_nic_vi_info {
	uint32_t magic;		/* PV_NIC_VI_MAGIC */
	uint32_t version;	/* PV_NIC_VERSION */
	uint32_t vi_id;
	uint32_t mem_size;	/* PV_NIC_VI_MEM_SIZE */
	uint32_t txq_size, rxq_size, evq_size;
	uint32_t txq_off, rxq_off, evq_off;
	uint32_t buf_size;	/* PV_NIC_BUF_SIZE */
	uint32_t reserved[5];
};

struct pv_nic_line {
	uint32_t v;
	uint32_t armed;		/* evq_cons: the user armed its wake-up (1), the NIC
				 * disarmed it when it woke the user (0); tx_cons: the
				 * NIC is polling tx_prod (1, "NIC polling"); 0 in the others */
	uint8_t pad[56];
};

/* struct pv_nic_vi_shared - the first 512 bytes of VI memory */
struct pv_nic_vi_shared {
	struct pv_nic_vi_info info;
	struct pv_nic_line tx_prod;	/* .v: user */
	struct pv_nic_line tx_cons;	/* .v: NIC; .armed: NIC polling tx_prod (1): doorbell optional */
	struct pv_nic_line rx_prod;	/* .v: user */
	struct pv_nic_line rx_cons;	/* .v: NIC */
	struct pv_nic_line evq_prod;	/* .v: NIC */
	struct pv_nic_line evq_cons;	/* .v: user's read index, .armed: wake-up armed */
	struct pv_nic_line fault;	/* .v: NIC, enum pv_nic_fault */
};

/* struct pv_nic_desc - a TX or RX descriptor (RX: len = room offered) */
struct pv_nic_desc {
	uint32_t buf_id;
	uint16_t offset;	/* within the buffer */
	uint16_t len;
	uint32_t flags;		/* TX: PV_NIC_TX_F_*; RX: 0 */
	uint16_t mss;		/* TX, first descriptor of a TSO frame: segment payload */
	uint16_t reserved;	/* 0 */
};

/* pv_nic_desc.flags, TX ring only */
#define PV_NIC_TX_F_MORE	0x1	/* the frame continues in the next descriptor */
#define PV_NIC_TX_F_CSUM	0x2	/* first descriptor: complete the L4 checksum */
#define PV_NIC_TX_F_TSO		0x4	/* first descriptor: segment at @mss (implies CSUM) */
#define PV_NIC_TX_F_ALL		(PV_NIC_TX_F_MORE | PV_NIC_TX_F_CSUM | PV_NIC_TX_F_TSO)

enum pv_nic_ev_type {
	PV_NIC_EV_TX_DONE = 1,
	PV_NIC_EV_RX = 2,
	PV_NIC_EV_ERROR = 3,
	PV_NIC_EV_RX_META = 4,	/* RX chains: struct pv_nic_rx_meta, before the frame's RX events */
};

enum pv_nic_err {
	PV_NIC_ERR_NONE = 0,
	PV_NIC_ERR_BUF_RANGE,	/* buf_id beyond the buffer table */
	PV_NIC_ERR_BUF_OWNER,	/* buffer free or owned by another VI */
	PV_NIC_ERR_BUF_BOUNDS,	/* offset + len past the buffer, or len 0 */
	PV_NIC_ERR_RESERVED,	/* flags or reserved bits set */
	PV_NIC_ERR_TX_RUNT,	/* frame shorter than an Ethernet header */
	PV_NIC_ERR_TX_SPOOF,	/* source MAC (or IPv4) not the VI's */
	PV_NIC_ERR_TX_TOO_BIG,	/* longer than the port takes */
	PV_NIC_ERR_TX_PORT,	/* the port refused it (busy, down) */
	PV_NIC_ERR_RX_TOO_BIG,	/* frame longer than the room offered */
	PV_NIC_ERR_TX_OFFLOAD,	/* CSUM/TSO asked on a frame that cannot have it */
	PV_NIC_ERR_TX_CHAIN,	/* another descriptor of this frame was refused */
	PV_NIC_ERR_RX_CHAIN,	/* RX chains: another descriptor of this frame was refused */
	PV_NIC_ERR_TX_STORM,	/* broadcast/multicast over the VI's storm limit (SET_STORM) */
	PV_NIC_ERR_MAX,
};

/* pv_nic_event.flags for RX */
#define PV_NIC_RX_F_CSUM_OK	0x1	/* L4 checksum known good */
#define PV_NIC_RX_F_FILTER	0x2	/* steered by a filter (not host default) */
#define PV_NIC_RX_F_MORE	0x4	/* RX chains: the frame goes on in the next descriptor */
#define PV_NIC_RX_F_CSUM_PARTIAL 0x8	/* L4 checksum field holds the pseudo-header sum */

/* struct pv_nic_rx_meta.gso_type: virtio-net's values */
#define PV_NIC_GSO_NONE		0
#define PV_NIC_GSO_TCPV4	1
#define PV_NIC_GSO_TCPV6	4
#define PV_NIC_GSO_ECN		0x80	/* with TCPV4/6: the frame had CWR set */

/* struct pv_nic_event - one event queue entry */
struct pv_nic_event {
	uint8_t type;		/* enum pv_nic_ev_type */
	uint8_t code;		/* ERROR: enum pv_nic_err */
	uint16_t flags;		/* RX: PV_NIC_RX_F_* */
	uint32_t buf_id;	/* the descriptor's */
	uint16_t len;		/* RX: frame length; TX_DONE: bytes sent */
	uint8_t queue;		/* 0 TX, 1 RX: which ring @index is in */
	uint8_t reserved;
	uint32_t index;		/* the descriptor's ring index (free-running) */
};

/*
 * struct pv_nic_rx_meta - an event of type PV_NIC_EV_RX_META (RX chains
 * only): read an event, and if its type is RX_META, copy the same 16
 * bytes into this.  The frame's RX events follow it.
 */
struct pv_nic_rx_meta {
	uint8_t type;		/* PV_NIC_EV_RX_META */
	uint8_t gso_type;	/* PV_NIC_GSO_* */
	uint16_t flags;		/* the frame's PV_NIC_RX_F_* (not MORE) */
	uint32_t frame_len;	/* all of its bytes, all its descriptors */
	uint16_t gso_size;	/* with a gso_type: payload bytes per segment */
	uint8_t queue;		/* 1 */
	uint8_t nr_desc;	/* RX events that follow: 1 .. PV_NIC_RX_MAX_FRAGS */
	uint16_t csum_start;	/* CSUM_PARTIAL: the sum covers from here to the end */
	uint16_t csum_offset;	/* ... and goes csum_offset bytes after csum_start */
};

enum pv_nic_fault {
	PV_NIC_FAULT_NONE = 0,
	PV_NIC_FAULT_TX_PROD,	/* tx_prod beyond the ring */
	PV_NIC_FAULT_RX_PROD,	/* rx_prod beyond the ring */
	PV_NIC_FAULT_EVQ_CONS,	/* evq_cons ahead of evq_prod or a queue behind */
};

_Static_assert(sizeof(struct pv_nic_vi_info) == 64, "vi_info is one line");
_Static_assert(sizeof(struct pv_nic_line) == 64, "one cache line");
_Static_assert(sizeof(struct pv_nic_vi_shared) == 512, "shared header 512 bytes");
_Static_assert(sizeof(struct pv_nic_desc) == 16, "descriptor 16 bytes");
_Static_assert(sizeof(struct pv_nic_event) == 16, "event 16 bytes");
_Static_assert(sizeof(struct pv_nic_rx_meta) == 16, "an RX_META event is an event");
_Static_assert(PV_NIC_VI_MEM_SIZE == 0x9000, "VI memory layout as drawn");
_Static_assert((PV_NIC_TXQ_SIZE & (PV_NIC_TXQ_SIZE - 1)) == 0 &&
	       (PV_NIC_RXQ_SIZE & (PV_NIC_RXQ_SIZE - 1)) == 0 &&
	       (PV_NIC_EVQ_SIZE & (PV_NIC_EVQ_SIZE - 1)) == 0, "ring sizes powers of two");

/* ---- control protocol ---- */

enum pv_nic_type {
	PV_NIC_INFO = 1,	/* -> pv_nic_info_reply */
	PV_NIC_VI_ALLOC,	/* pv_nic_vi_alloc -> pv_nic_vi_alloc_reply + fds[mem, doorbell, wake] */
	PV_NIC_VI_FREE,		/* pv_nic_vi_req */
	PV_NIC_VI_RESET,	/* pv_nic_vi_req: rings to 0, fault cleared, buffers and filters gone */
	PV_NIC_BUF_MAP,		/* pv_nic_buf_map + fds[memory memfd] -> pv_nic_buf_ids */
	PV_NIC_BUF_UNMAP,	/* pv_nic_buf_ids (all owned by vi_id, or nothing done) */
	PV_NIC_FILTER_ADD,	/* pv_nic_filter -> pv_nic_filter_reply */
	PV_NIC_FILTER_DEL,	/* pv_nic_filter_del */
	PV_NIC_SET_MAC,		/* pv_nic_set_mac */
	PV_NIC_SET_HOST,	/* pv_nic_vi_req: this VI is the host VI (PV_NIC_VI_NONE: none) */
	PV_NIC_STATS,		/* pv_nic_vi_req -> pv_nic_vi_stats */
	PV_NIC_SET_ADDRS,	/* pv_nic_set_addrs (PV_NIC_FEAT_SRC_ADDRS) */
	PV_NIC_SET_STORM,	/* pv_nic_set_storm (PV_NIC_FEAT_TX_STORM) */
	PV_NIC_CAPTURE,		/* pv_nic_capture + fds[stream socket] (PV_NIC_FEAT_CAPTURE) */
	PV_NIC_TYPE_MAX,
};

struct pv_nic_hdr {
	uint16_t type;
	uint16_t flags;		/* 0 */
	uint32_t seq;		/* echoed in the reply */
	uint32_t len;		/* body bytes after this header */
	int32_t err;		/* replies: 0 or -errno; requests: 0 */
};

struct pv_nic_info_reply {
	uint32_t version;
	uint32_t max_vis;
	uint32_t nr_bufs;	/* buffer table size */
	uint32_t mtu;		/* the port's */
	uint8_t mac[6];		/* the port's */
	uint16_t reserved;
	uint32_t max_filters;
	uint32_t vi_filters;	/* quota per VI */
	uint64_t port_rx, port_tx, rx_unmatched_dropped, ctl_errors;
	uint32_t features;	/* PV_NIC_FEAT_* */
	uint32_t vis_active;	/* VIs allocated now (all connections) */
	uint32_t bufs_used;	/* buffer table entries mapped now */
	uint32_t filters_used;	/* filters installed now */
	/* Receive coalescing at the port, since start (within version 2, appended): */
	uint64_t gro_frames;		/* merged frames delivered, of 2 segments or more */
	uint64_t gro_segs;		/* the segments in them */
	uint64_t gro_not_wanted;	/* flows (once a batch) not merged: their VI takes no RX chains */
	/* why each merge (a first segment and those it took) ended: */
	uint64_t gro_close_batch;	/* the port's batch ended */
	uint64_t gro_close_push;	/* PSH, or a segment shorter than the MSS (taken, last) */
	uint64_t gro_close_size;	/* 64 KiB of IP datagram reached */
	uint64_t gro_close_mismatch;	/* a segment that cannot follow (gap, options, IP fields) */
	uint64_t gro_close_other;	/* a frame of the flow never merged (SYN/FIN/RST/URG, ...) */
	/* (within version 2, appended) */
	uint64_t port_rx_kernel_drops;	/* received frames the port's kernel dropped: read too late */
};

#define PV_NIC_FEAT_TX_CHAIN	0x1
#define PV_NIC_FEAT_TX_CSUM	0x2
#define PV_NIC_FEAT_TSO		0x4
#define PV_NIC_FEAT_RX_CHAIN	0x8	/* RX chains, frames above 2 KiB, GSO frames whole */
#define PV_NIC_FEAT_RX_GRO	0x10	/* the port coalesces TCP segments for VIs with RX chains */
#define PV_NIC_FEAT_SRC_ADDRS	0x20	/* SET_ADDRS: IPv4/IPv6 source addresses enforced on TX */
#define PV_NIC_FEAT_TX_PORTS	0x40	/* SET_MAC takes PV_NIC_MAC_F_PORTS */
#define PV_NIC_FEAT_TX_STORM	0x80	/* SET_STORM: per-VI broadcast/multicast TX limits */
#define PV_NIC_FEAT_CAPTURE	0x100	/* CAPTURE: a VI's frames mirrored to a stream */

#define PV_NIC_VI_F_RX_CHAIN	0x1	/* VI_ALLOC: this VI takes RX chains */

struct pv_nic_vi_alloc {
	uint32_t version;	/* PV_NIC_VERSION */
	uint32_t flags;		/* PV_NIC_VI_F_*: only those INFO's features offer */
};

struct pv_nic_vi_alloc_reply {
	uint32_t vi_id;
	uint32_t mem_size;
};

struct pv_nic_vi_req {
	uint32_t vi_id;
	uint32_t reserved;
};

#define PV_NIC_MAP_MAX	64	/* buffers per BUF_MAP / BUF_UNMAP */

/*
 * BUF_MAP: map @count 2 KiB buffers of the passed memfd into the table for
 * VI @vi_id.  chunk[i] names bytes [chunk * 2048, chunk * 2048 + 2048) of the
 * memfd (page = chunk / 2, half = chunk % 2); it must lie inside the memfd,
 * which the NIC seals against shrinking (F_SEAL_SHRINK).  The reply lists
 * the buffer ids the NIC chose, in order; all or nothing.
 */
struct pv_nic_buf_map {
	uint32_t vi_id;
	uint32_t count;		/* 1 .. PV_NIC_MAP_MAX */
	uint32_t chunk[];	/* count entries */
};

struct pv_nic_buf_ids {
	uint32_t vi_id;		/* reply of BUF_MAP: the VI */
	uint32_t count;
	uint32_t buf_id[];
};

enum pv_nic_filter_type {
	PV_NIC_FILTER_MAC = 1,	/* dst MAC (unicast) */
	PV_NIC_FILTER_IPV4 = 2,	/* proto (6, 17) + dst IPv4 + dst port */
};

struct pv_nic_filter {
	uint32_t vi_id;
	uint8_t type;		/* enum pv_nic_filter_type */
	uint8_t proto;		/* IPV4: IPPROTO_TCP or IPPROTO_UDP; MAC: 0 */
	uint16_t dst_port;	/* IPV4: host order, non-zero; MAC: 0 */
	uint32_t dst_ip;	/* IPV4: network order; MAC: 0 */
	uint8_t mac[6];		/* MAC: unicast destination; IPV4: zero */
	uint16_t reserved;
};

struct pv_nic_filter_reply {
	uint32_t filter_id;
	uint32_t reserved;
};

struct pv_nic_filter_del {
	uint32_t vi_id;
	uint32_t filter_id;
};

#define PV_NIC_MAC_F_IP	0x1	/* src_ip is enforced too */
/*
 * With PV_NIC_MAC_F_IP (INFO's PV_NIC_FEAT_TX_PORTS): the source port too.
 * The VI sends only unfragmented IPv4 TCP or UDP whose (protocol, source
 * address, source port) is the key of one of its own IPV4 filters: what
 * it sends is what it may receive.  Everything else (ARP, ICMP, other
 * protocols, fragments, other ports): PV_NIC_ERR_TX_SPOOF.  For a VI
 * that owns flows, not an address (a user-level application beside the
 * host's kernel stack, which keeps ARP and ICMP).  A VI under SET_ADDRS
 * follows that request's rule instead (no port check).
 */
#define PV_NIC_MAC_F_PORTS	0x2

struct pv_nic_set_mac {
	uint32_t vi_id;
	uint8_t mac[6];		/* unicast, not zero */
	uint16_t flags;		/* PV_NIC_MAC_F_* */
	uint32_t src_ip;	/* network order, with PV_NIC_MAC_F_IP */
	uint32_t reserved;
};

/*
 * SET_ADDRS: the addresses VI @vi_id may send from, enforced with
 * PV_NIC_ADDRS_F_ENFORCE on every TX frame by the rule pvnetd's netback
 * applies on the slow path (src/lib/srcguard.h): IPv4 source, ARP sender
 * MAC and IP (0.0.0.0 in a probe), IPv6 source (also the link-local
 * address derived from the VI's MAC, and :: in DAD/MLD), NDP link-layer
 * options and NA targets; a frame whose headers do not fit the NIC's
 * header copy (PV_NIC_TX_HDR_MAX) is refused.  Refused frames: TX_SPOOF.
 * @count may be 0 (only the exempt sources).  Each address is 16 bytes:
 * IPv6, or IPv4 mapped (::ffff:a.b.c.d); unicast only.  Without ENFORCE
 * (count 0): back to SET_MAC's rule.  Takes effect from the next frame
 * the NIC takes from the VI's ring; replaces the previous set.
 */
#define PV_NIC_ADDRS_MAX	8
#define PV_NIC_ADDRS_F_ENFORCE	0x1

struct pv_nic_set_addrs {
	uint32_t vi_id;
	uint32_t flags;		/* PV_NIC_ADDRS_F_* */
	uint32_t count;		/* 0 .. PV_NIC_ADDRS_MAX */
	uint32_t reserved;
	uint8_t addr[PV_NIC_ADDRS_MAX][16];
};

/*
 * SET_STORM: VI @vi_id's storm limits (see "Storm control" above), by
 * kind: frames per second (0: no limit) and a burst (frames; 0: the
 * default, PV_STORM_BURST_FACTOR seconds' worth, src/lib/storm.h).  At
 * most PV_NIC_STORM_PPS_MAX pps and PV_NIC_STORM_BURST_MAX frames, a
 * burst only with a rate, reserved 0; otherwise -EINVAL.  The buckets
 * start full; takes effect from the next frame.  The host VI takes
 * limits but does not apply them while it is the host VI.
 */
#define PV_NIC_STORM_PPS_MAX	10000000u
#define PV_NIC_STORM_BURST_MAX	100000000u

struct pv_nic_set_storm {
	uint32_t vi_id;
	uint32_t flags;		/* 0 */
	uint32_t bcast_pps, bcast_burst;
	uint32_t mcast_pps, mcast_burst;
	uint32_t reserved[2];	/* 0 */
};

/*
 * CAPTURE: mirror VI @vi_id's frames, both ways, to the connected stream
 * socket passed with the request (the NIC owns it from then on).  The
 * stream is pvnetctl capture's (pvnet/ctl.h): the three bytes "ok\n",
 * then a struct pv_ctl_cap_rec and the frame's bytes per frame:
 * PV_CTL_CAP_TX for each frame the VI sent that passed the NIC's checks
 * (as it leaves: headers as checked, payload as sent), PV_CTL_CAP_RX for
 * each frame the NIC steers to the VI (before its descriptors are taken:
 * a frame then dropped rx_no_desc was still captured).  A reader that
 * does not keep up loses frames, counted in the records' @drops; the VI
 * never waits.  One capture per VI (-EBUSY); any VI, whichever
 * connection owns it (nic.sock is for trusted software); -ENOENT: no such
 * VI; flags 0 (-EINVAL).  It ends when the reader closes or the VI goes.
 */
struct pv_nic_capture {
	uint32_t vi_id;
	uint32_t flags;		/* 0 */
};

/* STATS reply: counters of one VI, since allocation (reset keeps them) */
struct pv_nic_vi_stats {
	uint32_t vi_id;
	uint32_t fault;		/* enum pv_nic_fault */
	uint32_t nr_bufs;	/* buffer table entries owned */
	uint32_t nr_filters;
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_spoofed, tx_runt, tx_too_big, tx_port_errors;
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_no_desc, rx_no_evq, rx_too_big, rx_bad_desc;
	uint64_t desc_errors;	/* refused descriptors, TX and RX */
	uint64_t doorbells, wakeups, evq_stalls, faults;
	uint64_t tx_tso;	/* TX frames sent with TSO (also in tx_frames) */
	uint64_t tx_offload_errors;	/* frames refused: PV_NIC_ERR_TX_OFFLOAD */
	/* The TX scheduler (deficit round robin by wire bytes): */
	uint64_t tx_wire_bytes;		/* what its sent frames put on the wire (segments, overhead) */
	uint64_t tx_turns;		/* turns in which it sent */
	uint64_t tx_quantum_stops;	/* turns its deficit ended with work left */
	uint64_t tx_wait_max_bytes;	/* most wire bytes other VIs sent while it waited */
	/* RX chains and receive offload: */
	uint64_t rx_chains;		/* frames delivered in more than one descriptor */
	uint64_t rx_gso;		/* GSO frames delivered whole (in rx_frames too) */
	uint64_t rx_gso_segmented;	/* GSO frames cut into segments for it (each in rx_frames) */
	/* Storm control (within version 2, appended): frames refused TX_STORM */
	uint64_t tx_storm_bcast;	/* broadcasts over its limit */
	uint64_t tx_storm_mcast;	/* multicasts over its limit */
	/*
	 * The RX hold (within version 2, appended): frames that found too few
	 * RX descriptors (or no event room) and waited in the NIC's receive
	 * memory for the VI to post more, instead of being dropped; the most
	 * bytes held at once.  rx_no_desc / rx_no_evq count only what the
	 * hold could not take (full) or dropped after waiting too long.
	 */
	uint64_t rx_held;
	uint64_t rx_held_bytes_max;
};

_Static_assert(sizeof(struct pv_nic_hdr) == 16, "pv_nic_hdr 16 bytes");
_Static_assert(sizeof(struct pv_nic_info_reply) == 80 + 9 * 8,
	       "info reply (80 bytes before gro_*, then port_rx_kernel_drops)");
_Static_assert(sizeof(struct pv_nic_filter) == 20, "filter request");
_Static_assert(sizeof(struct pv_nic_capture) == 8, "capture request");
_Static_assert(sizeof(struct pv_nic_set_mac) == 20, "set_mac request");
_Static_assert(sizeof(struct pv_nic_set_addrs) == 16 + PV_NIC_ADDRS_MAX * 16, "set_addrs request");
_Static_assert(sizeof(struct pv_nic_vi_stats) == 16 + 30 * 8, "stats reply");
_Static_assert(sizeof(struct pv_nic_set_storm) == 32, "set_storm request");
_Static_assert(PV_NIC_TX_MAX_FRAGS * PV_NIC_BUF_SIZE >= PV_NIC_TSO_MAX &&
	       PV_NIC_TX_BUDGET >= PV_NIC_TX_MAX_FRAGS, "a whole TSO frame fits a chain and a round");

#endif
