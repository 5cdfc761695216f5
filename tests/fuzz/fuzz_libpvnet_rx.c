/* SPDX-License-Identifier: MIT */
/*
 * fuzz_libpvnet_rx.c - libFuzzer harness for libpvnet's receive parser
 * (src/libpvnet/udp.c: stack_rx_parse), which reads frames from the wire:
 * anyone on the network writes them.
 *
 *   make build-fuzz/fuzz_libpvnet_rx
 *   build-fuzz/fuzz_libpvnet_rx -max_total_time=60 -max_len=2048 build-fuzz/corpus_libpvnet_rx
 *
 * The input is [flags:1][frame]: flags bit 0 says the NIC checked the L4
 * checksum (PV_NIC_RX_F_CSUM_OK), bit 1 makes the socket connected.
 * Checked: memory safety, and that a datagram the parser accepts lies
 * inside the frame (what recvfrom() copies out), for the socket it names.
 */
#include <stdlib.h>

#include "../../src/libpvnet/udp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pvnet_stack st;
	static struct pvnet_udp s;
	struct udp_rx rx;
	const struct pvnet_udp *got;

	if (size < 1 || size > 1 + PVNET_BUF_SIZE)
		return 0;
	memset(&st, 0, sizeof(st));
	memset(&s, 0, sizeof(s));
	st.attr.local_ip = htonl(0xc6120001);	/* 198.18.0.1 */
	s.st = &st;
	s.port = 5000;
	s.filter = (struct pvnet_filter *)&s;	/* "bound": never dereferenced by the parser */
	s.connected = data[0] & 2;
	s.peer_ip = htonl(0xc6120064);
	s.peer_port = htons(7000);
	st.socks = &s;
	got = stack_rx_parse(&st, data + 1, (uint32_t)(size - 1),
			     (data[0] & 1) ? PV_NIC_RX_F_CSUM_OK : 0, &rx);
	if (got && (got != &s || (size_t)rx.off + rx.len > size - 1))
		abort();
	return 0;
}
