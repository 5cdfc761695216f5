#!/usr/bin/env bash
# jumbo.sh - MTU 9000 end to end through pvnet-nicd, on both paths.  The
# slow path: the NIC's host VI takes RX chains, so a 9018-byte frame from
# the wire reaches a guest whole and a guest's 9018-byte frame leaves
# whole; TCP both ways, 8972-byte pings with DF both ways, guest <-> guest;
# nothing dropped on the vifs; the NIC's host VI counts chains.  A frame
# too large for a vif is dropped and counted where it is dropped
# (netback's rx_too_big).  The fast path: g1 accelerated, its VI takes RX
# chains too; the same pings and TCP both ways, carried by the VI (its
# counters), which sends jumbo frames as TX chains and receives them as RX
# chains.
#
#  g1, g2 (netns, eth0 mtu 9000) ==== pvnetd --nic (vifs mtu 9000) ==== pvnet-nicd --port up0 (mtu 9000) ==== ext (mtu 9000)
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout
[ -x "$BUILD/pvnet-nicd" ] || { skip "jumbo.sh: no pvnet-nicd"; exit 0; }

host_begin jumbo
host_netns g1 g2 g3
ip -n "$hostns" link set up0 mtu 9000
ip -n "$ext" link set eth0 mtu 9000
host_nic_pvnetd
start_guest "$g1" g1 198.18.0.1 --mtu 9000
start_guest "$g2" g2 198.18.0.2 --mtu 9000
start_guest "$g3" g3 198.18.0.3		# mtu 1500: the vif too
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" \
	"g1 reaches ext through the NIC's host VI"
wait_for 10 "ip netns exec '$g2' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1"
wait_for 10 "ip netns exec '$g3' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1"
d1=$(domid_of g1); d2=$(domid_of g2); d3=$(domid_of g3)
check "[ \"\$(vstat $d1 mtu)\" = 9000 ] && [ \"\$(vstat $d3 mtu)\" = 1500 ]" \
	"vif mtus: g1's 9000, g3's 1500"

# dfping NS DST: how many of 5 pings of 8972 bytes (a 9000-byte IP datagram, DF) came back
dfping() { ip netns exec "$1" ping -c 5 -i 0.2 -W 2 -M do -s 8972 "$2" 2>/dev/null |
	sed -n 's/.* \([0-9]*\) received.*/\1/p'; }
n=$(dfping "$g1" 198.18.0.100); check "[ \"${n:-0}\" = 5 ]" "ping -M do -s 8972 g1 -> ext: ${n:-0}/5"
n=$(dfping "$ext" 198.18.0.1); check "[ \"${n:-0}\" = 5 ]" "ping -M do -s 8972 ext -> g1: ${n:-0}/5"
n=$(dfping "$g1" 198.18.0.2); check "[ \"${n:-0}\" = 5 ]" "ping -M do -s 8972 g1 -> g2: ${n:-0}/5"

# tcp CLIENT_NS SERVER_NS SERVER_IP [-R]: bytes received in 3 s
tcp() {
	ip netns exec "$2" timeout 15 iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
	wait_for 5 "ip netns exec '$2' ss -Hltn 'sport = :5301' | grep -q ."
	ip netns exec "$1" timeout 12 iperf3 -c "$3" -p 5301 -t 3 ${4:-} -J 2>/dev/null |
		awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }'
}
b=$(tcp "$ext" "$g1" 198.18.0.1); check "[ \"\${b:-0}\" -gt 100000000 ]" "TCP ext -> g1 at MTU 9000: ${b:-0} bytes in 3 s"
b=$(tcp "$g1" "$ext" 198.18.0.100); check "[ \"\${b:-0}\" -gt 100000000 ]" "TCP g1 -> ext at MTU 9000: ${b:-0} bytes in 3 s"
b=$(tcp "$g1" "$g2" 198.18.0.2); check "[ \"\${b:-0}\" -gt 100000000 ]" "TCP g1 -> g2 at MTU 9000: ${b:-0} bytes in 3 s"
for d in "$d1" "$d2"; do
	check "[ \"\$(vstat $d rx_too_big)\" = 0 ] && [ \"\$(vstat $d tx_too_long)\" = 0 ] && [ \"\$(vstat $d rx_queue_full)\" = 0 ]" \
		"vif $d.0: nothing dropped (rx_too_big $(vstat "$d" rx_too_big), tx_too_long $(vstat "$d" tx_too_long), rx_queue_full $(vstat "$d" rx_queue_full))"
