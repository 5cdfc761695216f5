#!/usr/bin/env bash
# migrate_vxlan.sh - two hosts whose uplinks are kernel VXLAN devices (one
# VNI over an underlay bridge, tests/lib/hosts.sh mode "vxlan"): guests on
# each reach the other over the overlay (ping and TCP both ways, IPv4 and
# IPv6, sha256 checked), then g1 migrates
# from host 1 to host 2 under a TCP stream from g2 and keeps it.
#
#  g1 ─rings─ h1: pvnetd --uplink vx0 ─ vx0 VNI 42 ─ ul0 10.99.0.1 ══ h1u ┐
#                                                                   wire: br-ul
#  g2 ─rings─ h2: pvnetd --uplink vx0 ─ vx0 VNI 42 ─ ul0 10.99.0.2 ══ h2u ┘
#  (after the move g1 is on h2 too, beside g2)
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/hosts.sh"
need_root
need ping timeout python3
ip link add "pv${RUNID}vx" type vxlan id 1 dstport 4789 2>/dev/null ||
	{ skip "migrate_vxlan.sh: no vxlan support in the kernel"; exit 0; }
ip link del "pv${RUNID}vx"

wire_begin mvx
add_host 1 vxlan
add_host 2 vxlan
run1=${HOST_RUN[1]} run2=${HOST_RUN[2]}
dom_on() { "$BUILD"/pvnetctl -r "$1" --json domain-list | grep "\"name\": \"$2\"" | jget domid; }
mk_ns g1 g1 && mk_ns g2 g2 || die "namespaces"
MAC1=00:16:3e:00:01:11
use_host 1; start_guest "$g1" g1 "198.18.5.1 fd00:5::1" --mac $MAC1
use_host 2; start_guest "$g2" g2 "198.18.5.2 fd00:5::2" --mac 00:16:3e:00:01:22
ip netns exec "$g1" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
ip netns exec "$g2" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
check "ping_ok '$g1' 198.18.5.2" "g1 on host 1 reaches g2 on host 2 over VXLAN (IPv4)"
check "ping_ok '$g2' fd00:5::1" "g2 on host 2 reaches g1 on host 1 over VXLAN (IPv6)"
tcp_check "$g1" "$g2" 198.18.5.2 "over VXLAN: TCP g1 -> g2, IPv4: every byte, sha256 equal"
tcp_check "$g2" "$g1" 198.18.5.1 "over VXLAN: TCP g2 -> g1, IPv4: every byte, sha256 equal"
tcp_check "$g1" "$g2" fd00:5::2 "over VXLAN: TCP g1 -> g2, IPv6: every byte, sha256 equal"
tcp_check "$g2" "$g1" fd00:5::1 "over VXLAN: TCP g2 -> g1, IPv6: every byte, sha256 equal"
check "ip netns exec '${HOST_NS[1]}' ip -s link show vx0 | awk '/TX:/ {getline; print \$2}' | grep -qv '^0$'" \
	"host 1's frames went out through its VXLAN device"

ip netns exec "$g1" timeout 60 python3 "$(dirname "$0")/../lib/stream.py" recv "$base/rx" &
track_pid $!; rpid=$!
wait_for 5 "ip netns exec '$g1' ss -ltn | grep -q ':5555 '" || die "stream receiver"
ip netns exec "$g2" timeout 60 python3 "$(dirname "$0")/../lib/stream.py" send 198.18.5.1 6 "$base/tx" &
track_pid $!; spid=$!
check "wait_for 5 \"[ \\\"\\\$(cat '$base/rx' 2>/dev/null || echo 0)\\\" -gt 10000000 ]\"" \
	"a TCP stream g2 -> g1 across the overlay (more than 10 MB)"
d1=$(dom_on "$run1" g1)
out=$(timeout 30 "$BUILD"/pvnetctl -r "$run1" migrate "$d1" --to "$run2" 2>&1); rc=$?
echo "migrate: rc $rc: $out"
check "[ $rc = 0 ]" "pvnetctl migrate g1 from host 1 to host 2 (VXLAN-connected) succeeds"
check "[ -n \"\$(dom_on '$run2' g1)\" ] && [ -z \"\$(dom_on '$run1' g1)\" ]" "g1 is on host 2, not on host 1"
check "ping_ok '$g2' 198.18.5.1 5" "g2 reaches g1, now on its own host"
wait "$spid"; wait "$rpid"
read -r srs sn sh <"$base/tx" 2>/dev/null
read -r rrs rn rh rgap <"$base/rx.done" 2>/dev/null
echo "stream: sent ${sn:-?} (${srs:-?}), received ${rn:-?} (${rrs:-?}), longest pause ${rgap:-?} ms"
check "[ '${srs:-}' = ok ] && [ '${rrs:-}' = ok ] && [ -n '${sh:-}' ] && [ '${sh:-}' = '${rh:-x}' ]" \
	"the stream survived the move: no reset, every byte (sha256 equal)"
check "! timeout 10 \"$BUILD\"/pvnetctl -r '$run1' vif-list | grep -qi '$MAC1'" "host 1 keeps no vif of g1"
finish
