/* SPDX-License-Identifier: MIT */
/*
 * pkt.c - checked frame parsing, checksum offload helpers, software TCP
 * segmentation.
 *
 * Theory of operation
 * ===================
 *
 * Frames come from guests (hostile) and from host interfaces.  Parsing
 * walks Ethernet, at most one 802.1Q tag, IPv4 (IHL and total length
 * checked) or IPv6 (payload length checked, hop-by-hop / routing /
 * destination-options headers walked, at most PV_PKT_IPV6_MAX_EXT of
 * them), then a TCP or UDP header.  Each header is fetched with pv_pkt_get(),
 * the one checked accessor: it returns NULL (and, at debug level, logs the
 * caller) when the bytes asked for are not all inside the buffer.  Once
 * the IP length is known, L4 parsing is bounded by the IP datagram's end
 * (l3_end), not by the frame's, so Ethernet padding is never taken for
 * headers or payload.
 *
 * Checksums are computed on big-endian 16-bit words held in host integers
 * (so nothing depends on the host's byte order) and written back byte by
 * byte.  pv_pkt_csum_complete() does what Linux's skb_checksum_help() does
 * for a CHECKSUM_PARTIAL frame: the checksum field already holds the
 * folded pseudo-header sum; the sum from csum_start to the end, that field
 * included, is folded, inverted and stored (0 becomes 0xffff).
 *
 * pv_pkt_gso_segment() cuts a TCP frame whose payload exceeds the MSS into
 * MSS-sized segments, like the kernel's tcp_gso_segment(): each gets a
 * copy of the headers with its own IP length (IPv4: id + index and a new
 * header checksum), sequence number, flags (CWR on the first only, FIN and
 * PSH on the last only) and a complete TCP checksum.  Payload is not
 * copied: the callback gets the rebuilt headers and a slice of the input.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "pkt.h"

#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IP6_HOPOPTS	0
#define IP6_ROUTING	43
#define IP6_FRAGMENT	44
#define IP6_DSTOPTS	60

/* The checked accessor (pkt.h); every header read below goes through it. */
const uint8_t *pv_pkt_get_(const uint8_t *buf, uint32_t len, uint64_t off, uint64_t size,
			   const char *func, int line)
{
	if (off > len || size > len - off) {
		pv_debug("pkt: %s:%d: %llu bytes at %llu past the end (%u)",
			 func, line, (unsigned long long)size,
			 (unsigned long long)off, len);
		return NULL;
	}
	return buf + off;
}

/* A length check only: does [off, off + size) fit in @len?  Nothing is read. */
static inline bool pkt_fits(uint32_t len, uint64_t off, uint64_t size)
{
	return off + size <= len;
}

static inline uint32_t pkt_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/**
 * pv_pkt_csum_add() - add bytes to a ones-complement sum
 * @sum:	running sum (0 to start)
 * @buf:	bytes, taken as big-endian 16-bit words
 * @len:	byte count; only the last chunk of a sum may be odd
 *
 * Return: the new running sum, not folded.
 */
