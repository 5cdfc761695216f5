/* SPDX-License-Identifier: MIT */
/*
 * pvnet-broker.c - the trusted broker between untrusted applications
 * (libpvnet) and pvnet-nicd: DIR/broker.sock, a policy file, one VI per
 * application connection (src/broker/broker.c says why it is a daemon of
 * its own and what it checks; include/pvnet/broker.h is the protocol).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvnet/broker.h"
#include "broker/broker.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/loop.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvnet-broker --run-dir DIR --nic NICDIR --policy FILE [options]\n"
		"\n"
		"Gives unprivileged applications their own VI of pvnet-nicd (libpvnet),\n"
		"by a policy on their uid: VIs, buffers, local addresses and ports.\n"
		"\n"
		"  -r, --run-dir DIR      socket DIR/broker.sock (mode 0666) and pid file\n"
		"  -n, --nic NICDIR       pvnet-nicd's run directory (NICDIR/nic.sock)\n"
		"  -P, --policy FILE      the policy (format: pvnet-broker(8))\n"
		"  -t, --check            parse the policy, print the rules, exit\n"
		PV_DAEMON_USAGE_DETACH
		PV_DAEMON_USAGE_LOG
		"  -h, --help             this text\n");
}

static void print_policy(const struct brk_policy *p)
{
	for (unsigned int i = 0; i < p->n; i++) {
		const struct brk_rule *r = &p->rules[i];

		if (r->any_uid)
			printf("line %u: uid * vis %u bufs %u addrs %u udp ranges %u tcp ranges %u\n",
			       r->line, r->max_vis, r->max_bufs, r->naddr, r->nudp, r->ntcp);
		else
			printf("line %u: uid %u vis %u bufs %u addrs %u udp ranges %u tcp ranges %u\n",
			       r->line, (unsigned int)r->uid, r->max_vis, r->max_bufs, r->naddr,
			       r->nudp, r->ntcp);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		PV_DAEMON_LONGOPTS,
		{ "nic", required_argument, NULL, 'n' },
		{ "policy", required_argument, NULL, 'P' },
		{ "check", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct pv_daemon dd;
	struct brk_policy pol = { 0 };
	const char *nic_dir = NULL, *pol_path = NULL;
	char nic_path[4096], sock_path[4096], why[256];
	struct broker *b = NULL;
	int c, rc, err = 0, check_only = 0;

	pv_daemon_init(&dd, "pvnet-broker");
	/*
	 * After set-up it still makes each flow's kernel socket: binds it, on
	 * ports a policy may put below 1024, and attaches its drop-all filter
	 * (SO_ATTACH_FILTER, which kernels with unprivileged BPF disabled,
	 * kernel.unprivileged_bpf_disabled, refuse EPERM without
	 * CAP_NET_ADMIN).
	 */
	dd.keep_caps = 1ull << CAP_NET_BIND_SERVICE | 1ull << CAP_NET_ADMIN;
	while ((c = getopt_long(argc, argv, PV_DAEMON_SHORTOPTS "n:P:t", opts, NULL)) != -1) {
		if ((rc = pv_daemon_opt(&dd, c, optarg)) < 0)
			return 2;
		if (rc > 0)
			continue;
		switch (c) {
		case 'n': nic_dir = optarg; break;
		case 'P': pol_path = optarg; break;
		case 't': check_only = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!pol_path || (!check_only && (!dd.run_dir || !nic_dir)) || optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((rc = brk_policy_load(&pol, pol_path, why, sizeof(why))) < 0) {
		fprintf(stderr, "pvnet-broker: %s: %s\n", pol_path, why);
		return 1;
	}
	if (check_only) {
		print_policy(&pol);
		brk_policy_free(&pol);
		return 0;
	}
	snprintf(nic_path, sizeof(nic_path), "%s/%s", nic_dir, PV_NIC_SOCK_NAME);
	if (pv_daemon_start(&dd) < 0 ||
	    pv_daemon_path(&dd, sock_path, sizeof(sock_path), PV_BRK_SOCK_NAME) < 0 ||
	    !(b = broker_listen(dd.loop, &pol, nic_path, sock_path, &err))) {
		if (err)
			pv_err("%s: %s", sock_path, strerror(-err));
		pv_daemon_teardown(&dd);
		brk_policy_free(&pol);
		return 1;
	}
	pv_info("%u policy rules from %s; NIC %s; serving %s", pol.n, pol_path, nic_path, sock_path);
	pv_daemon_ready(&dd);
	rc = pv_loop_run(dd.loop);
	broker_close(b);
	pv_daemon_teardown(&dd);
	brk_policy_free(&pol);
	return rc < 0 ? 1 : 0;
}
