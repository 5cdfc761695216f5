/* SPDX-License-Identifier: MIT */
/*
 * pkt.h - checked parsing of Ethernet frames, checksum offload helpers and
 * software TCP segmentation (GSO), shared by netback (guest frames:
 * untrusted), netfront, the uplinks and the fast path.
 *
 * Every function takes the frame as one contiguous buffer and its length,
 * and never reads outside [frame, frame + len): all access goes through
 * one checked accessor in pkt.c that names its caller when a header would
 * run past the end.  Nothing here allocates, logs above debug level, or
 * keeps state between calls.
 *
 *   frame: | Ethernet | [802.1Q] | IPv4 (+options) or IPv6 (+ext hdrs) | TCP/UDP | payload | [pad]
 *          ^0                    ^l3_off                               ^l4_off            ^l3_end
 *
 * Errors are negative errno values:
 *   -EMSGSIZE  the frame ends before a header it announces (truncated);
 *   -EINVAL    the headers are inconsistent, or not what the function needs
 *              (not IP, not TCP/UDP, a fragment, a GSO type that does not fit).
 */
#ifndef PVNET_PKT_H
#define PVNET_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PV_PKT_ETH_HLEN		14
#define PV_PKT_VLAN_HLEN	4
#define PV_PKT_ETH_P_IPV4	0x0800
#define PV_PKT_ETH_P_IPV6	0x86dd
#define PV_PKT_ETH_P_8021Q	0x8100
#define PV_PKT_IPV6_MAX_EXT	8	/* extension headers walked before giving up */
#define PV_PKT_GSO_HDR_MAX	256	/* Ethernet..TCP headers a GSO frame may carry */

/* Checksum field offsets from the L4 header (csum_offset). */
#define PV_PKT_TCP_CSUM_OFF	16
#define PV_PKT_UDP_CSUM_OFF	6

/* GSO types: the same numbers as port.h's PV_GSO_* (asserted in uplink.c). */
#define PV_PKT_GSO_NONE		0
#define PV_PKT_GSO_TCPV4	1
#define PV_PKT_GSO_TCPV6	2

/* TCP flags (the header's byte 13). */
#define PV_TCP_FIN	0x01
#define PV_TCP_SYN	0x02
#define PV_TCP_RST	0x04
#define PV_TCP_PSH	0x08
#define PV_TCP_ACK	0x10
#define PV_TCP_URG	0x20
#define PV_TCP_ECE	0x40
#define PV_TCP_CWR	0x80

/* pv_pkt_info.flags */
#define PV_PKT_F_VLAN	0x1	/* one 802.1Q tag was present: vlan_tci valid */
#define PV_PKT_F_FRAG	0x2	/* an IP fragment: L4 not parsed, no ports */
#define PV_PKT_F_PORTS	0x4	/* TCP or UDP header parsed: ports valid */

/**
 * struct pv_pkt_info - what pv_pkt_parse() found
 * @ethertype:	EtherType in host order, after a VLAN tag if any
 * @vlan_tci:	the tag's TCI (host order), with PV_PKT_F_VLAN
 * @flags:	PV_PKT_F_*
 * @ip_version:	4, 6, or 0 when the frame is not IP
 * @l4_proto:	IP protocol number (after IPv6 extension headers), with IP
 * @tcp_flags:	PV_TCP_* of a TCP segment, with PV_PKT_F_PORTS
 * @l3_off:	offset of the IP header (the byte after the Ethernet/VLAN header)
 * @l4_off:	offset of the L4 header; 0 when not reached (not IP, fragment)
 * @l4_hdr_len:	TCP: data offset * 4; UDP: 8; with PV_PKT_F_PORTS
 * @l3_end:	end of the IP datagram as its length field says (<= len;
 *		anything after it is Ethernet padding)
 * @src_ip:	source address, network order; IPv4 uses the first 4 bytes
 * @dst_ip:	destination address, likewise
 * @src_port:	TCP/UDP source port, host order, with PV_PKT_F_PORTS
 * @dst_port:	TCP/UDP destination port, host order, with PV_PKT_F_PORTS
 */
