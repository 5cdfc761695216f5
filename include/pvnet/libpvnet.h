/* SPDX-License-Identifier: MIT */
/*
 * libpvnet.h - user-level access to pvnet-nicd (paper section 4): an
 * unprivileged application drives its own virtual interface (VI) of the
 * NIC, bypassing the kernel's stack, with the NIC enforcing that it sends
 * and receives only its own traffic.  This header is the library's
 * contract; link with libpvnet.a (and -pthread, as the rest of pvnet).
 *
 * Three layers (and libpvnet-preload.so, layer 4, for unmodified
 * programs: libpvnet-preload(7)):
 *
 *   layer 3  pvnet_tcp_*   TCP sockets over a stack, through Debian's lwIP
 *   layer 2  pvnet_stack_*, pvnet_udp_*   UDP sockets over one VI: bind,
 *            connect, sendto/recvfrom, blocking or not; next hops from
 *            the kernel's routing and neighbour tables (netlink)
 *   layer 1  pvnet_vi_*, pvnet_memreg_*   the VI itself, after ef_vi: open
 *            it through pvnet-broker, register memory, post RX buffers,
 *            transmit frames, poll events, prime and wait for a wake-up,
 *            ask for filters by (protocol, local IP, local port)
 *
 * Rules that hold everywhere:
 *  - handles are opaque; every function that can fail returns 0 (or a
 *    count, or bytes) on success and a negative errno on failure, and
 *    sets no global errno of its own;
 *  - no global state: two handles never share anything behind the
 *    caller's back; a handle is used by one thread at a time (as ef_vi:
 *    a VI is not locked), different handles from different threads freely;
 *  - what a handle owns is released by its close or free; an application
 *    that dies loses nothing it must clean up: pvnet-broker frees its VIs
 *    on the NIC when its connection closes.
 *
 * The broker: pvnet_vi_open() and pvnet_stack_open() connect to the
 * broker socket @broker (NULL: $PVNET_BROKER, else PVNET_BROKER_DEFAULT).
 * What a uid may have (VIs, buffers, addresses, ports) is the broker's
 * policy (pvnet-broker(8)); a refusal is -EACCES (the address or port is
 * not the caller's), -EUSERS (its VIs are all open) or -EDQUOT (buffers).
 *
 * Sharing the host's address with the kernel.  The VI sends as the port's
 * MAC and one local IPv4 address of the host, which the kernel's stack
 * uses too: only the flows the VI has filters for come to it, and the NIC
 * lets it send only UDP/TCP from those flows' ports (anything else:
 * dropped, counted tx_spoofed, an ERROR event TX_SPOOF).  For each
 * filter the broker binds and holds a kernel socket of the same protocol,
 * address and port (Onload's "OS socket"): the port is the application's
 * in the kernel too (a port another program holds: -EADDRINUSE; nobody
 * can bind it while the filter lives), and because pvnet-nicd's port
 * (AF_PACKET) does not take frames away from the kernel, the kernel's
 * copy of the flow's datagrams lands on that socket instead of drawing
 * an ICMP port unreachable.  A socket filter on it drops that copy at
 * once (the kernel counts it, Udp InErrors in /proc/net/snmp): the
 * application reads its datagrams from the VI only.
 */
#ifndef PVNET_LIBPVNET_H
#define PVNET_LIBPVNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pvnet/nic.h"

#define PVNET_BROKER_DEFAULT	"/run/pvnet/broker.sock"
#define PVNET_BUF_SIZE		PV_NIC_BUF_SIZE	/* one registered buffer */

/* ==== layer 1: the VI ==== */

struct pvnet_vi;
struct pvnet_memreg;
struct pvnet_filter;

/* What the broker gave: the VI's identity on the wire. */
struct pvnet_vi_attr {
	uint32_t vi_id;
	uint32_t local_ip;	/* network order: the only source address it may send */
	uint8_t mac[6];		/* the only source MAC it may send (the port's) */
	uint32_t mtu;		/* the port's */
	uint32_t max_bufs;	/* buffers it may register in all */
};

/**
 * pvnet_vi_open() - a VI of one's own, through the broker
 * @vi:		out: the handle
 * @broker:	the broker's socket (NULL: $PVNET_BROKER, else the default)
 * @local_ip:	network order, one of the policy's addresses; 0: its first
 *
 * Return: 0; -ENOENT/-ECONNREFUSED no broker; -EACCES, -EUSERS by the
 * policy; -ENETDOWN the broker has no NIC; other -errno.
 */
