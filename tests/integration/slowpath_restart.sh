#!/usr/bin/env bash
# slowpath_restart.sh - pvnetd killed (SIGKILL, then SIGTERM) and restarted
# on the same run directory in the middle of a TCP stream g1 -> g2: both
# pvnet-fronts re-register on their own (new domain, same MAC, same eth0),
# the stream survives (iperf3 exits 0) and moves bytes again after the
# restart, and ping guest-to-guest and through the uplink works afterwards.
#
#  guest g1 (netns)           host (netns)                        ext (netns)
#  ┌─────────────────┐  rings ┌──────────────────────────────┐    ┌─────────────────┐
#  │ eth0 198.18.0.1 │<══════>│ pvnetd  ← SIGKILL / SIGTERM, │    │ eth0            │
#  │ iperf3 -s       │        │           then started again │    │ 198.18.0.100    │
#  │ pvnet-front     │        │         (same --run-dir)     │    │                 │
#  └─────────────────┘        │         uplink up0 ══════════│════│                 │
#  ┌─────────────────┐  rings │                              │veth└─────────────────┘
#  │ eth0 198.18.0.2 │<══════>│                              │
#  │ iperf3 -c g1 -R │        └──────────────────────────────┘
#  │ (data g1 -> g2) │
#  └─────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout ss
SECS=${RESTART_SECS:-8}
KILL_AT=2

host_begin spr

# (A SIGKILLed pvnetd leaves its pid file and sockets behind: host_pvnetd
# waits for the new one's pid in the pid file.)
start_daemon() { host_pvnetd --uplink up0 && timeout 5 "$BUILD"/pvnetctl -r "$run" status >/dev/null; }
both_connected() {
	local a b
	a=$(domid_of g1); b=$(domid_of g2)
	[ -n "$a" ] && [ -n "$b" ] && [ "$(vstat "$a" connected)" = 1 ] && [ "$(vstat "$b" connected)" = 1 ]
}
now() { date +%s.%N; }

host_netns g1 g2
start_daemon || die "pvnetd starts"
start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
wait_for 10 both_connected || die "vifs connect"
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.2 >/dev/null 2>&1" || die "g1 reaches g2"
pass "setup: g1 and g2 connected"

# one_round SIGNAL
one_round() {
	local sig=$1 d1 d2 mac1 mac2 t_start t_kill t_up rc out sent recv after last
	d1=$(domid_of g1); d2=$(domid_of g2)
	mac1=$(vstat "$d1" mac); mac2=$(vstat "$d2" mac)
	ip netns exec "$g1" timeout $((SECS + 40)) iperf3 -s -1 >"$run/iperf-s-$sig.out" 2>&1 &
	track_pid $!
	wait_for 10 "ip netns exec '$g1' ss -Hltn 'sport = :5201' | grep -q ." || die "iperf3 server"
	t_start=$(now)
	ip netns exec "$g2" timeout $((SECS + 30)) iperf3 -c 198.18.0.1 -R -t "$SECS" -i 0.5 \
		--connect-timeout 5000 -J >"$run/iperf-$sig.json" 2>"$run/iperf-$sig.err" &
	local ipid=$!
	track_pid $ipid
	sleep "$KILL_AT"
	t_kill=$(now)
	kill -"$sig" "$pvnetd_pid"
	wait_for 10 "! kill -0 $pvnetd_pid 2>/dev/null"
	check "! kill -0 $pvnetd_pid 2>/dev/null" "$sig: pvnetd is gone"
	start_daemon
	check "[ \$? -eq 0 ]" "$sig: pvnetd restarts on the same run directory"
	t_up=$(now)
	wait_for 15 both_connected
	check "both_connected" "$sig: both guests re-register and reconnect on their own"
	echo "# $sig: killed at +$(awk -v a="$t_start" -v b="$t_kill" 'BEGIN { printf "%.2f", b - a }')s," \
		"up again at +$(awk -v a="$t_start" -v b="$t_up" 'BEGIN { printf "%.2f", b - a }')s," \
		"reconnected at +$(awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')s"
	local n1 n2
	n1=$(domid_of g1); n2=$(domid_of g2)
	check "[ \"\$(vstat $n1 mac)\" = '$mac1' ] && [ \"\$(vstat $n2 mac)\" = '$mac2' ]" \
		"$sig: same MACs after re-registering (g1 dom $d1 -> $n1, g2 dom $d2 -> $n2)"
	check "ip -n '$g1' -br addr show eth0 | grep -q 198.18.0.1/24" "$sig: g1's eth0 kept its address"
	wait "$ipid"
	rc=$?
	# Intervals of the client (it receives: -R): "start bytes" per line.
	awk '/^\t"intervals":/ { i = 1 } /^\t"end":/ { i = 0 }
	     i && /"sum":/ { s = 1 }
	     i && s && $1 == "\"start\":" { gsub(/,/, "", $2); st = $2 }
	     i && s && $1 == "\"bytes\":" { gsub(/,/, "", $2); print st, $2; s = 0 }' \
		"$run/iperf-$sig.json" >"$run/intervals-$sig"
	local up_rel
	up_rel=$(awk -v a="$t_start" -v b="$t_up" 'BEGIN { printf "%.2f", b - a }')
	after=$(awk -v t="$up_rel" '$1 >= t { s += $2 } END { printf "%.0f", s }' "$run/intervals-$sig")
	last=$(tail -n 1 "$run/intervals-$sig" | awk '{ print $2 }')
	out=$(awk '/^\t"end":/ { e = 1 } e && /"sum_received":/ { r = 1 }
	           r && $1 == "\"bytes\":" { gsub(/,/, "", $2); print $2; exit }' "$run/iperf-$sig.json")
	echo "# $sig: iperf3 rc $rc, received ${out:-0} B, ${after:-0} B in intervals after +${up_rel}s, last interval ${last:-0} B"
	tr '\n' ' ' <"$run/intervals-$sig" | sed 's/^/# intervals (start bytes): /'; echo
	check "[ $rc -eq 0 ]" "$sig: the TCP stream survives the restart (iperf3 exits 0)"
	[ $rc -eq 0 ] || { cat "$run/iperf-$sig.err"; grep '"error"' "$run/iperf-$sig.json"; }
	check "[ \"${after:-0}\" -gt 1000000 ]" "$sig: bytes flow after the restart (${after:-0} B)"
	check "[ \"${last:-0}\" -gt 0 ]" "$sig: the last interval moved bytes"
	check "ip netns exec '$g1' timeout 10 ping -c 3 -i 0.2 -W 2 198.18.0.2 >/dev/null" "$sig: ping g1 -> g2 afterwards"
	check "ip netns exec '$g2' timeout 10 ping -c 3 -i 0.2 -W 2 198.18.0.100 >/dev/null" "$sig: ping g2 -> ext afterwards"
	check "[ \"\$(P --json status | jget domains)\" = 2 ]" "$sig: the new pvnetd has exactly 2 domains"
}

one_round KILL
one_round TERM
finish
