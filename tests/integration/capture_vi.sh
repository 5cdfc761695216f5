#!/usr/bin/env bash
# capture_vi.sh - pvnetctl capture vi:N: pvnet-nicd streams one VI's
# frames itself (the fast path never crosses pvnetd), both directions,
# with a filter; the host VI too; errors: no such VI (rc 1), a second
# capture of the VI (rc 1), a bad VI id (rc 2); a pvnetd without a NIC:
# capture_ports.sh.
#
#  g1 (pvnet-front + pvnic) ══ VI ══ pvnet-nicd --port up0 ══ ext ; pvnetd --nic
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout tcpdump
[ -x "$BUILD/pvnet-nicd" ] || { skip "capture_vi.sh: no pvnet-nicd"; exit 0; }

host_begin capvi
host_netns g1
host_nic_pvnetd
start_guest "$g1" g1 198.18.0.1
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" "g1 reaches ext"
d1=$(domid_of g1)
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(P --json accel $d1 0 show | jget accelstate)\\\" = 4 ]\"" "g1 accelerated"
ip netns exec "$g1" timeout 10 ping -c 3 -i 0.2 198.18.0.100 >/dev/null
vi=$(P --json accel "$d1" 0 show | jget vi_id)
check "[ -n \"$vi\" ]" "g1's VI: $vi"
started() { grep -c "capture of vi $1 started" "$run/nicd.log"; }

# ---- g1's VI during a TCP transfer, filtered to TCP: both directions ----
n0=$(started "$vi")
timeout 30 "$BUILD"/pvnetctl -r "$run" capture "vi:$vi" -c 200 -w "$run/vi.pcap" tcp port 5201 2>"$run/vi.err" &
cap=$!
track_pid $cap
wait_for 5 "[ \$(started $vi) -gt $n0 ]" || fail "capture of vi $vi did not start (nicd.log)"
ip netns exec "$ext" iperf3 -s -1 -D >/dev/null 2>&1; sleep 0.3
ip netns exec "$g1" timeout 20 iperf3 -c 198.18.0.100 -t 2 >/dev/null 2>&1
wait $cap; rc=$?
tcpdump -nn -r "$run/vi.pcap" >"$run/vi.txt" 2>/dev/null
check "[ $rc -eq 0 ] && [ \$(wc -l <'$run/vi.txt') -eq 200 ]" "capture vi:$vi -c 200 ends by itself: 200 frames (rc $rc, $(wc -l <"$run/vi.txt"))"
check "grep -q '198.18.0.1\.[0-9]* > 198.18.0.100.5201' '$run/vi.txt' && grep -q '198.18.0.100.5201 > 198.18.0.1\.' '$run/vi.txt'" \
	"both directions: g1's segments (TX on its VI) and ext's (RX)"
check "! grep -v 'Flags' '$run/vi.txt' | grep -q ." "only TCP (the filter)"
check "grep -qE '^pvnetctl: capture: 200 frames, [0-9]+ dropped' '$run/vi.err'" "summary ($(cat "$run/vi.err"))"
wait_for 10 "grep -q 'capture of vi $vi ended' '$run/nicd.log'"
check "grep -qE 'capture of vi $vi ended \\(reader (closed|gone)\\)' '$run/nicd.log'" \
	"pvnet-nicd ends the stream when its reader goes ($(grep -o "capture of vi $vi ended[^:]*" "$run/nicd.log" | head -n1))"

# ---- errors ----
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture vi:999 -c 1 2>&1); rc=$?
check "[ $rc -eq 1 ] && grep -q 'no such VI' <<<\"\$out\"" "vi:999: rc 1 ($rc), no such VI"
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture vi:x -c 1 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q \"bad VI 'x'\" <<<\"\$out\"" "vi:x: rc 2 ($rc)"
"$BUILD"/pvnetctl -r "$run" capture "vi:$vi" -c 1000000 -w /dev/null 2>/dev/null &
cap=$!		# pvnetctl itself (no timeout between): SIGINT below ends it
track_pid $cap
wait_for 5 "[ \$(started $vi) -gt $((n0 + 1)) ]"
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture "vi:$vi" -c 1 2>&1); rc=$?
check "[ $rc -eq 1 ] && grep -q 'a capture runs on that VI' <<<\"\$out\"" "a second capture of vi $vi: rc 1 ($rc)"
kill -INT $cap
# Its exit (LeakSanitizer's check under ASan included) before anything else signals it.
wait_for 10 "! kill -0 $cap 2>/dev/null" || { fail "pvnetctl capture ignored SIGINT"; kill -KILL $cap; }
wait $cap 2>/dev/null
finish