int pvnet_vi_open(struct pvnet_vi **vi, const char *broker, uint32_t local_ip);
/*
 * Close: the NIC forgets the VI, its buffers and filters (their kernel
 * sockets closed), and drops frames still in its TX ring: wait for the
 * TX_DONE of what must leave first.
 */
void pvnet_vi_close(struct pvnet_vi *vi);
void pvnet_vi_attr(const struct pvnet_vi *vi, struct pvnet_vi_attr *attr);

/**
 * pvnet_memreg_alloc() - memory for frames, registered with the VI's NIC
 * @mr:		out: the handle
 * @vi:		the VI whose buffers these are
 * @nbufs:	buffers of PVNET_BUF_SIZE bytes (1 .. the VI's max_bufs left)
 *
 * The memory is a sealed memfd of the application's, mapped here and in
 * the NIC's buffer table; descriptors name its buffers by id.  It stays
 * the VI's until pvnet_vi_close(); free it after that.
 *
 * Return: 0, -EDQUOT past the policy's buffers, -errno.
 */
int pvnet_memreg_alloc(struct pvnet_memreg **mr, struct pvnet_vi *vi, unsigned int nbufs);
void pvnet_memreg_free(struct pvnet_memreg *mr);
unsigned int pvnet_memreg_count(const struct pvnet_memreg *mr);
/* Buffer @i (< count): its bytes and its id. */
void *pvnet_memreg_buf(const struct pvnet_memreg *mr, unsigned int i);
uint32_t pvnet_memreg_buf_id(const struct pvnet_memreg *mr, unsigned int i);
/* The index of the buffer with id @buf_id, or -ENOENT (not one of @mr's). */
int pvnet_memreg_index(const struct pvnet_memreg *mr, uint32_t buf_id);

/* Offer @len bytes (<= PVNET_BUF_SIZE) of buffer @buf_id for one received frame; -ENOSPC ring full. */
int pvnet_vi_rx_post(struct pvnet_vi *vi, uint32_t buf_id, uint16_t len);
/* Free RX and TX ring slots. */
unsigned int pvnet_vi_rx_space(const struct pvnet_vi *vi);
unsigned int pvnet_vi_tx_space(const struct pvnet_vi *vi);

struct pvnet_frag {
	uint32_t buf_id;
	uint16_t off;
	uint16_t len;
};

/**
 * pvnet_vi_transmitv() - send one frame of @n pieces (a chain; 1 ..
 * PV_NIC_TX_MAX_FRAGS), and ring the doorbell
 *
 * Each piece gets one TX_DONE (or ERROR) event with its buf_id: the buffer
 * is the application's again after it.
 *
 * Return: 0; -ENOSPC no room in the ring (nothing posted); -EINVAL.
 */
int pvnet_vi_transmitv(struct pvnet_vi *vi, const struct pvnet_frag *frag, unsigned int n);
/* One piece: @len bytes at @off of buffer @buf_id. */
int pvnet_vi_transmit(struct pvnet_vi *vi, uint32_t buf_id, uint16_t off, uint16_t len);

enum pvnet_event_type {
	PVNET_EV_TX_DONE = PV_NIC_EV_TX_DONE,	/* a TX buffer is back */
	PVNET_EV_RX = PV_NIC_EV_RX,		/* a frame of @len bytes at offset 0 of @buf_id */
	PVNET_EV_ERROR = PV_NIC_EV_ERROR,	/* @error (enum pv_nic_err) on @buf_id; @rx: which ring */
};

struct pvnet_event {
	uint8_t type;		/* enum pvnet_event_type */
	uint8_t error;		/* ERROR: enum pv_nic_err */
	uint8_t rx;		/* ERROR: 1 the RX ring's descriptor, 0 the TX ring's */
	uint8_t reserved;
	uint32_t buf_id;
	uint32_t len;		/* RX: frame bytes; TX_DONE: bytes sent */
	uint32_t flags;		/* RX: PV_NIC_RX_F_* (CSUM_OK: L4 checksum checked) */
};

/**
 * pvnet_vi_poll() - up to @max events, oldest first
 *
 * Return: events stored (0: none); -EIO the NIC disabled the VI (a ring
 * index it could not believe: the application's bug; close and reopen).
 */
int pvnet_vi_poll(struct pvnet_vi *vi, struct pvnet_event *ev, int max);
/*
 * pvnet_vi_prime() - ask for a wake-up on the next event.  Return: 1
 * events came meanwhile (poll, do not sleep), 0 armed.
 */
