/* SPDX-License-Identifier: MIT */
/*
 * vif_counters.c - the table of a vif's counters (vif_counters.h), in
 * `pvnetctl vif-stats` order.  The help lines say what netback.h's
 * struct pv_vif_stats says of each field.
 */
#include "vif_counters.h"

#define C(f, fl, h) { #f, offsetof(struct pv_vif_stats, f), (fl), (h) }
#define DROP PV_VIF_CTR_DROP
#define GAUGE PV_VIF_CTR_GAUGE

const struct pv_vif_counter pv_vif_counters[] = {
	C(tx_packets, 0, "Frames the guest sent (netif TX ring), delivered to the switch."),
	C(tx_bytes, 0, "Bytes of the frames the guest sent."),
	C(rx_packets, 0, "Frames delivered to the guest (netif RX ring)."),
	C(rx_bytes, 0, "Bytes of the frames delivered to the guest."),
	C(tx_runt, DROP, "Guest frames dropped: shorter than an Ethernet header."),
	C(tx_too_long, DROP, "Guest frames dropped: longer than MTU + Ethernet header without GSO."),
	C(tx_frag_overrun, DROP, "Guest frames dropped: a slot larger than what remains of the frame."),
	C(tx_bad_grant, DROP, "Guest frames dropped: a slot's grant could not be mapped."),
	C(tx_too_many_slots, DROP, "Guest frames dropped: 19 or 20 data slots."),
	C(tx_storm_bcast, DROP, "Guest broadcasts dropped over the vif's storm limit."),
	C(tx_storm_mcast, DROP, "Guest multicasts dropped over the vif's storm limit."),
	C(tx_storm_unknown, DROP, "Guest unknown-unicast floods dropped over the vif's storm limit."),
	C(tx_csum, DROP, "Guest frames dropped: csum_blank on a frame that is not TCP/UDP."),
	C(tx_gso_bad, DROP, "Guest frames dropped: bad GSO size or type, or GSO without csum_blank."),
	C(tx_spoofed, DROP, "Guest frames dropped: source MAC other than the vif's own."),
	C(tx_spoof_ipv4, DROP, "Guest frames dropped: IPv4 source not one of the vif's addresses."),
	C(tx_spoof_arp, DROP, "Guest frames dropped: ARP sender MAC or IP not the vif's."),
	C(tx_spoof_ipv6, DROP, "Guest frames dropped: IPv6 source not one of the vif's addresses."),
	C(tx_spoof_nd, DROP, "Guest frames dropped: NDP target or link-layer option not the vif's."),
	C(tx_spoof_vlan, DROP, "Guest frames dropped: more VLAN tags than the source check reads."),
	C(tx_ip_conflict, DROP, "Guest frames dropped: an address another vif owns."),
	C(tx_ip_full, DROP, "Guest frames dropped: a new address beyond the vif's learned maximum."),
	C(rx_not_connected, DROP, "Frames for the guest dropped: the vif was not connected."),
	C(rx_too_big, DROP, "Frames for the guest dropped: bigger than the guest can take."),
	C(rx_queue_full, DROP, "Frames for the guest dropped: no posted buffers and the queue full."),
	C(rx_bad_grant, DROP, "Frames for the guest dropped: a posted buffer's grant not writable."),
	C(rx_queued, GAUGE, "Frames waiting for the guest's RX buffers now."),
	C(rx_queued_max, GAUGE, "High-water mark of the frames waiting for the guest's RX buffers."),
	C(tx_rate_limited, 0, "Times the guest's TX stopped for lack of rate credit."),
	C(tx_storm_paused, 0, "Times the guest's TX was held after a storm-control drop, until a token."),
	C(fatal, 0, "Times the vif was disabled for a protocol violation."),
	C(evt_in, 0, "Notifications received from the guest."),
	C(evt_out, 0, "Notifications sent to the guest."),
};

const unsigned int pv_vif_nr_counters = sizeof(pv_vif_counters) / sizeof(pv_vif_counters[0]);

/* Every uint64_t of the struct is in the table (a new field needs a row). */
_Static_assert(sizeof(pv_vif_counters) / sizeof(pv_vif_counters[0]) ==
	       sizeof(struct pv_vif_stats) / sizeof(uint64_t),
	       "struct pv_vif_stats has a field vif_counters.c does not list");

uint64_t pv_vif_counters_drops(const struct pv_vif_stats *st)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < pv_vif_nr_counters; i++)
		if (pv_vif_counters[i].flags & PV_VIF_CTR_DROP)
			sum += pv_vif_counter_get(st, &pv_vif_counters[i]);
	return sum;
}
