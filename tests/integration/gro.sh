#!/usr/bin/env bash
# gro.sh - receive coalescing in pvnet-nicd (src/nic/gro.c): with the
# external host's TSO and GSO off, its TCP reaches the NIC's port as MTU
# segments; the NIC merges them into GSO frames for VIs with RX chains.
# IPv4 ext -> g1 (accelerated: the flow filter steers it to g1's VI) moves
# the NIC's gro_* counters and the VI's rx_gso and rx_chains; IPv6 ext ->
# g1 (no IPv6 flow filters: the host VI, then the slow path) merges too.
# Then pvnet-nicd again with --no-gro: nothing merges, TCP still works,
# INFO drops the RX_GRO feature.  The throughputs of both runs, and
# pvnet-nicd's CPU time for each, are printed (not asserted: a shared
# machine).
#
#  g1 (netns)                  host (netns)                                ext (netns)
#  ┌───────────────┐  rings   ┌───────────────────────┐
#  │ eth0 .1, ::1  │<════════>│ pvnetd --nic          │ host VI ┌────────────────┐      ┌────────────────┐
#  │ pvnet-front   │          │  netback, bridge ─────│────────>│ pvnet-nicd     │ veth │ eth0 .100      │
#  │ + pvnic front │══════════│═══ VI (fast path) ════│════════>│  --port up0    │══════│ tso off gso off│
#  └───────────────┘          │  pvnic backend (ctl)  │─control>│  gro.c         │      │ iperf3 -c      │
#                             └───────────────────────┘         └────────────────┘      └────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout ethtool
[ -x "$BUILD/pvnet-nicd" ] || { skip "gro.sh: no pvnet-nicd"; exit 0; }
NICINFO=$BUILD/tests/helpers/nic_info
[ -x "$NICINFO" ] || { skip "gro.sh: no $NICINFO"; exit 0; }

host_begin gro
host_netns g1
ip -n "$ext" addr add fd00:198:18::100/64 dev eth0 nodad
ip netns exec "$ext" ethtool -K eth0 tso off gso off >/dev/null 2>&1 ||
	{ skip "gro.sh: ethtool -K eth0 tso off gso off failed in ext"; exit 0; }
check "ip netns exec '$ext' ethtool -k eth0 | grep -q '^tcp-segmentation-offload: off' &&
	ip netns exec '$ext' ethtool -k eth0 | grep -q '^generic-segmentation-offload: off'" \
	"ext's eth0: TSO and GSO off (MTU segments on the wire)"
host_nic_pvnetd
start_guest "$g1" g1 "198.18.0.1 fd00:198:18::1"
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" ||
	die "slow path: g1 does not reach ext"
d1=$(domid_of g1)

ni() { "$NICINFO" "$nicdir/nic.sock" "$@"; }
ashow() { P --json accel "$d1" 0 show | jget "$1"; }
accel_state() { ashow accelstate; }
# tcp SERVER_IP: iperf3 ext -> g1 for 3 s; bytes g1 received
tcp() {
	ip netns exec "$g1" timeout 15 iperf3 -s -1 -p 5302 >/dev/null 2>&1 &
	wait_for 5 "ip netns exec '$g1' ss -Hltn 'sport = :5302' | grep -q ."
	ip netns exec "$ext" timeout 12 iperf3 -c "$1" -p 5302 -t 3 -J 2>/dev/null |
		awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }'
}
# cpu_ticks PID: user + system clock ticks of PID so far (printed figures only)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
accelerate() {
	P accel "$d1" 0 on pvnic >/dev/null
	wait_for 10 "[ \"\$(accel_state)\" = 4 ]"
}

check "[ \$(( \$(ni features) & 0x10 )) -ne 0 ]" "INFO: feature RX_GRO (features $(ni features))"
check "accelerate" "g1's vif accelerated (accelstate 4)"
check "wait_for 5 \"grep -q 'pvnic: vif 0: fast path on (VI [0-9]*, .*RX chains on)' '$run/g1.log'\"" \
	"g1's plugin: RX chains on"

# IPv4 ext -> g1: on the fast path, merged for g1's VI.
f0=$(ni gro_frames); s0=$(ni gro_segs); g0=$(ashow vi_rx_gso); c0=$(ashow vi_rx_chains)
rb0=$(ashow vi_rx_bytes); t0=$(cpu_ticks "$nicd_pid")
b4=$(tcp 198.18.0.1)
t4=$(( $(cpu_ticks "$nicd_pid") - t0 ))
f1=$(ni gro_frames); s1=$(ni gro_segs); g1c=$(ashow vi_rx_gso); c1=$(ashow vi_rx_chains)
rb1=$(ashow vi_rx_bytes)
df=$(( ${f1:-0} - ${f0:-0} )); ds=$(( ${s1:-0} - ${s0:-0} ))
echo "IPv4 ext -> g1, GRO on: ${b4:-0} bytes in 3 s; NIC merged $ds segments into $df frames" \
	"($(( df ? ds * 10 / df : 0 )) tenths of a segment per frame); VI rx_gso +$(( ${g1c:-0} - ${g0:-0} )), rx_chains +$(( ${c1:-0} - ${c0:-0} ))"
