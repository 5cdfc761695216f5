/* SPDX-License-Identifier: MIT */
/*
 * seqpacket_call.h - one synchronous request/reply on a SOCK_SEQPACKET
 * control socket whose messages start with a 16-byte header
 * {type, flags, seq, len, err} (hv.sock's pv_hv_hdr, nic.sock's pv_nic_hdr).
 */
#ifndef PVNET_SEQPACKET_CALL_H
#define PVNET_SEQPACKET_CALL_H

#include <stdint.h>

struct pv_sp_hdr {
	uint16_t type;
	uint16_t flags;		/* 0 */
	uint32_t seq;		/* echoed in the reply */
	uint32_t len;		/* body bytes after this header */
	int32_t err;		/* replies: 0 or -errno; requests: 0 */
};
_Static_assert(sizeof(struct pv_sp_hdr) == 16, "pv_sp_hdr is 16 bytes");

#define PV_SP_BODY_MAX 4096	/* largest reply body received */

/**
 * struct pv_sp_reply - where the reply goes
 * @body, @body_max: up to @body_max bytes of the reply body (NULL: dropped)
 * @recv_max: reply body bytes received at most (<= PV_SP_BODY_MAX);
 *	a longer reply is truncated and fails the length check
 * @rfds, @rfds_max: the reply's descriptors (NULL: all closed; extra closed)
 * @nrfds: how many were stored in @rfds (may be NULL)
 * @body_if_ok: copy the body only when the reply's err is 0
 */
struct pv_sp_reply {
	void *body;
	uint32_t body_max;
	uint32_t recv_max;
	int *rfds;
	unsigned int rfds_max;
	unsigned int *nrfds;
	int body_if_ok;
};

/**
 * pv_seqpacket_call() - send request @type/@seq with @body and @fds, wait
 * for the reply with the same seq
 * @timeout_ms: per reply; < 0 blocks without a limit
 *
 * Replies with another seq (late replies to abandoned calls) are skipped,
 * their descriptors closed.  A reply of another type, or whose len field
 * does not match its size, is -EPROTO (its descriptors closed).
 *
 * Return: the reply's err, or -errno of the transport (-ETIMEDOUT, -EPIPE
 * on a closed connection).
 */
int pv_seqpacket_call(int fd, uint16_t type, uint32_t seq, const void *body, uint32_t len,
		      const int *fds, unsigned int nfds, const struct pv_sp_reply *r,
		      int timeout_ms);

#endif