uint32_t pv_pkt_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s = sum;

	while (len >= 2) {
		s += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/**
 * pv_pkt_csum_fold() - fold a running sum to 16 bits and invert it
 * @sum:	running sum from pv_pkt_csum_add()
 *
 * Return: the checksum to store (host-order value of the big-endian field).
 */
uint16_t pv_pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/**
 * pkt_parse_eth() - Ethernet header and at most one 802.1Q tag
 * @frame:	frame
 * @len:	frame length
 * @pi:		filled: ethertype, vlan_tci, PV_PKT_F_VLAN, l3_off
 *
 * Return: 0, or -EMSGSIZE if the frame is shorter than its L2 header.
 */
static int pkt_parse_eth(const uint8_t *frame, uint32_t avail, struct pv_pkt_info *pi)
{
	const uint8_t *eh = pv_pkt_get(frame, avail, 0, PV_PKT_ETH_HLEN);
	const uint8_t *tag;

	if (!eh)
		return -EMSGSIZE;
	pi->ethertype = rd16(eh + 12);
	pi->l3_off = PV_PKT_ETH_HLEN;
	if (pi->ethertype != PV_PKT_ETH_P_8021Q)
		return 0;
	tag = pv_pkt_get(frame, avail, PV_PKT_ETH_HLEN, PV_PKT_VLAN_HLEN);
	if (!tag)
		return -EMSGSIZE;
	pi->flags |= PV_PKT_F_VLAN;
	pi->vlan_tci = rd16(tag);
	pi->ethertype = rd16(tag + 2);
	pi->l3_off += PV_PKT_VLAN_HLEN;
	return 0;
}

/**
 * pkt_parse_ipv4() - IPv4 header, options included
 * @frame:	frame
 * @len:	frame length
 * @pi:		l3_off set; fills addresses, l4_proto, l3_end, l4_off, FRAG
 *
 * Return: 0; -EINVAL for a bad version, IHL < 5 or a total length shorter
 * than the header; -EMSGSIZE when the frame is shorter than the total length.
 */
static int pkt_parse_ipv4(const uint8_t *frame, uint32_t avail, uint32_t len,
			  struct pv_pkt_info *pi)
{
	const uint8_t *ip = pv_pkt_get(frame, avail, pi->l3_off, 20);
	uint32_t ihl, tot;

	if (!ip)
		return -EMSGSIZE;
	if (ip[0] >> 4 != 4)
		return -EINVAL;
	ihl = (ip[0] & 0x0f) * 4u;
	tot = rd16(ip + 2);
	if (ihl < 20 || tot < ihl)
		return -EINVAL;
	if (!pkt_fits(len, pi->l3_off, tot))
		return -EMSGSIZE;
	pi->ip_version = 4;
	pi->l4_proto = ip[9];
	pi->l3_end = pi->l3_off + tot;
	memcpy(pi->src_ip, ip + 12, 4);
	memcpy(pi->dst_ip, ip + 16, 4);
	/* More-fragments or a fragment offset: only the datagram has an L4 header. */
	if (rd16(ip + 6) & 0x3fff)
		pi->flags |= PV_PKT_F_FRAG;
	else
		pi->l4_off = pi->l3_off + ihl;
	return 0;
}

/**
 * pkt_parse_ipv6() - IPv6 header and its extension headers
 * @frame:	frame
 * @len:	frame length
 * @pi:		l3_off set; fills addresses, l4_proto, l3_end, l4_off, FRAG
 *
 * Hop-by-hop, routing and destination-options headers are skipped, at most
 * PV_PKT_IPV6_MAX_EXT of them (a chain of thousands of tiny headers is a
 * classic parser DoS).  A fragment header ends the walk with FRAG set.
 * Any other next header is taken as the upper-layer protocol.
 *
 * Return: 0; -EINVAL for a bad version or too many extension headers;
 * -EMSGSIZE when the frame is shorter than the payload length or an
 * extension header runs past the datagram.
 */
static int pkt_parse_ipv6(const uint8_t *frame, uint32_t avail, uint32_t len,
			  struct pv_pkt_info *pi)
{
	const uint8_t *ip = pv_pkt_get(frame, avail, pi->l3_off, 40);
	const uint8_t *ext;
	uint32_t cur, end;
	uint8_t nh;

	if (!ip)
		return -EMSGSIZE;
	if (ip[0] >> 4 != 6)
		return -EINVAL;
	if (!pkt_fits(len, pi->l3_off, 40u + rd16(ip + 4)))
		return -EMSGSIZE;
	pi->ip_version = 6;
	end = pi->l3_end = pi->l3_off + 40 + rd16(ip + 4);
	memcpy(pi->src_ip, ip + 8, 16);
	memcpy(pi->dst_ip, ip + 24, 16);
	nh = ip[6];
	cur = pi->l3_off + 40;
	for (unsigned int n = 0;; n++) {
		if (nh != IP6_HOPOPTS && nh != IP6_ROUTING &&
		    nh != IP6_DSTOPTS && nh != IP6_FRAGMENT)
			break;
		if (n >= PV_PKT_IPV6_MAX_EXT)
			return -EINVAL;
		ext = pv_pkt_get(frame, pkt_min(end, avail), cur, 8);
		if (!ext)
			return -EMSGSIZE;
		if (nh == IP6_FRAGMENT) {
			pi->flags |= PV_PKT_F_FRAG;
			pi->l4_proto = ext[0];
			return 0;
		}
		if (!pkt_fits(end, cur, (ext[1] + 1u) * 8))
			return -EMSGSIZE;
		nh = ext[0];
		cur += (ext[1] + 1u) * 8;
	}
	pi->l4_proto = nh;
	pi->l4_off = cur;
	return 0;
}

/**
 * pkt_parse_l4() - TCP or UDP header, bounded by the IP datagram
 * @frame:	frame
 * @pi:		l4_off, l4_proto, l3_end set; fills ports, tcp_flags, l4_hdr_len
 *
 * Return: 0 (also for protocols other than TCP and UDP, left unparsed);
 * -EINVAL for a TCP data offset < 5; -EMSGSIZE when the header runs past
 * the datagram.
 */
static int pkt_parse_l4(const uint8_t *frame, uint32_t avail, struct pv_pkt_info *pi)
{
	uint32_t lim = pkt_min(pi->l3_end, avail);
	const uint8_t *l4;
	uint32_t hl;

	if (pi->l4_proto == IPPROTO_TCP_) {
		l4 = pv_pkt_get(frame, lim, pi->l4_off, 20);
		if (!l4)
			return -EMSGSIZE;
		hl = (l4[12] >> 4) * 4u;
		if (hl < 20)
			return -EINVAL;
		if (!pv_pkt_get(frame, lim, pi->l4_off, hl))
			return -EMSGSIZE;
		pi->tcp_flags = l4[13];
	} else if (pi->l4_proto == IPPROTO_UDP_) {
		l4 = pv_pkt_get(frame, lim, pi->l4_off, 8);
		if (!l4)
			return -EMSGSIZE;
		hl = 8;
	} else {
		return 0;
	}
	pi->src_port = rd16(l4);
	pi->dst_port = rd16(l4 + 2);
	pi->l4_hdr_len = hl;
	pi->flags |= PV_PKT_F_PORTS;
	return 0;
}

/**
 * pv_pkt_parse() - parse a frame's headers
 * @frame:	frame, starting at the Ethernet header
 * @len:	frame length in bytes
 * @pi:		result; zeroed first, filled as far as parsing got
 *
 * A frame that is not IP, an IP protocol other than TCP or UDP, and IP
 * fragments are not errors: they parse with ip_version 0, without
 * PV_PKT_F_PORTS, or with PV_PKT_F_FRAG respectively.
 *
 * Return: 0; -EMSGSIZE if a header is cut short; -EINVAL if the headers
 * are inconsistent (IP version, IHL, lengths, TCP data offset, too many
 * IPv6 extension headers).
 */
int pv_pkt_parse(const uint8_t *frame, uint32_t len, struct pv_pkt_info *pi)
{
	return pv_pkt_parse_hdr(frame, len, len, pi);
}

/**
 * pv_pkt_parse_hdr() - parse headers from the first bytes of a frame
 * @hdr:	the frame's first @avail bytes (a private header copy)
 * @avail:	bytes readable at @hdr
 * @len:	the whole frame's length, for the IP length checks
 * @pi:		as pv_pkt_parse()
 *
 * Reads nothing beyond @avail; checks lengths against @len.  Headers that
 * do not fit in @avail give -EMSGSIZE: parse the whole frame then.
 *
 * Return: as pv_pkt_parse().
 */
int pv_pkt_parse_hdr(const uint8_t *hdr, uint32_t avail, uint32_t len, struct pv_pkt_info *pi)
{
	int rc;

	memset(pi, 0, sizeof(*pi));
	if (avail > len)
		avail = len;
	rc = pkt_parse_eth(hdr, avail, pi);
	if (rc)
		return rc;
	if (pi->ethertype == PV_PKT_ETH_P_IPV4)
		rc = pkt_parse_ipv4(hdr, avail, len, pi);
	else if (pi->ethertype == PV_PKT_ETH_P_IPV6)
		rc = pkt_parse_ipv6(hdr, avail, len, pi);
	else
		return 0;
	if (rc || !pi->l4_off)
		return rc;
	return pkt_parse_l4(hdr, avail, pi);
}

/**
 * pv_pkt_csum_setup() - where a frame's L4 checksum starts and lives
 * @frame:	frame
 * @len:	frame length
 * @csum_start:	out: offset of the TCP/UDP header from the frame start
 * @csum_offset: out: offset of the checksum field from @csum_start
 *		(16 for TCP, 6 for UDP)
 *
 * Netback uses this for a guest frame flagged NETTXF_csum_blank without
 * GSO metadata, as Linux's skb_checksum_setup() does.
 *
 * Return: 0; -EINVAL if the frame is not unfragmented IPv4/IPv6 TCP/UDP or
 * its headers are inconsistent; -EMSGSIZE if truncated.
 */
int pv_pkt_csum_setup(const uint8_t *frame, uint32_t len,
		      uint16_t *csum_start, uint16_t *csum_offset)
{
	return pv_pkt_csum_setup_hdr(frame, len, len, csum_start, csum_offset);
}

/**
 * pv_pkt_csum_setup_hdr() - pv_pkt_csum_setup() from a header copy
 * @avail: bytes readable at @hdr; @len: the whole frame's length
 */
int pv_pkt_csum_setup_hdr(const uint8_t *hdr, uint32_t avail, uint32_t len,
			  uint16_t *csum_start, uint16_t *csum_offset)
{
	struct pv_pkt_info pi;
	int rc = pv_pkt_parse_hdr(hdr, avail, len, &pi);

	if (rc)
		return rc;
	if (!pi.ip_version || (pi.flags & PV_PKT_F_FRAG) ||
	    !(pi.flags & PV_PKT_F_PORTS) || pi.l4_off > UINT16_MAX)
		return -EINVAL;
	*csum_start = (uint16_t)pi.l4_off;
	*csum_offset = pi.l4_proto == IPPROTO_TCP_ ? PV_PKT_TCP_CSUM_OFF
						   : PV_PKT_UDP_CSUM_OFF;
	return 0;
}

/* Does @pi describe a TCP frame that GSO type @gso_type may cut? */
static bool pkt_tcp_gso_fits(const struct pv_pkt_info *pi, int gso_type)
{
	if (!(pi->flags & PV_PKT_F_PORTS) || pi->l4_proto != IPPROTO_TCP_)
		return false;
	return (gso_type == PV_PKT_GSO_TCPV4 && pi->ip_version == 4) ||
	       (gso_type == PV_PKT_GSO_TCPV6 && pi->ip_version == 6);
}

/**
 * pv_pkt_is_tcp_gso_ok() - may this frame carry this GSO type?
 * @frame:	frame
 * @len:	frame length
 * @gso_type:	PV_PKT_GSO_TCPV4 or PV_PKT_GSO_TCPV6
 *
 * For a guest's GSO extra-info (BADINPUTS 16): GSO on a non-TCP frame, on a
 * fragment, TCPV4 on IPv6 (or the reverse), PV_PKT_GSO_NONE and unknown
 * types are all refused.
 *
 * Return: true if the frame parses and is TCP over the IP version of @gso_type.
 */
bool pv_pkt_is_tcp_gso_ok(const uint8_t *frame, uint32_t len, int gso_type)
{
	return pv_pkt_is_tcp_gso_ok_hdr(frame, len, len, gso_type);
}

/* pv_pkt_is_tcp_gso_ok() from a header copy: @avail readable, @len the frame's length. */
bool pv_pkt_is_tcp_gso_ok_hdr(const uint8_t *hdr, uint32_t avail, uint32_t len, int gso_type)
{
	struct pv_pkt_info pi;

	if (pv_pkt_parse_hdr(hdr, avail, len, &pi))
		return false;
	return pkt_tcp_gso_fits(&pi, gso_type);
}

/**
 * pv_pkt_csum_complete() - fill in a partial checksum in software
 * @frame:	frame (written: the checksum field)
 * @len:	frame length; the sum covers frame[@csum_start, @len)
 * @csum_start:	where the summed region starts (the L4 header)
 * @csum_offset: checksum field's offset from @csum_start
 *
 * The field must hold the pseudo-header sum, as CHECKSUM_PARTIAL (and
 * NETTXF_csum_blank, and VIRTIO_NET_HDR_F_NEEDS_CSUM) frames carry it.
 *
 * Return: 0, or -EMSGSIZE if the field is not inside the frame (nothing
 * written).
 */
int pv_pkt_csum_complete(uint8_t *frame, uint32_t len,
			 uint16_t csum_start, uint16_t csum_offset)
{
	uint8_t *field = pv_pkt_getw(frame, len, (uint64_t)csum_start + csum_offset, 2);
	uint16_t c;

	if (!field)
		return -EMSGSIZE;
	c = pv_pkt_csum_fold(pv_pkt_csum_add(0, frame + csum_start, len - csum_start));
	wr16(field, c ? c : 0xffff);
	return 0;
}

/* Ones-complement sum of the TCP pseudo-header for a @tcp_len-byte segment. */
static uint32_t pkt_pseudo_sum(const struct pv_pkt_info *pi, uint32_t tcp_len)
{
	uint8_t ph[40];

	if (pi->ip_version == 4) {
		memcpy(ph, pi->src_ip, 4);
		memcpy(ph + 4, pi->dst_ip, 4);
		ph[8] = 0;
		ph[9] = IPPROTO_TCP_;
		wr16(ph + 10, (uint16_t)tcp_len);
		return pv_pkt_csum_add(0, ph, 12);
	}
	memcpy(ph, pi->src_ip, 16);
	memcpy(ph + 16, pi->dst_ip, 16);
	wr32(ph + 32, tcp_len);
	memset(ph + 36, 0, 3);
	ph[39] = IPPROTO_TCP_;
	return pv_pkt_csum_add(0, ph, 40);
}

/**
 * pkt_gso_fix_hdr() - turn a copy of the headers into segment @i's
 * @hdr:	headers copied from the frame (hlen bytes)
 * @pi:		the frame's parse
 * @hlen:	Ethernet..TCP header bytes
 * @i:		segment index
 * @last:	is this the last segment?
 * @seq_off:	payload bytes before this segment
 * @payload:	this segment's payload
 * @plen:	its length
 */
static void pkt_gso_fix_hdr(uint8_t *hdr, const struct pv_pkt_info *pi,
			    uint32_t hlen, unsigned int i, bool last,
			    uint32_t seq_off, const uint8_t *payload, uint32_t plen)
{
	uint8_t *ip = hdr + pi->l3_off, *th = hdr + pi->l4_off;
	uint32_t tcp_len = pi->l4_hdr_len + plen, sum;

	if (pi->ip_version == 4) {
		uint32_t ihl = pi->l4_off - pi->l3_off;

		wr16(ip + 2, (uint16_t)(hlen - pi->l3_off + plen));
		wr16(ip + 4, (uint16_t)(rd16(ip + 4) + i));
		wr16(ip + 10, 0);
		wr16(ip + 10, pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, ihl)));
	} else {
		wr16(ip + 4, (uint16_t)(hlen - pi->l3_off - 40 + plen));
	}
	wr32(th + 4, rd32(th + 4) + seq_off);
	if (i)
		th[13] &= (uint8_t)~PV_TCP_CWR;
	if (!last)
		th[13] &= (uint8_t)~(PV_TCP_FIN | PV_TCP_PSH);
	wr16(th + PV_PKT_TCP_CSUM_OFF, 0);
	sum = pkt_pseudo_sum(pi, tcp_len);
	sum = pv_pkt_csum_add(sum, th, pi->l4_hdr_len);
	sum = pv_pkt_csum_add(sum, payload, plen);
	wr16(th + PV_PKT_TCP_CSUM_OFF, pv_pkt_csum_fold(sum));
}

