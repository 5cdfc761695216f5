/* SPDX-License-Identifier: MIT */
/*
 * switch.c - pvnetd's switch: the bridge's learning table (bridge.c) put
 * to work between ports (vifs, uplinks, the host port).
 *
 * pv_switch_input() learns the frame's source on its ingress port, asks the
 * table where the destination is, and calls xmit() of the one egress port
 * or of every flood target.  Each port given a frame is put on a pending
 * list; pv_switch_flush(), called by the ingress side at the end of its
 * burst, runs every pending port's flush() once, so responses are pushed
 * and peers notified once per burst, not once per frame.
 *
 * A vif's MAC (from xenstore) is a static entry of its port: another
 * guest claiming it as a source is refused by the table and cannot draw
 * that vif's traffic.
 *
 * Storm control (port.h): a frame the table floods is broadcast,
 * multicast or unknown unicast; the ingress port's bucket for that kind
 * must have a token, or the frame is dropped before it is copied to
 * anyone (counted in the port's storm_drops, logged rate-limited).  One
 * guest flooding broadcasts at line rate thus costs every other port at
 * most its bucket's rate; unicast to a learned MAC is never limited.
 * pv_switch_input() then says so (-EAGAIN), and netback holds that vif's
 * TX ring for a millisecond (netback_tx.c, "storm pause"): a flood costs
 * pvnetd what the limit lets through and ~1000 dropped frames a second,
 * not the sender's full rate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "capture.h"
#include "port.h"
#include "lib/log.h"

struct pv_switch {
	struct pv_bridge *br;
	struct pv_port **ports;		/* by bridge port id */
	unsigned int max_ports;
	struct pv_port *flush_list;
};

static struct pv_ratelimit storm_rl = PV_RATELIMIT_INIT;
static const char *const storm_names[PV_STORM_KINDS] = { "broadcast", "multicast", "unknown unicast" };

static uint64_t sw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/**
 * pv_frame_copy() - copy part of a frame, header copy first, then segments
 * @off: offset in the frame; @len: bytes wanted
 *
 * Return: bytes copied, less than @len only at the end of the frame.
 */
void pv_frame_linear(struct pv_frame *f, const uint8_t *buf, uint32_t len)
{
	f->len = len;
	f->hdr_len = len < PV_FRAME_HDR_MAX ? len : PV_FRAME_HDR_MAX;
	memcpy(f->hdr, buf, f->hdr_len);
	f->nseg = 0;
	if (len > f->hdr_len) {
		f->seg[0].p = buf + f->hdr_len;
		f->seg[0].len = len - f->hdr_len;
		f->nseg = 1;
	}
}

uint32_t pv_frame_copy(const struct pv_frame *f, uint32_t off, void *dst, uint32_t len)
{
	uint8_t *d = dst;
	uint32_t done = 0, base;

	if (off < f->hdr_len) {
		uint32_t n = f->hdr_len - off < len ? f->hdr_len - off : len;

		memcpy(d, f->hdr + off, n);
		done = n;
	}
	base = f->hdr_len;
	for (unsigned int i = 0; i < f->nseg && done < len; i++) {
		const struct pv_seg *s = &f->seg[i];
		uint32_t at = off + done;

		if (at < base + s->len) {
			uint32_t so = at - base;
			uint32_t n = s->len - so < len - done ? s->len - so : len - done;

			memcpy(d + done, s->p + so, n);
			done += n;
		}
		base += s->len;
	}
	return done;
}

struct pv_switch *pv_switch_new(const struct pv_switch_config *sc)
{
	struct pv_switch *sw = calloc(1, sizeof(*sw));
	struct pv_bridge_config cfg = { .max_ports = 1024 };

	if (sc) {
		cfg.aging_ms = sc->mac_aging_ms;
		cfg.port_cap = sc->mac_cap;
		cfg.max_entries = sc->max_macs;
	}

	if (!sw)
		return NULL;
	sw->max_ports = cfg.max_ports;
	sw->ports = calloc(sw->max_ports, sizeof(*sw->ports));
	sw->br = pv_bridge_new(&cfg);
	if (!sw->ports || !sw->br) {
		pv_switch_free(sw);
		return NULL;
	}
	return sw;
}

void pv_switch_free(struct pv_switch *sw)
{
	if (!sw)
		return;
	if (sw->br)
		pv_bridge_free(sw->br);
	free(sw->ports);
	free(sw);
}

struct pv_bridge *pv_switch_bridge(struct pv_switch *sw)
{
	return sw->br;
}

struct pv_port *pv_switch_port(struct pv_switch *sw, int br_port)
{
	if (br_port < 0 || (unsigned int)br_port >= sw->max_ports)
		return NULL;
	return sw->ports[br_port];
}

