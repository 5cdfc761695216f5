#!/usr/bin/env bash
# fastpath.sh - the fast path through pvnet-nicd: an accelerated guest's
# TCP to the external host bypasses pvnetd (netback's counters stay tiny,
# the VI's counters, read from the NIC through pvnetctl, carry it); RX
# filters are learned from the flows; broadcast/ARP and guest-to-guest
# traffic stay on the slow path; acceleration switched off and on in the
# middle of a TCP stream does not break it.
#
#  g1 (netns)                  host (netns)                                ext (netns)
#  ┌───────────────┐  rings   ┌───────────────────────┐
#  │ eth0 .1       │<════════>│ pvnetd --nic          │ host VI ┌────────────────┐      ┌──────────┐
#  │ pvnet-front   │          │  netback, bridge ─────│────────>│ pvnet-nicd     │ veth │ eth0 .100│
#  │ + pvnic front │══════════│═══ VI (fast path) ════│════════>│  --port up0    │══════│ iperf3   │
#  └───────────────┘          │  pvnic backend (ctl)  │─control>│                │      └──────────┘
#  ┌───────────────┐  rings   │                       │         └────────────────┘
#  │ g2 eth0 .2    │<════════>│                       │
#  └───────────────┘          └───────────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout
[ -x "$BUILD/pvnet-nicd" ] || { skip "fastpath.sh: no pvnet-nicd"; exit 0; }

host_begin fp

host_netns g1 g2
host_nic_pvnetd
start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" \
	"slow path: g1 reaches ext through the NIC's host VI"
d1=$(domid_of g1); d2=$(domid_of g2)

accel_state() { P --json accel "$d1" 0 show | jget accelstate; }
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(accel_state)\\\" = 4 ]\"" "acceleration of g1's vif reaches Connected"
P accel "$d1" 0 show

# Warm up: ext's replies arrive on the VI, so g1 learns ext as a fast-path destination.
ip netns exec "$g1" timeout 10 ping -c 5 -i 0.2 198.18.0.100 >/dev/null
ashow() { P --json accel "$d1" 0 show | jget "$1"; }
tx0=$(vstat "$d1" tx_bytes); txp0=$(vstat "$d1" tx_packets)
vb0=$(ashow vi_tx_bytes); vf0=$(ashow vi_tx_frames); vr0=$(ashow vi_rx_frames)
ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
sleep 0.3
out=$(ip netns exec "$g1" timeout 20 iperf3 -c 198.18.0.100 -t 3 -J 2>/dev/null)
got=$(awk '/"sum_received"/ {r=1} r && /"bytes"/ {gsub(/,/,""); print $2; exit}' <<<"$out")
tx1=$(vstat "$d1" tx_bytes); txp1=$(vstat "$d1" tx_packets)
vb1=$(ashow vi_tx_bytes); vf1=$(ashow vi_tx_frames); vr1=$(ashow vi_rx_frames)
echo "iperf3 bytes received by ext: ${got:-0}; netback tx of g1's vif: +$((tx1 - tx0)) bytes," \
	"+$((txp1 - txp0)) frames; VI tx: +$((${vb1:-0} - ${vb0:-0})) bytes, +$((${vf1:-0} - ${vf0:-0})) frames"
check "[ \"\${got:-0}\" -gt 10000000 ]" "accelerated TCP g1 -> ext moves data (${got:-0} bytes)"
check "[ $((tx1 - tx0)) -lt $(( ${got:-0} / 20 )) ]" \
	"the flow's data bypassed pvnetd: netback carried < 5% of it (+$((tx1 - tx0)) bytes)"
check "[ -n \"\${vb1:-}\" ] && [ $(( (${vb1:-0} - ${vb0:-0}) * 10 )) -ge $(( ${got:-0} * 9 )) ]" \
	"the VI's counters (pvnetctl accel show) carried >= 90% of it (+$((${vb1:-0} - ${vb0:-0})) bytes)"
check "[ $((txp1 - txp0)) -lt 100 ] && [ $(( ${vf1:-0} - ${vf0:-0} )) -gt $(( 100 * (txp1 - txp0) )) ]" \
	"per frame: netback +$((txp1 - txp0)), the VI +$((${vf1:-0} - ${vf0:-0}))"
check "[ $(( ${vr1:-0} - ${vr0:-0} )) -gt 1000 ]" \
	"ext's ACKs arrive on the VI: RX filter learned (+$(( ${vr1:-0} - ${vr0:-0} )) frames)"
