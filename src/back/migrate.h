/* SPDX-License-Identifier: MIT */
/*
 * migrate.h - the host's half of live migration: the vif's configuration
 * as a record in the store, the destination's check and reservation, the
 * source's suspend request.  pvnetctl's "migrate" drives the steps
 * (docs/pvnetctl.8, docs/xenbus.md "Migration").
 */
#ifndef PVNET_MIGRATE_H
#define PVNET_MIGRATE_H

#include <stdint.h>
#include <stddef.h>

struct xs_server;
struct pv_vif_params;

/* Records, dom0's only: a snapshot to send, an offer to check, a reservation. */
#define PV_MIG_DIR      "/local/domain/0/migrate"
#define PV_MIG_OUTGOING PV_MIG_DIR "/outgoing"	/* <machex>: exported, not yet begun */
#define PV_MIG_OFFER    PV_MIG_DIR "/offer"	/* <machex>: copied in by pvnetctl, unchecked */
#define PV_MIG_INCOMING PV_MIG_DIR "/incoming"	/* <machex>: checked; holds the MAC */
/* Keys in /local/domain/D/control: Xen's request, and pvnet's own destination. */
#define PV_MIG_KEY_SHUTDOWN "control/shutdown"
#define PV_MIG_KEY_TO       "control/migrate-to"

#define PV_MIG_HOLD_S     30	/* a destination's reservation, if the guest never comes */
#define PV_MIG_RETURN_S   60	/* the source's record, if the guest comes back */
#define PV_MIG_MAX_KEYS   64	/* carried backend keys */
#define PV_MIG_MAX_VALUE  256	/* bytes of one carried value */

struct pv_mig_stats {
	uint64_t exported, offers_taken, offers_refused;
	uint64_t begun, suspends, aborted, cancelled;
	uint64_t arrived, returned, expired;
};

struct pv_mig;

struct pv_mig *pv_mig_new(struct xs_server *xs);
void pv_mig_free(struct pv_mig *m);
void pv_mig_stats(const struct pv_mig *m, struct pv_mig_stats *st);

/* Source: snapshot vif @domid.@devid's configuration at PV_MIG_OUTGOING/<machex>. */
int pv_mig_export(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *name,
		  char *machex, char *msg, size_t msgsz);
/* The same record for keep.c's snapshot of the settings: not counted, not logged. */
int pv_mig_snapshot(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *name,
		    char *machex, char *msg, size_t msgsz);
/* Destination: check PV_MIG_OFFER/@machex; taken -> PV_MIG_INCOMING, else removed. */
int pv_mig_prepare(struct pv_mig *m, const char *machex, char *msg, size_t msgsz);
/* Source: the return record, then the accelerator goes (its "accel" key). */
int pv_mig_begin(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *dest,
		 char *msg, size_t msgsz);
/* Source: control/migrate-to, then control/shutdown = "suspend". */
int pv_mig_suspend(struct pv_mig *m, unsigned int domid, unsigned int devid, char *msg,
		   size_t msgsz);
/* Source: withdraw an unacknowledged request; -EINPROGRESS if the guest took it. */
int pv_mig_abort(struct pv_mig *m, unsigned int domid, unsigned int devid, char *msg,
		 size_t msgsz);
/* Either host: forget every record of @machex (0, or -ENOENT). */
int pv_mig_cancel(struct pv_mig *m, const char *machex);
/*
 * A guest's vif request (pvnetd's vif_request): if a reservation holds
 * @mac for a domain called @name, fill @p from it (MTU, bridge, carried
 * keys) and return 1; pv_mig_claimed() then drops the record.
 */
int pv_mig_claim(struct pv_mig *m, const char *name, const uint8_t mac[6],
		 struct pv_vif_params *p, char *carried, size_t carriedsz);
void pv_mig_claimed(struct pv_mig *m, const uint8_t mac[6], unsigned int domid, int ok);
/* Once a second: drop records past their time. */
void pv_mig_sweep(struct pv_mig *m);
/* Is @key (relative to a backend directory) one a migration carries? */
int pv_mig_key_carried(const char *key);

#endif