int pvnet_vi_prime(struct pvnet_vi *vi);
/*
 * pvnet_vi_wait() - prime, then sleep until an event or @timeout_ms (< 0:
 * no limit).  Return: 0 events to poll, -ETIMEDOUT, -errno.
 */
int pvnet_vi_wait(struct pvnet_vi *vi, int timeout_ms);
/*
 * pvnet_vi_spin_pause() - one pause of a busy-polling loop: while the NIC
 * polls (pvnet-nicd --poll-us; include/pvnet/nic.h "NIC polling") it
 * yields the CPU (sched_yield), so that a spinner does not hold the CPU
 * the NIC's poller needs to move the frame it waits for (the poller,
 * never woken, gets no wake-up preemption); else a CPU pause.
 */
void pvnet_vi_spin_pause(const struct pvnet_vi *vi);
/* The wake-up descriptor, readable after a prime when events come (for poll/epoll); drain with pvnet_vi_wait(vi, 0). */
int pvnet_vi_wake_fd(const struct pvnet_vi *vi);

/* A flow to steer to the VI. */
struct pvnet_filter_spec {
	uint8_t proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	uint32_t local_ip;	/* network order; 0: the VI's */
	uint16_t local_port;	/* host order; 0: one the kernel picks */
};

/**
 * pvnet_vi_filter_add() - frames of (proto, local_ip, local_port) go to the VI
 *
 * The broker binds the filter's kernel socket (see the top of this
 * header): a port someone else holds is -EADDRINUSE; one outside the
 * policy -EACCES; the VI's quota of filters used up -ENOSPC.  Port 0: the
 * broker picks a free port of the policy's ranges.  With IPPROTO_TCP the
 * kernel socket listens, its socket filter dropping every segment, so
 * that the kernel answers none of the flow's segments with RST.
 */
int pvnet_vi_filter_add(struct pvnet_vi *vi, const struct pvnet_filter_spec *spec,
			struct pvnet_filter **f);
uint16_t pvnet_filter_port(const struct pvnet_filter *f);
/* Remove the filter (the broker closes its kernel socket); @f is freed. */
int pvnet_vi_filter_del(struct pvnet_vi *vi, struct pvnet_filter *f);

/* The NIC's counters of this VI (tx_spoofed, rx_no_desc, ...). */
int pvnet_vi_stats(struct pvnet_vi *vi, struct pv_nic_vi_stats *st);

/* ==== layer 2: UDP over a VI ==== */

struct pvnet_stack;
struct pvnet_udp;

/*
 * pvnet_stack_open() - a VI with its buffers (half posted for RX, half
 * for TX) for UDP sockets on @local_ip (network order, 0: the policy's
 * first).  Errors: pvnet_vi_open()'s and pvnet_memreg_alloc()'s.
 */
int pvnet_stack_open(struct pvnet_stack **st, const char *broker, uint32_t local_ip);
/*
 * Close its sockets and its VI.  Datagrams sent before still leave: it
 * waits for their TX_DONE, up to 200 ms (a VI freed with frames in its TX
 * ring drops them).
 */
void pvnet_stack_close(struct pvnet_stack *st);
struct pvnet_vi *pvnet_stack_vi(struct pvnet_stack *st);

/*
 * Wait modes.  Interrupt (the default): a call that must wait sleeps on
 * the VI's wake-up at once.  Spin: it first polls the event queue without
 * sleeping for up to @us microseconds (at most PVNET_SPIN_MAX_US), then
 * sleeps as in interrupt mode: low latency for a CPU's worth of polling,
 * and an idle application still costs nothing.  pvnet_stack_open() takes
 * the spin time from $PVNET_SPIN_US (unset, empty or invalid: 0, interrupt
 * mode).  Return: 0, -EINVAL above the limit.
 */
#define PVNET_SPIN_MAX_US	1000000u
int pvnet_stack_set_spin(struct pvnet_stack *st, unsigned int us);
/* Process the VI's events (done inside every call below too); events handled or -EIO. */
int pvnet_stack_poll(struct pvnet_stack *st);

