/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - pvnetd's control protocol, spoken by pvnetctl: the spec of the
 * wire and the one table of its commands.
 *
 * The client connects to <run-dir>/ctl.sock (SOCK_STREAM, mode 0600:
 * trusted), sends one line "<T|J> command [args...]\n" (T: text tables,
 * J: JSON) of at most PV_CTL_LINE_MAX bytes and reads until EOF.  The
 * first line of the answer is "ok" or "error <errno> <message>"; the rest
 * is the output.  An error whose message begins "usage:" is the caller's
 * mistake (a malformed or out-of-range argument: pvnetctl exits 2); any
 * other is a refused request (pvnetctl exits 1).  The error line is the
 * same for T and J; pvnetctl --json renders it as JSON.
 *
 * pv_ctl_cmds lists every command pvnetctl knows: its name, usage, argument
 * counts and help.  pvnetd serves those marked PV_CTL_REMOTE (checking the
 * counts too); the rest pvnetctl runs itself.
 * Each side keeps only its handlers, indexed by enum pv_ctl_cmd_id.
 *
 * A PV_CTL_STREAM command is both: pvnetctl parses its own options and
 * sends pvnetd a plain request; pvnetd answers "ok\n" and then a stream
 * that ends when either side closes.  capture's stream is records of
 * struct pv_ctl_cap_rec, each followed by @caplen bytes of the frame.
 */
#ifndef PVNET_CTL_PROTO_H
#define PVNET_CTL_PROTO_H

#include <stdint.h>
#include <string.h>

#define PV_CTL_SOCK_NAME "ctl.sock"
#define PV_CTL_LINE_MAX  1024
#define PV_CTL_MAX_ARGS  16	/* words after T/J the server looks at */

enum pv_ctl_cmd_id {
	PV_CTL_STATUS,
	PV_CTL_DOMAIN_LIST,
	PV_CTL_VIF_LIST,
	PV_CTL_VIF_STATS,
	PV_CTL_VIF_CREATE,
	PV_CTL_ACCEL,
	PV_CTL_NIC,
	PV_CTL_VIF_DESTROY,
	PV_CTL_VIF_SET,
	PV_CTL_MAC_TABLE,
	PV_CTL_PORT_LIST,
	PV_CTL_STORE_DUMP,
	PV_CTL_CAPTURE,
	PV_CTL_MIGRATE,
	PV_CTL_MIG,
	PV_CTL_NR_CMDS
};

enum pv_ctl_where {
	PV_CTL_REMOTE,		/* on ctl.sock, served by pvnetd */
	PV_CTL_LOCAL,		/* pvnetctl's own (store-dump speaks xenstore; migrate drives mig) */
	PV_CTL_STREAM,		/* pvnetctl's own handler, pvnetd's streamed answer */
};

struct pv_ctl_cmd {
	const char *name;
	const char *args;	/* usage after the name */
	int min_args, max_args;	/* words after the name */
	enum pv_ctl_where where;
	const char *help;
};

