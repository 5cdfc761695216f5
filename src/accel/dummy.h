/* SPDX-License-Identifier: MIT */
/*
 * dummy.h - "dummy", a built-in accelerator plugin pair for tests.  It is
 * NOT a fast path: the frontend half hands frames it "sends" to a callback
 * (a side channel the test reads), holds them when told to answer BUSY,
 * and delivers frames the test injects as if they came from a NIC.  It
 * exists to prove the hook semantics of include/pvnet/accel.h.
 *
 *   test --inject()--> [rx queue] --eventfd "irq"--> kick --> poll --> deliver
 *   netfront --start_xmit--> policy: SENT -> wire(); NOT_SENT; BUSY -> held
 *   held --release() or next poll--> wire(), kick --> check_ready --> TX resumes
 *   remove() with a frame held --> pv_accel_front_return() (slow path)
 *
 * The backend half publishes accel-frontend = @frontend on probe (or
 * refuses, when told to) and counts probes and removes.
 */
#ifndef PVNET_ACCEL_DUMMY_H
#define PVNET_ACCEL_DUMMY_H

#include <stdint.h>

#define PV_DUMMY_NAME "dummy"
#define PV_DUMMY_RXQ  64

enum pv_dummy_policy {
	PV_DUMMY_NOT_SENT,	/* every frame to the slow path */
	PV_DUMMY_SENT,		/* every frame to the wire */
	PV_DUMMY_BUSY,		/* every frame held (then released) */
	PV_DUMMY_CYCLE,		/* SENT, NOT_SENT, BUSY, SENT, ... */
};

struct pv_dummy_dev;

/* The frontend plugin instance (the @arg of its registration); the test owns it. */
#define PV_DUMMY_LEND_MAX 64		/* iovecs of one loan */

struct pv_dummy_front {
	/* knobs */
	enum pv_dummy_policy policy;
	int refuse;			/* new_device fails with -ENODEV */
	int hold;			/* BUSY frames wait for pv_dummy_front_release() */
	void (*wire)(void *warg, const void *frame, uint32_t len);	/* "sent" frames */
	void *warg;
	uint32_t lend;			/* tx_lend (1.3): lend iovecs of this many bytes; 0: none */
	/* what happened */
	struct pv_dummy_dev *dev;	/* the device attached now (one at a time) */
	unsigned long new_devices, removes, polls, start_irqs, stop_irqs, check_readys;
	unsigned long stats_calls;
	unsigned long offered, sent, not_sent, busy, released, returned, return_failed;
	unsigned long xmit_while_held;	/* start_xmit while holding: a host bug */
	unsigned long rx_delivered, rx_refused;
	unsigned long lends, lent_frames, unlends, lend_misuse;	/* the loan; misuse: a host bug */
	unsigned long long tx_packets_total, rx_packets_total;	/* all ever counted */
	unsigned long long unreported_at_remove;	/* counted but not yet in get_stats */
	unsigned int cycle;
};

/* The backend plugin instance. */
struct pv_dummy_back {
	char frontend[32];		/* published as accel-frontend ("" = PV_DUMMY_NAME) */
	int refuse;			/* probe fails with -ENODEV */
	int fd_ready;			/* get_fds: a dup of @fd; 0: -EAGAIN (not ready) */
	int fd;
	unsigned long probes, removes, live, fds_given;
};

int pv_dummy_front_register(struct pv_dummy_front *df);
int pv_dummy_front_unregister(void);
/* Send the held frame on the wire and wake netfront; 0, or -ENOENT if none is held. */
int pv_dummy_front_release(struct pv_dummy_front *df);
/* A frame "from the NIC", delivered by the next poll; -ENOBUFS when the queue is full. */
int pv_dummy_front_inject(struct pv_dummy_front *df, const void *frame, uint32_t len);
int pv_dummy_front_held(const struct pv_dummy_front *df);	/* 1 while a frame is held */
/* pv_accel_front_get_fds() of the attached device; -ENODEV if none. */
int pv_dummy_front_get_fds(struct pv_dummy_front *df, int *fds, unsigned int max);

int pv_dummy_back_register(struct pv_dummy_back *db, const char *nic);
int pv_dummy_back_unregister(const char *nic);

#endif