/* What the stack dropped and why, and what it did (since open). */
struct pvnet_stack_stats {
	uint64_t rx_delivered;		/* datagrams queued on a socket */
	uint64_t rx_no_socket;		/* to a port no socket of ours has (a filter without a socket) */
	uint64_t rx_not_peer;		/* to a connected socket, from another address */
	uint64_t rx_queue_full;		/* the socket's queue was full */
	uint64_t rx_bad;		/* not IPv4 UDP to us, fragments, bad lengths or checksums */
	uint64_t rx_errors;		/* RX ERROR events from the NIC */
	uint64_t tx_sent;		/* datagrams handed to the NIC */
	uint64_t tx_done;		/* TX_DONE events */
	uint64_t tx_errors;		/* TX ERROR events (tx_spoofed etc. in the NIC's stats) */
	uint64_t neigh_lookups;		/* netlink neighbour queries */
	uint64_t neigh_triggers;	/* kernel datagrams sent to make it resolve a next hop */
	uint64_t rx_tcp;		/* TCP segments handed to lwIP (layer 3) */
	uint64_t tx_tcp;		/* TCP segments lwIP sent */
	uint64_t tx_tcp_no_buf;		/* TCP segments lwIP could not send: no TX buffer free (it retransmits) */
};
void pvnet_stack_stats(const struct pvnet_stack *st, struct pvnet_stack_stats *s);

#define PVNET_MSG_DONTWAIT	MSG_DONTWAIT	/* flags of send/recv: this call does not block */

int pvnet_udp_open(struct pvnet_stack *st, struct pvnet_udp **s);
/* Close the socket: its filter and kernel socket go, queued datagrams are dropped. */
void pvnet_udp_close(struct pvnet_udp *s);
/*
 * pvnet_udp_bind() - @a's address must be the stack's (or INADDR_ANY: the
 * stack's); port 0: a free port of the policy's ranges.
 * -EINVAL already bound; -EADDRNOTAVAIL another address; -EADDRINUSE;
 * -EACCES outside the policy.
 */
int pvnet_udp_bind(struct pvnet_udp *s, const struct sockaddr_in *a);
/* Default destination, and only datagrams from @a are received. */
int pvnet_udp_connect(struct pvnet_udp *s, const struct sockaddr_in *a);
/* The bound address (port 0 before bind). */
void pvnet_udp_name(const struct pvnet_udp *s, struct sockaddr_in *a);
/* The connected peer (zeros when not connected). */
void pvnet_udp_peer(const struct pvnet_udp *s, struct sockaddr_in *a);
/* Datagrams queued on the socket now (as received by the last poll of the stack). */
unsigned int pvnet_udp_pending(const struct pvnet_udp *s);
int pvnet_udp_set_nonblock(struct pvnet_udp *s, bool on);
/* Blocking calls give up after @ms with -EAGAIN (< 0: never, the default). */
void pvnet_udp_set_timeout(struct pvnet_udp *s, int ms);

/*
 * pvnet_udp_sendto() - one datagram of @len bytes to @to (NULL: the
 * connected peer), from the bound port (an unbound socket binds port 0
 * first).  The next hop's MAC comes from the kernel's tables; when the
 * kernel has none yet, a kernel datagram to @to's discard port (9) makes
 * it resolve one, waited for at most 1 s (also by a non-blocking socket:
 * the first datagram to a new next hop may take that long).
 * Return: @len; -EMSGSIZE (no fragmentation: payload <= MTU - 28 and what
 * one buffer holds); -EAGAIN no TX buffer free (non-blocking, or the
 * timeout); -EHOSTUNREACH no next hop; -EDESTADDRREQ; -errno.
 */
ssize_t pvnet_udp_sendto(struct pvnet_udp *s, const void *buf, size_t len, int flags,
			 const struct sockaddr_in *to);
ssize_t pvnet_udp_send(struct pvnet_udp *s, const void *buf, size_t len, int flags);
/*
 * pvnet_udp_recvfrom() - the next datagram, up to @len bytes of it (the
 * rest is lost, as with a kernel UDP socket); @from (may be NULL) gets its
 * source.  Blocking: sleeps on the VI's wake-up.
 * Return: bytes copied; -EAGAIN nothing (non-blocking, or the timeout); -EIO.
 */
ssize_t pvnet_udp_recvfrom(struct pvnet_udp *s, void *buf, size_t len, int flags,
			   struct sockaddr_in *from);
ssize_t pvnet_udp_recv(struct pvnet_udp *s, void *buf, size_t len, int flags);

/* ==== layer 3: TCP over a stack, through lwIP ==== */

/*
 * TCP sockets of a stack, socket-like, through Debian's lwIP (its raw
 * API, driven from the stack's poll: no thread of lwIP's).  A connection's
 * segments come to the VI by the filter of its local port (the NIC has no
 * 4-tuple filters: a listening socket's filter also carries its accepted
 * connections); the broker's OS socket of that port listens with a socket
 * filter that drops everything, so the kernel neither takes the port nor
 * answers the flow's segments with RST.  lwIP is one stack per process:
 * libpvnet serialises its calls with one lock of its own (stacks used
 * from different threads wait for each other inside TCP calls).
 * lwIP's timers (retransmission, delayed ACKs, TIME_WAIT) run inside the
 * stack's calls: a blocking call wakes for them; a program that calls
 * nothing for long stalls its connections (as Onload without its helper
 * thread).  Segments: MSS 1460 (less for a smaller MTU), window 64 KiB.
 */
