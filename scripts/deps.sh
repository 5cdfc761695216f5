#!/usr/bin/env bash
# deps.sh - install, with apt, what pvnet needs and a fresh Debian machine
# lacks.  Quiet and quick when everything is already there.
set -eu
pkgs=(
	build-essential   # cc, make
	clang             # make asan, fuzzers
	cppcheck          # make lint
	libxen-dev        # Xen's public ABI headers: ring.h, netif.h, grant_table.h, xs_wire.h
	xenstore-utils    # xenstore-ls & co, the interop tests' real clients
	iproute2          # ip netns, veth
	iperf3            # integration tests and benchmarks
	gnuplot-nox       # make bench: the chart of the table
	iputils-ping
	fping             # tests/integration/scale.sh: all-pairs ping between 64 guests
	tcpdump
	ethtool           # gro.sh: the external host's TSO/GSO off
	procps            # pgrep, ps
	psmisc
	libmicrohttpd-dev # pvnetd --metrics: the HTTP server for Prometheus scrapes
	prometheus        # promtool check metrics, in tests/integration/metrics.sh
	curl              # the metrics test's HTTP client
	libpcap-dev       # pvnetctl capture -w: pcap files written with pcap_dump
	liblwip-dev       # libpvnet's TCP (layer 3): lwIP's raw API, linked
	pkg-config        # lwIP's flags (lwip.pc)
	sockperf          # tests/integration/preload.sh, bench/libpvnet.sh: unmodified under LD_PRELOAD
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
