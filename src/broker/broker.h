/* SPDX-License-Identifier: MIT */
/*
 * broker.h - pvnet-broker's server (broker.c): DIR/broker.sock, one VI per
 * application connection, by the policy (policy.h).  Protocol:
 * include/pvnet/broker.h.
 */
#ifndef PVNET_BROKER_BROKER_H
#define PVNET_BROKER_BROKER_H

#include "broker/policy.h"

struct pv_loop;
struct broker;

/*
 * Serve @sock_path (mode 0666) with @policy (kept, not copied), allocating
 * VIs on the pvnet-nicd at @nic_path.  NULL with *err.
 */
struct broker *broker_listen(struct pv_loop *loop, const struct brk_policy *policy,
			     const char *nic_path, const char *sock_path, int *err);
/* Close every connection (their VIs are freed) and the socket. */
void broker_close(struct broker *b);

#endif
