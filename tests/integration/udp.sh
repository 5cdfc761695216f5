#!/usr/bin/env bash
# udp.sh - datagrams at a moderate rate lose nothing, in each direction on
# each path: iperf3 UDP, 1470-byte datagrams at 100 Mbit/s for 5 s, guest
# -> external host and external host -> guest, through pvnet-nicd, on the
# slow path (the NIC's host VI, pvnetd's bridge, netback) and on the fast
# path (the guest's own VI).  Every datagram is accounted for: iperf3's
# receiver counts none lost, and the daemons' drop counters on the way
# (the vif's; pvnetd's host VI port, the NIC's counters for it and the
# port's kernel drops; the guest's VI) do not move.
#
#  g1 (netns) ==== pvnetd --nic ==== pvnet-nicd --port up0 ==== ext (netns)
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 timeout
[ -x "$BUILD/pvnet-nicd" ] || { skip "udp.sh: no pvnet-nicd"; exit 0; }

host_begin udp
host_netns g1
host_nic_pvnetd
start_guest "$g1" g1 198.18.0.1
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" \
	"g1 reaches ext"
d1=$(domid_of g1)
ashow() { P --json accel "$d1" 0 show | jget "$1"; }

# udp CLIENT_NS SERVER_NS SERVER_IP PORT -> "sent lost" (datagrams, as the receiver counted them).
# The receiving socket gets 4 MiB of buffer (-w; net.core.rmem_max allows
# it): on a loaded machine the iperf3 server may not run for a while, and
# the default buffer's overflow (UdpRcvbufErrors) is not pvnet's to count.
rcvbuf() { ip netns exec "$1" cat /proc/net/snmp | awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }'; }
udp() {
	local rb0 rb1 out
	rb0=$(rcvbuf "$2")
	ip netns exec "$2" timeout 20 iperf3 -s -1 -p "$4" >/dev/null 2>&1 &
	wait_for 5 "ip netns exec '$2' ss -Hltn 'sport = :$4' | grep -q ."	# its control port
	ip netns exec "$1" timeout 15 iperf3 -c "$3" -p "$4" -u -b 100M -l 1470 -t 5 -w 4M -J 2>/dev/null |
		awk '/"sum"/ { s = 1 } s && /"packets"/ { gsub(/,/, ""); p = $2 }
		     s && /"lost_packets"/ { gsub(/,/, ""); l = $2 }
		     END { print (p == "" ? 0 : p), (l == "" ? -1 : l) }' >"$run/udp.out"
	rb1=$(rcvbuf "$2")
	echo "$(cat "$run/udp.out") $(( ${rb1:-0} - ${rb0:-0} ))"
}
# drops DOMID: the vif's drop counters that datagrams could land in, summed
drops() {
	local k s=0 v
	for k in rx_dropped rx_queue_full rx_too_big tx_dropped tx_errors; do
		v=$(vstat "$1" "$k"); s=$((s + ${v:-0}))
	done
	echo "$s"
}
# nicdrops: what the NIC path counted dropped: pvnetd's side of the host VI
# (its TX drops), the NIC's for the host VI (RX without descriptors or event
# room), and the port's kernel (frames pvnet-nicd read too late)
nicdrops() {
	local k s=0 v
	for k in nic_port_tx_dropped nic_host_vi_rx_no_desc nic_host_vi_rx_no_evq nic_host_vi_tx_port_errors; do
		v=$(P --json status | jget "$k"); s=$((s + ${v:-0}))
	done
	v=$(P --json nic | jget port_rx_kernel_drops); s=$((s + ${v:-0}))
	echo "$s"
}
vidrops() {
	local k s=0 v
	for k in vi_rx_no_desc vi_rx_no_evq vi_rx_too_big vi_rx_bad_desc vi_tx_too_big vi_tx_port_errors; do
		v=$(ashow "$k"); s=$((s + ${v:-0}))
	done
	echo "$s"
}

# Slow path.
v0=$(drops "$d1"); n0=$(nicdrops)
read -r p l rb <<<"$(udp "$g1" "$ext" 198.18.0.100 5311)"
check "[ \"$p\" -gt 30000 ] && [ \"$l\" = 0 ]" "slow path, g1 -> ext: $p datagrams at 100 Mbit/s, $l lost (receiving socket overflows: $rb)"
read -r p l rb <<<"$(udp "$ext" "$g1" 198.18.0.1 5312)"
check "[ \"$p\" -gt 30000 ] && [ \"$l\" = 0 ]" "slow path, ext -> g1: $p datagrams at 100 Mbit/s, $l lost (receiving socket overflows: $rb)"
v1=$(drops "$d1"); n1=$(nicdrops)
check "[ \"$v1\" = \"$v0\" ] && [ \"$n1\" = \"$n0\" ]" \
	"slow path: g1's vif and the NIC path dropped nothing (vif drop counters $v0 -> $v1, NIC path $n0 -> $n1)"

# Fast path: UDP flows get filters to the VI.
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(ashow accelstate)\\\" = 4 ]\"" "g1's acceleration reaches Connected"
ip netns exec "$g1" ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null 2>&1	# g1 learns ext on the VI
f0=$(vidrops); r0=$(ashow vi_rx_frames); t0=$(ashow vi_tx_frames); v0=$(drops "$d1")
read -r p l rb <<<"$(udp "$g1" "$ext" 198.18.0.100 5313)"
check "[ \"$p\" -gt 30000 ] && [ \"$l\" = 0 ]" "fast path, g1 -> ext: $p datagrams at 100 Mbit/s, $l lost (receiving socket overflows: $rb)"
t1=$(ashow vi_tx_frames)
check "[ \$(( ${t1:-0} - ${t0:-0} )) -ge \$(( p * 9 / 10 )) ]" \
	"fast path, g1 -> ext: carried by the VI (vi_tx_frames +$(( ${t1:-0} - ${t0:-0} )))"
read -r p l rb <<<"$(udp "$ext" "$g1" 198.18.0.1 5314)"
check "[ \"$p\" -gt 30000 ] && [ \"$l\" = 0 ]" "fast path, ext -> g1: $p datagrams at 100 Mbit/s, $l lost (receiving socket overflows: $rb)"
r1=$(ashow vi_rx_frames)
check "[ \$(( ${r1:-0} - ${r0:-0} )) -ge \$(( p * 9 / 10 )) ]" \
	"fast path, ext -> g1: carried by the VI (vi_rx_frames +$(( ${r1:-0} - ${r0:-0} )))"
f1=$(vidrops); v1=$(drops "$d1")
check "[ \"$f1\" = \"$f0\" ] && [ \"$v1\" = \"$v0\" ]" \
	"fast path: the VI and the vif dropped nothing (VI drops $f0 -> $f1, vif $v0 -> $v1)"
finish