struct pv_pkt_info {
	uint16_t ethertype;
	uint16_t vlan_tci;
	uint16_t flags;
	uint8_t ip_version;
	uint8_t l4_proto;
	uint8_t tcp_flags;
	uint32_t l3_off;
	uint32_t l4_off;
	uint32_t l4_hdr_len;
	uint32_t l3_end;
	uint8_t src_ip[16];
	uint8_t dst_ip[16];
	uint16_t src_port;
	uint16_t dst_port;
};

/**
 * struct pv_pkt_seg - one segment produced by pv_pkt_gso_segment()
 * @hdr:	rebuilt headers (Ethernet..TCP), valid during the callback only
 * @hdr_len:	bytes at @hdr
 * @payload:	this segment's payload, a slice of the original frame
 * @payload_len: bytes at @payload (<= gso_size)
 * @index:	0 for the first segment
 *
 * The segment on the wire is @hdr followed by @payload; its IP length,
 * IPv4 id and header checksum, TCP sequence number, flags and checksum are
 * all final.
 */
struct pv_pkt_seg {
	const uint8_t *hdr;
	uint32_t hdr_len;
	const uint8_t *payload;
	uint32_t payload_len;
	unsigned int index;
};

/* Called per segment; a non-zero return stops segmentation and is returned. */
typedef int (*pv_pkt_seg_fn)(const struct pv_pkt_seg *seg, void *arg);

/**
 * pv_pkt_get_() - the checked accessor: a pointer to @size bytes at @off
 * @buf:	buffer start
 * @len:	buffer length: nothing at or beyond it may be read
 * @off:	offset of the bytes wanted
 * @size:	how many bytes
 * @func:	caller, for the debug message
 * @line:	caller's line
 *
 * Use it through pv_pkt_get(), or pv_pkt_getw() for buffers the caller may
 * write (checksum completion); both pass the caller's place.  Offsets and sizes are 64-bit and checked without
 * computing off + size, so no sum of them can wrap.
 *
 * Return: buf + off, or NULL (logged at debug level) if [off, off + size)
 * is not inside [0, len).
 */
const uint8_t *pv_pkt_get_(const uint8_t *buf, uint32_t len, uint64_t off, uint64_t size,
			   const char *func, int line);

#define pv_pkt_get(buf, len, off, size) \
	pv_pkt_get_((buf), (len), (off), (size), __func__, __LINE__)

#define pv_pkt_getw(buf, len, off, size) \
	((uint8_t *)(uintptr_t)pv_pkt_get_((buf), (len), (off), (size), __func__, __LINE__))

int pv_pkt_parse(const uint8_t *frame, uint32_t len, struct pv_pkt_info *pi);
/* The same from a header copy: reads @avail bytes at most, checks lengths against @len. */
int pv_pkt_parse_hdr(const uint8_t *hdr, uint32_t avail, uint32_t len, struct pv_pkt_info *pi);
int pv_pkt_csum_setup_hdr(const uint8_t *hdr, uint32_t avail, uint32_t len,
			  uint16_t *csum_start, uint16_t *csum_offset);
bool pv_pkt_is_tcp_gso_ok_hdr(const uint8_t *hdr, uint32_t avail, uint32_t len, int gso_type);
int pv_pkt_csum_setup(const uint8_t *frame, uint32_t len,
		      uint16_t *csum_start, uint16_t *csum_offset);
bool pv_pkt_is_tcp_gso_ok(const uint8_t *frame, uint32_t len, int gso_type);
int pv_pkt_csum_complete(uint8_t *frame, uint32_t len,
			 uint16_t csum_start, uint16_t csum_offset);
int pv_pkt_gso_segment(const uint8_t *frame, uint32_t len, uint16_t gso_size,
		       int gso_type, pv_pkt_seg_fn fn, void *arg);

uint32_t pv_pkt_csum_add(uint32_t sum, const void *buf, size_t len);
uint16_t pv_pkt_csum_fold(uint32_t sum);

#endif