echo "pvnet-nicd CPU for it: $t4 ticks of $(getconf CLK_TCK)/s"
ni | grep '^gro_'
check "[ \"\${b4:-0}\" -gt 10000000 ]" "IPv4 TCP ext -> g1 with ext's TSO/GSO off works (${b4:-0} bytes)"
check "[ $df -ge 100 ] && [ $ds -ge $(( 2 * df )) ]" \
	"the NIC coalesced: +$df merged frames of +$ds segments"
check "[ \$(( ${g1c:-0} - ${g0:-0} )) -ge 100 ] && [ \$(( ${c1:-0} - ${c0:-0} )) -ge 100 ]" \
	"g1's VI took them whole: rx_gso +$(( ${g1c:-0} - ${g0:-0} )), rx_chains +$(( ${c1:-0} - ${c0:-0} ))"
check "[ \$(( ${rb1:-0} - ${rb0:-0} )) -ge \$(( ${b4:-0} * 9 / 10 )) ]" \
	"the VI carried >= 90% of the stream (+$(( ${rb1:-0} - ${rb0:-0} )) bytes)"
check "[ \"\$(ashow vi_rx_too_big)\" = 0 ] && [ \"\$(ashow vi_rx_bad_desc)\" = 0 ]" \
	"nothing refused on g1's VI (rx_too_big $(ashow vi_rx_too_big), rx_bad_desc $(ashow vi_rx_bad_desc))"

# IPv6 ext -> g1: no IPv6 flow filter, so the host VI (RX chains) and the slow path.
wait_for 10 "ip netns exec '$ext' ping -6 -c1 -W1 fd00:198:18::1 >/dev/null 2>&1"
f0=$(ni gro_frames)
b6=$(tcp fd00:198:18::1)
f1=$(ni gro_frames)
echo "IPv6 ext -> g1, GRO on: ${b6:-0} bytes in 3 s; +$(( ${f1:-0} - ${f0:-0} )) merged frames"
check "[ \"\${b6:-0}\" -gt 10000000 ]" "IPv6 TCP ext -> g1 with ext's TSO/GSO off works (${b6:-0} bytes)"
check "[ \$(( ${f1:-0} - ${f0:-0} )) -ge 100 ]" \
	"IPv6: the NIC coalesced for the host VI (+$(( ${f1:-0} - ${f0:-0} )) merged frames)"

# pvnet-nicd --no-gro: the same stream, nothing merged.
kill -TERM "$nicd_pid"
wait "$nicd_pid" 2>/dev/null
check "grep -q 'receive coalescing: [0-9]* segments into [0-9]* frames' '$run/nicd.log'" \
	"pvnet-nicd logs its coalescing totals when it stops ($(grep -o 'receive coalescing: .*' "$run/nicd.log" | tail -1))"
wait_for 5 "[ \"\$(accel_state)\" = 6 ]"
rm -f "$nicdir/nic.sock"
ip netns exec "$hostns" "$BUILD"/pvnet-nicd --run-dir "$nicdir" --port up0 --no-gro 2>>"$run/nicd.log" &
nicd_pid=$!
track_pid "$nicd_pid"
wait_for 5 "[ -S '$nicdir/nic.sock' ]" || die "pvnet-nicd --no-gro did not start"
check "wait_for 10 \"[ \\\"\\\$(accel_state)\\\" = 4 ]\"" "pvnet-nicd --no-gro: g1 accelerated again"
check "[ \$(( \$(ni features) & 0x10 )) -eq 0 ]" "--no-gro: INFO without RX_GRO (features $(ni features))"
c0=$(ashow vi_rx_chains); rf0=$(ashow vi_rx_frames); t0=$(cpu_ticks "$nicd_pid")
b4n=$(tcp 198.18.0.1)
t4n=$(( $(cpu_ticks "$nicd_pid") - t0 ))
c1=$(ashow vi_rx_chains); rf1=$(ashow vi_rx_frames)
echo "IPv4 ext -> g1, --no-gro: ${b4n:-0} bytes in 3 s (GRO on: ${b4:-0}); VI rx_frames +$(( ${rf1:-0} - ${rf0:-0} )), rx_chains +$(( ${c1:-0} - ${c0:-0} ))"
echo "pvnet-nicd CPU for it: $t4n ticks (GRO on: $t4)"
check "[ \"\${b4n:-0}\" -gt 10000000 ]" "--no-gro: IPv4 TCP ext -> g1 works (${b4n:-0} bytes)"
check "[ \"\$(ni gro_frames)\" = 0 ] && [ \"\$(ni gro_segs)\" = 0 ]" \
	"--no-gro: nothing merged (gro_frames $(ni gro_frames))"
check "[ \"\$(ashow vi_rx_chains)\" = \"${c0:-x}\" ]" \
	"--no-gro: g1's VI gets MTU frames, no chains (rx_chains $(ashow vi_rx_chains))"
check "[ -f '$run/pvnetd.pid' ] && kill -0 \$(cat '$run/pvnetd.pid')" "pvnetd still running"
finish