/**
 * pv_pkt_gso_segment() - cut a TCP GSO frame into MSS-sized segments
 * @frame:	the whole frame (contiguous)
 * @len:	its length
 * @gso_size:	MSS: payload bytes per segment, > 0
 * @gso_type:	PV_PKT_GSO_TCPV4 or PV_PKT_GSO_TCPV6, matching the frame
 * @fn:		called once per segment, in order
 * @arg:	passed to @fn
 *
 * The checksum state of the input does not matter (partial, complete or
 * garbage): every segment's checksums are computed from scratch.  A frame
 * whose payload fits in one segment yields one segment.
 *
 * Return: the number of segments; a non-zero value returned by @fn; or
 * -EINVAL (gso_size 0, GSO type not fitting the frame, headers longer than
 * PV_PKT_GSO_HDR_MAX) or -EMSGSIZE (truncated) from parsing.
 */
int pv_pkt_gso_segment(const uint8_t *frame, uint32_t len, uint16_t gso_size,
		       int gso_type, pv_pkt_seg_fn fn, void *arg)
{
	uint8_t hdr[PV_PKT_GSO_HDR_MAX];
	struct pv_pkt_seg seg = { .hdr = hdr };
	struct pv_pkt_info pi;
	const uint8_t *payload;
	uint32_t hlen, plen, off = 0;
	int rc = pv_pkt_parse(frame, len, &pi);

	if (rc)
		return rc;
	if (!fn || !gso_size || !pkt_tcp_gso_fits(&pi, gso_type))
		return -EINVAL;
	hlen = pi.l4_off + pi.l4_hdr_len;
	if (hlen > sizeof(hdr))
		return -EINVAL;
	plen = pi.l3_end - hlen;
	payload = pv_pkt_get(frame, pi.l3_end, hlen, plen);
	if (!payload)
		return -EMSGSIZE;	/* cannot happen after a good parse */
	seg.hdr_len = hlen;
	do {
		uint32_t n = plen - off < gso_size ? plen - off : gso_size;

		memcpy(hdr, frame, hlen);
		pkt_gso_fix_hdr(hdr, &pi, hlen, seg.index, off + n == plen,
				off, payload + off, n);
		seg.payload = payload + off;
		seg.payload_len = n;
		rc = fn(&seg, arg);
		if (rc)
			return rc;
		off += n;
		seg.index++;
	} while (off < plen);
	return (int)seg.index;
}