/**
 * pv_switch_port_add() - attach a port; a port with a MAC gets it as a static entry
 * Return: 0, or -ENOSPC (no free port id), -EEXIST (the MAC is another port's).
 */
int pv_switch_port_add(struct pv_switch *sw, struct pv_port *port)
{
	int id = pv_bridge_port_add(sw->br, port, port->name);

	if (id < 0)
		return id;
	if ((unsigned int)id >= sw->max_ports) {
		pv_bridge_port_del(sw->br, id);
		return -ENOSPC;
	}
	if (port->has_mac) {
		int err = pv_bridge_add_static(sw->br, id, port->mac);

		if (err < 0) {
			pv_bridge_port_del(sw->br, id);
			return err;
		}
	}
	port->br_port = id;
	port->flush_pending = 0;
	sw->ports[id] = port;
	return 0;
}

static void sw_unlink_flush(struct pv_switch *sw, struct pv_port *port)
{
	for (struct pv_port **pp = &sw->flush_list; *pp; pp = &(*pp)->flush_next) {
		if (*pp == port) {
			*pp = port->flush_next;
			break;
		}
	}
	port->flush_pending = 0;
}

/* Detach a port: its MAC entries go with it. */
void pv_switch_port_del(struct pv_switch *sw, struct pv_port *port)
{
	if (pv_switch_port(sw, port->br_port) != port)
		return;
	if (port->flush_pending)
		sw_unlink_flush(sw, port);
	if (port->capture)
		pv_capture_port_gone(port);
	pv_bridge_port_del(sw->br, port->br_port);
	sw->ports[port->br_port] = NULL;
	port->br_port = -1;
}

static void sw_deliver(struct pv_switch *sw, struct pv_port *out, const struct pv_frame *f)
{
	int err = out->ops->xmit(out, f);

	if (err == 0) {
		out->st.tx_packets++;
		out->st.tx_bytes += f->len;
		if (out->capture)
			pv_capture_frame(out->capture, f, PV_CTL_CAP_RX);
	} else if (err != -ENOBUFS) {
		/* -ENOBUFS is counted by the port itself, by reason. */
		out->st.errors++;
	}
	if (!out->flush_pending && out->ops->flush) {
		out->flush_pending = 1;
		out->flush_next = sw->flush_list;
		sw->flush_list = out;
	}
}

/**
 * pv_switch_input() - forward one frame that arrived on @in
 *
 * The decision uses only f->hdr, the private copy.  Frames too short for
 * an Ethernet header are the ingress port's to refuse; here they are
 * dropped and counted on it.
 */
int pv_switch_input(struct pv_switch *sw, struct pv_port *in, const struct pv_frame *f)
{
	const struct pv_ethhdr *eh = (const void *)f->hdr;
	uint64_t now;
	int out = -1, p;

	if (f->hdr_len < PV_ETH_HLEN) {
		in->st.rx_dropped++;
		return 0;
	}
	in->st.rx_packets++;
	in->st.rx_bytes += f->len;
	if (in->capture)
		pv_capture_frame(in->capture, f, PV_CTL_CAP_TX);
	now = sw_now_ms();
	switch (pv_bridge_input(sw->br, in->br_port, eh, now, &out)) {
	case PV_BRIDGE_FORWARD:
		if (pv_switch_port(sw, out))
			sw_deliver(sw, sw->ports[out], f);
		break;
	case PV_BRIDGE_FLOOD: {
		enum pv_storm_kind k = pv_eth_is_broadcast(eh->dst) ? PV_STORM_BCAST :
				       pv_eth_is_multicast(eh->dst) ? PV_STORM_MCAST : PV_STORM_UNKNOWN;

		if (!pv_storm_take(&in->storm[k], now)) {
			in->st.storm_drops[k]++;
			pv_log_rl(&storm_rl, PV_LOG_WARN, "%s: %s over %u frames/s: dropped (storm control)",
				  in->name, storm_names[k], in->storm[k].pps);
			return -EAGAIN;
		}
		pv_bridge_foreach_flood(sw->br, in->br_port, p)
			if (pv_switch_port(sw, p))
				sw_deliver(sw, sw->ports[p], f);
		break;
	}
	case PV_BRIDGE_DROP:
		break;
	}
	return 0;
}

void pv_switch_flush(struct pv_switch *sw)
{
	while (sw->flush_list) {
		struct pv_port *p = sw->flush_list;

		sw->flush_list = p->flush_next;
		p->flush_pending = 0;
		p->ops->flush(p);
	}
}

void pv_switch_age(struct pv_switch *sw)
{
	unsigned int n = pv_bridge_age(sw->br, sw_now_ms());

	if (n)
		pv_debug("bridge: %u MAC entries aged out", n);
}
