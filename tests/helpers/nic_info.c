/* SPDX-License-Identifier: MIT */
/*
 * nic_info.c - ask pvnet-nicd what it holds: the INFO reply over its
 * control socket (trusted callers only: run it as root or as the NIC's
 * user), one "key=value" per line, or one value.
 *
 *   nic_info SOCK            every field of INFO
 *   nic_info SOCK KEY...     the values of KEY..., one per line
 *   nic_info -s VI SOCK      STATS of VI (refused with -EPERM for a VI of
 *                            another connection, which is every VI but
 *                            none of ours: nic.h)
 *
 * Tests use vis_active, bufs_used and filters_used to prove that nothing
 * is left behind (VIs, buffer table entries, filters) after a guest goes;
 * gro.sh reads the receive coalescing counters (gro_*).
 * Exit status: 0, 1 on a transport or protocol error, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nic/nic_client.h"

#define NI_MAX_KEYS 32

struct ni_kv {
	const char *key;
	char val[32];
};

static unsigned int ni_fill(const struct pv_nic_info_reply *r, struct ni_kv *kv)
{
	unsigned int n = 0;

#define NI_U(k, v) do { kv[n].key = k; snprintf(kv[n].val, sizeof(kv[n].val), "%" PRIu64, (uint64_t)(v)); n++; } while (0)
	NI_U("version", r->version);
	NI_U("max_vis", r->max_vis);
	NI_U("nr_bufs", r->nr_bufs);
	NI_U("mtu", r->mtu);
	kv[n].key = "mac";
	snprintf(kv[n].val, sizeof(kv[n].val), "%02x:%02x:%02x:%02x:%02x:%02x", r->mac[0],
		 r->mac[1], r->mac[2], r->mac[3], r->mac[4], r->mac[5]);
	n++;
	NI_U("max_filters", r->max_filters);
	NI_U("vi_filters", r->vi_filters);
	NI_U("port_rx", r->port_rx);
	NI_U("port_tx", r->port_tx);
	NI_U("rx_unmatched_dropped", r->rx_unmatched_dropped);
	NI_U("ctl_errors", r->ctl_errors);
	NI_U("features", r->features);
	NI_U("vis_active", r->vis_active);
	NI_U("bufs_used", r->bufs_used);
	NI_U("filters_used", r->filters_used);
	NI_U("gro_frames", r->gro_frames);
	NI_U("gro_segs", r->gro_segs);
	NI_U("gro_not_wanted", r->gro_not_wanted);
	NI_U("gro_close_batch", r->gro_close_batch);
	NI_U("gro_close_push", r->gro_close_push);
	NI_U("gro_close_size", r->gro_close_size);
	NI_U("gro_close_mismatch", r->gro_close_mismatch);
	NI_U("gro_close_other", r->gro_close_other);
#undef NI_U
	return n;
}

static int ni_stats(int fd, const char *vi_s)
{
	struct pv_nic_vi_stats st;
	char *end;
	unsigned long vi = strtoul(vi_s, &end, 10);
	int e;

	if (!*vi_s || *end || vi > 0xffffffffu)
		return 2;
	e = nic_client_stats(fd, (uint32_t)vi, &st);
	if (e) {
		fprintf(stderr, "nic_info: STATS %lu: %s\n", vi, strerror(-e));
		return 1;
	}
	printf("vi_id=%u\nfault=%u\nnr_bufs=%u\nnr_filters=%u\n", st.vi_id, st.fault, st.nr_bufs,
	       st.nr_filters);
	printf("tx_frames=%" PRIu64 "\ntx_spoofed=%" PRIu64 "\ntx_runt=%" PRIu64
	       "\ndesc_errors=%" PRIu64 "\nrx_frames=%" PRIu64 "\ndoorbells=%" PRIu64
	       "\nevq_stalls=%" PRIu64 "\nfaults=%" PRIu64 "\ntx_bytes=%" PRIu64
	       "\ntx_wire_bytes=%" PRIu64 "\ntx_turns=%" PRIu64 "\ntx_quantum_stops=%" PRIu64 "\ntx_wait_max_bytes=%" PRIu64 "\n",
	       st.tx_frames, st.tx_spoofed, st.tx_runt, st.desc_errors, st.rx_frames, st.doorbells,
	       st.evq_stalls, st.faults, st.tx_bytes, st.tx_wire_bytes, st.tx_turns, st.tx_quantum_stops, st.tx_wait_max_bytes);
	return 0;
}

int main(int argc, char **argv)
{
	struct pv_nic_info_reply r = { 0 };	/* an older NIC's shorter reply: gro_* 0 */
	struct ni_kv kv[NI_MAX_KEYS];
	const char *vi = NULL;
	unsigned int n;
	int fd, e, rc = 0;

	if (argc >= 3 && !strcmp(argv[1], "-s")) {
		vi = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: nic_info SOCK [KEY...] | nic_info -s VI SOCK\n");
		return 2;
	}
	fd = nic_client_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "nic_info: %s: %s\n", argv[1], strerror(-fd));
		return 1;
	}
	if (vi) {
		rc = ni_stats(fd, vi);
		close(fd);
		return rc;
	}
	e = nic_client_info(fd, &r);
	close(fd);
	if (e) {
		fprintf(stderr, "nic_info: INFO: %s\n", strerror(-e));
		return 1;
	}
	n = ni_fill(&r, kv);
	if (argc == 2) {
		for (unsigned int i = 0; i < n; i++)
			printf("%s=%s\n", kv[i].key, kv[i].val);
		return 0;
	}
	for (int a = 2; a < argc; a++) {
		unsigned int i;

		for (i = 0; i < n && strcmp(kv[i].key, argv[a]); i++)
			;
		if (i == n) {
			fprintf(stderr, "nic_info: no field '%s'\n", argv[a]);
			rc = 2;
			continue;
		}
		printf("%s\n", kv[i].val);
	}
	return rc;
}
