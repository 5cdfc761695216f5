#!/usr/bin/env bash
# multihost.sh - two pvnet hosts on one L2 segment (tests/lib/hosts.sh):
# host 1 reaches the wire through an AF_PACKET uplink, host 2 through
# pvnet-nicd; a guest on each pings the other guest and the external host,
# IPv4 and IPv6, and they exchange TCP streams both ways (IPv4 and IPv6,
# sha256 checked), on the slow path and then with g2 accelerated.
#
#  g1 ─rings─ h1: pvnetd --uplink up0 ═══ h1p ┐
#                                          wire: br0 ── e0 ═══ ext eth0 .100
#  g2 ─rings─ h2: pvnetd --nic ─ pvnet-nicd up0 ═══ h2p ┘
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/hosts.sh"
need_root
need ping timeout python3
[ -x "$BUILD/pvnet-nicd" ] || { skip "multihost.sh: no pvnet-nicd"; exit 0; }

wire_begin mh
add_host 1 uplink
add_host 2 nic
mk_ns g1 g1 && mk_ns g2 g2 || die "namespaces"
use_host 1; start_guest "$g1" g1 "198.18.0.1 fd00:18::1" --mac 00:16:3e:00:01:01
use_host 2; start_guest "$g2" g2 "198.18.0.2 fd00:18::2" --mac 00:16:3e:00:02:02
ip netns exec "$g1" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
ip netns exec "$g2" sysctl -qw net.ipv6.conf.eth0.accept_dad=0

check "ping_ok '$g1' 198.18.0.100" "g1 (host 1, uplink) reaches the external host"
check "ping_ok '$g2' 198.18.0.100" "g2 (host 2, NIC) reaches the external host"
check "ping_ok '$g1' 198.18.0.2" "g1 on host 1 reaches g2 on host 2 (IPv4)"
check "ping_ok '$g2' fd00:18::1" "g2 on host 2 reaches g1 on host 1 (IPv6)"
check "ping_ok '$ext' fd00:18::2" "the external host reaches g2 (IPv6)"
tcp_both() { # LABEL: TCP between g1 and g2, both ways, IPv4 and IPv6
	tcp_check "$g1" "$g2" 198.18.0.2 "$1: TCP g1 -> g2, IPv4: every byte, sha256 equal"
	tcp_check "$g2" "$g1" 198.18.0.1 "$1: TCP g2 -> g1, IPv4: every byte, sha256 equal"
	tcp_check "$g1" "$g2" fd00:18::2 "$1: TCP g1 -> g2, IPv6: every byte, sha256 equal"
	tcp_check "$g2" "$g1" fd00:18::1 "$1: TCP g2 -> g1, IPv6: every byte, sha256 equal"
}
tcp_both "slow path"
use_host 2
d2=$(domid_of g2)
P accel "$d2" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(P --json accel $d2 0 show | jget accelstate)\\\" = 4 ]\"" \
	"g2 accelerated on host 2 (accelstate 4)"
check "ping_ok '$g2' 198.18.0.1" "accelerated g2 still reaches g1 on host 1"
tcp_both "g2 accelerated"
v=$(P --json accel "$d2" 0 show | jget vi_tx_bytes)
check "[ '${v:-0}' -gt 1000000 ]" "g2's TCP to g1 went through its VI (vi_tx_bytes ${v:-0})"
use_host 1
check "[ -n \"\$(P mac-table | grep -i 00:16:3e:00:02:02)\" ]" "host 1's bridge learned g2's MAC on its uplink"
finish