check "[ \"\$(ashow filter_mode)\" = flow ] && [ \"\$(ashow filters)\" -ge 1 ] &&
	[ \"\$(ashow filters)\" -le \"\$(ashow filter_quota)\" ]" \
	"flow filters: $(ashow filters) of $(ashow filter_quota), none by MAC"
P accel "$d1" 0 show
P nic
check "[ \"\$(P --json nic | jget vis_active)\" -ge 2 ] && [ \"\$(P --json nic | jget connected)\" = 1 ]" \
	"pvnetctl nic: the NIC's INFO (host VI and g1's VI active)"

b0=$(vstat "$d1" tx_packets)
ip netns exec "$g1" timeout 10 ping -c 3 -i 0.2 198.18.0.2 >/dev/null
b1=$(vstat "$d1" tx_packets)
check "[ $((b1 - b0)) -ge 3 ]" "guest to guest stays on the slow path while accelerated (+$((b1 - b0)) frames via netback)"
ip -n "$g1" neigh flush dev eth0
a0=$(vstat "$d1" tx_packets)
ip netns exec "$g1" timeout 5 arping -c 1 -I eth0 198.18.0.100 >/dev/null 2>&1 ||
	ip netns exec "$g1" timeout 5 ping -c 1 198.18.0.100 >/dev/null
a1=$(vstat "$d1" tx_packets)
check "[ $((a1 - a0)) -ge 1 ]" "broadcast (ARP) goes through netback while accelerated"

# Off and on in the middle of a stream.
ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
sleep 0.3
ip netns exec "$g1" timeout 30 iperf3 -c 198.18.0.100 -t 6 -J >"$run/flip.json" 2>/dev/null &
ipid=$!
sleep 1.5; P accel "$d1" 0 off >/dev/null
sleep 1.5; P accel "$d1" 0 on pvnic >/dev/null
wait "$ipid"; rc=$?
flip=$(awk '/"sum_received"/ {r=1} r && /"bytes"/ {gsub(/,/,""); print $2; exit}' "$run/flip.json")
check "[ $rc -eq 0 ] && [ \"\${flip:-0}\" -gt 1000000 ]" \
	"acceleration off and on during a TCP stream: the stream survives (${flip:-0} bytes)"
check "wait_for 10 \"[ \\\"\\\$(accel_state)\\\" = 4 ]\"" "acceleration back to Connected"
check "[ -f '$run/pvnetd.pid' ] && kill -0 \$(cat '$run/pvnetd.pid')" "pvnetd still running"

# pvnetd stopped in the middle of a fast-path stream: the stream goes on
# (frames read into the VI's own TX buffers, accel.h 1.3's loan: no
# slow-path page, no pvnetd on the way), and all is normal once pvnetd
# runs again.
ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
sleep 0.3
ip netns exec "$g1" timeout 30 iperf3 -c 198.18.0.100 -t 5 -i 1 -J >"$run/stop.json" 2>/dev/null &
ipid=$!
sleep 1.5; kill -STOP "$pvnetd_pid"
sleep 2; kill -CONT "$pvnetd_pid"
wait "$ipid"; rc=$?
# the bytes of each one-second interval (pvnetd stopped from 1.5 s to 3.5 s), from iperf3's JSON
ivl() { awk -v from="$1" '/"intervals"/ {i=1} i && /"sum":/ {s=1} s && /"start":/ {gsub(/,/,""); st=$2+0}
	s && /"bytes":/ {gsub(/,/,""); if (st >= from && st < from + 1) print $2; s=0}' "$run/stop.json" | head -1; }
first=$(ivl 0); mid=$(ivl 2)
# Not stalled: at least a quarter of the first second's bytes.
check "[ $rc -eq 0 ] && [ \"\${mid:-0}\" -gt 1000000 ] && [ \$(( \${mid:-0} * 4 )) -ge \${first:-1} ]" \
	"pvnetd stopped (SIGSTOP): g1's fast-path stream goes on (${mid:-0} bytes from 2 s to 3 s, ${first:-0} in the first second)"
check "ip netns exec '$g1' ping -c2 -W2 -i 0.2 198.18.0.2 >/dev/null" \
	"pvnetd continued: g1 reaches g2 on the slow path again"
kill -TERM "$front_pid_g1" 2>/dev/null
wait_for 5 "grep -q 'read into lent buffers' '$run/g1.log'"
lent=$(sed -n 's/.* \([0-9]*\) read into lent buffers.*/\1/p' "$run/g1.log" | tail -1)
check "[ \"\${lent:-0}\" -gt 1000 ]" \
	"g1's frames to ext were read straight into its VI's TX buffers (${lent:-0} frames lent)"
finish