struct pvnet_tcp;

int pvnet_tcp_open(struct pvnet_stack *st, struct pvnet_tcp **s);
/*
 * pvnet_tcp_close() - a connected socket sends its FIN after what it was
 * given, and lingers (polling the stack) up to 1 s for the peer's ACK of
 * it, then lets go of the port; a peer still not done then gets RST.  A
 * listening socket aborts the connections it has not handed out.
 */
void pvnet_tcp_close(struct pvnet_tcp *s);
/* As pvnet_udp_bind(), for TCP (the policy's tcp ranges). */
int pvnet_tcp_bind(struct pvnet_tcp *s, const struct sockaddr_in *a);
/* Listen (bound first: -EINVAL unbound); @backlog connections wait for accept (1 .. 64). */
int pvnet_tcp_listen(struct pvnet_tcp *s, int backlog);
/*
 * pvnet_tcp_accept() - the next established connection, its peer in
 * @from (may be NULL).  A new socket, blocking, to close as any other.
 * Return: 0; -EAGAIN none (non-blocking, or the timeout); -EINVAL not
 * listening; -EIO.
 */
int pvnet_tcp_accept(struct pvnet_tcp *s, struct pvnet_tcp **out, struct sockaddr_in *from);
/*
 * pvnet_tcp_connect() - to @a (an unbound socket binds port 0 first).
 * Blocking: 0 established; -ECONNREFUSED (RST), -ETIMEDOUT (no answer:
 * lwIP's SYN retries, or the socket's timeout: -EAGAIN), -EHOSTUNREACH,
 * -ENETUNREACH (the stack's own address: TX never comes back to a VI).
 * Non-blocking: -EINPROGRESS, then pvnet_tcp_events() says POLLOUT when
 * established, POLLERR when it failed (pvnet_tcp_error() says why); a
 * second call: -EALREADY, 0 once established, -EISCONN after.
 */
int pvnet_tcp_connect(struct pvnet_tcp *s, const struct sockaddr_in *a);
/*
 * pvnet_tcp_send() - up to @len bytes (copied; pushed out at once).
 * Blocking: all of them, unless an error ends it (the bytes queued until
 * then, or the error if none).  Non-blocking: what fits, -EAGAIN none.
 * Return: bytes; -ENOTCONN; -EPIPE after shutdown or the peer's reset
 * (-ECONNRESET once first); -EAGAIN.
 */
ssize_t pvnet_tcp_send(struct pvnet_tcp *s, const void *buf, size_t len, int flags);
/*
 * pvnet_tcp_recv() - what has come, up to @len bytes; 0 at the peer's FIN.
 * Return: bytes; 0 end of stream; -EAGAIN (non-blocking, or the timeout);
 * -ECONNRESET; -ENOTCONN.
 */
ssize_t pvnet_tcp_recv(struct pvnet_tcp *s, void *buf, size_t len, int flags);
/* SHUT_WR: send the FIN now (reading goes on); SHUT_RD, SHUT_RDWR as the kernel's. */
int pvnet_tcp_shutdown(struct pvnet_tcp *s, int how);
int pvnet_tcp_set_nonblock(struct pvnet_tcp *s, bool on);
/* Blocking calls give up after @ms with -EAGAIN (< 0: never, the default). */
void pvnet_tcp_set_timeout(struct pvnet_tcp *s, int ms);
/* Nagle's algorithm off (TCP_NODELAY) or on (the default). */
int pvnet_tcp_set_nodelay(struct pvnet_tcp *s, bool on);
/* Local and remote address (zeros where none). */
void pvnet_tcp_name(const struct pvnet_tcp *s, struct sockaddr_in *local, struct sockaddr_in *peer);
/*
 * Readiness, as poll(2)'s revents (after polling the stack): POLLIN
 * (bytes, the FIN, a connection to accept), POLLOUT (room to send,
 * connected), POLLERR (a pending error), POLLHUP (both ways closed).
 */
int pvnet_tcp_events(struct pvnet_tcp *s);
/* The pending error (SO_ERROR), cleared: 0 or -errno. */
int pvnet_tcp_error(struct pvnet_tcp *s);

#endif