done

# The fast path at MTU 9000: g1 accelerated.
ashow() { P --json accel "$d1" 0 show | jget "$1"; }
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(ashow accelstate)\\\" = 4 ]\"" "g1's acceleration reaches Connected at MTU 9000"
ip netns exec "$g1" ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null 2>&1
# (flow filters steer TCP and UDP to the VI; the pings may take either path)
check "grep -q 'pvnic: vif 0: fast path on (VI [0-9]*, MTU 9000, .*RX chains on)' '$run/g1.log'" \
	"g1's plugin: MTU 9000 and RX chains on ($(grep -m1 -o 'fast path on.*' "$run/g1.log"))"
rx0=$(ashow vi_rx_chains); tx0=$(ashow vi_tx_frames); rb0=$(ashow vi_rx_bytes); tb0=$(ashow vi_tx_bytes)
n=$(dfping "$g1" 198.18.0.100); check "[ \"${n:-0}\" = 5 ]" "fast path: ping -M do -s 8972 g1 -> ext: ${n:-0}/5"
n=$(dfping "$ext" 198.18.0.1); check "[ \"${n:-0}\" = 5 ]" "fast path: ping -M do -s 8972 ext -> g1: ${n:-0}/5"
b=$(tcp "$ext" "$g1" 198.18.0.1); check "[ \"\${b:-0}\" -gt 100000000 ]" "fast path: TCP ext -> g1 at MTU 9000: ${b:-0} bytes in 3 s"
rb1=$(ashow vi_rx_bytes); rx1=$(ashow vi_rx_chains)
check "[ \$(( ${rb1:-0} - ${rb0:-0} )) -ge \$(( ${b:-0} * 9 / 10 )) ]" \
	"fast path: the VI received >= 90% of it (+$(( ${rb1:-0} - ${rb0:-0} )) bytes)"
check "[ \$(( ${rx1:-0} - ${rx0:-0} )) -ge 1000 ]" \
	"fast path: as RX chains (frames above 2 KiB: +$(( ${rx1:-0} - ${rx0:-0} )))"
b=$(tcp "$g1" "$ext" 198.18.0.100); check "[ \"\${b:-0}\" -gt 100000000 ]" "fast path: TCP g1 -> ext at MTU 9000: ${b:-0} bytes in 3 s"
tb1=$(ashow vi_tx_bytes)
check "[ \$(( ${tb1:-0} - ${tb0:-0} )) -ge \$(( ${b:-0} * 9 / 10 )) ]" \
	"fast path: the VI sent >= 90% of it (+$(( ${tb1:-0} - ${tb0:-0} )) bytes)"
check "[ \"\$(ashow vi_tx_too_big)\" = 0 ] && [ \"\$(ashow vi_rx_too_big)\" = 0 ]" \
	"fast path: nothing too big for the VI (tx $(ashow vi_tx_too_big), rx $(ashow vi_rx_too_big))"
P accel "$d1" 0 off >/dev/null

# g3's vif is 1500: ext's 9000-byte datagram to it is dropped at netback, and counted there.
r0=$(vstat "$d3" rx_too_big)
ip netns exec "$ext" ping -c 3 -i 0.2 -W 1 -M do -s 8972 198.18.0.3 >/dev/null 2>&1
r1=$(vstat "$d3" rx_too_big)
check "[ \$(( ${r1:-0} - ${r0:-0} )) -ge 3 ]" \
	"a 9014-byte frame for g3's 1500-byte vif: dropped and counted at netback (rx_too_big +$(( ${r1:-0} - ${r0:-0} )))"
check "grep -q 'vif$d3.0: a 9014-byte frame does not fit the vif (mtu 1500)' '$run/pvnetd.log'" \
	"pvnetd's log names the drop and the vif's MTU: $(grep -m1 'does not fit the vif' "$run/pvnetd.log" | sed 's/.*: vif/vif/')"
finish