/* In pvnetctl's help order. */
static const struct pv_ctl_cmd pv_ctl_cmds[PV_CTL_NR_CMDS] __attribute__((unused)) = {
	[PV_CTL_STATUS] = { "status", "", 0, 0, PV_CTL_REMOTE,
			    "pvnetd's counters: domains, grants, store, bridge" },
	[PV_CTL_DOMAIN_LIST] = { "domain-list", "", 0, 0, PV_CTL_REMOTE, "registered domains" },
	[PV_CTL_VIF_LIST] = { "vif-list", "", 0, 0, PV_CTL_REMOTE,
			      "vifs with their xenbus states and counters" },
	[PV_CTL_VIF_STATS] = { "vif-stats", "DOMID DEVID", 2, 2, PV_CTL_REMOTE,
			       "every counter of one vif, drops by reason" },
	[PV_CTL_VIF_CREATE] = { "vif-create",
				"DOMID [devid=N] [mac=M] [mtu=N] [bridge=B] [rate=BPS] [accel=NIC] [ip=ADDR[,ADDR...]]",
				1, 8, PV_CTL_REMOTE,
				"create a vif for a domain (what a guest's own request does)" },
	[PV_CTL_ACCEL] = { "accel", "DOMID DEVID on [NIC] | off | show", 3, 4, PV_CTL_REMOTE,
			   "switch a vif's accelerator at run time; show: keys, VI counters, filters" },
	[PV_CTL_NIC] = { "nic", "[NIC]", 0, 1, PV_CTL_REMOTE,
			 "the NIC behind an accelerator: features, use, counters" },
	[PV_CTL_VIF_DESTROY] = { "vif-destroy", "DOMID DEVID", 2, 2, PV_CTL_REMOTE, "remove a vif" },
	[PV_CTL_VIF_SET] = { "vif-set", "DOMID DEVID ip=ADDR[,ADDR...] | ip=", 3, 3, PV_CTL_REMOTE,
			     "set a vif's source addresses (Xen's ip key; ip= : learned)" },
	[PV_CTL_MAC_TABLE] = { "mac-table", "", 0, 0, PV_CTL_REMOTE, "the bridge's MAC table" },
	[PV_CTL_PORT_LIST] = { "port-list", "", 0, 0, PV_CTL_REMOTE,
			       "the switch's ports (vifs, uplink, host port, NIC) and their counters" },
	[PV_CTL_STORE_DUMP] = { "store-dump", "[PATH]", 0, 1, PV_CTL_LOCAL,
				"the xenstore tree (default /)" },
	[PV_CTL_CAPTURE] = { "capture", "DOMID DEVID|PORT [-c COUNT] [-w FILE] [FILTER]", 1, 64,
			     PV_CTL_STREAM,
			     "a vif's or a port's frames, both ways: one line each, or pcap (-w; - stdout); "
			     "FILTER: a pcap-filter(7) expression" },
	[PV_CTL_MIGRATE] = { "migrate", "DOMID [devid=N] --to DEST_RUN_DIR", 3, 4, PV_CTL_LOCAL,
			     "live-migrate a guest to the pvnetd of DEST_RUN_DIR (its vif's configuration goes with it)" },
	[PV_CTL_MIG] = { "mig", "STEP [ARGS]", 2, 4, PV_CTL_REMOTE,
			 "one migration step on this host, as migrate runs them: export D N, prepare MACHEX, "
			 "begin D N DEST, suspend D N, abort D N, cancel MACHEX" },
};

/*
 * capture: pvnetd's side is "capture DOMID DEVID" or "capture PORT" (a
 * switch port's name, as port-list shows it; no options: the count, the
 * file and the filter are pvnetctl's).  Records
 * in host byte order (the socket is local), a frame's bytes after its
 * header.  @drops is the capture's own: frames not recorded because the
 * stream's buffer in pvnetd was full (the reader too slow); the data path
 * never waits for a reader.  A PV_CTL_CAP_DROPS record (caplen 0) brings
 * a new drop count when no frame does.
 */
#define PV_CTL_CAP_FRAME	1
#define PV_CTL_CAP_DROPS	2
#define PV_CTL_CAP_TX		0	/* from the port into the switch (a vif: the guest sent it) */
#define PV_CTL_CAP_RX		1	/* from the switch to the port (a vif: to the guest) */
#define PV_CTL_CAP_SNAPLEN	65535	/* whole frames, GSO ones too */

struct pv_ctl_cap_rec {
	uint8_t type;		/* PV_CTL_CAP_FRAME or _DROPS */
	uint8_t dir;		/* PV_CTL_CAP_TX or _RX */
	uint16_t reserved;
	uint32_t caplen;	/* bytes that follow, <= PV_CTL_CAP_SNAPLEN */
	uint32_t len;		/* the frame's length */
	uint32_t drops;		/* frames dropped by the capture so far */
	uint64_t ts_ns;		/* CLOCK_REALTIME, when pvnetd saw it */
};
_Static_assert(sizeof(struct pv_ctl_cap_rec) == 24, "pv_ctl_cap_rec is 24 bytes");

/* The command called @name, or NULL. */
static inline const struct pv_ctl_cmd *pv_ctl_cmd_find(const char *name)
{
	for (int i = 0; i < PV_CTL_NR_CMDS; i++)
		if (!strcmp(pv_ctl_cmds[i].name, name))
			return &pv_ctl_cmds[i];
	return NULL;
}

#endif
